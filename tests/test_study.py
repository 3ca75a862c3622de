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
    assert "profile" not in v  # each category walks at its cohort's profile
    # every key is an option of lifecircle.audit
    kwargs = study.audit_kwargs()
    inspect.signature(lifecircle.audit).bind(**kwargs)
    assert "name" not in kwargs and "description" not in kwargs


def test_every_study_key_reaches_audit_or_the_outputs():
    from lifecircle.options import AuditOptions, RunOptions, option_specs

    audit_params = {s.name for s in option_specs(AuditOptions)}
    output_only = {"area", "description"} | {s.name for s in option_specs(RunOptions)}
    assert set(STUDY_KEYS) - output_only <= audit_params
    # and every declared option may be set in a study
    assert audit_params <= set(STUDY_KEYS)
    assert "keep_edge_units" in STUDY_KEYS and "snap" in STUDY_KEYS


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
    assert by_key["max_snap_m"] == (
        "max_snap_m: got 'far', which is not a number (write it without quotes); give a "
        "number greater than 0 and at most 5000 m (default 500)"
    )
    assert "en or zh" in by_key["lang"] and "'fr'" in by_key["lang"]
    assert "unknown option" in by_key["colour"] and "network" in by_key["colour"]
    msg = str(err.value)
    assert msg.startswith(f"{path}: 5 problems found")
    assert all(p in msg for p in problems)


def test_every_kind_of_value_is_checked(tmp_path, sample_paths):
    path = _write_study(
        tmp_path,
        {
            "network": str(sample_paths["network"]),
            "min_component_nodes": 0,
            "osm_pois": "yes",
            "categories": 5,
            "basemap": "google",
            "profile": 3,
            "hex_size_m": True,
            "out": [],
            "standard": 7,
        },
    )
    with pytest.raises(lifecircle.ConfigError) as err:
        load_study(path)
    keys = sorted(p.split(":", 1)[0] for p in err.value.problems)
    assert keys == sorted(
        [
            "min_component_nodes",
            "osm_pois",
            "categories",
            "basemap",
            "profile",
            "hex_size_m",
            "out",
            "standard",
        ]
    )


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
    message = assert_user_error(
        res,
        "5 problems",
        "colour",
        "max_snap_m",
        "lang",
        "facilities[0]",
        "no-such-streets.osm.pbf",
    )
    assert message.count("\n  - ") == 5
    assert not (tmp_path / "out").exists()
    res = invoke(["audit", tmp_path / "nope.yaml", "--no-map"])
    assert_user_error(res, "nope.yaml", "does not exist")


# --------------------------------------------------------------------------- paths


