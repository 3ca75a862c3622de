"""The content of ``summary.json``: what an audit measured, how, and what it left out."""

from __future__ import annotations

import datetime as dt
import platform
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import __version__
from .config import Profile, Standard
from .io.population import Origins
from .io.units import UnitHierarchy
from .network import WalkGraph
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
                  timings: dict[str, float], quality: dict[str, Any], max_snap_m: float
                  ) -> dict[str, Any]:
    """Assemble ``summary.json`` from the stages' results (plain data, JSON-ready)."""
    excluded = unit_check[~unit_check["analysed"]]
    methods = access.groupby("population_method")["population"].sum()
    return {
        "lifecircle_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "study": {
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
            "excluded": excluded[["unit_id", "name", "reason"]].to_dict("records"),
        },
        "coverage": city["coverage"],
        "score": city["score"],
        "complete_share": city["complete_share"],
        "complete_by_level": {k.removeprefix("complete_"): v for k, v in city.items()
                              if k.startswith("complete_") and k != "complete_share"},
        "settings": {"max_snap_m": max_snap_m,
                     "polygon_access_spacing_m": POLYGON_ACCESS_SPACING_M,
                     "catchment_inside_share": CATCHMENT_INSIDE_SHARE},
        "data_quality": quality,
        "warnings": warnings,
        "timings_s": dict(timings),
        "versions": versions(),
        "attribution": OSM_ATTRIBUTION,
    }
