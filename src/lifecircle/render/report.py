"""The planner's report: one self-contained, printable HTML file.

Headline figures, categories ranked by shortfall, the worst-served units,
charts (inline SVG from matplotlib), sortable per-level unit tables, the
largest gaps, the method, data quality (when ``summary.json`` has it),
warnings and data sources with their licences.
With a solved :class:`~lifecircle.siting.SitingSolution`, a "Proposed sites" section
follows the headline: model, solver status, candidates, coverage before and
after, the ranked sites, per-unit before / after and the optimizer's notes.
The page makes no request: CSS, charts and the few lines of sorting script
are inline. Data strings reach the page only through Jinja2's autoescaping of a
static template (never as template source); the charts, the one markup inlined
as is, are matplotlib SVG with XML-escaped text, checked by
:func:`~lifecircle.render._charts.check_svg`.

The report says what was audited: complete life circles that could not be
computed (a mandatory category not audited) are shown as "not computed — missing:
…", never as a share; categories not audited are "not requested" or "no
facilities in the data"; coarser units only partly analysed are flagged; figures
resting on thresholds or a walking speed not checked against their source are
marked. It shows no time but ``summary.created``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from .. import columns
from ..datasets import SAMPLES, get_path
from . import _charts
from ._assets import ASSETS, read_text
from ._page import check_siting, write_html
from ._quality import quality_rows
from ._style import category_colours, share_colour
from ._text import (
    _TEXT,
    category_name,
    check_lang,
    count,
    level_name,
    life_circle_name,
    pct,
    profile_name,
    text,
)

if TYPE_CHECKING:
    from ..pipeline import AuditResult
    from ..siting import SitingSolution
    from ..summary import StudyInfo

__all__ = ["build_report", "render_report"]

#: Rows in the worst-served units and gaps sections.
WORST_UNITS = 10
TOP_GAPS = 20
#: Marks a figure resting on a threshold not checked against the standard's text.
UNVERIFIED = "†"
#: Marks a unit only partly analysed (some of its finest units left out).
PARTLY = "‡"
#: Marks a unit analysed although part of its walking catchment leaves the street data.
EDGE = "§"


def render_report(
    result: AuditResult, path: str | Path, *, lang: str = "en", siting: SitingSolution | None = None
) -> Path:
    """Write the audit's report as one self-contained HTML file.

    Parameters
    ----------
    result
        An audit result (:func:`lifecircle.audit`).
    path
        The HTML file to write (atomically).
    lang
        ``"en"`` or ``"zh"``.
    siting
        A solved :class:`~lifecircle.siting.SitingSolution` built from ``result``: adds the
        "Proposed sites" section (see :meth:`lifecircle.siting.SitingSolution.to_report`).

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import lifecircle
    >>> from lifecircle.render.report import render_report
    >>> render_report(lifecircle.audit(), "report.html", lang="zh")  # doctest: +SKIP
    """
    return write_html(path, build_report(result, lang=lang, siting=siting))


def build_report(
    result: AuditResult, *, lang: str = "en", siting: SitingSolution | None = None
) -> str:
    """The report's HTML, as a string (see :func:`render_report`)."""
    check_lang(lang)
    if siting is not None:
        check_siting(result, siting)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ASSETS),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    report = _Report(result, lang)
    proposals = None if siting is None else _Proposals(report, siting).context()
    return env.get_template("report.html.j2").render(
        lang=lang, t=report.t, css=read_text("report.css"), proposals=proposals, **report.context()
    )


@dataclass
class _Cell:
    """A table cell: what is shown, the key it sorts by, and optional small print.

    ``sub`` is shown muted after the value (a unit's parent), ``flag`` as a
    warning (a unit only partly analysed). All are plain text: the template escapes.
    """

    shown: str
    key: float | str
    sub: str = ""
    flag: str = ""

    @classmethod
    def share(cls, value: Any, mark: str = "") -> _Cell:
        return cls(pct(value) + (mark if _present(value) else ""), _number(value))

    @classmethod
    def count(cls, value: Any) -> _Cell:
        return cls(count(value), _number(value))

    @classmethod
    def label(cls, value: Any) -> _Cell:
        return cls(str(value), str(value))


def _present(value: Any) -> bool:
    """Whether a figure is there (not ``None``, not NaN)."""
    return value is not None and not pd.isna(value)


def _number(value: Any) -> float:
    """Sort key of a number; missing values sort first."""
    return round(float(value), 6) if _present(value) else -1.0


@dataclass(frozen=True)
class _Completeness:
    """A life-circle level's completeness: computed or not, and on which categories."""

    level: str
    name: str
    categories: tuple[str, ...]
    missing: tuple[str, ...]
    computed: bool
    share: float | None

    @property
    def column(self) -> str:
        return columns.complete(self.level)


