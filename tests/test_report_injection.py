"""No data string ever becomes template or script source in report.html.

Every data-bearing field the report shows (category, level and standard texts from
the standard file; unit ids, names and parent names; the population method; the
study's name and files; warnings; data-quality entries; excluded units; the
optimizer's sites, notes and candidate source; cohort names, methods and sources,
the critical facilities' names, the worst-served decile's units, the closed facilities
and the --close file) carries a Jinja2 or HTML payload,
tagged with the field's name. The page must render, evaluate none of it (no
``1337`` from ``{{ 7*191 }}``, no ``xxx`` from the loop) and show each tagged
payload literally as text, charts (inline SVG) included. One headless-Chromium test
checks that no payload runs.
"""

from __future__ import annotations

import copy
import dataclasses
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import lifecircle
from lifecircle.render.report import build_report, render_report
from lifecircle.siting import Siting, SitingProblem
from lifecircle.summary import ExcludedUnit
from tests.test_browser import CHROMIUM, open_page
from tests.test_browser import browser as browser  # the shared fixture

PAYLOADS = (
    "{{ 7*191 }}",
    "{% for x in range(3) %}x{% endfor %}",
    "{#",
    "</script><script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
)

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)


def tagged(field: str, payload: str) -> str:
    return f"[{field}]{payload}"


class _Stub:
    """A solved siting whose reported fields are replaced (what the report reads)."""

    def __init__(self, siting: Siting, result: lifecircle.AuditResult, payload: str) -> None:
        self.result = result
        self.model = siting.model
        self.category = siting.category
        self.options = dict(siting.options)
        summary = copy.deepcopy(siting.summary())
        summary["notes"] = [tagged("site-note", payload)]
        summary["candidate_source"] = tagged("candidate-source", payload)
        summary["solver"] = tagged("solver", payload)
        for unit in summary["units"]:
            unit["unit_id"] = tagged("site-unit-id", payload)
            unit["name"] = tagged("site-unit-name", payload)
        self._summary = summary
        props = siting.proposals()
        props["site_id"] = [tagged(f"site-id-{i}", payload) for i in range(len(props))]
        self._proposals = props

    def summary(self) -> dict[str, Any]:
        return self._summary

    def proposals(self):
        return self._proposals


def hostile(
    result: lifecircle.AuditResult, payload: str, *, path_safe: bool = True
) -> tuple[lifecircle.AuditResult, list[str]]:
    """``result`` with ``payload`` in every data-bearing field; the tagged strings shown."""
    t = lambda field: tagged(field, payload)  # noqa: E731 - short and local
    std = result.standard
    categories = tuple(
        dataclasses.replace(c, name_en=t("category-en"), name_zh=t("category-zh"))
        if c.id == "kindergarten"
        else c
        for c in std.categories
    )
    levels = tuple(
        dataclasses.replace(lv, name_en=t("level-en"), name_zh=t("level-zh"))
        if lv.id == "10min"
        else lv
        for lv in std.levels
    )
    std = dataclasses.replace(std, categories=categories, levels=levels)

    units = {level: frame.copy() for level, frame in result.units.items()}
    district, street = units["district"], units["street"]
    row = district.index[district["units_analysed"] > 0][0]
    district.loc[row, "name"] = t("parent-name")
    streets = street.index[street["units_analysed"] > 0]
    street.loc[streets[0], "name"] = t("unit-name")
    street.loc[streets[1], "unit_id"] = t("unit-id")
    worst = street.index[street["decile"] == 1]
    street.loc[worst[0], "name"] = t("worst-unit-name")  # in the worst-served decile table
    gaps = result.gaps.copy()
    gaps.loc[gaps.index[0], "name"] = t("gap-name")

    old = result.summary
    assert old.data_quality is not None and old.completeness is not None
    study = dataclasses.replace(old.study, name=t("study-name"))
    if path_safe:  # file names: only the last part of a path is shown
        study = dataclasses.replace(study, facilities=(f"/data/{t('facility-file')}.csv",))
    summary = dataclasses.replace(
        old,
        study=study,
        standard=dataclasses.replace(
            old.standard,
            title=t("standard-title"),
            title_zh=t("standard-title"),
            source=t("standard-source"),
        ),
        profile=dataclasses.replace(old.profile, source=t("profile-source")),
        thresholds={
            **old.thresholds,
            "park": dataclasses.replace(old.thresholds["park"], source=t("threshold-source")),
        },
        population=dataclasses.replace(
            old.population,
            method=t("population-method"),
            sources={t("population-source"): 1.0, **old.population.sources},
        ),
        warnings=(*old.warnings, t("warning")),
        data_quality=dataclasses.replace(
            old.data_quality,
            unknown_typecodes={t("typecode"): 3},
            units_without_population=(t("unit-without-population"),),
            categories_without_facilities=(t("category-id-quality"),),
        ),
        units=dataclasses.replace(
            old.units,
            excluded=(
                ExcludedUnit(
                    unit_id=t("excluded-id"), name=t("excluded-name"), reason=t("excluded-reason")
                ),
            ),
        ),
        categories_not_audited_reason={
            **(old.categories_not_audited_reason or {}),
            t("category-id-not-requested"): "not_requested",
        },
        completeness={
            level: dataclasses.replace(
                status, missing=(*status.missing, t("category-id-missing")), computed=False
            )
            for level, status in old.completeness.items()
        },
        attribution=t("attribution"),
        cohorts={
            cid: {
                **info,
                "name": t("cohort-en"),
                "name_zh": t("cohort-zh"),
                "text": t("cohort-text"),
                "text_zh": t("cohort-text"),
                "source": t("cohort-source"),
            }
            for cid, info in old.cohorts.items()
        },
        critical_facilities=tuple(
            {**f, "name": t("critical-name")} for f in old.critical_facilities
        ),
        closure={
            "file": f"/data/{t('close-file')}.csv" if path_safe else "/data/close.csv",
            "closed": [{"facility_id": 7, "category": "park", "name": t("closed-name")}],
            "coverage_before": {"park": 0.9},
            "coverage_after": {"park": 0.8},
        },
    )
    shown = [
        t(f)
        for f in (
            "category-en",
            "level-en",
            "parent-name",
            "unit-name",
            "unit-id",
            "gap-name",
            "study-name",
            "standard-title",
            "standard-source",
            "profile-source",
            "threshold-source",
            "population-method",
            "population-source",
            "warning",
            "typecode",
            "unit-without-population",
            "category-id-quality",
            "excluded-id",
            "excluded-name",
            "excluded-reason",
            "category-id-not-requested",
            "category-id-missing",
            "attribution",
            "worst-unit-name",
            "cohort-en",
            "cohort-text",
            "cohort-source",
            "critical-name",
            "closed-name",
        )
    ]
    if path_safe:
        shown += [f"{t('facility-file')}.csv", f"{t('close-file')}.csv"]
    return dataclasses.replace(result, standard=std, units=units, gaps=gaps, summary=summary), shown


