"""Colours shared by the map and the report, so both read the same way."""

from __future__ import annotations

import numpy as np

#: Class breaks of a coverage share (0-1) and their colours (ColorBrewer RdYlGn, 6 classes):
#: red where few residents are covered, green where nearly all are.
SHARE_BREAKS = (0.0, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0)
SHARE_COLOURS = ("#d73027", "#fc8d59", "#fee08b", "#d9ef8b", "#91cf60", "#1a9850")
#: Fill of units without a value (not analysed).
MISSING_COLOUR = "#bdbdbd"
#: Residents not covered (proportional circles) and walking catchments.
UNCOVERED_COLOUR = "#08306b"
CATCHMENT_COLOUR = "#2166ac"
#: Outline of a coarser unit only partly analysed (not all its finest units).
PARTLY_COLOUR = "#b35806"
#: Proposed new sites (lifecircle optimize): markers and their catchment outlines.
SITE_COLOUR = "#3f007d"

#: Qualitative palette for facility categories (ColorBrewer Set1 + Dark2), in the
#: standard's category order; wide enough for every bundled standard.
CATEGORY_PALETTE = (
    "#e41a1c",
    "#377eb8",
    "#4daf4a",
    "#984ea3",
    "#ff7f00",
    "#a65628",
    "#f781bf",
    "#1b9e77",
    "#666666",
    "#e6ab02",
    "#7570b3",
    "#66a61e",
    "#d95f02",
    "#e7298a",
)


def share_colour(value: float | None) -> str:
    """Fill colour of a coverage share (0-1)."""
    if value is None or not np.isfinite(value):
        return MISSING_COLOUR
    index = int(np.searchsorted(SHARE_BREAKS[1:-1], value, side="right"))
    return SHARE_COLOURS[index]


def share_colours(values: np.ndarray) -> list[str]:
    """Fill colours of an array of coverage shares (:func:`share_colour` of each)."""
    values = np.asarray(values, float)
    index = np.searchsorted(SHARE_BREAKS[1:-1], values, side="right")
    palette = np.asarray([*SHARE_COLOURS, MISSING_COLOUR], dtype=object)
    index[~np.isfinite(values)] = len(SHARE_COLOURS)
    return list(palette[index])


def share_classes() -> list[tuple[str, str]]:
    """``(colour, "a–b%")`` for each class of :data:`SHARE_BREAKS`, lowest first."""
    bounds = [round(100 * b) for b in SHARE_BREAKS]
    return [
        (colour, f"{lo}–{hi}%")
        for colour, lo, hi in zip(SHARE_COLOURS, bounds[:-1], bounds[1:], strict=True)
    ]


def category_colours(category_ids: list[str]) -> dict[str, str]:
    """A distinct colour per category, cycling through :data:`CATEGORY_PALETTE`."""
    return {cat: CATEGORY_PALETTE[i % len(CATEGORY_PALETTE)] for i, cat in enumerate(category_ids)}
