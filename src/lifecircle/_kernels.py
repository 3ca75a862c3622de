"""Compiled graph searches (numba) that scipy's ``dijkstra`` cannot express cheaply.

scipy returns a dense row of the whole graph per search, so listing every resident x
facility pair within a walk costs ``facilities x nodes`` however small each walk is.
These kernels do the same Dijkstra but touch only what the walk reaches:

* :func:`bounded_pairs`: one bounded search per group (facility) from all its entry
  points at once; each search resets only the nodes it touched and lists the target
  points it reached, so the cost is the sum of the catchments, not facilities x nodes;
* :func:`two_nearest_labels`: one multi-source search in which every node is settled
  at most twice, by its nearest and its second-nearest *distinct* source group.

Both read the graph as CSR arrays (``indptr``, ``indices``, ``weights``; an edge
``x -> y`` is stored in row ``x``) and are checked against scipy's ``dijkstra`` in the
tests (:mod:`tests.test_nearest_two`, :mod:`tests.test_fair_service`).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _grown(arr, k, need):
    """``arr`` with room for ``need`` entries after its first ``k`` (doubling)."""
    if k + need <= len(arr):
        return arr
    out = np.empty(max(2 * len(arr), k + need), arr.dtype)
    out[:k] = arr[:k]
    return out


@njit(cache=True)
def _push(heap, size, d, x, g):
    """Push label (walk d, node x, group g) on the array heap; returns the new size.

    The heap is ``(keys, labels)``: walks, and node and group packed in one int64
    (node in the high 32 bits), so a label costs two memory reads, not three.
    """
    keys, labels = heap
    label = (np.int64(x) << 32) | np.int64(g)
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= d:
            break
        keys[i] = keys[parent]
        labels[i] = labels[parent]
        i = parent
    keys[i] = d
    labels[i] = label
    return size + 1


@njit(cache=True)
def _pop(heap, size):
    """Remove the label with the least walk; returns (d, x, g, new size)."""
    keys, labels = heap
    d, label = keys[0], labels[0]
    size -= 1
    kd, kl = keys[size], labels[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if kd <= keys[child]:
            break
        keys[i] = keys[child]
        labels[i] = labels[child]
        i = child
    keys[i] = kd
    labels[i] = kl
    return d, label >> 32, label & 0xFFFFFFFF, size


def new_heap(capacity: int) -> tuple[np.ndarray, np.ndarray]:
    """Empty array heap for ``capacity`` labels (every relaxation pushes at most one)."""
    return np.empty(capacity), np.empty(capacity, np.int64)


@njit(cache=True)
def _settle(graph, search, nt, frontier, limit):
    """Run a bounded Dijkstra from the labels on the heap; returns the nodes touched.

    ``search`` is ``(dist, touched)``: walks so far and the nodes given one (the first
    ``nt`` of ``touched``); ``frontier`` is ``(heap, size)``.
    """
    indptr, indices, weights = graph
    dist, touched = search
    heap, size = frontier
    inf = np.inf
    while size:
        d, x, _, size = _pop(heap, size)
        if d > dist[x]:
            continue
        for j in range(indptr[x], indptr[x + 1]):
            y = indices[j]
            nd = d + weights[j]
            if nd <= limit and nd < dist[y]:
                if dist[y] == inf:
                    touched[nt] = y
                    nt += 1
                dist[y] = nd
                size = _push(heap, size, nd, y, 0)
    return nt


@njit(cache=True)
def _list_points(targets, search, group, out, k):
    """The target points reached by a group's search, each once, written to ``out`` at ``k``.

    ``search`` is ``(dist, touched, nt)``; ``group`` is ``(g, radius)``; ``out`` has room
    for every point of a touched node (:func:`_grown`). Returns the new ``k``. The
    points' figures are read in node order (see :func:`bounded_pairs`), so listing the
    points of a node reads memory in sequence.
    """
    u_ptr, u_points, u_off, u_other, u_other_off, v_ptr, v_points, v_off, v_first = targets
    dist, touched, nt = search
    g, radius = group
    out_t, out_g, out_d = out
    for i in range(nt):
        x = touched[i]
        for j in range(u_ptr[x], u_ptr[x + 1]):
            dd = dist[x] + u_off[j]
            other = u_other[j]
            if other >= 0:
                dd = min(dd, dist[other] + u_other_off[j])
            if dd <= radius:
                out_t[k], out_g[k], out_d[k] = u_points[j], g, dd
                k += 1
        for j in range(v_ptr[x], v_ptr[x + 1]):
            first = v_first[j]
            if first >= 0 and dist[first] < np.inf:
                continue  # listed through its u end
            dd = dist[x] + v_off[j]
            if dd <= radius:
                out_t[k], out_g[k], out_d[k] = v_points[j], g, dd
                k += 1
    return k


@njit(cache=True, nogil=True)
def bounded_pairs(graph, groups, targets, heap, bounds):
    """(target point, group, metres) of every pair within ``radius``: one search per group.

    ``graph`` is ``(indptr, indices, weights)``. ``groups`` is ``(group_ptr, entry_node,
    entry_off)``: group ``g`` enters the graph at ``entry_node[group_ptr[g]:group_ptr[g +
    1]]`` with the walks ``entry_off`` already made; nodes are searched up to ``limit``.
    ``targets`` lists the target points by the node of each of their two ends: ``(u_ptr,
    u_points, u_off, u_other, u_other_off, v_ptr, v_points, v_off, v_first)``. The
    points whose ``u`` end is node ``x`` sit at ``u_ptr[x]:u_ptr[x + 1]`` of the ``u_*``
    arrays, with that end's offset, their other end (-1: none) and its offset; likewise
    ``v``, with each point's ``u`` end. A point's walk is the nearer end's; it is listed
    once, through ``u``, or through ``v`` when ``u`` was not reached. The pairs come out
    by group. ``heap`` comes from :func:`new_heap` (``edges + largest group's entries``
    labels); ``bounds`` is ``(limit, radius)``.
    """
    group_ptr, entry_node, entry_off = groups
    limit, radius = bounds
    u_ptr, v_ptr = targets[0], targets[5]
    n = len(graph[0]) - 1
    dist = np.full(n, np.inf)
    touched = np.empty(n, np.int64)
    out_t = np.empty(1024, np.int64)
    out_g = np.empty(1024, np.int64)
    out_d = np.empty(1024, np.float64)
    k = 0
    for g in range(len(group_ptr) - 1):
        nt = 0
        size = 0
        for e in range(group_ptr[g], group_ptr[g + 1]):
            x = entry_node[e]
            d = entry_off[e]
            if d <= limit and d < dist[x]:
                if dist[x] == np.inf:
                    touched[nt] = x
                    nt += 1
                dist[x] = d
                size = _push(heap, size, d, x, 0)
        nt = _settle(graph, (dist, touched), nt, (heap, size), limit)
        need = 0
        for i in range(nt):
            x = touched[i]
            need += u_ptr[x + 1] - u_ptr[x] + v_ptr[x + 1] - v_ptr[x]
        out_t, out_g, out_d = _grown(out_t, k, need), _grown(out_g, k, need), _grown(out_d, k, need)
        k = _list_points(targets, (dist, touched, nt), (g, radius), (out_t, out_g, out_d), k)
        for i in range(nt):
            dist[touched[i]] = np.inf
    return out_t[:k].copy(), out_g[:k].copy(), out_d[:k].copy()


@njit(cache=True)
def _offer(walk, group, y, d, g):
    """Offer node ``y`` a walk ``d`` from group ``g``; True when it is worth a heap label.

    Columns 0 and 1 of ``walk``/``group`` hold a node's two best offers so far, from
    distinct groups, 0 the nearer. An offer beaten by two other groups, or by its own
    group's earlier offer, can never be a node's first or second label.
    """
    if g == group[y, 0]:
        if d >= walk[y, 0]:
            return False
        walk[y, 0] = d
        return True
    if g == group[y, 1]:
        if d >= walk[y, 1]:
            return False
        walk[y, 1] = d
    elif d < walk[y, 1]:
        walk[y, 1] = d
        group[y, 1] = g
    else:
        return False
    if walk[y, 1] < walk[y, 0]:
        walk[y, 0], walk[y, 1] = walk[y, 1], walk[y, 0]
        group[y, 0], group[y, 1] = group[y, 1], group[y, 0]
    return True


@njit(cache=True, nogil=True)
def two_nearest_labels(graph, entries, heap, limit):
    """Per node: nearest and second-nearest distinct group, and their walks.

    ``graph`` is ``(indptr, indices, weights)``; ``entries`` is ``(node, offset, group)``
    per source entry; ``heap`` from :func:`new_heap` (``2 * edges + entries`` labels).
    Returns ``(walk, group)``, each of shape ``(nodes, 4)``: columns 2 and 3 are the
    nearest and the second nearest (inf and -1 beyond ``limit``); 0 and 1 are working
    space. Keeping a node's figures in one row keeps them in one cache line.

    Labels ``(walk, node, group)`` leave the heap in order of walk; a node keeps its
    first label and its first label of another group, and only kept labels spread.
    Exact: if a node's second-nearest group ``g`` came through a neighbour where ``g``
    was not kept, that neighbour's two kept groups are both nearer and one of them
    differs from the node's nearest. A label is pushed only while it is among the two
    best distinct offers a node has had (:func:`_offer`), so the heap stays small.
    """
    indptr, indices, weights = graph
    entry_node, entry_off, entry_group = entries
    n = len(indptr) - 1
    walk = np.full((n, 4), np.inf)
    group = np.full((n, 4), -1, np.int64)
    size = 0
    for e in range(len(entry_node)):
        x, d, g = entry_node[e], entry_off[e], entry_group[e]
        if d <= limit and _offer(walk, group, x, d, g):
            size = _push(heap, size, d, x, g)
    while size:
        d, x, g, size = _pop(heap, size)
        if group[x, 2] == -1:
            group[x, 2] = g
            walk[x, 2] = d
        elif group[x, 3] == -1 and g != group[x, 2]:
            group[x, 3] = g
            walk[x, 3] = d
        else:
            continue
        for j in range(indptr[x], indptr[x + 1]):
            y = indices[j]
            nd = d + weights[j]
            if (
                nd <= limit
                and group[y, 3] == -1
                and g != group[y, 2]
                and _offer(walk, group, y, nd, g)
            ):
                size = _push(heap, size, nd, y, g)
    return walk, group


@njit(cache=True, nogil=True)
def points_from_ends(labels, ends, out):
    """Each point's nearest two distinct groups among its two ends' labels.

    ``labels`` is :func:`two_nearest_labels`'s ``(walk, group)``; ``ends`` is ``(points,
    u, v, off_u, off_v)`` per reachable point; ``out`` is ``(walk, group)`` of shape
    ``(all points, 2)``, written at each point's row. Among equal walks the lower group
    comes first.
    """
    walk, group = labels
    points, node_u, node_v, off_u, off_v = ends
    out_d, out_g = out
    cand_d = np.empty(4)
    cand_g = np.empty(4, np.int64)
    for i in range(len(points)):
        cand_g[:] = -1
        for end, node, off in ((0, node_u[i], off_u[i]), (2, node_v[i], off_v[i])):
            if node >= 0:
                cand_d[end], cand_g[end] = walk[node, 2] + off, group[node, 2]
                cand_d[end + 1], cand_g[end + 1] = walk[node, 3] + off, group[node, 3]
        row = points[i]
        for k in range(2):
            best = -1
            for c in range(4):
                if cand_g[c] < 0 or (k == 1 and cand_g[c] == out_g[row, 0]):
                    continue
                if (
                    best < 0
                    or cand_d[c] < cand_d[best]
                    or (cand_d[c] == cand_d[best] and cand_g[c] < cand_g[best])
                ):
                    best = c
            if best >= 0:
                out_d[row, k] = cand_d[best]
                out_g[row, k] = cand_g[best]
