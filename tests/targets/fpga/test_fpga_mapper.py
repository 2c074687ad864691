"""Mapping PyNN IR networks onto the core: formats, limits and the fpga target."""

import dataclasses
import math

import numpy as np
import pytest

from toolchain.compiler import MappingError as CompilerMappingError
from toolchain.ir import (
    ArraySource,
    Network,
    PoissonSource,
    Population,
    Projection,
    Recording,
    STDPRule,
)
from toolchain.targets import get_target
from toolchain.targets.fpga.mapper import MappingError, map_network
from toolchain.targets.fpga.numerics import shift_for
from toolchain.targets.fpga.spec import ECP5_85F_EI, ICE40UP5K, TINY


def lif(label="exc", size=4, **params):
    return Population(label, "IF_curr_exp", size, parameters=params)


def net_with(pops, sources=(), projs=(), rec=("exc",), dt=0.1):
    recs = [Recording(r, "spikes", np.arange(next(p.size for p in pops if p.label == r)))
            for r in rec]
    return Network(dt=dt, populations=tuple(pops), sources=tuple(sources),
                   projections=tuple(projs), recordings=tuple(recs))


def test_decay_shift_is_the_nearest_power_of_two_in_log():
    # tau/dt = 200 lies between 2**7 = 128 and 2**8 = 256; log2(200) = 7.64 rounds to 8
    assert shift_for(20.0, 0.1, "tau_m") == 8
    with pytest.raises(MappingError, match=r"tau_m = 1e\+06 ms gives decay shift 23, outside "
                       r"0\.\.15; with dt = 0\.1 ms use a time constant between 0\.1 and "
                       r"3276\.8 ms"):
        shift_for(1e6, 0.1, "tau_m")


def test_voltages_and_weights_in_core_units():
    pops = [lif(v_thresh=-50.0, v_rest=-65.0, v_reset=-70.0)]
    src = ArraySource.from_lists("in", [[1.0]])
    proj = Projection("p", "in", "exc", [0], [0], [0.5], [0.5])
    m = map_network(net_with(pops, [src], [proj]), ICE40UP5K)
    scale = m.mapping.v_scale
    assert m.image.v_thresh[0] == round(15 * scale)
    assert m.image.v_reset[0] == round(-5 * scale)
    # w dt / cm in LSB, times the charge factor of the shift decay: tau_syn = 5 ms is
    # 2**6 = 64 steps of decay, the exponential's charge is that of tau / dt = 50 steps
    q = 5.0 / 0.1 * 2.0**-6
    assert q == pytest.approx(0.781, abs=1e-3)
    assert m.image.syn_weight[0] == round(0.5 * 0.1 / 1.0 * q * scale)
    assert m.image.syn_delay[0] == 5
    # the largest scale at which the 15 mV threshold fits half the 16-bit range
    assert scale == pytest.approx((2**15 - 1) / 2 / 15)


def test_too_many_neurons_names_the_limit_the_excess_and_a_preset_that_fits():
    pops = [lif("a", 100), lif("exc", 60)]
    with pytest.raises(MappingError, match=r"network needs 160 neurons \(a: 100, exc: 60\); "
                       r"build 'ice40up5k' holds 128 \(n_neurons\), 32 too many: option "
                       r"build='ecp5-85f' \(-O build=ecp5-85f\) \(preset 'ecp5-85f' holds "
                       r"1024\)") as e:
        map_network(net_with(pops), ICE40UP5K)
    v = e.value.violation
    assert (v.element, v.label, v.limit, v.value, v.allowed, v.excess) == \
        ("population", "a", "n_neurons", 160, 128, 32)


