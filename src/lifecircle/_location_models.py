"""Location models behind :class:`lifecircle.optimize.Siting`: MCLP, LSCP, p-median.

Each model reads the siting problem (demand, sparse distances, options), runs a
lazy greedy (CELF), solves the MILP with HiGHS through
:func:`scipy.optimize.milp`, and writes the solution back onto the siting.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .errors import DataError

if TYPE_CHECKING:
    from .optimize import Siting


def lazy_greedy(n_items: int, gain: Callable[[int], float], take: Callable[[int], None], *,
                limit: int, done: Callable[[], bool] = lambda: False) -> list[int]:
    """Lazy greedy (CELF): pick items by largest marginal gain, re-evaluating stale gains.

    Exact greedy for gains that never grow as items are taken (submodular
    objectives such as coverage and distance saved). ``take(j)`` commits item
    ``j``; picking stops at ``limit`` items, when ``done()``, or when no item
    gains anything.
    """
    heap = [(-gain(j), j, 0) for j in range(n_items)]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < limit and not done():
        neg, j, stamp = heapq.heappop(heap)
        if stamp != len(chosen):
            heapq.heappush(heap, (-gain(j), j, len(chosen)))
            continue
        if -neg <= 1e-12:
            break
        take(j)
        chosen.append(j)
    return chosen


class Covering:
    """MCLP / LSCP, optionally capacitated and with a per-unit floor."""

    def __init__(self, s: Siting, *, sites: int | None, target_coverage: float | None,
                 capacity: float | None, min_unit_coverage: float | None) -> None:
        self.s = s
        self.sites = sites
        self.capacity = capacity
        d = s.demand
        self.w_all = d["population"].to_numpy(float)
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
            need = target_coverage * s.population - s.covered_before
            reachable = float(self.w.sum())
            if need > reachable + 1e-6:
                best = (s.covered_before + reachable) / s.population
                msg = (f"--target-coverage {target_coverage:.1%} is out of reach: with every "
                       f"candidate site at most {best:.1%} of residents are covered for "
                       f"{s.category}; lower the target or give more --candidates")
                raise DataError(msg)
            self.need = max(need, 0.0)
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
            s.notes.append(
                f"{len(impossible)} units cannot reach {floor:.0%} coverage even with every "
                f"candidate; their floor is left out: {', '.join(impossible[:20])}")
        return out

    # greedy -------------------------------------------------------------
    def greedy(self) -> tuple[np.ndarray, np.ndarray]:
        """Lazy greedy (CELF); returns selected candidates and served fraction per row."""
        cover_csc = self.cover.tocsc()
        remaining = np.ones(len(self.rows))  # unserved fraction
        cap = np.inf if self.capacity is None else self.capacity

        def gain(j: int) -> float:
            idx = cover_csc.indices[cover_csc.indptr[j]:cover_csc.indptr[j + 1]]
            return float(min(cap, (self.w[idx] * remaining[idx]).sum()))

        self.greedy_loads = np.zeros(self.n_cand)
        covered = 0.0

        def take(j: int) -> None:
            nonlocal covered
            idx = cover_csc.indices[cover_csc.indptr[j]:cover_csc.indptr[j + 1]]
            self.greedy_loads[j] = self._serve(idx, remaining, cap)
            covered += self.greedy_loads[j]

        def done() -> bool:
            return self.need is not None and covered >= self.need - 1e-9

        chosen = lazy_greedy(self.n_cand, gain, take, done=done,
                             limit=self.sites if self.sites is not None else self.n_cand)
        return np.array(chosen, np.int64), 1.0 - remaining

    def _serve(self, idx: np.ndarray, remaining: np.ndarray, cap: float) -> float:
        if not np.isfinite(cap):
            take = float((self.w[idx] * remaining[idx]).sum())
            remaining[idx] = 0.0
            return take
        left, take = cap, 0.0
        for i in idx:  # capacity: fill residents in row order until the site is full
            amount = min(self.w[i] * remaining[i], left)
            if amount <= 0:
                continue
            remaining[i] -= amount / self.w[i]
            left -= amount
            take += amount
            if left <= 0:
                break
        return take

    # MILP ---------------------------------------------------------------
    def _build(self, greedy_value: float | None):
        m, k = self.n_cand, len(self.rows)
        cover = self.cover.tocoo()
        if self.capacity is None:
            # variables: x (m binary), z (k continuous)
            n_var = m + k
            a_link = sp.hstack([-self.cover, sp.identity(k)]).tocsr()  # z - A x <= 0
            served = sp.hstack([sp.csr_matrix((1, m)), sp.csr_matrix(self.w[None, :])])
            rows_for = lambda rows_u: sp.hstack([  # noqa: E731
                sp.csr_matrix((1, m)),
                sp.csr_matrix((self.w[rows_u], (np.zeros(len(rows_u)), rows_u)), shape=(1, k))])
            cons = [LinearConstraint(a_link, -np.inf, 0.0)]
        else:
            # variables: x (m binary), y (one per reachable pair)
            p = cover.nnz
            n_var = m + p
            one_each = sp.csr_matrix((np.ones(p), (cover.row, np.arange(p))), shape=(k, p))
            load = sp.csr_matrix((self.w[cover.row], (cover.col, np.arange(p))), shape=(m, p))
            a_one = sp.hstack([sp.csr_matrix((k, m)), one_each])
            a_cap = sp.hstack([-self.capacity * sp.identity(m), load])
            served = sp.hstack([sp.csr_matrix((1, m)),
                                sp.csr_matrix(self.w[cover.row][None, :])])
            rows_for = lambda rows_u: sp.hstack([  # noqa: E731
                sp.csr_matrix((1, m)),
                sp.csr_matrix(one_each[rows_u].multiply(self.w[rows_u][:, None]).sum(axis=0))])
            cons = [LinearConstraint(a_one, -np.inf, 1.0), LinearConstraint(a_cap, -np.inf, 0.0)]
            self._pairs = cover
        count = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n_var - m))])
        if self.sites is not None:
            cons.append(LinearConstraint(count, 0, self.sites))
            c = -served.toarray().ravel()
        else:
            cons.append(LinearConstraint(served, self.need, np.inf))
            c = count.toarray().ravel()
        for rows_u, need in self.floors:
            cons.append(LinearConstraint(rows_for(rows_u), need, np.inf))
        if greedy_value is not None and self.sites is not None:
            cons.append(LinearConstraint(served, greedy_value * (1 - 1e-9), np.inf))
        integrality = np.r_[np.ones(m), np.zeros(n_var - m)]
        return c, cons, integrality

    def solve(self, *, time_limit_s: float, mip_rel_gap: float) -> None:
        s = self.s
        g_sel, g_frac = self.greedy()
        g_value = float((self.w * g_frac).sum())
        greedy_ok = not self.floors and (self.need is None or g_value >= self.need - 1e-6)
        s.greedy_objective = round(g_value if self.sites is not None else float(len(g_sel)), 3)
        if len(self.rows) == 0:
            s.selected, s.status, s.mip_gap, s.objective = g_sel, "optimal", 0.0, 0.0
            s.notes.append("no uncovered resident can be reached by any candidate")
            self._finish(np.empty(0, np.int64), np.zeros(0), None)
            return
        c, cons, integrality = self._build(g_value if greedy_ok else None)
        res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1),
                   options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap,
                            "disp": False})
        m = self.n_cand
        if res.x is not None and res.status in (0, 1):
            x = res.x
            sel = np.flatnonzero(x[:m] > 0.5)
            s.status = "optimal" if res.status == 0 else "time_limit"
            s.mip_gap = None if res.mip_gap is None else round(float(res.mip_gap), 6)
            s.objective = round(float(-res.fun if self.sites is not None else res.fun), 3)
            s.bound = (None if res.mip_dual_bound is None else
                       round(float(-res.mip_dual_bound if self.sites is not None
                                   else res.mip_dual_bound), 3))
            frac, loads = self._fractions(sel, x)
        elif res.status == 2 and self.floors:
            msg = ("the fairness floor (--min-unit-coverage) cannot be met with "
                   f"{self.sites} sites; allow more sites or lower the floor")
            raise DataError(msg)
        else:
            if not greedy_ok:
                msg = f"the solver found no solution ({res.message}) and greedy is infeasible"
                raise DataError(msg)
            relax = milp(c, constraints=cons, bounds=Bounds(0, 1),
                         options={"time_limit": time_limit_s})
            sel, frac, loads = g_sel, g_frac, self.greedy_loads
            s.status = "greedy"
            s.objective = s.greedy_objective
            if relax.x is not None:
                s.bound = round(float(-relax.fun if self.sites is not None else relax.fun), 3)
                s.mip_gap = (round(abs(s.bound - s.objective) / max(abs(s.bound), 1e-9), 6))
            s.notes.append(f"HiGHS returned no solution ({res.message}); greedy used")
        self._finish(sel, frac, loads if self.capacity is not None else None)

    def _fractions(self, sel: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self.capacity is None:
            hit = np.asarray(self.cover[:, sel].sum(axis=1)).ravel() > 0
            return hit.astype(float), None
        y = x[self.n_cand:]
        frac = np.bincount(self._pairs.row, weights=y, minlength=len(self.rows))
        loads = np.bincount(self._pairs.col, weights=self.w[self._pairs.row] * y,
                            minlength=self.n_cand)
        return np.clip(frac, 0.0, 1.0), loads

    def _finish(self, sel: np.ndarray, frac_rows: np.ndarray, loads: np.ndarray | None
                ) -> None:
        s = self.s
        s.selected = np.sort(sel)
        newly = np.zeros(len(s.demand))
        newly[self.rows] = frac_rows
        s.newly = newly
        s.served_by = nearest_selected(s.distance, s.selected, newly > 1e-12)
        s.site_served = (served_per_site(s) if loads is None else loads[s.selected])


class PMedian:
    """Minimise total walking distance to the nearest facility, existing or new."""

    def __init__(self, s: Siting, sites: int) -> None:
        self.s, self.sites = s, sites
        d = s.demand
        self.w = d["population"].to_numpy(float)
        self.d0 = np.nan_to_num(d["dist_m"].to_numpy(float), nan=s.radius_m)
        coo = s.distance.tocoo()
        better = coo.data < self.d0[coo.row] - 1e-9
        self.row, self.col, self.dist = coo.row[better], coo.col[better], coo.data[better]
        self.n_cand = s.distance.shape[1]

    def _saving(self, selected: list[int]) -> float:
        best = self.d0.copy()
        pick = np.isin(self.col, selected)
        np.fmin.at(best, self.row[pick], self.dist[pick])
        return float((self.w * (self.d0 - best)).sum())

    def greedy(self) -> np.ndarray:
        current = self.d0.copy()
        by_col = np.argsort(self.col, kind="stable")
        starts = np.searchsorted(self.col[by_col], np.arange(self.n_cand + 1))

        def gain(j: int) -> float:
            idx = by_col[starts[j]:starts[j + 1]]
            r = self.row[idx]
            return float((self.w[r] * np.maximum(current[r] - self.dist[idx], 0)).sum())

        def take(j: int) -> None:
            idx = by_col[starts[j]:starts[j + 1]]
            np.fmin.at(current, self.row[idx], self.dist[idx])

        chosen = lazy_greedy(self.n_cand, gain, take, limit=self.sites)
        return np.array(chosen, np.int64)

    def solve(self, *, time_limit_s: float, mip_rel_gap: float) -> None:
        s, m, p = self.s, self.n_cand, len(self.row)
        g_sel = self.greedy()
        g_value = self._saving(g_sel.tolist())
        s.greedy_objective = round(g_value, 3)
        # maximise saving: sum w_i (d0_i - d_ij) y_ij
        c = np.r_[np.zeros(m), -(self.w[self.row] * (self.d0[self.row] - self.dist))]
        one_each = sp.csr_matrix((np.ones(p), (self.row, np.arange(p))),
                                 shape=(len(self.w), p))
        link = sp.hstack([-sp.csr_matrix((np.ones(p), (np.arange(p), self.col)), shape=(p, m)),
                          sp.identity(p)])
        cons = [
            LinearConstraint(sp.hstack([sp.csr_matrix((len(self.w), m)), one_each]), -np.inf, 1),
            LinearConstraint(link, -np.inf, 0),
            LinearConstraint(np.r_[np.ones(m), np.zeros(p)][None, :], 0, self.sites),
            LinearConstraint(-c[None, :], g_value * (1 - 1e-9), np.inf),
        ]
        res = milp(c, constraints=cons, integrality=np.r_[np.ones(m), np.zeros(p)],
                   bounds=Bounds(0, 1),
                   options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap})
        if res.x is not None and res.status in (0, 1):
            sel = np.flatnonzero(res.x[:m] > 0.5)
            s.status = "optimal" if res.status == 0 else "time_limit"
            s.mip_gap = None if res.mip_gap is None else round(float(res.mip_gap), 6)
            s.objective = round(float(-res.fun), 3)
            s.bound = None if res.mip_dual_bound is None else round(-res.mip_dual_bound, 3)
        else:
            sel = g_sel
            s.status, s.objective = "greedy", s.greedy_objective
            s.bound, s.mip_gap = greedy_bound(g_value)
            s.notes.append(f"HiGHS returned no solution ({res.message}); greedy used, with "
                           "the (1 - 1/e) bound of greedy for submodular maximisation")
        s.selected = np.sort(sel)
        new = s._new_distance()
        s.newly = ((new <= s.threshold_m) & ~s.demand["covered"].to_numpy()).astype(float)
        s.served_by = nearest_selected(s.distance, s.selected, new < self.d0)
        s.site_served = served_per_site(s, all_residents=True)
        s.notes.append(f"distances capped at {s.radius_m:.0f} m (the audit's cut-off); "
                       "objective = total person-metres saved")


def greedy_bound(value: float) -> tuple[float, float]:
    """Upper bound and gap of a greedy value for monotone submodular maximisation."""
    bound = value / (1.0 - 1.0 / np.e)
    return round(bound, 3), round(1.0 - 1.0 / np.e if value > 0 else 0.0, 6)


def served_per_site(s: Siting, *, all_residents: bool = False) -> np.ndarray:
    """Residents assigned to each selected site (newly covered ones, or all it serves)."""
    mask = s.served_by >= 0
    weight = s.demand["population"].to_numpy() * (1.0 if all_residents else s.newly)
    pos = np.searchsorted(s.selected, s.served_by[mask])
    return np.bincount(pos, weights=np.broadcast_to(weight, mask.shape)[mask],
                       minlength=len(s.selected))


def nearest_selected(distance: sp.csr_matrix, selected: np.ndarray, mask: np.ndarray
                      ) -> np.ndarray:
    """Per resident, the selected candidate nearest to it (-1 where ``mask`` is False)."""
    out = np.full(distance.shape[0], -1, np.int64)
    if len(selected) == 0:
        return out
    sub = distance[:, selected].tocoo()
    order = np.lexsort((sub.data, sub.row))
    rows, cols = sub.row[order], sub.col[order]
    first = np.ones(len(rows), bool)
    first[1:] = rows[1:] != rows[:-1]
    out[rows[first]] = selected[cols[first]]
    out[~mask] = -1
    return out


def rank_sites(s: Siting) -> tuple[np.ndarray, np.ndarray]:
    """Order the selected sites greedily by marginal gain; return order and gains."""
    sel = s.selected
    if len(sel) == 0:
        return np.empty(0, np.int64), np.empty(0)
    if s.options.get("capacity") is not None:
        order = np.argsort(-s.site_served, kind="stable")
        return order, s.site_served[order]
    w = s.demand["population"].to_numpy()
    sub = s.distance[:, sel].tocsc()
    if s.model == "pmedian":
        current = np.nan_to_num(s.demand["dist_m"].to_numpy(), nan=s.radius_m)
    else:
        current = None
        open_w = w * s.newly
    order, gains, left = [], [], list(range(len(sel)))
    while left:
        best, best_gain = None, -1.0
        for j in left:
            idx = sub.indices[sub.indptr[j]:sub.indptr[j + 1]]
            if current is not None:
                g = float((w[idx] * np.maximum(current[idx] - sub.data[sub.indptr[j]:
                                                                        sub.indptr[j + 1]], 0)
                           ).sum())
            else:
                g = float(open_w[idx].sum())
            if g > best_gain:
                best, best_gain = j, g
        idx = sub.indices[sub.indptr[best]:sub.indptr[best + 1]]
        if current is not None:
            np.fmin.at(current, idx, sub.data[sub.indptr[best]:sub.indptr[best + 1]])
        else:
            open_w[idx] = 0.0
        order.append(best)
        gains.append(best_gain)
        left.remove(best)
    return np.array(order), np.array(gains)


