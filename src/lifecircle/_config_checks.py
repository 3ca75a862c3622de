"""Field checks of a standard that record problems instead of raising.

:class:`_Checker` reads one field at a time (a text, a positive number, a
boolean, the OSM tag selectors ...) and appends a one-line problem for each
mistake, so :func:`lifecircle.config.parse_standard` reports them all at once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._yaml import did_you_mean, shown
from .errors import clip
from .settings import real_number

if TYPE_CHECKING:
    from .config import Selector

#: Tag keys a selector may test (besides the ``name`` / ``not_name`` patterns).
SELECTOR_SPECIAL_KEYS = ("name", "not_name")


class _Checker:
    """Field checks that record problems instead of raising."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def _missing(self, where: str, key: str, what: str) -> None:
        prefix = f"{where}." if where else ""
        self.problems.append(f"{prefix}{key}: missing; add {what}")

    def known_keys(
        self, item: Mapping[Any, Any], where: str, known: frozenset[str], what: str
    ) -> None:
        for key in item:
            if key not in known:
                prefix = f"{where}: " if where else ""
                self.problems.append(
                    f"{prefix}unknown {what} {shown(key, 40)} (allowed: "
                    f"{', '.join(sorted(known))}){did_you_mean(key, known)}"
                )

    def text(self, item: Mapping[str, Any], key: str, where: str) -> str:
        value = item.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            self._missing(where, key, "a non-empty text")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            prefix = f"{where}." if where else ""
            self.problems.append(f"{prefix}{key}: must be a text, got {shown(value)}")
            return ""
        return str(value)

    def optional_text(self, item: Mapping[str, Any], key: str, where: str) -> str:
        if item.get(key) is None:
            return ""
        return self.text(item, key, where)

    def names(self, item: Mapping[str, Any], where: str) -> tuple[str, str]:
        name = item.get("name")
        if not isinstance(name, Mapping) or not name.get("en") or not name.get("zh"):
            self.problems.append(f"{where}.name: must give both `en` and `zh` names")
            return ("", "")
        if not isinstance(name["en"], str) or not isinstance(name["zh"], str):
            self.problems.append(
                f"{where}.name: `en` and `zh` must be texts, got {shown(dict(name))}"
            )
            return ("", "")
        return (name["en"], name["zh"])

    def positive(
        self, item: Mapping[str, Any], key: str, where: str, maximum: float | None = None
    ) -> float:
        value = item.get(key)
        number = real_number(value)
        if number is not None and not math.isfinite(number):
            self.problems.append(
                f"{where}.{key}: must be a finite positive number, got "
                f"{value!r} (.nan and .inf are not numbers of minutes, "
                "metres or m/s)"
            )
            return 0.0
        if number is None or not number > 0:
            self.problems.append(f"{where}.{key}: must be a positive number, got {shown(value)}")
            return 0.0
        if maximum is not None and number > maximum:
            self.problems.append(
                f"{where}.{key}: {float(number):g} is more than the largest "
                f"accepted value, {maximum:g}; check the unit"
            )
            return 0.0
        return float(number)

    def optional_positive(
        self, item: Mapping[str, Any], key: str, where: str, maximum: float | None = None
    ) -> float | None:
        if item.get(key) is None:
            return None
        return self.positive(item, key, where, maximum) or None

    def boolean(self, item: Mapping[str, Any], key: str, where: str) -> bool:
        value = item.get(key)
        if not isinstance(value, bool):
            self.problems.append(f"{where}.{key}: must be true or false, got {shown(value)}")
            return False
        return value

    def unique(self, ids: list[str], where: str, what: str) -> None:
        seen: set[str] = set()
        for value in ids:
            if value and value in seen:
                self.problems.append(
                    f"{where}: duplicate {what} {shown(value)}; each "
                    f"{what} must be unique: rename or remove one"
                )
            seen.add(value)

    def selectors(self, item: Mapping[str, Any], where: str) -> tuple[Selector, ...]:
        """The category's non-empty list of OSM tag selectors."""
        raw = item.get("selectors")
        if not isinstance(raw, list) or not raw:
            self.problems.append(
                f"{where}.selectors: must be a non-empty list, e.g. [{{amenity: kindergarten}}]"
            )
            return ()
        out = []
        for j, sel in enumerate(raw):
            selector = self._selector(sel, f"{where}.selectors[{j}]")
            if selector is not None:
                out.append(selector)
        return tuple(out)

    def _selector(self, sel: Any, here: str) -> Selector | None:
        """One selector (a mapping of OSM tag -> value(s)), or ``None`` if it is wrong."""
        from .config import Selector  # here: lifecircle.config imports this module

        if not isinstance(sel, Mapping) or not sel:
            self.problems.append(f"{here}: must be a mapping of OSM tag -> value(s)")
            return None
        tags: dict[str, tuple[str, ...] | None] = {}
        before = len(self.problems)
        patterns: dict[str, re.Pattern[str] | None] = {"name": None, "not_name": None}
        for key, value in sel.items():
            if key in SELECTOR_SPECIAL_KEYS:
                patterns[key] = self._name_pattern(key, value, here)
            else:
                self._tag_values(key, value, here, tags)
        if not tags and len(self.problems) == before:
            self.problems.append(
                f"{here}: needs at least one OSM tag (a name pattern "
                "alone would match anything named so)"
            )
            return None
        return Selector(tags=tags, name=patterns["name"], not_name=patterns["not_name"])

    def _name_pattern(self, key: str, value: Any, here: str) -> re.Pattern[str] | None:
        """The compiled regular expression of a ``name``/``not_name`` key, or ``None``."""
        if not isinstance(value, str) or not value:
            self.problems.append(
                f"{here}.{key}: must be a regular expression (text), got {shown(value)}"
            )
            return None
        try:
            return re.compile(value)
        except re.error as exc:
            self.problems.append(f"{here}.{key}: invalid regular expression {shown(value)} ({exc})")
            return None

    def _tag_values(
        self, key: Any, value: Any, here: str, tags: dict[str, tuple[str, ...] | None]
    ) -> None:
        """Add the accepted values of OSM tag ``key`` to ``tags`` (``None``: any value)."""
        if not isinstance(key, str) or not key:
            self.problems.append(f"{here}: an OSM tag key must be a text, got {shown(key)}")
        elif value == "*":
            tags[key] = None
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            tags[key] = (str(value),)
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value)
        ):
            tags[key] = tuple(str(v) for v in value)
        else:
            self.problems.append(
                f"{here}.{clip(key, 40)}: must be a value, a "
                f"list of values or '*', got {shown(value)} "
                "(quote yes/no: 'yes')"
            )
