"""Sparse walking-distance matrices between residents and candidate sites.

The optimizer's coverage matrices: :func:`distances_within` (node entries with
offsets, e.g. access points along a parcel's edge) and :func:`site_distances`
(snapped points on both sides, with the direct walk along a shared edge). Both
follow the access convention of :func:`lifecircle.access.compute_access`, run
Dijkstra once per distinct source node in bounded chunks and keep only the
pairs within the radius. Re-exported by :mod:`lifecircle.access`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .snap import Snapped, same_edge_pairs

if TYPE_CHECKING:
    from .network import WalkGraph

#: Length given to a zero-length edge from the virtual source (a sparse matrix
#: would drop an explicit 0). It is far below any reported precision.
_EPS_M = 1e-9


def distances_within(
    graph: WalkGraph,
    source_nodes: np.ndarray,
    source_offset_m: np.ndarray,
    source_group: np.ndarray,
    *,
    target_nodes: np.ndarray,
    target_offset_m: np.ndarray,
    radius_m: float,
    chunk_size: int = 64,
    target_row: np.ndarray | None = None,
    n_targets: int | None = None,
    n_groups: int | None = None,
) -> sp.csr_matrix:
    """Sparse target x group matrix of walking distances no longer than ``radius_m``.

    Same access convention as :func:`~lifecircle.access.compute_access`: ``target_offset +
    network_distance + source_offset``, over node entries. A group (e.g. a
    candidate site) may have several sources (access points along a parcel's
    edge, both ends of a snapped point's edge), and a target several entries (its
    ``target_row``); a pair's distance is the minimum over them. Dijkstra runs
    once per distinct source node, a bounded chunk of them at a time, so no dense
    sources x nodes array is ever built beyond ``chunk_size`` rows. For snapped
    points (with the direct walk along a shared edge) use :func:`site_distances`.

    Parameters
    ----------
    graph
        The walk graph.
    source_nodes, source_offset_m, source_group
        Per source entry: node, offset (snap and distance along the edge), and
        the group (column) it belongs to.
    target_nodes, target_offset_m
        Per target entry: node and offset (keyword-only).
    radius_m
        Largest distance kept.
    chunk_size
        Distinct source nodes searched per Dijkstra call.
    target_row
        Row of each target entry (default: one row per entry).
    n_targets, n_groups
        Shape of the result (default: from ``target_row`` and ``source_group``).

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(n_targets, n_groups)``; stored entries are distances in metres
        (an entry of exactly 0 is stored as 1e-9 so it is not lost).
    """
    r, c, v, shape = _within_entries(
        graph,
        source_nodes,
        source_offset_m,
        source_group,
        target_nodes=target_nodes,
        target_offset_m=target_offset_m,
        radius_m=radius_m,
        chunk_size=chunk_size,
        target_row=target_row,
        n_targets=n_targets,
        n_groups=n_groups,
    )
    return _min_matrix(r, c, v, shape)


def _within_entries(
    graph: WalkGraph,
    source_nodes: np.ndarray,
    source_offset_m: np.ndarray,
    source_group: np.ndarray,
    *,
    target_nodes: np.ndarray,
    target_offset_m: np.ndarray,
    radius_m: float,
    chunk_size: int,
    target_row: np.ndarray | None,
    n_targets: int | None,
    n_groups: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """(row, group, distance) of every entry pair within ``radius_m``, and the shape."""
    source_nodes = np.asarray(source_nodes, np.int64)
    source_offset_m = np.asarray(source_offset_m, float)
    source_group = np.asarray(source_group, np.int64)
    target_nodes = np.asarray(target_nodes, np.int64)
    target_offset_m = np.asarray(target_offset_m, float)
    target_row = (
        np.arange(len(target_nodes)) if target_row is None else np.asarray(target_row, np.int64)
    )
    if n_targets is None:
        n_targets = int(target_row.max()) + 1 if len(target_row) else 0
    if n_groups is None:
        n_groups = int(source_group.max()) + 1 if len(source_group) else 0
    shape = (n_targets, n_groups)
    rows, cols, vals = [np.empty(0, np.int64)], [np.empty(0, np.int64)], [np.empty(0)]
    if len(source_nodes) and len(target_nodes):
        # entries grouped by distinct node on both sides: a node pair within reach is
        # expanded to its entries only then, so nothing dense beyond a Dijkstra chunk
        uniq_tgt, target_slot = np.unique(target_nodes, return_inverse=True)
        uniq_src, source_slot = np.unique(source_nodes, return_inverse=True)
        src_order, src_start, src_count = _grouped(source_slot, len(uniq_src))
        tgt_order, tgt_start, tgt_count = _grouped(target_slot, len(uniq_tgt))
        min_src_off = np.full(len(uniq_src), np.inf)
        np.minimum.at(min_src_off, source_slot, source_offset_m)
        min_tgt_off = float(target_offset_m.min())
        for start in range(0, len(uniq_src), chunk_size):
            stop = min(start + chunk_size, len(uniq_src))
            limit = radius_m - min_src_off[start:stop].min() - min_tgt_off
            if limit < 0:
                continue
            block = dijkstra(
                graph.adjacency, directed=False, indices=uniq_src[start:stop], limit=limit
            )[:, uniq_tgt]
            s_slot, t_slot = np.nonzero(block <= limit)
            node_d = block[s_slot, t_slot]
            s_slot += start
            # expand each reachable (source node, target node) pair to its entries
            pair, s_entry = _expand(s_slot, src_order, src_start, src_count)
            t_pair, t_entry = _expand(t_slot[pair], tgt_order, tgt_start, tgt_count)
            pair, s_entry = pair[t_pair], s_entry[t_pair]
            dist = node_d[pair] + source_offset_m[s_entry] + target_offset_m[t_entry]
            near = dist <= radius_m
            rows.append(target_row[t_entry[near]])
            cols.append(source_group[s_entry[near]])
            vals.append(np.maximum(dist[near], _EPS_M))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), shape


def _grouped(slot: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entries ordered by slot, with each slot's first position and count in that order."""
    order = np.argsort(slot, kind="stable")
    count = np.bincount(slot, minlength=n)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    return order, start, count


