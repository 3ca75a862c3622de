"""The report's "Complete life circle siting" section (``lifecircle optimize --categories``).

From a solved :class:`~lifecircle.complete_siting.CompleteSitingSolution`: the intro,
cards (sites or complexes, residents newly complete, the complete share before and
after for the level or the listed categories), the before / after table, the solver
(status, gap, bound and whose bound it is, the greedy's missing guarantee), the sites
with the categories each hosts, the comparison with the same budget spent one
category at a time (and, for complexes, on separate sites), the efficiency-equity
trade-off when computed, and the complete share per unit. The section fills the
report template's proposed-sites slot with the same shapes as
:mod:`lifecircle.render._report_proposals`; every string is plain text (the
template escapes it), unit names go through :func:`_name`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._report_base import ReportBase, _Cell, _name, _number, _present
from ._style import share_colour
from ._text import count, level_name, life_circle_name, pct
from ._text_complete import text

if TYPE_CHECKING:
    from ..complete_siting import CompleteSitingSolution


def check_complete(result: Any, solution: CompleteSitingSolution) -> None:
    """Refuse a complete siting built from another audit result.

    Raises
    ------
    ValueError
        If ``solution`` was not built from ``result``.
    """
    if solution.problem.result is not result:
        msg = "the complete siting was built from another audit result"
        raise ValueError(msg)


class CompleteSection:
    """The "Complete life circle siting" section, from a solved complete siting."""

    def __init__(self, report: ReportBase, solution: CompleteSitingSolution) -> None:
        self.report = report
        self.solution = solution
        self.summary = solution.summary()
        self.lang = report.lang

    def t(self, key: str, **values: Any) -> str:
        return text(key, self.lang, **values)

    # ------------------------------------------------------------------ what is made complete

    @property
    def level(self) -> str | None:
        level = self.summary.get("level")
        return str(level) if level else None

    def circle(self, level: str) -> str:
        """A life-circle level's name ("5-minute life circle"), its id when unknown."""
        try:
            return life_circle_name(self.report.std, level, self.lang)
        except (KeyError, ValueError):
            return level

    def what(self) -> str:
        """The quantity made complete, in words: the level's life circle or the listed ones."""
        if self.level is not None:
            return self.t("c_what_level", level=self.circle(self.level))
        return self.t("c_what_listed")

    def shares(self) -> tuple[Any, Any]:
        """Complete share before and after of the quantity maximised."""
        s = self.summary
        return s["complete_listed_before"], s["complete_listed_after"]

    def context(self) -> dict[str, Any]:
        s = self.summary
        before, after = self.shares()
        is_complex = bool(s["complex"])
        demand = self._demand_name()
        newly = count(s["newly_complete"])
        return {
            "intro": self.t(
                "c_intro",
                model=self.t(f"c_model_{s['model']}"),
                sites=s["sites"],
                unit=self.t("c_unit_complexes" if is_complex else "c_unit_sites"),
                facilities=s["facilities"],
                cats=self.report.cats(s["categories"]),
                what=self.what(),
                newly=newly,
                demand=demand,
                before=pct(before),
                after=pct(after),
            ),
            "cards": [
                {
                    "big": str(s["sites"]),
                    "label": (
                        self.t("c_card_complexes")
                        if is_complex
                        else self.t("c_card_sites", n=s["facilities"])
                    ),
                    "colour": None,
                },
                {"big": newly, "label": self.t("c_card_newly", demand=demand), "colour": None},
                {
                    "big": f"{pct(before)} → {pct(after)}",
                    "label": self.t("c_card_share", what=self.what()),
                    "colour": share_colour(after) if _present(after) else None,
                },
            ],
            "solver": self.solver(),
            "before_after": self.before_after(),
            "ranked_intro": self.t("c_ranked_intro"),
            "ranked": self.ranked(),
            "units_title": self.t("c_tables"),
            "units": [*self.comparison(), *self.tradeoff(), *self.unit_tables()],
            "notes": [str(n) for n in s["notes"]],
        }

    def _demand_name(self) -> str:
        cohort = self.summary.get("cohort")
        if cohort is None:
            return self.report.t("population")
        return str(self.summary.get("cohort_name") or cohort)

    # ------------------------------------------------------------------ before / after

    def before_after(self) -> list[dict[str, str | None]]:
        s = self.summary
        before, after = self.shares()
        label = (
            self.t("c_row_level", level=self.circle(self.level))
            if self.level is not None
            else self.t("c_row_listed", cats=self.report.cats(s["categories"]))
        )
        rows = [_change_row(self, label, before, after)]
        shown = {f"complete_{self.level}"} if self.level is not None else set()
        for key, value in s["complete_before"].items():
            level = key.removeprefix("complete_")
            if key in shown or key == "complete_share" or not _present(value):
                continue
            rows.append(
                _change_row(
                    self,
                    self.t("c_row_level", level=self.circle(level)),
                    value,
                    s["complete_after"].get(key),
                )
            )
        for cat in s["categories"]:
            th = self.solution.problem.problems[cat]
            minutes = th.threshold_m / self.solution.problem.result.profile_of(cat).speed_m_min
            rows.append(
                _change_row(
                    self,
                    self.report.t(
                        "row_coverage", name=self.report.cat(cat), minutes=f"{minutes:.0f}"
                    ),
                    s["coverage_before"].get(cat),
                    s["coverage_after"].get(cat),
                )
            )
        return rows

    # ------------------------------------------------------------------ solver

    def solver(self) -> list[dict[str, str | None]]:
        s = self.summary
        objective = (
            self.t("c_objective_fair", w=f"{float(s['fairness_weight']):g}")
            if s["objective"] == "fair"
            else self.t(f"c_objective_{s['objective']}")
        )
        requested = s["sites_requested"]
        if isinstance(requested, Mapping):
            per = self.report.t("list_sep").join(
                f"{self.report.cat(c)} {int(n)}" for c, n in requested.items()
            )
            request = self.t("c_req_per", per=per, objective=objective)
        else:
            key = "c_req_complex" if s["complex"] else "c_req_total"
            request = self.t(key, n=int(requested), objective=objective)
        if self.level is not None and s["fixed_categories"]:
            request += "; " + self.t(
                "c_level_note",
                level=self.circle(self.level),
                fixed=self.report.cats(s["fixed_categories"]),
            )
        gap = s["mip_gap"]
        bound = s["bound"]
        source = s["bound_source"]
        bound_text = (
            "–"
            if bound is None
            else self.t(
                f"c_bound_{source}"
                if source in ("highs", "reachable", "category_gains")
                else "c_bound_reachable",
                bound=_figure(bound),
            )
        )
        cand = s["candidate_source"]
        limit = s.get("time_limit_s")
        solver = str(s.get("solver") or "")
        rows = [
            (self.report.t("p_model"), self.t(f"c_model_{s['model']}"), None, None),
            (self.report.t("p_request"), request, None, None),
            (self.report.t("p_status"), self.report.t("status_" + s["status"]), s["status"], None),
            (
                self.report.t("p_gap"),
                "–" if gap is None else f"{100 * float(gap):.2f}%",
                None,
                None,
            ),
            (self.t("c_bound"), bound_text, None, None),
            (
                self.t("c_greedy"),
                self.t("c_greedy_text", value=_figure(s["greedy_objective"])),
                None,
                None,
            ),
            # the time limit, not the run time: the report stays the same from run to run
            (
                self.report.t("p_solver"),
                self.report.t("p_solver_limit", solver=solver, s=f"{float(limit):g}")
                if limit is not None
                else solver,
                None,
                None,
            ),
            (
                self.report.t("p_candidates"),
                self.report.t(
                    "cand_auto" if str(cand).startswith("auto") else "cand_file",
                    n=count(s["candidates"]),
                ),
                None,
                cand,
            ),
        ]
        return [
            {"label": label, "value": value, "code": code, "detail": detail}
            for label, value, code, detail in rows
        ]

    # ------------------------------------------------------------------ sites

    def ranked(self) -> dict[str, Any]:
        props = self.solution.proposals()
        head = [
            self.report.t("col_rank"),
            self.t("c_col_site"),
            self.t("c_col_marginal"),
            self.t("c_col_newly"),
            self.report.t("col_location"),
        ]
        rows = []
        for _, row in props.sort_values("rank").iterrows():
            hosted = self.report.cats(str(row["categories"]).split(","))
            site = f"{row['site_id']}: {hosted}"
            if bool(row["complex"]):
                site += f" ({self.t('c_complex')})"
            point = row.geometry.centroid
            rows.append(
                [
                    str(int(row["rank"])),
                    site,
                    count(row["marginal_newly_complete"]),
                    count(row["newly_complete"]),
                    f"{point.x:.5f}, {point.y:.5f}",
                ]
            )
        return {"head": head, "rows": rows}

    # ------------------------------------------------------------------ comparison, trade-off

    def comparison(self) -> list[dict[str, Any]]:
        comp = self.summary.get("comparison") or {}
        if "joint" not in comp:
            return []
        head = [
            self.t("c_col_siting"),
            self.t("c_col_sites"),
            self.t("c_col_facilities"),
            self.t("c_col_newly_all"),
            self.t("c_col_share_after"),
            self.t("c_col_min_unit"),
            self.t("c_col_decile"),
        ]
        runs = [(self.t("c_cmp_complex" if self.summary["complex"] else "c_cmp_joint"), "joint")]
        if "single_category" in comp:
            runs.append((self.t("c_cmp_single"), "single_category"))
        if "joint_separate" in comp:
            n = comp["joint_separate"].get("sites_per_category")
            runs.append((self.t("c_cmp_separate", n=n), "joint_separate"))
        rows = []
        for label, key in runs:
            fig = comp[key]
            rows.append(
                [
                    _Cell.label(label),
                    _Cell.count(fig["sites"]),
                    _Cell.count(fig["facilities"]),
                    _Cell.count(fig["newly_complete"]),
                    _Cell.share(fig["complete_share_after"]),
                    _Cell.share(fig["min_unit_share"]),
                    _Cell.share(fig["worst_decile_share"]),
                ]
            )
        return [
            {
                "level": self.t("c_comparison"),
                "id": "complete-comparison",
                "head": head,
                "rows": rows,
            }
        ]

    def tradeoff(self) -> list[dict[str, Any]]:
        table = self.summary.get("tradeoff")
        if not table:
            return []
        head = [
            self.t("c_col_weight"),
            self.t("c_col_share_after"),
            self.t("c_col_newly_all"),
            self.t("c_col_min_unit"),
            self.t("c_col_decile"),
            self.t("c_col_status"),
            self.t("c_col_gap"),
        ]
        rows = []
        for r in table:
            gap = r.get("mip_gap")
            rows.append(
                [
                    _Cell(f"{float(r['weight']):g}", _number(r["weight"])),
                    _Cell.share(r["complete_share"]),
                    _Cell.count(r["newly_complete"]),
                    _Cell.share(r["min_unit_share"]),
                    _Cell.share(r["worst_decile_share"]),
                    _Cell.label(self.report.t("status_" + str(r["status"]))),
                    _Cell("–" if gap is None else f"{100 * float(gap):.2f}%", _number(gap)),
                ]
            )
        return [
            {"level": self.t("c_tradeoff"), "id": "complete-tradeoff", "head": head, "rows": rows}
        ]

    # ------------------------------------------------------------------ units

    def unit_tables(self) -> list[dict[str, Any]]:
        head = [
            self.report.t("col_unit"),
            self.report.t("col_id"),
            self.t("c_col_demand"),
            self.report.t("col_complete_before"),
            self.report.t("col_complete_after"),
            self.report.t("col_change"),
        ]
        names = {
            level: frame.set_index("unit_id")["name"]
            for level, frame in self.report.result.units.items()
        }
        tables = []
        for level in reversed(self.report.levels):
            units = [u for u in self.summary["units"] if u["level"] == level]

            def change(u: dict[str, Any]) -> float | None:
                b, a = u["complete_listed_before"], u["complete_listed_after"]
                return a - b if _present(a) and _present(b) else None

            units.sort(key=lambda u: -(change(u) or 0.0))
            rows = []
            for u in units:
                delta = change(u)
                name = _name(names[level].get(u["unit_id"], u["name"]), self.lang)
                rows.append(
                    [
                        _Cell.label(name),
                        _Cell.label(u["unit_id"]),
                        _Cell.count(u["demand"]),
                        _Cell.share(u["complete_listed_before"]),
                        _Cell.share(u["complete_listed_after"]),
                        _Cell(
                            "–"
                            if delta is None
                            else self.report.t("points", v=f"{100 * delta:+.1f}"),
                            _number(delta),
                        ),
                    ]
                )
            tables.append(
                {
                    "level": self.t("c_units", level=level_name(level, self.lang)),
                    "id": f"complete-{level}",
                    "head": head,
                    "rows": rows,
                }
            )
        return tables


def _change_row(
    section: CompleteSection, label: str, before: Any, after: Any
) -> dict[str, str | None]:
    both = _present(before) and _present(after)
    return {
        "label": label,
        "before": pct(before),
        "after": pct(after),
        "change": (
            section.report.t("points", v=f"{100 * (float(after) - float(before)):+.1f}")
            if both
            else "–"
        ),
        "before_colour": share_colour(before) if _present(before) else None,
        "after_colour": share_colour(after) if _present(after) else None,
    }


def _figure(value: Any) -> str:
    """An objective or bound: a count when large, else a share-like number."""
    number = float(value)
    return f"{number:,.0f}" if abs(number) >= 100 else f"{number:.4g}"
