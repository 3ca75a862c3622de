"""The command line's flags, made from the options declared once in :mod:`lifecircle.options`.

:func:`command_options` decorates a command with the flag of every option a class
declares; numbers are checked against their declared range
(:data:`lifecircle.settings.OPTION_RANGES`) when the flag is read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .options import OptionSpec, option_specs, parse_option
from .settings import OPTION_RANGES

__all__ = ["COMMON", "command_options", "common"]


class NumberOption(click.ParamType):
    """A numeric option checked against its range declared once in ``settings.OPTION_RANGES``.

    NaN, infinities and values out of range are refused with the allowed range.
    """

    name = "number"

    def __init__(self, option: str) -> None:
        self.option = option

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float | int:
        from .settings import OPTION_RANGES, option_problem

        number: Any = value
        if isinstance(value, str):
            for parse in (int, float):
                try:
                    number = parse(value)
                    break
                except ValueError:
                    continue
        problem = option_problem(f"--{self.option.replace('_', '-')}", number)
        if problem is not None:
            self.fail(problem.split(": ", 1)[1], param, ctx)
        return int(number) if OPTION_RANGES[self.option].integer else float(number)


class ParsedOption(click.ParamType):
    """A ``numbers`` or ``budget`` option (see :func:`lifecircle.options.parse_option`)."""

    def __init__(self, kind: str, option: str) -> None:
        self.kind = kind
        self.option = option
        self.name = {"numbers": "weights", "budget": "sites"}[kind]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        parsed, problems = parse_option(self.kind, self.option, value)
        if problems:
            prefix = f"--{self.option.replace('_', '-')}: "
            self.fail("; ".join(p.removeprefix(prefix) for p in problems), param, ctx)
        return parsed


def click_option(spec: OptionSpec) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The command-line flag of a declared option (see :mod:`lifecircle.options`)."""
    assert spec.flag is not None
    kwargs: dict[str, Any] = {"help": spec.help}
    if spec.kind == "bool":
        if spec.default is True:  # --no-osm-pois sets osm_pois to False
            return click.option(spec.flag, spec.name, flag_value=False, default=True, **kwargs)
        return click.option(spec.flag, spec.name, is_flag=True, **kwargs)
    if spec.kind in ("path", "outpath"):
        kwargs["type"] = click.Path(path_type=Path)
    elif spec.kind == "paths":
        kwargs.update(type=click.Path(path_type=Path), multiple=True)
    elif spec.kind in ("int", "number") and spec.name in OPTION_RANGES:
        kwargs["type"] = NumberOption(spec.name)
    elif spec.kind in ("numbers", "budget"):
        kwargs["type"] = ParsedOption(spec.kind, spec.name)
    elif spec.kind == "choice":
        kwargs["type"] = click.Choice(list(spec.choices))
    if spec.default not in (None, ()):
        kwargs.update(default=spec.default, show_default=True)
    return click.option(spec.flag, spec.name, **kwargs)


def command_options(
    *classes: type, skip: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command with the flags of every option the classes declare."""
    specs = [s for cls in classes for s in option_specs(cls) if s.flag and s.name not in skip]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for spec in reversed(specs):
            func = click_option(spec)(func)
        return func

    return decorate


COMMON = [
    click.argument("study", required=False, type=click.Path(path_type=Path)),
    click.option("-v", "--verbose", "verbosity", flag_value=1, help="Show debug messages."),
    click.option("-q", "--quiet", "verbosity", flag_value=-1, help="Only errors; no progress."),
]


def common(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(COMMON):
        func = option(func)
    return func
