"""The nearest and second-nearest distinct facility of every point: two graph searches.

Redundancy figures (``second_<cat>_m``) need, per resident, the walk to the nearest
facility *other than* the nearest one, up to a radius wider than the catchment. Listing
every resident x facility pair up to that radius costs one bounded search per facility
over an area that grows with the radius squared; this costs two multi-source searches.

1. **Nearest.** One multi-source Dijkstra from a virtual node per facility (one-way
   edges to where its points enter the network, weighted by their offsets) gives each
   node ``v`` its nearest facility ``f1(v)`` at ``d1(v)`` (the facility's *cell*).
2. **Second nearest.** Let ``g`` be the facility nearest to ``v`` after ``f1(v)``, and
   follow a shortest walk from ``g`` to ``v``. Take the last node ``u`` on it outside
   ``v``'s cell and the next node ``u'`` (so the rest of the walk stays inside the
   cell). ``f1(u) != f1(v)`` and ``d1(u) <= d(g, u)``, so the walk that leaves ``f1(u)``,
   reaches ``u`` and steps to ``u'`` is no longer than ``g``'s up to there. Hence
   ``d2(v)`` is the shortest of: a *seed* at a node ``u'`` — ``d1(u) + w(u, u')`` over
   edges from another cell (including a facility's own virtual edge into another
   facility's cell) — plus a walk inside ``v``'s cell. Each seed is a real walk from a
   facility other than ``f1(v)``, so nothing shorter than the truth can come out. One
   multi-source Dijkstra from a virtual node per seeding facility, over the edges inside
   cells only, gives ``d2`` and ``f2`` at every node.

Most nodes lie inside chains of degree-2 nodes: when the graph has its chains
contracted (:attr:`lifecircle.network.WalkGraph.chains`), the labels of every node
come from one such search on the key nodes alone and a pass along the chains
(:mod:`lifecircle._nearest_two_chains`); they equal the full graph's up to the order
of summation (and which of two groups at equal walks comes first).

A point on an edge (the edge rule) takes the best two distinct facilities among those of
its two ends (plus the direct walk along its edge to a facility on the same edge): if
the second best came through end ``u`` but was not among ``u``'s two, both of those
would be distinct and at least as near, and one of them is not the point's nearest.

The result equals the two smallest distinct-facility distances of every resident's full
list of pairs (checked against :func:`lifecircle.access.group_distances` in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ._kernels import new_heap, points_from_ends, two_nearest_labels
from ._nearest_two_chains import contracted_labels
from ._site_distances import _EPS_M
from .snap import Snapped, same_edge_pairs

if TYPE_CHECKING:
    from .network import WalkGraph


@dataclass(frozen=True)
class NearestTwo:
    """Per point: nearest and second-nearest distinct facility (group) within the radius.

    ``nearest``/``second`` are group indices (-1: none within the radius), and
    ``nearest_m``/``second_m`` their walks in metres (NaN: none). Among equal walks the
    lower group index comes first.
    """

    nearest: np.ndarray
    nearest_m: np.ndarray
    second: np.ndarray
    second_m: np.ndarray


def nearest_two(
    graph: WalkGraph,
    sources: Snapped,
    source_group: np.ndarray,
    targets: Snapped,
    *,
    radius_m: float,
    n_groups: int,
) -> NearestTwo:
    """The nearest two distinct groups (facilities) of every target point within ``radius_m``.

    Same walking convention as :func:`lifecircle.access.group_distances` (offsets at both
    ends, the direct walk along a shared edge), from two multi-source searches instead of
    one search per group (see the module docstring for why they are exact).

    Parameters
    ----------
    graph
        The walk graph.
    sources, source_group
        The facilities' snapped points and the facility (group) of each.
    targets
        E.g. the residents, snapped.
    radius_m
        Largest walk reported.
    n_groups
        Number of groups (facilities).

    Returns
    -------
    NearestTwo
        One entry per target point.
    """
    n_t = len(targets)
    out_d = np.full((n_t, 2), np.inf)
    out_g = np.full((n_t, 2), -1, np.int64)
    source_group = np.asarray(source_group, np.int64)
    t_point = np.flatnonzero(targets.reachable)
    s_point, s_node, s_off = sources.entries()
    if len(s_point) and len(t_point) and radius_m >= 0:
        ends = _node_labels(graph, s_node, s_off, source_group[s_point], radius_m)
        _from_ends(targets, t_point, ends, out_d, out_g)
    ti, si, direct = same_edge_pairs(targets, sources)
    if len(ti):
        _with_direct(ti, source_group[si], direct, out_d, out_g)
    far = out_d > radius_m
    out_d[far] = np.inf
    out_g[far] = -1
    out_d[~np.isfinite(out_d)] = np.nan
    return NearestTwo(
        nearest=out_g[:, 0], nearest_m=out_d[:, 0], second=out_g[:, 1], second_m=out_d[:, 1]
    )


def _node_labels(
    graph: WalkGraph,
    s_node: np.ndarray,
    s_off: np.ndarray,
    s_grp: np.ndarray,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest and second-nearest distinct group per node: ``(walk, group)``, ``(n, 2)``.

    On the graph with its chains contracted when it has them
    (:func:`lifecircle._nearest_two_chains.contracted_labels`), else on the full graph
    (:func:`_full_labels`).
    """
    chains = graph.chains
    if chains is None:
        return _full_labels(graph, s_node, s_off, s_grp, limit)
    return contracted_labels(chains, s_node, s_off, s_grp, limit)


