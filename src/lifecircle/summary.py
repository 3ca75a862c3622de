"""The content of ``summary.json``: what an audit measured, how, and what it left out."""

from __future__ import annotations

import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Protocol

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns
from ._version import __version__
from .columns import OUTPUTS
from .config import Profile, Standard
from .data_completeness import CategoryData
from .io.population import Origins
from .io.units import UnitHierarchy
from .options import AuditOptions
from .reproducible import created_timestamp, source_date_epoch
from .service import CategoryService, FairService
from .settings import CATCHMENT_INSIDE_SHARE, POLYGON_ACCESS_SPACING_M

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"

#: The audit's data outputs (see :data:`lifecircle.columns.OUTPUTS`; the map and
#: report are written by the render stage), listed by ``summary.json``.
OUTPUT_FILES = tuple(
    name
    for name, out in OUTPUTS.items()
    if out.written_by == "audit" and not name.endswith(".html")
)


def versions() -> dict[str, str]:
    """Versions of lifecircle, Python and the libraries that shape the results."""
    import geopandas
    import pyproj
    import scipy
    import shapely

    out = {
        "lifecircle": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "geopandas": geopandas.__version__,
        "shapely": shapely.__version__,
        "pyproj": pyproj.__version__,
    }
    try:
        from importlib.metadata import version

        out["osmium"] = version("osmium")
    except Exception:  # noqa: BLE001 - version lookup is best effort
        pass
    return out


class GraphFacts(Protocol):
    """What the summary reads of the walk graph.

    A :class:`~lifecircle.network.WalkGraph` has it; so has the partitioned audit's
    plan (:class:`lifecircle._dask_tasks.PlanGraph`), whose driver holds no graph.
    """

    @property
    def crs(self) -> Any:
        """The graph's projected CRS."""

    @property
    def dropped(self) -> dict[str, int]:
        """What building the graph dropped (``components``, ``nodes``)."""

    def summary(self) -> dict[str, Any]:
        """``summary.json``'s ``network``."""


@dataclass(frozen=True)
class SummaryParts:
    """What the audit's stages produced, as needed for ``summary.json``."""

    options: AuditOptions
    #: The inputs as given (a path, or an fsspec URL with ``--dask``).
    network: Path | str
    facility_paths: Sequence[Path | str]
    units: Any
    population: Any
    std: Standard
    prof: Profile
    audited: list[str]
    graph: GraphFacts
    fac: gpd.GeoDataFrame
    hierarchy: UnitHierarchy
    unit_check: pd.DataFrame
    unit_tables: dict[str, gpd.GeoDataFrame]
    origins: Origins
    city: dict
    access: gpd.GeoDataFrame
    origins_total: int
    outside_units: int
    beyond_snap: int
    reach_m: float
    warnings: list[str]
    timings: dict[str, float]
    quality: dict[str, Any]
    completeness: dict[str, dict]
    service: FairService | None = None
    data: dict[str, CategoryData] | None = None
    closure: dict[str, Any] | None = None


def _plain(value: Any) -> Any:
    """``value`` as JSON-ready data: dataclasses as dicts in field order, tuples as lists."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


@dataclass(frozen=True)
class StudyInfo:
    """What was audited: the study's name, the area analysed and the input files."""

    name: str | None
    area_km2: float | None
    network: str
    facilities: tuple[str, ...]
    units: str | None
    population: str | None


@dataclass(frozen=True)
class StandardInfo:
    """The planning standard audited against."""

    id: str
    title: str
    title_zh: str
    source: str
    path: str | None


@dataclass(frozen=True)
class ProfileInfo:
    """The walking profile: its speed (m/s), source and whether it was checked."""

    id: str
    speed_m_s: float
    source: str
    verified: bool


@dataclass(frozen=True)
class Threshold:
    """One audited category's walking threshold."""

    level: str
    minutes: float
    metres: float
    mandatory: bool
    verified: bool
    source: str
    #: The walking profile of the category (its cohort's, unless --profile overrides it).
    profile: str = ""


