"""The shared timestep engine: runs an IR ``Network`` with a target's arithmetic plugged in.

The engine owns what every target has in common: the clock, spike sources and injected
currents, routing spikes through CSR synapses into per-(post population, receptor) delay
ring buffers, short-term plasticity and stochastic release (where spikes are delivered),
the event queues of plastic synapses, recording and the counters the energy and timing
models read.  A target supplies a :class:`~toolchain.sim.numerics.Numerics` (neuron
kernels, weight format, learning arithmetic) and an
:class:`~toolchain.sim.interconnect.Interconnect` (extra delay or loss per spike); the
float64 reference supplies the ideal ones.  See docs/architecture.md, "Engine plug-in points".

One step k (time t = k dt) runs, following Brian2's schedule:

1. injected currents switch; every kernel integrates t -> t + dt, thresholds and resets;
2. sources emit the spikes binned into step k;
3. each spike is routed (interconnect) and scheduled on its synapses, delay d >= 1 steps
   ahead; a synapse with release dynamics scales its drive by this spike's efficacy;
   plastic synapses queue the event itself, to reach the synapse after the axonal part
   of the delay, static ones add their drive to the ring;
4. plastic synapses whose pre spikes reach them now update their weights (pre rule) and
   send them on, over the dendritic part of the delay;
5. the ring rows for step k are handed to the kernels;
6. the learning rules see the post spikes that reach the synapses now;
7. spikes are recorded at t, state variables sampled at t + dt.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from toolchain.ir import Network, Population, Receptor
from toolchain.ir.network import ResponseShape
from toolchain.progress import task
from toolchain.sim import fast
from toolchain.sim.interconnect import DROPPED, IdealInterconnect, Interconnect, no_budget
from toolchain.sim.kernels import NeuronKernel, RunTimeChangeError
from toolchain.sim.numerics import Numerics, ReferenceNumerics
from toolchain.sim.plasticity import PlasticityModel
from toolchain.sim.recording import Recorder
from toolchain.sim.results import SimulationResult
from toolchain.sim.sources import CurrentSchedule, SourceSpikes, mean_rate
from toolchain.sim.synapses import (
    RELEASE_MODELS,
    DelayRing,
    Release,
    SynapseMatrix,
    WeightCodec,
)

# A progress bar, when one is shown, moves on every this many steps of a run.
PROGRESS_STEPS = 100
# The compiled loop realises the source spikes of a chunk of steps at once: at most about
# this many (a cortical microcircuit's background emits 10^9 a second).
CHUNK_SPIKES = 1 << 24


class EngineError(ValueError):
    """A request the engine cannot carry out (bad time, unknown projection, bad weights)."""


def stream_seed(network_seed: int, label: str) -> int:
    """The seed of a node's random stream: the network's seed and the node's label."""
    return int(np.random.SeedSequence([network_seed, zlib.crc32(label.encode())])
               .generate_state(1, dtype=np.uint64)[0] >> 1)


@dataclass
class _Projection:
    label: str
    pre: str
    post: str
    receptor: Receptor | str
    matrix: SynapseMatrix
    codec: WeightCodec
    weights: np.ndarray  # stored representation, pre order
    ring: DelayRing
    plasticity: PlasticityModel | None = None
    release: Release | None = None
    queue: list[list[np.ndarray]] = field(default_factory=list)  # plastic: pre, per slot
    post_queue: list[list[np.ndarray]] = field(default_factory=list)  # plastic, dendritic
    dendritic: np.ndarray | int = 0  # plastic: steps from the synapse to the soma
    drive: np.ndarray | None = None  # static: what each synapse delivers, cached
    events_key: str = ""

    def __post_init__(self) -> None:
        self.events_key = f"synaptic_events/{self.label}"
        self.refresh_drive()

    def refresh_drive(self) -> None:
        """Static weights deliver the same drive every time: compute it once per change."""
        if self.plasticity is None:
            self.drive = self.codec.drive(self.weights)

    def released(self, syn: np.ndarray, efficacy: np.ndarray) -> np.ndarray:
        """The drive of ``syn`` for one spike each, scaled by their release."""
        c = self.codec
        return c.drive(c.encode(c.decode(self.weights[syn]) * efficacy))


