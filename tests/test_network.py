"""The walk graph: builders, cleaning, projection, OSM/GraphML readers, export."""

from __future__ import annotations

import bz2

import networkx as nx
import numpy as np
import pyproj
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import lifecircle
from lifecircle.settings import WALKABLE_HIGHWAYS

from .conftest import LAT0, LON0, UTM, X0, Y0, osm_xml

# A diamond with a tail, in EPSG:32651 (metres), relative to (X0, Y0):
#
#          1 (30, 40)
#        /  |  \
#  0 (0,0)  |   3 (60, 0) ---- 4 (180, 50)
#        \  |  /
#          2 (30,-40)
#
# Pythagorean lengths: 0-1, 0-2, 1-3, 2-3 = 50; 1-2 = 80; 3-4 = hypot(120, 50) = 130.
DIAMOND_XY = np.array([(0, 0), (30, 40), (30, -40), (60, 0), (180, 50)], float)
DIAMOND_EDGES = [(0, 1), (0, 2), (1, 3), (2, 3), (1, 2), (3, 4)]
DIAMOND_LENGTHS = {
    (0, 1): 50.0,
    (0, 2): 50.0,
    (1, 3): 50.0,
    (2, 3): 50.0,
    (1, 2): 80.0,
    (3, 4): 130.0,
}


def diamond(**kwargs):
    u, v = np.array(DIAMOND_EDGES).T
    return lifecircle.graph_from_edges(
        np.arange(100, 105),
        X0 + DIAMOND_XY[:, 0],
        Y0 + DIAMOND_XY[:, 1],
        u,
        v,
        crs=UTM,
        **kwargs,
    )


def edge_map(g: lifecircle.WalkGraph, ids: bool = True) -> dict[tuple[int, int], float]:
    """Undirected edges as {(id_a, id_b): length} with id_a < id_b."""
    out = {}
    for a, b, d in zip(g.edge_u, g.edge_v, g.edge_length, strict=True):
        na, nb = (int(g.node_ids[a]), int(g.node_ids[b])) if ids else (int(a), int(b))
        out[(min(na, nb), max(na, nb))] = float(d)
    return out


# --------------------------------------------------------------------------- graph_from_edges


def test_edge_lengths_are_euclidean_in_projected_crs():
    g = diamond()
    assert g.crs.to_epsg() == 32651
    assert g.n_nodes == 5
    assert g.n_edges == 6
    got = edge_map(g)
    assert got == pytest.approx(
        {(100 + a, 100 + b): d for (a, b), d in DIAMOND_LENGTHS.items()}, abs=1e-9
    )
    # a projected input keeps its coordinates
    assert_allclose(g.x, X0 + DIAMOND_XY[:, 0])
    assert_allclose(g.y, Y0 + DIAMOND_XY[:, 1])
    # canonical orientation and the default class
    assert (g.edge_u < g.edge_v).all()
    assert set(g.edge_class) == {"residential"}


def test_parallel_edges_keep_shortest_and_self_loops_are_removed():
    #          (u, v, length, class)
    edges = [
        (0, 1, 50.0, "residential"),
        (1, 0, 70.0, "primary"),  # parallel, reversed
        (0, 2, 50.0, "residential"),
        (1, 3, 50.0, "residential"),
        (2, 3, 50.0, "residential"),
        (1, 2, 80.0, "residential"),
        (3, 4, 130.0, "primary"),
        (4, 3, 100.0, "footway"),  # shorter one wins
        (2, 2, 10.0, "residential"),
        (4, 4, 0.0, "service"),
    ]  # self-loops
    u, v, length, cls = zip(*edges, strict=True)
    g = lifecircle.graph_from_edges(
        np.arange(5),
        X0 + DIAMOND_XY[:, 0],
        Y0 + DIAMOND_XY[:, 1],
        u,
        v,
        crs=UTM,
        edge_length=length,
        edge_class=cls,
    )
    assert g.n_edges == 6
    got = edge_map(g)
    assert got == {
        (0, 1): 50.0,
        (0, 2): 50.0,
        (1, 3): 50.0,
        (2, 3): 50.0,
        (1, 2): 80.0,
        (3, 4): 100.0,
    }
    classes = {
        (int(a), int(b)): c for a, b, c in zip(g.edge_u, g.edge_v, g.edge_class, strict=True)
    }
    assert classes[(0, 1)] == "residential"
    assert classes[(3, 4)] == "footway"
    assert not (g.edge_u == g.edge_v).any()