def test_paths_are_relative_to_the_study_file(tmp_path, sample_paths, monkeypatch):
    _copy_sample(sample_paths, tmp_path / "project" / "data")
    study_path = _write_study(
        tmp_path / "project" / "studies",
        {
            "network": "../data/streets.osm.pbf",
            "facilities": ["../data/pois.gpkg", str(sample_paths["facilities"])],
            "units": "../data/units.gpkg",
            "population": "../data/population.gpkg",
            "out": "../results",
        },
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    v = load_study(Path("..") / "project" / "studies" / "study.yaml").values
    data = (tmp_path / "project" / "data").resolve()
    assert v["network"] == data / "streets.osm.pbf"
    assert v["units"] == data / "units.gpkg"
    assert v["population"] == data / "population.gpkg"
    assert [Path(p) for p in v["facilities"]] == [data / "pois.gpkg", sample_paths["facilities"]]
    assert v["out"] == (tmp_path / "project" / "results").resolve()
    assert study_path.is_file()


@pytest.fixture(scope="module")
def study_run(tmp_path_factory, sample_paths):
    """`lifecircle audit STUDY.yaml --profile child --out Y` where the study says elderly, X."""
    root = tmp_path_factory.mktemp("study")
    _copy_sample(sample_paths, root / "data")
    study = _write_study(
        root / "studies",
        {
            "name": "复制的样例",
            "network": "../data/streets.osm.pbf",
            "facilities": ["../data/pois.gpkg"],
            "units": "../data/units.gpkg",
            "population": "../data/population.gpkg",
            "profile": "elderly",
            "categories": ["kindergarten", "park", "bus_stop"],
            "out": "study-out",
            "lang": "zh",
        },
    )
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


# --------------------------------------------------------------------------- hostile studies
# Each case used to crash with a traceback, pass silently or print megabytes.


def _study_problems(folder: Path, data: bytes | str | dict, name: str = "study.yaml") -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    if isinstance(data, dict):
        data = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    with pytest.raises(lifecircle.ConfigError) as err:
        load_study(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ")
    assert len(msg) < 3000, len(msg)
    return err.value.problems


def test_a_study_saved_in_gbk_is_refused(tmp_path, sample_paths):
    text = f"name: 上海样例\nnetwork: {sample_paths['network']}\n"
    assert _study_problems(tmp_path, text.encode("gbk")) == [
        "the file is not UTF-8 text (byte 0xC9 at line 1, column 7); it reads as "
        "GBK/GB18030, the legacy Chinese encoding of many Windows editors. Re-save it as "
        "UTF-8 (in your editor: Save As, Encoding: UTF-8) or convert it with `iconv -f "
        "GB18030 -t UTF-8 OLD.yaml > NEW.yaml`; a study file must be UTF-8"
    ]


def test_a_study_with_a_bom_and_chinese_names_loads(tmp_path, sample_paths):
    path = tmp_path / "样例.yaml"
    text = (
        f"name: Sample\nname_zh: 上海样例\narea: 黄浦区\nnetwork: {sample_paths['network']}\n"
        "description: a test\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    study = load_study(path)
    assert (study.name, study.name_zh, study.area, study.description) == (
        "Sample",
        "上海样例",
        "黄浦区",
        "a test",
    )
    assert study.title("zh") == "上海样例" and study.title("en") == "Sample"
    assert study.values["name"] == "Sample"
    assert set(study.audit_kwargs()) == {"network"}


def test_a_study_without_a_name_is_named_after_its_file(tmp_path, sample_paths):
    study = load_study(
        _write_study(tmp_path, {"network": str(sample_paths["network"])}, "my-district.yaml")
    )
    assert study.name == "my-district" == study.values["name"]
    assert study.name_zh == "my-district" and study.title("zh") == "my-district"
    assert study.area == "" and study.description == ""


def test_the_bundled_study_has_english_and_chinese_names():
    study = load_study(bundled_study())
    assert study.title("en") == "Central Shanghai sample"
    assert study.title("zh") == "上海中心城区样例"


def test_unknown_keys_suggest_the_closest(tmp_path, sample_paths):
    problems = _study_problems(
        tmp_path,
        {"network": str(sample_paths["network"]), "netwrok": "x", "max_snap": 300, "zzz": 1},
    )
    allowed = ", ".join(STUDY_KEYS)
    assert problems == [
        f"netwrok: unknown option; did you mean 'network'? (allowed: {allowed})",
        f"max_snap: unknown option; did you mean 'max_snap_m'? (allowed: {allowed})",
        f"zzz: unknown option (allowed: {allowed})",
    ]


SNAP_RANGE = "give a number greater than 0 and at most 5000 m (default 500)"
HEX_RANGE = (
    "give a number from 50 to 20000 m (default 500) — the size is centre to corner; "
    "below 50 m the cells multiply (1 m hexagons over the sample needed 10.9 GB)"
)
NODES_RANGE = "give a whole number of at least 1"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("max_snap_m: .nan", f"max_snap_m: got nan, which is not a finite number; {SNAP_RANGE}"),
        ("max_snap_m: .inf", f"max_snap_m: got inf, which is not a finite number; {SNAP_RANGE}"),
        ("max_snap_m: -.inf", f"max_snap_m: got -inf, which is not a finite number; {SNAP_RANGE}"),
        ("max_snap_m: 0", f"max_snap_m: got 0, which is not greater than 0 m; {SNAP_RANGE}"),
        ("max_snap_m: -5", f"max_snap_m: got -5, which is not greater than 0 m; {SNAP_RANGE}"),
        (
            "max_snap_m: 5001",
            f"max_snap_m: got 5001, which is above the maximum of 5000 m; {SNAP_RANGE}",
        ),
        (
            "max_snap_m: '500'",
            f"max_snap_m: got '500', which is not a number (write it without quotes); {SNAP_RANGE}",
        ),
        ("max_snap_m: true", f"max_snap_m: got True, which is not a number; {SNAP_RANGE}"),
        ("hex_size_m: 1", f"hex_size_m: got 1, which is below the minimum of 50 m; {HEX_RANGE}"),
        (
            "hex_size_m: 49.9",
            f"hex_size_m: got 49.9, which is below the minimum of 50 m; {HEX_RANGE}",
        ),
        (
            "hex_size_m: 20001",
            f"hex_size_m: got 20001, which is above the maximum of 20000 m; {HEX_RANGE}",
        ),
        (
            "hex_size_m: .nan",
            "hex_size_m: got nan, which is not a finite number; give a number "
            "from 50 to 20000 m (default 500)",
        ),
        (
            "min_component_nodes: 0",
            f"min_component_nodes: got 0, which is below the minimum of 1; {NODES_RANGE}",
        ),
        (
            "min_component_nodes: 2.5",
            f"min_component_nodes: got 2.5, which is not a whole number; {NODES_RANGE}",
        ),
        (
            "min_component_nodes: .inf",
            f"min_component_nodes: got inf, which is not a finite number; {NODES_RANGE}",
        ),
        (
            "min_component_nodes: [1000]",
            f"min_component_nodes: got [1000], which is not a number; {NODES_RANGE}",
        ),
    ],
)
def test_numeric_options_are_range_checked(tmp_path, sample_paths, text, problem):
    study = f"network: {sample_paths['network']}\n{text}\n"
    assert _study_problems(tmp_path, study) == [problem]


def test_numeric_options_at_their_bounds_are_accepted(tmp_path, sample_paths):
    study = load_study(
        _write_study(
            tmp_path,
            {
                "network": str(sample_paths["network"]),
                "max_snap_m": 5000,
                "hex_size_m": 50,
                "min_component_nodes": 1,
            },
        )
    )
    assert (
        study.values["max_snap_m"],
        study.values["hex_size_m"],
        study.values["min_component_nodes"],
    ) == (5000.0, 50.0, 1)
    assert type(study.values["min_component_nodes"]) is int
    study = load_study(
        _write_study(
            tmp_path,
            {
                "network": str(sample_paths["network"]),
                "hex_size_m": 20000,
                "min_component_nodes": 1000.0,
            },
            "b.yaml",
        )
    )
    assert study.values["hex_size_m"] == 20000.0
    assert study.values["min_component_nodes"] == 1000
    assert type(study.values["min_component_nodes"]) is int


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            [],
            "categories: the list is empty; list at least one, e.g. [kindergarten, park], or "
            "remove `categories` to use all",
        ),
        (
            "",
            "categories: the list is empty; list at least one, e.g. [kindergarten, park], or "
            "remove `categories` to use all",
        ),
        (
            " , ",
            "categories: the list is empty; list at least one, e.g. [kindergarten, park], or "
            "remove `categories` to use all",
        ),
        (["park", "park"], "categories: 'park' is listed twice; list each once"),
        ([1, 2], "categories: must be a list of texts, e.g. [kindergarten, park], got [1, 2]"),
        ({"a": 1}, "categories: must be a list of texts, e.g. [kindergarten, park], got {'a': 1}"),
    ],
)
def test_category_lists(tmp_path, sample_paths, value, problem):
    assert _study_problems(
        tmp_path, {"network": str(sample_paths["network"]), "categories": value}
    ) == [problem]


