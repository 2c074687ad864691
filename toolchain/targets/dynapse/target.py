"""The ``dynapse`` target: the DYNAP-SE mapper as compiler passes, the shared artifact and
report, and the engine running DPI kernels with routing delays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from toolchain.compiler.artifact import (
    CompiledNetwork,
    Cores,
    Placement,
    ProjectionNumerics,
    Routes,
    StepEstimate,
)
from toolchain.compiler.pipeline import Build, run_passes
from toolchain.ir import Network, Projection
from toolchain.targets.base import Pass, Target
from toolchain.targets.dynapse.mapper import DynapseMapping, map_network
from toolchain.targets.dynapse.numerics.dpi import DELTA_T_MV, MAX_SUBSTEP_MS
from toolchain.targets.dynapse.sim import DynapseSimulator
from toolchain.targets.dynapse.spec import (
    CAM_CORE_BITS,
    CAM_ID_BITS,
    CAM_NEURON_BITS,
    CAM_SYNAPSE_TYPE_BITS,
    DynapseSpec,
    Generation,
)

CAM_WORD_BITS = CAM_SYNAPSE_TYPE_BITS + CAM_NEURON_BITS + CAM_CORE_BITS + CAM_ID_BITS


class DynapseTarget(Target):
    """A DYNAP-SE board (``generation`` "se1" or "se2").

    ``mismatch`` is the relative spread of device mismatch (default the spec's 15 %
    [unverified]); ``seed`` picks the chip instance.  ``delay_tolerance`` (ms) is the
    largest PyNN delay accepted although DYNAP-SE cannot program delays.
    """

    name: ClassVar[str] = "dynapse"

    def __init__(self, generation: str = "se1", *, chips: int | None = None, seed: int = 0,
                 mismatch: float | None = None, delay_tolerance: float = 1.0,
                 delta_t: float = DELTA_T_MV, max_substep: float = MAX_SUBSTEP_MS,
                 rate_hz: float = 10.0, spec: DynapseSpec | None = None) -> None:
        if spec is None:
            gen = Generation(generation)
            spec = DynapseSpec.se2() if gen is Generation.SE2 else DynapseSpec()
        if chips is not None:
            spec = spec.replace(chips=chips)
        if mismatch is not None:
            spec = spec.replace(mismatch=mismatch)
        self.spec = spec
        self.board = spec.mesh.name
        self.seed, self.delay_tolerance = seed, delay_tolerance
        self.delta_t, self.max_substep, self.rate_hz = delta_t, max_substep, rate_hz

    def passes(self) -> Sequence[Pass]:
        return (self._map, _artifact)

    def _map(self, build: Build) -> Build:
        mapping = map_network(build.network, self.spec, delay_tolerance=self.delay_tolerance)
        return build.replace(extras={**build.extras, "dynapse": mapping})

    def compile(self, network: Network) -> CompiledNetwork:
        build = Build(network=network, spec=self.spec, board=self.board,  # type: ignore[arg-type]
                      rate_hz=self.rate_hz)
        return run_passes(build, self.passes()).need("artifact", "compile")

    def mapping(self, compiled: CompiledNetwork) -> DynapseMapping:
        """The mapper's detail (CAM words, tags, realised weights); deterministic, so it is
        recomputed from the artifact's network rather than stored."""
        if compiled.target != self.name or compiled.board != self.board:
            raise ValueError(
                f"the artifact was compiled for {compiled.target} ({compiled.board}), not for "
                f"this target's {self.board}; use a DynapseTarget with the same generation "
                "and chip count"
            )
        return map_network(compiled.network, self.spec, delay_tolerance=self.delay_tolerance)

    def simulator(self, compiled: CompiledNetwork | Network) -> DynapseSimulator:
        if isinstance(compiled, Network):  # map once; the artifact would map it again
            network = compiled
            mapping = map_network(network, self.spec, delay_tolerance=self.delay_tolerance)
        else:
            network, mapping = compiled.network, self.mapping(compiled)
        return DynapseSimulator(network, mapping,
                                seed=self.seed, mismatch=self.spec.mismatch,
                                delta_t=self.delta_t, max_substep=self.max_substep)


