"""The two-label search on the contracted graph equals the one on the full graph.

`_node_labels` runs on the key nodes and fills the chain interiors when the graph has
its chains contracted; `_full_labels` searches the whole graph. Both are checked
against a brute force (one Dijkstra per source node) and against each other: walks
within 1e-9 m, groups the same wherever only one group is at that walk.
"""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse.csgraph import dijkstra

import lifecircle
from lifecircle._nearest_two import _full_labels, _node_labels, nearest_two
from lifecircle.snap import snap_points

from .conftest import UTM, X0, Y0
from .test_contraction import chain_graphs, eighths, force_contraction, graph
from .test_nearest_two import _check

INF = np.inf
TOL = 1e-9


def brute(g, s_node, s_off, s_grp, limit):
    """Walk from every group to every node (inf: beyond ``limit``), shape ``(n, groups)``."""
    s_node, s_off, s_grp = np.asarray(s_node), np.asarray(s_off, float), np.asarray(s_grp)
    nodes, at = np.unique(s_node, return_inverse=True)
    dist = dijkstra(g.adjacency, directed=True, indices=nodes)  # (distinct sources, n)
    out = np.full((g.n_nodes, int(s_grp.max()) + 1), INF)
    for e in range(len(s_node)):  # a few sources: the reference may loop
        out[:, s_grp[e]] = np.minimum(out[:, s_grp[e]], s_off[e] + dist[at[e]])
    out[out > limit] = INF
    return out


def assert_labels_exact(labels, walks):
    """``labels`` are the two smallest distinct groups of the brute-force ``walks``."""
    walk, group = labels
    ordered = np.sort(walks, axis=1)
    want = np.full((len(walks), 2), INF)
    want[:, : min(2, walks.shape[1])] = ordered[:, :2]
    assert_allclose(walk, want, rtol=1e-12, atol=TOL)
    assert_array_equal(group >= 0, np.isfinite(walk))
    has = group >= 0
    rows = np.nonzero(has)[0]
    # the group named is one at that walk, and the two are distinct
    assert_allclose(walks[rows, group[has]], walk[has], rtol=1e-12, atol=TOL)
    both = has[:, 1]
    assert np.all(group[both, 0] != group[both, 1])


def assert_same_labels(got, want, walks):
    """Contracted and full labels agree: walks close, groups equal where not tied."""
    assert_allclose(got[0], want[0], rtol=1e-12, atol=TOL)
    near = np.isclose(walks[:, None, :], want[0][:, :, None], rtol=1e-12, atol=TOL)
    tied = (near & np.isfinite(walks[:, None, :])).sum(axis=2) > 1
    # a tie for the nearest also leaves the second open
    tied[:, 1] |= tied[:, 0]
    assert_array_equal(got[1][~tied], want[1][~tied])


def check(g, s_node, s_off, s_grp, limit):
    """Check the contracted labels of ``g`` (which has chains) and return them."""
    assert g.chains is not None
    args = (np.asarray(s_node), np.asarray(s_off, float), np.asarray(s_grp), float(limit))
    got = _node_labels(g, *args)
    want = _full_labels(g, *args)
    walks = brute(g, *args)
    assert_labels_exact(got, walks)
    assert_labels_exact(want, walks)
    assert_same_labels(got, want, walks)
    return got


def pairs(labels):
    """Labels as ``[(walk, group), (walk, group)]`` per node, for hand-computed cases."""
    walk, group = labels
    return [
        [(float(w), int(k)) for w, k in zip(walk[i], group[i], strict=True) if k >= 0]
        for i in range(len(walk))
    ]


# --------------------------------------------------------------------------- by hand

# A path 0 - 1 - 2 - 3 - 4 - 5 with edges 1, 2, 4, 8, 16 m: positions 0, 1, 3, 7, 15, 31.
PATH = [(0, 1, 1.0), (1, 2, 2.0), (2, 3, 4.0), (3, 4, 8.0), (4, 5, 16.0)]
A, B, C = 0, 1, 2


def test_source_inside_a_chain():
    g = graph(6, PATH)
    # A at node 2 (a = 3) + 5: 5 + |a - 3|; B at node 5 + 0: 31 - a
    got = check(g, [2, 5], [5.0, 0.0], [A, B], INF)
    assert pairs(got) == [
        [(8, A), (31, B)],
        [(7, A), (30, B)],
        [(5, A), (28, B)],
        [(9, A), (24, B)],
        [(16, B), (17, A)],
        [(0, B), (33, A)],
    ]


