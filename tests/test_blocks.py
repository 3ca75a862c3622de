"""Building blocks of life-circle units (lifecircle.blocks), checked against hand-made cases."""

from __future__ import annotations

import itertools
import time

import geopandas as gpd
import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from lifecircle import blocks as B
from lifecircle.errors import CRSError, DataError, InputFormatError
from lifecircle.network import graph_from_edges, grid_graph

CRS = "EPSG:32651"


def street_grid(xs: list[float], ys: list[float], *, reach: float = 150.0):
    """Straight streets at ``x in xs`` and ``y in ys``, running ``reach`` beyond the others.

    Nodes at every crossing and at the streets' ends, so streets run past a boundary
    drawn between the extreme streets and the ends.
    """
    xs_all = [min(xs) - reach, *xs, max(xs) + reach]
    ys_all = [min(ys) - reach, *ys, max(ys) + reach]
    nodes: dict[tuple[float, float], int] = {}
    eu, ev = [], []

    def nid(p: tuple[float, float]) -> int:
        return nodes.setdefault(p, len(nodes))

    for y in ys:  # horizontal streets
        for a, b in itertools.pairwise(xs_all):
            eu.append(nid((a, y)))
            ev.append(nid((b, y)))
    for x in xs:  # vertical streets
        for a, b in itertools.pairwise(ys_all):
            eu.append(nid((x, a)))
            ev.append(nid((x, b)))
    xy = np.array(list(nodes), float)
    return graph_from_edges(
        np.arange(len(xy)), xy[:, 0], xy[:, 1], np.array(eu), np.array(ev), crs=CRS
    )


def cell_of(blocks: gpd.GeoDataFrame, xs: list[float], ys: list[float]) -> list[tuple[int, int]]:
    """(row, column) of each block's centroid among the cuts ``xs`` / ``ys``."""
    c = blocks.geometry.centroid
    return list(
        zip(np.searchsorted(ys, c.y.to_numpy()), np.searchsorted(xs, c.x.to_numpy()), strict=True)
    )


# --------------------------------------------------------------------------- street blocks


def test_three_by_three_grid_blocks_on_paper() -> None:
    # streets at 100, 200, 300 both ways, running past a 400 m square boundary: on
    # paper 4 inner blocks (100 m squares), 8 side blocks and 4 corner blocks
    xs = ys = [100.0, 200.0, 300.0]
    g = street_grid(xs, ys)
    boundary = shapely.box(0, 0, 400, 400)
    blocks = B.street_blocks(g, boundary)
    assert len(blocks) == 16
    assert blocks.crs.equals(g.crs)
    assert list(blocks["block_id"]) == [f"b{k}" for k in range(16)]
    np.testing.assert_allclose(blocks["area_m2"], 10_000.0)
    assert abs(blocks.area.sum() - boundary.area) <= 1e-3 * boundary.area
    assert shapely.union_all(blocks.geometry.to_numpy()).symmetric_difference(boundary).area < 1e-6
    cells = cell_of(blocks, xs, ys)
    assert sorted(cells) == [(r, c) for r in range(4) for c in range(4)]
    inner = [k for k, (r, c) in enumerate(cells) if r in (1, 2) and c in (1, 2)]
    assert len(inner) == 4
    assert all(blocks.geometry.iloc[k].equals(shapely.box(*_box_of(cells[k]))) for k in inner)

    # adjacency on paper: a street between them (|dr| + |dc| == 1), never a corner only
    adj = B.block_adjacency(blocks)
    assert (adj != adj.T).nnz == 0
    expected = np.array(
        [[abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for b in cells] for a in cells], dtype=bool
    )
    np.testing.assert_array_equal(adj.toarray() > 0, expected)
    np.testing.assert_allclose(adj.data, 100.0)


def _box_of(cell: tuple[int, int]) -> tuple[float, float, float, float]:
    r, c = cell
    return (100.0 * c, 100.0 * r, 100.0 * c + 100.0, 100.0 * r + 100.0)


def test_grid_graph_inside_boundary_gives_inner_blocks_and_a_ring() -> None:
    g = grid_graph(3, 3, spacing_m=100.0)  # streets end at the grid: 4 blocks + the margin
    boundary = shapely.box(-50, -50, 250, 250)
    blocks = B.street_blocks(g, boundary)
    assert sorted(blocks["area_m2"].round(6)) == [10_000.0] * 4 + [50_000.0]
    ring = blocks.loc[blocks["area_m2"] > 20_000].geometry.iloc[0]
    assert len(ring.interiors) == 1  # the margin around the grid, the grid a hole in it
    assert abs(blocks["area_m2"].sum() - boundary.area) < 1e-6


