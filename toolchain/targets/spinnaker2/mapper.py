"""Map a network onto SpiNNaker2 PEs: quantise delays, cut populations into slices that fit a
PE's SRAM, add delay-extension slices for long delays, and place every slice on a PE.

A slice is what one PE runs: up to ``neurons_per_pe`` neurons of one population (with their
ring buffers and incoming synapse rows), up to ``neurons_per_pe`` neurons of a spike source,
or one delay-extension stage set for one source slice.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from toolchain.compiler.describe import activity
from toolchain.compiler.fit import fit_hint
from toolchain.compiler.pipeline import MappingError as CompilerMappingError
from toolchain.compiler.pipeline import Violations, violation
from toolchain.ir import Network, Population, Projection, Receptor
from toolchain.ir.network import (
    SYNAPSE_DYNAMICS,
    ACSource,
    DCSource,
    NoisyCurrentSource,
    StepCurrentSource,
    refusals,
)
from toolchain.targets.options import option_hint
from toolchain.targets.spinnaker2.numerics import (
    SUPPORTED_CELLS,
    WordLayout,
    quantise_weights,
    synapse_types,
    weight_frac_bits,
)
from toolchain.targets.spinnaker2.spec import COARSER_TICK, Board, SpiNNaker2Spec
from toolchain.targets.spinnaker2.stdp import STDP_RULES
from toolchain.targets.spinnaker2.timing import worst_tick_cycles

SliceKind = Literal["neurons", "source", "delay"]

# SRAM accounting per PE (32-bit words).  The LIF state and parameters: v, v_rest, v_reset,
# v_thresh, R, exp(-dt/tau_m), i_offset, refractory count and length, and per synapse type
# state, decay and input scale: 15 words, rounded up to 16.  [assumption, after the
# sPyNNaker neuron_model_lif_impl.h / synapse_types_exponential_impl.h structs]
NEURON_STATE_BYTES = 16 * 4
RING_ENTRY_BYTES = 4  # one uint32 accumulator per (slot, synapse type, neuron)
ROW_HEADER_BYTES = 3 * 4  # static row header: plastic size, fixed size, plastic-control size
# [src: sPyNNaker synapse_row.h row layout]
MASTER_TABLE_ENTRY_BYTES = 3 * 4  # key, mask, address/row length of one incoming source slice
# A plastic row's synapses take 4 bytes each as a static one's do (a 16-bit weight and a
# 16-bit control half-word), its header the last pre spike's time (4 bytes) and trace (2),
# rounded to words [src: sPyNNaker synapse_dynamics_stdp.py get_n_bytes_for_connections]
PLASTIC_ROW_HEADER_BYTES = 8
# A synapse with synapse dynamics keeps x, y, u and its last spike's time in the PE's
# SRAM (sim.synapses.Release's state), one word each [assumption: our software's layout]
RELEASE_STATE_BYTES = 16


def post_history_bytes(spec: SpiNNaker2Spec) -> int:
    """One neuron's post spike history: a count and, per entry, a 32-bit time and a 16-bit
    trace [src: sPyNNaker post_events.h post_event_history_t]."""
    return 4 + spec.stdp_post_history * (4 + 2)


class MappingError(CompilerMappingError):
    """The network does not fit the SpiNNaker2 machine; the message says what to change."""


@dataclass
class Slice:
    """What one PE runs."""

    kind: SliceKind
    node: str  # population / source label; for a delay slice the source node's label
    lo: int  # first neuron (of node)
    hi: int  # one past the last neuron
    chip: int = -1
    pe: int = -1  # PE index on its chip
    key: int = 0  # multicast base key of spikes this slice sends
    key_bits: int = 0  # low key bits that carry the neuron index (and delay stage)
    source_slice: int = -1  # for a delay slice: the slice whose spikes it delays
    row_bytes: int = 0  # synapse rows (with headers) it receives, in SRAM or DRAM

    @property
    def size(self) -> int:
        return self.hi - self.lo

    @property
    def mask(self) -> int:
        return (0xFFFFFFFF << self.key_bits) & 0xFFFFFFFF


@dataclass
class SynapseTable:
    """One projection's synapses, quantised: per synapse its delay in ticks, split into the
    delay-extension stages it passes and the remainder the target PE's ring buffer holds."""

    projection: str
    pre: str
    post: str
    receptor: Receptor
    pre_index: np.ndarray
    post_index: np.ndarray
    words: np.ndarray  # unsigned weight magnitudes at the post population's scale
    frac_bits: int
    delay_ticks: np.ndarray
    stage: np.ndarray  # delay-extension stages (0 = direct)
    residual: np.ndarray  # ticks left for the ring buffer, 1..max_delay_ticks
    # extra PE cycles per synaptic event of a plastic row (0 for a static one): the weight's
    # read-modify-write with one depression, plus a potentiation per post spike expected
    # in the post history since the row's last pre spike (stdp.py)
    plastic_cycles: float = 0.0
    # extra PE cycles per synaptic event of a row with synapse dynamics (short-term
    # plasticity, stochastic release): its state advanced over the interval since the
    # synapse's last spike and the weight scaled (sim.synapses.Release, in software)
    release_cycles: float = 0.0

    @property
    def plastic(self) -> bool:
        return self.plastic_cycles > 0


