"""Street blocks (街坊): the faces enclosed by the walk network and the study boundary.

The geometry behind :func:`lifecircle.blocks.street_blocks` (re-exported there): the
network's edges and the boundary are polygonized, and slivers are merged into the
neighbour with the longest shared boundary. Waterways and railways are not in the walk
graph, so blocks are bounded by walkable ways and the boundary only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from .errors import InputFormatError

if TYPE_CHECKING:
    from .network import WalkGraph

#: Default smallest street block (m2). A residential block (居住街坊) of GB 50180-2018
#: holds 1,000-3,000 residents on roughly 2-4 ha; a face under 2,000 m2 (0.2 ha, e.g.
#: 45 m x 45 m) is a traffic island, a slip-lane triangle or the gap between a street
#: and its footway, not a block anyone lives in.
MIN_BLOCK_AREA_M2 = 2_000.0

#: Default smallest mean width (m) of a street block, ``2 * area / perimeter`` (for a
#: long strip this is its width): strips narrower than 10 m are the medians of dual
#: carriageways or the space between a road and a parallel footway mapped apart.
MIN_BLOCK_WIDTH_M = 10.0


def _checked_boundary(boundary: object, crs: object) -> shapely.Geometry:
    geom = boundary
    if isinstance(boundary, gpd.GeoSeries | gpd.GeoDataFrame):
        series = boundary.geometry if isinstance(boundary, gpd.GeoDataFrame) else boundary
        if series.crs is not None and crs is not None:
            series = series.to_crs(crs)
        geom = shapely.union_all(series.to_numpy())
    if not isinstance(geom, shapely.Geometry):
        msg = f"study boundary: expected a shapely polygon, got {type(boundary).__name__}"
        raise InputFormatError(msg)
    geom = shapely.make_valid(geom)
    polys = shapely.get_parts(geom)
    polys = polys[shapely.get_type_id(polys) == 3]  # Polygon
    area = float(shapely.area(polys).sum()) if len(polys) else 0.0
    if area <= 0:
        msg = (
            "study boundary: it has no area (empty, a point or a line); give the polygon "
            "of the study area in the walk graph's CRS, e.g. the union of the analysed units"
        )
        raise InputFormatError(msg)
    return shapely.multipolygons(polys) if len(polys) > 1 else polys[0]


def _edge_lines(graph: WalkGraph, boundary: shapely.Geometry) -> np.ndarray:
    """The walk graph's edges (straight segments) that touch the boundary's polygon."""
    coords = np.stack(
        [
            np.column_stack([graph.x[graph.edge_u], graph.y[graph.edge_u]]),
            np.column_stack([graph.x[graph.edge_v], graph.y[graph.edge_v]]),
        ],
        axis=1,
    )
    lines = np.asarray(shapely.linestrings(coords), dtype=object)
    tree = shapely.STRtree(lines)
    return np.asarray(lines[np.sort(tree.query(boundary, predicate="intersects"))])


def _faces(lines: np.ndarray, boundary: shapely.Geometry) -> np.ndarray:
    """Faces of the arrangement of ``lines`` and the boundary's rings inside the boundary."""
    rings = shapely.get_parts(shapely.boundary(boundary))
    noded = shapely.union_all(np.concatenate([lines, rings]))  # nodes crossing lines
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    faces = faces[shapely.area(faces) > 0]
    # the boundary's rings are among the lines, so a face lies wholly inside or outside
    inside = shapely.intersects(boundary, shapely.point_on_surface(faces))
    return np.asarray(faces[inside])


