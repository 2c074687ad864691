"""Quantise a PyNN network (IR) into the FPGA core's integer formats
(:mod:`~toolchain.targets.fpga.numerics`) and pack it into a
:class:`~toolchain.targets.fpga.image.CoreImage`.

The core's timestep is the network's ``dt``; populations are consecutive neuron ranges,
sources consecutive input-axon ranges, projections rows of the one synapse memory.

A value or a size beyond the build is a broken limit naming the population or projection,
the parameter, the value, the limit and the option that fixes it: a preset that holds it
(``-O build=...``) or the core parameter to raise (``-O ref_bits=...``).  In a non-strict
compile the mapping carries on on a *virtual build* with the sizes the network needs and
values clipped to their registers, so the report shows every limit at once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from toolchain.compiler.fit import approximation, fit_hint
from toolchain.compiler.pipeline import Violations, violation
from toolchain.ir import CellType, Network, Population, Receptor, STDPRule
from toolchain.ir.network import WeightDependence, refusals
from toolchain.targets.fpga.image import STDP_OFF, CoreImage
from toolchain.targets.fpga.numerics import (
    MappingError,
    charge_factor,
    plastic_factor,
    shift_for,
    stdp_params,
    syn_shift_for,
    voltage_scale,
)
from toolchain.targets.fpga.spec import _LIMITS, PRESETS, CoreSpec, SpecError
from toolchain.targets.options import option_hint

__all__ = ["MappedNetwork", "Mapping", "MappingError", "map_network"]


@dataclass(frozen=True)
class Mapping:
    """Where the network's parts live on the core and how to convert numbers back."""

    neuron_offset: dict[str, int]  # population -> first neuron
    input_offset: dict[str, int]  # source -> first input axon
    synapse_address: dict[str, np.ndarray]  # projection -> address of each IR synapse
    weight_scale: dict[str, np.ndarray]  # projection -> weight units per nA, per synapse
    v_scale: float  # LSB per mV
    v_rest: np.ndarray  # mV, per core neuron (to convert v back)
    i_scale: np.ndarray  # LSB of the (excitatory) synaptic current per nA, per core neuron
    i_scale_inh: np.ndarray  # the same for the inhibitory current of a two-current build


@dataclass(frozen=True)
class MappedNetwork:
    """A network compiled for one build: the image plus the input spike schedule."""

    spec: CoreSpec
    image: CoreImage
    mapping: Mapping
    dt: float


