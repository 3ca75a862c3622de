"""The driver's side of a partitioned audit: merge the partitions, then every roll-up.

The partitions' access rows are concatenated in origin order (the single-machine
table's order) and coverage per unit at every level, gaps and the city-wide figures
are computed on the merged table with the same functions as :func:`lifecircle.audit`,
so every sum runs in the same order and the figures are the same floats.

Fair service: each partition searched its residents' pairs within every category's
threshold and their second-nearest walks on its piece; :func:`joined_searches` stacks
them into the city's matrices (rows in origin order, columns the category's facilities
in city order: the single-machine matrices, entry for entry), and the fair-service
stage runs once on them, here. Its capacity assignment is one transportation problem
per category over the whole city (partitions share facilities), so it is solved here,
not per partition.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import columns
from ._audit_service import _quality, _service_stage, service_settings
from ._audit_stages import (
    SERVICE_ORIGIN_COLUMNS,
    _add_edge_effect,
    _add_population_method,
    _check_ledger,
    _completeness_warnings,
    _inputs,
    _reach_warnings,
    _standard_and_profile,
    _unit_check_warnings,
    check_population,
    gaps_for_csv,
)
from ._dask_io import as_url
from ._dask_tasks import PlanGraph
from .config import Standard
from .coverage import citywide, completeness_status, coverage_by_unit, edge_reach_m, find_gaps
from .io.outputs import OutputFolder, write_csv, write_geopackage, write_geoparquet, write_json
from .io.outputs import write_outputs as _write_outputs
from .io.population import Origins
from .io.units import UnitHierarchy
from .network import WalkGraph
from .options import AuditOptions
from .service import FairService, Searches, ServiceInputs, cohort_gaps, threshold_m
from .summary import AuditSummary, SummaryParts, build_summary

if TYPE_CHECKING:
    from .pipeline import AuditResult

#: What a ``--dask`` run does not do (summary.json lists it).
NOT_AVAILABLE = (
    "--close and --rural-standard (refused: each audits the city twice or under two standards)",
)


@dataclass
class DaskAudit:
    """The merged results of a partitioned audit (the single-machine figures).

    Attributes
    ----------
    access, units, gaps, facilities
        As :class:`lifecircle.AuditResult` (fair-service columns included).
    summary
        ``summary.json``: city-wide figures, warnings, timings and the partitions.
    """

    access: gpd.GeoDataFrame
    units: dict[str, gpd.GeoDataFrame]
    gaps: pd.DataFrame
    facilities: gpd.GeoDataFrame
    summary: dict[str, Any]
    inputs: list[Path] = field(default_factory=list)
    #: With facilities from several sources: ``cross_source.csv`` (as the audit's).
    cross_source_units: pd.DataFrame | None = None
    #: ``summary`` as the audit's typed summary (what the map and report read).
    typed: AuditSummary | None = None
    #: The fair-service stage's results (:attr:`lifecircle.AuditResult.service`).
    service: FairService | None = None
    hierarchy: UnitHierarchy | None = None
    analysed: set[str] = field(default_factory=set)

    def with_graph(self, graph: WalkGraph, options: AuditOptions) -> AuditResult:
        """The audit's result, with the walk graph read on this machine (for the map).

        Parameters
        ----------
        graph
            The study's walk graph, as the audit reads it
            (:func:`lifecircle._audit_inputs.read_walk_graph`).
        options
            The audit's options.
        """
        from .pipeline import AuditResult

        if self.typed is None or self.hierarchy is None:  # pragma: no cover - merge sets them
            msg = "this partitioned audit was not merged"
            raise ValueError(msg)
        std, prof = _standard_and_profile(options)
        return AuditResult(
            access=self.access,
            units=self.units,
            gaps=self.gaps,
            summary=self.typed,
            facilities=self.facilities,
            graph=graph,
            standard=std,
            profile=prof,
            hierarchy=self.hierarchy,
            analysed=self.analysed,
            inputs=list(self.inputs),
            profile_override=options.profile,
            service=self.service,
        )

    def outputs(self) -> dict[str, Any]:
        """Output file name -> writer (as :meth:`lifecircle.AuditResult.outputs`)."""
        gaps = gaps_for_csv(self.gaps)
        writers: dict[str, Any] = {
            "access.parquet": lambda p: write_geoparquet(p, self.access),
            "units.gpkg": lambda p: write_geopackage(p, self.units),
            "facilities.gpkg": lambda p: write_geopackage(p, {"facilities": self.facilities}),
            "gaps.csv": lambda p: write_csv(p, gaps),
        }
        cross = self.cross_source_units
        if cross is not None and len(cross):
            writers["cross_source.csv"] = lambda p: write_csv(p, cross)
        summary = {**self.summary, "outputs": [*writers, "summary.json"]}
        writers["summary.json"] = lambda p: write_json(p, summary)
        return writers

    def write(self, out: str | Path) -> list[Path]:
        """Write the outputs into ``out``, published as one set (see ``OutputFolder``)."""
        with OutputFolder(out, inputs=self.inputs) as folder:
            _write_outputs(folder, self.outputs())
            return folder.publish()


def merge(
    opts: AuditOptions,
    std: Standard,
    plan: dict[str, Any],
    parts: list[dict[str, Any]],
    run: dict[str, Any],
) -> DaskAudit:
    """Merge the partitions and compute coverage, gaps and the summary on the merged table.

    ``run``: the driver's ``timings`` (the plan and the partitions, seconds) and the
    ``scheduler`` it ran on.
    """
    t0 = time.perf_counter()
    hierarchy: UnitHierarchy = plan["hierarchy"]
    analysed: set[str] = plan["analysed"]
    audited: list[str] = plan["audited"]
    unit_check: pd.DataFrame = plan["unit_check"]
    in_scope, order, access = _merged_rows(parts)
    unit_tables = coverage_by_unit(in_scope, hierarchy, std, audited, analysed=analysed)
    _add_population_method(unit_tables, in_scope, hierarchy)
    _add_edge_effect(unit_tables[hierarchy.finest], unit_check)
    gaps = find_gaps(unit_tables, audited)
    city = citywide(in_scope, std, audited)

    # the warnings in the single-machine audit's order: reading, reach, units, fair service,
    # completeness
    warnings = list(plan["warnings"])
    fac = plan["facilities"]
    far = in_scope["snap_m"] > opts.max_snap_m
    warnings += _reach_warnings(in_scope, far, fac, opts.max_snap_m)
    reach_m = edge_reach_m(std)
    warnings += _unit_check_warnings(unit_check, hierarchy.finest, reach_m)
    service, data = _service_stage(
        ServiceInputs(
            graph=None,
            snaps=None,
            table=in_scope,
            rows=np.arange(len(in_scope)),
            fac=fac.reset_index(drop=True),
            standard=std,
            categories=audited,
            hierarchy=hierarchy,
            analysed=analysed,
            **service_settings(opts, std, audited),
            cohort_methods=parts[0]["cohort_methods"] if parts else {},
            searches=joined_searches(parts, order, fac["category"].to_numpy(), std, opts),
        ),
        unit_tables,
        fac,
        warnings,
    )
    gaps = cohort_gaps(gaps, unit_tables, std)
    completeness = completeness_status(std, audited)
    warnings += _completeness_warnings(completeness, std)
    access = with_service_columns(access, in_scope["origin_id"], service.origin_columns, audited)
    check_population(in_scope, access, unit_tables, hierarchy, city)
    network, facility_items, units, population = _inputs(opts)
    _check_ledger(plan["ledger"], population, float(in_scope["population"].sum()))
    graph: PlanGraph = plan["graph"]
    quality = _quality(
        graph,
        fac,
        std,
        hierarchy,
        plan["with_residents"],
        in_scope,
        far,
        plan["merged"],
        plan["unknown_codes"],
    )
    _, prof = _standard_and_profile(opts)
    summary = build_summary(
        SummaryParts(
            options=opts,
            network=_as_given(network),
            facility_paths=[_as_given(path) for path, _ in facility_items],
            units=None if units is None else _as_given(units),
            population=None if population is None else _as_given(population),
            std=std,
            prof=prof,
            audited=audited,
            graph=graph,
            fac=fac,
            hierarchy=hierarchy,
            unit_check=unit_check,
            unit_tables=unit_tables,
            origins=Origins(gpd.GeoDataFrame(), plan["origins_method"], plan["origins_report"]),
            city=city,
            access=access,
            origins_total=plan["origins_total"],
            outside_units=plan["outside_units"],
            beyond_snap=int(far.sum()),
            reach_m=reach_m,
            warnings=warnings,
            timings={
                k: round(v, 3)
                for k, v in {
                    **plan["timings"],
                    **run["timings"],
                    "merge": time.perf_counter() - t0,
                }.items()
            },
            quality=quality,
            completeness=completeness,
            service=service,
            data=data,
        )
    )
    summary = replace(
        summary,
        distributed={
            "scheduler": run["scheduler"],
            "level": plan["level"],
            "partitions": len(parts),
            "halo_m": round(plan["halo_m"], 1),
            "plan_peak_rss_mb": plan["plan_peak_rss_mb"],
            "plan_cpu_s": plan["plan_cpu_s"],
            "per_partition": [p["stats"] for p in parts],
            "not_available": list(NOT_AVAILABLE),
        },
    )
    given = [network, *(path for path, _ in facility_items), units, population]
    inputs = [Path(p) for p in given if p is not None and as_url(p) is None]
    return _result(summary, (access, unit_tables, gaps, fac), service, plan, inputs)


def _merged_rows(parts: list[dict[str, Any]]) -> tuple[pd.DataFrame, np.ndarray, gpd.GeoDataFrame]:
    """The partitions' analysed origins and access rows, in the single-machine order.

    Returns the origins (by index: origin order), the position in the partitions'
    concatenated rows of each of them, and the access rows (by ``origin_id``).
    """
    in_scope = pd.concat([p["in_scope"] for p in parts])
    order = np.argsort(in_scope.index.to_numpy(), kind="stable")
    in_scope = in_scope.iloc[order]
    access = pd.concat([p["access"] for p in parts], ignore_index=True)
    access = access.sort_values("origin_id", kind="stable").reset_index(drop=True)
    access = gpd.GeoDataFrame(access, geometry="geometry", crs="EPSG:4326")
    if in_scope.index.has_duplicates or access["origin_id"].duplicated().any():
        msg = "partitions overlap: an origin was audited twice (a bug; please report it)"
        raise RuntimeError(msg)
    return in_scope, order, access


def _result(
    summary: AuditSummary,
    tables: tuple[gpd.GeoDataFrame, dict[str, gpd.GeoDataFrame], pd.DataFrame, gpd.GeoDataFrame],
    service: FairService,
    plan: dict[str, Any],
    inputs: list[Path],
) -> DaskAudit:
    """The merged audit (access, units, gaps, facilities), its summary and local inputs."""
    access, unit_tables, gaps, fac = tables
    return DaskAudit(
        access=access,
        units=unit_tables,
        gaps=gaps,
        facilities=fac,
        summary=json.loads(json.dumps(summary.to_json(), default=_plain)),
        inputs=inputs,
        cross_source_units=service.cross_source_units,
        typed=summary,
        service=service,
        hierarchy=plan["hierarchy"],
        analysed=plan["analysed"],
    )


def _as_given(path: Path) -> Path | str:
    """An input's name as given: its URL (``Path`` folds ``file:///x`` to ``file:/x``)."""
    url = as_url(path)
    return path if url is None else url


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, set | tuple):
        return sorted(value) if isinstance(value, set) else list(value)
    return str(value)


