#!/usr/bin/env python
"""Build the bundled ``central-shanghai`` sample of lifecircle from real public data.

Reads ONLY the shared real-data folder (default ``../shared/data/shanghai`` relative to the
repository root; see its README for sources and licences) and writes into
``data/central-shanghai/``:

``streets.osm.pbf``
    Byte copy of ``central-roads-2025-08-09.osm.pbf`` (OSM street network, highway
    primary..residential + links, no footways).
``pois.gpkg`` (layer ``pois``, EPSG:4326)
    Features of ``osm-pois-2026-05-19.gpkg`` that intersect the street network's extent
    (bbox of all nodes referenced by highway ways in the PBF). Points and (multi)polygons
    only; a fixed set of tag columns; coordinates rounded to 1e-7 degrees.
``units.gpkg`` (layer ``units``, EPSG:4326)
    Governance units in one layer: the 113 streets/towns (``level='street'``) of
    ``central8-subdistricts-osm-2026-08-19.geojson`` and the 8 districts
    (``level='district'``) dissolved from them. Columns ``unit_id, name, name_en,
    parent_id, level``. Geometries are coverage-simplified (shared edges stay shared,
    ~5 m tolerance in EPSG:32651), made valid, polygonal, MultiPolygon, rounded to 1e-7.
``population.gpkg`` (layer ``population``, EPSG:4326)
    One polygon per street unit with its 2020 (7th census) resident population:
    the street-level bulletin figure where one exists (``census2020_street``, Yangpu),
    otherwise the district total allocated by area share with largest-remainder rounding
    (``census2020_district_areal``).

The build is deterministic (sorted rows, fixed GeoPackage timestamp) and every output is
written to a temporary file in the target folder and then moved into place atomically.

Usage::

    python scripts/build_sample.py [--source DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
from pathlib import Path

import geopandas as gpd
import osmium
import pandas as pd
import pyogrio
import shapely

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = REPO_ROOT / ".." / "shared" / "data" / "shanghai"
DEFAULT_OUT = REPO_ROOT / "data" / "central-shanghai"

SRC_STREETS = "central-roads-2025-08-09.osm.pbf"
SRC_POIS = "osm-pois-2026-05-19.gpkg"
SRC_SUBDISTRICTS = "central8-subdistricts-osm-2026-08-19.geojson"
SRC_DISTRICTS_EN = "districts-geoboundaries-adm3.geojson"
SRC_CENSUS_DISTRICTS = "census-2020-districts.csv"
SRC_CENSUS_STREETS = "census-2020-subdistricts-qingpu-yangpu.json"
SOURCE_FILES = (
    SRC_STREETS,
    SRC_POIS,
    SRC_SUBDISTRICTS,
    SRC_DISTRICTS_EN,
    SRC_CENSUS_DISTRICTS,
    SRC_CENSUS_STREETS,
)

WGS84 = "EPSG:4326"
METRIC_CRS = "EPSG:32651"  # UTM zone 51N, metres
SIMPLIFY_TOLERANCE_M = 5.0
GRID = 1e-7  # coordinate rounding, degrees (~1 cm)

POI_COLUMNS = [
    "osm_type",
    "osm_id",
    "name",
    "name:zh",
    "name:en",
    "amenity",
    "shop",
    "leisure",
    "healthcare",
    "public_transport",
    "highway",
    "railway",
    "bus",
    "subway",
    "isced:level",
    "school",
    "building",
    "landuse",
]
UNIT_COLUMNS = ["unit_id", "name", "name_en", "parent_id", "level"]
POPULATION_COLUMNS = [
    "unit_id",
    "name",
    "population",
    "population_method",
    "population_source",
    "age_0_14",
    "age_15_64",
    "age_65_plus",
    "age_source",
]

#: Census age-share columns (percent of residents) -> the sample's age-band columns.
CENSUS_AGE_BANDS = {
    "人口比重_0-14岁": "age_0_14",
    "人口比重_15-64岁": "age_15_64",
    "人口比重_65岁及以上": "age_65_plus",
}
AGE_SOURCE = "census2020_district_age_shares (percent; the district's shares for every street)"

METHOD_STREET = "census2020_street"
METHOD_AREAL = "census2020_district_areal"
SOURCE_AREAL = (
    "7th national census 2020, district total (National Bureau of Statistics), "
    "allocated to streets/towns by area"
)
# Keys of the street-level census JSON -> district names.
CENSUS_STREET_DISTRICTS = {"yangpu": "杨浦区", "qingpu": "青浦区"}
CENSUS_UNIT_FACTORS = {"人": 1, "万人": 10_000}


class BuildError(RuntimeError):
    """A data problem that must stop the build (mismatch, missing match, bad input)."""


# --------------------------------------------------------------------------- helpers


def _tmp_path(final: Path) -> Path:
    # Keep the real suffix last so GDAL recognises the format of the temp file.
    return final.with_name(f".{final.stem}.tmp-{os.getpid()}{final.suffix}")


def _write_gpkg(gdf: gpd.GeoDataFrame, final: Path, layer: str) -> None:
    """Write ``gdf`` to ``final`` (GeoPackage, one layer) atomically."""
    tmp = _tmp_path(final)
    tmp.unlink(missing_ok=True)
    try:
        gdf.to_file(tmp, layer=layer, driver="GPKG", engine="pyogrio")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def _round(geoms):
    return shapely.set_precision(geoms, GRID)


def _polygonal(geom):
    """Valid MultiPolygon made of the polygonal parts of ``geom`` (None if none)."""
    if geom is None or geom.is_empty:
        return None
    geom = shapely.make_valid(geom)
    parts = [
        p
        for p in shapely.get_parts(geom)
        if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty
    ]
    polys = []
    for p in parts:
        polys.extend(shapely.get_parts(p) if p.geom_type == "MultiPolygon" else [p])
    if not polys:
        return None
    return shapely.MultiPolygon(polys)


def _clean_polygons(geoms):
    """make_valid -> polygonal parts -> round to GRID -> polygonal MultiPolygon again."""
    out = [_polygonal(g) for g in geoms]
    out = [_polygonal(g) for g in _round(out)]
    if any(g is None for g in out):
        raise BuildError("a unit polygon became empty after cleaning/rounding")
    return out


def _largest_remainder(total: int, weights: pd.Series) -> pd.Series:
    """Integers proportional to ``weights`` summing exactly to ``total``.

    Ties in the remainders are broken by the index (sorted), so the result is deterministic.
    """
    if total < 0:
        raise BuildError(f"negative total to allocate: {total}")
    wsum = float(weights.sum())
    if len(weights) == 0 or wsum <= 0:
        if total:
            raise BuildError(f"cannot allocate {total} persons: no area to allocate to")
        return pd.Series(0, index=weights.index, dtype="int64")
    quotas = weights.astype(float) * total / wsum
    base = quotas.apply(math.floor).astype("int64")
    rest = int(total - base.sum())
    order = (
        pd.DataFrame({"rem": quotas - base, "key": weights.index.astype(str)}, index=weights.index)
        .sort_values(["rem", "key"], ascending=[False, True])
        .index
    )
    base.loc[order[:rest]] += 1
    return base


# --------------------------------------------------------------------------- streets


def network_extent(pbf: Path) -> tuple[float, float, float, float]:
    """(minlon, minlat, maxlon, maxlat) of all nodes referenced by highway ways."""
    minx = miny = math.inf
    maxx = maxy = -math.inf
    n_ways = 0
    for obj in osmium.FileProcessor(str(pbf)).with_locations():
        if not obj.is_way() or "highway" not in obj.tags:
            continue
        n_ways += 1
        for node in obj.nodes:
            loc = node.location
            if not loc.valid():
                continue
            minx, maxx = min(minx, loc.lon), max(maxx, loc.lon)
            miny, maxy = min(miny, loc.lat), max(maxy, loc.lat)
    if n_ways == 0 or not math.isfinite(minx):
        raise BuildError(f"{pbf.name}: no highway ways with node locations")
    return minx, miny, maxx, maxy


def build_streets(source: Path, out: Path) -> tuple[float, float, float, float]:
    """Copy the street PBF byte for byte; return the network extent."""
    src = source / SRC_STREETS
    final = out / "streets.osm.pbf"
    tmp = _tmp_path(final)
    try:
        shutil.copyfile(src, tmp)
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    bbox = network_extent(final)
    print(
        f"streets.osm.pbf: {final.stat().st_size:,} bytes; network extent "
        f"lon {bbox[0]:.7f}..{bbox[2]:.7f}, lat {bbox[1]:.7f}..{bbox[3]:.7f}"
    )
    return bbox


# --------------------------------------------------------------------------- POIs


def build_pois(
    source: Path, out: Path, bbox: tuple[float, float, float, float]
) -> gpd.GeoDataFrame:
    """Clip the OSM POIs to ``bbox`` and write ``pois.gpkg``."""
    src = source / SRC_POIS
    info = pyogrio.read_info(src, layer="pois")
    missing = [c for c in POI_COLUMNS if c not in list(info["fields"])]
    if missing:
        raise BuildError(f"{SRC_POIS}: missing columns {missing}")
    gdf = pyogrio.read_dataframe(src, layer="pois", columns=POI_COLUMNS, bbox=bbox)
    if gdf.crs is None or gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(WGS84) if gdf.crs is not None else gdf.set_crs(WGS84)
    box = shapely.box(*bbox)
    gdf = gdf[gdf.geometry.notna() & gdf.intersects(box)]
    gdf = gdf[gdf.geom_type.isin(["Point", "Polygon", "MultiPolygon"])].copy()
    gdf["geometry"] = _round(gdf.geometry.values)
    gdf = gdf[~gdf.geometry.is_empty]
    gdf["osm_id"] = gdf["osm_id"].astype("int64")
    gdf = gdf.sort_values(["osm_type", "osm_id"], kind="mergesort").reset_index(drop=True)
    gdf = gpd.GeoDataFrame(gdf[POI_COLUMNS], geometry=gdf.geometry.values, crs=WGS84)
    _write_gpkg(gdf, out / "pois.gpkg", "pois")
    counts = gdf.geom_type.value_counts().to_dict()
    print(
        f"pois.gpkg: {len(gdf):,} features ({', '.join(f'{k} {v:,}' for k, v in sorted(counts.items()))})"
    )
    return gdf


# --------------------------------------------------------------------------- units


def _read_census_districts(source: Path) -> pd.DataFrame:
    df = pd.read_csv(source / SRC_CENSUS_DISTRICTS, dtype={"区划代码": str})
    for col in ("区划代码", "区县", "人口数_合计"):
        if col not in df.columns:
            raise BuildError(f"{SRC_CENSUS_DISTRICTS}: missing column {col}")
    if df["区县"].duplicated().any():
        raise BuildError(f"{SRC_CENSUS_DISTRICTS}: duplicate district names")
    return df.set_index("区县")


def _read_subdistricts(source: Path) -> gpd.GeoDataFrame:
    gdf = gpd.read_file(source / SRC_SUBDISTRICTS)
    need = ["district", "official_control_code_2023", "official_control_name_2023", "osm_name"]
    missing = [c for c in need if c not in gdf.columns]
    if missing:
        raise BuildError(f"{SRC_SUBDISTRICTS}: missing columns {missing}")
    gdf["official_control_code_2023"] = gdf["official_control_code_2023"].astype(str)
    bad = gdf.loc[
        ~gdf["official_control_code_2023"].str.fullmatch(r"\d{12}"), "official_control_code_2023"
    ]
    if len(bad):
        raise BuildError(f"{SRC_SUBDISTRICTS}: codes that are not 12 digits: {list(bad)}")
    if gdf["official_control_code_2023"].duplicated().any():
        raise BuildError(f"{SRC_SUBDISTRICTS}: duplicate codes")
    if gdf.crs is None:
        gdf = gdf.set_crs(WGS84)
    return gdf.sort_values("official_control_code_2023").reset_index(drop=True)


def build_units(source: Path, out: Path) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Write ``units.gpkg``; return (units, source subdistricts in EPSG:32651)."""
    sub = _read_subdistricts(source)
    census = _read_census_districts(source)
    en = gpd.read_file(source / SRC_DISTRICTS_EN, columns=["district", "district_en"])
    en_names = dict(zip(en["district"], en["district_en"]))

    metric = sub.to_crs(METRIC_CRS)
    n_invalid = int((~metric.is_valid).sum())
    if n_invalid:
        print(f"units: {n_invalid} invalid source polygons (repaired by make_valid)")
    geoms = shapely.make_valid(metric.geometry.values)
    if shapely.coverage_is_valid(geoms):
        # Coverage simplification keeps shared edges identical: no gaps/overlaps appear.
        simplified = shapely.coverage_simplify(geoms, SIMPLIFY_TOLERANCE_M)
    else:
        print("units: street polygons are not a clean coverage; per-polygon simplification")
        simplified = shapely.simplify(geoms, SIMPLIFY_TOLERANCE_M, preserve_topology=True)
    simplified = gpd.GeoSeries(simplified, crs=METRIC_CRS).to_crs(WGS84).values
    street_geoms = _clean_polygons(simplified)

    streets = gpd.GeoDataFrame(
        {
            "unit_id": sub["official_control_code_2023"].values,
            "name": sub["official_control_name_2023"].values,
            "name_en": "",
            "parent_id": sub["official_control_code_2023"].str[:6].values,
            "level": "street",
            "district": sub["district"].values,
        },
        geometry=street_geoms,
        crs=WGS84,
    )

    rows = []
    for code, grp in streets.groupby("parent_id", sort=True):
        names = grp["district"].unique()
        if len(names) != 1:
            raise BuildError(f"district code {code}: streets name several districts {list(names)}")
        dname = names[0]
        if dname not in census.index:
            raise BuildError(f"district {dname} not found in {SRC_CENSUS_DISTRICTS}")
        ccode = census.at[dname, "区划代码"]
        if ccode != code:
            raise BuildError(
                f"district code mismatch for {dname}: streets say {code}, census says {ccode}"
            )
        if dname not in en_names:
            raise BuildError(f"district {dname} not found in {SRC_DISTRICTS_EN}")
        geom = _clean_polygons([shapely.union_all(grp.geometry.values)])[0]
        rows.append(
            {
                "unit_id": code,
                "name": dname,
                "name_en": en_names[dname],
                "parent_id": None,
                "level": "district",
                "district": dname,
                "geometry": geom,
            }
        )
    districts = gpd.GeoDataFrame(rows, geometry="geometry", crs=WGS84)

    units = pd.concat([districts, streets], ignore_index=True)
    units = units.sort_values("unit_id", kind="mergesort").reset_index(drop=True)
    units = gpd.GeoDataFrame(units[UNIT_COLUMNS], geometry=units.geometry.values, crs=WGS84)
    _write_gpkg(units, out / "units.gpkg", "units")
    print(f"units.gpkg: {len(units)} units ({len(districts)} districts, {len(streets)} streets)")
    metric["unit_id"] = metric["official_control_code_2023"]
    return units, metric


