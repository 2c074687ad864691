"""The engine's compiled step loop: many steps in one call, without Python between them.

The engine's per-step Python (a dozen numpy calls per population and projection) costs
more than the arithmetic itself on networks of a few thousand neurons, so a run of a
network whose every part has a compiled form goes through
:func:`toolchain.sim.loop.run_steps` instead: neuron updates, spike propagation through
the CSR rows into the delay rings, delivery, spike recording, sampling and counting, all
in one numba function.  It performs the same
floating-point operations in the same order as the numpy path (each neuron's update, the
order in which spikes add into a ring row), so both give the same spikes and the same
state, bit for bit; the tests run both.

What has a compiled form today: :class:`~toolchain.sim.kernels.CurrExpKernel` (IF_curr_exp
and composed LIFs with exponential currents), static projections with float64 drive (no
release dynamics, no plasticity), the ideal interconnect, any spike source (its spikes are
realised for the whole run first), recorded spikes and state variables, and no injected
currents.  Anything else runs on the numpy path, unchanged; :func:`plan` says why.

The loop itself lives in :mod:`toolchain.sim.loop`, imported on first use (numba takes a
moment to import); its compilation is cached on disk (numba ``cache=True``, in the
package's ``__pycache__``), so only the first run after an install pays for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from toolchain.sim.kernels import CurrExpKernel

# the loop's indices and counts
_I64 = np.int64


@dataclass
class Plan:
    """The engine's network in the compiled loop's flat layout (see :func:`plan`).

    Neurons of every population share one index space (``pop_offset``); each population's
    exponential currents are channels with their own slice of ``chan_state``; every delay
    ring (post population, receptor) is a block of ``ring_slots * size`` values in
    ``ring``, its dirty flags in ``ring_dirty``.
    """

    pops: list[str]
    pop_offset: np.ndarray
    pop_chan: np.ndarray  # per population: first channel, one past its last
    chan_offset: np.ndarray  # per channel: offset into chan_state
    chan_names: list[tuple[str, str]]  # (population, state variable) per channel
    sources: list[str]
    # projections, in the order the engine sends them (by pre node, network order)
    proj_labels: list[str]
    proj_pre_node: np.ndarray
    proj_ring: np.ndarray
    proj_syn_offset: np.ndarray  # into the concatenated synapse arrays
    proj_row_offset: np.ndarray  # into the concatenated indptr (n_pre + 1 per projection)
    proj_delay: np.ndarray  # the delay (steps) all the projection's synapses share, or -1
    indptr: np.ndarray
    post: np.ndarray
    delay: np.ndarray
    # rings
    ring_keys: list[tuple[str, object]]
    ring_offset: np.ndarray
    ring_size: np.ndarray
    ring_slots: np.ndarray
    ring_pop_offset: np.ndarray  # where the ring's target channel starts in chan_state
    chan_ring: np.ndarray  # per channel: the ring feeding it, or -1
    ring: np.ndarray
    ring_dirty: np.ndarray
    ring_dirty_offset: np.ndarray


def wanted(compiled: bool | None = None) -> bool:
    """Whether a simulator runs its compiled loop: as asked, or, when not asked (None),
    unless the environment sets SPIKEPORT_COMPILED=0 (to compare with the step-by-step
    path, which gives the same results)."""
    if compiled is None:
        return os.environ.get("SPIKEPORT_COMPILED", "1") != "0"
    return compiled


def unsupported(engine: object) -> str | None:
    """Why ``engine``'s network has no compiled form (None: it has one)."""
    from toolchain.sim.interconnect import IdealInterconnect

    if not isinstance(engine.interconnect, IdealInterconnect):
        return f"the interconnect model {type(engine.interconnect).__name__}"
    if engine.network.currents:
        return "injected currents"
    for label, kernel in engine.kernels.items():
        if type(kernel) is not CurrExpKernel:
            return f"population '{label}' runs on {type(kernel).__name__}"
    fed = [(post, engine.kernels[post].input_variable.get(receptor))
           for post, receptor in engine.rings]
    if len(set(fed)) < len(fed):
        return "two receptors feeding one state variable"
    for proj in engine.projections.values():
        if proj.plasticity is not None:
            return f"projection '{proj.label}' is plastic"
        if proj.release is not None:
            return f"projection '{proj.label}' has release dynamics"
        if proj.drive is not proj.weights or proj.weights.dtype != np.float64:
            return (f"projection '{proj.label}' stores its weights as "
                    f"{type(proj.codec).__name__}")
    for (label, variable) in engine.recorder.signals:
        kernel = engine.kernels.get(label)
        if kernel is None or (variable != "v" and variable not in kernel.input_variable.values()):
            return f"the recording of '{label}'.{variable}"
    return None


