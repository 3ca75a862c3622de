"""A synthetic OpenStreetMap city for end-to-end benchmarks (issue 12).

Run from the repository root::

    python bench/city.py --nodes 100000 --seed 0 --out /tmp/city-100k

writes into ``--out``:

- ``city.osm.pbf``: a street network of about ``--nodes`` walk-graph nodes and its POIs.
  Streets: a jittered grid of 100 m blocks whose segments carry 0-3 shape nodes
  (curves), ways of 1-8 blocks that break at random as OSM ways do, a primary road
  every 10th line (half of its ways ``oneway=yes``), a tertiary one every 5th, the rest
  residential (10 % ``oneway=yes``, 2 % ``access=private`` gated roads, a few
  ``living_street``); inside blocks, footways across (25 % of blocks) and service
  spurs (35 %; of these 20 % ``access=private`` and 10 % ``foot=no``, both not
  walkable). A meandering river (``waterway=river`` and a ``natural=water`` band)
  crosses the city west to east; every street segment crossing it is removed except a
  few bridges (``bridge=yes``, ``layer=1``, one about every 1.5 km), so the two banks
  are joined only there.
  POIs, as nodes and as polygons (closed ways, and some parks as multipolygon
  relations), with the tags the bundled GB 50180-2018 standard selects for each of
  its 11 categories (``amenity=kindergarten``, ``amenity=school`` named 小学/初级中学,
  ``amenity=clinic``, ``amenity=social_facility`` + ``social_facility=day_care``,
  ``amenity=marketplace``, ``shop=supermarket|convenience``, ``leisure=park|pitch|
  fitness_station``, ``highway=bus_stop``, ``amenity=community_centre``,
  ``office=government`` named 居委会 ...) plus decoys that match no category
  (restaurants, clothes shops, senior high schools named 高级中学). Their density is
  higher in the centre than at the edge, so outer units have real gaps.
- ``units.gpkg``: one layer ``units`` with three governance levels (``district`` ->
  ``street`` -> ``community``, ids in the style of China's statistical codes: 6, 12
  and 12 digits), ``unit_id``, ``name``, ``parent_id``, ``level``, ``population`` and
  the census-style age shares ``age_0_14``, ``age_15_64``, ``age_65_plus`` (percent)
  on every unit (a parent's population is the sum of its children's, its shares their
  population-weighted mean). The units cover the street grid less a margin of 1.2 km
  (more than the 1,080 m walking reach), so every unit's catchment lies inside the
  street data; the same file serves as ``--population`` (its finest level is used).
- ``city.yaml``: a study file with these inputs and GB 50180-2018.
- ``city.json``: what was generated (sizes, counts, the seed); written last, so its
  presence means the folder is complete.

The same ``--nodes`` and ``--seed`` give byte-identical files. The walk-node count
is calibrated (the grid is resized once after a first layout) and printed; it is
within a few percent of ``--nodes``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

LON0, LAT0 = 121.0, 31.0
M_PER_DEG_LAT = 110_574.0
M_PER_DEG_LON = 111_320.0 * math.cos(math.radians(LAT0))
BLOCK_M = 100.0  # street spacing
JITTER_M = 12.0  # standard deviation of the intersection jitter
MAX_SHAPE = 3  # shape nodes per segment: 0..MAX_SHAPE
INSET_M = 1200.0  # units stay this far inside the street grid (> the 1,080 m reach)
COMMUNITY_M = 500.0  # side of a residents' committee (finest unit)
BRIDGE_EVERY_M = 1500.0
GPKG_DATE = "2026-01-01T00:00:00.000Z"  # fixed GeoPackage time stamp (reproducible bytes)
WALKABLE = {
    "primary",
    "tertiary",
    "residential",
    "living_street",
    "footway",
    "service",
}

# Facilities per km² at the centre of the city (the edge gets 30 % of it) and the
# tags of each. Each entry: (per km², share drawn as a polygon, polygon side in m,
# tags); a name with "{n}" gets a running number.
POIS: dict[str, list[tuple[float, float, float, dict[str, str]]]] = {
    "kindergarten": [(2.0, 0.3, 50.0, {"amenity": "kindergarten", "name": "第{n}幼儿园"})],
    "primary_school": [
        (0.8, 0.7, 110.0, {"amenity": "school", "name": "第{n}小学"}),
        (0.1, 0.7, 110.0, {"amenity": "school", "isced:level": "1", "name": "{n}号学校"}),
    ],
    "junior_high_school": [
        (0.3, 0.7, 120.0, {"amenity": "school", "name": "第{n}初级中学"}),
        (0.05, 0.7, 120.0, {"amenity": "school", "name": "第{n}九年一贯制学校"}),
    ],
    "health_center": [
        (0.5, 0.2, 60.0, {"amenity": "clinic", "healthcare": "clinic", "name": "{n}卫生服务中心"}),
        (0.1, 0.9, 150.0, {"amenity": "hospital", "healthcare": "hospital", "name": "第{n}医院"}),
    ],
    "elderly_care": [
        (
            1.6,
            0.2,
            40.0,
            {"amenity": "social_facility", "social_facility": "day_care", "name": "{n}照料中心"},
        ),
        (0.3, 0.5, 60.0, {"amenity": "nursing_home", "name": "第{n}敬老院"}),
    ],
    "fresh_market": [
        (0.8, 0.5, 50.0, {"amenity": "marketplace", "name": "{n}菜市场"}),
        (0.8, 0.1, 40.0, {"shop": "supermarket", "name": "{n}超市"}),
    ],
    "convenience_store": [(6.0, 0.0, 0.0, {"shop": "convenience", "name": "{n}便利店"})],
    "park": [(0.6, 0.9, 250.0, {"leisure": "park", "name": "{n}公园"})],
    "sports_ground": [
        (0.5, 1.0, 35.0, {"leisure": "pitch", "sport": "basketball"}),
        (0.3, 0.0, 0.0, {"leisure": "fitness_station"}),
    ],
    "community_service": [
        (1.4, 0.2, 40.0, {"amenity": "community_centre", "name": "{n}社区服务站"}),
        (0.4, 0.0, 0.0, {"office": "government", "name": "{n}居委会"}),
    ],
    "decoy": [
        (5.0, 0.0, 0.0, {"amenity": "restaurant", "name": "{n}餐厅"}),
        (3.0, 0.0, 0.0, {"shop": "clothes"}),
        (0.2, 0.7, 120.0, {"amenity": "school", "name": "第{n}高级中学"}),
    ],
}
BUS_STOPS_PER_KM2 = 4.0
PARK_RELATION_SHARE = 0.15


@dataclass
class City:
    """A generated city in metres (x east, y north from the south-west corner)."""

    rows: int
    cols: int
    x: np.ndarray  # every OSM node, id = index + 1
    y: np.ndarray
    node_tags: dict[int, dict[str, str]] = field(default_factory=dict)  # index -> tags
    ways: list[tuple[np.ndarray, dict[str, str]]] = field(default_factory=list)  # node indices
    relations: list[tuple[list[int], dict[str, str]]] = field(default_factory=list)  # way indices
    walk_nodes: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def width_m(self) -> float:
        return (self.cols - 1) * BLOCK_M

    @property
    def height_m(self) -> float:
        return (self.rows - 1) * BLOCK_M


class _Nodes:
    """Grows the node arrays; ids are allocated in order (index + 1)."""

    def __init__(self) -> None:
        self.xs: list[np.ndarray] = []
        self.ys: list[np.ndarray] = []
        self.n = 0

    def add(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        x, y = np.atleast_1d(np.asarray(x, float)), np.atleast_1d(np.asarray(y, float))
        self.xs.append(x)
        self.ys.append(y)
        first = self.n
        self.n += len(x)
        return np.arange(first, self.n)


def _river_y(x: np.ndarray, width: float, height: float) -> np.ndarray:
    """The river's centre line: y as a function of x (it crosses the city west to east)."""
    amp = min(500.0, 0.08 * height)
    return (
        0.42 * height
        + amp * np.sin(2 * np.pi * x / max(3000.0, width / 4))
        + 0.4 * amp * np.sin(2 * np.pi * x / 1100.0 + 1.0)
    )


