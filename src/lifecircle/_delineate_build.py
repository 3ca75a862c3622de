"""How :func:`lifecircle.delineate.delineate` builds its result from an audit.

Blocks (the finest governance units or street blocks), their residents (the audit's own
population: unit totals, or its origins summed per street block), parents, adjacency and
walks; the partition; then the units, the blocks and the governance comparison as tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj

from .blocks import (
    block_adjacency,
    block_centres_and_walks,
    block_parents,
    block_population,
    blocks_from_units,
    street_blocks,
)
from .delineate import (
    LEVEL_PREFIX,
    RELATIONS,
    UNITS_AS_BLOCKS_SHARE,
    WALK_LIMIT_LEVELS,
    Delineation,
)
from .errors import ConfigError
from .partition import POP_TOL, Partition, PartitionProblem, RangeReason, partition

if TYPE_CHECKING:
    from .config import Level
    from .pipeline import AuditResult

#: Parent label of blocks outside every parent unit.
OUTSIDE = "(outside)"


def build_delineation(
    result: AuditResult,
    level: str,
    *,
    across: str | None,
    blocks: str,
    max_walk_min: float | None,
    time_limit_s: float,
    exact_max_blocks: int,
) -> Delineation:
    """See :func:`lifecircle.delineate.delineate`."""
    std = result.standard
    lv = _level(result, level)
    rng = lv.population
    assert rng is not None  # checked by _level
    hierarchy = result.hierarchy
    finest = hierarchy.finest
    fin_all = hierarchy.units[finest]
    fin = fin_all[fin_all["unit_id"].astype(str).isin(result.analysed)]
    unit_pop = pd.to_numeric(
        result.units[finest].set_index(result.units[finest]["unit_id"].astype(str))["population"],
        errors="coerce",
    )
    kind = _block_kind(blocks, unit_pop.reindex(fin["unit_id"].astype(str)), rng.min)
    graph = result.graph
    if kind == "units":
        blk = blocks_from_units(fin[["unit_id", "name", "parent_id", "geometry"]], crs=graph.crs)
        pop = unit_pop.reindex(blk["block_id"].astype(str)).fillna(0.0).to_numpy(float)
        parent_level = hierarchy.levels[-2] if len(hierarchy.levels) > 1 else None
        by_id = fin.set_index(fin["unit_id"].astype(str))["parent_id"]
        block_parent = (
            by_id.reindex(blk["block_id"].astype(str)).astype("string").fillna(OUTSIDE)
            if parent_level
            else pd.Series(OUTSIDE, index=blk.index, dtype="string")
        ).to_numpy(str)
        source = f"units:{finest}"
    else:
        blk = street_blocks(graph, fin.to_crs(graph.crs).union_all())
        points = gpd.GeoDataFrame(
            {"population": result.access["population"].to_numpy(float)},
            geometry=result.access.geometry,
            crs=result.access.crs,
        )
        pop = np.asarray(block_population(blk, points).population, float)
        parent_level = finest
        parents = block_parents(blk, fin)
        block_parent = parents["parent_id"].astype("string").fillna(OUTSIDE).to_numpy(str)
        source = "street blocks"
    nest_level = _nest_level(hierarchy.levels, parent_level, across)
    labels = _lift(hierarchy, block_parent, parent_level, nest_level)
    speed = std.profile(std.default_profile).speed_m_min
    limit_min = float(max_walk_min if max_walk_min is not None else WALK_LIMIT_LEVELS * lv.minutes)
    centre_node, walk = block_centres_and_walks(graph, blk, radius_m=limit_min * speed)
    problem = PartitionProblem(
        population=pop,
        adjacency=block_adjacency(blk),
        walk_m=walk,
        parent=labels,
        pop_min=rng.min,
        pop_max=rng.max,
    )
    part = partition(problem, exact_max_blocks=exact_max_blocks, time_limit_s=time_limit_s)
    units, block_walk = _units(
        result,
        lv,
        blk=blk,
        pop=pop,
        labels=labels,
        nest_level=nest_level,
        part=part,
        walk=walk,
        centre_node=centre_node,
    )
    block_table = gpd.GeoDataFrame(
        {
            "block_id": blk["block_id"].astype(str).to_numpy(),
            "unit_id": units["unit_id"].to_numpy()[part.unit],
            "parent_id": block_parent,
            "population": pop,
            "walk_to_centre_min": block_walk / speed,
        },
        geometry=blk.geometry.to_numpy(),
        crs=blk.crs,
    ).to_crs("EPSG:4326")
    gov_level = parent_level if parent_level is not None else finest
    governance, comparison, reasons = _compare(
        hierarchy.units[gov_level], block_table, units, part, labels
    )
    d = Delineation(
        level=lv.id,
        level_name=(lv.name_en, lv.name_zh),
        population_range=rng,
        units=units,
        blocks=block_table,
        governance=governance,
        comparison=comparison,
        partition=part,
        block_source=source,
        parent_level=nest_level,
        reasons=reasons,
    )
    d.facts = _summary(d, across=across, limit_min=limit_min, speed=speed, gov_level=gov_level)
    return d


def _level(result: AuditResult, level: str) -> Level:
    std = result.standard
    ids = [lv.id for lv in std.levels]
    if level not in ids:
        msg = f"--level: {level!r} is not a level of {std.id}; use one of {', '.join(ids)}"
        raise ConfigError("lifecircle delineate", [msg])
    lv = std.levels[ids.index(level)]
    if lv.population is None:
        msg = (
            f"--level {level}: the standard {std.id} gives no residents per life circle for it; "
            "add `population: {min, max, source, verified}` to the level in the standard's YAML"
        )
        raise ConfigError("lifecircle delineate", [msg])
    return lv


def _block_kind(blocks: str, unit_pop: pd.Series, pop_min: float) -> str:
    if blocks in ("units", "streets"):
        return blocks
    if blocks != "auto":
        msg = f"--blocks: got {blocks!r}; use auto, units or streets"
        raise ConfigError("lifecircle delineate", [msg])
    pops = unit_pop.to_numpy(float)
    pops = pops[np.isfinite(pops)]
    small = float(np.mean(pops <= pop_min)) if len(pops) else 0.0
    return "units" if small >= UNITS_AS_BLOCKS_SHARE else "streets"


def _nest_level(levels: list[str], parent_level: str | None, across: str | None) -> str | None:
    """The level units nest in: the blocks' parent level, or above ``across``."""
    if across is None:
        return parent_level
    if across not in levels:
        msg = f"--across: {across!r} is not a governance level; use one of {', '.join(levels)}"
        raise ConfigError("lifecircle delineate", [msg])
    if parent_level is None or levels.index(across) > levels.index(parent_level):
        msg = (
            f"--across {across}: the blocks' parent level is {parent_level}; give it or a "
            "coarser level"
        )
        raise ConfigError("lifecircle delineate", [msg])
    i = levels.index(across)
    return levels[i - 1] if i > 0 else None


