"""lifecircle: 15-minute community life-circle audits.

Load a street network and facilities into a walk graph, compute walking access
from every resident to every facility category, and roll coverage and gaps up
through the governance-unit hierarchy.

Examples
--------
>>> import lifecircle
>>> result = lifecircle.audit()            # the bundled central-Shanghai sample
>>> result.summary["complete_share"]       # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

from .access import compute_access, nearest_distance, snap_facilities
from .config import Category, Profile, Standard, list_standards, load_standard
from .coverage import citywide, coverage_by_unit, find_gaps, units_inside_network
from .errors import (
                     ConfigError,
                     CRSError,
                     DataError,
                     InputFileError,
                     InputFormatError,
                     LifecircleError,
)
from .io.facilities import facilities_from_osm, facilities_from_tags, read_facilities
from .io.population import origins_from_polygons, read_population
from .io.units import UnitHierarchy, read_units
from .network import (
                     WalkGraph,
                     graph_from_edges,
                     graph_from_graphml,
                     graph_from_osm,
                     grid_graph,
                     read_network,
)
from .pipeline import AuditResult, audit

__all__ = [
    "AuditResult", "CRSError", "Category", "ConfigError", "DataError", "InputFileError",
    "InputFormatError", "LifecircleError", "Profile", "Standard", "UnitHierarchy",
    "WalkGraph", "__version__", "audit", "citywide", "compute_access", "coverage_by_unit",
    "facilities_from_osm", "facilities_from_tags", "find_gaps", "graph_from_edges",
    "graph_from_graphml", "graph_from_osm", "grid_graph", "list_standards", "load_standard",
    "nearest_distance", "origins_from_polygons", "read_facilities", "read_network",
    "read_population", "read_units", "snap_facilities", "units_inside_network",
]
