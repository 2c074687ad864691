"""The approximations written once for every target (toolchain.compiler.fit)."""

from __future__ import annotations

import numpy as np
import pytest

from toolchain.compiler.fit import (
    MERGE_RTOL,
    check_policy,
    keep_strongest,
    merge_close,
    merge_parameters,
    shorten_delays,
    spread,
)
from toolchain.ir import Network, Population, Projection


def test_keep_strongest_keeps_the_largest_weights_of_each_neuron_only():
    # neuron 0: 5 inputs over a limit of 3; neuron 1: 2 inputs, under it
    post_a = np.array([0, 0, 0, 1])
    w_a = np.array([0.1, -0.9, 0.5, 0.2])
    post_b = np.array([0, 0, 1])
    w_b = np.array([0.3, 0.05, 0.7])
    kept = keep_strongest(2, [("a", post_a, w_a), ("b", post_b, w_b)], 3)
    np.testing.assert_array_equal(kept.keep["a"], [False, True, True, True])
    np.testing.assert_array_equal(kept.keep["b"], [True, False, True])
    assert (kept.neurons, kept.synapses) == (1, 2)
    assert kept.weight_dropped == pytest.approx((0.1 + 0.05) / (0.1 + 0.9 + 0.5 + 0.3 + 0.05))


def test_keep_strongest_counts_units_of_fan_in_and_breaks_ties_in_order():
    post = np.zeros(4, dtype=int)
    w = np.array([1.0, 1.0, 1.0, 2.0])
    kept = keep_strongest(1, [("p", post, w)], 3, cost=[np.array([1, 1, 1, 2])])
    # the strongest takes 2 units, then the first of the equal ones fits, the rest not
    np.testing.assert_array_equal(kept.keep["p"], [True, False, False, True])
    none = keep_strongest(1, [("p", post, w)], 10)
    assert none.keep["p"].all() and not none.applied


def test_merge_close_merges_within_the_tolerance_only():
    assert spread(np.array([20.0, 20.0])) == 0.0
    assert spread(np.array([19.0, 21.0])) == pytest.approx(0.1)
    np.testing.assert_array_equal(merge_close(np.array([19.5, 20.5])), [20.0, 20.0])
    assert merge_close(np.array([10.0, 20.0])) is None
    assert MERGE_RTOL == 0.1


def test_merge_parameters_records_what_it_merged_and_leaves_far_ones():
    pop = Population("p", "IF_curr_exp", 3, parameters={
        "tau_m": [19.5, 20.0, 20.5], "cm": [0.5, 1.0, 2.0]})
    merged = merge_parameters(pop, ("tau_m", "cm", "tau_syn_E"))
    assert set(merged.merged) == {"tau_m"} and set(merged.too_far) == {"cm"}
    np.testing.assert_array_equal(merged.population.parameters["tau_m"], 20.0)
    np.testing.assert_array_equal(merged.population.parameters["cm"], [0.5, 1.0, 2.0])
    record = merged.approximation("one register")
    assert record.name == "parameters_merged" and record.neurons == 2  # 20.0 kept its value
    assert "tau_m 19.5..20.5 -> 20" in record.detail
    assert merge_parameters(pop, ("tau_syn_E",)).approximation("x") is None


def test_shorten_delays_changes_only_delays_beyond_the_longest():
    a, b = Population("a", "IF_curr_exp", 2), Population("b", "IF_curr_exp", 2)
    net = Network(dt=0.1, populations=(a, b), projections=(
        Projection("slow", "a", "b", [0, 1], [0, 1], [0.1, 0.1], [1.0, 7.0]),
        Projection("fast", "a", "b", [0], [1], [0.1], [0.5])))
    out, applied = shorten_delays(net, 0.1, 62, "loihi")
    np.testing.assert_allclose(out.projections[0].delay, [1.0, 6.2], rtol=1e-6)
    assert out.projections[1] is net.projections[1]
    (record,) = applied
    assert (record.name, record.label, record.synapses, record.limit) == (
        "delays_shortened", "slow", 1, "delay_steps")
    assert "1 delays up to 7 ms became 6.2 ms (62 steps of 0.1 ms" in record.detail
    same, none = shorten_delays(out, 0.1, 62, "loihi")
    assert same is out and none == []


def test_a_fit_policy_is_one_of_two():
    assert check_policy("approximate") == "approximate"
    with pytest.raises(ValueError, match="fit = 'close' is not a fit policy; use one of: "
                                         "strict, approximate"):
        check_policy("close")
