"""What the engine records, as the network's ``Recording`` requests ask, into
:mod:`toolchain.sim.results` types.

Spikes carry the time of the start of the step they were emitted in (Brian2's and
pyNN.brian2's convention).  A state variable is sampled after each step whose end is a
multiple of the sampling interval, plus once at t = 0, so a run to T gives the samples at
0, interval, ..., T, like pyNN.brian2's recorder.  A current source's current ("i") is
sampled every step with the amplitude it injects during that step, at the step's start,
plus the one it would inject next at T: 0, dt, ..., T, as PyNN's current recording.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from toolchain.ir import Network, Recording
from toolchain.ir.network import CURRENT_VARIABLE, state_unit
from toolchain.sim.results import AnalogRecord, SpikeRecord


class RecordingError(ValueError):
    """A recording request the engine cannot honour."""


@dataclass
class _Spikes:
    size: int
    mask: np.ndarray
    steps: list[int] = field(default_factory=list)  # one entry per step with spikes
    senders: list[np.ndarray] = field(default_factory=list)
    # runs of many steps at once: (step, sender) per spike
    blocks: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)


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
        self.currents: dict[str, _Signal] = {}
        currents = {c.label for c in network.currents}
        for rec in network.recordings:
            if rec.target in currents:
                self.currents[rec.target] = _Signal(np.zeros(1, dtype=np.intp), 1)
                continue
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
            s.blocks.clear()
        for a in (*self.signals.values(), *self.currents.values()):
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

    def record_spike_block(self, label: str, steps: np.ndarray, fired: np.ndarray) -> None:
        """The spikes of many steps at once (``steps[i]``, ``fired[i]`` per spike)."""
        entry = self.spikes.get(label)
        if entry is None or fired.size == 0:
            return
        if entry.mask is not None:
            keep = entry.mask[fired]
            steps, fired = steps[keep], fired[keep]
        if fired.size:
            entry.blocks.append((steps, fired))

    def sample_block(self, label: str, variable: str, steps: np.ndarray,
                     values: np.ndarray) -> None:
        """Samples of many steps at once (one row of ``values`` per step)."""
        sig = self.signals[(label, variable)]
        sig.steps.extend(steps.tolist())
        if len(values):
            sig.values.append(values)

    def sample(self, step: int, get: Callable[[str, str], np.ndarray]) -> None:
        """Sample every signal due at the state reached after ``step`` steps."""
        for (label, variable), sig in self.signals.items():
            if step % sig.every == 0:
                sig.steps.append(step)
                sig.values.append(get(label, variable)[sig.indices])

    def sample_currents(self, step: int, value: Callable[[str], float]) -> None:
        """The amplitude each recorded current source injects during ``step``."""
        for label, sig in self.currents.items():
            sig.steps.append(step)
            sig.values.append(np.array([value(label)]))

    def spike_records(self) -> dict[str, SpikeRecord]:
        out = {}
        for label, entry in self.spikes.items():
            counts = [s.size for s in entry.senders]
            steps = np.concatenate([
                np.repeat(np.asarray(entry.steps, dtype=np.int64), counts),
                *(b[0].astype(np.int64) for b in entry.blocks)])
            senders = np.concatenate([
                np.zeros(0, np.int64), *(s.astype(np.int64) for s in entry.senders),
                *(b[1].astype(np.int64) for b in entry.blocks)])
            order = np.lexsort((senders, steps))
            out[label] = SpikeRecord(steps[order] * self.dt, senders[order], entry.size)
        return out

    def analog_records(self, next_currents: Callable[[str], float] | None = None
                       ) -> dict[tuple[str, str], AnalogRecord]:
        """Sampled signals; ``next_currents`` gives each recorded current's amplitude at
        the step after the last one run (the sample at t_stop)."""
        out = {}
        for key, sig in self.signals.items():
            out[key] = _record(sig.steps, sig.values, sig.indices, self.dt,
                               state_unit(key[1]).value)
        for label, sig in self.currents.items():
            steps, values = list(sig.steps), list(sig.values)
            if next_currents is not None:
                steps.append(steps[-1] + 1 if steps else 0)
                values.append(np.array([next_currents(label)]))
            out[(label, CURRENT_VARIABLE)] = _record(steps, values, sig.indices, self.dt, "nA")
        return out


def _record(steps: list[int], values: list[np.ndarray], indices: np.ndarray, dt: float,
            unit: str) -> AnalogRecord:
    stacked = np.vstack(values) if values else np.zeros((0, indices.size))
    return AnalogRecord(np.asarray(steps) * dt, indices.copy(), stacked, unit)
