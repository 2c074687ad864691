"""DYNAP-SE on the shared engine: DPI kernels, realised weights and routing delays plugged in.

Nothing here steps time itself: :class:`~toolchain.sim.engine.Engine` does, with
:class:`DynapseNumerics` (mismatched DPI kernels; weights as the mapper realised them) and
:class:`~toolchain.targets.dynapse.timing.RoutingDelays` as its interconnect.  The engine
runs a copy of the network whose delays are all one step: DYNAP-SE has no programmable
delays, so a spike is delivered at the start of the first step after it arrives.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from toolchain.ir import Network, Population, Projection
from toolchain.sim.engine import Engine
from toolchain.sim.kernels import NeuronKernel
from toolchain.sim.numerics import Numerics
from toolchain.sim.plasticity import PlasticityModel
from toolchain.sim.results import SimulationResult
from toolchain.sim.synapses import SynapseMatrix, WeightCodec
from toolchain.targets.dynapse.mapper import DynapseMapping
from toolchain.targets.dynapse.numerics.dpi import (
    DELTA_T_MV,
    MAX_SUBSTEP_MS,
    DPIKernel,
    apply_mismatch,
    map_population,
)
from toolchain.targets.dynapse.spec import Generation
from toolchain.targets.dynapse.timing import RoutingDelays


class RealisedWeights(WeightCodec):
    """Weights as the chip applies them: a whole number of CAM entries of the core's base
    weight (SE1) or a mask sum of its base currents (SE2), in IR units.

    The compiled weights come from the mapper (which shares a merged multapse's CAM
    entries among its synapses); weights set later are rounded the same way per synapse.
    """

    dtype: ClassVar[np.dtype] = np.dtype(np.float64)

    def __init__(self, compiled: np.ndarray, realised: np.ndarray, base: np.ndarray,
                 levels: np.ndarray | None) -> None:
        self._compiled, self._realised = compiled, realised
        self._base, self._levels = base, levels

    def encode(self, weights: np.ndarray) -> np.ndarray:
        w = np.asarray(weights, dtype=np.float64)
        if w.shape == self._compiled.shape and np.array_equal(w, self._compiled):
            return self._realised.copy()
        mag = np.abs(w) / np.where(self._base > 0, self._base, np.inf)
        if self._levels is None:  # SE1: multiplicity, at least one entry for a nonzero weight
            units = np.where(w != 0, np.maximum(np.rint(mag), 1.0), 0.0)
        else:
            units = self._levels[np.argmin(np.abs(mag[:, None] - self._levels[None, :]), axis=1)]
            units[w == 0] = 0.0
        return np.sign(w) * units * self._base

    def decode(self, stored: np.ndarray) -> np.ndarray:
        return np.array(stored, dtype=np.float64)

    def drive(self, stored: np.ndarray) -> np.ndarray:
        return stored


class DynapseNumerics(Numerics):
    """DPI kernels with seeded mismatch, and realised weights, from a ``DynapseMapping``."""

    def __init__(self, mapping: DynapseMapping, *, seed: int, mismatch: float,
                 delta_t: float = DELTA_T_MV, max_substep: float = MAX_SUBSTEP_MS) -> None:
        self.mapping = mapping
        self.seed, self.mismatch = seed, mismatch
        self.delta_t, self.max_substep = delta_t, max_substep

    def kernel(self, population: Population, dt: float) -> NeuronKernel:
        circuits = self.mapping.circuits[population.label]
        params = apply_mismatch(map_population(population, circuits, delta_t=self.delta_t),
                                self.mismatch, self.seed, population.label)
        return DPIKernel(population, dt, params, circuits, max_substep=self.max_substep)

    def weights(self, projection: Projection, post: Population) -> WeightCodec:
        pm = self.mapping.held(projection.label)
        order = np.argsort(projection.pre_index, kind="stable")  # the engine's pre order
        core = self.mapping.placement[post.label].core[projection.post_index]
        bases = {(c.core, t): b for c in self.mapping.cores for t, b in c.base_weight.items()}
        base = np.array([bases.get((int(c), pm.synapse_type), 0.0) for c in core]) / pm.scale
        levels = None
        if self.mapping.spec.generation is Generation.SE2:
            cur = self.mapping.spec.base_currents
            levels = np.array([sum(cur[b] for b in range(len(cur)) if m >> b & 1)
                               for m in range(2 ** len(cur))], dtype=float)
        return RealisedWeights(projection.weight[order].astype(np.float64),
                               pm.realised_weight[order], base[order], levels)

    def plasticity(self, projection: Projection, matrix: SynapseMatrix, codec: WeightCodec,
                   dt: float) -> PlasticityModel:
        raise ValueError(f"Projection '{projection.label}': DYNAP-SE has no on-chip plasticity")


class DynapseSimulator:
    """The engine running a compiled DYNAP-SE network, plus the routing and energy counters.

    The engine runs the network as the chip holds it: biases merged where the compile
    merged them, only the synapses that have CAM words (a fan-in pruned by fit='approximate'
    drops some; they read back as weight 0), every delay one step."""

    def __init__(self, network: Network, mapping: DynapseMapping, *, seed: int,
                 mismatch: float, delta_t: float = DELTA_T_MV,
                 max_substep: float = MAX_SUBSTEP_MS) -> None:
        self.mapping = mapping
        self.network = network
        held = mapping.on_chip()
        self._kept = {p.label: mapping.projections[p.label].kept for p in held.projections}
        one_step = held.replace(projections=tuple(
            dataclasses.replace(p, delay=np.full(p.size, network.dt, dtype=np.float32))
            for p in held.projections))
        self._on_chip = one_step
        self.interconnect = _routing(one_step, mapping)
        numerics = DynapseNumerics(mapping, seed=seed, mismatch=mismatch, delta_t=delta_t,
                                   max_substep=max_substep)
        self.engine = Engine(one_step, numerics=numerics, interconnect=self.interconnect,
                             target="dynapse")
        kernels = self.engine.kernels
        self.interconnect.offsets = lambda label: (
            kernels[label].spike_offsets if label in kernels else None)

    # -- the Simulator protocol, delegated -------------------------------------------
    @property
    def t(self) -> float:
        return self.engine.t

    def run_until(self, t_stop: float) -> None:
        self.engine.run_until(t_stop)

    def run(self, duration: float) -> None:
        self.engine.run(duration)

    def weights(self, projection: str) -> np.ndarray:
        kept = self._kept.get(projection)
        if kept is None:
            return self.engine.weights(projection)
        out = np.zeros(kept.size)
        out[kept] = self.engine.weights(projection)
        return out

    def set_weights(self, projection: str, values: np.ndarray) -> None:
        """Weights of synapses the chip holds; a pruned synapse has no CAM word, so it
        stays 0 whatever it is set to (as a weight that quantises to 0)."""
        kept = self._kept.get(projection)
        if kept is None:
            self.engine.set_weights(projection, values)
            return
        arr = np.asarray(values, np.float64)
        arr = np.full(kept.size, float(arr)) if arr.ndim == 0 else arr
        if arr.shape != kept.shape:
            raise ValueError(f"Projection '{projection}': {arr.size} weights given for "
                             f"{kept.size} synapses; give one weight per synapse in IR order")
        self.engine.set_weights(projection, arr[kept])

    def get_state(self, population: str, variable: str) -> np.ndarray:
        return self.engine.get_state(population, variable)

    def set_state(self, population: str, variable: str, values: np.ndarray) -> None:
        self.engine.set_state(population, variable, values)

    def reset(self) -> None:
        self.engine.reset()

    def result(self) -> SimulationResult:
        res = self.engine.result()
        stats = self.interconnect.stats
        routed = stats["routed_spikes"]
        res.counters["route_latency_ns_mean"] = (
            stats["route_latency_ns_sum"] / routed if routed else 0.0)
        res.counters["route_latency_ns_max"] = stats["route_latency_ns_max"]
        res.counters["queue_wait_ns_max"] = stats["queue_wait_ns_max"]
        res.counters.update(energy_pj(self._on_chip, self.mapping, res))
        # continuous time: the chip runs in real time, one ms of model time per ms
        res.counters["wall_ns_per_step"] = self.network.dt * 1e6
        return res


def _routing(network: Network, mapping: DynapseMapping) -> RoutingDelays:
    """Routing latencies of the network the engine runs (the synapses the chip holds)."""
    latency, pre_of = {}, {}
    for proj in network.projections:
        n_pre = network.node(proj.pre).size
        slowest = np.zeros(n_pre)
        np.maximum.at(slowest, proj.pre_index,
                      mapping.held(proj.label).latency_ns)
        latency[proj.label] = slowest
        pre_of[proj.label] = proj.pre
    arbiter = {label: pl.core.astype(np.int64) for label, pl in mapping.placement.items()}
    for src in network.sources:
        arbiter[src.label] = np.full(src.size, -1, dtype=np.int64)
    return RoutingDelays(mapping.spec, network.dt, latency, pre_of, arbiter)


def energy_pj(network: Network, mapping: DynapseMapping, result: SimulationResult
              ) -> dict[str, float]:
    """Energy of the recorded activity, from per-event figures of ``DynapseSpec``.

    Each spike: one generation, one R1 broadcast per destination core, one R2 transfer per
    destination core other than its own, one R3 transfer per chip-to-chip hop; each
    synaptic event (CAM match) its own figure.  Spikes of unrecorded populations are
    estimated from the engine's per-population spike counters (uniform over neurons).
    """
    spec = mapping.spec
    e_spikes = e_route = 0.0
    for node in (*network.populations, *network.sources):
        count = result.counters.get(f"spikes/{node.label}", 0.0)
        if count == 0:
            continue
        projs = [p for p in network.projections if p.pre == node.label]
        if not projs:
            if node.label in mapping.placement:
                e_spikes += count * spec.energy_spike
            continue
        per_neuron = _spikes_per_neuron(result, node.label, node.size, count)
        if node.label in mapping.placement:
            e_spikes += count * spec.energy_spike
            own = mapping.placement[node.label].core
        else:
            own = np.full(node.size, -1)
        pre = np.concatenate([p.pre_index for p in projs])
        dst = np.concatenate([mapping.placement[p.post].core[p.post_index] for p in projs])
        hops = np.concatenate([mapping.held(p.label).hops for p in projs])
        pairs, first = np.unique(np.stack([pre, dst], axis=1), axis=0, return_index=True)
        cost = (spec.energy_r1 + np.where(own[pairs[:, 0]] != pairs[:, 1], spec.energy_r2, 0.0)
                + hops[first] * spec.energy_r3_hop)
        e_route += float(np.sum(per_neuron[pairs[:, 0]] * cost))
    events = sum(v for k, v in result.counters.items() if k.startswith("synaptic_events/"))
    e_syn = events * spec.energy_synapse
    steps = max(result.counters.get("steps", 0.0), 1.0)
    total = e_spikes + e_route + e_syn
    return {"energy_spikes_pj": e_spikes, "energy_routing_pj": e_route,
            "energy_synapses_pj": e_syn, "energy_pj": total, "energy_pj_per_step": total / steps}


def _spikes_per_neuron(result: SimulationResult, label: str, size: int, count: float
                       ) -> np.ndarray:
    rec = result.spikes.get(label)
    if rec is not None and rec.size == size and rec.count == count:
        return np.bincount(rec.senders, minlength=size).astype(float)
    return np.full(size, count / size)
