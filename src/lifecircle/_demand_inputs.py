"""Checks of the inputs shared by the metrics of :mod:`lifecircle.demand`.

The stored pairs of a sparse origin x facility distance matrix (one entry per pair, the
smallest distance of duplicates, stored zeros kept), per-origin and per-facility arrays,
and the threshold; a bad value raises :class:`lifecircle.errors.DataError`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .errors import DataError


def _pairs(distance: sp.spmatrix) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int]]:
    """Rows, columns and distances of the stored pairs, one entry per pair, row-major.

    Duplicate entries of one pair keep the smallest distance; stored zeros are kept.
    """
    if not sp.issparse(distance):
        msg = "`distance` must be a scipy.sparse matrix (origins x facilities) of metres"
        raise TypeError(msg)
    shape = (int(distance.shape[0]), int(distance.shape[1]))
    if distance.format == "csr" and distance.has_canonical_format:
        row = np.repeat(np.arange(shape[0]), np.diff(distance.indptr))
        col = distance.indices.astype(np.int64)
        data = distance.data.astype(float)  # a copy, or a fresh array: never the caller's
        _check_metres(data)
        return row, col, data, shape
    coo = sp.coo_matrix(distance)  # keeps explicit zeros and duplicates
    row = coo.row.astype(np.int64)
    col = coo.col.astype(np.int64)
    data = coo.data.astype(float)
    _check_metres(data)
    order = np.lexsort((data, col, row))
    row, col, data = row[order], col[order], data[order]
    if row.size > 1:
        first = np.r_[True, (row[1:] != row[:-1]) | (col[1:] != col[:-1])]
        row, col, data = row[first], col[first], data[first]
    return row, col, data, shape


def _check_metres(data: np.ndarray) -> None:
    if data.size and not (np.isfinite(data).all() and data.min() >= 0):
        msg = (
            "`distance` holds a negative, NaN or infinite entry; store only the reachable "
            "pairs, as metres >= 0 (an exact 0 as 1e-9)"
        )
        raise DataError(msg)


def _per(values: object, n: int, name: str, what: str, *, allow_inf: bool = False) -> np.ndarray:
    """``values`` as a float array of length ``n``, all ``>= 0`` (and finite unless allowed)."""
    arr = np.asarray(values, dtype=float)
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        msg = f"`{name}` has shape {arr.shape}; it needs one value per {what} ({n})"
        raise ValueError(msg)
    bad = np.isnan(arr) | (arr < 0)
    if not allow_inf:
        bad |= np.isinf(arr)
    if bad.any():
        kind = "NaN or negative" if allow_inf else "NaN, infinite or negative"
        msg = (
            f"`{name}` has {int(bad.sum())} {kind} value(s) (first at {what} "
            f"{int(np.flatnonzero(bad)[0])}); give every {what} a number >= 0"
            + (" (np.inf for unlimited)" if allow_inf else "")
        )
        raise DataError(msg)
    return arr


def _sum_by(index: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    """Float sums of ``weights`` per ``index`` value, ``size`` of them (bincount)."""
    return np.bincount(index, weights=weights, minlength=size).astype(float, copy=False)


def _threshold(threshold_m: float) -> float:
    t = float(threshold_m)
    if not np.isfinite(t) or t < 0:
        msg = f"`threshold_m` is {threshold_m!r}; give the catchment in metres, a number >= 0"
        raise DataError(msg)
    return t
