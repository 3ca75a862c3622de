"""Planning standards as validated, frozen objects.

A standard is a YAML file (see ``configs/standards/``) with life-circle levels,
walking-speed profiles and facility categories. :func:`load_standard` checks the
whole file and raises one :class:`~lifecircle.errors.ConfigError` that lists
every mistake, so a planner fixes them all in one pass.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .datasets import resource_dir
from .errors import ConfigError, InputFileError, clip
from .settings import (
    CONFIG_FILE_MAX_BYTES,
    LEVEL_MINUTES_MAX,
    WALKING_SPEED_MAX_M_S,
    WALKING_SPEED_MIN_M_S,
    real_number,
)

#: Tag keys a selector may test (besides the ``name`` / ``not_name`` patterns).
SELECTOR_SPECIAL_KEYS = ("name", "not_name")

#: Fields each part of a standard may have.
STANDARD_KEYS = frozenset(
    {"id", "title", "source", "notes", "levels", "profiles", "default_profile", "categories"}
)
LEVEL_KEYS = frozenset(
    {"id", "minutes", "name", "reference_distance_m", "source", "verified", "notes"}
)
PROFILE_KEYS = frozenset({"speed_m_s", "source", "verified", "notes"})
CATEGORY_KEYS = frozenset(
    {
        "id",
        "name",
        "level",
        "threshold_min",
        "mandatory",
        "source",
        "verified",
        "selectors",
        "reference_distance_m",
        "notes",
    }
)

#: Longest accepted reference distance of a level or category (metres).
REFERENCE_DISTANCE_MAX_M = 10_000.0

#: Longest id of a level, profile or category (they become column names).
ID_MAX_CHARS = 40

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


@dataclass(frozen=True)
class Selector:
    """One way of recognising a category in OSM-tagged data.

    All conditions must hold: every tag in ``tags`` has one of its values
    (``None`` = any value), the feature's name matches ``name`` and does not
    match ``not_name``.
    """

    tags: Mapping[str, tuple[str, ...] | None]
    name: re.Pattern[str] | None = None
    not_name: re.Pattern[str] | None = None

    def tag_keys(self) -> set[str]:
        """OSM keys this selector reads."""
        return set(self.tags)

    def match(self, features: pd.DataFrame) -> np.ndarray:
        """Boolean mask of the rows of ``features`` (tag columns) that match."""
        mask = np.ones(len(features), dtype=bool)
        for key, values in self.tags.items():
            if key not in features.columns:
                return np.zeros(len(features), dtype=bool)
            col = features[key]
            if values is None:
                mask &= col.notna().to_numpy()
            else:
                mask &= col.astype("string").str.strip().isin(values).fillna(False).to_numpy(bool)
        if self.name is not None or self.not_name is not None:
            names = feature_names(features)
            if self.name is not None:
                mask &= names.str.contains(self.name, na=False).to_numpy(bool)
            if self.not_name is not None:
                mask &= ~names.str.contains(self.not_name, na=False).to_numpy(bool)
        return mask


def feature_names(features: pd.DataFrame) -> pd.Series:
    """Each feature's name: ``name``, else ``name:zh``, else ``name:en`` (NA if none)."""
    names = pd.Series(pd.NA, index=features.index, dtype="string")
    for col in ("name", "name:zh", "name:en"):
        if col in features.columns:
            names = names.fillna(features[col].astype("string"))
    return names


@dataclass(frozen=True)
class Level:
    """A life-circle level, e.g. the 5-minute life circle."""

    id: str
    minutes: float
    name_en: str
    name_zh: str
    reference_distance_m: float | None
    source: str
    verified: bool


@dataclass(frozen=True)
class Profile:
    """A walking-speed profile (adult, elderly, child)."""

    id: str
    speed_m_s: float
    source: str
    verified: bool

    @property
    def speed_m_min(self) -> float:
        """Walking speed in metres per minute."""
        return self.speed_m_s * 60.0


@dataclass(frozen=True)
class Category:
    """A facility category with its level, threshold and OSM selectors."""

    id: str
    name_en: str
    name_zh: str
    level: str
    threshold_min: float
    mandatory: bool
    source: str
    verified: bool
    selectors: tuple[Selector, ...]
    reference_distance_m: float | None = None
    notes: str = ""

    def match(self, features: pd.DataFrame) -> np.ndarray:
        """Boolean mask of rows of ``features`` (OSM tag columns) in this category."""
        mask = np.zeros(len(features), dtype=bool)
        for selector in self.selectors:
            mask |= selector.match(features)
        return mask

    def name(self, lang: str = "en") -> str:
        """The category's name in ``lang`` (``en`` or ``zh``)."""
        return self.name_zh if lang == "zh" else self.name_en


