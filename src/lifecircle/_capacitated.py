"""The capacitated covering model of ``lifecircle optimize --capacity``: the audit's capacity model.

The audit's capacity-constrained coverage (:func:`lifecircle.demand.capacity_assignment`)
assigns each category's cohort, within the threshold, to facilities with room. Siting
with ``--capacity C`` uses the same model, so an audit of the proposals reproduces the
optimizer's figures:

* demand ``w_i``: the category's cohort per resident (:attr:`SitingProblem.weights`);
* existing facilities of the category enter as *fixed-open* columns with the capacities
  the audit used (``result.facilities["capacity"]``, NaN = unlimited; the audit's rule
  for a category where only some are known); candidates have capacity ``C`` each;
* **before** = the audit's capacity-constrained served total (``placed``);
* **after** = the exact maximum number of cohort residents served by existing plus
  selected sites, with reassignment:

  .. code-block:: text

     max  sum_ij w_i y_ij
     s.t. sum_j y_ij <= 1                       per resident i
          sum_i w_i y_ie <= cap_e               per existing facility e
          sum_i w_i y_ij <= C x_j               per candidate j
          sum_j x_j <= k   (MCLP)  |  served >= target (LSCP, min sum_j x_j)
          x_j binary, 0 <= y_ij, pairs within the threshold only.

Exact reductions before the MILP (the assignment's own): a facility whose capacity holds
all the demand in its reach is unlimited, and a resident reaching an unlimited existing
facility is served whatever is built; a connected component of the reach graph
(residents, existing facilities, candidates) without a candidate keeps the audit's
served total (the audit's maximum is the sum of each component's maximum). The
reported objective is the *increase* of the served total, ``after - before``; the
selected sites' final assignment is :func:`lifecircle.demand.capacity_assignment` on
the existing facilities plus the sites in their proposal order, the computation a
re-audit makes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.optimize import LinearConstraint, linprog
from scipy.sparse.csgraph import connected_components

from . import demand as demand_model
from ._location_models import run_milp
from ._models_bounds import (
    Model,
    ModelOutcome,
    apply_greedy_or_solution,
    fewest_for,
    lazy_greedy,
    relative_gap,
    top_k_sum,
)
from ._models_sites import nearest_selected
from .errors import DataError

if TYPE_CHECKING:
    from .siting import SitingProblem

#: A site (or a set of them) that adds at most this many residents adds nothing.
USELESS_GAIN = 1e-6


@dataclass(frozen=True)
class Pairs:
    """Reachable (resident, facility) pairs: rows, columns, metres."""

    row: np.ndarray
    col: np.ndarray
    dist: np.ndarray

    @classmethod
    def within(cls, distance: sp.spmatrix, threshold_m: float) -> Pairs:
        """The stored pairs of ``distance`` within ``threshold_m`` (stored zeros kept)."""
        coo = sp.coo_matrix(distance)
        keep = coo.data <= threshold_m
        return cls(
            coo.row[keep].astype(np.int64),
            coo.col[keep].astype(np.int64),
            coo.data[keep].astype(float),
        )

    def take(self, mask: np.ndarray) -> Pairs:
        """The pairs where ``mask`` is True."""
        return Pairs(self.row[mask], self.col[mask], self.dist[mask])


@dataclass(frozen=True)
class Reduced:
    """The part of a capacitated siting that the choice of sites can change.

    ``rows``: residents in a component of the reach graph with a candidate (and
    no unlimited existing facility in reach); ``fac``: the existing facilities in
    those components (all finite); ``e`` and ``j``: their pairs to existing
    facilities and candidates, in model indices (``e.col`` into ``fac``).
    ``fixed``: served residents outside the model (the same before and after);
    ``fixed_by_row``: per resident of the problem, that part.
    """

    rows: np.ndarray
    fac: np.ndarray
    e: Pairs
    j: Pairs
    fixed: float
    fixed_by_row: np.ndarray
    component_of_candidate: np.ndarray
    unmet_by_component: np.ndarray


def reduce_problem(
    w: np.ndarray,
    before: np.ndarray,
    *,
    e: Pairs,
    cap_e: np.ndarray,
    j: Pairs,
    n_cand: int,
) -> Reduced:
    """The exact reductions of the module docstring; see :class:`Reduced`."""
    n, n_e, m = len(w), len(cap_e), n_cand
    e = e.take((w[e.row] > 0) & (cap_e[e.col] > 0))
    j = j.take(w[j.row] > 0)
    reach = np.bincount(e.col, weights=w[e.row], minlength=n_e)
    unlimited = np.isinf(cap_e) | (cap_e >= reach)
    full = np.zeros(n, bool)
    full[e.row[unlimited[e.col]]] = True
    e = e.take(~full[e.row])
    j = j.take(~full[j.row])
    # components of the reach graph: residents 0..n-1, existing n.., candidates n+n_e..
    size = n + n_e + m
    graph = sp.coo_matrix(
        (
            np.ones(e.row.size + j.row.size),
            (np.r_[e.row, j.row], np.r_[n + e.col, n + n_e + j.col]),
        ),
        shape=(size, size),
    )
    _, label = connected_components(graph, directed=False)
    with_site = np.zeros(label.max() + 1 if size else 0, bool)
    with_site[label[n + n_e + np.unique(j.col)]] = True
    in_model = with_site[label[:n]] & ~full & (w > 0)
    rows = np.flatnonzero(in_model)
    fac = np.flatnonzero(with_site[label[n : n + n_e]] & ~unlimited)
    row_pos = np.full(n, -1, np.int64)
    row_pos[rows] = np.arange(rows.size)
    fac_pos = np.full(n_e, -1, np.int64)
    fac_pos[fac] = np.arange(fac.size)
    e = e.take(in_model[e.row])
    j = j.take(in_model[j.row])
    fixed_by_row = np.where(full, w, np.where(in_model, 0.0, before))
    comp = label[n + n_e + np.arange(m)]
    unmet = np.bincount(
        label[rows], weights=np.clip(w[rows] - before[rows], 0.0, None), minlength=with_site.size
    )
    return Reduced(
        rows=rows,
        fac=fac,
        e=Pairs(row_pos[e.row], fac_pos[e.col], e.dist),
        j=Pairs(row_pos[j.row], j.col, j.dist),
        fixed=float(fixed_by_row.sum()),
        fixed_by_row=fixed_by_row,
        component_of_candidate=comp,
        unmet_by_component=unmet,
    )


def increments(red: Reduced, capacity: float, n_cand: int) -> np.ndarray:
    """Largest gains one more site can add, per component: ``min(C, unmet left)`` each.

    ``k`` sites raise the served total of a component by at most its unmet demand and
    by at most ``C`` each (a cut of the old network plus the new sites' arcs), so the
    sum of the ``k`` largest of these increments bounds the gain of any ``k`` sites.
    """
    has_pair = np.zeros(n_cand, bool)
    has_pair[red.j.col] = True
    per_comp = np.bincount(
        red.component_of_candidate[has_pair], minlength=red.unmet_by_component.size
    )
    unmet = red.unmet_by_component
    count = np.minimum(per_comp, np.ceil(unmet / capacity - 1e-12).astype(np.int64))
    comp = np.repeat(np.arange(unmet.size), count)
    step = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    out = np.minimum(capacity, unmet[comp] - step * capacity)
    return out[out > 0]


class CapacitatedCovering:
    """MCLP / LSCP with capacities on existing facilities and new sites (module docstring)."""

    def __init__(
        self,
        s: SitingProblem,
        *,
        sites: int | None,
        target_coverage: float | None,
        capacity: float,
        min_unit_coverage: float | None,
    ) -> None:
        self.s, self.sites, self.capacity = s, sites, float(capacity)
        self.w = s.weights
        existing, cap_e = s.existing_pairs()
        self.existing_distance, self.cap_e = existing, cap_e
        self.before = s.served_before()
        self.before_total = float(self.before.sum())
        self.n_cand = s.distance.shape[1]
        e = Pairs.within(existing, s.threshold_m)
        j = Pairs.within(s.distance, s.threshold_m)
        self.red = reduce_problem(self.w, self.before, e=e, cap_e=cap_e, j=j, n_cand=self.n_cand)
        self.model_before = float(self.before[self.red.rows].sum())
        self.notes: list[str] = []
        self.need: float | None = None
        if target_coverage is not None:
            self.need = self._need(target_coverage)
        self.floors = self._floors(min_unit_coverage) if min_unit_coverage else []

    # flows ------------------------------------------------------------------
    def flow(self, selected: np.ndarray) -> float:
        """Exact largest model flow (cohort residents served) with ``selected`` sites open."""
        return self._flow(selected)[0]

    def _flow(self, selected: np.ndarray) -> tuple[float, np.ndarray]:
        """:meth:`flow` and its assignment: one value per MILP pair (existing, then sites)."""
        red, wm = self.red, self.w[self.red.rows]
        open_ = np.zeros(self.n_cand, bool)
        open_[np.asarray(selected, np.int64)] = True
        is_open = open_[red.j.col]
        j = red.j.take(is_open)
        p_e, p_j = red.e.row.size, j.row.size
        y = np.zeros(p_e + red.j.row.size)
        if p_e + p_j == 0:
            return 0.0, y
        k = red.rows.size
        rows = np.r_[red.e.row, j.row]
        # per resident <= 1; per existing facility and per open site <= capacity
        one = sp.csr_matrix(
            (np.ones(p_e + p_j), (rows, np.arange(p_e + p_j))), shape=(k, p_e + p_j)
        )
        load_e = sp.csr_matrix(
            (wm[red.e.row], (red.e.col, np.arange(p_e))), shape=(red.fac.size, p_e + p_j)
        )
        sites, local = np.unique(j.col, return_inverse=True)
        load_j = sp.csr_matrix(
            (wm[j.row], (local, p_e + np.arange(p_j))), shape=(sites.size, p_e + p_j)
        )
        res = linprog(
            -wm[rows],
            A_ub=sp.vstack([one, load_e, load_j], format="csr"),
            b_ub=np.r_[np.ones(k), self.cap_e[red.fac], np.full(sites.size, self.capacity)],
            bounds=(0, None),
            method="highs",
        )
        if res.status != 0:
            msg = f"HiGHS could not solve the served-residents LP: {res.message}"
            raise RuntimeError(msg)
        x = np.clip(res.x, 0.0, 1.0)
        y[:p_e] = x[:p_e]
        y[p_e + np.flatnonzero(is_open)] = x[p_e:]
        return float(-res.fun), y

    def gain(self, selected: np.ndarray) -> float:
        """Cohort residents newly served by ``selected`` (after - before), exactly."""
        return max(self.flow(selected) - self.model_before, 0.0)

    # requests ---------------------------------------------------------------
    def _need(self, target: float) -> float:
        s = self.s
        need = target * s.demand_total - self.before_total
        best = self.gain(np.arange(self.n_cand))
        if need > best + 1e-6:
            share = (self.before_total + best) / s.demand_total
            msg = (
                f"--target-coverage {target:.1%} is out of reach: with every candidate site "
                f"of capacity {self.capacity:g} at most {share:.1%} of the {s.cohort_name} "
                f"can be given a place for {s.category}; lower the target, raise --capacity "
                "or give more --candidates"
            )
            raise DataError(msg)
        return max(need, 0.0)

    def _floors(self, floor: float) -> list[tuple[np.ndarray, float]]:
        """Per finest unit, the model residents and the residents they must add."""
        unit = self.s.demand["unit_id"].astype(str).to_numpy()
        unit_m = unit[self.red.rows]
        out, impossible = [], []
        for uid in np.unique(unit):
            in_u = unit == uid
            need = floor * self.w[in_u].sum() - self.red.fixed_by_row[in_u].sum()
            rows_u = np.flatnonzero(unit_m == uid)
            if need <= 1e-9:
                continue
            if self.w[self.red.rows[rows_u]].sum() + 1e-9 < need:
                impossible.append(str(uid))
                continue
            out.append((rows_u, need))
        if impossible:
            self.notes.append(
                f"{len(impossible)} units cannot reach {floor:.0%} of their {self.s.cohort_name} "
                f"placed even with every candidate; their floor is left out: "
                f"{', '.join(impossible[:20])}"
            )
        return out

    # greedy -----------------------------------------------------------------
    def greedy(self) -> np.ndarray:
        """Keep the audit's assignment; fill each new site with the demand left (CELF)."""
        red = self.red
        left = np.clip(self.w[red.rows] - self.before[red.rows], 0.0, None)
        order = np.lexsort((red.j.dist, red.j.col))  # by site, nearest first
        col, row = red.j.col[order], red.j.row[order]
        starts = np.searchsorted(col, np.arange(self.n_cand + 1))
        cap = self.capacity
        served = 0.0

        def gain(j: int) -> float:
            return float(min(cap, left[row[starts[j] : starts[j + 1]]].sum()))

        def take(j: int) -> None:
            nonlocal served
            idx = row[starts[j] : starts[j + 1]]
            amount = left[idx]
            before = np.cumsum(amount) - amount
            fill = np.clip(cap - before, 0.0, amount)
            np.subtract.at(left, idx, fill)
            served += float(fill.sum())

        def done() -> bool:
            return self.need is not None and served >= self.need - 1e-9

        limit = self.sites if self.sites is not None else self.n_cand
        return np.array(lazy_greedy(self.n_cand, gain, take, limit=limit, done=done), np.int64)

    # bounds -----------------------------------------------------------------
    def bounds(self) -> dict[str, float]:
        """Valid bounds on the gain (MCLP: upper) or on the sites (LSCP: lower).

        With reassignment a new site can raise the served total by people it does not
        reach itself (it frees room elsewhere), so the uncapacitated bounds on the
        residents a site reaches do not hold. What holds: ``k`` sites add at most
        ``C`` each and, per component of the reach graph, at most its unmet demand
        (:func:`increments`), hence at most the unmet demand of the components with a
        candidate (``reachable``). The greedy here is not the exact greedy on the
        served total, so its ``(1 - 1/e)`` guarantee is not claimed.
        """
        inc = increments(self.red, self.capacity, self.n_cand)
        if self.sites is None:
            assert self.need is not None  # set covering: a share to reach
            return {"fewest_by_gains": float(fewest_for(inc, self.need))}
        unmet = float(self.red.unmet_by_component.sum())
        return {"top_gains": top_k_sum(inc, min(self.sites, self.n_cand)), "reachable": unmet}

    # MILP -------------------------------------------------------------------
    def size(self) -> int:
        """Estimated variables plus constraint non-zeros of the MILP."""
        p = self.red.e.row.size + self.red.j.row.size
        return 2 * self.n_cand + 5 * p + sum(len(r) for r, _ in self.floors)

    def _build(self) -> Model:
        red, m = self.red, self.n_cand
        wm = self.w[red.rows]
        k, p_e, p_j = red.rows.size, red.e.row.size, red.j.row.size
        n_var = m + p_e + p_j
        y = m + np.arange(p_e + p_j)
        rows = np.r_[red.e.row, red.j.row]
        one = sp.csr_matrix((np.ones(p_e + p_j), (rows, y)), shape=(k, n_var))
        load_e = sp.csr_matrix((wm[red.e.row], (red.e.col, y[:p_e])), shape=(red.fac.size, n_var))
        load_j = sp.csr_matrix(
            (
                np.r_[np.full(m, -self.capacity), wm[red.j.row]],
                (np.r_[np.arange(m), red.j.col], np.r_[np.arange(m), y[p_e:]]),
            ),
            shape=(m, n_var),
        )
        served = np.r_[np.zeros(m), wm[rows]]
        cons = [
            LinearConstraint(one, -np.inf, 1.0),
            LinearConstraint(load_e, -np.inf, self.cap_e[red.fac]),
            LinearConstraint(load_j, -np.inf, 0.0),
        ]
        count = np.r_[np.ones(m), np.zeros(p_e + p_j)]
        if self.sites is not None:
            cons.append(LinearConstraint(count[None, :], 0, self.sites))
            c = -served
        else:
            assert self.need is not None
            cons.append(LinearConstraint(served[None, :], self.need + self.model_before, np.inf))
            c = count
        for rows_u, need in self.floors:
            pick = np.isin(rows, rows_u)
            row_u = np.zeros(n_var)
            row_u[y[pick]] = wm[rows[pick]]
            cons.append(LinearConstraint(row_u[None, :], need, np.inf))
        return c, cons, np.r_[np.ones(m), np.zeros(p_e + p_j)]

    def solve(self, *, deadline: float, time_limit_s: float, mip_rel_gap: float) -> ModelOutcome:
        """Greedy, then the MILP until ``deadline``; returns the solution found."""
        s = ModelOutcome(notes=list(self.notes))
        g_sel = self.greedy()
        g_gain = self.gain(g_sel)
        greedy_ok = not self.floors and (self.need is None or g_gain >= self.need - 1e-6)
        s.greedy_objective = round(g_gain if self.sites is not None else float(len(g_sel)), 3)
        if self.red.rows.size == 0 or self.red.j.row.size == 0:
            s.status, s.mip_gap, s.objective = "optimal", 0.0, 0.0
            s.bound, s.bound_source = 0.0, "exact"
            s.notes.append(
                "no candidate can serve any of the cohort left without a place, "
                "directly or by freeing room at an existing facility"
            )
            self._finish(s, np.empty(0, np.int64))
            return s
        maximise = self.sites is not None
        start = None
        if greedy_ok:  # the greedy's sites with the exact assignment, as HiGHS's start
            x = np.zeros(self.n_cand)
            x[g_sel] = 1.0
            start = np.r_[x, self._flow(g_sel)[1]]
        run = run_milp(
            self._build,
            deadline=deadline,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
            size=self.size(),
            start=start,
        )
        self._refuse_infeasible(run.status, time_limit_s, run.solution or greedy_ok, run.message)
        sel = g_sel
        solution_objective = None
        if maximise and run.dual_bound is not None:  # HiGHS bounds the flow: make it a gain
            run.dual_bound += self.model_before
        if run.solution and run.x is not None:
            sel = self._drop_useless(np.flatnonzero(run.x[: self.n_cand] > 0.5))
            solution_objective = self.gain(sel) if maximise else float(len(sel))
        used = apply_greedy_or_solution(
            s,
            run,
            maximise=maximise,
            solution_objective=solution_objective,
            greedy_objective=g_gain if maximise else float(len(g_sel)),
            bounds=self.bounds(),
            time_limit_s=time_limit_s,
            integral=not maximise,
            greedy_feasible=greedy_ok,
        )
        self._finish(s, sel if used else self._drop_useless(g_sel))
        if not maximise and s.objective != float(len(s.selected)):  # sites left out
            s.objective = float(len(s.selected))
            s.mip_gap = relative_gap(s.objective, s.bound)
        s.notes.append(self._note())
        if self.floors:
            s.notes.append(
                "the fairness floor holds for an assignment the optimizer found; the "
                "audit's assignment of the same sites (largest total, then nearest place, "
                "as in placed_share_after) may place fewer in some unit"
            )
        return s

    def _note(self) -> str:
        p = self.s
        n_e = len(self.cap_e)
        finite = self.cap_e[np.isfinite(self.cap_e)]
        existing = (
            "no existing facility"
            if n_e == 0
            else f"{n_e} existing facilities at the capacities the audit used "
            f"({finite.size} with a capacity, {n_e - finite.size} unlimited)"
        )
        return (
            f"capacity model of the audit: {p.cohort_name} assigned within "
            f"{p.threshold_m:.0f} m to {existing} and new sites of {self.capacity:g} places "
            "each, with reassignment; before = the audit's placed total "
            f"({self.before_total:,.1f}), after = the exact largest total; objective = "
            "cohort residents newly placed"
        )

    def _refuse_infeasible(
        self, status: int | None, time_limit_s: float, ok: bool, why: str
    ) -> None:
        cap = f" of capacity {self.capacity:g}"
        if status == 2 and (self.floors or self.sites is None):
            if self.floors:
                msg = (
                    "the fairness floor (--min-unit-coverage) cannot be met with "
                    f"{self.sites or 'the candidate'} sites{cap}; allow more sites, raise "
                    "--capacity or lower the floor"
                )
            else:
                msg = (
                    f"no choice of candidate sites{cap} reaches --target-coverage; lower "
                    "the target, raise --capacity or give more --candidates"
                )
            raise DataError(msg)
        if not ok:
            what = (
                "the fairness floor (--min-unit-coverage)" if self.floors else "--target-coverage"
            )
            msg = (
                f"HiGHS found no solution within --time-limit {time_limit_s:g} s ({why}), and "
                f"the greedy solution does not meet {what}; raise --time-limit, or relax the "
                "request"
            )
            raise DataError(msg)

    # the answer -------------------------------------------------------------
    def _drop_useless(self, sel: np.ndarray) -> np.ndarray:
        """Leave out, one at a time, sites without which the served total is the same.

        Floors and targets are checked again, so a site they need is kept.
        """
        sel = np.sort(np.asarray(sel, np.int64))
        total = self.flow(sel)
        for j in sel[::-1]:
            rest = sel[sel != j]
            if self.flow(rest) >= total - USELESS_GAIN and self._meets(rest):
                sel = rest
        return sel

    def _meets(self, sel: np.ndarray) -> bool:
        """Whether ``sel`` still meets the target (the floors are left to the solver)."""
        if self.floors:
            return False
        return self.need is None or self.gain(sel) >= self.need - 1e-6

    def _finish(self, s: ModelOutcome, sel: np.ndarray) -> None:
        """Rank the sites, assign as the audit does, and record the per-resident figures."""
        p = self.s
        sel = np.sort(np.asarray(sel, np.int64))
        first = self.assign(sel)
        load = first.load[-len(sel) :] if len(sel) else np.zeros(0)
        ranking = np.argsort(-np.round(load, 6), kind="stable")
        final = self.assign(sel[ranking])
        marginal = np.diff(np.r_[0.0, [self.gain(sel[ranking[: r + 1]]) for r in range(len(sel))]])
        s.selected = sel
        s.ranking = ranking
        s.marginal = np.clip(marginal, 0.0, None)
        site_served = np.zeros(len(sel))
        if len(sel):
            site_served[ranking] = final.load[-len(sel) :]
        s.site_served = site_served
        s.served_after = final.served
        s.served_before = self.before
        within = Pairs.within(p.distance[:, sel] if len(sel) else p.distance[:, :0], p.threshold_m)
        hit = np.zeros(len(p.demand), bool)
        hit[within.row] = True
        s.newly = (hit & ~p.demand["covered"].to_numpy()).astype(float)
        s.served_by = nearest_selected(p.distance, s.selected, s.newly > 0)
        total = p.demand_total
        s.capacity_figures = {
            "placed_before": round(self.before_total, 3),
            "placed_after": round(float(final.served.sum()), 3),
            "placed_share_before": round(self.before_total / total, 9) if total > 0 else None,
            "placed_share_after": (
                round(float(final.served.sum()) / total, 9) if total > 0 else None
            ),
            "assignment_status": final.status,
        }

    def assign(self, ranked: np.ndarray) -> demand_model.Assignment:
        """The audit's assignment with existing facilities plus ``ranked`` sites (in order)."""
        cols = [self.existing_distance.tocsr(), self.s.distance[:, ranked].tocsr()]
        cap = np.r_[self.cap_e, np.full(len(ranked), self.capacity)]
        return demand_model.capacity_assignment(
            sp.hstack(cols, format="csr"), self.w, cap, self.s.threshold_m
        )
