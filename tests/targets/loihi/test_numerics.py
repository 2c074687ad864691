"""Loihi fixed-point arithmetic and the PyNN -> Loihi conversion.

The arithmetic is checked against independent formulations (Python integers, numpy
int32 arithmetic as lava does it, closed forms); the whole model against lava-nc itself
is in test_lava_identity.py.  The conversion is checked against the float64 reference
engine and the analytic LIF firing period.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from toolchain.ir import (
    ArraySource,
    DCSource,
    Network,
    PoissonSource,
    Population,
    Projection,
    Receptor,
    Recording,
    STDPRule,
)
from toolchain.sim.engine import Engine
from toolchain.sim.kernels import StateError
from toolchain.sim.metrics import compare
from toolchain.targets.loihi.convert import (
    convert_population,
    convert_weights,
    decay_constant,
)
from toolchain.targets.loihi.fixed import (
    UV_LIMIT,
    CsrSynapses,
    DenseSynapses,
    LifCompartments,
    LifParameters,
    LoihiNumericsError,
    SignMode,
    decay,
    effective_mantissas,
    wrap_int32,
)
from toolchain.targets.loihi.numerics import LoihiNumerics

# ---------------------------------------------------------------------------- arithmetic


@given(st.integers(-(2**23), 2**23), st.integers(0, 4096))
def test_decay_rounds_toward_zero(x: int, factor: int) -> None:
    expected = abs(x * factor) // 4096 * (1 if x * factor >= 0 else -1)
    assert int(decay(np.array([x], dtype=np.int64), factor)[0]) == expected


@given(st.integers(-(2**40), 2**40))
def test_wrap_int32_is_numpy_int32_overflow(x: int) -> None:
    expected = int(np.array([x & 0xFFFFFFFF], dtype=np.uint32).view(np.int32)[0])
    assert int(wrap_int32(np.array([x], dtype=np.int64))[0]) == expected


def test_bias_driven_neuron_fires_with_the_closed_form_period() -> None:
    # du = 4095 clears u, dv = 0 never leaks: v climbs by the bias, and spikes when it
    # exceeds vth << 6, so the period is the first k with k * bias > vth * 64.
    bias_mant, bias_exp, vth = 300, 2, 1000
    params = LifParameters.build("p", 1, du=4095, dv=0, vth=vth, bias_mant=bias_mant,
                                 bias_exp=bias_exp)
    lif = LifCompartments(params)
    fired = [t for t in range(500) if lif.step(None).size]
    period = vth * 64 // (bias_mant << bias_exp) + 1
    assert fired == list(range(period - 1, 500, period))


def test_refractory_holds_v_at_zero_for_the_given_steps() -> None:
    params = LifParameters.build("p", 2, du=4095, dv=0, vth=10, bias_mant=1000,
                                 refractory=[0, 3])
    lif = LifCompartments(params)
    spikes = np.array([np.isin([0, 1], lif.step(None)) for _ in range(12)])
    # 1000 per step exceeds 640 at once: every step without, every 4th with refractory
    assert spikes[:, 0].all()
    assert np.flatnonzero(spikes[:, 1]).tolist() == [0, 4, 8]


def test_u_wraps_once_and_v_saturates_as_in_lava() -> None:
    params = LifParameters.build("p", 4, du=4095, dv=0, vth=VTH_HIGH, bias_mant=0)
    lif = LifCompartments(params)
    unit = UV_LIMIT >> 6  # a_in that adds exactly 2^23 to u
    fired = lif.step(np.array([unit + 1, -unit - 1, unit, -unit], dtype=np.int64))
    # lava wraps u > 2^23 down and u <= -2^23 up, once: +2^23 itself stays, -2^23 does not
    assert lif.u.tolist() == [-UV_LIMIT + 64, UV_LIMIT - 64, UV_LIMIT, UV_LIMIT]
    # v = 0 + u, clipped to 2^23 - 1, which exceeds even the largest threshold
    # (131071 << 6 = 2^23 - 64): those two spike and reset
    assert fired.tolist() == [2, 3]
    assert lif.v.tolist() == [-UV_LIMIT + 64, UV_LIMIT - 64, 0, 0]
    lif.step(np.array([-(unit >> 1), 0, 0, 0], dtype=np.int64))
    assert lif.v[0] == -(UV_LIMIT - 1)


VTH_HIGH = 2**17 - 1


def test_huge_input_wraps_at_32_bits_like_lavas_int32_ports() -> None:
    params = LifParameters.build("p", 3, du=4095, dv=0, vth=VTH_HIGH)
    lif = LifCompartments(params)
    a_in = np.array([2**26 + 5, -(2**27) - 3, 2**30 + 7], dtype=np.int64)
    lif.step(a_in)
    # lava: int32 a_in << 6 in int32, added to the decayed u (0) in int32, one 24-bit wrap
    with np.errstate(over="ignore"):
        act = (a_in.astype(np.int32) << np.int32(6)).astype(np.int64)
    act = np.where(act > UV_LIMIT, act - 2 * UV_LIMIT, act)
    act = np.where(act <= -UV_LIMIT, act + 2 * UV_LIMIT, act)
    assert lif.u.tolist() == act.tolist()


@pytest.mark.parametrize(("mode", "bits", "raw", "expected"), [
    # mixed: clipped to -256..255, then the last bit truncated (floor)
    (SignMode.MIXED, 8, [255, 254, 3, -3, -255, 300, -300], [254, 254, 2, -4, -256, 254, -256]),
    # one sign: all 8 bits; fewer weight bits truncate toward zero in magnitude
    (SignMode.EXCITATORY, 8, [0, 7, 255, 300, -5], [0, 7, 255, 255, 0]),
    (SignMode.EXCITATORY, 6, [7, 255], [4, 252]),
    (SignMode.INHIBITORY, 6, [-7, -255, 4], [-4, -252, 0]),
])
def test_effective_mantissas_follow_lavas_clip_and_truncate(
        mode: SignMode, bits: int, raw: list[int], expected: list[int]) -> None:
    assert effective_mantissas(np.array(raw), mode, bits).tolist() == expected


@pytest.mark.parametrize("layout", [CsrSynapses.from_dense, DenseSynapses])
@pytest.mark.parametrize("weight_exp", [-3, 0, 2])
def test_accumulation_equals_the_integer_matrix_product(layout: type,
                                                        weight_exp: int) -> None:
    rng = np.random.default_rng(weight_exp + 10)
    dense = rng.integers(-256, 255, (40, 60)) * (rng.random((40, 60)) < 0.2)
    syn = layout(dense, weight_exp=weight_exp)
    effective = effective_mantissas(dense, SignMode.MIXED)
    for _ in range(5):
        fired = np.flatnonzero(rng.random(60) < 0.3)
        total = effective @ np.isin(np.arange(60), fired).astype(np.int64)
        expected = total << weight_exp if weight_exp >= 0 else total >> -weight_exp
        assert syn.accumulate(fired).tolist() == expected.tolist()
    assert syn.accumulate(np.zeros(0, dtype=np.intp)).tolist() == [0] * 40


def test_register_overflow_names_population_parameter_value_and_range() -> None:
    with pytest.raises(LoihiNumericsError) as err:
        LifParameters.build("exc", 3, du=[10, 4096, 5], dv=1, vth=10)
    assert str(err.value) == (
        "Population 'exc' du[1] = 4096 is outside the Loihi range 0..4095; "
        "du is 12 bits; 4095 is the fastest current decay"
    )
    with pytest.raises(LoihiNumericsError, match=r"Population 'exc' vth\[0\] = 131072 is "
                       r"outside the Loihi range 0\.\.131071"):
        LifParameters.build("exc", 1, du=1, dv=1, vth=2**17)
    with pytest.raises(LoihiNumericsError, match=r"weight_exp = 8 is outside the Loihi range "
                       r"-8\.\.7"):
        CsrSynapses.from_dense(np.ones((2, 2)), weight_exp=8, label="ee")


# ---------------------------------------------------------------------------- conversion


def _population(label: str = "exc", size: int = 1, **params: object) -> Population:
    return Population(label, "IF_curr_exp", size, params)


@pytest.mark.parametrize(("cell_type", "why"), [
    ("IF_cond_exp", "its synaptic input is a conductance"),
    ("IF_curr_alpha", "an alpha-shaped current is one exponential filter feeding another"),
])
def test_unmappable_cell_types_are_refused_by_name(cell_type: str, why: str) -> None:
    pop = Population("inh", cell_type, 4)
    with pytest.raises(LoihiNumericsError) as err:
        convert_population(pop, 1.0)
    assert str(err.value).startswith(
        f"Population 'inh': cell type {cell_type} cannot be mapped exactly to Loihi's "
        f"CUBA LIF: {why}")
    assert str(err.value).endswith("use IF_curr_exp")


def test_different_synaptic_time_constants_take_a_dendrite_compartment() -> None:
    """Each receptor's current has its own decay register and a charge-exact scale; equal
    registers (here 5 ms and 5.0001 ms) stay one compartment."""
    conv = convert_population(_population(tau_syn_E=5.0, tau_syn_I=10.0), 1.0)
    assert conv.compartments == 2 and conv.params.compartments == 2
    assert conv.params.du[0] == decay_constant(5.0, 1.0, 1)
    assert conv.params.du_dendrite[0] == decay_constant(10.0, 1.0, 1)
    assert conv.report["du_tau_syn_inh_ms"] == pytest.approx(10.0, rel=0.01)
    # a unit of charge: the same PSP area from either compartment
    ratio = conv.units_for(Receptor.INHIBITORY) / conv.units_for(Receptor.EXCITATORY)
    du_e, du_i = conv.params.du[0] + 1, conv.params.du_dendrite[0] + 1
    assert ratio == pytest.approx(10.0 * du_i / (5.0 * du_e))
    same = convert_population(_population(tau_syn_E=5.0, tau_syn_I=5.0001), 1.0)
    assert same.compartments == 1 and same.params.du_dendrite is None


def test_varying_membrane_capacitance_is_refused() -> None:
    with pytest.raises(LoihiNumericsError, match=r"Population 'exc' parameter cm varies "
                       r"between 0\.5 and 1; .* split the population by cm"):
        convert_population(_population(size=2, cm=[0.5, 1.0]), 1.0)


def test_refractory_period_beyond_63_steps_is_refused() -> None:
    with pytest.raises(LoihiNumericsError, match=r"tau_refrac\[0\] = 10 ms is 100 steps of "
                       r"dt = 0\.1 ms; Loihi's refractory delay is at most 63 steps"):
        convert_population(_population(tau_refrac=10.0), 0.1)


@pytest.mark.parametrize(("v_rest", "v_reset", "dt"), [
    (-65.0, -65.0, 0.1), (-65.0, -70.0, 0.1), (-60.0, -70.0, 1.0)])
def test_dc_driven_firing_period_matches_the_analytic_lif(v_rest: float, v_reset: float,
                                                          dt: float) -> None:
    tau_m, cm, i_offset, v_thresh, tau_refrac = 20.0, 1.0, 1.0, -50.0, 2.0
    pop = _population(tau_m=tau_m, cm=cm, i_offset=i_offset, v_thresh=v_thresh,
                      v_rest=v_rest, v_reset=v_reset, tau_refrac=tau_refrac)
    conv = convert_population(pop, dt)
    lif = LifCompartments(conv.params, conv.u0, conv.v0)
    v_inf = v_rest + tau_m / cm * i_offset
    # the 12-bit dv cannot hit tau_m exactly (2 % off at dt = 0.1 ms); the conversion
    # reports the time constant it realised, and the period must follow it
    tau_real = conv.report["dv_tau_m_ms"]
    assert tau_real == pytest.approx(tau_m, rel=0.025)
    expected_ms = tau_real * math.log((v_inf - v_reset) / (v_inf - v_thresh)) + tau_refrac
    steps = [t for t in range(int(12 * expected_ms / dt)) if lif.step(None).size]
    period_ms = float(np.mean(np.diff(steps))) * dt
    # up to one step of threshold-crossing delay each period
    assert expected_ms - 0.01 <= period_ms <= expected_ms + dt + 0.01


@pytest.mark.parametrize(("dt", "tolerance"), [(1.0, 0.01), (0.1, 0.03)])
def test_psp_matches_the_float_reference(dt: float, tolerance: float) -> None:
    pop = Population("n", "IF_curr_exp", 1, {"v_thresh": -40.0})
    net = Network(
        dt=dt, populations=(pop,), sources=(ArraySource.from_lists("in", [[10.0]]),),
        projections=(Projection("p", "in", "n", [0], [0], [0.5], [dt]),),
        recordings=(Recording("n", "v", [0]),))
    peaks = {}
    for name, numerics in (("reference", None), ("loihi", LoihiNumerics())):
        sim = Engine(net, numerics=numerics)
        sim.run_until(80.0)
        v = sim.result().signals[("n", "v")].values[:, 0]
        peaks[name] = float(v.max()) + 65.0
    assert peaks["loihi"] == pytest.approx(peaks["reference"], rel=tolerance)


def _random_projection(rng: np.random.Generator, pre: str, post: str, n_pre: int,
                       n_post: int, weight: float) -> Projection:
    density = 0.2 if pre == "noise" else 0.1
    post_i, pre_i = np.nonzero(rng.random((n_post, n_pre)) < density)
    return Projection(f"{pre}-{post}", pre, post, pre_i, post_i,
                      np.full(pre_i.size, weight), np.full(pre_i.size, 1.0))


def test_recurrent_network_rates_stay_close_to_the_float_reference() -> None:
    # an E/I network driven by Poisson noise: quantised decays, thresholds and weights
    # move population rates by a few percent, not more
    rng = np.random.default_rng(3)
    sizes = {"exc": 200, "inh": 50, "noise": 100}
    weights = {("noise", "exc"): 0.35, ("noise", "inh"): 0.35, ("exc", "exc"): 0.1,
               ("exc", "inh"): 0.1, ("inh", "exc"): -0.4, ("inh", "inh"): -0.4}
    net = Network(
        dt=1.0,
        populations=tuple(Population(label, "IF_curr_exp", sizes[label], {"tau_refrac": 2.0})
                          for label in ("exc", "inh")),
        sources=(PoissonSource("noise", 100, np.full(100, 20.0), np.zeros(100),
                               np.full(100, np.inf), seed=1),),
        projections=tuple(_random_projection(rng, pre, post, sizes[pre], sizes[post], w)
                          for (pre, post), w in weights.items()),
        recordings=tuple(Recording(label, "spikes", np.arange(sizes[label]))
                         for label in ("exc", "inh")),
    )
    results = {}
    for name, numerics in (("reference", None), ("loihi", LoihiNumerics())):
        sim = Engine(net, numerics=numerics, target=name)
        sim.run_until(1000.0)
        results[name] = sim.result()
    report = compare(results["reference"], results["loihi"])
    for label in ("exc", "inh"):
        dev = report.population(label)
        assert dev.rate_ref > 5.0, f"{label}: the reference is nearly silent"
        assert abs(dev.rate_error) < 0.1, report.to_markdown()


def test_weight_conversion_reports_zeroed_and_saturated_weights() -> None:
    units_per_na = 64.0  # one mantissa unit per nA at weight_exp = 0
    w = np.array([100.0, 50.0, 0.2, 0.0, -30.0])
    conv = convert_weights("ee", w, units_per_na)
    assert conv.sign_mode is SignMode.MIXED
    assert conv.weight_exp == 0
    assert conv.mantissas.tolist() == [100, 50, 0, 0, -30]
    assert (conv.n_zeroed, conv.n_saturated) == (1, 0)
    forced = convert_weights("ee", w, units_per_na, weight_exp=-8)
    # at 2^-8 a mantissa unit is 1/256 nA: 100, 50 and -30 nA are far beyond 255
    assert forced.n_saturated == 3
    big = convert_weights("ee", np.array([1000.0, 3.0]), units_per_na)
    assert big.weight_exp == 2  # 1000 / 4 = 250 fits 0..255
    assert big.mantissas.tolist() == [250, 1]
    assert big.max_rel_error == pytest.approx(abs(4.0 - 3.0) / 3.0)


def test_mixed_sign_weights_lose_one_bit() -> None:
    units_per_na = 64.0
    one_sign = convert_weights("ee", np.array([201.0, 3.0]), units_per_na)
    mixed = convert_weights("ei", np.array([201.0, -3.0]), units_per_na)
    assert one_sign.mantissas.tolist() == [201, 3]
    assert mixed.mantissas.tolist() == [200, -4]  # even mantissas only


# ---------------------------------------------------------------------------- engine plug-in


def test_kernel_reads_and_writes_state_in_ir_units() -> None:
    pop = _population(size=3, v_rest=-65.0, v_reset=-70.0)
    net = Network(dt=1.0, populations=(pop,))
    sim = Engine(net, numerics=LoihiNumerics(), target="loihi")
    v = np.array([-66.0, -55.5, -70.0])
    sim.set_state("exc", "v", v)
    conv = sim.numerics.populations["exc"]  # type: ignore[attr-defined]
    assert np.allclose(sim.get_state("exc", "v"), v, atol=conv.mv_per_unit)
    with pytest.raises(StateError, match="isyn_inh cannot be set on Loihi"):
        sim.set_state("exc", "isyn_inh", 0.1)


def test_dc_source_drives_like_the_equivalent_i_offset() -> None:
    # an injected current becomes bias, as a host would reprogram it
    spikes = {}
    for name, params, currents in (
            ("offset", {"i_offset": 1.0}, ()),
            ("dc", {}, (DCSource("dc", "n", [0], 1.0),))):
        net = Network(dt=1.0, populations=(Population("n", "IF_curr_exp", 1, params),),
                      currents=currents, recordings=(Recording("n", "spikes", [0]),))
        sim = Engine(net, numerics=LoihiNumerics(), target="loihi")
        sim.run_until(300.0)
        spikes[name] = sim.result().spikes["n"].times
    assert spikes["offset"].size >= 5
    assert spikes["dc"].tolist() == spikes["offset"].tolist()


def test_plastic_projection_runs_on_the_learning_engine() -> None:
    # the learning engine itself is tested in test_learning.py
    pop = _population()
    net = Network(dt=1.0, populations=(pop,), sources=(ArraySource.from_lists("in", [[1.0]]),),
                  projections=(Projection("stdp", "in", "exc", [0], [0], [0.1], [1.0],
                                          plasticity=STDPRule(w_max=0.2)),))
    numerics = LoihiNumerics()
    Engine(net, numerics=numerics).run_until(5.0)
    assert numerics.learning["stdp"].report["tau_plus_ms"] > 0
