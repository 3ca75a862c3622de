"""The map's themes: the radio buttons that colour the governance units.

A theme colours the finest units by the share of residents with a complete life
circle, or by one category's coverage; it also shows, as proportional circles on a
grid, the residents it leaves uncovered, and for a category the streets within its
walking threshold of a facility. With proposed sites the siting category's theme
splits into a before / after pair (existing facilities, then with the new sites).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from .. import columns
from ..coverage import origin_indicators
from . import _mapdata
from ._context import CELL_M, MapContext
from ._features import geometries, layer, lonlat, shapes, unit_popup
from ._style import CATCHMENT_COLOUR, UNCOVERED_COLOUR, share_colour
from ._text import count, esc, pct, text

if TYPE_CHECKING:
    from ._proposals import Proposed

logger = logging.getLogger(__name__)

#: Radius of the largest circle (px).
MAX_RADIUS_PX = 13.0
_UNIT_STYLE = {"color": "#444444", "weight": 1, "fillOpacity": 0.6}
_HIGHLIGHT = {"weight": 3, "color": "#000000"}


@dataclass(frozen=True)
class Theme:
    """One way of colouring the units, with the residents it leaves uncovered."""

    name: str
    column: str
    cells: gpd.GeoDataFrame
    catchment: gpd.GeoSeries | None
    #: Units to colour when not the audit's (coverage after the proposed sites).
    units: gpd.GeoDataFrame | None = None
    #: The theme switched on when the map opens (else the first).
    primary: bool = False
    #: A units column of persons shown in the tooltip (``unmet_<cat>``), if any.
    unmet: str | None = None


def themes(ctx: MapContext, proposed: Proposed | None = None) -> list[Theme]:
    """The themes in radio-button order.

    Complete life circles, one per category, then (without proposed sites) the
    fair-service themes (:func:`service_themes`).
    """
    result, graph = ctx.result, ctx.result.graph
    access = result.access
    population = access["population"].to_numpy(float)

    def cells(covered: np.ndarray) -> gpd.GeoDataFrame:
        uncovered = population * (1.0 - covered)
        return ctx.display(_mapdata.aggregate_to_cells(access, uncovered, graph.crs, CELL_M))

    indicators = origin_indicators(access, result.standard, ctx.categories)
    # no complete-life-circle theme when a mandatory category was not audited: it would
    # claim "every mandatory facility" without looking at some (the report names them)
    complete = bool(indicators["complete_share"].notna().any())
    new_category = proposed is not None and proposed.category not in ctx.categories
    n_themes = complete + len(ctx.categories) + (proposed is not None) + new_category
    out = []
    if complete:
        logger.info("map: theme 1 of %d (complete life circle)", n_themes)
        out.append(
            Theme(
                text("theme_complete", ctx.lang),
                "complete_share",
                cells(indicators["complete_share"].to_numpy(float)),
                None,
            )
        )
    fac = ctx.facilities
    for cat in ctx.categories:
        logger.info(
            "map: theme %d of %d (%s: catchment, residents not covered)",
            len(out) + 1,
            n_themes,
            cat,
        )
        usable = fac[(fac["category"] == cat) & fac["reachable"].astype(bool)]
        area = ctx.catchment(usable, ctx.threshold(cat).metres)
        name = text(
            "theme_category",
            ctx.lang,
            name=ctx.cat_name(cat),
            minutes=f"{ctx.threshold(cat).minutes:g}",
        )
        theme = Theme(
            name,
            columns.cov(cat),
            cells(indicators[columns.cov(cat)].to_numpy(float)),
            ctx.display(gpd.GeoDataFrame(geometry=area)),
        )
        if proposed is not None and cat == proposed.category:
            out += _before_after(ctx, proposed, theme, usable)
        else:
            out.append(theme)
    if new_category and proposed is not None:  # new_category implies a proposal
        out += _before_after(ctx, proposed, *_not_audited_theme(ctx, proposed))
    # the fair-service themes describe the audit as it is: with proposed sites they would
    # sit, unchanged, next to the "after" theme, so the siting map leaves them out
    return out + (service_themes(ctx) if proposed is None else [])


def service_themes(ctx: MapContext) -> list[Theme]:
    """Fair-service themes: cohort coverage, then the share of the cohort with a place.

    One theme per category serving a cohort of its own (``cohort_cov_<cat>``), then one
    per category with a capacity (``placed_<cat>``, ``unmet_<cat>`` in the tooltip).
    They colour the units only (no catchment, no circles), so they add little to the map.
    """
    service = ctx.result.summary.fair_service
    cohort, capacity = ctx.service_categories()
    none = gpd.GeoDataFrame({"weight": np.zeros(0)}, geometry=[], crs="EPSG:4326")
    out = []
    for cat in cohort:
        name = text(
            "theme_cohort",
            ctx.lang,
            name=ctx.cat_name(cat),
            cohort=ctx.cohort_name(service[cat].cohort),
            minutes=f"{ctx.threshold(cat).minutes:g}",
        )
        out.append(Theme(name, columns.cohort_cov(cat), none, None))
    for cat in capacity:
        name = text(
            "theme_placed",
            ctx.lang,
            name=ctx.cat_name(cat),
            cohort=ctx.cohort_name(service[cat].cohort),
        )
        out.append(Theme(name, columns.placed(cat), none, None, unmet=columns.unmet(cat)))
    units = ctx.result.units[ctx.levels[-1]]
    return [t for t in out if t.column in units.columns]


def _not_audited_theme(ctx: MapContext, proposed: Proposed) -> tuple[Theme, gpd.GeoDataFrame]:
    """The siting category's coverage before the new sites when the audit did not cover it.

    Its figures come from the siting (:meth:`~lifecircle.siting.SitingSolution.access_before`,
    e.g. nobody covered for a category with no facility yet); returns the theme and
    the category's usable existing facilities.
    """
    cat, graph = proposed.category, ctx.result.graph
    logger.info("map: theme %s before the proposed sites (not audited)", cat)
    access = proposed.siting.access_before()
    covered = origin_indicators(access, ctx.result.standard, [cat])[columns.cov(cat)]
    uncovered = access["population"].to_numpy(float) * (1.0 - covered.to_numpy(float))
    cells = ctx.display(
        _mapdata.aggregate_to_cells(ctx.result.access, uncovered, graph.crs, CELL_M)
    )
    fac = ctx.result.facilities
    usable = fac[(fac["category"] == cat) & fac["reachable"].astype(bool)]
    area = ctx.catchment(usable, ctx.threshold(cat).metres)
    units = _units_with(ctx, proposed.siting.units_after(access)[ctx.levels[-1]])
    theme = Theme(
        "", columns.cov(cat), cells, ctx.display(gpd.GeoDataFrame(geometry=area)), units=units
    )
    return theme, usable


def _before_after(
    ctx: MapContext, proposed: Proposed, before: Theme, usable: gpd.GeoDataFrame
) -> list[Theme]:
    """The siting category's theme as a pair: existing facilities, then with the new sites."""
    cat, graph = proposed.category, ctx.result.graph
    logger.info("map: theme %s after the proposed sites", cat)
    minutes = f"{ctx.threshold(cat).minutes:g}"
    # residents still uncovered, per origin (a resident partly served by a site of
    # limited capacity appears twice in access_after: served and unserved shares)
    after = proposed.access_after
    covered = origin_indicators(after, ctx.result.standard, [cat])[columns.cov(cat)].to_numpy()
    uncovered = (
        pd.Series(after["population"].to_numpy(float) * (1.0 - covered))
        .groupby(after["origin_id"].to_numpy())
        .sum()
        .reindex(ctx.result.access["origin_id"].to_numpy(), fill_value=0.0)
    )
    cells = ctx.display(
        _mapdata.aggregate_to_cells(ctx.result.access, uncovered.to_numpy(), graph.crs, CELL_M)
    )
    sites = pd.concat(
        [usable.geometry.to_crs(graph.crs), proposed.sites.geometry], ignore_index=True
    )
    area = ctx.catchment(gpd.GeoDataFrame(geometry=sites, crs=graph.crs), ctx.threshold(cat).metres)
    return [
        dataclasses.replace(
            before,
            primary=True,
            name=text("theme_before", ctx.lang, name=ctx.cat_name(cat), minutes=minutes),
        ),
        Theme(
            text(
                "theme_after",
                ctx.lang,
                name=ctx.cat_name(cat),
                minutes=minutes,
                n=len(proposed.proposals),
            ),
            columns.cov(cat),
            cells,
            ctx.display(gpd.GeoDataFrame(geometry=area)),
            units=_units_with(ctx, proposed.units_after[ctx.levels[-1]]),
        ),
    ]


