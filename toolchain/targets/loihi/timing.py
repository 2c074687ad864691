"""Loihi's cost per timestep: wall time and energy from event counts (SANA-FE's model).

Loihi is a timestep machine: every core finishes step t, then a barrier starts t+1, so
interconnect latency costs wall time but never moves a spike to another step (FACTS,
"Timing semantics").  This model therefore reports only *physical* cost; the semantic
effects of mapping (weights zeroed or saturated, delays rounded) come from quantisation.

Per step: each core's time is its synaptic ops, neuron updates and spikes sent, times the
per-event latencies; the step takes the slowest core, plus the longest route used, plus
the barrier.  Energy is each event count times its energy.  Activity is an assumption: a
firing rate for every population (``Build.rate_hz``), the sources' own rates for inputs.
"""

from __future__ import annotations

import numpy as np

from toolchain.compiler.artifact import Cores, Placement, StepEstimate
from toolchain.compiler.pipeline import Build, Rows
from toolchain.compiler.place import hop_totals, source_cores
from toolchain.ir import ArraySource, Network, PoissonSource


def spike_probability(net: Network, label: str, rate_hz: float) -> np.ndarray:
    """Per neuron of ``label``, the expected spikes per step (rate x dt)."""
    node = net.node(label)
    if isinstance(node, PoissonSource):
        rate = node.rate
    elif isinstance(node, ArraySource):
        span = float(node.times.max()) if node.times.size else 0.0
        rate = np.diff(node.offsets) / (span / 1e3) if span > 0 else np.zeros(node.size)
    else:
        rate = np.full(node.size, rate_hz)
    return np.asarray(rate, dtype=np.float64) * net.dt / 1e3


def estimate_step(build: Build) -> Build:
    """Pass: fills ``estimate`` from the partition, placement and per-event costs."""
    net, costs = build.network, build.spec.costs
    cores: Cores = build.need("cores", "estimate_step")
    placement: Placement = build.need("placement", "estimate_step")
    rows: tuple[Rows | None, ...] = build.need("rows", "estimate_step")
    populations = {p.label for p in net.populations}
    n = len(cores)
    # Spikes from populations: every population fires at rate_hz, so their rows need no
    # second pass: synaptic ops are p x synapses, messages p x output axons, and the hop
    # sums come from the placer.  Host-injected sources have rates of their own.
    p_pop = build.rate_hz * net.dt / 1e3
    own = np.asarray(cores.synapses, dtype=np.float64)
    synops = np.zeros(n)
    sent = p_pop * np.asarray(cores.output_axons, dtype=np.float64)
    placed = build.extras.get("core_hops")
    if placed is None:
        placed = hop_totals(rows, source_cores(net, cores), [(placement.x, placement.y)],
                            costs.hop_x.ns, costs.hop_y.ns)[0]
    hop_x, hop_y = p_pop * placed.hops_x, p_pop * placed.hops_y
    longest_ns = placed.longest_ns
    for proj, r in zip(net.projections, rows, strict=True):
        if r is None or r.core.size == 0 or proj.pre not in populations:
            continue
        own -= np.bincount(r.core, weights=r.length, minlength=n)
    synops += p_pop * own
    for proj, r in zip(net.projections, rows, strict=True):  # host sources, from tile (0, 0)
        if r is None or r.core.size == 0 or proj.pre in populations:
            continue
        p = spike_probability(net, proj.pre, build.rate_hz)[r.pre]
        synops += np.bincount(r.core, weights=p * r.length, minlength=n)
        hx, hy = placement.x[r.core], placement.y[r.core]
        hop_x += float(np.multiply(p, hx).sum())  # not p @ hx: int matmul is a slow path
        hop_y += float(np.multiply(p, hy).sum())
        longest_ns = max(longest_ns, float((hx * costs.hop_x.ns + hy * costs.hop_y.ns).max()))
    neurons = cores.neurons.astype(np.float64)
    per_core = (synops * costs.synaptic_op.ns + neurons * costs.neuron_update.ns
                + sent * costs.spike_out.ns)
    slowest = int(np.argmax(per_core)) if n else -1
    chips = int(np.unique(placement.chip).size) if n else 1
    estimate = StepEstimate(
        rate_hz=build.rate_hz,
        compute_ns=float(per_core.max()) if n else 0.0,
        noc_ns=longest_ns,
        barrier_ns=costs.barrier(chips) * 1e3,
        synaptic_ops=float(synops.sum()),
        neuron_updates=float(neurons.sum()),
        spikes_out=float(sent.sum()),
        hop_messages_x=hop_x,
        hop_messages_y=hop_y,
        energy_synops_pj=float(synops.sum()) * costs.synaptic_op.pj,
        energy_updates_pj=float(neurons.sum()) * costs.neuron_update.pj,
        energy_spikes_pj=float(sent.sum()) * costs.spike_out.pj,
        energy_noc_pj=hop_x * costs.hop_x.pj + hop_y * costs.hop_y.pj,
        slowest_core=slowest,
    )
    return build.replace(estimate=estimate)
