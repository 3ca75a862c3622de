"""Candidate sites (auto and file) and the optimizer's sparse coverage matrix.

The coverage matrix must follow the audit's access convention: resident snap +
network distance + candidate snap, a parcel reached at the nearest point of its edge,
nothing beyond the radius.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from numpy.testing import assert_allclose, assert_array_equal
from scipy.sparse.csgraph import dijkstra

from lifecircle.access import access_distance, distances_within, snap_facilities
from lifecircle.candidates import candidates_auto, candidates_from_file
from lifecircle.errors import DataError, InputFormatError
from lifecircle.siting import SitingProblem, resident_snap

from .conftest import UTM, X0, Y0, grid, utm_box, utm_points

# --------------------------------------------------------------------------- distances_within


def brute_within(g, src_node, src_off, src_group, tgt_node, tgt_off, radius):
    """Dense reference: min over a group's sources of tgt_off + network + src_off."""
    full = dijkstra(g.adjacency, directed=False, indices=src_node)
    n_groups = int(src_group.max()) + 1
    out = np.full((len(tgt_node), n_groups), np.inf)
    for s, (grp, off) in enumerate(zip(src_group, src_off, strict=True)):
        out[:, grp] = np.minimum(out[:, grp], full[s, tgt_node] + tgt_off + off)
    out[out > radius] = np.inf
    return out


@pytest.mark.parametrize("chunk_size", [1, 2, 64])
def test_distances_within_matches_dense_dijkstra(chunk_size):
    g = grid(5, 6)  # 100 m blocks
    rng = np.random.default_rng(3)
    src_node = rng.integers(0, g.n_nodes, 9)
    src_off = rng.uniform(0, 40, 9)
    src_group = np.array([0, 0, 1, 2, 2, 2, 3, 4, 4])
    tgt_node = rng.integers(0, g.n_nodes, 40)
    tgt_off = rng.uniform(0, 40, 40)
    radius = 260.0
    got = distances_within(
        g,
        src_node,
        src_off,
        src_group,
        target_nodes=tgt_node,
        target_offset_m=tgt_off,
        radius_m=radius,
        chunk_size=chunk_size,
    )
    assert sp.issparse(got) and got.shape == (40, 5)
    want = brute_within(g, src_node, src_off, src_group, tgt_node, tgt_off, radius)
    dense = got.toarray()
    dense[dense == 0] = np.inf  # not stored = beyond the radius
    assert_allclose(dense, want)
    assert got.data.max() <= radius


def test_distances_within_keeps_the_radius_and_a_zero_distance():
    g = grid(1, 4)  # nodes at 0, 100, 200, 300 m
    got = distances_within(
        g,
        np.array([0]),
        np.array([0.0]),
        np.array([0]),
        target_nodes=np.array([0, 1, 2, 3]),
        target_offset_m=np.zeros(4),
        radius_m=200.0,
    ).toarray()
    # exactly the radius is within; exactly 0 is stored (as 1e-9) so it is not lost
    assert got[0, 0] == pytest.approx(1e-9)
    assert_allclose(got[1:, 0], [100.0, 200.0, 0.0])


@pytest.mark.slow
def test_coverage_matrix_follows_the_access_convention(sample_result):
    """Each column equals the audit's access distance from that candidate alone; a parcel's
    sources are the access points along its edge (the minimum over them)."""
    g = sample_result.graph
    origins = sample_result.access.to_crs(g.crs)
    rng = np.random.default_rng(7)
    picks = origins.geometry.iloc[rng.choice(len(origins), 4, replace=False)]
    geoms = [shapely.Point(p.x + 30, p.y - 20) for p in picks.iloc[:3]]
    p = picks.iloc[3]
    geoms.append(shapely.box(p.x - 60, p.y - 40, p.x + 60, p.y + 40))  # a parcel
    cand = gpd.GeoDataFrame(geometry=geoms, crs=g.crs)
    s = SitingProblem.from_audit(sample_result, "kindergarten", candidates=cand)
    assert s.distance.shape == (len(s.demand), 4)
    assert s.radius_m == pytest.approx(s.threshold_m)
    # the audit's snap (edge rule) for residents and candidates, one column at a time
    residents = resident_snap(sample_result, rule="edge", max_snap_m=500.0)
    assert_allclose(residents.snap_m, s.demand["snap_m"])
    for j, geom in enumerate(geoms):
        points = snap_facilities(g, gpd.GeoSeries([geom], crs=g.crs))
        want = access_distance(g, residents, points.snapped, cutoff_m=s.radius_m)
        got = s.distance[:, j].toarray().ravel()
        got[got == 0] = np.nan
        assert_allclose(got, want, atol=1e-6, equal_nan=True)
        assert np.isfinite(want).sum() > 0


