"""The site optimizer (issue 4): exact models against brute force, greedy against exact,
re-audit reproduction of ``coverage_after``, capacity and fairness, bad requests, outputs.

Small instances are real audits of a tiny synthetic district written to disk: a street
grid (blocks of about 52 m x 71 m, so no node-to-node walk is exactly the 360 m
kindergarten threshold), one kindergarten, a district ``D`` split into three units
``A`` (west), ``B`` (south-east), ``C`` (north-east) with a margin of streets of more
than the standard's longest walk (1,080 m) around it, so every unit is analysed, and
5 x 5 population blocks with random totals. Only ``kindergarten`` is audited, so the
search cut-off (and the p-median distance cap) is the 360 m threshold.

Also here: the time limit holds for the whole solve (the MILP runs in a child process
killed at the deadline), every reported bound is valid (checked against brute force
and exact optima, with the solver forced to give up), greenfield siting of a category
with no facility, and outputs never overwrite an input.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
import scipy.sparse as sp
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import OptimizeResult

import lifecircle
from lifecircle import _location_models as lm
from lifecircle.errors import DataError, InputFileError
from lifecircle.siting import OUTPUT_FILES, Siting, SitingProblem, SitingSolution

from .conftest import LAT0, LON0, assert_user_error, invoke, osm_xml

CAT = "kindergarten"
DLON, DLAT = 0.000546, 0.000640  # about 52 m x 71 m at 31.2 N
LO, HI, MID = 7.5, 22.5, 15.0  # the district, in grid-cell coordinates
#: Rounding of the solution's figures (objective: 3 decimals, populations: 1).
OBJ_TOL, POP_TOL = 1e-3 + 1e-9, 0.05 + 1e-6


# --------------------------------------------------------------------------- tiny instances


def cell_point(c: float, r: float) -> shapely.Point:
    """The point at column ``c``, row ``r`` of the grid (fractions between nodes)."""
    return shapely.Point(LON0 + c * DLON, LAT0 + r * DLAT)


def cell_box(c0: float, r0: float, c1: float, r1: float) -> shapely.Polygon:
    return shapely.box(LON0 + c0 * DLON, LAT0 + r0 * DLAT, LON0 + c1 * DLON, LAT0 + r1 * DLAT)


#: Grid columns and rows (cell coordinates): the district spans LO..HI; the margin is
#: wider than the standard's longest walk, 1,080 m (21 columns, 16 rows).
GRID_COLS, GRID_ROWS = range(-16, 47), range(-10, 41)


def grid_osm(cols: range = GRID_COLS, rows: range = GRID_ROWS) -> str:
    n = len(cols)

    def nid(c: int, r: int) -> int:
        return 1 + (r - rows.start) * n + (c - cols.start)

    nodes = {nid(c, r): (LON0 + c * DLON, LAT0 + r * DLAT) for r in rows for c in cols}
    tags = {"highway": "residential"}
    ways = [(100000 + r - rows.start, [nid(c, r) for c in cols], tags) for r in rows]
    ways += [(200000 + c - cols.start, [nid(c, r) for r in rows], tags) for c in cols]
    return osm_xml(nodes, ways)


def write_instance(
    folder: Path, seed: int, kindergartens: tuple[tuple[float, float], ...] = ((10.2, 11.3),)
) -> dict[str, object]:
    """Write the tiny district's input files; returns the arguments of `lifecircle.audit`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    (folder / "grid.osm").write_text(grid_osm(), encoding="utf-8")
    (folder / "facilities.csv").write_text(
        "lon,lat,category,name\n"
        + "".join(
            f"{LON0 + c * DLON},{LAT0 + r * DLAT},{CAT},k{i}\n"
            for i, (c, r) in enumerate(kindergartens)
        ),
        encoding="utf-8",
    )
    gpd.GeoDataFrame(
        {
            "unit_id": ["D", "A", "B", "C"],
            "name": ["district", "west", "south-east", "north-east"],
            "parent_id": [None, "D", "D", "D"],
        },
        geometry=[
            cell_box(LO, LO, HI, HI),
            cell_box(LO, LO, MID, HI),
            cell_box(MID, LO, HI, MID),
            cell_box(MID, MID, HI, HI),
        ],
        crs="EPSG:4326",
    ).to_file(folder / "units.geojson", driver="GeoJSON")
    k, step = 5, (HI - LO) / 5
    blocks = [
        cell_box(LO + i * step, LO + j * step, LO + (i + 1) * step, LO + (j + 1) * step)
        for i in range(k)
        for j in range(k)
    ]
    gpd.GeoDataFrame(
        {"population": rng.integers(50, 1000, len(blocks)).astype(float)},
        geometry=blocks,
        crs="EPSG:4326",
    ).to_file(folder / "population.geojson", driver="GeoJSON")
    return {
        "network": folder / "grid.osm",
        "facilities": [folder / "facilities.csv"],
        "units": folder / "units.geojson",
        "population": folder / "population.geojson",
    }


def tiny_audit(
    paths: dict[str, object], extra_facilities: list[Path] = (), **options: object
) -> lifecircle.AuditResult:
    # the hand-made expectations walk at the adult speed (360 m in 5 minutes)
    options.setdefault("profile", "adult")
    return lifecircle.audit(
        paths["network"],
        [*paths["facilities"], *extra_facilities],
        paths["units"],
        paths["population"],
        categories=[CAT],
        **options,
    )


def random_candidates(
    seed: int, k: int, cols: tuple[float, float] = (LO, HI), rows: tuple[float, float] = (LO, HI)
) -> gpd.GeoDataFrame:
    """``k`` candidate points off the nodes (so they have a snap distance)."""
    rng = np.random.default_rng(seed + 100)
    pts = [
        cell_point(c, r) for c, r in zip(rng.uniform(*cols, k), rng.uniform(*rows, k), strict=True)
    ]
    return gpd.GeoDataFrame({"name": [f"c{i}" for i in range(k)]}, geometry=pts, crs="EPSG:4326")


@dataclasses.dataclass
class Instance:
    seed: int
    paths: dict[str, object]
    result: lifecircle.AuditResult


# kindergarten placements: west, centre, two facilities
PLACEMENTS = {0: ((10.2, 11.3),), 1: ((15.4, 16.6),), 2: ((9.6, 20.2), (20.3, 9.1))}


@pytest.fixture(scope="module", params=sorted(PLACEMENTS))
def inst(request, tmp_path_factory) -> Instance:
    seed = request.param
    paths = write_instance(tmp_path_factory.mktemp(f"tiny{seed}"), seed, PLACEMENTS[seed])
    return Instance(seed, paths, tiny_audit(paths))


@pytest.fixture(scope="module")
def inst0(tmp_path_factory) -> Instance:
    paths = write_instance(tmp_path_factory.mktemp("tiny-a"), 0, PLACEMENTS[0])
    return Instance(0, paths, tiny_audit(paths))


@pytest.fixture(scope="module")
def inst0_node(tmp_path_factory) -> Instance:
    """The instance of ``inst0`` audited under the node rule (``snap="node"``)."""
    paths = write_instance(tmp_path_factory.mktemp("tiny-node"), 0, PLACEMENTS[0])
    return Instance(0, paths, tiny_audit(paths, snap="node"))


def test_tiny_instance_is_what_the_tests_assume(inst):
    r = inst.result
    assert r.analysed == {"A", "B", "C"}
    assert r.summary.to_json()["categories_audited"] == [CAT]  # the search cut-off is 360 m
    assert r.standard.category(CAT).threshold_min * r.profile.speed_m_min == pytest.approx(360)
    cov = r.summary.to_json()["coverage"][CAT]
    assert 0.05 < cov < 0.6  # plenty left to cover
    assert len(r.access) == 225  # 15 x 15 nodes inside the district


# --------------------------------------------------------------------------- brute force


def _w_uncovered(s: Siting) -> np.ndarray:
    """The demand (the cohort: ``need``, else every resident) not covered before."""
    need = s.demand["need"] if "need" in s.demand.columns else s.demand["population"]
    return need.to_numpy(float) * ~s.demand["covered"].to_numpy()


def _cover(s: Siting) -> np.ndarray:
    """Dense boolean resident x candidate: within the threshold (tiny instances only)."""
    d = s.distance.toarray()
    return (d > 0) & (d <= s.threshold_m)


def newly_of(s: Siting, subset) -> float:
    return float(_w_uncovered(s)[_cover(s)[:, list(subset)].any(axis=1)].sum())


def brute_mclp(s: Siting, n: int) -> float:
    m = s.distance.shape[1]
    return max(newly_of(s, c) for c in itertools.combinations(range(m), min(n, m)))


def brute_lscp(s: Siting, target: float) -> int:
    need = target * s.population - s.covered_before
    m = s.distance.shape[1]
    for k in range(m + 1):
        if any(newly_of(s, c) >= need - 1e-6 for c in itertools.combinations(range(m), k)):
            return k
    raise AssertionError("target out of reach")


