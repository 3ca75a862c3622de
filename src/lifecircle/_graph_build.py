"""Builders of the walk graph from arrays and from OpenStreetMap files.

:func:`graph_from_edges` checks, projects and merges an edge list and keeps the
large connected components; :func:`graph_from_osm` feeds it an OSM file's walkable
ways. All are re-exported by :mod:`lifecircle.network`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .errors import CRSError, DataError

if TYPE_CHECKING:
    from .network import WalkGraph

#: The builders log as ``lifecircle.network``, the module that exports them.
log = logging.getLogger("lifecircle.network")


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
    from .network import WalkGraph  # here: lifecircle.network imports this module

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
    mode: str = "walk",
) -> WalkGraph:
    """Build the walk graph from an OSM file (``.osm.pbf``, ``.osm``, ``.osm.xml``, ``.bz2``).

    Ways with a walkable ``highway`` value are kept (see
    :data:`lifecircle.settings.WALKABLE_HIGHWAYS`), minus ``foot=no``,
    ``access=no|private``, ``motorroad=yes`` and areas. Every OSM vertex is a node.
    With ``mode="bicycle"`` (or ``"ebike"``) the cycling network is built instead:
    cycleways, tracks and roads open to cycles, footway-only links only with
    ``bicycle=yes|designated|permissive``, motorways never (see
    :func:`lifecircle._mode_filter.way_allowed`).

    Examples
    --------
    >>> from lifecircle.datasets import get_path
    >>> g = graph_from_osm(get_path()["network"])
    >>> g.crs.to_epsg()
    32651
    """
    from .io.osm import read_walk_ways

    ways = read_walk_ways(path, mode=mode)
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
    graph = dataclasses.replace(graph, mode=mode)
    graph.dropped["invalid_locations"] = (
        int(graph.dropped.get("invalid_locations", 0)) + ways.invalid_locations
    )
    return graph
