"""Recording of spikes and sampled state variables."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import DT
from toolchain.ir import DCSource, Network, Population, Recording
from toolchain.sim.engine import Engine
from toolchain.sim.recording import RecordingError


def driven(recordings: tuple[Recording, ...]) -> Network:
    pop = Population("n", "IF_curr_exp", 4, {"tau_refrac": 1.0},
                     {"v": [-65.0, -60.0, -55.0, -51.0]})
    return Network(populations=(pop,), currents=(DCSource("dc", "n", [0, 1, 2, 3], 2.0),),
                   recordings=recordings)


def test_sampling_interval_subsamples_the_every_step_trace() -> None:
    sim = Engine(driven((Recording("n", "v", [0, 1, 2, 3]),)))
    sim.run_until(30.0)
    fine = sim.result().signals[("n", "v")]
    sim2 = Engine(driven((Recording("n", "v", [1, 3], sampling_interval=1.0),)))
    sim2.run_until(30.0)
    coarse = sim2.result().signals[("n", "v")]
    np.testing.assert_allclose(coarse.times, np.arange(31.0))
    np.testing.assert_array_equal(coarse.indices, [1, 3])
    np.testing.assert_array_equal(coarse.values, fine.values[::10][:, [1, 3]])
    assert coarse.unit == "mV"
    assert coarse.values[0].tolist() == [-60.0, -51.0]  # the initial state comes first


def test_two_requests_for_one_variable_are_merged() -> None:
    sim = Engine(driven((Recording("n", "v", [2]), Recording("n", "v", [0]),
                         Recording("n", "spikes", [1]), Recording("n", "spikes", [3]))))
    sim.run_until(20.0)
    res = sim.result()
    np.testing.assert_array_equal(res.signals[("n", "v")].indices, [0, 2])
    spikes = res.spikes["n"]
    assert set(spikes.senders.tolist()) == {1, 3}
    assert spikes.size == 4
    order = np.lexsort((spikes.senders, spikes.times))
    np.testing.assert_array_equal(order, np.arange(spikes.count))  # by time, then neuron
    np.testing.assert_allclose(spikes.times / DT, np.rint(spikes.times / DT), atol=1e-9)
    trains = spikes.trains()
    assert trains[0].size == 0 and trains[1].size > 1


def test_conflicting_or_misaligned_intervals_are_refused() -> None:
    with pytest.raises(RecordingError, match=r"Recording of 'n'.v: sampling_interval 0.25 ms "
                                             r"is not a whole number of timesteps \(dt = 0.1 ms\)"):
        Engine(driven((Recording("n", "v", [0], sampling_interval=0.25),)))
    with pytest.raises(RecordingError, match=r"Recording of 'n'.v: sampled every 10 and every "
                                             r"20 steps by two requests"):
        Engine(driven((Recording("n", "v", [0], sampling_interval=1.0),
                       Recording("n", "v", [1], sampling_interval=2.0))))
