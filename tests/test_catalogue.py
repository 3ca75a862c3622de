"""The catalogue of bad inputs: each is refused with exit code 2 and a message naming
the file or option, the field and the fix, and a previous good ``--out`` is left
byte-identical. One row per case.

A case is ``(id, make)``: ``make(folder, tiny)`` writes whatever bad files it needs into
``folder`` and returns ``(args, needles, env)``: the CLI arguments (without ``--out``),
strings the message must contain, and extra environment variables.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
import yaml

from .conftest import LAT0, LON0, invoke, minimal_standard_dict, osm_grid, osm_xml
from .test_outputs import snapshot, temporaries

pytestmark = pytest.mark.slow

Case = tuple[list[object], list[str], dict[str, str]]
Make = Callable[[Path, dict[str, Path]], Case]

STEP = 0.0035  # unit squares over the 8 x 8 grid (about 330 m)


# --------------------------------------------------------------------------- good inputs


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    """A good tiny study: grid, facilities, two-level units, population polygons."""
    folder = tmp_path_factory.mktemp("catalogue-inputs")
    (folder / "grid.osm").write_text(osm_grid(8), encoding="utf-8")
    (folder / "fac.csv").write_text(
        "lon,lat,category,name\n"
        f"{LON0 + 0.0025},{LAT0 + 0.0025},kindergarten,k1\n"
        f"{LON0 + 0.005},{LAT0 + 0.001},park,p1\n",
        encoding="utf-8",
    )
    units_frame(folder / "units.geojson")
    population_frame(folder / "pop.geojson")
    return {
        "network": folder / "grid.osm",
        "facilities": folder / "fac.csv",
        "units": folder / "units.geojson",
        "population": folder / "pop.geojson",
        "folder": folder,
    }


def boxes() -> list[shapely.Polygon]:
    return [
        shapely.box(LON0 + i * STEP, LAT0 + j * STEP, LON0 + (i + 1) * STEP, LAT0 + (j + 1) * STEP)
        for j in range(2)
        for i in range(2)
    ]


def units_frame(path: Path | None = None, **changes: Any) -> gpd.GeoDataFrame:
    data: dict[str, Any] = {
        "unit_id": ["S1", "S2", "S3", "S4", "D1"],
        "name": ["s1", "s2", "s3", "s4", "d1"],
        "parent_id": ["D1", "D1", "D1", "D1", None],
        "geometry": [*boxes(), shapely.union_all(boxes())],
    }
    data.update(changes)
    frame = gpd.GeoDataFrame(data, crs=changes.pop("crs", "EPSG:4326"))
    if path is not None:
        frame.to_file(path, driver="GeoJSON")
    return frame


def population_frame(path: Path | None = None, **changes: Any) -> gpd.GeoDataFrame:
    data: dict[str, Any] = {"population": [1000.0, 2000.0, 1500.0, 500.0], "geometry": boxes()}
    data.update(changes)
    frame = gpd.GeoDataFrame(data, crs="EPSG:4326")
    if path is not None:
        frame.to_file(path, driver="GeoJSON")
    return frame


def base(tiny: dict[str, Path], **replace: object) -> list[object]:
    """The good audit's arguments with some inputs replaced."""
    inputs = {
        "network": tiny["network"],
        "facilities": tiny["facilities"],
        "units": tiny["units"],
        "population": tiny["population"],
        **replace,
    }
    args: list[object] = ["audit", "--no-map", "--keep-edge-units"]
    for key, value in inputs.items():
        if value is not None:
            args += [f"--{key}", value]
    return args


def optimize_args(tiny: dict[str, Path], *extra: object) -> list[object]:
    return ["optimize", *base(tiny)[1:], "--category", "kindergarten", *extra]


# --------------------------------------------------------------------------- bad files


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def study(
    folder: Path, tiny: dict[str, Path], text: str | bytes | None = None, **values: Any
) -> Path:
    """A study file: the good inputs plus ``values`` (or raw ``text``)."""
    if text is None:
        raw = {
            "name": "t",
            "network": str(tiny["network"]),
            "facilities": [str(tiny["facilities"])],
            "units": str(tiny["units"]),
            "population": str(tiny["population"]),
            "keep_edge_units": True,
            "no_map": True,
            **values,
        }
        text = yaml.safe_dump(raw, allow_unicode=True)
    return write(folder, "study.yaml", text)


