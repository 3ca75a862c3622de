"""Population polygons -> weighted origins on the walk network (dasymetric allocation)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from numpy.testing import assert_allclose

import lifecircle

from .conftest import UTM, X0, Y0, grid, utm_box

# A 5 x 5 grid with 100 m blocks: nodes at (100c, 100r), c, r = 0..4; node id r*5 + c.
# Its extent (convex hull) is the square 0..400. An interior node has 4 incident edges
# (weight 4 * 100 / 2 = 200 m of street), a node on the side 3 (150 m), a corner 2 (100 m).


def polys(boxes, populations, method="census"):
    return gpd.GeoDataFrame(
        {"population": populations, "population_method": method},
        geometry=[utm_box(*b) for b in boxes],
        crs=UTM,
    )


def by_node(origins) -> dict[int, float]:
    pts = origins.points
    return dict(zip(pts["node"].astype(int), pts["population"], strict=True))


def test_population_is_conserved_inside_the_extent():
    g = grid(5, 5)
    # P1 holds nodes 6, 7, 11, 12 (all interior, weight 200); P2 nodes 8, 13, 18
    pop = polys([(50, 50, 250, 250), (250, 50, 350, 350)], [1000.0, 600.0])
    origins = lifecircle.origins_from_polygons(g, pop)
    got = by_node(origins)
    assert got == pytest.approx(
        {6: 250.0, 7: 250.0, 11: 250.0, 12: 250.0, 8: 200.0, 13: 200.0, 18: 200.0}
    )
    assert origins.points["population"].sum() == pytest.approx(1600.0)
    rep = origins.report
    assert rep["population_input"] == 1600.0
    assert rep["population_allocated"] == pytest.approx(1600.0)
    assert rep["polygons_partly_outside_network"] == 0
    assert rep["polygons_outside_network"] == 0
    pts = origins.points
    assert list(pts["origin_id"]) == list(range(7))
    assert pts.crs == g.crs
    assert (pts["population_method"] == "census").all()
    assert_allclose(pts.geometry.x, g.x[pts["node"]])
    assert_allclose(pts.geometry.y, g.y[pts["node"]])
    assert "dasymetric" in origins.method


def _classed_grid(residential_edges: set[tuple[int, int]]) -> lifecircle.WalkGraph:
    """5 x 5 grid where only the given edges (node index pairs) are residential."""
    idx = np.arange(25).reshape(5, 5)
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    cls = np.array(
        [
            "residential" if (a, b) in residential_edges else "primary"
            for a, b in zip(u, v, strict=True)
        ],
        dtype=object,
    )
    r, c = np.divmod(np.arange(25), 5)
    return lifecircle.graph_from_edges(
        np.arange(25), X0 + 100.0 * c, Y0 + 100.0 * r, u, v, crs=UTM, edge_class=cls
    )


def test_residential_streets_weight_the_allocation():
    # residential: 5-6 and 6-7 (row 1). The polygon holds nodes 6, 7, 8, 11, 12, 13.
    # residential length around them: node 6: (100 + 100) / 2 = 100; node 7: 50; others 0
    g = _classed_grid({(5, 6), (6, 7)})
    origins = lifecircle.origins_from_polygons(g, polys([(50, 50, 350, 250)], [900.0]))
    assert by_node(origins) == pytest.approx({6: 600.0, 7: 300.0})
    assert origins.report["polygons_without_residential_streets"] == 0


def test_polygon_without_residential_street_falls_back_to_all_streets():
    g = _classed_grid({(5, 6), (6, 7)})
    # second polygon: nodes 16, 17, 18 on row 3, all primary -> weight 200 each
    origins = lifecircle.origins_from_polygons(
        g, polys([(50, 50, 350, 250), (50, 250, 350, 350)], [900.0, 300.0])
    )
    assert by_node(origins) == pytest.approx({6: 600.0, 7: 300.0, 16: 100.0, 17: 100.0, 18: 100.0})
    assert origins.report["polygons_without_residential_streets"] == 1


def test_polygon_half_outside_keeps_half_its_population():
    g = grid(5, 5)
    # x 250..550 of which 250..400 lies inside the extent: half. Nodes inside: 8 (interior,
    # 200 m) and 9 (on the east side, 150 m): 500 split 200:150
    origins = lifecircle.origins_from_polygons(g, polys([(250, 50, 550, 150)], [1000.0]))
    assert by_node(origins) == pytest.approx({8: 500 * 200 / 350, 9: 500 * 150 / 350})
    rep = origins.report
    assert rep["population_allocated"] == pytest.approx(500.0)
    assert rep["polygons_partly_outside_network"] == 1


def test_polygons_outside_or_without_nodes_are_reported():
    g = grid(5, 5)
    pop = polys(
        [
            (1000, 1000, 1200, 1200),  # outside the street data
            (110, 110, 190, 190),
        ],  # inside a block: no node
        [70.0, 30.0],
    )
    origins = lifecircle.origins_from_polygons(g, pop)
    assert len(origins.points) == 0
    rep = origins.report
    assert rep["polygons_outside_network"] == 1
    assert rep["polygons_without_nodes"] == 1
    assert rep["population_without_nodes"] == pytest.approx(30.0)
    assert rep["population_allocated"] == 0.0


def test_population_method_column_is_optional():
    g = grid(5, 5)
    pop = gpd.GeoDataFrame({"population": [100.0]}, geometry=[utm_box(50, 50, 250, 250)], crs=UTM)
    origins = lifecircle.origins_from_polygons(g, pop)
    assert origins.points["population"].sum() == pytest.approx(100.0)


def test_node_on_a_shared_border_belongs_to_one_polygon():
    g = grid(5, 5)
    # the border x = 200 runs through nodes 7, 12, 17
    origins = lifecircle.origins_from_polygons(
        g, polys([(50, 50, 200, 350), (200, 50, 350, 350)], [900.0, 900.0])
    )
    assert origins.points["population"].sum() == pytest.approx(1800.0)
    assert {7, 12, 17} <= set(by_node(origins))


# --------------------------------------------------------------------------- read_population


def test_read_population_reads_and_defaults_the_method(tmp_path):
    path = tmp_path / "pop.gpkg"
    gpd.GeoDataFrame(
        {"population": [10, 20]},
        geometry=[utm_box(0, 0, 100, 100), utm_box(100, 0, 200, 100)],
        crs=UTM,
    ).to_file(path)
    pop = lifecircle.read_population(path)
    assert list(pop.columns) == ["population", "population_method", "polygon_id", "geometry"]
    assert list(pop["polygon_id"]) == ["row 1", "row 2"]  # no unit_id column: file order
    assert list(pop["population"]) == [10.0, 20.0]
    assert (pop["population_method"] == "given").all()


def test_read_population_missing_column_names_file_and_field(tmp_path):
    path = tmp_path / "pop.gpkg"
    gpd.GeoDataFrame({"inhabitants": [10]}, geometry=[utm_box(0, 0, 100, 100)], crs=UTM).to_file(
        path
    )
    with pytest.raises(lifecircle.InputFormatError, match="'population'") as err:
        lifecircle.read_population(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "inhabitants" in msg  # what was found
    assert "add a numeric" in msg  # how to fix it


def test_read_population_negative_values_name_file_and_field(tmp_path):
    path = tmp_path / "pop.gpkg"
    gpd.GeoDataFrame(
        {"population": [10.0, -5.0, 3.0]},
        geometry=[utm_box(0, 0, 100, 100), utm_box(100, 0, 200, 100), utm_box(200, 0, 300, 100)],
        crs=UTM,
    ).to_file(path)
    with pytest.raises(lifecircle.InputFormatError, match="non-negative") as err:
        lifecircle.read_population(path)
    msg = str(err.value)
    assert str(path) in msg
    assert "'population'" in msg
    assert "1 row(s)" in msg


def test_read_population_missing_file(tmp_path):
    with pytest.raises(lifecircle.InputFileError, match="--population"):
        lifecircle.read_population(tmp_path / "nope.gpkg")


def test_nodes_looked_up_in_chunks_give_the_pairs_of_one_query(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks of nodes (population.NODE_CHUNK) list the same pairs, in the same order."""
    import shapely

    from lifecircle.io import population

    rng = np.random.default_rng(7)
    # overlapping boxes, nodes inside, outside and on their borders (shared borders too)
    boxes = [shapely.box(x, y, x + 300.0, y + 200.0) for x, y in rng.uniform(0, 900, (40, 2))]
    polys = gpd.GeoDataFrame(geometry=boxes, crs=UTM)
    x = np.concatenate([rng.uniform(-50, 1300, 2000), [b.bounds[0] for b in boxes]])
    y = np.concatenate([rng.uniform(-50, 1200, 2000), [b.bounds[1] + 50.0 for b in boxes]])
    want_node, want_poly = polys.sindex.query(shapely.points(x, y), predicate="intersects")
    monkeypatch.setattr(population, "NODE_CHUNK", 97)
    poly, node = population._polygons_of_nodes(polys, x, y)
    assert len(poly) > len(x) // 2
    np.testing.assert_array_equal(node, want_node)
    np.testing.assert_array_equal(poly, want_poly)
    empty = population._polygons_of_nodes(polys, x[:0], y[:0])
    assert all(len(a) == 0 for a in empty)
