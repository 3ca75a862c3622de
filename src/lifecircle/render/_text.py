"""Bilingual labels and number formatting shared by the map and the report.

Every label of the map and the report is looked up here by key, in English or
Chinese; category and level names come from the standard. Values are plain
text: callers escape them (Jinja2 autoescaping in the report, :func:`esc` in
the map) before they reach HTML.
"""

from __future__ import annotations

import html
from typing import Any

import pandas as pd

from ..config import Standard
from ._text_fair import FAIR_TEXT
from ._text_proposals import PROPOSAL_TEXT
from ._text_rural import RURAL_TEXT

LANGS = ("en", "zh")

#: Names of the unit levels of the bundled data; other levels show their id.
_LEVEL_NAMES = {
    "district": {"en": "district", "zh": "区"},
    "street": {"en": "street / town", "zh": "街道/镇"},
    "committee": {"en": "residents' or villagers' committee", "zh": "居委会/村委会"},
    "study_area": {"en": "study area", "zh": "研究范围"},
}

_PROFILE_NAMES = {
    "adult": {"en": "adult", "zh": "成人"},
    "elderly": {"en": "elderly", "zh": "老年人"},
    "child": {"en": "child", "zh": "儿童"},
}

_TEXT: dict[str, dict[str, str]] = {
    # shared
    "title": {"en": "15-minute community life circle audit", "zh": "15分钟社区生活圈评估"},
    "population": {"en": "residents", "zh": "居民"},
    "population_method": {"en": "population method", "zh": "人口估算方法"},
    "score": {
        "en": "score (mean share of mandatory facilities reached)",
        "zh": "得分（可达必配设施比例均值）",
    },
    "complete_level": {"en": "complete {level}", "zh": "完整{level}"},
    "worst_category": {"en": "worst category", "zh": "最短缺设施"},
    "units_analysed": {"en": "units analysed", "zh": "已评估单元"},
    "at_most": {"en": "≤ {minutes} min", "zh": "≤{minutes}分钟"},
    "unnamed": {"en": "(unnamed)", "zh": "（无名称）"},
    # map
    "theme_complete": {
        "en": "Complete life circle (every mandatory facility)",
        "zh": "完整生活圈（全部必配设施可达）",
    },
    "theme_category": {"en": "{name} within {minutes} min", "zh": "{minutes}分钟内可达{name}"},
    "layer_facilities": {"en": "{name} ({n})", "zh": "{name}（{n}）"},
    "layer_boundaries": {"en": "{level} boundaries", "zh": "{level}边界"},
    "layer_not_analysed": {"en": "Units not analysed", "zh": "未评估单元"},
    "layer_unused": {
        "en": "Facilities not used: more than {metres} m from the walk network",
        "zh": "未使用设施：距步行网络超过{metres}米",
    },
    "legend_share": {"en": "Share of residents covered", "zh": "覆盖居民比例"},
    "legend_uncovered": {
        "en": "Residents not covered, per {cell} m cell",
        "zh": "未覆盖居民（每{cell}米网格）",
    },
    "legend_catchment": {
        "en": "Walkable to a facility within the threshold",
        "zh": "阈值内可步行到达设施的街道范围",
    },
    "legend_not_analysed": {"en": "Not analysed", "zh": "未评估"},
    "legend_clusters": {
        "en": "Nearby facilities of a category (zoom in or click to split)",
        "zh": "同类设施聚合数（放大或点击展开）",
    },
    "layers_themes": {"en": "Colour units by", "zh": "单元着色"},
    "layers_overlays": {"en": "Show", "zh": "显示"},
    "uncovered_here": {"en": "{n} residents not covered", "zh": "{n}名居民未覆盖"},
    "facility_unused": {
        "en": "not used: more than {metres} m from the walk network",
        "zh": "未使用：距步行网络超过{metres}米",
    },
    "snap": {"en": "{metres} m from the walk network", "zh": "距步行网络{metres}米"},
    "partly_analysed": {"en": "{done} of {total}", "zh": "{done}/{total}"},
    "partly_analysed_units": {
        "en": "{done} of {total} {units} analysed",
        "zh": "{total}个{units}中已评估{done}个",
    },
    "units_of_level": {"en": "{level} units", "zh": "{level}单元"},
    "units_of_street": {"en": "streets / towns", "zh": "街道/镇"},
    "units_of_district": {"en": "districts", "zh": "区"},
    "units_of_committee": {"en": "residents' committees / villages", "zh": "居委会/村委会"},
    "units_of_hex": {"en": "hexagons", "zh": "六边形"},
    "legend_boundary": {"en": "Boundary of a coarser unit", "zh": "上级单元边界"},
    "legend_partly": {
        "en": "Partly analysed: not all its {units} analysed",
        "zh": "部分评估：其{units}未全部评估",
    },
    "study_area_km2": {"en": "{area} km²", "zh": "{area}平方公里"},
    "map_heading_sub": {"en": "{area} · {title}", "zh": "{area} · {title}"},
    # report
    "report_subtitle": {
        "en": "{standard} · walking profile {profile} ({speed} m/s)",
        "zh": "{standard} · 步行速度：{profile}（{speed}米/秒）",
    },
    "created": {
        "en": "Audit of {date} · lifecircle {version}",
        "zh": "评估时间 {date} · lifecircle {version}",
    },
    "toc": {"en": "Contents", "zh": "目录"},
    "sec_headline": {"en": "Headline", "zh": "主要结论"},
    "sec_categories": {"en": "Categories ranked by shortfall", "zh": "各类设施短缺排序"},
    "sec_worst": {"en": "Worst-served units", "zh": "服务最薄弱的单元"},
    "sec_times": {"en": "Walking times", "zh": "步行时间分布"},
    "sec_tables": {"en": "All units", "zh": "全部单元"},
    "sec_gaps": {"en": "Largest gaps", "zh": "最大缺口"},
    "sec_method": {"en": "Method", "zh": "方法"},
    "sec_warnings": {"en": "Warnings", "zh": "警告"},
    "sec_sources": {"en": "Data sources and licences", "zh": "数据来源与许可"},
    "residents_analysed": {"en": "residents analysed", "zh": "参与评估的居民"},
    "card_complete": {"en": "live in a complete {level}", "zh": "享有完整{level}"},
    "card_units": {"en": "{level} units analysed", "zh": "个{level}单元参与评估"},
    "of_total": {"en": "of {total}", "zh": "共{total}个"},
    "headline_sentence": {
        "en": "{share} of the {total} residents analysed reach every mandatory facility of "
        "the {level} on foot; the largest shortfall is {category}, which {uncovered} "
        "residents cannot reach within {minutes} minutes.",
        "zh": "在{total}名参与评估的居民中，{share}步行可达{level}的全部必配设施；"
        "短缺最严重的是{category}：{uncovered}名居民无法在{minutes}分钟内步行到达。",
    },
    "col_category": {"en": "category", "zh": "设施类别"},
    "col_level": {"en": "life circle", "zh": "生活圈"},
    "col_threshold": {"en": "threshold", "zh": "阈值"},
    "col_coverage": {"en": "residents covered", "zh": "覆盖居民比例"},
    "col_uncovered": {"en": "residents not covered", "zh": "未覆盖居民"},
    "col_uncovered_share": {"en": "share not covered", "zh": "未覆盖比例"},
    "col_facilities": {"en": "facilities", "zh": "设施数"},
    "col_mandatory": {"en": "mandatory", "zh": "必配"},
    "col_unit": {"en": "unit", "zh": "单元"},
    "col_id": {"en": "id", "zh": "编码"},
    "col_level_unit": {"en": "level", "zh": "层级"},
    "col_complete": {"en": "complete {minutes} min", "zh": "完整{minutes}分钟"},
    "col_score": {"en": "score", "zh": "得分"},
    "col_analysed": {"en": "units analysed", "zh": "已评估单元"},
    "col_source": {"en": "source", "zh": "依据"},
    "col_verified": {"en": "checked against the text", "zh": "已核对原文"},
    "col_reason": {"en": "why not analysed", "zh": "未评估原因"},
    "col_file": {"en": "file", "zh": "文件"},
    "col_role": {"en": "role", "zh": "用途"},
    "minutes_metres": {"en": "{minutes} min · {metres} m", "zh": "{minutes}分钟 · {metres}米"},
    "yes": {"en": "yes", "zh": "是"},
    "no": {"en": "no", "zh": "否"},
    "chart_coverage": {"en": "Residents covered, by category", "zh": "各类设施覆盖居民比例"},
    "chart_coverage_x": {
        "en": "% of residents within the threshold",
        "zh": "阈值内可达的居民比例（%）",
    },
    "chart_times": {
        "en": "Residents reaching each category within t minutes",
        "zh": "t分钟内可达各类设施的居民比例",
    },
    "chart_times_x": {"en": "walking time t (minutes)", "zh": "步行时间t（分钟）"},
    "chart_times_y": {"en": "% of residents", "zh": "居民比例（%）"},
    "chart_times_note": {
        "en": "Population-weighted share of residents whose nearest facility of the category "
        "is within t minutes' walk; dots mark each category's threshold. Distances were "
        "searched up to {max} minutes.",
        "zh": "按人口加权：最近设施在t分钟步行范围内的居民比例；圆点为各类设施的阈值。"
        "距离搜索上限为{max}分钟。",
    },
    "chart_units": {"en": "Units ranked by complete life circle", "zh": "各单元完整生活圈比例排序"},
    "chart_units_cap": {
        "en": "The chart shows the {shown} worst-served of the {total} units; every unit is in "
        "the tables below and in units.gpkg.",
        "zh": "图中仅显示服务最差的 {shown} 个单元（共 {total} 个）；全部单元见下表及 units.gpkg。",
    },
    "chart_units_x": {
        "en": "% of residents with a complete life circle",
        "zh": "享有完整生活圈的居民比例（%）",
    },
    "sort_hint": {"en": "Click a column heading to sort.", "zh": "点击列标题排序。"},
    "gaps_intro": {
        "en": "The {n} largest shortfalls (unit × category), by residents not "
        "covered; all {total} are in gaps.csv.",
        "zh": "按未覆盖居民数排序的前{n}个缺口（单元 × 设施类别）；全部{total}条见 gaps.csv。",
    },
    "m_standard": {"en": "Standard", "zh": "标准"},
    "m_profile": {"en": "Walking speed", "zh": "步行速度"},
    "m_speed": {
        "en": "{profile}: {speed} m/s = {per_min} m/min ({source})",
        "zh": "{profile}：{speed}米/秒 = {per_min}米/分钟（{source}）",
    },
    "m_thresholds": {"en": "Thresholds", "zh": "阈值"},
    "m_access": {"en": "Access convention", "zh": "可达性计算方法"},
    "m_access_text": {
        "en": "Walking distance from a resident to a category is the minimum over its "
        "facilities of: the straight line from the resident to the nearest node of the "
        "walk network, plus the shortest network distance to the node nearest the "
        "facility, plus the straight line to the facility. Polygon facilities (parks, "
        "campuses) are reached at their edge. Walking time = distance / speed. A "
        "resident is covered for a category when the time is within its threshold; a "
        "complete life circle means every mandatory category of that level and below "
        "is covered.",
        "zh": "居民到某类设施的步行距离取该类所有设施中的最小值：居民到步行网络最近节点的直线距离，"
        "加上该节点到设施最近节点的最短网络距离，再加上到设施的直线距离。面状设施（公园、校园）"
        "按其边界到达。步行时间 = 距离 / 步行速度。步行时间不超过阈值即视为覆盖；"
        "完整生活圈指该层级及以下的全部必配设施均被覆盖。",
    },
    "m_network": {"en": "Walk network", "zh": "步行网络"},
    "m_network_text": {
        "en": "{nodes} nodes, {edges} edges, {km} km of streets ({crs}); {dropped} smaller "
        "disconnected components ({dropped_nodes} nodes) dropped.",
        "zh": "{nodes}个节点，{edges}条边，街道总长{km}公里（{crs}）；删除{dropped}个不连通的"
        "小网络分量（{dropped_nodes}个节点）。",
    },
    "m_population": {"en": "Population", "zh": "人口"},
    "m_population_sources": {"en": "Residents by source", "zh": "各来源人口"},
    "m_units": {"en": "Units analysed", "zh": "评估单元"},
    "m_units_text": {
        "en": "A {level} unit is analysed when its {catchment} m walking catchment lies inside "
        "the street data, so that no facility beyond the data's edge is missed: {done} "
        "of {total} were analysed. Coarser units add up the analysed units inside them.",
        "zh": "仅当{level}单元的{catchment}米步行范围位于街道数据之内时才评估该单元，以免遗漏数据"
        "边界外的设施：{total}个单元中评估了{done}个。上级单元由其内已评估单元汇总。",
    },
    "m_not_requested": {
        "en": "Categories not requested (--categories)",
        "zh": "未要求评估的设施类别（--categories）",
    },
    "m_no_facilities": {
        "en": "Categories without facilities in the data",
        "zh": "数据中无设施的类别",
    },
    "m_complete": {"en": "Complete life circles", "zh": "完整生活圈"},
    "m_speed_unverified": {
        "en": "— not checked against its source (verified: false)",
        "zh": "——尚未与来源核对（verified: false）",
    },
    "m_excluded": {"en": "Units not analysed", "zh": "未评估单元"},
    "no_warnings": {"en": "None.", "zh": "无。"},
    "sec_quality": {"en": "Data quality", "zh": "数据质量"},
    "q_intro": {
        "en": "What the input data lack and what the audit had to leave out "
        "(data_quality in summary.json). Rows in grey are zero.",
        "zh": "输入数据的缺陷及评估中被排除的内容（见 summary.json 的 data_quality）。灰色行为零。",
    },
    "col_check": {"en": "check", "zh": "检查项"},
    "col_count": {"en": "count", "zh": "数量"},
    "col_meaning": {"en": "what it means", "zh": "含义"},
    "q_more": {"en": "… and {n} more", "zh": "……另有{n}项"},
    "q_network_components_dropped": {
        "en": "Street-network islands dropped",
        "zh": "删除的街道网络孤岛",
    },
    "q_network_components_dropped_note": {
        "en": "Small parts of the walk network not connected to the main one; residents and "
        "facilities on them are not audited.",
        "zh": "与主网络不连通的小块步行网络；其上的居民和设施不参与评估。",
    },
    "q_network_nodes_dropped": {"en": "Street nodes in those islands", "zh": "孤岛中的街道节点"},
    "q_network_nodes_dropped_note": {
        "en": "Size of the dropped islands; keep large ones with --min-component-nodes.",
        "zh": "被删除孤岛的规模；可用 --min-component-nodes 保留较大的孤岛。",
    },
    "q_facilities_snapped_over_100m": {
        "en": "Facilities 100–{metres} m from the walk network",
        "zh": "距步行网络100–{metres}米的设施",
    },
    "q_facilities_snapped_over_100m_note": {
        "en": "Used, but reached by a straight walk of over 100 m from the nearest street: "
        "check their positions.",
        "zh": "参与评估，但需从最近街道直线步行100米以上才能到达：请核对其位置。",
    },
    "q_facilities_unreachable": {
        "en": "Facilities more than {metres} m from the walk network",
        "zh": "距步行网络超过{metres}米的设施",
    },
    "q_facilities_unreachable_note": {
        "en": "Not used: too far from any street to be reached on foot (map layer "
        '"Facilities not used").',
        "zh": "未使用：距任何街道过远，无法步行到达（见地图图层“未使用设施”）。",
    },
    "q_duplicates_merged": {"en": "Duplicate facilities merged", "zh": "合并的重复设施"},
    "q_duplicates_merged_note": {
        "en": "Found in more than one source (same category, similar name, within 20 m); "
        "counted once.",
        "zh": "在多个数据源中重复出现（同类、名称相近、相距20米以内）；只计一次。",
    },
    "q_unknown_typecodes": {
        "en": "Facilities with an unmapped Amap type code",
        "zh": "高德类型编码无对应类别的设施",
    },
    "q_unknown_typecodes_note": {
        "en": "Left out; map the codes in your own file with --typecodes FILE (see "
        "docs/typecodes.md) or give a category column.",
        "zh": "未纳入评估；可用 --typecodes 文件补充编码映射（见 docs/typecodes.md），"
        "或提供 category 列。",
    },
    "q_categories_without_facilities": {
        "en": "Categories without facilities",
        "zh": "无设施的类别",
    },
    "q_categories_without_facilities_note": {
        "en": "The data hold no facility of these categories of the standard; they are not "
        "audited.",
        "zh": "数据中没有标准所列的这些类别的设施；这些类别不参与评估。",
    },
    "q_units_without_population": {"en": "Units without residents", "zh": "无居民的单元"},
    "q_units_without_population_note": {
        "en": "No resident location falls in these units, so they have no coverage figures.",
        "zh": "这些单元内没有居民点，因此没有覆盖率数据。",
    },
    "q_origins_beyond_max_snap": {
        "en": "Resident locations more than {metres} m from the walk network",
        "zh": "距步行网络超过{metres}米的居民点",
    },
    "q_origins_beyond_max_snap_note": {
        "en": "Counted as not covered for every category.",
        "zh": "在所有类别中均计为未覆盖。",
    },
    "q_population_beyond_max_snap": {
        "en": "Residents at those locations",
        "zh": "上述居民点的居民数",
    },
    "q_population_beyond_max_snap_note": {
        "en": "Counted as not covered: they live too far from any street in the data.",
        "zh": "计为未覆盖：距数据中的任何街道过远。",
    },
    "src_inputs": {"en": "Input files", "zh": "输入文件"},
    "src_sample": {"en": "Bundled sample", "zh": "内置样例数据"},
    "src_licence": {"en": "Licence and attribution", "zh": "许可与署名"},
    "src_licence_text": {
        "en": "Streets, facilities and boundaries from OpenStreetMap: © OpenStreetMap "
        "contributors, available under the Open Database Licence (ODbL 1.0); "
        "derived results must credit them and derived databases be shared alike.",
        "zh": "街道、设施与边界数据来自 OpenStreetMap：© OpenStreetMap contributors，"
        "依开放数据库许可（ODbL 1.0）发布；衍生成果须署名，衍生数据库须以相同许可共享。",
    },
    "src_software": {"en": "Software", "zh": "软件"},
    "role_network": {"en": "street network", "zh": "街道网络"},
    "role_facilities": {"en": "facilities", "zh": "设施"},
    "role_units": {"en": "governance units", "zh": "治理单元"},
    "role_population": {"en": "population", "zh": "人口"},
    # report: what was audited, what rests on unverified numbers, partly analysed units
    "list_sep": {"en": ", ", "zh": "、"},
    "title_study": {
        "en": "{name}: 15-minute community life circle audit",
        "zh": "{name}：15分钟社区生活圈评估",
    },
    "study_area": {"en": "Area analysed: {area} km²", "zh": "评估范围面积：{area}平方公里"},
    "card_residents": {"en": "{n} residents", "zh": "{n}名居民"},
    "not_computed": {"en": "not computed", "zh": "未计算"},
    "missing": {"en": "missing: {missing}", "zh": "缺少：{missing}"},
    "complete_missing": {
        "en": "not computed — missing: {missing}",
        "zh": "未计算——缺少：{missing}",
    },
    "complete_not_computed": {
        "en": "Complete life circle ({levels}): not computed — missing: {missing}. A complete "
        "life circle needs every mandatory category of its level and below: audit them "
        "(give their facilities with --facilities; do not leave them out with "
        "--categories) to compute it.",
        "zh": "完整生活圈（{levels}）：未计算——缺少：{missing}。完整生活圈须评估该层级及以下的"
        "全部必配设施类别：请补充这些类别的设施（--facilities），且不要用 --categories "
        "排除它们，再重新评估。",
    },
    "complete_partial": {
        "en": "audited mandatory categories only; not audited: {missing}",
        "zh": "仅含已评估的必配类别；未评估：{missing}",
    },
    "complete_partial_note": {
        "en": "Complete life circle ({levels}): counts only the mandatory categories audited; "
        "not audited: {missing}, so the figure overstates how many residents reach every "
        "mandatory facility.",
        "zh": "完整生活圈（{levels}）：仅计入已评估的必配类别；未评估：{missing}，因此该比例"
        "高估了可达全部必配设施的居民。",
    },
    "headline_partial": {
        "en": "{share} of the {total} residents analysed reach every audited mandatory "
        "facility of the {level} on foot ({missing} not audited); the largest shortfall "
        "is {category}, which {uncovered} residents cannot reach within {minutes} "
        "minutes.",
        "zh": "在{total}名参与评估的居民中，{share}步行可达{level}中已评估的全部必配设施"
        "（未评估：{missing}）；短缺最严重的是{category}：{uncovered}名居民无法在"
        "{minutes}分钟内步行到达。",
    },
    "headline_not_computed": {
        "en": "The complete {level} was not computed: {missing} were not audited.",
        "zh": "未计算完整{level}：{missing}未参与评估。",
    },
    "headline_shortfall": {
        "en": "Of the {n} categories audited, the largest shortfall is {category}: {uncovered} "
        "of the {total} residents analysed cannot reach one within {minutes} minutes.",
        "zh": "在已评估的{n}类设施中，短缺最严重的是{category}：{total}名参与评估的居民中有"
        "{uncovered}名无法在{minutes}分钟内步行到达。",
    },
    "scope_audited": {
        "en": "{n} of the standard's {total} facility categories audited.",
        "zh": "评估了标准所列{total}类设施中的{n}类。",
    },
    "scope_not_requested": {
        "en": "Not requested (--categories), so not audited: {names}.",
        "zh": "未要求评估（--categories）：{names}。",
    },
    "scope_no_facilities": {
        "en": "No facilities in the data, so not audited: {names}.",
        "zh": "数据中无此类设施，未评估：{names}。",
    },
    "name_flag": {"en": "{name} ({flag})", "zh": "{name}（{flag}）"},
    "scope_partly": {
        "en": "Only partly analysed ({n}): {units}.",
        "zh": "仅部分评估的单元（{n}个）：{units}。",
    },
    "reason_not_requested": {
        "en": "not requested (--categories)",
        "zh": "未要求评估（--categories）",
    },
    "reason_no_facilities": {"en": "no facilities in the data", "zh": "数据中无此类设施"},
    "partly_flag": {
        "en": "{done} of {total} {units} analysed",
        "zh": "{total}个{units}中评估了{done}个",
    },
    "partly_note": {
        "en": "{mark} Partly analysed: a {level} unit is analysed only when its {catchment} m "
        "walking catchment lies inside the street data, and a coarser unit adds up only "
        "its analysed {level} units. Its figures describe the residents of those units, "
        "not the whole unit; its population is that of the analysed units.",
        "zh": "{mark} 部分评估：仅当{level}单元的{catchment}米步行范围位于街道数据之内时才评估"
        "该单元，上级单元只汇总其已评估的{level}单元。其数据只代表这些单元的居民，"
        "而非整个单元；其人口亦仅为已评估单元的人口。",
    },
    "edge_flag": {"en": "walking catchment leaves the street data", "zh": "步行范围超出街道数据"},
    "edge_note": {
        "en": "{mark} Analysed although part of its walking catchment lies outside the street "
        "data (edge effect): facilities beyond the data's edge are missed, so its "
        "coverage may be underestimated.",
        "zh": "{mark} 虽有部分步行范围位于街道数据之外仍参与评估（边缘效应）：数据边界外的设施"
        "未被计入，其覆盖率可能被低估。",
    },
    "unverified_note": {
        "en": "{mark} {n} of the {total} thresholds audited have not been checked against the "
        "text of the standard (verified: false in the standard file): {names}. Figures "
        "marked {mark} rest on them; where your local guideline differs, use it instead "
        "(--standard with an edited copy).",
        "zh": "{mark} 已评估的{total}个阈值中有{n}个尚未与标准原文核对（标准文件中 verified: "
        "false）：{names}。标有{mark}的数据依赖这些阈值；如与地方导则不同，请以地方导则"
        "为准（用 --standard 指定修改后的标准文件）。",
    },
    "unverified_profile": {
        "en": "The walking speed of the {profile} profile ({speed} m/s) has not been checked "
        "against its source (verified: false): every figure rests on it.",
        "zh": "{profile}步行速度（{speed}米/秒）尚未与来源核对（verified: false）："
        "所有数据均依赖该速度。",
    },
    "col_complete_share": {"en": "complete {level}", "zh": "完整{level}"},
    "score_note": {
        "en": "Score: population-weighted mean share of the audited mandatory categories each "
        "resident reaches within their thresholds.",
        "zh": "得分：按人口加权，每位居民在阈值内可达的已评估必配设施类别比例的均值。",
    },
    "chart_units_score": {"en": "Units ranked by score", "zh": "各单元得分排序"},
    "chart_units_score_x": {
        "en": "score: % of audited mandatory categories reached (mean)",
        "zh": "得分：可达的已评估必配类别比例（均值，%）",
    },
}
_REPEATED = (set(_TEXT) | set(FAIR_TEXT)) & set(PROPOSAL_TEXT) | set(_TEXT) & set(FAIR_TEXT)
if _REPEATED:  # pragma: no cover - a programming error
    raise RuntimeError("a fair-service or proposed-site label repeats a key of another table")
