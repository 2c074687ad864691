"""Partition populations into core-sized slices that honour every per-core limit at once.

A core holds one contiguous slice of one population.  The slice size is first estimated
from average fan-in, then checked exactly: every incoming projection's synapses are grouped
into rows (one row = the synapses from one presynaptic neuron into one core = one input
axon) with one sort per projection, which gives each core's input axons, synapses, synapse
memory and config-table use.  Slices over a limit are split and checked again.  Output
axons (one per source neuron and destination core) depend on how the *destination* is
sliced, so they are checked after all inputs fit, splitting source slices where needed and
repeating until nothing changes.  No Python loop runs per synapse or per neuron.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.compiler.artifact import Cores, Violation
from toolchain.compiler.pipeline import Build, Rows, violation
from toolchain.ir import Network, Population

# Slices are sized to this fraction of a limit from averages, so the exact check rarely
# has to split them again (an extra sort of every incoming synapse).
_ESTIMATE_HEADROOM = 0.9
_MAX_ROUNDS = 12


@dataclass
class _Usage:
    """Per-slice resource use of one population under given slice bounds."""

    bounds: np.ndarray
    input_axons: np.ndarray
    synapses: np.ndarray
    synapse_bits: np.ndarray
    neuron_configs: np.ndarray
    threshold_configs: np.ndarray
    synapse_configs: np.ndarray
    learning_configs: np.ndarray
    rows: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]  # projection -> slice, pre, len


def partition(build: Build) -> Build:
    """Pass: slice every population into cores; fills ``cores`` and ``rows``."""
    net, spec = build.network, build.spec
    numerics = build.need("numerics", "partition")
    pops = net.populations
    index = {p.label: k for k, p in enumerate(pops)}
    incoming: list[list[int]] = [[] for _ in pops]
    for j, proj in enumerate(net.projections):
        incoming[index[proj.post]].append(j)
    configs = [spec.neuron_configs(p, net.dt) for p in pops]

    usage: list[_Usage | None] = [None] * len(pops)
    bounds = [_initial_bounds(net, k, incoming[k], spec, numerics) for k in range(len(pops))]
    dirty = set(range(len(pops)))
    violations: list[Violation] = []
    for _ in range(_MAX_ROUNDS):
        for k in sorted(dirty):
            usage[k], found = _fit_inputs(net, k, bounds[k], incoming[k], configs[k], spec,
                                          numerics)
            bounds[k] = usage[k].bounds
            violations.extend(m for m in found if m not in violations)
        dirty = set()
        out = _output_axons_per_neuron(net, usage, index)
        limit = spec.limits.output_axons
        if limit is None:
            break
        for k, pop in enumerate(pops):
            new_bounds, found = _split_by_load(out[k], bounds[k], limit, pop, "output")
            violations.extend(m for m in found if m not in violations)
            if new_bounds.size != bounds[k].size:
                bounds[k] = new_bounds
                dirty.add(k)
        if not dirty:
            break
    else:  # no fixed point within the rounds: count the last split, then report what is over
        for k in sorted(dirty):
            usage[k], _ = _fit_inputs(net, k, bounds[k], incoming[k], configs[k], spec,
                                      numerics)
        out = _output_axons_per_neuron(net, usage, index)
        for k, pop in enumerate(pops):
            per_slice = np.add.reduceat(out[k], usage[k].bounds[:-1])
            if per_slice.max() > limit:
                fix = "reduce the number of cores its neurons project to"
                violations.append(violation(
                    "population", pop.label, "output_axons", int(per_slice.max()), limit, fix,
                    f"Population '{pop.label}': a core of it needs {int(per_slice.max())} "
                    f"output axons, the limit is {limit}, and splitting did not converge in "
                    f"{_MAX_ROUNDS} rounds; {fix}"))
    for broken in violations:
        build = build.violate(broken)

    cores, rows = _assemble(net, usage, out)
    return build.replace(cores=cores, rows=rows)


# --------------------------------------------------------------------------- sizing


def _initial_bounds(net: Network, k: int, incoming: list[int], spec, numerics) -> np.ndarray:
    pop = net.populations[k]
    limits = spec.limits
    per_core = max(limits.neurons // spec.compartments(pop, net.dt), 1)
    n = np.arange(1, min(per_core, pop.size) + 1)
    fits = np.ones(n.size, dtype=bool)
    inputs = np.zeros(n.size)
    bits = np.zeros(n.size)
    for j in incoming:
        proj = net.projections[j]
        pre_size = net.node(proj.pre).size
        per_neuron = proj.size / pop.size
        learning = proj.plasticity is not None
        # expected distinct sources among n * per_neuron random draws from pre_size neurons
        distinct = pre_size * -np.expm1(-n * per_neuron / pre_size)
        inputs += distinct * spec.input_axons_per_source(learning)
        q = numerics[j]
        row_len = np.maximum(n * per_neuron / np.maximum(distinct, 1e-9), 1.0)
        row_bits = spec.synapse_row_bits(
            np.ceil(row_len).astype(np.int64), weight_bits=q.weight_bits,
            delay_bits=q.delay_bits, index_bits=spec.index_bits(n), learning=learning,
        )
        bits += distinct * row_bits
    if limits.input_axons is not None:
        fits &= inputs <= _ESTIMATE_HEADROOM * limits.input_axons
    if limits.synapse_bits is not None:
        fits &= bits <= _ESTIMATE_HEADROOM * limits.synapse_bits
    size = int(n[fits].max()) if fits.any() else 1
    return _even_bounds(pop.size, size)


def _even_bounds(size: int, per_slice: int) -> np.ndarray:
    """Slice bounds for ``size`` neurons in equal slices of at most ``per_slice``."""
    count = -(-size // per_slice)
    return np.linspace(0, size, count + 1).round().astype(np.int64)


def _split_by_load(load: np.ndarray, bounds: np.ndarray, limit: int, pop: Population,
                   what: str) -> tuple[np.ndarray, list[Violation]]:
    """Split every slice whose summed per-neuron ``load`` exceeds ``limit``."""
    if load.size == 0:
        return bounds, []
    per_slice = np.add.reduceat(load, bounds[:-1]) if bounds.size > 1 else np.zeros(0)
    over = np.flatnonzero(per_slice > limit)
    if over.size == 0:
        return bounds, []
    messages = []
    worst = int(np.argmax(load))
    if load[worst] > limit:
        n_bad = int(np.count_nonzero(load > limit))
        fix = ("give the populations it projects to fewer cores (fewer, larger targets) or "
               "split its outgoing projections across fewer target populations")
        messages.append(violation(
            "population", pop.label, f"{what}_axons", int(load[worst]), limit, fix,
            f"Population '{pop.label}': {n_bad} neuron(s) each send spikes to more cores than "
            f"a core has {what} axons (limit {limit}, neuron {worst} needs {int(load[worst])}); "
            + fix))
    pieces = [bounds[:-1]]
    for s in over:
        a, b = int(bounds[s]), int(bounds[s + 1])
        if b - a < 2:
            continue
        csum = np.cumsum(load[a:b])
        parts = -(-int(csum[-1]) // limit)
        # cut into `parts` pieces of about equal load
        targets = csum[-1] * np.arange(1, parts) / parts
        cuts = np.searchsorted(csum, targets, side="right")
        pieces.append(np.clip(cuts, 1, b - a - 1) + a)
    new = np.unique(np.concatenate([*pieces, [pop.size]])).astype(np.int64)
    return new, messages


# --------------------------------------------------------------------------- exact count


def _fit_inputs(net: Network, k: int, bounds: np.ndarray, incoming: list[int],
                configs: tuple[np.ndarray, np.ndarray], spec, numerics
                ) -> tuple[_Usage, list[Violation]]:
    """Count exactly and split slices over a limit until all fit (or are single neurons)."""
    pop = net.populations[k]
    limits = spec.limits
    while True:
        use = _count(net, bounds, incoming, configs, spec, numerics)
        ratio = np.ones(bounds.size - 1)
        checks = (
            ("input_axons", limits.input_axons),
            ("synapse_bits", limits.synapse_bits),
            ("neuron_configs", limits.neuron_configs),
            ("threshold_configs", limits.threshold_configs),
            ("synapse_configs", limits.synapse_configs),
            ("learning_configs", limits.learning_configs),
        )
        for name, limit in checks:
            if limit is not None:
                ratio = np.maximum(ratio, getattr(use, name) / limit)
        sizes = np.diff(bounds)
        split = (ratio > 1) & (sizes > 1)
        if not split.any():
            return use, _single_neuron_violations(net, pop, use, ratio, incoming, spec)
        parts = np.where(split, np.minimum(np.ceil(ratio * 1.05), sizes), 1).astype(np.int64)
        new = [bounds[:-1][~split]]
        for s in np.flatnonzero(split):
            a, b = bounds[s], bounds[s + 1]
            new.append(np.linspace(a, b, parts[s] + 1).round().astype(np.int64)[:-1])
        bounds = np.unique(np.concatenate([*new, [pop.size]])).astype(np.int64)


def _count(net: Network, bounds: np.ndarray, incoming: list[int],
           configs: tuple[np.ndarray, np.ndarray], spec, numerics) -> _Usage:
    n_slices = bounds.size - 1
    sizes = np.diff(bounds)
    slice_of = np.repeat(np.arange(n_slices, dtype=np.int32), sizes)
    zeros = np.zeros(n_slices, dtype=np.int64)
    use = _Usage(
        bounds=bounds, input_axons=zeros.copy(), synapses=zeros.copy(),
        synapse_bits=zeros.copy(), neuron_configs=_distinct_per_slice(slice_of, configs[0]),
        threshold_configs=_distinct_per_slice(slice_of, configs[1]),
        synapse_configs=zeros.copy(), learning_configs=zeros.copy(), rows={},
    )
    index_bits = spec.index_bits(sizes)
    rules: dict[object, np.ndarray] = {}
    for j in incoming:
        proj = net.projections[j]
        pre_size = net.node(proj.pre).size
        learning = proj.plasticity is not None
        row_slice, row_pre, length = synapse_rows(slice_of[proj.post_index], proj.pre_index,
                                                  n_slices, pre_size)
        q = numerics[j]
        per_slice_rows, synapses, bits = _slice_totals(
            row_slice, length, n_slices, lambda lengths, ib, q=q, learning=learning:
            spec.synapse_row_bits(lengths, weight_bits=q.weight_bits, delay_bits=q.delay_bits,
                                  index_bits=ib, learning=learning), index_bits)
        use.input_axons += per_slice_rows * spec.input_axons_per_source(learning)
        use.synapses += synapses
        use.synapse_bits += bits
        use.synapse_configs += per_slice_rows > 0
        if learning:
            key = repr(proj.plasticity)
            rules[key] = rules.get(key, np.zeros(n_slices, bool)) | (per_slice_rows > 0)
        use.rows[j] = (row_slice, row_pre, length)
    for mask in rules.values():
        use.learning_configs += mask
    return use


def _slice_totals(row_slice: np.ndarray, length: np.ndarray, n_slices: int, row_bits,
                  index_bits: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per slice: rows, synapses and synapse memory bits.

    Rows are tallied by (slice, length) first and the memory accounting runs on that small
    table: rows are short (1-3 synapses in a large network sliced finely), so this avoids
    evaluating the accounting once per row.
    """
    lmax = int(length.max()) if length.size else 0
    if n_slices * (lmax + 1) <= 2 * length.size + 1024:
        key = row_slice.astype(np.int64)
        key *= lmax + 1
        key += length
        table = np.bincount(key, minlength=n_slices * (lmax + 1)).reshape(n_slices, lmax + 1)
        del key
        lengths = np.arange(lmax + 1)
        bits = row_bits(lengths[None, :], index_bits[:, None])
        return table.sum(axis=1), table @ lengths, (table * bits).sum(axis=1)
    rows = np.bincount(row_slice, minlength=n_slices)
    synapses = np.bincount(row_slice, weights=length, minlength=n_slices).astype(np.int64)
    bits = row_bits(length, index_bits[row_slice])
    return rows, synapses, np.bincount(row_slice, weights=bits, minlength=n_slices).astype(
        np.int64)


