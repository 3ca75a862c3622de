"""The site optimizer (issue 4): exact models against brute force, greedy against exact,
re-audit reproduction of ``coverage_after``, capacity and fairness, bad requests, outputs.

Small instances are real audits of a tiny synthetic district written to disk: a 32 x 32
street grid (blocks of about 52 m x 71 m, so no node-to-node walk is exactly the 360 m
kindergarten threshold), one kindergarten, a district ``D`` split into three units
``A`` (west), ``B`` (south-east), ``C`` (north-east) with a 360 m margin of streets
around it, and 5 x 5 population blocks with random totals. Only ``kindergarten`` is
audited, so the search cut-off (and the p-median distance cap) is the 360 m threshold.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
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

import lifecircle
from lifecircle.errors import DataError
from lifecircle.optimize import Siting

from .conftest import LAT0, LON0, assert_user_error, invoke, osm_xml

CAT = "kindergarten"
N_GRID = 32
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


def grid_osm(n: int = N_GRID) -> str:
    nodes = {1 + r * n + c: (LON0 + c * DLON, LAT0 + r * DLAT)
             for r in range(n) for c in range(n)}
    tags = {"highway": "residential"}
    ways = [(1000 + r, [1 + r * n + c for c in range(n)], tags) for r in range(n)]
    ways += [(2000 + c, [1 + r * n + c for r in range(n)], tags) for c in range(n)]
    return osm_xml(nodes, ways)


def write_instance(folder: Path, seed: int,
                   kindergartens: tuple[tuple[float, float], ...] = ((10.2, 11.3),)
                   ) -> dict[str, object]:
    """Write the tiny district's input files; returns the arguments of `lifecircle.audit`."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    (folder / "grid.osm").write_text(grid_osm(), encoding="utf-8")
    (folder / "facilities.csv").write_text(
        "lon,lat,category,name\n" + "".join(
            f"{LON0 + c * DLON},{LAT0 + r * DLAT},{CAT},k{i}\n"
            for i, (c, r) in enumerate(kindergartens)), encoding="utf-8")
    gpd.GeoDataFrame(
        {"unit_id": ["D", "A", "B", "C"], "name": ["district", "west", "south-east",
                                                   "north-east"],
         "parent_id": [None, "D", "D", "D"]},
        geometry=[cell_box(LO, LO, HI, HI), cell_box(LO, LO, MID, HI),
                  cell_box(MID, LO, HI, MID), cell_box(MID, MID, HI, HI)],
        crs="EPSG:4326").to_file(folder / "units.geojson", driver="GeoJSON")
    k, step = 5, (HI - LO) / 5
    blocks = [cell_box(LO + i * step, LO + j * step, LO + (i + 1) * step, LO + (j + 1) * step)
              for i in range(k) for j in range(k)]
    gpd.GeoDataFrame({"population": rng.integers(50, 1000, len(blocks)).astype(float)},
                     geometry=blocks, crs="EPSG:4326").to_file(folder / "population.geojson",
                                                               driver="GeoJSON")
    return {"network": folder / "grid.osm", "facilities": [folder / "facilities.csv"],
            "units": folder / "units.geojson", "population": folder / "population.geojson"}


def tiny_audit(paths: dict[str, object], extra_facilities: list[Path] = ()
               ) -> lifecircle.AuditResult:
    return lifecircle.audit(paths["network"], [*paths["facilities"], *extra_facilities],
                            paths["units"], paths["population"], categories=[CAT])


def random_candidates(seed: int, k: int, cols: tuple[float, float] = (LO, HI),
                      rows: tuple[float, float] = (LO, HI)) -> gpd.GeoDataFrame:
    """``k`` candidate points off the nodes (so they have a snap distance)."""
    rng = np.random.default_rng(seed + 100)
    pts = [cell_point(c, r) for c, r in zip(rng.uniform(*cols, k), rng.uniform(*rows, k),
                                            strict=True)]
    return gpd.GeoDataFrame({"name": [f"c{i}" for i in range(k)]}, geometry=pts,
                            crs="EPSG:4326")


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


def test_tiny_instance_is_what_the_tests_assume(inst):
    r = inst.result
    assert r.analysed == {"A", "B", "C"}
    assert r.summary["units"]["catchment_m"] == pytest.approx(360.0)
    cov = r.summary["coverage"][CAT]
    assert 0.05 < cov < 0.6  # plenty left to cover
    assert len(r.access) == 225  # 15 x 15 nodes inside the district


