"""Bundled resources: the central-Shanghai sample, the rural example and the configs.

In a source checkout (or an editable install) they are read from ``data/`` and
``configs/`` at the repository root; in a wheel they live in
``lifecircle/_bundled/``.
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputFileError

_PACKAGE_DIR = Path(__file__).resolve().parent
_ROOTS = (_PACKAGE_DIR / "_bundled", _PACKAGE_DIR.parent.parent)

#: The bundled samples: name -> files (relative to the sample folder) and description.
SAMPLES: dict[str, dict[str, str]] = {
    "central-shanghai": {
        "description": (
            "Central Shanghai (~150 km2): OSM streets 2025-08-09, OSM POIs 2026-05-19, "
            "OSM districts and streets/towns 2026-08-19, 7th-census population 2020. "
            "© OpenStreetMap contributors, ODbL 1.0"
        ),
        "network": "streets.osm.pbf",
        "facilities": "pois.gpkg",
        "units": "units.gpkg",
        "population": "population.gpkg",
    },
    "rural-example": {
        "description": (
            "GENERATED test area (not real data): a fictional district with one urban street "
            "and one market town of four villages on a sparse road network, with urban-rural "
            "class codes; for --rural-standard (configs/studies/rural-example.yaml)"
        ),
        "network": "streets.osm",
        "units": "units.geojson",
        "population": "population.geojson",
    },
}


def resource_dir(relative: str) -> Path:
    """Return the folder of a bundled resource, e.g. ``"configs/standards"``.

    Parameters
    ----------
    relative
        Path relative to the repository root.

    Returns
    -------
    Path
        The first existing folder among the wheel's bundled copy and the checkout.
    """
    for root in _ROOTS:
        candidate = root / relative
        if candidate.is_dir():
            return candidate
    msg = (
        f"bundled resource {relative!r} not found (looked in {', '.join(str(r) for r in _ROOTS)}); "
        "reinstall lifecircle with `pip install .` from a full checkout"
    )
    raise InputFileError(msg)


def list_samples() -> list[str]:
    """Names of the bundled sample datasets."""
    return sorted(SAMPLES)


def get_path(name: str = "central-shanghai") -> dict[str, Path]:
    """Paths of a bundled sample's input files.

    Parameters
    ----------
    name
        Sample name, see :func:`list_samples`.

    Returns
    -------
    dict
        ``network``, ``facilities``, ``units`` and ``population`` paths.

    Examples
    --------
    >>> paths = get_path("central-shanghai")
    >>> paths["network"].name
    'streets.osm.pbf'
    """
    if name not in SAMPLES:
        msg = f"unknown sample {name!r}; bundled samples: {', '.join(list_samples())}"
        raise InputFileError(msg)
    folder = resource_dir(f"data/{name}")
    return {key: folder / value for key, value in SAMPLES[name].items() if key != "description"}
