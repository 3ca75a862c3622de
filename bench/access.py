"""Benchmark of the access stage: lifecircle.access.nearest_distance against networkx.

Run from the repository root::

    python bench/access.py            # sample comparison + grids 10k .. 1M nodes (~3-4 min)
    python bench/access.py --quick    # sample comparison + grids up to 160k nodes (~1 min)

Part 1 times lifecircle against networkx on the bundled central-Shanghai network
(same graph, same workload, same run), checks that both give the same distances and
exits non-zero if they do not. Part 2 times graph build and the access stage on
generated street grids from 10k to 1M nodes and records memory. Part 3, on the same
grids, times the whole access stage with its snapping, under ``--snap edge`` (the
default: nearest point of the nearest street) and ``--snap node`` side by side: the
one-off edge index, snapping the residents and the facilities' access points, and the
Dijkstra passes with the residents' distances, so the share of edge snapping shows.

Every measurement runs in its own fresh child process (this script re-invoked with
``--child-sample`` or ``--child-grid N``); the parent only imports the standard library,
so a child's peak RSS is its own and not inherited from a large parent.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import itertools
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

CUTOFF_M = 1080.0  # 15 min at 1.2 m/s
TOLERANCE_M = 1e-6
#: Facilities per category in the sample workload (varying, like a real district).
SAMPLE_CATEGORIES = {
    "kindergarten": 120,
    "primary_school": 60,
    "clinic": 80,
    "elderly_care": 40,
    "fresh_market": 70,
    "park": 150,
    "sports_ground": 30,
    "community_service": 20,
    "bus_stop": 300,
}
GRID_SPACING_M = 80.0
GRID_HA_PER_FACILITY = 25.0
GRID_N_CATEGORIES = 9
#: Part 3: residents (random points, off the nodes) per grid node.
ORIGINS_PER_NODE = 0.25
FULL_SIZES = (100, 200, 400, 800, 1000)
QUICK_SIZES = (100, 200, 400)
NX_MAX_NODES = 160_000
RESULT_TAG = "@@RESULT@@ "


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- memory


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return -1


def rss_mb() -> float:
    """Current resident set size of this process."""
    return _status_kb("VmRSS") / 1024.0


def hwm_mb() -> float:
    """Peak resident set size of this process image (since start or the last reset)."""
    return _status_kb("VmHWM") / 1024.0


def ru_maxrss_mb() -> float:
    """getrusage(RUSAGE_SELF).ru_maxrss (KB on Linux) in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def reset_peak() -> bool:
    """Reset VmHWM (Linux >= 4.0: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    return True


# --------------------------------------------------------------------------- the two sides


def run_lifecircle(g, workload):
    from lifecircle.access import nearest_distance

    return [nearest_distance(g, nodes, offsets, cutoff_m=CUTOFF_M) for nodes, offsets in workload]


def run_networkx(G, workload):
    """Multi-source Dijkstra with per-source offsets, the standard networkx way.

    ``multi_source_dijkstra_path_length`` starts every source at 0, so the offsets are
    handled exactly by a virtual super-source joined to each source node by an edge of
    length = offset (the smallest one where a node repeats), then a single-source
    Dijkstra from it with the cut-off; the virtual node is removed afterwards.
    """
    import networkx as nx

    src = "__virtual_source__"
    out = []
    for nodes, offsets in workload:
        best: dict[int, float] = {}
        for u, o in zip(nodes.tolist(), offsets.tolist(), strict=True):
            if o < best.get(u, math.inf):
                best[u] = o
        G.add_edges_from((src, u, {"length": o}) for u, o in best.items())
        d = nx.single_source_dijkstra_path_length(G, src, cutoff=CUTOFF_M, weight="length")
        G.remove_node(src)
        del d[src]
        out.append(d)
    return out


def compare(lc_results, nx_results, n_nodes):
    """Max abs difference and NaN mismatches between lifecircle arrays and networkx dicts."""
    import numpy as np

    max_diff = 0.0
    nan_mismatch = 0
    for arr, d in zip(lc_results, nx_results, strict=True):
        ref = np.full(n_nodes, np.nan)
        if d:
            keys = np.fromiter(d.keys(), np.int64, len(d))
            ref[keys] = np.fromiter(d.values(), float, len(d))
        nan_mismatch += int((np.isnan(arr) != np.isnan(ref)).sum())
        both = ~np.isnan(arr) & ~np.isnan(ref)
        if both.any():
            max_diff = max(max_diff, float(np.abs(arr[both] - ref[both]).max()))
    return {
        "max_abs_diff_m": max_diff,
        "nan_mismatch": nan_mismatch,
        "equal": bool(nan_mismatch == 0 and max_diff < TOLERANCE_M),
    }


def timed(fn):
    """Run ``fn`` once: (result, wall seconds, CPU seconds of this process)."""
    t, c = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - t, time.process_time() - c


def timed_repeats(fn, repeat, label):
    """Median wall and CPU seconds of ``repeat`` runs, all wall times, last result."""
    walls, cpus, result = [], [], None
    for i in range(repeat):
        result, wall, cpu = timed(fn)
        walls.append(wall)
        cpus.append(cpu)
        log(f"  {label} run {i + 1}/{repeat}: {wall:.3f} s (CPU {cpu:.3f} s)")
    return statistics.median(walls), statistics.median(cpus), walls, result


# --------------------------------------------------------------------------- children


def child_sample(args) -> dict:
    import numpy as np

    import lifecircle
    from lifecircle.datasets import get_path

    t = time.perf_counter()
    g = lifecircle.graph_from_osm(get_path()["network"])
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    _ = g.adjacency  # cached CSR, built once like the networkx graph below
    csr_s = time.perf_counter() - t
    log(f"sample network: {g.n_nodes} nodes, {g.n_edges} edges (read {load_s:.2f} s)")

    rng = np.random.default_rng(args.seed)
    workload = [
        (rng.integers(0, g.n_nodes, m), rng.uniform(0.0, 100.0, m))
        for m in SAMPLE_CATEGORIES.values()
    ]
    run_lifecircle(g, workload)  # warm-up (imports, first-call costs)
    t = time.perf_counter()
    G = g.to_networkx()
    nx_build_s = time.perf_counter() - t
    # interleaved, so both sides see the same background load
    lc_wall, lc_cpu, nx_wall, nx_cpu = [], [], [], []
    for i in range(args.repeat):
        lc_res, wall, cpu = timed(lambda: run_lifecircle(g, workload))
        lc_wall.append(wall)
        lc_cpu.append(cpu)
        nx_res, wall, cpu = timed(lambda: run_networkx(G, workload))
        nx_wall.append(wall)
        nx_cpu.append(cpu)
        log(
            f"  run {i + 1}/{args.repeat}: lifecircle {lc_wall[-1]:.4f} s, "
            f"networkx {nx_wall[-1]:.4f} s"
        )
    check = compare(lc_res, nx_res, g.n_nodes)
    reached = float(np.mean([np.isfinite(a).mean() for a in lc_res]))
    return {
        "nodes": g.n_nodes,
        "edges": g.n_edges,
        "categories": len(workload),
        "sources": [int(m) for m in SAMPLE_CATEGORIES.values()],
        "reached_share": reached,
        "csr_s": csr_s,
        "nx_graph_s": nx_build_s,
        "lc_s": statistics.median(lc_wall),
        "lc_cpu_s": statistics.median(lc_cpu),
        "lc_times": lc_wall,
        "nx_s": statistics.median(nx_wall),
        "nx_cpu_s": statistics.median(nx_cpu),
        "nx_times": nx_wall,
        **check,
    }


def snap_stage(g, origins_xy, facilities_xy, rule: str) -> dict:
    """The access stage of an audit with its snapping, on a copy of ``g`` without caches.

    Times the one-off search structure (edge pieces' KD-tree, or the nodes' KD-tree), the
    snapping of residents and facility access points, and the Dijkstra passes (one per
    category) with the residents' distances (:func:`lifecircle.access.access_distance`).
    """
    import dataclasses

    import numpy as np

    from lifecircle.access import access_distance
    from lifecircle.snap import snap_points

    g = dataclasses.replace(g)  # fresh caches: the index is built inside the timing
    _ = g.adjacency
    _ = g.chains
    cpu = time.process_time()
    t = time.perf_counter()
    if rule == "edge":
        _ = g.edge_index
    else:
        g.nearest_nodes(np.zeros(1), np.zeros(1))
    index_s = time.perf_counter() - t
    t = time.perf_counter()
    here = snap_points(g, origins_xy[:, 0], origins_xy[:, 1], rule=rule)
    origins_s = time.perf_counter() - t
    t = time.perf_counter()
    sources = [snap_points(g, xy[:, 0], xy[:, 1], rule=rule) for xy in facilities_xy]
    facilities_s = time.perf_counter() - t
    snap_cpu_s = time.process_time() - cpu
    cpu = time.process_time()
    t = time.perf_counter()
    dist = [access_distance(g, here, s, cutoff_m=CUTOFF_M) for s in sources]
    dijkstra_s = time.perf_counter() - t
    dijkstra_cpu_s = time.process_time() - cpu
    snap_s = index_s + origins_s + facilities_s
    return {
        "rule": rule,
        "snap_cpu_s": snap_cpu_s,
        "dijkstra_cpu_s": dijkstra_cpu_s,
        "cpu_snap_share": snap_cpu_s / (snap_cpu_s + dijkstra_cpu_s),
        "index_s": index_s,
        "origins_s": origins_s,
        "facilities_s": facilities_s,
        "snap_s": snap_s,
        "dijkstra_s": dijkstra_s,
        "total_s": snap_s + dijkstra_s,
        "snap_share": snap_s / (snap_s + dijkstra_s),
        "reached_share": float(np.mean([np.isfinite(d).mean() for d in dist])),
    }


def child_grid(args) -> dict:
    import numpy as np

    import lifecircle

    side = args.child_grid
    rss_start = rss_mb()
    graph_times, csr_times, g = [], [], None
    for _ in range(max(1, min(3, args.repeat))):  # median of up to 3 builds
        g = None  # never two graphs alive at once
        t = time.perf_counter()
        g = lifecircle.grid_graph(side, side, spacing_m=GRID_SPACING_M)
        graph_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        _ = g.adjacency
        csr_times.append(time.perf_counter() - t)
    graph_s, csr_s = statistics.median(graph_times), statistics.median(csr_times)
    n = g.n_nodes
    area_ha = ((side - 1) * GRID_SPACING_M) ** 2 / 1e4
    m = max(1, round(area_ha / GRID_HA_PER_FACILITY))
    rng = np.random.default_rng(args.seed + side)
    workload = [
        (rng.integers(0, n, m), rng.uniform(0.0, 50.0, m)) for _ in range(GRID_N_CATEGORIES)
    ]
    log(
        f"grid {side}x{side}: {n} nodes, {g.n_edges} edges, {m} facilities/category; "
        f"built in {graph_s + csr_s:.2f} s"
    )

    rss_before = rss_mb()
    peak_through_build = ru_maxrss_mb()
    reset_ok = reset_peak()
    lc_s, lc_cpu_s, lc_times, lc_res = timed_repeats(
        lambda: run_lifecircle(g, workload), args.repeat, "lifecircle"
    )
    access_peak = hwm_mb() if reset_ok else float("nan")
    # peak of this child over imports + build + access (networkx not yet run)
    peak_total = max(peak_through_build, ru_maxrss_mb(), hwm_mb())
    out = {
        "side": side,
        "nodes": n,
        "edges": g.n_edges,
        "facilities": m,
        "graph_s": graph_s,
        "csr_s": csr_s,
        "lc_s": lc_s,
        "lc_cpu_s": lc_cpu_s,
        "lc_times": lc_times,
        "rss_start_mb": rss_start,
        "rss_before_access_mb": rss_before,
        "access_peak_mb": access_peak,
        "peak_mb": peak_total,
        "reached_share": float(np.mean([np.isfinite(a).mean() for a in lc_res])),
    }
    # Part 3: the whole access stage with snapping, both rules, the same random points
    span = (side - 1) * GRID_SPACING_M
    n_orig = max(1, round(n * ORIGINS_PER_NODE))
    origins_xy = rng.uniform(0.0, span, (n_orig, 2))
    facilities_xy = [rng.uniform(0.0, span, (m, 2)) for _ in range(GRID_N_CATEGORIES)]
    stages = {}
    for rule in ("edge", "node"):
        runs = [
            snap_stage(g, origins_xy, facilities_xy, rule)
            for _ in range(max(1, min(3, args.repeat)))
        ]
        stages[rule] = {
            k: (statistics.median(r[k] for r in runs) if k != "rule" else rule) for k in runs[0]
        }
        log(
            f"  snap {rule}: snap {stages[rule]['snap_s']:.3f} s (index "
            f"{stages[rule]['index_s']:.3f}, {n_orig} residents {stages[rule]['origins_s']:.3f},"
            f" facilities {stages[rule]['facilities_s']:.3f}), Dijkstra "
            f"{stages[rule]['dijkstra_s']:.3f} s"
        )
    out["snap_stage"] = {"origins": n_orig, **stages}
    if n <= args.nx_max_nodes:
        t = time.perf_counter()
        G = g.to_networkx()
        out["nx_graph_s"] = time.perf_counter() - t
        nx_s, nx_cpu_s, nx_times, nx_res = timed_repeats(
            lambda: run_networkx(G, workload), args.nx_repeat, "networkx"
        )
        out.update(nx_s=nx_s, nx_cpu_s=nx_cpu_s, nx_times=nx_times, **compare(lc_res, nx_res, n))
    return out


def run_child(extra: list[str], args) -> dict:
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        *extra,
        "--repeat",
        str(args.repeat),
        "--nx-repeat",
        str(args.nx_repeat),
        "--nx-max-nodes",
        str(args.nx_max_nodes),
        "--seed",
        str(args.seed),
    ]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_TAG)]
    if proc.returncode != 0 or not lines:
        sys.exit(f"benchmark child {' '.join(extra)} failed (exit {proc.returncode})")
    return json.loads(lines[-1][len(RESULT_TAG) :])


# --------------------------------------------------------------------------- report


def machine() -> dict:
    def version(dist: str) -> str:
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            return "-"

    cpu = "-"
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(
                (ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), "-"
            )
    except OSError:
        pass
    mem_gb = float("nan")
    try:
        with open("/proc/meminfo") as fh:
            mem_gb = int(next(ln for ln in fh if ln.startswith("MemTotal")).split()[1]) / 2**20
    except (OSError, StopIteration):
        pass
    return {
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_gb, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": version("numpy"),
        "scipy": version("scipy"),
        "networkx": version("networkx"),
        "lifecircle": version("lifecircle"),
    }


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| "
        + " | ".join(
            c.rjust(w) if c[:1].isdigit() else c.ljust(w) for c, w in zip(r, widths, strict=True)
        )
        + " |"
        for r in rows
    ]
    return "\n".join([line, sep, *body])


def report_sample(s: dict, repeat: int) -> tuple[str, bool]:
    ratio = s["nx_s"] / s["lc_s"]
    cpu_ratio = s["nx_cpu_s"] / s["lc_cpu_s"]
    rows = [
        ["lifecircle nearest_distance", f"{s['lc_s']:.4f}", f"{s['lc_cpu_s']:.4f}", "1.0x", "1.0x"],
        [
            "networkx super-source Dijkstra",
            f"{s['nx_s']:.4f}",
            f"{s['nx_cpu_s']:.4f}",
            f"{ratio:.1f}x",
            f"{cpu_ratio:.1f}x",
        ],
    ]
    text = [
        f"Part 1: central-Shanghai sample, {s['nodes']} nodes, {s['edges']} edges; "
        f"{s['categories']} categories, {min(s['sources'])}-{max(s['sources'])} sources each "
        f"({sum(s['sources'])} total), offsets 0-100 m, cut-off {CUTOFF_M:.0f} m; "
        f"{s['reached_share']:.0%} of nodes reached on average; "
        f"median of {repeat} interleaved runs",
        table(
            ["side", "median wall s (9 categories)", "median CPU s", "wall ratio", "CPU ratio"],
            rows,
        ),
        f"ratio networkx / lifecircle: {ratio:.1f}x wall, {cpu_ratio:.1f}x CPU (target >= 20x: "
        f"{'met' if ratio >= 20 else 'NOT MET'})",
        f"not timed: adjacency CSR {s['csr_s']:.3f} s, to_networkx {s['nx_graph_s']:.3f} s",
        f"equality: max |lifecircle - networkx| = {s['max_abs_diff_m']:.2e} m, "
        f"NaN mismatches = {s['nan_mismatch']} -> {'OK' if s['equal'] else 'FAILED'}",
    ]
    return "\n".join(text), s["equal"]


def report_grid(res: list[dict]) -> tuple[str, bool]:
    rows, growth, nxrows, ok = [], [], [], True
    for r in res:
        per = r["lc_cpu_s"] / (r["nodes"] * GRID_N_CATEGORIES) * 1e6
        rows.append(
            [
                f"{r['nodes']:,}",
                f"{r['edges']:,}",
                f"{r['facilities']:,}",
                f"{r['graph_s'] + r['csr_s']:.2f}",
                f"{r['lc_s']:.3f}",
                f"{r['lc_cpu_s']:.3f}",
                f"{per:.3f}",
                f"{r['rss_before_access_mb']:.0f}",
                f"{r['access_peak_mb']:.0f}",
                f"{r['peak_mb']:.0f}",
            ]
        )
        if "nx_s" in r:
            ok &= r["equal"]
            nxrows.append(
                [
                    f"{r['nodes']:,}",
                    f"{r['lc_s']:.3f}",
                    f"{r['nx_s']:.3f}",
                    f"{r['nx_s'] / r['lc_s']:.1f}x",
                    f"{r['nx_cpu_s'] / r['lc_cpu_s']:.1f}x",
                    f"{r['max_abs_diff_m']:.1e}",
                    str(r["nan_mismatch"]),
                    "OK" if r["equal"] else "FAILED",
                ]
            )
    for a, b in itertools.pairwise(res):
        nr = b["nodes"] / a["nodes"]
        nlogn = nr * math.log(b["nodes"]) / math.log(a["nodes"])
        growth.append(
            [
                f"{a['nodes']:,} -> {b['nodes']:,}",
                f"{nr:.2f}",
                f"{nlogn:.2f}",
                f"{(b['graph_s'] + b['csr_s']) / (a['graph_s'] + a['csr_s']):.2f}",
                f"{b['lc_s'] / a['lc_s']:.2f}",
                f"{b['lc_cpu_s'] / a['lc_cpu_s']:.2f}",
                f"{b['rss_before_access_mb'] / a['rss_before_access_mb']:.2f}",
            ]
        )
    text = [
        f"Part 2: street grids, spacing {GRID_SPACING_M:.0f} m, {GRID_N_CATEGORIES} categories, "
        f"1 facility per {GRID_HA_PER_FACILITY:.0f} ha (random nodes), offsets 0-50 m, "
        f"cut-off {CUTOFF_M:.0f} m; each size in a fresh process",
        table(
            [
                "nodes",
                "edges",
                "fac/cat",
                "build s",
                "access s",
                "access CPU s",
                "CPU us/node/cat",
                "RSS before access MB",
                "access peak MB",
                "peak RSS MB",
            ],
            rows,
        ),
        "",
        "growth between consecutive sizes",
        table(
            [
                "sizes",
                "node ratio",
                "n log n ratio",
                "build ratio",
                "access ratio",
                "access CPU ratio",
                "RSS ratio",
            ],
            growth,
        )
        if growth
        else "(one size only)",
    ]
    snaprows = []
    for r in res:
        st = r.get("snap_stage")
        if not st:
            continue
        e, nd = st["edge"], st["node"]
        snaprows.append(
            [
                f"{r['nodes']:,}",
                f"{st['origins']:,}",
                f"{e['index_s']:.3f}",
                f"{e['origins_s'] + e['facilities_s']:.3f}",
                f"{e['dijkstra_s']:.3f}",
                f"{e['total_s']:.3f}",
                f"{e['snap_share']:.0%}",
                f"{nd['snap_s']:.3f}",
                f"{nd['dijkstra_s']:.3f}",
                f"{nd['total_s']:.3f}",
                f"{nd['snap_share']:.0%}",
                f"{e['total_s'] / nd['total_s']:.2f}",
                f"{e['snap_cpu_s']:.2f} / {e['dijkstra_cpu_s']:.2f} ({e['cpu_snap_share']:.0%})",
                f"{nd['snap_cpu_s']:.2f} / {nd['dijkstra_cpu_s']:.2f} ({nd['cpu_snap_share']:.0%})",
            ]
        )
    if snaprows:
        text += [
            "",
            f"Part 3: the access stage with snapping, --snap edge vs --snap node "
            f"(residents: {ORIGINS_PER_NODE:g} random points per node; facilities as "
            "above but at random points; median of up to 3 runs, fresh caches)",
            table(
                [
                    "nodes",
                    "residents",
                    "edge index s",
                    "edge snap s",
                    "edge Dijkstra s",
                    "edge total s",
                    "edge snap share",
                    "node snap s",
                    "node Dijkstra s",
                    "node total s",
                    "node snap share",
                    "edge / node",
                    "edge CPU s snap / Dijkstra",
                    "node CPU s snap / Dijkstra",
                ],
                snaprows,
            ),
        ]
    if nxrows:
        text += [
            "",
            "networkx baseline on the grids (same workload, same process)",
            table(
                [
                    "nodes",
                    "lifecircle s",
                    "networkx s",
                    "wall ratio",
                    "CPU ratio",
                    "max diff m",
                    "NaN mismatch",
                    "equal",
                ],
                nxrows,
            ),
        ]
    return "\n".join(text), ok


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick", action="store_true", help=f"grids only up to {QUICK_SIZES[-1] ** 2:,} nodes"
    )
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        metavar="N",
        help="grid side lengths (nodes = N*N); default " + " ".join(map(str, FULL_SIZES)),
    )
    p.add_argument(
        "--repeat",
        type=int,
        default=None,
        help="timed runs per side, median reported (default 5; 3 with --quick)",
    )
    p.add_argument(
        "--nx-repeat",
        type=int,
        default=None,
        help="networkx runs on the grids (default: --repeat; 1 with --quick)",
    )
    p.add_argument(
        "--nx-max-nodes",
        type=int,
        default=NX_MAX_NODES,
        help="largest grid on which networkx also runs",
    )
    p.add_argument("--no-sample", action="store_true", help="skip Part 1")
    p.add_argument("--seed", type=int, default=20261123)
    p.add_argument("--json", metavar="PATH", help="also write all results as JSON")
    p.add_argument("--child-sample", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--child-grid", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.repeat is None:
        args.repeat = 3 if args.quick else 5
    if args.nx_repeat is None:
        args.nx_repeat = 1 if args.quick else args.repeat

    if args.child_sample or args.child_grid:
        result = child_sample(args) if args.child_sample else child_grid(args)
        print(RESULT_TAG + json.dumps(result), flush=True)
        return 0

    start = time.perf_counter()
    info = machine()
    print(
        f"machine: {info['cores']} cores ({info['cpu']}), {info['memory_gb']} GB RAM, "
        f"{info['platform']}"
    )
    print(
        f"python {info['python']}, numpy {info['numpy']}, scipy {info['scipy']}, "
        f"networkx {info['networkx']}, lifecircle {info['lifecircle']}"
    )
    print(
        f"date: {time.strftime('%Y-%m-%d %H:%M')}; load average at start "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}\n",
        flush=True,
    )
    ok = True
    results: dict = {"machine": info}

    if not args.no_sample:
        log("Part 1: bundled sample, lifecircle vs networkx")
        sample = run_child(["--child-sample"], args)
        text, good = report_sample(sample, args.repeat)
        ok &= good
        results["sample"] = sample
        print(text + "\n", flush=True)

    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    grid = []
    for side in sizes:
        log(f"Part 2: grid {side}x{side} ({side * side:,} nodes) in a fresh process")
        grid.append(run_child(["--child-grid", str(side)], args))
    if grid:
        text, good = report_grid(grid)
        ok &= good
        results["grid"] = grid
        print(text + "\n")
    print(
        f"total benchmark time {time.perf_counter() - start:.0f} s; load average at end "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)
    if not ok:
        print("FAILED: lifecircle and networkx distances differ (see above)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
