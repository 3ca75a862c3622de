"""The driver's side of a partitioned audit: merge the partitions, then every roll-up.

The partitions' access rows are concatenated in origin order (the single-machine
table's order) and coverage per unit at every level, gaps and the city-wide figures
are computed on the merged table with the same functions as :func:`lifecircle.audit`,
so every sum runs in the same order and the figures are the same floats.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ._audit_stages import (
    _add_edge_effect,
    _add_population_method,
    _check_ledger,
    _completeness_warnings,
    _inputs,
    _unit_check_warnings,
    check_population,
)
from ._dask_io import as_url
from ._version import __version__
from .config import Standard
from .coverage import citywide, completeness_status, coverage_by_unit, edge_reach_m, find_gaps
from .io.outputs import OutputFolder, write_csv, write_geopackage, write_geoparquet, write_json
from .io.outputs import write_outputs as _write_outputs
from .io.units import UnitHierarchy
from .options import AuditOptions

#: What a ``--dask`` run does not produce (summary.json lists it).
NOT_AVAILABLE = (
    "fair service (cohort coverage, supply-demand sd_<cat>, capacity placed_<cat>, choice "
    "n_<cat>/second_<cat>_m, equity, rank and decile): its catchments cross partitions",
    "map.html and report.html",
)


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


def merge(
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
            "plan_peak_rss_mb": plan["plan_peak_rss_mb"],
            "plan_cpu_s": plan["plan_cpu_s"],
            "per_partition": [p["stats"] for p in parts],
            "not_available": list(NOT_AVAILABLE),
        },
        "versions": {"lifecircle": __version__},
    }
    network, facility_items, units, population = _inputs(opts)
    inputs = [
        p
        for p in [network, *(f for f, _ in facility_items), units, population]
        if p is not None and as_url(p) is None
    ]
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
