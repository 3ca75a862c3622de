"""The strict YAML reader of standards and studies, and the wording of their messages.

:func:`read_yaml` parses a standard or study file safely: UTF-8 only, bounded in
size, depth and number of values, with no aliases, no object-building tags and
no duplicate keys. :func:`shown`, :func:`did_you_mean` and :func:`config_error`
word the problems that :mod:`lifecircle.config` and :mod:`lifecircle.study` report.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError, InputFileError, clip
from .settings import CONFIG_FILE_MAX_BYTES

#: Values shown in messages are truncated to this many characters (see also
#: :data:`lifecircle.errors.MESSAGE_MAX_PROBLEMS` and ``LINE_MAX_CHARS``).
VALUE_MAX_CHARS = 80

#: Deepest nesting of lists and mappings accepted in a standard or study.
YAML_MAX_DEPTH = 40

#: Most values (scalars, lists, mappings) accepted in a standard or study: the
#: bundled GB 50180-2018 has about 500. Bounds the time spent parsing a file.
YAML_MAX_NODES = 10_000


# --------------------------------------------------------------------------- messages


def shown(value: Any, limit: int = VALUE_MAX_CHARS) -> str:
    """``repr(value)`` cut to ``limit`` characters (ending in ``…`` when cut)."""
    if isinstance(value, str) and len(value) > 4 * limit:
        value = value[: 4 * limit]  # do not build the repr of a huge text
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(word: Any, choices: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the closest of ``choices``, or ``""``."""
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word[:100], list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def config_error(source: str, problems: list[str]) -> ConfigError:
    """A :class:`ConfigError` (whose message stays short however many problems there are)."""
    return ConfigError(source, problems)


# --------------------------------------------------------------------------- YAML


class _Refused(Exception):
    """A YAML construct that standards and studies do not accept (one problem line)."""


_MERGE_TAG = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases, unknown tags, deep nesting and duplicate keys.

    Aliases are refused because a few lines of them expand to gigabytes (the
    "billion laughs"); duplicate keys because PyYAML silently keeps the last.
    Duplicate keys are collected in ``problems``, the rest raise ``_Refused``.
    """

    def __init__(self, stream: str, what: str) -> None:
        super().__init__(stream)
        self.what = what
        self.problems: list[str] = []
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            msg = (
                f"line {event.start_mark.line + 1}: the alias *{clip(event.anchor, 40)} "
                f"is not allowed; a {self.what} file may not use YAML aliases (*name) "
                "or merge keys (<<: *name), because a few lines of them can expand "
                "to gigabytes; write the values out in full"
            )
            raise _Refused(msg)
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > YAML_MAX_NODES:
                mark = self.peek_event().start_mark
                msg = (
                    f"line {mark.line + 1}: the file has more than {YAML_MAX_NODES:,} "
                    f"values; a {self.what} file has a few hundred: check that you gave "
                    f"the {self.what} YAML and not a data file"
                )
                raise _Refused(msg)
            if self._depth > YAML_MAX_DEPTH:
                mark = self.peek_event().start_mark
                msg = (
                    f"line {mark.line + 1}: lists and mappings are nested more than "
                    f"{YAML_MAX_DEPTH} levels deep; a {self.what} file needs a few "
                    "levels only: check the brackets and indentation"
                )
                raise _Refused(msg)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            first: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE_TAG:
                    continue
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    seen = key in first
                except TypeError:
                    continue  # an unhashable key: SafeLoader reports it
                if seen:
                    self.problems.append(
                        f"line {line}: duplicate key {shown(key)} (first at line "
                        f"{first[key]}); YAML would silently keep only the last one: "
                        "remove or rename one of them"
                    )
                else:
                    first[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_refused_tag(self, node: Any) -> Any:
        msg = (
            f"line {node.start_mark.line + 1}: the tag {shown(node.tag)} is not "
            f"allowed; a {self.what} file holds plain values only (text, numbers, "
            "true/false, lists and mappings): remove the tag"
        )
        raise _Refused(msg)

    def construct_checked_int(self, node: Any) -> Any:
        if isinstance(node.value, str) and len(node.value) > 100:
            msg = (
                f"line {node.start_mark.line + 1}: a number with {len(node.value)} "
                "digits; write a number of at most a few digits"
            )
            raise _Refused(msg)
        return self.construct_yaml_int(node)


_StrictLoader.add_constructor(None, _StrictLoader.construct_refused_tag)
_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_checked_int)


def _decode(data: bytes, what: str) -> str:
    """UTF-8 text (a leading BOM dropped), or a problem naming the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            saved, source_enc = 'it is UTF-16 (Windows "Unicode")', "UTF-16"
        else:
            try:
                data.decode("gb18030")
                saved, source_enc = (
                    (
                        "it reads as GBK/GB18030, the legacy Chinese encoding of "
                        "many Windows editors"
                    ),
                    "GB18030",
                )
            except UnicodeDecodeError:
                saved, source_enc = "it is in another encoding", "ITS-ENCODING"
        msg = (
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02X} at line {line}, "
            f"column {column}); {saved}. Re-save it as UTF-8 (in your editor: Save As, "
            f"Encoding: UTF-8) or convert it with `iconv -f {source_enc} -t UTF-8 "
            f"OLD.yaml > NEW.yaml`; a {what} file must be UTF-8"
        )
        raise _Refused(msg) from None


