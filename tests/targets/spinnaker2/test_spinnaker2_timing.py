import numpy as np

from toolchain.sim.interconnect import DROPPED
from toolchain.targets.spinnaker2.timing import Row, TickTiming

from .helpers import tiny_spec

# 1 MHz and a 1 ms tick: 1000 cycles.  Fixed work 100 + 4 neurons x 100 = 500 cycles, so
# 500 are left for packets; a row of 2 synapses costs 60 + 2 x 20 = 100 cycles.
SPEC = dict(pe_clock_hz=1e6, cycles_per_tick_overhead=100, cycles_per_neuron_update=100,
            cycles_per_packet=60, cycles_per_synaptic_event=20)


def _timing(**changes):
    spec = tiny_spec(**{**SPEC, **changes})
    rows = {name: Row(target=0, stage=stage, via=2 if stage else -1,
                      length=np.full(8, 2), hops=1, via_hops=0)
            for name, stage in (("p", 0), ("delayed", 1))}
    return TickTiming(spec, np.array([4, 0, 0]), rows), spec


def test_packets_beyond_the_budget_are_dropped():
    timing, _ = _timing()
    extra = timing.route(0, "p", np.arange(8))
    np.testing.assert_array_equal(extra, [0] * 5 + [DROPPED] * 3)
    assert timing.route(1, "p", np.arange(2)) is None  # a new tick, a new budget
    c = timing.summary(2, 3)
    assert c["semantic.dropped_packets"] == 3 and c["semantic.dropped_synaptic_events"] == 6
    assert c["physical.synaptic_events"] == 14 and c["physical.packets"] == 10
    # 800 cycles demanded of 500 for packets: (500 + 800) / 1000
    assert c["physical.overrun_pe_ticks"] == 1 and c["physical.max_pe_demand"] == 1.3


def test_deferred_packets_use_the_next_ticks_budget_first():
    timing, _ = _timing(late_spikes="defer")
    assert timing.max_extra_delay == 1
    np.testing.assert_array_equal(timing.route(0, "p", np.arange(8)), [0] * 5 + [1] * 3)
    # tick 1 starts with the 3 deferred packets (300 cycles): 2 new ones still fit
    np.testing.assert_array_equal(timing.route(1, "p", np.arange(4)), [0, 0, 1, 1])
    c = timing.summary(2, 3)
    assert c["semantic.deferred_packets"] == 5 and c["semantic.dropped_packets"] == 0
    assert c["semantic.shifted_synaptic_events"] == 10


def test_delayed_packets_are_charged_when_they_arrive():
    """A stage-1 packet reaches its PE max_delay_ticks (15) ticks later; the delay PE pays
    for receiving it now."""
    timing, spec = _timing()
    assert timing.route(0, "delayed", np.arange(5)) is None  # fills tick 15's budget
    assert timing.route(14, "p", np.arange(5)) is None
    np.testing.assert_array_equal(timing.route(15, "p", np.arange(1)), [DROPPED])
    c = timing.summary(16, 3)
    assert c["physical.hops"] == 11  # 11 packets x 1 hop
    assert c["physical.latency_ns_mean"] == 2 * spec.noc_latency_ns + spec.hop_latency_ns


def test_work_beyond_the_tick_counts_as_overrun_even_without_packets():
    timing, _ = _timing(cycles_per_neuron_update=300)  # 100 + 4 x 300 = 1300 > 1000
    c = timing.summary(10, 3)
    assert c["physical.overrun_pe_ticks"] == 10
    assert c["physical.max_pe_demand"] == 1.3
    assert c["physical.neuron_updates"] == 40
