"""Governance units and their hierarchy (district -> street/town -> committee ...).

Two file layouts are read:

* **parent ids** -- one row per unit of every level with ``unit_id``, ``name``
  and ``parent_id`` (empty for the top level), optionally ``level`` naming each
  level; levels follow from the parent chain.
* **one column per level** -- polygons of the finest level with one id column
  per level, coarsest first (``level_columns=["district", "street"]``); coarser
  units are the union of their children.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..errors import InputFormatError
from .vector import read_vector, require_columns

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
    """

    levels: list[str]
    units: dict[str, gpd.GeoDataFrame]
    source: str = ""

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
        tree_idx, poly_idx = finest.sindex.query(points.geometry.values, predicate="within")
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


def read_units(
    path: str | Path,
    *,
    level_columns: list[str] | None = None,
    layer: str | None = None,
) -> UnitHierarchy:
    """Read governance units and build their hierarchy.

    Parameters
    ----------
    path
        Polygons in any CRS.
    level_columns
        Id column of every level, coarsest first (one-column-per-level layout).
        Without it, the file needs ``unit_id`` and ``parent_id`` columns.
    layer
        Layer to read (default: the first).

    Returns
    -------
    UnitHierarchy
        Units of every level in EPSG:4326.
    """
    gdf = read_vector(path, what="governance units", flag="--units", layer=layer)
    gdf = gdf[gdf.geom_type.isin(["Polygon", "MultiPolygon"])]
    if gdf.empty:
        msg = f"{path}: has no polygons; governance units (--units) must be polygons"
        raise InputFormatError(msg)
    gdf = gdf.to_crs("EPSG:4326")
    if level_columns:
        return _from_level_columns(gdf, level_columns, path)
    require_columns(
        gdf, ["unit_id"], path=path, what="governance units",
        fix=("add a unique `unit_id` column (and `parent_id` for a hierarchy), or pass "
             "--unit-levels COL1,COL2 naming one id column per level, coarsest first"),
    )
    return _from_parent_ids(gdf, path)


def _from_parent_ids(gdf: gpd.GeoDataFrame, path: str | Path) -> UnitHierarchy:
    ids = _clean_ids(gdf["unit_id"])
    if ids.isna().any():
        rows = ", ".join(map(str, np.flatnonzero(ids.isna().to_numpy())[:5]))
        msg = f"{path}: column 'unit_id' is empty in row(s) {rows}; give every unit an id"
        raise InputFormatError(msg)
    dup = ids[ids.duplicated()].unique()
    if len(dup):
        msg = (f"{path}: column 'unit_id' has duplicates ({', '.join(dup[:5])}); ids must be "
               "unique across all levels")
        raise InputFormatError(msg)
    parents = (_clean_ids(gdf["parent_id"]) if "parent_id" in gdf.columns
               else pd.Series(pd.NA, index=gdf.index, dtype="string"))
    orphan = parents.notna() & ~parents.isin(set(ids))
    if orphan.any():
        msg = (f"{path}: column 'parent_id' names units that are not in the file "
               f"({', '.join(parents[orphan].unique()[:5])}); add them or clear parent_id")
        raise InputFormatError(msg)
    names = (gdf["name"].astype("string") if "name" in gdf.columns else ids).fillna(ids)
    frame = gpd.GeoDataFrame({"unit_id": ids, "name": names, "parent_id": parents},
                             geometry=gdf.geometry, crs=gdf.crs)
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
    has_child = frame["unit_id"].isin(set(parents.dropna()))
    leaf_depths = sorted(frame.loc[~has_child, "depth"].unique())
    if len(leaf_depths) > 1:
        msg = (f"{path}: units without children sit at different depths {leaf_depths}; every "
               "branch of the hierarchy must reach the finest level")
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
    return UnitHierarchy(levels=level_names, units=units, source=str(path))


def _from_level_columns(gdf: gpd.GeoDataFrame, level_columns: list[str], path: str | Path
                        ) -> UnitHierarchy:
    require_columns(gdf, level_columns, path=path, what="governance units",
                    fix="--unit-levels must name existing id columns, coarsest first")
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
        parent = ids[level_columns[i - 1]] if i else pd.Series(pd.NA, index=gdf.index,
                                                               dtype="string")
        name_col = f"{col}_name"
        names = gdf[name_col].astype("string") if name_col in gdf.columns else ids[col]
        frame = gpd.GeoDataFrame({"unit_id": ids[col], "name": names, "parent_id": parent},
                                 geometry=gdf.geometry, crs=gdf.crs)
        if col != finest:
            frame = frame.dissolve(by="unit_id", aggfunc="first", as_index=False)
        units[col] = frame[["unit_id", "name", "parent_id", "geometry"]].reset_index(drop=True)
    return UnitHierarchy(levels=list(level_columns), units=units, source=str(path))