def _components_input():
    # diamond (5 nodes, 6 edges) + triangle 5-6-7 (3 nodes, 3 edges) far east
    # + a pair 8-9 (2 nodes, 1 edge) + isolated node 10 (no edge)
    xy = np.vstack(
        [DIAMOND_XY, [(1000, 0), (1100, 0), (1050, 80)], [(2000, 0), (2100, 0)], [(3000, 0)]]
    )
    edges = [*DIAMOND_EDGES, (5, 6), (6, 7), (5, 7), (8, 9)]
    u, v = np.array(edges).T
    return np.arange(100, 111), X0 + xy[:, 0], Y0 + xy[:, 1], u, v


def test_largest_component_is_kept_and_the_rest_is_counted():
    ids, x, y, u, v = _components_input()
    g = lifecircle.graph_from_edges(ids, x, y, u, v, crs=UTM)
    assert g.n_nodes == 5
    assert g.n_edges == 6
    assert_array_equal(g.node_ids, [100, 101, 102, 103, 104])
    assert g.dropped["components"] == 2
    assert g.dropped["nodes"] == 5
    assert g.dropped["edges"] == 4
    assert g.dropped["isolated_nodes"] == 1
    assert g.dropped["largest_dropped_component_nodes"] == 3
    s = g.summary()
    assert s["nodes"] == 5
    assert s["edges"] == 6
    assert s["dropped_components"] == 2
    assert s["dropped_nodes"] == 5
    assert s["kept_components"] == 1
    assert s["length_km"] == pytest.approx(0.41)  # 4*50 + 80 + 130 = 410 m


def test_min_component_nodes_keeps_a_second_big_component():
    ids, x, y, u, v = _components_input()
    g = lifecircle.graph_from_edges(ids, x, y, u, v, crs=UTM, min_component_nodes=3)
    assert g.n_nodes == 8
    assert g.n_edges == 9
    assert_array_equal(g.node_ids, np.arange(100, 108))
    assert g.dropped["components"] == 1
    assert g.dropped["nodes"] == 2
    assert g.dropped["edges"] == 1
    assert g.dropped["kept_components"] == 2
    # the triangle keeps its own lengths: 100, hypot(50, 80) twice
    tri = {k: d for k, d in edge_map(g).items() if k[0] >= 105}
    assert tri == pytest.approx(
        {(105, 106): 100.0, (105, 107): np.hypot(50, 80), (106, 107): np.hypot(50, 80)}
    )


def test_keep_largest_false_keeps_every_component_but_not_isolated_nodes():
    ids, x, y, u, v = _components_input()
    g = lifecircle.graph_from_edges(ids, x, y, u, v, crs=UTM, keep_largest=False)
    assert g.n_nodes == 10
    assert g.n_edges == 10
    assert 110 not in g.node_ids


def test_network_without_edges_raises_data_error():
    with pytest.raises(lifecircle.DataError, match="no walkable edges"):
        lifecircle.graph_from_edges(
            np.arange(3), [0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [], [], crs=UTM, source="empty.osm"
        )
    # DataError is also a ValueError and a LifecircleError
    assert issubclass(lifecircle.DataError, ValueError)
    assert issubclass(lifecircle.DataError, lifecircle.LifecircleError)


def test_network_of_only_self_loops_raises_data_error():
    with pytest.raises(lifecircle.DataError):
        lifecircle.graph_from_edges(
            np.arange(3), [0.0, 1.0, 2.0], [0.0, 0.0, 0.0], [0, 1], [0, 1], crs=UTM
        )


def test_geographic_input_is_projected_to_utm_51n_near_shanghai():
    lon = np.array([121.47, 121.48, 121.48, 121.47])
    lat = np.array([31.23, 31.23, 31.24, 31.24])
    g = lifecircle.graph_from_edges(np.arange(4), lon, lat, [0, 1, 2], [1, 2, 3], crs="EPSG:4326")
    assert g.crs.to_epsg() == 32651
    assert g.crs.is_projected
    ex, ey = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True).transform(
        lon, lat
    )
    assert_allclose(g.x, ex)
    assert_allclose(g.y, ey)
    # lengths are metres: close to the geodesic (UTM scale error < 0.05 % here)
    geod = pyproj.Geod(ellps="WGS84")
    _, _, expected = geod.inv(lon[[0, 1, 2]], lat[[0, 1, 2]], lon[[1, 2, 3]], lat[[1, 2, 3]])
    assert_allclose(g.edge_length, expected, rtol=5e-4)
    # explicit target CRS
    g50 = lifecircle.graph_from_edges(
        np.arange(4), lon, lat, [0, 1, 2], [1, 2, 3], crs="EPSG:4326", to_crs="EPSG:32650"
    )
    assert g50.crs.to_epsg() == 32650
    with pytest.raises(lifecircle.CRSError, match="not projected"):
        lifecircle.graph_from_edges(
            np.arange(4), lon, lat, [0, 1, 2], [1, 2, 3], crs="EPSG:4326", to_crs="EPSG:4326"
        )


