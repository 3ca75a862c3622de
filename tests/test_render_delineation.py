"""The life-circle units page (``delineation.html``): map island, report, escaping, size.

A hand-made :class:`~lifecircle.delineate.Delineation`: two governance units (streets)
side by side, G1 (4,000 residents) split into two life-circle units U1 and U2 of
2,000 each (both within the 1,000-3,000 range), and G2 (800 residents) matched by one
unit U3, below the range. Four blocks: two in U1, one in each of U2 and U3.
The range is unverified and the solver stopped at its time limit with a 1.25% gap.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from lifecircle.config import PopulationRange
from lifecircle.delineate import Delineation
from lifecircle.partition import Partition, RangeReason
from lifecircle.render._delineation_map import RANGE_COLOURS
from lifecircle.render.delineation import build_delineation_html, write_delineation_html
from tests.conftest import HOSTILE_UNIT
from tests.test_browser import CHROMIUM
from tests.test_browser import browser as browser  # the shared fixture

ISLAND = re.compile(r'<script type="application/json" id="lc-data">(.*?)</script>', re.DOTALL)
LON0, LAT0, STEP = 121.40, 31.20, 0.01
MAX_BYTES = 2_000_000

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)


def box(c0: float, c1: float) -> shapely.Polygon:
    return shapely.box(LON0 + c0 * STEP, LAT0, LON0 + c1 * STEP, LAT0 + STEP)


def delineation(*, unit_name: str = "Huaxin 1", verified: bool = False) -> Delineation:
    """G1 = [0, 2] split into U1 = [0, 1] and U2 = [1, 2]; G2 = [2, 3] matched by U3."""
    crs = "EPSG:4326"
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["U1", "U2", "U3"],
            "name": [unit_name, "Huaxin 2", "Xujing"],
            "parent_id": ["G1", "G1", "G2"],
            "level": "15min",
            "population": [2000.0, 2000.0, 800.0],
            "area_km2": [0.95, 0.95, 0.95],
            "blocks": [2, 1, 1],
            "centre_lon": [LON0 + 0.5 * STEP, LON0 + 1.5 * STEP, LON0 + 2.5 * STEP],
            "centre_lat": [LAT0 + 0.5 * STEP] * 3,
            "mean_walk_min": [4.25, 3.5, np.nan],
            "max_walk_min": [7.75, 3.5, np.nan],
            "in_range": [True, True, False],
        },
        geometry=[box(0, 1), box(1, 2), box(2, 3)],
        crs=crs,
    )
    blocks = gpd.GeoDataFrame(
        {
            "block_id": ["B1", "B2", "B3", "B4"],
            "unit_id": ["U1", "U1", "U2", "U3"],
            "parent_id": ["G1", "G1", "G1", "G2"],
            "population": [1200.0, 800.0, 2000.0, 800.0],
        },
        geometry=[box(0, 0.5), box(0.5, 1), box(1, 2), box(2, 3)],
        crs=crs,
    )
    governance = gpd.GeoDataFrame(
        {
            "unit_id": ["G1", "G2"],
            "name": [HOSTILE_UNIT, "Xujing town"],
            "population": [4000.0, 800.0],
            "lifecircle_units": [2, 1],
            "relation": ["split", "matched"],
        },
        geometry=[box(0, 2), box(2, 3)],
        crs=crs,
    )
    comparison = pd.DataFrame(governance.drop(columns="geometry"))
    comparison["smallest_unit"] = [2000.0, 800.0]
    comparison["largest_unit"] = [2000.0, 800.0]
    why = RangeReason(
        code="too_few",
        total=800.0,
        pop_min=1000.0,
        pop_max=3000.0,
        fewest=1,
        most=0,
        largest_block=800.0,
        units=1,
        units_out=1,
        residents_out=200.0,
    )
    comparison["out_of_range"] = ["", str(why)]
    comparison["out_of_range_code"] = ["", why.code]
    partition = Partition(
        unit=np.array([0, 0, 1, 2]),
        centre=np.array([0, 2, 3]),
        objective=1_234_567.0,
        bound=1_219_135.0,
        gap=0.0125,
        status="time_limit",
        range_violation=200.0,
        parents_out_of_range={"G2": why},
        seconds=12.34,
    )
    return Delineation(
        level="15min",
        level_name=("15-minute life circle", "15分钟生活圈"),
        population_range=PopulationRange(1000.0, 3000.0, "GB 50180-2018 table 3.0.4", verified),
        units=units,
        blocks=blocks,
        governance=governance,
        comparison=comparison,
        partition=partition,
        block_source="units:neighbourhood",
        parent_level="street",
        reasons={"G2": why},
    )


class _Checker(HTMLParser):
    """Collects tags, text of the report (outside scripts and styles) and script count."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.text: list[str] = []
        self.scripts = 0
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "script":
            self.scripts += 1
        if tag not in ("meta", "br", "link", "img"):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()

    def handle_data(self, data):
        if not self.stack or self.stack[-1] not in ("script", "style"):
            self.text.append(data)


