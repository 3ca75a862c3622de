"""The report's charts, drawn with matplotlib as inline SVG.

Text stays text (``svg.fonttype: none``) so the browser draws it with the page's
CJK font stack: Chinese labels render wherever the reader has a CJK font, even
if matplotlib itself has none (its "glyph missing" warnings are then moot and
silenced). No pyplot: each chart is its own :class:`matplotlib.figure.Figure`.

Labels are data (category and unit names from the planner's files): matplotlib
draws them as literal text (no mathtext, so ``$`` is a dollar sign) and writes
them XML-escaped; :func:`check_svg` then refuses any chart that could run script
(a ``<script>`` or ``<foreignObject>`` element, an ``on…`` attribute, a link
that leaves the document) before the report inlines it.
"""

from __future__ import annotations

import io
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import numpy as np
from matplotlib.figure import Figure

from ._style import share_colour

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

#: The page's font stack (CSS); matplotlib gets the same list for measuring text.
FONT_STACK = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "PingFang SC",
    "Microsoft YaHei",
    "WenQuanYi Zen Hei",
    "DejaVu Sans",
)
_RC: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",
    "text.parse_math": False,
    "svg.hashsalt": "lifecircle",
    "font.family": "sans-serif",
    "font.sans-serif": list(FONT_STACK),
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
}
_XML_PROLOGUE = re.compile(r"^.*?(?=<svg)", re.DOTALL)
#: Elements and attributes that could run script or fetch something.
_UNSAFE_TAGS = frozenset(
    {
        "script",
        "foreignObject",
        "iframe",
        "object",
        "embed",
        "image",
        "animate",
        "set",
        "handler",
        "listener",
    }
)
_HREF_ATTRS = frozenset({"href", "{http://www.w3.org/1999/xlink}href"})


@dataclass(frozen=True)
class Series:
    """One set of bars: a label, a value per bar, a colour."""

    label: str
    values: np.ndarray
    colour: str


@dataclass(frozen=True)
class Curve:
    """Walking times of residents to one category (NaN = beyond the search cut-off)."""

    label: str
    times: np.ndarray
    weights: np.ndarray
    colour: str
    threshold: float


def _svg(fig: Figure) -> str:
    """The figure as an inline ``<svg>`` element (natural size, shrinks to fit the page)."""
    buffer = io.StringIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    svg = _XML_PROLOGUE.sub("", buffer.getvalue(), count=1)
    return check_svg(svg.replace("<svg ", '<svg class="chart" ', 1))


def check_svg(svg: str) -> str:
    """Return ``svg`` if it is a well-formed SVG element that runs no script; else raise.

    The report inlines charts as markup, so this is the one place where text that
    passed through matplotlib reaches the page without Jinja2's escaping. The check
    parses the XML (text that escaped its element would not parse, or would appear as
    an element) and refuses script-capable elements, event-handler attributes and
    links other than to fragments of the document itself.

    Parameters
    ----------
    svg
        One ``<svg>`` element.

    Returns
    -------
    str
        ``svg``, unchanged.

    Raises
    ------
    ValueError
        If the chart is not well-formed or could run script or fetch something.
    """
    try:
        root = ET.fromstring(svg)  # our own matplotlib output: no DTD, no entities
    except ET.ParseError as exc:
        msg = f"chart SVG is not well-formed XML: {exc}"
        raise ValueError(msg) from exc
    if root.tag != "{http://www.w3.org/2000/svg}svg":
        msg = f"chart is not an <svg> element: {root.tag}"
        raise ValueError(msg)
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1] if isinstance(element.tag, str) else ""
        if tag in _UNSAFE_TAGS:
            msg = f"chart SVG holds a <{tag}> element"
            raise ValueError(msg)
        for name, value in element.attrib.items():
            local = name.rsplit("}", 1)[-1].lower()
            if local.startswith("on"):
                msg = f"chart SVG holds an event-handler attribute {local}"
                raise ValueError(msg)
            if name in _HREF_ATTRS and not value.startswith("#"):
                msg = f"chart SVG links outside the document: {value[:60]!r}"
                raise ValueError(msg)
    return svg


def _literal(label: str) -> str:
    """A label matplotlib shows as given (one starting with ``_`` would be left out)."""
    return "\u200b" + label if label.startswith("_") else label


