"""Facilities from Chinese map providers: datums, and the names of the split-out parts.

* Datums: Amap/Tencent exports are GCJ-02 and Baidu exports BD-09; both are
  converted to WGS-84 with the iterative inverses of :mod:`lifecircle.io.coords`.
* Type codes and tags: :mod:`lifecircle.io.typecodes` (the bundled tables and
  classification) and :mod:`lifecircle.io._typecode_file` (a user's
  ``--typecodes`` file); their names are importable from here too.
* Duplicates across sources and cross-source counts: :mod:`lifecircle.io.dedup`,
  also importable from here.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pyproj

from ..errors import CRSError
from . import coords
from ._typecode_file import CSV_CODE_COLUMNS as CSV_CODE_COLUMNS
from ._typecode_file import ENTRY_KEYS as ENTRY_KEYS
from ._typecode_file import FILE_KEYS as FILE_KEYS
from ._typecode_file import NO_CATEGORY as NO_CATEGORY
from ._typecode_file import normalise_tag as normalise_tag
from ._typecode_file import read_typecodes as read_typecodes
from .dedup import SOURCES_SEP as SOURCES_SEP
from .dedup import cross_source_counts as cross_source_counts
from .dedup import deduplicate as deduplicate
from .typecodes import EMPTY_CODE as EMPTY_CODE
from .typecodes import PROVIDER_TABLES as PROVIDER_TABLES
from .typecodes import UNKNOWN_KEY_MAX_CHARS as UNKNOWN_KEY_MAX_CHARS
from .typecodes import TypeCodeTable as TypeCodeTable
from .typecodes import categories_from_typecodes as categories_from_typecodes
from .typecodes import load_typecodes as load_typecodes
from .typecodes import typecode_table as typecode_table

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
