"""bench/city.py (issue 12): the synthetic city is reproducible, well formed and audits."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import geopandas as gpd
import numpy as np
import pytest

import lifecircle
from lifecircle.io.osm import read_walk_ways

BENCH = Path(__file__).resolve().parents[1] / "bench"
FILES = ("city.osm.pbf", "units.gpkg", "city.yaml", "city.json")


def _city() -> ModuleType:
    name = "lifecircle_bench_city"
    if name not in sys.modules:  # bench/ is not a package: load the script by path
        spec = importlib.util.spec_from_file_location(name, BENCH / "city.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("city")
    return out, _city().generate(2000, 3, out)


def test_same_seed_same_bytes(tiny: tuple[Path, dict], tmp_path: Path) -> None:
    first, _ = tiny
    _city().generate(2000, 3, tmp_path / "again")
    for name in FILES:
        assert (first / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    _city().generate(2000, 4, tmp_path / "other")
    assert (first / "city.osm.pbf").read_bytes() != (
        tmp_path / "other" / "city.osm.pbf"
    ).read_bytes()


def test_walk_nodes_as_counted_and_near_the_target(tiny: tuple[Path, dict]) -> None:
    out, info = tiny
    ways = read_walk_ways(out / "city.osm.pbf")  # lifecircle's own walkability filter
    assert len(ways.node_ids) == info["walk_nodes"]
    assert abs(info["walk_nodes"] - 2000) / 2000 < 0.1
    assert info["bridges"] >= 2
    assert info["service_not_walkable"] > 0  # access=private / foot=no spurs exist


def test_units_nest_and_carry_population_and_ages(tiny: tuple[Path, dict]) -> None:
    out, info = tiny
    units = gpd.read_file(out / "units.gpkg")
    assert set(units["level"]) == {"district", "street", "community"}
    assert units.crs.to_epsg() == 4326
    ids = set(units["unit_id"])
    parents = units["parent_id"].dropna()
    assert set(parents) <= ids
    assert units.loc[units["level"] == "district", "parent_id"].isna().all()
    # a parent's population is its children's sum; shares add up to 100 percent
    sums = units.groupby("parent_id")["population"].sum()
    own = units.set_index("unit_id")["population"]
    assert (own[sums.index] == sums).all()
    leaves = units[units["level"] == "community"]
    assert leaves["population"].sum() == info["population"]
    total = units[["age_0_14", "age_15_64", "age_65_plus"]].sum(axis=1)
    np.testing.assert_allclose(total, 100.0, atol=0.02)
    # the communities tile their street: same area
    streets = units[units["level"] == "street"].set_index("unit_id")
    area = leaves.to_crs(32651).area.groupby(leaves["parent_id"].to_numpy()).sum()
    np.testing.assert_allclose(area[streets.index], streets.to_crs(32651).area, rtol=1e-9)


@pytest.mark.slow
def test_audit_runs_on_the_tiny_city(tiny: tuple[Path, dict]) -> None:
    out, info = tiny
    result = lifecircle.audit(
        out / "city.osm.pbf",
        None,
        out / "units.gpkg",
        out / "units.gpkg",
        keep_edge_units=info["keep_edge_units"],
    )
    std = lifecircle.load_standard("gb50180-2018")
    # every category of the standard is found in the OSM POIs (nodes and polygons)
    assert set(result.facilities["category"]) == set(std.category_ids)
    assert set(result.units) == {"district", "street", "community"}
    assert result.access["population"].sum() == pytest.approx(info["population"])
    assert result.summary.network.nodes <= info["walk_nodes"]


@pytest.mark.slow
def test_e2e_benchmark_runs_and_times_every_stage(tmp_path: Path) -> None:
    """``bench/e2e.py`` itself, at two tiny sizes: it hooks lifecircle's stage timer and
    output writers, so a rename inside lifecircle must fail here, not on the next 1M run."""
    import json
    import os
    import subprocess

    env = {**os.environ, "PYTHONPATH": str(BENCH.parent / "src")}
    run = subprocess.run(
        [
            *(sys.executable, str(BENCH / "e2e.py"), "--sizes", "1500", "3000", "--no-warmup"),
            *("--cache", str(tmp_path / "cache"), "--profile", "1500"),
            *("--json", str(tmp_path / "e2e.json")),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    data = json.loads((tmp_path / "e2e.json").read_text(encoding="utf-8"))
    runs = data["runs"]
    assert [(r["map"]) for r in runs] == [False, True, False, True]
    for r in runs:
        stages = {s["stage"] for s in r["child"]["stages"]}
        # the audit's own stages (summary.json's timings) and the writers, each measured
        assert {"read_network", "access", "coverage", "write access.parquet"} <= stages
        assert ("write map.html" in stages) == r["map"]
    assert "## Stages (with the map)" in run.stdout
    assert "| read_network |" in run.stdout
    assert "map.html" in run.stdout  # the targets table
