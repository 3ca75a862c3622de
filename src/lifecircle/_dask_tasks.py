"""The two kinds of Dask task of a partitioned audit: the plan and one per partition.

The *plan* (:func:`plan_task`, on one worker) reads the inputs exactly as
:func:`lifecircle.audit` does, snaps the residents and the facilities' access points
to the whole walk network once (the single-machine snap), splits the analysed units
into partitions and writes, per partition, its piece of every network it searches
(:func:`lifecircle._dask_clip.clip_graph`: the edges within the halo plus the snap
limit, whole chains and neighbourhoods), its residents and the access points that
enter the network on the piece, into the run's work folder.

A *partition* (:func:`partition_task`) reads only its own files, searches its piece
and returns its access rows. Its memory and work are bounded by the halo, not by the
city; its distances are the same floats as the single-machine run's (see
:mod:`lifecircle._dask_clip`).
"""

from __future__ import annotations

import dataclasses
import os
import resource
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ._audit_inputs import StageTimer, read_inputs
from ._audit_service import _analysed_origins, resident_units
from ._audit_stages import _access_output, _standard_and_profile
from ._dask_clip import (
    ClippedGraph,
    clip_graph,
    edge_tree,
    points_on_piece,
    reach_zone,
    remap_snapped,
)
from ._dask_io import given_names, has_urls, join, localize, read_part, write_part
from .access import AccessPoints, AuditSnaps, compute_access, search_cutoff_m, snap_audit_inputs
from .config import Standard
from .errors import LifecircleError
from .io.population import population_inside
from .io.units import UnitHierarchy
from .network import WalkGraph
from .options import AuditOptions
from .service import Searches
from .snap import Snapped


class DaskOptionError(ValueError, LifecircleError):
    """A ``--dask`` run that cannot go ahead: dask missing, a bad scheduler, level or option.

    The command line turns it into exit code 2 with the message.
    """


@dataclass
class _Prepared:
    """The inputs of one study as the single-machine audit prepares them."""

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
    unknown_codes: Any = None
    origins_method: str = ""
    origins_report: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanGraph:
    """What ``summary.json`` says of the walk graph, sent by the plan to the driver.

    Stands in for the graph in :func:`lifecircle.summary.build_summary` (a
    :class:`lifecircle.summary.GraphFacts`): the driver holds no graph.
    """

    crs: Any
    dropped: dict[str, int]
    facts: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """``summary.json``'s ``network`` (:meth:`lifecircle.network.WalkGraph.summary`)."""
        return dict(self.facts)


def _prepare(opts: AuditOptions) -> _Prepared:
    """Read and prepare the inputs exactly as :func:`lifecircle.audit` does."""
    from ._audit_snapping import other_mode_graphs
    from .pipeline import _require_residents

    warnings: list[str] = []
    timer = StageTimer()
    inp = read_inputs(opts, timer, warnings)
    _require_residents(inp.analysed, units=inp.units, population=inp.population, rules=None)
    ledger = population_inside(inp.origins, inp.origins.points["unit_id"], inp.analysed)
    # every mode's network the facilities' categories count, as the single-machine audit
    cats = [c for c in sorted(set(inp.fac["category"])) if c in inp.std.category_ids]
    mode_graphs = other_mode_graphs(inp.network, inp.std, cats, opts, warnings)
    return _Prepared(
        graph=inp.graph,
        mode_graphs=mode_graphs,
        std=inp.std,
        fac=inp.fac,
        audited=inp.audited,
        hierarchy=inp.hierarchy,
        analysed=inp.analysed,
        unit_check=inp.unit_check,
        pts=inp.pts,
        outside_units=inp.outside_units,
        ledger=ledger,
        warnings=warnings,
        timings=timer.timings,
        merged=inp.merged,
        unknown_codes=inp.unknown_codes,
        origins_method=inp.origins.method,
        origins_report=inp.origins.report,
    )


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


# --------------------------------------------------------------------------- the plan


