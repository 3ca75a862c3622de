"""The report's fair-service sections: who is served, how fairly, and how sure we are.

Who each category serves, how much there is, how fairly it is shared, which
facilities are critical, and how sure the figures are (issue 9).

Everything comes from the audit's typed summary (``summary.fair_service``,
``.equity``, ``.critical_facilities``, ``.data_completeness``, ``.cohorts``,
``.closure``), the finest units' columns (``placed_<cat>``, ``unmet_<cat>``,
``rank``, ``decile``) and ``result.closure``. Figures resting on numbers not checked
against their source (thresholds, cohort ages, capacity defaults, expected service
populations) carry :data:`~lifecircle.render._report_base.UNVERIFIED`. Every value
is plain text: the template escapes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._standard_cohorts import ALL
from ..service import CategoryService
from . import _charts
from ._report_base import TOP_GAPS, UNVERIFIED, ReportBase, _name, _present
from ._style import share_colour
from ._text import _TEXT, count, level_name, pct

#: Rows of the per-unit supply table and of the closure's unit table.
TOP_UNITS = 20


def _num(value: Any, digits: int = 3) -> str:
    """A figure with ``digits`` decimals; ``"–"`` when missing."""
    return f"{float(value):,.{digits}f}" if _present(value) else "–"


def _per(value: Any) -> str:
    """A rate per 1,000 or 10,000: two decimals below 10, else none."""
    if not _present(value):
        return "–"
    return f"{float(value):,.2f}" if abs(float(value)) < 10 else f"{float(value):,.0f}"


class FairSections:
    """The fair-service parts of the report, read from one audit."""

    def __init__(self, report: ReportBase) -> None:
        self.r = report
        self.t = report.t
        self.summary = report.summary
        self.service: dict[str, CategoryService] = dict(self.summary.fair_service)
        self.cats = [c for c in report.categories if c in self.service]
        #: Categories with a capacity (placed / unmet mean something there).
        self.capacity = [c for c in self.cats if self.service[c].capacity_from != "none"]

    # ------------------------------------------------------------------ names and marks

    def cohort_name(self, cohort: str) -> str:
        """A cohort's name in the report's language (from the summary, else the standard)."""
        info = self.summary.cohorts.get(cohort)
        if info is not None:
            name = info.get("name_zh" if self.r.lang == "zh" else "name")
            if name:
                return str(name)
        known = self.r.std.cohorts.get(cohort)
        if known is not None:
            return known.name(self.r.lang)
        return self.t("population") if cohort == ALL else str(cohort)

    def cohort_mark(self, cohort: str) -> str:
        """:data:`UNVERIFIED` if the cohort's ages are not checked against their source."""
        if cohort == ALL:
            return ""
        info = self.summary.cohorts.get(cohort)
        verified = info.get("verified") if info is not None else None
        if verified is None:
            known = self.r.std.cohorts.get(cohort)
            verified = known.verified if known is not None else True
        return "" if verified else UNVERIFIED

    def capacity_mark(self, cat: str) -> str:
        """:data:`UNVERIFIED` if the category's supply rests on an unverified default."""
        s = self.service[cat]
        return UNVERIFIED if "default" in s.capacity_from and not s.capacity_verified else ""

    @staticmethod
    def _one_mark(*marks: str) -> str:
        return UNVERIFIED if any(marks) else ""

    def context(self) -> dict[str, Any] | None:
        """What the template's fair-service sections show; ``None`` without the figures."""
        if not self.cats:
            return None
        return {
            "headline": self.headline(),
            "supply": self.supply(),
            "equity": self.equity(),
            "critical": self.critical(),
            "sure": self.sure(),
            "closure": self.closure(),
        }

    # ------------------------------------------------------------------ headline

    def thin_flag(self, cat: str) -> str:
        """The data-gap flag next to a thin category's figure ("" if not thin)."""
        d = self.summary.data_completeness.get(cat)
        if d is None or not d.thin:
            return ""
        return self.t(
            "thin_flag",
            found=count(d.found),
            per10k=_num(d.per_10k_residents, 2),
            expected=_num(d.expected_per_10k_residents, 2),
            mark="" if d.expected_verified else UNVERIFIED,
        )

    def headline(self) -> dict[str, Any]:
        rows = []
        for cat in self.cats:
            s = self.service[cat]
            name = self.r.cat(cat)
            mark = self._one_mark(self.r.mark(cat), self.cohort_mark(s.cohort))
            everyone = self.summary.coverage.get(cat)
            if s.cohort == ALL:
                line = self.t("fair_row_all", category=name, share=pct(everyone) + self.r.mark(cat))
            else:
                line = self.t(
                    "fair_row",
                    category=name,
                    cohort=self.cohort_name(s.cohort),
                    share=pct(s.covered_share) + mark,
                    all=pct(everyone) + self.r.mark(cat),
                )
            rows.append(
                {
                    "text": line,
                    "colour": share_colour(s.covered_share),
                    "thin": self.thin_flag(cat),
                }
            )
        return {"rows": rows, "note": self.t("fair_note", mark=UNVERIFIED)}

    # ------------------------------------------------------------------ supply and demand

    def _capacity_text(self, cat: str) -> str:
        kinds = self.service[cat].capacity_from.split("+")
        return self.t("list_sep").join(
            self.t(f"cap_{k}") if f"cap_{k}" in _TEXT else k for k in kinds
        ) + self.capacity_mark(cat)

    def _supply_unit(self, unit: str) -> str:
        key = f"supply_unit_{unit}"
        return self.t(key) if key in _TEXT else unit

    def supply(self) -> dict[str, Any]:
        rows = []
        for cat in self.cats:
            s = self.service[cat]
            mark = self._one_mark(self.cohort_mark(s.cohort), self.r.mark(cat))
            cap = self._one_mark(mark, self.capacity_mark(cat))
            rows.append(
                {
                    "name": self.r.cat(cat),
                    "cohort": self.cohort_name(s.cohort) + self.cohort_mark(s.cohort),
                    "demand": count(s.demand),
                    "per_1000": f"{_per(s.supply_per_1000)} {self._supply_unit(s.supply_unit)}"
                    + self.capacity_mark(cat),
                    "capacity": self._capacity_text(cat),
                    "placed": pct(s.placed_share) + cap,
                    "placed_colour": share_colour(s.placed_share),
                    "unmet": count(s.unmet) + cap,
                }
            )
        return {"rows": rows, "units": self.supply_units()}

    def supply_units(self) -> dict[str, Any] | None:
        """Per finest unit: placed share and unmet per capacity category, largest unmet first."""
        finest = self.r.levels[-1]
        frame = self.r._analysed(finest)
        cats = [c for c in self.capacity if f"placed_{c}" in frame and f"unmet_{c}" in frame]
        if not cats or frame.empty:
            return None
        unmet = frame[[f"unmet_{c}" for c in cats]].sum(axis=1, min_count=1).fillna(0.0)
        order = frame.assign(_unmet=unmet).sort_values(
            ["_unmet", "unit_id"], ascending=[False, True], kind="stable"
        )
        parents = self.r._parents(finest)
        head = [self.t("col_unit"), self.t("population")]
        for c in cats:
            head += [
                self.t("col_placed_cat", name=self.r.cat(c)),
                self.t("col_unmet_cat", name=self.r.cat(c)),
            ]
        rows = []
        for _, row in order.head(TOP_UNITS).iterrows():
            cells = []
            for c in cats:
                cells += [pct(row[f"placed_{c}"]), count(row[f"unmet_{c}"])]
            rows.append(
                {
                    "name": _name(row["name"], self.r.lang),
                    "parent": parents.get(str(row["parent_id"]), ""),
                    "population": count(row["population"]),
                    "cells": cells,
                }
            )
        return {
            "title": self.t(
                "supply_units_head",
                level=level_name(finest, self.r.lang),
                n=min(TOP_UNITS, len(order)),
            ),
            "head": head,
            "rows": rows,
            "note": self.t("supply_units_note"),
        }

    # ------------------------------------------------------------------ equity

    def equity(self) -> dict[str, Any]:
        rows = []
        for cat in self.cats:
            s = self.service[cat]
            res, units = s.equity_residents or {}, s.equity_units or {}
            theil = res.get("theil") or {}
            rows.append(
                {
                    "name": self.r.cat(cat),
                    "cells": [
                        _num(res.get("gini")),
                        _num(theil.get("total")),
                        _num(theil.get("between")),
                        _num(theil.get("within")),
                        _num(res.get("palma"), 2),
                        _num(units.get("gini")),
                        _num((units.get("theil") or {}).get("total")),
                        _num(units.get("palma"), 2),
                    ],
                }
            )
        score = self.summary.equity.get("score") or {}
        if score:
            rows.append(
                {
                    "name": self.t("equity_score"),
                    "cells": ["–"] * 5
                    + [
                        _num(score.get("gini")),
                        _num((score.get("theil") or {}).get("total")),
                        _num(score.get("palma"), 2),
                    ],
                }
            )
        units_word = self.units_word()
        parents = self.units_word(self.r.levels[-2]) if len(self.r.levels) > 1 else units_word
        return {
            "intro": self.t("equity_intro", parents=parents, units=units_word),
            "rows": rows,
            "chart": self.lorenz_chart(),
            "worst": self.worst_decile(),
            "worst_title": self.t("worst_decile_head", units=units_word),
            "sentence": self.sentence(),
        }

    def units_word(self, level: str | None = None) -> str:
        """A level's units (default the finest) in the plural, e.g. "streets / towns"."""
        level = level or self.r.levels[-1]
        key = f"units_of_{level}"
        if key in _TEXT:
            return self.t(key)
        return self.t("units_of_level", level=level_name(level, self.r.lang))

    def lorenz_chart(self) -> str | None:
        curves = []
        score = (self.summary.equity.get("score") or {}).get("lorenz")
        if score:
            curves.append(
                _charts.Lorenz(
                    self.t("lorenz_score", units=self.units_word()),
                    np.asarray(score["weight_share"], float),
                    np.asarray(score["value_share"], float),
                    "#222222",
                    dashed=True,
                )
            )
        for cat in self.capacity:
            lorenz = (self.service[cat].equity_residents or {}).get("lorenz")
            if lorenz:
                curves.append(
                    _charts.Lorenz(
                        self.t("lorenz_category", name=self.r.cat(cat)),
                        np.asarray(lorenz["weight_share"], float),
                        np.asarray(lorenz["value_share"], float),
                        self.r.colours.get(cat, "#666666"),
                    )
                )
        if not curves:
            return None
        return _charts.lorenz_curves(
            curves,
            title=self.t("chart_lorenz"),
            xlabel=self.t("chart_lorenz_x"),
            ylabel=self.t("chart_lorenz_y"),
            equal=self.t("lorenz_equal"),
        )

    def _deciles(self) -> pd.DataFrame:
        """The analysed finest units with a decile, worst first."""
        frame = self.r._analysed(self.r.levels[-1])
        if "decile" not in frame or "rank" not in frame:
            return frame.iloc[0:0]
        frame = frame[frame["decile"].notna()]
        return frame.sort_values(["rank", "unit_id"], kind="stable")

    def worst_decile(self) -> list[dict[str, str]]:
        frame = self._deciles()
        parents = self.r._parents(self.r.levels[-1])
        rows = []
        for _, row in frame[frame["decile"] == 1].iterrows():
            cat = row["worst_category"]
            rows.append(
                {
                    "name": _name(row["name"], self.r.lang),
                    "parent": parents.get(str(row["parent_id"]), ""),
                    "population": count(row["population"]),
                    "score": pct(row["score"]),
                    "colour": share_colour(row["score"]),
                    "worst": (
                        f"{self.r.cat(str(cat))} ({pct(row[f'cov_{cat}'])})" + self.r.mark(str(cat))
                        if _present(cat) and f"cov_{cat}" in row.index
                        else "–"
                    ),
                }
            )
        return rows

    def sentence(self) -> str:
        """One sentence a planner can quote, from the score's deciles and Gini."""
        frame = self._deciles()
        if frame.empty:
            return ""
        worst = frame[frame["decile"] == 1]
        best = frame[frame["decile"] == frame["decile"].max()]
        gini = (self.summary.equity.get("score") or {}).get("gini")
        if worst.empty or best.empty or gini is None or not _present(gini):
            return ""
        return self.t(
            "equity_sentence",
            units=self.units_word(),
            n=len(worst),
            total=len(frame),
            residents=count(worst["population"].sum()),
            worst=pct(_mean_score(worst), 0),
            best=pct(_mean_score(best), 0),
            n_best=len(best),
            gini=f"{float(gini):.2f}",
        )

    # ------------------------------------------------------------------ critical facilities

    def critical(self) -> list[dict[str, str]]:
        rows = []
        for f in self.summary.critical_facilities:
            cat = str(f.get("category"))
            name = f.get("name")
            rows.append(
                {
                    "category": self.r.cat(cat) + self.r.mark(cat),
                    "colour": self.r.colours.get(cat, "#666666"),
                    "name": str(name) if _present(name) and str(name).strip() else "",
                    "id": str(f.get("facility_id")),
                    "sole": count(f.get("sole_dependants")),
                    "reach": count(f.get("demand_in_reach")),
                }
            )
        return rows

    # ------------------------------------------------------------------ how sure

    def sure(self) -> dict[str, Any]:
        rows = []
        for cat in self.cats:
            d = self.summary.data_completeness.get(cat)
            if d is None:
                continue
            expected = (
                _num(d.expected_per_10k_residents, 2) + ("" if d.expected_verified else UNVERIFIED)
                if _present(d.expected_per_10k_residents)
                else "–"
            )
            state = (
                "thin_unknown"
                if d.found_to_expected is None
                else ("thin_yes" if d.thin else "thin_no")
            )
            rows.append(
                {
                    "name": self.r.cat(cat),
                    "cohort": self.cohort_name(d.cohort),
                    "found": count(d.found),
                    "per_10k": _num(d.per_10k_residents, 2),
                    "per_10k_cohort": _num(d.per_10k_cohort, 1),
                    "expected": expected,
                    "state": self.t(state),
                    "thin": bool(d.thin),
                    "source": d.expected_source or "",
                }
            )
        cohorts = []
        for cid, info in self.summary.cohorts.items():
            method = str(info.get("method", ""))
            key = f"cohort_method_{method}"
            cohorts.append(
                {
                    "name": self.cohort_name(cid) + self.cohort_mark(cid),
                    "ages": str(info.get("ages", "")),
                    "residents": count(info.get("residents")),
                    "method": self.t(key) if key in _TEXT else method,
                    "text": str(
                        (info.get("text_zh") if self.r.lang == "zh" else None)
                        or info.get("text", "")
                    ),
                    "source": str(info.get("source", "")),
                }
            )
        return {"intro": self.t("sure_intro", mark=UNVERIFIED), "rows": rows, "cohorts": cohorts}

    # ------------------------------------------------------------------ closure

    def closure(self) -> dict[str, Any] | None:
        section = self.summary.closure
        if not section:
            return None
        closed = [
            {
                "category": self.r.cat(str(f.get("category"))),
                "name": str(f["name"]) if _present(f.get("name")) else "",
                "id": str(f.get("facility_id")),
            }
            for f in section.get("closed", [])
        ]
        before, after = section.get("coverage_before", {}), section.get("coverage_after", {})
        change = []
        for cat in [c for c in self.r.categories if c in before or c in after]:
            b, a = before.get(cat), after.get(cat)
            change.append(
                {
                    "name": self.r.cat(cat),
                    "cohort": self.cohort_name(self.service[cat].cohort)
                    if cat in self.service
                    else "",
                    "before": pct(b),
                    "after": pct(a),
                    "change": self.t("points", v=f"{100 * (float(a) - float(b)):+.1f}")
                    if _present(a) and _present(b)
                    else "–",
                }
            )
        table = self.r.result.closure
        units = []
        total = 0 if table is None else len(table)
        if table is not None:
            for _, row in table.head(TOP_GAPS).iterrows():
                units.append(
                    {
                        "name": _name(row["name"], self.r.lang),
                        "level": level_name(str(row["level"]), self.r.lang),
                        "category": self.r.cat(str(row["category"])),
                        "people": count(row["cohort_population"]),
                        "before": pct(row["share_before"]),
                        "after": pct(row["share_after"]),
                        "lose": count(row["lose_coverage"]),
                    }
                )
        return {
            "intro": self.t(
                "closure_intro", n=len(closed), file=Path(str(section.get("file", ""))).name
            ),
            "closed": closed,
            "change": change,
            "units": units,
            "units_title": self.t("closure_units", n=len(units), total=total),
        }


def _mean_score(frame: pd.DataFrame) -> float:
    """Residents' mean score over ``frame``'s units (weighted by population)."""
    pop = frame["population"].to_numpy(float)
    score = frame["score"].to_numpy(float)
    ok = np.isfinite(pop) & np.isfinite(score)
    return float((pop[ok] * score[ok]).sum() / pop[ok].sum()) if pop[ok].sum() > 0 else float("nan")
