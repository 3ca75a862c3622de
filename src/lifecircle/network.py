"""The walk graph: an undirected pedestrian network in a projected metric CRS.

:class:`WalkGraph` holds node coordinates, a symmetric CSR adjacency matrix of
edge lengths in metres and the undirected edge list with each edge's street
class. Builders: :func:`graph_from_osm` (PBF/XML), :func:`graph_from_graphml`
(osmnx) and :func:`graph_from_edges` (arrays, used by both and by tests);
:func:`grid_graph` makes synthetic street grids for tests and benchmarks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pyproj
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from .errors import CRSError, DataError, InputFileError, InputFormatError

if TYPE_CHECKING:
    import networkx as nx
    import shapely

    from ._contraction import ChainContraction
    from .snap import EdgeIndex

log = logging.getLogger(__name__)


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
        import shapely

        hull = shapely.convex_hull(shapely.multipoints(np.column_stack([self.x, self.y])))
        return cast("shapely.Geometry", hull)

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


# --------------------------------------------------------------------------- builders


def utm_crs_for(lon: np.ndarray, lat: np.ndarray) -> pyproj.CRS:
    """The UTM CRS of the centre of the given WGS-84 coordinates."""
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    aoi = AreaOfInterest(
        west_lon_degree=float(np.min(lon)),
        south_lat_degree=float(np.min(lat)),
        east_lon_degree=float(np.max(lon)),
        north_lat_degree=float(np.max(lat)),
    )
    infos = query_utm_crs_info(datum_name="WGS 84", area_of_interest=aoi)
    if not infos:
        msg = "could not find a UTM zone for the network; pass `crs=` explicitly"
        raise CRSError(msg)
    return pyproj.CRS.from_authority(infos[0].auth_name, infos[0].code)


def graph_from_edges(
    node_ids: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    *,
    crs: pyproj.CRS | str,
    edge_class: np.ndarray | None = None,
    edge_length: np.ndarray | None = None,
    to_crs: pyproj.CRS | str | None = None,
    keep_largest: bool = True,
    min_component_nodes: int | None = None,
    source: str = "<edges>",
) -> WalkGraph:
    """Build a :class:`WalkGraph` from node coordinates and an edge list.

    Parameters
    ----------
    node_ids
        Ids of the nodes (any integers).
    x, y
        Node coordinates in ``crs``.
    edge_u, edge_v
        Indices (0..n-1) into the node arrays.
    crs
        CRS of ``x``/``y``. Geographic coordinates are projected to ``to_crs``
        (default: the UTM zone of the data).
    edge_class
        Street class per edge (default ``"residential"``).
    edge_length
        Length per edge in metres; default: straight line in the projected CRS.
    to_crs
        Target projected CRS (default: keep a projected ``crs``, else UTM).
    keep_largest
        Keep only the largest connected component and report the rest.
    min_component_nodes
        With ``keep_largest``, also keep every other component of at least this
        many nodes (e.g. a district across a river without walkable crossings).
        Residents then reach only facilities of their own component.
    source
        Name used in error messages.

    Returns
    -------
    WalkGraph
        Self-loops removed, parallel edges merged keeping the shortest. Nodes
        with a NaN or infinite coordinate (also after projection) are dropped
        with their edges and counted in ``dropped["invalid_locations"]``.
    """
    crs = pyproj.CRS.from_user_input(crs)
    x, y, edge_u, edge_v, finite = _checked_arrays(
        node_ids, x, y, edge_u, edge_v, crs=crs, source=source
    )
    x, y, finite, target = _projected(x, y, finite, crs=crs, to_crs=to_crs, source=source)
    n_invalid = int((~finite).sum())
    if n_invalid:
        x, y, edge_u, edge_v, edge_length, edge_class = _drop_invalid_locations(
            finite,
            x,
            y,
            edge_u,
            edge_v,
            edge_length=edge_length,
            edge_class=edge_class,
            source=source,
        )
    classes = (
        np.full(len(edge_u), "residential", dtype=object)
        if edge_class is None
        else np.asarray(edge_class, dtype=object)
    )
    if edge_length is None:
        length = np.hypot(x[edge_u] - x[edge_v], y[edge_u] - y[edge_v])
    else:
        length = np.asarray(edge_length, float)
    lo, hi, length, classes = _merged_edges(edge_u, edge_v, length, classes, source=source)
    keep_node, keep_edge, dropped = _kept_components(
        lo,
        hi,
        n_nodes=len(x),
        keep_largest=keep_largest,
        min_component_nodes=min_component_nodes,
        n_invalid=n_invalid,
    )
    new_index = np.full(len(x), -1, np.int64)
    new_index[keep_node] = np.arange(int(keep_node.sum()))
    return WalkGraph(
        node_ids=np.asarray(node_ids)[keep_node],
        x=x[keep_node],
        y=y[keep_node],
        crs=target,
        edge_u=new_index[lo[keep_edge]],
        edge_v=new_index[hi[keep_edge]],
        edge_length=length[keep_edge],
        edge_class=classes[keep_edge],
        dropped=dropped,
    )


def _checked_arrays(
    node_ids: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    *,
    crs: pyproj.CRS,
    source: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The input as numpy arrays, and which nodes have a valid location in ``crs``.

    Raises :class:`DataError` for no edges, node arrays of different lengths, or
    no node with finite coordinates (inside the lon/lat range for a geographic CRS).
    """
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    edge_u = np.asarray(edge_u, np.int64)
    edge_v = np.asarray(edge_v, np.int64)
    if len(edge_u) == 0:
        msg = (
            f"{source}: the network has no walkable edges; check that the file holds "
            "streets (OSM ways with a `highway` tag) inside your study area"
        )
        raise DataError(msg)
    if not (len(x) == len(y) == len(node_ids)):
        msg = f"{source}: node_ids, x and y must have the same length"
        raise DataError(msg)
    finite = np.isfinite(x) & np.isfinite(y)
    if crs.is_geographic:
        with np.errstate(invalid="ignore"):
            finite &= (np.abs(y) <= 90.0) & (np.abs(x) <= 360.0)
    if not finite.any():
        msg = (
            f"{source}: no network node has a valid location (finite coordinates inside "
            f"the range of {crs.name}); check the file's coordinates and CRS"
        )
        raise DataError(msg)
    return x, y, edge_u, edge_v, finite


