"""Standards: the bundled files, selector behaviour, and every validation message."""

from __future__ import annotations

import copy
import functools

import pandas as pd
import pytest

import lifecircle
from lifecircle.config import parse_standard

from .conftest import minimal_standard_dict

GB_CATEGORIES = [
    "kindergarten",
    "primary_school",
    "junior_high_school",
    "health_center",
    "elderly_care",
    "fresh_market",
    "convenience_store",
    "park",
    "sports_ground",
    "bus_stop",
    "community_service",
]


# --------------------------------------------------------------------------- bundled


def test_bundled_standards_are_listed_and_load():
    assert lifecircle.list_standards() == ["gb50180-2018", "moreno-15min", "shanghai-rural-2021"]
    for name in lifecircle.list_standards():
        std = lifecircle.load_standard(name)
        assert std.id == name
        assert std.categories
        assert std.path.endswith(f"{name}.yaml")


def test_gb50180_categories(gb_standard):
    std = gb_standard
    assert sorted(std.category_ids) == sorted(GB_CATEGORIES)
    assert len(std.category_ids) == 11
    for c in std.categories:
        assert c.name_en and c.name_zh, c.id
        assert any("\u4e00" <= ch <= "\u9fff" for ch in c.name_zh), c.id
        assert c.source, c.id
        assert isinstance(c.verified, bool), c.id
        assert isinstance(c.mandatory, bool), c.id
        assert c.threshold_min == std.level(c.level).minutes, c.id
        assert c.selectors, c.id
    kg = std.category("kindergarten")
    assert (kg.threshold_min, kg.level, kg.mandatory, kg.name_zh) == (5.0, "5min", True, "幼儿园")
    assert kg.name("zh") == "幼儿园"
    assert kg.name("en") == "kindergarten"
    assert [lv.minutes for lv in std.levels] == [5.0, 10.0, 15.0]


def test_gb50180_profiles(gb_standard):
    assert {"adult", "elderly", "child"} <= set(gb_standard.profiles)
    assert gb_standard.default_profile == "adult"
    assert gb_standard.profile().id == "adult"
    assert gb_standard.profile("adult").speed_m_s == 1.2
    assert gb_standard.profile("adult").speed_m_min == pytest.approx(72.0)
    assert gb_standard.profile("elderly").speed_m_s == 0.91
    assert gb_standard.profile("child").speed_m_s == 0.88


def test_unknown_category_and_profile_are_config_errors(gb_standard):
    with pytest.raises(lifecircle.ConfigError, match="no category 'kindergarden'") as err:
        gb_standard.category("kindergarden")
    assert "kindergarten" in str(err.value)  # lists the valid ones
    with pytest.raises(lifecircle.ConfigError, match="unknown walking profile 'runner'"):
        gb_standard.profile("runner")


# --------------------------------------------------------------------------- selectors


def _schools(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"amenity": ["school"] * len(names), "name": names})


@pytest.mark.parametrize(
    ("name", "primary", "junior"),
    [
        ("上海市黄浦区第一中心小学", True, False),
        ("上海市向明初级中学", False, True),
        ("上海市格致高级中学", False, False),
        ("上海市民办立达九年一贯制学校", True, True),
        ("上海市第八中学", False, True),
        ("某某高中", False, False),
    ],
)
def test_school_selectors(gb_standard, name, primary, junior):
    features = _schools([name])
    assert bool(gb_standard.category("primary_school").match(features)[0]) is primary
    assert bool(gb_standard.category("junior_high_school").match(features)[0]) is junior


def test_facilities_from_tags_gives_a_nine_year_school_both_categories(gb_standard):
    import geopandas as gpd
    import shapely

    features = gpd.GeoDataFrame(
        {
            "amenity": ["school", "school", "kindergarten", "school"],
            "name": ["九年一贯制学校", "高级中学", "阳光幼儿园", "第一小学"],
        },
        geometry=[shapely.Point(121.47, 31.23)] * 4,
        crs="EPSG:4326",
    )
    fac = lifecircle.facilities_from_tags(features, gb_standard, source="t")
    pairs = sorted(zip(fac["name"], fac["category"], strict=True))
    assert pairs == [
        ("九年一贯制学校", "junior_high_school"),
        ("九年一贯制学校", "primary_school"),
        ("第一小学", "primary_school"),
        ("阳光幼儿园", "kindergarten"),
    ]
    assert (fac["source"] == "t").all()


