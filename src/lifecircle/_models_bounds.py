"""What a location model run yields, without a solver: greedy, run records, bounds and gaps.

The building blocks shared by the location models (:mod:`lifecircle._location_models`,
:mod:`lifecircle._models_uncapacitated`, :mod:`lifecircle._capacitated`): the lazy
greedy (CELF), the record of one MILP solve (:class:`SolverRun`) and of a model's
solution (:class:`ModelOutcome`), and how status, objective, bound and ``mip_gap``
are set from HiGHS's answer or the greedy fallback (see the module docstring of
:mod:`lifecircle._location_models` for the definitions).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import LinearConstraint

#: Greedy's guarantee for monotone submodular maximisation: value >= (1 - 1/e) OPT.
GREEDY_FACTOR = 1.0 - 1.0 / np.e

Model = tuple[np.ndarray, list[LinearConstraint], np.ndarray]


def lazy_greedy(
    n_items: int,
    gain: Callable[[int], float],
    take: Callable[[int], None],
    *,
    limit: int,
    done: Callable[[], bool] = lambda: False,
) -> list[int]:
    """Lazy greedy (CELF): pick items by largest marginal gain, re-evaluating stale gains.

    Exact greedy for gains that never grow as items are taken (submodular
    objectives such as coverage and distance saved). ``take(j)`` commits item
    ``j``; picking stops at ``limit`` items, when ``done()``, or when no item
    gains anything.

    Parameters
    ----------
    n_items
        Number of items (candidates).
    gain
        Marginal gain of an item given the items taken so far.
    take
        Commit an item.
    limit
        Largest number of items to take.
    done
        Stop early when this returns True.

    Returns
    -------
    list of int
        The items taken, in order.
    """
    heap = [(-gain(j), j, 0) for j in range(n_items)]
    heapq.heapify(heap)
    chosen: list[int] = []
    while heap and len(chosen) < limit and not done():
        neg, j, stamp = heapq.heappop(heap)
        if stamp != len(chosen):
            heapq.heappush(heap, (-gain(j), j, len(chosen)))
            continue
        if -neg <= 1e-12:
            break
        take(j)
        chosen.append(j)
    return chosen


# --------------------------------------------------------------------------- solver runs


@dataclass
class SolverRun:
    """What one MILP solve produced (or why it produced nothing).

    ``status`` is :func:`scipy.optimize.milp`'s (0 optimal, 1 iteration or time
    limit, 2 infeasible, 3 unbounded, 4 other), ``None`` when HiGHS gave no answer
    (stopped at the deadline, never started, or its process died).
    """

    status: int | None = None
    x: np.ndarray | None = None
    fun: float | None = None
    dual_bound: float | None = None
    message: str = ""
    stopped: bool = False
    where: str = "in-process"
    seconds: float = 0.0

    @property
    def solution(self) -> bool:
        """Whether HiGHS returned a feasible solution."""
        return self.x is not None and self.status in (0, 1)


@dataclass
class ModelOutcome:
    """What a location model found: the record it returns instead of changing the problem.

    ``status``, ``objective``, ``bound``, ``bound_source`` and ``mip_gap`` as in
    :class:`lifecircle.siting.SitingSolution`; ``selected`` (sorted candidate
    columns), ``newly`` (share of each resident newly covered), ``served_by`` (the
    selected candidate serving each resident, -1 for none), ``site_served``
    (residents per selected site), the ``notes`` of the solve and HiGHS's run
    (``solver_info``).
    """

    status: str = ""
    objective: float | None = None
    bound: float | None = None
    bound_source: str | None = None
    mip_gap: float | None = None
    greedy_objective: float | None = None
    selected: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    newly: np.ndarray = field(default_factory=lambda: np.empty(0))
    served_by: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    site_served: np.ndarray = field(default_factory=lambda: np.empty(0))
    notes: list[str] = field(default_factory=list)
    solver_info: dict[str, Any] = field(default_factory=dict)
    #: With a capacity: the sites' proposal order (positions into ``selected``, best
    #: first), each one's marginal gain in that order, cohort residents served per
    #: resident before and after (the audit's assignment), and the city-wide figures.
    ranking: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    marginal: np.ndarray = field(default_factory=lambda: np.empty(0))
    served_before: np.ndarray | None = None
    served_after: np.ndarray | None = None
    capacity_figures: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- bounds and gaps


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """``|bound - objective| / max(|bound|, |objective|)``; None without a bound."""
    if objective is None or bound is None:
        return None
    diff = abs(bound - objective)
    scale = max(abs(bound), abs(objective))
    if diff <= 1e-9 * max(scale, 1.0):
        return 0.0
    return round(min(diff / scale, 1.0), 6)


def top_k_sum(values: np.ndarray, k: int) -> float:
    """Sum of the ``k`` largest of ``values`` (all of them when there are fewer)."""
    if k <= 0 or len(values) == 0:
        return 0.0
    if k >= len(values):
        return float(values.sum())
    return float(np.partition(values, len(values) - k)[len(values) - k :].sum())


def fewest_for(values: np.ndarray, need: float) -> int:
    """Fewest items whose largest ``values`` add up to ``need`` (a lower bound on sites)."""
    if need <= 1e-9:
        return 0
    cum = np.cumsum(np.sort(values)[::-1])
    k = int(np.searchsorted(cum, need - 1e-6)) + 1
    return min(k, len(values))


def best_upper(bounds: dict[str, float]) -> tuple[float | None, str | None]:
    """The smallest of several valid upper bounds, and its name."""
    if not bounds:
        return None, None
    name = min(bounds, key=lambda k: bounds[k])
    return bounds[name], name


BOUND_TEXT = {
    "highs": "HiGHS's dual bound",
    "greedy_guarantee": "the (1 - 1/e) guarantee of greedy",
    "greedy_plus_gains": "the greedy value plus the largest single-site gains left after it",
    "top_gains": "the sum of the largest single-site gains",
    "reachable": "every reachable resident",
    "fewest_by_gains": "the fewest sites whose largest single-site coverages reach the target",
    "exact": "the greedy covers everything any choice could",
}


def apply_outcome(
    s: ModelOutcome,
    run: SolverRun,
    *,
    maximise: bool,
    objective: float,
    bounds: dict[str, float],
    status: str,
) -> None:
    """Set status, objective, bound and gap on ``s`` from the solution and valid bounds.

    ``bounds`` holds only bounds known to be valid (upper bounds when
    maximising, lower bounds otherwise); HiGHS's dual bound is added when it
    returned one.
    """
    bounds = dict(bounds)
    if run.dual_bound is not None:
        highs = -run.dual_bound if maximise else run.dual_bound
        slack = 1e-6 * max(1.0, abs(objective))
        if (highs < objective - slack) if maximise else (highs > objective + slack):
            s.notes.append(
                f"HiGHS's dual bound {highs:,.3f} is not a bound on a known solution "
                f"({objective:,.3f}); it is not used"
            )
        else:
            bounds["highs"] = highs
    bound: float | None
    source: str | None
    if maximise:
        bound, source = best_upper(bounds)
    elif bounds:
        source = max(bounds, key=lambda k: bounds[k])
        bound = bounds[source]
    else:
        bound, source = None, None
    s.status = status
    s.objective = round(float(objective), 3)
    s.bound = None if bound is None else round(float(bound), 3)
    s.bound_source = source
    s.mip_gap = relative_gap(float(objective), bound)
    if bound is None:
        s.notes.append("no bound on the optimum is known, so mip_gap is null")
    elif status != "optimal" and source is not None:
        s.notes.append(
            f"bound {s.bound:,.3f} from {BOUND_TEXT[source]}; mip_gap "
            f"{s.mip_gap} = |bound - objective| / max(|bound|, |objective|)"
        )


def fallback_note(run: SolverRun, time_limit_s: float) -> str:
    """Why the greedy solution is used."""
    if run.stopped:
        return (
            f"{run.message} ({run.seconds:.1f} s in the solver, time limit "
            f"{time_limit_s:g} s for the whole solve); the lazy-greedy solution is used"
        )
    return f"HiGHS returned no solution ({run.message}); the lazy-greedy solution is used"


def apply_greedy_or_solution(
    s: ModelOutcome,
    run: SolverRun,
    *,
    maximise: bool,
    solution_objective: float | None,
    greedy_objective: float,
    bounds: dict[str, float],
    time_limit_s: float,
    integral: bool = False,
    greedy_feasible: bool = True,
) -> bool:
    """Record HiGHS's solution or the greedy fallback on ``s``; True if HiGHS's is used.

    HiGHS starts from the greedy solution, so its solution is at least as good; a
    solution worse than a feasible greedy (a start HiGHS refused, then a time limit)
    is not used.
    """
    s.solver_info = {
        "where": run.where,
        "seconds": round(run.seconds, 3),
        "stopped_at_deadline": run.stopped,
        "highs_status": run.status,
        "message": run.message,
    }
    if run.dual_bound is not None and not maximise and integral:
        run.dual_bound = float(np.ceil(run.dual_bound - 1e-6))
    worse = (
        run.solution
        and solution_objective is not None
        and greedy_feasible
        and (
            solution_objective < greedy_objective - 1e-9 * max(1.0, abs(greedy_objective))
            if maximise
            else solution_objective > greedy_objective
        )
    )
    if worse:
        s.notes.append(
            f"HiGHS's solution ({solution_objective:,.3f}) is worse than the lazy greedy's "
            f"({greedy_objective:,.3f}); the greedy solution is used"
        )
    if run.solution and solution_objective is not None and not worse:
        status = "optimal" if run.status == 0 else "time_limit"
        if status == "time_limit":
            s.notes.append(
                "HiGHS stopped at the time limit with a solution it has not proven optimal"
            )
        apply_outcome(
            s, run, maximise=maximise, objective=solution_objective, bounds=bounds, status=status
        )
        return True
    if not worse:
        s.notes.append(fallback_note(run, time_limit_s))
    apply_outcome(
        s, run, maximise=maximise, objective=greedy_objective, bounds=bounds, status="greedy"
    )
    return False
