"""The engine's newer parts on their own: run-time updates, current recording, renewal
sources, the kernels' edge cases and the timing of dendritic STDP delays."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import DT, run, single_neuron, trace
from toolchain.ir import (
    ACSource,
    ArraySource,
    DCSource,
    GammaSource,
    Network,
    NoisyCurrentSource,
    Population,
    Projection,
    Recording,
    STDPRule,
    StepCurrentSource,
    TsodyksMarkram,
)
from toolchain.sim.engine import Engine
from toolchain.sim.kernels import RunTimeChangeError, StateError, exp_psc_propagator
from toolchain.sim.sources import CurrentError, poisson_window_ms

# --------------------------------------------------------------------------- updates


def driven(tau_m: float = 10.0, times: list[float] | None = None,
           currents: tuple = ()) -> Network:
    pop = Population("n", "IF_curr_exp", 2, {"tau_m": tau_m, "v_thresh": 100.0})
    src = ArraySource.from_lists("in", [times or [5.0, 15.0], [7.0]])
    proj = Projection("p", "in", "n", [0, 1], [0, 1], [1.0, 1.0], [1.0, 1.0],
                      dynamics=TsodyksMarkram(0.5, 100.0, 0.0))
    return Network(populations=(pop,), sources=(src,), projections=(proj,),
                   currents=currents, recordings=(Recording("n", "v", [0, 1]),
                                                  Recording("in", "spikes", [0, 1])))


def test_update_continues_the_state_with_new_parameters_and_trains():
    sim = Engine(driven())
    sim.run_until(10.0)
    v_at_10 = sim.get_state("n", "v").copy()
    new = driven(tau_m=40.0, times=[5.0, 12.0, 20.0])
    sim.update(new)
    assert sim.t == 10.0
    np.testing.assert_array_equal(sim.get_state("n", "v"), v_at_10)  # the state stays
    sim.run_until(30.0)
    res = sim.result()
    # the spike at 5 ms came from the old train; from 10 ms on the new one fires (12, 20)
    assert res.spikes["in"].trains()[0].tolist() == [5.0, 12.0, 20.0]
    # neuron 1 (no input after 7 ms) relaxes from its state at 10 ms with the new tau_m:
    # v(s) = v_rest + (v0 - v_rest) e^(-s/tau_m) + i0 P(s), the exact solution
    v = sim.result().signals[("n", "v")].values[:, 1]
    i0 = 1.0 * 0.5 * np.exp(-(10.0 - 8.0 - DT) / 5.0)  # U = 0.5 of w = 1 nA, from 8.1 ms
    s = np.arange(0, 201) * DT
    expected = -65.0 + (v_at_10[1] + 65.0) * np.exp(-s / 40.0) + i0 * exp_psc_propagator(
        s, np.array(40.0), np.array(5.0), np.array(1.0))
    np.testing.assert_allclose(v[100:], expected, atol=1e-9)


def test_update_refuses_what_makes_another_network():
    sim = Engine(driven())
    sim.run_until(5.0)
    net = driven()
    moved = net.replace(projections=(net.projections[0].__class__(
        "p", "in", "n", [0, 1], [0, 1], [1.0, 1.0], [2.0, 1.0],
        dynamics=TsodyksMarkram(0.5, 100.0, 0.0)),))
    with pytest.raises(RunTimeChangeError, match="the delays of projection 'p' .*call reset"):
        sim.update(moved)
    with pytest.raises(RunTimeChangeError, match="what is recorded"):
        sim.update(net.replace(recordings=()))
    bigger = net.replace(populations=(Population("n", "IF_curr_exp", 3),))
    with pytest.raises(RunTimeChangeError, match="the populations"):
        sim.update(bigger)


def test_update_takes_new_synaptic_parameters_and_currents():
    sim = Engine(driven())
    sim.run_until(10.0)
    net = driven(currents=(DCSource("dc", "n", [1], 2.0, 0.0),))
    proj = net.projections[0]
    sim.update(net.replace(projections=(Projection(
        "p", "in", "n", [0, 1], [0, 1], [1.0, 1.0], [1.0, 1.0],
        dynamics=TsodyksMarkram(0.9, 100.0, 0.0)),), currents=net.currents))
    assert proj.dynamics.U[0] == np.float32(0.5)
    assert sim.projections["p"].release.U[0] == pytest.approx(0.9)
    v0 = sim.get_state("n", "v")[1]
    sim.run_until(10.1)
    assert sim.get_state("n", "v")[1] > v0  # the current is on from the next step


def test_hardware_like_kernels_refuse_parameter_changes():
    from toolchain.sim.kernels import NeuronKernel

    class Fixed(NeuronKernel):  # a kernel that fixes its arithmetic at build
        def advance(self, step, i_ext):
            return np.zeros(0, dtype=np.intp)

        def receive(self, receptor, drive):
            pass

        def get(self, variable):
            return np.zeros(self.size)

        def set(self, variable, values):
            pass

        def reset(self):
            pass

    pop = Population("n", "IF_curr_exp", 1)
    with pytest.raises(RunTimeChangeError, match="Population 'n': Fixed cannot change its "
                                                 "parameters at run time"):
        Fixed(pop, DT).reconfigure(pop)


# --------------------------------------------------------------------------- currents


def current_net(*currents) -> Network:
    pop = Population("n", "IF_curr_exp", 2, {"v_thresh": 100.0})
    return Network(populations=(pop,), currents=currents,
                   recordings=tuple(Recording(c.label, "i", [0]) for c in currents))


def test_current_recording_has_a_sample_per_step_and_one_at_the_end():
    net = current_net(DCSource("dc", "n", [0], 0.5, 2.0, 4.0),
                      StepCurrentSource("st", "n", [1], [1.01, 1.04, 3.0], [0.1, 0.2, 0.0]),
                      ACSource("ac", "n", [0], amplitude=1.0, offset=0.2, frequency=250.0,
                               phase=90.0, start=1.0, stop=3.0))
    sim = run(net, 5.0)
    sig = sim.result().signals
    dc, st, ac = (sig[(label, "i")] for label in ("dc", "st", "ac"))
    assert dc.values.shape == (51, 1) and dc.times[-1] == pytest.approx(5.0)
    assert dc.values[19, 0] == 0 and dc.values[20, 0] == 0.5 and dc.values[40, 0] == 0
    # two times rounding to step 10 (1.0 ms is nearest to both): the last one given wins
    assert st.values[9, 0] == 0 and st.values[10, 0] == 0.2 and st.values[30, 0] == 0
    t = np.arange(10, 30) * DT
    np.testing.assert_allclose(ac.values[10:30, 0],
                               0.2 + np.sin(2 * np.pi * (0.25 * (t - 1.0) + 0.25)))
    assert ac.values[9, 0] == 0 and ac.values[30, 0] == 0


def test_noise_is_seeded_held_for_its_interval_and_does_not_depend_on_run_splits():
    noise = NoisyCurrentSource("noise", "n", [0, 1], mean=0.3, stdev=0.1, dt=0.5, start=1.0,
                               stop=9.0, seed=7)
    whole = run(current_net(noise), 10.0).result().signals[("noise", "i")].values[:, 0]
    sim = Engine(current_net(noise))
    for t in (2.35, 6.0, 10.0):
        sim.run_until(t)
    np.testing.assert_array_equal(sim.result().signals[("noise", "i")].values[:, 0], whole)
    held = whole[10:90].reshape(-1, 5)
    assert np.all(held == held[:, :1]) and np.unique(held[:, 0]).size == 16
    other = run(current_net(NoisyCurrentSource("noise", "n", [0], 0.3, 0.1, 0.5, 1.0, 9.0,
                                               seed=8)), 10.0)
    assert not np.array_equal(other.result().signals[("noise", "i")].values[:, 0], whole)
    with pytest.raises(CurrentError, match="dt = 0.25 ms is not a whole number of timesteps"):
        Engine(current_net(NoisyCurrentSource("bad", "n", [0], 0.3, 0.1, 0.25)))


# --------------------------------------------------------------------------- sources


def test_renewal_trains_do_not_depend_on_run_splits_and_replay_after_reset():
    src = GammaSource("g", 30, alpha=4.0, beta=400.0, start=3.0, duration=2500.0, seed=2)
    assert poisson_window_ms(src) == 1000.0  # 100 Hz: windows of 1 s, realised in order
    net = Network(sources=(src,), recordings=(Recording("g", "spikes", np.arange(30)),))
    whole = run(net, 3000.0).result().spikes["g"]
    sim = Engine(net)
    for t in (700.0, 1000.0, 2100.0, 3000.0):
        sim.run_until(t)
    split = sim.result().spikes["g"]
    np.testing.assert_array_equal(split.times, whole.times)
    np.testing.assert_array_equal(split.senders, whole.senders)
    assert whole.times.min() >= 3.0 and whole.times.max() < 2503.0
    sim.reset()
    sim.run_until(3000.0)
    np.testing.assert_array_equal(sim.result().spikes["g"].times, whole.times)


# --------------------------------------------------------------------------- kernels


def test_a_blowing_up_model_says_which_timestep_to_use():
    net = single_neuron("HH_cond_exp", dc=(1.0, 20.0, 80.0))
    with pytest.raises(StateError, match=r"Population 'n' \(HH_cond_exp\) neuron 0: v became "
                                         r".*unstable at dt = 0.1 ms.*0.01 ms or less"):
        run(net, 100.0)


def test_voltage_jumps_are_undone_by_a_reset_in_the_same_step():
    """Brian2 runs thresholds, then synapses, then resets: a jump that arrives in the step
    the neuron fires is lost; one that arrives while it is refractory stays."""
    p = {"v_rest": -65.0, "v_reset": -70.0, "v_thresh": -50.0, "tau_refrac": 2.0,
         "tau_m": 1e6, "i_offset": 0.0}
    # the first input makes it fire at step 50; the second arrives in that same step
    net = single_neuron("IF_curr_delta", params=p, inputs=[
        ([3.9], 20.0, 1.0, "excitatory"), ([4.9], 3.0, 0.1, "excitatory"),
        ([5.5], 2.0, 0.1, "excitatory")])
    sim = run(net, 10.0)
    _, v = trace(sim)
    assert sim.result().spikes["n"].times.tolist() == [5.0]
    assert v[51] == pytest.approx(-70.0, abs=1e-6)  # reset, the 3 mV jump lost
    assert v[57] == pytest.approx(-68.0, abs=1e-6)  # refractory, the 2 mV jump kept


# --------------------------------------------------------------------------- STDP delays


@pytest.mark.parametrize("fraction", [0.0, 0.5, 1.0])
def test_the_dendritic_part_of_the_delay_moves_the_pairing(fraction):
    """One pre spike at 20 ms, one post spike at 23 ms (the teacher), a 2 ms delay: the
    synapse sees the pre spike at 20 + (1 - f) 2 and the post spike at 23 + 2 f."""
    rule = STDPRule(tau_plus=10.0, A_plus=0.1, A_minus=0.0, w_max=1.0,
                    dendritic_delay_fraction=fraction)
    post = Population("post", "IF_curr_exp", 1, {"tau_refrac": 50.0, "v_thresh": -60.0,
                                                  "tau_syn_E": 0.5})
    net = Network(populations=(post,), sources=(
        ArraySource.from_lists("pre", [[20.0]]), ArraySource.from_lists("teacher", [[22.8]])),
        projections=(Projection("stdp", "pre", "post", [0], [0], [0.1], [2.0],
                                plasticity=rule),
                     Projection("drive", "teacher", "post", [0], [0], [50.0], [DT])),
        recordings=(Recording("post", "spikes", [0]),))
    res = run(net, 60.0).result()
    t_post = float(res.spikes["post"].times[0])
    lag = (t_post + 2.0 * fraction) - (20.0 + 2.0 * (1 - fraction))
    w0 = float(np.float32(0.1))
    assert res.weights["stdp"][0] == pytest.approx(w0 + 0.1 * np.exp(-lag / 10.0), rel=1e-9)
