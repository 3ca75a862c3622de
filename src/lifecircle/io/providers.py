"""Facilities from Chinese map providers: datums, type codes and tags, duplicates.

* Datums: Amap/Tencent exports are GCJ-02 and Baidu exports BD-09; both are
  converted to WGS-84 with the iterative inverses of :mod:`lifecircle.io.coords`.
* Amap six-digit type codes and Baidu ``first;second`` industry tags map to the
  categories of the audited standard through the bundled tables
  ``configs/providers/amap-typecodes.yaml`` and ``baidu-tags.yaml`` (one column
  per bundled standard), extended and overridden by a user's own file
  (``--typecodes``); unknown codes are counted and reported, never guessed.
  See docs/typecodes.md.
* Duplicates across sources (same category, similar name, within 20 m) are
  merged, keeping the first source's record and recording in ``sources`` every
  source that found it; :func:`cross_source_counts` tabulates found in both /
  only in A / only in B.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import scipy.sparse as sp
import yaml

from .._yaml import did_you_mean, read_yaml, shown
from ..config import Standard, list_standards, load_standard
from ..datasets import resource_dir
from ..errors import ConfigError, CRSError, InputFileError, clip
from ..settings import CONFIG_FILE_MAX_BYTES, DEFAULT_STANDARD
from . import coords

#: Accepted values of ``--facilities-crs`` besides any ``EPSG:`` code.
DATUMS = ("wgs84", "gcj02", "bd09")


def parse_facilities_crs(value: str | None) -> str | None:
    """Validate a ``--facilities-crs`` value: ``wgs84``, ``gcj02``, ``bd09`` or a CRS string."""
    if value is None:
        return None
    key = value.strip().lower().replace("-", "")
    if key in DATUMS:
        return key
    try:
        # a CRS of the Earth that converts to WGS-84 (not e.g. a Mars CRS, "mars2000")
        pyproj.Transformer.from_crs(pyproj.CRS.from_user_input(value), "EPSG:4326", always_xy=True)
    except pyproj.exceptions.ProjError:  # CRSError is a ProjError
        msg = (
            f"--facilities-crs {value[:80]!r} is not understood as a coordinate system "
            "of the Earth; use wgs84, gcj02 (Amap, Tencent), bd09 (Baidu) or a CRS such "
            "as EPSG:4326"
        )
        raise CRSError(msg) from None
    return value


def points_to_wgs84(x: np.ndarray, y: np.ndarray, crs: str | None) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinates given in ``crs`` (datum name or CRS) to WGS-84 lon/lat."""
    if crs in (None, "wgs84"):
        return np.asarray(x, float), np.asarray(y, float)
    if crs == "gcj02":
        return coords.gcj02_to_wgs84(x, y)
    if crs == "bd09":
        return coords.bd09_to_wgs84(x, y)
    transformer = pyproj.Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return transformer.transform(x, y)


