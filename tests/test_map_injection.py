"""No data string ever becomes template or script source in map.html.

A tiny study (a 9 x 9 street grid, two streets in one district, a kindergarten and
two parks) is audited once per payload, with the payload in every data-bearing
field the map shows: the study's name, the facilities' names, a category's name
and its cohort's name (in a custom standard, English and Chinese), the units' ids and
names, the parent unit's name and the population method. The page must render, show the payload as
text, and run nothing of it: the Jinja payloads must not be evaluated (``1337``,
``xxx``), the script payloads must not run (``window.__pwned``, dialogs), and
everything outside the data island and the ``<title>`` must be the same bytes as
for a harmless name.
"""

from __future__ import annotations

import csv
import dataclasses
import html
import io
import json
import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

import lifecircle
from lifecircle.render.map import build_map
from tests.conftest import LAT0, LON0, osm_grid
from tests.test_browser import CHROMIUM, open_every_tooltip, open_page
from tests.test_browser import browser as browser  # the shared fixture
from tests.test_render_map import ISLAND, features, island

PAYLOADS = [
    "{{ 7*191 }}",
    "{% for x in range(3) %}x{% endfor %}",
    "{#",
    "便利店 {#1 号店",
    "</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("x")',
    "</script><script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=2">',
    "<!--<script>window.__pwned=3</script>",
    "a\u2028</SCRIPT>\u2029&amp;",
]
HARMLESS = "plain name"
CAT = "kindergarten"
STEP = 0.001  # grid spacing in degrees (about 95 m x 111 m)

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)


def box(c0: float, r0: float, c1: float, r1: float) -> shapely.Polygon:
    return shapely.box(LON0 + c0 * STEP, LAT0 + r0 * STEP, LON0 + c1 * STEP, LAT0 + r1 * STEP)


