"""Synapses as the engine stores them: CSR rows per pre neuron, integer delays, a weight
representation chosen by the target, and delay ring buffers per post population and receptor.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np

from toolchain.ir import (
    MultiQuantal,
    Projection,
    SimpleStochastic,
    StochasticTsodyksMarkram,
    TsodyksMarkram,
)
from toolchain.ir.network import SynapseDynamics, per_synapse_parameters
from toolchain.sim.clock import nearest_step


class WeightCodec(abc.ABC):
    """How a target stores a projection's weights and what one spike delivers.

    The reference keeps float64 weights in IR units; a fixed-point target stores integers
    (or mantissa and exponent) and delivers integers in its kernel's input units.  Learning
    rules work on the stored representation, so rounding during learning is the target's.
    """

    #: dtype of the stored weights
    dtype: ClassVar[np.dtype]

    @abc.abstractmethod
    def encode(self, weights: np.ndarray) -> np.ndarray:
        """IR weights (nA or uS) to the stored representation: a new array of ``dtype``
        (or the given one, if it is already that and nobody can write to it)."""

    @abc.abstractmethod
    def decode(self, stored: np.ndarray) -> np.ndarray:
        """The stored representation back to IR units (float64)."""

    @abc.abstractmethod
    def drive(self, stored: np.ndarray) -> np.ndarray:
        """What each synapse adds to its post neuron's input, in the kernel's ``input_dtype``.

        Must work synapse by synapse (elementwise): for static projections the engine
        computes it once for all synapses and again only after ``set_weights``.
        """

    def holding(self, weights: np.ndarray) -> WeightCodec:
        """The codec that stores ``weights`` (IR units, set at run time) as this one would
        store weights from the IR: this one, unless it would round them where the IR does
        not (a fixed-point codec rounds any weight, so it is itself)."""
        return self


class FloatWeights(WeightCodec):
    """The reference: weights as floats in IR units, delivered unchanged.

    ``dtype`` float32 stores them as the IR does (its weights are float32, so nothing is
    rounded: the float64 arithmetic they enter gives the same sums as with float64
    storage, at half the memory); float64 where the engine changes them (learning) or
    scales them per spike (release dynamics), whose results are not float32 values.
    """

    def __init__(self, dtype: type = np.float64) -> None:
        self.dtype = np.dtype(dtype)

    def holding(self, weights: np.ndarray) -> WeightCodec:
        """float64 for weights set at run time that float32 would round."""
        if self.dtype == np.float64 or np.array_equal(
                np.asarray(weights, dtype=self.dtype), weights):
            return self
        return FloatWeights(np.float64)

    def encode(self, weights: np.ndarray) -> np.ndarray:
        if isinstance(weights, np.ndarray) and weights.dtype == self.dtype \
                and not weights.flags.writeable and weights.base is None:
            return weights  # the IR's own read-only array: nobody can write it, share it
        return np.array(weights, dtype=self.dtype)

    def decode(self, stored: np.ndarray) -> np.ndarray:
        return np.array(stored, dtype=np.float64)

    def drive(self, stored: np.ndarray) -> np.ndarray:
        return stored


_FEW_SPIKES = 16


class SynapseMatrix:
    """One projection's synapses sorted by pre neuron (CSR), with a post-sorted index for
    learning rules that react to post spikes.

    Internally synapse ``s`` is the s-th in pre order; ``ir_order`` maps back to the IR's
    order, which :meth:`to_ir_order`/:meth:`from_ir_order` use for the user-facing API.
    """

    def __init__(self, projection: Projection, n_pre: int, n_post: int, dt: float) -> None:
        self.label = projection.label
        self.n_pre, self.n_post = n_pre, n_post
        # The full-scale cortical microcircuit has 0.3 billion synapses, and every byte
        # per synapse is 0.3 GB: post indices stay the IR's int32 (the IR's own array when
        # its synapses are already in pre order), delays are int16 steps where they fit,
        # and the permutation from the IR's order is kept only while it is needed.
        pre = projection.pre_index
        self._ir_pre = pre
        self._presorted = _is_sorted(pre)
        self._dest: np.ndarray | None = None
        if self._presorted:
            # row bounds by binary search in the sorted pre indices: no per-synapse pass
            # (bincount would widen 10^8 int32 indices to int64 first)
            # (keys of the indices' dtype: other keys would convert all 10^8 indices)
            self.indptr = np.searchsorted(pre, np.arange(n_pre + 1, dtype=pre.dtype),
                                          side="left").astype(np.intp)
            self.post = projection.post_index
        else:
            self.indptr, self._dest = pre_positions(pre, n_pre)
            self.post = self.from_ir_order(projection.post_index)
        self.delay = _delay_steps(projection.delay, self._dest, dt)
        self.uniform_delay = int(self.delay[0]) if self.delay.size and np.all(
            self.delay == self.delay[0]) else None
        self._by_post: tuple[np.ndarray, np.ndarray] | None = None
        # for the common case of a few spikes per step: Python-level row bounds and
        # an arange per row beat a dozen vectorised calls
        self._bounds = self.indptr.tolist()

    @property
    def ir_order(self) -> np.ndarray:
        """Synapse s (pre order) is the IR's synapse ``ir_order[s]``."""
        return self.from_ir_order(np.arange(self._ir_pre.size))

    def _positions(self) -> np.ndarray:
        """Where each of the IR's synapses is in pre order."""
        if self._dest is None:
            self._dest = pre_positions(self._ir_pre, self.n_pre)[1]
        return self._dest

    def forget_order(self) -> None:
        """Drop the IR synapses' positions (4 bytes a synapse) once what needed them is
        built; reading or setting weights later recomputes them."""
        self._dest = None

    @property
    def size(self) -> int:
        return int(self.post.size)

    @property
    def max_delay(self) -> int:
        return int(self.delay.max()) if self.delay.size else 1

    def rows(self, pre: np.ndarray) -> np.ndarray:
        """Synapse indices of the given pre neurons (repeats allowed), concatenated."""
        if 0 < pre.size <= _FEW_SPIKES:  # (no spikes left after routing: the path below)
            b = self._bounds
            return np.concatenate([np.arange(b[i], b[i + 1], dtype=np.intp)
                                   for i in pre.tolist()])
        starts = self.indptr[pre]
        counts = self.indptr[pre + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.intp)
        ends = np.cumsum(counts)
        # position within the output minus position within the row = row start
        offsets = np.repeat(starts - (ends - counts), counts)
        return offsets + np.arange(total, dtype=np.intp)

    def into(self, post: np.ndarray) -> np.ndarray:
        """Synapse indices onto the given (distinct) post neurons, concatenated."""
        if self._by_post is None:
            order = np.argsort(self.post, kind="stable")
            counts = np.bincount(self.post, minlength=self.n_post)
            self._by_post = (order, np.concatenate([[0], np.cumsum(counts)]).astype(np.intp))
        order, indptr = self._by_post
        starts = indptr[post]
        counts = indptr[post + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.intp)
        ends = np.cumsum(counts)
        return order[np.repeat(starts - (ends - counts), counts) + np.arange(total)]

    def to_ir_order(self, values: np.ndarray) -> np.ndarray:
        if self._presorted:
            return np.array(values)
        return np.asarray(values)[self._positions()]

    def from_ir_order(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values)
        if self._presorted:
            return values
        out = np.empty_like(values)
        out[self._positions()] = values
        return out