def test_categories_as_a_comma_separated_text(tmp_path, sample_paths):
    study = load_study(
        _write_study(
            tmp_path, {"network": str(sample_paths["network"]), "categories": " park, bus_stop ,"}
        )
    )
    assert study.values["categories"] == ["park", "bus_stop"]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            "",
            "the file is empty; write one `option: value` per line, at least `network: PATH` "
            "(see configs/studies/central-shanghai.yaml)",
        ),
        (
            "# only a comment\n",
            "the file is empty; write one `option: value` per line, at least "
            "`network: PATH` (see configs/studies/central-shanghai.yaml)",
        ),
        (
            "- network\n- units\n",
            "a study file must be a mapping of option: value, not a list; "
            "write one `option: value` per line, e.g. `network: "
            "streets.osm.pbf`",
        ),
        (
            "42\n",
            "a study file must be a mapping of option: value, not a single value (42); "
            "write one `option: value` per line, e.g. `network: streets.osm.pbf`",
        ),
        (
            "streets.osm.pbf\n",
            "a study file must be a mapping of option: value, not a single "
            "value ('streets.osm.pbf'); write one `option: value` per line, "
            "e.g. `network: streets.osm.pbf`",
        ),
    ],
)
def test_a_study_that_is_not_a_mapping(tmp_path, data, problem):
    assert _study_problems(tmp_path, data) == [problem]


