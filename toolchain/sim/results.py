"""What a simulation hands back, whatever ran it: the float reference, a target model, the
RTL or a board.  Plain arrays in IR units; conversion to Neo lives in the PyNN front end."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class SpikeRecord:
    """Spikes of one population: parallel arrays, sorted by time then neuron."""

    times: np.ndarray  # ms
    senders: np.ndarray  # neuron index within the population
    size: int  # population size, so silent neurons are known

    def trains(self) -> list[np.ndarray]:
        """One sorted array of spike times per neuron."""
        order = np.argsort(self.senders, kind="stable")
        counts = np.bincount(self.senders, minlength=self.size)
        return np.split(self.times[order], np.cumsum(counts)[:-1])

    @property
    def count(self) -> int:
        return int(self.times.size)


@dataclass
class AnalogRecord:
    """A sampled state variable: ``values[k, j]`` is neuron ``indices[j]`` at ``times[k]``."""

    times: np.ndarray  # ms
    indices: np.ndarray
    values: np.ndarray
    unit: str


@dataclass
class SimulationResult:
    """Recorded activity plus the counters a target model keeps (synaptic events etc.)."""

    target: str
    dt: float  # ms
    t_stop: float  # ms
    spikes: dict[str, SpikeRecord] = field(default_factory=dict)
    signals: dict[tuple[str, str], AnalogRecord] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)  # plastic projections, final
    counters: dict[str, float] = field(default_factory=dict)
    # counters resolved per timestep (e.g. "spikes", "synaptic_events"), one entry per step
    per_step: dict[str, np.ndarray] = field(default_factory=dict)
