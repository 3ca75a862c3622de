"""Contraction of degree-2 chains, to run the access Dijkstra on a smaller graph.

OSM street graphs keep every vertex of a way as a node, so most nodes have
exactly two neighbours. A shortest path can only enter or leave such a run of
degree-2 nodes at its ends, so Dijkstra needs only the *key* nodes (degree != 2)
and one edge per chain; distances inside a chain follow from those at its ends
(see :func:`lifecircle.access.nearest_distance`).

Definitions used here:

- *key node*: a node whose degree is not 2, plus one promoted node per cycle made
  only of degree-2 nodes (a ring road with no junction);
- *chain*: a maximal path ``u - i_1 - ... - i_k - v`` whose interior nodes
  ``i_1 .. i_k`` (k >= 1) all have degree 2 and whose ends ``u``, ``v`` are key
  nodes (``u == v`` for a loop hanging off a node);
- *position* ``a`` of an interior node: its distance from ``u`` along the chain;
  the chain's length ``L`` is the distance from ``u`` to ``v`` along it.

Everything is computed with numpy/scipy array operations; no Python loop over
nodes, edges or chains.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

#: Do not contract when more than this share of the nodes are key nodes: the
#: contracted graph would be barely smaller (street grids: ~100% key nodes).
MAX_KEY_FRACTION = 0.7


@dataclass(frozen=True, eq=False)
class ChainContraction:
    """A walk graph with its chains of degree-2 nodes contracted to single edges.

    Node arrays have one entry per graph node; chain arrays one per chain;
    ``interior_*`` arrays one per interior (non-key) node, sorted by chain and
    then by position along the chain, so every chain is a contiguous slice
    ``chain_start[c]:chain_start[c + 1]``.

    Attributes
    ----------
    key_nodes
        Graph node index of each key node, ascending; key node ``k`` is row
        ``k`` of ``adjacency``.
    key_index
        Per graph node: its row in ``adjacency``, or -1 for interior nodes.
    node_chain
        Per graph node: its chain id, or -1 for key nodes.
    node_position_m
        Per graph node: distance ``a`` from its chain's ``u`` end along the chain
        (0 for key nodes).
    node_to_v_m
        Per graph node: distance ``L - a`` to its chain's ``v`` end (0 for key nodes).
    node_u_key, node_v_key
        Per graph node: row in ``adjacency`` of its chain's ``u`` and ``v`` ends
        (for a key node: its own row), so that the distance of every node is
        ``min(d[node_u_key] + node_position_m, d[node_v_key] + node_to_v_m)``
        when no source lies inside its chain.
    node_slot
        Per graph node: its index in the ``interior_*`` arrays, or -1 for key nodes.
    chain_u, chain_v
        Graph node index of each chain's two ends (equal for a loop).
    chain_length_m
        Length ``L`` of each chain from ``u`` to ``v``.
    chain_start
        Shape ``(n_chains + 1,)``: where each chain's slice of the ``interior_*``
        arrays starts.
    interior_nodes
        Graph node index of each interior node, in chain-then-position order.
    interior_position_m
        Position ``a`` of each interior node, in the same order.
    adjacency
        Contracted symmetric CSR matrix on the key nodes: every edge between two
        key nodes and one edge of length ``L`` per chain with ``u != v``;
        parallel edges keep the shortest, loops are dropped.
    """

    key_nodes: np.ndarray
    key_index: np.ndarray
    node_chain: np.ndarray
    node_position_m: np.ndarray
    node_to_v_m: np.ndarray
    node_u_key: np.ndarray
    node_v_key: np.ndarray
    node_slot: np.ndarray
    chain_u: np.ndarray
    chain_v: np.ndarray
    chain_length_m: np.ndarray
    chain_start: np.ndarray
    interior_nodes: np.ndarray
    interior_position_m: np.ndarray
    adjacency: sp.csr_matrix

    @property
    def n_key(self) -> int:
        """Number of key nodes (rows of the contracted graph)."""
        return len(self.key_nodes)

    @property
    def n_chains(self) -> int:
        """Number of chains."""
        return len(self.chain_length_m)


def _directed_edges(adjacency: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored entries of a CSR matrix as ``(row, col, weight)``, self-loops removed."""
    n = adjacency.shape[0]
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(adjacency.indptr))
    cols = adjacency.indices.astype(np.int64)
    weight = np.asarray(adjacency.data, float)
    keep = rows != cols
    return rows[keep], cols[keep], weight[keep]