def capped_total(s: Siting, subset) -> float:
    """Total person-metres to the nearest facility, existing or in ``subset``, capped."""
    d0 = np.nan_to_num(s.demand["dist_m"].to_numpy(), nan=s.radius_m)
    d = s.distance.toarray()[:, list(subset)]
    d[d == 0] = np.inf
    best = np.minimum(d0, d.min(axis=1, initial=np.inf))
    return float((s.demand["population"].to_numpy() * best).sum())


def brute_pmedian(s: Siting, n: int) -> float:
    m = s.distance.shape[1]
    return min(capped_total(s, c) for c in itertools.combinations(range(m), min(n, m)))


def fresh(s: SitingProblem) -> SitingProblem:
    """The siting problem itself (``solve`` returns a new solution and leaves it unchanged)."""
    return s


# --------------------------------------------------------------------------- 1. exact = brute force


@pytest.fixture(scope="module")
def siting12(inst) -> Siting:
    return SitingProblem.from_audit(inst.result, CAT, candidates=random_candidates(inst.seed, 12))


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_mclp_matches_brute_force(siting12, n):
    best = brute_mclp(siting12, n)
    s = fresh(siting12).solve(sites=n)
    assert s.model == "mclp" and s.status == "optimal"
    assert len(s.selected) <= n
    # the reported objective is what the chosen sites really cover ...
    assert newly_of(s, s.selected) == pytest.approx(s.objective, abs=OBJ_TOL)
    # ... and no subset does better; HiGHS stops at mip_rel_gap = 1e-4
    assert s.objective <= best + OBJ_TOL
    assert s.objective >= best * (1 - 1e-4) - OBJ_TOL
    # with a zero gap: the same objective value
    exact = fresh(siting12).solve(sites=n, mip_rel_gap=0.0)
    assert exact.objective == pytest.approx(best, abs=OBJ_TOL)
    assert exact.greedy_objective <= exact.objective + OBJ_TOL


@pytest.mark.parametrize("share", [0.25, 0.5, 0.8, 1.0])
def test_lscp_matches_brute_force(siting12, share):
    s0 = siting12
    best_cov = (s0.covered_before + _w_uncovered(s0)[_cover(s0).any(axis=1)].sum()) / s0.population
    before = s0.covered_before / s0.population
    target = before + share * (best_cov - before)
    k = brute_lscp(s0, target)
    s = fresh(s0).solve(target_coverage=target)
    assert s.model == "lscp" and s.status == "optimal"
    assert s.objective == k == len(s.selected)
    assert s.greedy_objective >= k
    assert (s.covered_before + newly_of(s, s.selected)) / s.population >= target - 1e-9
    assert s.summary()["coverage_after"] >= round(target, 6) - 1e-6


@pytest.mark.parametrize("n", [1, 2, 3])
def test_pmedian_matches_brute_force(inst, n):
    s0 = SitingProblem.from_audit(
        inst.result, CAT, candidates=random_candidates(inst.seed, 10), objective="distance"
    )
    assert s0.radius_m == pytest.approx(360.0)  # the audit's cut-off: kindergarten only
    base = capped_total(s0, [])
    best = brute_pmedian(s0, n)
    s = fresh(s0).solve(sites=n, objective="distance", mip_rel_gap=0.0)
    assert s.model == "pmedian" and s.status == "optimal"
    # objective = person-metres saved against the existing facilities, capped at the radius
    assert base - s.objective == pytest.approx(best, abs=OBJ_TOL)
    assert base - capped_total(s, s.selected) == pytest.approx(s.objective, abs=OBJ_TOL)
    assert s.greedy_objective <= s.objective + OBJ_TOL
    summary = s.summary()
    pop = s.population
    assert summary["mean_distance_before_m"] == pytest.approx(base / pop, abs=0.05 + 1e-9)
    assert summary["mean_distance_after_m"] == pytest.approx(best / pop, abs=0.05 + 1e-9)


# --------------------------------------------------------------------------- 2. greedy vs exact
# Random sparse coverage matrices, checked against brute force and greedy on every model.


@pytest.fixture(scope="module")
def synthetic_base(inst0) -> Siting:
    return SitingProblem.from_audit(inst0.result, CAT, candidates=random_candidates(0, 3))


def synthetic(
    base: Siting, seed: int, n_demand: int, n_cand: int, density: float, radius_m: float
) -> Siting:
    rng = np.random.default_rng(seed)
    threshold = base.threshold_m
    dist_m = np.where(
        rng.random(n_demand) < 0.3,
        rng.uniform(1, threshold, n_demand),
        np.where(
            rng.random(n_demand) < 0.5,
            np.nan,
            rng.uniform(threshold + 1, threshold + 200, n_demand),
        ),
    )
    dist_m[dist_m > radius_m] = np.nan  # the audit's cut-off
    demand = pd.DataFrame(
        {
            "origin_id": np.arange(n_demand),
            "population": rng.integers(1, 100, n_demand) * 1.0,
            "unit_id": rng.choice(["A", "B"], n_demand),
            "node": np.zeros(n_demand, np.int64),
            "snap_m": np.zeros(n_demand),
            "dist_m": dist_m,
        }
    )
    demand["covered"] = demand["dist_m"] <= threshold
    mask = rng.random((n_demand, n_cand)) < density
    rows, cols = np.nonzero(mask)
    vals = rng.uniform(1, radius_m, len(rows))
    distance = sp.csr_matrix((vals, (rows, cols)), shape=(n_demand, n_cand))
    cand = base.candidates.iloc[np.zeros(n_cand, int)].reset_index(drop=True)
    cand["candidate_id"] = np.arange(n_cand)
    # the capacity model: one unlimited existing facility at dist_m (so covered = placed)
    reached = np.isfinite(dist_m)
    existing = sp.csr_matrix(
        (dist_m[reached], (np.flatnonzero(reached), np.zeros(int(reached.sum()), int))),
        shape=(n_demand, 1),
    )
    return dataclasses.replace(
        base,
        demand=demand,
        distance=distance,
        candidates=cand,
        radius_m=radius_m,
        existing_distance=existing,
        existing_capacity=np.array([np.inf]),
    )


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**31),
    n_demand=st.integers(1, 30),
    n_cand=st.integers(1, 8),
    density=st.floats(0.05, 0.6),
    n=st.integers(1, 4),
)
def test_greedy_never_beats_exact_and_exact_matches_brute_force(
    synthetic_base, seed, n_demand, n_cand, density, n
):
    # MCLP: threshold-radius matrix
    s0 = synthetic(synthetic_base, seed, n_demand, n_cand, density, synthetic_base.threshold_m)
    s = fresh(s0).solve(sites=n, mip_rel_gap=0.0)
    assert s.status == "optimal"
    assert s.greedy_objective <= s.objective + OBJ_TOL
    assert s.objective == pytest.approx(brute_mclp(s0, n), abs=OBJ_TOL)
    # capacitated MCLP: greedy is feasible, so never better than the exact optimum
    cap = float(np.random.default_rng(seed).integers(20, 200))
    sc = fresh(s0).solve(sites=n, capacity=cap, mip_rel_gap=0.0)
    assert sc.greedy_objective <= sc.objective + OBJ_TOL
    assert sc.objective <= min(s.objective, n * cap) + OBJ_TOL
    # LSCP: greedy never needs fewer sites than the optimum
    reach = (s0.covered_before + _w_uncovered(s0)[_cover(s0).any(axis=1)].sum()) / s0.population
    before = s0.covered_before / s0.population
    if reach > before + 1e-9:
        target = before + 0.9 * (reach - before)
        sl = fresh(s0).solve(target_coverage=target)
        assert sl.greedy_objective >= sl.objective == len(sl.selected) == brute_lscp(s0, target)
    # p-median with a cut-off beyond the threshold
    sp0 = synthetic(
        synthetic_base, seed, n_demand, n_cand, density, synthetic_base.threshold_m + 150
    )
    spm = fresh(sp0).solve(sites=n, objective="distance", mip_rel_gap=0.0)
    assert spm.greedy_objective <= spm.objective + OBJ_TOL
    assert capped_total(sp0, []) - spm.objective == pytest.approx(
        brute_pmedian(sp0, n), abs=OBJ_TOL
    )


@pytest.mark.parametrize("n", [2, 3, 5])
def test_greedy_never_beats_exact_on_auto_candidates(inst, n):
    s0 = SitingProblem.from_audit(inst.result, CAT, candidates="auto", n_candidates=40)
    assert s0.candidate_source.startswith("auto: ")
    s = fresh(s0).solve(sites=n)
    assert s.status == "optimal"
    assert s.greedy_objective <= s.objective + OBJ_TOL
    before = s0.covered_before / s0.population
    lscp = fresh(s0).solve(target_coverage=before + 0.5 * (1 - before) * 0.9)
    assert lscp.greedy_objective >= lscp.objective


# --------------------------------------------------------------------------- 3. re-audit


def reaudit(paths: dict[str, object], s: Siting, folder: Path) -> lifecircle.AuditResult:
    """Add the proposals to the facilities and audit again with the same inputs."""
    prop = folder / f"proposals-{s.model}.geojson"
    s.proposals().to_file(prop, driver="GeoJSON")
    return lifecircle.audit(
        paths["network"],
        [*paths["facilities"], prop],
        paths["units"],
        paths["population"],
        categories=list(s.result.summary.to_json()["categories_audited"]),
        profile=s.result.profile_override,
    )