def plan_task(opts: AuditOptions, level: str | None, workdir: str) -> dict[str, Any]:
    """On a worker: prepare the inputs, write every partition's files, return the plan."""
    cpu_start = time.process_time()
    with tempfile.TemporaryDirectory(prefix="lifecircle-inputs-") as tmp:
        local = localize(opts, Path(tmp)) if has_urls(opts) else opts
        p = _prepare(local)
    # messages name the inputs as given, not the copies read
    for copy, url in given_names(local, opts).items():
        p.warnings = [w.replace(copy, url) for w in p.warnings]
    t0 = time.perf_counter()
    snaps = snap_audit_inputs(
        p.graph,
        p.pts,
        p.fac,
        snap=opts.snap,
        max_snap_m=opts.max_snap_m,
        mode_graphs=p.mode_graphs,
    )
    p.timings["snap"] = time.perf_counter() - t0
    lvl = level or default_level(p.hierarchy)
    parts = partitions_of(p.hierarchy, p.analysed, lvl)
    radius = halo_m(p.std, p.audited, opts)
    t0 = time.perf_counter()
    graphs = {"walk": p.graph, **p.mode_graphs}
    trees = {mode: edge_tree(g) for mode, g in graphs.items()}
    # each resident's partition, once (not a pass over every resident per partition)
    part_of_unit = {unit: i for i, own in enumerate(parts.values()) for unit in own}
    part_of = p.pts["unit_id"].astype(str).map(part_of_unit).fillna(-1).to_numpy(np.int64)
    order = np.argsort(part_of, kind="stable")
    bounds = np.searchsorted(part_of[order], np.arange(len(parts) + 1))
    files = []
    for i, (key, own) in enumerate(parts.items()):
        url = join(workdir, f"part-{i:05d}")
        rows = order[bounds[i] : bounds[i + 1]]
        stats = _write_partition(p, snaps, trees, own, rows, radius, opts, url)
        files.append({"key": key, "units": own, "url": url, "stats": {"partition": key, **stats}})
    p.timings["write_partitions"] = time.perf_counter() - t0
    fac = p.fac.copy()
    fac_snap = pd.Series(snaps.facility_snap_m, index=fac.index)
    fac["snap_m"] = fac_snap.round(2)
    fac["reachable"] = fac_snap.notna()
    return {
        "level": lvl,
        "partitions": files,
        "audited": p.audited,
        "hierarchy": p.hierarchy,
        "analysed": p.analysed,
        "unit_check": p.unit_check,
        "facilities": fac,
        "warnings": list(p.warnings),
        "ledger": p.ledger,
        "origins_total": len(p.pts) + p.outside_units,
        "outside_units": p.outside_units,
        "graph": PlanGraph(p.graph.crs, dict(p.graph.dropped), p.graph.summary()),
        "merged": p.merged,
        "unknown_codes": p.unknown_codes,
        "origins_method": p.origins_method,
        "origins_report": p.origins_report,
        "with_residents": resident_units(p.pts),
        "halo_m": radius,
        "timings": {k: round(v, 3) for k, v in p.timings.items()},
        "plan_peak_rss_mb": _maxrss_mb(),
        "plan_cpu_s": round(time.process_time() - cpu_start, 3),
    }


def _area(p: _Prepared, own: list[str], rows: np.ndarray) -> Any:
    """The partition's units and residents, in the graph's CRS."""
    crs = p.graph.crs
    finest = p.hierarchy.units[p.hierarchy.finest]
    own_units = finest[finest["unit_id"].astype(str).isin(own)].to_crs(crs)
    # made valid first: a self-crossing outline must not stop the union (the piece only
    # needs to hold the residents' surroundings; the residents themselves are added below)
    area: Any = shapely.union_all(shapely.make_valid(own_units.geometry.to_numpy()))
    pts = p.pts.geometry.iloc[rows].to_crs(crs)
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    stray = ~shapely.contains_xy(area, x, y)  # residents outside their unit's outline
    if stray.any():
        area = shapely.union(area, shapely.multipoints(np.column_stack([x[stray], y[stray]])))
    return area


