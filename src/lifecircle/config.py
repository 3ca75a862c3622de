"""Planning standards as validated, frozen objects.

A standard is a YAML file (see ``configs/standards/``) with life-circle levels,
walking-speed profiles and facility categories. :func:`load_standard` checks the
whole file and raises one :class:`~lifecircle.errors.ConfigError` that lists
every mistake, so a planner fixes them all in one pass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._config_checks import SELECTOR_SPECIAL_KEYS as SELECTOR_SPECIAL_KEYS
from ._config_checks import _Checker
from ._standard_cohorts import ALL, parse_cohorts, parse_sourced
from ._standard_cohorts import Cohort as Cohort
from ._standard_cohorts import Sourced as Sourced
from ._standard_types import CATEGORY_KEYS as CATEGORY_KEYS
from ._standard_types import ID_MAX_CHARS as ID_MAX_CHARS
from ._standard_types import LEVEL_KEYS as LEVEL_KEYS
from ._standard_types import POPULATION_RANGE_KEYS as POPULATION_RANGE_KEYS
from ._standard_types import PROFILE_KEYS as PROFILE_KEYS
from ._standard_types import REFERENCE_DISTANCE_MAX_M as REFERENCE_DISTANCE_MAX_M
from ._standard_types import STANDARD_KEYS as STANDARD_KEYS
from ._standard_types import Category as Category
from ._standard_types import Level as Level
from ._standard_types import PopulationRange as PopulationRange
from ._standard_types import Profile as Profile
from ._standard_types import Selector as Selector
from ._standard_types import Standard as Standard
from ._standard_types import feature_names as feature_names
from ._yaml import VALUE_MAX_CHARS as VALUE_MAX_CHARS
from ._yaml import YAML_MAX_DEPTH as YAML_MAX_DEPTH
from ._yaml import YAML_MAX_NODES as YAML_MAX_NODES
from ._yaml import config_error, did_you_mean, read_yaml, shown
from .datasets import resource_dir
from .errors import InputFileError, clip
from .settings import LEVEL_MINUTES_MAX, MODE_SPEED_RANGE_M_S, TRAVEL_MODES

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
    cohorts = parse_cohorts(raw.get("cohorts"), check)
    categories = _parse_categories(raw.get("categories"), levels, check)
    _check_category_refs(categories, cohorts, profiles, check)
    _check_level_modes(levels, profiles, check)
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
        cohorts=cohorts,
    )


def _check_category_refs(
    categories: list[Category],
    cohorts: Mapping[str, Cohort],
    profiles: Mapping[str, Profile],
    check: _Checker,
) -> None:
    """Each category's ``cohort`` and ``profile`` must be defined in the standard."""
    for i, cat in enumerate(categories):
        where = f"categories[{i}] ({cat.id})"
        if cat.cohort not in cohorts:
            check.problems.append(
                f"{where}.cohort: {shown(cat.cohort)} is not a cohort of the standard "
                f"({', '.join(cohorts)}); add it under `cohorts:`"
                f"{did_you_mean(cat.cohort, list(cohorts))}"
            )
        if cat.profile is not None and profiles and cat.profile not in profiles:
            check.problems.append(
                f"{where}.profile: {shown(cat.profile)} is not a walking profile of the "
                f"standard ({', '.join(profiles)}){did_you_mean(cat.profile, list(profiles))}"
            )


def _check_level_modes(
    levels: list[Level], profiles: Mapping[str, Profile], check: _Checker
) -> None:
    """Each travel mode a level lists needs a profile of that mode in the standard."""
    have = {p.mode for p in profiles.values()}
    for i, level in enumerate(levels):
        for mode in level.modes:
            if profiles and mode not in have:
                check.problems.append(
                    f"levels[{i}] ({level.id}).modes: no profile has `mode: {mode}`; add one "
                    "with its speed, source and verified flag under `profiles:`"
                )


def _level_modes(raw: Any, where: str, check: _Checker) -> tuple[str, ...]:
    """A level's optional ``modes: [walk, bicycle]``."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw or not all(isinstance(m, str) for m in raw):
        check.problems.append(
            f"{where}.modes: must be a non-empty list of travel modes, e.g. [walk, bicycle]"
        )
        return ()
    bad = [m for m in raw if m not in TRAVEL_MODES]
    if bad:
        check.problems.append(
            f"{where}.modes: {', '.join(shown(m) for m in bad)} not a travel mode; choose "
            f"from {', '.join(TRAVEL_MODES)}{did_you_mean(bad[0], TRAVEL_MODES)}"
        )
        return ()
    return tuple(dict.fromkeys(raw))


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
        mode = item.get("mode", "walk")
        if mode not in TRAVEL_MODES:
            problems.append(
                f"{where}.mode: {shown(mode)} is not a travel mode; choose one of "
                f"{', '.join(TRAVEL_MODES)}{did_you_mean(str(mode), TRAVEL_MODES)}"
            )
            mode = "walk"
        else:
            low, high = MODE_SPEED_RANGE_M_S[mode]
            if speed and not low <= speed <= high:
                what = "a walking speed" if mode == "walk" else f"a {mode} speed"
                problems.append(
                    f"{where}.speed_m_s: {speed} m/s is not {what} (expected {low:g}-{high:g} m/s)"
                )
        profiles[str(pid)] = Profile(
            id=str(pid),
            speed_m_s=speed,
            source=check.text(item, "source", where),
            verified=check.boolean(item, "verified", where),
            mode=mode,
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
        cohort=check.optional_text(item, "cohort", where) or ALL,
        profile=check.optional_text(item, "profile", where) or None,
        capacity=parse_sourced(item, "capacity", where, check),
        service_population=parse_sourced(item, "service_population", where, check),
    )


def _population_range(raw: Any, where: str, check: _Checker) -> PopulationRange | None:
    """A level's optional ``population: {min, max, source, verified}``."""
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        check.problems.append(f"{where}: must be a mapping {{min, max, source, verified}}")
        return None
    check.known_keys(raw, where, POPULATION_RANGE_KEYS, "field")
    out = PopulationRange(
        min=check.positive(raw, "min", where),
        max=check.positive(raw, "max", where),
        source=check.text(raw, "source", where),
        verified=check.boolean(raw, "verified", where),
    )
    check.optional_text(raw, "notes", where)
    if out.min and out.max and out.min > out.max:
        check.problems.append(
            f"{where}: min {out.min:g} is above max {out.max:g}; give the smaller number as min"
        )
    return out


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
            population=_population_range(item.get("population"), f"{where}.population", check),
            modes=_level_modes(item.get("modes"), where, check),
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
