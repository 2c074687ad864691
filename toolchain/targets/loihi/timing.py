"""Loihi's cost per timestep: wall time and energy from event counts (SANA-FE's model).

Loihi is a timestep machine: every core finishes step t, then a barrier starts t+1, so
interconnect latency costs wall time but never moves a spike to another step (FACTS,
"Timing semantics").  This model therefore reports only *physical* cost; the semantic
effects of mapping (weights zeroed or saturated, delays rounded) come from quantisation.

Per step: each core's time is its synaptic ops, neuron updates and spikes sent, times the
per-event latencies; the step takes the slowest core, plus the longest route used, plus
the barrier.  Energy is each event count times its energy.  Activity is the compiler's
(:mod:`toolchain.compiler.describe`): planned population rates or a run's, sources as
they are defined.
"""

from __future__ import annotations

import numpy as np

from toolchain.compiler.artifact import Cores, Placement, StepEstimate
from toolchain.compiler.describe import Activity, per_core
from toolchain.compiler.pipeline import Build, Rows
from toolchain.compiler.place import HopTotals, hop_totals, source_cores
from toolchain.compiler.spec import EventCost, EventCosts
from toolchain.ir import ACSource, Network


def estimate_step(build: Build) -> Build:
    """Pass: fills ``estimate`` from the partition, placement and per-event costs."""
    cores = build.need("cores", "estimate_step")
    estimate = step_cost(build.network, build.spec.costs, cores,
                         build.need("placement", "estimate_step"),
                         build.need("rows", "estimate_step"), build.activity,
                         build.extras.get("core_hops"),
                         compartments_per_core(build.network, build.spec, cores),
                         bias_writes=streamed_bias_writes(build.network),
                         bias_write=build.spec.bias_write)
    return build.replace(estimate=estimate)


def streamed_bias_writes(net: Network) -> int:
    """Biases an embedded core rewrites every step while the sources are on: one per
    neuron an AC source enters (several sources into one neuron: one write of their sum).
    DC and step sources write only when they switch (the report's bias schedule)."""
    touched = {}
    for src in net.currents:
        if isinstance(src, ACSource):
            mask = touched.setdefault(src.target, np.zeros(net.node(src.target).size, bool))
            mask[src.indices] = True
    return int(sum(int(m.sum()) for m in touched.values()))


def compartments_per_core(net: Network, spec, cores: Cores) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Compartments each core updates per step: its neurons times the compartments per
    neuron of its population (two for a neuron whose receptors decay differently)."""
    per_pop = np.array([spec.compartments(p, net.dt) for p in net.populations], np.int64)
    return cores.neurons * per_pop[cores.population] if len(cores) else np.zeros(0, np.int64)


def step_cost(net: Network, costs: EventCosts, cores: Cores, placement: Placement,
              rows: tuple[Rows | None, ...], activity: Activity,
              placed: HopTotals | None = None,
              compartments: np.ndarray | None = None, *, bias_writes: int = 0,
              bias_write: EventCost | None = None) -> StepEstimate:
    """The cost of one step when every neuron fires as ``activity`` says; each of a core's
    ``compartments`` (default: one per neuron) is one neuron update.  ``bias_writes``
    biases rewritten by an embedded core before the step's updates, one after another,
    at ``bias_write`` each, add to its compute time and to the update energy."""
    populations = {p.label for p in net.populations}
    n = len(cores)
    synops = np.zeros(n)
    out_axons = {p.label: np.zeros(p.size) for p in net.populations}
    hop_x = hop_y = 0.0
    longest_ns = 0.0
    src_core = source_cores(net, cores)
    uniform = [activity.uniform(p.label) for p in net.populations]
    if placed is None or any(u is None for u in uniform) or len(set(uniform)) > 1:
        placed = None  # per-row hops below
    else:
        p0 = float(uniform[0] or 0.0) * net.dt / 1e3  # type: ignore[arg-type]
        hop_x, hop_y = p0 * placed.hops_x, p0 * placed.hops_y
        longest_ns = placed.longest_ns
    for proj, r, src_of in zip(net.projections, rows, src_core, strict=True):
        if r is None or r.core.size == 0:
            continue
        p = activity.per_step(proj.pre, net.dt)[r.pre]
        synops += np.bincount(r.core, weights=p * r.length, minlength=n)
        if proj.pre in populations:
            out_axons[proj.pre] += np.bincount(r.pre, minlength=out_axons[proj.pre].size)
            if placed is not None:
                continue
            src = src_of[r.pre]
            hx = np.abs(placement.x[src] - placement.x[r.core])
            hy = np.abs(placement.y[src] - placement.y[r.core])
        else:  # host-injected sources enter at tile (0, 0)
            hx, hy = placement.x[r.core], placement.y[r.core]
        hop_x += float(np.multiply(p, hx).sum())  # not p @ hx: int matmul is a slow path
        hop_y += float(np.multiply(p, hy).sum())
        longest_ns = max(longest_ns, float((hx * costs.hop_x.ns + hy * costs.hop_y.ns).max()))
    sent = per_core({k: v * activity.per_step(k, net.dt) for k, v in out_axons.items()},
                    net, cores)
    neurons = (cores.neurons if compartments is None else compartments).astype(np.float64)
    per_core_ns = (synops * costs.synaptic_op.ns + neurons * costs.neuron_update.ns
                   + sent * costs.spike_out.ns)
    slowest = int(np.argmax(per_core_ns)) if n else -1
    chips = int(np.unique(placement.chip).size) if n else 1
    write = bias_write or EventCost(ns=0.0, pj=0.0)
    return StepEstimate(
        rate_hz=activity.planned_rate_hz,
        compute_ns=(float(per_core_ns.max()) if n else 0.0) + bias_writes * write.ns,
        noc_ns=longest_ns,
        barrier_ns=costs.barrier(chips) * 1e3,
        synaptic_ops=float(synops.sum()),
        neuron_updates=float(neurons.sum()),
        spikes_out=float(sent.sum()),
        hop_messages_x=hop_x,
        hop_messages_y=hop_y,
        energy_synops_pj=float(synops.sum()) * costs.synaptic_op.pj,
        energy_updates_pj=float(neurons.sum()) * costs.neuron_update.pj
        + bias_writes * write.pj,
        energy_spikes_pj=float(sent.sum()) * costs.spike_out.pj,
        energy_noc_pj=hop_x * costs.hop_x.pj + hop_y * costs.hop_y.pj,
        slowest_core=slowest,
        basis=activity.basis,
    )


__all__ = ["estimate_step", "hop_totals", "step_cost"]
