"""The urban–rural class of every finest unit (the rules :mod:`lifecircle.rural` applies).

A unit's class comes from the urban–rural class code (城乡分类代码) in a column of the
units file, from words in that column, or from a stated density rule, in that order;
:mod:`lifecircle.rural`'s docstring gives the rules in full.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd

from .errors import DataError

if TYPE_CHECKING:
    from .io.units import UnitHierarchy


URBAN, TOWN, VILLAGE = "urban", "town", "village"
#: The classes, in the order reports show them, and the standard each is audited under.
CLASSES = (URBAN, TOWN, VILLAGE)
RURAL_CLASSES = frozenset({TOWN, VILLAGE})

#: China's urban–rural class codes (统计用城乡划分代码) and the class each stands for.
CLASS_CODES: dict[str, str] = {
    "111": URBAN,  # 主城区 main urban area
    "112": URBAN,  # 城乡结合区 urban–rural fringe
    "121": TOWN,  # 镇中心区 town centre
    "122": TOWN,  # 镇乡结合区 town–rural fringe
    "123": TOWN,  # 特殊区域 special area
    "210": VILLAGE,  # 乡中心区 township centre
    "220": VILLAGE,  # 村庄 village
}

#: Words accepted in a class column (lower-cased).
CLASS_WORDS: dict[str, str] = {
    "urban": URBAN,
    "城区": URBAN,
    "城市": URBAN,
    "town": TOWN,
    "镇区": TOWN,
    "镇": TOWN,
    "village": VILLAGE,
    "rural": VILLAGE,
    "乡村": VILLAGE,
    "农村": VILLAGE,
    "村": VILLAGE,
}

#: The column read by default when the units file has it.
DEFAULT_CLASS_COLUMN = "urban_rural_code"


def parse_classes(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """The class (urban, town, village) and class code of every value of a class column.

    Parameters
    ----------
    values
        Class codes (``111`` ... ``220``), 15-digit code + class values, or words.

    Returns
    -------
    tuple of pandas.Series
        ``(class, code)``: NA where a value gives no class (empty or not understood);
        ``code`` is NA for words.

    Examples
    --------
    >>> cls, code = parse_classes(pd.Series(["111", "310118101201220", "town", "x", None]))
    >>> cls.tolist()
    ['urban', 'village', 'town', <NA>, <NA>]
    """
    text = values.astype("string").str.strip()
    text = text.str.replace(r"^(\d+)\.0$", r"\1", regex=True)  # codes read as floats
    digits = text.where(text.str.fullmatch(r"\d{3}|\d{15}").fillna(False))
    code = digits.str[-3:]
    code = code.where(code.isin(list(CLASS_CODES)))
    cls = code.map(CLASS_CODES, na_action="ignore").astype("string")
    words = text.str.lower().map(CLASS_WORDS, na_action="ignore").astype("string")
    return cls.fillna(words), code.astype("string")


@dataclass
class UnitClasses:
    """Per finest unit: its class, the class code, and which rule gave it."""

    table: pd.DataFrame
    column: str | None
    density_max: float | None

    def of(self, cls: str | frozenset[str]) -> set[str]:
        """Ids of the finest units of a class (or of any of several)."""
        wanted = {cls} if isinstance(cls, str) else set(cls)
        return set(self.table.loc[self.table["urban_rural"].isin(wanted), "unit_id"])


def classify_units(
    hierarchy: UnitHierarchy,
    pts: pd.DataFrame,
    *,
    units_path: str | Path | None,
    column: str | None = None,
    density_max: float | None = None,
    id_column: str | None = None,
) -> UnitClasses:
    """The class of every finest unit (see the module's rules).

    Parameters
    ----------
    hierarchy
        The governance units.
    pts
        Residents placed in units: ``unit_id`` and ``population`` (for the density rule).
    units_path
        The units file (its class column is read from it); ``None`` for units found
        otherwise (OSM boundaries, hexagons): the density rule alone then.
    column
        The class column (default: ``urban_rural_code`` when the file has one).
    density_max
        Residents per km² below which a unit without a class is a village unit.
    id_column
        The column of the file holding the finest units' ids (default: as
        :func:`~lifecircle.io.units.read_units` found it).

    Returns
    -------
    UnitClasses

    Raises
    ------
    DataError
        A named column is missing, or some units have no class and no density rule.
    """
    finest = hierarchy.units[hierarchy.finest]
    ids = finest["unit_id"].astype(str)
    table = pd.DataFrame(
        {
            "unit_id": ids.to_numpy(),
            "name": finest["name"].astype("string").to_numpy(),
            "urban_rural_code": pd.array([pd.NA] * len(ids), dtype="string"),
            "urban_rural": pd.array([pd.NA] * len(ids), dtype="string"),
            "rule": pd.array([pd.NA] * len(ids), dtype="string"),
        }
    )
    used = _class_column(table, units_path, column, id_column, hierarchy)
    missing = table["urban_rural"].isna()
    if missing.any() and density_max is not None:
        density = _density(finest, pts)
        rural = density.to_numpy() < density_max
        table.loc[missing & rural, "urban_rural"] = VILLAGE
        table.loc[missing & ~rural, "urban_rural"] = URBAN
        table.loc[missing, "rule"] = "density"
        table["density_per_km2"] = density.round(1).to_numpy()
    missing = table["urban_rural"].isna()
    if missing.any():
        shown = ", ".join(table.loc[missing, "unit_id"].astype(str).head(5))
        where = f"column {used!r} of {units_path}" if used else f"{units_path or 'the units'}"
        msg = (
            f"{where}: {int(missing.sum())} {hierarchy.finest} units have no urban–rural "
            f"class ({shown}{' ...' if missing.sum() > 5 else ''}); give each an urban–rural "
            f"class code (111/112 urban, 121/122/123 town, 210/220 village) or a word (urban, "
            "town, village) in that column (--urban-rural-column), or a density rule "
            "(--rural-density-max RESIDENTS_PER_KM2)"
        )
        raise DataError(msg)
    return UnitClasses(table=table, column=used, density_max=density_max)


def _class_column(
    table: pd.DataFrame,
    units_path: str | Path | None,
    column: str | None,
    id_column: str | None,
    hierarchy: UnitHierarchy,
) -> str | None:
    """Fill ``urban_rural`` and ``urban_rural_code`` from the units file's class column."""
    if units_path is None:
        if column is not None:
            msg = (
                f"--urban-rural-column {column!r} needs a units file (--units); without one, "
                "give a density rule (--rural-density-max)"
            )
            raise DataError(msg)
        return None
    from .io.units import _clean_ids, _find_code_column
    from .io.vector import read_vector

    gdf = read_vector(units_path, what="governance units", flag="--units", keep_empty=True)
    name = column or (DEFAULT_CLASS_COLUMN if DEFAULT_CLASS_COLUMN in gdf.columns else None)
    if name is None:
        return None
    if name not in gdf.columns:
        have = ", ".join(str(c) for c in gdf.columns if c != gdf.geometry.name)
        msg = (
            f"{units_path}: no column {name!r} (--urban-rural-column); its columns are: "
            f"{have}. Name the column holding the urban–rural class codes"
        )
        raise DataError(msg)
    key = id_column or ("unit_id" if "unit_id" in gdf.columns else _find_code_column(gdf))
    if key is None or key not in gdf.columns:
        msg = f"{units_path}: cannot tell which column holds the {hierarchy.finest} unit ids"
        raise DataError(msg)
    cls, code = parse_classes(gdf[name])
    ids = _clean_ids(gdf[key]).to_numpy()
    by_id_cls = pd.Series(cls.to_numpy(), index=ids)
    by_id_code = pd.Series(code.to_numpy(), index=ids)
    by_id_cls = by_id_cls[~by_id_cls.index.duplicated()]
    by_id_code = by_id_code[~by_id_code.index.duplicated()]
    table["urban_rural"] = table["unit_id"].map(by_id_cls).astype("string")
    table["urban_rural_code"] = table["unit_id"].map(by_id_code).astype("string")
    table.loc[table["urban_rural"].notna(), "rule"] = np.where(
        table.loc[table["urban_rural"].notna(), "urban_rural_code"].notna(), "code", "column"
    )
    return str(name)


def _density(finest: gpd.GeoDataFrame, pts: pd.DataFrame) -> pd.Series:
    """Residents per km² of every finest unit (residents placed over the unit's area)."""
    area_km2 = finest.to_crs(finest.estimate_utm_crs()).geometry.area.to_numpy() / 1e6
    pop = pts.groupby(pts["unit_id"].astype(str))["population"].sum()
    residents = finest["unit_id"].astype(str).map(pop).fillna(0.0).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.Series(np.where(area_km2 > 0, residents / area_km2, np.inf), index=finest.index)
