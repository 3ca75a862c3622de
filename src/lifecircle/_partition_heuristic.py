"""The partition heuristic: region growing plus local search, one parent at a time.

For one parent (``m`` blocks, ``E`` adjacency edges, ``P`` admissible pairs):

1. **Number of units.** ``K`` candidates between the fewest and the most units whose
   population ranges can hold the parent (:func:`lifecircle.partition.count_bounds`),
   most first (more centres, shorter walks; merges below can still reduce it), at least
   one per connected component; when no whole number fits, the one or two counts of
   least unavoidable violation.
2. **Seeds far apart.** Farthest-point sampling on the contiguity graph weighted by the
   walk between adjacent blocks: ``K`` Dijkstra runs, ``O(K (E + m log m))``.
3. **Region growing.** Every block joins its nearest seed along the contiguity graph
   (one multi-source Dijkstra); the regions are contiguous, since each block's
   shortest-path predecessor joins the same seed.
4. **Local search**, in rounds of ``O(E + P)`` numpy work: every unit re-picks its best
   centre (the member with the least population-weighted walk from all members);
   every boundary move (a non-centre block to an adjacent unit) and every merge of two
   adjacent units is scored lexicographically (change of range violation, then of walk),
   and the improving ones are applied best first, each unit at most once a round, a move
   only when its unit stays contiguous (a Dijkstra-free check: connected components of
   the unit without the block, ``O(size of the unit)``). At most :data:`MAX_ROUNDS`
   rounds, or until the deadline. A pair missing from ``walk_m`` (too far) costs
   :func:`_far` metres per resident, so the search moves blocks out of such units.

The best split over the ``K`` candidates (least violation, then least walk) is kept.

**Lower bound** (:func:`lifecircle.partition.min_walk_bound`): when the split is within
the range, any split within the range has at most ``floor(total / pop_min)`` units, so
at most that many blocks walk 0 and every other block walks at least to its nearest
admissible centre other than itself. When the split is out of range, the bound is 0
(valid for any split). The gap is reported against it.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from .partition import (
    POP_TOL,
    SubProblem,
    SubResult,
    count_bounds,
    min_walk_bound,
    pair_walk,
    violation,
)

#: Local-search rounds per ``K`` candidate, at most.
MAX_ROUNDS = 400
#: ``K`` candidates tried per parent, at most.
MAX_COUNTS = 3


def _far(sub: SubProblem) -> float:
    """Walk charged per resident for a block with no admissible pair to its centre."""
    return 2.0 * float(sub.pw.max(initial=0.0)) + 1.0


class _State:
    """A split in progress: unit per block, centre per unit."""

    def __init__(self, sub: SubProblem, unit: np.ndarray) -> None:
        self.sub = sub
        self.unit = unit
        self.far = _far(sub)
        self.look = sub.walk_lookup()
        coo = sub.adj.tocoo()
        self.ea, self.eb = coo.row, coo.col
        self.recentre()

    def compact(self) -> None:
        """Renumber units 0..k-1 (after merges)."""
        _, self.unit = np.unique(self.unit, return_inverse=True)
        self.unit = self.unit.ravel()

    def recentre(self) -> None:
        """Each unit takes the member with the least walk (missing pairs cost ``far``)."""
        sub, unit = self.sub, self.unit
        k = int(unit.max()) + 1
        upop = np.bincount(unit, weights=sub.pop, minlength=k)
        ucnt = np.bincount(unit, minlength=k)
        same = unit[sub.pi] == unit[sub.pj]
        pi, pj, pw = sub.pi[same], sub.pj[same], sub.pw[same]
        cost = np.bincount(pj, weights=sub.pop[pi] * pw, minlength=sub.m)
        reach_pop = np.bincount(pj, weights=sub.pop[pi], minlength=sub.m)
        reach_cnt = np.bincount(pj, minlength=sub.m)
        uj = unit
        score = cost + self.far * (upop[uj] - reach_pop) + 1e-3 * (ucnt[uj] - reach_cnt)
        order = np.lexsort((score, uj))
        first = np.ones(order.size, dtype=bool)
        first[1:] = uj[order][1:] != uj[order][:-1]
        self.centre = np.empty(k, dtype=np.int64)
        self.centre[uj[order][first]] = order[first]
        self.upop = upop

    def walk_to(self, blocks: np.ndarray, centres: np.ndarray) -> np.ndarray:
        """Walk of each block to the given centre, ``far`` where not admissible."""
        w = pair_walk(self.look, blocks, centres)
        return np.where(w >= 0, w, self.far)

    def objective(self) -> tuple[float, float, bool]:
        """Range violation, walk (``far`` for missing pairs) and whether all are admissible."""
        sub = self.sub
        w = pair_walk(self.look, np.arange(sub.m), self.centre[self.unit])
        ok = bool(np.all(w >= 0))
        walk = float(sub.pop @ np.where(w >= 0, w, self.far))
        return float(violation(self.upop, sub.pop_min, sub.pop_max).sum()), walk, ok

    def _connected_without(self, block: int) -> bool:
        """Whether ``block``'s unit stays contiguous without it."""
        members = np.flatnonzero(self.unit == self.unit[block])
        members = members[members != block]
        if members.size <= 1:
            return True
        nb = self.sub.adj.indices[self.sub.adj.indptr[block] : self.sub.adj.indptr[block + 1]]
        if np.count_nonzero(self.unit[nb] == self.unit[block]) <= 1:
            return True  # a leaf of its unit
        sub_adj = self.sub.adj[members][:, members]
        return connected_components(sub_adj, directed=False)[0] == 1

    def _has_centre(self, u: int, v: int) -> bool:
        """Whether units ``u`` and ``v`` merged have a member every member may walk to."""
        members = np.flatnonzero((self.unit == u) | (self.unit == v))
        reach = np.diff(self.look[members][:, members].tocsc().indptr)
        return bool(np.any(reach == members.size))

    def round(self) -> int:
        """One round of improving merges and boundary moves; returns how many were applied."""
        sub, unit = self.sub, self.unit
        lo, hi = sub.pop_min, sub.pop_max
        upop = self.upop
        cross = unit[self.ea] != unit[self.eb]
        a, ub = self.ea[cross], unit[self.eb[cross]]
        applied = 0
        touched = np.zeros(upop.size, dtype=bool)
        # merges of adjacent units that reduce the violation
        if a.size:
            ua = unit[a]
            u1, u2 = np.minimum(ua, ub), np.maximum(ua, ub)
            key = np.unique(u1 * upop.size + u2)
            m1, m2 = key // upop.size, key % upop.size
            dv = (
                violation(upop[m1] + upop[m2], lo, hi)
                - violation(upop[m1], lo, hi)
                - violation(upop[m2], lo, hi)
            )
            for t in np.argsort(dv, kind="stable"):
                if dv[t] >= -POP_TOL:
                    break
                if touched[m1[t]] or touched[m2[t]] or not self._has_centre(m1[t], m2[t]):
                    continue
                touched[m1[t]] = touched[m2[t]] = True
                unit[unit == m2[t]] = m1[t]
                applied += 1
        if applied:
            self.compact()
            self.recentre()
            return applied
        # boundary moves
        is_centre = np.zeros(sub.m, dtype=bool)
        is_centre[self.centre] = True
        keep = ~is_centre[a]
        a, ub = a[keep], ub[keep]
        if not a.size:
            return 0
        pair = np.unique(a * upop.size + ub)
        a, ub = pair // upop.size, pair % upop.size
        ua = unit[a]
        pa = sub.pop[a]
        dv = (
            violation(upop[ua] - pa, lo, hi)
            + violation(upop[ub] + pa, lo, hi)
            - violation(upop[ua], lo, hi)
            - violation(upop[ub], lo, hi)
        )
        to_new = pair_walk(self.look, a, self.centre[ub])
        dw = pa * (np.where(to_new >= 0, to_new, self.far) - self.walk_to(a, self.centre[ua]))
        dv = np.where(to_new >= 0, dv, np.inf)  # never into a unit whose centre is too far
        dv = np.where(np.abs(dv) > POP_TOL, dv, 0.0)
        good = (dv < 0) | ((dv == 0) & (dw < -1e-9 * max(1.0, float(np.abs(dw).max()))))
        idx = np.flatnonzero(good)
        idx = idx[np.lexsort((dw[idx], dv[idx]))]
        for t in idx:
            u, v, b = ua[t], ub[t], a[t]
            if touched[u] or touched[v] or unit[b] != u:
                continue
            if not self._connected_without(int(b)):
                continue
            unit[b] = v
            touched[u] = touched[v] = True
            applied += 1
        if applied:
            self.recentre()
        return applied


