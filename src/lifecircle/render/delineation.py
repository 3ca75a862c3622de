"""The life-circle units page (``lifecircle delineate``): one self-contained HTML file.

A map, then a report under it:

* the **map** (the audit map's Leaflet build and ``assets/map.js``, inlined): the
  life-circle units coloured by their population against the standard's range
  (within, below, above), with a tooltip each (id, residents, area, mean and maximum
  walk to the centre, blocks); the parent governance units as outlines on top; the
  centres as small markers; the building blocks as a faint layer, off at first
  (:mod:`lifecircle.render._delineation_map`);
* the **report** (styled as :mod:`lifecircle.render.report`): the level, the range and
  its source (marked "(unverified)" when it is), the solver's status, gap and time,
  the share of units within the range, the governance units compared with the
  life-circle units (split / matched / merged, residents, number of units, smallest
  and largest unit, why the range cannot hold) and the life-circle units
  (:mod:`lifecircle.render._delineation_report`).

How the page is made, as for the audit's map and report: the page is a constant
Jinja2 template (:data:`TEMPLATE`, autoescaping on) that receives the constant assets,
the report's plain-text values (escaped by the template) and the map's data as one JSON
data island (:func:`lifecircle.render.map.script_json`), which ``map.js`` parses. The
tooltips, layer names and legend in the island are HTML built with every data string
escaped once. No data string is ever template or script source, and the page requests
nothing but basemap tiles (none with ``basemap="none"``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from . import _assets
from ._delineation_map import DelineationMap
from ._delineation_report import block_source_text, level_text, report_context
from ._delineation_text import t
from ._page import write_html
from ._text import check_lang, count
from .map import _DATA_ATTRIBUTION, BASEMAPS, script_json

if TYPE_CHECKING:
    from ..delineate import Delineation

__all__ = ["build_delineation_html", "write_delineation_html"]

logger = logging.getLogger(__name__)

#: The page's own layout (constant): the map a band across the top, the report under it.
_LAYOUT_CSS = """
html, body { height: auto; }
body { max-width: none; margin: 0; padding: 0; }
#lc-map { position: relative; height: 72vh; min-height: 420px;
          border-bottom: 1px solid var(--rule); }
