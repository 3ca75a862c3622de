"""The one snap rule (lifecircle.snap): hand-made graphs computed on paper, and an
independent networkx computation on graphs whose edges are split at the snap points.

Edge rule: a point enters at the nearest point p of the nearest edge (u, v), at its
straight-line distance snap; it reaches u in snap + along and v in snap + (L - along);
two points on one edge reach each other directly, snap_a + |along_a - along_b| + snap_b.
"""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import lifecircle
from lifecircle.access import (
    access_distance,
    access_points,
    node_distances_from,
    site_distances,
    snap_facilities,
)
from lifecircle.errors import ConfigError
from lifecircle.network import graph_from_edges
from lifecircle.snap import nearest_edges, snap_points

from .conftest import UTM, X0, Y0, grid, utm_box, utm_points

NAN = np.nan

# --------------------------------------------------------------------------- hand-made graph
#
#   C (1000, 100)
#   |
#   A (0, 0) ------------------ 1000 m ------------------ B (1000, 0) ------ E (1300, 0)
#                                                          |
#                                                          D (1000, -300)  (dead end)
#
# Nodes A=0, B=1, C=2, D=3, E=4. Edges (sorted): A-B 0, B-C 1, B-D 2, B-E 3.


def tee() -> lifecircle.WalkGraph:
    xy = np.array([(0, 0), (1000, 0), (1000, 100), (1000, -300), (1300, 0)], float)
    return graph_from_edges(
        np.arange(5),
        X0 + xy[:, 0],
        Y0 + xy[:, 1],
        np.array([0, 1, 1, 1]),
        np.array([1, 2, 3, 4]),
        crs=UTM,
    )


def snap_xy(g, xy, **kwargs):
    xy = np.asarray(xy, float)
    return snap_points(g, X0 + xy[:, 0], Y0 + xy[:, 1], **kwargs)


def facilities(geoms, category="kindergarten"):
    return gpd.GeoDataFrame({"category": [category] * len(geoms)}, geometry=geoms, crs=UTM)


def pt(x, y):
    return shapely.Point(X0 + x, Y0 + y)


def test_a_point_in_the_middle_of_a_long_edge():
    g = tee()
    s = snap_xy(g, [(400, 20)])
    # enters at (400, 0) on A-B: 20 m, then 400 m to A and 600 m to B
    assert s.edge.tolist() == [0]
    assert_allclose(
        [s.snap_m[0], s.along_m[0], s.offset_u_m[0], s.offset_v_m[0]], [20, 400, 420, 620]
    )
    assert_allclose([s.x[0] - X0, s.y[0] - Y0], [400, 0])
    assert s.node.tolist() == [0]  # the nearer end
    point, node, offset = s.entries()
    assert point.tolist() == [0, 0] and node.tolist() == [0, 1]
    assert_allclose(offset, [420, 620])
    # to a kindergarten 10 m east of C: 20 + 600 + 100 + 10 = 730; the node rule walks
    # from A (400.5 m away): 400.5 + 1000 + 100 + 10
    origins = utm_points([(400, 20)], origin_id=[1], population=[1.0])
    fac = facilities([pt(1010, 100)])
    std = lifecircle.load_standard("gb50180-2018")
    edge, _ = lifecircle.compute_access(
        g, origins, fac, std, categories=["kindergarten"], cutoff_min=60
    )
    node, _ = lifecircle.compute_access(
        g, origins, fac, std, categories=["kindergarten"], cutoff_min=60, snap="node"
    )
    assert edge["dist_kindergarten_m"].iloc[0] == pytest.approx(730.0, abs=1e-9)
    assert node["dist_kindergarten_m"].iloc[0] == pytest.approx(np.hypot(400, 20) + 1110)


