"""The ``lifecircle`` command. The only module that configures logging.

Every user mistake (a :class:`~lifecircle.errors.LifecircleError`) becomes a
one-paragraph message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import LifecircleError
from .settings import DEFAULT_OUT_DIR, HEX_SIZE_M, MAX_SNAP_M

log = logging.getLogger("lifecircle")

_HANDLER_NAME = "lifecircle-cli"


def configure_logging(verbosity: int) -> None:
    """Log lifecircle's messages to stderr: -q errors only, default info, -v debug.

    Only the ``lifecircle`` logger is configured (its own handler; the root logger
    and other libraries' loggers are left alone).
    """
    level = {-1: logging.ERROR, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger("lifecircle")
    for handler in [h for h in logger.handlers if h.get_name() == _HANDLER_NAME]:
        logger.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(logging.Formatter(
        "%(levelname)s %(name)s: %(message)s" if verbosity > 0 else "%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that clean-up code runs.

    A ``BaseException`` like ``KeyboardInterrupt``, so that no ``except Exception``
    (e.g. in a logging handler) swallows it.
    """


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While running, SIGTERM unwinds like Ctrl-C (staging folders are removed)."""

    def handler(signum: int, frame: object) -> None:
        raise _Terminated

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread (e.g. inside a test runner's thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _Group(click.Group):
    """Turn user mistakes into a message and exit code 2; interruptions into 130/143."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            with _sigterm_raises():
                return super().invoke(ctx)
        except LifecircleError as exc:
            click.echo(f"lifecircle: error: {exc}", err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("lifecircle: interrupted; the previous outputs are unchanged", err=True)
            ctx.exit(130)
        except _Terminated:
            click.echo("lifecircle: terminated; the previous outputs are unchanged", err=True)
            ctx.exit(143)
        return None


class _Option(click.ParamType):
    """A numeric option checked against its range declared once in ``settings.OPTION_RANGES``.

    NaN, infinities and values out of range are refused with the allowed range.
    """

    name = "number"

    def __init__(self, option: str) -> None:
        self.option = option

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float | int:
        from .settings import OPTION_RANGES, option_problem

        number: Any = value
        if isinstance(value, str):
            for parse in (int, float):
                try:
                    number = parse(value)
                    break
                except ValueError:
                    continue
        problem = option_problem(f"--{self.option.replace('_', '-')}", number)
        if problem is not None:
            self.fail(problem.split(": ", 1)[1], param, ctx)
        return int(number) if OPTION_RANGES[self.option].integer else float(number)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lifecircle")
def cli() -> None:
    """Audit 15-minute community life circles: who cannot walk to what, per governance unit.

    Run `lifecircle audit` to audit the bundled central-Shanghai sample.
    """


_INPUT_OPTIONS = [
    click.argument("study", required=False, type=click.Path(path_type=Path)),
    click.option("--network", type=click.Path(path_type=Path),
                 help="Street network: .osm.pbf, .osm/.osm.xml(.bz2) or osmnx .graphml. "
                      "Default: the bundled central-Shanghai study."),
    click.option("--facilities", "facilities", multiple=True, type=click.Path(path_type=Path),
                 help="Facility file (GeoJSON/GPKG with a `category` or Amap `typecode` "
                      "column or OSM tags; CSV/Excel with lon,lat,name and category or "
                      "typecode). Repeatable; merged with the network's POIs. PATH:gcj02 "
                      "(or :bd09, :wgs84) gives one file's datum."),
    click.option("--facilities-crs", default=None,
                 help="Datum of facility tables (CSV/Excel, which carry no CRS): wgs84, "
                      "gcj02 (Amap, Tencent), bd09 (Baidu) or a CRS such as EPSG:4526. "
                      "Vector files keep their own CRS unless given as PATH:gcj02."),
    click.option("--units", type=click.Path(path_type=Path),
                 help="Governance-unit polygons: unit_id, name, parent_id; or see "
                      "--unit-levels / --unit-codes."),
    click.option("--unit-levels", default=None,
                 help="Comma-separated id columns, one per level, coarsest first."),
    click.option("--unit-codes", default=None,
                 help="Column of 12-digit statistical codes (district 6, street 9, "
                      "committee 12 digits)."),
    click.option("--population", type=click.Path(path_type=Path),
                 help="Polygons with a `population` column, or a population raster (GeoTIFF)."),
    click.option("--standard", default="gb50180-2018", show_default=True,
                 help="Bundled standard name or a YAML file (see `lifecircle standards`)."),
    click.option("--profile", default=None,
                 help="Walking-speed profile: adult, elderly, child (default: the standard's)."),
    click.option("--categories", default=None,
                 help="Comma-separated category ids to audit (default: all with facilities)."),
    click.option("--no-osm-pois", is_flag=True,
                 help="Do not read facilities from the network file's POIs."),
    click.option("--min-component-nodes", type=_Option("min_component_nodes"), default=None,
                 help="Also keep network components of at least this many nodes "
                      "(default: only the largest)."),
    click.option("--max-snap-m", type=_Option("max_snap_m"),
                 default=MAX_SNAP_M, show_default=True,
                 help="Points farther than this from the network reach nothing (m)."),
    click.option("--hex-size-m", type=_Option("hex_size_m"),
                 default=HEX_SIZE_M, show_default=True,
                 help="Hexagon size (centre to corner, m) when there are no units."),
    click.option("--keep-edge-units", is_flag=True,
                 help="Also analyse units whose walking catchment leaves the street data "
                      "(small areas, islands); flagged edge_effect, coverage may be "
                      "underestimated."),
    click.option("--place", default=None,
                 help="Download streets, POIs and boundaries of a place with osmnx "
                      "(needs internet), e.g. '青浦区, 上海市'."),
    click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT_DIR,
                 show_default=True, help="Output folder."),
    click.option("-v", "--verbose", "verbosity", flag_value=1, help="Show debug messages."),
    click.option("-q", "--quiet", "verbosity", flag_value=-1,
                 help="Only errors; no progress."),
]

#: Options a study file can set too (same names as its keys).
_STUDY_OPTIONS = (
    "network", "facilities", "facilities_crs", "units", "unit_levels", "unit_codes",
    "population", "standard", "profile", "categories", "min_component_nodes", "max_snap_m",
    "hex_size_m", "place", "out", "lang", "basemap", "no_map", "keep_edge_units",
)


_MAP_OPTIONS = [
    click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
                 help="Language of the map and report."),
    click.option("--basemap", type=click.Choice(["osm", "amap", "none"]), default="osm",
                 show_default=True, help="Map tiles; amap shifts every overlay to GCJ-02."),
    click.option("--no-map", is_flag=True, help="Skip the map and report stage."),
]


