"""Coverage per governance unit and level, completeness, and ranked gaps.

For each unit ``u`` and category ``c`` with threshold ``t_c`` minutes:

* ``cov_c``  = population of ``u`` whose walking time to ``c`` is <= ``t_c``, divided
  by the population of ``u``;
* ``score``  = population-weighted mean, over residents, of the share of mandatory
  categories each reaches;
* ``complete_<L>`` = share of the population reaching every mandatory category of
  life-circle level ``L`` and below (e.g. ``complete_10min``: every mandatory 5- and
  10-minute category); ``complete_share``: every mandatory category of the standard.
  Computed only when all those categories were audited (NaN otherwise: see
  :func:`completeness_status`);
* ``worst_category`` = the mandatory category with the lowest ``cov``.

Finest units are summed up the hierarchy, so every level is an exact rollup of
population-weighted counts, not an average of averages.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns
from .columns import OUTPUTS
from .config import Standard
from .io.units import UnitHierarchy
from .settings import REACH_RTOL


def covered_matrix(access: pd.DataFrame, standard: Standard, categories: list[str]) -> pd.DataFrame:
    """Boolean per origin and category: within the category's threshold (NaN = not)."""
    return pd.DataFrame(
        {
            c: (
                access[columns.time(c)] <= standard.category(c).threshold_min * (1 + REACH_RTOL)
            ).to_numpy()
            for c in categories
        },
        index=access.index,
    )


def completeness_status(standard: Standard, categories: list[str]) -> dict[str, dict]:
    """Per life-circle level: its mandatory categories and whether completeness is computed.

    A level is complete for a resident who reaches every mandatory category of that
    level and of the levels below it (e.g. ``10min``: every mandatory 5- and 10-minute
    category). The share is computed only when all those categories were audited;
    otherwise it would claim completeness without looking at some of them.

    Parameters
    ----------
    standard
        The standard (its mandatory categories and levels).
    categories
        The categories audited.

    Returns
    -------
    dict
        Per level id, in increasing minutes: ``{"computed": bool, "categories": [...],
        "missing": [...]}`` (``missing``: mandatory categories not audited).
    """
    audited = set(categories)
    mandatory = [c.id for c in standard.categories if c.mandatory]
    out: dict[str, dict] = {}
    for level in sorted(standard.levels, key=lambda lv: lv.minutes):
        cats = [
            c
            for c in mandatory
            if standard.level(standard.category(c).level).minutes <= level.minutes
        ]
        if not cats:
            continue
        missing = [c for c in cats if c not in audited]
        out[level.id] = {"computed": not missing, "categories": cats, "missing": missing}
    return out


def completeness_columns(standard: Standard, categories: list[str]) -> dict[str, list[str]]:
    """The ``complete_<level>`` columns that can be computed, with their categories."""
    return {
        columns.complete(level): status["categories"]
        for level, status in completeness_status(standard, categories).items()
        if status["computed"]
    }


def origin_indicators(
    access: pd.DataFrame, standard: Standard, categories: list[str]
) -> pd.DataFrame:
    """Per origin: covered flags, share of mandatory categories reached, completeness.

    ``complete_<level>`` is NaN for the levels whose mandatory categories were not
    all audited, and ``complete_share`` (every mandatory category of the standard)
    likewise; ``score`` averages the mandatory categories that were audited.
    """
    covered = covered_matrix(access, standard, categories)
    mandatory = [c for c in categories if standard.category(c).mandatory]
    nan = np.full(len(covered), np.nan)
    # one array per column, not stacked into one block: a caller can then take the
    # columns one by one and let each go (coverage_by_unit weighs them so)
    out: dict[str, np.ndarray] = {
        f"cov_{c}": covered[c].to_numpy().astype(float) for c in covered.columns
    }
    out["score"] = covered[mandatory].mean(axis=1).to_numpy() if mandatory else nan
    status = completeness_status(standard, categories)
    for level, st in status.items():
        out[columns.complete(level)] = (
            covered[st["categories"]].all(axis=1).to_numpy().astype(float)
            if st["computed"]
            else nan.copy()
        )
    every = [c.id for c in standard.categories if c.mandatory]
    done = bool(every) and set(every) <= set(categories)
    out["complete_share"] = (
        covered[every].all(axis=1).to_numpy().astype(float) if done else nan.copy()
    )
    return pd.DataFrame(out, index=covered.index, copy=False)