def covered_share(access: pd.DataFrame, threshold_min: float) -> float:
    pop = access["population"].to_numpy()
    return float((pop * (access[f"time_{CAT}_min"] <= threshold_min)).sum() / pop.sum())


def assert_reproduced(s: Siting, after: lifecircle.AuditResult) -> None:
    thr = s.result.standard.category(CAT).threshold_min
    summary = s.summary()
    assert summary["coverage_after"] == pytest.approx(after.summary.coverage[CAT], abs=1e-9)
    assert covered_share(s.access_after(), thr) == pytest.approx(
        covered_share(after.access, thr), abs=1e-9
    )
    mine = s.units_after()
    assert set(mine) == set(after.units)
    for level, table in after.units.items():
        got = mine[level].set_index("unit_id")[f"cov_{CAT}"]
        want = table.set_index("unit_id")[f"cov_{CAT}"]
        assert got.index.equals(want.index)
        assert np.allclose(
            got.to_numpy(float), want.to_numpy(float), atol=1e-9, rtol=0, equal_nan=True
        ), level
        got_c = mine[level].set_index("unit_id")["complete_share"]
        assert np.allclose(
            got_c.to_numpy(float),
            table["complete_share"].to_numpy(float),
            atol=1e-9,
            rtol=0,
            equal_nan=True,
        )
    per_unit = {(u["level"], u["unit_id"]): u["coverage_after"] for u in summary["units"]}
    for level, table in after.units.items():
        for row in table.itertuples():
            if row.units_analysed:
                assert per_unit[(level, row.unit_id)] == pytest.approx(
                    getattr(row, f"cov_{CAT}"), abs=1e-6
                )
    # 5. newly covered = previously uncovered residents now within the threshold
    before_t = s.result.access.set_index("origin_id")[f"time_{CAT}_min"]
    after_t = after.access.set_index("origin_id")[f"time_{CAT}_min"].reindex(before_t.index)
    pop = s.result.access.set_index("origin_id")["population"]
    newly = float(pop[(after_t <= thr) & ~(before_t <= thr)].sum())
    assert summary["newly_covered_population"] == pytest.approx(newly, abs=POP_TOL)
    if s.model in ("mclp", "lscp"):
        # the objective counts the category's cohort (every resident without age data)
        need = pd.Series(s.problem.weights, index=pop.index)
        newly_need = float(need[(after_t <= thr) & ~(before_t <= thr)].sum())
        obj = s.objective if s.model == "mclp" else newly_of(s, s.selected)
        assert obj == pytest.approx(newly_need, abs=OBJ_TOL)
    assert (summary["coverage_after"] - summary["coverage_before"]) * summary[
        "population"
    ] == pytest.approx(newly, abs=1.0)


def test_reaudit_reproduces_coverage_after_mclp_file_candidates(inst, tmp_path):
    s = SitingProblem.from_audit(inst.result, CAT, candidates=random_candidates(inst.seed, 12))
    s = s.solve(sites=3)
    assert_reproduced(s, reaudit(inst.paths, s, tmp_path))


def test_reaudit_reproduces_coverage_after_lscp_and_pmedian(inst0, tmp_path):
    r = inst0.result
    lscp = SitingProblem.from_audit(r, CAT, candidates="auto", n_candidates=30).solve(
        target_coverage=0.8
    )
    assert lscp.summary()["coverage_after"] >= 0.8
    assert_reproduced(lscp, reaudit(inst0.paths, lscp, tmp_path))
    pmed = SitingProblem.from_audit(
        r, CAT, candidates=random_candidates(5, 10), objective="distance"
    ).solve(sites=2, objective="distance")
    assert_reproduced(pmed, reaudit(inst0.paths, pmed, tmp_path))


def test_reaudit_reproduces_coverage_after_parcel_candidates(inst0, tmp_path):
    """Parcels are reached at their edge, in the optimizer as in the audit."""
    parcels = gpd.GeoDataFrame(
        geometry=[
            cell_box(c, r, c + 1.6, r + 0.8)
            for c, r in [(9.3, 17.2), (17.1, 9.4), (18.3, 18.6), (12.5, 13.1), (19.7, 13.2)]
        ],
        crs="EPSG:4326",
    )
    s = SitingProblem.from_audit(inst0.result, CAT, candidates=parcels).solve(sites=2)
    assert s.status == "optimal"
    assert (s.proposals().geom_type == "Polygon").all()
    assert_reproduced(s, reaudit(inst0.paths, s, tmp_path))


@pytest.mark.slow
def test_reaudit_reproduces_coverage_after_on_the_sample(sample_result, sample_paths, tmp_path):
    s = SitingProblem.from_audit(sample_result, CAT)  # auto, default 300 candidates
    s = s.solve(sites=5)
    assert s.status == "optimal" and len(s.selected) == 5
    assert s.greedy_objective <= s.objective + OBJ_TOL
    paths = {
        "network": sample_paths["network"],
        "facilities": [sample_paths["facilities"]],
        "units": sample_paths["units"],
        "population": sample_paths["population"],
    }
    after = reaudit(paths, s, tmp_path)
    assert_reproduced(s, after)
    # the other categories are untouched
    for cat, share in sample_result.summary.to_json()["coverage"].items():
        if cat != CAT:
            assert after.summary.to_json()["coverage"][cat] == share


# --------------------------------------------------------------------------- 4. capacity, fairness


@pytest.mark.parametrize("capacity", [150.0, 400.0, 1e9])
def test_capacity_holds(inst, capacity):
    """The audit's capacity model (see tests/test_capacity_model.py for exactness)."""
    n = 3
    s = SitingProblem.from_audit(inst.result, CAT, candidates=random_candidates(inst.seed, 12))
    s = s.solve(sites=n, capacity=capacity)
    assert s.status == "optimal"
    assert (s.site_served <= capacity + 1e-6).all()
    props = s.proposals()
    assert (props["residents_served"] <= capacity + 1e-6).all()
    assert (props["capacity"] == capacity).all()
    figures = s.summary()["capacity_model"]
    fair = inst.result.summary.fair_service[CAT]
    # before: the audit's capacity-constrained placed total
    assert figures["placed_before"] == pytest.approx(fair.placed_share * fair.demand, abs=0.01)
    # the objective: cohort residents newly placed, at most C per site
    assert s.objective == pytest.approx(
        figures["placed_after"] - figures["placed_before"], abs=OBJ_TOL
    )
    assert s.objective <= n * capacity + OBJ_TOL
    assert float(props["marginal_newly_covered"].sum()) == pytest.approx(s.objective, abs=0.2)
    # nobody is placed beyond the threshold: after <= cohort within reach of any facility
    reach_after = s.demand["covered"].to_numpy() | (s.newly > 0)
    assert figures["placed_after"] <= float(s.problem.weights[reach_after].sum()) + 1e-6
    assert np.all((s.newly >= 0) & (s.newly <= 1 + 1e-9))
    assert np.all(s.newly[s.demand["covered"].to_numpy()] == 0)
    assert s.access_after()["population"].sum() == pytest.approx(s.population, rel=1e-12)
    assert s.greedy_objective <= s.objective + OBJ_TOL


def test_capacity_with_site_count_target(inst0):
    s = SitingProblem.from_audit(inst0.result, CAT, candidates=random_candidates(0, 12))
    before = s.covered_before / s.population
    target = before + 0.15
    cap = 400.0
    s = s.solve(target_coverage=target, capacity=cap)
    assert s.status == "optimal"
    assert (s.site_served <= cap + 1e-6).all()
    need = target * s.population - s.covered_before
    assert s.objective >= np.ceil(need / cap - 1e-9)
    assert s.summary()["coverage_after"] >= round(target, 6) - 1e-6


def _best_possible(s: Siting) -> dict[str, float]:
    reach = np.diff(s.distance.indptr) > 0
    d = s.demand
    return {
        u: float((g["population"] * (g["covered"] | reach[g.index])).sum() / g["population"].sum())
        for u, g in d.groupby("unit_id")
    }


def test_fairness_floor_holds_and_impossible_units_are_named(inst0_node):
    # candidates in the south-west: A and C cannot reach 80 %, B can but MCLP leaves it below
    # (a scenario built on the node rule's distances)
    s0 = SitingProblem.from_audit(
        inst0_node.result, CAT, candidates=random_candidates(0, 10, (8, 20), (8, 17))
    )
    floor, n = 0.8, 2
    best = _best_possible(s0)
    cannot = sorted(u for u, b in best.items() if b < floor)
    can = sorted(u for u, b in best.items() if b >= floor)
    free = fresh(s0).solve(sites=n)
    free_cov = free.units_after()["level1"].set_index("unit_id")[f"cov_{CAT}"]
    assert cannot == ["A", "C"] and can == ["B"]
    assert free_cov["B"] < floor  # so the floor binds
    s = fresh(s0).solve(sites=n, min_unit_coverage=floor)
    assert s.status == "optimal"
    cov = s.units_after()["level1"].set_index("unit_id")[f"cov_{CAT}"]
    for u in can:
        assert cov[u] >= floor - 1e-9
    note = " ".join(s.notes)
    assert f"{len(cannot)} units cannot reach 80%" in note
    for u in cannot:
        assert u in note.split(":")[-1]
    assert s.objective <= free.objective + OBJ_TOL  # fairness costs coverage
    # per-unit after in optimize.json agrees
    units = {u["unit_id"]: u for u in s.summary()["units"] if u["level"] == "level1"}
    assert units["B"]["coverage_after"] >= floor - 1e-6


