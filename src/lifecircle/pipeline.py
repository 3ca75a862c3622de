"""The audit, stage by stage: inputs -> walk graph -> access -> coverage -> outputs.

:func:`audit` runs every stage in memory and returns an :class:`AuditResult`;
nothing touches the output folder until :meth:`AuditResult.write`, so a bad input
never leaves half-written results behind.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._audit_inputs import StageTimer, read_inputs
from ._audit_service import (
    _analysed_origins,
    _closure,
    _quality,
    _service_stage,
    resident_units,
    service_settings,
)
from ._audit_snapping import snap_and_search
from ._audit_stages import (
    _access_output,
    _add_edge_effect,
    _add_population_method,
    _check_ledger,
    _completeness_warnings,
    _reach_warnings,
    _unit_check_warnings,
    check_population,
    gaps_for_csv,
)
from .access import compute_access
from .config import Profile, Standard
from .coverage import citywide, completeness_status, coverage_by_unit, find_gaps
from .errors import DataError
from .io.outputs import (
    OutputFolder,
    Writer,
    write_csv,
    write_geopackage,
    write_geoparquet,
    write_json,
    write_outputs,
    write_rural_access,
)
from .io.population import population_inside
from .io.units import UnitHierarchy
from .network import WalkGraph
from .options import AuditOptions
from .rural import URBAN as URBAN_CLASS
from .rural import (
    RuralInputs,
    UnitClasses,
    UrbanRural,
    audit_rural,
    classify_units,
    rural_standard,
    split_analysed,
)
from .service import FairService, Searches, ServiceInputs, cohort_gaps
from .summary import OUTPUT_FILES as OUTPUT_FILES  # re-exported: the audit's data outputs
from .summary import AuditSummary, SummaryParts, build_summary

log = logging.getLogger(__name__)


@dataclass
class AuditResult:
    """Everything an audit produced, in memory.

    Attributes
    ----------
    access
        One row per analysed origin (EPSG:4326): ``origin_id``, ``population``,
        ``unit_id``, ``snap_m``, ``dist_<cat>_m``, ``time_<cat>_min``, unit ids
        of every level (``unit_<level>``).
    units
        Per governance level, the coverage table (EPSG:4326).
    gaps
        Unit x category shortfalls, largest first.
    summary
        City-wide figures, method, warnings, timings (:class:`~lifecircle.summary.AuditSummary`;
        ``summary.to_json()`` is ``summary.json``).
    facilities
        The normalised facilities with ``snap_m`` (EPSG:4326).
    graph
        The walk graph.
    standard, profile
        What the audit measured against.
    hierarchy
        The governance units.
    analysed
        Ids of the finest units whose catchment lies inside the street data.
    inputs
        The input files (never overwritten by :meth:`write`).
    """

    access: gpd.GeoDataFrame
    units: dict[str, gpd.GeoDataFrame]
    gaps: pd.DataFrame
    summary: AuditSummary
    facilities: gpd.GeoDataFrame
    graph: WalkGraph
    standard: Standard
    profile: Profile
    hierarchy: UnitHierarchy
    analysed: set[str]
    inputs: list[Path] = field(default_factory=list)
    #: The audit's ``--profile`` (None: each category walks at its own cohort's profile).
    profile_override: str | None = None
    #: With ``--close``: coverage per unit and category before and after (closure.csv).
    closure: pd.DataFrame | None = None
    #: The fair-service stage's results, including the sparse origin x facility
    #: distances per category (rows: the rows of ``access``).
    service: FairService | None = None
    #: With ``--rural-standard``: the town and village units under the rural standard,
    #: the village ledger and the urban/rural split (:class:`~lifecircle.rural.UrbanRural`).
    #: The other fields then hold the urban units only.
    urban_rural: UrbanRural | None = None

    def profile_of(self, category: str) -> Profile:
        """The walking profile ``category`` was audited at."""
        return self.standard.profile_of(category, self.profile_override)

    def to_map(
        self, path: str | Path = "map.html", *, lang: str = "en", basemap: str = "osm"
    ) -> Path:
        """Write the interactive map (``map.html``); see :mod:`lifecircle.render.map`."""
        from .render.map import render_map

        return render_map(self, Path(path), lang=lang, basemap=basemap)

    def to_report(self, path: str | Path = "report.html", *, lang: str = "en") -> Path:
        """Write the planner's report (``report.html``); see :mod:`lifecircle.render.report`."""
        from .render.report import render_report

        return render_report(self, Path(path), lang=lang)

    def outputs(self) -> dict[str, Writer]:
        """The output contract's files: name -> function writing it to a given path.

        ``summary.json`` comes last: it lists the other outputs.
        """
        gaps = gaps_for_csv(self.gaps)
        writers: dict[str, Writer] = {
            "access.parquet": lambda p: write_geoparquet(p, self.access),
            "units.gpkg": lambda p: write_geopackage(p, self.units),
            "facilities.gpkg": lambda p: write_geopackage(p, {"facilities": self.facilities}),
            "gaps.csv": lambda p: write_csv(p, gaps),
        }
        if self.closure is not None:
            closure = self.closure
            writers["closure.csv"] = lambda p: write_csv(p, closure)
        cross = self.service.cross_source_units if self.service is not None else None
        if cross is not None and len(cross):
            writers["cross_source.csv"] = lambda p: write_csv(p, cross)
        if self.urban_rural is not None:
            ur = self.urban_rural
            layers = {**self.units, **{f"rural_{lv}": t for lv, t in ur.units.items()}}
            writers["units.gpkg"] = lambda p: write_geopackage(p, layers)
            writers["village_ledger.csv"] = lambda p: write_csv(p, ur.ledger)
            writers["urban_rural.csv"] = lambda p: write_csv(p, _rounded(ur.split))
            writers["access_rural.parquet"] = lambda p: write_rural_access(p, ur.access)

        # summary.json lists the files of this run (closure.csv, cross_source.csv when written)
        summary = replace(self.summary, outputs=(*writers, "summary.json"))
        writers["summary.json"] = lambda p: write_json(p, summary.to_json())
        return writers

    def write(
        self, out: str | Path, *, map: bool = False, lang: str = "en", basemap: str = "osm"
    ) -> list[Path]:
        """Write the output contract's files into ``out``, published as one set.

        The files are written to a staging folder and replace the previous content of
        ``out`` all at once (see :class:`~lifecircle.io.outputs.OutputFolder`); a
        failure leaves ``out`` as it was.

        Parameters
        ----------
        out
            The output folder.
        map
            Also write ``map.html`` and ``report.html``.
        lang, basemap
            Of the map and report.

        Returns
        -------
        list of pathlib.Path
            The files written.
        """
        writers = self.outputs()
        if map:
            writers["map.html"] = lambda p: self.to_map(p, lang=lang, basemap=basemap)
            writers["report.html"] = lambda p: self.to_report(p, lang=lang)
        with OutputFolder(out, inputs=self.inputs) as folder:
            write_outputs(folder, writers)
            return folder.publish()


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    """Shares to 4 decimals and residents to 1, for a CSV."""
    out = frame.copy()
    for col in out.columns:
        if col.startswith(("score_", "complete_share_")):
            out[col] = out[col].round(4)
        elif col.startswith("population_"):
            out[col] = out[col].round(1)
    return out


