"""The FPGA core's mapping described in the shared compile artifact.

The core is one physical core: every population is a slice of its neuron memory, every
projection a set of rows in its one synapse memory, and every spike stays on the chip
(routes have no hops; spike sources arrive from the host over the UART).  Describing it in
:class:`~toolchain.compiler.artifact.CompiledNetwork` lets ``spikeport compile/report``,
the portability table and design-space exploration treat it like the other targets.

The cost estimate is the RTL's own cycle count (``CoreSpec.cycles_per_step``, checked cycle
for cycle against the gateware by the cocotb suite) at the board's clock, for an assumed
firing rate; its energy is those cycles at the FPGA's estimated power
(:mod:`toolchain.targets.fpga.power`), split by what the cycles are spent on.
"""

from __future__ import annotations

import numpy as np

from toolchain.compiler.artifact import (
    CompiledNetwork,
    Cores,
    Placement,
    ProjectionNumerics,
    Routes,
    StepEstimate,
)
from toolchain.compiler.pipeline import Build
from toolchain.ir import Network, PoissonSource, Projection
from toolchain.ir.network import ArraySource
from toolchain.targets.fpga.mapper import MappedNetwork
from toolchain.targets.fpga.power import power_model
from toolchain.targets.fpga.spec import CoreSpec


def clock_hz(spec: CoreSpec) -> int:
    """The clock of the board whose TOML names this build (or the preset it was derived
    from), else the iCEBreaker's 12 MHz."""
    return int(power_model(spec).clock_hz)


def artifact_pass(build: Build) -> Build:
    """Turn the FPGA mapping (``build.extras['fpga']``) into the shared artifact."""
    net = build.network
    mapped: MappedNetwork = build.extras["fpga"]
    cores = _cores(net, mapped)
    n = len(cores)
    placement = Placement(chip=np.zeros(n), x=np.zeros(n), y=np.zeros(n), slot=np.zeros(n),
                          method="one core: populations are consecutive neuron ranges")
    routes = _routes(net)
    numerics = tuple(projection_numerics(net, mapped, p) for p in net.projections)
    estimate = step_estimate(net, mapped, build.rate_hz)
    art = CompiledNetwork(target="fpga", board=build.board, network=net, cores=cores,
                          placement=placement, routes=routes, numerics=numerics,
                          estimate=estimate, violations=build.violations)
    return build.replace(cores=cores, placement=placement, routes=routes, numerics=numerics,
                         estimate=estimate, artifact=art)


def _cores(net: Network, mapped: MappedNetwork) -> Cores:
    """One row per population: its slice of the one core and the memory it uses."""
    spec = mapped.spec
    syn_word = spec.width("synapse")
    rows = []
    for k, pop in enumerate(net.populations):
        into = [p for p in net.projections if p.post == pop.label]
        sources = {(p.pre, int(i)) for p in into for i in np.unique(p.pre_index)}
        n_syn = sum(p.size for p in into)
        out_axons = sum(1 for p in net.projections if p.pre == pop.label)
        learning = int(any(p.plasticity is not None for p in into))
        params = np.stack([mapped.image.v_thresh, mapped.image.v_reset, mapped.image.bias,
                           mapped.image.leak_shift, mapped.image.syn_shift,
                           mapped.image.refrac], axis=1)
        lo = mapped.mapping.neuron_offset[pop.label]
        own = params[lo:lo + pop.size]
        rows.append((k, 0, pop.size, len(sources), out_axons, n_syn, n_syn * syn_word,
                     len(np.unique(own, axis=0)), len(np.unique(own[:, 0])), 1, learning))
    cols = list(zip(*rows, strict=True)) if rows else [()] * 11
    return Cores(*cols)


def _routes(net: Network) -> Routes:
    """Host -> core for spike sources that drive something, core -> core for neurons; every
    distinct presynaptic neuron is one message."""
    from_host = sum(len(np.unique(p.pre_index)) for p in net.projections
                    if p.pre not in {q.label for q in net.populations})
    on_core = sum(len(np.unique(p.pre_index)) for p in net.projections
                  if p.pre in {q.label for q in net.populations})
    rows = [(src, 0, m, 0, 0, 0) for src, m in ((-1, from_host), (0, on_core)) if m]
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    return Routes(*cols)