def synapse_rows(post_slice: np.ndarray, pre: np.ndarray, n_slices: int, pre_size: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group synapses into rows: one per distinct (slice, pre neuron) pair, with its length.

    One sort of a combined key; int32 keys when they fit (half the memory, faster sort).
    ``post_slice`` is consumed: it becomes the key when its dtype allows, saving a copy of
    a synapse-sized array.
    """
    if pre.size == 0:
        empty = np.zeros(0, np.int32)
        return empty, empty, empty
    dtype = np.int32 if n_slices * pre_size < 2**31 else np.int64
    key = post_slice.astype(dtype, copy=False)  # post_slice is a fresh gather: reuse it
    key *= pre_size
    key += pre
    key.sort()
    edge = np.empty(key.size + 1, dtype=bool)  # True where a row starts, and at the end
    edge[0] = edge[-1] = True
    np.not_equal(key[1:], key[:-1], out=edge[1:-1])
    bounds = np.flatnonzero(edge)
    del edge
    length = np.empty(bounds.size - 1, dtype=np.int32)
    np.subtract(bounds[1:], bounds[:-1], out=length, casting="unsafe")
    first = key[bounds[:-1]]
    del key, bounds
    row_slice, row_pre = np.divmod(first, dtype(pre_size))
    return row_slice.astype(np.int32, copy=False), row_pre.astype(np.int32, copy=False), length


def _distinct_per_slice(slice_of: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Distinct ``ids`` per slice; with one column of ids per compartment, the sum over
    the columns (each compartment kind has its own configs)."""
    if ids.ndim == 2:
        return sum((_distinct_per_slice(slice_of, ids[:, j]) for j in range(ids.shape[1])),
                   np.zeros(int(slice_of[-1]) + 1 if slice_of.size else 0, dtype=np.int64))
    n_slices = int(slice_of[-1]) + 1 if slice_of.size else 0
    key = slice_of.astype(np.int64) * (int(ids.max()) + 1 if ids.size else 1) + ids
    uniq = np.unique(key)
    return np.bincount(uniq // (int(ids.max()) + 1 if ids.size else 1),
                       minlength=n_slices).astype(np.int64)


def _single_neuron_violations(net: Network, pop: Population, use: _Usage, ratio: np.ndarray,
                              incoming: list[int], spec) -> list[Violation]:
    """Messages for single-neuron slices that still break a limit: nothing else can help."""
    bad = np.flatnonzero(ratio > 1)
    if bad.size == 0:
        return []
    limits = spec.limits
    names = ", ".join(f"'{net.projections[j].label}'" for j in incoming)
    messages = []
    for name, limit, unit, fix in (
        ("input_axons", limits.input_axons, "distinct input sources (input axons)",
         "reduce the fan-in of these neurons below the limit (sparser or fewer incoming "
         "projections; a plastic projection takes 2 axons per source)"),
        ("synapse_bits", limits.synapse_bits, "bits of synapse memory",
         "reduce their fan-in, the weight precision or the delay range of the incoming "
         "projections"),
        ("synapse_configs", limits.synapse_configs, "synapse configs (one per incoming "
         "projection)", "merge incoming projections that share a presynaptic population"),
        ("learning_configs", limits.learning_configs, "distinct plasticity rules",
         "use fewer distinct STDP rules for the projections into this population"),
    ):
        if limit is None:
            continue
        values = getattr(use, name)[bad]
        over = values > limit
        if not over.any():
            continue
        worst = int(bad[np.argmax(values)])
        need = int(getattr(use, name)[worst])
        messages.append(violation(
            "population", pop.label, name, need, limit, fix,
            f"Population '{pop.label}': {int(over.sum())} neuron(s) need more {unit} than a "
            f"{spec.name} core has even alone on a core: neuron {int(use.bounds[worst])} needs "
            f"{need}, the limit is {limit} (incoming projections: {names}); {fix}"))
    return messages


# --------------------------------------------------------------------------- assembly


def _output_axons_per_neuron(net: Network, usage: list[_Usage | None],
                             index: dict[str, int]) -> list[np.ndarray]:
    out = [np.zeros(p.size, dtype=np.int64) for p in net.populations]
    for use in usage:
        if use is None:
            continue
        for j, (_, row_pre, _) in use.rows.items():
            k = index.get(net.projections[j].pre)
            if k is not None:  # spike sources enter from the host, not from a core
                out[k] += np.bincount(row_pre, minlength=out[k].size)
    return out


def _assemble(net: Network, usage: list[_Usage | None], out: list[np.ndarray]
              ) -> tuple[Cores, tuple[Rows | None, ...]]:
    offsets = np.cumsum([0] + [u.bounds.size - 1 for u in usage])
    cols: dict[str, list[np.ndarray]] = {name: [] for name in (
        "population", "start", "stop", "input_axons", "output_axons", "synapses",
        "synapse_bits", "neuron_configs", "threshold_configs", "synapse_configs",
        "learning_configs")}
    rows: list[Rows | None] = [None] * len(net.projections)
    for k, use in enumerate(usage):
        n = use.bounds.size - 1
        cols["population"].append(np.full(n, k))
        cols["start"].append(use.bounds[:-1])
        cols["stop"].append(use.bounds[1:])
        cols["output_axons"].append(np.add.reduceat(out[k], use.bounds[:-1]))
        for name in ("input_axons", "synapses", "synapse_bits", "neuron_configs",
                     "threshold_configs", "synapse_configs", "learning_configs"):
            cols[name].append(getattr(use, name))
        for j, (row_slice, row_pre, length) in use.rows.items():
            row_slice += np.int32(offsets[k])  # in place: the slice numbers are not needed again
            rows[j] = Rows(core=row_slice, pre=row_pre, length=length)
    cores = Cores(**{name: np.concatenate(v) for name, v in cols.items()})
    return cores, tuple(rows)
