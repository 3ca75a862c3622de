"""The models behind :mod:`lifecircle.complete_siting`: complete life circles, greedy, MILPs.

Everything here works on plain arrays (:class:`Instance`), never on an audit, so the
tests can build instances by hand and check the models against brute force.

**The quantity.** An origin is *complete* when, for every listed category, it
reaches an existing facility of the category or a new site hosting it, each within
the category's own threshold (``reach[c]``). Demand ``weight`` per origin
(population or a cohort); ``unit`` is the origin's finest governance unit.

With a level (:attr:`Instance.fixed`), an origin must also reach the level's other
mandatory categories, which no new site hosts, at existing facilities: the quantity is
then the level's complete life circle.

**Reduction** (:class:`Reduced`), exact: origins complete already, those without a
fixed category, and those some missing category of which no candidate reaches, never
change and leave the model
(they stay in every total); the others are merged into weighted *groups* of
identical (unit, per-category reach) rows; (candidate, category) pairs reaching no
group that misses the category are dropped.

**Models** (maximise; ``x[j, c]`` = candidate ``j`` hosts category ``c``, ``z_g`` in
[0, 1] the complete share of group ``g``, ``z_g <= sum_j A_c[g, j] x[j, c]`` for every
category ``c`` the group misses):

* ``coverage``: the demand newly complete, ``sum_g w_g z_g``;
* ``maxmin``: ``t`` with ``(before_u + sum_{g in u} w_g z_g) / D_u >= t`` for every
  finest unit whose share the candidates can change (units they cannot are left
  out and named in a note); ties broken by a second MILP that maximises coverage
  with ``t`` held at the optimum found;
* ``fair``: ``(1 - lam) * complete share + lam * mean complete share of the
  worst-served decile of finest units`` (``ceil(10 %)`` of the units whose share the
  candidates can change, each unit counting once: as for ``maxmin``, a unit no
  candidate can improve would pin the decile whatever the plan), linear through the
  conditional value-at-risk form ``max_eta eta - (1/k) sum_u max(0, eta - s_u)``;
  with ``lam = 1`` ties are broken by coverage, as for ``maxmin``.

``complex``: one ``y_j`` per candidate hosting every category (``x[j, c] = y_j``).
Budgets: ``sites`` pairs in all, per category, or complexes.

**Greedy.** Complete coverage is *not* submodular (a site for one category gains
nothing until the others are reached, then everything), so the greedy is plain
(every gain re-evaluated at every step, vectorised; no lazy evaluation, which
would be invalid) and carries no ``(1 - 1/e)`` guarantee. Its score is the newly
complete demand plus the fractional progress ``w_g / k_g`` per (group, missing
category) reached (``k_g``: categories the group misses), weighted per objective.
The reported bound is HiGHS's dual bound or a combinatorial bound (everything the
candidates could make complete), never the greedy value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

OBJECTIVES = ("coverage", "maxmin", "fair")
#: Share of the finest units that make up the worst-served decile of ``fair``.
DECILE = 0.1


@dataclass(frozen=True, eq=False)
class Instance:
    """Per-origin inputs of a complete siting.

    Attributes
    ----------
    covered
        ``n x C`` bool: origin within the threshold of an existing facility of the category.
    reach
        Per category, ``n x m`` sparse: candidate within the category's threshold
        (non-zero entries).
    weight
        Demand per origin.
    unit
        Finest unit code per origin, ``0 .. n_units - 1``.
    n_units
        Number of unit codes.
    fixed
        Per origin: reaches every *fixed* category (the other mandatory categories of
        a level, which no new site hosts); an origin without them is never complete.
        None: no fixed category.
    """

    covered: np.ndarray
    reach: tuple[sp.csr_matrix, ...]
    weight: np.ndarray
    unit: np.ndarray
    n_units: int
    fixed: np.ndarray | None = None

    @property
    def fixed_ok(self) -> np.ndarray:
        """Per origin: has every fixed category (all True without fixed categories)."""
        if self.fixed is None:
            return np.ones(len(self.weight), bool)
        return np.asarray(self.fixed, bool)

    @property
    def n_cand(self) -> int:
        """Number of candidates."""
        return int(self.reach[0].shape[1])

    @property
    def n_cat(self) -> int:
        """Number of categories."""
        return len(self.reach)


@dataclass(frozen=True)
class Goal:
    """The objective (:data:`OBJECTIVES`) and the fairness weight of ``fair``."""

    objective: str = "coverage"
    lam: float = 0.5


@dataclass
class Budget:
    """``total`` pairs (or complexes), or ``per_category`` counts (one per category)."""

    total: int | None = None
    per_category: np.ndarray | None = None
    complex: bool = False

    @property
    def sites(self) -> int:
        """Budget units in all."""
        if self.total is not None:
            return int(self.total)
        return int(np.sum(np.asarray(self.per_category)))


def complete_after(inst: Instance, hosts: np.ndarray) -> np.ndarray:
    """Per origin: complete after the new sites ``hosts`` (``m x C`` bool)."""
    ok = inst.fixed_ok.copy()
    for c, reach in enumerate(inst.reach):
        sel = hosts[:, c].astype(float)
        ok &= inst.covered[:, c] | (np.asarray(reach @ sel).ravel() > 0)
    return ok


@dataclass
class Figures:
    """Exact figures of a set of complete origins (see :func:`figures`)."""

    newly: float
    share: float
    unit_share: np.ndarray
    min_share: float | None
    maxmin: float | None
    decile_share: float | None
    fair: float


def figures(red: Reduced, complete: np.ndarray, lam: float = 0.5) -> Figures:
    """Newly complete demand, complete share, unit shares and the objectives' values."""
    inst = red.inst
    w = inst.weight
    total = float(w.sum())
    newly = float(w[complete & ~red.complete0].sum())
    share = float(w[complete].sum() / total) if total > 0 else 0.0
    per_unit = np.bincount(inst.unit, weights=w * complete, minlength=inst.n_units)
    with np.errstate(invalid="ignore", divide="ignore"):
        unit_share = np.where(red.unit_demand > 0, per_unit / red.unit_demand, np.nan)
    pos = red.unit_demand > 0
    min_share = float(unit_share[pos].min()) if pos.any() else None
    free = red.free_units
    maxmin = float(unit_share[free].min()) if len(free) else None
    decile = _decile_mean(unit_share[free])
    fair = (1 - lam) * share + lam * (decile if decile is not None else 0.0)
    return Figures(newly, share, unit_share, min_share, maxmin, decile, fair)


