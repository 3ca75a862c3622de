"""Audit stages of fair service: cohorts, supply-demand, data completeness, closures.

Helpers of :func:`lifecircle.pipeline.audit` (kept apart so each stays short).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .access import search_cutoff_m
from .closure import closure_summary, closure_table, read_closed_ids
from .cohorts import CohortMethod, cohort_populations
from .config import Standard
from .data_completeness import CategoryData, data_completeness, thin_warning
from .equity import equity_figures, rank_and_decile, worst_served
from .io.providers import cross_source_counts
from .io.units import UnitHierarchy
from .options import AuditOptions
from .service import FairService, ServiceInputs, fair_service
from .settings import FAR_SNAP_WARNING_M
from .summary import AuditSummary, GraphFacts

if TYPE_CHECKING:
    from .pipeline import AuditResult

log = logging.getLogger(__name__)


def _analysed_origins(
    table: pd.DataFrame, analysed: set[str], std: Standard, audited: list[str]
) -> tuple[np.ndarray, pd.DataFrame, dict[str, CohortMethod]]:
    """The origins of the analysed units, with their cohorts' residents (``pop_<cohort>``)."""
    scope = table["unit_id"].isin(analysed).to_numpy()
    in_scope = table if scope.all() else table[scope]
    cohort_pops, cohort_methods = cohort_populations(in_scope, std, audited)
    return scope, pd.concat([in_scope, cohort_pops], axis=1), cohort_methods


def service_settings(opts: AuditOptions, std: Standard, audited: list[str]) -> dict[str, Any]:
    """The audit's options as :class:`~lifecircle.service.ServiceInputs` takes them.

    Its search cut-off (``radius_m``), ``profile`` and 2SFCA ``decay``.
    """
    return {
        "radius_m": search_cutoff_m(std, audited, opts.profile),
        "profile": opts.profile,
        "decay": None if opts.fca_decay == "none" else opts.fca_decay,
    }


def _without_closed(
    fac: gpd.GeoDataFrame, close: Path | None
) -> tuple[gpd.GeoDataFrame, np.ndarray | None]:
    """The facilities without those listed by ``--close`` (and their ids)."""
    if close is None:
        return fac, None
    closed = read_closed_ids(close, fac["facility_id"])
    log.info("closing %d facilities listed in %s", len(closed), close)
    return fac[~fac["facility_id"].isin(closed)].copy(), closed


def resident_units(pts: pd.DataFrame) -> set[str]:
    """The ids of the finest units with residents (``pts["unit_id"]``), as text."""
    return {str(u) for u in pd.unique(pts["unit_id"].to_numpy(dtype=object))}


def _quality(  # noqa: PLR0917 - one field from each stage
    graph: GraphFacts,
    fac: gpd.GeoDataFrame,
    std: Standard,
    hierarchy: UnitHierarchy,
    with_residents: set[str],
    in_scope: pd.DataFrame,
    far: pd.Series,
    merged: dict[str, int],
    unknown_codes: dict[str, int],
) -> dict[str, Any]:
    """summary.json's ``data_quality``: input defects and what they left out.

    ``with_residents``: :func:`resident_units` of every resident placed in a unit.
    """
    counts = fac["category"].value_counts()
    no_people = sorted(
        set(hierarchy.units[hierarchy.finest]["unit_id"].astype(str)) - with_residents
    )
    return {
        "network_components_dropped": int(graph.dropped.get("components", 0)),
        "network_nodes_dropped": int(graph.dropped.get("nodes", 0)),
        "facilities_snapped_over_100m": int(
            ((fac["snap_m"] > FAR_SNAP_WARNING_M) & fac["reachable"]).sum()
        ),
        "facilities_unreachable": int((~fac["reachable"]).sum()),
        "duplicates_merged": merged,
        "unknown_typecodes": unknown_codes,
        "categories_without_facilities": [c for c in std.category_ids if counts.get(c, 0) == 0],
        "units_without_population": no_people,
        "origins_beyond_max_snap": int(far.sum()),
        "population_beyond_max_snap": round(float(in_scope.loc[far, "population"].sum()), 1),
    }


