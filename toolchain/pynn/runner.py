"""Run an unmodified PyNN script with spikeport as its simulator.

Scripts find the backend as ``pyNN.spikeport`` (PyNN's ``get_simulator`` imports
``pyNN.<argv[1]>``); ``setup()`` uses ``target`` unless the script names another.
"""

from __future__ import annotations

import builtins
import io
import os
import sys
import tokenize
import types
import zipfile
from collections.abc import Sequence
from pathlib import Path

from toolchain.targets import TARGETS, UnknownTargetError


class ScriptError(ValueError):
    """A path given as a PyNN script that is not a Python source file."""


def script_code(script: str | Path) -> types.CodeType:
    """The compiled code of the Python source file ``script``.

    Only source text is accepted.  Python itself would also run a ZIP archive's or a
    directory's ``__main__.py`` and bytecode files; an artifact is a ZIP archive and is data,
    so nothing inside one may ever be executed because a user passed it where a script goes.
    """
    path = Path(script)
    if path.is_dir():
        raise ScriptError(f"'{script}' is a directory, not a PyNN script (a .py file)")
    if not path.is_file():
        raise ScriptError(f"PyNN script '{script}' does not exist")
    data = path.read_bytes()
    if data.startswith(b"PK\x03\x04") or zipfile.is_zipfile(path):
        raise ScriptError(
            f"'{script}' is a ZIP archive (a saved network or compiled artifact?), not a PyNN "
            "script: its contents are data and are never run; give the .py script that "
            "builds the network")
    if b"\0" in data:
        raise ScriptError(f"'{script}' is a binary file, not a PyNN script (Python source)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError) as e:
        raise ScriptError(f"'{script}' is not Python source text ({e})") from None
    return compile(text, str(path), "exec", dont_inherit=True)


def run_script(script: str | Path, args: Sequence[str] = (), target: str | None = None) -> int:
    """Execute ``script`` as ``__main__`` with ``args`` as its command line; return its exit
    status.  Exceptions from the script propagate; a file that is not Python source raises
    :class:`ScriptError` before anything runs."""
    import toolchain.pynn  # noqa: F401  (registers pyNN.spikeport)
    from toolchain.pynn import simulator

    if target is not None and target not in TARGETS:
        raise UnknownTargetError(
            f"unknown target '{target}'; known targets: {', '.join(TARGETS)}")
    code = script_code(script)
    path = Path(script).resolve()
    os.environ.setdefault("MPLBACKEND", "Agg")  # scripts that plot must not need a display
    saved = sys.argv[:], sys.path[:], simulator.state.default_target
    sys.argv = [str(path), *args]
    sys.path.insert(0, str(path.parent))
    if target is not None:
        simulator.state.default_target = target
    main = types.ModuleType("__main__")
    main.__dict__.update(__file__=str(path), __builtins__=builtins, __spec__=None)
    saved_main = sys.modules["__main__"]
    sys.modules["__main__"] = main  # as for `python script.py`: pickle and dataclasses look here
    try:
        exec(code, main.__dict__)
    except SystemExit as stop:
        if stop.code is None:
            return 0
        if isinstance(stop.code, int):
            return stop.code
        print(stop.code, file=sys.stderr)
        return 1
    finally:
        sys.modules["__main__"] = saved_main
        sys.argv, sys.path[:] = saved[0], saved[1]
        simulator.state.default_target = saved[2]
    return 0
