"""Fair service: who needs each facility, how much there is, and how fairly it is shared.

The audit stage after access. For every audited category ``c`` serving cohort ``k``
(kindergarten: children aged 3-5; most categories: every resident), on the sparse
walking distances between the analysed origins and the facilities of ``c`` (one
snap rule, :class:`~lifecircle.access.AuditSnaps`; pairs within the audit's search
cut-off only):

* **cohort coverage** ``cohort_cov_<c>``: share of ``k`` within the threshold;
* **supply-demand** ``sd_<c>``: two-step floating catchment access (supply per
  resident of ``k`` within reach; supply = capacity where known, else one per
  facility), :func:`lifecircle.demand.two_step_fca`;
* **capacity-constrained coverage** ``placed_<c>`` and ``unmet_<c>``: residents of
  ``k`` assigned a place within the threshold at a facility with room left, solved
  exactly as a transportation problem (:func:`lifecircle.demand.capacity_assignment`);
* **choice** ``n_<c>``, ``second_<c>_m``, ``single_<c>``; per facility the residents
  who would lose coverage if it closed (``sole_dependants``);
* **equity** of access over residents and over units (:mod:`lifecircle.equity`).

Per unit, every figure is a ratio of sums over the unit's origins, so each level is
an exact rollup (:func:`lifecircle.coverage.rollup_sums`).
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import columns, demand, equity
from ._service_searches import SECOND_NEAREST_RADII as SECOND_NEAREST_RADII
from ._service_searches import Searches as Searches
from ._service_searches import _EarlyAssignment
from ._service_searches import category_capacity as category_capacity
from ._service_searches import category_distances as category_distances
from ._service_searches import category_nearest_two as category_nearest_two
from ._service_searches import start_searches as start_searches
from ._service_searches import threshold_m as threshold_m
from ._standard_cohorts import ALL
from .access import AuditSnaps
from .cohorts import CohortMethod, cohort_populations
from .config import Standard
from .coverage import finest_sums, level_sums, origin_indicators, unit_codes
from .io.units import UnitHierarchy
from .network import WalkGraph

#: Facilities listed as critical in summary.json and the report.
CRITICAL_FACILITIES = 15

CAPACITY_COLUMN = "capacity"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CategoryService:
    """City-wide fair-service figures of one category."""

    category: str
    cohort: str
    threshold_m: float
    facilities: int
    facilities_in_reach: int
    supply_unit: str
    capacity_from: str
    capacity_verified: bool | None
    demand: float
    covered_share: float | None
    supply: float
    supply_per_1000: float | None
    placed_share: float | None
    unmet: float
    single_share: float | None
    assignment_status: str
    equity_residents: dict[str, Any]
    equity_units: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """Plain dict for summary.json (rounded)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            if isinstance(value, float):
                out[key] = None if not np.isfinite(value) else round(value, 6)
            else:
                out[key] = value
        return out


@dataclass
class FairService:
    """What the fair-service stage adds to an audit."""

    origin_columns: pd.DataFrame
    unit_columns: dict[str, pd.DataFrame]
    facility_columns: pd.DataFrame
    categories: dict[str, CategoryService]
    cohorts: dict[str, dict[str, Any]]
    critical: list[dict[str, Any]]
    equity_score: dict[str, Any] = field(default_factory=dict)
    worst_units: list[str] = field(default_factory=list)
    distances: dict[str, sp.csr_matrix] = field(default_factory=dict, repr=False)
    #: With facilities from several sources: found by both / only one, per category
    #: (city) and per category and finest unit (``cross_source.csv``).
    cross_source: pd.DataFrame | None = None
    cross_source_units: pd.DataFrame | None = None


def facility_capacity(fac: pd.DataFrame, standard: Standard) -> tuple[np.ndarray, list[str]]:
    """Capacity per facility and where it came from (``column``, ``default``, ``none``).

    A ``capacity`` column of the facility files wins; else the category's default
    from the standard (flagged by its ``verified``); else unlimited (``inf``).
    """
    cap = np.full(len(fac), np.inf)
    origin = np.array(["none"] * len(fac), dtype=object)
    given = (
        pd.to_numeric(fac[CAPACITY_COLUMN], errors="coerce").to_numpy(float)
        if CAPACITY_COLUMN in fac.columns
        else np.full(len(fac), np.nan)
    )
    cats = fac["category"].to_numpy()
    for cid in np.unique(cats):
        default = standard.category(str(cid)).capacity
        rows = cats == cid
        if default is not None:
            cap[rows] = default.value
            origin[rows] = "default"
    has = np.isfinite(given) & (given >= 0)
    cap[has] = given[has]
    origin[has] = "column"
    return cap, list(origin)


