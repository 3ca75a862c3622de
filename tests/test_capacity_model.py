"""One capacity model for the audit and the optimizer (issue 9, part 2).

``lifecircle optimize --capacity C`` uses the audit's capacity-constrained coverage:
the category's cohort is assigned, within the threshold, to existing facilities (at the
capacities the audit used) and new sites (``C`` places each), exactly and with
reassignment. Checked here:

* covered before = the audit's placed total (``summary.fair_service[cat].placed_share``
  x demand), and an independent max-flow (networkx) on the same pairs;
* the MILP's objective = a brute force over every k-subset of candidates with an exact
  max-flow (networkx) per subset, on audits and on random instances with finite
  existing capacities (so that reassignment matters);
* a re-audit with the proposals as an extra ``--facilities`` file reproduces the
  optimizer's placed share city-wide and per unit;
* demand is the category's cohort; without a capacity the model is the one before.

The tiny district of ``tests/test_optimize.py`` is used with fewer residents (10-150
per block, some 2,000 in all), so that a kindergarten's 270 places (the standard's
unverified default) bind at some sites and not at others.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import lifecircle
from lifecircle import _location_models as lm
from lifecircle.io.facilities import read_facilities
from lifecircle.siting import SitingProblem

from .test_optimize import (
    CAT,
    OBJ_TOL,
    PLACEMENTS,
    _cover,
    brute_mclp,
    give_up,
    random_candidates,
    reaudit,
    tiny_audit,
    write_instance,
)

#: The standard's default kindergarten capacity (GB 50180 Appendix C not read: unverified).
DEFAULT_PLACES = 270.0


def small_population(paths: dict[str, object], seed: int, cohort_share: float | None) -> None:
    """Rewrite the blocks with 10-150 residents each (and a ``pop_age_3_5`` column)."""
    blocks = gpd.read_file(paths["population"])
    rng = np.random.default_rng(seed + 7)
    blocks["population"] = rng.integers(10, 150, len(blocks)).astype(float)
    if cohort_share is not None:
        blocks["pop_age_3_5"] = np.round(
            blocks["population"] * cohort_share * rng.uniform(0.5, 1.5, len(blocks))
        )
    blocks.to_file(paths["population"], driver="GeoJSON")


@dataclasses.dataclass
class Case:
    paths: dict[str, object]
    result: lifecircle.AuditResult


@pytest.fixture(scope="module", params=[0, 2])
def case(request, tmp_path_factory) -> Case:
    """Placements 0 (one kindergarten) and 2 (two), no age data: the cohort is everyone."""
    seed = request.param
    paths = write_instance(tmp_path_factory.mktemp(f"cap{seed}"), seed, PLACEMENTS[seed])
    small_population(paths, seed, None)
    return Case(paths, tiny_audit(paths))


@pytest.fixture(scope="module")
def cohort_case(tmp_path_factory) -> Case:
    """Two kindergartens and a ``pop_age_3_5`` column (about 6 % of the residents)."""
    paths = write_instance(tmp_path_factory.mktemp("cap-cohort"), 2, PLACEMENTS[2])
    small_population(paths, 2, 0.06)
    return Case(paths, tiny_audit(paths))


# --------------------------------------------------------------------------- max flow


def max_flow(w: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray, float]]) -> float:
    """Largest assignment of ``w`` (per resident) to facilities: networkx, independent.

    ``pairs``: per facility, (residents within the threshold, ..., capacity).
    """
    g = nx.DiGraph()
    for i in np.flatnonzero(w > 0):
        g.add_edge("s", ("r", int(i)), capacity=float(w[i]))
    for f, (rows, cap) in enumerate(pairs):
        for i in rows:
            if w[i] > 0:
                g.add_edge(("r", int(i)), ("f", f))  # no capacity: unlimited
        if np.isfinite(cap):
            g.add_edge(("f", f), "t", capacity=float(cap))
        else:
            g.add_edge(("f", f), "t")
    if "s" not in g or "t" not in g:
        return 0.0
    return float(nx.maximum_flow_value(g, "s", "t"))


def reach_lists(dist: sp.spmatrix, threshold_m: float) -> list[np.ndarray]:
    """Per column, the rows within the threshold (stored zeros count)."""
    csc = sp.csc_matrix(dist)
    out = []
    for j in range(csc.shape[1]):
        rows = csc.indices[csc.indptr[j] : csc.indptr[j + 1]]
        vals = csc.data[csc.indptr[j] : csc.indptr[j + 1]]
        out.append(rows[vals <= threshold_m])
    return out


def brute_capacitated(s: SitingProblem, k: int, capacity: float) -> tuple[float, float]:
    """Served before (networkx) and the best gain of any ``k`` candidates (networkx)."""
    w = s.weights
    existing, cap_e = s.existing_pairs()
    base = list(zip(reach_lists(existing, s.threshold_m), cap_e, strict=True))
    sites = reach_lists(s.distance, s.threshold_m)
    before = max_flow(w, base)
    m = len(sites)
    best = max(
        max_flow(w, base + [(sites[j], capacity) for j in subset])
        for subset in itertools.combinations(range(m), min(k, m))
    )
    return before, best - before


# --------------------------------------------------------------------------- before


def test_before_is_the_audits_placed_total(case):
    r = case.result
    fair = r.summary.fair_service[CAT]
    s = SitingProblem.from_audit(r, CAT, candidates=random_candidates(0, 6))
    sol = s.solve(sites=1, capacity=100.0)
    figures = sol.summary()["capacity_model"]
    served = s.served_before()
    assert figures["placed_before"] == pytest.approx(float(served.sum()), abs=1e-3)
    assert float(served.sum()) == pytest.approx(
        fair.placed_share * fair.demand, abs=1e-6 * fair.demand + 1e-9
    )
    assert figures["placed_share_before"] == pytest.approx(fair.placed_share, abs=1e-6)
    # the audit's existing capacities: the standard's default for every kindergarten
    _, cap_e = s.existing_pairs()
    assert np.all(cap_e == DEFAULT_PLACES)
    # and an independent max flow on the same pairs gives the same total
    before, _ = brute_capacitated(s, 0, 100.0)
    assert before == pytest.approx(float(served.sum()), abs=1e-6)
    # the capacity binds somewhere: an existing kindergarten is full
    assert (
        r.facilities.loc[r.facilities["category"] == CAT, "load"] >= DEFAULT_PLACES - 1e-6
    ).any()


# --------------------------------------------------------------------------- exact


@pytest.mark.parametrize(("k", "capacity"), [(1, 60.0), (2, 150.0), (3, 270.0), (2, 1e9)])
def test_milp_equals_brute_force_max_flow(case, k, capacity):
    s = SitingProblem.from_audit(case.result, CAT, candidates=random_candidates(3, 7))
    before, best = brute_capacitated(s, k, capacity)
    sol = s.solve(sites=k, capacity=capacity, mip_rel_gap=0.0)
    assert sol.status == "optimal"
    assert sol.objective == pytest.approx(best, abs=OBJ_TOL)
    assert sol.bound >= best - OBJ_TOL
    assert sol.greedy_objective <= sol.objective + OBJ_TOL
    figures = sol.capacity_figures
    assert figures["placed_before"] == pytest.approx(before, abs=1e-3)
    assert figures["placed_after"] == pytest.approx(before + best, abs=1e-3)
    # the chosen sites really achieve it (a max flow of their own)
    w = s.weights
    existing, cap_e = s.existing_pairs()
    sites = reach_lists(s.distance, s.threshold_m)
    pairs = list(zip(reach_lists(existing, s.threshold_m), cap_e, strict=True))
    pairs += [(sites[j], capacity) for j in sol.selected]
    assert max_flow(w, pairs) - before == pytest.approx(sol.objective, abs=1e-3)
    # marginals in proposal order add up to the objective; no site exceeds its capacity
    props = sol.proposals()
    assert props["marginal_newly_covered"].sum() == pytest.approx(
        sol.objective, abs=0.05 * k + 1e-6
    )
    assert (sol.site_served <= capacity + 1e-6).all()
    assert float(sol.served_after.sum()) == pytest.approx(before + best, abs=1e-3)
    assert np.all(sol.served_after <= w + 1e-9)


def synthetic_capacitated(base: SitingProblem, seed: int) -> tuple[SitingProblem, float]:
    """Random residents, two existing facilities with finite capacities, 6 candidates."""
    rng = np.random.default_rng(seed)
    n, m, t = 14, 6, base.threshold_m
    w = rng.integers(1, 30, n).astype(float)
    near = rng.random((n, 2)) < 0.35
    e_rows, e_cols = np.nonzero(near)
    existing = sp.csr_matrix((rng.uniform(1, t, e_rows.size), (e_rows, e_cols)), shape=(n, 2))
    dist_m = np.full(n, np.nan)
    for i, j in zip(e_rows, e_cols, strict=True):
        dist_m[i] = np.fmin(dist_m[i], existing[i, j])
    demand = base.demand.iloc[np.zeros(n, int)].reset_index(drop=True)
    demand["population"] = w
    demand["need"] = w
    demand["unit_id"] = rng.choice(["A", "B"], n)
    demand["dist_m"] = dist_m
    demand["covered"] = dist_m <= t
    mask = rng.random((n, m)) < 0.3
    rows, cols = np.nonzero(mask)
    # some pairs beyond the threshold: stored, but they do not reach
    vals = rng.uniform(1, t * 1.3, rows.size)
    cand = base.candidates.iloc[np.zeros(m, int)].reset_index(drop=True)
    cand["candidate_id"] = np.arange(m)
    problem = dataclasses.replace(
        base,
        demand=demand,
        distance=sp.csr_matrix((vals, (rows, cols)), shape=(n, m)),
        candidates=cand,
        radius_m=t * 1.3,
        existing_distance=existing,
        existing_capacity=rng.integers(10, 60, 2).astype(float),
    )
    return problem, float(rng.integers(15, 80))


@pytest.fixture(scope="module")
def base_problem(case) -> SitingProblem:
    return SitingProblem.from_audit(case.result, CAT, candidates=random_candidates(0, 3))


@pytest.mark.parametrize("seed", range(12))
def test_random_instances_with_reassignment_match_brute_force(base_problem, seed):
    s, capacity = synthetic_capacitated(base_problem, seed)
    for k in (1, 2, 3):
        before, best = brute_capacitated(s, k, capacity)
        sol = s.solve(sites=k, capacity=capacity, mip_rel_gap=0.0)
        assert sol.capacity_figures["placed_before"] == pytest.approx(before, abs=1e-3)
        assert sol.objective == pytest.approx(best, abs=OBJ_TOL), k
        assert sol.greedy_objective <= sol.objective + OBJ_TOL
        assert sol.bound >= best - OBJ_TOL
    # set covering: the fewest sites that reach a target placed share
    total = float(s.weights.sum())
    _, best_all = brute_capacitated(s, s.distance.shape[1], capacity)
    if best_all > 1e-6:
        target = (before + 0.8 * best_all) / total
        sol = s.solve(target_coverage=target, capacity=capacity)
        fewest = next(
            k
            for k in range(s.distance.shape[1] + 1)
            if brute_capacitated(s, k, capacity)[1] >= 0.8 * best_all - 1e-6
        )
        assert sol.objective == fewest == len(sol.selected)
        assert sol.capacity_figures["placed_share_after"] >= target - 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_fallback_bounds_stay_valid_with_reassignment(base_problem, seed, monkeypatch):
    s, capacity = synthetic_capacitated(base_problem, seed)
    _, best = brute_capacitated(s, 2, capacity)
    monkeypatch.setattr(lm, "milp", give_up)
    sol = s.solve(sites=2, capacity=capacity)
    assert sol.status in ("greedy", "optimal")
    assert sol.bound >= best - OBJ_TOL  # every reported bound holds
    assert sol.bound_source not in ("greedy_guarantee", "greedy_plus_gains")
    assert sol.objective <= best + OBJ_TOL


# --------------------------------------------------------------------------- re-audit


def io_keeps_capacity(folder: Path, std) -> bool:
    """Whether reading a facility file keeps its ``capacity`` column."""
    probe = folder / "probe.geojson"
    gpd.GeoDataFrame(
        {"category": [CAT], "capacity": [123.0]},
        geometry=gpd.points_from_xy([121.47], [31.23]),
        crs="EPSG:4326",
    ).to_file(probe, driver="GeoJSON")
    return "capacity" in read_facilities(probe, std).columns


def assert_placed_reproduced(sol, after: lifecircle.AuditResult) -> None:
    fair = after.summary.fair_service[CAT]
    figures = sol.summary()["capacity_model"]
    assert figures["placed_share_after"] == pytest.approx(fair.placed_share, abs=1e-6)
    assert figures["placed_after"] == pytest.approx(fair.placed_share * fair.demand, abs=1e-3)
    mine = sol.placed_by_unit()
    for level, table in after.units.items():
        want = table.set_index("unit_id")[f"placed_{CAT}"]
        got = mine[level]["placed_share_after"].reindex(want.index)
        assert np.allclose(got.to_numpy(float), want.to_numpy(float), atol=1e-6, equal_nan=True), (
            level
        )
    per_unit = {(u["level"], u["unit_id"]): u for u in sol.summary()["units"]}
    for (level, uid), row in per_unit.items():
        want = after.units[level].set_index("unit_id").loc[uid, f"placed_{CAT}"]
        assert row["placed_share_after"] == pytest.approx(want, abs=1e-6)
    # the new sites were read with the capacity the optimizer gave them
    new = after.facilities[
        after.facilities["name"].isna() | after.facilities["name"].astype(str).str.startswith(CAT)
    ]
    assert len(new) >= len(sol.selected)


def test_reaudit_reproduces_placed_at_the_default_capacity(case, tmp_path):
    """New sites at the standard's 270 places: a re-audit gives them that capacity anyway."""
    s = SitingProblem.from_audit(case.result, CAT, candidates=random_candidates(1, 10))
    sol = s.solve(sites=3, capacity=DEFAULT_PLACES)
    assert len(sol.selected) >= 1
    props = sol.proposals()
    assert (props["capacity"] == DEFAULT_PLACES).all()
    after = reaudit(case.paths, sol, tmp_path)
    assert_placed_reproduced(sol, after)
    # coverage by distance is reproduced as before
    assert sol.summary()["coverage_after"] == pytest.approx(after.summary.coverage[CAT], abs=1e-9)


