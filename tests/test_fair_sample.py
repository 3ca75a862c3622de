"""Fair service on the bundled sample: cohorts, supply-demand, equity, critical facilities,
data completeness and --close (slow: they audit the sample)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lifecircle import columns

from .conftest import invoke


def test_kindergarten_coverage_of_children_next_to_all_residents(sample_result):
    r = sample_result
    s = r.summary
    kg = s.fair_service["kindergarten"]
    assert kg.cohort == "age_3_5"
    assert s.cohorts["age_3_5"]["method"] == "age bands"
    assert s.cohorts["age_3_5"]["columns"] == ["age_0_14"]
    # both figures exist and are computed on their own populations
    children = r.access[columns.pop("age_3_5")].to_numpy()
    covered = r.access[columns.time("kindergarten")].to_numpy() <= s.thresholds[
        "kindergarten"
    ].minutes * (1 + 1e-9)
    assert kg.covered_share == pytest.approx(children[covered].sum() / children.sum(), abs=1e-6)
    assert s.coverage["kindergarten"] == pytest.approx(
        r.access["population"][covered].sum() / r.access["population"].sum(), abs=1e-6
    )
    # the kindergarten walks at the child's speed (its cohort's profile)
    assert s.thresholds["kindergarten"].profile == "child"
    assert s.thresholds["elderly_care" if "elderly_care" in s.thresholds else "park"].profile


def test_cohorts_are_conserved_through_every_output(sample_result):
    r = sample_result
    for cohort, info in r.summary.cohorts.items():
        total = float(r.access[columns.pop(cohort)].sum())
        assert info["residents"] == pytest.approx(total, abs=0.2)
        for table in r.units.values():
            assert float(np.nansum(table[columns.pop(cohort)])) == pytest.approx(total, rel=1e-9)
    # children are a few per cent of the residents (census shares 8-11% aged 0-14)
    share = r.summary.cohorts["age_3_5"]["residents"] / r.summary.population.total
    assert 0.01 < share < 0.03


def test_supply_demand_and_unmet_places_per_street(sample_result):
    r = sample_result
    street = r.units["street"]
    analysed = street[street["units_analysed"] > 0]
    for col in ("sd", "placed", "unmet"):
        name = getattr(columns, col)("kindergarten")
        assert analysed[name].notna().all(), name
    # unmet = children - placed children, per street
    children = analysed[columns.pop("age_3_5")]
    assert np.allclose(
        analysed[columns.unmet("kindergarten")],
        children * (1 - analysed[columns.placed("kindergarten")]),
        atol=1e-6,
    )
    kg = r.summary.fair_service["kindergarten"]
    assert kg.supply_unit == "places" and kg.capacity_from == "default"
    assert kg.capacity_verified is False
    assert kg.unmet == pytest.approx(float(analysed[columns.unmet("kindergarten")].sum()), abs=0.5)
    # facilities: capacity, load within capacity, the 2SFCA ratio
    fac = r.facilities[r.facilities["category"] == "kindergarten"]
    assert (fac["load"].fillna(0) <= fac["capacity"] + 1e-6).all()


def test_equity_ranks_lorenz_and_worst_served(sample_result):
    r = sample_result
    eq = r.summary.equity["score"]
    assert 0 <= eq["gini"] < 1
    assert eq["lorenz"]["weight_share"][0] == 0 and eq["lorenz"]["value_share"][-1] == 1
    street = r.units["street"]
    scored = street[street["score"].notna()]
    worst = set(scored.loc[scored["decile"] == 1, "unit_id"])
    assert worst == set(r.summary.equity["worst_served_units"])
    assert scored.loc[scored["rank"] == 1, "score"].iloc[0] == scored["score"].min()
    kg = r.summary.fair_service["kindergarten"].equity_residents
    assert kg["theil"]["between"] + kg["theil"]["within"] == pytest.approx(
        kg["theil"]["total"], abs=2e-4
    )


def test_critical_facilities_and_thin_data(sample_result):
    r = sample_result
    crit = r.summary.critical_facilities
    assert crit and crit[0]["sole_dependants"] >= crit[-1]["sole_dependants"] > 0
    fac = r.facilities.set_index("facility_id")
    top = crit[0]
    assert fac.loc[top["facility_id"], "sole_dependants"] == pytest.approx(
        top["sole_dependants"], abs=0.1
    )
    kg = r.summary.data_completeness["kindergarten"]
    assert kg.thin and kg.expected_verified is False
    assert any(w.startswith("kindergarten: only") for w in r.summary.warnings)


def test_close_reaudits_and_reports_the_change(sample_result, tmp_path):
    """Closing the most critical facility loses exactly its sole dependants' coverage."""
    top = sample_result.summary.critical_facilities[0]
    ids = tmp_path / "close.csv"
    ids.write_text(f"facility_id\n{top['facility_id']}\n", encoding="utf-8")
    out = tmp_path / "out"
    res = invoke(["audit", "--close", ids, "--out", out, "--no-map", "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert [c["facility_id"] for c in summary["closure"]["closed"]] == [top["facility_id"]]
    # summary.json lists the files of this run, closure.csv with them
    assert "closure.csv" in summary["outputs"]
    assert set(summary["outputs"]) <= {p.name for p in out.iterdir()}
    with (out / "closure.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    finest = [r for r in rows if r["level"] == "street" and r["category"] == top["category"]]
    assert sum(float(r["lose_coverage"]) for r in finest) == pytest.approx(
        top["sole_dependants"], abs=1.0
    )
    assert str(top["facility_id"]) not in {
        str(i) for i in __import__("geopandas").read_file(out / "facilities.gpkg")["facility_id"]
    }