def test_wildcard_and_list_selectors(gb_standard):
    features = pd.DataFrame(
        {
            "shop": ["convenience", "supermarket", "clothes", "clothes"],
            "name": ["全家", "超市", "服装", "菜市场"],
        }
    )
    assert list(gb_standard.category("convenience_store").match(features)) == [
        True,
        False,
        False,
        False,
    ]
    # supermarkets, and any shop named 菜市场 (shop: "*" with a name pattern)
    assert list(gb_standard.category("fresh_market").match(features)) == [False, True, False, True]


# --------------------------------------------------------------------------- parse_standard


def _problems(raw, source="std.yaml") -> list[str]:
    with pytest.raises(lifecircle.ConfigError) as err:
        parse_standard(raw, source=source)
    assert str(err.value).startswith(f"{source}: ")
    assert isinstance(err.value, ValueError)
    return err.value.problems


def _only(raw) -> str:
    problems = _problems(raw)
    assert len(problems) == 1, problems
    return problems[0]


def _std(**category_changes) -> dict:
    raw = minimal_standard_dict()
    raw["categories"][0].update(category_changes)
    return raw


def test_the_minimal_standard_is_valid(small_standard):
    assert small_standard.category_ids == ["kindergarten", "park", "shop", "clinic"]
    assert small_standard.profile().speed_m_min == 60.0


def test_missing_field():
    raw = _std()
    del raw["categories"][0]["source"]
    assert _only(raw) == "categories[0] (kindergarten).source: missing; add a non-empty text"
    raw = minimal_standard_dict()
    del raw["id"]
    assert _only(raw) == "id: missing; add a non-empty text"


@pytest.mark.parametrize("value", [0, -5, "5", None])
def test_non_positive_threshold(value):
    assert _only(_std(threshold_min=value)) == (
        f"categories[0] (kindergarten).threshold_min: must be a positive number, got {value!r}"
    )


@pytest.mark.parametrize("key", ["mandatory", "verified"])
def test_non_boolean_flags(key):
    assert _only(_std(**{key: "yes"})) == (
        f"categories[0] (kindergarten).{key}: must be true or false, got 'yes'"
    )


def test_unknown_level_reference():
    assert _only(_std(level="20min")) == (
        "categories[0] (kindergarten).level: '20min' is not a defined level (5min, 10min)"
    )


def test_duplicate_category_id():
    raw = minimal_standard_dict()
    raw["categories"][1]["id"] = "kindergarten"
    assert _only(raw) == (
        "categories: duplicate category id 'kindergarten'; each category id "
        "must be unique: rename or remove one"
    )


@pytest.mark.parametrize("cid", ["Kindergarten", "kinder-garten", "1st", "幼儿园"])
def test_invalid_category_id_characters(cid):
    assert _only(_std(id=cid)) == (
        f"categories[0] ({cid}).id: use lower-case letters, digits and `_` only "
        "(it becomes a column name)"
    )


def test_bad_regex():
    problem = _only(_std(selectors=[{"amenity": "school", "name": "小学("}]))
    assert problem.startswith(
        "categories[0] (kindergarten).selectors[0].name: invalid regular expression '小学('"
    )


def test_empty_selectors():
    for value in ([], None):
        assert _only(_std(selectors=value)) == (
            "categories[0] (kindergarten).selectors: must be a non-empty list, e.g. "
            "[{amenity: kindergarten}]"
        )


def test_selector_without_tags():
    assert _only(_std(selectors=[{"name": "幼儿园"}])) == (
        "categories[0] (kindergarten).selectors[0]: needs at least one OSM tag (a name "
        "pattern alone would match anything named so)"
    )


def test_selector_with_a_bad_value():
    # YAML `bus: yes` parses to True, which is not a tag value
    assert _only(_std(selectors=[{"amenity": "bus_station", "bus": True}])) == (
        "categories[0] (kindergarten).selectors[0].bus: must be a value, a list of values "
        "or '*', got True (quote yes/no: 'yes')"
    )


