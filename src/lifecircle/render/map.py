r"""The interactive map of an audit: one self-contained HTML file (Leaflet).

Layers:

* **themes** (radio buttons): governance units coloured by the share of residents
  with a complete life circle, or by one category's coverage; each theme also
  shows, as proportional circles on a grid, the residents it leaves uncovered,
  and for a category the streets within its walking threshold of a facility;
* **overlays** (check boxes): coarser unit boundaries (those only partly analysed
  drawn in their own style, saying how many of their units were analysed), units
  not analysed, facilities per category (clustered, one cluster group per category:
  see :mod:`lifecircle.render._cluster`), facilities too far from the network to be
  used.

With a solved :class:`~lifecircle.siting.SitingSolution` (``lifecircle optimize``) the
map also shows the proposed sites, numbered by rank, with each site's walking
catchment, and the siting category's theme splits into a before / after pair of
radio buttons (coverage by the existing facilities, then with the new sites).
With a solved :class:`~lifecircle.complete_siting.CompleteSitingSolution`
(``lifecircle optimize --categories``) it shows that siting's sites instead, each
listing every category it hosts (:mod:`~lifecircle.render._complete_map`).

The layers are described by private modules, one per part of the map:
:mod:`~lifecircle.render._themes` (the radio buttons),
:mod:`~lifecircle.render._overlays` (the check boxes),
:mod:`~lifecircle.render._proposals` (the proposed sites) and
:mod:`~lifecircle.render._legend`; :mod:`~lifecircle.render._context` holds what they
all need and :mod:`~lifecircle.render._features` the parts they are made of.

How the page is made, so that no data string ever becomes template or script source:
the page is a constant template (``assets/map.html``) whose slots receive Leaflet,
Leaflet.markercluster and lifecircle's own script (``assets/map.js``) and stylesheet,
all constant files, and the data as **one JSON data island**
(``<script type="application/json" id="lc-data">``), serialised with ``<``, ``>``,
``&``, U+2028 and U+2029 written as ``\u`` escapes so that nothing in it can end
the element. ``map.js`` parses the island and builds the layers. The only other
data in the page is the study's name in ``<title>``, HTML-escaped.

What the island holds, so that the page grows with units and categories, not with
origins (a 1M-node city's map fell from 105 MB to about 8 MB):

* the finest units' outlines (``units.geometry``, simplified by 10 m, in integer
  steps of 1e-5 degree), their names (``units.name``, plain text) and their popups
  as one table (``units.popup``: row labels once, then per row a *coded* column of
  plain-text values, each distinct string once: see
  :func:`~lifecircle.render._features.coded`), written once and shared by every theme;
* per theme only columns: each unit's fill class and the values of its tooltip
  (:func:`~lifecircle.render._themes.unit_tips`), and the residents it leaves
  uncovered as one whole number per cell of the 250 m grid (``cells``: the origins
  are assigned to cells once, :class:`~lifecircle.render._mapdata.CellGrid`, and a
  theme is one ``np.bincount``); the circles' positions (``cells.xy``) and radius
  scale (``radius``) are written once;
* a category's catchment as a dissolved outline whose resolution coarsens with the
  study's extent (60 m, 120 m across a 48 km city);
* facilities with their names as a coded column of plain text.

``map.js`` builds a tooltip or popup when it is first opened, inserting every data
string as text (``textContent``, text nodes); the only strings it inserts as HTML are
those lifecircle built as HTML with every data string escaped once
(:func:`~lifecircle.render._text.esc`): layer names, the legend, the labels of a
popup table, and the tooltips and popups still given as HTML strings (coarser
boundaries, sites, rural layers). A layer's features are built the first time the
layer is shown. No CDN is linked: the map needs the network only for basemap tiles,
and with ``basemap="none"`` not at all. The same inputs give the same bytes.
"""

from __future__ import annotations

import html
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd

from . import _assets
from ._complete_map import complete_layer, complete_legend
from ._context import MapContext
from ._features import DELTA_SCALE, delta_points, geometries, unit_popups
from ._legend import legend_html
from ._overlays import boundary_layer, facility_layer, not_analysed_layer, unused_facility_layer
from ._page import write_html
from ._proposals import Proposed, proposals_layer, site_rows
from ._report_complete import check_complete
from ._rural_layers import rural_layers
from ._text import check_lang, esc, text
from ._themes import MAX_RADIUS_PX, MIN_RADIUS_PX, RadiusScale, shown_units, theme_layer, themes

