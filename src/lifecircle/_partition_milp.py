"""The exact partition MILP (HiGHS through :func:`scipy.optimize.milp`), one parent at a time.

For one parent with blocks ``i`` (population ``p_i``) and admissible pairs ``(i, j)``
(``walk_m`` has an entry and both blocks are in the parent; ``(j, j)`` always):

- ``x_ij`` binary, block ``i`` in the unit centred on ``j``; ``y_j = x_jj``.
- Assignment: ``sum_j x_ij = 1``; ``x_ij <= x_jj``.
- Population: ``sum_i p_i x_ij + s-_j >= pop_min x_jj`` and
  ``sum_i p_i x_ij - s+_j <= pop_max x_jj`` with slacks ``0 <= s-_j <= pop_min``,
  ``0 <= s+_j <= total`` (residents outside the range).
- Contiguity (Shirabe 2005, 2009: single-commodity flows, one commodity per centre):
  centre ``j`` sends one unit of flow to every block assigned to it, along adjacency arcs
  ``a -> b`` between blocks that may both be assigned to ``j`` (``b != j``):
  ``inflow_j(a) - outflow_j(a) = x_aj`` for ``a != j`` and
  ``f_j(a -> b) <= (n_j - 1) x_bj`` where ``n_j`` is the number of blocks that may be
  assigned to ``j``. Valid cut (tightens the LP): a block assigned to ``j != i`` has a
  neighbour assigned to ``j``: ``x_ij <= sum_{k adjacent to i} x_kj``. Pairs ``(i, j)``
  where ``i`` is not connected to ``j`` among the blocks that may be assigned to ``j`` are
  dropped first (they can never be in a contiguous unit).
- The number of units is free.

**Objective and penalty rule.** ``sum p_i w_ij x_ij / W + sum_j (s-_j + s+_j)`` where
``W = 1 + sum_i p_i max_j w_ij`` bounds the walk of every split. The walk term is
below 1, so one resident less of range violation outweighs any change of walk: the
solver minimises the total range violation first (to within one resident), then the
walk — one MILP for the lexicographic optimum. The heuristic runs first
(:mod:`lifecircle._partition_heuristic`); when it finds a split within the range, the
minimum violation is 0 and the slacks are left out (the range becomes a hard
constraint): a smaller, better-scaled model with the same optimum.

**Bounds.** With status ``"optimal"`` HiGHS proved the optimum (gap below
``MIP_REL_GAP``). At the time limit, the best of HiGHS's incumbent and the heuristic's
split is returned with HiGHS's dual bound, turned into a bound of the walk among splits
with the same violation ``V``: ``W * (dual - V)`` (or, in the hard model, the dual bound
and :func:`lifecircle.partition.min_walk_bound`, whichever is larger). Without a dual
bound from HiGHS the bound is that combinatorial one (or 0 out of range). Either way it
is raised to the heuristic's LP relaxation bound
(:func:`lifecircle._partition_bound.lp_bound`) when the returned split's violation
is at most the heuristic's (that LP bound holds for every split with violation at most
the heuristic's, a superset).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import LinearConstraint
from scipy.sparse.csgraph import connected_components

from ._location_models import run_milp
from ._partition_heuristic import solve_parent as heuristic_parent
from .partition import POP_TOL, SubProblem, SubResult, min_walk_bound, pair_walk, violation

#: HiGHS's relative gap tolerance (the walk is optimal to this share).
MIP_REL_GAP = 1e-7
#: Share of a parent's time given to the heuristic that runs first.
HEURISTIC_SHARE = 0.1


def _prune(sub: SubProblem) -> np.ndarray:
    """Mask of the pairs ``(i, j)`` with ``i`` connected to ``j`` among ``j``'s candidates.

    One connected-components call per centre, on the centre's candidates only
    (``O(sum_j |C_j| + edges among them)``).
    """
    keep = np.ones(sub.pi.size, dtype=bool)
    order = np.argsort(sub.pj, kind="stable")
    starts = np.searchsorted(sub.pj[order], np.arange(sub.m + 1))
    for j in range(sub.m):
        idx = order[starts[j] : starts[j + 1]]
        members = sub.pi[idx]
        if members.size <= 1:
            continue
        _, comp = connected_components(sub.adj[members][:, members], directed=False)
        keep[idx] = comp == comp[members == j][0]
    return keep


class _Rows:
    """Constraint rows gathered as COO triplets with their lower and upper limits."""

    def __init__(self) -> None:
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.vals: list[np.ndarray] = []
        self.lbs: list[np.ndarray] = []
        self.ubs: list[np.ndarray] = []
        self.n = 0

    def add(self, r: np.ndarray, c: np.ndarray, v: np.ndarray | float) -> None:
        """Coefficients ``v`` at rows ``r`` (absolute) and columns ``c``."""
        self.rows.append(r)
        self.cols.append(c)
        self.vals.append(np.broadcast_to(np.asarray(v, dtype=float), r.shape))

    def close(self, count: int, lb: float, ub: float) -> None:
        """The last ``count`` rows are done: ``lb <= row <= ub``."""
        self.lbs.append(np.full(count, lb))
        self.ubs.append(np.full(count, ub))
        self.n += count

    def constraint(self, nvar: int) -> tuple[LinearConstraint, int]:
        """The constraint and its number of non-zeros."""
        a_mat = sp.csr_matrix(
            (np.concatenate(self.vals), (np.concatenate(self.rows), np.concatenate(self.cols))),
            shape=(self.n, nvar),
        )
        return LinearConstraint(
            a_mat, np.concatenate(self.lbs), np.concatenate(self.ubs)
        ), a_mat.nnz


def _contiguity(sub: SubProblem, pidx: np.ndarray, rows: _Rows, f0: int) -> int:
    """Flow conservation, capacity and neighbour-cut rows; returns the number of flows."""
    pi, pj = sub.pi, sub.pj
    npair = pi.size
    coo = sub.adj.tocoo()
    ea, eb = coo.row.astype(np.int64), coo.col.astype(np.int64)
    allowed = pidx >= 0
    e_all, j_all = np.nonzero(allowed[ea] & allowed[eb])
    fl = eb[e_all] != j_all  # flows: arcs a -> b between candidates of j, b != j
    fe, fj = e_all[fl], j_all[fl]
    nflow = fe.size
    cap = np.bincount(pj, minlength=sub.m).astype(float) - 1.0
    od = np.flatnonzero(pi != pj)
    # conservation at a != j: cap_j (in - out) - x_aj = 0 (one row per off-diagonal pair)
    prow = np.full(npair, -1, dtype=np.int64)
    prow[od] = rows.n + np.arange(od.size)
    fcol = f0 + np.arange(nflow)
    rows.add(prow[pidx[eb[fe], fj]], fcol, cap[fj])
    src = ea[fe] != fj
    rows.add(prow[pidx[ea[fe[src]], fj[src]]], fcol[src], -cap[fj[src]])
    rows.add(prow[od], od, -1.0)
    rows.close(od.size, 0.0, 0.0)
    # capacity: f_j(a -> b) - x_bj <= 0
    r = rows.n + np.arange(nflow)
    rows.add(r, fcol, 1.0)
    rows.add(r, pidx[eb[fe], fj], -1.0)
    rows.close(nflow, -np.inf, 0.0)
    # neighbour cut: x_ij - sum_{k ~ i} x_kj <= 0 for i != j
    cut_row = np.full(npair, -1, dtype=np.int64)
    cut_row[od] = rows.n + np.arange(od.size)
    rows.add(cut_row[od], od, 1.0)
    ce = ea[e_all] != j_all
    rows.add(cut_row[pidx[ea[e_all[ce]], j_all[ce]]], pidx[eb[e_all[ce]], j_all[ce]], -1.0)
    rows.close(od.size, -np.inf, 0.0)
    return int(nflow)


def _build(sub: SubProblem, hard: bool) -> tuple:
    """The model ``(c, [constraint], integrality)``, the walk scale ``W`` and the model size.

    Variables: the pairs ``x`` first, then (unless ``hard``) the slacks ``s-`` and ``s+``
    per centre, each scaled to [0, 1] (by ``pop_min`` and the parent's residents), then
    the flows, scaled to [0, 1] by their centre's ``n_j - 1``.
    """
    m = sub.m
    pi, pj, pw = sub.pi, sub.pj, sub.pw
    npair = pi.size
    pidx = np.full((m, m), -1, dtype=np.int64)
    pidx[pi, pj] = np.arange(npair)
    wmax = np.zeros(m)
    np.maximum.at(wmax, pi, pw)
    scale = 1.0 + float(sub.pop @ wmax)
    s0 = npair
    f0 = npair + (0 if hard else 2 * m)
    rows = _Rows()
    # assignment: sum_j x_ij = 1
    rows.add(pi, np.arange(npair), 1.0)
    rows.close(m, 1.0, 1.0)
    # link: x_ij - x_jj <= 0
    od = np.flatnonzero(pi != pj)
    r = rows.n + np.arange(od.size)
    rows.add(r, od, 1.0)
    rows.add(r, pidx[pj[od], pj[od]], -1.0)
    rows.close(od.size, -np.inf, 0.0)
    # population range per centre, with slacks unless hard
    diag = pidx[np.arange(m), np.arange(m)]
    for bound_pop, sign in ((sub.pop_min, 1.0), (sub.pop_max, -1.0)):
        rows.add(rows.n + pj, np.arange(npair), sub.pop[pi])
        rows.add(rows.n + np.arange(m), diag, -bound_pop)
        if not hard:
            slack_col = s0 + np.arange(m) + (0 if sign > 0 else m)
            slack_cap = sub.pop_min if sign > 0 else sub.total
            rows.add(rows.n + np.arange(m), slack_col, sign * slack_cap)
        rows.close(m, *((0.0, np.inf) if sign > 0 else (-np.inf, 0.0)))
    nvar = f0 + _contiguity(sub, pidx, rows, f0)
    constraint, nnz = rows.constraint(nvar)
    c = np.zeros(nvar)
    c[:npair] = sub.pop[pi] * pw / scale
    if not hard:
        c[s0 : s0 + m] = sub.pop_min
        c[s0 + m : s0 + 2 * m] = sub.total
    integrality = np.zeros(nvar)
    integrality[:npair] = 1
    return (c, [constraint], integrality), scale, nvar + nnz


def _split(sub: SubProblem, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit per block and centre per unit from the ``x`` part of a MILP solution."""
    chosen = np.flatnonzero(x[: sub.pi.size] > 0.5)
    block_centre = np.full(sub.m, -1, dtype=np.int64)
    block_centre[sub.pi[chosen]] = sub.pj[chosen]
    centre = np.unique(block_centre)
    return np.searchsorted(centre, block_centre), centre


def _walk(sub: SubProblem, unit: np.ndarray, centre: np.ndarray) -> float:
    look = sub.walk_lookup()
    w = pair_walk(look, np.arange(sub.m), centre[unit])
    return float(sub.pop @ np.maximum(w, 0.0))


def solve_parent(sub: SubProblem, *, deadline: float) -> SubResult:
    """Solve one parent exactly, within ``deadline`` (``time.monotonic()`` seconds)."""
    t0 = time.monotonic()
    h_deadline = t0 + HEURISTIC_SHARE * max(deadline - t0, 0.0)
    heur = heuristic_parent(sub, rng=np.random.default_rng(0), deadline=h_deadline)
    if sub.m == 1:
        return SubResult(heur.unit, heur.centre, 0.0, heur.violation, 0.0, "optimal")
    hard = heur.violation <= POP_TOL and not heur.note
    keep = _prune(sub)
    pruned = SubProblem(
        sub.label, sub.blocks, sub.pop, sub.adj, sub.pi[keep], sub.pj[keep], sub.pw[keep],
        sub.pop_min, sub.pop_max,
    )  # fmt: skip
    model, scale, size = _build(pruned, hard)
    run = run_milp(
        lambda: model,
        deadline=deadline,
        time_limit_s=max(deadline - t0, 0.01),
        mip_rel_gap=MIP_REL_GAP,
        size=size,
    )
    best = heur
    status = "time_limit"
    if run.solution and run.x is not None:
        unit, centre = _split(pruned, run.x)
        unit_pop = np.bincount(unit, weights=sub.pop, minlength=centre.size)
        v = float(violation(unit_pop, sub.pop_min, sub.pop_max).sum())
        walk = _walk(sub, unit, centre)
        better = v < heur.violation - POP_TOL or (
            v <= heur.violation + POP_TOL and walk <= heur.walk
        )
        if better or heur.note:
            best = SubResult(unit, centre, walk, v, 0.0, "optimal")
        if run.status == 0:
            status = "optimal"
    note = "" if run.solution or run.status is None else f"HiGHS: {run.message}"
    if run.dual_bound is not None:
        dual = (
            run.dual_bound if run.status != 0 or run.fun is None else min(run.dual_bound, run.fun)
        )
        bound = scale * (dual - (0.0 if hard else best.violation))
    else:
        bound = 0.0
    if best.violation <= POP_TOL:
        bound = max(bound, min_walk_bound(sub))
    if best.violation <= heur.violation + POP_TOL and not heur.note:
        # the heuristic's LP bound holds for every split with violation <= its own
        bound = max(bound, heur.bound)
    return SubResult(
        best.unit, best.centre, best.walk, best.violation, max(0.0, bound), status, note
    )