def test_fairness_floor_every_unit_reachable(inst0):
    s0 = SitingProblem.from_audit(
        inst0.result, CAT, candidates=random_candidates(1, 10, (8, 16), (8, 22))
    )
    best = _best_possible(s0)
    floor = 0.75
    s = fresh(s0).solve(sites=3, min_unit_coverage=floor)
    cov = s.units_after()["level1"].set_index("unit_id")[f"cov_{CAT}"]
    for u, b in best.items():
        if b >= floor:
            assert cov[u] >= floor - 1e-9
        else:
            assert u in " ".join(s.notes)


def test_fairness_floor_infeasible_with_too_few_sites_is_a_clear_error(inst0):
    s = SitingProblem.from_audit(
        inst0.result, CAT, candidates=random_candidates(0, 10, (8, 12), (8, 16))
    )
    with pytest.raises(DataError, match=r"fairness floor .* cannot be met with 1 sites"):
        s.solve(sites=1, min_unit_coverage=0.7)


# --------------------------------------------------------------------------- 5. already covered


def test_residents_already_covered_are_not_counted_again(inst0):
    r = inst0.result
    kg = r.facilities[r.facilities["category"] == CAT].geometry.iloc[0]
    other = cell_point(14.6, 12.4)
    cand = gpd.GeoDataFrame(geometry=[kg, other], crs="EPSG:4326")
    s = SitingProblem.from_audit(r, CAT, candidates=cand)
    # a candidate on the existing kindergarten covers nobody new
    only_existing = fresh(s).solve(sites=1)
    d = s.distance.toarray()
    assert (d[:, 0] > 0).sum() > 0  # it does reach residents ...
    assert not (~s.demand["covered"].to_numpy() & (d[:, 0] > 0)).any()  # ... all covered
    assert only_existing.objective == pytest.approx(newly_of(s, [1]), abs=OBJ_TOL)
    both = fresh(s).solve(sites=2)
    props = both.proposals().set_index("candidate_id")
    assert props.loc[1, "marginal_newly_covered"] == pytest.approx(newly_of(s, [1]), abs=POP_TOL)
    within = (d[:, 1] > 0) & (d[:, 1] <= s.threshold_m)
    uncovered = ~s.demand["covered"].to_numpy()
    assert within.sum() > (within & uncovered).sum() > 0  # some of its residents had one
    assert both.summary()["newly_covered_population"] == pytest.approx(
        float(s.demand["population"].to_numpy()[within & uncovered].sum()), abs=POP_TOL
    )


def test_marginals_add_up_to_the_objective(siting12):
    s = fresh(siting12).solve(sites=3)
    props = s.proposals()
    assert list(props["rank"]) == [1, 2, 3]
    assert props["marginal_newly_covered"].is_monotonic_decreasing
    assert props["marginal_newly_covered"].sum() == pytest.approx(s.objective, abs=0.2)
    assert props["residents_served"].sum() == pytest.approx(s.objective, abs=0.2)


# --------------------------------------------------------------------------- known bugs


def test_no_proposal_without_gain(inst0):
    s = SitingProblem.from_audit(inst0.result, CAT, candidates=random_candidates(0, 12))
    s = s.solve(sites=12)
    assert (s.proposals()["marginal_newly_covered"] > 0).all()


def test_solving_twice_does_not_keep_old_notes(inst0):
    s = SitingProblem.from_audit(inst0.result, CAT, candidates=random_candidates(0, 4))
    s.solve(sites=10)  # more sites than candidates: a note
    s = s.solve(sites=2)
    assert not any("asked for 10 sites" in n for n in s.summary()["notes"])


def test_solve_returns_a_frozen_solution_and_leaves_the_problem_alone(inst0):
    problem = SitingProblem.from_audit(inst0.result, CAT, candidates=random_candidates(0, 12))
    demand, distance = problem.demand.copy(), problem.distance.copy()
    mclp = problem.solve(sites=3)
    lscp = problem.solve(target_coverage=0.6)
    assert isinstance(mclp, SitingSolution) and mclp.problem is lscp.problem is problem
    assert Siting is SitingSolution and lifecircle.SitingSolution is SitingSolution
    # the problem is unchanged by its solves, and one solve leaves the other's figures alone
    pd.testing.assert_frame_equal(problem.demand, demand)
    assert (abs(problem.distance - distance) > 0).nnz == 0
    assert mclp.model == "mclp" and lscp.model == "lscp"
    assert mclp.options["sites"] == 3 and lscp.options["sites"] is None
    assert len(mclp.selected) == 3 and lscp.objective == len(lscp.selected)
    with pytest.raises(dataclasses.FrozenInstanceError):
        mclp.status = "greedy"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.radius_m = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="read-only"):
        mclp.selected[0] = -1
    with pytest.raises(TypeError):
        mclp.options["sites"] = 4  # type: ignore[index]
    assert mclp.category == problem.category and mclp.population == problem.population


@pytest.mark.slow
def test_coverage_model_on_a_distance_siting_counts_only_the_threshold(sample_result):
    s = SitingProblem.from_audit(sample_result, CAT, objective="distance", n_candidates=40)
    assert s.radius_m > s.threshold_m  # the sample audits 15-minute categories too
    try:
        s = s.solve(sites=3)
    except DataError:
        return  # refusing the mismatch is a fine answer too
    summary = s.summary()
    gain = (summary["coverage_after"] - summary["coverage_before"]) * summary["population"]
    assert summary["newly_covered_population"] == pytest.approx(gain, abs=1.0)


# --------------------------------------------------------------------------- solver status


def test_a_time_limit_used_up_by_greedy_falls_back_with_a_valid_bound(inst0):
    s = SitingProblem.from_audit(inst0.result, CAT, candidates="auto", n_candidates=60)
    t0 = time.monotonic()
    s = s.solve(sites=4, time_limit_s=1e-6)
    assert time.monotonic() - t0 < 1.0
    assert s.status == "greedy" and s.objective == s.greedy_objective
    assert s.bound >= brute_mclp_greedy_free(s.problem, 4) - OBJ_TOL
    assert 0 <= s.mip_gap <= 1 / np.e + 1e-6
    assert "time limit was used up" in " ".join(s.summary()["notes"])
    assert len(s.selected) <= 4


def brute_mclp_greedy_free(s: Siting, n: int) -> float:
    """The MCLP optimum, from HiGHS with a zero gap (for instances too big to enumerate)."""
    return fresh(s).solve(sites=n, mip_rel_gap=0.0, time_limit_s=60).objective


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({}, "exactly one of --sites N or --target-coverage X"),
        ({"sites": 2, "target_coverage": 0.5}, "exactly one of"),
        ({"sites": 0}, "--sites must be a positive number"),
        ({"sites": -1}, "--sites must be a positive number"),
        ({"target_coverage": 0.0}, r"share in \(0, 1\]"),
        ({"target_coverage": 1.5}, r"share in \(0, 1\]"),
        ({"target_coverage": 1.0}, "out of reach"),
        ({"sites": 2, "capacity": 0}, "--capacity must be positive"),
        ({"sites": 2, "min_unit_coverage": 1.2}, "--min-unit-coverage"),
        ({"target_coverage": 0.9, "objective": "distance"}, "needs --sites"),
    ],
)
def test_bad_requests_raise_data_error(inst0, kwargs, match):
    s = SitingProblem.from_audit(
        inst0.result, CAT, candidates=random_candidates(0, 2, (8, 10), (8, 10))
    )
    with pytest.raises(DataError, match=match):
        s.solve(**kwargs)


def test_unknown_category(inst0):
    with pytest.raises(lifecircle.LifecircleError, match="no category 'nosuch'"):
        SitingProblem.from_audit(inst0.result, "nosuch")


# --------------------------------------------------------------------------- 6. CLI


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli-tiny")
    paths = write_instance(folder, 0, PLACEMENTS[0])
    random_candidates(0, 6).to_file(folder / "candidates.geojson", driver="GeoJSON")
    random_candidates(1, 2, (8, 10), (8, 10)).to_file(folder / "corner.geojson", driver="GeoJSON")
    (folder / "empty.geojson").write_text(
        '{"type": "FeatureCollection", "features": []}', encoding="utf-8"
    )
    return {
        "network": paths["network"],
        "facilities": paths["facilities"][0],
        "units": paths["units"],
        "population": paths["population"],
        "candidates": folder / "candidates.geojson",
        "corner": folder / "corner.geojson",
        "empty": folder / "empty.geojson",
        "folder": folder,
    }


