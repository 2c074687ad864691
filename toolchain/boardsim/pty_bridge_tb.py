"""cocotb testbench that serves the device (``hdl/uart/device.py``) on a pseudo-terminal:
bytes the host writes go onto ``rx`` as 8N1 bits, bits on ``tx`` come back as bytes, so a
host Session talks to the generated Verilog through its own UART pins.

Started by ``toolchain.boardsim.verilator_board``, which owns the pty and hands the master
side over as file descriptor ``PTY_BRIDGE_FD``.  The clock toggles in C (cocotb's GPI
clock); Python wakes once per bit on the line, or once per few byte times while the device
works without talking.  While the device reports ``idle`` and nothing is on the line, the
bridge blocks in ``select`` on the pty without advancing simulated time, so a board that
waits for its host costs no CPU.  It stops when the pty hangs up (every host side closed) or
on SIGTERM.  SIGUSR1 puts the device through reset, as a power glitch would.
"""

from __future__ import annotations

import errno
import gc
import os
import select
import signal
import time
from fractions import Fraction
from pathlib import Path

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, Timer
from cocotb.utils import get_sim_steps, get_sim_time

FD_VAR = "PTY_BRIDGE_FD"
DIVISOR_VAR = "PTY_BRIDGE_DIVISOR"
CLOCK_HZ_VAR = "PTY_BRIDGE_CLOCK_HZ"
READY_VAR = "PTY_BRIDGE_READY"  # a file the bridge creates once the device is out of reset

# How long one blocking wait on an idle board lasts: the bound on how late a SIGTERM is seen.
IDLE_WAIT_S = 0.02
# While the device works without talking, the bridge looks at the pty and at ``idle`` once
# per this many byte times: each look is a trip into Python, which costs as much as
# simulating a few hundred cycles.
BUSY_POLL_BYTES = 4
# Sleep only after ``idle`` was high at this many looks in a row: a sleep on a device that
# still had work would last until the host sends again (its retry, seconds later).
IDLE_LOOKS = 2
DELIMITER = 0x00  # protocol.DELIMITER: ends every frame, so the host gets a frame whole
FLUSH_BYTES = 256


class Hangup(Exception):
    """The host side of the pty is closed for good."""


class PtyEnd:
    """The master side of the pty, non-blocking."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.bytes_in = self.bytes_out = 0
        os.set_blocking(fd, False)

    def read(self, timeout: float) -> bytes:
        """What the host wrote, waiting up to ``timeout`` seconds for the first byte."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 4096)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno == errno.EIO:  # no process has the slave side open any more
                raise Hangup from None
            raise
        if not data:
            raise Hangup
        self.bytes_in += len(data)
        return data

    def write(self, data: bytes, stopping: list[bool]) -> None:
        view = memoryview(data)
        while view and not stopping[0]:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:  # the host is not reading: wait, the line stalls
                select.select([], [self.fd], [], IDLE_WAIT_S)
                continue
            except OSError as e:
                if e.errno == errno.EIO:
                    raise Hangup from None
                raise
            view = view[n:]
            self.bytes_out += n


