"""The ``lifecircle`` command. The only module that configures logging.

Every user mistake (a :class:`~lifecircle.errors.LifecircleError`) becomes a
one-paragraph message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

from . import __version__
from .errors import LifecircleError
from .settings import DEFAULT_OUT_DIR, MAX_SNAP_M

log = logging.getLogger("lifecircle")


def configure_logging(verbosity: int) -> None:
    """Log to stderr: -q errors only, default info, -v debug."""
    level = {-1: logging.ERROR, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr,
                        force=True)
    logging.getLogger("lifecircle").setLevel(level)


class _Group(click.Group):
    """Turn user mistakes into a message and exit code 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except LifecircleError as exc:
            click.echo(f"lifecircle: error: {exc}", err=True)
            ctx.exit(2)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lifecircle")
def cli() -> None:
    """Audit 15-minute community life circles: who cannot walk to what, per governance unit.

    Run `lifecircle audit` to audit the bundled central-Shanghai sample.
    """


@cli.command()
@click.option("--network", type=click.Path(path_type=Path),
              help="Street network: .osm.pbf, .osm/.osm.xml(.bz2) or osmnx .graphml. "
                   "Default: the bundled central-Shanghai sample.")
@click.option("--facilities", "facilities", multiple=True, type=click.Path(path_type=Path),
              help="Facility file (GeoJSON/GPKG with a `category` column or OSM tags; CSV "
                   "with lon,lat,category,name). Repeatable; merged with the network's POIs.")
@click.option("--units", type=click.Path(path_type=Path),
              help="Governance-unit polygons with unit_id, name, parent_id.")
@click.option("--unit-levels", default=None,
              help="Comma-separated id columns, one per level, coarsest first "
                   "(instead of unit_id/parent_id).")
@click.option("--population", type=click.Path(path_type=Path),
              help="Polygons with a `population` column (e.g. census by street/town).")
@click.option("--standard", default="gb50180-2018", show_default=True,
              help="Bundled standard name or a YAML file (see `lifecircle standards`).")
@click.option("--profile", default=None,
              help="Walking-speed profile: adult, elderly, child (default: the standard's).")
@click.option("--categories", default=None,
              help="Comma-separated category ids to audit (default: all with facilities).")
@click.option("--no-osm-pois", is_flag=True,
              help="Do not read facilities from the network file's POIs.")
@click.option("--min-component-nodes", type=click.IntRange(min=1), default=None,
              help="Also keep network components of at least this many nodes "
                   "(default: only the largest).")
@click.option("--max-snap-m", type=click.FloatRange(min=0, min_open=True), default=MAX_SNAP_M,
              show_default=True, help="Exclude points farther than this from the network.")
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT_DIR,
              show_default=True, help="Output folder.")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Language of maps and reports.")
@click.option("--no-map", is_flag=True, help="Skip the map and report stage.")
@click.option("-v", "--verbose", "verbosity", flag_value=1, help="Show debug messages.")
@click.option("-q", "--quiet", "verbosity", flag_value=-1, help="Only errors; no progress.")
def audit(network: Path | None, facilities: tuple[Path, ...], units: Path | None,
          unit_levels: str | None, population: Path | None, standard: str,
          profile: str | None, categories: str | None, no_osm_pois: bool,
          min_component_nodes: int | None, max_snap_m: float, out: Path, lang: str,
          no_map: bool, verbosity: int | None) -> None:
    """Audit walking access to life-circle facilities and write the results to --out.

    With no arguments: the bundled central-Shanghai sample, GB 50180-2018, adult
    walking speed, results in ./lifecircle-out/.
    """
    from .pipeline import audit as run_audit

    verbosity = verbosity or 0
    configure_logging(verbosity)
    result = run_audit(
        network, list(facilities) or None, units, population,
        standard=standard, profile=profile,
        categories=[c.strip() for c in categories.split(",") if c.strip()]
        if categories else None,
        osm_pois=not no_osm_pois,
        unit_levels=[c.strip() for c in unit_levels.split(",")] if unit_levels else None,
        min_component_nodes=min_component_nodes, max_snap_m=max_snap_m,
        progress=verbosity >= 0,
    )
    written = result.write(out)
    if not no_map:
        log.warning("map and report are not built yet (see issue: interactive map and "
                    "report); wrote the data outputs only")
    s = result.summary
    for warning in s["warnings"]:
        log.warning("warning: %s", warning)
    if verbosity >= 0:
        click.echo(_headline(s, result.standard))
        click.echo(f"wrote {', '.join(p.name for p in written)} to {out}")


def _headline(summary: dict, standard: object) -> str:
    lines = [
        f"{summary['standard']['title']} - profile {summary['profile']['id']} "
        f"({summary['profile']['speed_m_s']} m/s)",
        f"residents analysed: {summary['population']['total']:,.0f} in "
        f"{summary['units']['analysed'][summary['units']['levels'][-1]]} "
        f"{summary['units']['levels'][-1]} units",
    ]
    for level, share in summary["complete_by_level"].items():
        lines.append(f"  complete {level} life circle: {share:.1%}")
    lines.append("  coverage by category:")
    for cat, share in sorted(summary["coverage"].items(), key=lambda kv: kv[1]):
        minutes = summary["thresholds"][cat]["minutes"]
        lines.append(f"    {cat:<22} {share:6.1%} within {minutes:g} min")
    return "\n".join(lines)


@cli.command()
@click.argument("name", required=False)
def standards(name: str | None) -> None:
    """List the bundled standards, or show one (NAME or a YAML path)."""
    from .config import list_standards, load_standard

    if not name:
        for std_name in list_standards():
            std = load_standard(std_name)
            click.echo(f"{std_name:<16} {std.title_en} ({len(std.categories)} categories)")
        return
    std = load_standard(name)
    click.echo(f"{std.id}: {std.title_en} / {std.title_zh}")
    click.echo(f"source: {std.source}")
    click.echo("profiles: " + ", ".join(
        f"{p.id} {p.speed_m_s} m/s{'' if p.verified else ' (unverified)'}"
        for p in std.profiles.values()))
    click.echo(f"{'category':<22} {'name':<28} {'level':<6} {'min':>4} {'req':<4} verified")
    for c in std.categories:
        click.echo(f"{c.id:<22} {c.name_en + ' ' + c.name_zh:<28} {c.level:<6} "
                   f"{c.threshold_min:>4g} {'yes' if c.mandatory else 'no':<4} "
                   f"{'yes' if c.verified else 'no'}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print paths as JSON.")
def datasets(as_json: bool) -> None:
    """List the bundled sample datasets and their files."""
    from .datasets import SAMPLES, get_path

    for name in SAMPLES:
        paths = {k: str(v) for k, v in get_path(name).items()}
        if as_json:
            click.echo(json.dumps({name: paths}, ensure_ascii=False))
            continue
        click.echo(f"{name}: {SAMPLES[name]['description']}")
        for key, path in paths.items():
            click.echo(f"  {key:<11} {path}")


def main() -> None:
    """Entry point of the ``lifecircle`` script."""
    cli(prog_name="lifecircle")