def coverage_by_unit(
    access: pd.DataFrame,
    hierarchy: UnitHierarchy,
    standard: Standard,
    categories: list[str],
    *,
    analysed: set[str] | None = None,
    unit_column: str = "unit_id",
) -> dict[str, gpd.GeoDataFrame]:
    """Coverage of every unit at every level.

    Parameters
    ----------
    access
        One row per origin with ``population``, ``unit_column`` (finest unit id)
        and ``time_<cat>_min`` per category.
    hierarchy
        The governance units.
    standard
        Thresholds and mandatory flags.
    categories
        Categories audited (others are ignored).
    analysed
        Finest unit ids whose results are valid (default: all). Origins of other
        units are ignored and those units get NaN figures.
    unit_column
        Column of ``access`` with the finest unit id.

    Returns
    -------
    dict of geopandas.GeoDataFrame
        Per level name: ``unit_id``, ``name``, ``parent_id``, ``level``,
        ``population``, ``cov_<cat>``, ``score``, ``complete_<level>``,
        ``complete_share``, ``worst_category``, ``units_analysed``,
        ``units_total``, ``analysed``, ``n_origins``.
    """
    finest = hierarchy.finest
    ancestors = hierarchy.ancestors()
    all_finest = set(ancestors[finest])
    analysed = all_finest if analysed is None else set(analysed) & all_finest
    mask = access[unit_column].isin(analysed).to_numpy()
    sub = access.loc[mask]
    indicators = origin_indicators(sub, standard, categories)
    value_cols = list(indicators.columns)
    # columns not computed (completeness without every mandatory category) stay NaN
    computed = {c for c in value_cols if indicators[c].notna().any() or indicators.empty}
    # each figure weighed by the origin's residents; the unweighted column is let go as
    # soon as its weighted one is made (two full tables at a million origins otherwise)
    people = sub["population"].to_numpy()
    weighted = pd.DataFrame(
        {c: indicators.pop(c).to_numpy() * people for c in value_cols},
        index=indicators.index,
        copy=False,
    )
    weighted["population"] = people
    weighted["n_origins"] = 1.0
    by_level = rollup_sums(weighted, sub[unit_column].to_numpy(), hierarchy, analysed)

    ancestors = ancestors.assign(analysed=ancestors[finest].isin(analysed).astype(int))
    mandatory = [c for c in categories if standard.category(c).mandatory]
    tables: dict[str, gpd.GeoDataFrame] = {}
    for level in hierarchy.levels:
        sums = by_level[level]
        counts = ancestors.groupby(level)["analysed"].agg(["sum", "count"])
        units = hierarchy.units[level][["unit_id", "name", "parent_id", "geometry"]].copy()
        units.insert(3, "level", level)
        stats = pd.DataFrame(index=units["unit_id"])
        pop = sums["population"].reindex(stats.index)
        stats["population"] = pop
        for col in value_cols:
            stats[col] = (
                sums[col].reindex(stats.index) / pop.where(pop > 0) if col in computed else np.nan
            )
        stats["worst_category"] = _worst(stats, mandatory)
        stats["units_analysed"] = counts["sum"].reindex(stats.index).fillna(0).astype(int)
        stats["units_total"] = counts["count"].reindex(stats.index).fillna(0).astype(int)
        stats["analysed"] = (stats["units_analysed"] == stats["units_total"]) & (
            stats["units_total"] > 0
        )
        stats["n_origins"] = sums["n_origins"].reindex(stats.index).fillna(0).astype(int)
        none = stats["units_analysed"] == 0
        stats.loc[none, ["population", *value_cols]] = np.nan
        order = [
            "population",
            *[columns.cov(c) for c in categories],
            "score",
            *[c for c in value_cols if c.startswith("complete_")],
            "worst_category",
            "units_analysed",
            "units_total",
            "analysed",
            "n_origins",
        ]
        merged = units.join(stats[order], on="unit_id")
        tables[level] = gpd.GeoDataFrame(merged, geometry="geometry", crs=units.crs)
    return tables


def _worst(stats: pd.DataFrame, mandatory: list[str]) -> pd.Series:
    if not mandatory:
        return pd.Series(pd.NA, index=stats.index, dtype="string")
    cov = stats[[columns.cov(c) for c in mandatory]]
    valid = cov.notna().any(axis=1)
    worst = pd.Series(pd.NA, index=stats.index, dtype="string")
    # idxmin takes the first of ties, i.e. the standard's order
    worst[valid] = cov[valid].idxmin(axis=1).str.removeprefix("cov_")
    return worst


