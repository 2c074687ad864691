"""The SpiNNaker2 mapping described in the shared ``CompiledNetwork``, so that the shared
report, figure, CLI and save/load work on it unchanged.

Cores are the neuron PEs (one population slice each); spike-source and delay-extension PEs
hold no neurons and count as the artifact's ``support_cores``; spikes from source PEs
start from "the host" side of the routes table (``src = -1``) and delay-extension PEs are
folded into the route of the spikes they delay.  What only SpiNNaker2 has (PE kinds,
router tables before and after minimisation, SRAM/DRAM use, the tick budget) is the
report section of :func:`report_section`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

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
    events_into,
    per_core,
    projection_events,
    projection_numerics,
    spikes_per_step,
)
from toolchain.compiler.pipeline import Build
from toolchain.ir import Network
from toolchain.targets.spinnaker2.mapper import Mapping
from toolchain.targets.spinnaker2.routing import Routing
from toolchain.targets.spinnaker2.spec import COARSER_TICK, SpiNNaker2Spec


@dataclass(frozen=True)
class SpiNNaker2Detail(TargetDetail):
    """What the simulator needs beyond the artifact: slices with keys, the per-synapse
    tables, and the router tables."""

    spec: SpiNNaker2Spec
    mapping: Mapping
    routing: Routing

    def resources(self) -> dict[str, Any]:
        """What the mapping uses; physical resources, not semantic effects."""
        slices = self.mapping.slices
        kinds = {k: sum(s.kind == k for s in slices) for k in ("neurons", "source", "delay")}
        return {
            "pes": len(slices),
            "pes_neurons": kinds["neurons"],
            "pes_sources": kinds["source"],
            "pes_delay_extension": kinds["delay"],
            "chips": len({s.chip for s in slices}),
            "router_entries_max": self.routing.max_entries,
            "router_entries_total": self.routing.total_entries,
            "router_entries_before_minimisation": sum(self.routing.entries_before.values()),
            "row_bytes_total": sum(s.row_bytes for s in slices),
            "synapse_storage": self.spec.synapse_storage,
            "tick_ms": self.spec.tick_ms,
            **self.mapping.stats,
        }


def describe(build: Build) -> Build:
    """Pass: the mapping (``build.detail``) as the shared artifact's parts."""
    net = build.network
    detail = build.detail
    assert isinstance(detail, SpiNNaker2Detail)
    mapping, routing = detail.mapping, detail.routing
    cores, core_of = _cores(net, mapping, routing)
    routes = _routes(mapping, routing, core_of)
    neuron_slices = [mapping.slices[i] for i in sorted(core_of, key=core_of.get)]
    board = mapping.spec.board
    xy = np.array([board.chip_xy(s.chip) for s in neuron_slices], np.int64).reshape(-1, 2)
    cost = float(np.sum(routes.messages * (routes.hops_x + routes.hops_y)))
    placement = Placement(
        chip=[s.chip for s in neuron_slices], x=xy[:, 0], y=xy[:, 1],
        slot=[s.pe for s in neuron_slices], cost=cost, in_order_cost=cost,
        method="chips filled in population order; delay-extension PEs beside their source",
        chips_x=board.width, tiles_x=1, tiles_y=1)
    numerics = tuple(_numerics(proj, table, mapping)
                     for proj, table in zip(net.projections, mapping.synapses, strict=True))
    return build.replace(
        cores=cores, placement=placement, routes=routes, numerics=numerics,
        estimate=step_cost(net, mapping, routing, cores, build.activity),
        support_cores=sum(s.kind != "neurons" for s in mapping.slices),
        sections=(*build.sections, report_section(detail.resources())))


def _cores(net: Network, mapping: Mapping, routing: Routing) -> tuple[Cores, dict[int, int]]:
    labels = [p.label for p in net.populations]
    fan_in: dict[int, int] = defaultdict(int)
    for dests in routing.targets.values():
        for d in dests:
            fan_in[d] += 1
    synapses: dict[int, int] = defaultdict(int)
    for t in mapping.synapses:
        counts = np.bincount(mapping.slice_of[t.post][t.post_index],
                             minlength=len(mapping.slices))
        for sid in np.flatnonzero(counts):
            synapses[int(sid)] += int(counts[sid])
    rows, core_of = [], {}
    for sid, s in enumerate(mapping.slices):
        if s.kind != "neurons":
            continue
        core_of[sid] = len(rows)
        rows.append(Core(population=labels.index(s.node), start=s.lo, stop=s.hi,
                         input_axons=fan_in[sid],
                         output_axons=len(routing.targets.get(sid, ())),
                         synapses=synapses[sid], synapse_bits=8 * s.row_bytes,
                         synapse_configs=2))
    return Cores.from_rows(rows), core_of


def _routes(mapping: Mapping, routing: Routing, core_of: dict[int, int]) -> Routes:
    board = mapping.spec.board
    rows = []
    for src, dests in sorted(routing.targets.items()):
        s = mapping.slices[src]
        origin = s.source_slice if s.kind == "delay" else src
        for d in dests:
            if d not in core_of:
                continue  # a delay-extension PE: its hops are in the delayed route
            hx, hy = board.hops_xy(s.chip, mapping.slices[d].chip)
            rows.append(Route(src=core_of.get(origin, -1), dst=core_of[d], messages=s.size,
                              hops_x=hx, hops_y=hy, chip_crossings=int(hx + hy > 0)))
    return Routes.from_rows(rows)