# --------------------------------------------------------------------------- population


def _street_census(source: Path) -> dict[str, dict]:
    """District name -> {"rows": [(name, persons)], "source": str, "total": int|None}."""
    data = json.loads((source / SRC_CENSUS_STREETS).read_text(encoding="utf-8"))
    result = {}
    for key, block in data.items():
        if key.startswith("_"):
            continue
        if key not in CENSUS_STREET_DISTRICTS:
            raise BuildError(f"{SRC_CENSUS_STREETS}: unknown block {key!r}")
        unit = block["unit"]
        if unit not in CENSUS_UNIT_FACTORS:
            raise BuildError(f"{SRC_CENSUS_STREETS}: unknown unit {unit!r} in {key}")
        factor = CENSUS_UNIT_FACTORS[unit]
        years = list(block["years"])
        if 2020 not in years:
            raise BuildError(f"{SRC_CENSUS_STREETS}: {key} has no 2020 figures")
        col = 1 + years.index(2020)
        rows = [(r[0], int(round(float(r[col]) * factor))) for r in block["rows"]]
        total = block.get("total")
        total = int(round(float(total[years.index(2020)]) * factor)) if total else None
        result[CENSUS_STREET_DISTRICTS[key]] = {
            "rows": rows,
            "source": f"{block['source_name']} ({block['published_at']})",
            "total": total,
        }
    return result


