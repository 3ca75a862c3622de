"""Population rasters: one weighted origin per populated cell.

:func:`origins_from_raster` reads only the window of a WorldPop/GHSL/LandScan-style
GeoTIFF that covers the street data, drops invalid cells (counted in the report) and
sums cells into blocks when there are too many. Re-exported by
:mod:`lifecircle.io.population`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import shapely

from ..errors import CRSError, DataError, InputFileError, InputFormatError
from .demography import AGE_BAND_COLUMN, COHORT_COLUMN, FRACTION_PREFIX, age_band, covers_every_age

if TYPE_CHECKING:
    from ..network import WalkGraph
    from .population import Origins

#: Above this many populated cells in the study window, cells are summed into
#: blocks of k x k cells (k as small as keeps the count under this limit).
MAX_RASTER_ORIGINS = 250_000

RASTER_SUFFIXES = (".tif", ".tiff", ".vrt", ".img")


def is_raster(path: str | Path) -> bool:
    """Whether ``path`` names a population raster (GeoTIFF and friends)."""
    return str(path).lower().endswith(RASTER_SUFFIXES)


def origins_from_raster(
    graph: WalkGraph,
    path: str | Path,
    *,
    band: int = 1,
    max_origins: int = MAX_RASTER_ORIGINS,
    margin_m: float = 0.0,
) -> Origins:
    """One origin per populated raster cell (WorldPop/GHSL/LandScan-style GeoTIFF).

    Only the window covering the street data (plus ``margin_m``) is read, so a
    national raster is never loaded whole. Nodata and non-positive cells are
    skipped; cells holding NaN or infinity (other than the nodata value) or a
    negative number are dropped and counted in the report (``cells_not_finite``,
    ``cells_negative``, ``negative_values_dropped``, ``dropped_cell_share``: their
    share of the window's data cells). Each origin sits at its cell's centre
    and carries the cell's value; a cell belongs to the unit containing its
    centre, so population is conserved per unit. When the window holds more than ``max_origins``
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
        Points (graph CRS) with ``origin_id``, ``population``, ``population_method``,
        and ``frac_<band>`` shares from the raster's other bands named ``pop_<cohort>``,
        ``share_<cohort>`` or ``age_<a>_<b>`` (see :func:`age_fractions`).
    """
    import rasterio
    from rasterio.errors import RasterioIOError
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window

    from .population import Origins  # here: lifecircle.io.population imports this module

    path = Path(path)
    if not path.is_file():
        msg = (
            f"population raster {str(path)!r} does not exist; check the path given to --population"
        )
        raise InputFileError(msg)
    try:
        src = rasterio.open(path)
    except RasterioIOError as exc:
        msg = f"{path}: could not be read as a raster ({exc}); give a GeoTIFF of persons per cell"
        raise InputFormatError(msg) from None
    with src:
        if src.crs is None:
            msg = (
                f"{path}: the raster has no coordinate reference system; assign one, e.g. "
                "`gdal_edit.py -a_srs EPSG:4326 file.tif`"
            )
            raise CRSError(msg)
        t = src.transform
        if t.b != 0 or t.d != 0:
            msg = f"{path}: rotated rasters are not supported; warp it to a north-up grid first"
            raise InputFormatError(msg)
        xmin, ymin, xmax, ymax = shapely.bounds(shapely.buffer(graph.extent(), margin_m))
        left, bottom, right, top = transform_bounds(
            graph.crs, src.crs, xmin, ymin, xmax, ymax, densify_pts=21
        )
        # every cell that touches the study area's bounding box, clipped to the raster
        cols = sorted(((left - t.c) / t.a, (right - t.c) / t.a))
        rows = sorted(((top - t.f) / t.e, (bottom - t.f) / t.e))
        col0, col1 = max(int(np.floor(cols[0])), 0), min(int(np.ceil(cols[1])), src.width)
        row0, row1 = max(int(np.floor(rows[0])), 0), min(int(np.ceil(rows[1])), src.height)
        if col1 <= col0 or row1 <= row0:
            msg = (
                f"{path}: the raster does not overlap the street data (raster bounds "
                f"{tuple(round(v, 4) for v in src.bounds)} in {src.crs}); give a raster "
                "that covers the study area"
            )
            raise DataError(msg)
        window = Window(col0, row0, col1 - col0, row1 - row0)
        values = src.read(band, window=window, masked=True).astype("float64")
        raster_crs, nodata = src.crs, src.nodata
        ages = _age_bands(src, band, window)
    data_cells = ~np.ma.getmaskarray(values)
    clean = values.filled(0.0)
    not_finite = ~np.isfinite(clean) & data_cells
    negative = (clean < 0) & data_cells & ~not_finite
    negative_sum = float(-clean[negative].sum())
    clean[not_finite | negative] = 0.0
    data, factor = clean, 1
    while int((data > 0).sum()) > max_origins:
        factor *= 2
        data = _block_sum(clean, factor)
    rows_i, cols_i = np.nonzero(data > 0)
    counts = {
        name: (_block_sum(layer, factor) if factor > 1 else layer)[rows_i, cols_i]
        for name, layer in ages.items()
    }
    # cell (or block) centres, from the north-up transform's coefficients
    xs = t.c + t.a * (col0 + (cols_i + 0.5) * factor)
    ys = t.f + t.e * (row0 + (rows_i + 0.5) * factor)
    pts = gpd.GeoSeries(gpd.points_from_xy(xs, ys), crs=raster_crs).to_crs(graph.crs)
    method = f"raster: one origin per populated cell of {path.name} at its centre" + (
        f", cells summed into {factor}x{factor} blocks" if factor > 1 else ""
    )
    points = gpd.GeoDataFrame(
        {
            "origin_id": np.arange(len(rows_i), dtype=np.int64),
            "population": data[rows_i, cols_i],
            "population_method": f"raster:{path.name}",
            **age_fractions(counts, data[rows_i, cols_i]),
        },
        geometry=pts.to_numpy(),
        crs=graph.crs,
    )
    report = {
        "raster": path.name,
        "raster_crs": str(raster_crs),
        "nodata": nodata,
        "window": {
            "col_off": int(window.col_off),
            "row_off": int(window.row_off),
            "width": int(window.width),
            "height": int(window.height),
        },
        "aggregation_factor": factor,
        "origins": len(points),
        "population_in_window": float(data.sum()),
        "population_input": float(data.sum()),
        "population_allocated": float(points["population"].sum()),
        "population_not_allocated": {},
        "cells_not_finite": int(not_finite.sum()),
        "cells_negative": int(negative.sum()),
        "negative_values_dropped": negative_sum,
        "dropped_cell_share": float((not_finite | negative).sum() / max(int(data_cells.sum()), 1)),
    }
    return Origins(points=points, method=method, report=report)


def _age_bands(src: Any, band: int, window: Any) -> dict[str, np.ndarray]:
    """Other bands named ``pop_<cohort>``, ``share_<cohort>`` or ``age_<a>_<b>`` (persons per cell).

    Band names are the GeoTIFF band descriptions (e.g. set with ``gdal_edit.py -setdesc``
    or ``rasterio``); unnamed and other bands are ignored. Invalid cells count as 0.
    """
    out = {}
    for i, desc in enumerate(src.descriptions, start=1):
        name = (desc or "").strip()
        if i == band or not (COHORT_COLUMN.match(name) or AGE_BAND_COLUMN.match(name)):
            continue
        layer = src.read(i, window=window, masked=True).astype("float64").filled(0.0)
        layer[~np.isfinite(layer) | (layer < 0)] = 0.0
        out[name] = layer
    return out


def age_fractions(counts: dict[str, np.ndarray], population: np.ndarray) -> dict[str, np.ndarray]:
    """Raster age bands per origin as shares of its residents (``frac_<band>``).

    ``pop_<cohort>`` bands: persons, capped at the cell's population (separate raster
    products rarely add up exactly); ``share_<cohort>``: 0-1; age bands: each band over
    the sum of the bands, used only when they cover every age (see
    :mod:`lifecircle.io.demography`).
    """
    out: dict[str, np.ndarray] = {}
    pop = np.asarray(population, float)
    for name, value in counts.items():
        if name.startswith("pop_"):
            frac = np.divide(value, pop, out=np.zeros_like(value), where=pop > 0)
            out[FRACTION_PREFIX + name] = np.clip(frac, 0.0, 1.0)
        elif name.startswith("share_"):
            out[FRACTION_PREFIX + name] = np.clip(value, 0.0, 1.0)
    bands = sorted((age_band(n), n) for n in counts if age_band(n) is not None)
    if bands and covers_every_age([b for b, _ in bands]):  # type: ignore[misc]
        total = np.sum([counts[n] for _, n in bands], axis=0)
        for _, name in bands:
            out[FRACTION_PREFIX + name] = np.divide(
                counts[name], total, out=np.zeros_like(total), where=total > 0
            )
    return out


def _block_sum(values: np.ndarray, factor: int) -> np.ndarray:
    """Sum ``factor x factor`` blocks (the array is zero-padded to a multiple)."""
    h, w = values.shape
    ph, pw = -h % factor, -w % factor
    padded = np.pad(values, ((0, ph), (0, pw)))
    return padded.reshape((h + ph) // factor, factor, (w + pw) // factor, factor).sum(axis=(1, 3))
