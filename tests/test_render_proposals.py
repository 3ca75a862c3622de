"""Proposed sites on the map and in the report (``lifecircle optimize``, issue 4).

The map gains a "Proposed sites" layer (numbered markers, each site's walking
catchment) and a before / after pair of themes for the siting category; the
report gains a "Proposed sites" section. ``sample_result`` is the session fixture
of ``conftest.py``, as are the hostile strings; the data-island helpers come from
``test_render_map`` and the headless-Chromium helpers from ``test_browser``.
"""

from __future__ import annotations

import dataclasses
import html
import inspect
import json
import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely.geometry
from markupsafe import escape

from lifecircle.io.coords import wgs84_to_gcj02
from lifecircle.render._style import share_colour
from lifecircle.render._text import count, pct, text
from lifecircle.render.map import MapPage, build_map, render_map
from lifecircle.render.report import build_report, render_report
from lifecircle.siting import Siting, SitingProblem
from tests.conftest import (
    HOSTILE_CATEGORY,
    HOSTILE_FACILITY,
    HOSTILE_UNIT,
    invoke,
    with_hostile_names,
)
from tests.test_browser import CHROMIUM, open_every_tooltip, open_page
from tests.test_browser import browser as browser  # the shared fixture
from tests.test_render_map import (
    features,
    fill_of,
    geojson,
    island,
    layer_named,
    metres,
    render_tip,
)

CAT = "kindergarten"
SITES = 10
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"
)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def siting(sample_result) -> Siting:
    """MCLP for kindergartens on the sample: 10 sites among the auto candidates."""
    return SitingProblem.from_audit(sample_result, CAT).solve(sites=SITES)


@pytest.fixture(scope="module")
def named_candidates(siting) -> gpd.GeoDataFrame:
    """Five of the proposed sites as a candidate file would give them, hostile names."""
    cand = siting.proposals().iloc[:5][["geometry"]].copy()
    cand["name"] = [HOSTILE_FACILITY, "site B", None, "site D", "site E"]
    return cand


@pytest.fixture(scope="module")
def hostile_pmedian(sample_result, named_candidates) -> Siting:
    """A p-median siting on the sample with hostile unit, category and candidate names."""
    hostile = with_hostile_names(sample_result)
    return SitingProblem.from_audit(
        hostile, CAT, candidates=named_candidates, objective="distance"
    ).solve(sites=2)


@pytest.fixture(scope="module")
def fmap(sample_result, siting) -> MapPage:
    return build_map(sample_result, basemap="none", siting=siting)


