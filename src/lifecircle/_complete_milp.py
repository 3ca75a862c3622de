"""The MILPs of :mod:`lifecircle.complete_siting` (models: :mod:`lifecircle._complete_models`).

:func:`solve_model` runs the greedy, builds the sparse MILP of the objective (no
loop over origins: one block of link rows per category), solves it with
:func:`lifecircle._location_models.run_milp` until the deadline, and settles
status, objective, bound and gap. The objective is always recomputed exactly from
the chosen sites; the bound is the smallest of HiGHS's dual bound and the
combinatorial bounds (everything the candidates could make complete; for
``coverage`` also :func:`lifecircle._complete_models.category_gains_bound`), never
the greedy's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import LinearConstraint

from ._complete_models import (
    Budget,
    Goal,
    Instance,
    Reduced,
    category_gains_bound,
    combinatorial_bound,
    complete_after,
    decile_size,
    figures,
    greedy,
    value_of,
)
from ._models_bounds import Model, SolverRun, relative_gap

#: Slack on the max-min optimum when the second MILP maximises coverage at it.
TIE_TOL = 1e-9

BOUND_TEXT = {
    "highs": "HiGHS's dual bound",
    "reachable": "everything the candidates could make complete",
    "category_gains": "per category, the demand not missing it plus its largest single-site "
    "reaches (the least over the categories)",
}


# --------------------------------------------------------------------------- MILP


@dataclass
class Layout:
    """Where the variables of the MILP are: sites, groups, extras."""

    site_col: np.ndarray  # per site variable: candidate
    site_cat: np.ndarray  # per site variable: category (-1: a complex, every category)
    n_site: int
    n_groups: int
    units: np.ndarray  # units with a row (maxmin, fair): those the candidates can change

    @property
    def z0(self) -> int:
        """First group variable."""
        return self.n_site


def layout(red: Reduced, budget: Budget, objective: str) -> Layout:
    """The MILP's variables: useful (candidate, category) pairs, or complexes."""
    active = [np.flatnonzero(np.diff(r.tocsc().indptr) > 0) for r in red.reach]
    if budget.complex:
        cols = np.unique(np.concatenate(active)) if active else np.zeros(0, np.int64)
        site_col, site_cat = cols, np.full(len(cols), -1)
    else:
        site_col = np.concatenate(active)
        site_cat = np.concatenate([np.full(len(a), c) for c, a in enumerate(active)])
    units = red.free_units  # maxmin and fair: the units the candidates can change
    return Layout(site_col, site_cat, len(site_col), red.n_groups, units)


def build_model(
    red: Reduced,
    lay: Layout,
    budget: Budget,
    goal: Goal,
    *,
    hold_t: float | None = None,
) -> Model:
    """The MILP (minimise ``c @ v``), variables bounded to [0, 1]; no loop over origins.

    ``hold_t``: the tie-break, maximise coverage with the objective held at ``hold_t``
    (max-min: ``t >= hold_t``; fair: its objective, without the constant, ``>= hold_t``).
    """
    inst, objective, lam = red.inst, goal.objective, goal.lam
    p, g = lay.n_site, lay.n_groups
    n_extra = {"coverage": 0, "maxmin": 1, "fair": 1 + len(lay.units)}[objective]
    n_var = p + g + n_extra
    rows, cols, vals = [], [], []
    n_rows = 0
    for c, reach in enumerate(red.reach):
        miss = np.flatnonzero(red.missing[:, c])
        site = np.flatnonzero((lay.site_cat == c) | (lay.site_cat == -1))
        sub = reach[miss][:, lay.site_col[site]].tocoo()
        rows += [n_rows + sub.row, n_rows + np.arange(len(miss))]
        cols += [site[sub.col], p + miss]
        vals += [-np.ones(sub.nnz), np.ones(len(miss))]
        n_rows += len(miss)
    link = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_rows, n_var)
    )
    cons = [LinearConstraint(link, -np.inf, 0.0)]
    cons += _budget_rows(lay, budget, n_var)
    c_vec = np.zeros(n_var)
    total = float(inst.weight.sum()) or 1.0
    u_of = np.searchsorted(lay.units, red.unit)
    in_rows = np.isin(red.unit, lay.units)
    share = sp.csr_matrix(
        (red.w[in_rows], (u_of[in_rows], p + np.flatnonzero(in_rows))),
        shape=(len(lay.units), n_var),
    )
    demand_u = red.unit_demand[lay.units]
    before_u = red.unit_before[lay.units]
    if objective == "coverage":
        c_vec[p : p + g] = -red.w
    elif objective == "maxmin":
        t = sp.csr_matrix(
            (demand_u, (np.arange(len(lay.units)), np.full(len(lay.units), n_var - 1))),
            shape=share.shape,
        )
        cons.append(LinearConstraint(t - share, -np.inf, before_u))
        if hold_t is None:
            c_vec[-1] = -1.0
        else:
            c_vec[p : p + g] = -red.w
            cons.append(LinearConstraint(_unit_row(n_var, n_var - 1), hold_t - TIE_TOL, np.inf))
    else:
        k = decile_size(len(lay.units))
        eta, d0 = p + g, p + g + 1
        nu = len(lay.units)
        extra = sp.csr_matrix(
            (
                np.r_[np.ones(nu), -np.ones(nu)],
                (np.r_[np.arange(nu), np.arange(nu)], np.r_[np.full(nu, eta), d0 + np.arange(nu)]),
            ),
            shape=share.shape,
        )
        cons.append(
            LinearConstraint(extra - sp.diags(1.0 / demand_u) @ share, -np.inf, before_u / demand_u)
        )
        c_vec[p : p + g] = -(1 - lam) * red.w / total
        c_vec[eta] = -lam
        c_vec[d0:] = lam / k
        if hold_t is not None:
            held = sp.csr_matrix(-c_vec[None, :])
            cons.append(LinearConstraint(held, hold_t - TIE_TOL, np.inf))
            c_vec = np.zeros(n_var)
            c_vec[p : p + g] = -red.w
    integrality = np.r_[np.ones(p), np.zeros(n_var - p)]
    return c_vec, cons, integrality