@dataclass(frozen=True)
class Standard:
    """A planning standard: levels, walking profiles and facility categories."""

    id: str
    title_en: str
    title_zh: str
    source: str
    levels: tuple[Level, ...]
    profiles: Mapping[str, Profile]
    default_profile: str
    categories: tuple[Category, ...]
    path: str = ""
    notes: str = ""
    _by_id: Mapping[str, Category] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {c.id: c for c in self.categories})

    @property
    def category_ids(self) -> list[str]:
        """Category ids in file order."""
        return [c.id for c in self.categories]

    def category(self, category_id: str) -> Category:
        """The category with id ``category_id``."""
        try:
            return self._by_id[category_id]
        except KeyError:
            msg = (
                f"standard {self.id!r} has no category {shown(category_id)}; "
                f"its categories are: {', '.join(self.category_ids)}"
                f"{did_you_mean(category_id, self.category_ids)}"
            )
            raise config_error(self.path or self.id, [msg]) from None

    def profile(self, profile_id: str | None = None) -> Profile:
        """The walking profile ``profile_id`` (default: the standard's default)."""
        pid = profile_id or self.default_profile
        if pid not in self.profiles:
            msg = (
                f"unknown walking profile {shown(pid)}; choose one of: "
                f"{', '.join(self.profiles)}{did_you_mean(pid, self.profiles)}"
            )
            raise config_error(self.path or self.id, [msg])
        return self.profiles[pid]

    def level(self, level_id: str) -> Level:
        """The life-circle level ``level_id``."""
        for lv in self.levels:
            if lv.id == level_id:
                return lv
        ids = [lv.id for lv in self.levels]
        msg = (
            f"standard {self.id!r} has no level {shown(level_id)}; its levels are: "
            f"{', '.join(ids)}{did_you_mean(level_id, ids)}"
        )
        raise config_error(self.path or self.id, [msg])

    def tag_keys(self) -> set[str]:
        """Every OSM key read by any selector."""
        return {k for c in self.categories for s in c.selectors for k in s.tag_keys()}


# --------------------------------------------------------------------------- loading


def list_standards() -> list[str]:
    """Names of the bundled standards (file stems in ``configs/standards``)."""
    return sorted(p.stem for p in resource_dir("configs/standards").glob("*.yaml"))


def standard_path(name_or_path: str | Path) -> Path:
    """Resolve a bundled standard's name, or a path to a YAML file."""
    candidate = Path(name_or_path)
    if candidate.suffix in {".yaml", ".yml"} or candidate.exists():
        if not candidate.is_file():
            msg = f"standard file {str(candidate)!r} does not exist; check the path"
            raise InputFileError(msg)
        return candidate
    bundled = resource_dir("configs/standards") / f"{name_or_path}.yaml"
    if not bundled.is_file():
        msg = (
            f"unknown standard {str(name_or_path)!r}; bundled standards: "
            f"{', '.join(list_standards())} (or give the path of a YAML file)"
        )
        raise InputFileError(msg)
    return bundled


def load_standard(name_or_path: str | Path = "gb50180-2018") -> Standard:
    """Load and validate a standard.

    Parameters
    ----------
    name_or_path
        A bundled standard's name (``gb50180-2018``, ``moreno-15min``) or a YAML path.

    Returns
    -------
    Standard
        The validated standard.

    Raises
    ------
    ConfigError
        Listing every mistake found in the file.

    Examples
    --------
    >>> std = load_standard("gb50180-2018")
    >>> std.category("kindergarten").threshold_min
    5.0
    """
    path = standard_path(name_or_path)
    return parse_standard(read_yaml(path, what="standard"), source=str(path))


