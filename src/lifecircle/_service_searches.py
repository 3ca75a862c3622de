"""The fair-service searches: pairs within each threshold, second-nearest walks, early LPs.

Split from :mod:`lifecircle.service` (which re-exports every public name): the searches
of every category start right after snapping (:func:`start_searches`) and run on
threads of their own, compiled and without the GIL, while the access and coverage
stages work; each category's capacity LP is solved as soon as its pairs are known.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp

from . import demand
from ._nearest_two import NearestTwo, nearest_two
from .access import AuditSnaps, group_distances
from .config import Standard
from .network import WalkGraph
from .settings import REACH_RTOL
from .snap import Snapped

#: The second-nearest facility is looked for up to this many thresholds (and at most the
#: audit's search cut-off); farther, ``second_<cat>_m`` is NaN.
SECOND_NEAREST_RADII = 2.0


def category_distances(
    graph: WalkGraph,
    snaps: AuditSnaps,
    rows: np.ndarray | None,
    category: str,
    radius_m: float,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Sparse (origin rows x facilities of ``category``) walking metres within ``radius_m``.

    ``rows``: positions in ``snaps.origins`` (None: every origin, in order). Returns the
    matrix and the facility row positions of its columns.
    """
    pts, group, fac_rows = _category_points(snaps, category)
    dist = group_distances(
        graph,
        pts.snapped,
        group,
        _origin_rows(snaps, rows),
        radius_m=radius_m,
        n_groups=len(fac_rows),
    )
    return dist, fac_rows


def category_nearest_two(
    graph: WalkGraph,
    snaps: AuditSnaps,
    rows: np.ndarray | None,
    category: str,
    radius_m: float,
) -> NearestTwo:
    """Per origin row, the nearest two distinct facilities of ``category`` within ``radius_m``.

    ``rows`` as in :func:`category_distances`. Facilities are numbered as the columns of
    :func:`category_distances`.
    """
    pts, group, fac_rows = _category_points(snaps, category)
    return nearest_two(
        graph,
        pts.snapped,
        group,
        _origin_rows(snaps, rows),
        radius_m=radius_m,
        n_groups=len(fac_rows),
    )


def _origin_rows(snaps: AuditSnaps, rows: np.ndarray | None) -> Snapped:
    """The snapped origins at ``rows`` (None: all of them, not copied)."""
    return snaps.origins if rows is None else snaps.origins.take(rows)


def _category_points(snaps: AuditSnaps, category: str) -> tuple[Any, np.ndarray, np.ndarray]:
    """The category's snapped points, each point's facility column, and the facility rows."""
    fac_rows = np.flatnonzero(snaps.facility_category == category)
    local = np.full(len(snaps.facility_category), -1, np.int64)
    local[fac_rows] = np.arange(len(fac_rows))
    pts = snaps.category_points(category)
    return pts, local[pts.facility], fac_rows