def test_delay_beyond_the_ring_names_the_limit():
    src = ArraySource.from_lists("in", [[1.0]])
    proj = Projection("p", "in", "exc", [0], [0], [0.5], [1.0])  # 10 steps > 3
    with pytest.raises(MappingError, match=r"Projection 'p' delay\[0\] = 1 ms is 10 steps; "
                       r"build 'tiny' has a 4-slot delay ring \(at most 3 steps = 0\.3 ms\): "
                       r"shorten the delay or raise delay_bits \(now 2\): option "
                       r"delay_bits=4 \(-O delay_bits=4\)"):
        map_network(net_with([lif()], [src], [proj]), TINY)


def test_unequal_synaptic_time_constants_are_refused():
    with pytest.raises(MappingError, match=r"Population 'exc' neuron 0: tau_syn_E = 5 ms and "
                       r"tau_syn_I = 1 ms give decay shifts 6 and 3; build 'ice40up5k' has "
                       r"one synaptic current per neuron: make them equal or use a build with "
                       r"two currents, option build='ecp5-85f-ei' \(-O build=ecp5-85f-ei\) or "
                       r"option receptors=2 \(-O receptors=2\)"):
        map_network(net_with([lif(tau_syn_I=1.0)]), ICE40UP5K)


def _e_i_net(dt=0.1, record=("isyn_exc", "isyn_inh", "v"), **params):
    """One cell, 2 nA of excitatory input at 2 ms and of inhibitory input at 40 ms (40
    synapses each: one 8-bit weight alone would be as coarse as the decay's rounding),
    both currents and v recorded."""
    k = 40
    src = ArraySource.from_lists("in", [[2.0]] * k + [[40.0]] * k)
    zeros, w, d = np.zeros(k, int), np.full(k, 2.0 / k), np.full(k, 1.0)
    projs = (Projection("e", "in", "exc", np.arange(k), zeros, w, d),
             Projection("i", "in", "exc", np.arange(k, 2 * k), zeros, -w, d,
                        receptor="inhibitory"))
    pop = lif(size=1, **params)  # stays below threshold: the currents alone
    return Network(dt=dt, populations=(pop,), sources=(src,), projections=projs,
                   recordings=tuple(Recording("exc", v, np.arange(1))
                                    for v in record))


def test_a_two_current_build_decays_each_receptor_with_its_own_time_constant():
    # VA-CUBA's 5 ms / 10 ms: shifts 6 and 7 at dt = 0.1 ms, inhibitory synapses marked
    m = map_network(_e_i_net(tau_syn_E=5.0, tau_syn_I=10.0), ECP5_85F_EI)
    assert (m.image.syn_shift[0], m.image.syn_shift_inh[0]) == (6, 7)
    assert m.image.syn_inh.tolist() == [False] * 40 + [True] * 40
    target = get_target("fpga", build="ecp5-85f-ei")
    art = target.compile(_e_i_net(tau_syn_E=5.0, tau_syn_I=10.0))
    assert art.fits and not art.approximations
    sim = target.simulator(art)
    sim.run_until(100.0)
    sig = sim.result().signals
    exc, inh = (np.asarray(sig[("exc", v)].values)[:, 0] for v in ("isyn_exc", "isyn_inh"))
    # each current peaks at its own input's 2 nA and holds nothing of the other's
    assert exc.max() == pytest.approx(2.0, rel=0.02) and inh.min() == pytest.approx(-2.0, rel=0.02)
    assert np.all(inh[:400] == 0) and np.all(exc[:20] == 0)
    # and falls to 1/e in about its own time constant (the shifts' 6.4 and 12.8 ms): the
    # inhibitory one twice as slowly
    def fall(x, start):
        rel = x[start:] / x[start]
        return np.argmax(rel < 1 / math.e) * 0.1
    t_e, t_i = fall(exc, int(np.argmax(exc))), fall(inh, int(np.argmin(inh)))
    assert 5.0 < t_e < 7.5 and 10.0 < t_i < 14.0 and t_i / t_e == pytest.approx(2.0, rel=0.1)