def _interior_components(
    n: int,
    rows: np.ndarray,
    cols: np.ndarray,
    interior: np.ndarray,
) -> tuple[int, np.ndarray, np.ndarray]:
    """Connected components of the subgraph induced by the interior nodes.

    Returns the number of components, the label of every node (key nodes are
    singleton components) and the mask of the directed interior-interior entries.
    """
    inner = interior[rows] & interior[cols]
    sub = sp.csr_matrix(
        (np.ones(int(inner.sum()), np.int8), (rows[inner], cols[inner])),
        shape=(n, n),
    )
    n_comp, label = connected_components(sub, directed=False)
    return n_comp, label.astype(np.int64), inner


def contract_chains(
    adjacency: sp.csr_matrix,
    *,
    max_key_fraction: float = MAX_KEY_FRACTION,
) -> ChainContraction | None:
    """Contract the chains of degree-2 nodes of a symmetric adjacency matrix.

    Parameters
    ----------
    adjacency
        Symmetric CSR matrix of positive edge lengths (both directions stored),
        as :attr:`lifecircle.network.WalkGraph.adjacency`. Self-loops are ignored.
    max_key_fraction
        Return ``None`` when more than this share of the nodes are key nodes.

    Returns
    -------
    ChainContraction or None
        ``None`` when contraction is not worth it.

    Examples
    --------
    A path 0 - 1 - 2 - 3 with edges of 1, 2 and 4 m has key nodes 0 and 3 and
    one chain of length 7:

    >>> import scipy.sparse as sp
    >>> u, v, w = [0, 1, 2, 1, 2, 3], [1, 2, 3, 0, 1, 2], [1.0, 2.0, 4.0, 1.0, 2.0, 4.0]
    >>> c = contract_chains(sp.csr_matrix((w, (u, v)), shape=(4, 4)))
    >>> c.key_nodes.tolist(), c.chain_length_m.tolist(), c.node_position_m.tolist()
    ([0, 3], [7.0], [0.0, 1.0, 3.0, 0.0])
    """
    n = adjacency.shape[0]
    adjacency = sp.csr_matrix(adjacency)
    if not _worth_trying(adjacency, max_key_fraction):
        return None
    rows, cols, weight = _directed_edges(adjacency)
    degree = np.bincount(rows, minlength=n)
    interior = degree == 2
    if (n - int(interior.sum())) > max_key_fraction * n:
        return None

    # cycles made only of degree-2 nodes: promote their smallest node to key
    label, inner = _promote_cycles(n, rows, cols, interior)
    interior_idx = np.flatnonzero(interior)
    is_key = ~interior
    key_nodes = np.flatnonzero(is_key)
    if len(key_nodes) > max_key_fraction * n:
        return None
    key_index = np.full(n, -1, np.int64)
    key_index[key_nodes] = np.arange(len(key_nodes))

    # chain ids 0..C-1 from the component labels of the interior nodes
    comp_labels, chain_of_interior = np.unique(label[interior_idx], return_inverse=True)
    n_chains = len(comp_labels)
    node_chain = np.full(n, -1, np.int64)
    node_chain[interior_idx] = chain_of_interior

    ends = _chain_ends(rows, cols, weight, is_key, node_chain=node_chain, n_chains=n_chains)
    node_position, chain_length = _chain_positions(
        n, (rows[inner], cols[inner], weight[inner]), interior_idx, ends
    )
    interior_nodes, node_slot, chain_start = _interior_order(
        n,
        interior_idx,
        node_chain=node_chain,
        node_position=node_position,
        chain_of_interior=chain_of_interior,
        n_chains=n_chains,
    )
    node_to_v = np.zeros(n)
    node_to_v[interior_idx] = chain_length[chain_of_interior] - node_position[interior_idx]
    node_u_key = key_index.copy()
    node_u_key[interior_idx] = key_index[ends.chain_u[chain_of_interior]]
    node_v_key = key_index.copy()
    node_v_key[interior_idx] = key_index[ends.chain_v[chain_of_interior]]
    contracted = _contracted_adjacency(
        rows, cols, weight, is_key, key_index=key_index, ends=ends, chain_length=chain_length
    )

    return ChainContraction(
        key_nodes=key_nodes,
        key_index=key_index,
        node_chain=node_chain,
        node_position_m=node_position,
        node_to_v_m=node_to_v,
        node_u_key=node_u_key,
        node_v_key=node_v_key,
        node_slot=node_slot,
        chain_u=ends.chain_u,
        chain_v=ends.chain_v,
        chain_length_m=chain_length,
        chain_start=chain_start,
        interior_nodes=interior_nodes,
        interior_position_m=node_position[interior_nodes],
        adjacency=contracted,
    )


