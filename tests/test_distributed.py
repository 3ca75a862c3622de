"""Partitioned audits on Dask equal the single-machine audit (lifecircle.distributed).

Every column the Dask run writes is compared exactly with the single-machine run
(access rows sorted by origin id, byte-identical ``access.parquet``, coverage per unit
at every level, gaps, city-wide coverage), on a generated city (a street grid whose
blocks have curved sides, so the search contracts chains) and on the bundled sample,
with ``LocalCluster(n_workers=2, processes=True)``. Each partition searches only its own
piece of the network (``lifecircle._dask_clip``): the tests check the pieces are smaller
than the city, keep every snap, and give the same floats, also for a resident at the
edge of a partition with facilities just inside and just outside the search reach.
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
from lifecircle import _dask_io as dio
from lifecircle import distributed as dist
from lifecircle._dask_clip import clip_graph, points_on_piece, remap_snapped
from lifecircle._nearest_two import nearest_two
from lifecircle._site_distances import group_distances
from lifecircle.access import AccessPoints, access_distance
from lifecircle.network import graph_from_edges
from lifecircle.options import AuditOptions
from lifecircle.snap import snap_points

from .conftest import LAT0, LON0, osm_xml

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
    (root / "grid.osm").write_text(_curved_grid(n, step), encoding="utf-8")
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


def _curved_grid(n: int, step: float, sub: int = 2) -> str:
    """An ``n x n`` street grid whose block sides bend through ``sub`` jittered vertices.

    Most nodes have two neighbours, so the access search contracts chains (as on OSM
    data), which a plain grid never does.
    """
    rng = np.random.default_rng(3)
    nodes: dict[int, tuple[float, float]] = {}
    for r in range(n):
        for c in range(n):
            nodes[1 + r * n + c] = (LON0 + c * step, LAT0 + r * step)
    next_id = n * n + 1
    ways = []
    for horizontal in (True, False):
        for i in range(n):
            refs = []
            for j in range(n):
                r, c = (i, j) if horizontal else (j, i)
                refs.append(1 + r * n + c)
                if j == n - 1:
                    break
                for k in range(1, sub + 1):
                    t = (j + k / (sub + 1)) * step
                    wobble = rng.uniform(-0.12, 0.12) * step
                    lon, lat = (t, i * step + wobble) if horizontal else (i * step + wobble, t)
                    nodes[next_id] = (LON0 + lon, LAT0 + lat)
                    refs.append(next_id)
                    next_id += 1
            ways.append((10**6 + len(ways), refs, {"highway": "residential"}))
    return osm_xml(nodes, ways)


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


#: summary.json's fair-service sections (:func:`lifecircle.summary.service_fields`).
FAIR_SERVICE_KEYS = (
    "cohorts",
    "fair_service",
    "equity",
    "critical_facilities",
    "data_completeness",
    "cross_source",
)


def assert_same(
    single: lifecircle.AuditResult, dask: dist.DaskAudit, *, same_paths: bool = True
) -> None:
    """Every column of the Dask run equals the single-machine run's, exactly.

    ``same_paths=False``: the runs were given their inputs under other names (URLs), so
    summary.json's ``study`` names other files.
    """
    ref = single.access.sort_values("origin_id", kind="stable").reset_index(drop=True)
    assert list(dask.access.columns) == list(ref.columns)  # fair-service columns included
    pd.testing.assert_frame_equal(
        pd.DataFrame(ref).drop(columns="geometry"),
        pd.DataFrame(dask.access).drop(columns="geometry"),
        check_exact=True,
    )
    assert shapely.equals_exact(ref.geometry.values, dask.access.geometry.values, 0).all()
    assert _parquet_bytes(ref) == _parquet_bytes(dask.access)
    assert set(dask.units) == set(single.units)
    for level, table in dask.units.items():
        pd.testing.assert_frame_equal(
            pd.DataFrame(single.units[level]), pd.DataFrame(table), check_exact=True
        )
    pd.testing.assert_frame_equal(
        single.gaps.reset_index(drop=True), dask.gaps.reset_index(drop=True), check_exact=True
    )
    pd.testing.assert_frame_equal(
        pd.DataFrame(single.facilities), pd.DataFrame(dask.facilities), check_exact=True
    )
    want = json.loads(json.dumps(single.summary.to_json(), default=str))
    assert want["fair_service"]  # the audit has fair-service figures to compare
    # summary.json is the single machine's but for when and how long it ran, and how
    assert set(dask.summary) == {*want, "distributed"}
    got = dict(dask.summary)
    if not same_paths:  # the messages name the inputs as given: file:// URLs here
        got["warnings"] = [w.replace("file://", "") for w in got["warnings"]]
    for key in want.keys() - {"created", "timings_s", *(() if same_paths else ("study",))}:
        assert got[key] == want[key], key


def test_generated_city_equals_single_machine(city: dict[str, Path], client) -> None:  # type: ignore[no-untyped-def]
    opts = _options(city)
    single = lifecircle.audit(options=opts)
    dask = dist.audit_dask(opts, client=client)
    top, below = single.hierarchy.levels
    assert dask.summary["distributed"]["level"] == below  # the level below the top
    assert dask.summary["distributed"]["partitions"] == 6
    assert len(dask.access) == len(single.access) > 100
    assert_same(single, dask)
    stats = dask.summary["distributed"]["per_partition"]
    assert all(s["clip_nodes"] >= s["halo_nodes"] >= s["own_nodes"] > 0 for s in stats)
    # partitions by district: the same figures
    by_district = dist.audit_dask(opts, client=client, level=top)
    assert by_district.summary["distributed"]["partitions"] == 2
    assert_same(single, by_district)


def test_small_halo_partitions_search_their_own_piece(city: dict[str, Path], client) -> None:  # type: ignore[no-untyped-def]
    """A short reach: each partition holds a fraction of the city, and the same floats."""
    opts = _options(city).replace(max_snap_m=40.0, categories=("kindergarten", "bus_stop"))
    single = lifecircle.audit(options=opts)
    assert single.graph.chains is not None  # the search contracts chains, as on OSM data
    dask = dist.audit_dask(opts, client=client)
    assert_same(single, dask)
    stats = dask.summary["distributed"]["per_partition"]
    assert all(s["clip_nodes"] < 0.8 * s["city_nodes"] for s in stats), stats
    assert sum(s["origins"] for s in stats) == len(single.access)


def test_cycling_levels_search_their_own_pieces(
    city: dict[str, Path], client, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """A standard whose levels count cycling: the bicycle network is clipped too."""
    rng = np.random.default_rng(5)
    cats = ["village_clinic", "village_shop", "town_school", "town_health_center"]
    lines = ["lon,lat,category,name"]
    for i in range(40):
        lon = LON0 + rng.uniform(0, 0.029)
        lat = LAT0 + rng.uniform(0, 0.029)
        lines.append(f"{lon:.7f},{lat:.7f},{cats[i % len(cats)]},r{i}")
    fac = tmp_path / "rural.csv"
    fac.write_text("\n".join(lines) + "\n", encoding="utf-8")
    opts = _options(city).replace(
        facilities=(fac,), standard="shanghai-rural-2021", max_snap_m=60.0
    )
    single = lifecircle.audit(options=opts)
    std = lifecircle.config.load_standard("shanghai-rural-2021")
    assert "bicycle" in std.modes_of(single.summary.to_json()["categories_audited"], None)
    dask = dist.audit_dask(opts, client=client)
    assert_same(single, dask)


def _street_with_spurs() -> lifecircle.network.WalkGraph:
    """A straight street along x (10 m steps, 0..3000 m) with 50 m spurs every 100 m to 700 m.

    Beyond 700 m the street is one chain of degree-2 nodes to its end at 3000 m.
    """
    xs = np.arange(0.0, 3001.0, 10.0)
    n = len(xs)
    spur_at = np.arange(100.0, 701.0, 100.0)
    x = np.concatenate([xs, spur_at])
    y = np.concatenate([np.zeros(n), np.full(len(spur_at), 50.0)])
    u = np.concatenate([np.arange(n - 1), np.searchsorted(xs, spur_at)])
    v = np.concatenate([np.arange(1, n), n + np.arange(len(spur_at))])
    return graph_from_edges(np.arange(len(x)), x, y, u, v, crs="EPSG:32651")


def test_clip_keeps_snaps_and_distances_at_the_halo_edge() -> None:
    """A resident at a partition's edge reaches the same facilities on its piece.

    Cut-off 1000 m, snap limit 20 m: halo = 1000 + 2 x 20 + 1 = 1041 m from the area,
    piece = edges within 1061 m, plus whole chains. The resident stands 3 m off the
    street's start; facility A 2 m off the street at 994.5 m along (walk 3 + 994.5 + 2
    = 999.5 m: reached), B at 995.5 m (1000.5 m: not reached), C on the street just
    inside the halo (1040.5 m) and D far outside it (2500 m).
    """
    graph = _street_with_spurs()
    assert graph.chains is not None
    cutoff, snap = 1000.0, 20.0
    halo = cutoff + 2 * snap + 1.0
    area = shapely.box(-50.0, 0.0, 0.0, 10.0)
    clip = clip_graph(graph, area, halo + snap)
    piece = clip.graph
    # the chain beyond the last spur reaches 3000 m: it is kept whole
    assert piece.x.max() == 3000.0
    assert piece.n_nodes == graph.n_nodes  # here the chain is the rest of the street
    small = clip_graph(graph, shapely.box(2900.0, 0.0, 3000.0, 10.0), 100.0)
    # the chain's far end at 700 m and its neighbours, not a cut at 2800 m
    assert small.graph.x.min() == 690.0
    assert small.graph.n_nodes == len(np.arange(690.0, 3001.0, 10.0)) + 1  # + the spur
    # snaps: the same edge on the piece as on the whole graph (ties: smallest index)
    fx = np.array([994.5, 995.5, 1040.5, 2500.0])
    fy = np.array([-2.0, -2.0, 0.0, 0.0])
    res = snap_points(graph, np.array([0.0]), np.array([3.0]), max_snap_m=snap)
    fac = snap_points(graph, fx, fy, max_snap_m=snap)
    res_piece = snap_points(piece, np.array([0.0]), np.array([3.0]), max_snap_m=snap)
    fac_piece = snap_points(piece, fx, fy, max_snap_m=snap)
    np.testing.assert_array_equal(clip.edges[res_piece.edge], res.edge)
    np.testing.assert_array_equal(clip.edges[fac_piece.edge], fac.edge)
    # distances, one facility at a time: by hand, and the same floats on the piece
    points = AccessPoints(facility=np.arange(4), snapped=fac)
    on = points_on_piece(points, clip)
    assert on.all()
    expected = [999.5, np.nan, np.nan, np.nan]
    for i, want in enumerate(expected):
        full = access_distance(graph, res, fac.take([i]), cutoff_m=cutoff)
        mine = access_distance(
            piece, remap_snapped(res, clip), remap_snapped(fac.take([i]), clip), cutoff_m=cutoff
        )
        np.testing.assert_array_equal(mine, full)
        np.testing.assert_allclose(full, [want], rtol=0, atol=1e-9)
    # a facility by the street's start enters the network off the small piece
    near_start = snap_points(graph, np.array([300.0]), np.array([-2.0]), max_snap_m=snap)
    assert not points_on_piece(AccessPoints(np.arange(1), near_start), small).any()


def test_clip_gives_bit_identical_distances_on_a_random_network() -> None:
    """Random chains and lengths: every resident's distance is the same float on its piece."""
    rng = np.random.default_rng(11)
    n, sub, step = 25, 3, 100.0
    jx = rng.uniform(-20, 20, (n, n))
    jy = rng.uniform(-20, 20, (n, n))
    x = list((np.arange(n)[None, :] * step + jx).ravel())
    y = list((np.arange(n)[:, None] * step + jy).ravel())
    u: list[int] = []
    v: list[int] = []
    for r in range(n):
        for c in range(n):
            for dr, dc in ((0, 1), (1, 0)):
                if r + dr >= n or c + dc >= n or rng.random() < 0.1:
                    continue
                a, b = r * n + c, (r + dr) * n + c + dc
                prev = a
                for k in range(1, sub + 1):
                    t = k / (sub + 1)
                    x.append(x[a] + t * (x[b] - x[a]) + rng.uniform(-8, 8))
                    y.append(y[a] + t * (y[b] - y[a]) + rng.uniform(-8, 8))
                    u.append(prev)
                    v.append(len(x) - 1)
                    prev = len(x) - 1
                u.append(prev)
                v.append(b)
    graph = graph_from_edges(
        np.arange(len(x)), np.array(x), np.array(y), np.array(u), np.array(v), crs="EPSG:32651"
    )
    assert graph.chains is not None
    cutoff, snap = 600.0, 30.0
    halo = cutoff + 2 * snap + 1.0
    area = shapely.box(900.0, 900.0, 1300.0, 1200.0)
    clip = clip_graph(graph, area, halo + snap)
    assert clip.graph.n_nodes < 0.7 * graph.n_nodes
    rx, ry = rng.uniform(900, 1300, 300), rng.uniform(900, 1200, 300)
    res = snap_points(graph, rx, ry, max_snap_m=snap)
    fx, fy = rng.uniform(-100, 2500, 400), rng.uniform(-100, 2500, 400)
    fac = snap_points(graph, fx, fy, max_snap_m=snap)
    ok = np.flatnonzero(fac.reachable)
    points = AccessPoints(facility=ok, snapped=fac.take(ok))
    on = points_on_piece(points, clip)
    assert 0 < on.sum() < len(on)
    full = access_distance(graph, res, points.snapped, cutoff_m=cutoff)
    mine = access_distance(
        clip.graph,
        remap_snapped(res, clip),
        remap_snapped(points.snapped.take(on), clip),
        cutoff_m=cutoff,
    )
    assert np.isfinite(full).sum() > 100
    np.testing.assert_array_equal(mine, full)
    # the fair-service searches on the piece (Dask's partitions make them there): the same
    # pairs within the reach, entry for entry, and the same nearest and second-nearest
    group = np.arange(len(ok)) % 90  # facilities of several access points each
    args = {"radius_m": cutoff, "n_groups": 90}
    piece_res = remap_snapped(res, clip)
    piece_fac = remap_snapped(points.snapped.take(on), clip)
    whole = group_distances(graph, points.snapped, group, res, **args)
    part = group_distances(clip.graph, piece_fac, group[on], piece_res, **args)
    assert whole.nnz > 300
    for name in ("indptr", "indices", "data"):
        np.testing.assert_array_equal(getattr(part, name), getattr(whole, name))
    two_whole = nearest_two(graph, points.snapped, group, res, **args)
    two_part = nearest_two(clip.graph, piece_fac, group[on], piece_res, **args)
    assert np.isfinite(two_whole.second_m).sum() > 100
    for name in ("nearest", "nearest_m", "second", "second_m"):
        np.testing.assert_array_equal(getattr(two_part, name), getattr(two_whole, name))
    # the piece snaps every resident and every facility within the halo to the same edge
    inside = shapely.dwithin(area, shapely.points(fx, fy), halo)
    np.testing.assert_array_equal(
        clip.edges[snap_points(clip.graph, fx[inside], fy[inside], max_snap_m=snap).edge],
        fac.edge[inside],
    )
    np.testing.assert_array_equal(
        clip.edges[snap_points(clip.graph, rx, ry, max_snap_m=snap).edge], res.edge
    )


