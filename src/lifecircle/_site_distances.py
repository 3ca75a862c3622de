"""Sparse walking-distance matrices between residents and candidate sites.

The optimizer's coverage matrices: :func:`distances_within` (node entries with
offsets, e.g. access points along a parcel's edge) and :func:`site_distances`
(snapped points on both sides, with the direct walk along a shared edge). Both
follow the access convention of :func:`lifecircle.access.compute_access`, run
Dijkstra once per distinct source node in bounded chunks and keep only the
pairs within the radius. Re-exported by :mod:`lifecircle.access`.
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ._kernels import bounded_pairs, new_heap
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
            s_slot, t_slot = np.divmod(np.flatnonzero(block <= limit), block.shape[1])
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
) -> sp.csr_matrix:
    """Like :func:`site_distances`, with one bounded search per group, not per source node.

    Each group (e.g. a facility with many access points along a park's edge) is
    searched once from all its points (each with its offset), so a node's walk is the
    one from the nearest of them. The searches are compiled
    (:func:`lifecircle._kernels.bounded_pairs`): each touches only the nodes within
    ``radius_m`` and resets only those, so the cost is the sum of the catchments, never
    groups x nodes. The result equals :func:`site_distances` (same convention, same
    direct walks along a shared edge; checked in the tests).

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

    Returns
    -------
    scipy.sparse.csr_matrix
        Shape ``(len(targets), n_groups)``; an exact 0 is stored as 1e-9.
    """
    source_group = np.asarray(source_group, np.int64)
    shape = (len(targets), n_groups)
    s_point, s_node, s_off = sources.entries()
    t_point = np.flatnonzero(targets.reachable)
    rows, cols, vals = np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    if len(s_node) and len(t_point) and radius_m >= 0:
        rows, cols, vals = _searched_pairs(
            graph, (s_node, s_off, source_group[s_point]), targets, radius_m, n_groups
        )
    # the searches list each (target, group) once, by group: the columns of a CSC
    # matrix as they come; its CSR has sorted indices (scipy's transpose is a counting sort)
    if np.any(cols[1:] < cols[:-1]):  # not by group: never from the kernel, but be exact
        order = np.argsort(cols, kind="stable")
        rows, cols, vals = rows[order], cols[order], vals[order]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=n_groups))])
    network = sp.csc_matrix((np.maximum(vals, _EPS_M), rows, indptr), shape=shape).tocsr()
    network.sort_indices()
    ti, si, direct = same_edge_pairs(targets, sources)
    near = direct <= radius_m
    return _lower(network, ti[near], source_group[si[near]], np.maximum(direct[near], _EPS_M))


def _searched_pairs(
    graph: WalkGraph,
    sources: tuple[np.ndarray, np.ndarray, np.ndarray],
    targets: Snapped,
    radius_m: float,
    n_groups: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(target point, group, metres) within ``radius_m`` from the compiled searches."""
    t_point = np.flatnonzero(targets.reachable)
    s_node, s_off, s_grp = sources
    order = np.argsort(s_grp, kind="stable")
    group_ptr = np.searchsorted(s_grp[order], np.arange(n_groups + 1))
    n = graph.n_nodes
    t_u = np.full(len(targets), -1, np.int64)
    t_v = np.full(len(targets), -1, np.int64)
    off_u, off_v = targets.offset_u_m.astype(float), targets.offset_v_m.astype(float)
    t_u[t_point] = targets.node_u[t_point]
    # a point whose two ends are one node (the node rule, a loop edge) is listed through
    # u alone, at the nearer of its offsets
    one = targets.node_v[t_point] == targets.node_u[t_point]
    t_v[t_point[~one]] = targets.node_v[t_point[~one]]
    off_u[t_point[one]] = np.minimum(off_u[t_point[one]], off_v[t_point[one]])
    limit = radius_m - float(np.minimum(off_u[t_point], off_v[t_point]).min())
    if limit < 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    limit = float(limit)
    u_ptr, u_points = _points_by_node(t_u, n)
    v_ptr, v_points = _points_by_node(t_v, n)
    ends = (
        u_ptr,
        u_points,
        off_u[u_points],
        t_v[u_points],
        off_v[u_points],
        v_ptr,
        v_points,
        off_v[v_points],
        t_u[v_points],
    )
    adj = graph.adjacency
    csr = (adj.indptr, adj.indices, adj.data.astype(float, copy=False))
    entries = (s_node[order].astype(np.int64), s_off[order].astype(float))
    heap_size = adj.nnz + int(np.diff(group_ptr).max(initial=0)) + 1

    def run(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # groups lo..hi-1: their entries, with group numbers from 0 in the kernel
        ptr = group_ptr[lo : hi + 1].astype(np.int64)
        part = (ptr - ptr[0], entries[0][ptr[0] : ptr[-1]], entries[1][ptr[0] : ptr[-1]])
        t, g, d = bounded_pairs(csr, part, ends, new_heap(heap_size), (limit, float(radius_m)))
        return t, g + lo, d

    # the kernel releases the GIL: slices of the groups run on threads, in a fixed order
    workers = search_threads()
    cuts = np.linspace(0, n_groups, min(n_groups, 4 * workers) + 1).astype(int)
    spans = [(int(a), int(b)) for a, b in itertools.pairwise(cuts) if b > a]
    if workers == 1 or len(spans) <= 1:
        parts = [run(a, b) for a, b in spans]
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda span: run(*span), spans))
    return (
        np.concatenate([p[0] for p in parts]),
        np.concatenate([p[1] for p in parts]),
        np.concatenate([p[2] for p in parts]),
    )


def search_threads() -> int:
    """Threads for the compiled searches: the CPUs this process may use (at most 8)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(8, cpus))


def _points_by_node(end: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR of points by end node (``end`` -1: none): ``(ptr of n + 1, points)``."""
    has = np.flatnonzero(end >= 0)
    points = has[np.argsort(end[has], kind="stable")]
    ptr = np.searchsorted(end[points], np.arange(n + 1))
    return ptr.astype(np.int64), points.astype(np.int64)


def _lower(matrix: sp.csr_matrix, r: np.ndarray, c: np.ndarray, v: np.ndarray) -> sp.csr_matrix:
    """``matrix`` with each (r, c) entry lowered to ``v`` where smaller, or added if absent."""
    if not len(r):
        return matrix
    extra = _min_matrix(r, c, v, matrix.shape)
    cols = max(matrix.shape[1], 1)
    rows_of = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = rows_of * cols + matrix.indices
    extra_rows = np.repeat(np.arange(extra.shape[0], dtype=np.int64), np.diff(extra.indptr))
    extra_keys = extra_rows * cols + extra.indices
    pos = np.minimum(np.searchsorted(keys, extra_keys), max(len(keys) - 1, 0))
    found = (keys[pos] == extra_keys) if len(keys) else np.zeros(len(extra_keys), bool)
    out = matrix.copy()
    out.data[pos[found]] = np.minimum(out.data[pos[found]], extra.data[found])
    new = ~found
    if new.any():
        added = sp.csr_matrix(
            (extra.data[new], (extra_rows[new], extra.indices[new])), shape=matrix.shape
        )
        out = out + added  # disjoint patterns: the union
        out.sort_indices()
    return out
