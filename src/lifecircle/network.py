"""The walk graph: an undirected pedestrian network in a projected metric CRS.

:class:`WalkGraph` holds node coordinates, a symmetric CSR adjacency matrix of
edge lengths in metres and the undirected edge list with each edge's street
class. Builders: :func:`graph_from_osm` (PBF/XML), :func:`graph_from_graphml`
(osmnx) and :func:`graph_from_edges` (arrays, used by both and by tests);
:func:`grid_graph` makes synthetic street grids for tests and benchmarks. The
builders live in ``_graph_build.py`` (arrays, OSM) and ``_graphml.py`` and are
re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyproj
import scipy.sparse as sp
from scipy.spatial import cKDTree

from ._graph_build import graph_from_edges, graph_from_osm
from ._graph_build import utm_crs_for as utm_crs_for
from ._graphml import graph_from_graphml
from .errors import InputFileError, InputFormatError

if TYPE_CHECKING:
    import networkx as nx
    import shapely

    from ._contraction import ChainContraction
    from .snap import EdgeIndex


def convex_hull_of(xy: np.ndarray) -> shapely.Geometry:
    """The convex hull of points ``(n, 2)``, as GEOS makes it (:func:`shapely.convex_hull`).

    GEOS is given only the hull's vertices, found by Qhull (:class:`scipy.spatial.ConvexHull`):
    the same polygon, without building a multipoint of every node (1.1 s -> 0.16 s for a
    million points). Fewer than three points, or all on one line, go to GEOS whole.
    """
    import shapely
    from scipy.spatial import ConvexHull, QhullError

    try:
        xy = xy[ConvexHull(xy).vertices] if len(xy) >= 3 else xy
    except QhullError:  # collinear or repeated points: GEOS makes the line or the point
        pass
    return cast("shapely.Geometry", shapely.convex_hull(shapely.multipoints(xy)))


@dataclass(frozen=True, eq=False)
class WalkGraph:
    """An undirected walk network with edge lengths in metres.

    Attributes
    ----------
    node_ids
        Original ids of the nodes (OSM node ids, or 0..n-1).
    x, y
        Node coordinates in ``crs`` (metres).
    crs
        A projected metric CRS.
    edge_u, edge_v
        Node indices of each undirected edge (``edge_u < edge_v``).
    edge_length
        Length of each edge in metres.
    edge_class
        Street class of each edge (OSM ``highway`` value), as an object array.
    dropped
        What was removed while building: ``components``, ``nodes``, ``edges``,
        ``invalid_locations`` (nodes without a valid coordinate, skipped).
    mode
        The travel mode whose network filter chose the edges (``walk``, ``bicycle``
        or ``ebike``); the class keeps its name for every mode.
    """

    node_ids: np.ndarray
    x: np.ndarray
    y: np.ndarray
    crs: pyproj.CRS
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length: np.ndarray
    edge_class: np.ndarray
    dropped: dict[str, Any] = field(default_factory=dict)
    mode: str = "walk"

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.x)

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return len(self.edge_u)

    @cached_property
    def adjacency(self) -> sp.csr_matrix:
        """Symmetric CSR matrix of edge lengths (both directions stored)."""
        n = self.n_nodes
        rows = np.concatenate([self.edge_u, self.edge_v])
        cols = np.concatenate([self.edge_v, self.edge_u])
        data = np.concatenate([self.edge_length, self.edge_length])
        return sp.csr_matrix((data, (rows, cols)), shape=(n, n))

    @cached_property
    def chains(self) -> ChainContraction | None:
        """The graph with its chains of degree-2 nodes contracted, or ``None``.

        Used by :func:`lifecircle.access.nearest_distance` to run Dijkstra on the
        key nodes only. ``None`` when contraction is not worth it (more than 70% of
        the nodes have a degree other than 2, as in a street grid).
        """
        from ._contraction import contract_chains

        return contract_chains(self.adjacency)

    @cached_property
    def edge_index(self) -> EdgeIndex:
        """The edges cut into short pieces in a KD-tree, for the nearest-edge search.

        Built on first use by :func:`lifecircle.snap.build_edge_index`.
        """
        from .snap import build_edge_index

        return build_edge_index(self)

    @cached_property
    def _tree(self) -> cKDTree:
        return cKDTree(np.column_stack([self.x, self.y]))

    def nearest_nodes(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index of the nearest node to each point, and the straight-line distance to it.

        Parameters
        ----------
        x, y
            Coordinates in the graph's CRS.

        Returns
        -------
        tuple of numpy.ndarray
            ``(node_index, distance_m)``.
        """
        pts = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
        if len(pts) == 0:
            return np.empty(0, dtype=np.int64), np.empty(0)
        dist, idx = self._tree.query(pts, k=1)
        return idx.astype(np.int64), dist

    def node_weights(self, classes: frozenset[str] | None = None) -> np.ndarray:
        """Half the length of the incident edges of each node, optionally of some classes only.

        Summed over all nodes this equals the total street length, so it is a
        length-based weight for dasymetric allocation.
        """
        keep = np.ones(self.n_edges, bool)
        if classes is not None:
            keep = np.isin(self.edge_class, list(classes))
        half = self.edge_length[keep] / 2.0
        w = np.bincount(self.edge_u[keep], weights=half, minlength=self.n_nodes)
        w += np.bincount(self.edge_v[keep], weights=half, minlength=self.n_nodes)
        return w

    def extent(self) -> shapely.Geometry:
        """Convex hull of the nodes, in the graph's CRS: the extent of the street data."""
        return self._hull

    @cached_property
    def _hull(self) -> shapely.Geometry:
        return convex_hull_of(np.column_stack([self.x, self.y]))

    def to_networkx(self) -> nx.Graph:
        """Export as an undirected :class:`networkx.Graph`.

        Nodes are 0..n-1 with attributes ``x``, ``y`` and ``osmid``; edges carry
        ``length`` (metres) and ``highway``; the graph attribute ``crs`` is the CRS.

        Examples
        --------
        >>> g = grid_graph(2, 2, spacing_m=100.0)
        >>> G = g.to_networkx()
        >>> G.number_of_nodes(), G.number_of_edges()
        (4, 4)
        """
        import networkx as nx

        G = nx.Graph(crs=self.crs.to_string())
        G.add_nodes_from(
            (int(i), {"x": float(x), "y": float(y), "osmid": int(o)})
            for i, (x, y, o) in enumerate(zip(self.x, self.y, self.node_ids, strict=True))
        )
        G.add_edges_from(
            (int(u), int(v), {"length": float(d), "highway": str(c)})
            for u, v, d, c in zip(
                self.edge_u, self.edge_v, self.edge_length, self.edge_class, strict=True
            )
        )
        return G

    def summary(self) -> dict[str, Any]:
        """Size and what was dropped, for ``summary.json``."""
        return {
            "nodes": self.n_nodes,
            "edges": self.n_edges,
            "length_km": round(float(self.edge_length.sum()) / 1000.0, 3),
            "crs": self.crs.to_string(),
            "dropped_components": int(self.dropped.get("components", 0)),
            "dropped_nodes": int(self.dropped.get("nodes", 0)),
            "dropped_edges": int(self.dropped.get("edges", 0)),
            "largest_dropped_component_nodes": int(
                self.dropped.get("largest_dropped_component_nodes", 0)
            ),
            "kept_components": int(self.dropped.get("kept_components", 1)),
            "invalid_locations": int(self.dropped.get("invalid_locations", 0)),
        }


