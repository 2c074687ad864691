"""DYNAP-SE routing timing: latency that really moves spikes in time.

DYNAP-SE has no clock: a spike reaches its synapses after the routers' latency, and
routers serve events one at a time (AER handshakes), so a burst queues.  Here an emitted
spike's arrival time is

    t_emit (inside its step, from the DPI kernel) + queueing at its core's arbiter
    + R1/R2/R3 latency along its route

and the engine delivers it at the start of the first step after it arrives: a spike whose
arrival crosses a step boundary is *shifted* a step later (a semantic effect, counted).
Latency and queueing figures are parameters of ``DynapseSpec`` marked [unverified].
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from toolchain.sim.interconnect import DROPPED, Interconnect
from toolchain.targets.dynapse.spec import DynapseSpec

# A spike still queued this many steps after it was emitted is lost: an arbiter's FIFO is
# finite.  [unverified: a model bound; with the default figures queues stay far shorter]
MAX_EXTRA_STEPS = 16


def route_latency(spec: DynapseSpec, source_core: np.ndarray, target_core: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Routing latency (ns) and R3 hops from each source core (-1: host) to its target core.

    Same core: R1 only.  Same chip: R2 then R1.  Another chip: R2, one R3 per mesh hop
    (Manhattan distance), R1.  Host input: the host link latency, then R2 and R1.
    """
    source_core = np.asarray(source_core)
    target_core = np.asarray(target_core)
    src_chip = np.where(source_core >= 0, source_core // spec.cores_per_chip, 0)
    dst_chip = target_core // spec.cores_per_chip
    xy = np.array([spec.chip_xy(c) for c in range(spec.chips)]).reshape(-1, 2)
    hops = np.abs(xy[src_chip] - xy[dst_chip]).sum(axis=1) * (source_core >= 0)
    latency = np.full(target_core.shape, spec.latency_r1, dtype=float)
    latency += np.where(source_core != target_core, spec.latency_r2, 0.0)
    latency += hops * spec.latency_r3_hop
    latency += np.where(source_core < 0, spec.host_input_latency, 0.0)
    return latency, hops


class RoutingDelays(Interconnect):
    """The engine's interconnect plug-in for DYNAP-SE (see the module docstring).

    ``latency`` maps a projection to the latency (ns) of each pre neuron's slowest route in
    it; ``pre_of`` a projection to its pre population/source; ``arbiter`` a pre
    population/source to the arbiter (source core, or -1 for the host link) of each neuron.
    ``offsets`` returns, for a pre label, the emission times (ms) inside the current step
    of the neurons that fired (None for spike sources, which emit at the step's start).
    """

    max_extra_delay = MAX_EXTRA_STEPS

    def __init__(self, spec: DynapseSpec, dt: float, latency: Mapping[str, np.ndarray],
                 pre_of: Mapping[str, str], arbiter: Mapping[str, np.ndarray]) -> None:
        self.spec = spec
        self.dt_ns = dt * 1e6
        self.latency = dict(latency)
        self.pre_of = dict(pre_of)
        self.arbiter = dict(arbiter)
        n_arbiters = spec.cores + 1  # + the host link
        self._busy = np.zeros(n_arbiters)
        self._emitted: dict[str, tuple[int, np.ndarray, np.ndarray]] = {}
        self.offsets = lambda label: None
        self.stats: dict[str, float] = {}
        self.reset()

    def reset(self) -> None:
        self._busy[:] = -math.inf
        self._emitted.clear()
        self.stats = {"route_latency_ns_sum": 0.0, "route_latency_ns_max": 0.0,
                      "queue_wait_ns_max": 0.0, "routed_spikes": 0.0}

    def route(self, step: int, projection: str, pre: np.ndarray) -> np.ndarray:
        label = self.pre_of[projection]
        emitted, departed = self._departures(step, label, pre)
        arrival = departed + self.latency[projection][pre]
        extra = np.maximum(np.ceil(arrival / self.dt_ns - 1e-9).astype(np.int64) - 1, 0)
        extra[extra > MAX_EXTRA_STEPS] = DROPPED
        latency = arrival - emitted  # queueing + routers, per spike
        if latency.size:  # added spike by spike, in order (as the compiled loop adds)
            self.stats["route_latency_ns_sum"] = float(np.cumsum(np.concatenate(
                ([self.stats["route_latency_ns_sum"]], latency)))[-1])
        self.stats["routed_spikes"] += float(latency.size)
        if latency.size:
            self.stats["route_latency_ns_max"] = max(self.stats["route_latency_ns_max"],
                                                     float(latency.max()))
        return extra

    def _departures(self, step: int, label: str, pre: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
        """When each spike of ``pre`` was emitted and when it leaves its arbiter, in ns
        after the step's start.

        An arbiter serves one event per ``arbitration_cycle``; a spike is served once
        however many projections it feeds, so the result is cached for the step.
        """
        cached = self._emitted.get(label)
        if cached is not None and cached[0] == step:
            return cached[1], cached[2]
        offsets = self.offsets(label)
        emit = np.zeros(pre.size) if offsets is None else np.asarray(offsets) * 1e6
        t0 = step * self.dt_ns
        arb = self.arbiter[label][pre]
        slot = np.where(arb >= 0, arb, self.spec.cores)
        departed = np.empty(pre.size)
        cycle = self.spec.arbitration_cycle
        for a in np.unique(slot):
            idx = np.flatnonzero(slot == a)
            idx = idx[np.argsort(emit[idx], kind="stable")]
            # a FIFO serving one event per cycle: the i-th event leaves at
            # (i + 1) cycles + max(busy, max over j <= i of (emit_j - j cycles))
            j = np.arange(idx.size)
            start = np.maximum.accumulate(np.maximum(emit[idx] - j * cycle,
                                                     self._busy[a] - t0))
            departed[idx] = start + (j + 1) * cycle
            self._busy[a] = departed[idx[-1]] + t0
        wait = departed - emit
        if wait.size:
            self.stats["queue_wait_ns_max"] = max(self.stats["queue_wait_ns_max"],
                                                  float(wait.max()))
        self._emitted[label] = (step, emit, departed)
        return emit, departed
