"""Partitioned audits on Dask: one partition per governance unit, each with an exact halo.

:func:`audit_dask` runs :func:`lifecircle.audit`'s stages on Dask workers and merges
the results so that they equal the single-machine run:

1. a *plan* task (on a worker) reads the inputs from the paths it is given, builds the
   walk graph, the facilities, the units and the origins exactly as the single-machine
   audit does, and splits the analysed finest units into partitions by a governance
   level (default: the level below the top);
2. one task per partition snaps and searches for the partition's own residents. The
   *halo* of its units is the search reach (the longest cut-off of the audited
   categories at their profile speeds, and of every travel mode they count) plus twice
   the snap limit (the resident's and the facility's walk to the network); network
   distance is never shorter than the straight line, so every facility a resident
   could reach lies inside it. By default the search still starts from every facility
   of the category on the whole city's graph (each worker reads it from the shared
   file once), because the contracted search rounds differently for another set of
   sources: only then are the distances bit-identical to the single-machine run.
   ``halo_sources=True`` starts it from the halo's facilities only (less work, the
   same distances up to ~1e-14 m); neither mode clips the graph per partition yet;
3. the driver concatenates the partitions' access rows (sorted by origin, as the
   single-machine table is) and computes coverage per unit at every level, gaps and the
   city-wide figures with the same functions as the single-machine path, on the merged
   table, so every roll-up is summed in the same order.

Workers read the inputs themselves (a shared folder); only the options and unit ids go
to them and only result tables come back. A worker keeps the prepared inputs of the
last study in memory, so its later partitions skip the reading.

Not available with ``--dask`` (refused or left out, never approximated): the
fair-service stage (supply-demand, capacity, choice: catchments cross partitions),
``--close``, ``--rural-standard``, and the map and report.
"""

from __future__ import annotations

import json
import logging
import resource
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely

from ._audit_service import _analysed_origins
from ._audit_stages import (
    _access_output,
    _add_edge_effect,
    _add_population_method,
    _check_ledger,
    _choose_categories,
    _completeness_warnings,
    _hierarchy,
    _inputs,
    _load_facilities,
    _network_warnings,
    _origins,
    _place_residents,
    _standard_and_profile,
    _unit_check_warnings,
    check_population,
)
from ._version import __version__
from .access import compute_access, search_cutoff_m, snap_audit_inputs
from .config import Standard
from .coverage import (
    citywide,
    completeness_status,
    coverage_by_unit,
    edge_reach_m,
    find_gaps,
    units_inside_network,
)
from .errors import LifecircleError
from .io.outputs import OutputFolder, write_csv, write_geopackage, write_geoparquet, write_json
from .io.outputs import write_outputs as _write_outputs
from .io.population import population_inside
from .io.units import UnitHierarchy
from .network import WalkGraph, read_network
from .options import AuditOptions
from .settings import CATCHMENT_INSIDE_SHARE

log = logging.getLogger(__name__)

#: What a ``--dask`` run does not produce (summary.json lists it).
NOT_AVAILABLE = (
    "fair service (cohort coverage, supply-demand sd_<cat>, capacity placed_<cat>, choice "
    "n_<cat>/second_<cat>_m, equity, rank and decile): its catchments cross partitions",
    "map.html and report.html",
)

INSTALL = "pip install 'lifecircle[dask]'"


class DaskOptionError(ValueError, LifecircleError):
    """A ``--dask`` run that cannot go ahead: dask missing, a bad scheduler, level or option.

    The command line turns it into exit code 2 with the message.
    """


def require_dask() -> Any:
    """Import :mod:`dask.distributed`, or refuse with the install command.

    Raises
    ------
    DaskOptionError
        When dask is not installed.
    """
    try:
        import dask.distributed as dd
    except ImportError as exc:
        msg = (
            f"--dask needs dask.distributed, which is not installed ({exc}); install it with "
            f"`{INSTALL}` (or `pip install 'dask[distributed]'`), or run without --dask"
        )
        raise DaskOptionError(msg) from exc
    return dd


