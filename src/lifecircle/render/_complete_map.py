"""The complete-life-circle siting on the map: its proposed sites and their legend.

With a solved :class:`~lifecircle.complete_siting.CompleteSitingSolution`
(``lifecircle optimize --categories``) the map shows the proposed sites, numbered by
rank, each with a tooltip and a popup listing every category it hosts (complexes
named as such). Every string is escaped here (:func:`~lifecircle.render._text.esc`);
the page receives the markup through its JSON data island only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from . import _mapdata
from ._context import MapContext
from ._features import layer, lonlat
from ._proposals import site_marker_html, sites_part
from ._style import SITE_COLOUR
from ._text import count, esc, life_circle_name, pct
from ._text_complete import text

if TYPE_CHECKING:
    from ..complete_siting import CompleteSitingSolution


def complete_layer(ctx: MapContext, solution: CompleteSitingSolution) -> dict[str, Any]:
    """The proposed sites of a complete siting, numbered by rank, with what each hosts."""
    lang = ctx.lang
    props = solution.proposals()
    is_complex = solution.model == "complex"
    name = f'<span class="lc-swatch lc-dot" style="background:{SITE_COLOUR}"></span>' + esc(
        text("c_layer_complex" if is_complex else "c_layer", lang, n=len(props))
    )
    if props.empty:
        return layer(name, [], show=True)
    cand = solution.problem.candidates.set_index("candidate_id").loc[props["candidate_id"]]
    sites = _mapdata.as_points(cand[[cand.geometry.name]], ctx.result.graph.crs)
    points = ctx.display(sites)
    details = [site_details(ctx, solution, props.iloc[i], cand.iloc[i]) for i in range(len(props))]
    part = sites_part(lonlat(points), props["rank"], details)
    return layer(name, [part], show=True)


def site_details(
    ctx: MapContext, solution: CompleteSitingSolution, row: Any, candidate: Any
) -> tuple[str, list[tuple[str, str]]]:
    """The escaped title and (label, value) rows of one proposed site."""
    lang = ctx.lang
    key = "c_complex_title" if bool(row["complex"]) else "c_site_title"
    title = esc(text(key, lang, rank=int(row["rank"])))
    problem = solution.problem
    hosted = []
    for cat in str(row["categories"]).split(","):
        minutes = problem.problems[cat].threshold_m / problem.result.profile_of(cat).speed_m_min
        hosted.append(f"{esc(_cat_name(ctx, cat))} (≤ {minutes:.0f}′)")
    rows = [
        (esc(text("site_id", lang)), esc(row["site_id"])),
        (esc(text("c_hosts", lang)), "<br>".join(hosted)),
    ]
    name = candidate.get("name")
    if name is not None and pd.notna(name) and str(name).strip():
        rows.append((esc(text("site_name", lang)), esc(name)))
    rows += [
        (esc(text("c_col_marginal", lang)), f"<b>{count(row['marginal_newly_complete'])}</b>"),
        (esc(text("c_col_newly", lang)), count(row["newly_complete"])),
    ]
    return title, rows


def complete_legend(ctx: MapContext, solution: CompleteSitingSolution) -> str:
    """The legend's rows of a complete siting: the marker and the complete share's change."""
    lang = ctx.lang
    summary = solution.summary()
    level = summary.get("level")
    what = (
        text("c_row_level", lang, level=life_circle_name(ctx.result.standard, level, lang))
        if level
        else text("c_row_listed", lang, cats=_cats(ctx, summary["categories"]))
    )
    head = "c_layer_complex" if solution.model == "complex" else "c_layer"
    return "".join(
        [
            f'<div class="lc-head">{esc(text(head, lang, n=summary["sites"]))}</div>',
            f'<div class="lc-row"><span class="lc-site-key">{site_marker_html(1)}</span>'
            f"{esc(text('c_ranked', lang))}</div>",
            '<div class="lc-row lc-change">'
            + esc(
                f"{what}: {pct(summary['complete_listed_before'])} → "
                f"{pct(summary['complete_listed_after'])}"
            )
            + "</div>",
        ]
    )


def _cat_name(ctx: MapContext, cat: str) -> str:
    try:
        return ctx.cat_name(cat)
    except (KeyError, ValueError):
        return cat


def _cats(ctx: MapContext, cats: list[str]) -> str:
    return text("list_sep", ctx.lang).join(_cat_name(ctx, c) for c in cats)
