"""Target populations: how many residents of each category's cohort live at each origin.

A category serves a cohort of the standard (kindergarten: children aged 3-5; elderly
care: residents aged 60 and over; most categories: every resident). Per origin, a
cohort's residents come from the population input, in this order:

1. **given**: a ``pop_<cohort>`` (persons) or ``share_<cohort>`` (0-1) column of the
   population file, carried to the origins as a share of each polygon's residents;
2. **age bands**: the file's age bands (e.g. the census's 0-14, 15-64 and 65+), with
   residents assumed spread evenly over the single years of each band, and an
   open-ended band ending at :data:`OPEN_BAND_END` (a stated simplification: real age
   pyramids are not flat, and Shanghai's younger cohorts are smaller than the older
   ones of the same band, so young cohorts are over-estimated);
3. **none**: without age data, the cohort's figures fall back to every resident, and
   the outputs say so.

Every origin keeps its total ``population``; cohort columns are ``pop_<cohort>``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._standard_cohorts import ALL
from .columns import pop
from .config import Cohort, Standard
from .io.demography import FRACTION_PREFIX, age_band

#: Age at which an open-ended band (``age_65_plus``) is taken to end, for the even
#: spread of rule 2.
OPEN_BAND_END = 100

GIVEN, AGE_BANDS, NONE = "given", "age bands", "none"


@dataclass(frozen=True)
class CohortMethod:
    """How one cohort's residents were found."""

    cohort: str
    method: str  # given | age bands | none
    text: str
    columns: tuple[str, ...] = ()
    text_zh: str = ""

    def to_json(self) -> dict[str, object]:
        """Plain dict for summary.json."""
        return {
            "method": self.method,
            "text": self.text,
            "text_zh": self.text_zh,
            "columns": list(self.columns),
        }


def cohorts_of(standard: Standard, categories: list[str]) -> list[str]:
    """The cohorts (other than every resident) that ``categories`` serve, in standard order."""
    used = {standard.category(c).cohort for c in categories}
    return [k for k in standard.cohorts if k in used and k != ALL]


def cohort_populations(
    origins: pd.DataFrame, standard: Standard, categories: list[str]
) -> tuple[pd.DataFrame, dict[str, CohortMethod]]:
    """Residents of each cohort the audited categories serve, per origin.

    Parameters
    ----------
    origins
        One row per origin with ``population`` and the ``frac_<column>`` shares carried
        from the population input (:mod:`lifecircle.io.demography`).
    standard
        The cohorts and which category serves which.
    categories
        The audited categories.

    Returns
    -------
    populations : pandas.DataFrame
        ``pop_<cohort>`` per cohort (index aligned with ``origins``).
    methods : dict
        Per cohort, how its residents were found (:class:`CohortMethod`).
    """
    total = origins["population"].to_numpy(float)
    bands = _bands(origins)
    out: dict[str, np.ndarray] = {}
    methods: dict[str, CohortMethod] = {}
    for cid in cohorts_of(standard, categories):
        cohort = standard.cohorts[cid]
        for given in (f"{FRACTION_PREFIX}pop_{cid}", f"{FRACTION_PREFIX}share_{cid}"):
            if given in origins.columns:
                out[pop(cid)] = total * origins[given].to_numpy(float)
                name = given.removeprefix(FRACTION_PREFIX)
                methods[cid] = CohortMethod(
                    cid,
                    GIVEN,
                    f"given in the population input ({name})",
                    (name,),
                    f"由人口数据直接给出（{name}）",
                )
                break
        else:
            if bands:
                share, used = _share_from_bands(cohort, bands, origins)
                out[pop(cid)] = total * share
                methods[cid] = CohortMethod(
                    cid,
                    AGE_BANDS,
                    f"ages {cohort.ages()} derived from the age bands {', '.join(used)}, "
                    "residents spread evenly over the years of each band (open-ended band "
                    f"taken to end at {OPEN_BAND_END})",
                    tuple(used),
                    f"{cohort.ages()}岁人口由年龄段 {'、'.join(used)} 推算，假定各年龄段内"
                    f"人口按单岁均匀分布（开放年龄段按至{OPEN_BAND_END}岁计）",
                )
            else:
                out[pop(cid)] = total.copy()
                methods[cid] = CohortMethod(
                    cid,
                    NONE,
                    "no age data in the population input: figures for this cohort count "
                    "every resident; give age bands or pop_/share_ columns",
                    (),
                    "人口数据无年龄信息：该人群的指标按全体居民计算；请提供年龄段或 pop_/share_ 列",
                )
    return pd.DataFrame(out, index=origins.index), methods


def _bands(origins: pd.DataFrame) -> list[tuple[int, int | None, str]]:
    found = []
    for col in origins.columns:
        name = str(col).removeprefix(FRACTION_PREFIX)
        band = age_band(name) if str(col).startswith(FRACTION_PREFIX) else None
        if band is not None:
            found.append((band[0], band[1], str(col)))
    return sorted(found, key=lambda b: b[0])


def _share_from_bands(
    cohort: Cohort, bands: list[tuple[int, int | None, str]], origins: pd.DataFrame
) -> tuple[np.ndarray, list[str]]:
    """The cohort's share of each origin's residents, from the bands it overlaps."""
    lo = cohort.min_age
    hi = OPEN_BAND_END if cohort.max_age is None else cohort.max_age
    share = np.zeros(len(origins))
    used = []
    for b_lo, b_hi, col in bands:
        end = OPEN_BAND_END if b_hi is None else b_hi
        if b_hi is None and cohort.max_age is None and lo <= b_lo:
            part = 1.0  # the whole open band
        else:
            years = max(0, min(hi, end) - max(lo, b_lo) + 1)
            part = years / max(end - b_lo + 1, 1)
        if part > 0:
            share += part * origins[col].to_numpy(float)
            used.append(col.removeprefix(FRACTION_PREFIX))
    return np.clip(share, 0.0, 1.0), used