def test_reaudit_reproduces_placed_at_another_capacity(case, tmp_path):
    std = case.result.standard
    if not io_keeps_capacity(tmp_path, std):
        pytest.skip(
            "io/facilities.py drops the capacity column of a facility file, so a re-audit "
            "gives new sites the standard's default (needs the io change)"
        )
    s = SitingProblem.from_audit(case.result, CAT, candidates=random_candidates(1, 10))
    sol = s.solve(sites=3, capacity=120.0)
    assert (sol.proposals()["capacity"] == 120.0).all()
    assert_placed_reproduced(sol, reaudit(case.paths, sol, tmp_path))


# --------------------------------------------------------------------------- cohort


def test_demand_is_the_cohort(cohort_case, tmp_path):
    r = cohort_case.result
    acc = r.access
    assert not np.allclose(acc["pop_age_3_5"], acc["population"])  # age data given
    s = SitingProblem.from_audit(r, CAT, candidates=random_candidates(2, 8))
    assert s.cohort == "age_3_5"
    assert np.array_equal(s.weights, acc["pop_age_3_5"].to_numpy(float))
    summary_notes = " ".join(s.problem_notes)
    assert "children aged 3-5" in summary_notes
    # uncapacitated: the objective counts children newly within the threshold
    sol = s.solve(sites=2, mip_rel_gap=0.0)
    w_unc = s.weights * ~s.demand["covered"].to_numpy()
    cover = _cover(s)
    best = max(
        float(w_unc[cover[:, list(c)].any(axis=1)].sum())
        for c in itertools.combinations(range(cover.shape[1]), 2)
    )
    assert sol.objective == pytest.approx(best, abs=OBJ_TOL)
    out = sol.summary()
    assert out["cohort"] == "age_3_5" and out["cohort_name"] == "children aged 3-5"
    assert out["demand"] == pytest.approx(float(acc["pop_age_3_5"].sum()), abs=0.05)
    assert out["newly_covered_cohort"] == pytest.approx(sol.objective, abs=0.05)
    # capacitated: before is the audit's placed children, after what a re-audit places
    capped = s.solve(sites=2, capacity=DEFAULT_PLACES)
    fair = r.summary.fair_service[CAT]
    assert capped.capacity_figures["placed_share_before"] == pytest.approx(
        fair.placed_share, abs=1e-6
    )
    assert_placed_reproduced(capped, reaudit(cohort_case.paths, capped, tmp_path))


# --------------------------------------------------------------------------- no capacity


def test_without_capacity_the_model_is_unchanged(case):
    s = SitingProblem.from_audit(case.result, CAT, candidates=random_candidates(4, 9))
    sol = s.solve(sites=2, mip_rel_gap=0.0)
    # no age data: the cohort is every resident, covered by distance, existing unlimited
    assert np.array_equal(s.weights, s.demand["population"].to_numpy(float))
    assert sol.objective == pytest.approx(brute_mclp(s, 2), abs=OBJ_TOL)
    assert sol.served_after is None and not sol.capacity_figures
    assert sol.bound_source in lm.BOUND_TEXT
    out = sol.summary()
    assert "capacity_model" not in out and out["capacity"] is None
    assert out["newly_covered_population"] == pytest.approx(sol.objective, abs=0.05)
    assert sol.proposals()["capacity"].isna().all()