def _write_partition(  # noqa: PLR0917 - the plan's pieces for one partition
    p: _Prepared,
    snaps: AuditSnaps,
    trees: dict[str, shapely.STRtree],
    own: list[str],
    rows: np.ndarray,
    radius: float,
    opts: AuditOptions,
    url: str,
) -> dict[str, Any]:
    """Clip every network to the partition's halo and write its files; its figures.

    ``rows``: the positions of the partition's residents in ``p.pts`` (ascending).
    """
    area = _area(p, own, rows)
    shapely.prepare(area)
    arrays: dict[str, np.ndarray] = {}
    chosen = []  # per mode: the whole-city positions of the access points kept
    stats: dict[str, Any] = {"units": len(own), "origins": len(rows)}
    mode_snaps = {"walk": snaps, **{m: s for m, (_, s) in snaps.modes.items()}}
    for mode, graph in [("walk", p.graph), *p.mode_graphs.items()]:
        s = mode_snaps[mode]
        clip = clip_graph(graph, area, radius + opts.max_snap_m, tree=trees[mode])
        own_snaps = s.origins.take(rows)
        if mode == "walk":  # the resident's node and edge as numbered in the whole graph
            arrays["origin_node"] = own_snaps.node
            arrays["origin_edge"] = own_snaps.edge
        origins = remap_snapped(own_snaps, clip)
        lost = origins.reachable & ((origins.node_u < 0) | (origins.node_v < 0))
        if lost.any():  # pragma: no cover - the clip keeps every edge within the snap limit
            msg = f"partition clip lost {int(lost.sum())} residents' edges (a bug)"
            raise RuntimeError(msg)
        on_piece = points_on_piece(s.points, clip)
        _put_graph(arrays, mode, clip.graph)
        _put_snapped(arrays, f"{mode}.origins", origins)
        _put_snapped(arrays, f"{mode}.points", remap_snapped(s.points.snapped.take(on_piece), clip))
        chosen.append((mode, s.points.facility[on_piece]))
        if mode == "walk":
            gx, gy = clip.graph.x, clip.graph.y
            stats["own_nodes"] = int(shapely.contains_xy(area, gx, gy).sum())
            stats["halo_nodes"] = int(shapely.contains_xy(reach_zone(area, radius), gx, gy).sum())
            stats["clip_nodes"] = clip.graph.n_nodes
            stats["city_nodes"] = graph.n_nodes
    # the facilities of every kept access point, renumbered 0..k-1 in city order
    used = np.unique(np.concatenate([pos for _, pos in chosen]))
    for mode, pos in chosen:
        arrays[f"{mode}.points.facility"] = np.searchsorted(used, pos)
    arrays["facility_category"] = np.asarray(snaps.facility_category[used]).astype(str)
    arrays["facility_row"] = used
    arrays["modes"] = np.array(["walk", *p.mode_graphs], dtype=str)
    arrays["own_units"] = np.array(own, dtype=str)
    arrays["origin_row"] = p.pts.index.to_numpy()[rows]
    stats["facilities"] = len(used)
    own_nodes = stats["own_nodes"]
    stats["halo_overhead"] = round(stats["halo_nodes"] / own_nodes, 3) if own_nodes else None
    stats["clip_overhead"] = round(stats["clip_nodes"] / own_nodes, 3) if own_nodes else None
    stats["file_mb"] = round(write_part(url, arrays, p.pts.iloc[rows]) / 1e6, 3)
    return stats


_GRAPH_FIELDS = ("node_ids", "x", "y", "edge_u", "edge_v", "edge_length")


def _put_graph(arrays: dict[str, np.ndarray], prefix: str, graph: ClippedGraph) -> None:
    for name in _GRAPH_FIELDS:
        arrays[f"{prefix}.graph.{name}"] = getattr(graph, name)
    arrays[f"{prefix}.graph.edge_class"] = np.asarray(graph.edge_class).astype(str)
    arrays[f"{prefix}.graph.crs"] = np.array(graph.crs.to_json())
    arrays[f"{prefix}.graph.contract"] = np.array(graph.contract)


def _get_graph(arrays: dict[str, np.ndarray], prefix: str) -> ClippedGraph:
    def get(name: str) -> np.ndarray:
        return arrays[f"{prefix}.graph.{name}"]

    return ClippedGraph(
        node_ids=get("node_ids"),
        x=get("x"),
        y=get("y"),
        edge_u=get("edge_u"),
        edge_v=get("edge_v"),
        edge_length=get("edge_length"),
        crs=pyproj.CRS.from_json(str(arrays[f"{prefix}.graph.crs"])),
        edge_class=arrays[f"{prefix}.graph.edge_class"].astype(object),
        mode=prefix,
        contract=bool(arrays[f"{prefix}.graph.contract"]),
    )


_SNAP_FIELDS = tuple(f.name for f in dataclasses.fields(Snapped) if f.name != "rule")


def _put_snapped(arrays: dict[str, np.ndarray], prefix: str, snapped: Snapped) -> None:
    arrays[f"{prefix}.rule"] = np.array(snapped.rule)
    for name in _SNAP_FIELDS:
        arrays[f"{prefix}.{name}"] = getattr(snapped, name)


def _get_snapped(arrays: dict[str, np.ndarray], prefix: str) -> Snapped:
    rule = str(arrays[f"{prefix}.rule"])
    return Snapped(rule, *(arrays[f"{prefix}.{name}"] for name in _SNAP_FIELDS))


# --------------------------------------------------------------------------- a partition