def _tau_syn(post: Population, receptor: Receptor | str) -> np.ndarray:
    """Per post neuron, the time constant of the receptor (0 for voltage jumps): the
    inactivation constant of Tsodyks-Markram synapses (as NEST's tau_psc and pyNN.neuron's
    tau_syn take it from the receptor)."""
    p = post.parameters
    if post.cell_type.composed:
        r = post.receptor(str(receptor))
        key = "tau_decay" if r.shape is ResponseShape.COND_BETA else "tau_syn"
        return np.asarray(r.parameters[key])
    name = "tau_syn_I" if receptor is Receptor.INHIBITORY else "tau_syn_E"
    return np.asarray(p[name]) if name in p else np.zeros(post.size)


class Engine:
    """A running simulation of one network; satisfies the targets' ``Simulator`` protocol."""

    def __init__(self, network: Network, *, numerics: Numerics | None = None,
                 interconnect: Interconnect | None = None, target: str = "reference",
                 compiled: bool | None = None) -> None:
        """``compiled``: run through the compiled loop where the network has a compiled
        form (None: unless the environment sets SPIKEPORT_COMPILED=0; False: always the
        numpy path, which gives the same results step for step)."""
        self.network = network
        compiled = fast.wanted(compiled)
        self._want_compiled = compiled
        self._fast: fast.Plan | None = None
        self._fast_drive: object | None = None  # per projection (fast.synapse_arrays)
        self._fast_group_drive: np.ndarray | None = None  # (fast.Plan.groups)
        self.why_not_compiled: str | None = "not asked for" if not compiled else None
        self.dt = network.dt
        self.target = target
        self.numerics = numerics if numerics is not None else ReferenceNumerics()
        self.interconnect = interconnect if interconnect is not None else IdealInterconnect()
        self._ideal = isinstance(self.interconnect, IdealInterconnect)
        self.kernels: dict[str, NeuronKernel] = {}
        for p in network.populations:
            kernel = self.numerics.kernel(p, self.dt)
            kernel.seed_noise(stream_seed(network.seed, p.label))
            self.kernels[p.label] = kernel
        self.sources = {s.label: SourceSpikes(s, network.seed, self.dt) for s in network.sources}
        self.currents = CurrentSchedule(network, self.dt)
        self.projections = self._build_projections()
        self.rings = {(p.post, p.receptor): p.ring for p in self.projections.values()}
        self.recorder = Recorder(network, self.dt)
        self._plastic = [p for p in self.projections.values() if p.plasticity is not None]
        self._by_pre: dict[str, list[_Projection]] = {}
        for proj in self.projections.values():
            self._by_pre.setdefault(proj.pre, []).append(proj)
        self._spike_keys = {label: f"spikes/{label}" for label in (*self.kernels, *self.sources)}
        self._start()
        if compiled:
            self.why_not_compiled = fast.unsupported(self)
            if self.why_not_compiled is None:
                self._fast = fast.plan(self)

    # -- construction -----------------------------------------------------------------
    def _build_projections(self) -> dict[str, _Projection]:
        net = self.network
        extra = int(self.interconnect.max_extra_delay)
        slots: dict[tuple[str, Receptor | str], int] = {}
        matrices = {}
        for proj in net.projections:
            m = SynapseMatrix(proj, net.node(proj.pre).size, net.population(proj.post).size,
                              self.dt)
            matrices[proj.label] = m
            key = (proj.post, proj.receptor)
            slots[key] = max(slots.get(key, 1), m.max_delay + extra + 1)
        rings = {key: DelayRing(net.population(key[0]).size, n,
                                self.kernels[key[0]].input_dtype) for key, n in slots.items()}
        out = {}
        for proj in net.projections:
            m = matrices[proj.label]
            post = net.population(proj.post)
            codec = self.numerics.weights(proj, post)
            ring = rings[(proj.post, proj.receptor)]
            plasticity = None if proj.plasticity is None else self.numerics.plasticity(
                proj, m, codec, self.dt)
            release = None
            if proj.dynamics is not None:
                tau = _tau_syn(post, proj.receptor)[m.post]
                release = RELEASE_MODELS[type(proj.dynamics)](
                    proj.dynamics, m, self.dt, tau, stream_seed(net.seed, proj.label))
            dendritic: np.ndarray | int = 0
            if plasticity is not None:
                dendritic = np.rint(proj.plasticity.dendritic_delay_fraction * m.delay
                                    ).astype(np.int64)
                if dendritic.size and np.all(dendritic == dendritic[0]):
                    dendritic = int(dendritic[0])
            out[proj.label] = _Projection(
                proj.label, proj.pre, proj.post, proj.receptor, m,
                codec, codec.encode(m.from_ir_order(proj.weight)), ring, plasticity, release,
                [[] for _ in range(ring.slots)] if plasticity is not None else [],
                [[] for _ in range(ring.slots)] if plasticity is not None else [],
                dendritic)
            if plasticity is None:
                m.forget_order()  # what needed it is built; weights() recomputes it
        return out

    def _start(self) -> None:
        self._step = 0
        self.counters: dict[str, float] = {}
        self._spikes_per_step: list[int] = []
        self._events_per_step: list[int] = []
        # per node: (step, count) of the steps it fired in; dense arrays are built on demand
        self._fired_steps: dict[str, list[tuple[int, int]]] = {k: [] for k in self._spike_keys}
        self.recorder.clear()
        self.recorder.sample(0, self._get)

    # -- Simulator protocol -----------------------------------------------------------
    @property
    def t(self) -> float:
        return self._step * self.dt

    @property
    def step(self) -> int:
        return self._step

    def run_until(self, t_stop: float) -> None:
        target = int(np.rint(t_stop / self.dt))
        if target < self._step:
            raise EngineError(
                f"cannot run until t = {t_stop:g} ms: the simulation is already at "
                f"t = {self.t:g} ms; time only moves forward (call reset() to start again)"
            )
        with task(f"simulate on {self.target}", total=target - self._step,
                  unit="step") as shown:
            if self._fast is not None:
                self._run_compiled(self._step, target, shown.advance)
            else:
                for k in range(self._step, target):
                    self._advance(k)
                    if k % PROGRESS_STEPS == PROGRESS_STEPS - 1:
                        shown.advance(PROGRESS_STEPS)
        self._step = target

    def run(self, duration: float) -> None:
        self.run_until(self.t + duration)

    def reset(self) -> None:
        for kernel in self.kernels.values():
            kernel.reset()
        for source in self.sources.values():
            source.reset()
        self.currents.reset()
        for ring in self.rings.values():
            ring.reset()
        for proj in self.projections.values():
            if proj.release is not None:
                proj.release.reset()
        for proj in self._plastic:
            proj.plasticity.reset()  # type: ignore[union-attr]
            for slot in (*proj.queue, *proj.post_queue):
                slot.clear()
        self.interconnect.reset()
        self._start()

    def result(self) -> SimulationResult:
        per_step = {
            "spikes": np.asarray(self._spikes_per_step, dtype=np.int64),
            "synaptic_events": np.asarray(self._events_per_step, dtype=np.int64),
        }
        for label, key in self._spike_keys.items():
            dense = np.zeros(self._step, dtype=np.int64)
            if self._fired_steps[label]:
                steps, counts = np.asarray(self._fired_steps[label]).T
                dense[steps] = counts
            per_step[key] = dense
        counters = dict(self.counters)
        counters["steps"] = float(self._step)
        for label, kernel in self.kernels.items():
            counters[f"neuron_updates/{label}"] = float(kernel.size * self._step)
        return SimulationResult(
            target=self.target, dt=self.dt, t_stop=self.t,
            spikes=self.recorder.spike_records(),
            signals=self.recorder.analog_records(
                lambda label: self.currents.peek(label, self._step)),
            weights={p.label: self.weights(p.label) for p in self._plastic},
            counters=counters, per_step=per_step,
        )

    def weights(self, projection: str) -> np.ndarray:
        p = self._projection(projection)
        return p.matrix.to_ir_order(p.codec.decode(p.weights))

    def set_weights(self, projection: str, values: np.ndarray) -> None:
        p = self._projection(projection)
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(p.matrix.size, float(arr))
        if arr.shape != (p.matrix.size,):
            raise EngineError(
                f"Projection '{projection}': {arr.size} weights given for "
                f"{p.matrix.size} synapses; give one weight per synapse in IR order"
            )
        if not np.all(np.isfinite(arr)):
            i = int(np.flatnonzero(~np.isfinite(arr))[0])
            raise EngineError(f"Projection '{projection}' weight[{i}] = {arr[i]} is not finite")
        p.codec = p.codec.holding(arr)
        p.weights = p.codec.encode(p.matrix.from_ir_order(arr))
        p.refresh_drive()
        self._fast_drive = None

    # -- changes between runs -----------------------------------------------------------
    def update(self, compiled: object) -> None:
        """Continue with a changed network: new parameters, initial values, spike-source
        trains, current sources, weights and synaptic or plasticity parameters, applied
        at the current step; the state, the spikes in flight and the recordings stay.
        What makes it another network (populations, connectivity, delays, recordings)
        raises RunTimeChangeError, as does a kernel that cannot change at run time."""
        new = compiled if isinstance(compiled, Network) else getattr(compiled, "network", None)
        if not isinstance(new, Network):
            raise TypeError(f"update() takes a Network or a compiled network, got "
                            f"{type(compiled).__name__}")
        old = self.network
        _same_structure(old, new)
        for before, after in zip(old.populations, new.populations, strict=True):
            if before == after:
                continue
            kernel = self.kernels[after.label]
            if not _same_values(dict(before.parameters), dict(after.parameters)):
                kernel.reconfigure(after)
            for name, values in after.initial_values.items():
                if not np.array_equal(values, before.initial_values[name]):
                    kernel.set(name, values)  # PyNN sets the state at once, as pyNN.nest
            if hasattr(kernel, "population"):
                kernel.population = after  # the new initial values are the reset state
        for before, after in zip(old.sources, new.sources, strict=True):
            if before != after:
                self.sources[after.label] = SourceSpikes(after, new.seed, self.dt)
        if old.currents != new.currents:
            self.currents = CurrentSchedule(new, self.dt, step=self._step)
        for before, after in zip(old.projections, new.projections, strict=True):
            proj = self.projections[after.label]
            if not np.array_equal(before.weight, after.weight):
                self.set_weights(after.label, after.weight)
            if after.dynamics is not None and before.dynamics != after.dynamics:
                proj.release.configure(after.dynamics)  # type: ignore[union-attr]
            if after.plasticity is not None and before.plasticity != after.plasticity:
                proj.plasticity.rule = after.plasticity  # type: ignore[union-attr]
        self.network = new
        if self._fast is not None:  # a change may bring what the compiled loop lacks
            why = fast.unsupported(self)
            if why is not None:  # the rings are shared: the numpy path takes over as is
                self._fast, self.why_not_compiled = None, why

    # -- state access (for the PyNN front end) ----------------------------------------
    def get_state(self, population: str, variable: str) -> np.ndarray:
        return self._kernel(population).get(variable)

    def set_state(self, population: str, variable: str, values: np.ndarray) -> None:
        self._kernel(population).set(variable, values)

    def _get(self, label: str, variable: str) -> np.ndarray:
        return self.kernels[label].get(variable)

    def _kernel(self, label: str) -> NeuronKernel:
        try:
            return self.kernels[label]
        except KeyError:
            known = ", ".join(self.kernels) or "none"
            raise EngineError(f"no population '{label}' (populations: {known})") from None

    def _projection(self, label: str) -> _Projection:
        try:
            return self.projections[label]
        except KeyError:
            known = ", ".join(self.projections) or "none"
            raise EngineError(f"no projection '{label}' (projections: {known})") from None

    def _count(self, key: str, n: float) -> None:
        self.counters[key] = self.counters.get(key, 0.0) + n

    # -- many steps at once (the compiled loop) --------------------------------------
    def _run_compiled(self, k0: int, k1: int, progress: Callable[[int], object]) -> None:
        """Steps k0..k1-1 through :func:`toolchain.sim.loop.run_steps`, in chunks (for the
        progress bar and to bound the memory of the source spikes and samples of one call);
        the state goes back into the kernels afterwards, so everything else sees what the
        numpy path would have left."""
        from toolchain.sim.loop import run_steps

        plan = self._fast
        assert plan is not None
        kernels = [self.kernels[label] for label in plan.pops]
        forms = [fast.form(k) for k in kernels]
        sizes = [k.size for k in kernels]

        def cat(values: list[object], dtype: type = np.float64) -> np.ndarray:
            parts = [np.broadcast_to(np.asarray(x, dtype=dtype), (n,))
                     for x, n in zip(values, sizes, strict=True)]
            return np.concatenate(parts) if parts else np.zeros(0, dtype)

        v = cat([f.v for f in forms])
        last = cat([f.last for f in forms], np.int64)
        refrac = cat([f.refrac for f in forms], np.int64)
        thresh = cat([f.thresh for f in forms])
        reset = cat([f.reset for f in forms])
        p_mm = cat([f.p_mm for f in forms])
        drive0 = cat([f.drive0 for f in forms])
        # per population: every parameter one value (the loop then keeps them in registers)
        uniform = np.array([all(
            np.all(np.asarray(x) == np.ravel(x)[0]) for x in (
                f.p_mm, f.drive0, f.thresh, f.reset, f.refrac,
                *(y for c in f.channels for y in c[2:]),
                *(() if f.params is None else f.params))) for f in forms], dtype=np.bool_)
        n_rows = max((f.params.shape[0] for f in forms if f.params is not None), default=0)
        pe_param = np.concatenate(
            [np.broadcast_to(np.zeros((n_rows, 1)) if f.params is None else f.params,
                             (n_rows, n))
             for f, n in zip(forms, sizes, strict=True)], axis=1) if forms else np.zeros((0, 0))
        chans = [np.broadcast_to(np.asarray(x, np.float64), (k.size,))
                 for k, f in zip(kernels, forms, strict=True) for c in f.channels
                 for x in c[1:]]
        chan_state = np.concatenate(chans[0::3]) if chans else np.zeros(0)
        chan_decay = np.concatenate(chans[1::3]) if chans else np.zeros(0)
        chan_pmi = np.concatenate(chans[2::3]) if chans else np.zeros(0)
        inbox = np.zeros(chan_state.size, plan.ring.dtype)
        inbox_got = np.zeros(len(plan.chan_names), np.bool_)
        c = 0
        for f in forms:
            for i in range(len(f.channels)):
                if f.inbox is not None:
                    inbox[plan.chan_offset[c]:plan.chan_offset[c + 1]] = f.inbox[i]
                    inbox_got[c] = bool(f.inbox_got[i]) if f.inbox_got else False
                c += 1
        fixed = np.array(forms[0].fixed if forms else (0, 0, 0), np.int64)
        kind = np.array([f.kind for f in forms], np.int64)
        own = forms[0].loop.build(self, plan, forms) if forms and forms[0].loop else None
        step_loop = run_steps if own is None else own.run
        # (a target's own loop runs its interconnect itself)
        budget = (self.interconnect.compiled_form(plan.proj_labels, k0)
                  if not self._ideal and own is None else None)
        if self._fast_drive is None:
            drives = [self.projections[label].drive for label in plan.proj_labels]
            self._fast_drive = fast.synapse_arrays(drives)
            # projections sent together: their drive in the group's order (Plan.groups)
            self._fast_group_drive = (np.concatenate(drives)[plan.group_perm]
                                      if plan.group_perm.size else
                                      np.zeros(0, plan.ring.dtype))
        groups = (*plan.groups, self._fast_group_drive)
        nodes = [*plan.pops, *plan.sources]
        proj_events = np.zeros(len(plan.proj_labels), dtype=np.int64)
        signals = list(self.recorder.signals.items())
        chan_index = {name: i for i, name in enumerate(plan.chan_names)}
        pop_index = {label: i for i, label in enumerate(plan.pops)}
        # what each signal samples (None: v) and how its raw samples become IR values
        read = [forms[pop_index[label]].signals[var] for (label, var), _ in signals]
        sig_kind = np.array([0 if chan is None else 1 for chan, _ in read], np.int64)
        sig_base = np.array([
            plan.pop_offset[pop_index[label]] if chan is None
            else plan.chan_offset[chan_index[(label, chan)]]
            for ((label, _), _), (chan, _) in zip(signals, read, strict=True)], np.int64)
        sig_every = np.array([sig.every for _, sig in signals], np.int64)
        sig_idx = (np.concatenate([sig.indices for _, sig in signals]).astype(np.int64)
                   if signals else np.zeros(0, np.int64))
        sig_idx_ptr = np.concatenate(
            [[0], np.cumsum([sig.indices.size for _, sig in signals])]).astype(np.int64)
        n_total = int(plan.pop_offset[-1])
        rec_node = np.array([label in self.recorder.spikes for label in nodes], np.bool_)
        capacity = max(4 * n_total, 4096)
        spk_step = np.empty(capacity, np.int64)
        spk_node = np.empty(capacity, np.int64)
        spk_idx = np.empty(capacity, np.int64)
        # chunks of 1000 steps, fewer when the sources would emit more than CHUNK_SPIKES
        rate = sum(float(np.sum(mean_rate(self.sources[label].source)))
                   for label in plan.sources)  # Hz
        chunk = int(np.clip(CHUNK_SPIKES / max(rate * self.dt * 1e-3, 1e-9), 1,
                            10 * PROGRESS_STEPS))
        for c0 in range(k0, k1, chunk):
            c1 = min(c0 + chunk, k1)
            n_steps = c1 - c0
            src_offsets, src_senders, base, recorded = [], [], 0, 0
            for label in plan.sources:
                offsets, senders = self.sources[label].chunk(c0, c1)
                src_offsets.append(base + offsets)
                src_senders.append(senders)
                base += senders.size
                recorded += senders.size if label in self.recorder.spikes else 0
            src_node_offset = (np.concatenate(src_offsets).astype(np.int64) if src_offsets
                               else np.zeros(1, np.int64))
            src_idx = (np.concatenate(src_senders) if src_senders
                       else np.zeros(0, np.int32))
            del src_senders
            src_step_ptr = np.arange(len(plan.sources), dtype=np.int64) * (n_steps + 1)
            need = n_total + recorded
            if spk_step.size < need:
                spk_step, spk_node, spk_idx = (np.empty(need, np.int64) for _ in range(3))
            n_samples = [c1 // sig.every - c0 // sig.every for _, sig in signals]
            sig_out_ptr = np.concatenate([[0], np.cumsum(
                [n * sig.indices.size for n, (_, sig) in zip(n_samples, signals,
                                                             strict=True)])]).astype(np.int64)
            sig_out = np.empty(int(sig_out_ptr[-1]), np.float64)
            sig_count = np.zeros(len(signals), np.int64)
            node_counts = np.zeros((n_steps, len(nodes)), np.int64)
            step_events = np.zeros(n_steps, np.int64)
            k = c0
            while k < c1:
                k, n_spk = step_loop(
                    k, c1, c0, plan.pop_offset, plan.pop_chan, plan.chan_offset,
                    kind, uniform, v, last, refrac, thresh, reset, p_mm, drive0, chan_state,
                    chan_decay, chan_pmi, inbox, inbox_got, fixed, plan.ring_inbox,
                    plan.chan_ring2,
                    src_node_offset, src_step_ptr, src_idx,
                    plan.proj_pre_node, plan.proj_ring, plan.proj_syn_offset,
                    plan.proj_row_offset, plan.proj_delay, self._fast_drive, plan.indptr, plan.post,
                    plan.delay, plan.ring, plan.ring_dirty, plan.ring_offset,
                    plan.ring_dirty_offset, plan.ring_size, plan.ring_slots,
                    plan.ring_pop_offset, plan.chan_ring, sig_kind, sig_base, sig_every,
                    sig_idx_ptr, sig_idx, sig_out_ptr, sig_out, sig_count,
                    rec_node, spk_step, spk_node, spk_idx, 0, node_counts, proj_events,
                    step_events, pe_param,
                    no_budget() if budget is None else budget.arrays(), groups)
                self._collect_spikes(nodes, spk_step[:n_spk], spk_node[:n_spk],
                                     spk_idx[:n_spk])
                if k < c1:  # the buffer could have overflowed: make it larger
                    spk_step, spk_node, spk_idx = (np.empty(2 * spk_step.size, np.int64)
                                                   for _ in range(3))
            per_node = node_counts.sum(axis=0)
            rows = np.arange(c0, c1)
            for i, label in enumerate(nodes):
                if per_node[i]:
                    self._count(self._spike_keys[label], float(per_node[i]))
                    hit = node_counts[:, i] > 0
                    self._fired_steps[label].extend(
                        zip(rows[hit].tolist(), node_counts[hit, i].tolist(), strict=True))
            self._spikes_per_step.extend(node_counts.sum(axis=1).tolist())
            self._events_per_step.extend(step_events.tolist())
            for s, ((label, var), sig) in enumerate(signals):
                width = sig.indices.size
                block = sig_out[sig_out_ptr[s]:sig_out_ptr[s + 1]].reshape(n_samples[s], width)
                first = (c0 // sig.every + 1) * sig.every
                convert = read[s][1]
                self.recorder.sample_block(label, var, np.arange(
                    first, c1 + 1, sig.every),
                    block.copy() if convert is None else convert(block, sig.indices))
            progress(n_steps)
        for i, label in enumerate(plan.proj_labels):
            if proj_events[i]:
                self._count(self.projections[label].events_key, float(proj_events[i]))
            if budget is not None and budget.counts[i, 1]:
                late = int(budget.counts[i, 1])
                self._count_late(label, 0 if budget.defer else late, late if budget.defer
                                 else 0)
        if budget is not None:
            budget.restore(k1)
        # the state back into the kernels, in place
        c = 0
        for p, f in enumerate(forms):
            a, b = plan.pop_offset[p], plan.pop_offset[p + 1]
            f.v[:] = v[a:b]
            f.last[:] = last[a:b]
            for i, (_, state, _, _) in enumerate(f.channels):
                q = slice(plan.chan_offset[c], plan.chan_offset[c + 1])
                state[:] = chan_state[q]
                if f.inbox is not None:
                    f.inbox[i][:] = inbox[q]
                    if f.inbox_got is not None:
                        f.inbox_got[i] = bool(inbox_got[c])
                c += 1
            if f.restore is not None:
                f.restore(k1)
        if own is not None:
            for key, n in own.done(k1).items():
                self._count(key, n)

    def _collect_spikes(self, nodes: list[str], steps: np.ndarray, node: np.ndarray,
                        idx: np.ndarray) -> None:
        if not steps.size:
            return
        order = np.argsort(node, kind="stable")
        bounds = np.searchsorted(node[order], np.arange(len(nodes) + 1))
        for i, label in enumerate(nodes):
            pick = order[bounds[i]:bounds[i + 1]]
            if pick.size:
                self.recorder.record_spike_block(label, steps[pick], idx[pick])

    # -- one step ---------------------------------------------------------------------
    def _advance(self, k: int) -> None:
        self.currents.advance_to(k)
        if self.recorder.currents:
            self.recorder.sample_currents(k, self.currents.value)
        fired: dict[str, np.ndarray] = {}
        n_spikes = 0
        for label, kernel in self.kernels.items():
            spikes = kernel.advance(k, self.currents.current.get(label))
            fired[label] = spikes
            n_spikes += spikes.size
        for label, source in self.sources.items():
            spikes = source.at(k)
            fired[label] = spikes
            n_spikes += spikes.size
        events = 0
        for label, spikes in fired.items():
            if spikes.size:
                self._count(self._spike_keys[label], spikes.size)
                self._fired_steps[label].append((k, spikes.size))
                self.recorder.record_spikes(label, k, spikes)
                for proj in self._by_pre.get(label, ()):
                    events += self._send(k, proj, spikes)
        for proj in self._plastic:
            self._arrive(k, proj)
        for (post, receptor), ring in self.rings.items():
            drive = ring.pop(k)
            if drive is not None:
                self.kernels[post].receive(receptor, drive)
                ring.clear(k)
        for proj in self._plastic:
            self._post_arrive(k, proj, fired[proj.post])
        self._spikes_per_step.append(n_spikes)
        self._events_per_step.append(events)
        self.recorder.sample(k + 1, self._get)

    def _send(self, k: int, proj: _Projection, pre: np.ndarray) -> int:
        m = proj.matrix
        extra = None
        if not self._ideal:
            extra = self.interconnect.route(k, proj.label, pre)
            if extra is not None:
                pre, extra = self._apply_routing(proj, pre, np.asarray(extra, dtype=np.int64))
        syn = m.rows(pre)
        if syn.size == 0:
            return 0
        self._count(proj.events_key, syn.size)
        if extra is None and m.uniform_delay is not None:
            delay: np.ndarray | int = m.uniform_delay
        else:
            delay = m.delay[syn].astype(np.intp)  # (int16 storage: k + delay)
            if extra is not None:
                delay = delay + np.repeat(extra, m.indptr[pre + 1] - m.indptr[pre])
        if proj.plasticity is None:
            if proj.release is None:
                amount = proj.drive[syn]  # type: ignore[index]
            else:
                amount = proj.released(syn, proj.release.efficacy(k, syn))
            proj.ring.add(k, delay, m.post[syn], amount)
            return int(syn.size)
        axonal = delay - (proj.dendritic if np.isscalar(proj.dendritic)
                          else proj.dendritic[syn])  # type: ignore[index]
        if np.isscalar(axonal) or np.ndim(axonal) == 0:
            proj.queue[int(k + axonal) % proj.ring.slots].append(syn)
        else:
            slots = (k + axonal) % proj.ring.slots
            for s in np.unique(slots):
                proj.queue[s].append(syn[slots == s])
        return int(syn.size)

    def _apply_routing(self, proj: _Projection, pre: np.ndarray,
                       extra: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        limit = self.interconnect.max_extra_delay
        if extra.shape != pre.shape or np.any((extra < DROPPED) | (extra > limit)):
            raise EngineError(
                f"{type(self.interconnect).__name__}.route for projection '{proj.label}' "
                f"returned extra delays outside [-1, {limit}] (max_extra_delay) or of the "
                f"wrong shape {extra.shape} for {pre.size} spikes"
            )
        dropped = extra == DROPPED
        self._count_late(proj.label, int(dropped.sum()), int((extra > 0).sum()))
        keep = ~dropped
        return pre[keep], extra[keep]

    def _count_late(self, label: str, dropped: int, shifted: int) -> None:
        """Spikes the interconnect dropped or shifted (counted in each step it was late)."""
        self._count(f"spikes_dropped/{label}", dropped)
        self._count("spikes_dropped", dropped)
        self._count(f"spikes_shifted/{label}", shifted)
        self._count("spikes_shifted", shifted)

    def _arrive(self, k: int, proj: _Projection) -> None:
        slot = proj.queue[k % proj.ring.slots]
        if not slot:
            return
        syn = np.concatenate(slot)
        slot.clear()
        # a synapse hit twice in one step (a source firing twice within dt) learns twice,
        # in order, as Brian2 processes each queued event
        while syn.size:
            uniq, first = np.unique(syn, return_index=True)
            proj.plasticity.on_pre(k, uniq, proj.weights)  # type: ignore[union-attr]
            dendritic = proj.dendritic if np.isscalar(proj.dendritic) \
                else proj.dendritic[uniq]  # type: ignore[index]
            proj.ring.add(k, dendritic, proj.matrix.post[uniq],
                          proj.codec.drive(proj.weights[uniq]))
            syn = np.delete(syn, first)

    def _post_arrive(self, k: int, proj: _Projection, post_spikes: np.ndarray) -> None:
        """Post spikes reach the synapses at once (all delay axonal) or, with a dendritic
        part of the delay, that many steps later."""
        if post_spikes.size:
            syn = proj.matrix.into(post_spikes)
            if syn.size:
                if np.isscalar(proj.dendritic) and proj.dendritic == 0:
                    proj.plasticity.on_post(k, syn, proj.weights)  # type: ignore[union-attr]
                else:
                    self._queue_post(k, proj, syn)
        if proj.post_queue:
            slot = proj.post_queue[k % proj.ring.slots]
            if slot:
                syn = np.concatenate(slot)
                slot.clear()
                proj.plasticity.on_post(k, np.sort(syn), proj.weights)  # type: ignore[union-attr]

    def _queue_post(self, k: int, proj: _Projection, syn: np.ndarray) -> None:
        dendritic = proj.dendritic if np.isscalar(proj.dendritic) \
            else proj.dendritic[syn]  # type: ignore[index]
        now = syn[np.asarray(dendritic) == 0] if not np.isscalar(dendritic) else syn[:0]
        if now.size:
            proj.plasticity.on_post(k, now, proj.weights)  # type: ignore[union-attr]
        if np.isscalar(dendritic):
            proj.post_queue[int(k + dendritic) % proj.ring.slots].append(syn)
            return
        later = np.asarray(dendritic) > 0
        slots = (k + np.asarray(dendritic)[later]) % proj.ring.slots
        for s in np.unique(slots):
            proj.post_queue[s].append(syn[later][slots == s])


def _same_values(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _same_structure(old: Network, new: Network) -> None:
    """What update() cannot change: it would be another network."""
    def why(what: str) -> RunTimeChangeError:
        return RunTimeChangeError(
            f"{what} changed after the simulation started; the simulator continues the "
            "network it has, so call reset() first (the next run then starts a new one)")

    if (old.dt, old.seed) != (new.dt, new.seed):
        raise why("the timestep or the seed")
    if [(p.label, p.cell_type, p.size, p.state_variables) for p in old.populations] != \
            [(p.label, p.cell_type, p.size, p.state_variables) for p in new.populations]:
        raise why("the populations (their number, cell types, sizes or receptors)")
    if [(s.label, type(s), s.size) for s in old.sources] != \
            [(s.label, type(s), s.size) for s in new.sources]:
        raise why("the spike sources (their number, types or sizes)")
    for a, b in zip(old.projections, new.projections, strict=False):
        if (a.label, a.pre, a.post, a.receptor, type(a.plasticity), type(a.dynamics)) != \
                (b.label, b.pre, b.post, b.receptor, type(b.plasticity), type(b.dynamics)) \
                or not (np.array_equal(a.pre_index, b.pre_index)
                        and np.array_equal(a.post_index, b.post_index)):
            raise why(f"projection '{a.label}' (its connections or synapse type)")
        if not np.array_equal(a.delay, b.delay):
            raise why(f"the delays of projection '{a.label}' (spikes already in flight keep "
                      "theirs)")
    if len(old.projections) != len(new.projections):
        raise why("the projections")
    if old.recordings != new.recordings:
        raise why("what is recorded")