def _shared_lengths(
    geoms: np.ndarray, tolerance_m: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs ``i < j`` of polygons whose boundaries share a length > 0, and that length."""
    tree = shapely.STRtree(geoms)
    if tolerance_m > 0:
        i, j = tree.query(geoms, predicate="dwithin", distance=tolerance_m)
    else:
        i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if not len(i):
        return i, j, np.empty(0)
    bi = shapely.boundary(geoms[i])
    shared = shapely.length(shapely.intersection(bi, shapely.boundary(geoms[j])))
    if tolerance_m > 0:
        # across a hairline gap: the boundary within the tolerance of the other polygon,
        # less what the tolerance adds at the two ends of the stretch
        near = shapely.length(shapely.intersection(bi, shapely.buffer(geoms[j], tolerance_m)))
        shared = np.maximum(shared, near - 2.0 * tolerance_m)
    pos = shared > 0
    return i[pos], j[pos], shared[pos]


def _merge_slivers(
    geoms: np.ndarray, min_area_m2: float, min_width_m: float, max_rounds: int = 50
) -> tuple[np.ndarray, int]:
    """Merge each sliver into the neighbour with the longest shared boundary, in rounds."""
    merged = 0
    for _ in range(max_rounds):
        area = shapely.area(geoms)
        width = 2.0 * area / np.maximum(shapely.length(geoms), 1e-12)
        sliver = (area < min_area_m2) | (width < min_width_m)
        if not sliver.any() or len(geoms) < 2:
            break
        i, j, shared = _shared_lengths(geoms)
        # both directions; per sliver its neighbour with the longest shared boundary
        # (ties: the lowest index), as a pointer; non-slivers point at themselves
        src = np.concatenate([i, j])
        dst = np.concatenate([j, i])
        length = np.concatenate([shared, shared])
        pick = sliver[src]
        src, dst, length = src[pick], dst[pick], length[pick]
        order = np.lexsort((dst, -length, src))
        src, dst = src[order], dst[order]
        first = np.ones(len(src), bool)
        first[1:] = src[1:] != src[:-1]
        target = np.arange(len(geoms))
        target[src[first]] = dst[first]
        # mutual best neighbours (2-cycles, the only cycles of an argmax over symmetric
        # weights): the lower index becomes the root
        two = (target[target] == np.arange(len(geoms))) & (target != np.arange(len(geoms)))
        target[two & (np.arange(len(geoms)) < target)] = np.flatnonzero(
            two & (np.arange(len(geoms)) < target)
        )
        for _ in range(len(geoms)):  # pointer jumping: log2(chain length) rounds
            nxt = target[target]
            if np.array_equal(nxt, target):
                break
            target = nxt
        roots, label = np.unique(target, return_inverse=True)
        if len(roots) == len(geoms):  # slivers without neighbours: nothing to merge
            break
        merged += len(geoms) - len(roots)
        geoms = _union_by_label(geoms, label, len(roots))
    return geoms, merged


def _union_by_label(geoms: np.ndarray, label: np.ndarray, n: int) -> np.ndarray:
    """Union of the polygons of each label (labels 0..n-1), in label order."""
    out = np.empty(n, dtype=object)
    order = np.argsort(label, kind="stable")
    starts = np.searchsorted(label[order], np.arange(n + 1))
    single = np.diff(starts) == 1
    out[single] = geoms[order[starts[:-1][single]]]
    for k in np.flatnonzero(~single):  # only the groups that merge
        part = geoms[order[starts[k] : starts[k + 1]]]
        out[k] = shapely.coverage_union_all(part)
    return np.asarray(shapely.make_valid(out))


def street_blocks(
    graph: WalkGraph,
    boundary: Any,
    *,
    min_area_m2: float = MIN_BLOCK_AREA_M2,
    min_width_m: float = MIN_BLOCK_WIDTH_M,
) -> gpd.GeoDataFrame:
    """Street blocks (街坊): the polygons enclosed by walkable ways and the study boundary.

    The walk graph's edges (straight segments between nodes: a
    :class:`~lifecircle.network.WalkGraph` keeps no curved edge geometry, its
    nodes carry the shape) are noded where they cross (bridges and tunnels
    included: a block is a planar face) together with the boundary's rings, and
    polygonized; the faces inside the boundary are the blocks. Dead ends do not
    split a block. Waterways, railways and other barriers are not in the walk
    graph, so blocks are bounded by walkable ways and the boundary only: a river
    with no path along it lies inside a block.

    Slivers -- faces smaller than ``min_area_m2`` or narrower on average than
    ``min_width_m`` (``2 * area / perimeter``) -- are merged into the neighbouring
    block with the longest shared boundary (ties: the lower block), in rounds
    until none is left (a sliver with no neighbour stays). The blocks tile the
    boundary: their union is the boundary polygon.

    Parameters
    ----------
    graph
        The walk graph (projected metric CRS).
    boundary
        The study area: a shapely (multi)polygon in the graph's CRS, or a
        GeoSeries / GeoDataFrame (any CRS; reprojected and unioned).
    min_area_m2
        Smallest block (default 2,000 m2, see :data:`MIN_BLOCK_AREA_M2`).
    min_width_m
        Smallest mean width (default 10 m, see :data:`MIN_BLOCK_WIDTH_M`).

    Returns
    -------
    geopandas.GeoDataFrame
        ``block_id`` (``"b0"``, ``"b1"``, ... ordered from south-west to
        north-east by representative point), ``area_m2`` and the polygons, in
        the graph's CRS; ``.attrs["blocks_report"]`` holds the faces found,
        slivers merged and the minimums used.

    Raises
    ------
    InputFormatError
        The boundary has no area.
    """
    poly = _checked_boundary(boundary, graph.crs)
    lines = _edge_lines(graph, poly)
    faces = _faces(lines, poly)
    n_faces = len(faces)
    if n_faces == 0:  # no street crosses the boundary: one block
        faces = np.asarray(shapely.get_parts(poly))
    geoms, merged = _merge_slivers(faces, float(min_area_m2), float(min_width_m))
    out = _block_frame(geoms, graph.crs, prefix="b")
    out.attrs["blocks_report"] = {
        "faces": int(n_faces),
        "slivers_merged": int(merged),
        "blocks": len(out),
        "min_area_m2": float(min_area_m2),
        "min_width_m": float(min_width_m),
        "source": "street network (walkable ways and the study boundary)",
    }
    return out


def _block_frame(geoms: np.ndarray, crs: object, *, prefix: str) -> gpd.GeoDataFrame:
    rep = shapely.point_on_surface(geoms)
    order = np.lexsort((shapely.get_x(rep), shapely.get_y(rep)))
    geoms = geoms[order]
    return gpd.GeoDataFrame(
        {
            "block_id": [f"{prefix}{k}" for k in range(len(geoms))],
            "area_m2": shapely.area(geoms),
        },
        geometry=geoms,
        crs=crs,
    )