@pytest.fixture(scope="module")
def files(fmap, siting, hostile_pmedian, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("proposals")
    fmap.save(folder / "none.html")
    return {
        "none": folder / "none.html",
        "amap": siting.to_map(folder / "amap.html", lang="zh", basemap="amap"),
        "hostile": hostile_pmedian.to_map(folder / "hostile.html", basemap="none"),
    }


def proposals_group(data: dict) -> dict:
    return layer_named(data, "Proposed sites")


def site_features(page: str) -> list[dict]:
    """The proposed-site markers: the only features with a ``rank`` property."""
    return [f for f in features(island(page)) if "rank" in f["properties"]]


# --------------------------------------------------------------------------- map


def test_map_has_the_proposals_layer_and_the_before_after_toggle(sample_result, siting, fmap):
    cats = sample_result.summary.to_json()["categories_audited"]
    themes = fmap.data["themes"]
    names = [t["name"] for t in themes]
    # no complete-life-circle theme on the sample; the siting category's theme is a pair
    assert len(themes) == 1 + len(cats)
    before = "kindergarten coverage before (≤ 5 min)"
    after = f"kindergarten coverage after {SITES} new sites (≤ 5 min)"
    assert names.index(after) == names.index(before) + 1
    assert not any(n.startswith("kindergarten within") for n in names)
    assert [t["show"] for t in themes].count(True) == 1
    assert themes[names.index(before)]["show"]  # the map opens on the question it answers
    group = proposals_group(fmap.data)
    assert group["show"] and group["name"].endswith(
        f"Proposed sites: kindergarten ({SITES}) and their walking catchments"
    )
    # the after theme colours units by coverage with the new sites, and has its own popups
    after_units = siting.units_after()["street"].set_index("unit_id")
    units = themes[names.index(after)]["parts"][0]
    n_units = len(fmap.data["units"]["name"])
    assert units["shared"] and len(units["popup"]["strong"]) == len(units["fill"]["index"])
    assert len(units["fill"]["index"]) == n_units
    assert units["popup"] != fmap.data["units"]["popup"]
    by_name = after_units.reset_index().drop_duplicates("name", keep=False).set_index("name")
    checked = 0
    fills = [fill_of(units, i) for i in range(n_units)]
    tips = [render_tip(fmap.data, units, i) for i in range(n_units)]
    for fill, tip in zip(fills, tips, strict=True):
        name = html.unescape(re.match(r"<b>(.*?)</b>", tip).group(1))
        if name in by_name.index:
            value = by_name.loc[name, f"cov_{CAT}"]
            assert fill == share_colour(value)
            assert pct(value) in tip
            checked += 1
    assert checked >= 10
    summary = siting.summary()
    change = (
        f"kindergarten coverage {pct(summary['coverage_before'])} → "
        f"{pct(summary['coverage_after'])}"
    )
    assert change in fmap.data["legend"]
    assert [p for p, _ in fmap.data["panes"]][-2:] == ["lc_site_catchments", "lc_sites"]


def test_one_numbered_marker_per_proposal_over_its_catchment(siting, files):
    page = files["none"].read_text(encoding="utf-8")
    props = siting.proposals()
    markers = site_features(page)
    assert [f["properties"]["rank"] for f in markers] == list(range(1, SITES + 1))
    for feature, (_, site) in zip(markers, props.iterrows(), strict=True):
        lon, lat = feature["geometry"]["coordinates"]
        assert metres(lon, lat, site.geometry.x, site.geometry.y) < 0.5
        tip = feature["properties"]["tip"]
        assert f"Proposed site #{site['rank']}" in tip
        assert count(site["marginal_newly_covered"]) in tip
        assert count(site["residents_served"]) in tip
        assert site["site_id"] in feature["properties"]["popup"]
    data = island(page)
    assert 'class="lc-site"' in data["legend"]  # the legend's key; map.js draws the markers
    # one catchment per site, around it, within the threshold's reach
    (catchments, sites) = proposals_group(data)["parts"]
    assert catchments["pane"] == "lc_site_catchments" and sites["pane"] == "lc_sites"
    assert catchments["interactive"] is False and len(catchments["geometry"]) == SITES
    for geometry, (_, site) in zip(catchments["geometry"], props.iterrows(), strict=True):
        area = shapely.geometry.shape(geojson(geometry))
        assert area.geom_type in ("Polygon", "MultiPolygon") and not area.is_empty
        assert area.distance(site.geometry) < 1e-3  # about 100 m: one cell of the outline
        xmin, ymin, xmax, ymax = area.bounds
        assert metres(xmin, ymin, xmax, ymax) < 2 * (360 + 60) * 1.5


def test_self_contained_and_unchanged_without_siting(files):
    for path in files.values():
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"<script[^>]*\bsrc=", page)
        assert not re.search(r"<link[^>]*\bhref=", page)
        assert "cdn.jsdelivr" not in page and "cdnjs" not in page
    # without a siting nothing changes (test_render_map checks those maps in full)
    for func in (render_map, build_map, render_report, build_report):
        param = inspect.signature(func).parameters["siting"]
        assert param.kind is param.KEYWORD_ONLY and param.default is None


