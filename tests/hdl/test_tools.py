"""The yowasp tools' compiled code is written into the cache by one process, once."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from hdl.spikecore.tools import compile_once, find_tool


def _cached(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file() and not p.name.startswith(".")]


def test_parallel_first_runs_compile_a_tool_once_and_leave_a_whole_module(tmp_path: Path):
    tool = find_tool("yowasp-icepack", hint="install the 'hdl' extra")
    callers = [threading.Thread(target=compile_once, args=(tool, tmp_path)) for _ in range(3)]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    cached = _cached(tmp_path)
    assert len(cached) == 1 and cached[0].stat().st_size > 0
    stamp = cached[0].stat().st_mtime_ns
    compile_once(tool, tmp_path)  # found ready: not compiled, nor written, again
    assert cached[0].stat().st_mtime_ns == stamp
    # and the tool runs from it (a module cut short kills it with SIGBUS)
    done = subprocess.run([tool, "--version"], env={**os.environ, "YOWASP_CACHE_DIR":
                                                    str(tmp_path)},
                          stdin=subprocess.DEVNULL, capture_output=True, check=False)
    assert done.returncode >= 0
    assert b"Preparing to run" not in done.stderr  # it loaded the cached module
    assert cached[0].stat().st_mtime_ns == stamp
