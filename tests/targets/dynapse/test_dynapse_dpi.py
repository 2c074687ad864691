"""The DPI neuron/synapse model: its mapping from IF_curr_exp, its discretisation, the
leakage floor that makes it differ from LIF, and seeded device mismatch."""

import numpy as np
import pytest

from toolchain.ir import CellType, Population, Receptor
from toolchain.sim.kernels import CurrExpKernel
from toolchain.targets.dynapse.numerics.dpi import (
    LEAK_FLOOR_PA,
    THRESHOLD_SPAN_PA,
    DPIKernel,
    apply_mismatch,
    map_population,
)

DT = 0.1


def run_counts(kernel, steps):
    counts = np.zeros(kernel.size, dtype=int)
    for s in range(steps):
        counts[kernel.advance(s, None)] += 1
    return counts


def test_mapping_reproduces_if_curr_exp_firing_under_dc_drive():
    pop = Population("p", CellType.IF_CURR_EXP, 4,
                     parameters={"i_offset": [0.5, 1.0, 2.0, 3.0], "tau_refrac": 2.0})
    ref = run_counts(CurrExpKernel(pop, DT), 2000)
    dpi = run_counts(DPIKernel(pop, DT, map_population(pop, delta_t=0.0)), 2000)
    assert ref[0] == 0 and dpi[0] == 0  # 0.5 nA * 20 MOhm = 10 mV: below threshold
    # the linear regime of the DPI is the LIF: the same rates up to spike-time resolution
    np.testing.assert_allclose(dpi, ref, atol=1)
    assert ref[1:].min() > 5


def test_mapped_threshold_and_state_readback():
    pop = Population("p", CellType.IF_CURR_EXP, 1, parameters={"v_rest": -70.0,
                                                              "v_thresh": -50.0,
                                                              "v_reset": -60.0})
    params = map_population(pop)
    np.testing.assert_allclose(params.kappa, THRESHOLD_SPAN_PA / 20.0)
    np.testing.assert_allclose(params.i_spk - params.i_floor, THRESHOLD_SPAN_PA)
    np.testing.assert_allclose(params.i_reset - params.i_floor, THRESHOLD_SPAN_PA / 2)
    k = DPIKernel(pop, DT, params)
    k.set("v", -55.0)
    np.testing.assert_allclose(k.get("v"), -55.0)
    k.set("isyn_exc", 0.25)
    np.testing.assert_allclose(k.get("isyn_exc"), 0.25)


def test_inhibition_stops_at_the_leakage_floor_unlike_lif():
    pop = Population("p", CellType.IF_CURR_EXP, 1)
    ref, dpi = CurrExpKernel(pop, DT), DPIKernel(pop, DT, map_population(pop))
    for k in (ref, dpi):
        k.receive(Receptor.INHIBITORY, np.array([-5.0]))
    for s in range(50):
        ref.advance(s, None)
        dpi.advance(s, None)
    assert ref.get("v")[0] < -70.0  # the LIF hyperpolarises well below rest
    assert dpi.get("v")[0] == pytest.approx(-65.0)  # the DPI current cannot go below I_0
    assert dpi.i_mem[0] == pytest.approx(LEAK_FLOOR_PA)


def test_fine_internal_step_and_subs_step_spike_times():
    pop = Population("p", CellType.IF_CURR_EXP, 1, parameters={"i_offset": 2.0})
    k = DPIKernel(pop, DT, map_population(pop), max_substep=0.02)
    assert k.substeps == 5 and k.h == pytest.approx(0.02)
    offsets = []
    for s in range(2000):
        if k.advance(s, None).size:
            offsets.append(k.spike_offsets[0])
    # spikes land anywhere inside the step, not on the step grid
    assert len(set(np.round(offsets, 6))) > 1
    assert all(0 < o <= DT + 1e-12 for o in offsets)


def test_mismatch_is_seeded_and_has_the_requested_spread():
    pop = Population("p", CellType.IF_CURR_EXP, 4000)
    base = map_population(pop)
    a = apply_mismatch(base, 0.15, seed=1, label="p")
    b = apply_mismatch(base, 0.15, seed=1, label="p")
    c = apply_mismatch(base, 0.15, seed=2, label="p")
    np.testing.assert_array_equal(a.tau_mem, b.tau_mem)
    assert not np.array_equal(a.tau_mem, c.tau_mem)
    rel = a.tau_mem / base.tau_mem
    assert rel.std() == pytest.approx(0.15, rel=0.1)
    assert rel.mean() == pytest.approx(1.0, abs=0.02)
    assert np.all(a.i_spk > a.i_floor) and np.all(a.i_reset < a.i_spk)
    assert apply_mismatch(base, 0.0, seed=1, label="p") is base


def test_rest_above_threshold_becomes_a_dc_bias_as_in_va_cuba():
    # VA-CUBA: v_rest -49 mV above v_thresh -50 mV, reset -60 mV: the neuron fires alone
    pop = Population("q", CellType.IF_CURR_EXP, 1, parameters={
        "v_rest": -49.0, "v_thresh": -50.0, "v_reset": -60.0, "tau_refrac": 5.0})
    params = map_population(pop, delta_t=0.0)
    np.testing.assert_allclose(params.i_dc, THRESHOLD_SPAN_PA * 11 / 10)
    ref = run_counts(CurrExpKernel(pop, DT), 2500)
    dpi = run_counts(DPIKernel(pop, DT, params), 2500)
    # it starts at rest, above threshold: a spike at once, then one per reset-to-threshold
    # climb of 20 ln((-49 + 60) / (-49 + 50)) ms plus 5 ms refractory
    period = 20 * np.log(11.0) + 5.0
    assert abs(ref[0] - (1 + 250 // period)) <= 1
    np.testing.assert_allclose(dpi, ref, atol=1)