class _ChainEnds(NamedTuple):
    """Both ends of every chain, by chain id."""

    start_node: np.ndarray  # first interior node (next to u)
    end_node: np.ndarray  # last interior node (next to v)
    chain_u: np.ndarray  # key node u
    chain_v: np.ndarray  # key node v
    u_weight: np.ndarray  # length of the edge start_node - u
    v_weight: np.ndarray  # length of the edge end_node - v


def _worth_trying(adjacency: sp.csr_matrix, max_key_fraction: float) -> bool:
    """Cheap early exit (street grids): whether enough rows could be degree-2 nodes."""
    n = adjacency.shape[0]
    # a degree-2 node has 2 stored entries, 3 with a self-loop
    row_length = np.diff(adjacency.indptr)
    maybe_interior = np.count_nonzero((row_length == 2) | (row_length == 3))
    return not (n == 0 or maybe_interior < (1.0 - max_key_fraction) * n)


def _promote_cycles(
    n: int,
    rows: np.ndarray,
    cols: np.ndarray,
    interior: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Make the smallest node of every cycle of degree-2 nodes a key node.

    Updates ``interior`` in place; returns the component label of every node
    and the mask of interior-interior entries, both for the updated ``interior``.
    """
    n_comp, label, inner = _interior_components(n, rows, cols, interior)
    interior_idx = np.flatnonzero(interior)
    n_members = np.bincount(label[interior_idx], minlength=n_comp)
    n_inner_edges = np.bincount(label[rows[inner]], minlength=n_comp) // 2
    is_cycle = (n_members > 0) & (n_inner_edges == n_members)
    if is_cycle.any():
        # interior_idx is ascending, so the first node seen per label is the smallest
        labels_seen, first = np.unique(label[interior_idx], return_index=True)
        promoted = interior_idx[first[is_cycle[labels_seen]]]
        interior[promoted] = False
        _, label, inner = _interior_components(n, rows, cols, interior)
    return label, inner


def _chain_ends(
    rows: np.ndarray,
    cols: np.ndarray,
    weight: np.ndarray,
    is_key: np.ndarray,
    *,
    node_chain: np.ndarray,
    n_chains: int,
) -> _ChainEnds:
    """The two interior -> key entries of every chain: the first is its u end."""
    # each chain (a path of interior nodes) has exactly two entries interior -> key:
    # the first (by node, then key node) is its u end, the second its v end
    exits = ~is_key[rows] & is_key[cols]
    exit_node, exit_key, exit_w = rows[exits], cols[exits], weight[exits]
    exit_chain = node_chain[exit_node]
    order = np.lexsort((exit_key, exit_node, exit_chain))
    exit_node, exit_key, exit_w = exit_node[order], exit_key[order], exit_w[order]
    if len(exit_node) != 2 * n_chains:  # pragma: no cover - a symmetric matrix guarantees it
        msg = "adjacency is not symmetric: a chain of degree-2 nodes does not have two ends"
        raise ValueError(msg)
    return _ChainEnds(
        start_node=exit_node[0::2],
        end_node=exit_node[1::2],
        chain_u=exit_key[0::2],
        chain_v=exit_key[1::2],
        u_weight=exit_w[0::2],
        v_weight=exit_w[1::2],
    )


def _chain_positions(
    n: int,
    inner_edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    interior_idx: np.ndarray,
    ends: _ChainEnds,
) -> tuple[np.ndarray, np.ndarray]:
    """Position ``a`` of every node (0 for key nodes) and length ``L`` of every chain.

    One Dijkstra on the chain forest from a virtual node joined to each chain's
    first interior node by its edge to u (each chain is a path, so the distance
    is the running sum along it).
    """
    inner_rows, inner_cols, inner_w = inner_edges
    sub_rows = np.concatenate([inner_rows, np.full(len(ends.start_node), n)])
    sub_cols = np.concatenate([inner_cols, ends.start_node])
    sub_w = np.concatenate([inner_w, ends.u_weight])
    forest = sp.csr_matrix((sub_w, (sub_rows, sub_cols)), shape=(n + 1, n + 1))
    position = dijkstra(forest, directed=True, indices=n)[:n]
    node_position = np.zeros(n)
    node_position[interior_idx] = position[interior_idx]
    chain_length = node_position[ends.end_node] + ends.v_weight
    return node_position, chain_length


def _interior_order(
    n: int,
    interior_idx: np.ndarray,
    *,
    node_chain: np.ndarray,
    node_position: np.ndarray,
    chain_of_interior: np.ndarray,
    n_chains: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interior nodes sorted by chain then position, each node's slot, each chain's start."""
    interior_nodes = interior_idx[
        np.lexsort((node_position[interior_idx], node_chain[interior_idx]))
    ]
    node_slot = np.full(n, -1, np.int64)
    node_slot[interior_nodes] = np.arange(len(interior_nodes))
    chain_start = np.zeros(n_chains + 1, np.int64)
    np.cumsum(np.bincount(chain_of_interior, minlength=n_chains), out=chain_start[1:])
    return interior_nodes, node_slot, chain_start


def _contracted_adjacency(
    rows: np.ndarray,
    cols: np.ndarray,
    weight: np.ndarray,
    is_key: np.ndarray,
    *,
    key_index: np.ndarray,
    ends: _ChainEnds,
    chain_length: np.ndarray,
) -> sp.csr_matrix:
    """Key-key edges plus one edge per non-loop chain, both ways, on the key nodes."""
    direct = is_key[rows] & is_key[cols]
    open_chain = ends.chain_u != ends.chain_v
    cu, cv = key_index[ends.chain_u[open_chain]], key_index[ends.chain_v[open_chain]]
    cl = chain_length[open_chain]
    c_rows = np.concatenate([key_index[rows[direct]], cu, cv])
    c_cols = np.concatenate([key_index[cols[direct]], cv, cu])
    c_w = np.concatenate([weight[direct], cl, cl])
    return _csr_keep_min(c_rows, c_cols, c_w, int(np.count_nonzero(is_key)))


def _csr_keep_min(rows: np.ndarray, cols: np.ndarray, weight: np.ndarray, n: int) -> sp.csr_matrix:
    """An ``n x n`` CSR matrix from COO entries, keeping the smallest of duplicate entries."""
    order = np.lexsort((weight, cols, rows))
    rows, cols, weight = rows[order], cols[order], weight[order]
    first = np.ones(len(rows), bool)
    first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
    rows, cols, weight = rows[first], cols[first], weight[first]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=n), out=indptr[1:])
    return sp.csr_matrix((weight, cols, indptr), shape=(n, n))