def test_two_sources_of_one_group_count_once():
    g = graph(6, PATH)
    # A at node 1 (+20) and node 3 (+0); B at node 4 (+2). At node 2 both A's beat B.
    got = check(g, [1, 3, 4], [20.0, 0.0, 2.0], [A, A, B], INF)
    assert pairs(got) == [
        [(7, A), (17, B)],
        [(6, A), (16, B)],
        [(4, A), (14, B)],
        [(0, A), (10, B)],
        [(2, B), (8, A)],
        [(18, B), (24, A)],
    ]
    # a third group C at node 2 (+1) comes first at nodes 0 .. 2
    got = check(g, [1, 3, 4, 2], [20.0, 0.0, 2.0, 1.0], [A, A, B, C], INF)
    assert pairs(got)[:3] == [[(4, C), (7, A)], [(3, C), (6, A)], [(1, C), (4, A)]]
    # every source of the chain in one group: no second group anywhere
    got = check(g, [1, 3, 4, 2], [20.0, 0.0, 2.0, 1.0], [A, A, A, A], INF)
    assert (got[1][:, 1] == -1).all()


def test_loop_chain_hanging_off_a_node():
    # stick 0 - 1 - 2, loop 2 - 3 - 4 - 5 - 2 (1, 2, 3, 4 m); node 2 has degree 3
    edges = [(0, 1, 10.0), (1, 2, 10.0), (2, 3, 1.0), (3, 4, 2.0), (4, 5, 3.0), (5, 2, 4.0)]
    g = graph(6, edges)
    c = g.chains
    assert c is not None
    loop = c.node_chain[3]
    assert c.chain_u[loop] == c.chain_v[loop] == 2
    # A on the loop at node 4 (+0), B at node 0 (+0)
    got = check(g, [4, 0], [0.0, 0.0], [A, B], INF)
    assert pairs(got) == [
        [(0, B), (23, A)],
        [(10, B), (13, A)],
        [(3, A), (20, B)],
        [(2, A), (21, B)],
        [(0, A), (23, B)],
        [(3, A), (24, B)],
    ]
    # C also on the loop, at node 5 (+1): node 3 is 6 m from C either way round
    got = check(g, [4, 0, 5], [0.0, 0.0, 1.0], [A, B, C], INF)
    assert pairs(got)[2:] == [
        [(3, A), (5, C)],
        [(2, A), (6, C)],
        [(0, A), (4, C)],
        [(1, C), (3, A)],
    ]
    check(g, [4, 0, 5], [0.0, 0.0, 1.0], [A, B, C], 5.0)


def test_a_short_link_outside_makes_the_way_round_shorter():
    # key nodes 0 and 1 (degree 3) joined by a 1 m link and by a chain 0 - 2 - 3 - 4 - 1
    # (1, 30, 30, 1 m); 5 and 6 hang off 0 and 1
    edges = [(0, 2, 1.0), (2, 3, 30.0), (3, 4, 30.0), (4, 1, 1.0), (0, 1, 1.0)]
    edges += [(0, 5, 1.0), (1, 6, 1.0)]
    g = graph(7, edges)
    assert g.chains is not None
    assert g.chains.key_nodes.tolist() == [0, 1, 5, 6]
    # A at node 2 (+0): node 4 is 3 m away round by the link, 60 m along the chain
    got = check(g, [2, 5], [0.0, 0.5], [A, B], INF)
    assert pairs(got) == [
        [(1, A), (1.5, B)],
        [(2, A), (2.5, B)],
        [(0, A), (2.5, B)],
        [(30, A), (32.5, B)],
        [(3, A), (3.5, B)],
        [(0.5, B), (2, A)],
        [(3, A), (3.5, B)],
    ]


def test_sources_exactly_at_key_nodes():
    g = graph(6, PATH)
    got = check(g, [0, 5], [3.0, 0.0], [A, B], INF)
    assert pairs(got) == [
        [(3, A), (31, B)],
        [(4, A), (30, B)],
        [(6, A), (28, B)],
        [(10, A), (24, B)],
        [(16, B), (18, A)],
        [(0, B), (34, A)],
    ]
    # both groups on one key node, and a repeat with a worse offset
    check(g, [0, 0, 0], [3.0, 2.0, 1.0], [A, B, A], INF)


