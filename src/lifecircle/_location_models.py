"""Location models behind :class:`lifecircle.siting.SitingProblem`: MCLP, LSCP, p-median.

Each model reads the siting problem (demand, sparse distances, options), runs a
lazy greedy (CELF), solves the MILP with HiGHS through
:func:`scipy.optimize.milp`, and returns its solution as a :class:`ModelOutcome`
(:meth:`lifecircle.siting.SitingProblem.solve` turns it into the frozen
:class:`lifecircle.siting.SitingSolution`).

This module runs the MILPs (:func:`run_milp`, in a child process) and re-exports
the rest: the models :class:`Covering` and :class:`PMedian`
(:mod:`lifecircle._models_uncapacitated`; with a capacity
:mod:`lifecircle._capacitated`), the greedy, run records, bounds and gaps
(:mod:`lifecircle._models_bounds`) and what the selected sites serve and their
ranking (:mod:`lifecircle._models_sites`).

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
from scipy.optimize import Bounds, milp

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