def test_paths_that_do_not_exist_are_named_relative_to_the_study(tmp_path, sample_paths):
    folder = tmp_path / "studies"
    problems = _study_problems(
        folder,
        {
            "network": str(sample_paths["network"]),
            "units": "../data/units.gpkg",
            "population": str(tmp_path),
            "facilities": [
                {"path": "../pois.csv", "crs": "gcj02"},
                {"path": str(sample_paths["facilities"]), "crs": "mars"},
                {"file": "x.csv"},
            ],
            "standard": "../standards/local.yaml",
            "out": str(sample_paths["network"]),
        },
    )
    looked = (tmp_path / "data" / "units.gpkg").resolve()
    assert problems == [
        f"units: file '../data/units.gpkg' does not exist (looked at {looked}); paths are "
        "relative to the study file",
        f"population: {str(tmp_path)!r} is a folder (looked at {tmp_path}); give a file",
        f"facilities[0]: file '../pois.csv' does not exist (looked at "
        f"{(tmp_path / 'pois.csv').resolve()}); paths are relative to the study file",
        "facilities[1].crs: 'mars' is not understood; use wgs84, gcj02 (Amap, Tencent), bd09 "
        "(Baidu) or a CRS such as EPSG:4326",
        "facilities[2]: unknown field 'file'; a facility file is {path: ..., crs: ...}",
        "standard: file '../standards/local.yaml' does not exist (looked at "
        f"{(tmp_path / 'standards' / 'local.yaml').resolve()}); paths are relative to the "
        "study file",
        f"out: {str(sample_paths['network'])!r} is a file (looked at "
        f"{sample_paths['network']}); give a folder for the outputs",
    ]


def test_unknown_standard_name_and_bad_datum(tmp_path, sample_paths):
    problems = _study_problems(
        tmp_path,
        {
            "network": str(sample_paths["network"]),
            "standard": "gb50180",
            "facilities_crs": "EPSG:0",
        },
    )
    assert problems == [
        "standard: 'gb50180' is not a bundled standard; did you mean 'gb50180-2018'? "
        "(bundled: gb50180-2018, moreno-15min, shanghai-rural-2021; or give the path of a "
        ".yaml file, relative to the study file)",
        "facilities_crs: 'EPSG:0' is not understood; use wgs84, gcj02 (Amap, Tencent), bd09 "
        "(Baidu) or a CRS such as EPSG:4326",
    ]
    study = load_study(
        _write_study(
            tmp_path,
            {"network": str(sample_paths["network"]), "facilities_crs": "EPSG:4490"},
            "ok.yaml",
        )
    )
    assert study.values["facilities_crs"] == "EPSG:4490"


def test_texts_must_be_texts_and_short(tmp_path, sample_paths):
    problems = _study_problems(
        tmp_path,
        {
            "network": str(sample_paths["network"]),
            "name": 2024,
            "area": "x" * 201,
            "profile": ["adult"],
            "lang": "fr" * 1000,
        },
    )
    assert problems == [
        "name: must be a text (quote it if YAML reads it as a number, date or true/false), "
        "got 2024",
        "area: 201 characters is too long; shorten it to at most 200",
        "profile: must be a text (quote it if YAML reads it as a number, date or "
        "true/false), got ['adult']",
        f"lang: must be en or zh, got '{'fr' * 39}…",  # shown cut to 80 characters
    ]


def test_duplicate_keys_aliases_and_tags_in_a_study(tmp_path, sample_paths):
    net = sample_paths["network"]
    assert _study_problems(tmp_path, f"network: {net}\nprofile: adult\nprofile: elderly\n") == [
        "line 3: duplicate key 'profile' (first at line 2); YAML would silently keep only "
        "the last one: remove or rename one of them"
    ]
    assert _study_problems(tmp_path, f"network: &n {net}\nunits: *n\n") == [
        "line 2: the alias *n is not allowed; a study file may not use YAML aliases (*name) "
        "or merge keys (<<: *name), because a few lines of them can expand to gigabytes; "
        "write the values out in full"
    ]
    assert _study_problems(tmp_path, "network: !!python/object/new:os.getcwd []\n") == [
        "line 1: the tag 'tag:yaml.org,2002:python/object/new:os.getcwd' is not allowed; a "
        "study file holds plain values only (text, numbers, true/false, lists and mappings): "
        "remove the tag"
    ]


STUDY_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "network: [*e,*e,*e]\n"
)


def test_a_billion_laughs_study_gives_a_short_message(tmp_path):
    assert len(STUDY_BOMB) < 400
    (problem,) = _study_problems(tmp_path, STUDY_BOMB)
    assert problem.startswith("line 2: the alias *a is not allowed")


