"""Errors raised by lifecircle.

Every error a user can cause derives from :class:`LifecircleError` and from the
matching built-in exception, so callers can catch either. The CLI turns any
``LifecircleError`` into a one-paragraph message and exit code 2.
"""

from __future__ import annotations


class LifecircleError(Exception):
    """Base class of every error caused by bad input or configuration."""


class InputFileError(FileNotFoundError, LifecircleError):
    """An input file is missing or cannot be read."""


class InputFormatError(ValueError, LifecircleError):
    """An input file has the wrong format or lacks a required field."""


class CRSError(ValueError, LifecircleError):
    """Spatial data without a coordinate reference system, or an unusable one."""


#: A :class:`ConfigError` lists at most this many problems, each cut to
#: ``LINE_MAX_CHARS`` characters, so a hostile file cannot produce a huge message.
MESSAGE_MAX_PROBLEMS = 20
LINE_MAX_CHARS = 400


def clip(text: object, limit: int = LINE_MAX_CHARS) -> str:
    """``text`` cut to ``limit`` characters (ending in ``…`` when cut)."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ConfigError(ValueError, LifecircleError):
    """A standard or study configuration has one or more mistakes.

    The message lists at most :data:`MESSAGE_MAX_PROBLEMS` problems (the last
    line says how many more there are), each cut to :data:`LINE_MAX_CHARS`
    characters; the header gives the true total.

    Parameters
    ----------
    source
        The file (or name) the configuration came from.
    problems
        Every problem found, one line each.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = clip(source, 300)
        self.problems = list(problems)
        lines = [clip(p) for p in self.problems]
        if len(lines) > MESSAGE_MAX_PROBLEMS:
            more = len(lines) - (MESSAGE_MAX_PROBLEMS - 1)
            lines = [
                *lines[: MESSAGE_MAX_PROBLEMS - 1],
                f"... and {more} more; fix these and run again to see the rest",
            ]
        body = "\n".join(f"  - {p}" for p in lines)
        n = len(self.problems)
        msg = (
            f"{self.source}: {n} problem{'s' if n != 1 else ''} found; fix "
            f"{'them' if n != 1 else 'it'} and run again:\n{body}"
        )
        super().__init__(msg)


class DataError(ValueError, LifecircleError):
    """Inputs that are readable but cannot support the analysis (e.g. empty network)."""


class OutputError(OSError, LifecircleError):
    """The output folder cannot be used: a file, not writable, in use, or out of space."""
