"""The vendored Leaflet builds and lifecircle's own templates, read for inlining.

See ``assets/README.md`` for where the vendored files come from. Every asset is a
constant file of the package: none holds data, and none is ever compiled as a
template. The map page is put together by :func:`fill_template` from the slots of
``assets/map.html``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"

_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)
_CSS_URL = re.compile(r"url\((images/[\w.-]+\.png)\)")
#: A slot of ``map.html``: ``<!--lc:name-->``.
_SLOT = re.compile(r"<!--lc:([a-z_]+)-->")
#: What must never appear inside an inlined ``<script>`` or ``<style>`` element: it
#: would end the element (or open an HTML comment in a script) early.
_BREAKS_OUT = re.compile(r"</(script|style)|<!--", re.IGNORECASE)


def read_text(name: str) -> str:
    """Text of an asset, e.g. ``"report.css"``."""
    return (ASSETS / name).read_text(encoding="utf-8")


def _inlinable(name: str, text: str) -> str:
    """``text`` if it can sit inside a ``<script>`` or ``<style>`` element, else raise."""
    if _BREAKS_OUT.search(text):
        msg = f"asset {name} cannot be inlined: it contains </script, </style or <!--"
        raise RuntimeError(msg)
    return text


def _script(name: str) -> str:
    """A vendored script without its source-map reference (nothing to fetch)."""
    return _inlinable(name, _SOURCE_MAP.sub("", read_text(name)))


@cache
def leaflet_js() -> str:
    """Leaflet's JavaScript, without its source-map reference (nothing to fetch)."""
    return _script("leaflet/leaflet.js")


@cache
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined as ``data:`` URIs."""

    def inline(match: re.Match[str]) -> str:
        data = (ASSETS / "leaflet" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    return _inlinable("leaflet.css", _CSS_URL.sub(inline, read_text("leaflet/leaflet.css")))


@cache
def markercluster_js() -> str:
    """Leaflet.markercluster's JavaScript, without its source-map reference."""
    return _script("markercluster/leaflet.markercluster.js")


@cache
def markercluster_css() -> str:
    """Leaflet.markercluster's structural stylesheet (animations; no images)."""
    return _inlinable("MarkerCluster.css", read_text("markercluster/MarkerCluster.css"))


@cache
def map_js() -> str:
    """The map script (``assets/map.js``): builds the layers from the data island."""
    return _inlinable("map.js", read_text("map.js"))


@cache
def map_css() -> str:
    """The map stylesheet (``assets/map.css``)."""
    return _inlinable("map.css", read_text("map.css"))


@cache
def _template(name: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A page template split at its slots: (literal parts, slot names between them)."""
    pieces = _SLOT.split(read_text(name))
    return tuple(pieces[0::2]), tuple(pieces[1::2])


def fill_template(name: str, values: Mapping[str, str]) -> str:
    """The page ``name`` (an asset) with each ``<!--lc:slot-->`` replaced by its value.

    The template is split at its slots once, before any value is seen, and the page
    is the literal parts and the values joined in order: a value is never searched
    for slots, parsed or compiled, whatever it contains. Each value must already be
    safe for where its slot sits (escaped text, a script-safe JSON island, or one of
    the package's own assets).

    Parameters
    ----------
    name
        Template asset, e.g. ``"map.html"``.
    values
        One string per slot of the template, by slot name.

    Returns
    -------
    str
        The page.

    Raises
    ------
    KeyError
        If ``values`` lacks a slot of the template or has one the template lacks.
    """
    literals, slots = _template(name)
    if set(slots) != set(values):
        msg = f"{name} has slots {sorted(set(slots))}, got values for {sorted(values)}"
        raise KeyError(msg)
    parts = [literals[0]]
    for slot, literal in zip(slots, literals[1:], strict=True):
        parts += [values[slot], literal]
    return "".join(parts)