def test_inputs_and_work_folder_as_urls(city: dict[str, Path], client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """file:// URLs for every input and the work folder: read through fsspec, same figures."""
    opts = _options(city)
    single = lifecircle.audit(options=opts)
    urls = {k: "file://" + str(p) for k, p in city.items()}
    by_url = AuditOptions(
        network=urls["network"],
        facilities=(urls["facilities"],),
        units=urls["units"],
        population=urls["population"],
        osm_pois=False,
        keep_edge_units=True,
    )
    work = tmp_path / "work"
    work.mkdir()
    dask = dist.audit_dask(by_url, client=client, workdir="file://" + str(work))
    assert_same(single, dask, same_paths=False)
    assert list(work.iterdir()) == []  # the run's partition files are removed
    study = dask.summary["study"]  # the inputs named as given
    assert (study["network"], study["units"]) == (urls["network"], urls["units"])
    assert study["facilities"] == [urls["facilities"]]
    # the walk graph read again for the map, through the URL: the audit's graph
    graph = dist.read_walk_graph(by_url)
    for name in ("node_ids", "x", "y", "edge_u", "edge_v", "edge_length"):
        np.testing.assert_array_equal(getattr(graph, name), getattr(single.graph, name))
    page = dask.with_graph(graph, by_url).to_report(tmp_path / "report.html")
    assert "grid.osm" in page.read_text(encoding="utf-8")


def test_url_spelling_and_memory_copies(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    assert dio.as_url(Path("s3://bucket/city.osm.pbf")) == "s3://bucket/city.osm.pbf"
    assert dio.as_url("file:///data/city.osm") == "file:///data/city.osm"
    assert dio.as_url(Path("file:///data/city.osm")) == "file:///data/city.osm"
    assert dio.as_url("C:/data/city.osm") is None  # a drive letter, not a scheme
    assert dio.as_url("/data/city.osm") is None
    import fsspec

    with fsspec.open("memory://lc-test/units.shp", "wb") as f:
        f.write(b"shp")
    with fsspec.open("memory://lc-test/units.dbf", "wb") as f:
        f.write(b"dbf")
    opts = AuditOptions(network="memory://lc-test/units.shp")
    local = dio.localize(opts, tmp_path)
    assert Path(local.network).read_bytes() == b"shp"
    assert (Path(local.network).parent / "units.dbf").read_bytes() == b"dbf"
    with pytest.raises(lifecircle.errors.LifecircleError, match="cannot read"):
        dio.localize(AuditOptions(network="memory://lc-test/missing.osm"), tmp_path)
    with pytest.raises(lifecircle.errors.LifecircleError, match="work folder is not shared"):
        dio.read_part("memory://lc-test/no-such-part")


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
def test_cli_dask_on_the_sample_equals_single_machine(  # type: ignore[no-untyped-def]
    tmp_path: Path, sample_result, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``lifecircle audit --dask local:2`` on the bundled sample: the same outputs."""
    from lifecircle.cli import cli

    out, work = tmp_path / "out", tmp_path / "work"
    work.mkdir()
    made: list[str] = []
    make = dist.make_workdir
    monkeypatch.setattr(dist, "make_workdir", lambda base: made.append(make(base)) or made[-1])
    args = ["audit", "--dask", "local:2", "--dask-workdir", str(work), "--out", str(out), "-q"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["distributed"]["partitions"] == 16
    assert made and made[0].startswith(str(work))  # the pieces went to --dask-workdir
    assert list(work.iterdir()) == []  # and were removed after the run
    access = gpd.read_parquet(out / "access.parquet")
    ref = sample_result.access.sort_values("origin_id").reset_index(drop=True)[list(access.columns)]
    pd.testing.assert_frame_equal(
        pd.DataFrame(ref).drop(columns="geometry"),
        pd.DataFrame(access).drop(columns="geometry"),
        check_exact=True,
    )
    assert _parquet_bytes(ref) == (out / "access.parquet").read_bytes()
    want = json.loads(json.dumps(sample_result.summary.to_json(), default=str))
    # the command reads the bundled study file, which names the study; the fixture does not
    assert summary["study"].pop("name") == "Central Shanghai sample"
    want["study"].pop("name")
    for key in want.keys() - {"created", "timings_s", "outputs"}:
        assert summary[key] == want[key], key
    # the map and the report, drawn on the whole network read on the driver
    assert (out / "map.html").stat().st_size > 100_000
    assert "supply" in (out / "report.html").read_text(encoding="utf-8").lower()
    # the written files: gaps.csv byte for byte, every units.gpkg layer cell for cell
    ref_out = tmp_path / "single"
    sample_result.write(ref_out)
    assert (out / "gaps.csv").read_bytes() == (ref_out / "gaps.csv").read_bytes()
    for level in sample_result.units:
        pd.testing.assert_frame_equal(
            gpd.read_file(ref_out / "units.gpkg", layer=level),
            gpd.read_file(out / "units.gpkg", layer=level),
            check_exact=True,
        )


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
