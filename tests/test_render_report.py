"""The planner's report: content, self-containment, language, escaping."""

from __future__ import annotations

import dataclasses
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import escape

import lifecircle
from lifecircle.render import _charts
from lifecircle.render._quality import MAX_LISTED
from lifecircle.render._text import count, pct
from lifecircle.render.report import build_report, render_report
from tests.conftest import HOSTILE_CATEGORY, HOSTILE_FACILITY, HOSTILE_UNIT, with_hostile_names

SECTIONS = (
    "headline",
    "categories",
    "worst",
    "times",
    "tables",
    "gaps",
    "method",
    "quality",
    "warnings",
    "sources",
)


@pytest.fixture(scope="module")
def report_en(sample_result) -> str:
    return build_report(sample_result)


@pytest.fixture(scope="module")
def report_zh(sample_result) -> str:
    return build_report(sample_result, lang="zh")


def test_sections_and_headline(sample_result, report_en):
    summary = sample_result.summary.to_json()
    for section in SECTIONS:
        assert f'<section id="{section}">' in report_en
    for share in summary["complete_by_level"].values():
        assert pct(share) in report_en
    assert f"{round(summary['population']['total']):,}" in report_en
    # categories ranked by shortfall: the worst-covered category comes first in its table
    worst = min(summary["categories_audited"], key=lambda c: summary["coverage"][c])
    table = report_en.split('<section id="categories">')[1].split("</section>")[0]
    first_row = table.split("<tbody>")[1].split("</tr>")[0]
    assert sample_result.standard.category(worst).name_en in first_row
    # one sortable table per unit level
    for level in summary["units"]["levels"]:
        assert f'id="units-{level}"' in report_en
    assert report_en.count('class="sortable') == len(summary["units"]["levels"])


def test_method_warnings_and_sources(sample_result, report_en):
    summary = sample_result.summary.to_json()
    for cat, th in summary["thresholds"].items():
        assert f'<td class="num">{th["metres"]:.0f}</td>' in report_en, cat
    assert f"{summary['profile']['speed_m_s']:g} m/s" in report_en
    assert escape(summary["population"]["method"]) in report_en
    for warning in summary["warnings"]:
        assert escape(warning) in report_en
    for excluded in summary["units"]["excluded"]:
        assert escape(excluded["reason"]) in report_en
    assert "© OpenStreetMap contributors" in report_en
    assert "ODbL" in report_en


def test_charts_are_inline_svg_with_text(report_en):
    # coverage, walking times, units, and the Lorenz curves of the equity section
    assert report_en.count('<svg class="chart"') == 4
    assert "<text" in report_en  # svg.fonttype none: labels stay text
    assert "<?xml" not in report_en and "<!DOCTYPE svg" not in report_en


def test_self_contained_and_printable(report_en):
    assert not re.search(r"<script[^>]*\bsrc=", report_en)
    assert not re.search(r"<link\b", report_en)
    assert not re.search(r"<img\b", report_en)
    assert "@import" not in report_en
    assert not re.search(r"url\(\s*['\"]?https?:", report_en)
    assert not re.search(r"\b(?:src|xlink:href)=['\"]https?:", report_en)
    assert "@media print" in report_en and "@page" in report_en


def test_chinese(sample_result, report_zh):
    assert '<html lang="zh-CN">' in report_zh
    assert "主要结论" in report_zh and "方法" in report_zh
    for cat in sample_result.summary.to_json()["categories_audited"]:
        assert sample_result.standard.category(cat).name_zh in report_zh
    assert '"Noto Sans CJK SC"' in report_zh and '"Microsoft YaHei"' in report_zh
    assert "Categories ranked by shortfall" not in report_zh


