"""Study files: every input and option of an audit in one YAML file.

``lifecircle audit STUDY.yaml`` reads it; flags given on the command line
override it. Paths are relative to the study file. The whole file is checked
and every mistake is listed in one :class:`~lifecircle.errors.ConfigError`.

Example (``configs/studies/central-shanghai.yaml``)::

    name: Central Shanghai sample
    network: ../../data/central-shanghai/streets.osm.pbf
    facilities:
      - ../../data/central-shanghai/pois.gpkg
      - {path: amap-export.csv, crs: gcj02}     # a file in another datum
    units: ../../data/central-shanghai/units.gpkg
    population: ../../data/central-shanghai/population.gpkg
    standard: gb50180-2018
    profile: adult
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .datasets import resource_dir
from .errors import ConfigError, InputFileError

#: Keys a study may set, with their kind. Paths are resolved against the file.
STUDY_KEYS: dict[str, str] = {
    "name": "text", "description": "text",
    "network": "path", "facilities": "facilities", "units": "path", "population": "path",
    "standard": "standard", "profile": "text", "categories": "list",
    "facilities_crs": "text", "unit_levels": "list", "unit_codes": "text",
    "osm_pois": "bool", "min_component_nodes": "int", "max_snap_m": "number",
    "hex_size_m": "number", "place": "text",
    "out": "outpath", "lang": "lang", "no_map": "bool", "basemap": "basemap",
}


@dataclass(frozen=True)
class Study:
    """A validated study: audit keyword arguments plus output options."""

    path: Path
    name: str
    values: dict[str, Any] = field(default_factory=dict)

    def audit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`lifecircle.audit`."""
        skip = {"name", "description", "out", "lang", "no_map", "basemap", "place"}
        return {k: v for k, v in self.values.items() if k not in skip}


def bundled_study(name: str = "central-shanghai") -> Path:
    """Path of a bundled study file (``configs/studies/NAME.yaml``)."""
    return resource_dir("configs/studies") / f"{name}.yaml"


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path
        The YAML file.

    Returns
    -------
    Study
        With paths resolved against the file's folder.

    Raises
    ------
    ConfigError
        Listing every mistake in the file.
    """
    path = Path(path)
    if not path.is_file():
        msg = f"study file {str(path)!r} does not exist; check the path"
        raise InputFileError(msg)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(str(path), [f"not valid YAML: {exc}"]) from None
    if not isinstance(raw, Mapping):
        raise ConfigError(str(path), ["a study file must be a mapping of option: value"])
    base = path.parent
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        kind = STUDY_KEYS.get(str(key))
        if kind is None:
            problems.append(f"{key}: unknown option (allowed: {', '.join(STUDY_KEYS)})")
            continue
        checked = _check(kind, str(key), value, base, problems)
        if checked is not None:
            values[str(key)] = checked
    if "network" not in values and "place" not in values and not problems:
        problems.append("network: missing; give the street network (or `place` to download it)")
    if problems:
        raise ConfigError(str(path), problems)
    return Study(path=path, name=str(values.get("name", path.stem)), values=values)


def _check(kind: str, key: str, value: Any, base: Path, problems: list[str]) -> Any:
    def fail(expected: str) -> None:
        problems.append(f"{key}: must be {expected}, got {value!r}")

    if kind in ("path", "outpath"):
        if not isinstance(value, str) or not value.strip():
            return fail("a path (text)")
        resolved = (base / value).resolve() if not Path(value).is_absolute() else Path(value)
        if kind == "path" and not resolved.exists():
            problems.append(f"{key}: file {value!r} does not exist (looked at {resolved})")
            return None
        return resolved
    if kind == "facilities":
        items = value if isinstance(value, list) else [value]
        out = []
        for i, item in enumerate(items):
            crs = None
            if isinstance(item, Mapping) and isinstance(item.get("path"), str):
                crs, item = item.get("crs"), item["path"]
                if crs is not None and not isinstance(crs, str):
                    problems.append(f"{key}[{i}].crs: must be wgs84, gcj02, bd09 or EPSG:..., "
                                    f"got {crs!r}")
            if not isinstance(item, str):
                problems.append(f"{key}[{i}]: must be a path or {{path: ..., crs: ...}}, "
                                f"got {item!r}")
                continue
            resolved = (base / item).resolve()
            if not resolved.exists():
                problems.append(f"{key}[{i}]: file {item!r} does not exist (looked at "
                                f"{resolved})")
            out.append((resolved, crs) if crs else resolved)
        return out
    if kind == "standard":
        if not isinstance(value, str):
            return fail("a bundled standard name or a YAML path")
        local = base / value
        return local.resolve() if value.endswith((".yaml", ".yml")) else value
    if kind == "text":
        return value if isinstance(value, str) and value.strip() else fail("a text")
    if kind == "list":
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        return fail("a list of texts")
    if kind == "bool":
        return value if isinstance(value, bool) else fail("true or false")
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return value if ok else fail("a positive whole number")
    if kind == "number":
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        return float(value) if ok else fail("a positive number")
    if kind == "lang":
        return value if value in ("en", "zh") else fail("en or zh")
    if kind == "basemap":
        return value if value in ("osm", "amap", "none") else fail("osm, amap or none")
    msg = f"unknown option kind {kind}"
    raise AssertionError(msg)
