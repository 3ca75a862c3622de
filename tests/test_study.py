"""Study files, the no-argument audit and the offline --place download."""

from __future__ import annotations

import importlib.util
import inspect
import json
import shutil
import socket
from pathlib import Path

import pytest
import yaml

import lifecircle
from lifecircle.io.online import download_place
from lifecircle.study import STUDY_KEYS, bundled_study, load_study

from .byod_helpers import OUTPUTS, assert_ok, assert_user_error, invoke


def _write_study(folder: Path, data: dict, name: str = "study.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _copy_sample(sample_paths: dict[str, Path], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for path in sample_paths.values():
        shutil.copy(path, folder / path.name)


# --------------------------------------------------------------------------- the bundled study


def test_bundled_study_loads_and_its_paths_resolve(sample_paths):
    path = bundled_study()
    assert path.name == "central-shanghai.yaml" and path.is_file()
    study = load_study(path)
    assert study.name == "Central Shanghai sample"
    v = study.values
    for key in ("network", "units", "population"):
        assert v[key].is_absolute() and v[key].is_file(), key
        assert v[key].resolve() == sample_paths[key].resolve(), key
    assert v["network"].name == "streets.osm.pbf"
    assert [Path(p).resolve() for p in v["facilities"]] == [sample_paths["facilities"].resolve()]
    assert v["standard"] == "gb50180-2018"
    assert v["profile"] == "adult"
    # every key is an option of lifecircle.audit
    kwargs = study.audit_kwargs()
    inspect.signature(lifecircle.audit).bind(**kwargs)
    assert "name" not in kwargs and "description" not in kwargs


def test_every_study_key_reaches_audit_or_the_outputs():
    audit_params = set(inspect.signature(lifecircle.audit).parameters)
    output_only = {"name", "description", "out", "lang", "no_map", "basemap", "place"}
    assert set(STUDY_KEYS) - output_only <= audit_params


# --------------------------------------------------------------------------- mistakes


FIVE_MISTAKES = {
    "network": "no-such-streets.osm.pbf",
    "facilities": [123],
    "max_snap_m": "far",
    "lang": "fr",
    "colour": "blue",
}


def test_a_study_with_several_mistakes_lists_them_all(tmp_path):
    path = _write_study(tmp_path, FIVE_MISTAKES)
    with pytest.raises(lifecircle.ConfigError) as err:
        load_study(path)
    problems = err.value.problems
    assert len(problems) == 5, problems
    by_key = {p.split(":", 1)[0]: p for p in problems}
    assert set(by_key) == {"network", "facilities[0]", "max_snap_m", "lang", "colour"}
    assert "no-such-streets.osm.pbf" in by_key["network"] and "does not exist" in by_key["network"]
    assert str(tmp_path / "no-such-streets.osm.pbf") in by_key["network"]  # where it looked
    assert "path" in by_key["facilities[0]"] and "123" in by_key["facilities[0]"]
    assert "positive number" in by_key["max_snap_m"] and "'far'" in by_key["max_snap_m"]
    assert "en or zh" in by_key["lang"] and "'fr'" in by_key["lang"]
    assert "unknown option" in by_key["colour"] and "network" in by_key["colour"]
    msg = str(err.value)
    assert msg.startswith(f"{path}: 5 problems found")
    assert all(p in msg for p in problems)


def test_every_kind_of_value_is_checked(tmp_path, sample_paths):
    path = _write_study(tmp_path, {
        "network": str(sample_paths["network"]),
        "min_component_nodes": 0, "osm_pois": "yes", "categories": 5, "basemap": "google",
        "profile": 3, "hex_size_m": True, "out": [], "standard": 7,
    })
    with pytest.raises(lifecircle.ConfigError) as err:
        load_study(path)
    keys = sorted(p.split(":", 1)[0] for p in err.value.problems)
    assert keys == sorted(["min_component_nodes", "osm_pois", "categories", "basemap",
                           "profile", "hex_size_m", "out", "standard"])


def test_a_study_needs_a_network_or_a_place(tmp_path):
    with pytest.raises(lifecircle.ConfigError, match="network: missing"):
        load_study(_write_study(tmp_path, {"name": "nothing"}))
    study = load_study(_write_study(tmp_path, {"place": "青浦区, 上海市"}, "place.yaml"))
    assert study.values["place"] == "青浦区, 上海市"
    assert study.name == "place"  # the file's stem without a name


def test_unreadable_study_files(tmp_path):
    with pytest.raises(lifecircle.InputFileError, match="does not exist"):
        load_study(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("network: [unclosed\n", encoding="utf-8")
    with pytest.raises(lifecircle.ConfigError, match="not valid YAML"):
        load_study(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- network\n- units\n", encoding="utf-8")
    with pytest.raises(lifecircle.ConfigError, match="mapping"):
        load_study(listed)


def test_cli_reports_every_mistake_and_exits_2(tmp_path):
    path = _write_study(tmp_path, FIVE_MISTAKES)
    res = invoke(["audit", path, "--no-map", "--out", tmp_path / "out"])
    message = assert_user_error(res, "5 problems", "colour", "max_snap_m", "lang",
                                "facilities[0]", "no-such-streets.osm.pbf")
    assert message.count("\n  - ") == 5
    assert not (tmp_path / "out").exists()
    res = invoke(["audit", tmp_path / "nope.yaml", "--no-map"])
    assert_user_error(res, "nope.yaml", "does not exist")


# --------------------------------------------------------------------------- paths


def test_paths_are_relative_to_the_study_file(tmp_path, sample_paths, monkeypatch):
    _copy_sample(sample_paths, tmp_path / "project" / "data")
    study_path = _write_study(tmp_path / "project" / "studies", {
        "network": "../data/streets.osm.pbf",
        "facilities": ["../data/pois.gpkg", str(sample_paths["facilities"])],
        "units": "../data/units.gpkg",
        "population": "../data/population.gpkg",
        "out": "../results",
    })
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    v = load_study(Path("..") / "project" / "studies" / "study.yaml").values
    data = (tmp_path / "project" / "data").resolve()
    assert v["network"] == data / "streets.osm.pbf"
    assert v["units"] == data / "units.gpkg"
    assert v["population"] == data / "population.gpkg"
    assert [Path(p) for p in v["facilities"]] == [data / "pois.gpkg",
                                                  sample_paths["facilities"]]
    assert v["out"] == (tmp_path / "project" / "results").resolve()
    assert study_path.is_file()


@pytest.fixture(scope="module")
def study_run(tmp_path_factory, sample_paths):
    """`lifecircle audit STUDY.yaml --profile child --out Y` where the study says elderly, X."""
    root = tmp_path_factory.mktemp("study")
    _copy_sample(sample_paths, root / "data")
    study = _write_study(root / "studies", {
        "name": "复制的样例",
        "network": "../data/streets.osm.pbf",
        "facilities": ["../data/pois.gpkg"],
        "units": "../data/units.gpkg",
        "population": "../data/population.gpkg",
        "profile": "elderly",
        "categories": ["kindergarten", "park", "bus_stop"],
        "out": "study-out",
        "lang": "zh",
    })
    out = root / "flag-out"
    res = invoke(["audit", study, "--no-map", "--profile", "child", "--out", out])
    return res, root, out


def test_cli_study_file_with_flags_overriding_it(study_run):
    res, root, out = study_run
    assert_ok(res)
    assert OUTPUTS <= {p.name for p in out.iterdir()}
    assert not (root / "studies" / "study-out").exists()  # --out wins over the study's out
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["profile"]["id"] == "child"  # --profile wins over the study's elderly
    assert summary["categories_audited"] == ["kindergarten", "park", "bus_stop"]  # study's
    data = (root / "data").resolve()
    assert Path(summary["study"]["network"]) == data / "streets.osm.pbf"
    assert [Path(p) for p in summary["study"]["facilities"]] == [data / "pois.gpkg"]
    assert Path(summary["study"]["units"]) == data / "units.gpkg"


def test_cli_with_no_arguments_audits_the_bundled_study(tmp_path, monkeypatch):
    """`lifecircle audit` alone. It also renders map and report when that stage exists;
    until lifecircle.render.report lands, --no-map is added (the only flag)."""
    renders = importlib.util.find_spec("lifecircle.render.report") is not None
    monkeypatch.chdir(tmp_path)
    res = invoke(["audit"] if renders else ["audit", "--no-map"])
    assert_ok(res)
    out = tmp_path / "lifecircle-out"
    expected = OUTPUTS | ({"map.html", "report.html"} if renders else set())
    assert expected <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["study"]["network"].endswith("streets.osm.pbf")
    bundled = load_study(bundled_study()).values
    assert Path(summary["study"]["network"]) == bundled["network"]
    assert summary["profile"]["id"] == "adult"
    assert summary["standard"]["id"] == "gb50180-2018"


# --------------------------------------------------------------------------- --place offline


@pytest.fixture
def offline(monkeypatch):
    """osmnx downloads fail as without internet; any socket connection fails the test."""
    import osmnx

    def no_internet(*args, **kwargs):
        raise ConnectionError("Max retries exceeded with url: nominatim.openstreetmap.org")

    monkeypatch.setattr(osmnx, "graph_from_place", no_internet)
    monkeypatch.setattr(osmnx, "features_from_place", no_internet)

    def refuse(self, *args, **kwargs):
        pytest.fail("a test tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_download_place_offline_says_internet_is_needed(tmp_path, offline, gb_standard):
    with pytest.raises(lifecircle.DataError) as err:
        download_place("青浦区, 上海市", tmp_path / "dl", gb_standard)
    msg = str(err.value)
    assert "青浦区, 上海市" in msg and "internet" in msg and "--network" in msg
    assert "ConnectionError" in msg


def test_cli_place_offline_exits_2_and_suggests_network(tmp_path, offline):
    res = invoke(["audit", "--place", "青浦区, 上海市", "--out", tmp_path / "out", "--no-map"])
    message = assert_user_error(res, "青浦区, 上海市", "internet", "--network")
    assert "Traceback" not in message
    assert not (tmp_path / "out" / "summary.json").exists()
