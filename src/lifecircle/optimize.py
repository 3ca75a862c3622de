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

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from ._location_models import Covering, PMedian, nearest_selected, rank_sites, served_per_site
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
            problem = PMedian(self, sites)
        else:
            self.model = "mclp" if sites is not None else "lscp"
            problem = Covering(self, sites=sites, target_coverage=target_coverage,
                                capacity=capacity, min_unit_coverage=min_unit_coverage)
        problem.solve(time_limit_s=time_limit_s, mip_rel_gap=mip_rel_gap)
        self._drop_useless_sites(sites)
        self.runtime_s = round(time.perf_counter() - t0, 3)
        return self

    def _drop_useless_sites(self, requested: int | None) -> None:
        """Remove selected sites that add nothing (the solver may leave them open)."""
        order, gains = rank_sites(self)
        useless = order[gains <= 1e-9]
        if len(useless) == 0:
            return
        keep = np.ones(len(self.selected), bool)
        keep[useless] = False
        self.selected = self.selected[keep]
        if self.options.get("capacity") is None:
            mask = (self.newly > 1e-12) if self.model != "pmedian" else self.served_by >= 0
            self.served_by = nearest_selected(self.distance, self.selected, mask)
            self.site_served = served_per_site(self, all_residents=self.model == "pmedian")
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
        order, marginal = rank_sites(self)
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

    def to_map(self, path: str | Path = "map.html", *, lang: str = "en",
               basemap: str = "osm") -> Path:
        """Write the audit's map with the proposed sites (``map.html``).

        See :func:`lifecircle.render.map.render_map`: a "Proposed sites" layer
        with each site's walking catchment, and a before / after toggle of the
        category's coverage.
        """
        from .render.map import render_map

        return render_map(self.result, Path(path), lang=lang, basemap=basemap, siting=self)

    def to_report(self, path: str | Path = "report.html", *, lang: str = "en") -> Path:
        """Write the audit's report with a "Proposed sites" section (``report.html``)."""
        from .render.report import render_report

        return render_report(self.result, Path(path), lang=lang, siting=self)


def _r(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else round(float(value), 6)


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
