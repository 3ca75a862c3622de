"""Benchmark of life-circle units (issue 10): lifecircle's partition against spopt's max-p.

Run from the repository root::

    python bench/delineate.py            # sample (10min, 5min) + grids of ~500 and ~2,000 blocks
    python bench/delineate.py --quick    # sample 10min + the ~500-block grid, no exact MILP

Every method runs on the same blocks, populations, contiguity and walk matrix:

- lifecircle ``partition`` (auto: the MILP when every parent has <= 300 blocks, else the
  heuristic), ``partition_heuristic`` and ``partition_exact`` (with a time limit, only on
  the smaller instances);
- spopt ``MaxPHeuristic`` with threshold = the range's minimum (max-p has no ceiling: it
  cannot enforce the maximum), attributes = the blocks' x, y (so that regions are
  compact in space), run per parent (nesting, like lifecircle) and per connected
  component of the parent's blocks (max-p needs a connected graph);
- spopt ``Skater`` with ``n_clusters`` = the number of units lifecircle found in that
  parent (no population constraint at all).

Compactness is scored the same way for every method: the walk (metres, read as minutes
at 72 m/min) from each block to its unit's centre, population-weighted mean and maximum.
lifecircle's centres are its own; for spopt's units the centre is the block minimising
the unit's residents beyond the walk limit, then their population-weighted walk (the
lifecircle rule, where every pair is within the limit). A pair missing from the walk
matrix (farther than the level's walk) counts as exactly the level's walk -- a lower
bound -- and the tables report how many blocks and residents it concerns.

spopt is optional (``pip install -e ".[bench]"``); without it only lifecircle runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

WALK_M_PER_MIN = 72.0
LEVELS = {"15min": (15, 50_000.0, 100_000.0), "10min": (10, 15_000.0, 25_000.0),
          "5min": (5, 5_000.0, 12_000.0)}  # fmt: skip
GRID_SPACING_M = 80.0
TOL = 1e-6


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- instances


def sample_instances(levels: list[str], walk_levels: float) -> list[dict]:
    """Street blocks of the bundled sample, parents = the analysed streets (15min: none).

    15-minute units (50k-100k residents) are drawn across the streets (30k-150k each),
    as ``lifecircle delineate --level 15min --across street`` does; 10 and 5 minutes
    nest in the streets. Walks reach ``walk_levels`` times the level's minutes.
    """
    import shapely

    import lifecircle
    from lifecircle import blocks as B
    from lifecircle.datasets import get_path

    t0 = time.perf_counter()
    r = lifecircle.audit()
    log(f"sample audit {time.perf_counter() - t0:.1f} s")
    g, h = r.graph, r.hierarchy
    finest = h.units[h.finest]
    analysed = finest[finest["unit_id"].astype(str).isin(r.analysed)].to_crs(g.crs)
    boundary = shapely.union_all(analysed.geometry.to_numpy())
    t0 = time.perf_counter()
    blocks = B.street_blocks(g, boundary)
    pop = B.block_population(blocks, get_path("central-shanghai")["population"]).population
    parent = B.block_parents(blocks, analysed)["parent_id"].astype(str).to_numpy()
    adj = B.block_adjacency(blocks)
    rep = shapely.point_on_surface(blocks.geometry.to_numpy())
    xy = np.column_stack([shapely.get_x(rep), shapely.get_y(rep)])
    log(f"sample blocks: {len(blocks)} in {time.perf_counter() - t0:.1f} s")
    out = []
    for level in levels:
        minutes, lo, hi = LEVELS[level]
        radius = minutes * WALK_M_PER_MIN * walk_levels
        _node, walk = B.block_centres_and_walks(g, blocks, radius_m=radius)
        across = level == "15min"
        out.append(
            {
                "name": f"sample {level}" + (" across streets" if across else ""),
                "pop": np.asarray(pop, float),
                "adj": adj,
                "walk": walk.tocsr(),
                "parent": np.full(len(parent), "district") if across else parent,
                "xy": xy,
                "lo": lo,
                "hi": hi,
                "radius": radius,
                "small": not across,
            }
        )
    return out


def grid_instance(
    rows: int, cols: int, parents: int, seed: int = 7, walk_levels: float = 1.0
) -> dict:
    """A rows x cols grid of 80 m blocks (as tests/test_partition.py builds), 10-minute range.

    Rook contiguity, Manhattan walks within 720 m, 200-800 residents per block, parents
    = ``parents`` vertical bands.
    """
    n = rows * cols
    ids = np.arange(n).reshape(rows, cols)
    e = np.vstack(
        [
            np.stack([ids[:, :-1].ravel(), ids[:, 1:].ravel()], 1),
            np.stack([ids[:-1, :].ravel(), ids[1:, :].ravel()], 1),
        ]
    )
    adj = sp.coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    adj = (adj + adj.T).tocsr()
    r, c = np.divmod(np.arange(n), cols)
    minutes, lo, hi = LEVELS["10min"]
    radius = minutes * WALK_M_PER_MIN * walk_levels
    # pairs within the radius only: |dr| + |dc| <= radius / spacing
    k = int(radius // GRID_SPACING_M)
    dr, dc = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1), indexing="ij")
    keep = np.abs(dr) + np.abs(dc) <= k
    dr, dc = dr[keep], dc[keep]
    ri = np.repeat(r, dr.size)
    ci = np.repeat(c, dr.size)
    rj, cj = ri + np.tile(dr, n), ci + np.tile(dc, n)
    ok = (rj >= 0) & (rj < rows) & (cj >= 0) & (cj < cols)
    i = np.repeat(np.arange(n), dr.size)[ok]
    j = (rj * cols + cj)[ok]
    w = (np.abs(ri - rj) + np.abs(ci - cj))[ok] * GRID_SPACING_M
    walk = sp.csr_matrix((np.where(w > 0, w, 1e-9), (i, j)), shape=(n, n))
    rng = np.random.default_rng(seed)
    pop = rng.integers(200, 801, n).astype(float)
    parent = np.minimum(c * parents // cols, parents - 1)
    return {
        "name": f"grid {rows}x{cols} ({n} blocks, {parents} parent{'s' * (parents > 1)})",
        "pop": pop,
        "adj": adj,
        "walk": walk,
        "parent": parent.astype(str),
        "xy": np.column_stack([c * GRID_SPACING_M, r * GRID_SPACING_M]).astype(float),
        "lo": lo,
        "hi": hi,
        "radius": radius,
        "small": n <= 600,
    }


# ----------------------------------------------------------------------------- scoring


def best_centres(inst: dict, unit: np.ndarray) -> np.ndarray:
    """Per unit, the block minimising (residents beyond the walk limit, weighted walk)."""
    pop, walk, radius = inst["pop"], inst["walk"], inst["radius"]
    k = int(unit.max()) + 1
    centre = np.empty(k, dtype=np.int64)
    order = np.argsort(unit, kind="stable")
    starts = np.searchsorted(unit[order], np.arange(k + 1))
    for u in range(k):  # per unit (tens of blocks each), not per block
        idx = order[starts[u] : starts[u + 1]]
        sub = walk[idx][:, idx].toarray()
        np.fill_diagonal(sub, 1e-9)
        missing = sub == 0
        cost = np.where(missing, radius, sub)
        far = pop[idx] @ missing
        wsum = pop[idx] @ cost
        centre[u] = idx[np.lexsort((wsum, far))[0]]
    return centre


def score(inst: dict, unit: np.ndarray, centre: np.ndarray, seconds: float) -> dict:
    """Units, share in range, walks to centre (minutes), missing pairs."""
    pop, walk, lo, hi, radius = inst["pop"], inst["walk"], inst["lo"], inst["hi"], inst["radius"]
    n = pop.size
    k = centre.size
    upop = np.bincount(unit, weights=pop, minlength=k)
    inr = (upop >= lo - TOL) & (upop <= hi + TOL)
    c = centre[unit]
    w = np.asarray(walk[np.arange(n), c]).ravel()
    own = c == np.arange(n)
    missing = (w == 0) & ~own
    w = np.where(own, 0.0, np.where(missing, radius, w))
    live = pop > 0
    return {
        "seconds": seconds,
        "units": int(k),
        "units_in_range": float(inr.mean()) if k else 0.0,
        "residents_in_range": float(pop[inr[unit]].sum() / pop.sum()),
        "below": int(np.count_nonzero(upop < lo - TOL)),
        "above": int(np.count_nonzero(upop > hi + TOL)),
        "mean_walk_min": float(pop @ w / pop.sum() / WALK_M_PER_MIN),
        "max_walk_min": float(w[live].max() / WALK_M_PER_MIN) if live.any() else 0.0,
        "missing_blocks": int(np.count_nonzero(missing & live)),
        "missing_residents": float(pop[missing].sum()),
    }


# ----------------------------------------------------------------------------- methods


def problem_of(inst: dict, nested: bool = True):
    from lifecircle.partition import PartitionProblem

    parent = inst["parent"] if nested else np.zeros(inst["pop"].size, dtype=int)
    return PartitionProblem(inst["pop"], inst["adj"], inst["walk"], parent, inst["lo"], inst["hi"])


def run_lifecircle(inst: dict, method: str, limit: float, nested: bool = True):
    from lifecircle import partition as P

    pb = problem_of(inst, nested)
    t0 = time.perf_counter()
    if method == "auto":
        res = P.partition(pb, time_limit_s=limit)
    elif method == "heuristic":
        res = P.partition_heuristic(pb, time_limit_s=limit)
    else:
        res = P.partition_exact(pb, time_limit_s=limit)
    sec = time.perf_counter() - t0
    out = score(inst, res.unit, res.centre, sec)
    out["status"] = f"{res.status}, gap {res.gap:.1%}"
    return out, res.unit


def _groups(inst: dict, nested: bool) -> list[np.ndarray]:
    """Blocks of each (parent, connected component): spopt's regions cannot span them."""
    n = inst["pop"].size
    parent = inst["parent"] if nested else np.zeros(n, dtype=int)
    _, code = np.unique(parent, return_inverse=True)
    a = inst["adj"].tocoo()
    same = code[a.row] == code[a.col]
    adj = sp.csr_matrix((np.ones(same.sum()), (a.row[same], a.col[same])), shape=(n, n))
    _, comp = connected_components(adj, directed=False)
    order = np.argsort(comp, kind="stable")
    cuts = np.flatnonzero(np.diff(comp[order])) + 1
    return np.split(order, cuts)


