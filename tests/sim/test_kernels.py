"""Reference neuron kernels against closed-form solutions of their equations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from tests.sim.helpers import DT, run, single_neuron, trace
from toolchain.sim.kernels import StateError, phi1, phi2

QUIET = {"v_thresh": 100.0}  # keeps v below threshold so the sub-threshold path is tested


def test_phi_functions_are_continuous_through_zero() -> None:
    x = np.array([-1e-2, -1e-3 * (1 + 1e-9), -1e-3, 0.0, 1e-3, 1e-3 * (1 + 1e-9), 1e-2])
    exact1 = np.array([math.expm1(v) / v if v else 1.0 for v in x])
    exact2 = np.array([(v * math.exp(v) - math.expm1(v)) / v**2 if v else 0.5 for v in x])
    np.testing.assert_allclose(phi1(x), exact1, rtol=1e-12)
    np.testing.assert_allclose(phi2(x), exact2, rtol=1e-9)


EXACT_DECAY = "exact"
EULER_DECAY = "euler"


@pytest.mark.parametrize(("cell_type", "scheme", "decay"), [
    ("IF_curr_exp", "euler", EXACT_DECAY),
    ("IF_curr_alpha", "euler", EXACT_DECAY),
    ("IF_cond_exp", "mean-conductance", EXACT_DECAY),
    ("IF_cond_exp", "euler", EULER_DECAY),  # Brian2's scheme: exactly (1 - dt/tau_m)^n
])
def test_relaxation_with_offset_current(cell_type: str, scheme: str, decay: str) -> None:
    p = {**QUIET, "tau_m": 15.0, "cm": 0.5, "v_rest": -70.0, "i_offset": 0.4}
    sim = run(single_neuron(cell_type, params=p, v0=-50.0), 40.0, scheme)
    t, v = trace(sim)
    v_inf = p["v_rest"] + p["i_offset"] * p["tau_m"] / p["cm"]
    n = np.rint(t / DT)
    factor = (np.exp(-n * DT / p["tau_m"]) if decay == EXACT_DECAY
              else (1 - DT / p["tau_m"]) ** n)
    np.testing.assert_allclose(v, v_inf + (-50.0 - v_inf) * factor, atol=1e-9)
    assert t[0] == 0.0 and t[-1] == pytest.approx(40.0) and t.size == 401


def _arrival(t_spike: float, delay: float) -> float:
    """When an input reaches the synaptic state: it is binned into its step, waits
    ``delay`` steps and is added at the end of that step (Brian2's schedule)."""
    return (round(t_spike / DT) + round(delay / DT) + 1) * DT


@pytest.mark.parametrize("tau_syn", [5.0, 20.0])  # 20.0 = tau_m: the degenerate case
def test_exponential_psp(tau_syn: float) -> None:
    p = {**QUIET, "tau_m": 20.0, "cm": 0.25, "tau_syn_E": tau_syn, "v_rest": -65.0}
    w = 2.0
    sim = run(single_neuron("IF_curr_exp", params=p, inputs=[([3.0], w, 1.5, "excitatory")],
                            record=("v", "isyn_exc")), 60.0)
    t, v = trace(sim)
    _, i = trace(sim, "isyn_exc")
    s = np.maximum(t - _arrival(3.0, 1.5), 0.0)
    on = t >= _arrival(3.0, 1.5) - 1e-9
    tm, ts = p["tau_m"], tau_syn
    if tau_syn == tm:
        psp = w / p["cm"] * s * np.exp(-s / tm)
    else:
        psp = w / p["cm"] * ts * tm / (ts - tm) * (np.exp(-s / ts) - np.exp(-s / tm))
    np.testing.assert_allclose(v, -65.0 + np.where(on, psp, 0.0), atol=1e-9)
    np.testing.assert_allclose(i, np.where(on, w * np.exp(-s / ts), 0.0), atol=1e-12)


def test_alpha_psp_peaks_at_the_weight_after_tau_syn() -> None:
    p = {**QUIET, "tau_m": 10.0, "cm": 0.5, "tau_syn_E": 2.0, "tau_syn_I": 4.0,
         "v_rest": -60.0}
    w = 1.5
    sim = run(single_neuron("IF_curr_alpha", params=p,
                            inputs=[([2.0], w, 1.0, "excitatory"), ([2.0], -w, 1.0, "inhibitory")],
                            record=("v", "isyn_exc", "isyn_inh")), 50.0)
    t, v = trace(sim)
    s = np.maximum(t - _arrival(2.0, 1.0), 0.0)
    np.testing.assert_allclose(trace(sim, "isyn_exc")[1], w * math.e * s / 2.0 * np.exp(-s / 2.0),
                               atol=1e-12)
    np.testing.assert_allclose(trace(sim, "isyn_inh")[1], -w * math.e * s / 4.0 * np.exp(-s / 4.0),
                               atol=1e-12)
    tm, cm = p["tau_m"], p["cm"]

    def psp(weight: float, ts: float) -> np.ndarray:
        a = 1 / tm - 1 / ts
        integral = (np.exp(a * s) * (a * s - 1) + 1) / a**2  # of u e^(a u) over [0, s]
        return weight * math.e / (cm * ts) * np.exp(-s / tm) * integral

    np.testing.assert_allclose(v, -60.0 + psp(w, 2.0) + psp(-w, 4.0), atol=1e-9)


@pytest.mark.parametrize(("scheme", "tolerance"), [("euler", 0.3), ("mean-conductance", 0.005)])
def test_conductance_psp_matches_a_fine_ode_solution(scheme: str, tolerance: float) -> None:
    p = {**QUIET, "tau_m": 20.0, "cm": 0.2, "tau_syn_E": 3.0, "tau_syn_I": 8.0,
         "v_rest": -65.0, "e_rev_E": 0.0, "e_rev_I": -80.0, "i_offset": 0.1}
    ge0, gi0 = 0.05, 0.08
    sim = run(single_neuron("IF_cond_exp", params=p, inputs=[
        ([1.0], ge0, 0.1, "excitatory"), ([1.0], gi0, 0.1, "inhibitory")]), 40.0, scheme)
    t, v = trace(sim)
    t_a = _arrival(1.0, 0.1)
    v_a = v[np.isclose(t, t_a)][0]

    def rhs(tt: float, y: np.ndarray) -> list[float]:
        ge, gi = ge0 * math.exp(-(tt - t_a) / 3.0), gi0 * math.exp(-(tt - t_a) / 8.0)
        return [((p["v_rest"] - y[0]) / p["tau_m"]
                 + (ge * (0.0 - y[0]) + gi * (-80.0 - y[0]) + p["i_offset"]) / p["cm"])]

    after = t >= t_a
    ref = solve_ivp(rhs, (t_a, 40.0), [v_a], t_eval=t[after], rtol=1e-10, atol=1e-10).y[0]
    # conductances five times the leak: Euler is first order in dt, the mean-conductance
    # scheme second order
    error = np.max(np.abs(v[after] - ref))
    assert 0 < error < tolerance


def test_refractory_clamp_and_regular_firing() -> None:
    p = {"tau_m": 10.0, "cm": 1.0, "v_rest": -65.0, "v_reset": -70.0, "v_thresh": -55.0,
         "tau_refrac": 2.0, "i_offset": 1.5}
    sim = run(single_neuron("IF_curr_exp", params=p, v0=-70.0), 100.0)
    spikes = sim.result().spikes["n"].times
    # closed form: from v_reset the membrane needs n steps to pass threshold
    v_inf = p["v_rest"] + p["i_offset"] * p["tau_m"] / p["cm"]
    steps = np.arange(1, 1000)
    v_n = v_inf + (p["v_reset"] - v_inf) * np.exp(-steps * DT / p["tau_m"])
    n = int(steps[np.argmax(v_n > p["v_thresh"])])
    refrac = round(p["tau_refrac"] / DT)
    assert spikes[0] == pytest.approx((n - 1) * DT)
    np.testing.assert_allclose(np.diff(spikes), (refrac + n - 1) * DT, atol=1e-9)
    t, v = trace(sim)
    k = round(spikes[0] / DT)
    np.testing.assert_allclose(v[k + 1 : k + refrac + 1], p["v_reset"])  # clamped
    assert v[k + refrac + 1] > p["v_reset"]  # integrating again


def test_state_access_names_the_population_and_variable() -> None:
    sim = run(single_neuron("IF_cond_exp"), 1.0)
    with pytest.raises(StateError, match=r"Population 'n': IF_cond_exp has no state "
                                         r"variable 'isyn_exc'; its state variables are: "
                                         r"v, gsyn_exc, gsyn_inh"):
        sim.get_state("n", "isyn_exc")
    with pytest.raises(StateError, match=r"Population 'n' v: expected one value or 1 values, "
                                         r"got shape \(3,\)"):
        sim.set_state("n", "v", [1.0, 2.0, 3.0])
    sim.set_state("n", "v", -52.5)
    assert sim.get_state("n", "v")[0] == -52.5
