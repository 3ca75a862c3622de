"""Capacity-constrained coverage: residents assigned to facilities with room (exact LP).

The method (the transportation problem, its lexicographic objective solved as one HiGHS
LP, and the exact reductions before it) is described in :mod:`lifecircle.demand`, from
which :class:`Assignment` and :func:`capacity_assignment` are importable.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

from ._demand_inputs import _pairs, _per, _sum_by, _threshold

#: HiGHS methods tried in turn for the capacity LP: interior point with crossover first
#: (at 1M walk nodes the health centres' LP, 95,299 pairs, took 8.6 s with the dual
#: simplex and 2.5 s so), the dual simplex if it fails
LP_METHODS = ("highs-ipm", "highs-ds")


@dataclasses.dataclass(frozen=True)
class Assignment:
    """Capacity-constrained assignment of residents to facilities within the threshold.

    Attributes
    ----------
    served
        Per origin: residents assigned to a facility with room, within the threshold.
    load
        Per facility: residents assigned to it (<= its capacity).
    unmet
        Per origin: ``demand - served``.
    total_served
        ``served.sum()``.
    resident_m
        Resident-metres walked by the residents served (the second objective).
    status
        ``"optimal"``: the LP was solved (or none was needed).
    """

    served: np.ndarray
    load: np.ndarray
    unmet: np.ndarray
    total_served: float
    resident_m: float
    status: str


def _nearest_unlimited(
    row: np.ndarray, col: np.ndarray, data: np.ndarray, unlimited: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per origin, the distance to and index of its nearest unlimited facility (inf, -1)."""
    u = unlimited[col]
    r, c, d = row[u], col[u], data[u]
    dist = np.full(n, np.inf)
    idx = np.full(n, -1, np.int64)
    if r.size:
        # the pairs come by row, then facility: per row the smallest distance (reduceat),
        # and the first pair at it (the lowest facility among ties); no sort
        first = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        least = np.minimum.reduceat(d, first)
        at = np.flatnonzero(d == np.repeat(least, np.diff(np.r_[first, r.size])))
        at = at[np.r_[True, r[at][1:] != r[at][:-1]]]
        dist[r[at]] = d[at]
        idx[r[at]] = c[at]
    return dist, idx


