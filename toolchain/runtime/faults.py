"""A fault-injecting link: wraps the host's transport and damages the bytes in either
direction the way real UART links fail (dropped bytes from FIFO overruns, flipped bits from
noise, garbage bursts from a glitching cable or a board's boot ROM), resets the board in
the middle of a run, or cuts the link.

The faults are drawn from a seeded generator, so a failing case can be replayed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from toolchain.runtime.transport import LinkClosedError, Transport


@dataclass
class FaultPlan:
    """Which faults, how often.  Rates are per byte (drops, flips) or per chunk (bursts)."""

    seed: int = 0
    drop_rate: float = 0.0
    flip_rate: float = 0.0
    burst_rate: float = 0.0
    burst_length: int = 16
    to_board: bool = True  # damage host -> board bytes
    to_host: bool = True  # damage board -> host bytes
    spare_bytes: int = 0  # leave the first bytes alone (e.g. let the handshake through)
    cut_after_bytes: int | None = None  # the link dies once this many bytes have passed
    reset_after_bytes: int | None = None  # call ``reset_board`` once, after this many bytes


@dataclass
class FaultCounts:
    dropped: int = 0
    flipped: int = 0
    bursts: int = 0
    resets: int = 0
    events: list[str] = field(default_factory=list)


class FaultyTransport:
    """A ``Transport`` that passes bytes through ``plan``'s faults."""

    def __init__(self, inner: Transport, plan: FaultPlan,
                 reset_board: Callable[[], None] | None = None) -> None:
        self.inner = inner
        self.plan = plan
        self.name = inner.name
        self.counts = FaultCounts()
        self._reset_board = reset_board
        self._rng = np.random.default_rng(plan.seed)
        self._passed = 0
        self._cut = False

    @property
    def bytes_written(self) -> int:
        return self.inner.bytes_written

    @property
    def bytes_read(self) -> int:
        return self.inner.bytes_read

    def _mangle(self, data: bytes, active: bool) -> bytes:
        plan = self.plan
        start = self._passed
        self._passed += len(data)
        if plan.cut_after_bytes is not None and self._passed >= plan.cut_after_bytes:
            self._cut = True
            self.counts.events.append(f"link cut after {plan.cut_after_bytes} bytes")
            raise LinkClosedError(
                f"'{self.name}': link cut by the fault injector after {self._passed} bytes"
            )
        if plan.reset_after_bytes is not None and start < plan.reset_after_bytes <= self._passed:
            self.counts.resets += 1
            self.counts.events.append(f"board reset after {plan.reset_after_bytes} bytes")
            if self._reset_board is not None:
                self._reset_board()
        if not active or not data:
            return data
        spared = max(0, min(len(data), plan.spare_bytes - start))
        head, arr = data[:spared], np.frombuffer(data[spared:], dtype=np.uint8).copy()
        if arr.size == 0:
            return data
        if plan.flip_rate:
            hit = np.flatnonzero(self._rng.random(arr.size) < plan.flip_rate)
            arr[hit] ^= (1 << self._rng.integers(0, 8, hit.size)).astype(np.uint8)
            self.counts.flipped += int(hit.size)
        if plan.drop_rate:
            keep = self._rng.random(arr.size) >= plan.drop_rate
            self.counts.dropped += int((~keep).sum())
            arr = arr[keep]
        out = head + arr.tobytes()
        if plan.burst_rate and self._rng.random() < plan.burst_rate:
            at = int(self._rng.integers(0, len(out) + 1))
            burst = self._rng.integers(0, 256, plan.burst_length, dtype=np.uint8).tobytes()
            out = out[:at] + burst + out[at:]
            self.counts.bursts += 1
        return out

    def write(self, data: bytes) -> None:
        if self._cut:
            raise LinkClosedError(f"'{self.name}': link cut by the fault injector")
        self.inner.write(self._mangle(data, self.plan.to_board))

    def read(self, timeout: float) -> bytes:
        if self._cut:
            raise LinkClosedError(f"'{self.name}': link cut by the fault injector")
        return self._mangle(self.inner.read(timeout), self.plan.to_host)

    def close(self) -> None:
        self.inner.close()


@dataclass
class StuckBit:
    """A memory bit that reads back wrong: set as a virtual board's ``write_filter``.

    ``times`` writes of the word are damaged (``None``: every write, a stuck bit), which
    lets a test tell a transient upset (fixed by rewriting) from a broken memory.
    """

    memory: int  # protocol.Memory
    address: int
    bit: int
    times: int | None = 1
    hits: int = 0

    def __call__(self, memory: int, address: int, word: int) -> int:
        if memory != self.memory or address != self.address:
            return word
        if self.times is not None and self.hits >= self.times:
            return word
        self.hits += 1
        return word ^ (1 << self.bit)
