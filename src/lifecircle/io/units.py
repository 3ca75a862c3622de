"""Governance units and their hierarchy (district -> street/town -> committee ...).

Two file layouts are read:

* **parent ids** -- one row per unit of every level with ``unit_id``, ``name``
  and ``parent_id`` (empty for the top level), optionally ``level`` naming each
  level; levels follow from the parent chain.
* **one column per level** -- polygons of the finest level with one id column
  per level, coarsest first (``level_columns=["district", "street"]``); coarser
  units are the union of their children.
* **statistical codes** -- China's 12-digit codes (``code_field``, or found
  automatically): district = first 6 digits, street/town = 9, residents'
  committee/village = 12; levels and parents follow from the digits.

Without a units file, :func:`units_from_osm` reads administrative boundaries
(admin_level 6/8/10) from the OSM file, and :func:`hex_units` makes a regular
hexagon grid (not governance units; the audit says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputFormatError
from .vector import (
    clean_polygons,
    examples,
    nonfinite_coordinates,
    read_vector,
    refuse_bad_coordinates,
    require_columns,
    row_labels,
)

if TYPE_CHECKING:
    import shapely

UNIT_COLUMNS = ["unit_id", "name", "parent_id"]


@dataclass(frozen=True)
class UnitHierarchy:
    """Units of every level, coarsest first.

    Attributes
    ----------
    levels
        Level names, coarsest first (e.g. ``["district", "street"]``).
    units
        Per level: ``unit_id``, ``name``, ``parent_id`` and polygons (EPSG:4326).
    source
        The file the units came from.
    report
        What reading changed, by unit id: ``repaired`` (invalid polygons fixed
        with :func:`shapely.make_valid`), ``rebuilt_from_children`` (units
        without a polygon, given the union of their children's),
        ``dropped_without_geometry`` (units without a polygon and with a
        ``population`` of 0).
    """

    levels: list[str]
    units: dict[str, gpd.GeoDataFrame]
    source: str = ""
    report: dict[str, Any] = field(default_factory=dict)

    def to_frame(self) -> gpd.GeoDataFrame:
        """All units in one layer with a ``level`` column (the parent-id layout)."""
        frames = [t.assign(level=level) for level, t in self.units.items()]
        return gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs="EPSG:4326")

    @property
    def finest(self) -> str:
        """Name of the finest level."""
        return self.levels[-1]

    def ancestors(self) -> pd.DataFrame:
        """Per finest unit, its ancestor's id at every level (columns = level names)."""
        table = pd.DataFrame({self.finest: self.units[self.finest]["unit_id"].to_numpy()})
        child = self.finest
        for level in reversed(self.levels[:-1]):
            parent_of = self.units[child].set_index("unit_id")["parent_id"]
            table[level] = table[child].map(parent_of)
            child = level
        return table[self.levels]

    def assign(self, points: gpd.GeoDataFrame) -> pd.Series:
        """Id of the finest unit containing each point (NA outside every unit)."""
        finest = self.units[self.finest].to_crs(points.crs)
        tree_idx, poly_idx = finest.sindex.query(points.geometry.values, predicate="intersects")
        unit_id = pd.Series(pd.NA, index=points.index, dtype="string")
        # a point on a shared border goes to the first unit found
        _, first = np.unique(tree_idx, return_index=True)
        unit_id.iloc[tree_idx[first]] = finest["unit_id"].to_numpy()[poly_idx[first]]
        return unit_id


def _clean_ids(series: pd.Series) -> pd.Series:
    out = series.astype("string").str.strip()
    # ids read as floats (e.g. 310101.0) lose the .0
    out = out.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    return out.mask(out.isin(["", "nan", "None", "<NA>"]))


def _with_geometry(gdf: gpd.GeoDataFrame, geoms: np.ndarray) -> gpd.GeoDataFrame:
    """A copy of ``gdf`` whose (active) geometry column holds ``geoms``."""
    out = gdf.copy()
    out[gdf.geometry.name] = gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs)
    return out


CODE_LEVELS = (("district", 6), ("street", 9), ("committee", 12))


