"""Bilingual labels of the fair-service parts of the report and the map.

Merged into :data:`lifecircle.render._text._TEXT` (look them up with
:func:`~lifecircle.render._text.text`); values are plain text, escaped by the callers.
"""

from __future__ import annotations

FAIR_TEXT: dict[str, dict[str, str]] = {
    # headline
    "fair_head": {
        "en": "Coverage of the residents each category serves",
        "zh": "各类设施对其服务人群的覆盖",
    },
    "fair_row": {
        "en": "{category} — {cohort}: {share} · all residents: {all}",
        "zh": "{category} — {cohort}：{share} · 全体居民：{all}",
    },
    "fair_row_all": {
        "en": "{category} — all residents: {share}",
        "zh": "{category} — 全体居民：{share}",
    },
    "thin_flag": {
        "en": "likely a data gap, add an official list: {found} found, {per10k} per 10,000 "
        "residents against about {expected}{mark} expected",
        "zh": "可能是数据缺失，请补充官方名录：仅找到{found}处，每万人{per10k}处，"
        "标准预期约{expected}{mark}处",
    },
    "fair_note": {
        "en": "Share of the category's own residents (its cohort, e.g. children of kindergarten "
        "age) within its threshold, next to the share of all residents. {mark} marks figures "
        "resting on numbers not checked against their source: thresholds, cohort ages, "
        "capacity defaults, expected service populations.",
        "zh": "各类设施阈值内覆盖其服务人群（如幼儿园适龄儿童）的比例，并列全体居民的覆盖比例。"
        "{mark}表示所依据的数值（阈值、人群年龄、默认容量、预期服务人口）未经原文核对。",
    },
    # supply and demand
    "sec_supply": {"en": "Supply and demand", "zh": "供需"},
    "supply_intro": {
        "en": "Supply per 1,000 residents of each category's cohort (every facility of the "
        "category in the data over the cohort of the analysed units), the share of the cohort "
        "who can be given a place within the threshold at a facility with room left "
        "(capacity-constrained coverage), and the cohort residents left without one.",
        "zh": "每千名服务人群的供给（数据中该类全部设施，除以参与评估单元的服务人群）、"
        "在阈值内能被分配到尚有余量设施的人群比例（容量约束下的覆盖），以及未获分配的人数。",
    },
    "col_cohort": {"en": "residents served", "zh": "服务人群"},
    "col_demand": {"en": "cohort residents", "zh": "服务人群人数"},
    "col_supply_1000": {"en": "supply per 1,000", "zh": "每千人供给"},
    "col_capacity_from": {"en": "capacity", "zh": "容量来源"},
    "col_placed": {"en": "with a place", "zh": "获分配比例"},
    "col_unmet": {"en": "without a place", "zh": "未获分配人数"},
    "cap_column": {"en": "facilities' capacity column", "zh": "设施容量字段"},
    "cap_default": {"en": "standard's default per facility", "zh": "标准默认容量"},
    "cap_none": {"en": "none: facilities counted", "zh": "无容量：按设施数计"},
    "supply_unit_places": {"en": "places", "zh": "个名额"},
    "supply_unit_beds": {"en": "beds", "zh": "张床位"},
    "supply_unit_residents": {"en": "residents' worth", "zh": "人服务能力"},
    "supply_unit_facilities": {"en": "facilities", "zh": "处设施"},
    "supply_units_head": {
        "en": "Per {level}: with a place and without, largest unmet first (top {n})",
        "zh": "各{level}：获分配比例与未获分配人数，按未满足需求从大到小（前{n}个）",
    },
    "supply_units_note": {
        "en": "Categories with a capacity only; units sorted by their cohort residents without "
        "a place, summed over those categories.",
        "zh": "仅列有容量的设施类别；单元按各类别未获分配人数之和排序。",
    },
    "col_placed_cat": {"en": "{name}: with a place", "zh": "{name}：获分配比例"},
    "col_unmet_cat": {"en": "{name}: without", "zh": "{name}：未获分配"},
    # equity
    "sec_equity": {"en": "Equity", "zh": "公平性"},
    "equity_intro": {
        "en": "Gini (0 = equal, 1 = all to one), Theil T split into the part between "
        "{parents} and within them, and the Palma ratio (the best-served 10% over the "
        "worst-served 40%; – when those 40% have nothing). Over residents: each cohort "
        "resident's 2SFCA access (supply within reach per resident); over units: the "
        "cohort coverage of each of the {units}.",
        "zh": "基尼系数（0为完全均等，1为全部集中于一方）、"
        "泰尔T指数（分解为{parents}之间与内部两部分）及帕尔玛比值（服务最好的10%与最差的40%之比；后者为零时记为–）。按居民：服务人群中每位居民的"
        "两步移动搜索法（2SFCA）可达性（可达范围内人均供给）；按单元：各{units}的服务人群覆盖率。",
    },
    "col_over_residents": {"en": "over cohort residents (2SFCA)", "zh": "按居民（2SFCA）"},
    "col_over_units": {"en": "over units (coverage)", "zh": "按单元（覆盖率）"},
    "col_gini": {"en": "Gini", "zh": "基尼"},
    "col_theil": {"en": "Theil", "zh": "泰尔"},
    "col_between": {"en": "between", "zh": "组间"},
    "col_within": {"en": "within", "zh": "组内"},
    "col_palma": {"en": "Palma", "zh": "帕尔玛"},
    "equity_score": {"en": "score (units)", "zh": "得分（按单元）"},
    "chart_lorenz": {"en": "Lorenz curves of access", "zh": "可达性洛伦兹曲线"},
    "chart_lorenz_x": {
        "en": "cumulative share of residents (of units for the score), worst served first",
        "zh": "居民累计比例（得分为单元累计比例），服务最差者在前",
    },
    "chart_lorenz_y": {"en": "cumulative share of access", "zh": "可达性累计比例"},
    "lorenz_score": {"en": "score over {units}", "zh": "各{units}得分"},
    "lorenz_category": {"en": "{name}: 2SFCA over residents", "zh": "{name}：按居民2SFCA"},
    "lorenz_equal": {"en": "equal shares", "zh": "完全均等"},
    "worst_decile_head": {
        "en": "The worst-served tenth of {units} (decile 1 of the score)",
        "zh": "服务最差的十分之一{units}（得分第1十分位）",
    },
    "equity_sentence": {
        "en": "The worst-served tenth of {units} ({n} of {total}, {residents} residents) reach "
        "{worst} of the mandatory categories audited on average, against {best} in the "
        "best-served tenth ({n_best} of {total}); the Gini of the score across {units} is "
        "{gini}.",
        "zh": "服务最差的十分之一{units}（{total}个中的{n}个，{residents}名居民）平均可达{worst}的"
        "已评估必配设施类别，服务最好的十分之一（{n_best}个）为{best}；各{units}得分的基尼系数为"
        "{gini}。",
    },
    # critical facilities
    "sec_critical": {"en": "Critical facilities", "zh": "关键设施"},
    "critical_intro": {
        "en": "Facilities some residents depend on alone: if one closed, the residents of its "
        "category's cohort listed would lose coverage (no other facility of the category "
        "within the threshold).",
        "zh": "部分居民唯一可达的设施：若关闭，表中所列服务人群将失去覆盖"
        "（阈值内无同类其他设施）。",
    },
    "col_facility": {"en": "facility", "zh": "设施"},
    "col_sole": {"en": "would lose coverage", "zh": "关闭后失去覆盖"},
    "col_in_reach": {"en": "residents within reach", "zh": "可达范围内服务人群"},
    "no_critical": {
        "en": "No facility is the only one within reach of any resident.",
        "zh": "没有设施是任何居民唯一可达的设施。",
    },
    # how sure
    "sec_sure": {"en": "How sure are these figures", "zh": "数据可信度"},
    "sure_intro": {
        "en": "Facilities found in the analysed units against what the standard expects "
        "({mark}: an expectation not checked against its source). A thin category's coverage "
        "more likely reflects missing data than a real shortfall: add an official list with "
        "--facilities.",
        "zh": "参与评估单元内找到的设施数与标准预期对比（{mark}：预期值未经原文核对）。"
        "数据偏少类别的覆盖率更可能反映数据缺失而非真实短缺：请用 --facilities 补充官方名录。",
    },
    "col_found": {"en": "found", "zh": "找到"},
    "col_per10k": {"en": "per 10,000 residents", "zh": "每万人"},
    "col_per10k_cohort": {"en": "per 10,000 of its cohort", "zh": "每万名服务人群"},
    "col_expected": {"en": "expected per 10,000", "zh": "预期每万人"},
    "col_data": {"en": "data", "zh": "数据"},
    "thin_yes": {"en": "thin: likely a data gap", "zh": "偏少：可能是数据缺失"},
    "thin_no": {"en": "plausible", "zh": "合理"},
    "thin_unknown": {"en": "no expectation", "zh": "无预期值"},
    "cohorts_head": {"en": "Cohorts: how their residents were found", "zh": "服务人群的推算方法"},
    "col_ages": {"en": "ages", "zh": "年龄"},
    "col_method": {"en": "method", "zh": "方法"},
    "cohort_method_given": {"en": "given in the population input", "zh": "人口数据直接给出"},
    "cohort_method_age bands": {"en": "derived from age bands", "zh": "由年龄段推算"},
    "cohort_method_none": {
        "en": "not available: all residents used",
        "zh": "无数据：以全体居民计",
    },
    # closure
    "sec_closure": {"en": "Closing facilities", "zh": "设施关闭影响"},
    "closure_intro": {
        "en": "Re-audit with {n} facilities closed (listed in {file}); the rest of this report "
        "describes the city after the closure.",
        "zh": "关闭{n}处设施后重新评估（名单见 {file}）；本报告其余部分描述关闭后的情况。",
    },
    "closure_closed": {"en": "Closed facilities", "zh": "关闭的设施"},
    "closure_change": {
        "en": "Coverage of each category's cohort, before and after",
        "zh": "各类设施服务人群覆盖率：关闭前后",
    },
    "closure_units": {
        "en": "Units that lose coverage, largest loss first (top {n} of {total})",
        "zh": "失去覆盖的单元，按损失从大到小（{total}行中前{n}行）",
    },
    "col_closure_before": {"en": "before", "zh": "关闭前"},
    "col_closure_after": {"en": "after", "zh": "关闭后"},
    "col_lose": {"en": "lose coverage", "zh": "失去覆盖"},
    # map
    "theme_cohort": {
        "en": "{name}: {cohort} within {minutes} min",
        "zh": "{minutes}分钟内可达{name}的{cohort}",
    },
    "theme_placed": {
        "en": "{name}: {cohort} with a place (capacity)",
        "zh": "{name}：{cohort}获分配比例（按容量）",
    },
    "tip_unmet": {"en": "{n} without a place", "zh": "{n}人未获分配"},
    "popup_placed": {"en": "{name}: with a place", "zh": "{name}：获分配比例"},
    "popup_unmet": {"en": "{name}: without a place", "zh": "{name}：未获分配"},
    "popup_cohort": {"en": "{name}: {cohort}", "zh": "{name}：{cohort}"},
}
