"""Benchmark of the fair-service metrics (issue 9): their share of the audit, and a baseline.

Run from the repository root::

    python bench/fair.py             # sample (3 runs) + grids of 250k and 1M nodes (~7 min)
    python bench/fair.py --quick     # sample (2 runs) + a 250k-node grid

Part 1 runs ``lifecircle.audit()`` on the bundled central-Shanghai sample and prints
each stage's wall time, so the share of ``fair_service`` (cohorts, the origin x
facility pairs, 2SFCA, the capacity LP, choice, closures, equity) shows next to
``access``. It then times lifecircle's 2SFCA against PySAL ``access``'s two-stage
FCA (the baseline of the field) on the sample's own kindergarten pairs, side by
side in the same process, checks they agree, and prints the ratio.

Part 2 times, on generated street grids (80 m blocks, 1 resident point per 4 nodes,
9 GB 50180 categories at one facility per 25 ha), the access stage (snapping + one
multi-source Dijkstra per category) against the fair-service stage on the same
inputs, and prints fair / access and the fair share of the two.

Every measurement runs in a fresh child process (this script re-invoked), so memory
and caches of one do not leak into the next.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

RESULT_TAG = "@@RESULT@@ "
GRID_SPACING_M = 80.0
HA_PER_FACILITY = 25.0
ORIGINS_PER_NODE = 0.25


def child_sample() -> dict:
    import warnings

    import numpy as np
    import pandas as pd

    import lifecircle
    from lifecircle import columns, demand

    warnings.simplefilter("ignore")
    t0 = time.perf_counter()
    r = lifecircle.audit()
    total = time.perf_counter() - t0
    out = {"total_s": round(total, 3), "stages": r.summary.timings_s}
    # 2SFCA: lifecircle against PySAL access on the same pairs (kindergarten); bench/access.py
    # would shadow the `access` package, so this folder leaves the import path first
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    sys.modules.pop("access", None)
    from access import Access

    cat = "kindergarten"
    dist = r.service.distances[cat].tocoo()
    need = r.access[columns.pop("age_3_5")].to_numpy(float)
    fac = r.facilities[r.facilities["category"] == cat]
    supply = fac["capacity"].to_numpy(float)
    threshold = r.summary.fair_service[cat].threshold_m
    t1 = time.perf_counter()
    ours = demand.two_step_fca(r.service.distances[cat], need, supply, threshold)
    t_ours = time.perf_counter() - t1
    cost = pd.DataFrame({"o": dist.row, "f": dist.col, "cost": dist.data})
    dem = pd.DataFrame({"need": need}).rename_axis("o")
    sup = pd.DataFrame({"places": supply}).rename_axis("f")
    t2 = time.perf_counter()
    acc = Access(
        demand_df=dem,
        demand_index=True,
        demand_value="need",
        supply_df=sup,
        supply_index=True,
        supply_value="places",
        cost_df=cost,
        cost_origin="o",
        cost_dest="f",
        cost_name="cost",
    )
    theirs = acc.two_stage_fca(name="fca", max_cost=threshold, normalize=False)
    t_theirs = time.perf_counter() - t2
    theirs = theirs.iloc[:, 0].reindex(np.arange(len(need))).fillna(0.0).to_numpy()
    diff = float(np.nanmax(np.abs(theirs - ours.access)))
    out["fca"] = {"lifecircle_s": t_ours, "pysal_access_s": t_theirs, "max_diff": diff}
    return out


def child_grid(side: int) -> dict:
    import warnings

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    import lifecircle
    from lifecircle.access import compute_access, search_cutoff_m, snap_audit_inputs
    from lifecircle.io.units import UnitHierarchy
    from lifecircle.service import ServiceInputs, fair_service

    warnings.simplefilter("ignore")
    crs = "EPSG:32651"
    x0, y0 = 300_000.0, 3_400_000.0
    g = lifecircle.grid_graph(side, side, spacing_m=GRID_SPACING_M, origin=(x0, y0), crs=crs)
    rng = np.random.default_rng(7)
    extent = (side - 1) * GRID_SPACING_M
    n_org = int(side * side * ORIGINS_PER_NODE)
    ox, oy = x0 + rng.uniform(0, extent, n_org), y0 + rng.uniform(0, extent, n_org)
    blocks = 10
    cell = extent / blocks
    unit = (
        (
            np.minimum((ox - x0) // cell, blocks - 1) * blocks
            + np.minimum((oy - y0) // cell, blocks - 1)
        )
        .astype(int)
        .astype(str)
    )
    pop = rng.uniform(5, 50, n_org)
    origins = gpd.GeoDataFrame(
        {
            "origin_id": np.arange(n_org),
            "population": pop,
            "unit_id": unit,
            "pop_age_3_5": pop * 0.02,
            "pop_age_6_11": pop * 0.04,
            "pop_age_12_14": pop * 0.02,
            "pop_age_60_plus": pop * 0.2,
        },
        geometry=gpd.points_from_xy(ox, oy),
        crs=crs,
    )
    std = lifecircle.load_standard("gb50180-2018")
    n_fac = max(1, int(extent * extent / 1e4 / HA_PER_FACILITY))
    frames = []
    for c in std.category_ids:
        nodes = rng.integers(0, g.n_nodes, n_fac)
        frames.append(pd.DataFrame({"category": c, "x": g.x[nodes] + 7.0, "y": g.y[nodes] + 5.0}))
    f = pd.concat(frames, ignore_index=True)
    fac = gpd.GeoDataFrame(
        {
            "facility_id": np.arange(len(f)),
            "category": f["category"],
            "name": None,
            "source": "bench",
        },
        geometry=gpd.points_from_xy(f["x"], f["y"]),
        crs=crs,
    )
    boxes = [
        shapely.box(x0 + i * cell, y0 + j * cell, x0 + (i + 1) * cell, y0 + (j + 1) * cell)
        for i in range(blocks)
        for j in range(blocks)
    ]
    streets = gpd.GeoDataFrame(
        {
            "unit_id": [str(i * blocks + j) for i in range(blocks) for j in range(blocks)],
            "name": "s",
            "parent_id": "D",
        },
        geometry=boxes,
        crs=crs,
    ).to_crs("EPSG:4326")
    district = gpd.GeoDataFrame(
        {"unit_id": ["D"], "name": ["D"], "parent_id": [None]},
        geometry=[shapely.box(x0, y0, x0 + extent, y0 + extent)],
        crs=crs,
    ).to_crs("EPSG:4326")
    hierarchy = UnitHierarchy(["district", "street"], {"district": district, "street": streets})
    cats = std.category_ids
    t0 = time.perf_counter()
    snaps = snap_audit_inputs(g, origins, fac)
    table, _ = compute_access(g, origins, fac, std, categories=cats, snaps=snaps)
    t_access = time.perf_counter() - t0
    t1 = time.perf_counter()
    fair_service(
        ServiceInputs(
            graph=g,
            snaps=snaps,
            table=table,
            rows=np.arange(n_org),
            fac=fac,
            standard=std,
            categories=cats,
            hierarchy=hierarchy,
            analysed=set(streets["unit_id"]),
            radius_m=search_cutoff_m(std, cats),
            profile=None,
            cohort_methods={},
        )
    )
    t_fair = time.perf_counter() - t1
    import resource

    return {
        "nodes": g.n_nodes,
        "origins": n_org,
        "facilities_per_category": n_fac,
        "access_s": round(t_access, 3),
        "fair_service_s": round(t_fair, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def child_audit(side: int) -> dict:
    """A whole ``lifecircle.audit`` on a generated OSM street grid: each stage's wall time."""
    import tempfile
    import warnings

    import geopandas as gpd
    import numpy as np
    import pandas as pd
    import shapely

    import lifecircle

    warnings.simplefilter("ignore")
    lon0, lat0, step = 121.0, 31.0, 0.0008  # about 76 x 89 m blocks
    rng = np.random.default_rng(11)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        with (d / "grid.osm").open("w", encoding="utf-8") as f:
            f.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
            r, c = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
            ids = (1 + r * side + c).ravel()
            lons, lats = (lon0 + c * step).ravel(), (lat0 + r * step).ravel()
            f.writelines(
                f'<node id="{i}" version="1" lat="{la:.7f}" lon="{lo:.7f}"/>\n'
                for i, lo, la in zip(ids, lons, lats, strict=True)
            )
            wid = 10**9
            for k in range(side):
                for refs in (1 + k * side + np.arange(side), 1 + np.arange(side) * side + k):
                    nds = "".join(f'<nd ref="{x}"/>' for x in refs)
                    f.write(
                        f'<way id="{wid}" version="1">{nds}'
                        '<tag k="highway" v="residential"/></way>\n'
                    )
                    wid += 1
            f.write("</osm>\n")
        extent = (side - 1) * step
        std = lifecircle.load_standard("gb50180-2018")
        n_fac = max(1, int(((side - 1) * 80.0) ** 2 / 1e4 / HA_PER_FACILITY))
        fac = pd.concat(
            [
                pd.DataFrame(
                    {
                        "category": cat,
                        "lon": lon0 + rng.uniform(0, extent, n_fac),
                        "lat": lat0 + rng.uniform(0, extent, n_fac),
                    }
                )
                for cat in std.category_ids
            ],
            ignore_index=True,
        )
        fac.to_csv(d / "facilities.csv", index=False)
        blocks, margin = 10, 0.02 * extent
        cell = (extent - 2 * margin) / blocks
        boxes = [
            shapely.box(
                lon0 + margin + i * cell,
                lat0 + margin + j * cell,
                lon0 + margin + (i + 1) * cell,
                lat0 + margin + (j + 1) * cell,
            )
            for i in range(blocks)
            for j in range(blocks)
        ]
        ids = [f"B{i:03d}" for i in range(len(boxes))]
        gpd.GeoDataFrame(
            {"unit_id": ids, "name": ids, "parent_id": None}, geometry=boxes, crs="EPSG:4326"
        ).to_file(d / "units.geojson")
        gpd.GeoDataFrame(
            {
                "population": rng.uniform(5e3, 3e4, len(boxes)).round(),
                "age_0_14": 10.0,
                "age_15_64": 72.0,
                "age_65_plus": 18.0,
            },
            geometry=boxes,
            crs="EPSG:4326",
        ).to_file(d / "population.geojson")
        t0 = time.perf_counter()
        r = lifecircle.audit(
            d / "grid.osm",
            [d / "facilities.csv"],
            d / "units.geojson",
            d / "population.geojson",
            osm_pois=False,
            keep_edge_units=True,
        )
        total = time.perf_counter() - t0
    return {"nodes": side * side, "total_s": round(total, 2), "stages": r.summary.timings_s}


