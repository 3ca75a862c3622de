"""Building a :class:`lifecircle.siting.SitingProblem` from an audit.

Where the audit's residents enter the network (:func:`resident_snap`), the demand
(the category's cohort) and each resident's distance to the existing facilities of
the category, the candidate sites (``auto`` clusters of uncovered residents, or a
file) and the sparse resident x candidate walking distances; also the existing
facilities' pairs and capacities for the capacity model (:func:`audit_existing`).
Everything with the audit's own snap rule, snap limit and walking profile.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import columns
from ._standard_cohorts import ALL
from .access import access_distance, search_cutoff_m, site_distances, snap_facilities
from .candidates import candidates_auto, candidates_from_file
from .errors import DataError
from .pipeline import AuditResult
from .service import category_capacity, facility_capacity
from .settings import MAX_SNAP_M, REACH_RTOL
from .snap import Snapped, check_rule, snap_points

if TYPE_CHECKING:
    from .siting import SitingProblem


def problem_fields(
    result: AuditResult,
    category: str,
    *,
    candidates: str | Path | gpd.GeoDataFrame,
    n_candidates: int,
    min_spacing_m: float,
    objective: str,
    seed: int,
) -> dict[str, Any]:
    """The fields of the :class:`~lifecircle.siting.SitingProblem` for ``category``.

    See :meth:`lifecircle.siting.SitingProblem.from_audit` for the parameters; returns
    its keyword arguments (``result``, ``category``, ``threshold_m``, ``demand``,
    ``candidates``, ``distance``, ``radius_m``, ``candidate_source``,
    ``objective_kind``, ``problem_notes``, ``candidates_path``, ``cohort``).
    """
    std = result.standard
    std.category(category)  # unknown ids raise with the valid list
    if objective not in ("coverage", "distance"):
        msg = f"objective must be 'coverage' or 'distance', got {objective!r}"
        raise DataError(msg)
    graph = result.graph
    speed = result.profile_of(category).speed_m_min
    # within the threshold: the audit's rounding tolerance (coverage.covered_matrix)
    threshold_m = std.category(category).threshold_min * speed * (1 + REACH_RTOL)
    audited = list(result.summary.categories_audited)
    # the audit's search cut-off: the longest threshold walk of the audited categories
    cutoff_m = search_cutoff_m(std, audited, result.profile_override)
    radius_m = threshold_m if objective == "coverage" else max(cutoff_m, threshold_m)
    rule, max_snap_m = audit_snap(result)
    acc = result.access
    residents = resident_snap(result, rule=rule, max_snap_m=max_snap_m)
    existing = result.facilities[result.facilities["category"] == category]
    notes: list[str] = []
    if category in audited:
        dist_m = acc[f"dist_{category}_m"].to_numpy(float)
    else:
        dist_m = _distance_to_existing(
            result,
            existing,
            cutoff_m=max(cutoff_m, threshold_m),
            max_snap_m=max_snap_m,
            rule=rule,
            residents=residents,
        )
        notes += _not_audited_notes(result, category, existing, threshold_m)
    cohort = std.category(category).cohort
    need, cohort_notes = _cohort_demand(result, cohort)
    notes += cohort_notes
    demand = pd.DataFrame(
        {
            "origin_id": acc["origin_id"].to_numpy(),
            "population": acc["population"].to_numpy(float),
            "need": need,
            "unit_id": acc["unit_id"].astype(str).to_numpy(),
            "node": acc["node"].to_numpy(np.int64),
            "snap_m": acc["snap_m"].to_numpy(float),
            "dist_m": dist_m,
        }
    )
    demand["covered"] = demand["dist_m"] <= threshold_m
    cand, source, candidates_path = _candidate_sites(
        result,
        candidates,
        uncovered=acc.loc[~demand["covered"].to_numpy()],
        existing=existing,
        n_candidates=n_candidates,
        min_spacing_m=min_spacing_m,
        seed=seed,
        rule=rule,
    )
    points = snap_facilities(graph, cand, rule=rule, max_snap_m=max_snap_m)
    if len(points) == 0:
        msg = (
            f"no candidate site lies within {max_snap_m:.0f} m (max_snap_m) of the walk "
            "network; give candidates near the streets or raise --max-snap-m"
        )
        raise DataError(msg)
    # residents beyond max_snap_m have no entry: they reach nothing, new sites included
    dist = site_distances(
        graph, points.snapped, points.facility, residents, radius_m=radius_m, n_groups=len(cand)
    )
    return {
        "result": result,
        "category": category,
        "threshold_m": threshold_m,
        "demand": demand,
        "candidates": cand,
        "distance": dist,
        "radius_m": radius_m,
        "candidate_source": source,
        "objective_kind": objective,
        "problem_notes": tuple(notes),
        "candidates_path": candidates_path,
        "cohort": cohort,
    }


def _candidate_sites(
    result: AuditResult,
    candidates: str | Path | gpd.GeoDataFrame,
    *,
    uncovered: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame,
    n_candidates: int,
    min_spacing_m: float,
    seed: int,
    rule: str,
) -> tuple[gpd.GeoDataFrame, str, Path | None]:
    """The candidate sites (graph CRS), where they came from in words, and their file."""
    graph = result.graph
    candidates_path = None
    if isinstance(candidates, str) and candidates == "auto":
        cand = candidates_auto(
            graph,
            uncovered,
            existing,
            n_candidates=n_candidates,
            min_spacing_m=min_spacing_m,
            seed=seed,
            snap=rule,
        )
        where = "street points" if rule == "edge" else "network nodes"
        source = (
            f"auto: {len(cand)} {where} nearest to centres of k-means clusters of "
            f"uncovered residents (k={n_candidates}, seed={seed}, snap={rule})"
        )
    else:
        if not isinstance(candidates, gpd.GeoDataFrame):
            candidates_path = Path(candidates)
        cand = (
            candidates.copy()
            if isinstance(candidates, gpd.GeoDataFrame)
            else candidates_from_file(candidates)
        )
        cand = cand.to_crs(graph.crs).reset_index(drop=True)
        cand["candidate_id"] = np.arange(len(cand))
        origin = (
            "a GeoDataFrame" if isinstance(candidates, gpd.GeoDataFrame) else Path(candidates).name
        )
        source = f"file: {len(cand)} sites from {origin}"
    return cand, source, candidates_path


def audit_snap(result: AuditResult) -> tuple[str, float]:
    """The audit's snap rule and snap limit (``max_snap_m``)."""
    settings = result.summary.settings
    max_snap_m = float(settings.max_snap_m if settings.max_snap_m is not None else MAX_SNAP_M)
    rule = check_rule(settings.snap or ("edge" if "edge" in result.access.columns else "node"))
    return rule, max_snap_m