def _projected(
    x: np.ndarray,
    y: np.ndarray,
    finite: np.ndarray,
    *,
    crs: pyproj.CRS,
    to_crs: pyproj.CRS | str | None,
    source: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pyproj.CRS]:
    """Node coordinates in the target projected CRS, the updated validity mask, and the CRS.

    The target is ``to_crs``, else a projected ``crs``, else the UTM zone of the
    valid nodes. Nodes whose projection is not finite become invalid.
    """
    if to_crs is not None:
        target = pyproj.CRS.from_user_input(to_crs)
    elif crs.is_projected:
        target = crs
    else:
        target = utm_crs_for(x[finite], y[finite]) if crs.is_geographic else crs
    if not target.is_projected:
        msg = f"{source}: target CRS {target.name} is not projected; give a metric CRS"
        raise CRSError(msg)
    if target != crs:
        x, y = pyproj.Transformer.from_crs(crs, target, always_xy=True).transform(x, y)
        x, y = np.asarray(x, float), np.asarray(y, float)
        finite = finite & np.isfinite(x) & np.isfinite(y)
    return x, y, finite, target


def _drop_invalid_locations(
    finite: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    *,
    edge_length: np.ndarray | None,
    edge_class: np.ndarray | None,
    source: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Drop every edge touching a node without a valid location; zero those nodes' coordinates.

    The nodes themselves stay (as isolated nodes, removed later). Returns ``x, y,
    edge_u, edge_v, edge_length, edge_class``; raises :class:`DataError` when no
    edge is left.
    """
    n_invalid = int((~finite).sum())
    touching = ~(finite[edge_u] & finite[edge_v])
    edge_u, edge_v = edge_u[~touching], edge_v[~touching]
    if edge_length is not None:
        edge_length = np.asarray(edge_length, float)[~touching]
    if edge_class is not None:
        edge_class = np.asarray(edge_class, dtype=object)[~touching]
    x, y = np.where(finite, x, 0.0), np.where(finite, y, 0.0)
    log.info(
        "dropped %d nodes without a valid location and %d edges touching them",
        n_invalid,
        int(touching.sum()),
    )
    if len(edge_u) == 0:
        msg = (
            f"{source}: every walkable edge touches a node without a valid location "
            f"({n_invalid} such nodes); check the file's coordinates and CRS"
        )
        raise DataError(msg)
    return x, y, edge_u, edge_v, edge_length, edge_class


def _merged_edges(
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    length: np.ndarray,
    classes: np.ndarray,
    *,
    source: str,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Canonical undirected edges ``lo < hi``: no self-loops, the shortest of parallel edges.

    Returns ``lo, hi, length, classes`` sorted by ``(lo, hi)``; lengths are at
    least 1e-6 m. Raises :class:`DataError` when only self-loops were given.
    """
    lo, hi = np.minimum(edge_u, edge_v), np.maximum(edge_u, edge_v)
    ok = lo != hi
    lo, hi, length, classes = lo[ok], hi[ok], length[ok], classes[ok]
    order = np.lexsort((length, hi, lo))
    lo, hi, length, classes = lo[order], hi[order], length[order], classes[order]
    first = np.ones(len(lo), bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    lo, hi, length, classes = lo[first], hi[first], length[first], classes[first]
    # zero-length edges (duplicate coordinates) would vanish from a sparse matrix
    length = np.maximum(length, 1e-6)
    if len(lo) == 0:
        msg = (
            f"{source}: the network has no edges between distinct nodes (only self-loops); "
            "check that the file holds streets inside your study area"
        )
        raise DataError(msg)
    return lo, hi, length, classes


def _kept_components(
    lo: np.ndarray,
    hi: np.ndarray,
    *,
    n_nodes: int,
    keep_largest: bool,
    min_component_nodes: int | None,
    n_invalid: int,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Which nodes and edges to keep, and the ``dropped`` report.

    Nodes that carry an edge are kept; with ``keep_largest`` only those of the
    largest connected component and of components of at least
    ``min_component_nodes`` nodes. Returns ``(keep_node, keep_edge, dropped)``.
    """
    used = np.zeros(n_nodes, bool)
    used[lo] = True
    used[hi] = True
    dropped: dict[str, Any] = {
        "components": 0,
        "nodes": 0,
        "edges": 0,
        "isolated_nodes": int((~used).sum()),
        "invalid_locations": n_invalid,
    }
    if keep_largest:
        adj = sp.csr_matrix((np.ones(len(lo)), (lo, hi)), shape=(n_nodes, n_nodes))
        n_comp, labels = connected_components(adj, directed=False)
        sizes = np.bincount(labels[used], minlength=n_comp)
        keep_comp = np.arange(n_comp) == np.argmax(sizes)
        if min_component_nodes is not None:
            keep_comp |= sizes >= min_component_nodes
        keep_node = used & keep_comp[labels]
        dropped_sizes = sizes[(sizes > 0) & ~keep_comp]
        dropped["components"] = len(dropped_sizes)
        dropped["nodes"] = int((used & ~keep_node).sum())
        dropped["largest_dropped_component_nodes"] = int(dropped_sizes.max(initial=0))
        dropped["kept_components"] = int(keep_comp.sum())
    else:
        keep_node = used
    keep_edge = keep_node[lo] & keep_node[hi]
    dropped["edges"] = int((~keep_edge).sum())
    if dropped["components"]:
        log.info(
            "kept the largest connected component; dropped %d smaller components "
            "(%d nodes, %d edges)",
            dropped["components"],
            dropped["nodes"],
            dropped["edges"],
        )
    return keep_node, keep_edge, dropped


def graph_from_osm(
    path: str | Path,
    *,
    to_crs: pyproj.CRS | str | None = None,
    keep_largest: bool = True,
    min_component_nodes: int | None = None,
) -> WalkGraph:
    """Build the walk graph from an OSM file (``.osm.pbf``, ``.osm``, ``.osm.xml``, ``.bz2``).

    Ways with a walkable ``highway`` value are kept (see
    :data:`lifecircle.settings.WALKABLE_HIGHWAYS`), minus ``foot=no``,
    ``access=no|private``, ``motorroad=yes`` and areas. Every OSM vertex is a node.

    Examples
    --------
    >>> from lifecircle.datasets import get_path
    >>> g = graph_from_osm(get_path()["network"])
    >>> g.crs.to_epsg()
    32651
    """
    from .io.osm import read_walk_ways

    ways = read_walk_ways(path)
    graph = graph_from_edges(
        ways.node_ids,
        ways.lon,
        ways.lat,
        ways.edge_u,
        ways.edge_v,
        crs="EPSG:4326",
        edge_class=ways.edge_class,
        to_crs=to_crs,
        keep_largest=keep_largest,
        min_component_nodes=min_component_nodes,
        source=str(path),
    )
    graph.dropped["invalid_locations"] = (
        int(graph.dropped.get("invalid_locations", 0)) + ways.invalid_locations
    )
    return graph


def graph_from_graphml(
    path: str | Path,
    *,
    to_crs: pyproj.CRS | str | None = None,
    keep_largest: bool = True,
    min_component_nodes: int | None = None,
) -> WalkGraph:
    """Build the walk graph from an osmnx GraphML file (read with ``osmnx.load_graphml``).

    The same walkable filter as for OSM files applies to the edges: a GraphML made
    with ``osmnx.graph_from_xml`` holds every OSM way (landuse outlines, waterways,
    motorways) as edges, and only those with a walkable ``highway`` value (any of
    them, for osmnx's merged list values) and no ``foot``/``access`` ban are kept;
    what was dropped is counted in ``dropped["not_walkable_edges"]`` by class. A
    file whose edges carry no ``highway`` attribute at all is refused. Edges with
    a ``geometry`` (osmnx's simplified graphs) are split at its vertices, so that
    every edge is straight and a point can be snapped onto the street as drawn.
    Edge ``length`` attributes are used when present (osmnx stores metres; a split
    edge's pieces share it in proportion to their length); directed and parallel
    edges collapse to one undirected edge, the shortest. Node ids that are not
    integers (e.g. of consolidated graphs) are replaced by their position.
    """
    import osmnx as ox

    path = Path(path)
    if not path.is_file():
        msg = f"network file {str(path)!r} does not exist; check the path"
        raise InputFileError(msg)
    try:
        G = ox.load_graphml(path, node_dtypes={"osmid": str}, edge_dtypes={"osmid": str})
    except Exception as exc:  # noqa: BLE001 - any parse failure is a format error
        msg = f"{path}: not a readable osmnx GraphML file ({exc}); save it with ox.save_graphml"
        raise InputFormatError(msg) from None
    crs = G.graph.get("crs")
    if not crs:
        msg = f"{path}: the graph has no `crs` attribute; set G.graph['crs'] and save again"
        raise CRSError(msg)
    nodes = list(G.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    x = np.fromiter((G.nodes[n]["x"] for n in nodes), float, len(nodes))
    y = np.fromiter((G.nodes[n]["y"] for n in nodes), float, len(nodes))
    edges = list(G.edges(data=True))
    if edges and not any("highway" in d for _, _, d in edges):
        msg = (
            f"{path}: no edge has a `highway` attribute, so streets cannot be told from "
            "other ways (landuse outlines, rivers); build the graph with osmnx's "
            "graph_from_xml/graph_from_place, which keep the tags, or give the OSM file"
        )
        raise InputFormatError(msg)
    walkable = np.fromiter((_graphml_walkable(d) for _, _, d in edges), bool, len(edges))
    dropped_classes: dict[str, int] = {}
    for (_, _, d), ok in zip(edges, walkable, strict=True):
        if not ok:
            key = str(_first(d.get("highway")) or "(no highway)")
            dropped_classes[key] = dropped_classes.get(key, 0) + 1
    edges = [e for e, ok in zip(edges, walkable, strict=True) if ok]
    ids = np.array([_int_id(n, i) for i, n in enumerate(nodes)], dtype=np.int64)
    x, y, ids, u, v, hw, lengths, crs = _split_graphml_edges(
        edges, index, x, y, ids, crs=pyproj.CRS.from_user_input(crs), to_crs=to_crs
    )
    graph = graph_from_edges(
        ids,
        x,
        y,
        u,
        v,
        crs=crs,
        edge_class=hw,
        edge_length=lengths,
        keep_largest=keep_largest,
        min_component_nodes=min_component_nodes,
        source=str(path),
    )
    graph.dropped["not_walkable_edges"] = int(sum(dropped_classes.values()))
    graph.dropped["not_walkable_by_class"] = dict(sorted(dropped_classes.items()))
    if dropped_classes:
        log.info(
            "%s: dropped %d edges that are not walkable (%s)",
            path.name,
            sum(dropped_classes.values()),
            ", ".join(f"{k} {n}" for k, n in sorted(dropped_classes.items())),
        )
    return graph


def _first(value: Any) -> Any:
    """The first value of a tag that osmnx merged into a list (simplified ways)."""
    return value[0] if isinstance(value, list) and value else value


def _graphml_walkable(data: dict[str, Any]) -> bool:
    """The walkable-way rule of OSM files, for a GraphML edge (list values: any of them)."""
    from .settings import NOT_WALKABLE_TAGS, WALKABLE_HIGHWAYS

    def values(key: str) -> list[Any]:
        value = data.get(key)
        return value if isinstance(value, list) else [value]

    if not any(h in WALKABLE_HIGHWAYS for h in values("highway")):
        return False
    return not any(val in bad for key, bad in NOT_WALKABLE_TAGS.items() for val in values(key))


def _int_id(node: Any, position: int) -> int:
    try:
        return int(node)
    except (TypeError, ValueError):
        return position


def _split_graphml_edges(
    edges: list[tuple[Any, Any, dict[str, Any]]],
    index: dict[Any, int],
    x: np.ndarray,
    y: np.ndarray,
    ids: np.ndarray,
    *,
    crs: pyproj.CRS,
    to_crs: pyproj.CRS | str | None,
) -> tuple[
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray,
    np.ndarray | None,
    pyproj.CRS,
]:
    """Edges as straight pieces in a projected CRS: interior geometry vertices become nodes.

    Returns projected node coordinates, node ids (new nodes get ids after the
    largest), piece end indices, classes, lengths (``None`` when the file has no
    ``length``) and the projected CRS.
    """
    import shapely

    target = (
        pyproj.CRS.from_user_input(to_crs)
        if to_crs is not None
        else crs
        if crs.is_projected
        else utm_crs_for(x, y)
    )
    to_target = pyproj.Transformer.from_crs(crs, target, always_xy=True)
    px, py = (np.asarray(a, float) for a in to_target.transform(x, y))
    has_length = bool(edges) and all("length" in d for _, _, d in edges)
    new_x: list[np.ndarray] = []
    new_y: list[np.ndarray] = []
    u_out, v_out, cls, lengths = [], [], [], []
    next_node = len(px)
    seen: set[tuple[int, int, float]] = set()
    for a, b, d in edges:
        iu, iv = index[a], index[b]
        # osmnx stores each street both ways: split it once (the pieces are undirected)
        key = (min(iu, iv), max(iu, iv), round(float(d.get("length", -1.0)), 6))
        if d.get("geometry") is not None and key in seen:
            continue
        seen.add(key)
        hw = str(_first(d.get("highway")) or "unclassified")
        geom = d.get("geometry")
        coords = (
            np.asarray(shapely.get_coordinates(geom))[1:-1]
            if geom is not None and not isinstance(geom, str)
            else np.empty((0, 2))
        )
        if len(coords) == 0:
            u_out.append(iu)
            v_out.append(iv)
            cls.append(hw)
            lengths.append(float(d["length"]) if has_length else np.nan)
            continue
        gx, gy = (np.asarray(t, float) for t in to_target.transform(coords[:, 0], coords[:, 1]))
        chain = np.concatenate([[iu], np.arange(next_node, next_node + len(gx)), [iv]])
        next_node += len(gx)
        new_x.append(gx)
        new_y.append(gy)
        cx = np.concatenate([[px[iu]], gx, [px[iv]]])
        cy = np.concatenate([[py[iu]], gy, [py[iv]]])
        piece = np.hypot(np.diff(cx), np.diff(cy))
        if has_length:
            piece = piece * (float(d["length"]) / piece.sum()) if piece.sum() > 0 else piece
        u_out.extend(chain[:-1].tolist())
        v_out.extend(chain[1:].tolist())
        cls.extend([hw] * len(piece))
        lengths.extend(piece.tolist())
    n_new = next_node - len(px)
    all_x = np.concatenate([px, *new_x]) if n_new else px
    all_y = np.concatenate([py, *new_y]) if n_new else py
    first_new = int(ids.max()) + 1 if len(ids) else 0
    all_ids = np.concatenate([ids, np.arange(first_new, first_new + n_new, dtype=np.int64)])
    return (
        all_x,
        all_y,
        all_ids,
        np.asarray(u_out, np.int64),
        np.asarray(v_out, np.int64),
        np.asarray(cls, dtype=object),
        np.asarray(lengths) if has_length else None,
        target,
    )


def read_network(path: str | Path, **kwargs: Any) -> WalkGraph:
    """Build the walk graph from any supported file, chosen by its extension."""
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
