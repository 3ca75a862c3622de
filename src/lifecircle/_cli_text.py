"""What the command line prints: the audit's headline and a complete siting's paragraph.

Plain text made from the typed summaries (:class:`lifecircle.summary.AuditSummary`,
``optimize.json``), kept apart from :mod:`lifecircle.cli`'s commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .summary import AuditSummary

__all__ = ["complete_paragraph", "headline"]


def headline(summary: AuditSummary) -> str:
    finest = summary.units.levels[-1]
    walks = sorted({t.profile for t in summary.thresholds.values()})
    speed = (
        f"profile {summary.profile.id} ({summary.profile.speed_m_s} m/s)"
        if len(walks) <= 1
        else "each category at its cohort's walking profile (" + ", ".join(walks) + ")"
    )
    lines = [
        f"{summary.standard.title} - {speed}",
        f"residents analysed: {summary.population.total:,.0f} in "
        f"{summary.units.analysed[finest]} {finest} units"
        + (" (urban units, urban standard)" if summary.urban_rural is not None else ""),
    ]
    completeness = summary.completeness or {}
    for level, share in summary.complete_by_level.items():
        if share is None:
            status = completeness.get(level)
            missing = ", ".join(status.missing) if status is not None else ""
            lines.append(f"  complete {level} life circle: not computed (not audited: {missing})")
        else:
            lines.append(f"  complete {level} life circle: {share:.1%}")
    lines.append("  coverage by category (its own cohort | all residents):")
    for cat, share in sorted(summary.coverage.items(), key=lambda kv: kv[1]):
        t = summary.thresholds[cat]
        lines.append(
            f"    {category_line(summary, cat, share)} within {t.minutes:g} min ({t.profile})"
        )
    for cat, fair in summary.fair_service.items():
        if fair.supply_unit not in {"facilities"} and fair.unmet > 0.5:
            lines.append(
                f"  {cat}: {fair.facilities_in_reach} facilities in reach hold "
                f"{fair.supply:,.0f} {fair.supply_unit} for {fair.demand:,.0f} residents of "
                f"its cohort; {fair.unmet:,.0f} have no place within reach"
                + ("" if fair.capacity_verified else " (capacity defaults unverified)")
            )
    crit = summary.critical_facilities[:1]
    if crit:
        name = crit[0]["name"] or "unnamed"
        lines.append(
            f"  most critical facility: {crit[0]['category']} {name!r} (id "
            f"{crit[0]['facility_id']}): {crit[0]['sole_dependants']:,.0f} would lose coverage"
        )
    return "\n".join([*lines, *rural_lines(summary)])


def rural_lines(summary: AuditSummary) -> list[str]:
    """With per-unit rules: the town and village units beside the urban headline."""
    ur = summary.urban_rural
    if ur is None:
        return []
    rural = ur.get("rural") or {}
    residents = ur.get("residents") or {}
    ledger = ur.get("village_ledger") or {}
    figures = (
        f"score {rural['score']:.1%}, complete {rural['complete_share']:.1%}; "
        if rural.get("score") is not None and rural.get("complete_share") is not None
        else ""
    )
    return [
        f"rural units ({ur.get('rural_standard')}), never averaged with the urban ones above: "
        f"{residents.get('town', 0) + residents.get('village', 0):,.0f} residents in "
        f"{(ur.get('units_analysed') or {}).get('rural', 0)} town and village units; "
        + figures
        + f"{ledger.get('villages_lacking_any', 0)} of {ledger.get('villages', 0)} villages "
        "lack a village facility (village_ledger.csv)"
    ]


def category_line(summary: AuditSummary, cat: str, share: float) -> str:
    """``kindergarten  11.1% aged 3-5 | 11.0% all`` with a data-gap flag."""
    fair = summary.fair_service.get(cat)
    cohort = summary.cohorts.get(fair.cohort) if fair is not None else None
    mine = (
        f"{fair.covered_share:6.1%} aged {cohort['ages']:<5} |"
        if fair is not None and cohort is not None and fair.covered_share is not None
        else " " * 18 + "|"
    )
    data = summary.data_completeness.get(cat)
    flag = "  [thin data: likely a data gap]" if data is not None and data.thin else ""
    return f"{cat:<20} {mine} {share:6.1%} all{flag}"


def complete_paragraph(summary: dict[str, Any]) -> str:
    """One paragraph on a complete siting's ``optimize.json``: model, sites, shares, solver.

    Parameters
    ----------
    summary
        :meth:`lifecircle.complete_siting.CompleteSitingSolution.summary`.

    Returns
    -------
    str
        Plain text, e.g. for the command line.
    """
    s = summary
    cats = ", ".join(s["categories"])
    level = s.get("level")
    if level:
        key = f"complete_{level}"
        what = f"reach a complete {level} life circle"
        before, after = s["complete_before"].get(key), s["complete_after"].get(key)
    else:
        what = "reach every listed category"
        before, after = s["complete_listed_before"], s["complete_listed_after"]
    unit = ("complex" if s["complex"] else "site") + ("" if s["sites"] == 1 else "s")
    unit = unit.replace("complexs", "complexes")
    per = ", ".join(f"{c} {n}" for c, n in s["sites_per_category"].items())
    text = (
        f"{s['model'].capitalize()} siting of {cats} ({s['objective']} objective): "
        f"{s['sites']} {unit}, {s['facilities']} facilities ({per}); "
        f"{s['newly_complete']:,.0f} more {s['cohort_name']} {what} "
        f"(share {share_text(before)} -> {share_text(after)})"
    )
    comp = s.get("comparison") or {}
    single = comp.get("single_category")
    if single:
        text += (
            "; the best single-category runs with the same budget: "
            f"{share_text(single['complete_share_after'])}"
            f" ({single['newly_complete']:,.0f} newly complete, {single['facilities']} facilities)"
        )
    separate = comp.get("joint_separate")
    if separate:
        text += (
            f"; {separate['sites_per_category']} separate sites per category: "
            f"{share_text(separate['complete_share_after'])}"
        )
    gap = s["mip_gap"]
    text += (
        f" ({s['status']}, gap {'-' if gap is None else f'{gap:.4f}'}, bound from "
        f"{s['bound_source'] or '-'}, {s['runtime_s']} s; {s['candidates']} candidates)"
    )
    return text


def share_text(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2%}"