def parse_standard(raw: Any, *, source: str = "<standard>") -> Standard:
    """Validate a standard given as a mapping (parsed YAML); see :func:`load_standard`.

    Parameters
    ----------
    raw
        The parsed YAML document.
    source
        The file (or name) it came from; it starts every message.

    Returns
    -------
    Standard
        The validated standard.

    Raises
    ------
    ConfigError
        Listing every mistake (at most :data:`~lifecircle.errors.MESSAGE_MAX_PROBLEMS` lines).
    """
    problems: list[str] = []
    if raw is None:
        raise config_error(
            source,
            [
                "the file is empty; a standard is a mapping with `id`, "
                "`levels`, `profiles` and `categories` (see "
                "configs/standards/gb50180-2018.yaml)"
            ],
        )
    if not isinstance(raw, Mapping):
        raise config_error(
            source, ["the file must be a mapping with `id`, `levels`, `profiles` and `categories`"]
        )
    check = _Checker(problems)
    check.known_keys(raw, "", STANDARD_KEYS, "field")
    std_id = check.text(raw, "id", "")
    title = raw.get("title", {})
    if not isinstance(title, Mapping):
        problems.append("title: must be a mapping with `en` and `zh`")
        title = {}
    src = check.text(raw, "source", "")

    levels = _parse_levels(raw.get("levels"), check)
    check.unique([lv.id for lv in levels], "levels", "level id")
    profiles = _parse_profiles(raw.get("profiles"), check)
    default_profile = _parse_default_profile(raw.get("default_profile", "adult"), profiles, check)
    categories = _parse_categories(raw.get("categories"), levels, check)
    notes = check.optional_text(raw, "notes", "")  # checked before the problems are raised

    if problems:
        raise config_error(source, problems)
    return Standard(
        id=std_id,
        title_en=str(title.get("en", std_id)),
        title_zh=str(title.get("zh", std_id)),
        source=src,
        levels=tuple(levels),
        profiles=profiles,
        default_profile=default_profile,
        categories=tuple(categories),
        path=source,
        notes=notes,
    )


def _parse_profiles(raw_profiles: Any, check: _Checker) -> dict[str, Profile]:
    """The walking profiles, by profile id."""
    problems = check.problems
    if not isinstance(raw_profiles, Mapping) or not raw_profiles:
        problems.append(
            "profiles: must be a mapping of profile id -> {speed_m_s, source, verified}"
        )
        raw_profiles = {}
    check.unique([str(pid) for pid in raw_profiles], "profiles", "profile id")
    profiles: dict[str, Profile] = {}
    for pid, item in raw_profiles.items():
        where = f"profiles.{clip(str(pid), ID_MAX_CHARS)}"
        if (
            not isinstance(pid, str)
            or not re.fullmatch(r"\w[\w-]*", pid)
            or len(pid) > ID_MAX_CHARS
        ):
            problems.append(
                f"{where}: a profile id must be a word (letters, digits, `_`, "
                f"`-`, at most {ID_MAX_CHARS} characters), got {shown(pid)}; "
                "quote it if YAML reads it as a number or true/false"
            )
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        check.known_keys(item, where, PROFILE_KEYS, "field")
        speed = check.positive(item, "speed_m_s", where)
        if speed and not WALKING_SPEED_MIN_M_S <= speed <= WALKING_SPEED_MAX_M_S:
            problems.append(
                f"{where}.speed_m_s: {speed} m/s is not a walking speed "
                f"(expected {WALKING_SPEED_MIN_M_S:g}-{WALKING_SPEED_MAX_M_S:g} "
                "m/s)"
            )
        profiles[str(pid)] = Profile(
            id=str(pid),
            speed_m_s=speed,
            source=check.text(item, "source", where),
            verified=check.boolean(item, "verified", where),
        )
    return profiles


def _parse_default_profile(
    default_profile: Any, profiles: Mapping[str, Profile], check: _Checker
) -> str:
    """The default profile's id, which must be one of ``profiles`` (when there are any)."""
    if profiles and (not isinstance(default_profile, str) or default_profile not in profiles):
        check.problems.append(
            f"default_profile: {shown(default_profile)} is not one of the "
            f"profiles ({', '.join(profiles)})"
        )
    return str(default_profile)


