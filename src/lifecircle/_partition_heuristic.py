"""The partition heuristic: seeding, admissible growth and local search, one parent at a time.

For one parent (``m`` blocks, ``E`` adjacency edges, ``P`` admissible pairs). The walking
limit is hard throughout: every block may walk to its unit's centre (a pair stored in
``walk_m``); the search minimises the range violation, then the walk.

1. **Unit counts.** Every count ``K`` whose population ranges can hold the parent
   (:func:`lifecircle.partition.count_bounds`) and the counts around the number of
   centres a greedy set cover needs to reach every block within the walking limit
   (:func:`_cover_count`; where it exceeds the admissible counts, the walking limit,
   not the range, decides), nearest the larger of the two first, at most
   :data:`MAX_COUNTS`.
2. **Seeds.** Randomised greedy p-median on the dense walk matrix (a missing pair costs
   :func:`_far`), then a few k-medoids steps, ``O(K m^2)``; farthest-point sampling on
   the contiguity graph above :data:`DENSE_MAX` blocks.
3. **Admissible growth** (:func:`_grow`): a block joins an adjacent unit whose centre it
   may walk to, nearest first, while the unit stays below a cap (``pop_max``, or
   ``total / K`` on odd restarts); blocks no unit can take start new units. Every unit
   is contiguous and admissible.
4. **Local search**, in rounds of ``O(E + P)`` numpy work: every unit re-picks its best
   centre among the members all its blocks may walk to; improving merges and boundary
   moves (lexicographic: range violation, then walk), a move into a unit whose centre
   is too far only when it reduces the violation and the grown unit has another
   admissible centre; when stuck, **splits** of units out of range along a BFS tree
   from the centre (:meth:`_State.split`), then **dissolving** a unit below the range
   into its neighbours (:meth:`_State.dissolve`). Contiguity is kept by a
   connected-components check per move. At most :data:`MAX_ROUNDS` rounds.
5. **Restarts**: steps 2-4 for every count, :data:`MIN_RESTARTS` to
   :data:`MAX_RESTARTS` times (stopping at ``MIN_RESTARTS`` once in range) or until the
   deadline; the best split (least violation, then walk) is kept.

**Lower bound** (:func:`lp_bound`): the LP relaxation of the p-median model with the
population range (slack budget = the split's violation) and the valid inequality "a
non-centre block has a neighbour in its unit", proven in its docstring; raised to
:func:`lifecircle.partition.min_walk_bound` when the split is in range. With
``least_violation=True`` the same LP bounds the range violation itself from below.
"""

from __future__ import annotations

import heapq
import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components, dijkstra

from ._partition_bound import lp_bound
from .partition import (
    POP_TOL,
    WALK_LIMIT_NOTE,
    SubProblem,
    SubResult,
    count_bounds,
    min_walk_bound,
    pair_walk,
    violation,
)

#: Local-search rounds per start, at most.
MAX_ROUNDS = 400
#: Unit counts ``K`` tried per parent, at most.
MAX_COUNTS = 10
#: Restarts (new random seeds for every ``K``): at least / at most.
MIN_RESTARTS, MAX_RESTARTS = 2, 6
#: k-medoids (Lloyd) steps after the greedy p-median seeding.
MEDOID_STEPS = 4
#: Largest parent (blocks) seeded on a dense walk matrix (else farthest-point sampling).
DENSE_MAX = 2000
#: Share of a parent's time for the search; the rest is the bound's LP's.
SEARCH_SHARE = 0.75
#: Seconds the bound's LP may take even when that rest is shorter.
LP_MIN_SECONDS = 2.0
#: Unit splits tried per unit and round.
SPLIT_TRIES = 12


def _far(sub: SubProblem) -> float:
    """Walk charged per resident for a block with no admissible pair to its centre."""
    return 2.0 * float(sub.pw.max(initial=0.0)) + 1.0