def segment_argmin_prefix(values: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Index of the running minimum of ``values``, restarted at every new segment.

    Parameters
    ----------
    values
        Floats (``inf`` allowed).
    segment
        Non-decreasing integer segment id per entry.

    Returns
    -------
    numpy.ndarray
        For every ``i``: the index ``j`` of a smallest ``values[j]`` with
        ``segment[j] == segment[i]`` and ``j <= i`` (among equal values, the first, so
        that the answer within a segment does not depend on the other segments).

    Notes
    -----
    Exact and vectorised: each value is replaced by its rank, and the key
    ``rank - segment * len(values)`` makes every entry of a later segment smaller
    than every entry of an earlier one, so a plain running minimum of the keys
    never looks back past the start of the current segment.

    Examples
    --------
    >>> segment_argmin_prefix(np.array([3.0, 1.0, 2.0, 5.0, 4.0]), np.array([0, 0, 0, 1, 1]))
    array([0, 1, 1, 3, 4])
    """
    m = len(values)
    if m == 0:
        return np.empty(0, np.int64)
    by_value = np.argsort(values, kind="stable")  # ties: the smallest index first
    rank = np.empty(m, np.int64)
    rank[by_value] = np.arange(m)
    shift = np.asarray(segment, np.int64) * m
    best = np.minimum.accumulate(rank - shift)
    return by_value[best + shift]
