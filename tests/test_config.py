"""Standards: the bundled files, selector behaviour, and every validation message."""

from __future__ import annotations

import copy

import pandas as pd
import pytest

import lifecircle
from lifecircle.config import parse_standard

from .conftest import minimal_standard_dict

GB_CATEGORIES = ["kindergarten", "primary_school", "junior_high_school", "health_center",
                 "elderly_care", "fresh_market", "convenience_store", "park", "sports_ground",
                 "bus_stop", "community_service"]


# --------------------------------------------------------------------------- bundled


def test_bundled_standards_are_listed_and_load():
    assert lifecircle.list_standards() == ["gb50180-2018", "moreno-15min"]
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
    assert gb_standard.profile("elderly").speed_m_s == 0.92
    assert gb_standard.profile("child").speed_m_s == 1.0


def test_unknown_category_and_profile_are_config_errors(gb_standard):
    with pytest.raises(lifecircle.ConfigError, match="no category 'kindergarden'") as err:
        gb_standard.category("kindergarden")
    assert "kindergarten" in str(err.value)  # lists the valid ones
    with pytest.raises(lifecircle.ConfigError, match="unknown walking profile 'runner'"):
        gb_standard.profile("runner")


# --------------------------------------------------------------------------- selectors


def _schools(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"amenity": ["school"] * len(names), "name": names})


@pytest.mark.parametrize(("name", "primary", "junior"), [
    ("上海市黄浦区第一中心小学", True, False),
    ("上海市向明初级中学", False, True),
    ("上海市格致高级中学", False, False),
    ("上海市民办立达九年一贯制学校", True, True),
    ("上海市第八中学", False, True),
    ("某某高中", False, False),
])
def test_school_selectors(gb_standard, name, primary, junior):
    features = _schools([name])
    assert bool(gb_standard.category("primary_school").match(features)[0]) is primary
    assert bool(gb_standard.category("junior_high_school").match(features)[0]) is junior


def test_facilities_from_tags_gives_a_nine_year_school_both_categories(gb_standard):
    import geopandas as gpd
    import shapely

    features = gpd.GeoDataFrame(
        {"amenity": ["school", "school", "kindergarten", "school"],
         "name": ["九年一贯制学校", "高级中学", "阳光幼儿园", "第一小学"]},
        geometry=[shapely.Point(121.47, 31.23)] * 4, crs="EPSG:4326")
    fac = lifecircle.facilities_from_tags(features, gb_standard, source="t")
    pairs = sorted(zip(fac["name"], fac["category"], strict=True))
    assert pairs == [("九年一贯制学校", "junior_high_school"), ("九年一贯制学校", "primary_school"),
                     ("第一小学", "primary_school"), ("阳光幼儿园", "kindergarten")]
    assert (fac["source"] == "t").all()


def test_wildcard_and_list_selectors(gb_standard):
    features = pd.DataFrame({"shop": ["convenience", "supermarket", "clothes", "clothes"],
                             "name": ["全家", "超市", "服装", "菜市场"]})
    assert list(gb_standard.category("convenience_store").match(features)) == [
        True, False, False, False]
    # supermarkets, and any shop named 菜市场 (shop: "*" with a name pattern)
    assert list(gb_standard.category("fresh_market").match(features)) == [
        False, True, False, True]


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
        f"categories[0] (kindergarten).threshold_min: must be a positive number, got {value!r}")


@pytest.mark.parametrize("key", ["mandatory", "verified"])
def test_non_boolean_flags(key):
    assert _only(_std(**{key: "yes"})) == (
        f"categories[0] (kindergarten).{key}: must be true or false, got 'yes'")


def test_unknown_level_reference():
    assert _only(_std(level="20min")) == (
        "categories[0] (kindergarten).level: '20min' is not a defined level (5min, 10min)")


def test_duplicate_category_id():
    raw = minimal_standard_dict()
    raw["categories"][1]["id"] = "kindergarten"
    assert _only(raw) == "categories: duplicate category id 'kindergarten'"


@pytest.mark.parametrize("cid", ["Kindergarten", "kinder-garten", "1st", "幼儿园"])
def test_invalid_category_id_characters(cid):
    assert _only(_std(id=cid)) == (
        f"categories[0] ({cid}).id: use lower-case letters, digits and `_` only "
        "(it becomes a column name)")


def test_bad_regex():
    problem = _only(_std(selectors=[{"amenity": "school", "name": "小学("}]))
    assert problem.startswith(
        "categories[0] (kindergarten).selectors[0].name: invalid regular expression '小学('")


def test_empty_selectors():
    for value in ([], None):
        assert _only(_std(selectors=value)) == (
            "categories[0] (kindergarten).selectors: must be a non-empty list, e.g. "
            "[{amenity: kindergarten}]")


def test_selector_without_tags():
    assert _only(_std(selectors=[{"name": "幼儿园"}])) == (
        "categories[0] (kindergarten).selectors[0]: needs at least one OSM tag (a name "
        "pattern alone would match anything named so)")


def test_selector_with_a_bad_value():
    # YAML `bus: yes` parses to True, which is not a tag value
    assert _only(_std(selectors=[{"amenity": "bus_station", "bus": True}])) == (
        "categories[0] (kindergarten).selectors[0].bus: must be a value, a list of values "
        "or '*', got True (quote yes/no: 'yes')")


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
    assert _only(raw) == (f"profiles.adult.speed_m_s: {float(speed)} m/s is not a walking "
                          "speed (expected 0.3-2.5 m/s)")


def test_default_profile_not_defined():
    raw = minimal_standard_dict()
    raw["default_profile"] = "runner"
    assert _only(raw) == "default_profile: 'runner' is not one of the profiles (adult, slow)"


@pytest.mark.parametrize("name", [{"en": "kindergarten"}, {"zh": "幼儿园"}, "kindergarten"])
def test_missing_en_or_zh_name(name):
    assert _only(_std(name=name)) == (
        "categories[0] (kindergarten).name: must give both `en` and `zh` names")


def test_level_name_and_minutes_are_checked_too():
    raw = minimal_standard_dict()
    raw["levels"][1]["minutes"] = 0
    raw["levels"][1]["name"] = {"en": "10-minute"}
    assert _problems(raw) == ["levels[1].name: must give both `en` and `zh` names",
                              "levels[1].minutes: must be a positive number, got 0"]


@pytest.mark.parametrize("raw", [[1, 2], "text", None])
def test_non_mapping_file(raw):
    assert _only(raw) == ("the file must be a mapping with `id`, `levels`, `profiles` and "
                          "`categories`")


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
    assert "  - categories[0] (kindergarten).threshold_min: must be a positive number, got -1" \
        in msg
    assert "  - categories[1] (park).mandatory: must be true or false, got 'ja'" in msg
    assert "  - profiles.adult.speed_m_s: 9.0 m/s is not a walking speed" in msg
    assert len(msg.splitlines()) == 4


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
    assert err.value.problems[0].startswith("not valid YAML: ")


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