class _State:
    """A split in progress: unit per block, centre per unit."""

    def __init__(self, sub: SubProblem, unit: np.ndarray, adm: sp.csr_matrix) -> None:
        self.sub = sub
        self.adm = adm
        self.adm_d = adm.toarray() if sub.m <= DENSE_MAX else None
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
        """Each unit takes the member all its blocks may walk to with the least walk.

        Where no member qualifies: the fewest members beyond the limit, then the least
        walk (a missing pair costs ``far``).
        """
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
        score = cost + self.far * (upop[uj] - reach_pop)
        # fewest members beyond the walking limit first (even residents-free ones)
        order = np.lexsort((score, ucnt[uj] - reach_cnt, uj))
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

    def _has_centre(self, u: int, v: int, block: int = -1) -> bool:
        """Whether units ``u`` and ``v`` merged have a member every member may walk to.

        With ``block >= 0``: unit ``u`` plus that one block of unit ``v`` instead.
        """
        if block >= 0:
            members = np.append(np.flatnonzero(self.unit == u), block)
        else:
            members = np.flatnonzero((self.unit == u) | (self.unit == v))
        if self.adm_d is not None:
            return bool(self.adm_d[np.ix_(members, members)].all(axis=0).any())
        reach = np.diff(self.look[members][:, members].tocsc().indptr)
        return bool(np.any(reach == members.size))

    def _reach(self) -> tuple[np.ndarray, np.ndarray]:
        """Where units could be centred, in ``O(P)``.

        Returns per block whether every member of its unit may walk to it, and the keys
        ``c * k + v`` (``k`` units) of the blocks ``c`` every member of its own unit and
        of another unit ``v`` may walk to (the two could merge, centred on ``c``).
        """
        sub, unit = self.sub, self.unit
        nu = int(unit.max()) + 1
        ucnt = np.bincount(unit, minlength=nu)
        same = unit[sub.pi] == unit[sub.pj]
        good = np.bincount(sub.pj[same], minlength=sub.m) == ucnt[unit]
        other = ~same
        key, cnt = np.unique(sub.pj[other] * nu + unit[sub.pi[other]], return_counts=True)
        full = key[(cnt == ucnt[key % nu]) & good[key // nu]]
        return good, full

    def _merge(self, a: np.ndarray, ub: np.ndarray) -> int:
        """Merge adjacent units (edges ``a`` -> unit ``ub``) where that reduces the violation.

        Only units that can be centred on a member all blocks of both may walk to; each
        unit at most once. Returns how many merges were applied.
        """
        sub, unit, upop = self.sub, self.unit, self.upop
        lo, hi, nu = sub.pop_min, sub.pop_max, upop.size
        ua = unit[a]
        key = np.unique(np.minimum(ua, ub) * nu + np.maximum(ua, ub))
        m1, m2 = key // nu, key % nu
        dv = (
            violation(upop[m1] + upop[m2], lo, hi)
            - violation(upop[m1], lo, hi)
            - violation(upop[m2], lo, hi)
        )
        _, full = self._reach()
        cu, cv = unit[full // nu], full % nu
        mergeable = np.isin(key, np.minimum(cu, cv) * nu + np.maximum(cu, cv))
        touched = np.zeros(nu, dtype=bool)
        applied = 0
        for t in np.argsort(dv, kind="stable"):
            if dv[t] >= -POP_TOL:
                break
            if touched[m1[t]] or touched[m2[t]] or not mergeable[t]:
                continue
            touched[m1[t]] = touched[m2[t]] = True
            unit[unit == m2[t]] = m1[t]
            applied += 1
        return applied

    def round(self) -> int:
        """One round of improving merges and boundary moves; returns how many were applied."""
        sub, unit = self.sub, self.unit
        lo, hi = sub.pop_min, sub.pop_max
        upop = self.upop
        cross = unit[self.ea] != unit[self.eb]
        a, ub = self.ea[cross], unit[self.eb[cross]]
        applied = self._merge(a, ub) if a.size else 0
        touched = np.zeros(upop.size, dtype=bool)
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
        # into a unit whose centre is too far: only to reduce the violation, and only
        # when the grown unit has another member all its blocks may walk to
        far_move = to_new < 0
        # ... i.e. a member ``c`` of the target that all its members and the block reach
        nu = upop.size
        good, _ = self._reach()
        sel = good[sub.pj] & (unit[sub.pi] != unit[sub.pj])
        far_ok = np.isin(a * nu + ub, sub.pi[sel] * nu + unit[sub.pj[sel]])
        dv = np.where(far_move & ((dv > -POP_TOL) | ~far_ok), np.inf, dv)
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

    def split(self) -> int:
        """Cut units out of range in two along a BFS tree from the centre.

        Every edge of the tree rooted at the centre splits the unit into two connected
        parts (the subtree and the rest); the cut of least range violation whose subtree
        has a member all its blocks may walk to is applied (the rest keeps the centre).
        ``O(size^2)`` per unit out of range. Returns how many units were split.
        """
        sub, lo, hi = self.sub, self.sub.pop_min, self.sub.pop_max
        v_u = violation(self.upop, lo, hi)
        applied = 0
        nxt = int(self.centre.size)
        for u in np.argsort(-v_u, kind="stable"):
            if v_u[u] <= POP_TOL:
                break
            members = np.flatnonzero(self.unit == u)
            if members.size < 2:
                continue
            root = int(np.flatnonzero(members == self.centre[u])[0])
            order, pred = breadth_first_order(
                sub.adj[members][:, members], root, directed=False, return_predecessors=True
            )
            if order.size < members.size:
                continue
            below = sub.pop[members].astype(float)
            for t in order[:0:-1]:  # children before parents
                below[pred[t]] += below[t]
            dv = violation(below, lo, hi) + violation(self.upop[u] - below, lo, hi) - v_u[u]
            dv[root] = np.inf
            cand = np.argsort(dv, kind="stable")[:SPLIT_TRIES]
            adm = (
                self.adm_d[np.ix_(members, members)]
                if self.adm_d is not None
                else self.adm[members][:, members].toarray()
            )
            rank = np.empty(order.size, dtype=np.int64)
            rank[order] = np.arange(order.size)
            for t in cand:
                if dv[t] >= -POP_TOL:
                    break
                inside = np.zeros(members.size, dtype=bool)
                inside[t] = True
                for x in order[rank[t] + 1 :]:  # parents before children
                    inside[x] = inside[pred[x]]
                part = np.flatnonzero(inside)
                if not np.any(adm[np.ix_(part, part)].all(axis=0)):
                    continue
                self.unit[members[part]] = nxt
                nxt += 1
                applied += 1
                break
        if applied:
            self.recentre()
        return applied

    def dissolve(self) -> int:
        """Hand the blocks of a unit below the range to its neighbours, if that is better.

        For each unit below ``pop_min`` (most residents short first): its blocks join
        adjacent other units one at a time (each time a block adjacent to a unit whose
        members with it still have a member all may walk to; the smallest such unit
        first). When every block finds a unit and the split's (violation, walk) improves,
        the unit is gone; otherwise nothing changes. Returns 1 when a unit was dissolved.
        """
        sub = self.sub
        before = self.objective()
        short = violation(self.upop, sub.pop_min, np.inf)
        indptr, indices = sub.adj.indptr, sub.adj.indices
        for u in np.argsort(-short, kind="stable"):
            if short[u] <= POP_TOL:
                break
            saved = self.unit.copy()
            left = set(np.flatnonzero(self.unit == u).tolist())
            grew = True
            while left and grew:
                grew = False
                for b in sorted(left):
                    nb = indices[indptr[b] : indptr[b + 1]]
                    others = np.unique(self.unit[nb])
                    others = others[others != u]
                    for v in others[np.argsort(self.upop[others], kind="stable")]:
                        if self._has_centre(int(v), int(u), int(b)):
                            self.unit[b] = v
                            self.upop[v] += sub.pop[b]
                            left.discard(b)
                            grew = True
                            break
            if not left:
                self.compact()
                self.recentre()
                after = self.objective()
                if (not after[2], after[0], after[1]) < (not before[2], before[0], before[1]):
                    return 1
            self.unit = saved
            self.recentre()
        return 0


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


def _admissible(sub: SubProblem) -> sp.csr_matrix:
    """``m x m`` boolean CSR: block ``i`` may belong to a unit centred on ``j``."""
    return sp.csr_matrix((np.ones(sub.pi.size, dtype=bool), (sub.pi, sub.pj)), shape=(sub.m, sub.m))


def _dense_walk(sub: SubProblem) -> np.ndarray:
    """Dense ``m x m`` walk, :func:`_far` where a pair is not admissible."""
    w = np.full((sub.m, sub.m), _far(sub))
    w[sub.pi, sub.pj] = sub.pw
    return w


def _medoid_seeds(
    sub: SubProblem, k: int, walk: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """``k`` centres by randomised greedy p-median plus a few k-medoids (Lloyd) steps.

    ``walk`` is the dense walk (:func:`_dense_walk`); each step is ``O(m^2)`` numpy work.
    """
    pop = sub.pop + 1e-9
    cur = np.full(sub.m, np.inf)
    seeds: list[int] = []
    for _ in range(k):
        gain = pop @ np.minimum(cur[:, None], walk)  # total walk if j is added
        gain[seeds] = np.inf
        top = np.argsort(gain, kind="stable")[: min(3, sub.m - len(seeds))]
        j = int(top[rng.integers(top.size)]) if len(seeds) else int(rng.choice(top))
        seeds.append(j)
        cur = np.minimum(cur, walk[:, j])
    centres = np.array(seeds, dtype=np.int64)
    for _ in range(MEDOID_STEPS):
        near = np.argmin(walk[:, centres], axis=1)
        near[centres] = np.arange(centres.size)
        new = centres.copy()
        for u in range(centres.size):
            members = np.flatnonzero(near == u)
            new[u] = members[np.argmin(pop[members] @ walk[np.ix_(members, members)])]
        if np.array_equal(new, centres):
            break
        centres = new
    return centres


def _walks(
    look: sp.csr_matrix, dense: np.ndarray | None, far: float, blocks: np.ndarray, centre: int
) -> np.ndarray:
    """Walk of ``blocks`` to ``centre``, -1 where not admissible (dense when given)."""
    if dense is None:
        return np.asarray(look[blocks, centre].todense()).ravel() - 1.0
    w = dense[blocks, centre]
    return np.where(w < far, w, -1.0)


def _grow(
    sub: SubProblem,
    seeds: np.ndarray,
    cap: float,
    *,
    adm: sp.csr_matrix,
    look: sp.csr_matrix,
    dense: np.ndarray | None = None,
) -> np.ndarray:
    """Contiguous, admissible units grown from ``seeds`` (a heap over the blocks).

    A block joins an adjacent unit whose centre it may walk to, nearest centre first,
    while the unit stays within ``cap`` residents; blocks turned away by every full unit then
    join the smallest admissible adjacent unit; blocks no unit can take start new units.
    Every unit is contiguous and every block may walk to its unit's centre. ``dense``
    (:func:`_dense_walk`, optional) speeds up the walk look-ups.
    """
    m, hi = sub.m, cap
    far = _far(sub)
    unit = np.full(m, -1, dtype=np.int64)
    centres = [int(s) for s in seeds]
    upop = [0.0] * len(centres)
    indptr, indices = sub.adj.indptr, sub.adj.indices
    heap: list[tuple[float, int, int]] = []

    def claim(i: int, u: int) -> None:
        unit[i] = u
        upop[u] += float(sub.pop[i])
        nb = indices[indptr[i] : indptr[i + 1]]
        nb = nb[unit[nb] < 0]
        if nb.size:
            w = _walks(look, dense, far, nb, centres[u])
            for b, wb in zip(nb[w >= 0].tolist(), w[w >= 0].tolist(), strict=True):
                heapq.heappush(heap, (wb, b, u))

    for u, s in enumerate(centres):
        claim(s, u)
    deferred: list[tuple[float, int, int]] = []
    while True:
        while heap:
            item = heapq.heappop(heap)
            i, u = item[1], item[2]
            if unit[i] >= 0:
                continue
            if upop[u] + sub.pop[i] > hi + POP_TOL:
                deferred.append(item)
                continue
            claim(i, u)
        deferred = [d for d in deferred if unit[d[1]] < 0]
        if deferred:  # every unit it may join is full: the smallest of them takes it
            pick = min(deferred, key=lambda d: (upop[d[2]], d[1]))
            claim(pick[1], pick[2])
            for d in deferred:
                heapq.heappush(heap, d)
            deferred = []
            continue
        left = np.flatnonzero(unit < 0)
        if not left.size:
            return unit
        # a new unit at the unassigned block that most unassigned blocks may walk to
        reach = np.asarray(adm[left][:, left].sum(axis=0)).ravel()
        s = int(left[np.argmax(reach)])
        centres.append(s)
        upop.append(0.0)
        claim(s, len(centres) - 1)


def _cover_count(adm: sp.csr_matrix) -> int:
    """Centres a greedy set cover needs so that every block may walk to one of them."""
    m = adm.shape[0]
    covered = np.zeros(m, dtype=bool)
    csc = adm.tocsc()
    count = 0
    while not covered.all() and count < m:
        gain = np.asarray(csc[~covered].sum(axis=0)).ravel()
        covered |= csc[:, int(np.argmax(gain))].toarray().ravel()
        count += 1
    return count


def _counts(sub: SubProblem, components: int, cover: int) -> list[int]:
    """Unit counts to try: the admissible ones and those around the walk-limit cover.

    ``cover`` (:func:`_cover_count`) estimates the units the walking limits alone need;
    counts nearest the larger of it and ``total / mid-range`` come first.
    """
    fewest, most = count_bounds(sub.total, sub.pop_min, sub.pop_max)
    lo_k, hi_k = min(fewest, most, cover - 1), max(most, fewest, cover + 1)
    cands = sorted({min(max(c, components, 1), sub.m) for c in range(lo_k, hi_k + 1)})
    mid = sub.total / max(0.5 * (sub.pop_min + sub.pop_max), 1e-9)
    target = max(mid, cover)
    cands.sort(key=lambda c: (abs(c - target), c))
    return cands[:MAX_COUNTS]


def _search(state: _State, deadline: float) -> None:
    """Local search: improving rounds, then splits of units out of range, until stuck."""
    for _ in range(MAX_ROUNDS):
        if time.monotonic() > deadline:
            return
        if not state.round() and not state.split() and not state.dissolve():
            return


def solve_parent(sub: SubProblem, *, rng: np.random.Generator, deadline: float) -> SubResult:
    """Split one parent by seeding, admissible growth and local search (module docstring)."""
    if sub.m == 1:
        unit, centre = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
        v = float(violation(np.array([sub.total]), sub.pop_min, sub.pop_max).sum())
        return SubResult(unit, centre, 0.0, v, 0.0, "heuristic")
    lp_deadline = deadline
    deadline = time.monotonic() + SEARCH_SHARE * max(deadline - time.monotonic(), 0.0)
    ncomp, _ = connected_components(sub.adj, directed=False)
    look = sub.walk_lookup()
    adm = _admissible(sub)
    dense = _dense_walk(sub) if sub.m <= DENSE_MAX else None
    graph = None
    if dense is None:
        coo = sp.triu(sub.adj, k=1).tocoo()
        w = pair_walk(look, coo.row, coo.col)
        w = np.where(w >= 0, w, _far(sub))
        graph = sp.csr_matrix((np.maximum(w, 1e-6), (coo.row, coo.col)), shape=(sub.m, sub.m))
    best: tuple[float, float, bool, np.ndarray, np.ndarray] | None = None
    counts = _counts(sub, int(ncomp), _cover_count(adm))
    for restart in range(MAX_RESTARTS):
        if best is not None and (
            time.monotonic() > deadline or (restart >= MIN_RESTARTS and best[0] <= POP_TOL)
        ):
            break
        for k in counts:
            if best is not None and time.monotonic() > deadline:
                break
            if dense is not None:
                seeds = _medoid_seeds(sub, k, dense, rng)
            else:
                assert graph is not None
                seeds = _seeds(sub, k, graph, rng)
            cap = sub.pop_max if restart % 2 == 0 else max(sub.pop_min, sub.total / k)
            state = _State(sub, _grow(sub, seeds, cap, adm=adm, look=look, dense=dense), adm)
            _search(state, deadline)
            v, walk, ok = state.objective()
            if best is None or (not ok, v, walk) < (not best[2], best[0], best[1]):
                best = (v, walk, ok, state.unit.copy(), state.centre.copy())
    assert best is not None
    v, walk, ok, unit, centre = best
    note = "" if ok else WALK_LIMIT_NOTE
    bound = 0.0
    if ok:
        bound = lp_bound(sub, v, deadline=max(lp_deadline, time.monotonic() + LP_MIN_SECONDS))
        if v <= POP_TOL:
            bound = max(bound, min_walk_bound(sub))
    return SubResult(unit, centre, walk, v, bound, "heuristic", note)
