"""Write audit outputs atomically (temp file in the same folder, then rename)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from ..errors import InputFileError


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path next to ``target``; rename it onto ``target`` on success."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=target.suffix or ".tmp",
                               dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    tmp_path.unlink()  # writers such as GDAL want to create the file themselves
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_atomic(target: Path, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``target``."""
    with atomic_path(target) as tmp:
        write(tmp)
    return target


def check_not_inputs(paths: list[Path], inputs: list[Path]) -> None:
    """Refuse to write any output onto an input file."""
    resolved = {Path(p).resolve() for p in inputs if p is not None}
    for path in paths:
        if path.resolve() in resolved:
            msg = (f"output {path} would overwrite an input file; choose another --out "
                   "folder")
            raise InputFileError(msg)


def write_geopackage(target: Path, layers: dict[str, gpd.GeoDataFrame]) -> Path:
    """Write several layers into one GeoPackage, atomically."""

    def write(tmp: Path) -> None:
        for name, frame in layers.items():
            frame.to_file(tmp, layer=name, driver="GPKG")

    return write_atomic(target, write)


def write_json(target: Path, data: dict[str, Any]) -> Path:
    """Write JSON (UTF-8, indented, Chinese kept readable), atomically."""
    text = json.dumps(data, ensure_ascii=False, indent=2, default=_json_default)
    return write_atomic(target, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))


def write_csv(target: Path, frame: pd.DataFrame) -> Path:
    """Write CSV (UTF-8 with BOM so Excel shows Chinese), atomically."""
    return write_atomic(target, lambda tmp: frame.to_csv(tmp, index=False,
                                                          encoding="utf-8-sig"))


def write_geoparquet(target: Path, frame: gpd.GeoDataFrame) -> Path:
    """Write GeoParquet, atomically."""
    return write_atomic(target, lambda tmp: frame.to_parquet(tmp, index=False))


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return sorted(value)
    msg = f"cannot write {type(value).__name__} to JSON"
    raise TypeError(msg)