def test_selector_list_with_booleans_is_rejected():
    problems = _problems(_std(selectors=[{"bus": [True]}]))
    assert "selectors[0].bus" in problems[0]


def test_unknown_category_field():
    problem = _only(_std(colour="red"))
    assert problem.startswith("categories[0] (kindergarten): unknown field 'colour' (allowed: ")
    assert "threshold_min" in problem


@pytest.mark.parametrize("speed", [5, 0.1])
def test_walking_speed_out_of_range(speed):
    raw = minimal_standard_dict()
    raw["profiles"]["adult"]["speed_m_s"] = speed
    assert _only(raw) == (
        f"profiles.adult.speed_m_s: {float(speed)} m/s is not a walking "
        "speed (expected 0.3-2.5 m/s)"
    )


def test_default_profile_not_defined():
    raw = minimal_standard_dict()
    raw["default_profile"] = "runner"
    assert _only(raw) == "default_profile: 'runner' is not one of the profiles (adult, slow)"


@pytest.mark.parametrize("name", [{"en": "kindergarten"}, {"zh": "幼儿园"}, "kindergarten"])
def test_missing_en_or_zh_name(name):
    assert _only(_std(name=name)) == (
        "categories[0] (kindergarten).name: must give both `en` and `zh` names"
    )


def test_level_name_and_minutes_are_checked_too():
    raw = minimal_standard_dict()
    raw["levels"][1]["minutes"] = 0
    raw["levels"][1]["name"] = {"en": "10-minute"}
    assert _problems(raw) == [
        "levels[1].name: must give both `en` and `zh` names",
        "levels[1].minutes: must be a positive number, got 0",
    ]


def test_level_population_ranges(gb_standard):
    """GB 50180 Table 3.0.4: residents per life circle, the 5-minute range recalled."""
    ranges = {lv.id: lv.population for lv in gb_standard.levels}
    assert {k: (r.min, r.max, r.verified) for k, r in ranges.items() if r} == {
        "5min": (5000, 12000, False),
        "10min": (15000, 25000, True),
        "15min": (50000, 100000, True),
    }
    raw = minimal_standard_dict()
    raw["levels"][0]["population"] = {"min": 900, "max": 300, "source": "s", "verified": False}
    raw["levels"][1]["population"] = {"min": 1, "max": 2, "source": "s", "verified": 1, "x": 0}
    problems = _problems(raw)
    assert "levels[0].population: min 900 is above max 300; give the smaller number as min" in (
        problems
    )
    assert any(p.startswith("levels[1].population: unknown field 'x'") for p in problems), problems


@pytest.mark.parametrize("raw", [[1, 2], "text", 42])
def test_non_mapping_file(raw):
    assert _only(raw) == (
        "the file must be a mapping with `id`, `levels`, `profiles` and `categories`"
    )


def test_empty_file():
    assert _only(None) == (
        "the file is empty; a standard is a mapping with `id`, `levels`, "
        "`profiles` and `categories` (see "
        "configs/standards/gb50180-2018.yaml)"
    )


def test_empty_sections():
    raw = minimal_standard_dict()
    raw["categories"] = []
    raw["levels"] = {}
    problems = _problems(raw)
    assert "levels: must be a non-empty list of life-circle levels" in problems
    assert "categories: must be a non-empty list of facility categories" in problems


def test_three_mistakes_are_reported_together():
    raw = minimal_standard_dict()
    raw["categories"][0]["threshold_min"] = -1
    raw["categories"][1]["mandatory"] = "ja"
    raw["profiles"]["adult"]["speed_m_s"] = 9
    with pytest.raises(lifecircle.ConfigError) as err:
        parse_standard(raw, source="my.yaml")
    e = err.value
    assert len(e.problems) == 3
    assert e.source == "my.yaml"
    msg = str(e)
    assert msg.startswith("my.yaml: 3 problems found; fix them and run again:\n")
    assert (
        "  - categories[0] (kindergarten).threshold_min: must be a positive number, got -1" in msg
    )
    assert "  - categories[1] (park).mandatory: must be true or false, got 'ja'" in msg
    assert "  - profiles.adult.speed_m_s: 9.0 m/s is not a walking speed" in msg
    assert len(msg.splitlines()) == 4