def _lift(hierarchy: Any, labels: np.ndarray, level: str | None, target: str | None) -> np.ndarray:
    """Parent labels of ``level`` carried up to ``target`` (None: one label for all)."""
    if target is None or level is None:
        return np.full(len(labels), "", dtype=object)
    out = pd.Series(labels, dtype="string")
    levels = hierarchy.levels
    for lvl in reversed(levels[levels.index(target) + 1 : levels.index(level) + 1]):
        table = hierarchy.units[lvl]
        up = pd.Series(
            table["parent_id"].astype("string").to_numpy(), index=table["unit_id"].astype(str)
        )
        out = pd.Series(up.reindex(out.to_numpy()).to_numpy(), dtype="string")
    return out.fillna(OUTSIDE).to_numpy(str)


def _units(
    result: AuditResult,
    lv: Level,
    *,
    blk: gpd.GeoDataFrame,
    pop: np.ndarray,
    labels: np.ndarray,
    nest_level: str | None,
    part: Partition,
    walk: Any,
    centre_node: np.ndarray,
) -> tuple[gpd.GeoDataFrame, np.ndarray]:
    """One row per unit (EPSG:4326) and each block's walk to its unit's centre (m)."""
    rng = lv.population
    assert rng is not None
    speed = result.standard.profile(result.standard.default_profile).speed_m_min
    k = len(part.centre)
    # a stored walk of 0 is kept as 1e-9, so an absent pair (0) is one beyond the limit
    block_walk = np.asarray(
        walk.tocsr()[np.arange(len(pop)), np.asarray(part.centre)[part.unit]], float
    ).ravel()
    block_walk[block_walk <= 0] = np.nan
    unit_pop = np.bincount(part.unit, weights=pop, minlength=k)
    weighted = np.bincount(part.unit, weights=pop * np.nan_to_num(block_walk), minlength=k)
    has_pop = pop > 0
    longest = np.full(k, np.nan)
    if has_pop.any():
        frame = pd.DataFrame({"u": part.unit[has_pop], "w": block_walk[has_pop]})
        longest_by = frame.groupby("u")["w"].max()
        longest[longest_by.index.to_numpy()] = longest_by.to_numpy()
    geoms = (
        gpd.GeoSeries(blk.geometry.to_numpy(), crs=blk.crs)
        .groupby(part.unit)
        .agg(lambda s: s.union_all())
    )
    centres = result.graph
    node = centre_node[np.asarray(part.centre)]
    to_wgs = pyproj.Transformer.from_crs(centres.crs, "EPSG:4326", always_xy=True)
    lon, lat = to_wgs.transform(centres.x[node], centres.y[node])
    parent = (
        pd.Series(labels)
        .groupby(part.unit)
        .agg(lambda s: s.iloc[0] if (s == s.iloc[0]).all() else "")
        if nest_level is not None
        else pd.Series("", index=range(k))
    )
    ids = [f"{LEVEL_PREFIX}{lv.id}-{i + 1:03d}" for i in range(k)]
    units = gpd.GeoDataFrame(
        {
            "unit_id": ids,
            "name": [f"{lv.name_en} {i + 1}" for i in range(k)],
            "parent_id": parent.reindex(range(k)).replace(OUTSIDE, "").to_numpy(object),
            "level": f"{LEVEL_PREFIX}{lv.id}",
            "population": unit_pop.round(1),
            "blocks": np.bincount(part.unit, minlength=k),
            "centre_lon": np.round(lon, 6),
            "centre_lat": np.round(lat, 6),
            "mean_walk_min": np.round(
                np.divide(weighted, unit_pop, out=np.full(k, np.nan), where=unit_pop > 0) / speed,
                2,
            ),
            "max_walk_min": np.round(longest / speed, 2),
            "residents_beyond_level": np.round(
                np.bincount(
                    part.unit,
                    weights=pop * (np.nan_to_num(block_walk, nan=np.inf) > lv.minutes * speed),
                    minlength=k,
                ),
                1,
            ),
            "in_range": (unit_pop >= rng.min - POP_TOL) & (unit_pop <= rng.max + POP_TOL),
        },
        geometry=geoms.reindex(range(k)).to_numpy(),
        crs=blk.crs,
    )
    units.insert(5, "area_km2", np.round(units.geometry.area.to_numpy() / 1e6, 4))
    return units.to_crs("EPSG:4326"), block_walk