def parse_scheduler(spec: str) -> tuple[str, int | str]:
    """``local:N`` -> ``("local", N)``; ``tcp://host:port`` -> ``("address", spec)``.

    Raises
    ------
    DaskOptionError
        For anything else.
    """
    text = str(spec).strip()
    if text.startswith("local:"):
        n = text.removeprefix("local:")
        if n.isdigit() and 1 <= int(n) <= 512:
            return "local", int(n)
    elif "://" in text and text.split("://", 1)[1]:
        return "address", text
    msg = (
        f"--dask {spec!r}: give local:N (a local cluster of N worker processes, 1-512) or a "
        "scheduler address such as tcp://10.0.0.5:8786"
    )
    raise DaskOptionError(msg)


def _refuse_unsupported(opts: AuditOptions) -> None:
    if opts.close is not None or opts.rural_standard is not None:
        flag = "--close" if opts.close is not None else "--rural-standard"
        msg = (
            f"{flag} is not available with --dask: it audits the city twice (or under two "
            f"standards) and merges figures that cross partitions; run it without --dask"
        )
        raise DaskOptionError(msg)


# --------------------------------------------------------------------------- worker side


@dataclass
class _Prepared:
    """The inputs of one study as the single-machine audit prepares them (per worker)."""

    graph: WalkGraph
    mode_graphs: dict[str, WalkGraph]
    std: Standard
    fac: gpd.GeoDataFrame
    audited: list[str]
    hierarchy: UnitHierarchy
    analysed: set[str]
    unit_check: pd.DataFrame
    pts: gpd.GeoDataFrame
    outside_units: int
    ledger: dict[str, Any]
    warnings: list[str]
    timings: dict[str, float]
    merged: dict[str, int] = field(default_factory=dict)


_CACHE: dict[str, _Prepared] = {}


def _key(opts: AuditOptions) -> str:
    return repr(opts)


