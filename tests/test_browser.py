"""The map and the report in headless Chromium with the network blocked.

Needs Debian's ``chromium`` at /usr/bin/chromium (``.ci/run`` installs it); skipped
otherwise. Every request that is not ``file://`` is aborted and recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from lifecircle.render._style import category_colours
from lifecircle.render.map import render_map
from lifecircle.render.report import render_report
from tests.conftest import HOSTILE_FACILITY, HOSTILE_UNIT, with_hostile_names

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


@dataclass
class Visit:
    """What a page did: console errors, page errors, blocked requests."""

    errors: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser(tmp_path_factory) -> Iterator[object]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=str(CHROMIUM),
            args=ARGS,
            headless=True,
            viewport={"width": 1400, "height": 900},
        )
        yield context
        context.close()


@pytest.fixture(scope="module")
def pages(sample_result, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("browser")
    hostile = with_hostile_names(sample_result)
    return {
        "map_none": render_map(hostile, folder / "none.html", basemap="none"),
        "map_osm": render_map(sample_result, folder / "osm.html", basemap="osm"),
        "map_amap": render_map(sample_result, folder / "amap.html", lang="zh", basemap="amap"),
        "report": render_report(hostile, folder / "report.html"),
        "report_zh": render_report(sample_result, folder / "report_zh.html", lang="zh"),
    }


#: The background colour of each element, as the browser computes it.
BACKGROUNDS = "els => els.map(e => getComputedStyle(e).backgroundColor)"


def rgb(colour: str) -> str:
    """``#rrggbb`` as a browser reports a computed colour: ``rgb(r, g, b)``."""
    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({r}, {g}, {b})"


def open_page(browser, path: Path, *, tile_hosts: tuple[str, ...] = ()):
    """Open ``path`` with every non-file request aborted; return the page and its Visit."""
    visit = Visit()
    page = browser.new_page()

    def route(request_route) -> None:
        url = request_route.request.url
        if url.startswith("file://"):
            request_route.continue_()
        else:
            visit.blocked.append(url)
            request_route.abort()

    def console(message) -> None:
        # aborted tile requests log "Failed to load resource"; nothing else may fail
        if message.type == "error" and not any(
            h in message.location.get("url", "") for h in tile_hosts if h
        ):
            visit.errors.append(message.text)

    page.route("**/*", route)
    page.on("console", console)
    page.on("pageerror", lambda exc: visit.errors.append(f"page error: {exc}"))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_timeout(500)
    return page, visit


def open_every_tooltip(page) -> None:
    """Render every tooltip and popup of the map (their content is built on demand).

    Facilities hidden in a cluster are not on the map: each is put on it first.
    """
    page.evaluate("""() => {
        const map = window.lcMap;
        const groups = [];
        map.eachLayer(layer => { if (layer instanceof L.MarkerClusterGroup) groups.push(layer); });
        groups.forEach(group => group.eachLayer(m => { if (!m._map) { map.addLayer(m); } }));
        map.eachLayer(layer => {
            if (layer.getTooltip && layer.getTooltip()) { layer.openTooltip(); }
        });
        map.eachLayer(layer => {
            if (layer.getPopup && layer.getPopup() && layer.feature) { layer.openPopup(); }
        });
    }""")


def test_map_without_network(browser, pages):
    page, visit = open_page(browser, pages["map_none"])
    assert visit.errors == []
    assert visit.blocked == []  # basemap none: not a single request leaves the file
    assert page.locator("path.leaflet-interactive").count() > 100  # units, catchments, points
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert "Map data © OpenStreetMap contributors" in attribution
    assert page.locator(".leaflet-control-layers-base input").count() >= 2
    assert page.locator(".leaflet-control-layers-overlays input").count() >= 3
    assert page.locator(".lc-legend").inner_text().startswith("15-minute")
    assert page.locator(".lc-layers-head").all_inner_texts() == ["Colour units by", "Show"]
    assert "15-minute community life circle audit" in page.locator(".lc-heading").inner_text()
    # switching theme keeps drawing
    page.locator(".leaflet-control-layers-base label").nth(1).click()
    assert page.locator("path.leaflet-interactive").count() > 100
    page.close()