def test_one_mistake_per_section_is_reported_in_file_order():
    # every section adds to one list, in the order of the file: title, levels,
    # profiles, default_profile, then each category (its selectors in their order);
    # the levels' cut-off (5 min once both levels say 5) reaches the categories
    raw = minimal_standard_dict()
    raw["title"] = "t"
    raw["levels"][1]["minutes"] = 5
    raw["profiles"]["slow"]["speed_m_s"] = 0.1
    raw["default_profile"] = "fast"
    raw["categories"][0]["level"] = "15min"
    raw["categories"][1]["selectors"] = [
        "park",
        {"name": "("},
        {"not_name": 3},
        {"leisure": ["park", True]},
        {"name": "Park"},
        {"leisure": "*", "name": "公园"},
    ]
    raw["categories"][2]["id"] = "Shop"
    raw["categories"].append("clinic")
    park, cut_off = (
        "categories[1] (park)",
        (
            "min is longer than the longest level (5min, 5 min), "
            "where walking distances are cut off; shorten it or "
            "add a longer level"
        ),
    )
    assert _problems(raw) == [
        "title: must be a mapping with `en` and `zh`",
        "levels[1].minutes: 5 is not longer than levels[0] (5min, 5 min); list the levels "
        "from the shortest to the longest",
        "profiles.slow.speed_m_s: 0.1 m/s is not a walking speed (expected 0.3-2.5 m/s)",
        "default_profile: 'fast' is not one of the profiles (adult, slow)",
        "categories[0] (kindergarten).level: '15min' is not a defined level (5min, 10min)",
        f"{park}.threshold_min: 10 {cut_off}",
        f"{park}.selectors[0]: must be a mapping of OSM tag -> value(s)",
        f"{park}.selectors[1].name: invalid regular expression '(' (missing ), unterminated "
        "subpattern at position 0)",
        f"{park}.selectors[2].not_name: must be a regular expression (text), got 3",
        f"{park}.selectors[3].leisure: must be a value, a list of values or '*', got "
        "['park', True] (quote yes/no: 'yes')",
        f"{park}.selectors[4]: needs at least one OSM tag (a name pattern alone would match "
        "anything named so)",
        "categories[2] (Shop).id: use lower-case letters, digits and `_` only (it becomes a "
        "column name)",
        f"categories[3] (clinic).threshold_min: 10 {cut_off}",
        "categories[4]: must be a mapping",
    ]


def test_one_mistake_message_is_singular():
    with pytest.raises(lifecircle.ConfigError) as err:
        parse_standard(_std(level="x"), source="s.yaml")
    assert str(err.value).startswith("s.yaml: 1 problem found; fix it and run again:\n  - ")


# --------------------------------------------------------------------------- load_standard


