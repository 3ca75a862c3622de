"""The planner's report: one self-contained, printable HTML file.

Headline figures, categories ranked by shortfall, the worst-served units,
charts (inline SVG from matplotlib), sortable per-level unit tables, the
largest gaps, the method, data quality (when ``summary.json`` has it),
warnings and data sources with their licences.
With a solved :class:`~lifecircle.siting.SitingSolution`, a "Proposed sites" section
follows the headline: model, solver status, candidates, coverage before and
after, the ranked sites, per-unit before / after and the optimizer's notes. With a
solved :class:`~lifecircle.complete_siting.CompleteSitingSolution` the section is
"Complete life circle siting" instead (:mod:`lifecircle.render._report_complete`):
the complete share before and after, the categories each site hosts, the comparison
with single-category runs (and separate sites for complexes), the trade-off table.
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from .. import columns
from ..datasets import SAMPLES, get_path
from . import _charts
from ._assets import ASSETS, read_text
from ._page import check_siting, write_html
from ._quality import quality_rows
from ._report_base import UNVERIFIED, _name, _present
from ._report_complete import CompleteSection, check_complete
from ._report_fair import FairSections
from ._report_proposals import _Proposals
from ._report_rural import rural_section
from ._report_units import UnitSections
from ._style import share_colour
from ._text import check_lang, count, level_name, life_circle_name, pct, profile_name
from ._text_complete import section_text

if TYPE_CHECKING:
    from ..complete_siting import CompleteSitingSolution
    from ..pipeline import AuditResult
    from ..siting import SitingSolution
    from ..summary import StudyInfo

__all__ = ["build_report", "render_report"]


def render_report(
    result: AuditResult,
    path: str | Path,
    *,
    lang: str = "en",
    siting: SitingSolution | None = None,
    complete: CompleteSitingSolution | None = None,
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
    complete
        A solved :class:`~lifecircle.complete_siting.CompleteSitingSolution` built from
        ``result`` (``lifecircle optimize --categories``): adds the "Complete life
        circle siting" section. Not together with ``siting``.

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
    return write_html(path, build_report(result, lang=lang, siting=siting, complete=complete))


def build_report(
    result: AuditResult,
    *,
    lang: str = "en",
    siting: SitingSolution | None = None,
    complete: CompleteSitingSolution | None = None,
) -> str:
    """The report's HTML, as a string (see :func:`render_report`)."""
    check_lang(lang)
    if siting is not None and complete is not None:
        msg = "give a siting or a complete siting, not both"
        raise ValueError(msg)
    if siting is not None:
        check_siting(result, siting)
    if complete is not None:
        check_complete(result, complete)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ASSETS),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    report = _Report(result, lang)
    t: Any = report.t
    proposals = None
    if siting is not None:
        proposals = _Proposals(report, siting).context()
    elif complete is not None:
        # the same slot of the template, worded as the complete siting's own section
        proposals = CompleteSection(report, complete).context()

        def t(key: str, **values: Any) -> str:
            return section_text(key, lang, **values)

    return env.get_template("report.html.j2").render(
        lang=lang, t=t, css=read_text("report.css"), proposals=proposals, **report.context()
    )


#: Units drawn in the report's per-unit chart, worst-served first (all are in the tables).
CHART_MAX_UNITS = 80


class _Report(UnitSections):
    """Everything the template shows, computed from an audit result."""

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
            "fair": FairSections(self).context(),
            "rural": rural_section(self.result, self.lang),
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
        ranked_units = self._ranked(self._analysed(self.levels[-1]))
        # one bar per unit: a city's thousands of units would make a chart nobody reads
        # (and took minutes to draw at 8,000 units); the worst-served come first
        finest = ranked_units.head(CHART_MAX_UNITS)
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
        capped = len(ranked_units) > len(finest)
        return {
            "coverage": coverage,
            "times": times,
            "units": units,
            "units_note": (
                self.t("chart_units_cap", shown=len(finest), total=f"{len(ranked_units):,}")
                if capped
                else ""
            ),
            "times_note": self.t("chart_times_note", max=f"{max_minutes:g}"),
        }


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
