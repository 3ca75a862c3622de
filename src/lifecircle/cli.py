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


_INPUT_OPTIONS = [
    click.option("--network", type=click.Path(path_type=Path),
                 help="Street network: .osm.pbf, .osm/.osm.xml(.bz2) or osmnx .graphml. "
                      "Default: the bundled central-Shanghai sample."),
    click.option("--facilities", "facilities", multiple=True, type=click.Path(path_type=Path),
                 help="Facility file (GeoJSON/GPKG with a `category` column or OSM tags; CSV "
                      "with lon,lat,category,name). Repeatable; merged with the network's POIs."),
    click.option("--units", type=click.Path(path_type=Path),
                 help="Governance-unit polygons with unit_id, name, parent_id."),
    click.option("--unit-levels", default=None,
                 help="Comma-separated id columns, one per level, coarsest first "
                      "(instead of unit_id/parent_id)."),
    click.option("--population", type=click.Path(path_type=Path),
                 help="Polygons with a `population` column (e.g. census by street/town)."),
    click.option("--standard", default="gb50180-2018", show_default=True,
                 help="Bundled standard name or a YAML file (see `lifecircle standards`)."),
    click.option("--profile", default=None,
                 help="Walking-speed profile: adult, elderly, child (default: the standard's)."),
    click.option("--categories", default=None,
                 help="Comma-separated category ids to audit (default: all with facilities)."),
    click.option("--no-osm-pois", is_flag=True,
                 help="Do not read facilities from the network file's POIs."),
    click.option("--min-component-nodes", type=click.IntRange(min=1), default=None,
                 help="Also keep network components of at least this many nodes "
                      "(default: only the largest)."),
    click.option("--max-snap-m", type=click.FloatRange(min=0, min_open=True),
                 default=MAX_SNAP_M, show_default=True,
                 help="Exclude points farther than this from the network."),
    click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT_DIR,
                 show_default=True, help="Output folder."),
    click.option("-v", "--verbose", "verbosity", flag_value=1, help="Show debug messages."),
    click.option("-q", "--quiet", "verbosity", flag_value=-1,
                 help="Only errors; no progress."),
]


def _input_options(func):  # noqa: ANN001, ANN202 - click decorator
    for option in reversed(_INPUT_OPTIONS):
        func = option(func)
    return func


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _run_audit(opts: dict) -> object:
    """Configure logging and run the audit from the shared input options."""
    from .pipeline import audit as run_audit

    verbosity = opts["verbosity"] or 0
    configure_logging(verbosity)
    return run_audit(
        opts["network"], list(opts["facilities"]) or None, opts["units"], opts["population"],
        standard=opts["standard"], profile=opts["profile"],
        categories=_split(opts["categories"]), osm_pois=not opts["no_osm_pois"],
        unit_levels=_split(opts["unit_levels"]),
        min_component_nodes=opts["min_component_nodes"], max_snap_m=opts["max_snap_m"],
        progress=verbosity >= 0,
    )


@cli.command()
@_input_options
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="Language of maps and reports.")
@click.option("--no-map", is_flag=True, help="Skip the map and report stage.")
def audit(lang: str, no_map: bool, **opts: object) -> None:
    """Audit walking access to life-circle facilities and write the results to --out.

    With no arguments: the bundled central-Shanghai sample, GB 50180-2018, adult
    walking speed, results in ./lifecircle-out/.
    """
    result = _run_audit(opts)
    out = opts["out"]
    written = result.write(out)
    if not no_map:
        log.warning("map and report are not built yet (see issue: interactive map and "
                    "report); wrote the data outputs only")
    for warning in result.summary["warnings"]:
        log.warning("warning: %s", warning)
    if (opts["verbosity"] or 0) >= 0:
        click.echo(_headline(result.summary))
        click.echo(f"wrote {', '.join(p.name for p in written)} to {out}")


@cli.command()
@_input_options
@click.option("--category", required=True, help="Category to site, e.g. kindergarten.")
@click.option("--sites", type=int, default=None, help="Number of new sites (MCLP).")
@click.option("--target-coverage", type=float, default=None,
              help="Share of residents to cover with the fewest sites (set covering).")
@click.option("--objective", type=click.Choice(["coverage", "distance"]), default="coverage",
              show_default=True, help="distance = p-median (minimise total walking distance).")
@click.option("--candidates", default="auto", show_default=True,
              help="'auto' (clusters of uncovered residents) or a file of points/parcels.")
@click.option("--n-candidates", type=click.IntRange(min=1), default=300, show_default=True,
              help="Number of auto candidates.")
@click.option("--min-spacing-m", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Auto candidates keep this distance from existing facilities.")
@click.option("--capacity", type=float, default=None,
              help="Residents one new site can serve.")
@click.option("--min-unit-coverage", type=float, default=None,
              help="Coverage floor every finest governance unit should reach (0-1).")
@click.option("--time-limit", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True, help="Solver time limit in seconds.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of auto candidates.")
def optimize(category: str, sites: int | None, target_coverage: float | None, objective: str,
             candidates: str, n_candidates: int, min_spacing_m: float,
             capacity: float | None, min_unit_coverage: float | None, time_limit: float,
             seed: int, **opts: object) -> None:
    """Propose new facility sites for a category (MCLP, set covering or p-median).

    Runs the audit first; writes its outputs plus proposals.geojson, optimize.json and
    units_after.gpkg to --out.
    """
    from .optimize import Siting

    result = _run_audit(opts)
    siting = Siting.from_audit(result, category,
                               candidates=candidates if candidates == "auto" else Path(candidates),
                               n_candidates=n_candidates, min_spacing_m=min_spacing_m,
                               objective=objective, seed=seed)
    siting.solve(sites=sites, target_coverage=target_coverage, objective=objective,
                 capacity=capacity, min_unit_coverage=min_unit_coverage,
                 time_limit_s=time_limit)
    out = opts["out"]
    written = result.write(out) + siting.write(out)
    summary = siting.summary()
    for note in summary["notes"]:
        log.warning("note: %s", note)
    if (opts["verbosity"] or 0) >= 0:
        click.echo(
            f"{summary['model'].upper()} for {category}: {summary['sites']} sites, "
            f"{summary['newly_covered_population']:,.0f} residents newly covered; coverage "
            f"{summary['coverage_before']:.1%} -> {summary['coverage_after']:.1%} "
            f"({summary['status']}, gap {summary['mip_gap']}, {summary['runtime_s']} s; "
            f"{summary['candidates']} candidates)")
        click.echo(f"wrote {', '.join(p.name for p in written)} to {out}")


def _headline(summary: dict) -> str:
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
