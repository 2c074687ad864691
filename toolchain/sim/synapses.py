"""Synapses as the engine stores them: CSR rows per pre neuron, integer delays, a weight
representation chosen by the target, and delay ring buffers per post population and receptor.
"""

from __future__ import annotations

import abc
from typing import ClassVar

import numpy as np

from toolchain.ir import Projection
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
        """IR weights (nA or uS) to the stored representation (a new array of ``dtype``)."""

    @abc.abstractmethod
    def decode(self, stored: np.ndarray) -> np.ndarray:
        """The stored representation back to IR units (float64)."""

    @abc.abstractmethod
    def drive(self, stored: np.ndarray) -> np.ndarray:
        """What each synapse adds to its post neuron's input, in the kernel's ``input_dtype``.

        Must work synapse by synapse (elementwise): for static projections the engine
        computes it once for all synapses and again only after ``set_weights``.
        """


class FloatWeights(WeightCodec):
    """The reference: weights as float64 in IR units, delivered unchanged."""

    dtype = np.dtype(np.float64)

    def encode(self, weights: np.ndarray) -> np.ndarray:
        return np.array(weights, dtype=np.float64)

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
        order = np.argsort(projection.pre_index, kind="stable")
        self.ir_order = order
        self.post = projection.post_index[order].astype(np.intp)
        self.delay = nearest_step(projection.delay[order], dt)
        counts = np.bincount(projection.pre_index, minlength=n_pre)
        self.indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        self.uniform_delay = int(self.delay[0]) if self.delay.size and np.all(
            self.delay == self.delay[0]) else None
        self._by_post: tuple[np.ndarray, np.ndarray] | None = None
        # for the common case of a few spikes per step: Python-level row bounds and
        # slices of one arange beat a dozen vectorised calls
        self._bounds = self.indptr.tolist()
        self._all = np.arange(self.size, dtype=np.intp)

    @property
    def size(self) -> int:
        return int(self.post.size)

    @property
    def max_delay(self) -> int:
        return int(self.delay.max()) if self.delay.size else 1

    def rows(self, pre: np.ndarray) -> np.ndarray:
        """Synapse indices of the given pre neurons (repeats allowed), concatenated."""
        if 0 < pre.size <= _FEW_SPIKES:  # (no spikes left after routing: the path below)
            b, all_ = self._bounds, self._all
            return np.concatenate([all_[b[i]:b[i + 1]] for i in pre.tolist()])
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
        out = np.empty_like(values)
        out[self.ir_order] = values
        return out

    def from_ir_order(self, values: np.ndarray) -> np.ndarray:
        return np.asarray(values)[self.ir_order]


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