def test_two_points_on_the_same_edge_walk_directly():
    g = tee()
    o = snap_xy(g, [(400, 20)])
    f = snap_xy(g, [(450, -10)])
    # directly along A-B: 20 + 50 + 10 = 80 (via A: 20 + 400 + 450 + 10 = 880)
    assert_allclose(access_distance(g, o, f), [80.0])
    assert_allclose(access_distance(g, f, o), [80.0])  # symmetric
    # the optimizer's matrix agrees, with several sources of one group and a far target
    targets = snap_xy(g, [(400, 20), (450, 900)])
    sources = snap_xy(g, [(450, -10), (1000, 50)])
    m = site_distances(g, sources, np.array([0, 0]), targets, radius_m=1000.0).toarray()
    assert_allclose(m, [[80.0], [0.0]])  # (450, 900) is 900 m off: beyond max_snap_m
    # the node rule has no direct walk: via the nearest nodes A and A
    on = snap_xy(g, [(400, 20)], rule="node")
    fn = snap_xy(g, [(450, -10)], rule="node")
    assert_allclose(access_distance(g, on, fn), [np.hypot(400, 20) + np.hypot(450, 10)])


def test_a_polygon_along_an_edge_is_reached_at_its_nearest_boundary_point():
    g = tee()
    park = facilities([utm_box(300, 5, 700, 45)], "park")
    pts = snap_facilities(g, park)
    # every access point enters A-B (y = 0); the 17 of the south side (every 25 m from
    # x = 300 to 700, the ring's first vertex repeated at its end: 18) 5 m away, those of
    # the north side 45 m away
    assert np.allclose(pts.snapped.y - Y0, 0.0) and (pts.snapped.edge == 0).all()
    assert np.isclose(pts.snap_m, 5.0).sum() == 18
    assert_allclose(np.unique(pts.snap_m), [5.0, 25.0, 45.0])
    o = snap_xy(g, [(100, -20), (500, -30), (1000, 80)])
    # (100, -20): 20 + 200 to (300, 0) + 5 = 225; (500, -30): under the park, 30 + 0 + 5;
    # (1000, 80) on B-C: 20 m up to B... 80 - 0 = 80 to B, 300 along A-B to (700, 0), + 5
    assert_allclose(access_distance(g, o, pts.snapped), [225.0, 35.0, 385.0])


def test_a_dead_end_and_a_point_on_a_node():
    g = tee()
    fac = snap_xy(g, [(900, 10)])  # enters A-B at (900, 0): B at 110
    o = snap_xy(g, [(1000, -320), (1000, 0), (1100, -100)])
    # beyond the dead end D: enters at D (snap 20), 300 up to B, 100 + 10: 430
    # exactly on B: snap 0 (a tie of four edges, the smallest index A-B): 110
    # (1100, -100): 100 m from B-D and from B-E: the tie goes to B-D (index 2):
    #   100 + 100 up to B + 110 = 310 (the same via B-E: 100 + 100 + 110)
    assert_allclose(o.snap_m, [20.0, 0.0, 100.0])
    assert o.edge.tolist() == [2, 0, 2]
    assert_allclose(access_distance(g, o, fac), [430.0, 110.0, 310.0])
    # the node rule: the kindergarten enters at B itself, 100.5 m away
    assert_allclose(
        access_distance(
            g, snap_xy(g, [(1000, 0)], rule="node"), snap_xy(g, [(900, 10)], rule="node")
        ),
        [np.hypot(100, 10)],
    )


def test_a_point_equidistant_to_two_edges_takes_the_smaller_edge_index():
    g = grid(3, 3)  # node r*3 + c at (100c, 100r)
    s = snap_xy(g, [(50, 50), (150, 150), (100, 100), (200, 50)])
    # (50, 50): 50 m from the four sides of its block; the smallest edge is 0-1 (y = 0)
    u, v = g.edge_u[s.edge], g.edge_v[s.edge]
    assert np.column_stack([u, v]).tolist() == [[0, 1], [4, 5], [1, 4], [2, 5]]
    assert_allclose(s.snap_m, [50, 50, 0, 0])
    assert_allclose(s.x - X0, [50, 150, 100, 200])
    assert_allclose(s.y - Y0, [0, 100, 100, 50])


