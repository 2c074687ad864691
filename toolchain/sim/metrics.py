"""Deviation metrics: how far a target's behaviour is from the float reference.

The metrics follow the PyCARL lineage (Balaji et al. 2020; SpiNeMap, DFSynthesizer) and add
the ones a hardware user asks for first:

* firing rate per population and its relative error;
* ISI distortion: mean absolute difference of each neuron's mean inter-spike interval (ms),
  and the ISI coefficient of variation on both sides;
* spike disorder: the fraction of adjacent reference spike pairs (across the population)
  whose order is reversed on the target, after matching the k-th spike of each neuron;
* van Rossum distance (Rossum 2001) per neuron, averaged, with time constant ``tau``;
* weight drift: relative RMS difference of final (learnt or quantised) weights;
* late / shifted / dropped spikes, as counted by the target's interconnect model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from toolchain.sim.results import SimulationResult, SpikeRecord


@dataclass(frozen=True)
class PopulationDeviation:
    population: str
    n_neurons: int
    rate_ref: float  # Hz
    rate: float  # Hz
    rate_error: float  # relative, (rate - rate_ref) / rate_ref; nan if the reference is silent
    isi_cv_ref: float
    isi_cv: float
    isi_distortion_ms: float
    spike_disorder: float
    van_rossum: float
    spikes_ref: int
    spikes: int


@dataclass(frozen=True)
class DeviationReport:
    reference: str
    target: str
    duration_ms: float
    populations: tuple[PopulationDeviation, ...]
    weight_drift: Mapping[str, float] = field(default_factory=dict)
    counters: Mapping[str, float] = field(default_factory=dict)

    def population(self, label: str) -> PopulationDeviation:
        for p in self.populations:
            if p.population == label:
                return p
        raise KeyError(f"no population '{label}' in the deviation report")

    def to_markdown(self) -> str:
        head = ("| population | rate ref (Hz) | rate (Hz) | rate error | ISI CV ref | ISI CV | "
                "ISI distortion (ms) | spike disorder | van Rossum |")
        lines = [head, "|" + "---|" * 9]
        for p in self.populations:
            lines.append(
                f"| {p.population} | {p.rate_ref:.3g} | {p.rate:.3g} | {_pct(p.rate_error)} | "
                f"{p.isi_cv_ref:.3g} | {p.isi_cv:.3g} | {p.isi_distortion_ms:.3g} | "
                f"{p.spike_disorder:.3g} | {p.van_rossum:.3g} |"
            )
        for proj, drift in self.weight_drift.items():
            lines.append(f"\nweight drift of '{proj}': {_pct(drift)} (relative RMS)")
        semantic = {k: v for k, v in self.counters.items()
                    if any(w in k for w in ("shifted", "dropped", "late", "deferred"))}
        for k, v in semantic.items():
            lines.append(f"\n{k}: {v:g}")
        return "\n".join(lines)


def _pct(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{100 * x:+.2f}%"


def compare(reference: SimulationResult, other: SimulationResult, *,
            tau: float = 10.0, t_stop: float | None = None) -> DeviationReport:
    """Deviation of ``other`` from ``reference`` for every population both recorded."""
    duration = float(t_stop if t_stop is not None else min(reference.t_stop, other.t_stop))
    pops = []
    for label, ref in reference.spikes.items():
        hw = other.spikes.get(label)
        if hw is None:
            continue
        pops.append(population_deviation(label, ref, hw, duration, tau=tau))
    drift = {name: weight_drift(w, other.weights[name])
             for name, w in reference.weights.items() if name in other.weights}
    return DeviationReport(reference.target, other.target, duration, tuple(pops), drift,
                           dict(other.counters))


def population_deviation(label: str, ref: SpikeRecord, hw: SpikeRecord, duration: float,
                         *, tau: float = 10.0) -> PopulationDeviation:
    if ref.size != hw.size:
        raise ValueError(f"population '{label}': {ref.size} neurons in the reference but "
                         f"{hw.size} on the target")
    ref_trains = [t[t < duration] for t in ref.trains()]
    hw_trains = [t[t < duration] for t in hw.trains()]
    n_ref = sum(t.size for t in ref_trains)
    n_hw = sum(t.size for t in hw_trains)
    seconds = duration / 1000.0
    rate_ref = n_ref / (ref.size * seconds) if seconds > 0 else float("nan")
    rate = n_hw / (hw.size * seconds) if seconds > 0 else float("nan")
    rate_error = (rate - rate_ref) / rate_ref if rate_ref > 0 else float("nan")
    return PopulationDeviation(
        population=label, n_neurons=ref.size, rate_ref=rate_ref, rate=rate,
        rate_error=rate_error, isi_cv_ref=isi_cv(ref_trains), isi_cv=isi_cv(hw_trains),
        isi_distortion_ms=isi_distortion(ref_trains, hw_trains),
        spike_disorder=spike_disorder(ref_trains, hw_trains),
        van_rossum=float(np.mean([van_rossum(a, b, tau) for a, b in
                                  zip(ref_trains, hw_trains, strict=True)])),
        spikes_ref=n_ref, spikes=n_hw,
    )


def isi_cv(trains: list[np.ndarray]) -> float:
    """Mean over neurons (with >= 3 spikes) of std(ISI) / mean(ISI)."""
    cvs = []
    for t in trains:
        if t.size >= 3:
            isi = np.diff(t)
            m = isi.mean()
            if m > 0:
                cvs.append(isi.std() / m)
    return float(np.mean(cvs)) if cvs else float("nan")


def isi_distortion(ref: list[np.ndarray], hw: list[np.ndarray]) -> float:
    """Mean |mean ISI difference| (ms) over neurons with >= 2 spikes on both sides."""
    diffs = [abs(np.diff(a).mean() - np.diff(b).mean())
             for a, b in zip(ref, hw, strict=True) if a.size >= 2 and b.size >= 2]
    return float(np.mean(diffs)) if diffs else float("nan")


def spike_disorder(ref: list[np.ndarray], hw: list[np.ndarray]) -> float:
    """Fraction of adjacent (in reference time order) matched spike pairs whose order flips.

    The k-th spike of a neuron on the target is matched with its k-th spike in the
    reference.  Pairs with equal reference times have no order and are skipped.
    """
    t_ref, t_hw = [], []
    for a, b in zip(ref, hw, strict=True):
        k = min(a.size, b.size)
        t_ref.append(a[:k])
        t_hw.append(b[:k])
    if not t_ref:
        return float("nan")
    t_ref_all, t_hw_all = np.concatenate(t_ref), np.concatenate(t_hw)
    if t_ref_all.size < 2:
        return float("nan")
    order = np.argsort(t_ref_all, kind="stable")
    r, h = t_ref_all[order], t_hw_all[order]
    ordered = np.diff(r) > 0
    if not ordered.any():
        return float("nan")
    flipped = (np.diff(h) < 0) & ordered
    return float(flipped.sum() / ordered.sum())


def van_rossum(a: np.ndarray, b: np.ndarray, tau: float) -> float:
    """van Rossum distance with an exponential kernel of time constant ``tau`` (ms).

    D^2 = 1/2 [sum_ij e^(-|a_i-a_j|/tau) + sum_ij e^(-|b_i-b_j|/tau) - 2 sum_ij e^(-|a_i-b_j|/tau)],
    the closed form of (1/tau) * integral (f - g)^2 dt for exponentially filtered trains.
    """
    def cross(x: np.ndarray, y: np.ndarray) -> float:
        if x.size == 0 or y.size == 0:
            return 0.0
        return float(_exp_pair_sum(np.sort(x), np.sort(y), tau))

    d2 = 0.5 * (cross(a, a) + cross(b, b) - 2.0 * cross(a, b))
    return float(np.sqrt(max(d2, 0.0)))


def _exp_pair_sum(x: np.ndarray, y: np.ndarray, tau: float) -> float:
    """sum_ij exp(-|x_i - y_j| / tau) for sorted x, y in O((n + m) log) using prefix sums."""
    # For each x_i: spikes of y at or before x_i contribute e^{-(x_i - y_j)/tau}, the rest
    # e^{-(y_j - x_i)/tau}.  Shift times by an origin to keep the exponentials in range.
    origin = min(x[0], y[0])
    xs, ys = (x - origin) / tau, (y - origin) / tau
    # Split y into blocks where exponentials would overflow: fall back to direct sums when
    # the span is long (more than ~600 tau); the chunking keeps it exact.
    if ys[-1] > 600 or xs[-1] > 600:
        total = 0.0
        for xi in x:
            total += float(np.exp(-np.abs(xi - y) / tau).sum())
        return total
    ey_pos = np.cumsum(np.exp(ys))  # sum over y_j <= x_i of e^{y_j}
    ey_neg = np.cumsum(np.exp(-ys)[::-1])[::-1]  # sum over y_j > x_i of e^{-y_j}
    k = np.searchsorted(ys, xs, side="right")
    before = np.where(k > 0, ey_pos[np.maximum(k - 1, 0)], 0.0) * np.exp(-xs)
    after = np.where(k < ys.size, ey_neg[np.minimum(k, ys.size - 1)], 0.0) * np.exp(xs)
    return float((before + after).sum())


def weight_drift(reference: np.ndarray, other: np.ndarray) -> float:
    """Relative RMS difference ||w - w_ref|| / ||w_ref|| (0 when both are zero)."""
    ref = np.asarray(reference, dtype=float)
    hw = np.asarray(other, dtype=float)
    if ref.shape != hw.shape:
        raise ValueError(f"weights have shape {ref.shape} in the reference, {hw.shape} on target")
    norm = np.sqrt(np.mean(ref**2))
    diff = np.sqrt(np.mean((hw - ref) ** 2))
    if norm == 0:
        return 0.0 if diff == 0 else float("inf")
    return float(diff / norm)
