"""Nearest and second-nearest distinct facility from two searches, against every pair."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from lifecircle._nearest_two import nearest_two
from lifecircle._site_distances import site_distances
from lifecircle.access import snap_facilities
from lifecircle.demand import choice
from lifecircle.network import graph_from_edges
from lifecircle.snap import snap_points

from .conftest import UTM, X0, Y0
from .test_snap import _irregular


def _check(graph, sources, group, targets, radius, n_groups):
    got = nearest_two(graph, sources, group, targets, radius_m=radius, n_groups=n_groups)
    full = site_distances(graph, sources, group, targets, radius_m=radius, n_groups=n_groups)
    want = choice(full, radius)
    assert_allclose(got.nearest_m, want.nearest_m, atol=1e-6, equal_nan=True)
    assert_allclose(got.second_m, want.second_m, atol=1e-6, equal_nan=True)
    dense = full.toarray()
    for ids, metres in ((got.nearest, got.nearest_m), (got.second, got.second_m)):
        has = ids >= 0
        assert_array_equal(has, np.isfinite(metres))
        # the group named is one at that walk
        assert_allclose(dense[np.flatnonzero(has), ids[has]], metres[has], atol=1e-6)
    assert np.all(got.nearest[got.second >= 0] != got.second[got.second >= 0])


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    origins=st.lists(
        st.tuples(st.integers(-50, 450), st.integers(-50, 450)), min_size=1, max_size=12
    ),
    boxes=st.lists(
        st.tuples(st.integers(-40, 380), st.integers(-40, 380), st.integers(0, 120)),
        min_size=1,
        max_size=6,
    ),
    radius=st.sampled_from([80.0, 150.0, 400.0, 2000.0]),
    rule=st.sampled_from(["edge", "node"]),
)
def test_two_searches_equal_the_two_smallest_of_every_pair(origins, boxes, radius, rule):
    """Parks (many access points) and points (width 0), sharing edges with residents."""
    g = _irregular()
    geoms = [
        shapely.Point(X0 + x, Y0 + y)
        if w == 0
        else shapely.box(X0 + x, Y0 + y, X0 + x + w, Y0 + y + w / 2)
        for x, y, w in boxes
    ]
    fac = gpd.GeoDataFrame({"category": ["park"] * len(geoms)}, geometry=geoms, crs=UTM)
    pts = snap_facilities(g, fac, rule=rule, max_snap_m=500.0, spacing_m=30.0)
    oxy = np.array(origins, float)
    o = snap_points(g, X0 + oxy[:, 0], Y0 + oxy[:, 1], rule=rule, max_snap_m=500.0)
    _check(g, pts.snapped, pts.facility, o, radius, len(fac))


def test_line_by_hand():
    """Nodes 0..6 100 m apart; facilities A at node 1, B at node 2, C at 45 m along 5-6.

    Residents at nodes 0, 3 and 6 (node rule) and at 50 m along 5-6 (edge rule: the
    direct walk to C is 5 m).
    """
    xs = np.arange(7) * 100.0
    g = graph_from_edges(
        np.arange(7), X0 + xs, np.full(7, Y0), np.arange(6), np.arange(1, 7), crs=UTM
    )
    fx = np.array([100.0, 200.0, 545.0])
    for rule in ("node", "edge"):
        f = snap_points(g, X0 + fx, np.full(3, Y0), rule=rule, max_snap_m=50.0)
        ox = np.array([0.0, 300.0, 600.0, 550.0])
        o = snap_points(g, X0 + ox, np.full(4, Y0), rule=rule, max_snap_m=50.0)
        got = nearest_two(g, f, np.arange(3), o, radius_m=1000.0, n_groups=3)
        if rule == "edge":
            assert got.nearest.tolist() == [0, 1, 2, 2]
            assert_allclose(got.nearest_m, [100.0, 100.0, 55.0, 5.0])
            assert got.second.tolist() == [1, 0, 1, 1]
            assert_allclose(got.second_m, [200.0, 200.0, 400.0, 350.0])
        _check(g, f, np.arange(3), o, 1000.0, 3)
        _check(g, f, np.arange(3), o, 150.0, 3)
