"""Per-tick timing of SpiNNaker2 PEs: does each PE finish its tick's work before the next
timer tick, and what does the interconnect cost?

Two kinds of result, kept apart (FACTS.md, timing semantics):

* semantic effects: a multicast packet that its target PE has no cycles left to process in
  its tick is *late*; with ``late_spikes="drop"`` it is dropped (sPyNNaker's
  drop_late_spikes), with ``"defer"`` it is processed first thing next tick, so its synapses
  act one tick later than programmed (a shifted spike).
* physical cost: cycles and busy time per PE, packet latency (NoC + hops), energy.

Work model per PE and tick: ``overhead + neurons x cycles_per_neuron_update x`` the cell
type's cost (spec.NEURON_UPDATE_COST) for the timer interrupt and neuron update, then
every arriving packet costs ``cycles_per_packet + row_length x cycles_per_synaptic_event``,
until ``pe_clock_hz x tick`` cycles are used up.  A packet that does not fit is late.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolchain.sim.interconnect import DROPPED, Interconnect, TickBudget
from toolchain.targets.spinnaker2.spec import SpiNNaker2Spec

# Packets a PE must expect in its worst tick, as the Poisson excess over the mean: mean +
# PEAK_SIGMAS standard deviations + PEAK_EXTRA.  For the small means of a 0.1 ms tick (well
# under one packet) a Poisson count exceeds mean + 3 sqrt(mean) + 3 in about 1e-5 of the
# ticks; for large means in about 1e-3.  Correlated bursts exceed it more often, which the
# simulation counts as late packets.  [assumption; a sizing rule, not a hardware constant]
PEAK_SIGMAS = 3.0
PEAK_EXTRA = 3.0


def worst_tick_cycles(spec: SpiNNaker2Spec, neurons: np.ndarray, rows: np.ndarray,
                      packets: np.ndarray, events: np.ndarray,
                      learning: np.ndarray | float = 0.0,
                      post_spikes: np.ndarray | float = 0.0,
                      update_cycles: np.ndarray | float | None = None) -> np.ndarray:
    """Estimated cycles of a PE's busiest tick, per candidate slice.

    ``neurons`` per slice; ``rows`` the synapse rows it holds (a packet can arrive for each
    per tick); ``packets`` and ``events`` the packets and synaptic events expected per tick
    (rows and synapses times each source's firing probability per tick); ``learning`` the
    expected extra cycles of plastic synapses per tick (stdp.py), which grow with the
    packets; ``post_spikes`` the expected cycles of adding post spikes to the STDP
    histories; ``update_cycles`` one neuron's update (default cycles_per_neuron_update,
    spec.neuron_update_cycles gives a cell type's).  The mapper sizes slices with it so
    that a PE meets its timer tick; the simulation then measures what really happens.
    """
    if update_cycles is None:
        update_cycles = spec.cycles_per_neuron_update
    rows = np.asarray(rows, np.float64)
    mean = np.asarray(packets, np.float64)
    worst = np.minimum(mean + PEAK_SIGMAS * np.sqrt(mean) + PEAK_EXTRA, rows)
    per_packet = np.divide(events, mean, out=np.zeros_like(mean), where=mean > 0)
    plastic = np.divide(learning, mean, out=np.zeros_like(mean), where=mean > 0)
    return (spec.cycles_per_tick_overhead + np.asarray(neurons) * update_cycles
            + post_spikes
            + worst * (spec.cycles_per_packet + per_packet * spec.cycles_per_synaptic_event
                       + plastic))


@dataclass(frozen=True)
class Row:
    """The synapses of one projection into one target PE through one delay path: what a
    multicast packet from a pre neuron makes that PE process."""

    target: int  # receiving slice id
    stage: int  # delay-extension stages passed (0 = direct)
    via: int  # the delay slice the spike passes first, or -1
    length: np.ndarray  # synapses in the row, per pre neuron
    hops: int  # chip-to-chip hops from the sender's chip to the target's
    via_hops: int  # hops from the source to the delay slice (0 if none)
    plastic_cycles: float = 0.0  # extra cycles per synapse of a plastic row (stdp.py)
    release_cycles: float = 0.0  # extra cycles per synapse of a row with synapse dynamics


@dataclass
class TimingCounters:
    """Totals over a run; semantic and physical kept in separate name spaces."""

    ticks: int = 0
    packets: int = 0
    synaptic_events: int = 0
    plastic_updates: int = 0  # synaptic events of plastic rows (each a weight update)
    neuron_updates: int = 0
    hops: int = 0
    late_packets: int = 0
    dropped_packets: int = 0
    deferred_packets: int = 0
    dropped_synaptic_events: int = 0
    deferred_synaptic_events: int = 0
    overrun_pe_ticks: int = 0  # PE-ticks whose demanded work exceeded the tick
    max_utilisation: float = 0.0  # largest demanded / available cycles of a PE in a tick
    # packets per latency (ns): latencies take few distinct values (hop counts), so a
    # histogram keeps mean and percentiles exact without storing every packet
    latency_ns: dict[float, int] = field(default_factory=dict)

    def as_dict(self, spec: SpiNNaker2Spec, n_pes: int) -> dict[str, float]:
        values = np.array(sorted(self.latency_ns) or [0.0])
        counts = np.array([self.latency_ns[v] for v in sorted(self.latency_ns)] or [1])
        cum = np.cumsum(counts)
        p99 = float(values[np.searchsorted(cum, 0.99 * cum[-1])])
        energy = (self.synaptic_events * spec.energy_per_synaptic_event_j
                  + self.plastic_updates * spec.energy_per_plastic_update_j
                  + self.neuron_updates * spec.energy_per_neuron_update_j
                  + self.hops * spec.energy_per_hop_j
                  + n_pes * spec.static_power_per_pe_w * self.ticks * spec.tick_ms * 1e-3)
        return {
            "semantic.late_packets": self.late_packets,
            "semantic.dropped_packets": self.dropped_packets,
            "semantic.deferred_packets": self.deferred_packets,
            "semantic.dropped_synaptic_events": self.dropped_synaptic_events,
            "semantic.shifted_synaptic_events": self.deferred_synaptic_events,
            "physical.ticks": self.ticks,
            "physical.packets": self.packets,
            "physical.synaptic_events": self.synaptic_events,
            "physical.plastic_updates": self.plastic_updates,
            "physical.neuron_updates": self.neuron_updates,
            "physical.hops": self.hops,
            "physical.overrun_pe_ticks": self.overrun_pe_ticks,
            "physical.max_pe_demand": self.max_utilisation,
            "physical.latency_ns_mean": float((values * counts).sum() / counts.sum()),
            "physical.latency_ns_p99": p99,
            "physical.energy_j": energy,
            "physical.wall_time_s": self.ticks * spec.tick_ms * 1e-3,  # real-time machine
        }


class TickTiming(Interconnect):
    """SpiNNaker2's interconnect and PE time budget as the shared engine's ``Interconnect``.

    The engine asks per step and projection which spikes arrive late; projections are
    split by the simulator into one per (projection, target PE, delay stage), so that a
    spike of one such projection is exactly one packet.  A packet that passes delay
    stages is charged to the tick it reaches its target PE, ``stage x max_delay_ticks``
    after it was sent; a tick's budget is handed out first come, first served, in the
    order the engine routes (populations, then sources, in network order).
    """

    def __init__(self, spec: SpiNNaker2Spec, neurons_per_slice: np.ndarray,
                 rows: dict[str, Row], post_spike_cycles: np.ndarray | float = 0.0,
                 update_cycles: np.ndarray | float | None = None) -> None:
        self.spec = spec
        self.rows = rows
        self.neurons = np.asarray(neurons_per_slice, np.int64)
        if update_cycles is None:  # per slice, one neuron's update (its cell type's)
            update_cycles = spec.cycles_per_neuron_update
        # the expected cost of adding post spikes to the STDP histories rides on the fixed
        # work of the tick (the engine reports spikes to the timing model as packets)
        fixed = (spec.cycles_per_tick_overhead + self.neurons * update_cycles
                 + post_spike_cycles)
        self.fixed = fixed.astype(np.float64)
        self.max_extra_delay = 1 if spec.late_spikes == "defer" else 0
        self.reset()

    def reset(self) -> None:
        self.counters = TimingCounters()
        self._used: dict[int, np.ndarray] = {}  # tick -> cycles used per slice so far
        self._finished = 0  # ticks whose ledger is closed

    def _ledger(self, tick: int) -> np.ndarray:
        if tick not in self._used:
            horizon = tick - 2 * self.spec.max_extended_delay_ticks
            for old in [k for k in self._used if k < horizon]:
                self._finish(self._used.pop(old))
            self._used[tick] = np.stack([self.fixed, self.fixed])  # processed, demanded
        return self._used[tick]

    def _finish(self, used: np.ndarray) -> None:
        c = self.counters
        self._finished += 1
        util = used[1] / self.spec.cycles_per_tick  # demand: late packets included
        c.overrun_pe_ticks += int((util > 1).sum())
        c.max_utilisation = max(c.max_utilisation, float(util.max()) if util.size else 0.0)

    def route(self, step: int, projection: str, pre: np.ndarray) -> np.ndarray | None:
        spec, c = self.spec, self.counters
        row = self.rows[projection]
        length = row.length[pre]
        extra = np.zeros(pre.size, np.int64)
        late = np.zeros(pre.size, bool)
        if row.via >= 0:  # the delay-extension PE takes the spike first
            late |= self._charge(step, row.via, np.full(pre.size, spec.cycles_per_packet,
                                                        np.float64))
            c.hops += row.via_hops * pre.size
        arrive = step + row.stage * spec.max_delay_ticks
        cost = spec.cycles_per_packet + length * (float(spec.cycles_per_synaptic_event)
                                                  + row.plastic_cycles + row.release_cycles)
        late |= self._charge(arrive, row.target, cost)
        n_late = int(late.sum())
        c.packets += pre.size
        c.hops += row.hops * pre.size
        latency = self._latency(row)
        c.latency_ns[latency] = c.latency_ns.get(latency, 0) + pre.size
        c.synaptic_events += int(length[~late].sum())
        if row.plastic_cycles:
            c.plastic_updates += int(length[~late].sum())
        c.late_packets += n_late
        if not n_late:
            return None
        late_events = int(length[late].sum())
        if spec.late_spikes == "drop":
            c.dropped_packets += n_late
            c.dropped_synaptic_events += late_events
            extra[late] = DROPPED
        else:  # processed first thing next tick: charged there, acts one tick late
            self._ledger(arrive + 1)[:, row.target] += cost[late].sum()
            c.deferred_packets += n_late
            c.deferred_synaptic_events += late_events
            c.synaptic_events += late_events
            if row.plastic_cycles:
                c.plastic_updates += late_events
            extra[late] = 1
        return extra

    def _latency(self, row: Row) -> float:
        """A packet's latency (ns): the NoC at both ends and the chip-to-chip hops."""
        return 2 * self.spec.noc_latency_ns + (row.hops + row.via_hops) * self.spec.hop_latency_ns

    def _charge(self, tick: int, slice_id: int, cost: np.ndarray) -> np.ndarray:
        """Charge packets in order; True where a packet no longer fits the tick.  A late
        packet costs the tick nothing (it is dropped or carried over) but counts as demand."""
        used = self._ledger(tick)
        total = used[0, slice_id] + np.cumsum(cost)
        late = total > self.spec.cycles_per_tick
        if total.size:
            used[1, slice_id] += total[-1] - used[0, slice_id]
            used[0, slice_id] = total[~late][-1] if (~late).any() else used[0, slice_id]
        return late

    def compiled_form(self, labels: list[str], k0: int) -> TickBudget:
        """The budget of a compiled run from step ``k0`` (:class:`TickBudget`), the
        projections ``labels`` in the loop's order: the ledger of the ticks still open
        moves into it, and ``restore`` brings it back with the run's counts, so that the
        step-by-step path can go on from where the loop stopped."""
        spec = self.spec
        rows = [self.rows[label] for label in labels]
        offset = np.array([r.stage * spec.max_delay_ticks for r in rows], np.int64)
        horizon = int(offset.max(initial=0)) + 2  # (a deferred packet: one tick further)
        for tick in sorted(t for t in self._used if t < k0):  # they take no more packets
            self._finish(self._used.pop(tick))
        ledger = np.empty((horizon, 2, self.fixed.size))
        ledger[:] = self.fixed
        for tick, used in self._used.items():
            ledger[tick % horizon] = used
        self._used.clear()
        budget = TickBudget(
            np.array([r.target for r in rows], np.int64), np.array([r.via for r in rows],
                                                                   np.int64), offset,
            np.array([float(spec.cycles_per_synaptic_event) + r.plastic_cycles
                      + r.release_cycles for r in rows]),
            float(spec.cycles_per_packet), spec.cycles_per_tick, spec.late_spikes == "defer",
            self.fixed, ledger, lambda k1: self._restore(budget, rows, k0, k1))
        return budget

    def _restore(self, budget: TickBudget, rows: list[Row], k0: int, k1: int) -> None:
        c = self.counters
        defer = budget.defer
        for row, (packets, late, late_events, on_time) in zip(rows, budget.counts.tolist(),
                                                              strict=True):
            if not packets:
                continue
            c.packets += packets
            c.hops += (row.hops + row.via_hops) * packets
            latency = self._latency(row)
            c.latency_ns[latency] = c.latency_ns.get(latency, 0) + packets
            events = on_time + (late_events if defer else 0)
            c.synaptic_events += events
            if row.plastic_cycles:
                c.plastic_updates += events
            c.late_packets += late
            if defer:
                c.deferred_packets += late
                c.deferred_synaptic_events += late_events
            else:
                c.dropped_packets += late
                c.dropped_synaptic_events += late_events
        c.overrun_pe_ticks += int(budget.stats[0])
        c.max_utilisation = max(c.max_utilisation, float(budget.stats[1]))
        self._finished += k1 - k0
        horizon = budget.ledger.shape[0]
        for tick in range(k1, k1 + horizon):  # the ticks still open, back into the ledger
            used = budget.ledger[tick % horizon]
            if not np.array_equal(used[0], self.fixed) or not np.array_equal(used[1],
                                                                             self.fixed):
                self._used[tick] = used.copy()

    def summary(self, steps: int, n_pes: int) -> dict[str, float]:
        """Counters after ``steps`` ticks; ticks that saw no packet count their fixed work."""
        for tick in sorted(self._used):
            if tick < steps:
                self._finish(self._used.pop(tick))
        c = self.counters
        quiet = max(0, steps - self._finished)  # ticks in which no packet arrived
        self._finished += quiet
        fixed_util = self.fixed / self.spec.cycles_per_tick
        c.overrun_pe_ticks += quiet * int((fixed_util > 1).sum())
        if fixed_util.size:
            c.max_utilisation = max(c.max_utilisation, float(fixed_util.max()))
        c.ticks = steps
        c.neuron_updates = int(self.neurons.sum()) * steps
        return c.as_dict(self.spec, n_pes)
