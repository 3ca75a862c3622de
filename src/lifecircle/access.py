"""Walking access from origins to facility categories.

The access convention (DESIGN.md): for an origin ``o`` and a category ``c``,

    distance(o, c) = min over facilities f in c of
                     snap(o) + network_distance(node(o), node(f)) + snap(f)

where ``node(p)`` is the network node nearest to ``p`` and ``snap(p)`` the
straight-line distance to it, in metres in the graph's CRS. Polygon facilities
(parks, campuses) are reached at their edge: access points are sampled along the
boundary and each is snapped on its own. Distances beyond the cut-off are NaN.

One compiled Dijkstra pass per category (``scipy.sparse.csgraph.dijkstra``) from
a virtual source joined to every facility node by an edge of length
``snap(f)``, bounded by the cut-off: O(E log V) per category, no dense arrays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import dijkstra
from tqdm.auto import tqdm

from .config import Profile, Standard
from .network import WalkGraph
from .settings import MAX_SNAP_M, POLYGON_ACCESS_SPACING_M

log = logging.getLogger(__name__)

#: Length given to a zero-length edge from the virtual source (a sparse matrix
#: would drop an explicit 0). It is far below any reported precision.
_EPS_M = 1e-9


@dataclass(frozen=True)
class AccessPoints:
    """Points at which facilities are reached, already snapped to the graph.

    ``facility`` is the row position of the facility each point belongs to.
    """

    facility: np.ndarray
    node: np.ndarray
    snap_m: np.ndarray


def access_points(
    facilities: gpd.GeoSeries | gpd.GeoDataFrame,
    *,
    spacing_m: float = POLYGON_ACCESS_SPACING_M,
) -> tuple[np.ndarray, np.ndarray]:
    """Coordinates at which each facility can be reached.

    Points are reached at themselves; polygons along their boundary (vertices
    plus points every ``spacing_m``); lines along their vertices.

    Parameters
    ----------
    facilities
        Geometries in a projected CRS.
    spacing_m
        Maximum spacing of access points along polygon boundaries.

    Returns
    -------
    tuple of numpy.ndarray
        ``(facility_position, xy)``: the row position of the facility of each
        access point and an ``(n, 2)`` coordinate array.
    """
    series = facilities.geometry if isinstance(facilities, gpd.GeoDataFrame) else facilities
    geoms = np.asarray(series.array)
    is_area = shapely.get_dimensions(geoms) == 2
    outline = geoms.copy()
    outline[is_area] = shapely.segmentize(shapely.boundary(geoms[is_area]), spacing_m)
    xy, position = shapely.get_coordinates(outline, return_index=True)
    return position.astype(np.int64), xy


def snap_facilities(
    graph: WalkGraph,
    facilities: gpd.GeoDataFrame,
    *,
    max_snap_m: float = MAX_SNAP_M,
    spacing_m: float = POLYGON_ACCESS_SPACING_M,
) -> AccessPoints:
    """Snap every access point of every facility to its nearest node.

    Access points farther than ``max_snap_m`` from the network are discarded.
    Facilities must be in the graph's CRS.
    """
    position, xy = access_points(facilities, spacing_m=spacing_m)
    node, snap = graph.nearest_nodes(xy[:, 0], xy[:, 1])
    ok = snap <= max_snap_m
    return AccessPoints(facility=position[ok], node=node[ok], snap_m=snap[ok])


def nearest_distance(
    graph: WalkGraph,
    source_nodes: np.ndarray,
    source_offset_m: np.ndarray | None = None,
    *,
    cutoff_m: float = np.inf,
) -> np.ndarray:
    """Network distance from every node to the nearest source, offsets included.

    Parameters
    ----------
    graph
        The walk graph.
    source_nodes
        Node index of each source (repeats allowed).
    source_offset_m
        Distance already walked to reach each source's node (its snap distance);
        default 0.
    cutoff_m
        Search radius: nodes farther than this are NaN.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_nodes,)``, metres, NaN where no source is within ``cutoff_m``.

    Examples
    --------
    >>> from lifecircle.network import grid_graph
    >>> g = grid_graph(1, 3, spacing_m=100.0)
    >>> nearest_distance(g, np.array([0]), np.array([5.0])).tolist()
    [5.0, 105.0, 205.0]
    """
    n = graph.n_nodes
    source_nodes = np.asarray(source_nodes, np.int64)
    offsets = (np.zeros(len(source_nodes)) if source_offset_m is None
               else np.asarray(source_offset_m, float))
    if len(source_nodes) == 0:
        return np.full(n, np.nan)
    # one edge per distinct node, with the smallest offset
    order = np.lexsort((offsets, source_nodes))
    nodes, offsets = source_nodes[order], offsets[order]
    first = np.ones(len(nodes), bool)
    first[1:] = nodes[1:] != nodes[:-1]
    nodes, offsets = nodes[first], np.maximum(offsets[first], _EPS_M)

    adj = graph.adjacency
    indptr = np.concatenate([adj.indptr, [adj.indptr[-1] + len(nodes)]])
    indices = np.concatenate([adj.indices, nodes])
    data = np.concatenate([adj.data, offsets])
    augmented = sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
    dist = dijkstra(augmented, directed=True, indices=n, limit=cutoff_m)[:n]
    dist[dist <= _EPS_M * 1.5] = 0.0
    dist[~np.isfinite(dist)] = np.nan
    return dist


def compute_access(
    graph: WalkGraph,
    origins: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    standard: Standard,
    *,
    profile: Profile | str | None = None,
    categories: list[str] | None = None,
    cutoff_min: float | None = None,
    max_snap_m: float = MAX_SNAP_M,
    spacing_m: float = POLYGON_ACCESS_SPACING_M,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.Series]:
    """Walking distance and time from every origin to every facility category.

    Parameters
    ----------
    graph
        The walk graph.
    origins
        Points with a ``population`` column and an ``origin_id`` column, any CRS.
    facilities
        Geometries with a ``category`` column, any CRS.
    standard
        The standard that defines categories and speeds.
    profile
        Walking profile (object or id); default: the standard's default.
    categories
        Categories to compute (default: every category of the standard).
    cutoff_min
        Search cut-off in minutes (default: the largest threshold of the
        categories). Distances beyond it are NaN.
    max_snap_m
        Facility access points farther than this from the network are not
        used; origins farther than this reach nothing (NaN distances) but keep
        their population, so totals are conserved.
    spacing_m
        Spacing of access points along polygon facility edges.
    progress
        Show a progress bar over categories.

    Returns
    -------
    access : pandas.DataFrame
        One row per origin (index aligned with ``origins``): the origin
        columns, ``snap_m``, ``node`` and per category ``dist_<cat>_m`` and
        ``time_<cat>_min``.
    facility_snap_m : pandas.Series
        Per facility (index aligned with ``facilities``), the smallest snap
        distance of its access points; NaN where it could not be reached.
    """
    prof = profile if isinstance(profile, Profile) else standard.profile(profile)
    cats = list(categories) if categories is not None else standard.category_ids
    if cutoff_min is None:
        cutoff_min = max(standard.category(c).threshold_min for c in cats) if cats else 0.0
    cutoff_m = cutoff_min * prof.speed_m_min
    log.info("walking at %.2f m/s (%s): %.0f min = %.0f m search cut-off",
             prof.speed_m_s, prof.id, cutoff_min, cutoff_m)

    pts = origins.to_crs(graph.crs) if origins.crs != graph.crs else origins
    node, snap = graph.nearest_nodes(pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy())
    too_far = snap > max_snap_m
    table = pd.DataFrame(origins.drop(columns=origins.geometry.name)).copy()
    table["snap_m"] = snap
    table["node"] = node
    origin_node, origin_snap = node, snap

    fac = facilities.to_crs(graph.crs) if facilities.crs != graph.crs else facilities
    fac = fac.reset_index(drop=True)
    points = snap_facilities(graph, fac, max_snap_m=max_snap_m, spacing_m=spacing_m)
    fac_snap = np.full(len(fac), np.nan)
    np.fmin.at(fac_snap, points.facility, points.snap_m)
    category_of_point = fac["category"].to_numpy()[points.facility]

    columns: dict[str, np.ndarray] = {}
    for cat in tqdm(cats, desc="access", unit="category", disable=not progress):
        sel = category_of_point == cat
        node_dist = nearest_distance(graph, points.node[sel], points.snap_m[sel],
                                     cutoff_m=cutoff_m)
        dist = node_dist[origin_node] + origin_snap
        dist[(dist > cutoff_m) | too_far] = np.nan
        columns[f"dist_{cat}_m"] = dist
        columns[f"time_{cat}_min"] = dist / prof.speed_m_min
    table = pd.concat([table, pd.DataFrame(columns, index=table.index)], axis=1)
    return table, pd.Series(fac_snap, index=facilities.index, name="snap_m")


def distances_within(
    graph: WalkGraph,
    source_nodes: np.ndarray,
    source_offset_m: np.ndarray,
    source_group: np.ndarray,
    target_nodes: np.ndarray,
    target_offset_m: np.ndarray,
    *,
    radius_m: float,
    chunk_size: int = 64,
) -> sp.csr_matrix:
    """Sparse target x group matrix of walking distances no longer than ``radius_m``.

    Same access convention as :func:`compute_access`: ``target_offset +
    network_distance + source_offset``. A group (e.g. a candidate site) may have
    several sources (access points along a parcel's edge); its distance is the
    minimum over them. Dijkstra runs from a bounded chunk of sources at a time,
    so no dense sources x nodes array is ever built beyond ``chunk_size`` rows.

    Parameters
    ----------
    graph
        The walk graph.
    source_nodes, source_offset_m, source_group
        Per source: node, snap distance, and the group (column) it belongs to.
    target_nodes, target_offset_m
        Per target (row): node and snap distance.
    radius_m
        Largest distance kept.
    chunk_size
        Sources searched per Dijkstra call.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(n_targets, n_groups)``; stored entries are distances in metres
        (an entry of exactly 0 is stored as 1e-9 so it is not lost).
    """
    source_nodes = np.asarray(source_nodes, np.int64)
    source_offset_m = np.asarray(source_offset_m, float)
    source_group = np.asarray(source_group, np.int64)
    target_nodes = np.asarray(target_nodes, np.int64)
    target_offset_m = np.asarray(target_offset_m, float)
    n_groups = int(source_group.max()) + 1 if len(source_group) else 0
    rows, cols, vals = [], [], []
    # targets sharing a node are searched once
    uniq_nodes, target_slot = np.unique(target_nodes, return_inverse=True)
    for start in range(0, len(source_nodes), chunk_size):
        stop = min(start + chunk_size, len(source_nodes))
        limit = radius_m - source_offset_m[start:stop].min()
        if limit < 0:
            continue
        block = dijkstra(graph.adjacency, directed=False,
                         indices=source_nodes[start:stop], limit=limit)[:, uniq_nodes]
        dist = block[:, target_slot] + target_offset_m[None, :]
        dist += source_offset_m[start:stop, None]
        src, tgt = np.nonzero(dist <= radius_m)
        rows.append(tgt)
        cols.append(source_group[start:stop][src])
        vals.append(np.maximum(dist[src, tgt], _EPS_M))
    if not rows:
        return sp.csr_matrix((len(target_nodes), n_groups))
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    # keep the minimum per (target, group): sort by value, keep the first of each pair
    order = np.lexsort((v, c, r))
    r, c, v = r[order], c[order], v[order]
    first = np.ones(len(r), bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return sp.csr_matrix((v[first], (r[first], c[first])), shape=(len(target_nodes), n_groups))
