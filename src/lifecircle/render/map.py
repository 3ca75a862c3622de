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

Leaflet and Leaflet.markercluster are inlined from the vendored copies in ``assets/``
and folium's CDN links (jQuery, Bootstrap, Font Awesome, markercluster) are dropped:
the map needs the network only for basemap tiles, and with ``basemap="none"`` not at
all. Every string from the data is HTML-escaped before it reaches a tooltip, popup or
label.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from jinja2 import Template

from ..coverage import origin_indicators
from ..io.outputs import write_atomic
from ..settings import MAX_SNAP_M
from . import _mapdata
from ._assets import Raw, leaflet_css, leaflet_js, read_text
from ._cluster import FacilityClusters, cluster_icon_html
from ._style import (
    CATCHMENT_COLOUR,
    MISSING_COLOUR,
    SITE_COLOUR,
    UNCOVERED_COLOUR,
    category_colours,
    share_classes,
    share_colour,
)
from ._text import category_name, check_lang, count, esc, level_name, pct, profile_name, text

if TYPE_CHECKING:
    from ..optimize import Siting
    from ..pipeline import AuditResult

__all__ = ["BASEMAPS", "build_map", "render_map"]


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

#: Simplification of unit outlines, cells of the residents grid and resolution of
#: the catchment outlines (m); radius of the largest circle (px).
UNIT_TOLERANCE_M = 10.0
CELL_M = 250.0
CATCHMENT_CELL_M = 60.0
MAX_RADIUS_PX = 13.0
#: Deepest zoom without tiles (clusters need a finite one; tiles bring their own).
MAX_ZOOM = 19
#: Leaflet panes (z-index) keep the drawing order whichever theme is switched on.
_PANES = {"lc_units": 410, "lc_catchments": 420, "lc_uncovered": 430, "lc_boundaries": 440,
          "lc_facilities": 450}
