"""Fair service on hand-made data: cohorts, supply-demand, capacity, choice, closures.

The line graph below is computed on paper. Nodes 0..10 lie 100 m apart on a
straight street; one origin sits on each node with 10 residents, of whom 2 are
children (6 at node 5). Kindergartens (5 minutes at 1.0 m/s = 300 m):

    node:  0    1    2    3    4    5    6    7    8    9    10
           .   F0    .    .   F1    .    .    .    .   F2    .
    F0: 5 places, F1: 100 places, F2: 3 places

Reach (<= 300 m): o0 {F0}; o1-o4 {F0, F1}; o5 {F1}; o6, o7 {F1, F2}; o8-o10 {F2}.
Street A holds o0-o5, street B o6-o10; both lie in district D.
"""

from __future__ import annotations

import copy
import dataclasses

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from lifecircle import columns, service
from lifecircle._site_distances import group_distances, site_distances
from lifecircle.access import compute_access, snap_audit_inputs, snap_facilities
from lifecircle.closure import closure_table, read_closed_ids
from lifecircle.cohorts import cohort_populations
from lifecircle.config import parse_standard
from lifecircle.data_completeness import data_completeness
from lifecircle.errors import ConfigError, InputFormatError
from lifecircle.io.demography import demographic_fractions
from lifecircle.io.units import UnitHierarchy
from lifecircle.network import graph_from_edges
from lifecircle.service import ServiceInputs, fair_service
from lifecircle.snap import snap_points

from .conftest import UTM, X0, Y0, minimal_standard_dict
from .test_snap import _irregular

KIDS = np.array([2, 2, 2, 2, 2, 6, 2, 2, 2, 2, 2], float)


def kids_standard(capacity: float | None = 10.0):
    raw = minimal_standard_dict()
    raw["cohorts"] = {
        "kids": {
            "name": {"en": "children aged 3-5", "zh": "3-5岁幼儿"},
            "ages": [3, 5],
            "source": "t",
            "verified": False,
        }
    }
    kg = raw["categories"][0]
    kg["cohort"] = "kids"
    if capacity is not None:
        kg["capacity"] = {"value": capacity, "unit": "places", "source": "t", "verified": False}
    kg["service_population"] = {"value": 20, "unit": "residents", "source": "t", "verified": False}
    return parse_standard(raw, source="kids-std")


def line_graph():
    xs = np.arange(11) * 100.0
    return graph_from_edges(
        np.arange(11), X0 + xs, np.full(11, Y0), np.arange(10), np.arange(1, 11), crs=UTM
    )


def points(xs, **cols):
    return gpd.GeoDataFrame(dict(cols), geometry=[shapely.Point(X0 + x, Y0) for x in xs], crs=UTM)


def hierarchy():
    box = shapely.box(X0 - 50, Y0 - 50, X0 + 1050, Y0 + 50)
    district = gpd.GeoDataFrame(
        {"unit_id": ["D"], "name": ["D"], "parent_id": [None]}, geometry=[box], crs=UTM
    ).to_crs("EPSG:4326")
    streets = gpd.GeoDataFrame(
        {"unit_id": ["A", "B"], "name": ["street A", "street B"], "parent_id": ["D", "D"]},
        geometry=[box, box],
        crs=UTM,
    ).to_crs("EPSG:4326")
    return UnitHierarchy(
        levels=["district", "street"], units={"district": district, "street": streets}
    )


def service_inputs(capacity_column=None, standard=None, closed=()) -> ServiceInputs:
    """Kindergartens on a line: 11 origins of 10 residents, 3 facilities (some closed)."""
    g = line_graph()
    std = standard or kids_standard()
    origins = points(
        np.arange(11) * 100.0,
        population=np.full(11, 10.0),
        unit_id=["A"] * 6 + ["B"] * 5,
        pop_kids=KIDS,
    )
    cap = [5.0, 100.0, 3.0] if capacity_column is None else capacity_column
    fac = points(
        [100.0, 400.0, 900.0],
        facility_id=[0, 1, 2],
        category="kindergarten",
        name=["F0", "F1", "F2"],
        capacity=cap,
    )
    fac = fac[~fac["facility_id"].isin(closed)].reset_index(drop=True)
    snaps = snap_audit_inputs(g, origins, fac)
    table, _ = compute_access(g, origins, fac, std, categories=["kindergarten"], snaps=snaps)
    return ServiceInputs(
        graph=g,
        snaps=snaps,
        table=table,
        rows=np.arange(11),
        fac=fac,
        standard=std,
        categories=["kindergarten"],
        hierarchy=hierarchy(),
        analysed={"A", "B"},
        radius_m=1000.0,
        profile=None,
        cohort_methods={},
    )


