"""The planner's report: content, self-containment, language, escaping."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from markupsafe import escape

import lifecircle
from lifecircle.render._text import pct
from lifecircle.render.report import build_report, render_report
from tests.test_render_map import (
    HOSTILE_CATEGORY,
    HOSTILE_FACILITY,
    HOSTILE_UNIT,
    with_hostile_names,
)

SECTIONS = ("headline", "categories", "worst", "times", "tables", "gaps", "method", "warnings",
            "sources")


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
