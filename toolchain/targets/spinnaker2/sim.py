"""Co-simulation of a mapped network on SpiNNaker2, on the shared timestep engine.

SpiNNaker2 plugs three things into :class:`toolchain.sim.engine.Engine`:

* :class:`S2Numerics`: the PE's LIF kernels (:mod:`numerics`) and 16-bit weight words at
  the post population's scale, delivered as integers into the engine's ring buffers;
* :class:`~toolchain.targets.spinnaker2.timing.TickTiming`: the PE time budget and the
  interconnect, deciding which packets are late (dropped or deferred a tick);
* a machine-level copy of the network in which every projection is split into one
  projection per (target PE, delay stage), so that one spike of it is one multicast
  packet, delays are whole timer ticks, and the step is the timer tick.

The engine's schedule is Brian2's (input arriving in tick t acts from t + 1); sPyNNaker's
own loop applies it within tick t.  Keeping the shared schedule means a deviation from the
float reference shows the hardware's arithmetic and timing only.
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from toolchain.ir import Network, Population, Projection
from toolchain.ir.network import SynapseDynamics, per_synapse_parameters
from toolchain.sim.engine import Engine
from toolchain.sim.kernels import NeuronKernel, RunTimeChangeError
from toolchain.sim.numerics import Numerics
from toolchain.sim.plasticity import PlasticityModel
from toolchain.sim.results import SimulationResult
from toolchain.sim.synapses import SynapseMatrix, WeightCodec
from toolchain.targets.spinnaker2.mapper import Mapping
from toolchain.targets.spinnaker2.numerics import (
    NumericsError,
    dequantise_weights,
    pe_kernel,
    quantise_weights,
    synapse_types,
)
from toolchain.targets.spinnaker2.spec import COARSER_TICK, SpiNNaker2Spec
from toolchain.targets.spinnaker2.stdp import PostHistory, SpiNNaker2STDP
from toolchain.targets.spinnaker2.timing import Row, TickTiming

SPLIT = "@"  # machine-level projection label: "<projection>@<target slice>.<stage>"


class WordWeights(WeightCodec):
    """Weights as unsigned 16-bit words of scale 2**frac_bits; the receptor gives the sign."""

    dtype = np.dtype(np.int64)

    def __init__(self, frac_bits: int, negative: bool, label: str, weight_bits: int) -> None:
        self.frac_bits, self.negative = frac_bits, negative
        self.label, self.weight_bits = label, weight_bits

    def encode(self, weights: np.ndarray) -> np.ndarray:
        weights = np.asarray(weights, np.float64)
        wrong = weights > 0 if self.negative else weights < 0
        if wrong.any():
            i = int(np.flatnonzero(wrong)[0])
            raise ValueError(
                f"Projection '{self.label}' weight[{i}] = {weights[i]:g} has the wrong sign: "
                f"its synapse type stores magnitudes of {'<= 0' if self.negative else '>= 0'} "
                "weights; flip the sign"
            )
        try:
            return quantise_weights(weights, self.frac_bits,
                                    what=f"Projection '{self.label}'",
                                    weight_bits=self.weight_bits)
        except NumericsError:
            # at run time the scale is the one the PEs were loaded with: say what it holds
            largest = ((1 << self.weight_bits) - 1) * 2.0**-self.frac_bits
            i = int(np.argmax(np.abs(weights)))
            raise NumericsError(
                f"Projection '{self.label}' weight[{i}] = {weights[i]:g} is beyond the "
                f"{largest:g} its PE's 16-bit weight words were scaled for when the network "
                f"was loaded (2^-{self.frac_bits} per step); set weights within it, or call "
                "reset() first, so that the next run loads a scale for the new weights"
            ) from None

    def decode(self, stored: np.ndarray) -> np.ndarray:
        w = dequantise_weights(stored, self.frac_bits)
        return -w if self.negative else w

    def drive(self, stored: np.ndarray) -> np.ndarray:
        return stored


class S2Numerics(Numerics):
    """The arithmetic of a SpiNNaker2 PE for the shared engine."""

    def __init__(self, mapping: Mapping) -> None:
        self.mapping = mapping
        self.histories: dict[str, PostHistory] = {}  # post spike history per population

    def kernel(self, population: Population, dt: float) -> NeuronKernel:
        types = synapse_types(population)
        fb = {r: self.mapping.frac_bits[(population.label, r)] for r in types}
        negative = frozenset(r for r in types if (population.label, r) in self.mapping.negative)
        return pe_kernel(population, dt, numerics=self.mapping.spec.numerics, frac_bits=fb,
                         negative=negative)

    def weights(self, projection: Projection, post: Population) -> WordWeights:
        negative = (post.label, projection.receptor) in self.mapping.negative
        return WordWeights(self.mapping.frac_bits[(post.label, projection.receptor)], negative,
                           projection.label.split(SPLIT)[0], self.mapping.spec.weight_bits)

    def plasticity(self, projection: Projection, matrix: SynapseMatrix, codec: WeightCodec,
                   dt: float) -> PlasticityModel:
        """Pair STDP as the PE runs it (stdp.py); every plastic projection into a
        population shares its post spike history (the mapper checked they share a rule)."""
        rule = projection.plasticity
        assert rule is not None and isinstance(codec, WordWeights)
        spec = self.mapping.spec
        history = self.histories.get(projection.post)
        if history is None:
            history = PostHistory.empty(matrix.n_post, spec.stdp_post_history, rule, dt,
                                        fixed=spec.numerics == "s16.15")
            self.histories[projection.post] = history
        return SpiNNaker2STDP(rule, matrix, codec, dt, history=history,
                              frac_bits=codec.frac_bits, weight_bits=codec.weight_bits)


def chip_hops(mapping: Mapping, a: int, b: int) -> int:
    """Dimension-order hops between chips ``a`` and ``b`` (shorter way round on a torus)."""
    return sum(mapping.spec.board.hops_xy(a, b))


def machine_network(network: Network, mapping: Mapping) -> tuple[Network, dict[str, Row],
                                                                  dict[str, list]]:
    """The network as the machine runs it, its packet rows, and for every IR projection the
    machine projections and IR synapse indices it was split into."""
    spec = mapping.spec
    projections, rows, parts = [], {}, {}
    for proj, table in zip(network.projections, mapping.synapses, strict=True):
        target = mapping.slice_of[proj.post][table.post_index]
        pre_slice = mapping.slice_of[proj.pre]
        code = target.astype(np.int64) * (spec.max_delay_stages + 1) + table.stage
        order = np.argsort(code, kind="stable")
        bounds = np.flatnonzero(np.r_[True, np.diff(code[order]) != 0, True])
        parts[proj.label] = []
        n_pre = network.node(proj.pre).size
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            idx = order[a:b]
            tgt, stage = int(target[idx[0]]), int(table.stage[idx[0]])
            label = f"{proj.label}{SPLIT}{tgt}.{stage}"
            delay = (table.delay_ticks[idx] * np.float64(spec.tick_ms)).astype(np.float32)
            projections.append(Projection(label, proj.pre, proj.post, proj.pre_index[idx],
                                          proj.post_index[idx], proj.weight[idx], delay,
                                          proj.receptor, plasticity=proj.plasticity,
                                          dynamics=_dynamics_part(proj, idx)))
            parts[proj.label].append((label, idx))
            rows[label] = _row(mapping, pre_slice, proj.pre_index[idx], n_pre, tgt, stage,
                               table.plastic_cycles, table.release_cycles)
    machine = network.replace(dt=spec.tick_ms, projections=tuple(projections))
    return machine, rows, parts


def _dynamics_part(proj: Projection, idx: np.ndarray) -> SynapseDynamics | None:
    """The projection's synapse dynamics for the synapses ``idx`` of it (per-synapse
    values picked, one value for the projection kept)."""
    dyn = proj.dynamics
    if dyn is None:
        return None
    picked = {}
    for name in per_synapse_parameters(dyn):
        values = np.asarray(getattr(dyn, name))
        if values.size == proj.size and values.ndim == 1 and values.size > 1:
            picked[name] = values[idx]
    return dataclasses.replace(dyn, **picked) if picked else dyn


def _row(mapping: Mapping, pre_slice: np.ndarray, pre: np.ndarray, n_pre: int, target: int,
         stage: int, plastic_cycles: float = 0.0, release_cycles: float = 0.0) -> Row:
    slices = mapping.slices
    length = np.bincount(pre, minlength=n_pre)
    # packets of one source come from the slice of each pre neuron; take the first's
    # chip for the hop count when a projection's pre neurons span slices (they share a
    # chip whenever their population fits one chip; otherwise it is an approximation)
    first = int(pre_slice[pre[0]])
    sender, via, via_hops = first, -1, 0
    if stage > 0:
        via = mapping.delay_slice_of[first]
        sender, via_hops = via, chip_hops(mapping, slices[first].chip, slices[via].chip)
    return Row(target, stage, via, length,
               chip_hops(mapping, slices[sender].chip, slices[target].chip), via_hops,
               plastic_cycles, release_cycles)


def post_spike_cycles(network: Network, mapping: Mapping) -> np.ndarray:
    """Per slice, the expected cycles per tick of adding its neurons' spikes to their STDP
    post histories (neurons with plastic input only), at the rate slices are sized for."""
    spec = mapping.spec
    learning = {t.post for t in mapping.synapses if t.plastic}
    p = spec.planned_rate_hz * spec.tick_ms * 1e-3
    return np.array([s.size * p * spec.cycles_per_post_spike
                     if s.kind == "neurons" and s.node in learning else 0.0
                     for s in mapping.slices])


class SpiNNaker2Simulator:
    """The shared engine running the machine-level network; IR projection labels in and out
    (implements the targets' ``Simulator`` protocol)."""

    def __init__(self, network: Network, mapping: Mapping) -> None:
        self.network, self.mapping = network, mapping
        machine, rows, self._parts = machine_network(network, mapping)
        sizes = np.array([s.size if s.kind != "delay" else 0 for s in mapping.slices])
        cell = {p.label: p.cell_type for p in network.populations}
        update = np.array([mapping.spec.neuron_update_cycles(cell[s.node])
                           if s.kind == "neurons" else mapping.spec.cycles_per_neuron_update
                           for s in mapping.slices])
        self.timing = TickTiming(mapping.spec, sizes, rows, post_spike_cycles(network, mapping),
                                 update)
        self.engine = Engine(machine, numerics=S2Numerics(mapping), interconnect=self.timing,
                             target="spinnaker2")

    @property
    def t(self) -> float:
        return self.engine.t

    def run_until(self, t_stop: float) -> None:
        self.engine.run_until(t_stop)

    def reset(self) -> None:
        self.engine.reset()

    def result(self) -> SimulationResult:
        """The engine's result with the timing counters; warns when packets were late,
        because late packets change what the network computes (see :func:`late_warning`)."""
        res = self.engine.result()
        res.counters.update(self.timing.summary(self.engine.step, len(self.mapping.slices)))
        message = late_warning(res.counters, self.mapping.spec)
        if message:
            warnings.warn(message, LateSpikesWarning, stacklevel=2)
        return res


    def update(self, compiled: object) -> None:
        """Continue with changed parameters, initial values, source trains, currents or
        weights, as sPyNNaker rewrites a population's regions between runs; the state and
        the spikes in flight stay.  A change that moves the mapping itself (the PEs'
        slices, a weight scale, the delays) raises RunTimeChangeError: the machine is
        loaded anew only at a reset."""
        detail = getattr(compiled, "detail", None)
        mapping = getattr(detail, "mapping", None)
        if not isinstance(mapping, Mapping):
            raise RunTimeChangeError(
                "a running SpiNNaker2 simulation takes changes from a fresh compile of the "
                "changed network (its mapping), not from a loaded artifact; call reset()")
        placed = [(s.kind, s.node, s.lo, s.hi) for s in mapping.slices]
        if placed != [(s.kind, s.node, s.lo, s.hi) for s in self.mapping.slices]:
            raise RunTimeChangeError("the change moves neurons to other PEs; call reset() "
                                     "first, so that the next run loads the new mapping")
        if mapping.frac_bits != self.mapping.frac_bits:
            raise RunTimeChangeError(
                "the changed weights need another weight scale than the PEs were loaded "
                "with (a 16-bit word's fraction bits); call reset() first, so that the next "
                "run loads the new scale")
        machine, _, _ = machine_network(compiled.network, mapping)  # type: ignore[attr-defined]
        self.engine.update(machine)
        self.network = compiled.network  # type: ignore[attr-defined]

    def weights(self, projection: str) -> np.ndarray:
        size = self.network.projections[self._index(projection)].size
        out = np.empty(size)
        for label, idx in self._parts[projection]:
            out[idx] = self.engine.weights(label)
        return out

    def set_weights(self, projection: str, values: np.ndarray) -> None:
        size = self.network.projections[self._index(projection)].size
        arr = np.asarray(values, np.float64)
        if arr.ndim == 0:
            arr = np.full(size, float(arr))
        if arr.shape != (size,):
            raise ValueError(f"Projection '{projection}': {arr.size} weights given for {size} "
                             "synapses; give one weight per synapse in IR order")
        for label, idx in self._parts[projection]:
            self.engine.set_weights(label, arr[idx])

    def _index(self, projection: str) -> int:
        for k, p in enumerate(self.network.projections):
            if p.label == projection:
                return k
        known = ", ".join(p.label for p in self.network.projections) or "none"
        raise KeyError(f"no projection '{projection}' (projections: {known})")


class LateSpikesWarning(RuntimeWarning):
    """PEs overran their timer tick and dropped or deferred multicast packets."""


def late_warning(counters: dict[str, float], spec: SpiNNaker2Spec) -> str:
    """What was lost to overrunning PEs and what to change; '' if nothing was late."""
    late = int(counters.get("semantic.late_packets", 0))
    if not late:
        return ""
    policy = spec.late_spikes
    fate = "dropped" if policy == "drop" else "deferred one tick"
    events = int(counters["semantic.dropped_synaptic_events"] if policy == "drop"
                 else counters["semantic.shifted_synaptic_events"])
    return (
        f"spinnaker2: {late} of {int(counters['physical.packets'])} multicast packets "
        f"({events} synaptic events) missed their PE's {spec.tick_ms:g} ms tick and were "
        f"{fate}; the busiest PE demanded {counters['physical.max_pe_demand']:.0%} of its "
        f"{spec.cycles_per_tick:.0f} cycles in {int(counters['physical.overrun_pe_ticks'])} "
        "overrun PE-ticks.  Lower neurons_per_pe, keep fit_tick=True (and raise "
        "planned_rate_hz if the network fires faster), raise pe_clock_hz"
        + (f", or {COARSER_TICK}" if spec.tick_ms != 1.0 else "")
    )