def run(capacity_column=None, standard=None, closed=()):
    inp = service_inputs(capacity_column, standard, closed)
    return fair_service(inp), inp.fac


def test_choice_second_nearest_and_single_dependence_by_hand():
    s, _ = run()
    o = s.origin_columns
    assert_array_equal(o[columns.n_within("kindergarten")], [1, 2, 2, 2, 2, 1, 2, 2, 1, 1, 1])
    second = o[columns.second("kindergarten")].to_numpy()
    # o0: F0 100, F1 400; o5: F1 100, F0 400; o8: F2 100, F1 400; o9: F2 0, F1 500
    assert_allclose(second[[0, 5, 8, 9, 10]], [400, 400, 400, 500, 600])
    assert_allclose(second[[1, 2, 3, 4, 6, 7]], [300, 200, 200, 300, 300, 300])
    street = s.unit_columns["street"]
    # single dependence among children: A: o0 (2) + o5 (6) of 16; B: o8-o10 (6) of 10
    assert street.loc["A", columns.single("kindergarten")] == pytest.approx(8 / 16)
    assert street.loc["B", columns.single("kindergarten")] == pytest.approx(6 / 10)


def test_closure_losses_and_critical_list_by_hand():
    s, _ = run()
    loss = s.facility_columns["sole_dependants"].to_numpy()
    assert_allclose(loss, [2.0, 6.0, 6.0])  # F0: o0; F1: o5; F2: o8-o10
    assert [c["facility_id"] for c in s.critical] == [1, 2, 0]  # stable: F1 before F2
    # closing F1 in a re-run loses exactly its sole dependants' coverage
    after, _ = run(closed=[1])
    before_cov = s.unit_columns["street"][columns.cohort_cov("kindergarten")]
    after_cov = after.unit_columns["street"][columns.cohort_cov("kindergarten")]
    assert before_cov["A"] == pytest.approx(1.0)
    assert (before_cov["A"] - after_cov["A"]) * 16 == pytest.approx(6.0)  # o5's children
    assert after_cov["B"] == pytest.approx(1.0)  # o6, o7 still reach F2


def test_two_step_fca_by_hand():
    s, _ = run()
    r0, r1, r2 = 5 / 10, 100 / 18, 3 / 10  # supply / children within each catchment
    assert_allclose(s.facility_columns["supply_ratio"], [r0, r1, r2])
    assert_allclose(s.facility_columns["demand_in_reach"], [10, 18, 10])
    want = [r0, r0 + r1, r0 + r1, r0 + r1, r0 + r1, r1, r1 + r2, r1 + r2, r2, r2, r2]
    assert_allclose(s.origin_columns[columns.sd("kindergarten")], want)
    street = s.unit_columns["street"]
    weights = KIDS[:6]
    assert street.loc["A", columns.sd("kindergarten")] == pytest.approx(
        float((weights * np.array(want[:6])).sum() / weights.sum())
    )


def test_capacity_constrained_coverage_by_hand():
    s, _ = run()
    street = s.unit_columns["street"]
    # F2 (3 places) is the only kindergarten of o8-o10 (6 children): 3 unmet, all in B
    assert street.loc["A", columns.unmet("kindergarten")] == pytest.approx(0.0, abs=1e-6)
    assert street.loc["B", columns.unmet("kindergarten")] == pytest.approx(3.0)
    assert street.loc["B", columns.placed("kindergarten")] == pytest.approx(7 / 10)
    district = s.unit_columns["district"]
    assert district.loc["D", columns.placed("kindergarten")] == pytest.approx(23 / 26)
    assert district.loc["D", columns.pop("kids")] == pytest.approx(26.0)
    cat = s.categories["kindergarten"]
    assert cat.placed_share == pytest.approx(23 / 26, abs=1e-6)
    assert cat.covered_share == pytest.approx(1.0)
    assert cat.unmet == pytest.approx(3.0)
    load = s.facility_columns["load"].to_numpy()
    assert load[2] == pytest.approx(3.0) and load[0] <= 5 + 1e-9
    assert load.sum() == pytest.approx(23.0)


