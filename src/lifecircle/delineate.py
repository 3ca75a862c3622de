"""Life-circle units: governance units recombined into 5-, 10- and 15-minute life circles.

``lifecircle delineate`` (issue 10) groups building blocks -- the finest governance units
given (residents' committees / villages), or street blocks derived from the walk network
(:mod:`lifecircle.blocks`) -- into life-circle units that are contiguous, hold a
population within the standard's range for the level (``levels[].population`` of the
standard's YAML, with source and ``verified`` flag), nest inside one parent governance
unit unless ``across`` lets them cross it, and are compact in walking time: the
population-weighted walk from each block to its unit's centre (a block's network node,
where the level's service complex would stand) is minimised (:mod:`lifecircle.partition`).

The result is a valid ``--units`` input: ``lifecircle audit --units lifecircle-units.gpkg``
audits on the new units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import pandas as pd

from .config import PopulationRange
from .partition import Partition

#: Relation of a governance unit to the life-circle units drawn over it.
RELATIONS = ("matched", "split", "merged", "split and merged")


@dataclass
class Delineation:
    """Life-circle units of one level, with the blocks they are made of.

    Attributes
    ----------
    level, level_name
        The level id (e.g. ``"15min"``) and its ``(en, zh)`` names.
    population_range
        Residents per unit the standard asks for (min, max, source, verified).
    units
        One row per life-circle unit, EPSG:4326 polygons: ``unit_id``, ``name``,
        ``parent_id`` (the parent governance unit; empty when the unit crosses parents),
        ``level``, ``population``, ``area_km2``, ``blocks`` (count), ``centre_lon``,
        ``centre_lat`` (the centre node), ``mean_walk_min`` and ``max_walk_min`` (walk
        from the residents of each block to the centre, population-weighted mean and
        maximum), ``in_range`` (population within the range).
    blocks
        One row per building block, EPSG:4326: ``block_id``, ``unit_id`` (its life-circle
        unit), ``parent_id`` (its governance unit), ``population``.
    governance
        The parent level's governance units, EPSG:4326: ``unit_id``, ``name``,
        ``population``, ``lifecircle_units`` (how many life-circle units overlap it) and
        ``relation`` (one of :data:`RELATIONS`).
    comparison
        ``governance`` without geometry, plus ``smallest_unit`` and ``largest_unit``
        (residents of its smallest and largest life-circle unit) and ``out_of_range``
        (why the range cannot hold there, empty when it does).
    partition
        The solver's result: status, objective, bound, gap, seconds, range violation.
    block_source
        ``"street blocks"`` or ``"units:<level>"``.
    parent_level
        The governance level the units nest in (None: free).
    summary
        Plain data for ``delineate.json``.
    """

    level: str
    level_name: tuple[str, str]
    population_range: PopulationRange
    units: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    governance: gpd.GeoDataFrame
    comparison: pd.DataFrame
    partition: Partition
    block_source: str
    parent_level: str | None
    summary: dict[str, Any] = field(default_factory=dict)
