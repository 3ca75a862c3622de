"""The solved complete siting: :class:`CompleteSitingSolution` and ``optimize.json``.

What :meth:`lifecircle.complete_siting.CompleteSitingProblem.solve` returns: the new
sites and what each hosts, the solver's figures, the comparisons, and the outputs
(``proposals.geojson``, ``units_after.gpkg``, ``optimize.json``). Import it from
:mod:`lifecircle.complete_siting`.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from . import _complete_models as cm
from . import columns
from ._siting_outputs import GAP_DEFINITION, siting_writers, write_siting
from .coverage import citywide, coverage_by_unit, rollup_sums

if TYPE_CHECKING:
    from .complete_siting import CompleteSitingProblem

#: The files :meth:`CompleteSitingSolution.write` writes, in order.
OUTPUT_FILES = ("proposals.geojson", "units_after.gpkg", "optimize.json")


# --------------------------------------------------------------------------- the solution


@dataclass(frozen=True, eq=False)
class CompleteSitingSolution:
    """A solved complete siting (immutable): what :meth:`CompleteSitingProblem.solve` returns.

    Attributes
    ----------
    problem
        The problem solved.
    model
        ``joint`` (sites host some of the categories) or ``complex`` (every one).
    options
        ``sites``, ``complex``, ``objective``, ``fairness_weight``, ``time_limit_s``.
    status, objective, bound, bound_source, mip_gap
        ``optimal``, ``time_limit`` or ``greedy``; the objective (newly complete
        demand, the max-min share or the fair value); a valid upper bound
        (HiGHS's dual bound, or everything the candidates could make complete);
        ``mip_gap`` = ``|bound - objective| / max(|bound|, |objective|)``.
    greedy_objective
        The greedy's objective (no guarantee: completeness is not submodular).
    hosts
        Candidates x categories, bool: the new sites and what each hosts.
    comparison
        The comparisons of :meth:`CompleteSitingProblem.solve` (empty without).
    tradeoff
        The trade-off table, or None.
    notes, solver_info, timings_s, runtime_s
        What the solve found out; HiGHS's run; time spent.
    """

    problem: CompleteSitingProblem
    model: str
    options: Mapping[str, Any]
    status: str
    objective: float
    bound: float | None
    bound_source: str | None
    mip_gap: float | None
    greedy_objective: float
    hosts: np.ndarray
    comparison: Mapping[str, Any]
    tradeoff: pd.DataFrame | None
    notes: tuple[str, ...]
    solver_info: Mapping[str, Any]
    timings_s: Mapping[str, float]
    runtime_s: float

    @property
    def categories(self) -> tuple[str, ...]:
        """The listed categories."""
        return self.problem.categories

    @property
    def selected(self) -> np.ndarray:
        """The chosen candidates (sorted), each hosting at least one category."""
        return np.flatnonzero(self.hosts.any(axis=1))

    @functools.cached_property
    def complete_before(self) -> np.ndarray:
        """Per origin: complete for the listed categories before the new sites."""
        return np.asarray(self.problem.covered.all(axis=1), bool) & self.problem.instance.fixed_ok

    @functools.cached_property
    def complete_after(self) -> np.ndarray:
        """Per origin: complete for the listed categories after the new sites."""
        return cm.complete_after(self.problem.instance, self.hosts)

    def figures(self) -> tuple[cm.Figures, cm.Figures]:
        """Exact figures before and after (complete share, unit shares, objectives)."""
        lam = float(self.options["fairness_weight"])
        red = self.problem.reduced
        return cm.figures(red, self.complete_before, lam), cm.figures(red, self.complete_after, lam)

    # ------------------------------------------------------------------ access and units

    def access_before(self) -> pd.DataFrame:
        """The audit's access table (no geometry) with the listed categories' columns."""
        acc = pd.DataFrame(self.problem.result.access.drop(columns="geometry"))
        for c in self.categories:
            if columns.time(c) not in acc.columns:
                dist = self.problem.problems[c].demand["dist_m"].to_numpy(float)
                acc[columns.dist(c)] = dist
                acc[columns.time(c)] = dist / self.problem.result.profile_of(c).speed_m_min
        return acc

    def access_after(self) -> pd.DataFrame:
        """The access table after the new sites: distances to the nearest site hosting each."""
        return self._access_after.copy()

    @functools.cached_property
    def _access_after(self) -> pd.DataFrame:
        # one bounded search per category; the outputs, the report and the map all read it
        acc = self.access_before()
        for i, c in enumerate(self.categories):
            p = self.problem.problems[c]
            new = p.new_distance(np.flatnonzero(self.hosts[:, i]))
            old = acc[columns.dist(c)].to_numpy(float)
            better = new < np.nan_to_num(old, nan=np.inf)
            dist = np.where(better, new, old)
            acc[columns.dist(c)] = dist
            acc[columns.time(c)] = dist / self.problem.result.profile_of(c).speed_m_min
        return acc

    @property
    def categories_compared(self) -> list[str]:
        """Categories of the before/after figures: the audit's, plus the listed ones."""
        audited = list(self.problem.result.summary.categories_audited)
        return [*audited, *[c for c in self.categories if c not in audited]]

    def units_before(self, access: pd.DataFrame | None = None) -> dict[str, gpd.GeoDataFrame]:
        """Coverage per unit and level before the new sites."""
        return self._units(self.access_before() if access is None else access)

    def units_after(self, access: pd.DataFrame | None = None) -> dict[str, gpd.GeoDataFrame]:
        """Coverage per unit and level after the new sites."""
        return self._units(self.access_after() if access is None else access)

    def _units(self, acc: pd.DataFrame) -> dict[str, gpd.GeoDataFrame]:
        r = self.problem.result
        return coverage_by_unit(
            acc, r.hierarchy, r.standard, self.categories_compared, analysed=r.analysed
        )

    def listed_by_unit(self) -> dict[str, pd.DataFrame]:
        """Per level, the demand complete for the listed categories, before and after.

        Returns
        -------
        dict of pandas.DataFrame
            Indexed by ``unit_id``: ``demand``, ``share_before``, ``share_after``.
        """
        r = self.problem.result
        w = np.asarray(self.problem.weights)
        values = pd.DataFrame(
            {"demand": w, "before": w * self.complete_before, "after": w * self.complete_after}
        )
        sums = rollup_sums(
            values, r.access["unit_id"].astype(str).to_numpy(), r.hierarchy, r.analysed
        )
        out = {}
        for level, frame in sums.items():
            den = frame["demand"].where(frame["demand"] > 0)
            out[level] = pd.DataFrame(
                {
                    "demand": frame["demand"],
                    "share_before": frame["before"] / den,
                    "share_after": frame["after"] / den,
                }
            )
        return out

    # ------------------------------------------------------------------ outputs

    def site_figures(self) -> pd.DataFrame:
        """Per chosen site: demand newly complete it serves, and what removing it loses.

        ``newly_complete``: demand newly complete that reaches the site for a
        category it hosts and lacked before (a resident may count at several
        sites); ``marginal_newly_complete``: newly complete demand lost without it.
        """
        p = self.problem
        w = np.asarray(p.weights)
        newly = self.complete_after & ~self.complete_before
        sel = self.selected
        served = np.zeros(len(sel))
        marginal = np.zeros(len(sel))
        total = float(w[newly].sum())
        for k, j in enumerate(sel):  # one pass per chosen site, not per origin
            hit = np.zeros(len(w), bool)
            for i, reach in enumerate(p.reach):
                if self.hosts[j, i]:
                    hit |= (np.asarray(reach[:, [j]].toarray()).ravel() > 0) & ~p.covered[:, i]
            served[k] = float(w[newly & hit].sum())
            without = self.hosts.copy()
            without[j] = False
            left = cm.complete_after(p.instance, without) & ~self.complete_before
            marginal[k] = total - float(w[left].sum())
        return pd.DataFrame(
            {"candidate": sel, "newly_complete": served, "marginal_newly_complete": marginal}
        )

    def proposals(self) -> gpd.GeoDataFrame:
        """The chosen sites (EPSG:4326), ranked by marginal newly complete demand.

        Columns: ``site_id``, ``rank``, ``candidate_id``, ``categories`` (``"a,b,c"``),
        ``n_categories``, ``complex``, ``newly_complete``, ``marginal_newly_complete``.
        """
        figs = self.site_figures()
        order = np.argsort(-figs["marginal_newly_complete"].to_numpy(), kind="stable")
        figs = figs.iloc[order]
        sel = figs["candidate"].to_numpy(np.int64)
        cand = self.problem.candidates.iloc[sel]
        cats = np.array(self.categories, dtype=object)
        hosted = [",".join(cats[self.hosts[j]]) for j in sel]
        prefix = "complex" if self.model == "complex" else "site"
        out = gpd.GeoDataFrame(
            {
                "site_id": [f"{prefix}-{i + 1}" for i in range(len(sel))],
                "rank": np.arange(1, len(sel) + 1),
                "candidate_id": cand["candidate_id"].to_numpy(),
                "categories": hosted,
                "n_categories": self.hosts[sel].sum(axis=1),
                "complex": self.model == "complex",
                "newly_complete": np.round(figs["newly_complete"].to_numpy(), 1),
                "marginal_newly_complete": np.round(figs["marginal_newly_complete"].to_numpy(), 1),
            },
            geometry=cand.geometry.to_numpy(),
            crs=self.problem.candidates.crs,
        )
        return out.to_crs("EPSG:4326")

    def summary(self) -> dict[str, Any]:
        """The content of ``optimize.json`` (keys: see the report of issue 11)."""
        return copy.deepcopy(self._summary_data)

    @functools.cached_property
    def _summary_data(self) -> dict[str, Any]:
        # computed once: optimize.json, the report, the map and the command's line read it
        return _summary(self)

    @property
    def inputs(self) -> list[Path]:
        """Input files of the audit and the candidates file: never outputs."""
        extra = [self.problem.candidates_path] if self.problem.candidates_path else []
        return [*self.problem.result.inputs, *extra]

    def outputs(self) -> dict[str, Callable[[Path], object]]:
        """The files the siting writes: name -> function writing it to a path (atomically)."""
        return siting_writers(self)

    def write(self, out: str | Path) -> list[Path]:
        """Write :data:`OUTPUT_FILES` into ``out``; refuses to overwrite an input."""
        return write_siting(self.outputs(), out, self.inputs)


# --------------------------------------------------------------------------- summary


def figures_dict(fig: cm.Figures, hosts: np.ndarray) -> dict[str, Any]:
    """The figures of a set of sites, for the comparisons of ``optimize.json``."""
    return {
        "sites": int(hosts.any(axis=1).sum()),
        "facilities": int(hosts.sum()),
        "newly_complete": round(fig.newly, 3),
        "complete_share_after": round(fig.share, 6),
        "min_unit_share": rounded(fig.min_share),
        "worst_decile_share": rounded(fig.decile_share),
    }


def _summary(sol: CompleteSitingSolution) -> dict[str, Any]:
    p = sol.problem
    r = p.result
    std = r.standard
    cats = sol.categories_compared
    acc_before, acc_after = sol.access_before(), sol.access_after()
    before, after = citywide(acc_before, std, cats), citywide(acc_after, std, cats)
    fig_b, fig_a = sol.figures()
    units_b, units_a = sol.units_before(acc_before), sol.units_after(acc_after)
    listed = sol.listed_by_unit()
    per_unit = []
    for level, table in units_b.items():
        aft = units_a[level].set_index("unit_id")
        lst = listed[level]
        for row in table.itertuples():
            if not row.units_analysed:
                continue
            entry = {
                "level": level,
                "unit_id": row.unit_id,
                "name": row.name,
                "population": round(float(row.population), 1),
                "demand": rounded(lst.loc[row.unit_id, "demand"]),
                "complete_listed_before": rounded(lst.loc[row.unit_id, "share_before"]),
                "complete_listed_after": rounded(lst.loc[row.unit_id, "share_after"]),
                "complete_share_before": rounded(row.complete_share),
                "complete_share_after": rounded(aft.loc[row.unit_id, "complete_share"]),
            }
            for c in sol.categories:
                entry[f"cov_{c}_before"] = rounded(getattr(row, f"cov_{c}"))
                entry[f"cov_{c}_after"] = rounded(aft.loc[row.unit_id, f"cov_{c}"])
            per_unit.append(entry)
    levels = [k for k in before if k.startswith("complete_")]
    table = sol.tradeoff
    return {
        "kind": "complete",
        "categories": list(sol.categories),
        "level": p.level,
        "fixed_categories": list(p.fixed_categories),
        "model": sol.model,
        "complex": sol.model == "complex",
        "objective": sol.options["objective"],
        "fairness_weight": sol.options["fairness_weight"],
        "sites_requested": sol.options["sites"],
        "sites": len(sol.selected),
        "facilities": int(sol.hosts.sum()),
        "sites_per_category": {c: int(sol.hosts[:, i].sum()) for i, c in enumerate(sol.categories)},
        "cohort": p.cohort,
        "cohort_name": p.cohort_name,
        "demand": round(p.demand_total, 1),
        "thresholds_m": {c: round(p.problems[c].threshold_m, 1) for c in sol.categories},
        "candidates": len(p.candidates),
        "candidate_source": p.candidate_source,
        "status": sol.status,
        "objective_value": sol.objective,
        "bound": sol.bound,
        "bound_source": sol.bound_source,
        "mip_gap": sol.mip_gap,
        "gap_definition": GAP_DEFINITION,
        "greedy_objective": sol.greedy_objective,
        "greedy_guarantee": None,
        "newly_complete": round(fig_a.newly, 3),
        "complete_listed_before": round(fig_b.share, 6),
        "complete_listed_after": round(fig_a.share, 6),
        "min_unit_share_before": rounded(fig_b.min_share),
        "min_unit_share_after": rounded(fig_a.min_share),
        "worst_decile_share_before": rounded(fig_b.decile_share),
        "worst_decile_share_after": rounded(fig_a.decile_share),
        "coverage_before": {c: before["coverage"][c] for c in sol.categories},
        "coverage_after": {c: after["coverage"][c] for c in sol.categories},
        "complete_before": {k: before[k] for k in levels},
        "complete_after": {k: after[k] for k in levels},
        "categories_compared": cats,
        "comparison": dict(sol.comparison),
        "tradeoff": None if table is None else table.to_dict(orient="records"),
        "time_limit_s": sol.options["time_limit_s"],
        "runtime_s": sol.runtime_s,
        "timings_s": dict(sol.timings_s),
        "solver": "HiGHS (highspy)",
        "solver_run": dict(sol.solver_info),
        "notes": [*p.problem_notes, *sol.notes],
        "audit_warnings": list(r.summary.warnings),
        "inputs": [str(x) for x in sol.inputs],
        "units": per_unit,
    }


def rounded(value: Any) -> float | None:
    """``value`` rounded to 6 decimals; None for None or NaN."""
    return None if value is None or pd.isna(value) else round(float(value), 6)