def _parse_categories(raw_categories: Any, levels: list[Level], check: _Checker) -> list[Category]:
    """The facility categories, each at one of ``levels`` and within the longest one."""
    if not isinstance(raw_categories, list) or not raw_categories:
        check.problems.append("categories: must be a non-empty list of facility categories")
        raw_categories = []
    level_ids = [lv.id for lv in levels]
    # the cut-off, unless a level's minutes are themselves wrong
    valid = bool(levels) and all(lv.minutes > 0 for lv in levels)
    longest = max(levels, key=lambda lv: lv.minutes) if valid else None
    categories: list[Category] = []
    for i, item in enumerate(raw_categories):
        if not isinstance(item, Mapping):
            check.problems.append(f"categories[{i}]: must be a mapping")
            continue
        categories.append(_parse_category(item, i, level_ids, longest, check))
    check.unique([c.id for c in categories], "categories", "category id")
    return categories


def _parse_category(
    item: Mapping[str, Any], i: int, level_ids: list[str], longest: Level | None, check: _Checker
) -> Category:
    """Category ``i`` of the list (``longest``: the level whose minutes cut distances off)."""
    problems = check.problems
    where = f"categories[{i}]"
    cid = check.text(item, "id", where)
    if cid:
        where = f"categories[{i}] ({clip(cid, ID_MAX_CHARS)})"
        if not re.fullmatch(r"[a-z][a-z0-9_]*", cid):
            problems.append(
                f"{where}.id: use lower-case letters, digits and `_` only "
                "(it becomes a column name)"
            )
        elif len(cid) > ID_MAX_CHARS:
            problems.append(
                f"{where}.id: at most {ID_MAX_CHARS} characters (it becomes a column name)"
            )
    names = check.names(item, where)
    level = check.text(item, "level", where)
    if level and level_ids and level not in level_ids:
        problems.append(
            f"{where}.level: {shown(level)} is not a defined level ({', '.join(level_ids)})"
        )
    check.known_keys(item, where, CATEGORY_KEYS, "field")
    threshold = check.positive(item, "threshold_min", where)
    if threshold and longest is not None and threshold > longest.minutes:
        problems.append(
            f"{where}.threshold_min: {threshold:g} min is longer than the "
            f"longest level ({longest.id}, {longest.minutes:g} min), where "
            "walking distances are cut off; shorten it or add a longer level"
        )
    return Category(
        id=cid,
        name_en=names[0],
        name_zh=names[1],
        level=level,
        threshold_min=threshold,
        mandatory=check.boolean(item, "mandatory", where),
        source=check.text(item, "source", where),
        verified=check.boolean(item, "verified", where),
        selectors=check.selectors(item, where),
        reference_distance_m=check.optional_positive(
            item, "reference_distance_m", where, maximum=REFERENCE_DISTANCE_MAX_M
        ),
        notes=check.optional_text(item, "notes", where),
    )


def _parse_levels(raw_levels: Any, check: _Checker) -> list[Level]:
    """The life-circle levels, each longer than the one before."""
    problems = check.problems
    if not isinstance(raw_levels, list) or not raw_levels:
        problems.append("levels: must be a non-empty list of life-circle levels")
        return []
    levels: list[Level] = []
    previous: Level | None = None
    for i, item in enumerate(raw_levels):
        where = f"levels[{i}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        check.known_keys(item, where, LEVEL_KEYS, "field")
        names = check.names(item, where)
        level = Level(
            id=check.text(item, "id", where),
            minutes=check.positive(item, "minutes", where, maximum=LEVEL_MINUTES_MAX),
            name_en=names[0],
            name_zh=names[1],
            reference_distance_m=check.optional_positive(
                item, "reference_distance_m", where, maximum=REFERENCE_DISTANCE_MAX_M
            ),
            source=check.text(item, "source", where),
            verified=check.boolean(item, "verified", where),
        )
        if level.id and (
            not re.fullmatch(r"[a-z0-9][a-z0-9_]*", level.id) or len(level.id) > ID_MAX_CHARS
        ):
            problems.append(
                f"{where}.id: use lower-case letters, digits and `_` only, at most "
                f"{ID_MAX_CHARS} characters, e.g. 5min (it becomes a column "
                f"name), got {shown(level.id)}"
            )
        if (
            previous is not None
            and level.minutes
            and previous.minutes
            and level.minutes <= previous.minutes
        ):
            problems.append(
                f"{where}.minutes: {level.minutes:g} is not longer than "
                f"levels[{i - 1}] ({previous.id}, {previous.minutes:g} min); list "
                "the levels from the shortest to the longest"
            )
        if level.minutes:
            previous = level
        levels.append(level)
    return levels


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