def tiny_args(files: dict[str, Path], out: Path) -> list[object]:
    return [
        "optimize",
        "--network",
        files["network"],
        "--facilities",
        files["facilities"],
        "--units",
        files["units"],
        "--population",
        files["population"],
        "--categories",
        CAT,
        "--profile",  # the hand-made expectations walk at the adult speed (360 m)
        "adult",
        "--out",
        out,
        "-q",
    ]


@pytest.mark.parametrize(
    "extra, needles",
    [
        (["--category", "nosuch", "--sites", "2"], ["nosuch", "kindergarten"]),
        (["--category", CAT, "--sites", "0"], ["--sites", "got 0"]),
        (["--category", CAT, "--sites", "-1"], ["--sites", "got -1"]),
        (
            ["--category", CAT, "--target-coverage", "1.0", "--candidates", "{corner}"],
            ["--target-coverage 100.0% is out of reach", "at most"],
        ),
        (
            ["--category", CAT, "--sites", "2", "--candidates", "{empty}"],
            ["empty.geojson", "no features"],
        ),
        (["--category", CAT, "--sites", "2", "--target-coverage", "0.5"], ["exactly one of"]),
        (["--category", CAT], ["exactly one of"]),
    ],
)
def test_cli_bad_requests_exit_2(cli_files, tmp_path, extra, needles):
    extra = [str(e).format(**cli_files) for e in extra]
    res = invoke([*tiny_args(cli_files, tmp_path / "out"), *extra])
    if "lifecircle: error: " in res.stderr or res.exit_code != 2:
        assert_user_error(res, *needles)
    else:  # refused by click's option check: a usage error, exit code 2
        assert "Invalid value" in res.stderr
        for needle in needles:
            assert needle in res.stderr
    assert not (tmp_path / "out" / "proposals.geojson").exists()


# --------------------------------------------------------------------------- 7. outputs

PROPOSAL_COLUMNS = {"site_id", "category", "rank", "marginal_newly_covered", "residents_served"}
OPTIMIZE_KEYS = {
    "category",
    "model",
    "sites",
    "threshold_m",
    "newly_covered_population",
    "coverage_before",
    "coverage_after",
    "status",
    "mip_gap",
    "runtime_s",
    "units",
}


def check_outputs(out: Path, s_result: lifecircle.AuditResult, model: str, sites: int) -> dict:
    props = gpd.read_file(out / "proposals.geojson")
    assert PROPOSAL_COLUMNS <= set(props.columns)
    assert props.crs.to_epsg() == 4326
    assert len(props) == sites
    assert list(props["rank"]) == list(range(1, sites + 1))
    assert (props["category"] == CAT).all()
    assert props["site_id"].is_unique
    data = json.loads((out / "optimize.json").read_text(encoding="utf-8"))
    assert OPTIMIZE_KEYS <= set(data)
    assert data["category"] == CAT and data["model"] == model and data["sites"] == sites
    assert data["status"] in {"optimal", "time_limit", "greedy"}
    assert data["threshold_m"] == pytest.approx(360.0)
    assert data["coverage_before"] == s_result.summary.to_json()["coverage"][CAT]
    assert data["coverage_after"] >= data["coverage_before"]
    assert isinstance(data["runtime_s"], float)
    assert data["mip_gap"] is None or 0 <= data["mip_gap"] <= 1e-4
    levels = set(s_result.units)
    assert {u["level"] for u in data["units"]} == levels
    for u in data["units"]:
        assert {"unit_id", "coverage_before", "coverage_after"} <= set(u)
        assert u["coverage_after"] >= u["coverage_before"] - 1e-9
    layers = {name for name, _ in pyogrio.list_layers(out / "units_after.gpkg")}
    assert layers == levels
    for level in levels:
        table = gpd.read_file(out / "units_after.gpkg", layer=level)
        assert {"unit_id", f"cov_{CAT}", "complete_share"} <= set(table.columns)
    return data


def test_siting_write_outputs(siting12, tmp_path):
    s = fresh(siting12).solve(sites=3)
    written = s.write(tmp_path)
    assert sorted(p.name for p in written) == [
        "optimize.json",
        "proposals.geojson",
        "units_after.gpkg",
    ]
    data = check_outputs(tmp_path, s.result, "mclp", 3)
    assert data["newly_covered_population"] == pytest.approx(s.objective, abs=POP_TOL)
    assert data["objective_value"] == s.objective


def test_cli_optimize_writes_the_outputs(cli_files, tmp_path):
    out = tmp_path / "out"
    res = invoke(
        [
            *tiny_args(cli_files, out)[:-1],
            "--category",
            CAT,
            "--sites",
            "2",
            "--candidates",
            cli_files["candidates"],
        ]
    )
    assert res.exit_code == 0, (res.output, res.exception)
    assert "MCLP for kindergarten: 2 sites" in res.stdout
    for name in ("access.parquet", "units.gpkg", "summary.json"):
        assert (out / name).is_file()
    r = tiny_audit(
        {
            "network": cli_files["network"],
            "facilities": [cli_files["facilities"]],
            "units": cli_files["units"],
            "population": cli_files["population"],
        }
    )
    data = check_outputs(out, r, "mclp", 2)
    assert "file: 6 sites" in data["candidate_source"]
    assert data["candidates"] == 6
    # the same problem through the library gives the same answer
    s = SitingProblem.from_audit(r, CAT, candidates=cli_files["candidates"]).solve(sites=2)
    assert data["objective_value"] == s.objective


def test_cli_lscp_and_pmedian(cli_files, tmp_path):
    out = tmp_path / "lscp"
    res = invoke(
        [
            *tiny_args(cli_files, out),
            "--category",
            CAT,
            "--target-coverage",
            "0.6",
            "--n-candidates",
            "25",
        ]
    )
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads((out / "optimize.json").read_text(encoding="utf-8"))
    assert data["model"] == "lscp" and data["coverage_after"] >= 0.6
    assert data["target_coverage"] == 0.6
    out = tmp_path / "pmed"
    res = invoke(
        [
            *tiny_args(cli_files, out),
            "--category",
            CAT,
            "--sites",
            "2",
            "--objective",
            "distance",
            "--n-candidates",
            "25",
        ]
    )
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads((out / "optimize.json").read_text(encoding="utf-8"))
    assert data["model"] == "pmedian" and data["sites"] == 2
    assert data["mean_distance_after_m"] <= data["mean_distance_before_m"]
    props = gpd.read_file(out / "proposals.geojson")
    assert "marginal_distance_saved_m" in props.columns


@pytest.mark.parametrize("columns", [["name", "geometry"], ["geometry"]])
def test_candidate_source_of_a_geodataframe_is_one_short_line(inst0, columns):
    cand = random_candidates(0, 5)[columns]
    s = SitingProblem.from_audit(inst0.result, CAT, candidates=cand)
    assert s.candidate_source.startswith("file: 5 sites")
    assert "\n" not in s.candidate_source and "POINT" not in s.candidate_source


@pytest.mark.parametrize("option", [{"capacity": 100.0}, {"min_unit_coverage": 0.9}])
def test_pmedian_refuses_or_enforces_capacity_and_floor(inst0, option):
    s = SitingProblem.from_audit(
        inst0.result, CAT, candidates=random_candidates(0, 8), objective="distance"
    )
    try:
        s = s.solve(sites=2, objective="distance", **option)
    except DataError:
        return
    if "capacity" in option:
        assert (s.site_served <= option["capacity"] + 1e-6).all()
        return
    floor = option["min_unit_coverage"]
    cov = s.units_after()["level1"].set_index("unit_id")[f"cov_{CAT}"]
    for unit, best in _best_possible(s).items():
        assert cov[unit] >= floor - 1e-9 or (best < floor and unit in " ".join(s.notes))


def test_written_residents_served_never_exceed_a_fractional_capacity(inst0):
    cap = 333.36
    s = SitingProblem.from_audit(inst0.result, CAT, candidates=random_candidates(0, 8))
    s = s.solve(sites=2, capacity=cap)
    assert (s.site_served <= cap + 1e-6).all()
    assert (s.proposals()["residents_served"] <= cap + 1e-6).all()


# --------------------------------------------------------------------------- 8. time limit
# The whole solve ends by the time limit, plus a small overhead: the MILP (model building
# included) runs in a child process that is killed at the deadline, because HiGHS does not
# check its time limit during presolve. Here a "HiGHS" that never returns stands for it.

#: What a solve may take beyond its time limit: killing the child, the greedy's
#: bookkeeping (measured: a few ms on the tiny instances, ~0.3 s on the sample).
OVERHEAD_S = 1.0


def hang(*args, **kwargs):
    """A HiGHS stuck in presolve: it never looks at its time limit."""
    time.sleep(120)


def give_up(*args, **kwargs):
    """A HiGHS that stops without a solution or a bound (time limit during presolve)."""
    return OptimizeResult(
        status=1,
        x=None,
        fun=None,
        mip_dual_bound=None,
        mip_gap=None,
        success=False,
        message="Time limit reached (test)",
    )


