"""Read OpenStreetMap files (PBF, XML, bz2-compressed) with pyosmium.

Two readers: :func:`read_walk_ways` returns the walkable ways as flat node and
edge arrays for :func:`lifecircle.network.graph_from_edges`;
:func:`read_osm_pois` returns tagged nodes and areas as a GeoDataFrame for the
facility classifier.
"""

from __future__ import annotations

import array
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from .._mode_filter import check_mode, tag_keys, way_allowed
from ..errors import InputFileError, InputFormatError

if TYPE_CHECKING:  # osmium is imported lazily at run time
    import osmium

_OSM_SUFFIXES = {
    ".osm.pbf": "pbf",
    ".pbf": "pbf",
    ".osm": "osm",
    ".osm.xml": "osm",
    ".xml": "osm",
    ".osm.bz2": "osm.bz2",
    ".osm.xml.bz2": "osm.bz2",
    ".xml.bz2": "osm.bz2",
    ".osm.gz": "osm.gz",
}


@dataclass(frozen=True)
class OsmWays:
    """Walkable ways as flat arrays: nodes (id, lon, lat) and edges between node indices.

    ``invalid_locations`` counts the nodes of walkable ways that had no valid
    location in the file (a missing or impossible lat/lon, or a node missing
    from an extract); they are skipped and the way joins their neighbours.
    """

    node_ids: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_class: np.ndarray
    invalid_locations: int = 0