def _require_residents(
    analysed: set[str],
    *,
    units: Path | None,
    population: Path | None,
    rules: tuple[Standard, UnitClasses] | None,
) -> None:
    """Refuse an audit where no resident lives in an analysed (urban) unit."""
    if analysed:
        return
    if rules is not None and rules[1].of(URBAN_CLASS) == set():
        msg = (
            f"{units}: every unit is a town or village unit, so nothing is left for the urban "
            f"standard; audit them with --standard {rules[0].id} (without --rural-standard)"
        )
        raise DataError(msg)
    msg = (
        f"{population}: no resident could be placed in an analysed unit of "
        f"{units}; check that population polygons overlap the units and streets"
    )
    raise DataError(msg)


def _unit_rules(
    hierarchy: UnitHierarchy,
    pts: gpd.GeoDataFrame,
    opts: AuditOptions,
    *,
    units: Path | None,
    analysed: set[str],
    unit_check: pd.DataFrame,
) -> tuple[Standard, UnitClasses] | None:
    """With ``--rural-standard``: classify the units and keep only urban ones for the urban part."""
    std = rural_standard(opts)
    if std is None:
        return None
    unit_levels = opts.unit_levels
    classes = classify_units(
        hierarchy,
        pts,
        units_path=units,
        column=opts.urban_rural_column,
        density_max=opts.rural_density_max,
        id_column=unit_levels[-1] if unit_levels else opts.unit_codes,
    )
    split_analysed(analysed, unit_check, classes, std.id)
    return std, classes