def _unit_row(n_var: int, j: int) -> sp.csr_matrix:
    return sp.csr_matrix(([1.0], ([0], [j])), shape=(1, n_var))


def _budget_rows(lay: Layout, budget: Budget, n_var: int) -> list[LinearConstraint]:
    p = lay.n_site
    if budget.per_category is None:
        row = sp.csr_matrix((np.ones(p), (np.zeros(p), np.arange(p))), shape=(1, n_var))
        return [LinearConstraint(row, 0, budget.total)]
    per = np.asarray(budget.per_category, float)
    mat = sp.csr_matrix((np.ones(p), (lay.site_cat, np.arange(p))), shape=(len(per), n_var))
    return [LinearConstraint(mat, 0, per)]


def model_size(red: Reduced, lay: Layout) -> int:
    """Variables plus constraint non-zeros (estimate), for :func:`run_milp`'s ``size``."""
    nnz = sum(r.nnz for r in red.reach)
    return 2 * lay.n_site + 3 * lay.n_groups + 2 * nnz + 3 * len(lay.units)


def hosts_from(x: np.ndarray, lay: Layout, inst: Instance) -> np.ndarray:
    """The ``m x C`` sites of a MILP solution vector."""
    hosts = np.zeros((inst.n_cand, inst.n_cat), bool)
    on = np.asarray(x[: lay.n_site]) > 0.5
    cols, cats = lay.site_col[on], lay.site_cat[on]
    every = cats == -1
    hosts[cols[every], :] = True
    hosts[cols[~every], cats[~every]] = True
    return hosts


def start_vector(red: Reduced, lay: Layout, hosts: np.ndarray, goal: Goal) -> np.ndarray:
    """A feasible start for the MILP from ``hosts`` (e.g. the greedy's), for HiGHS."""
    inst = red.inst
    on = np.where(lay.site_cat == -1, hosts[lay.site_col].all(axis=1), False)
    some = lay.site_cat >= 0
    on[some] = hosts[lay.site_col[some], lay.site_cat[some]]
    comp = complete_after(inst, hosts)
    z = np.zeros(red.n_groups)
    hit = red.origin_group >= 0
    z[red.origin_group[hit]] = comp[hit]
    fig = figures(red, comp, goal.lam)
    if goal.objective == "coverage":
        extra = np.zeros(0)
    elif goal.objective == "maxmin":
        extra = np.array([fig.maxmin or 0.0])
    else:
        s_u = fig.unit_share[lay.units]
        eta = float(np.sort(s_u)[decile_size(len(s_u)) - 1]) if len(s_u) else 0.0
        extra = np.r_[eta, np.maximum(eta - s_u, 0.0)]
    return np.r_[on.astype(float), z, extra]


@dataclass
class Outcome:
    """What a complete-siting model found."""

    hosts: np.ndarray
    status: str
    objective: float
    bound: float | None
    bound_source: str | None
    mip_gap: float | None
    greedy_objective: float
    notes: list[str] = field(default_factory=list)
    solver_info: dict[str, Any] = field(default_factory=dict)


def solver_info(run: SolverRun) -> dict[str, Any]:
    """HiGHS's run, for ``optimize.json``."""
    return {
        "where": run.where,
        "seconds": round(run.seconds, 3),
        "stopped_at_deadline": run.stopped,
        "highs_status": run.status,
        "message": run.message,
    }