if TYPE_CHECKING:
    from ..complete_siting import CompleteSitingSolution
    from ..pipeline import AuditResult
    from ..siting import SitingSolution

__all__ = ["BASEMAPS", "MapPage", "build_map", "render_map", "script_json"]

logger = logging.getLogger(__name__)

# private names kept importable from here (tests reach for them)
_Context = MapContext
_Proposed = Proposed
_site_rows = site_rows


@dataclass(frozen=True)
class _Tiles:
    url: str
    attribution: str
    subdomains: str
    max_zoom: int


#: Basemaps: OSM's standard tiles (WGS-84), Amap / Gaode (GCJ-02), or none.
BASEMAPS: dict[str, _Tiles | None] = {
    "osm": _Tiles(
        "https://tile.openstreetmap.org/{z}/{x}/{y}.png",
        'Tiles © <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
        "abc",
        19,
    ),
    "amap": _Tiles(
        "https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
        "&style=8&x={x}&y={y}&z={z}",
        "Tiles © AutoNavi 高德地图 (GCJ-02; overlays shifted to match)",
        "1234",
        18,
    ),
    "none": None,
}
_DATA_ATTRIBUTION = (
    "Map data © OpenStreetMap contributors "
    '(<a href="https://www.openstreetmap.org/copyright">ODbL</a>)'
)

#: Deepest zoom without tiles (clusters need a finite one; tiles bring their own).
MAX_ZOOM = 19
#: Leaflet panes (z-index) keep the drawing order whichever theme is switched on.
_PANES = {
    "lc_units": 410,
    "lc_catchments": 420,
    "lc_uncovered": 430,
    "lc_boundaries": 440,
    "lc_facilities": 450,
}
#: Panes added with proposed sites: their catchment outlines and their numbered markers.
_SITE_PANES = {"lc_site_catchments": 425, "lc_sites": 460}
#: Parts with at least this many features are drawn on a canvas rather than as SVG
#: elements (``map.js``): a city's thousands of units and cells switch far faster.
CANVAS_FROM = 3000
#: Room left when fitting the map: the legend (left) and the layer control (right), px.
_PADDING = {"topLeft": [280, 10], "bottomRight": [330, 10]}

#: Characters written as ``\u`` escapes in the data island: none of them can then end
#: the ``<script>`` element, open a comment, or break a line in older parsers.
_SCRIPT_SAFE = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


@dataclass(frozen=True)
class MapPage:
    """A rendered map page.

    Attributes
    ----------
    html
        The page: one self-contained HTML document (write it with :meth:`save`).
    data
        What the page's JSON data island holds (themes, overlays, legend...), as
        plain Python objects.

    Notes
    -----
    In a Jupyter notebook a ``MapPage`` shows itself (``_repr_html_``): the page
    in a sandboxed ``<iframe srcdoc>``, escaped as an attribute value.
    """

    html: str
    data: dict[str, Any]

    def save(self, path: str | Path) -> Path:
        """Write the page to ``path`` (UTF-8, atomically) and return the path."""
        return write_html(path, self.html)

    def _repr_html_(self) -> str:
        return (
            '<iframe sandbox="allow-scripts" style="width:100%;height:600px;border:none" '
            f'srcdoc="{html.escape(self.html, quote=True)}"></iframe>'
        )


