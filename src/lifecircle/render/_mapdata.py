"""Light display geometries for the map: simplified units, aggregated residents, catchments.

Everything here takes the audit's plain data and returns GeoDataFrames in
EPSG:4326 (or GCJ-02 for Amap tiles), with coordinates rounded so the map file
stays small. Simplification and aggregation happen in the walk graph's metric CRS.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pyproj
import shapely

from ..access import node_distances_from
from ..io.coords import to_gcj02
from ..network import WalkGraph

#: Decimal places kept in map coordinates: 1e-6 degree is about 0.1 m (lines and
#: polygons are then written in steps of 1e-5 degree, about 1 m: see
#: :data:`lifecircle.render._features.DELTA_SCALE`).
COORD_DECIMALS = 6


def for_display(frame: gpd.GeoDataFrame, *, gcj02: bool) -> gpd.GeoDataFrame:
    """Reproject to EPSG:4326, shift to GCJ-02 if asked, and round the coordinates.

    Parameters
    ----------
    frame
        Geometries in any CRS.
    gcj02
        Shift to GCJ-02 (for Amap tiles).

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with a fresh ``0..n-1`` index (the map's feature ids).
    """
    out = frame.to_crs("EPSG:4326").reset_index(drop=True)
    if gcj02:
        out = to_gcj02(out)
    rounded = shapely.transform(
        np.asarray(out.geometry.array), lambda xy: np.round(xy, COORD_DECIMALS)
    )
    out[out.geometry.name] = gpd.GeoSeries(rounded, index=out.index, crs=out.crs)
    return out


def simplify(frame: gpd.GeoDataFrame, crs: pyproj.CRS, tolerance_m: float) -> gpd.GeoDataFrame:
    """Simplify polygons by ``tolerance_m`` metres (in ``crs``), keeping them valid."""
    metric = frame.to_crs(crs)
    metric[metric.geometry.name] = metric.geometry.simplify(tolerance_m, preserve_topology=True)
    return metric


def as_points(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """Points stay points; polygons become a point inside them (computed in ``crs``)."""
    metric = frame.to_crs(crs)
    metric[metric.geometry.name] = metric.geometry.representative_point()
    return metric


@dataclass(frozen=True)
class CellGrid:
    """Origins assigned once to square cells: the grid of the uncovered-resident circles.

    Built once per map (:meth:`of`): the origins are projected once and each is given
    the index of its cell, so a theme's residents per cell are one ``np.bincount``
    (:meth:`weights`), whatever the number of themes.

    Attributes
    ----------
    cell
        Per origin (in the order of the points given), the index of its cell.
    centres
        One point per cell (in ``crs``), at the population-weighted centre of the
        cell's origins (their plain centre when nobody lives there); cells are
        ordered by their column, then row, on the grid.
    crs
        The metric CRS of the grid.
    """

    cell: np.ndarray
    centres: gpd.GeoDataFrame
    crs: pyproj.CRS

    @classmethod
    def of(
        cls, points: gpd.GeoDataFrame, population: np.ndarray, crs: pyproj.CRS, cell_m: float
    ) -> CellGrid:
        """Assign ``points`` (e.g. the origins, any CRS) to cells of ``cell_m`` metres.

        Parameters
        ----------
        points
            Point geometries, any CRS.
        population
            One weight per point, used to place each cell's circle.
        crs
            Metric CRS of the grid.
        cell_m
            Cell size in metres.
        """
        metric = points.geometry.to_crs(crs)
        x, y = metric.x.to_numpy(float), metric.y.to_numpy(float)
        ix = np.floor(x / cell_m).astype(np.int64)
        iy = np.floor(y / cell_m).astype(np.int64)
        if len(ix):
            key = (ix - ix.min()) * (int(iy.max() - iy.min()) + 1) + (iy - iy.min())
        else:
            key = np.zeros(0, np.int64)
        order = np.argsort(key, kind="stable")
        new = np.r_[True, key[order][1:] != key[order][:-1]] if len(key) else np.zeros(0, bool)
        cell = np.empty(len(key), np.int64)
        cell[order] = np.cumsum(new) - 1
        n = int(cell.max()) + 1 if len(cell) else 0
        w = np.nan_to_num(np.asarray(population, float), nan=0.0)
        total = np.bincount(cell, weights=w, minlength=n)
        plain = np.bincount(cell, minlength=n).astype(float)
        weighted = total > 0
        cx = np.where(
            weighted,
            np.bincount(cell, weights=w * x, minlength=n) / np.where(weighted, total, 1.0),
            np.bincount(cell, weights=x, minlength=n) / np.maximum(plain, 1.0),
        )
        cy = np.where(
            weighted,
            np.bincount(cell, weights=w * y, minlength=n) / np.where(weighted, total, 1.0),
            np.bincount(cell, weights=y, minlength=n) / np.maximum(plain, 1.0),
        )
        centres = gpd.GeoDataFrame(geometry=shapely.points(cx, cy), crs=crs)
        return cls(cell=cell, centres=centres, crs=crs)

    def __len__(self) -> int:
        return len(self.centres)

    def weights(self, weights: np.ndarray) -> np.ndarray:
        """The sum of ``weights`` (one per origin) in each cell (NaN counts as 0)."""
        w = np.nan_to_num(np.asarray(weights, float), nan=0.0)
        if len(w) != len(self.cell):
            msg = f"{len(w)} weights for a grid of {len(self.cell)} points"
            raise ValueError(msg)
        return np.bincount(self.cell, weights=w, minlength=len(self))


def catchment(
    graph: WalkGraph,
    facilities: gpd.GeoDataFrame,
    reach_m: float,
    *,
    cell_m: float,
    rule: str,
    max_snap_m: float,
) -> gpd.GeoSeries:
    """The area around the streets from which a facility is within ``reach_m`` metres' walk.

    Uses the audit's access rule (:func:`lifecircle.access.node_distances_from`:
    the same snap ``rule`` and ``max_snap_m``; polygons reached at their edge) and
    distances run along the network. An edge
    belongs to the catchment when both its ends are within ``reach_m``. The
    area is the union of the ``cell_m`` grid cells those edges pass through
    (traced from a raster of the cells: :func:`_cells_union`), simplified by half
    a cell (Douglas-Peucker, then made valid): a light, dissolved outline
    (buffering and dissolving every street takes a hundred times longer).

    Parameters
    ----------
    graph
        The walk graph.
    facilities
        The facilities of one category, any CRS.
    reach_m
        Walking distance of the category's threshold.
    cell_m
        Resolution of the outline in metres.
    rule, max_snap_m
        The audit's snap rule and snap limit.

    Returns
    -------
    geopandas.GeoSeries
        One (multi)polygon in the graph's CRS (empty if nothing is reachable).
    """
    empty = gpd.GeoSeries([shapely.Polygon()], crs=graph.crs)
    if facilities.empty:
        return empty
    dist = node_distances_from(
        graph, facilities, rule=rule, max_snap_m=max_snap_m, cutoff_m=reach_m
    )
    inside = np.nan_to_num(dist, nan=np.inf) <= reach_m
    edges = inside[graph.edge_u] & inside[graph.edge_v]
    if not edges.any():
        return empty
    u, v = graph.edge_u[edges], graph.edge_v[edges]
    ij = _cells_along(graph.x, graph.y, u, v, cell_m)
    i0, j0 = ij.min(axis=0)
    ij -= (i0, j0)
    rows = int(ij[:, 1].max()) + 1
    key = _distinct(ij[:, 0] * rows + ij[:, 1])  # 1-D keys sort fast
    i, j = np.divmod(key, rows)
    # Douglas-Peucker without topology checks, then repaired: the topology-preserving
    # simplification took 19 s per category on a 1M-node city (whole-city outlines with
    # thousands of holes) against 0.6 s for this, with the same outline
    union = _cells_union(i, j, i0, j0, cell_m)
    rough = shapely.simplify(union, cell_m / 2.0, preserve_topology=False)
    return gpd.GeoSeries([_polygonal(shapely.make_valid(rough))], crs=graph.crs)


def _cells_along(
    x: np.ndarray, y: np.ndarray, u: np.ndarray, v: np.ndarray, cell_m: float
) -> np.ndarray:
    """The ``cell_m`` grid cells (column, row) that the straight edges ``u``-``v`` pass through.

    Each edge is cut into equal parts no longer than half a cell (the points
    :func:`shapely.segmentize` would add); the cells of the edges' end nodes (each
    node once) and of those inner points are returned, with repeats; vectorised
    over every edge at once.
    """
    x1, y1, x2, y2 = x[u], y[u], x[v], y[v]
    parts = np.maximum(np.ceil(np.hypot(x2 - x1, y2 - y1) / (cell_m / 2.0)), 1).astype(np.int64)
    inner = parts - 1  # points strictly inside each edge
    seg = np.repeat(np.arange(len(parts)), inner)
    k = np.arange(len(seg)) - np.repeat(np.cumsum(inner) - inner, inner) + 1
    t = k / parts[seg]
    reached = np.zeros(len(x), bool)
    reached[u] = True
    reached[v] = True
    ends = np.flatnonzero(reached)
    px = np.concatenate([x[ends], x1[seg] + t * (x2 - x1)[seg]])
    py = np.concatenate([y[ends], y1[seg] + t * (y2 - y1)[seg]])
    return np.column_stack([np.floor(px / cell_m), np.floor(py / cell_m)]).astype(np.int64)


def _cells_union(i: np.ndarray, j: np.ndarray, i0: int, j0: int, cell_m: float) -> shapely.Geometry:
    """The union of grid cells ``(i0 + i, j0 + j)`` of ``cell_m`` metres, as polygons.

    The cells are burnt into a small raster whose regions (edge-connected cells,
    with their holes) rasterio traces into polygons: exact cell edges, the same
    area as the union of one box per cell, in a hundredth of the time of
    ``coverage_union_all`` at city scale.
    """
    from rasterio.features import shapes
    from rasterio.transform import Affine

    cols, rows = int(i.max()) + 1, int(j.max()) + 1
    raster = np.zeros((rows, cols), np.uint8)
    raster[rows - 1 - j, i] = 1  # row 0 is the northern edge
    top = (j0 + rows) * cell_m
    transform = Affine(cell_m, 0.0, i0 * cell_m, 0.0, -cell_m, top)
    polygons = [
        shapely.Polygon(geometry["coordinates"][0], geometry["coordinates"][1:])
        for geometry, _ in shapes(raster, mask=raster.astype(bool), transform=transform)
    ]
    return shapely.MultiPolygon(polygons) if len(polygons) > 1 else polygons[0]


def _distinct(values: np.ndarray) -> np.ndarray:
    """The distinct values of an integer array, sorted.

    ``np.unique`` by sorting: several times faster here than numpy 2's hash-based one.
    """
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of ``geom`` (``make_valid`` may add collapsed lines or points)."""
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    polys = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon)]
    return shapely.union_all(polys) if polys else shapely.Polygon()
