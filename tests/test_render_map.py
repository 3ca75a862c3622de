"""The interactive map: layers, attribution, self-containment, GCJ-02 shift, escaping.

The page is a constant template, Leaflet, Leaflet.markercluster and ``map.js``
(all constant files) plus one JSON data island (``#lc-data``) that ``map.js`` turns
into layers; these tests read the island with :func:`island` and flatten its layers
into GeoJSON-like features with :func:`features`. ``sample_result`` is the session
fixture of ``conftest.py``, which also holds :func:`with_hostile_names` and the
hostile strings shared with the report and browser tests. Injection payloads in
every data field: ``test_map_injection.py``.
"""

from __future__ import annotations

import dataclasses
import html
import json
import logging
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.geometry

import lifecircle
from lifecircle.coverage import origin_indicators
from lifecircle.io.coords import wgs84_to_gcj02
from lifecircle.render._assets import fill_template
from lifecircle.render._cluster import CLUSTER_RADIUS_PX
from lifecircle.render._context import MapContext
from lifecircle.render._overlays import boundary_layer, unused_facility_layer
from lifecircle.render._style import PARTLY_COLOUR, category_colours, share_colour
from lifecircle.render._text import pct
from lifecircle.render.map import (
    MapPage,
    _heading,
    _page,
    _title,
    build_map,
    render_map,
    script_json,
)
from tests.conftest import HOSTILE_CATEGORY, HOSTILE_FACILITY, HOSTILE_UNIT, with_hostile_names

#: The sample's map was 3.7 MB when drawn by folium; it must not grow.
MAX_MAP_BYTES = 3_700_000
ISLAND = re.compile(r'<script type="application/json" id="lc-data">(.*?)</script>', re.DOTALL)


@pytest.fixture(scope="module")
def hostile_result(sample_result) -> lifecircle.AuditResult:
    return with_hostile_names(sample_result)


@pytest.fixture(scope="module")
def map_files(sample_result, hostile_result, tmp_path_factory) -> dict[str, Path]:
    """Maps of the sample: en/osm, zh/amap, en/none, and the hostile one (en/none)."""
    folder = tmp_path_factory.mktemp("maps")
    return {
        "osm": render_map(sample_result, folder / "osm" / "map.html"),
        "amap": render_map(sample_result, folder / "amap" / "map.html", lang="zh", basemap="amap"),
        "none": render_map(sample_result, folder / "none" / "map.html", basemap="none"),
        "hostile": render_map(hostile_result, folder / "hostile" / "map.html", basemap="none"),
    }


