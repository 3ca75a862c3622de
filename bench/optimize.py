"""Benchmark of the site optimizer on the bundled sample: MCLP speed, time-limit honesty.

Run from the repository root::

    python bench/optimize.py                 # MCLP, N = 10, all 300 auto candidates
    python bench/optimize.py --sites 5 --n-candidates 100
    python bench/optimize.py --objective distance --time-limit 10   # p-median, overruns

Steps, each timed: the audit of the bundled central-Shanghai sample; the siting problem
(auto candidates by k-means of uncovered residents, then the sparse candidate x resident
coverage matrix by bounded Dijkstra); the model (MCLP, or p-median with ``--objective
distance``) solved by HiGHS (``scipy.optimize.milp``, in a child process killed at the
deadline), warm-bounded by lazy greedy.

Targets: MCLP proven optimal within 30 s (issue 4); every solve, whatever its status,
ends within ``--time-limit`` plus :data:`OVERHEAD_S` (the wall clock of ``solve()`` is
measured here, not the solver's own report). The p-median with 300 candidates does not
finish in 10 s, so ``--objective distance --time-limit 10`` checks the deadline.

If spopt is importable (it is not a lifecircle dependency: ``pip install spopt``), the
same MCLP coverage matrix is also solved with ``spopt.locate.MCLP.from_cost_matrix`` (a
dense matrix restricted to the uncovered residents and the candidates, service radius =
the threshold, weights = population; CBC through PuLP, or HiGHS if PuLP has it) in the
same run, and both objectives and the time ratio are printed. Exit code 1 if the
objectives disagree beyond the MIP gap, or if a target is missed.

**Scaling part** (``--scaling``, issue 11): a synthetic city (a generated street grid,
as ``bench/fair.py`` Part 2: 80 m blocks, ``--side`` x ``--side`` nodes, ~200,000
resident points, existing facilities at random nodes, one per ``HA_PER_FACILITY`` ha)
and the MCLP for one category at 1,000 / 3,000 / 10,000 auto candidates (k-means of
the uncovered residents, :func:`lifecircle.candidates.cluster_centres`, snapped to
nodes)::

    python bench/optimize.py --scaling                       # 1k, 3k, 10k candidates
    python bench/optimize.py --scaling --sizes 1000 --sites 50 --no-spopt

Every size runs in a fresh child process (this script re-invoked) so that its peak
memory (the child's and its HiGHS process's ``ru_maxrss``) is its own. Per size: the
time of candidate generation, of the coverage matrix, and of the solve (wall), the
status, gap, bound and the exact reductions' sizes; then spopt's MCLP
(``spopt.locate.MCLP.from_cost_matrix``, dense uncovered-and-reached residents x
candidates, PuLP's HiGHS or CBC) in another child, killed after ``--spopt-limit`` s,
or skipped with the reason when its dense matrix would not fit (``SPOPT_MAX_CELLS``).
More models (e.g. multi-category MCLP) plug in with :func:`register_scaling_model`: a
function ``(city, n_candidates, args) -> dict`` run in the same child, on the same
synthetic city.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import json
import os
import platform
import re
import sys
import time

import numpy as np

TARGET_S = 30.0
RESULT_TAG = "@@RESULT@@ "
GRID_SPACING_M = 80.0
#: Existing facilities of the category: one per this many hectares (random nodes).
HA_PER_FACILITY = 100.0
#: Threshold walk of the synthetic category (metres).
SCALING_THRESHOLD_M = 500.0
#: spopt gets a dense matrix: skipped above this many cells (8 bytes each, plus PuLP).
SPOPT_MAX_CELLS = 150_000_000
#: What a solve may take beyond its time limit (greedy bookkeeping, killing HiGHS).
OVERHEAD_S = 1.0


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "-"


def run_spopt(siting, sites: int) -> dict | None:
    """Solve the same MCLP with spopt; None (with a message) when spopt is not installed."""
    try:
        import pulp
        from spopt.locate import MCLP
    except ImportError as exc:
        log(
            f"spopt comparison skipped: spopt is not importable ({exc}); "
            "`pip install spopt` to run it"
        )
        return None
    uncovered = ~siting.demand["covered"].to_numpy()
    dist = siting.distance[uncovered].toarray()  # uncovered residents x candidates
    dist[dist == 0] = np.inf  # not stored = beyond the threshold
    weights = siting.demand["population"].to_numpy()[uncovered]
    highs = pulp.HiGHS(msg=False)
    solver = highs if highs.available() else pulp.PULP_CBC_CMD(msg=False)
    solver_name = "HiGHS (PuLP)" if solver is highs else "CBC (PuLP)"
    t0 = time.perf_counter()
    model = MCLP.from_cost_matrix(
        dist, weights, service_radius=siting.threshold_m, p_facilities=sites
    )
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = model.solve(solver, results=False)
    t_solve = time.perf_counter() - t0
    chosen = np.array([j for j, v in enumerate(model.fac_vars) if v.value() > 0.5])
    # what the chosen sites cover, recounted on lifecircle's matrix
    cover = siting.distance[uncovered][:, chosen] if len(chosen) else None
    recount = (
        float(weights[np.asarray(cover.sum(axis=1)).ravel() > 0].sum())
        if cover is not None
        else 0.0
    )
    return {
        "solver": solver_name,
        "status": pulp.LpStatus[model.problem.status],
        "objective": float(pulp.value(model.problem.objective)),
        "objective_recounted": recount,
        "sites": len(chosen),
        "build_s": t_build,
        "solve_s": t_solve,
        "total_s": t_build + t_solve,
        "matrix_shape": list(dist.shape),
        "spopt": _version("spopt"),
        "pulp": _version("pulp"),
    }


# --------------------------------------------------------------------------- scaling part


def synthetic_city(side: int, n_origins: int, seed: int = 7) -> dict:
    """A street grid with residents and existing facilities of one category (see above)."""
    import geopandas as gpd
    import pandas as pd

    import lifecircle
    from lifecircle._site_distances import site_distances
    from lifecircle.snap import snap_points

    crs = "EPSG:32651"
    x0, y0 = 300_000.0, 3_400_000.0
    t0 = time.perf_counter()
    g = lifecircle.grid_graph(side, side, spacing_m=GRID_SPACING_M, origin=(x0, y0), crs=crs)
    rng = np.random.default_rng(seed)
    extent = (side - 1) * GRID_SPACING_M
    ox, oy = x0 + rng.uniform(0, extent, n_origins), y0 + rng.uniform(0, extent, n_origins)
    pop = rng.uniform(5, 50, n_origins)
    origins = snap_points(g, ox, oy, rule="node")
    n_fac = max(1, int(extent * extent / 1e4 / HA_PER_FACILITY))
    fac_nodes = rng.integers(0, g.n_nodes, n_fac)
    fac = snap_points(g, g.x[fac_nodes], g.y[fac_nodes], rule="node")
    existing = site_distances(
        g, fac, np.arange(n_fac), origins, radius_m=SCALING_THRESHOLD_M, n_groups=n_fac
    )
    covered = np.diff(existing.indptr) > 0
    demand = pd.DataFrame(
        {
            "origin_id": np.arange(n_origins),
            "population": pop,
            "unit_id": ((ox - x0) // (extent / 10)).astype(int).astype(str),
            "node": origins.node,
            "snap_m": origins.snap_m,
            "dist_m": np.where(covered, 0.0, np.nan),
            "covered": covered,
        }
    )
    uncovered = gpd.GeoDataFrame(
        {"population": pop[~covered]},
        geometry=gpd.points_from_xy(ox[~covered], oy[~covered]),
        crs=crs,
    )
    return {
        "graph": g,
        "origins": origins,
        "demand": demand,
        "uncovered": uncovered,
        "build_s": time.perf_counter() - t0,
        "existing_facilities": n_fac,
    }


def scaling_problem(city: dict, n_candidates: int) -> tuple[object, dict]:
    """The SitingProblem of the synthetic city with ``n_candidates`` auto candidates."""
    from typing import cast

    from lifecircle._site_distances import site_distances
    from lifecircle.candidates import candidates_auto
    from lifecircle.pipeline import AuditResult
    from lifecircle.siting import SitingProblem
    from lifecircle.snap import snap_points

    g = city["graph"]
    t0 = time.perf_counter()
    cand = candidates_auto(g, city["uncovered"], n_candidates=n_candidates, snap="node")
    t_cand = time.perf_counter() - t0
    t0 = time.perf_counter()
    pts = snap_points(g, cand.geometry.x.to_numpy(), cand.geometry.y.to_numpy(), rule="node")
    dist = site_distances(
        g,
        pts,
        np.arange(len(cand)),
        city["origins"],
        radius_m=SCALING_THRESHOLD_M,
        n_groups=len(cand),
    )
    t_dist = time.perf_counter() - t0
    problem = SitingProblem(
        result=cast(AuditResult, None),  # the models read demand, distance and threshold
        category="kindergarten",
        threshold_m=SCALING_THRESHOLD_M,
        demand=city["demand"],
        candidates=cand,
        distance=dist.tocsr(),
        radius_m=SCALING_THRESHOLD_M,
        candidate_source=f"bench: {len(cand)} auto candidates",
    )
    return problem, {
        "candidates": len(cand),
        "candidates_s": round(t_cand, 2),
        "coverage_matrix_s": round(t_dist, 2),
        "matrix_nnz": int(dist.nnz),
    }


def scaling_mclp(city: dict, problem, args) -> dict:
    """lifecircle's MCLP on the synthetic city."""
    t0 = time.perf_counter()
    s = problem.solve(sites=args.sites, time_limit_s=args.time_limit)
    wall = time.perf_counter() - t0
    reduction = next((n for n in s.notes if n.startswith("exact reductions")), "")
    return {
        "status": s.status,
        "objective": s.objective,
        "bound": s.bound,
        "bound_source": s.bound_source,
        "mip_gap": s.mip_gap,
        "greedy_objective": s.greedy_objective,
        "solve_s": round(wall, 2),
        "solver_s": s.solver_info.get("seconds"),
        "past_time_limit_s": round(max(0.0, wall - args.time_limit), 2),
        "reductions": reduction,
        "sites": len(s.selected),
    }


