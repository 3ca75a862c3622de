"""Helpers shared by the "bring your own data" tests (providers, rasters, units, studies).

Everything here is offline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyproj
from click.testing import Result

from lifecircle.io import coords

from .conftest import assert_user_error, invoke  # noqa: F401 - re-exported for the BYOD tests

OUTPUTS = {"access.parquet", "units.gpkg", "facilities.gpkg", "gaps.csv", "summary.json"}

_GEOD = pyproj.Geod(ellps="WGS84")


def geod_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between (arrays of) lon/lat points on WGS-84."""
    lon1, lat1, lon2, lat2 = np.broadcast_arrays(
        *(np.asarray(v, float) for v in (lon1, lat1, lon2, lat2))
    )
    return np.asarray(_GEOD.inv(lon1, lat1, lon2, lat2)[2])


def shanghai_grid(n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """An n x n grid of WGS-84 points over all of Shanghai."""
    lon, lat = np.meshgrid(np.linspace(120.85, 122.2, n), np.linspace(30.67, 31.9, n))
    return lon.ravel(), lat.ravel()


def assert_ok(res: Result) -> None:
    assert res.exit_code == 0, (res.exit_code, res.output, res.exception)


# --------------------------------------------------------------------------- Amap-style tables

#: Real-looking places in central Shanghai (WGS-84), inside the bundled sample's
#: analysed area: name, Amap type code, lon, lat. The last code is not mapped.
AMAP_ROWS = [
    ("测试路小学", "141203", 121.4605, 31.2205),
    ("测试便利店", "060200", 121.4712, 31.2301),
    ("测试菜市场", "060703", 121.4820, 31.2415),
    ("测试医院", "090100", 121.4933, 31.2352),
    ("测试便利店二号", "060200|060100", 121.4551, 31.2453),
    ("测试餐厅", "050100", 121.4888, 31.2188),
]
AMAP_UNKNOWN = "050100"


def write_amap_csv(path: Path, rows=AMAP_ROWS, datum: str = "gcj02") -> pd.DataFrame:
    """Write an Amap-style CSV (name, typecode, location "lon,lat") shifted to ``datum``.

    Returns the rows with their true WGS-84 ``lon``/``lat``.
    """
    truth = pd.DataFrame(rows, columns=["name", "typecode", "lon", "lat"])
    shift = coords.wgs84_to_gcj02 if datum == "gcj02" else coords.wgs84_to_bd09
    x, y = shift(truth["lon"].to_numpy(), truth["lat"].to_numpy())
    table = pd.DataFrame(
        {
            "name": truth["name"],
            "typecode": truth["typecode"],
            "location": [f"{a:.8f},{b:.8f}" for a, b in zip(x, y, strict=True)],
        }
    )
    table.to_csv(path, index=False, encoding="utf-8")
    return truth


# --------------------------------------------------------------------------- rasters

NODATA = -9999.0


def write_raster(
    path: Path,
    bounds: tuple[float, float, float, float],
    crs: str | None,
    cell: float,
    *,
    nodata: float | None = NODATA,
    seed: int = 0,
) -> tuple[np.ndarray, object]:
    """A float32 GeoTIFF of persons per cell over ``bounds`` (in ``crs`` units).

    About 15 % of the cells are zero and about 10 % nodata (scattered, plus a
    solid block in the middle). Returns the array (nodata cells hold ``nodata``,
    or NaN when ``nodata`` is NaN) and the affine transform.
    """
    import rasterio
    from affine import Affine

    xmin, ymin, xmax, ymax = bounds
    width, height = int(np.ceil((xmax - xmin) / cell)), int(np.ceil((ymax - ymin) / cell))
    rng = np.random.default_rng(seed)
    values = rng.integers(1, 60, size=(height, width)).astype("float32")
    values[rng.random((height, width)) < 0.15] = 0.0
    missing = rng.random((height, width)) < 0.10
    missing[height // 2 - 2 : height // 2 + 3, width // 2 - 2 : width // 2 + 3] = True
    if nodata is not None:
        values[missing] = nodata
    transform = Affine(cell, 0.0, xmin, 0.0, -cell, ymax)  # north-up, no `*` (deprecated)
    profile = {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": "float32",
        "transform": transform,
    }
    if crs is not None:
        profile["crs"] = crs
    if nodata is not None:
        profile["nodata"] = nodata
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(values, 1)
    return values, transform


def valid_cells(values: np.ndarray, nodata: float | None = NODATA) -> np.ndarray:
    """Mask of the populated cells: not nodata, finite and positive."""
    ok = np.isfinite(values) & (values > 0)
    if nodata is not None and not np.isnan(nodata):
        ok &= values != nodata
    return ok


def cell_centres(transform, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of cells (row, col) under an affine transform."""
    x = transform.c + (cols + 0.5) * transform.a + (rows + 0.5) * transform.b
    y = transform.f + (cols + 0.5) * transform.d + (rows + 0.5) * transform.e
    return np.asarray(x, float), np.asarray(y, float)