def _map_options(func):
    for option in reversed(_MAP_OPTIONS):
        func = option(func)
    return func


def _input_options(func):
    for option in reversed(_INPUT_OPTIONS):
        func = option(func)
    return func


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


def _settings(ctx: click.Context, opts: dict) -> dict:
    """Merge the study file (or the bundled one) with the flags given on the command line."""
    from .io.providers import parse_facilities_crs
    from .study import bundled_study, load_study

    def given(name: str) -> bool:
        return ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE

    parse_facilities_crs(opts.get("facilities_crs"))  # refuse a bad datum before any work
    study = opts.pop("study")
    if study is None and not given("network") and not given("place"):
        study = bundled_study()
    values = dict(load_study(study).values) if study is not None else {}
    for name in _STUDY_OPTIONS:
        if name in opts and (given(name) or name not in values):
            value = opts[name]
            if name in ("categories", "unit_levels"):
                value = _split(value)
            if name == "facilities":
                # --facilities adds to the study's files; PATH:DATUM sets one file's datum
                added = [_facility_item(p) for p in value]
                value = [*(values.get(name) or []), *added] or None
            values[name] = value
    if opts.get("no_osm_pois"):
        values["osm_pois"] = False
    values["verbosity"] = opts.get("verbosity") or 0
    return values


def _facility_item(value: Path) -> Path | tuple[Path, str]:
    """``amap.geojson:gcj02`` -> (amap.geojson, "gcj02"); a plain path stays a path."""
    from .io.providers import DATUMS

    text = str(value)
    head, sep, tail = text.rpartition(":")
    if sep and tail.lower() in DATUMS:
        return Path(head), tail.lower()
    return Path(text)