def test_many_mistakes_in_a_study_are_capped(tmp_path):
    data = {f"option_{i}": i for i in range(100)}
    with pytest.raises(lifecircle.ConfigError) as err:
        load_study(_write_study(tmp_path, data))
    msg = str(err.value)
    assert ": 100 problems found; fix them and run again:\n" in msg
    assert len(msg.splitlines()) == 21
    assert msg.splitlines()[-1] == "  - ... and 81 more; fix these and run again to see the rest"
    assert len(msg) < 20 * 420


def test_a_study_that_is_a_folder_or_over_250_kb(tmp_path):
    with pytest.raises(lifecircle.InputFileError, match="is a folder, not a file"):
        load_study(tmp_path)
    assert _study_problems(tmp_path, "name: x\n" + "#" * 250_000) == [
        "the file is larger than 250 kB; a study file is a short text file: check that you "
        "gave the study YAML and not a data file"
    ]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ("name: 上海\nnetwork: x\n".encode("gb18030"), "is not UTF-8 text"),
        (STUDY_BOMB.encode(), "the alias *a is not allowed"),
        (b"network: x\nhex_size_m: 1\n", "hex_size_m: got 1, which is below the minimum of 50 m"),
        (b"network: x\nmax_snap_m: .nan\n", "max_snap_m: got nan, which is not a finite number"),
        (b"", "the file is empty"),
    ],
)
def test_cli_refuses_hostile_studies_with_exit_2(tmp_path, data, needle):
    path = tmp_path / "study.yaml"
    path.write_bytes(data)
    res = invoke(["audit", path, "--no-map", "--out", tmp_path / "out"])
    message = assert_user_error(res, str(path), needle)
    assert len(message) < 3000
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- option ranges


def test_check_option_declared_ranges_and_flags():
    from lifecircle.settings import HEX_SIZE_MIN_M, OPTION_RANGES, check_option

    assert check_option("hex_size_m", 250) == 250.0
    assert check_option("--min-component-nodes", 1000) == 1000
    assert check_option("--hex-size-m", HEX_SIZE_MIN_M) == 50.0
    assert OPTION_RANGES["max_snap_m"].maximum == 5000.0
    with pytest.raises(lifecircle.ConfigError) as err:
        check_option("--hex-size-m", 1.0, source="command line")
    assert str(err.value) == (
        "command line: 1 problem found; fix it and run again:\n  - --hex-size-m: got 1.0, "
        f"which is below the minimum of 50 m; {HEX_RANGE}"
    )
    with pytest.raises(
        lifecircle.ConfigError,
        match=r"--target-coverage: got 1.5, which is "
        r"above the maximum of 1; give a number greater than 0 and at most 1",
    ):
        check_option("--target-coverage", 1.5)
    with pytest.raises(lifecircle.ConfigError, match="got nan, which is not a finite number"):
        check_option("capacity", float("nan"))
    # an undeclared option with explicit bounds
    assert check_option("x", 3, minimum=1, maximum=3, integer=True) == 3
    with pytest.raises(
        lifecircle.ConfigError,
        match=r"(?s)^options: .*x: got 4, which is above "
        "the maximum of 3; give a whole number from 1 to 3$",
    ):
        check_option("x", 4, minimum=1, maximum=3, integer=True)
    assert check_option("y", float("inf"), finite=False) == float("inf")


def test_hex_cell_estimate_and_limit():
    from lifecircle.settings import HEX_CELLS_MAX, check_hex_cells, hex_cells_estimate

    # 10 km square, 500 m hexagons: floor(10000 / 866.03) + 2 = 13 columns,
    # floor(10000 / 750) + 2 = 15 rows
    assert hex_cells_estimate(10_000, 10_000, 500) == 13 * 15
    assert check_hex_cells(10_000, 10_000, 500) == 195
    # 100 km square, 50 m: 1156 columns x 1335 rows = 1,543,260 > 1,000,000
    assert hex_cells_estimate(100_000, 100_000, 50) == 1156 * 1335
    with pytest.raises(lifecircle.ConfigError) as err:
        check_hex_cells(100_000, 100_000, 50, source="--hex-size-m")
    assert err.value.problems == [
        "hex_size_m: 50 m hexagons over the data's 100.0 km × 100.0 km extent would be "
        "1,543,260 cells (at most 1,000,000); give a size of at least 70 m, or give "
        "governance units (--units)"
    ]
    # 70 m fits and 60 m does not: the suggestion is the smallest multiple of 10 m
    assert hex_cells_estimate(100_000, 100_000, 70) <= HEX_CELLS_MAX
    assert hex_cells_estimate(100_000, 100_000, 60) > HEX_CELLS_MAX