def tiny_study(folder: Path, payload: str) -> lifecircle.AuditResult:
    """The tiny study with ``payload`` in every data field the map shows."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grid.osm").write_text(osm_grid(n=9, step_deg=STEP), encoding="utf-8")
    buf = io.StringIO()
    rows = csv.writer(buf)
    rows.writerow(["lon", "lat", "category", "name"])
    rows.writerow([LON0 + 2.5 * STEP, LAT0 + 2.5 * STEP, CAT, payload])
    rows.writerow([LON0 + 6.2 * STEP, LAT0 + 5.1 * STEP, "park", payload])
    rows.writerow([LON0 + 60 * STEP, LAT0 + 60 * STEP, "park", payload])  # too far: unused
    (folder / "facilities.csv").write_text(buf.getvalue(), encoding="utf-8")
    gpd.GeoDataFrame(
        {
            "unit_id": [f"{payload}-D", f"{payload}-A", f"{payload}-B"],
            "name": [f"{payload} D", f"{payload} A", f"{payload} B"],
            "parent_id": [None, f"{payload}-D", f"{payload}-D"],
        },
        geometry=[box(0, 0, 8, 8), box(0, 0, 4, 8), box(4, 0, 8, 8)],
        crs="EPSG:4326",
    ).to_file(folder / "units.geojson", driver="GeoJSON")
    gpd.GeoDataFrame(
        {"population": [1000.0, 2000.0], "population_method": [payload] * 2},
        geometry=[box(0, 0, 4, 8), box(4, 0, 8, 8)],
        crs="EPSG:4326",
    ).to_file(folder / "population.geojson", driver="GeoJSON")
    std = lifecircle.load_standard("gb50180-2018")
    categories = tuple(
        dataclasses.replace(c, name_en=payload, name_zh=payload) if c.id == CAT else c
        for c in std.categories
    )
    cohort = std.cohort_of(CAT)  # the kindergarten's cohort: its name reaches the map too
    cohorts = {
        **std.cohorts,
        cohort.id: dataclasses.replace(cohort, name_en=payload, name_zh=payload),
    }
    return lifecircle.audit(
        folder / "grid.osm",
        [folder / "facilities.csv"],
        folder / "units.geojson",
        folder / "population.geojson",
        standard=dataclasses.replace(std, categories=categories, cohorts=cohorts),
        keep_edge_units=True,
        name=payload,
    )


def skeleton(page: str) -> str:
    """The page without the data island and the title: what no data may reach."""
    page = ISLAND.sub('<script type="application/json" id="lc-data"></script>', page)
    return re.sub(r"<title>.*?</title>", "<title></title>", page, flags=re.DOTALL)


def strings(value) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


@pytest.fixture(scope="module")
def harmless(tmp_path_factory) -> dict[str, str]:
    result = tiny_study(tmp_path_factory.mktemp("harmless"), HARMLESS)
    return {lang: build_map(result, lang=lang, basemap="none").html for lang in ("en", "zh")}


@pytest.fixture(scope="module", params=range(len(PAYLOADS)), ids=lambda i: f"payload{i}")
def hostile(request, tmp_path_factory) -> tuple[str, lifecircle.AuditResult]:
    payload = PAYLOADS[request.param]
    return payload, tiny_study(tmp_path_factory.mktemp("hostile"), payload)


def test_the_study_is_what_the_tests_expect(hostile):
    payload, result = hostile
    assert result.summary.to_json()["study"]["name"] == payload
    assert result.summary.to_json()["categories_audited"] == [CAT, "park"]
    fac = result.facilities
    assert list(fac["name"]) == [payload] * 3 and int(fac["reachable"].sum()) == 2
    district, streets = (result.units[level] for level in result.summary.units.levels)
    assert list(district["name"]) == [f"{payload} D"]
    assert list(streets["unit_id"]) == [f"{payload}-A", f"{payload}-B"]
    assert streets["analysed"].all() and (streets["population_method"] == payload).all()


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_payloads_stay_data(hostile, harmless, lang):
    payload, result = hostile
    page = build_map(result, lang=lang, basemap="none")
    # data reaches the page only through the island and the (escaped) title
    assert skeleton(page.html) == skeleton(harmless[lang])
    assert (
        re.search(r"<title>(.*?)</title>", page.html)
        .group(1)
        .startswith(html.escape(payload, quote=True) + " · ")
    )
    # nothing was evaluated: numbers in the page are those of the harmless page
    for evaluated in ("1337", "xxx"):
        assert page.html.count(evaluated) == harmless[lang].count(evaluated)
        assert not any(evaluated in s for s in strings(page.data))
    # the island holds the data as it is, escaped once where it is HTML
    data = island(page.html)
    assert data == json.loads(json.dumps(page.data))
    assert data["heading"]["title"] == payload  # shown as text by map.js
    tips = "\n".join(
        f["properties"].get("tip", "") + f["properties"].get("popup", "") for f in features(data)
    )
    names = "\n".join(lay["name"] for lay in [*data["themes"], *data["overlays"]])
    escaped = html.escape(payload, quote=True)
    for needle in (
        f"<b>{escaped}</b>",  # facility
        f"<b>{escaped} A</b>",  # unit
        f"<b>{escaped} D</b>",  # parent unit
        f"{escaped}-A</div>",  # unit id
        f"<td>{escaped}</td>",
    ):  # population method
        assert needle in tips, needle
    assert escaped in names  # category
    # the kindergarten's cohort: in the fair-service theme's name and the shared popup
    if lang == "en":
        assert f"{escaped}: {escaped} within" in names
        assert f"<th>{escaped}: {escaped}</th>" in tips
    else:
        assert f"可达{escaped}的{escaped}" in names
        assert f"<th>{escaped}：{escaped}</th>" in tips
    if escaped != payload:
        assert payload not in tips and payload not in names
    # nothing in the island can end the script element
    (text,) = ISLAND.findall(page.html)
    assert not re.search(r"[<>&\u2028\u2029]", text)


@needs_chromium
def test_payloads_show_as_text_and_never_run(browser, hostile, tmp_path):
    payload, result = hostile
    path = build_map(result, basemap="none").save(tmp_path / "map.html")
    page, visit = open_page(browser, path)
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    open_every_tooltip(page)
    popups = page.evaluate("""() => {
        const texts = [];
        window.lcMap.eachLayer(layer => {
            if (layer.getPopup && layer.getPopup() && layer.feature) {
                layer.openPopup();
                texts.push(document.querySelector(".leaflet-popup-content").innerText);
            }
        });
        return texts.join("\\n");
    }""")
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    assert visit.errors == [] and visit.blocked == []
    assert page.title().startswith(payload + " · ")
    assert page.locator(".lc-heading h1").inner_text() == payload
    tooltips = page.locator(".leaflet-tooltip-pane").inner_text()
    control = page.locator(".leaflet-control-layers").inner_text()
    for needle, where in (
        (payload, tooltips),  # facility
        (f"{payload} A", tooltips),  # unit
        (f"{payload} D", tooltips),  # parent unit
        (f"{payload}-A", popups),  # unit id
        (f"{payload} D", popups),
        (payload, control),
    ):  # category
        assert needle in where, (needle, where[:300])
    for pane in (".leaflet-tooltip-pane", ".leaflet-popup-pane", ".leaflet-control-container"):
        assert page.locator(f"{pane} img").count() == 0
        assert page.locator(f"{pane} script").count() == 0
    assert page.locator("script").count() == 4
    page.close()
