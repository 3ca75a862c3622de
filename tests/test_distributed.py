"""Partitioned audits on Dask equal the single-machine audit (lifecircle.distributed).

Every column the Dask run writes is compared exactly with the single-machine run
(access rows sorted by origin id, byte-identical ``access.parquet``, coverage per unit
at every level, gaps, city-wide coverage), on a generated street grid and on the
bundled sample, with ``LocalCluster(n_workers=2, processes=True)``.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

import lifecircle
from lifecircle import distributed as dist
from lifecircle.options import AuditOptions

from .conftest import LAT0, LON0, osm_grid

pytest.importorskip("dask.distributed", reason="dask[distributed] is not installed")


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    )
    with Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 30 x 30 street grid (about 3 x 3 km), 2 districts x 3 streets, facilities, people."""
    root = tmp_path_factory.mktemp("dask-city")
    n, step = 30, 0.001
    (root / "grid.osm").write_text(osm_grid(n, step), encoding="utf-8")
    rows = []
    for d in range(2):
        for s in range(3):
            x0 = LON0 + 0.002 + d * 0.0125 + 0.0001
            y0 = LAT0 + 0.002 + s * 0.0083 + 0.0001
            rows.append(
                {
                    "unit_id": f"D{d}S{s}",
                    "name": f"street {d}-{s}",
                    "parent_id": f"D{d}",
                    "population": 1000.0 * (1 + d + s),
                    "geometry": shapely.box(x0, y0, x0 + 0.0125, y0 + 0.0083),
                }
            )
    streets = gpd.GeoDataFrame(rows, crs="EPSG:4326")
    districts = streets.dissolve("parent_id", as_index=False)[["parent_id", "geometry"]]
    districts = districts.rename(columns={"parent_id": "unit_id"}).assign(
        name=lambda f: "district " + f["unit_id"], parent_id=None
    )
    units = pd.concat([districts, streets.drop(columns="population")], ignore_index=True)
    gpd.GeoDataFrame(units, crs="EPSG:4326").to_file(root / "units.geojson", driver="GeoJSON")
    streets[["unit_id", "population", "geometry"]].to_file(
        root / "population.geojson", driver="GeoJSON"
    )
    rng = np.random.default_rng(7)
    cats = ["kindergarten", "primary_school", "park", "bus_stop", "health_center"]
    lines = ["lon,lat,category,name"]
    for i in range(60):
        lon = LON0 + rng.uniform(0, (n - 1) * step)
        lat = LAT0 + rng.uniform(0, (n - 1) * step)
        lines.append(f"{lon:.7f},{lat:.7f},{cats[i % len(cats)]},f{i}")
    (root / "facilities.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "network": root / "grid.osm",
        "facilities": root / "facilities.csv",
        "units": root / "units.geojson",
        "population": root / "population.geojson",
    }


def _options(city: dict[str, Path]) -> AuditOptions:
    return AuditOptions(
        network=city["network"],
        facilities=(city["facilities"],),
        units=city["units"],
        population=city["population"],
        osm_pois=False,
        keep_edge_units=True,
    )


def _parquet_bytes(frame: gpd.GeoDataFrame) -> bytes:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()


def assert_same(single: lifecircle.AuditResult, dask: dist.DaskAudit) -> None:
    """Every column of the Dask run equals the single-machine run's, exactly."""
    ref = single.access.sort_values("origin_id", kind="stable").reset_index(drop=True)
    cols = list(dask.access.columns)
    ref = ref[cols]
    pd.testing.assert_frame_equal(
        pd.DataFrame(ref).drop(columns="geometry"),
        pd.DataFrame(dask.access).drop(columns="geometry"),
        check_exact=True,
    )
    assert shapely.equals_exact(ref.geometry.values, dask.access.geometry.values, 0).all()
    assert _parquet_bytes(ref) == _parquet_bytes(dask.access)
    assert set(dask.units) == set(single.units)
    for level, table in dask.units.items():
        common = [c for c in table.columns if c in single.units[level].columns]
        assert len(common) == len(table.columns)
        pd.testing.assert_frame_equal(
            pd.DataFrame(single.units[level][common]), pd.DataFrame(table), check_exact=True
        )
    gaps = single.gaps[list(dask.gaps.columns)].reset_index(drop=True)
    pd.testing.assert_frame_equal(gaps, dask.gaps.reset_index(drop=True), check_exact=True)
    assert dask.summary["coverage"] == single.summary.to_json()["coverage"]


def test_generated_city_equals_single_machine(city: dict[str, Path], client) -> None:  # type: ignore[no-untyped-def]
    opts = _options(city)
    single = lifecircle.audit(options=opts)
    dask = dist.audit_dask(opts, client=client)
    top, below = single.hierarchy.levels
    assert dask.summary["distributed"]["level"] == below  # the level below the top
    assert dask.summary["distributed"]["partitions"] == 6
    assert len(dask.access) == len(single.access) > 100
    assert_same(single, dask)
    # partitions by district: the same figures
    by_district = dist.audit_dask(opts, client=client, level=top)
    assert by_district.summary["distributed"]["partitions"] == 2
    assert_same(single, by_district)


