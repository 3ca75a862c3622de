"""Chain contraction: `nearest_distance` on the contracted graph equals the full-graph Dijkstra.

Key nodes have degree != 2; chains of degree-2 nodes become one edge. Every test
compares `nearest_distance` (contracted) with `_nearest_distance_full` (one
Dijkstra on the whole graph): same NaN pattern, same zeros, same values up to float
rounding of the summation order.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import lifecircle
from lifecircle._contraction import contract_chains, segment_argmin_prefix
from lifecircle.access import _nearest_distance_full, nearest_distance

from .conftest import UTM, X0, Y0, grid

NAN = np.nan


def graph(n: int, edges: list[tuple[int, int, float]]) -> lifecircle.WalkGraph:
    """A walk graph on nodes 0..n-1 with the given ``(u, v, length)`` edges, all kept."""
    u, v, length = (np.array(col) for col in zip(*edges, strict=True))
    return lifecircle.graph_from_edges(
        np.arange(n),
        X0 + np.arange(n, dtype=float),
        np.full(n, Y0),
        u,
        v,
        crs=UTM,
        edge_length=length.astype(float),
        keep_largest=False,
    )


def force_contraction(g: lifecircle.WalkGraph) -> lifecircle.WalkGraph:
    """Contract ``g`` even where it is not worth it (the cached property is overridden)."""
    g.__dict__["chains"] = contract_chains(g.adjacency, max_key_fraction=1.0)
    return g


def assert_same(
    g: lifecircle.WalkGraph,
    nodes: np.ndarray | list[int],
    offsets: np.ndarray | list[float] | None = None,
    cutoff_m: float = np.inf,
    *,
    tol: float = 1e-9,
) -> np.ndarray:
    """Assert the contracted and full-graph results agree; return the contracted one."""
    nodes = np.asarray(nodes, np.int64)
    offsets = None if offsets is None else np.asarray(offsets, float)
    got = nearest_distance(g, nodes, offsets, cutoff_m=cutoff_m)
    want = _nearest_distance_full(g, nodes, offsets, cutoff_m=cutoff_m)
    assert got.shape == want.shape == (g.n_nodes,)
    assert_array_equal(np.isnan(got), np.isnan(want))
    assert_array_equal(got == 0.0, want == 0.0)
    assert_allclose(got, want, rtol=tol, atol=tol)
    return got


# --------------------------------------------------------------------------- structure


# A path 0 - 1 - 2 - 3 - 4 - 5 with edges 1, 2, 4, 8, 16 m: positions 0, 1, 3, 7, 15, 31.
PATH = [(0, 1, 1.0), (1, 2, 2.0), (2, 3, 4.0), (3, 4, 8.0), (4, 5, 16.0)]


def test_path_is_one_chain_between_its_two_ends():
    g = graph(6, PATH)
    c = g.chains
    assert c is not None
    assert c.key_nodes.tolist() == [0, 5]
    assert c.key_index.tolist() == [0, -1, -1, -1, -1, 1]
    assert c.node_chain.tolist() == [-1, 0, 0, 0, 0, -1]
    assert c.node_position_m.tolist() == [0, 1, 3, 7, 15, 0]
    assert c.node_to_v_m.tolist() == [0, 30, 28, 24, 16, 0]
    assert (c.chain_u.tolist(), c.chain_v.tolist(), c.chain_length_m.tolist()) == ([0], [5], [31])
    assert c.interior_nodes.tolist() == [1, 2, 3, 4]
    assert c.adjacency.toarray().tolist() == [[0, 31], [31, 0]]


def test_source_inside_a_chain_with_the_cutoff_ending_inside_it():
    g = graph(6, PATH)
    # source on node 2 (a = 3) with offset 5: 5 + |a_i - 3|
    assert_allclose(assert_same(g, [2], [5.0]), [8, 7, 5, 9, 17, 33])
    assert_allclose(assert_same(g, [2], [5.0], cutoff_m=12.0), [8, 7, 5, 9, NAN, NAN])
    # exactly at the cut-off: kept
    assert_allclose(assert_same(g, [2], [5.0], cutoff_m=9.0), [8, 7, 5, 9, NAN, NAN])
    assert_allclose(assert_same(g, [2], [5.0], cutoff_m=8.0), [8, 7, 5, NAN, NAN, NAN])
    # beyond the source's own offset: nothing
    assert np.isnan(assert_same(g, [2], [5.0], cutoff_m=4.0)).all()


def test_several_sources_on_one_chain_take_the_best_on_each_side():
    g = graph(6, PATH)
    # node 1 (a=1, +20), node 3 (a=7, +0), node 4 (a=15, +2): a far source with a small
    # offset beats a near one with a large offset
    got = assert_same(g, [1, 3, 4], [20.0, 0.0, 2.0])
    assert_allclose(got, [7, 6, 4, 0, 2, 18])
    assert got[3] == 0.0
    assert_allclose(
        assert_same(g, [1, 3, 4], [20.0, 0.0, 2.0], cutoff_m=5.0), [NAN, NAN, 4, 0, 2, NAN]
    )
    # sources on the ends and inside
    assert_same(g, [0, 5, 2], [3.0, 0.0, 9.0])
    assert_same(g, [0, 5, 2], [3.0, 0.0, 9.0], cutoff_m=10.0)


def test_cycle_without_key_node_promotes_one_node():
    # ring 0 - 1 - 2 - 3 - 4 - 0 with edges 1, 2, 3, 4, 5 (length 15)
    ring = [(0, 1, 1.0), (1, 2, 2.0), (2, 3, 3.0), (3, 4, 4.0), (4, 0, 5.0)]
    g = graph(5, ring)
    c = g.chains
    assert c is not None
    assert c.key_nodes.tolist() == [0]
    assert c.chain_u.tolist() == c.chain_v.tolist() == [0]
    assert c.chain_length_m.tolist() == [15]
    assert c.adjacency.nnz == 0  # the loop is not an edge of the contracted graph
    # source on node 2 (+1): clockwise 1 + (1, 0, 3, 7) vs the other way round
    assert_allclose(assert_same(g, [2], [1.0]), [4, 3, 1, 4, 8])
    assert_allclose(assert_same(g, [2], [1.0], cutoff_m=4.0), [4, 3, 1, 4, NAN])
    assert_allclose(assert_same(g, [0], [0.0]), [0, 1, 3, 6, 5])
    assert_same(g, [3, 1], [0.5, 2.0], cutoff_m=6.0)


def test_lollipop_loop_hanging_off_a_node():
    # stick 0 - 1 - 2, loop 2 - 3 - 4 - 5 - 2; node 2 has degree 3
    edges = [(0, 1, 10.0), (1, 2, 10.0), (2, 3, 1.0), (3, 4, 2.0), (4, 5, 3.0), (5, 2, 4.0)]
    g = graph(6, edges)
    c = g.chains
    assert c is not None
    assert c.key_nodes.tolist() == [0, 2]
    loop = c.node_chain[3]
    assert c.chain_u[loop] == c.chain_v[loop] == 2
    assert c.chain_length_m[loop] == 10
    assert c.adjacency.toarray().tolist() == [[0, 20], [20, 0]]
    # source on the loop (node 4, +0): 2 -> 3 (1 m) then back to 2 via 3 or 5
    assert_allclose(assert_same(g, [4], [0.0]), [23, 13, 3, 2, 0, 3])
    assert_allclose(assert_same(g, [4], [0.0], cutoff_m=3.5), [NAN, NAN, 3, 2, 0, 3])
    # a zero offset is walked as 1e-9 m, so a node at exactly the cut-off is beyond it
    assert_allclose(assert_same(g, [4], [0.0], cutoff_m=3.0), [NAN, NAN, NAN, 2, 0, NAN])
    assert_same(g, [1, 5], [4.0, 7.0])
    assert_same(g, [1, 5], [4.0, 7.0], cutoff_m=9.0)


def test_parallel_chains_keep_the_shortest():
    # A = 0 and B = 1 (degree 3) joined by a direct edge (10), a chain via 2 (3 + 3) and a
    # chain via 3, 4 (1 + 1 + 1)
    edges = [(0, 1, 10.0), (0, 2, 3.0), (2, 1, 3.0), (0, 3, 1.0), (3, 4, 1.0), (4, 1, 1.0)]
    g = graph(5, edges)
    c = g.chains
    assert c is not None
    assert c.key_nodes.tolist() == [0, 1]
    assert sorted(c.chain_length_m.tolist()) == [3, 6]
    assert c.adjacency.toarray().tolist() == [[0, 3], [3, 0]]
    assert_allclose(assert_same(g, [0], [2.0]), [2, 5, 5, 3, 4])
    assert_allclose(assert_same(g, [2], [0.0], cutoff_m=5.0), [3, 3, 0, 4, 4])
    assert_same(g, [2, 4], [1.0, 0.0], cutoff_m=2.0)


def test_repeated_sources_and_zero_offsets():
    g = graph(6, PATH)
    # repeats keep the smallest offset; an offset of 0 is exactly 0, inside a chain too
    got = assert_same(g, [2, 2, 2], [50.0, 0.0, 7.0])
    assert got[2] == 0.0
    assert_allclose(got, [3, 2, 0, 4, 12, 28])
    got = assert_same(g, [5, 5, 0], [0.0, 3.0, 40.0])
    assert got[5] == 0.0
    assert_allclose(got, [31, 30, 28, 24, 16, 0])
    # default offsets: 0
    assert_allclose(assert_same(g, [3]), [7, 6, 4, 0, 8, 24])
    # a zero offset with a zero cut-off: the old convention (nothing within 0 m)
    assert np.isnan(assert_same(g, [3], [0.0], cutoff_m=0.0)).all()
    # no sources
    assert np.isnan(nearest_distance(g, np.array([], np.int64), np.array([]))).all()


def test_not_worth_contracting_falls_back_to_the_full_graph():
    g = grid(6, 7)  # only the 4 corners have degree 2
    assert g.chains is None
    rng = np.random.default_rng(1)
    nodes = rng.integers(0, g.n_nodes, 5)
    offsets = rng.uniform(0, 50, 5)
    assert_array_equal(
        nearest_distance(g, nodes, offsets, cutoff_m=250.0),
        _nearest_distance_full(g, nodes, offsets, cutoff_m=250.0),
    )
    # forced anyway, it still agrees
    force_contraction(g)
    assert g.chains is not None
    assert_same(g, nodes, offsets, cutoff_m=250.0)


# --------------------------------------------------------------------------- random graphs


def test_segment_argmin_prefix_matches_a_loop():
    rng = np.random.default_rng(7)
    for _ in range(50):
        m = int(rng.integers(1, 40))
        values = rng.choice([1.0, 2.0, 3.0, np.inf], size=m) + rng.integers(0, 3, m)
        segment = np.sort(rng.integers(0, 5, m))
        got = segment_argmin_prefix(values, segment)
        for i in range(m):
            assert segment[got[i]] == segment[i]
            assert got[i] <= i
            same = (segment == segment[i]) & (np.arange(m) <= i)
            assert values[got[i]] == values[same].min()


#: Lengths and offsets in 1/8 m: sums are exact in floating point, so the two
#: summation orders can only differ through the 1e-9 m stand-in for a zero offset.
eighths = st.integers(1, 80).map(lambda k: k / 8.0)


@st.composite
def chain_graphs(draw: st.DrawFn) -> tuple[int, list[tuple[int, int, float]]]:
    """Few key nodes joined by subdivided edges (chains, loops, parallel chains) plus rings."""
    n_key = draw(st.integers(1, 6))
    n = n_key
    edges: list[tuple[int, int, float]] = []
    for _ in range(draw(st.integers(1, 10))):
        a, b = draw(st.integers(0, n_key - 1)), draw(st.integers(0, n_key - 1))
        k = draw(st.integers(0, 6))  # interior nodes on this chain
        path = [a, *range(n, n + k), b]
        n += k
        edges += [(p, q, draw(eighths)) for p, q in itertools.pairwise(path)]
    for _ in range(draw(st.integers(0, 2))):  # rings of degree-2 nodes only
        k = draw(st.integers(3, 6))
        ring = list(range(n, n + k))
        n += k
        edges += [(p, q, draw(eighths)) for p, q in zip(ring, ring[1:] + ring[:1], strict=True)]
    # number the nodes at random, so chains are not runs of consecutive indices
    perm = draw(st.permutations(range(n)))
    return n, [(perm[p], perm[q], w) for p, q, w in edges]


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data(), spec=chain_graphs(), forced=st.booleans())
def test_random_chain_graphs_match_the_full_graph(data, spec, forced):
    n, edges = spec
    used = {p for e in edges for p in e[:2] if e[0] != e[1]}
    if len(used) < 2:
        return  # only self-loops: not a walk graph
    g = graph(n, edges)
    if forced:
        force_contraction(g)
    k = data.draw(st.integers(1, 6), label="n_sources")
    nodes = data.draw(
        st.lists(st.integers(0, g.n_nodes - 1), min_size=k, max_size=k), label="sources"
    )
    offsets = data.draw(
        st.lists(st.sampled_from([0.0, 0.125, 1.0, 2.5, 7.0]) | eighths, min_size=k, max_size=k),
        label="offsets",
    )
    cutoff = data.draw(st.sampled_from([np.inf, 0.0]) | eighths, label="cutoff")
    assert_same(g, nodes, offsets, cutoff, tol=1e-12)


def test_random_graphs_with_float_lengths():
    rng = np.random.default_rng(20261123)
    for _ in range(40):
        # a random tree of key nodes plus extra edges, every edge subdivided 0-8 times
        n_key = int(rng.integers(2, 30))
        skeleton = [(int(rng.integers(0, i)), i) for i in range(1, n_key)]
        skeleton += [
            tuple(int(x) for x in rng.integers(0, n_key, 2))
            for _ in range(int(rng.integers(0, n_key)))
        ]
        n, edges = n_key, []
        for a, b in skeleton:
            k = int(rng.integers(0, 9))
            path = [a, *range(n, n + k), b]
            n += k
            edges += [(p, q, float(rng.uniform(0.5, 120.0))) for p, q in itertools.pairwise(path)]
        g = graph(n, edges)
        for forced in (False, True):
            if forced:
                force_contraction(g)
            for n_src in (1, 3, 12):
                nodes = rng.integers(0, g.n_nodes, n_src)
                offsets = rng.uniform(0.0, 60.0, n_src) * (rng.random(n_src) < 0.7)
                for cutoff in (np.inf, float(rng.uniform(0, 400))):
                    assert_same(g, nodes, offsets, cutoff)


# --------------------------------------------------------------------------- the sample


@pytest.mark.parametrize("cutoff_m", [150.0, 500.0, 1080.0, np.inf])
def test_sample_network_matches_the_full_graph(sample_graph, cutoff_m):
    g = sample_graph
    c = g.chains
    assert c is not None
    assert c.n_key < 0.3 * g.n_nodes  # mostly degree-2 OSM vertices
    rng = np.random.default_rng(int(min(cutoff_m, 1e6)))
    for n_src in (1, 25, 300, 2000):
        nodes = rng.integers(0, g.n_nodes, n_src)
        offsets = rng.uniform(0.0, 100.0, n_src) * (rng.random(n_src) < 0.8)
        got = nearest_distance(g, nodes, offsets, cutoff_m=cutoff_m)
        want = _nearest_distance_full(g, nodes, offsets, cutoff_m=cutoff_m)
        assert_array_equal(np.isnan(got), np.isnan(want))
        assert_array_equal(got == 0.0, want == 0.0)
        both = ~np.isnan(want)
        assert np.abs(got[both] - want[both]).max(initial=0.0) < 1e-6
