"""Exact reductions of the covering MILP and the highspy solve behind every location model.

The reductions (:func:`lifecircle._cover_reduction.reduce_cover`) must keep the
optimum of MCLP, LSCP and MCLP with per-unit floors: checked against brute force over
every subset of candidates on small random instances, and by hand on a crafted
instance. The solver (:func:`lifecircle._location_models.milp`, highspy) must answer
as scipy's ``milp`` did, take a start, and never see the greedy as a constraint.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint
from scipy.optimize import milp as scipy_milp

from lifecircle import _location_models as lm
from lifecircle._cover_reduction import _row_groups, reduce_cover

# --------------------------------------------------------------------------- brute force


def best_cover(
    cover: np.ndarray, w: np.ndarray, label: np.ndarray, k: int, floors: dict[int, float]
) -> float:
    """Largest covered weight with at most ``k`` columns meeting every floor (-inf: none)."""
    best = -np.inf
    m = cover.shape[1]
    for r in range(min(k, m) + 1):
        for cols in itertools.combinations(range(m), r):
            hit = cover[:, list(cols)].any(axis=1) if cols else np.zeros(len(w), bool)
            if all(w[hit & (label == f)].sum() >= need - 1e-9 for f, need in floors.items()):
                best = max(best, float(w[hit].sum()))
    return best


def fewest(cover: np.ndarray, w: np.ndarray, need: float) -> float:
    """Fewest columns covering at least ``need`` (inf: impossible)."""
    m = cover.shape[1]
    for r in range(m + 1):
        for cols in itertools.combinations(range(m), r):
            hit = cover[:, list(cols)].any(axis=1) if cols else np.zeros(len(w), bool)
            if w[hit].sum() >= need - 1e-9:
                return float(r)
    return np.inf


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**31),
    n_rows=st.integers(1, 14),
    n_cand=st.integers(1, 7),
    density=st.floats(0.05, 0.7),
    k=st.integers(1, 4),
    n_units=st.integers(1, 3),
)
def test_reductions_keep_the_optimum(seed, n_rows, n_cand, density, k, n_units):
    rng = np.random.default_rng(seed)
    cover = rng.random((n_rows, n_cand)) < density
    cover[rng.random(n_rows) < 0.3] = cover[0]  # repeated reach sets, to be merged
    w = np.where(rng.random(n_rows) < 0.15, 0.0, rng.integers(1, 9, n_rows).astype(float))
    label = rng.integers(0, n_units, n_rows)
    red = reduce_cover(sp.csr_matrix(cover.astype(float)), w, label)
    small = red.cover.toarray() > 0
    # the sizes only shrink, weight is kept, and no merged row mixes units
    assert small.shape[0] <= n_rows and small.shape[1] <= n_cand
    live = (w > 0) & cover.any(axis=1)
    assert red.weight.sum() == pytest.approx(w[live].sum())
    assert np.all(red.group[~live] == -1)
    assert np.array_equal(red.label[red.group[live]], label[live])
    # every dropped candidate has a kept dominator covering all its rows
    for j in range(n_cand):
        d = red.dominator[j]
        if d >= 0:
            assert d in red.kept and np.all(cover[live, d] >= cover[live, j])
        else:
            assert not cover[live, j].any()
    # MCLP, MCLP with floors (per unit, half of its reachable weight) and LSCP
    assert best_cover(small, red.weight, red.label, k, {}) == pytest.approx(
        best_cover(cover, w, label, k, {})
    )
    floors = {u: 0.5 * w[live & (label == u)].sum() for u in range(n_units)}
    assert best_cover(small, red.weight, red.label, k, floors) == pytest.approx(
        best_cover(cover, w, label, k, floors)
    )
    need = 0.8 * w[live].sum()
    assert fewest(small, red.weight, need) == fewest(cover, w, need)
    # a reduced solution maps back to a solution of the same value
    if small.shape[1]:
        cols = list(range(min(k, small.shape[1])))
        hit_small = small[:, cols].any(axis=1)
        hit = cover[:, red.kept[cols]].any(axis=1)
        assert red.weight[hit_small].sum() == pytest.approx(w[hit].sum())


def test_reductions_shrink_a_crafted_instance():
    # rows 0-2 reach candidates {0, 1, 2} or fewer, rows 3-5 only candidate 3;
    # candidate 0 ({0, 1}) is inside candidate 1 ({0, 1, 2}), candidate 2 equals 1
    cover = np.zeros((8, 4))
    cover[[0, 1], 0] = 1
    cover[[0, 1, 2], 1] = 1
    cover[[0, 1, 2], 2] = 1
    cover[[3, 4, 5], 3] = 1
    cover[6, 3] = 1  # a row without weight
    # row 7 reaches no candidate
    w = np.array([1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 0.0, 64.0])
    red = reduce_cover(sp.csr_matrix(cover), w)
    assert red.kept.tolist() == [1, 3]
    assert red.dominator.tolist() == [1, 1, 1, 3]
    assert red.cover.shape == (2, 2)
    assert sorted(red.weight.tolist()) == [7.0, 56.0]
    assert red.group[6] == red.group[7] == -1
    assert len({red.group[i] for i in (0, 1, 2)}) == 1
    assert len({red.group[i] for i in (3, 4, 5)}) == 1
    assert "8 residents that a candidate reaches -> 2 weighted rows" not in red.note()
    assert "6 residents that a candidate reaches -> 2 weighted rows" in red.note()
    assert "4 candidates -> 2" in red.note()
    # the greedy's candidates stand in through their dominators
    x, z = red.start(np.array([0, 3]))
    assert x.tolist() == [1.0, 1.0] and z.tolist() == [1.0, 1.0]
    # with floors, rows of different units are never merged
    red_u = reduce_cover(sp.csr_matrix(cover), w, np.array([0, 1, 0, 0, 0, 0, 0, 0]))
    assert red_u.cover.shape == (3, 2)


def test_identical_rows_are_found_without_a_python_loop_and_verified():
    rng = np.random.default_rng(5)
    base = (rng.random((50, 30)) < 0.2).astype(float)
    base[:, 0] = 1.0  # no empty row
    rows = base[rng.integers(0, 50, 4000)]
    groups = _row_groups(sp.csr_matrix(rows), np.zeros(4000, np.int64))
    # same group <=> same row
    _, want = np.unique(rows, axis=0, return_inverse=True)
    pairs = rng.integers(0, 4000, (20000, 2))
    same_group = groups[pairs[:, 0]] == groups[pairs[:, 1]]
    same_row = want.ravel()[pairs[:, 0]] == want.ravel()[pairs[:, 1]]
    assert np.array_equal(same_group, same_row)


# --------------------------------------------------------------------------- the solver


def random_milp(seed: int):
    rng = np.random.default_rng(seed)
    n, m = 12, 8
    a = sp.random(m, n, density=0.4, random_state=seed, data_rvs=lambda k: rng.integers(1, 5, k))
    c = -rng.integers(1, 10, n).astype(float)
    cons = [
        LinearConstraint(a, -np.inf, rng.integers(2, 8, m)),
        LinearConstraint(np.ones((1, n)), 0, 5),
    ]
    integrality = (rng.random(n) < 0.6).astype(float)
    return c, cons, integrality


@pytest.mark.parametrize("seed", range(6))
def test_highspy_answers_as_scipy_milp(seed):
    c, cons, integrality = random_milp(seed)
    want = scipy_milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1))
    got = lm.milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1))
    assert got.status == want.status == 0
    assert got.fun == pytest.approx(want.fun, abs=1e-6)
    assert got.mip_dual_bound == pytest.approx(got.fun, abs=1e-6)
    # a feasible start is accepted and changes nothing in the optimum
    started = lm.milp(
        c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1), start=got.x
    )
    assert started.status == 0 and started.fun == pytest.approx(got.fun, abs=1e-6)


def test_highspy_reports_infeasible_as_scipy_did():
    c = np.array([1.0, 1.0])
    cons = [LinearConstraint(np.ones((1, 2)), 3, np.inf)]
    got = lm.milp(c, constraints=cons, integrality=np.ones(2), bounds=Bounds(0, 1))
    assert got.status == 2 and got.x is None


def test_a_start_is_kept_when_highs_stops_at_once():
    """With no node and no time, HiGHS still returns the start it was given."""
    c, cons, integrality = random_milp(3)
    opt = lm.milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1))
    start = np.zeros_like(opt.x)  # feasible: every row has a lower side <= 0
    got = lm.milp(
        c,
        constraints=cons,
        integrality=integrality,
        bounds=Bounds(0, 1),
        options={"presolve": False, "node_limit": 0, "mip_heuristic_effort": 0.0},
        start=start,
    )
    assert got.status in (0, 1) and got.x is not None
    assert got.fun <= float(c @ start) + 1e-9
