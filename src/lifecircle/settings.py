"""Process-wide defaults, documented in one place.

Per-study parameters belong in the standard YAML files and CLI flags; these are
the defaults used when nothing else is given.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from .errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Unpack

#: Points farther than this from the walk network are excluded (metres).
MAX_SNAP_M: float = 500.0

#: Spacing of access points sampled along the edge of polygon facilities (metres).
POLYGON_ACCESS_SPACING_M: float = 25.0

#: OSM ``highway`` values that are walkable (footways included where mapped).
WALKABLE_HIGHWAYS: frozenset[str] = frozenset(
    {
        "primary",
        "primary_link",
        "secondary",
        "secondary_link",
        "tertiary",
        "tertiary_link",
        "unclassified",
        "residential",
        "living_street",
        "service",
        "pedestrian",
        "footway",
        "path",
        "steps",
        "track",
        "trunk",
        "trunk_link",
        "road",
        "corridor",
        "bridleway",
    }
)

#: Ways with any of these tag values are not walkable.
NOT_WALKABLE_TAGS: dict[str, frozenset[str]] = {
    "foot": frozenset({"no", "private"}),
    "access": frozenset({"no", "private"}),
    "motorroad": frozenset({"yes"}),
    "area": frozenset({"yes"}),
}

#: Travel modes a profile may use; each has its own network filter (see below).
TRAVEL_MODES: tuple[str, ...] = ("walk", "bicycle", "ebike")

#: Speeds a profile of each mode may have (m/s, inclusive). Walking keeps the
#: walking range; cycling 1.5-10 m/s (5.4-36 km/h); an e-bike up to 12 m/s.
MODE_SPEED_RANGE_M_S: dict[str, tuple[float, float]] = {
    "walk": (0.3, 2.5),
    "bicycle": (1.5, 10.0),
    "ebike": (1.5, 12.0),
}

#: ``highway`` values a bicycle may use only when the way says so
#: (``bicycle=yes|designated|permissive``): footway-only links and trunk roads.
CYCLABLE_IF_ALLOWED: frozenset[str] = frozenset(
    {"footway", "pedestrian", "steps", "corridor", "bridleway", "trunk", "trunk_link"}
)

#: OSM ``highway`` values a bicycle (or e-bike) may use without an explicit
#: ``bicycle=*`` tag: cycleways, and the walkable ways except footway-only links and trunk
#: roads (tracks, paths and roads open to cycles). Motorways are never used; trunk roads
#: only with ``bicycle=yes|designated|permissive``.
CYCLABLE_HIGHWAYS: frozenset[str] = (WALKABLE_HIGHWAYS - CYCLABLE_IF_ALLOWED) | {"cycleway"}

#: ``highway`` values never used by a bicycle, whatever their tags say.
NEVER_CYCLABLE: frozenset[str] = frozenset({"motorway", "motorway_link"})

#: ``bicycle=*`` values that open a way to cycles.
BICYCLE_ALLOWED: frozenset[str] = frozenset({"yes", "designated", "permissive"})

#: Ways with any of these tag values are not cyclable.
NOT_CYCLABLE_TAGS: dict[str, frozenset[str]] = {
    "bicycle": frozenset({"no", "private", "dismount", "use_sidepath"}),
    "access": frozenset({"no", "private"}),
    "motorroad": frozenset({"yes"}),
    "area": frozenset({"yes"}),
}


#: Street classes whose length weights the dasymetric allocation of population to
#: network nodes (people live along residential streets). When a population
#: polygon has none of them, every street class is used instead.
RESIDENTIAL_HIGHWAYS: frozenset[str] = frozenset(
    {"residential", "living_street", "unclassified", "service"}
)

#: Default standard and profile of ``lifecircle audit``.
DEFAULT_STANDARD: str = "gb50180-2018"
DEFAULT_PROFILE: str = "adult"

#: Default output directory of ``lifecircle audit``.
DEFAULT_OUT_DIR: str = "lifecircle-out"

#: Share of a unit's walkable catchment (unit buffered by the largest reach)
#: that must lie inside the street data for the unit to be analysed.
CATCHMENT_INSIDE_SHARE: float = 0.99

#: Circumradius (centre to corner) of the hexagons used when no governance units
#: are given and the OSM file has no administrative boundaries (metres).
HEX_SIZE_M: float = 500.0

#: Facilities snapped farther than this are flagged in the data-quality section.
FAR_SNAP_WARNING_M: float = 100.0

# --------------------------------------------------------------------------- limits

#: Smallest and largest hexagon circumradius accepted for the fallback grid
#: (metres). 1 m hexagons over the sample took 10.9 GB before this limit.
HEX_SIZE_MIN_M: float = 50.0
HEX_SIZE_MAX_M: float = 20000.0

#: Most hexagons a fallback grid may have; the hex builder refuses a grid over
#: the data's extent that would need more (see :func:`check_hex_cells`).
HEX_CELLS_MAX: int = 1_000_000

#: Largest accepted ``max_snap_m`` (metres): beyond a few kilometres a point is
#: not "near" the walk network any more.
MAX_SNAP_M_MAX: float = 5000.0

#: Largest size of a standard or study YAML file read (bytes). Both are small
#: text files (GB 50180-2018 is 9 kB); anything bigger is the wrong file or an
#: attack, and parsing 250 kB of YAML already takes about a second.
CONFIG_FILE_MAX_BYTES: int = 250_000

#: Walking speeds a profile may have (m/s) and the longest life-circle level (min).
WALKING_SPEED_MIN_M_S: float = 0.3
WALKING_SPEED_MAX_M_S: float = 2.5
LEVEL_MINUTES_MAX: float = 60.0


@dataclass(frozen=True)
class OptionRange:
    """The allowed values of one numeric option (study key or CLI flag).

    ``minimum``/``maximum`` are inclusive unless ``min_open``/``max_open``;
    ``None`` means unbounded on that side. ``why`` is appended to the message
    of a value out of range.
    """

    minimum: float | None = None
    maximum: float | None = None
    min_open: bool = False
    max_open: bool = False
    integer: bool = False
    unit: str = ""
    default: float | None = None
    why: str = ""


class RangeOverrides(TypedDict, total=False):
    """Keyword overrides of an option's declared :class:`OptionRange` (``None`` = as declared)."""

    minimum: float | None
    maximum: float | None
    integer: bool | None
    min_open: bool | None
    max_open: bool | None