def _seeds(sub: SubProblem, k: int, graph: sp.csr_matrix, rng: np.random.Generator) -> np.ndarray:
    """``k`` blocks far apart (farthest-point sampling from a random start)."""
    seeds = [int(rng.integers(sub.m))]
    dist = dijkstra(graph, directed=False, indices=seeds[0])
    for _ in range(1, k):
        far = np.flatnonzero(dist == dist.max())
        s = int(far[rng.integers(far.size)])
        if dist[s] == 0:
            break
        seeds.append(s)
        dist = np.minimum(dist, dijkstra(graph, directed=False, indices=s))
    return np.array(seeds, dtype=np.int64)


def _counts(sub: SubProblem, components: int) -> list[int]:
    fewest, most = count_bounds(sub.total, sub.pop_min, sub.pop_max)
    if fewest <= most:
        cands = list(range(min(most, sub.m), fewest - 1, -1))
    else:
        cands = [most, fewest]
    cands = sorted({min(max(c, components, 1), sub.m) for c in cands}, reverse=True)
    return cands[:MAX_COUNTS]


def solve_parent(sub: SubProblem, *, rng: np.random.Generator, deadline: float) -> SubResult:
    """Split one parent by region growing and local search (see the module docstring)."""
    if sub.m == 1:
        unit, centre = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
        v = float(violation(np.array([sub.total]), sub.pop_min, sub.pop_max).sum())
        return SubResult(unit, centre, 0.0, v, 0.0, "heuristic")
    ncomp, _ = connected_components(sub.adj, directed=False)
    look = sub.walk_lookup()
    coo = sp.triu(sub.adj, k=1).tocoo()
    w = pair_walk(look, coo.row, coo.col)
    w = np.where(w >= 0, w, _far(sub))
    graph = sp.csr_matrix((np.maximum(w, 1e-6), (coo.row, coo.col)), shape=(sub.m, sub.m))
    best: tuple[float, float, bool, np.ndarray, np.ndarray] | None = None
    counts = _counts(sub, int(ncomp))
    while counts:
        k = counts.pop(0)
        if best is not None and time.monotonic() > deadline:
            break
        seeds = _seeds(sub, k, graph, rng)
        _, _, src = dijkstra(
            graph, directed=False, indices=seeds, min_only=True, return_predecessors=True
        )
        where = np.full(sub.m, -1, dtype=np.int64)
        where[seeds] = np.arange(seeds.size)
        state = _State(sub, where[src])
        for _ in range(MAX_ROUNDS):
            if not state.round() or time.monotonic() > deadline:
                break
        v, walk, ok = state.objective()
        if best is None or (not ok, v, walk) < (not best[2], best[0], best[1]):
            best = (v, walk, ok, state.unit.copy(), state.centre.copy())
        if not counts and not best[2] and k < sub.m:
            counts = [min(sub.m, 2 * k)]  # blocks beyond the walking limit: more units
    assert best is not None
    v, walk, ok, unit, centre = best
    note = "" if ok else "some blocks are beyond the walking limit of their unit's centre"
    bound = min_walk_bound(sub) if v <= POP_TOL and ok else 0.0
    return SubResult(unit, centre, walk, v, bound, "heuristic", note)
