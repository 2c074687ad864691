"""Map an IR network onto DYNAP-SE cores, CAM words, SRAM words and tags.

DYNAP-SE differs from the digital targets in three ways that shape this mapper:

* **Biases are per core.**  Every neuron of a core shares its time constants, threshold,
  refractory period and DC bias, and every synapse of one type (fast/slow, exc/inh) on a
  core shares one weight bias.  So a population's parameters must be uniform, neurons of
  different parameter sets never share a core, and a PyNN weight can only be approximated:
  on DYNAP-SE1 as a *multiplicity* ``m`` of CAM entries for the same source (weight
  ``m * w_base``), on DYNAP-SE2 as a 4-bit mask selecting a subset of the core's 4 base
  currents (weight ``scale * sum(mask * base)``).
* **Fan-in is 64 CAM words per neuron**, shared by all sources and synapse types; on SE1
  the multiplicities of all its inputs must fit in them.
* **Tags.**  A CAM word matches a source tag.  On SE1 the tag is fixed by placement
  (8-bit neuron + 2-bit core, no chip), so two senders on different chips with the same
  core/neuron address that reach the same core alias; on SE2 tags (11-bit) are allocated.

Algorithm (documented here because the report refers to it):

1. *check*: reject what DYNAP-SE cannot express (see ``DynapseError`` messages).
2. *cluster*: each population is split into ``ceil(n / 256)`` equal contiguous cores;
   while the board has spare cores, the core whose neurons need the most different
   weights (spread of log median |w| per neuron) is split in two where that spread drops
   most, so that the core's one base weight fits its neurons better.  Cores are numbered
   chip by chip in population order, which keeps a population's cores together.
3. *quantise*: SE1 gives each synapse type of a core a resolution ``K`` = 1..64
   (``w_base = max|w| / K``), rounds each aggregated (source, target) weight to
   ``m = max(1, round(|w| / w_base))`` CAM entries and, over all combinations of K for the
   core's types, keeps those whose CAM use fits every neuron's 64 words and picks the one
   with the least squared weight error.  SE2
   scales the largest weight onto the largest mask sum and rounds to the nearest of the
   15 non-zero mask sums.
4. *tags/route*: SE1 tags come from placement; input (host) sources get free virtual tags.
   SE2 tags are a greedy colouring: sources that reach a common core get different tags.
   Each sender gets one SRAM word per destination chip (core mask inside).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from toolchain.compiler.fit import (
    MERGE_RTOL,
    approximation,
    fit_hint,
    keep_strongest,
)
from toolchain.compiler.pipeline import MappingError, Violations, violation
from toolchain.ir import CellType, Network, Population, Projection, Receptor
from toolchain.ir.network import refusals
from toolchain.sim.metrics import weight_drift
from toolchain.targets.dynapse.numerics.dpi import ADEXP_CELLS
from toolchain.targets.dynapse.receptors import CELLS, Circuit, ReceptorError, assign, key
from toolchain.targets.dynapse.spec import (
    MAX_CHIP_HOPS,
    DynapseSpec,
    Generation,
    SynapseType,
)
from toolchain.targets.dynapse.timing import route_latency
from toolchain.targets.options import option_hint

# Per-core biases are analog: a parameter spread below this (relative) is one bias value.
UNIFORM_TOLERANCE = 1e-6
# Weights closer to zero than this fraction of a core's largest weight are treated as absent.
ZERO_WEIGHT = 1e-9



class DynapseError(MappingError):
    """A network that DYNAP-SE cannot run as written; the message says what to change."""


@dataclass(frozen=True)
class Placement:
    """Where a population's neurons live: global core id and address within the core."""

    core: np.ndarray  # per neuron, global core id = chip * cores_per_chip + core
    address: np.ndarray  # per neuron, 0..255 within its core


@dataclass(frozen=True)
class CoreConfig:
    """The per-core bias settings the mapper chose."""

    core: int
    population: str
    neurons: int
    base_weight: Mapping[SynapseType, float]  # SE1: one CAM entry; SE2: the scale (PyNN units)


@dataclass(frozen=True)
class ProjectionMapping:
    """How each synapse of a projection was realised, in IR synapse order."""

    label: str
    synapse_type: SynapseType
    realised_weight: np.ndarray  # signed, PyNN units, what the hardware applies per synapse
    cam_entries: np.ndarray  # per synapse share of CAM words (multiplicity on SE1; 1 on SE2)
    mask: np.ndarray | None  # SE2 4-bit weight mask per synapse
    latency_ns: np.ndarray  # routing latency source -> target core, before queueing
    hops: np.ndarray  # R3 chip-to-chip hops per synapse
    kept: np.ndarray | None = None  # per synapse, False where fan-in pruning dropped it
    scale: float = 1.0  # circuit current per unit of PyNN weight (receptors.Circuit.scale)


@dataclass
class DynapseMapping:
    """Everything the DYNAP-SE simulator and report need from compilation."""

    spec: DynapseSpec
    placement: dict[str, Placement]
    cores: list[CoreConfig]
    projections: dict[str, ProjectionMapping]
    tags: dict[str, np.ndarray]  # per source node (population or input), per neuron
    sram: dict[str, np.ndarray]  # per population, SRAM words used per neuron
    cam_used: dict[str, np.ndarray]  # per population, CAM words used per neuron
    network: Network  # the network as mapped (biases merged where the compile did)
    # per population, the synapse circuit each of its receptors drives
    circuits: dict[str, dict[str, Circuit]] = field(default_factory=dict)
    report: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def on_chip(self) -> Network:
        """The network as the chip holds it: merged biases, and only the synapses that have
        CAM words (the IR's synapse order, less the ones fan-in pruning dropped)."""
        projections = []
        for proj in self.network.projections:
            kept = self.projections[proj.label].kept
            if kept is not None:
                proj = dataclasses.replace(
                    proj, pre_index=proj.pre_index[kept], post_index=proj.post_index[kept],
                    weight=proj.weight[kept], delay=proj.delay[kept])
            projections.append(proj)
        return self.network.replace(projections=tuple(projections))

    def held(self, projection: str) -> ProjectionMapping:
        """``projection``'s mapping restricted to the synapses the chip holds."""
        pm = self.projections[projection]
        if pm.kept is None:
            return pm
        k = pm.kept
        return dataclasses.replace(
            pm, realised_weight=pm.realised_weight[k], cam_entries=pm.cam_entries[k],
            mask=None if pm.mask is None else pm.mask[k], latency_ns=pm.latency_ns[k],
            hops=pm.hops[k], kept=None)