#: Panes added with proposed sites: their catchment outlines and their numbered markers.
_SITE_PANES = {"lc_site_catchments": 425, "lc_sites": 460}
_UNIT_STYLE = {"color": "#444444", "weight": 1, "fillOpacity": 0.6}
_HIGHLIGHT = {"weight": 3, "color": "#000000"}


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
    target = Path(path)
    return write_atomic(target, lambda tmp: tmp.write_text(page, encoding="utf-8"))


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
    ctx = _Context.of(result, lang=lang, gcj02=basemap == "amap")
    proposed = None if siting is None else _Proposed.of(ctx, siting)
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
    themes = _themes(ctx, proposed)
    radius = _RadiusScale(max((t.cells["weight"].max() for t in themes if len(t.cells)),
                              default=1.0))
    shown = next((i for i, theme in enumerate(themes) if theme.primary), 0)
    for i, theme in enumerate(themes):
        _theme_layer(ctx, theme, units, radius, show=i == shown).add_to(fmap)
    if proposed is not None:
        _proposals_layer(ctx, proposed).add_to(fmap)
    for level in ctx.levels[:-1]:
        _boundary_layer(ctx, level).add_to(fmap)
    not_analysed = units[~units["analysed"].astype(bool)]
    if len(not_analysed):
        _not_analysed_layer(ctx, not_analysed).add_to(fmap)
    for cat in ctx.categories:
        # with proposed sites, only the siting category's facilities start switched on
        _facility_layer(ctx, cat, show=proposed is None or cat == proposed.category
                        ).add_to(fmap)
    fac = ctx.facilities
    unused = fac[~fac["reachable"].astype(bool) & fac.intersects(ctx.study_area())]
    if len(unused):
        _unused_facility_layer(ctx, unused).add_to(fmap)
    folium.LayerControl(collapsed=False, position="topright").add_to(fmap)
    _Script("control", position="bottomleft", css_class="lc-legend",
            html=_legend_html(ctx, radius, proposed)).add_to(fmap)
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


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class _Context:
    """What every layer needs: the audit, the language, and display helpers."""

    result: AuditResult
    lang: str
    gcj02: bool
    categories: list[str]
    levels: list[str]
    colours: dict[str, str]

    @classmethod
    def of(cls, result: AuditResult, *, lang: str, gcj02: bool) -> _Context:
        summary = result.summary
        return cls(result=result, lang=lang, gcj02=gcj02,
                   categories=list(summary["categories_audited"]),
                   levels=list(summary["units"]["levels"]),
                   colours=category_colours(result.standard.category_ids))

    @property
    def facilities(self) -> gpd.GeoDataFrame:
        fac = self.result.facilities
        return fac[fac["category"].isin(self.categories)]

    def cat_name(self, cat: str) -> str:
        return category_name(self.result.standard, cat, self.lang)

    @property
    def max_snap_m(self) -> float:
        """How far from the walk network a facility may lie and still be used (m)."""
        settings = self.result.summary.get("settings") or {}
        return float(settings.get("max_snap_m") or MAX_SNAP_M)

    def threshold(self, cat: str) -> dict[str, Any]:
        return self.result.summary["thresholds"][cat]

    def study_area(self) -> shapely.Geometry:
        """The street data's extent, in EPSG:4326."""
        graph = self.result.graph
        return gpd.GeoSeries([graph.extent()], crs=graph.crs).to_crs("EPSG:4326").iloc[0]

    def display(self, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        return _mapdata.for_display(frame, gcj02=self.gcj02)

    def display_units(self, level: str | None = None) -> gpd.GeoDataFrame:
        units = self.result.units[level or self.levels[-1]]
        return self.display(_mapdata.simplify(units, self.result.graph.crs, UNIT_TOLERANCE_M))


@dataclass(frozen=True)
class _Proposed:
    """A solved siting and what the map draws of it, computed once."""

    siting: Siting
    summary: dict[str, Any]
    proposals: gpd.GeoDataFrame
    sites: gpd.GeoDataFrame
    access_after: pd.DataFrame
    units_after: dict[str, gpd.GeoDataFrame]

    @classmethod
    def of(cls, ctx: _Context, siting: Siting) -> _Proposed:
        if siting.result is not ctx.result:
            msg = "the siting was built from another audit result"
            raise ValueError(msg)
        if not siting.model:
            msg = "the siting has not been solved: call Siting.solve() first"
            raise ValueError(msg)
        proposals = siting.proposals()
        # the sites' own geometry (points or parcels, graph CRS), in rank order
        cand = siting.candidates.set_index("candidate_id").loc[proposals["candidate_id"]]
        sites = gpd.GeoDataFrame(geometry=cand.geometry.to_numpy(), crs=siting.candidates.crs)
        if "name" in cand.columns:
            sites["name"] = cand["name"].to_numpy()
        access_after = siting.access_after()
        return cls(siting=siting, summary=siting.summary(), proposals=proposals, sites=sites,
                   access_after=access_after, units_after=siting.units_after(access_after))

    @property
    def category(self) -> str:
        return self.siting.category


@dataclass(frozen=True)
class _Theme:
    """One way of colouring the units, with the residents it leaves uncovered."""

    name: str
    column: str
    cells: gpd.GeoDataFrame
    catchment: gpd.GeoSeries | None
    #: Units to colour when not the audit's (coverage after the proposed sites).
    units: gpd.GeoDataFrame | None = None
    #: The theme switched on when the map opens (else the first).
    primary: bool = False


def _themes(ctx: _Context, proposed: _Proposed | None = None) -> list[_Theme]:
    result, graph = ctx.result, ctx.result.graph
    access = result.access
    population = access["population"].to_numpy(float)

    def cells(covered: np.ndarray) -> gpd.GeoDataFrame:
        uncovered = population * (1.0 - covered)
        return ctx.display(_mapdata.aggregate_to_cells(access, uncovered, graph.crs, CELL_M))

    indicators = origin_indicators(access, result.standard, ctx.categories)
    themes = [_Theme(text("theme_complete", ctx.lang), "complete_share",
                     cells(indicators["complete_share"].to_numpy(float)), None)]
    fac = ctx.facilities
    for cat in ctx.categories:
        usable = fac[(fac["category"] == cat) & fac["reachable"].astype(bool)]
        area = _mapdata.catchment(graph, usable, ctx.threshold(cat)["metres"],
                                  cell_m=CATCHMENT_CELL_M)
        name = text("theme_category", ctx.lang, name=ctx.cat_name(cat),
                    minutes=f"{ctx.threshold(cat)['minutes']:g}")
        theme = _Theme(name, f"cov_{cat}", cells(indicators[f"cov_{cat}"].to_numpy(float)),
                       ctx.display(gpd.GeoDataFrame(geometry=area)))
        if proposed is not None and cat == proposed.category:
            themes += _before_after(ctx, proposed, theme, usable)
        else:
            themes.append(theme)
    return themes


def _before_after(ctx: _Context, proposed: _Proposed, before: _Theme,
                  usable: gpd.GeoDataFrame) -> list[_Theme]:
    """The siting category's theme as a pair: existing facilities, then with the new sites."""
    cat, graph = proposed.category, ctx.result.graph
    minutes = f"{ctx.threshold(cat)['minutes']:g}"
    # residents still uncovered, per origin (a resident partly served by a site of
    # limited capacity appears twice in access_after: served and unserved shares)
    after = proposed.access_after
    covered = origin_indicators(after, ctx.result.standard, [cat])[f"cov_{cat}"].to_numpy()
    uncovered = (pd.Series(after["population"].to_numpy(float) * (1.0 - covered))
                 .groupby(after["origin_id"].to_numpy()).sum()
                 .reindex(ctx.result.access["origin_id"].to_numpy(), fill_value=0.0))
    cells = ctx.display(_mapdata.aggregate_to_cells(ctx.result.access, uncovered.to_numpy(),
                                                    graph.crs, CELL_M))
    sites = pd.concat([usable.geometry.to_crs(graph.crs), proposed.sites.geometry],
                      ignore_index=True)
    area = _mapdata.catchment(graph, gpd.GeoDataFrame(geometry=sites, crs=graph.crs),
                              ctx.threshold(cat)["metres"], cell_m=CATCHMENT_CELL_M)
    return [
        dataclasses.replace(before, primary=True, name=text(
            "theme_before", ctx.lang, name=ctx.cat_name(cat), minutes=minutes)),
        _Theme(text("theme_after", ctx.lang, name=ctx.cat_name(cat), minutes=minutes,
                    n=len(proposed.proposals)),
               f"cov_{cat}", cells, ctx.display(gpd.GeoDataFrame(geometry=area)),
               units=_units_after(ctx, proposed)),
    ]


def _units_after(ctx: _Context, proposed: _Proposed) -> gpd.GeoDataFrame:
    """The displayed finest units with every coverage figure taken from after the new sites.

    Names, ids and outlines stay those of the audit's units.
    """
    units = ctx.display_units()
    after = proposed.units_after[ctx.levels[-1]]
    table = pd.DataFrame(after.drop(columns=after.geometry.name)).set_index("unit_id")
    fixed = {"unit_id", "name", "parent_id", "level", "analysed", units.geometry.name}
    ids = units["unit_id"].to_numpy()
    for col in table.columns:
        if col in units.columns and col not in fixed:
            units[col] = table[col].reindex(ids).to_numpy()
    return units


class _RadiusScale:
    """Circle radius in pixels, proportional to the square root of the value."""

    def __init__(self, max_value: float) -> None:
        self.max_value = max(float(max_value), 1.0)

    def __call__(self, value: float) -> float:
        return round(max(1.5, MAX_RADIUS_PX * float(np.sqrt(value / self.max_value))), 1)

    def reference_values(self) -> list[float]:
        """Three round values spanning the scale, largest first."""
        return sorted({_round_down(self.max_value * f) for f in (1.0, 0.25, 0.04)},
                      reverse=True)


def _round_down(value: float) -> float:
    """The largest of 1, 2, 5 x 10^k not above ``value`` (at least 1)."""
    if value < 1:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    return float(max(m * power for m in (1, 2, 5) if m * power <= value))


# --------------------------------------------------------------------------- popups


def _unit_popup(ctx: _Context, row: pd.Series) -> str:
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


def _unit_tooltip(ctx: _Context, row: pd.Series, column: str, theme_name: str) -> str:
    lines = [f"<b>{esc(row['name'])}</b>", f"{esc(theme_name)}: <b>{pct(row[column])}</b>"]
    if column == "complete_share" and pd.notna(row["worst_category"]):
        cat = str(row["worst_category"])
        lines.append(f"{esc(text('worst_category', ctx.lang))}: {esc(ctx.cat_name(cat))} "
                     f"({pct(row[f'cov_{cat}'])})")
    return "<br>".join(lines)


def _geojson(frame: gpd.GeoDataFrame, properties: dict[str, list[Any]]) -> dict[str, Any]:
    """A FeatureCollection of ``frame``'s geometries (ids 0..n-1) with only ``properties``."""
    geometries = shapely.to_geojson(np.asarray(frame.geometry.array))
    features = [{"type": "Feature", "id": i, "geometry": json.loads(geometry),
                 "properties": {key: values[i] for key, values in properties.items()}}
                for i, geometry in enumerate(geometries)]
    return {"type": "FeatureCollection", "features": features}


def _details(popup: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"tooltip": folium.GeoJsonTooltip(["tip"], labels=False,
                                                            sticky=True)}
    if popup:
        out["popup"] = folium.GeoJsonPopup(["popup"], labels=False, max_width=360)
    return out


def _constant(style: dict[str, Any]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda feature: dict(style)


# --------------------------------------------------------------------------- layers


def _theme_layer(ctx: _Context, theme: _Theme, units: gpd.GeoDataFrame,
                 radius: _RadiusScale, *, show: bool) -> folium.FeatureGroup:
    group = folium.FeatureGroup(name=esc(theme.name), overlay=False, show=show)
    units = theme.units if theme.units is not None else units
    shown = units[units["analysed"].astype(bool)]
    rows = [row for _, row in shown.iterrows()]
    data = _geojson(shown, {
        "fill": [share_colour(row[theme.column]) for row in rows],
        "tip": [_unit_tooltip(ctx, row, theme.column, theme.name) for row in rows],
        "popup": [_unit_popup(ctx, row) for row in rows],
    })
    folium.GeoJson(
        data, pane="lc_units",
        style_function=lambda f: {**_UNIT_STYLE, "fillColor": f["properties"]["fill"]},
        highlight_function=_constant(_HIGHLIGHT), **_details(),
    ).add_to(group)
    if theme.catchment is not None and not theme.catchment.is_empty.all():
        folium.GeoJson(
            _geojson(theme.catchment, {}), pane="lc_catchments", interactive=False,
            style_function=_constant({"stroke": False, "fillColor": CATCHMENT_COLOUR,
                                      "fillOpacity": 0.22}),
        ).add_to(group)
    if len(theme.cells):
        weights = theme.cells["weight"].to_numpy()
        data = _geojson(theme.cells, {
            "style": [{"radius": radius(w)} for w in weights],
            "tip": [esc(text("uncovered_here", ctx.lang, n=count(w))) for w in weights],
        })
        folium.GeoJson(
            data, marker=folium.CircleMarker(radius=3, pane="lc_uncovered", color="#ffffff",
                                             weight=0.6, fill=True,
                                             fill_color=UNCOVERED_COLOUR, fill_opacity=0.6),
            **_details(popup=False),
        ).add_to(group)
    return group


def _boundary_layer(ctx: _Context, level: str) -> folium.GeoJson:
    units = ctx.display_units(level)
    shown = units[units["units_analysed"] > 0]
    rows = [row for _, row in shown.iterrows()]
    name = text("layer_boundaries", ctx.lang, level=level_name(level, ctx.lang))
    data = _geojson(shown, {
        "tip": [f"<b>{esc(row['name'])}</b><br>"
                f"{esc(text('theme_complete', ctx.lang))}: {pct(row['complete_share'])}"
                for row in rows],
        "popup": [_unit_popup(ctx, row) for row in rows],
    })
    return folium.GeoJson(
        data, name=esc(name), pane="lc_boundaries",
        style_function=_constant({"color": "#222222", "weight": 2.5, "fill": False,
                                  "dashArray": "6 4"}),
        highlight_function=_constant({"weight": 4}), **_details(),
    )


def _not_analysed_layer(ctx: _Context, units: gpd.GeoDataFrame) -> folium.GeoJson:
    reasons = {str(e["unit_id"]): str(e["reason"])
               for e in ctx.result.summary["units"]["excluded"]}
    tips = [f"<b>{esc(row['name'])}</b><br>{esc(text('legend_not_analysed', ctx.lang))}: "
            f"{esc(reasons.get(str(row['unit_id']), ''))}" for _, row in units.iterrows()]
    return folium.GeoJson(
        _geojson(units, {"tip": tips}), name=esc(text("layer_not_analysed", ctx.lang)),
        pane="lc_units",
        style_function=_constant({"color": "#777777", "weight": 0.8, "dashArray": "3 3",
                                  "fillColor": MISSING_COLOUR, "fillOpacity": 0.35}),
        **_details(popup=False),
    )


def _facility_tips(ctx: _Context, facilities: gpd.GeoDataFrame) -> list[str]:
    out = []
    for name, cat, snap in zip(facilities["name"], facilities["category"],
                               facilities["snap_m"], strict=True):
        label = name if pd.notna(name) and str(name).strip() else text("unnamed", ctx.lang)
        note = (text("snap", ctx.lang, metres=f"{snap:.0f}") if pd.notna(snap)
                else text("facility_unused", ctx.lang, metres=count(ctx.max_snap_m)))
        out.append(f"<b>{esc(label)}</b><br>{esc(ctx.cat_name(cat))} · {esc(note)}")
    return out


def _facility_layer(ctx: _Context, cat: str, *, show: bool = True) -> FacilityClusters:
    fac = ctx.facilities
    usable = fac[(fac["category"] == cat) & fac["reachable"].astype(bool)]
    points = ctx.display(_mapdata.as_points(usable, ctx.result.graph.crs))
    colour = ctx.colours[cat]
    name = (f'<span class="lc-swatch lc-dot" style="background:{colour}"></span>'
            + esc(text("layer_facilities", ctx.lang, name=ctx.cat_name(cat), n=len(usable))))
    return FacilityClusters(_geojson(points, {"tip": _facility_tips(ctx, usable)}), name=name,
                            colour=colour, pane="lc_facilities", show=show)


def _unused_facility_layer(ctx: _Context, unused: gpd.GeoDataFrame) -> folium.GeoJson:
    points = ctx.display(_mapdata.as_points(unused, ctx.result.graph.crs))
    colours = [ctx.colours[c] for c in unused["category"]]
    name = text("layer_unused", ctx.lang, metres=count(ctx.max_snap_m))
    return folium.GeoJson(
        _geojson(points, {"style": [{"color": c} for c in colours],
                          "tip": _facility_tips(ctx, unused)}),
        name=esc(name), show=False,
        marker=folium.CircleMarker(radius=3, pane="lc_facilities", weight=1.5, fill=False),
        **_details(popup=False),
    )


def _site_marker_html(rank: int) -> str:
    return f'<div class="lc-site" style="background:{SITE_COLOUR}">{int(rank)}</div>'


def _site_rows(ctx: _Context, proposed: _Proposed, i: int) -> list[tuple[str, str]]:
    """(label, value) pairs of the i-th proposed site, escaped, for its popup."""
    lang, props = ctx.lang, proposed.proposals
    row = props.iloc[i]
    rows = [(esc(text("site_id", lang)), esc(row["site_id"])),
            (esc(text("col_category", lang)), esc(ctx.cat_name(proposed.category)))]
    name = proposed.sites["name"].iloc[i] if "name" in proposed.sites.columns else None
    if pd.notna(name) and str(name).strip():
        rows.append((esc(text("site_name", lang)), esc(name)))
    if "marginal_newly_covered" in props.columns:
        rows.append((esc(text("col_marginal_newly", lang)),
                     f"<b>{count(row['marginal_newly_covered'])}</b>"))
    else:
        rows.append((esc(text("col_marginal_saved", lang)),
                     f"<b>{count(row['marginal_distance_saved_m'])}</b>"))
    rows.append((esc(text("col_served", lang)), count(row["residents_served"])))
    th = ctx.threshold(proposed.category)
    rows.append((esc(text("site_catchment", lang)),
                 esc(text("minutes_metres", lang, minutes=f"{th['minutes']:g}",
                          metres=f"{th['metres']:.0f}"))))
    return rows


def _proposals_layer(ctx: _Context, proposed: _Proposed) -> folium.FeatureGroup:
    """The proposed sites, numbered by rank, over each site's walking catchment."""
    cat, lang, graph = proposed.category, ctx.lang, ctx.result.graph
    props, sites = proposed.proposals, proposed.sites
    name = (f'<span class="lc-swatch lc-dot" style="background:{SITE_COLOUR}"></span>'
            + esc(text("layer_proposals", lang, name=ctx.cat_name(cat), n=len(props))))
    group = folium.FeatureGroup(name=name, overlay=True, show=True)
    if props.empty:
        return group
    reach = ctx.threshold(cat)["metres"]
    areas = pd.concat([_mapdata.catchment(graph, sites.iloc[[i]], reach,
                                          cell_m=CATCHMENT_CELL_M) for i in range(len(sites))],
                      ignore_index=True)
    areas = ctx.display(gpd.GeoDataFrame(geometry=areas))
    areas = areas[~areas.is_empty]
    if len(areas):
        folium.GeoJson(
            _geojson(areas, {}), pane="lc_site_catchments", interactive=False,
            style_function=_constant({"color": SITE_COLOUR, "weight": 1.6, "opacity": 0.9,
                                      "dashArray": "5 4", "fillColor": SITE_COLOUR,
                                      "fillOpacity": 0.07}),
        ).add_to(group)
    points = ctx.display(_mapdata.as_points(sites, graph.crs))
    tips, popups = [], []
    for i, rank in enumerate(props["rank"]):
        rows = _site_rows(ctx, proposed, i)
        title = esc(text("site_title", lang, rank=int(rank)))
        tips.append(f"<b>{title}</b><br>" + "<br>".join(f"{label}: {value}"
                                                       for label, value in rows[1:]))
        body = "".join(f"<tr><th>{label}</th><td>{value}</td></tr>" for label, value in rows)
        popups.append(f'<div class="lc-popup"><h4>{title}</h4><table>{body}</table></div>')
    data = _geojson(points, {"rank": [int(r) for r in props["rank"]], "tip": tips,
                             "popup": popups})
    icon = folium.DivIcon(html="", icon_size=(24, 24), icon_anchor=(12, 12),
                          class_name="lc-site-icon")
    folium.GeoJson(
        data, marker=folium.Marker(icon=icon, pane="lc_sites"),
        style_function=lambda f: {"html": _site_marker_html(f["properties"]["rank"])},
        **_details(),
    ).add_to(group)
    return group


# --------------------------------------------------------------------------- legend


def _legend_html(ctx: _Context, radius: _RadiusScale, proposed: _Proposed | None = None
                 ) -> str:
    lang, summary = ctx.lang, ctx.result.summary
    std_title = summary["standard"]["title_zh" if lang == "zh" else "title"]
    prof = summary["profile"]
    parts = [f'<div class="lc-title">{esc(text("title", lang))}</div>',
             f'<div class="lc-sub">{esc(std_title)} · {esc(profile_name(prof["id"], lang))} '
             f'{prof["speed_m_s"]:g} m/s</div>',
             f'<div class="lc-head">{esc(text("legend_share", lang))}</div>']
    for colour, label in reversed(share_classes()):
        parts.append(f'<div class="lc-row"><span class="lc-swatch" '
                     f'style="background:{colour}"></span>{esc(label)}</div>')
    parts.append(f'<div class="lc-row"><span class="lc-swatch lc-hatch" style="background:'
                 f'{MISSING_COLOUR}"></span>{esc(text("legend_not_analysed", lang))}</div>')
    parts.append(f'<div class="lc-head">{esc(text("legend_uncovered", lang, cell=f"{CELL_M:.0f}"))}'
                 "</div><div class=\"lc-circles\">")
    for value in radius.reference_values():
        r = radius(value)
        size = 2 * MAX_RADIUS_PX + 2
        parts.append(
            f'<span class="lc-circle"><svg width="{size}" height="{size}">'
            f'<circle cx="{size / 2}" cy="{size / 2}" r="{r}" fill="{UNCOVERED_COLOUR}" '
            f'fill-opacity="0.6" stroke="#fff"/></svg>{count(value)}</span>')
    parts.append("</div>")
    parts.append(f'<div class="lc-row"><span class="lc-swatch" style="background:'
                 f'{CATCHMENT_COLOUR};opacity:0.35"></span>'
                 f'{esc(text("legend_catchment", lang))}</div>')
    parts.append(f'<div class="lc-row">{cluster_icon_html(12)}'
                 f'{esc(text("legend_clusters", lang))}</div>')
    if proposed is not None:
        cat, summary = proposed.category, proposed.summary
        name = ctx.cat_name(cat)
        minutes = f"{ctx.threshold(cat)['minutes']:g}"
        parts += [
            f'<div class="lc-head">{esc(text("legend_proposals", lang))}</div>',
            f'<div class="lc-row"><span class="lc-site-key">{_site_marker_html(1)}</span>'
            f'{esc(text("legend_site", lang, name=name))}</div>',
            f'<div class="lc-row"><span class="lc-swatch lc-site-area" style="border-color:'
            f'{SITE_COLOUR}"></span>{esc(text("legend_site_catchment", lang, minutes=minutes))}'
            "</div>",
            '<div class="lc-row lc-change">' + esc(text(
                "legend_change", lang, name=name, before=pct(summary["coverage_before"]),
                after=pct(summary["coverage_after"]))) + "</div>",
        ]
    return "".join(parts)