@pytest.fixture(scope="module")
def none_data(map_files) -> dict:
    return island(map_files["none"].read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- helpers


def island(page: str) -> dict:
    """The page's data island, parsed (there is exactly one)."""
    (text,) = ISLAND.findall(page)
    return json.loads(text)


def layers(data: dict) -> list[dict]:
    """Every layer of the island: themes first, then overlays."""
    return [*data["themes"], *data["overlays"]]


def geojson(geometry: dict, scale: float = 1e5) -> dict:
    """A geometry of the island as GeoJSON (lines and polygons come delta-encoded)."""
    if "delta" not in geometry:
        return geometry

    def decode(steps, depth):
        if depth:
            return [decode(s, depth - 1) for s in steps]
        xy = np.cumsum(np.asarray(steps, np.int64).reshape(-1, 2), axis=0) / scale
        return xy.tolist()

    depth = {"LineString": 0, "Polygon": 1, "MultiLineString": 1, "MultiPolygon": 2}
    return {
        "type": geometry["type"],
        "coordinates": decode(geometry["delta"], depth[geometry["type"]]),
    }


def pick(column: dict | None, i: int) -> str | None:
    """Feature ``i``'s string of a coded column (``map.js``'s ``pick``)."""
    if column is None or column["index"][i] < 0:
        return None
    return column["values"][column["index"][i]]


def render_tip(data: dict, part: dict, i: int) -> str | None:
    """Feature ``i``'s tooltip as HTML: given as such, or built as ``map.js`` builds it.

    ``map.js`` builds a compact tooltip as DOM nodes with every string as text; this
    writes the same nodes as HTML (every string escaped), so tests can read one form.
    """
    tip = part.get("tip")
    if tip is None or isinstance(tip, list):
        return None if tip is None else tip[i]
    lines = [f"<b>{html.escape(data['units']['name'][i])}</b>"] if part.get("shared") else []
    if "title" in tip:
        lines.append(f"<b>{html.escape(pick(tip['title'], i))}</b>")
    for line in tip["lines"]:
        value = pick(line["value"], i)
        if value is None:
            continue
        if "label" in line:
            lines.append(f"{html.escape(line['label'])}: <b>{html.escape(value)}</b>")
        else:
            lines.append(html.escape(value))
    return "<br>".join(lines)


def render_popup(popups, i: int) -> str | None:
    """Feature ``i``'s popup as HTML: given as such, or built from a popup table."""
    if popups is None or isinstance(popups, list):
        return None if popups is None else popups[i]
    note = pick(popups["note"], i)
    body = "".join(
        f"<tr><th>{row['label']}</th><td>"
        + (f"<b>{html.escape(v)}</b>" if popups["strong"][i] == r else html.escape(v))
        + "</td></tr>"
        for r, row in enumerate(popups["rows"])
        if (v := pick(row["value"], i)) is not None
    )
    return (
        f'<div class="lc-popup"><h4>{html.escape(pick(popups["title"], i))}</h4>'
        f'<div class="lc-sub">{html.escape(pick(popups["sub"], i))}</div>'
        + ("" if note is None else f'<div class="lc-partly">{html.escape(note)}</div>')
        + f"<table>{body}</table></div>"
    )


def fill_of(part: dict, i: int) -> str:
    fill = part["fill"]
    return pick(fill, i) if isinstance(fill, dict) else fill[i]


def part_features(data: dict, part: dict) -> list[dict]:
    """The features of one part of a layer, as GeoJSON-like dicts."""
    scale = data.get("delta", 1e6)
    if part["kind"] == "shapes":
        shared = part.get("shared", False)
        geometry = [
            geojson(g, scale) for g in (data["units"]["geometry"] if shared else part["geometry"])
        ]
        popups = part.get("popup") or (data["units"]["popup"] if shared else None)
        props = [
            {
                "tip": render_tip(data, part, i),
                "fill": fill_of(part, i) if "fill" in part else None,
                "popup": render_popup(popups, i),
            }
            for i in range(len(geometry))
        ]
    elif part["kind"] == "cells":
        xy = geojson({"type": "LineString", "delta": data["cells"]["xy"]}, scale)["coordinates"]
        before, after = part["tip"]
        keep = [i for i, n in enumerate(part["count"]) if n > 0]
        geometry = [{"type": "Point", "coordinates": xy[i]} for i in keep]
        props = [
            {"tip": f"{before}{part['count'][i]:,}{after}", "count": part["count"][i]} for i in keep
        ]
    else:
        geometry = [{"type": "Point", "coordinates": xy} for xy in part["xy"]]
        columns = {key: part.get(key) for key in ("popup", "rank", "radius")}
        if isinstance(part.get("colour"), list):
            columns["colour"] = part["colour"]
        props = [
            {k: v[i] for k, v in columns.items() if v is not None}
            | {"tip": render_tip(data, part, i)}
            for i in range(len(geometry))
        ]
    return [
        {
            "type": "Feature",
            "kind": part["kind"],
            "geometry": g,
            "properties": {k: v for k, v in p.items() if v is not None},
        }
        for g, p in zip(geometry, props, strict=True)
    ]


def features(data: dict) -> list[dict]:
    """Every feature of every layer of the island."""
    return [
        f for layer in layers(data) for part in layer["parts"] for f in part_features(data, part)
    ]


def service_themes(result) -> list[str]:
    """The fair-service themes' columns: cohort coverage, then share with a place."""
    service = result.summary.fair_service
    return [f"cohort_cov_{c}" for c, s in service.items() if s.cohort != "all"] + [
        f"placed_{c}" for c, s in service.items() if s.capacity_from != "none"
    ]


def features_with(page: str, needle: str) -> list[dict]:
    """Features whose tooltip contains ``needle`` (as it is stored: escaped)."""
    return [f for f in features(island(page)) if needle in f["properties"].get("tip", "")]


def theme_text(theme: dict) -> str:
    """A theme's name as plain text (layer names are HTML)."""
    return html.unescape(theme["name"])


def layer_named(data: dict, needle: str) -> dict:
    (layer,) = [lay for lay in layers(data) if needle in lay["name"]]
    return layer


def metres(lon1, lat1, lon2, lat2) -> float:
    lat = math.radians((lat1 + lat2) / 2)
    return math.hypot(
        math.radians(lon2 - lon1) * 6371008.8 * math.cos(lat), math.radians(lat2 - lat1) * 6371008.8
    )


# --------------------------------------------------------------------------- the page


def test_layers_and_legend(sample_result, none_data):
    data = none_data
    cats = sample_result.summary.to_json()["categories_audited"]
    themes = data["themes"]
    overlays = [lay["name"] for lay in data["overlays"]]
    # the sample has no elderly care nor community service: complete life circles are
    # not computed, so the map has no theme claiming them (one theme per category, then
    # the fair-service themes: see test_render_fair.py)
    assert len(themes) == len(cats) + len(service_themes(sample_result))
    assert not any(t["name"].startswith("Complete life circle") for t in themes)
    assert themes[0]["name"].startswith("kindergarten within")
    assert [t["show"] for t in themes] == [True] + [False] * (len(themes) - 1)
    names = sample_result.standard
    for cat in cats:
        assert any(names.category(cat).name_en in o for o in overlays)  # facilities
    assert "district boundaries" in overlays
    assert "Units not analysed" in overlays
    assert "Share of residents covered" in data["legend"]
    assert "Residents not covered, per 250 m cell" in data["legend"]
    assert data["control"] == {"base": "Colour units by", "overlays": "Show"}
    # every theme colours the analysed finest units (their outlines are shared once)
    analysed = sample_result.units["street"].query("analysed")
    units = data["units"]
    assert len(units["geometry"]) == len(units["name"]) == len(analysed)
    assert len(units["popup"]["title"]["index"]) == len(units["popup"]["strong"]) == len(analysed)
    for theme in themes:
        unit_part = theme["parts"][0]
        assert unit_part["shared"] and unit_part["pane"] == "lc_units"
        assert len(unit_part["fill"]["index"]) == len(analysed)
        for line in unit_part["tip"]["lines"]:
            assert len(line["value"]["index"]) == len(analysed)
    # panes keep the drawing order
    assert [p for p, _ in sorted(data["panes"], key=lambda p: p[1])] == [
        "lc_units",
        "lc_catchments",
        "lc_uncovered",
        "lc_boundaries",
        "lc_facilities",
    ]


def test_theme_figures_are_the_units(sample_result, none_data):
    """Each unit's fill and tooltip carry its own coverage (hand-checked per unit)."""
    units = sample_result.units["street"].query("analysed").reset_index(drop=True)
    cats = sample_result.summary.to_json()["categories_audited"]
    category_themes = none_data["themes"][: len(cats)]
    for theme, column in zip(category_themes, [f"cov_{c}" for c in cats], strict=True):
        part = theme["parts"][0]
        for i, row in units.iterrows():
            assert fill_of(part, i) == share_colour(row[column])
            tip = render_tip(none_data, part, i)
            assert tip.startswith(f"<b>{html.escape(row['name'])}</b><br>")
            assert f"{html.escape(theme_text(theme))}: <b>{pct(row[column])}</b>" in tip
    # the residents left uncovered by a theme add up to the audit's figures (within
    # the residents of the analysed units)
    access = sample_result.access
    cov = origin_indicators(access, sample_result.standard, cats)
    pop = access["population"].to_numpy(float)
    theme = none_data["themes"][0]  # the first category (no complete theme on the sample)
    (cells,) = [p for p in theme["parts"] if p["kind"] == "cells"]
    counts = cells["count"]
    assert len(counts) == len(none_data["cells"]["xy"]) // 2  # one count per shared cell
    expected = (pop * (1 - cov[f"cov_{cats[0]}"].to_numpy(float))).sum()
    assert sum(counts) == pytest.approx(expected, abs=len(counts) / 2)  # each count is rounded
    tips = [f["properties"]["tip"] for f in part_features(none_data, cells)]
    assert len(tips) == sum(n > 0 for n in counts)
    assert all(re.fullmatch(r"[\d,]+ residents not covered", t) for t in tips)


def test_files_are_self_contained_and_small(map_files):
    for name, path in map_files.items():
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]*\bsrc=", page), name
        assert not re.search(r"<link[^>]*\bhref=", page), name
        for cdn in ("cdn.jsdelivr", "cdnjs", "code.jquery", "bootstrapcdn", "fontawesome"):
            assert cdn not in page, (name, cdn)
        assert "sourceMappingURL" not in page
        assert 't.version="1.9.4"' in page  # Leaflet is inlined
        assert "L.MarkerClusterGroup=L.FeatureGroup.extend" in page  # and markercluster
        assert page.count("<script") == 4  # the island, Leaflet, markercluster, map.js
        assert len(ISLAND.findall(page)) == 1
        assert path.stat().st_size < MAX_MAP_BYTES, (name, path.stat().st_size)
        assert not list(path.parent.glob(".map.html*")), "temporary file left behind"