def test_slivers_merge_into_the_neighbour_with_the_longest_shared_boundary() -> None:
    # a street 5 m inside the boundary makes two 5 m x 100 m strips; each shares 95 m
    # with the block beside it and 5 m with the other strip: it joins the block beside
    xs, ys = [100.0, 200.0, 295.0], [100.0]
    g = street_grid(xs, ys)
    boundary = shapely.box(0, 0, 300, 200)
    raw = B.street_blocks(g, boundary, min_area_m2=0.0, min_width_m=0.0)
    assert len(raw) == 8
    blocks = B.street_blocks(g, boundary)
    assert blocks.attrs["blocks_report"]["slivers_merged"] == 2
    assert len(blocks) == 6
    got = sorted(tuple(np.round(geom.bounds, 6)) for geom in blocks.geometry)
    want = sorted(
        (x0, y0, x1, y1)
        for x0, x1 in [(0, 100), (100, 200), (200, 300)]
        for y0, y1 in [(0, 100), (100, 200)]
    )
    assert got == want
    np.testing.assert_allclose(blocks["area_m2"], 10_000.0)
    assert blocks.geometry.is_valid.all()


def test_a_traffic_island_merges_into_the_block_around_it() -> None:
    # a 20 m x 20 m loop of streets inside one block: a sliver with one neighbour
    g0 = street_grid([100.0], [100.0])
    sq = np.array([[40.0, 40.0], [60.0, 40.0], [60.0, 60.0], [40.0, 60.0]])
    x = np.concatenate([g0.x, sq[:, 0]])
    y = np.concatenate([g0.y, sq[:, 1]])
    n0 = g0.n_nodes
    loop_u = n0 + np.arange(4)
    loop_v = n0 + (np.arange(4) + 1) % 4
    g = graph_from_edges(
        np.arange(len(x)),
        x,
        y,
        np.concatenate([g0.edge_u, loop_u]),
        np.concatenate([g0.edge_v, loop_v]),
        crs=CRS,
        keep_largest=False,
    )
    boundary = shapely.box(0, 0, 200, 200)
    assert len(B.street_blocks(g, boundary, min_area_m2=0.0, min_width_m=0.0)) == 5
    blocks = B.street_blocks(g, boundary)
    assert len(blocks) == 4
    np.testing.assert_allclose(sorted(blocks["area_m2"]), 10_000.0)
    assert all(len(p.interiors) == 0 for p in blocks.geometry)


@pytest.mark.parametrize("seed", range(6))
def test_random_grids_tile_the_boundary_and_leave_no_sliver(seed: int) -> None:
    rng = np.random.default_rng(seed)
    xs = sorted(set(np.round(np.cumsum(rng.uniform(2, 150, 8)), 1)))
    ys = sorted(set(np.round(np.cumsum(rng.uniform(2, 150, 6)), 1)))
    g = street_grid(xs, ys)
    boundary = shapely.Polygon(
        [(-20, -30), (max(xs) + 10, -5), (max(xs), max(ys) + 25), (5, max(ys))]
    )
    blocks = B.street_blocks(g, boundary)
    assert abs(blocks.area.sum() - boundary.area) <= 1e-3 * boundary.area
    union = shapely.union_all(blocks.geometry.to_numpy())
    assert union.symmetric_difference(boundary).area <= 1e-6 * boundary.area
    # no overlap: the areas add up to the union's
    assert abs(blocks.area.sum() - union.area) <= 1e-6 * boundary.area
    if len(blocks) > 1:
        area = blocks.area.to_numpy()
        width = 2 * area / blocks.length.to_numpy()
        assert (area >= B.MIN_BLOCK_AREA_M2).all()
        assert (width >= B.MIN_BLOCK_WIDTH_M).all()


def test_boundary_without_area_is_refused() -> None:
    g = grid_graph(3, 3)
    with pytest.raises(InputFormatError, match="study boundary"):
        B.street_blocks(g, shapely.LineString([(0, 0), (1, 1)]))