# --------------------------------------------------------------------------- brute force


def _w_uncovered(s: Siting) -> np.ndarray:
    return s.demand["population"].to_numpy() * ~s.demand["covered"].to_numpy()


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


def fresh(s: Siting) -> Siting:
    """A copy of an unsolved siting problem (``solve`` mutates its object)."""
    return dataclasses.replace(s, notes=[], options={})


# --------------------------------------------------------------------------- 1. exact = brute force


@pytest.fixture(scope="module")
def siting12(inst) -> Siting:
    return Siting.from_audit(inst.result, CAT, candidates=random_candidates(inst.seed, 12))


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
    s0 = Siting.from_audit(inst.result, CAT, candidates=random_candidates(inst.seed, 10),
                           objective="distance")
    assert s0.radius_m == pytest.approx(inst.result.summary["units"]["catchment_m"])
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
    return Siting.from_audit(inst0.result, CAT, candidates=random_candidates(0, 3))


def synthetic(base: Siting, seed: int, n_demand: int, n_cand: int, density: float,
              radius_m: float) -> Siting:
    rng = np.random.default_rng(seed)
    threshold = base.threshold_m
    dist_m = np.where(rng.random(n_demand) < 0.3, rng.uniform(1, threshold, n_demand),
                      np.where(rng.random(n_demand) < 0.5, np.nan,
                               rng.uniform(threshold + 1, threshold + 200, n_demand)))
    dist_m[dist_m > radius_m] = np.nan  # the audit's cut-off
    demand = pd.DataFrame({
        "origin_id": np.arange(n_demand), "population": rng.integers(1, 100, n_demand) * 1.0,
        "unit_id": rng.choice(["A", "B"], n_demand), "node": np.zeros(n_demand, np.int64),
        "snap_m": np.zeros(n_demand), "dist_m": dist_m,
    })
    demand["covered"] = demand["dist_m"] <= threshold
    mask = rng.random((n_demand, n_cand)) < density
    rows, cols = np.nonzero(mask)
    vals = rng.uniform(1, radius_m, len(rows))
    distance = sp.csr_matrix((vals, (rows, cols)), shape=(n_demand, n_cand))
    cand = base.candidates.iloc[np.zeros(n_cand, int)].reset_index(drop=True)
    cand["candidate_id"] = np.arange(n_cand)
    return dataclasses.replace(base, demand=demand, distance=distance, candidates=cand,
                               radius_m=radius_m, notes=[], options={})


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**31), n_demand=st.integers(1, 30), n_cand=st.integers(1, 8),
       density=st.floats(0.05, 0.6), n=st.integers(1, 4))
def test_greedy_never_beats_exact_and_exact_matches_brute_force(
        synthetic_base, seed, n_demand, n_cand, density, n):
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
    sp0 = synthetic(synthetic_base, seed, n_demand, n_cand, density,
                    synthetic_base.threshold_m + 150)
    spm = fresh(sp0).solve(sites=n, objective="distance", mip_rel_gap=0.0)
    assert spm.greedy_objective <= spm.objective + OBJ_TOL
    assert capped_total(sp0, []) - spm.objective == pytest.approx(brute_pmedian(sp0, n),
                                                                   abs=OBJ_TOL)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_greedy_never_beats_exact_on_auto_candidates(inst, n):
    s0 = Siting.from_audit(inst.result, CAT, candidates="auto", n_candidates=40)
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
    return lifecircle.audit(paths["network"], [*paths["facilities"], prop], paths["units"],
                            paths["population"],
                            categories=list(s.result.summary["categories_audited"]))


def covered_share(access: pd.DataFrame, threshold_min: float) -> float:
    pop = access["population"].to_numpy()
    return float((pop * (access[f"time_{CAT}_min"] <= threshold_min)).sum() / pop.sum())


