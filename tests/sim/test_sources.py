"""Spike sources (Poisson realisation, arrays) and injected currents."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import DT, run, single_neuron, trace
from toolchain.ir import (
    ArraySource,
    DCSource,
    GammaSource,
    Network,
    PoissonSource,
    Population,
    Recording,
    StepCurrentSource,
)
from toolchain.sim.clock import event_step
from toolchain.sim.engine import Engine
from toolchain.sim.sources import (
    POISSON_WINDOW_MS,
    CurrentSchedule,
    SourceSpikes,
    poisson_times,
    poisson_window_ms,
)


def poisson(rate: float = 20.0, size: int = 200, seed: int = 3, label: str = "p",
            start: float = 0.0, duration: float = np.inf) -> PoissonSource:
    return PoissonSource(label, size, rate=rate, start=start, duration=duration, seed=seed)


def test_poisson_realisation_is_deterministic_and_seeded() -> None:
    a = poisson_times(poisson(), 7, 0.0, 500.0)
    b = poisson_times(poisson(), 7, 0.0, 500.0)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    for other in (poisson_times(poisson(), 8, 0.0, 500.0),          # network seed
                  poisson_times(poisson(seed=4), 7, 0.0, 500.0),    # source seed
                  poisson_times(poisson(label="q"), 7, 0.0, 500.0)):  # label
        assert other[0].size != a[0].size or not np.array_equal(other[0], a[0])


def test_poisson_statistics() -> None:
    rate, size, t_stop = 20.0, 400, 3000.0
    times, senders = poisson_times(poisson(rate, size), 1, 0.0, t_stop)
    expected = rate * size * t_stop / 1000.0
    assert abs(times.size - expected) < 5 * np.sqrt(expected)
    assert np.all(np.diff(times) >= 0) and times.min() >= 0 and times.max() < t_stop
    isis = np.concatenate([np.diff(times[senders == i]) for i in range(size)])
    assert np.mean(isis) == pytest.approx(1000.0 / rate, rel=0.05)
    assert np.std(isis) / np.mean(isis) == pytest.approx(1.0, abs=0.05)  # exponential: CV = 1


def test_poisson_does_not_depend_on_how_time_is_split() -> None:
    src = poisson(50.0, 30)
    whole = poisson_times(src, 2, 0.0, 2500.0)
    parts = [poisson_times(src, 2, a, b) for a, b in ((0.0, 700.0), (700.0, 1000.0),
                                                       (1000.0, 2500.0))]
    np.testing.assert_array_equal(whole[0], np.concatenate([p[0] for p in parts]))
    np.testing.assert_array_equal(whole[1], np.concatenate([p[1] for p in parts]))


def test_poisson_start_and_duration_per_neuron() -> None:
    src = PoissonSource("p", 3, rate=200.0, start=[0.0, 100.0, 300.0],
                        duration=[50.0, np.inf, 100.0], seed=1)
    times, senders = poisson_times(src, 0, 0.0, 1500.0)
    for i, (lo, hi) in enumerate([(0.0, 50.0), (100.0, 1500.0), (300.0, 400.0)]):
        t = times[senders == i]
        assert t.size > 0.5 * 200.0 * (hi - lo) / 1000.0
        assert t.min() >= lo and t.max() < hi


@pytest.mark.parametrize(("rate", "size", "t_stop"), [(300.0, 20, 2500.0), (20000.0, 1500, 60.0)])
def test_source_spikes_per_step_are_the_binned_times(rate: float, size: int,
                                                     t_stop: float) -> None:
    src = poisson(rate, size)
    window = poisson_window_ms(src)
    # fast sources get shorter windows (a bounded draw), slow ones the standard length
    assert window == (POISSON_WINDOW_MS if rate < 256 else 256 * 1000.0 / rate)
    steps = int(t_stop / DT)
    spikes = SourceSpikes(src, 5, DT)
    per_step = [spikes.at(k) for k in range(steps)]
    times, senders = poisson_times(src, 5, 0.0, t_stop - 1e-3 * DT)
    binned = event_step(times, DT)
    edge = int(window / DT)
    for k in (0, 1, edge - 1, edge, edge + 1, steps - 1):  # around a window edge
        np.testing.assert_array_equal(np.sort(per_step[k]), np.sort(senders[binned == k]))
    assert sum(s.size for s in per_step) == times.size
    expected = rate * size * t_stop / 1000.0
    assert abs(times.size - expected) < 5 * np.sqrt(expected)
    # blocks of neurons are drawn from their own seeds: every neuron fires
    assert np.unique(senders).size == size


def test_array_source_binning_and_repeats() -> None:
    src = ArraySource.from_lists("a", [[0.1, 0.15, 2.0], [0.3]])
    spikes = SourceSpikes(src, 0, DT)
    # 0.1 and 0.15 share step 1 (a neuron may fire twice in one step)
    assert sorted(spikes.at(1).tolist()) == [0, 0]
    assert spikes.at(3).tolist() == [1]
    assert spikes.at(20).tolist() == [0]
    assert spikes.at(2).size == 0


def test_engine_poisson_input_is_segmentation_invariant() -> None:
    pop = Population("n", "IF_curr_exp", 20, {"tau_refrac": 1.0})
    src = poisson(400.0, 10)
    from toolchain.ir import Projection

    rng = np.random.default_rng(0)
    pre, post = np.nonzero(rng.random((10, 20)) < 0.5)
    net = Network(
        populations=(pop,), sources=(src,),
        projections=(Projection("in", "p", "n", pre, post, np.full(pre.size, 2.0),
                                np.full(pre.size, 1.0)),),
        recordings=(Recording("n", "spikes", np.arange(20)), Recording("n", "v", [0, 5]),
                    Recording("p", "spikes", np.arange(10))), seed=11)
    whole = Engine(net)
    whole.run_until(200.0)
    split = Engine(net)
    split.run_until(100.0)
    split.run_until(100.0)  # a no-op: already there
    split.run(100.0)
    a, b = whole.result(), split.result()
    assert a.spikes["n"].count > 10
    for label in ("n", "p"):
        np.testing.assert_array_equal(a.spikes[label].times, b.spikes[label].times)
        np.testing.assert_array_equal(a.spikes[label].senders, b.spikes[label].senders)
    np.testing.assert_array_equal(a.signals[("n", "v")].values, b.signals[("n", "v")].values)
    whole.reset()
    whole.run_until(200.0)
    np.testing.assert_array_equal(whole.result().spikes["n"].times, a.spikes["n"].times)


def test_dc_source_switches_on_and_off_at_the_nearest_step() -> None:
    p = {"v_thresh": 100.0, "tau_m": 10.0, "cm": 0.5, "v_rest": -65.0}
    sim = run(single_neuron(params=p, dc=(0.3, 10.04, 30.0)), 50.0)
    t, v = trace(sim)
    v_inf = 0.3 * 10.0 / 0.5

    def charge(s: np.ndarray) -> np.ndarray:
        return v_inf * (1 - np.exp(-np.maximum(s, 0.0) / 10.0))

    on, off = 10.0, 30.0  # 10.04 ms switches in the step starting at 10.0 ms
    expected = charge(t - on) - np.where(t > off, charge(t - off), 0.0)
    np.testing.assert_allclose(v, -65.0 + expected, atol=1e-9)


def test_step_current_and_overlapping_sources_add_up() -> None:
    pop = Population("n", "IF_curr_exp", 3)
    net = Network(populations=(pop,), currents=(
        StepCurrentSource("s", "n", [0, 2], times=[1.0, 2.0, 3.0], amplitudes=[0.5, -0.2, 0.0]),
        DCSource("d", "n", [2], 0.1, start=1.5, stop=2.5)))
    sched = CurrentSchedule(net, DT)
    seen = {}
    for k in range(40):
        sched.advance_to(k)
        seen[k] = sched.current["n"].copy()
    np.testing.assert_allclose(seen[9], [0, 0, 0])
    np.testing.assert_allclose(seen[10], [0.5, 0, 0.5])
    np.testing.assert_allclose(seen[15], [0.5, 0, 0.6])
    np.testing.assert_allclose(seen[20], [-0.2, 0, -0.1])
    np.testing.assert_allclose(seen[25], [-0.2, 0, -0.2])
    np.testing.assert_allclose(seen[30], [0, 0, 0], atol=1e-15)


@pytest.mark.parametrize("kind", ["poisson", "fast-poisson", "gamma", "array"])
def test_spikes_between_two_steps_are_those_of_each_step_in_order(kind: str) -> None:
    """SourceSpikes.between (the compiled loop's many steps at once) gives every step's
    spikes in the order at() gives them, across window edges and for any split."""
    if kind == "array":
        src = ArraySource.from_lists("a", [[0.1, 0.15, 2.0, 250.0], [0.3, 0.31, 99.99]])
    elif kind == "gamma":
        src = GammaSource("g", 30, np.full(30, 2.0), np.full(30, 200.0), np.zeros(30),
                          np.full(30, np.inf), seed=4)
    else:
        src = poisson(20000.0 if kind == "fast-poisson" else 300.0, 40)
    one, many = SourceSpikes(src, 5, DT), SourceSpikes(src, 5, DT)
    steps = 3000
    expected = [one.at(k) for k in range(steps)]
    got_steps, got = [], []
    for k0, k1 in ((0, 7), (7, 1280), (1280, 1281), (1281, steps)):
        s, senders = many.between(k0, k1)
        assert np.all((s >= k0) & (s < k1)) and np.all(np.diff(s) >= 0)
        got_steps.append(s)
        got.append(senders)
    s, senders = np.concatenate(got_steps), np.concatenate(got)
    assert s.size == sum(e.size for e in expected) >= 7
    bounds = np.searchsorted(s, np.arange(steps + 1))
    for k in range(steps):
        np.testing.assert_array_equal(senders[bounds[k]:bounds[k + 1]], expected[k])


def test_poisson_steps_hold_the_binned_times_neuron_by_neuron() -> None:
    """The per-step realisation (binned as drawn, grouped by a counting sort) holds exactly
    the binned spike times of the time-sorted realisation, per-neuron start and duration
    included, and within a step the spikes come by neuron, a neuron firing twice in a row."""
    src = PoissonSource("p", 2500, rate=np.linspace(50.0, 30000.0, 2500),
                        start=np.linspace(0.0, 20.0, 2500),
                        duration=np.linspace(60.0, 5.0, 2500), seed=9)
    steps = 800
    spikes = SourceSpikes(src, 3, DT)
    times, senders = poisson_times(src, 3, 0.0, steps * DT - 1e-3 * DT)
    binned = event_step(times, DT)
    # a step a window's end falls into holds that window's spikes, then the next one's
    edges = set(event_step(np.arange(1, 20) * poisson_window_ms(src), DT).tolist())
    repeats = 0
    for k in range(steps):
        got = spikes.at(k)
        np.testing.assert_array_equal(np.sort(got), np.sort(senders[binned == k]))
        if k not in edges:
            assert np.all(np.diff(got) >= 0)
        repeats += int(np.sum(np.diff(got) == 0))
    assert repeats > 100  # fast neurons fire more than once within a step
    offsets, chunked = spikes.chunk(100, 700)
    assert offsets.shape == (601,) and offsets[0] == 0 and chunked.dtype == np.int32
    for k in (100, 350, 699):
        np.testing.assert_array_equal(chunked[offsets[k - 100]:offsets[k - 99]], spikes.at(k))
