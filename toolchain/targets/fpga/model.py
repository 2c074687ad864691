"""Golden model of the FPGA LIF/STDP core: vectorised numpy integer arithmetic that gives,
step for step, the same spikes, state and weights as the RTL (the cocotb tests compare them
bit for bit).  It is also the ``fpga`` target's simulator and the heart of a virtual board.

API (everything in the core's integer formats, see ``spec.py``)::

    core = CoreModel(spec)                 # a freshly reset core
    core.load(image)                       # a whole CoreImage (neurons, rows, synapses, STDP)
    core.execute(op, addr, data)           # or word by word, as the command stream does;
                                           # READ_* ops return their response word
    spikes = core.step(input_axons)        # one timestep -> sorted neuron indices that spiked
    spikes = core.run([[0, 3], [], [1]])   # several steps, one input list per step
    core.weights()                         # synapse weights in synapse-memory order
    core.state()                           # {"v", "i", "i_inh", "ref", "x", "y"} arrays

Input axon ``a`` is source ``spec.n_neurons + a`` of the row table.  Unwritten neurons
have "silent" parameters (threshold at the top of the range), as in the RTL's reset
contents, so a partly used core never fires from its empty neurons.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from toolchain.targets.fpga.image import STDP_OFF, CoreImage, StdpParams
from toolchain.targets.fpga.spec import SIGNED_FIELDS, CoreSpec, Op, SpecError

_SIGNED = SIGNED_FIELDS
#: the compiled loop's spike buffer starts at this many spikes (or four per neuron) and
#: doubles when a block could overflow it
SPIKE_BUFFER_MIN = 4096


def silent_neuron_params(spec: CoreSpec) -> dict[str, int]:
    """Parameters of a neuron that can never fire: what an unwritten neuron holds."""
    silent = {"v_thresh": spec.signed_range("v")[1], "v_reset": 0, "bias": 0,
              "leak_shift": 0, "syn_shift": 0, "refrac": 0}
    return {**silent, "syn_shift_inh": 0} if spec.receptors == 2 else silent


def _wrap(x: np.ndarray, bits: int) -> np.ndarray:
    half = 1 << (bits - 1)
    return ((x + half) & ((1 << bits) - 1)) - half


# -- the arithmetic of one neuron / trace / weight, shared with the RTL block tests --------
def decay_step(x: np.ndarray, shift: np.ndarray | int) -> np.ndarray:
    """``x / 2**shift`` rounded to nearest (halves up): ``(x >>> shift)`` plus the bit
    shifted out last.  A floor (plain ``>>>``) would leave every positive value below
    ``2**shift`` undecayed forever while negative ones decay to zero, so small excitatory
    currents would persist as a tonic drive; rounding to nearest halves that dead zone and
    makes it symmetric (see docs/fpga-core.md for the measured effect)."""
    return (x >> shift) + (((x << 1) >> shift) & 1)


def lif_update(spec: CoreSpec, v: np.ndarray, i: np.ndarray, ref: np.ndarray,
               acc: np.ndarray, p: dict[str, np.ndarray], i_inh: np.ndarray | int = 0,
               acc_inh: np.ndarray | int = 0
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Step 1 of the update order for arrays of neurons: (v, i, ref, spiked, i_inh) after
    it.  The inhibitory current ``i_inh`` (two-current builds) decays with its own shift;
    on a one-current build it and its input stay 0."""
    i_lo, i_hi = spec.signed_range("i")
    v_lo, v_hi = spec.signed_range("v")
    f = spec.i_frac
    i = np.clip(i - decay_step(i, p["syn_shift"]) + (acc << f), i_lo, i_hi)
    if spec.receptors == 2:
        i_inh = np.clip(i_inh - decay_step(i_inh, p["syn_shift_inh"]) + (acc_inh << f),
                        i_lo, i_hi)
    else:
        i_inh = np.zeros_like(i)
    active = ref == 0
    drive = decay_step(i + i_inh, f)  # in voltage LSB (rounded to nearest: rnd(x, 0) = x)
    v_new = np.clip(v - decay_step(v, p["leak_shift"]) + drive + p["bias"], v_lo, v_hi)
    spiked = active & (v_new >= p["v_thresh"])
    v = np.where(spiked, p["v_reset"], np.where(active, v_new, v))
    ref = np.where(spiked, p["refrac"], np.where(active, 0, ref - 1))
    return v, i, ref, spiked, i_inh


