"""Run an unmodified PyNN script with spikeport as its simulator.

Scripts find the backend as ``pyNN.spikeport`` (PyNN's ``get_simulator`` imports
``pyNN.<argv[1]>``); ``setup()`` uses ``target`` unless the script names another.
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Sequence
from pathlib import Path

from toolchain.targets import TARGETS, UnknownTargetError


def run_script(script: str | Path, args: Sequence[str] = (), target: str | None = None) -> int:
    """Execute ``script`` as ``__main__`` with ``args`` as its command line; return its exit
    status.  Exceptions from the script propagate."""
    import toolchain.pynn  # noqa: F401  (registers pyNN.spikeport)
    from toolchain.pynn import simulator

    if target is not None and target not in TARGETS:
        raise UnknownTargetError(
            f"unknown target '{target}'; known targets: {', '.join(TARGETS)}")
    path = Path(script).resolve()
    if not path.is_file():
        raise FileNotFoundError(f"PyNN script '{script}' does not exist")
    os.environ.setdefault("MPLBACKEND", "Agg")  # scripts that plot must not need a display
    saved = sys.argv[:], sys.path[:], simulator.state.default_target
    sys.argv = [str(path), *args]
    sys.path.insert(0, str(path.parent))
    if target is not None:
        simulator.state.default_target = target
    try:
        runpy.run_path(str(path), run_name="__main__")
    except SystemExit as stop:
        if stop.code is None:
            return 0
        if isinstance(stop.code, int):
            return stop.code
        print(stop.code, file=sys.stderr)
        return 1
    finally:
        sys.argv, sys.path[:] = saved[0], saved[1]
        simulator.state.default_target = saved[2]
    return 0
