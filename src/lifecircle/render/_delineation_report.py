"""The report part of the life-circle units page: what its template shows.

Plain text only (the page's Jinja2 template escapes every value): the level, the
population range with its source (marked unverified when it is), the solver's status,
gap and time, the governance units compared with the life-circle units, the
life-circle units, and the share of units within the range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._delineation_map import RANGE_COLOURS, area, label, range_class, range_text, walk
from ._delineation_text import relation_name, t
from ._report_base import _Cell
from ._text import count, level_name, pct

if TYPE_CHECKING:
    from ..delineate import Delineation


def status_text(status: str, gap: float, lang: str) -> str:
    """The solver's status in words, with the gap when not proven optimal.

    ``"optimal"``; ``"time limit: within 1.2% of the best possible"``;
    ``"heuristic: within ..."``; any other status as is, with its gap.
    """
    shown = pct(gap, 2) if np.isfinite(gap) else "–"
    if status == "optimal":
        return t("status_optimal", lang)
    if status in ("time_limit", "heuristic"):
        return t(f"status_{status}", lang, gap=shown)
    return t("status_other", lang, status=status, gap=shown)


def block_source_text(source: str, lang: str) -> str:
    """Where the building blocks come from, in words."""
    if source == "street blocks":
        return t("source_street_blocks", lang)
    if source.startswith("units:"):
        return t("source_units", lang, level=level_name(source[len("units:") :], lang))
    return source


def level_text(d: Delineation, lang: str) -> str:
    """The level's name in ``lang`` (its id when the name is empty)."""
    name = d.level_name[1] if lang == "zh" else d.level_name[0]
    return name or d.level


def report_context(d: Delineation, lang: str) -> dict[str, Any]:
    """Everything the report part of the page shows (plain text, escaped by the template)."""
    rng = d.population_range
    units = d.units
    classes = range_class(units, rng)
    n_units = len(units)
    n_in = classes.count("in")
    share = n_in / n_units if n_units else float("nan")
    part = d.partition
    range_line = t("range_value", lang, min=count(rng.min), max=count(rng.max))
    source = t("range_source", lang, source=rng.source)
    if not rng.verified:
        source += " " + t("unverified", lang)
    facts = [
        (t("level", lang), level_text(d, lang)),
        (t("range", lang), f"{range_line} · {source}"),
        (
            t("nesting", lang),
            t("nesting_parent", lang, level=level_name(d.parent_level, lang))
            if d.parent_level
            else t("nesting_free", lang),
        ),
        (
            t("blocks_from", lang),
            f"{count(len(d.blocks))} · {block_source_text(d.block_source, lang)}",
        ),
        (
            t("solver", lang),
            f"{status_text(part.status, float(part.gap), lang)} · "
            + t("solver_time", lang, seconds=f"{float(part.seconds):.1f}"),
        ),
    ]
    notes = [
        t("objective", lang, value=f"{float(part.objective) / 1000.0:,.1f}"),
        t("violation", lang, n=count(part.range_violation)),
    ]
    return {
        "facts": facts,
        "notes": notes,
        "cards": [
            {"big": count(n_units), "label": t("card_units", lang), "colour": None},
            {
                "big": pct(share),
                "label": t("card_in_range", lang),
                "colour": RANGE_COLOURS["in"],
            },
            {
                "big": count(pd.to_numeric(units["population"], errors="coerce").sum()),
                "label": t("card_residents", lang),
                "colour": None,
            },
            {"big": count(len(d.comparison)), "label": t("card_governance", lang), "colour": None},
        ],
        "in_range": t("in_range_share", lang, share=pct(share), n=n_in, total=n_units),
        "unverified": None if rng.verified else t("unverified_note", lang),
        "range": range_text(rng),
        "governance": governance_table(d, lang),
        "units": unit_table(d, classes, lang),
    }


def governance_table(d: Delineation, lang: str) -> dict[str, Any]:
    """The governance units compared with the life-circle units drawn over them."""
    head = ["col_parent", "col_relation", "col_population", "col_units", "col_smallest"]
    head += ["col_largest", "col_out_of_range"]
    rows = []
    for _, row in d.comparison.iterrows():
        uid = label(row["unit_id"])
        name = label(row.get("name")) or uid
        why = d.reasons.get(str(row["unit_id"]))
        reason = "" if why is None else why.text(lang)
        rows.append(
            [
                _Cell(name, name, sub=uid if uid != name else ""),
                _Cell.label(relation_name(row.get("relation"), lang)),
                _Cell.count(row.get("population")),
                _Cell.count(row.get("lifecircle_units")),
                _Cell.count(row.get("smallest_unit")),
                _Cell.count(row.get("largest_unit")),
                _Cell(reason, reason, flag=reason),
            ]
        )
    return {
        "head": [t(k, lang) for k in head],
        "num": [False, False, True, True, True, True, False],
        "rows": rows,
        "note": t("governance_note", lang),
    }


def unit_table(d: Delineation, classes: list[str], lang: str) -> dict[str, Any]:
    """One row per life-circle unit."""
    names = d.governance.set_index(d.governance["unit_id"].astype(str))["name"]
    parents = {k: label(v) for k, v in names.items()}
    head = ["col_unit", "col_parent", "col_population", "col_range", "col_area", "col_blocks"]
    head += ["col_mean_walk", "col_max_walk"]
    rows = []
    for (_, row), cls in zip(d.units.iterrows(), classes, strict=True):
        uid = label(row["unit_id"])
        name = label(row.get("name")) or uid
        parent = label(row.get("parent_id"))
        parent_shown = (parents.get(parent) or parent) if parent else t("tip_across", lang)
        rows.append(
            {
                "colour": RANGE_COLOURS[cls],
                "cells": [
                    _Cell(name, name, sub=uid if uid != name else ""),
                    _Cell.label(parent_shown),
                    _Cell.count(row["population"]),
                    _Cell.label(t("class_" + cls, lang)),
                    _Cell(area(row["area_km2"]), _key(row["area_km2"])),
                    _Cell.count(row["blocks"]),
                    _Cell(walk(row["mean_walk_min"]), _key(row["mean_walk_min"])),
                    _Cell(walk(row["max_walk_min"]), _key(row["max_walk_min"])),
                ],
            }
        )
    return {
        "head": [t(k, lang) for k in head],
        "num": [False, False, True, False, True, True, True, True],
        "rows": rows,
        "note": t("units_note", lang),
    }


def _key(value: Any) -> float:
    """Sort key of a number; missing values sort first."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return -1.0
    return round(number, 6) if np.isfinite(number) else -1.0