def read_units(
    path: str | Path,
    *,
    level_columns: list[str] | None = None,
    code_field: str | None = None,
    layer: str | None = None,
) -> UnitHierarchy:
    """Read governance units and build their hierarchy.

    Parameters
    ----------
    path
        Polygons in any CRS.
    level_columns
        Id column of every level, coarsest first (one-column-per-level layout).
    code_field
        Column of 12-digit statistical codes. Without this or ``level_columns``,
        the file needs ``unit_id`` (and ``parent_id``), or a column whose values
        are all 12-digit codes (used automatically).
    layer
        Layer to read (default: the first).

    Returns
    -------
    UnitHierarchy
        Units of every level in EPSG:4326. Invalid polygons are repaired with
        :func:`shapely.make_valid` (polygonal part kept) and listed in
        ``report["repaired"]``; a parent unit without a polygon gets the union
        of its children's (``report["rebuilt_from_children"]``); a unit without
        a polygon whose ``population`` column is 0 is dropped
        (``report["dropped_without_geometry"]``).

    Raises
    ------
    InputFormatError
        NaN or infinite coordinates, degrees out of range, or a unit without a
        usable polygon that may hold residents (the message names the ids).
    """
    what = "governance units"
    gdf = read_vector(path, what=what, flag="--units", layer=layer, keep_empty=True)
    gdf = gdf.reset_index(drop=True)
    if code_field is None and not level_columns and "unit_id" not in gdf.columns:
        code_field = _find_code_column(gdf)
    id_column = (
        level_columns[-1] if level_columns else code_field if code_field is not None else "unit_id"
    )
    labels = row_labels(gdf, id_column)
    refuse_bad_coordinates(gdf, path=path, what=what, labels=labels)
    geoms, repaired, no_area = clean_polygons(gdf.geometry.to_numpy())
    gdf = _with_geometry(gdf, geoms)
    if no_area.all():
        msg = f"{path}: has no polygons; governance units (--units) must be polygons"
        raise InputFormatError(msg)
    parent_layout = not level_columns and code_field is None
    report: dict[str, Any] = {}
    if no_area.any():
        drop = _units_without_polygons(gdf, no_area, labels, path, parent_layout=parent_layout)
        report["dropped_without_geometry"] = [str(v) for v in labels[drop]]
        gdf, labels, repaired = gdf[~drop], labels[~drop], repaired[~drop]
    gdf = gdf.to_crs("EPSG:4326")
    bad = nonfinite_coordinates(gdf.geometry.to_numpy())
    if bad.any():
        msg = (
            f"{path}: {int(bad.sum())} {what} have coordinates that do not fit the file's "
            f"CRS ({gdf.crs.name}) and cannot be converted to longitude/latitude: "
            f"{examples(labels[bad])}; set the file's real CRS or fix these units"
        )
        raise InputFormatError(msg)
    geoms, repaired_again, _ = clean_polygons(gdf.geometry.to_numpy())
    gdf = _with_geometry(gdf, geoms)
    report["repaired"] = [str(v) for v in labels[repaired | repaired_again]]
    if level_columns:
        hierarchy = _from_level_columns(gdf, level_columns, path)
    elif code_field is not None:
        hierarchy = _from_codes(gdf, code_field, path)
    else:
        require_columns(
            gdf,
            ["unit_id"],
            path=path,
            what=what,
            fix=(
                "add a unique `unit_id` column (and `parent_id` for a hierarchy), or pass "
                "--unit-levels COL1,COL2 naming one id column per level, coarsest first"
            ),
        )
        hierarchy = _from_parent_ids(gdf, path)
    hierarchy.report.update(report)
    return hierarchy


def _units_without_polygons(
    gdf: gpd.GeoDataFrame,
    no_area: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
    *,
    parent_layout: bool,
) -> np.ndarray:
    """Rows to drop among the units without a polygon; refuse those that may hold residents.

    A unit without a polygon is dropped (and reported) when its ``population``
    column says 0; in the parent-id layout a unit with children keeps its row and
    gets the union of its children's polygons later. Any other unit without a
    polygon is refused: its residents could not be placed in it.
    """
    zero = np.zeros(len(gdf), dtype=bool)
    if "population" in gdf.columns:
        zero = (pd.to_numeric(gdf["population"], errors="coerce") == 0).to_numpy()
    has_children = np.zeros(len(gdf), dtype=bool)
    if parent_layout and "parent_id" in gdf.columns:
        has_children = (
            _clean_ids(gdf["unit_id"]).isin(set(_clean_ids(gdf["parent_id"]).dropna())).to_numpy()
        )
    refuse = no_area & ~zero & ~has_children
    if refuse.any():
        msg = (
            f"{path}: {int(refuse.sum())} governance units have no usable polygon (missing "
            f"or empty geometry, a point or line, or zero area): {examples(labels[refuse])}. "
            "Residents there could not be placed in any unit; give each of these units its "
            "polygon, or remove the rows (a unit whose `population` column is 0 is dropped "
            "and reported instead)"
        )
        raise InputFormatError(msg)
    return no_area & zero & ~has_children


