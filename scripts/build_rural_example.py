"""Build the bundled rural example: a GENERATED test area, not real data.

A fictional district (示例区) with one urban street (two residents' committees, class
codes 111 and 112) and one market town (示例镇: a town centre, class 121, and four
administrative villages, class 220), on a sparse road network: a 1 km grid of
country roads over 12 x 11 km (so a 15-minute bicycle ride, 3.75 km, stays inside
the data), a 100 m street grid in the urban street, a 200 m grid in the town
centre, a small lane grid in each hamlet, a cycleway and a footway shortcut, and a
motorway that neither walkers nor cyclists may use. Facilities are tagged OSM nodes
in the same file: the "三室两点" in some villages and not in others, the town's
health centre, school and market, and a few urban facilities.

Everything is made up: the geometry sits at Qingpu's latitude only so that the UTM
zone and the map look plausible; names are 示例/甲乙丙丁; the codes start with 3199
(no real area). Deterministic: re-running it writes byte-identical files.

Usage: ``python scripts/build_rural_example.py [--out data/rural-example]``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path
from xml.sax.saxutils import quoteattr

import pyproj

#: South-west corner of the generated area (lon, lat): west of Qingpu new town.
LON0, LAT0 = 121.02, 31.10
UTM = "EPSG:32651"

#: Extent of the road network (m) and of the governance units inside it.
WIDTH, HEIGHT = 12_000, 11_000

#: Level names of the three unit levels, coarsest first.
LEVELS = ("district", "street", "committee")

#: Finest units: id, name, parent, class code, (x0, y0, x1, y1) in metres, residents.
UNITS = [
    ("319901001001", "示例路第一居委会", "319901001", "111", (4000, 5500, 5000, 7000), 8000),
    ("319901001002", "示例路第二居委会", "319901001", "112", (4000, 4000, 5000, 5500), 6000),
    ("319901101001", "示例镇镇区居委会", "319901101", "121", (5000, 4000, 6000, 7000), 5000),
    ("319901101201", "甲村", "319901101", "220", (6000, 5500, 7000, 7000), 1200),
    ("319901101202", "乙村", "319901101", "220", (6000, 4000, 7000, 5500), 900),
    ("319901101203", "丙村", "319901101", "220", (7000, 5500, 8000, 7000), 700),
    ("319901101204", "丁村", "319901101", "220", (7000, 4000, 8000, 5500), 500),
]
PARENTS = [
    ("319901", "示例区", None, (4000, 4000, 8000, 7000)),
    ("319901001", "示例路街道", "319901", (4000, 4000, 5000, 7000)),
    ("319901101", "示例镇", "319901", (5000, 4000, 8000, 7000)),
]

#: Hamlets (the natural villages' built-up clusters): centre (m) and lanes per side.
HAMLETS = {
    "甲村": (6500, 6300),
    "乙村": (6400, 4700),
    "丙村": (7500, 6250),
    "丁村": (7600, 4600),
}

#: Facilities: (x, y, tags). Village 甲 has all of 三室两点; 乙 lacks the clinic and the
#: fitness point; 丙 lacks the elderly room and the shop; 丁 has only its committee.
FACILITIES: list[tuple[float, float, dict[str, str]]] = [
    # town centre: the town tier
    (5500, 5500, {"amenity": "hospital", "name": "示例镇社区卫生服务中心"}),
    (5400, 6000, {"amenity": "school", "name": "示例镇中心小学"}),
    (5600, 5000, {"amenity": "marketplace", "name": "示例镇农贸市场"}),
    (5500, 5900, {"shop": "convenience", "name": "镇区便利店"}),
    # 甲村: all five
    (6520, 6310, {"office": "government", "name": "甲村村民委员会"}),
    (6480, 6290, {"amenity": "clinic", "name": "甲村卫生室"}),
    (6500, 6350, {"amenity": "community_centre", "name": "甲村老年活动室"}),
    (6460, 6330, {"shop": "convenience", "name": "甲村便民商店"}),
    (6540, 6270, {"leisure": "fitness_station", "name": "甲村健身点"}),
    # 乙村: no clinic, no fitness point
    (6400, 4720, {"office": "government", "name": "乙村村委会"}),
    (6420, 4680, {"amenity": "community_centre", "name": "乙村老年活动室"}),
    (6380, 4700, {"shop": "convenience", "name": "乙村小卖部"}),
    # 丙村: no elderly room, no shop
    (7500, 6270, {"office": "government", "name": "丙村村民委员会"}),
    (7520, 6230, {"amenity": "clinic", "name": "丙村卫生室"}),
    (7480, 6250, {"leisure": "fitness_station", "name": "丙村健身点"}),
    # 丁村: the committee only
    (7600, 4620, {"office": "government", "name": "丁村村委会"}),
    # urban street: GB 50180 facilities
    (4500, 6200, {"amenity": "kindergarten", "name": "示例幼儿园"}),
    (4500, 4700, {"amenity": "school", "name": "示例路小学"}),
    (4300, 5600, {"amenity": "clinic", "name": "示例路社区卫生服务站"}),
    (4700, 5400, {"shop": "convenience", "name": "示例便利店"}),
    (4600, 6600, {"amenity": "marketplace", "name": "示例路菜市场"}),
    (4400, 5000, {"amenity": "community_centre", "name": "示例路社区服务站"}),
    (4200, 6400, {"leisure": "pitch", "name": "示例运动场"}),
    (4800, 4300, {"highway": "bus_stop", "name": "示例路站"}),
    (4300, 4200, {"highway": "bus_stop", "name": "示例路南站"}),
    (4550, 5800, {"leisure": "park", "name": "示例公园"}),
    (4700, 6800, {"amenity": "school", "name": "示例路初级中学"}),
    (
        4250,
        4800,
        {"amenity": "social_facility", "social_facility": "day_care", "name": "示例路日间照料中心"},
    ),
]


def _lonlat(x: float, y: float) -> tuple[float, float]:
    """Metres east/north of the corner -> lon/lat (through the UTM zone)."""
    to_utm = pyproj.Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    to_ll = pyproj.Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)
    x0, y0 = to_utm.transform(LON0, LAT0)
    lon, lat = to_ll.transform(x0 + x, y0 + y)
    return round(lon, 7), round(lat, 7)


class _Osm:
    """Nodes and ways of the generated OSM file, with shared nodes at equal coordinates."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], int] = {}
        self.tagged: list[tuple[int, tuple[int, int], dict[str, str]]] = []
        self.ways: list[tuple[int, list[int], dict[str, str]]] = []

    def node(self, x: float, y: float) -> int:
        key = (round(x), round(y))
        if key not in self.nodes:
            self.nodes[key] = len(self.nodes) + 1
        return self.nodes[key]

    def way(self, points: list[tuple[float, float]], tags: dict[str, str]) -> None:
        refs = [self.node(x, y) for x, y in points]
        self.ways.append((100_000 + len(self.ways), refs, tags))

    def grid(
        self, box: tuple[int, int, int, int], step: int, tags: dict[str, str], node_step: int = 0
    ) -> None:
        """Streets every ``step`` metres, with a node every ``node_step`` (default: step)."""
        x0, y0, x1, y1 = box
        along = node_step or step
        xs = list(range(x0, x1 + 1, along))
        ys = list(range(y0, y1 + 1, along))
        for y in range(y0, y1 + 1, step):
            self.way([(x, y) for x in xs], tags)
        for x in range(x0, x1 + 1, step):
            self.way([(x, y) for y in ys], tags)

    def poi(self, x: float, y: float, tags: dict[str, str]) -> None:
        self.tagged.append((500_000 + len(self.tagged), (round(x), round(y)), tags))

    def xml(self) -> str:
        lines = [
            '<?xml version="1.0" encoding="UTF-8"?>',
            '<osm version="0.6" generator="lifecircle">',
        ]
        for (x, y), nid in sorted(self.nodes.items(), key=lambda kv: kv[1]):
            lon, lat = _lonlat(x, y)
            lines.append(f'  <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
        for nid, (x, y), tags in self.tagged:
            lon, lat = _lonlat(x, y)
            lines.append(f'  <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}">')
            lines.extend(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
            lines.append("  </node>")
        for wid, refs, tags in self.ways:
            lines.append(f'  <way id="{wid}" version="1">')
            lines.extend(f'    <nd ref="{r}"/>' for r in refs)
            lines.extend(f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
            lines.append("  </way>")
        lines.append("</osm>")
        return "\n".join(lines) + "\n"


def build_osm() -> str:
    """The generated street network and facilities as OSM XML."""
    osm = _Osm()
    country = {"highway": "unclassified"}
    osm.grid((0, 0, WIDTH, HEIGHT), 1000, country, node_step=100)  # sparse country roads
    osm.grid((4000, 4000, 5000, 7000), 100, {"highway": "residential"})  # urban street
    osm.grid((5000, 4000, 6000, 7000), 200, {"highway": "residential"})  # town centre
    for cx, cy in HAMLETS.values():  # hamlet lanes, joined to the nearest country road
        osm.grid((cx - 200, cy - 200, cx + 200, cy + 200), 100, {"highway": "residential"})
        osm.way([(cx, cy - 200), (cx, (cy // 1000) * 1000)], {"highway": "track"})
    # a cycleway from 丁村 straight to the town centre, a footway-only shortcut from 乙村
    osm.way([(7600, 4400), (6800, 4400), (6000, 4400)], {"highway": "cycleway"})
    osm.way([(6200, 4700), (6000, 4800)], {"highway": "footway"})
    # an expressway across the area: no walking, no cycling
    osm.way([(0, 8500), (WIDTH, 8500)], {"highway": "motorway", "ref": "G示例"})
    for x, y, tags in FACILITIES:
        osm.poi(x, y, tags)
    return osm.xml()


def _polygon(box: tuple[int, int, int, int]) -> list[list[list[float]]]:
    x0, y0, x1, y1 = box
    ring = [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    return [[list(_lonlat(x, y)) for x, y in ring]]


def _geojson(features: list[dict]) -> str:
    doc = {
        "type": "FeatureCollection",
        "name": "generated",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}},
        "features": features,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1) + "\n"


def build_units() -> str:
    """The governance units (district, street/town, committee/village) as GeoJSON."""
    features = []
    for uid, name, parent, box in PARENTS:
        level = LEVELS[0] if parent is None else LEVELS[1]
        props = {
            "unit_id": uid,
            "name": name,
            "parent_id": parent,
            "level": level,
            "urban_rural_code": None,
        }
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Polygon", "coordinates": _polygon(box)},
            }
        )
    for uid, name, parent, code, box, _ in UNITS:
        props = {
            "unit_id": uid,
            "name": name,
            "parent_id": parent,
            "level": LEVELS[2],
            "urban_rural_code": code,
        }
        features.append(
            {
                "type": "Feature",
                "properties": props,
                "geometry": {"type": "Polygon", "coordinates": _polygon(box)},
            }
        )
    return _geojson(features)


def build_population() -> str:
    """Residents per finest unit (made up) as GeoJSON."""
    features = [
        {
            "type": "Feature",
            "properties": {"unit_id": uid, "name": name, "population": pop},
            "geometry": {"type": "Polygon", "coordinates": _polygon(box)},
        }
        for uid, name, _, _, box, pop in UNITS
    ]
    return _geojson(features)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def main() -> None:
    """Command-line entry point."""
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=root / "data" / "rural-example")
    args = parser.parse_args()
    _write(args.out / "streets.osm", build_osm())
    _write(args.out / "units.geojson", build_units())
    _write(args.out / "population.geojson", build_population())
    print(f"wrote the generated rural example to {args.out}")


if __name__ == "__main__":
    main()