@dataclass
class Mapping:
    """Slices, their placement and the per-synapse quantities the encoder and simulator read."""

    spec: SpiNNaker2Spec
    slices: list[Slice]
    slice_of: dict[str, np.ndarray]  # node label -> slice id per neuron
    delay_slice_of: dict[int, int]  # source slice id -> its delay-extension slice id
    synapses: list[SynapseTable]
    frac_bits: dict[tuple[str, Receptor | str], int]  # (post population, type) -> weight scale
    layout: WordLayout
    stats: dict[str, float] = field(default_factory=dict)
    network_label: str = ""
    # (post population, synapse type) whose words hold magnitudes of negative weights
    negative: frozenset[tuple[str, Receptor | str]] = frozenset()

    def slices_of(self, node: str) -> list[int]:
        return [i for i, s in enumerate(self.slices) if s.node == node and s.kind != "delay"]


def map_network(network: Network, spec: SpiNNaker2Spec,
                violations: Violations | None = None) -> Mapping:
    """Quantise, partition and place ``network``; a broken limit goes to ``violations``
    (which raises it when strict: the default), a missing feature raises ``MappingError``.
    After a recorded violation the mapping carries on as if the limit were not there (a
    delay clipped to the longest, a neuron alone on its PE, a board extended with chips)."""
    if violations is None:
        violations = Violations(strict=True, error=MappingError)
    negative = _negative_types(network)
    _check_cells(network, negative)
    layout = WordLayout.for_pe(spec.neurons_per_pe, spec.ring_buffer_ticks, spec.weight_bits,
                               max((len(synapse_types(p)) for p in network.populations),
                                   default=2))
    frac_bits = _weight_scales(network, spec)
    p_spike = _spike_probability(network, spec)
    synapses = [_quantise(network, proj, spec, frac_bits, violations, p_spike, negative)
                for proj in network.projections]
    slices: list[Slice] = []
    slice_of: dict[str, np.ndarray] = {}
    for node in network.sources:
        slice_of[node.label] = _cut(slices, "source", node.label,
                                    np.full(node.size, spec.neurons_per_pe, np.int64))
    worst = 0.0  # estimated cycles of the busiest PE's worst tick
    for pop in network.populations:
        capacity, prefix, n_rows, worst_tick = _neurons_that_fit(
            pop, [t for t in synapses if t.post == pop.label], spec, p_spike, violations)
        first = len(slices)
        slice_of[pop.label] = _cut(slices, "neurons", pop.label, capacity)
        for s in slices[first:]:
            s.row_bytes = _row_bytes(prefix, n_rows, s.lo, s.hi)
        lo = np.array([s.lo for s in slices[first:]])
        size = np.array([s.size for s in slices[first:]])
        worst = max(worst, float(worst_tick(lo, size).max()) if lo.size else 0.0)
    delay_slice_of = _add_delay_slices(slices, slice_of, synapses)
    spec = _place(slices, spec, network, violations)
    if spec.synapse_storage == "dram":
        _check_dram(slices, spec, network, violations)
    stats = {
        "delay_quantisation_error_ms_mean": _delay_error(network, synapses, spec),
        "weight_quantisation_error_rel_max": _weight_error(network, synapses),
        "tick_cycles": spec.cycles_per_tick,
        "tick_cycles_worst_estimate": worst,
    }
    return Mapping(spec, slices, slice_of, delay_slice_of, synapses, frac_bits, layout, stats,
                   network.label, negative)