def test_same_inputs_same_bytes(sample_result, map_files, tmp_path):
    again = render_map(sample_result, tmp_path / "map.html", basemap="none")
    assert again.read_bytes() == map_files["none"].read_bytes()
    assert "urandom" not in again.read_text(encoding="utf-8")


def test_facilities_are_clustered_per_category(sample_result, none_data, map_files):
    cats = sample_result.summary.to_json()["categories_audited"]
    groups = [
        lay for lay in none_data["overlays"] if any(p["kind"] == "clusters" for p in lay["parts"])
    ]
    assert len(groups) == len(cats)  # one group per category: the layer control toggles it
    colours = category_colours(sample_result.standard.category_ids)
    fac = sample_result.facilities
    for cat, group in zip(cats, groups, strict=True):
        assert sample_result.standard.category(cat).name_en in group["name"]
        assert group["show"]
        (part,) = group["parts"]
        assert part["colour"] == colours[cat] == part["style"]["fillColor"]
        assert part["pane"] == "lc_facilities" and part["radiusPx"] == CLUSTER_RADIUS_PX
        usable = fac[(fac["category"] == cat) & fac["reachable"]]
        assert len(part["xy"]) == len(part["tip"]["title"]["index"]) == len(usable)
    for path in map_files.values():
        page = path.read_text(encoding="utf-8")
        assert page.count("L.MarkerClusterGroup=L.FeatureGroup.extend") == 1  # inlined once
        assert island(page)["maxZoom"] in (18, 19)  # markercluster needs a finite zoom
        assert "MarkerCluster.Default.css" not in page and "leaflet.markercluster/" not in page


