"""How the ``lifecircle`` command asks the C allocator to keep its memory.

Two settings of glibc's malloc, made by :func:`tune_malloc` when the command starts:

* **two arenas** (``M_ARENA_MAX``, as ``MALLOC_ARENA_MAX=2``): malloc gives each thread
  that allocates while others do an arena of its own (up to eight per core) and keeps
  what a thread frees in that arena. The audit runs its searches and the capacity LPs on
  threads of their own while the main thread works; at a million origins their arenas
  held some 300 MB that the main thread could not reuse (peak 2.55 -> 2.19 GB, the same
  time; bench/README.md);
* **a fixed mmap threshold of 8 MiB** (``M_MMAP_THRESHOLD``): blocks of 8 MiB and more
  get pages of their own, given back when freed. By default the threshold rises with the
  largest block freed (up to 32 MiB), after which the per-category arrays of 1-32 MiB
  (six MB per column at a million origins) are carved from the heap and leave holes
  when freed (peak about 70 MB lower, about 0.5 s more at a million nodes).

They change how memory is kept, never what is computed. A program that imports the
library decides for itself. Elsewhere than glibc they do nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: glibc's ``mallopt`` parameters (malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

#: Arenas kept: the main thread's and one shared by the worker threads.
MALLOC_ARENAS = 2

#: Blocks from this size up get pages of their own (bytes).
MMAP_THRESHOLD = 8 << 20


def tune_malloc(arenas: int = MALLOC_ARENAS, mmap_threshold: int = MMAP_THRESHOLD) -> bool:
    """Cap glibc malloc's arenas and fix its mmap threshold; True if glibc took both.

    Parameters
    ----------
    arenas
        At least 1.
    mmap_threshold
        Bytes, from 128 KiB to 32 MiB (glibc's range).

    Returns
    -------
    bool
        False where the C library is not glibc (no ``mallopt``) or refused a value.
    """
    if arenas < 1:
        msg = f"arenas must be at least 1, not {arenas}"
        raise ValueError(msg)
    if not 128 << 10 <= mmap_threshold <= 32 << 20:
        msg = f"mmap_threshold must be from 128 KiB to 32 MiB, not {mmap_threshold} bytes"
        raise ValueError(msg)
    name = ctypes.util.find_library("c")
    if name is None:  # pragma: no cover - every Linux has a C library
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):  # not glibc (musl, macOS, Windows)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    took_arenas = bool(mallopt(_M_ARENA_MAX, int(arenas)))
    return bool(mallopt(_M_MMAP_THRESHOLD, int(mmap_threshold))) and took_arenas
