"""Quantise a PyNN network (IR) into the FPGA core's integer formats and pack it into a
:class:`~toolchain.targets.fpga.image.CoreImage`.

Formats (the core's timestep is the network's ``dt``):

* voltage: ``v_int = round((v - v_rest) * scale)``, ``scale`` = LSB per mV, one number for
  the whole core (the core never converts back, so it need not be a power of two), the
  largest for which every threshold/reset/initial value fits half the ``v_bits`` range
  (headroom for overshoot) and every weight fits ``w_bits``: the largest weight takes the
  top of the weight range, which keeps the relative rounding error of all weights lowest;
* current: kept as the voltage step it causes per timestep (forward Euler,
  ``dv = I dt / cm``), so ``bias = round(i_offset * dt / cm * scale)``; a weight of ``w`` nA
  becomes ``round(w * dt / cm_post * q * scale)`` with the charge factor
  ``q = 2**-s / (1 - exp(-dt / tau_syn))``: the shift decay ``s`` only approximates
  ``tau_syn`` (within sqrt(2)), and ``q`` makes the total charge one input delivers, the sum
  of ``w 2**s`` over its decay, equal the float model's ``w / (1 - exp(-dt / tau_syn))``;
  inhibitory weights are negative;
* decays: ``v -= round(v / 2**k)`` approximates ``exp(-dt / tau)`` with
  ``k = round(log2(tau / dt))``
  (tau_m and tau_syn; both synapse types share one current, so tau_syn_E and tau_syn_I
  must give the same shift);
* refractory period and delays: whole steps, ``round(x / dt)``;
* STDP (additive only): trace decay shifts from tau_plus / tau_minus as above, a trace
  jumps by half its range per spike, and ``dw = trace >> shift`` with
  ``shift = round(log2(increment / (A * (w_max - w_min) in weight units)))``.

Every value that does not fit raises :class:`MappingError` naming the population or
projection, the parameter, the value, the limit and what to change; a network too big for
the build names the exhausted resource, by how much, and a preset that would hold it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toolchain.compiler.pipeline import MappingError as CompilerMappingError
from toolchain.ir import CellType, Network, Population, Receptor, STDPRule
from toolchain.ir.network import WeightDependence
from toolchain.targets.fpga.image import STDP_OFF, CoreImage, StdpParams
from toolchain.targets.fpga.spec import PRESETS, SHIFT_BITS, CoreSpec, SpecError

MAX_SHIFT = (1 << SHIFT_BITS) - 1


class MappingError(SpecError, CompilerMappingError):
    """A network that cannot be represented on a build of the FPGA core (a compiler
    ``MappingError`` too, so the shared pipeline reports it as one)."""


@dataclass(frozen=True)
class Mapping:
    """Where the network's parts live on the core and how to convert numbers back."""

    neuron_offset: dict[str, int]  # population -> first neuron
    input_offset: dict[str, int]  # source -> first input axon
    synapse_address: dict[str, np.ndarray]  # projection -> address of each IR synapse
    weight_scale: dict[str, np.ndarray]  # projection -> weight units per nA, per synapse
    v_scale: float  # LSB per mV
    v_rest: np.ndarray  # mV, per core neuron (to convert v back)


@dataclass(frozen=True)
class MappedNetwork:
    """A network compiled for one build: the image plus the input spike schedule."""

    spec: CoreSpec
    image: CoreImage
    mapping: Mapping
    dt: float


def shift_for(tau: float, dt: float, what: str) -> int:
    """``k`` with ``1 - 2**-k`` closest (in log) to ``exp(-dt / tau)``: ``round(log2(tau/dt))``."""
    k = round(math.log2(tau / dt))
    if not 0 <= k <= MAX_SHIFT:
        lo, hi = dt, dt * 2**MAX_SHIFT
        raise MappingError(
            f"{what} = {tau:g} ms gives decay shift {k}, outside 0..{MAX_SHIFT}; with "
            f"dt = {dt:g} ms use a time constant between {lo:g} and {hi:g} ms"
        )
    return k


