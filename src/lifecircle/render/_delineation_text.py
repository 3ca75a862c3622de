"""Bilingual labels of the life-circle units page (``lifecircle delineate``).

Looked up by key in English or Chinese, as :mod:`lifecircle.render._text` does for the
audit's map and report; values are plain text, escaped by the callers (Jinja2
autoescaping in the report part, :func:`~lifecircle.render._text.esc` in the map part).
"""

from __future__ import annotations

from typing import Any

DELINEATION_TEXT: dict[str, dict[str, str]] = {
    # page
    "page_title": {"en": "Life-circle units: {level}", "zh": "生活圈单元划分：{level}"},
    "page_sub": {
        "en": "{n} units drawn from {blocks} building blocks ({source})",
        "zh": "由{blocks}个基本地块（{source}）组合为{n}个单元",
    },
    "source_street_blocks": {"en": "street blocks", "zh": "街坊"},
    "source_units": {"en": "governance units: {level}", "zh": "管理单元：{level}"},
    # map
    "theme_range": {
        "en": "Life-circle units by population range",
        "zh": "生活圈单元（按人口规模区间着色）",
    },
    "layers_units": {"en": "Life-circle units", "zh": "生活圈单元"},
    "layers_show": {"en": "Show", "zh": "显示"},
    "layer_governance": {"en": "Governance units ({level})", "zh": "管理单元（{level}）"},
    "layer_governance_free": {"en": "Governance units", "zh": "管理单元"},
    "layer_centres": {"en": "Unit centres", "zh": "单元中心"},
    "layer_blocks": {"en": "Building blocks", "zh": "基本地块"},
    "legend_range": {
        "en": "Residents per unit (range {range})",
        "zh": "单元人口（区间{range}）",
    },
    "class_in": {"en": "within the range", "zh": "在区间内"},
    "class_below": {"en": "below the range", "zh": "低于区间"},
    "class_above": {"en": "above the range", "zh": "高于区间"},
    "legend_governance": {"en": "Governance unit boundary", "zh": "管理单元边界"},
    "legend_centre": {
        "en": "Unit centre (where the service complex would stand)",
        "zh": "单元中心（服务设施综合体建议位置）",
    },
    "legend_blocks": {"en": "Building block (off at first)", "zh": "基本地块（默认隐藏）"},
    "tip_unit_id": {"en": "unit id", "zh": "单元编号"},
    "tip_residents": {"en": "residents", "zh": "居民"},
    "tip_area": {"en": "area", "zh": "面积"},
    "tip_walk": {
        "en": "walk to centre: mean {mean} min, max {max} min",
        "zh": "步行至中心：平均{mean}分钟，最远{max}分钟",
    },
    "tip_blocks": {"en": "building blocks", "zh": "基本地块"},
    "tip_parent": {"en": "within", "zh": "所属"},
    "tip_across": {"en": "crosses governance units", "zh": "跨越管理单元"},
    "tip_relation": {
        "en": "{relation}: {n} life-circle unit(s)",
        "zh": "{relation}：{n}个生活圈单元",
    },
    "tip_centre": {"en": "centre of {unit}", "zh": "{unit}的中心"},
    "tip_block": {"en": "block {block} · unit {unit}", "zh": "地块{block} · 单元{unit}"},
    # report
    "sec_summary": {"en": "Summary", "zh": "概况"},
    "sec_governance": {
        "en": "Governance units and life-circle units",
        "zh": "管理单元与生活圈单元对比",
    },
    "sec_units": {"en": "Life-circle units", "zh": "生活圈单元"},
    "level": {"en": "Level", "zh": "层级"},
    "range": {"en": "Population range", "zh": "人口规模区间"},
    "range_value": {
        "en": "{min}–{max} residents per unit",
        "zh": "每个单元{min}–{max}人",
    },
    "range_source": {"en": "source: {source}", "zh": "依据：{source}"},
    "unverified": {"en": "(unverified)", "zh": "（未经原文核对）"},
    "nesting": {"en": "Nesting", "zh": "嵌套"},
    "nesting_parent": {
        "en": "within one {level} unit each",
        "zh": "每个单元位于同一{level}内",
    },
    "nesting_free": {"en": "free (units may cross boundaries)", "zh": "不限（可跨越边界）"},
    "blocks_from": {"en": "Building blocks", "zh": "基本地块"},
    "solver": {"en": "Solver", "zh": "求解"},
    "status_optimal": {"en": "optimal", "zh": "最优解"},
    "status_time_limit": {
        "en": "time limit: within {gap} of the best possible",
        "zh": "达到时间上限：与最优解相差不超过{gap}",
    },
    "status_heuristic": {
        "en": "heuristic: within {gap} of the best possible",
        "zh": "启发式：与最优解相差不超过{gap}",
    },
    "status_other": {"en": "{status} (gap {gap})", "zh": "{status}（差距{gap}）"},
    "solver_time": {"en": "{seconds} s", "zh": "{seconds}秒"},
    "objective": {
        "en": "Walk to centres: {value} resident-km",
        "zh": "至中心步行总量：{value}人·公里",
    },
    "violation": {
        "en": "Residents outside the range, summed over units: {n}",
        "zh": "超出区间的人口（各单元合计）：{n}",
    },
    "in_range_share": {
        "en": "{share} of units within the range ({n} of {total})",
        "zh": "{share}的单元在区间内（{total}个中的{n}个）",
    },
    "card_units": {"en": "life-circle units", "zh": "个生活圈单元"},
    "card_in_range": {"en": "of units within the range", "zh": "单元在区间内"},
    "card_residents": {"en": "residents", "zh": "居民"},
    "card_governance": {"en": "governance units", "zh": "个管理单元"},
    "col_unit": {"en": "Unit", "zh": "单元"},
    "col_unit_id": {"en": "Id", "zh": "编号"},
    "col_parent": {"en": "Governance unit", "zh": "所属管理单元"},
    "col_relation": {"en": "Relation", "zh": "关系"},
    "col_population": {"en": "Residents", "zh": "居民"},
    "col_units": {"en": "Life-circle units", "zh": "生活圈单元数"},
    "col_smallest": {"en": "Smallest unit", "zh": "最小单元人口"},
    "col_largest": {"en": "Largest unit", "zh": "最大单元人口"},
    "col_out_of_range": {"en": "Why the range cannot hold", "zh": "无法满足区间的原因"},
    "col_area": {"en": "Area (km²)", "zh": "面积（平方公里）"},
    "col_blocks": {"en": "Blocks", "zh": "地块数"},
    "col_mean_walk": {"en": "Mean walk to centre (min)", "zh": "至中心平均步行（分钟）"},
    "col_max_walk": {"en": "Max walk to centre (min)", "zh": "至中心最远步行（分钟）"},
    "col_range": {"en": "Range", "zh": "区间"},
    "relation_matched": {"en": "matched", "zh": "一致"},
    "relation_split": {"en": "split", "zh": "拆分"},
    "relation_merged": {"en": "merged", "zh": "合并"},
    "relation_split and merged": {"en": "split and merged", "zh": "拆分并合并"},
    "governance_note": {
        "en": "Matched: one life-circle unit covers the governance unit exactly; split: it "
        "is divided among several; merged: its unit also takes in blocks of others.",
        "zh": "一致：一个生活圈单元恰好覆盖该管理单元；拆分：该管理单元被分为多个生活圈单元；"
        "合并：其生活圈单元还包含其他管理单元的地块。",
    },
    "units_note": {
        "en": "Walk from the residents of each block to the unit's centre, "
        "population-weighted mean and maximum.",
        "zh": "各地块居民步行至单元中心的时间：按人口加权的平均值与最大值。",
    },
    "unverified_note": {
        "en": "The population range is not checked against its source: treat the "
        "in-range figures as provisional.",
        "zh": "人口规模区间尚未与原文核对：区间内比例仅供参考。",
    },
    "none": {"en": "none", "zh": "无"},
}


def t(key: str, lang: str, **values: Any) -> str:
    """The label ``key`` in ``lang`` (``"en"`` or ``"zh"``), formatted with ``values``."""
    return DELINEATION_TEXT[key][lang].format(**values)


def relation_name(relation: Any, lang: str) -> str:
    """A governance unit's relation to the life-circle units, in ``lang`` (as is if unknown)."""
    entry = DELINEATION_TEXT.get(f"relation_{relation}")
    return entry[lang] if entry else str(relation)
