"""Pair STDP: the weight change of single pre/post pairs against the analytic rule."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import DT
from toolchain.ir import ArraySource, Network, Population, Projection, Recording, STDPRule
from toolchain.sim.engine import Engine

T_TEACHER = 50.0  # the post neuron fires once, driven by a strong teacher input
PRE_TIMES = [10.0, 30.0, 44.0, 48.9, 49.2, 49.5, 50.3, 51.0, 55.0, 70.0, 90.0]
DELAY = 1.0
W0 = 0.5


def pair_network(rule: STDPRule) -> Network:
    n = len(PRE_TIMES)
    pre = ArraySource.from_lists("pre", [[t] for t in PRE_TIMES])
    teacher = ArraySource.from_lists("teacher", [[T_TEACHER]])
    post = Population("post", "IF_curr_exp", 1, {"tau_refrac": 80.0, "v_thresh": -60.0})
    plastic = Projection("stdp", "pre", "post", np.arange(n), np.zeros(n), np.full(n, W0),
                         np.full(n, DELAY), plasticity=rule)
    drive = Projection("drive", "teacher", "post", [0], [0], [50.0], [DT])
    return Network(populations=(post,), sources=(pre, teacher), projections=(plastic, drive),
                   recordings=(Recording("post", "spikes", [0]),))


def run_pairs(rule: STDPRule) -> tuple[np.ndarray, np.ndarray, Engine]:
    sim = Engine(pair_network(rule))
    sim.run_until(120.0)
    res = sim.result()
    post_spikes = res.spikes["post"].times
    assert post_spikes.size == 1, "the teacher should make the post neuron fire exactly once"
    # all delay is axonal: the pre spike meets the synapse round(d/dt) steps after its step
    arrival = (np.rint(np.array(PRE_TIMES) / DT) + np.rint(DELAY / DT)) * DT
    return post_spikes[0] - arrival, res.weights["stdp"], sim


def test_additive_pair_rule() -> None:
    rule = STDPRule(tau_plus=15.0, tau_minus=25.0, A_plus=0.02, A_minus=0.03, w_min=0.0,
                    w_max=1.0)
    dt_pair, w, _ = run_pairs(rule)
    # a pair meeting in the same step counts as pre-before-post (Brian2 runs pre first)
    expected = np.where(dt_pair >= 0, rule.A_plus * rule.w_max * np.exp(-dt_pair / 15.0),
                        -rule.A_minus * rule.w_max * np.exp(dt_pair / 25.0))
    assert (dt_pair > 0).any() and (dt_pair < 0).any() and (np.abs(dt_pair) < 1e-9).any()
    np.testing.assert_allclose(w - W0, expected, rtol=1e-9, atol=1e-15)


def test_multiplicative_pair_rule() -> None:
    rule = STDPRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.1, A_minus=0.2, w_min=0.1,
                    w_max=0.9, weight_dependence="multiplicative")
    dt_pair, w, _ = run_pairs(rule)
    expected = np.where(dt_pair >= 0, 0.1 * (0.9 - W0) * np.exp(-dt_pair / 20.0),
                        -0.2 * (W0 - 0.1) * np.exp(dt_pair / 20.0))
    np.testing.assert_allclose(w - W0, expected, rtol=1e-9, atol=1e-15)


def test_all_to_all_pairing_and_bounds() -> None:
    # three pre spikes before one post spike: each pair adds its own potentiation
    rule = STDPRule(tau_plus=10.0, A_plus=0.05, A_minus=0.0, w_max=0.01)
    pre = ArraySource.from_lists("pre", [[40.0, 44.0, 47.0], [40.0, 44.0, 47.0]])
    teacher = ArraySource.from_lists("teacher", [[T_TEACHER]])
    post = Population("post", "IF_curr_exp", 1, {"tau_refrac": 80.0, "v_thresh": -60.0})
    net = Network(populations=(post,), sources=(pre, teacher), projections=(
        Projection("stdp", "pre", "post", [0, 1], [0, 0], [0.002, 0.0099], [DT, DT],
                   plasticity=rule),
        Projection("drive", "teacher", "post", [0], [0], [50.0], [DT])),
        recordings=(Recording("post", "spikes", [0]),))
    sim = Engine(net)
    sim.run_until(60.0)
    res = sim.result()
    t_post = res.spikes["post"].times[0]
    arrivals = np.array([40.0, 44.0, 47.0]) + DT
    assert t_post > arrivals[-1]
    gain = 0.05 * 0.01 * np.sum(np.exp(-(t_post - arrivals) / 10.0))
    w0 = float(net.projections[0].weight[0])  # the IR keeps weights as float32
    assert res.weights["stdp"][0] == pytest.approx(w0 + gain, rel=1e-12)
    assert res.weights["stdp"][1] == 0.01  # clipped at w_max
    # learnt weights survive reset, traces do not
    sim.reset()
    np.testing.assert_array_equal(sim.weights("stdp"), res.weights["stdp"])


def test_each_synapse_learns_from_its_own_axonal_delay() -> None:
    rule = STDPRule(tau_plus=10.0, tau_minus=10.0, A_plus=0.1, A_minus=0.1, w_max=0.01)
    delays = [1.0, 3.0, 6.0]  # one pre spike reaches three synapses at three times
    pre = ArraySource.from_lists("pre", [[45.0]])
    teacher = ArraySource.from_lists("teacher", [[T_TEACHER]])
    post = Population("post", "IF_curr_exp", 1, {"tau_refrac": 80.0, "v_thresh": -60.0})
    net = Network(populations=(post,), sources=(pre, teacher), projections=(
        Projection("stdp", "pre", "post", [0, 0, 0], [0, 0, 0], [0.005] * 3, delays,
                   plasticity=rule),
        Projection("drive", "teacher", "post", [0], [0], [50.0], [DT])),
        recordings=(Recording("post", "spikes", [0]),))
    sim = Engine(net)
    sim.run_until(70.0)
    res = sim.result()
    t_post = res.spikes["post"].times[0]
    lag = t_post - (45.0 + np.array(delays))
    assert (lag > 0).any() and (lag < 0).any()
    w0 = float(net.projections[0].weight[0])
    expected = np.where(lag >= 0, 0.1 * 0.01 * np.exp(-lag / 10.0),
                        -0.1 * 0.01 * np.exp(lag / 10.0))
    np.testing.assert_allclose(res.weights["stdp"] - w0, expected, rtol=1e-9, atol=1e-15)
