"""The typed audit summary gives exactly the ``summary.json`` of the dict builder it replaced.

``legacy_summary`` below is the former ``lifecircle.summary.build_summary`` (a dict
looked up by string keys), kept verbatim as the reference: the audit's stages are
captured where they meet the builder, both builders run on them, and the two files
must be the same bytes.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

import lifecircle
from lifecircle import columns, pipeline
from lifecircle._version import __version__
from lifecircle.io.outputs import write_json
from lifecircle.reproducible import created_timestamp, source_date_epoch
from lifecircle.settings import CATCHMENT_INSIDE_SHARE, POLYGON_ACCESS_SPACING_M
from lifecircle.summary import OSM_ATTRIBUTION, OUTPUT_FILES, AuditSummary, SummaryParts, versions


def legacy_summary(p: SummaryParts) -> dict[str, Any]:
    """Assemble ``summary.json`` from the stages' results (plain data, JSON-ready).

    With ``SOURCE_DATE_EPOCH`` set, ``created`` is that moment and ``timings_s``
    holds ``null`` per stage (timings are logged instead), so the file is
    reproducible.
    """
    excluded = p.unit_check[~p.unit_check["analysed"]]
    methods = p.access.groupby("population_method")["population"].sum()
    counts = p.fac["category"].value_counts()
    finest = p.hierarchy.units[p.hierarchy.finest]
    analysed_ids = set(p.unit_check.loc[p.unit_check["analysed"], "unit_id"])
    area_m2 = finest[finest["unit_id"].isin(analysed_ids)].to_crs(p.graph.crs).area.sum()
    fixed_time = source_date_epoch() is not None
    return {
        "lifecircle_version": __version__,
        "created": created_timestamp(),
        "study": {
            "name": p.options.name or Path(p.network).name,
            "area_km2": round(float(area_m2) / 1e6, 2),
            "network": str(p.network),
            "facilities": [str(path) for path in p.facility_paths],
            "units": str(p.units) if p.units is not None else None,
            "population": str(p.population) if p.population is not None else None,
        },
        "standard": {
            "id": p.std.id,
            "title": p.std.title_en,
            "title_zh": p.std.title_zh,
            "source": p.std.source,
            "path": p.std.path,
        },
        "profile": {
            "id": p.prof.id,
            "speed_m_s": p.prof.speed_m_s,
            "source": p.prof.source,
            "verified": p.prof.verified,
        },
        "thresholds": {
            c: {
                "level": p.std.category(c).level,
                "minutes": p.std.category(c).threshold_min,
                "metres": round(
                    p.std.category(c).threshold_min
                    * p.std.profile_of(c, p.options.profile).speed_m_min,
                    1,
                ),
                "mandatory": p.std.category(c).mandatory,
                "verified": p.std.category(c).verified,
                "source": p.std.category(c).source,
                "profile": p.std.profile_of(c, p.options.profile).id,
            }
            for c in p.audited
        },
        "categories_audited": p.audited,
        "categories_not_audited": [c for c in p.std.category_ids if c not in p.audited],
        "categories_not_audited_reason": {
            c: ("no_facilities" if counts.get(c, 0) == 0 else "not_requested")
            for c in p.std.category_ids
            if c not in p.audited
        },
        "categories_requested": (
            None if p.options.categories is None else list(p.options.categories)
        ),
        "population": {
            "total": round(p.city["population"], 1),
            "method": p.origins.method,
            "sources": {k: round(float(v), 1) for k, v in methods.items()},
            "allocation": p.origins.report,
        },
        "origins": {
            "total": p.origins_total,
            "analysed": len(p.access),
            "outside_units": p.outside_units,
            "beyond_max_snap": p.beyond_snap,
        },
        "network": p.graph.summary(),
        "facilities": {
            "total": len(p.fac),
            "reachable": int(p.fac["reachable"].sum()),
            "by_category": {c: int(n) for c, n in p.fac["category"].value_counts().items()},
        },
        "units": {
            "levels": p.hierarchy.levels,
            "catchment_m": round(p.reach_m, 1),
            "total": {lv: len(t) for lv, t in p.unit_tables.items()},
            "analysed": {
                lv: int((t["units_analysed"] > 0).sum()) for lv, t in p.unit_tables.items()
            },
            "fully_analysed": {lv: int(t["analysed"].sum()) for lv, t in p.unit_tables.items()},
            "partly_analysed": {
                lv: t.loc[(t["units_analysed"] > 0) & ~t["analysed"].astype(bool), "unit_id"]
                .astype(str)
                .tolist()
                for lv, t in p.unit_tables.items()
            },
            "edge_effect": p.unit_check.loc[
                p.unit_check["analysed"] & p.unit_check["edge_effect"], "unit_id"
            ]
            .astype(str)
            .tolist(),
            "excluded": excluded[["unit_id", "name", "reason"]].to_dict("records"),
        },
        "coverage": p.city["coverage"],
        "score": p.city["score"],
        "complete_share": p.city["complete_share"],
        "complete_by_level": {level: p.city[columns.complete(level)] for level in p.completeness},
        "completeness": p.completeness,
        "settings": {
            "max_snap_m": p.options.max_snap_m,
            "keep_edge_units": p.options.keep_edge_units,
            "snap": p.options.snap,
            "polygon_access_spacing_m": POLYGON_ACCESS_SPACING_M,
            "catchment_inside_share": CATCHMENT_INSIDE_SHARE,
        },
        "data_quality": p.quality,
        "warnings": p.warnings,
        "timings_s": {k: (None if fixed_time else v) for k, v in p.timings.items()},
        "versions": versions(),
        "attribution": OSM_ATTRIBUTION,
        # the fair-service sections (issue 9), plain data of the stage's results
        "cohorts": p.service.cohorts if p.service else {},
        "fair_service": (
            {c: dataclasses.asdict(v) for c, v in p.service.categories.items()} if p.service else {}
        ),
        "equity": (
            {"score": p.service.equity_score, "worst_served_units": p.service.worst_units}
            if p.service
            else {}
        ),
        "critical_facilities": list(p.service.critical) if p.service else [],
        "data_completeness": (
            {c: dataclasses.asdict(v) for c, v in p.data.items()} if p.data else {}
        ),
        "closure": p.closure,
        "cross_source": (
            p.service.cross_source.to_dict("records")
            if p.service is not None and p.service.cross_source is not None
            else []
        ),
    }


def audit_both(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *args: Any, **kwargs: Any):
    """Run an audit; return its result and the old builder's summary of the same stages."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    captured: list[SummaryParts] = []
    typed_builder = pipeline.build_summary

    def capture(parts: SummaryParts) -> AuditSummary:
        captured.append(parts)
        return typed_builder(parts)

    monkeypatch.setattr(pipeline, "build_summary", capture)
    result = lifecircle.audit(*args, **kwargs)
    (parts,) = captured
    old = legacy_summary(parts)
    old["outputs"] = list(OUTPUT_FILES)  # what AuditResult.outputs() added at write time
    return result, old


