"""The planner's report: one self-contained, printable HTML file.

Headline figures, categories ranked by shortfall, the worst-served units,
charts (inline SVG from matplotlib), sortable per-level unit tables, the
largest gaps, the method, data quality (when ``summary.json`` has it),
warnings and data sources with their licences.
With a solved :class:`~lifecircle.optimize.Siting`, a "Proposed sites" section
follows the headline: model, solver status, candidates, coverage before and
after, the ranked sites, per-unit before / after and the optimizer's notes.
The page makes no request: CSS, charts and the few lines of sorting script
are inline. Data strings reach the page only through Jinja2's autoescaping.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import pandas as pd

from ..datasets import SAMPLES, get_path
from . import _charts
from ._assets import ASSETS, read_text
from ._page import check_siting, write_html
from ._quality import quality_rows
from ._style import category_colours, share_colour
from ._text import (
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
    from ..optimize import Siting
    from ..pipeline import AuditResult

__all__ = ["build_report", "render_report"]

#: Rows in the worst-served units and gaps sections.
WORST_UNITS = 10
TOP_GAPS = 20


def render_report(result: AuditResult, path: str | Path, *, lang: str = "en",
                  siting: Siting | None = None) -> Path:
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
        A solved :class:`~lifecircle.optimize.Siting` built from ``result``: adds the
        "Proposed sites" section (see :meth:`lifecircle.optimize.Siting.to_report`).

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


def build_report(result: AuditResult, *, lang: str = "en", siting: Siting | None = None
                 ) -> str:
    """The report's HTML, as a string (see :func:`render_report`)."""
    check_lang(lang)
    if siting is not None:
        check_siting(result, siting)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ASSETS), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True,
                             lstrip_blocks=True)
    report = _Report(result, lang)
    proposals = None if siting is None else _Proposals(report, siting).context()
    return env.get_template("report.html.j2").render(
        lang=lang, t=report.t, css=read_text("report.css"), proposals=proposals,
        **report.context())


@dataclass
class _Cell:
    """A table cell: what is shown and the key it sorts by."""

    shown: str
    key: float | str

    @classmethod
    def share(cls, value: Any) -> _Cell:
        return cls(pct(value), _number(value))

    @classmethod
    def count(cls, value: Any) -> _Cell:
        return cls(count(value), _number(value))

    @classmethod
    def label(cls, value: Any) -> _Cell:
        return cls(str(value), str(value))


def _number(value: Any) -> float:
    """Sort key of a number; missing values sort first."""
    return -1.0 if value is None or pd.isna(value) else round(float(value), 6)


