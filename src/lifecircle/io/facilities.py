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
import pyproj

from ..config import Standard, feature_names
from ..errors import InputFileError, InputFormatError
from .providers import (
    TypeCodeTable,
    geometries_to_wgs84,
    parse_facilities_crs,
    points_to_wgs84,
    typecode_table,
)
from .vector import examples, missing_geometry, read_vector, refuse_bad_coordinates, row_labels

FACILITY_COLUMNS = ["category", "name", "source", "osm_id", "capacity"]

#: Column of a facility's capacity (places, beds, residents; NaN: not given).
CAPACITY = "capacity"


def _empty(crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {c: pd.Series(dtype=object) for c in FACILITY_COLUMNS},
        geometry=gpd.GeoSeries([], crs=crs),
        crs=crs,
    )


def facilities_from_tags(
    features: gpd.GeoDataFrame, standard: Standard, *, source: str
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
    names = feature_names(features)
    osm_id = (
        features["osm_type"].astype(str).str[0] + features["osm_id"].astype(str)
        if {"osm_type", "osm_id"} <= set(features.columns)
        else pd.Series(pd.NA, index=features.index, dtype="string")
    )
    # OSM's capacity=* (places, beds) where it is a plain number; anything else is unknown
    capacity = (
        pd.to_numeric(features[CAPACITY], errors="coerce").to_numpy(float, copy=True)
        if CAPACITY in features.columns
        else np.full(len(features), np.nan)
    )
    capacity[~np.isfinite(capacity) | (capacity < 0)] = np.nan
    for category in standard.categories:
        mask = category.match(features)
        if not mask.any():
            continue
        frames.append(
            gpd.GeoDataFrame(
                {
                    "category": category.id,
                    "name": names[mask].to_numpy(),
                    "source": source,
                    "osm_id": osm_id[mask].to_numpy(),
                    CAPACITY: capacity[mask],
                },
                geometry=features.geometry[mask].to_numpy(),
                crs=features.crs,
            )
        )
    if not frames:
        return _empty(features.crs)
    return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=features.crs)


def facilities_from_osm(path: str | Path, standard: Standard) -> gpd.GeoDataFrame:
    """Read and classify the POIs (nodes and areas) of an OSM file.

    ``.attrs["invalid_locations"]`` and ``.attrs["broken_areas"]`` count the
    tagged nodes without a valid location and the areas that could not be
    built; both are skipped (see :func:`lifecircle.io.osm.read_osm_pois`).
    """
    from .osm import read_osm_pois

    pois = read_osm_pois(path, standard.tag_keys() | {CAPACITY})
    out = facilities_from_tags(pois, standard, source=Path(path).name)
    out.attrs["invalid_locations"] = int(pois.attrs.get("invalid_locations", 0))
    out.attrs["broken_areas"] = int(pois.attrs.get("broken_areas", 0))
    return out


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


TABLE_SUFFIXES = (".csv", ".xlsx", ".xls")
LON_LAT_COLUMNS = (("lon", "lat"), ("lng", "lat"), ("longitude", "latitude"), ("x", "y"))
TYPECODE_COLUMNS = ("typecode", "type_code", "typecodes")
#: Columns read as provider tags (Baidu ``教育培训;幼儿园``, Amap ``科教文化服务;学校;幼儿园``);
#: ``type`` only when some value holds a ``;`` (OSM files use ``type`` otherwise).
TAG_COLUMNS = ("tag", "industry", "detail_info.tag", "type")


def is_table(path: str | Path) -> bool:
    """Whether a facilities file is a table (CSV/Excel) rather than spatial data."""
    return Path(path).suffix.lower() in TABLE_SUFFIXES