def parse(page: str) -> _Checker:
    checker = _Checker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    return checker


def island(page: str) -> dict:
    found = ISLAND.findall(page)
    assert len(found) == 1
    return json.loads(found[0])


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("delineation")
    d = delineation(unit_name=HOSTILE_UNIT)
    return {
        "en": write_delineation_html(d, tmp / "delineation.html"),
        "zh": write_delineation_html(d, tmp / "delineation-zh.html", lang="zh", basemap="none"),
        "amap": write_delineation_html(d, tmp / "delineation-amap.html", basemap="amap"),
    }


def test_page_parses_and_is_small(pages):
    for path in pages.values():
        assert path.name.startswith("delineation")
        size = path.stat().st_size
        assert size < MAX_BYTES, size
        page = path.read_text(encoding="utf-8")
        checker = parse(page)
        assert checker.scripts == 3  # the data island, Leaflet, map.js
        assert "table" in checker.tags
        # self-contained: no external script, stylesheet or link besides tile URLs
        assert "<link" not in page
        assert 'src="http' not in page


def test_map_layers(pages):
    data = island(pages["en"].read_text(encoding="utf-8"))
    assert [lay["show"] for lay in data["themes"]] == [True]
    (part,) = data["themes"][0]["parts"]
    assert len(part["geometry"]) == 3
    # coloured by the range: U1, U2 within, U3 below
    assert part["fill"] == [RANGE_COLOURS["in"], RANGE_COLOURS["in"], RANGE_COLOURS["below"]]
    tip = part["tip"][0]
    for figure in ("2,000", "0.95 km²", "mean 4.2 min, max 7.8 min", "U1"):
        assert figure in tip, figure
    assert "mean – min, max – min" in part["tip"][2]
    governance, centres, blocks = data["overlays"]
    assert governance["show"] and centres["show"] and not blocks["show"]
    assert "street / town" in governance["name"]
    assert len(governance["parts"][0]["geometry"]) == 2
    assert "split: 2 life-circle unit(s)" in governance["parts"][0]["tip"][0]
    # centres at the given coordinates (no shift on OSM tiles)
    xy = np.array(centres["parts"][0]["xy"])
    assert np.allclose(xy[:, 0], LON0 + np.array([0.5, 1.5, 2.5]) * STEP)
    assert np.allclose(xy[:, 1], LAT0 + 0.5 * STEP)
    assert len(blocks["parts"][0]["geometry"]) == 4
    assert "block B2 · unit U1" in blocks["parts"][0]["tip"][1]
    # fitted to the units
    (south, west), (north, east) = data["bounds"]
    assert west == pytest.approx(LON0) and east == pytest.approx(LON0 + 3 * STEP)
    assert south == pytest.approx(LAT0) and north == pytest.approx(LAT0 + STEP)
    assert "below the range (1)" in data["legend"] and "within the range (2)" in data["legend"]


def test_amap_shifts_everything(pages):
    data = island(pages["amap"].read_text(encoding="utf-8"))
    xy = np.array(data["overlays"][1]["parts"][0]["xy"])
    # GCJ-02 moves points in Shanghai by a few hundred metres, to the east and north
    assert np.all(xy[:, 0] > LON0 + np.array([0.5, 1.5, 2.5]) * STEP + 1e-3)
    assert "autonavi" in data["tiles"]["url"]


def test_report_figures(pages):
    page = pages["en"].read_text(encoding="utf-8")
    text = " ".join(parse(page).text)
    text = re.sub(r"\s+", " ", text)
    for figure in (
        "Life-circle units: 15-minute life circle",
        "1,000–3,000 residents per unit",
        "source: GB 50180-2018 table 3.0.4 (unverified)",
        "time limit: within 1.25% of the best possible",
        "12.3 s",
        "66.7% of units within the range (2 of 3)",
        "4,800",  # residents in all units
        "4,000",  # G1
        "split",
        "matched",
        "too few residents: 800, below the minimum 1,000 of one unit",
        "below the range",
        "Xujing town",
        "within one street / town unit each",
        "1,234.6 resident-km",
        "Residents outside the range, summed over units: 200",
    ):
        assert figure in text, figure
    # the governance table: one row per governance unit, smallest and largest unit
    table = page.split('<table class="governance">')[1].split("</table>")[0]
    assert table.count("<tr>") == 3
    assert '<td class="num" data-v="2000.0">2,000</td>' in table
    units = page.split('<table class="units">')[1].split("</table>")[0]
    assert units.count("<tr>") == 4


