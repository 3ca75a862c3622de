"""Exact reductions of a covering problem before its MILP (:func:`reduce_cover`).

Residents no candidate reaches are dropped, residents with the same candidates are
merged into one weighted row, and dominated candidates are dropped. The optimum is
unchanged (tested against brute force in ``tests/test_reductions.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class CoverReduction:
    """The covering MILP after its exact reductions (:func:`reduce_cover`).

    ``cover``: merged rows x kept candidates (0/1); ``weight`` and ``label`` (the
    floor group, -1 for none) per merged row; ``group``: per row of the original
    model, its merged row (-1: dropped, it has no weight); ``kept``: the kept
    candidate columns (original indices, increasing); ``dominator``: per original
    candidate, a kept candidate that covers every row it covers (itself if kept).
    """

    cover: sp.csr_matrix
    weight: np.ndarray
    label: np.ndarray
    group: np.ndarray
    kept: np.ndarray
    dominator: np.ndarray
    rows_before: int
    cands_before: int

    def note(self) -> str:
        """The sizes before and after, in words."""
        return (
            f"exact reductions before the MILP, {self.rows_before:,} residents that a "
            f"candidate reaches -> {self.cover.shape[0]:,} weighted rows (one per distinct "
            f"set of candidates), {self.cands_before:,} candidates -> {self.kept.size:,} "
            "(candidates whose residents another covers dropped)"
        )

    def start(self, selected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Kept columns standing in for ``selected`` (original indices), and rows covered."""
        pos = np.full(self.cands_before, -1, np.int64)
        pos[self.kept] = np.arange(self.kept.size)
        x = np.zeros(self.kept.size)
        stand_in = self.dominator[np.asarray(selected, np.int64)]
        x[pos[stand_in[stand_in >= 0]]] = 1.0
        z = (np.asarray(self.cover @ x).ravel() > 0.5).astype(float)
        return x, z


def _row_groups(mat: sp.csr_matrix, label: np.ndarray) -> np.ndarray:
    """Group id per row: rows with the same label and the same column set share one.

    Rows are sorted by (label, length, two 64-bit sums of random keys of their
    columns); neighbours with equal keys are then compared column by column, so a
    hash collision can only split a group, never merge different sets. No Python
    loop over rows. Every row must have at least one entry.
    """
    n = mat.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    mat = mat.tocsr()
    mat.sort_indices()
    rng = np.random.default_rng(20240611)
    keys = rng.integers(0, 2**63, size=(2, mat.shape[1]), dtype=np.int64).astype(np.uint64)
    length = np.diff(mat.indptr)
    starts = mat.indptr[:-1]
    with np.errstate(over="ignore"):
        h1 = np.add.reduceat(keys[0][mat.indices], starts)
        h2 = np.add.reduceat(keys[1][mat.indices], starts)
    order = np.lexsort((h2, h1, length, label))
    p, q = order[:-1], order[1:]
    same = (label[p] == label[q]) & (length[p] == length[q]) & (h1[p] == h1[q]) & (h2[p] == h2[q])
    pp, qq = p[same], q[same]
    n_len = length[qq]
    offset = np.arange(n_len.sum()) - np.repeat(np.cumsum(n_len) - n_len, n_len)
    differ = (
        mat.indices[np.repeat(mat.indptr[pp], n_len) + offset]
        != mat.indices[np.repeat(mat.indptr[qq], n_len) + offset]
    )
    bad = np.bincount(np.repeat(np.arange(pp.size), n_len), weights=differ, minlength=pp.size)
    same[np.flatnonzero(same)[bad > 0]] = False
    gid = np.cumsum(np.r_[True, ~same]) - 1
    out = np.empty(n, np.int64)
    out[order] = gid
    return out


