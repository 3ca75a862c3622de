"""Urban and rural rules per unit, the rural audit and the village ledger.

With ``--rural-standard`` (e.g. ``shanghai-rural-2021``) every finest unit is audited
under one standard: urban units under the audit's standard (GB 50180-2018 by
default), town and village units under the rural one. The class of a unit comes,
in this order, from

1. the urban–rural class code (城乡分类代码) that comes with China's 12-digit
   statistical codes, in the units file's ``urban_rural_code`` column or the column
   named by ``--urban-rural-column``: 111 main urban area and 112 urban–rural fringe
   are *urban*; 121 town centre, 122 town–rural fringe and 123 special area are
   *town*; 210 township centre and 220 village are *village*. A 15-digit value (the
   12-digit code followed by the class code) is read as its last three digits;
2. words in that column: ``urban``/``城区``, ``town``/``镇区``, ``village``/``rural``/
   ``乡村``/``村``;
3. the density rule, for units the column leaves without a class: a unit holding fewer
   than ``--rural-density-max`` residents per km² (residents placed in the unit over its
   area) is a village unit, otherwise urban. There is no default threshold: the NBS
   urban–rural rules of 2008 use 1,500 residents per km² for city districts (recalled,
   not verified); state the one you use.

A unit without a class is an error (naming the units), never guessed.

Roll-ups keep the classes apart: a district's urban figure is the rollup of its urban
units under the urban standard (``units.gpkg`` main layers), its rural figure the
rollup of its town and village units under the rural standard (``rural_<level>``
layers); ``summary.json``'s ``urban_rural`` block puts them side by side, so a town's
coverage is never averaged into a district's urban figure.

The village ledger (``village_ledger.csv``) asks, for each village unit
(administrative village) and each category of the rural standard's ``village``
level (the "三室两点"), whether the village contains one, or else whether its residents
reach one within the rule (the level's minutes, by any of its travel modes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns
from ._rural_classes import CLASS_CODES as CLASS_CODES
from ._rural_classes import CLASS_WORDS as CLASS_WORDS
from ._rural_classes import CLASSES as CLASSES
from ._rural_classes import DEFAULT_CLASS_COLUMN as DEFAULT_CLASS_COLUMN
from ._rural_classes import RURAL_CLASSES as RURAL_CLASSES
from ._rural_classes import TOWN as TOWN
from ._rural_classes import URBAN as URBAN
from ._rural_classes import VILLAGE as VILLAGE
from ._rural_classes import UnitClasses as UnitClasses
from ._rural_classes import classify_units as classify_units
from ._rural_classes import parse_classes as parse_classes
from .config import Standard, load_standard
from .coverage import citywide, coverage_by_unit, edge_reach_m, find_gaps, units_inside_network
from .settings import CATCHMENT_INSIDE_SHARE, REACH_RTOL

if TYPE_CHECKING:
    from .io.units import UnitHierarchy
    from .network import WalkGraph
    from .options import AuditOptions


#: Ledger status of one village x category.
INSIDE, REACHED, PARTLY, MISSING = "inside", "reached", "partly", "missing"


# --------------------------------------------------------------------------- the rural audit


@dataclass
class UrbanRural:
    """The rural part of an audit with per-unit rules.

    Attributes
    ----------
    standard
        The rural standard.
    classes
        Per finest unit: ``unit_id``, ``name``, ``urban_rural_code``, ``urban_rural``
        (urban, town, village), ``rule`` (code, column, density), ``standard``.
    units
        Per level, coverage under the rural standard of the town and village units
        (``units.gpkg`` layers ``rural_<level>``).
    access
        Per resident of the analysed rural units: ``unit_id``, ``population`` and per
        category ``time_<cat>_min`` (and ``mode_<cat>`` for levels with several modes).
    facilities
        The facilities of the rural standard's categories.
    categories
        The rural categories audited.
    analysed
        The town and village units analysed.
    gaps
        Shortfalls under the rural standard (as ``gaps.csv``).
    ledger
        The village ledger (``village_ledger.csv``).
    split
        Per unit of every level: urban and rural residents and figures side by side.
    summary
        ``summary.json``'s ``urban_rural`` block.
    """

    standard: Standard
    classes: pd.DataFrame
    units: dict[str, gpd.GeoDataFrame]
    access: pd.DataFrame
    facilities: gpd.GeoDataFrame
    categories: list[str]
    analysed: set[str]
    gaps: pd.DataFrame
    ledger: pd.DataFrame
    split: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class RuralInputs:
    """What the rural part needs from the audit's stages."""

    network: Path
    graph: WalkGraph
    pts: gpd.GeoDataFrame
    hierarchy: UnitHierarchy
    facility_items: list[tuple[Path, str | None]]
    classes: UnitClasses
    opts: AuditOptions
    urban_tables: dict[str, gpd.GeoDataFrame]
    urban_analysed: set[str]
    main_standard: Standard


