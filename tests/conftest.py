"""Shared fixtures and helpers for the lifecircle test suite.

Everything here is offline. The bundled-sample audit (~4 s) runs once per session
(`sample_result`) and is written once (`sample_out`); tests reuse both. The hostile
names (`with_hostile_names`) are shared by the map, report and browser tests.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pytest
import shapely
from click.testing import CliRunner, Result

import lifecircle
from lifecircle.cli import cli
from lifecircle.config import parse_standard
from lifecircle.datasets import get_path

#: A point of UTM zone 51N (EPSG:32651) in central Shanghai, used as the origin of
#: hand-built test geometry so that it also converts sensibly to EPSG:4326.
X0, Y0 = 350_000.0, 3_450_000.0
UTM = "EPSG:32651"


# --------------------------------------------------------------------------- standards


def minimal_standard_dict() -> dict[str, Any]:
    """A small valid standard (as parsed YAML) with round numbers for hand computation.

    Speed 1.0 m/s = 60 m/min, so time_min = dist_m / 60. Categories:
    ``kindergarten`` (5 min, mandatory), ``park`` (10 min, mandatory), ``shop``
    (5 min, optional), ``clinic`` (10 min, mandatory).
    """
    sel = [{"amenity": "x"}]
    return {
        "id": "test-std",
        "title": {"en": "test standard", "zh": "测试标准"},
        "source": "tests",
        "levels": [
            {
                "id": "5min",
                "minutes": 5,
                "name": {"en": "5-minute", "zh": "五分钟"},
                "source": "t",
                "verified": True,
            },
            {
                "id": "10min",
                "minutes": 10,
                "name": {"en": "10-minute", "zh": "十分钟"},
                "source": "t",
                "verified": True,
            },
        ],
        "profiles": {
            "adult": {"speed_m_s": 1.0, "source": "t", "verified": True},
            "slow": {"speed_m_s": 0.5, "source": "t", "verified": False},
        },
        "default_profile": "adult",
        "categories": [
            {
                "id": "kindergarten",
                "name": {"en": "kindergarten", "zh": "幼儿园"},
                "level": "5min",
                "threshold_min": 5,
                "mandatory": True,
                "source": "t",
                "verified": True,
                "selectors": [{"amenity": "kindergarten"}],
            },
            {
                "id": "park",
                "name": {"en": "park", "zh": "公园"},
                "level": "10min",
                "threshold_min": 10,
                "mandatory": True,
                "source": "t",
                "verified": True,
                "selectors": [{"leisure": "park"}],
            },
            {
                "id": "shop",
                "name": {"en": "shop", "zh": "商店"},
                "level": "5min",
                "threshold_min": 5,
                "mandatory": False,
                "source": "t",
                "verified": False,
                "selectors": copy.deepcopy(sel),
            },
            {
                "id": "clinic",
                "name": {"en": "clinic", "zh": "诊所"},
                "level": "10min",
                "threshold_min": 10,
                "mandatory": True,
                "source": "t",
                "verified": False,
                "selectors": [{"amenity": "clinic"}],
            },
        ],
    }


@pytest.fixture(scope="session")
def small_standard() -> lifecircle.Standard:
    """The minimal test standard (1.0 m/s, thresholds 5/10 min)."""
    return parse_standard(minimal_standard_dict(), source="test-std")


@pytest.fixture(scope="session")
def gb_standard() -> lifecircle.Standard:
    """The bundled GB 50180-2018 standard."""
    return lifecircle.load_standard("gb50180-2018")


# --------------------------------------------------------------------------- geometry helpers


def utm_points(xy: list[tuple[float, float]], **columns: Any) -> gpd.GeoDataFrame:
    """Points given relative to (X0, Y0), in EPSG:32651, with extra columns."""
    geoms = [shapely.Point(X0 + x, Y0 + y) for x, y in xy]
    return gpd.GeoDataFrame(dict(columns), geometry=geoms, crs=UTM)


def utm_box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    """A rectangle given relative to (X0, Y0)."""
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


def grid(n_rows: int, n_cols: int, spacing_m: float = 100.0) -> lifecircle.WalkGraph:
    """`grid_graph` anchored at (X0, Y0) in EPSG:32651."""
    return lifecircle.grid_graph(n_rows, n_cols, spacing_m=spacing_m, origin=(X0, Y0), crs=UTM)


def as_nan_inf(a: np.ndarray) -> np.ndarray:
    """NaN (unreachable) as +inf, for order comparisons."""
    a = np.asarray(a, float).copy()
    a[np.isnan(a)] = np.inf
    return a


# --------------------------------------------------------------------------- OSM XML


def osm_xml(nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], dict]]) -> str:
    """A minimal OSM XML document. ``nodes``: id -> (lon, lat); ``ways``: (id, refs, tags)."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="tests">']
    for nid, (lon, lat) in nodes.items():
        lines.append(f'  <node id="{nid}" version="1" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    for wid, refs, tags in ways:
        lines.append(f'  <way id="{wid}" version="1">')
        lines.extend(f'    <nd ref="{r}"/>' for r in refs)
        lines.extend(f'    <tag k="{k}" v="{v}"/>' for k, v in tags.items())
        lines.append("  </way>")
    lines.append("</osm>")
    return "\n".join(lines) + "\n"


#: Corner of the tiny OSM street grids (lon, lat) in central Shanghai.
LON0, LAT0 = 121.47, 31.23


def osm_grid(n: int = 6, step_deg: float = 0.001) -> str:
    """An ``n x n`` grid of residential streets as OSM XML (about 95 x 111 m blocks)."""
    nodes = {}
    for r in range(n):
        for c in range(n):
            nodes[1 + r * n + c] = (LON0 + c * step_deg, LAT0 + r * step_deg)
    ways = []
    wid = 1000
    for r in range(n):
        ways.append((wid, [1 + r * n + c for c in range(n)], {"highway": "residential"}))
        wid += 1
    for c in range(n):
        ways.append((wid, [1 + r * n + c for r in range(n)], {"highway": "residential"}))
        wid += 1
    return osm_xml(nodes, ways)


@pytest.fixture(scope="session")
def tiny_osm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid 6 x 6 street grid as an ``.osm`` file (no POIs)."""
    path = tmp_path_factory.mktemp("tiny-osm") / "grid.osm"
    path.write_text(osm_grid(), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_facilities_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid facility CSV with one kindergarten in the middle of `tiny_osm`."""
    path = tmp_path_factory.mktemp("tiny-fac") / "facilities.csv"
    path.write_text(
        f"lon,lat,category,name\n{LON0 + 0.0025},{LAT0 + 0.0025},kindergarten,测试幼儿园\n",
        encoding="utf-8",
    )
    return path


# --------------------------------------------------------------------------- the bundled sample


@pytest.fixture(scope="session")
def sample_paths() -> dict[str, Path]:
    """Input files of the bundled central-Shanghai sample."""
    return get_path("central-shanghai")


@pytest.fixture(scope="session")
def sample_result() -> lifecircle.AuditResult:
    """`lifecircle.audit()` on the bundled sample, run once per session."""
    return lifecircle.audit()


@pytest.fixture(scope="session")
def sample_out(
    sample_result: lifecircle.AuditResult, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The sample audit written once with `AuditResult.write`."""
    out = tmp_path_factory.mktemp("sample-out")
    sample_result.write(out)
    return out


@pytest.fixture(scope="session")
def sample_graph(sample_paths: dict[str, Path]) -> lifecircle.WalkGraph:
    """`graph_from_osm` on the bundled street network."""
    return lifecircle.graph_from_osm(sample_paths["network"])


# --------------------------------------------------------------------------- hostile names

#: Hostile strings injected into the data: if any reached the page unescaped, it would
#: run script (``window.__xss`` is what the browser tests look for).
HOSTILE_FACILITY = '<img src=x onerror="window.__xss=1">'
HOSTILE_UNIT = "<script>window.__xss=2</script>'\"&"
HOSTILE_CATEGORY = '<b onmouseover="window.__xss=3">kindergarten</b>'


def with_hostile_names(result: lifecircle.AuditResult) -> lifecircle.AuditResult:
    """A copy of ``result`` with hostile facility, unit and category names."""
    fac = result.facilities.copy()
    first = fac.index[
        fac["reachable"] & (fac["category"] == "kindergarten") & (fac.geom_type == "Point")
    ][0]
    fac.loc[first, "name"] = HOSTILE_FACILITY
    units = {level: frame.copy() for level, frame in result.units.items()}
    renamed = []
    for frame in units.values():
        row = frame.index[frame["units_analysed"] > 0][0]
        frame.loc[row, "name"] = HOSTILE_UNIT
        renamed.append(frame.loc[row, "unit_id"])
    gaps = result.gaps.copy()
    gaps.loc[gaps["unit_id"].isin(renamed), "name"] = HOSTILE_UNIT
    std = result.standard
    categories = tuple(
        dataclasses.replace(c, name_en=HOSTILE_CATEGORY) if c.id == "kindergarten" else c
        for c in std.categories
    )
    return dataclasses.replace(
        result,
        facilities=fac,
        units=units,
        gaps=gaps,
        standard=dataclasses.replace(std, categories=categories),
    )


def invoke(args: list[object]) -> Result:
    """Run the CLI through click's runner, then undo the logging set-up it does."""
    pkg = logging.getLogger("lifecircle")
    handlers, level, propagate = list(pkg.handlers), pkg.level, pkg.propagate
    try:
        return CliRunner().invoke(cli, [str(a) for a in args])
    finally:
        for h in list(pkg.handlers):
            if h not in handlers:
                pkg.removeHandler(h)
        pkg.setLevel(level)
        pkg.propagate = propagate


def assert_user_error(res: Result, *needles: str) -> str:
    """Exit code 2 through SystemExit (no other exception), a message with the needles."""
    assert res.exit_code == 2, (res.exit_code, res.output, res.exception)
    # click's runner catches every exception: a crash shows up as res.exception of
    # another type, so this is the check that no traceback would have been printed
    assert type(res.exception) is SystemExit, res.exc_info
    assert res.exception.code == 2
    message = res.stderr[res.stderr.index("lifecircle: error: ") :]
    for needle in needles:
        assert needle in message, (needle, message)
    return message


# --------------------------------------------------------------------------- test loop

#: Fixtures that run or read the bundled sample: their tests are integration tests
#: (marked slow; `python -m pytest -m slow` runs them, CI always does).
SAMPLE_FIXTURES = frozenset(
    {"sample_result", "sample_out", "sample_graph", "sample_paths", "cli_run", "raster_run"}
)

#: Modules whose every test drives a browser or the CLI on the sample.
SLOW_MODULES = frozenset(
    {
        "test_browser",
        "test_catalogue",
        "test_columns",
        "test_trust",
        "test_map_injection",
        "test_report_injection",
    }
)


#: Names whose use makes a test an integration test: the command line (in process or
#: as a child process) or a whole audit.
INTEGRATION_NAMES = frozenset({"invoke", "run_cli", "CliRunner", "audit"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests that use the sample, a browser or the command line as slow."""
    for item in items:
        module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
        function = getattr(item, "function", None)
        names = set(getattr(getattr(function, "__code__", None), "co_names", ()))
        if (
            SAMPLE_FIXTURES & set(getattr(item, "fixturenames", ()))
            or module in SLOW_MODULES
            or "browser" in item.name
            or INTEGRATION_NAMES & names
        ):
            item.add_marker(pytest.mark.slow)