def test_boundary_as_geodataframe_in_another_crs() -> None:
    g = street_grid([100.0], [100.0])
    box = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 200, 200)], crs=CRS).to_crs("EPSG:4326")
    blocks = B.street_blocks(g, box)
    assert len(blocks) == 4
    np.testing.assert_allclose(blocks["area_m2"], 10_000.0, rtol=1e-6)


# --------------------------------------------------------------------------- population


def _grid_blocks() -> gpd.GeoDataFrame:
    return B.street_blocks(street_grid([100.0, 200.0], [100.0, 200.0]), shapely.box(0, 0, 300, 300))


def test_areal_weighting_by_hand() -> None:
    blocks = _grid_blocks()  # nine 100 m squares over (0, 0)-(300, 300)
    # 1,000 residents on (50, 50)-(150, 100): 500 in each of two blocks; 600 on a square
    # half outside the blocks: 300 in, 300 reported outside
    pop = gpd.GeoDataFrame(
        {"population": [1000.0, 600.0]},
        geometry=[shapely.box(50, 50, 150, 100), shapely.box(250, 250, 350, 300)],
        crs=CRS,
    )
    res = B.block_population(blocks, pop)
    cells = cell_of(blocks, [100.0, 200.0], [100.0, 200.0])
    by_cell = dict(zip(cells, res.population, strict=True))
    assert by_cell[(0, 0)] == pytest.approx(500.0)
    assert by_cell[(0, 1)] == pytest.approx(500.0)
    assert by_cell[(2, 2)] == pytest.approx(300.0)
    assert res.population.sum() == pytest.approx(1300.0)
    assert res.report["population_outside_blocks"] == pytest.approx(300.0)
    assert res.report["items_outside_blocks"] == 1
    assert res.report["population_input"] == pytest.approx(1600.0)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-100, 350),
            st.floats(-100, 350),
            st.floats(1, 200),
            st.floats(1, 200),
            st.floats(0, 1e5),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_areal_weighting_conserves_population(boxes: list[tuple[float, ...]]) -> None:
    blocks = _grid_blocks()
    area = shapely.box(0, 0, 300, 300)
    geoms = [shapely.box(x, y, x + w, y + h) for x, y, w, h, _ in boxes]
    values = np.array([b[4] for b in boxes])
    res = B.block_population(
        blocks, gpd.GeoDataFrame({"population": values}, geometry=geoms, crs=CRS)
    )
    inside = np.array([g.intersection(area).area / g.area for g in geoms])
    total = values.sum()
    tol = 1e-6 * max(total, 1.0)
    assert res.population.sum() == pytest.approx((values * inside).sum(), abs=tol)
    assert res.population.sum() + res.report["population_outside_blocks"] == pytest.approx(
        total, abs=tol
    )
    assert (res.population >= 0).all()


def test_points_count_once_in_the_block_holding_them() -> None:
    blocks = _grid_blocks()
    pts = gpd.GeoDataFrame(
        {"population": [10.0, 20.0, 5.0]},
        # inside (0, 0); on the border of (0, 0) and (0, 1); outside every block
        geometry=[shapely.Point(50, 50), shapely.Point(100, 50), shapely.Point(500, 500)],
        crs=CRS,
    )
    res = B.block_population(blocks, pts)
    assert res.population.sum() == pytest.approx(30.0)
    assert res.report["population_outside_blocks"] == pytest.approx(5.0)
    assert res.report["method"] == "points in blocks"


def test_overlapping_blocks_are_refused() -> None:
    blocks = gpd.GeoDataFrame(
        {"block_id": ["a", "b"], "area_m2": [1e4, 1e4]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(50, 0, 150, 100)],
        crs=CRS,
    )
    pop = gpd.GeoDataFrame({"population": [100.0]}, geometry=[shapely.box(0, 0, 150, 100)], crs=CRS)
    with pytest.raises(DataError, match="overlap"):
        B.block_population(blocks, pop)


def test_bad_population_values_are_refused() -> None:
    pop = gpd.GeoDataFrame({"population": [-1.0]}, geometry=[shapely.box(0, 0, 1, 1)], crs=CRS)
    with pytest.raises(InputFormatError, match="non-negative"):
        B.block_population(_grid_blocks(), pop)


# --------------------------------------------------------------------------- units and parents


