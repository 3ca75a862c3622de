"""The `lifecircle` command: the output contract and user mistakes (exit 2, no traceback)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyogrio
import pytest
import shapely
from click.testing import Result

from .conftest import LAT0, LON0, invoke, osm_xml
from .conftest import assert_user_error as _assert_user_error

OUTPUTS = {"access.parquet", "units.gpkg", "facilities.gpkg", "gaps.csv", "summary.json"}


def assert_user_error(res: Result, *needles: str) -> str:
    """The shared check, plus: nothing on stdout."""
    message = _assert_user_error(res, *needles)
    assert res.stdout == ""
    return message


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "run"
    res = invoke(["audit", "--out", out, "--no-map"])
    return res, out


# --------------------------------------------------------------------------- the contract


def test_audit_on_the_sample_writes_exactly_the_contract_files(cli_run):
    res, out = cli_run
    assert res.exit_code == 0, res.output
    assert {p.name for p in out.iterdir()} == OUTPUTS  # no temp files left behind
    assert "residents analysed:" in res.stdout
    assert "coverage by category (its own cohort | all residents):" in res.stdout
    assert (
        f"wrote access.parquet, facilities.gpkg, gaps.csv, summary.json, units.gpkg to {out}"
    ) in res.stdout
    assert res.exception is None


@pytest.fixture(scope="module")
def summary(cli_run):
    return json.loads((cli_run[1] / "summary.json").read_text(encoding="utf-8"))


def test_summary_json(summary):
    for key in [
        "study",
        "standard",
        "profile",
        "population",
        "origins",
        "network",
        "coverage",
        "complete_share",
        "warnings",
        "timings_s",
        "versions",
        "units",
        "facilities",
        "thresholds",
        "categories_audited",
    ]:
        assert key in summary, key
    assert summary["standard"]["id"] == "gb50180-2018"
    assert summary["profile"] == {**summary["profile"], "id": "adult", "speed_m_s": 1.2}
    assert "dasymetric" in summary["population"]["method"]
    assert summary["population"]["total"] > 0
    assert set(summary["timings_s"]) >= {
        "read_network",
        "read_facilities",
        "read_units",
        "population",
        "access",
        "coverage",
    }
    assert all(v >= 0 for v in summary["timings_s"].values())
    assert summary["versions"]["lifecircle"] == "0.1.0"
    assert isinstance(summary["warnings"], list)
    assert summary["warnings"]  # the sample has excluded units and dropped components
    audited = summary["categories_audited"]
    assert set(summary["coverage"]) == set(audited)
    assert all(0.0 <= v <= 1.0 for v in summary["coverage"].values())
    # the sample has no elderly care nor community service (see data/README.md), so
    # complete life circles are not computed, and say why
    assert "elderly_care" not in audited
    assert summary["complete_share"] is None
    assert set(summary["complete_by_level"]) == {"5min", "10min", "15min"}
    for level, status in summary["completeness"].items():
        assert summary["complete_by_level"][level] is None
        assert status["computed"] is False
        assert status["missing"] == ["elderly_care", "community_service"]
    assert summary["categories_not_audited_reason"] == {
        "elderly_care": "no_facilities",
        "community_service": "no_facilities",
    }
    assert {"kindergarten", "park", "bus_stop"} <= set(audited)
    assert summary["network"]["crs"] == "EPSG:32651"


def test_access_parquet_contract(cli_run, summary):
    path = cli_run[1] / "access.parquet"
    assert b"geo" in pq.read_schema(path).metadata  # GeoParquet metadata
    access = gpd.read_parquet(path)
    assert access.crs.to_epsg() == 4326
    assert (access.geom_type == "Point").all()
    required = ["origin_id", "population", "unit_id", "snap_m"]
    for cat in summary["categories_audited"]:
        required += [f"dist_{cat}_m", f"time_{cat}_min"]
    missing = [c for c in required if c not in access.columns]
    assert not missing
    assert access["origin_id"].is_unique
    assert (access["population"] > 0).all()
    assert access["population"].sum() == pytest.approx(summary["population"]["total"], abs=0.1)
    assert access["unit_id"].str.fullmatch(r"\d{12}").all()  # street codes: the finest level
    assert (access["snap_m"] >= 0).all()
    # each category at its cohort's speed (child 0.88 m/s = 52.8 m/min for kindergartens and
    # primary schools, adult 1.2 m/s = 72 m/min otherwise), NaN where unreachable
    speed = {"child": 52.8, "adult": 72.0, "elderly": 54.6}
    for cat in summary["categories_audited"]:
        d, t = access[f"dist_{cat}_m"], access[f"time_{cat}_min"]
        assert (d.isna() == t.isna()).all()
        per_min = speed[summary["thresholds"][cat]["profile"]]
        np.testing.assert_allclose(t.dropna(), d.dropna() / per_min)
        assert (d.dropna() <= 1080.0 + 1e-6).all()
    # lon/lat in the sample's bbox
    assert access.geometry.x.between(121.40, 121.56).all()
    assert access.geometry.y.between(31.17, 31.28).all()


def test_units_gpkg_contract(cli_run, summary):
    path = cli_run[1] / "units.gpkg"
    layers = [name for name, _ in pyogrio.list_layers(path)]
    assert sorted(layers) == ["district", "street"]
    cats = summary["categories_audited"]
    for level in ["district", "street"]:
        units = gpd.read_file(path, layer=level)
        assert units.crs.to_epsg() == 4326
        required = [
            "unit_id",
            "name",
            "parent_id",
            "population",
            "population_method",
            *[f"cov_{c}" for c in cats],
            "score",
            "complete_share",
            "worst_category",
        ]
        missing = [c for c in required if c not in units.columns]
        assert not missing, (level, missing)
        assert units["unit_id"].is_unique
        for col in [*[f"cov_{c}" for c in cats], "score", "complete_share"]:
            v = units[col].dropna()
            assert ((v >= 0) & (v <= 1)).all(), col
        analysed = units[units["population"].notna()]
        assert len(analysed) > 0
        assert analysed["worst_category"].isin(cats).all()
    district = gpd.read_file(path, layer="district")
    street = gpd.read_file(path, layer="street")
    assert len(district) == 8
    assert len(street) == 113
    assert district["parent_id"].isna().all()
    assert set(street["parent_id"]) <= set(district["unit_id"])


def test_facilities_gpkg_contract(cli_run, summary):
    path = cli_run[1] / "facilities.gpkg"
    fac = gpd.read_file(path)
    assert fac.crs.to_epsg() == 4326
    for col in ["facility_id", "category", "name", "source", "snap_m"]:
        assert col in fac.columns, col
    assert fac["facility_id"].is_unique
    assert set(fac["category"]) == set(summary["facilities"]["by_category"])
    assert "pois.gpkg" in set(fac["source"])
    assert fac["snap_m"].dropna().between(0, 500).all()
    assert fac["snap_m"].notna().sum() == summary["facilities"]["reachable"]


def test_gaps_csv_contract(cli_run, summary):
    gaps = pd.read_csv(cli_run[1] / "gaps.csv", encoding="utf-8-sig", dtype={"unit_id": str})
    assert list(gaps.columns) == [
        "unit_id",
        "name",
        "level",
        "category",
        "uncovered_population",
        "uncovered_share",
        "cohort",
        "uncovered_cohort",
        "partly_analysed",
        "units_analysed",
        "units_total",
    ]
    assert len(gaps) > 0
    # the cohort's uncovered residents: children for kindergartens, everyone for parks
    kg = gaps[gaps["category"] == "kindergarten"]
    assert (kg["cohort"] == "age_3_5").all()
    assert (kg["uncovered_cohort"] < kg["uncovered_population"] * 0.05).all()
    park = gaps[gaps["category"] == "park"]
    assert (park["uncovered_cohort"] == park["uncovered_population"]).all()
    assert gaps["uncovered_population"].is_monotonic_decreasing
    assert (gaps["uncovered_population"] > 0).all()
    assert gaps["uncovered_share"].between(0, 1).all()
    assert set(gaps["level"]) == {"district", "street"}
    assert set(gaps["category"]) <= set(summary["categories_audited"])


def test_quiet_prints_nothing_on_stdout(tmp_path):
    out = tmp_path / "quiet"
    res = invoke(["audit", "--out", out, "--no-map", "-q"])
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    assert "warning" not in res.stderr  # -q: errors only
    assert {p.name for p in out.iterdir()} == OUTPUTS


def test_standards_and_datasets_commands():
    res = invoke(["standards"])
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("gb50180-2018")
    assert lines[1].startswith("moreno-15min")
    assert lines[2].startswith("shanghai-rural-2021")
    assert "(11 categories)" in lines[0]
    res = invoke(["standards", "gb50180-2018"])
    assert res.exit_code == 0
    assert "kindergarten" in res.stdout
    assert "幼儿园" in res.stdout
    assert "elderly 0.91 m/s" in res.stdout
    res = invoke(["datasets"])
    assert res.exit_code == 0
    assert res.stdout.startswith("central-shanghai:")
    assert "streets.osm.pbf" in res.stdout
    assert "rural-example: GENERATED test area" in res.stdout
    res = invoke(["datasets", "--json"])
    paths = json.loads(res.stdout.splitlines()[0])["central-shanghai"]
    assert Path(paths["network"]).is_file()
    res = invoke(["standards", "gb99"])
    assert_user_error(res, "unknown standard 'gb99'")


# --------------------------------------------------------------------------- user mistakes


def test_missing_network_file(tmp_path):
    path = tmp_path / "nope.osm.pbf"
    res = invoke(["audit", "--network", path, "--out", tmp_path / "o", "--no-map"])
    assert_user_error(res, str(path), "does not exist", "--network")


def test_wrong_network_format(tmp_path):
    path = tmp_path / "streets.txt"
    path.write_text("these are not streets\n")
    res = invoke(["audit", "--network", path, "--out", tmp_path / "o", "--no-map"])
    assert_user_error(res, str(path), "unsupported network format", ".osm.pbf", ".graphml")


def test_facilities_without_crs(tmp_path, tiny_osm):
    path = tmp_path / "facilities.parquet"
    gpd.GeoDataFrame(
        {"category": ["kindergarten"], "name": ["幼儿园"]},
        geometry=[shapely.Point(LON0 + 0.002, LAT0 + 0.002)],
    ).to_parquet(path)
    assert gpd.read_parquet(path).crs is None
    res = invoke(
        ["audit", "--network", tiny_osm, "--facilities", path, "--out", tmp_path / "o", "--no-map"]
    )
    assert_user_error(res, str(path), "no coordinate reference system", "--facilities", "set_crs")


def test_units_without_unit_id(tmp_path, tiny_osm, tiny_facilities_csv):
    path = tmp_path / "units.gpkg"
    gpd.GeoDataFrame(
        {"code": ["A"], "name": ["a"]},
        geometry=[shapely.box(LON0, LAT0, LON0 + 0.005, LAT0 + 0.005)],
        crs="EPSG:4326",
    ).to_file(path)
    res = invoke(
        [
            "audit",
            "--network",
            tiny_osm,
            "--facilities",
            tiny_facilities_csv,
            "--units",
            path,
            "--out",
            tmp_path / "o",
            "--no-map",
        ]
    )
    assert_user_error(res, str(path), "'unit_id'", "--unit-levels")


def test_facilities_csv_with_unknown_category(tmp_path, tiny_osm):
    path = tmp_path / "facilities.csv"
    path.write_text(
        f"lon,lat,category,name\n{LON0 + 0.002},{LAT0 + 0.002},kindergarden,x\n", encoding="utf-8"
    )
    res = invoke(
        ["audit", "--network", tiny_osm, "--facilities", path, "--out", tmp_path / "o", "--no-map"]
    )
    assert_user_error(res, str(path), "'category'", "'kindergarden'", "kindergarten")


def test_category_without_facilities(tmp_path, tiny_osm, tiny_facilities_csv):
    res = invoke(
        [
            "audit",
            "--network",
            tiny_osm,
            "--facilities",
            tiny_facilities_csv,
            "--categories",
            "elderly_care",
            "--out",
            tmp_path / "o",
            "--no-map",
        ]
    )
    assert_user_error(
        res, "elderly_care", str(tiny_osm), str(tiny_facilities_csv), "--facilities", "--categories"
    )


def test_network_without_edges(tmp_path):
    path = tmp_path / "nodes-only.osm"
    path.write_text(osm_xml({1: (LON0, LAT0), 2: (LON0 + 0.001, LAT0)}, []), encoding="utf-8")
    res = invoke(["audit", "--network", path, "--out", tmp_path / "o", "--no-map"])
    assert_user_error(res, str(path), "no walkable edges", "highway")


def test_unknown_standard(tmp_path):
    res = invoke(["audit", "--standard", "gb99", "--out", tmp_path / "o", "--no-map"])
    assert_user_error(res, "unknown standard 'gb99'", "gb50180-2018", "YAML")


def test_unknown_profile(tmp_path):
    res = invoke(["audit", "--profile", "runner", "--out", tmp_path / "o", "--no-map"])
    assert_user_error(
        res, "gb50180-2018.yaml", "unknown walking profile 'runner'", "adult", "elderly", "child"
    )
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("bad", [["--categories", "elderly_care"], ["--profile", "runner"]])
def test_failed_run_leaves_previous_outputs_untouched(cli_run, tmp_path, bad):
    out = tmp_path / "prev"
    shutil.copytree(cli_run[1], out)  # copy2: keeps the previous run's mtimes
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    res = invoke(["audit", "--out", out, "--no-map", *bad])
    assert_user_error(res)
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in out.iterdir()}
    assert after.keys() == before.keys() == OUTPUTS
    for name in OUTPUTS:
        assert after[name] == before[name], name


def test_verbose_shows_more_and_quiet_less(tiny_osm, tiny_facilities_csv, tmp_path):
    runs = {}
    for flag in ("-q", None, "-v"):
        args = [
            "audit",
            "--network",
            tiny_osm,
            "--facilities",
            tiny_facilities_csv,
            "--keep-edge-units",
            "--no-map",
            "--out",
            tmp_path / "out",
        ]
        res = invoke(args + ([flag] if flag else []))
        assert res.exit_code == 0, res.output
        runs[flag] = res.stderr
    assert runs["-q"] == ""
    assert "DEBUG" not in runs[None] and "read network" in runs[None]
    assert "DEBUG lifecircle.pipeline: walk graph:" in runs["-v"]
    assert len(runs["-v"]) > len(runs[None])


def test_the_cli_leaves_the_root_logger_alone(tiny_osm, tiny_facilities_csv, tmp_path):
    import logging

    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    res = invoke(
        [
            "audit",
            "--network",
            tiny_osm,
            "--facilities",
            tiny_facilities_csv,
            "--keep-edge-units",
            "--no-map",
            "--out",
            tmp_path / "out",
        ]
    )
    assert res.exit_code == 0, res.output
    assert (list(root.handlers), root.level) == before


def test_gaps_csv_flags_partly_analysed_parents(cli_run):
    gaps = pd.read_csv(cli_run[1] / "gaps.csv", encoding="utf-8-sig", dtype={"unit_id": str})
    districts = gaps[gaps["level"] == "district"]
    assert districts["partly_analysed"].any()  # e.g. Huangpu: some streets are not analysed
    part = districts[districts["partly_analysed"]]
    assert (part["units_analysed"] < part["units_total"]).all()
    streets = gaps[gaps["level"] == "street"]
    assert not streets["partly_analysed"].any()
    assert (streets["units_total"] == 1).all()
