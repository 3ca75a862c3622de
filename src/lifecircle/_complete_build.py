"""Building a complete-life-circle siting problem from an audit (:mod:`lifecircle.complete_siting`).

The checks of a request, the demand, the fixed categories of a level, the shared
candidates and who reaches a category now.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np

from . import _complete_models as cm
from . import columns
from ._siting_build import _distance_to_existing, audit_snap, resident_snap
from .access import search_cutoff_m
from .candidates import candidates_auto, candidates_from_file
from .errors import DataError
from .pipeline import AuditResult
from .settings import REACH_RTOL


def check_categories(result: AuditResult, categories: Sequence[str]) -> tuple[str, ...]:
    if isinstance(categories, str):
        categories = [c.strip() for c in categories.split(",") if c.strip()]
    cats = tuple(categories)
    if not cats:
        msg = "--categories: give at least one category id (e.g. elderly_care,health_station)"
        raise DataError(msg)
    dupes = sorted({c for c in cats if cats.count(c) > 1})
    if dupes:
        msg = f"--categories lists {', '.join(dupes)} more than once; list each category once"
        raise DataError(msg)
    for c in cats:
        result.standard.category(c)  # unknown ids raise with the valid list
    return cats


def fixed(
    result: AuditResult, cats: tuple[str, ...], level: str | None
) -> tuple[tuple[str, ...], np.ndarray | None]:
    """The level's mandatory categories not listed, and who reaches all of them now."""
    if level is None:
        return (), None
    std = result.standard
    ids = [lv.id for lv in std.levels]
    if level not in ids:
        msg = f"--level: {level!r} is not a level of {std.id}; use one of {', '.join(ids)}"
        raise DataError(msg)
    minutes = {lv.id: lv.minutes for lv in std.levels}
    mandatory = [c.id for c in std.categories if c.mandatory and minutes[c.level] <= minutes[level]]
    fixed = tuple(c for c in mandatory if c not in cats)
    audited = set(result.summary.categories_audited)
    missing = [c for c in fixed if c not in audited]
    if missing:
        msg = (
            f"--level {level}: its complete life circle needs {', '.join(missing)}, which the "
            "audit did not cover (no facilities in the data); list them in --categories to "
            "site them too, or add their facilities with --facilities"
        )
        raise DataError(msg)
    ok = np.ones(len(result.access), bool)
    for c in fixed:
        ok &= covered_now(result, c)
    ok.setflags(write=False)
    return fixed, ok


def demand(result: AuditResult, cohort: str | None) -> tuple[np.ndarray, str]:
    acc = result.access
    if cohort is None:
        return acc["population"].to_numpy(float).copy(), "demand: every resident"
    col = columns.pop(cohort)
    if col not in acc.columns:
        known = sorted(result.standard.cohorts)
        msg = (
            f"cohort {cohort!r}: the audit's access table has no {col} column; audit with "
            f"age data, or choose one of the cohorts it has ({', '.join(known)}), or leave "
            "the cohort out to count every resident"
        )
        raise DataError(msg)
    return acc[col].to_numpy(float).copy(), f"demand: residents of cohort {cohort} ({col})"


def shared_candidates(
    result: AuditResult,
    cats: tuple[str, ...],
    candidates: str | Path | gpd.GeoDataFrame,
    *,
    n_candidates: int,
    min_spacing_m: float,
    seed: int,
    eligible: np.ndarray | None = None,
) -> tuple[gpd.GeoDataFrame, str, Path | None]:
    """One candidate GeoDataFrame for every category, its source in words, its file.

    ``eligible``: residents who can become complete at all (with a level: those who
    reach its fixed categories); auto candidates cluster the eligible ones missing a
    listed category.
    """
    if isinstance(candidates, gpd.GeoDataFrame):
        return candidates, f"file: {len(candidates)} sites from a GeoDataFrame", None
    if not (isinstance(candidates, str) and candidates == "auto"):
        path = Path(candidates)
        cand = candidates_from_file(path)
        return cand, f"file: {len(cand)} sites from {path.name}", path
    missing = ~np.column_stack([covered_now(result, c) for c in cats]).all(axis=1)
    if eligible is not None:
        missing &= eligible
    if not missing.any():
        msg = (
            f"every resident already reaches every listed category ({', '.join(cats)}); "
            "nothing to site"
        )
        raise DataError(msg)
    fac = result.facilities
    existing = fac[fac["category"].isin(cats)]
    rule, _ = audit_snap(result)
    cand = candidates_auto(
        result.graph,
        result.access.loc[missing],
        existing,
        n_candidates=n_candidates,
        min_spacing_m=min_spacing_m,
        seed=seed,
        snap=rule,
    )
    source = (
        f"auto: {len(cand)} shared sites nearest to centres of k-means clusters of residents "
        f"missing at least one of {', '.join(cats)} (k={n_candidates}, seed={seed}, snap={rule})"
    )
    return cand, source, None


def covered_now(result: AuditResult, category: str) -> np.ndarray:
    """Per resident: within the category's threshold of an existing facility (audit's rule)."""
    std = result.standard
    threshold_m = (
        std.category(category).threshold_min
        * result.profile_of(category).speed_m_min
        * (1 + REACH_RTOL)
    )
    acc = result.access
    col = columns.dist(category)
    if col in acc.columns:
        dist = acc[col].to_numpy(float)
    else:
        fac = result.facilities
        rule, max_snap_m = audit_snap(result)
        audited = list(result.summary.categories_audited)
        cutoff = max(search_cutoff_m(std, audited, result.profile_override), threshold_m)
        dist = _distance_to_existing(
            result,
            fac[fac["category"] == category],
            cutoff_m=cutoff,
            max_snap_m=max_snap_m,
            rule=rule,
            residents=resident_snap(result, rule=rule, max_snap_m=max_snap_m),
        )
    return np.asarray(np.nan_to_num(dist, nan=np.inf) <= threshold_m, bool)


def check_goal(objective: str, weight: float, time_limit_s: float) -> None:
    if objective not in cm.OBJECTIVES:
        msg = f"--objective must be one of {', '.join(cm.OBJECTIVES)}, got {objective!r}"
        raise DataError(msg)
    if not 0.0 <= float(weight) <= 1.0:
        msg = f"--fairness-weight must lie in [0, 1], got {weight}"
        raise DataError(msg)
    if not time_limit_s > 0:
        msg = f"--time-limit must be a positive number of seconds, got {time_limit_s}"
        raise DataError(msg)


def count(value: object, flag: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        msg = f"{flag} must be a whole number of sites (0 or more), got {value!r}"
        raise DataError(msg)
    return int(value)