main.lc-report { max-width: 1060px; margin: 0 auto; padding: 8px 28px 60px; }
.card { border-top-color: var(--muted); }
td .swatch { border-radius: 2px; }
table.units td:nth-child(4) { white-space: nowrap; }
@media print { #lc-map { height: 60vh; break-after: page; } main.lc-report { padding: 0; } }
"""

#: The page (constant; every value is escaped by autoescaping, except the constant
#: assets and the script-safe JSON island, marked ``safe``).
TEMPLATE = """<!DOCTYPE html>
{% macro cell(c, num, swatch=none) -%}
<td{% if num %} class="num"{% endif %} data-v="{{ c.key }}">
{%- if swatch %}<span class="swatch" style="background: {{ swatch }}"></span>{% endif -%}
{%- if c.flag %}<span class="flag">{{ c.shown }}</span>{% else %}{{ c.shown }}{% endif -%}
{%- if c.sub %} <span class="parent">{{ c.sub }}</span>{% endif -%}
</td>
{%- endmacro %}
{% macro head(table) -%}
<thead><tr>
{% for h in table.head %}
<th{% if table.num[loop.index0] %} class="num"{% endif %}>{{ h }}</th>
{% endfor %}
</tr></thead>
{%- endmacro %}
<html lang="{{ 'zh-CN' if lang == 'zh' else 'en' }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="lifecircle">
<title>{{ title }}</title>
<style>{{ leaflet_css|safe }}</style>
<style>{{ map_css|safe }}</style>
<style>{{ report_css|safe }}</style>
<style>{{ layout_css|safe }}</style>
</head>
<body>
<div id="lc-map"></div>
<noscript><p class="lc-noscript">
This map needs JavaScript. 这张地图需要启用 JavaScript。
</p></noscript>
<main class="lc-report">
<header>
  <h1>{{ title }}</h1>
  <p class="subtitle">{{ subtitle }}</p>
</header>
<section id="summary">
  <h2>{{ t('sec_summary') }}</h2>
  <div class="cards">
    {% for c in r.cards %}
    <div class="card"{% if c.colour %} style="border-top-color: {{ c.colour }}"{% endif %}>
      <div class="big">{{ c.big }}</div><div>{{ c.label }}</div></div>
    {% endfor %}
  </div>
  <p class="lead">{{ r.in_range }}</p>
  <dl class="solver">
    {% for label, value in r.facts %}<dt>{{ label }}</dt><dd>{{ value }}</dd>
    {% endfor %}
  </dl>
  <ul class="scope">{% for n in r.notes %}<li>{{ n }}</li>{% endfor %}</ul>
  {% if r.unverified %}<p class="note unverified">{{ r.unverified }}</p>{% endif %}
</section>
<section id="governance">
  <h2>{{ t('sec_governance') }}</h2>
  <p class="note">{{ r.governance.note }}</p>
  <div class="scroll"><table class="governance">
    {{ head(r.governance) }}
    <tbody>
    {% for row in r.governance.rows %}
    <tr>
    {% for c in row %}{{ cell(c, r.governance.num[loop.index0]) }}{% endfor %}
    </tr>
    {% endfor %}
    </tbody>
  </table></div>
</section>
<section id="units">
  <h2>{{ t('sec_units') }}</h2>
  <p class="note">{{ r.units.note }}</p>
  <div class="scroll"><table class="units">
    {{ head(r.units) }}
    <tbody>
    {% for row in r.units.rows %}
    <tr>
    {% for c in row.cells %}
    {{ cell(c, r.units.num[loop.index0], row.colour if loop.index0 == 3 else none) }}
    {% endfor %}
    </tr>
    {% endfor %}
    </tbody>
  </table></div>
</section>
</main>
<script type="application/json" id="lc-data">{{ data|safe }}</script>
<script>{{ leaflet_js|safe }}</script>
<script>{{ map_js|safe }}</script>
</body>
</html>
"""


def write_delineation_html(
    d: Delineation, path: Path, *, lang: str = "en", basemap: str = "osm"
) -> Path:
    """Write the life-circle units page (map and report) as one self-contained HTML file.

    Parameters
    ----------
    d
        The life-circle units of one level (:class:`~lifecircle.delineate.Delineation`).
    path
        The HTML file to write (atomically), e.g. ``delineation.html``.
    lang
        ``"en"`` or ``"zh"``: language of every label, legend, tooltip and table.
    basemap
        ``"osm"`` (OpenStreetMap tiles), ``"amap"`` (Gaode tiles; every layer is
        shifted to GCJ-02 to line up with them) or ``"none"`` (no tiles, no network).

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        If ``lang`` or ``basemap`` is not one of the accepted values.

    Examples
    --------
    >>> from lifecircle.render.delineation import write_delineation_html
    >>> write_delineation_html(result, Path("delineation.html"), lang="zh")  # doctest: +SKIP
    """
    page = build_delineation_html(d, lang=lang, basemap=basemap)
    logger.info("delineation: writing %s (%s bytes)", path, f"{len(page.encode('utf-8')):,}")
    return write_html(path, page)


def build_delineation_html(d: Delineation, *, lang: str = "en", basemap: str = "osm") -> str:
    """The life-circle units page as a string (see :func:`write_delineation_html`)."""
    check_lang(lang)
    if basemap not in BASEMAPS:
        msg = f"basemap must be one of {', '.join(BASEMAPS)}, got {basemap!r}"
        raise ValueError(msg)
    level = level_text(d, lang)
    title = t("page_title", lang, level=level)
    subtitle = t(
        "page_sub",
        lang,
        n=count(len(d.units)),
        blocks=count(len(d.blocks)),
        source=block_source_text(d.block_source, lang),
    )
    data = DelineationMap(d, lang, gcj02=basemap == "amap").data(
        BASEMAPS[basemap], {"title": title, "sub": subtitle}, _DATA_ATTRIBUTION
    )
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def label(key: str, **values: Any) -> str:
        return t(key, lang, **values)

    return env.from_string(TEMPLATE).render(
        lang=lang,
        t=label,
        title=title,
        subtitle=subtitle,
        r=report_context(d, lang),
        data=script_json(data),
        leaflet_css=_assets.leaflet_css(),
        map_css=_assets.map_css(),
        report_css=_assets.read_text("report.css"),
        layout_css=_LAYOUT_CSS,
        leaflet_js=_assets.leaflet_js(),
        map_js=_assets.map_js(),
    )