def read_yaml(path: str | Path, *, what: str = "standard") -> Any:
    """Read a standard or study YAML file safely.

    The file must be UTF-8 (a BOM is fine), at most
    :data:`~lifecircle.settings.CONFIG_FILE_MAX_BYTES` long with at most
    :data:`YAML_MAX_NODES` values; YAML aliases, tags that build objects,
    nesting deeper than :data:`YAML_MAX_DEPTH` and duplicate keys are refused.

    Parameters
    ----------
    path
        The YAML file.
    what
        ``"standard"`` or ``"study"``, for the messages.

    Returns
    -------
    Any
        The parsed document (``None`` for an empty file).

    Raises
    ------
    InputFileError
        The file cannot be read.
    ConfigError
        Naming the file, the line and the fix.
    """
    path = Path(path)
    source = str(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(CONFIG_FILE_MAX_BYTES + 1)
    except OSError as exc:
        msg = (
            f"{what} file {clip(source, 300)!r} cannot be read ({exc.strerror or exc}); "
            "check the path and that you may read it"
        )
        raise InputFileError(msg) from None
    if len(data) > CONFIG_FILE_MAX_BYTES:
        raise config_error(
            source,
            [
                f"the file is larger than {CONFIG_FILE_MAX_BYTES // 1000} kB; a {what} file "
                f"is a short text file: check that you gave the {what} YAML and not a data file"
            ],
        )
    loader = None
    try:
        text = _decode(data, what)
        loader = _StrictLoader(text, what)
        raw = loader.get_single_data()
    except _Refused as exc:
        raise config_error(source, [*(loader.problems if loader else []), str(exc)]) from None
    except yaml.YAMLError as exc:
        problems = loader.problems if loader else []
        raise config_error(source, [*problems, _yaml_problem(exc, text)]) from None
    finally:
        if loader is not None:
            loader.dispose()
    if loader.problems:
        raise config_error(source, loader.problems)
    return raw


def _yaml_problem(exc: yaml.YAMLError, text: str) -> str:
    """One line for a YAML syntax error: where, what, and what to check."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        return (
            f"not valid YAML: line {line} contains the control character "
            f"U+{exc.character:04X}; remove it (a YAML file holds printable text only)"
            if isinstance(exc.character, int)
            else f"not valid YAML: {clip(exc, 200)}"
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        where = (
            f" at line {exc.problem_mark.line + 1}, column {exc.problem_mark.column + 1}"
            if exc.problem_mark is not None
            else ""
        )
        context = ""
        if exc.context and exc.context_mark is not None:
            context = f" ({exc.context} at line {exc.context_mark.line + 1})"
        elif exc.context:
            context = f" ({exc.context})"
        return clip(
            f"not valid YAML{where}: {exc.problem}{context}; check the quotes, "
            "brackets and indentation there"
        )
    return f"not valid YAML: {clip(str(exc).replace(chr(10), ' '), 200)}"
