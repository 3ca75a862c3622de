"""Reading vector files with clear errors (shared by the facility, unit and population readers)."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pandas as pd

from ..errors import CRSError, InputFileError, InputFormatError

VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".parquet", ".geoparquet")


def read_vector(path: str | Path, *, what: str, flag: str, layer: str | None = None
                ) -> gpd.GeoDataFrame:
    """Read a vector file, refusing missing files, unreadable formats and missing CRS.

    Parameters
    ----------
    path
        GeoPackage, GeoJSON, Shapefile, FlatGeobuf or GeoParquet file.
    what
        What the file should hold, for messages (e.g. ``"governance units"``).
    flag
        The CLI option that gave the file, for messages (e.g. ``"--units"``).
    layer
        Layer to read (default: the first).

    Returns
    -------
    geopandas.GeoDataFrame
        With a CRS and at least one row.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{what} file {str(path)!r} does not exist; check the path given to {flag}"
        raise InputFileError(msg)
    if not path.name.lower().endswith(VECTOR_SUFFIXES):
        msg = (
            f"{path}: unsupported format for {what} ({flag}); give a GeoPackage (.gpkg), "
            "GeoJSON (.geojson), Shapefile (.shp), FlatGeobuf (.fgb) or GeoParquet file"
        )
        raise InputFormatError(msg)
    try:
        if path.suffix.lower() in {".parquet", ".geoparquet"}:
            gdf = gpd.read_parquet(path)
        else:
            gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # noqa: BLE001 - any reader failure means a bad file
        msg = f"{path}: could not be read as {what} ({flag}): {exc}"
        raise InputFormatError(msg) from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        msg = f"{path}: has no geometry column; {what} ({flag}) must be spatial features"
        raise InputFormatError(msg)
    if gdf.crs is None:
        msg = (
            f"{path}: has no coordinate reference system; {what} ({flag}) need one. "
            "Set it, e.g. `gdf.set_crs('EPSG:4326').to_file(...)` or "
            "`ogr2ogr -a_srs EPSG:4326 out.gpkg in.gpkg`"
        )
        raise CRSError(msg)
    if gdf.empty:
        msg = f"{path}: holds no features; {what} ({flag}) cannot be empty"
        raise InputFormatError(msg)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    return gdf


def require_columns(frame: pd.DataFrame, columns: list[str], *, path: str | Path, what: str,
                    fix: str) -> None:
    """Raise :class:`InputFormatError` naming every missing column and how to fix it."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns[:20]))
        msg = (
            f"{path}: {what} lack the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (found: {have}); {fix}"
        )
        raise InputFormatError(msg)
