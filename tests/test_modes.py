"""Travel modes: the cycling network filter, mode speeds and access by the fastest mode.

Hand-made OSM files and graphs whose answers can be checked on paper.
"""

from __future__ import annotations

import copy

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

import lifecircle
from lifecircle._graphml import _graphml_walkable
from lifecircle.access import compute_access, snap_audit_inputs
from lifecircle.config import parse_standard
from lifecircle.errors import ConfigError, DataError
from lifecircle.io.osm import read_walk_ways
from lifecircle.network import graph_from_edges

from .conftest import osm_xml

# ------------------------------------------------------------------ network filter

NODES = {i: (121.47 + 0.001 * i, 31.23) for i in range(1, 11)}
WAYS = [
    (10, [1, 2], {"highway": "cycleway"}),
    (11, [2, 3], {"highway": "footway"}),  # footway only: no bicycles
    (12, [3, 4], {"highway": "footway", "bicycle": "yes"}),
    (13, [4, 5], {"highway": "motorway", "bicycle": "yes"}),  # motorways never
    (14, [5, 6], {"highway": "residential"}),
    (15, [6, 7], {"highway": "residential", "bicycle": "no"}),
    (16, [7, 8], {"highway": "trunk"}),  # trunk roads only with bicycle=yes
    (17, [8, 9], {"highway": "track"}),
    (18, [9, 10], {"highway": "pedestrian", "bicycle": "designated"}),
    (19, [1, 10], {"highway": "residential", "access": "private"}),
]


def _edges(path, mode):
    ways = read_walk_ways(path, mode=mode)
    ids = ways.node_ids
    return {
        (int(ids[u]), int(ids[v])): c
        for u, v, c in zip(ways.edge_u, ways.edge_v, ways.edge_class, strict=True)
    }


@pytest.fixture
def mixed_osm(tmp_path):
    path = tmp_path / "mixed.osm"
    path.write_text(osm_xml(NODES, WAYS), encoding="utf-8")
    return path


def test_bicycle_network_filter(mixed_osm):
    bike = _edges(mixed_osm, "bicycle")
    assert bike == {
        (1, 2): "cycleway",
        (3, 4): "footway",  # footway + bicycle=yes kept
        (5, 6): "residential",
        (8, 9): "track",
        (9, 10): "pedestrian",  # bicycle=designated
    }
    # the e-bike uses the same network
    assert _edges(mixed_osm, "ebike") == bike


def test_walk_network_unchanged_by_modes(mixed_osm):
    walk = _edges(mixed_osm, "walk")
    assert set(walk) == {(2, 3), (3, 4), (5, 6), (6, 7), (7, 8), (8, 9), (9, 10)}


def test_graph_from_osm_labels_the_mode(mixed_osm):
    g = lifecircle.graph_from_osm(mixed_osm, mode="bicycle", keep_largest=False)
    assert g.mode == "bicycle"
    assert lifecircle.graph_from_osm(mixed_osm).mode == "walk"
    with pytest.raises(ConfigError, match="unknown travel mode 'car'"):
        read_walk_ways(mixed_osm, mode="car")


@pytest.mark.parametrize(
    ("data", "bike", "walk"),
    [
        ({"highway": ["footway", "residential"]}, True, True),  # merged ways: any
        ({"highway": "footway"}, False, True),
        ({"highway": "footway", "bicycle": ["no", "yes"]}, False, True),  # any ban
        ({"highway": ["motorway", "cycleway"]}, False, False),
        ({"highway": "cycleway"}, True, False),
        ({"highway": "steps", "bicycle": "permissive"}, True, True),
    ],
)
def test_graphml_edges_follow_the_same_rule(data, bike, walk):
    assert _graphml_walkable(data, "bicycle") is bike
    assert _graphml_walkable(data, "walk") is walk


# ------------------------------------------------------------------ speeds and access


def _standard(modes=None, bike_speed=4.17):
    raw = {
        "id": "modes-test",
        "title": {"en": "t", "zh": "t"},
        "source": "t",
        "levels": [
            {
                "id": "town",
                "minutes": 15,
                "name": {"en": "town", "zh": "镇"},
                "source": "t",
                "verified": False,
            }
        ],
        "profiles": {
            "adult": {"speed_m_s": 1.2, "source": "t", "verified": True},
            "cyclist": {
                "speed_m_s": bike_speed,
                "mode": "bicycle",
                "source": "t",
                "verified": False,
            },
        },
        "default_profile": "adult",
        "categories": [
            {
                "id": "market",
                "name": {"en": "market", "zh": "集市"},
                "level": "town",
                "threshold_min": 15,
                "mandatory": True,
                "source": "t",
                "verified": False,
                "selectors": [{"amenity": "marketplace"}],
            }
        ],
    }
    if modes is not None:
        raw["levels"][0]["modes"] = modes
    return parse_standard(raw, source="modes.yaml")