@dataclass(frozen=True)
class ServiceInputs:
    """What the fair-service stage reads.

    Attributes
    ----------
    graph, snaps
        The walk graph and the audit's snapped origins and facilities (None when
        ``searches`` are given: they are searched only to start them).
    table
        The analysed origins (``population``, ``unit_id``, ``pop_<cohort>``).
    rows
        Position of each row of ``table`` in ``snaps.origins``.
    fac
        The facilities (reset index, the order of ``snaps``).
    standard, categories
        The standard and the audited categories.
    hierarchy, analysed
        Units and the analysed finest units.
    radius_m
        The audit's search cut-off (second-nearest distances stop there).
    profile
        The audit's ``--profile`` override (None: each category's own).
    cohort_methods
        How each cohort's residents were found.
    decay
        ``None`` or ``"gaussian"`` (2SFCA distance decay).
    """

    graph: WalkGraph | None
    snaps: AuditSnaps | None
    table: pd.DataFrame
    rows: np.ndarray
    fac: pd.DataFrame
    standard: Standard
    categories: list[str]
    hierarchy: UnitHierarchy
    analysed: set[str]
    radius_m: float
    profile: str | None
    cohort_methods: dict[str, CohortMethod]
    decay: str | None = None
    #: The searches already started (:func:`start_searches`, e.g. while the access stage
    #: runs); started by :func:`fair_service` when None. They must be of these inputs.
    searches: Searches | None = None


@dataclass
class _Collect:
    """Per-origin columns, additive per-unit sums and ratios, per-facility columns."""

    per_origin: dict[str, np.ndarray]
    sums: dict[str, np.ndarray]
    ratios: list[tuple[str, str, str]]
    fac_cols: dict[str, np.ndarray]
    #: Per origin (row of the table): its finest unit, as the position of its id in the
    #: sorted ids (:func:`lifecircle.coverage.unit_codes`; read once, used per category).
    unit_code: np.ndarray
    #: The same as a categorical of the ids (the equity figures' groups).
    unit: pd.Categorical
    #: The sorted distinct ids (``unit_code`` indexes them).
    names: np.ndarray
    #: Each category's additive quantities summed per finest unit as soon as they are
    #: known (:func:`lifecircle.coverage.finest_sums`), so their per-origin arrays go.
    finest: list[pd.DataFrame] = field(default_factory=list)