def test_load_standard_invalid_yaml(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("id: x\nlevels: [\n  - {id: 5min\n", encoding="utf-8")
    with pytest.raises(lifecircle.ConfigError) as err:
        lifecircle.load_standard(path)
    assert str(path) in str(err.value)
    assert len(err.value.problems) == 1
    assert err.value.problems[0] == (
        "not valid YAML at line 3, column 3: expected the node content, but found '-' (while "
        "parsing a flow node at line 3); check the quotes, brackets and indentation there"
    )
    assert "\n" not in err.value.problems[0]  # one paragraph, not PyYAML's multi-line text


def test_load_standard_from_a_yaml_path(tmp_path):
    import yaml

    raw = copy.deepcopy(minimal_standard_dict())
    raw["categories"][0]["threshold_min"] = 7
    path = tmp_path / "local.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    std = lifecircle.load_standard(path)
    assert std.category("kindergarten").threshold_min == 7.0
    assert std.path == str(path)
    # a file with mistakes names the file
    raw["categories"][0]["threshold_min"] = 0
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(lifecircle.ConfigError, match="threshold_min") as err:
        lifecircle.load_standard(path)
    assert str(err.value).startswith(str(path))


def test_load_standard_unknown_name_or_missing_path(tmp_path):
    with pytest.raises(lifecircle.InputFileError, match="unknown standard 'gb99'") as err:
        lifecircle.load_standard("gb99")
    assert "gb50180-2018" in str(err.value)
    with pytest.raises(lifecircle.InputFileError, match="does not exist"):
        lifecircle.load_standard(tmp_path / "missing.yaml")


# --------------------------------------------------------------------------- hostile files
# Each case used to crash (a traceback), hang, pass silently or print megabytes.


@functools.cache
def _gb_text() -> str:
    return (
        lifecircle.config.resource_dir("configs/standards")
        .joinpath("gb50180-2018.yaml")
        .read_text(encoding="utf-8")
    )


def _load_problems(tmp_path, data: bytes | str, name: str = "std.yaml") -> list[str]:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    with pytest.raises(lifecircle.ConfigError) as err:
        lifecircle.load_standard(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: ")
    assert len(msg) < 3000, len(msg)
    return err.value.problems


def _yaml_text(raw: dict) -> str:
    import yaml

    return yaml.safe_dump(raw, allow_unicode=True, sort_keys=False)


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_a_standard_saved_in_gbk_is_refused_with_how_to_resave(tmp_path, encoding):
    # 城 is the first non-ASCII character: line 2 "# (城市...", column 4
    problems = _load_problems(tmp_path, _gb_text().encode(encoding))
    assert problems == [
        "the file is not UTF-8 text (byte 0xB3 at line 2, column 4); it reads as "
        "GBK/GB18030, the legacy Chinese encoding of many Windows editors. Re-save it as "
        "UTF-8 (in your editor: Save As, Encoding: UTF-8) or convert it with `iconv -f "
        "GB18030 -t UTF-8 OLD.yaml > NEW.yaml`; a standard file must be UTF-8"
    ]


def test_a_utf16_standard_is_refused_and_named(tmp_path):
    (problem,) = _load_problems(tmp_path, _gb_text().encode("utf-16"))
    assert problem.startswith(
        "the file is not UTF-8 text (byte 0xFF at line 1, column 1); "
        'it is UTF-16 (Windows "Unicode")'
    )
    assert "iconv -f UTF-16 -t UTF-8" in problem


def test_a_utf8_bom_is_accepted(tmp_path, gb_standard):
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + _gb_text().encode("utf-8"))
    std = lifecircle.load_standard(path)
    assert std.id == "gb50180-2018"
    assert std.categories == gb_standard.categories
    assert std.title_zh == gb_standard.title_zh


def test_duplicate_level_id():
    raw = minimal_standard_dict()
    raw["levels"][1]["id"] = "5min"
    for c in raw["categories"]:
        c["level"] = "5min"
    assert _only(raw) == (
        "levels: duplicate level id '5min'; each level id must be unique: rename or remove one"
    )


def test_duplicate_profile_id_after_conversion_to_text():
    raw = minimal_standard_dict()
    raw["profiles"] = {1: raw["profiles"]["adult"], "1": raw["profiles"]["slow"]}
    raw["default_profile"] = "1"
    assert _problems(raw) == [
        "profiles: duplicate profile id '1'; each profile id must be unique: rename or remove one",
        "profiles.1: a profile id must be a word (letters, digits, `_`, `-`, at most 40 "
        "characters), got 1; quote it if YAML reads it as a number or true/false",
    ]


def test_duplicate_yaml_keys_are_refused_with_key_and_lines(tmp_path):
    text = _gb_text().replace("  elderly:\n", "  adult:\n", 1)  # a second `adult` profile
    text = text.replace("default_profile: adult\n", "default_profile: adult\nid: other\n")
    problems = _load_problems(tmp_path, text)
    lines = text.splitlines()
    first_adult = lines.index("  adult:") + 1
    second_adult = lines.index("  adult:", first_adult) + 1
    first_id = lines.index("id: gb50180-2018") + 1
    second_id = lines.index("id: other") + 1
    assert problems == [  # the top-level mapping is checked first
        f"line {second_id}: duplicate key 'id' (first at line {first_id}); YAML would "
        "silently keep only the last one: remove or rename one of them",
        f"line {second_adult}: duplicate key 'adult' (first at line {first_adult}); YAML "
        "would silently keep only the last one: remove or rename one of them",
    ]


def test_duplicate_keys_in_a_flow_mapping_and_a_duplicate_category(tmp_path):
    raw = minimal_standard_dict()
    raw["categories"][1]["id"] = "kindergarten"
    text = _yaml_text(raw).replace(
        "  - amenity: kindergarten\n", "  - amenity: kindergarten\n    amenity: school\n", 1
    )
    line = text.splitlines().index("    amenity: school") + 1
    # the YAML duplicate is reported; the standard is not checked until the file is clean
    assert _load_problems(tmp_path, text) == [
        f"line {line}: duplicate key 'amenity' (first at line {line - 1}); YAML would "
        "silently keep only the last one: remove or rename one of them"
    ]
    flow = "id: x\nlevels: [{id: 5min, minutes: 5, minutes: 6}]\n"
    assert _load_problems(tmp_path, flow, "flow.yaml") == [
        "line 2: duplicate key 'minutes' (first at line 2); YAML would silently keep only "
        "the last one: remove or rename one of them"
    ]
    # the same category id in two list items is not a YAML duplicate: the standard says so
    raw = minimal_standard_dict()
    raw["categories"][1]["id"] = "kindergarten"
    assert _load_problems(tmp_path, _yaml_text(raw), "dup.yaml") == [
        "categories: duplicate category id 'kindergarten'; each category id must be "
        "unique: rename or remove one"
    ]


BOMB = """\
id: lol
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
categories: [*g, *g, *g, *g, *g, *g, *g, *g, *g]
"""


def test_yaml_aliases_are_refused_a_billion_laughs_stays_short(tmp_path):
    import time

    start = time.perf_counter()
    problems = _load_problems(tmp_path, BOMB)
    assert time.perf_counter() - start < 1.0
    assert problems == [
        "line 3: the alias *a is not allowed; a standard file may not use YAML aliases "
        "(*name) or merge keys (<<: *name), because a few lines of them can expand to "
        "gigabytes; write the values out in full"
    ]


def test_merge_keys_are_aliases_too_but_plain_anchors_are_fine(tmp_path):
    raw = minimal_standard_dict()
    text = _yaml_text(raw).replace("profiles:\n  adult:\n", "profiles:\n  adult: &base\n", 1)
    assert lifecircle.load_standard(_write(tmp_path / "anchor.yaml", text)).id == "test-std"
    text = text.replace("  slow:\n", "  slow:\n    <<: *base\n", 1)
    (problem,) = _load_problems(tmp_path, text, "merge.yaml")
    assert problem.startswith("line ") and "the alias *base is not allowed" in problem


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("doc", "tag"),
    [
        (
            "!!python/object/apply:os.system ['touch PWNED']\n",
            "tag:yaml.org,2002:python/object/apply:os.system",
        ),
        ("id: !!python/name:builtins.print ''\n", "tag:yaml.org,2002:python/name:builtins.print"),
        ("id: !custom x\n", "!custom"),
    ],
)
def test_tags_that_build_objects_are_refused(tmp_path, monkeypatch, doc, tag):
    monkeypatch.chdir(tmp_path)
    assert _load_problems(tmp_path, doc) == [
        f"line 1: the tag {tag!r} is not allowed; a standard file holds plain values only "
        "(text, numbers, true/false, lists and mappings): remove the tag"
    ]
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize(
    ("value", "shown"),
    [(".nan", "nan"), (".inf", "inf"), ("-.inf", "-inf"), (".NaN", "nan"), (".Inf", "inf")],
)
@pytest.mark.parametrize(
    ("field", "old"),
    [
        ("speed_m_s", "speed_m_s: 1.2"),
        ("minutes", "minutes: 15"),
        ("threshold_min", "threshold_min: 5"),
        ("reference_distance_m", "reference_distance_m: 300"),
    ],
)
def test_non_finite_numbers_are_refused(tmp_path, value, shown, field, old):
    (problem,) = _load_problems(tmp_path, _gb_text().replace(old, f"{field}: {value}", 1))
    assert problem.endswith(
        f".{field}: must be a finite positive number, got {shown} "
        "(.nan and .inf are not numbers of minutes, metres or m/s)"
    )