def test_points_beyond_max_snap_m_reach_nothing_and_are_not_used():
    g = tee()
    o = snap_xy(g, [(400, 20), (400, 600)], max_snap_m=500.0)
    assert o.reachable.tolist() == [True, False]
    assert len(o.entries()[0]) == 2  # only the first point enters
    near_and_far = snap_xy(g, [(450, -10), (450, -700)], max_snap_m=500.0)
    assert_allclose(access_distance(g, o, near_and_far), [80.0, NAN])
    far_only = snap_xy(g, [(450, -700)], max_snap_m=500.0)
    assert np.isnan(access_distance(g, o, far_only)).all()
    # snap_m is still measured for far points (reported, counted in warnings)
    assert o.snap_m[1] == pytest.approx(600.0)


def test_cutoff_and_unknown_rule():
    g = tee()
    o = snap_xy(g, [(400, 20)])
    f = snap_xy(g, [(450, -10)])
    assert_allclose(access_distance(g, o, f, cutoff_m=80.0), [80.0])
    assert np.isnan(access_distance(g, o, f, cutoff_m=79.9)).all()
    with pytest.raises(ConfigError, match="unknown snap rule"):
        snap_xy(g, [(0, 0)], rule="nearest")


def test_node_distances_for_the_map_follow_the_rule():
    g = tee()
    fac = facilities([pt(900, 10)])
    # edge rule: (900, 0) is 10 m off, 100 from B, 900 from A
    assert_allclose(node_distances_from(g, fac), [910, 110, 210, 410, 410])
    # node rule: B itself, 100.5 m away
    d = np.hypot(100, 10)
    assert_allclose(
        node_distances_from(g, fac, rule="node"), [d + 1000, d, d + 100, d + 300, d + 300]
    )
    assert_allclose(node_distances_from(g, fac, cutoff_m=200), [NAN, 110, NAN, NAN, NAN])
    assert np.isnan(node_distances_from(g, fac.iloc[:0])).all()


def test_nearest_edge_is_exact_against_brute_force():
    rng = np.random.default_rng(5)
    # an irregular graph: random nodes, edges of very different lengths
    n = 60
    xy = rng.uniform(0, 2000, (n, 2))
    u = np.concatenate([np.arange(n - 1), rng.integers(0, n, 40)])
    v = np.concatenate([np.arange(1, n), rng.integers(0, n, 40)])
    g = graph_from_edges(np.arange(n), X0 + xy[:, 0], Y0 + xy[:, 1], u, v, crs=UTM)
    px = X0 + rng.uniform(-3000, 5000, 3000)
    py = Y0 + rng.uniform(-3000, 5000, 3000)
    got = nearest_edges(g, px, py)
    lines = shapely.linestrings(
        np.stack(
            [
                np.column_stack([g.x[g.edge_u], g.y[g.edge_u]]),
                np.column_stack([g.x[g.edge_v], g.y[g.edge_v]]),
            ],
            axis=1,
        )
    )
    dist = shapely.distance(shapely.points(px, py)[:, None], lines[None, :])
    best = dist.min(axis=1)
    assert_allclose(dist[np.arange(len(px)), got], best, rtol=0, atol=1e-9)
    s = snap_points(g, px, py, max_snap_m=300.0)
    near = best <= 300.0
    assert 100 < near.sum() < len(px)
    assert_allclose(s.snap_m[near], best[near], rtol=0, atol=1e-9)
    assert_array_equal(s.reachable, near)
    # beyond max_snap_m the search may stop early: an upper bound within one edge piece
    assert (s.snap_m[~near] >= best[~near] - 1e-9).all()
    assert (s.snap_m[~near] <= best[~near] + 2 * g.edge_index.half_m).all()


# --------------------------------------------------------------------------- networkx reference


