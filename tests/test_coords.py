"""WGS-84 <-> GCJ-02 <-> BD-09, checked against the published formulas and values."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pytest
import shapely

from lifecircle.errors import CRSError
from lifecircle.io.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    to_gcj02,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

#: Shanghai's bounding box (lon_min, lat_min, lon_max, lat_max).
SHANGHAI = (120.85, 30.67, 122.20, 31.88)


def published_gcj02(lon: float, lat: float) -> tuple[float, float]:
    """The published GCJ-02 forward formula, scalar, written out independently."""
    a, ee = 6378245.0, 0.00669342162296594323
    x, y = lon - 105.0, lat - 35.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * math.sqrt(abs(x))
        + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
        + (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
        + (160.0 * math.sin(y / 12.0 * math.pi) + 320 * math.sin(y * math.pi / 30.0)) * 2 / 3
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * math.sqrt(abs(x))
        + (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
        + (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
        + (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    )
    rad = lat / 180.0 * math.pi
    magic = 1 - ee * math.sin(rad) ** 2
    dlat = (dlat * 180.0) / ((a * (1 - ee)) / (magic * math.sqrt(magic)) * math.pi)
    dlon = (dlon * 180.0) / (a / math.sqrt(magic) * math.cos(rad) * math.pi)
    return lon + dlon, lat + dlat


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Approximate ground distance in metres (equirectangular; fine below a few km)."""
    lat = np.radians((np.asarray(lat1) + np.asarray(lat2)) / 2)
    dx = np.radians(np.asarray(lon2) - np.asarray(lon1)) * 6371008.8 * np.cos(lat)
    dy = np.radians(np.asarray(lat2) - np.asarray(lat1)) * 6371008.8
    return np.hypot(dx, dy)


def shanghai_grid(n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    west, south, east, north = SHANGHAI
    lon, lat = np.meshgrid(np.linspace(west, east, n), np.linspace(south, north, n))
    return lon.ravel(), lat.ravel()


def test_published_reference_values():
    # values published with the widely used coordtransform library's test script
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-9
    )
    lon, lat = gcj02_to_bd09(116.404, 39.915)
    assert (float(lon), float(lat)) == pytest.approx(
        (116.41036949371029, 39.92133699351021), abs=1e-9
    )


def test_forward_matches_formula_across_shanghai():
    lon, lat = shanghai_grid(15)
    glon, glat = wgs84_to_gcj02(lon, lat)
    expected = np.array([published_gcj02(x, y) for x, y in zip(lon, lat, strict=True)])
    assert metres(glon, glat, expected[:, 0], expected[:, 1]).max() < 0.01
    # the shift itself is a few hundred metres in Shanghai
    assert 300 < metres(lon, lat, glon, glat).min() < metres(lon, lat, glon, glat).max() < 800


def test_gcj02_round_trip_below_half_a_metre():
    lon, lat = shanghai_grid()
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(lon, lat, *back).max() < 0.5
    assert metres(lon, lat, *back).max() < 0.001  # in fact sub-millimetre


def test_bd09_round_trips_below_half_a_metre():
    lon, lat = shanghai_grid()
    assert metres(lon, lat, *bd09_to_gcj02(*gcj02_to_bd09(lon, lat))).max() < 0.5
    assert metres(lon, lat, *bd09_to_wgs84(*wgs84_to_bd09(lon, lat))).max() < 0.5


def test_points_outside_china_are_not_shifted():
    lon, lat = wgs84_to_gcj02([2.35, -74.0, 151.2], [48.85, 40.7, -33.9])
    np.testing.assert_array_equal(lon, [2.35, -74.0, 151.2])
    np.testing.assert_array_equal(lat, [48.85, 40.7, -33.9])
    back = gcj02_to_wgs84(lon, lat)
    np.testing.assert_array_equal(back[0], lon)


def test_arrays_keep_their_shape():
    lon = np.full((3, 4), 121.47)
    lat = np.full((3, 4), 31.23)
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert glon.shape == glat.shape == (3, 4)


def test_to_gcj02_shifts_every_vertex_of_a_frame():
    point = shapely.Point(121.4737, 31.2304)
    square = shapely.box(121.47, 31.23, 121.48, 31.24)
    frame = gpd.GeoDataFrame({"name": ["a", "b"]}, geometry=[point, square], crs="EPSG:4326")
    shifted = to_gcj02(frame)
    assert list(shifted["name"]) == ["a", "b"]
    expected = published_gcj02(121.4737, 31.2304)
    got = shifted.geometry.iloc[0]
    assert metres(got.x, got.y, *expected) < 0.01
    xy = shapely.get_coordinates(shifted.geometry.iloc[1])
    exp = np.array([published_gcj02(x, y) for x, y in shapely.get_coordinates(square)])
    assert metres(xy[:, 0], xy[:, 1], exp[:, 0], exp[:, 1]).max() < 0.01
    assert frame.geometry.iloc[0].equals(point)  # the input is not modified
    series = to_gcj02(frame.geometry)
    assert isinstance(series, gpd.GeoSeries)
    assert series.iloc[0].equals(got)


def test_to_gcj02_refuses_projected_data():
    frame = gpd.GeoDataFrame(geometry=[shapely.Point(350000, 3450000)], crs="EPSG:32651")
    with pytest.raises(CRSError, match="EPSG:4326"):
        to_gcj02(frame)
