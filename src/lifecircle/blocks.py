"""Building blocks of life-circle units: street blocks or the finest governance units.

A life-circle unit (issue 10, :mod:`lifecircle.delineate`) is a group of *blocks*.
This module derives the blocks and the plain arrays the partition solvers work on:

- :func:`street_blocks`: street blocks (街坊), the faces enclosed by the walk
  network's edges and the study boundary, with slivers merged;
- :func:`blocks_from_units`: the finest governance units given (residents'
  committees / villages), used as they are;
- :func:`block_population`: residents per block (areal weighting of population
  polygons, or sums of origin points such as the audit's dasymetric origins or
  raster cells), with the total checked;
- :func:`block_parents`: the parent governance unit of each block;
- :func:`block_adjacency`: which blocks share a boundary of positive length;
- :func:`block_centres_and_walks`: each block's centre node and the sparse
  block x block walking distances within a radius.

Every block table is a GeoDataFrame in a projected metric CRS with ``block_id``
(str), ``area_m2`` and the polygon; row ``i`` of every array returned here is
block ``i`` (position, not index label).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely

from ._street_blocks import (  # re-exported: street_blocks is part of this module's API
    MIN_BLOCK_AREA_M2 as MIN_BLOCK_AREA_M2,
)
from ._street_blocks import MIN_BLOCK_WIDTH_M as MIN_BLOCK_WIDTH_M
from ._street_blocks import _shared_lengths
from ._street_blocks import street_blocks as street_blocks
from .errors import CRSError, DataError, InputFormatError

if TYPE_CHECKING:
    from .io.population import Origins
    from .network import WalkGraph

#: Two blocks are adjacent when they share at least this length of boundary (m):
#: a street between them, not a corner point.
MIN_SHARED_M = 1.0

#: Gap (m) bridged between neighbouring polygons digitised without a common border
#: (governance units); far below any street width.
ADJACENCY_TOLERANCE_M = 0.1


def _metric(gdf: gpd.GeoDataFrame, crs: object, what: str) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        msg = (
            f"{what}: the polygons have no coordinate reference system; set one "
            "(e.g. gdf.set_crs('EPSG:4326')) before deriving blocks"
        )
        raise CRSError(msg)
    if crs is not None:
        return gdf.to_crs(crs)
    if gdf.crs.is_geographic:
        return gdf.to_crs(gdf.estimate_utm_crs())
    return gdf


def blocks_from_units(units_gdf: gpd.GeoDataFrame, *, crs: object = None) -> gpd.GeoDataFrame:
    """Blocks from the finest governance units given (residents' committees, villages).

    The units are used as they are: no sliver merging, no clipping.

    Parameters
    ----------
    units_gdf
        Polygons with a ``unit_id`` column (e.g. the finest level of a
        :class:`~lifecircle.io.units.UnitHierarchy`), any CRS.
    crs
        Metric CRS of the result (default: the graph's should be passed; else the
        units' own projected CRS, or their UTM zone when geographic).

    Returns
    -------
    geopandas.GeoDataFrame
        ``block_id`` (the ``unit_id``, as text), ``area_m2``, ``name`` when
        given, and the polygons, in the metric CRS; row order as given.

    Raises
    ------
    InputFormatError
        No ``unit_id`` column, duplicate ids, or units without a polygon.
    CRSError
        The units have no CRS.
    """
    if "unit_id" not in units_gdf.columns:
        msg = (
            "governance units: no 'unit_id' column; the finest units used as blocks "
            "need an id per unit (read them with lifecircle.io.units.read_units)"
        )
        raise InputFormatError(msg)
    ids = units_gdf["unit_id"].astype("string")
    dup = ids[ids.duplicated(keep=False)].dropna().unique()
    if ids.isna().any() or len(dup):
        shown = ", ".join(repr(str(v)) for v in list(dup)[:5])
        msg = (
            "governance units: 'unit_id' must be unique and present in every row to use "
            f"the units as blocks; duplicated: {shown or 'none'}, missing: "
            f"{int(ids.isna().sum())}. Give each unit its own id"
        )
        raise InputFormatError(msg)
    gdf = _metric(units_gdf, crs, "governance units")
    geoms = shapely.make_valid(gdf.geometry.to_numpy())
    bad = shapely.is_empty(geoms) | (shapely.area(geoms) <= 0)
    if bad.any():
        shown = ", ".join(repr(str(v)) for v in ids[bad].head(5))
        msg = (
            f"governance units: {int(bad.sum())} units have no polygon with an area "
            f"(e.g. {shown}); blocks must be polygons, give each unit its polygon"
        )
        raise InputFormatError(msg)
    cols: dict[str, Any] = {"block_id": ids.astype(str).to_numpy(), "area_m2": shapely.area(geoms)}
    if "name" in gdf.columns:
        cols["name"] = gdf["name"].to_numpy()
    return gpd.GeoDataFrame(cols, geometry=geoms, crs=gdf.crs)


@dataclass(frozen=True)
class BlockPopulation:
    """Residents per block and where the rest of the population layer went.

    Attributes
    ----------
    population
        Residents per block (row ``i``: block ``i``).
    report
        ``method``, ``population_input`` (the layer's total), ``population_in_blocks``,
        ``population_outside_blocks`` (the layer's part outside every block) and
        ``items_outside_blocks`` (polygons or points with residents outside).
    """

    population: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)


#: Relative tolerance of the population check.
_POP_RTOL = 1e-6


def block_population(
    blocks: gpd.GeoDataFrame,
    population_layer: gpd.GeoDataFrame | Origins | str | Path,
    *,
    graph: WalkGraph | None = None,
) -> BlockPopulation:
    """Residents per block, with the total conserved.

    Polygons (census figures per street/town or residents' committee) are
    allocated by areal weighting: each polygon's residents in proportion to the
    share of its area inside each block. Points (the audit's dasymetric origins
    from :func:`lifecircle.io.population.origins_from_polygons`, or raster cells
    from :func:`~lifecircle.io.population.origins_from_raster`) count in the block
    that contains them (on a shared border: the lowest block). The part of the
    layer outside every block is not allocated and is reported.

    Parameters
    ----------
    blocks
        From :func:`street_blocks` or :func:`blocks_from_units`.
    population_layer
        A GeoDataFrame of polygons or points with a ``population`` column, an
        :class:`~lifecircle.io.population.Origins`, or a file: population polygons
        (read with :func:`~lifecircle.io.population.read_population`) or a raster
        (read with :func:`~lifecircle.io.population.origins_from_raster`, which
        needs ``graph`` for the window to read; cells count at their centres).
    graph
        The walk graph, for a raster file only.

    Returns
    -------
    BlockPopulation
        Residents per block and the report.

    Raises
    ------
    InputFormatError
        No ``population`` column, or negative / non-finite values.
    DataError
        The blocks overlap (residents counted twice), so the total is not conserved.
    """
    layer, method = _population_layer(population_layer, graph)
    if "population" not in layer.columns:
        msg = (
            "population layer: no 'population' column; give polygons or points with the "
            "number of residents in a 'population' column"
        )
        raise InputFormatError(msg)
    values = pd.to_numeric(layer["population"], errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(values) & (values >= 0)):
        msg = (
            "population layer: 'population' must be a finite, non-negative number in every "
            "row (0 where nobody lives); fix or remove the other rows"
        )
        raise InputFormatError(msg)
    layer = _metric(layer, blocks.crs, "population layer")
    geoms = layer.geometry.to_numpy()
    block_geoms = blocks.geometry.to_numpy()
    n = len(block_geoms)
    total = float(values.sum())
    points = bool(len(geoms)) and bool(np.all(shapely.get_type_id(geoms) == 0))
    if points:
        method = method or "points in blocks"
        tree = shapely.STRtree(block_geoms)
        item, blk = tree.query(geoms, predicate="intersects")
        order = np.lexsort((blk, item))
        item, blk = item[order], blk[order]
        first = np.ones(len(item), bool)
        first[1:] = item[1:] != item[:-1]
        item, blk = item[first], blk[first]
        share = np.ones(len(item))
        base = values
    else:
        method = method or "areal weighting of population polygons"
        geoms = shapely.make_valid(geoms)
        tree = shapely.STRtree(block_geoms)
        item, blk = tree.query(geoms, predicate="intersects")
        poly_area = shapely.area(geoms)
        inter = shapely.area(shapely.intersection(geoms[item], block_geoms[blk]))
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(poly_area[item] > 0, inter / poly_area[item], 0.0)
        base = values
    pop = np.bincount(blk, weights=base[item] * share, minlength=n)
    placed = np.bincount(item, weights=share, minlength=len(values))
    inside_share = np.minimum(placed, 1.0)
    outside = values * (1.0 - inside_share)
    in_blocks = float(pop.sum())
    if abs(in_blocks + float(outside.sum()) - total) > _POP_RTOL * max(total, 1.0):
        msg = (
            f"blocks: population is not conserved ({total:.1f} residents in the layer, "
            f"{in_blocks:.1f} in blocks and {float(outside.sum()):.1f} outside them): the "
            "blocks overlap, so some residents would be counted twice. Blocks must not "
            "overlap; repair the block polygons (e.g. the governance units given) first"
        )
        raise DataError(msg)
    out_items = int(np.count_nonzero(outside > _POP_RTOL * max(total, 1.0) / max(len(values), 1)))
    report = {
        "method": method,
        "population_input": total,
        "population_in_blocks": in_blocks,
        "population_outside_blocks": float(outside.sum()),
        "items_outside_blocks": out_items,
    }
    return BlockPopulation(pop, report)


def _population_layer(
    layer: gpd.GeoDataFrame | Origins | str | Path, graph: WalkGraph | None
) -> tuple[gpd.GeoDataFrame, str | None]:
    from .io.population import Origins, is_raster, origins_from_raster, read_population

    if isinstance(layer, Origins):
        return layer.points, f"points in blocks ({layer.method})"
    if isinstance(layer, gpd.GeoDataFrame):
        return layer, None
    if isinstance(layer, str | Path):
        if is_raster(layer):
            if graph is None:
                msg = (
                    f"{layer}: a population raster is read over the walk graph's extent; "
                    "pass graph= to block_population"
                )
                raise InputFormatError(msg)
            origins = origins_from_raster(graph, layer)
            return origins.points, "raster cells in blocks (at cell centres)"
        return read_population(layer), None
    msg = (
        "population layer: expected a GeoDataFrame, lifecircle Origins or a file path, "
        f"got {type(layer).__name__}"
    )
    raise InputFormatError(msg)


def block_parents(blocks: gpd.GeoDataFrame, units_gdf: gpd.GeoDataFrame) -> pd.DataFrame:
    """The parent governance unit of each block: the unit holding most of its area.

    Parameters
    ----------
    blocks
        The blocks (metric CRS).
    units_gdf
        Parent units (e.g. streets/towns) with ``unit_id``, any CRS.

    Returns
    -------
    pandas.DataFrame
        Row ``i`` for block ``i`` (the blocks' index): ``parent_id`` (text; NA for a
        block outside every unit) and ``parent_share`` (share of the block's area
        in that unit, 0 when none). Ties go to the lowest ``unit_id`` (as text).

    Raises
    ------
    InputFormatError
        No ``unit_id`` column.
    """
    if "unit_id" not in units_gdf.columns:
        msg = "parent units: no 'unit_id' column; give each parent unit an id"
        raise InputFormatError(msg)
    units = _metric(units_gdf, blocks.crs, "parent units")
    ids = units["unit_id"].astype("string").to_numpy(dtype=object, na_value=None)
    ugeoms = shapely.make_valid(units.geometry.to_numpy())
    bgeoms = blocks.geometry.to_numpy()
    blk, unit = shapely.STRtree(ugeoms).query(bgeoms, predicate="intersects")
    inter = shapely.area(shapely.intersection(bgeoms[blk], ugeoms[unit]))
    keep = inter > 0
    blk, unit, inter = blk[keep], unit[keep], inter[keep]
    # rank of each unit id as text, so ties go to the lowest id
    id_text = np.array(["" if v is None else str(v) for v in ids], dtype=object)
    rank = np.argsort(np.argsort(id_text, kind="stable"), kind="stable")
    # exact ties compare equal only up to rounding: round the area to 1e-6 m2
    order = np.lexsort((rank[unit], -np.round(inter, 6), blk))
    blk, unit, inter = blk[order], unit[order], inter[order]
    first = np.ones(len(blk), bool)
    first[1:] = blk[1:] != blk[:-1]
    parent = pd.array([pd.NA] * len(bgeoms), dtype="string")
    share = np.zeros(len(bgeoms))
    area = shapely.area(bgeoms)
    parent[blk[first]] = id_text[unit[first]].astype(str)
    share[blk[first]] = inter[first] / np.maximum(area[blk[first]], 1e-12)
    return pd.DataFrame({"parent_id": parent, "parent_share": share}, index=blocks.index)


def block_adjacency(
    blocks: gpd.GeoDataFrame,
    *,
    min_shared_m: float = MIN_SHARED_M,
    tolerance_m: float = ADJACENCY_TOLERANCE_M,
) -> sp.csr_matrix:
    """Which blocks share a boundary of positive length (a street between them).

    A shared corner point does not make two blocks adjacent. Candidate pairs
    come from a spatial index; the shared length of a pair is the length of their
    common boundary or, if longer, the length of block ``i``'s boundary within
    ``tolerance_m`` of block ``j`` less ``2 * tolerance_m`` (so governance units
    digitised with hairline gaps between them are still neighbours).

    Parameters
    ----------
    blocks
        The blocks (metric CRS).
    min_shared_m
        Smallest shared length (default 1 m).
    tolerance_m
        Largest gap bridged between neighbours (default 0.1 m).

    Returns
    -------
    scipy.sparse.csr_matrix
        Symmetric ``n x n`` matrix, the stored value of an adjacent pair is its
        shared boundary length in metres; no diagonal.
    """
    geoms = blocks.geometry.to_numpy()
    n = len(geoms)
    i, j, shared = _shared_lengths(geoms, tolerance_m)
    keep = shared >= min_shared_m
    i, j, shared = i[keep], j[keep], shared[keep]
    m = sp.csr_matrix(
        (np.concatenate([shared, shared]), (np.concatenate([i, j]), np.concatenate([j, i]))),
        shape=(n, n),
    )
    m.sort_indices()
    return m


def block_centres_and_walks(
    graph: WalkGraph, blocks: gpd.GeoDataFrame, *, radius_m: float
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Each block's centre node and the walking distances between them.

    The centre node of a block is the network node nearest its representative
    point (:func:`shapely.point_on_surface`, always inside the block), under
    :mod:`lifecircle.snap`'s node rule. The walk from block ``i`` to block ``j``
    is the network distance from ``i``'s node to ``j``'s node (no snap length
    added: both are the unit's service complex and residents' entry points).

    Parameters
    ----------
    graph
        The walk graph (same CRS as the blocks).
    blocks
        The blocks.
    radius_m
        Largest walk kept.

    Returns
    -------
    tuple
        ``(centre_node, walk)``: node index per block, and the symmetric sparse
        ``n x n`` matrix of walks in metres within ``radius_m`` (a walk of 0, e.g.
        the diagonal or two blocks with one node, is stored as 1e-9; a pair
        beyond the radius or not connected has no entry).

    Raises
    ------
    CRSError
        The blocks are not in the graph's CRS.
    """
    from ._site_distances import group_distances
    from .snap import snap_points

    if blocks.crs is not None and not graph.crs.equals(blocks.crs):
        msg = (
            f"blocks are in {blocks.crs.to_string()} but the walk graph in "
            f"{graph.crs.to_string()}; reproject the blocks with blocks.to_crs(graph.crs)"
        )
        raise CRSError(msg)
    rep = shapely.point_on_surface(blocks.geometry.to_numpy())
    snapped = snap_points(
        graph, shapely.get_x(rep), shapely.get_y(rep), rule="node", max_snap_m=np.inf
    )
    node = snapped.node_u.astype(np.int64)
    n = len(node)
    if n == 0:
        return node, sp.csr_matrix((0, 0))
    from .snap import Snapped

    at = Snapped.at_nodes(graph, node, np.zeros(n), np.inf)
    walk = group_distances(graph, at, np.arange(n), at, radius_m=float(radius_m), n_groups=n)
    return node, walk