def reference(g, origins_xy, sources_xy, *, max_snap_m=500.0, cutoff_m=np.inf):
    """Distance from each origin to the nearest source, computed independently: each point
    is projected with shapely onto its nearest edge (ties: the smallest edge index), the
    edges are split at the projections, each point joins its projection by an edge of its
    snap distance, and networkx runs a multi-source Dijkstra."""
    lines = shapely.linestrings(
        np.stack(
            [
                np.column_stack([g.x[g.edge_u], g.y[g.edge_u]]),
                np.column_stack([g.x[g.edge_v], g.y[g.edge_v]]),
            ],
            axis=1,
        )
    )
    pts_xy = np.concatenate([origins_xy, sources_xy])
    pts = shapely.points(pts_xy)
    dist = shapely.distance(pts[:, None], lines[None, :])
    best = dist.min(axis=1)
    edge = np.argmax(dist == best[:, None], axis=1)  # the first (smallest index) of ties
    frac = shapely.line_locate_point(lines[edge], pts, normalized=True)
    G = g.to_networkx()
    for e in np.unique(edge):
        on = np.flatnonzero(edge == e)
        u, v, length = int(g.edge_u[e]), int(g.edge_v[e]), float(g.edge_length[e])
        order = on[np.argsort(frac[on], kind="stable")]
        G.remove_edge(u, v)
        chain = [u, *[("p", int(i)) for i in order], v]
        pos = [0.0, *(frac[order] * length).tolist(), length]
        for a, b, pa, pb in zip(chain[:-1], chain[1:], pos[:-1], pos[1:], strict=True):
            G.add_edge(a, b, length=pb - pa)
    for i in range(len(pts_xy)):
        G.add_edge(("x", i), ("p", i), length=float(best[i]))
    n_o = len(origins_xy)
    sources = [("x", n_o + j) for j in range(len(sources_xy)) if best[n_o + j] <= max_snap_m]
    out = np.full(n_o, np.nan)
    if not sources:
        return out
    lengths = nx.multi_source_dijkstra_path_length(G, sources, weight="length")
    for i in range(n_o):
        d = lengths.get(("x", i), np.inf)
        if best[i] <= max_snap_m and d <= cutoff_m:
            out[i] = d
    return out


def _irregular() -> lifecircle.WalkGraph:
    """A 4 x 4 grid of 100 m blocks, a long diagonal, a dead end and a detour."""
    xy = [(100 * c, 100 * r) for r in range(4) for c in range(4)]
    xy += [(450, 330), (130, 420), (-80, -40)]  # 16, 17, 18
    u = [r * 4 + c for r in range(4) for c in range(3)] + [
        r * 4 + c for r in range(3) for c in range(4)
    ]
    v = [r * 4 + c + 1 for r in range(4) for c in range(3)] + [
        (r + 1) * 4 + c for r in range(3) for c in range(4)
    ]
    u += [0, 15, 13, 0]
    v += [15, 16, 17, 18]
    xy = np.array(xy, float)
    return graph_from_edges(
        np.arange(len(xy)), X0 + xy[:, 0], Y0 + xy[:, 1], np.array(u), np.array(v), crs=UTM
    )


