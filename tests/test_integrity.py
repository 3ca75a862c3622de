"""No resident is lost silently; bad input data is refused with a clear message, not crashed on.

Hand-made inputs around a 5 x 5 street grid (nodes at 100 m steps, extent 0..400 m
from (X0, Y0) in UTM 51N): invalid and empty geometries, overlapping population
polygons, bad population values and coordinates, OSM nodes without a location,
and the population ledger (input = allocated + itemised losses).
"""

from __future__ import annotations

import itertools
import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lifecircle
from lifecircle.io.facilities import read_facilities
from lifecircle.io.osm import read_osm_pois, read_walk_ways
from lifecircle.io.population import (
    LOSS_NO_NODE,
    LOSS_OUTSIDE_EXTENT,
    origins_from_polygons,
    origins_from_raster,
    overlapping_pairs,
    population_inside,
    read_population,
)
from lifecircle.io.units import read_units
from lifecircle.io.vector import clean_polygons, examples

from .byod_helpers import write_raster
from .conftest import LAT0, LON0, UTM, X0, Y0, grid, osm_xml, utm_box


def utm_poly(*xy: tuple[float, float]) -> shapely.Polygon:
    return shapely.Polygon([(X0 + x, Y0 + y) for x, y in xy])


#: A self-intersecting "bow-tie" over the grid: two triangles meeting at (200, 200),
#: each 0.5 * 400 * 200 = 40 000 m2 (the invalid ring's signed area is 0).
BOWTIE = utm_poly((0, 0), (400, 400), (400, 0), (0, 400))
BOWTIE_AREA = 80_000.0


def _gpkg(tmp_path, name, gdf):
    path = tmp_path / name
    gdf.to_file(path)
    return path


def _pop(boxes, values, **columns):
    return gpd.GeoDataFrame(
        {"population": values, **columns},
        geometry=[utm_box(*b) if isinstance(b, tuple) else b for b in boxes],
        crs=UTM,
    )


