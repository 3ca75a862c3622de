"""The report's "Data quality" section, from ``summary.json``'s ``data_quality``.

One row per figure, with a one-line explanation; figures that are lists or
counts per key (categories, units, type codes) show their total and the first
few entries, the rest counted. Returns plain text: the template escapes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..settings import MAX_SNAP_M
from ._text import category_name, count, text

if TYPE_CHECKING:
    from ..pipeline import AuditResult

__all__ = ["MAX_LISTED", "quality_rows"]

#: Entries of a list shown before the rest are only counted.
MAX_LISTED = 8

#: The figures of ``data_quality``, in the order shown.
_FIGURES = (
    "network_components_dropped",
    "network_nodes_dropped",
    "facilities_snapped_over_100m",
    "facilities_unreachable",
    "duplicates_merged",
    "unknown_typecodes",
    "categories_without_facilities",
    "units_without_population",
    "origins_beyond_max_snap",
    "population_beyond_max_snap",
)


def quality_rows(result: AuditResult, lang: str) -> list[dict[str, Any]] | None:
    """Rows of the data-quality table, or ``None`` if the summary has no ``data_quality``.

    Parameters
    ----------
    result
        An audit result.
    lang
        ``"en"`` or ``"zh"``.

    Returns
    -------
    list of dict or None
        Per figure: ``label``, ``value`` (formatted), ``note`` (what it means),
        ``entries`` (of a list, at most :data:`MAX_LISTED`), ``more`` (how
        many entries are not listed, as text, or ``""``) and ``flag`` (whether
        the figure is non-zero, i.e. worth a look).
    """
    summary = result.summary
    quality = summary.data_quality
    if quality is None:
        return None
    metres = count(summary.settings.max_snap_m or MAX_SNAP_M)
    names = _unit_names(result)
    rows = []
    for key in _FIGURES:
        value = getattr(quality, key)
        if isinstance(value, Mapping):  # {category or code: n}
            total = sum(float(n) for n in value.values())
            shown = [
                f"{_label(result, key, k, lang)}: {count(n)}"
                for k, n in sorted(value.items(), key=lambda kv: (-float(kv[1]), kv[0]))
            ]
        elif isinstance(value, list | tuple):
            total = float(len(value))
            shown = [_label(result, key, v, lang, names) for v in value]
        else:
            total = float(value or 0)
            shown = []
        rest = len(shown) - MAX_LISTED
        rows.append(
            {
                "label": text(f"q_{key}", lang, metres=metres),
                "value": count(total),
                "note": text(f"q_{key}_note", lang, metres=metres),
                "entries": shown[:MAX_LISTED],
                "more": text("q_more", lang, n=rest) if rest > 0 else "",
                "flag": total > 0,
            }
        )
    return rows


def _unit_names(result: AuditResult) -> dict[str, str]:
    """Names of the finest units by id (empty when the units have no names)."""
    levels = result.summary.units.levels
    frame = result.units.get(levels[-1]) if levels else None
    if frame is None or "name" not in frame.columns:
        return {}
    return {
        str(u): str(n)
        for u, n in zip(frame["unit_id"], frame["name"], strict=True)
        if pd.notna(n) and str(n).strip()
    }


def _label(
    result: AuditResult, key: str, value: Any, lang: str, names: Mapping[str, str] | None = None
) -> str:
    """How one entry of a list figure is shown: a category's name, a unit's name and id."""
    value = str(value)
    if key in ("duplicates_merged", "categories_without_facilities"):
        try:
            return category_name(result.standard, value, lang)
        except (KeyError, ValueError):
            return value
    if key == "units_without_population" and names and value in names:
        return f"{names[value]} ({value})"
    return value
