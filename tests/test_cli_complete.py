"""``lifecircle optimize --categories ...``: the complete-life-circle siting on the command line.

The tiny district of ``test_optimize`` (kindergartens only; convenience stores and
community service stations greenfield) with a candidate file, run through the CLI;
its figures are checked against the library's own solve of the same problem. Bad
combinations of options exit with code 2 and a message naming the option and the fix.
A slow test runs the bundled sample (three 5-minute categories, nine facilities).
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pytest

from lifecircle.complete_siting import CompleteSitingProblem
from lifecircle.errors import ConfigError
from lifecircle.options import SitingOptions
from lifecircle.render._text import pct
from tests.conftest import assert_user_error, invoke
from tests.test_optimize import PLACEMENTS, random_candidates, tiny_audit, write_instance
from tests.test_render_complete import table

CATS = ["kindergarten", "convenience_store", "community_service"]
AUDIT_FILES = {"access.parquet", "facilities.gpkg", "gaps.csv", "summary.json", "units.gpkg"}
SITING_FILES = {"proposals.geojson", "units_after.gpkg", "optimize.json"}
PAGES = {"map.html", "report.html"}


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cli-complete")
    paths = write_instance(folder, 2, PLACEMENTS[2])
    random_candidates(2, 7).to_file(folder / "candidates.geojson", driver="GeoJSON")
    return {
        "network": paths["network"],
        "facilities": paths["facilities"][0],
        "units": paths["units"],
        "population": paths["population"],
        "candidates": folder / "candidates.geojson",
    }


def args(files: dict[str, Path], out: Path, *extra: object) -> list[object]:
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
        "--candidates",
        files["candidates"],
        "--profile",
        "adult",
        "--basemap",
        "none",
        "--out",
        out,
        *extra,
    ]


def run_ok(files: dict[str, Path], out: Path, *extra: object) -> tuple[str, dict]:
    res = invoke(args(files, out, *extra))
    assert res.exit_code == 0, (res.output, res.exception)
    data = json.loads((out / "optimize.json").read_text(encoding="utf-8"))
    return res.stdout, data


@pytest.fixture(scope="module")
def library(files):
    """The same problem solved through the library (the CLI must agree with it)."""
    paths = {
        "network": files["network"],
        "facilities": [files["facilities"]],
        "units": files["units"],
        "population": files["population"],
    }
    result = tiny_audit(paths)
    cand = gpd.read_file(files["candidates"])
    return CompleteSitingProblem.from_audit(result, CATS, candidates=cand)


# --------------------------------------------------------------------------- runs


def test_joint_siting_writes_every_file_and_the_library_figures(files, library, tmp_path):
    out = tmp_path / "out"
    stdout, data = run_ok(files, out, "--categories", ",".join(CATS), "--sites", "3")
    assert {p.name for p in out.iterdir()} == AUDIT_FILES | SITING_FILES | PAGES
    assert data["kind"] == "complete"
    assert data["categories"] == CATS
    assert data["model"] == "joint" and data["objective"] == "coverage"
    assert data["sites_requested"] == 3 and data["facilities"] == 3
    expected = library.solve(sites=3)
    assert data["objective_value"] == pytest.approx(expected.objective, abs=1e-3)
    assert data["complete_listed_after"] == pytest.approx(
        expected.summary()["complete_listed_after"], abs=1e-6
    )
    for key in ("comparison", "complete_before", "complete_after", "coverage_after", "units"):
        assert data[key]
    assert data["comparison"]["joint"]["newly_complete"] >= (
        data["comparison"]["single_category"]["newly_complete"] - 1e-6
    )
    props = gpd.read_file(out / "proposals.geojson")
    assert {"categories", "n_categories", "complex", "marginal_newly_complete"} <= set(props)
    assert props["n_categories"].sum() == 3
    for cats in props["categories"]:
        assert set(cats.split(",")) <= set(CATS)
    # the paragraph: model, sites, the share before -> after, the comparison, the solver
    line = stdout.splitlines()[0]
    for needle in (
        "Joint siting of kindergarten, convenience_store, community_service",
        f"{data['sites']} site",
        f"{data['complete_listed_before']:.2%} -> {data['complete_listed_after']:.2%}",
        "best single-category runs",
        data["status"],
    ):
        assert needle in line, (needle, line)
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "Complete life circle siting" in report
    assert table(report, "proposal-units-complete-comparison")


def test_per_category_budgets_maxmin_and_tradeoff_in_chinese(files, library, tmp_path):
    out = tmp_path / "out"
    budget = "kindergarten=1,convenience_store=2,community_service=1"
    _, data = run_ok(
        files,
        out,
        "--categories",
        ",".join(CATS),
        "--sites",
        budget,
        "--objective",
        "maxmin",
        "--tradeoff",
        "0,0.5,1",
        "--lang",
        "zh",
    )
    assert data["sites_requested"] == {
        "kindergarten": 1,
        "convenience_store": 2,
        "community_service": 1,
    }
    assert data["objective"] == "maxmin"
    per = data["sites_per_category"]
    assert per["kindergarten"] <= 1 and per["convenience_store"] <= 2
    assert per["community_service"] <= 1
    expected = library.solve(
        sites={"kindergarten": 1, "convenience_store": 2, "community_service": 1},
        objective="maxmin",
        compare=False,
    )
    assert data["objective_value"] == pytest.approx(expected.objective, abs=1e-6)
    assert [row["weight"] for row in data["tradeoff"]] == [0.0, 0.5, 1.0]
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "完整生活圈选址" in report and "效率与公平的权衡" in report
    rows = table(report, "proposal-units-complete-tradeoff")
    assert [r[0] for r in rows] == ["0", "0.5", "1"]
    assert [r[1] for r in rows] == [pct(row["complete_share"]) for row in data["tradeoff"]]


def test_complexes(files, tmp_path):
    out = tmp_path / "out"
    stdout, data = run_ok(
        files, out, "--categories", ",".join(CATS), "--sites", "2", "--complex", "--no-map"
    )
    assert {p.name for p in out.iterdir()} == AUDIT_FILES | SITING_FILES
    assert data["model"] == "complex" and data["complex"] is True
    assert data["facilities"] == 3 * data["sites"]
    sep = data["comparison"]["joint_separate"]
    assert sep["sites_per_category"] == 2
    assert sep["newly_complete"] >= data["comparison"]["joint"]["newly_complete"] - 1e-6
    props = gpd.read_file(out / "proposals.geojson")
    assert props["complex"].all() and (props["n_categories"] == 3).all()
    assert props["site_id"].str.startswith("complex-").all()
    assert "2 complexes" in stdout and "separate sites per category" in stdout


def test_single_category_path_is_unchanged(files, tmp_path):
    # --categories with --category still limits the audit; the single-category model runs
    out = tmp_path / "out"
    res = invoke(
        args(
            files, out, "--category", "kindergarten", "--categories", "kindergarten", "--sites", "2"
        )
    )
    assert res.exit_code == 0, res.output
    data = json.loads((out / "optimize.json").read_text(encoding="utf-8"))
    assert data["category"] == "kindergarten" and data["model"] == "mclp"
    assert "kind" not in data or data["kind"] != "complete"


# --------------------------------------------------------------------------- mistakes


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--sites", "2", "--objective", "distance"], ["--objective distance", "--categories use"]),
        (["--sites", "kindergarten=1", "--complex"], ["--complex", "--sites N"]),
        ([], ["--categories needs --sites"]),
        (["--sites", "2", "--fairness-weight", "0.3"], ["--fairness-weight", "--objective fair"]),
        (["--sites", "2", "--target-coverage", "0.5"], ["--target-coverage", "give --sites N"]),
        (["--sites", "2", "--capacity", "100"], ["--capacity", "one --category"]),
        (["--sites", "2", "--level", "7min"], ["--level", "not a level"]),
        (["--sites", "kindergarten=1"], ["--sites per category", "missing"]),
        (["--sites", "kindergarten=1,park=1,convenience_store=0,community_service=0"], ["park"]),
    ],
)
def test_bad_combinations_with_categories_exit_2(files, tmp_path, extra, needles):
    out = tmp_path / "out"
    res = invoke(args(files, out, "--categories", ",".join(CATS), *extra))
    assert_user_error(res, *needles)
    assert not out.exists()


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--complex"], ["--complex applies to several categories", "--categories a,b,c"]),
        (["--objective", "maxmin"], ["--objective maxmin", "--categories"]),
        (["--level", "5min"], ["--level"]),
        (["--tradeoff", "0,1"], ["--tradeoff"]),
    ],
)
def test_complete_only_options_with_one_category_exit_2(files, tmp_path, extra, needles):
    res = invoke(
        args(files, tmp_path / "out", "--category", "kindergarten", "--sites", "2", *extra)
    )
    assert_user_error(res, *needles)


@pytest.mark.parametrize(
    ("extra", "needles"),
    [
        (["--sites", "kindergarten=x"], ["--sites", "kindergarten", "'x'"]),
        (["--sites", "0"], ["--sites", "got 0"]),
        (["--sites", "2", "--tradeoff", "0,2"], ["--tradeoff", "got 2.0"]),
        (["--sites", "2", "--tradeoff", "0,a"], ["--tradeoff", "'a'"]),
        (["--sites", "2", "--objective", "fair", "--fairness-weight", "1.5"], ["1.5"]),
    ],
)
def test_bad_values_are_refused_by_the_flag(files, tmp_path, extra, needles):
    res = invoke(args(files, tmp_path / "out", "--categories", ",".join(CATS), *extra))
    assert res.exit_code == 2
    assert "Invalid value" in res.stderr
    for needle in needles:
        assert needle in res.stderr, (needle, res.stderr)


def test_neither_category_nor_categories(files, tmp_path):
    res = invoke(args(files, tmp_path / "out", "--sites", "2"))
    assert res.exit_code == 2
    assert "--category" in res.stderr and "--categories" in res.stderr


# --------------------------------------------------------------------------- the options


def test_siting_options_parse_budgets_and_weights():
    assert SitingOptions(categories="a,b", sites="3").sites == 3
    per = SitingOptions(categories="a,b", sites="a=3, b=0").sites
    assert dict(per) == {"a": 3, "b": 0}
    assert SitingOptions(categories=("a", "b"), sites={"a": 1, "b": 2}).sites == {"a": 1, "b": 2}
    opts = SitingOptions(categories="a,b", sites=2, objective="fair", tradeoff="0, 0.25,1")
    assert opts.tradeoff == (0.0, 0.25, 1.0)
    assert opts.complete and opts.categories == ("a", "b")
    assert not SitingOptions(category="a", sites=2).complete
    with pytest.raises(ConfigError, match="given twice"):
        SitingOptions(categories="a,b", sites="a=1,a=2")
    with pytest.raises(ConfigError, match="below the minimum of 0"):
        SitingOptions(categories="a,b", sites={"a": -1, "b": 1})
    with pytest.raises(ConfigError, match="--category and categories"):
        SitingOptions(category="a", categories="a,b", sites=2)


# --------------------------------------------------------------------------- the sample


@pytest.mark.slow
def test_sample_joint_beats_single_category_runs(tmp_path):
    out = tmp_path / "out"
    cats = "kindergarten,elderly_care,community_service"
    res = invoke(
        ["optimize", "--categories", cats, "--level", "5min", "--sites", "9", "--out", out]
    )
    assert res.exit_code == 0, (res.output, res.exception)
    print(res.stdout)
    data = json.loads((out / "optimize.json").read_text(encoding="utf-8"))
    comp = data["comparison"]
    joint, single = comp["joint"], comp["single_category"]
    assert data["fixed_categories"] == ["convenience_store"]
    assert joint["facilities"] == single["facilities"] == 9
    assert joint["complete_share_after"] > single["complete_share_after"]
    # the quantity maximised is the audit's own complete 5-minute share
    assert data["complete_after"]["complete_5min"] == pytest.approx(
        joint["complete_share_after"], abs=1e-6
    )
    report = (out / "report.html").read_text(encoding="utf-8")
    rows = table(report, "proposal-units-complete-comparison")
    assert rows[0][4] == pct(joint["complete_share_after"])
    assert rows[1][4] == pct(single["complete_share_after"])
    assert "complete 5-minute life circle" in report or "complete 5min life circle" in report
