"""The access convention, on hand-computed graphs and cross-checked with networkx.

distance(o, c) = min over f in c of snap(o) + network(p(o), p(f)) + snap(f);
unreachable (beyond the cut-off) is NaN; time = distance / (speed_m_s * 60).
Most hand values here are for the node rule (p = nearest node, ``snap="node"``); the
edge rule (the default) has its own hand-computed case below and in test_snap.py.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import lifecircle
from lifecircle.access import access_points, nearest_distance, snap_facilities

from .conftest import UTM, X0, Y0, as_nan_inf, grid, utm_box, utm_points

NAN = np.nan


def node_access(*args, **kwargs):
    """compute_access under the node rule, the rule of the hand values of these tests."""
    return lifecircle.compute_access(*args, snap="node", **kwargs)


# --------------------------------------------------------------------------- nearest_distance


def test_nearest_distance_offsets_and_cutoff():
    # 3 x 4 grid, 100 m: node r*4 + c at (100c, 100r). Sources: node 0 (+5 m), node 11 (+30 m).
    g = grid(3, 4)
    src, off = np.array([0, 11]), np.array([5.0, 30.0])
    # by hand: min(100(r+c) + 5, 100((2-r)+(3-c)) + 30)
    full = [5, 105, 205, 230, 105, 205, 230, 130, 205, 230, 130, 30]
    assert_allclose(nearest_distance(g, src, off), full)
    # beyond the cut-off: NaN (not inf, not a sentinel); exactly at it: kept
    assert_allclose(
        nearest_distance(g, src, off, cutoff_m=200.0),
        [5, 105, NAN, NAN, 105, NAN, NAN, 130, NAN, NAN, 130, 30],
    )
    assert_allclose(
        nearest_distance(g, src, off, cutoff_m=205.0),
        [5, 105, 205, NAN, 105, 205, NAN, 130, 205, NAN, 130, 30],
    )
    d = nearest_distance(g, src, off, cutoff_m=100.0)
    assert not np.isinf(d).any()
    assert_allclose(d, [5, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, 30])


def test_nearest_distance_repeated_sources_use_the_smallest_offset_and_zero_is_zero():
    g = grid(3, 4)
    d = nearest_distance(g, np.array([0, 0, 11]), np.array([50.0, 0.0, 30.0]))
    assert d[0] == 0.0  # an offset of 0 is exactly 0, not a tiny epsilon
    assert_allclose(d, [0, 100, 200, 230, 100, 200, 230, 130, 200, 230, 130, 30])
    # no offsets given: 0
    assert_allclose(
        nearest_distance(g, np.array([5])),
        [200, 100, 200, 300, 100, 0, 100, 200, 200, 100, 200, 300],
    )


def test_nearest_distance_without_sources_is_all_nan():
    g = grid(2, 2)
    d = nearest_distance(g, np.array([], dtype=np.int64), np.array([]))
    assert d.shape == (4,)
    assert np.isnan(d).all()


# --------------------------------------------------------------------------- compute_access

# Grid 3 x 4, spacing 100 m, at (X0, Y0). Node r*4 + c at (100c, 100r) relative.
#
# Origins (off-node) and their snaps:
#   o1 (10, 20)   -> node 0,  snap sqrt(10^2 + 20^2) = sqrt(500)
#   o2 (290, 170) -> node 11, snap sqrt(10^2 + 30^2) = sqrt(1000)
#   o3 (140, 110) -> node 5,  snap sqrt(40^2 + 10^2) = sqrt(1700)
#   o4 (5000, 5000): farther than max_snap_m = 500 -> excluded
# Kindergartens: f1 (205, 5) -> node 2, snap sqrt(50); f2 (0, 190) -> node 8, snap 10.
# Park: the square x 310..510, y 0..200 east of the grid. Boundary access points every
#   25 m; the best are (310, 0), (310, 100), (310, 200) -> nodes 3, 7, 11 with snap 10.
#   Its centroid (410, 100) would snap to node 7 with 110 m.
# Clinic: a point at (2000, 2000), 2476 m from node 11 -> beyond max_snap_m, unused.
# Shop: no facility at all.
S1, S2, S3 = np.sqrt(500.0), np.sqrt(1000.0), np.sqrt(1700.0)
F1 = np.sqrt(50.0)
EXPECTED_KG = [
    S1 + 200 + F1,  # node 0 -> node 2: 200 (node 8: 200 + 10 is longer)
    S2 + 300 + F1,  # node 11 -> node 2: 300 (node 8: 300 + 10)
    S3 + 200 + F1,
]  # node 5 -> node 2: 200 (node 8: 200 + 10)
EXPECTED_PARK = [
    S1 + 300 + 10,  # node 0 -> node 3
    S2 + 0 + 10,  # node 11 itself
    S3 + 200 + 10,
]  # node 5 -> node 7
CENTROID_PARK = [S1 + 400 + 110, S2 + 100 + 110, S3 + 200 + 110]


@pytest.fixture
def access_case():
    g = grid(3, 4)
    origins = utm_points(
        [(10, 20), (290, 170), (140, 110), (5000, 5000)],
        origin_id=[1, 2, 3, 4],
        population=[10.0, 20.0, 30.0, 40.0],
    )
    geoms = [
        shapely.Point(X0 + 205, Y0 + 5),
        shapely.Point(X0 + 0, Y0 + 190),
        utm_box(310, 0, 510, 200),
        shapely.Point(X0 + 2000, Y0 + 2000),
    ]
    facilities = gpd.GeoDataFrame(
        {"category": ["kindergarten", "kindergarten", "park", "clinic"]},
        geometry=geoms,
        crs=UTM,
        index=[10, 11, 12, 13],
    )
    return g, origins, facilities


def test_compute_access_matches_hand_computed_distances(access_case, small_standard):
    g, origins, facilities = access_case
    table, fac_snap = node_access(g, origins, facilities, small_standard)
    # one row per origin, index aligned with origins
    assert list(table.index) == [0, 1, 2, 3]
    assert list(table["origin_id"]) == [1, 2, 3, 4]
    assert list(table["population"]) == [10.0, 20.0, 30.0, 40.0]
    assert_allclose(table["snap_m"].iloc[:3], [S1, S2, S3], atol=0.01)
    assert_array_equal(table["node"].iloc[:3], [0, 11, 5])
    assert_allclose(table["dist_kindergarten_m"], [*EXPECTED_KG, NAN], atol=0.01)
    assert_allclose(table["dist_park_m"], [*EXPECTED_PARK, NAN], atol=0.01)
    # 1.0 m/s: minutes = metres / 60
    assert_allclose(table["time_kindergarten_min"], np.array([*EXPECTED_KG, NAN]) / 60.0, atol=1e-4)
    assert_allclose(table["time_park_min"], np.array([*EXPECTED_PARK, NAN]) / 60.0, atol=1e-4)
    # o4 lies farther than max_snap_m from the network: it reaches nothing
    assert table["snap_m"].iloc[3] > 500
    assert table.filter(like="dist_").iloc[3].isna().all()
    # unreachable facility and empty category: all NaN
    assert table["dist_clinic_m"].isna().all()
    assert table["time_clinic_min"].isna().all()
    assert table["dist_shop_m"].isna().all()
    assert table["time_shop_min"].isna().all()
    # per facility the smallest access-point snap; NaN beyond max_snap_m
    assert list(fac_snap.index) == [10, 11, 12, 13]
    assert_allclose(fac_snap, [F1, 10.0, 10.0, NAN], atol=1e-9)


# The same case under the edge rule (the default), by hand. Entry points:
#   o1 (10, 20)   -> (0, 20) on edge 0-4, snap 10: node 0 at 30, node 4 at 90
#   o2 (290, 170) -> (300, 170) on edge 7-11, snap 10: node 7 at 80, node 11 at 40
#   o3 (140, 110) -> (140, 100) on edge 5-6, snap 10: node 5 at 50, node 6 at 70
#   f1 (205, 5): 5 m from edge 2-3 and from edge 2-6, a tie broken by the smaller edge
#      index (2-3): enters at (205, 0): node 2 at 10, node 3 at 100
#   f2 (0, 190): on edge 4-8 itself (snap 0): node 4 at 90, node 8 at 10
#   park: its west side x = 310 enters the street x = 300 every 25 m at snap 10
# Kindergarten: node distances d(0) = 190 (via 4), d(4) = 90, d(5) = 190, d(6) = 110,
#   d(7) = 200, d(11) = 300: o1 = min(190 + 30, 90 + 90) = 180 (= the walk up the street
#   x = 0: 10 + 170), o2 = min(200 + 80, 300 + 40) = 280, o3 = min(190 + 50, 110 + 70) = 180.
# Park: d(0) = d(4) = 310, d(5) = 210, d(6) = 110: o1 = min(310 + 30, 310 + 90) = 340
#   (longer than the node rule's 332.4: the edge rule walks from (0, 20) to node 0);
#   o2 shares edge 7-11 with the park's access point entering at (300, 175): directly
#   10 + 5 + 10 = 25; o3 = min(210 + 50, 110 + 70) = 180.
EDGE_KG = [180.0, 280.0, 180.0]
EDGE_PARK = [340.0, 25.0, 180.0]


def test_compute_access_edge_rule_matches_hand_computed_distances(access_case, small_standard):
    g, origins, facilities = access_case
    table, fac_snap = lifecircle.compute_access(g, origins, facilities, small_standard)
    assert_allclose(table["snap_m"].iloc[:3], [10.0, 10.0, 10.0], atol=1e-9)
    assert_array_equal(table["node"].iloc[:3], [0, 11, 5])  # the nearer end of the edge
    edge = table["edge"].to_numpy()[:3]
    assert_array_equal(np.column_stack([g.edge_u[edge], g.edge_v[edge]]), [[0, 4], [7, 11], [5, 6]])
    assert_allclose(table["dist_kindergarten_m"], [*EDGE_KG, NAN], atol=1e-9)
    assert_allclose(table["dist_park_m"], [*EDGE_PARK, NAN], atol=1e-9)
    assert_allclose(table["time_park_min"], np.array([*EDGE_PARK, NAN]) / 60.0)
    assert table.filter(like="dist_").iloc[3].isna().all()
    assert table["dist_clinic_m"].isna().all()
    assert_allclose(fac_snap, [5.0, 0.0, 10.0, NAN], atol=1e-9)
    # beyond max_snap_m = 8: the park (10 m) and every origin (10 m) are out
    table, fac_snap = lifecircle.compute_access(
        g, origins, facilities, small_standard, max_snap_m=8.0
    )
    assert table.filter(like="dist_").isna().all().all()
    assert_allclose(fac_snap, [5.0, 0.0, NAN, NAN], atol=1e-9)


def test_unknown_snap_rule_is_a_config_error(access_case, small_standard):
    g, origins, facilities = access_case
    with pytest.raises(lifecircle.errors.ConfigError, match="snap rule"):
        lifecircle.compute_access(g, origins, facilities, small_standard, snap="street")


def test_polygon_facility_is_reached_at_its_edge_not_its_centroid(access_case, small_standard):
    g, origins, facilities = access_case
    table, _ = node_access(g, origins, facilities, small_standard, categories=["park"])
    got = table["dist_park_m"].to_numpy()[:3]
    assert_allclose(got, EXPECTED_PARK, atol=0.01)
    # the centroid convention would give a clearly different (longer) answer
    assert (np.asarray(CENTROID_PARK) - got > 99).all()
    # the access points: every vertex plus points every 25 m along the 800 m boundary
    pos, xy = access_points(facilities.loc[[12]])
    assert (pos == 0).all()
    assert len(np.unique(xy, axis=0)) == 32
    pts = snap_facilities(g, facilities.loc[[12]], rule="node")
    best = pd.Series(pts.snap_m).groupby(pts.node).min()
    assert best.loc[[3, 7, 11]].tolist() == pytest.approx([10.0, 10.0, 10.0])


def test_speed_profile_and_cutoff(access_case, small_standard):
    g, origins, facilities = access_case
    # slow: 0.5 m/s = 30 m/min; cut-off = largest threshold (10 min) = 300 m
    table, _ = node_access(
        g, origins, facilities, small_standard, profile="slow", categories=["kindergarten", "park"]
    )
    assert_allclose(
        table["dist_kindergarten_m"].iloc[:3], [EXPECTED_KG[0], NAN, EXPECTED_KG[2]], atol=0.01
    )
    assert_allclose(
        table["dist_park_m"].iloc[:3], [NAN, EXPECTED_PARK[1], EXPECTED_PARK[2]], atol=0.01
    )
    assert table["time_kindergarten_min"].iloc[0] == pytest.approx(EXPECTED_KG[0] / 30.0)
    # explicit cut-off in minutes (at 1.0 m/s): 4 min = 240 m
    table, _ = node_access(
        g, origins, facilities, small_standard, categories=["kindergarten"], cutoff_min=4
    )
    assert_allclose(table["dist_kindergarten_m"].iloc[:3], [EXPECTED_KG[0], NAN, NAN], atol=0.01)


def test_time_uses_the_profile_speed_of_the_gb_standard(access_case, gb_standard):
    g, origins, facilities = access_case
    for pid, speed in [("adult", 1.2), ("elderly", 0.91)]:
        table, _ = node_access(
            g,
            origins,
            facilities,
            gb_standard,
            profile=pid,
            categories=["kindergarten"],
            cutoff_min=30,
        )
        assert_allclose(table["dist_kindergarten_m"].iloc[:3], EXPECTED_KG, atol=0.01)
        assert_allclose(
            table["time_kindergarten_min"].iloc[:3],
            np.array(EXPECTED_KG) / (speed * 60.0),
            rtol=1e-9,
        )


def test_max_snap_m_excludes_far_facilities_and_origins(access_case, small_standard):
    g, origins, facilities = access_case
    # max_snap_m 8 m: f1 (7.07 m) stays, f2 and the park (10 m) go; o1..o3 (> 22 m) are too
    # far: they keep their row and population but reach nothing
    table, fac_snap = node_access(g, origins, facilities, small_standard, max_snap_m=8.0)
    assert len(table) == 4
    assert table["population"].sum() == 100.0
    assert table.filter(like="dist_").isna().all().all()
    assert_allclose(fac_snap, [F1, NAN, NAN, NAN])
    # origins on the nodes themselves (snap 0) keep working
    on_node = utm_points([(0, 0), (300, 200)], origin_id=[1, 2], population=[1.0, 1.0])
    table, _ = node_access(
        g, on_node, facilities, small_standard, max_snap_m=8.0, categories=["kindergarten", "park"]
    )
    assert_allclose(table["snap_m"], [0.0, 0.0])
    assert_allclose(table["dist_kindergarten_m"], [200 + F1, 300 + F1])
    assert table["dist_park_m"].isna().all()


def test_origins_and_facilities_in_wgs84_are_projected(access_case, small_standard):
    g, origins, facilities = access_case
    table, _ = node_access(
        g,
        origins.to_crs("EPSG:4326"),
        facilities.to_crs("EPSG:4326"),
        small_standard,
        categories=["kindergarten", "park"],
    )
    assert_allclose(table["dist_kindergarten_m"].iloc[:3], EXPECTED_KG, atol=0.01)
    # the round trip through degrees makes the park's sides a hair longer than 200 m, so
    # segmentize splits them into 9 pieces of 22.2 m instead of 8 of 25 m: an access point
    # lands within 12.5 m of (310, 100), i.e. at most sqrt(10^2 + 12.5^2) m from node 7
    park = table["dist_park_m"].to_numpy()[:3]
    assert (park >= np.array(EXPECTED_PARK) - 0.01).all()
    assert (park <= np.array(EXPECTED_PARK) - 10 + np.hypot(10, 12.5) + 0.01).all()


# --------------------------------------------------------------------------- property test

_PROP_GRAPH = grid(4, 4)
_PROP_ORIGINS = utm_points(
    [(10, 20), (290, 170), (140, 110), (55, 260), (330, 330)],
    origin_id=[1, 2, 3, 4, 5],
    population=[1.0] * 5,
)
_coord = st.floats(min_value=-60, max_value=360, allow_nan=False, allow_infinity=False)
_point = st.tuples(_coord, _coord)


def _facilities(points, boxes=()):
    geoms = [shapely.Point(X0 + x, Y0 + y) for x, y in points]
    geoms += [utm_box(x, y, x + w, y + w) for x, y, w in boxes]
    return gpd.GeoDataFrame({"category": ["kindergarten"] * len(geoms)}, geometry=geoms, crs=UTM)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    existing=st.lists(_point, min_size=0, max_size=4),
    extra=_point,
    extra_box=st.one_of(
        st.none(), st.tuples(_coord, _coord, st.floats(min_value=5, max_value=120))
    ),
)
def test_adding_a_facility_never_hurts(small_standard, existing, extra, extra_box):
    before_fac = _facilities(existing)
    after_fac = _facilities([*existing, extra], [extra_box] if extra_box else [])
    kwargs = {"categories": ["kindergarten"], "cutoff_min": 8}
    before, _ = node_access(_PROP_GRAPH, _PROP_ORIGINS, before_fac, small_standard, **kwargs)
    after, _ = node_access(_PROP_GRAPH, _PROP_ORIGINS, after_fac, small_standard, **kwargs)
    b = as_nan_inf(before["dist_kindergarten_m"])
    a = as_nan_inf(after["dist_kindergarten_m"])
    assert (a <= b + 1e-9).all()
    covered_before = (before["time_kindergarten_min"] <= 5).to_numpy()
    covered_after = (after["time_kindergarten_min"] <= 5).to_numpy()
    assert (covered_after | ~covered_before).all()
    assert covered_after.sum() >= covered_before.sum()
    # the added point's own convention value bounds the new distance
    node, snap = _PROP_GRAPH.nearest_nodes(np.array([X0 + extra[0]]), np.array([Y0 + extra[1]]))
    via_extra = nearest_distance(_PROP_GRAPH, node, snap)[after["node"].to_numpy()]
    bound = via_extra + after["snap_m"].to_numpy()
    assert (a <= np.where(bound <= 480, bound, np.inf) + 1e-9).all()


# --------------------------------------------------------------------------- the real sample


def _nx_distances(G: nx.Graph, nodes: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Multi-source Dijkstra in networkx from a virtual super-source with offset edges."""
    H = G.copy()
    best: dict[int, float] = {}
    for n, o in zip(nodes.tolist(), offsets.tolist(), strict=True):
        best[n] = min(o, best.get(n, np.inf))
    H.add_node("super")
    H.add_weighted_edges_from(((("super", n, o)) for n, o in best.items()), weight="length")
    lengths = nx.multi_source_dijkstra_path_length(H, {"super"}, weight="length")
    out = np.full(G.number_of_nodes(), np.nan)
    for n, d in lengths.items():
        if n != "super":
            out[n] = d
    return out