def _one_paragraph(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message
    assert len(message) < 1500


# --------------------------------------------------------------------------- helpers


def test_examples_caps_long_lists():
    assert examples(["a", "b"]) == "a, b"
    assert examples([f"u{i}" for i in range(12)]) == "u0, u1, u2, u3, u4 and 7 more"


def test_clean_polygons_repairs_keeps_polygonal_part_and_flags_no_area():
    spike = shapely.Polygon([(0, 0), (2, 0), (2, 2), (0, 2), (0, 0), (-1, -1), (0, 0)])
    geoms = np.array(
        [
            BOWTIE,
            utm_box(0, 0, 10, 10),
            None,
            shapely.Point(0, 0),
            shapely.Polygon([(0, 0), (1, 1), (2, 2), (0, 0)]),
            spike,
        ],
        dtype=object,
    )
    out, repaired, no_area = clean_polygons(geoms)
    assert list(repaired) == [True, False, False, False, True, True]
    assert list(no_area) == [False, False, True, True, True, False]
    assert shapely.area(out[0]) == pytest.approx(BOWTIE_AREA)
    assert out[1] is geoms[1]
    assert out[5].geom_type == "Polygon" and out[5].area == pytest.approx(4.0)
    assert all(shapely.is_valid(g) for g in out[~no_area])


# --------------------------------------------------------------------------- 1. invalid polygons


def test_bowtie_population_polygon_keeps_all_its_residents():
    # today: GEOS TopologyException (or, for a lopsided bow-tie, residents lost)
    origins = origins_from_polygons(grid(5, 5), _pop([BOWTIE], [1000.0]))
    rep = origins.report
    assert rep["population_allocated"] == pytest.approx(1000.0)
    assert rep["polygons_repaired"] == 1
    assert rep["repaired_ids"] == ["row 1"]
    # nodes of both lobes get residents: (0, 100) in the west lobe, (400, 100) in the east
    nodes = set(origins.points["node"].astype(int))
    assert {5, 9, 12} <= nodes


def test_lopsided_bowtie_population_is_not_lost(tmp_path):
    # lobes of 40 000 and 20 000 m2 (apex (400, 0)-(400, 300), crossing at (200, 100)...)
    lopsided = utm_poly((0, 0), (400, 200), (400, 0), (0, 200))
    path = _gpkg(
        tmp_path,
        "pop.gpkg",
        _pop([lopsided, (0, 250, 400, 400)], [900.0, 100.0], unit_id=["A", "B"]),
    )
    pop = read_population(path)
    assert pop.attrs["population_report"]["repaired_ids"] == ["A"]
    origins = origins_from_polygons(grid(5, 5), pop)
    assert origins.report["population_allocated"] == pytest.approx(1000.0)
    assert origins.report["polygons_repaired"] == 1
    assert origins.report["repaired_ids"] == ["A"]


def test_bowtie_unit_is_repaired_and_reported(tmp_path):
    units = gpd.GeoDataFrame(
        {"unit_id": ["D", "U1", "U2"], "parent_id": [None, "D", "D"]},
        geometry=[utm_box(0, 0, 400, 800), BOWTIE, utm_box(0, 400, 400, 800)],
        crs=UTM,
    )
    h = read_units(_gpkg(tmp_path, "units.gpkg", units))
    assert h.report["repaired"] == ["U1"]
    finest = h.units[h.finest].set_index("unit_id")
    assert finest.geometry.is_valid.all()
    assert finest.to_crs(UTM).area["U1"] == pytest.approx(BOWTIE_AREA, rel=1e-6)
    # residents in both lobes belong to U1
    pts = gpd.GeoDataFrame(
        geometry=[shapely.Point(X0 + 50, Y0 + 200), shapely.Point(X0 + 350, Y0 + 200)], crs=UTM
    )
    assert list(h.assign(pts)) == ["U1", "U1"]


# --------------------------------------------------------------------------- 2. empty geometries


def test_population_polygon_without_geometry_is_refused(tmp_path):
    pop = _pop([(0, 0, 100, 100), (100, 0, 200, 100)], [10.0, 20.0], unit_id=["S1", "S2"])
    pop.loc[1, "geometry"] = None
    path = _gpkg(tmp_path, "pop.gpkg", pop)
    with pytest.raises(lifecircle.InputFormatError) as err:
        read_population(path)
    msg = str(err.value)
    assert str(path) in msg and "'population'" in msg and "S2" in msg
    assert "give each of them its polygon" in msg
    _one_paragraph(msg)


def test_population_point_with_residents_is_refused(tmp_path):
    pop = gpd.GeoDataFrame(
        {"population": [10.0, 5.0], "unit_id": ["S1", "P"]},
        geometry=[utm_box(0, 0, 100, 100), shapely.Point(X0, Y0)],
        crs=UTM,
    )
    path = tmp_path / "pop.geojson"
    pop.to_file(path)
    with pytest.raises(lifecircle.InputFormatError, match=r"point or line.*: P\."):
        read_population(path)


def test_empty_population_polygon_without_residents_is_dropped_and_counted(tmp_path):
    pop = _pop([(0, 0, 200, 200), (200, 0, 400, 200)], [10.0, 0.0])
    pop.loc[1, "geometry"] = None
    read = read_population(_gpkg(tmp_path, "pop.gpkg", pop))
    assert len(read) == 1
    assert read.attrs["population_report"]["polygons_without_geometry_dropped"] == 1
    origins = origins_from_polygons(grid(5, 5), read)
    assert origins.report["polygons_without_geometry_dropped"] == 1
    assert origins.report["population_allocated"] == pytest.approx(10.0)


def test_unit_without_geometry_is_refused_naming_the_id(tmp_path):
    units = gpd.GeoDataFrame(
        {"unit_id": ["A", "B", "C"]},
        geometry=[utm_box(0, 0, 100, 100), None, shapely.Polygon()],
        crs=UTM,
    )
    path = _gpkg(tmp_path, "units.gpkg", units)
    with pytest.raises(lifecircle.InputFormatError) as err:
        read_units(path)
    msg = str(err.value)
    assert str(path) in msg and "2 governance units" in msg and "B, C" in msg
    assert "give each of these units its polygon" in msg
    _one_paragraph(msg)


def test_unit_without_geometry_and_population_zero_is_dropped_and_reported(tmp_path):
    units = gpd.GeoDataFrame(
        {"unit_id": ["A", "B"], "population": [100, 0]},
        geometry=[utm_box(0, 0, 100, 100), None],
        crs=UTM,
    )
    h = read_units(_gpkg(tmp_path, "units.gpkg", units))
    assert list(h.units[h.finest]["unit_id"]) == ["A"]
    assert h.report["dropped_without_geometry"] == ["B"]


def test_parent_without_geometry_is_rebuilt_from_its_children(tmp_path):
    units = gpd.GeoDataFrame(
        {"unit_id": ["D", "S1", "S2"], "parent_id": [None, "D", "D"]},
        geometry=[None, utm_box(0, 0, 100, 100), utm_box(100, 0, 200, 100)],
        crs=UTM,
    )
    h = read_units(_gpkg(tmp_path, "units.gpkg", units))
    assert h.report["rebuilt_from_children"] == ["D"]
    district = h.units[h.levels[0]].to_crs(UTM)
    assert district.area.iloc[0] == pytest.approx(20_000.0, rel=1e-6)


def test_level_columns_unit_without_geometry_is_refused(tmp_path):
    units = gpd.GeoDataFrame(
        {"district": ["D", "D"], "street": ["S1", "S2"]},
        geometry=[utm_box(0, 0, 100, 100), None],
        crs=UTM,
    )
    with pytest.raises(lifecircle.InputFormatError, match=r"no usable polygon.*: S2\."):
        read_units(_gpkg(tmp_path, "units.gpkg", units), level_columns=["district", "street"])


# --------------------------------------------------------------------------- 3. overlaps


def _districts_and_streets(**extra_columns):
    """Two districts (0..200 and 200..400 wide, 400 high) and their four streets."""
    boxes = [
        (0, 0, 200, 400),
        (200, 0, 400, 400),
        (0, 0, 200, 200),
        (0, 200, 200, 400),
        (200, 0, 400, 200),
        (200, 200, 400, 400),
    ]
    data = {
        "unit_id": ["D1", "D2", "S1", "S2", "S3", "S4"],
        "population": [300.0, 700.0, 100.0, 200.0, 300.0, 400.0],
        **extra_columns,
    }
    return _pop(boxes, data.pop("population"), **data)


def test_overlapping_pairs_finds_nesting_and_ignores_slivers():
    geoms = np.array(
        [
            utm_box(0, 0, 200, 200),
            utm_box(50, 50, 100, 100),  # nested
            utm_box(199, 0, 300, 200),  # 1 m sliver
            utm_box(250, 0, 350, 200),
        ],
        dtype=object,
    )  # overlaps 2
    # 0-2: 200 m2 common, 0.5 % of the smaller (20 200 m2): ignored
    assert overlapping_pairs(geoms).tolist() == [[0, 1], [2, 3]]


def test_districts_and_streets_use_the_finest_level(tmp_path):
    pop = _districts_and_streets(
        parent_id=[None, None, "D1", "D1", "D2", "D2"], level=["district"] * 2 + ["street"] * 4
    )
    read = read_population(_gpkg(tmp_path, "pop.gpkg", pop))
    assert list(read["polygon_id"]) == ["S1", "S2", "S3", "S4"]
    info = read.attrs["population_report"]["hierarchy_resolved"]
    assert info["level_used"] == "street"
    assert info["polygons_ignored"] == 2 and info["ignored_ids"] == ["D1", "D2"]
    assert info["population_used"] == 1000.0
    origins = origins_from_polygons(grid(5, 5), read)
    # 1000 residents, not 2000: nobody is counted twice
    assert origins.report["population_allocated"] == pytest.approx(1000.0)
    assert origins.report["hierarchy_resolved"]["level_used"] == "street"


def test_level_column_alone_also_resolves(tmp_path):
    pop = _districts_and_streets(level=["district"] * 2 + ["street"] * 4)
    read = read_population(_gpkg(tmp_path, "pop.gpkg", pop))
    assert read["population"].sum() == 1000.0


def test_overlaps_without_hierarchy_are_refused(tmp_path):
    path = _gpkg(tmp_path, "pop.gpkg", _districts_and_streets())
    with pytest.raises(lifecircle.InputFormatError) as err:
        read_population(path)
    msg = str(err.value)
    assert str(path) in msg and "counted twice" in msg
    assert "D1 and S1 (100% of the smaller)" in msg
    assert "4 overlapping pair(s)" in msg
    assert "parent_id" in msg  # the fix
    _one_paragraph(msg)


def test_hierarchy_whose_finest_level_does_not_tile_is_refused(tmp_path):
    pop = _districts_and_streets(parent_id=[None, None, "D1", "D1", "D2", "D2"])
    pop = pop.drop(index=5)  # D2's north half has no street
    with pytest.raises(lifecircle.InputFormatError, match=r"does not cover.*D2 \(50% covered\)"):
        read_population(_gpkg(tmp_path, "pop.gpkg", pop))


def test_hierarchy_whose_finest_polygons_overlap_is_refused(tmp_path):
    pop = _districts_and_streets(parent_id=[None, None, "D1", "D1", "D2", "D2"])
    pop.loc[5, "geometry"] = utm_box(200, 100, 400, 400)  # S4 overlaps S3 by half
    with pytest.raises(
        lifecircle.InputFormatError, match=r"S3 and S4 \(50% of the smaller\).*finest level overlap"
    ):
        read_population(_gpkg(tmp_path, "pop.gpkg", pop))


def test_origins_from_overlapping_frame_is_a_data_error():
    pop = _pop([(0, 0, 400, 400), (0, 0, 200, 200)], [100.0, 50.0], polygon_id=["A", "B"])
    with pytest.raises(lifecircle.DataError, match=r"A and B \(100% of the smaller\)"):
        origins_from_polygons(grid(5, 5), pop)


@pytest.mark.slow
def test_sample_districts_plus_streets_give_the_streets_total(tmp_path, sample_paths, sample_graph):
    units = gpd.read_file(sample_paths["units"])
    streets = gpd.read_file(sample_paths["population"])
    districts = units[units["level"] == "district"].copy()
    parent = units.set_index("unit_id")["parent_id"]
    totals = streets.groupby(streets["unit_id"].map(parent))["population"].sum()
    districts["population"] = districts["unit_id"].map(totals).fillna(0.0)
    streets["parent_id"] = streets["unit_id"].map(parent)
    both = pd.concat(
        [
            districts[["unit_id", "parent_id", "population", "geometry"]],
            streets[["unit_id", "parent_id", "population", "geometry"]],
        ],
        ignore_index=True,
    )
    path = _gpkg(tmp_path, "districts-and-streets.gpkg", gpd.GeoDataFrame(both, crs=units.crs))
    merged = origins_from_polygons(sample_graph, read_population(path))
    alone = origins_from_polygons(sample_graph, read_population(sample_paths["population"]))
    assert merged.report["population_allocated"] == pytest.approx(
        alone.report["population_allocated"], rel=1e-9
    )
    assert merged.report["hierarchy_resolved"]["polygons_ignored"] == len(districts)


# --------------------------------------------------------------------------- 4. population values


@pytest.mark.parametrize(
    ("bad", "shown"),
    [
        (np.nan, "nan"),
        (np.inf, "inf"),
        (-np.inf, "-inf"),
        (-5.0, "-5.0"),
        ("abc", "'abc'"),
    ],
)
def test_bad_population_values_are_refused(tmp_path, bad, shown):
    values = ["10", str(bad)] if isinstance(bad, str) else [10.0, bad]
    path = _gpkg(
        tmp_path,
        "pop.gpkg",
        _pop([(0, 0, 100, 100), (100, 0, 200, 100)], values, unit_id=["S1", "S2"]),
    )
    with pytest.raises(lifecircle.InputFormatError) as err:
        read_population(path)
    msg = str(err.value)
    assert str(path) in msg and "'population'" in msg and "1 row(s)" in msg
    assert f"S2 ({shown})" in msg
    assert "non-negative" in msg and "remove the rows" in msg
    _one_paragraph(msg)


def test_many_bad_values_are_capped(tmp_path):
    boxes = [(10 * i, 0, 10 * i + 10, 10) for i in range(12)]
    path = _gpkg(tmp_path, "pop.gpkg", _pop(boxes, [-1.0] * 12))
    with pytest.raises(
        lifecircle.InputFormatError,
        match=r"12 row\(s\) do not: row 1 \(-1.0\), .*row 5 \(-1.0\) and 7 more",
    ):
        read_population(path)


def test_origins_from_a_frame_with_inf_is_a_data_error():
    with pytest.raises(lifecircle.DataError, match=r"row 1 \(inf\)"):
        origins_from_polygons(grid(5, 5), _pop([(0, 0, 100, 100)], [np.inf]))


def test_raster_with_inf_and_nan_cells_reports_them(tmp_path):
    import rasterio

    g = grid(5, 5)
    path = tmp_path / "pop.tif"
    write_raster(path, (X0 - 500, Y0 - 500, X0 + 900, Y0 + 900), UTM, 100.0, seed=3)
    with rasterio.open(path, "r+") as dst:
        values = dst.read(1)
        # cells (row, col) 6..8 lie under the street grid (rows from the top, Y0 + 900)
        values[6, 6], values[7, 7], values[8, 8] = np.inf, np.nan, -np.inf
        values[6, 8] = -7.0
        dst.write(values, 1)
    origins = origins_from_raster(g, path)
    rep = origins.report
    win = rep["window"]
    inside = values[
        win["row_off"] : win["row_off"] + win["height"],
        win["col_off"] : win["col_off"] + win["width"],
    ]
    n_data = int((inside != -9999.0).sum())
    assert rep["cells_not_finite"] == 3
    assert rep["cells_negative"] == 1 and rep["negative_values_dropped"] == 7.0
    assert rep["dropped_cell_share"] == pytest.approx(4 / n_data)
    assert np.isfinite(origins.points["population"]).all()
    assert rep["population_allocated"] == pytest.approx(rep["population_input"])


# --------------------------------------------------------------------------- 5. coordinates


def test_nan_coordinates_in_geojson_population_are_refused(tmp_path):
    path = tmp_path / "pop.geojson"
    path.write_text(
        '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": '
        '{"unit_id": "S9", "population": 5}, "geometry": {"type": "Polygon", "coordinates": '
        "[[[121.4, 31.2], [121.5, NaN], [121.5, 31.3], [121.4, 31.2]]]}}]}",
        encoding="utf-8",
    )
    with pytest.raises(lifecircle.InputFormatError, match=r"NaN or infinite coordinates: S9\."):
        read_population(path)


def test_inf_coordinates_in_gpkg_units_are_refused(tmp_path):
    bad = shapely.Polygon([(X0, Y0), (X0 + 100, Y0), (X0 + 100, np.inf), (X0, Y0)])
    units = gpd.GeoDataFrame(
        {"unit_id": ["A", "B"]}, geometry=[utm_box(0, 0, 100, 100), bad], crs=UTM
    )
    path = _gpkg(tmp_path, "units.gpkg", units)
    with pytest.raises(lifecircle.InputFormatError) as err:
        read_units(path)
    msg = str(err.value)
    assert str(path) in msg and "NaN or infinite coordinates: B." in msg
    _one_paragraph(msg)


def test_projected_coordinates_labelled_as_degrees_are_refused(tmp_path):
    units = gpd.GeoDataFrame(
        {"unit_id": ["A"]}, geometry=[utm_box(0, 0, 100, 100)], crs="EPSG:4326"
    )
    with pytest.raises(lifecircle.InputFormatError, match=r"latitudes beyond \+-90.*: A\."):
        read_units(_gpkg(tmp_path, "units.gpkg", units))


def test_facility_vector_nan_is_refused_and_empty_is_counted(tmp_path, small_standard):
    fac = gpd.GeoDataFrame(
        {"category": ["park", "park", "park"], "name": ["a", "b", "c"]},
        geometry=[shapely.Point(LON0, LAT0), None, shapely.Point(LON0 + 0.001, LAT0)],
        crs="EPSG:4326",
    )
    ok = read_facilities(_gpkg(tmp_path, "fac.gpkg", fac), small_standard)
    assert len(ok) == 2 and ok.attrs["empty_geometries"] == 1
    fac.loc[2, "geometry"] = shapely.Point(LON0, np.nan)
    path = _gpkg(tmp_path, "fac-nan.gpkg", fac)
    with pytest.raises(lifecircle.InputFormatError, match=r"NaN or infinite coordinates: row 3"):
        read_facilities(path, small_standard)


@pytest.mark.parametrize(
    ("lon", "lat", "shown"),
    [
        ("", "31.2", "',31.2'"),
        ("abc", "31.2", "'abc,31.2'"),
        ("nan", "31.2", "',31.2'"),
        ("inf", "31.2", "'inf,31.2'"),
        ("121.4", "95", "'121.4,95'"),
    ],
)
def test_facility_table_bad_coordinates_are_refused(tmp_path, small_standard, lon, lat, shown):
    path = tmp_path / "fac.csv"
    path.write_text(
        f"name,category,lon,lat\na,park,121.4,31.2\nb,park,{lon},{lat}\n", encoding="utf-8"
    )
    with pytest.raises(lifecircle.InputFormatError) as err:
        read_facilities(path, small_standard)
    msg = str(err.value)
    assert str(path) in msg and "columns 'lon' and 'lat'" in msg
    assert f"on line(s) 3 ({shown})" in msg
    _one_paragraph(msg)


def test_projected_facility_table_with_inf_is_refused(tmp_path, small_standard):
    path = tmp_path / "fac.csv"
    path.write_text(f"name,category,x,y\na,park,{X0},{Y0}\nb,park,inf,{Y0}\n", encoding="utf-8")
    with pytest.raises(lifecircle.InputFormatError, match=r"line\(s\) 3"):
        read_facilities(path, small_standard, crs=UTM)


def _osm_with_a_node_without_lat(tmp_path):
    nodes = {
        1: (LON0, LAT0),
        2: (LON0 + 0.001, LAT0),
        3: (LON0 + 0.002, LAT0),
        4: (LON0 + 0.002, LAT0 + 0.001),
    }
    text = osm_xml(nodes, [(10, [1, 2, 3, 4], {"highway": "residential"})])
    text = text.replace(f'<node id="2" version="1" lat="{LAT0:.7f}" ', '<node id="2" version="1" ')
    text = text.replace(
        "</osm>",
        f'  <node id="7" version="1" lon="{LON0:.7f}">'
        '<tag k="amenity" v="kindergarten"/></node>\n'
        f'  <node id="8" version="1" lat="{LAT0:.7f}" '
        f'lon="{LON0:.7f}"><tag k="amenity" v="clinic"/></node>\n'
        "</osm>",
    )
    path = tmp_path / "broken.osm"
    path.write_text(text, encoding="utf-8")
    return path


def test_osm_nodes_without_location_are_skipped_and_counted(tmp_path):
    path = _osm_with_a_node_without_lat(tmp_path)
    ways = read_walk_ways(path)
    assert ways.invalid_locations == 1
    assert list(ways.node_ids) == [1, 3, 4]
    g = lifecircle.graph_from_osm(path)
    assert g.dropped["invalid_locations"] == 1
    assert g.summary()["invalid_locations"] == 1
    pois = read_osm_pois(path, ["amenity"])  # crashed with InvalidLocationError
    assert list(pois["osm_id"]) == ["8"]
    assert pois.attrs["invalid_locations"] == 1


def test_osm_way_joins_the_neighbours_of_a_node_without_location(tmp_path):
    ways = read_walk_ways(_osm_with_a_node_without_lat(tmp_path))
    ids = ways.node_ids
    assert sorted(zip(ids[ways.edge_u].tolist(), ids[ways.edge_v].tolist(), strict=True)) == [
        (1, 3),
        (3, 4),
    ]


def test_osm_ways_from_fixed_point_nodes():
    from lifecircle.io.osm import _ways_from_nodes

    undefined = 2147483647  # osmium's coordinate of a node without a location
    refs = np.array([1, 2, 3, 5, 6, 7, 8, 9, 3])
    x = np.array([1214000000, undefined, 1214000100, 10, 20, 30, 40, 1800000001, 1214000100])
    y = np.array([312000000, undefined, 312000000, 10, 900000001, 30, 40, 50, 312000000])
    lengths = np.array([3, 2, 3, 1])
    w = _ways_from_nodes(refs, x, y, lengths, np.array(["a", "b", "c", "d"], dtype=object))
    # node 2 (undefined), 6 (latitude 90.0000001) and 9 (longitude 180.0000001) are invalid;
    # way "b" keeps one node and way "d" has one: both dropped, their nodes too
    assert w.invalid_locations == 3
    assert w.node_ids.tolist() == [1, 3, 7, 8]
    assert w.lon.tolist() == [121.4, 121.40001, 3e-06, 4e-06]
    assert w.lat.tolist() == [31.2, 31.2, 3e-06, 4e-06]
    pairs = list(zip(w.node_ids[w.edge_u].tolist(), w.node_ids[w.edge_v].tolist(), strict=True))
    assert pairs == [(1, 3), (7, 8)]
    assert w.edge_class.tolist() == ["a", "c"]


def test_graph_from_edges_drops_nodes_without_coordinates():
    x = np.array([0.0, 100.0, np.nan, 300.0]) + X0
    y = np.full(4, Y0)
    g = lifecircle.graph_from_edges(np.arange(4), x, y, [0, 1, 2, 0], [1, 2, 3, 3], crs=UTM)
    assert g.dropped["invalid_locations"] == 1
    assert g.n_nodes == 3 and g.n_edges == 2
    assert np.isfinite(g.edge_length).all()
    lonlat = lifecircle.graph_from_edges(
        np.arange(3),
        [LON0, LON0 + 0.001, LON0],
        [LAT0, LAT0, 95.0],
        [0, 1],
        [1, 2],
        crs="EPSG:4326",
    )
    assert lonlat.dropped["invalid_locations"] == 1 and lonlat.n_nodes == 2


# --------------------------------------------------------------------------- 6. the ledger


def test_report_itemises_every_loss_by_hand():
    g = grid(5, 5)
    pop = _pop(
        [
            (250, 50, 550, 150),  # half outside: 500 allocated, 500 outside
            (1000, 1000, 1200, 1200),  # outside: 70
            (110, 110, 190, 190),  # inside a block, no node: 30
            (50, 250, 150, 350),
        ],  # node 16: 200
        [1000.0, 70.0, 30.0, 200.0],
    )
    rep = origins_from_polygons(g, pop).report
    assert rep["population_input"] == 1300.0
    assert rep["population_allocated"] == pytest.approx(700.0)
    assert rep["population_not_allocated"] == pytest.approx(
        {LOSS_OUTSIDE_EXTENT: 570.0, LOSS_NO_NODE: 30.0}
    )


def test_population_inside_splits_the_allocated_population():
    g = grid(5, 5)
    origins = origins_from_polygons(
        g, _pop([(250, 50, 550, 150), (50, 250, 150, 350)], [1000.0, 200.0])
    )
    unit = np.where(
        origins.points["node"].to_numpy() == 16,
        None,
        np.where(origins.points["node"].to_numpy() == 8, "A", "B"),
    )
    ledger = population_inside(origins, unit, analysed={"A"})
    # nodes 8 (200 m of street) and 9 (150 m) share 500: 8 gets 500 * 200 / 350
    assert ledger["population_in_analysed_units"] == pytest.approx(500 * 200 / 350)
    assert ledger["population_in_units_not_analysed"] == pytest.approx(500 * 150 / 350)
    assert ledger["population_outside_units"] == pytest.approx(200.0)
    assert ledger["population_not_allocated"] == pytest.approx(
        {LOSS_OUTSIDE_EXTENT: 500.0, LOSS_NO_NODE: 0.0}
    )
    assert ledger["balanced"] and ledger["residual"] == pytest.approx(0.0, abs=1e-9)


def test_population_inside_catches_lost_origins():
    origins = origins_from_polygons(grid(5, 5), _pop([(50, 50, 350, 350)], [900.0]))
    broken = lifecircle.io.population.Origins(
        points=origins.points.iloc[1:], method=origins.method, report=origins.report
    )
    ledger = population_inside(broken)
    assert not ledger["balanced"]
    assert ledger["residual"] == pytest.approx(float(origins.points["population"].iloc[0]))


@st.composite
def _tilings(draw):
    """Non-overlapping rectangles from random cuts of -300..700 m (the grid spans 0..400).

    Cells reach beyond the street data, lie outside it, or fall between nodes.
    """
    xs = sorted(set(draw(st.lists(st.integers(-299, 699), min_size=1, max_size=5))))
    ys = sorted(set(draw(st.lists(st.integers(-299, 699), min_size=1, max_size=5))))
    xs, ys = [-300, *xs, 700], [-300, *ys, 700]
    cells = [
        (x0, y0, x1, y1) for x0, x1 in itertools.pairwise(xs) for y0, y1 in itertools.pairwise(ys)
    ]
    keep = draw(st.lists(st.booleans(), min_size=len(cells), max_size=len(cells)))
    boxes = [c for c, k in zip(cells, keep, strict=True) if k] or cells[:1]
    pops = draw(
        st.lists(st.floats(0, 1e6, allow_nan=False), min_size=len(boxes), max_size=len(boxes))
    )
    return boxes, pops


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tilings(), st.sets(st.integers(0, 39), max_size=20))
def test_allocated_plus_itemised_losses_equals_input(tiling, residential):
    boxes, pops = tiling
    idx = np.arange(25).reshape(5, 5)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    cls = np.where(np.isin(np.arange(40), sorted(residential)), "residential", "primary")
    r, c = np.divmod(np.arange(25), 5)
    g = lifecircle.graph_from_edges(
        np.arange(25), X0 + 100.0 * c, Y0 + 100.0 * r, u, v, crs=UTM, edge_class=cls.astype(object)
    )
    origins = origins_from_polygons(g, _pop(boxes, pops))
    rep = origins.report
    total = float(np.sum(pops))
    assert rep["population_input"] == pytest.approx(total, rel=1e-12)
    assert rep["population_allocated"] == pytest.approx(
        origins.points["population"].sum(), rel=1e-12, abs=1e-9
    )
    losses = sum(rep["population_not_allocated"].values())
    assert rep["population_allocated"] + losses == pytest.approx(total, rel=1e-6, abs=1e-6)
    assert min(rep["population_not_allocated"].values()) >= -1e-6 * max(total, 1.0)
    assert population_inside(origins)["balanced"]


def test_ledger_messages_have_no_code_or_markup():
    # messages quote values with repr(): hostile text stays data
    pop = _pop([(0, 0, 100, 100)], ["<script>alert(1)</script>"], polygon_id=["x"])
    with pytest.raises(lifecircle.DataError) as err:
        origins_from_polygons(grid(5, 5), pop)
    assert re.search(
        r"x \('<script>alert\(1\)</scr\.\.\.'\)|x \('<script>alert\(1\)</script>'\)", str(err.value)
    )