def test_unused_facilities_label_gives_the_snap_distance(sample_result, none_data, map_files):
    names = [lay["name"] for lay in none_data["overlays"]]
    assert "Facilities not used: more than 500 m from the walk network" in names
    unused = layer_named(none_data, "Facilities not used")
    assert not unused["show"]
    fac = sample_result.facilities
    (part,) = unused["parts"]
    assert 0 < len(part["xy"]) <= int((~fac["reachable"]).sum())
    amap = island(map_files["amap"].read_text(encoding="utf-8"))
    assert any(lay["name"] == "未使用设施：距步行网络超过500米" for lay in amap["overlays"])
    summary = dataclasses.replace(
        sample_result.summary,
        settings=dataclasses.replace(sample_result.summary.settings, max_snap_m=1250.0),
    )
    ctx = MapContext.of(dataclasses.replace(sample_result, summary=summary), lang="en", gcj02=False)
    layer = unused_facility_layer(ctx, fac[~fac["reachable"]])
    assert layer["name"] == "Facilities not used: more than 1,250 m from the walk network"
    assert all(
        "not used: more than 1,250 m from the walk network" in t for t in layer["parts"][0]["tip"]
    )


def test_attribution_and_tiles(map_files):
    data = {
        name: island(map_files[name].read_text(encoding="utf-8"))
        for name in ("osm", "amap", "none")
    }
    for d in data.values():
        assert "Map data © OpenStreetMap contributors" in d["attribution"]
    assert data["osm"]["tiles"]["url"].startswith("https://tile.openstreetmap.org/")
    assert data["osm"]["tiles"]["maxZoom"] == data["osm"]["maxZoom"] == 19
    assert "autonavi.com" in data["amap"]["tiles"]["url"]
    assert "AutoNavi" in data["amap"]["tiles"]["attribution"]
    assert data["amap"]["maxZoom"] == 18
    assert data["none"]["tiles"] is None
    osm = map_files["osm"].read_text(encoding="utf-8")
    assert "autonavi" not in osm
    assert "tile.openstreetmap.org" not in map_files["amap"].read_text(encoding="utf-8")


