"""Walking access from origins to facility categories.

The access convention (DESIGN.md): for an origin ``o`` and a category ``c``,

    distance(o, c) = min over access points a of the facilities of c of
                     snap(o) + network_distance(p(o), p(a)) + snap(a)

where ``p(x)`` is the point where ``x`` enters the network and ``snap(x)`` the
straight-line distance to it, in metres in the graph's CRS. How points enter the
network is the one snap rule of :mod:`lifecircle.snap`, used by every stage:

* ``snap="edge"`` (default): ``p(x)`` is the nearest point of the nearest edge
  ``(u, v)``; ``x`` reaches ``u`` in ``snap(x) + along(x)`` and ``v`` in
  ``snap(x) + length - along(x)``, and two points on the same edge reach each
  other directly, ``snap(o) + |along(o) - along(a)| + snap(a)``.
* ``snap="node"``: ``p(x)`` is the nearest node (the first version's rule).

Polygon facilities (parks, campuses) are reached at their edge: access points are
sampled along the boundary and each is snapped on its own. Points farther than
``max_snap_m`` from the network are not used (facilities) or reach nothing
(origins). Distances beyond the cut-off are NaN.

One compiled Dijkstra pass per category (``scipy.sparse.csgraph.dijkstra``) from
a virtual source joined to every entry node of the facility access points by an
edge of the entry's offset, bounded by the cut-off: O(E log V) per category, no
dense arrays. An origin then takes the best of its (one or two) entry nodes plus
its offset, and of the access points on its own edge. On OSM graphs, where most
nodes only continue a street (degree 2), the pass runs on the graph with those
chains contracted (:attr:`WalkGraph.chains`) and the chain interiors are filled in
afterwards; the result is the same. The Dijkstra passes (full graph and contracted)
live in ``_source_distance.py``.

The optimizer's sparse distance matrices between residents and candidate sites
(:func:`distances_within`, :func:`site_distances`) live in ``_site_distances.py``
and are re-exported here.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from ._site_distances import _EPS_M
from ._site_distances import distances_within as distances_within
from ._site_distances import group_distances as group_distances
from ._site_distances import site_distances as site_distances
from ._source_distance import _contracted_distance, _distinct_sources
from ._source_distance import _nearest_distance_full as _nearest_distance_full
from .config import Profile, Standard
from .errors import DataError
from .network import WalkGraph
from .settings import MAX_SNAP_M, POLYGON_ACCESS_SPACING_M
from .snap import (
    DEFAULT_SNAP,
    Snapped,
    check_rule,
    distance_from_nodes,
    same_edge_pairs,
    snap_points,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AccessPoints:
    """Points at which facilities are reached, snapped to the graph (reachable ones only).

    ``facility`` is the row position of the facility each point belongs to;
    ``snapped`` says where each point enters the network (:class:`~lifecircle.snap.Snapped`).
    """

    facility: np.ndarray
    snapped: Snapped

    @property
    def node(self) -> np.ndarray:
        """The nearest node (node rule) or the nearer end of the entry edge (edge rule)."""
        return self.snapped.node

    @property
    def snap_m(self) -> np.ndarray:
        """Straight-line distance of each point to where it enters the network."""
        return self.snapped.snap_m

    def __len__(self) -> int:
        return len(self.facility)

    def take(self, index: np.ndarray) -> AccessPoints:
        """The access points selected by ``index`` (positions or a boolean mask)."""
        return AccessPoints(facility=self.facility[index], snapped=self.snapped.take(index))


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
    facilities: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    rule: str = DEFAULT_SNAP,
    max_snap_m: float = MAX_SNAP_M,
    spacing_m: float = POLYGON_ACCESS_SPACING_M,
) -> AccessPoints:
    """Snap every access point of every facility with the snap rule.

    Parameters
    ----------
    graph
        The walk graph.
    facilities
        Geometries in the graph's CRS (points, polygons reached at their edge, lines).
    rule
        ``"edge"`` (nearest point of the nearest edge, default) or ``"node"``.
    max_snap_m
        Access points farther than this from the network are discarded.
    spacing_m
        Spacing of access points along polygon boundaries.

    Returns
    -------
    AccessPoints
        The reachable access points, with the facility of each.
    """
    position, xy = access_points(facilities, spacing_m=spacing_m)
    snapped = snap_points(graph, xy[:, 0], xy[:, 1], rule=rule, max_snap_m=max_snap_m)
    ok = snapped.reachable
    return AccessPoints(facility=position[ok], snapped=snapped.take(ok))


def access_distance(
    graph: WalkGraph,
    targets: Snapped,
    sources: Snapped,
    *,
    cutoff_m: float = np.inf,
) -> np.ndarray:
    """Walking distance from every target point to the nearest source point.

    The access convention with the snap of both sides: the best over the
    target's entries of (network distance from the sources' entries + offset),
    and, under the edge rule, of the direct walk along a shared edge. One
    Dijkstra pass (:func:`nearest_distance`).

    Parameters
    ----------
    graph
        The walk graph.
    targets
        E.g. the residents, snapped.
    sources
        E.g. the access points of one category's facilities, snapped (unreachable
        ones are ignored).
    cutoff_m
        Distances beyond this are NaN.

    Returns
    -------
    numpy.ndarray
        Per target, metres; NaN beyond ``cutoff_m``, for unreachable targets and
        when there is no source.
    """
    _, nodes, offsets = sources.entries()
    node_dist = nearest_distance(graph, nodes, offsets, cutoff_m=cutoff_m)
    dist = distance_from_nodes(node_dist, targets)
    ti, _, direct = same_edge_pairs(targets, sources)
    if len(ti):
        np.fmin.at(dist, ti, direct)
    with np.errstate(invalid="ignore"):
        dist[~(dist <= cutoff_m) | ~targets.reachable] = np.nan
    return dist


def node_distances_from(
    graph: WalkGraph,
    facilities: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    rule: str = DEFAULT_SNAP,
    max_snap_m: float = MAX_SNAP_M,
    cutoff_m: float = np.inf,
    spacing_m: float = POLYGON_ACCESS_SPACING_M,
) -> np.ndarray:
    """Walking distance from every network node to the nearest of ``facilities``.

    For maps (catchments): the same snap rule and ``max_snap_m`` as the audit.
    A node's distance is the one of a resident standing on it (snap 0).

    Parameters
    ----------
    graph
        The walk graph.
    facilities
        Facility geometries, any CRS.
    rule, max_snap_m, spacing_m
        The audit's snap rule, snap limit and polygon access-point spacing.
    cutoff_m
        Nodes farther than this are NaN.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_nodes,)``, metres, NaN beyond ``cutoff_m`` or when no facility
        is within reach of the network.
    """
    if len(facilities) == 0:
        return np.full(graph.n_nodes, np.nan)
    fac = facilities.to_crs(graph.crs) if facilities.crs != graph.crs else facilities
    points = snap_facilities(
        graph, fac, rule=check_rule(rule), max_snap_m=max_snap_m, spacing_m=spacing_m
    )
    _, nodes, offsets = points.snapped.entries()
    return nearest_distance(graph, nodes, offsets, cutoff_m=cutoff_m)


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

    Notes
    -----
    When :attr:`WalkGraph.chains` is available, Dijkstra runs on the key nodes
    only. A source inside a chain ``u .. v`` at position ``a_s`` (chain length
    ``L``) reaches ``u`` in ``offset + a_s`` and ``v`` in ``offset + L - a_s``.
    An interior node ``i`` then gets the smallest of ``d(u) + a_i``,
    ``d(v) + L - a_i`` and, for each source ``s`` on its own chain,
    ``offset_s + |a_i - a_s|``. This equals the full-graph Dijkstra
    (``_nearest_distance_full``) up to float rounding of the summation order.
    """
    chains = graph.chains
    if chains is None:
        return _nearest_distance_full(graph, source_nodes, source_offset_m, cutoff_m=cutoff_m)
    nodes, offsets = _distinct_sources(source_nodes, source_offset_m)
    if len(nodes) == 0:
        return np.full(graph.n_nodes, np.nan)
    dist = _contracted_distance(chains, nodes, offsets, cutoff_m)
    # NaN beyond the cut-off (and where not reached: inf), exactly 0 for zero offsets
    limit = np.finfo(float).max if cutoff_m == np.inf else cutoff_m
    np.copyto(dist, np.nan, where=~(dist <= limit))
    np.copyto(dist, 0.0, where=dist <= _EPS_M * 1.5)
    return dist