def assert_reproduced(s: Siting, after: lifecircle.AuditResult) -> None:
    thr = s.result.standard.category(CAT).threshold_min
    summary = s.summary()
    assert summary["coverage_after"] == pytest.approx(after.summary["coverage"][CAT], abs=1e-9)
    assert covered_share(s.access_after(), thr) == pytest.approx(
        covered_share(after.access, thr), abs=1e-9)
    mine = s.units_after()
    assert set(mine) == set(after.units)
    for level, table in after.units.items():
        got = mine[level].set_index("unit_id")[f"cov_{CAT}"]
        want = table.set_index("unit_id")[f"cov_{CAT}"]
        assert got.index.equals(want.index)
        assert np.allclose(got.to_numpy(float), want.to_numpy(float), atol=1e-9, rtol=0,
                           equal_nan=True), level
        got_c = mine[level].set_index("unit_id")["complete_share"]
        assert np.allclose(got_c.to_numpy(float), table["complete_share"].to_numpy(float),
                           atol=1e-9, rtol=0, equal_nan=True)
    per_unit = {(u["level"], u["unit_id"]): u["coverage_after"] for u in summary["units"]}
    for level, table in after.units.items():
        for row in table.itertuples():
            if row.units_analysed:
                assert per_unit[(level, row.unit_id)] == pytest.approx(
                    getattr(row, f"cov_{CAT}"), abs=1e-6)
    # 5. newly covered = previously uncovered residents now within the threshold
    before_t = s.result.access.set_index("origin_id")[f"time_{CAT}_min"]
    after_t = after.access.set_index("origin_id")[f"time_{CAT}_min"].reindex(before_t.index)
    pop = s.result.access.set_index("origin_id")["population"]
    newly = float(pop[(after_t <= thr) & ~(before_t <= thr)].sum())
    assert summary["newly_covered_population"] == pytest.approx(newly, abs=POP_TOL)
    if s.model in ("mclp", "lscp"):
        obj = s.objective if s.model == "mclp" else newly_of(s, s.selected)
        assert obj == pytest.approx(newly, abs=OBJ_TOL)
    assert (summary["coverage_after"] - summary["coverage_before"]) * summary["population"] \
        == pytest.approx(newly, abs=1.0)


def test_reaudit_reproduces_coverage_after_mclp_file_candidates(inst, tmp_path):
    s = Siting.from_audit(inst.result, CAT, candidates=random_candidates(inst.seed, 12))
    s.solve(sites=3)
    assert_reproduced(s, reaudit(inst.paths, s, tmp_path))


def test_reaudit_reproduces_coverage_after_lscp_and_pmedian(inst0, tmp_path):
    r = inst0.result
    lscp = Siting.from_audit(r, CAT, candidates="auto", n_candidates=30).solve(
        target_coverage=0.8)
    assert lscp.summary()["coverage_after"] >= 0.8
    assert_reproduced(lscp, reaudit(inst0.paths, lscp, tmp_path))
    pmed = Siting.from_audit(r, CAT, candidates=random_candidates(5, 10),
                             objective="distance").solve(sites=2, objective="distance")
    assert_reproduced(pmed, reaudit(inst0.paths, pmed, tmp_path))


def test_reaudit_reproduces_coverage_after_parcel_candidates(inst0, tmp_path):
    """Parcels are reached at their edge, in the optimizer as in the audit."""
    parcels = gpd.GeoDataFrame(
        geometry=[cell_box(c, r, c + 1.6, r + 0.8) for c, r in
                  [(9.3, 17.2), (17.1, 9.4), (18.3, 18.6), (12.5, 13.1), (19.7, 13.2)]],
        crs="EPSG:4326")
    s = Siting.from_audit(inst0.result, CAT, candidates=parcels).solve(sites=2)
    assert s.status == "optimal"
    assert (s.proposals().geom_type == "Polygon").all()
    assert_reproduced(s, reaudit(inst0.paths, s, tmp_path))


@pytest.mark.slow
def test_reaudit_reproduces_coverage_after_on_the_sample(sample_result, sample_paths,
                                                         tmp_path):
    s = Siting.from_audit(sample_result, CAT)  # auto, default 300 candidates
    s.solve(sites=5)
    assert s.status == "optimal" and len(s.selected) == 5
    assert s.greedy_objective <= s.objective + OBJ_TOL
    paths = {"network": sample_paths["network"], "facilities": [sample_paths["facilities"]],
             "units": sample_paths["units"], "population": sample_paths["population"]}
    after = reaudit(paths, s, tmp_path)
    assert_reproduced(s, after)
    # the other categories are untouched
    for cat, share in sample_result.summary["coverage"].items():
        if cat != CAT:
            assert after.summary["coverage"][cat] == share


