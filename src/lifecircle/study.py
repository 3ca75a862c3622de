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

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from .config import clip, config_error, did_you_mean, list_standards, read_yaml, shown
from .datasets import resource_dir
from .errors import InputFileError
from .options import RunOptions, option_specs, study_kinds
from .settings import option_problem

#: Keys that describe the study (titles, summary.json) and are not audit options.
DESCRIPTIVE_KEYS = ("name", "name_zh", "area", "description")

#: Keys a study may set, with their kind: the descriptive ones, then every option
#: declared in :mod:`lifecircle.options` (the same names as the flags and as the
#: keyword arguments of :func:`lifecircle.audit`). Paths are resolved against the file.
STUDY_KEYS: dict[str, str] = {
    "name": "text",
    "name_zh": "text",
    "area": "text",
    "description": "longtext",
    **{name: spec.kind for name, spec in study_kinds().items() if name not in DESCRIPTIVE_KEYS},
}

#: Keys for the outputs and the download, not arguments of :func:`lifecircle.audit`.
OUTPUT_KEYS = tuple(spec.name for spec in option_specs(RunOptions))

#: Longest accepted text value (``description``: ``LONGTEXT_MAX_CHARS``).
TEXT_MAX_CHARS = 200
LONGTEXT_MAX_CHARS = 5000

_CHOICES = {name: spec.choices for name, spec in study_kinds().items() if spec.choices}


