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
and composed LIFs with exponential currents), kernels with a ``compiled_form()`` (Loihi's
compartments, FIXED_CUBA; SpiNNaker2's LIF PE kernels, PE_LIF, in
:mod:`toolchain.sim.loop_pe`; DYNAP-SE's DPI kernels in their target's own loop,
``Form.loop``, which also runs DYNAP-SE's routing delays), static projections whose drive
is their ring's number format (no release dynamics, no plasticity), the ideal interconnect
or one with a ``compiled_form()`` (SpiNNaker2's tick budget), any spike source (its spikes
are realised for the whole run first), recorded spikes and state variables, and no
injected currents.  Anything else runs on the numpy path, unchanged; :func:`unsupported`
says why.

The loop itself lives in :mod:`toolchain.sim.loop`, imported on first use (numba takes a
moment to import); its compilation is cached on disk (numba ``cache=True``, in the
package's ``__pycache__``), so only the first run after an install pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from toolchain.sim.kernels import CurrExpKernel, NeuronKernel

# the loop's indices and counts
_I64 = np.int64

#: the population kinds the loop runs: the reference's exact IF_curr_exp propagator, and
#: fixed-point CUBA compartments (integer-valued float64 registers, as Loihi's kernel
#: keeps them; see :class:`Form`); DYNAP-SE's DPI circuits run in their target's own loop
#: (``Form.loop``)
CURR_EXP, FIXED_CUBA, DPI = 0, 1, 2
#: SpiNNaker2's PE LIF kernel in float32 or s16.15 (its numba step: toolchain.sim.loop_pe;
#: it shares the loop's propagation, so it is a kind of the shared loop, not a loop of
#: its own)
PE_LIF = 3


@dataclass
class Loop:
    """A target's own compiled step loop, for a run of a network whose kernels (or
    interconnect) the shared loop does not run: ``run`` takes
    :func:`toolchain.sim.loop.run_steps`'s arguments and returns what it returns;
    ``done(k1)`` after the run puts back into the kernels and the interconnect what only
    the target's loop carried, and returns the counters it counted (to add)."""

    run: Callable[..., tuple[int, int]]
    done: Callable[[int], dict[str, float]]


class TargetLoop(Protocol):
    """What builds a :class:`Loop` for a kind of population (``Form.loop``)."""

    def refusal(self, engine: object) -> str | None:
        """Why the loop cannot run ``engine``'s network (None: it can), beyond what
        :func:`unsupported` checks for every loop."""

    def build(self, engine: object, plan: Plan, forms: list[Form]) -> Loop:
        """The loop for one run, on the state the engine has now."""


@dataclass
class Form:
    """A population as the compiled loop runs it: the kernel's own state arrays (the loop
    writes them back in place) and its parameters, one value or one per neuron.

    CURR_EXP: ``last`` is the step of each neuron's last spike, ``refrac`` its refractory
    steps, ``p_mm`` the membrane's propagator, ``drive0`` the constant drive; every
    channel (an exponential current) decays by ``decay`` and moves v by ``pmi`` times
    itself.  Input reaches a current at once.

    FIXED_CUBA: ``last`` is the refractory steps left, ``refrac`` the steps a spike
    holds v at 0, ``p_mm`` the voltage's decay factor over 4096 (truncated toward 0),
    ``drive0`` the bias; channels are the compartments' currents u (and a dendrite's
    u_d), each decaying by its factor over 4096; input (the ring's dtype) waits in
    ``inbox`` until the next step, which adds it, floored by ``fixed[2]`` bits and
    shifted up by ``fixed[0]``, wrapping at ``fixed[1]`` (and in int32) as the chip does;
    v adds every channel and saturates one below ``fixed[1]``.

    PE_LIF (SpiNNaker2's S2LIFKernel): ``last`` is the refractory count (the neuron is
    active at <= 0), ``refrac`` the ticks a spike sets it to, ``p_mm`` the membrane's
    decay, ``drive0`` i_offset; the channels are the synaptic states exc and inh (their
    decay, and as ``pmi`` the input's first-tick factor) and, with an alpha synapse, their
    rise terms (``pmi``: the rise gain); input waits in ``inbox`` (the kernel's pending
    ring sums) as for FIXED_CUBA; the other values are ``params`` rows.
    """

    kind: int
    v: np.ndarray
    last: np.ndarray
    refrac: object
    thresh: object
    reset: object
    p_mm: object
    drive0: object
    channels: list[tuple[str, np.ndarray, object, object]]  # (name, state, decay, pmi)
    feeds: dict[object, str]  # receptor -> the channel its input reaches
    inbox: list[np.ndarray] | None = None  # FIXED_CUBA: per channel
    inbox_got: list[bool] | None = None  # whether anything reached each inbox (read back)
    fixed: tuple[int, int, int] = (0, 0, 0)
    #: after a run to step k1, what the loop's arrays do not carry back
    restore: Callable[[int], None] | None = None
    #: state variable -> (the channel sampled, None: v) and how raw samples become IR
    #: values (None: they are)
    signals: dict[str, tuple[str | None, Callable[[np.ndarray, np.ndarray], np.ndarray]
                             | None]] | None = None
    #: PE_LIF: the values the fields above do not hold, one row each (one value or one
    #: per neuron), in the order of ``loop_pe.PE_ROWS``
    params: np.ndarray | None = None
    #: a target's own step loop for this kind (None: the shared loop runs it)
    loop: TargetLoop | None = None


def form(kernel: NeuronKernel) -> Form | None:
    """The kernel in the loop's terms, or None if it has no compiled form: the
    reference's CurrExpKernel here, other kernels through their ``compiled_form()``."""
    if type(kernel) is CurrExpKernel:
        def restore(k1: int) -> None:
            kernel._refractory = (np.zeros(0, dtype=np.intp) if kernel._always_active
                                  else np.flatnonzero(k1 - kernel._last_spike < kernel._refrac))

        signals = {"v": (None, None), **{name: (name, None)
                                         for name in kernel.input_variable.values()}}
        return Form(CURR_EXP, kernel.state["v"], kernel._last_spike, kernel._refrac,
                    kernel._v_thresh, kernel._v_reset, kernel._p_mm, kernel._drive0,
                    [(name, kernel.state[name], decay, pmi)
                     for name, decay, pmi in kernel._currents],
                    dict(kernel.input_variable), restore=restore, signals=signals)
    compiled = getattr(kernel, "compiled_form", None)
    return compiled() if compiled is not None else None


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
    proj_syn_offset: np.ndarray  # where each projection's synapses start, all counted
    proj_row_offset: np.ndarray  # into the concatenated indptr (n_pre + 1 per projection)
    proj_delay: np.ndarray  # the delay (steps) all the projection's synapses share, or -1
    indptr: np.ndarray
    post: object  # per projection, its matrix's own post indices (see synapse_arrays)
    delay: object  # per projection, its delay steps
    # rings
    ring_offset: np.ndarray
    ring_size: np.ndarray
    ring_slots: np.ndarray
    ring_pop_offset: np.ndarray  # where the ring's target channel starts in chan_state
    chan_ring: np.ndarray  # per channel: the ring feeding it in its update, or -1
    chan_ring2: np.ndarray  # per channel: a second ring feeding it (FIXED_CUBA), or -1
    ring_inbox: np.ndarray  # per ring: the channel whose inbox takes what a call leaves
    ring: np.ndarray
    ring_dirty: np.ndarray
    ring_dirty_offset: np.ndarray
    #: projections sent together (see :func:`groups`): per projection its group or -1;
    #: per group its first projection, their number, where its segments start, its one
    #: delay or -1; the segments; the synapses' post and delay; and ``group_perm``, where
    #: each comes from in the concatenated arrays (the drive is taken through it)
    groups: tuple = ()
    group_perm: np.ndarray | None = None


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

    forms = {label: form(kernel) for label, kernel in engine.kernels.items()}
    loops = {f.loop for f in forms.values() if f is not None}
    own = next(iter(loops)) if len(loops) == 1 else None  # (a target's loop routes)
    if not isinstance(engine.interconnect, IdealInterconnect) and own is None and \
            getattr(engine.interconnect, "compiled_form", None) is None:
        return f"the interconnect model {type(engine.interconnect).__name__}"
    if engine.network.currents:
        return "injected currents"
    for label, kernel in engine.kernels.items():
        if forms[label] is None:
            return f"population '{label}' runs on {type(kernel).__name__}"
    if len({f.kind for f in forms.values()}) > 1:
        return "populations of two number formats"
    if own is not None and (why := own.refusal(engine)) is not None:
        return why
    fed = [(post, forms[post].feeds.get(receptor)) for post, receptor in engine.rings]
    for (post, receptor), (_, channel) in zip(engine.rings, fed, strict=True):
        if channel is None:
            return f"receptor '{receptor}' of population '{post}'"
    shared = max((fed.count(x) for x in fed), default=0)
    if shared > 1 and (shared > 2 or any(f.kind == CURR_EXP for f in forms.values())):
        return f"{shared} receptors feeding one state variable"
    dtypes = {ring.buffer.dtype for ring in engine.rings.values()}
    if len(dtypes) > 1:
        return "delay rings of two number formats"
    for proj in engine.projections.values():
        if proj.plasticity is not None:
            return f"projection '{proj.label}' is plastic"
        if proj.release is not None:
            return f"projection '{proj.label}' has release dynamics"
        float_weights = (proj.drive is proj.weights
                         and proj.weights.dtype in (np.float32, np.float64)
                         and proj.ring.buffer.dtype == np.float64)
        if not float_weights and proj.drive.dtype != proj.ring.buffer.dtype:
            return (f"projection '{proj.label}' stores its weights as "
                    f"{type(proj.codec).__name__}")
    for (label, variable) in engine.recorder.signals:
        found = forms.get(label)
        if found is None or variable not in (found.signals or {}):
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
    forms = [form(engine.kernels[label]) for label in pops]
    for i, (label, found) in enumerate(zip(pops, forms, strict=True)):
        for name, _, _, _ in found.channels:
            chan_names.append((label, name))
            chan_sizes.append(engine.kernels[label].size)
        pop_chan[i + 1] = len(chan_names)
    chan_offset = np.concatenate([[0], np.cumsum(chan_sizes, dtype=_I64)]).astype(_I64)

    ring_keys = list(engine.rings)
    rings = [engine.rings[key] for key in ring_keys]
    ring_size = np.array([r.size for r in rings], dtype=_I64)
    ring_slots = np.array([r.slots for r in rings], dtype=_I64)
    ring_offset = np.concatenate([[0], np.cumsum(ring_size * ring_slots)]).astype(_I64)
    dtype = rings[0].buffer.dtype if rings else np.dtype(np.float64)
    flat = np.zeros(int(ring_offset[-1]), dtype=dtype)
    dirty_offset = np.concatenate([[0], np.cumsum(ring_slots)]).astype(_I64)
    dirty = np.zeros(int(dirty_offset[-1]), dtype=np.bool_)
    ring_chan = np.zeros(len(rings), dtype=_I64)
    chan_ring = np.full(len(chan_names), -1, dtype=_I64)
    chan_ring2 = np.full(len(chan_names), -1, dtype=_I64)
    ring_inbox = np.full(len(rings), -1, dtype=_I64)
    for r, ((post, receptor), ring) in enumerate(zip(ring_keys, rings, strict=True)):
        block = flat[ring_offset[r]:ring_offset[r + 1]]
        block[:] = ring.buffer.reshape(-1)
        dirty[dirty_offset[r]:dirty_offset[r + 1]] = ring._dirty
        ring.share(block, dirty[dirty_offset[r]:dirty_offset[r + 1]])
        found = forms[pops.index(post)]
        c = chan_names.index((post, found.feeds[receptor]))
        ring_chan[r] = chan_offset[c]
        if chan_ring[c] < 0:  # read in the next step's update
            chan_ring[c] = r
        else:  # (fixed-point compartments: exc and inh into one current)
            chan_ring2[c] = r
        if found.inbox is not None:  # what is left at the end of a call: into the inbox
            ring_inbox[r] = c

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
    post = synapse_arrays([proj.matrix.post for proj in ordered])
    delay = synapse_arrays([proj.matrix.delay for proj in ordered])

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    group_arrays, group_perm = groups(ordered, proj_ring, syn_off, uniform,
                                      np.issubdtype(dtype, np.integer))
    return Plan(
        groups=group_arrays, group_perm=group_perm,
        pops=pops, pop_offset=pop_offset, pop_chan=pop_chan, chan_offset=chan_offset,
        chan_names=chan_names, sources=list(engine.sources), proj_labels=labels,
        proj_pre_node=np.array(pre_node, dtype=_I64), proj_ring=np.array(proj_ring, dtype=_I64),
        proj_syn_offset=np.array(syn_off, dtype=_I64),
        proj_row_offset=np.array(row_off, dtype=_I64), proj_delay=np.array(uniform, dtype=_I64),
        indptr=cat(indptrs, _I64), post=post, delay=delay,
        ring_offset=ring_offset, ring_size=ring_size,
        ring_slots=ring_slots, ring_pop_offset=ring_chan, chan_ring=chan_ring,
        chan_ring2=chan_ring2, ring_inbox=ring_inbox,
        ring=flat,
        ring_dirty=dirty, ring_dirty_offset=dirty_offset,
    )


def groups(ordered: list, proj_ring: list[int], syn_off: list[int], uniform: list[int],
           integer: bool) -> tuple[tuple, np.ndarray]:
    """Runs of consecutive projections from one pre node into one ring of integers, as
    the loop sends them together: a spike's synapses of all of them in one contiguous
    row, its segments (one per projection, in order) marked by ``seg`` (n_pre x (count +
    1) per group).  A target that splits a projection per destination core (SpiNNaker2:
    per PE and delay stage) gives a spike dozens of rows of a few synapses each, whose
    scattered reads cost more than the additions; integer additions into a ring do not
    depend on their order, so the loop may add them row by row.  The price: the grouped
    synapses' post, delay and drive a second time, in this order (22 bytes a synapse)."""
    n = len(ordered)
    member = np.full(n, -1, _I64)
    first, count, seg_off, one_delay = [], [], [0], []
    segs, perms = [], []
    i = 0
    while i < n:
        j = i + 1
        while integer and j < n and ordered[j].pre == ordered[i].pre \
                and proj_ring[j] == proj_ring[i]:
            j += 1
        if j - i < 2:
            i = j
            continue
        mats = [ordered[p].matrix for p in range(i, j)]
        lengths = np.stack([np.diff(m.indptr) for m in mats], axis=1).astype(_I64)
        start = sum(len(x) for x in perms)
        seg = np.zeros((lengths.shape[0], j - i + 1), _I64)
        np.cumsum(lengths, axis=1, out=seg[:, 1:])
        rows = seg[:, -1].copy()
        seg += start + np.concatenate([[0], np.cumsum(rows)[:-1]])[:, None]
        perm = np.empty(int(rows.sum()), _I64)
        for c, (p, m) in enumerate(zip(range(i, j), mats, strict=True)):
            pre = np.repeat(np.arange(m.n_pre), lengths[:, c])
            local = np.arange(m.size) - m.indptr[pre]
            perm[seg[pre, c] + local - start] = syn_off[p] + np.arange(m.size)
        member[i:j] = len(first)
        first.append(i)
        count.append(j - i)
        seg_off.append(seg_off[-1] + seg.size)
        delays = set(uniform[i:j])
        one_delay.append(delays.pop() if len(delays) == 1 else -1)
        segs.append(seg.ravel())
        perms.append(perm)
        i = j
    perm = np.concatenate(perms) if perms else np.zeros(0, _I64)

    def grouped(name: str) -> np.ndarray:
        if not perms:
            return np.zeros(0, _I64)
        return np.concatenate([getattr(p.matrix, name) for p in ordered])[perm].astype(_I64)

    arrays = (member, np.array(first, _I64), np.array(count, _I64),
              np.array(seg_off[:-1], _I64), np.array(one_delay, _I64),
              np.concatenate(segs) if segs else np.zeros(0, _I64), grouped("post"),
              grouped("delay"))
    return arrays, perm


def synapse_arrays(parts: list[np.ndarray]) -> object:
    """Per projection, its synapses' values, as the loop takes them: one typed list of
    read-only views of the owners' own arrays, not one concatenated copy, which would
    cost gigabytes at the scale of a cortical microcircuit (post indices shared with the
    IR's, weights shared with the IR's, 0.3 billion of each).  Only an array whose dtype
    differs from the others' common one is converted."""
    import numba as nb
    from numba.typed import List

    dtype = np.result_type(*parts) if parts else np.dtype(_I64)
    out = List.empty_list(nb.types.Array(nb.from_dtype(dtype), 1, "C", readonly=True))
    for part in parts:
        view = np.ascontiguousarray(part, dtype=dtype).view()
        view.setflags(write=False)
        out.append(view)
    return out
