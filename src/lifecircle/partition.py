"""Life-circle units as a partition of building blocks: the exact MILP and the heuristic.

The solvers behind ``lifecircle delineate`` work on plain arrays, no geometry. A
:class:`PartitionProblem` holds, per building block (a residents' committee or a street
block), its population and its parent governance unit; the blocks' contiguity
(``adjacency``); and the walk from each block to each block that may be its unit's
centre (``walk_m``, sparse: an absent entry means "too far to share a unit").

A solution (:class:`Partition`) groups the blocks into units that are

(a) contiguous (each unit's blocks are connected in ``adjacency``),
(b) within ``[pop_min, pop_max]`` residents where possible,
(c) nested: every block of a unit has the same parent (give all blocks one parent to
    let units cross parent boundaries), and
(d) compact: the objective ``sum_i pop_i * walk(i, centre(unit(i)))`` (resident-metres)
    is minimised; a unit's centre is one of its blocks.

The number of units is free. Where a parent cannot be split within the range, the
solvers return the *closest feasible split*: the least total range violation (residents
below ``pop_min`` or above ``pop_max``, summed over units), then the least walk
(lexicographic), and :attr:`Partition.parents_out_of_range` says why, per parent.

Parents are independent (no unit spans two parents), so both solvers solve parent by
parent and add up objectives and bounds.

- :func:`partition_exact` -- a MILP solved by HiGHS (:mod:`lifecircle._partition_milp`).
- :func:`partition_heuristic` -- seeding, admissible region growing and local search,
  with a proven lower bound from an LP relaxation (:mod:`lifecircle._partition_heuristic`).

The walking limit is hard: every block may walk to its unit's centre. Where it binds
(a street whose blocks no few centres can all reach), more units than the population
range allows are needed, and the range violation is unavoidable;
:func:`lifecircle._partition_bound.lp_bound` with ``least_violation=True`` proves
how much of it.
- :func:`partition` -- picks one by size.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ._partition_reason import REASON_TEXT as REASON_TEXT
from ._partition_reason import RangeReason as RangeReason
from .errors import DataError

__all__ = [
    "Partition",
    "PartitionProblem",
    "RangeReason",
    "partition",
    "partition_exact",
    "partition_heuristic",
]

#: Populations below this are treated as equal (range checks, violation).
POP_TOL = 1e-6
#: The note of a split in which some blocks are beyond the walking limit of their centre.
WALK_LIMIT_NOTE = "some blocks are beyond the walking limit of their unit's centre"


@dataclass(frozen=True)
class PartitionProblem:
    """Building blocks to group into life-circle units.

    Attributes
    ----------
    population
        Residents per block (``n``), finite and >= 0.
    adjacency
        ``n x n`` symmetric block contiguity (a non-zero entry = adjacent).
    walk_m
        ``n x n``: walk in metres from block ``i`` to candidate centre block ``j``. The
        diagonal is 0 (store it as ``1e-9`` so that sparse matrices keep it; any stored
        diagonal value is read as 0, a missing one is added). An absent entry means
        ``i`` cannot belong to a unit centred on ``j``.
    parent
        Per block, the label of its parent governance unit (all equal: no nesting).
    pop_min, pop_max
        The population range of one unit.
    """

    population: np.ndarray
    adjacency: sp.csr_matrix
    walk_m: sp.csr_matrix
    parent: np.ndarray
    pop_min: float
    pop_max: float


@dataclass(frozen=True)
class Partition:
    """Blocks grouped into units (see the module docstring).

    Attributes
    ----------
    unit
        Per block, its unit (``0 .. k-1``).
    centre
        Per unit, its centre block.
    objective
        ``sum_i pop_i * walk(i, centre(unit(i)))`` in resident-metres.
    bound
        A proven lower bound of the objective among splits in which every parent's range
        violation is at most that of this split (``== objective`` when optimal; the same
        as "total violation at most :attr:`range_violation`" when all are in range).
    gap
        ``(objective - bound) / objective`` (0 when the objective is 0).
    status
        ``"optimal"``, ``"time_limit"`` (the MILP stopped at the time limit: its best
        split and HiGHS's dual bound) or ``"heuristic"``.
    range_violation
        Residents outside ``[pop_min, pop_max]`` summed over units (0: all in range).
    parents_out_of_range
        Parent label -> why it has a unit out of range (or beyond the walking limit):
        a :class:`RangeReason` (``str()`` gives the English text).
    seconds
        Wall time of the solve.
    """

    unit: np.ndarray
    centre: np.ndarray
    objective: float
    bound: float
    gap: float
    status: str
    range_violation: float
    parents_out_of_range: dict[Any, RangeReason] = field(default_factory=dict)
    seconds: float = 0.0


# --------------------------------------------------------------------------------------
# Shared by both solvers: validation, the per-parent sub-problems, evaluation.


@dataclass
class SubProblem:
    """One parent's blocks, in local indices ``0 .. m-1``.

    ``pi, pj, pw`` list the admissible (block, centre) pairs and their walks (the
    diagonal always, with walk 0); ``adj`` is the contiguity among the parent's blocks
    (symmetric, no diagonal).
    """

    label: Any
    blocks: np.ndarray
    pop: np.ndarray
    adj: sp.csr_matrix
    pi: np.ndarray
    pj: np.ndarray
    pw: np.ndarray
    pop_min: float
    pop_max: float

    @property
    def m(self) -> int:
        """Number of blocks."""
        return int(self.blocks.size)

    @property
    def total(self) -> float:
        """Residents of the parent."""
        return float(self.pop.sum())

    def walk_lookup(self) -> sp.csr_matrix:
        """``m x m`` CSR of ``walk + 1`` on admissible pairs (0 = not admissible)."""
        return sp.csr_matrix((self.pw + 1.0, (self.pi, self.pj)), shape=(self.m, self.m))


@dataclass
class SubResult:
    """One parent's split: local unit per block, local centre per unit, and its record."""

    unit: np.ndarray
    centre: np.ndarray
    walk: float
    violation: float
    bound: float
    status: str  # "optimal" | "time_limit" | "heuristic"
    note: str = ""


def _label(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _fail(what: str, fix: str) -> DataError:
    return DataError(f"Partition problem: {what}. {fix}")


def validate(problem: PartitionProblem) -> tuple[np.ndarray, list[SubProblem]]:
    """Check the arrays and cut the problem into one :class:`SubProblem` per parent.

    Raises
    ------
    DataError
        Inconsistent shapes, a negative or non-finite population, a non-symmetric
        adjacency, negative or non-finite walks or an empty/inverted population range.
    """
    pop = np.asarray(problem.population, dtype=float)
    if pop.ndim != 1:
        raise _fail(
            f"population has shape {pop.shape}", "Give one population per block (a 1-D array)."
        )
    n = pop.size
    if not np.all(np.isfinite(pop)) or (n and pop.min() < 0):
        bad = int(np.flatnonzero(~np.isfinite(pop) | (pop < 0))[0])
        raise _fail(
            f"population of block {bad} is {pop[bad]!r}",
            "Populations must be finite and >= 0; fix or drop that block.",
        )
    parent = np.asarray(problem.parent)
    if parent.shape != (n,):
        raise _fail(
            f"parent has shape {parent.shape} but population has {n} blocks",
            "Give one parent label per block, in the same order as population.",
        )
    for name in ("adjacency", "walk_m"):
        mat = getattr(problem, name)
        if not sp.issparse(mat) or mat.shape != (n, n):
            shape = getattr(mat, "shape", None)
            raise _fail(
                f"{name} has shape {shape}, not ({n}, {n})",
                f"Give {name} as a scipy.sparse matrix with one row and one column per block.",
            )
    adj = sp.csr_matrix(problem.adjacency, dtype=float)
    adj.data = np.where(np.isfinite(adj.data), adj.data, 1.0)
    adj.eliminate_zeros()
    pattern = (adj != 0).astype(np.int8)
    if (pattern != pattern.T).nnz:
        asym = (pattern != pattern.T).tocoo()
        raise _fail(
            f"adjacency is not symmetric (block {asym.row[0]} -> {asym.col[0]} is adjacent "
            "one way only)",
            "Contiguity is mutual: use adjacency.maximum(adjacency.T).",
        )
    walk = sp.coo_matrix(problem.walk_m)
    if walk.nnz and (not np.all(np.isfinite(walk.data)) or walk.data.min() < 0):
        raise _fail(
            "walk_m has a negative or non-finite walk",
            "Walks are metres >= 0; leave a pair out (no entry) when it is too far.",
        )
    lo, hi = float(problem.pop_min), float(problem.pop_max)
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi and hi > 0):
        raise _fail(
            f"population range [{lo}, {hi}] is not valid",
            "Set 0 <= pop_min <= pop_max, pop_max > 0 (e.g. 50000 and 100000 for 15-minute).",
        )
    labels, code = np.unique(parent, return_inverse=True)
    code = code.ravel()
    # admissible pairs: same parent, off the diagonal (the diagonal is added with walk 0)
    keep = (code[walk.row] == code[walk.col]) & (walk.row != walk.col)
    ri, cj, w = walk.row[keep], walk.col[keep], walk.data[keep].astype(float)
    adj_coo = adj.tocoo()
    ka = (code[adj_coo.row] == code[adj_coo.col]) & (adj_coo.row != adj_coo.col)
    ar, ac = adj_coo.row[ka], adj_coo.col[ka]
    local = np.empty(n, dtype=np.int64)
    order = np.argsort(code, kind="stable")
    starts = np.searchsorted(code[order], np.arange(labels.size))
    sizes = np.bincount(code, minlength=labels.size)
    for g in range(labels.size):
        local[order[starts[g] : starts[g] + sizes[g]]] = np.arange(sizes[g])
    pair_g = code[ri]
    adj_g = code[ar]
    pair_order = np.argsort(pair_g, kind="stable")
    adj_order = np.argsort(adj_g, kind="stable")
    pstart = np.searchsorted(pair_g[pair_order], np.arange(labels.size + 1))
    astart = np.searchsorted(adj_g[adj_order], np.arange(labels.size + 1))
    subs = []
    for g in range(labels.size):
        blocks = order[starts[g] : starts[g] + sizes[g]]
        m = blocks.size
        sel = pair_order[pstart[g] : pstart[g + 1]]
        diag = np.arange(m)
        pi = np.concatenate([diag, local[ri[sel]]])
        pj = np.concatenate([diag, local[cj[sel]]])
        pw = np.concatenate([np.zeros(m), w[sel]])
        asel = adj_order[astart[g] : astart[g + 1]]
        sub_adj = sp.csr_matrix(
            (np.ones(asel.size), (local[ar[asel]], local[ac[asel]])), shape=(m, m)
        )
        sub_adj.data[:] = 1.0
        subs.append(SubProblem(_label(labels[g]), blocks, pop[blocks], sub_adj, pi, pj, pw, lo, hi))
    return pop, subs


def pair_walk(look: sp.csr_matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Walk of each ``(rows[t], cols[t])`` in a :meth:`SubProblem.walk_lookup`, -1 if absent."""
    rows = np.asarray(rows, dtype=np.int64)
    if rows.size == 0:
        return np.empty(0)
    return np.asarray(look[rows, np.asarray(cols, dtype=np.int64)]).ravel() - 1.0


def violation(unit_pop: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Residents below ``lo`` or above ``hi``, per unit."""
    v = np.maximum(lo - unit_pop, 0.0) + np.maximum(unit_pop - hi, 0.0)
    return np.where(v > POP_TOL, v, 0.0)


def count_bounds(total: float, lo: float, hi: float) -> tuple[int, int]:
    """Fewest and most units whose range sums can hold ``total`` (may be empty: lo > hi)."""
    fewest = max(1, math.ceil(total / hi - 1e-9))
    most = math.floor(total / lo + 1e-9) if lo > 0 else 10**9
    return fewest, most


def reason(sub: SubProblem, res: SubResult) -> RangeReason:
    """Why a parent has units out of range, and what the returned split does."""
    total, lo, hi = sub.total, sub.pop_min, sub.pop_max
    k = int(res.centre.size)
    fewest, most = count_bounds(total, lo, hi)
    unit_pop = np.bincount(res.unit, weights=sub.pop, minlength=k)
    if res.violation <= POP_TOL:
        code = "in_range"
    elif total < lo - POP_TOL:
        code = "too_few"
    elif fewest > most:
        code = "no_whole_number"
    elif sub.pop.max() > hi + POP_TOL:
        code = "block_too_big"
    else:
        code = "no_split"
    return RangeReason(
        code=code,
        total=float(total),
        pop_min=float(lo),
        pop_max=float(hi),
        fewest=fewest,
        most=most,
        largest_block=float(sub.pop.max()) if sub.pop.size else 0.0,
        units=k,
        units_out=int(np.count_nonzero(violation(unit_pop, lo, hi))),
        residents_out=float(res.violation),
        beyond_walk_limit=res.note == WALK_LIMIT_NOTE,
        solver_note="" if res.note in ("", WALK_LIMIT_NOTE) else res.note,
    )


def assemble(subs: list[SubProblem], results: list[SubResult], n: int, seconds: float) -> Partition:
    """Join per-parent results into one :class:`Partition`."""
    unit = np.empty(n, dtype=np.int64)
    centres = []
    offset = 0
    objective = bound = viol = 0.0
    statuses = set()
    reasons: dict[Any, RangeReason] = {}
    for sub, res in zip(subs, results, strict=True):
        unit[sub.blocks] = res.unit + offset
        centres.append(sub.blocks[res.centre])
        offset += res.centre.size
        objective += res.walk
        bound += min(res.bound, res.walk)
        viol += res.violation
        statuses.add(res.status)
        if res.violation > POP_TOL or res.note == WALK_LIMIT_NOTE:
            reasons[sub.label] = reason(sub, res)
    status = next((s for s in ("heuristic", "time_limit") if s in statuses), "optimal")
    gap = 0.0 if objective <= 0 else max(0.0, (objective - bound) / objective)
    if gap < 1e-9:
        gap = 0.0
    return Partition(
        unit=unit,
        centre=np.concatenate(centres) if centres else np.empty(0, dtype=np.int64),
        objective=float(objective),
        bound=float(max(bound, 0.0)),
        gap=float(gap),
        status=status,
        range_violation=float(viol),
        parents_out_of_range=reasons,
        seconds=seconds,
    )


def evaluate(sub: SubProblem, unit: np.ndarray, centre: np.ndarray) -> tuple[float, float, bool]:
    """Walk (resident-metres), range violation and whether every pair is admissible."""
    look = sub.walk_lookup()
    w = pair_walk(look, np.arange(sub.m), centre[unit])
    ok = bool(np.all(w >= 0))
    walk = float(sub.pop @ np.maximum(w, 0.0))
    unit_pop = np.bincount(unit, weights=sub.pop, minlength=centre.size)
    return walk, float(violation(unit_pop, sub.pop_min, sub.pop_max).sum()), ok


def min_walk_bound(sub: SubProblem) -> float:
    """A lower bound of the walk of every split of ``sub`` within the range.

    Each unit within the range holds at least ``pop_min`` residents, so a split has at most
    ``K = floor(total / pop_min)`` units, hence at most ``K`` centres (walk 0). Every other
    block ``i`` walks at least ``w2_i``, its walk to the nearest admissible centre other
    than itself (0 when it has none). So the walk is at least
    ``sum_i pop_i w2_i`` minus the ``K`` largest ``pop_i w2_i``.
    """
    off = sub.pi != sub.pj
    w2 = np.full(sub.m, np.inf)
    np.minimum.at(w2, sub.pi[off], sub.pw[off])
    w2[~np.isfinite(w2)] = 0.0
    cost = sub.pop * w2
    _, most = count_bounds(sub.total, sub.pop_min, sub.pop_max)
    if most >= sub.m:
        return 0.0
    cost.sort()
    return float(cost[: sub.m - most].sum())


# --------------------------------------------------------------------------------------
# Public solvers


def _by_parent(
    problem: PartitionProblem,
    time_limit_s: float,
    solve: Callable[..., SubResult],
) -> Partition:
    """Solve parent by parent, each given a share of the time left by its size squared."""
    t0 = time.monotonic()
    pop, subs = validate(problem)
    deadline = t0 + float(time_limit_s)
    weights = np.array([s.m**2 for s in subs], dtype=float)
    results = []
    for g, sub in enumerate(subs):
        left = deadline - time.monotonic()
        share = left * weights[g] / max(weights[g:].sum(), 1.0)
        results.append(solve(sub, deadline=time.monotonic() + max(share, 0.0)))
    return assemble(subs, results, pop.size, time.monotonic() - t0)


def partition_exact(problem: PartitionProblem, *, time_limit_s: float = 60.0) -> Partition:
    """Group blocks into units with the exact MILP (HiGHS), parent by parent.

    See :mod:`lifecircle._partition_milp` for the model (p-median assignment, population
    range with penalised slacks, contiguity by single-commodity flows).

    Parameters
    ----------
    problem
        The blocks (see :class:`PartitionProblem`).
    time_limit_s
        Wall-clock limit of the whole solve; parents share it in proportion to their size.
        At the limit, the best split found and HiGHS's dual bound are returned with status
        ``"time_limit"``.

    Returns
    -------
    Partition
        The lexicographically best split (least range violation, then least walk) when
        ``status == "optimal"``.

    Raises
    ------
    DataError
        Inconsistent arrays (see :func:`validate`).
    """
    from ._partition_milp import solve_parent

    return _by_parent(problem, time_limit_s, solve_parent)


def partition_heuristic(
    problem: PartitionProblem, *, seed: int = 0, time_limit_s: float = 60.0
) -> Partition:
    """Group blocks into units by region growing and local search, parent by parent.

    See :mod:`lifecircle._partition_heuristic` for the method, its complexity and its
    lower bound (:func:`lifecircle._partition_bound.lp_bound`, the LP relaxation with
    the split's range violation as budget, per parent; raised to :func:`min_walk_bound`
    for parents within range).

    Parameters
    ----------
    problem
        The blocks (see :class:`PartitionProblem`).
    seed
        Seed of the random tie-breaking.
    time_limit_s
        Wall-clock limit, shared by the parents in proportion to their squared size; in
        each share the search takes
        :data:`lifecircle._partition_heuristic.SEARCH_SHARE` (it stops early after a few
        restarts) and the bound's LP the rest, but at least
        :data:`lifecircle._partition_heuristic.LP_MIN_SECONDS` (an LP that does not finish
        gives the bound 0 for that parent).

    Returns
    -------
    Partition
        With ``status == "heuristic"`` and the gap to the proven bound.

    Raises
    ------
    DataError
        Inconsistent arrays (see :func:`validate`).
    """
    from ._partition_heuristic import solve_parent

    rng = np.random.default_rng(seed)
    return _by_parent(
        problem, time_limit_s, lambda sub, deadline: solve_parent(sub, rng=rng, deadline=deadline)
    )


def partition(
    problem: PartitionProblem, *, exact_max_blocks: int = 300, time_limit_s: float = 60.0
) -> Partition:
    """The exact MILP when every parent has at most ``exact_max_blocks`` blocks, else the heuristic.

    Parameters
    ----------
    problem
        The blocks (see :class:`PartitionProblem`).
    exact_max_blocks
        Largest parent (in blocks) solved exactly.
    time_limit_s
        Wall-clock limit of the solve.

    Returns
    -------
    Partition
        See :func:`partition_exact` and :func:`partition_heuristic`.
    """
    _, subs = validate(problem)
    if all(s.m <= exact_max_blocks for s in subs):
        return partition_exact(problem, time_limit_s=time_limit_s)
    return partition_heuristic(problem, time_limit_s=time_limit_s)