@dataclass(frozen=True)
class PopulationInfo:
    """The residents analysed: total, allocation method and sources."""

    total: float
    method: str
    sources: dict[str, float]
    allocation: dict[str, Any]


@dataclass(frozen=True)
class OriginsInfo:
    """Origins (population points): in total, analysed and left out."""

    total: int
    analysed: int
    outside_units: int
    beyond_max_snap: int


@dataclass(frozen=True)
class NetworkInfo:
    """The walk graph's size and what was dropped (see ``WalkGraph.summary``)."""

    nodes: int
    edges: int
    length_km: float
    crs: str
    dropped_components: int
    dropped_nodes: int
    dropped_edges: int
    largest_dropped_component_nodes: int
    kept_components: int
    invalid_locations: int


@dataclass(frozen=True)
class FacilitiesInfo:
    """The facilities: in total, reachable, and per category."""

    total: int
    reachable: int
    by_category: dict[str, int]


@dataclass(frozen=True)
class ExcludedUnit:
    """A finest unit left out of the analysis, and why."""

    unit_id: Any
    name: Any
    reason: Any


@dataclass(frozen=True)
class UnitsInfo:
    """The governance units: levels (coarsest first), catchment and what was analysed."""

    levels: tuple[str, ...]
    catchment_m: float
    total: dict[str, int]
    analysed: dict[str, int]
    fully_analysed: dict[str, int]
    partly_analysed: dict[str, tuple[str, ...]]
    edge_effect: tuple[str, ...]
    excluded: tuple[ExcludedUnit, ...]


@dataclass(frozen=True)
class LevelCompleteness:
    """Whether a life-circle level's completeness was computed, over which categories."""

    computed: bool
    categories: tuple[str, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True)
class SettingsInfo:
    """The access settings the audit ran with."""

    max_snap_m: float
    keep_edge_units: bool
    snap: str
    polygon_access_spacing_m: float
    catchment_inside_share: float


@dataclass(frozen=True)
class DataQuality:
    """Defects of the input data and what the audit left out because of them."""

    network_components_dropped: int
    network_nodes_dropped: int
    facilities_snapped_over_100m: int
    facilities_unreachable: int
    duplicates_merged: dict[str, int]
    unknown_typecodes: dict[str, int]
    categories_without_facilities: tuple[str, ...]
    units_without_population: tuple[str, ...]
    origins_beyond_max_snap: int
    population_beyond_max_snap: float


