"""The report's "Urban and rural units" section (audits with ``--rural-standard``).

Which standard each unit was audited under, the urban and rural figures of every
unit side by side, rural coverage per category, and the village ledger of the
"三室两点". Plain data for the template: every string is escaped by Jinja2's
autoescaping, never marked safe.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ..rural import INSIDE, MISSING, PARTLY, REACHED, TOWN, URBAN, VILLAGE
from ._report_base import UNVERIFIED
from ._style import share_colour
from ._text import count, level_name, pct, text

if TYPE_CHECKING:
    from ..config import Standard
    from ..pipeline import AuditResult

#: What the ledger shows per status (the share follows "partly"), and in which colour
#: (constants: the page's stylesheet stays the same for audits without a ledger).
_MARK = {INSIDE: "✓", REACHED: "✓", PARTLY: "◐", MISSING: "✗"}
_COLOUR = {INSIDE: "#1a7f37", REACHED: "#1a7f37", PARTLY: "#9a6700", MISSING: "#cf222e"}


def modes_text(std: Standard, level_id: str, lang: str) -> str:
    """``walking or bicycle`` for a level of ``std`` (its own profile when it lists none)."""
    modes = std.level(level_id).modes or ("walk",)
    return text("mode_or", lang).join(text(f"mode_{m}", lang) for m in modes)


def rural_section(result: AuditResult, lang: str) -> dict[str, Any] | None:
    """The section's content, or ``None`` for an audit without per-unit rules."""
    ur = result.urban_rural
    if ur is None:
        return None
    block = ur.summary
    std = ur.standard
    density = block.get("density_max_per_km2")
    units = block["units"]
    intro = text(
        "rural_intro",
        lang,
        level=level_name(result.hierarchy.finest, lang),
        urban=units[URBAN],
        town=units[TOWN],
        village=units[VILLAGE],
        urban_std=_title(result.standard, lang),
        rural_std=_title(std, lang),
        density="" if density is None else text("rural_density", lang, max=f"{density:,.0f}"),
    )
    return {
        "intro": intro,
        "split": _split_rows(ur.split, result, lang),
        "head": text("rural_head", lang, rural_std=_title(std, lang)),
        "modes": [_modes_line(std, lv.id, lang) for lv in std.levels],
        "coverage": _coverage_rows(block, std, lang),
        "ledger": _ledger(ur.ledger, std, lang),
        "unverified": text("rural_unverified", lang, mark=UNVERIFIED)
        if any(not c.verified for c in std.categories)
        else None,
    }


def _title(std: Standard, lang: str) -> str:
    return std.title_zh if lang == "zh" else std.title_en


def _modes_line(std: Standard, level_id: str, lang: str) -> str:
    lv = std.level(level_id)
    walk = std.profile(std.default_profile).speed_m_s
    bike = next((p.speed_m_s for p in std.profiles.values() if p.mode == "bicycle"), None)
    return text(
        "rural_modes",
        lang,
        level=lv.name_zh if lang == "zh" else lv.name_en,
        minutes=f"{lv.minutes:g}",
        modes=modes_text(std, level_id, lang),
        walk=f"{walk:g}",
        bike="–" if bike is None else f"{bike:g}",
    )


def _split_rows(split: pd.DataFrame, result: AuditResult, lang: str) -> dict[str, Any]:
    head = [
        text("col_unit", lang),
        text("col_units_classes", lang),
        text("col_pop_urban", lang),
        text("col_score_urban", lang),
        text("col_pop_rural", lang),
        text("col_score_rural", lang),
        text("col_complete_rural", lang),
    ]
    rows = []
    for _, r in split.iterrows():
        rows.append(
            {
                "name": str(r["name"]),
                "level": level_name(str(r["level"]), lang),
                "classes": f"{r['units_urban']} / {r['units_town']} / {r['units_village']}",
                "cells": [
                    count(r["population_urban"]),
                    pct(r["score_urban"]),
                    count(r["population_rural"]),
                    pct(r["score_rural"]),
                    pct(r["complete_share_rural"]),
                ],
                "colours": [
                    share_colour(r["score_urban"]) if np.isfinite(r["score_urban"]) else None,
                    share_colour(r["score_rural"]) if np.isfinite(r["score_rural"]) else None,
                ],
            }
        )
    return {"head": head, "rows": rows}


def _coverage_rows(block: dict[str, Any], std: Standard, lang: str) -> list[dict[str, Any]]:
    rural = block.get("rural") or {}
    out = []
    for cat, share in (rural.get("coverage") or {}).items():
        c = std.category(cat)
        level = std.level(c.level)
        out.append(
            {
                "name": c.name(lang),
                "level": level.name_zh if lang == "zh" else level.name_en,
                "minutes": f"{c.threshold_min:g}",
                "modes": modes_text(std, c.level, lang),
                "share": pct(share),
                "colour": share_colour(share) if share is not None else None,
                "mark": "" if c.verified else UNVERIFIED,
            }
        )
    return out


def _ledger(ledger: pd.DataFrame, std: Standard, lang: str) -> dict[str, Any]:
    cats = [c for c in std.categories if c.level == "village"]
    minutes = max((c.threshold_min for c in cats), default=0.0)
    head = [text("col_village", lang), text("col_town", lang), text("population", lang)]
    head += [c.name(lang) for c in cats] + [text("col_lacks", lang)]
    rows = []
    for _, r in ledger.iterrows():
        cells = []
        for c in cats:
            status = str(r[f"{c.id}_status"])
            shown = _MARK[status]
            if status == PARTLY:
                shown += f" {pct(r[f'{c.id}_reached'], 0)}"
            cells.append({"shown": shown, "status": status, "colour": _COLOUR[status]})
        lacks = [std.category(x).name(lang) for x in str(r["lacks"]).split(";") if x]
        rows.append(
            {
                "name": str(r["name"]),
                "town": "" if pd.isna(r["parent_name"]) else str(r["parent_name"]),
                "population": count(r["population"]),
                "cells": cells,
                "lacks": text("list_sep", lang).join(lacks),
            }
        )
    intro = text(
        "ledger_intro",
        lang,
        minutes=f"{minutes:g}",
        modes=modes_text(std, "village", lang) if cats else "",
        villages=len(ledger),
        lacking=int((ledger["n_lacking"] > 0).sum()) if len(ledger) else 0,
    )
    return {
        "title": text("ledger_title", lang),
        "intro": intro,
        "head": head,
        "rows": rows,
        "none": text("ledger_none", lang),
    }
