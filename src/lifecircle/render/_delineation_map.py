"""The map part of the life-circle units page: the data island ``assets/map.js`` draws.

The island has the shape :mod:`lifecircle.render.map` gives the audit's map (see
:mod:`lifecircle.render._features` for its parts), so the same constant script draws
it: one theme (the life-circle units coloured by their population against the range:
within, below, above) and three overlays (the parent governance units as outlines
on top, the units' centres as small markers, the building blocks as a faint layer,
off at first). Every tooltip, layer name and the legend are HTML built here with
every data string escaped once (:func:`~lifecircle.render._text.esc`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import _mapdata
from ._context import UNIT_TOLERANCE_M
from ._delineation_text import relation_name, t
from ._features import DELTA_SCALE, geometries, layer, lonlat, shapes
from ._overlays import BOUNDARY_STYLE
from ._text import count, esc, level_name

if TYPE_CHECKING:
    from ..config import PopulationRange
    from ..delineate import Delineation
    from .map import _Tiles

#: Fill of a life-circle unit by its population against the range (PuOr + green).
RANGE_COLOURS = {"in": "#1a9850", "below": "#f1a340", "above": "#998ec3"}
RANGE_CLASSES = tuple(RANGE_COLOURS)
#: Leaflet panes (z-index): units, blocks over them, governance outlines, centres.
PANES = {"lc_units": 410, "lc_blocks": 420, "lc_boundaries": 440, "lc_facilities": 450}
#: Blocks are simplified less than units (they are smaller).
BLOCK_TOLERANCE_M = 3.0
#: Room left when fitting the map: the legend (left) and the layer control (right), px.
PADDING = {"topLeft": [280, 10], "bottomRight": [250, 10]}
_UNIT_STYLE = {"color": "#ffffff", "weight": 1.2, "fillOpacity": 0.6}
_BLOCK_STYLE = {"color": "#555555", "weight": 0.6, "opacity": 0.6, "fill": False}
_CENTRE_STYLE = {
    "radius": 4,
    "color": "#ffffff",
    "weight": 1.5,
    "fillColor": "#222222",
    "fillOpacity": 1.0,
}


def range_class(units: pd.DataFrame, rng: PopulationRange) -> list[str]:
    """Per unit, ``"in"``, ``"below"`` or ``"above"`` the population range.

    ``in_range`` decides whether a unit is in the range; a unit out of it is
    ``"below"`` when its population is under the range's minimum, else ``"above"``.
    """
    pop = pd.to_numeric(units["population"], errors="coerce").to_numpy(float)
    inside = units["in_range"].fillna(False).astype(bool).to_numpy()
    cls = np.where(inside, "in", np.where(pop < rng.min, "below", "above"))
    return [str(c) for c in cls]


def walk(value: Any) -> str:
    """Walking minutes with one decimal; ``"–"`` when missing."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{number:.1f}" if math.isfinite(number) else "–"