class _Report:
    """Everything the template shows, computed from an audit result."""

    def __init__(self, result: AuditResult, lang: str) -> None:
        self.result = result
        self.lang = lang
        self.summary = result.summary
        self.std = result.standard
        self.categories: list[str] = list(self.summary["categories_audited"])
        self.levels: list[str] = list(self.summary["units"]["levels"])
        self.colours = category_colours(self.std.category_ids)

    def t(self, key: str, **values: Any) -> str:
        return text(key, self.lang, **values)

    def cat(self, category: str) -> str:
        return category_name(self.std, category, self.lang)

    def minutes(self, category: str) -> float:
        return float(self.summary["thresholds"][category]["minutes"])

    def context(self) -> dict[str, Any]:
        summary = self.summary
        std_title = summary["standard"]["title_zh" if self.lang == "zh" else "title"]
        prof = summary["profile"]
        created = dt.datetime.fromisoformat(summary["created"])
        return {
            "title": self.t("title"),
            "subtitle": self.t("report_subtitle", standard=std_title,
                               profile=profile_name(prof["id"], self.lang),
                               speed=f"{prof['speed_m_s']:g}"),
            "created": self.t("created", date=f"{created:%Y-%m-%d %H:%M} UTC",
                              version=summary["lifecircle_version"]),
            "headline": self.headline(),
            "categories": self.category_rows(),
            "worst": self.worst_units(),
            "tables": self.level_tables(),
            "gaps": self.gap_rows(),
            "method": self.method(),
            "quality": quality_rows(self.result, self.lang),
            "warnings": list(summary["warnings"]),
            "sources": self.sources(),
            "charts": self.charts(),
        }

    # ------------------------------------------------------------------ headline

    def headline(self) -> dict[str, Any]:
        summary = self.summary
        total = summary["population"]["total"]
        complete = [
            {"label": self.t("card_complete",
                             level=life_circle_name(self.std, level, self.lang)),
             "share": pct(share), "residents": count(total * share),
             "colour": share_colour(share)}
            for level, share in summary["complete_by_level"].items()
        ]
        finest = self.levels[-1]
        worst_cat = min(self.categories, key=lambda c: summary["coverage"][c])
        top = self.std.levels[-1].id
        sentence = self.t(
            "headline_sentence", share=pct(summary["complete_share"]), total=count(total),
            level=life_circle_name(self.std, top, self.lang), category=self.cat(worst_cat),
            uncovered=count(total * (1 - summary["coverage"][worst_cat])),
            minutes=f"{self.minutes(worst_cat):g}")
        return {
            "residents": count(total),
            "complete": complete,
            "units": {"done": summary["units"]["fully_analysed"][finest],
                      "total": summary["units"]["total"][finest],
                      "level": level_name(finest, self.lang)},
            "sentence": sentence,
        }

    # ------------------------------------------------------------------ categories

    def category_rows(self) -> list[dict[str, Any]]:
        summary = self.summary
        total = summary["population"]["total"]
        rows = []
        for cat in sorted(self.categories, key=lambda c: summary["coverage"][c]):
            th = summary["thresholds"][cat]
            share = summary["coverage"][cat]
            rows.append({
                "name": self.cat(cat), "colour": self.colours[cat],
                "level": life_circle_name(self.std, th["level"], self.lang),
                "threshold": self.t("minutes_metres", minutes=f"{th['minutes']:g}",
                                    metres=f"{th['metres']:.0f}"),
                "coverage": pct(share), "coverage_colour": share_colour(share),
                "uncovered": count(total * (1 - share)),
                "facilities": count(summary["facilities"]["by_category"].get(cat, 0)),
                "mandatory": self.t("yes" if th["mandatory"] else "no"),
            })
        return rows

    # ------------------------------------------------------------------ units

    def _analysed(self, level: str) -> pd.DataFrame:
        frame = self.result.units[level]
        return frame[frame["units_analysed"] > 0]

    def worst_units(self) -> list[dict[str, Any]]:
        finest = self._analysed(self.levels[-1])
        worst = finest.sort_values(["complete_share", "population"],
                                   ascending=[True, False]).head(WORST_UNITS)
        rows = []
        for _, row in worst.iterrows():
            cat = row["worst_category"]
            rows.append({
                "name": row["name"], "population": count(row["population"]),
                "complete": pct(row["complete_share"]),
                "colour": share_colour(row["complete_share"]),
                "worst": (f"{self.cat(str(cat))} ({pct(row[f'cov_{cat}'])})"
                          if pd.notna(cat) else "–"),
            })
        return rows

    def _complete_columns(self) -> list[tuple[str, str]]:
        return [(f"complete_{lv.id}", self.t("col_complete", minutes=f"{lv.minutes:g}"))
                for lv in self.std.levels if f"complete_{lv.id}" in self.result.units[
                    self.levels[-1]].columns]

    def level_tables(self) -> list[dict[str, Any]]:
        complete = self._complete_columns()
        head = ([self.t("col_unit"), self.t("col_id"), self.t("population")]
                + [label for _, label in complete] + [self.t("col_score")]
                + [f"{self.cat(c)} ≤{self.minutes(c):g}′" for c in self.categories]
                + [self.t("worst_category")])
        tables = []
        for level in reversed(self.levels):
            frame = self._analysed(level).sort_values("complete_share")
            partial = bool((frame["units_total"] > 1).any())
            rows = []
            for _, row in frame.iterrows():
                cat = row["worst_category"]
                cells = ([_Cell.label(row["name"]), _Cell.label(row["unit_id"]),
                          _Cell.count(row["population"])]
                         + [_Cell.share(row[col]) for col, _ in complete]
                         + [_Cell.share(row["score"])]
                         + [_Cell.share(row[f"cov_{c}"]) for c in self.categories]
                         + [_Cell.label(self.cat(str(cat)) if pd.notna(cat) else "–")])
                if partial:
                    cells.append(_Cell(f"{int(row['units_analysed'])}/{int(row['units_total'])}",
                                       _number(row["units_analysed"] / row["units_total"])))
                rows.append(cells)
            tables.append({"level": level_name(level, self.lang), "id": level,
                           "head": head + ([self.t("col_analysed")] if partial else []),
                           "rows": rows})
        return tables

    def gap_rows(self) -> dict[str, Any]:
        gaps = self.result.gaps
        rows = [{"name": row["name"], "level": level_name(str(row["level"]), self.lang),
                 "category": self.cat(str(row["category"])),
                 "colour": self.colours[str(row["category"])],
                 "uncovered": count(row["uncovered_population"]),
                 "share": pct(row["uncovered_share"])}
                for _, row in gaps.head(TOP_GAPS).iterrows()]
        return {"rows": rows, "intro": self.t("gaps_intro", n=len(rows), total=len(gaps))}

    # ------------------------------------------------------------------ method, sources

    def method(self) -> dict[str, Any]:
        summary = self.summary
        prof, net, units = summary["profile"], summary["network"], summary["units"]
        finest = self.levels[-1]
        thresholds = [{
            "name": self.cat(c), "colour": self.colours[c],
            "level": life_circle_name(self.std, th["level"], self.lang),
            "minutes": f"{th['minutes']:g}", "metres": f"{th['metres']:.0f}",
            "mandatory": self.t("yes" if th["mandatory"] else "no"),
            "verified": self.t("yes" if th["verified"] else "no"), "source": th["source"],
        } for c, th in summary["thresholds"].items()]
        return {
            "standard": f"{summary['standard']['title_zh' if self.lang == 'zh' else 'title']}"
                        f" — {summary['standard']['source']}",
            "speed": self.t("m_speed", profile=profile_name(prof["id"], self.lang),
                            speed=f"{prof['speed_m_s']:g}",
                            per_min=f"{prof['speed_m_s'] * 60:g}", source=prof["source"]),
            "thresholds": thresholds,
            "network": self.t("m_network_text", nodes=count(net["nodes"]),
                              edges=count(net["edges"]), km=f"{net['length_km']:,.1f}",
                              crs=net["crs"], dropped=net.get("dropped_components", 0),
                              dropped_nodes=count(net.get("dropped_nodes", 0))),
            "population": summary["population"]["method"],
            "population_sources": [(name, count(value)) for name, value
                                   in summary["population"]["sources"].items()],
            "units": self.t("m_units_text", level=level_name(finest, self.lang),
                            catchment=f"{units['catchment_m']:.0f}",
                            done=units["fully_analysed"][finest],
                            total=units["total"][finest]),
            "excluded": units["excluded"],
            "not_audited": [self.cat(c) for c in summary["categories_not_audited"]],
        }

    def sources(self) -> dict[str, Any]:
        study = self.summary["study"]
        inputs = []
        for role in ("network", "facilities", "units", "population"):
            paths = study.get(role) or []
            for name in [paths] if isinstance(paths, str) else paths:
                path = Path(name)
                modified = (dt.date.fromtimestamp(path.stat().st_mtime).isoformat()
                            if path.is_file() else "–")
                inputs.append({"role": self.t(f"role_{role}"), "file": path.name,
                               "modified": modified})
        sample = next((info["description"] for name, info in SAMPLES.items()
                       if _is_sample(study, name)), None)
        versions = ", ".join(f"{k} {v}" for k, v in self.summary["versions"].items())
        return {"inputs": inputs, "sample": sample, "attribution": self.summary["attribution"],
                "versions": versions}

    # ------------------------------------------------------------------ charts

    def charts(self) -> dict[str, str]:
        summary = self.summary
        ranked = sorted(self.categories, key=lambda c: summary["coverage"][c])
        coverage = _charts.coverage_bars(
            [f"{self.cat(c)} ≤{self.minutes(c):g}′" for c in ranked],
            [summary["coverage"][c] for c in ranked],
            title=self.t("chart_coverage"), xlabel=self.t("chart_coverage_x"))
        access = self.result.access
        weights = access["population"].to_numpy(float)
        curves = [_charts.Curve(self.cat(c), access[f"time_{c}_min"].to_numpy(float), weights,
                                self.colours[c], self.minutes(c)) for c in ranked]
        max_minutes = max(self.minutes(c) for c in self.categories)
        times = _charts.cumulative_curves(
            curves, max_minutes=max_minutes, title=self.t("chart_times"),
            xlabel=self.t("chart_times_x"), ylabel=self.t("chart_times_y"))
        finest = self._analysed(self.levels[-1]).sort_values("complete_share")
        complete = self._complete_columns()
        nested = [_charts.Series(label, finest[col].to_numpy(float), colour)
                  for (col, label), colour in zip(complete,
                                                  _charts.sequential_colours(len(complete)),
                                                  strict=True)]
        units = _charts.nested_bars(list(finest["name"].astype(str)), nested,
                                    title=self.t("chart_units"), xlabel=self.t("chart_units_x"))
        return {"coverage": coverage, "times": times, "units": units,
                "times_note": self.t("chart_times_note", max=f"{max_minutes:g}")}