def _from_parent_ids(gdf: gpd.GeoDataFrame, path: str | Path) -> UnitHierarchy:
    ids = _clean_ids(gdf["unit_id"])
    if ids.isna().any():
        rows = ", ".join(map(str, np.flatnonzero(ids.isna().to_numpy())[:5]))
        msg = f"{path}: column 'unit_id' is empty in row(s) {rows}; give every unit an id"
        raise InputFormatError(msg)
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        msg = (
            f"{path}: column 'unit_id' has duplicates ({', '.join(dup[:5])}); ids must be "
            "unique across all levels"
        )
        raise InputFormatError(msg)
    parents = (
        _clean_ids(gdf["parent_id"])
        if "parent_id" in gdf.columns
        else pd.Series(pd.NA, index=gdf.index, dtype="string")
    )
    orphan = parents.notna() & ~parents.isin(set(ids))
    if orphan.any():
        msg = (
            f"{path}: column 'parent_id' names units that are not in the file "
            f"({', '.join(parents[orphan].unique()[:5])}); add them or clear parent_id"
        )
        raise InputFormatError(msg)
    names = (gdf["name"].astype("string") if "name" in gdf.columns else ids).fillna(ids)
    frame = gpd.GeoDataFrame(
        {"unit_id": ids, "name": names, "parent_id": parents}, geometry=gdf.geometry, crs=gdf.crs
    )
    # depth of every unit by walking up the parent chain
    parent_of = dict(zip(ids, parents, strict=True))
    depth = {}
    for uid in ids:
        d, cur, seen = 0, uid, set()
        while pd.notna(parent_of.get(cur)):
            if cur in seen:
                msg = f"{path}: 'parent_id' forms a cycle through unit {uid!r}; fix the chain"
                raise InputFormatError(msg)
            seen.add(cur)
            cur, d = parent_of[cur], d + 1
        depth[uid] = d
    frame["depth"] = frame["unit_id"].map(depth).astype(int)
    rebuilt = _rebuild_from_children(frame)
    has_child = frame["unit_id"].isin(set(parents.dropna()))
    leaf_depths = sorted(int(d) for d in frame.loc[~has_child, "depth"].unique())
    if len(leaf_depths) > 1:
        short = frame.loc[~has_child & (frame["depth"] < leaf_depths[-1]), "unit_id"]
        msg = (
            f"{path}: column 'parent_id' leaves units without children at different depths "
            f"{leaf_depths}: {', '.join(short.head(5))} stop above the finest level. Every "
            "branch must reach the finest level: add their children or remove them"
        )
        raise InputFormatError(msg)
    n_levels = int(frame["depth"].max()) + 1
    level_names = [f"level{d}" for d in range(n_levels)]
    if "level" in gdf.columns:
        for d in range(n_levels):
            values = gdf.loc[frame["depth"] == d, "level"].dropna().astype(str).unique()
            if len(values) == 1:
                level_names[d] = values[0]
    units = {
        name: frame[frame["depth"] == d].drop(columns="depth").reset_index(drop=True)
        for d, name in enumerate(level_names)
    }
    return UnitHierarchy(
        levels=level_names,
        units=units,
        source=str(path),
        report={"rebuilt_from_children": rebuilt} if rebuilt else {},
    )


def _rebuild_from_children(frame: gpd.GeoDataFrame) -> list[str]:
    """Give units without a polygon the union of their children's (deepest first), in place."""
    missing = frame.geometry.isna().to_numpy()
    if not missing.any():
        return []
    for d in sorted(frame.loc[missing, "depth"].unique(), reverse=True):
        todo = (frame.geometry.isna() & (frame["depth"] == d)).to_numpy()
        kids = frame[
            frame["parent_id"].isin(set(frame.loc[todo, "unit_id"])) & frame.geometry.notna()
        ]
        union = kids.dissolve(by="parent_id").geometry
        frame.loc[todo, frame.geometry.name] = frame.loc[todo, "unit_id"].map(union).to_numpy()
    return [str(v) for v in frame.loc[missing, "unit_id"]]