def fair_service(inp: ServiceInputs) -> FairService:
    """Cohort coverage, supply-demand, capacity, choice and equity of every category."""
    capacity, cap_from = facility_capacity(inp.fac, inp.standard)
    n_fac = len(inp.fac)
    names, code = unit_codes(inp.table["unit_id"])
    acc = _Collect(
        per_origin={},
        sums={},
        ratios=[],
        fac_cols={
            "capacity": np.where(np.isfinite(capacity), capacity, np.nan),
            "capacity_from": np.asarray(cap_from, dtype=object),
            "demand_in_reach": np.full(n_fac, np.nan),
            "supply_ratio": np.full(n_fac, np.nan),
            "load": np.full(n_fac, np.nan),
            "sole_dependants": np.full(n_fac, np.nan),
        },
        unit_code=code,
        unit=pd.Categorical.from_codes(code, categories=pd.Index(names, dtype=object)),
        names=names,
    )
    for cid in inp.standard.cohorts:
        if cid != ALL and columns.pop(cid) in inp.table.columns:
            acc.sums[columns.pop(cid)] = inp.table[columns.pop(cid)].to_numpy(float)
    results: dict[str, CategoryService] = {}
    distances: dict[str, sp.csr_matrix] = {}
    # the searches (compiled, without the GIL) run on threads of their own, maybe started
    # before this stage; each category's capacity LP (HiGHS, without the GIL) runs on
    # another as soon as its pairs are known, while the next categories' pairs are
    # searched; the figures are then worked out category by category, in order (each
    # search's and LP's result is the same whenever it runs)
    searches = inp.searches
    if searches is None:
        if inp.graph is None or inp.snaps is None:
            msg = "fair service: give the graph and the snaps, or the searches made"
            raise ValueError(msg)
        searches = start_searches(
            inp.graph,
            inp.snaps,
            inp.rows,
            inp.standard,
            inp.categories,
            radius_m=inp.radius_m,
            profile=inp.profile,
        )
    try:
        with ThreadPoolExecutor(max_workers=1) as solver:
            pairs = {
                cat: _category_pairs(inp, cat, capacity, searches, solver) for cat in inp.categories
            }
            for cat in inp.categories:
                second = searches.seconds[cat].result()
                results[cat], distances[cat] = _category(inp, pairs.pop(cat), acc, second)
                searches.release(cat)  # its capacity assignment is no longer needed
    finally:
        if inp.searches is None:
            searches.close()
    _complete_by_cohort(inp, acc)

    # the cohorts' residents first, then each category's sums, then completeness (the
    # order of the columns); the arrays stay separate (copy=False): no consolidated copy
    head = {k: v for k, v in acc.sums.items() if not k.startswith("_complete_")}
    tail = {k: v for k, v in acc.sums.items() if k.startswith("_complete_")}
    parts = [
        finest_sums(
            pd.DataFrame(part, index=inp.table.index, copy=False),
            acc.unit_code,
            names,
            inp.analysed,
        )
        for part in (head, tail)
    ]
    # every part has the same rows (the finest units with analysed origins, sorted)
    frames = [f for f in (parts[0], *acc.finest, parts[1]) if len(f.columns)]
    by_level = level_sums(pd.concat(frames, axis=1), inp.hierarchy)
    unit_columns: dict[str, pd.DataFrame] = {}
    for level, frame in by_level.items():
        out = pd.DataFrame({c: frame[c] for c in frame.columns if not c.startswith("_")})
        for name, num, den in acc.ratios:
            out[name] = frame[num] / frame[den].where(frame[den] > 0)
        unit_columns[level] = out
    facility_columns = pd.DataFrame(acc.fac_cols, index=inp.fac.index)
    return FairService(
        origin_columns=pd.DataFrame(acc.per_origin, index=inp.table.index, copy=False),
        unit_columns=unit_columns,
        facility_columns=facility_columns,
        categories=results,
        cohorts=_cohorts(inp, acc.sums),
        critical=critical_facilities(inp.fac, facility_columns),
        distances=distances,
    )


def _complete_by_cohort(inp: ServiceInputs, acc: _Collect) -> None:
    """``complete_share_<cohort>``: the cohort's share reaching every mandatory category.

    Only when the complete life circle is computed at all (every mandatory category
    of the standard audited; see :func:`lifecircle.coverage.completeness_status`).
    """
    complete = origin_indicators(inp.table, inp.standard, inp.categories)["complete_share"]
    if complete.isna().any():
        return
    flag = complete.to_numpy(float)
    for cid in inp.standard.cohorts:
        people = acc.sums.get(columns.pop(cid))
        if people is None:
            continue
        acc.sums[f"_complete_{cid}"] = people * flag
        acc.ratios.append((f"complete_share_{cid}", f"_complete_{cid}", columns.pop(cid)))