# --------------------------------------------------------------------------- checks, quantise


#: The current sources a PE adds to its neurons' input: all four of PyNN's, as sPyNNaker's
#: current-source code runs them [src: sPyNNaker neural_modelling current_sources
#: (current_source_dc/ac/step/noisy_impl.h)].  The engine computes each source's current
#: as the reference does; the PE takes it in its arithmetic (s16.15 or float32).  A noisy
#: source's samples come from the network's seeded stream, not from the PE's generator.
CURRENT_SOURCES = (DCSource, StepCurrentSource, ACSource, NoisyCurrentSource)


def _negative_types(network: Network) -> frozenset[tuple[str, Receptor | str]]:
    """The synapse types whose words hold magnitudes of negative weights: a current-based
    standard cell's inhibitory one, and a composed cell's current-based receptor whose
    projections bring negative weights.  A synaptic word holds a magnitude and its synapse
    type the sign (sPyNNaker's synapse_row.h), so a current receptor fed weights of both
    signs is refused, naming it."""
    out = {(p.label, Receptor.INHIBITORY) for p in network.populations
           if not p.cell_type.composed and not p.cell_type.conductance_based}
    signs: dict[tuple[str, str], dict[str, str]] = {}
    for proj in network.projections:
        post = network.node(proj.post)
        if not post.cell_type.composed or post.conductance_receptor(proj.receptor):
            continue
        seen = signs.setdefault((proj.post, proj.receptor), {})
        if np.any(proj.weight < 0):
            seen.setdefault("negative", proj.label)
        if np.any(proj.weight > 0):
            seen.setdefault("positive", proj.label)
    for (pop, receptor), seen in signs.items():
        if len(seen) == 2:
            raise MappingError(
                f"receptor '{receptor}' of population '{pop}' gets negative weights (from "
                f"Projection '{seen['negative']}') and positive ones (from Projection "
                f"'{seen['positive']}'); a SpiNNaker2 synaptic word holds a weight's magnitude "
                "and its synapse type the sign (sPyNNaker's synapse_row.h), so give the "
                "neuron one receptor for each sign")
        if "negative" in seen:
            out.add((pop, receptor))
    return frozenset(out)