#: Thresholds of the multi-category model's three categories (metres, within the
#: coverage matrix's radius, so one bounded search serves all three).
MULTI_THRESHOLDS_M = (500.0, 400.0, 300.0)


def scaling_multi(city: dict, problem, args) -> dict:
    """Multi-category MCLP (the complete life circle of three categories) on the same city.

    Three categories with thresholds :data:`MULTI_THRESHOLDS_M` share the candidates: the
    reach of each is the coverage matrix cut at its threshold; the existing facilities of
    the first are the city's, those of the others fresh random nodes (half as many each).
    The model is :mod:`lifecircle._complete_models` / ``_complete_milp.solve_model``, as
    ``lifecircle optimize --categories a,b,c --sites N`` runs it (a total budget of N).
    """
    import pandas as pd

    from lifecircle import _complete_milp as milp
    from lifecircle import _complete_models as cm
    from lifecircle._site_distances import site_distances
    from lifecircle.snap import snap_points

    g, origins, demand = city["graph"], city["origins"], city["demand"]
    rng = np.random.default_rng(11)
    t0 = time.perf_counter()
    reach, covered = [], []
    for c, thr in enumerate(MULTI_THRESHOLDS_M):
        within = problem.distance.copy().tocsr()
        within.data = (within.data <= thr).astype(float)
        within.eliminate_zeros()
        reach.append(within)
        if c == 0:
            covered.append(demand["covered"].to_numpy(bool))
            continue
        n_fac = max(1, city["existing_facilities"] // 2)
        nodes = rng.integers(0, g.n_nodes, n_fac)
        fac = snap_points(g, g.x[nodes], g.y[nodes], rule="node")
        near = site_distances(g, fac, np.arange(n_fac), origins, radius_m=thr, n_groups=n_fac)
        covered.append(np.diff(near.tocsr().indptr) > 0)
    codes, ids = pd.factorize(demand["unit_id"].astype(str), sort=True)
    inst = cm.Instance(
        np.column_stack(covered),
        tuple(reach),
        demand["population"].to_numpy(float),
        np.asarray(codes, np.int64),
        len(ids),
    )
    red = cm.reduce_instance(inst)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = milp.solve_model(
        red,
        cm.Budget(total=args.sites),
        cm.Goal("coverage"),
        deadline=time.monotonic() + args.time_limit,
        time_limit_s=args.time_limit,
        mip_rel_gap=1e-4,
    )
    wall = time.perf_counter() - t0
    incomplete = int((~inst.covered.all(axis=1)).sum())
    return {
        "status": out.status,
        "objective": out.objective,
        "bound": out.bound if out.bound is not None else float("nan"),
        "bound_source": out.bound_source,
        "mip_gap": out.mip_gap,
        "greedy_objective": out.greedy_objective,
        "solve_s": round(wall, 2),
        "build_s": round(build_s, 2),
        "solver_s": out.solver_info.get("seconds"),
        "past_time_limit_s": round(max(0.0, wall - args.time_limit), 2),
        "reductions": (
            f"{incomplete:,} residents -> {red.n_groups:,} weighted groups, "
            f"{inst.n_cand:,} candidates -> {out.solver_info.get('site_variables', 0):,} "
            "candidates (site x category pairs)"
        ),
        "sites": int(out.hosts.any(axis=1).sum()),
    }


#: name -> function(city, problem, args) -> dict, run on the same city and candidates.
SCALING_MODELS: dict = {"mclp": scaling_mclp, "multi": scaling_multi}


def register_scaling_model(name: str, run) -> None:
    """Add a model to the scaling part (e.g. multi-category MCLP), run per size."""
    SCALING_MODELS[name] = run


def _peak_mb() -> dict:
    import resource

    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"peak_rss_mb": round(own), "peak_rss_solver_child_mb": round(kids)}


