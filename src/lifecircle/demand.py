"""Supply–demand, capacity and choice metrics on a sparse origin × facility distance matrix.

Pure numeric functions; the audit builds their inputs and rolls their outputs up to units.

Inputs, the same everywhere
---------------------------
``distance``
    :class:`scipy.sparse.csr_matrix` of shape ``(n_origins, n_facilities)``: walking metres
    from each origin to each facility of one category, holding only the pairs within a
    search cut-off (at least every threshold used). An exact 0 is stored as ``1e-9``, and
    every stored entry counts as present whatever its value, so stored zeros are never
    dropped. Duplicate entries of one pair count once, at their smallest distance.
``threshold_m``
    Metres. A pair *reaches* when ``distance <= threshold_m``; this is the catchment.
``demand``
    Residents per origin (the category's cohort), ``>= 0``.
``supply`` / ``capacity``
    Per facility, in the units of service (places, beds, or 1 per facility to count
    facilities). ``capacity`` may be ``np.inf`` (unlimited).

Methods
-------
Two-step floating catchment (:func:`two_step_fca`)
    Luo, W. & Wang, F. (2003), *Measures of spatial accessibility to health care in a GIS
    environment*, Environment and Planning B 30(6): 865–884. Step 1: each facility's ratio
    ``R_j = S_j / sum_i W(d_ij) D_i`` over the origins in its catchment (supply per
    resident). Step 2: each origin's access ``A_i = sum_j W(d_ij) R_j`` over the facilities
    in its catchment (supply per resident reachable). ``W = 1`` inside the catchment and 0
    outside (binary, Luo & Wang), or a Gaussian inside the catchment, 0 outside: the
    Gaussian two-step method of Dai, D. (2010), *Black residential segregation,
    disparities in spatial access to health care facilities, and late-stage breast cancer
    diagnosis in metropolitan Detroit*, Health & Place 16(5): 1038–1052. The Gaussian
    kernel is the one of PySAL ``access`` (``access.weights.gaussian``):
    ``W(d) = exp(-d**2 / (2 * sigma**2))``, unnormalised so ``W(0) = 1``, applied in both
    steps (as ``access.fca.two_stage_fca`` does); note that Dai's own kernel is rescaled to
    reach 0 at the threshold, PySAL's (used here) is not. ``sigma`` defaults to half the
    threshold (``W = exp(-2) = 0.135`` at the threshold). Units: ``R_j`` and ``A_i`` are
    units of supply per resident. The demand-weighted mean of ``A`` over all origins
    equals the total supply of facilities with demand in reach divided by total demand.

Capacity-constrained coverage (:func:`capacity_assignment`)
    The transportation problem (Hitchcock 1941; Dantzig 1951) on the reachable pairs:
    ``x_ij >= 0`` residents of origin ``i`` assigned to facility ``j`` within the threshold,
    ``sum_j x_ij <= D_i``, ``sum_i x_ij <= C_j``. Lexicographic objective: first maximise
    the residents served, then, among those optima, minimise the resident-metres
    ``sum d_ij x_ij``, so residents go to the nearest facility with room. Residents may be
    split between facilities (places are continuous), the model of ``lifecircle optimize
    --capacity``. Solved exactly with HiGHS (:func:`scipy.optimize.linprog`, interior
    point then crossover to an optimal vertex, ``method="highs-ipm"``; the dual simplex if
    that fails) on sparse matrices, as ONE LP: each resident served earns a
    reward ``M`` larger than any change of resident-metres an augmenting path can make
    (``(k + 2) * d_max + 1`` for a connected component of the pair graph with ``k``
    facilities), so every optimum of ``sum (d_ij - M) x_ij`` is the lexicographic optimum
    (two LPs, max-served then min-metres with the total fixed, gave the same figures
    and were 5–10 times slower). Exact reductions first: a facility whose capacity holds
    the demand of every origin that may use it never fills, so it counts as unlimited;
    an origin that reaches an unlimited facility is fully served, and only its pairs to
    finite facilities strictly *nearer* than its nearest unlimited one (its anchor) stay
    in the LP, the rest of it going to the anchor; these repeat until nothing changes.
    With every capacity unlimited no LP is solved. Units: residents, resident-metres.
    The LP can have several optima (equal residents served and resident-metres, residents
    split otherwise): which one is reported depends on the method. The interior point was
    chosen for speed: on the 1M-node benchmark city its four LPs took 6.4 s against 11.8 s
    with the dual simplex (the largest 2.5 s against 8.6 s), the same objective to 1e-14;
    per-origin ``placed_<cat>`` moved by up to 7 residents between the two optima.

Choice and redundancy (:func:`choice`, :func:`closure_losses`, :func:`single_dependence`)
    Per origin: facilities within the threshold; nearest and second-nearest facility among
    the stored pairs (ties go to the lower facility index). Per facility: the demand of the
    origins whose only facility within the threshold it is (they lose coverage if it
    closes). :func:`close` removes closed facilities from the matrix.

Every function is vectorised over the CSR arrays: no Python loop over origins,
facilities or pairs. The capacity assignment lives in :mod:`lifecircle._capacity_lp` and
the input checks in :mod:`lifecircle._demand_inputs`; every name is importable from here.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp

from ._capacity_lp import Assignment as Assignment
from ._capacity_lp import capacity_assignment as capacity_assignment
from ._demand_inputs import _pairs, _per, _sum_by, _threshold
from .errors import DataError

__all__ = [
    "FCA",
    "Assignment",
    "Choice",
    "capacity_assignment",
    "choice",
    "close",
    "closure_losses",
    "gaussian_weight",
    "single_dependence",
    "two_step_fca",
]

# --------------------------------------------------------------------------- 2SFCA


@dataclasses.dataclass(frozen=True)
class FCA:
    """Two-step floating catchment result.

    Attributes
    ----------
    ratio
        Per facility: supply divided by the (weighted) demand within its catchment, in
        units of supply per resident; NaN when no demand reaches it.
    access
        Per origin: the (weighted) sum of the ratios of the facilities within its
        catchment, in units of supply per resident; 0 when none is within reach.
    """

    ratio: np.ndarray
    access: np.ndarray


def gaussian_weight(d: np.ndarray, sigma: float) -> np.ndarray:
    """PySAL ``access`` Gaussian weight ``exp(-d**2 / (2 sigma**2))`` (1 at ``d = 0``).

    Parameters
    ----------
    d
        Distances in metres.
    sigma
        Width in metres, > 0.

    Returns
    -------
    numpy.ndarray
        Weights in (0, 1].

    Examples
    --------
    >>> float(gaussian_weight(np.array([20.0]), 20.0)[0])  # doctest: +ELLIPSIS
    0.60653...
    """
    return np.exp(-(d * d) / (2.0 * sigma * sigma))


def two_step_fca(
    distance: sp.spmatrix,
    demand: np.ndarray,
    supply: np.ndarray,
    threshold_m: float,
    *,
    decay: str | None = None,
    decay_sigma: float | None = None,
) -> FCA:
    """Two-step floating catchment supply–demand ratios (Luo & Wang 2003; Dai 2010).

    Parameters
    ----------
    distance
        Origins x facilities, walking metres, only pairs within the search cut-off.
    demand
        Residents per origin, >= 0.
    supply
        Supply per facility (places, beds, or 1 each), >= 0 and finite.
    threshold_m
        Catchment in metres (``distance <= threshold_m``).
    decay
        ``None`` for the binary catchment, ``"gaussian"`` for the Gaussian weight
        ``exp(-d**2 / (2 sigma**2))`` inside the catchment (0 beyond it).
    decay_sigma
        Gaussian width in metres; default half of ``threshold_m``.

    Returns
    -------
    FCA
        ``ratio`` per facility (NaN when no demand reaches it) and ``access`` per origin.
        A facility whose ratio is NaN adds nothing to any access.

    Examples
    --------
    >>> d = sp.csr_matrix(np.array([[100.0, 0], [300.0, 200.0]]))
    >>> r = two_step_fca(d, np.array([10.0, 30.0]), np.array([4.0, 6.0]), 250.0)
    >>> r.ratio.tolist(), r.access.tolist()
    ([0.4, 0.2], [0.4, 0.2])
    """
    row, col, data, (n, m) = _pairs(distance)
    demand = _per(demand, n, "demand", "origin")
    supply = _per(supply, m, "supply", "facility")
    t = _threshold(threshold_m)
    keep = data <= t
    row, col, data = row[keep], col[keep], data[keep]
    if decay is None:
        w = np.ones(data.size)
    elif decay == "gaussian":
        sigma = t / 2.0 if decay_sigma is None else float(decay_sigma)
        if not np.isfinite(sigma) or sigma <= 0:
            msg = f"`decay_sigma` is {decay_sigma!r}; give the Gaussian width in metres, > 0"
            raise DataError(msg)
        w = gaussian_weight(data, sigma)
    else:
        msg = f"`decay` is {decay!r}; use None (binary catchment) or 'gaussian'"
        raise ValueError(msg)
    weighted = _sum_by(col, w * demand[row], m)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = supply / weighted
    ratio[(weighted <= 0) | ~np.isfinite(ratio)] = np.nan
    contrib = w * ratio[col]
    contrib[np.isnan(contrib)] = 0.0
    access = _sum_by(row, contrib, n)
    return FCA(ratio=ratio, access=access)


# --------------------------------------------------------------------------- choice


@dataclasses.dataclass(frozen=True)
class Choice:
    """Per origin: how many facilities are within reach and the two nearest.

    Attributes
    ----------
    n_within
        Facilities within the threshold.
    nearest, second
        Index of the nearest and second-nearest facility among the stored pairs (the
        search cut-off), -1 when there is none; ties go to the lower index.
    nearest_m, second_m
        Their distances in metres; NaN when there is none.
    """

    n_within: np.ndarray
    nearest: np.ndarray
    nearest_m: np.ndarray
    second: np.ndarray
    second_m: np.ndarray


def choice(distance: sp.spmatrix, threshold_m: float) -> Choice:
    """Facilities within the threshold, nearest and second nearest, per origin.

    Parameters
    ----------
    distance
        Origins x facilities, walking metres, only pairs within the search cut-off.
    threshold_m
        Catchment in metres (``distance <= threshold_m``).

    Returns
    -------
    Choice
        ``n_within``, ``nearest``/``nearest_m``, ``second``/``second_m`` per origin.

    Examples
    --------
    >>> c = choice(sp.csr_matrix(np.array([[300.0, 100.0, 500.0]])), 350.0)
    >>> c.n_within.tolist(), c.nearest.tolist(), c.second_m.tolist()
    ([2], [1], [300.0])
    """
    n_within = count_within(distance, threshold_m)
    row, col, data, (n, _) = _pairs(distance)
    # by row, then distance, then facility: the pairs come by row and facility, so two
    # stable sorts (distance, then row) keep that order among ties (cheaper than lexsort)
    by_distance = np.argsort(data, kind="stable")
    order = by_distance[np.argsort(row[by_distance], kind="stable")]
    row, col, data = row[order], col[order], data[order]
    count = np.bincount(row, minlength=n)
    start = np.r_[0, np.cumsum(count)[:-1]]
    nearest = np.full(n, -1, np.int64)
    second = np.full(n, -1, np.int64)
    nearest_m = np.full(n, np.nan)
    second_m = np.full(n, np.nan)
    has1, has2 = count >= 1, count >= 2
    nearest[has1] = col[start[has1]]
    nearest_m[has1] = data[start[has1]]
    second[has2] = col[start[has2] + 1]
    second_m[has2] = data[start[has2] + 1]
    return Choice(
        n_within=n_within, nearest=nearest, nearest_m=nearest_m, second=second, second_m=second_m
    )


def single_dependence(distance: sp.spmatrix, threshold_m: float) -> np.ndarray:
    """Per origin: True when exactly one facility is within the threshold.

    Parameters
    ----------
    distance
        Origins x facilities, walking metres, only pairs within the search cut-off.
    threshold_m
        Catchment in metres.

    Returns
    -------
    numpy.ndarray
        Boolean per origin.

    Examples
    --------
    >>> single_dependence(sp.csr_matrix(np.array([[300.0, 100.0], [0, 90.0]])), 200.0).tolist()
    [True, True]
    """
    return count_within(distance, threshold_m) == 1


def count_within(distance: sp.spmatrix, threshold_m: float) -> np.ndarray:
    """Per origin: the facilities within the threshold (``distance <= threshold_m``).

    Parameters
    ----------
    distance
        Origins x facilities, walking metres, only pairs within the search cut-off.
    threshold_m
        Catchment in metres.

    Returns
    -------
    numpy.ndarray
        int64 count per origin.

    Examples
    --------
    >>> count_within(sp.csr_matrix(np.array([[300.0, 100.0], [0, 90.0]])), 200.0).tolist()
    [1, 1]
    """
    row, _, data, (n, _) = _pairs(distance)
    return np.bincount(row[data <= _threshold(threshold_m)], minlength=n).astype(np.int64)


def closure_losses(distance: sp.spmatrix, demand: np.ndarray, threshold_m: float) -> np.ndarray:
    """Per facility: the demand that loses coverage if it alone closes.

    The demand of the origins whose only facility within the threshold is this one.

    Parameters
    ----------
    distance
        Origins x facilities, walking metres, only pairs within the search cut-off.
    demand
        Residents per origin, >= 0.
    threshold_m
        Catchment in metres.

    Returns
    -------
    numpy.ndarray
        Residents per facility.

    Examples
    --------
    >>> d = sp.csr_matrix(np.array([[100.0, 0], [100.0, 150.0], [0, 50.0]]))
    >>> closure_losses(d, np.array([5.0, 7.0, 11.0]), 200.0).tolist()
    [5.0, 11.0]
    """
    row, col, data, (n, m) = _pairs(distance)
    demand = _per(demand, n, "demand", "origin")
    within = data <= _threshold(threshold_m)
    row, col = row[within], col[within]
    only = np.bincount(row, minlength=n)[row] == 1
    return _sum_by(col[only], demand[row[only]], m)


def close(distance: sp.spmatrix, closed: np.ndarray) -> sp.csr_matrix:
    """``distance`` without the pairs of the closed facilities (same shape).

    Parameters
    ----------
    distance
        Origins x facilities, walking metres.
    closed
        Boolean per facility, True for the ones to remove.

    Returns
    -------
    scipy.sparse.csr_matrix
        A new matrix; stored zeros of the open facilities are kept.

    Examples
    --------
    >>> d = sp.csr_matrix(np.array([[100.0, 200.0], [0, 50.0]]))
    >>> close(d, np.array([False, True])).toarray().tolist()
    [[100.0, 0.0], [0.0, 0.0]]
    """
    closed = np.asarray(closed, dtype=bool)
    if closed.shape != (distance.shape[1],):
        msg = f"`closed` has shape {closed.shape}; it needs one flag per facility"
        raise ValueError(msg)
    csr = sp.csr_matrix(distance)
    n = csr.shape[0]
    keep = ~closed[csr.indices]
    row = np.repeat(np.arange(n), np.diff(csr.indptr))
    indptr = np.r_[0, np.cumsum(np.bincount(row[keep], minlength=n))].astype(csr.indptr.dtype)
    return sp.csr_matrix(
        (csr.data[keep], csr.indices[keep], indptr), shape=csr.shape, dtype=csr.data.dtype
    )