def _full_labels(
    graph: WalkGraph,
    s_node: np.ndarray,
    s_off: np.ndarray,
    s_grp: np.ndarray,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_node_labels` by the compiled search on the full graph (the reference)."""
    adj = graph.adjacency
    walk, group = two_nearest_labels(
        (adj.indptr, adj.indices, adj.data.astype(float, copy=False)),
        (np.asarray(s_node, np.int64), np.asarray(s_off, float), np.asarray(s_grp, np.int64)),
        new_heap(2 * adj.nnz + len(s_node) + 1),
        float(limit),
    )
    return walk[:, 2:], group[:, 2:]


def _from_ends(
    targets: Snapped,
    t_point: np.ndarray,
    labels: tuple[np.ndarray, np.ndarray],
    out_d: np.ndarray,
    out_g: np.ndarray,
) -> None:
    """Each reachable target's best two distinct groups among its two ends' labels."""
    points_from_ends(
        labels,
        (
            t_point.astype(np.int64),
            targets.node_u[t_point].astype(np.int64),
            targets.node_v[t_point].astype(np.int64),
            targets.offset_u_m[t_point].astype(float),
            targets.offset_v_m[t_point].astype(float),
        ),
        (out_d, out_g),
    )


def _with_direct(
    ti: np.ndarray, gi: np.ndarray, direct: np.ndarray, out_d: np.ndarray, out_g: np.ndarray
) -> None:
    """Merge direct walks along a shared edge into the rows they touch (few rows)."""
    rows = np.unique(ti)
    r = np.concatenate([rows, rows, ti])
    g = np.concatenate([out_g[rows, 0], out_g[rows, 1], gi])
    d = np.concatenate([out_d[rows, 0], out_d[rows, 1], np.maximum(direct, _EPS_M)])
    keep = g >= 0
    r, g, d = r[keep], g[keep], d[keep]
    order = np.lexsort((g, d, r))  # by row, then walk, then group
    r, g, d = r[order], g[order], d[order]
    first = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    count = np.diff(np.r_[first, len(r)])
    g1 = np.repeat(g[first], count)
    other = np.flatnonzero(g != g1)
    other = other[np.r_[True, r[other][1:] != r[other][:-1]]] if len(other) else other
    out_d[r[first], 0], out_g[r[first], 0] = d[first], g[first]
    out_d[rows, 1], out_g[rows, 1] = np.inf, -1
    out_d[r[other], 1], out_g[r[other], 1] = d[other], g[other]