def _osm_file(path: str | Path) -> osmium.io.File:
    import osmium

    path = Path(path)
    if not path.is_file():
        msg = f"OSM file {str(path)!r} does not exist; check the path"
        raise InputFileError(msg)
    name = path.name.lower()
    for suffix in sorted(_OSM_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return osmium.io.File(str(path), _OSM_SUFFIXES[suffix])
    msg = f"{path}: not an OSM file; expected .osm.pbf, .osm, .osm.xml or .osm.bz2"
    raise InputFormatError(msg)


class _WayFilter:
    """:func:`~lifecircle._mode_filter.way_allowed` of one mode, for OSM tag lists.

    Decided once per distinct combination of the values of the tags it reads
    (:func:`~lifecircle._mode_filter.tag_keys`; a city has a few dozen): ~0.7 CPU s
    less per million-node city than deciding every way anew.
    """

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self.keys = tag_keys(mode)
        self._decided: dict[tuple[str | None, ...], bool] = {}

    def __call__(self, tags: osmium.osm.TagList) -> bool:
        values = tuple(tags.get(key) for key in self.keys)
        allowed = self._decided.get(values)
        if allowed is None:
            by_key = dict(zip(self.keys, values, strict=True))
            allowed = way_allowed(self.mode, lambda key: (by_key.get(key),))
            self._decided[values] = allowed
        return allowed


def read_walk_ways(path: str | Path, *, mode: str = "walk") -> OsmWays:
    """Read the ways of an OSM file that a travel mode may use (walkable ways by default).

    Parameters
    ----------
    path
        An ``.osm.pbf``, ``.osm``/``.osm.xml`` or ``.osm.bz2`` file.
    mode
        ``walk`` (default), ``bicycle`` or ``ebike``: the network filter of
        :func:`lifecircle._mode_filter.way_allowed`.

    Returns
    -------
    OsmWays
        Nodes referenced by walkable ways and one edge per consecutive node pair;
        ``invalid_locations`` counts the skipped nodes without a valid location.
    """
    import osmium

    allowed = _WayFilter(check_mode(mode))
    source = _osm_file(path)
    # per node of the walkable ways, in way order: its id and fixed-point coordinates (one
    # pass, three attribute reads; validity and degrees are worked out on the arrays)
    # typed arrays, not lists: each int is freed as soon as it is stored, so millions of
    # small objects never live at once (their memory stayed fragmented after the read)
    arrays = [array.array("q") for _ in range(4)]
    refs, xs, ys, lengths = arrays
    classes: list[str] = []
    distinct: dict[str, str] = {}  # each class string kept once
    try:
        processor = (
            osmium.FileProcessor(source, osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        for obj in processor:
            if not isinstance(obj, osmium.osm.Way) or not allowed(obj.tags):
                continue
            for n in obj.nodes:
                refs.append(n.ref)
                xs.append(n.x)
                ys.append(n.y)
            lengths.append(len(obj.nodes))
            highway = obj.tags["highway"]  # present: way_allowed checked it
            classes.append(distinct.setdefault(highway, highway))
    except RuntimeError as exc:
        msg = f"{path}: could not be read as OSM data ({exc}); is the file complete?"
        raise InputFormatError(msg) from None
    ref_a, x_a, y_a, len_a = (
        np.frombuffer(a, np.int64) if len(a) else np.empty(0, np.int64) for a in arrays
    )
    return _ways_from_nodes(ref_a, x_a, y_a, len_a, np.asarray(classes, dtype=object))


#: osmium's fixed-point coordinates: degrees times 10**7; valid within +-180 / +-90 degrees
#: (``osmium::Location::valid``; a node without a location, e.g. missing from an extract,
#: has an out-of-range "undefined" coordinate)
_COORDINATE_FACTOR = 10_000_000


def _ways_from_nodes(
    refs: np.ndarray, x: np.ndarray, y: np.ndarray, lengths: np.ndarray, classes: np.ndarray
) -> OsmWays:
    """Nodes and edges from the ways' node lists (flat, in way order, ``lengths`` per way).

    Nodes without a valid location are dropped and their way joins their neighbours; a
    way left with fewer than two nodes is dropped.
    """
    valid = (np.abs(x) <= 180 * _COORDINATE_FACTOR) & (np.abs(y) <= 90 * _COORDINATE_FACTOR)
    invalid = int(np.unique(refs[~valid]).size)
    way_of = np.repeat(np.arange(len(lengths)), lengths)[valid]
    refs, x, y = refs[valid], x[valid], y[valid]
    kept = np.bincount(way_of, minlength=len(lengths)) >= 2
    keep = kept[way_of]
    refs, x, y, way_of = refs[keep], x[keep], y[keep], way_of[keep]
    if len(refs) == 0:
        return OsmWays(
            node_ids=np.empty(0, np.int64),
            lon=np.empty(0, float),
            lat=np.empty(0, float),
            edge_u=np.empty(0, np.int64),
            edge_v=np.empty(0, np.int64),
            edge_class=np.empty(0, object),
            invalid_locations=invalid,
        )
    node_ids, first, inverse = np.unique(refs, return_index=True, return_inverse=True)
    same_way = way_of[1:] == way_of[:-1]
    return OsmWays(
        node_ids=node_ids,
        # as osmium's Location.lon / .lat: the fixed-point value divided by 10**7
        lon=x[first] / _COORDINATE_FACTOR,
        lat=y[first] / _COORDINATE_FACTOR,
        edge_u=inverse[:-1][same_way],
        edge_v=inverse[1:][same_way],
        edge_class=classes[way_of[:-1][same_way]],
        invalid_locations=invalid,
    )


def read_osm_pois(path: str | Path, keys: Iterable[str]) -> gpd.GeoDataFrame:
    """Read tagged nodes and areas (closed ways, multipolygons) of an OSM file.

    Parameters
    ----------
    path
        An OSM file.
    keys
        Only objects with at least one of these tag keys are read.

    Returns
    -------
    geopandas.GeoDataFrame
        ``osm_type``, ``osm_id``, ``name``, ``name:zh``, ``name:en`` and one column
        per key; EPSG:4326; points for nodes, polygons for areas.
        ``.attrs["invalid_locations"]`` counts tagged nodes without a valid
        location and ``.attrs["broken_areas"]`` areas whose polygon could not be
        built (both skipped).
    """
    import osmium

    keys = sorted(set(keys))
    source = _osm_file(path)
    wkb = osmium.geom.WKBFactory()
    columns = ["name", "name:zh", "name:en", *keys]
    rows: list[dict[str, str | None]] = []
    geoms: list[bytes] = []
    n_invalid = n_broken = 0
    try:
        processor = (
            osmium.FileProcessor(source).with_areas().with_filter(osmium.filter.KeyFilter(*keys))
        )
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():  # e.g. a hand-written node without lat
                    n_invalid += 1
                    continue
                geom, osm_type, osm_id = wkb.create_point(obj), "node", obj.id
            elif isinstance(obj, osmium.osm.Area):
                try:
                    geom = wkb.create_multipolygon(obj)
                except (RuntimeError, osmium.InvalidLocationError):  # broken area geometry
                    n_broken += 1
                    continue
                osm_type = "way" if obj.from_way() else "relation"
                osm_id = obj.orig_id()
            else:
                continue
            row = {k: obj.tags.get(k) for k in columns}
            row["osm_type"], row["osm_id"] = osm_type, str(osm_id)
            rows.append(row)
            geoms.append(bytes.fromhex(geom) if isinstance(geom, str) else geom)
    except RuntimeError as exc:
        msg = f"{path}: could not be read as OSM data ({exc}); is the file complete?"
        raise InputFormatError(msg) from None
    frame = pd.DataFrame(rows, columns=["osm_type", "osm_id", *columns])
    out = gpd.GeoDataFrame(frame, geometry=shapely.from_wkb(geoms), crs="EPSG:4326")
    out.attrs["invalid_locations"] = n_invalid
    out.attrs["broken_areas"] = n_broken
    return out