def test_amap_shifts_the_sites_and_labels_are_chinese(siting, files):
    page = files["amap"].read_text(encoding="utf-8")
    data = island(page)
    names = [lay["name"] for lay in [*data["themes"], *data["overlays"]]]
    assert "幼儿园覆盖：新增设施前（≤5分钟）" in names
    assert f"幼儿园覆盖：新增{SITES}处设施后（≤5分钟）" in names
    assert any(n.endswith("建议新址：幼儿园（10处）及其步行范围") for n in names)
    assert "其步行范围（5分钟）" in data["legend"]
    for feature, (_, site) in zip(site_features(page), siting.proposals().iterrows(), strict=True):
        expected = wgs84_to_gcj02(site.geometry.x, site.geometry.y)
        assert metres(*feature["geometry"]["coordinates"], *map(float, expected)) < 0.5
        assert f"建议新址 #{site['rank']}" in feature["properties"]["tip"]


def test_hostile_names_are_escaped_on_the_map(files, hostile_pmedian):
    page = files["hostile"].read_text(encoding="utf-8")
    markers = site_features(page)
    assert len(markers) == len(hostile_pmedian.proposals()) == 2
    texts = "\n".join(f["properties"]["tip"] + f["properties"]["popup"] for f in markers)
    assert html.escape(HOSTILE_CATEGORY) in texts
    assert "walking distance saved" in texts  # p-median: its own marginal measure
    tips = "\n".join(
        f["properties"].get("tip", "") + f["properties"].get("popup", "")
        for f in features(island(page))
    )
    assert html.escape(HOSTILE_UNIT) in tips  # after-theme tooltips keep the audit's names
    for hostile in (HOSTILE_FACILITY, HOSTILE_UNIT, HOSTILE_CATEGORY):
        assert hostile not in page
        assert json.dumps(hostile)[1:-1] not in page


def test_map_of_a_category_the_audit_did_not_cover(sample_result):
    """Sites for elderly care (no facility in the sample): before / after themes from the
    siting's own figures (nobody covered before), the standard's threshold."""
    s = SitingProblem.from_audit(sample_result, "elderly_care").solve(sites=3)
    assert "elderly_care" not in sample_result.summary.to_json()["categories_audited"]
    data = build_map(sample_result, basemap="none", siting=s).data
    names = [t["name"] for t in data["themes"]]
    minutes = sample_result.standard.category("elderly_care").threshold_min
    before = f"elderly day-care centre coverage before (≤ {minutes:g} min)"
    after = f"elderly day-care centre coverage after 3 new sites (≤ {minutes:g} min)"
    assert names[-2:] == [before, after]
    assert [t["show"] for t in data["themes"]][-2:] == [True, False]
    before_units, after_units = (data["themes"][i]["parts"][0] for i in (-2, -1))
    n_units = len(data["units"]["name"])
    assert before_units["fill"]["values"] == [share_colour(0.0)]
    tips = [render_tip(data, before_units, i) for i in range(n_units)]
    assert all(f"<b>{pct(0.0)}</b>" in tip for tip in tips)
    figures = s.units_after()["street"].set_index("unit_id")["cov_elderly_care"]
    analysed = sample_result.units["street"].query("analysed")
    assert [fill_of(after_units, i) for i in range(n_units)] == [
        share_colour(figures[u]) for u in analysed["unit_id"]
    ]
    assert len(proposals_group(data)["parts"][-1]["xy"]) == 3


def test_hostile_candidate_name_is_escaped_in_the_popup(sample_result, named_candidates):
    s = SitingProblem.from_audit(sample_result, CAT, candidates=named_candidates).solve(sites=5)
    from lifecircle.render.map import _Context, _Proposed, _site_rows

    ctx = _Context.of(sample_result, lang="en", gcj02=False)
    proposed = _Proposed.of(ctx, s)
    values = [
        value for i in range(len(proposed.proposals)) for _, value in _site_rows(ctx, proposed, i)
    ]
    assert html.escape(HOSTILE_FACILITY) in values
    assert HOSTILE_FACILITY not in values