def run_child(args: list[str]) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG) :])
    sys.stderr.write(proc.stderr[-3000:])
    raise SystemExit(f"child {args} failed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sizes", type=int, nargs="*", default=None, help="grid sides (N x N nodes)")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--child-sample", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-grid", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--child-audit", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument(
        "--audit-sizes",
        type=int,
        nargs="*",
        default=None,
        help="sides of the whole-audit grids (Part 3)",
    )
    a = ap.parse_args()
    if a.child_sample:
        print(RESULT_TAG + json.dumps(child_sample()))
        return 0
    if a.child_grid:
        print(RESULT_TAG + json.dumps(child_grid(a.child_grid)))
        return 0
    if a.child_audit:
        print(RESULT_TAG + json.dumps(child_audit(a.child_audit)))
        return 0
    repeat = a.repeat or (2 if a.quick else 3)
    sizes = a.sizes or ([500] if a.quick else [500, 1000])

    print("## Part 1: the bundled sample, lifecircle.audit() (wall s per stage, median)\n")
    runs = [run_child(["--child-sample"]) for _ in range(repeat)]
    stages = list(runs[0]["stages"])
    med = {s: sorted(r["stages"][s] for r in runs)[len(runs) // 2] for s in stages}
    total = sum(med.values())
    print("| stage | wall s | share of the audit |\n|---|---:|---:|")
    for s in stages:
        print(f"| {s} | {med[s]:.3f} | {med[s] / total:.0%} |")
    print(f"| **all stages** | {total:.3f} | 100% |\n")
    print(f"fair_service / access = {med['fair_service'] / med['access']:.2f}\n")
    fca = [r["fca"] for r in runs]
    ours = sorted(f["lifecircle_s"] for f in fca)[len(fca) // 2]
    theirs = sorted(f["pysal_access_s"] for f in fca)[len(fca) // 2]
    diff = max(f["max_diff"] for f in fca)
    print("2SFCA on the sample's kindergarten pairs (same process, same pairs):\n")
    print(
        "| lifecircle s | PySAL access s | speed-up | max abs difference |\n|---:|---:|---:|---:|"
    )
    print(f"| {ours:.4f} | {theirs:.4f} | {theirs / ours:.1f}x | {diff:.2e} |\n")
    print("## Part 2: street grids (the 11 GB 50180 categories, 1 facility / 25 ha each)\n")
    print(
        "| nodes | residents points | fac/cat | access s | fair_service s | fair / access "
        "| fair share | peak RSS MB |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for side in sizes:
        r = run_child(["--child-grid", str(side)])
        ratio = r["fair_service_s"] / r["access_s"]
        share = r["fair_service_s"] / (r["fair_service_s"] + r["access_s"])
        print(
            f"| {r['nodes']:,} | {r['origins']:,} | {r['facilities_per_category']:,} | "
            f"{r['access_s']:.2f} | {r['fair_service_s']:.2f} | {ratio:.2f} | {share:.0%} | "
            f"{r['peak_rss_mb']} |"
        )
    audit_sizes = a.audit_sizes or ([300] if a.quick else [500, 1000])
    print("\n## Part 3: a whole audit on a generated OSM grid (wall s per stage)\n")
    print(
        "| nodes | read_network | population | access | coverage | fair_service | all "
        "stages | fair share |\n|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    for side in audit_sizes:
        r = run_child(["--child-audit", str(side)])
        st = r["stages"]
        total = sum(v for v in st.values() if v is not None)
        print(
            f"| {r['nodes']:,} | {st['read_network']:.1f} | {st['population']:.1f} | "
            f"{st['access']:.1f} | {st['coverage']:.1f} | {st['fair_service']:.1f} | "
            f"{total:.1f} | {st['fair_service'] / total:.0%} |"
        )
    return 0 if diff < 1e-6 else 1


if __name__ == "__main__":
    raise SystemExit(main())
