"""Duplicates across facility sources, and what each source found.

Duplicates across sources (same category, similar name, within 20 m) are
merged, keeping the first source's record and recording in ``sources`` every
source that found it; :func:`cross_source_counts` tabulates found in both /
only in A / only in B. Both are also importable from
:mod:`lifecircle.io.providers`.
"""

from __future__ import annotations

import difflib

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp


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
