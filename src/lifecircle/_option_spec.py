"""How an option is declared and checked (the machinery behind :mod:`lifecircle.options`).

:func:`_opt` declares a dataclass field with its default, help text, kind of value
and command-line flag; :func:`option_specs` reads the declarations back;
:func:`parse_option` turns a command-line or study value into the option's type;
:func:`_check_values` checks a whole options object against
:data:`lifecircle.settings.OPTION_RANGES`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import ConfigError
from .settings import OPTION_RANGES, option_problem

#: Kinds of option values (what a study file's value is checked as).
KINDS = (
    "path",
    "paths",
    "outpath",
    "standard",
    "text",
    "list",
    "crs",
    "bool",
    "int",
    "number",
    "numbers",
    "budget",
    "choice",
)

#: How each rule enters the network: see :mod:`lifecircle.snap` and README "Method".
SNAP_RULES = ("edge", "node")


@dataclass(frozen=True)
class OptionSpec:
    """One option as declared: name, kind, default, help, command-line flag, choices."""

    name: str
    kind: str
    default: Any
    help: str
    flag: str | None
    choices: tuple[str, ...] = ()
    study: bool = True


def _opt(
    default: Any,
    kind: str,
    help: str,
    *,
    flag: str | None = "",
    choices: tuple[str, ...] = (),
    study: bool = True,
) -> Any:
    """A dataclass field carrying its option declaration (flag "" = ``--name-with-dashes``)."""
    if kind not in KINDS:
        msg = f"unknown option kind {kind!r}"
        raise ValueError(msg)
    meta = {"kind": kind, "help": help, "flag": flag, "choices": choices, "study": study}
    if isinstance(default, list | dict | set):
        msg = "use a tuple or None as the default of a collection option"
        raise ValueError(msg)
    return field(default=default, metadata={"lifecircle": meta})


def option_specs(cls: type) -> list[OptionSpec]:
    """The options declared by ``cls`` (:class:`AuditOptions`, ...), in declaration order."""
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata.get("lifecircle")
        if meta is None:
            continue
        flag = meta["flag"]
        if flag == "":
            flag = "--" + f.name.replace("_", "-")
        out.append(
            OptionSpec(
                name=f.name,
                kind=meta["kind"],
                default=f.default,
                help=meta["help"],
                flag=flag,
                choices=meta["choices"],
                study=meta["study"],
            )
        )
    return out


def _check_values(obj: object, source: str) -> None:
    """Refuse out-of-range numbers and unknown choices, all problems at once."""
    problems = []
    for spec in option_specs(type(obj)):
        value = getattr(obj, spec.name)
        if value is None:
            continue
        if spec.kind in ("int", "number") and spec.name in OPTION_RANGES:
            problem = option_problem(spec.name, value)
            if problem is not None:
                problems.append(problem)
            elif spec.kind == "number":
                object.__setattr__(obj, spec.name, float(value))
            else:
                object.__setattr__(obj, spec.name, int(value))
        elif spec.kind == "choice" and value not in spec.choices:
            problems.append(
                f"{spec.name}: got {str(value)[:40]!r}; give one of " + ", ".join(spec.choices)
            )
        elif spec.kind == "list" and isinstance(value, str):
            object.__setattr__(
                obj, spec.name, tuple(v.strip() for v in value.split(",") if v.strip())
            )
        elif spec.kind == "list":
            object.__setattr__(obj, spec.name, tuple(value))
        elif spec.kind == "numbers":
            object.__setattr__(obj, spec.name, _numbers(spec.name, value, problems))
        elif spec.kind == "budget":
            object.__setattr__(obj, spec.name, _budget(spec.name, value, problems))
    if problems:
        raise ConfigError(source, problems)


def parse_option(kind: str, name: str, value: Any) -> tuple[Any, list[str]]:
    """A ``numbers`` or ``budget`` option's value parsed, and its problems (one line each).

    Parameters
    ----------
    kind
        ``"numbers"`` (comma-separated weights in [0, 1]) or ``"budget"`` (a number
        of sites or ``category=N,...``).
    name
        The option's name (``tradeoff``, ``sites``).
    value
        Text from the command line, or a number, sequence or mapping.

    Returns
    -------
    tuple
        The parsed value and the problems found (empty when it is fine).
    """
    problems: list[str] = []
    parse = {"numbers": _numbers, "budget": _budget}[kind]
    return parse(name, value, problems), problems


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _numbers(name: str, value: Any, problems: list[str]) -> tuple[float, ...] | None:
    """Comma-separated numbers in [0, 1] (``"0,0.25,1"`` or a sequence) as a tuple of floats."""
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    out = []
    for item in items:
        number: Any = item
        if isinstance(item, str):
            try:
                number = float(item)
            except ValueError:
                number = item
        problem = option_problem(_flag(name), number, minimum=0.0, maximum=1.0)
        if problem is not None:
            problems.append(f"{problem}, e.g. {_flag(name)} 0,0.25,0.5,1")
        else:
            out.append(float(number))
    if not items:
        problems.append(f"{_flag(name)}: give at least one weight, e.g. {_flag(name)} 0,0.5,1")
    return tuple(out) or None


def _budget(name: str, value: Any, problems: list[str]) -> int | Mapping[str, int] | None:
    """A number of sites (``3``, ``"3"``) or a budget per category (``"a=3,b=2"``, a mapping).

    The number is checked against :data:`OPTION_RANGES` ``sites``; a budget per
    category takes whole numbers from 0 (a category may get no new site) and
    returns a read-only mapping in the order given.
    """
    example = f"write {_flag(name)} N or {_flag(name)} elderly_care=3,health_station=2"
    if isinstance(value, str) and "=" not in value:
        value = _number_of(value)
    if not isinstance(value, str | Mapping):
        problem = option_problem(_flag(name), value)
        if problem is not None:
            problems.append(problem)
            return None
        return int(value)
    pairs: list[tuple[Any, Any]]
    if isinstance(value, str):
        pairs = []
        for item in value.split(","):
            key, sep, count = item.partition("=")
            if not sep or not key.strip():
                problems.append(
                    f"{_flag(name)}: {item.strip()[:40]!r} is not category=N; {example}"
                )
                continue
            count = count.strip()
            pairs.append((key.strip(), int(count) if count.isdigit() else count))
    else:
        pairs = list(value.items())
    budget: dict[str, int] = {}
    for key, count in pairs:
        label = f"{_flag(name)} {str(key)[:40]}=N"
        if not isinstance(key, str) or not key:
            problems.append(f"{_flag(name)}: {str(key)[:40]!r} is not a category id; {example}")
        elif key in budget:
            problems.append(f"{label}: the category is given twice; give each category once")
        elif (problem := option_problem(label, count, minimum=0, integer=True)) is not None:
            problems.append(problem)
        else:
            budget[key] = int(count)
    if not pairs:
        problems.append(f"{_flag(name)}: no category=N given; {example}")
    return MappingProxyType(budget)


def _number_of(text: str) -> int | float | str:
    """``"3"`` -> 3, ``"2.5"`` -> 2.5; anything else stays text (refused by the range check)."""
    text = text.strip()
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            continue
    return text