_IRREGULAR = _irregular()
_coord = st.integers(min_value=-300, max_value=1000).map(lambda k: k / 2)  # 0.5 m lattice
_point = st.tuples(_coord, _coord)


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    origins=st.lists(_point, min_size=1, max_size=8),
    sources=st.lists(_point, min_size=1, max_size=5),
    max_snap=st.sampled_from([60.0, 500.0]),
)
def test_edge_rule_equals_networkx_with_split_edges(origins, sources, max_snap):
    g = _IRREGULAR
    oxy = np.array(origins) + np.array([X0, Y0])
    sxy = np.array(sources) + np.array([X0, Y0])
    o = snap_points(g, oxy[:, 0], oxy[:, 1], max_snap_m=max_snap)
    s = snap_points(g, sxy[:, 0], sxy[:, 1], max_snap_m=max_snap)
    got = access_distance(g, o, s)
    want = reference(g, oxy, sxy, max_snap_m=max_snap)
    assert_array_equal(np.isnan(got), np.isnan(want))
    assert_allclose(got, want, rtol=0, atol=1e-6)
    # the optimizer's matrix: one column per source
    m = site_distances(g, s, np.arange(len(s)), o, radius_m=5000.0).toarray()
    m[m == 0] = np.inf
    best = m.min(axis=1)
    assert_allclose(np.where(np.isinf(best), np.nan, best), want, rtol=0, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("category", ["kindergarten", "park"])
def test_sample_access_table_equals_networkx_with_split_edges(sample_result, category):
    """The audit of the bundled sample (edge rule) against the independent reference, on
    residents drawn at random; facilities' access points as the audit makes them."""
    r = sample_result
    g = r.graph
    assert r.summary.to_json()["settings"]["snap"] == "edge"
    fac = r.facilities[r.facilities["category"] == category].to_crs(g.crs)
    assert len(fac) > 10
    _, sxy = access_points(fac)
    rng = np.random.default_rng(11)
    rows = r.access.iloc[rng.choice(len(r.access), size=40, replace=False)]
    oxy = shapely.get_coordinates(rows.to_crs(g.crs).geometry.to_numpy())
    cutoff = 15 * 1.2 * 60  # the audit's search cut-off at adult speed: 1080 m
    want = reference(g, oxy, sxy, cutoff_m=cutoff)
    got = rows[f"dist_{category}_m"].to_numpy()
    near_cut = np.abs(np.nan_to_num(want, nan=np.inf) - cutoff) < 0.5
    assert_array_equal(np.isnan(got)[~near_cut], np.isnan(want)[~near_cut])
    ok = ~np.isnan(want) & ~near_cut
    assert ok.sum() >= 10
    assert_allclose(got[ok], want[ok], rtol=0, atol=0.5)
    assert np.abs(got[ok] - want[ok]).max() < 1e-6  # in fact to rounding


def _snapped_on_edges(edges, reachable, seed):
    from lifecircle.snap import Snapped

    rng = np.random.default_rng(seed)
    e = np.asarray(edges, np.int64)
    n = len(e)
    zero = np.zeros(n)
    return Snapped(
        "edge",
        rng.uniform(0, 30, n),
        e,
        np.maximum(e, 0),
        np.maximum(e, 0),
        zero,
        zero,
        rng.uniform(0, 100, n),
        zero,
        zero,
        np.asarray(reachable, bool),
    )


@settings(max_examples=200, deadline=None)
@given(
    a=st.lists(st.tuples(st.integers(-1, 6), st.booleans()), max_size=25),
    b=st.lists(st.tuples(st.integers(-1, 6), st.booleans()), max_size=8),
    seed=st.integers(0, 1000),
)
def test_same_edge_pairs_equal_every_pair_checked(a, b, seed):
    from lifecircle.snap import same_edge_pairs

    pa_ = _snapped_on_edges([e for e, _ in a], [r for _, r in a], seed)
    pb_ = _snapped_on_edges([e for e, _ in b], [r for _, r in b], seed + 1)
    ia, ib, dist = same_edge_pairs(pa_, pb_)
    expect = [
        (i, j, pa_.snap_m[i] + abs(pa_.along_m[i] - pb_.along_m[j]) + pb_.snap_m[j])
        for i in range(len(a))
        for j in sorted(range(len(b)), key=lambda j: b[j][0])  # by edge, stable
        if a[i][1] and b[j][1] and a[i][0] >= 0 and a[i][0] == b[j][0]
    ]
    assert list(zip(ia.tolist(), ib.tolist(), strict=True)) == [(i, j) for i, j, _ in expect]
    assert_allclose(dist, [d for _, _, d in expect], rtol=0, atol=0)
