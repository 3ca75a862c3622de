"""Reading vector files with clear errors (shared by the facility, unit and population readers)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import CRSError, InputFileError, InputFormatError

VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp", ".fgb", ".parquet", ".geoparquet")


def read_vector(
    path: str | Path, *, what: str, flag: str, layer: str | None = None, keep_empty: bool = False
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
    keep_empty
        Keep features whose geometry is missing or empty (the caller decides
        whether to refuse or report them); by default they are dropped.

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
        # NaN coordinates are read as they are and refused by the callers, by feature
        with np.errstate(invalid="ignore"):
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
    if not keep_empty:
        gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    return gdf


def require_columns(
    frame: pd.DataFrame, columns: list[str], *, path: str | Path, what: str, fix: str
) -> None:
    """Raise :class:`InputFormatError` naming every missing column and how to fix it."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        have = ", ".join(map(str, frame.columns[:20]))
        msg = (
            f"{path}: {what} lack the column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} (found: {have}); {fix}"
        )
        raise InputFormatError(msg)


# --------------------------------------------------------------------------- geometry checks

#: How many examples an error message lists before "and N more".
MAX_EXAMPLES = 5


def examples(labels: Iterable[object], limit: int = MAX_EXAMPLES) -> str:
    """``"a, b, c, d, e and 12 more"``: the first ``limit`` labels and how many others."""
    items = [str(v) for v in labels]
    head = ", ".join(items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


def row_labels(frame: pd.DataFrame, id_column: str | None = None) -> np.ndarray:
    """A label per row for messages: its id in ``id_column``, else ``"row N"`` (file order, from 1).

    Rows without an id are labelled by position too.
    """
    position = np.array([f"row {i + 1}" for i in range(len(frame))], dtype=object)
    if id_column is None or id_column not in frame.columns:
        return position
    ids = frame[id_column].astype("string").str.strip()
    ids = ids.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    bad = ids.isna() | ids.isin(["", "nan", "None", "<NA>"])
    return np.where(bad.to_numpy(), position, ids.fillna("").to_numpy(dtype=object))


def missing_geometry(geoms: object) -> np.ndarray:
    """Whether each geometry is missing (None) or empty."""
    arr = np.asarray(geoms, dtype=object)
    return shapely.is_missing(arr) | shapely.is_empty(arr)


def nonfinite_coordinates(geoms: object) -> np.ndarray:
    """Whether each geometry has a NaN or infinite coordinate (missing geometries: False)."""
    arr = np.asarray(geoms, dtype=object)
    bad = np.zeros(len(arr), dtype=bool)
    coords, index = shapely.get_coordinates(arr, include_z=True, return_index=True)
    if len(coords):
        # a 2-D geometry reads as NaN z: only x and y must be finite
        bad_xy = ~np.isfinite(coords[:, :2]).all(axis=1)
        bad[index[bad_xy]] = True
    return bad


def out_of_range_degrees(geoms: object) -> np.ndarray:
    """Whether each geometry (in degrees) has a latitude beyond +-90 or a longitude beyond +-360."""
    arr = np.asarray(geoms, dtype=object)
    bad = np.zeros(len(arr), dtype=bool)
    coords, index = shapely.get_coordinates(arr, return_index=True)
    if len(coords):
        out = (np.abs(coords[:, 1]) > 90.0) | (np.abs(coords[:, 0]) > 360.0)
        bad[index[out]] = True
    return bad


def refuse_bad_coordinates(
    gdf: gpd.GeoDataFrame, *, path: str | Path, what: str, labels: np.ndarray, stage: str = ""
) -> None:
    """Raise :class:`InputFormatError` for NaN/infinite coordinates or impossible degrees.

    ``stage`` says when the check ran (e.g. ``"after reprojection to EPSG:4326"``),
    which tells coordinates outside the CRS's area of use from broken ones.
    """
    geoms = gdf.geometry.to_numpy()
    bad = nonfinite_coordinates(geoms)
    if bad.any():
        when = f" {stage}" if stage else ""
        cause = (
            "coordinates that do not fit its CRS "
            f"({gdf.crs.name if gdf.crs is not None else 'none'})"
            if stage
            else "NaN or infinite coordinates"
        )
        msg = (
            f"{path}: {int(bad.sum())} {what} have {cause}{when}: "
            f"{examples(labels[bad])}. Fix or remove these features (or set the right "
            "CRS), e.g. in QGIS with Vector > Geometry Tools > Check Validity"
        )
        raise InputFormatError(msg)
    if gdf.crs is not None and gdf.crs.is_geographic:
        bad = out_of_range_degrees(geoms)
        if bad.any():
            msg = (
                f"{path}: {int(bad.sum())} {what} have latitudes beyond +-90 degrees or "
                f"longitudes beyond +-360 although the file's CRS ({gdf.crs.name}) is in "
                f"degrees: {examples(labels[bad])}. The coordinates are probably projected "
                "(metres) or swapped; set the file's real CRS, e.g. `ogr2ogr -a_srs "
                "EPSG:32651 out.gpkg in.gpkg`, or fix these features"
            )
            raise InputFormatError(msg)


_POLYGONAL = ("Polygon", "MultiPolygon")


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry:
    """The polygons of ``geom`` as one (Multi)Polygon; an empty polygon if it has none."""
    if geom.geom_type in _POLYGONAL:
        return geom
    polys: list[BaseGeometry] = []
    stack = [geom]
    while stack:
        g = stack.pop()
        if g.geom_type == "Polygon":
            if not g.is_empty:
                polys.append(g)
        elif g.geom_type in ("MultiPolygon", "GeometryCollection"):
            stack.extend(shapely.get_parts(g))
    if not polys:
        return shapely.Polygon()
    if len(polys) == 1:
        return polys[0]
    return shapely.union_all(polys)


def clean_polygons(geoms: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Repair invalid polygons and keep only the polygonal part of every geometry.

    Invalid geometries (self-intersecting "bow-ties", rings touching themselves)
    are fixed with :func:`shapely.make_valid`; from geometry collections only
    the polygons are kept. Only the invalid or mixed geometries are touched.

    Parameters
    ----------
    geoms
        Array of geometries (may hold ``None``).

    Returns
    -------
    geoms : numpy.ndarray
        Polygons or MultiPolygons; ``None`` where nothing polygonal is left
        (missing, empty, points, lines, zero-area shapes).
    repaired : numpy.ndarray
        Whether each geometry was invalid and has been repaired.
    no_area : numpy.ndarray
        Whether each geometry has no polygonal part (or zero area).
    """
    arr = np.array(geoms, dtype=object)
    missing = missing_geometry(arr)
    present = ~missing
    invalid = np.zeros(len(arr), dtype=bool)
    invalid[present] = ~shapely.is_valid(arr[present])
    if invalid.any():
        arr[invalid] = shapely.make_valid(arr[invalid])
    types = shapely.get_type_id(arr)  # -1 missing, 3 Polygon, 6 MultiPolygon
    mixed = present & ~np.isin(types, (3, 6))
    for i in np.flatnonzero(mixed):  # only collections, points and lines: few
        arr[i] = _polygonal_part(arr[i])
    no_area = missing.copy()
    no_area[present] = shapely.area(arr[present]) <= 0.0
    arr[no_area] = None
    return arr, invalid, no_area
