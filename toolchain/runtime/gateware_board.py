"""The device side of the protocol as gateware: ``hdl/uart``'s deframer, protocol engine and
framer in front of the core's RTL, in the Amaranth simulator, behind the same small interface
the pty server drives (``receive``, ``tick``, ``busy``).

Served on a pty (``ServedBoard(spec, core="gateware")``) it lets the host's Session talk to
the gateware's own protocol implementation (``hdl/uart/engine.py``) instead of the Python
engine of the virtual board, without a Verilog build; the ``rtl-sim`` board runs the
same gateware's Verilog through its UART pins, much faster.
"""

from __future__ import annotations

import collections
from collections.abc import Callable

from toolchain.runtime import protocol as p
from toolchain.targets.fpga.spec import CoreSpec

# Cycles the simulation runs per ``tick`` while it has work, and how long a quiet device
# (no byte in, none out) keeps being ticked before the server may sleep.
CYCLES_PER_TICK = 256
QUIET_CYCLES = 64


class GatewareBoard:
    """Deframer -> CommandDecoder -> Framer with the core, simulated.  Not thread-safe: the
    pty server calls it from one thread."""

    def __init__(self, spec: CoreSpec, send: Callable[[bytes], None], *,
                 clock_hz: int = 12_000_000, baud: int = 1_000_000) -> None:
        from amaranth.hdl import Module
        from amaranth.sim import Simulator

        from hdl.uart.device import add_protocol_path, device_info

        self.spec = spec
        # the divisor only sets the reported baud here: bytes enter past the PHY
        self.info = device_info(spec, clock_hz, max(1, clock_hz // baud))
        self.state = p.BoardState.IDLE  # the server sets it after a failure
        self._send = send
        self._rx: collections.deque[int] = collections.deque()
        self._tx = bytearray()
        self._quiet = 0  # cycles since a byte last went in or came out
        self._time = 0.0  # simulated seconds so far
        m = Module()
        self._deframer, self._framer = add_protocol_path(m, spec, self.info)
        self._sim = Simulator(m)
        self._sim.add_clock(1 / clock_hz)
        self._sim.add_testbench(self._serve, background=True)

    def receive(self, data: bytes) -> None:
        self._rx.extend(data)
        self._quiet = 0

    @property
    def busy(self) -> bool:
        return bool(self._rx) or self._quiet < QUIET_CYCLES

    def tick(self) -> bool:
        """Run the gateware for a while if it has work; True if it did."""
        if not self.busy:
            return False
        self._time += CYCLES_PER_TICK / self.info.clock_hz
        self._sim.run_until(self._time)
        return True

    async def _serve(self, ctx) -> None:  # noqa: ANN001 - amaranth's testbench context
        deframer, framer = self._deframer, self._framer
        ctx.set(framer.o.ready, 1)
        while True:
            if self._rx:
                ctx.set(deframer.i.payload, self._rx[0])
                ctx.set(deframer.i.valid, 1)
            else:
                ctx.set(deframer.i.valid, 0)
            _, _, took, valid, byte = await ctx.tick().sample(
                deframer.i.valid & deframer.i.ready, framer.o.valid, framer.o.payload)
            self._quiet += 1
            if took:
                self._rx.popleft()
                self._quiet = 0
            if valid:
                self._tx.append(byte)
                self._quiet = 0
                if byte == p.DELIMITER:
                    self._send(bytes(self._tx))
                    self._tx.clear()