def _line_graph(xs, *, crs="EPSG:32651"):
    n = len(xs)
    return graph_from_edges(
        np.arange(n), np.asarray(xs, float), np.zeros(n), np.arange(n - 1), np.arange(1, n), crs=crs
    )


def _points(xs, **cols):
    return gpd.GeoDataFrame(
        cols, geometry=shapely.points(np.asarray(xs, float), np.zeros(len(xs))), crs="EPSG:32651"
    )


def _inputs():
    origins = _points([0.0], origin_id=[0], population=[10.0])
    fac = _points([1200.0], category=["market"])
    return origins, fac


def test_bicycle_speed_times_on_a_1200_m_path():
    graph = _line_graph([0.0, 600.0, 1200.0])
    origins, fac = _inputs()
    std = _standard(modes=["walk", "bicycle"])
    snaps = snap_audit_inputs(graph, origins, fac, mode_graphs={"bicycle": graph})
    table, _ = compute_access(graph, origins, fac, std, snaps=snaps)
    # 1,200 m at 4.17 m/s = 250.2 m/min: 4.796 min; walking (72 m/min) would take 16.7
    assert table["time_market_min"].iloc[0] == pytest.approx(1200 / 250.2)
    assert table["time_market_min"].iloc[0] == pytest.approx(4.8, abs=0.005)
    assert table["dist_market_m"].iloc[0] == pytest.approx(1200.0)
    assert table["mode_market"].iloc[0] == "bicycle"


def test_walking_alone_does_not_reach_1200_m_in_15_minutes():
    graph = _line_graph([0.0, 600.0, 1200.0])
    origins, fac = _inputs()
    table, _ = compute_access(graph, origins, fac, _standard())
    # 15 min at 1.2 m/s = 1,080 m: beyond the cut-off, NaN
    assert np.isnan(table["time_market_min"].iloc[0])
    assert "mode_market" not in table
    # a 1,000 m walk takes 13.9 min
    fac_near = _points([1000.0], category=["market"])
    table, _ = compute_access(graph, origins, fac_near, _standard())
    assert table["time_market_min"].iloc[0] == pytest.approx(1000 / 72)


def test_ebike_speed():
    std = _standard(modes=["walk", "bicycle"], bike_speed=6.94)  # 25 km/h
    graph = _line_graph([0.0, 600.0, 1200.0])
    origins, fac = _inputs()
    snaps = snap_audit_inputs(graph, origins, fac, mode_graphs={"bicycle": graph})
    table, _ = compute_access(graph, origins, fac, std, snaps=snaps)
    assert table["time_market_min"].iloc[0] == pytest.approx(1200 / (6.94 * 60))  # 2.88 min


def test_fastest_mode_on_its_own_network():
    # walking takes a 300 m footway; the bicycle network lacks it and goes round: 2,000 m
    walk = graph_from_edges(
        np.arange(2),
        np.array([0.0, 300.0]),
        np.zeros(2),
        np.array([0]),
        np.array([1]),
        crs="EPSG:32651",
    )
    xs = np.array([0.0, 0.0, 300.0, 300.0])
    ys = np.array([0.0, 700.0, 700.0, 0.0])
    bike = graph_from_edges(
        np.arange(4), xs, ys, np.array([0, 1, 2]), np.array([1, 2, 3]), crs="EPSG:32651"
    )
    origins = _points([0.0], origin_id=[0], population=[1.0])
    fac = _points([300.0], category=["market"])
    std = _standard(modes=["walk", "bicycle"])
    snaps = snap_audit_inputs(walk, origins, fac, mode_graphs={"bicycle": bike})
    table, _ = compute_access(walk, origins, fac, std, snaps=snaps)
    # walk: 300 / 72 = 4.17 min; bicycle: 1,700 m / 250.2 = 6.79 min
    assert table["time_market_min"].iloc[0] == pytest.approx(300 / 72)
    assert table["mode_market"].iloc[0] == "walk"
    # a level that counts only the bicycle takes the long way
    std_bike = _standard(modes=["bicycle"])
    table, _ = compute_access(walk, origins, fac, std_bike, snaps=snaps)
    assert table["time_market_min"].iloc[0] == pytest.approx(1700 / 250.2)
    assert table["dist_market_m"].iloc[0] == pytest.approx(1700.0)
    assert table["mode_market"].iloc[0] == "bicycle"


