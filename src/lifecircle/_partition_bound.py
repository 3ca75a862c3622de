"""A proven lower bound of a parent's walk: the LP relaxation of the partition MILP.

Used by the heuristic (:mod:`lifecircle._partition_heuristic`) to report an honest gap,
and by the exact solver when HiGHS's own bound is weaker; with ``least_violation=True``
it proves how many residents must fall outside the population range.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from .partition import POP_TOL, SubProblem

#: Above this many admissible (block, centre) pairs the LP is not built (the bound is 0).
LP_MAX_PAIRS = 300_000


def lp_bound(
    sub: SubProblem, budget: float, *, deadline: float, least_violation: bool = False
) -> float:
    """The LP relaxation bound of the walk of splits with range violation <= ``budget``.

    Variables ``x_ij`` in ``[0, 1]`` for the admissible pairs (``x_jj``: ``j`` is a
    centre) and slacks ``s-_j, s+_j >= 0``; minimise ``sum p_i w_ij x_ij`` subject to

    - ``sum_j x_ij = 1`` and ``x_ij <= x_jj``;
    - ``lo x_jj <= sum_i p_i x_ij + s-_j``, ``sum_i p_i x_ij - s+_j <= hi x_jj``,
      ``s-_j <= lo x_jj``, ``s+_j <= total x_jj`` and ``sum_j (s-_j + s+_j) <= budget``;
    - ``x_ij <= sum_{k adjacent to i} x_kj`` (``i != j``), with the pairs that cannot be
      in a contiguous unit dropped first.

    **Proof.** Take any split of the parent into contiguous units with admissible
    centres and range violation at most ``budget``. Set ``x_ij = 1`` when ``i`` is in
    the unit centred on ``j``, ``s-_j`` / ``s+_j`` to the residents the unit centred on
    ``j`` has below ``lo`` / above ``hi`` (0 for non-centres). Every constraint holds:
    the range rows by the definition of the slacks, the slack rows since a unit below
    ``lo`` misses at most ``lo`` residents and one above ``hi`` holds at most ``total``,
    the budget by assumption; and a block ``i != j`` of the unit centred on ``j`` has, on
    a path to ``j`` inside the unit, a neighbour in the same unit (the adjacency row), and
    it is connected to ``j`` among the blocks that may walk to ``j`` (not dropped). The
    objective equals the split's walk, so the LP minimum is at most it. HiGHS's optimum
    is reduced by a relative ``1e-7`` (and 1e-6 resident-metres) for its tolerances.
    Returns 0 when the LP is too large (:data:`LP_MAX_PAIRS`), not solved to optimality
    by ``deadline`` or fails.
    """
    from ._partition_milp import _prune  # the MILP module imports this one

    keep = _prune(sub)
    pi, pj, pw = sub.pi[keep], sub.pj[keep], sub.pw[keep]
    npair, m = pi.size, sub.m
    left = deadline - time.monotonic()
    if npair > LP_MAX_PAIRS or left <= 0:
        return 0.0
    lo, hi, pop = sub.pop_min, sub.pop_max, sub.pop
    diag = np.full(m, -1, dtype=np.int64)
    diag[pj[pi == pj]] = np.flatnonzero(pi == pj)
    off = np.flatnonzero(pi != pj)
    ns = 2 * m if budget > POP_TOL or least_violation else 0
    nvar = npair + ns
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    ub: list[np.ndarray] = []
    r0 = 0

    def add(r: np.ndarray, c: np.ndarray, v: np.ndarray, count: int, rhs: np.ndarray) -> None:
        nonlocal r0
        rows.append(r + r0)
        cols.append(c)
        vals.append(np.asarray(v, dtype=float))
        ub.append(rhs)
        r0 += count

    no = off.size
    # x_ij - x_jj <= 0
    add(
        np.concatenate([np.arange(no), np.arange(no)]),
        np.concatenate([off, diag[pj[off]]]),
        np.concatenate([np.ones(no), -np.ones(no)]),
        no,
        np.zeros(no),
    )
    # x_ij - sum_{k adj i, (k, j) a pair} x_kj <= 0
    pair_id = sp.csr_matrix((np.arange(npair) + 1.0, (pi, pj)), shape=(m, m))
    adj = sub.adj.tocsr()
    deg = np.diff(adj.indptr)
    t = np.repeat(np.arange(no), deg[pi[off]])
    cnt = deg[pi[off]]
    first = np.repeat(adj.indptr[pi[off]] - (np.cumsum(cnt) - cnt), cnt)
    nbr = adj.indices[first + np.arange(t.size)]
    pid = np.full(t.size, -1, dtype=np.int64)
    if t.size:
        pid = np.asarray(pair_id[nbr, pj[off][t]]).ravel().astype(np.int64) - 1
    ok = pid >= 0
    add(
        np.concatenate([np.arange(no), t[ok]]),
        np.concatenate([off, pid[ok]]),
        np.concatenate([np.ones(no), -np.ones(int(ok.sum()))]),
        no,
        np.zeros(no),
    )
    # range: lo x_jj - sum p_i x_ij - s-_j <= 0 ; sum p_i x_ij - hi x_jj - s+_j <= 0
    cj = diag
    for sign, cap, slack in ((-1.0, lo, 0), (1.0, hi, m)):
        r = np.concatenate([pj, np.arange(m)] + ([np.arange(m)] if ns else []))
        c = np.concatenate([np.arange(npair), cj] + ([npair + slack + np.arange(m)] if ns else []))
        v = np.concatenate(
            [sign * pop[pi], -sign * cap * np.ones(m)] + ([-np.ones(m)] if ns else [])
        )
        # the diagonal pair appears in both parts: sum p_i x_ij includes x_jj itself
        add(r, c, v, m, np.zeros(m))
    if ns:
        # s-_j - lo x_jj <= 0 ; s+_j - total x_jj <= 0 ; sum s <= budget
        for slack, cap in ((0, lo), (m, sub.total)):
            add(
                np.concatenate([np.arange(m), np.arange(m)]),
                np.concatenate([npair + slack + np.arange(m), cj]),
                np.concatenate([np.ones(m), -cap * np.ones(m)]),
                m,
                np.zeros(m),
            )
        budget_row = np.array([budget * (1.0 + 1e-9) + 1e-6])
        add(np.zeros(ns, dtype=np.int64), npair + np.arange(ns), np.ones(ns), 1, budget_row)
    a_ub = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r0, nvar)
    )
    a_eq = sp.csr_matrix((np.ones(npair), (pi, np.arange(npair))), shape=(m, nvar))
    cost = np.concatenate([pop[pi] * pw, np.zeros(ns)])
    if least_violation:  # the least range violation instead (``budget`` is ignored)
        cost = np.concatenate([np.zeros(npair), np.ones(ns)])
        ub[-1] = np.array([sub.total * m])
    bounds = [(0.0, 1.0)] * npair + [(0.0, None)] * ns
    try:
        res = linprog(
            cost,
            A_ub=a_ub,
            b_ub=np.concatenate(ub),
            A_eq=a_eq,
            b_eq=np.ones(m),
            bounds=bounds,
            method="highs",
            options={"time_limit": max(left, 0.01)},
        )
    except (ValueError, RuntimeError):
        return 0.0
    if res.status != 0 or res.fun is None:
        return 0.0
    return max(0.0, float(res.fun) * (1.0 - 1e-7) - 1e-6)
