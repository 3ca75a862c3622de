"""Chinese map datums: WGS-84 <-> GCJ-02 <-> BD-09.

Web maps licensed in mainland China do not use WGS-84: Amap (Gaode), Tencent
and Google's China tiles use GCJ-02, an obfuscated datum that shifts points by
a few hundred metres; Baidu uses BD-09, a further offset of GCJ-02. OSM data
is WGS-84, so overlays drawn on Amap tiles must be shifted to GCJ-02 first.

GCJ-02 is computed with the published forward formula (Krasovsky 1940
ellipsoid, ``a = 6378245 m``, ``e^2 = 0.00669342162296594323``, and two
trigonometric series in the offsets from (105 E, 35 N)). It has no closed
inverse; :func:`gcj02_to_wgs84` inverts it by fixed-point iteration to well
below a centimetre. Points outside China's bounding box are not shifted,
as the datum's published definition prescribes.

Every function takes longitudes and latitudes in degrees, as scalars or numpy
arrays of any (matching) shape, and returns a ``(lon, lat)`` tuple of arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import ArrayLike

from ..errors import CRSError

__all__ = [
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "in_china",
    "to_gcj02",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

#: Semi-major axis (m) and first eccentricity squared of the Krasovsky 1940 ellipsoid.
_A = 6378245.0
_EE = 0.00669342162296594323
#: Bounding box (lon_min, lat_min, lon_max, lat_max) inside which GCJ-02 shifts points.
CHINA_BBOX = (72.004, 0.8293, 137.8347, 55.8271)
#: Constant of the BD-09 rotation.
_BD_K = np.pi * 3000.0 / 180.0
_BD_DLON, _BD_DLAT = 0.0065, 0.006
#: The inverses iterate until the residual is below this (degrees, ~0.1 mm).
_TOLERANCE_DEG = 1e-9
_MAX_ITERATIONS = 30

Pair = tuple[np.ndarray, np.ndarray]
Frame = TypeVar("Frame", gpd.GeoDataFrame, gpd.GeoSeries)


def _as_arrays(lon: ArrayLike, lat: ArrayLike) -> Pair:
    lon_a, lat_a = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon_a.copy(), lat_a.copy()


def in_china(lon: ArrayLike, lat: ArrayLike) -> np.ndarray:
    """Whether each point lies inside the bounding box where GCJ-02 applies.

    Parameters
    ----------
    lon, lat
        Degrees.

    Returns
    -------
    numpy.ndarray
        Boolean mask.
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    west, south, east, north = CHINA_BBOX
    return (lon_a >= west) & (lon_a <= east) & (lat_a >= south) & (lat_a <= north)


