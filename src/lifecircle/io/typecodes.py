"""Provider type codes and tags mapped to the categories of a standard.

Amap six-digit type codes and Baidu ``first;second`` industry tags map to the
categories of the audited standard through the bundled tables
``configs/providers/amap-typecodes.yaml`` and ``baidu-tags.yaml`` (one column
per bundled standard), extended and overridden by a user's own file
(``--typecodes``, read by :mod:`lifecircle.io._typecode_file`); unknown codes
are counted and reported, never guessed. See docs/typecodes.md. Every name is
also importable from :mod:`lifecircle.io.providers`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from .._yaml import read_yaml
from ..config import Standard, load_standard
from ..datasets import resource_dir
from ..settings import DEFAULT_STANDARD
from ._typecode_file import _TAG_SEP, _read_typecodes

#: Bundled type-code tables (``configs/providers``), one per provider.
PROVIDER_TABLES = {"amap": "amap-typecodes.yaml", "baidu": "baidu-tags.yaml"}

#: Codes and tags longer than this are cut in the unknown-code counts.
UNKNOWN_KEY_MAX_CHARS = 60

#: The unknown-code key of rows whose code or tag cell is empty.
EMPTY_CODE = "(empty)"


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
