"""Governance-unit hierarchies: 12-digit statistical codes, OSM boundaries, hexagons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import lifecircle
from lifecircle.config import parse_standard
from lifecircle.io.units import hex_units, read_units, units_from_boundaries

from .byod_helpers import assert_user_error, invoke
from .conftest import UTM, X0, Y0, minimal_standard_dict, utm_box

NAN = np.nan
CATS = ["kindergarten", "park", "shop"]  # small_standard: kg 5 min, park 10, shop 5 (optional)


@pytest.fixture(scope="module")
def small_standard():
    """The test standard without ``clinic``, so that CATS holds every mandatory category
    and the completeness figures are computed (as in tests/test_coverage.py)."""
    raw = minimal_standard_dict()
    raw["categories"] = [c for c in raw["categories"] if c["id"] != "clinic"]
    return parse_standard(raw, source="test-std-no-clinic")


# Committee-level polygons (100 m squares) and their 12-digit codes:
#   310104001001 310104001002 310104002001      district 310104: streets 001, 002
#   310101002001 310101002002 310101003001      district 310101: streets 002, 003
COMMITTEES = {
    "310101002001": (0, 0),
    "310101002002": (100, 0),
    "310101003001": (200, 0),
    "310104001001": (0, 100),
    "310104001002": (100, 100),
    "310104002001": (200, 100),
}
D1, D2 = "310101000000", "310104000000"
STREET_OF = {c: c[:9] + "000" for c in COMMITTEES}


def committees(codes=COMMITTEES, column="code", names=True) -> gpd.GeoDataFrame:
    data = {column: list(codes)}
    if names:
        data["name"] = [f"居委会{c[-3:]}-{c[6:9]}" for c in codes]
    return gpd.GeoDataFrame(
        data, geometry=[utm_box(x, y, x + 100, y + 100) for x, y in codes.values()], crs=UTM
    )


def _write(gdf: gpd.GeoDataFrame, path) -> object:
    gdf.to_file(path)
    return path


# Residents (minutes), the same figures as test_coverage's hand-computed example:
ACCESS = pd.DataFrame(
    {
        "origin_id": [1, 2, 3, 4, 5, 6],
        "population": [100.0, 300.0, 200.0, 50.0, 150.0, 400.0],
        "unit_id": [
            "310101002001",
            "310101002002",
            "310101003001",
            "310104001001",
            "310104001002",
            "310104002001",
        ],
        "time_kindergarten_min": [3.0, 6.0, 4.0, NAN, 5.0, 1.0],
        "time_park_min": [12.0, 8.0, 9.0, 5.0, 10.0, 11.0],
        "time_shop_min": [2.0, 2.0, NAN, 2.0, 2.0, 2.0],
    }
)
# by hand: population, cov_kg, cov_park, cov_shop, score (mandatory kg+park), complete_share
DISTRICT_EXPECTED = {
    D1: (600, 300 / 600, 500 / 600, 400 / 600, (50 + 150 + 200) / 600, 200 / 600),
    D2: (600, 550 / 600, 200 / 600, 1.0, (25 + 150 + 200) / 600, 150 / 600),
}
STREET_EXPECTED = {
    "310101002000": (400, 100 / 400, 300 / 400, 1.0, 0.5, 0.0),
    "310101003000": (200, 1.0, 1.0, 0.0, 1.0, 1.0),
    "310104001000": (200, 150 / 200, 1.0, 1.0, (25 + 150) / 200, 150 / 200),
    "310104002000": (400, 1.0, 0.0, 1.0, 0.5, 0.0),
}
COLS = ["population", "cov_kindergarten", "cov_park", "cov_shop", "score", "complete_share"]


def _check(table: gpd.GeoDataFrame, expected: dict) -> None:
    table = table.set_index("unit_id")
    assert sorted(table.index) == sorted(expected)
    for uid, values in expected.items():
        for col, value in zip(COLS, values, strict=True):
            assert table.loc[uid, col] == pytest.approx(value, abs=1e-12), (uid, col)


def test_codes_give_three_levels_with_parents(tmp_path):
    h = read_units(_write(committees(), tmp_path / "committees.gpkg"), code_field="code")
    assert h.levels == ["district", "street", "committee"]
    assert h.finest == "committee"
    com = h.units["committee"].set_index("unit_id")
    assert sorted(com.index) == sorted(COMMITTEES)
    assert com["parent_id"].to_dict() == STREET_OF
    street = h.units["street"].set_index("unit_id")
    assert street["parent_id"].to_dict() == {
        "310101002000": D1,
        "310101003000": D1,
        "310104001000": D2,
        "310104002000": D2,
    }
    district = h.units["district"].set_index("unit_id")
    assert sorted(district.index) == [D1, D2]
    assert district["parent_id"].isna().all()
    # coarser units are the union of their children
    areas = district.to_crs(UTM).area
    assert areas[D1] == pytest.approx(30_000.0, rel=1e-6)
    assert street.to_crs(UTM).area["310101002000"] == pytest.approx(20_000.0, rel=1e-6)
    for level in h.levels:
        assert h.units[level].crs.to_epsg() == 4326
    anc = h.ancestors().set_index("committee")
    assert anc.loc["310104002001", "street"] == "310104002000"
    assert anc.loc["310104002001", "district"] == D2
    assert com.loc["310101002002", "name"] == "居委会002-002"


def test_code_rollups_are_exact_population_weighted_sums(tmp_path, small_standard):
    h = read_units(_write(committees(), tmp_path / "committees.gpkg"), code_field="code")
    tables = lifecircle.coverage_by_unit(ACCESS, h, small_standard, CATS)
    assert list(tables) == ["district", "street", "committee"]
    _check(tables["district"], DISTRICT_EXPECTED)
    _check(tables["street"], STREET_EXPECTED)
    district = tables["district"].set_index("unit_id")
    assert list(district.loc[[D1, D2], "n_origins"]) == [3, 3]
    assert list(district.loc[[D1, D2], "units_total"]) == [3, 3]
    # a district equals the population-weighted mean of its committees, not the plain mean
    com = tables["committee"].set_index("unit_id")
    members = [c for c in COMMITTEES if c.startswith("310101")]
    pop = com.loc[members, "population"]
    for col in ["cov_kindergarten", "cov_park", "score", "complete_share"]:
        weighted = (com.loc[members, col] * pop).sum() / pop.sum()
        assert district.loc[D1, col] == pytest.approx(weighted, abs=1e-12)
    plain = com.loc[members, "cov_kindergarten"].mean()  # (1 + 0 + 1) / 3
    assert district.loc[D1, "cov_kindergarten"] != pytest.approx(plain)


def test_code_column_is_found_without_unit_id(tmp_path):
    gdf = committees(column="统计用区划代码")
    gdf["统计用区划代码"] = gdf["统计用区划代码"].astype("int64")  # read back as numbers
    gdf["人口"] = 1000
    path = _write(gdf, tmp_path / "auto.gpkg")
    h = read_units(path)
    assert h.levels == ["district", "street", "committee"]
    assert sorted(h.units["committee"]["unit_id"]) == sorted(COMMITTEES)
    assert sorted(h.units["district"]["unit_id"]) == [D1, D2]


def test_coarser_rows_only_name_their_units(tmp_path):
    gdf = committees()
    extra = gpd.GeoDataFrame(
        {"code": [D1, "310101002000"], "name": ["黄浦区", "南京东路街道"]},
        geometry=[utm_box(0, 0, 300, 100), utm_box(0, 0, 200, 100)],
        crs=UTM,
    )
    path = _write(pd.concat([gdf, extra], ignore_index=True), tmp_path / "named.gpkg")
    h = read_units(path, code_field="code")
    assert len(h.units["committee"]) == 6
    district = h.units["district"].set_index("unit_id")["name"]
    street = h.units["street"].set_index("unit_id")["name"]
    assert district[D1] == "黄浦区" and district[D2] == D2  # no row: the code is the name
    assert street["310101002000"] == "南京东路街道"


def test_a_street_without_committees_is_not_silently_dropped(tmp_path):
    gdf = committees({c: xy for c, xy in COMMITTEES.items() if c.startswith("310101")})
    lone = gpd.GeoDataFrame(
        {"code": ["310104001000"], "name": ["无居委街道"]},
        geometry=[utm_box(0, 100, 300, 200)],
        crs=UTM,
    )
    path = _write(pd.concat([gdf, lone], ignore_index=True), tmp_path / "mixed.gpkg")
    try:
        h = read_units(path, code_field="code")
    except lifecircle.InputFormatError as exc:
        assert "310104001000" in str(exc)
        return
    assert "310104001000" in set(h.units["street"]["unit_id"])


def test_street_level_codes_give_two_levels(tmp_path):
    codes = {
        "310101002000": (0, 0),
        "310101013000": (100, 0),
        "310104003000": (0, 100),
        "310104004000": (100, 100),
    }
    h = read_units(_write(committees(codes), tmp_path / "streets.gpkg"))
    assert h.levels == ["district", "street"]
    street = h.units["street"].set_index("unit_id")
    assert street["parent_id"].to_dict() == {
        "310101002000": D1,
        "310101013000": D1,
        "310104003000": D2,
        "310104004000": D2,
    }


def test_a_bad_code_names_the_column_and_value(tmp_path):
    gdf = committees(column="区划代码")
    gdf.loc[2, "区划代码"] = "31010100300"  # 11 digits
    path = _write(gdf, tmp_path / "bad.gpkg")
    with pytest.raises(lifecircle.InputFormatError) as err:
        read_units(path, code_field="区划代码")
    msg = str(err.value)
    assert "'区划代码'" in msg and "31010100300" in msg and "12-digit" in msg
    assert str(path) in msg
    # not all 12 digits: no automatic detection, the usual unit_id message
    with pytest.raises(lifecircle.InputFormatError, match="unit_id"):
        read_units(path)
    with pytest.raises(lifecircle.InputFormatError, match="'nope'"):
        read_units(path, code_field="nope")


def test_cli_bad_unit_codes_exits_2_naming_the_column(tmp_path, tiny_osm, tiny_facilities_csv):
    gdf = committees()
    gdf.loc[0, "code"] = "3101"
    units = _write(gdf, tmp_path / "units.gpkg")
    res = invoke(
        [
            "audit",
            "--network",
            tiny_osm,
            "--facilities",
            tiny_facilities_csv,
            "--units",
            units,
            "--unit-codes",
            "code",
            "--out",
            tmp_path / "out",
            "--no-map",
        ]
    )
    assert_user_error(res, "'code'", "12-digit", "units.gpkg")


def test_to_frame_round_trips_through_the_parent_id_layout(tmp_path):
    h = read_units(_write(committees(), tmp_path / "committees.gpkg"))
    frame = h.to_frame()
    assert set(frame["level"]) == {"district", "street", "committee"}
    assert len(frame) == 2 + 4 + 6
    again = read_units(_write(frame, tmp_path / "frame.gpkg"))
    assert again.levels == h.levels
    for level in h.levels:
        a = h.units[level].sort_values("unit_id")
        b = again.units[level].sort_values("unit_id")
        assert list(a["unit_id"]) == list(b["unit_id"])
        assert [None if pd.isna(p) else p for p in a["parent_id"]] == [
            None if pd.isna(p) else p for p in b["parent_id"]
        ]


# --------------------------------------------------------------------------- OSM boundaries


def _boundaries() -> gpd.GeoDataFrame:
    rows = [
        ("relation", 1, "黄浦区", "administrative", "6", utm_box(0, 0, 200, 100)),
        ("relation", 2, "静安区", "administrative", "6", utm_box(0, 100, 200, 200)),
        ("relation", 11, "街道甲", "administrative", "8", utm_box(0, 0, 100, 100)),
        ("relation", 12, "街道乙", "administrative", "8", utm_box(100, 0, 200, 100)),
        ("way", 21, "街道丙", "administrative", "8", utm_box(0, 100, 100, 200)),
        ("relation", 22, None, "administrative", "8", utm_box(100, 100, 200, 200)),
        ("relation", 99, "飞地", "administrative", "8", utm_box(300, 0, 400, 100)),
        ("relation", 5, "邮区", "postal_code", "8", utm_box(0, 0, 400, 200)),
        ("relation", 3, "上海市", "administrative", "4", utm_box(-10, -10, 500, 300)),
        ("node", 7, "街道办", "administrative", "8", shapely.Point(X0 + 50, Y0 + 50)),
    ]
    osm_type, osm_id, name, boundary, level, geom = zip(*rows, strict=True)
    return gpd.GeoDataFrame(
        {
            "osm_type": list(osm_type),
            "osm_id": list(osm_id),
            "name": list(name),
            "boundary": list(boundary),
            "admin_level": list(level),
        },
        geometry=list(geom),
        crs=UTM,
    ).to_crs("EPSG:4326")


def test_units_from_boundaries_nest_by_containment():
    h = units_from_boundaries(_boundaries(), source="test")
    assert h.levels == ["admin6", "admin8"]
    streets = h.units["admin8"].set_index("unit_id")
    assert streets["parent_id"].to_dict() == {
        "r11": "r1",
        "r12": "r1",
        "w21": "r2",
        "r22": "r2",
        "r99": "outside-admin6",
    }
    assert streets.loc["r22", "name"] == "r22"  # unnamed: the id
    assert streets.loc["w21", "name"] == "街道丙"
    districts = h.units["admin6"].set_index("unit_id")
    assert sorted(districts.index) == ["outside-admin6", "r1", "r2"]
    assert districts.loc["r1", "name"] == "黄浦区"
    assert districts.to_crs(UTM).area["r1"] == pytest.approx(20_000.0, rel=1e-6)
    assert h.ancestors().set_index("admin8").loc["r12", "admin6"] == "r1"


def test_units_from_boundaries_one_level_or_none():
    b = _boundaries()
    only8 = units_from_boundaries(b[b["admin_level"] == "8"])
    assert only8.levels == ["admin8"]
    assert units_from_boundaries(b[b["boundary"] != "administrative"]) is None
    assert units_from_boundaries(b[b["admin_level"] == "4"]) is None


# --------------------------------------------------------------------------- hexagons


@pytest.mark.parametrize("size_m", [150.0, 500.0])
def test_hex_units_cover_the_extent_with_regular_hexagons(size_m):
    extent = shapely.box(X0, Y0, X0 + 3000.0, Y0 + 2000.0)
    h = hex_units(extent, UTM, size_m=size_m)
    assert h.levels == ["hex"]
    hexes = h.units["hex"]
    assert hexes.crs.to_epsg() == 4326
    assert hexes["unit_id"].is_unique and hexes["unit_id"].str.startswith("hex-").all()
    assert hexes["parent_id"].isna().all()
    utm = hexes.to_crs(UTM)
    np.testing.assert_allclose(utm.area, 2.598 * size_m**2, rtol=1e-3)
    union = shapely.union_all(utm.geometry.to_numpy())
    assert extent.difference(union).area < 1e-6 * extent.area  # covered
    assert utm.area.sum() == pytest.approx(union.area, rel=1e-6)  # no overlaps
    assert utm.distance(extent).max() < 1e-3  # no hexagon beyond the extent
    assert f"{size_m:g} m" in h.source


def test_audit_without_units_uses_hexagons_and_says_so(sample_paths):
    result = lifecircle.audit(
        sample_paths["network"],
        [sample_paths["facilities"]],
        population=sample_paths["population"],
        hex_size_m=600.0,
    )
    summary = result.summary.to_json()
    assert summary["units"]["levels"] == ["hex"]
    assert summary["study"]["units"] is None
    assert list(result.units) == ["hex"]
    assert result.units["hex"]["unit_id"].str.startswith("hex-").all()
    warning = [w for w in summary["warnings"] if "hexagon" in w.lower()]
    assert len(warning) == 1
    assert "not governance units" in warning[0] and "600 m" in warning[0]
    assert "--units" in warning[0]
    assert summary["units"]["analysed"]["hex"] > 0
    assert summary["population"]["total"] == pytest.approx(
        result.access["population"].sum(), abs=0.1
    )