# --------------------------------------------------------------------------- 4. capacity, fairness


@pytest.mark.parametrize("capacity", [150.0, 400.0, 1e9])
def test_capacity_holds(inst, capacity):
    n = 3
    s = Siting.from_audit(inst.result, CAT, candidates=random_candidates(inst.seed, 12))
    free = fresh(s).solve(sites=n)
    s.solve(sites=n, capacity=capacity)
    assert s.status == "optimal"
    assert (s.site_served <= capacity + 1e-6).all()
    props = s.proposals()
    assert (props["residents_served"] <= capacity + 1e-6).all()
    summary = s.summary()
    newly = summary["newly_covered_population"]
    assert newly <= n * capacity + 1e-6
    assert newly <= free.objective + POP_TOL
    if capacity >= _w_uncovered(s).sum():  # no site can be full: the uncapacitated optimum
        assert s.objective == pytest.approx(free.objective, abs=OBJ_TOL)
    assert float(s.site_served.sum()) == pytest.approx(
        float((s.demand["population"] * s.newly).sum()), abs=1e-6)
    assert np.all((s.newly >= 0) & (s.newly <= 1 + 1e-9))
    assert np.all(s.newly[s.demand["covered"].to_numpy()] == 0)
    # split residents keep the population total
    assert s.access_after()["population"].sum() == pytest.approx(s.population, rel=1e-12)
    assert s.greedy_objective <= s.objective + OBJ_TOL


def test_capacity_with_site_count_target(inst0):
    s = Siting.from_audit(inst0.result, CAT, candidates=random_candidates(0, 12))
    before = s.covered_before / s.population
    target = before + 0.15
    cap = 400.0
    s.solve(target_coverage=target, capacity=cap)
    assert s.status == "optimal"
    assert (s.site_served <= cap + 1e-6).all()
    need = target * s.population - s.covered_before
    assert s.objective >= np.ceil(need / cap - 1e-9)
    assert s.summary()["coverage_after"] >= round(target, 6) - 1e-6


def _best_possible(s: Siting) -> dict[str, float]:
    reach = np.diff(s.distance.indptr) > 0
    d = s.demand
    return {u: float((g["population"] * (g["covered"] | reach[g.index])).sum()
                     / g["population"].sum()) for u, g in d.groupby("unit_id")}


def test_fairness_floor_holds_and_impossible_units_are_named(inst0):
    # candidates in the south-west: A and C cannot reach 80 %, B can but MCLP leaves it below
    s0 = Siting.from_audit(inst0.result, CAT, candidates=random_candidates(0, 10, (8, 20),
                                                                            (8, 17)))
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
    s0 = Siting.from_audit(inst0.result, CAT, candidates=random_candidates(1, 10, (8, 16),
                                                                            (8, 22)))
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
    s = Siting.from_audit(inst0.result, CAT, candidates=random_candidates(0, 10, (8, 12),
                                                                           (8, 16)))
    with pytest.raises(DataError, match=r"fairness floor .* cannot be met with 1 sites"):
        s.solve(sites=1, min_unit_coverage=0.7)


# --------------------------------------------------------------------------- 5. already covered


def test_residents_already_covered_are_not_counted_again(inst0):
    r = inst0.result
    kg = r.facilities[r.facilities["category"] == CAT].geometry.iloc[0]
    other = cell_point(14.6, 12.4)
    cand = gpd.GeoDataFrame(geometry=[kg, other], crs="EPSG:4326")
    s = Siting.from_audit(r, CAT, candidates=cand)
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
        float(s.demand["population"].to_numpy()[within & uncovered].sum()), abs=POP_TOL)


def test_marginals_add_up_to_the_objective(siting12):
    s = fresh(siting12).solve(sites=3)
    props = s.proposals()
    assert list(props["rank"]) == [1, 2, 3]
    assert props["marginal_newly_covered"].is_monotonic_decreasing
    assert props["marginal_newly_covered"].sum() == pytest.approx(s.objective, abs=0.2)
    assert props["residents_served"].sum() == pytest.approx(s.objective, abs=0.2)


# --------------------------------------------------------------------------- known bugs