@pytest.mark.parametrize("value", [0, -1.2, "1.2", True, None, [1.2]])
def test_speed_zero_negative_text(value):
    raw = minimal_standard_dict()
    raw["profiles"]["adult"]["speed_m_s"] = value
    assert _only(raw) == f"profiles.adult.speed_m_s: must be a positive number, got {value!r}"


@pytest.mark.parametrize("value", [0, -5, "5", False])
def test_level_minutes_zero_negative_text(value):
    raw = minimal_standard_dict()
    raw["levels"][0]["minutes"] = value
    assert _only(raw) == f"levels[0].minutes: must be a positive number, got {value!r}"


def test_level_minutes_longer_than_an_hour():
    raw = minimal_standard_dict()
    raw["levels"][1]["minutes"] = 600
    raw["categories"][1]["threshold_min"] = 10
    assert _only(raw) == (
        "levels[1].minutes: 600 is more than the largest accepted value, 60; check the unit"
    )


def test_reference_distance_absurd():
    assert _only(_std(reference_distance_m=300_000)) == (
        "categories[0] (kindergarten).reference_distance_m: 300000 is more than the largest "
        "accepted value, 10000; check the unit"
    )


def test_threshold_longer_than_the_longest_level():
    assert _only(_std(threshold_min=12.5)) == (
        "categories[0] (kindergarten).threshold_min: 12.5 min is longer than the longest "
        "level (10min, 10 min), where walking distances are cut off; shorten it or add a "
        "longer level"
    )
    # equal to the longest level is fine
    assert (
        parse_standard(_std(threshold_min=10), source="ok.yaml").categories[0].threshold_min == 10.0
    )


