"""What the selected sites of a solution do: whom each serves, their order, which add nothing.

Shared by the location models and the siting's outputs (the proposal ranking of
:meth:`lifecircle.siting.SitingSolution.proposals`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import scipy.sparse as sp

from ._models_bounds import ModelOutcome, relative_gap

if TYPE_CHECKING:
    from .siting import SitingProblem


class Sites(Protocol):
    """The selected sites of a solution (a :class:`ModelOutcome` or a ``SitingSolution``)."""

    @property
    def selected(self) -> np.ndarray:
        """Selected candidates, sorted."""
        ...

    @property
    def newly(self) -> np.ndarray:
        """Per resident, the share newly covered."""
        ...

    @property
    def served_by(self) -> np.ndarray:
        """Per resident, the selected candidate serving it (-1: none)."""
        ...

    @property
    def site_served(self) -> np.ndarray:
        """Per selected site, the residents it serves."""
        ...

    @property
    def ranking(self) -> np.ndarray:
        """With a capacity: the proposal order (positions into ``selected``); else empty."""
        ...

    @property
    def marginal(self) -> np.ndarray:
        """With a capacity: each site's exact gain in the order of ``ranking``."""
        ...


def served_per_site(p: SitingProblem, s: Sites, *, all_residents: bool = False) -> np.ndarray:
    """Residents assigned to each selected site of ``s`` (newly covered ones, or all it serves).

    Parameters
    ----------
    p
        The siting problem.
    s
        Its solution (selected sites, ``newly``, ``served_by``).
    all_residents
        Count every resident a site serves, not only the newly covered ones.

    Returns
    -------
    numpy.ndarray
        One number per selected site.
    """
    mask = s.served_by >= 0
    weight = p.weights * (1.0 if all_residents else s.newly)
    pos = np.searchsorted(s.selected, s.served_by[mask])
    return np.bincount(
        pos, weights=np.broadcast_to(weight, mask.shape)[mask], minlength=len(s.selected)
    )


def nearest_selected(distance: sp.csr_matrix, selected: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per resident, the selected candidate nearest to it (-1 where ``mask`` is False)."""
    out = np.full(distance.shape[0], -1, np.int64)
    if len(selected) == 0:
        return out
    sub = distance[:, selected].tocoo()
    order = np.lexsort((sub.data, sub.row))
    rows, cols = sub.row[order], sub.col[order]
    first = np.ones(len(rows), bool)
    first[1:] = rows[1:] != rows[:-1]
    out[rows[first]] = selected[cols[first]]
    out[~mask] = -1
    return out


def rank_sites(
    p: SitingProblem, s: Sites, *, model: str, capacity: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Order the selected sites greedily by marginal gain; return order and gains.

    Parameters
    ----------
    p
        The siting problem.
    s
        Its solution.
    model
        ``mclp``, ``lscp`` or ``pmedian`` (gains in distance saved).
    capacity
        The solve's capacity per site: the capacitated model's own order
        (``s.ranking``: by residents served; gains = cohort residents newly
        placed, exact, in that order), else by residents served.

    Returns
    -------
    tuple of numpy.ndarray
        Positions into ``s.selected``, best first, and their marginal gains.
    """
    sel = s.selected
    if len(sel) == 0:
        return np.empty(0, np.int64), np.empty(0)
    if capacity is not None:
        if len(s.ranking) == len(sel):
            return np.asarray(s.ranking), np.asarray(s.marginal)
        order = np.argsort(-s.site_served, kind="stable")
        return order, s.site_served[order]
    w = p.weights
    sub = p.distance[:, sel].tocsc()
    if model == "pmedian":
        current = np.nan_to_num(p.demand["dist_m"].to_numpy(), nan=p.radius_m)
    else:
        current = None
        open_w = w * s.newly
    ranked: list[int] = []
    gains: list[float] = []
    left = list(range(len(sel)))
    while left:
        best, best_gain = left[0], -1.0
        for j in left:
            idx = sub.indices[sub.indptr[j] : sub.indptr[j + 1]]
            if current is not None:
                g = float(
                    (
                        w[idx]
                        * np.maximum(current[idx] - sub.data[sub.indptr[j] : sub.indptr[j + 1]], 0)
                    ).sum()
                )
            else:
                g = float(open_w[idx].sum())
            if g > best_gain:
                best, best_gain = j, g
        idx = sub.indices[sub.indptr[best] : sub.indptr[best + 1]]
        if current is not None:
            np.fmin.at(current, idx, sub.data[sub.indptr[best] : sub.indptr[best + 1]])
        else:
            open_w[idx] = 0.0
        ranked.append(best)
        gains.append(best_gain)
        left.remove(best)
    return np.array(ranked), np.array(gains)


def drop_useless_sites(
    p: SitingProblem, o: ModelOutcome, *, model: str, requested: int | None, capacity: float | None
) -> None:
    """Remove selected sites of ``o`` that add nothing (the solver may leave them open).

    The capacity model drops its own (exactly, by the served total).
    """
    if capacity is not None:
        return
    order, gains = rank_sites(p, o, model=model, capacity=capacity)
    useless = order[gains <= 1e-9]
    if len(useless) == 0:
        return
    keep = np.ones(len(o.selected), bool)
    keep[useless] = False
    o.selected = o.selected[keep]
    mask = (o.newly > 1e-12) if model != "pmedian" else o.served_by >= 0
    o.served_by = nearest_selected(p.distance, o.selected, mask)
    o.site_served = served_per_site(p, o, all_residents=model == "pmedian")
    o.notes.append(
        f"{len(useless)} of the {requested or len(keep)} sites would add "
        "nothing and are not proposed"
    )
    if model == "lscp":  # the objective is the number of sites
        o.objective = float(len(o.selected))
        o.mip_gap = relative_gap(o.objective, o.bound)
