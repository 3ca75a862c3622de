"""Fair service in report.html and map.html: cohort coverage, supply-demand, equity,
critical facilities, data completeness and closures, as the audit computed them."""

from __future__ import annotations

import dataclasses
import html
import re
from html.parser import HTMLParser

import numpy as np
import pytest

import lifecircle
from lifecircle.render import _charts
from lifecircle.render._text import count, pct
from lifecircle.render.map import build_map
from lifecircle.render.report import build_report
from tests.test_render_map import fill_of, render_popup, render_tip

FAIR_SECTIONS = ("supply", "equity", "critical", "sure")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("style", "script", "svg"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("style", "script", "svg"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def section(page: str, name: str) -> str:
    """A section's text (entities decoded, charts and tags left out, spaces collapsed)."""
    m = re.search(rf'<section id="{name}">(.*?)</section>', page, re.DOTALL)
    assert m, name
    parser = _Text()
    parser.feed(m.group(1))
    return re.sub(r"\s+", " ", " ".join(parser.parts))


def rows(page: str, table_id: str) -> list[list[str]]:
    """Cell texts of a table's body rows, by the table's id."""
    m = re.search(rf'<table[^>]*id="{table_id}".*?<tbody>(.*?)</tbody>', page, re.DOTALL)
    assert m, table_id
    out = []
    for tr in re.findall(r"<tr.*?</tr>", m.group(1), re.DOTALL):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.DOTALL)
        out.append([html.unescape(re.sub(r"<[^>]+>", " ", c)).split() for c in cells])
    return [[" ".join(c) for c in r] for r in out]


@pytest.fixture(scope="module")
def page_en(sample_result) -> str:
    return build_report(sample_result)


@pytest.fixture(scope="module")
def page_zh(sample_result) -> str:
    return build_report(sample_result, lang="zh")


def test_every_fair_section_is_there(page_en):
    for name in FAIR_SECTIONS:
        assert f'<section id="{name}">' in page_en
        assert f'href="#{name}"' in page_en
    assert '<section id="closure">' not in page_en  # no --close


def test_headline_cohort_next_to_all_residents(sample_result, page_en):
    summary = sample_result.summary
    head = section(page_en, "headline")
    kg = summary.fair_service["kindergarten"]
    # "kindergarten — children aged 3-5: 11.1%† · all residents: 11.0%†"
    assert (
        f"kindergarten — children aged 3-5: {pct(kg.covered_share)}† · "
        f"all residents: {pct(summary.coverage['kindergarten'])}†"
    ) in head
    for cat, s in summary.fair_service.items():
        name = sample_result.standard.category(cat).name_en
        assert f"{name} — " in head, cat
        if s.cohort == "all":
            assert f"{name} — all residents: {pct(summary.coverage[cat])}" in head
    # the thin-data flag sits next to the thin category's figure, not only in the warnings
    d = summary.data_completeness["kindergarten"]
    assert d.thin
    line = head.split("kindergarten — ", 1)[1].split("primary school — ", 1)[0]
    assert "likely a data gap, add an official list" in line
    assert f"{d.found} found" in line
    assert f"{d.per_10k_residents:.2f} per 10,000" in line
    assert f"about {d.expected_per_10k_residents:.2f}† expected" in line  # unverified
    thin = [c for c, x in summary.data_completeness.items() if x.thin]
    assert head.count("likely a data gap") == len(thin)


def test_supply_and_demand_figures(sample_result, page_en):
    summary = sample_result.summary
    text = section(page_en, "supply")
    for cat, s in summary.fair_service.items():
        assert count(s.demand) in text, cat
        assert pct(s.placed_share) in text, cat
        assert count(s.unmet) in text, cat
    kg = summary.fair_service["kindergarten"]
    assert f"{kg.supply_per_1000:,.0f} places†" in text  # default capacity: unverified
    assert "standard's default per facility†" in text
    assert "none: facilities counted" in text  # categories without a capacity
    # the per-street table: finest analysed units, largest unmet first, top 20
    units = sample_result.units["street"]
    analysed = units[units["units_analysed"] > 0]
    capacity = [c for c, s in summary.fair_service.items() if s.capacity_from != "none"]
    assert capacity == ["kindergarten", "primary_school", "junior_high_school", "health_center"]
    total = analysed[[f"unmet_{c}" for c in capacity]].sum(axis=1)
    expected = analysed.assign(t=total).sort_values(["t", "unit_id"], ascending=[False, True])
    table = rows(page_en, "supply-units")
    assert len(table) == min(20, len(analysed))
    for got, (_, unit) in zip(table, expected.iterrows(), strict=False):
        assert got[0].startswith(unit["name"])
        assert got[1] == count(unit["population"])
        for i, c in enumerate(capacity):
            assert got[2 + 2 * i] == pct(unit[f"placed_{c}"])
            assert got[3 + 2 * i] == count(unit[f"unmet_{c}"])


def test_equity_figures_chart_table_and_sentence(sample_result, page_en):
    summary = sample_result.summary
    text = section(page_en, "equity")
    for cat, s in summary.fair_service.items():
        res, units = s.equity_residents, s.equity_units
        for value in (res["gini"], res["theil"]["total"], units["gini"]):
            assert f"{value:.3f}" in text, cat
        if res["theil"]["between"] is not None:
            assert f"{res['theil']['between']:.3f}" in text
            assert f"{res['theil']['within']:.3f}" in text
    score = summary.equity["score"]
    assert f"{score['gini']:.3f}" in text
    # a Lorenz chart: the score and the categories with a capacity
    body = page_en.split('<section id="equity">', 1)[1].split("</section>", 1)[0]
    assert body.count('<svg class="chart"') == 1
    assert "score over streets / towns" in body
    assert "kindergarten: 2SFCA over residents" in body
    assert "fresh-food market: 2SFCA" not in body
    # the worst-served decile: decile 1 of the finest analysed units, worst first
    units = sample_result.units["street"]
    worst = units[units["decile"] == 1].sort_values("rank")
    assert sorted(worst["unit_id"]) == sorted(summary.equity["worst_served_units"])
    table = rows(page_en, "worst-decile")
    assert [r[0].split()[0] for r in table] == list(worst["name"])
    assert [r[2] for r in table] == [pct(s) for s in worst["score"]]
    # one sentence a planner can quote, from the numbers
    best = units[units["decile"] == units["decile"].max()]

    def mean(frame):
        return (frame["score"] * frame["population"]).sum() / frame["population"].sum()

    n = int((units["units_analysed"] > 0).sum())
    sentence = (
        f"The worst-served tenth of streets / towns ({len(worst)} of {n}, "
        f"{count(worst['population'].sum())} residents) reach {pct(mean(worst), 0)} of the "
        f"mandatory categories audited on average, against {pct(mean(best), 0)} in the "
        f"best-served tenth ({len(best)} of {n}); the Gini of the score across streets / "
        f"towns is {score['gini']:.2f}."
    )
    assert sentence in text


def test_critical_facilities(sample_result, page_en):
    text = section(page_en, "critical")
    crit = sample_result.summary.critical_facilities
    assert crit
    for f in crit:
        assert (
            f"#{f['facility_id']} {count(f['sole_dependants'])} {count(f['demand_in_reach'])}"
            in (text)
        )
        assert (f["name"] or "(unnamed)") in text


def test_how_sure(sample_result, page_en):
    text = section(page_en, "sure")
    for cat, d in sample_result.summary.data_completeness.items():
        name = sample_result.standard.category(cat).name_en
        assert f"{name} " in text
        assert f"{d.per_10k_residents:.2f}" in text
        assert f"{d.per_10k_cohort:.1f}" in text
        if d.expected_per_10k_residents is not None:
            mark = "" if d.expected_verified else "†"
            assert f"{d.expected_per_10k_residents:.2f}{mark}" in text
    assert "thin: likely a data gap" in text
    for info in sample_result.summary.cohorts.values():
        assert info["text"] in text
        assert "derived from age bands" in text  # the sample's cohorts come from age bands


def test_chinese_page(sample_result, page_zh):
    for name in FAIR_SECTIONS:
        assert f'<section id="{name}">' in page_zh
    head = section(page_zh, "headline")
    kg = sample_result.summary.fair_service["kindergarten"]
    assert f"幼儿园 — 3-5岁幼儿：{pct(kg.covered_share)}†" in head
    assert "可能是数据缺失" in head
    for key in ("供需", "公平性", "关键设施", "数据可信度"):
        assert key in page_zh
    assert "Supply and demand" not in page_zh and "likely a data gap" not in page_zh
    assert "服务最差的十分之一" in section(page_zh, "equity")


def test_no_fair_sections_without_the_figures(sample_result):
    bare = dataclasses.replace(
        sample_result, summary=dataclasses.replace(sample_result.summary, fair_service={})
    )
    page = build_report(bare)
    for name in (*FAIR_SECTIONS, "closure"):
        assert f'<section id="{name}">' not in page
    assert "likely a data gap" not in page


@pytest.fixture(scope="module")
def closed_result(sample_result, tmp_path_factory) -> lifecircle.AuditResult:
    ids = [f["facility_id"] for f in sample_result.summary.critical_facilities[:2]]
    path = tmp_path_factory.mktemp("close") / "close.csv"
    path.write_text("facility_id\n" + "\n".join(map(str, ids)) + "\n", encoding="utf-8")
    return lifecircle.audit(close=path)


def test_closure_section(closed_result):
    page = build_report(closed_result)
    assert '<section id="closure">' in page and 'href="#closure"' in page
    text = section(page, "closure")
    closure = closed_result.summary.closure
    assert closure is not None
    assert "2 facilities closed (listed in close.csv)" in text
    for f in closure["closed"]:
        assert f"#{f['facility_id']}" in text
    for cat, before in closure["coverage_before"].items():
        after = closure["coverage_after"][cat]
        assert f"{pct(before)} {pct(after)} {100 * (after - before):+.1f} pp" in text, cat
    table = rows(page, "closure-units")
    top = closed_result.closure.head(20)
    assert len(table) == len(top) > 0
    for got, (_, row) in zip(table, top.iterrows(), strict=True):
        assert got[0] == row["name"]
        assert got[4:] == [pct(row["share_before"]), pct(row["share_after"]),
                           count(row["lose_coverage"])]  # fmt: skip
    assert "设施关闭影响" in build_report(closed_result, lang="zh")


def test_lorenz_chart_is_safe_svg_with_literal_labels():
    svg = _charts.lorenz_curves(
        [_charts.Lorenz("$x$ <b>", np.linspace(0, 1, 21), np.linspace(0, 1, 21) ** 2, "#123456")],
        title="t",
        xlabel="x",
        ylabel="y",
        equal="=",
    )
    assert _charts.check_svg(svg) == svg
    assert "$x$ &lt;b&gt;" in svg


# --------------------------------------------------------------------------- the map


@pytest.fixture(scope="module")
def map_data(sample_result) -> dict:
    return build_map(sample_result, basemap="none").data


def test_map_service_themes(sample_result, map_data):
    from lifecircle.render._style import share_colour

    summary = sample_result.summary
    names = [t["name"] for t in map_data["themes"]]
    cohort = [c for c, s in summary.fair_service.items() if s.cohort != "all"]
    capacity = [c for c, s in summary.fair_service.items() if s.capacity_from != "none"]
    assert len(names) == len(summary.categories_audited) + len(cohort) + len(capacity)
    assert "kindergarten: children aged 3-5 within 5 min" in names
    assert "kindergarten: children aged 3-5 with a place (capacity)" in names
    units = sample_result.units["street"].query("analysed").reset_index(drop=True)
    by_name = {t["name"]: t for t in map_data["themes"]}
    checks = [(f"{sample_result.standard.category(c).name_en}: ", f"cohort_cov_{c}", None)
              for c in cohort]  # fmt: skip
    for c in capacity:
        cat_name = sample_result.standard.category(c).name_en
        checks.append((f"{cat_name}: ", f"placed_{c}", f"unmet_{c}"))
    for prefix, column, unmet in checks:
        suffix = "with a place (capacity)" if unmet else "min"
        (theme,) = [t for n, t in by_name.items() if n.startswith(prefix) and n.endswith(suffix)]
        part = theme["parts"][0]
        assert part["shared"] and len(theme["parts"]) == 1  # units only: small
        for i, row in units.iterrows():
            tip = render_tip(map_data, part, i)
            assert fill_of(part, i) == share_colour(row[column])
            assert f"<b>{pct(row[column])}</b>" in tip
            if unmet:
                assert f"{count(row[unmet])} without a place" in tip
    # the shared popup carries placed and unmet
    popup = render_popup(map_data["units"]["popup"], 0)
    row = units.iloc[0]
    assert f"kindergarten: without a place</th><td>{count(row['unmet_kindergarten'])}" in popup
    assert f"kindergarten: with a place</th><td>{pct(row['placed_kindergarten'])}" in popup


def test_map_service_themes_in_chinese(sample_result):
    data = build_map(sample_result, lang="zh", basemap="none").data
    names = [t["name"] for t in data["themes"]]
    assert "5分钟内可达幼儿园的3-5岁幼儿" in names
    assert "幼儿园：3-5岁幼儿获分配比例（按容量）" in names