def plan(engine: object) -> Plan:
    """Lay the engine's network out for :func:`toolchain.sim.loop.run_steps`; the rings
    become views into one flat array, so spikes in flight are shared with the numpy path."""
    pops = list(engine.kernels)
    sizes = np.array([engine.kernels[p].size for p in pops], dtype=_I64)
    pop_offset = np.concatenate([[0], np.cumsum(sizes)]).astype(_I64)
    chan_names: list[tuple[str, str]] = []
    pop_chan = np.zeros(len(pops) + 1, dtype=_I64)
    chan_sizes = []
    for i, label in enumerate(pops):
        kernel = engine.kernels[label]
        for name, _, _ in kernel._currents:
            chan_names.append((label, name))
            chan_sizes.append(kernel.size)
        pop_chan[i + 1] = len(chan_names)
    chan_offset = np.concatenate([[0], np.cumsum(chan_sizes, dtype=_I64)]).astype(_I64)

    ring_keys = list(engine.rings)
    rings = [engine.rings[key] for key in ring_keys]
    ring_size = np.array([r.size for r in rings], dtype=_I64)
    ring_slots = np.array([r.slots for r in rings], dtype=_I64)
    ring_offset = np.concatenate([[0], np.cumsum(ring_size * ring_slots)]).astype(_I64)
    flat = np.zeros(int(ring_offset[-1]), dtype=np.float64)
    dirty_offset = np.concatenate([[0], np.cumsum(ring_slots)]).astype(_I64)
    dirty = np.zeros(int(dirty_offset[-1]), dtype=np.bool_)
    ring_chan = np.zeros(len(rings), dtype=_I64)
    chan_ring = np.full(len(chan_names), -1, dtype=_I64)
    for r, ((post, receptor), ring) in enumerate(zip(ring_keys, rings, strict=True)):
        block = flat[ring_offset[r]:ring_offset[r + 1]]
        block[:] = ring.buffer.reshape(-1)
        dirty[dirty_offset[r]:dirty_offset[r + 1]] = ring._dirty
        ring.share(block, dirty[dirty_offset[r]:dirty_offset[r + 1]])
        name = engine.kernels[post].input_variable[receptor]
        c = chan_names.index((post, name))
        ring_chan[r] = chan_offset[c]
        chan_ring[c] = r

    nodes = pops + list(engine.sources)
    node_index = {label: i for i, label in enumerate(nodes)}
    ring_index = {key: i for i, key in enumerate(ring_keys)}
    labels, pre_node, proj_ring, indptrs = [], [], [], []
    uniform: list[int] = []
    syn_off, row_off = [0], [0]
    ordered = [proj for label in nodes for proj in engine._by_pre.get(label, ())]
    for proj in ordered:
        m = proj.matrix
        labels.append(proj.label)
        pre_node.append(node_index[proj.pre])
        proj_ring.append(ring_index[(proj.post, proj.receptor)])
        indptrs.append(m.indptr.astype(_I64))
        uniform.append(-1 if m.uniform_delay is None else m.uniform_delay)
        syn_off.append(syn_off[-1] + m.size)
        row_off.append(row_off[-1] + m.indptr.size)
    post = gather([proj.matrix for proj in ordered], "post", syn_off[-1])
    delay = gather([proj.matrix for proj in ordered], "delay", syn_off[-1])

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return Plan(
        pops=pops, pop_offset=pop_offset, pop_chan=pop_chan, chan_offset=chan_offset,
        chan_names=chan_names, sources=list(engine.sources), proj_labels=labels,
        proj_pre_node=np.array(pre_node, dtype=_I64), proj_ring=np.array(proj_ring, dtype=_I64),
        proj_syn_offset=np.array(syn_off, dtype=_I64),
        proj_row_offset=np.array(row_off, dtype=_I64), proj_delay=np.array(uniform, dtype=_I64),
        indptr=cat(indptrs, _I64), post=post, delay=delay,
        ring_keys=ring_keys, ring_offset=ring_offset, ring_size=ring_size,
        ring_slots=ring_slots, ring_pop_offset=ring_chan, chan_ring=chan_ring, ring=flat,
        ring_dirty=dirty, ring_dirty_offset=dirty_offset,
    )


def gather(owners: list[object], name: str, total: int) -> np.ndarray:
    """One array of every owner's ``name`` array, in order, and each owner's attribute
    rebound to its view of it: the loop needs one array, and a second copy of every
    synapse's value would cost gigabytes at the scale of a cortical microcircuit."""
    parts = [getattr(o, name) for o in owners]
    dtype = np.result_type(*parts) if parts else np.dtype(_I64)
    out = np.empty(total, dtype=dtype)
    start = 0
    for owner, part in zip(owners, parts, strict=True):
        out[start:start + part.size] = part
        setattr(owner, name, out[start:start + part.size])
        start += part.size
    return out