def child_scaling(args) -> dict:
    """One size of the scaling part, in its own process."""
    import warnings

    warnings.simplefilter("ignore")
    city = synthetic_city(args.side, args.origins)
    problem, info = scaling_problem(city, args.child_scaling)
    out = {
        "nodes": city["graph"].n_nodes,
        "origins": args.origins,
        "uncovered": int((~city["demand"]["covered"]).sum()),
        "existing_facilities": city["existing_facilities"],
        "city_s": round(city["build_s"], 2),
        **info,
        "models": {},
    }
    for name in args.models:
        out["models"][name] = SCALING_MODELS[name](city, problem, args)
    if args.spopt_dump:
        uncovered = ~problem.demand["covered"].to_numpy()
        sub = problem.distance[uncovered].tocsr()
        reached = np.diff(sub.indptr) > 0
        sub = sub[reached]
        weights = problem.demand["population"].to_numpy()[uncovered][reached]
        cells = sub.shape[0] * sub.shape[1]
        out["spopt_matrix"] = [int(sub.shape[0]), int(sub.shape[1])]
        if cells <= SPOPT_MAX_CELLS:
            import scipy.sparse as sps

            sps.save_npz(args.spopt_dump, sub)
            np.save(args.spopt_dump + ".w.npy", weights)
    out.update(_peak_mb())
    return out


