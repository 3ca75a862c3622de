"""lifecircle delineate on a tiny city: committees recombined into 10-minute life circles.

The 6 x 6 street grid of ``tiny_osm`` (about 95 x 111 m blocks) carries one district, two
streets (west, east) and eight residents' committees, 2 x 2 per street:

    row 1:  A1 A2 | B1 B2
    row 0:  A3 A4 | B3 B4

Committees hold 8,000 residents each (A4: 9,000), so a street (32-33k) cannot be one
10-minute unit (15,000-25,000) but splits into two pairs of committees; every walk is
within 10 minutes.
"""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import scipy.sparse as sp
import shapely
from scipy.sparse.csgraph import connected_components

import lifecircle
from lifecircle.delineate import delineate, units_file_frame
from lifecircle.errors import ConfigError

from .conftest import LAT0, LON0, invoke

STEP = 0.001


def _box(c0: float, r0: float, c1: float, r1: float) -> shapely.Polygon:
    return shapely.box(LON0 + c0 * STEP, LAT0 + r0 * STEP, LON0 + c1 * STEP, LAT0 + r1 * STEP)


@pytest.fixture(scope="module")
def tiny_units(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    d = tmp_path_factory.mktemp("delineate")
    rows = [("D", "district", None, _box(0, 0, 5, 5))]
    rows += [
        ("SA", "street A", "D", _box(0, 0, 2.5, 5)),
        ("SB", "street B", "D", _box(2.5, 0, 5, 5)),
    ]
    pops = {}
    for street, c0 in (("A", 0.0), ("B", 2.5)):
        cells = [(1, 0, 0), (2, 1, 0), (3, 0, 1), (4, 1, 1)]  # name, column, row (1 = top)
        for k, col, row in cells:
            uid = f"{street}{k}"
            r0 = 2.5 if row == 0 else 0.0
            rows.append(
                (
                    uid,
                    f"committee {uid}",
                    f"S{street}",
                    _box(c0 + col * 1.25, r0, c0 + (col + 1) * 1.25, r0 + 2.5),
                )
            )
            pops[uid] = 9000.0 if uid == "A4" else 8000.0
    units = gpd.GeoDataFrame(
        {
            "unit_id": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "parent_id": [r[2] for r in rows],
            "level": ["district", "street", "street"] + ["committee"] * 8,
        },
        geometry=[r[3] for r in rows],
        crs="EPSG:4326",
    )
    upath = d / "units.gpkg"
    units.to_file(upath)
    finest = units[units["unit_id"].isin(list(pops))]
    population = gpd.GeoDataFrame(
        {"population": [pops[u] for u in finest["unit_id"]]},
        geometry=finest.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    ppath = d / "population.gpkg"
    population.to_file(ppath)
    return upath, ppath


@pytest.fixture(scope="module")
def tiny_result(tiny_osm, tiny_facilities_csv, tiny_units):
    upath, ppath = tiny_units
    return _audit(tiny_osm, tiny_facilities_csv, upath, ppath)


def _audit(network, facilities, units, population):
    return lifecircle.audit(
        network, [facilities], units, population, osm_pois=False, keep_edge_units=True
    )


def _contiguous(d) -> bool:
    blocks = d.blocks.to_crs(3857)
    touch = blocks.geometry.apply(lambda g: blocks.geometry.intersection(g).length > 1).to_numpy()
    adj = sp.csr_matrix(np.vstack(touch).astype(int))
    for uid in d.units["unit_id"]:
        members = np.flatnonzero(d.blocks["unit_id"].to_numpy() == uid)
        if connected_components(adj[members][:, members], directed=False)[0] != 1:
            return False
    return True


def test_committees_pair_up_inside_their_streets(tiny_result):
    d = delineate(tiny_result, "10min", blocks="units")
    assert d.block_source == "units:street" or d.block_source.startswith("units:")
    assert d.parent_level == "street"
    assert len(d.units) == 4
    assert d.units["in_range"].all()
    assert d.partition.status == "optimal" and d.partition.gap == 0
    # nested: every unit inside one street, two per street; population conserved
    assert sorted(d.units["parent_id"]) == ["SA", "SA", "SB", "SB"]
    assert d.units["population"].sum() == pytest.approx(65000.0)
    assert sorted(d.units["population"]) == [16000.0, 16000.0, 16000.0, 17000.0]
    assert set(d.comparison["relation"]) == {"split"}
    assert d.comparison.set_index("unit_id")["lifecircle_units"].to_dict() == {"SA": 2, "SB": 2}
    assert _contiguous(d)
    assert (d.units["max_walk_min"] <= 10.0).all()
    assert (d.units["residents_beyond_level"] == 0).all()
    assert d.summary()["population_range"]["source"].startswith("GB 50180-2018 Table 3.0.4")
    # the library call
    assert lifecircle.delineate(tiny_result, "10min", blocks="units").units["population"].sum() == (
        pytest.approx(65000.0)
    )


def test_the_units_file_audits(tiny_result, tiny_osm, tiny_facilities_csv, tiny_units, tmp_path):
    d = delineate(tiny_result, "10min", blocks="units")
    frame = units_file_frame(d, tiny_result.hierarchy)
    levels = ["district", "street", "lifecircle_10min", "committee"]
    assert list(frame["level"].unique()) == levels
    # each committee sits in the life-circle unit its block went to
    lc_of = d.blocks.set_index("block_id")["unit_id"]
    committees = frame[frame["level"] == "committee"].set_index("unit_id")["parent_id"]
    assert committees.to_dict() == lc_of.reindex(committees.index).to_dict()
    path = tmp_path / "lifecircle-units.gpkg"
    frame.to_file(path)
    again = _audit(tiny_osm, tiny_facilities_csv, path, tiny_units[1])
    assert again.hierarchy.levels == levels
    lc = again.units["lifecircle_10min"]
    assert sorted(lc["unit_id"]) == sorted(d.units["unit_id"])
    # the audit's residents per life-circle unit are the delineation's
    got = lc.set_index("unit_id")["population"].sort_index().to_numpy(float)
    want = d.units.set_index("unit_id")["population"].sort_index().to_numpy(float)
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_across_streets_and_errors(tiny_result):
    d = delineate(tiny_result, "10min", blocks="units", across="street")
    assert d.parent_level == "district"
    assert d.units["in_range"].all()
    assert d.units["population"].sum() == pytest.approx(65000.0)
    with pytest.raises(ConfigError, match="not a level"):
        delineate(tiny_result, "20min")
    with pytest.raises(ConfigError, match="not a governance level"):
        delineate(tiny_result, "10min", across="city")


def test_cli_writes_the_outputs(tiny_osm, tiny_facilities_csv, tiny_units, tmp_path):
    upath, ppath = tiny_units
    out = tmp_path / "o"
    res = invoke(
        [
            "delineate",
            "--network",
            tiny_osm,
            "--facilities",
            tiny_facilities_csv,
            "--units",
            upath,
            "--population",
            ppath,
            "--no-osm-pois",
            "--keep-edge-units",
            "--level",
            "10min",
            "--blocks",
            "units",
            "--no-map",
            "--out",
            out,
        ]
    )
    assert res.exit_code == 0, res.output
    assert "4 units" in res.output
    summary = json.loads((out / "delineate.json").read_text(encoding="utf-8"))
    assert summary["units_in_range"] == 4
    assert (out / "lifecircle-units.gpkg").exists() and (out / "delineate-comparison.csv").exists()
    res = invoke(["delineate", "--network", tiny_osm, "--level", "9min", "--out", tmp_path / "x"])
    assert res.exit_code == 2


# --------------------------------------------------------------------------- the bundled sample


@pytest.mark.parametrize(("level", "across"), [("15min", "street"), ("10min", None)])
def test_sample_units_in_range_or_explained(sample_result, sample_paths, level, across, tmp_path):
    """Street blocks of the sample; every unit in range, or its parent's reason is given."""
    d = delineate(sample_result, level, across=across, time_limit_s=20)
    assert d.block_source == "street blocks"
    rng = d.population_range
    assert d.units["population"].sum() == pytest.approx(d.blocks["population"].sum())
    assert d.blocks["population"].sum() == pytest.approx(
        sample_result.access["population"].sum(), rel=1e-6
    )
    out_of_range = d.units[~d.units["in_range"]]
    if across is None:
        # each unit out of range lies in a parent whose reason is written
        explained = set(d.summary()["out_of_range"])
        assert set(out_of_range["parent_id"].astype(str)) <= explained
        assert set(d.comparison.loc[d.comparison["out_of_range"] != "", "unit_id"]) == explained
    else:
        assert len(out_of_range) <= len(d.units) // 4
    assert (d.units["population"][d.units["in_range"]] >= rng.min - 1e-6).all()
    assert (d.units["population"][d.units["in_range"]] <= rng.max + 1e-6).all()
    # the page shows them, and an audit runs on the new units
    page = d.to_map(tmp_path / "delineation.html").read_text(encoding="utf-8")
    assert d.units["unit_id"].iloc[0] in page and "OpenStreetMap" in page
    path = tmp_path / "lifecircle-units.gpkg"
    units_file_frame(d, sample_result.hierarchy).to_file(path)
    again = lifecircle.audit(
        sample_paths["network"], [sample_paths["facilities"]], path, sample_paths["population"]
    )
    assert again.hierarchy.levels[-1] == f"lifecircle_{level}"
    assert set(again.units[f"lifecircle_{level}"]["unit_id"]) <= set(d.units["unit_id"])