def trace_update(spec: CoreSpec, x: np.ndarray, shift: int, spiked: np.ndarray,
                 increment: int) -> np.ndarray:
    """Step 5: decay by a rounded shift, add the increment on a spike, saturate at the
    top."""
    return np.minimum(x - decay_step(x, shift) + spiked * increment, spec.trace_max)


def stdp_update(w: np.ndarray, trace: np.ndarray, shift: int, potentiate: bool,
                st: StdpParams) -> np.ndarray:
    """Steps 3/4: add (or subtract) ``trace >> shift``, clamp to the weight bounds."""
    delta = trace >> shift
    return np.clip(w + delta if potentiate else w - delta, st.w_min, st.w_max)


@dataclass
class Block:
    """What :meth:`CoreModel.run_block` returns: every spike as (step, neuron), the
    per-step counts the cycle model reads (inputs, repeats, spikes, events,
    potentiation), and each signal's samples (one row per sample)."""

    steps: np.ndarray
    neurons: np.ndarray
    counts: np.ndarray
    samples: list[np.ndarray]


class CoreModel:
    """One core, timestep-exact.  Arrays are int64; widths are enforced by saturation or
    wrapping exactly where the RTL saturates or wraps."""

    def __init__(self, spec: CoreSpec) -> None:
        self.spec = spec
        n, s = spec.n_neurons, spec.n_sources
        silent = silent_neuron_params(spec)
        self.params = {k: np.full(n, v, np.int64) for k, v in silent.items()}
        self.v = np.zeros(n, np.int64)
        self.i = np.zeros(n, np.int64)
        self.i_inh = np.zeros(n, np.int64)  # stays 0 on a one-current build
        self.ref = np.zeros(n, np.int64)
        # one delay ring per receptor: [0] excitatory (the only one of a one-current
        # build), [1] inhibitory
        self.ring = np.zeros((2, spec.ring_depth, n), np.int64)
        self.x = np.zeros(s, np.int64)  # pre-synaptic trace of every source
        self.y = np.zeros(n, np.int64)  # post-synaptic trace of every neuron
        self.row_start = np.zeros(s, np.int64)
        self.row_length = np.zeros(s, np.int64)
        m = spec.n_synapses
        self.syn = {"target": np.zeros(m, np.int64), "weight": np.zeros(m, np.int64),
                    "delay": np.zeros(m, np.int64), "plastic": np.zeros(m, bool),
                    "inh": np.zeros(m, bool)}
        self.stdp = STDP_OFF
        self.t = 0
        self.last_step: dict[str, int | bool] = {}
        self._pairs: tuple[np.ndarray, np.ndarray] | None = None

    # -- loading -----------------------------------------------------------------------
    def load(self, image: CoreImage) -> None:
        """Write a whole image (after checking it against the build)."""
        image.check(self.spec)
        n, k = image.n_neurons, image.n_synapses
        for name in self.params:
            self.params[name][:n] = getattr(image, name)
        self.v[:n] = image.v_init
        self.i[:n] = 0
        self.i_inh[:n] = 0
        self.ref[:n] = 0
        nn = image.n_neurons
        rows = np.arange(image.row_start.size)
        core_src = np.where(rows < nn, rows, self.spec.n_neurons + rows - nn)
        self.row_start[core_src] = image.row_start
        self.row_length[core_src] = image.row_length
        self.syn["target"][:k] = image.syn_target
        self.syn["weight"][:k] = image.syn_weight
        self.syn["delay"][:k] = image.syn_delay
        self.syn["plastic"][:k] = image.syn_plastic
        self.syn["inh"][:k] = image.syn_inh
        self.stdp = image.stdp
        self._pairs = None

    def execute(self, op: Op, addr: int, data: int = 0) -> int | None:
        """Apply one command word as the RTL's command decoder does."""
        spec = self.spec
        if op == Op.NEURON_PARAMS:
            for name, value in spec.unpack("neuron_params", data,
                                           signed=_SIGNED["neuron_params"]).items():
                self.params[name][addr] = value
        elif op == Op.NEURON_STATE:
            f = spec.unpack("neuron_state", data, signed=_SIGNED["neuron_state"])
            self.v[addr], self.i[addr], self.ref[addr] = f["v"], f["i"], f["ref"]
            self.i_inh[addr] = f.get("i_inh", 0)
        elif op == Op.ROW:
            f = spec.unpack("row", data)
            self.row_start[addr], self.row_length[addr] = f["start"], f["length"]
            self._pairs = None
        elif op == Op.SYNAPSE:
            for name, value in spec.unpack("synapse", data, signed=_SIGNED["synapse"]).items():
                self.syn[name][addr] = value
        elif op == Op.STDP:
            f = spec.unpack("stdp", data, signed=_SIGNED["stdp"])
            self.stdp = StdpParams(**{**f, "enable": bool(f["enable"])})
        elif op == Op.READ_SYNAPSE:
            names = [name for name, _ in spec.layout("synapse")]
            return spec.pack("synapse", **{k: int(self.syn[k][addr]) for k in names})
        elif op == Op.READ_STATE:
            extra = {"i_inh": int(self.i_inh[addr])} if spec.receptors == 2 else {}
            return spec.pack("neuron_state", v=int(self.v[addr]), i=int(self.i[addr]),
                             ref=int(self.ref[addr]), **extra)
        else:
            raise SpecError(f"command {op!r} is not a register access; use step()/run()")
        return None

    # -- running ---------------------------------------------------------------------------
    def run(self, inputs: Iterable[Sequence[int]]) -> list[np.ndarray]:
        return [self.step(step_inputs) for step_inputs in inputs]

    def step(self, input_axons: Sequence[int] = ()) -> np.ndarray:
        """One timestep in the order of ``spec.py``; returns the neurons that spiked."""
        spec, p = self.spec, self.params
        axons = np.unique(np.asarray(input_axons, dtype=np.int64))
        if axons.size and (axons[0] < 0 or axons[-1] >= spec.n_inputs):
            bad = int(axons[0] if axons[0] < 0 else axons[-1])
            raise SpecError(f"input axon {bad} is outside 0..{spec.n_inputs - 1}")
        slot = self.t % spec.ring_depth
        # 1. neurons
        acc = self.ring[:, slot].copy()
        self.ring[:, slot] = 0
        self.v, self.i, self.ref, spiked, self.i_inh = lif_update(
            spec, self.v, self.i, self.ref, acc[0], p, self.i_inh, acc[1])
        # 2./3. events of inputs and neuron spikes, with depression
        src_spiked = np.zeros(spec.n_sources, bool)
        src_spiked[: spec.n_neurons] = spiked
        src_spiked[spec.n_neurons + axons] = True
        src_of, syn_idx = self._source_synapse_pairs()
        ks = syn_idx[src_spiked[src_of]]
        tgt, w = self.syn["target"], self.syn["weight"]
        where = (slot + self.syn["delay"][ks]) % spec.ring_depth
        np.add.at(self.ring, (self.syn["inh"][ks].astype(np.int64), where, tgt[ks]), w[ks])
        self.ring = _wrap(self.ring, spec.acc_bits)
        st = self.stdp
        if st.enable:
            kd = ks[self.syn["plastic"][ks]]
            w[kd] = stdp_update(w[kd], self.y[tgt[kd]], st.depress_shift, False, st)
            # 4. potentiation: every plastic synapse onto a neuron that spiked
            if spiked.any():
                sel = self.syn["plastic"][syn_idx] & spiked[tgt[syn_idx]]
                kp, sp = syn_idx[sel], src_of[sel]
                w[kp] = stdp_update(w[kp], self.x[sp], st.potentiate_shift, True, st)
        # 5. traces
        self.x = trace_update(spec, self.x, st.pre_decay_shift, src_spiked, st.trace_increment)
        self.y = trace_update(spec, self.y, st.post_decay_shift, spiked, st.trace_increment)
        self.t += 1
        self.last_step = {"inputs": int(axons.size),
                          "repeats": len(input_axons) - int(axons.size),
                          "spikes": int(spiked.sum()), "events": int(ks.size),
                          "potentiation": bool(st.enable and spiked.any())}
        return np.flatnonzero(spiked)

    def compiled_refusal(self) -> str | None:
        """Why :meth:`run_block` cannot run this core as loaded (None: it can)."""
        _, syn_idx = self._source_synapse_pairs()
        if np.unique(syn_idx).size < syn_idx.size:
            return "two rows of the core's row table share synapse addresses"
        return None

    def run_block(self, inputs_ptr: np.ndarray, inputs: np.ndarray,
                  signals: Sequence[tuple[str, np.ndarray, int]] = ()) -> Block:
        """``inputs_ptr.size - 1`` steps through the compiled loop
        (:mod:`toolchain.targets.fpga.loop`), with the registers :meth:`step` leaves;
        step ``r``'s input axons are ``inputs[inputs_ptr[r]:inputs_ptr[r + 1]]``.
        ``signals``: (register ``v``, ``i`` or ``i_inh``, core neurons, sampling interval in
        steps) to sample after every step whose end is a multiple of the interval.  Needs
        :meth:`compiled_refusal` to be None."""
        from toolchain.targets.fpga.loop import run_core

        spec, p, st = self.spec, self.params, self.stdp
        inputs = np.asarray(inputs, dtype=np.int64)
        inputs_ptr = np.asarray(inputs_ptr, dtype=np.int64)
        if inputs.size and (inputs.min() < 0 or inputs.max() >= spec.n_inputs):
            bad = int(inputs.min() if inputs.min() < 0 else inputs.max())
            raise SpecError(f"input axon {bad} is outside 0..{spec.n_inputs - 1}")
        # a row beyond the synapse memory is refused by name; so is a synapse word (written
        # with execute) naming a neuron the core does not have: the numpy model would
        # raise IndexError, the compiled loop (no bounds checks) would write past the ring
        _, syn_idx = self._source_synapse_pairs()
        bad = syn_idx[self.syn["target"][syn_idx] >= spec.n_neurons]
        if bad.size:
            raise SpecError(f"synapse {int(bad[0])} targets neuron "
                            f"{int(self.syn['target'][bad[0]])}, beyond the "
                            f"{spec.n_neurons} neurons of build '{spec.name}'")
        n_steps = inputs_ptr.size - 1
        i_lo, i_hi = spec.signed_range("i")
        v_lo, v_hi = spec.signed_range("v")
        zeros = np.zeros(spec.n_neurons, np.int64)
        params = np.stack([p["v_thresh"], p["v_reset"], p["bias"], p["leak_shift"],
                           p["syn_shift"], p.get("syn_shift_inh", zeros), p["refrac"]])
        traces_move = bool(st.trace_increment or self.x.any() or self.y.any())
        fmt = np.array([spec.receptors, spec.ring_depth, spec.i_frac, i_lo, i_hi, v_lo, v_hi,
                        spec.acc_bits, spec.trace_max, self._live_neurons(), traces_move],
                       np.int64)
        stdp = np.array([st.enable, st.w_min, st.w_max, st.depress_shift, st.potentiate_shift,
                         st.pre_decay_shift, st.post_decay_shift, st.trace_increment],
                        np.int64)
        registers = {"v": 0, "i": 1, "i_inh": 2}
        sig_reg = np.array([registers[reg] for reg, _, _ in signals], np.int64)
        sig_every = np.array([every for _, _, every in signals], np.int64)
        sig_idx = np.concatenate([np.zeros(0, np.int64),
                                  *(np.asarray(idx, np.int64) for _, idx, _ in signals)])
        sig_idx_ptr = np.concatenate([[0], np.cumsum([len(idx) for _, idx, _ in signals])]
                                     ).astype(np.int64)
        n_samples = [(self.t + n_steps) // every - self.t // every for _, _, every in signals]
        sizes = [m * len(idx) for m, (_, idx, _) in zip(n_samples, signals, strict=True)]
        sig_out_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        sig_out = np.zeros(int(sig_out_ptr[-1]), np.int64)
        sig_count = np.zeros(len(signals), np.int64)
        counts = np.zeros((n_steps, 5), np.int64)
        capacity = max(4 * spec.n_neurons, SPIKE_BUFFER_MIN)
        steps_out, neurons_out = [], []
        ring = np.ascontiguousarray(self.ring)
        for name in ("v", "i", "i_inh", "ref", "x", "y"):
            setattr(self, name, np.ascontiguousarray(getattr(self, name), dtype=np.int64))
        sources = inputs + spec.n_neurons  # input axon a is source n_neurons + a
        done = 0
        while done < n_steps:
            spk_step = np.empty(capacity, np.int64)
            spk_idx = np.empty(capacity, np.int64)
            ran, n_spk = run_core(
                self.t, n_steps - done, fmt, params, self.v, self.i, self.i_inh, self.ref,
                ring, self.x, self.y, self.row_start, self.row_length, self.syn["target"],
                self.syn["weight"], self.syn["delay"], self.syn["plastic"], self.syn["inh"],
                stdp, inputs_ptr[done:], sources, sig_reg, sig_every, sig_idx_ptr, sig_idx,
                sig_out_ptr, sig_out, sig_count, spk_step, spk_idx, counts[done:])
            steps_out.append(spk_step[:n_spk].copy())
            neurons_out.append(spk_idx[:n_spk].copy())
            self.t += ran
            done += ran
            capacity *= 2
        self.ring = ring
        if n_steps:
            last = counts[-1]
            self.last_step = {"inputs": int(last[0]), "repeats": int(last[1]),
                              "spikes": int(last[2]), "events": int(last[3]),
                              "potentiation": bool(last[4])}
        samples = [sig_out[sig_out_ptr[g]:sig_out_ptr[g + 1]].reshape(n_samples[g], len(idx))
                   for g, (_, idx, _) in enumerate(signals)]
        return Block(np.concatenate(steps_out) if steps_out else np.zeros(0, np.int64),
                     np.concatenate(neurons_out) if neurons_out else np.zeros(0, np.int64),
                     counts, samples)

    def _live_neurons(self) -> int:
        """One past the last neuron that can change: the others hold silent parameters,
        zero state and no synapse reaches them, so a step leaves them as they are (v, i
        and ref stay 0: nothing drives them, and v = 0 is below the silent threshold)."""
        silent = silent_neuron_params(self.spec)
        live = np.zeros(self.spec.n_neurons, bool)
        for name, value in self.params.items():
            live |= value != silent[name]
        for reg in (self.v, self.i, self.i_inh, self.ref, self.y):
            live |= reg != 0
        live |= self.ring.any(axis=(0, 1))
        _, syn_idx = self._source_synapse_pairs()
        live[self.syn["target"][syn_idx]] = True
        return int(np.flatnonzero(live)[-1]) + 1 if live.any() else 0

    def cycles_of_steps(self, counts: np.ndarray) -> np.ndarray:
        """:meth:`cycles_of_last_step` of every step of a :class:`Block` (its counts)."""
        rows = int(self.row_length.sum())
        plain = self.spec.cycles_per_step(
            inputs=counts[:, 0], repeats=counts[:, 1], spikes=counts[:, 2],
            events=counts[:, 3], potentiation=False, synapses_in_rows=rows)
        walk = (self.spec.cycles_per_step(inputs=0, repeats=0, spikes=0, events=0,
                                          potentiation=True, synapses_in_rows=rows)
                - self.spec.cycles_per_step(inputs=0, repeats=0, spikes=0, events=0,
                                            potentiation=False, synapses_in_rows=rows))
        return plain + walk * counts[:, 4]

    def cycles_of_last_step(self) -> int:
        """Clock cycles the RTL spends on the step just run (``spec.cycles_per_step``)."""
        return self.spec.cycles_per_step(**self.last_step,
                                         synapses_in_rows=int(self.row_length.sum()))

    def _source_synapse_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(source, synapse address) of every synapse reachable through the row table, in
        the order the RTL visits them."""
        if self._pairs is None:
            lengths = self.row_length
            src_of = np.repeat(np.arange(lengths.size), lengths)
            offsets = np.arange(src_of.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            syn_idx = np.repeat(self.row_start, lengths) + offsets
            if syn_idx.size and syn_idx.max() >= self.spec.n_synapses:
                s = int(src_of[np.argmax(syn_idx)])
                raise SpecError(
                    f"row of source {s} runs past synapse address {self.spec.n_synapses - 1}"
                )
            self._pairs = (src_of, syn_idx)
        return self._pairs

    # -- reading back -------------------------------------------------------------------
    def weights(self) -> np.ndarray:
        return self.syn["weight"].copy()

    def state(self) -> dict[str, np.ndarray]:
        return {"v": self.v.copy(), "i": self.i.copy(), "i_inh": self.i_inh.copy(),
                "ref": self.ref.copy(), "x": self.x.copy(), "y": self.y.copy()}