def _run_audit(settings: dict) -> object:
    """Configure logging, download a --place if asked, and run the audit."""
    from .pipeline import audit as run_audit

    verbosity = settings["verbosity"]
    configure_logging(verbosity)
    kwargs = {k: settings.get(k) for k in (
        "network", "facilities", "units", "population", "standard", "profile", "categories",
        "unit_levels", "unit_codes", "min_component_nodes", "facilities_crs")}
    kwargs["standard"] = kwargs["standard"] or "gb50180-2018"
    kwargs["osm_pois"] = settings.get("osm_pois", True)
    kwargs["max_snap_m"] = settings.get("max_snap_m") or MAX_SNAP_M
    kwargs["hex_size_m"] = settings.get("hex_size_m") or HEX_SIZE_M
    kwargs["keep_edge_units"] = bool(settings.get("keep_edge_units"))
    kwargs["name"] = settings.get("name")
    if settings.get("place") and kwargs["network"] is None:
        from .config import load_standard
        from .io.online import download_place

        paths = download_place(settings["place"], Path(settings["out"]) / "osm-download",
                               load_standard(kwargs["standard"]))
        kwargs["network"] = paths["network"]
        kwargs["facilities"] = [*(kwargs["facilities"] or []), paths["facilities"]]
        kwargs["units"] = kwargs["units"] or paths.get("units")
    return run_audit(**kwargs, progress=verbosity >= 0)


@cli.command()
@_input_options
@_map_options
@click.pass_context
def audit(ctx: click.Context, **opts: object) -> None:
    """Audit walking access to life-circle facilities and write the results to --out.

    STUDY is a study file (YAML) bundling inputs and options; flags override it.
    With no arguments: the bundled central-Shanghai study (GB 50180-2018, adult
    walking speed), results in ./lifecircle-out/.
    """
    from .io.outputs import OutputFolder, write_outputs

    settings = _settings(ctx, opts)
    out = Path(settings["out"])
    with OutputFolder(out, inputs=_input_paths(settings)) as folder:
        result = _run_audit(settings)
        writers = {**result.outputs(), **_page_writers(result, settings)}
        write_outputs(folder, writers)
        written = folder.publish()
    _report_warnings(result.summary["warnings"])
    if settings["verbosity"] >= 0:
        click.echo(_headline(result.summary))
        click.echo(f"wrote {', '.join(p.name for p in written)} to {out}")


def _input_paths(settings: dict) -> list[Path]:
    """Every input file named by the settings (outputs must never replace one)."""
    paths = [settings.get(k) for k in ("network", "units", "population")]
    paths += [f[0] if isinstance(f, tuple) else f for f in settings.get("facilities") or []]
    candidates = settings.get("candidates")
    if candidates not in (None, "auto"):
        paths.append(candidates)
    return [Path(p) for p in paths if p is not None]


def _page_writers(shown: Any, settings: dict) -> dict[str, Any]:
    """map.html and report.html of an audit result or a siting (unless --no-map)."""
    if settings.get("no_map"):
        return {}
    lang, basemap = settings.get("lang") or "en", settings.get("basemap") or "osm"
    return {"map.html": lambda p: shown.to_map(p, lang=lang, basemap=basemap),
            "report.html": lambda p: shown.to_report(p, lang=lang)}


def _report_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        log.warning("warning: %s", warning)


@cli.command()
@_input_options
@click.option("--category", required=True, help="Category to site, e.g. kindergarten.")
@click.option("--sites", type=_Option("sites"), default=None, help="Number of new sites (MCLP).")
@click.option("--target-coverage", type=_Option("target_coverage"), default=None,
              help="Share of residents to cover with the fewest sites (set covering).")
@click.option("--objective", type=click.Choice(["coverage", "distance"]), default="coverage",
              show_default=True, help="distance = p-median (minimise total walking distance).")
@click.option("--candidates", default="auto", show_default=True,
              help="'auto' (clusters of uncovered residents) or a file of points/parcels.")
@click.option("--n-candidates", type=_Option("n_candidates"), default=300, show_default=True,
              help="Number of auto candidates.")