@pytest.fixture
def in_child(monkeypatch):
    """Solve every model, however small, in a child process."""
    monkeypatch.setattr(lm, "IN_PROCESS_MAX_SIZE", 0)


@pytest.mark.parametrize(
    "solve",
    [
        {"sites": 3},
        {"sites": 3, "capacity": 300.0},
        {"target_coverage": 0.5},
        {"sites": 2, "objective": "distance"},
    ],
)
def test_a_solver_that_never_returns_is_stopped_at_the_time_limit(
    inst0, in_child, monkeypatch, solve
):
    monkeypatch.setattr(lm, "milp", hang)
    objective = solve.get("objective", "coverage")
    s = SitingProblem.from_audit(
        inst0.result, CAT, candidates=random_candidates(0, 12), objective=objective
    )
    limit = 1.5
    t0 = time.monotonic()
    s = s.solve(time_limit_s=limit, **solve)
    wall = time.monotonic() - t0
    assert limit - 0.05 <= wall <= limit + OVERHEAD_S, wall
    assert s.runtime_s <= limit + OVERHEAD_S
    assert s.status == "greedy" and s.objective == s.greedy_objective
    assert s.solver_info["stopped_at_deadline"] and s.solver_info["where"] == "child process"
    assert "had not finished at the deadline and was stopped" in " ".join(s.summary()["notes"])
    assert len(s.selected) > 0


def test_model_building_counts_against_the_time_limit(inst0, in_child, monkeypatch):
    def slow_build(self, *args):
        time.sleep(120)

    monkeypatch.setattr(lm.Covering, "_build", slow_build)
    s = SitingProblem.from_audit(inst0.result, CAT, candidates=random_candidates(0, 12))
    t0 = time.monotonic()
    s = s.solve(sites=2, time_limit_s=1.0)
    assert time.monotonic() - t0 <= 1.0 + OVERHEAD_S
    assert s.status == "greedy"


@pytest.mark.parametrize(
    "solve",
    [
        {"sites": 3},
        {"sites": 3, "capacity": 250.0},
        {"target_coverage": 0.55},
        {"sites": 2, "objective": "distance"},
        {"sites": 3, "min_unit_coverage": 0.6},
    ],
)
def test_child_process_solves_like_the_parent(siting12, monkeypatch, solve):
    here = fresh(siting12).solve(mip_rel_gap=0.0, **solve)
    assert here.solver_info["where"] == "in-process"
    monkeypatch.setattr(lm, "IN_PROCESS_MAX_SIZE", 0)
    child = fresh(siting12).solve(mip_rel_gap=0.0, **solve)
    assert child.solver_info["where"] == "child process"
    assert child.status == here.status == "optimal"
    assert child.objective == here.objective
    assert child.bound == here.bound and child.mip_gap == here.mip_gap == 0.0
    assert np.array_equal(child.selected, here.selected)
    assert np.allclose(child.newly, here.newly)


def test_an_error_in_the_child_process_is_raised_not_hidden(siting12, in_child, monkeypatch):
    def broken(*args, **kwargs):
        msg = "boom in HiGHS"
        raise ValueError(msg)

    monkeypatch.setattr(lm, "milp", broken)
    with pytest.raises(RuntimeError, match="boom in HiGHS"):
        fresh(siting12).solve(sites=2)


def test_a_child_process_that_dies_falls_back_to_greedy(siting12, in_child, monkeypatch):
    monkeypatch.setattr(lm, "milp", lambda *a, **k: os._exit(3))
    s = fresh(siting12).solve(sites=2, time_limit_s=30)
    assert s.runtime_s < 10
    assert s.status == "greedy"
    assert "ended without an answer (exit code 3" in " ".join(s.notes)


@pytest.mark.slow
def test_pmedian_on_the_sample_ends_within_the_time_limit(sample_result):
    """Before: `--objective distance --time-limit 10` spent 82-102 s in HiGHS."""
    s = SitingProblem.from_audit(sample_result, CAT, objective="distance")  # 300 auto candidates
    limit = 10.0
    t0 = time.monotonic()
    s = s.solve(sites=10, objective="distance", time_limit_s=limit)
    wall = time.monotonic() - t0
    assert wall <= limit + 2 * OVERHEAD_S, wall
    assert s.status in {"optimal", "time_limit", "greedy"}
    assert s.objective >= s.greedy_objective - OBJ_TOL
    assert s.bound >= s.objective - OBJ_TOL
    assert s.mip_gap is not None and s.mip_gap <= 1 / np.e + 1e-6


# --------------------------------------------------------------------------- 9. bounds
# When HiGHS gives up, the greedy solution is reported with a bound that must hold:
# checked against brute force (or HiGHS with a zero gap) on random instances.

INV_E = 1 / np.e


def check_gap(s: Siting) -> None:
    """The reported gap is |bound - objective| / max(|bound|, |objective|)."""
    scale = max(abs(s.bound), abs(s.objective))
    want = 0.0 if scale == 0 else abs(s.bound - s.objective) / scale
    assert s.mip_gap == pytest.approx(want, abs=1e-5)


def fell_back(s: Siting) -> bool:
    """The greedy was used (or there was nothing to gain, which needs no solver)."""
    if s.status == "optimal":
        assert s.bound_source == "exact" and s.objective == s.bound == 0
        return True
    return s.status == "greedy" and s.objective == s.greedy_objective


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**31),
    n_demand=st.integers(1, 30),
    n_cand=st.integers(1, 8),
    density=st.floats(0.05, 0.6),
    n=st.integers(1, 4),
)
def test_greedy_fallback_bounds_hold(synthetic_base, seed, n_demand, n_cand, density, n):
    s0 = synthetic(synthetic_base, seed, n_demand, n_cand, density, synthetic_base.threshold_m)
    best = brute_mclp(s0, n)
    cap = float(np.random.default_rng(seed).integers(20, 200))
    best_cap = fresh(s0).solve(sites=n, capacity=cap, mip_rel_gap=0.0).objective
    reach = (s0.covered_before + _w_uncovered(s0)[_cover(s0).any(axis=1)].sum()) / s0.population
    before = s0.covered_before / s0.population
    target = before + 0.9 * (reach - before)
    fewest = brute_lscp(s0, target) if reach > before + 1e-9 else None
    sp0 = synthetic(
        synthetic_base, seed, n_demand, n_cand, density, synthetic_base.threshold_m + 150
    )
    saving = capped_total(sp0, []) - brute_pmedian(sp0, n)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(lm, "milp", give_up)
        # MCLP: greedy >= (1 - 1/e) OPT, so the gap is at most 1/e (not 1 - 1/e)
        s = fresh(s0).solve(sites=n)
        assert fell_back(s)
        assert s.objective >= (1 - INV_E) * best - OBJ_TOL
        assert s.bound >= best - OBJ_TOL
        assert s.mip_gap <= INV_E + 1e-6
        check_gap(s)
        # capacitated MCLP: a valid bound, but no greedy guarantee is claimed
        sc = fresh(s0).solve(sites=n, capacity=cap)
        assert fell_back(sc) and sc.bound >= best_cap - OBJ_TOL
        assert sc.bound_source != "greedy_guarantee"
        check_gap(sc)
        # LSCP: the bound is a lower bound on the fewest sites
        if fewest is not None:
            sl = fresh(s0).solve(target_coverage=target)
            assert fell_back(sl)
            assert sl.bound <= fewest <= sl.objective == len(sl.selected)
            check_gap(sl)
        # p-median (distance saved, submodular): gap at most 1/e as well
        spm = fresh(sp0).solve(sites=n, objective="distance")
        assert spm.status == "greedy" and spm.objective == spm.greedy_objective
        assert spm.bound >= saving - OBJ_TOL
        assert spm.objective >= (1 - INV_E) * saving - OBJ_TOL
        assert spm.mip_gap <= INV_E + 1e-6
        check_gap(spm)


def test_capacitated_greedy_claims_no_guarantee(siting12, monkeypatch):
    best = fresh(siting12).solve(sites=3, capacity=200.0, mip_rel_gap=0.0).objective
    monkeypatch.setattr(lm, "milp", give_up)
    s = fresh(siting12).solve(sites=3, capacity=200.0)
    assert s.status == "greedy" and s.bound >= best - OBJ_TOL
    summary = s.summary()
    assert summary["greedy_guarantee"] is None and summary["bound_source"] != "greedy_guarantee"
    assert summary["mip_gap"] == s.mip_gap
    check_gap(s)


def test_greedy_fallback_on_auto_candidates(inst, monkeypatch):
    s0 = SitingProblem.from_audit(inst.result, CAT, candidates="auto", n_candidates=40)
    exact = fresh(s0).solve(sites=4, mip_rel_gap=0.0)
    monkeypatch.setattr(lm, "milp", give_up)
    s = fresh(s0).solve(sites=4)
    assert s.status == "greedy"
    assert s.bound >= exact.objective - OBJ_TOL
    assert s.mip_gap <= INV_E + 1e-6
    summary = s.summary()
    assert summary["bound_source"] in lm.BOUND_TEXT
    assert summary["gap_definition"] == "|bound - objective| / max(|bound|, |objective|)"
    assert "HiGHS returned no solution" in " ".join(summary["notes"])


