"""The outputs and their columns, in one place.

Every file lifecircle writes into ``--out`` is listed in :data:`OUTPUTS` with what it
holds, and every column with what it means; per-category and per-level column
names come from the functions below (``dist_<cat>_m``, ``cov_<cat>``,
``complete_<level>``, ...), which every stage uses. ``tests/test_columns.py`` checks
the written files against this list, so it cannot drift.

Examples
--------
>>> cov("park"), complete("15min")
('cov_park', 'complete_15min')
>>> describe("gaps.csv").startswith("gaps.csv: every unit x category with a shortfall")
True
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "OUTPUTS",
    "OutputFile",
    "cohort_cov",
    "complete",
    "cov",
    "describe",
    "dist",
    "n_within",
    "placed",
    "pop",
    "sd",
    "second",
    "single",
    "time",
    "unit_level",
    "unmet",
]


def dist(category: str) -> str:
    """Walking distance to the nearest facility of ``category`` (m; NaN = none in reach)."""
    return f"dist_{category}_m"


def time(category: str) -> str:
    """Walking time to the nearest facility of ``category`` (min; NaN = none in reach)."""
    return f"time_{category}_min"


def cov(category: str) -> str:
    """Share of a unit's residents within the threshold of ``category`` (0-1)."""
    return f"cov_{category}"


def complete(level: str) -> str:
    """Share of a unit's residents reaching every mandatory category of ``level`` and below."""
    return f"complete_{level}"


def pop(cohort: str) -> str:
    """Residents of a cohort (e.g. ``pop_age_3_5``: children aged 3-5)."""
    return f"pop_{cohort}"


def cohort_cov(category: str) -> str:
    """Share of the category's own cohort within its threshold (0-1)."""
    return f"cohort_cov_{category}"


def n_within(category: str) -> str:
    """Number of facilities of ``category`` within its threshold (choice)."""
    return f"n_{category}"


def second(category: str) -> str:
    """Walking distance to the second-nearest facility of ``category`` (m)."""
    return f"second_{category}_m"


def sd(category: str) -> str:
    """Two-step floating catchment access: supply per cohort resident within reach."""
    return f"sd_{category}"


def placed(category: str) -> str:
    """Share of the cohort assigned a place within the threshold (capacity-constrained)."""
    return f"placed_{category}"


def unmet(category: str) -> str:
    """Cohort residents left without a place within the threshold (persons)."""
    return f"unmet_{category}"


def single(category: str) -> str:
    """Share of the cohort with exactly one facility of ``category`` within the threshold."""
    return f"single_{category}"


def unit_level(level: str) -> str:
    """Id of the unit of a coarser ``level`` an origin lies in."""
    return f"unit_{level}"


@dataclass(frozen=True)
class OutputFile:
    """One output file: what it holds and its columns (``<cat>``/``<level>`` patterns)."""

    name: str
    holds: str
    columns: tuple[tuple[str, str], ...] = ()
    written_by: str = "audit"


