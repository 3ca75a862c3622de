"""The interactive map of an audit: one self-contained HTML file (folium / Leaflet).

Layers:

* **themes** (radio buttons): governance units coloured by the share of residents
  with a complete life circle, or by one category's coverage; each theme also
  shows, as proportional circles on a grid, the residents it leaves uncovered,
  and for a category the streets within its walking threshold of a facility;
* **overlays** (check boxes): coarser unit boundaries, units not analysed,
  facilities per category (clustered, one cluster group per category: see
  :mod:`lifecircle.render._cluster`), facilities too far from the network to be used.

With a solved :class:`~lifecircle.optimize.Siting` (``lifecircle optimize``) the
map also shows the proposed sites, numbered by rank, with each site's walking
catchment, and the siting category's theme splits into a before / after pair of
radio buttons (coverage by the existing facilities, then with the new sites).

The layers are built by private modules, one per part of the map:
:mod:`~lifecircle.render._themes` (the radio buttons),
:mod:`~lifecircle.render._overlays` (the check boxes),
:mod:`~lifecircle.render._proposals` (the proposed sites) and
:mod:`~lifecircle.render._legend`; :mod:`~lifecircle.render._context` holds what they
all need and :mod:`~lifecircle.render._features` their GeoJSON, tooltips and popups.
This module assembles the page.

Leaflet and Leaflet.markercluster are inlined from the vendored copies in ``assets/``
and folium's CDN links (jQuery, Bootstrap, Font Awesome, markercluster) are dropped:
the map needs the network only for basemap tiles, and with ``basemap="none"`` not at
all. Every string from the data is HTML-escaped before it reaches a tooltip, popup or
label.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
from jinja2 import Template

from ._assets import Raw, leaflet_css, leaflet_js, read_text
from ._context import MapContext
from ._legend import legend_html
from ._overlays import boundary_layer, facility_layer, not_analysed_layer, unused_facility_layer
from ._page import write_html
from ._proposals import Proposed, proposals_layer, site_rows
from ._text import check_lang, esc, text
from ._themes import RadiusScale, theme_layer, themes

if TYPE_CHECKING:
    from ..optimize import Siting
    from ..pipeline import AuditResult

__all__ = ["BASEMAPS", "build_map", "render_map"]

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
    "osm": _Tiles("https://tile.openstreetmap.org/{z}/{x}/{y}.png",
                  'Tiles © <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a>',
                  "abc", 19),
    "amap": _Tiles("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1"
                   "&style=8&x={x}&y={y}&z={z}",
                   "Tiles © AutoNavi 高德地图 (GCJ-02; overlays shifted to match)", "1234", 18),
    "none": None,
}
_DATA_ATTRIBUTION = ('Map data © OpenStreetMap contributors '
                     '(<a href="https://www.openstreetmap.org/copyright">ODbL</a>)')

#: Deepest zoom without tiles (clusters need a finite one; tiles bring their own).
MAX_ZOOM = 19
#: Leaflet panes (z-index) keep the drawing order whichever theme is switched on.
_PANES = {"lc_units": 410, "lc_catchments": 420, "lc_uncovered": 430, "lc_boundaries": 440,
          "lc_facilities": 450}
#: Panes added with proposed sites: their catchment outlines and their numbered markers.
_SITE_PANES = {"lc_site_catchments": 425, "lc_sites": 460}


def render_map(result: AuditResult, path: str | Path, *, lang: str = "en",
               basemap: str = "osm", siting: Siting | None = None) -> Path:
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
        A solved :class:`~lifecircle.optimize.Siting` built from ``result``: adds the
        proposed sites with their catchments and a before / after pair of themes
        for its category (see :meth:`lifecircle.optimize.Siting.to_map`).

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
    page = build_map(result, lang=lang, basemap=basemap, siting=siting).get_root().render()
    return write_html(path, page)


def build_map(result: AuditResult, *, lang: str = "en", basemap: str = "osm",
              siting: Siting | None = None) -> folium.Map:
    """The audit's map as a :class:`folium.Map` (e.g. to show in a notebook).

    Parameters are those of :func:`render_map`.

    Returns
    -------
    folium.Map
        The map, with Leaflet inlined.
    """
    check_lang(lang)
    if basemap not in BASEMAPS:
        msg = f"basemap must be one of {', '.join(BASEMAPS)}, got {basemap!r}"
        raise ValueError(msg)
    ctx = MapContext.of(result, lang=lang, gcj02=basemap == "amap")
    proposed = None if siting is None else Proposed.of(ctx, siting)
    tiles = BASEMAPS[basemap]
    fmap = _InlineMap(location=None, tiles=None, control_scale=True, zoom_snap=0.25)
    fmap.options["max_zoom"] = MAX_ZOOM if tiles is None else tiles.max_zoom
    root = fmap.get_root()
    root.title = esc(text("title", lang))
    headings = {"base": text("layers_themes", lang), "overlays": text("layers_overlays", lang)}
    root.header.add_child(Raw("<style>" + "".join(
        f".leaflet-control-layers-{part}::before{{content:{json.dumps(label, ensure_ascii=False)}}}"
        for part, label in headings.items()) + "</style>"), name="lc_headings")
    if tiles is not None:
        folium.TileLayer(tiles=tiles.url, attr=tiles.attribution, subdomains=tiles.subdomains,
                         max_zoom=tiles.max_zoom, control=False).add_to(fmap)
    _Script("attribution", text=_DATA_ATTRIBUTION).add_to(fmap)
    for pane, z_index in {**_PANES, **(_SITE_PANES if proposed else {})}.items():
        folium.map.CustomPane(pane, z_index=z_index, pointer_events=True).add_to(fmap)

    units = ctx.display_units()
    layers = themes(ctx, proposed)
    radius = RadiusScale(max((t.cells["weight"].max() for t in layers if len(t.cells)),
                             default=1.0))
    shown = next((i for i, theme in enumerate(layers) if theme.primary), 0)
    for i, theme in enumerate(layers):
        theme_layer(ctx, theme, units, radius, show=i == shown).add_to(fmap)
    if proposed is not None:
        proposals_layer(ctx, proposed).add_to(fmap)
    for level in ctx.levels[:-1]:
        boundary_layer(ctx, level).add_to(fmap)
    not_analysed = units[~units["analysed"].astype(bool)]
    if len(not_analysed):
        not_analysed_layer(ctx, not_analysed).add_to(fmap)
    for cat in ctx.categories:
        # with proposed sites, only the siting category's facilities start switched on
        facility_layer(ctx, cat, show=proposed is None or cat == proposed.category
                       ).add_to(fmap)
    fac = ctx.facilities
    unused = fac[~fac["reachable"].astype(bool) & fac.intersects(ctx.study_area())]
    if len(unused):
        unused_facility_layer(ctx, unused).add_to(fmap)
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    _Script("control", position="bottomleft", css_class="lc-legend",
            html=legend_html(ctx, radius, proposed)).add_to(fmap)
    analysed = units[units["analysed"].astype(bool)]
    west, south, east, north = (analysed if len(analysed) else units).total_bounds
    # leave room for the legend (left) and the layer control (right)
    fmap.fit_bounds([[south, west], [north, east]], padding_top_left=(280, 10),
                    padding_bottom_right=(330, 10))
    return fmap


# --------------------------------------------------------------------------- page


class _InlineMap(folium.Map):
    """A folium map whose Leaflet JS and CSS are inlined instead of linked from CDNs."""

    default_js: list[tuple[str, str]] = []
    default_css: list[tuple[str, str]] = []

    def render(self, **kwargs: Any) -> None:
        header = self.get_root().header
        header.add_child(Raw(f"<style>{leaflet_css()}</style>"), name="leaflet_css")
        header.add_child(Raw(f"<style>{read_text('map.css')}</style>"), name="lifecircle_css")
        header.add_child(Raw(f"<script>{leaflet_js()}</script>"), name="leaflet_js")
        super().render(**kwargs)


class _Script(folium.MacroElement):
    """A small script attached to the map: a custom control, or an attribution."""

    _templates = {
        "attribution": """{% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.addAttribution(
                {{ this.values.text|tojson }});
            {% endmacro %}""",
        "control": """{% macro script(this, kwargs) %}
            (function () {
                var control = L.control({position: {{ this.values.position|tojson }}});
                control.onAdd = function () {
                    var div = L.DomUtil.create("div", {{ this.values.css_class|tojson }});
                    div.innerHTML = {{ this.values.html|tojson }};
                    L.DomEvent.disableClickPropagation(div);
                    L.DomEvent.disableScrollPropagation(div);
                    return div;
                };
                control.addTo({{ this._parent.get_name() }});
            })();
            {% endmacro %}""",
    }

    def __init__(self, kind: str, **values: str) -> None:
        super().__init__()
        self._name = f"lc_{kind}"
        self._template = Template(self._templates[kind])
        self.values = values

