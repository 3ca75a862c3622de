"""The map at city scale: per-theme figures as numbers, cells assigned once, size bounded.

The map holds, per theme, only numbers per unit and per cell of the residents grid
(``map.js`` builds tooltips and popups from them, inserting every data string as
text); these tests check that the numbers are right (against a brute-force sum over
the origins), that hostile names never reach the page raw, and that the page does not
grow with the number of origins when the units stay the same.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.geometry

import lifecircle
from lifecircle.coverage import origin_indicators
from lifecircle.render._context import MapContext
from lifecircle.render._mapdata import CellGrid
from lifecircle.render.map import _page, _title, build_map
from tests.conftest import LAT0, LON0, osm_grid
from tests.test_browser import CHROMIUM, open_every_tooltip, open_page
from tests.test_browser import browser as browser  # the shared fixture
from tests.test_render_map import ISLAND, island, part_features, render_popup, render_tip

ASSETS = Path(lifecircle.__file__).parent / "render" / "assets"
#: Unit and facility names from the issue: markup, a template expression, a formula.
HOSTILE = ["</script><script>alert(1)</script>", "{{7*191}}", "=1+1"]
SIDE = 0.008  # the study's side in degrees (about 760 m x 890 m)


def study(folder: Path, n: int, name: str = "plain") -> lifecircle.AuditResult:
    """An ``n x n`` street grid over a fixed square: two streets, one district, two POIs.

    The units, their populations and the facilities do not depend on ``n``; the
    number of origins (walk nodes inside the units) grows as ``n**2``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    step = SIDE / (n - 1)
    (folder / "grid.osm").write_text(osm_grid(n=n, step_deg=step), encoding="utf-8")

    def box(c0: float, r0: float, c1: float, r1: float) -> shapely.Polygon:
        return shapely.box(LON0 + c0 * SIDE, LAT0 + r0 * SIDE, LON0 + c1 * SIDE, LAT0 + r1 * SIDE)

    buf = io.StringIO()
    rows = csv.writer(buf)
    rows.writerow(["lon", "lat", "category", "name"])
    rows.writerow([LON0 + 0.3 * SIDE, LAT0 + 0.3 * SIDE, "kindergarten", name])
    rows.writerow([LON0 + 0.77 * SIDE, LAT0 + 0.64 * SIDE, "park", name])
    (folder / "facilities.csv").write_text(buf.getvalue(), encoding="utf-8")
    gpd.GeoDataFrame(
        {
            "unit_id": ["D", "A", "B"],
            "name": [f"{name} D", f"{name} A", f"{name} B"],
            "parent_id": [None, "D", "D"],
        },
        geometry=[box(0, 0, 1, 1), box(0, 0, 0.5, 1), box(0.5, 0, 1, 1)],
        crs="EPSG:4326",
    ).to_file(folder / "units.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(
        {"population": [1000.0, 2000.0]},
        geometry=[box(0, 0, 0.5, 1), box(0.5, 0, 1, 1)],
        crs="EPSG:4326",
    ).to_file(folder / "population.geojson", driver="GeoJSON")
    return lifecircle.audit(
        folder / "grid.osm",
        [folder / "facilities.csv"],
        folder / "units.geojson",
        folder / "population.geojson",
        keep_edge_units=True,
        name=name,
    )


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> lifecircle.AuditResult:
    return study(tmp_path_factory.mktemp("small"), 17)


# ------------------------------------------------------------------ cells, by brute force


def brute_force_cells(points: gpd.GeoDataFrame, weights, crs, cell_m: float) -> dict:
    """``{(column, row): summed weight}``, one origin at a time."""
    metric = points.geometry.to_crs(crs)
    out: dict[tuple[int, int], float] = {}
    for x, y, w in zip(metric.x, metric.y, weights, strict=True):
        key = (int(np.floor(x / cell_m)), int(np.floor(y / cell_m)))
        out[key] = out.get(key, 0.0) + float(w)
    return out