def map_network(net: Network, spec: CoreSpec,
                violations: Violations | None = None) -> MappedNetwork:
    """Quantise and pack ``net`` for ``spec``.  A broken limit goes to ``violations``
    (raised at once by default); a missing feature raises :class:`MappingError`."""
    found = violations if violations is not None else Violations(True, MappingError)
    dt = net.dt
    for pop in net.populations:
        if pop.cell_type is not CellType.IF_CURR_EXP:
            raise MappingError(
                f"Population '{pop.label}': the FPGA core runs IF_curr_exp neurons, not "
                f"{pop.cell_type.value}; change the cell type"
            )
    for message in refusals(net, "fpga", stdp=(WeightDependence.ADDITIVE,)):
        raise MappingError(message)
    spec = _fit_capacity(net, spec, found)
    neuron_offset, off = {}, 0
    for pop in net.populations:
        neuron_offset[pop.label] = off
        off += pop.size
    n = off
    input_offset, a = {}, 0
    for src in net.sources:
        input_offset[src.label] = a
        a += src.size
    cat = {name: np.concatenate([p.parameters[name] for p in net.populations])
           for name in ("cm", "tau_m", "tau_refrac", "tau_syn_E", "tau_syn_I", "i_offset",
                        "v_rest", "v_reset", "v_thresh")}
    v_init = np.concatenate([p.initial_values["v"] for p in net.populations])
    syn_shift, syn_shift_inh = _syn_shift(net, spec, dt, found)
    spec = _fit_delays(net, spec, found)
    pre, post, wsyn, delay, plastic, wscale, rule, rule_of, inh = _synapses(
        net, spec, neuron_offset, input_offset, n, dt, cat, syn_shift, syn_shift_inh)
    stdp_per_nA = plastic_factor(plastic, wscale)
    scale = voltage_scale(spec, cat, v_init, wsyn, rule, stdp_per_nA)
    neurons = {
        "v_thresh": np.round((cat["v_thresh"] - cat["v_rest"]) * scale),
        "v_reset": np.round((cat["v_reset"] - cat["v_rest"]) * scale),
        "bias": np.round(cat["i_offset"] * dt / cat["cm"] * scale),
        "leak_shift": _per_neuron_shift(net, "tau_m", dt, found),
        "syn_shift": syn_shift,
        "refrac": np.round(cat["tau_refrac"] / dt),
    }
    if spec.receptors == 2:
        neurons["syn_shift_inh"] = syn_shift_inh
    _check_neuron_ranges(net, spec, neurons, found)
    weight_int = np.round(wsyn * scale)
    stdp = stdp_params(rule, spec, scale * stdp_per_nA, dt, rule_of, found) \
        if rule is not None else STDP_OFF
    image, address = CoreImage.from_synapses(
        neurons=neurons, n_inputs=a, source=pre, target=post, weight=weight_int,
        delay=delay, plastic=plastic, stdp=stdp,
        v_init=np.round((v_init - cat["v_rest"]) * scale),
        inh=inh if spec.receptors == 2 else None,
    )
    spec = _fit_accumulator(net, image, spec, found)
    try:
        image.check(spec)
    except SpecError as e:
        raise MappingError(f"{e}") from None
    addresses, scales, k = {}, {}, 0
    for proj in net.projections:
        addresses[proj.label] = address[k: k + proj.size]
        scales[proj.label] = wscale[k: k + proj.size] * scale
        k += proj.size
    frac = 2.0 ** spec.i_frac  # the currents' LSB is 2**-i_frac of the voltage's
    i_scale = dt / cat["cm"] * charge_factor(cat["tau_syn_E"], syn_shift, dt) * scale * frac
    i_scale_inh = dt / cat["cm"] * charge_factor(cat["tau_syn_I"], syn_shift_inh, dt) * \
        scale * frac
    mapping = Mapping(neuron_offset, input_offset, addresses, scales, scale, cat["v_rest"],
                      i_scale, i_scale_inh)
    return MappedNetwork(spec, image, mapping, dt)


# -- capacity ------------------------------------------------------------------------------
def _fit_capacity(net: Network, spec: CoreSpec, found: Violations) -> CoreSpec:
    """The build, or (recorded violations) a virtual build large enough for the network."""
    need = {
        "neurons": (sum(p.size for p in net.populations), "n_neurons",
                    ", ".join(f"{p.label}: {p.size}" for p in net.populations),
                    net.populations),
        "input axons": (sum(s.size for s in net.sources), "n_inputs",
                        ", ".join(f"{s.label}: {s.size}" for s in net.sources), net.sources),
        "synapses": (sum(p.size for p in net.projections), "n_synapses",
                     ", ".join(f"{p.label}: {p.size}" for p in net.projections),
                     net.projections),
    }
    grown = {}
    for what, (value, attr, parts, nodes) in need.items():
        limit = getattr(spec, attr)
        if value <= limit:
            continue
        fits = [s.name for s in PRESETS.values() if getattr(s, attr) >= value]
        hint = (f"{option_hint('build', fits[0])} (preset '{fits[0]}' holds "
                f"{getattr(PRESETS[fits[0]], attr)})" if fits else
                f"no preset holds that many: raise {attr} ({option_hint(attr, value)})")
        biggest = max(nodes, key=lambda x: x.size)
        element = "projection" if attr == "n_synapses" else (
            "population" if attr == "n_neurons" else "source")
        found.add(violation(
            element, biggest.label, attr, value, limit, hint,
            f"network needs {value} {what} ({parts}); build '{spec.name}' holds "
            f"{limit} ({attr}), {value - limit} too many: {hint}"))
        grown[attr] = min(value, _LIMITS[attr][1])
    if not grown:
        return spec
    return dataclasses.replace(spec, name=f"{spec.name}+virtual", **grown)