def test_to_networkx_has_same_nodes_edges_and_lengths():
    g = diamond()
    G = g.to_networkx()
    assert isinstance(G, nx.Graph)
    assert not G.is_directed()
    assert G.number_of_nodes() == 5
    assert G.number_of_edges() == 6
    assert G.graph["crs"] == g.crs.to_string()
    for (a, b), d in DIAMOND_LENGTHS.items():
        assert G.edges[a, b]["length"] == pytest.approx(d)
        assert G.edges[a, b]["highway"] == "residential"
    assert G.nodes[4]["osmid"] == 104
    assert G.nodes[4]["x"] == pytest.approx(X0 + 180)
    assert G.nodes[4]["y"] == pytest.approx(Y0 + 50)
    # shortest path 0 -> 4 through the diamond: 50 + 50 + 130
    assert nx.shortest_path_length(G, 0, 4, weight="length") == pytest.approx(230.0)


def test_node_weights_are_half_incident_length_and_sum_to_total_length():
    cls = ["residential"] * 5 + ["primary"]  # only 3-4 is primary
    g = diamond(edge_class=cls)
    w = g.node_weights()
    assert_allclose(w, [50.0, 90.0, 90.0, 115.0, 65.0])
    assert w.sum() == pytest.approx(g.edge_length.sum()) == pytest.approx(410.0)
    assert_allclose(g.node_weights(frozenset({"primary"})), [0, 0, 0, 65.0, 65.0])
    assert_allclose(g.node_weights(frozenset({"residential"})), [50.0, 90.0, 90.0, 50.0, 0.0])


def test_grid_graph_layout_and_lengths():
    g = lifecircle.grid_graph(3, 4, spacing_m=100.0)
    assert g.n_nodes == 12
    assert g.n_edges == 3 * 3 + 2 * 4
    assert_allclose(g.edge_length, 100.0)
    # node r * n_cols + c sits at (c * spacing, r * spacing)
    assert (g.x[6], g.y[6]) == (200.0, 100.0)
    assert g.crs.to_epsg() == 32651
    assert g.extent().area == pytest.approx(300.0 * 200.0)
    node, dist = g.nearest_nodes(np.array([190.0, 310.0]), np.array([95.0, 230.0]))
    assert_array_equal(node, [6, 11])
    assert_allclose(dist, [np.hypot(10, 5), np.hypot(10, 30)])


# --------------------------------------------------------------------------- OSM files


def test_graph_from_osm_on_the_bundled_pbf(sample_graph):
    g = sample_graph
    assert g.crs.to_epsg() == 32651
    assert g.n_nodes > 10_000
    assert g.n_edges > g.n_nodes * 0.9
    assert len(np.unique(g.node_ids)) == g.n_nodes
    assert (g.edge_length > 0).all()
    assert set(g.edge_class) <= WALKABLE_HIGHWAYS
    # edge lengths are straight lines between consecutive OSM vertices in UTM
    assert_allclose(
        g.edge_length,
        np.hypot(g.x[g.edge_u] - g.x[g.edge_v], g.y[g.edge_u] - g.y[g.edge_v]),
        atol=1e-6,
    )
    # the sample has smaller components (across the Huangpu river) that are reported
    assert g.dropped["components"] >= 1
    assert g.dropped["nodes"] >= 1
    # one connected component is left
    from scipy.sparse.csgraph import connected_components

    assert connected_components(g.adjacency, directed=False)[0] == 1
    # the nodes lie in central Shanghai
    lon, lat = pyproj.Transformer.from_crs(g.crs, "EPSG:4326", always_xy=True).transform(g.x, g.y)
    assert 121.40 < lon.min() < lon.max() < 121.56
    assert 31.17 < lat.min() < lat.max() < 31.28