def audit_existing(problem: SitingProblem) -> tuple[sp.csr_matrix, np.ndarray]:
    """The audit's pairs and capacities of the category's existing facilities.

    See :meth:`lifecircle.siting.SitingProblem.existing_pairs`.
    """
    r = problem.result
    fac = r.facilities
    rows = np.flatnonzero(fac["category"].astype(str).to_numpy() == problem.category)
    if "capacity" in fac.columns:
        cap = pd.to_numeric(fac["capacity"].iloc[rows], errors="coerce").to_numpy(float)
    else:
        cap = facility_capacity(fac.iloc[rows], r.standard)[0]
    cap = np.where(np.isfinite(cap) & (cap >= 0), cap, np.inf)
    cap, _ = category_capacity(cap)  # the audit's rule where only some are known
    service = r.service
    dist = None if service is None else service.distances.get(problem.category)
    if dist is None or dist.shape != (len(problem.demand), len(rows)):
        dist = _pairs_to_existing(problem, fac.iloc[rows])
    return sp.csr_matrix(dist), cap


def _distance_to_existing(
    result: AuditResult,
    existing: gpd.GeoDataFrame,
    *,
    cutoff_m: float,
    max_snap_m: float,
    rule: str,
    residents: Snapped,
) -> np.ndarray:
    """Per resident of the audit, walking distance to the nearest of ``existing``.

    The audit's rule (:func:`lifecircle.access.compute_access`) for a category it
    did not compute: NaN beyond ``cutoff_m``, for residents farther than
    ``max_snap_m`` from the network, and everywhere when there is no facility.
    """
    if len(existing) == 0:
        return np.full(len(residents), np.nan)
    graph = result.graph
    points = snap_facilities(
        graph, existing.to_crs(graph.crs).reset_index(drop=True), rule=rule, max_snap_m=max_snap_m
    )
    return access_distance(graph, residents, points.snapped, cutoff_m=cutoff_m)


