"""What every target's mapping describes the same way: the activity a cost estimate
assumes, the synaptic events that activity causes, and what storing a projection's
weights and delays did to it.

Each target has its own arithmetic and cost per event, but the *inputs* to those models
are network facts, not hardware facts, so they are computed once here:

* :func:`activity`: expected spikes per step of every neuron.  Array sources from their
  actual spike times, Poisson sources from their rates (and active windows, when the run
  length is known), populations from a planned rate; :func:`measured_activity` takes the
  populations' rates from a run instead.
* :func:`events_into`: the synaptic events per step that activity delivers to each neuron.
* :func:`projection_numerics`: zeroed and saturated weights, the largest weight error, and
  delays in whole steps with one tolerance for "this delay was rounded".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from toolchain.compiler.artifact import Cores, ProjectionNumerics
from toolchain.ir import ArraySource, Network, PoissonSource, Projection
from toolchain.sim.results import SimulationResult

PLANNED = "planned"
MEASURED = "measured"

# A delay counts as rounded when it is further than this (relative) from a whole number of
# steps.  IR delays are float32, whose rounding is 6e-8 relative: 6.2 ms at dt = 0.1 ms is
# 61.999998 steps, a whole number written in float32, not a rounded delay.
DELAY_RTOL = 1e-6
_CHUNK = 1 << 22  # synapses per chunk: bounds float64 temporaries on huge projections


# --------------------------------------------------------------------------- activity


@dataclass(frozen=True)
class Activity:
    """Firing rate (Hz) of every neuron of every population and source of a network.

    ``basis`` is "planned" (populations at ``planned_rate_hz``) or "measured" (the rates
    of a run); sources always fire as they are defined.
    """

    rates_hz: Mapping[str, np.ndarray]
    basis: str = PLANNED
    planned_rate_hz: float = 10.0

    def per_step(self, label: str, dt: float) -> np.ndarray:
        """Expected spikes per step of each neuron of ``label``."""
        return self.rates_hz[label] * (dt / 1e3)

    def uniform(self, label: str) -> float | None:
        """The one rate all neurons of ``label`` fire at, or None if they differ."""
        r = self.rates_hz[label]
        return float(r[0]) if r.size and np.all(r == r[0]) else (0.0 if not r.size else None)

    def describe(self) -> str:
        if self.basis == MEASURED:
            return "populations at their measured rates"
        return f"populations at a planned {self.planned_rate_hz:g} Hz"


def source_rates(source: object, duration_ms: float | None = None) -> np.ndarray:
    """Per neuron, the mean rate (Hz) a spike source fires at.

    Array sources count their spikes: over the run when its length is known, else over
    each train's own span ((n - 1) spikes between the first and the last; a lone spike
    over the longest train of the source).  Poisson sources fire at their rate while
    active, so over a known run their rate is weighted by the active part of it.
    """
    if isinstance(source, PoissonSource):
        rate = np.asarray(source.rate, dtype=np.float64)
        if duration_ms is None or duration_ms <= 0:
            return rate.copy()
        on = np.clip(np.minimum(source.start + source.duration, duration_ms) - source.start,
                     0.0, duration_ms)
        return rate * on / duration_ms
    if isinstance(source, ArraySource):
        counts = np.diff(source.offsets).astype(np.float64)
        if duration_ms is not None and duration_ms > 0:
            within = np.array([np.count_nonzero(source.train(i) < duration_ms)
                               for i in range(source.size)], dtype=np.float64)
            return within / (duration_ms / 1e3)
        first = np.array([source.train(i)[0] if c else 0.0 for i, c in enumerate(counts)])
        last = np.array([source.train(i)[-1] if c else 0.0 for i, c in enumerate(counts)])
        span = last - first
        longest = float(last.max()) if last.size else 0.0
        rate = np.zeros(source.size)
        many = (counts >= 2) & (span > 0)
        rate[many] = (counts[many] - 1) / (span[many] / 1e3)
        lone = (counts >= 1) & ~many
        rate[lone] = counts[lone] / (max(longest, 1.0) / 1e3)
        return rate
    rate = getattr(source, "rate", None)
    if rate is None:
        raise TypeError(f"no rate estimate for a {type(source).__name__}; add one to "
                        "toolchain.compiler.describe.source_rates")
    return np.broadcast_to(np.asarray(rate, dtype=np.float64), (source.size,)).copy()


def activity(network: Network, *, rate_hz: float = 10.0,
             duration_ms: float | None = None) -> Activity:
    """Planned activity: every population at ``rate_hz``, sources as they are defined
    (over a run of ``duration_ms`` when it is known)."""
    if not (math.isfinite(rate_hz) and rate_hz >= 0):
        raise ValueError(f"planned rate {rate_hz!r} Hz must be a finite rate >= 0")
    rates = {p.label: np.full(p.size, float(rate_hz)) for p in network.populations}
    for src in network.sources:
        rates[src.label] = source_rates(src, duration_ms)
    return Activity(rates, PLANNED, float(rate_hz))


def measured_activity(network: Network, result: SimulationResult) -> Activity:
    """The activity of a run: each population's neurons at the rates they fired at (from
    the recorded spikes, or spread evenly from the spike counter when not all neurons were
    recorded); sources as they are defined, over the run."""
    t = result.t_stop
    if t <= 0:
        raise ValueError("the run has no length: run it before measuring its activity")
    rates = {}
    for pop in network.populations:
        rec = result.spikes.get(pop.label)
        total = result.counters.get(f"spikes/{pop.label}")
        if rec is not None and (total is None or rec.count == total):
            counts = np.bincount(rec.senders, minlength=pop.size).astype(np.float64)
        elif total is not None:
            counts = np.full(pop.size, total / pop.size)
        else:
            raise ValueError(f"the run kept no spike count of population '{pop.label}'; "
                             "record its spikes to measure its activity")
        rates[pop.label] = counts / (t / 1e3)
    for src in network.sources:
        rates[src.label] = source_rates(src, t)
    return Activity(rates, MEASURED, math.nan)


# --------------------------------------------------------------------------- events


def events_into(network: Network, activity: Activity, step_ms: float | None = None
                ) -> dict[str, np.ndarray]:
    """Per population, the expected synaptic events per step (of ``step_ms``, default the
    network's dt) arriving at each neuron."""
    out = {p.label: np.zeros(p.size) for p in network.populations}
    for proj in network.projections:
        out[proj.post] += projection_events(network, proj, activity, step_ms)
    return out


def projection_events(network: Network, proj: Projection, activity: Activity,
                      step_ms: float | None = None) -> np.ndarray:
    """Expected synaptic events per step of ``proj`` at each of its post neurons."""
    step = network.dt if step_ms is None else step_ms
    size = network.node(proj.post).size
    uniform = activity.uniform(proj.pre)
    if uniform is not None:
        counts = np.bincount(proj.post_index, minlength=size)
        return counts * (uniform * step / 1e3)
    p = activity.per_step(proj.pre, step)
    events = np.zeros(size)
    for a in range(0, proj.size, _CHUNK):
        sl = slice(a, a + _CHUNK)
        events += np.bincount(proj.post_index[sl], weights=p[proj.pre_index[sl]],
                              minlength=size)
    return events


def per_core(values: Mapping[str, np.ndarray], network: Network, cores: Cores) -> np.ndarray:
    """Per core, the sum of a per-neuron quantity over the population slice it holds."""
    out = np.zeros(len(cores))
    prefix = {}
    for k, pop in enumerate(network.populations):
        c = np.zeros(pop.size + 1)
        np.cumsum(values[pop.label], out=c[1:])
        prefix[k] = c
    for i in range(len(cores)):
        c = prefix[int(cores.population[i])]
        out[i] = c[cores.stop[i]] - c[cores.start[i]]
    return out


# --------------------------------------------------------------------------- numerics


def delay_steps(delay: np.ndarray, dt: float) -> tuple[int, int, int, float]:
    """Delays as whole steps of ``dt`` (at least one): the smallest and largest step
    count, how many delays were rounded (:data:`DELAY_RTOL`) and the worst error (ms).
    One compiled pass (toolchain.sim.binning), as the engine converts its delays."""
    from toolchain.sim.binning import delay_summary

    if delay.size == 0:
        return 1, 1, 0, 0.0
    lo, hi, rounded, worst = delay_summary(delay, float(dt), DELAY_RTOL)
    return int(lo), int(hi), int(rounded), float(worst)


def stored_delay_summary(delay: np.ndarray, steps: np.ndarray | int, step_ms: float
                         ) -> tuple[int, int, int, float]:
    """Like :func:`delay_steps` for delays a target stores as given whole ``steps`` of
    ``step_ms`` (its own rounding, or one fixed step)."""
    if delay.size == 0:
        return 1, 1, 0, 0.0
    s = np.broadcast_to(np.asarray(steps, dtype=np.int64), delay.shape)
    error = np.abs(s * step_ms - delay.astype(np.float64))
    rounded = int(np.count_nonzero(error > DELAY_RTOL * np.maximum(delay, step_ms)))
    return int(s.min()), int(s.max()), rounded, float(error.max())


@dataclass(frozen=True)
class WeightFormat:
    """How a target stores one projection's weights: ``max_mantissa`` steps of ``unit``
    x 2**``exponent`` IR units, in ``weight_bits`` bits (sign included)."""

    unit: float
    exponent: int
    weight_bits: int
    max_mantissa: int


def projection_numerics(proj: Projection, fmt: WeightFormat, *,
                        realised: np.ndarray | Callable[[slice], np.ndarray] | None,
                        saturated: int, step_ms: float, delay_bits: int,
                        stored_steps: np.ndarray | int | None = None) -> ProjectionNumerics:
    """What storing ``proj`` did: ``realised`` are the weights the target applies (IR
    units, IR order; or a function giving them for a slice of synapses, for projections
    too large to hold twice; None: the IR's weights themselves, nothing zeroed and no
    error), ``saturated`` how many were clipped (the target's arithmetic knows); delays
    are ``stored_steps`` of ``step_ms`` (default: rounded to the nearest whole step, at
    least one)."""
    zeroed, worst = 0, 0.0
    for a in range(0, proj.size if realised is not None else 0, _CHUNK):
        sl = slice(a, a + _CHUNK)
        got = realised(sl) if callable(realised) else realised[sl]
        w = np.asarray(proj.weight[sl], dtype=np.float64)
        got = np.asarray(got, dtype=np.float64)
        zeroed += int(np.count_nonzero((w != 0) & (got == 0)))
        worst = max(worst, float(np.abs(got - w).max()))
    if stored_steps is None:
        lo, hi, rounded, delay_error = delay_steps(proj.delay, step_ms)
    else:
        lo, hi, rounded, delay_error = stored_delay_summary(proj.delay, stored_steps, step_ms)
    return ProjectionNumerics(
        projection=proj.label, unit=fmt.unit, exponent=fmt.exponent,
        weight_bits=fmt.weight_bits, max_mantissa=fmt.max_mantissa, zeroed=zeroed,
        saturated=int(saturated), max_abs_error=worst, delay_bits=delay_bits,
        min_delay_steps=lo, max_delay_steps=hi, delays_rounded=rounded,
        max_delay_error=delay_error,
    )


def spikes_per_step(network: Network, activity: Activity, step_ms: float | None = None
                    ) -> float:
    """Expected spikes per step of all populations together."""
    step = network.dt if step_ms is None else step_ms
    return float(sum(activity.per_step(p.label, step).sum() for p in network.populations))


def synaptic_events_per_step(network: Network, activity: Activity,
                             step_ms: float | None = None) -> float:
    """Expected synaptic events per step of the whole network: per projection, its
    sources' expected spikes per step times their synapse counts (a count per source, not
    an event per synapse and post neuron: the sum is the same, at 10^8 synapses without a
    pass over the post indices)."""
    step = network.dt if step_ms is None else step_ms
    total = 0.0
    for proj in network.projections:
        uniform = activity.uniform(proj.pre)
        if uniform is not None:
            total += proj.size * (uniform * step / 1e3)
        else:
            n_pre = network.node(proj.pre).size
            counts = np.bincount(proj.pre_index, minlength=n_pre)
            total += float(counts @ activity.per_step(proj.pre, step))
    return float(total)