def test_the_radius_cuts_a_chain():
    g = graph(6, PATH)
    # A at node 2 (+5): 8, 7, 5, 9, 17, 33; B at node 5 (+0): 31, 30, 28, 24, 16, 0
    got = check(g, [2, 5], [5.0, 0.0], [A, B], 12.0)
    assert pairs(got) == [[(8, A)], [(7, A)], [(5, A)], [(9, A)], [], [(0, B)]]
    # a walk of exactly the radius is kept
    got = check(g, [2, 5], [5.0, 0.0], [A, B], 16.0)
    assert pairs(got)[3:] == [[(9, A)], [(16, B)], [(0, B)]]
    # the source's entries at the chain's ends are beyond the radius
    got = check(g, [2, 5], [5.0, 0.0], [A, B], 6.0)
    assert pairs(got) == [[], [], [(5, A)], [], [], [(0, B)]]


def test_a_ring_without_junction():
    # 0 - 1 - 2 - 3 - 4 - 0 (1, 2, 3, 4, 5 m): node 0 is promoted to a key node
    ring = [(0, 1, 1.0), (1, 2, 2.0), (2, 3, 3.0), (3, 4, 4.0), (4, 0, 5.0)]
    g = graph(5, ring)
    got = check(g, [2, 4], [1.0, 0.0], [A, B], INF)
    assert pairs(got) == [
        [(4, A), (5, B)],
        [(3, A), (6, B)],
        [(1, A), (7, B)],
        [(4, A), (4, B)],  # a tie: the lower group first
        [(0, B), (8, A)],
    ]


# --------------------------------------------------------------------------- random graphs


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), spec=chain_graphs())
def test_random_chain_graphs_match_the_full_graph(data, spec):
    n, edges = spec
    used = {p for e in edges for p in e[:2] if e[0] != e[1]}
    if len(used) < 2:
        return  # only self-loops: not a walk graph
    g = force_contraction(graph(n, edges))
    k = data.draw(st.integers(1, 8), label="n_sources")
    node = st.integers(0, g.n_nodes - 1)
    s_node = data.draw(st.lists(node, min_size=k, max_size=k), label="sources")
    s_off = data.draw(
        st.lists(st.sampled_from([0.0, 1.0, 2.5]) | eighths, min_size=k, max_size=k),
        label="offsets",
    )
    s_grp = data.draw(st.lists(st.integers(0, 3), min_size=k, max_size=k), label="groups")
    limit = data.draw(st.sampled_from([INF, 0.0]) | eighths, label="limit")
    check(g, s_node, s_off, s_grp, limit)


def subdivided_grid(rng, rows, cols):
    """A grid of key nodes 60 m apart, some links dropped, each link cut into 0-5 pieces."""
    xy = [(60.0 * c, 60.0 * r) for r in range(rows) for c in range(cols)]
    links = [(r * cols + c, r * cols + c + 1) for r in range(rows) for c in range(cols - 1)]
    links += [(r * cols + c, (r + 1) * cols + c) for r in range(rows - 1) for c in range(cols)]
    edges = []
    for a, b in links:
        if rng.random() < 0.25:
            continue
        k = int(rng.integers(0, 6))
        t = np.sort(rng.uniform(0.05, 0.95, k))
        bend = rng.uniform(-8.0, 8.0, k)  # the way wiggles off the straight line
        (xa, ya), (xb, yb) = xy[a], xy[b]
        path = [a, *range(len(xy), len(xy) + k), b]
        xy += [
            (xa + s * (xb - xa) + w * (yb - ya) / 60.0, ya + s * (yb - ya) - w * (xb - xa) / 60.0)
            for s, w in zip(t, bend, strict=True)
        ]
        edges += list(itertools.pairwise(path))
    u, v = np.array(edges).T
    pts = np.array(xy)
    return lifecircle.graph_from_edges(
        np.arange(len(pts)), X0 + pts[:, 0], Y0 + pts[:, 1], u, v, crs=UTM
    )


