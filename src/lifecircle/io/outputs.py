"""Write outputs safely: one output folder published as a set, cells neutralised for Excel.

An audit or a siting writes several files. :class:`OutputFolder` writes them into a
staging folder next to ``--out`` and publishes the whole set at once by atomically
exchanging the two folders (``renameat2(RENAME_EXCHANGE)`` on Linux; elsewhere two
renames, with the old folder restored if the second fails). So:

* a run that fails, is interrupted (Ctrl-C, SIGTERM) or runs out of disk leaves the
  previous ``--out`` byte-identical, and removes its staging folder;
* a run killed with ``kill -9`` leaves ``--out`` as it was (or, past the exchange,
  the complete new set); its staging folder is removed at once by a small janitor
  process that outlives it (and, should that be killed too, by the next run into the
  same ``--out``);
* two runs into the same ``--out`` do not interleave: the second exits with a
  message (the folder is locked with ``flock`` for the whole run);
* files in ``--out`` that are not outputs of lifecircle (e.g. a candidates file the
  user keeps there) are carried over into the new set (hard links), and an input is
  never overwritten by an output.

Every file is flushed to disk (``fsync``) before it is published.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import json
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ..columns import OUTPUTS
from ..errors import InputFileError, OutputError
from ..reproducible import gdal_reproducible

#: Every file lifecircle may write into ``--out`` (:data:`lifecircle.columns.OUTPUTS`):
#: files of an earlier run with these names are replaced by the new set (or dropped
#: when the new run does not make them, e.g. ``map.html`` after ``--no-map``), so the
#: folder never mixes two runs.
KNOWN_OUTPUTS: frozenset[str] = frozenset(OUTPUTS)

log = logging.getLogger(__name__)

_STAGING_MARK = ".lifecircle-staging-"

#: Characters that make a spreadsheet cell a formula (OWASP: CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


# --------------------------------------------------------------------------- cells


def neutralise_cell(value: Any) -> Any:
    r"""A text cell that a spreadsheet would run as a formula, made inert.

    OWASP's recommendation: a cell starting with ``=``, ``+``, ``-``, ``@``, tab or
    carriage return gets a leading single quote, so Excel, LibreOffice and WPS show
    it as text. Numbers and other values are returned unchanged.

    Parameters
    ----------
    value
        A cell value.

    Returns
    -------
    object
        ``value``, or ``"'" + value`` for a string that starts a formula.

    Examples
    --------
    >>> neutralise_cell('=HYPERLINK("http://x")')
    '\\'=HYPERLINK("http://x")'
    >>> neutralise_cell(-1.5)
    -1.5
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot start a formula."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_cell)
    out.columns = [neutralise_cell(str(c)) for c in out.columns]
    return out


