"""Site optimisation: where the next facilities of a category should go.

Three classic location models over a sparse candidate x resident coverage
matrix (same access convention as the audit, bounded Dijkstra per chunk of
candidates):

* **MCLP** (maximal covering, ``sites=N``): maximise newly covered residents.
* **LSCP** (set covering, ``target_coverage=X``): fewest sites so that a share X
  of all residents is covered.
* **p-median** (``objective="distance"``): minimise total walking distance to the
  nearest facility, existing or new (distances capped at the search cut-off).

Each is solved exactly by HiGHS through :func:`scipy.optimize.milp`. A lazy-greedy
solution is computed first, enters the MILP as a bound on the objective (when it
is feasible for every constraint) and is the fallback. The time limit holds for
the whole :meth:`SitingProblem.solve`, wall clock: the MILP is built and solved in a child
process killed at the deadline (see :mod:`lifecircle._location_models`). Every
reported gap is measured against a bound known to be valid, or is ``None``.
Residents already covered by existing facilities are not counted again.
Any category of the standard can be sited, also one the audit did not cover
(e.g. no facility of it in the data: every resident starts uncovered).
Options: a capacity per site and a fairness floor per finest governance unit.

**Demand** is the category's cohort, as in the audit (kindergarten: children aged
3-5, the ``pop_<cohort>`` column of the audit's access table; every resident for a
category that serves everyone, or when the audit has no such column).
**With a capacity** the model is the audit's capacity model
(:mod:`lifecircle._capacitated`): existing facilities keep the capacities the audit
gave them, every new site has ``capacity`` places, and residents are assigned
exactly, with reassignment; "before" is the audit's ``placed`` total. Without a
capacity, existing facilities are unlimited and residents are covered by distance.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import columns
from ._capacitated import CapacitatedCovering
from ._location_models import (
    GREEDY_FACTOR,
    Covering,
    ModelOutcome,
    PMedian,
    nearest_selected,
    rank_sites,
    relative_gap,
    served_per_site,
)
from ._standard_cohorts import ALL
from .access import access_distance, search_cutoff_m, site_distances, snap_facilities
from .candidates import AUTO_CANDIDATES, candidates_auto, candidates_from_file
from .coverage import citywide, coverage_by_unit, rollup_sums
from .demand import capacity_assignment
from .errors import DataError
from .io.outputs import check_not_inputs, write_atomic, write_geopackage, write_json
from .pipeline import AuditResult
from .service import category_capacity, facility_capacity
from .settings import MAX_SNAP_M, REACH_RTOL
from .snap import Snapped, check_rule, snap_points

log = logging.getLogger(__name__)

MODELS = ("mclp", "lscp", "pmedian")
#: The files :meth:`SitingSolution.write` writes, in order (``optimize.json`` last).
OUTPUT_FILES = ("proposals.geojson", "units_after.gpkg", "optimize.json")
#: How ``mip_gap`` is defined (also written into ``optimize.json``).
GAP_DEFINITION = "|bound - objective| / max(|bound|, |objective|)"


@dataclass(frozen=True, eq=False)
class SitingProblem:
    """A siting problem for one category: demand, candidates and their distances.

    Build it with :meth:`from_audit`; :meth:`solve` returns a frozen
    :class:`SitingSolution` and leaves the problem unchanged, so one problem can
    be solved many times with different options.

    Attributes
    ----------
    result
        The audit the problem was built from.
    category
        Category id.
    threshold_m
        Walking distance of the category's threshold at the audit's speed.
    demand
        Residents of the analysed units: ``origin_id``, ``population``,
        ``need`` (the category's cohort, the demand of the models),
        ``unit_id``, ``node``, ``snap_m``, ``dist_m`` (to the nearest existing
        facility, NaN beyond the cut-off) and ``covered`` (before).
    candidates
        Candidate sites (graph CRS).
    distance
        Sparse demand x candidate walking distances within ``radius_m``.
    radius_m
        Search radius of ``distance``: the threshold, or the search cut-off
        (the audit's, or the category's threshold if longer) for the p-median.
    candidate_source
        Where the candidates came from, in words.
    objective_kind
        The objective the problem was built for (``"coverage"`` or ``"distance"``).
    problem_notes
        What building the problem found out; the notes of a solve are in
        :attr:`SitingSolution.notes`.
    candidates_path
        The candidates file, if the candidates came from one (an input:
        :meth:`SitingSolution.write` never overwrites it).
    cohort
        The cohort the category serves (``all``: every resident).
    existing_distance, existing_capacity
        Demand x existing facilities of the category (walking metres, pairs within
        the threshold at least) and their capacities (``inf``: unlimited), for the
        capacity model; ``None``: the audit's (:meth:`existing_pairs`).
    """

    result: AuditResult
    category: str
    threshold_m: float
    demand: pd.DataFrame
    candidates: gpd.GeoDataFrame
    distance: sp.csr_matrix
    radius_m: float
    candidate_source: str
    objective_kind: str = "coverage"
    problem_notes: tuple[str, ...] = ()
    candidates_path: Path | None = None
    cohort: str = ALL
    existing_distance: sp.csr_matrix | None = None
    existing_capacity: np.ndarray | None = None

    # ------------------------------------------------------------------ build

    @classmethod
    def from_audit(
        cls,
        result: AuditResult,
        category: str,
        *,
        candidates: str | Path | gpd.GeoDataFrame = "auto",
        n_candidates: int = AUTO_CANDIDATES,
        min_spacing_m: float = 0.0,
        objective: str = "coverage",
        seed: int = 0,
    ) -> SitingProblem:
        """Build the siting problem for ``category`` from an audit.

        Parameters
        ----------
        result
            A finished audit.
        category
            The category to site: any category of the standard. One the audit did
            not cover gets its distances here from the existing facilities of
            the category in ``result.facilities`` (all NaN when there is none:
            greenfield), with the audit's access rule, snap limit and profile.
            Candidates, existing facilities and residents are all snapped with the
            audit's snap rule (``result.summary.settings.snap``) and ``max_snap_m``;
            residents beyond ``max_snap_m`` are never covered by a new site.
        candidates
            ``"auto"``, a file of points/parcels, or a GeoDataFrame.
        n_candidates
            Number of ``auto`` candidates (clusters of uncovered residents).
        min_spacing_m
            ``auto`` candidates keep at least this distance from existing facilities.
        objective
            ``"coverage"`` (MCLP/LSCP) or ``"distance"`` (p-median).
        seed
            Seed of the candidate clustering.
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
        settings = result.summary.settings
        max_snap_m = float(settings.max_snap_m if settings.max_snap_m is not None else MAX_SNAP_M)
        acc = result.access
        rule = check_rule(settings.snap or ("edge" if "edge" in acc.columns else "node"))
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

        candidates_path = None
        if isinstance(candidates, str) and candidates == "auto":
            uncovered = acc.loc[~demand["covered"].to_numpy()]
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
                "a GeoDataFrame"
                if isinstance(candidates, gpd.GeoDataFrame)
                else Path(candidates).name
            )
            source = f"file: {len(cand)} sites from {origin}"
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
        log.info(
            "%s; coverage matrix %d residents x %d candidates, %d pairs within %.0f m",
            source,
            dist.shape[0],
            dist.shape[1],
            dist.nnz,
            radius_m,
        )
        return cls(
            result=result,
            category=category,
            threshold_m=threshold_m,
            demand=demand,
            candidates=cand,
            distance=dist,
            radius_m=radius_m,
            candidate_source=source,
            objective_kind=objective,
            problem_notes=tuple(notes),
            candidates_path=candidates_path,
            cohort=cohort,
        )

    # ------------------------------------------------------------------ solve

    def solve(
        self,
        *,
        sites: int | None = None,
        target_coverage: float | None = None,
        objective: str | None = None,
        capacity: float | None = None,
        min_unit_coverage: float | None = None,
        time_limit_s: float = 60.0,
        mip_rel_gap: float = 1e-4,
    ) -> SitingSolution:
        """Choose sites; returns the solution (``selected``, ``status``, ``mip_gap`` ...).

        Parameters
        ----------
        sites
            Number of new sites (MCLP, p-median).
        target_coverage
            Share of all residents to cover (LSCP: fewest sites).
        objective
            ``"coverage"`` or ``"distance"`` (p-median; needs ``sites``); default:
            the one the problem was built for. Coverage models count only
            residents within the threshold; the p-median caps distances at
            ``radius_m``.
        capacity
            Places of each new site (coverage models): the audit's capacity
            model, with the existing facilities at the capacities the audit used
            and residents of the cohort assigned exactly (see the module
            docstring); the objective is then the cohort residents newly placed.
        min_unit_coverage
            Every finest unit should reach this coverage share; units that
            cannot even with every candidate are reported and left out.
        time_limit_s
            Wall-clock limit of the whole solve, from this call: model building,
            greedy, HiGHS (presolve included) and the answer. The MILP runs in a
            child process killed at the deadline; the greedy solution is then
            used, with its bound. The greedy itself always runs to the end, and
            the solution's bookkeeping after the deadline adds a little (see
            ``timings_s``).
        mip_rel_gap
            Relative gap at which HiGHS stops and reports optimal.

        Returns
        -------
        SitingSolution
            The solution; the problem itself is unchanged.
        """
        t0 = time.monotonic()
        deadline = t0 + time_limit_s
        objective = objective or self.objective_kind
        notes = self._check_request(
            sites=sites,
            target=target_coverage,
            objective=objective,
            capacity=capacity,
            floor=min_unit_coverage,
            time_limit_s=time_limit_s,
        )
        options = {
            "sites": sites,
            "target_coverage": target_coverage,
            "objective": objective,
            "capacity": capacity,
            "min_unit_coverage": min_unit_coverage,
            "time_limit_s": time_limit_s,
        }
        problem: PMedian | Covering | CapacitatedCovering
        if objective == "distance":
            model = "pmedian"
            problem = PMedian(self, cast(int, sites))  # _check_request: sites given
        else:
            model = "mclp" if sites is not None else "lscp"
            if capacity is not None:
                problem = CapacitatedCovering(
                    self,
                    sites=sites,
                    target_coverage=target_coverage,
                    capacity=capacity,
                    min_unit_coverage=min_unit_coverage,
                )
            else:
                problem = Covering(
                    self,
                    sites=sites,
                    target_coverage=target_coverage,
                    min_unit_coverage=min_unit_coverage,
                )
        outcome = problem.solve(
            deadline=deadline, time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap
        )
        outcome.notes[:0] = notes
        self._drop_useless_sites(outcome, model=model, requested=sites, capacity=capacity)
        end = time.monotonic()
        runtime_s = round(end - t0, 3)
        solver_s = float(outcome.solver_info.get("seconds", 0.0))
        timings_s = {
            "total": runtime_s,
            "solver": round(solver_s, 3),
            "other": round(end - t0 - solver_s, 3),
            "past_time_limit": round(max(0.0, end - deadline), 3),
        }
        return SitingSolution(
            problem=self,
            model=model,
            options=MappingProxyType(options),
            status=outcome.status,
            objective=outcome.objective,
            bound=outcome.bound,
            bound_source=outcome.bound_source,
            mip_gap=outcome.mip_gap,
            greedy_objective=outcome.greedy_objective,
            selected=_frozen(outcome.selected),
            newly=_frozen(outcome.newly),
            served_by=_frozen(outcome.served_by),
            site_served=_frozen(outcome.site_served),
            ranking=_frozen(outcome.ranking),
            marginal=_frozen(outcome.marginal),
            served_before=None if outcome.served_before is None else _frozen(outcome.served_before),
            served_after=None if outcome.served_after is None else _frozen(outcome.served_after),
            capacity_figures=MappingProxyType(dict(outcome.capacity_figures)),
            notes=tuple(outcome.notes),
            solver_info=MappingProxyType(dict(outcome.solver_info)),
            timings_s=MappingProxyType(timings_s),
            runtime_s=runtime_s,
        )

    def _drop_useless_sites(
        self, o: ModelOutcome, *, model: str, requested: int | None, capacity: float | None
    ) -> None:
        """Remove selected sites that add nothing (the solver may leave them open).

        The capacity model drops its own (exactly, by the served total).
        """
        if capacity is not None:
            return
        order, gains = rank_sites(self, o, model=model, capacity=capacity)
        useless = order[gains <= 1e-9]
        if len(useless) == 0:
            return
        keep = np.ones(len(o.selected), bool)
        keep[useless] = False
        o.selected = o.selected[keep]
        mask = (o.newly > 1e-12) if model != "pmedian" else o.served_by >= 0
        o.served_by = nearest_selected(self.distance, o.selected, mask)
        o.site_served = served_per_site(self, o, all_residents=model == "pmedian")
        o.notes.append(
            f"{len(useless)} of the {requested or len(keep)} sites would add "
            "nothing and are not proposed"
        )
        if model == "lscp":  # the objective is the number of sites
            o.objective = float(len(o.selected))
            o.mip_gap = relative_gap(o.objective, o.bound)

    def _check_request(
        self,
        *,
        sites: int | None,
        target: float | None,
        objective: str,
        capacity: float | None,
        floor: float | None,
        time_limit_s: float,
    ) -> list[str]:
        """Refuse a bad request; return the notes it calls for."""
        notes: list[str] = []
        if objective == "distance" and (capacity is not None or floor is not None):
            msg = (
                "--capacity and --min-unit-coverage apply to the coverage models (MCLP, "
                "set covering), not to --objective distance (p-median)"
            )
            raise DataError(msg)
        if (sites is None) == (target is None):
            msg = "give exactly one of --sites N or --target-coverage X"
            raise DataError(msg)
        if sites is not None and sites <= 0:
            msg = f"--sites must be a positive number of new sites, got {sites}"
            raise DataError(msg)
        if sites is not None and sites > len(self.candidates):
            notes.append(
                f"asked for {sites} sites but only {len(self.candidates)} "
                "candidates exist; all may be used"
            )
        if target is not None and not 0 < target <= 1:
            msg = f"--target-coverage must be a share in (0, 1], got {target}"
            raise DataError(msg)
        if objective == "distance" and sites is None:
            msg = "--objective distance (p-median) needs --sites N"
            raise DataError(msg)
        if capacity is not None and capacity <= 0:
            msg = f"--capacity must be positive, got {capacity}"
            raise DataError(msg)
        if not time_limit_s > 0:
            msg = f"--time-limit must be a positive number of seconds, got {time_limit_s}"
            raise DataError(msg)
        if floor is not None and not 0 < floor <= 1:
            msg = f"--min-unit-coverage must be a share in (0, 1], got {floor}"
            raise DataError(msg)
        return notes

    # ------------------------------------------------------------------ results

    @property
    def population(self) -> float:
        """Residents of the analysed units."""
        return float(self.demand["population"].sum())

    @property
    def weights(self) -> np.ndarray:
        """Demand per resident: the category's cohort (``need``; else every resident)."""
        col = "need" if "need" in self.demand.columns else "population"
        return self.demand[col].to_numpy(float)

    @property
    def demand_total(self) -> float:
        """Residents of the category's cohort in the analysed units."""
        return float(self.weights.sum())

    @property
    def cohort_name(self) -> str:
        """The cohort's name in English (e.g. ``children aged 3-5``)."""
        cohort = self.result.standard.cohorts.get(self.cohort)
        return cohort.name_en if cohort is not None else "residents"

    @property
    def covered_before(self) -> float:
        """Residents of the cohort within the threshold of an existing facility."""
        return float(self.weights[self.demand["covered"].to_numpy(bool)].sum())

    def existing_pairs(self) -> tuple[sp.csr_matrix, np.ndarray]:
        """Demand x existing facilities of the category, and their capacities.

        ``existing_distance``/``existing_capacity`` when given; else the audit's:
        its sparse distances (``result.service.distances``; computed here with
        the audit's access rule for a category it did not audit) and the
        capacities it used (``result.facilities["capacity"]``, NaN = unlimited,
        completed by the audit's rule for a partly known category).

        Returns
        -------
        tuple
            ``(distance, capacity)``: a CSR matrix (rows of :attr:`demand`,
            columns: the category's facilities in ``result.facilities`` order) and
            one capacity per column (``inf``: unlimited).
        """
        if self.existing_distance is not None:
            dist = sp.csr_matrix(self.existing_distance)
            cap = self.existing_capacity
            return dist, np.full(dist.shape[1], np.inf) if cap is None else np.asarray(cap, float)
        return self._audit_existing

    @functools.cached_property
    def _audit_existing(self) -> tuple[sp.csr_matrix, np.ndarray]:
        r = self.result
        fac = r.facilities
        rows = np.flatnonzero(fac["category"].astype(str).to_numpy() == self.category)
        if "capacity" in fac.columns:
            cap = pd.to_numeric(fac["capacity"].iloc[rows], errors="coerce").to_numpy(float)
        else:
            cap = facility_capacity(fac.iloc[rows], r.standard)[0]
        cap = np.where(np.isfinite(cap) & (cap >= 0), cap, np.inf)
        cap, _ = category_capacity(cap)  # the audit's rule where only some are known
        service = r.service
        dist = None if service is None else service.distances.get(self.category)
        if dist is None or dist.shape != (len(self.demand), len(rows)):
            dist = _pairs_to_existing(self, fac.iloc[rows])
        return sp.csr_matrix(dist), cap

    def served_before(self) -> np.ndarray:
        """Per resident, cohort residents given a place by the existing facilities.

        The audit's capacity-constrained assignment (``placed_<cat>`` x cohort) when
        the audit computed it for these residents; else the same assignment
        (:func:`lifecircle.demand.capacity_assignment`) on :meth:`existing_pairs`.
        """
        acc = self.result.access
        col = columns.placed(self.category)
        if self.existing_distance is None and col in acc.columns and len(acc) == len(self.demand):
            return acc[col].to_numpy(float) * self.weights
        dist, cap = self.existing_pairs()
        if dist.shape[1] == 0:
            return np.zeros(len(self.demand))
        return capacity_assignment(dist, self.weights, cap, self.threshold_m).served

    @property
    def categories(self) -> list[str]:
        """Categories compared before and after: the audit's, plus this one if new."""
        audited = list(self.result.summary.categories_audited)
        return audited if self.category in audited else [*audited, self.category]

    @property
    def inputs(self) -> list[Path]:
        """Input files of the audit and of the siting (candidates file): never outputs."""
        extra = [self.candidates_path] if self.candidates_path is not None else []
        return [*self.result.inputs, *extra]

    def access_before(self) -> pd.DataFrame:
        """The audit's access table (no geometry) with this category's columns.

        For a category the audit did not cover, ``dist_<cat>_m`` and
        ``time_<cat>_min`` are added (NaN for a greenfield category).
        """
        acc = pd.DataFrame(self.result.access.drop(columns="geometry"))
        if f"time_{self.category}_min" not in acc.columns:
            dist = self.demand["dist_m"].to_numpy()
            acc[f"dist_{self.category}_m"] = dist
            speed = self.result.profile_of(self.category).speed_m_min
            acc[f"time_{self.category}_min"] = dist / speed
        return acc

    def units_before(
        self, access_before: pd.DataFrame | None = None
    ) -> dict[str, gpd.GeoDataFrame]:
        """Coverage per unit and level before the new sites, on :attr:`categories`."""
        acc = self.access_before() if access_before is None else access_before
        r = self.result
        return coverage_by_unit(acc, r.hierarchy, r.standard, self.categories, analysed=r.analysed)

    def new_distance(self, selected: np.ndarray) -> np.ndarray:
        """Distance from each resident to its nearest site of ``selected`` (inf if none).

        Parameters
        ----------
        selected
            Column indices of :attr:`distance` (candidates).

        Returns
        -------
        numpy.ndarray
            One distance per row of :attr:`demand`.
        """
        if len(selected) == 0:
            return np.full(len(self.demand), np.inf)
        sub = self.distance[:, selected].tocsr()
        dense_min = np.full(len(self.demand), np.inf)
        rows = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
        np.fmin.at(dense_min, rows, sub.data)
        return dense_min