def test_a_one_current_build_refuses_to_record_both_currents_and_names_the_build():
    with pytest.raises(CompilerMappingError, match=r"build 'ice40up5k' of the FPGA core keeps one "
                       r"synaptic current per neuron.*a two-current build \(-O build=ecp5-85f-ei"):
        get_target("fpga").compile(_e_i_net())


def test_a_synapse_faster_than_the_step_is_one_step_with_the_exact_charge():
    # the CA3 model's 0.3 ms synapse at dt = 1 ms: shift 0, the whole charge w tau_syn in
    # the step it arrives (the sum of its samples would be 3.5 x that)
    net = _e_i_net(dt=1.0, record=("v",), tau_syn_E=0.3, tau_syn_I=0.3, tau_m=16.0)
    m = map_network(net, ICE40UP5K)
    assert m.image.syn_shift[0] == 0
    runs = {}
    for name in ("fpga", "reference"):
        target = get_target(name)
        art = target.compile(net)
        assert art.fits and not art.approximations
        sim = target.simulator(art)
        sim.run_until(80.0)
        runs[name] = np.asarray(sim.result().signals[("exc", "v")].values)[:, 0] + 65.0
    # the exponential's kick, 2 nA x 0.3 ms / 1 nF = 0.6 mV, less the leak in its step
    assert runs["reference"].max() == pytest.approx(0.6 * 0.92, rel=0.03)
    assert runs["fpga"].max() == pytest.approx(runs["reference"].max(), rel=0.12)
    assert runs["fpga"].min() == pytest.approx(runs["reference"].min(), rel=0.12)  # inh.


def test_multiplicative_stdp_is_refused_with_the_fix():
    src = ArraySource.from_lists("in", [[1.0]])
    rule = STDPRule(weight_dependence="multiplicative", w_max=1.0)
    proj = Projection("p", "in", "exc", [0], [0], [0.5], [0.5], plasticity=rule)
    with pytest.raises(MappingError, match="'multiplicative' is not supported .* use "
                       "'additive'"):
        map_network(net_with([lif()], [src], [proj]), ICE40UP5K)


def test_dc_driven_rate_matches_the_lif_formula_for_the_quantised_time_constant():
    # constant current I: period = t_ref + tau * ln(R I / (R I - theta)), with the tau the
    # shift decay really implements: (1 - 2**-k) per step = exp(-dt / tau_eff)
    dt, k = 0.1, shift_for(20.0, 0.1, "tau_m")
    tau_eff = -dt / math.log(1 - 2.0**-k)
    pops = [lif(size=1, i_offset=1.0, tau_refrac=2.0)]
    net = net_with(pops, dt=dt)
    target = get_target("fpga")
    sim = target.simulator(target.compile(net))
    sim.run_until(1000.0)
    times = sim.result().spikes["exc"].times
    drive = tau_eff * 1.0  # R I in mV with R = tau/cm
    expected = 2.0 + tau_eff * math.log(drive / (drive - 15.0))
    assert np.median(np.diff(times)) == pytest.approx(expected, rel=0.03)


def test_stdp_learns_and_weights_come_back_in_nA():
    # pre then post a few ms later, repeatedly: additive STDP potentiates to w_max.  A 20 nA
    # kick for 1 ms into 1 nF is 20 mV of charge, above the 15 mV threshold: each input
    # fires the neuron (in the float reference too)
    src = ArraySource.from_lists("in", [list(np.arange(5.0, 400.0, 20.0))])
    rule = STDPRule(tau_plus=2.0, tau_minus=2.0, A_plus=0.05, A_minus=0.0, w_max=40.0)
    proj = Projection("p", "in", "exc", [0], [0], [20.0], [0.5], plasticity=rule)
    net = net_with([lif(size=1, tau_syn_E=1.0, tau_syn_I=1.0)], [src], [proj])
    target = get_target("fpga")
    sim = target.simulator(target.compile(net))
    before = sim.weights("p")[0]
    sim.run_until(400.0)
    assert before == pytest.approx(20.0, rel=0.05)
    assert sim.result().spikes["exc"].count >= 15
    assert sim.weights("p")[0] > before
    assert sim.result().weights["p"][0] <= 40.0 + 1e-6


