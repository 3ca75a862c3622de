"""How the ``lifecircle`` command asks the C allocator to keep its memory.

glibc's malloc gives each thread that allocates while others do an arena of its own (up to
eight per core) and keeps what a thread frees in that arena for later use by that arena.
The audit runs its searches and the capacity LPs on threads of their own while the main
thread works; at a million origins their arenas held some 300 MB that the main thread
could not reuse (measured with ``MALLOC_ARENA_MAX``: 2.55 -> 2.19 GB peak, the same time;
bench/README.md). :func:`limit_malloc_arenas` caps the arenas at two, as
``MALLOC_ARENA_MAX=2`` does, for the arenas made after it. It changes how memory is kept,
never what is computed. The command calls it when it starts; a program that imports the
library decides for itself. Elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

#: glibc's ``mallopt`` parameter ``M_ARENA_MAX`` (malloc.h)
_M_ARENA_MAX = -8

#: Arenas kept: the main thread's and one shared by the worker threads.
MALLOC_ARENAS = 2


def limit_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Cap glibc malloc's arenas at ``arenas``; True if the C library took the setting.

    Parameters
    ----------
    arenas
        At least 1.

    Returns
    -------
    bool
        False where the C library is not glibc (no ``mallopt``) or refused the value.
    """
    if arenas < 1:
        msg = f"arenas must be at least 1, not {arenas}"
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
    return bool(mallopt(_M_ARENA_MAX, int(arenas)))
