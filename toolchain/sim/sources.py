"""Inputs from outside the network: spike sources and injected currents.

Poisson sources are realised as continuous spike times (exponential inter-spike intervals)
from a seed derived from the network seed, the source's seed and its label, in fixed
windows of absolute time.  The realisation therefore does not depend on the target, on
dt or on how a run is split into segments: every target sees the same input spikes.
Renewal sources (gamma, Poisson with dead time, inhomogeneous gamma) remember the time of
each train's last spike, so they are realised window after window, in order, from the
same kind of seeds: again independent of target, dt and segmentation.

Injected currents are functions of the step: DC and step sources switch at the steps
nearest to their times, AC and noisy ones change every step (noise every ``dt`` of the
source) while they are on, as pyNN.brian2 computes them.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
from scipy import special

from toolchain.ir import (
    ACSource,
    ArraySource,
    DCSource,
    GammaSource,
    InhGammaSource,
    Network,
    NoisyCurrentSource,
    PoissonRefractorySource,
    PoissonSource,
    StepCurrentSource,
)
from toolchain.ir.network import CurrentSource, SpikeSource
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


def mean_rate(source: SpikeSource) -> np.ndarray:
    """Each neuron's mean rate (Hz) while the source is on (arrays: as counted over their
    span); for window lengths and cost estimates."""
    if isinstance(source, (PoissonSource, PoissonRefractorySource, GammaSource,
                           InhGammaSource)):
        return np.asarray(source.rate)  # inhomogeneous gamma: its fastest bin
    span = float(source.times.max()) if source.times.size else 0.0
    counts = np.diff(source.offsets).astype(float)
    return counts / (span / 1000.0) if span > 0 else np.zeros(source.size)


def poisson_window_ms(source: SpikeSource) -> float:
    """Length of the realisation windows of ``source`` (ms)."""
    fastest = float(np.max(mean_rate(source)))
    if fastest * POISSON_WINDOW_MS / 1000.0 <= POISSON_SPIKES_PER_WINDOW:
        return POISSON_WINDOW_MS
    return POISSON_SPIKES_PER_WINDOW * 1000.0 / fastest


def poisson_window(source: PoissonSource, network_seed: int,
                   window: int) -> tuple[np.ndarray, np.ndarray]:
    """Spike times (ms) and senders of ``source`` in window ``window``, sorted by time.

    Each neuron's train restarts at the window's start; a Poisson process has no memory,
    so the concatenation of windows is still a Poisson process.
    """
    t0, t1 = _window_bounds(source, window)
    parts = [_exponential_trains(source, block, t0, t1, rng)
             for block, rng in _blocks(source, network_seed, window)]
    times = np.concatenate([p[0] for p in parts])
    senders = np.concatenate([p[1] for p in parts])
    order = np.argsort(times, kind="stable")
    return times[order], senders[order]


def _window_bounds(source: SpikeSource, window: int) -> tuple[float, float]:
    length = poisson_window_ms(source)
    return window * length, (window + 1) * length


def _blocks(source: PoissonSource, network_seed: int,
            window: int) -> list[tuple[np.ndarray, np.random.Generator]]:
    """The neuron blocks of one window, each with the random stream its trains come from."""
    label_seed = zlib.crc32(source.label.encode())
    return [(np.arange(first, min(first + POISSON_BLOCK, source.size)),
             np.random.default_rng([network_seed, source.seed, label_seed, window, first]))
            for first in range(0, source.size, POISSON_BLOCK)]


def _trains(source: PoissonSource, block: np.ndarray, t0: float, t1: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The neurons of ``block`` active in [t0, t1) and their spike-time matrix: row r is
    neuron active[r]'s train from t0 on (cumulated exponential intervals), in time order,
    reaching past t1 (rows topped up where needed; inf past a row's end)."""
    start, stop = source.start[block], source.start[block] + source.duration[block]
    active = block[(source.rate[block] > 0) & (start < t1) & (stop > t0)]
    if active.size == 0:
        return active, np.zeros((0, 0))
    scale = 1000.0 / source.rate[active]  # mean ISI in ms
    expected = float((t1 - t0) / scale.min())
    n_draw = int(math.ceil(expected + 6 * math.sqrt(expected) + 8))
    # in place, the same values as t0 + cumsum(exponential(1.0, shape) * scale)
    times = rng.standard_exponential((active.size, n_draw))
    times *= scale[:, None]
    np.cumsum(times, axis=1, out=times)
    times += t0
    while True:  # top up the rare rows that have not yet passed the window's end
        short = np.flatnonzero(times[:, -1] < t1)
        if short.size == 0:
            break
        more = np.full((active.size, n_draw), np.inf)
        more[short] = times[short, -1:] + np.cumsum(
            rng.standard_exponential((short.size, n_draw)) * scale[short, None], axis=1)
        times = np.concatenate([times, more], axis=1)
    return active, times


