"""Facilities: OSM-tagged features classified by a standard, or files with a category.

Every reader returns the normalised facility table: ``category``, ``name``,
``source``, ``osm_id`` and a geometry (points, or polygons reached at their
edge). A feature matching several categories (a nine-year school is both a
primary and a junior high school) appears once per category.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..config import Standard
from ..errors import InputFileError, InputFormatError
from .vector import read_vector, require_columns

FACILITY_COLUMNS = ["category", "name", "source", "osm_id"]


def _empty(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: pd.Series(dtype=object) for c in FACILITY_COLUMNS},
                            geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def _names(features: pd.DataFrame) -> pd.Series:
    names = pd.Series(pd.NA, index=features.index, dtype="string")
    for col in ("name", "name:zh", "name:en"):
        if col in features.columns:
            names = names.fillna(features[col].astype("string"))
    return names


def facilities_from_tags(features: gpd.GeoDataFrame, standard: Standard, *, source: str
                         ) -> gpd.GeoDataFrame:
    """Classify OSM-tagged features into the standard's categories.

    Parameters
    ----------
    features
        Features with OSM tag columns (``amenity``, ``shop``, ``leisure``, ...).
    standard
        Its categories' selectors decide what each feature is.
    source
        Recorded in the ``source`` column.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per (feature, matching category).
    """
    frames = []
    names = _names(features)
    osm_id = (features["osm_type"].astype(str).str[0] + features["osm_id"].astype(str)
              if {"osm_type", "osm_id"} <= set(features.columns)
              else pd.Series(pd.NA, index=features.index, dtype="string"))
    for category in standard.categories:
        mask = category.match(features)
        if not mask.any():
            continue
        frames.append(gpd.GeoDataFrame(
            {"category": category.id, "name": names[mask].to_numpy(),
             "source": source, "osm_id": osm_id[mask].to_numpy()},
            geometry=features.geometry[mask].to_numpy(), crs=features.crs,
        ))
    if not frames:
        return _empty(features.crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=features.crs)


def facilities_from_osm(path: str | Path, standard: Standard) -> gpd.GeoDataFrame:
    """Read and classify the POIs (nodes and areas) of an OSM file."""
    from .osm import read_osm_pois

    pois = read_osm_pois(path, standard.tag_keys())
    return facilities_from_tags(pois, standard, source=Path(path).name)


def _check_categories(values: pd.Series, standard: Standard, path: Path) -> None:
    unknown = sorted(set(values.dropna().astype(str)) - set(standard.category_ids))
    if values.isna().any():
        unknown = ["<empty>", *unknown]
    if unknown:
        msg = (
            f"{path}: column 'category' has values that are not categories of the standard "
            f"{standard.id!r}: {', '.join(repr(u) for u in unknown[:10])}. Use one of: "
            f"{', '.join(standard.category_ids)} (or drop the column and give OSM tag columns)"
        )
        raise InputFormatError(msg)


def read_facilities(path: str | Path, standard: Standard) -> gpd.GeoDataFrame:
    """Read a facilities file.

    Parameters
    ----------
    path
        GeoJSON/GeoPackage/... with a ``category`` column or OSM tag columns, or a
        CSV with ``lon``, ``lat`` (WGS-84), ``category`` and ``name``.
    standard
        The standard whose category ids are valid.

    Returns
    -------
    geopandas.GeoDataFrame
        The normalised facility table.
    """
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return _read_csv(path, standard)
    features = read_vector(path, what="facilities", flag="--facilities")
    if "category" in features.columns:
        features = features.copy()
        features["category"] = features["category"].astype("string").str.strip()
        _check_categories(features["category"], standard, path)
        return gpd.GeoDataFrame(
            {"category": features["category"].astype(str).to_numpy(),
             "name": _names(features).to_numpy(), "source": path.name,
             "osm_id": (features["osm_id"].astype(str).to_numpy() if "osm_id" in features
                        else pd.NA)},
            geometry=features.geometry.to_numpy(), crs=features.crs,
        )
    keys = standard.tag_keys()
    if not keys & set(features.columns):
        msg = (
            f"{path}: facilities need a 'category' column (one of "
            f"{', '.join(standard.category_ids)}) or OSM tag columns such as "
            f"{', '.join(sorted(keys)[:6])}; found only {', '.join(map(str, features.columns))}"
        )
        raise InputFormatError(msg)
    return facilities_from_tags(features, standard, source=path.name)


def _read_csv(path: Path, standard: Standard) -> gpd.GeoDataFrame:
    if not path.is_file():
        msg = f"facilities file {str(path)!r} does not exist; check the path given to --facilities"
        raise InputFileError(msg)
    try:
        frame = pd.read_csv(path, dtype={"category": "string", "name": "string"})
    except Exception as exc:  # noqa: BLE001 - any parser failure means a bad file
        msg = f"{path}: could not be read as CSV ({exc})"
        raise InputFormatError(msg) from None
    require_columns(frame, ["lon", "lat", "category", "name"], path=path, what="facilities",
                    fix="a facility CSV needs lon and lat (WGS-84 degrees), category and name")
    lon = pd.to_numeric(frame["lon"], errors="coerce")
    lat = pd.to_numeric(frame["lat"], errors="coerce")
    bad = lon.isna() | lat.isna() | ~lon.between(-180, 180) | ~lat.between(-90, 90)
    if bad.any():
        rows = ", ".join(str(i + 2) for i in np.flatnonzero(bad.to_numpy())[:5])
        msg = (f"{path}: lon/lat are missing or not WGS-84 degrees on line(s) {rows}; "
               "fix or remove those rows")
        raise InputFormatError(msg)
    frame["category"] = frame["category"].str.strip()
    _check_categories(frame["category"], standard, path)
    return gpd.GeoDataFrame(
        {"category": frame["category"].astype(str), "name": frame["name"],
         "source": path.name, "osm_id": pd.NA},
        geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326",
    )


def merge_facilities(frames: Iterable[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Stack facility tables (reprojected to EPSG:4326) and number them ``facility_id``."""
    parts = [f.to_crs("EPSG:4326") for f in frames if len(f)]
    merged = (gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")
              if parts else _empty())
    merged.insert(0, "facility_id", np.arange(len(merged), dtype=np.int64))
    return merged
