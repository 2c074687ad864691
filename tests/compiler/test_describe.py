"""The mapping facts every target takes from the compiler: activity, synaptic events and
what storing a projection did (one tolerance for rounded delays)."""

import numpy as np
import pytest

from toolchain.compiler.describe import (
    activity,
    delay_steps,
    events_into,
    measured_activity,
    source_rates,
    synaptic_events_per_step,
)
from toolchain.ir import ArraySource, Network, PoissonSource, Population, Projection
from toolchain.sim.results import SimulationResult, SpikeRecord


def fibres(n: int = 10, dt: float = 1.0) -> Network:
    """Ten 100 Hz array-source fibres (spikes at 1, 11, ..., 991 ms) all-to-all onto ten
    cells: a true load of 10 synaptic events per 1 ms step."""
    src = ArraySource.from_lists("fibres", [np.arange(1.0, 1000.0, 10.0)] * n)
    pre, post = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    proj = Projection("in", "fibres", "cells", pre.ravel(), post.ravel(),
                      np.full(n * n, 0.1), np.full(n * n, 1.0))
    return Network(dt=dt, populations=(Population("cells", "IF_curr_exp", n),),
                   sources=(src,), projections=(proj,), label="fibres")


def test_delays_become_whole_steps_and_rounding_is_counted():
    lo, hi, rounded, worst = delay_steps(np.array([0.1, 0.75, 1.0, 1.26], dtype=np.float32),
                                         0.1)
    assert (lo, hi) == (1, 13)
    assert rounded == 2
    assert abs(worst - 0.05) < 1e-5


def test_no_delays_are_one_step_and_nothing_rounded():
    assert delay_steps(np.zeros(0, dtype=np.float32), 0.1) == (1, 1, 0, 0.0)


def test_a_whole_number_of_steps_in_float32_is_not_rounded():
    # 6.2 ms in float32 is 6.19999981 ms: 61.999998 steps of 0.1 ms, i.e. exactly 62
    delay = np.full(16, 6.2, dtype=np.float32)
    assert delay_steps(delay, 0.1) == (62, 62, 0, pytest.approx(0.0, abs=1e-5))
    # a real 0.01 ms off the grid is rounded
    assert delay_steps(np.array([6.21], dtype=np.float32), 0.1)[2] == 1


def test_array_sources_fire_at_the_rate_their_spikes_give():
    src = fibres().sources[0]
    assert source_rates(src) == pytest.approx(np.full(10, 100.0))  # (n-1) / span
    assert source_rates(src, duration_ms=1000.0) == pytest.approx(np.full(10, 100.0))
    assert source_rates(src, duration_ms=500.0) == pytest.approx(np.full(10, 100.0))
    lone = ArraySource.from_lists("one", [[5.0], [], [2.0, 4.0]])
    assert source_rates(lone) == pytest.approx([1000.0 / 5.0, 0.0, 500.0])


def test_poisson_sources_fire_at_their_rate_while_active():
    src = PoissonSource("p", 2, rate=[20.0, 40.0], start=[0.0, 50.0], duration=[np.inf, 25.0])
    assert source_rates(src) == pytest.approx([20.0, 40.0])
    assert source_rates(src, duration_ms=100.0) == pytest.approx([20.0, 10.0])


def test_the_fibre_example_is_ten_events_per_step():
    net = fibres()
    planned = activity(net, rate_hz=10.0)
    assert synaptic_events_per_step(net, planned) == pytest.approx(10.0)
    assert events_into(net, planned)["cells"] == pytest.approx(np.full(10, 1.0))
    # the populations' planned rate does not touch what the sources deliver
    assert synaptic_events_per_step(net, activity(net, rate_hz=50.0)) == pytest.approx(10.0)


def test_measured_activity_takes_the_populations_rates_from_a_run():
    net = fibres()
    spikes = SpikeRecord(np.array([1.0, 2.0, 3.0]), np.array([0, 0, 3]), 10)
    result = SimulationResult("x", 1.0, 100.0, spikes={"cells": spikes},
                              counters={"spikes/cells": 3.0})
    act = measured_activity(net, result)
    assert act.basis == "measured"
    assert act.rates_hz["cells"][[0, 3, 1]] == pytest.approx([20.0, 10.0, 0.0])
    assert act.rates_hz["fibres"] == pytest.approx(np.full(10, 100.0))


def test_synaptic_events_are_the_sum_over_post_neurons_at_any_activity():
    """The network total counts synapses per source; it is the sum of every projection's
    events per post neuron, with sources of different rates (not one rate per node)."""
    from toolchain.compiler.describe import projection_events

    rng = np.random.default_rng(5)
    src = PoissonSource("bg", 40, rate=rng.uniform(1.0, 50.0, 40), start=0.0, duration=np.inf)
    proj = Projection("in", "bg", "cells", rng.integers(0, 40, 3000), rng.integers(0, 25, 3000),
                      np.full(3000, 0.1), np.full(3000, 1.0))
    rec = Projection("rec", "cells", "cells", rng.integers(0, 25, 500),
                     rng.integers(0, 25, 500), np.full(500, 0.1), np.full(500, 1.0))
    net = Network(dt=0.1, populations=(Population("cells", "IF_curr_exp", 25),),
                  sources=(src,), projections=(proj, rec))
    act = activity(net, rate_hz=7.0)
    assert act.uniform("bg") is None
    total = sum(projection_events(net, p, act).sum() for p in net.projections)
    assert synaptic_events_per_step(net, act) == pytest.approx(total, rel=1e-12)
    assert total > 0
