"""The core's RTL (``hdl/spikecore``) in the Amaranth simulator, driven command by command
and step by step through its own streams, behind the same small interface the virtual
board uses for the golden model (``execute``, ``step``, ``t``).

``ServedBoard(spec, core="rtl")`` (``virtual.py``) serves it behind the virtual board's
Python protocol engine: every spike comes out of the core's gateware, every frame out of
Python.  The tests compare the gateware protocol engine (``hdl/uart/engine.py``) with
exactly this, frame for frame; the ``rtl-sim`` board runs both in gateware (``verilator_board.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from toolchain.targets.fpga.spec import CoreSpec, Op

# Simulator advances (two per clock cycle) one request may take before we call the RTL hung:
# far above 2 x CoreSpec.cycles_per_step for the sizes simulated here.
MAX_ADVANCES_PER_REQUEST = 4_000_000


class RtlHangError(RuntimeError):
    """The RTL did not finish a command or a step within the bound."""


@dataclass
class _Request:
    op: Op | None  # None: pulse the core's clear input (delay ring, traces, ring position)
    addr: int = 0
    data: int = 0
    inputs: Sequence[int] = ()
    done: bool = False
    result: list[int] = field(default_factory=list)


class RtlCore:
    """One ``SpikeCore`` under simulation.  Not thread-safe: one board drives it."""

    def __init__(self, spec: CoreSpec) -> None:
        from amaranth.sim import Simulator

        from hdl.spikecore import SpikeCore

        self.spec = spec
        self.t = 0
        self._pending: list[_Request] = []
        self._make = (SpikeCore, Simulator)
        self._sim: Simulator | None = None  # made on first use: a board resets often

    def _simulation(self):
        if self._sim is None:
            core, simulator = self._make
            self._dut = core(self.spec)
            self._sim = simulator(self._dut)
            self._sim.add_clock(1e-6)
            self._sim.add_testbench(self._serve)
        return self._sim

    # -- the interface the virtual board uses ---------------------------------------------
    def execute(self, op: Op, addr: int, data: int = 0) -> int | None:
        req = self._submit(_Request(Op(op), addr, data))
        return req.result[0] if req.result else None

    def clear(self) -> None:
        """The core's dynamic state (delay ring, traces, spike flags, ring position) to zero,
        as the gateware engine clears it for RESET."""
        self._submit(_Request(None))

    def step(self, input_axons: Sequence[int] = ()) -> np.ndarray:
        req = self._submit(_Request(Op.RUN, 0, 1, inputs=sorted(set(int(a) for a in input_axons))))
        self.t += 1
        return np.array(req.result, dtype=np.int64)

    # -- simulation ------------------------------------------------------------------------
    def _submit(self, req: _Request) -> _Request:
        self._pending.append(req)
        sim = self._simulation()
        advances = 0
        while not req.done:
            sim.advance()
            advances += 1
            if advances > MAX_ADVANCES_PER_REQUEST:
                raise RtlHangError(
                    f"RTL core did not finish {req.op.name if req.op else 'CLEAR'} (addr "
                    f"{req.addr}) within "
                    f"{MAX_ADVANCES_PER_REQUEST // 2} cycles at step {self.t}"
                )
        return req

    async def _serve(self, ctx) -> None:
        dut = self._dut
        while True:
            if not self._pending:
                await ctx.tick()
                continue
            req = self._pending.pop(0)
            if req.op is None:
                ctx.set(dut.clear, 1)
                await ctx.tick()
                ctx.set(dut.clear, 0)
                await ctx.tick().until(~dut.busy)
                req.done = True
                continue
            ctx.set(dut.cmd.payload, {"op": int(req.op), "addr": req.addr, "data": req.data})
            ctx.set(dut.cmd.valid, 1)
            await self._tick_until(ctx, dut.cmd.ready)
            ctx.set(dut.cmd.valid, 0)
            if req.op is Op.RUN:
                await self._one_step(ctx, req)
            elif req.op in (Op.READ_SYNAPSE, Op.READ_STATE):
                ctx.set(dut.resp.ready, 1)
                word = await self._tick_until(ctx, dut.resp.valid, dut.resp.payload)
                ctx.set(dut.resp.ready, 0)
                req.result.append(int(word))
            req.done = True

    @staticmethod
    async def _tick_until(ctx, cond, sample=None):
        """Tick until ``cond`` held at a clock edge (so a valid/ready transfer happened);
        return ``sample`` as it was at that edge."""
        if sample is None:
            await ctx.tick().until(cond)
            return None
        (value,) = await ctx.tick().sample(sample).until(cond)
        return value

    async def _one_step(self, ctx, req: _Request) -> None:
        dut = self._dut
        for axon in [*req.inputs, None]:
            last = axon is None
            ctx.set(dut.spike_in.payload, {"axon": 0 if last else axon, "last": int(last)})
            ctx.set(dut.spike_in.valid, 1)
            await self._tick_until(ctx, dut.spike_in.ready)
        ctx.set(dut.spike_in.valid, 0)
        ctx.set(dut.spike_out.ready, 1)
        while True:
            word = await self._tick_until(ctx, dut.spike_out.valid, dut.spike_out.payload)
            if word.last:
                break
            req.result.append(int(word.neuron))
        ctx.set(dut.spike_out.ready, 0)
        await ctx.tick().until(~dut.busy)
