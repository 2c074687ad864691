"""The DYNAP-SE mapping described in the shared artifact, so the shared report, figure, CLI
and save/load work on it unchanged; what only DYNAP-SE has (CAM, SRAM and tag use, weight
errors per projection) is its report section."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.compiler.artifact import (
    Core,
    Cores,
    Placement,
    ReportSection,
    Route,
    Routes,
    StepEstimate,
    TargetDetail,
)
from toolchain.compiler.describe import (
    Activity,
    WeightFormat,
    projection_numerics,
    spikes_per_step,
    synaptic_events_per_step,
)
from toolchain.compiler.pipeline import Build
from toolchain.ir import Network, Projection
from toolchain.targets.dynapse.mapper import DynapseMapping
from toolchain.targets.dynapse.spec import CAM_ID_BITS, CAM_WORD_BITS, Generation, SynapseType


@dataclass(frozen=True)
class DynapseDetail(TargetDetail):
    """The mapper's detail the simulator needs: placement, CAM words, tags, realised
    weights."""

    mapping: DynapseMapping


def describe(build: Build) -> Build:
    """Pass: the mapping (``build.detail``) as the shared artifact's parts."""
    net = build.network
    detail = build.detail
    assert isinstance(detail, DynapseDetail)
    m = detail.mapping
    spec = m.spec
    held = m.on_chip()  # cores, routes and costs count the synapses the chip holds
    cores = _cores(held, m)
    chip = np.array([c.core // spec.cores_per_chip for c in m.cores], dtype=np.int64)
    xy = np.array([spec.chip_xy(int(c)) for c in chip]).reshape(-1, 2)
    routes = _routes(held, m)
    cost = float(np.sum(routes.messages * (routes.hops_x + routes.hops_y)))
    placement = Placement(chip=chip, x=xy[:, 0], y=xy[:, 1],
                          slot=[c.core % spec.cores_per_chip for c in m.cores],
                          cost=cost, in_order_cost=cost,
                          method="contiguous slices, split by weight spread (mapper.cluster)",
                          chips_x=spec.grid[0], tiles_x=1, tiles_y=1)
    numerics = tuple(_numerics(net, m, p) for p in net.projections)
    return build.replace(cores=cores, placement=placement, routes=routes, numerics=numerics,
                         estimate=step_cost(held, m, routes, build.activity),
                         sections=(*build.sections, report_section(m)))


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
        rows.append(Core(population=labels.index(c.population), start=int(idx[0]),
                         stop=int(idx[-1]) + 1, input_axons=len(sources),
                         output_axons=int(m.sram[c.population][idx].sum()), synapses=cam,
                         synapse_bits=cam * CAM_WORD_BITS,
                         synapse_configs=sum(1 for b in c.base_weight.values() if b > 0)))
    return Cores.from_rows(rows)


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
        rows.append(Route(src=s, dst=d, messages=n, hops_x=hx, hops_y=hy,
                          chip_crossings=int(hx + hy > 0)))
    return Routes.from_rows(rows)


def _numerics(net: Network, m: DynapseMapping, proj: Projection):
    """Weights as CAM multiplicities (SE1) or mask sums (SE2) of the core's base weight;
    every delay is one step (DYNAP-SE has no programmable delays)."""
    pm = m.projections[proj.label]
    bases = [c.base_weight.get(pm.synapse_type, 0.0) for c in m.cores
             if c.population == proj.post]
    se1 = m.spec.generation is Generation.SE1
    fmt = WeightFormat(unit=float(np.mean(bases)) / pm.scale if bases else 0.0, exponent=0,
                       weight_bits=CAM_ID_BITS if se1 else len(m.spec.base_currents),
                       max_mantissa=m.spec.cam_per_neuron if se1
                       else 2 ** len(m.spec.base_currents) - 1)
    return projection_numerics(proj, fmt, realised=pm.realised_weight, saturated=0,
                               step_ms=net.dt, delay_bits=0, stored_steps=1)


def step_cost(net: Network, m: DynapseMapping, routes: Routes,
              activity: Activity) -> StepEstimate:
    """Cost of one step of model time under ``activity``.  DYNAP-SE runs in real time, so a
    step takes ``dt`` of wall time whatever the load."""
    spec = m.spec
    synops = synaptic_events_per_step(net, activity)
    spikes = spikes_per_step(net, activity)
    # each sender's spike is one broadcast per destination core it reaches
    per_node = {n.label: activity.per_step(n.label, net.dt)
                for n in (*net.populations, *net.sources)}
    core_of = {label: pl.core for label, pl in m.placement.items()}
    broadcasts = hops_x = hops_y = 0.0
    for proj in net.projections:
        dst = core_of[proj.post][proj.post_index].astype(np.int64)
        pairs = np.unique(np.stack([proj.pre_index.astype(np.int64), dst], axis=1), axis=0)
        p = per_node[proj.pre][pairs[:, 0]]
        broadcasts += float(p.sum())
        src_chip = (core_of[proj.pre][pairs[:, 0]] // spec.cores_per_chip
                    if proj.pre in core_of else None)
        if src_chip is not None:
            sx, sy = np.array([spec.chip_xy(int(c)) for c in src_chip]).reshape(-1, 2).T
            dx, dy = np.array([spec.chip_xy(int(c // spec.cores_per_chip))
                               for c in pairs[:, 1]]).reshape(-1, 2).T
            hops_x += float(np.sum(p * np.abs(dx - sx)))
            hops_y += float(np.sum(p * np.abs(dy - sy)))
    latency = max((float(pm.latency_ns.max()) for pm in m.projections.values()
                   if pm.latency_ns.size), default=0.0)
    return StepEstimate(
        rate_hz=activity.planned_rate_hz, compute_ns=net.dt * 1e6, noc_ns=latency,
        barrier_ns=0.0, synaptic_ops=synops, neuron_updates=0.0, spikes_out=spikes,
        hop_messages_x=hops_x, hop_messages_y=hops_y,
        energy_synops_pj=synops * spec.energy_synapse, energy_updates_pj=0.0,
        energy_spikes_pj=spikes * spec.energy_spike,
        energy_noc_pj=broadcasts * (spec.energy_r1 + spec.energy_r2)
        + (hops_x + hops_y) * spec.energy_r3_hop,
        slowest_core=0, basis=activity.basis,
    )


def report_section(m: DynapseMapping) -> ReportSection:
    """CAM, SRAM and tag use, and how far the realised weights are from the network's."""
    r = m.report
    lines = [
        f"  CAM words per neuron: max {r['cam_words_max']:.0f}, mean {r['cam_words_mean']:.1f} "
        f"of {m.spec.cam_per_neuron}; SRAM words per neuron: max {r['sram_words_max']:.0f} "
        f"of {m.spec.sram_per_neuron}; tags in use {r['tags_used']:.0f} of {m.spec.tags}",
        *(f"  weight rms error {k[len('weight_rms_error['):-1]}: {v:.3g}"
          for k, v in r.items() if k.startswith("weight_rms_error[")),
        *(f"  note: {n}" for n in m.notes),
    ]
    values: dict[str, float | int | str] = dict(r)
    for pop, circuits in m.circuits.items():
        used = {}
        for name, c in circuits.items():
            used.setdefault(c.type, (c.tau, []))[1].append(name)
        if not used:
            continue
        cores = sorted({c.core for c in m.cores if c.population == pop})
        params = m.network.node(pop).parameters
        taus = {t: (params["tau_syn_E" if names[0] == "excitatory" else "tau_syn_I"]
                    if "tau_syn_E" in params else np.array([tau]))
                for t, (tau, names) in used.items()}
        parts = [f"{CIRCUIT_NAMES[t]} {_range(taus[t])} ms ({', '.join(names)})"
                 for t, (_, names) in sorted(used.items())]
        lines.append(f"  synapse circuits of '{pop}' (core{'s' if len(cores) > 1 else ''} "
                     f"{_span(cores)}): " + "; ".join(parts))
        values.update({f"tau_syn_ms[{pop}.{t.name}]": float(np.mean(taus[t])) for t in used})
    return ReportSection(f"DYNAP-SE {m.spec.generation.value.upper()} resources",
                         tuple(lines), values)


CIRCUIT_NAMES = {SynapseType.FAST_EXC: "fast excitatory", SynapseType.SLOW_EXC: "slow "
                 "excitatory", SynapseType.SLOW_INH: "subtractive inhibitory",
                 SynapseType.FAST_INH: "shunting inhibitory"}


def _range(values: np.ndarray) -> str:
    lo, hi = float(np.min(values)), float(np.max(values))
    return f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g} (per core)"


def _span(cores: list[int]) -> str:
    return f"{cores[0]}-{cores[-1]}" if len(cores) > 1 else str(cores[0])
