"""What if facilities closed? ``lifecircle audit --close FILE``.

The audit is run twice on the same inputs, with and without the listed facilities
(by ``facility_id`` of ``facilities.gpkg``), so "after" follows exactly the same
rules as "before"; :func:`closure_table` compares the two per unit and category
for each category's own cohort. The outputs of a ``--close`` run describe the city
after the closure, plus ``closure.csv``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import columns
from ._standard_cohorts import ALL
from .config import Standard
from .errors import InputFileError, InputFormatError
from .io.vector import examples

ID_COLUMN = "facility_id"


def read_closed_ids(path: str | Path, facility_ids: pd.Series) -> np.ndarray:
    """The ``facility_id`` values listed in ``path`` (CSV, Excel or a vector file).

    Raises
    ------
    InputFileError
        The file is missing.
    InputFormatError
        No ``facility_id`` column, ids that are not whole numbers, or ids that are not
        facilities of this audit (named, with the fix).
    """
    path = Path(path)
    if not path.is_file():
        msg = f"{path}: --close file does not exist; give a CSV with a facility_id column"
        raise InputFileError(msg)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        frame = pd.read_csv(path, dtype=str, encoding="utf-8-sig")
    elif suffix in {".xlsx", ".xls"}:
        frame = pd.read_excel(path, dtype=str)
    else:
        import pyogrio

        frame = pyogrio.read_dataframe(path, read_geometry=False)
    lower = {str(c).strip().lower(): c for c in frame.columns}
    if ID_COLUMN not in lower:
        msg = (
            f"{path}: no {ID_COLUMN!r} column; list the facilities to close by the "
            f"{ID_COLUMN} of facilities.gpkg (one per row)"
        )
        raise InputFormatError(msg)
    raw = frame[lower[ID_COLUMN]].astype("string").str.strip()
    raw = raw[raw.notna() & (raw != "")]
    ids = pd.to_numeric(raw, errors="coerce")
    bad = ids.isna() | (ids != ids.round())
    if bad.any():
        msg = (
            f"{path}: column {ID_COLUMN!r} must hold whole numbers; these do not: "
            f"{examples(raw[bad].tolist())}. Fix or remove those rows"
        )
        raise InputFormatError(msg)
    wanted = ids.astype("int64").to_numpy()
    unknown = sorted(set(wanted.tolist()) - set(facility_ids.astype("int64").tolist()))
    if unknown:
        msg = (
            f"{path}: {len(unknown)} {ID_COLUMN} values are not facilities of this audit: "
            f"{examples([str(u) for u in unknown])}. Take the ids from facilities.gpkg of "
            "an audit of the same inputs"
        )
        raise InputFormatError(msg)
    return np.unique(wanted)


def _covered(table: pd.DataFrame, standard: Standard, cat: str) -> tuple[pd.Series, pd.Series]:
    """Cohort residents and covered cohort residents per unit (index unit_id)."""
    cohort = standard.category(cat).cohort
    t = table.set_index(table["unit_id"].astype(str))
    if cohort != ALL and columns.pop(cohort) in t.columns:
        people = t[columns.pop(cohort)].astype(float)
        share = t[columns.cohort_cov(cat)].astype(float)
    else:
        people = t["population"].astype(float)
        share = t[columns.cov(cat)].astype(float)
    return people, people * share


def closure_table(
    before: dict[str, pd.DataFrame],
    after: dict[str, pd.DataFrame],
    standard: Standard,
    categories: list[str],
) -> pd.DataFrame:
    """Per unit and category, the cohort residents covered before and after a closure.

    Only the rows where coverage changed are kept, largest loss first.
    """
    names = [name for name, _ in columns.OUTPUTS["closure.csv"].columns]
    rows = []
    for level, table in after.items():
        for cat in categories:
            people, covered_after = _covered(table, standard, cat)
            _, covered_before = _covered(before[level], standard, cat)
            covered_before = covered_before.reindex(people.index)
            frame = pd.DataFrame(
                {
                    "unit_id": people.index,
                    "name": table["name"].to_numpy(),
                    "level": level,
                    "category": cat,
                    "cohort": standard.category(cat).cohort,
                    "cohort_population": people.round(1).to_numpy(),
                    "covered_before": covered_before.round(1).to_numpy(),
                    "covered_after": covered_after.round(1).to_numpy(),
                }
            )
            frame["lose_coverage"] = (frame["covered_before"] - frame["covered_after"]).round(1)
            den = frame["cohort_population"].where(frame["cohort_population"] > 0)
            frame["share_before"] = (frame["covered_before"] / den).round(4)
            frame["share_after"] = (frame["covered_after"] / den).round(4)
            rows.append(frame[frame["lose_coverage"].abs() > 0.05])
    if not rows:
        return pd.DataFrame(columns=names)
    out = pd.concat(rows, ignore_index=True)
    return out.sort_values(
        ["lose_coverage", "level", "unit_id", "category"],
        ascending=[False, True, True, True],
        kind="stable",
    ).reset_index(drop=True)[names]


def closure_summary(
    path: str | Path,
    closed: np.ndarray,
    facilities: pd.DataFrame,
    before: dict[str, Any],
    after: dict[str, Any],
) -> dict[str, Any]:
    """summary.json's ``closure``: what was closed and the city-wide change per category."""
    fac = facilities[facilities["facility_id"].isin(closed)]
    return {
        "file": str(path),
        "closed": [
            {"facility_id": int(i), "category": str(c), "name": None if pd.isna(n) else str(n)}
            for i, c, n in zip(fac["facility_id"], fac["category"], fac["name"], strict=True)
        ],
        "coverage_before": before,
        "coverage_after": after,
    }
