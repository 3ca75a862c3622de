"""Facilities from Chinese map providers: datums, Amap type codes, duplicates.

* Datums: Amap/Tencent exports are GCJ-02 and Baidu exports BD-09; both are
  converted to WGS-84 with the iterative inverses of :mod:`lifecircle.io.coords`.
* Amap ``typecode`` columns map to categories through
  ``configs/providers/amap-typecodes.yaml``; unknown codes are counted and
  reported, never guessed.
* Duplicates across sources (same category, similar name, within 20 m) are
  merged, keeping the first source's record.
"""

from __future__ import annotations

import difflib
from functools import cache
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import yaml

from ..datasets import resource_dir
from ..errors import CRSError
from . import coords

#: Accepted values of ``--facilities-crs`` besides any ``EPSG:`` code.
DATUMS = ("wgs84", "gcj02", "bd09")


def parse_facilities_crs(value: str | None) -> str | None:
    """Validate a ``--facilities-crs`` value: ``wgs84``, ``gcj02``, ``bd09`` or a CRS string."""
    if value is None:
        return None
    key = value.strip().lower().replace("-", "")
    if key in DATUMS:
        return key
    try:
        # a CRS of the Earth that converts to WGS-84 (not e.g. a Mars CRS, "mars2000")
        pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(value), "EPSG:4326", always_xy=True)
    except pyproj.exceptions.ProjError:  # CRSError is a ProjError
        msg = (
            f"--facilities-crs {value[:80]!r} is not understood as a coordinate system "
            "of the Earth; use wgs84, gcj02 (Amap, Tencent), bd09 (Baidu) or a CRS such "
            "as EPSG:4326"
        )
        raise CRSError(msg) from None
    return value


def points_to_wgs84(x: np.ndarray, y: np.ndarray, crs: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates given in ``crs`` (datum name or CRS) to WGS-84 lon/lat."""
    if crs in (None, "wgs84"):
        return np.asarray(x, float), np.asarray(y, float)
    if crs == "gcj02":
        return coords.gcj02_to_wgs84(x, y)
    if crs == "bd09":
        return coords.bd09_to_wgs84(x, y)
    transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return transformer.transform(x, y)


def geometries_to_wgs84(gdf: gpd.GeoDataFrame, crs: str | None) -> gpd.GeoDataFrame:
    """Reinterpret a layer's coordinates as ``crs`` (datum or CRS) and return WGS-84."""
    import shapely

    if crs is None:
        return gdf.to_crs("EPSG:4326")
    if crs in DATUMS:
        # provider exports label their lon/lat as WGS-84 although they are not
        lonlat = gdf.to_crs("EPSG:4326")

        def shift(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(points_to_wgs84(xy[:, 0], xy[:, 1], crs))

        return lonlat.set_geometry(shapely.transform(lonlat.geometry.array, shift))
    return gdf.set_crs(crs, allow_override=True).to_crs("EPSG:4326")


@cache
def load_typecodes(provider: str = "amap") -> dict[str, dict[str, Any]]:
    """The provider's type-code table: code -> {category, name, source, verified}."""
    path = resource_dir("configs/providers") / f"{provider}-typecodes.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(code).zfill(6): dict(entry) for code, entry in raw["codes"].items()}


def categories_from_typecodes(
    typecodes: pd.Series, provider: str = "amap"
) -> tuple[pd.Series, dict[str, int]]:
    """Map Amap type codes (``"141203"``, or several joined by ``|``) to categories.

    Returns
    -------
    categories : pandas.Series
        Category per row; NA where no code is known.
    unknown : dict
        Count of each code that is not in the table.
    """
    table = load_typecodes(provider)
    out = pd.Series(pd.NA, index=typecodes.index, dtype="string")
    unknown: dict[str, int] = {}
    for idx, raw in typecodes.astype("string").items():
        if pd.isna(raw):
            continue
        for code in str(raw).replace(";", "|").split("|"):
            code = code.strip().zfill(6)
            if code in table:
                out[idx] = table[code]["category"]
                break
        else:
            for code in str(raw).replace(";", "|").split("|"):
                unknown[code.strip().zfill(6)] = unknown.get(code.strip().zfill(6), 0) + 1
    return out, unknown


def _similar(a: object, b: object, threshold: float) -> bool:
    a = "" if pd.isna(a) else str(a).strip()
    b = "" if pd.isna(b) else str(b).strip()
    if not a or not b:
        return not a and not b
    if a in b or b in a:
        return True
    return difflib.SequenceMatcher(None, a, b).ratio() >= threshold


def deduplicate(
    facilities: gpd.GeoDataFrame, *, radius_m: float = 20.0, name_similarity: float = 0.6
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Merge facilities of the same category from different sources that are duplicates.

    Two records are duplicates when they come from different sources, share
    the category, lie within ``radius_m`` of each other (representative
    points, metres) and have similar names (one contains the other, or a
    ``difflib`` ratio of at least ``name_similarity``; two unnamed records are
    similar). Groups are merged transitively, keeping the earliest record.

    Returns
    -------
    facilities : geopandas.GeoDataFrame
        Without the merged duplicates.
    merged : dict
        Number of records removed per category.
    """
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    if len(facilities) < 2 or facilities["source"].nunique() < 2:
        return facilities, {}
    from ..network import utm_crs_for

    pts = facilities.geometry.representative_point().to_crs("EPSG:4326")
    crs = utm_crs_for(pts.x.to_numpy(), pts.y.to_numpy())
    xy = pts.to_crs(crs)
    pairs = cKDTree(np.column_stack([xy.x, xy.y])).query_pairs(radius_m, output_type="ndarray")
    cat = facilities["category"].to_numpy()
    src = facilities["source"].to_numpy()
    names = facilities["name"].to_numpy()
    keep = (cat[pairs[:, 0]] == cat[pairs[:, 1]]) & (src[pairs[:, 0]] != src[pairs[:, 1]])
    pairs = pairs[keep]
    similar = np.array(
        [_similar(names[i], names[j], name_similarity) for i, j in pairs], dtype=bool
    )  # candidate pairs only: few
    pairs = pairs[similar] if len(pairs) else pairs
    n = len(facilities)
    graph = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    first_of_group = np.full(label.max() + 1, n)
    np.minimum.at(first_of_group, label, np.arange(n))
    duplicate = first_of_group[label] != np.arange(n)
    merged = pd.Series(cat[duplicate]).value_counts().to_dict()
    return facilities[~duplicate].copy(), {str(k): int(v) for k, v in merged.items()}