def coverage_bars(
    labels: Sequence[str], shares: Sequence[float], *, title: str, xlabel: str
) -> str:
    """Horizontal bars of coverage per category, coloured like the map's legend.

    Parameters
    ----------
    labels
        One label per bar, top to bottom.
    shares
        Coverage 0-1 per bar.
    title, xlabel
        Chart title and axis label.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(8.4, 0.34 * len(labels) + 1.0))
        ax = fig.add_subplot()
        y = np.arange(len(labels))
        values = 100.0 * np.asarray(shares, float)
        ax.barh(
            y, values, color=[share_colour(s) for s in shares], edgecolor="#555555", linewidth=0.5
        )
        for yi, v in enumerate(values):  # bar yi is at y == yi
            ax.text(min(v, 100.0) + 1.0, yi, f"{v:.1f}%", va="center", fontsize=8.5)
        ax.set_yticks(y, list(labels))
        ax.invert_yaxis()
        ax.set_xlim(0, 110)
        ax.set_xticks(range(0, 101, 20))
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        return _svg(fig)


def cumulative_curves(
    curves: Sequence[Curve], *, max_minutes: float, title: str, xlabel: str, ylabel: str
) -> str:
    """Share of residents reaching each category within t minutes (population-weighted).

    Parameters
    ----------
    curves
        One per category; each curve is marked at its threshold.
    max_minutes
        Right end of the time axis.
    title, xlabel, ylabel
        Chart texts.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    grid = np.linspace(0.0, max_minutes, 181)
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(8.4, 3.8))
        ax = fig.add_subplot()
        for c in curves:
            order = np.argsort(np.nan_to_num(c.times, nan=np.inf))
            t_sorted = c.times[order]
            cum = np.concatenate([[0.0], np.cumsum(c.weights[order])]) / c.weights.sum()
            share = cum[np.searchsorted(t_sorted, grid, side="right")]
            ax.plot(grid, 100.0 * share, color=c.colour, linewidth=1.6, label=_literal(c.label))
            at = cum[np.searchsorted(t_sorted, c.threshold, side="right")]
            ax.plot(
                [c.threshold],
                [100.0 * at],
                "o",
                color=c.colour,
                markersize=5,
                markeredgecolor="white",
                markeredgewidth=0.8,
            )
        ax.set_xlim(0, max_minutes)
        ax.set_ylim(0, 101)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(color="#e3e3e3", linewidth=0.6)
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8.5)
        return _svg(fig)


def nested_bars(labels: Sequence[str], series: Sequence[Series], *, title: str, xlabel: str) -> str:
    """Horizontal bars drawn on top of each other, widest first (nested shares).

    Parameters
    ----------
    labels
        One label per row, top to bottom.
    series
        Shares 0-1 per row; each series is drawn narrower than the previous one,
        so nested values (5-min >= 10-min >= 15-min completeness) read as layers.
    title, xlabel
        Chart texts.

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(8.4, 0.3 * len(labels) + 1.3))
        ax = fig.add_subplot()
        y = np.arange(len(labels))
        for i, s in enumerate(series):
            ax.barh(
                y,
                100.0 * np.nan_to_num(s.values),
                height=0.8 - 0.2 * i,
                color=s.colour,
                label=_literal(s.label),
            )
        ax.set_yticks(y, list(labels))
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        ax.legend(
            loc="upper center",
            bbox_to_anchor=(0.5, -0.1),
            ncol=len(series),
            frameon=False,
            fontsize=8.5,
        )
        return _svg(fig)


def sequential_colours(n: int) -> list[str]:
    """``n`` greens from light to dark, for nested bars."""
    cmap = mpl.colormaps["Greens"]
    return [mpl.colors.to_hex(cmap(x)) for x in np.linspace(0.3, 0.85, n)]


@dataclass(frozen=True)
class Lorenz:
    """One Lorenz curve: cumulative shares of people (or units) and of what they get."""

    label: str
    weight_share: np.ndarray
    value_share: np.ndarray
    colour: str
    dashed: bool = False


def lorenz_curves(
    curves: Sequence[Lorenz], *, title: str, xlabel: str, ylabel: str, equal: str
) -> str:
    """Lorenz curves (worst served first) with the line of equal shares.

    Parameters
    ----------
    curves
        One per measure; points ``(weight_share, value_share)`` from 0 to 1.
    title, xlabel, ylabel
        Chart texts.
    equal
        Label of the diagonal (equal shares).

    Returns
    -------
    str
        An ``<svg>`` element.
    """
    with mpl.rc_context(_RC):
        fig = Figure(figsize=(8.4, 4.2))
        ax = fig.add_subplot()
        ax.plot([0, 100], [0, 100], color="#999999", linewidth=1.0, linestyle=":", label=equal)
        for c in curves:
            ax.plot(
                100.0 * np.asarray(c.weight_share, float),
                100.0 * np.asarray(c.value_share, float),
                color=c.colour,
                linewidth=2.0 if c.dashed else 1.5,
                linestyle="--" if c.dashed else "-",
                label=_literal(c.label),
            )
        ax.set_xlim(0, 100)
        ax.set_ylim(0, 100)
        ax.set_aspect("equal")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(color="#e3e3e3", linewidth=0.6)
        ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8.5)
        return _svg(fig)
