"""The parts of a planning standard, as frozen objects (read by :mod:`lifecircle.config`).

:class:`Standard` with its :class:`Level`, :class:`Profile` and :class:`Category`
(each category recognised in OSM-tagged data by :class:`Selector`), and the field
names and limits the parser checks. :func:`lifecircle.config.load_standard` makes
them from a YAML file; the rest of the package reads them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ._standard_cohorts import ALL, EVERYONE
from ._standard_cohorts import Cohort as Cohort
from ._standard_cohorts import Sourced as Sourced
from ._yaml import config_error, did_you_mean, shown
from .settings import TRAVEL_MODES

#: Fields each part of a standard may have.
STANDARD_KEYS = frozenset(
    {
        "id",
        "title",
        "source",
        "notes",
        "levels",
        "profiles",
        "default_profile",
        "cohorts",
        "categories",
    }
)
LEVEL_KEYS = frozenset(
    {
        "id",
        "minutes",
        "name",
        "reference_distance_m",
        "population",
        "source",
        "verified",
        "notes",
        "modes",
    }
)
POPULATION_RANGE_KEYS = frozenset({"min", "max", "source", "verified", "notes"})
PROFILE_KEYS = frozenset({"speed_m_s", "source", "verified", "notes", "mode"})
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
        "cohort",
        "profile",
        "capacity",
        "service_population",
    }
)

#: Longest accepted reference distance of a level or category (metres).
REFERENCE_DISTANCE_MAX_M = 10_000.0

#: Longest id of a level, profile or category (they become column names).
ID_MAX_CHARS = 40


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
class PopulationRange:
    """Residents a life-circle unit of a level should hold (``lifecircle delineate``)."""

    min: float
    max: float
    source: str
    verified: bool


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
    #: Residents per life-circle unit of the level, when the standard gives them.
    population: PopulationRange | None = None
    #: Travel modes that count at this level (empty: the category's own profile only).
    #: A resident reaches a category of the level if any of these modes does.
    modes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    """A travel-speed profile (adult, elderly, child walking; cycling; e-bike)."""

    id: str
    speed_m_s: float
    source: str
    verified: bool
    #: ``walk``, ``bicycle`` or ``ebike``: which network (filter) the profile travels on.
    mode: str = "walk"

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
    #: The residents it serves (a cohort id of the standard; ``all``: everyone).
    cohort: str = ALL
    #: The walking profile its cohort walks at (None: the audit's profile).
    profile: str | None = None
    #: Default capacity of one facility (places, beds, residents), when a facility gives none.
    capacity: Sourced | None = None
    #: Residents one facility is expected to serve (for the data-completeness check).
    service_population: Sourced | None = None

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
    cohorts: Mapping[str, Cohort] = field(default_factory=lambda: {ALL: EVERYONE})
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

    def cohort_of(self, category_id: str) -> Cohort:
        """The cohort the category serves (every resident unless it names one)."""
        return self.cohorts[self.category(category_id).cohort]

    def profile_of(self, category_id: str, override: str | Profile | None = None) -> Profile:
        """The walking profile of ``category_id``.

        ``override`` (the audit's ``--profile``) applies to every category; without it a
        category walks at its own cohort's profile, or the standard's default.
        """
        if isinstance(override, Profile):
            return override
        if override:
            return self.profile(override)
        return self.profile(self.category(category_id).profile)

    def mode_profile(self, mode: str) -> Profile:
        """The first profile (in file order) of travel mode ``mode``."""
        for prof in self.profiles.values():
            if prof.mode == mode:
                return prof
        msg = (
            f"standard {self.id!r} has no profile of travel mode {shown(mode)}; add one "
            f"under `profiles:` with `mode: {mode}` and its speed"
        )
        raise config_error(self.path or self.id, [msg])

    def profiles_of(self, category_id: str, override: str | Profile | None = None) -> list[Profile]:
        """Every profile that counts for ``category_id``: one per travel mode of its level.

        Without ``modes`` on the category's level, only :meth:`profile_of` (walking
        unless the profile says otherwise). With ``modes: [walk, bicycle]`` the
        category's own profile stands for its own mode and the standard's first
        profile of each other mode (:meth:`mode_profile`) for that mode; a resident
        reaches the category if any of them does within the threshold.
        """
        own = self.profile_of(category_id, override)
        modes = self.level(self.category(category_id).level).modes
        if not modes:
            return [own]
        return [own if own.mode == m else self.mode_profile(m) for m in modes]

    def modes_of(self, categories: list[str], override: str | Profile | None = None) -> list[str]:
        """The travel modes ``categories`` need, walking first."""
        found = {p.mode for c in categories for p in self.profiles_of(c, override)}
        return [m for m in TRAVEL_MODES if m in found]

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