def _check_cells(network: Network, negative: frozenset[tuple[str, Receptor | str]]) -> None:
    rules: dict[str, tuple[str, object]] = {}
    dendritic: dict[str, set[float]] = {}  # per post population, its plastic synapses' lags
    for proj in network.projections:
        rule = proj.plasticity
        if rule is None:
            continue
        if (proj.post, proj.receptor) in negative:
            raise MappingError(
                f"Projection '{proj.label}': STDP on the negative-weight receptor "
                f"'{_receptor_name(proj.receptor)}' of current-based population "
                f"'{proj.post}' learns negative weights, but a SpiNNaker2 synaptic "
                "word holds a magnitude and its synapse type the sign (sPyNNaker's "
                "synapse_row.h); make the plastic projection excitatory, or the population "
                "conductance-based")
        lags = dendritic.setdefault(proj.post, set())
        lags.update(float(rule.dendritic_delay_fraction) * float(d)
                    for d in np.unique(proj.delay))
        if len(lags) > 1:
            raise MappingError(
                f"Projection '{proj.label}': STDP with dendritic_delay_fraction = "
                f"{rule.dendritic_delay_fraction:g} and plastic delays into population "
                f"'{proj.post}' that differ: a PE keeps one post spike history per neuron and "
                "shifts its learning window by one dendritic delay (sPyNNaker's "
                "synapse_dynamics_stdp_mad_impl.c); give the plastic synapses one delay, or "
                "use dendritic_delay_fraction=0")
        first = rules.setdefault(proj.post, (proj.label, rule))
        if first[1] != rule:
            raise MappingError(
                f"Projection '{proj.label}': its STDP rule differs from that of projection "
                f"'{first[0]}' into the same population '{proj.post}'; a PE runs one "
                "plasticity rule (one synapse-dynamics program, with one post spike history "
                "per neuron) for all its plastic synapses, as sPyNNaker requires the synapse "
                "dynamics of projections into one population to match; give them one rule")
    for pop in network.populations:
        if pop.cell_type not in SUPPORTED_CELLS:
            allowed = ", ".join(c.value for c in SUPPORTED_CELLS)
            raise MappingError(
                f"Population '{pop.label}': cell type {pop.cell_type.value} is not available "
                f"on spinnaker2 (its neuron kernels: {allowed}); change the cell type"
            )
    for message in refusals(network, "spinnaker2", stdp=STDP_RULES, currents=CURRENT_SOURCES,
                            dynamics=SYNAPSE_DYNAMICS, dendritic=True):
        raise MappingError(message)


def _receptor_name(receptor: Receptor | str) -> str:
    return receptor.value if isinstance(receptor, Receptor) else receptor


def _weight_scales(network: Network, spec: SpiNNaker2Spec
                   ) -> dict[tuple[str, Receptor | str], int]:
    largest: dict[tuple[str, Receptor | str], float] = {}
    for proj in network.projections:
        key = (proj.post, proj.receptor)
        if proj.size:
            top = float(np.abs(proj.weight).max())
            if proj.plasticity is not None:  # learning may take a weight up to w_max
                top = max(top, abs(proj.plasticity.w_max), abs(proj.plasticity.w_min))
            largest[key] = max(largest.get(key, 0.0), top)
    scales = {}
    for pop in network.populations:
        for r in synapse_types(pop):
            scales[(pop.label, r)] = weight_frac_bits(largest.get((pop.label, r), 0.0),
                                                      spec.weight_bits)
    return scales


