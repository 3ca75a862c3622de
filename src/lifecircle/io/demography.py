"""Age data of population inputs: cohort counts, cohort shares and age bands.

A population file may carry, besides ``population``:

* ``pop_<cohort>``: residents of a cohort of the standard (persons, e.g. ``pop_age_3_5``);
* ``share_<cohort>``: their share of the residents (0-1);
* age bands ``age_<from>_<to>`` / ``age_<from>_plus`` (e.g. ``age_0_14``, ``age_15_64``,
  ``age_65_plus``, as in the census), as persons, shares (0-1) or percentages (0-100).
  Together they must cover every age without overlap: a cohort's residents are then
  derived from the bands it overlaps (:mod:`lifecircle.cohorts`).

:func:`demographic_fractions` turns each into a share of the row's residents, so the
shares follow the residents through the dasymetric allocation; it refuses values a
planner must fix (NaN, negative, above the total) by file, column and row.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..errors import InputFormatError
from .vector import examples

#: Prefix of the share columns carried from the input to the origins.
FRACTION_PREFIX = "frac_"

COHORT_COLUMN = re.compile(r"^(pop|share)_([a-z][a-z0-9_]*)$")
AGE_BAND_COLUMN = re.compile(r"^age_(\d{1,3})_(\d{1,3}|plus)$")

#: Relative tolerance of "the bands add up to the total".
BAND_SUM_RTOL = 0.01


def age_band(column: str) -> tuple[int, int | None] | None:
    """``(from, to)`` of an age-band column (``to`` None: open-ended), else None."""
    m = AGE_BAND_COLUMN.match(column)
    if not m:
        return None
    return int(m.group(1)), None if m.group(2) == "plus" else int(m.group(2))


def demographic_fractions(
    frame: pd.DataFrame, population: np.ndarray, labels: np.ndarray, *, source: str
) -> pd.DataFrame:
    """Each age column of ``frame`` as a share of the row's residents (``frac_<column>``).

    Parameters
    ----------
    frame
        The population table.
    population
        Residents per row (already checked).
    labels
        Row labels for messages.
    source
        The file, for messages.

    Returns
    -------
    pandas.DataFrame
        One ``frac_<column>`` per ``pop_*``, ``share_*`` or ``age_*`` column, in [0, 1]
        (0 where a row has no residents); empty when the file has none.

    Raises
    ------
    InputFormatError
        Non-numeric, NaN or negative values; a count above the row's population; a share
        above 1; bands that overlap, leave ages uncovered or do not add up.
    """
    out: dict[str, np.ndarray] = {}
    total = np.asarray(population, float)
    for col in frame.columns:
        m = COHORT_COLUMN.match(str(col))
        if m is None:
            continue
        values = _numbers(frame[col], labels, source, str(col))
        if m.group(1) == "pop":
            over = values > total * (1 + 1e-9) + 1e-6
            _refuse(over, labels, source, str(col), "is larger than the row's population")
            frac = np.divide(values, total, out=np.zeros_like(values), where=total > 0)
        else:
            over = values > 1 + 1e-9
            _refuse(over, labels, source, str(col), "is a share above 1 (give shares as 0-1)")
            frac = values
        out[f"{FRACTION_PREFIX}{col}"] = np.clip(frac, 0.0, 1.0)
    bands = sorted((age_band(str(c)), str(c)) for c in frame.columns if age_band(str(c)))
    if bands:
        _check_bands([b for b, _ in bands], source)  # type: ignore[misc]
        values = np.column_stack([_numbers(frame[c], labels, source, c) for _, c in bands])
        sums = values.sum(axis=1)
        counts = np.isclose(sums, total, rtol=BAND_SUM_RTOL, atol=1.0)
        shares = np.isclose(sums, 1.0, rtol=BAND_SUM_RTOL)
        percent = np.isclose(sums, 100.0, rtol=BAND_SUM_RTOL)
        empty = total <= 0
        bad = ~(counts | shares | percent | empty)
        names = ", ".join(c for _, c in bands)
        _refuse(
            bad,
            labels,
            source,
            names,
            "do not add up to the population, to 1 or to 100; give the age bands as "
            "persons, shares or percentages of the whole row",
        )
        # the bands cover every age, so each band's share is its value over the row's sum
        # (whatever the unit; this also absorbs rounding of published shares)
        safe = np.where(sums > 0, sums, 1.0)
        for j, (_, col) in enumerate(bands):
            out[f"{FRACTION_PREFIX}{col}"] = np.where(empty | (sums <= 0), 0.0, values[:, j] / safe)
    return pd.DataFrame(out, index=frame.index)


def _numbers(raw: pd.Series, labels: np.ndarray, source: str, column: str) -> np.ndarray:
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    _refuse(
        ~np.isfinite(values) | (values < 0),
        labels,
        source,
        column,
        "must be a finite, non-negative number (0 where there is nobody of that age)",
    )
    return values


def _refuse(bad: np.ndarray, labels: np.ndarray, source: str, column: str, what: str) -> None:
    if bad.any():
        msg = (
            f"{source}: column(s) {column} {what}; {int(bad.sum())} row(s) do not: "
            f"{examples([str(v) for v in labels[bad]])}. Fix these rows or drop the column"
        )
        raise InputFormatError(msg)


def _check_bands(bands: list[tuple[int, int | None]], source: str) -> None:
    """The bands must cover 0, 1, 2, ... without gaps or overlaps, ending open."""
    expect = 0
    for lo, hi in bands:
        if lo != expect or (hi is not None and hi < lo):
            msg = (
                f"{source}: the age-band columns (age_<from>_<to>, age_<from>_plus) must "
                f"cover every age from 0 without gaps or overlaps, e.g. age_0_14, age_15_64, "
                f"age_65_plus; found a band starting at {lo} where {expect} was expected"
            )
            raise InputFormatError(msg)
        if hi is None:
            expect = -1
            break
        expect = hi + 1
    if expect != -1:
        msg = (
            f"{source}: the last age band must be open-ended (age_<from>_plus, e.g. "
            "age_65_plus) so that every resident is in a band"
        )
        raise InputFormatError(msg)


def covers_every_age(bands: list[tuple[int, int | None]]) -> bool:
    """Whether sorted age bands cover every age from 0 without gaps, ending open."""
    try:
        _check_bands(bands, "")
    except InputFormatError:
        return False
    return True