def test_poisson_input_drives_the_core_deterministically():
    src = PoissonSource("noise", 20, rate=np.full(20, 200.0), start=np.zeros(20),
                        duration=np.full(20, np.inf), seed=3)
    proj = Projection("p", "noise", "exc", np.arange(20), np.zeros(20, int), np.full(20, 2.0),
                      np.full(20, 0.5))
    net = net_with([lif(size=1)], [src], [proj])
    target = get_target("fpga")
    counts = []
    for _ in range(2):
        sim = target.simulator(target.compile(net))
        sim.run_until(200.0)
        counts.append(sim.result().spikes["exc"].count)
    # 20 x 200 Hz of 2 nA kicks (0.2 mV each at dt/cm = 0.1) drive the neuron well above
    # its 15 mV threshold: it fires, and the same seed gives the same spikes
    assert counts[0] > 5 and counts[0] == counts[1]


def test_static_network_compiles_for_a_narrow_weight_build():
    # a 4-bit weight build (range -8..7) once refused every network with "STDP w_max = 31 is
    # outside 0..7": the STDP word of a network without plasticity took the rule defaults
    spec = dataclasses.replace(ICE40UP5K, w_bits=4, name="narrow")
    src = ArraySource.from_lists("in", [[1.0], [2.0]])
    proj = Projection("p", "in", "exc", [0, 1], [0, 1], [0.5, 0.25], [0.5, 0.5])
    m = map_network(net_with([lif()], [src], [proj]), spec)
    assert not m.image.stdp.enable
    assert m.image.syn_weight.tolist() == [7, 4]  # the largest weight takes the top
    m.image.commands(spec)  # the STDP word packs into the narrow build


def test_plastic_bounds_still_have_to_fit_the_weight_width():
    spec = dataclasses.replace(ICE40UP5K, w_bits=4, name="narrow")
    src = ArraySource.from_lists("in", [[1.0]])
    rule = STDPRule(tau_plus=2.0, tau_minus=2.0, A_plus=0.05, A_minus=0.05, w_max=8.0)
    proj = Projection("p", "in", "exc", [0], [0], [4.0], [0.5], plasticity=rule)
    m = map_network(net_with([lif()], [src], [proj]), spec)
    assert m.image.stdp.enable and m.image.stdp.w_max == 7  # w_max sets the scale


def test_trace_that_cannot_decay_in_its_width_is_refused():
    # tau 20 ms at dt 0.1 ms is a shift of 8: an 8-bit trace (at most 255) would never
    # decay with a floor, and rounded it stops at 127 of a 128 increment
    src = ArraySource.from_lists("in", [[1.0]])
    rule = STDPRule(tau_plus=2.0, tau_minus=20.0, A_plus=0.05, A_minus=0.05, w_max=8.0)
    proj = Projection("p", "in", "exc", [0], [0], [4.0], [0.5], plasticity=rule)
    with pytest.raises(MappingError, match=r"^STDP tau_minus = 20 ms is a decay shift of 8 "
                       r"at dt = 0\.1 ms, but the 8-bit traces of build 'ice40up5k' stop "
                       r"decaying at 127 of an increment of 128: raise trace_bits to 10 "
                       r"\(option trace_bits=10 \(-O trace_bits=10\)\), or use tau_minus "
                       r"below 9\.05 ms or a larger dt$"):
        map_network(net_with([lif()], [src], [proj]), ICE40UP5K)
    wide = dataclasses.replace(ICE40UP5K, trace_bits=10, name="wide")
    assert map_network(net_with([lif()], [src], [proj]), wide).image.stdp.post_decay_shift == 8