def resident_snap(result: AuditResult, *, rule: str, max_snap_m: float) -> Snapped:
    """Where each resident of the audit's access table enters the network, as in the audit.

    Under the node rule, the table's ``node`` and ``snap_m``; under the edge rule
    the resident is projected onto the edge the audit recorded (``edge``; searched
    again if the table has none) and keeps the audit's ``snap_m``, so the
    optimizer sees exactly the audit's snap (the round trip of the coordinates
    through EPSG:4326 moves them by nanometres only).

    Parameters
    ----------
    result
        A finished audit.
    rule
        The audit's snap rule.
    max_snap_m
        The audit's snap limit.

    Returns
    -------
    Snapped
        One entry per row of ``result.access``.
    """
    acc = result.access
    graph = result.graph
    snap_m = acc["snap_m"].to_numpy(float)
    if rule == "node":
        return Snapped.at_nodes(graph, acc["node"].to_numpy(np.int64), snap_m, max_snap_m)
    pts = acc.geometry.to_crs(graph.crs)
    edge = acc["edge"].to_numpy(np.int64) if "edge" in acc.columns else None
    s = snap_points(
        graph, pts.x.to_numpy(), pts.y.to_numpy(), rule="edge", max_snap_m=max_snap_m, edge=edge
    )
    if edge is None:
        return s
    length = graph.edge_length[s.edge]
    return dataclasses.replace(
        s,
        snap_m=snap_m,
        offset_u_m=snap_m + s.along_m,
        offset_v_m=snap_m + (length - s.along_m),
        reachable=snap_m <= max_snap_m,
    )


def _cohort_demand(result: AuditResult, cohort: str) -> tuple[np.ndarray, list[str]]:
    """The demand of a siting: the cohort's residents per row of the audit, and a note."""
    acc = result.access
    pop = acc["population"].to_numpy(float)
    if cohort == ALL:
        return pop, ["demand: every resident (the category serves all residents)"]
    info = result.standard.cohorts.get(cohort)
    name = info.name_en if info is not None else cohort
    col = columns.pop(cohort)
    if col not in acc.columns:
        return pop, [
            f"demand: the audit has no {col} column, so every resident is counted as "
            f"{name}; audit with age data (pop_ or share_ columns, or age bands)"
        ]
    note = f"demand: {name} ({col} of the audit's access table), not every resident"
    method = (result.service.cohorts if result.service is not None else {}).get(cohort, {})
    if method.get("method") == "none":
        note += f"; {method.get('text', 'no age data: every resident counted')}"
    return acc[col].to_numpy(float), [note]


def _pairs_to_existing(problem: SitingProblem, existing: gpd.GeoDataFrame) -> sp.csr_matrix:
    """Demand x ``existing`` walking metres within the threshold, the audit's rule."""
    result = problem.result
    if len(existing) == 0:
        return sp.csr_matrix((len(problem.demand), 0))
    graph = result.graph
    rule, max_snap_m = audit_snap(result)
    points = snap_facilities(
        graph, existing.to_crs(graph.crs).reset_index(drop=True), rule=rule, max_snap_m=max_snap_m
    )
    residents = resident_snap(result, rule=rule, max_snap_m=max_snap_m)
    return site_distances(
        graph,
        points.snapped,
        points.facility,
        residents,
        radius_m=problem.threshold_m,
        n_groups=len(existing),
    )


def _not_audited_notes(
    result: AuditResult, category: str, existing: gpd.GeoDataFrame, threshold_m: float
) -> list[str]:
    """What siting a category the audit did not cover means, in words."""
    if len(existing) == 0:
        notes = [
            f"greenfield: there is no existing {category} facility in the data, so "
            "every resident starts uncovered (distance unknown) and coverage before is 0"
        ]
    else:
        notes = [
            f"{category} was not audited; walking distances to its {len(existing)} "
            "existing facilities were computed here with the audit's access rule"
        ]
    if result.standard.category(category).mandatory:
        notes.append(
            f"{category} is a mandatory category: the completeness figures before "
            "and after count it, so they differ from the audit's"
        )
    reach = result.summary.units.catchment_m
    if reach is not None and threshold_m > float(reach) + 1e-6:
        notes.append(
            f"the analysed units were chosen for a {float(reach):.0f} m walk; the "
            f"{threshold_m:.0f} m threshold of {category} is longer, so near the edge "
            "of the street data facilities outside the data are missed"
        )
    return notes