def _rural_part(
    rules: tuple[Standard, UnitClasses] | None,
    inputs: RuralInputs | None,
    summary: AuditSummary,
) -> tuple[UrbanRural | None, AuditSummary]:
    """The rural audit and the summary's ``urban_rural`` block (nothing without rules)."""
    if rules is None or inputs is None:
        return None, summary
    warnings = list(summary.warnings)
    part = audit_rural(inputs, rules[0], warnings)
    return part, replace(summary, urban_rural=part.summary, warnings=tuple(warnings))


def _after_access(  # noqa: PLR0917 - the access stage's results, in order
    table: pd.DataFrame,
    fac: gpd.GeoDataFrame,
    fac_snap: pd.Series,
    analysed: set[str],
    std: Standard,
    audited: list[str],
    max_snap_m: float,
    warnings: list[str],
) -> tuple[np.ndarray, pd.DataFrame, dict, pd.Series]:
    """Facilities' snap and reach, the analysed origins and their reach warnings.

    Returns the analysed rows (mask), the analysed origins with their cohorts, the
    cohorts' methods and which origins lie beyond ``max_snap_m``.
    """
    fac["snap_m"] = fac_snap.round(2)
    fac["reachable"] = fac_snap.notna()
    scope, in_scope, cohort_methods = _analysed_origins(table, analysed, std, audited)
    far = in_scope["snap_m"] > max_snap_m
    warnings += _reach_warnings(in_scope, far, fac, max_snap_m)
    return scope, in_scope, cohort_methods, far


