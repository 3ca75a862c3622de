"""The figures of a solved siting: access after, proposals, ``optimize.json``, placed shares.

The computations behind the output methods of
:class:`lifecircle.siting.SitingSolution` (:meth:`~lifecircle.siting.SitingSolution.access_after`,
:meth:`~lifecircle.siting.SitingSolution.proposals`,
:meth:`~lifecircle.siting.SitingSolution.summary`,
:meth:`~lifecircle.siting.SitingSolution.placed_by_unit`), which document them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from ._models_bounds import GREEDY_FACTOR
from ._models_sites import rank_sites
from .coverage import citywide, rollup_sums
from .io.outputs import check_not_inputs, write_atomic, write_geopackage, write_json

if TYPE_CHECKING:
    from ._siting_solution import SitingSolution

#: The files :meth:`SitingSolution.write` writes, in order (``optimize.json`` last).
OUTPUT_FILES = ("proposals.geojson", "units_after.gpkg", "optimize.json")
#: How ``mip_gap`` is defined (also written into ``optimize.json``).
GAP_DEFINITION = "|bound - objective| / max(|bound|, |objective|)"


def access_after(sol: SitingSolution) -> pd.DataFrame:
    """The access table after the new sites (:meth:`SitingSolution.access_after`)."""
    acc = sol.access_before()
    dcol, tcol = f"dist_{sol.category}_m", f"time_{sol.category}_min"
    speed = sol.result.profile_of(sol.category).speed_m_min
    frac = sol.newly
    new_dist = sol.problem.new_distance(sol.selected)
    full = acc.copy()
    take = frac > 1e-12
    full.loc[take, dcol] = np.fmin(full.loc[take, dcol].to_numpy(), new_dist[take])
    full.loc[take, tcol] = full.loc[take, dcol].to_numpy() / speed
    full["population"] = acc["population"].to_numpy() * np.where(take, frac, 1.0)
    part = take & (frac < 1 - 1e-12)
    rest = acc.loc[part].copy()
    rest["population"] = rest["population"].to_numpy() * (1 - frac[part])
    return pd.concat([full, rest], ignore_index=True)


def proposals(sol: SitingSolution) -> gpd.GeoDataFrame:
    """The selected sites, ranked (:meth:`SitingSolution.proposals`)."""
    capacity = sol.options.get("capacity")
    order, marginal = rank_sites(sol.problem, sol, model=sol.model, capacity=capacity)
    sel = sol.selected[order]
    served = sol.site_served[order]
    cand = sol.candidates.iloc[sel]
    out = gpd.GeoDataFrame(
        {
            "site_id": [f"{sol.category}-{i + 1}" for i in range(len(sel))],
            "category": sol.category,
            "rank": np.arange(1, len(sel) + 1),
            "candidate_id": cand["candidate_id"].to_numpy(),
            (
                "marginal_distance_saved_m" if sol.model == "pmedian" else "marginal_newly_covered"
            ): np.round(marginal, 1),
            "residents_served": np.minimum(np.round(served, 1), capacity or np.inf),
            "capacity": np.full(len(sel), np.nan if capacity is None else float(capacity)),
        },
        geometry=cand.geometry.to_numpy(),
        crs=sol.candidates.crs,
    )
    return out.to_crs("EPSG:4326")


def summary(sol: SitingSolution) -> dict[str, Any]:
    """The content of ``optimize.json`` (:meth:`SitingSolution.summary`)."""
    std = sol.result.standard
    cats = sol.categories
    acc_before, acc_after = sol.access_before(), sol.access_after()
    before = citywide(acc_before, std, cats)
    after = citywide(acc_after, std, cats)
    newly = float((sol.demand["population"].to_numpy() * sol.newly).sum())
    units_before = sol.units_before(acc_before)
    units_after = sol.units_after(acc_after)
    cov = f"cov_{sol.category}"
    per_unit = []
    for level, table in units_before.items():
        aft = units_after[level].set_index("unit_id")
        for row in table.itertuples():
            if not row.units_analysed:
                continue
            per_unit.append(
                {
                    "level": level,
                    "unit_id": row.unit_id,
                    "name": row.name,
                    "population": round(float(row.population), 1),
                    "coverage_before": _r(getattr(row, cov)),
                    "coverage_after": _r(aft.loc[row.unit_id, cov]),
                    "complete_share_before": _r(row.complete_share),
                    "complete_share_after": _r(aft.loc[row.unit_id, "complete_share"]),
                }
            )
    out = {
        "category": sol.category,
        "category_audited": sol.category in sol.result.summary.categories_audited,
        "cohort": sol.problem.cohort,
        "cohort_name": sol.problem.cohort_name,
        "demand": round(sol.problem.demand_total, 1),
        "model": sol.model,
        "objective": sol.options.get("objective"),
        "sites": len(sol.selected),
        "sites_requested": sol.options.get("sites"),
        "target_coverage": sol.options.get("target_coverage"),
        "capacity": sol.options.get("capacity"),
        "min_unit_coverage": sol.options.get("min_unit_coverage"),
        "threshold_min": std.category(sol.category).threshold_min,
        "threshold_m": round(sol.threshold_m, 1),
        "candidates": len(sol.candidates),
        "candidate_source": sol.candidate_source,
        "population": round(sol.population, 1),
        "newly_covered_population": round(newly, 1),
        "newly_covered_cohort": round(float((sol.problem.weights * sol.newly).sum()), 1),
        "coverage_before": _r(before["coverage"][sol.category]),
        "coverage_after": _r(after["coverage"][sol.category]),
        "complete_share_before": _r(before["complete_share"]),
        "complete_share_after": _r(after["complete_share"]),
        "categories_compared": cats,
        "status": sol.status,
        "mip_gap": sol.mip_gap,
        "gap_definition": GAP_DEFINITION,
        "objective_value": sol.objective,
        "bound": sol.bound,
        "bound_source": sol.bound_source,
        "greedy_objective": sol.greedy_objective,
        "greedy_guarantee": (
            round(GREEDY_FACTOR, 6)
            if sol.model == "pmedian"
            or (sol.model == "mclp" and sol.options.get("capacity") is None)
            else None
        ),
        "time_limit_s": sol.options.get("time_limit_s"),
        "runtime_s": sol.runtime_s,
        "timings_s": dict(sol.timings_s),
        "solver": "HiGHS (highspy)",
        "solver_run": dict(sol.solver_info),
        "notes": [*sol.problem_notes, *sol.notes],
        "audit_warnings": list(sol.result.summary.warnings),
        "inputs": [str(p) for p in sol.inputs],
        "units": per_unit,
    }
    if sol.served_after is not None:
        out["capacity_model"] = {
            **sol.capacity_figures,
            "newly_placed": round(
                sol.capacity_figures["placed_after"] - sol.capacity_figures["placed_before"],
                3,
            ),
            "existing_facilities": int(sol.problem.existing_pairs()[0].shape[1]),
            "existing_capacity": _capacity_text(sol.problem.existing_pairs()[1]),
        }
        _placed_by_unit(sol, per_unit)
    if sol.model == "pmedian":
        d0 = np.nan_to_num(sol.demand["dist_m"].to_numpy(), nan=sol.radius_m)
        d1 = np.fmin(d0, np.minimum(sol.problem.new_distance(sol.selected), sol.radius_m))
        w = sol.problem.weights
        out["mean_distance_before_m"] = round(float((w * d0).sum() / w.sum()), 1)
        out["mean_distance_after_m"] = round(float((w * d1).sum() / w.sum()), 1)
        out["distance_cap_m"] = round(sol.radius_m, 1)
    return out


def placed_by_unit(sol: SitingSolution) -> dict[str, pd.DataFrame]:
    """Cohort placed share per unit and level (:meth:`SitingSolution.placed_by_unit`)."""
    if sol.served_after is None or sol.served_before is None:
        return {}
    r = sol.result
    values = pd.DataFrame(
        {"need": sol.problem.weights, "before": sol.served_before, "after": sol.served_after}
    )
    sums = rollup_sums(values, sol.demand["unit_id"].to_numpy(), r.hierarchy, r.analysed)
    out = {}
    for level, frame in sums.items():
        den = frame["need"].where(frame["need"] > 0)
        out[level] = pd.DataFrame(
            {
                "placed_share_before": frame["before"] / den,
                "placed_share_after": frame["after"] / den,
            }
        )
    return out


def _placed_by_unit(sol: SitingSolution, per_unit: list[dict[str, Any]]) -> None:
    placed = placed_by_unit(sol)
    for row in per_unit:
        table = placed[row["level"]]
        row["placed_share_before"] = _r(table.loc[row["unit_id"], "placed_share_before"])
        row["placed_share_after"] = _r(table.loc[row["unit_id"], "placed_share_after"])


def _capacity_text(cap: np.ndarray) -> str:
    """The existing facilities' capacities in words (for ``optimize.json``)."""
    if len(cap) == 0:
        return "none (no existing facility)"
    finite = cap[np.isfinite(cap)]
    if finite.size == 0:
        return "unlimited"
    text = (
        f"{finite.min():g}-{finite.max():g}" if finite.min() != finite.max() else f"{finite[0]:g}"
    )
    return text + (f"; {len(cap) - finite.size} unlimited" if finite.size < len(cap) else "")


