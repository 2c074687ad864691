"""Which of its core's four DPI synapse circuits each PyNN receptor of a population drives.

A DYNAP-SE neuron has four synapse circuits, each with one time-constant bias and one
weight bias per core (Moradi et al. 2018): fast excitatory (AMPA-like), slow excitatory
(NMDA-like), subtractive inhibitory (GABA_B-like) and shunting inhibitory (GABA_A-like).
Every circuit is a first-order current-mode low-pass filter (the DPI, Chicca et al. 2014),
so a PyNN receptor maps onto one of them like this:

* an excitatory receptor drives an excitatory circuit; the receptors of a population with
  one excitatory time constant use the fast circuit, a second, slower one the slow circuit;
* an inhibitory receptor drives the subtractive circuit.  The shunting circuit divides the
  membrane current (it adds to the leak) instead of subtracting from it; no PyNN receptor
  is a conductance reversing at the leakage floor, so none maps onto it, and a population
  has one inhibitory time constant;
* receptors with the same time constant share a circuit (and its weight bias: weights are
  then realised per source as the mapper does for one receptor).

Shapes the DPI does not have are approximations, applied only with fit='approximate':

* a conductance synapse (cond_exp) becomes a current at a fixed driving force: weight w
  (uS) injects ``w * |E_rev - V_FIX|`` nA, where ``V_FIX`` is the middle of the membrane's
  sub-threshold range, ``(v_low + v_thresh) / 2`` with ``v_low = min(v_rest, v_reset)``.
  The DPI's output is a current whatever the membrane does; PyNN's conductance scales
  with ``E_rev - v``, so the approximation is exact at ``V_FIX`` and off by
  ``|v - V_FIX| / |E_rev - V_FIX|`` elsewhere;
* an alpha-shaped synapse (curr_alpha, cond_alpha) becomes an exponential one with the
  same time constant and the same charge (its weight times e);
* more distinct time constants of one sign than the core has circuits: time constants
  within MERGE_RTOL of each other share one circuit at their mean.

What cannot be approximated (a beta-shaped conductance, a receptor fed by weights of both
signs, time constants too far apart) is refused, naming the population and receptor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from toolchain.compiler.fit import MERGE_RTOL, fit_hint, merge_close, spread
from toolchain.ir import CellType, Network, Population, Receptor, ResponseShape
from toolchain.targets.dynapse.spec import SynapseType

EXCITATORY_CIRCUITS = (SynapseType.FAST_EXC, SynapseType.SLOW_EXC)  # fastest first
INHIBITORY_CIRCUITS = (SynapseType.SLOW_INH,)  # the subtractive one (GABA_B-like)

_CURR_EXP = {CellType.IF_CURR_EXP}
_CURR_ALPHA = {CellType.IF_CURR_ALPHA}
_COND_EXP = {CellType.IF_COND_EXP, CellType.EIF_COND_EXP_ISFA_ISTA}
_COND_ALPHA = {CellType.IF_COND_ALPHA, CellType.EIF_COND_ALPHA_ISFA_ISTA}
#: the PyNN cells whose receptors this module maps (the neuron parts: numerics/dpi.py)
CELLS = frozenset(_CURR_EXP | _CURR_ALPHA | _COND_EXP | _COND_ALPHA
                  | {CellType.LIF, CellType.ADEXP})


class ReceptorError(ValueError):
    """A receptor no DPI circuit can carry, or only with fit='approximate' (``fixable``)."""

    def __init__(self, message: str, fixable: bool = False) -> None:
        super().__init__(message)
        self.fixable = fixable


@dataclass(frozen=True)
class Circuit:
    """How one PyNN receptor of a population drives a DPI synapse circuit of its core.

    ``scale`` is the circuit current (nA equivalent) per unit of PyNN weight: 1 for a
    current synapse, the fixed driving force for a conductance, e for an alpha shape.
    ``weight_sign`` is the sign PyNN's weights onto the receptor have (-1 for an
    inhibitory current, +1 otherwise); ``sign`` the circuit's effect on the membrane."""

    type: SynapseType
    tau: float
    scale: float
    sign: int
    weight_sign: int
    conductance: bool


@dataclass(frozen=True)
class Departure:
    """One approximation the assignment applied (for the compile report)."""

    name: str
    detail: str


def key(receptor: Receptor | str) -> str:
    """A receptor by its name (a standard cell's are "excitatory" and "inhibitory")."""
    return receptor.value if isinstance(receptor, Receptor) else receptor


@dataclass(frozen=True)
class _Input:
    key: str
    shape: ResponseShape | str  # a ResponseShape, or "curr_alpha"
    tau: float
    e_rev: float | None


