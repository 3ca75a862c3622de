"""The bundled rural standard (shanghai-rural-2021): tiers, modes, flags and mappings."""

from __future__ import annotations

import pandas as pd
import pytest

import lifecircle
from lifecircle.coverage import edge_reach_m
from lifecircle.io.typecodes import typecode_table

RURAL = "shanghai-rural-2021"
SANSHI_LIANGDIAN = [
    "village_committee",
    "village_clinic",
    "elderly_room",
    "village_shop",
    "fitness_point",
]


@pytest.fixture(scope="module")
def rural():
    return lifecircle.load_standard(RURAL)


def test_tiers_and_slow_travel(rural):
    assert [lv.id for lv in rural.levels] == ["village", "town"]
    town = rural.level("town")
    assert town.minutes == 15
    assert town.modes == ("walk", "bicycle")
    assert "乡集镇" in town.name_zh and "村/组" in rural.level("village").name_zh
    assert town.reference_distance_m == 5000  # the draft's 1-5 km
    # the village tier is the "三室两点", all mandatory
    village = [c.id for c in rural.categories if c.level == "village"]
    assert village == SANSHI_LIANGDIAN
    assert all(rural.category(c).mandatory for c in village)
    # town by walk or bicycle; the elderly walk at the elderly's speed
    assert [p.id for p in rural.profiles_of("town_school")] == ["adult", "bicycle"]
    assert [p.id for p in rural.profiles_of("elderly_room")] == ["elderly", "bicycle"]
    assert rural.profile("bicycle").speed_m_s == 4.17
    # 15 min at 4.17 m/s: the edge-effect reach of the standard
    assert edge_reach_m(rural) == pytest.approx(15 * 4.17 * 60)


def test_every_number_says_where_it_comes_from_and_only_read_ones_are_verified(rural):
    # REFERENCE.md: rural distances, facility lists and cycling speeds are not verified
    for level in rural.levels:
        assert level.source and level.verified is False
    for cat in rural.categories:
        assert cat.source and cat.verified is False, cat.id
    verified = {p.id for p in rural.profiles.values() if p.verified}
    assert verified == {"adult", "elderly"}  # the MUTCD walking speeds, as in GB 50180
    for prof in rural.profiles.values():
        assert prof.source
    assert rural.profile("bicycle").mode == "bicycle"
    assert rural.profile("ebike").mode == "ebike"


def _features(rows):
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    ("tags", "category", "expected"),
    [
        ({"office": "government", "name": "张练村村民委员会"}, "village_committee", True),
        ({"office": "government", "name": "岑卜村村委会"}, "village_committee", True),
        ({"office": "government", "name": "朱家角镇人民政府"}, "village_committee", False),
        ({"office": "government", "name": "某某居委会"}, "village_committee", False),
        ({"amenity": "clinic", "name": "张练村卫生室"}, "village_clinic", True),
        ({"amenity": "clinic", "name": "私人诊所"}, "village_clinic", False),
        ({"amenity": "community_centre", "name": "村老年活动室"}, "elderly_room", True),
        ({"amenity": "community_centre", "name": "村文化中心"}, "elderly_room", False),
        ({"shop": "convenience", "name": "小卖部"}, "village_shop", True),
        ({"leisure": "fitness_station"}, "fitness_point", True),
        ({"amenity": "hospital", "name": "重固镇社区卫生服务中心"}, "town_health_center", True),
        ({"amenity": "school", "name": "重固小学"}, "town_school", True),
        ({"amenity": "marketplace", "name": "集市"}, "town_market", True),
    ],
)
def test_osm_selectors(rural, tags, category, expected):
    row = {"amenity": None, "office": None, "shop": None, "leisure": None, "name": None, **tags}
    assert bool(rural.category(category).match(_features([row]))[0]) is expected


def test_amap_and_baidu_mappings(rural):
    lookup = typecode_table(rural).lookup
    assert lookup["130106"] == "village_committee"  # offices below the township level
    assert lookup["090300"] == "village_clinic"
    assert lookup["060200"] == "village_shop"
    assert lookup["080108"] == "fitness_point"
    assert lookup["090102"] == "town_health_center"  # 卫生院
    assert lookup["医疗;诊所"] == "village_clinic"
    # no provider class for an elderly activity room; GB-only codes map to nothing
    assert "elderly_room" not in set(lookup.values())
    assert "141204" not in lookup  # kindergarten: not a rural category
