"""Building blocks of the map's layers: geometries, parts, tooltips and popups.

The map's data island (see :mod:`lifecircle.render.map`) describes each layer as a
list of *parts*, plain JSON objects that ``assets/map.js`` turns into Leaflet layers:

``shapes``
    polygons or lines: ``geometry`` (compact geometries, see :func:`geometries`; or
    ``shared: true`` for the finest units' outlines, names and popups of
    ``data.units``), ``styles`` (Leaflet path options) with an optional
    per-feature index ``style_of``, optional per-feature ``fill`` colours (a list,
    or a :func:`coded` column), ``highlight`` (style on hover), ``tip`` and ``popup``.
``cells``
    residents not covered: ``count``, one whole number per cell of ``data.cells``
    (no circle where 0), and ``tip``, the plain text before and after the count.
``circles``
    circle markers: ``xy`` (lon, lat), ``style``, optional per-feature ``radius``
    and ``colour``, ``tip``.
``clusters``
    a category's facilities as circle markers in a Leaflet.markercluster group.
``sites``
    proposed sites as numbered markers (``rank``).

A ``tip`` or ``popup`` is either a list of HTML strings built here, with every
string from the data escaped once (:func:`esc`), which the page inserts as HTML;
or columns of plain text the page builds the tooltip (``{"title", "lines"}``, see
:func:`lifecircle.render._themes.unit_tips`) or popup (:func:`unit_popups`) from
when it is opened, inserting every data string as text.
"""

from __future__ import annotations

import json
from collections.abc import Callable
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
#: Delta-encoded coordinates are integers in this unit of a degree: 1e-5 degree, about
#: 1 m, finer than the outlines' simplification (the page's ``delta`` says which unit).
DELTA_SCALE = 100_000
#: Shapely's type ids of the delta-encoded geometry types.
_DELTA_TYPES = {1: "LineString", 3: "Polygon", 5: "MultiLineString", 6: "MultiPolygon"}


def _delta(coordinates: Any, depth: int) -> list[Any]:
    """A coordinate sequence as ``[x0, y0, dx1, dy1, ...]`` in 1e-5 degrees (nested)."""
    if depth:
        return [_delta(c, depth - 1) for c in coordinates]
    xy = np.rint(np.asarray(coordinates, float).reshape(-1, 2) * DELTA_SCALE).astype(np.int64)
    return np.diff(xy, axis=0, prepend=np.zeros((1, 2), np.int64)).ravel().tolist()


def geometries(frame: gpd.GeoDataFrame | gpd.GeoSeries) -> list[dict[str, Any]]:
    """The geometries of ``frame`` (already in display coordinates), in order, compact.

    Lines and polygons are written as ``{"type": ..., "delta": ...}``: GeoJSON's
    nesting, but each sequence of positions flattened to integer steps of 1e-5
    degree (:data:`DELTA_SCALE`, about 1 m), ``[x0, y0, x1 - x0, y1 - y0, ...]``
    (about a third of the size of decimal coordinates; ``map.js`` decodes them).
    Other types stay GeoJSON. The coordinates of all lines and polygons are
    quantised at once; only the nesting is assembled per ring.
    """
    geoms = np.asarray(frame.geometry.array if isinstance(frame, gpd.GeoDataFrame) else frame.array)
    kinds = shapely.get_type_id(geoms)
    out: list[dict[str, Any]] = [{} for _ in range(len(geoms))]
    delta = np.isin(kinds, list(_DELTA_TYPES))
    for i in np.flatnonzero(~delta):
        out[i] = json.loads(shapely.to_geojson(geoms[i]))
    if not delta.any():
        return out
    chosen = np.flatnonzero(delta)
    parts, part_of = shapely.get_parts(geoms[chosen], return_index=True)
    polygonal = shapely.get_type_id(parts) == 3
    # the sequences of positions: a polygon's rings (exterior first), a line itself
    rings, ring_of = shapely.get_rings(parts[polygonal], return_index=True)
    seq_part = np.concatenate([np.flatnonzero(polygonal)[ring_of], np.flatnonzero(~polygonal)])
    seq_geom = np.concatenate([rings, parts[~polygonal]])
    order = np.argsort(seq_part, kind="stable")  # rings in order, by part
    seq_part, seq_geom = seq_part[order], seq_geom[order]
    xy, seq_index = shapely.get_coordinates(seq_geom, return_index=True)
    q = np.rint(xy * DELTA_SCALE).astype(np.int64)
    steps = np.diff(q, axis=0, prepend=np.zeros((1, 2), np.int64))
    first = np.r_[True, seq_index[1:] != seq_index[:-1]] if len(seq_index) else np.zeros(0, bool)
    steps[first] = q[first]  # each sequence starts from its absolute position
    counts = np.bincount(seq_index, minlength=len(seq_geom))
    flat = np.split(steps.ravel(), 2 * np.cumsum(counts)[:-1]) if len(seq_geom) else []
    lists = [f.tolist() for f in flat]
    # nest: sequences into parts (a polygon's rings), parts into geometries
    by_part: list[list[Any]] = [[] for _ in range(len(parts))]
    for p, seq in zip(seq_part.tolist(), lists, strict=True):
        by_part[p].append(seq)
    by_geom: list[list[Any]] = [[] for _ in range(len(chosen))]
    for g, p in zip(part_of.tolist(), range(len(parts)), strict=True):
        by_geom[g].append((by_part[p] or [[]]) if polygonal[p] else by_part[p][0])
    for k, i in enumerate(chosen.tolist()):
        kind = _DELTA_TYPES[int(kinds[i])]
        body = by_geom[k]
        if kind == "Polygon":
            body = body[0] if body else [[]]  # an empty polygon: GeoJSON's [[]]
        elif kind == "LineString":
            body = body[0] if body else []
        out[i] = {"type": kind, "delta": body}
    return out