def _reduce(
    row: np.ndarray,
    col: np.ndarray,
    data: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact reductions before the LP; returns (anchor_m, anchor, mask of the LP pairs).

    A facility that can hold all the demand of the pairs that may use it never fills, so
    it is unlimited. An origin reaching an unlimited facility is fully served; only its
    pairs to finite facilities strictly nearer than its nearest unlimited one (its
    *anchor*, at ``anchor_m``) may be used. Dropping pairs lowers the demand that may use
    a facility, so the two steps repeat until no facility is added (at most once per
    facility; in practice a few rounds).
    """
    n, m = demand.size, capacity.size
    unlimited = np.isinf(capacity)
    # pairs whose origin might still end up at the facility: not farther than the origin's
    # anchor (a tie counts: a facility that becomes unlimited at the anchor's distance may
    # become the anchor, so it must be able to hold those residents too)
    candidate = np.ones(row.size, bool)
    while True:
        reach = _sum_by(col[candidate], demand[row[candidate]], m)
        grown = unlimited | (capacity >= reach)
        anchor_m, anchor = _nearest_unlimited(row, col, data, grown, n)
        usable = ~grown[col] & (data < anchor_m[row])
        candidate = ~grown[col] & (data <= anchor_m[row])
        if np.array_equal(grown, unlimited):
            return anchor_m, anchor, usable
        unlimited = grown


def _transport_lp(
    prow: np.ndarray,
    pcol: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    cost: np.ndarray,
) -> tuple[np.ndarray | None, str]:
    """Minimise ``cost @ x``: origin sums <= demand, facility sums <= capacity, x >= 0."""
    p = prow.size
    rows, rinv = np.unique(prow, return_inverse=True)
    cols, cinv = np.unique(pcol, return_inverse=True)
    ones = np.ones(p)
    a_ub = sp.vstack(
        [
            sp.csr_matrix((ones, (rinv, np.arange(p))), shape=(rows.size, p)),
            sp.csr_matrix((ones, (cinv, np.arange(p))), shape=(cols.size, p)),
        ],
        format="csr",
    )
    b_ub = np.concatenate([demand[rows], capacity[cols]])
    # interior point, then crossover to an optimal vertex (as simplex gives); the dual
    # simplex only if that fails (see the module docstring of lifecircle.demand for why)
    for method in LP_METHODS:
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method=method)
        if res.status == 0 and res.x is not None:
            return np.clip(res.x, 0.0, None), "optimal"
    return None, str(res.message)


def _served_reward(prow: np.ndarray, pcol: np.ndarray, n: int, m: int, scale: float) -> np.ndarray:
    """Per LP pair, a reward per resident served that makes one LP lexicographic.

    In ``min sum (d_p - M_p) x_p`` an augmenting path that serves more residents changes
    the resident-metres by at most ``(k + 1) * scale`` per resident, where ``k`` is the
    number of facilities on it (at most those of its connected component of the pair
    graph) and ``scale`` bounds every distance (pairs and anchors). With ``M_p`` above
    that for the pair's component, every optimum serves the most residents and, among
    those, walks the fewest resident-metres: the lexicographic optimum, in one LP.
    """
    graph = sp.csr_matrix((np.ones(prow.size), (prow, n + pcol)), shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    facilities = np.bincount(label[n + np.unique(pcol)], minlength=label.max() + 1)
    return (facilities[label[prow]] + 2.0) * scale + 1.0


def capacity_assignment(
    distance: sp.spmatrix,
    demand: np.ndarray,
    capacity: np.ndarray,
    threshold_m: float,
) -> Assignment:
    """Residents served by a facility with room within the threshold (exact LP).

    Maximises the residents served, then, with that total fixed, minimises the
    resident-metres, so residents go to the nearest facility with room. Residents of one
    origin may be split between facilities.

    Parameters
    ----------
    distance
        Origins x facilities, walking metres, only pairs within the search cut-off.
    demand
        Residents per origin, >= 0.
    capacity
        Places per facility, >= 0; ``np.inf`` for unlimited.
    threshold_m
        Catchment in metres (``distance <= threshold_m``).

    Returns
    -------
    Assignment
        ``served``, ``unmet`` per origin, ``load`` per facility, ``total_served`` and the
        solver ``status``.

    Raises
    ------
    RuntimeError
        When HiGHS cannot solve the first (residents served) LP.

    Examples
    --------
    >>> d = sp.csr_matrix(np.array([[100.0, 300.0], [200.0, 0]]))
    >>> a = capacity_assignment(d, np.array([5.0, 5.0]), np.array([6.0, np.inf]), 400.0)
    >>> a.served.tolist(), a.load.tolist()
    ([5.0, 5.0], [6.0, 4.0])
    """
    row, col, data, (n, m) = _pairs(distance)
    demand = _per(demand, n, "demand", "origin")
    capacity = _per(capacity, m, "capacity", "facility", allow_inf=True)
    t = _threshold(threshold_m)
    keep = (data <= t) & (demand[row] > 0) & (capacity[col] > 0)
    row, col, data = row[keep], col[keep], data[keep]
    anchor_m, anchor, lp = _reduce(row, col, data, demand, capacity)
    anchored = anchor >= 0
    prow, pcol, pdist = row[lp], col[lp], data[lp]
    x = np.zeros(prow.size)
    if prow.size:
        # a free origin's resident served earns M (served first); an anchored origin is
        # served anyway, and a resident moved off its anchor saves anchor_m - d metres
        on_anchor = anchored[prow]
        scale = float(max(pdist.max(), anchor_m[prow][on_anchor].max(initial=0.0)))
        reward = np.where(on_anchor, anchor_m[prow], _served_reward(prow, pcol, n, m, scale))
        x_lp, msg = _transport_lp(prow, pcol, demand, capacity, pdist - reward)
        if x_lp is None:
            msg = f"HiGHS could not solve the capacity assignment LP: {msg}"
            raise RuntimeError(msg)
        x = x_lp
    to_lp = np.minimum(_sum_by(prow, x, n), demand)
    served = np.where(anchored, demand, to_lp)
    rest = np.where(anchored, demand - to_lp, 0.0)
    load = _sum_by(pcol, x, m)
    load += _sum_by(anchor[anchored], rest[anchored], m)
    resident_m = float(pdist @ x + anchor_m[anchored] @ rest[anchored])
    return Assignment(
        served=served,
        load=load,
        unmet=demand - served,
        total_served=float(served.sum()),
        resident_m=resident_m,
        status="optimal",
    )
