"""Population rasters: windowed reads, nodata, block aggregation, conservation per unit."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import pytest
import shapely
from rasterio.warp import transform_bounds

import lifecircle
from lifecircle.io.population import is_raster, origins_from_raster

from .byod_helpers import (
    NODATA,
    assert_ok,
    assert_user_error,
    cell_centres,
    invoke,
    valid_cells,
    write_raster,
)
from .conftest import UTM, X0, Y0, grid

#: The tests' own raster writing multiplies Affine objects with `*` (in rasterio
#: helpers), which affine deprecates; ignored for the test scaffolding only --
#: test_origins_from_raster_emits_no_deprecation_warning keeps lifecircle clean.
AFFINE_MUL = "ignore:Use `@` matmul instead of `\\*` mul operator:PendingDeprecationWarning"
pytestmark = pytest.mark.filterwarnings(AFFINE_MUL)

#: The test graph: 11 x 11 nodes, 100 m apart, i.e. a 1 km square in UTM 51N.
GRAPH_BOX = (X0, Y0, X0 + 1000.0, Y0 + 1000.0)
#: Raster cell size per CRS (about 100 m on the ground).
CELL = {"EPSG:3857": 100.0, "EPSG:32651": 100.0, "EPSG:4326": 0.001}


@pytest.fixture(scope="module")
def graph() -> lifecircle.WalkGraph:
    return grid(11, 11, 100.0)


def _raster_around_graph(path, crs, nodata=NODATA, margin_m=3000.0, seed=0):
    """A raster in ``crs`` covering the test graph plus ``margin_m`` on every side."""
    xmin, ymin, xmax, ymax = GRAPH_BOX
    bounds = transform_bounds(
        UTM, crs, xmin - margin_m, ymin - margin_m, xmax + margin_m, ymax + margin_m
    )
    values, transform = write_raster(path, bounds, crs, CELL[crs], nodata=nodata, seed=seed)
    return values, transform


def _cells_of(points: gpd.GeoDataFrame, crs: str, transform) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the raster cell under each point."""
    pts = points.geometry.to_crs(crs)
    col, row = ~transform * (pts.x.to_numpy(), pts.y.to_numpy())
    return np.floor(row).astype(int), np.floor(col).astype(int)


@pytest.mark.parametrize(
    ("crs", "nodata"),
    [
        ("EPSG:3857", NODATA),
        ("EPSG:32651", NODATA),
        ("EPSG:4326", NODATA),
        ("EPSG:3857", np.nan),
    ],
)
def test_reads_only_the_window_and_honours_nodata(tmp_path, graph, crs, nodata):
    path = tmp_path / "pop.tif"
    values, transform = _raster_around_graph(path, crs, nodata=nodata)
    origins = origins_from_raster(graph, path)
    rep, pts = origins.report, origins.points

    win = rep["window"]
    assert win["width"] < values.shape[1] / 2 and win["height"] < values.shape[0] / 2
    assert rep["aggregation_factor"] == 1
    rows = slice(win["row_off"], win["row_off"] + win["height"])
    cols = slice(win["col_off"], win["col_off"] + win["width"])
    sub = values[rows, cols]
    # the window is about the street data (1 km) and holds the raster's nodata block
    cell_m = 100.0
    assert abs(win["width"] - 1000.0 / cell_m) <= 3 and abs(win["height"] - 1000.0 / cell_m) <= 3
    assert (~valid_cells(sub, nodata) & ~(sub == 0)).sum() >= 25

    ok = valid_cells(sub, nodata)
    assert len(pts) == int(ok.sum())
    assert pts["population"].sum() == pytest.approx(float(sub[ok].sum()), rel=1e-9)
    assert rep["population_in_window"] == pytest.approx(float(sub[ok].sum()), rel=1e-9)
    assert pts.crs == graph.crs
    assert pts["origin_id"].tolist() == list(range(len(pts)))
    assert (pts["population_method"] == "raster:pop.tif").all()
    # every origin sits on a valid cell and carries exactly its value
    r, c = _cells_of(pts, crs, transform)
    assert valid_cells(values[r, c], nodata).all()
    np.testing.assert_allclose(pts["population"], values[r, c])
    assert "one origin per populated cell" in origins.method


def _window_bounds(win: dict, transform) -> tuple[float, float, float, float]:
    x0, y1 = transform * (win["col_off"], win["row_off"])
    x1, y0 = transform * (win["col_off"] + win["width"], win["row_off"] + win["height"])
    return x0, y0, x1, y1


def test_window_covers_the_street_data_in_the_same_crs(tmp_path, graph):
    path = tmp_path / "pop.tif"
    _, transform = _raster_around_graph(path, "EPSG:32651")
    x0, y0, x1, y1 = _window_bounds(origins_from_raster(graph, path).report["window"], transform)
    gx0, gy0, gx1, gy1 = GRAPH_BOX
    assert x0 <= gx0 and y0 <= gy0 and x1 >= gx1 and y1 >= gy1


