"""Location models behind :class:`lifecircle.siting.SitingProblem`: MCLP, LSCP, p-median.

Each model reads the siting problem (demand, sparse distances, options), runs a
lazy greedy (CELF), solves the MILP with HiGHS through
:func:`scipy.optimize.milp`, and returns its solution as a :class:`ModelOutcome`
(:meth:`lifecircle.siting.SitingProblem.solve` turns it into the frozen
:class:`lifecircle.siting.SitingSolution`).

**Time limit.** One deadline, taken when :meth:`SitingProblem.solve` starts, budgets every
phase. The greedy always runs to the end (it is the fallback). The MILP is built and
solved in a child process (``fork``) that is killed at the deadline: HiGHS does not
check its time limit during presolve, so an in-process call could overrun it by
minutes. HiGHS itself gets the time left minus a small reserve, so that it can
return its incumbent and dual bound before the deadline. Tiny models
(:data:`IN_PROCESS_MAX_SIZE`) are solved in this process, where HiGHS's own limit
suffices and a process would only add overhead.

**Gaps and bounds.** ``mip_gap = |bound - objective| / max(|bound|, |objective|)``
(0 to 1): for a maximisation, the share of the optimum that the solution may miss
at most; for LSCP (minimise sites), the share of the sites that may be too many.
The bound is the best of the bounds known to be valid: HiGHS's dual bound when
HiGHS returned one, and combinatorial bounds that need no solver (the sum of the
``k`` largest single-site gains; for the submodular models the greedy's
``(1 - 1/e)`` guarantee and the greedy value plus the ``k`` largest gains left
after it). A bound from a relaxation that did not finish is never used.
"""

from __future__ import annotations

import contextlib
import ctypes
import heapq
import logging
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .errors import DataError

if TYPE_CHECKING:
    from .siting import SitingProblem

log = logging.getLogger(__name__)

#: Models with at most this many variables plus constraint non-zeros are solved in
#: this process (HiGHS needs milliseconds; a child process would cost more than that).
IN_PROCESS_MAX_SIZE = 20_000
#: Time kept back from HiGHS's own limit, as a share of the time limit (between the
#: two bounds below, in seconds): HiGHS uses it to stop and return its incumbent
#: before the child process is killed at the deadline.
RESERVE_SHARE, RESERVE_MIN_S, RESERVE_MAX_S = 0.1, 0.05, 2.0
#: HiGHS is not started with less time than this.
MIN_SOLVER_S = 0.01
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


def reserve_s(time_limit_s: float) -> float:
    """Seconds kept back from HiGHS's own time limit (see :data:`RESERVE_SHARE`)."""
    return min(RESERVE_MAX_S, max(RESERVE_MIN_S, RESERVE_SHARE * time_limit_s))


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _call_milp(
    build: Callable[[], Model],
    deadline: float,
    reserve: float,
    mip_rel_gap: float,
    options: dict[str, Any],
) -> SolverRun:
    """Build the model and run HiGHS with the time left before ``deadline``."""
    c, constraints, integrality = build()
    left = deadline - time.monotonic() - reserve
    if left < MIN_SOLVER_S:
        return SolverRun(
            stopped=True, message="no time was left for HiGHS after building the model"
        )
    res = milp(
        c,
        constraints=constraints,
        integrality=integrality,
        bounds=Bounds(0, 1),
        options={**options, "time_limit": left, "mip_rel_gap": mip_rel_gap, "disp": False},
    )
    return SolverRun(
        status=int(res.status),
        x=None if res.x is None else np.asarray(res.x, float),
        fun=_finite(res.fun),
        dual_bound=_finite(getattr(res, "mip_dual_bound", None)),
        message=str(res.message),
    )