class _Text(HTMLParser):
    """Text nodes (entities decoded), elements and attributes of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[str] = []
        self.scripts: list[str] = []
        self._in: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(name for name, _ in attrs)
        self._in.append(tag)

    def handle_endtag(self, tag):
        if tag in self._in:
            while self._in.pop() != tag:
                pass

    def handle_data(self, data):
        if self._in and self._in[-1] == "script":
            self.scripts.append(data)
        elif not (self._in and self._in[-1] == "style"):
            self.texts.append(data)


@pytest.fixture(scope="module")
def siting(sample_result) -> Siting:
    return SitingProblem.from_audit(sample_result, "kindergarten").solve(sites=2)


@pytest.fixture(scope="module")
def clean_scripts(sample_result) -> list[str]:
    parser = _Text()
    parser.feed(build_report(sample_result))
    return parser.scripts


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_show_as_text(sample_result, siting, clean_scripts, payload, lang):
    result, shown = hostile(sample_result, payload, path_safe="/" not in payload)
    stub = _Stub(siting, result, payload)
    page = build_report(result, lang=lang, siting=stub)  # type: ignore[arg-type]
    parser = _Text()
    parser.feed(page)
    parser.close()
    texts = parser.texts
    joined = "\n".join(texts)
    # nothing was evaluated
    assert "1337" not in joined
    assert "xxx" not in joined and "xxx" not in page
    # every field shows its payload literally, as text
    if lang == "zh":
        shown = [
            s.replace("[category-en]", "[category-zh]")
            .replace("[level-en]", "[level-zh]")
            .replace("[cohort-en]", "[cohort-zh]")
            for s in shown
        ]
    shown += [
        tagged(f, payload)
        for f in (
            "site-note",
            "candidate-source",
            "solver",
            "site-id-0",
            "site-id-1",
            "site-unit-id",
        )
    ]
    for text in shown:
        assert text in joined, text
    # the category name is drawn in the charts as SVG text, escaped
    svg = page.split('<svg class="chart"', 1)[1].split("</svg>")[0]
    assert tagged("category-zh" if lang == "zh" else "category-en", "") in svg
    # no element or attribute came from data: one script, the page's own
    assert parser.scripts == clean_scripts
    assert parser.tags.count("script") == 1
    assert "img" not in parser.tags
    assert not [a for a in parser.attrs if a.startswith("on")]
    assert "__pwned" not in "".join(parser.scripts)


@needs_chromium
def test_payloads_never_run_in_a_browser(browser, sample_result, siting, tmp_path):
    payload = PAYLOADS[3] + PAYLOADS[4]
    result, _ = hostile(sample_result, payload, path_safe=False)
    path = render_report(result, tmp_path / "report.html", siting=_Stub(siting, result, payload))  # type: ignore[arg-type]
    page, visit = open_page(browser, Path(path))
    assert visit.errors == [] and visit.blocked == []
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 1
    body = page.locator("body").inner_text()
    for text in (
        tagged("unit-name", payload),
        tagged("warning", payload),
        tagged("study-name", payload),
        tagged("site-note", payload),
    ):
        assert text in body, text
    assert page.title().startswith(tagged("study-name", payload))
    page.close()
