"""What the Loihi compile adds to the shared artifact: the learning engine's section of
the report (the STDP rules as the engine realises them, and what that cost), and the
run-time detail (the partition's rows, for estimates under another activity)."""

from __future__ import annotations

from dataclasses import dataclass

from toolchain.compiler.artifact import ReportSection, TargetDetail
from toolchain.compiler.pipeline import Build, Rows


@dataclass(frozen=True)
class LoihiDetail(TargetDetail):
    """The synapse rows of the partition, for cost estimates under another activity (the
    simulator itself needs nothing beyond the network)."""

    rows: tuple[Rows | None, ...]


def compartment_section(build: Build) -> Build:
    """Pass: a report section on the populations of two-compartment neurons (their
    tau_syn_E and tau_syn_I need different current decays: a soma and a dendrite joined),
    what that costs a core, and the compartments every core holds."""
    from toolchain.targets.loihi.timing import compartments_per_core

    net, spec = build.network, build.spec
    cores = build.need("cores", "compartment_section")
    two = [p for p in net.populations if spec.compartments(p, net.dt) == 2]
    if not two:
        return build
    used = compartments_per_core(net, spec, cores)
    limit = spec.limits.neurons
    lines = [f"  {p.label}: {p.size} neurons x 2 compartments (soma: tau_syn_E "
             f"{float(p.parameters['tau_syn_E'][0]):g} ms; dendrite: tau_syn_I "
             f"{float(p.parameters['tau_syn_I'][0]):g} ms), at most {limit // 2} neurons "
             "per core" for p in two]
    lines.append(f"  compartments per core: peak {int(used.max())} of {limit}, "
                 f"{int(used.sum())} in all; the dendrite's current joins the soma's "
                 "voltage update (join ADD), each compartment updates every step")
    values: dict[str, float | int | str] = {f"compartments_per_neuron[{p.label}]": 2
                                            for p in two}
    values.update(compartments_peak=int(used.max()), compartments_total=int(used.sum()))
    section = ReportSection("Loihi compartments (two per neuron where tau_syn_E and "
                            "tau_syn_I differ)", tuple(lines), values)
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
