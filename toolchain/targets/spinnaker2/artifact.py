"""The SpiNNaker2 mapping described in the shared ``CompiledNetwork``, so that the shared
report, figure, CLI and save/load work on it unchanged.

Cores are the neuron PEs (one population slice each); spike-source PEs send from "the
host" side of the routes table (``src = -1``) and delay-extension PEs are folded into the
route of the spikes they delay.  What only SpiNNaker2 has (PE kinds, router tables before
and after minimisation, SRAM/DRAM use) is in :meth:`SpiNNaker2Compiled.resources` and in
:func:`spinnaker2_report`, appended to the shared report by the target.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from toolchain.compiler.artifact import (
    CompiledNetwork,
    Cores,
    Placement,
    ProjectionNumerics,
    Routes,
    StepEstimate,
)
from toolchain.ir import Network, PoissonSource
from toolchain.targets.spinnaker2.mapper import Mapping, SynapseTable
from toolchain.targets.spinnaker2.routing import Routing


def build_artifact(network: Network, mapping: Mapping, routing: Routing, board: str,
                   rate_hz: float) -> CompiledNetwork:
    cores, core_of = _cores(network, mapping, routing)
    routes = _routes(mapping, routing, core_of)
    neuron_slices = [mapping.slices[i] for i in sorted(core_of, key=core_of.get)]
    board_spec = mapping.spec.board
    xy = np.array([board_spec.chip_xy(s.chip) for s in neuron_slices], np.int64).reshape(-1, 2)
    cost = float(np.sum(routes.messages * (routes.hops_x + routes.hops_y)))
    placement = Placement(
        chip=[s.chip for s in neuron_slices], x=xy[:, 0], y=xy[:, 1],
        slot=[s.pe for s in neuron_slices], cost=cost, in_order_cost=cost,
        method="chips filled in population order; delay-extension PEs beside their source")
    numerics = tuple(_numerics(proj, table, mapping)
                     for proj, table in zip(network.projections, mapping.synapses, strict=True))
    return CompiledNetwork(target="spinnaker2", board=board, network=network, cores=cores,
                           placement=placement, routes=routes, numerics=numerics,
                           estimate=_estimate(network, mapping, routes, cores, rate_hz))


def _cores(network: Network, mapping: Mapping,
           routing: Routing) -> tuple[Cores, dict[int, int]]:
    labels = [p.label for p in network.populations]
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
        rows.append((labels.index(s.node), s.lo, s.hi, fan_in[sid],
                     len(routing.targets.get(sid, ())), synapses[sid], 8 * s.row_bytes,
                     1, 1, 2, 0))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 11
    return Cores(*cols), core_of


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
            rows.append((core_of.get(origin, -1), core_of[d], s.size, hx, hy, int(hx + hy > 0)))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    return Routes(*cols)


def _numerics(proj, table: SynapseTable, mapping: Mapping) -> ProjectionNumerics:
    w = np.abs(proj.weight.astype(np.float64))
    got = table.words.astype(np.float64) * 2.0 ** -table.frac_bits
    err = np.abs(got - w)
    delay = proj.delay.astype(np.float64)
    steps = table.delay_ticks.astype(np.int64)
    delay_err = np.abs(steps * mapping.spec.tick_ms - delay)
    limit = (1 << mapping.spec.weight_bits) - 1
    return ProjectionNumerics(
        projection=proj.label, unit=1.0, exponent=-table.frac_bits,
        weight_bits=mapping.spec.weight_bits, max_mantissa=limit,
        zeroed=int(np.sum((w > 0) & (table.words == 0))),
        saturated=int(np.sum(table.words == limit)),
        max_abs_error=float(err.max()) if err.size else 0.0,
        delay_bits=mapping.spec.delay_bits,
        min_delay_steps=int(steps.min()) if steps.size else 1,
        max_delay_steps=int(steps.max()) if steps.size else 1,
        delays_rounded=int(np.sum(delay_err > 1e-6)),
        max_delay_error=float(delay_err.max()) if delay_err.size else 0.0,
    )


def _estimate(network: Network, mapping: Mapping, routes: Routes, cores: Cores,
              rate_hz: float) -> StepEstimate:
    """Cost of one timer tick if every population fires at ``rate_hz`` (sources at their own
    rates).  The machine runs in real time: a tick lasts ``tick_ms`` whatever the load; the
    compute time is the busiest PE's cycles at ``pe_clock_hz``."""
    spec = mapping.spec
    p_spike = rate_hz * spec.tick_ms / 1000.0
    p_src = {s.label: float(np.mean(s.rate)) * spec.tick_ms / 1000.0
             for s in network.sources if isinstance(s, PoissonSource)}
    is_core = np.array([s.kind == "neurons" for s in mapping.slices], bool)
    events_per_core = np.zeros(len(cores))
    for t in mapping.synapses:
        counts = np.bincount(mapping.slice_of[t.post][t.post_index],
                             minlength=len(mapping.slices))
        events_per_core += counts[is_core] * p_src.get(t.pre, p_spike)
    cycles = (spec.cycles_per_tick_overhead + cores.neurons * spec.cycles_per_neuron_update
              + events_per_core * spec.cycles_per_synaptic_event)
    slowest = int(np.argmax(cycles)) if len(cores) else 0
    synops = float(events_per_core.sum())
    spikes = network.n_neurons * p_spike
    hops_x = float(np.sum(routes.messages * routes.hops_x)) * p_spike
    hops_y = float(np.sum(routes.messages * routes.hops_y)) * p_spike
    noc = 2 * spec.noc_latency_ns + float(
        (routes.hops_x + routes.hops_y).max() if len(routes) else 0) * spec.hop_latency_ns
    return StepEstimate(
        rate_hz=rate_hz, compute_ns=float(cycles[slowest]) / spec.pe_clock_hz * 1e9
        if len(cores) else 0.0, noc_ns=noc, barrier_ns=0.0,
        synaptic_ops=synops, neuron_updates=float(network.n_neurons), spikes_out=spikes,
        hop_messages_x=hops_x, hop_messages_y=hops_y,
        energy_synops_pj=synops * spec.energy_per_synaptic_event_j * 1e12,
        energy_updates_pj=network.n_neurons * spec.energy_per_neuron_update_j * 1e12,
        energy_spikes_pj=0.0,
        energy_noc_pj=(hops_x + hops_y) * spec.energy_per_hop_j * 1e12,
        slowest_core=slowest,
    )