def test_hostile_names_are_escaped(sample_result):
    page = build_report(with_hostile_names(sample_result))
    for hostile in (HOSTILE_UNIT, HOSTILE_CATEGORY):
        assert hostile not in page
        assert escape(hostile) in page
    assert HOSTILE_FACILITY not in page
    # no hostile tag opens anywhere, charts (SVG text, XML-escaped) included
    for tag in ("<script>window", "<b onmouseover", "<img src=x"):
        assert tag not in page


def section(page: str, name: str) -> str:
    return page.split(f'<section id="{name}">')[1].split("</section>")[0]


def quality_rows(page: str) -> dict[str, tuple[str, str, str]]:
    """The data-quality table: label -> (row class, count, explanation cell)."""
    body = section(page, "quality").split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(
        r"<tr( class=\"zero\")?><td>(.*?)</td><td class=\"num\">(.*?)</td>\s*"
        r"<td>(.*?)</td></tr>",
        body,
        flags=re.DOTALL,
    )
    return {label: (zero, value, cell) for zero, label, value, cell in rows}


def with_quality(
    result: lifecircle.AuditResult, max_snap_m: float | None = None, **figures
) -> lifecircle.AuditResult:
    """``result`` with some data-quality figures (and the snap distance) replaced."""
    summary = result.summary
    assert summary.data_quality is not None
    summary = dataclasses.replace(
        summary, data_quality=dataclasses.replace(summary.data_quality, **figures)
    )
    if max_snap_m is not None:
        summary = dataclasses.replace(
            summary, settings=dataclasses.replace(summary.settings, max_snap_m=max_snap_m)
        )
    return dataclasses.replace(result, summary=summary)


def test_data_quality_section(sample_result, report_en):
    quality = sample_result.summary.to_json()["data_quality"]
    assert '<a href="#quality">Data quality</a>' in report_en.split("</nav>")[0]
    rows = quality_rows(report_en)
    expected = {
        "Street-network islands dropped": quality["network_components_dropped"],
        "Street nodes in those islands": quality["network_nodes_dropped"],
        "Facilities 100–500 m from the walk network": quality["facilities_snapped_over_100m"],
        "Facilities more than 500 m from the walk network": quality["facilities_unreachable"],
        "Duplicate facilities merged": sum(quality["duplicates_merged"].values()),
        "Facilities with an unmapped Amap type code": sum(quality["unknown_typecodes"].values()),
        "Categories without facilities": len(quality["categories_without_facilities"]),
        "Units without residents": len(quality["units_without_population"]),
        "Resident locations more than 500 m from the walk network": quality[
            "origins_beyond_max_snap"
        ],
        "Residents at those locations": quality["population_beyond_max_snap"],
    }
    assert list(rows) == list(expected)
    for label, value in expected.items():
        zero, shown, cell = rows[label]
        assert shown == count(value), label
        assert bool(zero) == (value == 0), label  # zero rows are greyed
        assert len(cell.split("<div")[0].strip()) > 20, label  # a one-line explanation
    # lists: names, not ids, the first few only, the rest counted
    cell = rows["Categories without facilities"][2]
    for cat in quality["categories_without_facilities"]:
        assert sample_result.standard.category(cat).name_en in cell
    missing = [str(u) for u in quality["units_without_population"]]
    assert len(missing) > MAX_LISTED  # the sample truncates
    cell = rows["Units without residents"][2]
    names = sample_result.units["street"].set_index("unit_id")["name"]
    for unit in missing[:MAX_LISTED]:
        assert f"{names[unit]} ({unit})" in cell
    for unit in missing[MAX_LISTED:]:
        assert unit not in cell
    assert f"… and {len(missing) - MAX_LISTED} more" in cell


