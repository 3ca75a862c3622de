"""Inequality of access: Gini, Theil T (decomposed), Palma ratio, Lorenz curve, worst served.

One stage: it takes 1-D arrays of access values ("higher is better": a coverage share,
a supply-demand ratio) and optional non-negative weights, and returns plain numbers.
The same functions serve both views the audit reports:

- **over residents**: one value per origin, ``weights`` = residents of the origin;
- **over units**: one value per governance unit, ``weights`` = 1 (the default) or the
  unit's population.

With integer weights every measure equals the unweighted measure of the data with each
value repeated ``weight`` times (the tests check this), and elements of weight 0 are left
out. Everything is vectorised (one sort, cumulative sums, ``bincount``; group labels
are hashed with ``pandas.factorize``).

Formulas (``x`` the values, ``w`` the weights, ``W = Σ w``, ``μ = Σ w x / W``):

- **Gini** — the population Gini of the weighted distribution,
  ``G = Σ_i Σ_j w_i w_j |x_i − x_j| / (2 W² μ)``, computed after sorting as
  ``Σ_k w_k x_k (W_<k − W_>k) / (W Σ w x)``. Unweighted it is PySAL's
  ``inequality.gini.Gini`` (no ``n/(n−1)`` small-sample factor): ``[0, 0, 0, 1]`` gives
  0.75. It is also one minus twice the area under the Lorenz curve.
- **Theil T** (Theil 1967) — ``T = (1/W) Σ w_i (x_i/μ) ln(x_i/μ)`` with ``0 ln 0 = 0``;
  unweighted it is PySAL's ``inequality.theil.Theil``. For groups ``g`` (e.g. the street a
  residents' committee belongs to) with value shares ``s_g = Σ_g w x / Σ w x`` and weight
  shares ``p_g = W_g / W``, the additive decomposition is
  ``between = Σ_g s_g ln(s_g / p_g)`` (inequality of the weighted group means) and
  ``within = Σ_g s_g T_g`` (``T_g`` the Theil T inside group ``g``), and
  ``total = between + within``; this is PySAL's ``inequality.theil.TheilD`` ``bg``/``wg``.
- **Palma ratio** (Palma 2011; Cobham & Sumner 2013) — the share of all access held by
  the best-off 10% of the weight divided by the share held by the worst-off 40%. The
  shares are read off the weighted Lorenz curve, so a weight that straddles a cut-off is
  split in proportion (exact for weights; with integer weights this is the repeated data).
- **Lorenz curve** — sorting by value, the points ``(cumulative weight share, cumulative
  value share)`` from ``(0, 0)`` to ``(1, 1)`` joined by straight lines (the exact Lorenz
  curve of the weighted distribution), evaluated at evenly spaced weight shares.
- **Rank and decile** — of units by count (rank 1 = worst served), for the worst-served
  table and the ``rank``/``decile`` columns of ``units.gpkg``.

Undefined figures are NaN, never a sentinel: no weight at all, or no access at all (all
values 0: a Gini, Theil or Palma of "nobody reaches anything" measures nothing).
Bad input (values or weights not finite, negative weights, negative values where a share
is needed, mismatched lengths) raises :class:`lifecircle.errors.DataError`, a
``ValueError``.

References
----------
Theil, H. (1967). *Economics and Information Theory*. North-Holland.
Palma, J. G. (2011). Homogeneous middles vs. heterogeneous tails, and the end of the
"inverted-U". *Development and Change* 42(1), 87-153.
Cobham, A. & Sumner, A. (2013). Is it all about the tails? The Palma measure of income
inequality. CGD Working Paper 343.
Rey, S. J. and the PySAL developers. *inequality*: spatial inequality analysis
(https://github.com/pysal/inequality), the reference the tests compare against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .errors import DataError

__all__ = [
    "EquityFigures",
    "TheilT",
    "equity_figures",
    "gini",
    "lorenz",
    "palma",
    "rank_and_decile",
    "theil",
    "worst_served",
]

#: Weight shares of the Palma ratio: the best-off 10% over the worst-off 40%.
PALMA_TOP = 0.1
PALMA_BOTTOM = 0.4
#: Points of the Lorenz curve kept by :func:`equity_figures` (every 5% of the weight).
FIGURES_LORENZ_POINTS = 21
#: Decimals kept by :meth:`EquityFigures.to_json`.
JSON_DECIMALS = 4

_FIX = (
    "Measure inequality only over origins or units with a defined access value and a "
    "population (drop units without residents first)."
)


# --------------------------------------------------------------------------- input checks


def _as_1d(data: Any, what: str) -> np.ndarray:
    try:
        arr = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"equity: the {what} must be numbers; some are not (text, dates or empty "
            f"objects). {_FIX}"
        ) from exc
    if arr.ndim != 1:
        raise DataError(
            f"equity: the {what} must be a 1-D array (one value per origin or unit); "
            f"got shape {arr.shape}. Pass one column at a time."
        )
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(
            f"equity: the {what} must be finite; {int(bad.sum())} of {arr.size} are NaN or "
            f"infinite (the first at position {int(np.argmax(bad))}). {_FIX}"
        )
    return arr


def _checked(
    values: Any, weights: Any, *, nonnegative: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Values and weights as float arrays of equal length (weights default to 1)."""
    x = _as_1d(values, "access values")
    if weights is None:
        w = np.ones_like(x)
    else:
        w = _as_1d(weights, "weights")
        if w.size != x.size:
            raise DataError(
                f"equity: there are {x.size} access values but {w.size} weights; give one "
                "weight (population) per value, or no weights to count each value once."
            )
        if (w < 0).any():
            raise DataError(
                f"equity: weights must not be negative; {int((w < 0).sum())} are (the first "
                f"at position {int(np.argmax(w < 0))}). Weights are populations: use 0 to "
                "leave a value out."
            )
    if nonnegative and (x < 0).any():
        raise DataError(
            f"equity: access values must not be negative (they are shares or ratios, higher "
            f"is better); {int((x < 0).sum())} are (the first at position "
            f"{int(np.argmax(x < 0))}). Pass coverage shares or supply-demand ratios."
        )
    return x, w


