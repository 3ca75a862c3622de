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
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import click

from ._version import __version__
from .errors import LifecircleError
from .options import (
    AuditOptions,
    DelineateOptions,
    OptionSpec,
    RunOptions,
    SitingOptions,
    option_specs,
    parse_option,
    split_options,
)
from .settings import OPTION_RANGES

if TYPE_CHECKING:
    from .complete_siting import CompleteSitingSolution
    from .summary import AuditSummary

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


class _Option(click.ParamType):
    """A numeric option checked against its range declared once in ``settings.OPTION_RANGES``.

    NaN, infinities and values out of range are refused with the allowed range.
    """

    name = "number"

    def __init__(self, option: str) -> None:
        self.option = option

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float | int:
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


class _Parsed(click.ParamType):
    """A ``numbers`` or ``budget`` option (see :func:`lifecircle.options.parse_option`)."""

    def __init__(self, kind: str, option: str) -> None:
        self.kind = kind
        self.option = option
        self.name = {"numbers": "weights", "budget": "sites"}[kind]

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        parsed, problems = parse_option(self.kind, self.option, value)
        if problems:
            prefix = f"--{self.option.replace('_', '-')}: "
            self.fail("; ".join(p.removeprefix(prefix) for p in problems), param, ctx)
        return parsed


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="lifecircle")
def cli() -> None:
    """Audit 15-minute community life circles: who cannot walk to what, per governance unit.

    Run `lifecircle audit` to audit the bundled central-Shanghai sample.
    """


def _click_option(spec: OptionSpec) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The command-line flag of a declared option (see :mod:`lifecircle.options`)."""
    assert spec.flag is not None
    kwargs: dict[str, Any] = {"help": spec.help}
    if spec.kind == "bool":
        if spec.default is True:  # --no-osm-pois sets osm_pois to False
            return click.option(spec.flag, spec.name, flag_value=False, default=True, **kwargs)
        return click.option(spec.flag, spec.name, is_flag=True, **kwargs)
    if spec.kind in ("path", "outpath"):
        kwargs["type"] = click.Path(path_type=Path)
    elif spec.kind == "paths":
        kwargs.update(type=click.Path(path_type=Path), multiple=True)
    elif spec.kind in ("int", "number") and spec.name in OPTION_RANGES:
        kwargs["type"] = _Option(spec.name)
    elif spec.kind in ("numbers", "budget"):
        kwargs["type"] = _Parsed(spec.kind, spec.name)
    elif spec.kind == "choice":
        kwargs["type"] = click.Choice(list(spec.choices))
    if spec.default not in (None, ()):
        kwargs.update(default=spec.default, show_default=True)
    return click.option(spec.flag, spec.name, **kwargs)


def _options(
    *classes: type, skip: tuple[str, ...] = ()
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate a command with the flags of every option the classes declare."""
    specs = [s for cls in classes for s in option_specs(cls) if s.flag and s.name not in skip]

    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        for spec in reversed(specs):
            func = _click_option(spec)(func)
        return func

    return decorate


