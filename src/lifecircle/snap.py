"""The one snap rule: how a point (resident, facility, candidate site) enters the network.

Two rules, chosen per run and used by every stage (audit, optimizer, candidates, map):

``"edge"`` (default)
    The point enters at the nearest point ``p`` of the nearest walkable edge ``(u, v)``
    (every edge of a :class:`~lifecircle.network.WalkGraph` is a straight segment).
    ``snap_m`` is the straight-line distance to ``p``; the point reaches ``u`` in
    ``snap_m + along_m`` and ``v`` in ``snap_m + (length - along_m)``, where
    ``along_m`` is the position of ``p`` along the edge from ``u`` (in the edge's own
    length, so edges whose length is not the straight line keep their proportion).
    Two points on the same edge also reach each other directly along it:
    ``snap_a + |along_a - along_b| + snap_b``.
``"node"``
    The first version's rule: the point enters at its nearest network node, at the
    straight-line distance. Kept so older results stay reproducible.

Points farther than ``max_snap_m`` from the network are not *reachable*: a resident
there reaches nothing, a facility access point there is not used. The nearest edge is
found exactly (a KD-tree of short edge pieces with a proven distance bound, see
:func:`nearest_edges`); equidistant edges are broken by the smallest edge index, so
the result is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from scipy.spatial import cKDTree

from .errors import ConfigError, clip
from .network import WalkGraph
from .settings import MAX_SNAP_M

#: The snap rules, default first.
SNAP_RULES = ("edge", "node")
#: The default rule.
DEFAULT_SNAP = "edge"


def check_rule(rule: str) -> str:
    """Return ``rule`` if it is a known snap rule, else raise :class:`ConfigError`."""
    if rule not in SNAP_RULES:
        problem = (
            f"snap: unknown snap rule {clip(repr(rule), 60)}; use 'edge' (nearest point "
            "on the nearest street, the default) or 'node' (nearest network node, the "
            "rule of lifecircle's first version) in --snap or the study file's `snap` key"
        )
        raise ConfigError("snap", [problem])
    return rule


@dataclass(frozen=True)
class Snapped:
    """Where each of a set of points enters the walk network (arrays, one value per point).

    Attributes
    ----------
    rule
        ``"edge"`` or ``"node"``.
    snap_m
        Straight-line distance from the point to where it enters the network
        (edge rule, points beyond ``max_snap_m``: an upper bound, within one edge
        piece of the truth; see :func:`nearest_edges`).
    edge
        Index of the edge it enters (``-1`` under the node rule).
    node_u, node_v
        The two ends of that edge (equal, the nearest node, under the node rule).
    offset_u_m, offset_v_m
        Distance from the point to ``node_u`` / ``node_v``: ``snap_m`` plus the
        distance along the edge (``snap_m`` itself under the node rule).
    along_m
        Position of the entry point along the edge from ``node_u`` (0 under the node rule).
    x, y
        Coordinates of the entry point (graph CRS).
    reachable
        ``snap_m <= max_snap_m``.
    """

    rule: str
    snap_m: np.ndarray
    edge: np.ndarray
    node_u: np.ndarray
    node_v: np.ndarray
    offset_u_m: np.ndarray
    offset_v_m: np.ndarray
    along_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    reachable: np.ndarray

    def __len__(self) -> int:
        return len(self.snap_m)

    @property
    def node(self) -> np.ndarray:
        """The nearer end of the entry edge (the nearest node under the node rule).

        Under the edge rule this is only a label (e.g. the ``node`` column of the
        access table); distances use both ends, see :meth:`entries`.
        """
        return np.where(self.offset_u_m <= self.offset_v_m, self.node_u, self.node_v)

    @classmethod
    def at_nodes(
        cls, graph: WalkGraph, node: np.ndarray, snap_m: np.ndarray, max_snap_m: float
    ) -> Snapped:
        """Points entering at ``node`` after ``snap_m`` of straight line (the node rule)."""
        node = np.asarray(node, np.int64)
        snap_m = np.asarray(snap_m, float)
        return cls(
            "node",
            snap_m,
            np.full(len(node), -1, np.int64),
            node,
            node,
            snap_m,
            snap_m.copy(),
            np.zeros(len(node)),
            graph.x[node],
            graph.y[node],
            snap_m <= max_snap_m,
        )

    def take(self, index: np.ndarray) -> Snapped:
        """The points selected by ``index`` (integer positions or a boolean mask)."""
        return Snapped(self.rule, *(getattr(self, f)[index] for f in _ARRAY_FIELDS))

    def entries(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """How the reachable points enter the graph, flat: ``(point, node, offset_m)``.

        One entry per reachable point under the node rule, two (one per end of its
        edge) under the edge rule: the sources or targets of a Dijkstra search.
        Unreachable points have no entry.
        """
        point = np.flatnonzero(self.reachable)
        if self.rule == "node":
            return point, self.node_u[point], self.offset_u_m[point]
        return (
            np.concatenate([point, point]),
            np.concatenate([self.node_u[point], self.node_v[point]]),
            np.concatenate([self.offset_u_m[point], self.offset_v_m[point]]),
        )


_ARRAY_FIELDS = (
    "snap_m",
    "edge",
    "node_u",
    "node_v",
    "offset_u_m",
    "offset_v_m",
    "along_m",
    "x",
    "y",
    "reachable",
)


def snap_points(
    graph: WalkGraph,
    x: np.ndarray,
    y: np.ndarray,
    *,
    rule: str = DEFAULT_SNAP,
    max_snap_m: float = MAX_SNAP_M,
    edge: np.ndarray | None = None,
) -> Snapped:
    """Snap points onto the walk network with the given rule: the one snap of lifecircle.

    Parameters
    ----------
    graph
        The walk graph.
    x, y
        Coordinates in the graph's CRS.
    rule
        ``"edge"``: nearest point of the nearest edge (default); ``"node"``: nearest node.
    max_snap_m
        Points farther than this from the network are marked not ``reachable``.
    edge
        Edge rule only: use these edges instead of searching for the nearest (to
        rebuild a snap recorded earlier, e.g. the ``edge`` column of an access table).

    Returns
    -------
    Snapped
        One entry per point, in the order given.

    Examples
    --------
    >>> from lifecircle.network import grid_graph
    >>> g = grid_graph(1, 2, spacing_m=100.0)   # one edge from (0, 0) to (100, 0)
    >>> s = snap_points(g, np.array([30.0]), np.array([40.0]))
    >>> float(s.snap_m[0]), float(s.offset_u_m[0]), float(s.offset_v_m[0])
    (40.0, 70.0, 110.0)
    >>> float(snap_points(g, np.array([30.0]), np.array([40.0]), rule="node").snap_m[0])
    50.0
    """
    check_rule(rule)
    x = np.asarray(x, float).ravel()
    y = np.asarray(y, float).ravel()
    if rule == "node":
        node, dist = graph.nearest_nodes(x, y)
        return Snapped.at_nodes(graph, node, dist, max_snap_m)
    e = (
        nearest_edges(graph, x, y, max_snap_m=max_snap_m)
        if edge is None
        else np.asarray(edge, np.int64)
    )
    u, v = graph.edge_u[e], graph.edge_v[e]
    ax, ay = graph.x[u], graph.y[u]
    dx, dy = graph.x[v] - ax, graph.y[v] - ay
    sq = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(sq > 0, ((x - ax) * dx + (y - ay) * dy) / sq, 0.0)
    t = np.clip(t, 0.0, 1.0)
    px, py = ax + t * dx, ay + t * dy
    snap = np.hypot(x - px, y - py)
    length = graph.edge_length[e]
    along = t * length
    return Snapped(
        "edge",
        snap,
        e,
        u,
        v,
        snap + along,
        snap + (length - along),
        along,
        px,
        py,
        snap <= max_snap_m,
    )


def nearest_edges(
    graph: WalkGraph, x: np.ndarray, y: np.ndarray, *, max_snap_m: float = np.inf
) -> np.ndarray:
    """Index of the nearest edge to each point (ties: the smallest edge index).

    Exact and vectorised. Every edge is cut into pieces no longer than a spacing
    ``s``; a KD-tree holds the pieces' midpoints (:attr:`WalkGraph.edge_index`).
    For each point, the edges of its ``k`` nearest midpoints are measured exactly;
    any other piece lies at least ``D_k - s/2`` away (``D_k``: the ``k``-th
    midpoint distance), so when the best measured distance is below that bound the
    answer is proven. Points without a proof are searched again with ``2k``;
    the rare rest by an STRtree. Points proven farther than ``max_snap_m`` from
    every edge (``D_1 - s/2 > max_snap_m``) stop early with the nearest edge among
    those measured: they reach nothing either way, and their distance to it
    exceeds the true one by at most ``s`` (so a reported snap distance of a point
    beyond ``max_snap_m`` is an upper bound, close to the truth).
    """
    n = len(x)
    out = np.full(n, -1, np.int64)
    if n == 0:
        return out
    index = graph.edge_index
    # in strips of the plane, so that successive queries walk the same part of the tree
    # (twice as fast as random order on a 1M-node grid)
    strip = np.floor((y - np.min(y)) / max(64.0 * index.half_m, 1.0))
    todo = np.lexsort((x, strip))
    k = min(8, index.n_pieces)
    while len(todo):
        px, py = x[todo], y[todo]
        mid_d, piece = index.tree.query(np.column_stack([px, py]), k=k)
        mid_d, piece = mid_d.reshape(len(todo), k), piece.reshape(len(todo), k)
        cand = index.piece_edge[piece]
        d = _segment_distance(graph, px[:, None], py[:, None], cand)
        best_d = d.min(axis=1)
        best_e = np.where(d == best_d[:, None], cand, np.iinfo(np.int64).max).min(axis=1)
        proven = (
            (best_d < mid_d[:, -1] - index.half_m)
            | (k >= index.n_pieces)
            | (mid_d[:, 0] - index.half_m > max_snap_m)
        )
        out[todo[proven]] = best_e[proven]
        todo = todo[~proven]
        if k >= _MAX_K and len(todo):
            out[todo] = _strtree_nearest(graph, x[todo], y[todo])
            break
        k = min(2 * k, index.n_pieces)
    return out


#: Largest k of the KD-tree search before the STRtree takes over.
_MAX_K = 256


def _segment_distance(
    graph: WalkGraph, x: np.ndarray, y: np.ndarray, edge: np.ndarray
) -> np.ndarray:
    """Straight-line distance from points to edges (broadcast), as in :func:`snap_points`."""
    u, v = graph.edge_u[edge], graph.edge_v[edge]
    ax, ay = graph.x[u], graph.y[u]
    dx, dy = graph.x[v] - ax, graph.y[v] - ay
    sq = dx * dx + dy * dy
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.where(sq > 0, ((x - ax) * dx + (y - ay) * dy) / sq, 0.0)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(x - (ax + t * dx), y - (ay + t * dy))


def _strtree_nearest(graph: WalkGraph, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Nearest edge by an STRtree of all edges (ties: the smallest index)."""
    lines = np.asarray(
        shapely.linestrings(
            np.stack(
                [
                    np.column_stack([graph.x[graph.edge_u], graph.y[graph.edge_u]]),
                    np.column_stack([graph.x[graph.edge_v], graph.y[graph.edge_v]]),
                ],
                axis=1,
            )
        ),
        dtype=object,
    )
    idx = shapely.STRtree(lines).query_nearest(shapely.points(x, y), all_matches=True)
    pt, ed = idx[0].astype(np.int64), idx[1].astype(np.int64)
    # GEOS's distance may differ from ours in the last bit: re-measure the matches
    d = _segment_distance(graph, x[pt], y[pt], ed)
    order = np.lexsort((ed, d, pt))
    pt, ed = pt[order], ed[order]
    first = np.ones(len(pt), bool)
    first[1:] = pt[1:] != pt[:-1]
    out = np.empty(len(x), np.int64)
    out[pt[first]] = ed[first]
    return out


