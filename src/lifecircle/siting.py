"""Site optimisation: where the next facilities of a category should go.

Three classic location models over a sparse candidate x resident coverage
matrix (same access convention as the audit, bounded Dijkstra per chunk of
candidates):

* **MCLP** (maximal covering, ``sites=N``): maximise newly covered residents.
* **LSCP** (set covering, ``target_coverage=X``): fewest sites so that a share X
  of all residents is covered.
* **p-median** (``objective="distance"``): minimise total walking distance to the
  nearest facility, existing or new (distances capped at the search cut-off).

Each is solved exactly by HiGHS (highspy), after exact reductions (residents no
candidate reaches dropped, dominated candidates dropped, residents with the same
candidates merged). A lazy-greedy solution is computed first, is passed to HiGHS as
its starting incumbent (never as a constraint, which stalls HiGHS's presolve) and is
the fallback. The time limit holds for
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

Here: :class:`SitingProblem` (built by :mod:`lifecircle._siting_build`, solved by the
models of :mod:`lifecircle._location_models`) and :func:`optimize`; the solution,
:class:`SitingSolution`, and its outputs are in :mod:`lifecircle._siting_solution`
and :mod:`lifecircle._siting_outputs`, re-exported here.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import cast

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import columns
from ._capacitated import CapacitatedCovering
from ._location_models import Covering, PMedian
from ._models_sites import drop_useless_sites
from ._siting_build import audit_existing, problem_fields
from ._siting_build import resident_snap as resident_snap  # re-exported
from ._siting_outputs import GAP_DEFINITION as GAP_DEFINITION  # re-exported
from ._siting_outputs import OUTPUT_FILES as OUTPUT_FILES  # re-exported
from ._siting_solution import SitingSolution as SitingSolution  # re-exported
from ._standard_cohorts import ALL
from .candidates import AUTO_CANDIDATES
from .coverage import coverage_by_unit
from .demand import capacity_assignment
from .errors import DataError
from .pipeline import AuditResult

log = logging.getLogger(__name__)

MODELS = ("mclp", "lscp", "pmedian")


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
        fields = problem_fields(
            result,
            category,
            candidates=candidates,
            n_candidates=n_candidates,
            min_spacing_m=min_spacing_m,
            objective=objective,
            seed=seed,
        )
        dist = fields["distance"]
        log.info(
            "%s; coverage matrix %d residents x %d candidates, %d pairs within %.0f m",
            fields["candidate_source"],
            dist.shape[0],
            dist.shape[1],
            dist.nnz,
            fields["radius_m"],
        )
        return cls(**fields)

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
        drop_useless_sites(self, outcome, model=model, requested=sites, capacity=capacity)
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
        return audit_existing(self)

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


# The former name of the solved siting, kept so that notebooks using it still run.
Siting = SitingSolution


def _frozen(values: np.ndarray) -> np.ndarray:
    """``values``, read-only (the arrays of a :class:`SitingSolution` do not change)."""
    values = np.asarray(values)
    values.setflags(write=False)
    return values


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
