"""Optional online convenience: download a place's streets, POIs and boundaries with osmnx.

Needs internet access to the OSM Nominatim and Overpass servers. Offline, it
fails with a clear message; nothing else in lifecircle touches the network.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..config import Standard
from ..errors import DataError
from .outputs import write_atomic
from .units import units_from_boundaries

log = logging.getLogger(__name__)


def download_place(place: str, folder: str | Path, standard: Standard) -> dict[str, Path]:
    """Download the walk network, facilities and admin boundaries of ``place``.

    Parameters
    ----------
    place
        A place name Nominatim knows, e.g. ``"青浦区, 上海市"``.
    folder
        Where to save ``network.graphml``, ``facilities.gpkg`` and, when found,
        ``units.gpkg`` (administrative boundaries, admin_level 6/8/10).
    standard
        Its OSM selectors decide which POIs to download.

    Returns
    -------
    dict
        Paths of the saved ``network``, ``facilities`` and ``units`` (if any).
    """
    import osmnx as ox

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # osmnx's tag query: key -> True (any value) or a list of values
    tags: dict[str, bool | str | list[str]] = {}
    for category in standard.categories:
        for selector in category.selectors:
            for key, values in selector.tags.items():
                current = tags.get(key)
                if values is None or current is True:
                    tags[key] = True
                else:
                    known = current if isinstance(current, list) else []
                    tags[key] = sorted(set(known) | set(values))
    try:
        log.info("downloading the walk network of %s with osmnx ...", place)
        graph = ox.graph_from_place(place, network_type="walk", simplify=False)
        log.info("downloading facilities ...")
        pois = ox.features_from_place(place, tags)
        boundaries = ox.features_from_place(place, {"boundary": "administrative"})
    except Exception as exc:  # noqa: BLE001 - any network or lookup failure
        msg = (
            f"could not download {place!r} from OpenStreetMap ({type(exc).__name__}: {exc}). "
            "--place needs internet access to the OSM servers; offline, download an "
            ".osm.pbf extract elsewhere and give it with --network"
        )
        raise DataError(msg) from None
    paths = {"network": folder / "network.graphml", "facilities": folder / "facilities.gpkg"}
    write_atomic(paths["network"], lambda tmp: ox.save_graphml(graph, tmp))
    pois = pois.reset_index().rename(columns={"id": "osm_id", "element": "osm_type"})
    keep = ["osm_type", "osm_id", "name", *sorted(k for k in tags if k in pois.columns)]
    pois = pois[[c for c in keep if c in pois.columns] + ["geometry"]]
    pois = pois[pois.geom_type.isin(["Point", "Polygon", "MultiPolygon"])]
    write_atomic(paths["facilities"], lambda tmp: pois.to_file(tmp, driver="GPKG"))
    if {"admin_level", "boundary"} <= set(boundaries.columns):
        areas = boundaries.reset_index().rename(columns={"id": "osm_id", "element": "osm_type"})
        hierarchy = units_from_boundaries(areas, source=place)
        if hierarchy is not None:
            frame = hierarchy.to_frame()
            paths["units"] = folder / "units.gpkg"
            write_atomic(paths["units"], lambda tmp: frame.to_file(tmp, driver="GPKG"))
    return paths
