"""The proposed sites on the map: a solved siting, its layer and its popups.

With a solved :class:`~lifecircle.siting.SitingSolution` the map shows the proposed sites,
numbered by rank, over each site's walking catchment (one overlay). What the map
draws of the siting (:class:`Proposed`) is computed once, and also feeds the
before / after themes (:mod:`lifecircle.render._themes`) and the legend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from . import _mapdata
from ._context import MapContext
from ._features import geometries, layer, lonlat, shapes
from ._page import check_siting
from ._style import SITE_COLOUR
from ._text import count, esc, text

if TYPE_CHECKING:
    from ..siting import SitingSolution


@dataclass(frozen=True)
class Proposed:
    """A solved siting and what the map draws of it, computed once."""

    siting: SitingSolution
    summary: dict[str, Any]
    proposals: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    access_after: pd.DataFrame
    units_after: dict[str, gpd.GeoDataFrame]

    @classmethod
    def of(cls, ctx: MapContext, siting: SitingSolution) -> Proposed:
        """What the map draws of ``siting``, a solved siting built from ``ctx.result``."""
        check_siting(ctx.result, siting)
        proposals = siting.proposals()
        # the sites' own geometry (points or parcels, graph CRS), in rank order
        cand = siting.candidates.set_index("candidate_id").loc[proposals["candidate_id"]]
        sites = gpd.GeoDataFrame(geometry=cand.geometry.to_numpy(), crs=siting.candidates.crs)
        if "name" in cand.columns:
            sites["name"] = cand["name"].to_numpy()
        access_after = siting.access_after()
        return cls(
            siting=siting,
            summary=siting.summary(),
            proposals=proposals,
            sites=sites,
            access_after=access_after,
            units_after=siting.units_after(access_after),
        )

    @property
    def category(self) -> str:
        """The siting's category."""
        return self.siting.category


def site_marker_html(rank: int) -> str:
    """The numbered marker of the site ranked ``rank`` (also the legend's key)."""
    return f'<div class="lc-site" style="background:{SITE_COLOUR}">{int(rank)}</div>'


def site_rows(ctx: MapContext, proposed: Proposed, i: int) -> list[tuple[str, str]]:
    """(label, value) pairs of the i-th proposed site, escaped, for its popup."""
    lang, props = ctx.lang, proposed.proposals
    row = props.iloc[i]
    rows = [
        (esc(text("site_id", lang)), esc(row["site_id"])),
        (esc(text("col_category", lang)), esc(ctx.cat_name(proposed.category))),
    ]
    name = proposed.sites["name"].iloc[i] if "name" in proposed.sites.columns else None
    if pd.notna(name) and str(name).strip():
        rows.append((esc(text("site_name", lang)), esc(name)))
    if "marginal_newly_covered" in props.columns:
        rows.append(
            (
                esc(text("col_marginal_newly", lang)),
                f"<b>{count(row['marginal_newly_covered'])}</b>",
            )
        )
    else:
        rows.append(
            (
                esc(text("col_marginal_saved", lang)),
                f"<b>{count(row['marginal_distance_saved_m'])}</b>",
            )
        )
    rows.append((esc(text("col_served", lang)), count(row["residents_served"])))
    th = ctx.threshold(proposed.category)
    rows.append(
        (
            esc(text("site_catchment", lang)),
            esc(
                text(
                    "minutes_metres",
                    lang,
                    minutes=f"{th.minutes:g}",
                    metres=f"{th.metres:.0f}",
                )
            ),
        )
    )
    return rows


def proposals_layer(ctx: MapContext, proposed: Proposed) -> dict[str, Any]:
    """The proposed sites, numbered by rank, over each site's walking catchment."""
    cat, lang, graph = proposed.category, ctx.lang, ctx.result.graph
    props, sites = proposed.proposals, proposed.sites
    name = f'<span class="lc-swatch lc-dot" style="background:{SITE_COLOUR}"></span>' + esc(
        text("layer_proposals", lang, name=ctx.cat_name(cat), n=len(props))
    )
    if props.empty:
        return layer(name, [], show=True)
    reach = ctx.threshold(cat).metres
    areas = pd.concat(
        [ctx.catchment(sites.iloc[[i]], reach) for i in range(len(sites))], ignore_index=True
    )
    areas = ctx.display(gpd.GeoDataFrame(geometry=areas))
    areas = areas[~areas.is_empty]
    parts = []
    if len(areas):
        parts.append(
            shapes(
                geometries(areas),
                pane="lc_site_catchments",
                interactive=False,
                styles=[
                    {
                        "color": SITE_COLOUR,
                        "weight": 1.6,
                        "opacity": 0.9,
                        "dashArray": "5 4",
                        "fillColor": SITE_COLOUR,
                        "fillOpacity": 0.07,
                    }
                ],
            )
        )
    points = ctx.display(_mapdata.as_points(sites, graph.crs))
    details = [
        (esc(text("site_title", lang, rank=int(rank))), site_rows(ctx, proposed, i))
        for i, rank in enumerate(props["rank"])
    ]
    parts.append(sites_part(lonlat(points), props["rank"], details))
    return layer(name, parts, show=True)


def sites_part(
    xy: Any, ranks: Any, details: list[tuple[str, list[tuple[str, str]]]]
) -> dict[str, Any]:
    """The numbered site markers, one tooltip and popup per site from its escaped details.

    ``details`` holds, per site, its title and (label, value) rows, all HTML already
    escaped by the caller; the tooltip leaves out the first row (the site's id).
    """
    tips, popups = [], []
    for title, rows in details:
        tips.append(f"<b>{title}</b><br>" + "<br>".join(f"{k}: {v}" for k, v in rows[1:]))
        body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
        popups.append(f'<div class="lc-popup"><h4>{title}</h4><table>{body}</table></div>')
    return {
        "kind": "sites",
        "pane": "lc_sites",
        "xy": xy,
        "rank": [int(r) for r in ranks],
        "colour": SITE_COLOUR,
        "tip": tips,
        "popup": popups,
    }