def rural_standard(opts: AuditOptions) -> Standard | None:
    """The audit's rural standard (``--rural-standard``), or ``None``."""
    value = opts.rural_standard
    if value is None:
        return None
    return value if isinstance(value, Standard) else load_standard(value)


def audit_rural(inp: RuralInputs, std: Standard, warnings: list[str]) -> UrbanRural:
    """Audit the town and village units under the rural standard ``std``.

    The same residents, walk graph and snap rule as the urban part; the rural
    standard's own facilities (its OSM selectors and provider columns), its travel
    modes (the bicycle network built from the same file) and its edge-effect reach.
    """
    from ._audit_snapping import audit_snaps
    from ._audit_stages import _load_facilities
    from .access import compute_access

    opts = inp.opts
    said: list[str] = []
    fac, _, _ = _load_facilities(
        inp.network, inp.facility_items, std, opts.osm_pois, said, typecodes=opts.typecodes
    )
    warnings += [f"rural standard {std.id}: {w}" for w in said]
    counts = fac["category"].value_counts()
    audited = [c for c in std.category_ids if counts.get(c, 0) > 0]
    missing = [c for c in std.category_ids if counts.get(c, 0) == 0]
    if missing:
        warnings.append(
            f"rural standard {std.id}: no facilities found for {', '.join(missing)}; these "
            "categories are not audited and count as missing in the village ledger. Add them "
            "with --facilities (a file with a `category` column)"
        )
    analysed = _rural_analysed(inp, std, warnings)
    pts = inp.pts[inp.pts["unit_id"].astype(str).isin(analysed)]
    fac = fac[fac["category"].isin(audited)].reset_index(drop=True)
    profile = opts.profile if opts.profile in std.profiles else None
    if opts.profile is not None and profile is None:
        warnings.append(
            f"--profile {opts.profile} is not a profile of {std.id} ({', '.join(std.profiles)}); "
            "the town and village units are audited at each category's own profile"
        )
    if audited and len(pts):
        snaps = audit_snaps(
            inp.graph,
            pts,
            fac,
            network=inp.network,
            opts=opts,
            warnings=warnings,
            std=std,
            categories=audited,
        )
        table, fac_snap = compute_access(
            inp.graph,
            pts,
            fac,
            std,
            profile=profile,
            categories=audited,
            max_snap_m=opts.max_snap_m,
            snap=opts.snap,
            snaps=snaps,
        )
        fac["snap_m"] = fac_snap.round(2).to_numpy()
    else:
        table = pd.DataFrame(pts.drop(columns=pts.geometry.name))
    tables = coverage_by_unit(table, inp.hierarchy, std, audited, analysed=analysed)
    gaps = find_gaps(tables, audited)
    city = citywide(table, std, audited) if len(table) else None
    classes = inp.classes.table.assign(
        standard=np.where(
            inp.classes.table["urban_rural"].isin(list(RURAL_CLASSES)),
            std.id,
            inp.main_standard.id,
        )
    )
    ledger = village_ledger(
        table, fac, inp.hierarchy, std, audited, classes=classes, analysed=analysed
    )
    split = urban_rural_split(inp.urban_tables, tables, inp.hierarchy, classes)
    out = UrbanRural(
        standard=std,
        classes=classes,
        units=tables,
        access=table,
        facilities=fac,
        categories=audited,
        analysed=analysed,
        gaps=gaps,
        ledger=ledger,
        split=split,
    )
    out.summary = _summary_block(out, inp, city)
    return out


def _rural_analysed(inp: RuralInputs, std: Standard, warnings: list[str]) -> set[str]:
    """Town and village units whose catchment at the rural reach lies inside the streets."""
    reach = edge_reach_m(std)
    inside, _ = units_inside_network(
        inp.hierarchy,
        inp.graph.extent(),
        inp.graph.crs,
        reach,
        min_inside=CATCHMENT_INSIDE_SHARE,
        keep_edge_units=inp.opts.keep_edge_units,
    )
    rural = inp.classes.of(RURAL_CLASSES)
    with_people = set(inp.pts["unit_id"].astype(str))
    left_out = sorted((rural - inside) & with_people)
    if left_out:
        warnings.append(
            f"{len(left_out)} town or village units are not analysed under {std.id}: their "
            f"{reach:.0f} m slow-travel catchment is not inside the street data (edge effect): "
            + ", ".join(left_out[:5])
            + (" ..." if len(left_out) > 5 else "")
        )
    return rural & inside & with_people


