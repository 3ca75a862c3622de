"""What every layer of the map needs: the audit, the language, and display helpers.

Also the map's geometric resolutions, shared by the themes, the legend and the
proposals layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import shapely

from .._standard_cohorts import ALL
from ..settings import MAX_SNAP_M
from ..snap import DEFAULT_SNAP
from ..summary import Threshold
from . import _mapdata
from ._style import category_colours
from ._text import _TEXT, category_name, level_name, text

if TYPE_CHECKING:
    from ..pipeline import AuditResult

#: Simplification of unit outlines, cells of the residents grid and resolution of
#: the catchment outlines (m).
UNIT_TOLERANCE_M = 10.0
CELL_M = 250.0
CATCHMENT_CELL_M = 60.0
#: A city-scale study draws its catchments coarser: their cells are at least the
#: study's longer side divided by this (e.g. 120 m across 48 km), so the outlines'
#: size grows with the city's extent, not with the square of it.
CATCHMENT_CELLS_ACROSS = 400


@dataclass(frozen=True)
class MapContext:
    """What every layer needs: the audit, the language, and display helpers."""

    result: AuditResult
    lang: str
    gcj02: bool
    categories: list[str]
    levels: list[str]
    colours: dict[str, str]

    @classmethod
    def of(cls, result: AuditResult, *, lang: str, gcj02: bool) -> MapContext:
        """The context of ``result`` drawn in ``lang`` (shifted to GCJ-02 if ``gcj02``)."""
        summary = result.summary
        return cls(
            result=result,
            lang=lang,
            gcj02=gcj02,
            categories=list(summary.categories_audited),
            levels=list(summary.units.levels),
            colours=category_colours(result.standard.category_ids),
        )

    @property
    def facilities(self) -> gpd.GeoDataFrame:
        """The facilities of the audited categories."""
        fac = self.result.facilities
        return fac[fac["category"].isin(self.categories)]

    def cat_name(self, cat: str) -> str:
        """A category's name in the map's language."""
        return category_name(self.result.standard, cat, self.lang)

    @property
    def max_snap_m(self) -> float:
        """How far from the walk network a facility may lie and still be used (m)."""
        return float(self.result.summary.settings.max_snap_m or MAX_SNAP_M)

    @property
    def snap_rule(self) -> str:
        """How the audit entered points into the network (``edge`` or ``node``)."""
        return str(self.result.summary.settings.snap or DEFAULT_SNAP)

    @cached_property
    def catchment_cell_m(self) -> float:
        """Resolution of the catchment outlines (m): 60 m, coarser across a whole city.

        :data:`CATCHMENT_CELL_M`, or the street data's longer side over
        :data:`CATCHMENT_CELLS_ACROSS` rounded up to 10 m when that is larger.
        """
        graph = self.result.graph
        if not len(graph.x):
            return CATCHMENT_CELL_M
        side = max(float(np.ptp(graph.x)), float(np.ptp(graph.y)))
        if not math.isfinite(side):
            return CATCHMENT_CELL_M
        return max(CATCHMENT_CELL_M, 10.0 * math.ceil(side / CATCHMENT_CELLS_ACROSS / 10.0))

    @cached_property
    def cells(self) -> _mapdata.CellGrid:
        """The audit's origins on the :data:`CELL_M` grid (assigned once per map)."""
        access = self.result.access
        return _mapdata.CellGrid.of(
            access, access["population"].to_numpy(float), self.result.graph.crs, CELL_M
        )

    def catchment(self, facilities: gpd.GeoDataFrame, reach_m: float) -> gpd.GeoSeries:
        """The walking catchment of ``facilities`` under the audit's access rule."""
        return _mapdata.catchment(
            self.result.graph,
            facilities,
            reach_m,
            cell_m=self.catchment_cell_m,
            rule=self.snap_rule,
            max_snap_m=self.max_snap_m,
        )

    def threshold(self, cat: str) -> Threshold:
        """A category's walking threshold (``minutes``, ``metres``).

        From the summary for an audited category; from the standard and the walking
        profile for another (a siting may propose sites of a category the audit did
        not cover, e.g. one with no facility yet).
        """
        known = self.result.summary.thresholds.get(cat)
        if known is not None:
            return known
        info = self.result.standard.category(cat)
        minutes = info.threshold_min
        return Threshold(
            level=info.level,
            minutes=minutes,
            metres=round(minutes * self.result.profile_of(cat).speed_m_min, 1),
            profile=self.result.profile_of(cat).id,
            mandatory=info.mandatory,
            verified=info.verified,
            source=info.source,
        )

    def cohort_name(self, cohort: str) -> str:
        """A cohort's name in the map's language (from the summary, else the standard)."""
        info = self.result.summary.cohorts.get(cohort)
        name = info.get("name_zh" if self.lang == "zh" else "name") if info else None
        if name:
            return str(name)
        known = self.result.standard.cohorts.get(cohort)
        return known.name(self.lang) if known is not None else str(cohort)

    def service_categories(self) -> tuple[list[str], list[str]]:
        """Audited categories serving a cohort of their own, and those with a capacity."""
        service = self.result.summary.fair_service
        cats = [c for c in self.categories if c in service]
        cohort = [c for c in cats if service[c].cohort != ALL]
        capacity = [c for c in cats if service[c].capacity_from != "none"]
        return cohort, capacity

    def finest_units_word(self) -> str:
        """The finest units in the plural, e.g. "streets / towns" (plain text)."""
        finest = self.levels[-1]
        key = f"units_of_{finest}"
        if key in _TEXT:
            return text(key, self.lang)
        return text("units_of_level", self.lang, level=level_name(finest, self.lang))

    def partly_analysed(self, done: int, total: int) -> str:
        """E.g. "7 of 10 streets / towns analysed" (plain text)."""
        return text(
            "partly_analysed_units",
            self.lang,
            done=done,
            total=total,
            units=self.finest_units_word(),
        )

    def study(self) -> tuple[str | None, str | None]:
        """The study's name and its area (formatted, e.g. "26.4 km²"), when known."""
        study = self.result.summary.study
        name = str(study.name).strip() if study.name is not None else ""
        raw_area = study.area_km2
        try:
            area_km2 = float(raw_area) if raw_area is not None else math.nan
        except (TypeError, ValueError):
            area_km2 = math.nan
        area = (
            text("study_area_km2", self.lang, area=f"{area_km2:,.1f}")
            if math.isfinite(area_km2) and area_km2 > 0
            else None
        )
        return name or None, area

    def study_area(self) -> shapely.Geometry:
        """The street data's extent, in EPSG:4326."""
        graph = self.result.graph
        return gpd.GeoSeries([graph.extent()], crs=graph.crs).to_crs("EPSG:4326").iloc[0]

    def display(self, frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
        """``frame`` ready to draw (see :func:`lifecircle.render._mapdata.for_display`)."""
        return _mapdata.for_display(frame, gcj02=self.gcj02)

    def display_units(self, level: str | None = None) -> gpd.GeoDataFrame:
        """A level's units (default the finest), simplified and ready to draw."""
        units = self.result.units[level or self.levels[-1]]
        return self.display(_mapdata.simplify(units, self.result.graph.crs, UNIT_TOLERANCE_M))
