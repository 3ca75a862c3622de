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

    ``labels`` is ``(walk, group)`` of shape ``(nodes, 2)``: every node's nearest and
    second-nearest group (columns 2 and 3 of :func:`two_nearest_labels`'s, or
    :func:`chain_end_labels`'s); ``ends`` is ``(points,
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
                cand_d[end], cand_g[end] = walk[node, 0] + off, group[node, 0]
                cand_d[end + 1], cand_g[end + 1] = walk[node, 1] + off, group[node, 1]
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


@njit(cache=True)
def _before(d, g, d_other, g_other):
    """Whether label ``(d, g)`` comes before ``(d_other, g_other)``: lower walk, then group.

    An empty label (group -1) comes after every other.
    """
    if g_other < 0:
        return g >= 0
    return d < d_other or (d == d_other and g < g_other)


@njit(cache=True)
def _keep_two(walk, group, x, d, g):
    """Merge label ``(d, g)`` into row ``x``'s two best distinct groups (columns 0 and 1).

    The row keeps, per group, its least walk, and the two first groups in order of walk
    then group: merging labels one by one gives the two best distinct groups of them all.
    """
    if g == group[x, 0]:
        walk[x, 0] = min(walk[x, 0], d)
        return
    if not _before(d, g, walk[x, 1], group[x, 1]):
        return  # beaten by the second (or its own group's walk there)
    walk[x, 1], group[x, 1] = d, g
    if _before(walk[x, 1], group[x, 1], walk[x, 0], group[x, 0]):
        walk[x, 0], walk[x, 1] = walk[x, 1], walk[x, 0]
        group[x, 0], group[x, 1] = group[x, 1], group[x, 0]


@njit(cache=True, nogil=True)
def chain_end_labels(key_labels, nodes, limit):
    """Per node: nearest two distinct groups among the labels of its chain's two ends.

    ``key_labels`` is :func:`two_nearest_labels`'s ``(walk, group)`` on the contracted
    graph (columns 2 and 3 used); ``nodes`` is ``(u_key, v_key, to_u, to_v)`` per graph
    node: its chain's ends (a key node: itself twice, at 0 m) and the walks to them
    along the chain. Returns ``(walk, group)`` of shape ``(nodes, 2)``, nearest first
    (inf and -1 beyond ``limit``); among equal walks the lower group comes first.
    """
    key_walk, key_group = key_labels
    u_key, v_key, to_u, to_v = nodes
    n = len(u_key)
    walk = np.full((n, 2), np.inf)
    group = np.full((n, 2), -1, np.int64)
    for x in range(n):
        for end, along in ((u_key[x], to_u[x]), (v_key[x], to_v[x])):
            for c in range(2, 4):
                g = key_group[end, c]
                d = key_walk[end, c] + along
                if g >= 0 and d <= limit:
                    _keep_two(walk, group, x, d, g)
    return walk, group


@njit(cache=True, nogil=True)
def same_chain_labels(labels, chains, sources, limit):
    """Merge into ``labels`` the walks along a chain from the sources inside it.

    ``labels`` is ``(walk, group)`` of shape ``(nodes, 2)``, updated in place.
    ``chains`` is ``(chain_start, interior_nodes, position)`` of the contraction (each
    chain's interior nodes a slice, in order along it). ``sources`` is ``(chain,
    source_ptr, slot, offset, group)``: the chains that hold sources, and the sources
    of ``chain[c]`` at ``source_ptr[c]:source_ptr[c + 1]`` of the others, sorted by slot
    (their node's place in ``interior_nodes``). A node at ``a`` is reached from a
    source at ``a_s`` in ``offset + |a - a_s|``: one sweep forwards keeps the best two
    distinct groups of ``offset - a_s`` among the sources behind, one backwards those
    of ``offset + a_s`` among the sources ahead.
    """
    walk, group = labels
    chain_start, interior_nodes, position = chains
    chain, source_ptr, slot, offset, source_group = sources
    best_w = np.empty((1, 2))
    best_g = np.empty((1, 2), np.int64)
    for c in range(len(chain)):
        lo, hi = chain_start[chain[c]], chain_start[chain[c] + 1]
        first, last = source_ptr[c], source_ptr[c + 1]
        for step in (1, -1):
            sign = float(step)
            best_w[:] = np.inf
            best_g[:] = -1
            s = first if step > 0 else last - 1
            for j in range(hi - lo):
                k = lo + j if step > 0 else hi - 1 - j
                while first <= s < last and slot[s] == k:
                    _keep_two(best_w, best_g, 0, offset[s] - sign * position[k], source_group[s])
                    s += step
                for b in range(2):
                    d = best_w[0, b] + sign * position[k]
                    if best_g[0, b] >= 0 and d <= limit:
                        _keep_two(walk, group, interior_nodes[k], d, best_g[0, b])