def map_network(net: Network, spec: CoreSpec) -> MappedNetwork:
    """Quantise and pack ``net`` for ``spec``; raise :class:`MappingError` if it cannot."""
    dt = net.dt
    _check_capacity(net, spec)
    neuron_offset, off = {}, 0
    for pop in net.populations:
        if pop.cell_type is not CellType.IF_CURR_EXP:
            raise MappingError(
                f"Population '{pop.label}': the FPGA core runs IF_curr_exp neurons, not "
                f"{pop.cell_type.value}; change the cell type"
            )
        neuron_offset[pop.label] = off
        off += pop.size
    n = off
    input_offset, a = {}, 0
    for src in net.sources:
        input_offset[src.label] = a
        a += src.size
    cat = {name: np.concatenate([p.parameters[name] for p in net.populations])
           if net.populations else np.zeros(0) for name in
           ("cm", "tau_m", "tau_refrac", "tau_syn_E", "tau_syn_I", "i_offset", "v_rest",
            "v_reset", "v_thresh")}
    v_init = np.concatenate([p.initial_values["v"] for p in net.populations]) \
        if net.populations else np.zeros(0)
    syn_shift = _syn_shift(net, dt)
    pre, post, wsyn, delay, plastic, wscale, rule = _synapses(
        net, spec, neuron_offset, input_offset, n, dt, cat, syn_shift)
    stdp_per_nA = _plastic_factor(net, plastic, wscale)
    scale = _voltage_scale(spec, cat, v_init, wsyn, rule, stdp_per_nA)
    neurons = {
        "v_thresh": np.round((cat["v_thresh"] - cat["v_rest"]) * scale),
        "v_reset": np.round((cat["v_reset"] - cat["v_rest"]) * scale),
        "bias": np.round(cat["i_offset"] * dt / cat["cm"] * scale),
        "leak_shift": _per_neuron_shift(net, "tau_m", dt),
        "syn_shift": syn_shift,
        "refrac": np.round(cat["tau_refrac"] / dt),
    }
    _check_neuron_ranges(net, spec, neurons)
    weight_int = np.round(wsyn * scale)
    stdp = _stdp(rule, spec, scale * stdp_per_nA, dt) if rule is not None else STDP_OFF
    image, address = CoreImage.from_synapses(
        neurons=neurons, n_inputs=a, source=pre, target=post, weight=weight_int,
        delay=delay, plastic=plastic, stdp=stdp,
        v_init=np.round((v_init - cat["v_rest"]) * scale),
    )
    try:
        image.check(spec)
    except SpecError as e:
        raise MappingError(f"{e}") from None
    addresses, scales, k = {}, {}, 0
    for proj in net.projections:
        addresses[proj.label] = address[k: k + proj.size]
        scales[proj.label] = wscale[k: k + proj.size] * scale
        k += proj.size
    mapping = Mapping(neuron_offset, input_offset, addresses, scales, scale, cat["v_rest"])
    return MappedNetwork(spec, image, mapping, dt)


# -- capacity ------------------------------------------------------------------------------
def _check_capacity(net: Network, spec: CoreSpec) -> None:
    need = {
        "neurons": (sum(p.size for p in net.populations), spec.n_neurons, "n_neurons",
                    ", ".join(f"{p.label}: {p.size}" for p in net.populations)),
        "input axons": (sum(s.size for s in net.sources), spec.n_inputs, "n_inputs",
                        ", ".join(f"{s.label}: {s.size}" for s in net.sources)),
        "synapses": (sum(p.size for p in net.projections), spec.n_synapses, "n_synapses",
                     ", ".join(f"{p.label}: {p.size}" for p in net.projections)),
    }
    for what, (value, limit, attr, parts) in need.items():
        if value > limit:
            fits = [s.name for s in PRESETS.values() if getattr(s, attr) >= value]
            hint = (f"preset '{fits[0]}' holds {getattr(PRESETS[fits[0]], attr)}"
                    if fits else f"no preset holds that many; build a CoreSpec with "
                    f"{attr} >= {value}")
            raise MappingError(
                f"network needs {value} {what} ({parts}); build '{spec.name}' holds "
                f"{limit} ({attr}), {value - limit} too many: {hint}"
            )


# -- synapses ------------------------------------------------------------------------------
def charge_factor(tau_syn: np.ndarray, shift: np.ndarray, dt: float) -> np.ndarray:
    """``q`` with ``w q 2**shift`` (the charge of one input under the shift decay) equal to
    ``w / (1 - exp(-dt / tau_syn))`` (under the exact exponential)."""
    return 2.0 ** -np.asarray(shift, float) / -np.expm1(-dt / np.asarray(tau_syn, float))


