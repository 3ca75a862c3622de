"""Coverage per unit and level, gaps, city-wide figures, edge effect, and reading units."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

import lifecircle
from lifecircle.config import parse_standard
from lifecircle.io.units import UnitHierarchy

from .conftest import UTM, grid, minimal_standard_dict, utm_box

NAN = np.nan
CATS = ["kindergarten", "park", "shop"]  # shop is optional (not mandatory)


@pytest.fixture(scope="module")
def small_standard():
    """The test standard without ``clinic``: CATS then holds every mandatory category,
    so every completeness figure is computed (the hand computations below)."""
    raw = minimal_standard_dict()
    raw["categories"] = [c for c in raw["categories"] if c["id"] != "clinic"]
    return parse_standard(raw, source="test-std-no-clinic")


@pytest.fixture(scope="module")
def with_clinic():
    """The full test standard: ``clinic`` (10 min, mandatory) is not in CATS."""
    return parse_standard(minimal_standard_dict(), source="test-std")


def test_completeness_is_not_computed_without_every_mandatory_category(with_clinic):
    status = lifecircle.coverage.completeness_status(with_clinic, CATS)
    assert status == {
        "5min": {"computed": True, "categories": ["kindergarten"], "missing": []},
        "10min": {
            "computed": False,
            "categories": ["kindergarten", "park", "clinic"],
            "missing": ["clinic"],
        },
    }
    tables = lifecircle.coverage_by_unit(ACCESS, hierarchy(), with_clinic, CATS)
    for table in tables.values():
        analysed = table[table["units_analysed"] > 0]
        assert analysed["complete_5min"].notna().all()
        assert analysed["complete_10min"].isna().all()
        assert analysed["complete_share"].isna().all()
    street = tables["street"].set_index("unit_id")
    # complete_5min = kindergarten alone: S1 100/400 as in the hand table below
    assert street.loc["S1", "complete_5min"] == pytest.approx(100 / 400)
    city = lifecircle.citywide(ACCESS, with_clinic, CATS)
    assert city["complete_10min"] is None and city["complete_share"] is None
    assert city["complete_5min"] == round(850 / 1200, 6)


# Two districts, four streets (100 m squares):   S3 S4   (D2)
#                                                S1 S2   (D1)
STREETS = {"S1": (0, 0), "S2": (100, 0), "S3": (0, 100), "S4": (100, 100)}
PARENT = {"S1": "D1", "S2": "D1", "S3": "D2", "S4": "D2"}


def hierarchy() -> UnitHierarchy:
    streets = gpd.GeoDataFrame(
        {
            "unit_id": list(STREETS),
            "name": [f"street {s}" for s in STREETS],
            "parent_id": [PARENT[s] for s in STREETS],
        },
        geometry=[utm_box(x, y, x + 100, y + 100) for x, y in STREETS.values()],
        crs=UTM,
    ).to_crs("EPSG:4326")
    districts = gpd.GeoDataFrame(
        {
            "unit_id": ["D1", "D2"],
            "name": ["district 1", "district 2"],
            "parent_id": pd.array([pd.NA, pd.NA], dtype="string"),
        },
        geometry=[utm_box(0, 0, 200, 100), utm_box(0, 100, 200, 200)],
        crs=UTM,
    ).to_crs("EPSG:4326")
    return UnitHierarchy(
        levels=["district", "street"], units={"district": districts, "street": streets}
    )


# Residents (minutes to each category; thresholds kindergarten 5, park 10, shop 5):
#   o1 S1 pop 100: kg 3 yes,   park 12 no,    shop 2 yes
#   o2 S1 pop 300: kg 6 no,    park 8 yes,    shop 2 yes
#   o3 S2 pop 200: kg 4 yes,   park 9 yes,    shop NaN no
#   o4 S3 pop  50: kg NaN no,  park 5 yes,    shop 2 yes
#   o5 S3 pop 150: kg 5.0 yes (at the threshold), park 10.0 yes, shop 2 yes
#   o6 S4 pop 400: kg 1 yes,   park 11 no,    shop 2 yes
ACCESS = pd.DataFrame(
    {
        "origin_id": [1, 2, 3, 4, 5, 6],
        "population": [100.0, 300.0, 200.0, 50.0, 150.0, 400.0],
        "unit_id": ["S1", "S1", "S2", "S3", "S3", "S4"],
        "time_kindergarten_min": [3.0, 6.0, 4.0, NAN, 5.0, 1.0],
        "time_park_min": [12.0, 8.0, 9.0, 5.0, 10.0, 11.0],
        "time_shop_min": [2.0, 2.0, NAN, 2.0, 2.0, 2.0],
    }
)

# by hand, per street:  population, cov_kg, cov_park, cov_shop, score, complete_5min,
#                       complete_10min, complete_share, worst_category, n_origins
STREET_EXPECTED = {
    "S1": (400, 0.25, 0.75, 1.0, 0.5, 0.25, 0.0, 0.0, "kindergarten", 2),
    "S2": (200, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, "kindergarten", 1),  # tie: first category
    "S3": (200, 0.75, 1.0, 1.0, 0.875, 0.75, 0.75, 0.75, "kindergarten", 2),
    "S4": (400, 1.0, 0.0, 1.0, 0.5, 1.0, 0.0, 0.0, "park", 1),
}
# districts are sums of people over their streets, not means of street shares:
#   D1: kg (100+200)/600, park (300+200)/600, shop 400/600, score (0.5*400+1*200)/600,
#       complete_5min (100+200)/600, complete_10min 200/600 (mean of shares would be 0.5)
#   D2: kg (150+400)/600, park (50+150)/600, shop 600/600, score (0.875*200+0.5*400)/600
#       (mean of shares would be 0.6875), complete_5min (150+400)/600, complete_10min 150/600
DISTRICT_EXPECTED = {
    "D1": (600, 0.5, 5 / 6, 2 / 3, 2 / 3, 0.5, 1 / 3, 1 / 3, "kindergarten", 3),
    "D2": (600, 11 / 12, 1 / 3, 1.0, 0.625, 11 / 12, 0.25, 0.25, "park", 3),
}
COLS = [
    "population",
    "cov_kindergarten",
    "cov_park",
    "cov_shop",
    "score",
    "complete_5min",
    "complete_10min",
    "complete_share",
    "worst_category",
    "n_origins",
]


def _check(table: gpd.GeoDataFrame, expected: dict) -> None:
    table = table.set_index("unit_id")
    for uid, values in expected.items():
        row = table.loc[uid]
        for col, value in zip(COLS, values, strict=True):
            if isinstance(value, str):
                assert row[col] == value, (uid, col)
            else:
                assert row[col] == pytest.approx(value, abs=1e-12), (uid, col)


@pytest.fixture
def tables(small_standard):
    return lifecircle.coverage_by_unit(ACCESS, hierarchy(), small_standard, CATS)


def test_street_level_coverage_is_hand_computed(tables):
    assert list(tables) == ["district", "street"]
    street = tables["street"]
    assert list(street["unit_id"]) == ["S1", "S2", "S3", "S4"]
    assert (street["level"] == "street").all()
    assert list(street["parent_id"]) == ["D1", "D1", "D2", "D2"]
    assert list(street["name"]) == ["street S1", "street S2", "street S3", "street S4"]
    _check(street, STREET_EXPECTED)
    assert (street["units_analysed"] == 1).all()
    assert (street["units_total"] == 1).all()
    assert street["analysed"].all()
    assert street.crs.to_epsg() == 4326
    # no column for categories that were not audited
    assert "cov_clinic" not in street.columns


def test_district_level_is_an_exact_population_weighted_rollup(tables):
    district = tables["district"]
    assert list(district["unit_id"]) == ["D1", "D2"]
    _check(district, DISTRICT_EXPECTED)
    assert list(district["units_analysed"]) == [2, 2]
    assert list(district["units_total"]) == [2, 2]
    # the rollup equals the population-weighted mean of the streets' shares
    street = tables["street"].set_index("unit_id")
    for did, sids in {"D1": ["S1", "S2"], "D2": ["S3", "S4"]}.items():
        pop = street.loc[sids, "population"]
        for col in ["cov_kindergarten", "cov_park", "score", "complete_share"]:
            weighted = (street.loc[sids, col] * pop).sum() / pop.sum()
            got = district.set_index("unit_id").loc[did, col]
            assert got == pytest.approx(weighted, abs=1e-12)
    # and differs from the plain mean (the classic mistake)
    d1 = district.set_index("unit_id").loc["D1", "complete_share"]
    assert d1 != pytest.approx(street.loc[["S1", "S2"], "complete_share"].mean())


def test_units_not_analysed_get_nan_and_counts(small_standard):
    tables = lifecircle.coverage_by_unit(
        ACCESS, hierarchy(), small_standard, CATS, analysed={"S1", "S2", "S3", "not-a-unit"}
    )
    street = tables["street"].set_index("unit_id")
    s4 = street.loc["S4"]
    for col in ["population", "cov_kindergarten", "cov_park", "score", "complete_share"]:
        assert np.isnan(s4[col]), col
    assert pd.isna(s4["worst_category"])
    assert s4["units_analysed"] == 0
    assert s4["units_total"] == 1
    assert not s4["analysed"]
    _check(tables["street"], {k: v for k, v in STREET_EXPECTED.items() if k != "S4"})
    district = tables["district"].set_index("unit_id")
    # D1 complete; D2 reduced to its analysed street S3
    _check(tables["district"], {"D1": DISTRICT_EXPECTED["D1"]})
    d2 = district.loc["D2"]
    assert d2["population"] == 200
    assert d2["cov_kindergarten"] == pytest.approx(0.75)
    assert d2["score"] == pytest.approx(0.875)
    assert (d2["units_analysed"], d2["units_total"], bool(d2["analysed"])) == (1, 2, False)
    assert d2["n_origins"] == 2
    assert (district.loc["D1", "units_analysed"], district.loc["D1", "units_total"]) == (2, 2)
    assert bool(district.loc["D1", "analysed"])


def test_gaps_are_ranked_largest_first_with_exact_figures(tables):
    gaps = lifecircle.find_gaps(tables, CATS)
    assert list(gaps.columns) == [
        "unit_id",
        "name",
        "level",
        "category",
        "uncovered_population",
        "uncovered_share",
        "partly_analysed",
        "units_analysed",
        "units_total",
    ]
    got = {
        (r.unit_id, r.category): (r.uncovered_population, r.uncovered_share)
        for r in gaps.itertuples()
    }
    expected = {
        ("S4", "park"): (400, 1.0),
        ("D2", "park"): (400, 2 / 3),
        ("S1", "kindergarten"): (300, 0.75),
        ("D1", "kindergarten"): (300, 0.5),
        ("S2", "shop"): (200, 1.0),
        ("D1", "shop"): (200, 1 / 3),
        ("S1", "park"): (100, 0.25),
        ("D1", "park"): (100, 1 / 6),
        ("S3", "kindergarten"): (50, 0.25),
        ("D2", "kindergarten"): (50, 1 / 12),
    }
    assert set(got) == set(expected)
    for key, (pop, share) in expected.items():
        assert got[key] == pytest.approx((pop, share), abs=1e-9), key
    assert len(gaps) == 10
    # largest first
    assert (np.diff(gaps["uncovered_population"].to_numpy()) <= 1e-9).all()
    # the two 400-resident park gaps come first (their order is left to float noise)
    top = gaps.iloc[:2].set_index("unit_id")
    assert set(top.index) == {"S4", "D2"}
    assert (top["category"] == "park").all()
    assert top.loc["S4", "level"] == "street"
    assert top.loc["S4", "name"] == "street S4"
    assert top.loc["D2", "level"] == "district"
    assert list(gaps["uncovered_population"].round(6)[-2:]) == [50.0, 50.0]


def test_gaps_without_shortfalls_is_empty_with_the_columns(small_standard):
    access = ACCESS.assign(time_kindergarten_min=1.0, time_park_min=1.0, time_shop_min=1.0)
    tables = lifecircle.coverage_by_unit(access, hierarchy(), small_standard, CATS)
    gaps = lifecircle.find_gaps(tables, CATS)
    assert len(gaps) == 0
    assert list(gaps.columns) == [
        "unit_id",
        "name",
        "level",
        "category",
        "uncovered_population",
        "uncovered_share",
        "partly_analysed",
        "units_analysed",
        "units_total",
    ]


def test_citywide_figures(small_standard):
    city = lifecircle.citywide(ACCESS, small_standard, CATS)
    assert city["population"] == 1200
    assert city["coverage"] == {
        "kindergarten": round(850 / 1200, 6),
        "park": round(700 / 1200, 6),
        "shop": round(1000 / 1200, 6),
    }
    assert city["score"] == round(775 / 1200, 6)
    assert city["complete_share"] == round(350 / 1200, 6)
    assert city["complete_5min"] == round(850 / 1200, 6)
    assert city["complete_10min"] == round(350 / 1200, 6)


def test_units_inside_network_excludes_edge_units_with_a_reason():
    g = grid(11, 11)  # street data covers the square 0..1000 m
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["A", "B", "C"],
            "name": ["inner", "edge", "outside"],
            "parent_id": pd.array([pd.NA] * 3, dtype="string"),
        },
        geometry=[
            utm_box(400, 400, 600, 600),
            utm_box(850, 400, 950, 600),
            utm_box(2000, 2000, 2100, 2100),
        ],
        crs=UTM,
    ).to_crs("EPSG:4326")
    h = UnitHierarchy(levels=["street"], units={"street": units})
    analysed, table = lifecircle.units_inside_network(h, g.extent(), g.crs, reach_m=100.0)
    assert analysed == {"A"}
    table = table.set_index("unit_id")
    assert table.loc["A", "catchment_inside_share"] == pytest.approx(1.0)
    assert table.loc["A", "reason"] == ""
    # B buffered by 100 m reaches x = 1050: outside are a 50 x 200 m strip and two slices
    # of quarter discs (r = 100, x from 50 to 100): 10000 + 2 * 3070.9 = 16142 m2 of
    # 20000 + 60000 + pi * 100^2 = 111416 m2 -> 85.5 % inside
    assert table.loc["B", "catchment_inside_share"] == pytest.approx(0.855, abs=0.003)
    assert not table.loc["B", "analysed"]
    assert table.loc["B", "reason"] == (
        "only 86% of its 100 m walking catchment lies inside the street data (edge effect)"
    )
    assert table.loc["C", "catchment_inside_share"] == 0.0
    assert table.loc["C", "reason"] == "outside the street data"
    # a lower bar lets the edge unit in
    analysed, _ = lifecircle.units_inside_network(
        h, g.extent(), g.crs, reach_m=100.0, min_inside=0.8
    )
    assert analysed == {"A", "B"}


# --------------------------------------------------------------------------- read_units


def _parent_layout(ids=None) -> gpd.GeoDataFrame:
    rows = [
        ("D1", "district 1", None, "district", utm_box(0, 0, 200, 100)),
        ("D2", "district 2", None, "district", utm_box(0, 100, 200, 200)),
    ]
    rows += [
        (s, f"street {s}", PARENT[s], "street", utm_box(x, y, x + 100, y + 100))
        for s, (x, y) in STREETS.items()
    ]
    uid, name, parent, level, geom = zip(*rows, strict=True)
    return gpd.GeoDataFrame(
        {"unit_id": list(uid), "name": list(name), "parent_id": list(parent), "level": list(level)},
        geometry=list(geom),
        crs=UTM,
    )


def _column_layout() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "district": [PARENT[s] for s in STREETS],
            "district_name": [f"district {PARENT[s][1]}" for s in STREETS],
            "street": list(STREETS),
            "street_name": [f"street {s}" for s in STREETS],
        },
        geometry=[utm_box(x, y, x + 100, y + 100) for x, y in STREETS.values()],
        crs=UTM,
    )


def _summary(h: UnitHierarchy) -> dict:
    out = {}
    for level in h.levels:
        t = h.units[level].sort_values("unit_id").to_crs(UTM)
        out[level] = {
            "unit_id": list(t["unit_id"].astype(str)),
            "name": list(t["name"].astype(str)),
            "parent_id": [None if pd.isna(p) else str(p) for p in t["parent_id"]],
            "area": [round(a, 1) for a in t.geometry.area],
        }
    return out


def test_read_units_both_layouts_give_the_same_hierarchy(tmp_path):
    a, b = tmp_path / "parents.gpkg", tmp_path / "columns.gpkg"
    _parent_layout().to_file(a, layer="units")
    _column_layout().to_file(b, layer="units")
    ha = lifecircle.read_units(a)
    hb = lifecircle.read_units(b, level_columns=["district", "street"])
    assert ha.levels == hb.levels == ["district", "street"]
    assert ha.finest == "street"
    sa, sb = _summary(ha), _summary(hb)
    assert sa == sb
    assert sa["street"]["parent_id"] == ["D1", "D1", "D2", "D2"]
    assert sa["district"]["parent_id"] == [None, None]
    assert sa["district"]["area"] == pytest.approx([20000.0, 20000.0], abs=1.0)
    for h in (ha, hb):
        assert h.units["street"].crs.to_epsg() == 4326
        anc = h.ancestors().sort_values("street")
        assert list(anc["district"]) == ["D1", "D1", "D2", "D2"]


def test_read_units_numeric_codes_are_cleaned(tmp_path):
    gdf = _parent_layout()
    code = {
        "D1": 310101,
        "D2": 310104,
        "S1": 310101002000,
        "S2": 310101013000,
        "S3": 310104003000,
        "S4": 310104004000,
    }
    gdf["unit_id"] = gdf["unit_id"].map(code).astype("int64")
    gdf["parent_id"] = gdf["parent_id"].map(code).astype("float64")  # NaN for districts
    path = tmp_path / "codes.gpkg"
    gdf.to_file(path)
    h = lifecircle.read_units(path)
    streets = h.units["street"].sort_values("unit_id")
    assert list(streets["unit_id"]) == [
        "310101002000",
        "310101013000",
        "310104003000",
        "310104004000",
    ]
    assert list(streets["parent_id"]) == ["310101", "310101", "310104", "310104"]


def _expect_units_error(tmp_path, gdf, match, name="bad.gpkg", **kwargs):
    path = tmp_path / name
    gdf.to_file(path)
    with pytest.raises(lifecircle.InputFormatError, match=match) as err:
        lifecircle.read_units(path, **kwargs)
    assert str(path) in str(err.value)
    return str(err.value)


def test_read_units_without_unit_id_names_the_file_and_field(tmp_path):
    msg = _expect_units_error(
        tmp_path, _parent_layout().rename(columns={"unit_id": "code"}), "'unit_id'"
    )
    assert "--unit-levels" in msg  # says how to fix it


def test_read_units_duplicate_ids(tmp_path):
    gdf = _parent_layout()
    gdf.loc[gdf["unit_id"] == "S4", "unit_id"] = "S3"
    msg = _expect_units_error(tmp_path, gdf, "'unit_id' has duplicates")
    assert "S3" in msg


def test_read_units_orphan_parent(tmp_path):
    gdf = _parent_layout()
    gdf.loc[gdf["unit_id"] == "S4", "parent_id"] = "D9"
    msg = _expect_units_error(tmp_path, gdf, "'parent_id'")
    assert "D9" in msg


def test_read_units_leaves_at_different_depths(tmp_path):
    gdf = _parent_layout()
    extra = gpd.GeoDataFrame(
        {"unit_id": ["D3"], "name": ["district 3"], "parent_id": [None], "level": ["district"]},
        geometry=[utm_box(200, 0, 300, 200)],
        crs=UTM,
    )
    _expect_units_error(tmp_path, pd.concat([gdf, extra], ignore_index=True), "different depths")


def test_read_units_leaves_at_different_depths_names_field_and_unit(tmp_path):
    gdf = _parent_layout()
    extra = gpd.GeoDataFrame(
        {"unit_id": ["D3"], "name": ["district 3"], "parent_id": [None], "level": ["district"]},
        geometry=[utm_box(200, 0, 300, 200)],
        crs=UTM,
    )
    msg = _expect_units_error(
        tmp_path, pd.concat([gdf, extra], ignore_index=True), "different depths"
    )
    assert "parent_id" in msg
    assert "D3" in msg
    assert "np.int64" not in msg


def test_read_units_level_columns_errors(tmp_path):
    msg = _expect_units_error(
        tmp_path, _column_layout(), "'ward'", name="cols.gpkg", level_columns=["district", "ward"]
    )
    assert "--unit-levels" in msg
    gdf = _column_layout()
    gdf.loc[3, "street"] = "S3"
    _expect_units_error(
        tmp_path,
        gdf,
        "'street' has duplicate ids",
        name="dups.gpkg",
        level_columns=["district", "street"],
    )


def test_assign_puts_a_point_on_a_shared_border_into_one_unit():
    from .conftest import utm_points

    h = hierarchy()
    s1 = h.units["street"].set_index("unit_id").loc["S1", "geometry"]
    # inside S1; S1's corner (100, 0) shared with S2; the corner (100, 100) of all four.
    # Projected exactly as the unit polygons were, so the corners are their vertices.
    pts = utm_points([(50, 50), (100, 0), (100, 100)]).to_crs("EPSG:4326")
    assert [s1.boundary.distance(p) for p in pts.geometry[1:]] == [0.0, 0.0]
    got = h.assign(pts)
    assert got.iloc[0] == "S1"
    assert got.iloc[1] in {"S1", "S2"}
    assert got.iloc[2] in {"S1", "S2", "S3", "S4"}


def test_assign_points_inside_and_outside():
    from .conftest import utm_points

    h = hierarchy()
    got = h.assign(utm_points([(50, 50), (150, 20), (30, 170), (150, 150), (500, 500)]))
    assert list(got.iloc[:4]) == ["S1", "S2", "S3", "S4"]
    assert pd.isna(got.iloc[4])


def test_coverage_by_unit_accepts_hierarchy_from_file(tmp_path, small_standard):
    path = tmp_path / "units.gpkg"
    _parent_layout().to_file(path)
    tables = lifecircle.coverage_by_unit(ACCESS, lifecircle.read_units(path), small_standard, CATS)
    _check(tables["street"], STREET_EXPECTED)
    _check(tables["district"], DISTRICT_EXPECTED)
    assert_allclose(tables["district"]["population"], [600, 600])