@pytest.mark.parametrize("minutes", [5, 3])
def test_levels_must_be_increasing(minutes):
    raw = minimal_standard_dict()
    raw["levels"][1]["minutes"] = minutes
    for c in raw["categories"]:
        c["threshold_min"] = min(c["threshold_min"], 5)
    assert _only(raw) == (
        f"levels[1].minutes: {minutes} is not longer than levels[0] "
        "(5min, 5 min); list the levels from the shortest to the longest"
    )


@pytest.mark.parametrize("level_id", ["5 min", "Five-Min", "5min'); drop", 5.5])
def test_level_ids_become_column_names(level_id):
    raw = minimal_standard_dict()
    raw["levels"][0]["id"] = level_id
    for c in raw["categories"]:
        c["level"] = "10min"
    assert _only(raw) == (
        "levels[0].id: use lower-case letters, digits and `_` only, at most 40 characters, "
        f"e.g. 5min (it becomes a column name), got {str(level_id)!r}"
    )


def test_category_pointing_at_unknown_level_and_default_profile_unknown():
    raw = _std(level="15min")
    raw["default_profile"] = "elderly"
    assert _problems(raw) == [
        "default_profile: 'elderly' is not one of the profiles (adult, slow)",
        "categories[0] (kindergarten).level: '15min' is not a defined level (5min, 10min)",
    ]


def test_unknown_fields_everywhere_with_a_suggestion():
    raw = minimal_standard_dict()
    raw["categoires"] = raw.pop("categories")
    raw["levels"][0]["minuts"] = 5
    raw["profiles"]["adult"]["speed"] = 1.0
    assert _problems(raw) == [
        "unknown field 'categoires' (allowed: categories, cohorts, default_profile, id, levels, "
        "notes, profiles, source, title); did you mean 'categories'?",
        "levels[0]: unknown field 'minuts' (allowed: id, minutes, modes, name, notes, "
        "population, reference_distance_m, source, verified); did you mean 'minutes'?",
        "profiles.adult: unknown field 'speed' (allowed: mode, notes, source, speed_m_s, "
        "verified); did you mean 'speed_m_s'?",
        "categories: must be a non-empty list of facility categories",
    ]


def test_texts_that_are_not_texts():
    raw = _std(source=["a", "b"])
    raw["categories"][0]["name"] = {"en": ["kinder"], "zh": "幼儿园"}
    assert _problems(raw) == [
        "categories[0] (kindergarten).name: `en` and `zh` must be texts, got "
        "{'en': ['kinder'], 'zh': '幼儿园'}",
        "categories[0] (kindergarten).source: must be a text, got ['a', 'b']",
    ]