def read_network(path: str | Path, **kwargs: Any) -> WalkGraph:
    """Build the walk graph from any supported file, chosen by its extension.

    Keyword arguments go to the builder, e.g. ``mode="bicycle"`` for the cycling
    network of the same file.
    """
    path = Path(path)
    if not path.exists():
        msg = f"network file {str(path)!r} does not exist; check the path given to --network"
        raise InputFileError(msg)
    name = path.name.lower()
    if name.endswith(".graphml"):
        return graph_from_graphml(path, **kwargs)
    if name.endswith((".osm.pbf", ".pbf", ".osm", ".osm.xml", ".xml", ".osm.bz2", ".xml.bz2")):
        return graph_from_osm(path, **kwargs)
    msg = (
        f"{path}: unsupported network format; give an OpenStreetMap file (.osm.pbf, .osm, "
        ".osm.xml, optionally .bz2) or an osmnx .graphml file"
    )
    raise InputFormatError(msg)


def grid_graph(
    n_rows: int,
    n_cols: int,
    *,
    spacing_m: float = 100.0,
    origin: tuple[float, float] = (0.0, 0.0),
    crs: str = "EPSG:32651",
) -> WalkGraph:
    """A regular street grid of ``n_rows x n_cols`` nodes, for tests and benchmarks.

    Node ``r * n_cols + c`` sits at ``(origin_x + c * spacing, origin_y + r * spacing)``.
    """
    r, c = np.divmod(np.arange(n_rows * n_cols), n_cols)
    x = origin[0] + c * spacing_m
    y = origin[1] + r * spacing_m
    idx = np.arange(n_rows * n_cols).reshape(n_rows, n_cols)
    horiz_u, horiz_v = idx[:, :-1].ravel(), idx[:, 1:].ravel()
    vert_u, vert_v = idx[:-1, :].ravel(), idx[1:, :].ravel()
    return graph_from_edges(
        np.arange(n_rows * n_cols),
        x,
        y,
        np.concatenate([horiz_u, vert_u]),
        np.concatenate([horiz_v, vert_v]),
        crs=crs,
        source="grid",
    )