@dataclass(frozen=True, eq=False)
class SitingSolution:
    """A solved siting: what :meth:`SitingProblem.solve` returns (immutable).

    The problem's attributes (``result``, ``category``, ``demand``,
    ``candidates``, ``distance``, ...) are readable here too.

    Attributes
    ----------
    problem
        The problem solved.
    model
        ``mclp``, ``lscp`` or ``pmedian``.
    options
        The options of the solve (``sites``, ``target_coverage``, ``objective``,
        ``capacity``, ``min_unit_coverage``, ``time_limit_s``).
    status, objective, bound, mip_gap
        ``optimal``, ``time_limit`` (HiGHS's solution, not proven optimal) or
        ``greedy`` (the lazy-greedy fallback); the objective; the best valid
        bound on the optimum (None if none is known) and ``bound_source``;
        ``mip_gap`` = :data:`GAP_DEFINITION`.
    greedy_objective
        The lazy greedy's objective.
    selected
        Selected candidates (column indices of ``distance``), sorted.
    newly
        Per resident, the share newly covered (within the threshold) by the
        selected sites.
    served_by
        Per resident, the selected candidate serving it (-1: none).
    site_served
        Per selected site, the residents of the cohort it serves (with a
        capacity: its load in the audit's assignment after the new sites).
    ranking, marginal
        With a capacity: the proposal order (positions into ``selected``) and
        each site's exact gain in cohort residents placed, in that order.
    served_before, served_after
        With a capacity: cohort residents placed per resident by the audit's
        assignment before and after the new sites (else None).
    capacity_figures
        With a capacity: ``placed_before``, ``placed_after``, their shares of the
        cohort and the assignment's solver status.
    notes
        What the solve found out (the problem's own are in ``problem_notes``).
    solver_info, timings_s, runtime_s
        HiGHS's run, the time spent per phase and in all.
    """

    problem: SitingProblem
    model: str
    options: Mapping[str, Any]
    status: str
    objective: float | None
    bound: float | None
    bound_source: str | None
    mip_gap: float | None
    greedy_objective: float | None
    selected: np.ndarray
    newly: np.ndarray
    served_by: np.ndarray
    site_served: np.ndarray
    notes: tuple[str, ...]
    solver_info: Mapping[str, Any]
    timings_s: Mapping[str, float]
    runtime_s: float
    ranking: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.int64))
    marginal: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))
    served_before: np.ndarray | None = None
    served_after: np.ndarray | None = None
    capacity_figures: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )

    # ------------------------------------------------------------------ the problem's

    @property
    def result(self) -> AuditResult:
        """The audit the problem was built from."""
        return self.problem.result

    @property
    def category(self) -> str:
        """Category id."""
        return self.problem.category

    @property
    def threshold_m(self) -> float:
        """Walking distance of the category's threshold."""
        return self.problem.threshold_m

    @property
    def demand(self) -> pd.DataFrame:
        """The problem's residents (see :class:`SitingProblem`)."""
        return self.problem.demand

    @property
    def candidates(self) -> gpd.GeoDataFrame:
        """Candidate sites (graph CRS)."""
        return self.problem.candidates

    @property
    def distance(self) -> sp.csr_matrix:
        """Sparse demand x candidate walking distances within ``radius_m``."""
        return self.problem.distance

    @property
    def radius_m(self) -> float:
        """Search radius of ``distance``."""
        return self.problem.radius_m

    @property
    def candidate_source(self) -> str:
        """Where the candidates came from, in words."""
        return self.problem.candidate_source

    @property
    def objective_kind(self) -> str:
        """The objective the problem was built for."""
        return self.problem.objective_kind

    @property
    def problem_notes(self) -> tuple[str, ...]:
        """What building the problem found out."""
        return self.problem.problem_notes

    @property
    def candidates_path(self) -> Path | None:
        """The candidates file, if any."""
        return self.problem.candidates_path

    @property
    def population(self) -> float:
        """Residents of the analysed units."""
        return self.problem.population

    @property
    def covered_before(self) -> float:
        """Residents covered by existing facilities."""
        return self.problem.covered_before

    @property
    def categories(self) -> list[str]:
        """Categories compared before and after."""
        return self.problem.categories

    @property
    def inputs(self) -> list[Path]:
        """Input files of the audit and of the siting: never outputs."""
        return self.problem.inputs

    def access_before(self) -> pd.DataFrame:
        """The access table before the new sites (:meth:`SitingProblem.access_before`)."""
        return self.problem.access_before()

    def units_before(
        self, access_before: pd.DataFrame | None = None
    ) -> dict[str, gpd.GeoDataFrame]:
        """Coverage per unit and level before the new sites (:meth:`SitingProblem.units_before`)."""
        return self.problem.units_before(access_before)

    # ------------------------------------------------------------------ results

    def access_after(self) -> pd.DataFrame:
        """The access table (:meth:`access_before`) after the new sites.

        Residents newly covered get the walking distance and time to their new
        site; a resident only partly served (capacity) is split into a served and
        an unserved row, population shared accordingly.
        """
        acc = self.access_before()
        dcol, tcol = f"dist_{self.category}_m", f"time_{self.category}_min"
        speed = self.result.profile_of(self.category).speed_m_min
        frac = self.newly
        new_dist = self.problem.new_distance(self.selected)
        full = acc.copy()
        take = frac > 1e-12
        full.loc[take, dcol] = np.fmin(full.loc[take, dcol].to_numpy(), new_dist[take])
        full.loc[take, tcol] = full.loc[take, dcol].to_numpy() / speed
        full["population"] = acc["population"].to_numpy() * np.where(take, frac, 1.0)
        part = take & (frac < 1 - 1e-12)
        rest = acc.loc[part].copy()
        rest["population"] = rest["population"].to_numpy() * (1 - frac[part])
        return pd.concat([full, rest], ignore_index=True)

    def proposals(self) -> gpd.GeoDataFrame:
        """Selected sites, ranked by marginal gain (EPSG:4326).

        ``marginal_newly_covered`` (cohort residents; with a capacity: newly
        placed, exactly, in rank order) or ``marginal_distance_saved_m``;
        ``residents_served`` (cohort residents the site serves); ``capacity``
        (the ``--capacity``, NaN without), which a re-audit with this file as an
        extra ``--facilities`` reads, so that it uses the same capacities.
        """
        capacity = self.options.get("capacity")
        order, marginal = rank_sites(self.problem, self, model=self.model, capacity=capacity)
        sel = self.selected[order]
        served = self.site_served[order]
        cand = self.candidates.iloc[sel]
        out = gpd.GeoDataFrame(
            {
                "site_id": [f"{self.category}-{i + 1}" for i in range(len(sel))],
                "category": self.category,
                "rank": np.arange(1, len(sel) + 1),
                "candidate_id": cand["candidate_id"].to_numpy(),
                (
                    "marginal_distance_saved_m"
                    if self.model == "pmedian"
                    else "marginal_newly_covered"
                ): np.round(marginal, 1),
                "residents_served": np.minimum(np.round(served, 1), capacity or np.inf),
                "capacity": np.full(len(sel), np.nan if capacity is None else float(capacity)),
            },
            geometry=cand.geometry.to_numpy(),
            crs=self.candidates.crs,
        )
        return out.to_crs("EPSG:4326")

    def summary(self) -> dict[str, Any]:
        """The content of ``optimize.json``.

        Before and after are computed on the same categories (:attr:`categories`)
        from :meth:`access_before` and :meth:`access_after`. ``notes`` holds what
        building and solving the problem found out; ``audit_warnings`` the
        audit's warnings.
        """
        std = self.result.standard
        cats = self.categories
        acc_before, acc_after = self.access_before(), self.access_after()
        before = citywide(acc_before, std, cats)
        after = citywide(acc_after, std, cats)
        newly = float((self.demand["population"].to_numpy() * self.newly).sum())
        units_before = self.units_before(acc_before)
        units_after = self.units_after(acc_after)
        cov = f"cov_{self.category}"
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
            "category": self.category,
            "category_audited": self.category in self.result.summary.categories_audited,
            "cohort": self.problem.cohort,
            "cohort_name": self.problem.cohort_name,
            "demand": round(self.problem.demand_total, 1),
            "model": self.model,
            "objective": self.options.get("objective"),
            "sites": len(self.selected),
            "sites_requested": self.options.get("sites"),
            "target_coverage": self.options.get("target_coverage"),
            "capacity": self.options.get("capacity"),
            "min_unit_coverage": self.options.get("min_unit_coverage"),
            "threshold_min": std.category(self.category).threshold_min,
            "threshold_m": round(self.threshold_m, 1),
            "candidates": len(self.candidates),
            "candidate_source": self.candidate_source,
            "population": round(self.population, 1),
            "newly_covered_population": round(newly, 1),
            "newly_covered_cohort": round(float((self.problem.weights * self.newly).sum()), 1),
            "coverage_before": _r(before["coverage"][self.category]),
            "coverage_after": _r(after["coverage"][self.category]),
            "complete_share_before": _r(before["complete_share"]),
            "complete_share_after": _r(after["complete_share"]),
            "categories_compared": cats,
            "status": self.status,
            "mip_gap": self.mip_gap,
            "gap_definition": GAP_DEFINITION,
            "objective_value": self.objective,
            "bound": self.bound,
            "bound_source": self.bound_source,
            "greedy_objective": self.greedy_objective,
            "greedy_guarantee": (
                round(GREEDY_FACTOR, 6)
                if self.model == "pmedian"
                or (self.model == "mclp" and self.options.get("capacity") is None)
                else None
            ),
            "time_limit_s": self.options.get("time_limit_s"),
            "runtime_s": self.runtime_s,
            "timings_s": dict(self.timings_s),
            "solver": "HiGHS via scipy.optimize.milp",
            "solver_run": dict(self.solver_info),
            "notes": [*self.problem_notes, *self.notes],
            "audit_warnings": list(self.result.summary.warnings),
            "inputs": [str(p) for p in self.inputs],
            "units": per_unit,
        }
        if self.served_after is not None:
            out["capacity_model"] = {
                **self.capacity_figures,
                "newly_placed": round(
                    self.capacity_figures["placed_after"] - self.capacity_figures["placed_before"],
                    3,
                ),
                "existing_facilities": int(self.problem.existing_pairs()[0].shape[1]),
                "existing_capacity": _capacity_text(self.problem.existing_pairs()[1]),
            }
            self._placed_by_unit(per_unit)
        if self.model == "pmedian":
            d0 = np.nan_to_num(self.demand["dist_m"].to_numpy(), nan=self.radius_m)
            d1 = np.fmin(d0, np.minimum(self.problem.new_distance(self.selected), self.radius_m))
            w = self.problem.weights
            out["mean_distance_before_m"] = round(float((w * d0).sum() / w.sum()), 1)
            out["mean_distance_after_m"] = round(float((w * d1).sum() / w.sum()), 1)
            out["distance_cap_m"] = round(self.radius_m, 1)
        return out

    def placed_by_unit(self) -> dict[str, pd.DataFrame]:
        """With a capacity: cohort placed share per unit and level, before and after.

        Returns
        -------
        dict of pandas.DataFrame
            Per level, indexed by ``unit_id``: ``placed_share_before``,
            ``placed_share_after`` (NaN where the unit has no cohort resident);
            empty without a capacity.
        """
        if self.served_after is None or self.served_before is None:
            return {}
        r = self.result
        values = pd.DataFrame(
            {"need": self.problem.weights, "before": self.served_before, "after": self.served_after}
        )
        sums = rollup_sums(values, self.demand["unit_id"].to_numpy(), r.hierarchy, r.analysed)
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

    def _placed_by_unit(self, per_unit: list[dict[str, Any]]) -> None:
        placed = self.placed_by_unit()
        for row in per_unit:
            table = placed[row["level"]]
            row["placed_share_before"] = _r(table.loc[row["unit_id"], "placed_share_before"])
            row["placed_share_after"] = _r(table.loc[row["unit_id"], "placed_share_after"])

    def units_after(self, access_after: pd.DataFrame | None = None) -> dict[str, gpd.GeoDataFrame]:
        """Coverage per unit and level after the new sites, on :attr:`categories`."""
        acc = self.access_after() if access_after is None else access_after
        r = self.result
        return coverage_by_unit(acc, r.hierarchy, r.standard, self.categories, analysed=r.analysed)

    def outputs(self) -> dict[str, Callable[[Path], object]]:
        """The files the siting writes: name -> function writing that file to a path.

        ``proposals.geojson``, ``units_after.gpkg`` and ``optimize.json`` (see
        :data:`OUTPUT_FILES`), each written atomically by the writers of
        :mod:`lifecircle.io.outputs`; a publisher may stage them with the
        audit's files. None of them may be one of :attr:`inputs`.
        """
        return {
            "proposals.geojson": lambda path: write_atomic(
                Path(path), lambda tmp: self.proposals().to_file(tmp, driver="GeoJSON")
            ),
            "units_after.gpkg": lambda path: write_geopackage(Path(path), self.units_after()),
            "optimize.json": lambda path: write_json(Path(path), self.summary()),
        }

    def write(self, out: str | Path) -> list[Path]:
        """Write ``proposals.geojson``, ``units_after.gpkg`` and ``optimize.json`` into ``out``.

        Parameters
        ----------
        out
            The output folder (created if missing).

        Returns
        -------
        list of pathlib.Path
            The files written.

        Raises
        ------
        lifecircle.errors.InputFileError
            Before anything is written, if a file to write is one of the
            inputs (e.g. ``--candidates OUT/proposals.geojson --out OUT``).
        """
        out = Path(out)
        writers = self.outputs()
        targets = [out / name for name in writers]
        check_not_inputs(targets, self.inputs)
        out.mkdir(parents=True, exist_ok=True)
        for target, write in zip(targets, writers.values(), strict=True):
            write(target)
        return targets

    def to_map(
        self, path: str | Path = "map.html", *, lang: str = "en", basemap: str = "osm"
    ) -> Path:
        """Write the audit's map with the proposed sites (``map.html``).

        See :func:`lifecircle.render.map.render_map`: a "Proposed sites" layer
        with each site's walking catchment, and a before / after toggle of the
        category's coverage.
        """
        from .render.map import render_map

        return render_map(self.result, Path(path), lang=lang, basemap=basemap, siting=self)

    def to_report(self, path: str | Path = "report.html", *, lang: str = "en") -> Path:
        """Write the audit's report with a "Proposed sites" section (``report.html``)."""
        from .render.report import render_report

        return render_report(self.result, Path(path), lang=lang, siting=self)


