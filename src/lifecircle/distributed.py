"""Partitioned audits on Dask: one partition per governance unit, each with an exact halo.

:func:`audit_dask` runs :func:`lifecircle.audit`'s stages on Dask workers and merges
the results so that they equal the single-machine run, float for float:

1. a *plan* task (on one worker, :func:`lifecircle._dask_tasks.plan_task`) reads the
   inputs from the paths or fsspec URLs it is given, builds the walk graph, the
   facilities, the units and the origins exactly as the single-machine audit does,
   snaps residents and facilities to the network once, and splits the analysed finest
   units into partitions by a governance level (default: the level below the top).
   For each partition it writes into the run's work folder the piece of every network
   the partition searches: the edges within its *halo* plus the snap limit, with whole
   chains of degree-2 nodes and whole neighbourhoods
   (:func:`lifecircle._dask_clip.clip_graph`), its residents, and the facility access
   points that enter the network on that piece. The halo is the search reach (the
   longest cut-off of the audited categories at their profile speeds, and of every
   travel mode they count) plus twice the snap limit: network distance is never
   shorter than the straight line, so every facility a resident could reach lies
   inside it;
2. one task per partition (:func:`lifecircle._dask_tasks.partition_task`) reads only
   its own files and searches its piece: its memory and work are bounded by the halo.
   Inside the piece the chains, key nodes and edge lengths are the whole graph's, so
   the distances are bit-identical to the single-machine run;
   It also makes its residents' fair-service searches there (the pairs within each
   category's threshold and the second-nearest walks, both within the cut-off);
3. the driver (:func:`lifecircle._dask_merge.merge`) concatenates the partitions'
   access rows in origin order and computes coverage per unit at every level, gaps
   and the city-wide figures with the same functions as the single-machine path; it
   joins the partitions' pairs into the city's matrices and runs the fair-service
   stage on them (supply-demand, the capacity assignment, choice, equity), since
   facilities serve residents of several partitions.

Workers read inputs themselves (a shared folder or object storage through fsspec);
only options, the unit hierarchy and result tables go through the scheduler.

``summary.json`` is the single-machine audit's but for its times and a ``distributed``
block. The map and report are drawn from the merged results
(:meth:`DaskAudit.with_graph`); their catchments walk the whole network, which the
caller reads for them (:func:`read_walk_graph`; the command does unless ``--no-map``).

Not available with ``--dask`` (refused, never approximated): ``--close`` and
``--rural-standard`` (each audits the city twice or under two standards).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from ._audit_stages import _inputs, _standard_and_profile
from ._dask_io import as_url, has_urls, localize, make_workdir, remove_workdir
from ._dask_merge import NOT_AVAILABLE, DaskAudit, merge
from ._dask_tasks import (
    DaskOptionError,
    default_level,
    halo_m,
    partition_task,
    partitions_of,
    plan_task,
)
from .network import WalkGraph, read_network
from .options import AuditOptions

__all__ = [
    "INSTALL",
    "NOT_AVAILABLE",
    "DaskAudit",
    "DaskOptionError",
    "audit_dask",
    "default_level",
    "halo_m",
    "parse_scheduler",
    "partitions_of",
    "read_walk_graph",
    "require_dask",
]

#: Where the plan writes the partitions' files when ``workdir`` is not given (a path or
#: URL every worker reads); else the driver's temporary folder (a local cluster).
WORKDIR_ENV = "LIFECIRCLE_DASK_WORKDIR"

INSTALL = "pip install 'lifecircle[dask]'"


def require_dask() -> Any:
    """Import :mod:`dask.distributed`, or refuse with the install command.

    Raises
    ------
    DaskOptionError
        When dask is not installed.
    """
    try:
        import dask.distributed as dd
    except ImportError as exc:
        msg = (
            f"--dask needs dask.distributed, which is not installed ({exc}); install it with "
            f"`{INSTALL}` (or `pip install 'dask[distributed]'`), or run without --dask"
        )
        raise DaskOptionError(msg) from exc
    return dd


def parse_scheduler(spec: str) -> tuple[str, int | str]:
    """``local:N`` -> ``("local", N)``; ``tcp://host:port`` -> ``("address", spec)``.

    Raises
    ------
    DaskOptionError
        For anything else.
    """
    text = str(spec).strip()
    if text.startswith("local:"):
        n = text.removeprefix("local:")
        if n.isdigit() and 1 <= int(n) <= 512:
            return "local", int(n)
    elif "://" in text and text.split("://", 1)[1]:
        return "address", text
    msg = (
        f"--dask {spec!r}: give local:N (a local cluster of N worker processes, 1-512) or a "
        "scheduler address such as tcp://10.0.0.5:8786"
    )
    raise DaskOptionError(msg)


def _refuse_unsupported(opts: AuditOptions) -> None:
    if opts.close is not None or opts.rural_standard is not None:
        flag = "--close" if opts.close is not None else "--rural-standard"
        msg = (
            f"{flag} is not available with --dask: it audits the city twice (or under two "
            f"standards) and merges figures that cross partitions; run it without --dask"
        )
        raise DaskOptionError(msg)


# --------------------------------------------------------------------------- driver side


def _absolute(opts: AuditOptions) -> AuditOptions:
    """Input paths made absolute where they exist here (workers may run elsewhere)."""

    def fix(value: Any) -> Any:
        if isinstance(value, tuple):
            return tuple(fix(v) for v in value)
        if isinstance(value, Path) and value.exists():
            return value.resolve()
        return value

    changes = {
        name: fix(getattr(opts, name))
        for name in ("network", "facilities", "units", "population", "typecodes")
    }
    facilities = tuple(
        (fix(Path(f[0])), f[1]) if isinstance(f, tuple) else fix(Path(f)) for f in opts.facilities
    )
    changes["facilities"] = facilities
    return opts.replace(**changes)


def _client(spec: str) -> tuple[Any, Any]:
    dd = require_dask()
    kind, value = parse_scheduler(spec)
    if kind == "local":
        cluster = dd.LocalCluster(
            n_workers=int(value), threads_per_worker=1, processes=True, dashboard_address=":0"
        )
        return dd.Client(cluster), cluster
    try:
        return dd.Client(str(value), timeout="20s"), None
    except OSError as exc:
        msg = f"--dask {value}: cannot reach the Dask scheduler ({exc}); check the address"
        raise DaskOptionError(msg) from exc


def _gather_as_completed(futures: list[Any]) -> list[Any]:
    """The futures' results in their order, each released from its worker once fetched.

    A worker then holds only the partitions it is working on, not every result it made.
    """
    dd = require_dask()
    order = {future.key: i for i, future in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    pending = dd.as_completed(futures)
    futures.clear()
    for future in pending:
        results[order[future.key]] = future.result()
        future.release()
    return results


def audit_dask(
    options: AuditOptions | None = None,
    *,
    dask: str = "local:2",
    level: str | None = None,
    client: Any = None,
    workdir: str | Path | None = None,
    **option_values: Any,
) -> DaskAudit:
    """Audit on Dask workers, partitioned by a governance level; equals :func:`lifecircle.audit`.

    Parameters
    ----------
    options
        The audit's options (:class:`~lifecircle.options.AuditOptions`); inputs are
        paths the workers can read (a shared folder) or fsspec URLs
        (``s3://bucket/city.osm.pbf``; the plan's worker copies them locally).
    dask
        ``local:N`` (a local cluster of N worker processes) or a scheduler address
        (``tcp://host:8786``). Ignored when ``client`` is given.
    level
        The governance level whose units are the partitions (default: the level below
        the top).
    client
        An existing :class:`dask.distributed.Client` to use.
    workdir
        A folder or fsspec URL every worker can read and write, under which the plan
        writes each partition's piece of the network (deleted at the end). Default:
        the environment variable ``LIFECIRCLE_DASK_WORKDIR``, else the driver's
        temporary folder (enough for a local cluster).
    **option_values
        Options given one by one (they override ``options``).

    Returns
    -------
    DaskAudit
        ``.access``, ``.units``, ``.gaps``, ``.summary``; ``.write(folder)``.

    Raises
    ------
    DaskOptionError
        Dask missing, a bad scheduler or level, or an option not available here.
    """
    opts = _absolute((options or AuditOptions()).replace(**option_values))
    _refuse_unsupported(opts)
    std, _ = _standard_and_profile(opts)
    base = workdir if workdir is not None else os.environ.get(WORKDIR_ENV) or tempfile.gettempdir()
    base = str(base) if as_url(base) is None else str(as_url(base))
    own_client = client is None
    cluster = None
    if own_client:
        client, cluster = _client(dask)
    run_dir = make_workdir(base)
    t0 = time.perf_counter()
    try:
        plan = client.submit(plan_task, opts, level, run_dir, pure=False).result()
        t_plan = time.perf_counter() - t0
        hierarchy = client.scatter(plan["hierarchy"], broadcast=True)
        futures = [
            client.submit(partition_task, opts, part, hierarchy, plan["audited"], pure=False)
            for part in plan["partitions"]
        ]
        parts = _gather_as_completed(futures)
    finally:
        remove_workdir(run_dir)
        if own_client:
            client.close()
            if cluster is not None:
                cluster.close()
    t_parts = time.perf_counter() - t0 - t_plan
    run = {
        "timings": {"plan": t_plan, "partitions": t_parts},
        "scheduler": "client" if not own_client else dask,
    }
    return merge(opts, std, plan, parts, run)


def read_walk_graph(options: AuditOptions) -> WalkGraph:
    """The study's walk graph, read here as the audit reads it (for the map of a run).

    A network given as an fsspec URL is copied to a temporary folder first.
    """
    opts = options
    with tempfile.TemporaryDirectory(prefix="lifecircle-network-") as tmp:
        if has_urls(opts):
            opts = localize(opts.replace(facilities=(), units=None, population=None), Path(tmp))
        network, _, _, _ = _inputs(opts)
        return read_network(network, min_component_nodes=opts.min_component_nodes)