def _compare(
    gov_units: gpd.GeoDataFrame,
    blocks: gpd.GeoDataFrame,
    units: gpd.GeoDataFrame,
    part: Partition,
    labels: np.ndarray,
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict[str, RangeReason]]:
    """Each governance unit against the life-circle units drawn over its blocks."""
    frame = pd.DataFrame(
        {"gov": blocks["parent_id"].astype(str).to_numpy(), "lc": part.unit, "label": labels}
    )
    frame["pop"] = blocks["population"].to_numpy(float)
    crossing = frame.groupby("lc")["gov"].agg(lambda s: bool((s != s.iloc[0]).any()))
    per_gov = frame.groupby("gov").agg(
        population=("pop", "sum"),
        lifecircle_units=("lc", "nunique"),
        label=("label", "first"),
    )
    lc_sets = frame.groupby("gov")["lc"].agg(lambda s: sorted(set(s)))
    crosses = lc_sets.map(lambda us: bool(crossing.reindex(us).any()))
    many = per_gov["lifecircle_units"] > 1
    relation = np.where(
        many, np.where(crosses, "split and merged", "split"), np.where(crosses, "merged", "matched")
    )
    unit_pop = units["population"].to_numpy(float)
    # the reason of the parent the units nest in (the same unit, or one above)
    why = [part.parents_out_of_range.get(lab) for lab in per_gov["label"]]
    ids = per_gov.index.astype(str)
    comparison = pd.DataFrame(
        {
            "unit_id": ids,
            "population": per_gov["population"].round(1).to_numpy(),
            "lifecircle_units": per_gov["lifecircle_units"].to_numpy(),
            "relation": relation,
            "smallest_unit": lc_sets.map(lambda us: float(unit_pop[us].min())).round(1).to_numpy(),
            "largest_unit": lc_sets.map(lambda us: float(unit_pop[us].max())).round(1).to_numpy(),
            "out_of_range": ["" if r is None else str(r) for r in why],
            "out_of_range_code": ["" if r is None else r.code for r in why],
        }
    )
    reasons = {i: r for i, r in zip(ids, why, strict=True) if r is not None and i != OUTSIDE}
    comparison = comparison[comparison["unit_id"] != OUTSIDE].reset_index(drop=True)
    gov = gov_units.assign(unit_id=gov_units["unit_id"].astype(str))
    names = gov.set_index("unit_id")["name"]
    comparison.insert(1, "name", names.reindex(comparison["unit_id"]).to_numpy())
    governance = gov[["unit_id", "name", "geometry"]].merge(
        comparison.drop(columns=["name"]), on="unit_id", how="inner"
    )
    return gpd.GeoDataFrame(governance, geometry="geometry", crs=gov_units.crs), comparison, reasons