def render_map(
    result: AuditResult,
    path: str | Path,
    *,
    lang: str = "en",
    basemap: str = "osm",
    siting: SitingSolution | None = None,
    complete: CompleteSitingSolution | None = None,
) -> Path:
    """Write the audit's interactive map as one self-contained HTML file.

    Parameters
    ----------
    result
        An audit result (:func:`lifecircle.audit`).
    path
        The HTML file to write (atomically).
    lang
        ``"en"`` or ``"zh"``: language of every label, legend and popup.
    basemap
        ``"osm"`` (OpenStreetMap tiles), ``"amap"`` (Gaode tiles; every overlay is
        shifted to GCJ-02 to line up with them) or ``"none"`` (no tiles, no network).
    siting
        A solved :class:`~lifecircle.siting.SitingSolution` built from ``result``: adds the
        proposed sites with their catchments and a before / after pair of themes
        for its category (see :meth:`lifecircle.siting.SitingSolution.to_map`).
    complete
        A solved :class:`~lifecircle.complete_siting.CompleteSitingSolution` built from
        ``result``: adds its proposed sites, each listing the categories it hosts.
        Not together with ``siting``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import lifecircle
    >>> from lifecircle.render.map import render_map
    >>> render_map(lifecircle.audit(), "map.html", lang="zh")  # doctest: +SKIP
    """
    page = build_map(result, lang=lang, basemap=basemap, siting=siting, complete=complete)
    logger.info("map: writing %s (%s bytes)", path, f"{len(page.html.encode('utf-8')):,}")
    return page.save(path)


def build_map(
    result: AuditResult,
    *,
    lang: str = "en",
    basemap: str = "osm",
    siting: SitingSolution | None = None,
    complete: CompleteSitingSolution | None = None,
) -> MapPage:
    """The audit's map page, e.g. to show in a notebook or to inspect its data.

    Parameters are those of :func:`render_map`.

    Returns
    -------
    MapPage
        ``.html`` is the page (what :func:`render_map` writes), ``.data`` the
        content of its data island; a notebook displays it.

    Raises
    ------
    ValueError
        If ``lang`` or ``basemap`` is not one of the accepted values, or ``siting``
        (``complete``) was built from another result or not solved, or both are given.
    """
    check_lang(lang)
    if basemap not in BASEMAPS:
        msg = f"basemap must be one of {', '.join(BASEMAPS)}, got {basemap!r}"
        raise ValueError(msg)
    if siting is not None and complete is not None:
        msg = "give a siting or a complete siting, not both"
        raise ValueError(msg)
    if complete is not None:
        check_complete(result, complete)
    ctx = MapContext.of(result, lang=lang, gcj02=basemap == "amap")
    proposed = None if siting is None else Proposed.of(ctx, siting)
    data = _map_data(ctx, BASEMAPS[basemap], proposed, complete)
    logger.info("map: assembling the page")
    return MapPage(html=_page(data, _title(ctx), lang), data=data)


def _map_data(
    ctx: MapContext,
    tiles: _Tiles | None,
    proposed: Proposed | None,
    complete: CompleteSitingSolution | None = None,
) -> dict[str, Any]:
    """Everything the page draws, as plain JSON-ready objects (the data island)."""
    lang = ctx.lang
    units = ctx.display_units()
    layers = themes(ctx, proposed)
    radius = RadiusScale(max((float(t.cells.max()) for t in layers if len(t.cells)), default=1.0))
    shown = next((i for i, theme in enumerate(layers) if theme.primary), 0)
    logger.info("map: drawing %d themes", len(layers))
    analysed = shown_units(units)
    theme_layers = [
        theme_layer(ctx, theme, units, radius, show=i == shown) for i, theme in enumerate(layers)
    ]

    logger.info("map: overlays (boundaries, facilities)")
    overlays = []
    if proposed is not None:
        overlays.append(proposals_layer(ctx, proposed))
    if complete is not None:
        overlays.append(complete_layer(ctx, complete))
    partly = False
    for level in ctx.levels[:-1]:
        overlays.append(boundary_layer(ctx, level))
        partly = partly or 1 in overlays[-1]["parts"][0]["style_of"]
    not_analysed = units[~units["analysed"].astype(bool)]
    if len(not_analysed):
        overlays.append(not_analysed_layer(ctx, not_analysed))
    overlays += rural_layers(ctx)  # with --rural-standard: classes, rural scores, facilities
    sited = (
        {proposed.category}
        if proposed is not None
        else set(complete.categories)
        if complete is not None
        else None
    )
    for cat in ctx.categories:
        # with proposed sites, only the sited categories' facilities start switched on
        overlays.append(facility_layer(ctx, cat, show=sited is None or cat in sited))
    fac = ctx.facilities
    unused = fac[~fac["reachable"].astype(bool) & fac.intersects(ctx.study_area())]
    if len(unused):
        overlays.append(unused_facility_layer(ctx, unused))

    return {
        "lang": lang,
        "heading": _heading(ctx),
        "tiles": tiles_json(tiles),
        "attribution": _DATA_ATTRIBUTION,
        "maxZoom": MAX_ZOOM if tiles is None else tiles.max_zoom,
        "panes": [
            [pane, z]
            for pane, z in {**_PANES, **(_SITE_PANES if proposed or complete else {})}.items()
        ],
        "control": {"base": text("layers_themes", lang), "overlays": text("layers_overlays", lang)},
        "bounds": _bounds(ctx, analysed if len(analysed) else units),
        "padding": _PADDING,
        "delta": DELTA_SCALE,
        "canvasFrom": CANVAS_FROM,
        "units": {
            "geometry": geometries(analysed),
            "name": [str(name) for name in analysed["name"]],
            "popup": unit_popups(ctx, analysed),
        },
        "cells": {"xy": delta_points(ctx.display(ctx.cells.centres))},
        "radius": {"max": radius.max_value, "maxPx": MAX_RADIUS_PX, "minPx": MIN_RADIUS_PX},
        "themes": theme_layers,
        "overlays": overlays,
        "legend": legend_html(ctx, radius, proposed, boundaries=len(ctx.levels) > 1, partly=partly)
        + ("" if complete is None else complete_legend(ctx, complete)),
    }