def _detach_signals(parent_pid: int) -> None:  # pragma: no cover - in the child process
    """In the solver's child: leave Ctrl-C to the parent, die with it, and on SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops and kills the child
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's clean-up handler
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


def _child(
    conn: Any,
    build: Callable[[], Model],
    *,
    deadline: float,
    reserve: float,
    mip_rel_gap: float,
    options: dict[str, Any],
    parent_pid: int,
) -> None:  # pragma: no cover - in the child
    _detach_signals(parent_pid)
    try:
        out: Any = _call_milp(build, deadline, reserve, mip_rel_gap, options)
    except BaseException:  # noqa: BLE001 - reported to the parent, which raises
        out = ("error", traceback.format_exc())
    conn.send(out)
    conn.close()


def _can_fork() -> bool:
    return "fork" in mp.get_all_start_methods() and not mp.current_process().daemon


def run_milp(
    build: Callable[[], Model],
    *,
    deadline: float,
    time_limit_s: float,
    mip_rel_gap: float,
    size: int,
    options: dict[str, Any] | None = None,
) -> SolverRun:
    """Build and solve a MILP, giving up at ``deadline`` (``time.monotonic()`` seconds).

    Parameters
    ----------
    build
        Returns ``(c, constraints, integrality)``; variables are bounded to [0, 1].
    deadline
        When the whole solve must end.
    time_limit_s
        The solve's time limit (for the reserve kept back from HiGHS).
    mip_rel_gap
        HiGHS's relative gap tolerance.
    size
        Estimated variables plus non-zeros: up to :data:`IN_PROCESS_MAX_SIZE`, or
        where ``fork`` is not available, the model is solved in this process.
    options
        More options of :func:`scipy.optimize.milp` (e.g. ``presolve``).

    Returns
    -------
    SolverRun
        HiGHS's answer, or an empty run with ``stopped=True`` when the child
        process was killed at the deadline.
    """
    t0 = time.monotonic()
    options = dict(options or {})
    reserve = reserve_s(time_limit_s)
    if deadline - t0 - reserve < MIN_SOLVER_S:
        return SolverRun(
            stopped=True, message="the time limit was used up before HiGHS could start"
        )
    if size <= IN_PROCESS_MAX_SIZE or not _can_fork():
        run = _call_milp(build, deadline, reserve, mip_rel_gap, options)
        run.seconds = time.monotonic() - t0
        return run
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child,
        args=(send, build),
        kwargs={
            "deadline": deadline,
            "reserve": reserve,
            "mip_rel_gap": mip_rel_gap,
            "options": options,
            "parent_pid": os.getpid(),
        },
        daemon=True,
        name="lifecircle-highs",
    )
    proc.start()
    send.close()
    out: Any
    try:
        if recv.poll(max(0.0, deadline - time.monotonic())):
            try:
                out = recv.recv()
            except EOFError:
                proc.join(1.0)
                out = SolverRun(
                    message=f"the solver process ended without an answer (exit "
                    f"code {proc.exitcode}, e.g. out of memory)"
                )
        else:
            out = SolverRun(
                stopped=True,
                message="HiGHS had not finished at the deadline "
                "and was stopped (it does not check its "
                "time limit during presolve)",
            )
    finally:
        if proc.is_alive():
            proc.kill()
        proc.join()
        recv.close()
    if isinstance(out, tuple):
        msg = f"the solver process failed:\n{out[1]}"
        raise RuntimeError(msg)
    out.where = "child process"
    out.seconds = time.monotonic() - t0
    return out


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
        bounds["highs"] = -run.dual_bound if maximise else run.dual_bound
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
) -> bool:
    """Record HiGHS's solution or the greedy fallback on ``s``; True if HiGHS's is used."""
    s.solver_info = {
        "where": run.where,
        "seconds": round(run.seconds, 3),
        "stopped_at_deadline": run.stopped,
        "highs_status": run.status,
        "message": run.message,
    }
    if run.dual_bound is not None and not maximise and integral:
        run.dual_bound = float(np.ceil(run.dual_bound - 1e-6))
    if run.solution and solution_objective is not None:
        status = "optimal" if run.status == 0 else "time_limit"
        if status == "time_limit":
            s.notes.append(
                "HiGHS stopped at the time limit with a solution it has not proven optimal"
            )
        apply_outcome(
            s, run, maximise=maximise, objective=solution_objective, bounds=bounds, status=status
        )
        return True
    s.notes.append(fallback_note(run, time_limit_s))
    apply_outcome(
        s, run, maximise=maximise, objective=greedy_objective, bounds=bounds, status="greedy"
    )
    return False


# --------------------------------------------------------------------------- models


class Covering:
    """MCLP / LSCP without capacity, optionally with a per-unit floor.

    Demand is the category's cohort (:attr:`SitingProblem.weights`); existing
    facilities are unlimited and a resident is covered by distance. With a capacity
    the model is :class:`lifecircle._capacitated.CapacitatedCovering`.
    """

    def __init__(
        self,
        s: SitingProblem,
        *,
        sites: int | None,
        target_coverage: float | None,
        min_unit_coverage: float | None,
    ) -> None:
        self.s = s
        self.sites = sites
        d = s.demand
        self.w_all = s.weights
        # only uncovered residents some candidate can reach matter
        within = s.distance.copy()
        within.data = (within.data <= s.threshold_m).astype(float)
        within.eliminate_zeros()
        reach = np.diff(within.indptr) > 0
        self.rows = np.flatnonzero(~d["covered"].to_numpy() & reach)
        self.cover = within[self.rows].tocsr()
        self.w = self.w_all[self.rows]
        self.n_cand = s.distance.shape[1]
        self.need = None
        if target_coverage is not None:
            need = target_coverage * s.demand_total - s.covered_before
            reachable = float(self.w.sum())
            if need > reachable + 1e-6:
                best = (s.covered_before + reachable) / s.demand_total
                msg = (
                    f"--target-coverage {target_coverage:.1%} is out of reach: with every "
                    f"candidate site at most {best:.1%} of the {s.cohort_name} are covered "
                    f"for {s.category}; lower the target or give more --candidates"
                )
                raise DataError(msg)
            self.need = max(need, 0.0)
        self.notes: list[str] = []
        self.floors = self._floors(min_unit_coverage) if min_unit_coverage else []

    def _floors(self, floor: float) -> list[tuple[np.ndarray, float]]:
        s = self.s
        unit = s.demand["unit_id"].to_numpy()
        out, impossible = [], []
        for uid in np.unique(unit):
            in_u = unit == uid
            pop_u = self.w_all[in_u].sum()
            have = self.w_all[in_u & s.demand["covered"].to_numpy()].sum()
            need = floor * pop_u - have
            if need <= 1e-9:
                continue
            rows_u = np.flatnonzero(unit[self.rows] == uid)
            if self.w[rows_u].sum() + 1e-9 < need:
                impossible.append(str(uid))
                continue
            out.append((rows_u, need))
        if impossible:
            self.notes.append(
                f"{len(impossible)} units cannot reach {floor:.0%} coverage even with every "
                f"candidate; their floor is left out: {', '.join(impossible[:20])}"
            )
        return out

    # greedy -------------------------------------------------------------
    def greedy(self) -> tuple[np.ndarray, np.ndarray]:
        """Lazy greedy (CELF); returns selected candidates and covered fraction per row."""
        cover_csc = self.cover.tocsc()
        remaining = np.ones(len(self.rows))  # uncovered fraction
        covered = 0.0

        def gain(j: int) -> float:
            idx = cover_csc.indices[cover_csc.indptr[j] : cover_csc.indptr[j + 1]]
            return float((self.w[idx] * remaining[idx]).sum())

        def take(j: int) -> None:
            nonlocal covered
            idx = cover_csc.indices[cover_csc.indptr[j] : cover_csc.indptr[j + 1]]
            covered += float((self.w[idx] * remaining[idx]).sum())
            remaining[idx] = 0.0

        def done() -> bool:
            return self.need is not None and covered >= self.need - 1e-9

        chosen = lazy_greedy(
            self.n_cand,
            gain,
            take,
            done=done,
            limit=self.sites if self.sites is not None else self.n_cand,
        )
        return np.array(chosen, np.int64), 1.0 - remaining

    # bounds -------------------------------------------------------------
    def bounds(self, g_value: float, g_frac: np.ndarray) -> dict[str, float]:
        """Valid bounds without a solver: upper bounds (MCLP) or lower bounds (LSCP).

        A site newly covers at most the uncovered residents it reaches, so ``k``
        sites cover at most the ``k`` largest such numbers. Coverage is monotone
        submodular, so the greedy value ``g`` also gives ``OPT <= g / (1 - 1/e)``
        and ``OPT <= g + the k largest gains left after the greedy``.
        """
        single = np.asarray(self.cover.T @ self.w).ravel()
        if self.sites is None:
            assert self.need is not None  # set covering: a share to reach
            return {"fewest_by_gains": float(fewest_for(single, self.need))}
        k = min(self.sites, self.n_cand)
        left = np.asarray(self.cover.T @ (self.w * (1.0 - g_frac))).ravel()
        return {
            "top_gains": top_k_sum(single, k),
            "reachable": float(self.w.sum()),
            "greedy_guarantee": g_value / GREEDY_FACTOR,
            "greedy_plus_gains": g_value + top_k_sum(left, k),
        }

    # MILP ---------------------------------------------------------------
    def size(self) -> int:
        """Estimated variables plus constraint non-zeros of the MILP."""
        m, k, nnz = self.n_cand, len(self.rows), self.cover.nnz
        floors = sum(len(r) for r, _ in self.floors)
        return 2 * m + 4 * k + nnz + floors

    def _build(self, greedy_value: float | None) -> Model:
        m, k = self.n_cand, len(self.rows)
        # variables: x (m binary), z (k continuous)
        n_var = m + k
        a_link = sp.hstack([-self.cover, sp.identity(k)]).tocsr()  # z - A x <= 0
        served = sp.hstack([sp.csr_matrix((1, m)), sp.csr_matrix(self.w[None, :])])

        def rows_for(rows_u: np.ndarray) -> sp.spmatrix:
            """The residents of ``rows_u`` covered, as a constraint row."""
            picked = (self.w[rows_u], (np.zeros(len(rows_u)), rows_u))
            return sp.hstack([sp.csr_matrix((1, m)), sp.csr_matrix(picked, shape=(1, k))])

        cons = [LinearConstraint(a_link, -np.inf, 0.0)]
        count = sp.hstack([sp.csr_matrix(np.ones((1, m))), sp.csr_matrix((1, n_var - m))])
        if self.sites is not None:
            cons.append(LinearConstraint(count, 0, self.sites))
            c = -served.toarray().ravel()
        else:
            cons.append(LinearConstraint(served, self.need, np.inf))
            c = count.toarray().ravel()
        for rows_u, need in self.floors:
            cons.append(LinearConstraint(rows_for(rows_u), need, np.inf))
        if greedy_value is not None and self.sites is not None:
            cons.append(LinearConstraint(served, greedy_value * (1 - 1e-9), np.inf))
        integrality = np.r_[np.ones(m), np.zeros(n_var - m)]
        return c, cons, integrality

    def solve(self, *, deadline: float, time_limit_s: float, mip_rel_gap: float) -> ModelOutcome:
        """Greedy, then the MILP until ``deadline``; returns the solution found."""
        s = ModelOutcome(notes=list(self.notes))
        g_sel, g_frac = self.greedy()
        g_value = float((self.w * g_frac).sum())
        greedy_ok = not self.floors and (self.need is None or g_value >= self.need - 1e-6)
        s.greedy_objective = round(g_value if self.sites is not None else float(len(g_sel)), 3)
        if len(self.rows) == 0:
            s.selected, s.status, s.mip_gap, s.objective = g_sel, "optimal", 0.0, 0.0
            s.bound, s.bound_source = 0.0, "exact"
            s.notes.append("no uncovered resident can be reached by any candidate")
            self._finish(s, np.empty(0, np.int64), np.zeros(0))
            return s
        bounds = self.bounds(g_value, g_frac)
        maximise = self.sites is not None
        run = run_milp(
            lambda: self._build(g_value if greedy_ok else None),
            deadline=deadline,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
            size=self.size(),
        )
        if run.status == 2 and (self.floors or not maximise):
            if self.floors:
                msg = (
                    "the fairness floor (--min-unit-coverage) cannot be met with "
                    f"{self.sites if maximise else 'the candidate'} sites; allow more "
                    "sites or lower the floor"
                )
            else:
                msg = (
                    "no choice of candidate sites reaches --target-coverage; lower "
                    "the target or give more --candidates"
                )
            raise DataError(msg)
        if not run.solution and not greedy_ok:
            what = (
                "the fairness floor (--min-unit-coverage)" if self.floors else "--target-coverage"
            )
            msg = (
                f"HiGHS found no solution within --time-limit {time_limit_s:g} s "
                f"({run.message}), and the greedy solution does not meet {what}; raise "
                "--time-limit, or relax the request"
            )
            raise DataError(msg)
        solution_objective = None
        if run.solution and run.fun is not None:
            solution_objective = -run.fun if maximise else run.fun
        used = apply_greedy_or_solution(
            s,
            run,
            maximise=maximise,
            solution_objective=solution_objective,
            greedy_objective=g_value if maximise else float(len(g_sel)),
            bounds=bounds,
            time_limit_s=time_limit_s,
            integral=not maximise,
        )
        if used:
            assert run.x is not None  # a solution was used
            sel = np.flatnonzero(run.x[: self.n_cand] > 0.5)
            hit = np.asarray(self.cover[:, sel].sum(axis=1)).ravel() > 0
            frac = hit.astype(float)
        else:
            sel, frac = g_sel, g_frac
        self._finish(s, sel, frac)
        return s

    def _finish(self, s: ModelOutcome, sel: np.ndarray, frac_rows: np.ndarray) -> None:
        p = self.s
        s.selected = np.sort(sel)
        newly = np.zeros(len(p.demand))
        newly[self.rows] = frac_rows
        s.newly = newly
        s.served_by = nearest_selected(p.distance, s.selected, newly > 1e-12)
        s.site_served = served_per_site(p, s)


class PMedian:
    """Minimise total walking distance to the nearest facility, existing or new."""

    def __init__(self, s: SitingProblem, sites: int) -> None:
        self.s, self.sites = s, sites
        d = s.demand
        self.w = s.weights
        self.d0 = np.nan_to_num(d["dist_m"].to_numpy(float), nan=s.radius_m)
        coo = s.distance.tocoo()
        better = coo.data < self.d0[coo.row] - 1e-9
        self.row, self.col, self.dist = coo.row[better], coo.col[better], coo.data[better]
        self.n_cand = s.distance.shape[1]

    def _best(self, selected: np.ndarray) -> np.ndarray:
        best = self.d0.copy()
        pick = np.isin(self.col, selected)
        np.fmin.at(best, self.row[pick], self.dist[pick])
        return best

    def _saving(self, selected: np.ndarray) -> float:
        return float((self.w * (self.d0 - self._best(selected))).sum())

    def greedy(self) -> np.ndarray:
        """Lazy greedy (CELF) on the distance saved; returns the selected candidates."""
        current = self.d0.copy()
        by_col = np.argsort(self.col, kind="stable")
        starts = np.searchsorted(self.col[by_col], np.arange(self.n_cand + 1))

        def gain(j: int) -> float:
            idx = by_col[starts[j] : starts[j + 1]]
            r = self.row[idx]
            return float((self.w[r] * np.maximum(current[r] - self.dist[idx], 0)).sum())

        def take(j: int) -> None:
            idx = by_col[starts[j] : starts[j + 1]]
            np.fmin.at(current, self.row[idx], self.dist[idx])

        chosen = lazy_greedy(self.n_cand, gain, take, limit=self.sites)
        return np.array(chosen, np.int64)

    def bounds(self, g_sel: np.ndarray, g_value: float) -> dict[str, float]:
        """Valid upper bounds on the distance saved (a monotone submodular function)."""
        k = min(self.sites, self.n_cand)
        wr = self.w[self.row]
        single = np.bincount(
            self.col, weights=wr * (self.d0[self.row] - self.dist), minlength=self.n_cand
        )
        best = self._best(g_sel)
        left = np.bincount(
            self.col,
            weights=wr * np.maximum(best[self.row] - self.dist, 0.0),
            minlength=self.n_cand,
        )
        return {
            "top_gains": top_k_sum(single, k),
            "greedy_guarantee": g_value / GREEDY_FACTOR,
            "greedy_plus_gains": g_value + top_k_sum(left, k),
        }

    def _build(self, g_value: float) -> Model:
        m, p = self.n_cand, len(self.row)
        # maximise saving: sum w_i (d0_i - d_ij) y_ij
        c = np.r_[np.zeros(m), -(self.w[self.row] * (self.d0[self.row] - self.dist))]
        one_each = sp.csr_matrix((np.ones(p), (self.row, np.arange(p))), shape=(len(self.w), p))
        link = sp.hstack(
            [-sp.csr_matrix((np.ones(p), (np.arange(p), self.col)), shape=(p, m)), sp.identity(p)]
        )
        cons = [
            LinearConstraint(sp.hstack([sp.csr_matrix((len(self.w), m)), one_each]), -np.inf, 1),
            LinearConstraint(link, -np.inf, 0),
            LinearConstraint(np.r_[np.ones(m), np.zeros(p)][None, :], 0, self.sites),
            LinearConstraint(-c[None, :], g_value * (1 - 1e-9), np.inf),
        ]
        return c, cons, np.r_[np.ones(m), np.zeros(p)]

    def solve(self, *, deadline: float, time_limit_s: float, mip_rel_gap: float) -> ModelOutcome:
        """Greedy, then the MILP until ``deadline``; returns the solution found."""
        prob, m, p = self.s, self.n_cand, len(self.row)
        s = ModelOutcome()
        g_sel = self.greedy()
        g_value = self._saving(g_sel)
        s.greedy_objective = round(g_value, 3)
        bounds = self.bounds(g_sel, g_value)
        # HiGHS's presolve is what takes long on this model (on the sample, 300
        # candidates: 16.8 s to optimal without it, > 40 s in presolve with it)
        run = run_milp(
            lambda: self._build(g_value),
            deadline=deadline,
            time_limit_s=time_limit_s,
            mip_rel_gap=mip_rel_gap,
            size=2 * m + 6 * p + len(self.w),
            options={"presolve": False},
        )
        used = apply_greedy_or_solution(
            s,
            run,
            maximise=True,
            solution_objective=None if run.fun is None else -run.fun,
            greedy_objective=g_value,
            bounds=bounds,
            time_limit_s=time_limit_s,
        )
        sel = np.flatnonzero(run.x[:m] > 0.5) if used and run.x is not None else g_sel
        s.selected = np.sort(sel)
        new = prob.new_distance(s.selected)
        s.newly = ((new <= prob.threshold_m) & ~prob.demand["covered"].to_numpy()).astype(float)
        s.served_by = nearest_selected(prob.distance, s.selected, new < self.d0)
        s.site_served = served_per_site(prob, s, all_residents=True)
        s.notes.append(
            f"distances capped at {prob.radius_m:.0f} m (the search cut-off); "
            "objective = total person-metres saved"
        )
        return s


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