def read_facilities(
    path: str | Path,
    standard: Standard,
    *,
    crs: str | None = None,
    typecodes: str | Path | TypeCodeTable | None = None,
) -> gpd.GeoDataFrame:
    """Read a facilities file.

    Parameters
    ----------
    path
        GeoJSON/GeoPackage/... with a ``category`` column, an Amap ``typecode``
        column, a provider ``tag`` column or OSM tag columns; or a CSV/Excel
        table with coordinates (``lon``/``lat``, ``lng``/``lat``,
        ``longitude``/``latitude`` or an Amap ``location`` "lon,lat"), ``name``
        and ``category``, ``typecode`` or ``tag``. The first column found of
        ``category``, then :data:`TYPECODE_COLUMNS`, then :data:`TAG_COLUMNS`
        (Baidu ``教育培训;幼儿园``) decides the category.
    standard
        The standard whose category ids are valid.
    crs
        Datum or CRS of the coordinates: ``wgs84``, ``gcj02`` (Amap, Tencent),
        ``bd09`` (Baidu) or e.g. ``EPSG:4326``. Tables default to WGS-84;
        vector files default to their own CRS.
    typecodes
        A user's type-code file (``--typecodes``, YAML or CSV ``code,category``)
        that extends and overrides the bundled Amap/Baidu tables, or a table made
        by :func:`lifecircle.io.providers.typecode_table` for ``standard``.
        It is checked even when the file has a ``category`` column.

    Returns
    -------
    geopandas.GeoDataFrame
        The normalised facility table (EPSG:4326). ``.attrs["unknown_typecodes"]``
        counts type codes that map to no category (those rows are dropped);
        ``.attrs["empty_geometries"]`` counts features of a vector file without a
        geometry (dropped: they have no location).

    Raises
    ------
    InputFormatError
        Missing, non-numeric, NaN or infinite coordinates, or latitudes beyond
        +-90 degrees (the message names the rows).
    ConfigError
        The type-code file has mistakes.
    """
    path = Path(path)
    crs = parse_facilities_crs(crs)
    table = _typecode_table(standard, typecodes)
    if path.suffix.lower() in TABLE_SUFFIXES:
        return _read_table(path, standard, crs, table)
    features = read_vector(path, what="facilities", flag="--facilities", keep_empty=True)
    features = features.reset_index(drop=True)
    labels = row_labels(features)
    empty = missing_geometry(features.geometry.to_numpy())
    features, labels = features[~empty], labels[~empty]
    if features.empty:
        msg = (
            f"{path}: none of its {len(empty)} facilities has a geometry; give points or "
            "polygons (--facilities)"
        )
        raise InputFormatError(msg)
    refuse_bad_coordinates(features, path=path, what="facilities", labels=labels)
    features = geometries_to_wgs84(features, crs)
    refuse_bad_coordinates(
        features,
        path=path,
        what="facilities",
        labels=labels,
        stage=f"after conversion from {crs or features.crs.name} to WGS-84",
    )
    out = _classify(features, standard, path, table)
    out.attrs["empty_geometries"] = int(empty.sum())
    return out


def _typecode_table(
    standard: Standard, typecodes: str | Path | TypeCodeTable | None
) -> TypeCodeTable | None:
    """The user's type-code table, checked now; ``None``: the bundled one, made when needed."""
    if typecodes is None:
        return None
    if isinstance(typecodes, TypeCodeTable):
        if typecodes.standard != standard.id:
            msg = (
                f"the type-code table was made for the standard {typecodes.standard!r}, "
                f"not {standard.id!r}; make it with typecode_table(standard, ...)"
            )
            raise ValueError(msg)
        return typecodes
    return typecode_table(standard, typecodes)


def _tag_column(features: pd.DataFrame) -> str | None:
    """The provider tag column, if any (``type`` only when a value holds a ``;``)."""
    for column in TAG_COLUMNS:
        if column not in features.columns:
            continue
        if column != "type" or features[column].astype("string").str.contains(";|；").any():
            return column
    return None


def _classify(
    features: gpd.GeoDataFrame,
    standard: Standard,
    path: Path,
    table: TypeCodeTable | None = None,
) -> gpd.GeoDataFrame:
    """Categories from a ``category`` column, type codes, provider tags, or OSM tags."""
    typecode = next((c for c in TYPECODE_COLUMNS if c in features.columns), None)
    tag = None if typecode is not None else _tag_column(features)
    unknown: dict[str, int] = {}
    if "category" in features.columns:
        category = features["category"].astype("string").str.strip()
        _check_categories(category, standard, path)
    elif typecode is not None or tag is not None:
        table = table or typecode_table(standard)
        if typecode is not None:
            category, unknown = table.classify(features[typecode], "code")
        else:
            category, unknown = table.classify(features[tag], "tag")
    else:
        keys = standard.tag_keys()
        if not keys & set(features.columns):
            msg = (
                f"{path}: facilities need a 'category' column (one of "
                f"{', '.join(standard.category_ids)}), an Amap 'typecode' column, a Baidu "
                f"'tag' column (教育培训;幼儿园), or OSM tag columns such as "
                f"{', '.join(sorted(keys)[:6])}; found only "
                f"{', '.join(map(str, features.columns))}"
            )
            raise InputFormatError(msg)
        return facilities_from_tags(features, standard, source=path.name)
    keep = category.notna().to_numpy()
    capacity = _capacity(features, path)
    out = gpd.GeoDataFrame(
        {
            "category": category[keep].astype(str).to_numpy(),
            "name": feature_names(features)[keep].to_numpy(),
            "source": path.name,
            "osm_id": (
                features.loc[keep, "osm_id"].astype(str).to_numpy()
                if "osm_id" in features
                else pd.NA
            ),
            CAPACITY: capacity[keep],
        },
        geometry=features.geometry[keep].to_numpy(),
        crs=features.crs,
    )
    out.attrs["unknown_typecodes"] = unknown
    return out


