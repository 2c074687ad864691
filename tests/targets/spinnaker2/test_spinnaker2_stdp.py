"""Pair STDP on SpiNNaker2 PEs (toolchain/targets/spinnaker2/stdp.py): sPyNNaker's decay
tables, the learning window against the float reference, the deferred updates and the
post history's depth, one rule per population, and what learning costs a PE's tick."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from toolchain.compiler import MappingError
from toolchain.ir import (
    ArraySource,
    Network,
    Population,
    Projection,
    Recording,
    STDPRule,
    StepCurrentSource,
)
from toolchain.targets import get_target
from toolchain.targets.spinnaker2.stdp import TRACE_ONE, decay_lut

DT = 1.0


def test_the_decay_table_is_spynnakers():
    """get_exp_lut_array: ln(2048) tau / dt entries rounded up to even, floor(2048 e^-k)."""
    lut = decay_lut(20.0, 1.0)
    assert lut.size == 154  # ln(2048) * 20 = 152.5 -> 77 pairs
    assert lut[0] == TRACE_ONE and lut[1] == math.floor(2048 * math.exp(-1 / 20))
    assert lut[-1] >= 0 and np.all(np.diff(lut) <= 0)
    assert decay_lut(5.0, 0.1).size % 2 == 0


def _pairs(deltas: np.ndarray, rule: STDPRule, *, flush: float = 300.0) -> Network:
    """Post neuron i fires once, at 50 ms (driven by a current pulse); pre neuron i at
    50 - delta_i ms (its spike reaching the synapse after the 1 ms delay), and again at
    ``flush`` ms, long after, when the PE applies the post spike's potentiation."""
    n = deltas.size
    post_t = 50.0
    pre = ArraySource.from_lists("pre", [[post_t - d - DT, flush] for d in deltas])
    cells = Population("post", "IF_curr_exp", n, parameters={"tau_refrac": 2.0,
                                                             "tau_syn_E": 2.0})
    kick = StepCurrentSource("kick", "post", np.arange(n), [post_t - 3.0, post_t - 1.0],
                             [10.0, 0.0])
    proj = Projection("stdp", "pre", "post", np.arange(n), np.arange(n), np.full(n, 0.2),
                      np.full(n, DT), plasticity=rule)
    return Network(dt=DT, populations=(cells,), sources=(pre,), projections=(proj,),
                   currents=(kick,), recordings=(Recording("post", "spikes", np.arange(n)),))


def _learn(net: Network, t_stop: float, **options) -> tuple[np.ndarray, object]:
    target = get_target(options.pop("target", "spinnaker2"), **options)
    sim = target.simulator(target.compile(net))
    sim.run_until(t_stop)
    return np.asarray(sim.weights("stdp")), sim.result()


@pytest.mark.parametrize("dependence", ["additive", "multiplicative"])
@pytest.mark.parametrize("numerics", ["s16.15", "float32"])
def test_the_pair_window_matches_the_reference(dependence, numerics):
    deltas = np.arange(-40.0, 41.0, 5.0)
    deltas = deltas[deltas != 0]
    rule = STDPRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.05, A_minus=0.06, w_min=0.0,
                    w_max=0.5, weight_dependence=dependence)
    net = _pairs(deltas, rule)
    ref, ref_run = _learn(net, 310.0, target="reference")
    got, run = _learn(net, 310.0, numerics=numerics)
    assert ref_run.spikes["post"].count == run.spikes["post"].count == deltas.size
    dw_ref, dw = ref - 0.2, got - 0.2
    assert np.all(dw_ref[deltas > 0] > 0) and np.all(dw_ref[deltas < 0] < 0)
    lsb = 2.0 ** -math.floor(math.log2(65535 / 0.5))  # the word scale w_max sets
    # a word's step per update, and the s4.11 trace's 1/2048 of the change
    np.testing.assert_allclose(dw, dw_ref, atol=2 * lsb + np.abs(dw_ref).max() / 1000)


def test_potentiation_waits_for_the_next_pre_spike():
    """The PE learns when a pre spike's row is processed: a weight read back between the
    post spike and the next pre spike has not been potentiated yet."""
    rule = STDPRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.05, A_minus=0.0, w_max=0.5)
    net = _pairs(np.array([10.0]), rule)
    before, _ = _learn(net, 200.0)
    after, _ = _learn(net, 310.0)
    ref, _ = _learn(net, 200.0, target="reference")
    assert before[0] == pytest.approx(0.2, abs=1e-4)  # nothing yet on the PE
    assert ref[0] > 0.2 + 0.01  # the reference potentiates at the post spike
    assert after[0] == pytest.approx(ref[0], abs=2e-4)