def v_fix(pop: Population) -> float:
    """The potential a conductance's driving force is taken at (see the module docstring)."""
    p = pop.parameters  # the population's mean, where its cores' biases differ
    return 0.5 * float(np.mean(np.minimum(p["v_rest"], p["v_reset"]) + p["v_thresh"]))


def _inputs(network: Network, pop: Population) -> list[_Input]:
    """The receptors of ``pop`` that projections use (an unused one needs no circuit, and
    has nothing to approximate)."""
    p = pop.parameters
    used = {key(proj.receptor) for proj in network.projections if proj.post == pop.label}
    if pop.cell_type.composed:
        return [_Input(r.name, r.shape, float(r.parameters["tau_syn"][0]) if "tau_syn" in
                       r.parameters else float(r.parameters["tau_decay"][0]),
                       float(r.parameters["e_syn"][0]) if "e_syn" in r.parameters else None)
                for r in pop.receptors if r.name in used]
    shape: ResponseShape | str = (
        ResponseShape.CURR_EXP if pop.cell_type in _CURR_EXP else "curr_alpha"
        if pop.cell_type in _CURR_ALPHA else ResponseShape.COND_EXP
        if pop.cell_type in _COND_EXP else ResponseShape.COND_ALPHA)
    cond = pop.cell_type.conductance_based
    both = [_Input(Receptor.EXCITATORY.value, shape, float(np.mean(p["tau_syn_E"])),
                   float(np.mean(p["e_rev_E"])) if cond else None),
            _Input(Receptor.INHIBITORY.value, shape, float(np.mean(p["tau_syn_I"])),
                   float(np.mean(p["e_rev_I"])) if cond else None)]
    return [inp for inp in both if inp.key in used]


def _sign(network: Network, pop: Population, inp: _Input, fixed: float) -> int:
    """+1 excitatory, -1 inhibitory: by the receptor for PyNN's standard cells, by the
    reversal potential against ``fixed`` (v_fix) for a conductance, by the weights onto a
    composed current receptor."""
    if inp.e_rev is not None:
        return 1 if inp.e_rev > fixed else -1
    if not pop.cell_type.composed:
        return 1 if inp.key == Receptor.EXCITATORY.value else -1
    weights = [proj.weight for proj in network.projections
               if proj.post == pop.label and key(proj.receptor) == inp.key and proj.size]
    w = np.concatenate(weights) if weights else np.zeros(0)
    if (w > 0).any() and (w < 0).any():
        raise ReceptorError(
            f"Population '{pop.label}' receptor {inp.key}: its projections have weights of "
            "both signs; a DYNAP-SE synapse circuit either excites or inhibits: give the "
            "population one receptor per sign")
    return -1 if (w < 0).any() else 1


def assign(network: Network, pop: Population, cores: Sequence[int], *,
           approximating: bool) -> tuple[dict[str, Circuit], list[Departure]]:
    """The circuit of each receptor of ``pop`` (placed on ``cores``), and the
    approximations that took; a ReceptorError (``fixable`` if fit='approximate' would
    map it) for what the circuits cannot carry.  Parameters are uniform here (biases are
    per core: the mapper's check merged or refused varying ones)."""
    departures: list[Departure] = []
    fixed = v_fix(pop)
    scale: dict[str, float] = {}
    used = _inputs(network, pop)
    for inp in used:
        what = f"Population '{pop.label}' ({pop.cell_type.value}) receptor {inp.key}"
        s = 1.0
        if inp.shape is ResponseShape.COND_BETA:
            raise ReceptorError(
                f"{what}: a beta-shaped conductance rises and decays with two time "
                "constants; a DPI synapse is one first-order filter: use a cond_exp or "
                "curr_exp receptor for this target")
        if inp.shape in ("curr_alpha", ResponseShape.COND_ALPHA):
            if not approximating:
                raise ReceptorError(
                    f"{what}: its synapses are alpha-shaped; DYNAP-SE's DPI synapses are "
                    "first-order (exponential): use exponential synapses, or "
                    + fit_hint("use exponential ones of the same charge"), fixable=True)
            s *= math.e
            departures.append(Departure(
                "alpha_as_exponential", f"receptor {inp.key}: alpha-shaped synapses "
                f"(tau_syn {inp.tau:g} ms) became exponential ones with the same time "
                "constant and charge (weight x e): DPI synapses are first-order filters"))
        if inp.e_rev is not None:
            force = abs(inp.e_rev - fixed)
            if not approximating:
                raise ReceptorError(
                    f"{what}: its synapses are conductance-based; DYNAP-SE's DPI synapses "
                    "inject currents (no reversal potentials): use a current-based cell, or "
                    + fit_hint(f"take the conductance at a fixed driving force "
                               f"(E_rev = {inp.e_rev:g} mV against v = {fixed:g} mV)"),
                    fixable=True)
            if force <= 0:
                raise ReceptorError(
                    f"{what}: reversal potential {inp.e_rev:g} mV sits where the fixed "
                    f"driving force is taken ({fixed:g} mV), so it would inject nothing: "
                    "move e_rev away from the sub-threshold range")
            s *= force
            departures.append(Departure(
                "conductance_as_current", f"receptor {inp.key}: conductances became "
                f"currents at a fixed driving force |E_rev - v| = |{inp.e_rev:g} - "
                f"{fixed:g}| = {force:g} mV (the middle of the sub-threshold range): DPI "
                "synapses inject currents, so the synaptic current no longer depends on v"))
        scale[inp.key] = s
    signs = {inp.key: _sign(network, pop, inp, fixed) for inp in used}
    circuits: dict[str, Circuit] = {}
    for sign, available in ((1, EXCITATORY_CIRCUITS), (-1, INHIBITORY_CIRCUITS)):
        inputs = [inp for inp in used if signs[inp.key] == sign]
        groups = _group(inputs, len(available), pop, cores, sign, approximating, departures)
        for circuit_type, (tau, members) in zip(available, groups, strict=False):
            for inp in members:
                circuits[inp.key] = Circuit(
                    circuit_type, tau, scale[inp.key], sign,
                    -1 if sign < 0 and inp.e_rev is None else 1, inp.e_rev is not None)
    return circuits, departures


