"""Site optimisation: where the next facilities of a category should go.

Three classic location models over a sparse candidate x resident coverage
matrix (same access convention as the audit, bounded Dijkstra per chunk of
candidates):

* **MCLP** (maximal covering, ``sites=N``): maximise newly covered residents.
* **LSCP** (set covering, ``target_coverage=X``): fewest sites so that a share X
  of all residents is covered.
* **p-median** (``objective="distance"``): minimise total walking distance to the
  nearest facility, existing or new (distances capped at the search cut-off).

Each is solved exactly by HiGHS through :func:`scipy.optimize.milp` with a time
limit; a lazy-greedy solution is computed first, enters the MILP as a bound on
the objective (when it is feasible for every constraint) and is the fallback,
reported with its bound (LP relaxation, or the (1 - 1/e) greedy guarantee).
Residents already covered by existing facilities are not counted again.
Options: a capacity per site and a fairness floor per finest governance unit.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .access import distances_within, snap_facilities
from .candidates import AUTO_CANDIDATES, candidates_auto, candidates_from_file
from .coverage import citywide, coverage_by_unit
from .errors import DataError
from .pipeline import AuditResult

log = logging.getLogger(__name__)

MODELS = ("mclp", "lscp", "pmedian")


@dataclass
class Siting:
    """A siting problem for one category, and after :meth:`solve` its solution.

    Build it with :meth:`from_audit`; ``solve()`` returns ``self``.

    Attributes
    ----------
    category
        Category id.
    threshold_m
        Walking distance of the category's threshold at the audit's speed.
    demand
        Residents of the analysed units: ``origin_id``, ``population``,
        ``unit_id``, ``node``, ``snap_m``, ``dist_m`` (to the nearest existing
        facility, NaN beyond the cut-off) and ``covered`` (before).
    candidates
        Candidate sites (graph CRS).
    distance
        Sparse demand x candidate walking distances within ``radius_m``.
    radius_m
        Search radius of ``distance``: the threshold, or the audit's cut-off
        for the p-median.
    """

    result: AuditResult
    category: str
    threshold_m: float
    demand: pd.DataFrame
    candidates: gpd.GeoDataFrame
    distance: sp.csr_matrix
    radius_m: float
    candidate_source: str
    objective_kind: str = "coverage"
    model: str = ""
    selected: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    newly: np.ndarray = field(default_factory=lambda: np.empty(0))
    served_by: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    site_served: np.ndarray = field(default_factory=lambda: np.empty(0))
    status: str = ""
    mip_gap: float | None = None
    objective: float | None = None
    bound: float | None = None
    greedy_objective: float | None = None
    runtime_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)

    # ------------------------------------------------------------------ build

    @classmethod
    def from_audit(
        cls,
        result: AuditResult,
        category: str,
        *,
        candidates: str | Path | gpd.GeoDataFrame = "auto",
        n_candidates: int = AUTO_CANDIDATES,
        min_spacing_m: float = 0.0,
        objective: str = "coverage",
        seed: int = 0,
    ) -> Siting:
        """Build the siting problem for ``category`` from an audit.

        Parameters
        ----------
        result
            A finished audit.
        category
            The category to site.
        candidates
            ``"auto"``, a file of points/parcels, or a GeoDataFrame.
        n_candidates
            Number of ``auto`` candidates (clusters of uncovered residents).
        min_spacing_m
            ``auto`` candidates keep at least this distance from existing facilities.
        objective
            ``"coverage"`` (MCLP/LSCP) or ``"distance"`` (p-median).
        seed
            Seed of the candidate clustering.
        """
        std = result.standard
        if category not in result.summary["categories_audited"]:
            std.category(category)  # unknown ids raise with the valid list
            msg = (f"category {category!r} was not audited (no facility of it in the data); "
                   f"choose one of: {', '.join(result.summary['categories_audited'])}")
            raise DataError(msg)
        if objective not in ("coverage", "distance"):
            msg = f"objective must be 'coverage' or 'distance', got {objective!r}"
            raise DataError(msg)
        graph = result.graph
        threshold_m = std.category(category).threshold_min * result.profile.speed_m_min
        radius_m = (threshold_m if objective == "coverage"
                    else result.summary["units"]["catchment_m"])
        acc = result.access
        demand = pd.DataFrame({
            "origin_id": acc["origin_id"].to_numpy(),
            "population": acc["population"].to_numpy(float),
            "unit_id": acc["unit_id"].astype(str).to_numpy(),
            "node": acc["node"].to_numpy(np.int64),
            "snap_m": acc["snap_m"].to_numpy(float),
            "dist_m": acc[f"dist_{category}_m"].to_numpy(float),
        })
        demand["covered"] = demand["dist_m"] <= threshold_m
        existing = result.facilities[result.facilities["category"] == category]

        if isinstance(candidates, str) and candidates == "auto":
            uncovered = acc.loc[~demand["covered"].to_numpy()]
            cand = candidates_auto(graph, uncovered, existing, n_candidates=n_candidates,
                                   min_spacing_m=min_spacing_m, seed=seed)
            source = f"auto: {len(cand)} network nodes at centres of k-means clusters of " \
                     f"uncovered residents (k={n_candidates}, seed={seed})"
        else:
            cand = (candidates.copy() if isinstance(candidates, gpd.GeoDataFrame)
                    else candidates_from_file(candidates))
            cand = cand.to_crs(graph.crs).reset_index(drop=True)
            cand["candidate_id"] = np.arange(len(cand))
            origin = ("a GeoDataFrame" if isinstance(candidates, gpd.GeoDataFrame)
                      else Path(candidates).name)
            source = f"file: {len(cand)} sites from {origin}"
        points = snap_facilities(graph, cand)
        if len(points.node) == 0:
            msg = "no candidate site lies within reach of the walk network"
            raise DataError(msg)
        dist = distances_within(graph, points.node, points.snap_m, points.facility,
                                demand["node"].to_numpy(), demand["snap_m"].to_numpy(),
                                radius_m=radius_m)
        if dist.shape[1] < len(cand):
            dist = sp.csr_matrix((dist.data, dist.indices, dist.indptr),
                                 shape=(len(demand), len(cand)))
        log.info("%s; coverage matrix %d residents x %d candidates, %d pairs within %.0f m",
                 source, dist.shape[0], dist.shape[1], dist.nnz, radius_m)
        return cls(result=result, category=category, threshold_m=threshold_m, demand=demand,
                   candidates=cand, distance=dist, radius_m=radius_m, candidate_source=source,
                   objective_kind=objective)

    # ------------------------------------------------------------------ solve

    def solve(
        self,
        *,
        sites: int | None = None,
        target_coverage: float | None = None,
        objective: str | None = None,
        capacity: float | None = None,
        min_unit_coverage: float | None = None,
        time_limit_s: float = 60.0,
        mip_rel_gap: float = 1e-4,
    ) -> Siting:
        """Choose sites; returns ``self`` with ``selected``, ``status``, ``mip_gap`` ...

        Parameters
        ----------
        sites
            Number of new sites (MCLP, p-median).
        target_coverage
            Share of all residents to cover (LSCP: fewest sites).
        objective
            ``"coverage"`` or ``"distance"`` (p-median; needs ``sites``); default:
            the one the problem was built for. Coverage models count only
            residents within the threshold; the p-median caps distances at
            ``radius_m``.
        capacity
            Residents one new site can serve (coverage models).
        min_unit_coverage
            Every finest unit should reach this coverage share; units that
            cannot even with every candidate are reported and left out.
        time_limit_s
            HiGHS time limit.
        mip_rel_gap
            Relative gap at which HiGHS stops and reports optimal.
        """
        t0 = time.perf_counter()
        objective = objective or self.objective_kind
        self.notes, self.bound, self.mip_gap = [], None, None
        self.objective, self.greedy_objective = None, None
        self._check_request(sites, target_coverage, objective, capacity, min_unit_coverage)
        self.options = {"sites": sites, "target_coverage": target_coverage,
                        "objective": objective, "capacity": capacity,
                        "min_unit_coverage": min_unit_coverage, "time_limit_s": time_limit_s}
        if objective == "distance":
            self.model = "pmedian"
            problem = _PMedian(self, sites)
        else:
            self.model = "mclp" if sites is not None else "lscp"
            problem = _Covering(self, sites=sites, target_coverage=target_coverage,
                                capacity=capacity, min_unit_coverage=min_unit_coverage)
        problem.solve(time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)
        self._drop_useless_sites(sites)
        self.runtime_s = round(time.perf_counter() - t0, 3)
        return self

    def _drop_useless_sites(self, requested: int | None) -> None:
        """Remove selected sites that add nothing (the solver may leave them open)."""
        order, gains = _rank(self)
        useless = order[gains <= 1e-9]
        if len(useless) == 0:
            return
        keep = np.ones(len(self.selected), bool)
        keep[useless] = False
        self.selected = self.selected[keep]
        if self.options.get("capacity") is None:
            mask = (self.newly > 1e-12) if self.model != "pmedian" else self.served_by >= 0
            self.served_by = _nearest_selected(self.distance, self.selected, mask)
            self.site_served = _served_per_site(self, all_residents=self.model == "pmedian")
        else:
            self.site_served = self.site_served[keep]
        self.notes.append(f"{len(useless)} of the {requested or len(keep)} sites would add "
                          "nothing and are not proposed")

    def _check_request(self, sites: int | None, target: float | None, objective: str,
                       capacity: float | None, floor: float | None) -> None:
        if objective == "distance" and (capacity is not None or floor is not None):
            msg = ("--capacity and --min-unit-coverage apply to the coverage models (MCLP, "
                   "set covering), not to --objective distance (p-median)")
            raise DataError(msg)
        if (sites is None) == (target is None):
            msg = "give exactly one of --sites N or --target-coverage X"
            raise DataError(msg)
        if sites is not None and sites <= 0:
            msg = f"--sites must be a positive number of new sites, got {sites}"
            raise DataError(msg)
        if sites is not None and sites > len(self.candidates):
            self.notes.append(f"asked for {sites} sites but only {len(self.candidates)} "
                              "candidates exist; all may be used")
        if target is not None and not 0 < target <= 1:
            msg = f"--target-coverage must be a share in (0, 1], got {target}"
            raise DataError(msg)
        if objective == "distance" and sites is None:
            msg = "--objective distance (p-median) needs --sites N"
            raise DataError(msg)
        if capacity is not None and capacity <= 0:
            msg = f"--capacity must be positive, got {capacity}"
            raise DataError(msg)
        if floor is not None and not 0 < floor <= 1:
            msg = f"--min-unit-coverage must be a share in (0, 1], got {floor}"
            raise DataError(msg)

    # ------------------------------------------------------------------ results

    @property
    def population(self) -> float:
        """Residents of the analysed units."""
        return float(self.demand["population"].sum())

    @property
    def covered_before(self) -> float:
        """Residents covered by existing facilities."""
        return float(self.demand.loc[self.demand["covered"], "population"].sum())

    def access_after(self) -> pd.DataFrame:
        """The audit's access table with the category's coverage after the new sites.

        Residents newly covered get the walking time to their new site; a
        resident only partly served (capacity) is split into a served and an
        unserved row, population shared accordingly.
        """
        acc = pd.DataFrame(self.result.access.drop(columns="geometry"))
        col = f"time_{self.category}_min"
        speed = self.result.profile.speed_m_min
        frac = self.newly
        new_time = self._new_distance() / speed
        full = acc.copy()
        take = frac > 1e-12
        full.loc[take, col] = np.fmin(full.loc[take, col].to_numpy(), new_time[take])
        full["population"] = acc["population"].to_numpy() * np.where(take, frac, 1.0)
        rest = acc.loc[take & (frac < 1 - 1e-12)].copy()
        rest["population"] = rest["population"].to_numpy() * (1 - frac[take & (frac < 1 - 1e-12)])
        return pd.concat([full, rest], ignore_index=True)

    def _new_distance(self) -> np.ndarray:
        """Distance from each resident to its nearest selected site (inf if none)."""
        if len(self.selected) == 0:
            return np.full(len(self.demand), np.inf)
        sub = self.distance[:, self.selected].tocsr()
        dense_min = np.full(len(self.demand), np.inf)
        rows = np.repeat(np.arange(sub.shape[0]), np.diff(sub.indptr))
        np.fmin.at(dense_min, rows, sub.data)
        return dense_min

    def proposals(self) -> gpd.GeoDataFrame:
        """Selected sites, ranked by marginal gain (EPSG:4326)."""
        order, marginal = _rank(self)
        sel = self.selected[order]
        served = self.site_served[order]
        cand = self.candidates.iloc[sel]
        out = gpd.GeoDataFrame({
            "site_id": [f"{self.category}-{i + 1}" for i in range(len(sel))],
            "category": self.category,
            "rank": np.arange(1, len(sel) + 1),
            "candidate_id": cand["candidate_id"].to_numpy(),
            ("marginal_distance_saved_m" if self.model == "pmedian"
             else "marginal_newly_covered"): np.round(marginal, 1),
            "residents_served": np.minimum(np.round(served, 1),
                                           self.options.get("capacity") or np.inf),
        }, geometry=cand.geometry.to_numpy(), crs=self.candidates.crs)
        return out.to_crs("EPSG:4326")

    def summary(self) -> dict[str, Any]:
        """The content of ``optimize.json``."""
        acc_after = self.access_after()
        std = self.result.standard
        cats = self.result.summary["categories_audited"]
        before = citywide(self.result.access, std, cats)
        after = citywide(acc_after, std, cats)
        newly = float((self.demand["population"].to_numpy() * self.newly).sum())
        units_after = self.units_after(acc_after)
        per_unit = []
        for level, table in self.result.units.items():
            aft = units_after[level].set_index("unit_id")
            for row in table.itertuples():
                if not row.units_analysed:
                    continue
                per_unit.append({
                    "level": level, "unit_id": row.unit_id, "name": row.name,
                    "population": round(float(row.population), 1),
                    "coverage_before": _r(getattr(row, f"cov_{self.category}")),
                    "coverage_after": _r(aft.loc[row.unit_id, f"cov_{self.category}"]),
                    "complete_share_before": _r(row.complete_share),
                    "complete_share_after": _r(aft.loc[row.unit_id, "complete_share"]),
                })
        out = {
            "category": self.category,
            "model": self.model,
            "objective": self.options.get("objective"),
            "sites": len(self.selected),
            "sites_requested": self.options.get("sites"),
            "target_coverage": self.options.get("target_coverage"),
            "capacity": self.options.get("capacity"),
            "min_unit_coverage": self.options.get("min_unit_coverage"),
            "threshold_min": std.category(self.category).threshold_min,
            "threshold_m": round(self.threshold_m, 1),
            "candidates": len(self.candidates),
            "candidate_source": self.candidate_source,
            "population": round(self.population, 1),
            "newly_covered_population": round(newly, 1),
            "coverage_before": _r(before["coverage"][self.category]),
            "coverage_after": _r(after["coverage"][self.category]),
            "complete_share_before": _r(before["complete_share"]),
            "complete_share_after": _r(after["complete_share"]),
            "status": self.status,
            "mip_gap": self.mip_gap,
            "objective_value": self.objective,
            "bound": self.bound,
            "greedy_objective": self.greedy_objective,
            "runtime_s": self.runtime_s,
            "solver": "HiGHS via scipy.optimize.milp",
            "notes": self.notes,
            "units": per_unit,
        }
        if self.model == "pmedian":
            d0 = np.nan_to_num(self.demand["dist_m"].to_numpy(), nan=self.radius_m)
            d1 = np.fmin(d0, np.minimum(self._new_distance(), self.radius_m))
            w = self.demand["population"].to_numpy()
            out["mean_distance_before_m"] = round(float((w * d0).sum() / w.sum()), 1)
            out["mean_distance_after_m"] = round(float((w * d1).sum() / w.sum()), 1)
            out["distance_cap_m"] = round(self.radius_m, 1)
        return out

    def units_after(self, access_after: pd.DataFrame | None = None
                    ) -> dict[str, gpd.GeoDataFrame]:
        """Coverage per unit and level after the new sites."""
        acc = self.access_after() if access_after is None else access_after
        r = self.result
        return coverage_by_unit(acc, r.hierarchy, r.standard,
                                r.summary["categories_audited"], analysed=r.analysed)

    def write(self, out: str | Path) -> list[Path]:
        """Write ``proposals.geojson``, ``optimize.json`` and ``units_after.gpkg``."""
        from .io.outputs import write_atomic, write_geopackage, write_json

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        props = self.proposals()
        write_atomic(out / "proposals.geojson",
                     lambda tmp: props.to_file(tmp, driver="GeoJSON"))
        write_geopackage(out / "units_after.gpkg", self.units_after())
        write_json(out / "optimize.json", self.summary())
        return [out / "proposals.geojson", out / "optimize.json", out / "units_after.gpkg"]


def _r(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 6)


# --------------------------------------------------------------------------- models


class _Covering:
    """MCLP / LSCP, optionally capacitated and with a per-unit floor."""

    def __init__(self, s: Siting, *, sites: int | None, target_coverage: float | None,
                 capacity: float | None, min_unit_coverage: float | None) -> None:
        self.s = s
        self.sites = sites
        self.capacity = capacity
        d = s.demand
        self.w_all = d["population"].to_numpy(float)
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
            need = target_coverage * s.population - s.covered_before
            reachable = float(self.w.sum())
            if need > reachable + 1e-6:
                best = (s.covered_before + reachable) / s.population
                msg = (f"--target-coverage {target_coverage:.1%} is out of reach: with every "
                       f"candidate site at most {best:.1%} of residents are covered for "
                       f"{s.category}; lower the target or give more --candidates")
                raise DataError(msg)
            self.need = max(need, 0.0)
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
            s.notes.append(
                f"{len(impossible)} units cannot reach {floor:.0%} coverage even with every "
                f"candidate; their floor is left out: {', '.join(impossible[:20])}")
        return out

    # greedy -------------------------------------------------------------
    def greedy(self) -> tuple[np.ndarray, np.ndarray]:
        """Lazy greedy (CELF); returns selected candidates and served fraction per row."""
        cover_csc = self.cover.tocsc()
        remaining = np.ones(len(self.rows))  # unserved fraction
        cap = np.inf if self.capacity is None else self.capacity

        def gain(j: int) -> float:
            idx = cover_csc.indices[cover_csc.indptr[j]:cover_csc.indptr[j + 1]]
            return float(min(cap, (self.w[idx] * remaining[idx]).sum()))

        heap = [(-gain(j), j, 0) for j in range(self.n_cand)]
        heapq.heapify(heap)
        chosen: list[int] = []
        self.greedy_loads = np.zeros(self.n_cand)
        covered = 0.0
        limit = self.sites if self.sites is not None else self.n_cand
        while heap and len(chosen) < limit:
            if self.need is not None and covered >= self.need - 1e-9:
                break
            neg, j, stamp = heapq.heappop(heap)
            if stamp != len(chosen):
                heapq.heappush(heap, (-gain(j), j, len(chosen)))
                continue
            if -neg <= 1e-12:
                break
            idx = cover_csc.indices[cover_csc.indptr[j]:cover_csc.indptr[j + 1]]
            take = self._serve(idx, remaining, cap)
            self.greedy_loads[j] = take
            covered += take
            chosen.append(j)
        return np.array(chosen, np.int64), 1.0 - remaining

    def _serve(self, idx: np.ndarray, remaining: np.ndarray, cap: float) -> float:
        if not np.isfinite(cap):
            take = float((self.w[idx] * remaining[idx]).sum())
            remaining[idx] = 0.0
            return take
        left, take = cap, 0.0
        for i in idx:  # capacity: fill residents in row order until the site is full
            amount = min(self.w[i] * remaining[i], left)
            if amount <= 0:
                continue
            remaining[i] -= amount / self.w[i]
            left -= amount
            take += amount
            if left <= 0:
                break
        return take

    # MILP ---------------------------------------------------------------
    def _build(self, greedy_value: float | None):
        m, k = self.n_cand, len(self.rows)
        cover = self.cover.tocoo()
        if self.capacity is None:
            # variables: x (m binary), z (k continuous)
            n_var = m + k
            a_link = sp.hstack([-self.cover, sp.identity(k)]).tocsr()  # z - A x <= 0
            served = sp.hstack([sp.csr_matrix((1, m)), sp.csr_matrix(self.w[None, :])])
            rows_for = lambda rows_u: sp.hstack([  # noqa: E731
                sp.csr_matrix((1, m)),
                sp.csr_matrix((self.w[rows_u], (np.zeros(len(rows_u)), rows_u)), shape=(1, k))])
            cons = [LinearConstraint(a_link, -np.inf, 0.0)]
        else:
            # variables: x (m binary), y (one per reachable pair)
            p = cover.nnz
            n_var = m + p
            one_each = sp.csr_matrix((np.ones(p), (cover.row, np.arange(p))), shape=(k, p))
            load = sp.csr_matrix((self.w[cover.row], (cover.col, np.arange(p))), shape=(m, p))
            a_one = sp.hstack([sp.csr_matrix((k, m)), one_each])
            a_cap = sp.hstack([-self.capacity * sp.identity(m), load])
            served = sp.hstack([sp.csr_matrix((1, m)),
                                sp.csr_matrix(self.w[cover.row][None, :])])
            rows_for = lambda rows_u: sp.hstack([  # noqa: E731
                sp.csr_matrix((1, m)),
                sp.csr_matrix(one_each[rows_u].multiply(self.w[rows_u][:, None]).sum(axis=0))])
            cons = [LinearConstraint(a_one, -np.inf, 1.0), LinearConstraint(a_cap, -np.inf, 0.0)]
            self._pairs = cover
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

    def solve(self, *, time_limit_s: float, mip_rel_gap: float) -> None:
        s = self.s
        g_sel, g_frac = self.greedy()
        g_value = float((self.w * g_frac).sum())
        greedy_ok = not self.floors and (self.need is None or g_value >= self.need - 1e-6)
        s.greedy_objective = round(g_value if self.sites is not None else float(len(g_sel)), 3)
        if len(self.rows) == 0:
            s.selected, s.status, s.mip_gap, s.objective = g_sel, "optimal", 0.0, 0.0
            s.notes.append("no uncovered resident can be reached by any candidate")
            self._finish(np.empty(0, np.int64), np.zeros(0), None)
            return
        c, cons, integrality = self._build(g_value if greedy_ok else None)
        res = milp(c, constraints=cons, integrality=integrality, bounds=Bounds(0, 1),
                   options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap,
                            "disp": False})
        m = self.n_cand
        if res.x is not None and res.status in (0, 1):
            x = res.x
            sel = np.flatnonzero(x[:m] > 0.5)
            s.status = "optimal" if res.status == 0 else "time_limit"
            s.mip_gap = None if res.mip_gap is None else round(float(res.mip_gap), 6)
            s.objective = round(float(-res.fun if self.sites is not None else res.fun), 3)
            s.bound = (None if res.mip_dual_bound is None else
                       round(float(-res.mip_dual_bound if self.sites is not None
                                   else res.mip_dual_bound), 3))
            frac, loads = self._fractions(sel, x)
        elif res.status == 2 and self.floors:
            msg = ("the fairness floor (--min-unit-coverage) cannot be met with "
                   f"{self.sites} sites; allow more sites or lower the floor")
            raise DataError(msg)
        else:
            if not greedy_ok:
                msg = f"the solver found no solution ({res.message}) and greedy is infeasible"
                raise DataError(msg)
            relax = milp(c, constraints=cons, bounds=Bounds(0, 1),
                         options={"time_limit": time_limit_s})
            sel, frac, loads = g_sel, g_frac, self.greedy_loads
            s.status = "greedy"
            s.objective = s.greedy_objective
            if relax.x is not None:
                s.bound = round(float(-relax.fun if self.sites is not None else relax.fun), 3)
                s.mip_gap = (round(abs(s.bound - s.objective) / max(abs(s.bound), 1e-9), 6))
            s.notes.append(f"HiGHS returned no solution ({res.message}); greedy used")
        self._finish(sel, frac, loads if self.capacity is not None else None)

    def _fractions(self, sel: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        if self.capacity is None:
            hit = np.asarray(self.cover[:, sel].sum(axis=1)).ravel() > 0
            return hit.astype(float), None
        y = x[self.n_cand:]
        frac = np.bincount(self._pairs.row, weights=y, minlength=len(self.rows))
        loads = np.bincount(self._pairs.col, weights=self.w[self._pairs.row] * y,
                            minlength=self.n_cand)
        return np.clip(frac, 0.0, 1.0), loads

    def _finish(self, sel: np.ndarray, frac_rows: np.ndarray, loads: np.ndarray | None
                ) -> None:
        s = self.s
        s.selected = np.sort(sel)
        newly = np.zeros(len(s.demand))
        newly[self.rows] = frac_rows
        s.newly = newly
        s.served_by = _nearest_selected(s.distance, s.selected, newly > 1e-12)
        s.site_served = (_served_per_site(s) if loads is None else loads[s.selected])


class _PMedian:
    """Minimise total walking distance to the nearest facility, existing or new."""

    def __init__(self, s: Siting, sites: int) -> None:
        self.s, self.sites = s, sites
        d = s.demand
        self.w = d["population"].to_numpy(float)
        self.d0 = np.nan_to_num(d["dist_m"].to_numpy(float), nan=s.radius_m)
        coo = s.distance.tocoo()
        better = coo.data < self.d0[coo.row] - 1e-9
        self.row, self.col, self.dist = coo.row[better], coo.col[better], coo.data[better]
        self.n_cand = s.distance.shape[1]

    def _saving(self, selected: list[int]) -> float:
        best = self.d0.copy()
        pick = np.isin(self.col, selected)
        np.fmin.at(best, self.row[pick], self.dist[pick])
        return float((self.w * (self.d0 - best)).sum())

    def greedy(self) -> np.ndarray:
        current = self.d0.copy()
        by_col = np.argsort(self.col, kind="stable")
        starts = np.searchsorted(self.col[by_col], np.arange(self.n_cand + 1))

        def gain(j: int) -> float:
            idx = by_col[starts[j]:starts[j + 1]]
            r = self.row[idx]
            return float((self.w[r] * np.maximum(current[r] - self.dist[idx], 0)).sum())

        heap = [(-gain(j), j, 0) for j in range(self.n_cand)]
        heapq.heapify(heap)
        chosen: list[int] = []
        while heap and len(chosen) < self.sites:
            neg, j, stamp = heapq.heappop(heap)
            if stamp != len(chosen):
                heapq.heappush(heap, (-gain(j), j, len(chosen)))
                continue
            if -neg <= 1e-12:
                break
            idx = by_col[starts[j]:starts[j + 1]]
            np.fmin.at(current, self.row[idx], self.dist[idx])
            chosen.append(j)
        return np.array(chosen, np.int64)

    def solve(self, *, time_limit_s: float, mip_rel_gap: float) -> None:
        s, m, p = self.s, self.n_cand, len(self.row)
        g_sel = self.greedy()
        g_value = self._saving(g_sel.tolist())
        s.greedy_objective = round(g_value, 3)
        # maximise saving: sum w_i (d0_i - d_ij) y_ij
        c = np.r_[np.zeros(m), -(self.w[self.row] * (self.d0[self.row] - self.dist))]
        one_each = sp.csr_matrix((np.ones(p), (self.row, np.arange(p))),
                                 shape=(len(self.w), p))
        link = sp.hstack([-sp.csr_matrix((np.ones(p), (np.arange(p), self.col)), shape=(p, m)),
                          sp.identity(p)])
        cons = [
            LinearConstraint(sp.hstack([sp.csr_matrix((len(self.w), m)), one_each]), -np.inf, 1),
            LinearConstraint(link, -np.inf, 0),
            LinearConstraint(np.r_[np.ones(m), np.zeros(p)][None, :], 0, self.sites),
            LinearConstraint(-c[None, :], g_value * (1 - 1e-9), np.inf),
        ]
        res = milp(c, constraints=cons, integrality=np.r_[np.ones(m), np.zeros(p)],
                   bounds=Bounds(0, 1),
                   options={"time_limit": time_limit_s, "mip_rel_gap": mip_rel_gap})
        if res.x is not None and res.status in (0, 1):
            sel = np.flatnonzero(res.x[:m] > 0.5)
            s.status = "optimal" if res.status == 0 else "time_limit"
            s.mip_gap = None if res.mip_gap is None else round(float(res.mip_gap), 6)
            s.objective = round(float(-res.fun), 3)
            s.bound = None if res.mip_dual_bound is None else round(-res.mip_dual_bound, 3)
        else:
            sel = g_sel
            s.status, s.objective = "greedy", s.greedy_objective
            s.bound, s.mip_gap = _greedy_bound(g_value)
            s.notes.append(f"HiGHS returned no solution ({res.message}); greedy used, with "
                           "the (1 - 1/e) bound of greedy for submodular maximisation")
        s.selected = np.sort(sel)
        new = s._new_distance()
        s.newly = ((new <= s.threshold_m) & ~s.demand["covered"].to_numpy()).astype(float)
        s.served_by = _nearest_selected(s.distance, s.selected, new < self.d0)
        s.site_served = _served_per_site(s, all_residents=True)
        s.notes.append(f"distances capped at {s.radius_m:.0f} m (the audit's cut-off); "
                       "objective = total person-metres saved")


def _greedy_bound(value: float) -> tuple[float, float]:
    """Upper bound and gap of a greedy value for monotone submodular maximisation."""
    bound = value / (1.0 - 1.0 / np.e)
    return round(bound, 3), round(1.0 - 1.0 / np.e if value > 0 else 0.0, 6)


def _served_per_site(s: Siting, *, all_residents: bool = False) -> np.ndarray:
    """Residents assigned to each selected site (newly covered ones, or all it serves)."""
    mask = s.served_by >= 0
    weight = s.demand["population"].to_numpy() * (1.0 if all_residents else s.newly)
    pos = np.searchsorted(s.selected, s.served_by[mask])
    return np.bincount(pos, weights=np.broadcast_to(weight, mask.shape)[mask],
                       minlength=len(s.selected))


def _nearest_selected(distance: sp.csr_matrix, selected: np.ndarray, mask: np.ndarray
                      ) -> np.ndarray:
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


def _rank(s: Siting) -> tuple[np.ndarray, np.ndarray]:
    """Order the selected sites greedily by marginal gain; return order and gains."""
    sel = s.selected
    if len(sel) == 0:
        return np.empty(0, np.int64), np.empty(0)
    if s.options.get("capacity") is not None:
        order = np.argsort(-s.site_served, kind="stable")
        return order, s.site_served[order]
    w = s.demand["population"].to_numpy()
    sub = s.distance[:, sel].tocsc()
    if s.model == "pmedian":
        current = np.nan_to_num(s.demand["dist_m"].to_numpy(), nan=s.radius_m)
    else:
        current = None
        open_w = w * s.newly
    order, gains, left = [], [], list(range(len(sel)))
    while left:
        best, best_gain = None, -1.0
        for j in left:
            idx = sub.indices[sub.indptr[j]:sub.indptr[j + 1]]
            if current is not None:
                g = float((w[idx] * np.maximum(current[idx] - sub.data[sub.indptr[j]:
                                                                        sub.indptr[j + 1]], 0)
                           ).sum())
            else:
                g = float(open_w[idx].sum())
            if g > best_gain:
                best, best_gain = j, g
        idx = sub.indices[sub.indptr[best]:sub.indptr[best + 1]]
        if current is not None:
            np.fmin.at(current, idx, sub.data[sub.indptr[best]:sub.indptr[best + 1]])
        else:
            open_w[idx] = 0.0
        order.append(best)
        gains.append(best_gain)
        left.remove(best)
    return np.array(order), np.array(gains)


def optimize(
    result: AuditResult,
    category: str,
    *,
    sites: int | None = None,
    target_coverage: float | None = None,
    objective: str = "coverage",
    candidates: str | Path | gpd.GeoDataFrame = "auto",
    n_candidates: int = AUTO_CANDIDATES,
    min_spacing_m: float = 0.0,
    capacity: float | None = None,
    min_unit_coverage: float | None = None,
    time_limit_s: float = 60.0,
    seed: int = 0,
) -> Siting:
    """Propose new sites for ``category`` after an audit.

    Parameters
    ----------
    result
        A finished audit (:func:`lifecircle.audit`).
    category
        Category id, e.g. ``"kindergarten"``.
    sites
        Number of new sites (MCLP, or p-median with ``objective="distance"``).
    target_coverage
        Share of residents to cover with the fewest sites (LSCP).
    objective
        ``"coverage"`` or ``"distance"``.
    candidates
        ``"auto"``, a file of points/parcels, or a GeoDataFrame.
    n_candidates
        Number of ``auto`` candidates.
    min_spacing_m
        ``auto`` candidates keep this distance from existing facilities.
    capacity
        Residents one new site can serve.
    min_unit_coverage
        Coverage floor for every finest governance unit.
    time_limit_s
        Solver time limit.
    seed
        Seed for ``auto`` candidates.

    Returns
    -------
    Siting
        Solved; ``.proposals()``, ``.summary()``, ``.write(folder)``.

    Examples
    --------
    >>> import lifecircle
    >>> result = lifecircle.audit()                                   # doctest: +SKIP
    >>> siting = lifecircle.optimize(result, "kindergarten", sites=10)  # doctest: +SKIP
    >>> siting.summary()["coverage_after"]                            # doctest: +SKIP
    """
    siting = Siting.from_audit(result, category, candidates=candidates,
                               n_candidates=n_candidates, min_spacing_m=min_spacing_m,
                               objective=objective, seed=seed)
    return siting.solve(sites=sites, target_coverage=target_coverage, objective=objective,
                        capacity=capacity, min_unit_coverage=min_unit_coverage,
                        time_limit_s=time_limit_s)
