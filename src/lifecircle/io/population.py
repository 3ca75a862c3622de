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

from ..errors import InputFormatError
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
    poly_idx, node_idx = polys.sindex.query(nodes, predicate="within")[::-1]
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
