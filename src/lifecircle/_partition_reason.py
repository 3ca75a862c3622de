"""Why a parent's life-circle units are out of range, as plain data worded in two languages.

:func:`lifecircle.partition.reason` makes a :class:`RangeReason` per parent from its
solution; :meth:`RangeReason.text` words it in English or Chinese (the numbers
formatted here, never data text).
"""

from __future__ import annotations

from dataclasses import dataclass


def _fmt(x: float) -> str:
    return f"{x:,.0f}"


#: Why a parent's units are out of range, per reason code and language. ``{...}`` fields
#: are filled from :class:`RangeReason` (numbers formatted there; never data text).
REASON_TEXT: dict[str, dict[str, str]] = {
    "in_range": {"en": "all units within the range", "zh": "所有单元均在区间内"},
    "too_few": {
        "en": "too few residents: {total}, below the minimum {lo} of one unit",
        "zh": "人口过少：{total}，低于一个单元的下限 {lo}",
    },
    "no_whole_number": {
        "en": "{total} residents fit no whole number of units: {most} unit(s) hold at most "
        "{most_hold}, {fewest} unit(s) need at least {fewest_need}",
        "zh": "{total} 人无法分成整数个单元：{most} 个单元最多容纳 {most_hold}，"
        "{fewest} 个单元至少需要 {fewest_need}",
    },
    "block_too_big": {
        "en": "too many residents in one block ({largest} > {hi})",
        "zh": "单个地块人口过多（{largest} > {hi}）",
    },
    "no_split": {
        "en": "{total} residents could fill {fewest}-{most} units, but block sizes, "
        "contiguity or the walking limits allow no split within the range",
        "zh": "{total} 人可组成 {fewest}–{most} 个单元，但地块规模、连通性或步行限制"
        "使任何划分都无法落在区间内",
    },
    "split": {
        "en": "the closest split found has {units} unit(s), {units_out} out of range, "
        "{residents_out} residents outside the range in all",
        "zh": "找到的最接近划分有 {units} 个单元，其中 {units_out} 个超出区间，"
        "共 {residents_out} 人在区间之外",
    },
    "walk_limit": {
        "en": "some blocks are beyond the walking limit of their unit's centre",
        "zh": "部分地块超出其单元中心的步行限制",
    },
    "solver": {"en": "solver: {solver_note}", "zh": "求解器：{solver_note}"},
}
_SEP = {"en": "; ", "zh": "；"}


@dataclass(frozen=True)
class RangeReason:
    """Why a parent has units out of range (or beyond the walking limit), as plain data.

    ``code`` is one of ``in_range``, ``too_few``, ``no_whole_number``,
    ``block_too_big``, ``no_split``; :meth:`text` words it in English or Chinese
    (``str()`` is the English text, as written to ``delineate.json`` and the CSV).
    """

    code: str
    total: float
    pop_min: float
    pop_max: float
    fewest: int
    most: int
    largest_block: float
    units: int
    units_out: int
    residents_out: float
    beyond_walk_limit: bool = False
    solver_note: str = ""

    def text(self, lang: str = "en") -> str:
        """The reason in ``lang`` (``"en"`` or ``"zh"``)."""
        lang = lang if lang in _SEP else "en"
        fields = {
            "total": _fmt(self.total),
            "lo": _fmt(self.pop_min),
            "hi": _fmt(self.pop_max),
            "fewest": self.fewest,
            "most": self.most,
            "most_hold": _fmt(self.most * self.pop_max),
            "fewest_need": _fmt(self.fewest * self.pop_min),
            "largest": _fmt(self.largest_block),
            "units": self.units,
            "units_out": self.units_out,
            "residents_out": _fmt(self.residents_out),
            "solver_note": self.solver_note,
        }
        codes = [self.code] + ([] if self.code == "in_range" else ["split"])
        codes += ["walk_limit"] * self.beyond_walk_limit + ["solver"] * bool(self.solver_note)
        return _SEP[lang].join(REASON_TEXT[c][lang].format(**fields) for c in codes)

    def __str__(self) -> str:
        return self.text("en")