if set(RURAL_TEXT) & (set(_TEXT) | set(FAIR_TEXT) | set(PROPOSAL_TEXT)):  # pragma: no cover
    raise RuntimeError("an urban/rural label repeats a key of another table")
_TEXT.update(FAIR_TEXT)
_TEXT.update(PROPOSAL_TEXT)
_TEXT.update(RURAL_TEXT)


def check_lang(lang: str) -> str:
    """Return ``lang`` if it is a supported language, else raise ``ValueError``."""
    if lang not in LANGS:
        msg = f"lang must be one of {', '.join(LANGS)}, got {lang!r}"
        raise ValueError(msg)
    return lang


def text(key: str, lang: str, **values: Any) -> str:
    """The label ``key`` in ``lang``, formatted with ``values``."""
    return _TEXT[key][lang].format(**values)


def level_name(level: str, lang: str) -> str:
    """Display name of a governance-unit level (its id when unknown)."""
    return _LEVEL_NAMES.get(level, {}).get(lang, level)


def profile_name(profile: str, lang: str) -> str:
    """Display name of a walking profile (its id when unknown)."""
    return _PROFILE_NAMES.get(profile, {}).get(lang, profile)


def category_name(standard: Standard, category: str, lang: str) -> str:
    """A category's name in ``lang`` from the standard."""
    return standard.category(category).name(lang)


def life_circle_name(standard: Standard, level: str, lang: str) -> str:
    """A life-circle level's name in ``lang`` (e.g. "15-minute life circle")."""
    lv = standard.level(level)
    return lv.name_zh if lang == "zh" else lv.name_en


def _missing(value: Any) -> bool:
    return value is None or bool(pd.isna(value))


def pct(value: Any, digits: int = 1) -> str:
    """A share 0-1 as a percentage; ``"–"`` when missing."""
    if _missing(value):
        return "–"
    return f"{100.0 * float(value):.{digits}f}%"


def count(value: Any) -> str:
    """A count rounded to an integer with thousands separators; ``"–"`` when missing."""
    if _missing(value):
        return "–"
    return f"{round(float(value)):,}"


def esc(value: Any) -> str:
    """HTML-escape any value (quotes included) for markup built outside a template."""
    return html.escape(str(value), quote=True)
