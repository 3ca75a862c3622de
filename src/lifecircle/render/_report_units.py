"""The report's unit sections: the worst-served units, every unit per level, the largest gaps."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import columns
from ._report_base import EDGE, PARTLY, TOP_GAPS, WORST_UNITS, ReportBase, _Cell, _name, _number
from ._style import share_colour
from ._text import count, level_name, pct


class UnitSections(ReportBase):
    """The sections listing units: worst served, all units per level, largest gaps."""

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
            # plain dicts: a city lists thousands of units (iterrows cost seconds)
            for row in frame.to_dict("records"):
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
