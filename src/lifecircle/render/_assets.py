"""The vendored Leaflet build and lifecircle's own templates, read for inlining.

See ``assets/README.md`` for where the vendored files come from.
"""

from __future__ import annotations

import base64
import re
from functools import cache
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"

_SOURCE_MAP = re.compile(r"^\s*//# sourceMappingURL=.*$", re.MULTILINE)
_CSS_URL = re.compile(r"url\((images/[\w.-]+\.png)\)")


def read_text(name: str) -> str:
    """Text of an asset, e.g. ``"report.css"``."""
    return (ASSETS / name).read_text(encoding="utf-8")


@cache
def leaflet_js() -> str:
    """Leaflet's JavaScript, without its source-map reference (nothing to fetch)."""
    return _SOURCE_MAP.sub("", read_text("leaflet/leaflet.js"))


@cache
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined as ``data:`` URIs."""

    def inline(match: re.Match[str]) -> str:
        data = (ASSETS / "leaflet" / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    return _CSS_URL.sub(inline, read_text("leaflet/leaflet.css"))