def _fit_delays(net: Network, spec: CoreSpec, found: Violations) -> CoreSpec:
    """Delays within the delay ring (else a violation, and a virtual build with a deeper
    ring); the IR guarantees at least one step."""
    grown = spec.delay_bits
    for proj in net.projections:
        steps = np.round(proj.delay.astype(np.float64) / net.dt).astype(np.int64)
        if steps.size and steps.max() > spec.max_delay:
            k = int(np.argmax(steps))
            bits = int(steps[k]).bit_length()
            fix = ("shorten the delay or raise delay_bits (now "
                   f"{spec.delay_bits}): {option_hint('delay_bits', bits)}, or "
                   + fit_hint("shorten it"))
            found.add(violation(
                "projection", proj.label, "delay_steps", int(steps[k]), spec.max_delay, fix,
                f"Projection '{proj.label}' delay[{k}] = {proj.delay[k]:g} ms is {steps[k]} "
                f"steps; build '{spec.name}' has a {spec.ring_depth}-slot delay ring (at most "
                f"{spec.max_delay} steps = {spec.max_delay * net.dt:g} ms): {fix}"))
            grown = max(grown, min(bits, _LIMITS["delay_bits"][1]))
    if grown == spec.delay_bits:
        return spec
    name = spec.name if spec.name.endswith("+virtual") else f"{spec.name}+virtual"
    return dataclasses.replace(spec, name=name, delay_bits=grown)


# -- synapses ------------------------------------------------------------------------------
def _synapses(net: Network, spec: CoreSpec, neuron_offset: dict[str, int],
              input_offset: dict[str, int], n: int, dt: float, cat: dict[str, np.ndarray],
              syn_shift: np.ndarray, syn_shift_inh: np.ndarray):
    pres, posts, ws, ds, plastics, scales, inhs = [], [], [], [], [], [], []
    rule: STDPRule | None = None
    rule_of = ""
    for proj in net.projections:
        what = f"Projection '{proj.label}'"
        if proj.pre in neuron_offset:
            pre = proj.pre_index.astype(np.int64) + neuron_offset[proj.pre]
        else:
            pre = proj.pre_index.astype(np.int64) + n + input_offset[proj.pre]
        post = proj.post_index.astype(np.int64) + neuron_offset[proj.post]
        w = proj.weight.astype(np.float64)
        inhibitory = proj.receptor is Receptor.INHIBITORY
        if inhibitory:
            w = -np.abs(w)
        tau = cat["tau_syn_I" if inhibitory else "tau_syn_E"]
        shift = syn_shift_inh if inhibitory else syn_shift
        # mV of voltage step per nA of weight, charge-corrected for the shift decay
        per_nA = dt / cat["cm"][post] * charge_factor(tau[post], shift[post], dt)
        # within the ring by _fit_delays (clipped where a violation was recorded)
        d = np.clip(np.round(proj.delay.astype(np.float64) / dt), 1, spec.max_delay
                    ).astype(np.int64)
        if proj.plasticity is not None:
            if rule is not None and proj.plasticity != rule:
                raise MappingError(
                    f"{what}: its STDP rule differs from another plastic projection's; the "
                    "core has one set of STDP parameters: give all plastic projections the "
                    "same rule"
                )
            rule, rule_of = proj.plasticity, rule_of or proj.label
        pres.append(pre)
        posts.append(post)
        ws.append(w * per_nA)
        ds.append(d)
        plastics.append(np.full(proj.size, proj.plasticity is not None))
        scales.append(per_nA)
        inhs.append(np.full(proj.size, inhibitory))
    if not pres:
        z = np.zeros(0)
        return z.astype(np.int64), z.astype(np.int64), z, z.astype(np.int64), \
            z.astype(bool), z, None, "", z.astype(bool)
    return (np.concatenate(pres), np.concatenate(posts), np.concatenate(ws),
            np.concatenate(ds), np.concatenate(plastics), np.concatenate(scales), rule,
            rule_of, np.concatenate(inhs))


