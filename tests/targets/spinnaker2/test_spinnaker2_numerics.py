import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolchain.ir import CellType, Population, Receptor
from toolchain.targets.spinnaker2.numerics import (
    SUPPORTED_CELLS,
    NumericsError,
    S2LIFKernel,
    WordLayout,
    dequantise_weights,
    from_accum,
    mul_accum,
    pe_kernel,
    quantise_weights,
    to_accum,
    weight_frac_bits,
)

LAYOUT = WordLayout.for_pe(250, 16)


def test_word_layout_is_spynnaker_order():
    # weight on top, then delay, synapse type, neuron index (synapse_row.h)
    assert (LAYOUT.index_bits, LAYOUT.delay_bits) == (8, 4)
    word = int(LAYOUT.pack([0xABCD], [5], [1], [200])[0])
    assert word >> 16 == 0xABCD
    assert (word >> 9) & 0xF == 5 and (word >> 8) & 1 == 1 and word & 0xFF == 200


@settings(deadline=None)  # the machine is shared: no timing in unit tests
@given(st.lists(st.tuples(st.integers(0, 0xFFFF), st.integers(0, 15), st.integers(0, 1),
                          st.integers(0, 255)), min_size=1, max_size=50))
def test_words_round_trip(fields):
    w, d, t, i = (np.array(c) for c in zip(*fields, strict=True))
    for got, want in zip(LAYOUT.unpack(LAYOUT.pack(w, d, t, i)), (w, d, t, i), strict=True):
        np.testing.assert_array_equal(got, want)


def test_word_field_overflow_names_the_field():
    with pytest.raises(NumericsError, match="field 'delay'\\[1\\] = 16 does not fit in 4 bits"):
        LAYOUT.pack([1, 1], [3, 16], [0, 0], [0, 0])
    with pytest.raises(NumericsError, match="16 bits below its 16-bit weight, but 6 delay \\+ 1 "
                                            "type \\+ 10 index bits = 17 are needed"):
        WordLayout.for_pe(1024, 64)


@pytest.mark.parametrize("largest", [0.001, 0.37, 1.0, 5.0, 300.0])
def test_weight_scale_uses_the_top_bit_for_the_largest_weight(largest):
    fb = weight_frac_bits(largest)
    word = quantise_weights(np.array([largest]), fb, what="p")[0]
    assert 2**15 <= word <= 2**16 - 1
    assert abs(dequantise_weights(word, fb) - largest) <= 2.0 ** -(fb + 1)


def test_too_large_weight_for_the_scale_is_an_error():
    with pytest.raises(NumericsError, match="Projection 'p' weight\\[1\\] = 3 needs 196608 > 65535 "
                                            "at scale 2\\^16"):
        quantise_weights(np.array([0.5, 3.0]), 16, what="Projection 'p'")


def test_accum_arithmetic_and_range():
    a, b = to_accum(1.5, what="x"), to_accum(-2.25, what="y")
    assert from_accum(mul_accum(a, b)) == -3.375
    with pytest.raises(NumericsError, match="x\\[0\\] = 70000 does not fit the s16.15 range"):
        to_accum(np.array([70000.0]), what="x")


def _lif(i_offset: float, numerics: str, n_steps: int = 200) -> tuple[np.ndarray, np.ndarray]:
    pop = Population("p", CellType.IF_CURR_EXP, 1, parameters={"i_offset": i_offset,
                                                              "tau_refrac": 2.0})
    k = S2LIFKernel(pop, 1.0, numerics=numerics,
                    frac_bits={Receptor.EXCITATORY: 15, Receptor.INHIBITORY: 15})
    spikes, vs = [], []
    for step in range(n_steps):
        if k.advance(step, None).size:
            spikes.append(step)
        vs.append(k.get("v")[0])
    return np.array(spikes), np.array(vs)


def test_constant_current_matches_the_closed_form():
    """With a constant current the update is exact: v relaxes to v_rest + R I with
    exp(-dt/tau_m) per tick, so the first spike time is known in closed form."""
    i, r, tau = 1.0, 20.0, 20.0  # nA, MOhm (tau_m / cm), ms
    v_inf, v0 = -65.0 + r * i, -65.0
    first = int(np.ceil(-tau * np.log((v_inf - (-50.0)) / (v_inf - v0))))
    for numerics in ("s16.15", "float32"):
        spikes, vs = _lif(i, numerics)
        # spike in the tick whose end reaches threshold (ticks count from 0)
        assert spikes[0] == first - 1, numerics
        expected_v1 = v_inf + (v0 - v_inf) * np.exp(-1 / tau)
        assert abs(vs[0] - expected_v1) < 1e-3