def _expand(
    slot: np.ndarray, order: np.ndarray, start: np.ndarray, count: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each item of ``slot`` repeated once per entry of its slot: (item, entry)."""
    reps = count[slot]
    item = np.repeat(np.arange(len(slot)), reps)
    first = np.repeat(start[slot], reps)
    within = np.arange(len(item)) - np.repeat(np.cumsum(reps) - reps, reps)
    return item, order[first + within]


def _min_matrix(
    r: np.ndarray, c: np.ndarray, v: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """CSR matrix keeping the smallest value per (row, column)."""
    if len(r) == 0:
        return sp.csr_matrix(shape)
    cols = max(shape[1], 1)
    key = r.astype(np.int64) * cols + c
    order = np.argsort(key, kind="stable")
    key, v = key[order], v[order]
    first = np.ones(len(key), bool)
    first[1:] = key[1:] != key[:-1]
    starts = np.flatnonzero(first)
    best = np.minimum.reduceat(v, starts) if len(starts) else v[:0]
    key = key[starts]
    # keys are sorted and unique: build the CSR arrays directly (no COO round trip)
    rows = key // cols
    indptr = np.searchsorted(rows, np.arange(shape[0] + 1))
    return sp.csr_matrix((best, key % cols, indptr), shape=shape)


def site_distances(
    graph: WalkGraph,
    sources: Snapped,
    source_group: np.ndarray,
    targets: Snapped,
    *,
    radius_m: float,
    n_groups: int | None = None,
    chunk_size: int = 64,
) -> sp.csr_matrix:
    """Sparse target x group walking distances within ``radius_m``, between snapped points.

    The access convention of :func:`~lifecircle.access.compute_access` with the snap of both sides
    (:mod:`lifecircle.snap`): per (target, group) the minimum over the group's
    source points and the entries of both of ``target_offset + network + source_offset``
    and, under the edge rule, of the direct walk along a shared edge. Unreachable
    points (beyond ``max_snap_m``) have no entry: such a target reaches no group.

    Parameters
    ----------
    graph
        The walk graph.
    sources
        E.g. the access points of candidate sites, snapped.
    source_group
        Per source point, its group (column), e.g. the candidate.
    targets
        E.g. the residents, snapped (one row each).
    radius_m
        Largest distance kept.
    n_groups
        Number of columns (default: the largest group + 1).
    chunk_size
        Distinct source nodes per Dijkstra call.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(len(targets), n_groups)``; an exact 0 is stored as 1e-9.
    """
    source_group = np.asarray(source_group, np.int64)
    if n_groups is None:
        n_groups = int(source_group.max()) + 1 if len(source_group) else 0
    s_point, s_node, s_off = sources.entries()
    t_point, t_node, t_off = targets.entries()
    r, c, v, shape = _within_entries(
        graph,
        s_node,
        s_off,
        source_group[s_point],
        target_nodes=t_node,
        target_offset_m=t_off,
        radius_m=radius_m,
        chunk_size=chunk_size,
        target_row=t_point,
        n_targets=len(targets),
        n_groups=n_groups,
    )
    ti, si, direct = same_edge_pairs(targets, sources)
    near = direct <= radius_m
    r = np.concatenate([r, ti[near]])
    c = np.concatenate([c, source_group[si[near]]])
    v = np.concatenate([v, np.maximum(direct[near], _EPS_M)])
    return _min_matrix(r, c, v, shape)


def group_distances(
    graph: WalkGraph,
    sources: Snapped,
    source_group: np.ndarray,
    targets: Snapped,
    *,
    radius_m: float,
    n_groups: int,
    chunk_size: int = 64,
    tile_m: float | None = None,
) -> sp.csr_matrix:
    """Like :func:`site_distances`, with one Dijkstra search per group, not per source node.

    Each group (e.g. a facility with many access points along a park's edge) gets
    a virtual node with one-way edges to where its points enter the network
    (weight: the point's offset), so a single search from it gives, per node, the
    walk from the nearest of its points; walks never pass through a virtual node.
    The result equals :func:`site_distances` (same convention, same direct walks
    along a shared edge) with far fewer pairs to reduce.

    On a large graph the groups are searched tile by tile on the part of the graph
    within ``radius_m`` (straight line) of the tile's groups: a walk of at most
    ``radius_m`` never leaves it, because no edge is shorter than the straight line
    between its ends (checked; otherwise the whole graph is searched). So a search
    never allocates a row of the whole graph's size.

    Parameters
    ----------
    graph
        The walk graph.
    sources, source_group
        The groups' snapped points and the group of each.
    targets
        E.g. the residents, snapped.
    radius_m
        Largest distance kept.
    n_groups
        Number of columns.
    chunk_size
        Groups searched per Dijkstra call (rows of the dense block).
    tile_m
        Side of the square tiles (m); default: no tiles while groups x nodes stays
        below :data:`TILE_MIN_WORK`, else ``max(TILE_RADII * radius_m, TILE_MIN_M)``.

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(len(targets), n_groups)``; an exact 0 is stored as 1e-9.
    """
    source_group = np.asarray(source_group, np.int64)
    s_point, s_node, s_off = sources.entries()
    # targets by point, both ends of their edge at once (the same node twice under the
    # node rule): a point's walk is the shorter of the two, taken in a dense block
    t_point = np.flatnonzero(targets.reachable)
    t_ends = (
        targets.node_u[t_point],
        targets.node_v[t_point],
        targets.offset_u_m[t_point],
        targets.offset_v_m[t_point],
        t_point,
    )
    parts = [(np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))]
    if len(s_node) and len(t_point):
        s_grp = source_group[s_point]
        if tile_m is None and len(np.unique(s_grp)) * graph.n_nodes > TILE_MIN_WORK:
            tile_m = max(TILE_RADII * radius_m, TILE_MIN_M)
        if tile_m is None or not _lengths_at_least_straight(graph):
            parts.append(
                _group_pairs(graph.adjacency, (s_node, s_off, s_grp), t_ends, radius_m, chunk_size)
            )
        else:
            parts += _tiled_group_pairs(
                graph,
                (s_node, s_off, s_grp),
                t_ends,
                radius_m,
                chunk_size=chunk_size,
                tile_m=tile_m,
            )
    ti, si, direct = same_edge_pairs(targets, sources)
    near = direct <= radius_m
    parts.append((ti[near], source_group[si[near]], np.maximum(direct[near], _EPS_M)))
    return _min_matrix(
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
        (len(targets), n_groups),
    )


#: Groups x nodes above which :func:`group_distances` searches tile by tile (below it,
#: one search per group over the whole graph costs less than cutting tiles).
TILE_MIN_WORK = 20_000_000
#: Tile side in radii, and at least (m).
TILE_RADII = 4.0
TILE_MIN_M = 4000.0

_Entries = tuple[np.ndarray, np.ndarray, np.ndarray]
#: Target points: (node_u, node_v, offset_u_m, offset_v_m, row); node -1 = outside the graph.
_Ends = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _group_pairs(
    adjacency: sp.csr_matrix,
    sources: _Entries,
    targets: _Ends,
    radius_m: float,
    chunk_size: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target row, group, metres) within ``radius_m``: one search per group.

    ``sources``: (node, offset, group) per source entry; ``targets``: per target point
    its two ends, offsets and row (:data:`_Ends`); nodes index ``adjacency``. Each
    (row, group) comes once: the nearer end is taken in a dense (chunk x points) block.
    """
    s_node, s_off, s_grp = sources
    t_u, t_v, off_u, off_v, t_row = targets
    n = adjacency.shape[0]
    empty = (np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0))
    groups = np.unique(s_grp)
    limit = radius_m - float(np.minimum(off_u, off_v).min()) if len(t_row) else -1.0
    if not len(groups) or limit < 0:
        return empty
    # virtual node n + i for group groups[i], one-way edges to its entry nodes (min offset)
    g_local = np.searchsorted(groups, s_grp)
    virtual = _min_matrix(g_local, s_node, np.maximum(s_off, _EPS_M), (len(groups), n))
    stacked = sp.vstack([adjacency, virtual], format="csr")
    size = n + len(groups)
    aug = sp.csr_matrix((stacked.data, stacked.indices, stacked.indptr), shape=(size, size))
    # an end outside the graph (-1) reads an extra column of inf
    u = np.where(t_u >= 0, t_u, n)
    v = np.where(t_v >= 0, t_v, n)
    rows, cols, vals = [empty[0]], [empty[1]], [empty[2]]
    for start in range(0, len(groups), chunk_size):
        stop = min(start + chunk_size, len(groups))
        block = dijkstra(aug, directed=True, indices=n + np.arange(start, stop), limit=limit)
        block[:, n] = np.inf  # the first virtual column: never reached from another group
        dist = np.minimum(block[:, u] + off_u, block[:, v] + off_v)
        g_slot, p_slot = np.nonzero(dist <= radius_m)
        rows.append(t_row[p_slot])
        cols.append(groups[start + g_slot])
        vals.append(np.maximum(dist[g_slot, p_slot], _EPS_M))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)


def _lengths_at_least_straight(graph: WalkGraph) -> bool:
    """No edge is shorter than the straight line between its ends (so tiles are exact)."""
    chord = np.hypot(
        graph.x[graph.edge_u] - graph.x[graph.edge_v], graph.y[graph.edge_u] - graph.y[graph.edge_v]
    )
    return bool(np.all(graph.edge_length >= chord * (1 - 1e-9) - 1e-6))


def _tiled_group_pairs(
    graph: WalkGraph,
    sources: _Entries,
    targets: _Ends,
    radius_m: float,
    *,
    chunk_size: int,
    tile_m: float,
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`_group_pairs` tile by tile, each on the subgraph its walks can reach."""
    s_node, s_off, s_grp = sources
    x, y = graph.x, graph.y
    # a group belongs to the tile of its first entry; its reach spans all its entries
    groups, first = np.unique(s_grp, return_index=True)
    g_of = np.searchsorted(groups, s_grp)
    lo_x = np.full(len(groups), np.inf)
    hi_x = np.full(len(groups), -np.inf)
    lo_y, hi_y = lo_x.copy(), hi_x.copy()
    np.minimum.at(lo_x, g_of, x[s_node])
    np.maximum.at(hi_x, g_of, x[s_node])
    np.minimum.at(lo_y, g_of, y[s_node])
    np.maximum.at(hi_y, g_of, y[s_node])
    tile = np.floor(x[s_node[first]] / tile_m).astype(np.int64) * 1_000_003 + np.floor(
        y[s_node[first]] / tile_m
    ).astype(np.int64)
    tiles, tile_of_group = np.unique(tile, return_inverse=True)
    # source entries grouped by tile; target entries and nodes sorted by x (strips)
    s_order = np.argsort(tile_of_group[g_of], kind="stable")
    s_bounds = np.searchsorted(tile_of_group[g_of][s_order], np.arange(len(tiles) + 1))
    g_order = np.argsort(tile_of_group, kind="stable")
    g_bounds = np.searchsorted(tile_of_group[g_order], np.arange(len(tiles) + 1))
    by_x = np.argsort(x, kind="stable")
    sorted_x = x[by_x]
    t_u, t_v, off_u, off_v, t_row = targets
    t_x = np.minimum(x[t_u], x[t_v])
    t_by_x = np.argsort(t_x, kind="stable")
    t_sorted_x = t_x[t_by_x]
    t_span = float((np.maximum(x[t_u], x[t_v]) - t_x).max()) if len(t_x) else 0.0
    local = np.full(graph.n_nodes + 1, -1, np.int64)  # the last: "outside" for -1 nodes
    adjacency = graph.adjacency
    out = []
    for k in range(len(tiles)):
        members = g_order[g_bounds[k] : g_bounds[k + 1]]
        x0, x1 = lo_x[members].min() - radius_m, hi_x[members].max() + radius_m
        y0, y1 = lo_y[members].min() - radius_m, hi_y[members].max() + radius_m
        strip = by_x[np.searchsorted(sorted_x, x0) : np.searchsorted(sorted_x, x1, "right")]
        nodes = np.sort(strip[(y[strip] >= y0) & (y[strip] <= y1)])
        local[nodes] = np.arange(len(nodes))
        s_sel = s_order[s_bounds[k] : s_bounds[k + 1]]
        lo_t = np.searchsorted(t_sorted_x, x0 - t_span)
        t_sel = t_by_x[lo_t : np.searchsorted(t_sorted_x, x1, "right")]
        t_sel = t_sel[(local[t_u[t_sel]] >= 0) | (local[t_v[t_sel]] >= 0)]
        out.append(
            _group_pairs(
                adjacency[nodes][:, nodes],
                (local[s_node[s_sel]], s_off[s_sel], s_grp[s_sel]),
                (
                    local[t_u[t_sel]],
                    local[t_v[t_sel]],
                    off_u[t_sel],
                    off_v[t_sel],
                    t_row[t_sel],
                ),
                radius_m,
                chunk_size,
            )
        )
        local[nodes] = -1
    return out
