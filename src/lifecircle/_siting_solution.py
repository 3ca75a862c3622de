"""The solved siting: :class:`SitingSolution`, the frozen answer of a solve.

What :meth:`lifecircle.siting.SitingProblem.solve` returns: the chosen sites and
the solver's figures, a view of the problem's attributes, and the outputs
(``proposals.geojson``, ``units_after.gpkg``, ``optimize.json``, the map and the
report). Import it from :mod:`lifecircle.siting` (or :mod:`lifecircle`); the
figures are computed in :mod:`lifecircle._siting_outputs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import scipy.sparse as sp

from . import _siting_outputs as _outputs
from .coverage import coverage_by_unit

if TYPE_CHECKING:
    from .pipeline import AuditResult
    from .siting import SitingProblem


@dataclass(frozen=True, eq=False)
class SitingSolution:
    """A solved siting: what :meth:`SitingProblem.solve` returns (immutable).

    The problem's attributes (``result``, ``category``, ``demand``,
    ``candidates``, ``distance``, ...) are readable here too.

    Attributes
    ----------
    problem
        The problem solved.
    model
        ``mclp``, ``lscp`` or ``pmedian``.
    options
        The options of the solve (``sites``, ``target_coverage``, ``objective``,
        ``capacity``, ``min_unit_coverage``, ``time_limit_s``).
    status, objective, bound, mip_gap
        ``optimal``, ``time_limit`` (HiGHS's solution, not proven optimal) or
        ``greedy`` (the lazy-greedy fallback); the objective; the best valid
        bound on the optimum (None if none is known) and ``bound_source``;
        ``mip_gap`` = :data:`GAP_DEFINITION`.
    greedy_objective
        The lazy greedy's objective.
    selected
        Selected candidates (column indices of ``distance``), sorted.
    newly
        Per resident, the share newly covered (within the threshold) by the
        selected sites.
    served_by
        Per resident, the selected candidate serving it (-1: none).
    site_served
        Per selected site, the residents of the cohort it serves (with a
        capacity: its load in the audit's assignment after the new sites).
    ranking, marginal
        With a capacity: the proposal order (positions into ``selected``) and
        each site's exact gain in cohort residents placed, in that order.
    served_before, served_after
        With a capacity: cohort residents placed per resident by the audit's
        assignment before and after the new sites (else None).
    capacity_figures
        With a capacity: ``placed_before``, ``placed_after``, their shares of the
        cohort and the assignment's solver status.
    notes
        What the solve found out (the problem's own are in ``problem_notes``).
    solver_info, timings_s, runtime_s
        HiGHS's run, the time spent per phase and in all.
    """

    problem: SitingProblem
    model: str
    options: Mapping[str, Any]
    status: str
    objective: float | None
    bound: float | None
    bound_source: str | None
    mip_gap: float | None
    greedy_objective: float | None
    selected: np.ndarray
    newly: np.ndarray
    served_by: np.ndarray
    site_served: np.ndarray
    notes: tuple[str, ...]
    solver_info: Mapping[str, Any]
    timings_s: Mapping[str, float]
    runtime_s: float
    ranking: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0, np.int64))
    marginal: np.ndarray = dataclasses.field(default_factory=lambda: np.empty(0))
    served_before: np.ndarray | None = None
    served_after: np.ndarray | None = None
    capacity_figures: Mapping[str, Any] = dataclasses.field(
        default_factory=lambda: MappingProxyType({})
    )

    # ------------------------------------------------------------------ the problem's

    @property
    def result(self) -> AuditResult:
        """The audit the problem was built from."""
        return self.problem.result

    @property
    def category(self) -> str:
        """Category id."""
        return self.problem.category

    @property
    def threshold_m(self) -> float:
        """Walking distance of the category's threshold."""
        return self.problem.threshold_m

    @property
    def demand(self) -> pd.DataFrame:
        """The problem's residents (see :class:`SitingProblem`)."""
        return self.problem.demand

    @property
    def candidates(self) -> gpd.GeoDataFrame:
        """Candidate sites (graph CRS)."""
        return self.problem.candidates

    @property
    def distance(self) -> sp.csr_matrix:
        """Sparse demand x candidate walking distances within ``radius_m``."""
        return self.problem.distance

    @property
    def radius_m(self) -> float:
        """Search radius of ``distance``."""
        return self.problem.radius_m

    @property
    def candidate_source(self) -> str:
        """Where the candidates came from, in words."""
        return self.problem.candidate_source

    @property
    def objective_kind(self) -> str:
        """The objective the problem was built for."""
        return self.problem.objective_kind

    @property
    def problem_notes(self) -> tuple[str, ...]:
        """What building the problem found out."""
        return self.problem.problem_notes

    @property
    def candidates_path(self) -> Path | None:
        """The candidates file, if any."""
        return self.problem.candidates_path

    @property
    def population(self) -> float:
        """Residents of the analysed units."""
        return self.problem.population

    @property
    def covered_before(self) -> float:
        """Residents covered by existing facilities."""
        return self.problem.covered_before

    @property
    def categories(self) -> list[str]:
        """Categories compared before and after."""
        return self.problem.categories

    @property
    def inputs(self) -> list[Path]:
        """Input files of the audit and of the siting: never outputs."""
        return self.problem.inputs

    def access_before(self) -> pd.DataFrame:
        """The access table before the new sites (:meth:`SitingProblem.access_before`)."""
        return self.problem.access_before()

    def units_before(
        self, access_before: pd.DataFrame | None = None
    ) -> dict[str, gpd.GeoDataFrame]:
        """Coverage per unit and level before the new sites (:meth:`SitingProblem.units_before`)."""
        return self.problem.units_before(access_before)

    # ------------------------------------------------------------------ results

    def access_after(self) -> pd.DataFrame:
        """The access table (:meth:`access_before`) after the new sites.

        Residents newly covered get the walking distance and time to their new
        site; a resident only partly served (capacity) is split into a served and
        an unserved row, population shared accordingly.
        """
        return _outputs.access_after(self)

    def proposals(self) -> gpd.GeoDataFrame:
        """Selected sites, ranked by marginal gain (EPSG:4326).

        ``marginal_newly_covered`` (cohort residents; with a capacity: newly
        placed, exactly, in rank order) or ``marginal_distance_saved_m``;
        ``residents_served`` (cohort residents the site serves); ``capacity``
        (the ``--capacity``, NaN without), which a re-audit with this file as an
        extra ``--facilities`` reads, so that it uses the same capacities.
        """
        return _outputs.proposals(self)

    def summary(self) -> dict[str, Any]:
        """The content of ``optimize.json``.

        Before and after are computed on the same categories (:attr:`categories`)
        from :meth:`access_before` and :meth:`access_after`. ``notes`` holds what
        building and solving the problem found out; ``audit_warnings`` the
        audit's warnings.
        """
        return _outputs.summary(self)

    def placed_by_unit(self) -> dict[str, pd.DataFrame]:
        """With a capacity: cohort placed share per unit and level, before and after.

        Returns
        -------
        dict of pandas.DataFrame
            Per level, indexed by ``unit_id``: ``placed_share_before``,
            ``placed_share_after`` (NaN where the unit has no cohort resident);
            empty without a capacity.
        """
        return _outputs.placed_by_unit(self)

    def units_after(self, access_after: pd.DataFrame | None = None) -> dict[str, gpd.GeoDataFrame]:
        """Coverage per unit and level after the new sites, on :attr:`categories`."""
        acc = self.access_after() if access_after is None else access_after
        r = self.result
        return coverage_by_unit(acc, r.hierarchy, r.standard, self.categories, analysed=r.analysed)

    def outputs(self) -> dict[str, Callable[[Path], object]]:
        """The files the siting writes: name -> function writing that file to a path.

        ``proposals.geojson``, ``units_after.gpkg`` and ``optimize.json`` (see
        :data:`OUTPUT_FILES`), each written atomically by the writers of
        :mod:`lifecircle.io.outputs`; a publisher may stage them with the
        audit's files. None of them may be one of :attr:`inputs`.
        """
        return _outputs.siting_writers(self)

    def write(self, out: str | Path) -> list[Path]:
        """Write ``proposals.geojson``, ``units_after.gpkg`` and ``optimize.json`` into ``out``.

        Parameters
        ----------
        out
            The output folder (created if missing).

        Returns
        -------
        list of pathlib.Path
            The files written.

        Raises
        ------
        lifecircle.errors.InputFileError
            Before anything is written, if a file to write is one of the
            inputs (e.g. ``--candidates OUT/proposals.geojson --out OUT``).
        """
        return _outputs.write_siting(self.outputs(), out, self.inputs)

    def to_map(
        self, path: str | Path = "map.html", *, lang: str = "en", basemap: str = "osm"
    ) -> Path:
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
