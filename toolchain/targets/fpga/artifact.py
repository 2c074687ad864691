"""The FPGA core's mapping described in the shared compile artifact.

The core is one physical core: every population is a slice of its neuron memory (one row
of the cores table each, all placed on the same core), every projection a set of rows in
its one synapse memory, and every spike stays on the chip (routes have no hops; spike
sources arrive from the host over the UART).

The cost estimate is the RTL's own cycle count (``CoreSpec.cycles_per_step``, checked cycle
for cycle against the gateware by the cocotb suite) at the board's clock
(:mod:`toolchain.targets.fpga.timing`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.compiler.artifact import Core, Cores, Placement, Route, Routes, TargetDetail
from toolchain.compiler.describe import WeightFormat, projection_numerics
from toolchain.compiler.pipeline import Build
from toolchain.compiler.spec import CoreLimits
from toolchain.ir import Network, Projection
from toolchain.targets.fpga.mapper import MappedNetwork
from toolchain.targets.fpga.spec import CoreSpec
from toolchain.targets.fpga.timing import power_model, step_cost


def clock_hz(spec: CoreSpec) -> int:
    """The clock of the board whose TOML names this build (or the preset it was derived
    from), else the iCEBreaker's 12 MHz."""
    return int(power_model(spec).clock_hz)


def core_limits(spec: CoreSpec) -> CoreLimits:
    """What the one core holds, in the compiler's terms."""
    return CoreLimits(neurons=spec.n_neurons, input_axons=spec.n_neurons + spec.n_inputs,
                      synapse_bits=spec.n_synapses * spec.width("synapse"),
                      learning_configs=1)


@dataclass(frozen=True)
class FpgaDetail(TargetDetail):
    """The core's image and the way back to IR units: what the golden model, the cocotb
    testbench and a board load."""

    mapped: MappedNetwork


def describe(build: Build) -> Build:
    """Pass: the FPGA mapping (``build.detail``) as the shared artifact's parts."""
    net = build.network
    detail = build.detail
    assert isinstance(detail, FpgaDetail)
    mapped = detail.mapped
    cores = _cores(net, mapped)
    n = len(cores)
    placement = Placement(chip=np.zeros(n), x=np.zeros(n), y=np.zeros(n), slot=np.zeros(n),
                          method="one core: populations are consecutive neuron ranges")
    numerics = tuple(projection_numerics_of(net, mapped, p) for p in net.projections)
    estimate = step_cost(net, mapped.spec, mapped.image.n_synapses, build.activity)
    return build.replace(cores=cores, placement=placement, routes=_routes(net),
                         numerics=numerics, estimate=estimate,
                         limits=core_limits(build.spec))  # the real build, not a virtual one


def _cores(net: Network, mapped: MappedNetwork) -> Cores:
    """One row per population: its slice of the one core and the memory it uses."""
    syn_word = mapped.spec.width("synapse")
    image = mapped.image
    params = np.stack([image.v_thresh, image.v_reset, image.bias, image.leak_shift,
                       image.syn_shift, image.refrac], axis=1)
    rows = []
    for k, pop in enumerate(net.populations):
        into = [p for p in net.projections if p.post == pop.label]
        sources = {(p.pre, int(i)) for p in into for i in np.unique(p.pre_index)}
        n_syn = sum(p.size for p in into)
        lo = mapped.mapping.neuron_offset[pop.label]
        own = params[lo:lo + pop.size]
        rows.append(Core(
            population=k, start=0, stop=pop.size, input_axons=len(sources),
            output_axons=sum(1 for p in net.projections if p.pre == pop.label),
            synapses=n_syn, synapse_bits=n_syn * syn_word,
            neuron_configs=len(np.unique(own, axis=0)),
            threshold_configs=len(np.unique(own[:, 0])), synapse_configs=1,
            learning_configs=int(any(p.plasticity is not None for p in into))))
    return Cores.from_rows(rows)


def _routes(net: Network) -> Routes:
    """Host -> core for spike sources that drive something, core -> core for neurons; every
    distinct presynaptic neuron is one message."""
    pops = {q.label for q in net.populations}
    from_host = sum(len(np.unique(p.pre_index)) for p in net.projections if p.pre not in pops)
    on_core = sum(len(np.unique(p.pre_index)) for p in net.projections if p.pre in pops)
    return Routes.from_rows(Route(src=src, dst=0, messages=m)
                            for src, m in ((-1, from_host), (0, on_core)) if m)


def projection_numerics_of(net: Network, mapped: MappedNetwork, proj: Projection):
    """What the core's integer weights and whole-step delays did to one projection."""
    spec = mapped.spec
    label = proj.label
    scale = np.asarray(mapped.mapping.weight_scale[label], float)  # weight LSB per nA
    address = mapped.mapping.synapse_address[label]
    stored = mapped.image.syn_weight[address].astype(float)
    w = proj.weight.astype(float)
    realised = np.sign(w) * np.abs(stored) / scale if scale.size else np.zeros(0)
    fmt = WeightFormat(unit=float(np.median(1.0 / scale)) if scale.size else 0.0, exponent=0,
                       weight_bits=spec.w_bits, max_mantissa=spec.signed_range("w")[1])
    # clipped: further from the IR weight than rounding alone can put it
    saturated = int(np.sum(np.abs(realised - w) > 0.5 / scale * (1 + 1e-9)))
    return projection_numerics(proj, fmt, realised=realised, saturated=saturated,
                               step_ms=net.dt, delay_bits=spec.delay_bits,
                               stored_steps=mapped.image.syn_delay[address].astype(np.int64))
