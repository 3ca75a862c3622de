"""Planning standards as validated, frozen objects.

A standard is a YAML file (see ``configs/standards/``) with life-circle levels,
walking-speed profiles and facility categories. :func:`load_standard` checks the
whole file and raises one :class:`~lifecircle.errors.ConfigError` that lists
every mistake, so a planner fixes them all in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from .datasets import resource_dir
from .errors import ConfigError, InputFileError

#: Tag keys a selector may test (besides the ``name`` / ``not_name`` patterns).
SELECTOR_SPECIAL_KEYS = ("name", "not_name")


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
                f"standard {self.id!r} has no category {category_id!r}; "
                f"its categories are: {', '.join(self.category_ids)}"
            )
            raise ConfigError(self.path or self.id, [msg]) from None

    def profile(self, profile_id: str | None = None) -> Profile:
        """The walking profile ``profile_id`` (default: the standard's default)."""
        pid = profile_id or self.default_profile
        if pid not in self.profiles:
            msg = (
                f"unknown walking profile {pid!r}; choose one of: "
                f"{', '.join(self.profiles)}"
            )
            raise ConfigError(self.path or self.id, [msg])
        return self.profiles[pid]

    def level(self, level_id: str) -> Level:
        """The life-circle level ``level_id``."""
        return next(lv for lv in self.levels if lv.id == level_id)

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
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from None
    return parse_standard(raw, source=str(path))


def parse_standard(raw: Any, *, source: str = "<standard>") -> Standard:
    """Validate a standard given as a mapping (parsed YAML); see :func:`load_standard`."""
    problems: list[str] = []
    if not isinstance(raw, Mapping):
        raise ConfigError(source, ["the file must be a mapping with `id`, `levels`, "
                                   "`profiles` and `categories`"])
    check = _Checker(problems)
    std_id = check.text(raw, "id", "")
    title = raw.get("title", {})
    if not isinstance(title, Mapping):
        problems.append("title: must be a mapping with `en` and `zh`")
        title = {}
    src = check.text(raw, "source", "")

    levels: list[Level] = []
    raw_levels = raw.get("levels")
    if not isinstance(raw_levels, list) or not raw_levels:
        problems.append("levels: must be a non-empty list of life-circle levels")
        raw_levels = []
    for i, item in enumerate(raw_levels):
        where = f"levels[{i}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        names = check.names(item, where)
        levels.append(
            Level(
                id=check.text(item, "id", where),
                minutes=check.positive(item, "minutes", where),
                name_en=names[0],
                name_zh=names[1],
                reference_distance_m=check.optional_positive(item, "reference_distance_m", where),
                source=check.text(item, "source", where),
                verified=check.boolean(item, "verified", where),
            )
        )
    level_ids = [lv.id for lv in levels]
    check.unique(level_ids, "levels", "level id")

    profiles: dict[str, Profile] = {}
    raw_profiles = raw.get("profiles")
    if not isinstance(raw_profiles, Mapping) or not raw_profiles:
        problems.append("profiles: must be a mapping of profile id -> {speed_m_s, source, "
                        "verified}")
        raw_profiles = {}
    for pid, item in raw_profiles.items():
        where = f"profiles.{pid}"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        speed = check.positive(item, "speed_m_s", where)
        if speed and not 0.3 <= speed <= 2.5:
            problems.append(f"{where}.speed_m_s: {speed} m/s is not a walking speed "
                            "(expected 0.3-2.5 m/s)")
        profiles[str(pid)] = Profile(
            id=str(pid), speed_m_s=speed, source=check.text(item, "source", where),
            verified=check.boolean(item, "verified", where),
        )
    default_profile = str(raw.get("default_profile", "adult"))
    if profiles and default_profile not in profiles:
        problems.append(f"default_profile: {default_profile!r} is not one of the profiles "
                        f"({', '.join(profiles)})")

    categories: list[Category] = []
    raw_categories = raw.get("categories")
    if not isinstance(raw_categories, list) or not raw_categories:
        problems.append("categories: must be a non-empty list of facility categories")
        raw_categories = []
    for i, item in enumerate(raw_categories):
        where = f"categories[{i}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        cid = check.text(item, "id", where)
        if cid:
            where = f"categories[{i}] ({cid})"
            if not re.fullmatch(r"[a-z][a-z0-9_]*", cid):
                problems.append(f"{where}.id: use lower-case letters, digits and `_` only "
                                "(it becomes a column name)")
        names = check.names(item, where)
        level = check.text(item, "level", where)
        if level and level_ids and level not in level_ids:
            problems.append(f"{where}.level: {level!r} is not a defined level "
                            f"({', '.join(level_ids)})")
        known = {"id", "name", "level", "threshold_min", "mandatory", "source", "verified",
                 "selectors", "reference_distance_m", "notes"}
        for key in item:
            if key not in known:
                problems.append(f"{where}: unknown field {key!r} (allowed: "
                                f"{', '.join(sorted(known))})")
        categories.append(
            Category(
                id=cid, name_en=names[0], name_zh=names[1], level=level,
                threshold_min=check.positive(item, "threshold_min", where),
                mandatory=check.boolean(item, "mandatory", where),
                source=check.text(item, "source", where),
                verified=check.boolean(item, "verified", where),
                selectors=check.selectors(item, where),
                reference_distance_m=check.optional_positive(item, "reference_distance_m", where),
                notes=str(item.get("notes", "")),
            )
        )
    check.unique([c.id for c in categories], "categories", "category id")

    if problems:
        raise ConfigError(source, problems)
    return Standard(
        id=std_id, title_en=str(title.get("en", std_id)), title_zh=str(title.get("zh", std_id)),
        source=src, levels=tuple(levels), profiles=profiles, default_profile=default_profile,
        categories=tuple(categories), path=source, notes=str(raw.get("notes", "")),
    )


class _Checker:
    """Field checks that record problems instead of raising."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems

    def _missing(self, where: str, key: str, what: str) -> None:
        prefix = f"{where}." if where else ""
        self.problems.append(f"{prefix}{key}: missing; add {what}")

    def text(self, item: Mapping[str, Any], key: str, where: str) -> str:
        value = item.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            self._missing(where, key, "a non-empty text")
            return ""
        return str(value)

    def names(self, item: Mapping[str, Any], where: str) -> tuple[str, str]:
        name = item.get("name")
        if not isinstance(name, Mapping) or not name.get("en") or not name.get("zh"):
            self.problems.append(f"{where}.name: must give both `en` and `zh` names")
            return ("", "")
        return (str(name["en"]), str(name["zh"]))

    def positive(self, item: Mapping[str, Any], key: str, where: str) -> float:
        value = item.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            self.problems.append(f"{where}.{key}: must be a positive number, got {value!r}")
            return 0.0
        return float(value)

    def optional_positive(self, item: Mapping[str, Any], key: str, where: str) -> float | None:
        if item.get(key) is None:
            return None
        return self.positive(item, key, where) or None

    def boolean(self, item: Mapping[str, Any], key: str, where: str) -> bool:
        value = item.get(key)
        if not isinstance(value, bool):
            self.problems.append(f"{where}.{key}: must be true or false, got {value!r}")
            return False
        return value

    def unique(self, ids: list[str], where: str, what: str) -> None:
        seen: set[str] = set()
        for value in ids:
            if value and value in seen:
                self.problems.append(f"{where}: duplicate {what} {value!r}")
            seen.add(value)

    def selectors(self, item: Mapping[str, Any], where: str) -> tuple[Selector, ...]:
        raw = item.get("selectors")
        if not isinstance(raw, list) or not raw:
            self.problems.append(
                f"{where}.selectors: must be a non-empty list, e.g. "
                "[{amenity: kindergarten}]"
            )
            return ()
        out = []
        for j, sel in enumerate(raw):
            here = f"{where}.selectors[{j}]"
            if not isinstance(sel, Mapping) or not sel:
                self.problems.append(f"{here}: must be a mapping of OSM tag -> value(s)")
                continue
            tags: dict[str, tuple[str, ...] | None] = {}
            before = len(self.problems)
            patterns: dict[str, re.Pattern[str] | None] = {"name": None, "not_name": None}
            for key, value in sel.items():
                if key in SELECTOR_SPECIAL_KEYS:
                    try:
                        patterns[key] = re.compile(str(value))
                    except re.error as exc:
                        self.problems.append(f"{here}.{key}: invalid regular expression "
                                             f"{value!r} ({exc})")
                elif value == "*":
                    tags[str(key)] = None
                elif isinstance(value, str | int | float) and not isinstance(value, bool):
                    tags[str(key)] = (str(value),)
                elif isinstance(value, list) and value and all(
                    isinstance(v, str | int | float) and not isinstance(v, bool) for v in value
                ):
                    tags[str(key)] = tuple(str(v) for v in value)
                else:
                    self.problems.append(f"{here}.{key}: must be a value, a list of values "
                                         f"or '*', got {value!r} (quote yes/no: 'yes')")
            if not tags and len(self.problems) == before:
                self.problems.append(f"{here}: needs at least one OSM tag (a name pattern "
                                     "alone would match anything named so)")
                continue
            out.append(Selector(tags=tags, name=patterns["name"], not_name=patterns["not_name"]))
        return tuple(out)