def _series_lat(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Latitude offset series of GCJ-02 (x, y: offsets from 105 E, 35 N)."""
    out = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    out += (20.0 * np.sin(np.pi * y) + 40.0 * np.sin(np.pi * y / 3.0)) * 2.0 / 3.0
    out += (160.0 * np.sin(np.pi * y / 12.0) + 320.0 * np.sin(np.pi * y / 30.0)) * 2.0 / 3.0
    return out


def _series_lon(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Longitude offset series of GCJ-02 (x, y: offsets from 105 E, 35 N)."""
    out = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    out += (20.0 * np.sin(6.0 * np.pi * x) + 20.0 * np.sin(2.0 * np.pi * x)) * 2.0 / 3.0
    out += (20.0 * np.sin(np.pi * x) + 40.0 * np.sin(np.pi * x / 3.0)) * 2.0 / 3.0
    out += (150.0 * np.sin(np.pi * x / 12.0) + 300.0 * np.sin(np.pi * x / 30.0)) * 2.0 / 3.0
    return out


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> Pair:
    """GCJ-02 minus WGS-84 at a WGS-84 point, in degrees (zero outside China)."""
    x, y = lon - 105.0, lat - 35.0
    rad = np.radians(lat)
    w = 1.0 - _EE * np.sin(rad) ** 2
    # metres-per-degree of the Krasovsky ellipsoid along the meridian and the parallel
    meridian = (_A * (1.0 - _EE)) / (w * np.sqrt(w)) * np.pi / 180.0
    parallel = _A / np.sqrt(w) * np.cos(rad) * np.pi / 180.0
    inside = in_china(lon, lat)
    dlon = np.where(inside, _series_lon(x, y) / parallel, 0.0)
    dlat = np.where(inside, _series_lat(x, y) / meridian, 0.0)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Shift WGS-84 coordinates to GCJ-02 (Amap, Tencent).

    Parameters
    ----------
    lon, lat
        WGS-84 degrees, scalars or arrays.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``; points outside China are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(121.4737, 31.2304)
    >>> round(float(lon), 6), round(float(lat), 6)
    (121.478223, 31.228458)
    """
    lon_a, lat_a = _as_arrays(lon, lat)
    dlon, dlat = _gcj_offset(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], Pair], lon: ArrayLike, lat: ArrayLike
) -> Pair:
    """Solve ``forward(p) = (lon, lat)`` for ``p`` by fixed-point iteration.

    The datum shifts vary slowly with position, so ``p <- p - (forward(p) - target)``
    converges geometrically from ``p = target``.
    """
    lon_t, lat_t = _as_arrays(lon, lat)
    lon_p, lat_p = lon_t.copy(), lat_t.copy()
    for _ in range(_MAX_ITERATIONS):
        lon_f, lat_f = forward(lon_p, lat_p)
        err_lon, err_lat = lon_f - lon_t, lat_f - lat_t
        lon_p -= err_lon
        lat_p -= err_lat
        if np.all(np.abs(err_lon) < _TOLERANCE_DEG) and np.all(np.abs(err_lat) < _TOLERANCE_DEG):
            break
    return lon_p, lat_p


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Shift GCJ-02 coordinates back to WGS-84 (iterative inverse, error < 1 mm).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 ``(lon, lat)``.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(121.4737, 31.2304))
    >>> round(float(lon), 7), round(float(lat), 7)
    (121.4737, 31.2304)
    """
    return _invert(wgs84_to_gcj02, lon, lat)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Convert GCJ-02 coordinates to BD-09 (Baidu).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 ``(lon, lat)``.
    """
    x, y = _as_arrays(lon, lat)
    radius = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_K)
    return radius * np.cos(theta) + _BD_DLON, radius * np.sin(theta) + _BD_DLAT


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Convert BD-09 coordinates to GCJ-02 (iterative inverse, error < 1 mm).

    Parameters
    ----------
    lon, lat
        BD-09 degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 ``(lon, lat)``.
    """
    return _invert(gcj02_to_bd09, lon, lat)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Convert WGS-84 coordinates to BD-09 (via GCJ-02)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Pair:
    """Convert BD-09 coordinates to WGS-84 (via GCJ-02)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _shift_xy(xy: np.ndarray) -> np.ndarray:
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def to_gcj02(data: Frame) -> Frame:
    """Shift the geometries of a WGS-84 GeoSeries or GeoDataFrame to GCJ-02.

    The result keeps the ``EPSG:4326`` label (GCJ-02 has no EPSG code): it is
    meant for display on GCJ-02 tiles, not for further analysis.

    Parameters
    ----------
    data
        Geometries in EPSG:4326.

    Returns
    -------
    GeoSeries or GeoDataFrame
        A copy with every vertex shifted.

    Raises
    ------
    CRSError
        If ``data`` is not in EPSG:4326.

    Examples
    --------
    >>> import geopandas as gpd, shapely
    >>> pts = gpd.GeoSeries([shapely.Point(121.4737, 31.2304)], crs="EPSG:4326")
    >>> round(float(to_gcj02(pts).x.iloc[0]), 6)
    121.478223
    """
    if data.crs is None or data.crs.to_epsg() != 4326:
        msg = (
            f"to_gcj02 needs WGS-84 geometries (EPSG:4326), got {data.crs}; "
            "reproject first with `.to_crs('EPSG:4326')`"
        )
        raise CRSError(msg)
    out = data.copy()
    geoms = shapely.transform(np.asarray(data.geometry.array), _shift_xy)
    if isinstance(out, gpd.GeoDataFrame):
        out[out.geometry.name] = gpd.GeoSeries(geoms, index=out.index, crs=data.crs)
        return out
    return gpd.GeoSeries(geoms, index=out.index, crs=data.crs, name=data.name)
