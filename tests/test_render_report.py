"""The planner's report: content, self-containment, language, escaping."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from markupsafe import escape

import lifecircle
from lifecircle.render._quality import MAX_LISTED
from lifecircle.render._text import count, pct
from lifecircle.render.report import build_report, render_report
from tests.conftest import HOSTILE_CATEGORY, HOSTILE_FACILITY, HOSTILE_UNIT, with_hostile_names

SECTIONS = ("headline", "categories", "worst", "times", "tables", "gaps", "method", "quality",
            "warnings", "sources")


@pytest.fixture(scope="module")
def report_en(sample_result) -> str:
    return build_report(sample_result)


@pytest.fixture(scope="module")
def report_zh(sample_result) -> str:
    return build_report(sample_result, lang="zh")


def test_sections_and_headline(sample_result, report_en):
    summary = sample_result.summary
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
    summary = sample_result.summary
    for cat, th in summary["thresholds"].items():
        assert f"<td class=\"num\">{th['metres']:.0f}</td>" in report_en, cat
    assert f"{summary['profile']['speed_m_s']:g} m/s" in report_en
    assert escape(summary["population"]["method"]) in report_en
    for warning in summary["warnings"]:
        assert escape(warning) in report_en
    for excluded in summary["units"]["excluded"]:
        assert escape(excluded["reason"]) in report_en
    assert "© OpenStreetMap contributors" in report_en
    assert "ODbL" in report_en


def test_charts_are_inline_svg_with_text(report_en):
    assert report_en.count('<svg class="chart"') == 3
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
    for cat in sample_result.summary["categories_audited"]:
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
    rows = re.findall(r"<tr( class=\"zero\")?><td>(.*?)</td><td class=\"num\">(.*?)</td>\s*"
                      r"<td>(.*?)</td></tr>", body, flags=re.DOTALL)
    return {label: (zero, value, cell) for zero, label, value, cell in rows}


def with_quality(result: lifecircle.AuditResult, max_snap_m: float | None = None,
                 **figures) -> lifecircle.AuditResult:
    """``result`` with some data-quality figures (and the snap distance) replaced."""
    summary = dict(result.summary)
    summary["data_quality"] = {**summary["data_quality"], **figures}
    if max_snap_m is not None:
        summary["settings"] = {**summary["settings"], "max_snap_m": max_snap_m}
    return dataclasses.replace(result, summary=summary)


def test_data_quality_section(sample_result, report_en):
    quality = sample_result.summary["data_quality"]
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
        "Resident locations more than 500 m from the walk network":
            quality["origins_beyond_max_snap"],
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
        hostile, max_snap_m=300.0, duplicates_merged={"kindergarten": 2, "park": 5},
        unknown_typecodes={"<b>090101</b>": 3, "050000": 7},
        units_without_population=[unit, "no-such-unit"], origins_beyond_max_snap=4,
        population_beyond_max_snap=1234.4)
    page = build_report(result)
    rows = quality_rows(page)
    zero, value, cell = rows["Duplicate facilities merged"]
    assert not zero and value == "7"
    assert (f"<span>park or public green: 5</span> · <span>{escape(HOSTILE_CATEGORY)}: 2</span>"
            in cell)  # names, most first
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
    missing = len(sample_result.summary["data_quality"]["units_without_population"])
    assert f"……另有{missing - MAX_LISTED}项" in rows["无居民的单元"][2]
    assert "Data quality" not in report_zh
    # a summary.json from before the data-quality figures: no section, no link
    summary = {k: v for k, v in sample_result.summary.items() if k != "data_quality"}
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
