"""Per-unit urban/rural rules, the rural audit, the village ledger and its CSV."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

import lifecircle
from lifecircle.errors import DataError
from lifecircle.io.units import read_units
from lifecircle.rural import classify_units, parse_classes

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "data" / "rural-example"


# ------------------------------------------------------------------ class codes


@pytest.mark.parametrize(
    ("value", "cls", "code"),
    [
        ("111", "urban", "111"),
        ("112", "urban", "112"),
        ("121", "town", "121"),
        ("122", "town", "122"),
        ("123", "town", "123"),
        ("210", "village", "210"),
        ("220", "village", "220"),
        (220, "village", "220"),  # read as a number
        (220.0, "village", "220"),  # or as a float by a spreadsheet
        ("310118101201220", "village", "220"),  # 12-digit code + class code
        ("310101001001111", "urban", "111"),
        ("town", "town", None),
        ("Rural", "village", None),
        ("乡村", "village", None),
        ("城区", "urban", None),
        ("130", None, None),  # not a class code
        ("3101181012012", None, None),  # 13 digits: not code + class
        ("", None, None),
        (None, None, None),
        ("=cmd|' /C calc'!A0", None, None),  # hostile cells are just not understood
    ],
)
def test_parse_classes(value, cls, code):
    got_cls, got_code = parse_classes(pd.Series([value], dtype=object))
    assert (None if pd.isna(got_cls[0]) else got_cls[0]) == cls
    assert (None if pd.isna(got_code[0]) else got_code[0]) == code


def _box(x0, y0, size=0.01):
    return shapely.box(121.0 + x0, 31.0 + y0, 121.0 + x0 + size, 31.0 + y0 + size)


def _mixed_units(tmp_path, codes, column="urban_rural_code"):
    """A units file: one district, committees with the given class values."""
    rows = [
        {
            "unit_id": "D",
            "name": "区",
            "parent_id": None,
            column: None,
            "geometry": _box(0, 0, 0.05),
        }
    ]
    for i, code in enumerate(codes):
        rows.append(
            {
                "unit_id": f"U{i}",
                "name": f"单元{i}",
                "parent_id": "D",
                column: code,
                "geometry": _box(0.01 * i, 0.0),
            }
        )
    path = tmp_path / "units.geojson"
    gpd.GeoDataFrame(rows, crs="EPSG:4326").to_file(path)
    return path


def test_mixed_unit_file_gets_one_rule_per_unit(tmp_path):
    path = _mixed_units(tmp_path, ["111", "112", "121", "123", "220", "310118101201210"])
    hierarchy = read_units(path)
    pts = pd.DataFrame({"unit_id": [], "population": []})
    classes = classify_units(hierarchy, pts, units_path=path)
    table = classes.table.set_index("unit_id")
    assert table["urban_rural"].to_dict() == {
        "U0": "urban",
        "U1": "urban",
        "U2": "town",
        "U3": "town",
        "U4": "village",
        "U5": "village",
    }
    assert table.loc["U5", "urban_rural_code"] == "210"
    assert set(table["rule"]) == {"code"}
    assert classes.of("urban") == {"U0", "U1"}
    assert classes.column == "urban_rural_code"


def test_a_named_column_and_the_density_rule(tmp_path):
    path = _mixed_units(tmp_path, ["urban", None, "village", None], column="城乡")
    hierarchy = read_units(path)
    # about 1.06 km2 per unit (0.01 deg x 0.01 deg at 31 N); 5,000 and 50 residents
    pts = pd.DataFrame({"unit_id": ["U1", "U3"], "population": [5000.0, 50.0]})
    with pytest.raises(DataError, match=r"2 level1 units have no urban–rural class \(U1, U3\)"):
        classify_units(hierarchy, pts, units_path=path, column="城乡")
    classes = classify_units(hierarchy, pts, units_path=path, column="城乡", density_max=1500)
    table = classes.table.set_index("unit_id")
    assert table["urban_rural"].to_dict() == {
        "U0": "urban",
        "U1": "urban",  # ~4,700 per km2
        "U2": "village",
        "U3": "village",  # ~47 per km2
    }
    assert table["rule"].to_dict() == {
        "U0": "column",
        "U1": "density",
        "U2": "column",
        "U3": "density",
    }
    assert table.loc["U1", "density_per_km2"] == pytest.approx(5000 / 1.06, rel=0.02)


def test_a_missing_class_column_is_named(tmp_path):
    path = _mixed_units(tmp_path, ["111"])
    hierarchy = read_units(path)
    pts = pd.DataFrame({"unit_id": [], "population": []})
    with pytest.raises(DataError, match=r"no column 'klass' \(--urban-rural-column\)"):
        classify_units(hierarchy, pts, units_path=path, column="klass")


# ------------------------------------------------------------------ the rural example


@pytest.fixture(scope="module")
def rural_result():
    return lifecircle.audit(
        EXAMPLE / "streets.osm",
        units=EXAMPLE / "units.geojson",
        population=EXAMPLE / "population.geojson",
        rural_standard="shanghai-rural-2021",
    )


URBAN_IDS = {"319901001001", "319901001002"}
RURAL_IDS = {"319901101001", "319901101201", "319901101202", "319901101203", "319901101204"}


def test_each_unit_is_audited_under_its_own_standard(rural_result):
    r = rural_result
    ur = r.urban_rural
    finest = r.units["committee"]
    urban_rows = finest[finest["analysed"]]
    assert set(urban_rows["unit_id"]) == URBAN_IDS
    assert "cov_kindergarten" in finest.columns and "cov_village_clinic" not in finest.columns
    rural = ur.units["committee"]
    assert set(rural.loc[rural["analysed"], "unit_id"]) == RURAL_IDS
    assert "cov_village_clinic" in rural.columns and "cov_kindergarten" not in rural.columns
    classes = ur.classes.set_index("unit_id")
    assert (classes.loc[list(URBAN_IDS), "standard"] == "gb50180-2018").all()
    assert (classes.loc[list(RURAL_IDS), "standard"] == "shanghai-rural-2021").all()
    # residents: the urban part holds the urban units' only, the rural part the rest
    assert r.access["population"].sum() == pytest.approx(14000)
    assert ur.access["population"].sum() == pytest.approx(5000 + 1200 + 900 + 700 + 500)


def test_district_figures_keep_urban_and_rural_apart(rural_result):
    r = rural_result
    split = r.urban_rural.split.set_index("unit_id")
    district = split.loc["319901"]
    # the district's urban figure is its urban units' alone, equal to the street's
    assert district["population_urban"] == pytest.approx(14000)
    assert district["score_urban"] == pytest.approx(split.loc["319901001", "score_urban"])
    assert district["score_urban"] == pytest.approx(
        r.units["district"].set_index("unit_id").loc["319901", "score"]
    )
    # ... and its rural figure the town's
    assert district["population_rural"] == pytest.approx(8300)
    assert district["score_rural"] == pytest.approx(split.loc["319901101", "score_rural"])
    assert (district["units_urban"], district["units_town"], district["units_village"]) == (2, 1, 4)
    # the town has no urban figure to average into
    assert np.isnan(split.loc["319901101", "score_urban"])
    block = r.summary.to_json()["urban_rural"]
    assert block["units"] == {"urban": 2, "town": 1, "village": 4}
    assert block["residents"] == {"urban": 14000.0, "town": 5000.0, "village": 3300.0}
    assert block["urban"]["population"] == 14000.0
    assert block["rural"]["population"] == 8300.0


def test_village_ledger(rural_result):
    ledger = rural_result.urban_rural.ledger.set_index("name")
    assert list(ledger.index) == ["丁村", "乙村", "丙村", "甲村"]  # most lacking first
    assert ledger.loc["甲村", "n_lacking"] == 0
    assert ledger.loc["甲村", "lacks"] == ""
    assert ledger.loc["乙村", "lacks"] == "village_clinic;fitness_point"
    assert ledger.loc["丙村", "lacks"] == "elderly_room;village_shop"
    assert ledger.loc["丁村", "lacks"] == "village_clinic;elderly_room;village_shop;fitness_point"
    assert (ledger["village_committee_status"] == "inside").all()
    assert (ledger["village_committee_inside"] == 1).all()
    # 乙村 has no clinic: some of its residents reach 甲村's within 10 minutes, not all
    assert ledger.loc["乙村", "village_clinic_status"] == "partly"
    assert 0 < ledger.loc["乙村", "village_clinic_reached"] < 1
    assert ledger.loc["乙村", "village_clinic_inside"] == 0
    assert ledger.loc["甲村", "parent_name"] == "示例镇"
    summary = rural_result.summary.to_json()["urban_rural"]["village_ledger"]
    assert summary["villages"] == 4 and summary["villages_lacking_any"] == 3


def test_town_tier_counts_the_bicycle(rural_result):
    access = rural_result.urban_rural.access
    assert set(access["mode_town_health_center"].dropna()) <= {"walk", "bicycle"}
    by_bike = access["mode_town_health_center"] == "bicycle"
    assert by_bike.any()
    # a resident reached by bicycle: time = distance / 250.2 m/min, within 15 minutes
    row = access[by_bike].iloc[0]
    assert row["time_town_health_center_min"] == pytest.approx(
        row["dist_town_health_center_m"] / 250.2
    )


def test_outputs_with_rural_rules(rural_result, tmp_path):
    out = tmp_path / "out"
    written = {p.name for p in rural_result.write(out)}
    assert {"village_ledger.csv", "urban_rural.csv", "units.gpkg", "summary.json"} <= written
    layers = set(gpd.list_layers(out / "units.gpkg")["name"])
    assert {"committee", "rural_committee", "rural_street", "rural_district"} <= layers
    with (out / "village_ledger.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["name"] for r in rows] == ["丁村", "乙村", "丙村", "甲村"]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["urban_rural"]["rural_standard"] == "shanghai-rural-2021"
    assert "village_ledger.csv" in summary["outputs"]


def test_hostile_village_names_stay_text_in_csv_report_and_map(tmp_path):
    units = gpd.read_file(EXAMPLE / "units.geojson")
    units.loc[units["name"] == "丁村", "name"] = '=HYPERLINK("http://x")<script>'
    shutil.copy(EXAMPLE / "streets.osm", tmp_path / "streets.osm")
    units.to_file(tmp_path / "units.geojson")
    r = lifecircle.audit(
        tmp_path / "streets.osm",
        units=tmp_path / "units.geojson",
        population=EXAMPLE / "population.geojson",
        rural_standard="shanghai-rural-2021",
        categories=["kindergarten"],
    )
    out = tmp_path / "out"
    r.write(out, map=True, lang="zh")
    text = (out / "village_ledger.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text  # neutralised, not a formula
    assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    # the name is text in the report and the map, never markup
    for page in ("report.html", "map.html"):
        html = (out / page).read_text(encoding="utf-8")
        assert '"http://x")<script>' not in html, page
        assert 'x")<script>' not in html, page
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;" in report  # shown in the ledger, escaped


def test_no_rural_standard_changes_nothing():
    # without --rural-standard: every unit under the one standard, no urban_rural block
    r = lifecircle.audit(
        EXAMPLE / "streets.osm",
        units=EXAMPLE / "units.geojson",
        population=EXAMPLE / "population.geojson",
        keep_edge_units=True,
    )
    assert r.urban_rural is None
    assert "urban_rural" not in r.summary.to_json()
    assert set(r.units["committee"].loc[r.units["committee"]["analysed"], "unit_id"]) == (
        URBAN_IDS | RURAL_IDS
    )
