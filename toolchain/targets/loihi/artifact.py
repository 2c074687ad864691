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
