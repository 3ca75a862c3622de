"""The report's "Proposed sites" section, from a solved siting (``lifecircle optimize``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._report_base import ReportBase, _Cell, _name, _number, _present
from ._style import share_colour
from ._text import count, level_name, pct

if TYPE_CHECKING:
    from ..siting import SitingSolution


class _Proposals:
    """The "Proposed sites" section, from a solved siting."""

    def __init__(self, report: ReportBase, siting: SitingSolution) -> None:
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
