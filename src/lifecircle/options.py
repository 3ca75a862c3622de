"""Every option of ``lifecircle audit`` and ``lifecircle optimize``, declared once.

Each option is a field of :class:`AuditOptions`, :class:`SitingOptions` or
:class:`RunOptions` with its default, its help text, the kind of value it takes
and its command-line flag. The command line (:mod:`lifecircle.cli`) builds its
flags from these fields, study files (:mod:`lifecircle.study`) accept their
names as keys, and the library (:func:`lifecircle.audit`) takes them as keyword
arguments; numeric ranges come from :data:`lifecircle.settings.OPTION_RANGES`.

Examples
--------
>>> from lifecircle.options import AuditOptions
>>> AuditOptions(max_snap_m=300).max_snap_m
300.0
>>> [o.name for o in option_specs(SitingOptions)][:3]
['category', 'sites', 'target_coverage']
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._option_spec import KINDS as KINDS
from ._option_spec import SNAP_RULES as SNAP_RULES
from ._option_spec import OptionSpec as OptionSpec
from ._option_spec import _budget as _budget
from ._option_spec import _check_values as _check_values
from ._option_spec import _flag as _flag
from ._option_spec import _number_of as _number_of
from ._option_spec import _numbers as _numbers
from ._option_spec import _opt as _opt
from ._option_spec import option_specs as option_specs
from ._option_spec import parse_option as parse_option
from .errors import ConfigError
from .settings import DEFAULT_OUT_DIR, DEFAULT_STANDARD, HEX_SIZE_M, MAX_SNAP_M

if TYPE_CHECKING:
    from .config import Standard

__all__ = [
    "AuditOptions",
    "DelineateOptions",
    "OptionSpec",
    "RunOptions",
    "SitingOptions",
    "option_specs",
    "parse_option",
]


@dataclass(frozen=True)
class AuditOptions:
    """The inputs and options of an audit (:func:`lifecircle.audit`, ``lifecircle audit``).

    Values are checked when the object is made: numbers against
    :data:`~lifecircle.settings.OPTION_RANGES` (NaN and infinities refused),
    choices against their list.
    """

    network: Path | None = _opt(
        None,
        "path",
        "Street network: .osm.pbf, .osm/.osm.xml(.bz2) or osmnx .graphml. "
        "Default: the bundled central-Shanghai study.",
    )
    facilities: tuple[Any, ...] = _opt(
        (),
        "paths",
        "Facility file (GeoJSON/GPKG with a `category` or Amap `typecode` column "
        "or OSM tags; CSV/Excel with lon,lat,name and category or typecode). Repeatable; "
        "merged with the network's POIs. PATH:gcj02 (or :bd09, :wgs84) gives one file's datum.",
    )
    units: Path | None = _opt(
        None,
        "path",
        "Governance-unit polygons: unit_id, name, parent_id; or see --unit-levels / --unit-codes.",
    )
    population: Path | None = _opt(
        None, "path", "Polygons with a `population` column, or a population raster (GeoTIFF)."
    )
    standard: str | Path | Standard = _opt(
        DEFAULT_STANDARD,
        "standard",
        "Bundled standard name or a YAML file (see `lifecircle standards`).",
    )
    profile: str | None = _opt(
        None,
        "text",
        "Walking-speed profile for every category: adult, elderly, child (default: each "
        "category walks at its cohort's profile, e.g. elderly care at the elderly speed).",
    )
    categories: tuple[str, ...] | None = _opt(
        None, "list", "Comma-separated category ids to audit (default: all with facilities)."
    )
    osm_pois: bool = _opt(
        True, "bool", "Do not read facilities from the network file's POIs.", flag="--no-osm-pois"
    )
    facilities_crs: str | None = _opt(
        None,
        "crs",
        "Datum of facility tables (CSV/Excel, which carry no CRS): wgs84, gcj02 "
        "(Amap, Tencent), bd09 (Baidu) or a CRS such as EPSG:4526. Vector files keep their own "
        "CRS unless given as PATH:gcj02.",
    )
    typecodes: Path | None = _opt(
        None,
        "path",
        "A provider type-code mapping file (YAML or CSV: code,category) used instead of "
        "the bundled Amap/Baidu tables for the codes it lists (it extends and overrides "
        "them; see docs/typecodes.md).",
    )
    unit_levels: tuple[str, ...] | None = _opt(
        None, "list", "Comma-separated id columns, one per level, coarsest first."
    )
    unit_codes: str | None = _opt(
        None,
        "text",
        "Column of 12-digit statistical codes (district 6, street 9, committee 12 digits).",
    )
    min_component_nodes: int | None = _opt(
        None,
        "int",
        "Also keep network components of at least this many nodes (default: only the largest).",
    )
    max_snap_m: float = _opt(
        MAX_SNAP_M, "number", "Points farther than this from the network reach nothing (m)."
    )
    snap: str = _opt(
        "edge",
        "choice",
        "How points enter the network: edge = at the nearest point of the "
        "nearest street (default), node = at the nearest node (the first version's rule).",
        choices=SNAP_RULES,
    )
    hex_size_m: float = _opt(
        HEX_SIZE_M, "number", "Hexagon size (centre to corner, m) when there are no units."
    )
    keep_edge_units: bool = _opt(
        False,
        "bool",
        "Also analyse units whose walking catchment leaves the street data "
        "(small areas, islands); flagged edge_effect, coverage may be underestimated.",
    )
    fca_decay: str = _opt(
        "none",
        "choice",
        "Distance decay of the two-step floating catchment supply-demand ratio: none "
        "(binary catchment) or gaussian.",
        choices=("none", "gaussian"),
    )
    rural_standard: str | Path | Standard | None = _opt(
        None,
        "standard",
        "Audit town and village units under this rural standard (e.g. shanghai-rural-2021) "
        "and urban units under --standard; units are told apart by their urban-rural class "
        "code (111/112 urban, 121-123 town, 210/220 village), see --urban-rural-column and "
        "--rural-density-max.",
    )
    urban_rural_column: str | None = _opt(
        None,
        "text",
        "Column of the units file with each unit's urban-rural class code (or a 15-digit "
        "code + class, or urban/town/village); default: urban_rural_code when present.",
    )
    rural_density_max: float | None = _opt(
        None,
        "number",
        "Residents per km2 below which a unit without an urban-rural class is a village "
        "unit (with --rural-standard); no default: state the threshold you use.",
    )
    close: Path | None = _opt(
        None,
        "path",
        "Facilities to close (CSV or vector file with a facility_id column, ids from "
        "facilities.gpkg): re-audit without them and report the change per unit in closure.csv.",
    )
    name: str | None = _opt(
        None,
        "text",
        "The study's name, shown in titles and summary.json (default: the study "
        "file's name, else the network file's).",
        flag=None,
    )
    name_zh: str | None = _opt(
        None, "text", "The study's name in Chinese, for --lang zh outputs.", flag=None
    )

    def __post_init__(self) -> None:
        _check_values(self, "audit options")
        object.__setattr__(self, "facilities", tuple(self.facilities or ()))

    def replace(self, **changes: Any) -> AuditOptions:
        """A copy with ``changes`` (checked again)."""
        return dataclasses.replace(self, **changes)

    def input_paths(self) -> list[Path]:
        """Every input file named (outputs must never replace one)."""
        paths = [self.network, self.units, self.population, self.typecodes, self.close]
        if isinstance(self.rural_standard, str | Path) and str(self.rural_standard).endswith(
            (".yaml", ".yml")
        ):
            paths.append(Path(self.rural_standard))
        paths += [f[0] if isinstance(f, tuple) else f for f in self.facilities]
        return [Path(p) for p in paths if p is not None]


@dataclass(frozen=True)
class SitingOptions:
    """The options of a siting (``lifecircle optimize``, :func:`lifecircle.optimize`)."""

    category: str | None = _opt(
        None,
        "text",
        "Category to site, e.g. kindergarten (or --categories a,b,c without --category: "
        "several categories sited together for the complete life circle).",
    )
    sites: int | Mapping[str, int] | None = _opt(
        None,
        "budget",
        "Number of new sites (MCLP); with --categories also a budget per category, e.g. "
        "elderly_care=3,health_station=2; with --complex the number of complexes.",
    )
    target_coverage: float | None = _opt(
        None, "number", "Share of residents to cover with the fewest sites (set covering)."
    )
    objective: str = _opt(
        "coverage",
        "choice",
        "coverage = newly covered (with --categories: newly complete) residents; distance = "
        "p-median (minimise total walking distance; one --category); with --categories also "
        "maxmin (raise the lowest complete share of the finest units) and fair (complete "
        "share and the worst-served decile, see --fairness-weight).",
        choices=("coverage", "distance", "maxmin", "fair"),
    )
    complex: bool = _opt(
        False,
        "bool",
        "With --categories: every new site is a shared service complex hosting all the "
        "listed categories (--sites N complexes); compared with N separate sites each.",
    )
    fairness_weight: float | None = _opt(
        None,
        "number",
        "With --objective fair: weight of the worst-served decile of finest units against "
        "the complete share, 0-1 (default 0.5).",
    )
    level: str | None = _opt(
        None,
        "text",
        "With --categories: maximise this level's complete life circle (e.g. 5min); its "
        "other mandatory categories count at existing facilities only.",
    )
    tradeoff: tuple[float, ...] | None = _opt(
        None,
        "numbers",
        "With --categories: fairness weights for an efficiency-equity trade-off table, "
        "e.g. 0,0.25,0.5,1 (the fair objective solved once per weight).",
    )
    candidates: str = _opt(
        "auto", "text", "'auto' (clusters of uncovered residents) or a file of points/parcels."
    )
    n_candidates: int = _opt(300, "int", "Number of auto candidates.")
    min_spacing_m: float = _opt(
        0.0, "number", "Auto candidates keep this distance from existing facilities (m)."
    )
    capacity: float | None = _opt(None, "number", "Residents one new site can serve.")
    min_unit_coverage: float | None = _opt(
        None, "number", "Coverage floor every finest governance unit should reach (0-1)."
    )
    time_limit: float = _opt(
        60.0,
        "number",
        "Wall-clock limit of the whole solve in seconds (greedy, reductions, model "
        "building and HiGHS; not the candidates and their walking distances, built "
        "before); past it, the best solution found with its bound.",
    )
    seed: int = _opt(0, "int", "Seed of auto candidates.")
    categories: tuple[str, ...] | None = _opt(
        None,
        "list",
        "Categories sited together for the complete life circle (on the command line: "
        "--categories without --category).",
        flag=None,
    )

    def __post_init__(self) -> None:
        _check_values(self, "siting options")
        problems = _siting_problems(self)
        if problems:
            raise ConfigError("siting options", problems)

    @property
    def complete(self) -> bool:
        """Several categories sited together (the complete life circle), not one."""
        return self.category is None and bool(self.categories)

    def candidates_path(self) -> Path | None:
        """The candidates file, or ``None`` for auto candidates."""
        return None if self.candidates == "auto" else Path(self.candidates)


#: Options of the single-category siting only, with the fix when given with --categories.
_SINGLE_ONLY = {
    "target_coverage": "give --sites N (the complete-life-circle model takes a budget)",
    "capacity": "capacities apply to one --category",
    "min_unit_coverage": "use --objective maxmin or fair to lift the worst-served units",
}
#: Options of the complete-life-circle siting only, with the fix when given with --category.
_COMPLETE_ONLY = {
    "complex": "--complex",
    "fairness_weight": "--fairness-weight",
    "level": "--level",
    "tradeoff": "--tradeoff",
}


def _siting_problems(o: SitingOptions) -> list[str]:
    """Combinations of siting options that do not go together, each with its fix."""
    problems = []
    several = "give several categories with --categories a,b,c (and no --category)"
    if o.category is not None and o.categories:
        problems.append(
            "--category and categories to site together: give one --category, or several "
            "with --categories a,b,c (and no --category)"
        )
    if o.complete:
        return problems + _complete_problems(o)
    for name, flag in _COMPLETE_ONLY.items():
        if getattr(o, name) not in (None, False):
            problems.append(f"{flag} applies to several categories: {several}")
    if o.objective in ("maxmin", "fair"):
        problems.append(f"--objective {o.objective} applies to several categories: {several}")
    if isinstance(o.sites, Mapping):
        problems.append(
            "--sites per category (a=3,b=2) needs --categories; with --category give "
            "one number, e.g. --sites 5"
        )
    return problems


def _complete_problems(o: SitingOptions) -> list[str]:
    """What does not go with several categories sited together, each with its fix."""
    problems = [
        f"{_flag(name)} does not apply with --categories: {fix}"
        for name, fix in _SINGLE_ONLY.items()
        if getattr(o, name) is not None
    ]
    if o.objective == "distance":
        problems.append(
            "--objective distance (p-median) sites one --category; with --categories use "
            "coverage, maxmin or fair"
        )
    if o.sites is None:
        problems.append(
            "--categories needs --sites: N new (site, category) pairs, N complexes with "
            "--complex, or a budget per category, e.g. --sites elderly_care=3,health_station=2"
        )
    elif o.complex and isinstance(o.sites, Mapping):
        problems.append(
            "--complex takes one number of complexes (--sites N), not a budget per category"
        )
    if o.fairness_weight is not None and o.objective != "fair":
        problems.append(
            "--fairness-weight applies to --objective fair; add --objective fair or drop it"
        )
    return problems


@dataclass(frozen=True)
class DelineateOptions:
    """The options of ``lifecircle delineate`` and :func:`lifecircle.delineate.delineate`."""

    level: str = _opt("15min", "text", "Life-circle level to delineate (5min, 10min, 15min).")
    across: str | None = _opt(
        None,
        "text",
        "A governance level whose boundaries the units may cross (default: nest in one "
        "unit of the blocks' parent level).",
    )
    blocks: str = _opt(
        "auto",
        "choice",
        "Building blocks: the finest governance units, street blocks from the network, or "
        "auto (units when small enough).",
        choices=("auto", "units", "streets"),
    )
    max_walk_min: float | None = _opt(
        None,
        "number",
        "Longest walk from a block to its unit's centre, minutes (default: 1.5 x the level's).",
    )
    time_limit: float = _opt(
        60.0, "number", "Solver time limit in seconds; past it, the best split with its gap."
    )

    def __post_init__(self) -> None:
        _check_values(self, "delineate options")


@dataclass(frozen=True)
class RunOptions:
    """Where and how a command-line run writes (study keys too)."""

    out: Path = _opt(Path(DEFAULT_OUT_DIR), "outpath", "Output folder.")
    lang: str = _opt("en", "choice", "Language of the map and report.", choices=("en", "zh"))
    basemap: str = _opt(
        "osm",
        "choice",
        "Map tiles; amap shifts every overlay to GCJ-02.",
        choices=("osm", "amap", "none"),
    )
    no_map: bool = _opt(False, "bool", "Skip the map and report stage.")
    place: str | None = _opt(
        None,
        "text",
        "Download streets, POIs and boundaries of a place with osmnx (needs "
        "internet), e.g. '青浦区, 上海市'.",
    )
    dask: str | None = _opt(
        None,
        "text",
        "Run the audit partitioned on Dask: local:N (a local cluster of N worker "
        "processes) or a scheduler address (tcp://host:8786); inputs must be paths the "
        "workers can read. Needs `pip install 'lifecircle[dask]'`; fair service, the map "
        "and the report are not produced.",
        study=False,
    )
    dask_level: str | None = _opt(
        None,
        "text",
        "Governance level whose units are the --dask partitions (default: the level "
        "below the top).",
        study=False,
    )
    dask_workdir: str | None = _opt(
        None,
        "text",
        "Folder or fsspec URL every --dask worker reaches, where the plan writes each "
        "partition's piece of the network (default: $LIFECIRCLE_DASK_WORKDIR, else the "
        "driver's temporary folder, enough for local:N).",
        study=False,
    )

    def __post_init__(self) -> None:
        _check_values(self, "run options")


def split_options(values: dict[str, Any]) -> tuple[AuditOptions, RunOptions, dict[str, Any]]:
    """Sort a flat mapping of option values (a study, merged flags) into the dataclasses.

    Returns the audit and run options and the rest (descriptive study keys and
    anything else).
    """
    audit_names = {s.name for s in option_specs(AuditOptions)}
    run_names = {s.name for s in option_specs(RunOptions)}
    audit = AuditOptions(**{k: v for k, v in values.items() if k in audit_names})
    run = RunOptions(**{k: v for k, v in values.items() if k in run_names})
    rest = {k: v for k, v in values.items() if k not in audit_names | run_names}
    return audit, run, rest


def study_kinds() -> dict[str, OptionSpec]:
    """The option keys a study file accepts, with their declarations."""
    return {s.name: s for cls in (AuditOptions, RunOptions) for s in option_specs(cls) if s.study}