def _match_street(name: str, cands: gpd.GeoDataFrame) -> str | None:
    """unit_id of the street called ``name``: official name, then OSM name, then stem."""
    for col in ("official_control_name_2023", "osm_name"):
        hit = cands.loc[cands[col] == name, "unit_id"]
        if len(hit) == 1:
            return hit.iloc[0]

    def stem(s: str) -> str:
        for suffix in ("街道", "镇", "乡"):
            if s.endswith(suffix):
                return s[: -len(suffix)]
        return s

    hit = cands.loc[cands["official_control_name_2023"].map(stem) == stem(name), "unit_id"]
    return hit.iloc[0] if len(hit) == 1 else None


def add_age_bands(gdf: gpd.GeoDataFrame, census: pd.DataFrame) -> gpd.GeoDataFrame:
    """Give each street its district's census age shares (percent): age_0_14, age_15_64, age_65_plus.

    The census publishes age shares per district only, so every street of a district
    gets the same shares (stated in ``age_source``).
    """
    by_code = census.reset_index().set_index("区划代码")
    district = gdf["unit_id"].astype(str).str[:6]
    missing = sorted(set(district) - set(by_code.index))
    if missing:
        raise BuildError(f"{SRC_CENSUS_DISTRICTS}: no age shares for districts {missing}")
    out = gdf.copy()
    for census_col, col in CENSUS_AGE_BANDS.items():
        out[col] = by_code.loc[district, census_col].astype(float).to_numpy()
    out["age_source"] = AGE_SOURCE
    geometry = out.pop("geometry")
    out["geometry"] = geometry
    return gpd.GeoDataFrame(out, geometry="geometry", crs=gdf.crs)