def _r(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 6)


class _Sited(Protocol):
    """What a siting (one category, or the complete life circle) writes from."""

    def proposals(self) -> gpd.GeoDataFrame: ...
    def units_after(self) -> dict[str, gpd.GeoDataFrame]: ...
    def summary(self) -> dict[str, Any]: ...


def siting_writers(sol: _Sited) -> dict[str, Callable[[Path], object]]:
    """``proposals.geojson``, ``units_after.gpkg``, ``optimize.json``: name -> atomic writer."""
    return {
        "proposals.geojson": lambda path: write_atomic(
            Path(path),
            lambda tmp: sol.proposals().to_file(tmp, driver="GeoJSON", layer="proposals"),
        ),
        "units_after.gpkg": lambda path: write_geopackage(Path(path), sol.units_after()),
        "optimize.json": lambda path: write_json(Path(path), sol.summary()),
    }


def write_siting(
    writers: dict[str, Callable[[Path], object]], out: str | Path, inputs: Sequence[Path]
) -> list[Path]:
    """Write ``writers`` into ``out``; refuses, before writing anything, to overwrite an input."""
    out = Path(out)
    targets = [out / name for name in writers]
    check_not_inputs(targets, list(inputs))
    out.mkdir(parents=True, exist_ok=True)
    for target, write in zip(targets, writers.values(), strict=True):
        write(target)
    return targets
