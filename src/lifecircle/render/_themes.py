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
from ._context import MapContext
from ._features import coded, coded_numbers, geometries, layer, shapes, unit_popups
from ._style import CATCHMENT_COLOUR, UNCOVERED_COLOUR, share_colours
from ._text import count, esc, pct, text

if TYPE_CHECKING:
    from ._proposals import Proposed

logger = logging.getLogger(__name__)

#: Radius of the largest circle (px).
MAX_RADIUS_PX = 13.0
#: Radius of the smallest circle (px).
MIN_RADIUS_PX = 1.5
_UNIT_STYLE = {"color": "#444444", "weight": 1, "fillOpacity": 0.6}
_HIGHLIGHT = {"weight": 3, "color": "#000000"}


@dataclass(frozen=True)
class Theme:
    """One way of colouring the units, with the residents it leaves uncovered."""

    name: str
    column: str
    #: Residents left uncovered in each cell of the map's grid (:attr:`MapContext.cells`).
    cells: np.ndarray
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
    result = ctx.result
    access = result.access
    population = access["population"].to_numpy(float)

    def cells(covered: np.ndarray) -> np.ndarray:
        return ctx.cells.weights(population * (1.0 - covered))

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
    none = np.zeros(len(ctx.cells))
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
    cat = proposed.category
    logger.info("map: theme %s before the proposed sites (not audited)", cat)
    access = proposed.siting.access_before()
    covered = origin_indicators(access, ctx.result.standard, [cat])[columns.cov(cat)]
    uncovered = access["population"].to_numpy(float) * (1.0 - covered.to_numpy(float))
    cells = ctx.cells.weights(uncovered)  # access_before has the audit's origins, in order
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
    cells = ctx.cells.weights(uncovered.to_numpy())
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
        return np.round(np.maximum(MIN_RADIUS_PX, radii), 1)

    def reference_values(self) -> list[float]:
        """Three round values spanning the scale, largest first."""
        return sorted({_round_down(self.max_value * f) for f in (1.0, 0.25, 0.04)}, reverse=True)


def _round_down(value: float) -> float:
    """The largest of 1, 2, 5 x 10^k not above ``value`` (at least 1)."""
    if value < 1:
        return 1.0
    power = 10.0 ** np.floor(np.log10(value))
    return float(max(m * power for m in (1, 2, 5) if m * power <= value))


def unit_tips(
    ctx: MapContext, units: pd.DataFrame, column: str, theme_name: str, unmet: str | None = None
) -> dict[str, Any]:
    """The tooltips of the units under one theme, as columns (built by ``map.js``).

    ``{"lines": [...]}``: the unit's name (``data.units.name``) in bold, then one
    line per entry, each ``{"label", "value"}`` (``label: <b>value</b>``) or
    ``{"value"}`` (plain), with ``value`` a :func:`~lifecircle.render._features.coded`
    column of plain text (``-1``: no such line for that unit).
    """
    lines = [{"label": theme_name, "value": coded_numbers(units[column], pct)}]
    if unmet is not None and unmet in units.columns:
        persons = units[unmet]
        lines.append(
            {"value": coded_numbers(persons, lambda n: text("tip_unmet", ctx.lang, n=count(n)))}
        )
    if column == "complete_share":
        worst = units["worst_category"].to_numpy(dtype=object)
        known = pd.notna(units["worst_category"]).to_numpy(bool)
        word = text("worst_category", ctx.lang)
        share = np.full(len(units), np.nan)
        for cat in pd.unique(worst[known]):
            rows = worst == cat
            share[rows] = units.loc[rows, columns.cov(str(cat))].to_numpy(float)
        names = {cat: ctx.cat_name(str(cat)) for cat in pd.unique(worst[known])}
        labels = [
            f"{word}: {names[w]} ({pct(v)})" if k else ""
            for w, v, k in zip(worst, share, known, strict=True)
        ]
        lines.append({"value": coded(labels, known)})
    return {"lines": lines}


def shown_units(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The units a theme colours: the analysed ones (their outlines are shared)."""
    return units[units["analysed"].astype(bool)]


def theme_layer(
    ctx: MapContext, theme: Theme, units: gpd.GeoDataFrame, radius: RadiusScale, *, show: bool
) -> dict[str, Any]:
    """One theme as a base layer: coloured units, catchment, uncovered residents.

    The units are drawn with the outlines and names of ``data.units`` (:func:`shown_units`
    of ``units``, the audit's displayed finest units) and, unless the theme brings its
    own figures (after the proposed sites), their shared popups. Per unit, the theme
    holds only its fill class and the numbers of its tooltip (:func:`unit_tips`); the
    uncovered residents are one count per cell of ``data.cells`` (``0``: no circle).
    """
    own = theme.units is not None
    shown = shown_units(theme.units if own else units)
    parts = [
        shapes(
            None,
            pane="lc_units",
            styles=[_UNIT_STYLE],
            highlight=_HIGHLIGHT,
            fill=coded(share_colours(shown[theme.column].to_numpy(float))),
            tip=unit_tips(ctx, shown, theme.column, theme.name, theme.unmet),
            popup=unit_popups(ctx, shown) if own else None,
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
    persons = np.rint(np.asarray(theme.cells, float)).astype(np.int64)
    if (persons > 0).any():
        before, after = text("uncovered_here", ctx.lang, n="\0").split("\0")
        parts.append(
            {
                "kind": "cells",
                "pane": "lc_uncovered",
                "style": {
                    "color": "#ffffff",
                    "weight": 0.6,
                    "fill": True,
                    "fillColor": UNCOVERED_COLOUR,
                    "fillOpacity": 0.6,
                },
                "count": persons.tolist(),
                "tip": [before, after],
            }
        )
    return layer(esc(theme.name), parts, show=show)
