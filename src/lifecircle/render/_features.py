"""Building blocks of the map's layers: geometries, parts, tooltips and popups.

The map's data island (see :mod:`lifecircle.render.map`) describes each layer as a
list of *parts*, plain JSON objects that ``assets/map.js`` turns into Leaflet layers:

``shapes``
    polygons or lines: ``geometry`` (compact geometries, see :func:`geometries`; or
    ``shared: true`` for
    the finest units' outlines of ``data.units``), ``styles`` (Leaflet path
    options) with an optional per-feature index ``style_of``, optional per-feature
    ``fill`` colours, ``highlight`` (style on hover), ``tip`` and ``popup``.
``circles``
    circle markers: ``xy`` (lon, lat), ``style``, optional per-feature ``radius``
    and ``colour``, ``tip``.
``clusters``
    a category's facilities as circle markers in a Leaflet.markercluster group.
``sites``
    proposed sites as numbered markers (``rank``).

Every ``tip`` and ``popup`` is HTML built here, with every string from the data
escaped once (:func:`esc`); the page inserts it as HTML and nothing else.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .. import columns
from ._text import count, esc, level_name, pct, text

if TYPE_CHECKING:
    from ._context import MapContext


#: Nesting depth of the coordinate sequences of each delta-encoded geometry type.
DELTA_DEPTH = {"LineString": 0, "Polygon": 1, "MultiLineString": 1, "MultiPolygon": 2}
#: Delta-encoded coordinates are integers in this unit of a degree (the display
#: coordinates are rounded to 6 decimals: :data:`lifecircle.render._mapdata.COORD_DECIMALS`).
DELTA_SCALE = 1_000_000


def _delta(coordinates: Any, depth: int) -> list[Any]:
    """A coordinate sequence as ``[x0, y0, dx1, dy1, ...]`` in 1e-6 degrees (nested)."""
    if depth:
        return [_delta(c, depth - 1) for c in coordinates]
    xy = np.rint(np.asarray(coordinates, float).reshape(-1, 2) * DELTA_SCALE).astype(np.int64)
    return np.diff(xy, axis=0, prepend=np.zeros((1, 2), np.int64)).ravel().tolist()


def geometries(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> list[dict[str, Any]]:
    """The geometries of ``frame`` (already in display coordinates), in order, compact.

    Lines and polygons are written as ``{"type": ..., "delta": ...}``: GeoJSON's
    nesting, but each sequence of positions flattened to integer steps in 1e-6
    degrees, ``[x0, y0, x1 - x0, y1 - y0, ...]`` (about half the size of decimal
    coordinates; ``map.js`` decodes them exactly). Other types stay GeoJSON.
    """
    geoms = frame.geometry.array if isinstance(frame, gpd.GeoDataFrame) else frame.array
    out = []
    for text_ in shapely.to_geojson(np.asarray(geoms)):
        geometry = json.loads(text_)
        depth = DELTA_DEPTH.get(geometry["type"])
        if depth is not None:
            geometry = {
                "type": geometry["type"],
                "delta": _delta(geometry.pop("coordinates"), depth),
            }
        out.append(geometry)
    return out


def lonlat(frame: gpd.GeoDataFrame) -> list[list[float]]:
    """``[lon, lat]`` of each point of ``frame`` (already in display coordinates)."""
    xy = shapely.get_coordinates(np.asarray(frame.geometry.array))
    return xy.tolist()


def shapes(
    geometry: list[dict[str, Any]] | None, *, pane: str, styles: list[dict[str, Any]], **extra: Any
) -> dict[str, Any]:
    """A ``shapes`` part (``geometry=None``: the finest units' shared outlines)."""
    part: dict[str, Any] = {"kind": "shapes", "pane": pane, "styles": styles}
    if geometry is None:
        part["shared"] = True
    else:
        part["geometry"] = geometry
    part.update({key: value for key, value in extra.items() if value is not None})
    return part


def layer(name: str, parts: list[dict[str, Any]], *, show: bool) -> dict[str, Any]:
    """A layer of the layer control: ``name`` is HTML (escaped by the caller)."""
    return {"name": name, "show": bool(show), "parts": parts}


def unit_popup(ctx: MapContext, row: pd.Series) -> str:
    """The popup of one governance unit: population, completeness, coverage per category."""
    lang, std = ctx.lang, ctx.result.standard
    rows = [(esc(text("population", lang)), count(row["population"]))]
    for lv in std.levels:
        col = columns.complete(lv.id)
        if col in row.index:
            name = lv.name_zh if lang == "zh" else lv.name_en
            rows.append((esc(text("complete_level", lang, level=name)), pct(row[col])))
    rows.append((esc(text("score", lang)), pct(row["score"])))
    worst = row["worst_category"]
    for cat in ctx.categories:
        swatch = f'<span class="lc-swatch" style="background:{ctx.colours[cat]}"></span>'
        minutes = f"{ctx.threshold(cat).minutes:g}"
        label = (
            f"{swatch}{esc(ctx.cat_name(cat))} "
            f"<small>{esc(text('at_most', lang, minutes=minutes))}</small>"
        )
        value = pct(row[columns.cov(cat)])
        rows.append((label, f"<b>{value}</b>" if cat == worst else value))
    if pd.notna(worst):
        rows.append((esc(text("worst_category", lang)), esc(ctx.cat_name(str(worst)))))
    rows += _service_rows(ctx, row)
    partly = ""
    if row["units_total"] > 1:
        done, total = int(row["units_analysed"]), int(row["units_total"])
        rows.append(
            (
                esc(text("units_analysed", lang)),
                esc(text("partly_analysed", lang, done=done, total=total)),
            )
        )
        if done < total:
            partly = f'<div class="lc-partly">{esc(ctx.partly_analysed(done, total))}</div>'
    if "population_method" in row.index and pd.notna(row["population_method"]):
        rows.append((esc(text("population_method", lang)), esc(row["population_method"])))
    body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
    return (
        f'<div class="lc-popup"><h4>{esc(row["name"])}</h4>'
        f'<div class="lc-sub">{esc(level_name(str(row["level"]), lang))} · '
        f"{esc(row['unit_id'])}</div>{partly}<table>{body}</table></div>"
    )


def _service_rows(ctx: MapContext, row: pd.Series) -> list[tuple[str, str]]:
    """Popup rows of fair service: cohort coverage, share with a place and unmet (escaped)."""
    lang, service = ctx.lang, ctx.result.summary.fair_service
    cohort, capacity = ctx.service_categories()
    rows = []
    for cat in cohort:
        col = columns.cohort_cov(cat)
        if col in row.index:
            label = text(
                "popup_cohort",
                lang,
                name=ctx.cat_name(cat),
                cohort=ctx.cohort_name(service[cat].cohort),
            )
            rows.append((esc(label), pct(row[col])))
    for cat in capacity:
        placed, unmet = columns.placed(cat), columns.unmet(cat)
        if placed in row.index and unmet in row.index:
            name = ctx.cat_name(cat)
            rows.append((esc(text("popup_placed", lang, name=name)), pct(row[placed])))
            rows.append((esc(text("popup_unmet", lang, name=name)), count(row[unmet])))
    return rows