# The former name of the solved siting, kept so that notebooks using it still run.
Siting = SitingSolution


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
        node = acc["node"].to_numpy(np.int64)
        return Snapped(
            "node",
            snap_m,
            np.full(len(acc), -1, np.int64),
            node,
            node,
            snap_m,
            snap_m.copy(),
            np.zeros(len(acc)),
            graph.x[node],
            graph.y[node],
            snap_m <= max_snap_m,
        )
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
    settings = result.summary.settings
    max_snap_m = float(settings.max_snap_m if settings.max_snap_m is not None else MAX_SNAP_M)
    rule = check_rule(settings.snap or ("edge" if "edge" in result.access.columns else "node"))
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


def _frozen(values: np.ndarray) -> np.ndarray:
    """``values``, read-only (the arrays of a :class:`SitingSolution` do not change)."""
    values = np.asarray(values)
    values.setflags(write=False)
    return values


def _r(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 6)


def optimize(
    result: AuditResult,
    category: str,
    *,
    sites: int | None = None,
    target_coverage: float | None = None,
    objective: str = "coverage",
    candidates: str | Path | gpd.GeoDataFrame = "auto",
    n_candidates: int = AUTO_CANDIDATES,
    min_spacing_m: float = 0.0,
    capacity: float | None = None,
    min_unit_coverage: float | None = None,
    time_limit_s: float = 60.0,
    seed: int = 0,
) -> SitingSolution:
    """Propose new sites for ``category`` after an audit.

    Parameters
    ----------
    result
        A finished audit (:func:`lifecircle.audit`).
    category
        Category id, e.g. ``"kindergarten"``: any category of the standard, also
        one the audit did not cover (greenfield when the data has none of it).
    sites
        Number of new sites (MCLP, or p-median with ``objective="distance"``).
    target_coverage
        Share of residents to cover with the fewest sites (LSCP).
    objective
        ``"coverage"`` or ``"distance"``.
    candidates
        ``"auto"``, a file of points/parcels, or a GeoDataFrame.
    n_candidates
        Number of ``auto`` candidates.
    min_spacing_m
        ``auto`` candidates keep this distance from existing facilities.
    capacity
        Residents one new site can serve.
    min_unit_coverage
        Coverage floor for every finest governance unit.
    time_limit_s
        Wall-clock limit of the whole solve (greedy, model building, HiGHS);
        see :meth:`SitingProblem.solve`.
    seed
        Seed for ``auto`` candidates.

    Returns
    -------
    SitingSolution
        Solved; ``.proposals()``, ``.summary()``, ``.write(folder)``.

    Examples
    --------
    >>> import lifecircle
    >>> result = lifecircle.audit()                                   # doctest: +SKIP
    >>> siting = lifecircle.optimize(result, "kindergarten", sites=10)  # doctest: +SKIP
    >>> siting.summary()["coverage_after"]                            # doctest: +SKIP
    """
    problem = SitingProblem.from_audit(
        result,
        category,
        candidates=candidates,
        n_candidates=n_candidates,
        min_spacing_m=min_spacing_m,
        objective=objective,
        seed=seed,
    )
    return problem.solve(
        sites=sites,
        target_coverage=target_coverage,
        objective=objective,
        capacity=capacity,
        min_unit_coverage=min_unit_coverage,
        time_limit_s=time_limit_s,
    )