def _from_level_columns(
    gdf: gpd.GeoDataFrame, level_columns: list[str], path: str | Path
) -> UnitHierarchy:
    require_columns(
        gdf,
        level_columns,
        path=path,
        what="governance units",
        fix="--unit-levels must name existing id columns, coarsest first",
    )
    ids = {col: _clean_ids(gdf[col]) for col in level_columns}
    for col, values in ids.items():
        if values.isna().any():
            msg = f"{path}: column {col!r} is empty in some rows; every unit needs an id there"
            raise InputFormatError(msg)
    finest = level_columns[-1]
    if ids[finest].duplicated().any():
        msg = f"{path}: finest-level column {finest!r} has duplicate ids; they must be unique"
        raise InputFormatError(msg)
    units = {}
    for i, col in enumerate(level_columns):
        parent = (
            ids[level_columns[i - 1]] if i else pd.Series(pd.NA, index=gdf.index, dtype="string")
        )
        name_col = f"{col}_name"
        names = gdf[name_col].astype("string") if name_col in gdf.columns else ids[col]
        frame = gpd.GeoDataFrame(
            {"unit_id": ids[col], "name": names, "parent_id": parent},
            geometry=gdf.geometry,
            crs=gdf.crs,
        )
        if col != finest:
            frame = frame.dissolve(by="unit_id", aggfunc="first", as_index=False)
        units[col] = frame[["unit_id", "name", "parent_id", "geometry"]].reset_index(drop=True)
    return UnitHierarchy(levels=list(level_columns), units=units, source=str(path))


def _find_code_column(gdf: gpd.GeoDataFrame) -> str | None:
    for col in gdf.columns:
        if col == gdf.geometry.name:
            continue
        values = _clean_ids(gdf[col])
        if values.notna().all() and values.str.fullmatch(r"\d{12}").all():
            return str(col)
    return None


def _from_codes(gdf: gpd.GeoDataFrame, code_field: str, path: str | Path) -> UnitHierarchy:
    """Hierarchy from 12-digit statistical codes (district 6, street 9, committee 12 digits)."""
    require_columns(
        gdf,
        [code_field],
        path=path,
        what="governance units",
        fix="--unit-codes must name a column of 12-digit statistical codes",
    )
    codes = _clean_ids(gdf[code_field])
    bad = codes.isna() | ~codes.str.fullmatch(r"\d{12}").fillna(False)
    if bad.any():
        examples = ", ".join(map(str, gdf.loc[bad, code_field].head(3)))
        msg = (
            f"{path}: column {code_field!r} must hold 12-digit statistical codes "
            f"(e.g. 310101002000); found {examples}"
        )
        raise InputFormatError(msg)
    # the level of each polygon: trailing zero groups mark coarser units
    depth = np.where(codes.str[6:] == "000000", 0, np.where(codes.str[9:] == "000", 1, 2))
    finest = int(depth.max())
    names_all = gdf["name"].astype("string") if "name" in gdf.columns else codes
    keep = depth == finest
    digits_of = [d for _, d in CODE_LEVELS]
    leaf_prefixes = {c[: digits_of[lvl]] for c in codes[keep] for lvl in range(finest)}
    childless = [
        c
        for c, d in zip(codes, depth, strict=True)
        if d < finest and c[: digits_of[d]] not in leaf_prefixes
    ]
    if childless:
        msg = (
            f"{path}: column {code_field!r} has units above the finest level with no "
            f"finer units under them: {', '.join(childless[:5])}. With statistical codes "
            f"every branch must reach the finest level ({CODE_LEVELS[finest][0]}); add "
            "their sub-units or remove them"
        )
        raise InputFormatError(msg)
    leaves = gdf[keep]
    known = dict(zip(codes, names_all, strict=True))
    columns = {}
    for name, digits in CODE_LEVELS[: finest + 1]:
        ids = codes[keep].str[:digits].str.pad(12, side="right", fillchar="0")
        columns[name] = ids
        columns[f"{name}_name"] = ids.map(lambda c: known.get(c, c))
    frame = gpd.GeoDataFrame(columns, geometry=leaves.geometry, crs=leaves.crs)
    return _from_level_columns(frame, [n for n, _ in CODE_LEVELS[: finest + 1]], path)


def units_from_osm(path: str | Path, levels: tuple[int, ...] = (6, 8, 10)) -> UnitHierarchy | None:
    """Administrative boundaries (``admin_level`` 6/8/10) inside an OSM file, or ``None``.

    Each finest boundary gets as parents the coarser boundaries that contain
    its representative point; coarser units are the union of their children
    inside the file.
    """
    from .osm import read_osm_pois

    areas = read_osm_pois(path, ["boundary", "admin_level"])
    hierarchy = units_from_boundaries(areas, levels=levels, source=str(path))
    if hierarchy is not None:
        hierarchy.report["broken_areas"] = int(areas.attrs.get("broken_areas", 0))
    return hierarchy


