"""Equity measures: hand-computed cases, PySAL ``inequality`` as the reference, weights.

With integer weights every measure must equal the unweighted measure of the repeated
data; unweighted, Gini and Theil (with its decomposition) must equal PySAL's.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from inequality.gini import Gini
from inequality.theil import Theil, TheilD
from scipy.stats import rankdata

from lifecircle.equity import (
    EquityFigures,
    TheilT,
    equity_figures,
    gini,
    lorenz,
    palma,
    rank_and_decile,
    theil,
    worst_served,
)
from lifecircle.errors import DataError, LifecircleError

# --------------------------------------------------------------------------- hand-computed


def test_gini_hand_cases():
    # population Gini, no n/(n-1): one of four has everything -> 3/4 (PySAL agrees)
    assert gini([0, 0, 0, 1]) == pytest.approx(0.75, abs=1e-15)
    assert Gini(np.array([0, 0, 0, 1.0])).g == pytest.approx(0.75)
    assert gini([2, 2, 2]) == 0.0
    assert gini([5]) == 0.0
    # sum over ordered pairs |xi - xj| = 20; 20 / (2 * 4^2 * 2.5) = 0.25
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25, abs=1e-15)
    # weights 3, 1 -> [1, 1, 1, 3]: 12 / (2 * 16 * 1.5) = 0.25
    assert gini([1, 3], [3, 1]) == pytest.approx(0.25, abs=1e-15)
    # order of the input does not matter
    assert gini([4, 1, 3, 2]) == pytest.approx(0.25, abs=1e-15)


def test_theil_hand_cases():
    # [1, 3]: mean 2, T = (0.5 ln 0.5 + 1.5 ln 1.5) / 2
    expected = 0.5 * (0.5 * math.log(0.5) + 1.5 * math.log(1.5))
    assert theil([1, 3]).total == pytest.approx(expected, abs=1e-15)
    # zeros: 0 ln 0 = 0; [0, 1] reaches the maximum ln n
    assert theil([0, 1]).total == pytest.approx(math.log(2), abs=1e-15)
    assert theil([0, 0, 0, 1]).total == pytest.approx(math.log(4), abs=1e-15)
    assert theil([3, 3, 3]).total == 0.0
    # groups equal inside: all inequality is between groups
    t = theil([1, 1, 3, 3], groups=["a", "a", "b", "b"])
    assert t.total == pytest.approx(expected, abs=1e-15)
    assert t.between == pytest.approx(expected, abs=1e-15)
    assert t.within == pytest.approx(0.0, abs=1e-15)
    assert t.groups == {"a": 0.0, "b": 0.0}
    # groups with equal means: all inequality is within groups
    t = theil([1, 3, 3, 1], groups=[1, 1, 2, 2])
    assert t.between == pytest.approx(0.0, abs=1e-15)
    assert t.within == pytest.approx(expected, abs=1e-15)
    assert t.groups == {"1": pytest.approx(expected), "2": pytest.approx(expected)}
    # an all-zero group is undefined inside, and adds nothing to within
    t = theil([0, 0, 2, 2], groups=["x", "x", "y", "y"])
    assert math.isnan(t.groups["x"]) and t.groups["y"] == 0.0
    assert t.between == pytest.approx(math.log(2)) and t.within == 0.0
    # labels are compared by their printed form: 1 and "1" are one group, missing one group
    t = theil([1, 3, 3, 1, 2, 2], groups=[1, "1", None, math.nan, ("a", 1), ("a", 1)])
    ref = theil([1, 3, 3, 1, 2, 2], groups=["1", "1", "m", "m", "t", "t"])
    assert (t.between, t.within) == pytest.approx((ref.between, ref.within), abs=1e-15)
    assert len(t.groups) == 3 and t.groups["1"] == pytest.approx(expected)
    # without groups there is no decomposition
    t = theil([1, 3])
    assert math.isnan(t.between) and math.isnan(t.within) and t.groups == {}


def test_palma_hand_cases():
    # 1..10: top 10% holds 10, bottom 40% holds 1+2+3+4 = 10
    assert palma(np.arange(1, 11)) == pytest.approx(1.0, abs=1e-14)
    # perfect equality: 10% over 40%
    assert palma([7, 7, 7]) == pytest.approx(0.25, abs=1e-14)
    # [1, 2] with equal weights: the Lorenz curve runs (0,0) (0.5,1/3) (1,1), so the
    # worst 40% hold 0.8 * 1/3 = 4/15 and the best 10% hold 0.2 * 2/3 = 2/15
    assert palma([1, 2]) == pytest.approx(0.5, abs=1e-14)
    assert palma([2, 1], [7, 7]) == pytest.approx(0.5, abs=1e-14)
    # a straddling weight is split: [1]*5 + [2]*5 by brute force gives the same
    rep = np.sort(np.repeat([1.0, 2.0], 5))
    assert (rep[-1:].sum() / rep[:4].sum()) == pytest.approx(0.5)
    # the worst-off 40% have nothing
    assert palma([0, 0, 0, 0, 1]) == math.inf
    assert palma([0, 0, 0, 1, 1]) == math.inf


def test_lorenz_hand_cases():
    p, q = lorenz([0, 0, 0, 1], points=5)
    np.testing.assert_array_equal(p, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_allclose(q, [0, 0, 0, 0, 1], atol=1e-15)
    # [1, 3] with weights 1, 1: vertices (0,0) (0.5,0.25) (1,1)
    p, q = lorenz([3, 1], points=5)
    np.testing.assert_allclose(q, [0, 0.125, 0.25, 0.625, 1], atol=1e-15)
    # equality is the diagonal
    p, q = lorenz([4, 4, 4, 4], points=11)
    np.testing.assert_allclose(q, p, atol=1e-15)


def test_rank_and_decile_hand_cases():
    rank, decile = rank_and_decile([3, 1, 1, 2, 5])
    np.testing.assert_array_equal(rank, [4, 1, 1, 3, 5])  # "min" ranking
    np.testing.assert_array_equal(decile, [7, 1, 1, 5, 9])  # (rank - 1) * 10 // 5 + 1
    assert rank.dtype == np.int64 and decile.dtype == np.int64
    rank, decile = rank_and_decile(np.arange(20.0)[::-1])
    np.testing.assert_array_equal(decile, np.repeat(np.arange(1, 11), 2)[::-1])
    # weights do not change the result (units are counted)
    r2, d2 = rank_and_decile(np.arange(20.0)[::-1], np.arange(20.0))
    np.testing.assert_array_equal(r2, rank)
    np.testing.assert_array_equal(d2, decile)
    # negative values are fine for ranking
    rank, _ = rank_and_decile([-1.0, 0.0, -2.0])
    np.testing.assert_array_equal(rank, [2, 3, 1])


def test_worst_served():
    values = np.linspace(1, 0, 30)  # the last is the worst
    ids = [f"u{i}" for i in range(30)]
    assert worst_served(values, ids) == ["u29", "u28", "u27"]  # 10% of 30
    assert worst_served(values, ids, share=0.2) == ["u29", "u28", "u27", "u26", "u25", "u24"]
    assert worst_served(values, ids, share=1.0) == ids[::-1]
    # at least one unit; ties at the edge are all kept, in input order
    assert worst_served([0.5, 0.2, 0.9], ["a", "b", "c"]) == ["b"]
    assert worst_served([0.2, 0.9, 0.2, 0.2], ["a", "b", "c", "d"]) == ["a", "c", "d"]
    # ids can be anything, tuples included
    assert worst_served([1, 0], [(1, "x"), (2, "y")]) == [(2, "y")]
    # decile 1 of rank_and_decile, exactly
    rng = np.random.default_rng(3)
    for n in (1, 5, 9, 10, 11, 29, 30, 31, 97):
        v = rng.integers(0, 5, n).astype(float)
        _, decile = rank_and_decile(v)
        got = worst_served(v, list(range(n)))
        assert sorted(got) == np.flatnonzero(decile == 1).tolist()
    for bad in (0, -0.1, 1.5, math.nan, True, "0.1"):
        with pytest.raises(ValueError, match="share"):
            worst_served(values, ids, share=bad)
    with pytest.raises(DataError, match="ids"):
        worst_served(values, ids[:-1])


# --------------------------------------------------------------------------- undefined, bad input


def test_undefined_figures_are_nan():
    for values, weights in (([0, 0, 0], None), ([1, 2], [0, 0]), ([], None)):
        assert math.isnan(gini(values, weights))
        assert math.isnan(palma(values, weights))
        t = theil(values, weights, groups=["g"] * len(values))
        assert math.isnan(t.total) and math.isnan(t.between) and math.isnan(t.within)
        assert all(math.isnan(v) for v in t.groups.values())
        p, q = lorenz(values, weights, points=3)
        np.testing.assert_array_equal(p, [0, 0.5, 1])
        assert np.isnan(q).all()
    f = equity_figures([1.0, 2.0], [0, 0])
    assert f.n == 2 and math.isnan(f.mean)


def test_zero_weights_leave_values_out():
    x = np.array([5.0, 1.0, 9.0, 3.0, 0.0])
    w = np.array([1.0, 0.0, 2.0, 0.0, 1.0])
    keep = w > 0
    assert gini(x, w) == pytest.approx(gini(x[keep], w[keep]), abs=1e-15)
    assert palma(x, w) == pytest.approx(palma(x[keep], w[keep]), abs=1e-15)
    assert theil(x, w).total == pytest.approx(theil(x[keep], w[keep]).total, abs=1e-15)
    np.testing.assert_allclose(lorenz(x, w)[1], lorenz(x[keep], w[keep])[1], atol=1e-15)


@pytest.mark.parametrize(
    ("values", "weights", "match"),
    [
        ([1.0, math.nan], None, "finite"),
        ([1.0, math.inf], None, "finite"),
        ([1.0, 2.0], [1.0, math.nan], "finite"),
        ([1.0, 2.0], [1.0, -1.0], "negative"),
        ([1.0, -2.0], None, "negative"),
        ([1.0, 2.0], [1.0], "weights"),
        ([[1.0, 2.0]], None, "1-D"),
        (["a", "b"], None, "numbers"),
    ],
)
def test_bad_input_is_a_clear_data_error(values, weights, match):
    for fn in (gini, palma, lorenz, equity_figures, lambda v, w: theil(v, w)):
        with pytest.raises(DataError, match=match) as info:
            fn(values, weights)
        assert isinstance(info.value, ValueError) and isinstance(info.value, LifecircleError)


def test_bad_groups_and_points():
    for bad in (["a", "b"], 5, "abc", np.zeros((3, 1)), [(1, 2), (3,), (4, 5, 6), 1]):
        with pytest.raises(DataError, match="groups"):
            theil([1, 2, 3], groups=bad)
    for bad in (1, 0, 2.5, True):
        with pytest.raises(ValueError, match="points"):
            lorenz([1, 2], points=bad)
    # ranking accepts negative values but not NaN
    with pytest.raises(DataError, match="finite"):
        rank_and_decile([1.0, math.nan])


# --------------------------------------------------------------------------- figures


def test_equity_figures_and_json():
    x = np.array([0.0, 0.2, 0.2, 0.5, 1.0, 0.9])
    w = np.array([10, 20, 0, 5, 5, 10])
    g = ["s1", "s1", "s1", "s2", "s2", "s3"]
    f = equity_figures(x, w, g)
    assert isinstance(f, EquityFigures) and isinstance(f.theil, TheilT)
    assert f.n == 6
    assert f.mean == pytest.approx((x * w).sum() / w.sum())
    assert f.gini == pytest.approx(gini(x, w))
    assert f.palma == pytest.approx(palma(x, w))
    assert f.theil == theil(x, w, g)
    p, q = lorenz(x, w, points=21)
    np.testing.assert_allclose(f.lorenz[0], p)
    np.testing.assert_allclose(f.lorenz[1], q)
    out = f.to_json()
    text = json.dumps(out, allow_nan=False)  # plain, strict JSON
    assert json.loads(text) == out
    assert out["gini"] == round(f.gini, 4)
    assert set(out["theil"]["groups"]) == {"s1", "s2", "s3"}
    assert len(out["lorenz"]["weight_share"]) == len(out["lorenz"]["value_share"]) == 21
    assert out["lorenz"]["value_share"][0] == 0.0 and out["lorenz"]["value_share"][-1] == 1.0
    # NaN and inf become None
    out = equity_figures([0.0, 0.0, 0.0, 0.0, 1.0]).to_json()
    assert out["palma"] is None and out["theil"]["between"] is None
    out = equity_figures([0.0, 0.0]).to_json()
    assert out["gini"] is None and out["lorenz"]["value_share"] == [None] * 21
    json.dumps(out, allow_nan=False)


# --------------------------------------------------------------------------- properties

# access values on a grid of 1/1000 (coverage shares, ratios), zeros included
values_st = st.lists(st.integers(0, 10**6), min_size=1, max_size=60).map(
    lambda v: np.array(v, dtype=float) / 1000
)


@st.composite
def weighted(draw, min_size=1):
    n = draw(st.integers(min_size, 40))
    x = np.array(draw(st.lists(st.integers(0, 10**5), min_size=n, max_size=n)), float) / 100
    w = np.array(draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)))
    groups = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    return x, w, groups


FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)


@FAST
@given(values_st)
def test_gini_and_theil_equal_pysal(x):
    if x.sum() == 0:
        assert math.isnan(gini(x)) and math.isnan(theil(x).total)
        return
    assert gini(x) == pytest.approx(Gini(x).g, abs=1e-12)
    assert theil(x).total == pytest.approx(float(Theil(x).T), abs=1e-10)


@FAST
@given(weighted(min_size=2))
def test_theil_decomposition_equals_pysal(data):
    x, _, groups = data
    if x.sum() == 0:
        return
    t = theil(x, groups=groups)
    ref = TheilD(x, groups)
    assert t.total == pytest.approx(float(np.ravel(ref.T)[0]), abs=1e-10)
    assert t.between == pytest.approx(float(np.ravel(ref.bg)[0]), abs=1e-10)
    assert t.within == pytest.approx(float(np.ravel(ref.wg)[0]), abs=1e-10)
    assert t.between + t.within == pytest.approx(t.total, abs=1e-12)
    assert t.between >= 0 and t.within >= 0
    for gid in np.unique(groups):
        inside = x[groups == gid]
        if inside.sum() > 0:
            assert t.groups[str(gid)] == pytest.approx(float(Theil(inside).T), abs=1e-10)


@FAST
@given(weighted())
def test_integer_weights_equal_repetition(data):
    x, w, groups = data
    rx, rg = np.repeat(x, w), np.repeat(groups, w)
    if rx.sum() == 0:
        assert math.isnan(gini(x, w)) and math.isnan(palma(x, w))
        return
    assert gini(x, w) == pytest.approx(gini(rx), abs=1e-12)
    assert gini(rx) == pytest.approx(Gini(rx).g, abs=1e-12)
    t, rt = theil(x, w, groups), theil(rx, groups=rg)
    assert t.total == pytest.approx(rt.total, abs=1e-10)
    assert t.between == pytest.approx(rt.between, abs=1e-10)
    assert t.within == pytest.approx(rt.within, abs=1e-10)
    for key, value in rt.groups.items():
        assert t.groups[key] == pytest.approx(value, abs=1e-10, nan_ok=True)
    assert palma(x, w) == pytest.approx(palma(rx), rel=1e-10)
    p, q = lorenz(x, w, points=37)
    rp, rq = lorenz(rx, points=37)
    np.testing.assert_array_equal(p, rp)
    np.testing.assert_allclose(q, rq, atol=1e-12)


@FAST
@given(weighted())
def test_palma_equals_brute_force_on_repeated_data(data):
    x, w, _ = data
    # pad with a unit of value 0 so the repeated data count is a multiple of 10
    pad = -int(w.sum()) % 10
    x, w = np.append(x, 0.0), np.append(w, pad)
    rep = np.sort(np.repeat(x, w))
    n = rep.size
    top, bottom = rep[n - n // 10 :].sum(), rep[: 4 * n // 10].sum()
    got = palma(x, w)
    if rep.sum() == 0:
        assert math.isnan(got)
    elif bottom == 0:
        assert got == math.inf
    else:
        assert got == pytest.approx(top / bottom, rel=1e-10)


@FAST
@given(weighted())
def test_lorenz_shape_and_gini_area(data):
    x, w, _ = data
    total = int(w.sum())
    if total == 0 or (x * w).sum() == 0:
        return
    # the grid of i / total holds every vertex, so the trapezoid area is exact
    p, q = lorenz(x, w, points=total + 1)
    assert p[0] == q[0] == 0.0 and p[-1] == q[-1] == 1.0
    assert (np.diff(q) >= -1e-12).all()  # non-decreasing
    assert (np.diff(q, 2) >= -1e-12).all()  # convex
    assert (q <= p + 1e-12).all()  # below the diagonal
    area = float(((q[1:] + q[:-1]) / 2 * np.diff(p)).sum())
    assert gini(x, w) == pytest.approx(1 - 2 * area, abs=1e-10)


@FAST
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=50))
def test_rank_is_min_ranking(v):
    rank, decile = rank_and_decile(v)
    np.testing.assert_array_equal(rank, rankdata(v, method="min"))
    assert decile.min() >= 1 and decile.max() <= 10
    # lower value, never a better decile
    order = np.argsort(v, kind="stable")
    assert (np.diff(decile[order]) >= 0).all()
    # decile 1 holds at least a tenth of the units (rounded up) when there are ties
    assert (decile == 1).sum() >= math.ceil(len(v) / 10)
