"""Siting for the complete life circle: several categories at once, or shared complexes.

A resident's life circle is *complete* (for the listed categories) when they reach
every listed category within its own threshold, at an existing facility or a new
site. :class:`CompleteSitingProblem` chooses new sites, each hosting one or more
of the categories (or, with ``complex=True``, all of them: a shared community
service complex, 综合服务体), so that the demand made complete is largest, or
spread most evenly over the finest governance units (objectives ``maxmin`` and
``fair``); the models are in :mod:`lifecircle._complete_models`.

One candidate set serves every category: ``auto`` candidates are the k-means
clusters of :func:`lifecircle.candidates.candidates_auto` over the residents missing
at least one listed category, or a file. Each category's reach matrix and its
existing coverage come from :meth:`lifecircle.siting.SitingProblem.from_audit` on
that same candidate GeoDataFrame (the audit's snap rule, snap limit, walking
profile and threshold of the category), so every category sees the same sites
snapped the same way. Demand is the population, or a cohort (``pop_<cohort>``).

:meth:`CompleteSitingProblem.solve` also compares the solution with the same budget
spent as today: the best single-category MCLP per category
(:meth:`SitingProblem.solve`), evaluated for completeness; and, for complexes, with
the joint model on separate sites (``sites`` facilities per category).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _complete_build as cb
from . import _complete_models as cm
from ._complete_milp import solve_model
from ._complete_solution import OUTPUT_FILES as OUTPUT_FILES  # re-exported
from ._complete_solution import CompleteSitingSolution as CompleteSitingSolution  # re-exported
from ._complete_solution import figures_dict, rounded
from .candidates import AUTO_CANDIDATES
from .errors import DataError
from .pipeline import AuditResult
from .siting import SitingProblem

log = logging.getLogger(__name__)

OBJECTIVES = cm.OBJECTIVES
#: Share of the time limit the main model gets when comparisons or a trade-off also run.
MAIN_SHARE = 0.5


@dataclass(frozen=True, eq=False)
class CompleteSitingProblem:
    """A complete-life-circle siting problem: listed categories, shared candidates.

    Build it with :meth:`from_audit`; :meth:`solve` returns a frozen
    :class:`CompleteSitingSolution`.

    Attributes
    ----------
    result
        The audit.
    categories
        The listed categories (ids of the standard).
    problems
        Per category, its :class:`~lifecircle.siting.SitingProblem` on the shared
        candidates (reach matrix, existing coverage, threshold).
    candidates
        The shared candidate sites (graph CRS), ``candidate_id`` 0..m-1.
    candidate_source, candidates_path
        Where the candidates came from, in words, and their file (an input).
    cohort
        The cohort whose residents are the demand (None: every resident).
    level, fixed_categories
        With a level: the quantity is the level's complete life circle, and the
        level's other mandatory categories (and those of the levels below), which no
        new site hosts, must be reached at existing facilities (``fixed``).
    fixed
        Per origin: reaches every fixed category (None without a level).
    weights
        Demand per origin (rows of ``result.access``).
    problem_notes
        What building the problem found out.
    """

    result: AuditResult
    categories: tuple[str, ...]
    problems: Mapping[str, SitingProblem]
    candidates: gpd.GeoDataFrame
    candidate_source: str
    weights: np.ndarray
    cohort: str | None = None
    candidates_path: Path | None = None
    problem_notes: tuple[str, ...] = ()
    level: str | None = None
    fixed_categories: tuple[str, ...] = ()
    fixed: np.ndarray | None = None

    @classmethod
    def from_audit(
        cls,
        result: AuditResult,
        categories: Sequence[str],
        *,
        candidates: str | Path | gpd.GeoDataFrame = "auto",
        n_candidates: int = AUTO_CANDIDATES,
        min_spacing_m: float = 0.0,
        seed: int = 0,
        cohort: str | None = None,
        level: str | None = None,
    ) -> CompleteSitingProblem:
        """Build the problem for ``categories`` from an audit.

        Parameters
        ----------
        result
            A finished audit.
        categories
            Categories of the standard to site together (any, audited or not; one
            without facilities in the data is greenfield).
        candidates
            ``"auto"`` (clusters of residents missing at least one listed
            category), a file of points or parcels, or a GeoDataFrame.
        n_candidates
            Number of ``auto`` clusters.
        min_spacing_m
            ``auto`` candidates keep this distance from existing facilities of any
            listed category.
        seed
            Seed of the candidate clustering.
        cohort
            Demand: the residents of this cohort (the audit's ``pop_<cohort>``);
            None: every resident.
        level
            A level of the standard (e.g. ``"5min"``): maximise its complete life
            circle, every mandatory category of the level and the levels below. The
            listed categories are sited; the others must be audited and are reached
            at existing facilities only. None: complete for the listed categories.
        """
        cats = cb.check_categories(result, categories)
        weights, cohort_note = cb.demand(result, cohort)
        notes = [cohort_note]
        fixed_cats, fixed = cb.fixed(result, cats, level)
        if level is not None:
            notes.append(
                f"level {level}: complete means every mandatory category of the level and "
                f"below; sited: {', '.join(cats)}; reached at existing facilities only: "
                + (", ".join(fixed_cats) or "none")
            )
        cand, source, path = cb.shared_candidates(
            result,
            cats,
            candidates,
            n_candidates=n_candidates,
            min_spacing_m=min_spacing_m,
            seed=seed,
            eligible=fixed,
        )
        problems = {
            c: SitingProblem.from_audit(result, c, candidates=cand, objective="coverage", seed=seed)
            for c in cats
        }
        shared = problems[cats[0]].candidates
        for c in cats:
            notes += [n for n in problems[c].problem_notes if not n.startswith("demand:")]
        weights.setflags(write=False)
        log.info("%s; %d categories: %s", source, len(cats), ", ".join(cats))
        return cls(
            result=result,
            categories=cats,
            problems=MappingProxyType(problems),
            candidates=shared,
            candidate_source=source,
            weights=weights,
            cohort=cohort,
            candidates_path=path,
            problem_notes=tuple(dict.fromkeys(notes)),
            level=level,
            fixed_categories=fixed_cats,
            fixed=fixed,
        )

    # ------------------------------------------------------------------ model data

    @functools.cached_property
    def covered(self) -> np.ndarray:
        """``n x C`` bool: within the threshold of an existing facility, per category."""
        return np.column_stack(
            [self.problems[c].demand["covered"].to_numpy(bool) for c in self.categories]
        )

    @functools.cached_property
    def reach(self) -> tuple[sp.csr_matrix, ...]:
        """Per category, the origin x candidate reach matrix within its threshold (0/1)."""
        out = []
        for c in self.categories:
            p = self.problems[c]
            within = p.distance.copy().tocsr()
            within.data = (within.data <= p.threshold_m).astype(float)
            within.eliminate_zeros()
            out.append(within)
        return tuple(out)

    @functools.cached_property
    def unit_ids(self) -> np.ndarray:
        """The finest unit ids, in the order of the instance's unit codes."""
        return self._units[1]

    @functools.cached_property
    def _units(self) -> tuple[np.ndarray, np.ndarray]:
        codes, ids = pd.factorize(self.result.access["unit_id"].astype(str), sort=True)
        return np.asarray(codes, np.int64), np.asarray(ids, dtype=object)

    @functools.cached_property
    def instance(self) -> cm.Instance:
        """The arrays of the models (:class:`lifecircle._complete_models.Instance`)."""
        codes, ids = self._units
        return cm.Instance(
            self.covered, self.reach, np.asarray(self.weights), codes, len(ids), self.fixed
        )

    @functools.cached_property
    def reduced(self) -> cm.Reduced:
        """The reduced model: groups of identical origins that new sites can complete."""
        return cm.reduce_instance(self.instance)

    @property
    def demand_total(self) -> float:
        """The demand of the analysed units."""
        return float(np.sum(self.weights))

    @property
    def cohort_name(self) -> str:
        """The demand in words."""
        if self.cohort is None:
            return "residents"
        info = self.result.standard.cohorts.get(self.cohort)
        return info.name_en if info is not None else self.cohort

    def evaluate(self, hosts: np.ndarray, fairness_weight: float = 0.5) -> cm.Figures:
        """Exact figures of the new sites ``hosts`` (candidates x categories, bool)."""
        return cm.figures(self.reduced, cm.complete_after(self.instance, hosts), fairness_weight)

    # ------------------------------------------------------------------ solve

    def solve(
        self,
        *,
        sites: int | Mapping[str, int],
        complex: bool = False,
        objective: str = "coverage",
        fairness_weight: float = 0.5,
        time_limit_s: float = 60.0,
        mip_rel_gap: float = 1e-4,
        compare: bool = True,
        tradeoff: Sequence[float] | None = None,
    ) -> CompleteSitingSolution:
        """Choose the sites; returns the solution.

        Parameters
        ----------
        sites
            New (site, category) pairs in all; or a budget per category
            (``{"elderly_care": 3, ...}``, every listed category); with
            ``complex=True``, the number of complexes.
        complex
            Every chosen site hosts every listed category (one budget unit each).
        objective
            ``"coverage"`` (newly complete demand), ``"maxmin"`` (the lowest
            complete share of the finest units the candidates can change; ties
            broken by coverage) or ``"fair"`` (``(1 - w)`` complete share ``+ w``
            mean complete share of the worst-served decile of finest units).
        fairness_weight
            ``w`` of ``"fair"``, in [0, 1].
        time_limit_s
            Wall-clock limit of the whole solve, comparisons and trade-off included
            (the main model gets :data:`MAIN_SHARE` of it when they run).
        mip_rel_gap
            HiGHS's relative gap tolerance.
        compare
            Also run the comparisons (see the module docstring).
        tradeoff
            Fairness weights for a trade-off table (:meth:`tradeoff`), or None.

        Returns
        -------
        CompleteSitingSolution
        """
        t0 = time.monotonic()
        deadline = t0 + time_limit_s
        budget = self._budget(sites, complex_=complex)
        cb.check_goal(objective, fairness_weight, time_limit_s)
        goal = cm.Goal(objective, float(fairness_weight))
        extras = (len(self._single_budgets(budget)) + int(budget.complex)) if compare else 0
        extras += len(tradeoff or ())
        main_s = time_limit_s * (MAIN_SHARE if extras else 1.0)
        out = solve_model(
            self.reduced,
            budget,
            goal,
            deadline=t0 + main_s,
            time_limit_s=main_s,
            mip_rel_gap=mip_rel_gap,
        )
        solver_s = float(out.solver_info.get("seconds", 0.0))
        notes = list(out.notes)
        slot = (deadline - time.monotonic()) / extras if extras else 0.0
        comparison: dict[str, Any] = {}
        if compare:
            comparison = self._compare(
                out.hosts, budget, goal, slot=slot, mip_rel_gap=mip_rel_gap, notes=notes
            )
        table = None
        if tradeoff:
            table = self.tradeoff(
                sites=sites,
                weights=tradeoff,
                complex=complex,
                time_limit_s=max(slot * len(tradeoff), 1e-3),
                mip_rel_gap=mip_rel_gap,
            )
        end = time.monotonic()
        options = {
            "sites": {c: int(n) for c, n in sites.items()}
            if isinstance(sites, Mapping)
            else int(sites),
            "complex": bool(complex),
            "objective": objective,
            "fairness_weight": float(fairness_weight),
            "time_limit_s": time_limit_s,
        }
        hosts = out.hosts.copy()
        hosts.setflags(write=False)
        return CompleteSitingSolution(
            problem=self,
            model="complex" if budget.complex else "joint",
            options=MappingProxyType(options),
            status=out.status,
            objective=out.objective,
            bound=out.bound,
            bound_source=out.bound_source,
            mip_gap=out.mip_gap,
            greedy_objective=out.greedy_objective,
            hosts=hosts,
            comparison=MappingProxyType(comparison),
            tradeoff=table,
            notes=tuple(notes),
            solver_info=MappingProxyType(dict(out.solver_info)),
            timings_s=MappingProxyType(
                {
                    "total": round(end - t0, 3),
                    "solver": round(solver_s, 3),
                    "past_time_limit": round(max(0.0, end - deadline), 3),
                }
            ),
            runtime_s=round(end - t0, 3),
        )

    def tradeoff(
        self,
        *,
        sites: int | Mapping[str, int],
        weights: Sequence[float] = (0.0, 0.25, 0.5, 1.0),
        complex: bool = False,
        time_limit_s: float = 60.0,
        mip_rel_gap: float = 1e-4,
    ) -> pd.DataFrame:
        """The efficiency-equity trade-off: the ``fair`` model for several weights.

        Parameters
        ----------
        sites, complex, mip_rel_gap
            As in :meth:`solve`.
        weights
            Fairness weights (0: coverage only, 1: the worst-served decile only).
        time_limit_s
            Wall-clock limit of all the runs together (shared evenly).

        Returns
        -------
        pandas.DataFrame
            One row per weight: ``weight``, ``complete_share`` (of all demand),
            ``newly_complete``, ``min_unit_share``, ``worst_decile_share``,
            ``objective``, ``status``, ``mip_gap``.
        """
        budget = self._budget(sites, complex_=complex)
        weights = [float(w) for w in weights]
        for w in weights:
            cb.check_goal("fair", w, time_limit_s)
        t0 = time.monotonic()
        rows = []
        for i, w in enumerate(weights):
            left = (t0 + time_limit_s - time.monotonic()) / (len(weights) - i)
            goal = cm.Goal("fair", w)
            out = solve_model(
                self.reduced,
                budget,
                goal,
                deadline=time.monotonic() + left,
                time_limit_s=max(left, 1e-3),
                mip_rel_gap=mip_rel_gap,
            )
            fig = self.evaluate(out.hosts, w)
            rows.append(
                {
                    "weight": w,
                    "complete_share": round(fig.share, 6),
                    "newly_complete": round(fig.newly, 3),
                    "min_unit_share": rounded(fig.min_share),
                    "worst_decile_share": rounded(fig.decile_share),
                    "objective": out.objective,
                    "status": out.status,
                    "mip_gap": out.mip_gap,
                }
            )
        return pd.DataFrame(rows)

    # ------------------------------------------------------------------ helpers

    def _budget(self, sites: int | Mapping[str, int], *, complex_: bool) -> cm.Budget:
        cats = self.categories
        if isinstance(sites, Mapping):
            if complex_:
                msg = (
                    "--complex takes one number of complexes (--sites N), not a budget per category"
                )
                raise DataError(msg)
            unknown = sorted(set(sites) - set(cats))
            missing = [c for c in cats if c not in sites]
            if unknown or missing:
                msg = (
                    f"--sites per category must name exactly the listed categories "
                    f"({', '.join(cats)}); unknown: {', '.join(unknown) or 'none'}, "
                    f"missing: {', '.join(missing) or 'none'}"
                )
                raise DataError(msg)
            per = np.array([cb.count(sites[c], f"--sites {c}=") for c in cats], np.int64)
            if per.sum() <= 0:
                msg = "--sites: the budgets per category add up to 0; give at least one site"
                raise DataError(msg)
            return cm.Budget(per_category=per)
        n = cb.count(sites, "--sites")
        if n <= 0:
            msg = f"--sites must be a positive number of new sites, got {sites}"
            raise DataError(msg)
        return cm.Budget(total=n, complex=complex_)

    def _single_budgets(self, budget: cm.Budget) -> dict[str, int]:
        """The budget per category of the single-category comparison (non-zero only)."""
        cats = self.categories
        if budget.per_category is not None:
            per = [int(v) for v in budget.per_category]
        elif budget.complex:
            per = [budget.sites] * len(cats)
        else:
            base, extra = divmod(budget.sites, len(cats))
            per = [base + (i < extra) for i in range(len(cats))]
        return {c: n for c, n in zip(cats, per, strict=True) if n > 0}

    def _compare(
        self,
        hosts: np.ndarray,
        budget: cm.Budget,
        goal: cm.Goal,
        *,
        slot: float,
        mip_rel_gap: float,
        notes: list[str],
    ) -> dict[str, Any]:
        """The same budget spent on the best single-category runs (and separate sites)."""
        lam = goal.lam
        joint = self.evaluate(hosts, lam)
        out: dict[str, Any] = {"joint": figures_dict(joint, hosts)}
        single_hosts = np.zeros_like(hosts)
        runs = {}
        for c, n in self._single_budgets(budget).items():
            if slot <= 1e-3:
                notes.append(f"no time was left for the single-category comparison run of {c}")
                continue
            sol = self.problems[c].solve(sites=n, time_limit_s=slot, mip_rel_gap=mip_rel_gap)
            single_hosts[sol.selected, self.categories.index(c)] = True
            runs[c] = {
                "sites": n,
                "selected": len(sol.selected),
                "status": sol.status,
                "newly_covered": sol.objective,
                "mip_gap": sol.mip_gap,
            }
        single = self.evaluate(single_hosts, lam)
        out["single_category"] = {**figures_dict(single, single_hosts), "runs": runs}
        out["gain_over_single_category"] = round(joint.newly - single.newly, 3)
        if budget.complex and slot > 1e-3:
            per = np.full(len(self.categories), budget.sites, np.int64)
            sep = solve_model(
                self.reduced,
                cm.Budget(per_category=per),
                goal,
                deadline=time.monotonic() + slot,
                time_limit_s=slot,
                mip_rel_gap=mip_rel_gap,
            )
            fig = self.evaluate(sep.hosts, lam)
            out["joint_separate"] = {
                **figures_dict(fig, sep.hosts),
                "sites_per_category": budget.sites,
                "status": sep.status,
                "mip_gap": sep.mip_gap,
            }
            out["complex_cost"] = round(fig.newly - joint.newly, 3)
        out["definition"] = (
            "the same budget spent today's way: the best single-category MCLP per category "
            "(budget "
            + ("N per category for N complexes" if budget.complex else "as given, or split evenly")
            + "), its complete demand evaluated; for complexes also the joint model with "
            "N separate sites per category (complex_cost: what co-location gives up)"
        )
        return out


__all__ = ["OBJECTIVES", "OUTPUT_FILES", "CompleteSitingProblem", "CompleteSitingSolution"]
