"""A partition's own piece of the walk graph: the edges within its halo, searched exactly.

:func:`clip_graph` cuts the city's walk graph down to what one partition needs and
keeps every distance its residents can measure bit-identical to the whole graph's:

1. **the edges within reach**: every edge whose straight segment lies within
   ``radius`` of the partition's area (its units and residents; a buffer drawn a
   little wider, :func:`reach_zone`, so a few more edges may come along). With ``radius`` =
   halo + snap limit, every edge a resident or a facility within the halo could snap
   to is kept, so snapping on the piece picks the same edge (ties: the smallest
   edge index; the piece keeps the edges in their order);
2. **whole chains**: the access search contracts chains of degree-2 nodes and sums
   their lengths from one end (:mod:`lifecircle._contraction`); a chain cut in two
   would be summed differently. Every chain with a node in step 1 is kept whole,
   with both its ends;
3. **whole neighbourhoods**: every neighbour of those nodes is kept too, so each of
   them keeps its degree, hence its role (key node or chain interior).

Inside that *faithful* part the piece has the same chains, the same key nodes and
the same edge lengths as the city's graph, in the same relative order; the search
on it decides contraction as the city's graph did (:class:`ClippedGraph`). A
shortest walk of at most the search cut-off from a resident never leaves the ball
of that radius around the resident (network distance is never shorter than the
straight line), so it runs through the faithful part only and sums the same
numbers in the same order: the distances are the same floats. Walks leaving the
faithful part are longer than the cut-off and end as NaN on both graphs.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import shapely

from .network import WalkGraph
from .snap import Snapped

if TYPE_CHECKING:
    from ._contraction import ChainContraction
    from .access import AccessPoints


@dataclass(frozen=True, eq=False)
class ClippedGraph(WalkGraph):
    """A piece of a walk graph that contracts its chains iff the whole graph did.

    ``contract`` is whether :attr:`WalkGraph.chains` of the whole graph was not
    ``None``: the choice depends on the share of degree-2 nodes of the whole graph,
    and the contracted and the plain search round differently.
    """

    contract: bool = True

    @cached_property
    def chains(self) -> ChainContraction | None:
        """The chain contraction, made whenever the whole graph made one."""
        from ._contraction import contract_chains

        if not self.contract:
            return None
        return contract_chains(self.adjacency, max_key_fraction=1.0)


@dataclass(frozen=True)
class Clip:
    """A clipped graph and how its nodes and edges map to the whole graph's.

    Attributes
    ----------
    graph
        The piece (node and edge order kept from the whole graph).
    nodes, edges
        Per node / edge of the piece: its index in the whole graph.
    node_map, edge_map
        Per node / edge of the whole graph: its index in the piece, or -1.
    faithful
        Number of nodes of the piece whose neighbourhood is complete.
    """

    graph: ClippedGraph
    nodes: np.ndarray
    edges: np.ndarray
    node_map: np.ndarray
    edge_map: np.ndarray
    faithful: int


def edge_tree(graph: WalkGraph) -> shapely.STRtree:
    """An STRtree of the graph's edges as straight segments (index = edge index)."""
    coords = np.stack(
        [
            np.column_stack([graph.x[graph.edge_u], graph.y[graph.edge_u]]),
            np.column_stack([graph.x[graph.edge_v], graph.y[graph.edge_v]]),
        ],
        axis=1,
    )
    return shapely.STRtree(np.asarray(shapely.linestrings(coords), dtype=object))