def test_bad_sitings_are_refused(sample_result, siting, tmp_path):
    other = dataclasses.replace(sample_result)
    with pytest.raises(ValueError, match="another audit result"):
        render_map(other, tmp_path / "m.html", siting=siting)
    with pytest.raises(ValueError, match="another audit result"):
        build_report(other, siting=siting)
    unsolved = SitingProblem.from_audit(sample_result, CAT, n_candidates=20)
    with pytest.raises(ValueError, match="solve"):
        build_report(sample_result, siting=unsolved)
    assert not (tmp_path / "m.html").exists()


# --------------------------------------------------------------------------- report


@pytest.fixture(scope="module")
def report_en(siting) -> str:
    return build_report(siting.result, siting=siting)


def section(page: str, name: str) -> str:
    return page.split(f'<section id="{name}">')[1].split("</section>")[0]


def test_report_proposals_section(siting, report_en):
    summary = siting.summary()
    assert '<a href="#proposals">Proposed sites</a>' in report_en
    part = section(report_en, "proposals")
    for key in (
        "coverage_before",
        "coverage_after",
        "complete_share_before",
        "complete_share_after",
    ):
        assert pct(summary[key]) in part, key
    assert f"{pct(summary['coverage_before'])} → {pct(summary['coverage_after'])}" in part
    assert count(summary["newly_covered_population"]) in part
    assert "Maximal covering (MCLP)" in part
    assert f"<code>{summary['status']}</code>" in part
    assert ("–" if summary["mip_gap"] is None else f"{100 * summary['mip_gap']:.2f}%") in part
    assert f"{count(summary['candidates'])} network locations" in part
    assert escape(summary["candidate_source"]) in part
    # the ranked table, in rank order
    table = part.split('<table id="proposals-ranked">')[1].split("</table>")[0]
    rows = [
        re.findall(r"<td[^>]*>(.*?)</td>", row)
        for row in table.split("<tbody>")[1].split("</tr>")[:-1]
    ]
    props = siting.proposals()
    assert [r[0] for r in rows] == [str(r) for r in range(1, SITES + 1)]
    assert [r[1] for r in rows] == list(props["site_id"])
    assert [r[2] for r in rows] == [count(v) for v in props["marginal_newly_covered"]]
    # per-unit before / after, every level, every analysed unit
    for level in siting.result.summary.to_json()["units"]["levels"]:
        assert f'id="proposal-units-{level}"' in part
    for unit in summary["units"]:
        assert f">{unit['unit_id']}<" in part
    first = summary["units"][0]
    unit_table = part.split(f'id="proposal-units-{first["level"]}"')[1].split("</table>")[0]
    row = unit_table.split(f">{first['unit_id']}<")[1].split("</tr>")[0]
    assert pct(first["coverage_before"]) in row and pct(first["coverage_after"]) in row
    assert "Notes" in part


def test_report_without_siting_has_no_proposals(sample_result):
    page = build_report(sample_result)
    assert 'id="proposals"' not in page and "#proposals" not in page


def test_report_notes_pmedian_and_escaping(sample_result, named_candidates, hostile_pmedian):
    s = SitingProblem.from_audit(sample_result, CAT, candidates=named_candidates).solve(sites=6)
    assert s.notes  # more sites asked for than there are candidates
    part = section(build_report(sample_result, siting=s), "proposals")
    for note in s.notes:
        assert str(escape(note)) in part
    assert "5 sites from the candidate file" in part
    page = build_report(hostile_pmedian.result, siting=hostile_pmedian)
    part = section(page, "proposals")
    summary = hostile_pmedian.summary()
    assert "p-median" in part
    assert f"{count(summary['mean_distance_before_m'])} m" in part
    assert f"{count(summary['mean_distance_after_m'])} m" in part
    assert "walking distance saved" in part
    assert escape(HOSTILE_CATEGORY) in part and escape(HOSTILE_UNIT) in part
    for hostile in (HOSTILE_CATEGORY, HOSTILE_UNIT, HOSTILE_FACILITY):
        assert hostile not in page


