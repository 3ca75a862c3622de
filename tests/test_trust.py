"""Results that do not shift with unrelated options, and population that is conserved."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

import lifecircle
from lifecircle.coverage import edge_reach_m
from lifecircle.errors import DataError
from lifecircle.pipeline import check_population


@pytest.fixture(scope="module")
def variants(sample_result):
    return {
        "default": sample_result,
        "categories": lifecircle.audit(categories=["kindergarten", "park"]),
        "elderly": lifecircle.audit(profile="elderly"),
    }


@pytest.mark.slow
def test_categories_and_profile_do_not_change_the_analysed_units(variants):
    """The edge-effect rule depends on the network and the standard alone."""
    ref = variants["default"]
    for name, result in variants.items():
        assert result.analysed == ref.analysed, name
        assert result.summary.population.total == ref.summary.population.total, name
        assert len(result.access) == len(ref.access), name
        assert result.summary.units.catchment_m == ref.summary.units.catchment_m
    # 15 min at the fastest profile of GB 50180 (adult, 1.2 m/s)
    assert ref.summary.units.catchment_m == pytest.approx(15 * 72.0)
    assert edge_reach_m(ref.standard) == pytest.approx(1080.0)
    assert ref.summary.population.total == pytest.approx(769214.0, abs=1.0)


@pytest.mark.slow
def test_a_partial_category_list_says_completeness_is_not_computed(variants):
    summary = variants["categories"].summary.to_json()
    assert summary["complete_share"] is None
    assert summary["completeness"]["15min"]["computed"] is False
    assert "bus_stop" in summary["completeness"]["15min"]["missing"]
    assert summary["categories_not_audited_reason"]["bus_stop"] == "not_requested"
    assert summary["categories_not_audited_reason"]["elderly_care"] == "no_facilities"
    assert any("not computed" in w for w in summary["warnings"])


@pytest.mark.slow
def test_keep_edge_units_analyses_and_flags_them(sample_result):
    kept = lifecircle.audit(keep_edge_units=True)
    assert kept.analysed > sample_result.analysed
    street = kept.units["street"].set_index("unit_id")
    edge = street["edge_effect"].astype(bool)
    assert set(street.index[edge & street["analysed"].astype(bool)]) == (
        set(kept.summary.to_json()["units"]["edge_effect"])
    )
    assert (street.loc[edge, "catchment_inside_share"] < 0.99).all()
    assert (
        street.loc[~edge & street["population"].notna(), "catchment_inside_share"] >= 0.99
    ).all()
    assert any("--keep-edge-units" in w for w in kept.summary.to_json()["warnings"])
    default = sample_result.units["street"]
    analysed = default["analysed"].astype(bool)
    assert analysed.any() and not default.loc[analysed, "edge_effect"].astype(bool).any()
    assert sample_result.summary.to_json()["units"]["edge_effect"] == []


@pytest.mark.slow
def test_summary_names_the_study_and_its_area(sample_result):
    study = sample_result.summary.to_json()["study"]
    assert study["name"] == "streets.osm.pbf"  # the library default: the network's name
    assert 10 < study["area_km2"] < 60  # 16 analysed streets of central Shanghai
    named = lifecircle.audit(name="Central Shanghai sample", categories=["park"])
    assert named.summary.to_json()["study"]["name"] == "Central Shanghai sample"
    assert named.summary.to_json()["study"]["area_km2"] == study["area_km2"]


def _tables():
    access = pd.DataFrame({"unit_id": ["A", "A", "B"], "population": [1.0, 2.0, 4.0]})
    units = {
        "street": gpd.GeoDataFrame(
            {"unit_id": ["A", "B"], "population": [3.0, 4.0]},
            geometry=gpd.points_from_xy([0, 1], [0, 1]),
        ),
        "district": gpd.GeoDataFrame(
            {"unit_id": ["D"], "population": [7.0]}, geometry=gpd.points_from_xy([0], [0])
        ),
    }

    class Hierarchy:
        finest = "street"

    return access, units, Hierarchy()


def test_population_check_passes_when_everything_adds_up():
    access, units, hierarchy = _tables()
    check_population(access, access, units, hierarchy, {"population": 7.0})


@pytest.mark.parametrize("broken", ["unit", "access", "summary", "rollup"])
def test_population_check_names_what_lost_residents(broken):
    access, units, hierarchy = _tables()
    out, city = access.copy(), {"population": 7.0}
    if broken == "unit":
        units["street"].loc[1, "population"] = 3.0
    elif broken == "access":
        out = access.iloc[:2]
    elif broken == "summary":
        city["population"] = 6.0
    else:
        units["district"].loc[0, "population"] = np.nan
    with pytest.raises(DataError, match="population is not conserved") as err:
        check_population(access, out, units, hierarchy, city)
    where = {
        "unit": "street B",
        "access": "access.parquet",
        "summary": "summary.json",
        "rollup": "units.gpkg layer district",
    }[broken]
    assert where in str(err.value)