def _merge_rows(
    mat: sp.csr_matrix, weight: np.ndarray, label: np.ndarray
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
    """Merge rows with the same label and column set: (matrix, weight, label, group)."""
    group = _row_groups(mat, label)
    n_groups = int(group.max()) + 1 if group.size else 0
    first = np.full(n_groups, mat.shape[0], np.int64)
    np.minimum.at(first, group, np.arange(mat.shape[0]))
    merged_w = np.bincount(group, weights=weight, minlength=n_groups)
    return mat[first].tocsr(), merged_w, label[first], group


def _dominators(mat: sp.csr_matrix) -> np.ndarray:
    """Per column ``j``, a column covering every row ``j`` covers, that is never dropped.

    ``j`` is dominated when another column's row set contains its own (for equal
    sets, the lower index is kept); the dominator given is the largest superset
    (lowest index on ties), which is itself undominated. Columns covering no row
    get -1; an undominated column is its own dominator.
    """
    b = sp.csr_matrix(mat, dtype=np.float64, copy=True)
    b.data[:] = 1.0
    size = np.asarray(b.sum(axis=0)).ravel()
    n = b.shape[1]
    overlap = (b.T @ b).tocoo()  # |S_j & S_k|
    j, k, v = overlap.row, overlap.col, overlap.data
    sup = (j != k) & (np.abs(v - size[j]) < 0.5)  # S_j inside S_k
    sup &= (size[k] > size[j]) | (k < j)
    j, k = j[sup], k[sup]
    out = np.where(size > 0, np.arange(n), -1)
    if j.size:
        order = np.lexsort((k, -size[k], j))
        j, k = j[order], k[order]
        first = np.r_[True, j[1:] != j[:-1]]
        out[j[first]] = k[first]
    return out


def reduce_cover(
    cover: sp.csr_matrix, weight: np.ndarray, label: np.ndarray | None = None
) -> CoverReduction:
    """Exact reductions of the covering MILP (MCLP, LSCP, with or without floors).

    1. Rows (residents) with no weight or that no candidate reaches are dropped:
       they add nothing to any objective or floor.
    2. Columns (candidates) whose row set is inside another's are dropped (for equal
       sets the lower index stays). Coverage is monotone: replacing a dropped site
       by the site that dominates it covers every row it covered, so the covered
       total, every unit's covered total (the floors) and the number of sites do
       not get worse. Some optimal solution (MCLP, LSCP, floors) uses kept columns
       only, and the reduced optimum equals the original.
    3. Rows with the same label (floor group) and the same set of kept columns are
       merged into one row weighing their sum. For any choice of sites such rows
       are covered together, so ``sum_i w_i z_i`` over them equals ``(sum_i w_i) z``;
       rows of different floor groups are never merged, so each floor's left-hand
       side is unchanged.

    The reduced problem has the same optimum; a solution maps back through
    ``kept`` (selected sites) and ``group`` (covered residents).

    Parameters
    ----------
    cover
        Rows x candidates, non-zero where the candidate covers the row.
    weight
        Demand per row.
    label
        Per row, the floor group it belongs to (-1 for none); default none.

    Returns
    -------
    CoverReduction
    """
    cover = sp.csr_matrix(cover)
    n_rows, n_cand = cover.shape
    label = np.full(n_rows, -1, np.int64) if label is None else np.asarray(label, np.int64)
    live = (np.asarray(weight) > 0) & (np.diff(cover.indptr) > 0)
    rows = np.flatnonzero(live)
    sub = cover[rows].tocsr()
    sub.data = np.ones_like(sub.data, dtype=float)
    # merging first makes the column comparison cheaper; again after the columns went
    m1, w1, l1, g1 = _merge_rows(sub, np.asarray(weight, float)[rows], label[rows])
    dominator = _dominators(m1)
    kept = np.flatnonzero(dominator == np.arange(n_cand))
    m2, w2, l2, g2 = _merge_rows(m1[:, kept].tocsr(), w1, l1)
    group = np.full(n_rows, -1, np.int64)
    group[rows] = g2[g1]
    return CoverReduction(
        cover=m2,
        weight=w2,
        label=l2,
        group=group,
        kept=kept,
        dominator=dominator,
        rows_before=int(rows.size),
        cands_before=n_cand,
    )
