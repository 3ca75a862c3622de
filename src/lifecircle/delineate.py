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
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import pandas as pd

from .config import PopulationRange
from .io.units import UnitHierarchy
from .partition import Partition, RangeReason

if TYPE_CHECKING:
    from .pipeline import AuditResult

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
        maximum), ``residents_beyond_level`` (residents of blocks farther from the centre
        than the level's minutes), ``in_range`` (population within the range).
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
        (why the range cannot hold there, in English, empty when it does) and
        ``out_of_range_code`` (the reason's code: ``too_few``, ``no_whole_number``,
        ``block_too_big``, ``no_split``, or ``in_range`` when only the walking limit
        is exceeded).
    partition
        The solver's result: status, objective, bound, gap, seconds, range violation.
    block_source
        ``"street blocks"`` or ``"units:<level>"``.
    parent_level
        The governance level the units nest in (None: free).
    facts
        Plain data for ``delineate.json`` (also :meth:`summary`).
    reasons
        Governance unit id (of :attr:`comparison`) -> the structured reason behind its
        ``out_of_range`` text (:meth:`lifecircle.partition.RangeReason.text` words it
        in English or Chinese).
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
    facts: dict[str, Any] = field(default_factory=dict)
    reasons: dict[str, RangeReason] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """The figures of ``delineate.json``: range, blocks, units in range, walks, solver."""
        return dict(self.facts)

    def to_map(self, path: str | Path, *, lang: str = "en", basemap: str = "osm") -> Path:
        """Write ``delineation.html``: the units on a map, and the comparison report."""
        from .render.delineation import write_delineation_html

        return write_delineation_html(self, Path(path), lang=lang, basemap=basemap)


#: ``blocks="auto"`` builds from the finest governance units when this share of them (by
#: count) hold at most the level's minimum population each -- they are building blocks a
#: unit is made of -- and from street blocks otherwise (e.g. streets of 30,000-150,000
#: residents are not building blocks of 15-minute units of 50,000-100,000).
UNITS_AS_BLOCKS_SHARE = 0.9

#: Default longest walk from a block to its unit's centre, in the level's minutes: a hard
#: limit at exactly the level's minutes leaves no split within the population range on
#: dense street blocks (on the sample not one street at 10 minutes; an LP bound proves it),
#: so units may reach half as far again, and the residents beyond the level's own minutes are
#: counted per unit (``residents_beyond_level``) and in ``delineate.json``.
WALK_LIMIT_LEVELS = 1.5

#: Prefix of the governance level written for the life-circle units.
LEVEL_PREFIX = "lifecircle_"


def delineate(
    result: AuditResult,
    level: str = "15min",
    *,
    across: str | None = None,
    blocks: str = "auto",
    max_walk_min: float | None = None,
    time_limit_s: float = 60.0,
    exact_max_blocks: int = 300,
) -> Delineation:
    """Group building blocks into life-circle units of ``level`` (see the module docstring).

    Parameters
    ----------
    result
        An audit (:func:`lifecircle.audit`): its walk graph, governance units, analysed
        units, residents (its population method) and standard.
    level
        A level of the standard with a ``population`` range, e.g. ``"15min"``.
    across
        A governance level whose boundaries the units may cross (the flexible
        recombination of the grassroots reforms); by default units nest inside one
        unit of the parent level.
    blocks
        ``"units"`` (the finest governance units), ``"streets"`` (street blocks from the
        walk network) or ``"auto"``: the finest units when they are small enough to
        build from (:data:`UNITS_AS_BLOCKS_SHARE` of them at most the range's minimum),
        else street blocks.
    max_walk_min
        Longest walk from a block to its unit's centre (minutes at the standard's
        default walking profile); default: :data:`WALK_LIMIT_LEVELS` times the level's
        minutes.
    time_limit_s
        Solver time limit (the exact MILP up to ``exact_max_blocks`` blocks per parent,
        else the heuristic; both report their gap).
    exact_max_blocks
        Largest number of blocks solved by the exact MILP.

    Returns
    -------
    Delineation
        The units, blocks, governance comparison and the solver's status.
    """
    from ._delineate_build import build_delineation

    return build_delineation(
        result,
        level,
        across=across,
        blocks=blocks,
        max_walk_min=max_walk_min,
        time_limit_s=time_limit_s,
        exact_max_blocks=exact_max_blocks,
    )


def units_file_frame(d: Delineation, hierarchy: UnitHierarchy) -> gpd.GeoDataFrame:
    """The new units as one ``--units`` layer (``unit_id``, ``name``, ``parent_id``, ``level``).

    The governance levels down to the one the units nest in, then the life-circle units;
    when the blocks were governance units (e.g. residents' committees), they follow as
    the finest level, each inside its life-circle unit. ``lifecircle audit --units``
    reads it as it is.
    """
    cols = ["unit_id", "name", "parent_id", "level", "geometry"]
    frames: list[gpd.GeoDataFrame] = []
    if d.parent_level is not None:
        # only the governance units above the new ones: every branch ends in a life circle
        keep = set(d.units["parent_id"].astype(str))
        levels = hierarchy.levels[: hierarchy.levels.index(d.parent_level) + 1]
        for level in reversed(levels):
            table = hierarchy.units[level]
            table = table[table["unit_id"].astype(str).isin(keep)]
            keep = set(table["parent_id"].dropna().astype(str))
            frames.insert(
                0,
                gpd.GeoDataFrame(
                    {
                        "unit_id": table["unit_id"].astype(str).to_numpy(),
                        "name": table["name"].to_numpy(object),
                        "parent_id": table["parent_id"].astype("string").to_numpy(object),
                        "level": level,
                    },
                    geometry=table.geometry.to_numpy(),
                    crs=table.crs,
                ),
            )
    lc = d.units.drop(columns=["in_range"]).assign(
        in_range=d.units["in_range"].astype(int),
        parent_id=d.units["parent_id"].replace("", None),
    )
    frames.append(lc)
    if d.block_source.startswith("units:"):
        finest = d.block_source.split(":", 1)[1]
        table = hierarchy.units[finest].set_index(hierarchy.units[finest]["unit_id"].astype(str))
        ids = d.blocks["block_id"].astype(str).to_numpy()
        frames.append(
            gpd.GeoDataFrame(
                {
                    "unit_id": ids,
                    "name": table["name"].reindex(ids).to_numpy(object),
                    "parent_id": d.blocks["unit_id"].to_numpy(object),
                    "level": finest,
                },
                geometry=table.geometry.reindex(ids).to_numpy(),
                crs="EPSG:4326",
            )
        )
    out = pd.concat([f.to_crs("EPSG:4326") for f in frames], ignore_index=True)
    return gpd.GeoDataFrame(out[cols + [c for c in out.columns if c not in cols]], crs="EPSG:4326")


#: The files ``lifecircle delineate`` writes (the page too unless --no-map).
OUTPUT_FILES = (
    "lifecircle-units.gpkg",
    "lifecircle-blocks.gpkg",
    "delineate-comparison.csv",
    "delineate.json",
)


def delineation_writers(
    d: Delineation,
    hierarchy: UnitHierarchy,
    *,
    page: bool = False,
    lang: str = "en",
    basemap: str = "osm",
) -> dict[str, Any]:
    """Output name -> function writing it to a path (:data:`OUTPUT_FILES`, and the page)."""
    from .io.outputs import write_csv, write_geopackage, write_json

    units = units_file_frame(d, hierarchy)
    pages: dict[str, Any] = {}
    if page:
        pages["delineation.html"] = lambda p: d.to_map(p, lang=lang, basemap=basemap)
    return {
        **pages,
        "lifecircle-units.gpkg": lambda p: write_geopackage(p, {"units": units}),
        "lifecircle-blocks.gpkg": lambda p: write_geopackage(
            p, {"blocks": d.blocks, "governance": d.governance}
        ),
        "delineate-comparison.csv": lambda p: write_csv(p, d.comparison),
        "delineate.json": lambda p: write_json(p, d.summary()),
    }
