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
    --capacity``. Solved exactly with HiGHS (:func:`scipy.optimize.linprog`,
    ``method="highs"``) on sparse matrices, as ONE LP: each resident served earns a
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

Choice and redundancy (:func:`choice`, :func:`closure_losses`, :func:`single_dependence`)
    Per origin: facilities within the threshold; nearest and second-nearest facility among
    the stored pairs (ties go to the lower facility index). Per facility: the demand of the
    origins whose only facility within the threshold it is (they lose coverage if it
    closes). :func:`close` removes closed facilities from the matrix.

Every function is vectorised over the CSR arrays: no Python loop over origins,
facilities or pairs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog
from scipy.sparse.csgraph import connected_components

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

# --------------------------------------------------------------------------- validation


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


# --------------------------------------------------------------------------- capacity


@dataclasses.dataclass(frozen=True)
class Assignment:
    """Capacity-constrained assignment of residents to facilities within the threshold.

    Attributes
    ----------
    served
        Per origin: residents assigned to a facility with room, within the threshold.
    load
        Per facility: residents assigned to it (<= its capacity).
    unmet
        Per origin: ``demand - served``.
    total_served
        ``served.sum()``.
    resident_m
        Resident-metres walked by the residents served (the second objective).
    status
        ``"optimal"``: the LP was solved (or none was needed).
    """

    served: np.ndarray
    load: np.ndarray
    unmet: np.ndarray
    total_served: float
    resident_m: float
    status: str