TINY_NODES = {
    1: (121.4700, 31.2300),
    2: (121.4710, 31.2300),
    3: (121.4710, 31.2310),
    4: (121.4720, 31.2310),
    5: (121.4720, 31.2320),
    6: (121.4720, 31.2330),
    7: (121.4730, 31.2330),
}
TINY_WAYS = [
    (10, [1, 2, 3], {"highway": "residential", "name": "测试路"}),
    (11, [3, 4], {"highway": "primary"}),
    (12, [4, 5], {"highway": "footway", "foot": "no"}),  # not walkable
    (13, [5, 6], {"highway": "motorway"}),  # not walkable
    (14, [6, 7], {"building": "yes"}),  # not a street
]


@pytest.fixture
def tiny_osm_file(tmp_path):
    path = tmp_path / "tiny.osm"
    path.write_text(osm_xml(TINY_NODES, TINY_WAYS), encoding="utf-8")
    return path


def _geodesic(a: int, b: int) -> float:
    (lon1, lat1), (lon2, lat2) = TINY_NODES[a], TINY_NODES[b]
    return pyproj.Geod(ellps="WGS84").inv(lon1, lat1, lon2, lat2)[2]


def test_graph_from_osm_xml_keeps_only_walkable_ways(tiny_osm_file):
    g = lifecircle.graph_from_osm(tiny_osm_file)
    assert g.crs.to_epsg() == 32651
    assert_array_equal(g.node_ids, [1, 2, 3, 4])
    edges = edge_map(g)
    assert set(edges) == {(1, 2), (2, 3), (3, 4)}
    for (a, b), d in edges.items():
        assert d == pytest.approx(_geodesic(a, b), rel=5e-4)
    # 0.001 deg of longitude at 31.23 N is about 95.2 m; 0.001 deg of latitude about 110.9 m
    assert edges[(1, 2)] == pytest.approx(95.2, abs=0.2)
    assert edges[(2, 3)] == pytest.approx(110.9, abs=0.2)
    classes = {
        (int(g.node_ids[a]), int(g.node_ids[b])): c
        for a, b, c in zip(g.edge_u, g.edge_v, g.edge_class, strict=True)
    }
    assert classes == {(1, 2): "residential", (2, 3): "residential", (3, 4): "primary"}
    assert g.dropped["components"] == 0


def test_osm_bz2_reads_identically(tiny_osm_file, tmp_path):
    packed = tmp_path / "tiny.osm.bz2"
    packed.write_bytes(bz2.compress(tiny_osm_file.read_bytes()))
    a = lifecircle.graph_from_osm(tiny_osm_file)
    b = lifecircle.graph_from_osm(packed)
    assert_array_equal(a.node_ids, b.node_ids)
    assert_array_equal(a.x, b.x)
    assert_array_equal(a.y, b.y)
    assert_array_equal(a.edge_u, b.edge_u)
    assert_array_equal(a.edge_v, b.edge_v)
    assert_array_equal(a.edge_length, b.edge_length)
    assert_array_equal(a.edge_class, b.edge_class)
    # read_network dispatches on the extension
    c = lifecircle.read_network(packed)
    assert_array_equal(c.edge_length, a.edge_length)


def test_osm_file_with_nodes_only_raises_data_error(tmp_path):
    path = tmp_path / "nodes-only.osm"
    path.write_text(osm_xml(TINY_NODES, []), encoding="utf-8")
    with pytest.raises(lifecircle.DataError, match="no walkable edges") as err:
        lifecircle.graph_from_osm(path)
    assert str(path) in str(err.value)


def test_read_network_rejects_missing_and_unknown_files(tmp_path):
    with pytest.raises(lifecircle.InputFileError, match="does not exist"):
        lifecircle.read_network(tmp_path / "missing.osm.pbf")
    txt = tmp_path / "streets.txt"
    txt.write_text("not a network")
    with pytest.raises(lifecircle.InputFormatError, match="unsupported network format") as err:
        lifecircle.read_network(txt)
    assert str(txt) in str(err.value)


