"""Who each category serves and how much one facility holds: parts of a standard.

A standard may name **cohorts** (the residents a category serves, by age) and give
each category a ``cohort``, the walking ``profile`` that cohort walks at, a default
``capacity`` per facility and the ``service_population`` one facility is expected to
serve. Every number carries its ``source`` and ``verified`` flag, like the rest of
the standard. The cohort ``all`` (every resident) always exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._config_checks import _Checker
from ._yaml import shown

#: The cohort of every resident; a category without a ``cohort`` serves it.
ALL = "all"

COHORT_KEYS = frozenset({"name", "ages", "source", "verified", "notes"})
SOURCED_KEYS = frozenset({"value", "unit", "source", "verified", "notes"})

#: Oldest age a cohort may name (years).
AGE_MAX = 120


@dataclass(frozen=True)
class Cohort:
    """Residents of an age range, e.g. children aged 3-5 (``min_age`` 3, ``max_age`` 5).

    ``max_age`` ``None`` is open-ended (60 and over); both bounds are whole years,
    inclusive.
    """

    id: str
    name_en: str
    name_zh: str
    min_age: int = 0
    max_age: int | None = None
    source: str = ""
    verified: bool = True

    @property
    def is_everyone(self) -> bool:
        """True for the cohort of every resident."""
        return self.min_age == 0 and self.max_age is None

    def name(self, lang: str = "en") -> str:
        """The cohort's name in ``lang``."""
        return self.name_zh if lang == "zh" else self.name_en

    def ages(self) -> str:
        """The age range as text: ``3-5``, ``60+`` or ``all ages``."""
        if self.is_everyone:
            return "all ages"
        if self.max_age is None:
            return f"{self.min_age}+"
        return f"{self.min_age}-{self.max_age}"


EVERYONE = Cohort(ALL, "all residents", "全体居民", 0, None, "every resident", True)


@dataclass(frozen=True)
class Sourced:
    """A number from a standard with its unit, source and whether it was checked."""

    value: float
    unit: str
    source: str
    verified: bool
    notes: str = ""


def parse_cohorts(raw: Any, check: _Checker) -> dict[str, Cohort]:
    """The standard's ``cohorts`` mapping (id -> name, ages [min, max|null], source, verified)."""
    cohorts = {ALL: EVERYONE}
    if raw is None:
        return cohorts
    if not isinstance(raw, Mapping):
        check.problems.append(
            "cohorts: must be a mapping of cohort id -> {name, ages: [min, max], source, verified}"
        )
        return cohorts
    for cid, item in raw.items():
        where = f"cohorts.{str(cid)[:40]}"
        if not isinstance(cid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", cid) or len(cid) > 40:
            check.problems.append(
                f"{where}: a cohort id must be lower-case letters, digits and `_` (it "
                f"becomes a column name), got {shown(cid)}"
            )
            continue
        if cid == ALL:
            check.problems.append(f"{where}: `all` is built in (every resident); use another id")
            continue
        if not isinstance(item, Mapping):
            check.problems.append(f"{where}: must be a mapping")
            continue
        check.known_keys(item, where, COHORT_KEYS, "field")
        names = check.names(item, where)
        lo, hi = _ages(item.get("ages"), where, check)
        cohorts[cid] = Cohort(
            id=cid,
            name_en=names[0],
            name_zh=names[1],
            min_age=lo,
            max_age=hi,
            source=check.text(item, "source", where),
            verified=check.boolean(item, "verified", where),
        )
    return cohorts


def _ages(value: Any, where: str, check: _Checker) -> tuple[int, int | None]:
    ok = (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
        and (value[1] is None or (isinstance(value[1], int) and not isinstance(value[1], bool)))
    )
    if not ok:
        check.problems.append(
            f"{where}.ages: give [youngest, oldest] in whole years, e.g. [3, 5], or "
            f"[60, null] for 60 and over; got {shown(value)}"
        )
        return 0, None
    lo, hi = int(value[0]), value[1]
    if not 0 <= lo <= AGE_MAX or (hi is not None and not lo <= hi <= AGE_MAX):
        check.problems.append(
            f"{where}.ages: {shown(value)} is not an age range between 0 and {AGE_MAX}"
        )
    return lo, hi


def parse_sourced(item: Mapping[str, Any], key: str, where: str, check: _Checker) -> Sourced | None:
    """An optional ``{value, unit, source, verified}`` number of a category."""
    raw = item.get(key)
    if raw is None:
        return None
    here = f"{where}.{key}"
    if not isinstance(raw, Mapping):
        check.problems.append(f"{here}: must be a mapping {{value, unit, source, verified}}")
        return None
    check.known_keys(raw, here, SOURCED_KEYS, "field")
    return Sourced(
        value=check.positive(raw, "value", here),
        unit=check.text(raw, "unit", here),
        source=check.text(raw, "source", here),
        verified=check.boolean(raw, "verified", here),
        notes=check.optional_text(raw, "notes", here),
    )