def test_report_chinese(siting):
    page = build_report(siting.result, lang="zh", siting=siting)
    part = section(page, "proposals")
    assert "新增设施选址建议" in page
    assert "最大覆盖模型（MCLP）" in part
    assert text(f"status_{siting.status}", "zh") in part
    assert "新增前" in part and "新增后" in part and "各单元幼儿园覆盖率" in part
    assert "Proposed sites" not in page and "Ranked sites" not in page


# --------------------------------------------------------------------------- browser


@needs_chromium
def test_browser_draws_the_proposals_and_toggles(browser, files):
    page, visit = open_page(browser, files["none"])
    assert visit.errors == [] and visit.blocked == []
    assert page.locator(".lc-site-icon").count() == SITES
    assert page.locator(".lc-site-icon").first.inner_text() == "1"
    checked = page.locator(".leaflet-control-layers-base input:checked + span")
    assert "coverage before" in checked.inner_text()
    before = page.locator("path.leaflet-interactive").count()
    page.locator(".leaflet-control-layers-base label", has_text="after").click()
    assert "after 10 new sites" in checked.inner_text()
    assert page.locator("path.leaflet-interactive").count() > 100
    assert page.locator("path.leaflet-interactive").count() < before  # fewer uncovered cells
    overlay = page.locator(".leaflet-control-layers-overlays label", has_text="Proposed sites")
    overlay.click()
    assert page.locator(".lc-site-icon").count() == 0
    overlay.click()
    assert page.locator(".lc-site-icon").count() == SITES
    assert visit.errors == []
    page.close()


@needs_chromium
def test_browser_hostile_sitings_never_run(browser, files):
    page, visit = open_page(browser, files["hostile"])
    open_every_tooltip(page)
    page.wait_for_timeout(300)
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert "Proposed site #1" in page.locator(".leaflet-tooltip-pane").inner_text()
    assert visit.errors == [] and visit.blocked == []
    page.close()


# --------------------------------------------------------------------------- command line


def test_cli_optimize_writes_map_and_report(tmp_path):
    out = tmp_path / "out"
    res = invoke(["optimize", "--category", CAT, "--sites", "3", "--out", out])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "map.html" in res.stdout and "report.html" in res.stdout
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "Proposed sites: kindergarten (3)" in page
    assert len(site_features(page)) == 3
    assert "tile.openstreetmap.org" in page
    assert '<section id="proposals">' in (out / "report.html").read_text(encoding="utf-8")


def test_cli_optimize_no_map_and_options(tmp_path, monkeypatch):
    out = tmp_path / "nomap"
    fast = ["--n-candidates", "40"]
    res = invoke(["optimize", "--category", CAT, "--sites", "3", "--out", out, "--no-map", *fast])
    assert res.exit_code == 0, (res.output, res.exception)
    assert (out / "proposals.geojson").is_file()
    assert not (out / "map.html").exists() and not (out / "report.html").exists()
    assert "map.html" not in res.stdout
    calls = []

    def fake(kind):
        def write(self, path, **kwargs):
            calls.append((kind, Path(path).name, kwargs))
            return Path(path)

        return write

    monkeypatch.setattr(Siting, "to_map", fake("map"))
    monkeypatch.setattr(Siting, "to_report", fake("report"))
    res = invoke(
        [
            "optimize",
            "--category",
            CAT,
            "--sites",
            "2",
            "--out",
            tmp_path / "zh",
            "--lang",
            "zh",
            "--basemap",
            "amap",
            *fast,
            "-q",
        ]
    )
    assert res.exit_code == 0, (res.output, res.exception)
    assert calls == [
        ("map", "map.html", {"lang": "zh", "basemap": "amap"}),
        ("report", "report.html", {"lang": "zh"}),
    ]