@dataclass(frozen=True)
class AuditSnaps:
    """Where the origins and the facilities' access points enter the walk network.

    Made once per audit by :func:`snap_audit_inputs` and shared by every stage that
    measures walks (access, supply-demand, closures), so all follow one snap rule.
    ``points.facility`` is the row position in the facility table (reset index).
    """

    origins: Snapped
    points: AccessPoints
    facility_category: np.ndarray
    facility_snap_m: np.ndarray
    #: Per travel mode other than walking: its network and the same inputs snapped to it.
    modes: Mapping[str, tuple[WalkGraph, AuditSnaps]] = field(default_factory=dict)

    def category_points(self, category: str) -> AccessPoints:
        """The access points of one category's facilities."""
        return self.points.take(self.facility_category[self.points.facility] == category)


def snap_audit_inputs(
    graph: WalkGraph,
    origins: gpd.GeoDataFrame,
    facilities: gpd.GeoDataFrame,
    *,
    snap: str = DEFAULT_SNAP,
    max_snap_m: float = MAX_SNAP_M,
    spacing_m: float = POLYGON_ACCESS_SPACING_M,
    mode_graphs: Mapping[str, WalkGraph] | None = None,
) -> AuditSnaps:
    """Snap the origins and the facilities' access points under one rule (see :mod:`.snap`).

    ``mode_graphs`` (travel mode -> its network, e.g. ``{"bicycle": bike_graph}``):
    the same inputs are also snapped to each, for :func:`compute_access` to measure
    the modes a standard's levels count.
    """
    check_rule(snap)
    modes = {
        mode: (
            mode_graph,
            snap_audit_inputs(
                mode_graph,
                origins,
                facilities,
                snap=snap,
                max_snap_m=max_snap_m,
                spacing_m=spacing_m,
            ),
        )
        for mode, mode_graph in (mode_graphs or {}).items()
    }
    pts = origins.to_crs(graph.crs) if origins.crs != graph.crs else origins
    here = _snap_in_chunks(
        graph, pts.geometry.x.to_numpy(), pts.geometry.y.to_numpy(), snap, max_snap_m
    )
    fac = facilities.to_crs(graph.crs) if facilities.crs != graph.crs else facilities
    fac = fac.reset_index(drop=True)
    points = snap_facilities(graph, fac, rule=snap, max_snap_m=max_snap_m, spacing_m=spacing_m)
    fac_snap = np.full(len(fac), np.nan)
    np.fmin.at(fac_snap, points.facility, points.snap_m)
    return AuditSnaps(
        origins=here,
        points=points,
        facility_category=fac["category"].to_numpy(),
        facility_snap_m=fac_snap,
        modes=modes,
    )