def test_data_quality_counts_per_key_snap_distance_and_escaping(sample_result):
    hostile = with_hostile_names(sample_result)
    streets = hostile.units["street"]
    unit = str(streets.loc[streets["name"] == HOSTILE_UNIT, "unit_id"].iloc[0])
    result = with_quality(
        hostile,
        max_snap_m=300.0,
        duplicates_merged={"kindergarten": 2, "park": 5},
        unknown_typecodes={"<b>090101</b>": 3, "050000": 7},
        units_without_population=[unit, "no-such-unit"],
        origins_beyond_max_snap=4,
        population_beyond_max_snap=1234.4,
    )
    page = build_report(result)
    rows = quality_rows(page)
    zero, value, cell = rows["Duplicate facilities merged"]
    assert not zero and value == "7"
    assert (
        f"<span>park or public green: 5</span> · <span>{escape(HOSTILE_CATEGORY)}: 2</span>" in cell
    )  # names, most first
    value, cell = rows["Facilities with an unmapped Amap type code"][1:]
    assert value == "10"
    assert "<span>050000: 7</span> · <span>&lt;b&gt;090101&lt;/b&gt;: 3</span>" in cell
    cell = rows["Units without residents"][2]
    assert f"{escape(HOSTILE_UNIT)} ({unit})" in cell and "no-such-unit" in cell
    assert "more" not in cell  # nothing left out
    assert rows["Resident locations more than 300 m from the walk network"][1] == "4"
    assert rows["Residents at those locations"][1] == "1,234"
    assert "Facilities more than 300 m from the walk network" in rows
    assert "Facilities 100–300 m from the walk network" in rows
    assert "<b>090101" not in page and HOSTILE_UNIT not in page


def test_data_quality_in_chinese_and_absent_without_figures(sample_result, report_zh):
    assert '<a href="#quality">数据质量</a>' in report_zh
    rows = quality_rows(report_zh)
    assert "距步行网络超过500米的设施" in rows and "无居民的单元" in rows
    missing = len(sample_result.summary.to_json()["data_quality"]["units_without_population"])
    assert f"……另有{missing - MAX_LISTED}项" in rows["无居民的单元"][2]
    assert "Data quality" not in report_zh
    # a summary.json from before the data-quality figures: no section, no link
    summary = dataclasses.replace(sample_result.summary, data_quality=None)
    page = build_report(dataclasses.replace(sample_result, summary=summary))
    assert 'id="quality"' not in page and "#quality" not in page


def test_render_writes_atomically(sample_result, tmp_path):
    path = render_report(sample_result, tmp_path / "out" / "report.html", lang="zh")
    assert path == tmp_path / "out" / "report.html"
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]
    with pytest.raises(ValueError, match="lang"):
        render_report(sample_result, tmp_path / "x.html", lang="de")


def test_library_entry_point(sample_result, tmp_path):
    path = sample_result.to_report(tmp_path / "report.html")
    assert isinstance(path, Path) and path.stat().st_size > 10_000
    assert isinstance(sample_result, lifecircle.AuditResult)


# --------------------------------------------------------------------------- what was audited