def test_fixed_point_and_float32_agree_to_quantisation():
    s_fix, v_fix = _lif(0.8, "s16.15")
    s_f32, v_f32 = _lif(0.8, "float32")
    np.testing.assert_array_equal(s_fix, s_f32)
    assert np.max(np.abs(v_fix - v_f32)) < 0.01  # mV; s16.15 lsb is 3e-5 mV


def test_input_scaling_integrates_the_exponential_kernel():
    """A weight w adds w * tau/dt * (1 - exp(-dt/tau)) to the current in its first tick."""
    pop = Population("p", CellType.IF_CURR_EXP, 1, parameters={"tau_syn_E": 5.0})
    k = S2LIFKernel(pop, 1.0, numerics="s16.15",
                    frac_bits={Receptor.EXCITATORY: 10, Receptor.INHIBITORY: 10})
    k.receive(Receptor.EXCITATORY, np.array([2 * 1024]))  # 2 nA at scale 2^10
    k.advance(0, None)
    expected = 2.0 * 5.0 * (1 - np.exp(-0.2)) * np.exp(-0.2)  # added, then decayed once
    assert abs(k.get("isyn_exc")[0] - expected) < 1e-4


@pytest.mark.parametrize("cell_type", list(CellType))
def test_every_cell_type_has_a_pe_kernel_or_is_refused_by_name(cell_type):
    def kernel():
        return pe_kernel(Population("p", cell_type, 2), 1.0, numerics="s16.15",
                         frac_bits={Receptor.EXCITATORY: 15, Receptor.INHIBITORY: 15})
    if cell_type in SUPPORTED_CELLS:
        assert kernel().advance(0, None).size == 0
    else:
        with pytest.raises(NumericsError, match=f"'p': cell type {cell_type.value} "):
            kernel()


@pytest.mark.parametrize("numerics", ["s16.15", "float32"])
def test_alpha_synapses_follow_the_reference_current(numerics):
    """IF_curr_alpha on the PE: the current is PyNN's alpha function at every tick (the
    same peak, in the same tick, within the format), the membrane within 0.15 mV."""
    from toolchain.ir import ArraySource, Network, Population, Projection, Recording
    from toolchain.targets import get_target

    src = ArraySource.from_lists("in", [[5.0, 30.0, 31.0]])
    for tau in (0.5, 2.0):
        cell = Population("c", "IF_curr_alpha", 1, parameters={"tau_syn_E": tau,
                                                               "v_thresh": 0.0})
        net = Network(dt=0.1, populations=(cell,), sources=(src,), projections=(
            Projection("p", "in", "c", [0], [0], [1.0], [1.0]),),
            recordings=(Recording("c", "isyn_exc", [0]), Recording("c", "v", [0])))
        runs = {}
        for name, options in (("reference", {}), ("spinnaker2", {"numerics": numerics})):
            target = get_target(name, **options)
            sim = target.simulator(target.compile(net))
            sim.run_until(60.0)
            res = sim.result()
            runs[name] = (res.signals[("c", "isyn_exc")].values[:, 0],
                          res.signals[("c", "v")].values[:, 0])
        (i_ref, v_ref), (i_pe, v_pe) = runs["reference"], runs["spinnaker2"]
        assert np.argmax(i_pe) == np.argmax(i_ref)
        np.testing.assert_allclose(i_pe, i_ref, atol=2e-3)
        assert np.abs(v_pe - v_ref).max() < 0.15


@pytest.mark.parametrize(("tau_refrac", "dt", "ticks"), [
    (0.1, 1.0, 1), (0.3, 0.1, 3), (2.5, 1.0, 3), (2.0, 1.0, 2), (0.0, 1.0, 0)])
def test_refractory_ticks_are_spynnakers_ceiling(tau_refrac, dt, ticks):
    """sPyNNaker holds a neuron ceil(tau_refrac / dt) ticks (PyNN's default 0.1 ms is one
    tick at a 1 ms tick, not none)."""
    pop = Population("p", CellType.IF_CURR_EXP, 1, {"tau_refrac": tau_refrac})
    kernel = pe_kernel(pop, dt, numerics="s16.15",
                       frac_bits={Receptor.EXCITATORY: 15, Receptor.INHIBITORY: 15})
    assert int(kernel.refract_ticks[0]) == ticks