def geometries_to_wgs84(gdf: gpd.GeoDataFrame, crs: str | None) -> gpd.GeoDataFrame:
    """Reinterpret a layer's coordinates as ``crs`` (datum or CRS) and return WGS-84."""
    import shapely

    if crs is None:
        return gdf.to_crs("EPSG:4326")
    if crs in DATUMS:
        # provider exports label their lon/lat as WGS-84 although they are not
        lonlat = gdf.to_crs("EPSG:4326")

        def shift(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(points_to_wgs84(xy[:, 0], xy[:, 1], crs))

        return lonlat.set_geometry(shapely.transform(lonlat.geometry.array, shift))
    return gdf.set_crs(crs, allow_override=True).to_crs("EPSG:4326")


# --------------------------------------------------------------------------- type codes

#: Bundled type-code tables (``configs/providers``), one per provider.
PROVIDER_TABLES = {"amap": "amap-typecodes.yaml", "baidu": "baidu-tags.yaml"}

#: Cells of a user's type-code file that mean "no category" (the code is dropped).
NO_CATEGORY = ("", "-", "none", "null")

#: Codes and tags longer than this are cut in the unknown-code counts.
UNKNOWN_KEY_MAX_CHARS = 60

#: The unknown-code key of rows whose code or tag cell is empty.
EMPTY_CODE = "(empty)"

#: Keys an entry of a user's YAML type-code file may have.
ENTRY_KEYS = ("category", "categories", "name", "source", "verified", "note")

#: Top-level keys of a type-code YAML file.
FILE_KEYS = ("provider", "classification", "standards", "source", "note", "codes", "tags")

#: Column names of a user's CSV type-code file holding the code or tag.
CSV_CODE_COLUMNS = ("code", "typecode", "type_code", "tag")

_CODE = re.compile(r"\d{6}")
_TAG_SEP = r"\s*[;；]\s*"


def normalise_tag(text: str) -> str:
    """A provider tag with ASCII ``;`` between its parts and no spaces around them."""
    return re.sub(_TAG_SEP, ";", str(text).strip())


@cache
def _bundled(
    provider: str,
) -> tuple[tuple[str, ...], dict[str, dict[str, Any]], dict[str, str]]:
    """The bundled table of ``provider``.

    Its standards, its entries by code or tag, and (Amap) each code's class
    names joined ``big;mid;sub`` -> code.
    """
    path = resource_dir("configs/providers") / PROVIDER_TABLES[provider]
    raw = read_yaml(path, what="type-code table")
    section = raw["codes"] if "codes" in raw else raw["tags"]
    names = {
        f"{e['name']['big']};{e['name']['mid']};{e['name']['sub']}": str(code)
        for part in (section, raw.get("left_out") or {})
        for code, e in part.items()
        if "big" in e["name"]
    }
    return tuple(raw["standards"]), {str(k): dict(v) for k, v in section.items()}, names


def load_typecodes(provider: str = "amap") -> dict[str, dict[str, Any]]:
    """The bundled table of a provider: code or tag -> entry.

    Parameters
    ----------
    provider
        ``"amap"`` (six-digit type codes) or ``"baidu"`` (``first;second`` tags).

    Returns
    -------
    dict
        Each entry has ``name`` (the official class names), ``categories`` (the
        category in each bundled standard, ``None`` = none), ``source``,
        ``verified`` and, for proxies, ``note``.
    """
    entries = _bundled(provider)[1]
    return {k: {**v, "categories": dict(v["categories"])} for k, v in entries.items()}


def _bundled_column(standard_id: str, ids: set[str]) -> str | None:
    """The bundled column used for a standard: its own, else the one sharing most ids."""
    columns: list[str] = []
    values: dict[str, set[str]] = {}
    for provider in PROVIDER_TABLES:
        stds, entries, _ = _bundled(provider)
        for std in stds:
            if std not in columns:
                columns.append(std)
            values.setdefault(std, set()).update(
                c for e in entries.values() if (c := e["categories"].get(std))
            )
    if standard_id in columns:
        return standard_id
    overlap = {c: len(values[c] & ids) for c in columns}
    best = max(columns, key=overlap.__getitem__, default=None)
    return best if best is not None and overlap[best] else None


@dataclass(frozen=True)
class TypeCodeTable:
    """Provider type codes and tags mapped to the categories of one standard.

    Made by :func:`typecode_table`. ``lookup`` holds every key with a category:
    Amap six-digit codes (``"141204"``), Baidu tags (``"教育培训;幼儿园"``) and
    Amap class names joined as the API's ``type`` field joins them
    (``"科教文化服务;学校;幼儿园"``).

    Attributes
    ----------
    standard
        Id of the standard whose categories the keys map to.
    column
        The bundled column used: the standard's own, or for a standard of one's
        own the bundled standard sharing most category ids; ``None`` when none
        shares any (then only a user's file maps codes).
    lookup
        Key -> category id.
    user_file
        The user's type-code file, if any.
    """

    standard: str
    column: str | None
    lookup: Mapping[str, str]
    user_file: str | None = None

    def classify(self, values: pd.Series, kind: str = "code") -> tuple[pd.Series, dict[str, int]]:
        """Map a column of codes (``kind="code"``) or tags (``kind="tag"``) to categories.

        A cell may hold several codes joined by ``|`` or ``;`` (tags: by ``|``,
        since ``;`` separates a tag's levels); the first one that maps to a
        category wins. Codes read as numbers get back their leading zeros
        (``60200`` -> ``060200``). The work is done once per distinct cell.

        Parameters
        ----------
        values
            The column.
        kind
            ``"code"`` or ``"tag"``.

        Returns
        -------
        categories : pandas.Series
            Category per row (same index); NA where no code or tag maps to one.
        unknown : dict
            For the rows without a category: how many rows carry each of their
            codes or tags (``"(empty)"`` for empty cells).
        """
        if kind not in ("code", "tag"):
            msg = f"kind must be 'code' or 'tag', not {kind!r}"
            raise ValueError(msg)
        cells = pd.Series(values, copy=False).astype("string")
        inverse, uniques = pd.factorize(cells, use_na_sentinel=True)
        result = np.full(len(cells), None, dtype=object)
        tokens = pd.Series(np.asarray(uniques, dtype=object), dtype="string")
        tokens = tokens.str.split(r"[|;]" if kind == "code" else r"\|", regex=True).explode()
        tokens = tokens.str.strip()
        if kind == "code":
            short = tokens.str.fullmatch(r"\d{1,5}").fillna(False).to_numpy(dtype=bool)
            tokens = tokens.where(~short, tokens.str.zfill(6))
        else:
            tokens = tokens.str.replace(_TAG_SEP, ";", regex=True)
        tokens = tokens[tokens.notna() & (tokens != "")]
        mapped = tokens.map(dict(self.lookup))
        first = mapped[mapped.notna()].groupby(level=0, sort=False).first()
        per_unique = np.full(len(uniques), None, dtype=object)
        per_unique[first.index.to_numpy(dtype=np.intp)] = first.to_numpy(dtype=object)
        valid = inverse >= 0
        result[valid] = per_unique[inverse[valid]]
        categories = pd.Series(result, index=cells.index, dtype="string")

        freq = np.bincount(inverse[valid], minlength=len(uniques))
        missed = tokens[~tokens.index.isin(first.index)]
        pairs = pd.DataFrame({"i": missed.index, "t": missed.to_numpy()})
        missed = missed[~pairs.duplicated().to_numpy()]  # each code once per row
        counts = pd.Series(
            freq[missed.index.to_numpy(dtype=np.intp)],
            index=missed.str.slice(0, UNKNOWN_KEY_MAX_CHARS).to_numpy(dtype=object),
        )
        unknown = {str(k): int(v) for k, v in counts.groupby(level=0, sort=True).sum().items()}
        # empty cells, and cells of separators only
        no_token = ~np.isin(np.arange(len(uniques)), tokens.index.unique().to_numpy())
        n_empty = int((~valid).sum() + freq[no_token].sum())
        if n_empty:
            unknown[EMPTY_CODE] = n_empty
        return categories, unknown


@cache
def _bundled_table(standard_id: str, category_ids: tuple[str, ...]) -> TypeCodeTable:
    return _make_table(standard_id, category_ids, None)


def typecode_table(
    standard: Standard | str = DEFAULT_STANDARD, typecodes: str | Path | None = None
) -> TypeCodeTable:
    """The type-code table for a standard: the bundled Amap and Baidu tables, plus a user's.

    Parameters
    ----------
    standard
        The standard (or a bundled standard's name) whose categories codes map to.
    typecodes
        A user's type-code file (``--typecodes``), YAML or CSV (see
        :func:`read_typecodes`). It extends and overrides the bundled tables:
        the codes it lists replace the bundled entries, the others stay.

    Returns
    -------
    TypeCodeTable

    Raises
    ------
    ConfigError
        The user's file has mistakes (naming the file, each line and the fix).
    InputFileError
        The user's file does not exist or cannot be read.
    """
    std = standard if isinstance(standard, Standard) else load_standard(standard)
    if typecodes is None:
        return _bundled_table(std.id, tuple(std.category_ids))
    return _make_table(std.id, tuple(std.category_ids), typecodes)


def _make_table(
    standard_id: str, category_ids: tuple[str, ...], typecodes: str | Path | None
) -> TypeCodeTable:
    ids = set(category_ids)
    column = _bundled_column(standard_id, ids)
    lookup: dict[str, str | None] = {}
    if column is not None:
        for provider in PROVIDER_TABLES:
            for key, entry in _bundled(provider)[1].items():
                category = entry["categories"].get(column)
                lookup[key] = category if category in ids else None
    if typecodes is not None:
        lookup.update(_read_typecodes(Path(typecodes), standard_id, category_ids))
    for name, code in _bundled("amap")[2].items():  # the Amap API's `type`: big;mid;sub
        lookup.setdefault(name, lookup.get(code))
    return TypeCodeTable(
        standard=standard_id,
        column=column,
        lookup=MappingProxyType({k: v for k, v in lookup.items() if v}),
        user_file=None if typecodes is None else str(typecodes),
    )


def categories_from_typecodes(
    codes: pd.Series,
    standard: Standard | str = DEFAULT_STANDARD,
    *,
    typecodes: TypeCodeTable | str | Path | None = None,
    kind: str = "code",
) -> tuple[pd.Series, dict[str, int]]:
    """Map provider type codes or tags to the categories of ``standard``.

    Parameters
    ----------
    codes
        Amap type codes (``"141204"``; several joined by ``|`` or ``;``: the
        first that maps to a category of ``standard`` wins) or, with
        ``kind="tag"``, Baidu tags (``"教育培训;幼儿园"``) or Amap class names
        (``"科教文化服务;学校;幼儿园"``), several joined by ``|``.
    standard
        The audited standard (or a bundled standard's name): its column of the
        bundled tables is used.
    typecodes
        A user's type-code file, or a table made by :func:`typecode_table`.
    kind
        ``"code"`` or ``"tag"``.

    Returns
    -------
    categories : pandas.Series
        Category per row; NA where no code is known.
    unknown : dict
        Count of each code that is not in the table (see :meth:`TypeCodeTable.classify`).
    """
    table = (
        typecodes if isinstance(typecodes, TypeCodeTable) else typecode_table(standard, typecodes)
    )
    return table.classify(codes, kind)


# --------------------------------------------------------------------------- a user's file


def read_typecodes(path: str | Path, standard: Standard) -> dict[str, str | None]:
    """Read and check a user's type-code file (``--typecodes``).

    YAML::

        codes:
          "141204": kindergarten            # the audited standard's category
          "090100": null                    # not a facility of the audited standard
          "080111": {category: sports_ground, note: gyms count here}
          "090300": {categories: {gb50180-2018: health_center, moreno-15min: healthcare}}
        tags:
          "教育培训;幼儿园": kindergarten

    or CSV with a header: ``code,category`` (the code column may also be named
    ``typecode`` or ``tag``; other columns are ignored). A code is a six-digit
    Amap type code; a tag is a Baidu ``first;second`` tag or an Amap
    ``big;mid;sub`` class name. An empty category, ``-``, ``none`` or ``null``
    drops the code. A plain ``category`` applies to the audited standard;
    ``categories`` names the standard of each (the audited one or a bundled one).

    Parameters
    ----------
    path
        The file.
    standard
        The audited standard (its category ids are the valid ones).

    Returns
    -------
    dict
        Code or tag -> category of ``standard`` (``None``: dropped). Entries whose
        ``categories`` name only other standards are left out.

    Raises
    ------
    ConfigError
        Every mistake at once: a malformed code, an unknown category or standard,
        a code listed twice with different categories, naming the file and line.
    InputFileError
        The file does not exist or cannot be read.
    """
    return _read_typecodes(Path(path), standard.id, tuple(standard.category_ids))


def _read_typecodes(
    path: Path, standard_id: str, category_ids: tuple[str, ...]
) -> dict[str, str | None]:
    source = str(path)
    if not path.is_file():
        msg = (
            f"type-code file {clip(source, 300)!r} does not exist; check the path given to "
            "--typecodes"
        )
        raise InputFileError(msg)
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        entries = _yaml_entries(path)
    elif suffix == ".csv":
        entries = _csv_entries(path)
    else:
        raise ConfigError(
            source,
            [
                f"a type-code file is YAML (.yaml/.yml) or CSV (.csv with the columns "
                f"code,category), not {shown(path.suffix or 'a file without a suffix')}; "
                "rename or convert it"
            ],
        )
    problems: list[str] = []
    if not entries:
        problems.append(
            "it lists no codes; give one code or tag per line with its category, e.g. "
            "141204,kindergarten"
        )
    bundled = set(list_standards())
    out: dict[str, str | None] = {}
    first_line: dict[str, str] = {}
    for where, raw_key, spec in entries:
        key, problem = _check_key(raw_key)
        if problem:
            problems.append(f"{where}: {problem}")
            continue
        for std_id, category in spec.items():
            problems.extend(
                f"{where}: {p}"
                for p in _check_category(
                    key,
                    std_id,
                    category=category,
                    standard_id=standard_id,
                    category_ids=category_ids,
                    bundled=bundled,
                )
            )
        if standard_id in spec or "*" in spec:
            value = spec[standard_id] if standard_id in spec else spec["*"]
            if key in out and out[key] != value:
                problems.append(
                    f"{where}: {shown(key)} is listed again (first at {first_line[key]}) with "
                    f"another category ({shown(value)} after {shown(out[key])}); keep one"
                )
                continue
            out[key] = value
            first_line.setdefault(key, where)
    if problems:
        raise ConfigError(source, problems)
    return out


def _check_key(raw: Any) -> tuple[str, str]:
    """A code or tag in normal form, or a problem saying how to write it."""
    example = (
        "a six-digit Amap type code such as '141204', a Baidu tag such as '教育培训;幼儿园' "
        "or an Amap class name such as '科教文化服务;学校;幼儿园'"
    )
    if not isinstance(raw, str):
        return "", f"the code {shown(raw)} is not text; write {example}"
    text = raw.strip()
    if _CODE.fullmatch(text):
        return text, ""
    if text.isdigit() and len(text) < 6:
        return "", (
            f"the code {shown(text)} has {len(text)} digits; Amap type codes have six: write "
            f"it with its leading zeros ({text.zfill(6)!r}; spreadsheets drop them unless the "
            "column is formatted as text)"
        )
    if "|" in text:
        return "", f"{shown(text)} holds several codes; give one code or tag per line"
    tag = normalise_tag(text)
    parts = tag.split(";")
    if len(parts) in (2, 3) and all(parts):
        return tag, ""
    return "", f"{shown(text)} is not {example}"


def _check_category(
    key: str,
    std_id: str,
    *,
    category: Any,
    standard_id: str,
    category_ids: tuple[str, ...],
    bundled: set[str],
) -> list[str]:
    """Problems of one (standard, category) of an entry; ``"*"`` = the audited standard."""
    if std_id not in ("*", standard_id) and std_id not in bundled:
        choices = sorted({standard_id, *bundled})
        return [
            f"{shown(key)}: {shown(std_id)} is not a standard; use "
            f"{', '.join(choices)}{did_you_mean(std_id, choices)}"
        ]
    if category is None:
        return []
    if not isinstance(category, str):
        return [f"{shown(key)}: the category {shown(category)} is not text; write a category id"]
    if std_id in ("*", standard_id):
        ids, name = list(category_ids), standard_id
    else:
        ids, name = load_standard(std_id).category_ids, std_id
    if category in ids:
        return []
    return [
        f"{shown(key)}: {shown(category)} is not a category of the standard {name!r}; use one "
        f"of {', '.join(ids)} (or null to drop the code){did_you_mean(category, ids)}"
    ]


def _csv_entries(path: Path) -> list[tuple[str, Any, dict[str, str | None]]]:
    """(line, code, {"*": category}) of a CSV type-code file."""
    source = str(path)
    try:
        data = path.read_bytes()[: CONFIG_FILE_MAX_BYTES + 1]
    except OSError as exc:
        msg = f"type-code file {clip(source, 300)!r} cannot be read ({exc.strerror or exc})"
        raise InputFileError(msg) from None
    if len(data) > CONFIG_FILE_MAX_BYTES:
        raise ConfigError(
            source,
            [
                f"the file is larger than {CONFIG_FILE_MAX_BYTES // 1000} kB; a type-code file "
                "is a short list of codes: check that you gave it and not a facilities file"
            ],
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            source,
            [
                f"line {line}: the file is not UTF-8 text; re-save it as UTF-8 (CSV UTF-8 in "
                "Excel's Save As)"
            ],
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    code_col = next((header.index(c) for c in CSV_CODE_COLUMNS if c in header), None)
    if code_col is None or "category" not in header:
        raise ConfigError(
            source,
            [
                f"line 1: the header must name a code column ({', '.join(CSV_CODE_COLUMNS)}) "
                f"and a 'category' column; found {shown(','.join(header)[:200])}. Start the "
                "file with the line code,category"
            ],
        )
    cat_col = header.index("category")
    out: list[tuple[str, Any, dict[str, str | None]]] = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        where = f"line {reader.line_num}"
        code = row[code_col] if code_col < len(row) else ""
        category = row[cat_col].strip() if cat_col < len(row) else ""
        out.append((where, code, {"*": None if category.lower() in NO_CATEGORY else category}))
    return out


def _yaml_entries(path: Path) -> list[tuple[str, Any, dict[str, str | None]]]:
    """(line, code, {standard or "*": category}) of a YAML type-code file."""
    source = str(path)
    raw = read_yaml(path, what="type-code")
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigError(
            source,
            [
                "the file must be a mapping with a `codes:` section (code: category, one per "
                "line); see docs/typecodes.md"
            ],
        )
    unknown = [k for k in raw if k not in FILE_KEYS]
    if unknown:
        problems.append(
            f"unknown top-level key(s) {', '.join(shown(k) for k in unknown[:5])}; a type-code "
            f"file has {', '.join(FILE_KEYS)}{did_you_mean(unknown[0], FILE_KEYS)}"
        )
    lines = _key_lines(path)
    out: list[tuple[str, Any, dict[str, str | None]]] = []
    for section in ("codes", "tags"):
        part = raw.get(section)
        if part is None:
            continue
        if not isinstance(part, dict):
            problems.append(f"`{section}` must be a mapping (code: category, one per line)")
            continue
        keys = lines.get(section, [])
        for i, (key, value) in enumerate(part.items()):
            raw_key, line = keys[i] if i < len(keys) else (key, 0)
            where = f"line {line}" if line else f"{section} {shown(key)}"
            spec, problem = _yaml_spec(value)
            if problem:
                problems.append(f"{where}: {shown(raw_key)}: {problem}")
                continue
            out.append((where, raw_key, spec))
    if problems:
        raise ConfigError(source, problems)
    return out


def _yaml_spec(value: Any) -> tuple[dict[str, str | None], str]:
    """{standard or "*": category} of one YAML entry, or a problem."""
    if value is None or isinstance(value, str):
        return {"*": value}, ""
    if not isinstance(value, dict):
        return {}, f"give a category id, null, or a mapping with `category`, not {shown(value)}"
    unknown = [k for k in value if k not in ENTRY_KEYS]
    if unknown:
        return {}, (
            f"unknown key {shown(unknown[0])}; an entry has {', '.join(ENTRY_KEYS)}"
            f"{did_you_mean(unknown[0], ENTRY_KEYS)}"
        )
    if ("category" in value) == ("categories" in value):
        return {}, "give exactly one of `category` (the audited standard's) or `categories`"
    if "category" in value:
        return {"*": value["category"]}, ""
    cats = value["categories"]
    if not isinstance(cats, dict) or not cats:
        return {}, "`categories` must map standard ids to category ids"
    return {str(k): v for k, v in cats.items()}, ""


def _key_lines(path: Path) -> dict[str, list[tuple[str, int]]]:
    """Each section's keys as written (``060200`` stays text) with their line numbers.

    The file has already passed :func:`lifecircle._yaml.read_yaml` (bounded, no
    aliases), so composing it again is safe; composing builds no objects.
    """
    node = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    out: dict[str, list[tuple[str, int]]] = {}
    if not isinstance(node, yaml.MappingNode):
        return out
    for key, value in node.value:
        if isinstance(key, yaml.ScalarNode) and isinstance(value, yaml.MappingNode):
            out[key.value] = [
                (k.value if isinstance(k, yaml.ScalarNode) else str(k), k.start_mark.line + 1)
                for k, _ in value.value
            ]
    return out


# --------------------------------------------------------------------------- duplicates


def _similar(a: object, b: object, threshold: float) -> bool:
    a = "" if pd.isna(a) else str(a).strip()
    b = "" if pd.isna(b) else str(b).strip()
    if not a or not b:
        return not a and not b
    if a in b or b in a:
        return True
    return difflib.SequenceMatcher(None, a, b).ratio() >= threshold


#: Separator of the source names in the ``sources`` column (``|`` inside a name
#: becomes ``¦``, so the column always splits back into the names).
SOURCES_SEP = "|"


def _source_names(source: pd.Series) -> np.ndarray:
    return source.astype("string").fillna("").str.replace(SOURCES_SEP, "¦").to_numpy(dtype=object)


def deduplicate(
    facilities: gpd.GeoDataFrame, *, radius_m: float = 20.0, name_similarity: float = 0.6
) -> tuple[gpd.GeoDataFrame, dict[str, int]]:
    """Merge facilities of the same category from different sources that are duplicates.

    Two records are duplicates when they come from different sources, share
    the category, lie within ``radius_m`` of each other (representative
    points, metres) and have similar names (one contains the other, or a
    ``difflib`` ratio of at least ``name_similarity``; two unnamed records are
    similar). Groups are merged transitively, keeping the earliest record.

    Returns
    -------
    facilities : geopandas.GeoDataFrame
        Without the merged duplicates, with a ``sources`` column: the sorted,
        ``|``-joined source names of every record of its duplicate group (a
        record without duplicates: its own source). See
        :func:`cross_source_counts`.
    merged : dict
        Number of records removed per category.
    """
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    src = _source_names(facilities["source"])
    if len(facilities) < 2 or facilities["source"].nunique() < 2:
        out = facilities.copy()
        out["sources"] = src
        return out, {}
    from ..network import utm_crs_for

    pts = facilities.geometry.representative_point().to_crs("EPSG:4326")
    crs = utm_crs_for(pts.x.to_numpy(), pts.y.to_numpy())
    xy = pts.to_crs(crs)
    pairs = cKDTree(np.column_stack([xy.x, xy.y])).query_pairs(radius_m, output_type="ndarray")
    cat = facilities["category"].to_numpy()
    names = facilities["name"].to_numpy()
    keep = (cat[pairs[:, 0]] == cat[pairs[:, 1]]) & (src[pairs[:, 0]] != src[pairs[:, 1]])
    pairs = pairs[keep]
    similar = np.array(
        [_similar(names[i], names[j], name_similarity) for i, j in pairs], dtype=bool
    )  # candidate pairs only: few
    pairs = pairs[similar] if len(pairs) else pairs
    n = len(facilities)
    graph = sp.csr_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    first_of_group = np.full(label.max() + 1, n)
    np.minimum.at(first_of_group, label, np.arange(n))
    duplicate = first_of_group[label] != np.arange(n)
    merged = pd.Series(cat[duplicate]).value_counts().to_dict()

    sources = src.copy()
    size = np.bincount(label)
    grouped = size[label] > 1  # records with duplicates: few
    if grouped.any():
        members = pd.DataFrame({"group": label[grouped], "source": src[grouped]})
        members = members.drop_duplicates().sort_values(["group", "source"])
        joined = members.groupby("group")["source"].agg(SOURCES_SEP.join)
        sources[grouped] = joined.loc[label[grouped]].to_numpy(dtype=object)
    out = facilities[~duplicate].copy()
    out["sources"] = sources[~duplicate]
    return out, {str(k): int(v) for k, v in merged.items()}


def cross_source_counts(facilities: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """How many facilities each pair of sources found together or alone, per group.

    Parameters
    ----------
    facilities
        Facilities after :func:`deduplicate` (its ``sources`` column; without
        one, ``source`` is used: nothing was matched).
    by
        Columns to group by, e.g. ``["category"]`` or ``["category", "unit_id"]``.

    Returns
    -------
    pandas.DataFrame
        One row per group and pair of sources ``source_a < source_b`` (sorted
        names; every pair of the sources present in ``facilities``), with the
        columns ``by + [source_a, source_b, in_both, only_a, only_b]``:
        facilities found by both sources (a matched duplicate group holding a
        record of each), by ``source_a`` but not ``source_b``, and the reverse.
        Facilities found only by a third source count in none of the three.
        Empty (with those columns) when there are fewer than two sources.
    """
    columns = [*by, "source_a", "source_b", "in_both", "only_a", "only_b"]
    col = "sources" if "sources" in facilities else "source"
    joined = facilities[col].astype("string").fillna("")
    member = joined.str.get_dummies(sep=SOURCES_SEP)
    member = member.loc[:, [c for c in member.columns if c != ""]].astype(bool)
    names = sorted(member.columns)
    if len(names) < 2:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    keys = facilities[by].reset_index(drop=True)
    member = member.reset_index(drop=True)
    frames = []
    for i, a in enumerate(names):  # pairs of sources: a handful
        for b in names[i + 1 :]:
            flags = pd.DataFrame(
                {
                    "in_both": member[a] & member[b],
                    "only_a": member[a] & ~member[b],
                    "only_b": ~member[a] & member[b],
                }
            ).astype(np.int64)
            counts = pd.concat([keys, flags], axis=1).groupby(by, dropna=False, sort=True).sum()
            counts = counts.reset_index()
            counts.insert(len(by), "source_a", a)
            counts.insert(len(by) + 1, "source_b", b)
            frames.append(counts)
    return pd.concat(frames, ignore_index=True)[columns]
