"""Reproducible outputs: ``SOURCE_DATE_EPOCH`` fixes every time stamp lifecircle writes.

With the environment variable ``SOURCE_DATE_EPOCH`` set (seconds since 1970, the
reproducible-builds convention), two runs on the same inputs write byte-identical
files: ``summary.json``'s ``created`` is that moment and its stage timings are left
out (they go to the log), GeoPackages carry that moment as their change time, and
the map and report carry no other time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator

from .errors import ConfigError

__all__ = ["created_timestamp", "gdal_reproducible", "source_date_epoch"]


def source_date_epoch() -> int | None:
    """``SOURCE_DATE_EPOCH`` as an integer, or ``None`` when unset or empty.

    Raises
    ------
    ConfigError
        If the variable is set to something other than a non-negative integer.
    """
    raw = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ConfigError(
            "SOURCE_DATE_EPOCH",
            [
                f"must be a whole number of seconds since 1970-01-01 UTC, got {raw[:40]!r}; "
                "unset it or set e.g. SOURCE_DATE_EPOCH=1700000000"
            ],
        )
    return int(raw)


def created_timestamp() -> str:
    """The run's creation time (ISO 8601, UTC, seconds): ``SOURCE_DATE_EPOCH`` or now."""
    epoch = source_date_epoch()
    moment = (
        dt.datetime.now(dt.timezone.utc)
        if epoch is None
        else dt.datetime.fromtimestamp(epoch, dt.timezone.utc)
    )
    return moment.isoformat(timespec="seconds")


@contextlib.contextmanager
def gdal_reproducible() -> Iterator[None]:
    """Within the block, GDAL stamps files with ``SOURCE_DATE_EPOCH`` (if set)."""
    epoch = source_date_epoch()
    if epoch is None:
        yield
        return
    import pyogrio

    stamp = dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": stamp})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})
