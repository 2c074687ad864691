"""SpiNNaker2's co-simulation on the engine's compiled loop against its step-by-step path:
the same spikes, samples, counters (the tick budget's among them), state and weights, bit
for bit, in both PE arithmetics, for every LIF kernel, with packets on time, dropped and
deferred, and with runs handed between the two paths."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.test_fast_targets import assert_same_results
from toolchain.ir import (
    ArraySource,
    CellType,
    Network,
    PoissonSource,
    Population,
    Projection,
    Recording,
    STDPRule,
)
from toolchain.sim import fast
from toolchain.sim.loop_pe import pairwise_sum
from toolchain.targets.spinnaker2.mapper import map_network
from toolchain.targets.spinnaker2.numerics import S2LIFKernel
from toolchain.targets.spinnaker2.sim import LateSpikesWarning, SpiNNaker2Simulator

from .helpers import recurrent_net, tiny_spec

LIF = (CellType.IF_CURR_EXP, CellType.IF_CURR_ALPHA, CellType.IF_COND_EXP,
       CellType.IF_COND_ALPHA)


def lif_network(cell: CellType, varied: bool, seed: int = 3) -> Network:
    """Recurrent excitatory and inhibitory cells of one LIF type driven by a Poisson and
    an array source, delays from one tick to beyond a PE's ring (delay extensions), v and
    both synaptic variables recorded (one sampled every 0.5 ms); ``varied``: every neuron
    its own parameters."""
    rng = np.random.default_rng(seed)
    ne, ni = 48, 16
    cond = cell in (CellType.IF_COND_EXP, CellType.IF_COND_ALPHA)

    def parameters(n: int) -> dict:
        p = {"tau_m": 12.0, "cm": 0.25, "tau_syn_E": 2.0, "tau_syn_I": 4.0, "v_rest": -60.0,
             "v_reset": -70.0, "v_thresh": -52.0, "tau_refrac": 1.0, "i_offset": 0.1}
        if varied:
            p.update(tau_m=rng.uniform(8.0, 20.0, n), v_thresh=rng.uniform(-55.0, -50.0, n),
                     tau_syn_E=rng.uniform(1.0, 5.0, n), i_offset=rng.uniform(0.0, 0.3, n),
                     tau_refrac=rng.choice([0.0, 0.3, 2.0], n))
        if cond:
            p.update(e_rev_E=0.0, e_rev_I=-80.0)
        return p

    pops = (Population("exc", cell, ne, parameters(ne), {"v": rng.uniform(-70.0, -53.0, ne)}),
            Population("inh", cell, ni, parameters(ni)))
    sources = (PoissonSource("noise", 20, rate=90.0, start=0.0, duration=1e9, seed=7),
               ArraySource.from_lists("kick", [[5.0, 5.0, 31.2], [17.0, 80.0]]))
    gain = 0.02 if cond else 1.0  # (uS: a conductance's weights are smaller)
    sizes = {"exc": ne, "inh": ni}
    projs = []
    for pre, receptor, w in (("exc", "excitatory", 0.25), ("inh", "inhibitory", -0.5)):
        for post in sizes:
            i, j = np.nonzero(rng.random((sizes[pre], sizes[post])) < 0.2)
            weight = rng.uniform(0.5, 1.0, i.size) * w * gain
            projs.append(Projection(f"{pre}-{post}", pre, post, i, j,
                                    np.abs(weight) if cond else weight,
                                    rng.uniform(0.1, 3.5, i.size), receptor))
    i, j = np.nonzero(rng.random((20, ne)) < 0.3)
    projs.append(Projection("noise-exc", "noise", "exc", i, j, np.full(i.size, 0.8 * gain),
                            np.full(i.size, 0.5)))
    projs.append(Projection("kick-inh", "kick", "inh", [0, 1], [0, 3],
                            [3.0 * gain, 2.0 * gain], [1.0, 0.3]))
    syn = ("gsyn_exc", "gsyn_inh") if cond else ("isyn_exc", "isyn_inh")
    recs = (Recording("exc", "spikes", np.arange(0, ne, 2)),
            Recording("inh", "spikes", np.arange(ni)),
            Recording("exc", "v", np.arange(0, ne, 5)),
            Recording("inh", syn[0], np.arange(4), sampling_interval=0.5),
            Recording("exc", syn[1], [1, 2, 3]))
    return Network(dt=0.1, populations=pops, sources=sources, projections=tuple(projs),
                   recordings=recs)


def pair(net: Network, monkeypatch: pytest.MonkeyPatch,
         **spec: object) -> tuple[SpiNNaker2Simulator, SpiNNaker2Simulator]:
    """The network on both paths (the compiled loop, then the step-by-step path)."""
    mapping = map_network(net, tiny_spec(**{"tick_ms": net.dt, **spec}))
    compiled = SpiNNaker2Simulator(net, mapping)
    monkeypatch.setenv("SPIKEPORT_COMPILED", "0")
    stepped = SpiNNaker2Simulator(net, mapping)
    monkeypatch.delenv("SPIKEPORT_COMPILED")
    assert compiled.engine.why_not_compiled is None, compiled.engine.why_not_compiled
    assert stepped.engine.why_not_compiled == "not asked for"
    return compiled, stepped


def assert_same_state(a: SpiNNaker2Simulator, b: SpiNNaker2Simulator) -> None:
    for label, kernel in a.engine.kernels.items():
        other = b.engine.kernels[label]
        assert isinstance(kernel, S2LIFKernel)
        for name in ("v", "refract"):
            np.testing.assert_array_equal(getattr(kernel, name), getattr(other, name))
            assert getattr(kernel, name).dtype == getattr(other, name).dtype
        for part in ("syn", "rise", "pending"):
            for r, values in getattr(kernel, part).items():
                np.testing.assert_array_equal(values, getattr(other, part)[r], err_msg=part)
                assert values.dtype == getattr(other, part)[r].dtype


@pytest.mark.parametrize("numerics", ["s16.15", "float32"])
@pytest.mark.parametrize("cell", LIF, ids=lambda c: c.value)
@pytest.mark.parametrize("varied", [False, True], ids=["uniform", "per-neuron"])
def test_pe_kernels_compiled_and_stepped_agree(cell: CellType, numerics: str, varied: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    net = lif_network(cell, varied)
    fast_sim, slow_sim = pair(net, monkeypatch, numerics=numerics)
    for sim in (fast_sim, slow_sim):
        for t in (0.3, 37.7, 120.0):  # runs split at arbitrary ticks
            sim.run_until(t)
        sim.set_weights("exc-inh", sim.weights("exc-inh") * 0.5)
        sim.run_until(200.0)
    assert_same_state(fast_sim, slow_sim)
    a, b = fast_sim.result(), slow_sim.result()
    assert a.spikes["exc"].count > 300
    assert a.counters["physical.packets"] > 1000
    assert_same_results(a, b)
    for sim in (fast_sim, slow_sim):
        sim.reset()
        sim.run_until(50.0)
    assert_same_results(fast_sim.result(), slow_sim.result())


def test_saturating_input_is_the_same_on_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    """600 synapses of 200 nA firing in four ticks in a row: a ring sum beyond s16.15's
    65,536 saturates, and so does the current they add up to, which float32 carries on."""
    n = 3
    pre, post = np.repeat(np.arange(600), n), np.tile(np.arange(n), 600)
    src = ArraySource.from_lists("in", [[2.0, 2.0, 3.0, 4.0, 5.0]] * 600)
    net = Network(dt=1.0, populations=(Population("p", "IF_curr_exp", n, {"tau_refrac": 0.0}),),
                  sources=(src,),
                  projections=(Projection("big", "in", "p", pre, post,
                                          np.full(pre.size, 200.0), np.full(pre.size, 1.0)),),
                  recordings=(Recording("p", "isyn_exc", np.arange(n)),
                              Recording("p", "v", np.arange(n)),
                              Recording("p", "spikes", np.arange(n))))
    peaks = {}
    for numerics in ("s16.15", "float32"):
        fast_sim, slow_sim = pair(net, monkeypatch, numerics=numerics)
        for sim in (fast_sim, slow_sim):
            sim.run_until(12.0)
        a, b = fast_sim.result(), slow_sim.result()
        assert_same_results(a, b)
        assert_same_state(fast_sim, slow_sim)
        peaks[numerics] = a.signals[("p", "isyn_exc")].values.max()
    assert peaks["s16.15"] < 65536.0 < peaks["float32"]


@pytest.mark.parametrize("policy", ["drop", "defer"])
def test_late_packets_are_the_same_on_both_paths(policy: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Slow PEs (2.2 MHz, slices not sized for the tick) with delay-extension stages:
    many packets late, dropped or deferred at the same packet on both paths, and the
    budget's counters, overruns and largest demand alike."""
    net = recurrent_net(200, max_delay=30, t_stop=300.0)
    fast_sim, slow_sim = pair(net, monkeypatch, pe_clock_hz=2.2e6,
                              cycles_per_tick_overhead=100, cycles_per_neuron_update=30,
                              late_spikes=policy, fit_tick=False)
    assert any(row.via >= 0 for row in fast_sim.timing.rows.values())  # delay extensions
    for sim in (fast_sim, slow_sim):
        for t in (7.0, 101.0, 300.0):
            sim.run_until(t)
    with pytest.warns(LateSpikesWarning):
        a = fast_sim.result()
    with pytest.warns(LateSpikesWarning):
        b = slow_sim.result()
    late = "semantic.deferred_packets" if policy == "defer" else "semantic.dropped_packets"
    assert a.counters[late] > 100
    assert a.counters["physical.overrun_pe_ticks"] > 0
    assert_same_results(a, b)


