"""The map's reference overlays: the check boxes drawn over whichever theme is on.

Coarser unit boundaries (a unit only partly analysed drawn in its own style and
saying how many of its units were analysed), units not analysed, facilities per
category (clustered, one cluster group per category: see
:mod:`lifecircle.render._cluster`) and facilities too far from the network to be used.
Each function returns one layer of the data island (see :mod:`lifecircle.render._features`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import _mapdata
from ._cluster import facility_clusters
from ._features import coded, geometries, layer, lonlat, shapes, unit_popups
from ._style import MISSING_COLOUR, PARTLY_COLOUR
from ._text import count, esc, level_name, pct, text

if TYPE_CHECKING:
    from ._context import MapContext

#: Outline of a coarser unit, and of one whose units were not all analysed.
BOUNDARY_STYLE = {"color": "#222222", "weight": 2.5, "fill": False, "dashArray": "6 4"}
PARTLY_STYLE = {"color": PARTLY_COLOUR, "weight": 2.5, "fill": False, "dashArray": "2 5"}


def boundary_layer(ctx: MapContext, level: str) -> dict[str, Any]:
    """The outlines of one coarser level's units (those with any unit analysed)."""
    units = ctx.display_units(level)
    shown = units[units["units_analysed"] > 0]
    done = shown["units_analysed"].to_numpy(int)
    total = shown["units_total"].to_numpy(int)
    tips = []
    for row, d, t in zip((row for _, row in shown.iterrows()), done, total, strict=True):
        tip = (
            f"<b>{esc(row['name'])}</b><br>"
            f"{esc(text('theme_complete', ctx.lang))}: {pct(row['complete_share'])}"
        )
        if d < t:
            tip += f'<br><span class="lc-partly">{esc(ctx.partly_analysed(d, t))}</span>'
        tips.append(tip)
    name = text("layer_boundaries", ctx.lang, level=level_name(level, ctx.lang))
    part = shapes(
        geometries(shown),
        pane="lc_boundaries",
        styles=[BOUNDARY_STYLE, PARTLY_STYLE],
        style_of=(done < total).astype(int).tolist(),
        highlight={"weight": 4},
        tip=tips,
        popup=unit_popups(ctx, shown),
    )
    return layer(esc(name), [part], show=True)


def not_analysed_layer(ctx: MapContext, units: gpd.GeoDataFrame) -> dict[str, Any]:
    """The finest units left out of the analysis, each with the reason."""
    reasons = {str(e.unit_id): str(e.reason) for e in ctx.result.summary.units.excluded}
    label = esc(text("legend_not_analysed", ctx.lang))
    tips = [
        f"<b>{esc(name)}</b><br>{label}: {esc(reasons.get(str(uid), ''))}"
        for name, uid in zip(units["name"], units["unit_id"], strict=True)
    ]
    part = shapes(
        geometries(units),
        pane="lc_units",
        tip=tips,
        styles=[
            {
                "color": "#777777",
                "weight": 0.8,
                "dashArray": "3 3",
                "fillColor": MISSING_COLOUR,
                "fillOpacity": 0.35,
            }
        ],
    )
    return layer(esc(text("layer_not_analysed", ctx.lang)), [part], show=True)


def facility_tips(ctx: MapContext, facilities: gpd.GeoDataFrame) -> list[str]:
    """The tooltip of each facility: its name, category and distance to the network."""
    unnamed = text("unnamed", ctx.lang)
    unused = esc(text("facility_unused", ctx.lang, metres=count(ctx.max_snap_m)))
    cat_names = {cat: esc(ctx.cat_name(cat)) for cat in pd.unique(facilities["category"])}
    snaps = facilities["snap_m"].to_numpy(float)
    out = []
    for name, cat, snap in zip(facilities["name"], facilities["category"], snaps, strict=True):
        label = name if pd.notna(name) and str(name).strip() else unnamed
        note = esc(text("snap", ctx.lang, metres=f"{snap:.0f}")) if np.isfinite(snap) else unused
        out.append(f"<b>{esc(label)}</b><br>{cat_names[cat]} · {note}")
    return out


def facility_tip_table(ctx: MapContext, facilities: gpd.GeoDataFrame) -> dict[str, Any]:
    """The tooltips of :func:`facility_tips` as columns of plain text (built by ``map.js``).

    ``{"title": names, "lines": [{"value": category · distance}]}``, both
    :func:`~lifecircle.render._features.coded` columns: a city's tens of thousands
    of facilities then share their category and distance texts.
    """
    unnamed = text("unnamed", ctx.lang)
    names = facilities["name"]
    named = (pd.notna(names) & (names.astype(str).str.strip() != "")).to_numpy(bool)
    labels = np.where(named, names.astype(str).to_numpy(dtype=object), unnamed)
    snaps = facilities["snap_m"].to_numpy(float)
    metres = np.where(np.isfinite(snaps), np.round(snaps), np.nan)
    unused = text("facility_unused", ctx.lang, metres=count(ctx.max_snap_m))
    cat_names = {cat: ctx.cat_name(cat) for cat in pd.unique(facilities["category"])}
    keys = pd.DataFrame({"cat": facilities["category"].to_numpy(), "m": metres})
    codes, uniques = pd.MultiIndex.from_frame(keys).factorize()
    notes = [
        f"{cat_names[cat]} · "
        + (text("snap", ctx.lang, metres=f"{m:.0f}") if np.isfinite(m) else unused)
        for cat, m in uniques
    ]
    return {
        "title": coded(labels),
        "lines": [{"value": coded(np.asarray(notes, dtype=object)[codes])}],
    }


def facility_layer(ctx: MapContext, cat: str, *, show: bool = True) -> dict[str, Any]:
    """One category's usable facilities, clustered."""
    fac = ctx.facilities
    usable = fac[(fac["category"] == cat) & fac["reachable"].astype(bool)]
    points = ctx.display(_mapdata.as_points(usable, ctx.result.graph.crs))
    colour = ctx.colours[cat]
    name = f'<span class="lc-swatch lc-dot" style="background:{colour}"></span>' + esc(
        text("layer_facilities", ctx.lang, name=ctx.cat_name(cat), n=len(usable))
    )
    part = facility_clusters(
        lonlat(points), facility_tip_table(ctx, usable), colour=colour, pane="lc_facilities"
    )
    return layer(name, [part], show=show)


def unused_facility_layer(ctx: MapContext, unused: gpd.GeoDataFrame) -> dict[str, Any]:
    """Facilities too far from the walk network to be used (off at first)."""
    points = ctx.display(_mapdata.as_points(unused, ctx.result.graph.crs))
    name = text("layer_unused", ctx.lang, metres=count(ctx.max_snap_m))
    part = {
        "kind": "circles",
        "pane": "lc_facilities",
        "xy": lonlat(points),
        "style": {"radius": 3, "weight": 1.5, "fill": False},
        "colour": [ctx.colours[c] for c in unused["category"]],
        "tip": facility_tips(ctx, unused),
    }
    return layer(esc(name), [part], show=False)
