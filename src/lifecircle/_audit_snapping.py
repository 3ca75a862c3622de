"""Audit stage: the residents and facilities snapped, and the fair-service searches started.

Helpers of :func:`lifecircle.pipeline.audit` (also used by the rural audit and the
``--dask`` plan): one snap rule for every travel mode the audited levels count, then
the searches of :mod:`lifecircle._service_searches` on threads of their own.
"""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np

from .access import AuditSnaps, search_cutoff_m, snap_audit_inputs
from .config import Standard
from .network import WalkGraph, read_network
from .options import AuditOptions
from .service import Searches, category_needs, facility_capacity, start_searches

log = logging.getLogger(__name__)


def audit_snaps(
    graph: WalkGraph,
    pts: gpd.GeoDataFrame,
    fac: gpd.GeoDataFrame,
    *,
    network: Path,
    opts: AuditOptions,
    warnings: list[str],
    std: Standard,
    categories: list[str] | None = None,
) -> AuditSnaps:
    """Residents and facilities snapped to the walk network and to every other mode's network.

    The other modes are those the levels of ``categories`` (default: the facilities'
    categories) count (``modes: [walk, bicycle]``); each mode's network is built
    from the same file with its own filter.
    """
    cats = categories if categories is not None else sorted(set(fac["category"]))
    cats = [c for c in cats if c in std.category_ids]
    mode_graphs = other_mode_graphs(network, std, cats, opts, warnings)
    return snap_audit_inputs(
        graph, pts, fac, snap=opts.snap, max_snap_m=opts.max_snap_m, mode_graphs=mode_graphs
    )


def other_mode_graphs(
    network: Path, std: Standard, categories: list[str], opts: AuditOptions, warnings: list[str]
) -> dict[str, WalkGraph]:
    """The network of every travel mode other than walking that the audited levels count."""
    out = {}
    for mode in std.modes_of(categories, opts.profile):
        if mode == "walk":
            continue
        out[mode] = read_network(network, mode=mode, min_component_nodes=opts.min_component_nodes)
        log.info("%s network: %d nodes, %d edges", mode, out[mode].n_nodes, out[mode].n_edges)
        if out[mode].dropped.get("components"):
            warnings.append(
                f"network ({mode}): kept the largest connected component of the {mode} network; "
                f"dropped {out[mode].dropped['components']} smaller ones "
                f"({out[mode].dropped['nodes']} nodes)"
            )
    return out


def snap_and_search(  # noqa: PLR0917 - the access stage's inputs, in order
    graph: WalkGraph,
    pts: gpd.GeoDataFrame,
    fac: gpd.GeoDataFrame,
    network: Path,
    scope: tuple[Standard, list[str], set[str]],
    opts: AuditOptions,
    warnings: list[str],
) -> tuple[AuditSnaps, Searches]:
    """Snap the inputs, and start the fair-service searches on threads of their own.

    ``scope`` is the standard, the audited categories and the analysed units. The
    searches need only the snapped points: started as soon as those are known, they
    run (compiled, without the GIL) while access and coverage are worked out.
    """
    std, audited, analysed = scope
    snaps = audit_snaps(graph, pts, fac, network=network, opts=opts, warnings=warnings, std=std)
    rows = np.flatnonzero(pts["unit_id"].isin(analysed).to_numpy())
    # the contracted graph, shared by the searches' threads and the access stage, is made
    # here once (functools.cached_property does not lock from Python 3.12 on)
    _ = graph.chains
    searches = start_searches(
        graph,
        snaps,
        rows,
        std,
        audited,
        radius_m=search_cutoff_m(std, audited, opts.profile),
        profile=opts.profile,
        lp=(
            category_needs(pts.iloc[rows], std, audited),
            facility_capacity(fac.reset_index(drop=True), std)[0],
        ),
    )
    return snaps, searches