def village_ledger(
    access: pd.DataFrame,
    facilities: gpd.GeoDataFrame,
    hierarchy: UnitHierarchy,
    standard: Standard,
    categories: list[str],
    *,
    classes: pd.DataFrame,
    analysed: set[str],
    level: str = "village",
) -> pd.DataFrame:
    """Per administrative village: which of the village level's facilities it has or reaches.

    Parameters
    ----------
    access
        Residents with ``unit_id``, ``population`` and ``time_<cat>_min``.
    facilities
        Facilities with ``category`` and geometry.
    hierarchy
        The governance units (the finest level holds the villages).
    standard
        The rural standard; the categories of its level ``level`` are checked.
    categories
        The categories audited (the others have no facilities: ``missing``).
    classes
        The unit classes (:class:`UrbanRural.classes`); village-class units are listed.
    analysed
        The units analysed under the rural standard (the others are left out).
    level
        The level whose categories every village must have (the "三室两点").

    Returns
    -------
    pandas.DataFrame
        One row per village: ``unit_id``, ``name``, ``parent_id``, ``parent_name``,
        ``population``, per category ``<cat>_inside`` (facilities inside the village),
        ``<cat>_reached`` (share of residents within the threshold) and
        ``<cat>_status`` (inside, reached: every resident within the rule, partly,
        missing), then ``n_lacking`` and ``lacks`` (the categories neither inside nor
        reached by every resident, ``;``-separated); most lacking first.
    """
    cats = [c.id for c in standard.categories if c.level == level]
    villages = classes[(classes["urban_rural"] == VILLAGE) & classes["unit_id"].isin(analysed)]
    finest = hierarchy.units[hierarchy.finest].set_index("unit_id")
    ids = villages["unit_id"].astype(str).to_numpy()
    out = pd.DataFrame({"unit_id": ids, "name": finest.loc[ids, "name"].astype("string").array})
    parents = finest.loc[ids, "parent_id"]
    out["parent_id"] = parents.astype("string").to_numpy()
    if len(hierarchy.levels) > 1:
        coarse = hierarchy.units[hierarchy.levels[-2]].set_index("unit_id")["name"]
        out["parent_name"] = parents.map(coarse).astype("string").to_numpy()
    else:
        out["parent_name"] = pd.array([pd.NA] * len(out), dtype="string")
    unit_of = access["unit_id"].astype(str)
    pop = access.groupby(unit_of)["population"].sum()
    out["population"] = out["unit_id"].map(pop).fillna(0.0).round(1).to_numpy()
    inside = _facilities_inside(facilities, hierarchy, ids)
    lacking: list[list[str]] = [[] for _ in range(len(out))]
    for cat in cats:
        n_in = inside.get(cat, pd.Series(dtype=float)).reindex(ids).fillna(0).astype(int)
        if cat in categories:
            limit = standard.category(cat).threshold_min * (1 + REACH_RTOL)
            within = (access[columns.time(cat)] <= limit).to_numpy()
            covered = (access["population"] * within).groupby(unit_of).sum()
            share = (covered / pop.where(pop > 0)).reindex(ids).to_numpy(float)
        else:
            share = np.zeros(len(ids))
        status = np.where(
            n_in.to_numpy() > 0,
            INSIDE,
            np.where(share >= 1 - 1e-9, REACHED, np.where(share > 0, PARTLY, MISSING)),
        )
        out[f"{cat}_inside"] = n_in.to_numpy()
        out[f"{cat}_reached"] = np.round(share, 4)
        out[f"{cat}_status"] = status
        for i in np.flatnonzero(~np.isin(status, [INSIDE, REACHED])):
            lacking[i].append(cat)
    out["n_lacking"] = [len(x) for x in lacking]
    out["lacks"] = [";".join(x) for x in lacking]
    return out.sort_values(
        ["n_lacking", "population", "unit_id"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)


def _facilities_inside(
    facilities: gpd.GeoDataFrame, hierarchy: UnitHierarchy, ids: np.ndarray
) -> dict[str, pd.Series]:
    """Per category: how many facilities lie inside each of the units ``ids``."""
    if not len(facilities) or not len(ids):
        return {}
    points = gpd.GeoDataFrame(
        {"category": facilities["category"].to_numpy()},
        geometry=facilities.geometry.representative_point().to_numpy(),
        crs=facilities.crs,
    )
    unit = hierarchy.assign(points).astype("string")
    keep = unit.isin(list(ids)).fillna(False).to_numpy(bool)
    frame = pd.DataFrame({"unit": unit[keep].to_numpy(), "category": points["category"][keep]})
    return {
        str(cat): grp.groupby("unit").size().astype(float) for cat, grp in frame.groupby("category")
    }


def urban_rural_split(
    urban: dict[str, gpd.GeoDataFrame],
    rural: dict[str, gpd.GeoDataFrame],
    hierarchy: UnitHierarchy,
    classes: pd.DataFrame,
) -> pd.DataFrame:
    """Every unit of every level with its urban and rural figures side by side.

    ``population_urban``, ``score_urban`` and ``complete_share_urban`` roll up its
    urban units under the urban standard; the ``_rural`` columns its town and village
    units under the rural standard; ``units_urban``/``units_town``/``units_village``
    count its finest units of each class.
    """
    ancestors = hierarchy.ancestors()
    cls = ancestors[hierarchy.finest].astype(str).map(classes.set_index("unit_id")["urban_rural"])
    frames = []
    for level in hierarchy.levels:
        base = rural[level][["unit_id", "name", "level"]].copy()
        counts = pd.crosstab(ancestors[level].astype(str), cls).reindex(columns=list(CLASSES))
        for c in CLASSES:
            base[f"units_{c}"] = (
                base["unit_id"].astype(str).map(counts[c]).fillna(0).astype(int).to_numpy()
            )
        for part, tables in (("urban", urban), ("rural", rural)):
            table = tables[level].set_index("unit_id")
            for col in ("population", "score", "complete_share"):
                values = table[col] if col in table.columns else pd.Series(np.nan, table.index)
                base[f"{col}_{part}"] = base["unit_id"].map(values).to_numpy(float)
        frames.append(base)
    return pd.concat(frames, ignore_index=True)


def _summary_block(result: UrbanRural, inp: RuralInputs, city: dict | None) -> dict[str, Any]:
    """``summary.json``'s ``urban_rural`` block."""
    classes = result.classes
    counts = classes["urban_rural"].value_counts()
    rules = classes["rule"].value_counts()
    pts = inp.pts
    cls_of = pts["unit_id"].astype(str).map(classes.set_index("unit_id")["urban_rural"])
    residents = pts.groupby(cls_of)["population"].sum()
    urban_city = _urban_city(inp)
    ledger = result.ledger
    return {
        "rural_standard": result.standard.id,
        "urban_standard": inp.main_standard.id,
        "class_column": inp.classes.column,
        "density_max_per_km2": inp.classes.density_max,
        "rules": {
            "urban": "urban-rural class codes 111, 112 (or `urban`): the urban standard",
            "town": "codes 121, 122, 123 (or `town`): the rural standard",
            "village": "codes 210, 220 (or `village`/`rural`): the rural standard",
        },
        "units": {c: int(counts.get(c, 0)) for c in CLASSES},
        "units_by_rule": {str(k): int(v) for k, v in rules.items()},
        "units_analysed": {
            "urban": len(inp.urban_analysed),
            "rural": len(result.analysed),
        },
        "residents": {c: round(float(residents.get(c, 0.0)), 1) for c in CLASSES},
        "urban": urban_city,
        "rural": None
        if city is None
        else {
            "population": round(float(city["population"]), 1),
            "coverage": city["coverage"],
            "score": city["score"],
            "complete_share": city["complete_share"],
        },
        "rural_categories_audited": list(result.categories),
        "village_ledger": {
            "villages": len(ledger),
            "villages_lacking_any": int((ledger["n_lacking"] > 0).sum()) if len(ledger) else 0,
            "lacking_by_category": {
                c.id: int(
                    (~ledger[f"{c.id}_status"].isin([INSIDE, REACHED])).sum() if len(ledger) else 0
                )
                for c in result.standard.categories
                if c.level == "village"
            },
        },
    }


def _urban_city(inp: RuralInputs) -> dict[str, Any] | None:
    """The urban part's population and score (its finest layer holds urban units only)."""
    finest = inp.urban_tables[inp.hierarchy.finest]
    rows = finest[finest["unit_id"].astype(str).isin(inp.urban_analysed)]
    if not len(rows):
        return None
    pop = rows["population"].to_numpy(float)
    total = float(np.nansum(pop))

    def weighted(col: str) -> float | None:
        if col not in rows.columns or not total:
            return None
        values = rows[col].to_numpy(float)
        ok = np.isfinite(values)
        return round(float((values[ok] * pop[ok]).sum() / total), 6) if ok.all() else None

    return {
        "population": round(total, 1),
        "score": weighted("score"),
        "complete_share": weighted("complete_share"),
    }


def split_analysed(
    analysed: set[str], unit_check: pd.DataFrame, classes: UnitClasses, rural_id: str
) -> set[str]:
    """Leave the town and village units out of the urban part (in place); return them."""
    rural = classes.of(RURAL_CLASSES)
    moved = analysed & rural
    analysed -= moved
    rows = unit_check["unit_id"].astype(str).isin(rural)
    unit_check.loc[rows, "analysed"] = False
    unit_check.loc[rows, "reason"] = f"town or village unit: audited under {rural_id}"
    return moved


__all__ = [
    "CLASSES",
    "CLASS_CODES",
    "RuralInputs",
    "UnitClasses",
    "UrbanRural",
    "audit_rural",
    "classify_units",
    "parse_classes",
    "rural_standard",
    "urban_rural_split",
    "village_ledger",
]