def delta_points(frame: gpd.GeoDataFrame) -> list[int]:
    """The points of ``frame`` as one delta-encoded sequence (see :func:`geometries`)."""
    xy = shapely.get_coordinates(np.asarray(frame.geometry.array))
    return _delta(xy, 0)


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


def coded(values: Any, present: np.ndarray | None = None) -> dict[str, Any]:
    """A column of plain-text strings, each distinct string once.

    ``{"values": [...], "index": [...]}``: ``values[index[i]]`` is feature ``i``'s
    string, ``index[i] == -1`` means none (a missing value, or ``present[i]`` false).
    ``map.js`` inserts these strings as text, never as HTML.
    """
    codes, uniques = pd.factorize(pd.Series(list(values), dtype=object), use_na_sentinel=True)
    return _compact(np.asarray(codes, np.int64), [str(u) for u in uniques], present)


def coded_numbers(
    values: Any, fmt: Callable[[Any], str], present: np.ndarray | None = None
) -> dict[str, Any]:
    """Like :func:`coded`, for numbers formatted by ``fmt`` (called once per distinct value)."""
    codes, uniques = pd.factorize(pd.Series(values).to_numpy(), use_na_sentinel=False)
    if fmt is pct and uniques.dtype.kind == "f":
        # pct of a float is f"{100.0 * v:.1f}%": numpy's "%.1f" formats the same way
        formatted = np.char.add(np.char.mod("%.1f", 100.0 * uniques), "%").astype(object)
        formatted[np.isnan(uniques)] = pct(None)
        texts: list[str] = [str(t) for t in formatted]
    else:
        texts = [fmt(u) for u in uniques]
    # distinct numbers may read the same ("12.3%"): one string each
    first: dict[str, int] = {}
    same = np.asarray([first.setdefault(t, len(first)) for t in texts] or [0], np.int64)
    return _compact(same[np.asarray(codes, np.int64)], list(first), present)


def _compact(codes: np.ndarray, values: list[str], present: np.ndarray | None) -> dict[str, Any]:
    """``values`` and ``codes`` without the strings no present feature uses."""
    if present is not None:
        codes = np.where(np.asarray(present, bool), codes, -1)
    used = np.unique(codes[codes >= 0])
    remap = np.full(len(values) + 1, -1, np.int64)
    remap[used] = np.arange(len(used))
    return {
        "values": [values[i] for i in used],
        "index": np.where(codes >= 0, remap[codes], -1).tolist(),
    }