def _prepare(opts: AuditOptions) -> _Prepared:
    """Read and prepare the inputs exactly as :func:`lifecircle.audit` does (cached)."""
    key = _key(opts)
    if key in _CACHE:
        return _CACHE[key]
    from .pipeline import _mode_graphs, _require_residents, _require_units

    network, facility_items, units, population = _inputs(opts)
    std, _ = _standard_and_profile(opts)
    warnings: list[str] = []
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    graph = read_network(network, min_component_nodes=opts.min_component_nodes)
    warnings.extend(_network_warnings(graph))
    timings["read_network"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fac, merged, _unknown = _load_facilities(
        network, facility_items, std, opts.osm_pois, warnings, typecodes=opts.typecodes
    )
    counts = fac["category"].value_counts()
    paths = [network, *(p for p, _ in facility_items)]
    audited = _choose_categories(counts, std, opts.categories, paths, warnings)
    timings["read_facilities"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    hierarchy = _hierarchy(units, network, graph, opts, warnings)
    reach_m = edge_reach_m(std)
    analysed, unit_check = units_inside_network(
        hierarchy,
        graph.extent(),
        graph.crs,
        reach_m,
        min_inside=CATCHMENT_INSIDE_SHARE,
        keep_edge_units=opts.keep_edge_units,
    )
    _require_units(analysed, units=units, network=network, reach_m=reach_m)
    timings["read_units"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    origins = _origins(graph, population, hierarchy, warnings)
    pts, outside_units = _place_residents(origins, hierarchy, analysed, unit_check)
    _require_residents(analysed, units=units, population=population, rules=None)
    ledger = population_inside(origins, origins.points["unit_id"], analysed)
    timings["population"] = time.perf_counter() - t0
    # every mode's network the facilities' categories count, as the single-machine audit
    cats = [c for c in sorted(set(fac["category"])) if c in std.category_ids]
    mode_graphs = _mode_graphs(network, std, cats, opts, warnings)
    prepared = _Prepared(
        graph=graph,
        mode_graphs=mode_graphs,
        std=std,
        fac=fac,
        audited=audited,
        hierarchy=hierarchy,
        analysed=analysed,
        unit_check=unit_check,
        pts=pts,
        outside_units=outside_units,
        ledger=ledger,
        warnings=warnings,
        timings=timings,
        merged=merged,
    )
    _CACHE.clear()  # one study per worker at a time
    _CACHE[key] = prepared
    return prepared


def halo_m(std: Standard, audited: list[str], opts: AuditOptions) -> float:
    """The halo around a partition's units (m) within which every reachable facility lies.

    The search cut-off of :func:`lifecircle.access.compute_access` (the longest threshold
    walk of ``audited`` at their profiles; for a category that counts other travel
    modes, the same minutes at each mode's speed), plus the resident's and the
    facility's straight walk to the network (each at most ``max_snap_m``), plus 1 m.
    """
    cutoff = search_cutoff_m(std, audited, opts.profile)
    reach = cutoff
    for cat in audited:
        own = std.profile_of(cat, opts.profile).speed_m_min
        for prof in std.profiles_of(cat, opts.profile):
            reach = max(reach, cutoff / own * prof.speed_m_min)
    return float(reach + 2.0 * opts.max_snap_m + 1.0)


def partitions_of(hierarchy: UnitHierarchy, analysed: set[str], level: str) -> dict[str, list[str]]:
    """Per unit of ``level``: its analysed finest units (units without any are left out)."""
    if level not in hierarchy.levels:
        msg = (
            f"--dask-level {level!r} is not a level of the governance units; choose one of "
            + ", ".join(hierarchy.levels)
        )
        raise DaskOptionError(msg)
    anc = hierarchy.ancestors()
    anc = anc[anc[hierarchy.finest].astype(str).isin(analysed)]
    out: dict[str, list[str]] = {}
    for key, group in anc.groupby(anc[level].astype(str), sort=True):
        out[str(key)] = sorted(group[hierarchy.finest].astype(str).unique())
    return out


def default_level(hierarchy: UnitHierarchy) -> str:
    """The level below the top (the only level when there is one)."""
    return hierarchy.levels[1] if len(hierarchy.levels) > 1 else hierarchy.levels[0]


def plan_task(opts: AuditOptions, level: str | None) -> dict[str, Any]:
    """On a worker: prepare the inputs and return what the driver merges with."""
    p = _prepare(opts)
    lvl = level or default_level(p.hierarchy)
    parts = partitions_of(p.hierarchy, p.analysed, lvl)
    # the facilities' snap on the whole walk network, as compute_access reports it
    snaps = snap_audit_inputs(
        p.graph, p.pts.iloc[:0], p.fac, snap=opts.snap, max_snap_m=opts.max_snap_m
    )
    fac = p.fac.copy()
    fac_snap = pd.Series(snaps.facility_snap_m, index=fac.index)
    fac["snap_m"] = fac_snap.round(2)
    fac["reachable"] = fac_snap.notna()
    return {
        "level": lvl,
        "partitions": parts,
        "audited": p.audited,
        "hierarchy": p.hierarchy,
        "analysed": p.analysed,
        "unit_check": p.unit_check,
        "facilities": fac,
        "warnings": list(p.warnings),
        "ledger": p.ledger,
        "origins_total": len(p.pts) + p.outside_units,
        "outside_units": p.outside_units,
        "network": p.graph.summary(),
        "halo_m": halo_m(p.std, p.audited, opts),
        "timings": {k: round(v, 3) for k, v in p.timings.items()},
    }


def partition_task(
    opts: AuditOptions, key: str, own: list[str], halo_sources: bool = False
) -> dict[str, Any]:
    """On a worker: the access rows of one partition's own residents.

    The residents of the units ``own`` reach only facilities within the halo. With
    ``halo_sources`` the search starts from those facilities only, so its work is
    bounded by the halo, and the distances equal the single-machine ones up to float
    rounding (the contracted search's summation order depends on its sources; measured
    at most 3e-14 m on the sample). Without it (the default) the search starts from
    every facility of the category, as on one machine, and the distances are
    bit-identical.
    """
    t_start = time.perf_counter()
    p = _prepare(opts)
    t_prepared = time.perf_counter()
    graph, std = p.graph, p.std
    finest = p.hierarchy.units[p.hierarchy.finest]
    own_units = finest[finest["unit_id"].astype(str).isin(own)].to_crs(graph.crs)
    area = shapely.union_all(own_units.geometry.to_numpy())
    radius = halo_m(std, p.audited, opts)
    halo = shapely.buffer(area, radius)
    pts = p.pts[p.pts["unit_id"].astype(str).isin(own)]
    fac_geom = p.fac.geometry.to_crs(graph.crs)
    in_halo = fac_geom.intersects(halo).to_numpy()
    fac = p.fac[in_halo] if halo_sources else p.fac
    fac = fac.reset_index(drop=True)
    snaps = snap_audit_inputs(
        graph,
        pts,
        fac,
        snap=opts.snap,
        max_snap_m=opts.max_snap_m,
        mode_graphs=p.mode_graphs,
    )
    table, _ = compute_access(
        graph,
        pts,
        fac,
        std,
        profile=opts.profile,
        categories=p.audited,
        max_snap_m=opts.max_snap_m,
        snap=opts.snap,
        snaps=snaps,
    )
    _, in_scope, methods = _analysed_origins(table, p.analysed, std, p.audited)
    access = _access_output(in_scope, pts, p.hierarchy, p.audited)
    shapely.prepare(halo)
    shapely.prepare(area)
    halo_nodes = int(shapely.contains_xy(halo, graph.x, graph.y).sum())
    own_nodes = int(shapely.contains_xy(area, graph.x, graph.y).sum())
    return {
        "key": key,
        "in_scope": pd.DataFrame(in_scope),
        "access": access,
        "cohort_methods": {k: v.to_json() for k, v in methods.items()},
        "stats": {
            "partition": key,
            "units": len(own),
            "origins": len(in_scope),
            "facilities_in_halo": int(in_halo.sum()),
            "search_sources": "halo" if halo_sources else "all",
            "own_nodes": own_nodes,
            "halo_nodes": halo_nodes,
            "halo_overhead": round(halo_nodes / own_nodes, 3) if own_nodes else None,
            "prepare_s": round(t_prepared - t_start, 3),
            "access_s": round(time.perf_counter() - t_prepared, 3),
            # the worker process's peak resident memory so far (Linux: KiB)
            "worker_peak_rss_mb": round(
                resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1
            ),
        },
    }


# --------------------------------------------------------------------------- driver side


@dataclass
class DaskAudit:
    """The merged results of a partitioned audit (the single-machine figures).

    Attributes
    ----------
    access, units, gaps, facilities
        As :class:`lifecircle.AuditResult` without the fair-service columns.
    summary
        ``summary.json``: city-wide figures, warnings, timings and the partitions.
    """

    access: gpd.GeoDataFrame
    units: dict[str, gpd.GeoDataFrame]
    gaps: pd.DataFrame
    facilities: gpd.GeoDataFrame
    summary: dict[str, Any]
    inputs: list[Path] = field(default_factory=list)

    def outputs(self) -> dict[str, Any]:
        """Output file name -> writer (as :meth:`lifecircle.AuditResult.outputs`)."""
        gaps = self.gaps.copy()
        gaps["uncovered_population"] = gaps["uncovered_population"].round(1)
        gaps["uncovered_share"] = gaps["uncovered_share"].round(4)
        names = ["access.parquet", "units.gpkg", "facilities.gpkg", "gaps.csv", "summary.json"]
        summary = {**self.summary, "outputs": names}
        return {
            "access.parquet": lambda p: write_geoparquet(p, self.access),
            "units.gpkg": lambda p: write_geopackage(p, self.units),
            "facilities.gpkg": lambda p: write_geopackage(p, {"facilities": self.facilities}),
            "gaps.csv": lambda p: write_csv(p, gaps),
            "summary.json": lambda p: write_json(p, summary),
        }

    def write(self, out: str | Path) -> list[Path]:
        """Write the outputs into ``out``, published as one set (see ``OutputFolder``)."""
        with OutputFolder(out, inputs=self.inputs) as folder:
            _write_outputs(folder, self.outputs())
            return folder.publish()


def _absolute(opts: AuditOptions) -> AuditOptions:
    """Input paths made absolute where they exist here (workers may run elsewhere)."""

    def fix(value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(fix(v) for v in value)
        if isinstance(value, Path) and value.exists():
            return value.resolve()
        return value

    changes = {
        name: fix(getattr(opts, name))
        for name in ("network", "facilities", "units", "population", "typecodes")
    }
    facilities = tuple(
        (fix(Path(f[0])), f[1]) if isinstance(f, tuple) else fix(Path(f)) for f in opts.facilities
    )
    changes["facilities"] = facilities
    return opts.replace(**changes)


def _client(spec: str) -> tuple[Any, Any]:
    dd = require_dask()
    kind, value = parse_scheduler(spec)
    if kind == "local":
        cluster = dd.LocalCluster(
            n_workers=int(value), threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        return dd.Client(cluster), cluster
    try:
        return dd.Client(str(value), timeout="20s"), None
    except OSError as exc:
        msg = f"--dask {value}: cannot reach the Dask scheduler ({exc}); check the address"
        raise DaskOptionError(msg) from exc


def audit_dask(
    options: AuditOptions | None = None,
    *,
    dask: str = "local:2",
    level: str | None = None,
    client: Any = None,
    halo_sources: bool = False,
    **option_values: Any,
) -> DaskAudit:
    """Audit on Dask workers, partitioned by a governance level; equals :func:`lifecircle.audit`.

    Parameters
    ----------
    options
        The audit's options (:class:`~lifecircle.options.AuditOptions`); inputs are
        paths the workers can read (a shared folder).
    dask
        ``local:N`` (a local cluster of N worker processes) or a scheduler address
        (``tcp://host:8786``). Ignored when ``client`` is given.
    level
        The governance level whose units are the partitions (default: the level below
        the top).
    client
        An existing :class:`dask.distributed.Client` to use.
    halo_sources
        Search from the facilities within each partition's halo only (work bounded by
        the halo; distances equal up to float rounding) instead of from every facility
        (bit-identical to the single-machine run; see :func:`partition_task`).
    **option_values
        Options given one by one (they override ``options``).

    Returns
    -------
    DaskAudit
        ``.access``, ``.units``, ``.gaps``, ``.summary``; ``.write(folder)``.

    Raises
    ------
    DaskOptionError
        Dask missing, a bad scheduler or level, or an option not available here.
    """
    opts = _absolute((options or AuditOptions()).replace(**option_values))
    _refuse_unsupported(opts)
    std, _ = _standard_and_profile(opts)
    own_client = client is None
    cluster = None
    if own_client:
        client, cluster = _client(dask)
    t0 = time.perf_counter()
    try:
        plan = client.submit(plan_task, opts, level, pure=False).result()
        t_plan = time.perf_counter() - t0
        futures = [
            client.submit(partition_task, opts, key, own, halo_sources, pure=False)
            for key, own in plan["partitions"].items()
        ]
        parts = client.gather(futures)
    finally:
        if own_client:
            client.close()
            if cluster is not None:
                cluster.close()
    t_parts = time.perf_counter() - t0 - t_plan
    result = _merge(opts, std, plan, parts)
    result.summary["timings_s"].update({"plan": round(t_plan, 3), "partitions": round(t_parts, 3)})
    result.summary["distributed"]["scheduler"] = "client" if not own_client else dask
    return result


def _merge(
    opts: AuditOptions, std: Standard, plan: dict[str, Any], parts: list[dict[str, Any]]
) -> DaskAudit:
    """Merge the partitions and compute coverage, gaps and the summary on the merged table."""
    t0 = time.perf_counter()
    hierarchy: UnitHierarchy = plan["hierarchy"]
    analysed: set[str] = plan["analysed"]
    audited: list[str] = plan["audited"]
    unit_check: pd.DataFrame = plan["unit_check"]
    # the single-machine table keeps the origins in their order: by index (origin order)
    in_scope = pd.concat([p["in_scope"] for p in parts]).sort_index(kind="stable")
    access = pd.concat([p["access"] for p in parts], ignore_index=True)
    access = access.sort_values("origin_id", kind="stable").reset_index(drop=True)
    access = gpd.GeoDataFrame(access, geometry="geometry", crs="EPSG:4326")
    if in_scope.index.has_duplicates or access["origin_id"].duplicated().any():
        msg = "partitions overlap: an origin was audited twice (a bug; please report it)"
        raise RuntimeError(msg)
    unit_tables = coverage_by_unit(in_scope, hierarchy, std, audited, analysed=analysed)
    _add_population_method(unit_tables, in_scope, hierarchy)
    _add_edge_effect(unit_tables[hierarchy.finest], unit_check)
    gaps = find_gaps(unit_tables, audited)
    city = citywide(in_scope, std, audited)
    check_population(in_scope, access, unit_tables, hierarchy, city)
    _, _, _, population = _inputs(opts)
    _check_ledger(plan["ledger"], population, float(in_scope["population"].sum()))

    warnings = list(plan["warnings"])
    reach_m = edge_reach_m(std)
    far = in_scope["snap_m"] > opts.max_snap_m
    if far.any():
        warnings.append(
            f"{int(far.sum())} resident locations lie farther than {opts.max_snap_m:.0f} m "
            "from the walk network; they count as not covered for every category"
        )
    warnings += _unit_check_warnings(unit_check, hierarchy.finest, reach_m)
    completeness = completeness_status(std, audited)
    warnings += _completeness_warnings(completeness, std)
    methods: dict[str, Any] = {}
    for part in parts:
        methods.update(part["cohort_methods"])
    summary = {
        "study": opts.name,
        "standard": std.id,
        "profile": opts.profile,
        "categories_audited": audited,
        "population": {"total": city["population"], "ledger": plan["ledger"]},
        "origins": {
            "total": plan["origins_total"],
            "analysed": len(in_scope),
            "outside_units": plan["outside_units"],
            "beyond_max_snap": int(far.sum()),
        },
        "network": plan["network"],
        "units_analysed": len(analysed),
        "edge_reach_m": reach_m,
        "coverage": city["coverage"],
        "score": city["score"],
        "complete_share": city["complete_share"],
        **{k: v for k, v in city.items() if k.startswith("complete_") and k != "complete_share"},
        "completeness": completeness,
        "warnings": warnings,
        "timings_s": {**plan["timings"], "merge": round(time.perf_counter() - t0, 3)},
        "distributed": {
            "level": plan["level"],
            "partitions": len(parts),
            "halo_m": round(plan["halo_m"], 1),
            "per_partition": [p["stats"] for p in parts],
            "not_available": list(NOT_AVAILABLE),
        },
        "versions": {"lifecircle": __version__},
    }
    network, facility_items, units, population = _inputs(opts)
    inputs = [p for p in [network, *(f for f, _ in facility_items), units, population] if p]
    return DaskAudit(
        access=access,
        units=unit_tables,
        gaps=gaps,
        facilities=plan["facilities"],
        summary=json.loads(json.dumps(summary, default=_plain)),
        inputs=[Path(p) for p in inputs],
    )


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | tuple):
        return sorted(value) if isinstance(value, set) else list(value)
    return str(value)