_COMMON = [
    click.argument("study", required=False, type=click.Path(path_type=Path)),
    click.option("-v", "--verbose", "verbosity", flag_value=1, help="Show debug messages."),
    click.option("-q", "--quiet", "verbosity", flag_value=-1, help="Only errors; no progress."),
]


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_COMMON):
        func = option(func)
    return func


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
@_common
@_options(AuditOptions, RunOptions)
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
        click.echo(_headline(result.summary))
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
    from .distributed import audit_dask, require_dask

    configure_logging(settings.verbosity)
    require_dask()  # exit 2 with the install command before any work
    if settings.run.place:
        from .distributed import DaskOptionError

        msg = "--place is not available with --dask; download first, then give --network"
        raise DaskOptionError(msg)
    assert settings.run.dask is not None
    result = audit_dask(settings.audit, dask=settings.run.dask, level=settings.run.dask_level)
    written = result.write(settings.run.out)
    _report_warnings(result.summary["warnings"])
    if settings.verbosity >= 0:
        parts = result.summary["distributed"]
        click.echo(
            f"audited {len(result.access)} origins in {parts['partitions']} partitions "
            f"({parts['level']} units) on Dask; not produced with --dask: "
            + "; ".join(parts["not_available"])
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
@_common
@_options(AuditOptions)
@_options(SitingOptions)
@_options(RunOptions)
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


def complete_paragraph(summary: dict[str, Any]) -> str:
    """One paragraph on a complete siting's ``optimize.json``: model, sites, shares, solver.

    Parameters
    ----------
    summary
        :meth:`lifecircle.complete_siting.CompleteSitingSolution.summary`.

    Returns
    -------
    str
        Plain text, e.g. for the command line.
    """
    s = summary
    cats = ", ".join(s["categories"])
    level = s.get("level")
    if level:
        key = f"complete_{level}"
        what = f"reach a complete {level} life circle"
        before, after = s["complete_before"].get(key), s["complete_after"].get(key)
    else:
        what = "reach every listed category"
        before, after = s["complete_listed_before"], s["complete_listed_after"]
    unit = ("complex" if s["complex"] else "site") + ("" if s["sites"] == 1 else "s")
    unit = unit.replace("complexs", "complexes")
    per = ", ".join(f"{c} {n}" for c, n in s["sites_per_category"].items())
    text = (
        f"{s['model'].capitalize()} siting of {cats} ({s['objective']} objective): "
        f"{s['sites']} {unit}, {s['facilities']} facilities ({per}); "
        f"{s['newly_complete']:,.0f} more {s['cohort_name']} {what} "
        f"(share {_share(before)} -> {_share(after)})"
    )
    comp = s.get("comparison") or {}
    single = comp.get("single_category")
    if single:
        text += (
            "; the best single-category runs with the same budget: "
            f"{_share(single['complete_share_after'])}"
            f" ({single['newly_complete']:,.0f} newly complete, {single['facilities']} facilities)"
        )
    separate = comp.get("joint_separate")
    if separate:
        text += (
            f"; {separate['sites_per_category']} separate sites per category: "
            f"{_share(separate['complete_share_after'])}"
        )
    gap = s["mip_gap"]
    text += (
        f" ({s['status']}, gap {'-' if gap is None else f'{gap:.4f}'}, bound from "
        f"{s['bound_source'] or '-'}, {s['runtime_s']} s; {s['candidates']} candidates)"
    )
    return text


def _share(value: Any) -> str:
    return "-" if value is None else f"{float(value):.2%}"


@cli.command()
@_common
@_options(AuditOptions)
@_options(DelineateOptions)
@_options(RunOptions)
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


def _headline(summary: AuditSummary) -> str:
    finest = summary.units.levels[-1]
    walks = sorted({t.profile for t in summary.thresholds.values()})
    speed = (
        f"profile {summary.profile.id} ({summary.profile.speed_m_s} m/s)"
        if len(walks) <= 1
        else "each category at its cohort's walking profile (" + ", ".join(walks) + ")"
    )
    lines = [
        f"{summary.standard.title} - {speed}",
        f"residents analysed: {summary.population.total:,.0f} in "
        f"{summary.units.analysed[finest]} {finest} units"
        + (" (urban units, urban standard)" if summary.urban_rural is not None else ""),
    ]
    completeness = summary.completeness or {}
    for level, share in summary.complete_by_level.items():
        if share is None:
            status = completeness.get(level)
            missing = ", ".join(status.missing) if status is not None else ""
            lines.append(f"  complete {level} life circle: not computed (not audited: {missing})")
        else:
            lines.append(f"  complete {level} life circle: {share:.1%}")
    lines.append("  coverage by category (its own cohort | all residents):")
    for cat, share in sorted(summary.coverage.items(), key=lambda kv: kv[1]):
        t = summary.thresholds[cat]
        lines.append(
            f"    {_category_line(summary, cat, share)} within {t.minutes:g} min ({t.profile})"
        )
    for cat, fair in summary.fair_service.items():
        if fair.supply_unit not in {"facilities"} and fair.unmet > 0.5:
            lines.append(
                f"  {cat}: {fair.facilities_in_reach} facilities in reach hold "
                f"{fair.supply:,.0f} {fair.supply_unit} for {fair.demand:,.0f} residents of "
                f"its cohort; {fair.unmet:,.0f} have no place within reach"
                + ("" if fair.capacity_verified else " (capacity defaults unverified)")
            )
    crit = summary.critical_facilities[:1]
    if crit:
        name = crit[0]["name"] or "unnamed"
        lines.append(
            f"  most critical facility: {crit[0]['category']} {name!r} (id "
            f"{crit[0]['facility_id']}): {crit[0]['sole_dependants']:,.0f} would lose coverage"
        )
    return "\n".join([*lines, *_rural_lines(summary)])


def _rural_lines(summary: AuditSummary) -> list[str]:
    """With per-unit rules: the town and village units beside the urban headline."""
    ur = summary.urban_rural
    if ur is None:
        return []
    rural = ur.get("rural") or {}
    residents = ur.get("residents") or {}
    ledger = ur.get("village_ledger") or {}
    figures = (
        f"score {rural['score']:.1%}, complete {rural['complete_share']:.1%}; "
        if rural.get("score") is not None and rural.get("complete_share") is not None
        else ""
    )
    return [
        f"rural units ({ur.get('rural_standard')}), never averaged with the urban ones above: "
        f"{residents.get('town', 0) + residents.get('village', 0):,.0f} residents in "
        f"{(ur.get('units_analysed') or {}).get('rural', 0)} town and village units; "
        + figures
        + f"{ledger.get('villages_lacking_any', 0)} of {ledger.get('villages', 0)} villages "
        "lack a village facility (village_ledger.csv)"
    ]


def _category_line(summary: AuditSummary, cat: str, share: float) -> str:
    """``kindergarten  11.1% aged 3-5 | 11.0% all`` with a data-gap flag."""
    fair = summary.fair_service.get(cat)
    cohort = summary.cohorts.get(fair.cohort) if fair is not None else None
    mine = (
        f"{fair.covered_share:6.1%} aged {cohort['ages']:<5} |"
        if fair is not None and cohort is not None and fair.covered_share is not None
        else " " * 18 + "|"
    )
    data = summary.data_completeness.get(cat)
    flag = "  [thin data: likely a data gap]" if data is not None and data.thin else ""
    return f"{cat:<20} {mine} {share:6.1%} all{flag}"


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
    cli(prog_name="lifecircle")