def _capacity(features: pd.DataFrame, path: Path) -> np.ndarray:
    """The ``capacity`` column of a facility file (places, beds ...; NaN where empty).

    A value that is not a finite, non-negative number is refused by row, so a typo
    never silently becomes "unlimited".
    """
    column = next((c for c in features.columns if str(c).strip().lower() == CAPACITY), None)
    if column is None:
        return np.full(len(features), np.nan)
    raw = features[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(float, copy=True)
    empty = raw.isna().to_numpy() | (raw.astype("string").str.strip() == "").fillna(True).to_numpy()
    bad = ~empty & (~np.isfinite(values) | (values < 0))
    if bad.any():
        rows = [str(i + 2) for i in np.flatnonzero(bad)]
        msg = (
            f"{path}: column {str(column)!r} must hold a non-negative number (places, beds or "
            f"residents a facility can serve) or be empty; line(s) {examples(rows)} do not. "
            "Fix those values or leave them empty to use the standard's default"
        )
        raise InputFormatError(msg)
    values[empty] = np.nan
    return values


def _read_table(
    path: Path, standard: Standard, crs: str | None, table: TypeCodeTable | None
) -> gpd.GeoDataFrame:
    if not path.is_file():
        msg = f"facilities file {str(path)!r} does not exist; check the path given to --facilities"
        raise InputFileError(msg)
    try:
        if path.suffix.lower() == ".csv":
            frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
        else:
            frame = pd.read_excel(path, dtype=str)
    except Exception as exc:  # noqa: BLE001 - any parser failure means a bad file
        msg = f"{path}: could not be read as a table ({exc})"
        raise InputFormatError(msg) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    lower = {c.lower(): c for c in frame.columns}
    pair = next(
        ((lower[a], lower[b]) for a, b in LON_LAT_COLUMNS if a in lower and b in lower), None
    )
    if pair is not None:
        lon = pd.to_numeric(frame[pair[0]], errors="coerce")
        lat = pd.to_numeric(frame[pair[1]], errors="coerce")
    elif "location" in lower:
        parts = frame[lower["location"]].astype("string").str.split(",", expand=True)
        lon = pd.to_numeric(parts[0], errors="coerce")
        lat = (
            pd.to_numeric(parts[1], errors="coerce")
            if parts.shape[1] > 1
            else pd.Series(np.nan, index=frame.index)
        )
    else:
        msg = (
            f"{path}: facilities tables need coordinates: columns lon and lat (or lng/lat, "
            "longitude/latitude, or an Amap 'location' column 'lon,lat'); found "
            f"{', '.join(frame.columns[:15])}"
        )
        raise InputFormatError(msg)
    if "category" not in lower and not any(c in lower for c in TYPECODE_COLUMNS + TAG_COLUMNS):
        msg = (
            f"{path}: facilities tables need a 'category' column (one of "
            f"{', '.join(standard.category_ids)}), an Amap 'typecode' column or a Baidu "
            "'tag' column (教育培训;幼儿园)"
        )
        raise InputFormatError(msg)
    if pair is not None:
        fields = f"columns {pair[0]!r} and {pair[1]!r}"
        raw = (
            frame[pair[0]].astype("string").fillna("")
            + ","
            + frame[pair[1]].astype("string").fillna("")
        )
    else:
        fields = f"column {lower['location']!r}"
        raw = frame[lower["location"]].astype("string").fillna("")
    geographic = crs in (None, "wgs84", "gcj02", "bd09") or pyproj.CRS(crs).is_geographic
    lon_a = lon.to_numpy(dtype=float, na_value=np.nan)
    lat_a = lat.to_numpy(dtype=float, na_value=np.nan)
    bad = ~(np.isfinite(lon_a) & np.isfinite(lat_a))
    if geographic:
        with np.errstate(invalid="ignore"):
            bad |= (np.abs(lon_a) > 180) | (np.abs(lat_a) > 90)
    if bad.any():
        shown = [
            f"{i + 2} ({v[:40]!r})"
            for i, v in zip(np.flatnonzero(bad), raw.to_numpy(dtype=object)[bad], strict=True)
        ]
        msg = (
            f"{path}: {fields} must hold numeric coordinates (longitude -180..180, "
            f"latitude -90..90 in degrees); {int(bad.sum())} row(s) do not, on line(s) "
            f"{examples(shown)}. Fix or remove those rows, or give --facilities-crs if "
            "they are projected coordinates"
        )
        raise InputFormatError(msg)
    x, y = points_to_wgs84(lon_a, lat_a, crs)
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        lines = [str(i + 2) for i in np.flatnonzero(bad)]
        msg = (
            f"{path}: {fields} hold coordinates that cannot be converted from {crs} to "
            f"longitude/latitude on line(s) {examples(lines)}; check --facilities-crs or "
            "fix those rows"
        )
        raise InputFormatError(msg)
    frame = frame.rename(
        columns={
            lower[c]: c for c in ("category", "name", *TYPECODE_COLUMNS, *TAG_COLUMNS) if c in lower
        }
    )
    features = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(x, y), crs="EPSG:4326")
    return _classify(features, standard, path, table)


def merge_facilities(frames: Iterable[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Stack facility tables (reprojected to EPSG:4326) and number them ``facility_id``."""
    parts = [f.to_crs("EPSG:4326") for f in frames if len(f)]
    merged = (
        gpd.GeoDataFrame(pd.concat(parts, ignore_index=True), crs="EPSG:4326")
        if parts
        else _empty()
    )
    merged.attrs = {}
    merged.insert(0, "facility_id", np.arange(len(merged), dtype=np.int64))
    return merged
