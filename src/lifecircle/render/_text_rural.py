"""Bilingual labels of the urban/rural parts of the report and the map (``--rural-standard``).

Merged into :data:`lifecircle.render._text._TEXT` (look them up with
:func:`~lifecircle.render._text.text`); values are plain text, escaped by the callers.
"""

from __future__ import annotations

RURAL_TEXT: dict[str, dict[str, str]] = {
    "sec_rural": {"en": "Urban and rural units", "zh": "城乡单元"},
    "rural_intro": {
        "en": "Each {level} unit is audited under one standard: {urban} urban units under "
        "{urban_std}; {town} town and {village} village units under {rural_std}. The class comes "
        "from the unit's urban–rural class code (111/112 urban, 121/122/123 town, 210/220 "
        "village){density}. Figures of the two kinds are never averaged together: the table "
        "shows each unit's urban and rural figures side by side.",
        "zh": "每个{level}单元只按一项标准评估：{urban}个城区单元按{urban_std}；{town}个镇区单元和"
        "{village}个村庄单元按{rural_std}。类别取自单元的城乡分类代码（111/112城区，121/122/123"
        "镇区，210/220乡村）{density}。两类数字从不混合平均：下表并列列出各单元的城区与乡村数字。",
    },
    "rural_density": {
        "en": "; units without a code: fewer than {max} residents per km² makes a village unit",
        "zh": "；无代码的单元：每平方公里少于{max}人视为村庄单元",
    },
    "rural_head": {
        "en": "Rural residents within reach ({rural_std})",
        "zh": "乡村居民可达情况（{rural_std}）",
    },
    "rural_modes": {
        "en": "{level}: {minutes} minutes by {modes} (walking {walk} m/s, cycling {bike} m/s).",
        "zh": "{level}：{modes}{minutes}分钟（步行{walk}米/秒，骑行{bike}米/秒）。",
    },
    "mode_walk": {"en": "walking", "zh": "步行"},
    "mode_bicycle": {"en": "bicycle", "zh": "自行车"},
    "mode_ebike": {"en": "e-bike", "zh": "电动自行车"},
    "mode_or": {"en": " or ", "zh": "或"},
    "rural_split_title": {"en": "Urban and rural side by side", "zh": "城乡并列"},
    "col_units_classes": {"en": "units (urban / town / village)", "zh": "单元数（城区/镇区/村庄）"},
    "col_pop_urban": {"en": "urban residents", "zh": "城区居民"},
    "col_score_urban": {"en": "urban score", "zh": "城区得分"},
    "col_pop_rural": {"en": "rural residents", "zh": "乡村居民"},
    "col_score_rural": {"en": "rural score", "zh": "乡村得分"},
    "col_complete_rural": {"en": "rural complete", "zh": "乡村完整"},
    "ledger_title": {"en": "Village ledger: 三室两点", "zh": "村庄台账：三室两点"},
    "ledger_intro": {
        "en": "For each administrative village: does it contain each of the village-tier "
        "facilities, or do all its residents reach one within {minutes} minutes ({modes})? "
        "✓ inside the village · ✓ reached from outside · ◐ some residents reach one (share) · "
        "✗ none. {villages} villages, {lacking} lack at least one.",
        "zh": "逐个行政村：村内是否有各项村级设施，或全体村民能否在{minutes}分钟内（{modes}）到达？"
        "✓ 村内有 · ✓ 村外可达 · ◐ 部分村民可达（比例）· ✗ 均不可达。共{villages}个村，"
        "{lacking}个村至少缺一项。",
    },
    "col_village": {"en": "village", "zh": "村"},
    "col_town": {"en": "town", "zh": "镇"},
    "col_lacks": {"en": "lacks", "zh": "缺项"},
    "ledger_none": {"en": "no village unit was analysed", "zh": "无村庄单元参与分析"},
    "rural_unverified": {
        "en": "{mark} Rural numbers are local guidance or lifecircle's modelling choices, not "
        "checked against a source text: the village tier's minutes, the town tier's 15 minutes "
        "and 1–5 km (a draft, secondary source), the town facilities and the cycling speed.",
        "zh": "{mark}乡村数值为地方导则或本工具的建模选择，未经原文核对：村级分钟数、镇级15分钟及"
        "1–5公里（草案，二手来源）、镇级设施清单与骑行速度。",
    },
    # map
    "layer_rural_score": {
        "en": "Rural units ({std}): score",
        "zh": "乡村单元（{std}）：得分",
    },
    "layer_classes": {"en": "Urban / rural class", "zh": "城乡类别"},
    "class_urban": {"en": "urban", "zh": "城区"},
    "class_town": {"en": "town", "zh": "镇区"},
    "class_village": {"en": "village", "zh": "村庄"},
    "layer_rural_facilities": {
        "en": "{name} ({n}, rural standard)",
        "zh": "{name}（{n}处，乡村标准）",
    },
    "rural_tip": {
        "en": "{cls} · {std} · score {score}",
        "zh": "{cls} · {std} · 得分{score}",
    },
    "rural_tip_lacks": {"en": "lacks: {lacks}", "zh": "缺：{lacks}"},
}