def _positive(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values and weights of weight > 0, sorted by value (ascending)."""
    keep = w > 0
    x, w = x[keep], w[keep]
    order = np.argsort(x, kind="stable")
    return x[order], w[order]


# --------------------------------------------------------------------------- Lorenz and Gini


def _lorenz_vertices(xs: np.ndarray, ws: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Vertices of the weighted Lorenz curve of sorted data; None when it is undefined."""
    total_w = ws.sum()
    total_y = (ws * xs).sum()
    if not (total_w > 0 and total_y > 0):
        return None
    p = np.concatenate(([0.0], np.cumsum(ws) / total_w))
    q = np.concatenate(([0.0], np.cumsum(ws * xs) / total_y))
    p[-1] = q[-1] = 1.0
    return p, q


def _gini_sorted(xs: np.ndarray, ws: np.ndarray) -> float:
    total_w = ws.sum()
    total_y = (ws * xs).sum()
    if not (total_w > 0 and total_y > 0):
        return math.nan
    below = np.cumsum(ws) - ws  # weight strictly before each element
    above = total_w - below - ws  # weight strictly after it
    g = float((ws * xs * (below - above)).sum() / (total_w * total_y))
    return min(max(g, 0.0), 1.0)


def gini(values: Any, weights: Any = None) -> float:
    """Weighted Gini coefficient of access (0 = everyone equal, towards 1 = concentrated).

    Parameters
    ----------
    values
        1-D access values, finite and non-negative (higher is better).
    weights
        1-D non-negative weights (residents), one per value; default 1 each.

    Returns
    -------
    float
        ``Σ_i Σ_j w_i w_j |x_i − x_j| / (2 W² μ)``: the population Gini (PySAL's
        ``inequality.gini.Gini`` on unweighted data, with no ``n/(n−1)`` factor; with
        integer weights, the Gini of the repeated data). NaN when the total weight is 0,
        and when every value is 0 (nobody has any access: inequality is undefined).

    Raises
    ------
    DataError
        Values or weights not finite, negative, or of different lengths.

    Examples
    --------
    >>> gini([0, 0, 0, 1])
    0.75
    """
    x, w = _checked(values, weights)
    return _gini_sorted(*_positive(x, w))


def lorenz(values: Any, weights: Any = None, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """The weighted Lorenz curve of access at evenly spaced population shares.

    Parameters
    ----------
    values
        1-D access values, finite and non-negative.
    weights
        1-D non-negative weights, one per value; default 1 each.
    points
        Number of evenly spaced weight shares from 0 to 1 (at least 2).

    Returns
    -------
    tuple of numpy.ndarray
        ``(weight_share, value_share)``: ``weight_share`` is ``linspace(0, 1, points)``
        and ``value_share`` the share of all access held by the worst-served
        ``weight_share`` of the weight, interpolated exactly on the piecewise-linear
        weighted Lorenz curve (a weight straddling a point is split in proportion). It
        starts at 0, ends at 1, and is non-decreasing and convex. ``value_share`` is all
        NaN when the total weight or the total access is 0.

    Raises
    ------
    DataError
        Bad values or weights (see :func:`gini`).
    ValueError
        ``points`` below 2.
    """
    if isinstance(points, bool) or int(points) != points or points < 2:
        raise ValueError(f"lorenz: points must be an integer of at least 2, got {points!r}")
    x, w = _checked(values, weights)
    share = np.linspace(0.0, 1.0, int(points))
    return share, _lorenz_at(*_positive(x, w), share)


def _lorenz_at(xs: np.ndarray, ws: np.ndarray, share: np.ndarray) -> np.ndarray:
    vertices = _lorenz_vertices(xs, ws)
    if vertices is None:
        return np.full(share.shape, math.nan)
    out = np.interp(share, *vertices)
    out[share <= 0] = 0.0
    out[share >= 1] = 1.0
    return out


# --------------------------------------------------------------------------- Palma


def _palma_sorted(xs: np.ndarray, ws: np.ndarray) -> float:
    bottom, ninety = _lorenz_at(xs, ws, np.array([PALMA_BOTTOM, 1.0 - PALMA_TOP]))
    if math.isnan(bottom):
        return math.nan
    top = 1.0 - ninety
    return math.inf if bottom <= 0 else float(top / bottom)


def palma(values: Any, weights: Any = None) -> float:
    """Palma ratio: access share of the best-off 10% over that of the worst-off 40%.

    Parameters
    ----------
    values
        1-D access values, finite and non-negative.
    weights
        1-D non-negative weights, one per value; default 1 each.

    Returns
    -------
    float
        ``(1 − L(0.9)) / L(0.4)`` on the weighted Lorenz curve ``L`` (so a weight that
        straddles the 40% or 90% cut-off is split in proportion; with integer weights it
        equals the ratio on the repeated data). Perfect equality gives 0.25 (10% of the
        access over 40%); larger is more unequal. ``inf`` when the worst-off 40% have no
        access at all, NaN when the total weight or total access is 0.

    Raises
    ------
    DataError
        Bad values or weights (see :func:`gini`).
    """
    x, w = _checked(values, weights)
    return _palma_sorted(*_positive(x, w))


# --------------------------------------------------------------------------- Theil T


@dataclass(frozen=True)
class TheilT:
    """Theil T index of access and its between/within-group decomposition.

    Attributes
    ----------
    total
        Theil T of all values (0 = equal; at most ``ln`` of the number of values).
    between
        Part due to differences between the weighted group means,
        ``Σ_g s_g ln(s_g / p_g)``; NaN when no groups were given.
    within
        Part due to differences inside the groups, ``Σ_g s_g T_g``; NaN when no groups
        were given. ``between + within == total``.
    groups
        Theil T inside each group, keyed by the group label as a string (NaN for a
        group whose values are all 0 or whose weights are all 0); empty without groups.
    """

    total: float
    between: float
    within: float
    groups: dict[str, float]


def _xlnx(r: np.ndarray) -> np.ndarray:
    """``r ln r`` with ``0 ln 0 = 0``."""
    positive = r > 0
    return np.where(positive, r * np.log(np.where(positive, r, 1.0)), 0.0)


def _theil_total(x: np.ndarray, w: np.ndarray) -> float:
    total_w = w.sum()
    total_y = (w * x).sum()
    if not (total_w > 0 and total_y > 0):
        return math.nan
    mean = total_y / total_w
    return max(float((w * _xlnx(x / mean)).sum() / total_w), 0.0)


def _group_labels(groups: Any, n: int) -> np.ndarray:
    try:
        labels = np.asarray(groups)
    except ValueError:  # a list of sequences of different lengths
        labels = np.empty((0, 0))
    if labels.ndim != 1 and isinstance(groups, (list, tuple)):
        labels = np.fromiter(list(groups), dtype=object)  # labels that are tuples
    if labels.ndim != 1 or labels.size != n:
        raise DataError(
            f"equity: groups must give one label per access value ({n}); got shape "
            f"{labels.shape}. Pass the id of the group (e.g. the street) of each value."
        )
    return labels


def _factorize(labels: np.ndarray | pd.Categorical) -> tuple[list[str], np.ndarray]:
    """Group names (string form, by first appearance) and each element's group index.

    ``pandas.factorize`` hashes (O(n)); sorting a million string labels with
    ``numpy.unique`` takes seconds. Missing labels (None, NaN) form one group. Labels
    that differ but print alike (``1`` and ``"1"``) are merged, so the names are unique.
    """
    codes, uniques = pd.factorize(labels, use_na_sentinel=False)
    names = [str(u) for u in np.asarray(uniques, dtype=object).tolist()]
    if len(set(names)) < len(names):
        merged, unique_names = pd.factorize(np.array(names, dtype=object))
        codes, names = merged[codes], [str(u) for u in unique_names.tolist()]
    return names, np.asarray(codes, dtype=np.intp)


def theil(values: Any, weights: Any = None, groups: Any = None) -> TheilT:
    """Theil T index of access, decomposed into between- and within-group parts.

    Parameters
    ----------
    values
        1-D access values, finite and non-negative; zeros are allowed (``0 ln 0 = 0``).
    weights
        1-D non-negative weights, one per value; default 1 each.
    groups
        Optional 1-D group label per value (e.g. the street of each residents'
        committee). Labels that print alike are one group (``1`` and ``"1"``), and
        missing labels (None, NaN) form one group; ``TheilT.groups`` is keyed by the
        printed label.

    Returns
    -------
    TheilT
        ``total`` (PySAL's ``inequality.theil.Theil`` on unweighted data), ``between``
        and ``within`` (PySAL's ``TheilD`` ``bg`` and ``wg``; they add up to ``total``) and
        the Theil T inside each group. Every figure is NaN when the total weight or total
        access is 0.

    Raises
    ------
    DataError
        Bad values or weights (see :func:`gini`), or groups of the wrong length.
    """
    x, w = _checked(values, weights)
    if groups is None:
        return TheilT(_theil_total(x, w), math.nan, math.nan, {})
    if isinstance(groups, pd.Categorical) and len(groups) == x.size and not groups.isna().any():
        # the same groups from the categorical's codes, without hashing a label per value
        names, inverse = _factorize(groups)
    else:
        names, inverse = _factorize(_group_labels(groups, x.size))
    k = len(names)
    total_w = w.sum()
    total_y = (w * x).sum()
    wg = np.bincount(inverse, weights=w, minlength=k)
    yg = np.bincount(inverse, weights=w * x, minlength=k)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_g = yg / wg
        r = np.where(mean_g[inverse] > 0, x / mean_g[inverse], 0.0)
        t_g = np.bincount(inverse, weights=w * _xlnx(r), minlength=k) / wg
    t_g = np.where((wg > 0) & (yg > 0), np.maximum(t_g, 0.0), math.nan)
    per_group = dict(zip(names, t_g.tolist(), strict=True))
    if not (total_w > 0 and total_y > 0):
        return TheilT(math.nan, math.nan, math.nan, {name: math.nan for name in per_group})
    s_g = yg / total_y
    p_g = wg / total_w
    has = s_g > 0
    between = float((s_g[has] * np.log(s_g[has] / p_g[has])).sum())
    within = float((s_g[has] * t_g[has]).sum())
    return TheilT(_theil_total(x, w), max(between, 0.0), within, per_group)


# --------------------------------------------------------------------------- ranks


def rank_and_decile(values: Any, weights: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Rank and decile of each value, worst served first, by count of units.

    Parameters
    ----------
    values
        1-D access values, finite (any sign; higher is better).
    weights
        Checked like the other functions' weights (finite, non-negative, one per
        value) but not used: ranks and deciles count units, not residents, so a unit
        of 100 residents and one of 10,000 each take one place.

    Returns
    -------
    tuple of numpy.ndarray
        ``(rank, decile)``, both ``int64``. ``rank`` 1 is the lowest value; tied values
        share the lowest rank of their group ("min" ranking: 1, 2, 2, 4).
        ``decile = (rank − 1) * 10 // n + 1`` (1 to 10), so decile 1 is the
        worst-served 10% of units; tied units share a decile, so decile 1 can hold more
        than 10% of the units when values tie at its edge.

    Raises
    ------
    DataError
        Bad values or weights (see :func:`gini`).
    """
    x, _ = _checked(values, weights, nonnegative=False)
    rank = np.searchsorted(np.sort(x), x, side="left").astype(np.int64) + 1
    decile = (rank - 1) * 10 // max(x.size, 1) + 1
    return rank, decile


def worst_served(
    values: Any, ids: Sequence[Any], weights: Any = None, share: float = 0.1
) -> list[Any]:
    """Ids of the worst-served ``share`` of units (by count), worst first.

    Parameters
    ----------
    values
        1-D access values, finite; higher is better.
    ids
        One id per value (any objects: unit ids, names).
    weights
        Checked but not used (units are counted, see :func:`rank_and_decile`).
    share
        Share of the units to list, in ``(0, 1]``; 0.1 (the default) gives exactly
        decile 1 of :func:`rank_and_decile`.

    Returns
    -------
    list
        The ids of the units whose "min" rank is within the first ``ceil(share * n)``
        places (ties at the edge are all kept), ordered by value, then by input order.

    Raises
    ------
    DataError
        Bad values or weights, or ``ids`` of a different length.
    ValueError
        ``share`` outside ``(0, 1]``.
    """
    if isinstance(share, bool) or not (isinstance(share, (int, float)) and 0 < share <= 1):
        raise ValueError(f"worst_served: share must be in (0, 1], got {share!r}")
    seq = list(ids)
    rank, _ = rank_and_decile(values, weights)
    if len(seq) != rank.size:
        raise DataError(
            f"equity: there are {rank.size} access values but {len(seq)} ids; give one id "
            "per value."
        )
    places = math.ceil(round(share * rank.size, 9))
    chosen = np.flatnonzero(rank <= places)
    chosen = chosen[np.argsort(rank[chosen], kind="stable")]
    return [seq[i] for i in chosen.tolist()]


# --------------------------------------------------------------------------- figures


def _json_number(value: float) -> float | None:
    return round(float(value), JSON_DECIMALS) if math.isfinite(value) else None


@dataclass(frozen=True)
class EquityFigures:
    """The equity figures of one access measure (one category, one cohort, one view).

    Attributes
    ----------
    n
        Number of values (origins or units), weight 0 included.
    mean
        Weighted mean access (NaN when the total weight is 0).
    gini
        See :func:`gini`.
    theil
        See :func:`theil` (decomposed when groups were given).
    palma
        See :func:`palma`.
    lorenz
        ``(weight_share, value_share)`` at every 5% of the weight
        (:data:`FIGURES_LORENZ_POINTS` points), see :func:`lorenz`.
    """

    n: int
    mean: float
    gini: float
    theil: TheilT
    palma: float
    lorenz: tuple[tuple[float, ...], tuple[float, ...]]

    def to_json(self) -> dict[str, Any]:
        """Plain dict for ``summary.json``: floats rounded to 4 decimals, NaN/inf as None."""
        return {
            "n": self.n,
            "mean": _json_number(self.mean),
            "gini": _json_number(self.gini),
            "palma": _json_number(self.palma),
            "theil": {
                "total": _json_number(self.theil.total),
                "between": _json_number(self.theil.between),
                "within": _json_number(self.theil.within),
                "groups": {k: _json_number(v) for k, v in sorted(self.theil.groups.items())},
            },
            "lorenz": {
                "weight_share": [_json_number(v) for v in self.lorenz[0]],
                "value_share": [_json_number(v) for v in self.lorenz[1]],
            },
        }


def equity_figures(values: Any, weights: Any = None, groups: Any = None) -> EquityFigures:
    """Gini, Theil T, Palma, Lorenz curve, count and mean of one set of access values.

    Parameters
    ----------
    values
        1-D access values, finite and non-negative.
    weights
        1-D non-negative weights (residents), one per value; default 1 each.
    groups
        Optional group label per value for the Theil decomposition (see :func:`theil`).

    Returns
    -------
    EquityFigures
        The figures; :meth:`EquityFigures.to_json` gives the ``summary.json`` form.

    Raises
    ------
    DataError
        Bad values, weights or groups (see :func:`gini` and :func:`theil`).
    """
    x, w = _checked(values, weights)
    xs, ws = _positive(x, w)
    total_w = ws.sum()
    share = np.linspace(0.0, 1.0, FIGURES_LORENZ_POINTS)
    curve = _lorenz_at(xs, ws, share)
    return EquityFigures(
        n=int(x.size),
        mean=float((ws * xs).sum() / total_w) if total_w > 0 else math.nan,
        gini=_gini_sorted(xs, ws),
        theil=theil(x, w, groups),
        palma=_palma_sorted(xs, ws),
        lorenz=(tuple(share.tolist()), tuple(curve.tolist())),
    )
