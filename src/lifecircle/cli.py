"""The ``lifecircle`` command. The only module that configures logging.

Every user mistake (a :class:`~lifecircle.errors.LifecircleError`) becomes a
one-paragraph message on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

from ._cli_options import command_options, common
from ._cli_text import complete_paragraph as complete_paragraph
from ._cli_text import headline
from ._version import __version__
from .errors import LifecircleError
from .options import (
    AuditOptions,
    DelineateOptions,
    RunOptions,
    SitingOptions,
    option_specs,
    split_options,
)
from .settings import OPTION_RANGES

if TYPE_CHECKING:
    from .complete_siting import CompleteSitingSolution

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
    handler.setFormatter(
        logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbosity > 0 else "%(message)s")
    )
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


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lifecircle")
def cli() -> None:
    """Audit 15-minute community life circles: who cannot walk to what, per governance unit.

    Run `lifecircle audit` to audit the bundled central-Shanghai sample.
    """


@dataclass(frozen=True)
class _Settings:
    """A command-line run: the study file merged with the flags, as declared options."""

    audit: AuditOptions
    run: RunOptions
    verbosity: int
    siting: SitingOptions | None = None

    def input_paths(self) -> list[Path]:
        paths = self.audit.input_paths()
        candidates = None if self.siting is None else self.siting.candidates_path()
        if candidates is not None:
            paths.append(candidates)
        return paths


def _settings(ctx: click.Context, opts: dict[str, Any]) -> _Settings:
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
    for name, value in opts.items():
        if name == "verbosity" or (name in values and not given(name)):
            continue
        if name == "facilities":
            # --facilities adds to the study's files; PATH:DATUM sets one file's datum
            value = (*(values.get(name) or ()), *(_facility_item(p) for p in value))
        values[name] = value
    audit, run, _ = split_options(values)
    return _Settings(audit=audit, run=run, verbosity=opts.get("verbosity") or 0)


def _facility_item(value: Path) -> Path | tuple[Path, str]:
    """``amap.geojson:gcj02`` -> (amap.geojson, "gcj02"); a plain path stays a path."""
    from .io.providers import DATUMS

    text = str(value)
    head, sep, tail = text.rpartition(":")
    if sep and tail.lower() in DATUMS:
        return Path(head), tail.lower()
    return Path(text)


def _run_audit(settings: _Settings) -> Any:
    """Configure logging, download a --place if asked, and run the audit."""
    from .pipeline import audit as run_audit

    configure_logging(settings.verbosity)
    options = settings.audit
    if settings.run.place and options.network is None:
        from .config import Standard, load_standard
        from .io.online import download_place

        standard = options.standard
        paths = download_place(
            settings.run.place,
            settings.run.out / "osm-download",
            standard if isinstance(standard, Standard) else load_standard(standard),
        )
        options = options.replace(
            network=paths["network"],
            facilities=(*options.facilities, paths["facilities"]),
            units=options.units or paths.get("units"),
        )
    return run_audit(options=options, progress=settings.verbosity >= 0)


@cli.command()
@common
@command_options(AuditOptions, RunOptions)
@click.pass_context
def audit(ctx: click.Context, **opts: Any) -> None:
    """Audit walking access to life-circle facilities and write the results to --out.

    STUDY is a study file (YAML) bundling inputs and options; flags override it.
    With no arguments: the bundled central-Shanghai study (GB 50180-2018, adult
    walking speed), results in ./lifecircle-out/.
    """
    from .io.outputs import OutputFolder, write_outputs

    settings = _settings(ctx, opts)
    out = settings.run.out
    if settings.run.dask:
        _run_dask(settings)
        return
    with OutputFolder(out, inputs=settings.input_paths()) as folder:
        result = _run_audit(settings)
        writers = {**result.outputs(), **_page_writers(result, settings.run)}
        write_outputs(folder, writers)
        written = folder.publish()
    _report_warnings(result.summary.warnings)
    if settings.verbosity >= 0:
        click.echo(headline(result.summary))
        click.echo(f"wrote {', '.join(p.name for p in written)} to {out}")


def _single_machine(settings: _Settings, command: str) -> None:
    """``--dask`` partitions ``lifecircle audit`` only: other commands refuse it (exit 2)."""
    if settings.run.dask:
        msg = (
            f"--dask: only `lifecircle audit` runs partitioned on Dask; run `lifecircle "
            f"{command}` without --dask"
        )
        raise click.UsageError(msg)


def _run_dask(settings: _Settings) -> None:
    """``audit --dask``: the partitioned audit (:mod:`lifecircle.distributed`)."""
    from .distributed import audit_dask, read_walk_graph, require_dask

    configure_logging(settings.verbosity)
    require_dask()  # exit 2 with the install command before any work
    if settings.run.place:
        from .distributed import DaskOptionError

        msg = "--place is not available with --dask; download first, then give --network"
        raise DaskOptionError(msg)
    assert settings.run.dask is not None
    from .io.outputs import OutputFolder, write_outputs

    with OutputFolder(settings.run.out, inputs=settings.input_paths()) as folder:
        result = audit_dask(
            settings.audit,
            dask=settings.run.dask,
            level=settings.run.dask_level,
            workdir=settings.run.dask_workdir,
        )
        if settings.run.no_map:
            writers = result.outputs()
        else:  # the map's catchments walk the whole network: read it here
            whole = result.with_graph(read_walk_graph(settings.audit), settings.audit)
            writers = {**whole.outputs(), **_page_writers(whole, settings.run)}
        write_outputs(folder, writers)
        written = folder.publish()
    _report_warnings(result.summary["warnings"])
    if settings.verbosity >= 0:
        parts = result.summary["distributed"]
        click.echo(
            f"audited {len(result.access)} origins in {parts['partitions']} partitions "
            f"({parts['level']} units) on Dask"
        )
        click.echo(f"wrote {', '.join(p.name for p in written)} to {settings.run.out}")


class _Pages(Protocol):
    """What has a map and a report: an audit result, a siting, a complete siting's pages."""

    def to_map(self, path: Path, *, lang: str, basemap: str) -> Path: ...

    def to_report(self, path: Path, *, lang: str) -> Path: ...


