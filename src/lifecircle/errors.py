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


class ConfigError(ValueError, LifecircleError):
    """A standard or study configuration has one or more mistakes.

    Parameters
    ----------
    source
        The file (or name) the configuration came from.
    problems
        Every problem found, one line each.
    """

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        n = len(self.problems)
        msg = (
            f"{source}: {n} problem{'s' if n != 1 else ''} found; fix "
            f"{'them' if n != 1 else 'it'} and run again:\n{lines}"
        )
        super().__init__(msg)


class DataError(ValueError, LifecircleError):
    """Inputs that are readable but cannot support the analysis (e.g. empty network)."""


class OutputError(OSError, LifecircleError):
    """The output folder cannot be used: a file, not writable, in use, or out of space."""