# --------------------------------------------------------------------------- check


def check(network: Network, spec: DynapseSpec, *, delay_tolerance: float,
          violations: Violations | None = None) -> tuple[Network, list[str]]:
    """Refuse what DYNAP-SE cannot express, record delays beyond the tolerance; return
    the network as the chip runs it (with fit='approximate', parameters that vary within
    a population by less than MERGE_RTOL are merged: biases are per core) and notes on
    what it approximates."""
    if violations is None:
        violations = Violations(strict=True, error=DynapseError)
    notes: list[str] = []
    pops: list[Population] = []
    least = [-(-p.size // spec.neurons_per_core) for p in network.populations]
    used, rest = 0, sum(least)  # cores the placed populations take; the rest's fewest
    for i, pop in enumerate(network.populations):
        if pop.cell_type not in CELLS:
            raise DynapseError(
                f"Population '{pop.label}': DYNAP-SE cannot run {pop.cell_type.value}: "
                f"{UNMAPPED[pop.cell_type]}. Use a LIF (IF_curr_exp) or AdExp "
                "(EIF_cond_exp_isfa_ista, AdExp) cell for this target")
        if pop.cell_type in ADEXP_CELLS:
            pop = _adaptation(pop, violations)
        _uniform_receptors(pop)
        rest -= least[i]
        pops.append(_bias_sets(pop, spec, spec.cores - used - rest, violations))
        used += cores_needed(pops[-1], spec)
    network = network.replace(populations=tuple(pops))
    for cur in network.currents:
        raise DynapseError(
            f"{type(cur).__name__} '{cur.label}': DYNAP-SE has no per-neuron current "
            "injection (the DC bias is per core); set i_offset on the population instead"
        )
    for proj in network.projections:
        _check_projection(proj, delay_tolerance, violations,
                          network.node(proj.post).conductance_receptor(key(proj.receptor)))
        if proj.delay.size and float(proj.delay.max()) > network.dt * (1 + 1e-6):
            notes.append(
                f"Projection '{proj.label}': delays up to {float(proj.delay.max()):g} ms run "
                "with DYNAP-SE's routing latency instead (no programmable delays)"
            )
    for message in refusals(network, "dynapse"):
        raise DynapseError(message)
    return network, notes


#: why the DPI neuron cannot be each of PyNN's other cells [src: Chicca et al. 2014, Proc.
#: IEEE 102(9): the DPI neuron is an exponential integrate-and-fire neuron with one
#: spike-triggered adaptation current and first-order synapses]
UNMAPPED = {
    CellType.IF_CURR_DELTA: "its synapses make the membrane jump; DPI synapses are "
                            "first-order low-pass filters with a time-constant bias",
    CellType.IF_COND_EXP_GSFA_GRR: "its spike-frequency adaptation and relative "
                                   "refractoriness are conductances with reversal "
                                   "potentials; the DPI neuron's one AHP circuit injects a "
                                   "current",
    CellType.HH_COND_EXP: "the DPI neuron has no sodium and potassium channel dynamics "
                          "(m, h, n gates)",
    CellType.IZHIKEVICH: "its spike upswing is quadratic and its recovery variable u "
                         "follows v below threshold; the DPI neuron's upswing is "
                         "exponential and its adaptation follows its output spikes only",
    CellType.GIF_COND_EXP: "it fires stochastically (escape noise) with a moving "
                           "threshold; the DPI neuron fires deterministically at a fixed "
                           "threshold bias",
}


def _adaptation(pop: Population, violations: Violations) -> Population:
    """An AdExp population as the AHP circuit can carry it: b >= 0 always, a = 0 (the
    circuit is charged by output spikes only) or, with fit='approximate', a dropped."""
    p = pop.parameters
    if (p["b"] < 0).any():
        raise DynapseError(
            f"Population '{pop.label}' ({pop.cell_type.value}) parameter b = "
            f"{float(p['b'].min()):g} nA: a "
            "negative spike-triggered adaptation would facilitate, but DYNAP-SE's AHP "
            "circuit only subtracts from the membrane current: use b >= 0")
    a = p["a"]
    if not a.any():
        return pop
    g_l = 1e3 * p["cm"] / p["tau_m"]  # nS
    share = float(np.max(np.abs(a) / g_l))
    if not violations.approximating:
        raise DynapseError(
            f"Population '{pop.label}' ({pop.cell_type.value}) parameter a = "
            f"{float(np.abs(a).max()):g} nS: "
            "DYNAP-SE's adaptation (AHP) circuit is charged by the neuron's output spikes "
            "only, with no input from the membrane, so sub-threshold adaptation has no "
            "counterpart: use a = 0 (b and tau_w map onto the AHP circuit), or "
            + fit_hint(f"drop a (with tau_w >> tau_m it acts as an extra leak of "
                       f"{share:.0%} of g_L)"))
    violations.approximate(approximation(
        "subthreshold_adaptation_dropped", "population", pop.label, neurons=pop.size,
        detail=f"a = {float(np.abs(a).max()):g} nS became 0 (an extra leak of up to "
               f"{share:.0%} of g_L with tau_w >> tau_m): DYNAP-SE's AHP circuit follows "
               "output spikes only; b and tau_w map onto it"))
    return dataclasses.replace(pop, parameters={**p, "a": np.zeros_like(a)})


def _varies(values: np.ndarray) -> bool:
    spread = float(values.max() - values.min())
    return spread > UNIFORM_TOLERANCE * max(1.0, float(np.abs(values).max()))


def parameter_sets(pop: Population) -> np.ndarray:
    """Per neuron, the index of its parameter set: neurons of one set can share a core's
    biases, neurons of different sets cannot."""
    varying = [name for name, values in pop.parameters.items() if _varies(values)]
    if not varying:
        return np.zeros(pop.size, dtype=np.int64)
    rows = np.stack([pop.parameters[n] for n in varying], axis=1)
    scale = np.maximum(1.0, np.abs(rows).max(axis=0))
    _, sets = np.unique(np.round(rows / scale, 9), axis=0, return_inverse=True)
    return sets.reshape(-1).astype(np.int64)


def cores_needed(pop: Population, spec: DynapseSpec) -> int:
    """Cores ``pop`` takes: each parameter set its own, 256 neurons to a core."""
    counts = np.bincount(parameter_sets(pop))
    return int(np.sum(-(-counts[counts > 0] // spec.neurons_per_core)))


def _uniform_receptors(pop: Population) -> None:
    """A PointNeuron's receptor parameters are circuit biases too: one value each."""
    for r in pop.receptors:
        for name, values in r.parameters.items():
            if _varies(values):
                raise DynapseError(
                    f"Population '{pop.label}' receptor {r.name} parameter {name} varies "
                    f"from {values.min():g} to {values.max():g}; a DYNAP-SE synapse "
                    "circuit has one bias per core: give the receptor one value")


def _bias_sets(pop: Population, spec: DynapseSpec, budget: int,
               violations: Violations) -> Population:
    """``pop`` as the cores can hold it.  Biases are per core, so neurons with different
    parameters sit on different cores: exactly, while the board has a core for every
    parameter set (``budget`` cores are left for ``pop``); else, with fit='approximate',
    neurons whose parameters lie within MERGE_RTOL of each other share a core at their
    mean; else the refusal naming the population, its sets and the fix."""
    varying = [name for name, values in pop.parameters.items() if _varies(values)]
    need = cores_needed(pop, spec)
    if not varying or need <= budget:
        return pop
    merged, groups = _merge_close_sets(pop, varying)
    merged_need = cores_needed(merged, spec)
    if violations.approximating and merged_need <= budget:
        changed = int(np.count_nonzero(np.any(
            [pop.parameters[n] != merged.parameters[n] for n in varying], axis=0)))
        ranges = ", ".join(f"{n} {pop.parameters[n].min():g}..{pop.parameters[n].max():g}"
                           for n in varying)
        violations.approximate(approximation(
            "parameters_merged", "population", pop.label, neurons=changed,
            detail=f"DYNAP-SE biases are shared by all neurons of a core and the board has "
                   f"{budget} cores for this population's {int(parameter_sets(pop).max()) + 1}"
                   f" parameter sets, so neurons within {MERGE_RTOL:.0%} of each other were "
                   f"merged to their mean, {groups} sets on {merged_need} cores: {ranges}"))
        return merged
    name = varying[0]
    values = pop.parameters[name]
    sets = int(parameter_sets(pop).max()) + 1
    tail = ("" if merged_need > budget else
            f"; within {MERGE_RTOL:.0%} of each other they fit {merged_need} cores, so you "
            "can also " + fit_hint("merge close parameters to their mean"))
    if violations.approximating and merged_need > budget:
        tail = (f" (merging parameters within the {MERGE_RTOL:.0%} an approximate fit "
                f"merges still needs {merged_need} cores)")
    raise DynapseError(
        f"Population '{pop.label}' has {sets} distinct parameter sets ({', '.join(varying)} "
        f"vary; {name} from {values.min():g} to {values.max():g}); DYNAP-SE biases are "
        f"shared by all neurons of a core, so each set needs its own core: {need} cores, "
        f"but {max(budget, 0)} are left for it on the board: give it fewer distinct values "
        f"(or split it into populations with uniform parameters){tail}")


def _merge_close_sets(pop: Population, varying: list[str]) -> tuple[Population, int]:
    """``pop`` with its neurons grouped, in sorted order of their parameters, into runs
    whose every varying parameter spreads by at most MERGE_RTOL, each run at its mean;
    and the number of runs."""
    rows = np.stack([pop.parameters[n] for n in varying], axis=1)
    order = np.lexsort(rows.T[::-1])
    group = np.zeros(pop.size, dtype=np.int64)
    g, lo, hi = 0, rows[order[0]].copy(), rows[order[0]].copy()
    for j in order:
        new_lo, new_hi = np.minimum(lo, rows[j]), np.maximum(hi, rows[j])
        mean = np.abs(0.5 * (new_lo + new_hi))
        if np.any(new_hi - new_lo > MERGE_RTOL * np.where(mean > 0, mean, np.inf)):
            g += 1
            new_lo, new_hi = rows[j].copy(), rows[j].copy()
        lo, hi = new_lo, new_hi
        group[j] = g
    counts = np.bincount(group).astype(float)
    params = dict(pop.parameters)
    for k, n in enumerate(varying):
        params[n] = (np.bincount(group, weights=rows[:, k]) / counts)[group]
    return dataclasses.replace(pop, parameters=params), g + 1


def fit_board(network: Network, spec: DynapseSpec, violations: Violations) -> DynapseSpec:
    """The board, or (recorded violations) a virtual one with the chips the network needs:
    neurons of one population per core, 256 to a core."""
    total = network.n_neurons
    needed = sum(cores_needed(p, spec) for p in network.populations)
    chips = max(-(-needed // spec.cores_per_chip), -(-total // (spec.cores_per_chip
                                                              * spec.neurons_per_core)))
    largest = spec.grid[0] * spec.grid[1]
    if chips <= largest:
        hint = f"use a board with more chips ({option_hint('chips', chips)})"
        smaller = f"make the network smaller or {hint}"
    else:
        hint = f"make the network smaller: a {largest}-chip board is the largest"
        smaller = hint
    if total > spec.neurons:
        fix = smaller
        violations.add(violation(
            "network", network.label, "neurons", total, spec.neurons, fix,
            f"the network has {total} neurons but a {spec.chips}-chip DYNAP-SE board holds "
            f"{spec.neurons} ({spec.cores} cores x {spec.neurons_per_core}); {fix}"))
    if needed > spec.cores:
        sizes = ", ".join(f"'{p.label}' {p.size}" for p in network.populations)
        fix = ("merge populations with identical parameters, use fewer neurons, or " + hint
               if chips <= largest else "merge populations with identical parameters or use "
               f"fewer neurons: a {largest}-chip board is the largest")
        violations.add(violation(
            "network", network.label, "cores", needed, spec.cores, fix,
            f"the populations need {needed} cores (a core holds {spec.neurons_per_core} "
            f"neurons of one population and one parameter set: {sizes}) but the board has "
            f"{spec.cores}; {fix}"))
    if chips <= spec.chips:
        return spec
    width = spec.grid[0]
    return spec.replace(chips=chips, grid=(width, max(spec.grid[1], -(-chips // width))))


def _check_projection(proj: Projection, delay_tolerance: float,
                      violations: Violations, conductance: bool) -> None:
    what = f"Projection '{proj.label}'"
    if proj.plasticity is not None:
        raise DynapseError(
            f"{what}: DYNAP-SE has no on-chip plasticity, so STDP cannot run there; "
            "use a StaticSynapse for this target"
        )
    if proj.delay.size and float(proj.delay.max()) > delay_tolerance:
        _long_delays(proj, delay_tolerance, violations)
    if conductance or not isinstance(proj.receptor, Receptor):
        return  # conductances are >= 0; a composed cell's receptor: receptors.assign
    sign = -1.0 if proj.receptor is Receptor.INHIBITORY else 1.0
    wrong = sign * proj.weight < 0
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise DynapseError(
            f"{what} weight[{i}] = {float(proj.weight[i]):g} nA has the wrong sign for its "
            f"{proj.receptor.value} receptor; each DYNAP-SE synapse type has one sign"
        )


def _long_delays(proj: Projection, delay_tolerance: float, violations: Violations) -> None:
    """Delays beyond the tolerance: a broken limit, or (fit='approximate') delays that
    become the routing latency, as every shorter one already does."""
    i = int(np.argmax(proj.delay))
    longest = float(proj.delay[i])
    over = int(np.count_nonzero(proj.delay > delay_tolerance))
    if violations.approximating:
        violations.approximate(approximation(
            "delays_dropped", "projection", proj.label, synapses=over, limit="delay_ms",
            detail=f"{over} delays up to {longest:g} ms, beyond delay_tolerance = "
                   f"{delay_tolerance:g} ms, became the routing latency (well under a "
                   "microsecond): DYNAP-SE has no programmable delays"))
        return
    fix = (f"use shorter delays, or raise delay_tolerance to accept the timing error "
           f"({option_hint('delay_tolerance', longest)}), or "
           + fit_hint("replace them by the routing latency"))
    violations.add(violation(
        "projection", proj.label, "delay_ms", longest, delay_tolerance, fix,
        f"Projection '{proj.label}' delay[{i}] = {longest:g} ms: DYNAP-SE has no per-synapse "
        f"delays (spikes arrive after the routing latency, well under a microsecond); "
        f"the accepted limit is delay_tolerance = {delay_tolerance:g} ms: {fix}"))


# --------------------------------------------------------------------------- cluster


def cluster(network: Network, spec: DynapseSpec) -> dict[str, Placement]:
    """Core slices per population and parameter set, split further where that makes
    weights fit.

    Each parameter set of a population (its neurons with equal biases, in index order) first
    gets ``ceil(n / 256)`` equal slices.  While the board has spare cores, the slice whose
    neurons' typical input weights (median |w| per neuron) spread most is cut in two where
    the spread of both halves is least (an optimal 1-D two-way split); a core's one base
    weight then fits its neurons better.  Finally each slice gets cores and addresses so
    that no two neurons share a DYNAP-SE1 tag (see ``_unaliased``), continuing on the next
    core where a core position's addresses run out.
    """
    slices: list[tuple[int, np.ndarray]] = []  # (population index, its neurons)
    profiles = []
    for k, pop in enumerate(network.populations):
        profiles.append(_input_profile(network, pop))
        sets = parameter_sets(pop)
        for value in np.unique(sets):
            members = np.flatnonzero(sets == value)
            n_cores = -(-members.size // spec.neurons_per_core)
            bounds = np.linspace(0, members.size, n_cores + 1).round().astype(int)
            slices += [(k, members[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    assert len(slices) <= spec.cores, "fit_board gives every slice a core"
    # split only into spare cores of chips in use: more chips cost R3 hops and SRAM words
    budget = -(-len(slices) // spec.cores_per_chip) * spec.cores_per_chip
    while len(slices) < budget:
        best = None
        for i, (k, members) in enumerate(slices):
            gain, cut = _best_cut(profiles[k][members])
            if gain > 0 and (best is None or gain > best[0]):
                best = (gain, i, cut)
        if best is None:
            break
        _, i, cut = best
        k, members = slices[i]
        slices[i:i + 1] = [(k, members[:cut]), (k, members[cut:])]
    pieces = _unaliased(slices, spec) if spec.generation is Generation.SE1 else None
    if pieces is None:  # more neurons than distinct (core, address) tags: share addresses
        pieces = [(core, k, members, list(range(members.size)))
                  for core, (k, members) in enumerate(slices)]
    placement = {p.label: Placement(np.zeros(p.size, dtype=np.int32),
                                    np.zeros(p.size, dtype=np.int32))
                 for p in network.populations}
    for core, k, members, addresses in pieces:
        label = network.populations[k].label
        placement[label].core[members] = core
        placement[label].address[members] = addresses
    return placement


def _unaliased(slices: list[tuple[int, np.ndarray]], spec: DynapseSpec
               ) -> list[tuple[int, int, np.ndarray, list[int]]] | None:
    """Cores and addresses such that no two neurons share (core within chip, address).

    DYNAP-SE1's tag is exactly that pair, so senders placed this way can never alias.  A
    slice that does not fit in the addresses still free for its core's position continues
    on the next core.  None if the board runs out of cores this way.
    """
    free = [list(range(spec.neurons_per_core)) for _ in range(spec.cores_per_chip)]
    pieces, core = [], 0
    for k, members in slices:
        a = 0
        while a < members.size:
            if core >= spec.cores:
                return None
            pool = free[core % spec.cores_per_chip]
            n = min(members.size - a, len(pool))
            if n:
                pieces.append((core, k, members[a:a + n], pool[:n]))
                del pool[:n]
                a += n
            core += 1
    return pieces


def _input_profile(network: Network, pop: Population) -> np.ndarray:
    """log of each neuron's median incoming |weight| (0 where it has no input)."""
    projs = [p for p in network.projections if p.post == pop.label]
    med = np.zeros(pop.size)
    if projs:
        post = np.concatenate([p.post_index for p in projs])
        w = np.abs(np.concatenate([p.weight for p in projs])).astype(float)
        order = np.lexsort((w, post))
        post, w = post[order], w[order]
        starts = np.searchsorted(post, np.arange(pop.size))
        ends = np.searchsorted(post, np.arange(pop.size), side="right")
        has = ends > starts
        med[has] = np.log(np.maximum(w[(starts[has] + ends[has] - 1) // 2], 1e-30))
    return med


def _best_cut(x: np.ndarray) -> tuple[float, int]:
    """Reduction of the summed squared deviation by the best split of ``x`` in two, and where."""
    n = x.size
    if n < 2:
        return 0.0, 0
    c1 = np.cumsum(x)
    c2 = np.cumsum(x * x)
    total = c2[-1] - c1[-1] ** 2 / n
    k = np.arange(1, n)
    left = c2[:-1] - c1[:-1] ** 2 / k
    right = (c2[-1] - c2[:-1]) - (c1[-1] - c1[:-1]) ** 2 / (n - k)
    cost = left + right
    j = int(np.argmin(cost))
    return float(total - cost[j]) if total - cost[j] > 1e-9 else 0.0, j + 1


# --------------------------------------------------------------------------- quantise


@dataclass
class _Connections:
    """All synapses into the board as flat arrays, with (source, target) pairs merged."""

    pair: np.ndarray  # per synapse, index of its merged pair
    pair_weight: np.ndarray  # |summed weight| per pair
    pair_core: np.ndarray  # target core per pair
    pair_type: np.ndarray  # synapse type per pair
    pair_target: np.ndarray  # global target neuron per pair
    pair_source: np.ndarray  # global source id per pair


def _connections(network: Network, placement: Mapping[str, Placement],
                 source_ids: Mapping[str, int],
                 circuits: Mapping[str, Mapping[str, Circuit]]) -> _Connections:
    """Weights here are circuit currents (PyNN weight times the receptor's scale), so that
    receptors sharing a circuit share its base weight in one unit."""
    offsets = _neuron_offsets(network)
    src, tgt, typ, w = [], [], [], []
    for proj in network.projections:
        circuit = circuits[proj.post][key(proj.receptor)]
        src.append(source_ids[proj.pre] + proj.pre_index.astype(np.int64))
        tgt.append(offsets[proj.post] + proj.post_index.astype(np.int64))
        typ.append(np.full(proj.size, int(circuit.type), dtype=np.int64))
        w.append(np.abs(proj.weight.astype(float)) * circuit.scale)
    if not src:
        z = np.zeros(0, dtype=np.int64)
        return _Connections(z, np.zeros(0), z, z, z, z)
    src_a, tgt_a, typ_a, w_a = (np.concatenate(x) for x in (src, tgt, typ, w))
    n_src = max(source_ids.values()) + 1 + max(n.size for n in (*network.populations,
                                                                 *network.sources))
    pair_key = (tgt_a * 4 + typ_a) * n_src + src_a
    uniq, pair = np.unique(pair_key, return_inverse=True)
    pair_weight = np.bincount(pair, weights=w_a, minlength=uniq.size)
    core_of = np.concatenate([placement[p.label].core for p in network.populations])
    pair_source = uniq % n_src
    pair_type = (uniq // n_src) % 4
    pair_target = uniq // n_src // 4
    return _Connections(pair, pair_weight, core_of[pair_target], pair_type, pair_target,
                        pair_source)


def _neuron_offsets(network: Network) -> dict[str, int]:
    offsets, n = {}, 0
    for pop in network.populations:
        offsets[pop.label] = n
        n += pop.size
    return offsets


def quantise_se1(conn: _Connections, n_targets: int, spec: DynapseSpec,
                 on_fan_in: Callable[[int, int, int], None] | None = None,
                 ) -> tuple[np.ndarray, dict[tuple[int, int], float]]:
    """CAM multiplicity per merged pair and base weight per (core, type); see module doc.

    Each synapse type of a core gets its own resolution K (``w_base = max|w| / K``); all
    combinations of K over the core's (at most two) types are tried at once.
    """
    mult = np.zeros(conn.pair_weight.size, dtype=np.int64)
    base: dict[tuple[int, int], float] = {}
    ks = np.arange(1, spec.cam_per_neuron + 1)
    for core in np.unique(conn.pair_core):
        in_core = np.flatnonzero(conn.pair_core == core)
        _, local = np.unique(conn.pair_target[in_core], return_inverse=True)
        n_local = int(local.max()) + 1
        types = [int(t) for t in np.unique(conn.pair_type[in_core])]
        tables = [_resolution_table(conn, in_core, local, n_local, t, ks) for t in types]
        # use[k_1, ..., k_T, neuron] and err[k_1, ..., k_T] over all combinations
        use = np.zeros((1,) * len(types) + (n_local,))
        err = np.zeros((1,) * len(types))
        for axis, (_, _, u, e) in enumerate(tables):
            shape = [1] * len(types)
            shape[axis] = ks.size
            use = use + u.reshape(*shape, n_local)
            err = err + e.reshape(shape)
        feasible = use.max(axis=-1) <= spec.cam_per_neuron
        if feasible.any():
            best = np.unravel_index(np.argmin(np.where(feasible, err, np.inf)), err.shape)
        else:  # over the CAM: report the worst neuron, map the least over-full choice
            fullest = use.max(axis=-1)
            best = np.unravel_index(np.argmin(fullest), fullest.shape)
            worst = int(np.argmax(use[best]))
            target = int(conn.pair_target[in_core][local == worst][0])
            _report_fan_in(on_fan_in, target, int(use[best][worst]), spec.cam_per_neuron)
        for (sel, m_table, _, _), t, k in zip(tables, types, best, strict=True):
            w_max = float(conn.pair_weight[in_core][sel].max())
            mult[in_core[sel]] = m_table[k]
            base[(int(core), t)] = float(w_max / ks[k]) if w_max > 0 else 0.0
    return mult, base


def _resolution_table(conn: _Connections, in_core: np.ndarray, local: np.ndarray,
                      n_local: int, t: int, ks: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For one type of one core and every resolution K: multiplicities, CAM use per
    neuron, squared weight error."""
    sel = conn.pair_type[in_core] == t
    w = conn.pair_weight[in_core][sel]
    w_max = float(w.max())
    if w_max <= 0:
        zeros = np.zeros((ks.size, w.size), dtype=np.int64)
        return sel, zeros, np.zeros((ks.size, n_local)), np.zeros(ks.size)
    b = w_max / ks[:, None]
    m = np.rint(w[None, :] / b).astype(np.int64)
    m[:, w > ZERO_WEIGHT * w_max] = np.maximum(m[:, w > ZERO_WEIGHT * w_max], 1)
    use = np.zeros((ks.size, n_local))
    for i in range(ks.size):
        use[i] = np.bincount(local[sel], weights=m[i], minlength=n_local)
    err = np.sum((m * b - w[None, :]) ** 2, axis=1)
    return sel, m, use, err


def _report_fan_in(on_fan_in: Callable[[int, int, int], None] | None, target: int,
                   need: int, limit: int) -> None:
    if on_fan_in is None:
        raise DynapseError(f"neuron {target} needs {need} CAM words, the limit is {limit}")
    on_fan_in(target, need, limit)


def quantise_se2(conn: _Connections, spec: DynapseSpec
                 ) -> tuple[np.ndarray, np.ndarray, dict[tuple[int, int], float]]:
    """Weight mask per merged pair and scale per (core, type); see module doc."""
    n_bits = len(spec.base_currents)
    masks = np.arange(1, 2**n_bits)
    sums = np.array([sum(spec.base_currents[b] for b in range(n_bits) if mk >> b & 1)
                     for mk in masks])
    mask = np.zeros(conn.pair_weight.size, dtype=np.int64)
    value = np.zeros(conn.pair_weight.size)
    scale: dict[tuple[int, int], float] = {}
    for core in np.unique(conn.pair_core):
        for t in np.unique(conn.pair_type[conn.pair_core == core]):
            idx = np.flatnonzero((conn.pair_core == core) & (conn.pair_type == t))
            w = conn.pair_weight[idx]
            s = float(w.max()) / float(sums.max()) if w.max() > 0 else 0.0
            scale[(int(core), int(t))] = s
            if s == 0:
                continue
            nearest = np.argmin(np.abs(w[:, None] / s - sums[None, :]), axis=1)
            mask[idx] = masks[nearest]
            value[idx] = sums[nearest]
    return mask, value, scale


# --------------------------------------------------------------------------- map


def map_network(network: Network, spec: DynapseSpec | None = None, *,
                delay_tolerance: float = 1.0,
                violations: Violations | None = None) -> DynapseMapping:
    """Check, cluster, quantise, tag and route ``network`` for a DYNAP-SE board.  A broken
    limit goes to ``violations`` (raised at once by default); after a recorded one the
    mapping carries on (on a board extended with chips, over-full CAMs, shared tags)."""
    spec = spec or DynapseSpec()
    found = violations if violations is not None else Violations(True, DynapseError)
    network, notes = check(network, spec, delay_tolerance=delay_tolerance, violations=found)
    spec = fit_board(network, spec, found)
    placement = cluster(network, spec)
    circuits = _circuits(network, placement, found)
    source_ids, n_ids = {}, 0
    for node in (*network.populations, *network.sources):
        source_ids[node.label] = n_ids
        n_ids += node.size
    conn = _connections(network, placement, source_ids, circuits)
    n_targets = network.n_neurons
    if found.approximating:
        conn = _prune_fan_in(network, conn, spec, found)

    def fan_in(target: int, need: int, limit: int) -> None:
        found.add(_fan_in_violation(network, target, need, limit))

    if spec.generation is Generation.SE1:
        units, base = quantise_se1(conn, n_targets, spec, fan_in)
        cam_per_pair, mask_per_pair = units, None
    else:
        mask_per_pair, units, base = quantise_se2(conn, spec)
        cam_per_pair = (mask_per_pair > 0).astype(np.int64)
        use = np.bincount(conn.pair_target, weights=cam_per_pair, minlength=n_targets)
        if use.size and use.max() > spec.cam_per_neuron:
            worst = int(np.argmax(use))
            fan_in(worst, int(use[worst]), spec.cam_per_neuron)
    per_pair = units * np.array([base.get((int(c), int(t)), 0.0)
                                 for c, t in zip(conn.pair_core, conn.pair_type, strict=True)])
    tags = _allocate_tags(network, spec, placement, conn, source_ids, found)
    sram = _sram_words(network, spec, placement, conn, source_ids, found)
    projections = _per_projection(network, spec, placement, conn, source_ids, per_pair,
                                  cam_per_pair, mask_per_pair, circuits)
    cam_total = np.bincount(conn.pair_target, weights=cam_per_pair, minlength=n_targets)
    offsets = _neuron_offsets(network)
    cam_used = {p.label: cam_total[offsets[p.label]:offsets[p.label] + p.size].astype(np.int64)
                for p in network.populations}
    cores = _core_configs(network, placement, base)
    mapping = DynapseMapping(spec, placement, cores, projections, tags, sram, cam_used,
                             network, circuits, notes=notes)
    mapping.report.update(_report(network, mapping))
    return mapping


def _circuits(network: Network, placement: Mapping[str, Placement], found: Violations
              ) -> dict[str, dict[str, Circuit]]:
    """Each population's receptors on its cores' synapse circuits (receptors.assign),
    every approximation that took recorded, a refusal raised."""
    out = {}
    for pop in network.populations:
        cores = [int(c) for c in np.unique(placement[pop.label].core)]
        try:
            circuits, departures = assign(network, pop, cores,
                                          approximating=found.approximating)
        except ReceptorError as e:
            raise DynapseError(str(e)) from None
        into = sum(p.size for p in network.projections if p.post == pop.label)
        for name in dict.fromkeys(d.name for d in departures):  # one record per kind
            detail = "; ".join(d.detail for d in departures if d.name == name)
            found.approximate(approximation(name, "population", pop.label,
                                            neurons=pop.size, synapses=into, detail=detail))
        out[pop.label] = circuits
    return out


def _prune_fan_in(network: Network, conn: _Connections, spec: DynapseSpec,
                  found: Violations) -> _Connections:
    """fit='approximate': every neuron with more distinct (source, synapse type) inputs
    than it has CAM words keeps its strongest ones (every input takes at least one word,
    so the rest then fit at some weight resolution); the synapses of the inputs it drops
    are left out of the mapping (realised weight 0)."""
    limit = spec.cam_per_neuron
    if not conn.pair_target.size or np.bincount(conn.pair_target).max() <= limit:
        return conn
    kept = keep_strongest(network.n_neurons, [("pairs", conn.pair_target, conn.pair_weight)],
                          limit).keep["pairs"]
    offsets = _neuron_offsets(network)
    synapse_kept = kept[conn.pair]
    for pop in network.populations:
        lo, hi = offsets[pop.label], offsets[pop.label] + pop.size
        dropped = ~kept & (conn.pair_target >= lo) & (conn.pair_target < hi)
        if not dropped.any():
            continue
        lost = np.isin(conn.pair, np.flatnonzero(dropped))
        neurons = int(np.unique(conn.pair_target[dropped]).size)
        into = np.isin(conn.pair_target[conn.pair], np.unique(conn.pair_target[dropped]))
        w = np.abs(np.concatenate([p.weight for p in network.projections]).astype(float))
        share = float(w[lost].sum() / w[into].sum()) if into.any() else 0.0
        found.approximate(approximation(
            "fan_in_pruned", "population", pop.label, neurons=neurons,
            synapses=int(lost.sum()), limit="cam_words",
            detail=f"{neurons} neuron(s) with more than {limit} inputs kept their {limit} "
                   f"strongest (by |weight|), dropping {int(dropped.sum())} inputs "
                   f"({int(lost.sum())} synapses, {share:.1%} of those neurons' summed "
                   f"|weight|): a DYNAP-SE neuron has {limit} CAM words, one per input"))
    new_index = np.cumsum(kept) - 1
    pair = np.where(synapse_kept, new_index[conn.pair], -1)
    return _Connections(pair, conn.pair_weight[kept], conn.pair_core[kept],
                        conn.pair_type[kept], conn.pair_target[kept], conn.pair_source[kept])


def _fan_in_violation(network: Network, target: int, need: int, limit: int):
    pop, index = _locate(network, target)
    into = [p.label for p in network.projections if p.post == pop.label]
    fix = (f"reduce its fan-in to at most {limit} sources, or "
           + fit_hint(f"keep each neuron's {limit} strongest inputs"))
    return violation(
        "population", pop.label, "cam_words", need, limit, fix,
        f"Population '{pop.label}' neuron {index} needs {need} CAM words for its inputs "
        f"(from projections {', '.join(repr(x) for x in into)}) but a DYNAP-SE neuron has "
        f"{limit}; every distinct source (and on DYNAP-SE1 every unit of weight) takes one: "
        f"{fix}")


def _locate(network: Network, neuron: int) -> tuple[Population, int]:
    for pop in network.populations:
        if neuron < pop.size:
            return pop, neuron
        neuron -= pop.size
    raise IndexError(neuron)


def _source_core(network: Network, placement: Mapping[str, Placement],
                 source_ids: Mapping[str, int], n_ids: int) -> np.ndarray:
    """Core of every source id; -1 for host inputs (they enter from outside the chips)."""
    core = np.full(n_ids, -1, dtype=np.int64)
    for pop in network.populations:
        core[source_ids[pop.label]:source_ids[pop.label] + pop.size] = placement[pop.label].core
    return core


def _allocate_tags(network: Network, spec: DynapseSpec, placement: Mapping[str, Placement],
                   conn: _Connections, source_ids: Mapping[str, int],
                   found: Violations) -> dict[str, np.ndarray]:
    n_ids = sum(n.size for n in (*network.populations, *network.sources))
    tag = np.full(n_ids, -1, dtype=np.int64)
    fixed = np.zeros(n_ids, dtype=bool)
    if spec.generation is Generation.SE1:
        for pop in network.populations:
            pl = placement[pop.label]
            s = source_ids[pop.label]
            tag[s:s + pop.size] = (pl.core % spec.cores_per_chip) << 8 | pl.address
            fixed[s:s + pop.size] = True
    # sources that reach each core, and the tags in use there
    pairs = np.unique(np.stack([conn.pair_core, conn.pair_source], axis=1), axis=0) \
        if conn.pair_core.size else np.zeros((0, 2), dtype=np.int64)
    used: dict[int, dict[int, int]] = {}
    for core, source in pairs:
        if fixed[source]:
            prev = used.setdefault(int(core), {}).setdefault(int(tag[source]), int(source))
            if prev != source:
                found.add(_alias_violation(network, spec, source_ids, int(core), prev,
                                           int(source), int(tag[source])))
    cores_of: dict[int, list[int]] = {}
    for core, source in pairs:
        cores_of.setdefault(int(source), []).append(int(core))
    for source in range(n_ids):
        if fixed[source] or source not in cores_of:
            continue
        taken: set[int] = set()
        for core in cores_of[source]:
            taken.update(used.get(core, {}))
        free = next((t for t in range(spec.tags) if t not in taken), None)
        if free is None:
            label, index = _source_label(network, source_ids, source)
            need = 1 + max(len(used.get(c, {})) for c in cores_of[source])
            fix = "reduce the number of distinct sources per core"
            if spec.generation is Generation.SE1:
                fix += f", or compile for DYNAP-SE2 ({option_hint('generation', 'se2')})"
            found.add(violation(
                "source" if label in {s.label for s in network.sources} else "population",
                label, "tags", need, spec.tags, fix,
                f"'{label}' neuron {index}: all {spec.tags} tags ({spec.tag_bits}-bit) are "
                f"taken on a core it projects to; DYNAP-SE cannot tell more than {spec.tags} "
                f"sources apart per core: {fix}"))
            free = 0  # shared: the mapping carries on for the report
        tag[source] = free
        for core in cores_of[source]:
            used.setdefault(core, {})[free] = source
    return {n.label: tag[source_ids[n.label]:source_ids[n.label] + n.size]
            for n in (*network.populations, *network.sources)}


def _source_label(network: Network, source_ids: Mapping[str, int], source: int
                  ) -> tuple[str, int]:
    for label, start in sorted(source_ids.items(), key=lambda kv: -kv[1]):
        if source >= start:
            return label, source - start
    raise IndexError(source)


def _alias_violation(network: Network, spec: DynapseSpec, source_ids: Mapping[str, int],
                     core: int, a: int, b: int, tag: int):
    la, ia = _source_label(network, source_ids, a)
    lb, ib = _source_label(network, source_ids, b)
    fix = ("keep the senders to one core on one chip, or compile for DYNAP-SE2, whose tags "
           f"are allocated ({option_hint('generation', 'se2')})")
    return violation(
        "population", lb, "tag_aliases", 2, 1, fix,
        f"tag {tag} aliases on core {core}: '{la}' neuron {ia} and '{lb}' neuron {ib} sit at "
        f"the same core/neuron address on different chips and both project to core {core}; "
        f"DYNAP-SE1's {spec.tag_bits}-bit tags carry no chip id: {fix}")


def _sram_words(network: Network, spec: DynapseSpec, placement: Mapping[str, Placement],
                conn: _Connections, source_ids: Mapping[str, int],
                found: Violations) -> dict[str, np.ndarray]:
    sram = {}
    for pop in network.populations:
        s = source_ids[pop.label]
        sel = (conn.pair_source >= s) & (conn.pair_source < s + pop.size)
        src = conn.pair_source[sel] - s
        chips = conn.pair_core[sel] // spec.cores_per_chip
        uniq = np.unique(np.stack([src, chips], axis=1), axis=0) if src.size else \
            np.zeros((0, 2), dtype=np.int64)
        words = np.bincount(uniq[:, 0], minlength=pop.size).astype(np.int64)
        if words.size and words.max() > spec.sram_per_neuron:
            i = int(np.argmax(words))
            fix = "place its targets on fewer chips"
            found.add(violation(
                "population", pop.label, "sram_words", int(words[i]), spec.sram_per_neuron,
                fix, f"Population '{pop.label}' neuron {i} projects to {int(words[i])} chips "
                f"but a DYNAP-SE neuron has {spec.sram_per_neuron} SRAM words (one per "
                f"destination chip); {fix}"))
        own = spec.chip_xy(int(placement[pop.label].core[0]) // spec.cores_per_chip)
        for chip in np.unique(chips):
            x, y = spec.chip_xy(int(chip))
            far = max(abs(x - own[0]), abs(y - own[1]))
            if far > MAX_CHIP_HOPS:
                fix = "place the populations it projects to closer to it"
                found.add(violation(
                    "population", pop.label, "chip_hops", far, MAX_CHIP_HOPS, fix,
                    f"Population '{pop.label}' projects {abs(x - own[0])}, {abs(y - own[1])} "
                    f"chips away; an SRAM word reaches at most {MAX_CHIP_HOPS} chips per "
                    f"axis: {fix}"))
        sram[pop.label] = words
    return sram


def _per_projection(network: Network, spec: DynapseSpec, placement: Mapping[str, Placement],
                    conn: _Connections, source_ids: Mapping[str, int], per_pair: np.ndarray,
                    cam_per_pair: np.ndarray, mask_per_pair: np.ndarray | None,
                    circuits: Mapping[str, Mapping[str, Circuit]]
                    ) -> dict[str, ProjectionMapping]:
    """Share each merged pair's realised weight among its synapses in proportion to them
    (a synapse of a pair the fan-in pruning dropped, ``pair = -1``, realises nothing)."""
    n_ids = sum(n.size for n in (*network.populations, *network.sources))
    src_core = _source_core(network, placement, source_ids, n_ids)
    w_abs_all = np.concatenate([
        np.abs(p.weight.astype(float)) * circuits[p.post][key(p.receptor)].scale
        for p in network.projections]) if network.projections else np.zeros(0)
    mapped = conn.pair >= 0
    pair_sum = np.bincount(conn.pair[mapped], weights=w_abs_all[mapped],
                           minlength=per_pair.size)
    out, start = {}, 0
    for proj in network.projections:
        kept = mapped[start:start + proj.size]
        pairs = np.where(kept, conn.pair[start:start + proj.size], 0)
        w_abs = w_abs_all[start:start + proj.size]
        start += proj.size
        share = np.divide(w_abs, pair_sum[pairs], out=np.zeros_like(w_abs),
                          where=kept & (pair_sum[pairs] > 0))
        circuit = circuits[proj.post][key(proj.receptor)]
        latency, hops = route_latency(spec, src_core[conn.pair_source[pairs]],
                                      conn.pair_core[pairs]) if pairs.size else (
            np.zeros(0), np.zeros(0, dtype=np.int64))
        out[proj.label] = ProjectionMapping(
            label=proj.label, synapse_type=circuit.type,
            realised_weight=circuit.weight_sign * per_pair[pairs] * share / circuit.scale,
            cam_entries=cam_per_pair[pairs] * share,
            mask=None if mask_per_pair is None else np.where(kept, mask_per_pair[pairs], 0),
            latency_ns=np.where(kept, latency, 0.0), hops=np.where(kept, hops, 0),
            kept=None if kept.all() else kept.copy(), scale=circuit.scale,
        )
    return out


def _core_configs(network: Network, placement: Mapping[str, Placement],
                  base: Mapping[tuple[int, int], float]) -> list[CoreConfig]:
    cores = []
    for pop in network.populations:
        pl = placement[pop.label]
        for core in np.unique(pl.core):
            weights = {SynapseType(t): b for (c, t), b in base.items() if c == core}
            cores.append(CoreConfig(int(core), pop.label, int(np.sum(pl.core == core)),
                                    weights))
    return cores


def _report(network: Network, mapping: DynapseMapping) -> dict[str, float]:
    rep: dict[str, float] = {
        "cores_used": float(len(mapping.cores)),
        "chips_used": float(len({c.core // mapping.spec.cores_per_chip for c in mapping.cores})),
        "neurons": float(network.n_neurons),
        "synapses": float(network.n_synapses),
    }
    cam = np.concatenate(list(mapping.cam_used.values())) if mapping.cam_used else np.zeros(1)
    rep["cam_words_max"] = float(cam.max()) if cam.size else 0.0
    rep["cam_words_mean"] = float(cam.mean()) if cam.size else 0.0
    sram = np.concatenate(list(mapping.sram.values())) if mapping.sram else np.zeros(1)
    rep["sram_words_max"] = float(sram.max()) if sram.size else 0.0
    tags = np.concatenate(list(mapping.tags.values()))
    rep["tags_used"] = float(np.unique(tags[tags >= 0]).size)
    for proj in network.projections:
        pm = mapping.projections[proj.label]
        if proj.size:
            rep[f"weight_rms_error[{proj.label}]"] = weight_drift(proj.weight,
                                                                  pm.realised_weight)
    return rep