class Searches:
    """The fair-service searches of every category, running on threads of their own.

    Per category, the pairs within its threshold (:func:`category_distances`) and the
    second-nearest walk (two-label searches up to twice the threshold). The searches
    are compiled and release the GIL, so they can run while other stages work. Given
    each category's demand and the facilities' capacities (``lp``), each category's
    capacity assignment (HiGHS, also without the GIL) is solved on a third thread as
    soon as its pairs are known; :func:`fair_service` uses it only if its own demand and
    capacities are the same, else solves again. :meth:`close` waits for the work
    running and cancels the rest (use it in ``finally``).

    Parameters
    ----------
    graph, snaps
        The walk graph and the audit's snapped origins and facilities.
    rows
        Positions in ``snaps.origins`` of the analysed origins (the rows of the
        fair-service table, in order).
    standard, categories
        The standard and the audited categories.
    radius_m
        The audit's search cut-off.
    profile
        The audit's ``--profile`` override (None: each category's own).
    lp
        Optional: per category, the residents it serves per origin row (its cohort's,
        else everyone), and the capacity of every facility
        (:func:`facility_capacity`); the capacity assignments are then solved as soon
        as each category's pairs are known.

    Pass it as :attr:`ServiceInputs.searches`; :meth:`close` it when done.
    """

    def __init__(
        self,
        graph: WalkGraph,
        snaps: AuditSnaps,
        rows: np.ndarray,
        standard: Standard,
        categories: list[str],
        *,
        radius_m: float,
        profile: str | None,
        lp: tuple[dict[str, np.ndarray], np.ndarray] | None = None,
    ) -> None:
        self._pools = [ThreadPoolExecutor(max_workers=1) for _ in range(3)]
        pairs_pool, second_pool, solver = self._pools
        thresholds = {c: threshold_m(standard, c, profile) for c in categories}
        self.thresholds = thresholds
        # the origins searched, taken once for every category and both searches (a copy of
        # ~55 MB per search at a million origins otherwise); none when they are all of them
        if not np.array_equal(rows, np.arange(len(snaps.origins))):
            snaps = dataclasses.replace(snaps, origins=snaps.origins.take(rows))
        # below, rows None: every origin of ``snaps``
        # each category's pairs, in order, on one thread (each search is itself threaded)
        self.pairs: dict[str, Future[tuple[sp.csr_matrix, np.ndarray]]] = {
            cat: pairs_pool.submit(
                category_distances, graph, snaps, None, cat, min(radius_m, thresholds[cat])
            )
            for cat in categories
        }
        # the second-nearest walks, reported up to twice the threshold (at most the cut-off)
        self.seconds: dict[str, Future[np.ndarray]] = {
            cat: second_pool.submit(
                _second_m,
                graph,
                snaps,
                None,
                cat,
                min(radius_m, SECOND_NEAREST_RADII * thresholds[cat]),
            )
            for cat in categories
        }
        # each category's capacity assignment, in order, once its pairs are known
        self.assign: dict[str, Future[_EarlyAssignment]] = {}
        if lp is not None:
            needs, capacity = lp
            self.assign = {
                cat: solver.submit(
                    _early_assignment, self.pairs[cat], needs[cat], capacity, thresholds[cat]
                )
                for cat in categories
            }

    @classmethod
    def done(
        cls,
        thresholds: dict[str, float],
        pairs: dict[str, tuple[sp.csr_matrix, np.ndarray]],
        seconds: dict[str, np.ndarray],
    ) -> Searches:
        """Searches already made elsewhere (e.g. per partition on Dask workers, then joined).

        Parameters
        ----------
        thresholds
            Per category, :func:`threshold_m`.
        pairs
            Per category, what :func:`category_distances` gives for these origins: the
            (origin rows x facilities of the category) metres within the threshold, and
            the facility rows of its columns.
        seconds
            Per category, the walk to the second-nearest facility per origin row
            (NaN: none within twice the threshold or the cut-off).
        """
        self = cls.__new__(cls)
        self._pools = []
        self.thresholds = dict(thresholds)
        self.pairs = {cat: _resolved(value) for cat, value in pairs.items()}
        self.seconds = {cat: _resolved(value) for cat, value in seconds.items()}
        self.assign = {}
        return self

    def collect(
        self,
    ) -> tuple[dict[str, tuple[sp.csr_matrix, np.ndarray]], dict[str, np.ndarray]]:
        """Wait for every search, then :meth:`close`; the pairs and second-nearest walks.

        Per category, as :meth:`done` takes them (the searches of one place, used in
        another).
        """
        try:
            pairs = {cat: found.result() for cat, found in self.pairs.items()}
            seconds = {cat: found.result() for cat, found in self.seconds.items()}
        finally:
            self.close()
        return pairs, seconds

    def release(self, category: str) -> None:
        """Let go of ``category``'s results once they are used (its memory is freed)."""
        for held in (self.pairs, self.seconds, self.assign):
            held.pop(category, None)

    def close(self) -> None:
        """Wait for the searches running, cancel those not started, let go of the results.

        Call it once the fair-service stage has taken what it needs: the pairs, the
        second-nearest walks and the capacity assignments held here (hundreds of MB at
        a million origins) are then freed with the stage's own copies.
        """
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)
        self.pairs, self.seconds, self.assign = {}, {}, {}


_T = TypeVar("_T")


def _resolved(value: _T) -> Future[_T]:
    """A future that already holds ``value``."""
    future: Future[_T] = Future()
    future.set_result(value)
    return future


@dataclass(frozen=True)
class _EarlyAssignment:
    """A capacity assignment solved ahead, with the demand and capacities it used."""

    assignment: demand.Assignment
    need: np.ndarray
    capacity: np.ndarray


def _early_assignment(
    pairs: Future[tuple[sp.csr_matrix, np.ndarray]],
    need: np.ndarray,
    capacity: np.ndarray,
    limit: float,
) -> _EarlyAssignment:
    """The capacity assignment of one category, once its pairs are known."""
    dist, fac_rows = pairs.result()
    cap, _ = category_capacity(capacity[fac_rows])
    return _EarlyAssignment(demand.capacity_assignment(dist, need, cap, limit), need, cap)


def _second_m(
    graph: WalkGraph, snaps: AuditSnaps, rows: np.ndarray | None, category: str, radius_m: float
) -> np.ndarray:
    """Per origin row, the walk to the second-nearest facility of ``category`` (NaN: none)."""
    # a copy: the column alone, not the (origins x 2) table it is a view of
    return category_nearest_two(graph, snaps, rows, category, radius_m).second_m.copy()


#: Start the fair-service searches on background threads: :class:`Searches` itself (the
#: name the audit and the tests call it by).
start_searches = Searches


def threshold_m(standard: Standard, cat: str, profile: str | None) -> float:
    """The category's catchment in metres at its walking profile (with the reach tolerance).

    The same rounding tolerance as :func:`lifecircle.coverage.covered_matrix`.

    Parameters
    ----------
    standard
        The standard (thresholds and walking profiles).
    cat
        The category id.
    profile
        The audit's ``--profile`` override (None: the category's own profile).

    Returns
    -------
    float
        Metres.
    """
    info = standard.category(cat)
    speed = standard.profile_of(cat, profile).speed_m_min
    return float(info.threshold_min * speed * (1 + REACH_RTOL))


def category_capacity(cap: np.ndarray) -> tuple[np.ndarray, bool]:
    """Capacities of one category's facilities, and whether any is known.

    When only some are known, the others get the median of the known ones (so supply
    is counted in one unit); when none is, capacity is unlimited and supply counts
    facilities.
    """
    known = np.isfinite(cap)
    if not known.any():
        return cap, False
    if known.all():
        return cap, True
    return np.where(known, cap, float(np.median(cap[known]))), True
