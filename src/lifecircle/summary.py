"""The content of ``summary.json``: what an audit measured, how, and what it left out."""

from __future__ import annotations

import platform
from dataclasses import dataclass
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
from .options import AuditOptions
from .reproducible import created_timestamp, source_date_epoch
from .settings import CATCHMENT_INSIDE_SHARE, POLYGON_ACCESS_SPACING_M

OSM_ATTRIBUTION = "© OpenStreetMap contributors (ODbL 1.0)"


def versions() -> dict[str, str]:
    """Versions of lifecircle, Python and the libraries that shape the results."""
    import geopandas
    import pyproj
    import scipy
    import shapely

    out = {
        "lifecircle": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pandas": pd.__version__,
        "geopandas": geopandas.__version__,
        "shapely": shapely.__version__,
        "pyproj": pyproj.__version__,
    }
    try:
        from importlib.metadata import version

        out["osmium"] = version("osmium")
    except Exception:  # noqa: BLE001 - version lookup is best effort
        pass
    return out


@dataclass(frozen=True)
class SummaryParts:
    """What the audit's stages produced, as needed for ``summary.json``."""

    options: AuditOptions
    network: Path
    facility_paths: list[Path]
    units: Any
    population: Any
    std: Standard
    prof: Profile
    audited: list[str]
    graph: WalkGraph
    fac: gpd.GeoDataFrame
    hierarchy: UnitHierarchy
    unit_check: pd.DataFrame
    unit_tables: dict[str, gpd.GeoDataFrame]
    origins: Origins
    city: dict
    access: gpd.GeoDataFrame
    origins_total: int
    outside_units: int
    beyond_snap: int
    reach_m: float
    warnings: list[str]
    timings: dict[str, float]
    quality: dict[str, Any]
    completeness: dict[str, dict]


def build_summary(p: SummaryParts) -> dict[str, Any]:
    """Assemble ``summary.json`` from the stages' results (plain data, JSON-ready).

    With ``SOURCE_DATE_EPOCH`` set, ``created`` is that moment and ``timings_s``
    holds ``null`` per stage (timings are logged instead), so the file is
    reproducible.
    """
    excluded = p.unit_check[~p.unit_check["analysed"]]
    methods = p.access.groupby("population_method")["population"].sum()
    counts = p.fac["category"].value_counts()
    finest = p.hierarchy.units[p.hierarchy.finest]
    analysed_ids = set(p.unit_check.loc[p.unit_check["analysed"], "unit_id"])
    area_m2 = finest[finest["unit_id"].isin(analysed_ids)].to_crs(p.graph.crs).area.sum()
    fixed_time = source_date_epoch() is not None
    return {
        "lifecircle_version": __version__,
        "created": created_timestamp(),
        "study": {
            "name": p.options.name or Path(p.network).name,
            "area_km2": round(float(area_m2) / 1e6, 2),
            "network": str(p.network),
            "facilities": [str(path) for path in p.facility_paths],
            "units": str(p.units) if p.units is not None else None,
            "population": str(p.population) if p.population is not None else None,
        },
        "standard": {
            "id": p.std.id,
            "title": p.std.title_en,
            "title_zh": p.std.title_zh,
            "source": p.std.source,
            "path": p.std.path,
        },
        "profile": {
            "id": p.prof.id,
            "speed_m_s": p.prof.speed_m_s,
            "source": p.prof.source,
            "verified": p.prof.verified,
        },
        "thresholds": {
            c: {
                "level": p.std.category(c).level,
                "minutes": p.std.category(c).threshold_min,
                "metres": round(p.std.category(c).threshold_min * p.prof.speed_m_min, 1),
                "mandatory": p.std.category(c).mandatory,
                "verified": p.std.category(c).verified,
                "source": p.std.category(c).source,
            }
            for c in p.audited
        },
        "categories_audited": p.audited,
        "categories_not_audited": [c for c in p.std.category_ids if c not in p.audited],
        "categories_not_audited_reason": {
            c: ("no_facilities" if counts.get(c, 0) == 0 else "not_requested")
            for c in p.std.category_ids
            if c not in p.audited
        },
        "categories_requested": (
            None if p.options.categories is None else list(p.options.categories)
        ),
        "population": {
            "total": round(p.city["population"], 1),
            "method": p.origins.method,
            "sources": {k: round(float(v), 1) for k, v in methods.items()},
            "allocation": p.origins.report,
        },
        "origins": {
            "total": p.origins_total,
            "analysed": len(p.access),
            "outside_units": p.outside_units,
            "beyond_max_snap": p.beyond_snap,
        },
        "network": p.graph.summary(),
        "facilities": {
            "total": len(p.fac),
            "reachable": int(p.fac["reachable"].sum()),
            "by_category": {c: int(n) for c, n in p.fac["category"].value_counts().items()},
        },
        "units": {
            "levels": p.hierarchy.levels,
            "catchment_m": round(p.reach_m, 1),
            "total": {lv: len(t) for lv, t in p.unit_tables.items()},
            "analysed": {
                lv: int((t["units_analysed"] > 0).sum()) for lv, t in p.unit_tables.items()
            },
            "fully_analysed": {lv: int(t["analysed"].sum()) for lv, t in p.unit_tables.items()},
            "partly_analysed": {
                lv: t.loc[(t["units_analysed"] > 0) & ~t["analysed"].astype(bool), "unit_id"]
                .astype(str)
                .tolist()
                for lv, t in p.unit_tables.items()
            },
            "edge_effect": p.unit_check.loc[
                p.unit_check["analysed"] & p.unit_check["edge_effect"], "unit_id"
            ]
            .astype(str)
            .tolist(),
            "excluded": excluded[["unit_id", "name", "reason"]].to_dict("records"),
        },
        "coverage": p.city["coverage"],
        "score": p.city["score"],
        "complete_share": p.city["complete_share"],
        "complete_by_level": {level: p.city[columns.complete(level)] for level in p.completeness},
        "completeness": p.completeness,
        "settings": {
            "max_snap_m": p.options.max_snap_m,
            "keep_edge_units": p.options.keep_edge_units,
            "snap": p.options.snap,
            "polygon_access_spacing_m": POLYGON_ACCESS_SPACING_M,
            "catchment_inside_share": CATCHMENT_INSIDE_SHARE,
        },
        "data_quality": p.quality,
        "warnings": p.warnings,
        "timings_s": {k: (None if fixed_time else v) for k, v in p.timings.items()},
        "versions": versions(),
        "attribution": OSM_ATTRIBUTION,
    }