def _closure(
    before: AuditResult | None,
    *,
    closed: np.ndarray | None,
    opts: AuditOptions,
    unit_tables: dict[str, gpd.GeoDataFrame],
    service: FairService,
    summary: AuditSummary,
) -> tuple[pd.DataFrame | None, AuditSummary]:
    """With --close: closure.csv's table and the summary's ``closure`` section."""
    if before is None or closed is None or opts.close is None:
        return None, summary
    std = before.standard
    audited = list(summary.categories_audited)
    table = closure_table(before.units, unit_tables, std, audited)
    section = closure_summary(
        opts.close,
        closed,
        before.facilities,
        {c: s.covered_share for c, s in before.summary.fair_service.items()},
        {c: s.covered_share for c, s in service.categories.items()},
    )
    return table, replace(summary, closure=section)


def _service_stage(
    inp: ServiceInputs,
    unit_tables: dict[str, gpd.GeoDataFrame],
    fac: gpd.GeoDataFrame,
    warnings: list[str],
) -> tuple[FairService, dict[str, CategoryData]]:
    """Fair service and data completeness; adds columns and warnings in place."""
    service = fair_service(inp)
    _join_service(unit_tables, fac, service, inp.hierarchy)
    points = gpd.GeoDataFrame(geometry=fac.geometry.representative_point(), crs=fac.crs)
    fac_unit = inp.hierarchy.assign(points)
    if len(set(fac["source"])) > 1:
        inside = fac.assign(unit_id=fac_unit.to_numpy())
        inside = inside[inside["unit_id"].astype("string").isin(list(inp.analysed)).fillna(False)]
        service.cross_source = cross_source_counts(inside, ["category"])
        service.cross_source_units = cross_source_counts(inside, ["category", "unit_id"])
    data = data_completeness(
        fac_unit,
        fac["category"],
        inp.analysed,
        inp.standard,
        inp.categories,
        residents=float(inp.table["population"].sum()),
        cohort_residents={k: float(v["residents"] or 0.0) for k, v in service.cohorts.items()},
    )
    std = inp.standard
    warnings += [thin_warning(d, std.category(c).name_en) for c, d in data.items() if d.thin]
    warnings += [
        f"cohort {k} ({v['name']}): {v['text']}"
        for k, v in service.cohorts.items()
        if v["method"] == "none"
    ]
    return service, data


def _join_service(
    unit_tables: dict[str, gpd.GeoDataFrame],
    fac: gpd.GeoDataFrame,
    service: FairService,
    hierarchy: UnitHierarchy,
) -> None:
    """Add the fair-service columns to the unit tables and the facilities, in place."""
    for level, table in unit_tables.items():
        extra = service.unit_columns[level]
        at = list(table.columns).index("score")
        for offset, col in enumerate(extra.columns):
            table.insert(at + offset, col, extra[col].reindex(table["unit_id"]).to_numpy())
        score = table["score"].to_numpy(float)
        rank = np.full(len(table), np.nan)
        decile = np.full(len(table), np.nan)
        has = np.isfinite(score)
        if has.any():
            rank[has], decile[has] = rank_and_decile(score[has])
        at = list(table.columns).index("worst_category")
        table.insert(at, "rank", pd.array(rank, dtype="Int64"))
        table.insert(at + 1, "decile", pd.array(decile, dtype="Int64"))
    finest = unit_tables[hierarchy.finest]
    scored = finest[np.isfinite(finest["score"].to_numpy(float))]
    if len(scored):
        values = scored["score"].to_numpy(float)
        service.equity_score = equity_figures(values).to_json()
        service.worst_units = [
            str(u) for u in worst_served(values, scored["unit_id"].astype(str).to_numpy())
        ]
    for col in service.facility_columns.columns:
        fac[col] = service.facility_columns[col].to_numpy()
