"""Which PyNN features each target runs, and how: natively, only with an approximate fit,
or not at all, for a reason of its hardware with the source of that fact.

Every target declares a :class:`Support` per entry of :data:`FEATURES` (``Target.SUPPORT``);
``spikeport info TARGET`` lists them, docs/portability.md shows them as one table
(:func:`feature_table`), and the conformance suite (tests/targets/test_support.py) compiles
a network using each feature on each target and checks that the declared status is what
happens: "native" compiles strictly, "approximated" is refused strictly and compiles with
``fit='approximate'``, "refused" is refused either way with a message containing ``says``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

NATIVE = "native"
APPROXIMATED = "approximated"
REFUSED = "refused"
STATUSES = (NATIVE, APPROXIMATED, REFUSED)

#: the PyNN features the IR describes, in the order the tables list them
FEATURES: dict[str, str] = {
    "IF_curr_exp": "LIF, exponential current synapses",
    "IF_curr_alpha": "LIF, alpha-shaped current synapses",
    "IF_cond_exp": "LIF, exponential conductance synapses",
    "tau_syn_E != tau_syn_I": "separate excitatory and inhibitory synaptic time constants",
    "varying parameters": "a parameter (tau_m, ...) that varies within a population",
    "delays": "synaptic delays of several steps (5 ms at dt = 0.1 ms)",
    "SpikeSourcePoisson": "Poisson spike sources",
    "SpikeSourceArray": "spike sources of given times",
    "DCSource": "a constant current injected into some neurons",
    "StepCurrentSource": "a piecewise-constant current injected into some neurons",
    "STDP additive": "pair STDP, additive weight dependence",
    "STDP multiplicative": "pair STDP, multiplicative weight dependence",
    "record v": "recording the membrane potential",
    "record isyn_exc, isyn_inh": "recording both synaptic currents of a neuron fed by both "
                                 "receptors",
    "IF_curr_delta": "LIF, synapses that make v jump by the weight",
    "IF_cond_alpha": "LIF, alpha-shaped conductance synapses",
    "IF_cond_exp_gsfa_grr": "LIF with spike-frequency adaptation and relative refractory "
                            "conductances",
    "EIF_cond_exp_isfa_ista": "adaptive exponential (AdExp) cell, exponential conductances "
                              "(PyNN's defaults: sub-threshold adaptation a = 4 nS)",
    "EIF_cond_alpha_isfa_ista": "adaptive exponential cell, alpha-shaped conductances",
    "AdExp, a = 0": "PointNeuron AdExp with a current receptor, spike-triggered adaptation "
                    "only",
    "HH_cond_exp": "Hodgkin-Huxley cell",
    "Izhikevich": "Izhikevich cell",
    "GIF_cond_exp": "generalised integrate-and-fire cell (escape noise, moving threshold)",
    "PointNeuron, current receptors": "PointNeuron LIF with named current receptors of two "
                                      "time constants (AMPA 2 ms, NMDA 50 ms)",
    "PointNeuron, conductance receptors": "PointNeuron LIF with a named conductance receptor",
    "TsodyksMarkramSynapse": "short-term depression and facilitation",
    "SimpleStochasticSynapse": "synapses that release with a probability",
    "StochasticTsodyksMarkramSynapse": "stochastic release with short-term plasticity",
    "MultiQuantalSynapse": "release of several quanta per synapse",
    "STDP additive-potentiation-multiplicative-depression": "pair STDP, additive "
                                                            "potentiation, multiplicative "
                                                            "depression",
    "STDP Gutig": "pair STDP, Gutig's power-law weight dependence (mu = 0.5)",
    "STDP Vogels2011": "Vogels et al. 2011 inhibitory plasticity",
    "STDP dendritic delay": "pair STDP placing pre and post spikes by a dendritic part of "
                            "the delay",
    "SpikeSourceGamma": "gamma-process spike sources",
    "SpikeSourcePoissonRefractory": "Poisson spike sources with a dead time",
    "SpikeSourceInhGamma": "inhomogeneous gamma-process spike sources",
    "ACSource": "a sinusoidal current injected into some neurons",
    "NoisyCurrentSource": "a noisy current injected into some neurons",
}


@dataclass(frozen=True)
class Support:
    """How a target runs one feature: ``status`` (native, approximated, refused), ``how``
    (one sentence: the hardware's way of doing it, or the hardware fact that rules it
    out), ``source`` (where that fact comes from: a paper, a document, a code base) and,
    for a refusal, ``says``: a fragment of the message the compile gives."""

    status: str
    how: str
    source: str = ""
    says: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"Support status {self.status!r} is not one of {STATUSES}")
        if self.status == REFUSED and not (self.says and self.source):
            raise ValueError(f"a refusal names its hardware fact's source and the message "
                             f"it gives: {self.how!r}")


def native(how: str, source: str = "") -> Support:
    return Support(NATIVE, how, source)


def approximated(how: str, source: str = "") -> Support:
    return Support(APPROXIMATED, how, source)


def refused(how: str, source: str, says: str) -> Support:
    return Support(REFUSED, how, source, says)


def feature_table(targets: Mapping[str, Mapping[str, Support]],
                  reference: str = "reference") -> str:
    """The features x targets table as Markdown: the status per cell, with a numbered
    note below (how the target does it, or the fact that rules it out, and its source);
    the ``reference`` target's column, native throughout, has one note for all."""
    names = list(targets)
    notes: list[str] = []
    lines = ["| feature | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for feature in FEATURES:
        cells = []
        for name in names:
            s = targets[name].get(feature)
            if s is None:
                cells.append("-")
            elif name == reference:
                cells.append(s.status)
            else:
                notes.append(f"{name}, {feature}: {s.how}"
                             + (f" [{s.source}]" if s.source else ""))
                cells.append(f"{s.status} ({len(notes)})")
        lines.append(f"| {feature} | " + " | ".join(cells) + " |")
    lines.append("")
    if reference in targets:
        ref = next(iter(targets[reference].values()))
        lines.append(f"{reference}: {ref.how}" + (f" [{ref.source}]" if ref.source else ""))
        lines.append("")
    lines += [f"{k}. {n}" for k, n in enumerate(notes, 1)]
    return "\n".join(lines) + "\n"


def declared_table() -> str:
    """:func:`feature_table` of every registered target's declarations."""
    from toolchain.targets import TARGETS, target_class

    return feature_table({n: target_class(n).SUPPORT for n in TARGETS})


def describe(support: Mapping[str, Support]) -> list[str]:
    """Lines for ``spikeport info TARGET``."""
    out = []
    for feature in FEATURES:
        s = support.get(feature)
        if s is not None:
            out.append(f"  {feature:<28} {s.status}: {s.how}"
                       + (f" [{s.source}]" if s.source else ""))
    return out