def _is_sorted(values: np.ndarray) -> bool:
    from toolchain.sim.binning import is_sorted

    return values.size < 2 or bool(is_sorted(values))


def pre_positions(pre: np.ndarray, n_pre: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR offsets by pre neuron and each synapse's position in pre order (a stable
    counting sort, in one sequential pass: toolchain.sim.binning)."""
    from toolchain.sim.binning import counting_sort

    dest = np.empty(pre.size, dtype=np.int32 if pre.size < 2**31 else np.int64)
    indptr = counting_sort(pre, n_pre, dest)
    return indptr.astype(np.intp), dest


def _delay_steps(delay: np.ndarray, dest: np.ndarray | None, dt: float) -> np.ndarray:
    """Delays (ms, IR order) as whole steps in pre order (``dest``: each synapse's
    position there, None if the IR's order is pre order): int16 where they fit."""
    from toolchain.sim.binning import delay_steps_into

    if delay.size == 0:
        return np.zeros(0, dtype=np.int16)
    longest = int(nearest_step(float(np.max(delay)), dt))
    out = np.empty(delay.size, dtype=np.int16 if longest < 2**15 else np.int32)
    delay_steps_into(delay, float(dt), np.zeros(0, np.int32) if dest is None else dest, out)
    return out


class DelayRing:
    """Synaptic input waiting to arrive, for one post population and receptor.

    ``slots`` rows cover delays 0..slots-1 steps; input for step k lives in row
    ``k % slots``.  Rows that were never written are skipped on delivery.
    """

    def __init__(self, size: int, slots: int, dtype: np.dtype) -> None:
        self.size, self.slots = size, slots
        self.buffer = np.zeros((slots, size), dtype=dtype)
        self._flat = self.buffer.reshape(-1)
        self._dirty = np.zeros(slots, dtype=bool)

    def share(self, flat: np.ndarray, dirty: np.ndarray) -> None:
        """Keep the buffer in ``flat`` (slots * size values, already holding its contents)
        and the dirty flags in ``dirty``: the compiled loop works on one array for all
        rings, and the numpy path sees what it left in flight."""
        self._flat = flat
        self.buffer = flat.reshape(self.slots, self.size)
        self._dirty = dirty

    def add(self, step: int, delay: np.ndarray | int, post: np.ndarray,
            amount: np.ndarray) -> None:
        """Schedule ``amount`` for ``post`` neurons ``delay`` steps after ``step``."""
        slot = (step + delay) % self.slots
        if np.isscalar(slot) or np.ndim(slot) == 0:
            row = self.buffer[int(slot)]
            np.add.at(row, post, amount)
            self._dirty[int(slot)] = True
        else:
            np.add.at(self._flat, slot * self.size + post, amount)
            self._dirty[slot] = True

    def pop(self, step: int) -> np.ndarray | None:
        """Input arriving at ``step`` (a view, valid until :meth:`clear`),
        or None if nothing arrives."""
        slot = step % self.slots
        if not self._dirty[slot]:
            return None
        return self.buffer[slot]

    def clear(self, step: int) -> None:
        slot = step % self.slots
        if self._dirty[slot]:
            self.buffer[slot] = 0
            self._dirty[slot] = False

    def reset(self) -> None:
        self.buffer[:] = 0
        self._dirty[:] = False


# --------------------------------------------------------------------------- release


class Release(abc.ABC):
    """Short-term plasticity and stochastic release: the fraction of its weight a synapse
    delivers for each spike that reaches it, from per-synapse state kept here.

    The engine asks at the step a spike is sent (its delay is the same for every spike of
    a synapse, so intervals between spikes are the same as at arrival); it is written once
    for every engine-based target.  Parameters are one value for the projection or one per
    synapse, in the engine's (pre-sorted) synapse order.
    """

    def __init__(self, dynamics: SynapseDynamics, matrix: SynapseMatrix, dt: float,
                 tau_syn: np.ndarray, seed: int) -> None:
        self.matrix, self.dt, self._seed = matrix, dt, seed
        self._tau_syn = tau_syn  # per synapse: the post receptor's time constant (ms)
        self.configure(dynamics)
        self.reset()

    #: initial-state fields of the IR dynamics, kept apart from the parameters
    _STATE = ("u", "a")

    def configure(self, dynamics: SynapseDynamics) -> None:
        """Take (possibly changed) parameters; the state stays."""
        self.dynamics = dynamics
        for name in per_synapse_parameters(dynamics):
            values = np.asarray(getattr(dynamics, name), dtype=np.float64)
            values = values if values.size == 1 else self.matrix.from_ir_order(values)
            setattr(self, f"_start_{name}" if name in self._STATE else name, values)

    def reset(self) -> None:
        """Back to rest: no spike seen yet, the random stream from its start (models with
        per-synapse state extend this)."""
        n = self.matrix.size
        self._last = np.full(n, -np.inf)  # time (ms) of each synapse's last spike
        self._rng = np.random.default_rng(self._seed)

    @abc.abstractmethod
    def efficacy(self, step: int, synapses: np.ndarray) -> np.ndarray:
        """Fraction of the weight each of ``synapses`` (a spike each, in order) delivers."""

    def _elapsed(self, step: int, synapses: np.ndarray) -> np.ndarray:
        """ms since each synapse's previous spike (inf for the first), then marks now."""
        now = step * self.dt
        elapsed = now - self._last[synapses]
        self._last[synapses] = now
        return elapsed

    def _at(self, name: str, synapses: np.ndarray) -> np.ndarray:
        values = getattr(self, name)
        return values if values.size == 1 else values[synapses]


def _decay(elapsed: np.ndarray, tau: np.ndarray) -> np.ndarray:
    """e^(-elapsed/tau), 0 for tau = 0 and for the first spike (elapsed = inf)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.exp(-elapsed / np.where(tau > 0, tau, 1.0))
    return np.where((tau > 0) & np.isfinite(elapsed), out, 0.0)


class TsodyksMarkramRelease(Release):
    """The three-state model (ir.TsodyksMarkram): x available, y active (decaying with the
    receptor's tau_syn into) z inactive (recovering with tau_rec); each spike first
    advances the states exactly over the interval since the previous one, then facilitates
    u (u = u e^(-dt/tau_facil) + U (1 - u); u = U for tau_facil = 0), releases u x and
    delivers weight * u * x.  With tau_syn = 0 (voltage-jump synapses) y empties into z at
    once: the two-state model."""

    def reset(self) -> None:
        super().reset()
        n = self.matrix.size
        self.x, self.y = np.ones(n), np.zeros(n)
        self.u = np.broadcast_to(self._start_u, (n,)).astype(np.float64)

    def efficacy(self, step: int, synapses: np.ndarray) -> np.ndarray:
        syn = synapses
        elapsed = self._elapsed(step, syn)
        tau_rec, tau_syn = self._at("tau_rec", syn), self._tau_syn[syn]
        tau_facil, use = self._at("tau_facil", syn), self._at("U", syn)
        x, y = self.x[syn], self.y[syn]
        z = 1.0 - x - y
        p_yy = _decay(elapsed, tau_syn)
        p_zz = _decay(elapsed, tau_rec)
        # z from y: dz/dt = y/tau_syn - z/tau_rec; degenerate tau_syn = tau_rec by its limit
        first = ~np.isfinite(elapsed)
        same = np.isclose(tau_syn, tau_rec)
        with np.errstate(divide="ignore", invalid="ignore"):
            feed = np.where(same, np.where(first, 0.0, elapsed / tau_rec) * p_zz,
                            (p_yy - p_zz) / (tau_syn / tau_rec - 1.0))
        feed = np.where(tau_syn > 0, feed, np.where(first, 0.0, p_zz))  # y empties at once
        z = z * p_zz + y * feed
        y = y * p_yy
        x = 1.0 - y - z
        u = np.where(tau_facil > 0, self.u[syn] * _decay(elapsed, tau_facil), 0.0)
        u = u + use * (1.0 - u)
        released = u * x
        self.x[syn], self.y[syn], self.u[syn] = x - released, y + released, u
        return released


class StochasticRelease(Release):
    """ir.SimpleStochastic: each spike is transmitted (whole weight) with probability p."""

    def efficacy(self, step: int, synapses: np.ndarray) -> np.ndarray:
        draw = self._rng.random(synapses.size)
        return (draw < self._at("p", synapses)).astype(np.float64)


class StochasticTsodyksMarkramRelease(Release):
    """ir.StochasticTsodyksMarkram, as pyNN.neuron's StochasticTsodyksMarkramWA: u
    facilitates as in the deterministic model; an empty site refills with probability
    1 - e^(-t/tau_rec), t the time since it last failed to (or since its release); a full
    site releases with probability u, delivering the whole weight, and is empty again."""

    def reset(self) -> None:
        super().reset()
        n = self.matrix.size
        self.u = np.broadcast_to(self._start_u, (n,)).astype(np.float64)
        self.full = np.ones(n, dtype=bool)
        self._since = np.zeros(n)  # when an empty site was last checked (ms)

    def efficacy(self, step: int, synapses: np.ndarray) -> np.ndarray:
        syn = synapses
        elapsed = self._elapsed(step, syn)
        now = step * self.dt
        tau_facil = self._at("tau_facil", syn)
        u = np.where(tau_facil > 0, self.u[syn] * _decay(elapsed, tau_facil), 0.0)
        u = u + self._at("U", syn) * (1.0 - u)
        self.u[syn] = u
        full = self.full[syn]
        empty = ~full
        survive = np.exp(-(now - self._since[syn]) / self._at("tau_rec", syn))
        refill = self._rng.random(syn.size) > survive
        full = full | (empty & refill)
        self._since[syn] = np.where(empty & ~refill, now, self._since[syn])
        release = full & (self._rng.random(syn.size) < u)
        self.full[syn] = full & ~release
        self._since[syn] = np.where(release, now, self._since[syn])
        return release.astype(np.float64)


class MultiQuantalRelease(Release):
    """ir.MultiQuantal, as NEST's quantal_stp_synapse: u = U + u (1 - U) e^(-t/tau_facil);
    each of the n - available empty sites refills with probability 1 - e^(-t/tau_rec);
    each available one releases with probability u; weight * released / n is delivered."""

    def reset(self) -> None:
        super().reset()
        n = self.matrix.size
        self.u = np.broadcast_to(self._start_u, (n,)).astype(np.float64)
        sites = np.broadcast_to(self.n, (n,)).astype(np.int64)
        start = np.broadcast_to(self._start_a, (n,)).astype(np.int64)
        self.available = np.where(start < 0, sites, start)

    def efficacy(self, step: int, synapses: np.ndarray) -> np.ndarray:
        syn = synapses
        elapsed = self._elapsed(step, syn)
        sites = self._at("n", syn).astype(np.int64)
        use = self._at("U", syn)
        u = use + self.u[syn] * (1.0 - use) * _decay(elapsed, self._at("tau_facil", syn))
        self.u[syn] = u
        refill_p = 1.0 - _decay(elapsed, self._at("tau_rec", syn))
        refill_p = np.where(np.isfinite(elapsed), refill_p, 0.0)
        available = self.available[syn]
        available = available + self._rng.binomial(sites - available, refill_p)
        released = self._rng.binomial(available, u)
        self.available[syn] = available - released
        return released / sites


RELEASE_MODELS: dict[type, type[Release]] = {
    TsodyksMarkram: TsodyksMarkramRelease,
    SimpleStochastic: StochasticRelease,
    StochasticTsodyksMarkram: StochasticTsodyksMarkramRelease,
    MultiQuantal: MultiQuantalRelease,
}