class _PeakRss:
    """The largest resident memory of this process while the block runs (sampled, MB)."""

    def __init__(self, every_s: float = 0.02) -> None:
        self.every_s = every_s
        self.start_mb = self.peak_mb = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak_mb = max(self.peak_mb, _rss_mb())

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, _rss_mb())


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            pages = int(f.read().split()[1])
    except OSError:  # pragma: no cover - not Linux
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def _maxrss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def partition_task(
    opts: AuditOptions, part: dict[str, Any], hierarchy: UnitHierarchy, audited: list[str]
) -> dict[str, Any]:
    """On a worker: read one partition's files, search its piece, return its access rows."""
    t_start, cpu_start = time.perf_counter(), time.process_time()
    with _PeakRss() as rss:
        arrays, pts = read_part(part["url"])
        pts.index = pd.Index(arrays["origin_row"])
        t_read = time.perf_counter()
        std, _ = _standard_and_profile(opts)
        modes = [str(m) for m in arrays["modes"]]
        graphs = {mode: _get_graph(arrays, mode) for mode in modes}
        category = arrays["facility_category"].astype(object)

        def snaps_of(mode: str) -> AuditSnaps:
            points = AccessPoints(
                facility=arrays[f"{mode}.points.facility"],
                snapped=_get_snapped(arrays, f"{mode}.points"),
            )
            return AuditSnaps(
                origins=_get_snapped(arrays, f"{mode}.origins"),
                points=points,
                facility_category=category,
                facility_snap_m=np.full(len(category), np.nan),
            )

        snaps = dataclasses.replace(
            snaps_of("walk"), modes={m: (graphs[m], snaps_of(m)) for m in modes[1:]}
        )
        table, _ = compute_access(
            graphs["walk"],
            pts,
            gpd.GeoDataFrame({"category": category}),
            std,
            profile=opts.profile,
            categories=audited,
            max_snap_m=opts.max_snap_m,
            snap=opts.snap,
            snaps=snaps,
        )
        # the resident's node and edge as numbered in the whole graph (the output columns)
        table["node"] = arrays["origin_node"]
        table["edge"] = arrays["origin_edge"]
        own = {str(u) for u in arrays["own_units"]}
        scope, in_scope, methods = _analysed_origins(table, own, std, audited)
        access = _access_output(in_scope, pts, hierarchy, audited)
        t_access = time.perf_counter()
        pairs = fair_searches(
            graphs["walk"], snaps, np.flatnonzero(scope), (std, audited, opts.profile)
        )
        # the pairs' columns as the city's facility rows (the merge numbers them per category)
        for found in pairs.values():
            found["facility"] = arrays["facility_row"][found["facility"]]
    return {
        "key": part["key"],
        "in_scope": pd.DataFrame(in_scope),
        "access": access,
        "fair_searches": pairs,
        "cohort_methods": methods,
        "stats": {
            **part["stats"],
            "read_s": round(t_read - t_start, 3),
            "access_s": round(t_access - t_read, 3),
            "fair_searches_s": round(time.perf_counter() - t_access, 3),
            "cpu_s": round(time.process_time() - cpu_start, 3),
            "rss_start_mb": round(rss.start_mb, 1),
            "rss_peak_mb": round(rss.peak_mb, 1),
            "worker_peak_rss_mb": _maxrss_mb(),
        },
    }


def fair_searches(
    graph: WalkGraph,
    snaps: AuditSnaps,
    rows: np.ndarray,
    study: tuple[Standard, list[str], str | None],
) -> dict[str, dict[str, np.ndarray]]:
    """The fair-service searches of one partition's residents, on its piece of the network.

    Per category, the pairs within its threshold as CSR arrays (``data``, ``indices``,
    ``indptr``; rows: ``rows`` of ``snaps.origins`` in order), the facility row (in
    ``snaps``) of each column (``facility``), and the second-nearest walks
    (``second_m``): the same searches as the single-machine audit
    (:class:`lifecircle.service.Searches`), whose reach (at most the cut-off) lies
    inside the halo, so each value is the same float.
    """
    std, audited, profile = study
    radius = search_cutoff_m(std, audited, profile)
    searches = Searches(graph, snaps, rows, std, audited, radius_m=radius, profile=profile)
    pairs, seconds = searches.collect()
    return {
        cat: {
            "data": dist.data,
            "indices": dist.indices,
            "indptr": dist.indptr,
            "facility": fac_rows,
            "second_m": seconds[cat],
        }
        for cat, (dist, fac_rows) in pairs.items()
    }
