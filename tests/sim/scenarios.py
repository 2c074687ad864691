"""Single-neuron scenarios (cell type, parameters, inputs) that the Brian2 agreement tests
compare with pyNN.brian2 and the compiled-loop tests run on both engine paths: kept apart
from the Brian2 tests so that the compiled-loop tests do not depend on brian2 being
installed."""

from __future__ import annotations

T_STOP = 100.0


COMMON = {"tau_m": 15.0, "cm": 0.8, "v_rest": -65.0, "v_reset": -68.0, "v_thresh": -52.0,
          "tau_refrac": 2.0}
SPIKE_INPUT = [
    ([5.0, 12.0, 12.3, 30.0, 31.0, 32.0, 55.5, 70.0], 3.0, 1.0, "excitatory"),
    ([20.0, 50.0, 52.0], -2.0, 2.5, "inhibitory"),
]
COND_INPUT = [
    ([5.0, 12.0, 12.3, 30.0, 31.0, 32.0, 55.5, 70.0], 0.06, 1.0, "excitatory"),
    ([20.0, 50.0, 52.0], 0.05, 2.5, "inhibitory"),
]
DC = {"params": {**COMMON, "i_offset": 0.1}, "v0": -60.0, "inputs": [], "dc": (1.2, 10.0, 80.0)}

# name -> (cell type, scenario)
SCENARIOS: dict[str, tuple[str, dict]] = {
    "curr_exp_dc": ("IF_curr_exp", DC),
    "curr_alpha_dc": ("IF_curr_alpha", DC),
    "cond_exp_dc": ("IF_cond_exp", DC),
    "curr_exp_spikes": ("IF_curr_exp", {
        "params": {**COMMON, "tau_syn_E": 3.0, "tau_syn_I": 6.0}, "v0": None,
        "inputs": SPIKE_INPUT, "dc": None}),
    # equal time constants: pyNN.brian2 decays both alpha currents with tau_syn_E
    "curr_alpha_spikes": ("IF_curr_alpha", {
        "params": {**COMMON, "tau_syn_E": 2.0, "tau_syn_I": 2.0}, "v0": None,
        "inputs": [(t, 0.6 * w, d, r) for t, w, d, r in SPIKE_INPUT], "dc": None}),
    "cond_exp_spikes": ("IF_cond_exp", {
        "params": {**COMMON, "tau_syn_E": 3.0, "tau_syn_I": 6.0, "e_rev_E": 0.0,
                   "e_rev_I": -75.0}, "v0": None, "inputs": COND_INPUT, "dc": None}),
}