@dataclass(frozen=True)
class _CompletePages:
    """The map and report of a complete siting (:class:`_Pages`): the audit's, with its sites."""

    solution: CompleteSitingSolution

    def to_map(self, path: Path, *, lang: str, basemap: str) -> Path:
        from .render.map import render_map

        result = self.solution.problem.result
        return render_map(result, path, lang=lang, basemap=basemap, complete=self.solution)

    def to_report(self, path: Path, *, lang: str) -> Path:
        from .render.report import render_report

        return render_report(self.solution.problem.result, path, lang=lang, complete=self.solution)


def _page_writers(shown: _Pages, run: RunOptions) -> dict[str, Any]:
    """map.html and report.html of an audit result or a siting (unless --no-map)."""
    if run.no_map:
        return {}
    return {
        "map.html": lambda p: shown.to_map(p, lang=run.lang, basemap=run.basemap),
        "report.html": lambda p: shown.to_report(p, lang=run.lang),
    }


def _report_warnings(warnings: Sequence[str]) -> None:
    for warning in warnings:
        log.warning("warning: %s", warning)


@cli.command()
@common
@command_options(AuditOptions)
@command_options(SitingOptions)
@command_options(RunOptions)
@click.pass_context
def optimize(ctx: click.Context, **opts: Any) -> None:
    """Propose new facility sites for a category (MCLP, set covering or p-median).

    With --categories a,b,c (and no --category) the categories are sited together
    for the complete life circle (every listed category within its threshold), on
    shared sites or, with --complex, shared service complexes; the audit then covers
    every category with facilities (with --category, --categories limits the audit).

    Runs the audit first; writes its outputs plus proposals.geojson, optimize.json,
    units_after.gpkg, and (unless --no-map) map.html and report.html with the proposed
    sites, to --out.
    """
    from .io.outputs import OutputFolder, write_outputs

    flags = {s.name for s in option_specs(SitingOptions) if s.flag}
    values = {k: opts.pop(k) for k in list(opts) if k in flags}
    if values.get("category") is None and opts.get("categories"):
        # --categories without --category: the categories to site, not to audit
        values["categories"] = opts.pop("categories")
    siting_opts = SitingOptions(**values)
    if siting_opts.category is None and not siting_opts.complete:
        raise click.UsageError(
            "Missing option '--category' (the category to site) or '--categories' "
            "(several categories sited together for the complete life circle)."
        )
    settings = dataclasses.replace(_settings(ctx, opts), siting=siting_opts)
    _single_machine(settings, "optimize")
    if siting_opts.complete:
        _optimize_complete(settings, siting_opts)
        return
    out = settings.run.out
    with OutputFolder(out, inputs=settings.input_paths()) as folder:
        result = _run_audit(settings)
        _report_warnings(result.summary.warnings)
        siting = _site(result, siting_opts)
        writers = {**result.outputs(), **siting.outputs(), **_page_writers(siting, settings.run)}
        write_outputs(folder, writers)
        written = folder.publish()
    summary = siting.summary()
    for note in summary["notes"]:
        log.warning("note: %s", note)
    if settings.verbosity >= 0:
        click.echo(
            f"{summary['model'].upper()} for {siting_opts.category}: {summary['sites']} sites, "
            + (
                f"{summary['newly_covered_cohort']:,.0f} {summary['cohort_name']} and "
                if summary.get("cohort", "all") != "all"
                else ""
            )
            + f"{summary['newly_covered_population']:,.0f} residents newly covered; coverage "
            f"of all residents {summary['coverage_before']:.1%} -> {summary['coverage_after']:.1%} "
            f"({summary['status']}, gap {summary['mip_gap']}, {summary['runtime_s']} s; "
            f"{summary['candidates']} candidates)"
        )
        placed = summary.get("capacity_model")
        if placed is not None and placed["placed_share_after"] is not None:
            click.echo(
                f"capacity model: {placed['newly_placed']:,.0f} more {summary['cohort_name']} "
                f"given a place; placed {placed['placed_share_before']:.1%} -> "
                f"{placed['placed_share_after']:.1%} of {summary['demand']:,.0f}"
            )
        click.echo(f"wrote {', '.join(p.name for p in written)} to {out}")