@dataclass(frozen=True)
class AuditSummary:
    """What an audit measured, how, and what it left out (``summary.json``).

    The fields are the file's keys, in its order; :meth:`to_json` gives the file's
    content. ``completeness``, ``categories_not_audited_reason`` and
    ``data_quality`` may be ``None`` (a summary from before them); the report then
    derives what it can.
    """

    lifecircle_version: str
    created: str
    study: StudyInfo
    standard: StandardInfo
    profile: ProfileInfo
    thresholds: dict[str, Threshold]
    categories_audited: tuple[str, ...]
    categories_not_audited: tuple[str, ...]
    categories_not_audited_reason: dict[str, str] | None
    categories_requested: tuple[str, ...] | None
    population: PopulationInfo
    origins: OriginsInfo
    network: NetworkInfo
    facilities: FacilitiesInfo
    units: UnitsInfo
    coverage: dict[str, float]
    score: float
    complete_share: float | None
    complete_by_level: dict[str, float | None]
    completeness: dict[str, LevelCompleteness] | None
    settings: SettingsInfo
    data_quality: DataQuality | None
    warnings: tuple[str, ...]
    timings_s: dict[str, float | None]
    versions: dict[str, str]
    attribution: str
    #: Per cohort: name, ages, how its residents were found, residents analysed.
    cohorts: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Per category: cohort coverage, supply-demand, capacity, choice, equity.
    fair_service: dict[str, CategoryService] = field(default_factory=dict)
    #: Equity of the score over units, and the worst-served decile of finest units.
    equity: dict[str, Any] = field(default_factory=dict)
    #: The facilities whose closure would leave the most residents uncovered.
    critical_facilities: tuple[dict[str, Any], ...] = ()
    #: Per category: facilities found against what the standard expects.
    data_completeness: dict[str, CategoryData] = field(default_factory=dict)
    #: With --close: the facilities closed and the change of coverage.
    closure: dict[str, Any] | None = None
    #: With several facility sources: per category, found by both / only one of each pair.
    cross_source: tuple[dict[str, Any], ...] = ()
    outputs: tuple[str, ...] = OUTPUT_FILES
    #: With --rural-standard: classes, rules, urban and rural figures, the village ledger.
    urban_rural: dict[str, Any] | None = None
    #: With ``--dask``: the partitions, their figures and what the run did not make.
    distributed: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The content of ``summary.json`` (plain data, JSON-ready, in the file's order).

        Returns
        -------
        dict
            One key per field; ``None`` fields are written as ``null``.
        """
        out: dict[str, Any] = _plain(self)
        for block in ("urban_rural", "distributed"):  # only some audits have these
            if out[block] is None:
                del out[block]
        return out


def build_summary(p: SummaryParts) -> AuditSummary:
    """Assemble the audit's summary from the stages' results.

    With ``SOURCE_DATE_EPOCH`` set, ``created`` is that moment and ``timings_s``
    holds ``None`` per stage (timings are logged instead), so ``summary.json`` is
    reproducible.

    Parameters
    ----------
    p
        What the audit's stages produced.

    Returns
    -------
    AuditSummary
        The typed summary; ``.to_json()`` is the content of ``summary.json``.
    """
    excluded = p.unit_check[~p.unit_check["analysed"]]
    methods = p.access.groupby("population_method")["population"].sum()
    counts = p.fac["category"].value_counts()
    finest = p.hierarchy.units[p.hierarchy.finest]
    analysed_ids = set(p.unit_check.loc[p.unit_check["analysed"], "unit_id"])
    area_m2 = finest[finest["unit_id"].isin(analysed_ids)].to_crs(p.graph.crs).area.sum()
    fixed_time = source_date_epoch() is not None
    q = p.quality
    return AuditSummary(
        lifecircle_version=__version__,
        created=created_timestamp(),
        study=StudyInfo(
            name=p.options.name or Path(p.network).name,
            area_km2=round(float(area_m2) / 1e6, 2),
            network=str(p.network),
            facilities=tuple(str(path) for path in p.facility_paths),
            units=str(p.units) if p.units is not None else None,
            population=str(p.population) if p.population is not None else None,
        ),
        standard=StandardInfo(
            id=p.std.id,
            title=p.std.title_en,
            title_zh=p.std.title_zh,
            source=p.std.source,
            path=p.std.path,
        ),
        profile=ProfileInfo(
            id=p.prof.id,
            speed_m_s=p.prof.speed_m_s,
            source=p.prof.source,
            verified=p.prof.verified,
        ),
        thresholds={
            c: Threshold(
                level=p.std.category(c).level,
                minutes=p.std.category(c).threshold_min,
                metres=round(
                    p.std.category(c).threshold_min
                    * p.std.profile_of(c, p.options.profile).speed_m_min,
                    1,
                ),
                profile=p.std.profile_of(c, p.options.profile).id,
                mandatory=p.std.category(c).mandatory,
                verified=p.std.category(c).verified,
                source=p.std.category(c).source,
            )
            for c in p.audited
        },
        categories_audited=tuple(p.audited),
        categories_not_audited=tuple(c for c in p.std.category_ids if c not in p.audited),
        categories_not_audited_reason={
            c: ("no_facilities" if counts.get(c, 0) == 0 else "not_requested")
            for c in p.std.category_ids
            if c not in p.audited
        },
        categories_requested=(
            None if p.options.categories is None else tuple(p.options.categories)
        ),
        population=PopulationInfo(
            total=round(p.city["population"], 1),
            method=p.origins.method,
            sources={k: round(float(v), 1) for k, v in methods.items()},
            allocation=p.origins.report,
        ),
        origins=OriginsInfo(
            total=p.origins_total,
            analysed=len(p.access),
            outside_units=p.outside_units,
            beyond_max_snap=p.beyond_snap,
        ),
        network=NetworkInfo(**p.graph.summary()),
        facilities=FacilitiesInfo(
            total=len(p.fac),
            reachable=int(p.fac["reachable"].sum()),
            by_category={c: int(n) for c, n in p.fac["category"].value_counts().items()},
        ),
        units=UnitsInfo(
            levels=tuple(p.hierarchy.levels),
            catchment_m=round(p.reach_m, 1),
            total={lv: len(t) for lv, t in p.unit_tables.items()},
            analysed={lv: int((t["units_analysed"] > 0).sum()) for lv, t in p.unit_tables.items()},
            fully_analysed={lv: int(t["analysed"].sum()) for lv, t in p.unit_tables.items()},
            partly_analysed={
                lv: tuple(
                    t.loc[(t["units_analysed"] > 0) & ~t["analysed"].astype(bool), "unit_id"]
                    .astype(str)
                    .tolist()
                )
                for lv, t in p.unit_tables.items()
            },
            edge_effect=tuple(
                p.unit_check.loc[p.unit_check["analysed"] & p.unit_check["edge_effect"], "unit_id"]
                .astype(str)
                .tolist()
            ),
            excluded=tuple(
                ExcludedUnit(unit_id=r["unit_id"], name=r["name"], reason=r["reason"])
                for r in excluded[["unit_id", "name", "reason"]].to_dict("records")
            ),
        ),
        coverage=p.city["coverage"],
        score=p.city["score"],
        complete_share=p.city["complete_share"],
        complete_by_level={level: p.city[columns.complete(level)] for level in p.completeness},
        completeness={
            level: LevelCompleteness(
                computed=bool(st["computed"]),
                categories=tuple(st["categories"]),
                missing=tuple(st["missing"]),
            )
            for level, st in p.completeness.items()
        },
        settings=SettingsInfo(
            max_snap_m=p.options.max_snap_m,
            keep_edge_units=p.options.keep_edge_units,
            snap=p.options.snap,
            polygon_access_spacing_m=POLYGON_ACCESS_SPACING_M,
            catchment_inside_share=CATCHMENT_INSIDE_SHARE,
        ),
        data_quality=DataQuality(
            network_components_dropped=q["network_components_dropped"],
            network_nodes_dropped=q["network_nodes_dropped"],
            facilities_snapped_over_100m=q["facilities_snapped_over_100m"],
            facilities_unreachable=q["facilities_unreachable"],
            duplicates_merged=q["duplicates_merged"],
            unknown_typecodes=q["unknown_typecodes"],
            categories_without_facilities=tuple(q["categories_without_facilities"]),
            units_without_population=tuple(q["units_without_population"]),
            origins_beyond_max_snap=q["origins_beyond_max_snap"],
            population_beyond_max_snap=q["population_beyond_max_snap"],
        ),
        warnings=tuple(p.warnings),
        timings_s={k: (None if fixed_time else v) for k, v in p.timings.items()},
        versions=versions(),
        attribution=OSM_ATTRIBUTION,
        closure=p.closure,
        **service_fields(p.service, p.data),
    )


def service_fields(
    service: FairService | None, data: dict[str, CategoryData] | None
) -> dict[str, Any]:
    """The fair-service fields of :class:`AuditSummary` (``cohorts`` ... ``cross_source``).

    ``_plain(service_fields(...))`` is their part of ``summary.json``.
    """
    return {
        "cohorts": service.cohorts if service else {},
        "fair_service": service.categories if service else {},
        "equity": (
            {"score": service.equity_score, "worst_served_units": service.worst_units}
            if service
            else {}
        ),
        "critical_facilities": tuple(service.critical) if service else (),
        "data_completeness": data or {},
        "cross_source": tuple(
            {k: (v if isinstance(v, str) else int(v)) for k, v in row.items()}
            for row in (
                service.cross_source.to_dict("records")
                if service is not None and service.cross_source is not None
                else []
            )
        ),
    }


def service_json(
    service: FairService | None, data: dict[str, CategoryData] | None
) -> dict[str, Any]:
    """:func:`service_fields` as ``summary.json`` holds them (plain data)."""
    out: dict[str, Any] = _plain(service_fields(service, data))
    return out
