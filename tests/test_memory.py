"""The command's allocator setting (lifecircle._memory)."""

from __future__ import annotations

import ctypes.util
import subprocess
import sys

import pytest

from lifecircle import _memory


def test_arena_limit_is_taken_by_glibc_and_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        _memory.tune_malloc(0)
    with pytest.raises(ValueError, match="128 KiB to 32 MiB"):
        _memory.tune_malloc(mmap_threshold=64 << 20)
    # in a child, so this test process keeps its allocator as it was
    code = "from lifecircle._memory import tune_malloc as f; print(f())"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    glibc = sys.platform == "linux" and "musl" not in (ctypes.util.find_library("c") or "")
    assert out == ("True" if glibc else "False")


def test_command_sets_the_limit_before_running(monkeypatch: pytest.MonkeyPatch) -> None:
    from lifecircle import cli

    calls: list[int] = []
    monkeypatch.setattr(_memory, "tune_malloc", lambda: calls.append(1) or True)
    monkeypatch.setattr(sys, "argv", ["lifecircle", "--version"])
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 0
    assert calls == [1]