def test_cell_grid_sums_equal_a_brute_force_sum():
    rng = np.random.default_rng(3)
    x = rng.uniform(300_000, 302_000, 500)
    y = rng.uniform(3_400_000, 3_401_300, 500)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:32651")
    population = rng.uniform(0, 50, 500)
    grid = CellGrid.of(points, population, points.crs, 250.0)
    expected = brute_force_cells(points, population, points.crs, 250.0)
    assert len(grid) == len(expected)
    for theme in range(3):  # any weights: one bincount per theme on the same assignment
        weights = population * rng.uniform(0, 1, 500)
        got = grid.weights(weights)
        want = brute_force_cells(points, weights, points.crs, 250.0)
        # each cell's centre lies in its own cell: match them up by that
        cx = shapely.get_coordinates(grid.centres.geometry.array)
        keys = [(int(np.floor(a / 250.0)), int(np.floor(b / 250.0))) for a, b in cx]
        assert sorted(keys) == sorted(want)
        for key, value in zip(keys, got, strict=True):
            assert value == pytest.approx(want[key], rel=1e-12, abs=1e-9), (theme, key)
        assert got.sum() == pytest.approx(weights.sum())
    # the centre of a cell is where its residents live (population-weighted)
    cell = grid.cell
    k = int(cell[0])
    members = cell == k
    cx0 = (x[members] * population[members]).sum() / population[members].sum()
    assert grid.centres.geometry.x.iloc[k] == pytest.approx(cx0)
    with pytest.raises(ValueError, match="weights"):
        grid.weights(np.ones(3))