def settle(
    *,
    hosts: np.ndarray,
    value: float,
    fallback: tuple[np.ndarray, float],
    run: SolverRun | None,
    dual: float | None,
    comb: dict[str, float],
    notes: list[str],
) -> Outcome:
    """Status, bound and gap from the MILP's answer (or the greedy fallback)."""
    greedy_hosts, greedy_value = fallback
    bounds = dict(comb)
    if dual is not None:
        bounds["highs"] = dual
    source = min(bounds, key=lambda key: bounds[key])
    bound = bounds[source]
    if run is not None and run.solution:
        status = "optimal" if run.status == 0 else "time_limit"
        if status == "time_limit":
            notes.append(
                "HiGHS stopped at the time limit with a solution it has not proven optimal"
            )
        if value < greedy_value - 1e-9:
            notes.append("the greedy solution is better than HiGHS's incumbent and is used")
            hosts, value, status = greedy_hosts, greedy_value, "greedy"
    else:
        why = "no MILP was solved" if run is None else (run.message or "no solution")
        notes.append(f"HiGHS returned no solution ({why}); the greedy solution is used")
        hosts, value, status = greedy_hosts, greedy_value, "greedy"
    bound = max(bound, value)  # HiGHS's bound is valid up to its tolerances
    gap = relative_gap(value, bound)
    if status != "optimal":
        notes.append(
            f"bound {bound:,.6g} from {BOUND_TEXT[source]}; mip_gap {gap} = "
            "|bound - objective| / max(|bound|, |objective|)"
        )
    return Outcome(
        hosts=hosts,
        status=status,
        objective=round(value, 6),
        bound=round(bound, 6),
        bound_source=source,
        mip_gap=gap,
        greedy_objective=round(greedy_value, 6),
        notes=notes,
        solver_info={} if run is None else solver_info(run),
    )


def solve_model(
    red: Reduced,
    budget: Budget,
    goal: Goal,
    *,
    deadline: float,
    time_limit_s: float,
    mip_rel_gap: float,
) -> Outcome:
    """Greedy, then the MILP (two for ``maxmin``) until ``deadline``; the best found."""
    from ._location_models import run_milp  # imports the models (an import cycle at the top)

    inst = red.inst
    notes = list(red.notes)
    g_hosts = greedy(red, budget, goal)
    g_value = value_of(red, g_hosts, goal)
    if goal.objective != "coverage":  # the equity greedies are myopic: keep the better start
        alt = greedy(red, budget, Goal("coverage", goal.lam))
        alt_value = value_of(red, alt, goal)
        if alt_value > g_value:
            g_hosts, g_value = alt, alt_value
    comb = {"reachable": combinatorial_bound(red, goal)}
    if goal.objective == "coverage":
        comb["category_gains"] = category_gains_bound(red, budget)
    if red.n_groups == 0:
        notes.append("no origin can be made complete by any candidate")
        return settle(
            hosts=g_hosts,
            value=g_value,
            fallback=(g_hosts, g_value),
            run=SolverRun(status=0, x=np.zeros(0), message="nothing to solve"),
            dual=None,
            comb=comb,
            notes=notes,
        )
    lay = layout(red, budget, goal.objective)
    run = run_milp(
        lambda: build_model(red, lay, budget, goal),
        deadline=deadline,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        size=model_size(red, lay),
        start=start_vector(red, lay, g_hosts, goal),  # the greedy, as HiGHS's first incumbent
    )
    before = float((inst.weight * red.complete0).sum() / (inst.weight.sum() or 1.0))
    dual = None
    if run.dual_bound is not None:
        dual = -run.dual_bound + ((1 - goal.lam) * before if goal.objective == "fair" else 0.0)
    hosts, value = g_hosts, g_value
    if run.solution and run.x is not None:
        hosts = hosts_from(run.x, lay, inst)
        value = value_of(red, hosts, goal)
        lexicographic = goal.objective == "maxmin" or (goal.objective == "fair" and goal.lam >= 1)
        if lexicographic and run.status == 0:
            hosts, value = _tie_break(
                red,
                lay,
                budget,
                goal,
                (hosts, value),
                deadline=deadline,
                time_limit_s=time_limit_s,
                mip_rel_gap=mip_rel_gap,
                notes=notes,
            )
    out = settle(
        hosts=hosts,
        value=value,
        fallback=(g_hosts, g_value),
        run=run,
        dual=dual,
        comb=comb,
        notes=notes,
    )
    out.solver_info["groups"] = red.n_groups
    out.solver_info["site_variables"] = lay.n_site
    out.solver_info["origins_merged"] = red.merged
    return out


def _tie_break(
    red: Reduced,
    lay: Layout,
    budget: Budget,
    goal: Goal,
    best: tuple[np.ndarray, float],
    *,
    deadline: float,
    time_limit_s: float,
    mip_rel_gap: float,
    notes: list[str],
) -> tuple[np.ndarray, float]:
    """The most complete demand among the sites that keep the objective at its optimum.

    For max-min (``t``) and for ``fair`` with weight 1 (the worst decile only), whose
    optima leave coverage free.
    """
    from ._location_models import run_milp

    hosts, t_best = best
    what = "max-min" if goal.objective == "maxmin" else "fair (weight 1)"
    run = run_milp(
        lambda: build_model(red, lay, budget, goal, hold_t=t_best),
        deadline=deadline,
        time_limit_s=time_limit_s,
        mip_rel_gap=mip_rel_gap,
        size=model_size(red, lay),
    )
    if run.solution and run.x is not None:
        alt = hosts_from(run.x, lay, red.inst)
        value = value_of(red, alt, goal)
        if value >= t_best - 1e-7:
            if run.status != 0:
                notes.append(f"{what} ties broken by coverage without proof of optimality")
            return alt, float(value)
    notes.append(f"{what} ties were not broken by coverage (no time left)")
    return hosts, t_best
