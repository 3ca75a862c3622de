"""Location models behind :class:`lifecircle.siting.SitingProblem`: MCLP, LSCP, p-median.

Each model reads the siting problem (demand, sparse distances, options), runs a
lazy greedy (CELF), solves the MILP with HiGHS through highspy (:func:`milp`: one
sparse column-wise model, the greedy solution handed over as HiGHS's first
incumbent with ``setSolution``, never as a row bounding the objective, which made
HiGHS's presolve stall), and returns its solution as a :class:`ModelOutcome`
(:meth:`lifecircle.siting.SitingProblem.solve` turns it into the frozen
:class:`lifecircle.siting.SitingSolution`).

This module runs the MILPs (:func:`run_milp`, in a child process) and re-exports
the rest: the models :class:`Covering` and :class:`PMedian`
(:mod:`lifecircle._models_uncapacitated`; with a capacity
:mod:`lifecircle._capacitated`), the greedy, run records, bounds and gaps
(:mod:`lifecircle._models_bounds`) and what the selected sites serve and their
ranking (:mod:`lifecircle._models_sites`).

**Time limit.** One deadline, taken when :meth:`SitingProblem.solve` starts, budgets every
phase of the solve, p-median included: greedy, exact reductions, model building and
HiGHS. Candidate generation and the coverage matrix are built before, by
:meth:`SitingProblem.from_audit`, and are not in it (``--time-limit`` bounds the
optimisation, not the problem's construction). The greedy always runs to the end (it
is the fallback). The MILP is built and
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
after it). A bound from a relaxation that did not finish is never used, nor a HiGHS
dual bound below a known solution's value; after a time limit the status is
``time_limit`` (HiGHS's incumbent, at least the greedy start) or ``greedy``, never
``optimal``.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import multiprocessing as mp
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, OptimizeResult

# The models and their building blocks live in the modules below; their names are
# re-exported here, where the optimizer and the tests have always imported them.
from ._models_bounds import BOUND_TEXT as BOUND_TEXT
from ._models_bounds import GREEDY_FACTOR as GREEDY_FACTOR
from ._models_bounds import Model as Model
from ._models_bounds import ModelOutcome as ModelOutcome
from ._models_bounds import SolverRun as SolverRun
from ._models_bounds import apply_greedy_or_solution as apply_greedy_or_solution
from ._models_bounds import apply_outcome as apply_outcome
from ._models_bounds import best_upper as best_upper
from ._models_bounds import fallback_note as fallback_note
from ._models_bounds import fewest_for as fewest_for
from ._models_bounds import lazy_greedy as lazy_greedy
from ._models_bounds import relative_gap as relative_gap
from ._models_bounds import top_k_sum as top_k_sum
from ._models_sites import Sites as Sites
from ._models_sites import nearest_selected as nearest_selected
from ._models_sites import rank_sites as rank_sites
from ._models_sites import served_per_site as served_per_site
from ._models_uncapacitated import Covering as Covering
from ._models_uncapacitated import PMedian as PMedian

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


def reserve_s(time_limit_s: float) -> float:
    """Seconds kept back from HiGHS's own time limit (see :data:`RESERVE_SHARE`)."""
    return min(RESERVE_MAX_S, max(RESERVE_MIN_S, RESERVE_SHARE * time_limit_s))


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


#: HiGHS's model status -> the status codes of :func:`scipy.optimize.milp`, which the
#: models test (0 optimal, 1 a limit reached, 2 infeasible, 3 unbounded, 4 other).
_STATUS = {
    "kOptimal": 0,
    "kTimeLimit": 1,
    "kIterationLimit": 1,
    "kSolutionLimit": 1,
    "kInterrupt": 1,
    "kHighsInterrupt": 1,
    "kMemoryLimit": 1,
    "kObjectiveBound": 1,
    "kObjectiveTarget": 1,
    "kInfeasible": 2,
    "kUnbounded": 3,
    "kUnboundedOrInfeasible": 3,
}


def _stacked(constraints: list[LinearConstraint], n_var: int) -> tuple[sp.csc_matrix, Any, Any]:
    """The rows of ``constraints`` as one sparse CSC matrix, with their lower/upper sides."""
    if not constraints:
        return sp.csc_matrix((0, n_var)), np.zeros(0), np.zeros(0)
    mats, lo, up = [], [], []
    for con in constraints:
        a = sp.csr_matrix(con.A)  # dense rows (a few) are made sparse here, row by row
        mats.append(a)
        lo.append(np.broadcast_to(np.asarray(con.lb, float), (a.shape[0],)))
        up.append(np.broadcast_to(np.asarray(con.ub, float), (a.shape[0],)))
    a = sp.vstack(mats, format="csc")
    a.sum_duplicates()
    return a, np.concatenate(lo), np.concatenate(up)