def run_spopt(inst: dict, method: str, args, k_of=None, nested: bool = True):
    """max-p or SKATER per (parent, component); blocks it leaves out form one leftover unit."""
    import geopandas as gpd
    import libpysal
    import shapely
    from spopt.region import MaxPHeuristic, Skater

    pop, xy, adjm = inst["pop"], inst["xy"], inst["adj"].tocsr()
    unit = np.full(pop.size, -1, dtype=np.int64)
    nxt = gave_up = 0
    t0 = time.perf_counter()
    for idx in _groups(inst, nested):
        total = pop[idx].sum()
        want = 0 if k_of is None else k_of(idx)
        if idx.size == 1 or (total < inst["lo"] if method == "maxp" else want <= 1):
            unit[idx] = nxt  # max-p finds no region here: the whole group as one unit
            nxt += 1
            continue
        sub = adjm[idx][:, idx]
        neigh = {t: [int(v) for v in sub.indices[sub.indptr[t] : sub.indptr[t + 1]]]
                 for t in range(idx.size)}  # fmt: skip
        w = libpysal.weights.W(neigh, silence_warnings=True)
        gdf = gpd.GeoDataFrame(
            {"x": xy[idx, 0], "y": xy[idx, 1], "pop": pop[idx]},
            geometry=shapely.points(xy[idx]),
        )
        if method == "maxp":
            m = MaxPHeuristic(
                gdf,
                w,
                ["x", "y"],
                "pop",
                inst["lo"],
                top_n=2,
                max_iterations_construction=args.maxp_construction,
                max_iterations_sa=args.maxp_sa,
            )
        else:
            m = Skater(gdf, w, ["x", "y"], n_clusters=min(want, idx.size))
        try:
            with _alarm(args.group_limit):
                m.solve()
        except TimeoutError:
            gave_up += 1
            unit[idx] = nxt  # no answer within the limit: the group as one unit
            nxt += 1
            continue
        lab = np.asarray(m.labels_, dtype=np.int64)
        # max-p labels regions 1..p and leaves unassignable blocks at 0 (or below)
        _, lab = np.unique(lab, return_inverse=True)
        unit[idx] = lab + nxt
        nxt += int(lab.max()) + 1
    sec = time.perf_counter() - t0
    # units must be contiguous for the scoring to be fair: split any that are not
    unit = _split_disconnected(adjm, unit)
    centre = best_centres(inst, unit)
    out = score(inst, unit, centre, sec)
    out["status"] = f"{gave_up} group(s) over {args.group_limit:.0f} s" if gave_up else ""
    return out