@dataclass(frozen=True)
class EdgeIndex:
    """Edges cut into pieces, for the nearest-edge search (see :func:`nearest_edges`).

    Attributes
    ----------
    tree
        KD-tree of the pieces' midpoints.
    piece_edge
        The edge of each piece.
    half_m
        The largest half-length of a piece: every point of an edge lies within
        ``half_m`` of one of its pieces' midpoints.
    """

    tree: cKDTree
    piece_edge: np.ndarray
    half_m: float

    @property
    def n_pieces(self) -> int:
        """Number of pieces."""
        return len(self.piece_edge)


def build_edge_index(graph: WalkGraph) -> EdgeIndex:
    """Cut every edge into pieces no longer than the median edge length."""
    ux, uy = graph.x[graph.edge_u], graph.y[graph.edge_u]
    dx, dy = graph.x[graph.edge_v] - ux, graph.y[graph.edge_v] - uy
    length = np.hypot(dx, dy)
    spacing = max(float(np.median(length)), 1.0)
    n_piece = np.maximum(np.ceil(length / spacing), 1).astype(np.int64)
    piece_edge = np.repeat(np.arange(graph.n_edges), n_piece)
    first = np.cumsum(n_piece) - n_piece
    rank = np.arange(len(piece_edge)) - np.repeat(first, n_piece)
    frac = (rank + 0.5) / n_piece[piece_edge]
    mx = ux[piece_edge] + frac * dx[piece_edge]
    my = uy[piece_edge] + frac * dy[piece_edge]
    # a hair of slack for the rounding of the midpoints
    half = float((length / (2 * n_piece)).max()) * (1 + 1e-9) + 1e-9
    # an unbalanced, uncompacted tree builds 3x faster and queries as fast
    tree = cKDTree(np.column_stack([mx, my]), balanced_tree=False, compact_nodes=False)
    return EdgeIndex(tree, piece_edge, half)


