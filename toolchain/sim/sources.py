"""Inputs from outside the network: spike sources and injected currents.

Poisson sources are realised as continuous spike times (exponential inter-spike intervals)
from a seed derived from the network seed, the source's seed and its label, in fixed
windows of absolute time.  The realisation therefore does not depend on the target, on
dt or on how a run is split into segments: every target sees the same input spikes.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable

import numpy as np

from toolchain.ir import ArraySource, DCSource, Network, PoissonSource, StepCurrentSource
from toolchain.sim.clock import EVENT_SHIFT, event_step, nearest_step

# Poisson spike times are drawn window by window and block by block of neurons; windows are
# fixed in absolute time so that segmentation cannot change the spikes.  A window lasts
# POISSON_WINDOW_MS, shortened for fast sources so that a neuron expects at most
# POISSON_SPIKES_PER_WINDOW spikes in it; with blocks of POISSON_BLOCK neurons this bounds the
# memory of one draw (a background source at 16 kHz per neuron would otherwise need
# gigabytes).  Both depend only on the source, so every target realises the same spikes.
POISSON_WINDOW_MS = 1000.0
POISSON_SPIKES_PER_WINDOW = 256
POISSON_BLOCK = 1024


def poisson_window_ms(source: PoissonSource) -> float:
    """Length of the realisation windows of ``source`` (ms)."""
    fastest = float(source.rate.max())
    if fastest * POISSON_WINDOW_MS / 1000.0 <= POISSON_SPIKES_PER_WINDOW:
        return POISSON_WINDOW_MS
    return POISSON_SPIKES_PER_WINDOW * 1000.0 / fastest


def poisson_window(source: PoissonSource, network_seed: int,
                   window: int) -> tuple[np.ndarray, np.ndarray]:
    """Spike times (ms) and senders of ``source`` in window ``window``, sorted by time.

    Each neuron's train restarts at the window's start; a Poisson process has no memory,
    so the concatenation of windows is still a Poisson process.
    """
    length = poisson_window_ms(source)
    t0, t1 = window * length, (window + 1) * length
    label_seed = zlib.crc32(source.label.encode())
    parts = []
    for first in range(0, source.size, POISSON_BLOCK):
        rng = np.random.default_rng([network_seed, source.seed, label_seed, window, first])
        block = np.arange(first, min(first + POISSON_BLOCK, source.size))
        parts.append(_exponential_trains(source, block, t0, t1, rng))
    times = np.concatenate([p[0] for p in parts])
    senders = np.concatenate([p[1] for p in parts])
    order = np.argsort(times, kind="stable")
    return times[order], senders[order]


def _exponential_trains(source: PoissonSource, block: np.ndarray, t0: float, t1: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    start, stop = source.start[block], source.start[block] + source.duration[block]
    active = block[(source.rate[block] > 0) & (start < t1) & (stop > t0)]
    if active.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    scale = 1000.0 / source.rate[active]  # mean ISI in ms
    expected = float((t1 - t0) / scale.min())
    n_draw = int(math.ceil(expected + 6 * math.sqrt(expected) + 8))
    times = t0 + np.cumsum(rng.exponential(1.0, (active.size, n_draw)) * scale[:, None], axis=1)
    while True:  # top up the rare rows that have not yet passed the window's end
        short = np.flatnonzero(times[:, -1] < t1)
        if short.size == 0:
            break
        more = np.full((active.size, n_draw), np.inf)
        more[short] = times[short, -1:] + np.cumsum(
            rng.exponential(1.0, (short.size, n_draw)) * scale[short, None], axis=1)
        times = np.concatenate([times, more], axis=1)
    senders = np.broadcast_to(active[:, None], times.shape)
    begin = source.start[senders]
    keep = (times < t1) & (times >= begin) & (times < begin + source.duration[senders])
    return times[keep], senders[keep].astype(np.int64)


def poisson_times(source: PoissonSource, network_seed: int, t_start: float,
                  t_stop: float) -> tuple[np.ndarray, np.ndarray]:
    """All spike times (ms) and senders of ``source`` in [t_start, t_stop), sorted by time."""
    length = poisson_window_ms(source)
    first = int(t_start // length)
    last = int(math.ceil(t_stop / length))
    parts = [poisson_window(source, network_seed, w) for w in range(first, max(last, first + 1))]
    times = np.concatenate([p[0] for p in parts])
    senders = np.concatenate([p[1] for p in parts])
    keep = (times >= t_start) & (times < t_stop)
    return times[keep], senders[keep]


class SourceSpikes:
    """The spikes a source emits, per step (neuron indices; a neuron may repeat when it
    fires more than once within one step)."""

    def __init__(self, source: PoissonSource | ArraySource, network_seed: int,
                 dt: float) -> None:
        self.source = source
        self.dt = dt
        self._seed = network_seed
        self._windows: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        if isinstance(source, PoissonSource):
            self._window_ms = poisson_window_ms(source)
        if isinstance(source, ArraySource):
            senders = np.repeat(np.arange(source.size), np.diff(source.offsets))
            self._fixed = self._binned(source.times, senders)

    @property
    def size(self) -> int:
        return self.source.size

    def _binned(self, times: np.ndarray, senders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        steps = event_step(times, self.dt)
        order = np.argsort(steps, kind="stable")
        return steps[order], senders[order]

    def _window(self, w: int) -> tuple[np.ndarray, np.ndarray]:
        if w not in self._windows:
            if len(self._windows) > 4:  # runs move forward: keep only recent windows
                self._windows.pop(min(self._windows))
            times, senders = poisson_window(self.source, self._seed, w)
            self._windows[w] = self._binned(times, senders)
        return self._windows[w]

    def at(self, step: int) -> np.ndarray:
        if isinstance(self.source, ArraySource):
            return _select(step, *self._fixed)
        # times binned into `step` lie in [(step - shift) dt, (step + 1 - shift) dt)
        lo = max(int(((step - EVENT_SHIFT) * self.dt) // self._window_ms), 0)
        hi = int(((step + 1 - EVENT_SHIFT) * self.dt) // self._window_ms)
        if lo == hi:
            return _select(step, *self._window(lo))
        return np.concatenate([_select(step, *self._window(w)) for w in range(lo, hi + 1)])


def _select(step: int, steps: np.ndarray, senders: np.ndarray) -> np.ndarray:
    lo = np.searchsorted(steps, step, "left")
    hi = np.searchsorted(steps, step, "right")
    return senders[lo:hi]


class CurrentSchedule:
    """Injected current per population, changing only at switching steps.

    A source switches in the step nearest to its switching time, as pyNN.brian2 does
    (electrodes.py: ``|t - t_switch| < dt/2``), and holds its amplitude for whole steps.
    Currents of several sources into one neuron add up.
    """

    def __init__(self, network: Network, dt: float) -> None:
        sizes = {p.label: p.size for p in network.populations}
        self._targets = sorted({c.target for c in network.currents})
        self._sizes = sizes
        self._events: dict[int, list[tuple[str, np.ndarray, float]]] = {}
        for cur in network.currents:
            for step, delta in _switches(cur, dt):
                self._events.setdefault(step, []).append((cur.target, cur.indices, delta))
        self.current: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        self.current = {label: np.zeros(self._sizes[label]) for label in self._targets}

    def advance_to(self, step: int) -> None:
        for target, indices, delta in self._events.get(step, ()):
            np.add.at(self.current[target], indices, delta)


def _switches(cur: DCSource | StepCurrentSource, dt: float) -> Iterable[tuple[int, float]]:
    if isinstance(cur, DCSource):
        yield int(nearest_step(cur.start, dt)), cur.amplitude
        if math.isfinite(cur.stop):
            yield int(nearest_step(cur.stop, dt)), -cur.amplitude
        return
    previous = 0.0
    for t, amp in zip(cur.times, cur.amplitudes, strict=True):
        yield int(nearest_step(t, dt)), float(amp) - previous
        previous = float(amp)