def test_no_proposal_without_gain(inst0):
    s = Siting.from_audit(inst0.result, CAT, candidates=random_candidates(0, 12))
    s.solve(sites=12)
    assert (s.proposals()["marginal_newly_covered"] > 0).all()


def test_solving_twice_does_not_keep_old_notes(inst0):
    s = Siting.from_audit(inst0.result, CAT, candidates=random_candidates(0, 4))
    s.solve(sites=10)  # more sites than candidates: a note
    s.solve(sites=2)
    assert not any("asked for 10 sites" in n for n in s.summary()["notes"])


@pytest.mark.slow
def test_coverage_model_on_a_distance_siting_counts_only_the_threshold(sample_result):
    s = Siting.from_audit(sample_result, CAT, objective="distance", n_candidates=40)
    assert s.radius_m > s.threshold_m  # the sample audits 15-minute categories too
    try:
        s.solve(sites=3)
    except DataError:
        return  # refusing the mismatch is a fine answer too
    summary = s.summary()
    gain = (summary["coverage_after"] - summary["coverage_before"]) * summary["population"]
    assert summary["newly_covered_population"] == pytest.approx(gain, abs=1.0)


# --------------------------------------------------------------------------- solver status


def test_time_limit_falls_back_or_reports_time_limit(inst0):
    s = Siting.from_audit(inst0.result, CAT, candidates="auto", n_candidates=60)
    s.solve(sites=4, time_limit_s=1e-6)
    assert s.status in {"optimal", "time_limit", "greedy"}
    assert s.objective >= s.greedy_objective - OBJ_TOL
    if s.status == "greedy":
        assert s.objective == s.greedy_objective
        assert s.bound is None or s.bound >= s.objective - OBJ_TOL
    assert len(s.selected) <= 4


@pytest.mark.parametrize("kwargs, match", [
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
])
def test_bad_requests_raise_data_error(inst0, kwargs, match):
    s = Siting.from_audit(inst0.result, CAT, candidates=random_candidates(0, 2, (8, 10),
                                                                           (8, 10)))
    with pytest.raises(DataError, match=match):
        s.solve(**kwargs)


def test_unknown_or_unaudited_category(inst0):
    with pytest.raises(lifecircle.LifecircleError, match="no category 'nosuch'"):
        Siting.from_audit(inst0.result, "nosuch")
    with pytest.raises(DataError, match="was not audited"):
        Siting.from_audit(inst0.result, "park")


# --------------------------------------------------------------------------- 6. CLI




@pytest.fixture(scope="module")
def cli_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli-tiny")
    paths = write_instance(folder, 0, PLACEMENTS[0])
    random_candidates(0, 6).to_file(folder / "candidates.geojson", driver="GeoJSON")
    random_candidates(1, 2, (8, 10), (8, 10)).to_file(folder / "corner.geojson",
                                                      driver="GeoJSON")
    (folder / "empty.geojson").write_text('{"type": "FeatureCollection", "features": []}',
                                          encoding="utf-8")
    return {"network": paths["network"], "facilities": paths["facilities"][0],
            "units": paths["units"], "population": paths["population"],
            "candidates": folder / "candidates.geojson", "corner": folder / "corner.geojson",
            "empty": folder / "empty.geojson", "folder": folder}


def tiny_args(files: dict[str, Path], out: Path) -> list[object]:
    return ["optimize", "--network", files["network"], "--facilities", files["facilities"],
            "--units", files["units"], "--population", files["population"],
            "--categories", CAT, "--out", out, "-q"]


@pytest.mark.parametrize("extra, needles", [
    (["--category", "nosuch", "--sites", "2"], ["nosuch", "kindergarten"]),
    (["--category", "park", "--sites", "2"], ["park", "not audited"]),
    (["--category", CAT, "--sites", "0"], ["--sites must be a positive number", "got 0"]),
    (["--category", CAT, "--sites", "-1"], ["--sites must be a positive number", "got -1"]),
    (["--category", CAT, "--target-coverage", "1.0", "--candidates", "{corner}"],
     ["--target-coverage 100.0% is out of reach", "at most"]),
    (["--category", CAT, "--sites", "2", "--candidates", "{empty}"],
     ["empty.geojson", "no features"]),
    (["--category", CAT, "--sites", "2", "--target-coverage", "0.5"], ["exactly one of"]),
    (["--category", CAT], ["exactly one of"]),
])
def test_cli_bad_requests_exit_2(cli_files, tmp_path, extra, needles):
    extra = [str(e).format(**cli_files) for e in extra]
    res = invoke([*tiny_args(cli_files, tmp_path / "out"), *extra])
    assert_user_error(res, *needles)
    assert not (tmp_path / "out" / "proposals.geojson").exists()


