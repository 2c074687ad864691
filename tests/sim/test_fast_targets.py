"""The targets' compiled loops against their step-by-step paths: the same spikes,
samples, counters, state and weights, bit for bit, on random cores and networks that
exercise every rule of each chip's arithmetic, and the step-by-step path wherever a
compiled loop cannot run what is loaded."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tests.sim.test_fast import assert_same, recurrent
from tests.targets.loihi.test_lava_identity import make_case
from toolchain.ir import (
    ArraySource,
    Network,
    PoissonSource,
    Population,
    Projection,
    Recording,
    STDPRule,
)
from toolchain.sim.engine import Engine
from toolchain.sim.results import SimulationResult
from toolchain.targets import get_target
from toolchain.targets.fpga import loop, model
from toolchain.targets.fpga.image import CoreImage, StdpParams
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import ECP5_85F_EI, TINY, CoreSpec, Op, SpecError
from toolchain.targets.loihi.fixed import UV_LIMIT, SignMode
from toolchain.targets.loihi.numerics import LoihiNumerics, LoihiWeights

CELL_LOIHI = {"cm": 1.0, "tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 5.0,
              "v_rest": -65.0, "v_reset": -65.0, "v_thresh": -50.0, "tau_refrac": 0.0}


def assert_same_results(a: SimulationResult, b: SimulationResult) -> None:
    assert a.spikes.keys() == b.spikes.keys()
    for key in a.spikes:
        np.testing.assert_array_equal(a.spikes[key].times, b.spikes[key].times)
        np.testing.assert_array_equal(a.spikes[key].senders, b.spikes[key].senders)
    assert a.signals.keys() == b.signals.keys()
    for key in a.signals:
        np.testing.assert_array_equal(a.signals[key].times, b.signals[key].times)
        np.testing.assert_array_equal(a.signals[key].values, b.signals[key].values)
    assert a.weights.keys() == b.weights.keys()
    for key in a.weights:
        np.testing.assert_array_equal(a.weights[key], b.weights[key])
    assert a.counters == b.counters
    assert a.per_step.keys() == b.per_step.keys()
    for key in a.per_step:
        np.testing.assert_array_equal(a.per_step[key], b.per_step[key])


# -- the FPGA core's golden model ---------------------------------------------------------
def random_image(spec: CoreSpec, rng: np.random.Generator, stdp: StdpParams) -> CoreImage:
    """Every neuron with its own parameters, a nearly full synapse memory of random rows
    (weights over the whole signed range, every delay, half of them plastic, a third
    inhibitory on a two-current build)."""
    n, m = spec.n_neurons, spec.n_synapses - 3
    neurons = {"v_thresh": rng.integers(20, 200, n), "v_reset": rng.integers(-50, 10, n),
               "bias": rng.integers(-3, 12, n), "leak_shift": rng.integers(0, 6, n),
               "syn_shift": rng.integers(0, 6, n), "refrac": rng.integers(0, 4, n)}
    if spec.receptors == 2:
        neurons["syn_shift_inh"] = rng.integers(0, 6, n)
    w_lo, w_hi = spec.signed_range("w")
    image, _ = CoreImage.from_synapses(
        neurons=neurons, n_inputs=spec.n_inputs, source=rng.integers(0, n + spec.n_inputs, m),
        target=rng.integers(0, n, m), weight=rng.integers(w_lo, w_hi + 1, m),
        delay=rng.integers(1, spec.ring_depth, m), plastic=rng.random(m) < 0.5, stdp=stdp,
        v_init=rng.integers(-20, 20, n),
        inh=(rng.random(m) < 0.3) if spec.receptors == 2 else None)
    return image


SMALL_EI = dataclasses.replace(ECP5_85F_EI, n_neurons=64, n_inputs=32, n_synapses=2000,
                               name="small-ei")


@pytest.mark.parametrize("spec", [TINY, SMALL_EI], ids=lambda s: s.name)
@pytest.mark.parametrize("learning", [False, True], ids=["static", "stdp"])
def test_core_compiled_loop_is_the_golden_models_step(spec: CoreSpec, learning: bool,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    w_lo, w_hi = spec.signed_range("w")
    stdp = StdpParams(enable=learning, pre_decay_shift=2, post_decay_shift=3,
                      potentiate_shift=1, depress_shift=2,
                      trace_increment=min(20, spec.trace_max), w_min=w_lo, w_max=w_hi)
    image = random_image(spec, rng, stdp)
    steps = 400
    inputs = [rng.integers(0, spec.n_inputs, rng.integers(0, 6)) for _ in range(steps)]
    stepped, compiled = CoreModel(spec), CoreModel(spec)
    stepped.load(image)
    compiled.load(image)
    assert compiled.compiled_refusal() is None
    spikes, cycles, v, i_inh = [], [], [], []
    for axons in inputs:
        spikes.append(stepped.step(axons))
        cycles.append(stepped.cycles_of_last_step())
        v.append(stepped.v[:4].copy())
        if stepped.t % 7 == 0:
            i_inh.append(stepped.i_inh[:3].copy())
    ptr = np.concatenate([[0], np.cumsum([x.size for x in inputs])])
    # in two blocks, with a spike buffer small enough that the second has to grow it
    half = steps // 2
    first = compiled.run_block(ptr[:half + 1], np.concatenate(inputs),
                               [("v", np.arange(4), 1), ("i_inh", np.arange(3), 7)])
    calls, run_core = [], loop.run_core

    def counted(*args):
        calls.append(result := run_core(*args))
        return result

    monkeypatch.setattr(model, "SPIKE_BUFFER_MIN", 1)
    monkeypatch.setattr(loop, "run_core", counted)
    second = compiled.run_block(ptr[half:] - ptr[half], np.concatenate(inputs[half:]))
    assert len(calls) > 1, "the spike buffer never had to grow"
    got_steps = np.concatenate([first.steps, second.steps])
    got_neurons = np.concatenate([first.neurons, second.neurons])
    assert sum(s.size for s in spikes) > 100  # the core is busy
    for k, expected in enumerate(spikes):
        np.testing.assert_array_equal(got_neurons[got_steps == k], expected)
    for name, value in stepped.state().items():
        np.testing.assert_array_equal(compiled.state()[name], value, err_msg=name)
    np.testing.assert_array_equal(compiled.ring, stepped.ring)
    np.testing.assert_array_equal(compiled.weights(), stepped.weights())
    assert (not np.array_equal(image.syn_weight, stepped.weights()[:image.n_synapses])) \
        == learning
    assert compiled.last_step == stepped.last_step and compiled.t == stepped.t
    counts = np.concatenate([first.counts, second.counts])
    np.testing.assert_array_equal(compiled.cycles_of_steps(counts), cycles)
    np.testing.assert_array_equal(first.samples[0], v[:half])
    np.testing.assert_array_equal(first.samples[1], i_inh[:half // 7])


def test_core_with_rows_sharing_synapses_steps_one_by_one() -> None:
    """Two rows reaching one synapse address: the model's writes keep one update per step,
    which a synapse-by-synapse loop would not, so the core refuses the compiled loop."""
    rng = np.random.default_rng(2)
    image = random_image(TINY, rng, StdpParams(enable=True, trace_increment=20, w_max=31))
    image.row_start[1] = image.row_start[0]
    core = CoreModel(TINY)
    core.load(image)
    assert core.compiled_refusal() == ("two rows of the core's row table share synapse "
                                       "addresses")


def fpga_network(n: int = 48, seed: int = 5) -> Network:
    """Recurrent excitatory and inhibitory cells with a Poisson and an array source, one
    plastic projection, and v and both currents recorded (one of them sampled)."""
    rng = np.random.default_rng(seed)
    cell = {"cm": 0.25, "tau_m": 10.0, "tau_syn_E": 2.0, "tau_syn_I": 4.0, "v_rest": -65.0,
            "v_reset": -70.0, "v_thresh": -55.0, "tau_refrac": 1.0}
    ne = 3 * n // 4
    pops = (Population("exc", "IF_curr_exp", ne, cell,
                       {"v": rng.uniform(-70.0, -56.0, ne)}),
            Population("inh", "IF_curr_exp", n - ne, cell))
    sources = (PoissonSource("noise", 20, rate=80.0, start=0.0, duration=1e9, seed=3),
               ArraySource.from_lists("kick", [[5.0, 5.0, 31.2], [17.0, 80.0]]))
    projs = []
    sizes = {"exc": ne, "inh": n - ne}
    for pre, receptor, w in (("exc", "excitatory", 0.3), ("inh", "inhibitory", -0.6)):
        for post in sizes:
            i, j = np.nonzero(rng.random((sizes[pre], sizes[post])) < 0.15)
            projs.append(Projection(f"{pre}-{post}", pre, post, i, j,
                                    rng.uniform(0.5, 1.0, i.size) * w,
                                    rng.uniform(0.1, 1.4, i.size), receptor))
    i, j = np.nonzero(rng.random((20, ne)) < 0.3)
    rule = STDPRule(tau_plus=2.0, tau_minus=2.0, A_plus=0.05, A_minus=0.05, w_max=2.0)
    projs.append(Projection("noise-exc", "noise", "exc", i, j, np.full(i.size, 1.0),
                            np.full(i.size, 0.5), plasticity=rule))
    projs.append(Projection("kick-inh", "kick", "inh", [0, 1], [0, 3], [3.0, 2.0], [1.0, 0.3]))
    recs = (Recording("exc", "spikes", np.arange(0, ne, 2)),
            Recording("inh", "spikes", np.arange(n - ne)),
            Recording("exc", "v", np.arange(0, ne, 5)),
            Recording("inh", "isyn_exc", np.arange(4), sampling_interval=0.5),
            Recording("exc", "isyn_inh", [1, 2, 3]))
    return Network(dt=0.1, populations=pops, sources=sources, projections=tuple(projs),
                   recordings=recs)


def test_fpga_simulator_compiled_and_stepped_agree(monkeypatch) -> None:
    target = get_target("fpga", build="ecp5-85f-ei")
    compiled = target.compile(fpga_network())
    fast = target.simulator(compiled)
    monkeypatch.setenv("SPIKEPORT_COMPILED", "0")
    slow = target.simulator(compiled)
    assert fast.why_not_compiled is None
    assert slow.why_not_compiled == "not asked for"
    for sim in (fast, slow):
        for t in (0.3, 37.7, 160.0):  # runs split at arbitrary steps
            sim.run_until(t)
        sim.set_weights("exc-inh", sim.weights("exc-inh") * 0.5)
        sim.run_until(250.0)
    a, b = fast.result(), slow.result()
    assert a.spikes["exc"].count > 200
    assert not np.array_equal(a.weights["noise-exc"],
                              np.asarray(compiled.network.projections[-2].weight, np.float32))
    assert_same_results(a, b)
    for sim in (fast, slow):
        sim.reset()
        sim.run_until(60.0)
    assert_same_results(fast.result(), slow.result())


# -- Loihi's fixed-point compartments on the engine's compiled loop ------------------------
def loihi_pair(net: Network, **numerics: object) -> tuple[Engine, Engine]:
    fast = Engine(net, numerics=LoihiNumerics(**numerics), target="loihi", compiled=True)
    slow = Engine(net, numerics=LoihiNumerics(**numerics), target="loihi", compiled=False)
    assert fast.why_not_compiled is None, fast.why_not_compiled
    return fast, slow


def loihi_network(spread: bool, varied: bool, compartments: int) -> Network:
    """:func:`recurrent` as Loihi holds it: one tau_m per population (per-neuron
    thresholds stay, when ``varied``); with one compartment, tau_syn_I = tau_syn_E, both
    receptors into one current (tau_syn_I 3 ms of :func:`recurrent` gives a dendrite)."""
    net = recurrent(spread=spread, varied=varied)
    change = {"tau_m": 20.0, **({"tau_syn_I": 5.0} if compartments == 1 else {})}
    pops = tuple(dataclasses.replace(p, parameters={**p.parameters, **change})
                 for p in net.populations)
    return dataclasses.replace(net, populations=pops)


@pytest.mark.parametrize("compartments", [1, 2])
@pytest.mark.parametrize("spread", [False, True], ids=["one-delay", "many-delays"])
@pytest.mark.parametrize("varied", [False, True], ids=["uniform", "per-neuron"])
def test_loihi_compartments_compiled_and_stepped_agree(compartments: int, spread: bool,
                                                        varied: bool) -> None:
    net = loihi_network(spread, varied, compartments)
    fast, slow = loihi_pair(net)
    assert {k.compartments.params.compartments for k in fast.kernels.values()} == \
        {compartments}
    for sim in (fast, slow):
        for t in (0.3, 37.7, 120.0):  # runs split at arbitrary steps
            sim.run_until(t)
        sim.set_weights("exc-inh", sim.weights("exc-inh") * 1.5)
        sim.run_until(200.0)
    assert fast.result().spikes["exc"].count > 300
    assert_same(fast, slow)
    for sim in (fast, slow):
        sim.reset()
        sim.run_until(50.0)
    assert_same(fast, slow)
    # the numpy path continuing what the compiled loop left in its rings and inboxes
    mixed, plain = loihi_pair(net)
    mixed.run_until(40.0)
    mixed._fast = None
    mixed.run_until(80.0)
    plain.run_until(80.0)
    assert_same(mixed, plain)


def test_loihi_current_wraps_at_24_and_32_bits_on_both_paths() -> None:
    """1,200 synapses of mantissa 255 at weight_exp 7 firing at once: a_in << 6 beyond
    int32 (lava's ports wrap it), 300 of them beyond u's 24 bits."""
    src = ArraySource.from_lists("in", [[2.0, 5.0] if i < 900 else [2.0, 5.0, 8.0]
                                        for i in range(1200)])
    n = 3
    pre, post = np.repeat(np.arange(1200), n), np.tile(np.arange(n), 1200)
    net = Network(dt=1.0, populations=(Population("p", "IF_curr_exp", n, CELL_LOIHI),),
                  sources=(src,),
                  projections=(Projection("big", "in", "p", pre, post,
                                          np.full(pre.size, 255.0), np.full(pre.size, 1.0)),),
                  recordings=(Recording("p", "isyn_exc", np.arange(n)),
                              Recording("p", "v", np.arange(n)),
                              Recording("p", "spikes", np.arange(n))))
    fast, slow = loihi_pair(net, weights={"big": LoihiWeights(7, SignMode.EXCITATORY, 1.0)})
    fast.run_until(12.0)
    slow.run_until(12.0)
    assert_same(fast, slow)
    units = fast.kernels["p"].conversion.units_per_na
    u = fast.result().signals[("p", "isyn_exc")].values * units
    # the spikes of t = 2 ms (delay 1 step, + 1 as lava's DelayDense) reach u in the
    # step sampled at t = 5 ms: a_in = 1200 * 255 << 7 = 39,168,000, whose << 6 wraps in
    # int32 to -1,788,215,296, then lava's one conditional 24-bit wrap up
    assert u[5] == pytest.approx(np.full(3, -1788215296.0 + 2 * UV_LIMIT), rel=1e-12)
    # the 300 of t = 8 ms at t = 11 ms: no int32 overflow, u beyond 2^23 wraps down once
    d = np.trunc(u[10] * (4096 - 741 - 1) / 4096)  # du of tau_syn 5 ms at dt 1 ms
    assert u[11] == pytest.approx(d + 300 * 255 * 128 * 64 - 2 * UV_LIMIT, rel=1e-12)


def test_lava_identity_networks_run_compiled() -> None:
    """The networks the lava identity tests compare with lava-nc spike for spike run on
    the compiled loop, with the numpy path's spikes."""
    case = make_case(2, 0.04)
    fast = Engine(case.network, numerics=case.numerics, target="loihi", compiled=True)
    slow = Engine(case.network, numerics=case.numerics, target="loihi", compiled=False)
    assert fast.why_not_compiled is None
    fast.run_until(200.0)
    slow.run_until(200.0)
    assert sum(r.count for r in fast.result().spikes.values()) > 100
    assert_same(fast, slow)


def test_core_refuses_a_synapse_word_beyond_its_neurons() -> None:
    """A 12-neuron build's 4-bit target field holds 15: a synapse word written with
    execute() can name a neuron the core lacks, which the compiled loop (no bounds
    checks) must not write to."""
    spec = dataclasses.replace(TINY, n_neurons=12, name="twelve")
    core = CoreModel(spec)
    core.load(random_image(spec, np.random.default_rng(4), StdpParams()))
    address = int(core.row_start[3])
    core.execute(Op.SYNAPSE, address, spec.pack("synapse", target=14, weight=3, delay=1,
                                                plastic=0))
    with pytest.raises(SpecError, match=rf"^synapse {address} targets neuron 14, beyond "
                       r"the 12 neurons of build 'twelve'$"):
        core.run_block(np.zeros(2, np.int64), np.zeros(0, np.int64))