def _exponential_trains(source: PoissonSource, block: np.ndarray, t0: float, t1: float,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    active, times = _trains(source, block, t0, t1, rng)
    if active.size == 0:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    senders = np.broadcast_to(active[:, None], times.shape)
    begin = source.start[senders]
    keep = (times < t1) & (times >= begin) & (times < begin + source.duration[senders])
    return times[keep], senders[keep].astype(np.int64)


@dataclass(frozen=True)
class StepSpikes:
    """Spikes of the steps k_first .. k_first + n_steps - 1, grouped by step (CSR):
    step k_first + i's senders are ``senders[indptr[i]:indptr[i + 1]]``."""

    k_first: int
    indptr: np.ndarray
    senders: np.ndarray

    @property
    def n_steps(self) -> int:
        return self.indptr.size - 1

    def at(self, step: int) -> np.ndarray:
        i = step - self.k_first
        if not 0 <= i < self.n_steps:
            return self.senders[:0]
        return self.senders[self.indptr[i]:self.indptr[i + 1]]

    def span(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """Offsets (k1 - k0 + 1, from 0) and senders of the steps k0..k1-1."""
        pos = self.indptr[np.clip(np.arange(k0, k1 + 1) - self.k_first, 0, self.n_steps)]
        return pos - pos[0], self.senders[pos[0]:pos[-1]]


def _step_range(t0: float, t1: float, dt: float) -> tuple[int, int]:
    """First step and number of steps that times in [t0, t1) can be binned into."""
    first = int(event_step(t0, dt))
    return first, int(event_step(t1, dt)) - first + 1


def poisson_window_steps(source: PoissonSource, network_seed: int, window: int,
                         dt: float) -> StepSpikes:
    """The spikes of :func:`poisson_window` binned into steps of ``dt``, without sorting
    them by time: each neuron's train is binned as drawn and a counting sort groups them
    by step, so that within a step they come by neuron (the same spikes as the binned
    times, ordered by sender instead of by time within the step)."""
    from toolchain.sim.binning import bin_trains

    t0, t1 = _window_bounds(source, window)
    k_first, n_steps = _step_range(t0, t1, dt)
    rel, senders = [], []
    for block, rng in _blocks(source, network_seed, window):
        active, times = _trains(source, block, t0, t1, rng)
        if active.size == 0:
            continue
        begin = source.start[active]
        r, s = bin_trains(times, active.astype(np.int32), begin,
                          begin + source.duration[active], t1, EVENT_SHIFT * dt, dt, k_first)
        rel.append(r)
        senders.append(s)
    return _grouped(k_first, n_steps, rel, senders)


def _grouped(k_first: int, n_steps: int, rel: list[np.ndarray],
             senders: list[np.ndarray]) -> StepSpikes:
    from toolchain.sim.binning import counting_sort

    if not rel:
        return StepSpikes(k_first, np.zeros(n_steps + 1, np.int64), np.zeros(0, np.int32))
    steps = rel[0] if len(rel) == 1 else np.concatenate(rel)
    dest = np.empty(steps.size, dtype=np.int64)
    indptr = counting_sort(steps, n_steps, dest)
    out = np.empty(steps.size, dtype=np.int32)
    out[dest] = senders[0] if len(senders) == 1 else np.concatenate(senders)
    return StepSpikes(k_first, indptr, out)


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


class RenewalTrains:
    """Renewal processes realised window by window, in order: each train's next spike
    time carries over from one window to the next.

    Intervals are drawn per block of POISSON_BLOCK trains, in rounds (every train of the
    block that has not yet passed the window's end draws its next interval), from a stream
    seeded by the network seed, the source's seed, its label and the block, so the
    realisation does not depend on dt or on how runs are split.  A train's first spike
    is one interval after its start (an ordinary renewal process).
    """

    def __init__(self, source: GammaSource | PoissonRefractorySource | InhGammaSource,
                 network_seed: int) -> None:
        self.source = source
        self._seed = network_seed
        self._window_ms = poisson_window_ms(source)
        self.restart()

    def restart(self) -> None:
        src = self.source
        label_seed = zlib.crc32(src.label.encode())
        self._rngs = [np.random.default_rng([self._seed, src.seed, label_seed, first])
                      for first in range(0, src.size, POISSON_BLOCK)]
        self._stop = src.start + src.duration
        self._next = np.full(src.size, np.inf)
        for b, rng in enumerate(self._rngs):
            block = np.arange(b * POISSON_BLOCK, min((b + 1) * POISSON_BLOCK, src.size))
            self._next[block] = src.start[block] + self._interval(block, src.start[block], rng)
        self._done = 0  # windows realised so far

    @property
    def window_ms(self) -> float:
        return self._window_ms

    def window(self, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Spike times and senders in window ``w`` (the next one, or a later one: the
        windows in between are realised and dropped)."""
        if w < self._done:
            self.restart()
        while True:
            times, senders = self._realise(self._done)
            self._done += 1
            if self._done > w:
                return times, senders

    def _realise(self, w: int) -> tuple[np.ndarray, np.ndarray]:
        t1 = (w + 1) * self._window_ms
        times, senders = [], []
        for b, rng in enumerate(self._rngs):
            lo, hi = b * POISSON_BLOCK, min((b + 1) * POISSON_BLOCK, self.source.size)
            while True:
                due = lo + np.flatnonzero(self._next[lo:hi] < t1)
                if due.size == 0:
                    break
                last = self._next[due]
                keep = last < self._stop[due]
                times.append(last[keep])
                senders.append(due[keep])
                self._next[due] = np.where(keep, last + self._interval(due, last, rng), np.inf)
        if not times:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        t, s = np.concatenate(times), np.concatenate(senders).astype(np.int64)
        order = np.argsort(t, kind="stable")
        return t[order], s[order]

    def _interval(self, neurons: np.ndarray, after: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
        """The next interval (ms) of each train, its last spike at ``after``."""
        src = self.source
        if isinstance(src, GammaSource):
            draw = rng.gamma(src.alpha[neurons], 1.0, neurons.size)
            with np.errstate(divide="ignore"):
                return np.where(src.beta[neurons] > 0, draw * 1000.0 / src.beta[neurons], np.inf)
        if isinstance(src, PoissonRefractorySource):
            draw = rng.exponential(1.0, neurons.size)
            rate = src.rate[neurons]
            with np.errstate(divide="ignore"):
                mean_free = np.where(rate > 0, 1000.0 / rate - src.tau_refrac[neurons], np.inf)
            return src.tau_refrac[neurons] + draw * mean_free
        draw = rng.exponential(1.0, neurons.size)
        return np.array([_inh_gamma_interval(src, int(i), float(t), float(e))
                         for i, t, e in zip(neurons, after, draw, strict=True)])


def _inh_gamma_interval(src: InhGammaSource, i: int, last: float, hazard: float) -> float:
    """Time (ms) after ``last`` at which the integrated hazard of neuron i's inhomogeneous
    gamma process reaches ``hazard`` (an Exp(1) draw): the hazard at time s is the gamma
    hazard of shape a(s) and scale b(s) at age s - last, and its integral over a bin with
    constant (a, b) is a difference of log survival functions, inverted in closed form."""
    tbins, a, b = src.bins(i)
    ends = np.append(tbins[1:], np.inf)
    for k in range(int(np.searchsorted(tbins, last, "right") - 1), tbins.size):
        k = max(k, 0)
        s1, s2 = max(last, tbins[k]), ends[k]
        if s2 <= s1:
            continue
        scale = b[k] * 1000.0  # s -> ms
        sf1 = special.gammaincc(a[k], (s1 - last) / scale)
        sf2 = special.gammaincc(a[k], (s2 - last) / scale) if np.isfinite(s2) else 0.0
        if sf1 <= 0.0:  # survival underflowed: the hazard is at its asymptote 1/scale
            return s1 - last + hazard * scale
        spent = np.log(sf1) - np.log(sf2) if sf2 > 0 else np.inf
        if spent >= hazard:
            target = sf1 * np.exp(-hazard)
            return float(special.gammainccinv(a[k], target) * scale)
        hazard -= spent
    return np.inf


class SourceSpikes:
    """The spikes a source emits, per step (neuron indices; a neuron may repeat when it
    fires more than once within one step).

    Within a step, a Poisson source's spikes come by neuron (window by window where a
    step straddles two realisation windows), an array source's by neuron, a renewal
    source's in time order.  The steps are those of the binned spike times, whatever the
    order: the order only decides in which order one step's inputs add up.
    """

    # realised windows kept: a run moves forward through at most two at a time
    _KEEP = 3

    def __init__(self, source: SpikeSource, network_seed: int, dt: float) -> None:
        self.source = source
        self.dt = dt
        self._seed = network_seed
        self._windows: dict[int, StepSpikes] = {}
        self._renewal: RenewalTrains | None = None
        if isinstance(source, ArraySource):
            senders = np.repeat(np.arange(source.size), np.diff(source.offsets))
            self._fixed = self._binned(source.times, senders)
        elif isinstance(source, PoissonSource):
            self._window_ms = poisson_window_ms(source)
        else:
            self._renewal = RenewalTrains(source, network_seed)
            self._window_ms = self._renewal.window_ms

    @property
    def size(self) -> int:
        return self.source.size

    def reset(self) -> None:
        """Back to t = 0 (renewal trains start again; the others are stateless)."""
        if self._renewal is not None:
            self._windows.clear()
            self._renewal.restart()

    def _binned(self, times: np.ndarray, senders: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        steps = event_step(times, self.dt)
        if steps.size < 2 or np.all(steps[1:] >= steps[:-1]):
            return steps, senders
        order = np.argsort(steps, kind="stable")
        return steps[order], senders[order]

    def _window(self, w: int) -> StepSpikes:
        if w not in self._windows:
            if len(self._windows) >= self._KEEP:  # runs move forward: keep recent windows
                self._windows.pop(min(self._windows))
            if self._renewal is not None:
                times, senders = self._renewal.window(w)
                k_first, n_steps = _step_range(w * self._window_ms, (w + 1) * self._window_ms,
                                               self.dt)
                rel = (event_step(times, self.dt) - k_first).astype(np.int32)
                self._windows[w] = _grouped(k_first, n_steps, [rel],
                                            [senders.astype(np.int32)])
            else:
                self._windows[w] = poisson_window_steps(
                    self.source, self._seed, w, self.dt)  # type: ignore[arg-type]
        return self._windows[w]

    def _windows_of(self, k0: int, k1: int) -> range:
        """The windows whose spikes can be binned into steps k0..k1-1 (times binned into
        step k lie in [(k - shift) dt, (k + 1 - shift) dt))."""
        lo = max(int(((k0 - EVENT_SHIFT) * self.dt) // self._window_ms), 0)
        hi = max(int(((k1 - EVENT_SHIFT) * self.dt) // self._window_ms), lo)
        return range(lo, hi + 1)

    def at(self, step: int) -> np.ndarray:
        if isinstance(self.source, ArraySource):
            return _select(step, *self._fixed)
        parts = [self._window(w).at(step) for w in self._windows_of(step, step + 1)]
        return (parts[0] if len(parts) == 1 else np.concatenate(parts)).astype(np.int64)

    def chunk(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """The spikes of steps k0..k1-1 as CSR: offsets (k1 - k0 + 1, from 0) and the
        senders (int32), each step's in the order :meth:`at` gives them (for runs of many
        steps at once)."""
        if isinstance(self.source, ArraySource):
            steps, senders = self._fixed
            pos = np.searchsorted(steps, np.arange(k0, k1 + 1), "left")
            return pos - pos[0], senders[pos[0]:pos[-1]].astype(np.int32)
        parts = [self._window(w).span(k0, k1) for w in self._windows_of(k0, k1)]
        if len(parts) == 1:
            return parts[0]
        # a step's spikes come window by window: the offsets add up, and the senders
        # follow each other where the windows' steps do (they share at most the step
        # between them), else interleave step by step
        offsets = np.sum([p[0] for p in parts], axis=0)
        spans = [np.flatnonzero(np.diff(p[0])) for p in parts]
        spans = [s for s in spans if s.size]
        if all(a[-1] <= b[0] for a, b in zip(spans[:-1], spans[1:], strict=True)):
            return offsets, np.concatenate([p[1] for p in parts])
        out = np.empty(int(offsets[-1]), dtype=np.int32)
        start = offsets[:-1]
        for off, senders in parts:
            counts = np.diff(off)
            pos = np.repeat(start - off[:-1], counts) + np.arange(senders.size)
            out[pos] = senders
            start = start + counts
        return offsets, out

    def between(self, k0: int, k1: int) -> tuple[np.ndarray, np.ndarray]:
        """Steps and senders of every spike in steps k0..k1-1, ordered by step and, within
        a step, as :meth:`at` gives them."""
        offsets, senders = self.chunk(k0, k1)
        return (np.repeat(np.arange(k0, k1, dtype=np.int64), np.diff(offsets)),
                senders.astype(np.int64))


def _select(step: int, steps: np.ndarray, senders: np.ndarray) -> np.ndarray:
    lo = np.searchsorted(steps, step, "left")
    hi = np.searchsorted(steps, step, "right")
    return senders[lo:hi]


# --------------------------------------------------------------------------- currents


class CurrentError(ValueError):
    """A current source the engine cannot step (a noise interval that is not whole steps)."""


class _Amplitude:
    """One current source's amplitude (nA) as a function of the step."""

    def __init__(self, source: CurrentSource, network_seed: int, dt: float) -> None:
        self.source = source
        self.dt = dt
        if isinstance(source, StepCurrentSource):
            steps = nearest_step(source.times, dt)
            # several times rounding to one step: the last one given wins (pyNN.brian2)
            self._steps, last = np.unique(steps[::-1], return_index=True)
            self._values = source.amplitudes[::-1][last]
            self.start, self.stop = (int(self._steps[0]) if self._steps.size else 0), None
            return
        self.start = int(nearest_step(source.start, dt))
        self.stop = int(nearest_step(source.stop, dt)) if math.isfinite(source.stop) else None
        if isinstance(source, NoisyCurrentSource):
            ratio = source.dt / dt
            self._every = round(ratio)
            if self._every < 1 or not math.isclose(ratio, self._every, rel_tol=1e-9):
                raise CurrentError(
                    f"NoisyCurrentSource '{source.label}': dt = {source.dt:g} ms is not a "
                    f"whole number of timesteps (dt = {dt:g} ms); use a multiple of the "
                    "timestep")
            self._noise_seed = [network_seed, source.seed, zlib.crc32(source.label.encode())]
            self._block: tuple[int, np.ndarray] | None = None

    @property
    def streaming(self) -> bool:
        """Changes every step while on (AC, noise), not only at switching steps."""
        return isinstance(self.source, (ACSource, NoisyCurrentSource))

    def switches(self) -> list[int]:
        """Steps at which a DC or step source changes."""
        if isinstance(self.source, StepCurrentSource):
            return [int(k) for k in self._steps]
        return [self.start] + ([self.stop] if self.stop is not None else [])

    def on(self, step: int) -> bool:
        return step >= self.start and (self.stop is None or step < self.stop)

    def __call__(self, step: int) -> float:
        src = self.source
        if isinstance(src, StepCurrentSource):
            k = int(np.searchsorted(self._steps, step, "right")) - 1
            return float(self._values[k]) if k >= 0 else 0.0
        if not self.on(step):
            return 0.0
        if isinstance(src, DCSource):
            return src.amplitude
        if isinstance(src, ACSource):
            t = step * self.dt - src.start  # ms since the source started
            return src.offset + src.amplitude * math.sin(
                2.0 * math.pi * (src.frequency * t / 1000.0 + src.phase / 360.0))
        return src.mean + src.stdev * self._normal((step - self.start) // self._every)

    _NOISE_BLOCK = 4096

    def _normal(self, j: int) -> float:
        block = j // self._NOISE_BLOCK
        if self._block is None or self._block[0] != block:
            rng = np.random.default_rng([*self._noise_seed, block])
            self._block = (block, rng.standard_normal(self._NOISE_BLOCK))
        return float(self._block[1][j % self._NOISE_BLOCK])


class CurrentSchedule:
    """Injected current per population, changing only when a source does.

    A source switches in the step nearest to its switching time, as pyNN.brian2 does
    (electrodes.py: ``|t - t_switch| < dt/2``), and holds its amplitude for whole steps;
    AC and noisy sources take a new value every step while they are on.  Currents of
    several sources into one neuron add up.  ``value(label)`` is a source's amplitude in
    the current step (what recording it reports).
    """

    def __init__(self, network: Network, dt: float, step: int = 0) -> None:
        self._sizes = {p.label: p.size for p in network.populations}
        self._targets = sorted({c.target for c in network.currents})
        self._sources = {c.label: _Amplitude(c, network.seed, dt) for c in network.currents}
        self._events: dict[int, list[str]] = {}
        self._streaming: list[str] = []
        for label, amp in self._sources.items():
            if amp.streaming:
                self._streaming.append(label)
            else:
                for k in amp.switches():
                    self._events.setdefault(k, []).append(label)
        self.current: dict[str, np.ndarray] = {}
        self.restart(step)

    def reset(self) -> None:
        self.restart(0)

    def restart(self, step: int) -> None:
        """Set the currents to what they are just before ``step``."""
        self.current = {label: np.zeros(self._sizes[label]) for label in self._targets}
        self.values: dict[str, float] = {}
        for label, amp in self._sources.items():
            self.values[label] = 0.0
            self._set(label, amp(step - 1) if step > 0 else 0.0)

    def _set(self, label: str, value: float) -> None:
        delta = value - self.values[label]
        if delta:
            src = self._sources[label].source
            np.add.at(self.current[src.target], src.indices, delta)
        self.values[label] = value

    def advance_to(self, step: int) -> None:
        for label in self._events.get(step, ()):
            self._set(label, self._sources[label](step))
        for label in self._streaming:
            amp = self._sources[label]
            if amp.on(step) or self.values[label]:
                self._set(label, amp(step))

    def value(self, label: str) -> float:
        return self.values[label]

    def peek(self, label: str, step: int) -> float:
        """The amplitude a source will have in ``step`` (for the last recorded sample)."""
        return self._sources[label](step)