def same_edge_pairs(a: Snapped, b: Snapped) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of reachable points of ``a`` and ``b`` on one edge, with their direct distance.

    The direct distance is ``snap_a + |along_a - along_b| + snap_b``: the walk along
    their common edge without passing a node. Empty under the node rule.

    Returns
    -------
    tuple of numpy.ndarray
        ``(index_in_a, index_in_b, distance_m)``.
    """
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    if a.rule != "edge" or b.rule != "edge":
        return empty
    ib = np.flatnonzero(b.reachable & (b.edge >= 0))
    if len(ib) == 0 or len(a.edge) == 0:
        return empty
    # only the points of ``a`` on an edge of ``b`` are searched (one lookup per point; ``b``
    # is the smaller side in the audit: the facilities)
    on_b = np.zeros(max(int(a.edge.max()), int(b.edge[ib].max())) + 1, bool)
    on_b[b.edge[ib]] = True
    ia = np.flatnonzero(a.reachable & (a.edge >= 0) & on_b[np.maximum(a.edge, 0)])
    if len(ia) == 0:
        return empty
    ib = ib[np.argsort(b.edge[ib], kind="stable")]
    edges_b = b.edge[ib]
    lo = np.searchsorted(edges_b, a.edge[ia], side="left")
    hi = np.searchsorted(edges_b, a.edge[ia], side="right")
    count = hi - lo
    if count.sum() == 0:
        return empty
    pa = np.repeat(ia, count)
    start = np.repeat(lo - (np.cumsum(count) - count), count)
    pb = ib[start + np.arange(int(count.sum()))]
    dist = a.snap_m[pa] + np.abs(a.along_m[pa] - b.along_m[pb]) + b.snap_m[pb]
    return pa, pb, dist


def distance_from_nodes(node_dist: np.ndarray, points: Snapped) -> np.ndarray:
    """Per point, the smallest ``node_dist[entry node] + entry offset`` (NaN if none).

    ``node_dist`` is a per-node distance (NaN where not reached), e.g. from
    :func:`lifecircle.access.nearest_distance`. Unreachable points get NaN.
    """
    with np.errstate(invalid="ignore"):
        dist = np.fmin(
            node_dist[points.node_u] + points.offset_u_m,
            node_dist[points.node_v] + points.offset_v_m,
        )
    dist[~points.reachable] = np.nan
    return dist