def test_status_words():
    from lifecircle.render._delineation_report import status_text

    assert status_text("optimal", 0.0, "en") == "optimal"
    assert status_text("heuristic", 0.034, "en") == "heuristic: within 3.40% of the best possible"
    assert "1.25%" in status_text("time_limit", 0.0125, "zh")


def test_verified_range_has_no_mark():
    page = build_delineation_html(delineation(verified=True), basemap="none")
    assert "(unverified)" not in page
    assert "not checked against its source" not in page


def test_hostile_names_are_escaped(pages):
    for path in pages.values():
        page = path.read_text(encoding="utf-8")
        assert HOSTILE_UNIT not in page
        assert json.dumps(HOSTILE_UNIT)[1:-1] not in page
        # shown as text in the report and as escaped HTML in the map's tooltips
        assert HOSTILE_UNIT in " ".join(parse(page).text)
        data = island(page)
        tips = data["themes"][0]["parts"][0]["tip"] + data["overlays"][0]["parts"][0]["tip"]
        # U1 (its name and its parent's), U2 (its parent's), G1
        assert sum(html.escape(HOSTILE_UNIT) in tip for tip in tips) == 3
        assert html.escape(HOSTILE_UNIT) in data["overlays"][1]["parts"][0]["tip"][0]
        assert parse(page).scripts == 3


def test_osm_attribution(pages):
    for path in pages.values():
        data = island(path.read_text(encoding="utf-8"))
        assert "© OpenStreetMap contributors" in data["attribution"]
    assert "openstreetmap.org" in island(pages["en"].read_text(encoding="utf-8"))["tiles"]["url"]
    assert island(pages["zh"].read_text(encoding="utf-8"))["tiles"] is None


def test_chinese(pages):
    page = pages["zh"].read_text(encoding="utf-8")
    text = re.sub(r"\s+", " ", " ".join(parse(page).text))
    assert '<html lang="zh-CN">' in page
    for words in (
        "生活圈单元划分：15分钟生活圈",
        "拆分",
        "一致",
        "（未经原文核对）",
        "达到时间上限",
        "人口过少：800，低于一个单元的下限 1,000",
    ):
        assert words in text, words
    data = island(page)
    assert "too few residents" not in text  # the reason is worded in Chinese
    assert "低于区间" in data["legend"]
    assert "居民" in data["themes"][0]["parts"][0]["tip"][0]


def test_bad_options_are_refused(tmp_path):
    with pytest.raises(ValueError, match="lang"):
        write_delineation_html(delineation(), tmp_path / "x.html", lang="fr")
    with pytest.raises(ValueError, match="basemap"):
        write_delineation_html(delineation(), tmp_path / "x.html", basemap="google")
    assert not (tmp_path / "x.html").exists()


def test_same_inputs_same_bytes():
    d = delineation()
    assert build_delineation_html(d) == build_delineation_html(d)


@pytest.fixture(scope="module")
def browser_page(browser, pages):
    """The English page (hostile names, OSM tiles blocked) open in Chromium."""
    from tests.test_browser import open_page

    page, visit = open_page(browser, pages["en"], tile_hosts=("tile.openstreetmap.org",))
    yield page, visit
    page.close()


@needs_chromium
def test_page_in_a_browser(browser_page, tmp_path):
    page, visit = browser_page
    assert visit.errors == []
    assert all("tile.openstreetmap.org" in url for url in visit.blocked)
    # 3 units + 2 governance outlines (blocks off at first); 3 centre markers
    assert page.locator("#lc-map path.leaflet-interactive").count() == 3 + 2 + 3
    page.evaluate("""() => window.lcMap.eachLayer(layer => {
        if (layer.getTooltip && layer.getTooltip()) { layer.openTooltip(); }
    })""")
    assert page.evaluate("() => window.__xss") is None
    tips = page.locator(".leaflet-tooltip").all_inner_texts()
    assert any(HOSTILE_UNIT in tip and "2,000" in tip for tip in tips)
    assert "OpenStreetMap contributors" in page.locator(".leaflet-control-attribution").inner_text()
    # the report sits under the map, in the page's flow
    box = page.locator("#lc-map").bounding_box()
    report = page.locator("main.lc-report").bounding_box()
    assert box["height"] > 400 and report["y"] >= box["y"] + box["height"] - 1
    page.screenshot(path=str(tmp_path / "delineation.png"), full_page=True)