def test_halo_sources_equal_up_to_rounding(city: dict[str, Path], client) -> None:  # type: ignore[no-untyped-def]
    """Searching from the halo's facilities only: the same distances up to float rounding."""
    opts = _options(city)
    single = lifecircle.audit(options=opts)
    dask = dist.audit_dask(opts, client=client, halo_sources=True)
    ref = single.access.sort_values("origin_id").reset_index(drop=True)
    for col in [c for c in dask.access.columns if c.startswith("dist_")]:
        np.testing.assert_allclose(dask.access[col], ref[col], rtol=1e-12, atol=1e-9)
    stats = dask.summary["distributed"]["per_partition"]
    assert all(s["halo_nodes"] >= s["own_nodes"] > 0 for s in stats)


def test_halo_covers_the_search_reach(gb_standard: lifecircle.Standard) -> None:
    """Halo = the longest cut-off at the categories' speeds + both snaps + 1 m."""
    opts = AuditOptions(max_snap_m=500.0)
    cats = ["kindergarten", "park"]
    cutoff = lifecircle.access.search_cutoff_m(gb_standard, cats, None)
    halo = dist.halo_m(gb_standard, cats, opts)
    assert halo >= cutoff + 1000.0
    # by hand: the longest threshold walk of the two categories at their own speeds
    by_hand = max(
        gb_standard.category(c).threshold_min * gb_standard.profile_of(c).speed_m_min for c in cats
    )
    assert cutoff == pytest.approx(by_hand)


def test_scheduler_spec_is_checked() -> None:
    assert dist.parse_scheduler("local:3") == ("local", 3)
    assert dist.parse_scheduler("tcp://10.0.0.5:8786") == ("address", "tcp://10.0.0.5:8786")
    for bad in ["local:0", "local:x", "bogus", "tcp://"]:
        with pytest.raises(dist.DaskOptionError, match="local:N"):
            dist.parse_scheduler(bad)


def test_unsupported_options_are_refused(city: dict[str, Path], tmp_path: Path) -> None:
    closed = tmp_path / "closed.csv"
    closed.write_text("facility_id\n1\n", encoding="utf-8")
    with pytest.raises(dist.DaskOptionError, match="--close is not available with --dask"):
        dist.audit_dask(_options(city).replace(close=closed), dask="local:1")


def test_cli_dask_bad_level_and_spec(city: dict[str, Path], tmp_path: Path) -> None:
    from lifecircle.cli import cli

    runner = CliRunner()
    res = runner.invoke(cli, ["audit", "--network", str(city["network"]), "--dask", "nope"])
    assert res.exit_code == 2
    assert "local:N" in res.output


@pytest.mark.slow
def test_cli_dask_on_the_sample_equals_single_machine(tmp_path: Path, sample_result) -> None:  # type: ignore[no-untyped-def]
    """``lifecircle audit --dask local:2`` on the bundled sample: the same outputs."""
    from lifecircle.cli import cli

    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["audit", "--dask", "local:2", "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["distributed"]["partitions"] == 16
    access = gpd.read_parquet(out / "access.parquet")
    ref = sample_result.access.sort_values("origin_id").reset_index(drop=True)[list(access.columns)]
    pd.testing.assert_frame_equal(
        pd.DataFrame(ref).drop(columns="geometry"),
        pd.DataFrame(access).drop(columns="geometry"),
        check_exact=True,
    )
    assert _parquet_bytes(ref) == (out / "access.parquet").read_bytes()
    assert summary["coverage"] == sample_result.summary.to_json()["coverage"]
    gaps = pd.read_csv(out / "gaps.csv", encoding="utf-8-sig")
    assert len(gaps) == len(sample_result.gaps)


def test_missing_dask_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(dist.DaskOptionError, match=r"pip install 'lifecircle\[dask\]'"):
        dist.require_dask()
    from lifecircle.cli import cli

    res = CliRunner().invoke(cli, ["audit", "--dask", "local:2", "-q"])
    assert res.exit_code == 2
    assert "lifecircle[dask]" in res.output


@pytest.mark.parametrize(
    "command", [["delineate", "--level", "15min"], ["optimize", "--category", "kindergarten"]]
)
def test_other_commands_refuse_dask(command: list[str], tmp_path: Path) -> None:
    # only `audit` is partitioned: the others must not silently run something else
    from click.testing import CliRunner

    from lifecircle.cli import cli

    out = tmp_path / "out"
    res = CliRunner().invoke(cli, [*command, "--dask", "local:2", "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "only `lifecircle audit` runs partitioned" in res.output
    assert not out.exists()