def _artifact(build: Build) -> Build:
    """Describe the mapping in the shared artifact, so the shared report renders it."""
    net = build.network
    m: DynapseMapping = build.extras["dynapse"]
    spec = m.spec
    cores = _cores(net, m)
    chip = np.array([c.core // spec.cores_per_chip for c in m.cores], dtype=np.int64)
    xy = np.array([spec.chip_xy(int(c)) for c in chip]).reshape(-1, 2)
    routes = _routes(net, m)
    cost = float(np.sum(routes.messages * (routes.hops_x + routes.hops_y)))
    placement = Placement(chip=chip, x=xy[:, 0], y=xy[:, 1],
                          slot=[c.core % spec.cores_per_chip for c in m.cores],
                          cost=cost, in_order_cost=cost,
                          method="contiguous slices, split by weight spread (mapper.cluster)")
    numerics = tuple(_numerics(net, m, p) for p in net.projections)
    art = CompiledNetwork(target="dynapse", board=build.board, network=net, cores=cores,
                          placement=placement, routes=routes, numerics=numerics,
                          estimate=_estimate(net, m, routes, build.rate_hz))
    return build.replace(cores=cores, placement=placement, routes=routes, numerics=numerics,
                         artifact=art)


def _cores(net: Network, m: DynapseMapping) -> Cores:
    labels = [p.label for p in net.populations]
    rows = []
    for c in m.cores:
        pl = m.placement[c.population]
        idx = np.flatnonzero(pl.core == c.core)
        sources = set()
        for proj in net.projections:
            if proj.post == c.population:
                into = np.isin(proj.post_index, idx)
                sources.update((proj.pre, int(i)) for i in np.unique(proj.pre_index[into]))
        cam = int(m.cam_used[c.population][idx].sum())
        rows.append((labels.index(c.population), int(idx[0]), int(idx[-1]) + 1, len(sources),
                     int(m.sram[c.population][idx].sum()), cam, cam * CAM_WORD_BITS, 1, 1,
                     sum(1 for b in c.base_weight.values() if b > 0), 0))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 11
    return Cores(*cols)


def _routes(net: Network, m: DynapseMapping) -> Routes:
    spec = m.spec
    pairs: set[tuple[int, int, int]] = set()  # (src core or -1, dst core, source id)
    for k, proj in enumerate(net.projections):
        src = (m.placement[proj.pre].core[proj.pre_index] if proj.pre in m.placement
               else np.full(proj.size, -1))
        dst = m.placement[proj.post].core[proj.post_index]
        ids = proj.pre_index.astype(np.int64) + (k << 32)
        pairs.update(zip(src.tolist(), dst.tolist(), ids.tolist(), strict=True))
    counts: dict[tuple[int, int], int] = {}
    for s, d, _ in pairs:
        counts[(s, d)] = counts.get((s, d), 0) + 1
    rows = []
    for (s, d), n in sorted(counts.items()):
        sx, sy = spec.chip_xy(s // spec.cores_per_chip) if s >= 0 else spec.chip_xy(0)
        dx, dy = spec.chip_xy(d // spec.cores_per_chip)
        hx, hy = abs(dx - sx) * (s >= 0), abs(dy - sy) * (s >= 0)
        rows.append((s, d, n, hx, hy, int(hx + hy > 0)))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    return Routes(*cols)


def _numerics(net: Network, m: DynapseMapping, proj: Projection) -> ProjectionNumerics:
    pm = m.projections[proj.label]
    w = proj.weight.astype(float)
    bases = [c.base_weight.get(pm.synapse_type, 0.0) for c in m.cores
             if c.population == proj.post]
    se1 = m.spec.generation is Generation.SE1
    delay_err = np.abs(proj.delay.astype(float) - net.dt)
    return ProjectionNumerics(
        projection=proj.label, unit=float(np.mean(bases)) if bases else 0.0, exponent=0,
        weight_bits=CAM_ID_BITS if se1 else len(m.spec.base_currents),
        max_mantissa=m.spec.cam_per_neuron if se1 else 2 ** len(m.spec.base_currents) - 1,
        zeroed=int(np.sum((w != 0) & (pm.realised_weight == 0))), saturated=0,
        max_abs_error=float(np.max(np.abs(pm.realised_weight - w))) if w.size else 0.0,
        delay_bits=0, min_delay_steps=1, max_delay_steps=1,
        delays_rounded=int(np.sum(delay_err > 1e-6)),
        max_delay_error=float(delay_err.max()) if w.size else 0.0,
    )


def _estimate(net: Network, m: DynapseMapping, routes: Routes, rate_hz: float) -> StepEstimate:
    """Cost of one step of model time if every population fires at ``rate_hz``.

    DYNAP-SE runs in real time, so a step takes ``dt`` of wall time whatever the load.
    """
    spec = m.spec
    p_spike = rate_hz * net.dt / 1000.0
    src_rates = {s.label: float(np.mean(s.rate)) * net.dt / 1000.0
                 for s in net.sources if hasattr(s, "rate")}
    synops = sum(p.size * src_rates.get(p.pre, p_spike) for p in net.projections)
    spikes = net.n_neurons * p_spike
    hops_x = float(np.sum(routes.messages * routes.hops_x)) * p_spike
    hops_y = float(np.sum(routes.messages * routes.hops_y)) * p_spike
    broadcasts = float(np.sum(routes.messages)) * p_spike
    latency = max((float(pm.latency_ns.max()) for pm in m.projections.values()
                   if pm.latency_ns.size), default=0.0)
    return StepEstimate(
        rate_hz=rate_hz, compute_ns=net.dt * 1e6, noc_ns=latency, barrier_ns=0.0,
        synaptic_ops=synops, neuron_updates=0.0, spikes_out=spikes,
        hop_messages_x=hops_x, hop_messages_y=hops_y,
        energy_synops_pj=synops * spec.energy_synapse, energy_updates_pj=0.0,
        energy_spikes_pj=spikes * spec.energy_spike,
        energy_noc_pj=broadcasts * (spec.energy_r1 + spec.energy_r2)
        + (hops_x + hops_y) * spec.energy_r3_hop,
        slowest_core=0,
    )
