"""Builder of the walk graph from an osmnx GraphML file.

:func:`graph_from_graphml` applies the OSM walkable-way rule to the GraphML edges,
splits curved edges at their vertices and hands the result to
:func:`~lifecircle.network.graph_from_edges`. Re-exported by :mod:`lifecircle.network`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyproj

from ._graph_build import graph_from_edges, utm_crs_for
from .errors import CRSError, InputFileError, InputFormatError

if TYPE_CHECKING:
    from .network import WalkGraph

#: The builders log as ``lifecircle.network``, the module that exports them.
log = logging.getLogger("lifecircle.network")


def graph_from_graphml(
    path: str | Path,
    *,
    to_crs: pyproj.CRS | str | None = None,
    keep_largest: bool = True,
    min_component_nodes: int | None = None,
    mode: str = "walk",
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
    ``mode`` (``walk``, ``bicycle``, ``ebike``) chooses the network filter
    (:func:`lifecircle._mode_filter.way_allowed`); for cycling, edges keep their
    ``bicycle`` attribute when osmnx was told to keep it (``useful_tags_way``).
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
    walkable = np.fromiter((_graphml_walkable(d, mode) for _, _, d in edges), bool, len(edges))
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
    graph = dataclasses.replace(graph, mode=mode)
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


def _graphml_walkable(data: dict[str, Any], mode: str = "walk") -> bool:
    """The way rule of OSM files for ``mode``, for a GraphML edge (list values: any of them)."""
    from ._mode_filter import way_allowed

    def values(key: str) -> list[Any]:
        value = data.get(key)
        return value if isinstance(value, list) else [value]

    return way_allowed(mode, values)


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