def test_many_mistakes_give_a_short_message():
    raw = minimal_standard_dict()
    base = raw["categories"][0]
    raw["categories"] = [dict(base, id=f"c{i}", threshold_min=-i - 1) for i in range(60)]
    with pytest.raises(lifecircle.ConfigError) as err:
        parse_standard(raw, source="many.yaml")
    msg = str(err.value)
    assert msg.startswith("many.yaml: 60 problems found; fix them and run again:\n")
    lines = msg.splitlines()
    assert len(lines) == 21
    assert lines[1] == "  - categories[0] (c0).threshold_min: must be a positive number, got -1"
    assert lines[-1] == "  - ... and 41 more; fix these and run again to see the rest"
    assert len(err.value.problems) == 60  # all kept for callers; the message lists 20


def test_huge_values_are_shown_truncated():
    raw = _std(threshold_min="5" * 100_000, mandatory=["yes"] * 100_000)
    raw["categories"][0]["id"] = "k" * 10_000
    with pytest.raises(lifecircle.ConfigError) as err:
        parse_standard(raw, source="huge.yaml")
    msg = str(err.value)
    assert len(msg) < 1500, len(msg)
    assert all(len(line) <= 402 for line in msg.splitlines())
    assert f"threshold_min: must be a positive number, got '{'5' * 78}…" in msg


def test_a_file_over_250_kb_is_refused_without_parsing(tmp_path):
    import time

    text = _gb_text() + "#" * 250_000 + "\n"
    start = time.perf_counter()
    assert _load_problems(tmp_path, text) == [
        "the file is larger than 250 kB; a standard file is a short text file: check that "
        "you gave the standard YAML and not a data file"
    ]
    assert time.perf_counter() - start < 0.5


def test_deep_nesting_huge_integers_and_control_characters(tmp_path):
    assert _load_problems(tmp_path, "id: " + "[" * 100_000 + "]" * 100_000 + "\n") == [
        "line 1: lists and mappings are nested more than 40 levels deep; a standard file "
        "needs a few levels only: check the brackets and indentation"
    ]
    assert _load_problems(tmp_path, "id: x\nsource: " + "9" * 5000 + "\n") == [
        "line 2: a number with 5000 digits; write a number of at most a few digits"
    ]
    assert _load_problems(tmp_path, "id: x\nsource: a\x00b\n") == [
        "not valid YAML: line 2 contains the control character U+0000; remove it (a YAML "
        "file holds printable text only)"
    ]


def test_a_file_with_too_many_values_is_refused_quickly(tmp_path):
    import time

    start = time.perf_counter()
    assert _load_problems(tmp_path, "id: [" + "x, " * 20_000 + "x]\n") == [
        "line 1: the file has more than 10,000 values; a standard file has a few hundred: "
        "check that you gave the standard YAML and not a data file"
    ]
    assert time.perf_counter() - start < 5.0


def test_unknown_level_of_a_loaded_standard_is_a_config_error(gb_standard):
    with pytest.raises(
        lifecircle.ConfigError, match="has no level '20min'; its levels are: 5min, 10min, 15min"
    ):
        gb_standard.level("20min")
    assert gb_standard.level("10min").minutes == 10.0


def test_unknown_category_suggests_the_closest(gb_standard):
    with pytest.raises(lifecircle.ConfigError) as err:
        gb_standard.category("kindergarden")
    assert err.value.problems[0].endswith("; did you mean 'kindergarten'?")
    with pytest.raises(lifecircle.ConfigError) as err:
        gb_standard.profile("x" * 10_000)
    assert len(str(err.value)) < 400


def test_a_standard_that_is_a_folder_or_unreadable(tmp_path):
    folder = tmp_path / "dir.yaml"
    folder.mkdir()
    with pytest.raises(lifecircle.InputFileError, match="does not exist"):
        lifecircle.load_standard(folder)


def test_every_config_error_is_short_whoever_raises_it():
    err = lifecircle.ConfigError("x" * 1000, [f"problem {i} " + "y" * 5000 for i in range(500)])
    msg = str(err)
    assert len(msg.splitlines()) == 21
    assert len(msg) < 20 * 410 + 400
    assert len(err.problems) == 500


def test_a_standard_whose_notes_are_not_text_is_refused():
    raw = minimal_standard_dict()
    raw["notes"] = ["a", "list"]
    with pytest.raises(lifecircle.ConfigError, match="notes"):
        parse_standard(raw, source="notes.yaml")