def _synapses(net: Network, spec: CoreSpec, neuron_offset: dict[str, int],
              input_offset: dict[str, int], n: int, dt: float, cat: dict[str, np.ndarray],
              syn_shift: np.ndarray):
    pres, posts, ws, ds, plastics, scales = [], [], [], [], [], []
    rule: STDPRule | None = None
    for proj in net.projections:
        what = f"Projection '{proj.label}'"
        if proj.pre in neuron_offset:
            pre = proj.pre_index.astype(np.int64) + neuron_offset[proj.pre]
        else:
            pre = proj.pre_index.astype(np.int64) + n + input_offset[proj.pre]
        post = proj.post_index.astype(np.int64) + neuron_offset[proj.post]
        w = proj.weight.astype(np.float64)
        if proj.receptor is Receptor.INHIBITORY:
            w = -np.abs(w)
        tau = cat["tau_syn_I" if proj.receptor is Receptor.INHIBITORY else "tau_syn_E"]
        # mV of voltage step per nA of weight, charge-corrected for the shift decay
        per_nA = dt / cat["cm"][post] * charge_factor(tau[post], syn_shift[post], dt)
        d = np.round(proj.delay.astype(np.float64) / dt).astype(np.int64)
        if proj.plasticity is not None:
            if rule is not None and proj.plasticity != rule:
                raise MappingError(
                    f"{what}: its STDP rule differs from another plastic projection's; the "
                    "core has one set of STDP parameters: give all plastic projections the "
                    "same rule"
                )
            rule = proj.plasticity
        pres.append(pre)
        posts.append(post)
        ws.append(w * per_nA)
        ds.append(d)
        plastics.append(np.full(proj.size, proj.plasticity is not None))
        scales.append(per_nA)
        _check_delays(proj.label, d, proj.delay, dt, spec)
    if not pres:
        z = np.zeros(0)
        return z.astype(np.int64), z.astype(np.int64), z, z.astype(np.int64), \
            z.astype(bool), z, None
    return (np.concatenate(pres), np.concatenate(posts), np.concatenate(ws),
            np.concatenate(ds), np.concatenate(plastics), np.concatenate(scales), rule)


def _check_delays(label: str, steps: np.ndarray, delay: np.ndarray, dt: float,
                  spec: CoreSpec) -> None:
    if steps.size and steps.max() > spec.max_delay:
        k = int(np.argmax(steps))
        raise MappingError(
            f"Projection '{label}' delay[{k}] = {delay[k]:g} ms is {steps[k]} steps; build "
            f"'{spec.name}' has a {spec.ring_depth}-slot delay ring (at most "
            f"{spec.max_delay} steps = {spec.max_delay * dt:g} ms): shorten the delay or "
            f"raise delay_bits (now {spec.delay_bits})"
        )
    if steps.size and steps.min() < 1:
        k = int(np.argmin(steps))
        raise MappingError(
            f"Projection '{label}' delay[{k}] = {delay[k]:g} ms rounds to 0 steps of "
            f"{dt:g} ms; the minimum is 1 step"
        )


# -- numbers -------------------------------------------------------------------------------
def _plastic_factor(net: Network, plastic: np.ndarray, per_nA: np.ndarray) -> float:
    """mV per nA of the plastic synapses: one number, since the core has one pair of
    weight bounds."""
    values = np.unique(per_nA[plastic])
    if values.size > 1 and values.max() - values.min() > 1e-12 * values.max():
        raise MappingError(
            "plastic projections target neurons with different cm or tau_syn: the core has "
            "one pair of STDP weight bounds, so give the post-synaptic neurons of plastic "
            "projections the same cm and synaptic time constant"
        )
    return float(values[0]) if values.size else 1.0


def _voltage_scale(spec: CoreSpec, cat: dict[str, np.ndarray], v_init: np.ndarray,
                   w_mv: np.ndarray, rule: STDPRule | None, stdp_per_nA: float) -> float:
    """The largest power-of-two LSB/mV at which voltages and weights fit."""
    v_hi = spec.signed_range("v")[1]
    w_hi = spec.signed_range("w")[1]
    span = np.concatenate([np.abs(cat["v_thresh"] - cat["v_rest"]),
                           np.abs(cat["v_reset"] - cat["v_rest"]),
                           np.abs(v_init - cat["v_rest"])])
    limits = []
    if span.size and span.max() > 0:
        limits.append((v_hi / 2) / span.max())
    w_abs = np.abs(w_mv)
    if rule is not None:
        w_abs = np.append(w_abs, max(abs(rule.w_min), abs(rule.w_max)) * stdp_per_nA)
    if w_abs.size and w_abs.max() > 0:
        limits.append(w_hi / w_abs.max())
    if not limits:
        return 1.0
    return float(min(limits))


