"""Population: where people live, as weighted origin points on the walk network.

:func:`origins_from_polygons` makes a dasymetric estimate: each polygon's total
(a census figure per street/town or district) is spread over the network nodes
inside it in proportion to the length of residential-class street around each
node (:data:`lifecircle.settings.RESIDENTIAL_HIGHWAYS`); polygons with no such
street use all streets. Polygons that reach beyond the street data keep only
the share of their total that their area inside the data represents.

Population rasters (:func:`origins_from_raster`, one origin per populated cell)
are read in :mod:`lifecircle.io.raster` and re-exported here.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..errors import CRSError, DataError, InputFormatError
from ..network import WalkGraph
from ..settings import RESIDENTIAL_HIGHWAYS
from .demography import FRACTION_PREFIX, demographic_fractions
from .raster import MAX_RASTER_ORIGINS as MAX_RASTER_ORIGINS
from .raster import RASTER_SUFFIXES as RASTER_SUFFIXES
from .raster import is_raster as is_raster
from .raster import origins_from_raster as origins_from_raster
from .vector import (
    clean_polygons,
    examples,
    nonfinite_coordinates,
    read_vector,
    refuse_bad_coordinates,
    require_columns,
    row_labels,
)

ALLOCATION_METHOD = (
    "dasymetric: each population polygon's total spread over the network nodes inside "
    "it in proportion to the length of residential-class street around each node "
    "(all streets where a polygon has no residential street)"
)


#: Two population polygons overlap when their common area exceeds this share of
#: the smaller one (slivers along digitised borders stay below it).
OVERLAP_TOLERANCE = 0.01

#: Key of ``GeoDataFrame.attrs`` under which :func:`read_population` leaves what it
#: repaired, dropped or resolved (carried into ``Origins.report``).
REPORT_ATTR = "population_report"

#: Loss categories of ``Origins.report["population_not_allocated"]``.
LOSS_OUTSIDE_EXTENT = "outside_network_extent"
LOSS_NO_NODE = "no_network_node_in_polygon"


def _values_or_refuse(
    raw: pd.Series, labels: np.ndarray, *, source: str, field: str, error: type[Exception]
) -> np.ndarray:
    """Population values as floats; refuse NaN, infinite, negative and non-numeric ones."""
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        shown = [
            f"{label} ({_short(v)})"
            for label, v in zip(labels[bad], raw.to_numpy(dtype=object)[bad], strict=True)
        ]
        msg = (
            f"{source}: column {field!r} must hold a finite, non-negative number of "
            f"residents in every row; {int(bad.sum())} row(s) do not: {examples(shown)}. "
            "Fix these values (0 where nobody lives; no NaN, inf, negative numbers or text) "
            "or remove the rows"
        )
        raise error(msg)
    return values


def _short(value: object) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 30 else text[:27] + "..."


def read_population(path: str | Path, *, field: str = "population") -> gpd.GeoDataFrame:
    """Read population polygons with a ``population`` column (persons).

    An optional ``population_method`` column says where each figure comes from
    (e.g. ``census2020_street``); it is carried into the outputs. Age columns
    (``pop_<cohort>``, ``share_<cohort>``, age bands ``age_0_14`` ...; see
    :mod:`lifecircle.io.demography`) are kept as shares of each polygon's residents
    (``frac_<column>``) and carried to the origins.

    Invalid polygons (e.g. self-intersecting "bow-ties") are repaired with
    :func:`shapely.make_valid`, keeping their polygonal part. Polygons without
    a usable geometry are dropped when nobody lives there and refused
    otherwise. Overlapping polygons are refused, unless the file is a hierarchy
    (``unit_id`` + ``parent_id``, or ``level``) whose finest level tiles the
    coarser polygons: then only the finest level is used. What was repaired,
    dropped or resolved is left in ``.attrs["population_report"]``.

    Parameters
    ----------
    path
        Polygons in any CRS.
    field
        Column of residents per polygon.

    Returns
    -------
    geopandas.GeoDataFrame
        ``population``, ``population_method``, ``polygon_id`` (the ``unit_id``
        or ``"row N"``) and polygons, in the file's CRS.

    Raises
    ------
    InputFormatError
        Missing column; NaN, infinite, negative or non-numeric values; NaN or
        infinite coordinates; residents in rows without a polygon; overlaps.
    """
    what = "population polygons"
    gdf = read_vector(path, what=what, flag="--population", keep_empty=True)
    gdf = gdf.reset_index(drop=True)
    require_columns(
        gdf,
        [field],
        path=path,
        what=what,
        fix=f"add a numeric {field!r} column with the number of residents",
    )
    labels = row_labels(gdf, "unit_id")
    values = _values_or_refuse(
        gdf[field], labels, source=str(path), field=field, error=InputFormatError
    )
    refuse_bad_coordinates(gdf, path=path, what=what, labels=labels)
    ages = demographic_fractions(gdf, values, labels, source=str(path))
    geoms, repaired, no_area = clean_polygons(gdf.geometry.to_numpy())
    lost = no_area & (values > 0)
    if lost.any():
        msg = (
            f"{path}: {int(lost.sum())} {what} have residents in {field!r} but no usable "
            f"polygon (missing or empty geometry, a point or line, or zero area): "
            f"{examples(labels[lost])}. Their residents would be lost; give each of them "
            "its polygon, or remove the rows if these residents are counted elsewhere"
        )
        raise InputFormatError(msg)
    keep = ~no_area
    if not keep.any():
        msg = f"{path}: has no polygons; population (--population) must be polygons"
        raise InputFormatError(msg)
    methods = (
        gdf["population_method"].astype("string").fillna("given")
        if "population_method" in gdf.columns
        else pd.Series("given", index=gdf.index, dtype="string")
    )
    report: dict[str, Any] = {
        "polygons_repaired": int(repaired.sum()),
        "repaired_ids": [str(v) for v in labels[repaired]],
        "polygons_without_geometry_dropped": int(no_area.sum()),
        "dropped_ids": [str(v) for v in labels[no_area]],
    }
    pairs = overlapping_pairs(geoms[keep])
    if len(pairs):
        rows = np.flatnonzero(keep)
        finest, info = _finest_level(gdf.iloc[rows], geoms[rows], pairs, labels[rows], path)
        keep[rows[~finest]] = False
        info["population_used"] = float(values[rows[finest]].sum())
        info["population_of_ignored_polygons"] = float(values[rows[~finest]].sum())
        report["hierarchy_resolved"] = info
    report["overlaps_checked"] = True
    out = gpd.GeoDataFrame(
        {
            "population": values[keep],
            "population_method": methods.to_numpy()[keep],
            "polygon_id": labels[keep].astype(str),
            **{c: ages[c].to_numpy()[keep] for c in ages.columns},
        },
        geometry=geoms[keep],
        crs=gdf.crs,
    )
    out.attrs[REPORT_ATTR] = report
    return out


def overlapping_pairs(geoms: object, tolerance: float = OVERLAP_TOLERANCE) -> np.ndarray:
    """Pairs of polygons whose common area exceeds ``tolerance`` of the smaller one.

    Nested polygons (a district and its streets) count as overlapping. Found
    with a spatial-index self-join; only pairs whose interiors may meet are
    intersected.

    Parameters
    ----------
    geoms
        Valid polygons (any CRS: areas are compared as ratios).
    tolerance
        Share of the smaller polygon's area below which an overlap is ignored.

    Returns
    -------
    numpy.ndarray
        ``(k, 2)`` row indices ``i < j``, sorted.
    """
    arr = np.asarray(geoms, dtype=object)
    a, b = shapely.STRtree(arr).query(arr, predicate="intersects")
    keep = a < b
    a, b = a[keep], b[keep]
    if len(a):
        keep = ~shapely.touches(arr[a], arr[b])
        a, b = a[keep], b[keep]
    if not len(a):
        return np.empty((0, 2), dtype=np.int64)
    common = shapely.area(shapely.intersection(arr[a], arr[b]))
    area = shapely.area(arr)
    big = common > tolerance * np.minimum(area[a], area[b])
    pairs = np.column_stack([a[big], b[big]]).astype(np.int64)
    return pairs[np.lexsort((pairs[:, 1], pairs[:, 0]))] if len(pairs) else pairs


def _describe_pairs(pairs: np.ndarray, geoms: np.ndarray, labels: np.ndarray) -> str:
    area = shapely.area(geoms)
    common = shapely.area(shapely.intersection(geoms[pairs[:, 0]], geoms[pairs[:, 1]]))
    smaller = np.minimum(area[pairs[:, 0]], area[pairs[:, 1]])
    share = np.divide(common, smaller, out=np.zeros_like(common), where=smaller > 0)
    texts = [
        f"{labels[i]} and {labels[j]} ({100 * s:.0f}% of the smaller)"
        for (i, j), s in zip(pairs, share, strict=True)
    ]
    return examples(texts)


def _finest_level(
    gdf: gpd.GeoDataFrame,
    geoms: np.ndarray,
    pairs: np.ndarray,
    labels: np.ndarray,
    path: str | Path,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Rows of the finest level of a hierarchical population file, or refuse the overlaps.

    The finest level is used when it is given by ``unit_id``/``parent_id`` (units
    that are nobody's parent) or ``level`` (the level with the smallest mean
    area), its polygons do not overlap each other and they cover every coarser
    polygon (to within :data:`OVERLAP_TOLERANCE`).
    """
    finest: np.ndarray | None = None
    level_name = "finest"
    why = ""
    if {"unit_id", "parent_id"} <= set(gdf.columns):
        ids = _clean_ids(gdf["unit_id"])
        parents = set(_clean_ids(gdf["parent_id"]).dropna())
        finest = ~ids.isin(parents).to_numpy()
        if "level" in gdf.columns:
            names = gdf.loc[finest, "level"].dropna().astype(str).unique()
            level_name = names[0] if len(names) == 1 else level_name
    elif "level" in gdf.columns:
        level = gdf["level"].astype("string").fillna("").to_numpy(dtype=object)
        mean_area = pd.Series(shapely.area(geoms)).groupby(level).mean()
        level_name = str(mean_area.idxmin())
        finest = level == level_name
    if finest is not None and finest.all() | (~finest).all():
        finest = None
    if finest is not None:
        inner = pairs[finest[pairs[:, 0]] & finest[pairs[:, 1]]]
        if len(inner):
            pairs, finest = inner, None
            why = (
                f" The file is a hierarchy, but polygons of its {_named(level_name)} "
                "overlap each other."
            )
    if finest is not None:
        coarse, leaves = np.flatnonzero(~finest), np.flatnonzero(finest)
        ci, li = shapely.STRtree(geoms[leaves]).query(geoms[coarse], predicate="intersects")
        common = shapely.area(shapely.intersection(geoms[coarse[ci]], geoms[leaves[li]]))
        covered = np.bincount(ci, weights=common, minlength=len(coarse))
        share = covered / shapely.area(geoms[coarse])
        gap = share < 1.0 - OVERLAP_TOLERANCE
        if gap.any():
            finest = None
            shown = [
                f"{lab} ({100 * s:.0f}% covered)"
                for lab, s in zip(labels[coarse[gap]], share[gap], strict=True)
            ]
            why = (
                f" The file is a hierarchy, but its {_named(level_name)} does not cover "
                f"the coarser polygons {examples(shown)}, so it cannot replace them."
            )
    if finest is None:
        msg = (
            f"{path}: population polygons overlap, so residents would be counted twice: "
            f"{_describe_pairs(pairs, geoms, labels)} ({len(pairs)} overlapping pair(s) in "
            f"all).{why} Population (--population) must be one layer of polygons that do "
            "not overlap (e.g. streets only, not districts and their streets): keep one "
            "level, or give `unit_id` and `parent_id` columns so that the finest level is "
            "used"
        )
        raise InputFormatError(msg)
    info = {
        "level_used": level_name,
        "polygons_used": int(finest.sum()),
        "polygons_ignored": int((~finest).sum()),
        "ignored_ids": [str(v) for v in labels[~finest][:50]],
    }
    return finest, info