@contextlib.contextmanager
def _alarm(seconds: float):
    """Raise TimeoutError in the main thread after ``seconds`` (spopt's max-p can loop)."""

    def fire(signum, frame):
        raise TimeoutError

    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _split_disconnected(adj: sp.csr_matrix, unit: np.ndarray) -> np.ndarray:
    a = adj.tocoo()
    same = unit[a.row] == unit[a.col]
    n = unit.size
    inner = sp.csr_matrix((np.ones(same.sum()), (a.row[same], a.col[same])), shape=(n, n))
    _, comp = connected_components(inner, directed=False)
    _, new = np.unique(np.column_stack([unit, comp]), axis=0, return_inverse=True)
    return new.ravel().astype(np.int64)


# ----------------------------------------------------------------------------- tables

COLS = [
    "method",
    "s",
    "units",
    "units in range",
    "residents in range",
    "below / above",
    "mean walk min",
    "max walk min",
    "beyond limit: blocks / residents",
    "status",
]


def row(name: str, m: dict) -> list[str]:
    return [
        name,
        f"{m['seconds']:.2f}",
        f"{m['units']}",
        f"{m['units_in_range']:.0%}",
        f"{m['residents_in_range']:.0%}",
        f"{m['below']} / {m['above']}",
        f"{m['mean_walk_min']:.2f}",
        ("≥" if m["missing_blocks"] else "") + f"{m['max_walk_min']:.1f}",
        f"{m['missing_blocks']} / {m['missing_residents']:,.0f}",
        m.get("status", ""),
    ]