# -- neurons -------------------------------------------------------------------------------
def _per_neuron_shift(net: Network, name: str, dt: float, found: Violations) -> np.ndarray:
    out = []
    for pop in net.populations:
        taus = pop.parameters[name]
        what = f"Population '{pop.label}' {name}"
        if name.startswith("tau_syn"):  # below dt: a one-step synapse
            shifts = {float(t): syn_shift_for(float(t), dt, what, label=pop.label,
                                              violations=found) for t in np.unique(taus)}
        else:
            shifts = {float(t): shift_for(float(t), dt, what, element="population",
                                          label=pop.label, violations=found)
                      for t in np.unique(taus)}
        out.append(np.array([shifts[float(t)] for t in taus], np.int64))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def _syn_shift(net: Network, spec: CoreSpec, dt: float,
               found: Violations) -> tuple[np.ndarray, np.ndarray]:
    """The decay shifts of each neuron's excitatory and inhibitory current.  A two-current
    build decays each receptor's current with its own.  A one-current build has one
    shift per neuron: where tau_syn_E and tau_syn_I give different shifts it cannot run
    the neuron as written; with fit='approximate' shifts one apart (neighbouring powers
    of two: a shift realises a time constant only within sqrt(2) anyway) become the shift
    of their geometric mean, and every input keeps its charge (the weights' charge factor
    is per receptor)."""
    exc = _per_neuron_shift(net, "tau_syn_E", dt, found)
    inh = _per_neuron_shift(net, "tau_syn_I", dt, found)
    if spec.receptors == 2:
        return exc, inh
    differ = exc != inh
    if not differ.any():
        return exc, exc
    close = np.abs(exc - inh) <= 1
    if found.approximating and close[differ].all():
        tau_e = np.concatenate([p.parameters["tau_syn_E"] for p in net.populations])
        tau_i = np.concatenate([p.parameters["tau_syn_I"] for p in net.populations])
        shared = np.clip(np.rint(np.log2(np.sqrt(tau_e * tau_i) / dt)), np.minimum(exc, inh),
                         np.maximum(exc, inh)).astype(np.int64)
        _record_shared_decay(net, differ, exc, inh, shared, found)
        shared = np.where(differ, shared, exc)
        return shared, shared
    j = int(np.flatnonzero(differ & ~close)[0] if (differ & ~close).any()
            else np.flatnonzero(differ)[0])
    pop, local = _locate(net, j)
    two = [s.name for s in PRESETS.values() if s.receptors == 2]
    builds = (f"use a build with two currents, {option_hint('build', two[0])} or "
              f"{option_hint('receptors', 2)}")
    hint = (f", {builds}, or, as they are one shift apart, "
            + fit_hint("give both one decay (their geometric mean's shift, each input's "
                       "charge kept)")) if close[j] else (
        f" or {builds} (an approximate fit shares a decay only between shifts one apart)")
    raise MappingError(
        f"Population '{pop.label}' neuron {local}: tau_syn_E = "
        f"{pop.parameters['tau_syn_E'][local]:g} ms and tau_syn_I = "
        f"{pop.parameters['tau_syn_I'][local]:g} ms give decay shifts {exc[j]} and "
        f"{inh[j]}; build '{spec.name}' has one synaptic current per neuron: make them "
        f"equal{hint}"
    )


def _record_shared_decay(net: Network, differ: np.ndarray, exc: np.ndarray, inh: np.ndarray,
                         shared: np.ndarray, found: Violations) -> None:
    start = 0
    for pop in net.populations:
        mine = differ[start:start + pop.size]
        if mine.any():
            into = sum(int(np.isin(p.post_index, np.flatnonzero(mine)).sum())
                       for p in net.projections if p.post == pop.label)
            k = slice(start, start + pop.size)
            pairs = sorted({(int(e), int(i), int(s)) for e, i, s, m in zip(
                exc[k], inh[k], shared[k], mine, strict=True) if m})
            text = ", ".join(f"shifts {e} (tau_syn_E) and {i} (tau_syn_I) -> {s}"
                             for e, i, s in pairs)
            found.approximate(approximation(
                "synaptic_decay_shared", "population", pop.label, neurons=int(mine.sum()),
                synapses=into,
                detail=f"the build has one synaptic current per neuron, so both receptors "
                       f"decay with one shift ({text}); each input keeps its charge"))
        start += pop.size