def unit_popups(ctx: MapContext, frame: pd.DataFrame) -> dict[str, Any]:
    """The popups of governance units, as one table: population, completeness, coverage.

    Returns ``{"title", "sub", "note", "rows", "strong"}``: the units' names, their
    level and id and the note of a unit only partly analysed (:func:`coded`
    columns of plain text); ``rows``, one ``{"label", "value"}`` per line of the
    table, ``label`` HTML built here (every data string escaped) and the same for
    every unit, ``value`` a :func:`coded` column (``-1``: the unit has no such line);
    ``strong``, per unit, the line drawn in bold (its worst category) or ``-1``.
    ``map.js`` builds a unit's popup from these when it is opened.
    """
    lang, std = ctx.lang, ctx.result.standard
    n = len(frame)
    rows: list[dict[str, Any]] = [
        {"label": esc(text("population", lang)), "value": coded_numbers(frame["population"], count)}
    ]
    for lv in std.levels:
        col = columns.complete(lv.id)
        if col in frame.columns:
            name = lv.name_zh if lang == "zh" else lv.name_en
            label = esc(text("complete_level", lang, level=name))
            rows.append({"label": label, "value": coded_numbers(frame[col], pct)})
    rows.append({"label": esc(text("score", lang)), "value": coded_numbers(frame["score"], pct)})
    worst = frame["worst_category"].to_numpy(dtype=object)
    strong = np.full(n, -1, np.int64)
    for cat in ctx.categories:
        swatch = f'<span class="lc-swatch" style="background:{ctx.colours[cat]}"></span>'
        minutes = f"{ctx.threshold(cat).minutes:g}"
        label = (
            f"{swatch}{esc(ctx.cat_name(cat))} "
            f"<small>{esc(text('at_most', lang, minutes=minutes))}</small>"
        )
        strong[worst == cat] = len(rows)
        rows.append({"label": label, "value": coded_numbers(frame[columns.cov(cat)], pct)})
    known = pd.notna(frame["worst_category"]).to_numpy(bool)
    names = {cat: ctx.cat_name(str(cat)) for cat in pd.unique(worst[known])}
    rows.append(
        {
            "label": esc(text("worst_category", lang)),
            "value": coded([names.get(w, "") for w in worst], known),
        }
    )
    rows += _service_rows(ctx, frame)
    done = frame["units_analysed"].to_numpy(float)
    total = frame["units_total"].to_numpy(float)
    several = total > 1
    partly = several & (done < total)
    pairs = [
        (int(d), int(t)) if s else (0, 0) for d, t, s in zip(done, total, several, strict=True)
    ]
    rows.append(
        {
            "label": esc(text("units_analysed", lang)),
            "value": coded(
                [text("partly_analysed", lang, done=d, total=t) for d, t in pairs], several
            ),
        }
    )
    if "population_method" in frame.columns:
        method = frame["population_method"]
        rows.append(
            {
                "label": esc(text("population_method", lang)),
                "value": coded(method.astype(object), pd.notna(method).to_numpy(bool)),
            }
        )
    levels = {lv: level_name(str(lv), lang) for lv in pd.unique(frame["level"])}
    subs = [
        f"{levels[lv]} · {uid}" for lv, uid in zip(frame["level"], frame["unit_id"], strict=True)
    ]
    notes = [
        ctx.partly_analysed(d, t) if p else "" for (d, t), p in zip(pairs, partly, strict=True)
    ]
    return {
        "title": coded(frame["name"].astype(object)),
        "sub": coded(subs),
        "note": coded(notes, partly),
        "rows": rows,
        "strong": strong.tolist(),
    }


def _service_rows(ctx: MapContext, frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Popup lines of fair service: cohort coverage, share with a place and unmet."""
    lang, service = ctx.lang, ctx.result.summary.fair_service
    cohort, capacity = ctx.service_categories()
    rows = []
    for cat in cohort:
        col = columns.cohort_cov(cat)
        if col in frame.columns:
            label = text(
                "popup_cohort",
                lang,
                name=ctx.cat_name(cat),
                cohort=ctx.cohort_name(service[cat].cohort),
            )
            rows.append({"label": esc(label), "value": coded_numbers(frame[col], pct)})
    for cat in capacity:
        placed, unmet = columns.placed(cat), columns.unmet(cat)
        if placed in frame.columns and unmet in frame.columns:
            name = ctx.cat_name(cat)
            rows.append(
                {
                    "label": esc(text("popup_placed", lang, name=name)),
                    "value": coded_numbers(frame[placed], pct),
                }
            )
            rows.append(
                {
                    "label": esc(text("popup_unmet", lang, name=name)),
                    "value": coded_numbers(frame[unmet], count),
                }
            )
    return rows