def test_nearest_distance_agrees_with_networkx_on_the_sample(sample_graph):
    g = sample_graph
    rng = np.random.default_rng(20240519)
    nodes = rng.choice(g.n_nodes, size=20, replace=False)
    offsets = rng.uniform(0.0, 150.0, size=20)
    ours = nearest_distance(g, nodes, offsets)
    theirs = _nx_distances(g.to_networkx(), nodes, offsets)
    assert not np.isnan(theirs).any()  # one connected component
    assert_allclose(ours, theirs, rtol=0, atol=1e-6)
    # with a cut-off, exactly the nodes beyond it are NaN
    cut = nearest_distance(g, nodes, offsets, cutoff_m=800.0)
    assert_array_equal(np.isnan(cut), theirs > 800.0)
    assert_allclose(cut[theirs <= 800.0], theirs[theirs <= 800.0], atol=1e-6)


@pytest.mark.parametrize("category", ["kindergarten", "park"])
def test_sample_access_table_is_reproduced_with_networkx(
    sample_out, sample_graph, sample_result, category
):
    """access.parquet of the sample (edge rule) against networkx on the graph with its edges
    split at the snap points (tests/test_snap.py: ``reference``)."""
    from .test_snap import reference

    g = sample_graph
    access = gpd.read_parquet(sample_out / "access.parquet")
    facilities = gpd.read_file(sample_out / "facilities.gpkg", layer="facilities")
    fac = facilities[facilities["category"] == category].to_crs(g.crs)
    assert len(fac) > 10
    if category == "park":
        assert fac.geom_type.isin(["Polygon", "MultiPolygon"]).any()
    _, sxy = access_points(fac)
    cutoff = 15 * 1.2 * 60  # largest threshold of the audit at adult speed: 1080 m
    rng = np.random.default_rng(7)
    rows = access.iloc[rng.choice(len(access), size=12, replace=False)]
    oxy = shapely.get_coordinates(rows.to_crs(g.crs).geometry.to_numpy())
    want = reference(g, oxy, sxy)
    got = rows[f"dist_{category}_m"].to_numpy()
    checked = 0
    for expected, d, t in zip(want, got, rows[f"time_{category}_min"], strict=True):
        if abs(expected - cutoff) < 0.5:
            continue  # too close to the cut-off to say
        if expected > cutoff:
            assert np.isnan(d)
        else:
            assert d == pytest.approx(expected, abs=0.5)
            # each category walks at its cohort's speed (kindergarten: the child's)
            speed = sample_result.profile_of(category).speed_m_min
            assert t == pytest.approx(expected / speed, abs=0.01)
            checked += 1
    assert checked >= 6
