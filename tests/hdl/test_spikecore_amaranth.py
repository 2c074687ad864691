"""The core's RTL in the Amaranth simulator against the golden model: each arithmetic
block on random operands, and the whole core on random networks and input trains."""

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator

from hdl.spikecore import NeuronUpdate, SpikeCore, StdpUpdate, TraceUpdate
from hdl.spikecore.tb.networks import random_image, random_inputs
from hdl.spikecore.verify import ODD, SMALL
from toolchain.targets.fpga.image import StdpParams
from toolchain.targets.fpga.model import CoreModel, lif_update, stdp_update, trace_update
from toolchain.targets.fpga.spec import TINY, Op

pytestmark = pytest.mark.hdl


def _run(dut, bench):
    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


@pytest.mark.parametrize("spec", [ODD, SMALL], ids=["two currents", "one current"])
def test_neuron_update_matches_the_model_on_random_operands(spec):
    rng = np.random.default_rng(0)
    dut = NeuronUpdate(spec)
    v_lo, v_hi = spec.signed_range("v")
    i_lo, i_hi = spec.signed_range("i")
    a_lo, a_hi = spec.signed_range("acc")
    cases = 300
    ops = {"v": rng.integers(v_lo, v_hi + 1, cases), "i": rng.integers(i_lo, i_hi + 1, cases),
           "ref": rng.integers(0, 2, cases) * rng.integers(0, spec.max_refrac + 1, cases),
           "acc": rng.integers(a_lo, a_hi + 1, cases),
           "v_thresh": rng.integers(0, v_hi + 1, cases),
           "v_reset": rng.integers(v_lo // 4, 1, cases),
           "bias": rng.integers(i_lo // 8, i_hi // 8, cases),
           "leak_shift": rng.integers(0, 16, cases), "syn_shift": rng.integers(0, 16, cases),
           "refrac": rng.integers(0, spec.max_refrac + 1, cases)}
    names = ["v_thresh", "v_reset", "bias", "leak_shift", "syn_shift", "refrac"]
    if spec.receptors == 2:  # the inhibitory current, shift 0 (a one-step synapse) included
        ops.update({"i_inh": rng.integers(i_lo, i_hi + 1, cases),
                    "acc_inh": rng.integers(a_lo, a_hi + 1, cases),
                    "syn_shift_inh": rng.integers(0, 16, cases) * (rng.random(cases) < 0.8)})
        names.append("syn_shift_inh")
    params = {k: ops[k] for k in names}
    want = lif_update(spec, ops["v"], ops["i"], ops["ref"], ops["acc"], params,
                      ops.get("i_inh", 0), ops.get("acc_inh", 0))
    assert spec.receptors == 1 or (want[4] != 0).any()  # the second current is exercised

    async def bench(ctx):
        for c in range(cases):
            for name, values in ops.items():
                ctx.set(getattr(dut, name), int(values[c]))
            got = [ctx.get(dut.v_next), ctx.get(dut.i_next), ctx.get(dut.ref_next),
                   ctx.get(dut.spike)]
            expect = [int(want[0][c]), int(want[1][c]), int(want[2][c]), int(want[3][c])]
            if spec.receptors == 2:
                got.append(ctx.get(dut.i_inh_next))
                expect.append(int(want[4][c]))
            assert got == expect, f"case {c}: { {k: int(v[c]) for k, v in ops.items()} }"

    _run(dut, bench)


def test_trace_and_stdp_updates_match_the_model():
    spec, rng = TINY, np.random.default_rng(1)
    trace, learn = TraceUpdate(spec), StdpUpdate(spec)
    w_lo, w_hi = spec.signed_range("w")

    async def bench(ctx):
        for _ in range(200):
            x, sh = int(rng.integers(0, spec.trace_max + 1)), int(rng.integers(0, 16))
            spk, inc = int(rng.integers(0, 2)), int(rng.integers(0, spec.trace_max + 1))
            ctx.set(trace.x, x), ctx.set(trace.shift, sh), ctx.set(trace.spiked, spk)
            ctx.set(trace.increment, inc)
            assert ctx.get(trace.x_next) == trace_update(spec, np.int64(x), sh, spk, inc)
            w_min = int(rng.integers(w_lo, 1))
            st = StdpParams(w_min=w_min, w_max=int(rng.integers(w_min, w_hi + 1)))
            w, pot = int(rng.integers(w_lo, w_hi + 1)), bool(rng.integers(0, 2))
            for port, value in ((learn.w, w), (learn.trace, x), (learn.shift, sh),
                                (learn.potentiate, pot), (learn.w_min, st.w_min),
                                (learn.w_max, st.w_max)):
                ctx.set(port, value)
            assert ctx.get(learn.w_next) == stdp_update(np.int64(w), np.int64(x), sh, pot, st)

    top = Module()  # two independent combinational blocks, one simulation
    top.submodules.trace, top.submodules.learn = trace, learn
    _run(top, bench)


class CoreDriver:
    """Loads an image and runs steps through the core's streams, as a host would."""

    def __init__(self, dut: SpikeCore):
        self.dut = dut

    async def command(self, ctx, op, addr=0, data=0):
        ctx.set(self.dut.cmd.payload, {"op": int(op), "addr": addr, "data": data})
        ctx.set(self.dut.cmd.valid, 1)
        await ctx.tick().until(self.dut.cmd.ready)
        ctx.set(self.dut.cmd.valid, 0)

    async def feed_inputs(self, ctx, inputs):
        for step in inputs:
            for axon in [*step, None]:
                last = axon is None
                ctx.set(self.dut.spike_in.payload, {"axon": 0 if last else int(axon),
                                                     "last": int(last)})
                ctx.set(self.dut.spike_in.valid, 1)
                await ctx.tick().until(self.dut.spike_in.ready)
            ctx.set(self.dut.spike_in.valid, 0)

    async def collect(self, ctx, n_steps):
        steps, current = [], []
        ctx.set(self.dut.spike_out.ready, 1)
        while len(steps) < n_steps:
            (word,) = await ctx.tick().sample(self.dut.spike_out.payload).until(
                self.dut.spike_out.valid)
            if word.last:
                steps.append(current)
                current = []
            else:
                current.append(int(word.neuron))
        return steps

    async def read_synapse(self, ctx, addr):
        await self.command(ctx, Op.READ_SYNAPSE, addr)
        ctx.set(self.dut.resp.ready, 1)
        (word,) = await ctx.tick().sample(self.dut.resp.payload).until(self.dut.resp.valid)
        ctx.set(self.dut.resp.ready, 0)
        return int(word)


@pytest.mark.parametrize("spec,stdp,seed", [(SMALL, False, 7), (SMALL, True, 7),
                                            (TINY, True, 7), (ODD, True, 3)],
                         ids=["small-static", "small-stdp", "tiny-stdp", "odd-two-currents"])
def test_core_matches_the_golden_model_spike_for_spike(spec, stdp, seed):
    rng = np.random.default_rng(seed)
    image = random_image(spec, rng, stdp=stdp)
    n_steps = 25
    inputs = random_inputs(spec, image, rng, n_steps)
    model = CoreModel(spec)
    model.load(image)
    want = [s.tolist() for s in model.run(inputs)]
    assert sum(map(len, want)) > 3, "the random network should spike"
    dut = SpikeCore(spec)
    drv = CoreDriver(dut)
    got: dict[str, object] = {}

    async def host(ctx):
        for op, addr, data in image.commands(spec):
            await drv.command(ctx, op, addr, data)
        await drv.command(ctx, Op.RUN, 0, n_steps)

    async def source(ctx):
        await drv.feed_inputs(ctx, inputs)

    async def sink(ctx):
        got["spikes"] = await drv.collect(ctx, n_steps)
        await ctx.tick().until(~dut.busy)
        got["weights"] = [spec.unpack("synapse", await drv.read_synapse(ctx, k),
                                      signed=("weight",))["weight"]
                          for k in range(image.n_synapses)]

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(host)
    sim.add_testbench(source)
    sim.add_testbench(sink)
    sim.run()  # until the sink has read the weights back
    assert "weights" in got, "the core did not finish the run"
    for t, (w, g) in enumerate(zip(want, got["spikes"], strict=True)):
        assert g == w, f"step {t}: model spikes {w}, RTL spikes {g}"
    assert got["weights"] == model.weights()[: image.n_synapses].tolist()