def milp(
    c: np.ndarray,
    *,
    constraints: list[LinearConstraint],
    integrality: np.ndarray,
    bounds: Bounds | None = None,
    options: dict[str, Any] | None = None,
    start: np.ndarray | None = None,
) -> OptimizeResult:
    """Minimise ``c @ x`` with HiGHS (highspy), answering as :func:`scipy.optimize.milp`.

    The model goes to HiGHS as one sparse column-wise matrix (no dense copy).
    ``start``, a full vector of values (integer and continuous variables), is
    handed to HiGHS as its first incumbent (``setSolution``): HiGHS checks it and
    keeps it if it is feasible, and its bound and search start from there. The
    answer has scipy's fields: ``status`` (0 optimal, 1 a limit was reached, 2
    infeasible, 3 unbounded, 4 other), ``x`` (None without a feasible solution),
    ``fun``, ``mip_dual_bound`` (HiGHS's dual bound; infinite when it has none),
    ``mip_gap`` and ``message``.

    Parameters
    ----------
    c
        Objective coefficients (minimised).
    constraints
        Linear constraints (sparse or dense ``A``, broadcast ``lb``/``ub``).
    integrality
        1 for an integer variable, 0 for a continuous one.
    bounds
        Variable bounds; default ``[0, inf)``, as in scipy.
    options
        scipy's option names (``time_limit``, ``mip_rel_gap``, ``presolve``,
        ``disp``, ``node_limit``) or HiGHS's own.
    start
        A starting solution, one value per variable.

    Returns
    -------
    scipy.optimize.OptimizeResult
    """
    import highspy

    c = np.asarray(c, float)
    n = c.size
    a, row_lo, row_up = _stacked(constraints, n)
    if bounds is None:
        lo, up = np.zeros(n), np.full(n, np.inf)
    else:
        lo = np.broadcast_to(np.asarray(bounds.lb, float), (n,)).copy()
        up = np.broadcast_to(np.asarray(bounds.ub, float), (n,)).copy()
    # the plain solver (no banner on stdout, no Python log callbacks); highspy's
    # Python class where an old highspy does not export it
    h = getattr(highspy, "_Highs", highspy.Highs)()
    h.setOptionValue("output_flag", False)
    for key, value in (options or {}).items():
        if key == "disp":
            h.setOptionValue("output_flag", bool(value))
        elif key == "presolve":
            h.setOptionValue("presolve", "on" if value else "off")
        elif key == "node_limit":
            h.setOptionValue("mip_max_nodes", int(value))
        else:
            h.setOptionValue(key, float(value) if isinstance(value, float) else value)
    a_status = h.passModel(
        n,
        a.shape[0],
        a.nnz,
        int(highspy.MatrixFormat.kColwise),
        int(highspy.ObjSense.kMinimize),
        0.0,
        c,
        lo,
        up,
        row_lo.astype(float),
        row_up.astype(float),
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(float),
        np.asarray(integrality, np.int32),
    )
    if a_status == highspy.HighsStatus.kError:
        return OptimizeResult(
            status=4, x=None, fun=None, mip_dual_bound=None, mip_gap=None, success=False,
            message="HiGHS refused the model",
        )  # fmt: skip
    if start is not None:
        sol = highspy.HighsSolution()
        sol.col_value = np.asarray(start, float).tolist()
        sol.value_valid = True
        h.setSolution(sol)
    try:
        h.run()
    finally:
        # HiGHS keeps worker threads for the process; a child forked later (run_milp)
        # would inherit a scheduler without its threads and wait for them forever
        reset = getattr(type(h), "resetGlobalScheduler", None)
        if reset is not None:
            reset(True)
    model_status = h.getModelStatus()
    info = h.getInfo()
    status = _STATUS.get(model_status.name, 4)
    feasible = int(info.primal_solution_status) == int(
        highspy.SolutionStatus.kSolutionStatusFeasible
    )
    x = np.asarray(h.getSolution().col_value, float) if feasible and status in (0, 1) else None
    return OptimizeResult(
        status=status,
        x=x,
        fun=float(info.objective_function_value) if x is not None else None,
        mip_dual_bound=float(info.mip_dual_bound),
        mip_gap=float(info.mip_gap),
        success=status == 0,
        message=f"HiGHS: {h.modelStatusToString(model_status)}",
    )


def _call_milp(
    build: Callable[[], Model],
    deadline: float,
    reserve: float,
    mip_rel_gap: float,
    options: dict[str, Any],
    *,
    start: np.ndarray | None = None,
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
        start=start,
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
    start: np.ndarray | None,
) -> None:  # pragma: no cover - in the child
    _detach_signals(parent_pid)
    try:
        out: Any = _call_milp(build, deadline, reserve, mip_rel_gap, options, start=start)
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
    start: np.ndarray | None = None,
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
        More options, with the names of :func:`scipy.optimize.milp` (e.g.
        ``presolve``) or HiGHS's own.
    start
        A feasible solution (every variable, integer and continuous) that HiGHS
        starts from as its incumbent (see :func:`milp`); the model never holds a
        row bounding the objective by it (such a row stalls HiGHS's presolve).

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
        run = _call_milp(build, deadline, reserve, mip_rel_gap, options, start=start)
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
            "start": start,
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