def child_spopt(args) -> dict:
    """spopt's MCLP on the matrix a scaling child saved."""
    import warnings

    import pulp
    import scipy.sparse as sps
    from spopt.locate import MCLP

    warnings.simplefilter("ignore")
    sub = sps.load_npz(args.child_spopt).tocsr()
    weights = np.load(args.child_spopt + ".w.npy")
    t0 = time.perf_counter()
    dist = sub.toarray()
    dist[dist == 0] = np.inf  # not stored = beyond the threshold
    highs = pulp.HiGHS(msg=False, timeLimit=args.spopt_limit)
    solver = (
        highs if highs.available() else pulp.PULP_CBC_CMD(msg=False, timeLimit=args.spopt_limit)
    )
    model = MCLP.from_cost_matrix(
        dist, weights, service_radius=SCALING_THRESHOLD_M, p_facilities=args.sites
    )
    t_build = time.perf_counter() - t0
    t0 = time.perf_counter()
    model = model.solve(solver, results=False)
    t_solve = time.perf_counter() - t0
    chosen = np.array([j for j, v in enumerate(model.fac_vars) if (v.value() or 0) > 0.5])
    recount = (
        float(weights[np.asarray(sub[:, chosen].sum(axis=1)).ravel() > 0].sum())
        if len(chosen)
        else 0.0
    )
    return {
        "solver": "HiGHS (PuLP)" if solver is highs else "CBC (PuLP)",
        "status": pulp.LpStatus[model.problem.status],
        "objective_recounted": round(recount, 3),
        "build_s": round(t_build, 2),
        "solve_s": round(t_solve, 2),
        **_peak_mb(),
    }