# --------------------------------------------------------------------------- candidates_auto


def _uncovered(xy, population):
    return utm_points(xy, population=population)


def test_auto_candidates_are_unique_network_nodes_under_the_node_rule():
    g = grid(8, 8)
    rng = np.random.default_rng(0)
    xy = [tuple(p) for p in rng.uniform(0, 700, (60, 2))]
    unc = _uncovered(xy, rng.integers(1, 50, 60).astype(float))
    cand = candidates_auto(g, unc, n_candidates=10, seed=1, snap="node")
    assert 1 <= len(cand) <= 10
    assert cand["node"].is_unique
    assert_array_equal(cand["candidate_id"], np.arange(len(cand)))
    assert (cand["source"] == "auto").all()
    assert cand.crs == g.crs
    assert_allclose(cand.geometry.x, g.x[cand["node"]])
    assert_allclose(cand.geometry.y, g.y[cand["node"]])
    again = candidates_auto(g, unc, n_candidates=10, seed=1, snap="node")
    assert_array_equal(again["node"], cand["node"])  # reproducible with a seed
    assert (cand["edge"] == -1).all()


def test_auto_candidates_are_unique_points_on_the_streets_under_the_edge_rule():
    g = grid(8, 8)
    rng = np.random.default_rng(0)
    xy = [tuple(p) for p in rng.uniform(0, 700, (60, 2))]
    unc = _uncovered(xy, rng.integers(1, 50, 60).astype(float))
    cand = candidates_auto(g, unc, n_candidates=10, seed=1)
    assert 1 <= len(cand) <= 10
    x, y = cand.geometry.x.to_numpy() - X0, cand.geometry.y.to_numpy() - Y0
    # on a street of the 100 m grid: one coordinate is a multiple of 100
    on_street = (np.abs(x - np.round(x, -2)) < 1e-6) | (np.abs(y - np.round(y, -2)) < 1e-6)
    assert on_street.all()
    assert len(np.unique(np.round(np.column_stack([x, y]), 3), axis=0)) == len(cand)
    # the site is the point of its edge nearest to the cluster centre: its edge is recorded
    u, v = g.edge_u[cand["edge"]], g.edge_v[cand["edge"]]
    assert (
        (np.minimum(g.x[u], g.x[v]) - 1e-6 <= x + X0)
        & (x + X0 <= np.maximum(g.x[u], g.x[v]) + 1e-6)
    ).all()
    again = candidates_auto(g, unc, n_candidates=10, seed=1)
    assert_allclose(again.geometry.x, cand.geometry.x)


def test_auto_candidates_with_few_uncovered_residents_use_their_nodes():
    g = grid(4, 4)
    unc = _uncovered([(10, 5), (290, 310), (205, 95)], [5.0, 1.0, 2.0])
    cand = candidates_auto(g, unc, n_candidates=300, snap="node")
    assert sorted(cand["node"]) == [0, 6, 15]  # the nearest node of each resident


def test_auto_candidates_with_few_uncovered_residents_use_their_street_points():
    g = grid(4, 4)
    unc = _uncovered([(10, 5), (290, 310), (205, 95)], [5.0, 1.0, 2.0])
    cand = candidates_auto(g, unc, n_candidates=300)
    # (10, 5): the street y = 0 is 5 m away (x = 0 is 10 m): the site is (10, 0).
    # (290, 310): 10 m above the top street y = 300 (edge 14-15): the site is (290, 300).
    # (205, 95): 5 m from the street x = 200 (edge 2-6) and from y = 100 (edge 6-7): a tie,
    #   broken by the smaller edge index, (2, 6): the site is (200, 95). Sorted by x, y.
    assert_allclose(cand.geometry.x - X0, [10, 200, 290], atol=1e-9)
    assert_allclose(cand.geometry.y - Y0, [0, 95, 300], atol=1e-9)
    e = cand["edge"].to_numpy()
    assert [g.edge_u[e[1]], g.edge_v[e[1]]] == [2, 6]
    assert list(cand["node"]) == [0, 6, 15]  # the nearer end of each site's edge