def spinnaker2_report(resources: dict[str, float]) -> str:
    """The SpiNNaker2-only part of the compile report."""
    r = resources
    worst = r["tick_cycles_worst_estimate"]
    overrun = (", OVERRUN: packets will be late; lower neurons_per_pe, raise pe_clock_hz or "
               "use tick_ms=1" if worst > r["tick_cycles"] else "")
    return (
        "\nSpiNNaker2 resources (physical)\n"
        f"  PEs: {r['pes']} = {r['pes_neurons']} neuron + {r['pes_sources']} spike-source + "
        f"{r['pes_delay_extension']} delay-extension, on {r['chips']} chip(s)\n"
        f"  router entries: busiest chip {r['router_entries_max']}, all chips "
        f"{r['router_entries_total']} (before key/mask merging "
        f"{r['router_entries_before_minimisation']})\n"
        f"  synapse rows: {r['row_bytes_total']} bytes in {r['synapse_storage']}\n"
        f"  timer tick: {r['tick_cycles']:.0f} cycles; busiest PE's estimated worst tick "
        f"{worst:.0f} cycles ({worst / r['tick_cycles']:.0%}{overrun})\n"
        "Quantisation (semantic)\n"
        f"  delays: mean |error| {r['delay_quantisation_error_ms_mean']:.3g} ms; weights: "
        f"max relative error {r['weight_quantisation_error_rel_max']:.3g}\n"
    )
