"""The map's legend: one HTML block, shown as a Leaflet control (bottom left).

The standard and walking profile, the colour classes of the unit themes, the
proportional circles of uncovered residents, the catchments, the clusters and,
with proposed sites, their marker, catchment and the coverage change they bring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._cluster import cluster_icon_html
from ._context import CELL_M
from ._proposals import site_marker_html
from ._style import (
    CATCHMENT_COLOUR,
    MISSING_COLOUR,
    PARTLY_COLOUR,
    SITE_COLOUR,
    UNCOVERED_COLOUR,
    share_classes,
)
from ._text import count, esc, pct, profile_name, text
from ._themes import MAX_RADIUS_PX

if TYPE_CHECKING:
    from ._context import MapContext
    from ._proposals import Proposed
    from ._themes import RadiusScale


def legend_html(
    ctx: MapContext,
    radius: RadiusScale,
    proposed: Proposed | None = None,
    *,
    boundaries: bool = False,
    partly: bool = False,
) -> str:
    """The legend's HTML (every data string escaped).

    Parameters
    ----------
    ctx
        The map's context.
    radius
        The scale of the circles of residents not covered.
    proposed
        The proposed sites, if any.
    boundaries
        Whether the map has coarser unit boundaries.
    partly
        Whether some of those coarser units are only partly analysed.

    Returns
    -------
    str
        HTML.
    """
    lang, audit = ctx.lang, ctx.result.summary
    std_title = audit.standard.title_zh if lang == "zh" else audit.standard.title
    prof = audit.profile
    parts = [
        f'<div class="lc-title">{esc(text("title", lang))}</div>',
        f'<div class="lc-sub">{esc(std_title)} · {esc(profile_name(prof.id, lang))} '
        f"{prof.speed_m_s:g} m/s</div>",
        f'<div class="lc-head">{esc(text("legend_share", lang))}</div>',
    ]
    for colour, label in reversed(share_classes()):
        parts.append(
            f'<div class="lc-row"><span class="lc-swatch" '
            f'style="background:{colour}"></span>{esc(label)}</div>'
        )
    parts.append(
        f'<div class="lc-row"><span class="lc-swatch lc-hatch" style="background:'
        f'{MISSING_COLOUR}"></span>{esc(text("legend_not_analysed", lang))}</div>'
    )
    parts.append(
        f'<div class="lc-head">{esc(text("legend_uncovered", lang, cell=f"{CELL_M:.0f}"))}'
        '</div><div class="lc-circles">'
    )
    for value in radius.reference_values():
        r = radius(value)
        size = 2 * MAX_RADIUS_PX + 2
        parts.append(
            f'<span class="lc-circle"><svg width="{size}" height="{size}">'
            f'<circle cx="{size / 2}" cy="{size / 2}" r="{r}" fill="{UNCOVERED_COLOUR}" '
            f'fill-opacity="0.6" stroke="#fff"/></svg>{count(value)}</span>'
        )
    parts.append("</div>")
    parts.append(
        f'<div class="lc-row"><span class="lc-swatch" style="background:'
        f'{CATCHMENT_COLOUR};opacity:0.35"></span>'
        f"{esc(text('legend_catchment', lang))}</div>"
    )
    parts.append(
        f'<div class="lc-row">{cluster_icon_html(12)}{esc(text("legend_clusters", lang))}</div>'
    )
    if boundaries:
        parts.append(
            '<div class="lc-row"><span class="lc-line" style="border-top-color:'
            f'#222222"></span>{esc(text("legend_boundary", lang))}</div>'
        )
    if partly:
        parts.append(
            '<div class="lc-row"><span class="lc-line lc-line-partly" style="'
            f'border-top-color:{PARTLY_COLOUR}"></span>'
            f"{esc(text('legend_partly', lang, units=ctx.finest_units_word()))}</div>"
        )
    if proposed is not None:
        cat, summary = proposed.category, proposed.summary
        name = ctx.cat_name(cat)
        minutes = f"{ctx.threshold(cat).minutes:g}"
        parts += [
            f'<div class="lc-head">{esc(text("legend_proposals", lang))}</div>',
            f'<div class="lc-row"><span class="lc-site-key">{site_marker_html(1)}</span>'
            f"{esc(text('legend_site', lang, name=name))}</div>",
            f'<div class="lc-row"><span class="lc-swatch lc-site-area" style="border-color:'
            f'{SITE_COLOUR}"></span>{esc(text("legend_site_catchment", lang, minutes=minutes))}'
            "</div>",
            '<div class="lc-row lc-change">'
            + esc(
                text(
                    "legend_change",
                    lang,
                    name=name,
                    before=pct(summary["coverage_before"]),
                    after=pct(summary["coverage_after"]),
                )
            )
            + "</div>",
        ]
    return "".join(parts)
