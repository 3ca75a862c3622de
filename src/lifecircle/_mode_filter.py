"""Which OSM ways each travel mode may use (the network filter of a mode).

One rule per mode, applied to a way's tags by :func:`way_allowed`, for OSM files
(:func:`lifecircle.io.osm.read_walk_ways`) and osmnx GraphML edges alike:

* ``walk``: a walkable ``highway`` (:data:`~lifecircle.settings.WALKABLE_HIGHWAYS`) and no
  ``foot``/``access`` ban (unchanged from the first version);
* ``bicycle`` and ``ebike``: cycleways, tracks and roads open to cycles
  (:data:`~lifecircle.settings.CYCLABLE_HIGHWAYS`); footway-only links and trunk roads only
  with ``bicycle=yes|designated|permissive``; motorways never; no ``bicycle``/``access``
  ban.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .errors import ConfigError
from .settings import (
    BICYCLE_ALLOWED,
    CYCLABLE_HIGHWAYS,
    CYCLABLE_IF_ALLOWED,
    NEVER_CYCLABLE,
    NOT_CYCLABLE_TAGS,
    NOT_WALKABLE_TAGS,
    TRAVEL_MODES,
    WALKABLE_HIGHWAYS,
)

#: A way's tag values by key (a list when osmnx merged several ways into one edge).
TagGetter = Callable[[str], Iterable[Any]]


def check_mode(mode: str) -> str:
    """``mode`` if it is a travel mode, else a :class:`~lifecircle.errors.ConfigError`."""
    if mode not in TRAVEL_MODES:
        msg = f"unknown travel mode {mode!r}; choose one of: {', '.join(TRAVEL_MODES)}"
        raise ConfigError("mode", [msg])
    return mode


def tag_keys(mode: str) -> tuple[str, ...]:
    """The tag keys :func:`way_allowed` reads for ``mode``: its answer depends on no other.

    Examples
    --------
    >>> tag_keys("walk")[0]
    'highway'
    """
    if mode == "walk":
        return ("highway", *NOT_WALKABLE_TAGS)
    check_mode(mode)
    return ("highway", *NOT_CYCLABLE_TAGS, "bicycle")


def way_allowed(mode: str, values: TagGetter) -> bool:
    """Whether a way with these tags belongs to ``mode``'s network.

    Parameters
    ----------
    mode
        ``walk``, ``bicycle`` or ``ebike``.
    values
        ``values(key)`` gives the way's values of tag ``key`` (empty or ``[None]``
        when absent; several for an osmnx edge merged from several ways, where any
        allowed ``highway`` and no banned value decide).

    Returns
    -------
    bool

    Examples
    --------
    >>> tags = {"highway": "footway", "bicycle": "yes"}
    >>> way_allowed("bicycle", lambda k: [tags.get(k)])
    True
    >>> way_allowed("bicycle", lambda k: [{"highway": "footway"}.get(k)])
    False
    """
    highways = [h for h in values("highway") if h is not None]
    if mode == "walk":
        if not any(h in WALKABLE_HIGHWAYS for h in highways):
            return False
        return not any(v in bad for key, bad in NOT_WALKABLE_TAGS.items() for v in values(key))
    check_mode(mode)
    if not highways or any(h in NEVER_CYCLABLE for h in highways):
        return False
    if any(v in bad for key, bad in NOT_CYCLABLE_TAGS.items() for v in values(key)):
        return False
    if any(h in CYCLABLE_HIGHWAYS for h in highways):
        return True
    allowed = any(v in BICYCLE_ALLOWED for v in values("bicycle"))
    return allowed and any(h in CYCLABLE_IF_ALLOWED for h in highways)
