"""The uncapacitated location models: MCLP / LSCP (:class:`Covering`) and :class:`PMedian`.

Each reads the siting problem (demand, sparse distances, options), runs a lazy
greedy (CELF), solves its MILP with HiGHS through
:func:`lifecircle._location_models.run_milp` (the time limit, child process and
bound rules are described there) with the greedy solution as HiGHS's starting
incumbent (never as a constraint), and returns a :class:`ModelOutcome`. The
covering MILP is first reduced exactly
(:func:`~lifecircle._cover_reduction.reduce_cover`: residents no candidate reaches
dropped, residents with the same candidates merged into one weighted row, dominated
candidates dropped); the sizes before and after are in the solution's notes. With a
capacity the model is :class:`lifecircle._capacitated.CapacitatedCovering`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.optimize import LinearConstraint

from ._cover_reduction import CoverReduction as CoverReduction
from ._cover_reduction import reduce_cover as reduce_cover
from ._models_bounds import (
    GREEDY_FACTOR,
    Model,
    ModelOutcome,
    apply_greedy_or_solution,
    fewest_for,
    lazy_greedy,
    top_k_sum,
)
from ._models_sites import nearest_selected, served_per_site
from .errors import DataError

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from .siting import SitingProblem

# ``run_milp`` is imported where a model is solved: :mod:`lifecircle._location_models`
# imports this module (to re-export the models), so importing it at the top would
# make an import cycle.


class Covering:
    """MCLP / LSCP without capacity, optionally with a per-unit floor.

    Demand is the category's cohort (:attr:`SitingProblem.weights`); existing
    facilities are unlimited and a resident is covered by distance. With a capacity
    the model is :class:`lifecircle._capacitated.CapacitatedCovering`.
    """

    def __init__(
        self,
        s: SitingProblem,
        *,
        sites: int | None,
        target_coverage: float | None,
        min_unit_coverage: float | None,
    ) -> None:
        self.s = s
        self.sites = sites
        d = s.demand
        self.w_all = s.weights
        # only uncovered residents some candidate can reach matter
        within = s.distance.copy()
        within.data = (within.data <= s.threshold_m).astype(float)
        within.eliminate_zeros()
        reach = np.diff(within.indptr) > 0
        self.rows = np.flatnonzero(~d["covered"].to_numpy() & reach)
        self.cover = within[self.rows].tocsr()
        self.w = self.w_all[self.rows]
        self.n_cand = s.distance.shape[1]
        self.need = None
        if target_coverage is not None:
            need = target_coverage * s.demand_total - s.covered_before
            reachable = float(self.w.sum())
            if need > reachable + 1e-6:
                best = (s.covered_before + reachable) / s.demand_total
                msg = (
                    f"--target-coverage {target_coverage:.1%} is out of reach: with every "
                    f"candidate site at most {best:.1%} of the {s.cohort_name} are covered "
                    f"for {s.category}; lower the target or give more --candidates"
                )
                raise DataError(msg)
            self.need = max(need, 0.0)
        self.notes: list[str] = []
        self.floors = self._floors(min_unit_coverage) if min_unit_coverage else []

    def _floors(self, floor: float) -> list[tuple[np.ndarray, float]]:
        s = self.s
        unit = s.demand["unit_id"].to_numpy()
        out, impossible = [], []
        for uid in np.unique(unit):
            in_u = unit == uid
            pop_u = self.w_all[in_u].sum()
            have = self.w_all[in_u & s.demand["covered"].to_numpy()].sum()
            need = floor * pop_u - have
            if need <= 1e-9:
                continue
            rows_u = np.flatnonzero(unit[self.rows] == uid)
            if self.w[rows_u].sum() + 1e-9 < need:
                impossible.append(str(uid))
                continue
            out.append((rows_u, need))
        if impossible:
            self.notes.append(
                f"{len(impossible)} units cannot reach {floor:.0%} coverage even with every "
                f"candidate; their floor is left out: {', '.join(impossible[:20])}"
            )
        return out

    # greedy -------------------------------------------------------------
    def greedy(self) -> tuple[np.ndarray, np.ndarray]:
        """Lazy greedy (CELF); returns selected candidates and covered fraction per row."""
        cover_csc = self.cover.tocsc()
        remaining = np.ones(len(self.rows))  # uncovered fraction
        covered = 0.0

        def gain(j: int) -> float:
            idx = cover_csc.indices[cover_csc.indptr[j] : cover_csc.indptr[j + 1]]
            return float((self.w[idx] * remaining[idx]).sum())

        def take(j: int) -> None:
            nonlocal covered
            idx = cover_csc.indices[cover_csc.indptr[j] : cover_csc.indptr[j + 1]]
            covered += float((self.w[idx] * remaining[idx]).sum())
            remaining[idx] = 0.0

        def done() -> bool:
            return self.need is not None and covered >= self.need - 1e-9

        chosen = lazy_greedy(
            self.n_cand,
            gain,
            take,
            done=done,
            limit=self.sites if self.sites is not None else self.n_cand,
        )
        return np.array(chosen, np.int64), 1.0 - remaining

    # bounds -------------------------------------------------------------
    def bounds(self, g_value: float, g_frac: np.ndarray) -> dict[str, float]:
        """Valid bounds without a solver: upper bounds (MCLP) or lower bounds (LSCP).

        A site newly covers at most the uncovered residents it reaches, so ``k``
        sites cover at most the ``k`` largest such numbers. Coverage is monotone
        submodular, so the greedy value ``g`` also gives ``OPT <= g / (1 - 1/e)``
        and ``OPT <= g + the k largest gains left after the greedy``.
        """
        single = np.asarray(self.cover.T @ self.w).ravel()
        if self.sites is None:
            assert self.need is not None  # set covering: a share to reach
            return {"fewest_by_gains": float(fewest_for(single, self.need))}
        k = min(self.sites, self.n_cand)
        left = np.asarray(self.cover.T @ (self.w * (1.0 - g_frac))).ravel()
        return {
            "top_gains": top_k_sum(single, k),
            "reachable": float(self.w.sum()),
            "greedy_guarantee": g_value / GREEDY_FACTOR,
            "greedy_plus_gains": g_value + top_k_sum(left, k),
        }

    # MILP ---------------------------------------------------------------
    def reduce(self) -> CoverReduction:
        """The exact reductions of :func:`reduce_cover`, floors kept apart by unit."""
        label = np.full(len(self.rows), -1, np.int64)
        for f, (rows_u, _) in enumerate(self.floors):
            label[rows_u] = f
        return reduce_cover(self.cover, self.w, label)

    @staticmethod
    def size_of(red: CoverReduction) -> int:
        """Estimated variables plus constraint non-zeros of the reduced MILP."""
        m, k = red.cover.shape[1], red.cover.shape[0]
        return 2 * m + 4 * k + red.cover.nnz

    def size(self) -> int:
        """Estimated variables plus constraint non-zeros of the unreduced MILP."""
        m, k, nnz = self.n_cand, len(self.rows), self.cover.nnz
        floors = sum(len(r) for r, _ in self.floors)
        return 2 * m + 4 * k + nnz + floors

    def _build(self, red: CoverReduction) -> Model:
        """The MILP on the reduced problem: x (kept candidates, binary), z (merged rows)."""
        m, k = red.cover.shape[1], red.cover.shape[0]
        a_link = sp.hstack([-red.cover, sp.identity(k)], format="csr")  # z - A x <= 0
        served = np.r_[np.zeros(m), red.weight]
        count = np.r_[np.ones(m), np.zeros(k)]
        cons = [LinearConstraint(a_link, -np.inf, 0.0)]
        if self.sites is not None:
            cons.append(LinearConstraint(sp.csr_matrix(count), 0, self.sites))
            c = -served
        else:
            cons.append(LinearConstraint(sp.csr_matrix(served), self.need, np.inf))
            c = count
        if self.floors:
            has = np.flatnonzero(red.label >= 0)
            floor_rows = sp.csr_matrix(
                (red.weight[has], (red.label[has], m + has)), shape=(len(self.floors), m + k)
            )
            need = np.array([need for _, need in self.floors])
            cons.append(LinearConstraint(floor_rows, need, np.inf))
        integrality = np.r_[np.ones(m), np.zeros(k)]
        return c, cons, integrality

    def _start(self, red: CoverReduction, g_sel: np.ndarray) -> np.ndarray | None:
        """The greedy solution as a start of the reduced MILP, if it is feasible."""
        x, z = red.start(g_sel)
        if self.sites is not None and x.sum() > self.sites:
            return None
        if self.need is not None and float(red.weight @ z) < self.need - 1e-6:
            return None
        for f, (_, need) in enumerate(self.floors):
            if float(red.weight[red.label == f] @ z[red.label == f]) < need - 1e-6:
                return None
        return np.r_[x, z]

    def solve(self, *, deadline: float, time_limit_s: float, mip_rel_gap: float) -> ModelOutcome:
        """Greedy, then the MILP until ``deadline``; returns the solution found."""
        from ._location_models import run_milp  # see the note at the top

        s = ModelOutcome(notes=list(self.notes))
        g_sel, g_frac = self.greedy()
        g_value = float((self.w * g_frac).sum())
        greedy_ok = not self.floors and (self.need is None or g_value >= self.need - 1e-6)
        s.greedy_objective = round(g_value if self.sites is not None else float(len(g_sel)), 3)
        if len(self.rows) == 0:
            s.selected, s.status, s.mip_gap, s.objective = g_sel, "optimal", 0.0, 0.0
            s.bound, s.bound_source = 0.0, "exact"
            s.notes.append("no uncovered resident can be reached by any candidate")
            self._finish(s, np.empty(0, np.int64), np.zeros(0))
            return s
        bounds = self.bounds(g_value, g_frac)
        maximise = self.sites is not None
        red = self.reduce()
        s.notes.append(red.note())
        log.info("%s", red.note())
        run = run_milp(
            lambda: self._build(red),
            deadline=deadline,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
            size=self.size_of(red),
            start=self._start(red, g_sel),
        )
        if run.status == 2 and (self.floors or not maximise):
            if self.floors:
                msg = (
                    "the fairness floor (--min-unit-coverage) cannot be met with "
                    f"{self.sites if maximise else 'the candidate'} sites; allow more "
                    "sites or lower the floor"
                )
            else:
                msg = (
                    "no choice of candidate sites reaches --target-coverage; lower "
                    "the target or give more --candidates"
                )
            raise DataError(msg)
        if not run.solution and not greedy_ok:
            what = (
                "the fairness floor (--min-unit-coverage)" if self.floors else "--target-coverage"
            )
            msg = (
                f"HiGHS found no solution within --time-limit {time_limit_s:g} s "
                f"({run.message}), and the greedy solution does not meet {what}; raise "
                "--time-limit, or relax the request"
            )
            raise DataError(msg)
        sel, frac, solution_objective = g_sel, g_frac, None
        if run.solution and run.x is not None:
            sel = red.kept[run.x[: red.kept.size] > 0.5]
            frac = (np.asarray(self.cover[:, sel].sum(axis=1)).ravel() > 0).astype(float)
            # what the sites cover, recounted on the unreduced matrix
            solution_objective = float(self.w @ frac) if maximise else float(len(sel))
        used = apply_greedy_or_solution(
            s,
            run,
            maximise=maximise,
            solution_objective=solution_objective,
            greedy_objective=g_value if maximise else float(len(g_sel)),
            bounds=bounds,
            time_limit_s=time_limit_s,
            integral=not maximise,
            greedy_feasible=greedy_ok,
        )
        if not used:
            sel, frac = g_sel, g_frac
        self._finish(s, sel, frac)
        return s

    def _finish(self, s: ModelOutcome, sel: np.ndarray, frac_rows: np.ndarray) -> None:
        p = self.s
        s.selected = np.sort(sel)
        newly = np.zeros(len(p.demand))
        newly[self.rows] = frac_rows
        s.newly = newly
        s.served_by = nearest_selected(p.distance, s.selected, newly > 1e-12)
        s.site_served = served_per_site(p, s)


class PMedian:
    """Minimise total walking distance to the nearest facility, existing or new."""

    def __init__(self, s: SitingProblem, sites: int) -> None:
        self.s, self.sites = s, sites
        d = s.demand
        self.w = s.weights
        self.d0 = np.nan_to_num(d["dist_m"].to_numpy(float), nan=s.radius_m)
        coo = s.distance.tocoo()
        better = coo.data < self.d0[coo.row] - 1e-9
        self.row, self.col, self.dist = coo.row[better], coo.col[better], coo.data[better]
        self.n_cand = s.distance.shape[1]

    def _best(self, selected: np.ndarray) -> np.ndarray:
        best = self.d0.copy()
        pick = np.isin(self.col, selected)
        np.fmin.at(best, self.row[pick], self.dist[pick])
        return best

    def _saving(self, selected: np.ndarray) -> float:
        return float((self.w * (self.d0 - self._best(selected))).sum())

    def greedy(self) -> np.ndarray:
        """Lazy greedy (CELF) on the distance saved; returns the selected candidates."""
        current = self.d0.copy()
        by_col = np.argsort(self.col, kind="stable")
        starts = np.searchsorted(self.col[by_col], np.arange(self.n_cand + 1))

        def gain(j: int) -> float:
            idx = by_col[starts[j] : starts[j + 1]]
            r = self.row[idx]
            return float((self.w[r] * np.maximum(current[r] - self.dist[idx], 0)).sum())

        def take(j: int) -> None:
            idx = by_col[starts[j] : starts[j + 1]]
            np.fmin.at(current, self.row[idx], self.dist[idx])

        chosen = lazy_greedy(self.n_cand, gain, take, limit=self.sites)
        return np.array(chosen, np.int64)

    def bounds(self, g_sel: np.ndarray, g_value: float) -> dict[str, float]:
        """Valid upper bounds on the distance saved (a monotone submodular function)."""
        k = min(self.sites, self.n_cand)
        wr = self.w[self.row]
        single = np.bincount(
            self.col, weights=wr * (self.d0[self.row] - self.dist), minlength=self.n_cand
        )
        best = self._best(g_sel)
        left = np.bincount(
            self.col,
            weights=wr * np.maximum(best[self.row] - self.dist, 0.0),
            minlength=self.n_cand,
        )
        return {
            "top_gains": top_k_sum(single, k),
            "greedy_guarantee": g_value / GREEDY_FACTOR,
            "greedy_plus_gains": g_value + top_k_sum(left, k),
        }

    def _build(self) -> Model:
        m, p = self.n_cand, len(self.row)
        # maximise saving: sum w_i (d0_i - d_ij) y_ij
        c = np.r_[np.zeros(m), -(self.w[self.row] * (self.d0[self.row] - self.dist))]
        one_each = sp.csr_matrix((np.ones(p), (self.row, np.arange(p))), shape=(len(self.w), p))
        link = sp.hstack(
            [-sp.csr_matrix((np.ones(p), (np.arange(p), self.col)), shape=(p, m)), sp.identity(p)]
        )
        count = sp.csr_matrix(np.r_[np.ones(m), np.zeros(p)])
        cons = [
            LinearConstraint(sp.hstack([sp.csr_matrix((len(self.w), m)), one_each]), -np.inf, 1),
            LinearConstraint(link, -np.inf, 0),
            LinearConstraint(count, 0, self.sites),
        ]
        return c, cons, np.r_[np.ones(m), np.zeros(p)]

    def _start(self, selected: np.ndarray) -> np.ndarray:
        """``selected`` as a full MILP solution: each resident to its nearest selected pair."""
        m, p = self.n_cand, len(self.row)
        x = np.zeros(m)
        x[selected] = 1.0
        pick = np.flatnonzero(np.isin(self.col, selected))
        pick = pick[np.lexsort((self.dist[pick], self.row[pick]))]
        first = pick[np.r_[True, self.row[pick][1:] != self.row[pick][:-1]]] if pick.size else pick
        y = np.zeros(p)
        y[first] = 1.0
        return np.r_[x, y]

    def solve(self, *, deadline: float, time_limit_s: float, mip_rel_gap: float) -> ModelOutcome:
        """Greedy, then the MILP until ``deadline``; returns the solution found."""
        from ._location_models import run_milp  # see the note at the top

        prob, m, p = self.s, self.n_cand, len(self.row)
        s = ModelOutcome()
        g_sel = self.greedy()
        g_value = self._saving(g_sel)
        s.greedy_objective = round(g_value, 3)
        bounds = self.bounds(g_sel, g_value)
        # HiGHS's presolve is what takes long on this model (on the sample, 300
        # candidates: 16.8 s to optimal without it, > 40 s in presolve with it)
        run = run_milp(
            self._build,
            deadline=deadline,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
            size=2 * m + 6 * p + len(self.w),
            options={"presolve": False},
            start=self._start(g_sel),
        )
        h_sel, solution_objective = g_sel, None
        if run.solution and run.x is not None:
            h_sel = np.flatnonzero(run.x[:m] > 0.5)
            solution_objective = self._saving(h_sel)  # recounted: nearest selected site
        used = apply_greedy_or_solution(
            s,
            run,
            maximise=True,
            solution_objective=solution_objective,
            greedy_objective=g_value,
            bounds=bounds,
            time_limit_s=time_limit_s,
        )
        sel = h_sel if used else g_sel
        s.selected = np.sort(sel)
        new = prob.new_distance(s.selected)
        s.newly = ((new <= prob.threshold_m) & ~prob.demand["covered"].to_numpy()).astype(float)
        s.served_by = nearest_selected(prob.distance, s.selected, new < self.d0)
        s.site_served = served_per_site(prob, s, all_residents=True)
        s.notes.append(
            f"distances capped at {prob.radius_m:.0f} m (the search cut-off); "
            "objective = total person-metres saved"
        )
        return s
