"""What the Loihi compile adds to the shared artifact: the learning engine's section of
the report (the STDP rules as the engine realises them, and what that cost), and the
run-time detail (the partition's rows, for estimates under another activity)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.compiler.artifact import ReportSection, TargetDetail
from toolchain.compiler.pipeline import Build, Rows


@dataclass(frozen=True)
class LoihiDetail(TargetDetail):
    """The synapse rows of the partition, for cost estimates under another activity (the
    simulator itself needs nothing beyond the network)."""

    rows: tuple[Rows | None, ...]


def compartment_section(build: Build) -> Build:
    """Pass: a report section on the populations of neurons with dendrites (receptors
    whose currents need decays of their own: a soma and dendrites joined), what that costs
    a core, and the compartments every core holds."""
    from toolchain.targets.loihi.convert import compartment_taus
    from toolchain.targets.loihi.timing import compartments_per_core

    net, spec = build.network, build.spec
    cores = build.need("cores", "compartment_section")
    several = [(p, spec.compartments(p, net.dt)) for p in net.populations]
    several = [(p, k) for p, k in several if k > 1]
    if not several:
        return build
    used = compartments_per_core(net, spec, cores)
    limit = spec.limits.neurons
    lines = []
    for p, k in several:
        taus, feeds, _ = compartment_taus(p, net.dt)
        parts = "; ".join(
            ("soma" if c == 0 else f"dendrite {c}") + ": "
            + ", ".join(str(getattr(r, "value", r)) for r, at in feeds.items() if at == c)
            + f" {taus[c]:g} ms" for c in range(k))
        lines.append(f"  {p.label}: {p.size} neurons x {k} compartments ({parts}), at most "
                     f"{limit // k} neurons per core")
    lines.append(f"  compartments per core: peak {int(used.max())} of {limit}, "
                 f"{int(used.sum())} in all; each dendrite's current joins the soma's "
                 "voltage update (join ADD), each compartment updates every step")
    values: dict[str, float | int | str] = {f"compartments_per_neuron[{p.label}]": k
                                            for p, k in several}
    values.update(compartments_peak=int(used.max()), compartments_total=int(used.sum()))
    section = ReportSection("Loihi compartments (a dendrite per receptor current with a "
                            "decay of its own)", tuple(lines), values)
    return build.replace(sections=(*build.sections, section))


def bias_section(build: Build) -> Build:
    """Pass: a report section on the current sources: which biases the host sets, which an
    embedded core rewrites (at a step source's switches, every step of an AC source's
    window) and what a write costs; the noise generators' settings."""
    from toolchain.ir import ACSource, DCSource, NoisyCurrentSource, StepCurrentSource
    from toolchain.sim.clock import nearest_step

    net = build.network
    if not net.currents:
        return build
    write = build.spec.bias_write
    lines, values = [], {}
    noise = build.extras.get("noise", {})
    for src in net.currents:
        n = int(src.indices.size)
        if isinstance(src, StepCurrentSource):
            switches = int(np.unique(nearest_step(src.times, net.dt)).size)
            lines.append(f"  {src.label} (step, into '{src.target}'): {switches} switches x "
                         f"{n} bias writes, {n * write.ns:g} ns and {n * write.pj:.4g} pJ "
                         "added to each switching step")
            values[f"bias_writes[{src.label}]"] = switches * n
        elif isinstance(src, ACSource):
            lines.append(f"  {src.label} (AC, into '{src.target}'): {n} bias writes every "
                         f"step it is on, {n * write.ns:g} ns and {n * write.pj:.4g} pJ per "
                         "step (in the step estimate)")
            values[f"bias_writes_per_step[{src.label}]"] = n
        elif isinstance(src, DCSource):
            lines.append(f"  {src.label} (DC, into '{src.target}'): {n} biases set at its "
                         "start and stop")
        elif isinstance(src, NoisyCurrentSource) and src.label in noise:
            nc = noise[src.label]
            lines.append(f"  {src.label} (noise, into '{src.target}'): noise generator of "
                         f"{n} compartments at exponent {nc.exp} (draws x "
                         f"{nc.multiplier} into v), {nc.realised_stdev_na:.4g} nA per step "
                         f"for the source's {nc.stdev_na:.4g} ({nc.stdev_rel_error:+.1%}); "
                         f"mean {nc.mean_na:.4g} nA on the bias")
            values[f"noise_exp[{src.label}]"] = nc.exp
            values[f"noise_stdev_rel_error[{src.label}]"] = nc.stdev_rel_error
    lines.append(f"  a bias write: {write.ns:g} ns, {write.pj:g} pJ (one mesh message from "
                 "an embedded core and one compartment access; our model [unverified])")
    section = ReportSection("Loihi bias schedule (current sources)", tuple(lines), values)
    return build.replace(sections=(*build.sections, section))


def learning_section(build: Build) -> Build:
    """Pass: a report section per plastic projection's rule on the learning engine."""
    learning: dict[str, dict[str, float]] = build.extras.get("learning", {})
    if not learning:
        return build
    lines, values = [], {}
    for label, rep in learning.items():
        lines.append(
            f"  {label}: tau+ {rep['tau_plus_ms']:.4g} ms ({rep['tau_plus_rel_error']:+.1%}), "
            f"tau- {rep['tau_minus_ms']:.4g} ms ({rep['tau_minus_rel_error']:+.1%}), "
            f"A+ {rep['A_plus']:.4g} ({rep['A_plus_rel_error']:+.1%}), "
            f"A- {rep['A_minus']:.4g} ({rep['A_minus_rel_error']:+.1%}), "
            f"w {rep['w_min']:.4g}..{rep['w_max']:.4g} nA")
        values.update({f"{k}[{label}]": float(v) for k, v in rep.items()})
    section = ReportSection("Loihi learning engine (STDP as realised; relative errors)",
                            tuple(lines), values)
    return build.replace(sections=(*build.sections, section))
