"""How sure the figures are: whether a category's facility layer is plausibly complete.

An OpenStreetMap layer with one kindergarten per 35,000 residents is a data gap, not
a planning finding. Per audited category this compares the facilities found inside
the analysed units with what the standard expects: one facility per
``service_population`` residents (e.g. one kindergarten per 5-minute life circle of
up to 12,000 residents). A category is flagged **thin** when fewer than
:data:`THIN_DATA_RATIO` of the expected facilities were found; the report says so
next to the headline figure and suggests adding an official list. The expectation
rests on the standard's numbers, most of them unverified (see each category's
``service_population.verified``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import Standard

#: Found / expected facilities below which a category's data is called thin.
THIN_DATA_RATIO = 0.5


@dataclass(frozen=True)
class CategoryData:
    """Facilities found for one category against what the standard expects."""

    category: str
    cohort: str
    found: int
    residents: float
    cohort_residents: float
    per_10k_residents: float | None
    per_10k_cohort: float | None
    expected_per_10k_residents: float | None
    expected_source: str | None
    expected_verified: bool | None
    found_to_expected: float | None
    thin: bool


def data_completeness(
    facility_unit: pd.Series,
    facility_category: pd.Series,
    analysed: set[str],
    standard: Standard,
    categories: list[str],
    *,
    residents: float,
    cohort_residents: dict[str, float],
) -> dict[str, CategoryData]:
    """Per category: facilities found per 10,000 residents (and of its cohort) vs expected.

    Parameters
    ----------
    facility_unit, facility_category
        Finest unit (NA outside every unit) and category of each facility.
    analysed
        The analysed finest units (facilities elsewhere are not counted).
    standard, categories
        The standard and the audited categories.
    residents
        Residents of the analysed units.
    cohort_residents
        Residents of each cohort in the analysed units.
    """
    inside = facility_unit.astype("string").isin(list(analysed)).fillna(False).to_numpy(bool)
    counts = facility_category[inside].value_counts()
    out: dict[str, CategoryData] = {}
    for cat in categories:
        info = standard.category(cat)
        found = int(counts.get(cat, 0))
        cohort_n = cohort_residents.get(info.cohort, residents)
        expect = info.service_population
        expected = 1e4 / expect.value if expect is not None and expect.value > 0 else None
        per_10k = found * 1e4 / residents if residents > 0 else None
        ratio = per_10k / expected if per_10k is not None and expected else None
        out[cat] = CategoryData(
            category=cat,
            cohort=info.cohort,
            found=found,
            residents=round(residents, 1),
            cohort_residents=round(cohort_n, 1),
            per_10k_residents=_round(per_10k),
            per_10k_cohort=_round(found * 1e4 / cohort_n if cohort_n > 0 else None),
            expected_per_10k_residents=_round(expected),
            expected_source=None if expect is None else expect.source,
            expected_verified=None if expect is None else expect.verified,
            found_to_expected=_round(ratio),
            thin=bool(ratio is not None and ratio < THIN_DATA_RATIO),
        )
    return out


def thin_warning(d: CategoryData, name: str) -> str:
    """The warning a planner reads next to a thin category's coverage."""
    flag = "" if d.expected_verified else ", an unverified figure"
    return (
        f"{name}: only {d.found} facilities found for {d.residents:,.0f} residents "
        f"({d.per_10k_residents:.2f} per 10,000; the standard expects about "
        f"{d.expected_per_10k_residents:.2f}{flag}): its coverage more likely reflects "
        "missing data than a real shortfall; add an official facility list with --facilities"
    )


def _round(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else round(float(value), 4)