def _per_neuron_shift(net: Network, name: str, dt: float) -> np.ndarray:
    out = []
    for pop in net.populations:
        taus = pop.parameters[name]
        shifts = {float(t): shift_for(float(t), dt, f"Population '{pop.label}' {name}")
                  for t in np.unique(taus)}
        out.append(np.array([shifts[float(t)] for t in taus], np.int64))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _syn_shift(net: Network, dt: float) -> np.ndarray:
    exc = _per_neuron_shift(net, "tau_syn_E", dt)
    inh = _per_neuron_shift(net, "tau_syn_I", dt)
    if np.any(exc != inh):
        j = int(np.flatnonzero(exc != inh)[0])
        pop, local = _locate(net, j)
        raise MappingError(
            f"Population '{pop.label}' neuron {local}: tau_syn_E = "
            f"{pop.parameters['tau_syn_E'][local]:g} ms and tau_syn_I = "
            f"{pop.parameters['tau_syn_I'][local]:g} ms give decay shifts {exc[j]} and "
            f"{inh[j]}; the core has one synaptic current per neuron: make them equal"
        )
    return exc


def _locate(net: Network, j: int) -> tuple[Population, int]:
    for pop in net.populations:
        if j < pop.size:
            return pop, j
        j -= pop.size
    raise IndexError(j)


def _check_neuron_ranges(net: Network, spec: CoreSpec, neurons: dict[str, np.ndarray]) -> None:
    limits = {"bias": spec.signed_range("i"), "refrac": (0, spec.max_refrac)}
    fix = {"bias": "lower i_offset or raise i_bits",
           "refrac": f"shorten tau_refrac or raise ref_bits (now {spec.ref_bits})"}
    source = {"bias": "i_offset", "refrac": "tau_refrac"}
    for name, (lo, hi) in limits.items():
        bad = np.flatnonzero((neurons[name] < lo) | (neurons[name] > hi))
        if bad.size:
            pop, local = _locate(net, int(bad[0]))
            raise MappingError(
                f"Population '{pop.label}' parameter {source[name]}[{local}] = "
                f"{pop.parameters[source[name]][local]:g} becomes {name} "
                f"{int(neurons[name][bad[0]])}, outside {lo}..{hi} of build '{spec.name}': "
                f"{fix[name]}"
            )


# A trace decayed by a rounded shift k stops at 2**(k-1) - 1; against one spike's increment
# (half the trace range) that residue must stay below 1/2**TRACE_HEADROOM (a quarter), or
# the trace remembers every spike for ever and STDP stops depending on timing.
TRACE_HEADROOM = 2


def _trace_shift(tau: float, dt: float, name: str, spec: CoreSpec) -> int:
    k = shift_for(tau, dt, f"STDP {name}")
    if k > spec.trace_bits - TRACE_HEADROOM:
        need = k + TRACE_HEADROOM
        raise MappingError(
            f"STDP {name} = {tau:g} ms is a decay shift of {k} at dt = {dt:g} ms, but the "
            f"{spec.trace_bits}-bit traces of build '{spec.name}' stop decaying at "
            f"{(1 << (k - 1)) - 1} of an increment of {(spec.trace_max + 1) // 2}: raise "
            f"trace_bits to {need}, or use {name} below "
            f"{dt * 2 ** (spec.trace_bits - TRACE_HEADROOM + 0.5):.3g} ms or a larger dt"
        )
    return k


def _stdp(rule: STDPRule, spec: CoreSpec, units_per_nA: float, dt: float) -> StdpParams:
    if rule.weight_dependence is not WeightDependence.ADDITIVE:
        raise MappingError(
            f"STDP weight dependence '{rule.weight_dependence.value}' is not supported by the "
            "FPGA core (its updates are shifts of a trace): use 'additive'"
        )
    inc = (spec.trace_max + 1) // 2
    w_min = int(round(rule.w_min * units_per_nA))
    w_max = int(round(rule.w_max * units_per_nA))

    def rate_shift(a: float, name: str) -> int:
        span = max(w_max - w_min, 1)
        if a <= 0:
            return MAX_SHIFT
        k = round(math.log2(inc / (a * span)))
        if not 0 <= k <= MAX_SHIFT:
            raise MappingError(
                f"STDP {name} = {a:g} gives a learning-rate shift of {k}, outside "
                f"0..{MAX_SHIFT}: choose {name} between "
                f"{inc / (span * 2**MAX_SHIFT):.3g} and {inc / span:.3g}"
            )
        return k

    params = StdpParams(
        enable=True,
        pre_decay_shift=_trace_shift(rule.tau_plus, dt, "tau_plus", spec),
        post_decay_shift=_trace_shift(rule.tau_minus, dt, "tau_minus", spec),
        potentiate_shift=rate_shift(rule.A_plus, "A_plus"),
        depress_shift=rate_shift(rule.A_minus, "A_minus"),
        trace_increment=inc, w_min=w_min, w_max=w_max,
    )
    return params