@pytest.mark.parametrize("policy", ["drop", "defer"])
def test_runs_handed_between_the_paths_keep_the_open_ticks(policy: str,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """The ticks still open when a run ends (packets charged to later ticks) go with the
    state: compiled, then step by step, then compiled again, as one step-by-step run."""
    net = recurrent_net(200, max_delay=30, t_stop=300.0)
    spec = dict(pe_clock_hz=2.2e6, cycles_per_tick_overhead=100, cycles_per_neuron_update=30,
                late_spikes=policy, fit_tick=False)
    mixed, plain = pair(net, monkeypatch, **spec)
    plan = mixed.engine._fast
    mixed.run_until(40.0)
    mixed.engine._fast = None  # the numpy path goes on (the rings are shared)
    mixed.run_until(90.0)
    mixed.engine._fast = plan
    mixed.run_until(150.0)
    plain.run_until(150.0)
    with pytest.warns(LateSpikesWarning):
        a = mixed.result()
    with pytest.warns(LateSpikesWarning):
        b = plain.result()
    assert_same_results(a, b)
    assert_same_state(mixed, plain)


def test_what_stays_on_the_step_by_step_path_says_why(monkeypatch) -> None:
    """Plastic projections (the PE's STDP and its post-spike history run on the numpy
    path) and the ODE kernels have no compiled form."""
    net = lif_network(CellType.IF_CURR_EXP, False)
    rule = STDPRule(tau_plus=2.0, tau_minus=2.0, A_plus=0.05, A_minus=0.05, w_max=2.0)
    projs = tuple(p if p.label != "noise-exc" else
                  Projection(p.label, p.pre, p.post, p.pre_index, p.post_index, p.weight,
                             p.delay, plasticity=rule) for p in net.projections)
    plastic = net.replace(projections=projs)
    sim = SpiNNaker2Simulator(plastic, map_network(plastic, tiny_spec(tick_ms=0.1)))
    assert sim.engine.why_not_compiled.startswith("projection 'noise-exc@")
    assert sim.engine.why_not_compiled.endswith("' is plastic")
    izh = Network(dt=0.1, populations=(Population("izh", "Izhikevich", 4),))
    sim = SpiNNaker2Simulator(izh, map_network(izh, tiny_spec()))
    assert sim.engine.why_not_compiled == "population 'izh' runs on S2ODEKernel"
    assert fast.unsupported(sim.engine) == sim.engine.why_not_compiled


def test_pairwise_sum_is_numpys() -> None:
    """A deferred packet's cost carried into the next tick is numpy's sum of the late
    costs, whose order of additions (pairwise, in blocks of eight) this must follow."""
    rng = np.random.default_rng(0)
    for n in [*range(0, 140), 255, 256, 1000, 4097]:
        x = rng.random(n + 3) * 10.0 ** rng.uniform(-3, 6, n + 3)
        assert pairwise_sum(x, 3, n) == x[3:].sum(), n
    x = np.full(1000, 0.1)
    assert pairwise_sum(x, 0, 1000) != float(np.cumsum(x)[-1])  # (order matters)