# --------------------------------------------------------------------------- files


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some file systems cannot fsync a folder
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; fsync and rename it onto ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=target.suffix or ".tmp", dir=target.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers such as GDAL want to create the file themselves
    try:
        yield tmp_path
        _fsync_file(tmp_path)
        os.replace(tmp_path, target)
        _fsync_dir(target.parent)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_atomic(target: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``target``."""
    with atomic_path(target) as tmp:
        write(tmp)
    return target


def check_not_inputs(paths: Sequence[Path], inputs: Sequence[Path | None]) -> None:
    """Refuse to write any output onto an input file."""
    resolved = {Path(p).resolve() for p in inputs if p is not None}
    for path in paths:
        if Path(path).resolve() in resolved:
            msg = (
                f"output {path} would overwrite an input file; choose another --out "
                "folder, or move the input out of it"
            )
            raise InputFileError(msg)


def write_geopackage(target: Path, layers: dict[str, gpd.GeoDataFrame]) -> Path:
    """Write several layers into one GeoPackage, atomically and reproducibly."""

    def write(tmp: Path) -> None:
        with gdal_reproducible():
            for name, frame in layers.items():
                frame.to_file(tmp, layer=name, driver="GPKG")

    return write_atomic(target, write)


def write_json(target: Path, data: dict[str, Any]) -> Path:
    """Write JSON (UTF-8, indented, Chinese kept readable), atomically."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=_json_default)
    return write_atomic(target, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def write_csv(target: Path, frame: pd.DataFrame) -> Path:
    """Write CSV for spreadsheets, atomically.

    UTF-8 with a byte-order mark (so Excel shows Chinese), and every text cell that
    a spreadsheet would run as a formula neutralised (:func:`neutralise_cell`); the
    GeoPackage and Parquet outputs keep the true values.
    """
    safe = neutralise_frame(frame)
    # CRLF line ends (RFC 4180, as Excel writes): a CR inside a cell is then quoted
    return write_atomic(
        target,
        lambda tmp: safe.to_csv(tmp, index=False, encoding="utf-8-sig", lineterminator="\r\n"),
    )


def write_geoparquet(target: Path, frame: gpd.GeoDataFrame) -> Path:
    """Write GeoParquet, atomically."""
    return write_atomic(target, lambda tmp: frame.to_parquet(tmp, index=False))


def write_rural_access(target: Path, frame: pd.DataFrame) -> Path:
    """The rural residents' access table (Parquet; GeoParquet in EPSG:4326 if it has points)."""
    if isinstance(frame, gpd.GeoDataFrame):
        return write_geoparquet(target, frame.to_crs("EPSG:4326"))
    return write_atomic(target, lambda tmp: pd.DataFrame(frame).to_parquet(tmp, index=False))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    msg = f"cannot write {type(value).__name__} to JSON"
    raise TypeError(msg)


# --------------------------------------------------------------------------- folder

#: A writer of one output file: called with the path to write.
Writer = Callable[[Path], object]


def write_outputs(folder: OutputFolder, writers: dict[str, Writer]) -> None:
    """Write every output into the staging folder of ``folder`` (not yet published)."""
    for name, write in writers.items():
        log.debug("writing %s", name)
        try:
            write(folder.path(name))
        except OSError as exc:  # a full disk, a quota, an I/O error
            raise output_error(exc, folder.out) from exc


def check_out(out: Path, inputs: Sequence[Path | None] = ()) -> None:
    """Refuse an unusable ``--out`` before any work is done.

    Parameters
    ----------
    out
        The output folder (need not exist).
    inputs
        The run's input files: ``out`` may not be one of them, lie inside one (an input
        folder such as a shapefile directory), and no known output name in ``out`` may
        be an input.

    Raises
    ------
    OutputError
        With a message naming ``out`` and the fix.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        msg = (
            f"--out {out} is an existing file, not a folder; give a folder name "
            "(it is created if missing)"
        )
        raise OutputError(msg)
    parent = _existing_ancestor(out)
    if not parent.is_dir():
        msg = f"--out {out}: {parent} is not a folder; give another --out"
        raise OutputError(msg)
    for folder in (out, out.parent) if out.exists() else (parent,):
        if folder.exists() and not os.access(folder, os.W_OK | os.X_OK):
            msg = (
                f"--out {out}: cannot write into {folder} (permission denied); choose "
                "a folder you can write to"
            )
            raise OutputError(msg)
    target = out.resolve()
    for item in inputs:
        if item is None:
            continue
        src = Path(item).resolve()
        if target == src or src in target.parents:
            msg = (
                f"--out {out} is, or lies inside, the input {item}; choose an --out "
                "folder outside the inputs"
            )
            raise OutputError(msg)
        if src.parent == target and src.name in KNOWN_OUTPUTS:
            msg = (
                f"the input {item} lies in --out {out} under the name of an output that "
                "the run would replace; move the input elsewhere or choose another --out"
            )
            raise OutputError(msg)


def _existing_ancestor(path: Path) -> Path:
    path = Path(os.path.abspath(path))
    while not path.exists():
        path = path.parent
    return path


class OutputFolder:
    """The output folder of one run: locked, staged, published as a set.

    Use as a context manager around the whole run (so the lock is held from the
    start), write each output to :meth:`path`, then call :meth:`publish`. Leaving
    the block without publishing (an error, Ctrl-C, SIGTERM) removes the staging
    folder and leaves ``out`` as it was.

    Parameters
    ----------
    out
        The output folder; created (empty) if missing, and removed again if the run
        fails before publishing anything into it.
    inputs
        The run's input files (see :func:`check_out`).
    wait
        Wait for another run holding ``out`` instead of refusing at once.

    Examples
    --------
    >>> with OutputFolder("lifecircle-out") as folder:       # doctest: +SKIP
    ...     write_json(folder.path("summary.json"), {"ok": True})
    ...     folder.publish()
    """

    def __init__(
        self, out: str | Path, *, inputs: Sequence[Path | None] = (), wait: bool = False
    ) -> None:
        self.out = Path(out)
        self.inputs = [Path(p) for p in inputs if p is not None]
        self.wait = wait
        self._lock_fd: int | None = None
        self._created = False
        self._staging: Path | None = None
        self._janitor: subprocess.Popen[bytes] | None = None
        self.published: list[Path] = []

    # ---------------------------------------------------------------- life cycle

    def __enter__(self) -> OutputFolder:
        check_out(self.out, self.inputs)
        if not self.out.exists():
            try:
                self.out.mkdir(parents=True)
            except OSError as exc:
                msg = f"--out {self.out}: cannot create the folder ({exc.strerror}); choose another"
                raise OutputError(msg) from exc
            self._created = True
        self._lock()
        try:
            self._remove_stale_staging()
            self._staging = Path(
                tempfile.mkdtemp(prefix=f".{self.out.name}{_STAGING_MARK}", dir=self.out.parent)
            )
            # the published folder keeps the permissions of the one it replaces
            os.chmod(self._staging, stat.S_IMODE(os.stat(self.out).st_mode))
            self._janitor = _start_janitor(self._staging)
        except BaseException:
            if self._staging is not None:
                shutil.rmtree(self._staging, ignore_errors=True)
            self._unlock()
            raise
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if self._staging is not None and self._staging.exists():
                shutil.rmtree(self._staging, ignore_errors=True)
            if self._created and not self.published:
                with contextlib.suppress(OSError):
                    self.out.rmdir()  # only if still empty
        finally:
            if self._janitor is not None:
                self._janitor.kill()
                self._janitor.wait()
                self._janitor = None
            self._unlock()

    def path(self, name: str) -> Path:
        """Where to write the output called ``name`` (inside the staging folder)."""
        if self._staging is None:
            msg = "OutputFolder.path() is used inside `with OutputFolder(...)` only"
            raise RuntimeError(msg)
        if os.sep in name or name.startswith("."):
            msg = f"output names are plain file names, got {name!r}"
            raise ValueError(msg)
        check_not_inputs([self.out / name], self.inputs)
        return self._staging / name

    def publish(self) -> list[Path]:
        """Make the staged files the content of ``out``, all at once.

        Returns
        -------
        list of pathlib.Path
            The published outputs, in ``out``.
        """
        staging = self._staging
        if staging is None:
            msg = "nothing to publish: use OutputFolder as a context manager"
            raise RuntimeError(msg)
        names = sorted(p.name for p in staging.iterdir() if not p.name.startswith("."))
        for name in names:
            _fsync_file(staging / name)
        self._carry_over(staging)
        _fsync_dir(staging)
        try:
            _exchange(staging, self.out)
        except OSError as exc:
            raise output_error(exc, self.out) from exc
        _fsync_dir(self.out.parent)
        # the staging path now holds the previous set: remove it
        shutil.rmtree(staging, ignore_errors=True)
        self._staging = None
        self.published = [self.out / name for name in names]
        return self.published

    # ---------------------------------------------------------------- helpers

    def _carry_over(self, staging: Path) -> None:
        """Hard-link into ``staging`` what ``out`` holds that is not a lifecircle output."""
        for entry in sorted(self.out.iterdir()):
            if entry.name in KNOWN_OUTPUTS or (staging / entry.name).exists():
                continue
            _link_tree(entry, staging / entry.name)

    def _lock(self) -> None:
        """Hold an exclusive lock on ``out`` (the folder's inode) for the whole run."""
        while True:
            fd = os.open(self.out, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if self.wait else fcntl.LOCK_NB))
            except BlockingIOError:
                os.close(fd)
                msg = (
                    f"--out {self.out} is in use by another lifecircle run; wait for it to "
                    "finish or choose another --out"
                )
                raise OutputError(msg) from None
            # the other run may have published a new folder while we waited: lock that
            if os.fstat(fd).st_ino == os.stat(self.out).st_ino:
                self._lock_fd = fd
                return
            os.close(fd)

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing releases the flock
            self._lock_fd = None

    def _remove_stale_staging(self) -> None:
        """Staging folders of runs into ``out`` that were killed (we hold the lock)."""
        for stale in self.out.parent.glob(f".{self.out.name}{_STAGING_MARK}*"):
            shutil.rmtree(stale, ignore_errors=True)


#: The janitor: a tiny process that waits for the run to end and then removes its
#: staging folder. A run that ends normally removes it itself and stops the janitor;
#: a run killed with ``kill -9`` cannot, and its janitor (reparented when the run
#: dies) does it instead, so no temporary folder is left behind.
_JANITOR = """
import os, shutil, sys, time
staging, parent = sys.argv[1], int(sys.argv[2])
while os.getppid() == parent:
    time.sleep(0.05)
shutil.rmtree(staging, ignore_errors=True)
"""


def _start_janitor(staging: Path) -> subprocess.Popen[bytes]:
    """Start the process that removes ``staging`` once this process is gone."""
    return subprocess.Popen(
        [sys.executable, "-I", "-c", _JANITOR, str(staging), str(os.getpid())],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ctrl-C in a terminal goes to the run, not to the janitor
    )


def _link_tree(src: Path, dst: Path) -> None:
    """Hard-link ``src`` (a file or a folder tree) at ``dst``; copy where links fail."""
    if src.is_dir() and not src.is_symlink():
        dst.mkdir()
        for entry in sorted(src.iterdir()):
            _link_tree(entry, dst / entry.name)
        return
    if src.is_symlink():
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


def _exchange(staging: Path, out: Path) -> None:
    """Atomically swap two folders (Linux); elsewhere rename twice, restoring on failure."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = getattr(libc, "renameat2", None)
        if renameat2 is not None:
            res = renameat2(
                _AT_FDCWD, os.fsencode(staging), _AT_FDCWD, os.fsencode(out), _RENAME_EXCHANGE
            )
            if res == 0:
                return
            err = ctypes.get_errno()
            if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
                raise OSError(err, os.strerror(err), str(out))
    # no atomic exchange on this system or file system: two renames
    aside = staging.with_name(staging.name + "-previous")
    os.rename(out, aside)
    try:
        os.rename(staging, out)
    except OSError:
        os.rename(aside, out)
        raise
    os.rename(aside, staging)


def output_error(exc: OSError, out: Path) -> OutputError:
    """The user-facing error for an operating-system error while writing ``out``."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT) or "No space left" in str(exc):
        msg = (
            f"no space left on the device of --out {out}; the previous outputs are "
            "unchanged. Free some space or choose another --out"
        )
    else:
        msg = f"cannot write the outputs to --out {out}: {exc.strerror or exc}"
    return OutputError(msg)
