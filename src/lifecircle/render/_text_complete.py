"""Bilingual labels of the complete-life-circle siting (``lifecircle optimize --categories``).

The report's "Complete life circle siting" section and the map's layer of proposed
sites read these through :func:`text`, which falls back to the shared labels of
:mod:`lifecircle.render._text`; values are plain text, escaped by the callers.
"""

from __future__ import annotations

from typing import Any

from ._text import _TEXT
from ._text import text as shared_text

COMPLETE_TEXT: dict[str, dict[str, str]] = {
    # report: section
    "c_section": {"en": "Complete life circle siting", "zh": "完整生活圈选址"},
    "c_intro": {
        "en": "{model}: {sites} new {unit} hosting {facilities} facilities ({cats}) would give "
        "{newly} more {demand} a {what}: {before} → {after} of {demand}.",
        "zh": "{model}：新增{sites}处{unit}，共设{facilities}项设施（{cats}），可使另外{newly}名"
        "{demand}实现{what}：占比由{before}升至{after}。",
    },
    "c_what_level": {"en": "complete {level}", "zh": "完整{level}"},
    "c_what_listed": {
        "en": "complete life circle for these categories",
        "zh": "上述各类设施全部步行可达",
    },
    "c_unit_sites": {"en": "sites", "zh": "选址"},
    "c_unit_complexes": {"en": "service complexes", "zh": "综合服务体"},
    "c_model_joint": {
        "en": "Joint siting of several categories (complete life circle)",
        "zh": "多类设施联合选址（完整生活圈）",
    },
    "c_model_complex": {
        "en": "Shared service complexes (every site hosts every listed category)",
        "zh": "综合服务体（每处选址设置全部所列设施）",
    },
    "c_objective_coverage": {
        "en": "the most residents newly complete",
        "zh": "新增达标居民最多",
    },
    "c_objective_maxmin": {
        "en": "the highest lowest complete share among the finest units the new sites can "
        "change (ties: the most newly complete)",
        "zh": "新增设施可影响的最小单元中最低达标率最高（并列时新增达标居民最多）",
    },
    "c_objective_fair": {
        "en": "fair: (1 − {w}) × complete share + {w} × mean share of the worst-served tenth "
        "of finest units",
        "zh": "兼顾公平：(1 − {w}) × 达标率 + {w} × 最差十分之一最小单元的平均达标率",
    },
    "c_req_total": {
        "en": "{n} new (site, category) facilities in all; {objective}",
        "zh": "共新增{n}项（选址, 设施类别）；目标：{objective}",
    },
    "c_req_complex": {
        "en": "{n} complexes, each hosting every listed category; {objective}",
        "zh": "{n}处综合服务体，每处设置全部所列设施；目标：{objective}",
    },
    "c_req_per": {
        "en": "per category: {per}; {objective}",
        "zh": "各类别：{per}；目标：{objective}",
    },
    "c_level_note": {
        "en": "complete {level}: {fixed} reached at existing facilities only",
        "zh": "完整{level}：{fixed}仅计现有设施",
    },
    # report: cards
    "c_card_sites": {"en": "new sites ({n} facilities)", "zh": "处新增选址（{n}项设施）"},
    "c_card_complexes": {"en": "new service complexes", "zh": "处新增综合服务体"},
    "c_card_newly": {"en": "{demand} newly complete", "zh": "名{demand}新达标"},
    "c_card_share": {
        "en": "share with a {what}, before → after",
        "zh": "{what}占比：新增前 → 新增后",
    },
    # report: before / after
    "c_row_level": {"en": "complete {level}", "zh": "完整{level}"},
    "c_row_listed": {
        "en": "complete for the listed categories ({cats})",
        "zh": "所列设施全部可达（{cats}）",
    },
    # report: solver
    "c_bound": {"en": "Upper bound", "zh": "上界"},
    "c_bound_highs": {"en": "{bound}: HiGHS's dual bound", "zh": "{bound}：HiGHS 对偶界"},
    "c_bound_reachable": {
        "en": "{bound}: everything the candidates could make complete — a valid bound, "
        "not the solver's",
        "zh": "{bound}：候选点所能使达标的全部需求——有效上界，但非求解器给出",
    },
    "c_bound_category_gains": {
        "en": "{bound}: for each category, the demand not missing it plus what its sites could "
        "reach at most (the least over the categories) — a valid bound, not the solver's",
        "zh": "{bound}：对每类设施，不缺该类的需求加上其新增点最多可覆盖的需求（各类取最小）"
        "——有效上界，但非求解器给出",
    },
    "c_greedy": {
        "en": "Greedy start",
        "zh": "贪心初始解",
    },
    "c_greedy_text": {
        "en": "objective {value}; it has no guarantee here (the complete life circle is not "
        "a submodular objective), so only the solver's status and bound say how good the "
        "answer is",
        "zh": "目标值{value}；此处贪心解没有近似保证（完整生活圈不是次模目标），"
        "解的质量只能由求解状态和上界说明",
    },
    # report: per-site table
    "c_ranked": {"en": "Sites and the categories they host", "zh": "选址及其设置的设施"},
    "c_ranked_intro": {
        "en": "Ranked by the newly complete residents lost without the site (marginal); "
        '"newly complete" counts the residents the site serves for a category they '
        "lacked (a resident may count at several sites). The sites are also in "
        "proposals.geojson.",
        "zh": "按去掉该处选址后减少的新达标居民（边际）排序；“新达标”统计该处为居民补足所缺"
        "类别的人数（一名居民可能计入多处）。选址结果亦见 proposals.geojson。",
    },
    "c_col_site": {"en": "site: categories hosted", "zh": "选址：设置的设施"},
    "c_col_newly": {"en": "newly complete served", "zh": "服务的新达标居民"},
    "c_col_marginal": {"en": "newly complete (marginal)", "zh": "新达标居民（边际）"},
    "c_complex": {"en": "complex", "zh": "综合服务体"},
    # report: comparison and trade-off
    "c_tables": {
        "en": "Comparison, trade-off and units",
        "zh": "方案对比、效率与公平权衡及各单元",
    },
    "c_comparison": {
        "en": "The same budget spent one category at a time",
        "zh": "同等预算逐类选址的对比",
    },
    "c_col_siting": {"en": "siting", "zh": "选址方案"},
    "c_col_sites": {"en": "sites", "zh": "选址数"},
    "c_col_facilities": {"en": "facilities", "zh": "设施数"},
    "c_col_newly_all": {"en": "newly complete", "zh": "新达标居民"},
    "c_col_share_after": {"en": "complete share after", "zh": "新增后达标率"},
    "c_col_min_unit": {"en": "lowest unit share", "zh": "最低单元达标率"},
    "c_col_decile": {"en": "worst tenth of units", "zh": "最差十分之一单元"},
    "c_cmp_joint": {"en": "joint siting (this plan)", "zh": "联合选址（本方案）"},
    "c_cmp_complex": {"en": "service complexes (this plan)", "zh": "综合服务体（本方案）"},
    "c_cmp_single": {
        "en": "best single-category runs (MCLP per category)",
        "zh": "逐类最优选址（各类别分别做 MCLP）",
    },
    "c_cmp_separate": {
        "en": "joint siting on separate sites ({n} per category)",
        "zh": "分设选址的联合方案（每类{n}处）",
    },
    "c_tradeoff": {
        "en": "Efficiency–equity trade-off (fair objective per weight)",
        "zh": "效率与公平的权衡（各权重下的公平目标）",
    },
    "c_col_weight": {"en": "fairness weight", "zh": "公平权重"},
    "c_col_status": {"en": "status", "zh": "求解状态"},
    "c_col_gap": {"en": "MIP gap", "zh": "MIP 间隙"},
    "c_units": {"en": "{level}, complete before and after", "zh": "{level}：新增前后达标率"},
    "c_col_demand": {"en": "residents", "zh": "居民"},
    # map
    "c_layer": {
        "en": "Proposed sites for the complete life circle ({n})",
        "zh": "完整生活圈建议新址（{n}处）",
    },
    "c_layer_complex": {
        "en": "Proposed service complexes ({n})",
        "zh": "建议新增综合服务体（{n}处）",
    },
    "c_site_title": {"en": "Proposed site #{rank}", "zh": "建议新址 #{rank}"},
    "c_complex_title": {"en": "Proposed service complex #{rank}", "zh": "建议综合服务体 #{rank}"},
    "c_hosts": {"en": "hosts", "zh": "设置设施"},
}

#: Shared labels the report's template asks for that the complete siting words its own way.
SECTION_KEYS = {"sec_proposals": "c_section", "p_ranked": "c_ranked"}

_REPEATED = set(COMPLETE_TEXT) & set(_TEXT)
if _REPEATED:  # pragma: no cover - a programming error, caught by any test importing this
    msg = f"labels defined twice: {sorted(_REPEATED)}"
    raise RuntimeError(msg)


def text(key: str, lang: str, **values: Any) -> str:
    """The label ``key`` in ``lang``: a complete-siting label, else a shared one."""
    entry = COMPLETE_TEXT.get(key)
    if entry is None:
        return shared_text(key, lang, **values)
    return entry[lang].format(**values)


def section_text(key: str, lang: str, **values: Any) -> str:
    """:func:`text`, with the section's own heading and sites heading (:data:`SECTION_KEYS`)."""
    return text(SECTION_KEYS.get(key, key), lang, **values)