#: Points snapped at a time: each point's snap is its own (the same in any batch), and
#: the nearest-edge search holds several (points x candidates) arrays at once, so a
#: million origins in one batch held ~0.6 GB of temporaries.
SNAP_CHUNK = 1 << 17


def _snap_in_chunks(
    graph: WalkGraph, x: np.ndarray, y: np.ndarray, rule: str, max_snap_m: float
) -> Snapped:
    """:func:`~lifecircle.snap.snap_points` of the points, ``SNAP_CHUNK`` at a time."""
    if len(x) <= SNAP_CHUNK:
        return snap_points(graph, x, y, rule=rule, max_snap_m=max_snap_m)
    parts = [
        snap_points(
            graph,
            x[i : i + SNAP_CHUNK],
            y[i : i + SNAP_CHUNK],
            rule=rule,
            max_snap_m=max_snap_m,
        )
        for i in range(0, len(x), SNAP_CHUNK)
    ]
    arrays = [f.name for f in dataclasses.fields(Snapped) if f.name != "rule"]
    return Snapped(
        parts[0].rule,
        **{name: np.concatenate([getattr(part, name) for part in parts]) for name in arrays},
    )


def search_cutoff_m(
    standard: Standard, categories: list[str], profile: Profile | str | None = None
) -> float:
    """The audit's search cut-off (m): the longest threshold walk of ``categories``.

    Each category walks at its own profile (:meth:`~lifecircle.config.Standard.profile_of`)
    unless ``profile`` overrides them all; distances beyond the cut-off are NaN.
    """
    return float(
        max(
            (
                standard.category(c).threshold_min * standard.profile_of(c, profile).speed_m_min
                for c in categories
            ),
            default=0.0,
        )
    )


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
    snap: str = DEFAULT_SNAP,
    progress: bool = False,
    snaps: AuditSnaps | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Walking (or cycling) distance and time from every origin to every facility category.

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
        Walking profile (object or id) for every category; default: each
        category's own profile (its cohort's, e.g. elderly care at the elderly
        speed), or the standard's default.
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
    snap
        The snap rule (:mod:`lifecircle.snap`): ``"edge"`` (nearest point of the
        nearest street, default) or ``"node"`` (nearest node, the first
        version's rule), for origins and facilities alike.
    progress
        Show a progress bar over categories.
    snaps
        The origins and facilities already snapped (:func:`snap_audit_inputs`, with
        the same rule and limits); snapped here when not given. For a standard
        whose levels list travel modes (``modes: [walk, bicycle]``), ``snaps.modes``
        holds the network of each other mode with the same inputs snapped to it
        (``snap_audit_inputs(..., mode_graphs={"bicycle": bike_graph})``). A
        category of such a level is reached by the fastest of its modes: one pass
        of the same rule per category and mode; ``time_<cat>_min`` is the smallest
        time, ``dist_<cat>_m`` the distance travelled by that mode and
        ``mode_<cat>`` the mode (NA when nothing is reached).

    Returns
    -------
    access : pandas.DataFrame
        One row per origin (index aligned with ``origins``): the origin
        columns, ``snap_m`` (straight line to where the origin enters the
        network), ``node`` (the nearest node under the node rule; the nearer end
        of the origin's edge under the edge rule), ``edge`` (the origin's edge,
        -1 under the node rule) and per category ``dist_<cat>_m`` and
        ``time_<cat>_min``.
    facility_snap_m : pandas.Series
        Per facility (index aligned with ``facilities``), the smallest snap
        distance of its access points; NaN where it could not be reached.
    """
    cats = list(categories) if categories is not None else standard.category_ids
    profiles = {c: standard.profile_of(c, profile) for c in cats}
    if cutoff_min is None:
        cutoff_m = search_cutoff_m(standard, cats, profile)
    else:
        cutoff_m = cutoff_min * max((p.speed_m_min for p in profiles.values()), default=0.0)
    log.info(
        "walking at %s: %.0f m search cut-off",
        ", ".join(sorted({f"{p.speed_m_s:.2f} m/s ({p.id})" for p in profiles.values()})),
        cutoff_m,
    )

    if snaps is None:
        snaps = snap_audit_inputs(
            graph, origins, facilities, snap=snap, max_snap_m=max_snap_m, spacing_m=spacing_m
        )
    here = snaps.origins
    table = pd.DataFrame(origins.drop(columns=origins.geometry.name)).copy()
    table["snap_m"] = here.snap_m
    table["node"] = here.node
    table["edge"] = here.edge

    by_mode = _mode_inputs(graph, snaps, standard, cats, profile)
    columns: dict[str, np.ndarray] = {}
    for cat in tqdm(cats, desc="access", unit="category", disable=not progress):
        alternatives = standard.profiles_of(cat, profile)
        if len(alternatives) == 1 and alternatives[0].mode == "walk":
            sel = snaps.category_points(cat).snapped
            dist = access_distance(graph, here, sel, cutoff_m=cutoff_m)
            columns[f"dist_{cat}_m"] = dist
            columns[f"time_{cat}_min"] = dist / profiles[cat].speed_m_min
            continue
        dist, minutes, mode = _fastest_mode(
            cat, alternatives, by_mode, cutoff_m / profiles[cat].speed_m_min
        )
        columns[f"dist_{cat}_m"] = dist
        columns[f"time_{cat}_min"] = minutes
        columns[f"mode_{cat}"] = mode
    # the distance and time arrays as they are (copy=False: no stacked copy of them)
    table = pd.concat([table, pd.DataFrame(columns, index=table.index, copy=False)], axis=1)
    return table, pd.Series(snaps.facility_snap_m, index=facilities.index, name="snap_m")


def _mode_inputs(
    graph: WalkGraph,
    snaps: AuditSnaps,
    standard: Standard,
    categories: list[str],
    profile: Profile | str | None,
) -> dict[str, tuple[WalkGraph, AuditSnaps]]:
    """The network and snapped inputs of every travel mode ``categories`` need."""
    out: dict[str, tuple[WalkGraph, AuditSnaps]] = {"walk": (graph, snaps)}
    for mode in standard.modes_of(categories, profile):
        if mode == "walk":
            continue
        if mode not in snaps.modes:
            msg = (
                f"standard {standard.id!r} counts travel by {mode} for some categories, but "
                f"no {mode} network was given; build one with read_network(path, "
                f"mode={mode!r}) and snap with snap_audit_inputs(..., "
                f"mode_graphs={{{mode!r}: graph}})"
            )
            raise DataError(msg)
        out[mode] = snaps.modes[mode]
    return out


def _fastest_mode(
    category: str,
    alternatives: list[Profile],
    by_mode: Mapping[str, tuple[WalkGraph, AuditSnaps]],
    cutoff_min: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance, minutes and mode of the fastest of ``alternatives`` for one category.

    One pass of :func:`access_distance` per mode, each on its own network and cut off
    at the same number of minutes (``cutoff_min``: the audit's cut-off at the
    category's own speed), so every mode sees as far in time as walking does.
    """
    best_min: np.ndarray | None = None
    best_dist = best_mode = np.empty(0)
    for prof in alternatives:
        mode_graph, mode_snaps = by_mode[prof.mode]
        sel = mode_snaps.category_points(category).snapped
        dist = access_distance(
            mode_graph, mode_snaps.origins, sel, cutoff_m=cutoff_min * prof.speed_m_min
        )
        minutes = dist / prof.speed_m_min
        if best_min is None:
            best_min, best_dist = minutes, dist
            best_mode = np.full(len(minutes), prof.mode, dtype=object)
            best_mode[np.isnan(minutes)] = None
            continue
        better = minutes < best_min
        better |= np.isnan(best_min) & ~np.isnan(minutes)
        best_min = np.where(better, minutes, best_min)
        best_dist = np.where(better, dist, best_dist)
        best_mode = np.where(better, prof.mode, best_mode)
    assert best_min is not None  # at least one alternative
    return best_dist, best_min, pd.array(best_mode, dtype="string").to_numpy()