_OVERRIDE_KEYS = frozenset(RangeOverrides.__annotations__)


#: The numeric options of studies and of the command line, declared once. Keys
#: are study keys; a CLI flag ``--max-snap-m`` is looked up as ``max_snap_m``.
OPTION_RANGES: dict[str, OptionRange] = {
    "max_snap_m": OptionRange(0.0, MAX_SNAP_M_MAX, min_open=True, unit="m", default=MAX_SNAP_M),
    "hex_size_m": OptionRange(
        HEX_SIZE_MIN_M,
        HEX_SIZE_MAX_M,
        unit="m",
        default=HEX_SIZE_M,
        why=f"the size is centre to corner; below {HEX_SIZE_MIN_M:g} m the cells multiply "
        "(1 m hexagons over the sample needed 10.9 GB)",
    ),
    "min_component_nodes": OptionRange(1, None, integer=True),
    "rural_density_max": OptionRange(0.0, 1e6, min_open=True, unit="residents/km2"),
    # optimize
    "sites": OptionRange(1, 100_000, integer=True),
    "target_coverage": OptionRange(
        0.0, 1.0, min_open=True, why="it is a share of the population, e.g. 0.8 for 80%"
    ),
    "n_candidates": OptionRange(1, 100_000, integer=True, default=300),
    "min_spacing_m": OptionRange(0.0, 20_000.0, unit="m", default=0.0),
    "capacity": OptionRange(0.0, None, min_open=True),
    "min_unit_coverage": OptionRange(
        0.0, 1.0, why="it is a share of each unit's population, e.g. 0.5"
    ),
    "time_limit": OptionRange(0.0, 86_400.0, min_open=True, unit="s", default=60.0),
    "max_walk_min": OptionRange(0.0, 120.0, min_open=True, unit="min"),
    "seed": OptionRange(0, 2**32 - 1, integer=True, default=0),
    "fairness_weight": OptionRange(
        0.0, 1.0, default=0.5, why="0 weighs the complete share only, 1 the worst-served decile"
    ),
}


