"""The audit's speed-ups give the same numbers as the plain ways they replaced.

Each shortcut (unit ids as sorted codes, sums rolled up a few columns at a time,
equity groups from a categorical, origins snapped in chunks, fair-service searches
started before the stage) is checked against the straightforward computation it
replaced, on data where the two could differ if the shortcut were wrong (ids that
print alike, units left out, ties, several chunks).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

from lifecircle import access, equity
from lifecircle.coverage import finest_sums, level_sums, rollup_sums, unit_codes
from lifecircle.service import (
    ServiceInputs,
    _need,
    category_needs,
    facility_capacity,
    fair_service,
    start_searches,
)
from lifecircle.snap import snap_points

from .test_coverage import hierarchy
from .test_fair_service import run, service_inputs
from .test_snap import _irregular


def _plain_rollup(values, finest_unit, h, analysed):
    """The rollup before the speed-ups: group by the ids as text."""
    unit = np.asarray(finest_unit, dtype=object).astype(str)
    keep = np.isin(unit, list(analysed))
    per_finest = values.loc[keep].groupby(unit[keep]).sum()
    joined = h.ancestors().join(per_finest, on=h.finest)
    return {
        level: joined.groupby(level)[list(values.columns)]
        .sum(min_count=1)
        .reindex(h.units[level]["unit_id"].to_numpy())
        for level in h.levels
    }


def test_unit_codes_sort_the_ids_as_text_and_merge_ids_that_print_alike():
    ids = np.array(["b", 1, "a", "1", "b", None, np.nan, None], dtype=object)
    names, code = unit_codes(ids)
    assert names.tolist() == ["1", "None", "a", "b", "nan"]
    assert_array_equal(names[code], np.asarray(ids, dtype=object).astype(str))


def test_rollup_by_codes_equals_the_rollup_by_text_ids():
    h = hierarchy()
    finest = h.units[h.finest]["unit_id"].astype(str).tolist()
    rng = np.random.default_rng(3)
    n = 500
    # ids as text and one left out of the analysis; values whose sums depend on order
    unit = np.array([finest[i] for i in rng.integers(0, len(finest), n)], dtype=object)
    values = pd.DataFrame(
        {
            "a": rng.random(n) * 1e6,
            "b": rng.random(n) * 1e-6,
            "c": rng.integers(0, 9, n).astype(float),
        },
        index=np.arange(n) * 3 + 7,
    )
    analysed = set(finest[1:])
    expected = _plain_rollup(values, unit, h, analysed)
    got = rollup_sums(values, unit, h, analysed)
    # the same by parts: a column at a time, side by side
    names, code = unit_codes(unit)
    parts = [finest_sums(values[[c]], code, names, analysed) for c in values.columns]
    by_parts = level_sums(pd.concat(parts, axis=1), h)
    for level in h.levels:
        pd.testing.assert_frame_equal(got[level], expected[level], check_exact=True)
        pd.testing.assert_frame_equal(by_parts[level], expected[level], check_exact=True)


def test_theil_groups_from_a_categorical_equal_groups_from_labels():
    rng = np.random.default_rng(5)
    labels = np.array(["s2", "s1", "s3"], dtype=object)[rng.integers(0, 3, 300)]
    x = rng.random(300)
    w = rng.random(300) * 10
    cat = pd.Categorical(labels)
    plain = equity.equity_figures(x, w, groups=labels).to_json()
    fast = equity.equity_figures(x, w, groups=cat).to_json()
    assert fast == plain
    assert list(equity.theil(x, w, cat).groups) == list(equity.theil(x, w, labels).groups)


def test_snapping_in_chunks_equals_snapping_at_once(monkeypatch):
    g = _irregular()
    rng = np.random.default_rng(11)
    west, south = g.x.min(), g.y.min()
    x = west - 50 + rng.random(1000) * (g.x.max() - west + 100)
    y = south - 50 + rng.random(1000) * (g.y.max() - south + 100)
    whole = snap_points(g, x, y, max_snap_m=40.0)
    monkeypatch.setattr(access, "SNAP_CHUNK", 97)
    chunked = access._snap_in_chunks(g, x, y, "edge", 40.0)
    for name in ("snap_m", "edge", "node_u", "node_v", "offset_u_m", "offset_v_m"):
        assert_array_equal(getattr(chunked, name), getattr(whole, name))
    assert_array_equal(chunked.reachable, whole.reachable)
    assert chunked.rule == whole.rule


def _start(inp: ServiceInputs, rows: np.ndarray, lp=None):
    return start_searches(
        inp.graph,
        inp.snaps,
        rows,
        inp.standard,
        inp.categories,
        radius_m=inp.radius_m,
        profile=inp.profile,
        lp=lp,
    )


def _lp(inp: ServiceInputs, scale: float = 1.0):
    # the demand fair_service reads (the fixture gives pop_kids directly)
    needs = {c: _need(inp.table, inp.standard, c) for c in inp.categories}
    return {c: v * scale for c, v in needs.items()}, facility_capacity(inp.fac, inp.standard)[0]


def test_category_needs_are_the_cohorts_or_everyone():
    inp = service_inputs()
    needs = category_needs(inp.table.drop(columns="pop_kids"), inp.standard, inp.categories)
    # no age data: the kids cohort counts every resident (cohorts.cohort_populations)
    assert_array_equal(needs["kindergarten"], inp.table["population"].to_numpy(float))


@pytest.mark.parametrize("lp", ["none", "same", "other"])
def test_searches_started_before_the_stage_give_the_same_figures(lp):
    inp = service_inputs()
    plain, _ = run()
    # with the capacity LPs solved ahead too ("same"), or ahead with another demand, which
    # fair_service must notice and solve again ("other")
    given = {"none": None, "same": _lp(inp), "other": _lp(inp, 2.0)}[lp]
    searches = _start(inp, inp.rows, given)
    try:
        early = fair_service(replace(inp, searches=searches))
    finally:
        searches.close()
    pd.testing.assert_frame_equal(early.origin_columns, plain.origin_columns, check_exact=True)
    for level, frame in plain.unit_columns.items():
        pd.testing.assert_frame_equal(early.unit_columns[level], frame, check_exact=True)
    pd.testing.assert_frame_equal(early.facility_columns, plain.facility_columns, check_exact=True)
    assert {k: v.to_json() for k, v in early.categories.items()} == {
        k: v.to_json() for k, v in plain.categories.items()
    }
    # the hand-computed figures of tests.test_fair_service still hold
    assert early.origin_columns["n_kindergarten"].tolist() == [1, 2, 2, 2, 2, 1, 2, 2, 1, 1, 1]


def test_searches_for_other_origins_are_refused():
    inp = service_inputs()
    searches = _start(inp, inp.rows[:5])
    try:
        with pytest.raises(ValueError, match="not made for these origins"):
            fair_service(replace(inp, searches=searches))
    finally:
        searches.close()


def test_population_method_per_unit_lists_each_units_distinct_methods():
    from lifecircle._audit_stages import _add_population_method

    h = hierarchy()
    units = {
        lv: h.units[lv][["unit_id"]].assign(population=1.0).reset_index(drop=True)
        for lv in h.levels
    }
    street_ids = list(h.units["street"]["unit_id"])
    # the methods as the population stage leaves them: Arrow-backed text, repeated per origin
    unit = [street_ids[0]] * 3 + [street_ids[1]] * 2 + [street_ids[2]]
    method = ["census", "raster:pop.tif", "census", "census", "census", "given"]
    table = pd.DataFrame(
        {"unit_id": pd.array(unit, dtype="str"), "population_method": pd.array(method, dtype="str")}
    )
    _add_population_method(units, table, h)
    got = dict(zip(units["street"]["unit_id"], units["street"]["population_method"], strict=True))
    assert got[street_ids[0]] == "census+raster:pop.tif"
    assert got[street_ids[1]] == "census"
    assert got[street_ids[2]] == "given"
    assert pd.isna(got[street_ids[3]])  # no origin
    parents = h.units["street"].set_index("unit_id")["parent_id"]
    expect: dict[str, set[str]] = {}
    for u, m in zip(unit, method, strict=True):
        expect.setdefault(parents[u], set()).add(m)
    got_d = dict(
        zip(units["district"]["unit_id"], units["district"]["population_method"], strict=True)
    )
    for d, methods in expect.items():
        assert got_d[d] == "+".join(sorted(methods))
    # the column sits right after population
    cols = list(units["street"].columns)
    assert cols.index("population_method") == cols.index("population") + 1