def _nearest_unlimited(
    row: np.ndarray, col: np.ndarray, data: np.ndarray, unlimited: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per origin, the distance to and index of its nearest unlimited facility (inf, -1)."""
    u = unlimited[col]
    r, c, d = row[u], col[u], data[u]
    order = np.lexsort((c, d, r))  # by row, then distance, then facility
    r, c, d = r[order], c[order], d[order]
    first = np.r_[True, r[1:] != r[:-1]] if r.size else np.zeros(0, bool)
    dist = np.full(n, np.inf)
    idx = np.full(n, -1, np.int64)
    dist[r[first]] = d[first]
    idx[r[first]] = c[first]
    return dist, idx


def _reduce(
    row: np.ndarray,
    col: np.ndarray,
    data: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact reductions before the LP; returns (anchor_m, anchor, mask of the LP pairs).

    A facility that can hold all the demand of the pairs that may use it never fills, so
    it is unlimited. An origin reaching an unlimited facility is fully served; only its
    pairs to finite facilities strictly nearer than its nearest unlimited one (its
    *anchor*, at ``anchor_m``) may be used. Dropping pairs lowers the demand that may use
    a facility, so the two steps repeat until no facility is added (at most once per
    facility; in practice a few rounds).
    """
    n, m = demand.size, capacity.size
    unlimited = np.isinf(capacity)
    usable = np.ones(row.size, bool)
    while True:
        reach = _sum_by(col[usable], demand[row[usable]], m)
        grown = unlimited | (capacity >= reach)
        anchor_m, anchor = _nearest_unlimited(row, col, data, grown, n)
        usable = ~grown[col] & (data < anchor_m[row])
        if np.array_equal(grown, unlimited):
            return anchor_m, anchor, usable
        unlimited = grown


def _transport_lp(
    prow: np.ndarray,
    pcol: np.ndarray,
    demand: np.ndarray,
    capacity: np.ndarray,
    cost: np.ndarray,
) -> tuple[np.ndarray | None, str]:
    """Minimise ``cost @ x``: origin sums <= demand, facility sums <= capacity, x >= 0."""
    p = prow.size
    rows, rinv = np.unique(prow, return_inverse=True)
    cols, cinv = np.unique(pcol, return_inverse=True)
    ones = np.ones(p)
    a_ub = sp.vstack(
        [
            sp.csr_matrix((ones, (rinv, np.arange(p))), shape=(rows.size, p)),
            sp.csr_matrix((ones, (cinv, np.arange(p))), shape=(cols.size, p)),
        ],
        format="csr",
    )
    b_ub = np.concatenate([demand[rows], capacity[cols]])
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if res.status != 0 or res.x is None:
        return None, str(res.message)
    return np.clip(res.x, 0.0, None), "optimal"


def _served_reward(prow: np.ndarray, pcol: np.ndarray, n: int, m: int, scale: float) -> np.ndarray:
    """Per LP pair, a reward per resident served that makes one LP lexicographic.

    In ``min sum (d_p - M_p) x_p`` an augmenting path that serves more residents changes
    the resident-metres by at most ``(k + 1) * scale`` per resident, where ``k`` is the
    number of facilities on it (at most those of its connected component of the pair
    graph) and ``scale`` bounds every distance (pairs and anchors). With ``M_p`` above
    that for the pair's component, every optimum serves the most residents and, among
    those, walks the fewest resident-metres: the lexicographic optimum, in one LP.
    """
    graph = sp.csr_matrix((np.ones(prow.size), (prow, n + pcol)), shape=(n + m, n + m))
    _, label = connected_components(graph, directed=False)
    facilities = np.bincount(label[n + np.unique(pcol)], minlength=label.max() + 1)
    return (facilities[label[prow]] + 2.0) * scale + 1.0


def capacity_assignment(
    distance: sp.spmatrix,
    demand: np.ndarray,
    capacity: np.ndarray,
    threshold_m: float,
) -> Assignment:
    """Residents served by a facility with room within the threshold (exact LP).

    Maximises the residents served, then, with that total fixed, minimises the
    resident-metres, so residents go to the nearest facility with room. Residents of one
    origin may be split between facilities.

    Parameters
    ----------
    distance
        Origins x facilities, walking metres, only pairs within the search cut-off.
    demand
        Residents per origin, >= 0.
    capacity
        Places per facility, >= 0; ``np.inf`` for unlimited.
    threshold_m
        Catchment in metres (``distance <= threshold_m``).

    Returns
    -------
    Assignment
        ``served``, ``unmet`` per origin, ``load`` per facility, ``total_served`` and the
        solver ``status``.

    Raises
    ------
    RuntimeError
        When HiGHS cannot solve the first (residents served) LP.

    Examples
    --------
    >>> d = sp.csr_matrix(np.array([[100.0, 300.0], [200.0, 0]]))
    >>> a = capacity_assignment(d, np.array([5.0, 5.0]), np.array([6.0, np.inf]), 400.0)
    >>> a.served.tolist(), a.load.tolist()
    ([5.0, 5.0], [6.0, 4.0])
    """
    row, col, data, (n, m) = _pairs(distance)
    demand = _per(demand, n, "demand", "origin")
    capacity = _per(capacity, m, "capacity", "facility", allow_inf=True)
    t = _threshold(threshold_m)
    keep = (data <= t) & (demand[row] > 0) & (capacity[col] > 0)
    row, col, data = row[keep], col[keep], data[keep]
    anchor_m, anchor, lp = _reduce(row, col, data, demand, capacity)
    anchored = anchor >= 0
    prow, pcol, pdist = row[lp], col[lp], data[lp]
    x = np.zeros(prow.size)
    if prow.size:
        # a free origin's resident served earns M (served first); an anchored origin is
        # served anyway, and a resident moved off its anchor saves anchor_m - d metres
        on_anchor = anchored[prow]
        scale = float(max(pdist.max(), anchor_m[prow][on_anchor].max(initial=0.0)))
        reward = np.where(on_anchor, anchor_m[prow], _served_reward(prow, pcol, n, m, scale))
        x_lp, msg = _transport_lp(prow, pcol, demand, capacity, pdist - reward)
        if x_lp is None:
            msg = f"HiGHS could not solve the capacity assignment LP: {msg}"
            raise RuntimeError(msg)
        x = x_lp
    to_lp = np.minimum(_sum_by(prow, x, n), demand)
    served = np.where(anchored, demand, to_lp)
    rest = np.where(anchored, demand - to_lp, 0.0)
    load = _sum_by(pcol, x, m)
    load += _sum_by(anchor[anchored], rest[anchored], m)
    resident_m = float(pdist @ x + anchor_m[anchored] @ rest[anchored])
    return Assignment(
        served=served,
        load=load,
        unmet=demand - served,
        total_served=float(served.sum()),
        resident_m=resident_m,
        status="optimal",
    )


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
    row, col, data, (n, _) = _pairs(distance)
    t = _threshold(threshold_m)
    n_within = np.bincount(row[data <= t], minlength=n).astype(np.int64)
    order = np.lexsort((col, data, row))  # by row, then distance, then facility
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
    row, _, data, (n, _) = _pairs(distance)
    return np.bincount(row[data <= _threshold(threshold_m)], minlength=n) == 1


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