def test_window_covers_the_street_data_in_another_crs(tmp_path, graph):
    path = tmp_path / "pop.tif"
    _, transform = _raster_around_graph(path, "EPSG:3857")
    x0, y0, x1, y1 = _window_bounds(origins_from_raster(graph, path).report["window"], transform)
    gx0, gy0, gx1, gy1 = transform_bounds(UTM, "EPSG:3857", *GRAPH_BOX)
    assert x0 <= gx0 and y0 <= gy0 and x1 >= gx1 and y1 >= gy1


def test_tiny_max_origins_sums_cells_into_blocks(tmp_path, graph):
    path = tmp_path / "pop.tif"
    _raster_around_graph(path, "EPSG:3857")
    full = origins_from_raster(graph, path)
    agg = origins_from_raster(graph, path, max_origins=20)
    factor = agg.report["aggregation_factor"]
    assert factor > 1 and factor & (factor - 1) == 0  # a power of two
    assert len(agg.points) <= 20 < len(full.points)
    assert agg.points["population"].sum() == pytest.approx(
        full.points["population"].sum(), rel=1e-9
    )
    assert agg.report["population_in_window"] == pytest.approx(
        full.report["population_in_window"], rel=1e-9
    )
    assert agg.report["window"] == full.report["window"]
    assert f"{factor}x{factor} blocks" in agg.method
    # block centres are spaced factor cells apart
    xs = np.unique(np.round(agg.points.geometry.to_crs("EPSG:3857").x, 3))
    if len(xs) > 1:
        assert np.diff(xs).min() == pytest.approx(factor * 100.0, rel=1e-6)


def test_margin_widens_the_window(tmp_path, graph):
    path = tmp_path / "pop.tif"
    _raster_around_graph(path, "EPSG:32651")
    narrow = origins_from_raster(graph, path).report["window"]
    wide = origins_from_raster(graph, path, margin_m=500.0).report["window"]
    assert wide["width"] == pytest.approx(narrow["width"] + 10, abs=1)
    assert wide["height"] == pytest.approx(narrow["height"] + 10, abs=1)


def test_a_raster_without_crs_is_a_crs_error(tmp_path, graph):
    path = tmp_path / "no-crs.tif"
    _raster_around_graph(path, "EPSG:32651")
    import rasterio

    with rasterio.open(path) as src:
        values, profile = src.read(1), src.profile
    profile.pop("crs")
    bare = tmp_path / "bare.tif"
    with rasterio.open(bare, "w", **profile) as dst:
        dst.write(values, 1)
    with pytest.raises(lifecircle.CRSError, match="no coordinate reference system") as err:
        origins_from_raster(graph, bare)
    assert str(bare) in str(err.value)


def test_missing_or_unreadable_rasters(tmp_path, graph):
    with pytest.raises(lifecircle.InputFileError, match="--population"):
        origins_from_raster(graph, tmp_path / "missing.tif")
    junk = tmp_path / "junk.tif"
    junk.write_text("not a raster", encoding="utf-8")
    with pytest.raises(lifecircle.InputFormatError, match="GeoTIFF"):
        origins_from_raster(graph, junk)


def test_a_raster_elsewhere_is_a_user_error(tmp_path, graph):
    path = tmp_path / "beijing.tif"
    write_raster(path, (116.3, 39.8, 116.5, 40.0), "EPSG:4326", 0.001)
    with pytest.raises(lifecircle.LifecircleError, match=r"beijing\.tif"):
        origins_from_raster(graph, path)


@pytest.mark.parametrize("max_origins", [250_000, 20], ids=["cells", "blocks"])
def test_origins_from_raster_emits_no_deprecation_warning(tmp_path, graph, max_origins):
    import warnings

    path = tmp_path / "pop.tif"
    _raster_around_graph(path, "EPSG:3857")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        origins_from_raster(graph, path, max_origins=max_origins)


def test_is_raster():
    assert is_raster("pop.tif") and is_raster("POP.TIFF") and is_raster("a/b.vrt")
    assert not is_raster("population.gpkg") and not is_raster("tif.csv")


# --------------------------------------------------------------------------- the sample

#: Larger than the bundled sample's street data (lon 121.41-121.53, lat 31.18-31.28).
SAMPLE_RASTER_LONLAT = (121.36, 31.13, 121.60, 31.33)


@pytest.fixture(scope="module")
def raster_run(tmp_path_factory):
    """`lifecircle audit --population pop.tif` on the bundled sample (Web Mercator, 150 m)."""
    folder = tmp_path_factory.mktemp("raster")
    path = folder / "pop.tif"
    bounds = transform_bounds("EPSG:4326", "EPSG:3857", *SAMPLE_RASTER_LONLAT)
    values, transform = write_raster(path, bounds, "EPSG:3857", 150.0, seed=7)
    out = folder / "out"
    res = invoke(["audit", "--population", path, "--out", out, "--no-map"])
    return res, out, values, transform