def _point_facility(result) -> pd.Series:
    fac = result.facilities
    points = fac[fac["reachable"] & (fac.geom_type == "Point") & fac["name"].notna()]
    unique = points[~points["name"].duplicated(keep=False)]
    return unique.iloc[0]


def test_amap_overlays_are_shifted_to_gcj02(sample_result, map_files):
    facility = _point_facility(sample_result)
    lon, lat = facility.geometry.x, facility.geometry.y
    needle = f"<b>{html.escape(facility['name'])}</b>"
    for basemap, expected in (("amap", wgs84_to_gcj02(lon, lat)), ("osm", (lon, lat))):
        page = map_files[basemap].read_text(encoding="utf-8")
        (feature,) = features_with(page, needle)
        got = feature["geometry"]["coordinates"]
        assert metres(*got, *map(float, expected)) < 0.5, basemap
    # polygons too: every vertex of a unit outline is shifted
    unit = sample_result.units["street"].query("analysed").iloc[0]
    needle = f"<b>{html.escape(unit['name'])}</b>"
    (osm,) = [
        f
        for f in features_with(map_files["osm"].read_text(encoding="utf-8"), needle)
        if f["geometry"]["type"] != "Point"
    ][:1]
    (amap,) = [
        f
        for f in features_with(map_files["amap"].read_text(encoding="utf-8"), needle)
        if f["geometry"]["type"] != "Point"
    ][:1]
    osm_xy = shapely.get_coordinates(shapely.geometry.shape(osm["geometry"]))
    amap_xy = shapely.get_coordinates(shapely.geometry.shape(amap["geometry"]))
    shifted = np.column_stack(wgs84_to_gcj02(osm_xy[:, 0], osm_xy[:, 1]))
    assert np.abs(shifted - amap_xy).max() < 1.1e-5  # outlines are written in 1e-5 degree
    # and the view fits the analysed units
    data = island(map_files["osm"].read_text(encoding="utf-8"))
    (south, west), (north, east) = data["bounds"]
    bounds = sample_result.units["street"].query("analysed").total_bounds
    assert np.allclose([west, south, east, north], bounds, atol=5e-4)


def test_zh_labels(map_files):
    page = map_files["amap"].read_text(encoding="utf-8")
    data = island(page)
    names = [lay["name"] for lay in layers(data)]
    assert any("幼儿园" in n for n in names)
    assert not any(n.startswith("完整生活圈") for n in names)  # not computed on the sample
    assert any(n.endswith("分钟内可达幼儿园") for n in names)
    assert "覆盖居民比例" in data["legend"]
    assert data["control"] == {"base": "单元着色", "overlays": "显示"}
    assert '<html lang="zh">' in page
    assert "15分钟社区生活圈评估" in page.split("</title>")[0]


def test_partly_analysed_units_are_flagged(sample_result, none_data):
    """A district with 7 of its 10 streets analysed says so, in its own style."""
    districts = sample_result.units["district"]
    shown = districts[districts["units_analysed"] > 0].reset_index(drop=True)
    layer = layer_named(none_data, "district boundaries")
    (part,) = layer["parts"]
    assert part["styles"][1]["color"] == PARTLY_COLOUR != part["styles"][0]["color"]
    checked = 0
    for i, row in shown.iterrows():
        done, total = int(row["units_analysed"]), int(row["units_total"])
        message = f"{done} of {total} streets / towns analysed"
        assert part["style_of"][i] == int(done < total)
        assert (message in part["tip"][i]) == (done < total)
        assert (message in render_popup(part["popup"], i)) == (done < total)
        checked += done < total
    assert checked >= 1  # 黄浦区: 7 of 10 in the sample
    assert "Partly analysed" in none_data["legend"]
    # a district with every street analysed is drawn plainly
    full = {level: frame.copy() for level, frame in sample_result.units.items()}
    full["district"]["units_total"] = full["district"]["units_analysed"]
    ctx = MapContext.of(dataclasses.replace(sample_result, units=full), lang="en", gcj02=False)
    (part,) = boundary_layer(ctx, "district")["parts"]
    assert set(part["style_of"]) == {0}
    popups = [render_popup(part["popup"], i) for i in range(len(part["tip"]))]
    assert "streets / towns analysed" not in "".join(part["tip"] + popups)