def test_map_hostile_names_never_run(browser, pages):
    page, visit = open_page(browser, pages["map_none"])
    open_every_tooltip(page)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    tooltips = page.locator(".leaflet-tooltip-pane").inner_text()
    assert HOSTILE_FACILITY in tooltips
    assert HOSTILE_UNIT.split("'")[0] in tooltips
    assert page.locator(".leaflet-tooltip-pane img").count() == 0
    assert page.locator(".leaflet-tooltip-pane script").count() == 0
    assert visit.errors == [] and visit.blocked == []
    page.close()


def test_map_facility_clusters(browser, pages, sample_result):
    page, visit = open_page(browser, pages["map_none"])
    icons = page.locator(".leaflet-marker-icon.marker-cluster")
    assert icons.count() > 20
    # each cluster drawn in its category's colour
    summary, std = sample_result.summary.to_json(), sample_result.standard
    colours = category_colours(std.category_ids)
    drawn = set(icons.locator("div").evaluate_all(BACKGROUNDS))
    assert drawn <= {rgb(colours[c]) for c in summary["categories_audited"]}
    assert len(drawn) > 3
    # every usable facility is in its category's group, clustered or on its own
    counts = page.evaluate("""() => {
        const map = window.lcMap;
        const out = [];
        map.eachLayer(l => {
            if (l instanceof L.MarkerClusterGroup) { out.push(l.getLayers().length); }
        });
        return out;
    }""")
    fac = sample_result.facilities
    assert counts == [
        int(((fac["category"] == c) & fac["reachable"]).sum())
        for c in summary["categories_audited"]
    ]
    # the layer control switches a category's clusters off
    bus = rgb(colours["bus_stop"])
    assert bus in drawn
    page.locator(".leaflet-control-layers-overlays label", has_text="bus stop").click()
    drawn = icons.locator("div").evaluate_all(BACKGROUNDS)
    assert drawn and bus not in drawn
    # clicking a cluster zooms in on it
    zoom = "() => window.lcMap.getZoom()"
    before = page.evaluate(zoom)
    centres = icons.evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return Math.hypot(r.x - 700, r.y - 450); })"
    )
    icons.nth(centres.index(min(centres))).click()  # the one nearest the middle of the map
    page.wait_for_timeout(800)
    assert page.evaluate(zoom) > before
    assert visit.errors == [] and visit.blocked == []
    page.close()


@pytest.mark.parametrize(
    ("name", "host"), [("map_osm", "tile.openstreetmap.org"), ("map_amap", "autonavi.com")]
)
def test_map_requests_only_tiles(browser, pages, name, host):
    page, visit = open_page(browser, pages[name], tile_hosts=(host,))
    assert visit.blocked, "the basemap should request tiles"
    assert all(host in url for url in visit.blocked), visit.blocked
    assert visit.errors == []
    assert page.locator("path.leaflet-interactive").count() > 100
    attribution = page.locator(".leaflet-control-attribution").inner_text()
    assert "Map data © OpenStreetMap contributors" in attribution
    assert ("Tiles © OpenStreetMap" if name == "map_osm" else "Tiles © AutoNavi") in attribution
    page.close()


def test_report(browser, pages, tmp_path):
    page, visit = open_page(browser, pages["report"])
    assert visit.errors == [] and visit.blocked == []
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert HOSTILE_UNIT.split("'")[0] in page.locator("#tables").inner_text()
    assert page.locator("svg.chart").count() == 4  # + the Lorenz chart
    # sorting: click "residents" twice -> descending
    table = page.locator("table.sortable").first
    header = table.locator("th").nth(2)
    header.click()
    header.click()
    values = [
        float(v)
        for v in table.locator("tbody tr td:nth-child(3)").evaluate_all(
            "cells => cells.map(c => c.dataset.v)"
        )
    ]
    assert values == sorted(values, reverse=True)
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf), format="A4")
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 50_000
    page.close()


def test_report_chinese_fonts(browser, pages):
    page, visit = open_page(browser, pages["report_zh"])
    assert visit.errors == [] and visit.blocked == []
    assert "主要结论" in page.locator("h2").first.inner_text()
    # a CJK font from the stack is available, so Chinese is not drawn as boxes
    assert page.evaluate("""() => document.fonts.check('16px "Noto Sans CJK SC"', '幼儿园')""")
    page.close()