def _decile_mean(shares: np.ndarray) -> float | None:
    if len(shares) == 0:
        return None
    k = decile_size(len(shares))
    return float(np.sort(shares)[:k].mean())


def decile_size(n_units: int) -> int:
    """Units in the worst-served decile: ``ceil(DECILE * n)``, at least one."""
    return max(1, math.ceil(DECILE * n_units - 1e-9))


def objective_value(fig: Figures, goal: Goal) -> float:
    """The model's objective for these figures (``maxmin``: 0 when no unit can change)."""
    objective = goal.objective
    if objective == "coverage":
        return fig.newly
    if objective == "maxmin":
        return fig.maxmin if fig.maxmin is not None else 0.0
    return fig.fair


# --------------------------------------------------------------------------- reduction


@dataclass
class Reduced:
    """The model's groups of origins (see the module docstring)."""

    inst: Instance
    complete0: np.ndarray
    origin_group: np.ndarray
    w: np.ndarray
    unit: np.ndarray
    reach: list[sp.csr_matrix]
    missing: np.ndarray
    unit_demand: np.ndarray
    unit_before: np.ndarray
    free_units: np.ndarray
    merged: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.w)


def reduce_instance(inst: Instance) -> Reduced:
    """Drop the origins that cannot change, merge identical ones (exactly)."""
    n, n_cat = len(inst.weight), inst.n_cat
    covered = np.asarray(inst.covered, bool)
    complete0 = np.asarray(covered.all(axis=1), bool) & inst.fixed_ok
    reachable = np.column_stack([np.diff(r.indptr) > 0 for r in inst.reach])
    ok = ~complete0 & (covered | reachable).all(axis=1) & (inst.weight > 0) & inst.fixed_ok
    rows = np.flatnonzero(ok)
    blocks = []
    for c, reach in enumerate(inst.reach):
        keep = sp.diags((~covered[rows, c]).astype(float))
        r = (keep @ (reach[rows] != 0).astype(float)).tocsr()
        r.eliminate_zeros()
        r.sort_indices()
        blocks.append(r)
    first, inverse, merged = _merge_rows(blocks, inst.unit[rows])
    w = np.bincount(inverse, weights=inst.weight[rows], minlength=len(first))
    origin_group = np.full(n, -1, np.int64)
    origin_group[rows] = inverse
    unit_demand = np.bincount(inst.unit, weights=inst.weight, minlength=inst.n_units)
    unit_before = np.bincount(inst.unit, weights=inst.weight * complete0, minlength=inst.n_units)
    group_unit = inst.unit[rows][first]
    reach = [b[first] for b in blocks]
    missing = ~covered[rows][first] if len(rows) else np.zeros((0, n_cat), bool)
    return Reduced(
        inst=inst,
        complete0=complete0,
        origin_group=origin_group,
        w=w,
        unit=group_unit,
        reach=reach,
        missing=missing,
        unit_demand=unit_demand,
        unit_before=unit_before,
        free_units=np.unique(group_unit),
        merged=merged,
    )