def find_gaps(units: dict[str, gpd.GeoDataFrame], categories: list[str]) -> pd.DataFrame:
    """Every unit x category with uncovered residents, largest shortfall first.

    Returns
    -------
    pandas.DataFrame
        ``unit_id``, ``name``, ``level``, ``category``, ``uncovered_population``,
        ``uncovered_share``, and ``partly_analysed`` (a coarser unit only some of
        whose finest units were analysed: its figures are those of the analysed part)
        with ``units_analysed`` / ``units_total``.
    """
    rows = []
    for table in units.values():
        analysed = table.get("units_analysed", pd.Series(1, index=table.index))
        total = table.get("units_total", pd.Series(1, index=table.index))
        for cat in categories:
            share = 1.0 - table[columns.cov(cat)]
            frame = pd.DataFrame(
                {
                    "unit_id": table["unit_id"],
                    "name": table["name"],
                    "level": table["level"],
                    "category": cat,
                    "uncovered_population": table["population"] * share,
                    "uncovered_share": share,
                    "partly_analysed": analysed < total,
                    "units_analysed": analysed,
                    "units_total": total,
                }
            )
            rows.append(frame[frame["uncovered_population"] > 1e-9])
    # the cohort columns are added by the fair-service stage (service.cohort_gaps)
    names = [
        name
        for name, _ in OUTPUTS["gaps.csv"].columns
        if name not in {"cohort", "uncovered_cohort"}
    ]
    if not rows:
        return pd.DataFrame(columns=names)
    gaps = pd.concat(rows, ignore_index=True)
    # round away float noise so equal shortfalls tie and the larger share wins
    gaps["_rank"] = gaps["uncovered_population"].round(6)
    return gaps.sort_values(
        ["_rank", "uncovered_share", "unit_id", "category"],
        ascending=[False, False, True, True],
        kind="stable",
    ).reset_index(drop=True)[names]


def citywide(access: pd.DataFrame, standard: Standard, categories: list[str]) -> dict:
    """Population-weighted city-wide coverage per category and completeness."""
    ind = origin_indicators(access, standard, categories)
    pop = access["population"].to_numpy()
    total = float(pop.sum())

    def share(col: str) -> float | None:
        return round(float((ind[col].to_numpy() * pop).sum() / total), 6) if total else None

    out = {
        "population": total,
        "coverage": {c: share(columns.cov(c)) for c in categories},
        "score": share("score") if "score" in ind else None,
        "complete_share": share("complete_share"),
    }
    for level in completeness_status(standard, categories):
        col = columns.complete(level)
        out[col] = share(col) if ind[col].notna().all() else None
    if not ind["complete_share"].notna().all():
        out["complete_share"] = None
    return out


def edge_reach_m(standard: Standard) -> float:
    """The longest walk of any audit under ``standard`` (m), for the edge-effect rule.

    The longest threshold of any category at the fastest walking profile the
    standard defines. It depends on the standard alone, never on ``--categories`` or
    ``--profile``, so every audit and siting run on the same inputs analyses the same
    units and residents.

    A category travels at any walking profile (``--profile`` may choose any) and, at a
    level that counts other travel modes (``modes: [walk, bicycle]``), at those
    modes' speeds; a profile of a mode no level counts (an e-bike kept for
    ``--profile``) widens the reach only when it is the default profile.
    """
    walking = [p.speed_m_min for p in standard.profiles.values() if p.mode == "walk"]
    reach = 0.0
    for cat in standard.categories:
        speeds = [*walking, standard.profile_of(cat.id).speed_m_min]
        speeds += [standard.mode_profile(m).speed_m_min for m in standard.level(cat.level).modes]
        reach = max(reach, cat.threshold_min * max(speeds))
    return float(reach)


def units_inside_network(
    hierarchy: UnitHierarchy,
    extent: object,
    crs: object,
    reach_m: float,
    *,
    min_inside: float = 0.99,
    keep_edge_units: bool = False,
) -> tuple[set[str], pd.DataFrame]:
    """Finest units whose walkable catchment lies inside the street data.

    A unit's catchment is the unit buffered by ``reach_m`` (the longest walk of
    the audit): network distance is never shorter than the straight line, so
    every facility a resident could reach lies inside it. A unit is analysed
    when at least ``min_inside`` of that catchment lies inside ``extent`` (the
    street data's hull); elsewhere facilities beyond the data's edge would be
    missed (edge effect). With ``keep_edge_units`` such units are analysed too and
    flagged (``edge_effect``): their coverage may be underestimated.

    Returns
    -------
    analysed : set of str
        Finest unit ids that are analysed.
    table : pandas.DataFrame
        Every finest unit with ``unit_id``, ``name``, ``catchment_inside_share``,
        ``edge_effect``, ``analysed`` and ``reason`` (empty when analysed).
    """
    finest = hierarchy.units[hierarchy.finest].to_crs(crs)
    catchment = finest.geometry.buffer(reach_m)
    inside = catchment.intersection(extent).area / catchment.area
    edge = inside < min_inside
    analysed = (inside > 0) if keep_edge_units else ~edge
    reason = np.where(
        analysed,
        "",
        np.where(
            inside <= 0,
            "outside the street data",
            [
                f"only {s:.0%} of its {reach_m:.0f} m walking catchment lies inside the "
                "street data (edge effect)"
                for s in inside
            ],
        ),
    )
    table = pd.DataFrame(
        {
            "unit_id": finest["unit_id"].to_numpy(),
            "name": finest["name"].to_numpy(),
            "catchment_inside_share": inside.round(4).to_numpy(),
            "edge_effect": edge.to_numpy(),
            "analysed": analysed.to_numpy(),
            "reason": reason,
        }
    )
    return set(table.loc[table["analysed"], "unit_id"]), table


