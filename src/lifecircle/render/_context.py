"""What every layer of the map needs: the audit, the language, and display helpers.

Also the map's geometric resolutions, shared by the themes, the legend and the
proposals layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import shapely

from ..settings import MAX_SNAP_M
from . import _mapdata
from ._style import category_colours
from ._text import category_name

if TYPE_CHECKING:
    from ..pipeline import AuditResult

#: Simplification of unit outlines, cells of the residents grid and resolution of
#: the catchment outlines (m).
UNIT_TOLERANCE_M = 10.0
CELL_M = 250.0
CATCHMENT_CELL_M = 60.0


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
        return cls(result=result, lang=lang, gcj02=gcj02,
                   categories=list(summary["categories_audited"]),
                   levels=list(summary["units"]["levels"]),
                   colours=category_colours(result.standard.category_ids))

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
        settings = self.result.summary.get("settings") or {}
        return float(settings.get("max_snap_m") or MAX_SNAP_M)

    def threshold(self, cat: str) -> dict[str, Any]:
        """A category's walking threshold (``minutes``, ``metres``) from the summary."""
        return self.result.summary["thresholds"][cat]

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