def _numerics(proj, table, mapping: Mapping):
    spec = mapping.spec
    limit = (1 << spec.weight_bits) - 1
    fmt = WeightFormat(unit=1.0, exponent=-table.frac_bits, weight_bits=spec.weight_bits,
                       max_mantissa=limit)
    lsb = 2.0 ** -table.frac_bits

    def realised(sl: slice) -> np.ndarray:  # the word holds |w|; the receptor gives the sign
        return np.where(proj.weight[sl] < 0, -lsb, lsb) * table.words[sl]

    return projection_numerics(
        proj, fmt, realised=realised,
        saturated=int(np.sum(table.words == limit)), step_ms=spec.tick_ms,
        delay_bits=spec.delay_bits, stored_steps=table.delay_ticks.astype(np.int64))


def step_cost(net: Network, mapping: Mapping, routing: Routing, cores: Cores,
              activity: Activity) -> StepEstimate:
    """Cost of one timer tick under ``activity``.  The machine runs in real time: a tick
    lasts ``tick_ms`` whatever the load; the compute time is the busiest PE's cycles at
    ``pe_clock_hz``."""
    spec = mapping.spec
    tick = spec.tick_ms
    events_per_core = per_core(events_into(net, activity, tick), net, cores)
    learning, plastic_events = _learning_cycles(net, mapping, activity, tick)
    update = np.array([spec.neuron_update_cycles(net.populations[int(i)].cell_type)
                       for i in cores.population])
    cycles = (spec.cycles_per_tick_overhead + cores.neurons * update
              + events_per_core * spec.cycles_per_synaptic_event
              + per_core(learning, net, cores))
    slowest = int(np.argmax(cycles)) if len(cores) else 0
    synops = float(events_per_core.sum())
    spikes = spikes_per_step(net, activity, tick)
    board = spec.board
    neuron_pe = {sid for sid, s in enumerate(mapping.slices) if s.kind == "neurons"}
    hops_x = hops_y = 0.0
    longest = 0
    for src, dests in routing.targets.items():
        s = mapping.slices[src]
        packets = float(activity.per_step(s.node, tick)[s.lo:s.hi].sum())
        for d in dests:
            if d in neuron_pe:
                hx, hy = board.hops_xy(s.chip, mapping.slices[d].chip)
                hops_x += packets * hx
                hops_y += packets * hy
                longest = max(longest, hx + hy)
    noc = 2 * spec.noc_latency_ns + longest * spec.hop_latency_ns
    return StepEstimate(
        rate_hz=activity.planned_rate_hz,
        compute_ns=float(cycles[slowest]) / spec.pe_clock_hz * 1e9 if len(cores) else 0.0,
        noc_ns=noc, barrier_ns=0.0,
        synaptic_ops=synops, neuron_updates=float(net.n_neurons), spikes_out=spikes,
        hop_messages_x=hops_x, hop_messages_y=hops_y,
        energy_synops_pj=(synops * spec.energy_per_synaptic_event_j
                          + plastic_events * spec.energy_per_plastic_update_j) * 1e12,
        energy_updates_pj=net.n_neurons * spec.energy_per_neuron_update_j * 1e12,
        energy_spikes_pj=0.0,
        energy_noc_pj=(hops_x + hops_y) * spec.energy_per_hop_j * 1e12,
        slowest_core=slowest, basis=activity.basis, step_ms=tick,
    )


def _learning_cycles(net: Network, mapping: Mapping, activity: Activity, tick: float
                     ) -> tuple[dict[str, np.ndarray], float]:
    """Per neuron, the STDP cycles per tick (plastic synaptic events times their extra
    cost, post spikes times the history update), and the plastic events per tick."""
    spec = mapping.spec
    out = {p.label: np.zeros(p.size) for p in net.populations}
    events = 0.0
    for proj, table in zip(net.projections, mapping.synapses, strict=True):
        if table.plastic or table.release_cycles:
            e = projection_events(net, proj, activity, tick)
            out[proj.post] += e * (table.plastic_cycles + table.release_cycles)
            events += float(e.sum()) if table.plastic else 0.0
    for label in {t.post for t in mapping.synapses if t.plastic}:
        out[label] += activity.per_step(label, tick) * spec.cycles_per_post_spike
    return out, events


def report_section(resources: dict[str, float | int | str]) -> ReportSection:
    """The SpiNNaker2-only part of the compile report."""
    r = resources
    worst = float(r["tick_cycles_worst_estimate"])
    tick = float(r["tick_cycles"])
    coarser = f" or {COARSER_TICK}" if float(r["tick_ms"]) != 1.0 else ""
    overrun = (", OVERRUN: packets will be late; lower neurons_per_pe, raise pe_clock_hz"
               f"{coarser}" if worst > tick else "")
    lines = (
        f"  PEs: {r['pes']} = {r['pes_neurons']} neuron + {r['pes_sources']} spike-source + "
        f"{r['pes_delay_extension']} delay-extension, on {r['chips']} chip(s)",
        f"  router entries: busiest chip {r['router_entries_max']}, all chips "
        f"{r['router_entries_total']} (before key/mask merging "
        f"{r['router_entries_before_minimisation']})",
        f"  synapse rows: {r['row_bytes_total']} bytes in {r['synapse_storage']}",
        f"  timer tick: {tick:.0f} cycles; busiest PE's estimated worst tick "
        f"{worst:.0f} cycles ({worst / tick:.0%}{overrun})",
        f"  quantisation (semantic): delays mean |error| "
        f"{float(r['delay_quantisation_error_ms_mean']):.3g} ms; weights max relative error "
        f"{float(r['weight_quantisation_error_rel_max']):.3g}",
    )
    return ReportSection("SpiNNaker2 resources (physical)", lines, resources)