def _units_with(ctx: MapContext, figures: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The displayed finest units with every coverage figure taken from ``figures``.

    ``figures`` holds the finest units' figures after (or before) the new sites;
    names, ids and outlines stay those of the audit's units.
    """
    units = ctx.display_units()
    table = pd.DataFrame(figures.drop(columns=figures.geometry.name)).set_index("unit_id")
    fixed = {"unit_id", "name", "parent_id", "level", "analysed", units.geometry.name}
    ids = units["unit_id"].to_numpy()
    for col in table.columns:
        if col not in fixed:
            units[col] = table[col].reindex(ids).to_numpy()
    return units


class RadiusScale:
    """Circle radius in pixels, proportional to the square root of the value."""

    def __init__(self, max_value: float) -> None:
        self.max_value = max(float(max_value), 1.0)

    def __call__(self, value: float) -> float:
        return float(self.many(np.array([value], float))[0])

    def many(self, values: np.ndarray) -> np.ndarray:
        """Radii (px, one decimal) of an array of values."""
        radii = MAX_RADIUS_PX * np.sqrt(np.asarray(values, float) / self.max_value)
        return np.round(np.maximum(1.5, radii), 1)

    def reference_values(self) -> list[float]:
        """Three round values spanning the scale, largest first."""
        return sorted({_round_down(self.max_value * f) for f in (1.0, 0.25, 0.04)}, reverse=True)


def _round_down(value: float) -> float:
    """The largest of 1, 2, 5 x 10^k not above ``value`` (at least 1)."""
    if value < 1:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    return float(max(m * power for m in (1, 2, 5) if m * power <= value))


def _unit_tooltip(
    ctx: MapContext, row: pd.Series, column: str, theme_name: str, unmet: str | None = None
) -> str:
    lines = [f"<b>{esc(row['name'])}</b>", f"{esc(theme_name)}: <b>{pct(row[column])}</b>"]
    if unmet is not None and unmet in row.index:
        lines.append(esc(text("tip_unmet", ctx.lang, n=count(row[unmet]))))
    if column == "complete_share" and pd.notna(row["worst_category"]):
        cat = str(row["worst_category"])
        lines.append(
            f"{esc(text('worst_category', ctx.lang))}: {esc(ctx.cat_name(cat))} "
            f"({pct(row[f'cov_{cat}'])})"
        )
    return "<br>".join(lines)


def shown_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The units a theme colours: the analysed ones (their outlines are shared)."""
    return units[units["analysed"].astype(bool)]


def theme_layer(
    ctx: MapContext, theme: Theme, units: gpd.GeoDataFrame, radius: RadiusScale, *, show: bool
) -> dict[str, Any]:
    """One theme as a base layer: coloured units, catchment, uncovered residents.

    The units are drawn with the outlines of ``data.units`` (:func:`shown_units` of
    ``units``, the audit's displayed finest units) and, unless the theme brings its
    own figures (after the proposed sites), their shared popups.
    """
    own = theme.units is not None
    shown = shown_units(theme.units if own else units)
    rows = [row for _, row in shown.iterrows()]
    parts = [
        shapes(
            None,
            pane="lc_units",
            styles=[_UNIT_STYLE],
            highlight=_HIGHLIGHT,
            fill=[share_colour(row[theme.column]) for row in rows],
            tip=[_unit_tooltip(ctx, row, theme.column, theme.name, theme.unmet) for row in rows],
            popup=[unit_popup(ctx, row) for row in rows] if own else None,
        )
    ]
    if theme.catchment is not None:
        area = theme.catchment[~theme.catchment.is_empty]
        if len(area):
            parts.append(
                shapes(
                    geometries(area),
                    pane="lc_catchments",
                    interactive=False,
                    styles=[{"stroke": False, "fillColor": CATCHMENT_COLOUR, "fillOpacity": 0.22}],
                )
            )
    if len(theme.cells):
        weights = theme.cells["weight"].to_numpy(float)
        parts.append(
            {
                "kind": "circles",
                "pane": "lc_uncovered",
                "xy": lonlat(theme.cells),
                "style": {
                    "color": "#ffffff",
                    "weight": 0.6,
                    "fill": True,
                    "fillColor": UNCOVERED_COLOUR,
                    "fillOpacity": 0.6,
                },
                "radius": radius.many(weights).tolist(),
                "tip": [esc(text("uncovered_here", ctx.lang, n=count(w))) for w in weights],
            }
        )
    return layer(esc(theme.name), parts, show=show)
