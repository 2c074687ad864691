"""A board made of the device's generated Verilog under Verilator, its UART pins bridged to a
pseudo-terminal: the host's Session talks to the same gateware a bitstream carries, bit by
bit at the device's own divisor, through the cocotb testbench ``pty_bridge_tb``.

Run one with ``python -m toolchain.boardsim.verilator_board --preset tiny``: it prints the pty
path to pass as ``--port``.  In Python, :class:`VerilatorBoard` has the shape of
``virtual.ServedBoard`` (``path``, ``start``, ``stop``, a context manager).

The simulation runs in its own process group: ``cocotb_tools.runner`` starts the simulator
from a small Python process whose standard input is the pty's master side, because the
runner closes every other inherited file descriptor.  The Verilator build is cached per
core build, clock and divisor, and reused while the generated Verilog stays the same.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from hdl.spikecore.tools import (
    BUILD_ROOT,
    TIMESCALE,
    VERILATOR_ONE_FILE,
    VERILATOR_WARNINGS,
    ToolNotFoundError,
    environment,
    verilator_env,
)
from hdl.spikecore.verify import simulator_available
from toolchain.runtime import protocol as p
from toolchain.runtime.transport import PtyPair, open_pty
from toolchain.targets.fpga.spec import CoreSpec, SpecError, preset

TOP = "link_device"
# The iCEBreaker's oscillator, and the smallest divisor UartRx takes (it needs 4 clocks to
# find the middle of a bit): 3 Mbaud, 40 cycles to simulate per byte.  The simulated line
# has no jitter, so the receiver's narrow margin at 4 costs nothing, and the simulation
# per byte grows with the divisor (1 KB each way measured at 12.7 KB/s at 4, 7.9 at 8).
DEFAULT_CLOCK_HZ = 12_000_000
DEFAULT_DIVISOR = 4
MIN_DIVISOR = 4
# TIMESCALE's 1 ps steps: a 12 MHz period is 83333 of them, near enough.
# The runner makes every signal public (--public-flat-rw), which keeps Verilator from
# optimising the design; only the ports are made public, by a control file (PORTS_VLT), and
# the model is compiled with -O2 instead of -Os: 7x the cycles per second of the plain build.
BUILD_ARGS = (*VERILATOR_WARNINGS, *VERILATOR_ONE_FILE, "--no-public-flat-rw")
MAKE_OPTIONS = "OPT_FAST=-O2 OPT_GLOBAL=-O2"
PORTS_VLT = "ports.vlt"
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
BUILD_STAMP = "built-from.sha256"
_MODULE = "toolchain.boardsim.verilator_board"  # not __name__: that is __main__ under -m


class BuildError(RuntimeError):
    """Verilator or the C++ compiler failed on the generated Verilog."""


class BoardStartError(RuntimeError):
    """The simulation did not come up; the message carries the end of its log."""


def build_dir_for(spec: CoreSpec, clock_hz: int, divisor: int,
                  build_root: Path = BUILD_ROOT / "cocotb") -> Path:
    """One build per core build, clock and divisor: all three are baked into the Verilog
    (the divisor into the PHYs, the clock into HELLO's BuildInfo)."""
    return build_root / (f"verilator-pty-board-{spec.name}-{p.spec_build_id(spec):08x}"
                         f"-{clock_hz}hz-div{divisor}")


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Exclusive lock on ``path``, so parallel test workers build a directory once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_device(spec: CoreSpec, clock_hz: int = DEFAULT_CLOCK_HZ,
                 divisor: int = DEFAULT_DIVISOR,
                 build_root: Path = BUILD_ROOT / "cocotb") -> Path:
    """The build directory holding the Verilator model of ``LinkDevice(spec, clock_hz,
    divisor)``.  The Verilog is generated every time (it is the only reliable witness of a
    changed gateware) and Verilator runs only if it differs from the last build's."""
    from cocotb_tools.runner import VerilatorControlFile, get_runner

    from hdl.uart.device import LinkDevice
    from hdl.uart.verify_link import generate

    _check_link(clock_hz, divisor)
    reason = simulator_available("verilator")
    if reason:
        raise ToolNotFoundError(reason)
    build_dir = build_dir_for(spec, clock_hz, divisor, build_root)
    with _locked(build_dir.with_name(build_dir.name + ".lock")):
        device = LinkDevice(spec, clock_hz, divisor)
        source = generate(device, TOP, build_dir / "rtl")
        ports = build_dir / "rtl" / PORTS_VLT
        ports.write_text(_ports_vlt(["clk", "rst", *device.signature.members]))
        digest = hashlib.sha256(b"\n".join([
            source.read_bytes(), ports.read_bytes(), " ".join(BUILD_ARGS).encode(),
            MAKE_OPTIONS.encode()])).hexdigest()
        stamp = build_dir / BUILD_STAMP
        if (build_dir / TOP).exists() and stamp.exists() and stamp.read_text() == digest:
            return build_dir
        stamp.unlink(missing_ok=True)
        log = build_dir / "build.log"
        try:
            with environment({**verilator_env(), "MAKEFLAGS": MAKE_OPTIONS}):
                get_runner("verilator").build(
                    sources=[VerilatorControlFile(ports), source], hdl_toplevel=TOP,
                    build_dir=build_dir, timescale=TIMESCALE, always=True,
                    build_args=list(BUILD_ARGS), log_file=log)
        except RuntimeError as e:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
            raise BuildError(f"Verilator could not build {source}: {e}; the end of "
                             f"{log}:\n{tail}") from None
        stamp.write_text(digest)
    return build_dir


def _ports_vlt(names: list[str]) -> str:
    """A Verilator control file that makes the top's ports, and nothing else, reachable
    from cocotb."""
    lines = ["`verilator_config"]
    lines += [f'public_flat_rw -module "{TOP}" -var "{name}"' for name in names]
    return "\n".join(lines) + "\n"


def _check_link(clock_hz: int, divisor: int) -> None:
    if divisor < MIN_DIVISOR:
        raise ValueError(f"divisor {divisor}: the device's UART receiver needs at least "
                         f"{MIN_DIVISOR} clocks per bit")
    if not 0 < clock_hz <= 10**9:  # the testbench's period is in 1 ps steps
        raise ValueError(f"clock {clock_hz} Hz: give a positive rate of at most 1 GHz")


class VerilatorBoard:
    """The device's Verilog under Verilator, served on a pty from a background process.

    Building happens in the constructor (20-40 s the first time, 1-2 s when cached);
    :meth:`start` launches the simulation and returns once the device is out of reset.
    """

    def __init__(self, spec: CoreSpec, *, clock_hz: int = DEFAULT_CLOCK_HZ,
                 divisor: int = DEFAULT_DIVISOR,
                 build_root: Path = BUILD_ROOT / "cocotb") -> None:
        from hdl.uart.device import device_info

        _check_link(clock_hz, divisor)
        self.spec, self.clock_hz, self.divisor = spec, clock_hz, divisor
        self.info: p.BuildInfo = device_info(spec, clock_hz, divisor)
        self.build_dir = build_device(spec, clock_hz, divisor, build_root)
        self.pty: PtyPair = open_pty()
        self.path = self.pty.path
        self.run_dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._stopped = False

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = STARTUP_TIMEOUT_S) -> VerilatorBoard:
        """Launch the simulation; return when the device is out of reset and served."""
        from toolchain.boardsim import pty_bridge_tb as tb

        if self._process is not None or self._stopped:
            raise RuntimeError(f"the Verilator board on {self.path} was already started")
        self.run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self.build_dir))
        ready = self.run_dir / "ready"
        env = {**os.environ, **verilator_env(), tb.FD_VAR: "0",
               tb.DIVISOR_VAR: str(self.divisor), tb.CLOCK_HZ_VAR: str(self.clock_hz),
               tb.READY_VAR: str(ready),
               "OPENBLAS_NUM_THREADS": "1"}  # numpy comes in with hdl.uart; spare its threads
        with open(self.run_dir / "sim.log", "wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-c", f"import {_MODULE} as m; m._simulate()",
                 str(self.build_dir), str(self.run_dir)],
                stdin=self.pty.master, stdout=log, stderr=subprocess.STDOUT, env=env,
                start_new_session=True)
        deadline = time.monotonic() + timeout
        while not ready.exists():
            code = self._process.poll()
            if code is not None or time.monotonic() > deadline:
                what = f"exited with code {code}" if code is not None else \
                    f"was not out of reset within {timeout:g} s"
                tail = self._log_tail()
                self.stop()
                raise BoardStartError(f"the Verilator board's simulation {what}; the end of "
                                      f"{self.run_dir / 'sim.log'}:\n{tail}")
            time.sleep(0.01)
        return self

    def power_cycle(self) -> None:
        """Reset the device as a power glitch would: its memories and run are lost, and it
        sends BOOT (the bridge pulses ``rst`` on SIGUSR1)."""
        if not self.running:
            raise RuntimeError(f"the Verilator board on {self.path} is not running")
        assert self._process is not None
        os.killpg(self._process.pid, signal.SIGUSR1)

    def _log_tail(self, lines: int = 30) -> str:
        if self.run_dir is None or not (self.run_dir / "sim.log").exists():
            return "(no log)"
        text = (self.run_dir / "sim.log").read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """Hang up the pty and end the simulation: SIGTERM to its process group (the
        testbench finishes its test), SIGKILL if it does not exit in time.  Idempotent: a
        second call must not close file descriptor numbers that are someone else's by now."""
        if self._stopped:
            return
        self._stopped = True
        self.pty.close()
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if process is not None and process.returncode == 0 and self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> VerilatorBoard:
        return self if self.running else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _simulate() -> None:
    """Body of the simulation process: run the bridge testbench on a built model.  SIGTERM
    reaches the simulator through the process group; this process waits for it to finish
    instead of dying first, so whoever stops the board can wait for one process."""
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    from toolchain.boardsim import pty_bridge_tb

    build_dir, run_dir = Path(sys.argv[1]), Path(sys.argv[2])
    signal.signal(signal.SIGTERM, lambda *_: None)
    # power_cycle signals the whole group: this process ignores it (and the simulator
    # inherits the ignoring until the bridge installs its own handler)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    # a launcher that waits in sigwait has them blocked, and the mask is inherited
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    results = get_runner("verilator").test(
        test_module=pty_bridge_tb.__name__, hdl_toplevel=TOP, hdl_toplevel_lang="verilog",
        build_dir=build_dir, test_dir=run_dir, timescale=TIMESCALE,
        results_xml=str(run_dir / "results.xml"))
    total, failed = get_results(Path(results))
    sys.exit(0 if total and not failed else 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m toolchain.boardsim.verilator_board",
        description="Serve the spikeport device's Verilog, simulated by Verilator, on a pty.",
    )
    parser.add_argument("--preset", default="tiny", help="core build preset (spec.PRESETS)")
    parser.add_argument("--clock-hz", type=int, default=DEFAULT_CLOCK_HZ,
                        help="simulated clock of the device")
    parser.add_argument("--divisor", type=int, default=DEFAULT_DIVISOR,
                        help="clock cycles per UART bit (baud = clock / divisor)")
    args = parser.parse_args(argv)
    try:
        spec = preset(args.preset)
        _check_link(args.clock_hz, args.divisor)
    except (SpecError, ValueError) as e:
        parser.error(str(e))
    signals = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)
    try:
        board = VerilatorBoard(spec, clock_hz=args.clock_hz, divisor=args.divisor).start()
    except (ToolNotFoundError, BuildError, BoardStartError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(board.path, flush=True)
    signal.sigwait(signals)
    board.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
