"""The interactive map: layers, attribution, self-containment, GCJ-02 shift, escaping.

``sample_result`` is the session fixture of ``conftest.py``, which also holds
:func:`with_hostile_names` and the hostile strings shared with the report and browser
tests.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
from pathlib import Path

import folium
import numpy as np
import pandas as pd
import pytest
import shapely
import shapely.geometry

import lifecircle
from lifecircle.io.coords import wgs84_to_gcj02
from lifecircle.render._cluster import FacilityClusters
from lifecircle.render._style import category_colours
from lifecircle.render.map import build_map, render_map
from tests.conftest import HOSTILE_CATEGORY, HOSTILE_FACILITY, HOSTILE_UNIT, with_hostile_names

MAX_MAP_BYTES = 15_000_000


@pytest.fixture(scope="module")
def hostile_result(sample_result) -> lifecircle.AuditResult:
    return with_hostile_names(sample_result)


@pytest.fixture(scope="module")
def map_files(sample_result, hostile_result, tmp_path_factory) -> dict[str, Path]:
    """Maps of the sample: en/osm, zh/amap, en/none, and the hostile one (en/none)."""
    folder = tmp_path_factory.mktemp("maps")
    return {
        "osm": render_map(sample_result, folder / "osm" / "map.html"),
        "amap": render_map(sample_result, folder / "amap" / "map.html", lang="zh",
                           basemap="amap"),
        "none": render_map(sample_result, folder / "none" / "map.html", basemap="none"),
        "hostile": render_map(hostile_result, folder / "hostile" / "map.html",
                              basemap="none"),
    }


def geojson_payloads(page: str) -> list[dict]:
    """Every GeoJSON FeatureCollection embedded in a folium page."""
    return [json.loads(m.group(1)) for m in
            re.finditer(r"_add\((\{\"features\".*?\})\);\n", page)]


def features_with(page: str, needle: str) -> list[dict]:
    """Features whose tooltip contains ``needle`` (as it is stored: escaped)."""
    return [f for data in geojson_payloads(page) for f in data["features"]
            if needle in f["properties"].get("tip", "")]


def metres(lon1, lat1, lon2, lat2) -> float:
    lat = math.radians((lat1 + lat2) / 2)
    return math.hypot(math.radians(lon2 - lon1) * 6371008.8 * math.cos(lat),
                      math.radians(lat2 - lat1) * 6371008.8)


def test_layers_and_legend(sample_result):
    fmap = build_map(sample_result, basemap="none")
    cats = sample_result.summary["categories_audited"]
    layers = [c for c in fmap._children.values() if isinstance(c, folium.map.Layer)]
    themes = [c for c in layers if not c.overlay]
    overlays = [c.layer_name for c in layers if c.overlay and c.control]
    assert len(themes) == 1 + len(cats)
    assert themes[0].layer_name.startswith("Complete life circle")
    assert [t.show for t in themes] == [True] + [False] * len(cats)
    names = sample_result.standard
    for cat in cats:
        assert any(names.category(cat).name_en in o for o in overlays)  # facilities
    assert "district boundaries" in overlays
    assert "Units not analysed" in overlays
    assert any(isinstance(c, folium.LayerControl) for c in fmap._children.values())
    page = fmap.get_root().render()
    assert "Share of residents covered" in page
    assert "Residents not covered, per 250 m cell" in page


def test_files_are_self_contained_and_small(map_files):
    for name, path in map_files.items():
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]*\bsrc=", page), name
        assert not re.search(r"<link[^>]*\bhref=", page), name
        for cdn in ("cdn.jsdelivr", "cdnjs", "code.jquery", "bootstrapcdn", "fontawesome"):
            assert cdn not in page, (name, cdn)
        assert "sourceMappingURL" not in page
        assert 't.version="1.9.4"' in page  # Leaflet is inlined
        assert path.stat().st_size < MAX_MAP_BYTES
        assert not list(path.parent.glob(".map.html*")), "temporary file left behind"


def test_facilities_are_clustered_per_category(sample_result, map_files):
    fmap = build_map(sample_result, basemap="none")
    cats = sample_result.summary["categories_audited"]
    clusters = [c for c in fmap._children.values() if isinstance(c, FacilityClusters)]
    assert len(clusters) == len(cats)  # one group per category: the layer control toggles it
    colours = category_colours(sample_result.standard.category_ids)
    fac = sample_result.facilities
    for cat, cluster in zip(cats, clusters, strict=True):
        assert sample_result.standard.category(cat).name_en in cluster.layer_name
        assert cluster.overlay and cluster.control and cluster.show
        assert json.dumps(colours[cat]) in cluster.icon_create_function  # its colour
        assert cluster.options["cluster_pane"] == "lc_facilities"
        (points,) = [c for c in cluster._children.values() if isinstance(c, folium.GeoJson)]
        assert not points.control
        assert points.marker.options["fillColor"] == colours[cat]
        usable = fac[(fac["category"] == cat) & fac["reachable"]]
        assert len(points.data["features"]) == len(usable)
    for name, path in map_files.items():
        page = path.read_text(encoding="utf-8")
        assert page.count("L.markerClusterGroup(") == len(cats), name
        assert page.count("L.MarkerClusterGroup=L.FeatureGroup.extend") == 1  # inlined once
        assert '"maxZoom": ' in page  # markercluster needs a finite deepest zoom
        assert "MarkerCluster.Default.css" not in page and "leaflet.markercluster/" not in page


def test_unused_facilities_label_gives_the_snap_distance(sample_result, map_files):
    names = [c.layer_name for c in build_map(sample_result, basemap="none")._children.values()
             if isinstance(c, folium.map.Layer)]
    assert "Facilities not used: more than 500 m from the walk network" in names
    amap = map_files["amap"].read_text(encoding="utf-8")
    assert json.dumps("未使用设施：距步行网络超过500米")[1:-1] in amap
    summary = dict(sample_result.summary)
    summary["settings"] = {**summary["settings"], "max_snap_m": 1250.0}
    fmap = build_map(dataclasses.replace(sample_result, summary=summary), basemap="none")
    names = [c.layer_name for c in fmap._children.values() if isinstance(c, folium.map.Layer)]
    assert "Facilities not used: more than 1,250 m from the walk network" in names
    assert "not used: more than 1,250 m from the walk network" in fmap.get_root().render()


def test_attribution_and_tiles(map_files):
    data_attribution = "Map data \\u00a9 OpenStreetMap contributors"
    osm = map_files["osm"].read_text(encoding="utf-8")
    amap = map_files["amap"].read_text(encoding="utf-8")
    none = map_files["none"].read_text(encoding="utf-8")
    for page in (osm, amap, none):
        assert data_attribution in page
    assert "tile.openstreetmap.org" in osm and "autonavi" not in osm
    assert "autonavi.com" in amap and "tile.openstreetmap.org" not in amap
    assert "AutoNavi" in amap
    assert "L.tileLayer(" in osm and "L.tileLayer(" not in none


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
    (osm,) = [f for f in features_with(map_files["osm"].read_text(encoding="utf-8"), needle)
              if f["geometry"]["type"] != "Point"][:1]
    (amap,) = [f for f in features_with(map_files["amap"].read_text(encoding="utf-8"), needle)
               if f["geometry"]["type"] != "Point"][:1]
    osm_xy = shapely.get_coordinates(shapely.geometry.shape(osm["geometry"]))
    amap_xy = shapely.get_coordinates(shapely.geometry.shape(amap["geometry"]))
    shifted = np.column_stack(wgs84_to_gcj02(osm_xy[:, 0], osm_xy[:, 1]))
    assert np.abs(shifted - amap_xy).max() < 2e-6  # rounding of the stored coordinates


def test_zh_labels(sample_result, map_files):
    fmap = build_map(sample_result, lang="zh", basemap="none")
    names = [c.layer_name for c in fmap._children.values() if isinstance(c, folium.map.Layer)]
    assert any("幼儿园" in n for n in names)
    assert any(n.startswith("完整生活圈") for n in names)
    page = map_files["amap"].read_text(encoding="utf-8")
    assert "\\u8986\\u76d6\\u5c45\\u6c11\\u6bd4\\u4f8b" in page  # 覆盖居民比例 in the legend


def test_hostile_names_are_escaped(map_files):
    page = map_files["hostile"].read_text(encoding="utf-8")
    tips = [f["properties"].get("tip", "") + f["properties"].get("popup", "")
            for data in geojson_payloads(page) for f in data["features"]]
    joined = "\n".join(tips)
    for hostile in (HOSTILE_FACILITY, HOSTILE_UNIT, HOSTILE_CATEGORY):
        assert hostile not in joined
        assert html.escape(hostile) in joined
        # nowhere in the page either (JSON escapes `<` as \u003c, so look for both)
        assert hostile not in page
        assert json.dumps(hostile)[1:-1].replace("<", "\\u003c") not in page


def test_bad_options_are_refused(sample_result, tmp_path):
    with pytest.raises(ValueError, match="lang"):
        render_map(sample_result, tmp_path / "m.html", lang="fr")
    with pytest.raises(ValueError, match="basemap"):
        render_map(sample_result, tmp_path / "m.html", basemap="google")
    assert not (tmp_path / "m.html").exists()