def test_title_and_heading(sample_result):
    def context(lang: str, **study) -> MapContext:
        given = {"name": None, "area_km2": None} | study
        summary = dataclasses.replace(
            sample_result.summary,
            study=dataclasses.replace(sample_result.summary.study, **given),
        )
        return MapContext.of(
            dataclasses.replace(sample_result, summary=summary), lang=lang, gcj02=False
        )

    ctx = context("en", name="Xuhui <b>pilot</b> & co", area_km2=12.345)
    assert _heading(ctx) == {
        "title": "Xuhui <b>pilot</b> & co",  # drawn as text by map.js
        "sub": "12.3 km² · 15-minute community life circle audit",
    }
    page = _page({}, _title(ctx), "en")
    assert (
        "<title>Xuhui &lt;b&gt;pilot&lt;/b&gt; &amp; co · 12.3 km² · "
        "15-minute community life circle audit</title>"
    ) in page
    ctx = context("zh")
    assert _heading(ctx) == {"title": "15分钟社区生活圈评估", "sub": None}
    assert "<title>15分钟社区生活圈评估</title>" in _page({}, _title(ctx), "zh")
    ctx = context("zh", area_km2="n/a", name="  ")
    assert _heading(ctx) == {"title": "15分钟社区生活圈评估", "sub": None}
    ctx = context("en", area_km2=3.04)
    assert _heading(ctx) == {"title": "15-minute community life circle audit", "sub": "3.0 km²"}
    assert _title(ctx) == "3.0 km² · 15-minute community life circle audit"


def test_hostile_names_are_escaped(map_files):
    page = map_files["hostile"].read_text(encoding="utf-8")
    data = island(page)
    texts = [
        f["properties"].get("tip", "") + f["properties"].get("popup", "") for f in features(data)
    ] + [lay["name"] for lay in layers(data)]
    joined = "\n".join(texts)
    for hostile in (HOSTILE_FACILITY, HOSTILE_UNIT, HOSTILE_CATEGORY):
        assert hostile not in joined
        assert html.escape(hostile) in joined
        # nowhere in the page either, raw or as JSON would write it unescaped
        assert hostile not in page
        assert json.dumps(hostile)[1:-1] not in page


def test_script_json_cannot_end_the_script():
    value = {"a</script><!--": "</SCRIPT>\u2028\u2029&<>'\"", "n": [1.5, None, True]}
    out = script_json(value)
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in out
    assert json.loads(out) == value
    with pytest.raises(ValueError):
        script_json({"x": float("nan")})
    # a lone surrogate cannot be written as UTF-8: everything is escaped instead
    assert json.loads(script_json("\ud800 城")) == "\ud800 城"
    script_json("\ud800").encode("utf-8")


def test_geometries_are_delta_encoded():
    """Integer steps of 1e-5 degree, checked by hand, and decoded back exactly."""
    import geopandas as gpd

    from lifecircle.render._features import geometries

    square = shapely.Polygon(
        [(121.47382, 31.2), (121.47392, 31.2), (121.47392, 31.20001), (121.47382, 31.2)]
    )
    line = shapely.LineString([(1.5, 2.0), (1.49999, 2.00002)])
    point = shapely.Point(1.0, 2.0)
    encoded = geometries(gpd.GeoSeries([square, line, point], crs="EPSG:4326"))
    assert encoded[0] == {
        "type": "Polygon",
        "delta": [[12147382, 3120000, 10, 0, 0, 1, -10, -1]],
    }
    assert encoded[1] == {"type": "LineString", "delta": [150000, 200000, -1, 2]}
    assert encoded[2] == {"type": "Point", "coordinates": [1.0, 2.0]}
    for geometry, encoded_geometry in zip((square, line, point), encoded, strict=True):
        decoded = shapely.geometry.shape(geojson(encoded_geometry))
        assert shapely.equals_exact(decoded, geometry, tolerance=0)


def test_template_slots_are_filled_once():
    """A value holding a slot marker is not filled in again: values are never parsed."""
    values = {
        slot: f"<!--lc:{slot}-->"
        for slot in (
            "lang",
            "title",
            "leaflet_css",
            "markercluster_css",
            "map_css",
            "data",
            "leaflet_js",
            "markercluster_js",
            "map_js",
        )
    }
    values["title"] = "<!--lc:data-->{{ 7*191 }}"
    page = fill_template("map.html", values)
    assert "<title><!--lc:data-->{{ 7*191 }}</title>" in page
    assert "1337" not in page
    with pytest.raises(KeyError):
        fill_template("map.html", {"title": "x"})


