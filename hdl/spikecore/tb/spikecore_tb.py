"""cocotb testbench of the whole core: load a random network through the command stream,
stream random input spikes, and check every output spike, every final weight and every
neuron's final state bit for bit against the golden model, plus the clock cycles of every
step against ``CoreSpec.cycles_per_step``.

Run through ``hdl.spikecore.verify`` (cocotb_tools.runner); the build's ``CoreSpec`` and the
stimulus come in environment variables so that one testbench serves every parameter set.
"""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge, Timer

from hdl.spikecore.tb.networks import random_image, random_inputs
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import SIGNED_FIELDS, CoreSpec, Op

SPEC_VAR, SEED_VAR, STEPS_VAR, STDP_VAR, STALL_VAR = (
    "SPIKECORE_SPEC", "SPIKECORE_SEED", "SPIKECORE_STEPS", "SPIKECORE_STDP", "SPIKECORE_STALL")


class Stream:
    """valid/ready driver and monitor.  Sampling at the falling edge sees the values the
    next rising edge will act on."""

    def __init__(self, dut, name: str, stall: float = 0.0, rng=None) -> None:
        self.stall, self.rng = stall, rng
        self.clk = dut.clk
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")

    async def send(self, words) -> None:
        await FallingEdge(self.clk)
        for word in words:
            while self.stall and self.rng.random() < self.stall:  # an idle producer
                self.valid.value = 0
                await FallingEdge(self.clk)
            self.payload.value = word
            self.valid.value = 1
            while True:
                accepted = int(self.ready.value)
                await FallingEdge(self.clk)
                if accepted:
                    break
        self.valid.value = 0


class Scoreboard:
    """Collects mismatches; reports the first one with its timestep and neuron."""

    def __init__(self, log) -> None:
        self.log = log
        self.errors: list[str] = []

    def spikes(self, step: int, want: list[int], got: list[int]) -> None:
        if want != got:
            n = sorted(set(want) ^ set(got))[0] if set(want) != set(got) else want[0]
            self.errors.append(
                f"step {step}, neuron {n}: model spikes {want}, RTL spikes {got}")

    def value(self, what: str, where: str, want: int, got: int) -> None:
        if want != got:
            self.errors.append(f"{what} at {where}: model {want}, RTL {got}")

    def check(self) -> None:
        for e in self.errors[:10]:
            self.log.error(e)
        assert not self.errors, f"{len(self.errors)} mismatches; first: {self.errors[0]}"


async def run_core(dut, spec: CoreSpec, seed: int, n_steps: int, stdp: bool,
                   stall: float = 0.0) -> None:
    """``stall``: probability that the input producer idles or the output consumer is not
    ready in a cycle (back-pressure); cycle counts are only checked without it."""
    rng = np.random.default_rng(seed)
    image = random_image(spec, rng, stdp=stdp)
    inputs = random_inputs(spec, image, rng, n_steps)
    model = CoreModel(spec)
    model.load(image)
    want, want_cycles = [], []
    for step in inputs:
        want.append(model.step(step).tolist())
        want_cycles.append(model.cycles_of_last_step())

    for name in ("cmd", "spike_in"):
        getattr(dut, f"{name}__valid").value = 0
        getattr(dut, f"{name}__payload").value = 0
    dut.spike_out__ready.value = 1  # readback must not wait on a stalled spike stream
    dut.resp__ready.value = 0
    dut.clear.value = 0  # the reset-of-everything sweep (used by the protocol engine)
    dut.rst.value = 1
    dut.clk.value = 0
    await Timer(1, unit="ns")
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0

    cmd = Stream(dut, "cmd")
    spike_in = Stream(dut, "spike_in", stall, np.random.default_rng(seed + 1))
    sink_rng = np.random.default_rng(seed + 2)
    board = Scoreboard(dut._log)

    def cmd_word(op: Op, addr: int, data: int) -> int:
        return int(op) | (addr << 3) | (data << (3 + spec.cmd_addr_bits))

    await cmd.send([cmd_word(op, a, d) for op, a, d in image.commands(spec)])
    inputs_words = []
    for step in inputs:
        inputs_words += [a for a in step] + [1 << spec.input_bits]  # last marker
    cycle = [0]

    async def count() -> None:
        while True:
            await RisingEdge(dut.clk)
            cycle[0] += 1

    cocotb.start_soon(count())
    cocotb.start_soon(spike_in.send(inputs_words))
    await cmd.send([cmd_word(Op.RUN, 0, n_steps)])

    got, current, ends = [], [], []
    while len(got) < n_steps:
        await FallingEdge(dut.clk)
        ready = not (stall and sink_rng.random() < stall)
        dut.spike_out__ready.value = int(ready)
        if ready and int(dut.spike_out__valid.value):
            word = int(dut.spike_out__payload.value)
            if word >> spec.neuron_bits:
                got.append(current)
                ends.append(cycle[0])
                current = []
            else:
                current.append(word & ((1 << spec.neuron_bits) - 1))
    for t, (w, g) in enumerate(zip(want, got, strict=True)):
        board.spikes(t, w, g)
    dut.spike_out__ready.value = 1  # readback must not wait on a stalled spike stream
    for t in range(1, n_steps if not stall else 0):
        board.value("cycles", f"step {t}", want_cycles[t], ends[t] - ends[t - 1])

    async def read(op: Op, addr: int) -> int:
        await cmd.send([cmd_word(op, addr, 0)])
        dut.resp__ready.value = 1
        while True:
            await FallingEdge(dut.clk)
            if int(dut.resp__valid.value):
                value = int(dut.resp__payload.value)
                await FallingEdge(dut.clk)
                dut.resp__ready.value = 0
                return value

    weights = model.weights()
    sources = image.synapse_sources()
    for k in range(image.n_synapses):
        word = spec.unpack("synapse", await read(Op.READ_SYNAPSE, k), signed=("weight",))
        board.value("weight", f"synapse {k} ({sources[k]} -> {image.syn_target[k]})",
                    int(weights[k]), word["weight"])
    state = model.state()
    for j in range(image.n_neurons):
        word = spec.unpack("neuron_state", await read(Op.READ_STATE, j),
                           signed=SIGNED_FIELDS["neuron_state"])
        for name in word:  # v, i, ref and, on a two-current build, i_inh
            board.value(name, f"neuron {j}", int(state[name][j]), word[name])
    dut._log.info("%d steps, %d spikes, %d synapses compared; cycles/step %d..%d",
                  n_steps, sum(map(len, got)), image.n_synapses,
                  min(np.diff(ends)), max(np.diff(ends)))
    board.check()


@cocotb.test()
async def core_matches_golden_model(dut) -> None:
    spec = CoreSpec(**json.loads(os.environ[SPEC_VAR]))
    await run_core(dut, spec, int(os.environ.get(SEED_VAR, "1")),
                   int(os.environ.get(STEPS_VAR, "20")), os.environ.get(STDP_VAR, "1") == "1",
                   float(os.environ.get(STALL_VAR, "0")))
