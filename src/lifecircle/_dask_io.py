"""Where a partitioned audit's workers read from and write to: paths or fsspec URLs.

Inputs (``--network``, ``--facilities``, ``--units``, ``--population``,
``--typecodes``) may be local paths on a shared folder or URLs of any filesystem
fsspec knows (``s3://bucket/city.osm.pbf``, ``gs://...``, ``file:///shared/...``,
``memory://`` in tests). The readers need a local file, so the plan task copies
each URL input into a temporary folder of its worker first (:func:`localize`).

The plan writes each partition's inputs (its piece of the walk graph, the snapped
residents and facility access points) as one ``.npz`` of plain arrays and one
GeoParquet file into a work folder, a path or URL every worker reads
(:func:`write_part` / :func:`read_part`). Nothing is unpickled: ``numpy.load``
runs with ``allow_pickle=False``.
"""

from __future__ import annotations

import io
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import numpy as np

from .errors import InputFileError
from .options import AuditOptions

#: ``scheme:/rest`` as a URL looks after it went through ``pathlib.Path``.
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):/+(.*)$")

#: The input options that may be URLs.
_INPUTS = ("network", "units", "population", "typecodes")


def as_url(value: Any) -> str | None:
    """The fsspec URL ``value`` names, or ``None`` for a local path.

    ``pathlib.Path`` folds ``s3://b/k`` into ``s3:/b/k``; both spellings are read
    back as ``s3://b/k`` (``file:`` as ``file:///...``). One-letter schemes are
    Windows drive letters, not URLs.
    """
    if value is None:
        return None
    match = _URL.match(str(value))
    if match is None:
        return None
    scheme, rest = match.group(1).lower(), match.group(2)
    if scheme == "file":
        return f"file:///{rest}"
    return f"{scheme}://{rest}"


def _fs(url: str) -> tuple[Any, str]:
    try:
        from fsspec.core import url_to_fs  # type: ignore[import-untyped]
    except ImportError as exc:  # pragma: no cover - dask depends on fsspec
        msg = f"{url}: reading URLs needs fsspec (`pip install fsspec`), or give a local path"
        raise InputFileError(msg) from exc

    fs, path = url_to_fs(url)
    return fs, str(path)


def _fetch(url: str, folder: Path, what: str) -> Path:
    """Copy ``url`` (and a shapefile's sidecar files) into ``folder``; the local path."""
    fs, path = _fs(url)
    name = path.rstrip("/").rsplit("/", 1)[-1]
    sources = [path]
    if name.lower().endswith(".shp"):
        stem = path[: -len(".shp")]
        sources = [p for p in fs.glob(stem + ".*") if p.rsplit(".", 1)[0] == stem] or [path]
    sub = folder / uuid.uuid4().hex[:8]
    sub.mkdir(parents=True)
    for source in sources:
        target = sub / source.rstrip("/").rsplit("/", 1)[-1]
        try:
            with fs.open(source, "rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except FileNotFoundError as exc:
            msg = (
                f"{what} {url!r} does not exist or this Dask worker cannot read it ({exc}); "
                "give a path on a folder every worker mounts or a URL they can reach "
                "(s3://, gs://, https:// ...)"
            )
            raise InputFileError(msg) from exc
    return sub / name


def has_urls(opts: AuditOptions) -> bool:
    """Whether any input of ``opts`` is a URL."""
    items = [getattr(opts, n) for n in _INPUTS]
    items += [f[0] if isinstance(f, tuple) else f for f in opts.facilities]
    return any(as_url(v) is not None for v in items)


def localize(opts: AuditOptions, folder: Path) -> AuditOptions:
    """``opts`` with every URL input copied into ``folder`` (local paths unchanged)."""
    changes: dict[str, Any] = {}
    for name in _INPUTS:
        url = as_url(getattr(opts, name))
        if url is not None:
            changes[name] = _fetch(url, folder, f"--{name}")
    facilities = []
    for item in opts.facilities:
        path, datum = item if isinstance(item, tuple) else (item, None)
        url = as_url(path)
        local = _fetch(url, folder, "--facilities") if url is not None else path
        facilities.append((local, datum) if isinstance(item, tuple) else local)
    changes["facilities"] = tuple(facilities)
    return opts.replace(**changes)


def given_names(local: AuditOptions, given: AuditOptions) -> dict[str, str]:
    """Each local copy made by :func:`localize` (as text) -> the URL it was fetched from."""
    pairs = [(getattr(local, n), getattr(given, n)) for n in _INPUTS]
    pairs += list(zip(local.facilities, given.facilities, strict=True))
    out = {}
    for here, there in pairs:
        here_path = here[0] if isinstance(here, tuple) else here
        url = as_url(there[0] if isinstance(there, tuple) else there)
        if url is not None and here_path is not None:
            out[str(here_path)] = url
    return out


def join(base: str, name: str) -> str:
    """``base/name`` for a local folder or a URL."""
    return base.rstrip("/") + "/" + name


def make_workdir(base: str) -> str:
    """A new, empty folder under ``base`` (path or URL) for one run's partition files."""
    url = join(base, f"lifecircle-dask-{uuid.uuid4().hex[:12]}")
    fs, path = _fs(url)
    fs.makedirs(path, exist_ok=True)
    return url


def remove_workdir(url: str) -> None:
    """Delete a folder made by :func:`make_workdir` (missing: nothing to do)."""
    fs, path = _fs(url)
    if fs.exists(path):
        fs.rm(path, recursive=True)


def write_part(url: str, arrays: dict[str, np.ndarray], residents: gpd.GeoDataFrame) -> int:
    """Write one partition's arrays (``url + ".npz"``) and residents (``".parquet"``).

    Returns the number of bytes written.
    """
    fs, path = _fs(url)
    buf = io.BytesIO()
    cast(Any, np.savez)(buf, **arrays)
    table = io.BytesIO()
    residents.to_parquet(table, index=False)
    try:
        with fs.open(path + ".npz", "wb") as f:
            f.write(buf.getvalue())
        with fs.open(path + ".parquet", "wb") as f:
            f.write(table.getvalue())
    except OSError as exc:
        msg = (
            f"the Dask worker running the plan cannot write the partition file {url!r} "
            f"({exc}); give a work folder every worker reaches (audit_dask(workdir=...) or "
            "LIFECIRCLE_DASK_WORKDIR, a shared path or an s3:// URL)"
        )
        raise InputFileError(msg) from exc
    return len(buf.getvalue()) + len(table.getvalue())


def read_part(url: str) -> tuple[dict[str, np.ndarray], gpd.GeoDataFrame]:
    """Read what :func:`write_part` wrote (no pickles)."""
    fs, path = _fs(url)
    try:
        with fs.open(path + ".npz", "rb") as f:
            data = io.BytesIO(f.read())
        with fs.open(path + ".parquet", "rb") as f:
            table = io.BytesIO(f.read())
    except FileNotFoundError as exc:
        msg = (
            f"a Dask worker cannot read the partition file {url!r} the plan wrote ({exc}): "
            "its work folder is not shared with this worker; give a work folder every "
            "worker reaches (audit_dask(workdir=...) or LIFECIRCLE_DASK_WORKDIR, a shared "
            "path or an s3:// URL)"
        )
        raise InputFileError(msg) from exc
    with np.load(data, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, gpd.read_parquet(table)