class _Report:
    """Everything the template shows, computed from an audit result."""

    def __init__(self, result: AuditResult, lang: str) -> None:
        self.result = result
        self.lang = lang
        self.summary = result.summary
        self.std = result.standard
        self.categories: list[str] = list(self.summary.categories_audited)
        self.levels: list[str] = list(self.summary.units.levels)
        self.colours = category_colours(self.std.category_ids)
        self.completeness = self._completeness()
        #: The top life-circle level (every mandatory category), if the standard has one.
        self.top = self.completeness[-1] if self.completeness else None

    def t(self, key: str, **values: Any) -> str:
        return text(key, self.lang, **values)

    def cat(self, category: str) -> str:
        try:
            return category_name(self.std, category, self.lang)
        except (KeyError, ValueError):  # not in this standard: show the id
            return str(category)

    def cats(self, categories: Any) -> str:
        """Names of categories as one list."""
        return self.t("list_sep").join(self.cat(c) for c in categories)

    def minutes(self, category: str) -> float:
        return float(self.summary.thresholds[category].minutes)

    def mark(self, category: str) -> str:
        """:data:`UNVERIFIED` if the category's threshold is not checked against the text."""
        th = self.summary.thresholds.get(category)
        return UNVERIFIED if th is not None and not th.verified else ""

    def level_mark(self, info: _Completeness) -> str:
        """:data:`UNVERIFIED` if a level's completeness rests on an unverified threshold."""
        return UNVERIFIED if any(self.mark(c) for c in info.categories) else ""

    # ------------------------------------------------------------------ what was audited

    def _completeness(self) -> list[_Completeness]:
        """Per life-circle level (increasing minutes): computed or not, and what is missing.

        From ``summary.completeness``; a summary from before it counts a level as
        computed when it has a figure, and lists as missing the mandatory categories
        of the level and below that were not audited (the figure then leaves them out).
        """
        given = self.summary.completeness
        by_level = self.summary.complete_by_level
        audited = set(self.categories)
        out = []
        for lv in sorted(self.std.levels, key=lambda level: level.minutes):
            cats = [
                c.id
                for c in self.std.categories
                if c.mandatory and self.std.level(c.level).minutes <= lv.minutes
            ]
            if given is not None:
                entry = given.get(lv.id)
                if entry is None:
                    continue  # no mandatory category at this level or below
                cats = [str(c) for c in entry.categories]
                missing = [str(c) for c in entry.missing]
                computed = bool(entry.computed) and not missing
            else:
                if not cats:
                    continue
                missing = [c for c in cats if c not in audited]
                computed = _present(by_level.get(lv.id))
            share = by_level.get(lv.id) if computed else None
            out.append(
                _Completeness(
                    lv.id,
                    life_circle_name(self.std, lv.id, self.lang),
                    tuple(cats),
                    tuple(missing),
                    computed and _present(share),
                    share,
                )
            )
        return out

    def not_audited(self) -> dict[str, list[str]]:
        """Categories of the standard not audited, by reason (``not_requested``, ``no_facilities``).

        From ``summary.categories_not_audited_reason``; a summary from before it
        says "no facilities" for the categories the data-quality figures list as such
        (all of them when it has none) and "not requested" for the others.
        """
        summary = self.summary
        reasons = summary.categories_not_audited_reason
        if reasons is None:
            quality = summary.data_quality
            without = quality.categories_without_facilities if quality is not None else None
            reasons = {
                c: ("no_facilities" if without is None or c in without else "not_requested")
                for c in summary.categories_not_audited
            }
        out: dict[str, list[str]] = {"not_requested": [], "no_facilities": []}
        for cat, reason in reasons.items():
            out["not_requested" if reason == "not_requested" else "no_facilities"].append(cat)
        return out

    def complete_columns(self) -> list[tuple[_Completeness, str]]:
        """The units' ``complete_<level>`` columns that were computed, with their headings."""
        frame = self.result.units[self.levels[-1]]
        return [
            (
                info,
                self.t("col_complete", minutes=f"{self.std.level(info.level).minutes:g}")
                + self.level_mark(info),
            )
            for info in self.completeness
            if info.computed and info.column in frame.columns
        ]

    def complete_notes(self) -> list[str]:
        """Which complete life circles were not computed (or leave categories out), and why.

        Levels missing the same categories share one line.
        """
        groups: dict[tuple[bool, tuple[str, ...]], list[str]] = {}
        for info in self.completeness:
            if not info.computed or info.missing:
                groups.setdefault((info.computed, info.missing), []).append(info.name)
        sep = self.t("list_sep")
        return [
            self.t(
                "complete_partial_note" if computed else "complete_not_computed",
                levels=sep.join(names),
                missing=self.cats(missing),
            )
            for (computed, missing), names in groups.items()
        ]

    def _top_computed(self) -> bool:
        return (
            self.top is not None
            and self.top.computed
            and "complete_share" in self.result.units[self.levels[-1]].columns
        )

    def context(self) -> dict[str, Any]:
        summary = self.summary
        std_title = summary.standard.title_zh if self.lang == "zh" else summary.standard.title
        prof = summary.profile
        created = dt.datetime.fromisoformat(summary.created)
        if created.tzinfo is not None:
            created = created.astimezone(dt.timezone.utc)
        name = summary.study.name
        title = self.t("title_study", name=name) if name else self.t("title")
        area = summary.study.area_km2
        return {
            "title": title,
            "subtitle": self.t(
                "report_subtitle",
                standard=std_title,
                profile=profile_name(prof.id, self.lang),
                speed=f"{prof.speed_m_s:g}",
            ),
            "area": (
                self.t("study_area", area=f"{float(area):,.2f}")
                if isinstance(area, int | float) and _present(area)
                else None
            ),
            "created": self.t(
                "created",
                date=f"{created:%Y-%m-%d %H:%M} UTC",
                version=summary.lifecircle_version,
            ),
            "headline": self.headline(),
            "categories": self.category_rows(),
            "not_audited_rows": self.not_audited_rows(),
            "unverified_note": self.unverified_note(),
            "worst": self.worst_units(),
            "tables": self.level_tables(),
            "complete_notes": self.complete_notes(),
            "gaps": self.gap_rows(),
            "method": self.method(),
            "quality": quality_rows(self.result, self.lang),
            "warnings": [str(w) for w in summary.warnings],
            "sources": self.sources(),
            "charts": self.charts(),
        }

    # ------------------------------------------------------------------ headline

    def headline(self) -> dict[str, Any]:
        summary = self.summary
        total = summary.population.total
        complete = []
        for info in self.completeness:
            label = self.t("card_complete", level=info.name)
            if info.computed:
                complete.append(
                    {
                        "label": label,
                        "share": pct(info.share) + self.level_mark(info),
                        "residents": self.t("card_residents", n=count(total * (info.share or 0.0))),
                        "colour": share_colour(info.share),
                        "computed": True,
                        "note": (
                            self.t("complete_partial", missing=self.cats(info.missing))
                            if info.missing
                            else ""
                        ),
                    }
                )
            else:
                complete.append(
                    {
                        "label": self.t("col_complete_share", level=info.name),
                        "share": self.t("not_computed"),
                        "residents": "",
                        "colour": None,
                        "computed": False,
                        "note": self.t("missing", missing=self.cats(info.missing)),
                    }
                )
        finest = self.levels[-1]
        sentences = []
        top = self.top
        worst_cat = min(self.categories, key=lambda c: summary.coverage[c])
        shortfall = {
            "category": self.cat(worst_cat) + self.mark(worst_cat),
            "uncovered": count(total * (1 - summary.coverage[worst_cat])),
            "minutes": f"{self.minutes(worst_cat):g}",
            "total": count(total),
        }
        if top is not None and top.computed:
            key = "headline_partial" if top.missing else "headline_sentence"
            sentences.append(
                self.t(
                    key,
                    share=pct(top.share) + self.level_mark(top),
                    level=top.name,
                    missing=self.cats(top.missing),
                    **shortfall,
                )
            )
        else:
            if top is not None:
                sentences.append(
                    self.t("headline_not_computed", level=top.name, missing=self.cats(top.missing))
                )
            sentences.append(self.t("headline_shortfall", n=len(self.categories), **shortfall))
        reasons = self.not_audited()
        scope = [self.t("scope_audited", n=len(self.categories), total=len(self.std.categories))]
        if reasons["not_requested"]:
            scope.append(self.t("scope_not_requested", names=self.cats(reasons["not_requested"])))
        if reasons["no_facilities"]:
            scope.append(self.t("scope_no_facilities", names=self.cats(reasons["no_facilities"])))
        partly = self.partly_units()
        if partly:
            scope.append(
                self.t("scope_partly", n=len(partly), units=self.t("list_sep").join(partly))
            )
        return {
            "residents": count(total),
            "complete": complete,
            "units": {
                "done": summary.units.fully_analysed[finest],
                "total": summary.units.total[finest],
                "level": level_name(finest, self.lang),
            },
            "sentence": " ".join(sentences),
            "scope": scope,
        }

    def partly_units(self) -> list[str]:
        """Coarser units only partly analysed, as "name (7 of 10 … analysed)"."""
        out = []
        for level in self.levels[:-1]:
            frame = self._analysed(level)
            for name, done, total in zip(
                frame["name"], frame["units_analysed"], frame["units_total"], strict=True
            ):
                if done < total:
                    out.append(
                        self.t(
                            "name_flag",
                            name=_name(name, self.lang),
                            flag=self._partly_text(done, total),
                        )
                    )
        return out

    def _partly_text(self, done: Any, total: Any) -> str:
        """E.g. "7 of 10 streets / towns analysed" (the map's words for the finest units)."""
        finest = self.levels[-1]
        key = f"units_of_{finest}"
        units = (
            self.t(key)
            if key in _TEXT
            else self.t("units_of_level", level=level_name(finest, self.lang))
        )
        return self.t("partly_flag", done=int(done), total=int(total), units=units)

    def unverified_note(self) -> dict[str, str] | None:
        """What rests on numbers not checked against their source, or ``None``."""
        unverified = [c for c in self.categories if self.mark(c)]
        prof = self.summary.profile
        speed = (
            ""
            if prof.verified
            else self.t(
                "unverified_profile",
                profile=profile_name(prof.id, self.lang),
                speed=f"{prof.speed_m_s:g}",
            )
        )
        if not unverified and not speed:
            return None
        thresholds = (
            self.t(
                "unverified_note",
                n=len(unverified),
                total=len(self.categories),
                names=self.cats(unverified),
                mark=UNVERIFIED,
            )
            if unverified
            else ""
        )
        return {"thresholds": thresholds, "profile": speed}

    # ------------------------------------------------------------------ categories

    def category_rows(self) -> list[dict[str, Any]]:
        summary = self.summary
        total = summary.population.total
        rows = []
        for cat in sorted(self.categories, key=lambda c: summary.coverage[c]):
            th = summary.thresholds[cat]
            share = summary.coverage[cat]
            rows.append(
                {
                    "name": self.cat(cat),
                    "colour": self.colours.get(cat, "#666666"),
                    "level": life_circle_name(self.std, th.level, self.lang),
                    "threshold": self.t(
                        "minutes_metres", minutes=f"{th.minutes:g}", metres=f"{th.metres:.0f}"
                    )
                    + self.mark(cat),
                    "coverage": pct(share) + self.mark(cat),
                    "coverage_colour": share_colour(share),
                    "uncovered": count(total * (1 - share)),
                    "facilities": count(summary.facilities.by_category.get(cat, 0)),
                    "mandatory": self.t("yes" if th.mandatory else "no"),
                }
            )
        return rows

    def not_audited_rows(self) -> list[dict[str, Any]]:
        """The standard's categories that were not audited, with the reason."""
        speed = float(self.summary.profile.speed_m_s)
        rows = []
        for reason, cats in self.not_audited().items():
            for cat in cats:
                try:
                    c = self.std.category(cat)
                except (KeyError, ValueError):
                    continue
                rows.append(
                    {
                        "name": self.cat(cat),
                        "colour": self.colours.get(cat, "#666666"),
                        "level": life_circle_name(self.std, c.level, self.lang),
                        "threshold": self.t(
                            "minutes_metres",
                            minutes=f"{c.threshold_min:g}",
                            metres=f"{c.threshold_min * speed * 60:.0f}",
                        ),
                        "reason": self.t(f"reason_{reason}"),
                        "mandatory": self.t("yes" if c.mandatory else "no"),
                    }
                )
        return rows

    # ------------------------------------------------------------------ units

    def _analysed(self, level: str) -> pd.DataFrame:
        frame = self.result.units[level]
        return frame[frame["units_analysed"] > 0]

    def _ranked(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Units worst first: by complete life circle when computed, else by score."""
        by = "complete_share" if self._top_computed() else "score"
        return frame.sort_values(
            [by, "population", "unit_id"],
            ascending=[True, False, True],
            na_position="last",
            kind="stable",
        )

    def _parents(self, level: str) -> dict[str, str]:
        """Names of the parent units of ``level``'s units, by parent id."""
        index = self.levels.index(level)
        if index == 0:
            return {}
        parent = self.result.units[self.levels[index - 1]]
        return {
            str(u): _name(n, self.lang)
            for u, n in zip(parent["unit_id"], parent["name"], strict=True)
        }

    def _flags(self, level: str, row: Any) -> str:
        """A unit's warnings: only partly analysed, or analysed despite the edge effect."""
        flags = []
        if row["units_total"] > 1 and row["units_analysed"] < row["units_total"]:
            flags.append(
                PARTLY + " " + self._partly_text(row["units_analysed"], row["units_total"])
            )
        if level == self.levels[-1] and str(row["unit_id"]) in self._edge_units():
            flags.append(EDGE + " " + self.t("edge_flag"))
        return self.t("list_sep").join(flags)

    def _edge_units(self) -> set[str]:
        return {str(u) for u in self.summary.units.edge_effect}

    def worst_units(self) -> dict[str, Any]:
        computed = self._top_computed()
        top = self.top
        top_mark = self.level_mark(top) if computed and top is not None else ""
        tables = []
        notes: set[str] = set()
        for level in reversed(self.levels):
            parents = self._parents(level)
            rows = []
            for _, row in self._ranked(self._analysed(level)).head(WORST_UNITS).iterrows():
                cat = row["worst_category"]
                flag = self._flags(level, row)
                notes.update(m for m in (PARTLY, EDGE) if m in flag)
                rows.append(
                    {
                        "name": _name(row["name"], self.lang),
                        "parent": parents.get(str(row["parent_id"]), ""),
                        "flag": flag,
                        "population": count(row["population"]),
                        "complete": pct(row["complete_share"]) + top_mark,
                        "colour": share_colour(row["complete_share"] if computed else row["score"]),
                        "score": pct(row["score"]),
                        "worst": (
                            f"{self.cat(str(cat))} ({pct(row[f'cov_{cat}'])})" + self.mark(str(cat))
                            if pd.notna(cat)
                            else "–"
                        ),
                    }
                )
            tables.append({"level": level_name(level, self.lang), "rows": rows})
        return {
            "tables": tables,
            "computed": computed,
            "complete_head": (
                self.t("col_complete_share", level=top.name) if computed and top is not None else ""
            ),
            "footnotes": self._footnotes(notes),
        }

    def _footnotes(self, marks: set[str]) -> list[str]:
        notes = []
        if PARTLY in marks:
            notes.append(
                self.t(
                    "partly_note",
                    mark=PARTLY,
                    level=level_name(self.levels[-1], self.lang),
                    catchment=f"{self.summary.units.catchment_m:.0f}",
                )
            )
        if EDGE in marks:
            notes.append(self.t("edge_note", mark=EDGE))
        return notes

    def level_tables(self) -> dict[str, Any]:
        complete = self.complete_columns()
        head = (
            [self.t("col_unit"), self.t("col_id"), self.t("population")]
            + [label for _, label in complete]
            + [self.t("col_score")]
            + [f"{self.cat(c)} ≤{self.minutes(c):g}′{self.mark(c)}" for c in self.categories]
            + [self.t("worst_category")]
        )
        tables = []
        marks: set[str] = set()
        for level in reversed(self.levels):
            frame = self._ranked(self._analysed(level))
            parents = self._parents(level)
            partial = bool((frame["units_total"] > 1).any())
            rows = []
            for _, row in frame.iterrows():
                cat = row["worst_category"]
                name = _name(row["name"], self.lang)
                flag = self._flags(level, row)
                marks.update(m for m in (PARTLY, EDGE) if m in flag)
                cells = (
                    [
                        _Cell(name, name, parents.get(str(row["parent_id"]), ""), flag),
                        _Cell.label(row["unit_id"]),
                        _Cell.count(row["population"]),
                    ]
                    + [_Cell.share(row[info.column]) for info, _ in complete]
                    + [_Cell.share(row["score"])]
                    + [_Cell.share(row[columns.cov(c)]) for c in self.categories]
                    + [_Cell.label(self.cat(str(cat)) if pd.notna(cat) else "–")]
                )
                if partial:
                    cells.append(
                        _Cell(
                            self.t(
                                "partly_analysed",
                                done=int(row["units_analysed"]),
                                total=int(row["units_total"]),
                            ),
                            _number(row["units_analysed"] / row["units_total"]),
                        )
                    )
                rows.append(cells)
            tables.append(
                {
                    "level": level_name(level, self.lang),
                    "id": level,
                    "head": head + ([self.t("col_analysed")] if partial else []),
                    "rows": rows,
                }
            )
        return {
            "tables": tables,
            "footnotes": self._footnotes(marks),
            "score_note": self.t("score_note"),
        }

    def gap_rows(self) -> dict[str, Any]:
        gaps = self.result.gaps
        rows = [
            {
                "name": _name(row["name"], self.lang),
                "level": level_name(str(row["level"]), self.lang),
                "category": self.cat(str(row["category"])) + self.mark(str(row["category"])),
                "colour": self.colours.get(str(row["category"]), "#666666"),
                "uncovered": count(row["uncovered_population"]),
                "share": pct(row["uncovered_share"]),
            }
            for _, row in gaps.head(TOP_GAPS).iterrows()
        ]
        return {"rows": rows, "intro": self.t("gaps_intro", n=len(rows), total=len(gaps))}

    # ------------------------------------------------------------------ method, sources

    def method(self) -> dict[str, Any]:
        summary = self.summary
        prof, net, units = summary.profile, summary.network, summary.units
        finest = self.levels[-1]
        thresholds = [
            {
                "name": self.cat(c),
                "colour": self.colours.get(c, "#666666"),
                "level": life_circle_name(self.std, th.level, self.lang),
                "minutes": f"{th.minutes:g}",
                "metres": f"{th.metres:.0f}",
                "mandatory": self.t("yes" if th.mandatory else "no"),
                "verified": self.t("yes" if th.verified else "no"),
                "source": th.source,
            }
            for c, th in summary.thresholds.items()
        ]
        speed = self.t(
            "m_speed",
            profile=profile_name(prof.id, self.lang),
            speed=f"{prof.speed_m_s:g}",
            per_min=f"{prof.speed_m_s * 60:g}",
            source=prof.source,
        )
        if not prof.verified:
            speed += " " + self.t("m_speed_unverified")
        reasons = self.not_audited()
        std = summary.standard
        return {
            "standard": f"{std.title_zh if self.lang == 'zh' else std.title} — {std.source}",
            "speed": speed,
            "thresholds": thresholds,
            "network": self.t(
                "m_network_text",
                nodes=count(net.nodes),
                edges=count(net.edges),
                km=f"{net.length_km:,.1f}",
                crs=net.crs,
                dropped=net.dropped_components,
                dropped_nodes=count(net.dropped_nodes),
            ),
            "population": summary.population.method,
            "population_sources": [
                (str(name), count(value)) for name, value in summary.population.sources.items()
            ],
            "units": self.t(
                "m_units_text",
                level=level_name(finest, self.lang),
                catchment=f"{units.catchment_m:.0f}",
                done=units.fully_analysed[finest],
                total=units.total[finest],
            ),
            "excluded": list(units.excluded),
            "not_requested": [self.cat(c) for c in reasons["not_requested"]],
            "no_facilities": [self.cat(c) for c in reasons["no_facilities"]],
            "complete": self.complete_notes(),
        }

    def sources(self) -> dict[str, Any]:
        study = self.summary.study
        inputs = []
        roles: list[tuple[str, Sequence[str | None]]] = [
            ("network", [study.network]),
            ("facilities", study.facilities),
            ("units", [study.units]),
            ("population", [study.population]),
        ]
        for role, paths in roles:
            for name in paths:
                if not name:
                    continue
                # the file's name only: no path of the planner's machine, no time stamp
                inputs.append({"role": self.t(f"role_{role}"), "file": Path(str(name)).name})
        sample = next(
            (info["description"] for name, info in SAMPLES.items() if _is_sample(study, name)), None
        )
        versions = ", ".join(f"{k} {v}" for k, v in self.summary.versions.items())
        return {
            "inputs": inputs,
            "sample": sample,
            "attribution": self.summary.attribution,
            "versions": versions,
        }

    # ------------------------------------------------------------------ charts

    def charts(self) -> dict[str, str]:
        summary = self.summary
        ranked = sorted(self.categories, key=lambda c: summary.coverage[c])
        coverage = _charts.coverage_bars(
            [f"{self.cat(c)} ≤{self.minutes(c):g}′{self.mark(c)}" for c in ranked],
            [summary.coverage[c] for c in ranked],
            title=self.t("chart_coverage"),
            xlabel=self.t("chart_coverage_x"),
        )
        access = self.result.access
        weights = access["population"].to_numpy(float)
        curves = [
            _charts.Curve(
                self.cat(c) + self.mark(c),
                access[columns.time(c)].to_numpy(float),
                weights,
                self.colours.get(c, "#666666"),
                self.minutes(c),
            )
            for c in ranked
        ]
        max_minutes = max(self.minutes(c) for c in self.categories)
        times = _charts.cumulative_curves(
            curves,
            max_minutes=max_minutes,
            title=self.t("chart_times"),
            xlabel=self.t("chart_times_x"),
            ylabel=self.t("chart_times_y"),
        )
        finest = self._ranked(self._analysed(self.levels[-1]))
        complete = self.complete_columns()
        names = [_name(n, self.lang) for n in finest["name"]]
        if complete:
            nested = [
                _charts.Series(label, finest[info.column].to_numpy(float), colour)
                for (info, label), colour in zip(
                    complete, _charts.sequential_colours(len(complete)), strict=True
                )
            ]
            units = _charts.nested_bars(
                names, nested, title=self.t("chart_units"), xlabel=self.t("chart_units_x")
            )
        else:  # no complete life circle computed: rank by score
            score = [
                _charts.Series(
                    self.t("col_score"),
                    finest["score"].to_numpy(float),
                    _charts.sequential_colours(1)[0],
                )
            ]
            units = _charts.nested_bars(
                names,
                score,
                title=self.t("chart_units_score"),
                xlabel=self.t("chart_units_score_x"),
            )
        return {
            "coverage": coverage,
            "times": times,
            "units": units,
            "times_note": self.t("chart_times_note", max=f"{max_minutes:g}"),
        }


def _name(value: Any, lang: str) -> str:
    """A unit's name as shown ("(unnamed)" when missing)."""
    return str(value) if _present(value) and str(value).strip() else text("unnamed", lang)


class _Proposals:
    """The "Proposed sites" section, from a solved siting."""

    def __init__(self, report: _Report, siting: SitingSolution) -> None:
        self.report = report
        self.siting = siting
        self.summary = siting.summary()
        self.t = report.t

    def context(self) -> dict[str, Any]:
        summary, cat = self.summary, self.siting.category
        name = self.report.cat(cat)
        # the siting's own threshold: its category need not be one the audit covered
        minutes = f"{summary['threshold_min']:g}"
        metres = f"{summary['threshold_m']:.0f}"
        model = self.t(f"model_{summary['model']}")
        newly = count(summary["newly_covered_population"])
        if summary["model"] == "pmedian":
            intro = self.t(
                "p_intro_distance",
                model=model,
                sites=summary["sites"],
                name=name,
                before=count(summary["mean_distance_before_m"]),
                after=count(summary["mean_distance_after_m"]),
                newly=newly,
                minutes=minutes,
                metres=metres,
            )
        else:
            intro = self.t(
                "p_intro_cover",
                model=model,
                sites=summary["sites"],
                name=name,
                newly=newly,
                minutes=minutes,
                metres=metres,
            )
        return {
            "intro": intro,
            "cards": [
                {
                    "big": str(summary["sites"]),
                    "label": self.t("card_sites", name=name),
                    "colour": None,
                },
                {"big": newly, "label": self.t("card_newly"), "colour": None},
                {
                    "big": f"{pct(summary['coverage_before'])} → {pct(summary['coverage_after'])}",
                    "label": self.t("card_coverage", name=name, minutes=minutes),
                    "colour": share_colour(summary["coverage_after"]),
                },
            ],
            "solver": self.solver(model),
            "before_after": self.before_after(name, minutes),
            "ranked_intro": self.t(
                "p_ranked_distance" if summary["model"] == "pmedian" else "p_ranked_cover"
            ),
            "ranked": self.ranked(),
            "units_title": self.t("p_units", name=name),
            "units": self.unit_tables(),
            "notes": list(summary["notes"]),
        }

    def solver(self, model: str) -> list[dict[str, str | None]]:
        summary, options = self.summary, self.siting.options
        if summary["model"] == "pmedian":
            request = [self.t("req_distance", n=summary["sites_requested"])]
        elif summary["model"] == "mclp":
            request = [self.t("req_sites", n=summary["sites_requested"])]
        else:
            request = [self.t("req_target", target=pct(summary["target_coverage"]))]
        if options.get("capacity") is not None:
            request.append(self.t("req_capacity", n=count(options["capacity"])))
        if options.get("min_unit_coverage") is not None:
            request.append(
                self.t(
                    "req_floor",
                    level=level_name(self.report.levels[-1], self.report.lang),
                    share=pct(options["min_unit_coverage"]),
                )
            )
        source = summary["candidate_source"]
        kind = "cand_auto" if source.startswith("auto") else "cand_file"
        gap = summary["mip_gap"]
        rows = [
            (self.t("p_model"), model, None, None),
            (self.t("p_request"), "; ".join(request), None, None),
            (self.t("p_status"), self.t("status_" + summary["status"]), summary["status"], None),
            (self.t("p_gap"), "–" if gap is None else f"{100 * float(gap):.2f}%", None, None),
            # the solver and its time limit, not its run time: the report stays the same
            # from run to run (no time but summary.json's "created")
            (self.t("p_solver"), self._solver_text(), None, None),
            (self.t("p_candidates"), self.t(kind, n=count(summary["candidates"])), None, source),
        ]
        return [
            {"label": label, "value": value, "code": code, "detail": detail}
            for label, value, code, detail in rows
        ]

    def _solver_text(self) -> str:
        limit = self.siting.options.get("time_limit_s")
        solver = str(self.summary.get("solver") or "")
        return (
            self.t("p_solver_limit", solver=solver, s=f"{float(limit):g}")
            if limit is not None and _present(limit)
            else solver
        )

    def before_after(self, name: str, minutes: str) -> list[dict[str, str | None]]:
        summary = self.summary
        mark = self.report.mark(self.siting.category)
        top = self.report.top
        rows: list[dict[str, str | None]] = [
            self._change_row(
                self.t("row_coverage", name=name, minutes=minutes) + mark,
                summary["coverage_before"],
                summary["coverage_after"],
            )
        ]
        if top is not None and top.computed:
            label = self.t("col_complete_share", level=top.name) + self.report.level_mark(top)
            if top.missing:
                label += " " + self.t("complete_partial", missing=self.report.cats(top.missing))
            rows.append(
                self._change_row(
                    label, summary.get("complete_share_before"), summary.get("complete_share_after")
                )
            )
        elif top is not None:
            rows.append(
                {
                    "label": self.t("col_complete_share", level=top.name)
                    + ": "
                    + self.t("complete_missing", missing=self.report.cats(top.missing)),
                    "before": "–",
                    "after": "–",
                    "change": "–",
                    "before_colour": None,
                    "after_colour": None,
                }
            )
        if summary["model"] == "pmedian":
            before, after = summary["mean_distance_before_m"], summary["mean_distance_after_m"]
            rows.append(
                {
                    "label": self.t(
                        "row_mean_distance", name=name, cap=count(summary["distance_cap_m"])
                    ),
                    "before": f"{count(before)} m",
                    "after": f"{count(after)} m",
                    "change": f"{after - before:+,.0f} m",
                    "before_colour": None,
                    "after_colour": None,
                }
            )
        return rows

    def _change_row(self, label: str, before: Any, after: Any) -> dict[str, str | None]:
        both = _present(before) and _present(after)
        return {
            "label": label,
            "before": pct(before),
            "after": pct(after),
            "change": (
                self.t("points", v=f"{100 * (float(after) - float(before)):+.1f}") if both else "–"
            ),
            "before_colour": share_colour(before) if _present(before) else None,
            "after_colour": share_colour(after) if _present(after) else None,
        }

    def ranked(self) -> dict[str, Any]:
        props = self.siting.proposals()
        distance = "marginal_distance_saved_m" in props.columns
        marginal = "marginal_distance_saved_m" if distance else "marginal_newly_covered"
        head = [
            self.t("col_rank"),
            self.t("col_site"),
            self.t("col_marginal_saved" if distance else "col_marginal_newly"),
            self.t("col_served"),
            self.t("col_location"),
        ]
        rows = [
            [
                str(int(row["rank"])),
                str(row["site_id"]),
                count(row[marginal]),
                count(row["residents_served"]),
                f"{row.geometry.centroid.x:.5f}, {row.geometry.centroid.y:.5f}",
            ]
            for _, row in props.sort_values("rank").iterrows()
        ]
        return {"head": head, "rows": rows}

    def unit_tables(self) -> list[dict[str, Any]]:
        complete = self.report.top is not None and self.report.top.computed
        head = [
            self.t("col_unit"),
            self.t("col_id"),
            self.t("population"),
            self.t("col_cov_before"),
            self.t("col_cov_after"),
            self.t("col_change"),
        ]
        if complete:
            head += [self.t("col_complete_before"), self.t("col_complete_after")]
        names = {
            level: frame.set_index("unit_id")["name"]
            for level, frame in self.report.result.units.items()
        }
        tables = []
        for level in reversed(self.report.levels):
            units = [u for u in self.summary["units"] if u["level"] == level]
            units.sort(key=lambda u: -((u["coverage_after"] or 0) - (u["coverage_before"] or 0)))
            rows = []
            for u in units:
                change = (
                    (u["coverage_after"] - u["coverage_before"])
                    if _present(u["coverage_after"]) and _present(u["coverage_before"])
                    else None
                )
                name = _name(names[level].get(u["unit_id"], u["name"]), self.report.lang)
                cells = [
                    _Cell.label(name),
                    _Cell.label(u["unit_id"]),
                    _Cell.count(u["population"]),
                    _Cell.share(u["coverage_before"]),
                    _Cell.share(u["coverage_after"]),
                    _Cell(
                        "–" if change is None else self.t("points", v=f"{100 * change:+.1f}"),
                        _number(change),
                    ),
                ]
                if complete:
                    cells += [
                        _Cell.share(u.get("complete_share_before")),
                        _Cell.share(u.get("complete_share_after")),
                    ]
                rows.append(cells)
            tables.append(
                {
                    "level": level_name(level, self.report.lang),
                    "id": level,
                    "head": head,
                    "rows": rows,
                }
            )
        return tables


def _is_sample(study: StudyInfo, name: str) -> bool:
    """Whether the audited inputs are those of a bundled sample."""
    paths = get_path(name)
    try:
        return (
            Path(study.network).resolve() == paths["network"].resolve()
            and Path(study.units or "").resolve() == paths["units"].resolve()
        )
    except (KeyError, TypeError, OSError):
        return False