def test_complete_life_circle_share_per_cohort():
    """With every mandatory category audited, complete_share_<cohort> is the cohort's share."""
    raw = minimal_standard_dict()
    for cat in raw["categories"][1:]:
        cat["mandatory"] = False
    raw["cohorts"] = {
        "kids": {"name": {"en": "k", "zh": "k"}, "ages": [3, 5], "source": "t", "verified": True}
    }
    raw["categories"][0]["cohort"] = "kids"
    std = parse_standard(raw, source="t")
    s, _ = run(standard=std, closed=[0])  # without F0, o0 (2 children) reaches nothing in 300 m
    street = s.unit_columns["street"]
    assert street.loc["A", "complete_share_kids"] == pytest.approx(14 / 16)
    assert street.loc["B", "complete_share_kids"] == pytest.approx(1.0)
    assert s.cohorts == {}  # no cohort methods were given to this run
    none, _ = run()  # park and clinic mandatory but not audited: not computed
    assert "complete_share_kids" not in none.unit_columns["street"].columns


def test_capacity_column_beats_the_default_and_default_fills_the_gaps():
    s, _ = run(capacity_column=[np.nan, 100.0, 3.0])
    assert s.facility_columns["capacity"].tolist()[:1] == [10.0]  # the standard's default
    assert list(s.facility_columns["capacity_from"]) == ["default", "column", "column"]
    no_default, _ = run(capacity_column=[np.nan, np.nan, np.nan], standard=kids_standard(None))
    assert no_default.categories["kindergarten"].supply_unit == "facilities"
    # unlimited: everyone within reach is placed
    assert no_default.categories["kindergarten"].placed_share == pytest.approx(1.0)


# --------------------------------------------------------------------------- cohorts


def test_cohorts_from_age_bands_given_columns_and_none():
    std = kids_standard()
    frame = pd.DataFrame(
        {
            "population": [100.0, 200.0],
            "frac_age_0_14": [0.15, 0.30],
            "frac_age_15_64": [0.70, 0.60],
            "frac_age_65_plus": [0.15, 0.10],
        }
    )
    pops, methods = cohort_populations(frame, std, ["kindergarten"])
    # 3 of the 15 years of the 0-14 band
    assert_allclose(pops["pop_kids"], [100 * 0.15 * 3 / 15, 200 * 0.30 * 3 / 15])
    assert methods["kids"].method == "age bands"
    given = frame.assign(frac_pop_kids=[0.5, 0.25])
    pops, methods = cohort_populations(given, std, ["kindergarten"])
    assert_allclose(pops["pop_kids"], [50.0, 50.0])
    assert methods["kids"].method == "given"
    pops, methods = cohort_populations(frame[["population"]], std, ["kindergarten"])
    assert_allclose(pops["pop_kids"], [100.0, 200.0])
    assert methods["kids"].method == "none"
    assert "every resident" in methods["kids"].text


def test_elderly_cohort_from_open_band():
    raw = minimal_standard_dict()
    raw["cohorts"] = {
        "old": {
            "name": {"en": "60+", "zh": "60岁以上"},
            "ages": [60, None],
            "source": "t",
            "verified": True,
        }
    }
    raw["categories"][0]["cohort"] = "old"
    std = parse_standard(raw, source="t")
    frame = pd.DataFrame(
        {
            "population": [1000.0],
            "frac_age_0_14": [0.1],
            "frac_age_15_64": [0.7],
            "frac_age_65_plus": [0.2],
        }
    )
    pops, _ = cohort_populations(frame, std, ["kindergarten"])
    assert pops["pop_old"].iloc[0] == pytest.approx(1000 * (0.2 + 0.7 * 5 / 50))