# --------------------------------------------------------------------------- GraphML


def test_graphml_round_trip_uses_osmnx_lengths(tmp_path):
    import osmnx as ox

    G = nx.MultiDiGraph(crs="EPSG:4326")
    G.add_node(101, x=LON0, y=LAT0)
    G.add_node(102, x=LON0 + 0.001, y=LAT0)
    G.add_node(103, x=LON0 + 0.001, y=LAT0 + 0.001)
    G.add_node(104, x=LON0 + 0.002, y=LAT0 + 0.001)
    # both directions, a longer parallel edge, a list-valued highway (osmnx merges ways);
    # the lengths are deliberately not the straight-line ones, so we see they are used
    for u, v, length, hw in [
        (101, 102, 120.0, "residential"),
        (102, 101, 120.0, "residential"),
        (102, 103, 150.0, "primary"),
        (102, 103, 200.0, "primary"),
        (103, 102, 150.0, "primary"),
        (103, 104, 99.5, "footway"),
    ]:
        G.add_edge(u, v, length=length, highway=hw)
    path = tmp_path / "walk.graphml"
    ox.save_graphml(G, path)

    g = lifecircle.graph_from_graphml(path)
    assert g.crs.to_epsg() == 32651
    assert_array_equal(g.node_ids, [101, 102, 103, 104])
    assert edge_map(g) == {(101, 102): 120.0, (102, 103): 150.0, (103, 104): 99.5}
    classes = sorted(g.edge_class)
    assert classes == ["footway", "primary", "residential"]
    ex, ey = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:32651", always_xy=True).transform(
        LON0, LAT0
    )
    assert (g.x[0], g.y[0]) == pytest.approx((ex, ey))
    # read_network dispatches .graphml here too
    assert edge_map(lifecircle.read_network(path)) == edge_map(g)


def test_graphml_without_crs_is_a_crs_error(tmp_path):
    import osmnx as ox

    G = nx.MultiDiGraph()
    G.add_node(1, x=0.0, y=0.0)
    G.add_node(2, x=100.0, y=0.0)
    G.add_edge(1, 2, length=100.0, highway="residential")
    path = tmp_path / "nocrs.graphml"
    ox.save_graphml(G, path)
    with pytest.raises(lifecircle.CRSError, match="crs") as err:
        lifecircle.graph_from_graphml(path)
    assert str(path) in str(err.value)