def _bounds(ctx: MapContext, frame: gpd.GeoDataFrame) -> list[list[float]]:
    """``[[south, west], [north, east]]`` of ``frame``, else of the street data."""
    west, south, east, north = (float(v) for v in frame.total_bounds)
    if not all(map(math.isfinite, (west, south, east, north))):
        area = ctx.display(gpd.GeoDataFrame(geometry=[ctx.study_area()], crs="EPSG:4326"))
        west, south, east, north = (float(v) for v in area.total_bounds)
    return [[south, west], [north, east]]


def _heading(ctx: MapContext) -> dict[str, str | None]:
    """The visible heading (plain text): the study's name, its area and what the map is."""
    name, area = ctx.study()
    title = text("title", ctx.lang)
    if not name:
        return {"title": title, "sub": area}
    sub = text("map_heading_sub", ctx.lang, area=area, title=title) if area else title
    return {"title": name, "sub": sub}


def _title(ctx: MapContext) -> str:
    """The page's title (plain text): the study's name and area when known."""
    name, area = ctx.study()
    parts = [p for p in (name, area) if p]
    return " · ".join([*parts, text("title", ctx.lang)])


def script_json(value: Any) -> str:
    r"""``value`` as JSON safe to place inside a ``<script>`` element.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\u`` escapes (they
    can only occur inside JSON strings, where the escape means the same), so the
    text can neither end the element nor open a comment. NaN and infinities are
    refused (JSON has none).

    Parameters
    ----------
    value
        Plain data (dicts, lists, strings, finite numbers, booleans, None).

    Returns
    -------
    str
        Compact JSON (non-ASCII text kept as is, unless it cannot be encoded
        as UTF-8, e.g. a lone surrogate, in which case everything is escaped).
    """
    out = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    try:
        out.encode("utf-8")
    except UnicodeEncodeError:
        out = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    for char, escape in _SCRIPT_SAFE:
        out = out.replace(char, escape)
    return out


def _page(data: dict[str, Any], title: str, lang: str) -> str:
    """The page: the constant template, its constant assets, escaped title, data island."""
    return _assets.fill_template(
        "map.html",
        {
            "lang": esc(check_lang(lang)),
            "title": esc(title),
            "leaflet_css": _assets.leaflet_css(),
            "markercluster_css": _assets.markercluster_css(),
            "map_css": _assets.map_css(),
            "data": script_json(data),
            "leaflet_js": _assets.leaflet_js(),
            "markercluster_js": _assets.markercluster_js(),
            "map_js": _assets.map_js(),
        },
    )


def tiles_json(tiles: Any) -> dict[str, Any] | None:
    """A basemap's tile settings for the page's JSON (None: no basemap)."""
    if tiles is None:
        return None
    return {
        "url": tiles.url,
        "attribution": tiles.attribution,
        "subdomains": tiles.subdomains,
        "maxZoom": tiles.max_zoom,
    }