def test_a_solution_at_the_time_limit_never_uses_a_missing_highs_bound(siting12, monkeypatch):
    """HiGHS stopped with a solution but no dual bound: only the bounds that hold are used."""
    real = lm.milp
    best = brute_mclp(siting12, 3)

    def stopped(*args, **kwargs):
        res = real(*args, **kwargs)
        res.status, res.mip_dual_bound = 1, -np.inf
        return res

    monkeypatch.setattr(lm, "milp", stopped)
    s = fresh(siting12).solve(sites=3)
    assert s.status == "time_limit"
    assert s.bound_source != "highs"
    assert s.bound >= best - OBJ_TOL
    check_gap(s)
    assert "not proven optimal" in " ".join(s.notes)


def test_a_solution_at_the_time_limit_uses_the_tighter_valid_bound(siting12, monkeypatch):
    real = lm.milp
    best = brute_mclp(siting12, 3)

    def stopped(*args, **kwargs):
        res = real(*args, **kwargs)
        res.status, res.mip_dual_bound = 1, -(best + 1.0)  # a valid HiGHS bound, 1 above
        return res

    monkeypatch.setattr(lm, "milp", stopped)
    s = fresh(siting12).solve(sites=3)
    assert s.status == "time_limit" and s.bound_source == "highs"
    assert s.bound == pytest.approx(best + 1.0, abs=OBJ_TOL)
    check_gap(s)


def test_no_bound_known_is_null_with_a_note(siting12):
    s = lm.ModelOutcome()
    lm.apply_outcome(s, lm.SolverRun(), maximise=True, objective=5.0, bounds={}, status="greedy")
    assert s.bound is None and s.mip_gap is None
    assert "no bound on the optimum is known" in " ".join(s.notes)


def test_optimal_solutions_report_a_proven_gap(siting12):
    s = fresh(siting12).solve(sites=3, mip_rel_gap=0.0)
    assert s.status == "optimal" and s.mip_gap == 0.0
    assert s.bound == pytest.approx(s.objective, abs=OBJ_TOL)
    lscp = fresh(siting12).solve(target_coverage=0.5)
    assert lscp.status == "optimal" and lscp.mip_gap == 0.0 and lscp.bound == lscp.objective


# --------------------------------------------------------------------------- 10. greenfield
# A category with no facility in the data (here elderly_care, 5 min, and park, 10 min):
# everyone starts uncovered; checked by brute force and by re-auditing with the proposals.

GREEN = "elderly_care"


def reaudit_with(paths: dict[str, object], s: Siting, folder: Path) -> lifecircle.AuditResult:
    prop = folder / f"proposals-{s.category}.geojson"
    s.proposals().to_file(prop, driver="GeoJSON")
    return lifecircle.audit(
        paths["network"],
        [*paths["facilities"], prop],
        paths["units"],
        paths["population"],
        categories=[CAT, s.category],
        profile=s.result.profile_override,
    )


@pytest.mark.parametrize("category, n", [(GREEN, 2), ("park", 1)])
def test_greenfield_mclp_matches_brute_force_and_a_reaudit(inst0, tmp_path, category, n):
    r = inst0.result
    assert category not in r.summary.to_json()["categories_audited"]
    assert (r.facilities["category"] != category).all()
    s0 = SitingProblem.from_audit(r, category, candidates=random_candidates(3, 9))
    threshold_m = r.standard.category(category).threshold_min * r.profile_of(category).speed_m_min
    assert s0.threshold_m == pytest.approx(threshold_m)
    assert s0.demand["dist_m"].isna().all() and not s0.demand["covered"].any()
    assert s0.covered_before == 0
    assert s0.categories == [CAT, category]
    s = fresh(s0).solve(sites=n, mip_rel_gap=0.0)
    assert s.status == "optimal"
    assert s.objective == pytest.approx(brute_mclp(s0, n), abs=OBJ_TOL)
    summary = s.summary()
    assert summary["category"] == category and summary["category_audited"] is False
    assert summary["coverage_before"] == 0.0
    assert summary["coverage_after"] == pytest.approx(s.objective / s.population, abs=1e-6)
    assert summary["newly_covered_population"] == pytest.approx(s.objective, abs=POP_TOL)
    assert any("greenfield" in note for note in summary["notes"])
    assert all(u["coverage_before"] == 0.0 for u in summary["units"])
    # the outputs carry the new category's columns
    acc = s.access_after()
    assert {f"dist_{category}_m", f"time_{category}_min"} <= set(acc.columns)
    for table in s.units_after().values():
        assert f"cov_{category}" in table.columns
    # adding the proposals to the facilities and auditing again gives the same coverage
    after = reaudit_with(inst0.paths, s, tmp_path)
    assert summary["coverage_after"] == pytest.approx(after.summary.coverage[category], abs=1e-6)
    mine = s.units_after()
    for level, table in after.units.items():
        got = mine[level].set_index("unit_id")[f"cov_{category}"]
        want = table.set_index("unit_id")[f"cov_{category}"]
        assert np.allclose(
            got.to_numpy(float), want.reindex(got.index).to_numpy(float), atol=1e-9, equal_nan=True
        ), level
    # nothing changes for the audited category
    for level, table in r.units.items():
        got = mine[level].set_index("unit_id")[f"cov_{CAT}"]
        want = table.set_index("unit_id")[f"cov_{CAT}"].reindex(got.index)
        assert np.allclose(got.to_numpy(float), want.to_numpy(float), equal_nan=True)


def test_greenfield_lscp_and_pmedian_on_auto_candidates(inst0, tmp_path):
    r = inst0.result
    s = SitingProblem.from_audit(r, GREEN, n_candidates=30).solve(target_coverage=0.5)
    assert s.status == "optimal"
    assert s.summary()["coverage_after"] >= 0.5 - 1e-6
    assert s.candidate_source.startswith("auto: ")
    pm0 = SitingProblem.from_audit(
        r, GREEN, candidates=random_candidates(4, 8), objective="distance"
    )
    assert pm0.radius_m == pytest.approx(360.0)
    pm = fresh(pm0).solve(sites=2, objective="distance", mip_rel_gap=0.0)
    base = capped_total(pm0, [])
    assert base == pytest.approx(360.0 * pm0.population)  # everyone at the cap before
    assert base - pm.objective == pytest.approx(brute_pmedian(pm0, 2), abs=OBJ_TOL)
    summary = pm.summary()
    assert summary["mean_distance_before_m"] == pytest.approx(360.0)
    written = pm.write(tmp_path)
    assert {p.name for p in written} == set(OUTPUT_FILES)
    for level in r.units:
        table = gpd.read_file(tmp_path / "units_after.gpkg", layer=level)
        assert f"cov_{GREEN}" in table.columns
    data = json.loads((tmp_path / "optimize.json").read_text(encoding="utf-8"))
    assert data["category"] == GREEN and data["categories_compared"] == [CAT, GREEN]


def test_an_unaudited_category_with_facilities_gets_the_audits_distances(tmp_path):
    """Audited with --categories kindergarten, a health centre in the data still counts."""
    paths = write_instance(tmp_path / "two", 0, PLACEMENTS[0])
    extra = tmp_path / "two" / "clinic.csv"
    extra.write_text(
        f"lon,lat,category,name\n{LON0 + 14.3 * DLON},{LAT0 + 13.6 * DLAT},health_center,c0\n",
        encoding="utf-8",
    )
    r = lifecircle.audit(
        paths["network"],
        [*paths["facilities"], extra],
        paths["units"],
        paths["population"],
        categories=[CAT],
    )
    both = lifecircle.audit(
        paths["network"],
        [*paths["facilities"], extra],
        paths["units"],
        paths["population"],
        categories=[CAT, "health_center"],
    )
    s = SitingProblem.from_audit(r, "health_center", candidates=random_candidates(0, 5))
    want = both.access["dist_health_center_m"].to_numpy(float)
    assert np.isfinite(want).sum() > 0
    assert np.allclose(s.demand["dist_m"].to_numpy(float), want, atol=1e-6, equal_nan=True)
    assert s.covered_before > 0
    assert not any("greenfield" in n for n in s.problem_notes)
    assert any("was not audited" in n for n in s.problem_notes)


@pytest.mark.slow
def test_greenfield_elderly_care_on_the_sample(sample_result):
    assert GREEN not in sample_result.summary.to_json()["categories_audited"]
    s = SitingProblem.from_audit(sample_result, GREEN, n_candidates=100).solve(sites=5)
    assert s.status == "optimal"
    summary = s.summary()
    assert summary["coverage_before"] == 0.0 and s.covered_before == 0
    newly = summary["newly_covered_population"]
    assert newly == pytest.approx(s.objective, abs=POP_TOL) and newly > 0
    assert summary["coverage_after"] == pytest.approx(newly / s.population, abs=1e-6)
    assert summary["units"] and all(u["coverage_before"] == 0.0 for u in summary["units"])
    for table in s.units_after().values():
        assert f"cov_{GREEN}" in table.columns
    assert s.greedy_objective <= s.objective + OBJ_TOL