def joined_searches(
    parts: list[dict[str, Any]],
    order: np.ndarray,
    facility_category: np.ndarray,
    std: Standard,
    opts: AuditOptions,
) -> Searches:
    """The partitions' fair-service searches as one city's (:meth:`Searches.done`).

    Per category, the partitions' pair matrices stacked, their rows put in the merged
    table's order (``order``: the position in the partitions' concatenated rows of each
    merged row) and their columns numbered among the category's facilities of the city,
    in city order, as :func:`lifecircle.service.category_distances` numbers them. The
    searches give every row's pairs sorted by column, and the renumbering keeps that
    order, so each row holds the same entries in the same order as the single-machine
    matrix and every sum over it runs alike.
    """
    audited = list(parts[0]["fair_searches"]) if parts else []
    thresholds = {cat: threshold_m(std, cat, opts.profile) for cat in audited}
    pairs: dict[str, tuple[sp.csr_matrix, np.ndarray]] = {}
    seconds: dict[str, np.ndarray] = {}
    for cat in audited:
        city_rows = np.flatnonzero(facility_category == cat)
        found = [p["fair_searches"][cat] for p in parts]
        data = np.concatenate([f["data"] for f in found])
        # each column's facility, numbered among the category's facilities of the city
        cols = np.concatenate(
            [np.searchsorted(city_rows, f["facility"][f["indices"]]) for f in found]
        )
        counts = np.concatenate([np.diff(f["indptr"]) for f in found])
        starts = np.concatenate([[0], np.cumsum(counts)])[:-1]
        lengths = counts[order]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        take = np.repeat(starts[order] - indptr[:-1], lengths) + np.arange(indptr[-1])
        matrix = sp.csr_matrix((data[take], cols[take], indptr), shape=(len(order), len(city_rows)))
        pairs[cat] = (matrix, city_rows)
        seconds[cat] = np.concatenate([f["second_m"] for f in found])[order]
    return Searches.done(thresholds, pairs, seconds)


def with_service_columns(
    access: gpd.GeoDataFrame,
    origin_id: pd.Series,
    service_columns: pd.DataFrame,
    categories: list[str],
) -> gpd.GeoDataFrame:
    """``access`` with each category's fair-service columns after its own, as the audit's.

    ``service_columns`` has one row per ``origin_id`` (in that order); ``access`` may
    hold the origins in another order.
    """
    at = pd.Index(origin_id.to_numpy()).get_indexer(access["origin_id"].to_numpy())
    after = {columns.time(cat): cat for cat in categories}
    data: dict[str, Any] = {}
    for col in access.columns:
        if col == "geometry":
            continue
        data[col] = access[col].to_numpy()
        if col in after:
            for name in SERVICE_ORIGIN_COLUMNS:
                data[name(after[col])] = service_columns[name(after[col])].to_numpy()[at]
    out = pd.DataFrame(data, copy=False)
    return gpd.GeoDataFrame(out, geometry=access.geometry.to_numpy(), crs=access.crs, copy=False)
