"""A user's type-code file (``--typecodes``): reading and checking it.

YAML or CSV, mapping Amap type codes, Baidu tags and Amap class names to the
categories of the audited standard; every mistake is reported at once with its
file and line. See :func:`read_typecodes` and docs/typecodes.md. The public
names are also importable from :mod:`lifecircle.io.providers`.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import yaml

from .._yaml import did_you_mean, read_yaml, shown
from ..config import Standard, list_standards, load_standard
from ..errors import ConfigError, InputFileError, clip
from ..settings import CONFIG_FILE_MAX_BYTES

#: Cells of a user's type-code file that mean "no category" (the code is dropped).
NO_CATEGORY = ("", "-", "none", "null")

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
