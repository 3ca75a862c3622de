"""The outputs written are the outputs declared in lifecircle.columns, column by column."""

from __future__ import annotations

import re

import geopandas as gpd
import pandas as pd
import pyogrio
import pytest

from lifecircle.columns import OUTPUTS, complete, cov, dist, time, unit_level
from lifecircle.pipeline import OUTPUT_FILES

pytestmark = pytest.mark.slow


def _pattern(declared: str) -> re.Pattern[str]:
    return re.compile(
        "^"
        + re.escape(declared)
        .replace("<cat>", r"[a-z_]+")
        .replace("<level>", r"[0-9a-z_]+")
        .replace("<cohort>", r"[a-z0-9_]+")
        + "$"
    )


def _matches(actual: list[str], declared: tuple[tuple[str, str], ...]) -> None:
    patterns = [_pattern(name) for name, _ in declared]
    for col in actual:
        if col == "geometry":
            continue
        assert any(p.match(col) for p in patterns), f"{col} is not declared in columns.py"
    for name, _ in declared:
        if "<" not in name:
            assert name in actual, f"declared {name} is not written"


def test_the_audit_writes_exactly_the_declared_files(sample_out):
    written = {p.name for p in sample_out.iterdir()}
    assert written == set(OUTPUT_FILES)
    assert set(OUTPUT_FILES) <= set(OUTPUTS)


def test_access_parquet_columns(sample_out):
    frame = gpd.read_parquet(sample_out / "access.parquet")
    _matches(list(frame.columns), OUTPUTS["access.parquet"].columns)
    assert dist("park") in frame.columns and time("park") in frame.columns
    assert unit_level("district") in frame.columns


def test_units_gpkg_columns(sample_out):
    for layer, _ in pyogrio.list_layers(sample_out / "units.gpkg"):
        frame = gpd.read_file(sample_out / "units.gpkg", layer=layer)
        declared = OUTPUTS["units.gpkg"].columns
        _matches(
            list(frame.columns),
            tuple(
                d
                for d in declared
                if layer == "street" or d[0] not in ("catchment_inside_share", "edge_effect")
            ),
        )
        assert cov("park") in frame.columns and complete("15min") in frame.columns


def test_facilities_and_gaps_columns(sample_out):
    fac = gpd.read_file(sample_out / "facilities.gpkg")
    declared = OUTPUTS["facilities.gpkg"].columns
    assert {name for name, _ in declared} <= set(fac.columns)
    gaps = pd.read_csv(sample_out / "gaps.csv", encoding="utf-8-sig")
    assert list(gaps.columns) == [name for name, _ in OUTPUTS["gaps.csv"].columns]
