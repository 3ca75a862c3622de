"""Light display geometries for the map: simplified units, aggregated residents, catchments.

Everything here takes the audit's plain data and returns GeoDataFrames in
EPSG:4326 (or GCJ-02 for Amap tiles), with coordinates rounded so the map file
stays small. Simplification and aggregation happen in the walk graph's metric CRS.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from ..access import node_distances_from
from ..io.coords import to_gcj02
from ..network import WalkGraph

#: Decimal places kept in map coordinates: 1e-6 degree is about 0.1 m.
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


def aggregate_to_cells(
    points: gpd.GeoDataFrame, weights: np.ndarray, crs: pyproj.CRS, cell_m: float
) -> gpd.GeoDataFrame:
    """Sum ``weights`` of points over square cells of ``cell_m`` metres.

    Parameters
    ----------
    points
        Point geometries (e.g. origins), any CRS.
    weights
        One weight per point (e.g. residents not covered); zero weights are dropped.
    crs
        Metric CRS of the grid.
    cell_m
        Cell size in metres.

    Returns
    -------
    geopandas.GeoDataFrame
        One point per non-empty cell, at the weighted centre of its points,
        with the summed ``weight``; in ``crs``.
    """
    metric = points.geometry.to_crs(crs)
    x, y = metric.x.to_numpy(), metric.y.to_numpy()
    keep = np.asarray(weights, float) > 0
    frame = pd.DataFrame(
        {
            "ix": np.floor(x[keep] / cell_m),
            "iy": np.floor(y[keep] / cell_m),
            "w": np.asarray(weights, float)[keep],
        }
    )
    frame["wx"] = x[keep] * frame["w"]
    frame["wy"] = y[keep] * frame["w"]
    cells = frame.groupby(["ix", "iy"], sort=True)[["w", "wx", "wy"]].sum()
    centres = shapely.points(cells["wx"] / cells["w"], cells["wy"] / cells["w"])
    return gpd.GeoDataFrame({"weight": cells["w"].to_numpy()}, geometry=centres, crs=crs)


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
    area is the union of the ``cell_m`` grid cells those edges pass through,
    simplified by half a cell (Douglas-Peucker, then made valid): a light,
    dissolved outline (buffering and dissolving every street takes a hundred times
    longer).

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
    lines = shapely.linestrings(
        np.stack(
            [np.column_stack([graph.x[u], graph.y[u]]), np.column_stack([graph.x[v], graph.y[v]])],
            axis=1,
        )
    )
    xy = shapely.get_coordinates(shapely.segmentize(lines, cell_m / 2.0))
    ij = np.floor(xy / cell_m).astype(np.int64)
    ij -= ij.min(axis=0)
    key = np.unique(ij[:, 0] * (ij[:, 1].max() + 1) + ij[:, 1])  # 1-D keys sort fast
    i, j = np.divmod(key, ij[:, 1].max() + 1)
    x0, y0 = np.floor(xy.min(axis=0) / cell_m) * cell_m
    cells = shapely.box(
        x0 + i * cell_m, y0 + j * cell_m, x0 + (i + 1) * cell_m, y0 + (j + 1) * cell_m
    )
    # Douglas-Peucker without topology checks, then repaired: the topology-preserving
    # simplification took 19 s per category on a 1M-node city (whole-city outlines with
    # thousands of holes) against 0.6 s for this, with the same outline
    rough = shapely.coverage_union_all(cells).simplify(cell_m / 2.0, preserve_topology=False)
    return gpd.GeoSeries([_polygonal(shapely.make_valid(rough))], crs=graph.crs)


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """The polygons of ``geom`` (``make_valid`` may add collapsed lines or points)."""
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    polys = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon)]
    return shapely.union_all(polys) if polys else shapely.Polygon()
