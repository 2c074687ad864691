"""Recorded data, read from the target simulator's ``SimulationResult`` into PyNN's Neo path.

Recording requests become ``ir.Recording`` entries when the network is compiled; here the
results come back, keyed by the IR label of the population, and are cut to what PyNN
asks for (the cells, and the time since the last ``clear``).
"""

from __future__ import annotations

import numpy as np
from pyNN import errors, recording

from toolchain.ir.network import CURRENT_VARIABLE
from toolchain.pynn import simulator


class NotRecordedError(errors.RecordingError):
    """Data asked for that was not recorded (PyNN's RecordingError, with a message)."""

    def __init__(self, message: str) -> None:
        Exception.__init__(self, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def current_trace(source: object) -> tuple[np.ndarray, np.ndarray]:
    """The current a recorded current source injected, sampled every step from 0 to now
    (PyNN's ``StandardCurrentSource.get_data``)."""
    state = simulator.state
    result = state.result()
    labels = state.built.currents.get(id(source)) if state.built is not None else None
    if result is None or not labels or (labels[0], CURRENT_VARIABLE) not in result.signals:
        raise NotRecordedError(
            f"{type(source).__name__} was not recorded: call its record() before run()")
    record = result.signals[(labels[0], CURRENT_VARIABLE)]
    return np.asarray(record.times, dtype=float), np.asarray(record.values[:, 0], dtype=float)


class Recorder(recording.Recorder):
    _simulator = simulator

    def __init__(self, population: object, file: object = None) -> None:
        super().__init__(population, file)
        self._t_clear = 0.0

    def _record(self, variable: object, new_ids: object, sampling_interval: float | None = None
                ) -> None:
        if sampling_interval is not None:
            self.sampling_interval = sampling_interval
        simulator.state.changed(f"recording of population '{self.population.label}'")

    def _reset(self) -> None:
        simulator.state.changed(f"recording of population '{self.population.label}'")

    def _clear_simulator(self) -> None:
        self._t_clear = simulator.state.t

    def store_to_cache(self, annotations: dict | None = None) -> None:
        super().store_to_cache(annotations)
        self._t_clear = 0.0

    # -- reading results ---------------------------------------------------------------
    def _get_current_segment(self, filter_ids: object = None, variables: object = "all",
                             clear: bool = False) -> object:
        # PyNN labels a signal's samples with the recorder's sampling interval; a target
        # that runs on a coarser step than the script's dt (an approximated compile, e.g.
        # SpiNNaker2's 0.1 ms tick under a 0.01 ms script) samples at that step, and its
        # signals must say so, not stretch 0.1 ms samples over 0.01 ms.
        asked = self.sampling_interval
        self.sampling_interval = max(asked, self._sampled_step())
        try:
            return super()._get_current_segment(filter_ids, variables, clear)
        finally:
            self.sampling_interval = asked

    def _sampled_step(self) -> float:
        """The step the target ran the network on (ms), or 0 before any run."""
        result = simulator.state.result()
        return 0.0 if result is None else float(result.dt)

    def _ir_label(self) -> str:
        return simulator.state.built.labels[id(self.population)]

    def _spikes(self) -> tuple[np.ndarray, np.ndarray]:
        result = simulator.state.result()
        if result is None:
            return np.zeros(0, dtype=int), np.zeros(0)
        record = result.spikes.get(self._ir_label())
        if record is None:
            return np.zeros(0, dtype=int), np.zeros(0)
        times = np.asarray(record.times, dtype=float)
        ids = np.asarray(record.senders, dtype=np.int64) + int(self.population.first_id)
        if self._t_clear > 0:
            keep = times > self._t_clear
            times, ids = times[keep], ids[keep]
        return ids, times

    def _get_spiketimes(self, requested_ids: object, clear: bool = False
                        ) -> tuple[np.ndarray, np.ndarray]:
        ids, times = self._spikes()
        mask = np.isin(ids, np.asarray(list(requested_ids), dtype=np.int64))
        return ids[mask], times[mask].copy()

    def _get_all_signals(self, variable: object, ids: list, clear: bool = False
                         ) -> tuple[np.ndarray, None]:
        indices = np.asarray([self.population.id_to_index(i) for i in ids], dtype=np.int64)
        state = simulator.state
        result = state.result()
        record = None if result is None else result.signals.get((self._ir_label(),
                                                                  variable.name))
        if record is None or indices.size == 0:
            return np.zeros((0, indices.size)), None
        columns = np.searchsorted(np.asarray(record.indices), indices)
        values = np.asarray(record.values, dtype=float)[:, columns]
        times = np.asarray(record.times, dtype=float)
        # PyNN's signals start at the beginning of the segment with the initial value;
        # a target that samples after each step has no row for t = 0.
        if times.size == 0 or times[0] > state.dt / 2:
            initial = self.population._initial[variable.name][indices]
            values = np.vstack([initial[None, :], values])
            times = np.concatenate([[0.0], times])
        keep = times >= self._t_clear - state.dt / 2
        return values[keep], None

    def _local_count(self, variable: object, filter_ids: object = None) -> dict[int, int]:
        wanted = sorted(self.filter_recorded(variable, filter_ids))
        ids, _ = self._spikes()
        counts = np.bincount(ids - int(self.population.first_id), minlength=self.population.size)
        first = int(self.population.first_id)
        return {int(i): int(counts[int(i) - first]) for i in wanted}