def test_random_subdivided_grids_with_float_lengths():
    rng = np.random.default_rng(20260513)
    for _ in range(30):
        g = force_contraction(
            subdivided_grid(rng, int(rng.integers(2, 7)), int(rng.integers(2, 7)))
        )
        for n_src in (1, 4, 20):
            s_node = rng.integers(0, g.n_nodes, n_src)
            s_off = rng.uniform(0.0, 40.0, n_src) * (rng.random(n_src) < 0.7)
            s_grp = rng.integers(0, max(1, n_src // 2), n_src)
            for limit in (INF, float(rng.uniform(20.0, 300.0))):
                check(g, s_node, s_off, s_grp, limit)


def twin_graphs(g):
    """Two copies of ``g``: one with its chains contracted (forced), one without."""
    con, full = (
        lifecircle.graph_from_edges(
            g.node_ids, g.x, g.y, g.edge_u, g.edge_v, crs=g.crs, edge_length=g.edge_length
        )
        for _ in range(2)
    )
    full.__dict__["chains"] = None
    return force_contraction(con), full


def assert_same_nearest_two(con, full, sources, group, targets, radius, n_groups):
    """`nearest_two` on both graphs, and against every pair (`_check`)."""
    args = (sources, group, targets)
    got = nearest_two(con, *args, radius_m=radius, n_groups=n_groups)
    want = nearest_two(full, *args, radius_m=radius, n_groups=n_groups)
    for a, b in ((got.nearest_m, want.nearest_m), (got.second_m, want.second_m)):
        assert_allclose(a, b, rtol=1e-12, atol=TOL, equal_nan=True)
    # groups: the same unless the two walks of a point are equal
    distinct = np.abs(want.second_m - want.nearest_m) > TOL
    assert_array_equal(got.nearest[distinct], want.nearest[distinct])
    _check(con, sources, group, targets, radius, n_groups)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.tuples(st.integers(2, 6), st.integers(2, 6)),
    n_fac=st.integers(1, 12),
    rule=st.sampled_from(["edge", "node"]),
    radius=st.sampled_from([60.0, 150.0, 400.0, 5000.0]),
)
def test_snapped_points_on_subdivided_grids(seed, size, n_fac, rule, radius):
    """`nearest_two` with snapped facilities and residents: contracted == full == pairs."""
    rng = np.random.default_rng(seed)
    con, full = twin_graphs(subdivided_grid(rng, *size))
    span = 60.0 * (np.array(size) - 1)
    fxy = rng.uniform(-10.0, 1.0, (n_fac, 2)) + rng.uniform(0, 1, (n_fac, 2)) * span[::-1]
    oxy = rng.uniform(-10.0, 1.0, (30, 2)) + rng.uniform(0, 1, (30, 2)) * span[::-1]
    f = snap_points(con, X0 + fxy[:, 0], Y0 + fxy[:, 1], rule=rule, max_snap_m=100.0)
    o = snap_points(con, X0 + oxy[:, 0], Y0 + oxy[:, 1], rule=rule, max_snap_m=100.0)
    group = rng.integers(0, max(1, n_fac - 2), n_fac)  # a few facilities with two points
    assert_same_nearest_two(con, full, f, group, o, radius, int(group.max()) + 1)


def test_sample_network_matches_the_full_graph(sample_graph):
    con, full = twin_graphs(sample_graph)
    assert con.chains is not None
    rng = np.random.default_rng(5)
    pick = rng.integers(0, con.n_nodes, 400)
    x, y = con.x[pick] + rng.normal(0, 15, 400), con.y[pick] + rng.normal(0, 15, 400)
    f = snap_points(con, x[:60], y[:60], rule="edge", max_snap_m=200.0)
    o = snap_points(con, x[60:], y[60:], rule="edge", max_snap_m=200.0)
    group = rng.integers(0, 40, 60)
    for radius in (300.0, 1000.0, 3000.0):
        assert_same_nearest_two(con, full, f, group, o, radius, 40)
        s_point, s_node, s_off = f.entries()
        args = (s_node, s_off, group[s_point], radius)
        got, want = _node_labels(con, *args), _full_labels(full, *args)
        assert_allclose(got[0], want[0], rtol=1e-12, atol=TOL)
        # groups: the same unless a node's two walks are equal
        distinct = ~np.isclose(want[0][:, 1], want[0][:, 0], rtol=0.0, atol=TOL)
        assert (got[1][distinct, 0] == want[1][distinct, 0]).all()
