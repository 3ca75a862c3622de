"""Process-wide defaults, documented in one place.

Per-study parameters belong in the standard YAML files and CLI flags; these are
the defaults used when nothing else is given.
"""

from __future__ import annotations

#: Points farther than this from the walk network are excluded (metres).
MAX_SNAP_M: float = 500.0

#: Spacing of access points sampled along the edge of polygon facilities (metres).
POLYGON_ACCESS_SPACING_M: float = 25.0

#: OSM ``highway`` values that are walkable (footways included where mapped).
WALKABLE_HIGHWAYS: frozenset[str] = frozenset(
    {
        "primary", "primary_link", "secondary", "secondary_link", "tertiary",
        "tertiary_link", "unclassified", "residential", "living_street", "service",
        "pedestrian", "footway", "path", "steps", "track", "trunk", "trunk_link",
        "road", "corridor", "bridleway",
    }
)

#: Ways with any of these tag values are not walkable.
NOT_WALKABLE_TAGS: dict[str, frozenset[str]] = {
    "foot": frozenset({"no", "private"}),
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