def rollup_sums(
    values: pd.DataFrame,
    finest_unit: pd.Series | np.ndarray,
    hierarchy: UnitHierarchy,
    analysed: set[str],
    *,
    names: np.ndarray | None = None,
) -> dict[str, pd.DataFrame]:
    """Sum per-origin quantities over the units of every level.

    Parameters
    ----------
    values
        Additive quantities per origin (e.g. residents of a cohort, residents covered).
    finest_unit
        The finest unit of each origin (aligned with ``values``).
    hierarchy
        The governance units.
    analysed
        Finest units whose origins count; the others add nothing.
    names
        When given, ``finest_unit`` holds each origin's position in ``names``, the
        sorted distinct ids as text (:func:`unit_codes`), worked out once by the caller.

    Returns
    -------
    dict of pandas.DataFrame
        Per level, the sums indexed by ``unit_id`` (every unit of the level; NaN
        where no analysed finest unit lies inside).
    """
    if names is None:
        names, code = unit_codes(finest_unit)
    else:
        code = np.asarray(finest_unit, dtype=np.intp)
    return level_sums(finest_sums(values, code, names, analysed), hierarchy)


def finest_sums(
    values: pd.DataFrame, code: np.ndarray, names: np.ndarray, analysed: set[str]
) -> pd.DataFrame:
    """The first step of :func:`rollup_sums`: per-origin quantities summed per finest unit.

    Parameters
    ----------
    values
        Additive quantities per origin.
    code, names
        Each origin's position in ``names``, the sorted distinct finest-unit ids as
        text (:func:`unit_codes`).
    analysed
        Finest units whose origins count.

    Returns
    -------
    pandas.DataFrame
        Indexed by the finest units with origins (sorted ids). Each column's sums are
        those of that column alone, so the quantities can be summed a few at a time
        (and their per-origin arrays let go) and the frames put side by side.
    """
    keep = np.isin(names, list(analysed))[code]
    # group by the ids' sorted codes: the same groups, in the same order, as grouping by
    # the ids as text, without hashing a string per origin; all kept: no copy of values
    kept = values if keep.all() else values.loc[keep]
    per_finest = kept.groupby(code if keep.all() else code[keep]).sum()
    per_finest.index = names[per_finest.index.to_numpy(dtype=np.intp)]
    return per_finest


def level_sums(per_finest: pd.DataFrame, hierarchy: UnitHierarchy) -> dict[str, pd.DataFrame]:
    """The second step of :func:`rollup_sums`: finest-unit sums summed up every level.

    Parameters
    ----------
    per_finest
        Sums per finest unit (:func:`finest_sums`, several side by side allowed).
    hierarchy
        The governance units.

    Returns
    -------
    dict of pandas.DataFrame
        Per level, the sums indexed by ``unit_id`` (every unit of the level; NaN
        where no analysed finest unit lies inside).
    """
    ancestors = hierarchy.ancestors()
    joined = ancestors.join(per_finest, on=hierarchy.finest)
    out: dict[str, pd.DataFrame] = {}
    for level in hierarchy.levels:
        sums = joined.groupby(level)[list(per_finest.columns)].sum(min_count=1)
        ids = hierarchy.units[level]["unit_id"]
        out[level] = sums.reindex(ids.to_numpy())
    return out


def unit_codes(finest_unit: pd.Series | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit ids as text, sorted and unique, and each origin's position among them.

    The ids are compared as text (``str`` of each value, so ``1`` and ``"1"`` are one
    unit, missing ids become ``"None"``, ``"nan"`` or ``"<NA>"``) like
    ``numpy.asarray(finest_unit, dtype=object).astype(str)``, but only the distinct
    values are converted: the origins are hashed once (``pandas.factorize``), not sorted.

    Parameters
    ----------
    finest_unit
        One unit id per origin.

    Returns
    -------
    names : numpy.ndarray
        The distinct ids as text (``str`` dtype), sorted.
    code : numpy.ndarray
        Per origin, the position of its id in ``names`` (``intp``).
    """
    values = np.asarray(finest_unit, dtype=object)
    raw, uniques = pd.factorize(values)
    text = np.asarray(uniques, dtype=object).astype(str)
    missing = raw < 0
    if missing.any():  # None, NaN and NA each print their own way: as text one by one
        raw = raw.copy()
        raw[missing] = len(text) + np.arange(int(missing.sum()))
        text = np.concatenate([text, values[missing].astype(str)])
    names, position = np.unique(text, return_inverse=True)
    return names, np.asarray(position, dtype=np.intp).reshape(-1)[raw]