def build_population(
    source: Path,
    out: Path,
    units: gpd.GeoDataFrame,
    metric: gpd.GeoDataFrame,
    bbox: tuple[float, float, float, float],
) -> gpd.GeoDataFrame:
    """Write ``population.gpkg`` (one row per street unit) and print a district table."""
    census = _read_census_districts(source)
    by_district = _street_census(source)
    metric = metric.copy()
    metric["area"] = metric.area
    bbox_m = gpd.GeoSeries([shapely.box(*bbox)], crs=WGS84).to_crs(METRIC_CRS).iloc[0]
    metric["area_in_bbox"] = metric.intersection(bbox_m).area

    pop = pd.Series(pd.NA, index=metric["unit_id"], dtype="Int64")
    method = pd.Series("", index=metric["unit_id"], dtype=object)
    src = pd.Series("", index=metric["unit_id"], dtype=object)
    table = []
    for dname, grp in metric.groupby("district", sort=False):
        code = grp["unit_id"].iloc[0][:6]
        total = int(census.at[dname, "人口数_合计"])
        known = {}
        if dname in by_district:
            info = by_district[dname]
            unmatched = []
            for sname, persons in info["rows"]:
                uid = _match_street(sname, grp)
                if uid is None:
                    unmatched.append(sname)
                elif uid in known:
                    raise BuildError(f"{dname}: two census rows match street {uid}")
                else:
                    known[uid] = persons
            if unmatched:
                raise BuildError(
                    f"{dname}: census street rows not matched to any polygon: {unmatched}"
                )
            for uid, persons in known.items():
                pop[uid] = persons
                method[uid] = METHOD_STREET
                src[uid] = info["source"]
        rest = grp[~grp["unit_id"].isin(list(known))]
        if len(rest):
            remaining = total - sum(known.values())
            alloc = _largest_remainder(remaining, rest.set_index("unit_id")["area"])
            for uid, persons in alloc.items():
                pop[uid] = int(persons)
                method[uid] = METHOD_AREAL
                src[uid] = SOURCE_AREAL
        allocated = int(pop[grp["unit_id"]].sum())
        methods = "+".join(sorted(set(method[grp["unit_id"]])))
        table.append(
            (
                code,
                dname,
                len(grp),
                methods,
                allocated,
                total,
                grp["area_in_bbox"].sum() / grp["area"].sum(),
            )
        )

    metric = metric.sort_values("unit_id")
    streets = units[units["level"] == "street"].set_index("unit_id").loc[metric["unit_id"]]
    gdf = gpd.GeoDataFrame(
        {
            "unit_id": metric["unit_id"].values,
            "name": metric["official_control_name_2023"].values,
            "population": pop.loc[metric["unit_id"]].astype("int64").values,
            "population_method": method.loc[metric["unit_id"]].values,
            "population_source": src.loc[metric["unit_id"]].values,
        },
        geometry=streets.geometry.values,
        crs=WGS84,
    )
    gdf = add_age_bands(gdf, census)
    _write_gpkg(gdf, out / "population.gpkg", "population")
    print(f"population.gpkg: {len(gdf)} street units, {int(gdf['population'].sum()):,} persons")

    print()
    print(
        f"{'code':<7}{'district':<7}{'n':>4}  {'method':<26}{'allocated':>11}{'census':>11}"
        f"{'diff':>7}{'in bbox':>9}"
    )
    for code, dname, n, methods, allocated, total, frac in sorted(table):
        print(
            f"{code:<7}{dname:<7}{n:>4}  {methods:<26}{allocated:>11,}{total:>11,}"
            f"{allocated - total:>7}{frac:>8.1%}"
        )
    for dname, info in by_district.items():
        if dname not in set(metric["district"]):
            print(f"(street-level census for {dname} not used: district not in the sample)")
        elif info["total"] is not None:
            print(
                f"({dname}: bulletin street sum {sum(p for _, p in info['rows']):,}, bulletin total "
                f"{info['total']:,}, census district total {int(census.at[dname, '人口数_合计']):,})"
            )
    return gdf


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the bundled central-Shanghai sample (data/central-shanghai/)."
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=DEFAULT_SOURCE,
        help="folder with the real Shanghai data (default: %(default)s)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="output folder (default: %(default)s)"
    )
    args = parser.parse_args(argv)

    source = args.source.resolve()
    if not source.is_dir():
        print(f"error: source folder not found: {source}", file=sys.stderr)
        return 2
    missing = [f for f in SOURCE_FILES if not (source / f).is_file()]
    if missing:
        print(f"error: missing source files in {source}: {', '.join(missing)}", file=sys.stderr)
        return 2
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    # Fixed gpkg_contents.last_change so re-runs produce identical GeoPackages.
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2000-01-01T00:00:00.000Z"})
    try:
        bbox = build_streets(source, out)
        build_pois(source, out, bbox)
        units, metric = build_units(source, out)
        build_population(source, out, units, metric, bbox)
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
