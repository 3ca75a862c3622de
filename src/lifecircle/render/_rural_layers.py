"""Map overlays of an audit with per-unit rules (``--rural-standard``).

* **Urban / rural class**: every finest unit outlined in its class's colour (urban,
  town, village): the legend split of the map, in the layer's name;
* **Rural units: score**: the town and village units filled by their score under the
  rural standard (the urban themes leave them grey, as not analysed), with each
  village's missing "三室两点" in its tooltip;
* the rural standard's facilities, one clustered layer per category.

Every data string (unit and facility names) is escaped once with
:func:`~lifecircle.render._text.esc`, as in the other layers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import _mapdata
from ._cluster import facility_clusters
from ._features import geometries, layer, lonlat, shapes
from ._style import category_colours, share_colour
from ._text import esc, pct, text

if TYPE_CHECKING:
    from ._context import MapContext

#: Outline colour of each class (colour-blind safe: blue, orange, green).
CLASS_COLOURS = {"urban": "#0072b2", "town": "#e69f00", "village": "#009e73"}

#: Tolerance of the simplified outlines (m), as the other unit layers.
_TOLERANCE_M = 5.0


def rural_layers(ctx: MapContext) -> list[dict[str, Any]]:
    """The urban/rural overlays, or none for an audit without per-unit rules."""
    ur = ctx.result.urban_rural
    if ur is None:
        return []
    crs = ctx.result.graph.crs
    finest = ctx.result.hierarchy.finest
    rural_units = ur.units[finest]
    shown = ctx.display(_mapdata.simplify(rural_units, crs, _TOLERANCE_M))
    classes = ur.classes.set_index("unit_id")
    return [
        _class_layer(ctx, shown, classes),
        _score_layer(ctx, shown, classes),
        *_facility_layers(ctx),
    ]


def _class_layer(ctx: MapContext, units: Any, classes: pd.DataFrame) -> dict[str, Any]:
    lang = ctx.lang
    cls = units["unit_id"].astype(str).map(classes["urban_rural"]).astype(str).to_numpy()
    names = list(CLASS_COLOURS)
    style_of = [names.index(c) if c in names else 0 for c in cls]
    styles = [
        {"color": CLASS_COLOURS[c], "weight": 2.5, "fill": False, "dashArray": None} for c in names
    ]
    tips = [
        f"<b>{esc(name)}</b><br>{esc(text(f'class_{c}', lang))}"
        for name, c in zip(units["name"], cls, strict=True)
    ]
    part = shapes(
        geometries(units), pane="lc_boundaries", styles=styles, style_of=style_of, tip=tips
    )
    legend = "".join(
        f'<br><span class="lc-swatch" style="background:{CLASS_COLOURS[c]}"></span>'
        + esc(text(f"class_{c}", lang))
        for c in names
    )
    return layer(esc(text("layer_classes", lang)) + legend, [part], show=True)


def _score_layer(ctx: MapContext, units: Any, classes: pd.DataFrame) -> dict[str, Any]:
    lang = ctx.lang
    ur = ctx.result.urban_rural
    assert ur is not None  # checked by rural_layers
    keep = units["analysed"].astype(bool).to_numpy()
    rows = units[keep]
    scores = rows["score"].to_numpy(float)
    colours = [share_colour(v) if np.isfinite(v) else share_colour(None) for v in scores]
    palette = sorted(set(colours))
    styles = [
        {"color": "#555555", "weight": 0.8, "fillColor": c, "fillOpacity": 0.7} for c in palette
    ]
    lacks = ur.ledger.set_index("unit_id")["lacks"] if len(ur.ledger) else pd.Series(dtype=str)
    std_title = ur.standard.title_zh if lang == "zh" else ur.standard.title_en
    tips = []
    for uid, name, score in zip(rows["unit_id"].astype(str), rows["name"], scores, strict=True):
        cls = str(classes["urban_rural"].get(uid, ""))
        tip = f"<b>{esc(name)}</b><br>" + esc(
            text("rural_tip", lang, cls=text(f"class_{cls}", lang), std=std_title, score=pct(score))
        )
        missing = [x for x in str(lacks.get(uid, "")).split(";") if x]
        if missing:
            names = text("list_sep", lang).join(ur.standard.category(x).name(lang) for x in missing)
            tip += "<br>" + esc(text("rural_tip_lacks", lang, lacks=names))
        tips.append(tip)
    part = shapes(
        geometries(rows),
        pane="lc_units",
        styles=styles,
        style_of=[palette.index(c) for c in colours],
        tip=tips,
    )
    return layer(esc(text("layer_rural_score", lang, std=ur.standard.id)), [part], show=True)


def _facility_layers(ctx: MapContext) -> list[dict[str, Any]]:
    ur = ctx.result.urban_rural
    assert ur is not None  # checked by rural_layers
    fac = ur.facilities
    colours = category_colours(ur.standard.category_ids)
    out = []
    for cat in ur.categories:
        rows = fac[fac["category"] == cat]
        if not len(rows):
            continue
        points = ctx.display(_mapdata.as_points(rows, ctx.result.graph.crs))
        name = ur.standard.category(cat).name(ctx.lang)
        unnamed = text("unnamed", ctx.lang)
        tips = [
            f"<b>{esc(n if pd.notna(n) and str(n).strip() else unnamed)}</b><br>{esc(name)}"
            for n in rows["name"]
        ]
        label = f'<span class="lc-swatch lc-dot" style="background:{colours[cat]}"></span>' + esc(
            text("layer_rural_facilities", ctx.lang, name=name, n=len(rows))
        )
        part = facility_clusters(lonlat(points), tips, colour=colours[cat], pane="lc_facilities")
        out.append(layer(label, [part], show=True))
    return out