class TxMonitor:
    """Turns the device's ``tx`` line back into bytes: on each start edge it samples the
    middle of every bit, so Python runs ten times per byte and never per clock.  Bytes go
    to the pty at the end of each frame (a write per byte would cost more than the bits)."""

    def __init__(self, tx: object, bit: int, pty: PtyEnd, stopping: list[bool]) -> None:
        self.tx, self.pty, self.stopping = tx, pty, stopping
        self.busy = False  # between a start edge and the stop bit
        self.activity = False  # a byte went out since the bridge last looked
        self.framing_errors = 0
        self.hangup = False
        self.out = bytearray()
        self._half = Timer(bit // 2, unit="step")
        self._bit = Timer(bit, unit="step")

    async def run(self) -> None:
        while not self.stopping[0]:
            await FallingEdge(self.tx)
            self.busy = True
            await self._half
            if int(self.tx.value):  # a glitch, not a start bit
                self.busy = False
                continue
            byte = 0
            for k in range(8):
                await self._bit
                byte |= int(self.tx.value) << k
            await self._bit
            stop_ok = bool(int(self.tx.value))
            self.busy = False
            self.activity = True
            if not stop_ok:
                self.framing_errors += 1
                cocotb.log.warning("tx: byte 0x%02x without a stop bit", byte)
                continue
            self.out.append(byte)
            if byte == DELIMITER or len(self.out) >= FLUSH_BYTES:
                self.flush()

    def flush(self) -> None:
        if not self.out:
            return
        try:
            self.pty.write(bytes(self.out), self.stopping)
        except Hangup:
            self.hangup = True
            self.stopping[0] = True
        self.out.clear()


class RxDriver:
    """Puts bytes on the device's ``rx`` line as 8N1 at ``bit`` steps per bit; a run of
    equal bits is one wait, not one per bit."""

    def __init__(self, rx: object, bit: int) -> None:
        self.rx = rx
        self._runs = {n: Timer(n * bit, unit="step") for n in range(1, 11)}

    async def send(self, byte: int) -> None:
        bits = [0] + [(byte >> k) & 1 for k in range(8)] + [1]
        k = 0
        while k < len(bits):
            n = 1
            while k + n < len(bits) and bits[k + n] == bits[k]:
                n += 1
            self.rx.value = bits[k]
            await self._runs[n]
            k += n


@cocotb.test()
async def serve_device_on_pty(dut) -> None:
    pty = PtyEnd(int(os.environ[FD_VAR]))
    divisor = int(os.environ[DIVISOR_VAR])
    # to the nearest step: 12 MHz is 83333 ps, and the bits are counted in those periods
    period = get_sim_steps(Fraction(1, int(os.environ[CLOCK_HZ_VAR])), "sec", round_mode="round")
    bit = divisor * period
    stopping = [False]
    previous = signal.signal(signal.SIGTERM, lambda *_: stopping.__setitem__(0, True))
    resets = [0]  # SIGUSR1: a power glitch; the device goes through reset (and says BOOT)
    previous_usr1 = signal.signal(signal.SIGUSR1, lambda *_: resets.__setitem__(0, resets[0] + 1))

    dut.rst.value = 1
    dut.rx.value = 1
    # a clock period that is odd in steps is fine: the high phase is half, rounded down
    Clock(dut.clk, period, unit="step", impl="gpi", period_high=period // 2).start()
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    # start-up leaves a large heap (cocotb, the imports) that the collector would otherwise
    # walk again and again while the bridge allocates a few objects per bit
    gc.freeze()
    ready = os.environ.get(READY_VAR)
    if ready:
        Path(ready).touch()

    tx = TxMonitor(dut.tx, bit, pty, stopping)
    cocotb.start_soon(tx.run())
    rx = RxDriver(dut.rx, bit)
    poll = Timer(BUSY_POLL_BYTES * 10 * bit, unit="step")
    pending = bytearray()
    settled = False  # a poll interval has passed since the last byte in or out
    idle_looks = 0  # looks in a row, a poll interval apart, that found the device idle
    false_idle = 0  # times ``idle`` was high and the device then worked with no new input
    why = "stopped (SIGTERM)"
    started, asleep = time.perf_counter(), 0.0
    try:
        while not stopping[0]:
            if resets[0]:
                resets[0] -= 1
                dut.rst.value = 1
                await ClockCycles(dut.clk, 4)
                dut.rst.value = 0
                settled, idle_looks = False, 0
                continue
            if pending:
                await rx.send(pending.pop(0))
                settled, idle_looks = False, 0
                continue
            tx.flush()
            pending += pty.read(0)
            if pending:
                continue
            quiet = settled and not tx.activity and not tx.busy
            looks = idle_looks
            idle_looks = idle_looks + 1 if quiet and int(dut.idle.value) else 0
            if looks and not idle_looks:  # no input since, yet the device was not idle
                false_idle += 1
            if idle_looks >= IDLE_LOOKS:
                t0 = time.perf_counter()
                pending += pty.read(IDLE_WAIT_S)  # the simulator sleeps with the host
                asleep += time.perf_counter() - t0
                continue
            tx.activity = False
            await poll
            settled = True
    except Hangup:
        why = "the host side closed"
    finally:
        stopping[0] = True
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGUSR1, previous_usr1)

    if tx.hangup:
        why = "the host side closed"
    # the numbers that say what a simulated board costs: cycles per second while awake
    awake = time.perf_counter() - started - asleep
    cycles = get_sim_time("step") // period
    cocotb.log.info("pty bridge: %s after %d bytes from the host and %d to it; %d cycles "
                    "in %.2f s awake (%.0f cycles/s), %.2f s asleep", why, pty.bytes_in,
                    pty.bytes_out, cycles, awake, cycles / max(awake, 1e-9), asleep)
    if false_idle:
        cocotb.log.warning("the device's idle was high %d times while it still had work",
                           false_idle)
    assert tx.framing_errors == 0, f"{tx.framing_errors} bytes on tx had no stop bit"