def _line_sequence(inter: np.ndarray, m: np.ndarray, start: np.ndarray) -> tuple[np.ndarray, ...]:
    """Node sequence of a street line: intersections with each segment's shape nodes between.

    Returns the sequence and the position of every intersection in it.
    """
    n_seg = len(m)
    pos = np.arange(n_seg + 1) + np.concatenate([[0], np.cumsum(m)])
    seq = np.empty(pos[-1] + 1, np.int64)
    seq[pos] = inter
    seg_of = np.repeat(np.arange(n_seg), m)
    within = np.arange(len(seg_of)) - np.repeat(np.cumsum(m) - m, m)
    seq[pos[seg_of] + 1 + within] = start[seg_of] + within
    return seq, pos


def _street_class(k: int) -> str:
    if k % 10 == 5:
        return "primary"
    if k % 5 == 0:
        return "tertiary"
    return "residential"


def _streets(rng: np.random.Generator, rows: int, cols: int, nodes: _Nodes, city: City) -> dict:
    """The jittered street grid, cut by the river except at bridges; returns lookups."""
    ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    ix = jj * BLOCK_M + np.clip(rng.normal(0, JITTER_M, ii.shape), -30, 30)
    iy = ii * BLOCK_M + np.clip(rng.normal(0, JITTER_M, ii.shape), -30, 30)
    inter = nodes.add(ix.ravel(), iy.ravel()).reshape(rows, cols)
    width, height = (cols - 1) * BLOCK_M, (rows - 1) * BLOCK_M
    side = np.sign(iy - _river_y(ix, width, height))  # -1 south, +1 north of the river
    out: dict[str, Any] = {"inter": inter, "ix": ix, "iy": iy, "side": side}
    bridge_step = max(2, round(BRIDGE_EVERY_M / BLOCK_M))
    n_bridges = 0
    for horizontal in (True, False):
        # segments along each line: horizontal = along rows (x grows), else along columns
        n_lines, n_seg = (rows, cols - 1) if horizontal else (cols, rows - 1)
        m = rng.integers(0, MAX_SHAPE + 1, (n_lines, n_seg))
        a = inter if horizontal else inter.T
        ax, ay = (ix, iy) if horizontal else (ix.T, iy.T)
        ux, uy, vx, vy = ax[:, :-1], ay[:, :-1], ax[:, 1:], ay[:, 1:]
        # shape nodes: evenly along the segment, pushed sideways a little (curves)
        seg_of = np.repeat(np.arange(m.size), m.ravel())
        k = np.arange(len(seg_of)) - np.repeat(np.cumsum(m.ravel()) - m.ravel(), m.ravel())
        t = (k + 1) / (m.ravel()[seg_of] + 1)
        dx, dy = (vx - ux).ravel()[seg_of], (vy - uy).ravel()[seg_of]
        norm = np.hypot(dx, dy)
        off = rng.normal(0, 2.5, len(seg_of))
        sx = ux.ravel()[seg_of] + t * dx - off * dy / norm
        sy = uy.ravel()[seg_of] + t * dy + off * dx / norm
        shape = nodes.add(sx, sy)
        start = (shape[0] if len(shape) else 0) + np.cumsum(m.ravel()) - m.ravel()
        start = start.reshape(m.shape)
        s_side = side if horizontal else side.T
        crosses = s_side[:, :-1] != s_side[:, 1:]
        bridge = np.zeros_like(crosses)
        if not horizontal:
            bridge[bridge_step // 2 :: bridge_step] = crosses[bridge_step // 2 :: bridge_step]
            if bridge.sum() < 2:  # a small city still gets two bridges
                lines = np.flatnonzero(crosses.any(axis=1))
                pick = lines[[len(lines) // 3, 2 * len(lines) // 3]] if len(lines) > 1 else lines
                bridge[pick] = crosses[pick]
            n_bridges = int(bridge.sum())
        brk = rng.random(m.shape) < 0.2  # OSM ways end at some intersections
        out["m_h" if horizontal else "m_v"] = m
        out["start_h" if horizontal else "start_v"] = start
        for line in range(n_lines):
            seq, pos = _line_sequence(a[line], m[line], start[line])
            cls = _street_class(line)
            _line_ways(rng, seq, pos, cls, crosses[line], bridge[line], brk[line], city)
    city.counts["bridges"] = n_bridges
    return out


def _line_ways(
    rng: np.random.Generator,
    seq: np.ndarray,
    pos: np.ndarray,
    cls: str,
    cut: np.ndarray,
    bridge: np.ndarray,
    brk: np.ndarray,
    city: City,
) -> None:
    """Split one street line into ways: at the river, at bridges and at random breaks."""
    n_seg = len(cut)
    s = 0
    while s < n_seg:
        if cut[s] and not bridge[s]:
            s += 1
            continue
        if bridge[s]:
            tags = {"highway": cls, "bridge": "yes", "layer": "1"}
            city.ways.append((seq[pos[s] : pos[s + 1] + 1], tags))
            s += 1
            continue
        e = s + 1
        while e < n_seg and not cut[e] and not brk[e] and e - s < 8:
            e += 1
        tags = {"highway": cls}
        r = rng.random()
        if cls == "primary":
            tags["name"] = "大道"
            if r < 0.5:
                tags["oneway"] = "yes"
        elif cls == "residential":
            if r < 0.1:
                tags["oneway"] = "yes"
            elif r < 0.12:
                tags["access"] = "private"
            elif r < 0.14:
                tags["highway"] = "living_street"
        city.ways.append((seq[pos[s] : pos[e] + 1], tags))
        s = e


def _inside_blocks(rng: np.random.Generator, grid: dict, nodes: _Nodes, city: City) -> None:
    """Footways across blocks and service spurs into them (some not walkable)."""
    side, m_h, m_v = grid["side"], grid["m_h"], grid["m_v"]
    # a block keeps to one bank of the river
    same = (side[:-1, :-1] == side[1:, :-1]) & (side[:-1, :-1] == side[:-1, 1:])
    same &= side[:-1, :-1] == side[1:, 1:]
    x, y = np.concatenate(nodes.xs), np.concatenate(nodes.ys)
    # footway: from the first shape node of the block's west side to that of its east side
    west, east = m_v.T[:, :-1], m_v.T[:, 1:]  # m_v is (cols, rows - 1)
    foot = same & (west > 0) & (east > 0) & (rng.random(same.shape) < 0.25)
    bi, bj = np.nonzero(foot)
    a = grid["start_v"][bj, bi]
    b = grid["start_v"][bj + 1, bi]
    mid = nodes.add(
        (x[a] + x[b]) / 2 + rng.normal(0, 6, len(a)), (y[a] + y[b]) / 2 + rng.normal(0, 6, len(a))
    )
    for p, q, c in zip(a, b, mid, strict=True):
        city.ways.append((np.array([p, c, q]), {"highway": "footway"}))
    city.counts["footways"] = len(a)
    # service spur: from the first shape node of the block's south side, 30-50 m north
    south = m_h[:-1, :]  # m_h is (rows, cols - 1)
    spur = same & (south > 0) & (rng.random(same.shape) < 0.35)
    bi, bj = np.nonzero(spur)
    a = grid["start_h"][bi, bj]
    length = rng.uniform(30, 50, len(a))
    p1 = nodes.add(x[a] + rng.normal(0, 3, len(a)), y[a] + length / 2)
    p2 = nodes.add(x[a] + rng.normal(0, 5, len(a)), y[a] + length)
    kind = rng.random(len(a))
    for s, q1, q2, r in zip(a, p1, p2, kind, strict=True):
        tags = {"highway": "service", "service": "driveway" if r < 0.5 else "parking_aisle"}
        if r < 0.2:
            tags["access"] = "private"
        elif r < 0.3:
            tags["foot"] = "no"
        city.ways.append((np.array([s, q1, q2]), tags))
    city.counts["service_spurs"] = len(a)
    city.counts["service_not_walkable"] = int((kind < 0.3).sum())


def _river(grid: dict, nodes: _Nodes, city: City) -> None:
    width, height = city.width_m, city.height_m
    rx = np.arange(-50.0, width + 50.0, 50.0)
    ry = _river_y(rx, width, height)
    line = nodes.add(rx, ry)
    city.ways.append((line, {"waterway": "river", "name": "河"}))
    north = nodes.add(rx[::-1], ry[::-1] + 30)
    south = nodes.add(rx, ry - 30)
    ring = np.concatenate([south, north, south[:1]])
    city.ways.append((ring, {"natural": "water", "water": "river"}))


def _density(x: np.ndarray, y: np.ndarray, width: float, height: float) -> np.ndarray:
    """Relative density, 1 at the centre falling to 0.3 at the edge."""
    r2 = ((x - width / 2) / width) ** 2 + ((y - height / 2) / height) ** 2
    return 0.3 + 0.7 * np.exp(-r2 / (2 * 0.22**2))


def _sample_points(rng: np.random.Generator, n: int, width: float, height: float) -> np.ndarray:
    """``n`` points drawn with the density above (rejection sampling)."""
    pts = np.empty((0, 2))
    while len(pts) < n:
        k = 2 * (n - len(pts)) + 16
        cand = rng.uniform([0, 0], [width, height], (k, 2))
        keep = rng.random(k) < _density(cand[:, 0], cand[:, 1], width, height)
        pts = np.vstack([pts, cand[keep]])
    return pts[:n]


def _pois(rng: np.random.Generator, grid: dict, nodes: _Nodes, city: City) -> None:
    width, height = city.width_m, city.height_m
    area_km2 = width * height / 1e6
    mean_density = 0.55  # about the mean of _density over the city
    number = 0
    for cat, kinds in POIS.items():
        made = 0
        for per_km2, poly_share, side_m, tags in kinds:
            n = max(2, round(per_km2 * mean_density * area_km2))
            pts = _sample_points(rng, n, width, height)
            as_poly = rng.random(n) < poly_share
            sizes = side_m * rng.uniform(0.6, 1.4, n)
            angles = rng.uniform(0, np.pi / 2, n)
            for (px, py), poly, size, ang in zip(pts, as_poly, sizes, angles, strict=True):
                number += 1
                t = {k: v.format(n=number) for k, v in tags.items()}
                if not poly:
                    (i,) = nodes.add(px, py)
                    city.node_tags[int(i)] = t
                    continue
                c, s = math.cos(ang), math.sin(ang)
                h = size / 2
                cx = px + h * np.array([-c + s, c + s, c - s, -c - s])
                cy = py + h * np.array([-s - c, s - c, s + c, -s + c])
                ring = nodes.add(cx, cy)
                ring = np.concatenate([ring, ring[:1]])
                if t.get("leisure") == "park" and rng.random() < PARK_RELATION_SHARE:
                    city.ways.append((ring, {}))
                    city.relations.append(([len(city.ways) - 1], {"type": "multipolygon", **t}))
                else:
                    city.ways.append((ring, t))
            made += n
        city.counts[f"poi_{cat}"] = made
    # bus stops beside the primary and tertiary roads (every 5th grid line)
    ix, iy = grid["ix"], grid["iy"]
    n = max(2, round(BUS_STOPS_PER_KM2 * area_km2))
    rows, cols = ix.shape
    horizontal = rng.random(n) < 0.5
    line = rng.integers(0, max(1, rows // 5), n) * 5
    along = rng.integers(0, cols, n)
    line_v = rng.integers(0, max(1, cols // 5), n) * 5
    along_v = rng.integers(0, rows, n)
    r = np.where(horizontal, np.minimum(line, rows - 1), along_v)
    c = np.where(horizontal, along, np.minimum(line_v, cols - 1))
    bx = ix[r, c] + np.where(horizontal, 30.0, 8.0)
    by = iy[r, c] + np.where(horizontal, 8.0, 30.0)
    for i in nodes.add(bx, by):
        number += 1
        city.node_tags[int(i)] = {
            "highway": "bus_stop",
            "public_transport": "platform",
            "bus": "yes",
            "name": f"{number}路站",
        }
    city.counts["poi_bus_stop"] = n


def layout(rows: int, cols: int, seed: int) -> City:
    """Generate a city of ``rows`` x ``cols`` street intersections (metres, not yet written).

    Parameters
    ----------
    rows, cols
        Street intersections north-south and east-west (100 m apart).
    seed
        Of every random choice.

    Returns
    -------
    City
        The nodes, ways, relations and their tags; ``walk_nodes`` counts the nodes of
        walkable ways (what ``lifecircle`` builds its walk graph from).
    """
    rng = np.random.default_rng(seed)
    city = City(rows=rows, cols=cols, x=np.empty(0), y=np.empty(0))
    nodes = _Nodes()
    grid = _streets(rng, rows, cols, nodes, city)
    _inside_blocks(rng, grid, nodes, city)
    _river(grid, nodes, city)
    _pois(rng, grid, nodes, city)
    city.x, city.y = np.concatenate(nodes.xs), np.concatenate(nodes.ys)
    walk = [
        refs
        for refs, tags in city.ways
        if tags.get("highway") in WALKABLE
        and tags.get("access") != "private"
        and tags.get("foot") != "no"
    ]
    city.walk_nodes = len(np.unique(np.concatenate(walk)))
    city.counts["ways"] = len(city.ways)
    city.counts["relations"] = len(city.relations)
    city.counts["osm_nodes"] = len(city.x)
    return city


def calibrated(nodes: int, seed: int) -> City:
    """A city whose walk graph has about ``nodes`` nodes (one resize after a first layout)."""
    side = max(12, round(math.sqrt(nodes / 5.0)))
    city = layout(side, side, seed)
    side = max(12, round(side * math.sqrt(nodes / city.walk_nodes)))
    if side != city.rows:
        city = layout(side, side, seed)
    return city


def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Metres of the city to WGS84 (a local equirectangular frame), rounded as OSM stores."""
    lon = np.round(LON0 + x / M_PER_DEG_LON, 7)
    lat = np.round(LAT0 + y / M_PER_DEG_LAT, 7)
    return lon, lat


def write_pbf(city: City, path: Path) -> None:
    """Write the city as an OSM PBF file (nodes, then ways, then relations, by id)."""
    import osmium

    lon, lat = to_lonlat(city.x, city.y)
    if path.exists():
        path.unlink()
    header = osmium.io.Header()
    header.set("generator", "lifecircle bench/city.py")
    writer = osmium.SimpleWriter(str(path), header=header)
    try:
        node = osmium.osm.mutable.Node
        tags = city.node_tags
        for i, (lo, la) in enumerate(zip(lon.tolist(), lat.tolist(), strict=True)):
            writer.add_node(node(id=i + 1, location=(lo, la), tags=tags.get(i, {})))
        way = osmium.osm.mutable.Way
        for k, (refs, t) in enumerate(city.ways):
            writer.add_way(way(id=k + 1, nodes=(refs + 1).tolist(), tags=t))
        rel = osmium.osm.mutable.Relation
        for k, (members, t) in enumerate(city.relations):
            writer.add_relation(
                rel(id=k + 1, members=[("w", w + 1, "outer") for w in members], tags=t)
            )
    finally:
        writer.close()


def _ring(cx: np.ndarray, cy: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Corner indices around the cells [r0, r1) x [c0, c1) of a corner lattice."""
    south = [(r0, c) for c in range(c0, c1 + 1)]
    east = [(r, c1) for r in range(r0 + 1, r1 + 1)]
    north = [(r1, c) for c in range(c1 - 1, c0 - 1, -1)]
    west = [(r, c0) for r in range(r1 - 1, r0 - 1, -1)]
    idx = np.array(south + east + north + west)
    return np.column_stack([cx[idx[:, 0], idx[:, 1]], cy[idx[:, 0], idx[:, 1]]])


def _groups(n: int, size: int) -> list[tuple[int, int]]:
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def margin_m(city: City) -> float:
    """How far the units stay inside the street grid.

    :data:`INSET_M` (more than the walking reach, so every unit is analysed) when the
    city is large enough to keep 1 km of units inside it; a tenth of its side
    otherwise (a test-sized city), whose study then sets ``keep_edge_units``.
    """
    side = min(city.width_m, city.height_m)
    return INSET_M if side - 2 * INSET_M >= 2 * COMMUNITY_M else 0.1 * side


def units(city: City, seed: int) -> Any:
    """Three levels of governance units over the city, with population and age shares.

    Returns
    -------
    geopandas.GeoDataFrame
        ``unit_id``, ``name``, ``parent_id``, ``level``, ``population``, ``age_0_14``,
        ``age_15_64``, ``age_65_plus`` (percent), ``population_source``; EPSG:4326.
    """
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng([seed, 1])
    width, height = city.width_m, city.height_m
    inset = margin_m(city)
    w, h = width - 2 * inset, height - 2 * inset
    nx_, ny_ = max(4, round(w / COMMUNITY_M)), max(4, round(h / COMMUNITY_M))
    gx = inset + np.linspace(0, w, nx_ + 1)
    gy = inset + np.linspace(0, h, ny_ + 1)
    cx, cy = np.meshgrid(gx, gy)  # (ny_+1, nx_+1), rows = y
    jit = 0.15 * min(w / nx_, h / ny_)
    cx[1:-1, 1:-1] += rng.uniform(-jit, jit, (ny_ - 1, nx_ - 1))
    cy[1:-1, 1:-1] += rng.uniform(-jit, jit, (ny_ - 1, nx_ - 1))
    lon, lat = to_lonlat(cx, cy)
    gs = max(2, min(4, min(nx_, ny_) // 4))  # communities per street (each way)
    n_sx, n_sy = math.ceil(nx_ / gs), math.ceil(ny_ / gs)
    gd = max(2, min(4, math.ceil(min(n_sx, n_sy) / 3)))  # streets per district
    rows: list[dict[str, Any]] = []
    geoms: list[Any] = []

    def add(uid: str, name: str, parent: str | None, level: str, ring: np.ndarray) -> int:
        rows.append({"unit_id": uid, "name": name, "parent_id": parent, "level": level})
        geoms.append(shapely.Polygon(ring))
        return len(rows) - 1

    children: dict[int, list[int]] = {}
    d_no = s_no = c_no = 0
    for dr0, dr1 in _groups(n_sy, gd):
        for dc0, dc1 in _groups(n_sx, gd):
            d_no += 1
            did = f"99{d_no:04d}"
            r0, r1, c0, c1 = dr0 * gs, min(dr1 * gs, ny_), dc0 * gs, min(dc1 * gs, nx_)
            d = add(did, f"第{d_no}区", None, "district", _ring(lon, lat, r0, r1, c0, c1))
            children[d] = []
            s_in_d = 0
            for sr0, sr1 in _groups(r1 - r0, gs):
                for sc0, sc1 in _groups(c1 - c0, gs):
                    s_no += 1
                    s_in_d += 1
                    sid = f"{did}{s_in_d:03d}000"
                    ring = _ring(lon, lat, r0 + sr0, r0 + sr1, c0 + sc0, c0 + sc1)
                    s = add(sid, f"{s_no}街道", did, "street", ring)
                    children[d].append(s)
                    children[s] = []
                    k = 0
                    for r in range(r0 + sr0, r0 + sr1):
                        for c in range(c0 + sc0, c0 + sc1):
                            k += 1
                            c_no += 1
                            cid = f"{sid[:9]}{k:03d}"
                            ring = _ring(lon, lat, r, r + 1, c, c + 1)
                            children[s].append(add(cid, f"{c_no}居委会", sid, "community", ring))
    frame = gpd.GeoDataFrame(rows, geometry=geoms, crs="EPSG:4326")
    # population of the communities: density (residents / km²) times area, noisy
    level = frame["level"].to_numpy()
    leaf = np.flatnonzero(level == "community")
    centre = shapely.centroid(np.asarray(frame.geometry.values)[leaf])
    mx = (shapely.get_x(centre) - LON0) * M_PER_DEG_LON
    my = (shapely.get_y(centre) - LAT0) * M_PER_DEG_LAT
    area_km2 = (w * h / 1e6) / len(leaf)
    dens = 25_000.0 * _density(mx, my, width, height) * rng.lognormal(0, 0.3, len(leaf))
    pop = np.zeros(len(frame))
    young = np.zeros(len(frame))
    old = np.zeros(len(frame))
    pop[leaf] = np.round(dens * area_km2)
    # age shares: a district's base plus noise per community, in percent
    for d in np.flatnonzero(level == "district"):
        base_y, base_o = rng.uniform(8, 13), rng.uniform(13, 22)
        for s in children[d]:
            kids = np.array(children[s])
            young[kids] = np.round(base_y + rng.normal(0, 1.0, len(kids)), 2)
            old[kids] = np.round(base_o + rng.normal(0, 1.5, len(kids)), 2)
    for lvl in ("street", "district"):  # parents: sums and population-weighted means
        for p in np.flatnonzero(level == lvl):
            kids = np.array(children[int(p)])
            pop[p] = pop[kids].sum()
            young[p] = np.round((young[kids] * pop[kids]).sum() / pop[p], 2)
            old[p] = np.round((old[kids] * pop[kids]).sum() / pop[p], 2)
    frame["population"] = pop.astype(np.int64)
    frame["age_0_14"] = young
    frame["age_15_64"] = np.round(100.0 - young - old, 2)
    frame["age_65_plus"] = old
    frame["population_source"] = f"synthetic (lifecircle bench/city.py, seed {seed})"
    return frame


def write_units(frame: Any, path: Path) -> None:
    """Write the units GeoPackage with a fixed time stamp (reproducible bytes)."""
    import pyogrio

    if path.exists():
        path.unlink()
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_DATE})
    try:
        frame.to_file(path, layer="units", driver="GPKG")
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


STUDY = """\
# A synthetic city written by bench/city.py (--nodes {nodes} --seed {seed}).
name: Synthetic city ({walk_nodes:,} walk nodes, seed {seed})
network: city.osm.pbf
units: units.gpkg
population: units.gpkg
standard: gb50180-2018
"""


def generate(nodes: int, seed: int, out: str | Path) -> dict[str, Any]:
    """Write a synthetic city of about ``nodes`` walk nodes into ``out``.

    Parameters
    ----------
    nodes
        Target number of walk-graph nodes.
    seed
        Random seed; the same ``nodes`` and ``seed`` give byte-identical files.
    out
        Folder (created); ``city.osm.pbf``, ``units.gpkg``, ``city.yaml`` and
        ``city.json`` are written into it.

    Returns
    -------
    dict
        What ``city.json`` holds: sizes, counts, file names and generation seconds.
    """
    t0 = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "city.json").unlink(missing_ok=True)
    city = calibrated(nodes, seed)
    t1 = time.perf_counter()
    write_pbf(city, out / "city.osm.pbf")
    t2 = time.perf_counter()
    frame = units(city, seed)
    write_units(frame, out / "units.gpkg")
    study = STUDY.format(nodes=nodes, seed=seed, walk_nodes=city.walk_nodes)
    small = margin_m(city) < INSET_M
    if small:  # units reach the edge of the streets: analyse them anyway
        study += "keep_edge_units: true\n"
    (out / "city.yaml").write_text(study, encoding="utf-8")
    levels = frame["level"].value_counts()
    info = {
        "nodes_target": nodes,
        "seed": seed,
        "walk_nodes": city.walk_nodes,
        "grid": [city.rows, city.cols],
        "extent_m": [round(city.width_m), round(city.height_m)],
        "units": {lvl: int(levels.get(lvl, 0)) for lvl in ("district", "street", "community")},
        "population": int(frame.loc[frame["level"] == "community", "population"].sum()),
        "units_margin_m": round(margin_m(city)),
        "keep_edge_units": small,
        **city.counts,
        "files": ["city.osm.pbf", "units.gpkg", "city.yaml"],
    }
    (out / "city.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    # timings go to the caller, not into city.json (its bytes must not vary)
    return {**info, "layout_s": round(t1 - t0, 2), "pbf_s": round(t2 - t1, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--nodes", type=int, default=100_000, help="target walk-graph nodes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True, help="output folder")
    a = ap.parse_args()
    if a.nodes < 500:
        ap.error("--nodes must be at least 500")
    info = generate(a.nodes, a.seed, a.out)
    out = Path(a.out)
    for name in [*info["files"], "city.json"]:
        print(f"wrote {out / name} ({os.path.getsize(out / name) / 1e6:.1f} MB)")
    print(
        f"{info['walk_nodes']:,} walk nodes (target {a.nodes:,}), grid {info['grid'][0]} x "
        f"{info['grid'][1]}, {info['extent_m'][0] / 1000:.1f} x {info['extent_m'][1] / 1000:.1f}"
        f" km, {info['bridges']} bridges, {info['osm_nodes']:,} OSM nodes, {info['ways']:,} ways; "
        f"units {info['units']}, {info['population']:,} residents "
        f"(layout {info['layout_s']} s, PBF {info['pbf_s']} s)"
    )
    print("study:")
    print(f"  lifecircle audit {out / 'city.yaml'} --out {out / 'audit'}")
    print(
        f"  lifecircle audit --network {out / 'city.osm.pbf'} --units {out / 'units.gpkg'} "
        f"--population {out / 'units.gpkg'} --out {out / 'audit'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