@pytest.mark.parametrize(
    "cols, unit",
    [
        ({"age_0_14": [15, 30], "age_15_64": [70, 60], "age_65_plus": [15, 10]}, "percent"),
        ({"age_0_14": [0.15, 0.3], "age_15_64": [0.7, 0.6], "age_65_plus": [0.15, 0.1]}, "share"),
        ({"age_0_14": [15, 60], "age_15_64": [70, 120], "age_65_plus": [15, 20]}, "count"),
    ],
)
def test_age_bands_as_percent_share_or_counts(cols, unit):
    frame = pd.DataFrame(cols)
    out = demographic_fractions(
        frame, np.array([100.0, 200.0]), np.array(["a", "b"], dtype=object), source="pop.gpkg"
    )
    assert_allclose(out["frac_age_0_14"], [0.15, 0.30])
    assert_allclose(out[["frac_age_0_14", "frac_age_15_64", "frac_age_65_plus"]].sum(axis=1), 1)


@pytest.mark.parametrize(
    "cols, message",
    [
        ({"age_0_14": [10], "age_20_64": [80], "age_65_plus": [10]}, "without gaps"),
        ({"age_0_14": [10], "age_15_64": [90]}, "open-ended"),
        ({"age_0_14": [10], "age_15_64": [50], "age_65_plus": [10]}, "do not add up"),
        ({"share_kids": [1.5]}, "share above 1"),
        ({"pop_kids": [101]}, "larger than the row's population"),
        ({"pop_kids": ["x"]}, "finite, non-negative"),
    ],
)
def test_bad_age_columns_are_refused_by_file_and_column(cols, message):
    with pytest.raises(InputFormatError, match=message) as err:
        demographic_fractions(
            pd.DataFrame(cols), np.array([100.0]), np.array(["u1"], dtype=object), source="p.csv"
        )
    assert "p.csv" in str(err.value)


def test_standard_cohort_errors_are_listed():
    raw = minimal_standard_dict()
    raw["cohorts"] = {
        "kids": {"name": {"en": "k", "zh": "k"}, "ages": [5, 3], "source": "t", "verified": True},
        "all": {},
    }
    raw["categories"][0]["cohort"] = "kidz"
    raw["categories"][0]["profile"] = "fast"
    raw["categories"][0]["capacity"] = {
        "value": -1,
        "unit": "places",
        "source": "t",
        "verified": False,
    }
    with pytest.raises(ConfigError) as err:
        parse_standard(copy.deepcopy(raw), source="std.yaml")
    text = str(err.value)
    assert "cohorts.kids.ages" in text
    assert "`all` is built in" in text
    assert "cohort: 'kidz' is not a cohort" in text and "did you mean 'kids'" in text
    assert "profile: 'fast' is not a walking profile" in text
    assert "capacity.value" in text


def test_category_profile_and_override():
    raw = minimal_standard_dict()
    raw["categories"][1]["profile"] = "slow"
    std = parse_standard(raw, source="t")
    assert std.profile_of("park").id == "slow"
    assert std.profile_of("kindergarten").id == "adult"
    assert std.profile_of("park", "adult").id == "adult"  # --profile applies to all


# --------------------------------------------------------------------------- distances


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    origins=st.lists(
        st.tuples(st.integers(-50, 450), st.integers(-50, 450)), min_size=1, max_size=10
    ),
    boxes=st.lists(
        st.tuples(st.integers(-40, 380), st.integers(-40, 380), st.integers(5, 120)),
        min_size=1,
        max_size=4,
    ),
    radius=st.sampled_from([150.0, 400.0, 2000.0]),
    rule=st.sampled_from(["edge", "node"]),
)
def test_one_search_per_facility_equals_one_per_node(origins, boxes, radius, rule):
    """group_distances (compiled, one search per facility) == site_distances (scipy, per node)."""
    g = _irregular()
    polys = [shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + w / 2) for x, y, w in boxes]
    fac = gpd.GeoDataFrame({"category": ["park"] * len(polys)}, geometry=polys, crs=UTM)
    pts = snap_facilities(g, fac, rule=rule, max_snap_m=500.0, spacing_m=30.0)
    oxy = np.array(origins, float)
    o = snap_points(g, X0 + oxy[:, 0], Y0 + oxy[:, 1], rule=rule, max_snap_m=500.0)
    a = site_distances(g, pts.snapped, pts.facility, o, radius_m=radius, n_groups=len(fac))
    b = group_distances(g, pts.snapped, pts.facility, o, radius_m=radius, n_groups=len(fac))
    assert_array_equal(a.toarray() > 0, b.toarray() > 0)
    assert_allclose(a.toarray(), b.toarray(), atol=1e-6)