def _optimize_complete(settings: _Settings, options: SitingOptions) -> None:
    """``lifecircle optimize --categories ...``: solve, write the outputs, say what was found."""
    from .io.outputs import OutputFolder, write_outputs

    out = settings.run.out
    with OutputFolder(out, inputs=settings.input_paths()) as folder:
        result = _run_audit(settings)
        _report_warnings(result.summary.warnings)
        solution = _site_complete(result, options)
        writers = {
            **result.outputs(),
            **solution.outputs(),
            **_page_writers(_CompletePages(solution), settings.run),
        }
        write_outputs(folder, writers)
        written = folder.publish()
    summary = solution.summary()
    for note in summary["notes"]:
        log.warning("note: %s", note)
    if settings.verbosity >= 0:
        click.echo(complete_paragraph(summary))
        click.echo(f"wrote {', '.join(p.name for p in written)} to {out}")


def _site_complete(result: Any, options: SitingOptions) -> CompleteSitingSolution:
    """Build and solve the complete-life-circle siting of ``lifecircle optimize --categories``."""
    from .complete_siting import CompleteSitingProblem

    assert options.categories and options.sites is not None  # checked by SitingOptions
    problem = CompleteSitingProblem.from_audit(
        result,
        options.categories,
        candidates=options.candidates_path() or "auto",
        n_candidates=options.n_candidates,
        min_spacing_m=options.min_spacing_m,
        seed=options.seed,
        level=options.level,
    )
    weight = options.fairness_weight
    if weight is None:  # its declared default
        weight = float(OPTION_RANGES["fairness_weight"].default or 0.0)
    return problem.solve(
        sites=options.sites,
        complex=options.complex,
        objective=options.objective,
        fairness_weight=weight,
        time_limit_s=options.time_limit,
        tradeoff=options.tradeoff,
    )


