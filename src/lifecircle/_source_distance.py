"""Network distance from a set of sources to every node: one Dijkstra pass.

The passes behind :func:`lifecircle.access.nearest_distance`: a virtual source joined
to every distinct source node by an edge of its offset, then either one Dijkstra on
the full graph (:func:`_nearest_distance_full`, the reference) or one on the graph
with its degree-2 chains contracted (:func:`_contracted_distance`), the chain
interiors filled in afterwards from the chain ends and from the sources on the
chain itself.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from ._contraction import ChainContraction, segment_argmin_prefix
from ._site_distances import _EPS_M
from .network import WalkGraph


def _distinct_sources(
    source_nodes: np.ndarray,
    source_offset_m: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """One entry per distinct source node, with its smallest offset (at least ``_EPS_M``)."""
    source_nodes = np.asarray(source_nodes, np.int64)
    offsets = (
        np.zeros(len(source_nodes))
        if source_offset_m is None
        else np.asarray(source_offset_m, float)
    )
    order = np.lexsort((offsets, source_nodes))
    nodes, offsets = source_nodes[order], offsets[order]
    first = np.ones(len(nodes), bool)
    first[1:] = nodes[1:] != nodes[:-1]
    return nodes[first], np.maximum(offsets[first], _EPS_M)


def _with_virtual_source(
    adjacency: sp.csr_matrix,
    targets: np.ndarray,
    weights: np.ndarray,
) -> sp.csr_matrix:
    """``adjacency`` plus a last row (the virtual source) with edges to ``targets``."""
    n = adjacency.shape[0]
    index_dtype = np.promote_types(adjacency.indices.dtype, adjacency.indptr.dtype)
    if n + 1 + len(targets) + adjacency.nnz >= np.iinfo(index_dtype).max:
        index_dtype = np.dtype(np.int64)
    # arrays of the matrix's own index dtype, so scipy need not scan them to pick one
    indptr = np.append(adjacency.indptr, adjacency.indptr[-1] + len(targets)).astype(index_dtype)
    indices = np.concatenate([adjacency.indices, targets]).astype(index_dtype, copy=False)
    data = np.concatenate([adjacency.data, weights])
    return sp.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))


def _nearest_distance_full(
    graph: WalkGraph,
    source_nodes: np.ndarray,
    source_offset_m: np.ndarray | None = None,
    *,
    cutoff_m: float = np.inf,
) -> np.ndarray:
    """:func:`nearest_distance` by one Dijkstra on the full graph (the reference)."""
    n = graph.n_nodes
    nodes, offsets = _distinct_sources(source_nodes, source_offset_m)
    if len(nodes) == 0:
        return np.full(n, np.nan)
    augmented = _with_virtual_source(graph.adjacency, nodes, offsets)
    dist = dijkstra(augmented, directed=True, indices=n, limit=cutoff_m)[:n]
    dist[dist <= _EPS_M * 1.5] = 0.0
    dist[~np.isfinite(dist)] = np.nan
    return dist


def _contracted_distance(
    chains: ChainContraction,
    nodes: np.ndarray,
    offsets: np.ndarray,
    cutoff_m: float,
) -> np.ndarray:
    """Distances from distinct sources, by Dijkstra on the contracted graph.

    Returns raw distances: ``inf`` where not reached, and interior values may
    exceed ``cutoff_m``; the caller applies the cut-off and the zero rule.
    """
    key_of_source = chains.key_index[nodes]
    on_key = key_of_source >= 0
    inner_nodes, inner_offsets = nodes[~on_key], offsets[~on_key]
    # a source inside a chain reaches the chain's ends u and v along the chain
    targets = np.concatenate(
        [key_of_source[on_key], chains.node_u_key[inner_nodes], chains.node_v_key[inner_nodes]]
    )
    weights = np.concatenate(
        [
            offsets[on_key],
            inner_offsets + chains.node_position_m[inner_nodes],
            inner_offsets + chains.node_to_v_m[inner_nodes],
        ]
    )
    order = np.lexsort((weights, targets))
    targets, weights = targets[order], weights[order]
    first = np.ones(len(targets), bool)
    first[1:] = targets[1:] != targets[:-1]

    n_key = chains.n_key
    augmented = _with_virtual_source(chains.adjacency, targets[first], weights[first])
    key_dist = dijkstra(augmented, directed=True, indices=n_key, limit=cutoff_m)[:n_key]
    # every node from its chain's ends (a key node is its own u and v, at distance 0)
    dist = key_dist.take(chains.node_u_key)
    dist += chains.node_position_m
    to_v = key_dist.take(chains.node_v_key)
    to_v += chains.node_to_v_m
    np.minimum(dist, to_v, out=dist)
    if len(inner_nodes):
        _apply_same_chain_sources(chains, dist, inner_nodes, inner_offsets)
    return dist


def _apply_same_chain_sources(
    chains: ChainContraction,
    dist: np.ndarray,
    nodes: np.ndarray,
    offsets: np.ndarray,
) -> None:
    """Lower ``dist`` in place by the sources that lie inside a chain, along that chain.

    An interior node ``i`` is reached from a source ``s`` of its own chain in
    ``offset_s + |a_i - a_s|``. Over the chains that hold a source (their
    interior nodes in position order), a running minimum per chain of
    ``offset_s - a_s`` (forwards) and of ``offset_s + a_s`` (backwards) picks the
    best source on each side of ``i``.
    """
    # the sources in chain-then-position order, and the chains that hold them
    slot = chains.node_slot[nodes]
    order = np.argsort(slot)
    slot, offsets = slot[order], offsets[order]
    chain = chains.node_chain[nodes[order]]
    new_chain = np.ones(len(slot), bool)
    new_chain[1:] = chain[1:] != chain[:-1]
    used_chains = chain[new_chain]
    n_used = len(used_chains)
    local_chain = np.cumsum(new_chain) - 1
    # the interior nodes of those chains, one segment per chain
    start = chains.chain_start[used_chains]
    size = chains.chain_start[used_chains + 1] - start
    local_start = np.cumsum(size) - size
    n_local = int(local_start[-1] + size[-1])
    segment = np.repeat(np.arange(n_used), size)
    local_slot = np.arange(n_local) + np.repeat(start - local_start, size)
    position = chains.interior_position_m[local_slot]
    at = slot - start[local_chain] + local_start[local_chain]  # the sources, locally
    offset = np.full(n_local, np.inf)
    offset[at] = offsets

    # one running argmin over [forwards: offset - a | backwards, reversed: offset + a]
    key = np.full(2 * n_local, np.inf)
    key[at] = offsets - position[at]
    key[2 * n_local - 1 - at] = offsets + position[at]
    both_segments = np.concatenate([segment, (2 * n_used - 1) - segment[::-1]])
    best = segment_argmin_prefix(key, both_segments)
    before = best[:n_local]  # best source at or before each node
    after = 2 * n_local - 1 - best[n_local:][::-1]  # best source at or after each node
    via_chain = offset[before] + (position - position[before])
    np.minimum(via_chain, offset[after] + (position[after] - position), out=via_chain)
    interior = chains.interior_nodes[local_slot]
    dist[interior] = np.minimum(dist[interior], via_chain)