def test_build_map_returns_a_page(sample_result, tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="lifecircle.render"):
        page = build_map(sample_result, basemap="none")
    assert isinstance(page, MapPage)
    messages = [r.getMessage() for r in caplog.records]
    n = len(sample_result.summary.categories_audited)  # no complete theme on the sample
    assert f"map: theme 1 of {n} (kindergarten: catchment, residents not covered)" in messages
    assert any(m.startswith(f"map: theme {n} of {n}") for m in messages)
    frame = page._repr_html_()
    assert frame.startswith("<iframe ") and "srcdoc=" in frame
    assert "<script" not in frame  # the page is an escaped attribute value
    assert html.unescape(frame.split('srcdoc="')[1].rsplit('"', 1)[0]) == page.html
    assert page.save(tmp_path / "m.html").read_text(encoding="utf-8") == page.html


def test_bad_options_are_refused(sample_result, tmp_path):
    with pytest.raises(ValueError, match="lang"):
        render_map(sample_result, tmp_path / "m.html", lang="fr")
    with pytest.raises(ValueError, match="basemap"):
        render_map(sample_result, tmp_path / "m.html", basemap="google")
    assert not (tmp_path / "m.html").exists()


def test_the_complete_life_circle_theme_comes_first_when_computed(tmp_path):
    """With every mandatory category audited, the map opens on complete life circles."""
    import dataclasses

    from .test_map_injection import tiny_study

    result = tiny_study(tmp_path / "study", "plain")
    std = result.standard
    kept = tuple(c for c in std.categories if c.id in ("kindergarten", "park"))
    result = lifecircle.audit(
        tmp_path / "study" / "grid.osm",
        [tmp_path / "study" / "facilities.csv"],
        tmp_path / "study" / "units.geojson",
        tmp_path / "study" / "population.geojson",
        standard=dataclasses.replace(std, categories=kept),
        keep_edge_units=True,
    )
    assert result.summary.to_json()["complete_share"] is not None
    themes = build_map(result, basemap="none").data["themes"]
    assert themes[0]["name"].startswith("Complete life circle") and themes[0]["show"]
    audited = result.summary.to_json()["categories_audited"]
    assert len(themes) == 1 + len(audited) + len(service_themes(result))


def test_catchment_outline_is_valid_polygons_around_the_reached_streets():
    import geopandas as gpd
    import shapely

    from lifecircle.render._mapdata import _polygonal, catchment

    g = lifecircle.grid_graph(40, 40, spacing_m=80.0, origin=(300_000.0, 3_400_000.0))
    xy = [(300_000.0 + 80 * 5, 3_400_000.0 + 80 * 5), (300_000.0 + 80 * 30, 3_400_000.0 + 80 * 30)]
    fac = gpd.GeoDataFrame(geometry=gpd.points_from_xy(*zip(*xy, strict=True)), crs=g.crs)
    area = catchment(g, fac, 400.0, cell_m=50.0, rule="node", max_snap_m=100.0).iloc[0]
    assert isinstance(area, shapely.MultiPolygon) and shapely.is_valid(area)
    # two diamonds of 400 m walking radius (2 x 2 x 400^2 = 0.64 km2), drawn as the 50 m cells
    # the reached streets pass through: block interiors the streets miss are holes
    assert 0.3e6 < area.area < 0.64e6 + 0.2e6
    assert sum(len(p.interiors) for p in area.geoms) > 10
    assert area.intersects(shapely.Point(xy[0])) and area.intersects(shapely.Point(xy[1]))
    assert not area.intersects(shapely.Point(300_000.0 + 80 * 18, 3_400_000.0 + 80 * 18))
    # make_valid's stray lines and points are dropped
    stray = shapely.LineString([(2, 2), (3, 3)])
    mixed = shapely.GeometryCollection([shapely.box(0, 0, 1, 1), stray])
    assert _polygonal(mixed).equals(shapely.box(0, 0, 1, 1))
    assert _polygonal(shapely.LineString([(0, 0), (1, 1)])).is_empty
