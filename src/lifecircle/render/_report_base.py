"""The report's shared parts: table cells, marks, and what every section reads.

:class:`ReportBase` holds the audit result, the language and what was audited
(life-circle levels computed or not, categories not audited); the sections of
:mod:`lifecircle.render.report` and its helper modules read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import columns
from ._style import category_colours
from ._text import _TEXT, category_name, count, level_name, life_circle_name, pct, text

if TYPE_CHECKING:
    from ..pipeline import AuditResult

#: Rows in the worst-served units and gaps sections.
WORST_UNITS = 10
TOP_GAPS = 20
#: Marks a figure resting on a number not checked against its source.
UNVERIFIED = "†"
#: Marks a unit only partly analysed (some of its finest units left out).
PARTLY = "‡"
#: Marks a unit analysed although part of its walking catchment leaves the street data.
EDGE = "§"


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


class ReportBase:
    """The audit, the language and what was audited: what every section reads."""

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
        """Ids of the units analysed despite the edge effect (built once per report)."""
        known: set[str] | None = self.__dict__.get("_edge_set")
        if known is None:
            known = {str(u) for u in self.summary.units.edge_effect}
            self.__dict__["_edge_set"] = known
        return known

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


def _name(value: Any, lang: str) -> str:
    """A unit's name as shown ("(unnamed)" when missing)."""
    return str(value) if _present(value) and str(value).strip() else text("unnamed", lang)
