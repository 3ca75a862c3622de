"""Facilities from Chinese map providers: datums, tables, Amap type codes, duplicates.

Also the data-quality section of summary.json on the bundled sample.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import lifecircle
from lifecircle.io import coords
from lifecircle.io.providers import (
    categories_from_typecodes,
    deduplicate,
    load_typecodes,
    parse_facilities_crs,
)

from .byod_helpers import (
    AMAP_ROWS,
    AMAP_UNKNOWN,
    assert_ok,
    assert_user_error,
    geod_m,
    invoke,
    shanghai_grid,
    write_amap_csv,
)
from .conftest import UTM, X0, Y0

TOL_M = 0.5

# --------------------------------------------------------------------------- datums


def test_gcj02_shift_is_hundreds_of_metres_and_round_trips_under_half_a_metre():
    lon, lat = shanghai_grid()
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    shift = geod_m(lon, lat, glon, glat)
    assert shift.min() > 300 and shift.max() < 700  # GCJ-02 moves Shanghai by ~500 m
    back = coords.gcj02_to_wgs84(glon, glat)
    assert geod_m(lon, lat, *back).max() < TOL_M
    # and the other way round: GCJ-02 -> WGS-84 -> GCJ-02
    again = coords.wgs84_to_gcj02(*coords.gcj02_to_wgs84(lon, lat))
    assert geod_m(lon, lat, *again).max() < TOL_M


def test_bd09_round_trips_under_half_a_metre():
    lon, lat = shanghai_grid()
    blon, blat = coords.wgs84_to_bd09(lon, lat)
    assert geod_m(lon, lat, blon, blat).min() > 300
    assert geod_m(lon, lat, *coords.bd09_to_wgs84(blon, blat)).max() < TOL_M
    # BD-09 <-> GCJ-02 alone
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    assert (
        geod_m(glon, glat, *coords.bd09_to_gcj02(*coords.gcj02_to_bd09(glon, glat))).max() < TOL_M
    )


def test_one_step_inverse_is_off_by_more_than_half_a_metre_somewhere():
    """wgs ~ gcj - (forward(gcj) - gcj): the naive inverse the iteration improves on."""
    lon, lat = shanghai_grid()
    glon, glat = coords.wgs84_to_gcj02(lon, lat)
    flon, flat = coords.wgs84_to_gcj02(glon, glat)
    naive = geod_m(lon, lat, 2 * glon - flon, 2 * glat - flat)
    assert naive.max() > TOL_M
    iterated = geod_m(lon, lat, *coords.gcj02_to_wgs84(glon, glat))
    assert iterated.max() < naive.max() / 100


def test_scalars_and_points_outside_china():
    lon, _ = coords.wgs84_to_gcj02(121.4737, 31.2304)
    assert np.ndim(lon) == 0 and float(lon) == pytest.approx(121.478223, abs=1e-6)
    # outside China the datum is the identity (Paris)
    assert coords.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)
    assert coords.gcj02_to_wgs84(2.35, 48.85) == (2.35, 48.85)


def test_to_gcj02_shifts_frames_and_needs_wgs84():
    pts = gpd.GeoDataFrame({"a": [1]}, geometry=[shapely.Point(121.4737, 31.2304)], crs="EPSG:4326")
    shifted = coords.to_gcj02(pts)
    assert shifted.crs.to_epsg() == 4326 and list(shifted["a"]) == [1]
    assert shifted.geometry.x.iloc[0] == pytest.approx(121.478223, abs=1e-6)
    with pytest.raises(lifecircle.CRSError, match="EPSG:4326"):
        coords.to_gcj02(pts.to_crs(UTM))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("gcj02", "gcj02"),
        ("GCJ-02", "gcj02"),
        ("BD09", "bd09"),
        ("wgs84", "wgs84"),
        ("EPSG:32651", "EPSG:32651"),
    ],
)
def test_parse_facilities_crs(value, expected):
    assert parse_facilities_crs(value) == expected


def test_parse_facilities_crs_rejects_nonsense_with_the_choices():
    with pytest.raises(lifecircle.CRSError) as err:
        parse_facilities_crs("nonsense")
    for word in ("'nonsense'", "wgs84", "gcj02", "bd09", "EPSG:"):
        assert word in str(err.value)


# --------------------------------------------------------------------------- tables


def _truth() -> pd.DataFrame:
    """Known WGS-84 points of three categories in central Shanghai."""
    return pd.DataFrame(
        {
            "name": ["甲小学", "乙便利店", "丙菜场", "丁小学"],
            "category": ["primary_school", "convenience_store", "fresh_market", "primary_school"],
            "lon": [121.4605, 121.4712, 121.4820, 121.5010],
            "lat": [31.2205, 31.2301, 31.2415, 31.2290],
        }
    )


def _assert_at_truth(fac: gpd.GeoDataFrame, truth: pd.DataFrame) -> None:
    assert fac.crs.to_epsg() == 4326
    assert list(fac["name"]) == list(truth["name"])
    err = geod_m(fac.geometry.x, fac.geometry.y, truth["lon"], truth["lat"])
    assert err.max() < TOL_M, err


@pytest.mark.parametrize("datum", ["gcj02", "bd09"])
def test_csv_in_a_provider_datum_lands_on_the_wgs84_points(tmp_path, gb_standard, datum):
    truth = _truth()
    shift = coords.wgs84_to_gcj02 if datum == "gcj02" else coords.wgs84_to_bd09
    x, y = shift(truth["lon"].to_numpy(), truth["lat"].to_numpy())
    path = tmp_path / f"{datum}.csv"
    truth.assign(lon=x, lat=y).to_csv(path, index=False, float_format="%.9f")
    fac = lifecircle.read_facilities(path, gb_standard, crs=datum)
    _assert_at_truth(fac, truth)
    assert list(fac["category"]) == list(truth["category"])
    assert (fac["source"] == path.name).all()
    # read as WGS-84 (the default) they are a few hundred metres off
    raw = lifecircle.read_facilities(path, gb_standard)
    assert geod_m(raw.geometry.x, raw.geometry.y, truth["lon"], truth["lat"]).min() > 300


def test_amap_location_column_and_typecodes(tmp_path, gb_standard):
    path = tmp_path / "amap.csv"
    truth = write_amap_csv(path)
    fac = lifecircle.read_facilities(path, gb_standard, crs="gcj02")
    known = truth[truth["typecode"] != AMAP_UNKNOWN]
    _assert_at_truth(fac, known)
    assert list(fac["category"]) == [
        "primary_school",
        "convenience_store",
        "fresh_market",
        "health_center",
        "convenience_store",
    ]
    assert fac.attrs["unknown_typecodes"] == {AMAP_UNKNOWN: 1}


def test_lng_lat_excel_in_gcj02(tmp_path, gb_standard):
    truth = _truth()
    x, y = coords.wgs84_to_gcj02(truth["lon"].to_numpy(), truth["lat"].to_numpy())
    table = pd.DataFrame(
        {
            "名称": truth["name"],
            "name": truth["name"],
            "lng": x,
            "lat": y,
            "typecode": ["141203", "060200", "060703", "141203"],
        }
    )
    path = tmp_path / "pois.xlsx"
    table.to_excel(path, index=False)
    fac = lifecircle.read_facilities(path, gb_standard, crs="gcj02")
    _assert_at_truth(fac, truth)
    assert list(fac["category"]) == list(truth["category"])
    assert fac.attrs["unknown_typecodes"] == {}


def test_excel_with_category_column_in_wgs84(tmp_path, gb_standard):
    truth = _truth()
    path = tmp_path / "wgs.xlsx"
    truth.rename(columns={"lon": "Longitude", "lat": "Latitude"}).to_excel(path, index=False)
    fac = lifecircle.read_facilities(path, gb_standard)
    _assert_at_truth(fac, truth)
    assert list(fac["category"]) == list(truth["category"])


def test_projected_csv_with_an_epsg_code(tmp_path, gb_standard):
    truth = _truth()
    pts = gpd.GeoSeries(gpd.points_from_xy(truth["lon"], truth["lat"]), crs="EPSG:4326")
    utm = pts.to_crs(UTM)
    path = tmp_path / "utm.csv"
    truth.drop(columns=["lon", "lat"]).assign(x=utm.x, y=utm.y).to_csv(path, index=False)
    _assert_at_truth(lifecircle.read_facilities(path, gb_standard, crs="EPSG:32651"), truth)


def test_geojson_labelled_wgs84_but_in_gcj02(tmp_path, gb_standard):
    truth = _truth()
    x, y = coords.wgs84_to_gcj02(truth["lon"].to_numpy(), truth["lat"].to_numpy())
    gdf = gpd.GeoDataFrame(
        truth.drop(columns=["lon", "lat"]), geometry=gpd.points_from_xy(x, y), crs="EPSG:4326"
    )
    path = tmp_path / "amap.geojson"
    gdf.to_file(path, driver="GeoJSON")
    _assert_at_truth(lifecircle.read_facilities(path, gb_standard, crs="gcj02"), truth)
    # without crs= a vector file keeps its own CRS
    raw = lifecircle.read_facilities(path, gb_standard)
    assert geod_m(raw.geometry.x, raw.geometry.y, x, y).max() < 1e-3


def test_table_errors_name_the_file(tmp_path, gb_standard):
    no_coords = tmp_path / "no-coords.csv"
    no_coords.write_text("name,category\na,park\n", encoding="utf-8")
    with pytest.raises(lifecircle.InputFormatError, match="location") as err:
        lifecircle.read_facilities(no_coords, gb_standard)
    assert str(no_coords) in str(err.value)
    no_cat = tmp_path / "no-cat.csv"
    no_cat.write_text("name,lon,lat\na,121.4,31.2\n", encoding="utf-8")
    with pytest.raises(lifecircle.InputFormatError, match="typecode"):
        lifecircle.read_facilities(no_cat, gb_standard)
    bad = tmp_path / "bad-location.csv"
    bad.write_text(
        'name,typecode,location\na,141203,"121.4,31.2"\nb,141203,121.4\n', encoding="utf-8"
    )
    with pytest.raises(lifecircle.InputFormatError, match=r"line\(s\) 3"):
        lifecircle.read_facilities(bad, gb_standard, crs="gcj02")


# --------------------------------------------------------------------------- type codes


def test_typecode_table_maps_only_justified_codes():
    table = load_typecodes("amap")
    assert table["141203"]["categories"]["gb50180-2018"] == "primary_school"
    assert table["060200"]["categories"]["gb50180-2018"] == "convenience_store"
    standards = {s: lifecircle.load_standard(s) for s in lifecircle.list_standards()}
    assert table["130106"]["categories"]["shanghai-rural-2021"] == "village_committee"
    for entry in table.values():
        assert entry["source"]  # every mapped code says where it comes from
        for std, category in entry["categories"].items():
            assert category is None or category in standards[std].category_ids


def test_categories_from_typecodes_and_unknown_counts():
    codes = pd.Series(
        [
            "141203",
            "060200",
            "060200|060100",
            "060100|060200",
            "050100",
            "050100",
            "050000|050100",
            None,
            "60200",
        ],
        dtype="string",
    )
    cats, unknown = categories_from_typecodes(codes)
    assert list(cats.iloc[:4]) == [
        "primary_school",
        "convenience_store",
        "convenience_store",
        "convenience_store",
    ]
    assert cats.iloc[4:8].isna().all()  # never guessed
    assert cats.iloc[8] == "convenience_store"  # a code read as a number lost its leading 0
    # an empty cell is counted too, not dropped silently
    assert unknown == {"050100": 3, "050000": 1, "(empty)": 1}


# --------------------------------------------------------------------------- duplicates


def _pair(
    dx_m: float,
    names=("和平小学", "上海市和平小学"),
    categories=("primary_school",) * 2,
    sources=("osm", "amap.csv"),
) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "category": list(categories),
            "name": list(names),
            "source": list(sources),
            "osm_id": [pd.NA, pd.NA],
        },
        geometry=[shapely.Point(X0, Y0), shapely.Point(X0 + dx_m, Y0)],
        crs=UTM,
    ).to_crs("EPSG:4326")


def test_duplicates_within_20_m_with_similar_names_are_merged():
    out, merged = deduplicate(_pair(10.0))
    assert len(out) == 1
    assert merged == {"primary_school": 1}
    assert out["source"].iloc[0] == "osm"  # the first record is kept
    assert out["sources"].iloc[0] == "amap.csv|osm"  # every source that found it, sorted


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dx_m": 30.0},
        {"dx_m": 10.0, "categories": ("primary_school", "kindergarten")},
        {"dx_m": 10.0, "sources": ("amap.csv", "amap.csv")},
        {"dx_m": 10.0, "names": ("和平小学", "复兴中学")},
        {"dx_m": 10.0, "names": ("和平小学", None)},
    ],
    ids=["30m-apart", "other-category", "same-source", "other-name", "one-unnamed"],
)
def test_not_duplicates(kwargs):
    pair = _pair(**kwargs)
    out, merged = deduplicate(pair)
    assert len(out) == 2
    assert merged == {}
    assert list(out["sources"]) == list(pair["source"])  # each found by its own source only


def test_two_unnamed_records_close_together_are_merged():
    out, merged = deduplicate(_pair(5.0, names=(None, None)))
    assert len(out) == 1 and merged == {"primary_school": 1}


def test_deduplicate_merges_groups_and_counts_per_category():
    a = _pair(10.0)
    b = _pair(8.0, names=("联华超市", "联华超市(长乐路店)"), categories=("convenience_store",) * 2)
    b = b.set_geometry(b.translate(0.01, 0.0))  # ~1 km east of the schools
    c = _pair(500.0, names=("公园", "公园"), categories=("park",) * 2)
    frames = pd.concat([a, b, c], ignore_index=True)
    out, merged = deduplicate(gpd.GeoDataFrame(frames, crs="EPSG:4326"))
    assert len(out) == 4
    assert merged == {"primary_school": 1, "convenience_store": 1}


# --------------------------------------------------------------------------- the CLI


def test_cli_rejects_a_nonsense_facilities_crs(tmp_path, tiny_osm, tiny_facilities_csv):
    res = invoke(
        [
            "audit",
            "--network",
            tiny_osm,
            "--facilities",
            tiny_facilities_csv,
            "--facilities-crs",
            "nonsense",
            "--out",
            tmp_path / "out",
            "--no-map",
        ]
    )
    assert_user_error(res, "--facilities-crs 'nonsense'", "gcj02", "bd09")
    assert not (tmp_path / "out").exists()


def _moved_m(written: gpd.GeoDataFrame, original: gpd.GeoDataFrame) -> pd.Series:
    """How far each written facility moved from its original (matched on osm_id, category)."""
    written = written.set_index(["osm_id", "category"])
    original = original.set_index(["osm_id", "category"]).loc[written.index]
    return written.geometry.to_crs(UTM).centroid.distance(
        original.geometry.to_crs(UTM).centroid, align=False
    )


@pytest.fixture(scope="module")
def amap_run(tmp_path_factory):
    """`lifecircle audit --facilities amap.csv --facilities-crs gcj02` on the bundled sample.

    Without --network the bundled study supplies the network, units, population
    and its WGS-84 facilities (pois.gpkg); --facilities adds files in --facilities-crs.
    """
    folder = tmp_path_factory.mktemp("amap")
    csv = folder / "amap.csv"
    truth = write_amap_csv(csv)
    # a Tencent export (also GCJ-02) with the same school 8 m away under its full name
    name, code, lon, lat = AMAP_ROWS[0]
    write_amap_csv(folder / "tencent.csv", [(f"上海市{name}", code, lon + 0.00008, lat)])
    out = folder / "out"
    res = invoke(
        [
            "audit",
            "--facilities",
            csv,
            "--facilities",
            folder / "tencent.csv",
            "--facilities-crs",
            "gcj02",
            "--out",
            out,
            "--no-map",
        ]
    )
    return res, out, truth


def test_cli_amap_csv_in_gcj02_on_the_sample(amap_run, sample_paths, gb_standard):
    res, out, truth = amap_run
    assert_ok(res)
    fac = gpd.read_file(out / "facilities.gpkg", layer="facilities")
    assert set(fac["source"]) == {"pois.gpkg", "amap.csv"}  # the Tencent duplicate was merged
    amap = fac[fac["source"] == "amap.csv"].set_index("name")
    known = truth[truth["typecode"] != AMAP_UNKNOWN].reset_index(drop=True)
    assert sorted(amap.index) == sorted(known["name"])
    amap = amap.loc[known["name"]]
    err = geod_m(amap.geometry.x, amap.geometry.y, known["lon"], known["lat"])
    assert err.max() < TOL_M, err
    assert list(amap["category"]) == [
        "primary_school",
        "convenience_store",
        "fresh_market",
        "health_center",
        "convenience_store",
    ]
    # the study's OSM POIs (WGS-84) are not shifted by --facilities-crs
    osm = fac[fac["source"] == "pois.gpkg"]
    original = lifecircle.read_facilities(sample_paths["facilities"], gb_standard)
    assert len(osm) == len(original)
    assert _moved_m(osm, original).max() < 1e-3

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["data_quality"]["unknown_typecodes"] == {AMAP_UNKNOWN: 1}
    assert any(AMAP_UNKNOWN in w and "type code" in w for w in summary["warnings"])
    assert summary["data_quality"]["duplicates_merged"] == {"primary_school": 1}
    assert any("merged 1 duplicate" in w for w in summary["warnings"])
    assert [Path(p).name for p in summary["study"]["facilities"]] == [
        "pois.gpkg",
        "amap.csv",
        "tencent.csv",
    ]


def test_cli_facilities_crs_does_not_move_wgs84_files(tmp_path, sample_paths, gb_standard):
    csv = tmp_path / "amap.csv"
    write_amap_csv(csv)
    out = tmp_path / "out"
    res = invoke(
        [
            "audit",
            "--network",
            sample_paths["network"],
            "--facilities",
            sample_paths["facilities"],
            "--facilities",
            csv,
            "--facilities-crs",
            "gcj02",
            "--units",
            sample_paths["units"],
            "--population",
            sample_paths["population"],
            "--out",
            out,
            "--no-map",
        ]
    )
    if res.exit_code == 2:  # an acceptable fix: refuse the ambiguous mix, naming the flag
        assert_user_error(res, "--facilities-crs")
        return
    assert_ok(res)
    fac = gpd.read_file(out / "facilities.gpkg", layer="facilities")
    original = lifecircle.read_facilities(sample_paths["facilities"], gb_standard)
    assert _moved_m(fac[fac["source"] == "pois.gpkg"], original).max() < TOL_M


# --------------------------------------------------------------------------- data quality


def test_data_quality_on_the_sample(sample_result, sample_out):
    quality = sample_result.summary.to_json()["data_quality"]
    for key in (
        "network_components_dropped",
        "facilities_snapped_over_100m",
        "duplicates_merged",
        "categories_without_facilities",
        "units_without_population",
        "unknown_typecodes",
    ):
        assert key in quality, key
    on_disk = json.loads((sample_out / "summary.json").read_text(encoding="utf-8"))
    assert on_disk["data_quality"] == json.loads(json.dumps(quality))

    assert quality["network_components_dropped"] == sample_result.graph.dropped["components"]
    assert quality["network_components_dropped"] > 0  # the sample has islands
    fac = gpd.read_file(sample_out / "facilities.gpkg", layer="facilities")
    far = (fac["snap_m"] > 100) & fac["reachable"].astype(bool)
    assert quality["facilities_snapped_over_100m"] == int(far.sum()) > 0
    assert quality["facilities_unreachable"] == int((~fac["reachable"].astype(bool)).sum())
    assert quality["duplicates_merged"] == {}  # a single facilities source
    assert quality["unknown_typecodes"] == {}
    std = sample_result.standard
    assert quality["categories_without_facilities"] == [
        c for c in std.category_ids if c not in set(fac["category"])
    ]
    assert "elderly_care" in quality["categories_without_facilities"]

    finest = sample_result.hierarchy.finest
    all_units = set(sample_result.hierarchy.units[finest]["unit_id"])
    no_people = set(quality["units_without_population"])
    assert no_people <= all_units
    assert not no_people & sample_result.analysed
    assert not no_people & set(sample_result.access["unit_id"])
    assert len(no_people) == len(quality["units_without_population"])


@pytest.mark.parametrize("value", ["mars2000", "IAU_2015:49900", "no such crs"])
def test_facilities_crs_must_be_a_crs_of_the_earth(value):
    from lifecircle.errors import CRSError
    from lifecircle.io.providers import parse_facilities_crs

    with pytest.raises(CRSError, match="coordinate system of the Earth"):
        parse_facilities_crs(value)
