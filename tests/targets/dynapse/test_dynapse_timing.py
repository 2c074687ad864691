"""DYNAP-SE routing timing: R1/R2/R3 latency by route, and the arbiter queue that makes a
burst of spikes from one core arrive one handshake apart."""

import numpy as np
import pytest

from toolchain.sim.interconnect import DROPPED
from toolchain.targets.dynapse.spec import DynapseSpec
from toolchain.targets.dynapse.timing import MAX_EXTRA_STEPS, RoutingDelays, route_latency


def test_latency_grows_with_the_routers_a_spike_crosses():
    spec = DynapseSpec()
    # same core, other core same chip, chip (1,0), chip (1,1), host
    lat, hops = route_latency(spec, np.array([0, 0, 0, 0, -1]), np.array([0, 1, 4, 12, 0]))
    np.testing.assert_array_equal(hops, [0, 0, 1, 2, 0])
    np.testing.assert_allclose(lat, [
        spec.latency_r1,
        spec.latency_r1 + spec.latency_r2,
        spec.latency_r1 + spec.latency_r2 + spec.latency_r3_hop,
        spec.latency_r1 + spec.latency_r2 + 2 * spec.latency_r3_hop,
        spec.latency_r1 + spec.latency_r2 + spec.host_input_latency,
    ])


def make(spec, n=8, latency_ns=0.0, dt=0.1):
    rd = RoutingDelays(spec, dt, {"p": np.full(n, latency_ns)}, {"p": "pop"},
                       {"pop": np.zeros(n, dtype=np.int64)})
    return rd


def test_a_burst_queues_at_its_cores_arbiter_and_spills_into_later_steps():
    # a 30 us handshake: 8 simultaneous spikes leave at 30, 60, ..., 240 us
    spec = DynapseSpec(arbitration_cycle=30_000.0)
    rd = make(spec)
    extra = rd.route(0, "p", np.arange(8))
    departures = 30_000.0 * np.arange(1, 9)
    np.testing.assert_array_equal(extra, np.maximum(np.ceil(departures / 1e5) - 1, 0))
    assert rd.stats["queue_wait_ns_max"] == pytest.approx(240_000.0)
    # the latency statistic is queueing plus routers, not the time within the step
    assert rd.stats["route_latency_ns_max"] == pytest.approx(240_000.0)
    assert rd.stats["route_latency_ns_sum"] == pytest.approx(departures.sum())
    # the queue persists: a spike in the next step waits for the backlog
    again = rd.route(1, "p", np.array([0]))
    assert again[0] == 1  # leaves at 270 us, 170 us into step 1: one step late
    rd.reset()
    assert rd.route(0, "p", np.array([0]))[0] == 0


def test_one_spike_is_queued_once_however_many_projections_it_feeds():
    spec = DynapseSpec(arbitration_cycle=30_000.0)
    rd = RoutingDelays(spec, 0.1, {"a": np.zeros(4), "b": np.zeros(4)},
                       {"a": "pop", "b": "pop"}, {"pop": np.zeros(4, dtype=np.int64)})
    first = rd.route(0, "a", np.arange(4))
    second = rd.route(0, "b", np.arange(4))
    np.testing.assert_array_equal(first, second)


def test_spikes_stuck_beyond_the_fifo_bound_are_dropped():
    spec = DynapseSpec(arbitration_cycle=1e6)  # 1 ms per handshake
    rd = make(spec, n=3)
    extra = rd.route(0, "p", np.arange(3))
    assert extra[0] == 9  # leaves after 1 ms: ten 0.1 ms steps
    assert np.all(extra[1:] == DROPPED)
    assert MAX_EXTRA_STEPS < 20
