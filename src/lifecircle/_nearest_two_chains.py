"""The nearest two distinct groups of every node, searched on the contracted graph.

:func:`lifecircle._nearest_two.nearest_two` labels every node with its nearest and
second-nearest distinct group. Most nodes of an OSM walk graph lie inside chains of
degree-2 nodes (:mod:`lifecircle._contraction`), and a walk can enter or leave a chain
only at its two ends, so the two-label search runs on the key nodes alone:

1. **Key nodes.** A source entry on a key node is kept; one inside a chain enters the
   contracted graph at the chain's two ends ``u`` and ``v``, with its offset plus the
   walk to each along the chain. The key nodes' labels are then those of the full
   graph (every walk between key nodes runs along whole chains).
2. **Chain interiors.** A node at ``a`` on a chain ``u .. v`` of length ``L`` takes
   its best two distinct groups among ``u``'s two labels ``+ a``, ``v``'s two
   ``+ (L - a)`` and the sources inside its own chain, at ``offset + |a - a_s|``
   along it. That is exact for the same reason as the edge rule of ``nearest_two``:
   a group reaching the node through ``u`` but not among ``u``'s two is beaten there
   by two distinct groups, one of them not the node's nearest.

Among equal walks the lower group comes first; walks beyond the limit are dropped.
"""

from __future__ import annotations

import numpy as np

from ._contraction import ChainContraction
from ._kernels import chain_end_labels, new_heap, same_chain_labels, two_nearest_labels


def contracted_labels(
    chains: ChainContraction,
    s_node: np.ndarray,
    s_off: np.ndarray,
    s_grp: np.ndarray,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest and second-nearest distinct group of every graph node, via the contraction.

    Parameters
    ----------
    chains
        The walk graph's chain contraction (:attr:`lifecircle.network.WalkGraph.chains`).
    s_node, s_off, s_grp
        Per source entry: graph node, walk already made (metres) and group.
    limit
        Largest walk labelled.

    Returns
    -------
    tuple of numpy.ndarray
        ``(walk, group)``, each of shape ``(graph nodes, 2)``: nearest then second
        nearest (inf and -1: none within ``limit``).
    """
    s_node = np.asarray(s_node, np.int64)
    s_off = np.asarray(s_off, float)
    s_grp = np.asarray(s_grp, np.int64)
    key_labels = _key_labels(chains, s_node, s_off, s_grp, limit)
    labels = chain_end_labels(
        key_labels,
        (chains.node_u_key, chains.node_v_key, chains.node_position_m, chains.node_to_v_m),
        float(limit),
    )
    inside = chains.key_index[s_node] < 0
    if inside.any():
        same_chain_labels(
            labels,
            (chains.chain_start, chains.interior_nodes, chains.interior_position_m),
            _chain_sources(chains, s_node[inside], s_off[inside], s_grp[inside]),
            float(limit),
        )
    return labels


def _key_labels(
    chains: ChainContraction,
    s_node: np.ndarray,
    s_off: np.ndarray,
    s_grp: np.ndarray,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The two-label search on the key nodes; sources inside a chain enter at its ends."""
    key = chains.key_index[s_node]
    on_key = key >= 0
    inner = s_node[~on_key]
    node = np.concatenate([key[on_key], chains.node_u_key[inner], chains.node_v_key[inner]])
    off = np.concatenate(
        [
            s_off[on_key],
            s_off[~on_key] + chains.node_position_m[inner],
            s_off[~on_key] + chains.node_to_v_m[inner],
        ]
    )
    grp = np.concatenate([s_grp[on_key], s_grp[~on_key], s_grp[~on_key]])
    adj = chains.adjacency
    return two_nearest_labels(
        (adj.indptr, adj.indices, adj.data.astype(float, copy=False)),
        (node, off, grp),
        new_heap(2 * adj.nnz + len(node) + 1),
        float(limit),
    )


def _chain_sources(
    chains: ChainContraction,
    s_node: np.ndarray,
    s_off: np.ndarray,
    s_grp: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The sources inside chains, by chain then position: :func:`same_chain_labels`' input."""
    slot = chains.node_slot[s_node]
    order = np.argsort(slot, kind="stable")
    slot = slot[order]
    chain = chains.node_chain[s_node[order]]
    new_chain = np.flatnonzero(np.r_[True, chain[1:] != chain[:-1]])
    source_ptr = np.append(new_chain, len(slot)).astype(np.int64)
    return chain[new_chain], source_ptr, slot, s_off[order], s_grp[order]