def test_cli_population_raster_on_the_sample_conserves_population(raster_run):
    res, out, values, transform = raster_run
    assert_ok(res)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    access = gpd.read_parquet(out / "access.parquet")
    alloc = summary["population"]["allocation"]
    assert summary["study"]["population"].endswith("pop.tif")
    assert "raster" in summary["population"]["method"]
    assert alloc["window"]["width"] < values.shape[1]
    assert alloc["window"]["height"] < values.shape[0]
    assert alloc["aggregation_factor"] == 1

    # independently: the raster's sum over the analysed finest units
    finest = summary["units"]["levels"][-1]
    units = gpd.read_file(out / "units.gpkg", layer=finest)
    analysed = units[units["units_analysed"] > 0]
    assert 0 < len(analysed) < len(units)
    ok = valid_cells(values)
    rows, cols = np.nonzero(ok)
    x, y = cell_centres(transform, rows, cols)
    lon, lat = pyproj.Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True).transform(x, y)
    inside = shapely.contains_xy(shapely.union_all(analysed.geometry.to_numpy()), lon, lat)
    expected = float(values[rows[inside], cols[inside]].sum())

    assert expected > 0
    assert access["population"].sum() == pytest.approx(expected, rel=1e-9)
    assert summary["population"]["total"] == pytest.approx(expected, abs=0.051)
    per_unit = access.groupby("unit_id")["population"].sum()
    np.testing.assert_allclose(
        analysed.set_index("unit_id").loc[per_unit.index, "population"], per_unit, rtol=1e-9
    )
    # no origin on a nodata (or empty) cell
    pts = access.geometry.to_crs("EPSG:3857")
    c, r = ~transform * (pts.x.to_numpy(), pts.y.to_numpy())
    r, c = np.floor(r).astype(int), np.floor(c).astype(int)
    assert ok[r, c].all()
    np.testing.assert_allclose(access["population"], values[r, c])
    assert set(access["population_method"]) == {"raster:pop.tif"}


def test_cli_missing_population_raster_exits_2(tmp_path):
    res = invoke(
        ["audit", "--population", tmp_path / "missing.tif", "--out", tmp_path / "out", "--no-map"]
    )
    assert_user_error(res, "missing.tif", "--population")
    assert not (tmp_path / "out").exists()


def test_layers_of_units_gpkg(raster_run):
    _, out, _, _ = raster_run
    layers = {name for name, _ in pyogrio.list_layers(out / "units.gpkg")}
    assert layers == {"district", "street"}
    district = gpd.read_file(out / "units.gpkg", layer="district")
    street = gpd.read_file(out / "units.gpkg", layer="street")
    # districts sum their streets' raster population
    sums = street[street["units_analysed"] > 0].groupby("parent_id")["population"].sum()
    got = district.set_index("unit_id").loc[sums.index, "population"]
    np.testing.assert_allclose(got, sums, rtol=1e-9)
    assert pd.notna(got).all()


def test_named_bands_carry_cohorts_and_age_bands(tmp_path, graph):
    """Extra bands named pop_<cohort> / age_<a>_<b> become shares of each origin's residents."""
    import rasterio
    from rasterio.transform import from_origin

    from lifecircle.cohorts import cohort_populations

    rng = np.random.default_rng(3)
    shape = (14, 14)
    pop = rng.uniform(10, 100, shape)
    kids = pop * 0.03
    young, mid = pop * 0.15, pop * 0.70
    old = pop - young - mid
    path = tmp_path / "pop_ages.tif"
    transform = from_origin(X0 - 200.0, Y0 + 1200.0, 100.0, 100.0)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=shape[0],
        width=shape[1],
        count=5,
        dtype="float64",
        crs=UTM,
        transform=transform,
    ) as dst:
        for i, (layer, name) in enumerate(
            [
                (pop, "population"),
                (kids, "pop_age_3_5"),
                (young, "age_0_14"),
                (mid, "age_15_64"),
                (old, "age_65_plus"),
            ],
            start=1,
        ):
            dst.write(layer, i)
            dst.set_band_description(i, name)
    pts = origins_from_raster(graph, path).points
    np.testing.assert_allclose(pts["frac_pop_age_3_5"], 0.03)
    np.testing.assert_allclose(pts["frac_age_0_14"], 0.15)
    std = lifecircle.load_standard("gb50180-2018")
    pops, methods = cohort_populations(pts, std, ["kindergarten", "elderly_care"])
    np.testing.assert_allclose(pops["pop_age_3_5"], pts["population"] * 0.03)  # given wins
    assert methods["age_3_5"].method == "given"
    assert methods["age_60_plus"].method == "age bands"
    want = pts["population"] * (0.70 * 5 / 50 + (1 - 0.15 - 0.70))
    np.testing.assert_allclose(pops["pop_age_60_plus"], want)