# --------------------------------------------------------------------------- 7. outputs

PROPOSAL_COLUMNS = {"site_id", "category", "rank", "marginal_newly_covered",
                    "residents_served"}
OPTIMIZE_KEYS = {"category", "model", "sites", "threshold_m", "newly_covered_population",
                 "coverage_before", "coverage_after", "status", "mip_gap", "runtime_s",
                 "units"}


def check_outputs(out: Path, s_result: lifecircle.AuditResult, model: str, sites: int
                  ) -> dict:
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
    assert data["coverage_before"] == s_result.summary["coverage"][CAT]
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
    assert sorted(p.name for p in written) == ["optimize.json", "proposals.geojson",
                                               "units_after.gpkg"]
    data = check_outputs(tmp_path, s.result, "mclp", 3)
    assert data["newly_covered_population"] == pytest.approx(s.objective, abs=POP_TOL)
    assert data["objective_value"] == s.objective


def test_cli_optimize_writes_the_outputs(cli_files, tmp_path):
    out = tmp_path / "out"
    res = invoke([*tiny_args(cli_files, out)[:-1], "--category", CAT, "--sites", "2",
                  "--candidates", cli_files["candidates"]])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "MCLP for kindergarten: 2 sites" in res.stdout
    for name in ("access.parquet", "units.gpkg", "summary.json"):
        assert (out / name).is_file()
    r = tiny_audit({"network": cli_files["network"], "facilities": [cli_files["facilities"]],
                    "units": cli_files["units"], "population": cli_files["population"]})
    data = check_outputs(out, r, "mclp", 2)
    assert "file: 6 sites" in data["candidate_source"]
    assert data["candidates"] == 6
    # the same problem through the library gives the same answer
    s = Siting.from_audit(r, CAT, candidates=cli_files["candidates"]).solve(sites=2)
    assert data["objective_value"] == s.objective


def test_cli_lscp_and_pmedian(cli_files, tmp_path):
    out = tmp_path / "lscp"
    res = invoke([*tiny_args(cli_files, out), "--category", CAT, "--target-coverage", "0.6",
                  "--n-candidates", "25"])
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads((out / "optimize.json").read_text(encoding="utf-8"))
    assert data["model"] == "lscp" and data["coverage_after"] >= 0.6
    assert data["target_coverage"] == 0.6
    out = tmp_path / "pmed"
    res = invoke([*tiny_args(cli_files, out), "--category", CAT, "--sites", "2",
                  "--objective", "distance", "--n-candidates", "25"])
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads((out / "optimize.json").read_text(encoding="utf-8"))
    assert data["model"] == "pmedian" and data["sites"] == 2
    assert data["mean_distance_after_m"] <= data["mean_distance_before_m"]
    props = gpd.read_file(out / "proposals.geojson")
    assert "marginal_distance_saved_m" in props.columns


@pytest.mark.parametrize("columns", [["name", "geometry"], ["geometry"]])
def test_candidate_source_of_a_geodataframe_is_one_short_line(inst0, columns):
    cand = random_candidates(0, 5)[columns]
    s = Siting.from_audit(inst0.result, CAT, candidates=cand)
    assert s.candidate_source.startswith("file: 5 sites")
    assert "\n" not in s.candidate_source and "POINT" not in s.candidate_source


@pytest.mark.parametrize("option", [{"capacity": 100.0}, {"min_unit_coverage": 0.9}])
def test_pmedian_refuses_or_enforces_capacity_and_floor(inst0, option):
    s = Siting.from_audit(inst0.result, CAT, candidates=random_candidates(0, 8),
                          objective="distance")
    try:
        s.solve(sites=2, objective="distance", **option)
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
    s = Siting.from_audit(inst0.result, CAT, candidates=random_candidates(0, 8))
    s.solve(sites=2, capacity=cap)
    assert (s.site_served <= cap + 1e-6).all()
    assert (s.proposals()["residents_served"] <= cap + 1e-6).all()