def clip_graph(
    graph: WalkGraph,
    area: shapely.Geometry,
    radius_m: float,
    *,
    tree: shapely.STRtree | None = None,
) -> Clip:
    """The piece of ``graph`` a partition of ``area`` needs for searches up to ``radius_m``.

    Parameters
    ----------
    graph
        The whole walk graph.
    area
        The partition's units and residents, in the graph's CRS.
    radius_m
        Keep every edge within this distance of ``area`` (the halo plus the snap
        limit), then whole chains and whole neighbourhoods (see the module docstring).
    tree
        :func:`edge_tree` of ``graph``, when several partitions are clipped.

    Returns
    -------
    Clip
        The piece and its index maps.
    """
    n = graph.n_nodes
    tree = edge_tree(graph) if tree is None else tree
    near = tree.query(reach_zone(area, radius_m), predicate="intersects")
    keep = np.zeros(n, bool)
    keep[graph.edge_u[near]] = True
    keep[graph.edge_v[near]] = True
    chains = graph.chains
    if chains is not None and keep.any():
        touched = np.zeros(chains.n_chains, bool)
        on_chain = chains.node_chain[keep]
        touched[on_chain[on_chain >= 0]] = True
        keep |= (chains.node_chain >= 0) & touched[chains.node_chain]
        keep[chains.chain_u[touched]] = True
        keep[chains.chain_v[touched]] = True
    faithful = np.flatnonzero(keep)
    adjacency = graph.adjacency
    keep[adjacency.indices[_row_slots(adjacency.indptr, faithful)]] = True
    nodes = np.flatnonzero(keep)
    node_map = np.full(n, -1, np.int64)
    node_map[nodes] = np.arange(len(nodes))
    edges = np.flatnonzero(keep[graph.edge_u] & keep[graph.edge_v])
    edge_map = np.full(graph.n_edges, -1, np.int64)
    edge_map[edges] = np.arange(len(edges))
    piece = ClippedGraph(
        node_ids=graph.node_ids[nodes],
        x=graph.x[nodes],
        y=graph.y[nodes],
        crs=graph.crs,
        edge_u=node_map[graph.edge_u[edges]],
        edge_v=node_map[graph.edge_v[edges]],
        edge_length=graph.edge_length[edges],
        edge_class=graph.edge_class[edges],
        dropped={},
        mode=graph.mode,
        contract=chains is not None,
    )
    return Clip(piece, nodes, edges, node_map, edge_map, len(faithful))


def reach_zone(area: shapely.Geometry, radius_m: float) -> shapely.Geometry:
    """A polygon holding every point within ``radius_m`` of ``area`` (a little more).

    ``shapely.buffer`` draws the round corners as chords, which cut inside the true
    buffer; the radius is enlarged so that the chords circumscribe the circle.
    """
    quad_segs = 8
    grown = radius_m / np.cos(np.pi / (4 * quad_segs)) + 1e-6 * max(radius_m, 1.0)
    zone = shapely.buffer(area, grown, quad_segs=quad_segs)
    shapely.prepare(zone)
    return zone


def _row_slots(indptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Positions in a CSR matrix's ``indices`` of every entry of ``rows`` (vectorised)."""
    start, stop = indptr[rows], indptr[rows + 1]
    size = stop - start
    offset = np.repeat(start - (np.cumsum(size) - size), size)
    return np.arange(int(size.sum())) + offset


def remap_snapped(snapped: Snapped, clip: Clip) -> Snapped:
    """``snapped`` (on the whole graph) with node and edge indices of the piece.

    Points whose edge or node is not in the piece get -1 there; they must be
    unreachable (checked by the caller for the residents).
    """
    edge = np.where(snapped.edge >= 0, clip.edge_map[np.maximum(snapped.edge, 0)], -1)
    return dataclasses.replace(
        snapped,
        edge=edge,
        node_u=clip.node_map[snapped.node_u],
        node_v=clip.node_map[snapped.node_v],
    )


def points_on_piece(points: AccessPoints, clip: Clip) -> np.ndarray:
    """Mask of the facility access points that enter the network on the piece."""
    snapped = points.snapped
    if snapped.rule == "node":
        return np.asarray(clip.node_map[snapped.node_u] >= 0)
    return np.asarray((snapped.edge >= 0) & (clip.edge_map[np.maximum(snapped.edge, 0)] >= 0))
