"""The first four stages of an audit: read the network, facilities and units, place residents.

One function, :func:`read_inputs`, shared by the single-machine audit
(:func:`lifecircle.audit`) and the plan of a partitioned one
(:mod:`lifecircle.distributed`), so both read and prepare a study the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from ._audit_service import _without_closed
from ._audit_stages import (
    _choose_categories,
    _hierarchy,
    _inputs,
    _load_facilities,
    _network_warnings,
    _origins,
    _place_residents,
    _standard_and_profile,
)
from .coverage import edge_reach_m, units_inside_network
from .errors import DataError
from .network import WalkGraph, read_network
from .settings import CATCHMENT_INSIDE_SHARE

if TYPE_CHECKING:
    from .config import Profile, Standard
    from .io.units import UnitHierarchy
    from .options import AuditOptions

log = logging.getLogger("lifecircle.pipeline")


class StageTimer:
    """Wall seconds per named stage (``summary.json``'s ``timings_s``), logged as they end."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Time the ``with`` block as stage ``name``."""
        log.info("%s ...", name.replace("_", " "))
        t0 = time.perf_counter()
        yield
        self.timings[name] = round(time.perf_counter() - t0, 3)
        log.info("%s done in %.2f s", name.replace("_", " "), self.timings[name])


@dataclass
class AuditInputs:
    """A study read and prepared: what the access stage starts from."""

    network: Path
    facility_items: list[tuple[Path, str | None]]
    units: Path | None
    population: Path | None
    std: Standard
    prof: Profile
    graph: WalkGraph
    #: the facilities (without those closed by ``--close``)
    fac: gpd.GeoDataFrame
    #: ``--close``'s facility ids (None without it)
    closed: np.ndarray | None
    merged: dict[str, int]
    unknown_codes: Any
    audited: list[str]
    hierarchy: UnitHierarchy
    #: the edge-effect reach (m) that decides which units are analysed
    reach_m: float
    analysed: set[str]
    unit_check: pd.DataFrame
    origins: Any
    #: the residents placed in units (one row per origin)
    pts: gpd.GeoDataFrame
    outside_units: int

    @property
    def facility_paths(self) -> list[Path]:
        """The facility files given (without their datum suffixes)."""
        return [path for path, _ in self.facility_items]


def read_inputs(opts: AuditOptions, timer: StageTimer, warnings: list[str]) -> AuditInputs:
    """Read the network, facilities and units and place the residents (stages 1-4).

    Warnings about the data are appended to ``warnings``; a study with no unit
    inside the street data raises :class:`~lifecircle.errors.DataError`.
    """
    network, facility_items, units, population = _inputs(opts)
    std, prof = _standard_and_profile(opts)

    with timer.stage("read_network"):
        graph = read_network(network, min_component_nodes=opts.min_component_nodes)
    warnings.extend(_network_warnings(graph))
    log.debug("walk graph: %d nodes, %d edges, CRS %s", graph.n_nodes, graph.n_edges, graph.crs)

    with timer.stage("read_facilities"):
        fac, merged, unknown_codes = _load_facilities(
            network, facility_items, std, opts.osm_pois, warnings, typecodes=opts.typecodes
        )
        fac, closed = _without_closed(fac, opts.close)
    counts = fac["category"].value_counts()
    paths = [network, *(path for path, _ in facility_items)]
    audited = _choose_categories(counts, std, opts.categories, paths, warnings)

    with timer.stage("read_units"):
        hierarchy = _hierarchy(units, network, graph, opts, warnings)
        # the edge-effect rule depends on the network and the standard alone
        reach_m = edge_reach_m(std)
        analysed, unit_check = units_inside_network(
            hierarchy,
            graph.extent(),
            graph.crs,
            reach_m,
            min_inside=CATCHMENT_INSIDE_SHARE,
            keep_edge_units=opts.keep_edge_units,
        )
    _require_units(analysed, units=units, network=network, reach_m=reach_m)

    with timer.stage("population"):
        origins = _origins(graph, population, hierarchy, warnings)
        pts, outside_units = _place_residents(origins, hierarchy, analysed, unit_check)
    log.debug(
        "%d origins (%.0f residents) in %d analysed %s units; %d outside every unit",
        len(pts),
        float(pts["population"].sum()),
        len(analysed),
        hierarchy.finest,
        outside_units,
    )
    return AuditInputs(
        network=network,
        facility_items=list(facility_items),
        units=units,
        population=population,
        std=std,
        prof=prof,
        graph=graph,
        fac=fac,
        closed=closed,
        merged=merged,
        unknown_codes=unknown_codes,
        audited=audited,
        hierarchy=hierarchy,
        reach_m=reach_m,
        analysed=analysed,
        unit_check=unit_check,
        origins=origins,
        pts=pts,
        outside_units=outside_units,
    )


def _require_units(
    analysed: set[str], *, units: Path | None, network: Path, reach_m: float
) -> None:
    """Refuse an audit where no unit's catchment lies inside the street data."""
    if not analysed:
        msg = (
            f"{units}: no governance unit has its {reach_m:.0f} m walking catchment inside "
            f"the street data of {network}; use a network that extends at least "
            f"{reach_m:.0f} m beyond the units"
        )
        raise DataError(msg)