def _locate(net: Network, j: int) -> tuple[Population, int]:
    for pop in net.populations:
        if j < pop.size:
            return pop, j
        j -= pop.size
    raise IndexError(j)


def _check_neuron_ranges(net: Network, spec: CoreSpec, neurons: dict[str, np.ndarray],
                         found: Violations) -> None:
    """Bias and refractory count within their registers (clipped after a recorded
    violation)."""
    limits = {"bias": (spec.signed_range("i"), "i_bits", spec.i_bits),
              "refrac": ((0, spec.max_refrac), "ref_bits", spec.ref_bits)}
    source = {"bias": "i_offset", "refrac": "tau_refrac"}
    for name, ((lo, hi), field, bits) in limits.items():
        values = neurons[name]
        bad = np.flatnonzero((values < lo) | (values > hi))
        if not bad.size:
            continue
        worst = int(bad[np.argmax(np.abs(values[bad]))])
        need = int(abs(values[worst])).bit_length() + (1 if name == "bias" else 0)
        pop, local = _locate(net, worst)
        param = source[name]
        if name == "refrac" and found.approximating:
            _record_refractory(net, values, hi, found)
            np.clip(values, lo, hi, out=values)
            continue
        fix = (f"lower {param} or raise {field} (now {bits}): {option_hint(field, need)}"
               + (", or " + fit_hint(f"shorten it to {hi} steps") if name == "refrac"
                  else ""))
        found.add(violation(
            "population", pop.label, field, need, bits, fix,
            f"Population '{pop.label}' parameter {param}[{local}] = "
            f"{pop.parameters[param][local]:g} becomes {name} {int(values[worst])}, outside "
            f"{lo}..{hi} of build '{spec.name}': {fix}"))
        np.clip(values, lo, hi, out=values)


def _record_refractory(net: Network, steps: np.ndarray, hi: int, found: Violations) -> None:
    start = 0
    for pop in net.populations:
        over = steps[start:start + pop.size] > hi
        if over.any():
            longest = float(pop.parameters["tau_refrac"][over].max())
            found.approximate(approximation(
                "refractory_shortened", "population", pop.label, neurons=int(over.sum()),
                limit="ref_bits",
                detail=f"tau_refrac up to {longest:g} ms became {hi} steps "
                       f"({hi * net.dt:g} ms), the longest the refractory counter holds"))
        start += pop.size


def _fit_accumulator(net: Network, image: CoreImage, spec: CoreSpec,
                     found: Violations) -> CoreSpec:
    """The ring accumulator is not saturated, so the image must prove that no slot can
    overflow (else a violation, and a virtual build with a wider accumulator)."""
    worst = image.accumulator_load(spec)
    hi = spec.signed_range("acc")[1]
    if not worst.size or worst.max() <= hi:
        return spec
    j, d = np.unravel_index(int(np.argmax(worst)), worst.shape)
    need = int(worst[j, d]).bit_length() + 1
    pop, local = _locate(net, int(j))
    fix = f"raise acc_bits ({option_hint('acc_bits', need)}) or scale the weights down"
    found.add(violation(
        "population", pop.label, "acc_bits", need, spec.acc_bits, fix,
        f"Population '{pop.label}' neuron {local} can receive {int(worst[j, d])} weight "
        f"units in one step through its delay-{d} synapses; the {spec.acc_bits}-bit ring "
        f"accumulator holds {hi}: {fix}"))
    name = spec.name if spec.name.endswith("+virtual") else f"{spec.name}+virtual"
    return dataclasses.replace(spec, name=name, acc_bits=min(max(need, spec.w_bits),
                                                             _LIMITS["acc_bits"][1]))