@click.option("--min-spacing-m", type=_Option("min_spacing_m"), default=0.0, show_default=True,
              help="Auto candidates keep this distance from existing facilities.")
@click.option("--capacity", type=_Option("capacity"), default=None,
              help="Residents one new site can serve.")
@click.option("--min-unit-coverage", type=_Option("min_unit_coverage"), default=None,
              help="Coverage floor every finest governance unit should reach (0-1).")
@click.option("--time-limit", type=_Option("time_limit"), default=60.0,
              show_default=True,
              help="Wall-clock limit of the whole solve in seconds (model building and "
                   "HiGHS included); past it, the best solution found with its bound.")
@click.option("--seed", type=_Option("seed"), default=0, show_default=True,
              help="Seed of auto candidates.")
@_map_options
@click.pass_context
def optimize(ctx: click.Context, category: str, sites: int | None,
             target_coverage: float | None, objective: str, candidates: str,
             n_candidates: int, min_spacing_m: float,
             capacity: float | None, min_unit_coverage: float | None, time_limit: float,
             seed: int, **opts: object) -> None:
    """Propose new facility sites for a category (MCLP, set covering or p-median).

    Runs the audit first; writes its outputs plus proposals.geojson, optimize.json,
    units_after.gpkg, and (unless --no-map) map.html and report.html with the proposed
    sites, to --out.
    """
    from .io.outputs import OutputFolder, write_outputs

    settings = _settings(ctx, opts)
    settings["candidates"] = None if candidates == "auto" else Path(candidates)
    out = Path(settings["out"])
    with OutputFolder(out, inputs=_input_paths(settings)) as folder:
        result = _run_audit(settings)
        _report_warnings(result.summary["warnings"])
        siting = _site(result, category, sites=sites, target_coverage=target_coverage,
                       objective=objective, candidates=candidates, n_candidates=n_candidates,
                       min_spacing_m=min_spacing_m, capacity=capacity,
                       min_unit_coverage=min_unit_coverage, time_limit=time_limit, seed=seed)
        writers = {**result.outputs(), **siting.outputs(), **_page_writers(siting, settings)}
        write_outputs(folder, writers)
        written = folder.publish()
    summary = siting.summary()
    for note in summary["notes"]:
        log.warning("note: %s", note)
    if settings["verbosity"] >= 0:
        click.echo(
            f"{summary['model'].upper()} for {category}: {summary['sites']} sites, "
            f"{summary['newly_covered_population']:,.0f} residents newly covered; coverage "
            f"{summary['coverage_before']:.1%} -> {summary['coverage_after']:.1%} "
            f"({summary['status']}, gap {summary['mip_gap']}, {summary['runtime_s']} s; "
            f"{summary['candidates']} candidates)")
        click.echo(f"wrote {', '.join(p.name for p in written)} to {out}")


def _site(result: Any, category: str, *, sites: int | None, target_coverage: float | None,
          objective: str, candidates: str, n_candidates: int, min_spacing_m: float,
          capacity: float | None, min_unit_coverage: float | None, time_limit: float,
          seed: int) -> Any:
    """Build and solve the siting problem of ``lifecircle optimize``."""
    from .optimize import Siting

    siting = Siting.from_audit(result, category,
                               candidates=candidates if candidates == "auto" else Path(candidates),
                               n_candidates=n_candidates, min_spacing_m=min_spacing_m,
                               objective=objective, seed=seed)
    siting.solve(sites=sites, target_coverage=target_coverage, objective=objective,
                 capacity=capacity, min_unit_coverage=min_unit_coverage,
                 time_limit_s=time_limit)
    return siting


def _headline(summary: dict) -> str:
    lines = [
        f"{summary['standard']['title']} - profile {summary['profile']['id']} "
        f"({summary['profile']['speed_m_s']} m/s)",
        f"residents analysed: {summary['population']['total']:,.0f} in "
        f"{summary['units']['analysed'][summary['units']['levels'][-1]]} "
        f"{summary['units']['levels'][-1]} units",
    ]
    for level, share in summary["complete_by_level"].items():
        if share is None:
            missing = ", ".join(summary["completeness"][level]["missing"])
            lines.append(f"  complete {level} life circle: not computed (not audited: "
                         f"{missing})")
        else:
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
