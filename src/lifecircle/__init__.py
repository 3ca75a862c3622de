"""lifecircle: 15-minute community life-circle audits.

Load a street network and facilities into a walk graph, compute walking access
from every resident to every facility category, and roll coverage and gaps up
through the governance-unit hierarchy.

Examples
--------
>>> import lifecircle
>>> result = lifecircle.audit()            # the bundled central-Shanghai sample
>>> result.summary.coverage["park"]         # doctest: +SKIP
"""

from __future__ import annotations

from ._version import __version__
from .access import compute_access, nearest_distance, snap_facilities
from .complete_siting import CompleteSitingProblem, CompleteSitingSolution
from .config import Category, Profile, Standard, list_standards, load_standard
from .coverage import citywide, coverage_by_unit, find_gaps, units_inside_network
from .delineate import Delineation, delineate  # the function: lifecircle.delineate(result, ...)
from .errors import (
    ConfigError,
    CRSError,
    DataError,
    InputFileError,
    InputFormatError,
    LifecircleError,
)
from .io.facilities import facilities_from_osm, facilities_from_tags, read_facilities
from .io.population import origins_from_polygons, origins_from_raster, read_population
from .io.units import UnitHierarchy, hex_units, read_units, units_from_osm
from .network import (
    WalkGraph,
    graph_from_edges,
    graph_from_graphml,
    graph_from_osm,
    grid_graph,
    read_network,
)
from .pipeline import AuditResult, audit
from .siting import Siting, SitingProblem, SitingSolution, optimize
from .study import Study, load_study

__all__ = [
    "AuditResult",
    "CRSError",
    "Category",
    "CompleteSitingProblem",
    "CompleteSitingSolution",
    "ConfigError",
    "DataError",
    "Delineation",
    "InputFileError",
    "InputFormatError",
    "LifecircleError",
    "Profile",
    "Siting",
    "SitingProblem",
    "SitingSolution",
    "Standard",
    "Study",
    "UnitHierarchy",
    "WalkGraph",
    "__version__",
    "audit",
    "citywide",
    "compute_access",
    "coverage_by_unit",
    "delineate",
    "facilities_from_osm",
    "facilities_from_tags",
    "find_gaps",
    "graph_from_edges",
    "graph_from_graphml",
    "graph_from_osm",
    "grid_graph",
    "hex_units",
    "list_standards",
    "load_standard",
    "load_study",
    "nearest_distance",
    "optimize",
    "origins_from_polygons",
    "origins_from_raster",
    "read_facilities",
    "read_network",
    "read_population",
    "read_units",
    "snap_facilities",
    "units_from_osm",
    "units_inside_network",
]
