"""The complete-life-circle siting in the report and on the map (issue 11).

A tiny real audit (the district of ``test_optimize``, kindergartens only, the other
two categories greenfield) sited jointly and as complexes with
:class:`~lifecircle.complete_siting.CompleteSitingProblem`; the report's section and
the map's layer are checked against the solution's own figures, in English and
Chinese, and with hostile unit, category and candidate names.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from lifecircle.complete_siting import CompleteSitingProblem
from lifecircle.render._text import count, pct
from lifecircle.render.map import build_map
from lifecircle.render.report import build_report
from tests.conftest import HOSTILE_CATEGORY, HOSTILE_FACILITY, HOSTILE_UNIT, with_hostile_names
from tests.test_optimize import PLACEMENTS, random_candidates, tiny_audit, write_instance
from tests.test_render_map import island, layer_named

CATS = ["kindergarten", "convenience_store", "community_service"]


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    paths = write_instance(tmp_path_factory.mktemp("render-complete"), 2, PLACEMENTS[2])
    return tiny_audit(paths)


@pytest.fixture(scope="module")
def joint(result):
    problem = CompleteSitingProblem.from_audit(result, CATS, candidates=random_candidates(2, 7))
    return problem.solve(sites=3, tradeoff=(0.0, 1.0))


@pytest.fixture(scope="module")
def complexes(result):
    problem = CompleteSitingProblem.from_audit(result, CATS, candidates=random_candidates(2, 7))
    return problem.solve(sites=2, complex=True)


def section(page: str) -> str:
    """The text of the report's siting section, tags dropped, entities decoded."""
    start = page.index('<section id="proposals">')
    body = page[start : page.index("</section>", start)]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


def table(page: str, table_id: str) -> list[list[str]]:
    """The body rows of a table of the report, as cell texts."""
    start = page.index(f'id="{table_id}"')
    body = page[start : page.index("</table>", start)]
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td.*?</td>", r)]
        for r in rows
        if "<td" in r
    ]


# --------------------------------------------------------------------------- the report


def test_report_section_shows_the_solution_figures(joint, result):
    page = build_report(result, complete=joint)
    s = joint.summary()
    text = section(page)
    assert "Complete life circle siting" in text
    assert "Proposed sites" not in text  # the section is worded as its own
    assert f"{pct(s['complete_listed_before'])} → {pct(s['complete_listed_after'])}" in text
    assert count(s["newly_complete"]) in text
    assert "no guarantee" in text  # the greedy's missing guarantee is said
    # the comparison: joint first, then the single-category runs, their own figures
    rows = table(page, "proposal-units-complete-comparison")
    comp = s["comparison"]
    assert [r[0] for r in rows] == [
        "joint siting (this plan)",
        "best single-category runs (MCLP per category)",
    ]
    for row, key in zip(rows, ("joint", "single_category"), strict=True):
        fig = comp[key]
        assert row[1:5] == [
            count(fig["sites"]),
            count(fig["facilities"]),
            count(fig["newly_complete"]),
            pct(fig["complete_share_after"]),
        ]
    # the trade-off table: one row per weight, in order
    rows = table(page, "proposal-units-complete-tradeoff")
    assert [r[0] for r in rows] == ["0", "1"]
    for row, entry in zip(rows, s["tradeoff"], strict=True):
        assert row[1] == pct(entry["complete_share"])
        assert row[4] == pct(entry["worst_decile_share"])
    # one row per site, every hosted category named
    props = joint.proposals()
    ranked = table(page, "proposals-ranked")
    assert len(ranked) == len(props)
    for row, (_, site) in zip(ranked, props.sort_values("rank").iterrows(), strict=True):
        assert row[0] == str(site["rank"])
        assert row[1].startswith(site["site_id"] + ":")
        hosted = {c.strip() for c in row[1].split(":", 1)[1].split(",")}
        names = {result.standard.category(c).name_en for c in site["categories"].split(",")}
        assert hosted == names
        assert row[2] == count(site["marginal_newly_complete"])


def test_report_bound_says_whose_it_is(joint, result, monkeypatch):
    assert joint.bound_source == "highs"
    text = section(build_report(result, complete=joint))
    assert "HiGHS's dual bound" in text and "not the solver's" not in text
    # HiGHS stopped: the greedy's answer, and the bound of everything reachable
    from lifecircle import _location_models as lm

    monkeypatch.setattr(
        lm, "run_milp", lambda *a, **k: lm.SolverRun(stopped=True, message="stopped for the test")
    )
    greedy = joint.problem.solve(sites=3, compare=False)
    assert greedy.status == "greedy"
    assert greedy.bound_source in ("reachable", "category_gains")
    text = section(build_report(result, complete=greedy))
    assert "not the solver's" in text and "HiGHS's dual bound" not in text
    assert "greedy solution (the exact solver gave none)" in text


