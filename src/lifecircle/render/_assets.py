"""The vendored Leaflet builds and lifecircle's own templates, read for inlining.

See ``assets/README.md`` for where the vendored files come from.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path
from typing import Any

import branca.element

ASSETS = Path(__file__).resolve().parent / "assets"

_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)
_CSS_URL = re.compile(r"url\((images/[\w.-]+\.png)\)")


def read_text(name: str) -> str:
    """Text of an asset, e.g. ``"report.css"``."""
    return (ASSETS / name).read_text(encoding="utf-8")


def _script(name: str) -> str:
    """A vendored script without its source-map reference (nothing to fetch)."""
    return _SOURCE_MAP.sub("", read_text(name))


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

    return _CSS_URL.sub(inline, read_text("leaflet/leaflet.css"))


@cache
def markercluster_js() -> str:
    """Leaflet.markercluster's JavaScript, without its source-map reference."""
    return _script("markercluster/leaflet.markercluster.js")


@cache
def markercluster_css() -> str:
    """Leaflet.markercluster's structural stylesheet (animations; no images)."""
    return read_text("markercluster/MarkerCluster.css")


class Raw(branca.element.Element):
    """Markup inserted verbatim into a folium page (not parsed as a Jinja template).

    Parameters
    ----------
    markup
        The HTML to insert, e.g. ``"<style>...</style>"``.
    """

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.markup = markup

    def render(self, **kwargs: Any) -> str:
        return self.markup