def _cohorts(inp: ServiceInputs, sums: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    out = {}
    for cid, method in inp.cohort_methods.items():
        cohort = inp.standard.cohorts[cid]
        people = sums.get(columns.pop(cid))
        done = sums.get(f"_complete_{cid}")
        out[cid] = {
            "name": cohort.name_en,
            "name_zh": cohort.name_zh,
            "ages": cohort.ages(),
            "source": cohort.source,
            "verified": cohort.verified,
            "residents": None if people is None else round(float(people.sum()), 1),
            "complete_share": (
                None
                if done is None or people is None or people.sum() <= 0
                else round(float(done.sum() / people.sum()), 6)
            ),
            **method.to_json(),
        }
    return out


@dataclass
class _Pairs:
    """One category's pairs within its threshold, its demand and supply, and its LP."""

    category: str
    dist: sp.csr_matrix
    fac_rows: np.ndarray
    need: np.ndarray
    threshold_m: float
    supply: np.ndarray
    has_capacity: bool
    assign: Future[demand.Assignment]


def category_needs(
    origins: pd.DataFrame, standard: Standard, categories: list[str]
) -> dict[str, np.ndarray]:
    """Per category, the residents it serves at each origin: its cohort's, else everyone.

    Parameters
    ----------
    origins
        The analysed origins with ``population`` and the population input's cohort
        columns (what :func:`lifecircle.cohorts.cohort_populations` reads).
    standard, categories
        The standard and the audited categories.

    Returns
    -------
    dict of numpy.ndarray
        Per category, one value per origin (the demand of its capacity assignment).
    """
    pops, _ = cohort_populations(origins, standard, categories)
    table = pd.concat([origins.drop(columns=[c for c in pops if c in origins]), pops], axis=1)
    return {cat: _need(table, standard, cat) for cat in categories}


def _need(table: pd.DataFrame, standard: Standard, cat: str) -> np.ndarray:
    """The residents ``cat`` serves per origin (its cohort's ``pop_`` column, else all)."""
    cohort = standard.category(cat).cohort
    return (
        table[columns.pop(cohort)].to_numpy(float)
        if cohort != ALL and columns.pop(cohort) in table.columns
        else table["population"].to_numpy(float)
    )


def _category_pairs(
    inp: ServiceInputs,
    cat: str,
    capacity: np.ndarray,
    searches: Searches,
    solver: ThreadPoolExecutor,
) -> _Pairs:
    """The pairs of ``cat`` within its threshold; its capacity LP is handed to ``solver``."""
    need = _need(inp.table, inp.standard, cat)
    limit = searches.thresholds[cat]
    # every pair within the threshold (2SFCA, capacity, choice, closures); the second-nearest
    # walk comes from two-label searches (Searches.seconds), not from pairs up to there
    dist, fac_rows = searches.pairs[cat].result()
    if dist.shape[0] != len(need):
        msg = "fair service: the searches given were not made for these origins"
        raise ValueError(msg)
    cap, has_capacity = category_capacity(capacity[fac_rows])
    supply = cap if has_capacity else np.ones(len(fac_rows))
    early = searches.assign.get(cat)
    assign = solver.submit(_assignment, early, dist, need, cap, limit)
    return _Pairs(cat, dist, fac_rows, need, limit, supply, has_capacity, assign)


def _assignment(
    early: Future[_EarlyAssignment] | None,
    dist: sp.csr_matrix,
    need: np.ndarray,
    cap: np.ndarray,
    limit: float,
) -> demand.Assignment:
    """The capacity assignment solved ahead if it had this demand and these capacities."""
    if early is not None and early.exception() is None:
        done = early.result()
        if np.array_equal(done.need, need) and np.array_equal(done.capacity, cap):
            return done.assignment
        log.debug("capacity assignment solved ahead with other inputs: solving again")
    return demand.capacity_assignment(dist, need, cap, limit)


def _category(
    inp: ServiceInputs,
    pairs: _Pairs,
    acc: _Collect,
    second_m: np.ndarray,
) -> tuple[CategoryService, sp.csr_matrix]:
    """One category's figures, added to ``acc``; returns its summary and distances."""
    cat, dist, fac_rows, need = pairs.category, pairs.dist, pairs.fac_rows, pairs.need
    threshold_m, supply, has_capacity = pairs.threshold_m, pairs.supply, pairs.has_capacity
    info = inp.standard.category(cat)
    cohort = info.cohort
    fca = demand.two_step_fca(dist, need, supply, threshold_m, decay=inp.decay)
    assign = pairs.assign.result()
    n_within = demand.count_within(dist, threshold_m)
    covered = n_within > 0
    single = n_within == 1

    acc.per_origin[columns.n_within(cat)] = n_within
    acc.per_origin[columns.second(cat)] = second_m
    acc.per_origin[columns.sd(cat)] = fca.access
    acc.per_origin[columns.placed(cat)] = np.divide(
        assign.served, need, out=np.zeros_like(need), where=need > 0
    )
    key = f"_need_{cat}"
    sums = {
        key: need,
        f"_covered_{cat}": need * covered,
        f"_sd_{cat}": need * fca.access,
        f"_served_{cat}": assign.served,
        columns.unmet(cat): need - assign.served,
        f"_single_{cat}": need * single,
    }
    acc.finest.append(
        finest_sums(
            pd.DataFrame(sums, index=inp.table.index, copy=False),
            acc.unit_code,
            acc.names,
            inp.analysed,
        )
    )
    if cohort != ALL:
        acc.ratios.append((columns.cohort_cov(cat), f"_covered_{cat}", key))
    acc.ratios += [
        (columns.sd(cat), f"_sd_{cat}", key),
        (columns.placed(cat), f"_served_{cat}", key),
        (columns.single(cat), f"_single_{cat}", key),
    ]
    reach = dist.copy()
    reach.data = (reach.data <= threshold_m).astype(float)
    acc.fac_cols["demand_in_reach"][fac_rows] = np.asarray(reach.T @ need).ravel()
    acc.fac_cols["supply_ratio"][fac_rows] = fca.ratio
    acc.fac_cols["load"][fac_rows] = assign.load
    acc.fac_cols["sole_dependants"][fac_rows] = demand.closure_losses(dist, need, threshold_m)

    total_need = float(need.sum())
    # the supply serving the analysed residents: facilities with any of them in reach
    serving = acc.fac_cols["demand_in_reach"][fac_rows] > 0
    supply_total = float(supply[serving].sum())
    default = info.capacity
    summary = CategoryService(
        category=cat,
        cohort=cohort,
        threshold_m=round(threshold_m, 1),
        facilities=len(fac_rows),
        facilities_in_reach=int(serving.sum()),
        supply_unit=(default.unit if default is not None else "places")
        if has_capacity
        else "facilities",
        capacity_from=_capacity_from(acc.fac_cols["capacity_from"][fac_rows]),
        capacity_verified=None if default is None else default.verified,
        demand=round(total_need, 1),
        covered_share=_share(float((need * covered).sum()), total_need),
        supply=round(supply_total, 1),
        supply_per_1000=_share(supply_total * 1000.0, total_need),
        placed_share=_share(float(assign.served.sum()), total_need),
        unmet=round(float((need - assign.served).sum()), 1),
        single_share=_share(float((need * single).sum()), total_need),
        assignment_status=assign.status,
        equity_residents=equity.equity_figures(fca.access, need, groups=acc.unit).to_json(),
        equity_units=equity.equity_figures(
            _unit_shares(need * covered, need, acc.unit_code)
        ).to_json(),
    )
    return summary, dist


def critical_facilities(
    fac: pd.DataFrame, facility_columns: pd.DataFrame, limit: int = CRITICAL_FACILITIES
) -> list[dict[str, Any]]:
    """The facilities whose closure would leave the most residents uncovered."""
    loss = facility_columns["sole_dependants"].fillna(0.0)
    order = np.argsort(-loss.to_numpy(), kind="stable")[:limit]
    out = []
    for i in order:
        if loss.iloc[i] <= 0:
            break
        name = fac["name"].iloc[i]
        out.append(
            {
                "facility_id": int(fac["facility_id"].iloc[i]),
                "category": str(fac["category"].iloc[i]),
                "name": None if pd.isna(name) else str(name),
                "sole_dependants": round(float(loss.iloc[i]), 1),
                "demand_in_reach": round(float(facility_columns["demand_in_reach"].iloc[i]), 1),
            }
        )
    return out


def _unit_shares(num: np.ndarray, den: np.ndarray, unit_code: np.ndarray) -> np.ndarray:
    """``sum(num) / sum(den)`` per unit with residents, in the order of the sorted unit ids."""
    frame = pd.DataFrame({"num": num, "den": den}).groupby(unit_code).sum()
    return (frame["num"] / frame["den"].where(frame["den"] > 0)).dropna().to_numpy()


def _share(num: float, den: float) -> float | None:
    return round(num / den, 6) if den > 0 else None


def _capacity_from(values: np.ndarray) -> str:
    kinds = sorted({str(v) for v in values})
    return "+".join(kinds) if kinds else "none"


def cohort_gaps(
    gaps: pd.DataFrame, units: dict[str, pd.DataFrame], standard: Standard
) -> pd.DataFrame:
    """``gaps.csv`` with each category's ``cohort`` and its residents not covered.

    ``uncovered_cohort`` = the unit's cohort residents x (1 - ``cohort_cov_<cat>``), or
    ``uncovered_population`` for categories serving every resident.
    """
    out = gaps.copy()
    out["cohort"] = [standard.category(c).cohort for c in out["category"]]
    uncovered = out["uncovered_population"].to_numpy(float).copy()
    for level, table in units.items():
        t = table.set_index(table["unit_id"].astype(str))
        for cat in out["category"].unique():
            cohort = standard.category(cat).cohort
            share = columns.cohort_cov(cat)
            if cohort == ALL or share not in t.columns or columns.pop(cohort) not in t.columns:
                continue
            rows = (out["level"] == level).to_numpy() & (out["category"] == cat).to_numpy()
            ids = out.loc[rows, "unit_id"].astype(str)
            people = t[columns.pop(cohort)].reindex(ids).to_numpy(float)
            uncovered[rows] = people * (1.0 - t[share].reindex(ids).to_numpy(float))
    out["uncovered_cohort"] = uncovered
    return out[[name for name, _ in columns.OUTPUTS["gaps.csv"].columns]]
