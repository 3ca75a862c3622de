"""Outputs people look at: the interactive map and the planner's report.

* :func:`~lifecircle.render.map.render_map` writes ``map.html`` (Leaflet; a
  constant page of ours reading its data from one JSON block; self-contained, basemap
  ``osm``, ``amap`` (GCJ-02) or ``none``);
* :func:`~lifecircle.render.report.render_report` writes ``report.html`` (one
  printable file with inline charts).

Both take an :class:`~lifecircle.AuditResult` and ``lang="en"`` or ``"zh"``; with
``siting=`` (a solved :class:`~lifecircle.siting.SitingSolution`, as in ``lifecircle
optimize``) they also show the proposed sites.
"""

from __future__ import annotations

from .map import build_map, render_map
from .report import build_report, render_report

__all__ = ["build_map", "build_report", "render_map", "render_report"]