@dataclass(frozen=True)
class Study:
    """A validated study: audit keyword arguments plus output options.

    ``name`` is the study's display name (the ``name`` key, else the file's
    stem); ``values`` holds every key given, paths resolved, and ``name``.
    """

    path: Path
    name: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def name_zh(self) -> str:
        """The Chinese display name (``name_zh``), else :attr:`name`."""
        return str(self.values.get("name_zh") or self.name)

    @property
    def area(self) -> str:
        """The area studied (``area``), or ``""``."""
        return str(self.values.get("area") or "")

    @property
    def description(self) -> str:
        """The study's description (``description``), or ``""``."""
        return str(self.values.get("description") or "")

    def title(self, lang: str = "en") -> str:
        """The display name in ``lang`` (``en`` or ``zh``)."""
        return self.name_zh if lang == "zh" else self.name

    def audit_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for :func:`lifecircle.audit`."""
        skip = {*DESCRIPTIVE_KEYS, *OUTPUT_KEYS}
        return {k: v for k, v in self.values.items() if k not in skip}


def bundled_study(name: str = "central-shanghai") -> Path:
    """Path of a bundled study file (``configs/studies/NAME.yaml``)."""
    return resource_dir("configs/studies") / f"{name}.yaml"


def load_study(path: str | Path) -> Study:
    """Read and validate a study file.

    Parameters
    ----------
    path
        The YAML file (UTF-8, at most 250 kB, no aliases or tags).

    Returns
    -------
    Study
        With paths resolved against the file's folder and ``name`` set (the
        file's stem when the study has none).

    Raises
    ------
    InputFileError
        The file does not exist or cannot be read.
    ConfigError
        Listing every mistake in the file (at most 20 lines).

    Examples
    --------
    >>> study = load_study(bundled_study())
    >>> study.name
    'Central Shanghai sample'
    """
    path = Path(path)
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "does not exist"
        msg = f"study file {clip(str(path), 300)!r} {what}; check the path"
        raise InputFileError(msg)
    raw = read_yaml(path, what="study")
    source = str(path)
    if raw is None:
        raise config_error(
            source,
            [
                "the file is empty; write one `option: value` per line, at least "
                "`network: PATH` (see configs/studies/central-shanghai.yaml)"
            ],
        )
    if not isinstance(raw, Mapping):
        shape = "a list" if isinstance(raw, list) else f"a single value ({shown(raw, 40)})"
        raise config_error(
            source,
            [
                f"a study file must be a mapping of option: value, not {shape}; write one "
                "`option: value` per line, e.g. `network: streets.osm.pbf`"
            ],
        )
    base = path.parent
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        kind = STUDY_KEYS.get(key) if isinstance(key, str) else None
        if kind is None:
            problems.append(
                f"{clip(str(key), 40)}: unknown option{did_you_mean(key, STUDY_KEYS)} "
                f"(allowed: {', '.join(STUDY_KEYS)})"
            )
            continue
        checked = _check(kind, key, value, base, problems)
        if checked is not None:
            values[key] = checked
    if "network" not in values and "place" not in values and not problems:
        problems.append("network: missing; give the street network (or `place` to download it)")
    if problems:
        raise config_error(source, problems)
    values["name"] = str(values.get("name") or path.stem)
    return Study(path=path, name=values["name"], values=values)


def _resolve(
    key: str, value: Any, base: Path, problems: list[str], *, must_exist: bool = True
) -> Path | None:
    """``value`` as an absolute path (relative to ``base``), or ``None`` with a problem."""
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{key}: must be a path (text), got {shown(value)}")
        return None
    if "\x00" in value or len(value) > 4096:
        problems.append(f"{key}: {shown(value)} is not a usable path; give the file's path")
        return None
    given = Path(value).expanduser()
    resolved = given if given.is_absolute() else (base / given).resolve()
    if must_exist and not resolved.exists():
        problems.append(
            f"{key}: file {shown(value)} does not exist (looked at "
            f"{clip(str(resolved), 300)}); paths are relative to the study file"
        )
        return None
    if must_exist and resolved.is_dir():
        problems.append(
            f"{key}: {shown(value)} is a folder (looked at {clip(str(resolved), 300)}); give a file"
        )
        return None
    return resolved


def _crs_problem(value: Any) -> str | None:
    """Why ``value`` is not a datum name or a CRS, or ``None``."""
    from .io.providers import DATUMS

    if not isinstance(value, str) or not value.strip():
        return f"must be wgs84, gcj02, bd09 or a CRS such as EPSG:4326, got {shown(value)}"
    if value.strip().lower().replace("-", "") in DATUMS:
        return None
    import pyproj

    try:
        pyproj.CRS.from_user_input(value[:200])
    except pyproj.exceptions.CRSError:
        return (
            f"{shown(value)} is not understood; use wgs84, gcj02 (Amap, Tencent), bd09 "
            "(Baidu) or a CRS such as EPSG:4326"
        )
    return None


def _check(kind: str, key: str, value: Any, base: Path, problems: list[str]) -> Any:
    """``value`` checked as a ``kind`` (see :data:`STUDY_KEYS`), or ``None`` with a problem."""
    return _CHECKERS[kind](key, value, base, problems)


def _fail(problems: list[str], key: str, value: Any, expected: str) -> None:
    problems.append(f"{key}: must be {expected}, got {shown(value)}")


def _check_outpath(key: str, value: Any, base: Path, problems: list[str]) -> Path | None:
    resolved = _resolve(key, value, base, problems, must_exist=False)
    if resolved is not None and resolved.is_file():
        problems.append(
            f"{key}: {shown(value)} is a file (looked at "
            f"{clip(str(resolved), 300)}); give a folder for the outputs"
        )
        return None
    return resolved


def _check_text(
    key: str, value: Any, base: Path, problems: list[str], *, limit: int = TEXT_MAX_CHARS
) -> str | None:
    if not isinstance(value, str) or not value.strip():
        _fail(
            problems,
            key,
            value,
            "a text (quote it if YAML reads it as a number, date or true/false)",
        )
        return None
    if len(value) > limit:
        problems.append(
            f"{key}: {len(value):,} characters is too long; shorten it to at most {limit:,}"
        )
        return None
    return value.strip()


def _check_crs(key: str, value: Any, base: Path, problems: list[str]) -> str | None:
    problem = _crs_problem(value)
    if problem is not None:
        problems.append(f"{key}: {problem}")
        return None
    return str(value).strip()


def _check_list(key: str, value: Any, base: Path, problems: list[str]) -> list[str] | None:
    items = [v.strip() for v in value.split(",")] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
        _fail(problems, key, value, "a list of texts, e.g. [kindergarten, park]")
        return None
    items = [v.strip() for v in items if v.strip()]
    if not items:
        problems.append(
            f"{key}: the list is empty; list at least one, e.g. "
            f"[kindergarten, park], or remove `{key}` to use all"
        )
        return None
    twice = sorted({v for v in items if items.count(v) > 1})
    if twice:
        problems.append(f"{key}: {shown(twice[0])} is listed twice; list each once")
        return None
    return items


def _check_bool(key: str, value: Any, base: Path, problems: list[str]) -> bool | None:
    if isinstance(value, bool):
        return value
    _fail(problems, key, value, "true or false")
    return None


def _check_number(
    key: str, value: Any, base: Path, problems: list[str], *, integer: bool = False
) -> float | int | None:
    problem = option_problem(key, value)
    if problem is not None:
        problems.append(problem)
        return None
    return int(value) if integer else float(value)


def _check_choice(key: str, value: Any, base: Path, problems: list[str]) -> str | None:
    choices = _CHOICES[key]
    if isinstance(value, str) and value in choices:
        return value
    _fail(problems, key, value, " or ".join([", ".join(choices[:-1]), choices[-1]]))
    return None


def _check_facilities(key: str, value: Any, base: Path, problems: list[str]) -> list[Any]:
    items = value if isinstance(value, list) else [value]
    out: list[Any] = []
    for i, item in enumerate(items):
        here = f"{key}[{i}]"
        crs = None
        if isinstance(item, Mapping):
            extra = [k for k in item if k not in ("path", "crs")]
            if extra:
                problems.append(
                    f"{here}: unknown field {shown(extra[0], 40)}; a facility "
                    "file is {path: ..., crs: ...}"
                )
                continue
            crs, item = item.get("crs"), item.get("path")
            if crs is not None:
                problem = _crs_problem(crs)
                if problem is not None:
                    problems.append(f"{here}.crs: {problem}")
                    continue
        if not isinstance(item, str):
            problems.append(f"{here}: must be a path or {{path: ..., crs: ...}}, got {shown(item)}")
            continue
        resolved = _resolve(here, item, base, problems)
        if resolved is not None:
            out.append((resolved, crs) if crs else resolved)
    return out


def _check_standard(key: str, value: Any, base: Path, problems: list[str]) -> Any:
    if not isinstance(value, str) or not value.strip():
        problems.append(
            f"{key}: must be a bundled standard name or a YAML path, got {shown(value)}"
        )
        return None
    if value.endswith((".yaml", ".yml")):
        return _resolve(key, value, base, problems)
    bundled = list_standards()
    if value not in bundled:
        problems.append(
            f"{key}: {shown(value)} is not a bundled standard"
            f"{did_you_mean(value, bundled)} (bundled: {', '.join(bundled)}; "
            "or give the path of a .yaml file, relative to the study file)"
        )
        return None
    return value


#: How each kind of study value is checked (see :data:`STUDY_KEYS`).
_CHECKERS: dict[str, Callable[[str, Any, Path, list[str]], Any]] = {
    "path": _resolve,
    "outpath": _check_outpath,
    "paths": _check_facilities,
    "standard": _check_standard,
    "text": _check_text,
    "longtext": partial(_check_text, limit=LONGTEXT_MAX_CHARS),
    "crs": _check_crs,
    "list": _check_list,
    "bool": _check_bool,
    "int": partial(_check_number, integer=True),
    "number": _check_number,
    "choice": _check_choice,
}