def _group(inputs: list[_Input], n: int, pop: Population, cores: Sequence[int], sign: int,
           approximating: bool, departures: list[Departure]
           ) -> list[tuple[float, list[_Input]]]:
    """Receptors of one sign grouped by time constant, fastest first, into at most ``n``
    circuits: equal ones share; with fit='approximate' close ones merge to their mean."""
    groups: list[tuple[float, list[_Input]]] = []
    for inp in sorted(inputs, key=lambda i: i.tau):
        if groups and math.isclose(groups[-1][0], inp.tau, rel_tol=1e-6):
            groups[-1][1].append(inp)
        else:
            groups.append((inp.tau, [inp]))
    if len(groups) <= n:
        return groups
    merged, merges = _merge(groups, n)
    if len(merged) <= n and approximating:
        departures += merges
        return merged
    kind = "excitatory" if sign > 0 else "inhibitory"
    have = ("a fast and a slow excitatory circuit" if sign > 0 else
            "one subtractive inhibitory circuit (the other, shunting, divides the "
            "membrane current rather than subtracting from it)")
    listed = ", ".join(f"{m.key} {t:g} ms" for t, ms in groups for m in ms)
    core_list = ", ".join(str(c) for c in cores)
    raise ReceptorError(
        f"Population '{pop.label}' (core{'s' if len(cores) > 1 else ''} {core_list}) "
        f"needs {len(groups)} distinct {kind} synaptic time constants ({listed}) but a "
        f"DYNAP-SE core has {have}, each with one time-constant bias shared by all its "
        "neurons; splitting the population across cores does not help, since every "
        f"neuron needs all its receptors: give the {kind} receptors at most {n} time "
        "constant(s)" + (", or " + fit_hint(
            f"merge time constants within {MERGE_RTOL:.0%} of each other")
            if len(merged) <= n else ""),
        fixable=len(merged) <= n)


def _merge(groups: list[tuple[float, list[_Input]]], n: int
           ) -> tuple[list[tuple[float, list[_Input]]], list[Departure]]:
    """Neighbouring groups merged, closest first, while more than ``n`` remain and the
    merged time constants stay within MERGE_RTOL of each other."""
    groups, departures = list(groups), []
    while len(groups) > n:
        gaps = [spread(np.array([a[0], b[0]])) for a, b in zip(groups, groups[1:],
                                                                strict=False)]
        j = int(np.argmin(gaps))
        members = groups[j][1] + groups[j + 1][1]
        taus = np.array([m.tau for m in members])
        merged = merge_close(taus)
        if merged is None:
            break
        tau = float(merged[0])
        departures.append(Departure(
            "time_constants_merged", "receptors "
            + ", ".join(m.key for m in members) + f": time constants "
            f"{taus.min():g}..{taus.max():g} ms share one DPI circuit at {tau:.6g} ms"))
        groups[j:j + 2] = [(tau, members)]
    return groups, departures