def projection_numerics(net: Network, mapped: MappedNetwork,
                        proj: Projection) -> ProjectionNumerics:
    """What the core's integer weights and whole-step delays did to one projection."""
    spec = mapped.spec
    label = proj.label
    scale = np.asarray(mapped.mapping.weight_scale[label], float)  # weight LSB per nA
    stored = mapped.image.syn_weight[mapped.mapping.synapse_address[label]].astype(float)
    w = np.abs(proj.weight.astype(float))
    realised = np.abs(stored) / scale
    hi = spec.signed_range("w")[1]
    steps = proj.delay.astype(float) / net.dt
    whole = np.round(steps)
    return ProjectionNumerics(
        projection=label, unit=float(np.median(1.0 / scale)) if scale.size else 0.0,
        exponent=0, weight_bits=spec.w_bits, max_mantissa=hi,
        zeroed=int(np.sum((w != 0) & (stored == 0))),
        # clipped: further from the IR weight than rounding alone can put it
        saturated=int(np.sum(np.abs(realised - w) > 0.5 / scale * (1 + 1e-9))),
        max_abs_error=float(np.max(np.abs(realised - w))) if w.size else 0.0,
        delay_bits=spec.delay_bits,
        min_delay_steps=int(whole.min()) if whole.size else 0,
        max_delay_steps=int(whole.max()) if whole.size else 0,
        delays_rounded=int(np.sum(np.abs(steps - whole) > 1e-6)),
        max_delay_error=float(np.max(np.abs(steps - whole)) * net.dt) if whole.size else 0.0,
    )


def _source_rate_hz(src: object, duration_ms: float) -> float:
    """Mean rate of a spike source: Poisson rates as given, arrays as counted."""
    if isinstance(src, PoissonSource):
        return float(np.mean(src.rate))
    if isinstance(src, ArraySource) and src.size and duration_ms > 0:
        return float(src.times.size / src.size / (duration_ms / 1000.0))
    return 0.0


def step_estimate(net: Network, mapped: MappedNetwork, rate_hz: float) -> StepEstimate:
    """Clock cycles of an average step at ``rate_hz`` (sources at their own rates), as the
    RTL spends them, converted to time at the build's clock."""
    spec = mapped.spec
    dt = net.dt
    last = max((float(s.times.max()) for s in net.sources
                if isinstance(s, ArraySource) and s.times.size), default=0.0)
    p_neuron = rate_hz * dt / 1000.0
    pops = {p.label for p in net.populations}
    spikes = net.n_neurons * p_neuron
    inputs = sum(s.size * _source_rate_hz(s, last) * dt / 1000.0 for s in net.sources)
    events = 0.0
    for proj in net.projections:
        p = p_neuron if proj.pre in pops else _source_rate_hz(net.node(proj.pre), last) \
            * dt / 1000.0
        events += proj.size * p
    plastic = any(p.plasticity is not None for p in net.projections)
    # potentiation walks every row in a step where some neuron spiked
    p_any = 1.0 - (1.0 - p_neuron) ** net.n_neurons if plastic else 0.0
    base = spec.cycles_per_step(inputs=round(inputs), repeats=0, spikes=round(spikes),
                                events=round(events), potentiation=False, synapses_in_rows=0)
    walk = spec.cycles_per_step(inputs=0, repeats=0, spikes=0, events=0, potentiation=True,
                                synapses_in_rows=mapped.image.n_synapses) - \
        spec.cycles_per_step(inputs=0, repeats=0, spikes=0, events=0, potentiation=False,
                             synapses_in_rows=0)
    cycles = base + p_any * walk
    power = power_model(spec)
    # the busy step's energy, split by what its cycles do: synapse memory walks (events,
    # potentiation) are synaptic ops, each row fetch is a spike's, the rest the neuron pass
    synop_cycles = 2 * events + p_any * walk
    spike_cycles = 5 * (inputs + spikes)
    return StepEstimate(
        rate_hz=rate_hz, compute_ns=power.wall_ns(cycles), noc_ns=0.0, barrier_ns=0.0,
        synaptic_ops=events, neuron_updates=float(net.n_neurons), spikes_out=spikes,
        hop_messages_x=0.0, hop_messages_y=0.0,
        energy_synops_pj=power.energy_pj(synop_cycles),
        energy_updates_pj=power.energy_pj(cycles - synop_cycles - spike_cycles),
        energy_spikes_pj=power.energy_pj(spike_cycles), energy_noc_pj=0.0, slowest_core=0,
    )