def standard(
    folder: Path, text: str | bytes | None = None, mutate: Callable[[dict], None] | None = None
) -> Path:
    raw = minimal_standard_dict()
    if mutate is not None:
        mutate(raw)
    if text is None:
        text = yaml.safe_dump(raw, allow_unicode=True)
    return write(folder, "std.yaml", text)


ALIAS_BOMB = (
    "a: &a [x,x,x,x,x,x,x,x,x]\n"
    + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "network: *i\n"
)


def _cases() -> list[tuple[str, Make]]:
    c: list[tuple[str, Make]] = []

    def case(name: str) -> Callable[[Make], Make]:
        def register(make: Make) -> Make:
            c.append((name, make))
            return make

        return register

    # ---- numeric options
    for flag, value, needle in [
        ("--max-snap-m", "nan", "finite"),
        ("--max-snap-m", "inf", "finite"),
        ("--max-snap-m", "-inf", "finite"),
        ("--max-snap-m", "-5", "greater than 0"),
        ("--max-snap-m", "0", "greater than 0"),
        ("--max-snap-m", "abc", "not a number"),
        ("--max-snap-m", "1e9", "5000"),
        ("--hex-size-m", "nan", "finite"),
        ("--hex-size-m", "inf", "finite"),
        ("--hex-size-m", "1", "minimum of 50"),
        ("--hex-size-m", "0", "minimum of 50"),
        ("--hex-size-m", "1e12", "20000"),
        ("--min-component-nodes", "0", "minimum of 1"),
        ("--min-component-nodes", "2.5", "whole number"),
    ]:
        c.append(
            (
                f"flag {flag} {value}",
                lambda f, t, flag=flag, value=value, needle=needle: (
                    [*base(t), flag, value],
                    [flag, needle],
                    {},
                ),
            )
        )
    for flag, value, needle in [
        ("--sites", "0", "minimum of 1"),
        ("--sites", "nan", "finite"),
        ("--target-coverage", "1.5", "share of the population"),
        ("--target-coverage", "0", "greater than 0"),
        ("--time-limit", "0", "greater than 0"),
        ("--time-limit", "inf", "finite"),
        ("--capacity", "-1", "greater than 0"),
        ("--min-unit-coverage", "2", "above the maximum"),
        ("--n-candidates", "0", "minimum"),
        ("--seed", "-1", "minimum"),
    ]:
        c.append(
            (
                f"optimize {flag} {value}",
                lambda f, t, flag=flag, value=value, needle=needle: (
                    optimize_args(t, flag, value),
                    [flag, needle],
                    {},
                ),
            )
        )

    # ---- names that do not exist
    @case("unknown profile")
    def _(f, t):
        return [*base(t), "--profile", "runner"], ["runner", "adult"], {}

    @case("unknown standard")
    def _(f, t):
        return [*base(t), "--standard", "nosuch-2099"], ["nosuch-2099"], {}

    @case("unknown category")
    def _(f, t):
        return [*base(t), "--categories", "spaceport"], ["spaceport"], {}

    @case("category without facilities")
    def _(f, t):
        return [*base(t), "--categories", "health_center"], ["health_center", "--facilities"], {}

    @case("optimize unknown category")
    def _(f, t):
        return (
            ["optimize", *base(t)[1:], "--category", "spaceport", "--sites", "1"],
            ["spaceport"],
            {},
        )

    @case("bad datum")
    def _(f, t):
        return [*base(t), "--facilities-crs", "mars2000"], ["mars2000"], {}

    for key in ("network", "units", "population", "facilities"):
        c.append(
            (
                f"missing {key}",
                lambda f, t, key=key: (
                    base(t, **{key: f / f"missing-{key}.geojson"}),
                    [f"missing-{key}"],
                    {},
                ),
            )
        )

    @case("optimize missing candidates")
    def _(f, t):
        return (
            optimize_args(t, "--sites", "1", "--candidates", f / "none.geojson"),
            ["none.geojson"],
            {},
        )

    @case("SOURCE_DATE_EPOCH not a number")
    def _(f, t):
        return base(t), ["SOURCE_DATE_EPOCH"], {"SOURCE_DATE_EPOCH": "yesterday"}

    # ---- networks
    @case("empty network file")
    def _(f, t):
        return base(t, network=write(f, "empty.osm", "")), ["empty.osm"], {}

    @case("network that is not OSM")
    def _(f, t):
        return base(t, network=write(f, "junk.osm", "this is not xml <<<")), ["junk.osm"], {}

    @case("network with no walkable way")
    def _(f, t):
        xml = osm_xml(
            {1: (LON0, LAT0), 2: (LON0 + 0.001, LAT0)}, [(10, [1, 2], {"waterway": "river"})]
        )
        return base(t, network=write(f, "river.osm", xml)), ["river.osm"], {}

    @case("graphml that is not a graph")
    def _(f, t):
        return base(t, network=write(f, "g.graphml", "<graphml>")), ["g.graphml"], {}

    # ---- study files
    @case("study missing")
    def _(f, t):
        return ["audit", f / "nostudy.yaml"], ["nostudy.yaml"], {}

    @case("study in GBK")
    def _(f, t):
        text = yaml.safe_dump(
            {"name": "青浦区", "network": str(t["network"])}, allow_unicode=True
        ).encode("gbk")
        return ["audit", study(f, t, text)], ["study.yaml", "UTF-8"], {}

    @case("study alias bomb")
    def _(f, t):
        return ["audit", study(f, t, ALIAS_BOMB)], ["study.yaml", "alias"], {}

    @case("study duplicate keys")
    def _(f, t):
        text = f"network: {t['network']}\nnetwork: {t['network']}\n"
        return ["audit", study(f, t, text)], ["study.yaml", "network"], {}

    @case("study unknown key")
    def _(f, t):
        return ["audit", study(f, t, max_snapm=100)], ["study.yaml", "max_snapm"], {}

    @case("study max_snap_m nan")
    def _(f, t):
        return ["audit", study(f, t, max_snap_m=float("nan"))], ["max_snap_m", "finite"], {}

    @case("study max_snap_m inf")
    def _(f, t):
        return ["audit", study(f, t, max_snap_m=float("inf"))], ["max_snap_m", "finite"], {}

    @case("study hex_size_m 1")
    def _(f, t):
        return ["audit", study(f, t, hex_size_m=1)], ["hex_size_m", "50"], {}

    @case("study is a list")
    def _(f, t):
        return ["audit", study(f, t, "- network: x\n")], ["study.yaml", "mapping"], {}

    @case("study empty")
    def _(f, t):
        return ["audit", study(f, t, "")], ["study.yaml"], {}

    @case("study python tag")
    def _(f, t):
        text = "network: !!python/object/apply:os.system ['echo pwned']\n"
        return ["audit", study(f, t, text)], ["study.yaml"], {}

    @case("study path missing")
    def _(f, t):
        return ["audit", study(f, t, units="nowhere.gpkg")], ["nowhere.gpkg"], {}

    @case("study wrong type")
    def _(f, t):
        return ["audit", study(f, t, categories=5)], ["categories", "list"], {}

    # ---- standards
    @case("standard in GBK")
    def _(f, t):
        text = yaml.safe_dump(minimal_standard_dict(), allow_unicode=True).encode("gbk")
        return [*base(t), "--standard", standard(f, text)], ["std.yaml", "UTF-8"], {}

    @case("standard alias bomb")
    def _(f, t):
        return [*base(t), "--standard", standard(f, ALIAS_BOMB)], ["std.yaml", "alias"], {}

    @case("standard duplicate level ids")
    def _(f, t):
        def dup(raw):
            raw["levels"][1]["id"] = "5min"

        return [*base(t), "--standard", standard(f, mutate=dup)], ["std.yaml", "5min"], {}

    @case("standard duplicate category ids")
    def _(f, t):
        def dup(raw):
            raw["categories"][1]["id"] = "kindergarten"

        return [*base(t), "--standard", standard(f, mutate=dup)], ["std.yaml", "kindergarten"], {}

    @case("standard threshold nan")
    def _(f, t):
        def nan(raw):
            raw["categories"][0]["threshold_min"] = float("nan")

        return [*base(t), "--standard", standard(f, mutate=nan)], ["std.yaml", "threshold_min"], {}

    @case("standard negative speed")
    def _(f, t):
        def neg(raw):
            raw["profiles"]["adult"]["speed_m_s"] = -1.2

        return [*base(t), "--standard", standard(f, mutate=neg)], ["std.yaml", "speed_m_s"], {}

    @case("standard unknown level")
    def _(f, t):
        def lvl(raw):
            raw["categories"][0]["level"] = "20min"

        return [*base(t), "--standard", standard(f, mutate=lvl)], ["std.yaml", "20min"], {}

    @case("standard python tag")
    def _(f, t):
        text = "id: !!python/object/apply:os.system ['echo pwned']\n"
        return [*base(t), "--standard", standard(f, text)], ["std.yaml"], {}

    # ---- facility tables
    @case("facilities without lon")
    def _(f, t):
        path = write(f, "f.csv", "x,lat,category,name\n121.47,31.23,park,a\n")
        return base(t, facilities=path), ["f.csv", "lon"], {}

    @case("facilities lat not a number")
    def _(f, t):
        path = write(f, "f.csv", f"lon,lat,category,name\n{LON0},north,park,a\n")
        return base(t, facilities=path), ["f.csv", "lat"], {}

    @case("facilities lat out of range")
    def _(f, t):
        path = write(f, "f.csv", f"lon,lat,category,name\n{LON0},95.0,park,a\n")
        return base(t, facilities=path), ["f.csv", "lat"], {}

    @case("facilities without category or typecode")
    def _(f, t):
        path = write(f, "f.csv", f"lon,lat,name\n{LON0},{LAT0},a\n")
        return base(t, facilities=path), ["f.csv", "category"], {}

    @case("facilities excel that is not excel")
    def _(f, t):
        return base(t, facilities=write(f, "f.xlsx", b"PK\x03\x04broken")), ["f.xlsx"], {}

    # ---- units
    @case("units without crs")
    def _(f, t):
        frame = units_frame().to_crs(32651).set_crs(None, allow_override=True)
        path = f / "u.gpkg"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 'crs' was not provided: that is the point
            frame.to_file(path, driver="GPKG")
        return base(t, units=path), ["u.gpkg", "coordinate reference system"], {}

    @case("units in metres but no crs in the geojson")
    def _(f, t):
        text = raw_geojson(units_frame().to_crs(32651), crs=False)
        return base(t, units=write(f, "u.geojson", text)), ["u.geojson", "CRS"], {}

    @case("units without unit_id")
    def _(f, t):
        path = f / "u.geojson"
        units_frame().rename(columns={"unit_id": "code"}).to_file(path, driver="GeoJSON")
        return base(t, units=path), ["u.geojson", "unit_id"], {}

    @case("units duplicate ids")
    def _(f, t):
        path = f / "u.geojson"
        units_frame(path, unit_id=["S1", "S1", "S3", "S4", "D1"])
        return base(t, units=path), ["u.geojson", "S1"], {}

    @case("units dangling parent")
    def _(f, t):
        path = f / "u.geojson"
        units_frame(path, parent_id=["D9", "D1", "D1", "D1", None])
        return base(t, units=path), ["u.geojson", "D9"], {}

    @case("units empty geometry")
    def _(f, t):
        path = f / "u.geojson"
        units_frame(path, geometry=[*boxes()[:3], shapely.Polygon(), shapely.union_all(boxes())])
        return base(t, units=path), ["u.geojson", "S4"], {}

    @case("units nan coordinates")
    def _(f, t):
        text = raw_geojson(units_frame()).replace(f"[{LON0}, {LAT0}]", "[NaN, NaN]", 1)
        assert "NaN" in text
        return base(t, units=write(f, "u.geojson", text)), ["u.geojson"], {}

    @case("unit codes not 12 digits")
    def _(f, t):
        path = f / "u.geojson"
        units_frame(path, code=["31011", "x", "3", "4", "5"])
        return [*base(t, units=path), "--unit-codes", "code"], ["u.geojson", "code"], {}

    @case("unit levels column missing")
    def _(f, t):
        return [*base(t), "--unit-levels", "district,nosuchcol"], ["nosuchcol"], {}

    # ---- population
    for label, values in [
        ("nan", [np.nan, 1.0, 1.0, 1.0]),
        ("inf", [np.inf, 1.0, 1.0, 1.0]),
        ("negative", [-5.0, 1.0, 1.0, 1.0]),
    ]:
        c.append(
            (
                f"population {label}",
                lambda f, t, values=values: (
                    base(
                        t,
                        population=write(
                            f, "p.geojson", raw_geojson(population_frame(population=values))
                        ),
                    ),
                    ["p.geojson", "population"],
                    {},
                ),
            )
        )

    @case("population text")
    def _(f, t):
        return (
            base(t, population=_pop(f, population=["many", "1", "2", "3"])),
            ["p.geojson", "population"],
            {},
        )

    @case("population column missing")
    def _(f, t):
        path = f / "p.geojson"
        population_frame().rename(columns={"population": "pop"}).to_file(path, driver="GeoJSON")
        return base(t, population=path), ["p.geojson", "population"], {}

    @case("population overlapping polygons")
    def _(f, t):
        path = f / "p.geojson"
        population_frame(
            path,
            population=[1000.0, 2000.0, 1500.0, 500.0, 5000.0],
            geometry=[*boxes(), shapely.union_all(boxes())],
        )
        return base(t, population=path), ["p.geojson", "overlap"], {}

    @case("population empty geometry")
    def _(f, t):
        path = f / "p.geojson"
        population_frame(path, geometry=[*boxes()[:3], shapely.Polygon()])
        return base(t, population=path), ["p.geojson"], {}

    @case("population raster junk")
    def _(f, t):
        return base(t, population=write(f, "p.tif", b"II*\x00junk")), ["p.tif"], {}

    # ---- the output folder
    @case("out is the network file")
    def _(f, t):
        return [*base(t), "--out", t["network"]], ["existing file"], {}

    @case("optimize candidates in out under an output's name")
    def _(f, t):
        return ["special:candidates-in-out"], ["proposals.geojson"], {}

    return c