def real_number(value: object) -> int | float | None:
    """``value`` as a plain ``int`` or ``float`` if it is a real number, else ``None``.

    Any :class:`numbers.Real` (Python and NumPy ints and floats) counts; ``True``
    and ``False`` do not. Integers stay exact ints, so comparisons with a range
    give the same answer as with ``value`` itself.

    Parameters
    ----------
    value
        Anything, e.g. a value read from YAML or the command line.

    Returns
    -------
    int, float or None
        The number, or ``None`` for text, booleans, ``None`` and other objects.

    Examples
    --------
    >>> real_number(3), real_number(2.5), real_number("3"), real_number(True)
    (3, 2.5, None, None)
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _fmt(number: float) -> str:
    return f"{number:g}" if isinstance(number, float) else str(number)


def _range_text(spec: OptionRange) -> str:
    """``a number greater than 0 and at most 5000 m`` and similar."""
    unit = f" {spec.unit}" if spec.unit else ""
    kind = "a whole number" if spec.integer else "a number"
    lo, hi = spec.minimum, spec.maximum
    if lo is not None and hi is not None and not spec.min_open and not spec.max_open:
        return f"{kind} from {_fmt(lo)} to {_fmt(hi)}{unit}"
    parts = []
    if lo is not None:
        parts.append(f"{'greater than' if spec.min_open else 'of at least'} {_fmt(lo)}")
    if hi is not None:
        parts.append(f"{'less than' if spec.max_open else 'at most'} {_fmt(hi)}")
    return f"{kind} {' and '.join(parts)}{unit}".rstrip() if parts else f"{kind}{unit}"


def _shown(value: object, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _option_spec(name: str, overrides: RangeOverrides) -> OptionRange:
    """The declared range of option ``name`` (flag dashes read as underscores), overridden."""
    unknown = set(overrides) - _OVERRIDE_KEYS
    if unknown:
        msg = f"unexpected range override(s) {', '.join(sorted(unknown))} for option {name!r}"
        raise TypeError(msg)
    declared = OPTION_RANGES.get(name.lstrip("-").replace("-", "_"), OptionRange())
    given: dict[str, Any] = {key: value for key, value in overrides.items() if value is not None}
    return dataclasses.replace(declared, **given)


def option_problem(
    name: str, value: object, *, finite: bool = True, **overrides: Unpack[RangeOverrides]
) -> str | None:
    """The problem with a numeric option's value, as one line, or ``None`` if it is fine.

    Parameters
    ----------
    name
        The option as the user wrote it: a study key (``max_snap_m``) or a flag
        (``--max-snap-m``). Its range is looked up in :data:`OPTION_RANGES`
        (flag dashes read as underscores) unless given here.
    value
        The value to check. Text, ``True``/``False`` and ``None`` are refused.
    finite
        Refuse NaN and infinities (the default).
    **overrides
        ``minimum``, ``maximum``, ``integer``, ``min_open``, ``max_open``:
        override the declared range (``None`` = as declared; an undeclared
        option is any number); see :class:`RangeOverrides`.

    Returns
    -------
    str or None
        ``"NAME: got VALUE, which is WHY; give RANGE (default D)"``, or ``None``.
    """
    spec = _option_spec(name, overrides)
    wanted = _range_text(spec)
    if spec.default is not None:
        wanted += f" (default {_fmt(spec.default)})"
    number = real_number(value)
    if number is None:
        why = "not a number" + (" (write it without quotes)" if isinstance(value, str) else "")
    elif finite and not math.isfinite(number):
        why = "not a finite number"
    elif spec.integer and not float(number).is_integer():
        why = "not a whole number"
    elif spec.minimum is not None and (
        number <= spec.minimum if spec.min_open else number < spec.minimum
    ):
        unit = f" {spec.unit}" if spec.unit else ""
        why = (
            f"not greater than {_fmt(spec.minimum)}{unit}"
            if spec.min_open
            else f"below the minimum of {_fmt(spec.minimum)}{unit}"
        )
    elif spec.maximum is not None and (
        number >= spec.maximum if spec.max_open else number > spec.maximum
    ):
        unit = f" {spec.unit}" if spec.unit else ""
        why = (
            f"not less than {_fmt(spec.maximum)}{unit}"
            if spec.max_open
            else f"above the maximum of {_fmt(spec.maximum)}{unit}"
        )
    else:
        return None
    if spec.why and why.startswith(("below", "above", "not greater", "not less")):
        wanted += f" — {spec.why}"
    return f"{name}: got {_shown(value)}, which is {why}; give {wanted}"


def check_option(
    name: str,
    value: object,
    *,
    finite: bool = True,
    source: str = "options",
    **overrides: Unpack[RangeOverrides],
) -> float | int:
    """Validate a numeric option (study key or CLI flag) against its declared range.

    Parameters
    ----------
    name, value, finite
        See :func:`option_problem`.
    source
        Where the value came from (a study file's path, ``"command line"``);
        it starts the error message.
    **overrides
        ``minimum``, ``maximum``, ``integer``, ``min_open``, ``max_open``:
        see :func:`option_problem`.

    Returns
    -------
    float or int
        The value as ``int`` for whole-number options, else ``float``.

    Raises
    ------
    ConfigError
        Naming the option, the value, the allowed range and the default.

    Examples
    --------
    >>> check_option("hex_size_m", 250)
    250.0
    >>> check_option("--min-component-nodes", 1000)
    1000
    """
    problem = option_problem(name, value, finite=finite, **overrides)
    if problem is not None:
        raise ConfigError(source, [problem])
    number = real_number(value)
    assert number is not None  # option_problem refuses anything but a real number
    return int(number) if _option_spec(name, overrides).integer else float(number)


def hex_cells_estimate(width_m: float, height_m: float, size_m: float) -> int:
    """Number of hexagons of circumradius ``size_m`` needed to tile a ``width × height`` box.

    Pointy-top hexagons: columns ``sqrt(3)·size`` apart, rows ``1.5·size`` apart,
    one extra row and column for the edges.
    """
    cols = math.floor(max(width_m, 0.0) / (math.sqrt(3.0) * size_m)) + 2
    rows = math.floor(max(height_m, 0.0) / (1.5 * size_m)) + 2
    return cols * rows


def check_hex_cells(
    width_m: float, height_m: float, size_m: float, *, source: str = "hex_size_m"
) -> int:
    """Refuse a hexagon grid over the data's extent with more than :data:`HEX_CELLS_MAX` cells.

    Parameters
    ----------
    width_m, height_m
        Extent of the data in the metric CRS.
    size_m
        Hexagon circumradius (metres).
    source
        Starts the error message (the option or file that set the size).

    Returns
    -------
    int
        The estimated number of cells.

    Raises
    ------
    ConfigError
        Saying the extent, the cell count and the smallest size that fits.
    """
    cells = hex_cells_estimate(width_m, height_m, size_m)
    if cells <= HEX_CELLS_MAX:
        return cells
    # the smallest multiple of 10 m that fits: start below it (the count without
    # the edge rows and columns) and step up; the count falls as the size grows
    lower = math.sqrt(max(width_m * height_m, 0.0) / (1.5 * math.sqrt(3.0) * HEX_CELLS_MAX))
    smallest = max(math.floor(lower / 10.0) * 10.0, 10.0)
    while hex_cells_estimate(width_m, height_m, smallest) > HEX_CELLS_MAX:
        smallest += 10.0
    smallest = max(smallest, HEX_SIZE_MIN_M)
    problem = (
        f"hex_size_m: {_fmt(float(size_m))} m hexagons over the data's "
        f"{width_m / 1000:.1f} km × {height_m / 1000:.1f} km extent would be "
        f"{cells:,} cells (at most {HEX_CELLS_MAX:,}); give a size of at least "
        f"{_fmt(float(smallest))} m, or give governance units (--units)"
    )
    raise ConfigError(source, [problem])


#: Relative tolerance of "within the threshold": a walk of exactly the threshold
#: counts as covered even when float rounding of projected coordinates (about
#: 1e-10 m at UTM magnitudes) puts it a hair over. Used by coverage and fair service alike.
REACH_RTOL = 1e-9