# --------------------------------------------------------------------------- 11. inputs


def test_write_never_overwrites_the_candidates_file(inst0, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    cand = out / "proposals.geojson"
    random_candidates(0, 6).to_file(cand, driver="GeoJSON")
    before = cand.read_bytes()
    s = SitingProblem.from_audit(inst0.result, CAT, candidates=cand).solve(sites=2)
    assert cand in s.inputs and set(inst0.result.inputs) <= set(s.inputs)
    assert str(cand) in s.summary()["inputs"]
    with pytest.raises(InputFileError, match=r"proposals\.geojson"):
        s.write(out)
    assert cand.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["proposals.geojson"]  # nothing else


def test_cli_refuses_candidates_in_the_output_folder(cli_files, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    cand = out / "proposals.geojson"
    cand.write_bytes(cli_files["candidates"].read_bytes())
    res = invoke(
        [*tiny_args(cli_files, out), "--category", CAT, "--sites", "2", "--candidates", cand]
    )
    assert_user_error(res, "proposals.geojson")
    assert cand.read_bytes() == cli_files["candidates"].read_bytes()


def test_outputs_lists_the_writers(siting12, tmp_path):
    s = fresh(siting12).solve(sites=2)
    writers = s.outputs()
    assert tuple(writers) == OUTPUT_FILES
    for name, write in writers.items():
        write(tmp_path / name)
        assert (tmp_path / name).is_file()
    data = json.loads((tmp_path / "optimize.json").read_text(encoding="utf-8"))
    assert data["audit_warnings"] == siting12.result.summary.to_json()["warnings"]


def test_cli_greenfield(cli_files, tmp_path):
    out = tmp_path / "green"
    res = invoke(
        [
            *tiny_args(cli_files, out),
            "--category",
            "park",
            "--sites",
            "2",
            "--candidates",
            cli_files["candidates"],
            "--no-map",
        ]
    )
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads((out / "optimize.json").read_text(encoding="utf-8"))
    assert data["category"] == "park" and data["coverage_before"] == 0.0
    assert data["coverage_after"] > 0 and data["category_audited"] is False
    for level in ("level0", "level1"):
        table = gpd.read_file(out / "units_after.gpkg", layer=level)
        assert "cov_park" in table.columns


def test_greenfield_map_and_report(inst0, tmp_path):
    s = SitingProblem.from_audit(inst0.result, "park", candidates=random_candidates(0, 6))
    s = s.solve(sites=2)
    s.to_map(tmp_path / "map.html")
    s.to_report(tmp_path / "report.html")


# --------------------------------------------------------------------------- 9. one snap rule


def write_raster(path: Path, seed: int = 0) -> Path:
    """Population raster over the district: cells of a third of a block, so some cell
    centres lie 26 m (edge rule) or 28-44 m (node rule) from the network."""
    import rasterio
    from affine import Affine

    lo, hi = np.floor(LO), np.ceil(HI)  # cells aligned on the blocks
    n = round(float(hi - lo) * 3)
    data = np.random.default_rng(seed).integers(1, 40, (n, n)).astype("float32")
    transform = Affine(DLON / 3, 0.0, LON0 + lo * DLON, 0.0, -DLAT / 3, LAT0 + hi * DLAT)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=n,
        width=n,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=transform,
    ) as dst:
        dst.write(data, 1)
    return path


@pytest.mark.parametrize("rule", ["edge", "node"])
def test_newly_covered_equals_a_reaudit_with_residents_beyond_max_snap(tmp_path, rule):
    """Optimizer and audit share one snap rule and one max_snap_m: residents beyond it are
    never covered, by old or new sites, and the re-audit with the proposals added as
    facilities finds exactly the optimizer's newly covered residents."""
    folder = tmp_path / "in"
    paths = write_instance(folder, 0, PLACEMENTS[0])
    paths["population"] = write_raster(folder / "population.tif")
    options = {"snap": rule, "max_snap_m": 20.0, "profile": "adult"}
    result = tiny_audit(paths, **options)
    assert result.summary.to_json()["settings"]["snap"] == rule
    acc = result.access
    far = (acc["snap_m"] > 20.0).to_numpy()
    assert 0 < far.sum() < len(far)
    assert acc.loc[far, f"dist_{CAT}_m"].isna().all()
    for k, candidates in enumerate(["auto", random_candidates(3, 12)]):
        s = SitingProblem.from_audit(result, CAT, candidates=candidates, n_candidates=40)
        # the optimizer sees the audit's distances, and far residents reach no candidate
        assert np.allclose(s.demand["dist_m"], acc[f"dist_{CAT}_m"], equal_nan=True)
        assert s.distance[far].nnz == 0
        s = s.solve(sites=3)
        assert s.objective > 0
        assert (s.newly[far] == 0).all()
        prop = tmp_path / f"proposals-{rule}-{k}.geojson"
        s.proposals().to_file(prop, driver="GeoJSON")
        after = lifecircle.audit(
            paths["network"],
            [*paths["facilities"], prop],
            paths["units"],
            paths["population"],
            categories=[CAT],
            **options,
        )
        assert_reproduced(s, after)
        # each resident's new distance is the re-audit's (within the threshold)
        thr_m = s.threshold_m
        new = np.fmin(acc[f"dist_{CAT}_m"].to_numpy(), s.problem.new_distance(s.selected))
        again = after.access[f"dist_{CAT}_m"].to_numpy()
        inside = np.nan_to_num(new, nan=np.inf) <= thr_m
        assert np.array_equal(inside, np.nan_to_num(again, nan=np.inf) <= thr_m)
        assert np.allclose(new[inside], again[inside], atol=1e-6)


# --------------------------------------------------------------------------- 11. greedy as a start
# The greedy solution goes to HiGHS as a starting incumbent, never as a row bounding
# the objective; after a time-limit fallback the gap is never 0 unless proven.


def test_the_greedy_is_a_start_not_a_constraint(siting12, monkeypatch):
    real, seen = lm.milp, []

    def spy(c, **kwargs):
        seen.append((c, kwargs))
        return real(c, **kwargs)

    monkeypatch.setattr(lm, "milp", spy)
    for solve in (
        {"sites": 3},
        {"sites": 3, "capacity": 250.0},
        {"sites": 2, "objective": "distance"},
    ):
        seen.clear()
        s = fresh(siting12).solve(mip_rel_gap=0.0, **solve)
        ((c, kwargs),) = seen
        start = kwargs["start"]
        assert start is not None
        # the start is the greedy's solution: its objective is the greedy's
        want = s.greedy_objective
        if "capacity" not in solve:
            assert -float(c @ start) == pytest.approx(want, abs=OBJ_TOL)
        # and no constraint row is the objective (the former greedy bound row)
        for con in kwargs["constraints"]:
            a = sp.csr_matrix(con.A)
            for r in range(a.shape[0]):
                row = a[r].toarray().ravel()
                assert not np.allclose(row, -c) or np.all(c == 0), solve


@pytest.mark.parametrize("answer", ["start_only", "nothing"])
def test_a_time_limit_fallback_never_reports_a_proof(inst, monkeypatch, answer):
    """HiGHS stopped at the time limit (with only its start, or with nothing): gap > 0."""
    s0 = SitingProblem.from_audit(inst.result, CAT, candidates="auto", n_candidates=40)
    exact = fresh(s0).solve(sites=4, mip_rel_gap=0.0)
    assert exact.status == "optimal"
    real = lm.milp

    def stopped(c, **kwargs):
        res = real(c, **kwargs)
        res.status, res.mip_dual_bound = 1, -np.inf  # no bound
        res.x = kwargs["start"] if answer == "start_only" else None
        res.fun = None if res.x is None else float(c @ res.x)
        return res

    monkeypatch.setattr(lm, "milp", stopped)
    s = fresh(s0).solve(sites=4)
    assert s.status == ("time_limit" if answer == "start_only" else "greedy")
    assert s.objective == pytest.approx(s.greedy_objective, abs=OBJ_TOL)
    assert s.bound >= exact.objective - OBJ_TOL >= s.objective - 2 * OBJ_TOL
    assert s.bound_source != "highs"
    # 4 of 40 sites cover far from every reachable resident: no bound here is tight
    assert s.bound > s.objective + OBJ_TOL
    assert s.mip_gap is not None and s.mip_gap > 0
    check_gap(s)


def test_an_invalid_highs_bound_is_not_used(siting12, monkeypatch):
    """A dual bound below a known solution is no bound: it is dropped with a note."""
    real = lm.milp

    def low(c, **kwargs):
        res = real(c, **kwargs)
        res.status, res.mip_dual_bound = 1, -0.5 * float(-res.fun)  # half the objective
        return res

    monkeypatch.setattr(lm, "milp", low)
    s = fresh(siting12).solve(sites=3)
    assert s.bound_source != "highs" and s.bound >= s.objective
    assert "is not a bound on a known solution" in " ".join(s.notes)


def test_the_solution_notes_the_reductions(siting12):
    s = fresh(siting12).solve(sites=3)
    assert any(n.startswith("exact reductions before the MILP") for n in s.notes)