def test_auto_candidates_keep_the_minimum_spacing():
    g = grid(6, 6)
    xy = [(x, y) for x in range(0, 501, 100) for y in range(0, 501, 100)]
    unc = _uncovered(xy, np.ones(len(xy)))
    existing = utm_points([(0, 0)], category=["kindergarten"])
    cand = candidates_auto(g, unc, existing, n_candidates=36, min_spacing_m=250.0)
    assert_allclose(cand.geometry.x, g.x[cand["node"]])  # residents on nodes: sites too
    d = np.hypot(g.x[cand["node"]] - X0, g.y[cand["node"]] - Y0)
    assert (d >= 250.0).all()
    assert len(cand) == 36 - 8  # within 250 m: (0|100|200, 0), (0|100, 100), (0|100, 200)
    with pytest.raises(DataError, match="min-spacing-m"):
        candidates_auto(g, unc, existing, n_candidates=36, min_spacing_m=10_000.0)


def test_auto_candidates_need_uncovered_residents():
    g = grid(2, 2)
    with pytest.raises(DataError, match="already covered"):
        candidates_auto(g, _uncovered([], []), n_candidates=5)


# --------------------------------------------------------------------------- candidates_from_file


def test_file_candidates_points_and_parcels(tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["site a", None, "line"]},
        geometry=[
            shapely.Point(X0, Y0),
            utm_box(100, 100, 180, 160),
            shapely.LineString([(X0, Y0), (X0 + 50, Y0)]),
        ],
        crs=UTM,
    )
    path = tmp_path / "cands.gpkg"
    frame.to_file(path)
    cand = candidates_from_file(path)
    assert len(cand) == 2  # the line is not a site
    assert list(cand.geom_type) == ["Point", "Polygon"]
    assert cand["name"].iloc[0] == "site a" and cand["name"].isna().iloc[1]
    assert (cand["source"] == "cands.gpkg").all()
    assert_array_equal(cand["candidate_id"], [0, 1])


def test_file_candidates_only_lines_or_empty(tmp_path):
    lines = gpd.GeoDataFrame(geometry=[shapely.LineString([(X0, Y0), (X0 + 50, Y0)])], crs=UTM)
    lines.to_file(tmp_path / "lines.gpkg")
    with pytest.raises(InputFormatError, match="points or polygons"):
        candidates_from_file(tmp_path / "lines.gpkg")
    empty = tmp_path / "empty.geojson"
    empty.write_text('{"type": "FeatureCollection", "features": []}', encoding="utf-8")
    with pytest.raises(InputFormatError, match="no features"):
        candidates_from_file(empty)


def test_cluster_centres_on_cells_are_seeded_and_follow_the_demand():
    from lifecircle.candidates import EXACT_KMEANS_WORK, cluster_centres

    rng = np.random.default_rng(2)
    # two dense blobs of residents and a thin spread: the large-input (cells) path
    n = 40_000
    xy = np.r_[
        rng.normal((1_000, 1_000), 150, (n // 2, 2)),
        rng.normal((8_000, 6_000), 150, (n // 2, 2)),
        rng.uniform(0, 10_000, (2_000, 2)),
    ]
    w = np.r_[np.full(n, 10.0), np.full(2_000, 1.0)]
    k = 200
    assert len(xy) * k > EXACT_KMEANS_WORK
    a = cluster_centres(xy, w, k, seed=3)
    b = cluster_centres(xy, w, k, seed=3)
    assert a.shape == (k, 2) and np.array_equal(a, b)
    near_blob = (np.hypot(*(a - (1_000, 1_000)).T) < 600) | (
        np.hypot(*(a - (8_000, 6_000)).T) < 600
    )
    assert near_blob.mean() > 0.8  # the centres sit where the demand is
    # few points: every point is a centre
    assert np.array_equal(cluster_centres(xy[:5], w[:5], 10), xy[:5])
