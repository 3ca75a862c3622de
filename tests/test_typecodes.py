"""Provider type codes and tags: the bundled Amap/Baidu tables, --typecodes, cross-source counts.

The bundled tables carry the official class names of every code, so their
consistency with the codes' digits is checked here without the official list;
when the list itself is at hand (the project's shared data folder) every name is
compared with it too.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import lifecircle
from lifecircle._yaml import read_yaml
from lifecircle.errors import ConfigError, InputFileError
from lifecircle.io import coords
from lifecircle.io.providers import (
    categories_from_typecodes,
    cross_source_counts,
    deduplicate,
    load_typecodes,
    read_typecodes,
    typecode_table,
)

from .byod_helpers import assert_ok, assert_user_error, invoke
from .conftest import UTM, X0, Y0

GB, MORENO, RURAL = "gb50180-2018", "moreno-15min", "shanghai-rural-2021"
AMAP_VERSION = "Amap POI classification V1.06 (2023-02-08)"
BAIDU_VERSION = "Baidu Maps POI industry classification (updated 2020-05-11)"
REPO = Path(__file__).resolve().parent.parent
OFFICIAL = REPO.parent / "shared" / "data" / "amap"

#: The 24 big classes of the Amap table (its README), by the code's first two digits.
AMAP_BIG = {
    "01": "汽车服务",
    "02": "汽车销售",
    "03": "汽车维修",
    "04": "摩托车服务",
    "05": "餐饮服务",
    "06": "购物服务",
    "07": "生活服务",
    "08": "体育休闲服务",
    "09": "医疗保健服务",
    "10": "住宿服务",
    "11": "风景名胜",
    "12": "商务住宅",
    "13": "政府机构及社会团体",
    "14": "科教文化服务",
    "15": "交通设施服务",
    "16": "金融保险服务",
    "17": "公司企业",
    "18": "道路附属设施",
    "19": "地名地址信息",
    "20": "公共设施",
    "22": "事件活动",
    "97": "室内设施",
    "98": "虚拟数据",
    "99": "通行设施",
}
BAIDU_FIRST = (
    "美食 酒店 购物 生活服务 丽人 旅游景点 休闲娱乐 运动健身 教育培训 文化传媒 医疗 汽车服务 "
    "交通设施 金融 房地产 公司企业 政府机构 出入口 自然地物 行政地标 门址"
).split()


def _raw(name: str) -> dict:
    path = REPO / "configs" / "providers" / name
    return read_yaml(path, what="type-code table")


@pytest.fixture(scope="module")
def standards() -> dict[str, lifecircle.Standard]:
    return {s: lifecircle.load_standard(s) for s in (GB, MORENO, RURAL)}


# --------------------------------------------------------------------------- the tables


def test_amap_names_are_consistent_with_the_codes_digits(standards):
    raw = _raw("amap-typecodes.yaml")
    assert raw["standards"] == [GB, MORENO, RURAL]
    entries = {**raw["codes"], **raw["left_out"]}
    assert not set(raw["codes"]) & set(raw["left_out"])
    mids: dict[str, str] = {}
    for code, entry in entries.items():
        assert len(code) == 6 and code.isdigit(), code
        name = entry["name"]
        assert name["big"] == AMAP_BIG[code[:2]], code  # the big class is the first 2 digits
        # every code of one mid class (first 4 digits) carries the same mid-class name
        assert mids.setdefault(code[:4], name["mid"]) == name["mid"], code
        assert name["sub"] and name["en"].count(" / ") >= 2
    for code, entry in raw["codes"].items():
        name = entry["name"]
        assert entry["source"] == f"{AMAP_VERSION}: {name['big']}/{name['mid']}/{name['sub']}"
        assert entry["verified"] is True
        assert set(entry["categories"]) == {GB, MORENO, RURAL}
        assert any(entry["categories"].values()), code  # mapped in at least one standard
        for std, category in entry["categories"].items():
            assert category is None or category in standards[std].category_ids, (code, std)
    for entry in raw["left_out"].values():
        assert entry["reason"]


def test_baidu_tags_are_first_and_second_level(standards):
    raw = _raw("baidu-tags.yaml")
    entries = {**raw["tags"], **raw["left_out"]}
    assert not set(raw["tags"]) & set(raw["left_out"])
    for tag, entry in entries.items():
        first, second = tag.split(";")
        assert first in BAIDU_FIRST
        assert entry["name"] == {"first": first, "second": second}
    for tag, entry in raw["tags"].items():
        assert entry["source"] == f"{BAIDU_VERSION}: {tag.replace(';', '/')}"
        for std, category in entry["categories"].items():
            assert category is None or category in standards[std].category_ids, (tag, std)


@pytest.mark.skipif(not OFFICIAL.is_dir(), reason="the shared official lists are not here")
def test_every_code_and_tag_is_in_the_official_lists():
    with (OFFICIAL / "amap-poi-typecodes.csv").open(encoding="utf-8") as fh:
        amap = {r["typecode"]: r for r in csv.DictReader(fh)}
    assert len(amap) == 915
    raw = _raw("amap-typecodes.yaml")
    for code, entry in {**raw["codes"], **raw["left_out"]}.items():
        row = amap[code]
        name = entry["name"]
        assert (name["big"], name["mid"], name["sub"]) == (
            row["big_class"],
            row["mid_class"],
            row["sub_class"],
        ), code
        en = " / ".join((row["big_class_en"], row["mid_class_en"], row["sub_class_en"]))
        assert name["en"] == en
    with (OFFICIAL / "baidu-poi-industry.csv").open(encoding="utf-8") as fh:
        baidu = {r["tag"] for r in csv.DictReader(fh)}
    raw = _raw("baidu-tags.yaml")
    assert set(raw["tags"]) | set(raw["left_out"]) <= baidu
    # the codes the brief names are searched for: none of the Amap classes is elderly care
    elderly = [
        r for r in amap.values() if any(w in ",".join(r.values()) for w in "养老 敬老".split())
    ]
    assert elderly == []


def test_every_category_of_both_standards_has_codes(standards):
    mapped = {GB: set(), MORENO: set(), RURAL: set()}
    for provider in ("amap", "baidu"):
        for entry in load_typecodes(provider).values():
            for std, category in entry["categories"].items():
                if category:
                    mapped[std].add(category)
    assert mapped[GB] == set(standards[GB].category_ids)
    assert mapped[MORENO] == set(standards[MORENO].category_ids)
    amap_gb = {e["categories"][GB] for e in load_typecodes("amap").values()} - {None}
    assert set(standards[GB].category_ids) - amap_gb == {"elderly_care"}  # Baidu only
    # the rural elderly activity room has no provider class at all
    assert set(standards[RURAL].category_ids) - mapped[RURAL] == {"elderly_room"}
    amap_rural = {e["categories"][RURAL] for e in load_typecodes("amap").values()} - {None}
    assert amap_rural == set(standards[RURAL].category_ids) - {"elderly_room"}


@pytest.mark.parametrize(
    ("code", "gb", "moreno"),
    [
        ("141204", "kindergarten", "education"),
        ("141203", "primary_school", "education"),
        ("141202", "junior_high_school", "education"),
        ("150700", "bus_stop", "transport"),
        ("150702", "bus_stop", "transport"),
        ("110101", "park", "leisure"),
        ("090300", "health_center", "healthcare"),
        ("060200", "convenience_store", "groceries"),
        ("060400", "fresh_market", "groceries"),
        ("060705", "fresh_market", "groceries"),
        ("080105", "sports_ground", None),
        ("120304", "community_service", None),
        ("150500", None, "transport"),
        ("141201", None, "education"),
        ("050100", None, None),  # a Chinese restaurant
    ],
)
def test_the_standards_column_is_used(code, gb, moreno):
    for std, expected in ((GB, gb), (MORENO, moreno)):
        cats, unknown = categories_from_typecodes(pd.Series([code]), std)
        assert (cats.iloc[0] if cats.notna().iloc[0] else None) == expected
        assert unknown == ({} if expected else {code: 1})


def test_proxies_say_so():
    table = load_typecodes("amap")
    for code in ("141202", "090100", "060400", "060700"):
        assert table[code]["note"].startswith("proxy"), code


def test_first_code_with_a_category_of_the_standard_wins():
    codes = pd.Series(["141201|141203", "141204|141200", "050100;060200", "050100|050000"])
    gb, unknown = categories_from_typecodes(codes, GB)
    assert gb.tolist()[:3] == ["primary_school", "kindergarten", "convenience_store"]
    assert pd.isna(gb.iloc[3]) and unknown == {"050100": 1, "050000": 1}
    moreno, _ = categories_from_typecodes(codes, MORENO)
    assert moreno.tolist()[:3] == ["education", "education", "groceries"]


def test_tags_baidu_and_amap_names():
    tags = pd.Series(
        [
            "教育培训;幼儿园",
            " 教育培训 ； 小学 ",  # full-width separator, spaces
            "科教文化服务;学校;幼儿园",  # the Amap API's `type`
            "美食;中餐厅|购物;便利店",
            "美食;中餐厅",
            None,
        ]
    )
    cats, unknown = categories_from_typecodes(tags, GB, kind="tag")
    assert cats.tolist()[:4] == [
        "kindergarten",
        "primary_school",
        "kindergarten",
        "convenience_store",
    ]
    assert cats.iloc[4:].isna().all()
    assert unknown == {"美食;中餐厅": 1, "(empty)": 1}


def test_classify_works_once_per_distinct_value_and_keeps_the_index():
    rng = np.random.default_rng(0)
    values = np.array(["141204", "150700|141204", "050100", "110101", None], dtype=object)
    column = pd.Series(values[rng.integers(0, 5, 100_000)], index=np.arange(100_000) * 3 + 7)
    cats, unknown = categories_from_typecodes(column, GB)
    assert cats.index.equals(column.index)
    expected = column.map({"141204": "kindergarten", "150700|141204": "bus_stop", "110101": "park"})
    assert cats.fillna("-").tolist() == expected.fillna("-").tolist()
    assert unknown == {
        "050100": int((column == "050100").sum()),
        "(empty)": int(column.isna().sum()),
    }


def test_a_standard_of_ones_own_uses_the_bundled_column_sharing_its_ids(standards):
    gb = standards[GB]
    mine = dataclasses.replace(gb, id="my-city", categories=(gb.category("kindergarten"),))
    table = typecode_table(mine)
    assert table.column == GB
    cats, unknown = categories_from_typecodes(pd.Series(["141204", "141203"]), mine)
    assert cats.iloc[0] == "kindergarten" and pd.isna(cats.iloc[1])  # not its category
    assert unknown == {"141203": 1}


# --------------------------------------------------------------------------- provider files


def _write_csv(path: Path, rows: list[tuple], columns: list[str], datum: str | None) -> None:
    """Rows (name, code, lon, lat) in WGS-84, written in ``datum`` under ``columns``."""
    frame = pd.DataFrame(rows, columns=["name", "code", "lon", "lat"])
    if datum:
        shift = coords.wgs84_to_gcj02 if datum == "gcj02" else coords.wgs84_to_bd09
        x, y = shift(frame["lon"].to_numpy(), frame["lat"].to_numpy())
        frame = frame.assign(lon=x, lat=y)
    frame.columns = columns
    frame.to_csv(path, index=False, float_format="%.9f")


AMAP_KEPT = [
    ("某幼儿园", "141204", 121.4605, 31.2205),
    ("某公交站", "150700", 121.4712, 31.2301),
    ("某公园", "110101", 121.4820, 31.2415),
    ("某幼儿园二", "141204|141200", 121.4933, 31.2352),
    ("某餐厅", "050100", 121.4888, 31.2188),
]


@pytest.mark.parametrize(
    ("standard", "expected"),
    [
        (GB, ["kindergarten", "bus_stop", "park", "kindergarten"]),
        (MORENO, ["education", "transport", "leisure", "education"]),
    ],
)
def test_an_amap_export_keeps_its_kindergartens_bus_stops_and_parks(tmp_path, standard, expected):
    path = tmp_path / "amap.csv"
    _write_csv(path, AMAP_KEPT, ["name", "typecode", "lon", "lat"], "gcj02")
    fac = lifecircle.read_facilities(path, lifecircle.load_standard(standard), crs="gcj02")
    assert fac["category"].tolist() == expected
    assert fac["name"].tolist() == [r[0] for r in AMAP_KEPT[:4]]
    assert fac.attrs["unknown_typecodes"] == {"050100": 1}


def test_a_baidu_export_with_tags_in_bd09(tmp_path, gb_standard):
    rows = [
        ("某幼儿园", "教育培训;幼儿园", 121.4605, 31.2205),
        ("某居委会", "政府机构;居民委员会", 121.4712, 31.2301),
        ("某敬老院", "政府机构;福利机构", 121.4820, 31.2415),
        ("某餐厅", "美食;中餐厅", 121.4888, 31.2188),
    ]
    path = tmp_path / "baidu.csv"
    _write_csv(path, rows, ["name", "tag", "lng", "lat"], "bd09")
    fac = lifecircle.read_facilities(path, gb_standard, crs="bd09")
    assert fac["category"].tolist() == ["kindergarten", "community_service", "elderly_care"]
    assert fac.attrs["unknown_typecodes"] == {"美食;中餐厅": 1}


def test_an_amap_type_column_without_typecodes(tmp_path, gb_standard):
    rows = [
        ("甲", "科教文化服务;学校;幼儿园", 121.46, 31.22),
        ("乙", "餐饮服务;中餐厅;中餐厅", 121.47, 31.23),
    ]
    path = tmp_path / "amap-type.csv"
    _write_csv(path, rows, ["name", "type", "lon", "lat"], None)
    fac = lifecircle.read_facilities(path, gb_standard)
    assert fac["category"].tolist() == ["kindergarten"]
    assert fac.attrs["unknown_typecodes"] == {"餐饮服务;中餐厅;中餐厅": 1}


def test_an_osm_type_column_is_not_read_as_tags(tmp_path, gb_standard):
    gdf = gpd.GeoDataFrame(
        {"amenity": ["kindergarten"], "name": ["甲"], "type": ["multipolygon"]},
        geometry=[shapely.Point(121.46, 31.22)],
        crs="EPSG:4326",
    )
    path = tmp_path / "osm.geojson"
    gdf.to_file(path, driver="GeoJSON")
    fac = lifecircle.read_facilities(path, gb_standard)
    assert fac["category"].tolist() == ["kindergarten"]


# --------------------------------------------------------------------------- --typecodes


def test_a_user_csv_extends_and_overrides_the_bundled_table(tmp_path, gb_standard):
    user = tmp_path / "codes.csv"
    user.write_text(
        "code,category,note\n"
        "080111,sports_ground,gyms count here\n"  # not mapped in the bundled table
        "090100,,hospitals are not community health centres\n"  # dropped
        "141202,-,\n"
        "\n"
        "政府机构;各级政府,community_service\n",
        encoding="utf-8-sig",
    )
    codes = pd.Series(["080111", "090100", "090300", "141202", "141204", "090100|090300"])
    cats, unknown = categories_from_typecodes(codes, gb_standard, typecodes=user)
    assert cats.fillna("-").tolist() == [
        "sports_ground",
        "-",
        "health_center",  # not listed: the bundled entry stays
        "-",
        "kindergarten",
        "health_center",  # the first code with a category wins
    ]
    assert unknown == {"090100": 1, "141202": 1}
    tags = pd.Series(["政府机构;各级政府", "医疗保健服务;综合医院;综合医院"])
    cats, _ = categories_from_typecodes(tags, gb_standard, typecodes=user, kind="tag")
    # the Amap class name follows its code's override
    assert cats.fillna("-").tolist() == ["community_service", "-"]


def test_a_user_yaml_with_unquoted_codes_and_categories_per_standard(tmp_path, standards):
    user = tmp_path / "codes.yaml"
    user.write_text(
        "codes:\n"
        "  060200: sports_ground\n"  # unquoted: YAML 1.1 would read the octal 24704
        "  141204: null\n"
        "  '080111': {category: sports_ground, note: gyms}\n"
        "  '090300': {categories: {gb50180-2018: null, moreno-15min: healthcare}}\n"
        "tags:\n"
        "  教育培训;培训机构: {categories: {moreno-15min: education}}\n",
        encoding="utf-8",
    )
    gb = read_typecodes(user, standards[GB])
    assert gb == {
        "060200": "sports_ground",
        "141204": None,
        "080111": "sports_ground",
        "090300": None,
    }
    assert "教育培训;培训机构" not in gb  # its categories name another standard only
    with pytest.raises(ConfigError, match="sports_ground"):  # not a Moreno category
        read_typecodes(user, standards[MORENO])
    moreno_file = tmp_path / "moreno.yaml"
    moreno_file.write_text(
        "codes:\n"
        "  '090300': {categories: {gb50180-2018: null, moreno-15min: healthcare}}\n"
        "tags:\n"
        "  教育培训;培训机构: {categories: {moreno-15min: education}}\n",
        encoding="utf-8",
    )
    moreno_table = typecode_table(standards[MORENO], moreno_file)
    assert moreno_table.user_file == str(moreno_file)
    cats, _ = categories_from_typecodes(
        pd.Series(["教育培训;培训机构", "090300", "080111"]),
        standards[MORENO],
        typecodes=moreno_table,
        kind="tag",
    )
    # a code in a tag column is still a code; 080111 maps to no Moreno category
    assert cats.fillna("-").tolist() == ["education", "healthcare", "-"]
    cats, _ = categories_from_typecodes(
        pd.Series(["090300", "141204"]), standards[MORENO], typecodes=moreno_table
    )
    assert cats.tolist() == ["healthcare", "education"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("code,category\n141204,kindergarden\n", ["line 2", "'kindergarden'", "kindergarten"]),
        ("code,category\n60200,convenience_store\n", ["line 2", "six", "'060200'"]),
        ("code,category\n141204,park\nabc,park\n", ["line 3", "'abc'", "six-digit"]),
        ("code,category\n141204|141200,park\n", ["line 2", "one code"]),
        ("code,category\n141204,park\n141204,kindergarten\n", ["line 3", "line 2", "again"]),
        ("typecode;category\n141204;park\n", ["line 1", "code,category"]),
        ("code,category\n", ["no codes"]),
    ],
    ids=["category", "five-digits", "not-a-code", "two-codes", "twice", "header", "empty"],
)
def test_a_bad_csv_is_a_config_error_naming_file_line_and_fix(tmp_path, gb_standard, text, words):
    user = tmp_path / "codes.csv"
    user.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        typecode_table(gb_standard, user)
    message = str(err.value)
    assert str(user) in message
    for word in words:
        assert word in message, (word, message)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("codes:\n  '141204': kindergarden\n", ["line 2", "kindergarten"]),
        (
            "codes:\n  '141204': {categories: {gb50180: kindergarten}}\n",
            ["line 2", "'gb50180'", "gb50180-2018"],
        ),
        (
            "codes:\n  '141204': {categories: {moreno-15min: park}}\n",
            ["line 2", "'park'", "moreno-15min", "leisure"],
        ),
        ("codes:\n  '141204': {category: park, categroy: x}\n", ["line 2", "'categroy'"]),
        ("codes:\n  '141204': park\n  '141204': bus_stop\n", ["duplicate"]),
        ("cods:\n  '141204': park\n", ["'cods'", "codes"]),
        ("- 141204\n", ["mapping"]),
        ("codes: [\n", ["not valid YAML"]),
    ],
    ids=["category", "standard", "other-standard", "key", "duplicate", "section", "list", "syntax"],
)
def test_a_bad_yaml_is_a_config_error(tmp_path, gb_standard, text, words):
    user = tmp_path / "codes.yaml"
    user.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        typecode_table(gb_standard, user)
    for word in [str(user), *words]:
        assert word in str(err.value), (word, str(err.value))


def test_a_missing_or_unknown_file(tmp_path, gb_standard):
    with pytest.raises(InputFileError, match="--typecodes"):
        typecode_table(gb_standard, tmp_path / "nope.csv")
    other = tmp_path / "codes.json"
    other.write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match="YAML"):
        typecode_table(gb_standard, other)


def test_read_facilities_with_typecodes(tmp_path, gb_standard):
    path = tmp_path / "amap.csv"
    _write_csv(path, AMAP_KEPT, ["name", "typecode", "lon", "lat"], "gcj02")
    user = tmp_path / "codes.csv"
    user.write_text("code,category\n050100,fresh_market\n110101,\n", encoding="utf-8")
    fac = lifecircle.read_facilities(path, gb_standard, crs="gcj02", typecodes=user)
    assert fac["category"].tolist() == [
        "kindergarten",
        "bus_stop",
        "kindergarten",
        "fresh_market",
    ]
    assert fac.attrs["unknown_typecodes"] == {"110101": 1}
    # the file is checked even when the facilities carry a category column
    bad = tmp_path / "bad.csv"
    bad.write_text("code,category\n141204,kindergarden\n", encoding="utf-8")
    cat = tmp_path / "cat.csv"
    cat.write_text("name,category,lon,lat\n甲,park,121.46,31.22\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="kindergarden"):
        lifecircle.read_facilities(cat, gb_standard, typecodes=bad)
    with pytest.raises(ValueError, match="moreno-15min"):
        lifecircle.read_facilities(
            path, gb_standard, typecodes=typecode_table(lifecircle.load_standard(MORENO))
        )


def _cli_args(tmp_path: Path, sample_paths, out: Path, *extra) -> list:
    csv_path = tmp_path / "amap.csv"
    _write_csv(csv_path, AMAP_KEPT, ["name", "typecode", "lon", "lat"], "gcj02")
    return [
        "audit",
        "--network",
        sample_paths["network"],
        "--facilities",
        f"{csv_path}:gcj02",
        "--units",
        sample_paths["units"],
        "--population",
        sample_paths["population"],
        "--no-osm-pois",
        *extra,
        "--out",
        out,
        "--no-map",
    ]


def test_cli_an_amap_export_keeps_kindergartens_bus_stops_and_parks(tmp_path, sample_paths):
    out = tmp_path / "out"
    assert_ok(invoke(_cli_args(tmp_path, sample_paths, out)))
    fac = gpd.read_file(out / "facilities.gpkg", layer="facilities")
    assert sorted(fac["category"]) == ["bus_stop", "kindergarten", "kindergarten", "park"]
    assert (fac["sources"] == "amap.csv").all()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["data_quality"]["unknown_typecodes"] == {"050100": 1}
    assert any("050100" in w and "--typecodes" in w for w in summary["warnings"])


def test_cli_typecodes_on_the_sample(tmp_path, sample_paths):
    """Needs pipeline.audit to pass ``typecodes=opts.typecodes`` to ``_load_facilities``."""
    user = tmp_path / "codes.csv"
    user.write_text("code,category\n050100,fresh_market\n", encoding="utf-8")
    out = tmp_path / "out"
    assert_ok(invoke(_cli_args(tmp_path, sample_paths, out, "--typecodes", user)))
    fac = gpd.read_file(out / "facilities.gpkg", layer="facilities")
    assert sorted(fac["category"]) == sorted(
        ["kindergarten", "bus_stop", "park", "kindergarten", "fresh_market"]
    )
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["data_quality"]["unknown_typecodes"] == {}

    bad = tmp_path / "bad.csv"
    bad.write_text("code,category\n141204,kindergarden\n", encoding="utf-8")
    res = invoke(_cli_args(tmp_path, sample_paths, tmp_path / "out2", "--typecodes", bad))
    assert_user_error(res, str(bad), "line 2", "kindergarten")
    assert not (tmp_path / "out2").exists()


# --------------------------------------------------------------------------- cross-source


def _facilities(rows: list[tuple[str, str, str, float]]) -> gpd.GeoDataFrame:
    """(category, name, source, x offset in m) along one street, in UTM then WGS-84."""
    return gpd.GeoDataFrame(
        {
            "category": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "source": [r[2] for r in rows],
            "osm_id": pd.NA,
            "unit_id": ["u1" if r[3] < 1000 else "u2" for r in rows],
        },
        geometry=[shapely.Point(X0 + r[3], Y0) for r in rows],
        crs=UTM,
    ).to_crs("EPSG:4326")


def test_cross_source_counts_by_hand():
    fac = _facilities(
        [
            ("kindergarten", "和平幼儿园", "osm", 0.0),
            ("kindergarten", "上海市和平幼儿园", "amap.csv", 8.0),  # the same one
            ("kindergarten", "复兴幼儿园", "osm", 300.0),  # osm only
            ("kindergarten", "长乐幼儿园", "amap.csv", 600.0),  # amap only
            ("kindergarten", "延安幼儿园", "amap.csv", 1500.0),  # amap only, unit u2
            ("park", "襄阳公园", "osm", 1200.0),  # osm only
            ("park", "襄阳公园", "osm", 1205.0),  # same source: never merged
        ]
    )
    out, merged = deduplicate(fac)
    assert merged == {"kindergarten": 1}
    assert out["sources"].tolist() == ["amap.csv|osm", "osm", "amap.csv", "amap.csv", "osm", "osm"]
    by_cat = cross_source_counts(out, ["category"])
    assert list(by_cat.columns) == [
        "category",
        "source_a",
        "source_b",
        "in_both",
        "only_a",
        "only_b",
    ]
    assert by_cat.to_dict("records") == [
        {"category": "kindergarten", "source_a": "amap.csv", "source_b": "osm",
         "in_both": 1, "only_a": 2, "only_b": 1},
        {"category": "park", "source_a": "amap.csv", "source_b": "osm",
         "in_both": 0, "only_a": 0, "only_b": 2},
    ]  # fmt: skip
    by_unit = cross_source_counts(out, ["category", "unit_id"]).set_index(["category", "unit_id"])
    assert by_unit.loc[("kindergarten", "u1"), ["in_both", "only_a", "only_b"]].tolist() == [
        1,
        1,
        1,
    ]
    assert by_unit.loc[("kindergarten", "u2"), ["in_both", "only_a", "only_b"]].tolist() == [
        0,
        1,
        0,
    ]
    assert by_unit.loc[("park", "u2"), ["in_both", "only_a", "only_b"]].tolist() == [0, 0, 2]
    # totals: every kept facility found by a source is counted once per pair
    assert by_cat[["in_both", "only_a"]].sum().sum() == (out["sources"].str.contains("amap")).sum()


def test_cross_source_counts_with_three_sources_and_one():
    fac = _facilities(
        [
            ("park", "公园", "osm", 0.0),
            ("park", "公园", "amap.csv", 5.0),
            ("park", "公园", "baidu.csv", 10.0),  # all three: one group
            ("park", "绿地", "baidu.csv", 400.0),
        ]
    )
    out, _ = deduplicate(fac)
    assert out["sources"].tolist() == ["amap.csv|baidu.csv|osm", "baidu.csv"]
    table = cross_source_counts(out, ["category"])
    pairs = {(r.source_a, r.source_b): (r.in_both, r.only_a, r.only_b) for r in table.itertuples()}
    assert pairs == {
        ("amap.csv", "baidu.csv"): (1, 0, 1),
        ("amap.csv", "osm"): (1, 0, 0),
        ("baidu.csv", "osm"): (1, 1, 0),
    }
    single, _ = deduplicate(fac[fac["source"] == "osm"])
    assert single["sources"].tolist() == ["osm"]
    empty = cross_source_counts(single, ["category"])
    assert empty.empty and list(empty.columns)[-3:] == ["in_both", "only_a", "only_b"]


def test_unknown_counts_rows_not_repeats():
    _, unknown = categories_from_typecodes(pd.Series(["050100|050100", "050100", "|;"]))
    assert unknown == {"050100": 2, "(empty)": 1}
    with pytest.raises(ValueError, match="kind"):
        categories_from_typecodes(pd.Series(["141204"]), kind="codes")