def test_block_straddling_two_units_goes_to_the_larger_overlap() -> None:
    blocks = _grid_blocks()
    units = gpd.GeoDataFrame(
        {"unit_id": ["west", "east"]},
        # the middle column (100-200) is 30% west, 70% east
        geometry=[shapely.box(0, 0, 130, 300), shapely.box(130, 0, 300, 300)],
        crs=CRS,
    ).to_crs("EPSG:4326")  # any CRS: reprojected to the blocks'
    parents = B.block_parents(blocks, units)
    cells = cell_of(blocks, [100.0, 200.0], [100.0, 200.0])
    for (_, c), pid, share in zip(
        cells, parents["parent_id"], parents["parent_share"], strict=True
    ):
        assert pid == ("west" if c == 0 else "east")
        assert share == pytest.approx(0.7 if c == 1 else 1.0, abs=1e-6)


def test_parent_ties_go_to_the_lowest_id_and_outside_is_na() -> None:
    blocks = gpd.GeoDataFrame(
        {"block_id": ["a", "b"], "area_m2": [1e4, 1e4]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(500, 0, 600, 100)],
        crs=CRS,
    )
    units = gpd.GeoDataFrame(
        {"unit_id": ["u2", "u1"]},
        geometry=[shapely.box(0, 0, 50, 100), shapely.box(50, 0, 100, 100)],
        crs=CRS,
    )
    parents = B.block_parents(blocks, units)
    assert parents["parent_id"].iloc[0] == "u1"
    assert parents["parent_share"].iloc[0] == pytest.approx(0.5)
    assert parents["parent_id"].isna().iloc[1]
    assert parents["parent_share"].iloc[1] == 0.0


def test_blocks_from_units_keeps_ids_and_projects() -> None:
    units = gpd.GeoDataFrame(
        {"unit_id": [310101001001, 310101001002], "name": ["甲", "<b>乙</b>"]},
        geometry=[shapely.box(0, 0, 100, 100), shapely.box(100, 0, 200, 100)],
        crs=CRS,
    ).to_crs("EPSG:4326")
    blocks = B.blocks_from_units(units, crs=CRS)
    assert list(blocks["block_id"]) == ["310101001001", "310101001002"]
    assert list(blocks["name"]) == ["甲", "<b>乙</b>"]
    np.testing.assert_allclose(blocks["area_m2"], 10_000.0, rtol=1e-6)
    adj = B.block_adjacency(blocks)  # reprojected borders still touch
    assert adj.nnz == 2
    assert adj[0, 1] == pytest.approx(100.0, abs=0.5)
    # geographic units without a CRS given: their UTM zone
    assert not B.blocks_from_units(units).crs.is_geographic


def test_blocks_from_units_refuses_duplicate_ids() -> None:
    units = gpd.GeoDataFrame(
        {"unit_id": ["a", "a"]},
        geometry=[shapely.box(0, 0, 1, 1), shapely.box(1, 0, 2, 1)],
        crs=CRS,
    )
    with pytest.raises(InputFormatError, match="unique"):
        B.blocks_from_units(units)


def test_units_with_a_hairline_gap_are_adjacent_but_corners_are_not() -> None:
    blocks = gpd.GeoDataFrame(
        {"block_id": ["a", "b", "c"], "area_m2": [1.0, 1.0, 1.0]},
        geometry=[
            shapely.box(0, 0, 100, 100),
            shapely.box(100.05, 0, 200, 100),  # 5 cm gap: still neighbours
            shapely.box(200, 100, 300, 200),  # touches b at a corner only
        ],
        crs=CRS,
    )
    adj = B.block_adjacency(blocks).toarray() > 0
    np.testing.assert_array_equal(
        adj, [[False, True, False], [True, False, False], [False, False, False]]
    )


# --------------------------------------------------------------------------- walks