def test_missing_mode_network_is_a_clear_error():
    graph = _line_graph([0.0, 600.0, 1200.0])
    origins, fac = _inputs()
    with pytest.raises(DataError, match="no bicycle network was given"):
        compute_access(graph, origins, fac, _standard(modes=["walk", "bicycle"]))


# ------------------------------------------------------------------ config


def _raw():
    std = _standard(modes=["walk", "bicycle"])
    assert std.level("town").modes == ("walk", "bicycle")
    assert std.profile("cyclist").mode == "bicycle"
    assert std.profile("adult").mode == "walk"
    assert [p.id for p in std.profiles_of("market")] == ["adult", "cyclist"]
    assert std.modes_of(["market"]) == ["walk", "bicycle"]


def test_profiles_and_levels_read_modes():
    _raw()


def test_mode_mistakes_are_reported_together():
    std = _standard()
    assert std.modes_of(["market"]) == ["walk"]
    raw = {
        "id": "x",
        "title": {"en": "t", "zh": "t"},
        "source": "t",
        "levels": [
            {
                "id": "town",
                "minutes": 15,
                "name": {"en": "t", "zh": "t"},
                "source": "t",
                "verified": False,
                "modes": ["walk", "ebike", "car"],
            },
            {
                "id": "far",
                "minutes": 20,
                "name": {"en": "t", "zh": "t"},
                "source": "t",
                "verified": False,
                "modes": ["ebike"],
            },
        ],
        "profiles": {
            "adult": {"speed_m_s": 1.2, "source": "t", "verified": True},
            "rocket": {"speed_m_s": 40, "mode": "bicycle", "source": "t", "verified": False},
            "horse": {"speed_m_s": 3, "mode": "horse", "source": "t", "verified": False},
            "runner": {"speed_m_s": 4.17, "source": "t", "verified": False},
        },
        "categories": copy.deepcopy(
            [
                {
                    "id": "market",
                    "name": {"en": "market", "zh": "集市"},
                    "level": "town",
                    "threshold_min": 15,
                    "mandatory": True,
                    "source": "t",
                    "verified": False,
                    "selectors": [{"amenity": "marketplace"}],
                }
            ]
        ),
    }
    with pytest.raises(ConfigError) as info:
        parse_standard(raw, source="bad.yaml")
    text = str(info.value)
    assert "levels[0].modes: 'car' not a travel mode" in text
    assert "rocket.speed_m_s: 40.0 m/s is not a bicycle speed (expected 1.5-10 m/s)" in text
    assert "profiles.horse.mode: 'horse' is not a travel mode" in text
    assert "profiles.runner.speed_m_s: 4.17 m/s is not a walking speed" in text
    assert "horse.speed_m_s" not in text  # one problem per mistake
    assert "levels[1] (far).modes: no profile has `mode: ebike`" in text


_TAG_VALUES = st.sampled_from(
    [
        None,
        "yes",
        "no",
        "private",
        "designated",
        "permissive",
        "dismount",
        "use_sidepath",
        "footway",
        "residential",
        "cycleway",
        "path",
        "primary",
        "trunk",
        "motorway",
        "service",
        "steps",
        "track",
        "pedestrian",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    mode=st.sampled_from(["walk", "bicycle", "ebike"]),
    tags=st.dictionaries(
        st.sampled_from(
            ["highway", "foot", "access", "bicycle", "motorroad", "area", "name", "surface"]
        ),
        _TAG_VALUES,
    ),
)
def test_way_allowed_reads_only_the_tag_keys_of_its_mode(mode, tags):
    # read_walk_ways decides each distinct combination of these keys' values once
    from lifecircle._mode_filter import tag_keys, way_allowed

    keys = tag_keys(mode)
    only = {k: v for k, v in tags.items() if k in keys}
    assert way_allowed(mode, lambda k: (tags.get(k),)) == way_allowed(
        mode, lambda k: (only.get(k),)
    )
    read: list[str] = []
    way_allowed(mode, lambda k: read.append(k) or (tags.get(k),))
    assert set(read) <= set(keys)