def area(value: Any) -> str:
    """An area in km² with two decimals; ``"–"`` when missing."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return f"{number:,.2f}" if math.isfinite(number) else "–"


def range_text(rng: PopulationRange) -> str:
    """``"min–max"`` residents with thousands separators."""
    return f"{count(rng.min)}–{count(rng.max)}"


def label(value: Any) -> str:
    """A name or id as text (empty for missing values)."""
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _display(frame: gpd.GeoDataFrame, tolerance_m: float, *, gcj02: bool) -> gpd.GeoDataFrame:
    """Polygons simplified in a local metric CRS, then ready to draw (EPSG:4326 or GCJ-02)."""
    if frame.empty:
        return _mapdata.for_display(frame, gcj02=gcj02)
    crs = frame.to_crs("EPSG:4326").estimate_utm_crs()
    return _mapdata.for_display(_mapdata.simplify(frame, crs, tolerance_m), gcj02=gcj02)


class DelineationMap:
    """The map's data island for one :class:`~lifecircle.delineate.Delineation`."""

    def __init__(self, d: Delineation, lang: str, *, gcj02: bool) -> None:
        self.d = d
        self.lang = lang
        self.gcj02 = gcj02
        self.units = _display(d.units, UNIT_TOLERANCE_M, gcj02=gcj02)
        self.governance = _display(d.governance, UNIT_TOLERANCE_M, gcj02=gcj02)
        self.blocks = _display(d.blocks, BLOCK_TOLERANCE_M, gcj02=gcj02)
        self.classes = range_class(self.units, d.population_range)
        names = d.governance.set_index(d.governance["unit_id"].astype(str))["name"]
        self.parent_names = {k: label(v) for k, v in names.items()}

    def data(self, tiles: _Tiles | None, heading: dict[str, str], attribution: str) -> dict:
        """Everything the page draws, as plain JSON-ready objects."""
        from .map import MAX_ZOOM, tiles_json

        return {
            "lang": self.lang,
            "heading": heading,
            "tiles": tiles_json(tiles),
            "attribution": attribution,
            "maxZoom": MAX_ZOOM if tiles is None else tiles.max_zoom,
            "panes": [[pane, z] for pane, z in PANES.items()],
            "control": {
                "base": t("layers_units", self.lang),
                "overlays": t("layers_show", self.lang),
            },
            "bounds": self.bounds(),
            "padding": PADDING,
            "delta": DELTA_SCALE,  # the unit of the geometries' integer steps
            "units": {"geometry": [], "name": [], "popup": []},
            "themes": [self.unit_layer()],
            "overlays": [self.governance_layer(), self.centre_layer(), self.block_layer()],
            "legend": self.legend(),
        }

    def bounds(self) -> list[list[float]]:
        """``[[south, west], [north, east]]`` of the units (else governance units, blocks)."""
        for frame in (self.units, self.governance, self.blocks):
            if len(frame):
                west, south, east, north = (float(v) for v in frame.total_bounds)
                if all(map(math.isfinite, (west, south, east, north))):
                    return [[south, west], [north, east]]
        return [[-60.0, -180.0], [75.0, 180.0]]

    def unit_tip(self, row: pd.Series, cls: str) -> str:
        """A life-circle unit's tooltip (HTML, every data string escaped)."""
        lang = self.lang
        uid, name = label(row["unit_id"]), label(row.get("name"))
        parent = label(row.get("parent_id"))
        within = (
            f"{esc(t('tip_parent', lang))}: {esc(self.parent_names.get(parent) or parent)}"
            if parent
            else esc(t("tip_across", lang))
        )
        lines = [
            f"<b>{esc(name or uid)}</b>",
            f"{esc(t('tip_unit_id', lang))}: {esc(uid)}",
            f"{esc(t('tip_residents', lang))}: {count(row['population'])} "
            f'<span class="lc-swatch" style="background:{RANGE_COLOURS[cls]}"></span>'
            f"{esc(t('class_' + cls, lang))}",
            f"{esc(t('tip_area', lang))}: {area(row['area_km2'])} km²",
            esc(
                t("tip_walk", lang, mean=walk(row["mean_walk_min"]), max=walk(row["max_walk_min"]))
            ),
            f"{esc(t('tip_blocks', lang))}: {count(row['blocks'])}",
            within,
        ]
        return "<br>".join(lines)

    def unit_layer(self) -> dict[str, Any]:
        """The theme: life-circle units filled by their population against the range."""
        units = self.units
        tips = [
            self.unit_tip(row, cls)
            for (_, row), cls in zip(units.iterrows(), self.classes, strict=True)
        ]
        part = shapes(
            geometries(units),
            pane="lc_units",
            styles=[_UNIT_STYLE],
            fill=[RANGE_COLOURS[c] for c in self.classes],
            highlight={"weight": 3, "color": "#222222"},
            tip=tips,
        )
        return layer(esc(t("theme_range", self.lang)), [part], show=True)

    def governance_layer(self) -> dict[str, Any]:
        """The parent governance units as outlines on top of the life-circle units."""
        lang, gov = self.lang, self.governance
        tips = []
        for _, row in gov.iterrows():
            name = label(row.get("name")) or label(row["unit_id"])
            relation = relation_name(row.get("relation"), lang)
            tips.append(
                f"<b>{esc(name)}</b><br>"
                f"{esc(t('tip_residents', lang))}: {count(row.get('population'))}<br>"
                + esc(t("tip_relation", lang, relation=relation, n=count(row["lifecircle_units"])))
            )
        part = shapes(
            geometries(gov),
            pane="lc_boundaries",
            styles=[BOUNDARY_STYLE],
            highlight={"weight": 4},
            tip=tips,
        )
        parent = self.d.parent_level
        name = (
            t("layer_governance", lang, level=level_name(parent, lang))
            if parent
            else t("layer_governance_free", lang)
        )
        return layer(esc(name), [part], show=True)

    def centre_layer(self) -> dict[str, Any]:
        """The units' centres (the network node where the service complex would stand)."""
        units = self.d.units
        lon = pd.to_numeric(units["centre_lon"], errors="coerce").to_numpy(float)
        lat = pd.to_numeric(units["centre_lat"], errors="coerce").to_numpy(float)
        ok = np.isfinite(lon) & np.isfinite(lat)
        points = gpd.GeoDataFrame(
            {"unit_id": units["unit_id"].to_numpy()[ok], "name": units["name"].to_numpy()[ok]},
            geometry=shapely.points(lon[ok], lat[ok]),
            crs="EPSG:4326",
        )
        points = _mapdata.for_display(points, gcj02=self.gcj02)
        tips = [
            esc(t("tip_centre", self.lang, unit=label(name) or label(uid)))
            for uid, name in zip(points["unit_id"], points["name"], strict=True)
        ]
        part = {
            "kind": "circles",
            "pane": "lc_facilities",
            "xy": lonlat(points),
            "style": _CENTRE_STYLE,
            "tip": tips,
        }
        return layer(esc(t("layer_centres", self.lang)), [part], show=True)

    def block_layer(self) -> dict[str, Any]:
        """The building blocks, faint outlines (off at first)."""
        blocks, lang = self.blocks, self.lang
        tips = [
            esc(t("tip_block", lang, block=label(b), unit=label(u)))
            + f"<br>{esc(t('tip_residents', lang))}: {count(p)}"
            for b, u, p in zip(
                blocks["block_id"], blocks["unit_id"], blocks["population"], strict=True
            )
        ]
        part = shapes(
            geometries(blocks),
            pane="lc_blocks",
            styles=[_BLOCK_STYLE],
            highlight={"weight": 2, "opacity": 1.0},
            tip=tips,
        )
        return layer(esc(t("layer_blocks", lang)), [part], show=False)

    def legend(self) -> str:
        """The legend's HTML (every data string escaped)."""
        lang, d = self.lang, self.d
        level = d.level_name[1] if lang == "zh" else d.level_name[0]
        parts = [
            f'<div class="lc-title">{esc(t("layers_units", lang))}</div>',
            f'<div class="lc-sub">{esc(level)}</div>',
            f'<div class="lc-head">'
            f"{esc(t('legend_range', lang, range=range_text(d.population_range)))}</div>",
        ]
        for cls in RANGE_CLASSES:
            n = self.classes.count(cls)
            parts.append(
                f'<div class="lc-row"><span class="lc-swatch" style="background:'
                f'{RANGE_COLOURS[cls]}"></span>{esc(t("class_" + cls, lang))} ({n})</div>'
            )
        parts += [
            '<div class="lc-row"><span class="lc-line" style="border-top-color:#222222">'
            f"</span>{esc(t('legend_governance', lang))}</div>",
            '<div class="lc-row"><span class="lc-swatch lc-dot" style="background:#222222">'
            f"</span>{esc(t('legend_centre', lang))}</div>",
            '<div class="lc-row"><span class="lc-swatch" style="background:none;'
            f'border-color:#555555"></span>{esc(t("legend_blocks", lang))}</div>',
        ]
        return "".join(parts)