def _quantise(network: Network, proj: Projection, spec: SpiNNaker2Spec,
              frac_bits: dict[tuple[str, Receptor | str], int], violations: Violations,
              p_spike: dict[str, float], negative: frozenset[tuple[str, Receptor | str]]
              ) -> SynapseTable:
    what = f"Projection '{proj.label}'"
    _check_sign(network, proj, what, negative)
    fb = frac_bits[(proj.post, proj.receptor)]
    # narrow dtypes: the full-scale microcircuit has 0.3 billion synapses
    words = quantise_weights(proj.weight, fb, what=what, weight_bits=spec.weight_bits)
    words = words.astype(np.uint16 if spec.weight_bits <= 16 else np.uint32)
    ticks = np.maximum(np.rint(proj.delay / np.float32(spec.tick_ms)), 1).astype(np.int32)
    longest = int(ticks.max()) if ticks.size else 0
    limit = spec.max_extended_delay_ticks
    if longest > limit:
        i = int(np.argmax(ticks))
        stages = -(-longest // spec.max_delay_ticks) - 1
        fix = (f"shorten the delay, or raise ring_buffer_ticks (up to 64: "
               f"{option_hint('ring_buffer_ticks', 64)}) or max_delay_stages "
               f"({option_hint('max_delay_stages', stages)}), or " + fit_hint("shorten it"))
        violations.add(violation(
            "projection", proj.label, "delay_ticks", longest, limit, fix,
            f"{what} delay[{i}] = {proj.delay[i]:g} ms is {longest} ticks of {spec.tick_ms:g} ms, "
            f"{longest - limit} over the limit: spinnaker2 reaches at most {limit} ticks "
            f"({spec.max_delay_ticks} in the ring buffer + {spec.max_delay_stages} delay-extension "
            f"stages of {spec.max_delay_ticks}); {fix}"))
        ticks = np.minimum(ticks, limit)
    m = spec.max_delay_ticks
    stage = np.maximum(0, -(-(ticks - m) // m)).astype(np.int16)  # ceil((d - m) / m)
    residual = (ticks - stage * m).astype(np.int16)
    ticks = ticks.astype(np.int16)
    return SynapseTable(proj.label, proj.pre, proj.post, proj.receptor, proj.pre_index,
                        proj.post_index, words, fb, ticks, stage, residual,
                        _plastic_cycles(proj, spec, p_spike),
                        0.0 if proj.dynamics is None else float(spec.cycles_per_release))


def _plastic_cycles(proj: Projection, spec: SpiNNaker2Spec, p_spike: dict[str, float]
                    ) -> float:
    """Extra cycles per synaptic event of a plastic projection: one read-modify-write
    (with a depression), and a potentiation per post spike expected between two pre
    spikes (the planned rates' ratio, at most the post history's length)."""
    if proj.plasticity is None:
        return 0.0
    pre, post = p_spike[proj.pre], p_spike[proj.post]
    pairs = min(post / pre, spec.stdp_post_history) if pre > 0 else spec.stdp_post_history
    return float(spec.cycles_per_plastic_synapse + pairs * spec.cycles_per_post_pair)


def _check_sign(network: Network, proj: Projection, what: str,
                negative: frozenset[tuple[str, Receptor | str]]) -> None:
    """A synaptic word holds a weight magnitude; the synapse type gives the sign (sPyNNaker's
    synapse_row.h).  A current-based inhibitory weight must be <= 0 and an excitatory one
    >= 0 (PyNN's convention), or the magnitude would silently act with the opposite sign.
    (A composed cell's receptors take their sign from their weights: _negative_types.)"""
    post = network.node(proj.post)
    inhibitory = (proj.post, proj.receptor) in negative
    if post.cell_type.conductance_based or post.cell_type.composed or not proj.size:
        return
    wrong = proj.weight > 0 if inhibitory else proj.weight < 0
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        sign, need = ("positive", "<= 0") if inhibitory else ("negative", ">= 0")
        other = "excitatory" if inhibitory else "inhibitory"
        raise MappingError(
            f"{what} weight[{i}] = {proj.weight[i]:g} nA is {sign} on the "
            f"{proj.receptor.value} receptor of current-based population '{proj.post}'; "
            f"spinnaker2 stores weight magnitudes and takes the sign from the receptor, so "
            f"these weights must be {need}; flip the sign or use the {other} receptor"
        )


def _delay_error(network: Network, tables: list[SynapseTable], spec: SpiNNaker2Spec) -> float:
    total, n = 0.0, 0
    for proj, t in zip(network.projections, tables, strict=True):
        total += float(np.abs(t.delay_ticks * spec.tick_ms - proj.delay.astype(np.float64)).sum())
        n += proj.size
    return total / n if n else 0.0


def _weight_error(network: Network, tables: list[SynapseTable]) -> float:
    worst = 0.0
    for proj, t in zip(network.projections, tables, strict=True):
        w = np.abs(proj.weight.astype(np.float64))
        nz = w > 0
        if nz.any():
            err = np.abs(t.words[nz] * 2.0 ** -t.frac_bits - w[nz]) / w[nz]
            worst = max(worst, float(err.max()))
    return worst


# --------------------------------------------------------------------------- partition


def _spike_probability(network: Network, spec: SpiNNaker2Spec) -> dict[str, float]:
    """Per node, the probability that one of its neurons fires in a tick, for sizing slices:
    the compiler's activity (sources as they are defined, populations at
    ``planned_rate_hz``), averaged over the node's neurons."""
    planned = activity(network, rate_hz=spec.planned_rate_hz)
    return {label: min(1.0, float(np.mean(rates)) * spec.tick_ms * 1e-3) if rates.size
            else 0.0 for label, rates in planned.rates_hz.items()}


def _neurons_that_fit(pop: Population, incoming: list[SynapseTable], spec: SpiNNaker2Spec,
                      p_spike: dict[str, float], violations: Violations
                      ) -> tuple[np.ndarray, np.ndarray, int, Callable[..., np.ndarray]]:
    """For each neuron i, how many neurons from i on fit one PE (at most neurons_per_pe):
    in its SRAM and, with ``fit_tick``, in its timer tick (estimated worst tick).

    Synapse rows are sized by an upper bound (every incoming synapse in a row of its own
    projection, rows at most one per pre neuron), as a mapper must allocate before it knows
    which rows arrive: the same bound for every slice keeps the count a plain prefix sum.
    """
    n = pop.size
    budget = spec.data_bytes_per_pe
    plastic = any(t.plastic for t in incoming)
    per_neuron = (NEURON_STATE_BYTES
                  + len(synapse_types(pop)) * spec.ring_buffer_ticks * RING_ENTRY_BYTES
                  + (post_history_bytes(spec) if plastic else 0))
    syn_prefix = np.zeros(n + 1, np.int64)
    release_prefix = np.zeros(n + 1, np.int64)  # synapses with synapse dynamics' state
    # (synapse prefix, row bound, firing probability per tick, extra cycles per synaptic
    # event) per projection
    per_table = []
    for t in incoming:
        prefix = np.zeros(n + 1, np.int64)
        prefix[1:] = np.cumsum(np.bincount(t.post_index, minlength=n))
        syn_prefix += prefix
        if t.release_cycles:
            release_prefix += prefix
        per_table.append((prefix, _pre_rows_bound(t), p_spike[t.pre],
                          t.plastic_cycles + t.release_cycles))
    n_pre_rows = sum(bound for _, bound, _, _ in per_table)
    n_plastic_rows = sum(bound for _, bound, _, c in per_table if c > 0)
    master = MASTER_TABLE_ENTRY_BYTES * max(1, len(incoming)) * 2  # direct + delayed sources
    in_sram = spec.synapse_storage == "sram"
    fixed = master + (0 if in_sram else spec.dma_buffer_bytes)
    post_cost = spec.cycles_per_post_spike * p_spike[pop.label] if plastic else 0.0

    def need(lo: np.ndarray, k: np.ndarray) -> np.ndarray:
        syn = syn_prefix[lo + k] - syn_prefix[lo]
        rows = np.minimum(syn, n_pre_rows)
        plastic_rows = np.minimum(syn, n_plastic_rows)
        release = release_prefix[lo + k] - release_prefix[lo]
        return fixed + k * per_neuron + RELEASE_STATE_BYTES * release + in_sram * (
            4 * syn + ROW_HEADER_BYTES * rows + PLASTIC_ROW_HEADER_BYTES * plastic_rows)

    def tick_fits(lo: np.ndarray, k: np.ndarray) -> np.ndarray:
        if not spec.fit_tick:
            return np.ones(lo.size, bool)
        return _worst_tick(lo, k) <= spec.cycles_per_tick

    def _worst_tick(lo: np.ndarray, k: np.ndarray) -> np.ndarray:
        rows = np.zeros(lo.size)
        packets = np.zeros(lo.size)
        events = np.zeros(lo.size)
        learning = np.zeros(lo.size)
        for prefix, bound, p, extra in per_table:
            syn = prefix[lo + k] - prefix[lo]
            r = np.minimum(syn, bound)
            rows += r
            packets += r * p
            events += syn * p
            learning += syn * p * extra
        return worst_tick_cycles(spec, k, rows, packets, events, learning, k * post_cost,
                                 spec.neuron_update_cycles(pop.cell_type))

    lo = np.arange(n)
    cap = np.minimum(spec.neurons_per_pe, n - lo)
    one = need(lo, np.ones(n, np.int64))
    if np.any(one > budget):
        i = int(np.flatnonzero(one > budget)[0])
        syn = int(syn_prefix[i + 1] - syn_prefix[i])
        fix = (f"keep synapse rows in DRAM ({option_hint('synapse_storage', 'dram')}), reduce "
               "its fan-in or code_and_stack_bytes" if in_sram else
               f"reduce code_and_stack_bytes ({option_hint('code_and_stack_bytes', 16384)})")
        violations.add(violation(
            "population", pop.label, "pe_sram_bytes", int(one[i]), budget, fix,
            f"Population '{pop.label}' neuron {i} has {syn} incoming synapses needing "
            f"{int(one[i])} bytes on its PE, {int(one[i]) - budget} more than the {budget} "
            "bytes of data SRAM "
            f"({spec.sram_per_pe} SRAM - {spec.code_and_stack_bytes} code_and_stack_bytes); "
            + fix))
    late = ~tick_fits(lo, np.ones(n, np.int64))
    if np.any(late):
        i = int(np.flatnonzero(late)[0])
        worst = float(_worst_tick(lo[i:i + 1], np.ones(1, np.int64))[0])
        fix = (f"raise pe_clock_hz ({option_hint('pe_clock_hz', 2 * spec.pe_clock_hz)}), "
               f"{COARSER_TICK if spec.tick_ms != 1.0 else ''}"
               f"{', ' if spec.tick_ms != 1.0 else ''}reduce its fan-in, or "
               f"{option_hint('fit_tick', False)} to run anyway with late packets dropped "
               "and counted")
        violations.add(violation(
            "population", pop.label, "tick_cycles", worst, spec.cycles_per_tick, fix,
            f"Population '{pop.label}' neuron {i}: even alone on a PE its estimated worst tick "
            f"takes {worst:.0f} cycles, more than the {spec.cycles_per_tick:.0f} cycles of a "
            f"{spec.tick_ms:g} ms tick at pe_clock_hz = {spec.pe_clock_hz:g}; {fix}"))
    # binary search, for every start neuron at once, for the largest k that fits
    good = np.ones(n, np.int64)
    bad = cap + 1
    while np.any(bad - good > 1):
        mid = (good + bad) // 2
        k = np.minimum(mid, cap)
        fits = (need(lo, k) <= budget) & tick_fits(lo, k)
        good = np.where(fits & (mid <= cap), mid, good)
        bad = np.where(fits & (mid <= cap), bad, mid)
    return good, syn_prefix, n_pre_rows, _worst_tick


def _row_bytes(syn_prefix: np.ndarray, n_pre_rows: int, lo: int, hi: int) -> int:
    syn = int(syn_prefix[hi] - syn_prefix[lo])
    return 4 * syn + ROW_HEADER_BYTES * min(syn, n_pre_rows)


def _pre_rows_bound(t: SynapseTable) -> int:
    """Rows a projection can put on any PE: one per (pre neuron, delay path) it uses."""
    if not t.pre_index.size:
        return 0
    paths = int(t.stage.max()) + 1
    return int(np.count_nonzero(np.bincount(t.pre_index.astype(np.int64) * paths + t.stage)))


def _cut(slices: list[Slice], kind: SliceKind, node: str, capacity: np.ndarray) -> np.ndarray:
    n = capacity.size
    slice_id = np.empty(n, np.int32)
    lo = 0
    while lo < n:
        hi = lo + int(min(capacity[lo], n - lo))
        slice_id[lo:hi] = len(slices)
        slices.append(Slice(kind, node, lo, hi))
        lo = hi
    return slice_id


def _add_delay_slices(slices: list[Slice], slice_of: dict[str, np.ndarray],
                      tables: list[SynapseTable]) -> dict[int, int]:
    """One delay-extension slice per source slice that has a synapse with stage > 0."""
    needed: set[int] = set()
    for t in tables:
        long = t.stage > 0
        if long.any():
            needed.update(np.unique(slice_of[t.pre][t.pre_index[long]]).tolist())
    out = {}
    for sid in sorted(needed):
        src = slices[sid]
        out[sid] = len(slices)
        slices.append(Slice("delay", src.node, src.lo, src.hi, source_slice=sid))
    return out


# --------------------------------------------------------------------------- place


def _place(slices: list[Slice], spec: SpiNNaker2Spec, network: Network,
           violations: Violations) -> SpiNNaker2Spec:
    """Fill chips in order, a delay-extension slice on the PE after its source's slices.
    Returns the spec placed on: a board extended by rows of chips when the slices do not
    fit (a recorded violation)."""
    available = spec.n_pes
    if len(slices) > available:
        kinds = {k: sum(s.kind == k for s in slices) for k in ("neurons", "source", "delay")}
        chips_needed = math.ceil(len(slices) / spec.usable_pes_per_chip)
        fix = (f"use a board of at least {chips_needed} chips ({board_hint(chips_needed)}), "
               "or raise neurons_per_pe "
               f"({option_hint('neurons_per_pe', 2 * spec.neurons_per_pe)})"
               + (" (slices are also cut to meet the timer tick: a higher pe_clock_hz "
                  + ("or the 1 ms tick allows larger ones)" if spec.tick_ms != 1.0 else
                     "allows larger ones)") if spec.fit_tick else ""))
        violations.add(violation(
            "network", network.label, "pes", len(slices), available, fix,
            f"network '{network.label}' needs {len(slices)} PEs ({kinds['neurons']} neuron "
            f"slices, {kinds['source']} spike-source slices, {kinds['delay']} delay-extension "
            f"slices) but board '{spec.board.name}' has {available} ({spec.board.n_chips} chips x "
            f"{spec.usable_pes_per_chip} usable PEs); {fix}"))
        b = spec.board
        spec = spec.replace(board=Board(f"{b.name}+virtual", b.width,
                                        -(-chips_needed // b.width), b.torus))
    order = sorted(range(len(slices)), key=lambda i: _place_order(slices, i))
    first_pe = spec.reserved_pes_per_chip
    for n, i in enumerate(order):
        chip, pe = divmod(n, spec.usable_pes_per_chip)
        slices[i].chip, slices[i].pe = chip, first_pe + pe
    return spec


def board_hint(chips: int) -> str:
    """The option that gives a board of at least ``chips`` chips."""
    from toolchain.targets.spinnaker2.spec import BOARDS

    for name, make in BOARDS.items():
        if make().n_chips >= chips:
            return option_hint("board", name)
    side = math.ceil(math.sqrt(chips))
    return option_hint("board", f"{side}x{side}")


def _check_dram(slices: list[Slice], spec: SpiNNaker2Spec, network: Network,
                violations: Violations) -> None:
    used: dict[int, int] = {}
    for s in slices:
        used[s.chip] = used.get(s.chip, 0) + s.row_bytes
    for chip, total in sorted(used.items()):
        if total > spec.dram_bytes_per_chip:
            x, y = spec.board.chip_xy(chip)
            fix = (f"use a larger board ({board_hint(spec.board.n_chips + 1)}) or lower "
                   f"neurons_per_pe ({option_hint('neurons_per_pe', spec.neurons_per_pe // 2)})")
            violations.add(violation(
                "network", network.label, "dram_bytes", total, spec.dram_bytes_per_chip, fix,
                f"chip ({x}, {y}) needs {total} bytes of synapse rows in DRAM, "
                f"{total - spec.dram_bytes_per_chip} more than its dram_bytes_per_chip = "
                f"{spec.dram_bytes_per_chip}; {fix}"))


def _place_order(slices: list[Slice], i: int) -> tuple[int, int]:
    s = slices[i]
    return (s.source_slice, 1) if s.kind == "delay" else (i, 0)