def raw_geojson(frame: gpd.GeoDataFrame, *, crs: bool = True) -> str:
    """GeoJSON text as a careless exporter writes it: NaN and Infinity tokens kept."""
    features = [
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(geom),
            "properties": {k: v for k, v in row.items() if not _missing_text(k, v)},
        }
        for geom, (_, row) in zip(
            frame.geometry, frame.drop(columns=frame.geometry.name).iterrows(), strict=True
        )
    ]
    doc: dict[str, Any] = {"type": "FeatureCollection", "features": features}
    if crs:
        doc["crs"] = {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}
    return json.dumps(doc, default=float)


def _missing_text(key: str, value: Any) -> bool:
    """A missing parent id (left out, as exporters do; numbers keep their NaN)."""
    return key == "parent_id" and (value is None or value != value)


def _pop(folder: Path, **changes: Any) -> Path:
    path = folder / "p.geojson"
    population_frame(path, **changes)
    return path


CASES = _cases()


def test_the_catalogue_is_large():
    assert len(CASES) >= 60
    assert len({name for name, _ in CASES}) == len(CASES)


@pytest.fixture(scope="module")
def good_out(tiny, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("catalogue-out") / "out"
    res = invoke([*base(tiny), "--out", out])
    assert res.exit_code == 0, res.output
    return out


@pytest.mark.parametrize(("name", "make"), CASES, ids=[name for name, _ in CASES])
def test_bad_input_exits_2_and_leaves_the_previous_out(
    name, make, tiny, good_out, tmp_path, monkeypatch
):
    before = snapshot(good_out)
    args, needles, env = make(tmp_path, tiny)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    if args == ["special:candidates-in-out"]:
        cand = good_out / "proposals.geojson"
        gpd.GeoDataFrame(
            geometry=[shapely.Point(LON0 + 0.004, LAT0 + 0.004)], crs="EPSG:4326"
        ).to_file(cand, driver="GeoJSON")
        before = snapshot(good_out)
        args = optimize_args(tiny, "--sites", "1", "--candidates", cand)
    if "--out" not in args:
        args = [*args, "--out", good_out]
    try:
        res = invoke(args)
        assert res.exit_code == 2, (res.exit_code, res.output, res.exc_info)
        # click's runner catches everything: any other exception would be a traceback
        assert type(res.exception) is SystemExit, res.exc_info
        message = res.stderr
        assert "lifecircle: error:" in message or "Error: " in message, message
        assert "Traceback" not in message
        assert len(message) < 4000, f"{len(message)} characters"
        for needle in needles:
            assert needle in message, (needle, message)
        assert snapshot(good_out) == before
        assert temporaries(good_out) == []
    finally:
        cand = good_out / "proposals.geojson"
        if cand.exists():
            cand.unlink()
    assert os.path.isdir(good_out)