def audit(
    network: str | Path | None = None,
    facilities: Sequence[str | Path | tuple[str | Path, str | None]] | None = None,
    units: str | Path | None = None,
    population: str | Path | None = None,
    *,
    options: AuditOptions | None = None,
    progress: bool = False,
    **option_values: Any,
) -> AuditResult:
    """Audit walking access to life-circle facilities per governance unit.

    With no arguments, audits the bundled central-Shanghai sample.

    Parameters
    ----------
    network
        Street network: ``.osm.pbf``, ``.osm``/``.osm.xml`` (``.bz2``) or osmnx ``.graphml``.
    facilities
        Extra facility files (GeoJSON/GPKG with a ``category`` or Amap
        ``typecode`` column or OSM tags; CSV/Excel with coordinates, ``name`` and
        ``category`` or ``typecode``), merged with the OSM POIs. An item may be
        a ``(path, crs)`` pair giving that file's datum (see ``facilities_crs``).
    units
        Governance-unit polygons (``unit_id``, ``name``, ``parent_id``) or, with
        ``unit_levels``, one id column per level.
    population
        Polygons with a ``population`` column, allocated to network nodes, or a
        population raster (GeoTIFF, persons per cell).
    options
        Every other option of the audit, declared once in
        :class:`~lifecircle.options.AuditOptions` (standard, profile, categories,
        osm_pois, facilities_crs, unit_levels, unit_codes, min_component_nodes,
        max_snap_m, snap, hex_size_m, keep_edge_units, name); the same names are
        the command-line flags and the study file's keys. ``standard`` may also be a
        :class:`~lifecircle.config.Standard`.
    progress
        Show progress bars.
    **option_values
        Options given one by one (they override ``options``), e.g.
        ``audit(categories=["park"], profile="elderly")``.

    Returns
    -------
    AuditResult
        ``.access``, ``.units``, ``.gaps``, ``.summary``; ``.write(folder)``.

    Examples
    --------
    >>> import lifecircle
    >>> result = lifecircle.audit()                      # doctest: +SKIP
    >>> result.units["street"][["name", "score"]].head()  # doctest: +SKIP
    """
    given = {
        k: v
        for k, v in {
            "network": network,
            "facilities": facilities,
            "units": units,
            "population": population,
        }.items()
        if v is not None
    }
    opts = (options or AuditOptions()).replace(**given, **option_values)
    # --close: audit with every facility first, then without the closed ones
    before = audit(options=opts.replace(close=None), progress=progress) if opts.close else None
    timer = StageTimer()
    warnings: list[str] = []
    inp = read_inputs(opts, timer, warnings)
    network, units, population = inp.network, inp.units, inp.population
    facility_paths, std, prof, graph = inp.facility_paths, inp.std, inp.prof, inp.graph
    fac, closed, merged, unknown_codes = inp.fac, inp.closed, inp.merged, inp.unknown_codes
    audited, hierarchy, reach_m = inp.audited, inp.hierarchy, inp.reach_m
    analysed, unit_check, origins, pts = inp.analysed, inp.unit_check, inp.origins, inp.pts
    outside_units = inp.outside_units
    rules = _unit_rules(hierarchy, pts, opts, units=units, analysed=analysed, unit_check=unit_check)
    _require_residents(analysed, units=units, population=population, rules=rules)

    searches: Searches | None = None
    try:
        with timer.stage("access"):
            snaps, searches = snap_and_search(
                graph, pts, fac, network, (std, audited, analysed), opts, warnings
            )
            table, fac_snap = compute_access(
                graph,
                pts,
                fac,
                std,
                profile=opts.profile,
                categories=audited,
                max_snap_m=opts.max_snap_m,
                snap=opts.snap,
                progress=progress,
                snaps=snaps,
            )
        scope, in_scope, cohort_methods, far = _after_access(
            table, fac, fac_snap, analysed, std, audited, opts.max_snap_m, warnings
        )
        warnings += _unit_check_warnings(unit_check, hierarchy.finest, reach_m)

        with timer.stage("coverage"):
            unit_tables = coverage_by_unit(in_scope, hierarchy, std, audited, analysed=analysed)
            _add_population_method(unit_tables, in_scope, hierarchy)
            _add_edge_effect(unit_tables[hierarchy.finest], unit_check)
            gaps = find_gaps(unit_tables, audited)
            city = citywide(in_scope, std, audited)

        with timer.stage("fair_service"):
            service, data = _service_stage(
                ServiceInputs(
                    graph=graph,
                    snaps=snaps,
                    table=in_scope,
                    rows=np.flatnonzero(scope),
                    fac=fac.reset_index(drop=True),
                    standard=std,
                    categories=audited,
                    hierarchy=hierarchy,
                    analysed=analysed,
                    **service_settings(opts, std, audited),
                    cohort_methods=cohort_methods,
                    searches=searches,
                ),
                unit_tables,
                fac,
                warnings,
            )
    finally:
        if searches is not None:
            searches.close()
    # the snaps and the whole access table are used up: not held while the outputs are made
    del snaps, searches, table

    gaps = cohort_gaps(gaps, unit_tables, std)
    completeness = completeness_status(std, audited)
    warnings += _completeness_warnings(completeness, std)
    access = _access_output(in_scope, pts, hierarchy, audited, service.origin_columns)
    check_population(in_scope, access, unit_tables, hierarchy, city)
    ledger = population_inside(origins, origins.points["unit_id"], analysed)
    _check_ledger(ledger, population, float(in_scope["population"].sum()))
    quality = _quality(
        graph, fac, std, hierarchy, resident_units(pts), in_scope, far, merged, unknown_codes
    )
    summary = build_summary(
        SummaryParts(
            options=opts,
            network=network,
            facility_paths=facility_paths,
            units=units,
            population=population,
            std=std,
            prof=prof,
            audited=audited,
            graph=graph,
            fac=fac,
            hierarchy=hierarchy,
            unit_check=unit_check,
            unit_tables=unit_tables,
            origins=origins,
            city=city,
            access=access,
            origins_total=len(pts) + outside_units,
            outside_units=outside_units,
            beyond_snap=int(far.sum()),
            reach_m=reach_m,
            warnings=warnings,
            timings=timer.timings,
            quality=quality,
            completeness=completeness,
            service=service,
            data=data,
        )
    )
    closure, summary = _closure(
        before,
        closed=closed,
        opts=opts,
        unit_tables=unit_tables,
        service=service,
        summary=summary,
    )
    urban_rural, summary = _rural_part(
        rules,
        RuralInputs(
            network=network,
            graph=graph,
            pts=pts,
            hierarchy=hierarchy,
            facility_items=inp.facility_items,
            classes=rules[1],
            opts=opts,
            urban_tables=unit_tables,
            urban_analysed=analysed,
            main_standard=std,
        )
        if rules is not None
        else None,
        summary,
    )
    inputs = [p for p in [network, *facility_paths, units, population, opts.close] if p is not None]
    return AuditResult(
        access=access,
        units=unit_tables,
        gaps=gaps,
        summary=summary,
        facilities=fac,
        graph=graph,
        standard=std,
        profile=prof,
        hierarchy=hierarchy,
        analysed=analysed,
        inputs=[Path(p) for p in inputs],
        profile_override=opts.profile,
        closure=closure,
        service=service,
        urban_rural=urban_rural,
    )
