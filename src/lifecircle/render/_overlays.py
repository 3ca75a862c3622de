"""The map's reference overlays: the check boxes drawn over whichever theme is on.

Coarser unit boundaries, units not analysed, facilities per category (clustered, one
cluster group per category: see :mod:`lifecircle.render._cluster`) and facilities
too far from the network to be used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import folium
import geopandas as gpd
import pandas as pd

from . import _mapdata
from ._cluster import FacilityClusters
from ._features import constant, details, geojson, unit_popup
from ._style import MISSING_COLOUR
from ._text import count, esc, level_name, pct, text

if TYPE_CHECKING:
    from ._context import MapContext


def boundary_layer(ctx: MapContext, level: str) -> folium.GeoJson:
    """The outlines of one coarser level's units (those with any unit analysed)."""
    units = ctx.display_units(level)
    shown = units[units["units_analysed"] > 0]
    rows = [row for _, row in shown.iterrows()]
    name = text("layer_boundaries", ctx.lang, level=level_name(level, ctx.lang))
    data = geojson(shown, {
        "tip": [f"<b>{esc(row['name'])}</b><br>"
                f"{esc(text('theme_complete', ctx.lang))}: {pct(row['complete_share'])}"
                for row in rows],
        "popup": [unit_popup(ctx, row) for row in rows],
    })
    return folium.GeoJson(
        data, name=esc(name), pane="lc_boundaries",
        style_function=constant({"color": "#222222", "weight": 2.5, "fill": False,
                                 "dashArray": "6 4"}),
        highlight_function=constant({"weight": 4}), **details(),
    )


def not_analysed_layer(ctx: MapContext, units: gpd.GeoDataFrame) -> folium.GeoJson:
    """The finest units left out of the analysis, each with the reason."""
    reasons = {str(e["unit_id"]): str(e["reason"])
               for e in ctx.result.summary["units"]["excluded"]}
    tips = [f"<b>{esc(row['name'])}</b><br>{esc(text('legend_not_analysed', ctx.lang))}: "
            f"{esc(reasons.get(str(row['unit_id']), ''))}" for _, row in units.iterrows()]
    return folium.GeoJson(
        geojson(units, {"tip": tips}), name=esc(text("layer_not_analysed", ctx.lang)),
        pane="lc_units",
        style_function=constant({"color": "#777777", "weight": 0.8, "dashArray": "3 3",
                                 "fillColor": MISSING_COLOUR, "fillOpacity": 0.35}),
        **details(popup=False),
    )


def _facility_tips(ctx: MapContext, facilities: gpd.GeoDataFrame) -> list[str]:
    out = []
    for name, cat, snap in zip(facilities["name"], facilities["category"],
                               facilities["snap_m"], strict=True):
        label = name if pd.notna(name) and str(name).strip() else text("unnamed", ctx.lang)
        note = (text("snap", ctx.lang, metres=f"{snap:.0f}") if pd.notna(snap)
                else text("facility_unused", ctx.lang, metres=count(ctx.max_snap_m)))
        out.append(f"<b>{esc(label)}</b><br>{esc(ctx.cat_name(cat))} · {esc(note)}")
    return out


def facility_layer(ctx: MapContext, cat: str, *, show: bool = True) -> FacilityClusters:
    """One category's usable facilities, clustered."""
    fac = ctx.facilities
    usable = fac[(fac["category"] == cat) & fac["reachable"].astype(bool)]
    points = ctx.display(_mapdata.as_points(usable, ctx.result.graph.crs))
    colour = ctx.colours[cat]
    name = (f'<span class="lc-swatch lc-dot" style="background:{colour}"></span>'
            + esc(text("layer_facilities", ctx.lang, name=ctx.cat_name(cat), n=len(usable))))
    return FacilityClusters(geojson(points, {"tip": _facility_tips(ctx, usable)}), name=name,
                            colour=colour, pane="lc_facilities", show=show)


def unused_facility_layer(ctx: MapContext, unused: gpd.GeoDataFrame) -> folium.GeoJson:
    """Facilities too far from the walk network to be used (off at first)."""
    points = ctx.display(_mapdata.as_points(unused, ctx.result.graph.crs))
    colours = [ctx.colours[c] for c in unused["category"]]
    name = text("layer_unused", ctx.lang, metres=count(ctx.max_snap_m))
    return folium.GeoJson(
        geojson(points, {"style": [{"color": c} for c in colours],
                         "tip": _facility_tips(ctx, unused)}),
        name=esc(name), show=False,
        marker=folium.CircleMarker(radius=3, pane="lc_facilities", weight=1.5, fill=False),
        **details(popup=False),
    )