# --------------------------------------------------------------------------- closure, data


def test_closure_table_lists_the_loss_per_unit(tmp_path):
    s, fac = run()
    after, _ = run(closed=[1])
    std = kids_standard()

    def tables(service):
        out = {}
        for level, frame in service.unit_columns.items():
            t = frame.copy()
            t["unit_id"] = t.index
            t["name"] = t.index
            t["population"] = 10.0
            t[columns.cov("kindergarten")] = np.nan
            out[level] = t.reset_index(drop=True)
        return out

    table = closure_table(tables(s), tables(after), std, ["kindergarten"])
    top = table.iloc[0]
    assert (top["unit_id"], top["lose_coverage"]) in {("A", 6.0), ("D", 6.0)}
    assert set(table["unit_id"]) == {"A", "D"}  # B keeps its coverage
    ids = tmp_path / "close.csv"
    ids.write_text("facility_id\n1\n", encoding="utf-8")
    assert read_closed_ids(ids, fac["facility_id"]).tolist() == [1]
    ids.write_text("facility_id\n7\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="not facilities of this audit"):
        read_closed_ids(ids, fac["facility_id"])
    ids.write_text("id\n1\n", encoding="utf-8")
    with pytest.raises(InputFormatError, match="no 'facility_id' column"):
        read_closed_ids(ids, fac["facility_id"])


def test_thin_data_is_flagged_against_the_expected_service_population():
    std = kids_standard()
    fac_unit = pd.Series(["A", "A", None])
    fac_cat = pd.Series(["kindergarten"] * 3)
    # expected: one per 20 residents = 5,000 per 10,000; 2 found for 110 residents = 181.8
    data = data_completeness(
        fac_unit,
        fac_cat,
        {"A", "B"},
        std,
        ["kindergarten", "park"],
        residents=110.0,
        cohort_residents={"kids": 26.0},
    )
    kg = data["kindergarten"]
    assert kg.found == 2  # the one outside every unit is not counted
    assert kg.per_10k_residents == pytest.approx(2e4 / 110, abs=1e-3)
    assert kg.per_10k_cohort == pytest.approx(2e4 / 26, abs=1e-3)
    assert kg.expected_per_10k_residents == pytest.approx(500.0)
    assert kg.thin is True
    assert data["park"].thin is False and data["park"].expected_per_10k_residents is None


def test_searches_made_elsewhere_give_the_same_figures() -> None:
    """``Searches.done`` (the Dask merge's searches) gives what the stage's own searches give."""
    inp = service_inputs()
    own = fair_service(inp)
    searches = service.Searches(
        inp.graph,
        inp.snaps,
        inp.rows,
        inp.standard,
        inp.categories,
        radius_m=inp.radius_m,
        profile=inp.profile,
    )
    pairs, seconds = searches.collect()
    done = service.Searches.done(searches.thresholds, pairs, seconds)
    made = fair_service(dataclasses.replace(inp, graph=None, snaps=None, searches=done))
    pd.testing.assert_frame_equal(own.origin_columns, made.origin_columns, check_exact=True)
    for level, table in own.unit_columns.items():
        pd.testing.assert_frame_equal(table, made.unit_columns[level], check_exact=True)
    assert own.categories == made.categories
    # without searches, the stage needs the graph and the snaps to make them
    with pytest.raises(ValueError, match="give the graph and the snaps"):
        fair_service(dataclasses.replace(inp, graph=None))