def test_report_complexes_compare_with_separate_sites(complexes, result):
    page = build_report(result, complete=complexes)
    rows = table(page, "proposal-units-complete-comparison")
    assert rows[0][0] == "service complexes (this plan)"
    assert rows[-1][0] == "joint siting on separate sites (2 per category)"
    sep = complexes.summary()["comparison"]["joint_separate"]
    assert rows[-1][4] == pct(sep["complete_share_after"])
    ranked = table(page, "proposals-ranked")
    assert all(r[1].endswith("(complex)") for r in ranked)
    assert "proposal-units-complete-tradeoff" not in page  # not computed: not shown


def test_report_in_chinese(joint, result):
    page = build_report(result, complete=joint, lang="zh")
    text = section(page)
    assert "完整生活圈选址" in text
    assert "同等预算逐类选址的对比" in text
    assert "效率与公平的权衡" in text
    assert "逐类最优选址" in text
    assert "幼儿园" in text  # the categories by their Chinese names


def test_report_refuses_a_solution_of_another_audit(joint, complexes, result):
    other = tiny_audit(
        {
            "network": joint.problem.result.inputs[0],
            "facilities": [joint.problem.result.inputs[1]],
            "units": joint.problem.result.inputs[2],
            "population": joint.problem.result.inputs[3],
        }
    )
    with pytest.raises(ValueError, match="another audit"):
        build_report(other, complete=joint)
    with pytest.raises(ValueError, match="not both"):
        build_report(result, complete=joint, siting=complexes)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- the map


def test_map_lists_every_hosted_category(joint, result):
    page = build_map(result, complete=joint, basemap="none")
    data = island(page.html)
    lay = layer_named(data, "Proposed sites for the complete life circle")
    (part,) = lay["parts"]
    props = joint.proposals()
    assert part["kind"] == "sites"
    assert part["rank"] == [int(r) for r in props["rank"]]
    assert len(part["xy"]) == len(props)
    for popup, cats in zip(part["popup"], props["categories"], strict=True):
        for c in cats.split(","):
            assert html.escape(result.standard.category(c).name_en) in popup
        for c in set(CATS) - set(cats.split(",")):
            assert result.standard.category(c).name_en not in popup
    assert "Proposed sites for the complete life circle" in data["legend"]


def test_map_marks_complexes_in_chinese(complexes, result):
    data = island(build_map(result, complete=complexes, basemap="none", lang="zh").html)
    lay = layer_named(data, "建议新增综合服务体")
    (part,) = lay["parts"]
    assert all("建议综合服务体 #" in tip for tip in part["tip"])
    assert all("幼儿园" in popup for popup in part["popup"])


# --------------------------------------------------------------------------- hostile names


def test_hostile_names_are_escaped(result):
    hostile = with_hostile_names(result)
    cand = random_candidates(2, 7)
    cand["name"] = [HOSTILE_FACILITY, *[f"c{i}" for i in range(1, 7)]]
    problem = CompleteSitingProblem.from_audit(hostile, CATS, candidates=cand)
    # as many complexes as candidates: the hostile one is among the sites
    sol = problem.solve(sites=7, complex=True, compare=False)
    assert np.asarray(sol.hosts).all()
    for lang in ("en", "zh"):
        page = build_report(hostile, complete=sol, lang=lang)
        for raw in (HOSTILE_UNIT, HOSTILE_CATEGORY, HOSTILE_FACILITY):
            assert raw not in page
        # the unit's name is in the section's per-unit table, escaped
        assert "&lt;script&gt;window.__xss=2&lt;/script&gt;" in page[page.index("complete-level") :]
        mapped = build_map(hostile, complete=sol, basemap="none", lang=lang)
        for raw in (HOSTILE_UNIT, HOSTILE_CATEGORY, HOSTILE_FACILITY):
            assert raw not in mapped.html
        (sites,) = [
            o for o in mapped.data["overlays"] if o["parts"] and o["parts"][0]["kind"] == "sites"
        ]
        popups = " ".join(sites["parts"][0]["popup"])
        assert html.escape(HOSTILE_FACILITY) in popups
        if lang == "en":
            assert html.escape(HOSTILE_CATEGORY) in popups
            assert "&lt;b onmouseover=" in page