def table(header: list[str], rows: list[list[str]]) -> str:
    width = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, width, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in width) + "|"
    body = [
        "| " + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in
                          enumerate(zip(r, width, strict=True))) + " |"
        for r in rows
    ]  # fmt: skip
    return "\n".join([line, sep, *body])


def ratio_table(ours: dict, maxp: dict) -> str:
    def rat(a: float, b: float) -> str:
        return f"{b / a:.2f}x" if a > 0 else "-"

    rows = []
    for key, label, fmt in [
        ("seconds", "time s", "{:.2f}"),
        ("units", "units", "{}"),
        ("units_in_range", "units in range", "{:.0%}"),
        ("residents_in_range", "residents in range", "{:.0%}"),
        ("mean_walk_min", "mean walk min", "{:.2f}"),
        ("max_walk_min", "max walk min", "{:.1f}"),
    ]:
        rows.append(
            [label, fmt.format(ours[key]), fmt.format(maxp[key]), rat(ours[key], maxp[key])]
        )
    return table(["metric", "lifecircle auto", "max-p", "max-p / lifecircle"], rows)


# ----------------------------------------------------------------------------- main


def bench(inst: dict, args, have_spopt: bool) -> dict:
    n = inst["pop"].size
    head = (
        f"### {inst['name']}: {n} blocks, {len(np.unique(inst['parent']))} parents, "
        f"{inst['pop'].sum():,.0f} residents, range {inst['lo']:,.0f}-{inst['hi']:,.0f}, "
        f"walks within {inst['radius']:.0f} m ({inst['walk'].nnz:,} pairs)"
    )
    log(head)
    print("\n" + head + "\n")
    rows, res = [], {}
    m, unit = run_lifecircle(inst, "auto", args.time_limit)
    res["lifecircle auto"] = m
    rows.append(row("lifecircle partition (auto)", m))
    m, _ = run_lifecircle(inst, "heuristic", args.time_limit)
    res["lifecircle heuristic"] = m
    rows.append(row("lifecircle partition_heuristic", m))
    if inst["small"] and not args.quick:
        m, _ = run_lifecircle(inst, "exact", args.exact_limit)
        res["lifecircle exact"] = m
        rows.append(row(f"lifecircle partition_exact ({args.exact_limit:.0f} s limit)", m))
    if have_spopt:
        log("  max-p ...")
        m = run_spopt(inst, "maxp", args)
        res["max-p"] = m
        rows.append(row("spopt MaxPHeuristic (per parent)", m))
        if not args.no_skater:
            k_units = np.bincount(unit)  # lifecircle's units per (parent, component) group

            def k_of(idx: np.ndarray) -> int:
                return int(np.unique(unit[idx]).size) if k_units.size else 1

            log("  skater ...")
            m = run_spopt(inst, "skater", args, k_of=k_of)
            res["skater"] = m
            rows.append(row("spopt Skater (k = lifecircle's)", m))
        nested_parents = len(np.unique(inst["parent"])) > 1
        if args.unnested and nested_parents and n <= args.unnested_max:
            log("  unnested ...")
            m, _ = run_lifecircle(inst, "heuristic", args.time_limit, nested=False)
            res["lifecircle heuristic unnested"] = m
            rows.append(row("lifecircle heuristic, unnested", m))
            m = run_spopt(inst, "maxp", args, nested=False)
            res["max-p unnested"] = m
            rows.append(row("spopt MaxPHeuristic, unnested", m))
    print(table(COLS, rows))
    if "max-p" in res:
        print()
        print(ratio_table(res["lifecircle auto"], res["max-p"]))
    return {"instance": inst["name"], "blocks": n, "results": res}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="sample 10min + 500-block grid, no MILP")
    ap.add_argument("--no-sample", action="store_true")
    ap.add_argument("--no-skater", action="store_true")
    ap.add_argument("--unnested", action="store_true", help="also run without nesting")
    ap.add_argument("--unnested-max", type=int, default=1500, help="largest unnested instance")
    ap.add_argument("--time-limit", type=float, default=60.0, help="lifecircle auto/heuristic")
    ap.add_argument("--exact-limit", type=float, default=60.0, help="partition_exact limit")
    ap.add_argument(
        "--maxp-construction",
        type=int,
        default=10,
        help="MaxPHeuristic max_iterations_construction (spopt default 99)",
    )
    ap.add_argument(
        "--maxp-sa", type=int, default=1, help="MaxPHeuristic max_iterations_sa (spopt default 10)"
    )
    ap.add_argument(
        "--group-limit",
        type=float,
        default=120.0,
        help="seconds per spopt solve (one parent's component); over it the group is one unit",
    )
    ap.add_argument(
        "--walk-levels",
        type=float,
        default=None,
        help="walk limit in the level's minutes (default: lifecircle delineate's, 1.5)",
    )
    ap.add_argument("--json", help="write the numbers to this file")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    try:
        import spopt  # noqa: F401

        have_spopt = True
    except ImportError:
        have_spopt = False
        log("spopt is not installed (pip install spopt): only lifecircle runs, no comparison")
    from lifecircle.delineate import WALK_LIMIT_LEVELS

    walk_levels = WALK_LIMIT_LEVELS if args.walk_levels is None else args.walk_levels
    t0 = time.perf_counter()
    insts = []
    if not args.no_sample:
        levels = ["10min"] if args.quick else ["15min", "10min", "5min"]
        insts += sample_instances(levels, walk_levels)
    insts.append(grid_instance(22, 23, 1, walk_levels=walk_levels))
    if not args.quick:
        insts.append(grid_instance(44, 45, 4, walk_levels=walk_levels))
    print(
        f"spopt {'not installed' if not have_spopt else __import__('spopt').__version__}; "
        f"max-p iterations: construction {args.maxp_construction}, SA {args.maxp_sa}; "
        f"walks up to {walk_levels:g} x the level's minutes; "
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
    )
    out = [bench(inst, args, have_spopt) for inst in insts]
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load at end {os.getloadavg()[0]:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
