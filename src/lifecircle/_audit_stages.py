"""The audit's stage helpers: inputs, facilities, units, residents, warnings and checks.

Each helper does one step of :func:`lifecircle.pipeline.audit` on plain data: choose
the input files and categories, load and merge the facilities, build the governance
units and the origins, word the warnings of each stage, assemble the access table,
and check that population is conserved (:func:`check_population`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from . import columns
from .config import Profile, Standard, load_standard
from .coverage import unit_codes
from .datasets import get_path
from .errors import DataError
from .io.facilities import facilities_from_osm, is_table, merge_facilities, read_facilities
from .io.population import (
    Origins,
    is_raster,
    origins_from_polygons,
    origins_from_raster,
    read_population,
)
from .io.providers import deduplicate, typecode_table
from .io.units import UnitHierarchy, hex_units, read_units, units_from_osm
from .network import WalkGraph
from .options import AuditOptions
from .settings import check_hex_cells


def _is_osm(path: Path) -> bool:
    return not path.name.lower().endswith(".graphml")


def _inputs(
    opts: AuditOptions,
) -> tuple[Path, list[tuple[Path, str | None]], Path | None, Path | None]:
    """The input files (the bundled sample when no network is given).

    Each facility file comes with its datum.
    """
    network, facilities = opts.network, list(opts.facilities)
    units, population = opts.units, opts.population
    if network is None:
        if facilities or units or population:
            msg = "give --network (a street network) along with the other inputs"
            raise DataError(msg)
        sample = get_path("central-shanghai")
        network, facilities = sample["network"], [sample["facilities"]]
        units, population = sample["units"], sample["population"]
    items = [
        (Path(f[0]), f[1])
        if isinstance(f, tuple)
        else (Path(f), opts.facilities_crs if is_table(f) else None)
        for f in facilities
    ]
    return (
        Path(network),
        items,
        None if units is None else Path(units),
        None if population is None else Path(population),
    )


def _standard_and_profile(opts: AuditOptions) -> tuple[Standard, Profile]:
    """The standard and walking profile; unknown category ids are refused here."""
    std = opts.standard if isinstance(opts.standard, Standard) else load_standard(opts.standard)
    for cat in opts.categories or ():
        std.category(cat)  # unknown ids raise with the list of valid ones
    return std, std.profile(opts.profile)


def _reach_warnings(
    in_scope: pd.DataFrame, far: pd.Series, fac: gpd.GeoDataFrame, max_snap_m: float
) -> list[str]:
    """Residents and facilities too far from the walk network."""
    out = []
    if far.any():
        out.append(
            f"{int(far.sum())} resident locations ({in_scope.loc[far, 'population'].sum():.0f} "
            f"residents) lie farther than {max_snap_m:.0f} m from the walk network; they "
            "count as not covered for every category"
        )
    n_far = int((~fac["reachable"]).sum())
    if n_far:
        out.append(
            f"{n_far} facilities lie farther than {max_snap_m:.0f} m from the "
            "walk network and are not used"
        )
    return out


def _unit_check_warnings(unit_check: pd.DataFrame, finest: str, reach_m: float) -> list[str]:
    """Units analysed despite the edge effect, and units left out."""
    out = []
    edge_kept = unit_check[unit_check["analysed"] & unit_check["edge_effect"]]
    if len(edge_kept):
        out.append(
            f"{len(edge_kept)} {finest} units are analysed although part of their "
            f"{reach_m:.0f} m walking catchment lies outside the street data "
            "(--keep-edge-units): facilities beyond the data's edge are missed, so coverage "
            "there may be underestimated; they are flagged edge_effect=true in units.gpkg"
        )
    # units left to another standard (--rural-standard) are not edge-effect exclusions
    elsewhere = unit_check["reason"].astype(str).str.startswith("town or village unit")
    n_excluded = int((~unit_check["analysed"] & ~elsewhere).sum())
    if n_excluded:
        out.append(
            f"{n_excluded} of {int((~elsewhere).sum())} {finest} units are not analysed: "
            f"their {reach_m:.0f} m walking catchment is not inside the street data (edge "
            "effect) or no resident lives on the kept network there; see units.excluded"
        )
    return out


def _completeness_warnings(completeness: dict[str, dict], std: Standard) -> list[str]:
    """Which complete life circles could not be computed, and why."""
    missing = sorted(
        {c for st in completeness.values() for c in st["missing"]}, key=std.category_ids.index
    )
    if not missing:
        return []
    return [
        "complete life circles are not computed for the level(s) "
        + ", ".join(lv for lv, st in completeness.items() if not st["computed"])
        + ": the mandatory categor"
        + ("ies " if len(missing) > 1 else "y ")
        + ", ".join(missing)
        + " were not audited. Completeness needs every mandatory "
        "category; add their facilities with --facilities (or audit all categories)"
    ]


def _network_warnings(graph: WalkGraph) -> list[str]:
    out: list[str] = []
    if graph.dropped.get("not_walkable_edges"):
        by_class: dict[str, int] = graph.dropped.get("not_walkable_by_class", {})
        out.append(
            f"network: dropped {graph.dropped['not_walkable_edges']} GraphML edges that "
            "are not walkable ("
            + ", ".join(f"{k}: {n}" for k, n in list(by_class.items())[:8])
            + ")"
        )
    if graph.dropped.get("invalid_locations"):
        out.append(
            f"network: {graph.dropped['invalid_locations']} nodes without a valid "
            "location (missing or non-finite coordinates) were skipped with their edges"
        )
    if not graph.dropped.get("components"):
        return out
    pct = 100.0 * graph.dropped["nodes"] / (graph.dropped["nodes"] + graph.n_nodes)
    return [
        *out,
        f"network: kept the largest connected component; dropped "
        f"{graph.dropped['components']} smaller ones ({graph.dropped['nodes']} nodes, "
        f"{pct:.1f}%; the largest dropped has "
        f"{graph.dropped['largest_dropped_component_nodes']} nodes, e.g. land across a "
        "river with no walkable crossing in the data). Residents there are not audited; "
        "keep big components with --min-component-nodes N.",
    ]


def _load_facilities(
    network: Path,
    items: list[tuple[Path, str | None]],
    std: Standard,
    osm_pois: bool,
    warnings: list[str],
    *,
    typecodes: Path | None = None,
) -> tuple[gpd.GeoDataFrame, dict[str, int], dict[str, int]]:
    """Read, classify, merge and de-duplicate every facility source.

    ``typecodes`` (``--typecodes``) is read and checked once, before any facility
    file, and extends the bundled Amap/Baidu tables for every file.
    """
    table = typecode_table(std, typecodes) if typecodes is not None else None
    frames = []
    if osm_pois and _is_osm(network):
        frames.append(facilities_from_osm(network, std))
    frames.extend(read_facilities(p, std, crs=crs, typecodes=table) for p, crs in items)
    unknown_codes: dict[str, int] = {}
    skipped = {"empty_geometries": 0, "invalid_locations": 0, "broken_areas": 0}
    for frame in frames:
        for code, n in frame.attrs.get("unknown_typecodes", {}).items():
            unknown_codes[code] = unknown_codes.get(code, 0) + n
        for key in skipped:
            skipped[key] += int(frame.attrs.get(key, 0))
    said = {
        "empty_geometries": "features without a geometry",
        "invalid_locations": "OSM nodes without a valid location",
        "broken_areas": "OSM areas whose polygon could not be built",
    }
    for key, n in skipped.items():
        if n:
            warnings.append(f"facilities: skipped {n} {said[key]}")
    fac, merged = deduplicate(merge_facilities(frames))
    fac = fac.reset_index(drop=True)
    fac["facility_id"] = np.arange(len(fac), dtype=np.int64)
    if unknown_codes:
        shown_codes = sorted(unknown_codes, key=lambda c: (-unknown_codes[c], c))[:10]
        warnings.append(
            f"{sum(unknown_codes.values())} facilities have provider type codes or tags "
            f"that map to no category of {std.id} ({', '.join(shown_codes)}"
            f"{', ...' if len(unknown_codes) > 10 else ''}); they are left out. Map them "
            "with --typecodes FILE (a YAML or CSV file of code,category lines that extends "
            "the bundled Amap/Baidu tables; see docs/typecodes.md) or give a `category` column"
        )
    if merged:
        warnings.append(
            f"merged {sum(merged.values())} duplicate facilities found in more than "
            "one source (same category, similar name, within 20 m)"
        )
    return fac, merged, unknown_codes


def _choose_categories(
    counts: pd.Series,
    std: Standard,
    categories: Sequence[str] | None,
    sources: list[Path],
    warnings: list[str],
) -> list[str]:
    """The categories to audit: those asked for (all must have facilities), else all found."""
    names = ", ".join(str(p) for p in sources)
    if categories is None:
        audited = [c for c in std.category_ids if counts.get(c, 0) > 0]
        missing = [c for c in std.category_ids if counts.get(c, 0) == 0]
        if missing:
            warnings.append(
                "no facilities found for " + ", ".join(missing) + ": these categories are "
                "not audited (and complete life circles that need them are not computed); "
                "add them with --facilities (a file with a `category` column)"
            )
    else:
        audited = list(dict.fromkeys(categories))
        missing = [c for c in audited if counts.get(c, 0) == 0]
        if missing:
            msg = (
                f"no facilities of categor{'ies' if len(missing) > 1 else 'y'} "
                f"{', '.join(missing)} in {names} (checked the standard's OSM selectors "
                "and `category` columns); add a --facilities file with them, or leave them "
                "out of --categories"
            )
            raise DataError(msg)
    if not audited:
        msg = f"no facilities of any category of {std.id} found in {names}; give --facilities"
        raise DataError(msg)
    return audited


def _place_residents(
    origins: Origins, hierarchy: UnitHierarchy, analysed: set[str], unit_check: pd.DataFrame
) -> tuple[gpd.GeoDataFrame, int]:
    """Give every origin its finest unit; units left without residents are not analysed.

    Updates ``analysed`` and ``unit_check`` in place; returns the origins inside
    some unit and the number outside every unit.
    """
    pts = origins.points
    pts["unit_id"] = hierarchy.assign(pts)
    outside_units = int(pts["unit_id"].isna().sum())
    pts = pts[pts["unit_id"].notna()]
    empty = analysed - {str(u) for u in pd.unique(pts["unit_id"].to_numpy(dtype=object))}
    if empty:
        analysed -= empty
        rows = unit_check["unit_id"].isin(empty)
        unit_check.loc[rows, "analysed"] = False
        unit_check.loc[rows, "reason"] = (
            "no residents on the kept walk network (no streets inside, or only streets "
            "of a dropped network component)"
        )
    return pts, outside_units


def _hierarchy(
    units: str | Path | None,
    network: Path,
    graph: WalkGraph,
    opts: AuditOptions,
    warnings: list[str],
) -> UnitHierarchy:
    """Units from the file; else OSM administrative boundaries; else hexagons."""
    unit_levels, unit_codes, hex_size_m = opts.unit_levels, opts.unit_codes, opts.hex_size_m
    if units is not None:
        hierarchy = read_units(
            units, level_columns=list(unit_levels) if unit_levels else None, code_field=unit_codes
        )
        _unit_warnings(units, hierarchy.report, warnings)
        return hierarchy
    if _is_osm(network):
        found = units_from_osm(network)
        if found is not None:
            warnings.append(
                "no --units given: using the administrative boundaries "
                f"({', '.join(found.levels)}) in {network.name}"
            )
            return found
    warnings.append(
        f"no --units given and no administrative boundaries in {network.name}: using a grid "
        f"of hexagons ({hex_size_m:g} m from centre to corner, {2.598 * hex_size_m**2 / 1e6:.2f} "
        "km2 each). Hexagons are not governance units; give --units for real ones"
    )
    west, south, east, north = shapely.bounds(graph.extent()).tolist()
    check_hex_cells(east - west, north - south, hex_size_m, source="--hex-size-m")
    return hex_units(graph.extent(), graph.crs, size_m=hex_size_m)


def _unit_warnings(units: str | Path, rep: dict, warnings: list[str]) -> None:
    """Say what reading the governance units changed (repairs, rebuilt or dropped units)."""
    said = {
        "repaired": "invalid (e.g. self-intersecting) unit polygons repaired with make_valid",
        "rebuilt_from_children": "units without a polygon given the union of their children's",
        "dropped_without_geometry": "units without a polygon and with 0 population dropped",
    }
    for key, what in said.items():
        ids = rep.get(key) or []
        if ids:
            warnings.append(f"{units}: {len(ids)} {what}: {_examples(ids, len(ids))}")
    if rep.get("broken_areas"):
        warnings.append(
            f"{units}: {rep['broken_areas']} administrative boundaries could not "
            "be assembled into polygons and were left out"
        )


def _origins(
    graph: WalkGraph, population: str | Path | None, hierarchy: UnitHierarchy, warnings: list[str]
) -> Origins:
    if population is not None and is_raster(population):
        origins = origins_from_raster(graph, population)
        _raster_warnings(population, origins.report, warnings)
        return origins
    if population is not None:
        polys = read_population(population)
    else:
        finest = hierarchy.units[hierarchy.finest]
        polys = finest[["geometry"]].assign(population=1.0, population_method="none_given")
        warnings.append(
            "no population given: every unit counts as 1 resident spread along "
            "its streets, so coverage shares are shares of residential street "
            "length, not of people; give --population"
        )
    origins = origins_from_polygons(graph, polys)
    rep = origins.report
    resolved = rep.get("hierarchy_resolved")
    if resolved:
        warnings.append(
            f"{population}: the population polygons hold several nested levels; used the "
            f"finest ({resolved['level_used']}, {resolved['polygons_used']} polygons) and "
            f"ignored {resolved['polygons_ignored']} coarser ones, so nobody is counted twice"
        )
    if rep.get("polygons_repaired"):
        warnings.append(
            f"{population}: repaired {rep['polygons_repaired']} invalid (e.g. "
            "self-intersecting) population polygons with make_valid: "
            + _examples(rep.get("repaired_ids", []), rep["polygons_repaired"])
        )
    if rep.get("polygons_without_geometry_dropped"):
        warnings.append(
            f"{population}: {rep['polygons_without_geometry_dropped']} population polygons "
            "without a usable polygon and without residents were dropped"
        )
    if rep["polygons_partly_outside_network"]:
        warnings.append(
            f"{rep['polygons_partly_outside_network']} population polygons extend beyond the "
            "street data; they keep only the share of their population proportional to "
            "their area inside it"
        )
    if rep["polygons_without_nodes"]:
        warnings.append(
            f"{rep['polygons_without_nodes']} population polygons contain no node of the "
            f"kept walk network (no streets inside, or only streets of a dropped component); "
            f"their {rep['population_without_nodes']:.0f} residents are not allocated"
        )
    return origins


def _raster_warnings(population: str | Path, rep: dict, warnings: list[str]) -> None:
    dropped = rep.get("cells_not_finite", 0) + rep.get("cells_negative", 0)
    if dropped:
        warnings.append(
            f"{population}: {dropped} raster cells hold no valid population "
            f"({rep.get('cells_not_finite', 0)} NaN or infinite, "
            f"{rep.get('cells_negative', 0)} negative, "
            f"{rep.get('dropped_cell_share', 0.0):.2%} of the populated cells); they count as "
            "0 residents. Check the raster's nodata value"
        )


def _examples(ids: Sequence[object], total: int, limit: int = 5) -> str:
    """``a, b, c and 7 more`` (ids shown are data: they stay plain text in warnings)."""
    shown = ", ".join(str(i) for i in list(ids)[:limit])
    return shown + (f" and {total - min(len(ids), limit)} more" if total > limit else "")


def _add_population_method(
    units: dict[str, gpd.GeoDataFrame], table: pd.DataFrame, hierarchy: UnitHierarchy
) -> None:
    """Per unit, the population methods of its residents (e.g. ``census2020_street``)."""
    ancestors = hierarchy.ancestors().set_index(hierarchy.finest)
    # the distinct (finest unit, method) pairs first: a few per unit, not one per origin;
    # found on the columns as they are, then only the distinct pairs made text
    distinct_pairs = pd.DataFrame(
        {"unit": table["unit_id"], "method": table["population_method"]}
    ).drop_duplicates()
    pairs = pd.DataFrame(
        {
            "unit": distinct_pairs["unit"].astype(str).to_numpy(),
            "method": distinct_pairs["method"].astype(str).to_numpy(),
        }
    )
    for level, frame in units.items():
        key = (
            pairs["unit"].to_numpy()
            if level == hierarchy.finest
            else ancestors.loc[pairs["unit"].to_numpy(), level].astype(str).to_numpy()
        )
        # per unit: its distinct methods, sorted, joined by "+"
        distinct = pd.DataFrame({"key": key, "method": pairs["method"].to_numpy()})
        distinct = distinct.drop_duplicates().sort_values(["key", "method"], kind="stable")
        per_unit = distinct.groupby("key", sort=False)["method"].agg("+".join)
        methods = frame["unit_id"].astype(str).map(per_unit)
        frame.insert(frame.columns.get_loc("population") + 1, "population_method", methods)


def _add_edge_effect(finest: gpd.GeoDataFrame, unit_check: pd.DataFrame) -> None:
    """Per finest unit: the share of its catchment inside the data, and the edge flag."""
    check = unit_check.set_index("unit_id")
    ids = finest["unit_id"]
    at = finest.columns.get_loc("analysed") + 1
    finest.insert(at, "catchment_inside_share", ids.map(check["catchment_inside_share"]))
    finest.insert(at + 1, "edge_effect", ids.map(check["edge_effect"]).fillna(False).astype(bool))


#: Relative and absolute tolerance of the population-conservation check.
_POP_RTOL, _POP_ATOL = 1e-9, 1e-6


def check_population(
    in_scope: pd.DataFrame,
    access: pd.DataFrame,
    units: dict[str, gpd.GeoDataFrame],
    hierarchy: UnitHierarchy,
    city: dict,
) -> None:
    """Population is conserved: every output holds the residents of the analysed units.

    The residents placed in the analysed units equal, unit by unit, the population
    of ``units.gpkg``'s finest level, and in total that of ``access.parquet``, of
    every coarser level and of ``summary.json``.

    Raises
    ------
    DataError
        Naming the units (or outputs) whose population differs.
    """
    expected = in_scope.groupby(in_scope["unit_id"].astype(str))["population"].sum()
    total = float(expected.sum())
    finest = units[hierarchy.finest]
    got = pd.Series(
        finest["population"].to_numpy(float), index=finest["unit_id"].astype(str)
    ).reindex(expected.index)
    bad = ~np.isclose(
        got.fillna(-1.0).to_numpy(), expected.to_numpy(), rtol=_POP_RTOL, atol=_POP_ATOL
    )
    problems = [
        f"{hierarchy.finest} {uid}: {exp:.1f} residents placed, {g:.1f} in units.gpkg"
        for uid, exp, g in zip(expected.index[bad], expected[bad], got[bad], strict=True)
    ][:5]
    totals = {
        "access.parquet": float(access["population"].sum()),
        "summary.json": float(city["population"]),
    }
    totals.update(
        {
            f"units.gpkg layer {level}": float(np.nansum(table["population"]))
            for level, table in units.items()
        }
    )
    problems += [
        f"{where}: {value:.1f} residents, expected {total:.1f}"
        for where, value in totals.items()
        if not np.isclose(value, total, rtol=_POP_RTOL, atol=_POP_ATOL)
    ]
    if problems:
        msg = (
            "population is not conserved (a bug or inconsistent inputs; nothing was "
            "written): " + "; ".join(problems) + ". Check for duplicate unit ids and "
            "overlapping units, and report this with the inputs if it persists"
        )
        raise DataError(msg)


def _check_ledger(ledger: dict, population: str | Path | None, in_scope: float) -> None:
    """Input residents = allocated + itemised losses; analysed = what the outputs hold."""
    if not ledger["balanced"] or not np.isclose(
        ledger["population_in_analysed_units"], in_scope, rtol=_POP_RTOL, atol=_POP_ATOL
    ):
        msg = (
            f"{population}: population is not conserved (a bug; nothing was written): "
            f"{ledger['population_input']:.1f} residents given, "
            f"{ledger['population_allocated']:.1f} allocated, losses "
            f"{ledger['population_not_allocated']}, residual {ledger['residual']:.3g}, "
            f"{ledger['population_in_analysed_units']:.1f} in analysed units against "
            f"{in_scope:.1f} in the outputs. Please report this with the inputs"
        )
        raise DataError(msg)


def gaps_for_csv(gaps: pd.DataFrame) -> pd.DataFrame:
    """``gaps.csv``'s table: residents to 0.1, shares to 4 decimals."""
    out = gaps.copy()
    out["uncovered_population"] = out["uncovered_population"].round(1)
    out["uncovered_share"] = out["uncovered_share"].round(4)
    if "uncovered_cohort" in out.columns:
        out["uncovered_cohort"] = out["uncovered_cohort"].round(1)
    return out