class _Proposals:
    """The "Proposed sites" section, from a solved siting."""

    def __init__(self, report: _Report, siting: Siting) -> None:
        self.report = report
        self.siting = siting
        self.summary = siting.summary()
        self.t = report.t

    def context(self) -> dict[str, Any]:
        summary, cat = self.summary, self.siting.category
        name = self.report.cat(cat)
        th = self.report.summary["thresholds"][cat]
        minutes, metres = f"{th['minutes']:g}", f"{th['metres']:.0f}"
        model = self.t(f"model_{summary['model']}")
        newly = count(summary["newly_covered_population"])
        if summary["model"] == "pmedian":
            intro = self.t("p_intro_distance", model=model, sites=summary["sites"], name=name,
                           before=count(summary["mean_distance_before_m"]),
                           after=count(summary["mean_distance_after_m"]), newly=newly,
                           minutes=minutes, metres=metres)
        else:
            intro = self.t("p_intro_cover", model=model, sites=summary["sites"], name=name,
                           newly=newly, minutes=minutes, metres=metres)
        return {
            "intro": intro,
            "cards": [
                {"big": str(summary["sites"]), "label": self.t("card_sites", name=name),
                 "colour": None},
                {"big": newly, "label": self.t("card_newly"), "colour": None},
                {"big": f"{pct(summary['coverage_before'])} → {pct(summary['coverage_after'])}",
                 "label": self.t("card_coverage", name=name, minutes=minutes),
                 "colour": share_colour(summary["coverage_after"])},
            ],
            "solver": self.solver(model),
            "before_after": self.before_after(name, minutes),
            "ranked_intro": self.t("p_ranked_distance" if summary["model"] == "pmedian"
                                   else "p_ranked_cover"),
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
            request.append(self.t("req_floor", level=level_name(self.report.levels[-1],
                                                                self.report.lang),
                                  share=pct(options["min_unit_coverage"])))
        source = summary["candidate_source"]
        kind = "cand_auto" if source.startswith("auto") else "cand_file"
        gap = summary["mip_gap"]
        rows = [
            (self.t("p_model"), model, None, None),
            (self.t("p_request"), "; ".join(request), None, None),
            (self.t("p_status"), self.t("status_" + summary["status"]), summary["status"],
             None),
            (self.t("p_gap"), "–" if gap is None else f"{100 * float(gap):.2f}%", None, None),
            (self.t("p_runtime"), self.t("p_seconds", s=f"{summary['runtime_s']:.2f}",
                                         solver=summary["solver"]), None, None),
            (self.t("p_candidates"), self.t(kind, n=count(summary["candidates"])), None,
             source),
        ]
        return [{"label": label, "value": value, "code": code, "detail": detail}
                for label, value, code, detail in rows]

    def before_after(self, name: str, minutes: str) -> list[dict[str, str]]:
        summary = self.summary
        rows = []
        for label, before, after in (
            (self.t("row_coverage", name=name, minutes=minutes),
             summary["coverage_before"], summary["coverage_after"]),
            (self.t("theme_complete"), summary["complete_share_before"],
             summary["complete_share_after"]),
        ):
            rows.append({"label": label, "before": pct(before), "after": pct(after),
                         "change": self.t("points", v=f"{100 * (after - before):+.1f}"),
                         "before_colour": share_colour(before),
                         "after_colour": share_colour(after)})
        if summary["model"] == "pmedian":
            before, after = summary["mean_distance_before_m"], summary["mean_distance_after_m"]
            rows.append({"label": self.t("row_mean_distance", name=name,
                                         cap=count(summary["distance_cap_m"])),
                         "before": f"{count(before)} m", "after": f"{count(after)} m",
                         "change": f"{after - before:+,.0f} m", "before_colour": None,
                         "after_colour": None})
        return rows

    def ranked(self) -> dict[str, Any]:
        props = self.siting.proposals()
        distance = "marginal_distance_saved_m" in props.columns
        marginal = "marginal_distance_saved_m" if distance else "marginal_newly_covered"
        head = [self.t("col_rank"), self.t("col_site"),
                self.t("col_marginal_saved" if distance else "col_marginal_newly"),
                self.t("col_served"), self.t("col_location")]
        rows = [[str(int(row["rank"])), str(row["site_id"]), count(row[marginal]),
                 count(row["residents_served"]),
                 f"{row.geometry.centroid.x:.5f}, {row.geometry.centroid.y:.5f}"]
                for _, row in props.sort_values("rank").iterrows()]
        return {"head": head, "rows": rows}

    def unit_tables(self) -> list[dict[str, Any]]:
        head = [self.t("col_unit"), self.t("col_id"), self.t("population"),
                self.t("col_cov_before"), self.t("col_cov_after"), self.t("col_change"),
                self.t("col_complete_before"), self.t("col_complete_after")]
        names = {level: frame.set_index("unit_id")["name"]
                 for level, frame in self.report.result.units.items()}
        tables = []
        for level in reversed(self.report.levels):
            units = [u for u in self.summary["units"] if u["level"] == level]
            units.sort(key=lambda u: -((u["coverage_after"] or 0) - (u["coverage_before"] or 0)))
            rows = []
            for u in units:
                change = ((u["coverage_after"] - u["coverage_before"])
                          if u["coverage_after"] is not None and u["coverage_before"] is not None
                          else None)
                rows.append([
                    _Cell.label(names[level].get(u["unit_id"], u["name"])),
                    _Cell.label(u["unit_id"]), _Cell.count(u["population"]),
                    _Cell.share(u["coverage_before"]), _Cell.share(u["coverage_after"]),
                    _Cell("–" if change is None else self.t("points", v=f"{100 * change:+.1f}"),
                          _number(change)),
                    _Cell.share(u["complete_share_before"]),
                    _Cell.share(u["complete_share_after"])])
            tables.append({"level": level_name(level, self.report.lang), "id": level,
                           "head": head, "rows": rows})
        return tables


def _is_sample(study: dict[str, Any], name: str) -> bool:
    """Whether the audited inputs are those of a bundled sample."""
    paths = get_path(name)
    try:
        return (Path(study["network"]).resolve() == paths["network"].resolve()
                and Path(study["units"] or "").resolve() == paths["units"].resolve())
    except (KeyError, TypeError, OSError):
        return False