@cli.command()
@common
@command_options(AuditOptions)
@command_options(DelineateOptions)
@command_options(RunOptions)
@click.pass_context
def delineate(ctx: click.Context, **opts: Any) -> None:
    """Recombine governance units into 5-, 10- or 15-minute life-circle units.

    Runs the audit's reading stages, groups building blocks (the finest units, or
    street blocks from the network) into contiguous units within the level's population
    range, nested in a parent unit unless --across, compact in walking time; writes
    lifecircle-units.gpkg (a valid --units input), lifecircle-blocks.gpkg,
    delineate-comparison.csv, delineate.json and (unless --no-map) delineation.html to --out.
    """
    from .delineate import delineate as run_delineate
    from .delineate import delineation_writers
    from .io.outputs import OutputFolder, write_outputs

    names = {s.name for s in option_specs(DelineateOptions)}
    options = DelineateOptions(**{k: opts.pop(k) for k in list(opts) if k in names})
    settings = _settings(ctx, opts)
    _single_machine(settings, "delineate")
    out = settings.run.out
    with OutputFolder(out, inputs=settings.input_paths()) as folder:
        result = _run_audit(settings)
        d = run_delineate(
            result,
            options.level,
            across=options.across,
            blocks=options.blocks,
            max_walk_min=options.max_walk_min,
            time_limit_s=options.time_limit,
        )
        write_outputs(
            folder,
            delineation_writers(
                d,
                result.hierarchy,
                page=not settings.run.no_map,
                lang=settings.run.lang,
                basemap=settings.run.basemap,
            ),
        )
        written = folder.publish()
    s = d.summary()
    if settings.verbosity >= 0:
        rng = s["population_range"]
        flag = "" if rng["verified"] else " (unverified range)"
        click.echo(
            f"{s['level_name']['en']}: {s['units']} units from {s['blocks']['count']} "
            f"{_block_words(s['blocks']['source'])}; {s['units_in_range']} within "
            f"{rng['min']:,.0f}-{rng['max']:,.0f} residents{flag}; "
            f"mean walk to centre {s['mean_walk_min']} min ({s['solver']['status']}, gap "
            f"{s['solver']['gap']:.3f}, {s['solver']['seconds']} s)"
        )
        for parent, why in s["out_of_range"].items():
            log.warning("note: %s: %s", parent, why)
        click.echo(f"wrote {', '.join(p.name for p in written)} to {out}")


def _block_words(source: str) -> str:
    """``"street blocks"`` or ``"units:committee"`` -> words for the command's line."""
    return f"{source.split(':', 1)[1]} units" if source.startswith("units:") else source


def _site(result: Any, options: SitingOptions) -> Any:
    """Build and solve the siting problem of ``lifecircle optimize``."""
    from .siting import SitingProblem

    assert options.category is not None  # checked by the command
    assert not isinstance(options.sites, Mapping)  # checked by SitingOptions
    candidates = options.candidates_path() or "auto"
    problem = SitingProblem.from_audit(
        result,
        options.category,
        candidates=candidates,
        n_candidates=options.n_candidates,
        min_spacing_m=options.min_spacing_m,
        objective=options.objective,
        seed=options.seed,
    )
    return problem.solve(
        sites=options.sites,
        target_coverage=options.target_coverage,
        objective=options.objective,
        capacity=options.capacity,
        min_unit_coverage=options.min_unit_coverage,
        time_limit_s=options.time_limit,
    )


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
    click.echo(
        "profiles: "
        + ", ".join(
            f"{p.id} {p.speed_m_s} m/s{'' if p.verified else ' (unverified)'}"
            for p in std.profiles.values()
        )
    )
    click.echo(f"{'category':<22} {'name':<28} {'level':<6} {'min':>4} {'req':<4} verified")
    for c in std.categories:
        click.echo(
            f"{c.id:<22} {c.name_en + ' ' + c.name_zh:<28} {c.level:<6} "
            f"{c.threshold_min:>4g} {'yes' if c.mandatory else 'no':<4} "
            f"{'yes' if c.verified else 'no'}"
        )


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
    from ._memory import tune_malloc

    tune_malloc()  # before any thread of the audit allocates
    cli(prog_name="lifecircle")