def _run_child(argv: list[str], timeout: float | None = None) -> dict | str:
    """Run this script with ``argv``; its result, or why there is none."""
    import subprocess

    try:
        proc = subprocess.run(
            [sys.executable, __file__, *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    except subprocess.TimeoutExpired:
        return f"stopped after {timeout:g} s"
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    return f"failed (exit {proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}"


def scaling(args) -> int:
    """The scaling part: a table row per size (see the module docstring)."""
    import tempfile

    common = [
        "--sites", str(args.sites), "--time-limit", str(args.time_limit),
        "--side", str(args.side), "--origins", str(args.origins),
        "--models", *args.models,
    ]  # fmt: skip
    print(
        f"## Scaling: synthetic {args.side}x{args.side} grid ({args.side**2:,} nodes), "
        f"{args.origins:,} residents, MCLP N={args.sites}, threshold "
        f"{SCALING_THRESHOLD_M:.0f} m, time limit {args.time_limit:g} s, "
        f"{os.cpu_count()} cores (shared)\n",
        flush=True,
    )
    print(
        "| candidates | uncovered | matrix nnz | candidates s | matrix s | model | status "
        "| solve s | gap | objective | bound (source) | reductions | peak MB |"
    )
    print("|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---|---|---:|", flush=True)
    ok = True
    rows = []
    for n in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            dump = os.path.join(tmp, "m.npz")
            spopt_argv = [] if args.no_spopt else ["--spopt-dump", dump]
            r = _run_child(["--child-scaling", str(n), *common, *spopt_argv])
            if isinstance(r, str):
                print(f"| {n:,} | size failed: {r} |", flush=True)
                ok = False
                continue
            for name, m in r["models"].items():
                pattern = r"([\d,]+) \(?(?:residents|weighted|candidates)"
                nums = re.findall(pattern, m["reductions"])
                red = (
                    f"{nums[0]} → {nums[1]} rows, {nums[2]} → {nums[3]} cand."
                    if len(nums) == 4
                    else "-"
                )
                peak = max(r["peak_rss_mb"], r["peak_rss_solver_child_mb"])
                print(
                    f"| {r['candidates']:,} | {r['uncovered']:,} | {r['matrix_nnz']:,} | "
                    f"{r['candidates_s']:.1f} | {r['coverage_matrix_s']:.1f} | {name} | "
                    f"{m['status']} | {m['solve_s']:.1f} | {m['mip_gap']} | "
                    f"{m['objective']:,.1f} | {m['bound']:,.1f} ({m['bound_source']}) | "
                    f"{red} | {peak:,} |",
                    flush=True,
                )
                ok = ok and m["past_time_limit_s"] <= OVERHEAD_S
            sp_res: dict | str
            if args.no_spopt:
                sp_res = "skipped (--no-spopt)"
            elif not os.path.exists(dump):
                rows_, cols = r.get("spopt_matrix", [0, 0])
                sp_res = (
                    f"skipped: its dense matrix would have {rows_:,} x {cols:,} = "
                    f"{rows_ * cols / 1e6:,.0f} M cells (> {SPOPT_MAX_CELLS / 1e6:,.0f} M, "
                    f"{rows_ * cols * 8 / 1e9:,.1f} GB before PuLP's model)"
                )
            else:
                sp_res = _run_child(
                    ["--child-spopt", dump, "--sites", str(args.sites),
                     "--spopt-limit", str(args.spopt_limit)],
                    timeout=args.spopt_limit + 60,  # model building included
                )  # fmt: skip
            r["spopt"] = sp_res
            rows.append(r)
    print()
    for r in rows:
        sp_res = r["spopt"]
        mclp = r["models"].get("mclp", {})
        if isinstance(sp_res, dict):
            print(
                f"- {r['candidates']:,} candidates: spopt {_version('spopt')} "
                f"({sp_res['solver']}) build {sp_res['build_s']:.1f} s + solve "
                f"{sp_res['solve_s']:.1f} s, status {sp_res['status']}, objective (recounted) "
                f"{sp_res['objective_recounted']:,.1f} vs lifecircle {mclp.get('objective')}, "
                f"peak {sp_res['peak_rss_mb']:,} MB (+ solver "
                f"{sp_res['peak_rss_solver_child_mb']:,} MB)"
            )
        else:
            print(f"- {r['candidates']:,} candidates: spopt {sp_res}")
    if args.json:
        print(json.dumps(rows, indent=2, default=float))
    return 0 if ok else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--category", default="kindergarten")
    ap.add_argument("--sites", type=int, default=10)
    ap.add_argument(
        "--objective",
        choices=["coverage", "distance"],
        default="coverage",
        help="coverage = MCLP (default), distance = p-median",
    )
    ap.add_argument("--n-candidates", type=int, default=300)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--no-spopt", action="store_true", help="skip the spopt comparison")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--scaling", action="store_true", help="the scaling part (synthetic city)")
    ap.add_argument("--sizes", type=int, nargs="*", default=[1000, 3000, 10000])
    ap.add_argument("--side", type=int, default=500, help="grid side (nodes) of the city")
    ap.add_argument("--origins", type=int, default=200_000, help="resident points of the city")
    ap.add_argument(
        "--models",
        nargs="*",
        default=["mclp", "multi"],
        help="scaling models to run (mclp; multi = three categories, the complete life circle)",
    )
    ap.add_argument("--spopt-limit", type=float, default=180.0, help="spopt's time limit (s)")
    ap.add_argument("--child-scaling", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--spopt-dump", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-spopt", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_scaling:
        print(RESULT_TAG + json.dumps(child_scaling(args), default=float))
        return 0
    if args.child_spopt:
        print(RESULT_TAG + json.dumps(child_spopt(args), default=float))
        return 0
    if args.scaling:
        if "--sites" not in sys.argv:
            args.sites = 100
        return scaling(args)

    import lifecircle
    from lifecircle.access import site_distances, snap_facilities
    from lifecircle.siting import SitingProblem, resident_snap

    out: dict = {
        "machine": {
            "python": platform.python_version(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
        },
        "versions": {p: _version(p) for p in ("lifecircle", "scipy", "numpy", "scikit-learn")},
    }
    log("audit of the bundled sample ...")
    t0 = time.perf_counter()
    result = lifecircle.audit()
    out["audit_s"] = time.perf_counter() - t0

    log(f"siting problem: {args.category}, auto candidates (k = {args.n_candidates}) ...")
    t0 = time.perf_counter()
    problem = SitingProblem.from_audit(
        result, args.category, n_candidates=args.n_candidates, objective=args.objective
    )
    out["from_audit_s"] = time.perf_counter() - t0
    # the coverage matrix alone, rebuilt from the same candidates (checked identical)
    settings = result.summary.settings
    rule, max_snap_m = settings.snap, settings.max_snap_m
    points = snap_facilities(result.graph, problem.candidates, rule=rule, max_snap_m=max_snap_m)
    t0 = time.perf_counter()
    again = site_distances(
        result.graph,
        points.snapped,
        points.facility,
        resident_snap(result, rule=rule, max_snap_m=max_snap_m),
        radius_m=problem.radius_m,
        n_groups=len(problem.candidates),
    )
    out["coverage_matrix_s"] = time.perf_counter() - t0
    assert (abs(again - problem.distance) > 1e-9).nnz == 0
    uncovered = int((~problem.demand["covered"]).sum())
    out["problem"] = {
        "category": args.category,
        "sites": args.sites,
        "threshold_m": problem.threshold_m,
        "radius_m": problem.radius_m,
        "residents": len(problem.demand),
        "uncovered_residents": uncovered,
        "candidates": len(problem.candidates),
        "matrix_nnz": int(problem.distance.nnz),
        "population": problem.population,
        "covered_before": problem.covered_before,
    }

    model = "MCLP" if args.objective == "coverage" else "p-median"
    log(
        f"{model} with N = {args.sites}, time limit {args.time_limit:g} s (HiGHS via "
        "scipy.optimize.milp) ..."
    )
    t0 = time.perf_counter()
    siting = problem.solve(sites=args.sites, time_limit_s=args.time_limit)
    wall = time.perf_counter() - t0
    summary = siting.summary()
    out["lifecircle"] = {
        "model": siting.model,
        "status": siting.status,
        "mip_gap": siting.mip_gap,
        "objective": siting.objective,
        "bound": siting.bound,
        "bound_source": siting.bound_source,
        "greedy_objective": siting.greedy_objective,
        "solve_s": wall,
        "runtime_s": siting.runtime_s,
        "time_limit_s": args.time_limit,
        "past_time_limit_s": max(0.0, wall - args.time_limit),
        "timings_s": dict(siting.timings_s),
        "solver_run": dict(siting.solver_info),
        "coverage_before": summary["coverage_before"],
        "coverage_after": summary["coverage_after"],
    }
    in_time = wall <= args.time_limit + OVERHEAD_S
    optimal_fast = args.objective != "coverage" or (siting.status == "optimal" and wall <= TARGET_S)
    ok = in_time and optimal_fast
    out["target_met"] = ok

    sp_res = (
        None if args.no_spopt or args.objective != "coverage" else run_spopt(siting, args.sites)
    )
    out["spopt"] = sp_res
    if sp_res is not None:
        gap = max(siting.mip_gap or 0.0, 1e-4)
        agree = abs(sp_res["objective"] - siting.objective) <= gap * abs(siting.objective) + 1e-3
        sp_res["objectives_agree"] = agree
        sp_res["time_ratio_spopt_over_lifecircle"] = sp_res["total_s"] / wall
        sp_res["solve_only_ratio"] = sp_res["solve_s"] / wall
        ok = ok and agree

    if args.json:
        print(json.dumps(out, indent=2, default=float))
    else:
        p, lc = out["problem"], out["lifecircle"]
        print(
            f"machine: {out['machine']['cores']} cores, Python {out['machine']['python']}, "
            f"scipy {out['versions']['scipy']}"
        )
        print(f"audit of the sample:            {out['audit_s']:7.2f} s")
        print(
            f"siting problem (from_audit):    {out['from_audit_s']:7.2f} s  "
            f"({p['candidates']} candidates, {p['uncovered_residents']} of {p['residents']} "
            f"residents uncovered)"
        )
        print(
            f"  of which coverage matrix:     {out['coverage_matrix_s']:7.2f} s  "
            f"({p['residents']} x {p['candidates']}, {p['matrix_nnz']} pairs within "
            f"{p['radius_m']:.0f} m)"
        )
        run = lc["solver_run"]
        print(
            f"{model} N={p['sites']} solve (wall):   {lc['solve_s']:7.2f} s  status "
            f"{lc['status']}, mip gap {lc['mip_gap']}, objective {lc['objective']:,.1f}, "
            f"bound {lc['bound']} ({lc['bound_source']}), greedy "
            f"{lc['greedy_objective']:,.1f}"
        )
        print(
            f"  HiGHS {run.get('seconds')} s in {run.get('where')} (stopped at the "
            f"deadline: {run.get('stopped_at_deadline')}); time limit "
            f"{lc['time_limit_s']:g} s, past it by {lc['past_time_limit_s']:.2f} s"
        )
        goal = f"optimal within {TARGET_S:.0f} s and " if args.objective == "coverage" else ""
        print(
            f"  coverage {lc['coverage_before']:.1%} -> {lc['coverage_after']:.1%}; target "
            f"({goal}within the time limit + {OVERHEAD_S:g} s): "
            f"{'met' if out['target_met'] else 'MISSED'}"
        )
        if sp_res is not None:
            print(
                f"spopt {sp_res['spopt']} MCLP ({sp_res['solver']}): build "
                f"{sp_res['build_s']:.2f} s + solve {sp_res['solve_s']:.2f} s = "
                f"{sp_res['total_s']:.2f} s, status {sp_res['status']}, objective "
                f"{sp_res['objective']:,.1f} (recounted {sp_res['objective_recounted']:,.1f})"
            )
            print(
                f"  objectives agree: {'yes' if sp_res['objectives_agree'] else 'NO'}; time "
                f"ratio spopt (build + solve) / lifecircle solve: "
                f"{sp_res['time_ratio_spopt_over_lifecircle']:.1f}x (solver call only: "
                f"{sp_res['solve_only_ratio']:.2f}x)"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
