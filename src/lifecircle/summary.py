"""The content of ``summary.json``: what an audit measured, how, and what it left out."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import columns
from ._version import __version__
from .config import Profile, Standard
from .io.population import Origins
from .io.units import UnitHierarchy
from .network import WalkGraph
from .reproducible import created_timestamp, source_date_epoch
from .settings import CATCHMENT_INSIDE_SHARE, POLYGON_ACCESS_SPACING_M

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"


def versions() -> dict[str, str]:
    """Versions of lifecircle, Python and the libraries that shape the results."""
    import geopandas
    import pyproj
    import scipy
    import shapely

    out = {"lifecircle": __version__, "python": platform.python_version(),
           "numpy": np.__version__, "scipy": scipy.__version__, "pandas": pd.__version__,
           "geopandas": geopandas.__version__, "shapely": shapely.__version__,
           "pyproj": pyproj.__version__}
    try:
        from importlib.metadata import version
        out["osmium"] = version("osmium")
    except Exception:  # noqa: BLE001 - version lookup is best effort
        pass
    return out


def build_summary(*, network: Path, facility_paths: list[Path], units: Any, population: Any,
                  std: Standard, prof: Profile, audited: list[str], graph: WalkGraph,
                  fac: gpd.GeoDataFrame, hierarchy: UnitHierarchy, unit_check: pd.DataFrame,
                  unit_tables: dict[str, gpd.GeoDataFrame], origins: Origins, city: dict,
                  access: gpd.GeoDataFrame, origins_total: int, outside_units: int,
                  beyond_snap: int, reach_m: float, warnings: list[str],
                  timings: dict[str, float], quality: dict[str, Any], max_snap_m: float,
                  completeness: dict[str, dict], categories: Any = None,
                  keep_edge_units: bool = False, name: str | None = None
                  ) -> dict[str, Any]:
    """Assemble ``summary.json`` from the stages' results (plain data, JSON-ready).

    With ``SOURCE_DATE_EPOCH`` set, ``created`` is that moment and ``timings_s``
    holds ``null`` per stage (timings are logged instead), so the file is
    reproducible.
    """
    excluded = unit_check[~unit_check["analysed"]]
    methods = access.groupby("population_method")["population"].sum()
    counts = fac["category"].value_counts()
    finest = hierarchy.units[hierarchy.finest]
    analysed_ids = set(unit_check.loc[unit_check["analysed"], "unit_id"])
    area_m2 = finest[finest["unit_id"].isin(analysed_ids)].to_crs(graph.crs).area.sum()
    fixed_time = source_date_epoch() is not None
    return {
        "lifecircle_version": __version__,
        "created": created_timestamp(),
        "study": {
            "name": name or Path(network).name,
            "area_km2": round(float(area_m2) / 1e6, 2),
            "network": str(network),
            "facilities": [str(p) for p in facility_paths],
            "units": str(units) if units is not None else None,
            "population": str(population) if population is not None else None,
        },
        "standard": {"id": std.id, "title": std.title_en, "title_zh": std.title_zh,
                     "source": std.source, "path": std.path},
        "profile": {"id": prof.id, "speed_m_s": prof.speed_m_s, "source": prof.source,
                    "verified": prof.verified},
        "thresholds": {
            c: {"level": std.category(c).level, "minutes": std.category(c).threshold_min,
                "metres": round(std.category(c).threshold_min * prof.speed_m_min, 1),
                "mandatory": std.category(c).mandatory,
                "verified": std.category(c).verified, "source": std.category(c).source}
            for c in audited
        },
        "categories_audited": audited,
        "categories_not_audited": [c for c in std.category_ids if c not in audited],
        "categories_not_audited_reason": {
            c: ("no_facilities" if counts.get(c, 0) == 0 else "not_requested")
            for c in std.category_ids if c not in audited},
        "categories_requested": list(categories) if categories is not None else None,
        "population": {
            "total": round(city["population"], 1),
            "method": origins.method,
            "sources": {k: round(float(v), 1) for k, v in methods.items()},
            "allocation": origins.report,
        },
        "origins": {"total": origins_total, "analysed": len(access),
                    "outside_units": outside_units, "beyond_max_snap": beyond_snap},
        "network": graph.summary(),
        "facilities": {
            "total": len(fac), "reachable": int(fac["reachable"].sum()),
            "by_category": {c: int(n) for c, n in fac["category"].value_counts().items()},
        },
        "units": {
            "levels": hierarchy.levels,
            "catchment_m": round(reach_m, 1),
            "total": {lv: len(t) for lv, t in unit_tables.items()},
            "analysed": {lv: int((t["units_analysed"] > 0).sum())
                         for lv, t in unit_tables.items()},
            "fully_analysed": {lv: int(t["analysed"].sum()) for lv, t in unit_tables.items()},
            "partly_analysed": {
                lv: t.loc[(t["units_analysed"] > 0) & ~t["analysed"].astype(bool),
                          "unit_id"].astype(str).tolist()
                for lv, t in unit_tables.items()},
            "edge_effect": unit_check.loc[unit_check["analysed"] & unit_check["edge_effect"],
                                          "unit_id"].astype(str).tolist(),
            "excluded": excluded[["unit_id", "name", "reason"]].to_dict("records"),
        },
        "coverage": city["coverage"],
        "score": city["score"],
        "complete_share": city["complete_share"],
        "complete_by_level": {level: city[columns.complete(level)] for level in completeness},
        "completeness": completeness,
        "settings": {"max_snap_m": max_snap_m, "keep_edge_units": keep_edge_units,
                     "polygon_access_spacing_m": POLYGON_ACCESS_SPACING_M,
                     "catchment_inside_share": CATCHMENT_INSIDE_SHARE},
        "data_quality": quality,
        "warnings": warnings,
        "timings_s": {k: (None if fixed_time else v) for k, v in timings.items()},
        "versions": versions(),
        "attribution": OSM_ATTRIBUTION,
    }