def test_walks_equal_networkx_shortest_paths() -> None:
    xs = ys = [100.0, 200.0, 300.0]
    g = street_grid(xs, ys)
    blocks = B.street_blocks(g, shapely.box(0, 0, 400, 400))
    radius = 350.0
    node, walk = B.block_centres_and_walks(g, blocks, radius_m=radius)
    # the centre node is the node nearest the block's representative point
    rep = blocks.geometry.representative_point()
    d_all = np.hypot(
        g.x[None, :] - rep.x.to_numpy()[:, None], g.y[None, :] - rep.y.to_numpy()[:, None]
    )
    np.testing.assert_allclose(d_all[np.arange(len(node)), node], d_all.min(axis=1))
    G = g.to_networkx()
    n = len(blocks)
    expected = np.full((n, n), np.inf)
    for i in range(n):
        lengths = nx.single_source_dijkstra_path_length(G, int(node[i]), weight="length")
        for j in range(n):
            expected[i, j] = lengths.get(int(node[j]), np.inf)
    dense = walk.toarray()
    within = expected <= radius
    stored = np.zeros((n, n), bool)
    stored[walk.nonzero()] = True
    np.testing.assert_array_equal(stored, within)
    np.testing.assert_allclose(dense[within], np.maximum(expected[within], 1e-9))
    assert (walk != walk.T).nnz == 0
    assert np.allclose(walk.diagonal(), 1e-9)


def test_walks_refuse_blocks_in_another_crs() -> None:
    g = street_grid([100.0], [100.0])
    blocks = B.street_blocks(g, shapely.box(0, 0, 200, 200)).to_crs("EPSG:4326")
    with pytest.raises(CRSError, match="to_crs"):
        B.block_centres_and_walks(g, blocks, radius_m=100.0)


# --------------------------------------------------------------------------- the sample


@pytest.mark.slow
def test_sample_street_blocks(sample_result, sample_paths) -> None:
    g = sample_result.graph
    h = sample_result.hierarchy
    finest = h.units[h.finest]
    analysed = finest[finest["unit_id"].astype(str).isin(sample_result.analysed)].to_crs(g.crs)
    boundary = shapely.union_all(analysed.geometry.to_numpy())
    t0 = time.perf_counter()
    blocks = B.street_blocks(g, boundary)
    t_blocks = time.perf_counter() - t0
    assert abs(blocks.area.sum() - boundary.area) <= 1e-3 * boundary.area
    assert abs(shapely.union_all(blocks.geometry.to_numpy()).area - boundary.area) <= (
        1e-3 * boundary.area
    )
    assert blocks.geometry.is_valid.all()
    t0 = time.perf_counter()
    res = B.block_population(blocks, sample_paths["population"])
    t_pop = time.perf_counter() - t0
    rep = res.report
    assert res.population.sum() + rep["population_outside_blocks"] == pytest.approx(
        rep["population_input"], rel=1e-6
    )
    # the sample's population polygons are its streets/towns: the blocks hold the
    # population of the analysed ones
    pop = gpd.read_file(sample_paths["population"]).to_crs(g.crs)
    inside = shapely.area(shapely.intersection(pop.geometry.to_numpy(), boundary)) / pop.area
    assert res.population.sum() == pytest.approx(
        float((pop["population"] * inside).sum()), rel=1e-6
    )
    adj = B.block_adjacency(blocks)
    parents = B.block_parents(blocks, analysed)
    assert parents["parent_id"].notna().all()
    t0 = time.perf_counter()
    _node, walk = B.block_centres_and_walks(g, blocks, radius_m=1200.0)
    t_walk = time.perf_counter() - t0
    assert walk.shape == (len(blocks), len(blocks))
    print(
        f"\nsample street blocks: {len(blocks)} blocks ({blocks.attrs['blocks_report']}), "
        f"median area {blocks['area_m2'].median():.0f} m2, {t_blocks:.2f} s; population "
        f"{res.population.sum():.0f} in blocks ({t_pop:.2f} s); {adj.nnz // 2} adjacent "
        f"pairs; walks within 1.2 km: {walk.nnz} ({t_walk:.2f} s)"
    )


def test_the_audits_dasymetric_origins_sum_per_block() -> None:
    from lifecircle.io.population import origins_from_polygons

    g = street_grid([100.0, 200.0], [100.0, 200.0])
    blocks = _grid_blocks()
    polys = gpd.GeoDataFrame(
        {"population": [900.0], "population_method": ["census"]},
        geometry=[shapely.box(0, 0, 300, 300)],
        crs=CRS,
    )
    origins = origins_from_polygons(g, polys)
    res = B.block_population(blocks, origins)
    # origins on a street lie on the border of two blocks: each counts once
    placed = float(origins.points["population"].sum())
    assert res.population.sum() + res.report["population_outside_blocks"] == pytest.approx(placed)
    assert res.report["method"].startswith("points in blocks (dasymetric")