#: The fair-service columns of ``access.parquet``, per category after its ``time_<cat>_min``.
SERVICE_ORIGIN_COLUMNS = (columns.n_within, columns.second, columns.sd, columns.placed)


def _access_output(
    table: pd.DataFrame,
    pts: gpd.GeoDataFrame,
    hierarchy: UnitHierarchy,
    categories: list[str],
    service_columns: pd.DataFrame | None = None,
) -> gpd.GeoDataFrame:
    ancestors = hierarchy.ancestors().set_index(hierarchy.finest)
    unit_id = table["unit_id"].astype(str).to_numpy()
    # each distinct unit's ancestors looked up once, then spread to its origins
    names, code = unit_codes(unit_id)
    # every column in one dict, made into a frame once without copies (adding columns
    # one by one copied each: ~0.5 GB more at a million origins)
    data: dict[str, Any] = {
        "origin_id": table["origin_id"].to_numpy(),
        "population": table["population"].to_numpy(),
        "population_method": table["population_method"].astype(str).to_numpy(),
        "unit_id": unit_id,
        "snap_m": table["snap_m"].to_numpy(),
        "node": table["node"].to_numpy(),
        "edge": table["edge"].to_numpy(),
    }
    for level in hierarchy.levels[:-1]:
        data[columns.unit_level(level)] = (
            ancestors.loc[names, level].astype(str).to_numpy(dtype=object)[code]
        )
    for col in table.columns:
        if str(col).startswith("pop_"):
            data[col] = table[col].to_numpy()
    for cat in categories:
        data[columns.dist(cat)] = table[columns.dist(cat)].to_numpy()
        data[columns.time(cat)] = table[columns.time(cat)].to_numpy()
        if service_columns is not None:
            for name in SERVICE_ORIGIN_COLUMNS:
                data[name(cat)] = service_columns[name(cat)].to_numpy()
    out = pd.DataFrame(data, copy=False)
    # only the points are re-projected, and the columns are not stacked into one block:
    # re-projecting the frame, or building it with a copy, copied every column (~0.5 GB
    # at a million origins) for the same table
    geometry = gpd.GeoSeries(pts.geometry.loc[table.index].to_numpy(), crs=pts.crs)
    geometry = geometry.to_crs("EPSG:4326")
    return gpd.GeoDataFrame(out, geometry=geometry.to_numpy(), crs=geometry.crs, copy=False)