def test_theme_cells_conserve_the_uncovered_residents(small):
    """Each theme's counts per cell are the per-origin sums, and add up to the audit's."""
    page = build_map(small, basemap="none")
    data = island(page.html)
    ctx = MapContext.of(small, lang="en", gcj02=False)
    access = small.access
    pop = access["population"].to_numpy(float)
    cats = list(small.summary.categories_audited)
    cov = origin_indicators(access, small.standard, cats)
    xy = part_features(data, {"kind": "cells", "count": [1] * (len(data["cells"]["xy"]) // 2),
                              "tip": ["", ""]})  # fmt: skip
    assert len(xy) == len(ctx.cells)
    for cat in cats:
        label = f"{small.standard.category(cat).name_en} within"
        (theme,) = [t for t in data["themes"] if t["name"].startswith(label)]
        uncovered = pop * (1.0 - cov[f"cov_{cat}"].to_numpy(float))
        want = brute_force_cells(access, uncovered, small.graph.crs, 250.0)
        cells = [p for p in theme["parts"] if p["kind"] == "cells"]
        counts = cells[0]["count"] if cells else [0] * len(ctx.cells)
        assert len(counts) == len(ctx.cells)
        # the island's counts are the brute-force sums, rounded (cells are matched by
        # the grid cell of their centre)
        centres = shapely.get_coordinates(ctx.cells.centres.geometry.array)
        keys = [(int(np.floor(a / 250.0)), int(np.floor(b / 250.0))) for a, b in centres]
        assert [round(want.get(key, 0.0)) for key in keys] == counts
        assert sum(counts) == pytest.approx(uncovered.sum(), abs=len(counts) / 2)
        assert uncovered.sum() > 0  # the test sees someone left out


# ------------------------------------------------------------------ hostile names


@pytest.fixture(scope="module", params=range(len(HOSTILE)), ids=lambda i: f"name{i}")
def hostile(request, tmp_path_factory) -> tuple[str, lifecircle.AuditResult]:
    name = HOSTILE[request.param]
    return name, study(tmp_path_factory.mktemp("hostile"), 9, name)


def html_slots(data: dict) -> list[str]:
    """Every string of the island that ``map.js`` inserts as HTML."""
    out = [data["legend"], data["attribution"]]
    for lay in [*data["themes"], *data["overlays"]]:
        out.append(lay["name"])
        for part in lay["parts"]:
            for key in ("tip", "popup"):
                value = part.get(key)
                if isinstance(value, list) and part["kind"] != "cells":
                    out += value
                elif isinstance(value, dict) and "rows" in value:
                    out += [row["label"] for row in value["rows"]]
    out += [row["label"] for row in data["units"]["popup"]["rows"]]
    return out


def test_hostile_names_never_appear_raw(hostile):
    name, result = hostile
    page = build_map(result, basemap="none")
    (text,) = ISLAND.findall(page.html)
    assert not re.search(r"[<>&\u2028\u2029]", text)  # nothing can end the script
    data = json.loads(text)  # the island parses
    assert data == json.loads(json.dumps(page.data))
    if html.escape(name) != name:
        assert name not in page.html
    assert "1337" not in page.html  # nothing was evaluated
    # text slots hold the names as they are (map.js inserts them as text) ...
    assert data["units"]["name"] == [f"{name} A", f"{name} B"]
    popup = data["units"]["popup"]
    assert popup["title"]["values"] == [f"{name} A", f"{name} B"]
    clusters = [p for lay in data["overlays"] for p in lay["parts"] if p["kind"] == "clusters"]
    assert clusters and all(p["tip"]["title"]["values"] == [name] for p in clusters)
    # ... and every HTML slot holds them escaped, never raw
    for slot in html_slots(data):
        if html.escape(name) != name:
            assert name not in slot, slot
    boundary = [t for t in html_slots(data) if f"{html.escape(name)} D" in t]
    assert boundary  # the district's tooltip (HTML, escaped)
    # what map.js builds from the numbers and names: escaped when written as HTML
    theme = data["themes"][0]
    assert render_tip(data, theme["parts"][0], 0).startswith(f"<b>{html.escape(name)} A</b>")
    assert f"<h4>{html.escape(name)} A</h4>" in render_popup(popup, 0)


def test_map_js_inserts_only_lifecircle_html():
    """``innerHTML`` is set only from slots lifecircle fills with escaped HTML."""
    script = (ASSETS / "map.js").read_text(encoding="utf-8")
    assigned = sorted(re.findall(r"(\S+)\.innerHTML = ([^;]+);", script))
    assert assigned == [("div", "data.legend"), ("th", "table.rows[r].label")]
    # the unit names, coded values and cell counts go through text nodes
    assert "createTextNode(value)" in script
    assert 'element("b", null, value)' in script
    assert "createTextNode(before + thousands(n) + after)" in script


# ------------------------------------------------------------------ size


def test_map_size_does_not_grow_with_origins(tmp_path):
    """Same units and facilities, 15 times the origins: the page barely grows."""
    coarse = study(tmp_path / "coarse", 17)
    fine = study(tmp_path / "fine", 65)
    n_coarse, n_fine = len(coarse.access), len(fine.access)
    assert n_fine > 12 * n_coarse
    size = {
        "coarse": len(build_map(coarse, basemap="none").html.encode("utf-8")),
        "fine": len(build_map(fine, basemap="none").html.encode("utf-8")),
    }
    # the page is mostly Leaflet (constant); its data grows with units, categories and
    # cells of the grid, not with origins
    assert size["fine"] < 1.1 * size["coarse"], size
    data = {
        key: len(ISLAND.findall(build_map(r, basemap="none").html)[0])
        for key, r in (("coarse", coarse), ("fine", fine))
    }
    assert data["fine"] < 2.0 * data["coarse"], data  # sub-linear: 15x the origins


# ------------------------------------------------------------------ geometry helpers


def test_cells_union_is_the_union_of_the_cells():
    """The raster-traced union equals the union of one box per cell (holes included)."""
    from lifecircle.render._mapdata import _cells_union

    rng = np.random.default_rng(5)
    filled = rng.uniform(size=(40, 30)) < 0.55
    filled[10:20, 10:20] = True
    filled[13:16, 13:16] = False  # a hole
    i, j = np.nonzero(filled)
    i0, j0, cell = 1200, -35, 60.0
    union = _cells_union(i, j, i0, j0, cell)
    x0, y0 = (i0 + i) * cell, (j0 + j) * cell
    boxes = shapely.coverage_union_all(shapely.box(x0, y0, x0 + cell, y0 + cell))
    assert union.is_valid
    assert union.area == pytest.approx(filled.sum() * cell * cell)
    assert union.symmetric_difference(boxes).area == pytest.approx(0.0, abs=1e-6)
    assert union.bounds == boxes.bounds
    single = _cells_union(np.array([0]), np.array([0]), 3, 4, 10.0)
    assert single.equals(shapely.box(30, 40, 40, 50))


def test_geometries_nest_parts_and_holes():
    """Polygons with holes, multi-parts and empty shapes keep GeoJSON's nesting."""
    from lifecircle.render._features import geometries
    from tests.test_render_map import geojson

    holed = shapely.box(0, 0, 0.001, 0.001).difference(shapely.box(0.0002, 0.0002, 0.0004, 0.0004))
    multi = shapely.MultiPolygon([holed, shapely.box(0.002, 0.002, 0.003, 0.003)])
    lines = shapely.MultiLineString([[(0, 0), (0.0001, 0.0002)], [(1, 1), (1.00001, 1), (1, 1.1)]])
    shapes_ = [holed, multi, lines, shapely.Polygon(), shapely.LineString(), shapely.Point(1, 2)]
    encoded = geometries(gpd.GeoSeries(shapes_, crs="EPSG:4326"))
    assert [len(e["delta"]) for e in encoded[:3]] == [2, 2, 2]  # rings, polygons, lines
    assert [len(p) for p in encoded[1]["delta"]] == [2, 1]  # a hole in the first part only
    assert encoded[3] == {"type": "Polygon", "delta": [[]]}
    assert encoded[4] == {"type": "LineString", "delta": []}
    assert encoded[5] == {"type": "Point", "coordinates": [1.0, 2.0]}
    for geometry, e in zip(shapes_[:3], encoded[:3], strict=True):
        decoded = shapely.geometry.shape(geojson(e))
        assert shapely.equals_exact(decoded, geometry, tolerance=1e-9)


def test_catchment_resolution_follows_the_extent(small):
    """60 m outlines for a district; across a 48 km city, the side / 400 (120 m)."""
    import dataclasses

    ctx = MapContext.of(small, lang="en", gcj02=False)
    assert ctx.catchment_cell_m == 60.0
    assert ctx.cells is ctx.cells  # the origins are assigned to cells once per map
    for spacing, cell in ((12_000.0, 60.0), (24_000.0, 120.0), (30_000.0, 150.0)):
        graph = lifecircle.grid_graph(3, 3, spacing_m=spacing, origin=(300_000.0, 3_400_000.0))
        wide = MapContext.of(dataclasses.replace(small, graph=graph), lang="en", gcj02=False)
        assert wide.catchment_cell_m == cell, spacing


# ------------------------------------------------------------------ in a browser


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_canvas_layers_show_names_as_text(browser, tmp_path):
    """A city-scale map draws its units and cells on a canvas: tooltips and popups still
    show every name as text (forced here on a small study by lowering the threshold)."""
    name = HOSTILE[0]
    result = study(tmp_path / "study", 9, name)
    page_ = build_map(result, basemap="none")
    data = dict(page_.data, canvasFrom=1)
    path = tmp_path / "map.html"
    path.write_text(_page(data, _title(MapContext.of(result, lang="en", gcj02=False)), "en"))
    page, visit = open_page(browser, path)
    open_every_tooltip(page)
    drawn = page.evaluate("""() => {
        const out = {canvas: 0, svg: 0};
        window.lcMap.eachLayer(l => {
            if (l.feature || l instanceof L.CircleMarker) {
                out[l.options.renderer && l.options.renderer._ctx ? "canvas" : "svg"] += 1;
            }
        });
        return out;
    }""")
    assert drawn["canvas"] > 0, drawn
    popups = page.evaluate("""() => {
        const texts = [];
        window.lcMap.eachLayer(l => {
            if (l.getPopup && l.getPopup() && l.feature && l.options.pane === "lc_units") {
                l.openPopup();
                texts.push(l.getPopup().getElement().innerText);
            }
        });
        return texts.join("\\n");
    }""")
    tooltips = page.locator(".leaflet-tooltip-pane").inner_text()
    assert visit.errors == [] and visit.blocked == []
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert f"{name} A" in tooltips and f"{name} A" in popups
    assert re.search(r"[\d,]+ residents not covered", tooltips)
    for pane in (".leaflet-tooltip-pane", ".leaflet-popup-pane"):
        assert page.locator(f"{pane} script").count() == 0
    page.close()
