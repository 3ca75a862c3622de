"""Bilingual labels of the proposed sites (``lifecircle optimize``) on the map and in the report.

Merged into :data:`lifecircle.render._text._TEXT` (look them up with
:func:`~lifecircle.render._text.text`); values are plain text, escaped by the callers.
"""

from __future__ import annotations

PROPOSAL_TEXT: dict[str, dict[str, str]] = {
    # proposed sites: solver
    "p_solver": {"en": "Solver", "zh": "求解器"},
    "p_solver_limit": {"en": "{solver}, time limit {s} s", "zh": "{solver}，时间上限{s}秒"},
    # proposed sites (lifecircle optimize): map
    "theme_before": {
        "en": "{name} coverage before (≤ {minutes} min)",
        "zh": "{name}覆盖：新增设施前（≤{minutes}分钟）",
    },
    "theme_after": {
        "en": "{name} coverage after {n} new sites (≤ {minutes} min)",
        "zh": "{name}覆盖：新增{n}处设施后（≤{minutes}分钟）",
    },
    "layer_proposals": {
        "en": "Proposed sites: {name} ({n}) and their walking catchments",
        "zh": "建议新址：{name}（{n}处）及其步行范围",
    },
    "site_title": {"en": "Proposed site #{rank}", "zh": "建议新址 #{rank}"},
    "site_id": {"en": "site id", "zh": "编号"},
    "site_name": {"en": "candidate", "zh": "候选点"},
    "site_catchment": {"en": "walking catchment", "zh": "步行范围"},
    "legend_proposals": {"en": "Proposed sites", "zh": "建议新址"},
    "legend_site": {"en": "New {name}, numbered by rank", "zh": "新增{name}（按排序编号）"},
    "legend_site_catchment": {
        "en": "Its walking catchment ({minutes} min)",
        "zh": "其步行范围（{minutes}分钟）",
    },
    "legend_change": {
        "en": "{name} coverage {before} → {after}",
        "zh": "{name}覆盖率 {before} → {after}",
    },
    # proposed sites: report
    "sec_proposals": {"en": "Proposed sites", "zh": "新增设施选址建议"},
    "p_intro_cover": {
        "en": "{model}: {sites} new {name} sites would bring {newly} more residents within "
        "{minutes} minutes' walk ({metres} m) of a {name}.",
        "zh": "{model}：新增{sites}处{name}，可使另外{newly}名居民在{minutes}分钟（{metres}米）"
        "步行范围内到达{name}。",
    },
    "p_intro_distance": {
        "en": "{model}: {sites} new {name} sites cut the mean walking distance to the nearest "
        "{name} from {before} m to {after} m and bring {newly} more residents within "
        "{minutes} minutes' walk ({metres} m).",
        "zh": "{model}：新增{sites}处{name}，使到最近{name}的平均步行距离由{before}米降至"
        "{after}米，并使另外{newly}名居民在{minutes}分钟（{metres}米）步行范围内到达。",
    },
    "model_mclp": {"en": "Maximal covering (MCLP)", "zh": "最大覆盖模型（MCLP）"},
    "model_lscp": {"en": "Set covering (LSCP)", "zh": "集合覆盖模型（LSCP）"},
    "model_pmedian": {"en": "p-median", "zh": "P-中位模型"},
    "req_sites": {
        "en": "{n} new sites that newly cover the most residents",
        "zh": "新增{n}处设施，使新增覆盖居民最多",
    },
    "req_target": {
        "en": "the fewest sites that cover {target} of residents",
        "zh": "以最少的设施覆盖{target}的居民",
    },
    "req_distance": {
        "en": "{n} new sites that minimise the total walking distance",
        "zh": "新增{n}处设施，使总步行距离最小",
    },
    "req_capacity": {
        "en": "each site serves at most {n} residents",
        "zh": "每处设施最多服务{n}名居民",
    },
    "req_floor": {
        "en": "every {level} unit reaches at least {share} coverage where feasible",
        "zh": "在可行范围内，每个{level}单元覆盖率不低于{share}",
    },
    "status_optimal": {"en": "proven optimal", "zh": "已证明为最优解"},
    "status_time_limit": {
        "en": "time limit reached: best solution found so far",
        "zh": "达到时间上限：当前找到的最好解",
    },
    "status_greedy": {
        "en": "greedy solution (the exact solver gave none)",
        "zh": "贪心解（精确求解器未给出解）",
    },
    "p_model": {"en": "Model", "zh": "模型"},
    "p_request": {"en": "Question", "zh": "求解目标"},
    "p_status": {"en": "Solver status", "zh": "求解状态"},
    "p_gap": {"en": "MIP gap", "zh": "MIP 相对间隙"},
    "p_runtime": {"en": "Run time", "zh": "运行时间"},
    "p_seconds": {"en": "{s} s ({solver})", "zh": "{s}秒（{solver}）"},
    "p_candidates": {"en": "Candidate sites", "zh": "候选点"},
    "cand_auto": {
        "en": "{n} network locations at the centres of clusters of residents "
        "not yet covered (k-means)",
        "zh": "{n}个位于未覆盖居民聚类（k-means）中心的步行网络节点",
    },
    "cand_file": {"en": "{n} sites from the candidate file", "zh": "{n}个来自候选点文件的地点"},
    "p_before_after": {"en": "Before and after", "zh": "新增前后对比"},
    "col_measure": {"en": "share of all residents analysed", "zh": "占全部参与评估居民的比例"},
    "col_before": {"en": "before", "zh": "新增前"},
    "col_after": {"en": "after", "zh": "新增后"},
    "col_change": {"en": "change", "zh": "变化"},
    "row_coverage": {"en": "{name} within {minutes} min", "zh": "{minutes}分钟内可达{name}"},
    "row_mean_distance": {
        "en": "mean walking distance to a {name} (capped at {cap} m)",
        "zh": "到{name}的平均步行距离（上限{cap}米）",
    },
    "card_sites": {"en": "new {name} sites", "zh": "处新增{name}"},
    "card_newly": {"en": "residents newly covered", "zh": "名居民新获覆盖"},
    "card_coverage": {
        "en": "{name} within {minutes} min, before → after",
        "zh": "{minutes}分钟内可达{name}：新增前 → 新增后",
    },
    "p_ranked": {"en": "Ranked sites", "zh": "建议新址排序"},
    "p_ranked_cover": {
        "en": "In the order to build them: each site newly covers the most residents given "
        "the sites ranked above it. The sites are also in proposals.geojson.",
        "zh": "按建设先后排序：每处设施在排序靠前的设施基础上新增覆盖最多的居民。"
        "选址结果亦见 proposals.geojson。",
    },
    "p_ranked_distance": {
        "en": "In the order to build them: each site saves the most walking distance given "
        "the sites ranked above it. The sites are also in proposals.geojson.",
        "zh": "按建设先后排序：每处设施在排序靠前的设施基础上节省最多的步行距离。"
        "选址结果亦见 proposals.geojson。",
    },
    "col_rank": {"en": "rank", "zh": "排序"},
    "col_site": {"en": "site", "zh": "编号"},
    "col_marginal_newly": {
        "en": "newly covered residents (marginal)",
        "zh": "新增覆盖居民（边际）",
    },
    "col_marginal_saved": {
        "en": "walking distance saved, resident·m (marginal)",
        "zh": "节省步行距离，人·米（边际）",
    },
    "col_served": {"en": "residents served", "zh": "服务居民"},
    "col_location": {"en": "lon, lat (WGS-84)", "zh": "经度, 纬度（WGS-84）"},
    "p_units": {
        "en": "{name} coverage per unit, before and after",
        "zh": "各单元{name}覆盖率：新增前后",
    },
    "col_cov_before": {"en": "coverage before", "zh": "新增前覆盖率"},
    "col_cov_after": {"en": "coverage after", "zh": "新增后覆盖率"},
    "col_complete_before": {"en": "complete life circle before", "zh": "新增前完整生活圈"},
    "col_complete_after": {"en": "complete life circle after", "zh": "新增后完整生活圈"},
    "points": {"en": "{v} pp", "zh": "{v}个百分点"},
    "p_notes": {"en": "Notes", "zh": "说明"},
    "no_sites": {"en": "No new site is proposed.", "zh": "未提出新增选址。"},
}
