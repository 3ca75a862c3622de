"""Population: where people live, as weighted origin points on the walk network.

:func:`origins_from_polygons` makes a dasymetric estimate: each polygon's total
(a census figure per street/town or district) is spread over the network nodes
inside it in proportion to the length of residential-class street around each
node (:data:`lifecircle.settings.RESIDENTIAL_HIGHWAYS`); polygons with no such
street use all streets. Polygons that reach beyond the street data keep only
the share of their total that their area inside the data represents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import CRSError, DataError, InputFileError, InputFormatError
from ..network import WalkGraph
from ..settings import RESIDENTIAL_HIGHWAYS
from .vector import read_vector, require_columns

ALLOCATION_METHOD = (
    "dasymetric: each population polygon's total spread over the network nodes inside "
    "it in proportion to the length of residential-class street around each node "
    "(all streets where a polygon has no residential street)"
)


def read_population(path: str | Path, *, field: str = "population") -> gpd.GeoDataFrame:
    """Read population polygons with a ``population`` column (persons).

    An optional ``population_method`` column says where each figure comes from
    (e.g. ``census2020_street``); it is carried into the outputs.
    """
    gdf = read_vector(path, what="population polygons", flag="--population")
    require_columns(gdf, [field], path=path, what="population polygons",
                    fix=f"add a numeric {field!r} column with the number of residents")
    values = pd.to_numeric(gdf[field], errors="coerce")
    if values.isna().any() or (values < 0).any():
        msg = (f"{path}: column {field!r} must hold non-negative numbers in every row; "
               f"{int((values.isna() | (values < 0)).sum())} row(s) do not")
        raise InputFormatError(msg)
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])].copy()
    if gdf.empty:
        msg = f"{path}: has no polygons; population (--population) must be polygons"
        raise InputFormatError(msg)
    gdf["population"] = values.loc[gdf.index].astype(float)
    if "population_method" not in gdf.columns:
        gdf["population_method"] = "given"
    return gdf[["population", "population_method", "geometry"]].reset_index(drop=True)


@dataclass(frozen=True)
class Origins:
    """Origin points and how their population was made."""

    points: gpd.GeoDataFrame
    method: str
    report: dict[str, Any] = field(default_factory=dict)


def origins_from_polygons(
    graph: WalkGraph, population: gpd.GeoDataFrame, *,
    residential: frozenset[str] = RESIDENTIAL_HIGHWAYS,
) -> Origins:
    """Allocate polygon population totals to network nodes (dasymetric).

    Parameters
    ----------
    graph
        The walk graph; its nodes become the origins.
    population
        Polygons with ``population`` (and optionally ``population_method``).
    residential
        Street classes whose length weights the allocation.

    Returns
    -------
    Origins
        Points (graph CRS) with ``origin_id``, ``population``,
        ``population_method``, ``node`` and ``node_osmid``; the method text and a
        report of what could not be allocated.
    """
    polys = population.to_crs(graph.crs).reset_index(drop=True)
    nodes = shapely.points(graph.x, graph.y)
    if "population_method" not in polys.columns:
        polys["population_method"] = "given"
    poly_idx, node_idx = polys.sindex.query(nodes, predicate="intersects")[::-1]
    # a node on a shared border belongs to one polygon only
    _, first = np.unique(node_idx, return_index=True)
    poly_idx, node_idx = poly_idx[first], node_idx[first]

    extent = graph.extent()
    area = polys.geometry.area.to_numpy()
    inside = polys.geometry.intersection(extent).area.to_numpy()
    share_inside = np.divide(inside, area, out=np.zeros_like(area), where=area > 0)
    share_inside[share_inside > 0.999] = 1.0
    total = polys["population"].to_numpy(float) * share_inside

    n_poly = len(polys)
    w_res = graph.node_weights(residential)[node_idx]
    w_all = graph.node_weights()[node_idx]
    res_sum = np.bincount(poly_idx, weights=w_res, minlength=n_poly)
    all_sum = np.bincount(poly_idx, weights=w_all, minlength=n_poly)
    use_res = res_sum[poly_idx] > 0
    weight = np.where(use_res, w_res, w_all)
    denom = np.where(use_res, res_sum[poly_idx], all_sum[poly_idx])
    pop = np.divide(total[poly_idx] * weight, denom, out=np.zeros(len(weight)), where=denom > 0)

    keep = pop > 0
    points = gpd.GeoDataFrame(
        {
            "origin_id": np.arange(int(keep.sum()), dtype=np.int64),
            "population": pop[keep],
            "population_method": polys["population_method"].to_numpy()[poly_idx[keep]],
            "node": node_idx[keep],
            "node_osmid": graph.node_ids[node_idx[keep]],
        },
        geometry=nodes[node_idx[keep]], crs=graph.crs,
    )
    no_nodes = (all_sum == 0) & (total > 0)
    report = {
        "polygons": n_poly,
        "population_input": float(polys["population"].sum()),
        "population_allocated": float(points["population"].sum()),
        "polygons_partly_outside_network": int(((share_inside < 1) & (share_inside > 0)).sum()),
        "polygons_outside_network": int((share_inside == 0).sum()),
        "polygons_without_nodes": int(no_nodes.sum()),
        "population_without_nodes": float(total[no_nodes].sum()),
        "polygons_without_residential_streets": int(((res_sum == 0) & (all_sum > 0)).sum()),
    }
    return Origins(points=points, method=ALLOCATION_METHOD, report=report)


#: Above this many populated cells in the study window, cells are summed into
#: blocks of k x k cells (k as small as keeps the count under this limit).
MAX_RASTER_ORIGINS = 250_000

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img")


def is_raster(path: str | Path) -> bool:
    """Whether ``path`` names a population raster (GeoTIFF and friends)."""
    return str(path).lower().endswith(RASTER_SUFFIXES)


def origins_from_raster(
    graph: WalkGraph, path: str | Path, *, band: int = 1,
    max_origins: int = MAX_RASTER_ORIGINS, margin_m: float = 0.0,
) -> Origins:
    """One origin per populated raster cell (WorldPop/GHSL/LandScan-style GeoTIFF).

    Only the window covering the street data (plus ``margin_m``) is read, so a
    national raster is never loaded whole. Nodata and non-positive cells are
    skipped. Each origin sits at its cell's centre and carries the cell's value;
    a cell belongs to the unit containing its centre, so population is
    conserved per unit. When the window holds more than ``max_origins``
    populated cells, cells are summed into k x k blocks (stated in the report).

    Parameters
    ----------
    graph
        The walk graph (its extent selects the window).
    path
        Raster of persons per cell, any CRS.
    band
        Band to read.
    max_origins
        Aggregate above this many populated cells.
    margin_m
        Extra margin around the street data.

    Returns
    -------
    Origins
        Points (graph CRS) with ``origin_id``, ``population``, ``population_method``.
    """
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window

    path = Path(path)
    if not path.is_file():
        msg = (f"population raster {str(path)!r} does not exist; check the path given to "
               "--population")
        raise InputFileError(msg)
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        msg = f"{path}: could not be read as a raster ({exc}); give a GeoTIFF of persons per cell"
        raise InputFormatError(msg) from None
    with src:
        if src.crs is None:
            msg = (f"{path}: the raster has no coordinate reference system; assign one, e.g. "
                   "`gdal_edit.py -a_srs EPSG:4326 file.tif`")
            raise CRSError(msg)
        t = src.transform
        if t.b != 0 or t.d != 0:
            msg = f"{path}: rotated rasters are not supported; warp it to a north-up grid first"
            raise InputFormatError(msg)
        xmin, ymin, xmax, ymax = graph.extent().buffer(margin_m).bounds
        left, bottom, right, top = transform_bounds(graph.crs, src.crs, xmin, ymin, xmax, ymax,
                                                    densify_pts=21)
        # every cell that touches the study area's bounding box, clipped to the raster
        cols = sorted(((left - t.c) / t.a, (right - t.c) / t.a))
        rows = sorted(((top - t.f) / t.e, (bottom - t.f) / t.e))
        col0, col1 = max(int(np.floor(cols[0])), 0), min(int(np.ceil(cols[1])), src.width)
        row0, row1 = max(int(np.floor(rows[0])), 0), min(int(np.ceil(rows[1])), src.height)
        if col1 <= col0 or row1 <= row0:
            msg = (f"{path}: the raster does not overlap the street data (raster bounds "
                   f"{tuple(round(v, 4) for v in src.bounds)} in {src.crs}); give a raster "
                   "that covers the study area")
            raise DataError(msg)
        window = Window(col0, row0, col1 - col0, row1 - row0)
        values = src.read(band, window=window, masked=True).astype("float64")
        raster_crs, nodata = src.crs, src.nodata
    clean = values.filled(0.0)
    clean[~np.isfinite(clean) | (clean < 0)] = 0.0
    data, factor = clean, 1
    while int((data > 0).sum()) > max_origins:
        factor *= 2
        data = _block_sum(clean, factor)
    rows_i, cols_i = np.nonzero(data > 0)
    # cell (or block) centres, from the north-up transform's coefficients
    xs = t.c + t.a * (col0 + (cols_i + 0.5) * factor)
    ys = t.f + t.e * (row0 + (rows_i + 0.5) * factor)
    pts = gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=raster_crs).to_crs(graph.crs)
    method = (f"raster: one origin per populated cell of {path.name} at its centre"
              + (f", cells summed into {factor}x{factor} blocks" if factor > 1 else ""))
    points = gpd.GeoDataFrame(
        {"origin_id": np.arange(len(rows_i), dtype=np.int64),
         "population": data[rows_i, cols_i], "population_method": f"raster:{path.name}"},
        geometry=pts.to_numpy(), crs=graph.crs,
    )
    report = {
        "raster": path.name, "raster_crs": str(raster_crs), "nodata": nodata,
        "window": {"col_off": int(window.col_off), "row_off": int(window.row_off),
                   "width": int(window.width), "height": int(window.height)},
        "aggregation_factor": factor, "origins": len(points),
        "population_in_window": float(data.sum()),
    }
    return Origins(points=points, method=method, report=report)


def _block_sum(values: np.ndarray, factor: int) -> np.ndarray:
    """Sum ``factor x factor`` blocks (the array is zero-padded to a multiple)."""
    h, w = values.shape
    ph, pw = -h % factor, -w % factor
    padded = np.pad(values, ((0, ph), (0, pw)))
    return padded.reshape((h + ph) // factor, factor, (w + pw) // factor, factor).sum(axis=(1, 3))