class _Page(HTMLParser):
    """Text of a rendered page: every text node, and the cells of every table by id/class."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.tables: list[tuple[str, list[list[str]]]] = []  # (id or class, rows of cells)
        self.title = ""
        self._stack: list[str] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "meta", "img", "input", "hr", "link"):  # void: a line break is a space
            self.handle_data(" ")
            return
        self._stack.append(tag)
        attrs = dict(attrs)
        if tag == "table":
            self.tables.append((attrs.get("id") or attrs.get("class") or "", []))
        elif tag == "tr" and self.tables:
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        while self._stack and self._stack.pop() != tag:
            pass

    def handle_data(self, data):
        if self._stack and self._stack[-1] == "title":
            self.title += data
        if self._stack and self._stack[-1] in ("script", "style"):
            return
        self.texts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    def text(self) -> str:
        return " ".join(" ".join(self.texts).split())

    def table(self, key: str) -> list[list[str]]:
        return next(rows for name, rows in self.tables if name == key)


def parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def replace_summary(result: lifecircle.AuditResult, **changes) -> lifecircle.AuditResult:
    """``result`` with top-level summary fields replaced (``None``: a summary without it)."""
    return dataclasses.replace(result, summary=dataclasses.replace(result.summary, **changes))


@pytest.fixture(scope="module")
def computed_result() -> lifecircle.AuditResult:
    """The sample against GB 50180-2018 without the two categories the sample lacks:
    every mandatory category is audited, so every complete life circle is computed."""
    std = lifecircle.load_standard("gb50180-2018")
    lacking = set(SAMPLE_LACKS)
    return lifecircle.audit(
        standard=dataclasses.replace(
            std, categories=tuple(c for c in std.categories if c.id not in lacking)
        )
    )


@pytest.fixture(scope="module")
def requested_result() -> lifecircle.AuditResult:
    """The sample audited for two categories only (``--categories kindergarten,park``)."""
    return lifecircle.audit(categories=["kindergarten", "park"])


#: Mandatory categories of GB 50180-2018 with no facility in the sample.
SAMPLE_LACKS = ("elderly_care", "community_service")


def names(result, cats) -> str:
    return ", ".join(result.standard.category(c).name_en for c in cats)


def test_complete_life_circle_not_computed_says_what_is_missing(sample_result, report_en):
    summary = sample_result.summary.to_json()
    completeness = summary["completeness"]
    assert completeness and not any(st["computed"] for st in completeness.values())
    page = parse(report_en)
    text = page.text()
    missing = names(sample_result, SAMPLE_LACKS)
    headline = " ".join(parse(section(report_en, "headline")).text().split())
    for level, st in completeness.items():
        assert sorted(st["missing"]) == sorted(SAMPLE_LACKS)
        name = sample_result.standard.level(level).name_en
        assert f"not computed complete {name} missing: {missing}" in headline, level
    assert (
        f"The complete 15-minute life circle was not computed: {missing} were not audited."
    ) in headline
    # never a share, never the claim of every mandatory facility
    assert "every mandatory facility" not in text
    assert "live in a complete" not in text
    assert not re.search(r"(?<![\d.])0\.0%", section(report_en, "headline"))
    for level in summary["units"]["levels"]:
        assert not any(h.startswith("complete") for h in page.table(f"units-{level}")[0])
    assert not any("complete" in h for h in page.table("worst")[0])
    assert (
        f"Complete life circle (5-minute life circle, 10-minute life circle, 15-minute "
        f"life circle): not computed — missing: {missing}." in text
    )
    # the units chart ranks by score instead
    assert "Units ranked by score" in report_en
    # the categories without facilities are listed as such, not as "not requested"
    categories = parse(section(report_en, "categories")).tables[0][1]
    for cat in SAMPLE_LACKS:
        row = next(
            r for r in categories if r and r[0] == sample_result.standard.category(cat).name_en
        )
        assert row[3] == "no facilities in the data", row
    assert "not requested" not in text
    assert f"No facilities in the data, so not audited: {missing}." in text


def test_categories_not_requested_are_not_called_missing_facilities(requested_result):
    summary = requested_result.summary.to_json()
    assert summary["categories_audited"] == ["kindergarten", "park"]
    page = build_report(requested_result)
    text = parse(page).text()
    requested_not = [
        c for c, r in summary["categories_not_audited_reason"].items() if r == "not_requested"
    ]
    assert "bus_stop" in requested_not
    listed = names(requested_result, requested_not)
    assert f"Not requested (--categories), so not audited: {listed}." in text
    assert (
        f"No facilities in the data, so not audited: {names(requested_result, SAMPLE_LACKS)}."
    ) in text
    categories = parse(section(page, "categories")).tables[0][1]
    bus = next(r for r in categories if r and r[0] == "bus stop")
    assert bus[3] == "not requested (--categories)", bus
    assert "no facilities" not in " ".join(bus)
    assert "2 of the standard's 11 facility categories audited." in text
    # no complete life circle with 2 of 11 categories
    assert "every mandatory facility" not in text
    for level in summary["completeness"]:
        assert summary["complete_by_level"][level] is None
    line = text.split("Complete life circle (15-minute life circle): not computed — missing: ")
    assert "bus stop" in line[1].split(".")[0]


def test_complete_life_circle_computed(computed_result):
    summary = computed_result.summary.to_json()
    assert all(st["computed"] for st in summary["completeness"].values())
    page = build_report(computed_result)
    parsed = parse(page)
    headline = parse(section(page, "headline")).text()
    total = summary["population"]["total"]
    for level, share in summary["complete_by_level"].items():
        name = computed_result.standard.level(level).name_en
        assert (
            f"{pct(share)}† live in a complete {name} {count(total * share)} residents" in headline
        ), level
    assert (
        f"{pct(summary['complete_share'])}† of the {count(total)} residents analysed reach "
        "every mandatory facility of the 15-minute life circle on foot"
    ) in headline
    assert "not computed" not in parsed.text()
    # a unit's complete 15-minute share, by hand from the residents' walking times
    access, std = computed_result.access, computed_result.standard
    mandatory = [c.id for c in std.categories if c.mandatory]
    covered = np.ones(len(access), bool)
    for cat in mandatory:
        covered &= (access[f"time_{cat}_min"] <= std.category(cat).threshold_min).to_numpy()
    pop = access["population"].to_numpy(float)
    by_unit = (
        pd.DataFrame({"unit": access["unit_id"].to_numpy(), "pop": pop, "ok": pop * covered})
        .groupby("unit")
        .sum()
    )
    share = by_unit["ok"] / by_unit["pop"]
    table = parsed.table("units-street")
    head = table[0]
    col = head.index("complete 15 min†")
    rows = {r[1]: r for r in table[1:]}
    for unit, value in share.items():
        assert rows[unit][col] == pct(value), unit
    # the worst-served unit: the smallest share, the most residents among equals
    worst = parse(section(page, "worst")).tables[0][1]
    assert worst[0][2] == "complete 15-minute life circle"
    lowest = share[share == share.min()].index
    first = by_unit.loc[lowest, "pop"].idxmax()
    names_by_id = computed_result.units["street"].set_index("unit_id")["name"]
    assert worst[1][0].startswith(names_by_id[first])
    assert worst[1][2] == pct(share.min()) + "†"


def test_summary_from_before_completeness(computed_result, sample_result, requested_result):
    # no "completeness", no reasons: a level with a figure counts as computed
    old = replace_summary(computed_result, completeness=None, categories_not_audited_reason=None)
    assert build_report(old) == build_report(computed_result)
    # an old sample summary had figures over the audited categories only: say so
    figures = {"5min": 0.125, "10min": 0.1, "15min": 0.096}
    old = replace_summary(
        sample_result,
        completeness=None,
        categories_not_audited_reason=None,
        complete_by_level=figures,
        complete_share=0.096,
    )
    text = parse(build_report(old)).text()
    missing = names(sample_result, SAMPLE_LACKS)
    for share in figures.values():
        assert f"{pct(share)}† live in a complete" in text
    assert f"audited mandatory categories only; not audited: {missing}" in text
    assert (
        f"9.6%† of the 769,214 residents analysed reach every audited mandatory facility "
        f"of the 15-minute life circle on foot ({missing} not audited)"
    ) in text
    assert "no facilities in the data" in text and "not requested" not in text
    # reasons derived from the data-quality figures: requested, or without facilities
    text = parse(
        build_report(replace_summary(requested_result, categories_not_audited_reason=None))
    ).text()
    assert "Not requested (--categories), so not audited: primary school" in text


def test_partly_analysed_units_are_flagged(sample_result, report_en):
    districts = sample_result.units["district"]
    partly = districts[
        (districts["units_analysed"] > 0) & (districts["units_analysed"] < districts["units_total"])
    ]
    huangpu = districts.set_index("name").loc["黄浦区"]
    assert (huangpu["units_analysed"], huangpu["units_total"]) == (7, 10)  # the data
    page = parse(report_en)
    table = {r[1]: r for r in page.table("units-district")[1:]}
    worst = {r[0].split(" ‡")[0]: r for r in parse(section(report_en, "worst")).tables[1][1][1:]}
    assert len(partly) == 2
    for _, row in partly.iterrows():
        flag = f"‡ {row['units_analysed']} of {row['units_total']} streets / towns analysed"
        assert table[row["unit_id"]][0] == f"{row['name']} {flag}"
        assert worst[row["name"]][0] == f"{row['name']} {flag}"
    assert "黄浦区 (7 of 10 streets / towns analysed)" in page.text()
    assert (
        "‡ Partly analysed: a street / town unit is analysed only when its 1080 m walking "
        "catchment lies inside the street data" in page.text()
    )
    # streets are analysed whole: no flag, their district named
    for row in page.table("units-street")[1:]:
        assert "‡" not in row[0] and row[0].split()[-1] in ("黄浦区", "静安区")


def test_study_name_and_area_in_title_and_heading(sample_result):
    study = dataclasses.replace(
        sample_result.summary.study, name="静安 & 黄浦 <pilot>", area_km2=26.4
    )
    page = build_report(replace_summary(sample_result, study=study))
    title = "静安 &amp; 黄浦 &lt;pilot&gt;: 15-minute community life circle audit"
    assert f"<title>{title}</title>" in page and f"<h1>{title}</h1>" in page
    assert "Area analysed: 26.40 km²" in page
    page = build_report(replace_summary(sample_result, study=study), lang="zh")
    assert "<title>静安 &amp; 黄浦 &lt;pilot&gt;：15分钟社区生活圈评估</title>" in page
    assert "评估范围面积：26.40平方公里" in page
    study = dataclasses.replace(study, name=None, area_km2=None)
    page = build_report(replace_summary(sample_result, study=study))
    assert "<title>15-minute community life circle audit</title>" in page
    assert "Area analysed" not in page


def test_no_time_but_created(sample_result, report_en, tmp_path):
    assert build_report(sample_result) == report_en  # deterministic
    # neither stage timings nor the input files' time stamps reach the page
    files = []
    for i, stamp in enumerate((86_400, 1_700_000_000)):
        path = tmp_path / f"net{i}" / "streets.osm.pbf"
        path.parent.mkdir()
        path.write_bytes(b"x")
        os.utime(path, (stamp, stamp))
        files.append(str(path))
    pages = {
        build_report(
            replace_summary(
                sample_result,
                timings_s={"access": 98_765.4321 * (i + 1)},
                study=dataclasses.replace(sample_result.summary.study, network=f),
            )
        )
        for i, f in enumerate(files)
    }
    assert len(pages) == 1
    assert "98765" not in pages.pop() and "98,765" not in report_en
    # "created" is the one time shown
    other = build_report(replace_summary(sample_result, created="2001-02-03T04:05:00+00:00"))
    diff = [a for a, b in zip(report_en.splitlines(), other.splitlines(), strict=True) if a != b]
    assert len(diff) == 1 and "Audit of " in diff[0]
    assert "Audit of 2001-02-03 04:05 UTC" in other


def test_unverified_numbers_are_marked(sample_result, report_en):
    summary = sample_result.summary.to_json()
    std = sample_result.standard
    unverified = [
        c for c in summary["categories_audited"] if not summary["thresholds"][c]["verified"]
    ]
    assert unverified and "park" not in unverified  # the sample's standard
    rows = {r[0]: r for r in parse(section(report_en, "categories")).tables[0][1][1:]}
    for cat in summary["categories_audited"]:
        row = rows[std.category(cat).name_en]
        assert row[2].endswith("†") == (cat in unverified), cat  # threshold
        assert row[3].endswith("†") == (cat in unverified), cat  # coverage
    note = (
        f"† {len(unverified)} of the {len(summary['categories_audited'])} thresholds "
        f"audited have not been checked against the text of the standard (verified: false "
        f"in the standard file): {names(sample_result, unverified)}."
    )
    assert note in parse(section(report_en, "headline")).text()
    head = parse(report_en).table("units-street")[0]
    for cat in summary["categories_audited"]:
        label = f"{std.category(cat).name_en} ≤{summary['thresholds'][cat]['minutes']:g}′"
        assert (label + "†" in head) == (cat in unverified), cat
    assert "walking speed" not in parse(section(report_en, "headline")).text()
    # an unverified walking speed: every figure rests on it
    profile = dataclasses.replace(sample_result.summary.profile, verified=False)
    page = build_report(replace_summary(sample_result, profile=profile))
    assert (
        "The walking speed of the adult profile (1.2 m/s) has not been checked against "
        "its source (verified: false): every figure rests on it."
    ) in page
    assert "— not checked against its source (verified: false)" in section(page, "method")


@pytest.fixture(scope="module")
def siting(sample_result):
    from lifecircle.siting import SitingProblem

    return SitingProblem.from_audit(sample_result, "kindergarten").solve(sites=2)


def test_proposals_without_complete_life_circle_and_without_run_time(sample_result, siting):
    page = build_report(sample_result, siting=siting)
    part = section(page, "proposals")
    rows = {r[0]: r for r in parse(part).table("before-after")[1:]}
    missing = names(sample_result, SAMPLE_LACKS)
    assert rows[f"complete 15-minute life circle: not computed — missing: {missing}"][1:] == [
        "–",
        "–",
        "–",
    ]
    assert "kindergarten within 5 min†" in rows
    for level in sample_result.summary.to_json()["units"]["levels"]:
        head = parse(part).table(f"proposal-units-{level}")[0]
        assert not any("complete" in h for h in head)
    assert "HiGHS (highspy), time limit 60 s" in part
    # the solver's run time is not shown: the page does not change with it
    slower = dataclasses.replace(siting, runtime_s=1234.5678)
    assert build_report(sample_result, siting=slower) == page


# --------------------------------------------------------------------------- charts


def test_chart_labels_are_literal_text():
    labels = ["a$b$c", "_hidden", "x < y & z", "$\\foo$"]
    svg = _charts.coverage_bars(labels, [0.1, 0.2, 0.3, 0.4], title="t", xlabel="x")
    texts = [t for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.DOTALL)]
    assert "a$b$c" in texts and "$\\foo$" in texts  # no mathtext (and no crash)
    assert "x &lt; y &amp; z" in texts
    curve = _charts.Curve("_hidden", np.array([1.0]), np.array([1.0]), "#000000", 5.0)
    svg = _charts.cumulative_curves([curve], max_minutes=10, title="t", xlabel="x", ylabel="y")
    assert "_hidden</text>" in svg  # kept in the legend


@pytest.mark.parametrize(
    "bad",
    [
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><g onload="alert(1)"/></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><foreignObject><b>x</b></foreignObject></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        '<a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
        '<svg xmlns="http://www.w3.org/2000/svg"><text>a</text></svg><script>alert(1)</script>',
        "<div>not svg</div>",
    ],
)
def test_check_svg_refuses_script(bad):
    with pytest.raises(ValueError, match="chart"):
        _charts.check_svg(bad)


def test_unit_chart_is_capped_to_the_worst_served(sample_result, monkeypatch):
    import lifecircle.render.report as report_mod

    full = build_report(sample_result)  # 16 streets: under the cap, no caption
    assert "worst-served of the" not in full
    monkeypatch.setattr(report_mod, "CHART_MAX_UNITS", 5)
    words = {"en": "the 5 worst-served of the 16 units", "zh": "最差的 5 个单元（共 16 个）"}
    for lang, caption in words.items():
        page = build_report(sample_result, lang=lang)
        assert caption in page
        assert len(page) < len(full) or lang == "zh"  # five bars drawn instead of sixteen