def _summary(
    d: Delineation, *, across: str | None, limit_min: float, speed: float, gov_level: str
) -> dict[str, Any]:
    rng = d.population_range
    units = d.units
    pop = units["population"].to_numpy(float)
    total = float(pop.sum())
    p = d.partition
    counts = d.comparison["relation"].value_counts()
    return {
        "level": d.level,
        "level_name": {"en": d.level_name[0], "zh": d.level_name[1]},
        "population_range": {
            "min": rng.min,
            "max": rng.max,
            "source": rng.source,
            "verified": rng.verified,
        },
        "blocks": {"source": d.block_source, "count": len(d.blocks)},
        "nested_in": d.parent_level,
        "across": across,
        "compared_with": gov_level,
        "max_walk_min": limit_min,
        "walk_speed_m_min": round(speed, 3),
        "units": len(units),
        "units_in_range": int(units["in_range"].sum()),
        "residents": round(total, 1),
        "residents_in_range_units": round(float(pop[units["in_range"].to_numpy(bool)].sum()), 1),
        "mean_walk_min": (
            None
            if total <= 0
            else round(float(np.nansum(units["mean_walk_min"].to_numpy(float) * pop) / total), 2)
        ),
        "residents_beyond_level_minutes": round(float(units["residents_beyond_level"].sum()), 1),
        "max_walk_min_of_units": (
            None if units["max_walk_min"].isna().all() else float(units["max_walk_min"].max())
        ),
        "relations": {r: int(counts.get(r, 0)) for r in RELATIONS},
        "solver": {
            "status": p.status,
            "objective_resident_m": round(p.objective, 1),
            "bound_resident_m": round(p.bound, 1),
            "gap": round(p.gap, 6),
            "seconds": round(p.seconds, 3),
            "range_violation": round(p.range_violation, 1),
        },
        "out_of_range": {str(k): str(v) for k, v in p.parents_out_of_range.items()},
        "out_of_range_codes": {str(k): v.code for k, v in p.parents_out_of_range.items()},
        "simplifications": [
            "walks run between blocks' centre nodes (the network node nearest each block's "
            "representative point), not from every resident",
            "street blocks are bounded by walkable ways and the study boundary only "
            "(waterways and railways are not in the walk graph)",
        ],
    }