def _xml_with_other_ways(path):
    """A 6 x 6 grid of streets and footways plus a landuse outline, a stream, a motorway."""
    nodes = {
        1 + r * 6 + c: (LON0 + c * 0.001, LAT0 + r * 0.001) for r in range(6) for c in range(6)
    }
    ways = [
        (1000 + r, [1 + r * 6 + c for c in range(6)], {"highway": "residential"}) for r in range(6)
    ]
    ways += [
        (1100 + c, [1 + r * 6 + c for r in range(6)], {"highway": "footway"}) for c in range(6)
    ]
    nodes |= {
        500: (LON0 - 0.001, LAT0 - 0.001),
        501: (LON0 + 0.006, LAT0 - 0.001),
        502: (LON0 + 0.006, LAT0 + 0.006),
    }
    ways += [
        (2000, [500, 501, 502, 500], {"landuse": "residential"}),
        (2001, [1, 500], {"waterway": "stream"}),
        (2002, [2, 501], {"highway": "motorway"}),
        (2003, [3, 502], {"highway": "footway", "access": "private"}),
    ]
    path.write_text(osm_xml(nodes, ways), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def xml_graphs(tmp_path_factory):
    import warnings

    import osmnx as ox

    folder = tmp_path_factory.mktemp("graphml")
    xml = _xml_with_other_ways(folder / "g.osm")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        simplified = ox.graph_from_xml(xml, simplify=True, retain_all=True)
        full = ox.graph_from_xml(xml, simplify=False, retain_all=True)
        consolidated = ox.consolidate_intersections(
            ox.project_graph(simplified), tolerance=30, rebuild_graph=True
        )
    paths = {}
    for name, G in [("simplified", simplified), ("full", full), ("consolidated", consolidated)]:
        paths[name] = folder / f"{name}.graphml"
        ox.save_graphml(G, paths[name])
    paths["osm"] = xml
    return paths


def test_graphml_drops_ways_that_are_not_walkable(xml_graphs):
    g = lifecircle.graph_from_graphml(xml_graphs["full"])
    assert set(g.edge_class) == {"residential", "footway"}
    assert g.dropped["not_walkable_edges"] > 0
    assert set(g.dropped["not_walkable_by_class"]) == {"(no highway)", "motorway", "footway"}
    # the same streets as the OSM reader: same total length
    ref = lifecircle.graph_from_osm(xml_graphs["osm"])
    # osmnx's lengths are great-circle on a sphere, ours straight lines in UTM (< 0.5%)
    assert g.adjacency.sum() == pytest.approx(ref.adjacency.sum(), rel=5e-3)


def test_simplified_graphml_edges_are_split_at_their_geometry(xml_graphs):
    simple = lifecircle.graph_from_graphml(xml_graphs["simplified"])
    ref = lifecircle.graph_from_osm(xml_graphs["osm"])
    # every OSM vertex is back as a node, every edge straight: distances as on the OSM graph
    assert simple.n_nodes == ref.n_nodes
    assert simple.adjacency.sum() == pytest.approx(ref.adjacency.sum(), rel=5e-3)
    straight = np.hypot(
        simple.x[simple.edge_u] - simple.x[simple.edge_v],
        simple.y[simple.edge_u] - simple.y[simple.edge_v],
    )
    # osmnx's `length` (kept) is great-circle on a sphere: within 0.5% of UTM straight lines
    assert_allclose(simple.edge_length, straight, rtol=5e-3)


def test_consolidated_graphml_is_accepted(xml_graphs):
    g = lifecircle.graph_from_graphml(xml_graphs["consolidated"])
    assert g.n_edges > 0
    assert set(g.edge_class) <= {"residential", "footway"}


def test_graphml_without_highway_tags_is_refused(tmp_path):
    import osmnx as ox

    G = nx.MultiDiGraph(crs="EPSG:4326")
    G.add_node(1, x=LON0, y=LAT0)
    G.add_node(2, x=LON0 + 0.001, y=LAT0)
    G.add_edge(1, 2, length=95.0)
    path = tmp_path / "untagged.graphml"
    ox.save_graphml(G, path)
    with pytest.raises(lifecircle.InputFormatError, match="highway") as err:
        lifecircle.graph_from_graphml(path)
    assert str(path) in str(err.value)


def _geos_hull(xy: np.ndarray) -> bytes:
    return shapely.to_wkb(shapely.convex_hull(shapely.multipoints(xy)))


@pytest.mark.parametrize(
    "xy",
    [
        np.random.default_rng(0).normal(size=(5000, 2)) * 5000 + [350_000, 3_450_000],
        np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5], [1.0, 0.5]]),
        np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]]),  # on one line
        np.array([[2.0, 3.0], [2.0, 3.0], [2.0, 3.0]]),  # one point, repeated
        np.array([[0.0, 0.0], [4.0, 1.0]]),
        np.array([[7.0, 1.0]]),
    ],
    ids=["cloud", "square-with-inner-and-edge-points", "collinear", "repeated", "two", "one"],
)
def test_convex_hull_of_is_geos_hull_of_every_point(xy):
    import shapely

    from lifecircle.network import convex_hull_of

    assert shapely.to_wkb(convex_hull_of(xy)) == _geos_hull(xy)


def test_graph_extent_is_the_hull_of_its_nodes():
    g = lifecircle.grid_graph(7, 5, spacing_m=80.0)
    xy = np.column_stack([g.x, g.y])
    assert shapely.to_wkb(g.extent()) == _geos_hull(xy)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-5, 5), st.integers(-5, 5)), min_size=1, max_size=40))
def test_convex_hull_of_equals_geos_on_grid_points(points):
    # small integer grids: many collinear, repeated and degenerate point sets
    from lifecircle.network import convex_hull_of

    xy = np.array(points, float) * 12.5 + [350_000.0, 3_450_000.0]
    assert shapely.to_wkb(convex_hull_of(xy)) == _geos_hull(xy)