OUTPUTS: dict[str, OutputFile] = {
    o.name: o
    for o in (
        OutputFile(
            "access.parquet",
            "GeoParquet, EPSG:4326, one row per origin (resident location)",
            (
                ("origin_id", "origin id"),
                ("population", "residents at this origin"),
                ("population_method", "how the population was estimated (e.g. census2020_street)"),
                ("unit_id", "finest governance unit"),
                (
                    "snap_m",
                    "straight-line distance from the origin to where it enters the network (m)",
                ),
                ("node", "the network node the origin enters at (the nearer end of its edge)"),
                ("edge", "the walk-graph edge the origin enters at (-1: at a node, --snap node)"),
                ("unit_<level>", "id of the unit of each coarser level"),
                (
                    "pop_<cohort>",
                    "residents of a cohort the audited categories serve (e.g. pop_age_3_5)",
                ),
                ("dist_<cat>_m", "walking distance to the nearest facility of the category (m)"),
                ("time_<cat>_min", "walking time to it at the category's profile speed (min)"),
                ("n_<cat>", "facilities of the category within its threshold (choice)"),
                (
                    "second_<cat>_m",
                    "walking distance to the second-nearest facility (m; NaN: fewer than two "
                    "within twice the threshold, at most the search cut-off)",
                ),
                (
                    "sd_<cat>",
                    "2SFCA access: capacity (or facilities) per cohort resident within reach",
                ),
                (
                    "placed_<cat>",
                    "share of the origin's cohort assigned a place within the threshold "
                    "(capacity-constrained)",
                ),
            ),
        ),
        OutputFile(
            "units.gpkg",
            "one layer per unit level, EPSG:4326",
            (
                ("unit_id", "unit id"),
                ("name", "unit name"),
                ("parent_id", "id of the parent unit"),
                ("level", "level name"),
                ("population", "residents of the analysed part of the unit"),
                ("population_method", "population methods of its residents"),
                ("cov_<cat>", "share of residents within the category's threshold (0-1)"),
                ("pop_<cohort>", "residents of each cohort the audited categories serve"),
                (
                    "cohort_cov_<cat>",
                    "share of the category's own cohort within its threshold (categories "
                    "serving a cohort, e.g. kindergarten: children aged 3-5)",
                ),
                ("unmet_<cat>", "cohort residents without a place within the threshold"),
                (
                    "sd_<cat>",
                    "2SFCA supply-demand: cohort-weighted mean supply per cohort resident",
                ),
                (
                    "placed_<cat>",
                    "share of the cohort assigned a place within the threshold at a "
                    "facility with room (capacity-constrained coverage)",
                ),
                (
                    "single_<cat>",
                    "share of the cohort with exactly one facility within the threshold",
                ),
                ("score", "mean share of the audited mandatory categories reached"),
                (
                    "complete_<level>",
                    "share reaching every mandatory category of the level and below "
                    "(NaN when one was not audited)",
                ),
                ("complete_share", "share reaching every mandatory category of the standard"),
                (
                    "complete_share_<cohort>",
                    "the same for a cohort's residents (when complete life circles are computed)",
                ),
                ("rank", "rank of the score among the level's units (1 = worst served)"),
                ("decile", "decile of the score (1 = worst-served tenth of the units)"),
                ("worst_category", "the mandatory category with the lowest coverage"),
                ("units_analysed", "finest units analysed inside this unit"),
                ("units_total", "finest units inside this unit"),
                ("analysed", "every finest unit inside was analysed"),
                (
                    "catchment_inside_share",
                    "finest level: share of the walking catchment inside the street data",
                ),
                ("edge_effect", "finest level: catchment partly outside the street data"),
                ("n_origins", "origins analysed"),
            ),
        ),
        OutputFile(
            "facilities.gpkg",
            "the normalised facilities, EPSG:4326",
            (
                ("facility_id", "facility id"),
                ("category", "category id"),
                ("name", "name"),
                ("source", "file it came from"),
                (
                    "sources",
                    "every source file a duplicate of it was found in (|-joined; cross-source "
                    "matching)",
                ),
                ("snap_m", "distance from its nearest access point to the network (m)"),
                ("reachable", "within max_snap_m of the network, so used"),
                ("capacity", "places/beds/residents it can serve (NaN: unlimited)"),
                (
                    "capacity_from",
                    "column (the input's capacity column), default (the standard's, see "
                    "its verified flag) or none",
                ),
                ("demand_in_reach", "cohort residents within the category's threshold"),
                ("supply_ratio", "2SFCA step 1: capacity / cohort residents within reach"),
                ("load", "cohort residents assigned to it (capacity-constrained)"),
                (
                    "sole_dependants",
                    "cohort residents for whom it is the only facility within the "
                    "threshold: they lose coverage if it closes",
                ),
            ),
        ),
        OutputFile(
            "gaps.csv",
            "every unit x category with a shortfall, largest first (UTF-8 with "
            "BOM, CRLF, formula-like cells neutralised)",
            (
                ("unit_id", "unit id"),
                ("name", "unit name"),
                ("level", "level name"),
                ("category", "category id"),
                ("uncovered_population", "residents not covered"),
                ("uncovered_share", "their share of the unit's residents"),
                ("cohort", "the cohort the category serves (all: every resident)"),
                ("uncovered_cohort", "residents of that cohort not covered"),
                ("partly_analysed", "a parent unit only some of whose finest units were analysed"),
                ("units_analysed", "finest units analysed inside the unit"),
                ("units_total", "finest units inside the unit"),
            ),
        ),
        OutputFile(
            "closure.csv",
            "with --close: per unit x category, coverage before and after closing the "
            "facilities (same CSV conventions as gaps.csv)",
            (
                ("unit_id", "unit id"),
                ("name", "unit name"),
                ("level", "level name"),
                ("category", "category id"),
                ("cohort", "the cohort the category serves"),
                ("cohort_population", "residents of that cohort"),
                ("covered_before", "cohort residents within the threshold before"),
                ("covered_after", "after closing"),
                ("lose_coverage", "cohort residents who lose coverage"),
                ("share_before", "covered share before"),
                ("share_after", "covered share after"),
            ),
            written_by="audit --close",
        ),
        OutputFile(
            "cross_source.csv",
            "with facilities from several sources: per category, finest unit and pair of "
            "sources, the facilities found by both (matched duplicates) or by one only",
            (
                ("category", "category id"),
                ("unit_id", "finest unit"),
                ("source_a", "one source file"),
                ("source_b", "another"),
                ("in_both", "facilities found in both"),
                ("only_a", "found only in source_a"),
                ("only_b", "found only in source_b"),
            ),
            written_by="audit (several sources)",
        ),
        OutputFile(
            "village_ledger.csv",
            "with --rural-standard: per administrative village, whether it contains or reaches "
            "each facility of the rural standard's village level (the 三室两点), most lacking "
            "first (same CSV conventions as gaps.csv)",
            (
                ("unit_id", "village unit id"),
                ("name", "village name"),
                ("parent_id", "its town"),
                ("parent_name", "the town's name"),
                ("population", "residents"),
                ("<cat>_inside", "facilities of the category inside the village"),
                ("<cat>_reached", "share of residents within the threshold (any mode)"),
                ("<cat>_status", "inside, reached (every resident), partly or missing"),
                ("n_lacking", "categories neither inside nor reached by every resident"),
                ("lacks", "those categories, ;-separated"),
            ),
            written_by="audit --rural-standard",
        ),
        OutputFile(
            "access_rural.parquet",
            "with --rural-standard: one row per origin of the town and village units, audited "
            "under the rural standard (Parquet without geometry: an origin is placed by its "
            "`node` / `node_osmid`; access.parquet holds the urban units' origins, and the two "
            "files' populations add up to the study's)",
            (
                ("origin_id", "origin id"),
                ("population", "residents at this origin"),
                ("population_method", "how the population was estimated"),
                ("node", "the network node the origin enters at"),
                ("node_osmid", "that node's OSM id"),
                ("unit_id", "finest governance unit (a town or village)"),
                ("snap_m", "distance from the origin to the network (m)"),
                ("edge", "the edge the origin enters at (-1: at a node)"),
                ("dist_<cat>_m", "distance to the nearest facility of a rural category (m)"),
                ("time_<cat>_min", "travel time to it by the fastest mode the level counts (min)"),
                ("mode_<cat>", "that mode (walk, bicycle, ebike), at levels with several modes"),
            ),
            written_by="audit --rural-standard",
        ),
        OutputFile(
            "urban_rural.csv",
            "with --rural-standard: every unit of every level with its urban figures (urban "
            "standard, urban units) and rural figures (rural standard, town and village units) "
            "side by side",
            (
                ("unit_id", "unit id"),
                ("name", "unit name"),
                ("level", "level name"),
                ("units_urban", "finest urban units inside"),
                ("units_town", "finest town units inside"),
                ("units_village", "finest village units inside"),
                ("population_urban", "residents of its urban units"),
                ("score_urban", "score under the urban standard"),
                ("complete_share_urban", "complete life circle, urban standard"),
                ("population_rural", "residents of its town and village units"),
                ("score_rural", "score under the rural standard"),
                ("complete_share_rural", "complete life circle, rural standard"),
            ),
            written_by="audit --rural-standard",
        ),
        OutputFile(
            "summary.json",
            "study, standard, profile, thresholds, population and method, "
            "network, facilities, analysed and excluded units, city-wide "
            "coverage and completeness, data quality, warnings, timings, "
            "versions, attribution",
        ),
        OutputFile("map.html", "the interactive map (one self-contained page)"),
        OutputFile("report.html", "the planner's report (one self-contained, printable page)"),
        OutputFile(
            "proposals.geojson",
            "proposed sites, EPSG:4326",
            (
                ("site_id", "site id"),
                ("category", "category sited"),
                ("rank", "order chosen"),
                (
                    "marginal_newly_covered",
                    "residents newly covered by this site, given the ones before it",
                ),
                ("residents_served", "residents the site serves"),
            ),
            written_by="optimize",
        ),
        OutputFile(
            "optimize.json",
            "the siting: model, status, bound and gap, coverage before and "
            "after, per-unit before/after, notes",
            written_by="optimize",
        ),
        OutputFile(
            "units_after.gpkg",
            "units.gpkg as it would be with the proposed sites",
            written_by="optimize",
        ),
    )
}


def describe(name: str) -> str:
    """A plain-text description of one output and its columns."""
    out = OUTPUTS[name]
    lines = [f"{out.name}: {out.holds}"]
    lines += [f"  {col:<24} {meaning}" for col, meaning in out.columns]
    return "\n".join(lines)
