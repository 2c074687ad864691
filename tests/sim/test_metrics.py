import numpy as np
import pytest

from toolchain.sim.metrics import (
    compare,
    isi_cv,
    spike_disorder,
    van_rossum,
    weight_drift,
)
from toolchain.sim.results import SimulationResult, SpikeRecord


def numeric_van_rossum(a, b, tau, t_end, dt=0.001):
    t = np.arange(0, t_end, dt)

    def filt(train):
        f = np.zeros_like(t)
        for s in train:
            f += np.where(t >= s, np.exp(-(t - s) / tau), 0.0)
        return f

    return np.sqrt(np.sum((filt(a) - filt(b)) ** 2) * dt / tau)


@pytest.mark.parametrize("a, b", [
    ([5.0, 20.0, 21.0], [6.0, 20.5]),
    ([1.0], []),
    ([3.0, 40.0, 41.0, 90.0], [3.0, 40.0, 41.0, 90.0]),
    ([2.0, 7.0], [60.0]),
])
def test_van_rossum_matches_the_integral_definition(a, b):
    a, b = np.array(a), np.array(b)
    expected = numeric_van_rossum(a, b, tau=5.0, t_end=200.0)
    assert van_rossum(a, b, 5.0) == pytest.approx(expected, rel=2e-3, abs=1e-3)


def test_van_rossum_long_trains_use_the_exact_fallback():
    rng = np.random.default_rng(1)
    a = np.sort(rng.uniform(0, 10_000, 200))
    b = np.sort(a + rng.normal(0, 1.0, a.size))
    direct = 0.5 * (np.exp(-np.abs(a[:, None] - a[None]) / 2).sum()
                    + np.exp(-np.abs(b[:, None] - b[None]) / 2).sum()
                    - 2 * np.exp(-np.abs(a[:, None] - b[None]) / 2).sum())
    assert van_rossum(a, b, 2.0) == pytest.approx(np.sqrt(direct), rel=1e-9)


def test_spike_disorder_counts_flipped_adjacent_pairs():
    ref = [np.array([1.0, 10.0]), np.array([2.0, 11.0])]
    same = [np.array([1.5, 10.5]), np.array([2.5, 11.5])]
    assert spike_disorder(ref, same) == 0.0
    # neuron 1's first spike now comes before neuron 0's.  Reference order: 1.0 (n0),
    # 2.0 (n1), 10.0 (n0), 11.0 (n1); target times in that order: 1.0, 0.5, 10.0, 11.0, so
    # the first of the three adjacent pairs flips.
    hw = [np.array([1.0, 10.0]), np.array([0.5, 11.0])]
    assert spike_disorder(ref, hw) == pytest.approx(1 / 3)


def test_isi_cv_of_a_regular_train_is_zero():
    assert isi_cv([np.arange(0, 100, 10.0)]) == pytest.approx(0.0)
    assert np.isnan(isi_cv([np.array([1.0, 2.0])]))


def test_weight_drift():
    assert weight_drift([1.0, 1.0], [1.0, 1.0]) == 0.0
    assert weight_drift([1.0, -1.0], [1.1, -0.9]) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="shape"):
        weight_drift([1.0], [1.0, 2.0])


def result(target, trains, t_stop=1000.0, weights=None, counters=None):
    times = np.concatenate(trains)
    senders = np.concatenate([np.full(len(t), i) for i, t in enumerate(trains)]).astype(int)
    order = np.lexsort((senders, times))
    rec = SpikeRecord(times[order], senders[order], len(trains))
    return SimulationResult(target, 0.1, t_stop, spikes={"exc": rec},
                            weights=weights or {}, counters=counters or {})


def test_compare_reports_rate_error_and_counters():
    ref = result("reference", [np.arange(0, 1000, 100.0), np.arange(5, 1000, 50.0)])
    hw = result("loihi", [np.arange(0, 1000, 100.0), np.arange(5, 1000, 100.0)],
                counters={"spikes_shifted": 3.0, "synaptic_events": 10.0})
    rep = compare(ref, hw)
    p = rep.population("exc")
    assert p.rate_ref == pytest.approx(15.0) and p.rate == pytest.approx(10.0)
    assert p.rate_error == pytest.approx(-1 / 3)
    assert p.isi_distortion_ms == pytest.approx(25.0)  # (0 + 50) / 2
    md = rep.to_markdown()
    assert "-33.33%" in md and "spikes_shifted: 3" in md and "synaptic_events" not in md
