"""What the engine records, as the network's ``Recording`` requests ask, into
:mod:`toolchain.sim.results` types.

Spikes carry the time of the start of the step they were emitted in (Brian2's and
pyNN.brian2's convention).  A state variable is sampled after each step whose end is a
multiple of the sampling interval, plus once at t = 0, so a run to T gives the samples at
0, interval, ..., T, like pyNN.brian2's recorder.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from toolchain.ir import Network, Recording
from toolchain.ir.network import state_unit
from toolchain.sim.results import AnalogRecord, SpikeRecord


class RecordingError(ValueError):
    """A recording request the engine cannot honour."""


@dataclass
class _Spikes:
    size: int
    mask: np.ndarray
    steps: list[int] = field(default_factory=list)  # one entry per step with spikes
    senders: list[np.ndarray] = field(default_factory=list)


@dataclass
class _Signal:
    indices: np.ndarray
    every: int  # steps
    steps: list[int] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)


class Recorder:
    def __init__(self, network: Network, dt: float) -> None:
        self.dt = dt
        self.spikes: dict[str, _Spikes] = {}
        self.signals: dict[tuple[str, str], _Signal] = {}
        for rec in network.recordings:
            size = network.node(rec.target).size
            if rec.variable == "spikes":
                entry = self.spikes.setdefault(rec.target, _Spikes(size, np.zeros(size, bool)))
                entry.mask[rec.indices] = True
            else:
                self._add_signal(rec)
        for entry in self.spikes.values():
            if entry.mask.all():
                entry.mask = None  # type: ignore[assignment]  # everything: skip the filter

    def _add_signal(self, rec: Recording) -> None:
        every = self._steps_per_sample(rec)
        key = (rec.target, rec.variable)
        old = self.signals.get(key)
        if old is not None and old.every != every:
            raise RecordingError(
                f"Recording of '{rec.target}'.{rec.variable}: sampled every {old.every} and "
                f"every {every} steps by two requests; record a variable at one interval"
            )
        indices = rec.indices if old is None else np.union1d(old.indices, rec.indices)
        self.signals[key] = _Signal(np.unique(indices).astype(np.intp), every)

    def _steps_per_sample(self, rec: Recording) -> int:
        if rec.sampling_interval is None:
            return 1
        ratio = rec.sampling_interval / self.dt
        every = round(ratio)
        if every < 1 or not math.isclose(ratio, every, rel_tol=1e-9, abs_tol=1e-9):
            raise RecordingError(
                f"Recording of '{rec.target}'.{rec.variable}: sampling_interval "
                f"{rec.sampling_interval:g} ms is not a whole number of timesteps "
                f"(dt = {self.dt:g} ms); use a multiple of dt"
            )
        return every

    def clear(self) -> None:
        for s in self.spikes.values():
            s.steps.clear()
            s.senders.clear()
        for a in self.signals.values():
            a.steps.clear()
            a.values.clear()

    def record_spikes(self, label: str, step: int, fired: np.ndarray) -> None:
        entry = self.spikes.get(label)
        if entry is None or fired.size == 0:
            return
        if entry.mask is not None:
            fired = fired[entry.mask[fired]]
            if fired.size == 0:
                return
        entry.steps.append(step)
        entry.senders.append(fired)

    def sample(self, step: int, get: Callable[[str, str], np.ndarray]) -> None:
        """Sample every signal due at the state reached after ``step`` steps."""
        for (label, variable), sig in self.signals.items():
            if step % sig.every == 0:
                sig.steps.append(step)
                sig.values.append(get(label, variable)[sig.indices])

    def spike_records(self) -> dict[str, SpikeRecord]:
        out = {}
        for label, entry in self.spikes.items():
            counts = [s.size for s in entry.senders]
            steps = np.repeat(np.asarray(entry.steps, dtype=np.int64), counts)
            senders = (np.concatenate(entry.senders).astype(np.int64) if entry.senders
                       else np.zeros(0, np.int64))
            order = np.lexsort((senders, steps))
            out[label] = SpikeRecord(steps[order] * self.dt, senders[order], entry.size)
        return out

    def analog_records(self) -> dict[tuple[str, str], AnalogRecord]:
        out = {}
        for key, sig in self.signals.items():
            values = (np.vstack(sig.values) if sig.values
                      else np.zeros((0, sig.indices.size)))
            out[key] = AnalogRecord(np.asarray(sig.steps) * self.dt, sig.indices.copy(),
                                    values, state_unit(key[1]).value)
        return out