def assert_same_file(result: lifecircle.AuditResult, old: dict[str, Any], tmp_path: Path) -> None:
    new = result.summary.to_json()
    assert list(new) == list(old)  # same keys, same order
    assert new == old
    a = write_json(tmp_path / "old.json", old).read_bytes()
    b = write_json(tmp_path / "new.json", new).read_bytes()
    assert a == b
    # and the file AuditResult writes is that one
    written = result.outputs()["summary.json"](tmp_path / "summary.json")
    assert Path(str(written)).read_bytes() == a
    assert json.loads(a)["outputs"] == list(OUTPUT_FILES)


def test_tiny_study_summary_json_is_unchanged(monkeypatch, tmp_path, tiny_osm, tiny_facilities_csv):
    result, old = audit_both(
        monkeypatch,
        tmp_path,
        tiny_osm,
        [tiny_facilities_csv],
        hex_size_m=300.0,
        keep_edge_units=True,
    )
    assert_same_file(result, old, tmp_path)
    summary = result.summary
    assert summary.timings_s and all(v is None for v in summary.timings_s.values())
    assert summary.created == old["created"]
    assert isinstance(summary.units.levels, tuple) and summary.units.levels == ("hex",)


def test_sample_summary_json_is_unchanged(monkeypatch, tmp_path):
    result, old = audit_both(monkeypatch, tmp_path)
    assert_same_file(result, old, tmp_path)
    summary = result.summary
    # attributes are the file's values
    assert summary.units.catchment_m == old["units"]["catchment_m"]
    assert summary.thresholds["park"].minutes == old["thresholds"]["park"]["minutes"]
    assert summary.population.total == old["population"]["total"]
    assert [e.unit_id for e in summary.units.excluded] == [
        e["unit_id"] for e in old["units"]["excluded"]
    ]
    assert summary.units.excluded  # the sample has excluded units: the records are compared


def test_summary_is_frozen_and_replace_changes_one_field(tiny_osm, tiny_facilities_csv):
    result = lifecircle.audit(
        tiny_osm, [tiny_facilities_csv], hex_size_m=300.0, keep_edge_units=True
    )
    summary = result.summary
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.warnings = ()  # type: ignore[misc]
    changed = dataclasses.replace(
        summary, study=dataclasses.replace(summary.study, name="<b>x</b>")
    )
    assert changed.to_json()["study"]["name"] == "<b>x</b>"
    assert summary.to_json()["study"]["name"] != "<b>x</b>"
    out = {k: v for k, v in changed.to_json().items() if k != "study"}
    assert out == {k: v for k, v in summary.to_json().items() if k != "study"}
