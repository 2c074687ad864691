"""Recording on targets whose neurons keep one synaptic current (Loihi's compartments, the
FPGA core): what they can report as PyNN's ``isyn_exc`` and ``isyn_inh``, and what they
must refuse at compile time rather than return wrong.

A neuron with one current ``i`` holds the sum of its excitatory and inhibitory currents.
When only one receptor type feeds a population, ``i`` *is* that receptor's current and the
other one is exactly 0, so both record right; when both feed it, the two cannot be told
apart and recording either is refused by name.
"""

from __future__ import annotations

from collections.abc import Collection

from toolchain.ir import Network, Receptor

CURRENTS = {Receptor.EXCITATORY: "isyn_exc", Receptor.INHIBITORY: "isyn_inh"}


def receptors_into(network: Network, population: str) -> set[Receptor]:
    return {p.receptor for p in network.projections if p.post == population}


def reported_current(network: Network, population: str) -> str:
    """The state variable the one current of ``population`` is reported as."""
    feeding = receptors_into(network, population)
    return CURRENTS[Receptor.INHIBITORY] if feeding == {Receptor.INHIBITORY} \
        else CURRENTS[Receptor.EXCITATORY]


def one_current_refusals(network: Network, hardware: str,
                         two_currents: Collection[str] = (),
                         elsewhere: str = "the reference or spinnaker2 target") -> list[str]:
    """Messages for every recording of isyn_exc/isyn_inh that one current cannot honour
    (populations in ``two_currents`` keep both: Loihi's two-compartment neurons)."""
    out = []
    for rec in network.recordings:
        if rec.variable not in CURRENTS.values() or rec.target in two_currents:
            continue
        if len(receptors_into(network, rec.target)) > 1:
            out.append(
                f"Recording of '{rec.target}'.{rec.variable}: {hardware} keeps one synaptic "
                f"current per neuron, and '{rec.target}' receives both excitatory and "
                "inhibitory input, so its isyn_exc and isyn_inh cannot be told apart; record "
                f"v or spikes there, or run on {elsewhere}"
            )
    return out
