"""Candidate sites for new facilities: from a file, or generated where demand is uncovered.

``auto`` candidates are the centres of clusters of uncovered residents
(population-weighted k-means, scikit-learn) snapped onto the network with the
audit's snap rule (:mod:`lifecircle.snap`): the nearest point of the nearest
street (edge rule) or the nearest node (node rule); optionally kept a minimum
distance away from existing facilities of the category. File candidates are
points or parcels; parcels are reached at their edge like polygon facilities.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import DataError, InputFormatError
from .io.vector import read_vector
from .network import WalkGraph
from .snap import DEFAULT_SNAP, snap_points

log = logging.getLogger(__name__)

#: Default number of clusters of uncovered demand for ``auto`` candidates.
AUTO_CANDIDATES = 300


def candidates_auto(
    graph: WalkGraph,
    uncovered: gpd.GeoDataFrame,
    existing: gpd.GeoDataFrame | None = None,
    *,
    n_candidates: int = AUTO_CANDIDATES,
    min_spacing_m: float = 0.0,
    seed: int = 0,
    snap: str = DEFAULT_SNAP,
) -> gpd.GeoDataFrame:
    """Sites on the network at the centres of clusters of uncovered residents.

    Parameters
    ----------
    graph
        The walk graph.
    uncovered
        Origins not covered for the category, with ``population`` (any CRS).
    existing
        Existing facilities of the category (any CRS), for ``min_spacing_m``.
    n_candidates
        Number of clusters (at most one candidate each; fewer when clusters
        snap to the same point or there are fewer uncovered origins).
    min_spacing_m
        Drop candidates closer than this (straight line) to an existing facility.
    seed
        Random seed of k-means, for reproducible candidates.
    snap
        The snap rule: ``"edge"`` puts each site at the nearest point of the
        nearest street to its cluster's centre, ``"node"`` at the nearest node.

    Returns
    -------
    geopandas.GeoDataFrame
        ``candidate_id``, ``node`` (the nearest node, or the nearer end of the
        site's edge), ``edge`` (-1 under the node rule), ``source`` and the site's
        point on the network (graph CRS).
    """
    from sklearn.cluster import KMeans

    if uncovered.empty:
        msg = "every resident is already covered for this category; nothing to site"
        raise DataError(msg)
    pts = uncovered.to_crs(graph.crs)
    xy = np.column_stack([pts.geometry.x, pts.geometry.y])
    weight = pts["population"].to_numpy(float)
    k = min(n_candidates, len(xy))
    if k < len(xy):
        km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(xy, sample_weight=weight)
        centres = km.cluster_centers_
    else:
        centres = xy
    # the site is where the centre enters the network; clusters entering at one point
    # give one candidate (ordered by node under the node rule, as in the first version;
    # by position, x then y, under the edge rule)
    site = snap_points(graph, centres[:, 0], centres[:, 1], rule=snap, max_snap_m=np.inf)
    key = site.node_u if snap == "node" else np.round(np.column_stack([site.x, site.y]), 3)
    _, first = np.unique(key, axis=0, return_index=True)
    site = site.take(first)
    if min_spacing_m > 0 and existing is not None and len(existing):
        ex = existing.to_crs(graph.crs).geometry.representative_point()
        from scipy.spatial import cKDTree

        near, _ = cKDTree(np.column_stack([ex.x, ex.y])).query(
            np.column_stack([site.x, site.y]), k=1
        )
        site = site.take(near >= min_spacing_m)
    if len(site) == 0:
        msg = (
            f"no auto candidate is left after keeping {min_spacing_m:.0f} m from existing "
            "facilities; lower --min-spacing-m"
        )
        raise DataError(msg)
    return gpd.GeoDataFrame(
        {
            "candidate_id": np.arange(len(site)),
            "node": site.node,
            "edge": site.edge,
            "source": "auto",
        },
        geometry=gpd.points_from_xy(site.x, site.y),
        crs=graph.crs,
    )


def candidates_from_file(path: str | Path) -> gpd.GeoDataFrame:
    """Candidate sites from a file of points or parcels (polygons)."""
    gdf = read_vector(path, what="candidate sites", flag="--candidates")
    gdf = gdf[gdf.geom_type.isin(["Point", "Polygon", "MultiPolygon"])]
    if gdf.empty:
        msg = f"{path}: holds no points or polygons; candidate sites must be points or parcels"
        raise InputFormatError(msg)
    names = (
        gdf["name"].astype("string")
        if "name" in gdf.columns
        else pd.Series(pd.NA, index=gdf.index, dtype="string")
    )
    return gpd.GeoDataFrame(
        {"candidate_id": np.arange(len(gdf)), "name": names.to_numpy(), "source": Path(path).name},
        geometry=gdf.geometry.to_numpy(),
        crs=gdf.crs,
    )
