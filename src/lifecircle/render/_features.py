"""Building blocks of the map's layers: GeoJSON payloads, tooltips and popups.

Every string from the data reaches a tooltip or popup escaped (:func:`esc`); the
popup of a governance unit is shared by the themes and the boundary overlays.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ._text import count, esc, level_name, pct, text

if TYPE_CHECKING:
    from ._context import MapContext


def geojson(frame: gpd.GeoDataFrame, properties: dict[str, list[Any]]) -> dict[str, Any]:
    """A FeatureCollection of ``frame``'s geometries (ids 0..n-1) with only ``properties``."""
    geometries = shapely.to_geojson(np.asarray(frame.geometry.array))
    features = [{"type": "Feature", "id": i, "geometry": json.loads(geometry),
                 "properties": {key: values[i] for key, values in properties.items()}}
                for i, geometry in enumerate(geometries)]
    return {"type": "FeatureCollection", "features": features}


def details(popup: bool = True) -> dict[str, Any]:
    """Keyword arguments binding the features' ``tip`` (and ``popup``) properties."""
    out: dict[str, Any] = {"tooltip": folium.GeoJsonTooltip(["tip"], labels=False,
                                                            sticky=True)}
    if popup:
        out["popup"] = folium.GeoJsonPopup(["popup"], labels=False, max_width=360)
    return out


def constant(style: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """A style function giving every feature ``style``."""
    return lambda feature: dict(style)


def unit_popup(ctx: MapContext, row: pd.Series) -> str:
    """The popup of one governance unit: population, completeness, coverage per category."""
    lang, std = ctx.lang, ctx.result.standard
    rows = [(esc(text("population", lang)), count(row["population"]))]
    for lv in std.levels:
        col = f"complete_{lv.id}"
        if col in row.index:
            name = lv.name_zh if lang == "zh" else lv.name_en
            rows.append((esc(text("complete_level", lang, level=name)), pct(row[col])))
    rows.append((esc(text("score", lang)), pct(row["score"])))
    worst = row["worst_category"]
    for cat in ctx.categories:
        swatch = f'<span class="lc-swatch" style="background:{ctx.colours[cat]}"></span>'
        minutes = f"{ctx.threshold(cat)['minutes']:g}"
        label = (f"{swatch}{esc(ctx.cat_name(cat))} "
                 f"<small>{esc(text('at_most', lang, minutes=minutes))}</small>")
        value = pct(row[f"cov_{cat}"])
        rows.append((label, f"<b>{value}</b>" if cat == worst else value))
    if pd.notna(worst):
        rows.append((esc(text("worst_category", lang)), esc(ctx.cat_name(str(worst)))))
    if row["units_total"] > 1:
        rows.append((esc(text("units_analysed", lang)),
                     esc(text("partly_analysed", lang, done=int(row["units_analysed"]),
                              total=int(row["units_total"])))))
    if pd.notna(row["population_method"]):
        rows.append((esc(text("population_method", lang)), esc(row["population_method"])))
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    return (f'<div class="lc-popup"><h4>{esc(row["name"])}</h4>'
            f'<div class="lc-sub">{esc(level_name(str(row["level"]), lang))} · '
            f'{esc(row["unit_id"])}</div><table>{body}</table></div>')
