"""The bundled rural example through the command line, in English and Chinese (slow).

``lifecircle audit configs/studies/rural-example.yaml``: the village ledger, the town
tier's slow-travel coverage and the urban/rural split, in the outputs, the report and
the map.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import geopandas as gpd
import pytest

from .conftest import assert_user_error, invoke

REPO = Path(__file__).resolve().parent.parent
STUDY = REPO / "configs" / "studies" / "rural-example.yaml"


@pytest.fixture(scope="module", params=["en", "zh"])
def rural_run(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(f"rural-{request.param}")
    res = invoke(["audit", STUDY, "--out", out, "--lang", request.param, "-q"])
    assert res.exit_code == 0, (res.output, res.exception)
    return request.param, out


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_ledger_file(rural_run):
    _, out = rural_run
    with (out / "village_ledger.csv").open(encoding="utf-8-sig", newline="") as fh:
        rows = {r["name"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"甲村", "乙村", "丙村", "丁村"}
    assert rows["甲村"]["lacks"] == ""
    assert rows["乙村"]["lacks"] == "village_clinic;fitness_point"
    assert rows["丁村"]["n_lacking"] == "4"
    assert rows["丙村"]["village_clinic_status"] == "inside"


def test_summary_split_and_town_tier(rural_run):
    _, out = rural_run
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    block = summary["urban_rural"]
    assert block["urban_standard"] == "gb50180-2018"
    assert block["rural_standard"] == "shanghai-rural-2021"
    assert block["units"] == {"urban": 2, "town": 1, "village": 4}
    town = block["rural"]["coverage"]
    assert set(town) >= {"town_health_center", "town_school", "town_market"}
    assert all(0.9 < town[c] <= 1.0 for c in ("town_health_center", "town_school", "town_market"))
    assert block["village_ledger"]["villages_lacking_any"] == 3
    assert summary["study"]["name"] == "Rural example (generated)"
    with (out / "urban_rural.csv").open(encoding="utf-8-sig", newline="") as fh:
        split = {r["unit_id"]: r for r in csv.DictReader(fh)}
    district = split["319901"]
    assert float(district["population_urban"]) == 14000
    assert float(district["population_rural"]) == 8300
    # nothing lost: the rural residents' own rows, and the two access files add up to the input
    import pandas as pd

    urban = pd.read_parquet(out / "access.parquet")
    rural = pd.read_parquet(out / "access_rural.parquet")
    assert rural["population"].sum() == pytest.approx(8300)
    assert urban["population"].sum() + rural["population"].sum() == pytest.approx(22300)
    assert not set(urban["origin_id"]) & set(rural["origin_id"])
    assert {"time_village_clinic_min", "mode_village_clinic"} <= set(rural.columns)
    assert "access_rural.parquet" in summary["outputs"]
    layers = set(gpd.list_layers(out / "units.gpkg")["name"])
    assert {"committee", "street", "district", "rural_committee"} <= layers


WORDS = {
    "en": {
        "section": "Urban and rural units",
        "ledger": "Village ledger: 三室两点",
        "split": "Urban and rural side by side",
        "town": "15 minutes by walking or bicycle",
        "classes": "Urban / rural class",
        "unverified": "Rural numbers are local guidance",
    },
    "zh": {
        "section": "城乡单元",
        "ledger": "村庄台账：三室两点",
        "split": "城乡并列",
        "town": "步行或自行车15分钟",
        "classes": "城乡类别",
        "unverified": "乡村数值为地方导则",
    },
}


def test_report_and_map(rural_run):
    lang, out = rural_run
    words = WORDS[lang]
    report = _text((out / "report.html").read_text(encoding="utf-8"))
    for key in ("section", "ledger", "split", "town", "unverified"):
        assert words[key] in report, key
    # the ledger row of 乙村 shows its two missing facilities
    assert ("村卫生室、健身点" if lang == "zh" else "village clinic room, fitness point") in report
    page = (out / "map.html").read_text(encoding="utf-8")
    island = page[page.index('id="lc-data"') :]
    island = island[island.index(">") + 1 : island.index("</script>")]
    data = json.loads(island)
    names = [layer["name"] for layer in data["overlays"]]
    assert any(words["classes"] in n for n in names)
    assert any("shanghai-rural-2021" in n for n in names)
    # the class legend: urban, town and village swatches
    legend = next(n for n in names if words["classes"] in n)
    assert legend.count("lc-swatch") == 3


def test_all_rural_units_give_a_clear_message(tmp_path):
    units = gpd.read_file(REPO / "data" / "rural-example" / "units.geojson")
    units.loc[units["urban_rural_code"].isin(["111", "112"]), "urban_rural_code"] = "220"
    units.to_file(tmp_path / "units.geojson")
    res = invoke(
        [
            "audit",
            "--network",
            REPO / "data" / "rural-example" / "streets.osm",
            "--units",
            tmp_path / "units.geojson",
            "--rural-standard",
            "shanghai-rural-2021",
            "--out",
            tmp_path / "out",
        ]
    )
    assert_user_error(res, "every unit is a town or village unit", "--standard shanghai-rural-2021")


def test_a_wrong_class_column_is_a_user_error(tmp_path):
    res = invoke(
        [
            "audit",
            STUDY,
            "--urban-rural-column",
            "kind",
            "--out",
            tmp_path / "out",
        ]
    )
    assert_user_error(res, "no column 'kind' (--urban-rural-column)")


def test_headline_names_the_rural_units_beside_the_urban(tmp_path):
    res = invoke(["audit", STUDY, "--out", tmp_path / "out", "--no-map"])
    assert res.exit_code == 0, (res.output, res.exception)
    assert "residents analysed: 14,000 in 2 committee units (urban units, urban standard)" in (
        res.output
    )
    assert "rural units (shanghai-rural-2021), never averaged with the urban ones above: 8,300" in (
        res.output
    )
    assert "3 of 4 villages lack a village facility (village_ledger.csv)" in res.output
