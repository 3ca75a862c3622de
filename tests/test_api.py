"""The library API: `lifecircle.audit()` on the bundled sample and its internal consistency."""

from __future__ import annotations

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest

import lifecircle
from lifecircle.summary import AuditSummary


def test_public_names_exist():
    assert len(lifecircle.__all__) == len(set(lifecircle.__all__))
    for name in lifecircle.__all__:
        assert hasattr(lifecircle, name), name
    assert lifecircle.__version__ == "0.1.0"
    # every user error is a LifecircleError and the matching built-in
    assert issubclass(lifecircle.InputFileError, FileNotFoundError)
    for cls in (
        lifecircle.InputFormatError,
        lifecircle.CRSError,
        lifecircle.ConfigError,
        lifecircle.DataError,
    ):
        assert issubclass(cls, ValueError)
    for name in ["InputFileError", "InputFormatError", "CRSError", "ConfigError", "DataError"]:
        assert issubclass(getattr(lifecircle, name), lifecircle.LifecircleError)


def test_audit_result_shape(sample_result):
    r = sample_result
    assert isinstance(r, lifecircle.AuditResult)
    assert isinstance(r.access, gpd.GeoDataFrame)
    assert r.access.crs.to_epsg() == 4326
    assert len(r.access) > 1000
    assert isinstance(r.units, dict)
    assert list(r.units) == ["district", "street"]
    for table in r.units.values():
        assert isinstance(table, gpd.GeoDataFrame)
        assert table.crs.to_epsg() == 4326
    assert isinstance(r.gaps, pd.DataFrame)
    assert isinstance(r.summary, AuditSummary)
    assert r.standard.id == "gb50180-2018"
    assert r.profile.id == "adult"
    assert isinstance(r.graph, lifecircle.WalkGraph)
    assert r.facilities.crs.to_epsg() == 4326


def test_to_networkx_on_the_sample(sample_result):
    g = sample_result.graph
    G = g.to_networkx()
    assert G.number_of_nodes() == g.n_nodes
    assert G.number_of_edges() == g.n_edges
    assert nx.is_connected(G)
    total = sum(d for _, _, d in G.edges(data="length"))
    assert total == pytest.approx(g.edge_length.sum())
    assert total / 1000 == pytest.approx(sample_result.summary.network.length_km, abs=1e-3)
    assert G.graph["crs"] == "EPSG:32651"
    some = int(np.argmax(g.edge_length))
    u, v = int(g.edge_u[some]), int(g.edge_v[some])
    assert G.edges[u, v]["length"] == pytest.approx(g.edge_length[some])


def test_population_totals_agree(sample_result):
    r = sample_result
    total = r.access["population"].sum()
    assert r.summary.to_json()["population"]["total"] == pytest.approx(total, abs=0.05)
    street = r.units["street"]
    assert street["population"].sum() == pytest.approx(total, rel=1e-9)  # NaN skipped
    district = r.units["district"]
    assert district["population"].sum() == pytest.approx(total, rel=1e-9)
    assert street["n_origins"].sum() == len(r.access)
    assert r.summary.to_json()["origins"]["analysed"] == len(r.access)


def test_district_complete_share_is_weighted_mean_of_its_analysed_streets(sample_result):
    street = sample_result.units["street"]
    district = sample_result.units["district"].set_index("unit_id")
    analysed = street[street["population"].notna()]
    assert analysed["parent_id"].nunique() >= 1
    checked = 0
    for did, group in analysed.groupby("parent_id"):
        w = group["population"]
        for col in ["score", "cov_kindergarten", "cov_park"]:
            expected = (group[col] * w).sum() / w.sum()
            assert district.loc[did, col] == pytest.approx(expected, abs=1e-12), (did, col)
        assert district.loc[did, "population"] == pytest.approx(w.sum())
        assert district.loc[did, "units_analysed"] == len(group)
        checked += 1
    assert checked == int(district["population"].notna().sum())


def test_street_coverage_recomputed_from_the_access_table(sample_result):
    r = sample_result
    std = r.standard
    street = r.units["street"].set_index("unit_id")
    cats = r.summary.to_json()["categories_audited"]
    mandatory = [c for c in cats if std.category(c).mandatory]
    covered = pd.DataFrame(
        {c: r.access[f"time_{c}_min"] <= std.category(c).threshold_min for c in cats}
    )
    pop = r.access["population"]
    for uid, idx in r.access.groupby("unit_id").groups.items():
        p = pop.loc[idx]
        for c in cats:
            assert street.loc[uid, f"cov_{c}"] == pytest.approx(
                (covered.loc[idx, c] * p).sum() / p.sum(), abs=1e-12
            )
        score = covered.loc[idx, mandatory].mean(axis=1)
        assert street.loc[uid, "score"] == pytest.approx((score * p).sum() / p.sum(), abs=1e-12)
        # the sample has no elderly care nor community service station: completeness
        # needs every mandatory category, so it is not computed
        assert np.isnan(street.loc[uid, "complete_share"])
    # city-wide figures in the summary
    for c in cats:
        assert r.summary.to_json()["coverage"][c] == pytest.approx(
            (covered[c] * pop).sum() / pop.sum(), abs=1e-6
        )
    score = covered[mandatory].mean(axis=1)
    assert r.summary.to_json()["score"] == pytest.approx((score * pop).sum() / pop.sum(), abs=1e-6)
    assert r.summary.to_json()["complete_share"] is None


def test_gaps_follow_from_the_unit_tables(sample_result):
    r = sample_result
    gaps = r.gaps
    assert (np.diff(gaps["uncovered_population"].to_numpy()) <= 1e-6).all()
    for row in gaps.head(20).itertuples():
        unit = r.units[row.level].set_index("unit_id").loc[row.unit_id]
        cov = unit[f"cov_{row.category}"]
        assert row.uncovered_share == pytest.approx(1 - cov)
        assert row.uncovered_population == pytest.approx(unit["population"] * (1 - cov))


def test_access_rows_carry_their_district(sample_result):
    r = sample_result
    parents = r.units["street"].set_index("unit_id")["parent_id"]
    assert (r.access["unit_district"] == r.access["unit_id"].map(parents)).all()


def test_excluded_units_are_listed_with_a_reason(sample_result):
    units = sample_result.summary.to_json()["units"]
    street = sample_result.units["street"]
    n_analysed = int(street["population"].notna().sum())
    assert units["analysed"]["street"] == n_analysed
    assert len(units["excluded"]) == units["total"]["street"] - n_analysed
    assert all(e["reason"] for e in units["excluded"])
    excluded = {e["unit_id"] for e in units["excluded"]}
    assert street.loc[street["unit_id"].isin(excluded), "population"].isna().all()


def test_audit_argument_errors():
    with pytest.raises(lifecircle.DataError, match="--network"):
        lifecircle.audit(facilities=["x.gpkg"])
    with pytest.raises(lifecircle.ConfigError, match="no category 'kindergarden'"):
        lifecircle.audit(categories=["kindergarden"])