def units_from_boundaries(
    areas: gpd.GeoDataFrame, *, levels: tuple[int, ...] = (6, 8, 10), source: str = ""
) -> UnitHierarchy | None:
    """Hierarchy from OSM administrative boundaries, or ``None`` when there are none.

    ``areas`` has ``osm_type``, ``osm_id``, ``name``, ``boundary`` and
    ``admin_level`` columns and polygon geometries.
    """
    areas = areas[
        (areas["boundary"] == "administrative") & areas.geom_type.isin(["Polygon", "MultiPolygon"])
    ]
    areas = areas[pd.to_numeric(areas["admin_level"], errors="coerce").isin(levels)]
    if areas.empty:
        return None
    areas = areas.assign(
        level=pd.to_numeric(areas["admin_level"]).astype(int),
        unit_id=areas["osm_type"].str[0] + areas["osm_id"].astype(str),
    )
    geoms, repaired, no_area = clean_polygons(areas.geometry.to_numpy())
    repaired_ids = [str(v) for v in areas["unit_id"].to_numpy()[repaired & ~no_area]]
    areas = _with_geometry(areas, geoms)[~no_area]
    if areas.empty:
        return None
    present = sorted(areas["level"].unique())
    leaves = areas[areas["level"] == present[-1]].reset_index(drop=True)
    columns: dict[str, pd.Series] = {}
    points = leaves.geometry.representative_point()
    for lv in present[:-1]:
        coarse = areas[areas["level"] == lv].reset_index(drop=True)
        leaf_idx, coarse_idx = coarse.sindex.query(points.values, predicate="within")
        ids = pd.Series(f"outside-admin{lv}", index=leaves.index, dtype="string")
        names = pd.Series(f"outside admin_level {lv}", index=leaves.index, dtype="string")
        ids.iloc[leaf_idx] = coarse["unit_id"].to_numpy()[coarse_idx]
        names.iloc[leaf_idx] = coarse["name"].fillna(coarse["unit_id"]).to_numpy()[coarse_idx]
        columns[f"admin{lv}"], columns[f"admin{lv}_name"] = ids, names
    columns[f"admin{present[-1]}"] = leaves["unit_id"].astype("string")
    columns[f"admin{present[-1]}_name"] = leaves["name"].fillna(leaves["unit_id"]).astype("string")
    frame = gpd.GeoDataFrame(columns, geometry=leaves.geometry, crs=leaves.crs)
    hierarchy = _from_level_columns(frame, [f"admin{lv}" for lv in present], source)
    hierarchy.report["repaired"] = repaired_ids
    return hierarchy


def hex_units(extent: shapely.Geometry, crs: object, *, size_m: float = 500.0) -> UnitHierarchy:
    """A regular hexagon grid over ``extent`` (graph CRS), one level ``hex``.

    ``size_m`` is the hexagons' circumradius (centre to corner); each covers
    ``2.598 * size_m**2``. Hexagons are not governance units.
    """
    import shapely

    xmin, ymin, xmax, ymax = shapely.bounds(extent)
    dx, dy = 1.5 * size_m, np.sqrt(3.0) * size_m
    cols = np.arange(xmin - size_m, xmax + dx, dx)
    rows = np.arange(ymin - dy, ymax + dy, dy)
    grid_x, grid_y = np.meshgrid(cols, rows)
    odd_column_shift = (np.arange(len(cols)) % 2)[None, :] * dy / 2.0
    cx, cy = grid_x.ravel(), (grid_y + odd_column_shift).ravel()
    angles = np.deg2rad(np.arange(0, 360, 60))
    ring = np.stack(
        [cx[:, None] + size_m * np.cos(angles), cy[:, None] + size_m * np.sin(angles)], axis=-1
    )
    hexes = np.asarray(shapely.polygons(ring))  # an (n, 6, 2) ring array gives an array
    keep = shapely.intersects(hexes, extent)
    hexes = hexes[keep]
    ids = [f"hex-{i:05d}" for i in range(len(hexes))]
    frame = gpd.GeoDataFrame(
        {"unit_id": ids, "name": ids, "parent_id": pd.NA}, geometry=hexes, crs=crs
    ).to_crs("EPSG:4326")
    return UnitHierarchy(levels=["hex"], units={"hex": frame}, source=f"hexagons {size_m:g} m")