def test_the_post_history_keeps_the_last_16_spikes():
    """20 post spikes between two pre spikes: the PE potentiates with the last 16 only."""
    rule = STDPRule(tau_plus=1000.0, tau_minus=20.0, A_plus=0.001, A_minus=0.0, w_max=0.5)
    pre = ArraySource.from_lists("pre", [[1.0, 400.0]])
    cells = Population("post", "IF_curr_exp", 1, parameters={"tau_refrac": 1.0})
    times = np.arange(20, 220, 10.0)
    kick = StepCurrentSource("kick", "post", [0], np.sort(np.r_[times - 2, times]),
                             np.tile([8.0, 0.0], times.size))
    proj = Projection("stdp", "pre", "post", [0], [0], [0.1], [DT], plasticity=rule)
    net = Network(dt=DT, populations=(cells,), sources=(pre,), projections=(proj,),
                  currents=(kick,), recordings=(Recording("post", "spikes", [0]),))
    got, run = _learn(net, 410.0)
    fired = run.spikes["post"].times
    assert fired.size == 20 and fired.max() < 400
    x = np.exp(-(fired - 2.0) / 1000.0)  # the pre trace (spike arrived at 2 ms) at each
    last16 = 0.1 + 0.001 * 0.5 * x[-16:].sum()
    all20 = 0.1 + 0.001 * 0.5 * x.sum()
    lsb = 2.0 ** -17  # the word scale w_max = 0.5 sets; each of the 16 updates floors
    assert last16 - 16 * lsb <= got[0] <= last16 + lsb
    assert all20 - got[0] > 100 * lsb


def test_one_rule_per_population_and_no_plastic_inhibitory_currents():
    src = ArraySource.from_lists("in", [[1.0]] * 2)
    cells = Population("cells", "IF_curr_exp", 2)
    a = STDPRule(tau_plus=20.0)
    b = STDPRule(tau_plus=10.0)

    def net(*projs):
        return Network(dt=DT, populations=(cells,), sources=(src,), projections=projs)

    two = net(Projection("p", "in", "cells", [0], [0], [0.1], [1.0], plasticity=a),
              Projection("q", "in", "cells", [1], [1], [0.1], [1.0], plasticity=b))
    with pytest.raises(MappingError, match="Projection 'q': its STDP rule differs from that "
                                           "of projection 'p' into the same population "
                                           "'cells'; a PE runs one plasticity rule"):
        get_target("spinnaker2").compile(two)
    inh = net(Projection("i", "in", "cells", [0], [0], [-0.1], [1.0],
                         receptor="inhibitory", plasticity=a))
    with pytest.raises(MappingError, match="a SpiNNaker2 synaptic word holds a magnitude"):
        get_target("spinnaker2").compile(inh)


def test_learning_costs_cycles_in_the_tick_and_energy():
    rule = STDPRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.01, A_minus=0.01, w_max=0.5)
    rng = np.random.default_rng(0)
    src = ArraySource.from_lists("in", [np.sort(rng.uniform(1, 500, 20)) for _ in range(100)])
    cells = Population("cells", "IF_curr_exp", 50)
    pre, post = np.meshgrid(np.arange(100), np.arange(50), indexing="ij")

    def net(plastic):
        proj = Projection("p", "in", "cells", pre.ravel(), post.ravel(),
                          np.full(pre.size, 0.05), np.full(pre.size, 1.0),
                          plasticity=rule if plastic else None)
        return Network(dt=DT, populations=(cells,), sources=(src,), projections=(proj,))

    static, plastic = (get_target("spinnaker2").compile(net(p)) for p in (False, True))
    assert plastic.estimate.compute_ns > static.estimate.compute_ns * 1.5
    assert plastic.estimate.energy_synops_pj > static.estimate.energy_synops_pj
    target = get_target("spinnaker2")
    sim = target.simulator(plastic)
    sim.run_until(500.0)
    counters = sim.result().counters
    assert counters["physical.plastic_updates"] == counters["physical.synaptic_events"] > 0


@pytest.mark.parametrize("numerics", ["s16.15", "float32"])
def test_a_dendritic_delay_gives_the_reference_window(numerics):
    """sPyNNaker takes a plastic synapse's delay as dendritic (its axonal delay is 0):
    with dendritic_delay_fraction=1 the pre spike meets the synapse when it is sent and
    the post spike reaches it a delay later, as in the reference; the window is the
    reference's within two word steps."""
    deltas = np.arange(-30.0, 31.0, 10.0)
    deltas = deltas[deltas != 0]
    rule = STDPRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.05, A_minus=0.06, w_min=0.0,
                    w_max=0.5, dendritic_delay_fraction=1.0)
    net = _pairs(deltas, rule)
    ref, _ = _learn(net, 310.0, target="reference")
    got, _ = _learn(net, 310.0, numerics=numerics)
    lsb = 2.0 ** -math.floor(math.log2(65535 / 0.5))
    np.testing.assert_allclose(got - 0.2, ref - 0.2, atol=2 * lsb + 1e-4)
    axonal, _ = _learn(_pairs(deltas, STDPRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.05,
                                               A_minus=0.06, w_min=0.0, w_max=0.5)),
                       310.0, target="reference")
    assert np.abs(axonal - ref).max() > 10 * lsb  # the delay's placement matters here


def test_dendritic_delays_that_differ_are_refused():
    rule = STDPRule(w_max=0.5, dendritic_delay_fraction=1.0)
    net = _pairs(np.array([10.0, -10.0]), rule)
    (proj,) = net.projections
    net = net.replace(projections=(dataclasses.replace(proj, delay=np.array([1.0, 2.0])),))
    with pytest.raises(MappingError, match="'stdp': STDP with dendritic_delay_fraction = 1 .*"
                                           "give the plastic synapses one delay"):
        get_target("spinnaker2").compile(net)