def _merge_rows(
    blocks: list[sp.csr_matrix], unit: np.ndarray
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Groups of identical rows (same unit, same reach in every block), exactly.

    Rows are keyed by two random projections, their number of entries and the
    unit; the grouping is then checked entry by entry, and dropped (every row its
    own group) in the unlikely case of a collision.
    """
    n = len(unit)
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), True
    both = sp.hstack(blocks).tocsr()
    both.sort_indices()
    rng = np.random.default_rng(12345)
    proj = rng.random((both.shape[1], 2))
    h = np.asarray(both @ proj)
    key = np.column_stack([h, np.diff(both.indptr), unit]).astype(float)
    _, first, inverse = np.unique(key, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    diff = both - both[first[inverse]]
    diff.eliminate_zeros()
    if diff.nnz:
        return np.arange(n), np.arange(n), False
    return first, inverse, True


# --------------------------------------------------------------------------- bounds


def combinatorial_bound(red: Reduced, goal: Goal) -> float:
    """A valid upper bound: every group made complete (objective of that, clipped)."""
    every = red.complete0.copy()
    every[red.origin_group >= 0] = True
    return objective_value(figures(red, every, goal.lam), goal)


def category_gains_bound(red: Reduced, budget: Budget) -> float:
    """A valid upper bound of the newly complete demand (``coverage``), from each category.

    A group missing category ``c`` becomes complete only if a site hosting ``c`` reaches
    it, and at most ``k_c`` sites host ``c`` (its own budget; the total, or the number of
    complexes, otherwise), which reach at most the demand of their ``k_c`` largest
    single-site reaches. So for every ``c``: newly complete <= (demand of the groups not
    missing ``c``) + (sum of the ``k_c`` largest single-site reaches of ``c``); the bound
    is the least of these over the categories.
    """
    if red.n_groups == 0:
        return 0.0
    best = float(red.w.sum())
    for c, reach in enumerate(red.reach):
        miss = red.missing[:, c]
        k = budget.sites if budget.per_category is None else int(budget.per_category[c])
        single = np.asarray(reach.T @ (red.w * miss)).ravel()
        top = float(np.sort(single)[::-1][:k].sum()) if k > 0 else 0.0
        best = min(best, float(red.w[~miss].sum()) + top)
    return best


# --------------------------------------------------------------------------- greedy


def greedy(red: Reduced, budget: Budget, goal: Goal) -> np.ndarray:
    """The greedy's sites: ``m x C`` bool (see the module docstring; no guarantee)."""
    inst = red.inst
    m, n_cat = inst.n_cand, inst.n_cat
    hosts = np.zeros((m, n_cat), bool)
    if red.n_groups == 0:
        return hosts
    left_u = red.missing.copy()  # missing and not yet reached
    reach_t = [r.T.tocsr() for r in red.reach]
    left_total = budget.sites
    left_cat = None if budget.per_category is None else np.array(budget.per_category, np.int64)
    n_units_pos = len(red.free_units)
    for _ in range(budget.sites):
        if left_total <= 0:
            break
        fig_w = _greedy_weights(red, left_u, goal, n_units_pos)
        score = None
        for v in fig_w:
            score = _scores(red, reach_t, left_u, v, complex_=budget.complex)
            if budget.complex:
                score[hosts.any(axis=1)] = -np.inf
            else:
                score[hosts] = -np.inf
                if left_cat is not None:
                    score[:, left_cat <= 0] = -np.inf
            if score.max() > 1e-12:
                break
        assert score is not None
        best = float(score.max())
        if best <= 1e-12:
            break
        flat = int(np.argmax(score))
        if budget.complex:
            j = flat
            hosts[j, :] = True
            for c in range(n_cat):
                left_u[:, c] &= ~_column_hit(red.reach[c], j)
        else:
            j, c = divmod(flat, n_cat)
            hosts[j, c] = True
            left_u[:, c] &= ~_column_hit(red.reach[c], j)
            if left_cat is not None:
                left_cat[c] -= 1
        left_total -= 1
    return hosts


def _column_hit(reach: sp.csr_matrix, j: int) -> np.ndarray:
    return np.asarray(reach[:, [j]].toarray()).ravel() > 0


def _greedy_weights(red: Reduced, left_u: np.ndarray, goal: Goal, n_pos: int) -> list[np.ndarray]:
    """Group weights of the greedy score, most specific first (fallbacks after)."""
    inst, objective, lam = red.inst, goal.objective, goal.lam
    total = float(inst.weight.sum()) or 1.0
    coverage = red.w / total
    if objective == "coverage":
        return [red.w]
    done = ~left_u.any(axis=1)
    now = red.unit_before + np.bincount(
        red.unit, weights=red.w * done, minlength=len(red.unit_before)
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(red.unit_demand > 0, now / red.unit_demand, np.inf)
    per_demand = red.w / red.unit_demand[red.unit]
    if objective == "maxmin":
        open_units = np.unique(red.unit[~done])
        if len(open_units) == 0:
            return [coverage]
        worst = open_units[np.argmin(share[open_units])]
        return [per_demand * (red.unit == worst), coverage]
    k = decile_size(n_pos)
    pos = red.free_units
    in_decile = np.zeros(len(red.unit_demand), bool)
    in_decile[pos[np.argsort(share[pos], kind="stable")[:k]]] = True
    return [(1 - lam) * coverage + lam * per_demand * in_decile[red.unit] / k, coverage]


def _scores(
    red: Reduced,
    reach_t: list[sp.csr_matrix],
    left_u: np.ndarray,
    v: np.ndarray,
    *,
    complex_: bool,
) -> np.ndarray:
    """Greedy score per pair ``(m, C)`` or per complex ``(m,)``."""
    rem = left_u.sum(axis=1)
    k_g = np.maximum(red.missing.sum(axis=1), 1)
    n_cat = len(reach_t)
    m = reach_t[0].shape[0]
    partial = np.zeros((m, n_cat))
    last = np.zeros((m, n_cat))
    for c in range(n_cat):
        partial[:, c] = reach_t[c] @ (v * left_u[:, c] / k_g)
        last[:, c] = reach_t[c] @ (v * left_u[:, c] * (rem == 1))
    if not complex_:
        return last + partial
    # a complex completes a group when it reaches every category the group still misses
    count = sp.csr_matrix((len(v), m))
    for c in range(n_cat):
        count = count + sp.diags(left_u[:, c].astype(float)) @ red.reach[c]
    count = count.tocoo()
    full = (count.data >= rem[count.row] - 0.5) & (rem[count.row] > 0)
    gain = np.bincount(count.col[full], weights=v[count.row[full]], minlength=m)
    return gain + partial.sum(axis=1)


def value_of(red: Reduced, hosts: np.ndarray, goal: Goal) -> float:
    """The objective of the sites ``hosts``, computed exactly on the origins."""
    return objective_value(figures(red, complete_after(red.inst, hosts), goal.lam), goal)