def _named(level_name: str) -> str:
    return "finest level" if level_name == "finest" else f"finest level ({level_name})"


def _clean_ids(series: pd.Series) -> pd.Series:
    out = series.astype("string").str.strip()
    out = out.str.replace(r"^(\d+)\.0$", r"\1", regex=True)
    return out.mask(out.isin(["", "nan", "None", "<NA>"]))


@dataclass(frozen=True)
class Origins:
    """Origin points and how their population was made.

    ``report`` always has ``population_input`` (persons given),
    ``population_allocated`` (persons on the origins) and
    ``population_not_allocated`` (persons not placed, by reason), with
    ``population_input == population_allocated + sum(population_not_allocated)``.
    """

    points: gpd.GeoDataFrame
    method: str
    report: dict[str, Any] = field(default_factory=dict)


#: Nodes looked up per query of the polygons' tree: the point objects of one chunk are
#: made and freed at a time (a million at once left their memory fragmented)
NODE_CHUNK = 1 << 17


def _polygons_of_nodes(
    polys: gpd.GeoDataFrame, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Every (polygon, node) pair where the node lies in or on the polygon, by node.

    The pairs of :meth:`STRtree.query` with ``predicate="intersects"`` of all the nodes
    at once, in the same order (by node, then as the tree lists them), made a chunk of
    nodes at a time.
    """
    tree = polys.sindex
    poly_parts, node_parts = [], []
    for lo in range(0, len(x), NODE_CHUNK):
        hi = min(lo + NODE_CHUNK, len(x))
        node, poly = tree.query(shapely.points(x[lo:hi], y[lo:hi]), predicate="intersects")
        poly_parts.append(poly)
        node_parts.append(node + lo)
    if not poly_parts:
        return np.empty(0, np.intp), np.empty(0, np.intp)
    return np.concatenate(poly_parts), np.concatenate(node_parts)


def origins_from_polygons(
    graph: WalkGraph,
    population: gpd.GeoDataFrame,
    *,
    residential: frozenset[str] = RESIDENTIAL_HIGHWAYS,
) -> Origins:
    """Allocate polygon population totals to network nodes (dasymetric).

    Parameters
    ----------
    graph
        The walk graph; its nodes become the origins.
    population
        Polygons with ``population`` (and optionally ``population_method`` and
        ``polygon_id``, used in messages). Invalid polygons are repaired;
        polygons must not overlap.
    residential
        Street classes whose length weights the allocation.

    Returns
    -------
    Origins
        Points (graph CRS) with ``origin_id``, ``population``,
        ``population_method``, ``node`` and ``node_osmid``; the method text and a
        report. The report balances: ``population_input`` equals
        ``population_allocated`` plus the itemised
        ``population_not_allocated`` (``outside_network_extent``: the share of
        polygons reaching beyond the street data; ``no_network_node_in_polygon``).

    Raises
    ------
    DataError
        NaN, infinite or negative populations, residents in rows without a
        polygon, coordinates that do not fit the graph's CRS, overlapping polygons.
    CRSError
        If ``population`` has no CRS.
    """
    carried = dict(population.attrs.get(REPORT_ATTR, {}))
    if population.crs is None:
        msg = (
            "population polygons have no coordinate reference system; set one with "
            "`gdf.set_crs(...)`"
        )
        raise CRSError(msg)
    polys = population.reset_index(drop=True)
    labels = (
        polys["polygon_id"].astype(str).to_numpy(dtype=object)
        if "polygon_id" in polys.columns
        else row_labels(polys)
    )
    source = "population polygons"
    values = _values_or_refuse(
        polys["population"], labels, source=source, field="population", error=DataError
    )
    geoms, repaired, no_area = clean_polygons(polys.geometry.to_numpy())
    lost = no_area & (values > 0)
    if lost.any():
        msg = (
            f"{source}: {int(lost.sum())} polygons with residents have no usable polygon "
            f"(missing or empty geometry, a point or line, or zero area): "
            f"{examples(labels[lost])}; give each of them its polygon"
        )
        raise DataError(msg)
    keep = ~no_area
    if not carried.get("overlaps_checked"):
        pairs = overlapping_pairs(geoms[keep])
        if len(pairs):
            msg = (
                f"{source}: polygons overlap, so residents would be counted twice: "
                f"{_describe_pairs(pairs, geoms[keep], labels[keep])}; give one layer of "
                "polygons that do not overlap (e.g. streets only, not districts and their "
                "streets)"
            )
            raise DataError(msg)
    polys = gpd.GeoDataFrame(
        {
            "population": values[keep],
            "population_method": (
                polys["population_method"].astype("string").fillna("given").to_numpy()[keep]
                if "population_method" in polys.columns
                else "given"
            ),
            **{
                c: polys[c].to_numpy(float)[keep]
                for c in polys.columns
                if str(c).startswith(FRACTION_PREFIX)
            },
        },
        geometry=geoms[keep],
        crs=polys.crs,
    ).to_crs(graph.crs)
    labels = labels[keep]
    bad = nonfinite_coordinates(polys.geometry.to_numpy())
    if bad.any():
        msg = (
            f"{source}: {int(bad.sum())} polygons have coordinates that do not fit the "
            f"street network's CRS ({graph.crs.name}): {examples(labels[bad])}; check "
            "the CRS of the population file"
        )
        raise DataError(msg)
    geoms2, repaired2, _ = clean_polygons(polys.geometry.to_numpy())  # reprojection artefacts
    polys = polys.set_geometry(geoms2)
    repaired_ids = list(carried.get("repaired_ids", []))
    repaired_ids += [str(v) for v in labels[repaired[keep] | repaired2]]

    poly_idx, node_idx = _polygons_of_nodes(polys, graph.x, graph.y)
    # a node on a shared border belongs to one polygon only
    _, first = np.unique(node_idx, return_index=True)
    poly_idx, node_idx = poly_idx[first], node_idx[first]

    extent = graph.extent()
    area = polys.geometry.area.to_numpy()
    inside = polys.geometry.intersection(extent).area.to_numpy()
    share_inside = np.divide(inside, area, out=np.zeros_like(area), where=area > 0)
    share_inside[share_inside > 0.999] = 1.0
    given = polys["population"].to_numpy(float)
    total = given * share_inside

    n_poly = len(polys)
    w_res = graph.node_weights(residential)[node_idx]
    w_all = graph.node_weights()[node_idx]
    res_sum = np.bincount(poly_idx, weights=w_res, minlength=n_poly)
    all_sum = np.bincount(poly_idx, weights=w_all, minlength=n_poly)
    use_res = res_sum[poly_idx] > 0
    weight = np.where(use_res, w_res, w_all)
    denom = np.where(use_res, res_sum[poly_idx], all_sum[poly_idx])
    pop = np.divide(total[poly_idx] * weight, denom, out=np.zeros(len(weight)), where=denom > 0)

    keep_node = pop > 0
    points = gpd.GeoDataFrame(
        {
            "origin_id": np.arange(int(keep_node.sum()), dtype=np.int64),
            "population": pop[keep_node],
            "population_method": polys["population_method"].to_numpy()[poly_idx[keep_node]],
            "node": node_idx[keep_node],
            "node_osmid": graph.node_ids[node_idx[keep_node]],
            **{
                c: polys[c].to_numpy(float)[poly_idx[keep_node]]
                for c in polys.columns
                if str(c).startswith(FRACTION_PREFIX)
            },
        },
        geometry=shapely.points(graph.x[node_idx[keep_node]], graph.y[node_idx[keep_node]]),
        crs=graph.crs,
    )
    no_nodes = (all_sum == 0) & (total > 0)
    allocated = float(points["population"].sum())
    report = {
        "polygons": n_poly,
        "population_input": float(given.sum()),
        "population_allocated": allocated,
        "population_not_allocated": {
            LOSS_OUTSIDE_EXTENT: float((given - total).sum()),
            LOSS_NO_NODE: float(total[no_nodes].sum()),
        },
        "polygons_partly_outside_network": int(((share_inside < 1) & (share_inside > 0)).sum()),
        "polygons_outside_network": int((share_inside == 0).sum()),
        "polygons_without_nodes": int(no_nodes.sum()),
        "population_without_nodes": float(total[no_nodes].sum()),
        "polygons_without_residential_streets": int(((res_sum == 0) & (all_sum > 0)).sum()),
        "polygons_repaired": len(repaired_ids),
        "repaired_ids": repaired_ids[:50],
        "polygons_without_geometry_dropped": int(
            carried.get("polygons_without_geometry_dropped", 0) + no_area.sum()
        ),
    }
    if "hierarchy_resolved" in carried:
        report["hierarchy_resolved"] = carried["hierarchy_resolved"]
    return Origins(points=points, method=ALLOCATION_METHOD, report=report)


def population_inside(
    origins: Origins,
    unit_id: object = None,
    analysed: Collection[str] | None = None,
    *,
    rtol: float = 1e-6,
) -> dict[str, Any]:
    """The population ledger: where every input resident went, and whether it balances.

    Checks ``population_input == sum(origins) + itemised losses`` (from
    ``origins.report``) and splits the origins' population into those inside an
    analysed unit, inside a unit that is not analysed, and outside every unit.

    Parameters
    ----------
    origins
        From :func:`origins_from_polygons` or :func:`origins_from_raster`.
    unit_id
        Finest unit of each origin (aligned with ``origins.points``; NA outside
        every unit). Default: the points' ``unit_id`` column, if any.
    analysed
        Ids of the analysed units (default: every unit).
    rtol
        Relative tolerance of the balance.

    Returns
    -------
    dict
        ``population_input``, ``population_not_allocated`` (by reason),
        ``population_allocated`` (sum of the origins' population),
        ``population_in_analysed_units``, ``population_in_units_not_analysed``,
        ``population_outside_units``, ``residual`` (input minus allocated minus
        losses) and ``balanced``.
    """
    points = origins.points
    pop = points["population"].to_numpy(dtype=float)
    rep = origins.report
    losses = {str(k): float(v) for k, v in rep.get("population_not_allocated", {}).items()}
    allocated = float(pop.sum())
    given = float(rep.get("population_input", allocated))
    if unit_id is None and "unit_id" in points.columns:
        unit_id = points["unit_id"]
    ledger: dict[str, Any] = {
        "population_input": given,
        "population_not_allocated": losses,
        "population_allocated": allocated,
    }
    if unit_id is not None:
        ids = pd.Series(np.asarray(unit_id, dtype=object)).astype("string")
        if len(ids) != len(pop):
            msg = f"unit_id has {len(ids)} values for {len(pop)} origins"
            raise ValueError(msg)
        outside = ids.isna().to_numpy()
        in_analysed = (
            ~outside
            if analysed is None
            else ids.isin({str(a) for a in analysed}).to_numpy() & ~outside
        )
        ledger["population_in_analysed_units"] = float(pop[in_analysed].sum())
        ledger["population_in_units_not_analysed"] = float(pop[~outside & ~in_analysed].sum())
        ledger["population_outside_units"] = float(pop[outside].sum())
    residual = given - allocated - sum(losses.values())
    ledger["residual"] = residual
    ledger["balanced"] = bool(abs(residual) <= rtol * max(abs(given), 1.0))
    return ledger
