"""What gets loaded into one FPGA core: neuron parameters and initial state, the synapse
table (sparse rows, one per source) and the STDP parameters, all as integers in the core's
formats (see ``spec.py``).

The mapper produces a :class:`CoreImage` from a PyNN network; the golden model, the cocotb
testbenches and the UART runtime load the same image, the last two through the command
words of :meth:`CoreImage.commands`.  ``check`` is the one place that compares an image
with a build's limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from toolchain.targets.fpga.spec import SHIFT_BITS, CoreSpec, Op, SpecError

_NEURON_FIELDS = ("v_thresh", "v_reset", "bias", "leak_shift", "syn_shift", "refrac")


@dataclass(frozen=True)
class StdpParams:
    """Additive pair-based STDP with shift-decayed traces (see spec step 3-5)."""

    enable: bool = False
    pre_decay_shift: int = 4
    post_decay_shift: int = 4
    potentiate_shift: int = 4
    depress_shift: int = 4
    trace_increment: int = 32
    w_min: int = 0
    w_max: int = 31

    def check(self, spec: CoreSpec) -> None:
        for name in ("pre_decay_shift", "post_decay_shift", "potentiate_shift", "depress_shift"):
            _check_scalar(f"STDP {name}", getattr(self, name), 0, (1 << SHIFT_BITS) - 1)
        _check_scalar("STDP trace_increment", self.trace_increment, 0, spec.trace_max)
        lo, hi = spec.signed_range("w")
        _check_scalar("STDP w_min", self.w_min, lo, hi)
        _check_scalar("STDP w_max", self.w_max, self.w_min, hi)

    def word(self, spec: CoreSpec) -> int:
        return spec.pack("stdp", enable=int(self.enable), pre_decay_shift=self.pre_decay_shift,
                         post_decay_shift=self.post_decay_shift,
                         potentiate_shift=self.potentiate_shift,
                         depress_shift=self.depress_shift, trace_increment=self.trace_increment,
                         w_min=self.w_min, w_max=self.w_max)


# What a core without plasticity holds: the STDP word is still written (and must fit the
# build's widths), so its bounds and increment are zeros, which fit every width; the
# defaults above describe a rule, not "off", and do not fit narrow builds (w_bits < 6).
STDP_OFF = StdpParams(enable=False, trace_increment=0, w_min=0, w_max=0)


def _check_scalar(what: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise SpecError(f"{what} = {value} is outside {low}..{high}")


@dataclass
class CoreImage:
    """Integer contents of a core.  Neuron arrays have one entry per used neuron (the rest
    of the core stays silent); ``row_start``/``row_length`` have one entry per source
    (neurons first, then input axons); synapse arrays are in synapse-memory order.
    ``syn_shift_inh`` (the inhibitory current's decay) and ``syn_inh`` (a synapse feeds it)
    are for two-current builds; left out they are zeros, which a one-current build needs."""

    v_thresh: np.ndarray
    v_reset: np.ndarray
    bias: np.ndarray
    leak_shift: np.ndarray
    syn_shift: np.ndarray
    refrac: np.ndarray
    v_init: np.ndarray
    row_start: np.ndarray
    row_length: np.ndarray
    syn_target: np.ndarray
    syn_weight: np.ndarray
    syn_delay: np.ndarray
    syn_plastic: np.ndarray
    stdp: StdpParams
    n_inputs: int
    syn_shift_inh: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    syn_inh: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self) -> None:
        if self.syn_shift_inh.size == 0:
            self.syn_shift_inh = np.zeros(self.v_thresh.size, np.int64)
        if self.syn_inh.size == 0:
            self.syn_inh = np.zeros(self.syn_target.size, bool)

    @property
    def n_neurons(self) -> int:
        return int(self.v_thresh.size)

    @property
    def n_synapses(self) -> int:
        return int(self.syn_target.size)

    @classmethod
    def from_synapses(cls, *, neurons: dict[str, np.ndarray], n_inputs: int,
                      source: np.ndarray, target: np.ndarray, weight: np.ndarray,
                      delay: np.ndarray, plastic: np.ndarray,
                      stdp: StdpParams | None = None,
                      v_init: np.ndarray | None = None,
                      inh: np.ndarray | None = None) -> tuple[CoreImage, np.ndarray]:
        """Pack an unordered synapse list into rows (sorted by source, stable within one);
        also returns the synapse-memory address of every given synapse."""
        n = int(np.asarray(neurons["v_thresh"]).size)
        source = np.asarray(source, dtype=np.int64)
        order = np.argsort(source, kind="stable")
        counts = np.bincount(source, minlength=n + n_inputs) if source.size else \
            np.zeros(n + n_inputs, dtype=np.int64)
        if counts.size > n + n_inputs:
            raise SpecError(
                f"synapse source {int(source.max())} is beyond the {n} neurons + "
                f"{n_inputs} inputs of this image"
            )
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        arr = {k: np.asarray(neurons[k], dtype=np.int64) for k in _NEURON_FIELDS}
        shift_inh = neurons.get("syn_shift_inh")
        address = np.empty(order.size, np.int64)
        address[order] = np.arange(order.size)
        image = cls(
            **arr,
            v_init=np.zeros(n, np.int64) if v_init is None else np.asarray(v_init, np.int64),
            row_start=starts.astype(np.int64), row_length=counts.astype(np.int64),
            syn_target=np.asarray(target, np.int64)[order],
            syn_weight=np.asarray(weight, np.int64)[order],
            syn_delay=np.asarray(delay, np.int64)[order],
            syn_plastic=np.asarray(plastic, bool)[order],
            stdp=stdp or STDP_OFF, n_inputs=n_inputs,
            syn_shift_inh=np.zeros(0, np.int64) if shift_inh is None
            else np.asarray(shift_inh, np.int64),
            syn_inh=np.zeros(0, bool) if inh is None else np.asarray(inh, bool)[order],
        )
        return image, address

    def synapse_sources(self) -> np.ndarray:
        """Source of every synapse (the inverse of the row table)."""
        return np.repeat(np.arange(self.row_length.size), self.row_length)

    # -- limits --------------------------------------------------------------------------
    def check(self, spec: CoreSpec) -> None:
        """Raise :class:`SpecError` naming the first value that does not fit ``spec``."""
        if self.n_neurons > spec.n_neurons:
            raise SpecError(f"image has {self.n_neurons} neurons; build '{spec.name}' holds "
                            f"{spec.n_neurons}")
        if self.n_inputs > spec.n_inputs:
            raise SpecError(f"image has {self.n_inputs} input axons; build '{spec.name}' holds "
                            f"{spec.n_inputs}")
        if self.n_synapses > spec.n_synapses:
            raise SpecError(f"image has {self.n_synapses} synapses; build '{spec.name}' holds "
                            f"{spec.n_synapses}")
        v_lo, v_hi = spec.signed_range("v")
        i_lo, i_hi = spec.signed_range("i")
        w_lo, w_hi = spec.signed_range("w")
        shift_hi = (1 << SHIFT_BITS) - 1
        ranges = {
            "v_thresh": (v_lo, v_hi), "v_reset": (v_lo, v_hi), "v_init": (v_lo, v_hi),
            "bias": (i_lo, i_hi), "leak_shift": (0, shift_hi), "syn_shift": (0, shift_hi),
            "refrac": (0, spec.max_refrac), "syn_weight": (w_lo, w_hi),
            "syn_shift_inh": (0, shift_hi if spec.receptors == 2 else 0),
            "syn_delay": (1, spec.max_delay), "syn_target": (0, self.n_neurons - 1),
        }
        for name, (lo, hi) in ranges.items():
            arr = getattr(self, name)
            bad = np.flatnonzero((arr < lo) | (arr > hi))
            if bad.size:
                k = int(bad[0])
                raise SpecError(f"{name}[{k}] = {int(arr[k])} is outside {lo}..{hi} "
                                f"of build '{spec.name}'")
        if spec.receptors == 1 and self.syn_inh.any():
            k = int(np.flatnonzero(self.syn_inh)[0])
            raise SpecError(f"syn_inh[{k}]: synapse {k} feeds an inhibitory current, but "
                            f"build '{spec.name}' has one synaptic current (receptors = 1)")
        self.stdp.check(spec)
        self._check_accumulator(spec)

    def accumulator_load(self, spec: CoreSpec) -> np.ndarray:
        """Per neuron and delay, the largest total |weight| one ring accumulator can
        receive in a step (a plastic weight counted at its bound; on a two-current build
        the larger of the excitatory and the inhibitory accumulator's)."""
        mag = np.abs(self.syn_weight)
        if self.stdp.enable:
            bound = max(abs(self.stdp.w_min), abs(self.stdp.w_max))
            mag = np.where(self.syn_plastic, np.maximum(mag, bound), mag)
        worst = np.zeros((2, self.n_neurons, spec.ring_depth), dtype=np.int64)
        receptor = self.syn_inh.astype(np.int64) if spec.receptors == 2 else \
            np.zeros(mag.size, np.int64)
        np.add.at(worst, (receptor, self.syn_target, self.syn_delay), mag)
        return worst.max(axis=0)

    def _check_accumulator(self, spec: CoreSpec) -> None:
        """The ring accumulator is not saturated: prove no slot can overflow."""
        worst = self.accumulator_load(spec)
        lo, hi = spec.signed_range("acc")
        if worst.size and worst.max() > hi:
            j, d = np.unravel_index(int(np.argmax(worst)), worst.shape)
            raise SpecError(
                f"neuron {j} can receive {int(worst[j, d])} weight units in one step through "
                f"its delay-{d} synapses; the {spec.acc_bits}-bit ring accumulator holds "
                f"{hi}: raise acc_bits or scale the weights down"
            )

    # -- loading through the command stream ------------------------------------------------
    def commands(self, spec: CoreSpec) -> list[tuple[Op, int, int]]:
        """(op, addr, data) words that load this image into a freshly reset core."""
        self.check(spec)
        cmds: list[tuple[Op, int, int]] = []
        two = spec.receptors == 2
        for j in range(self.n_neurons):
            extra = {"syn_shift_inh": int(self.syn_shift_inh[j])} if two else {}
            cmds.append((Op.NEURON_PARAMS, j, spec.pack(
                "neuron_params", **{k: int(getattr(self, k)[j]) for k in _NEURON_FIELDS},
                **extra)))
            cmds.append((Op.NEURON_STATE, j, spec.pack("neuron_state", v=int(self.v_init[j]))))
        for s in range(self.row_start.size):
            if self.row_length[s]:
                src = s if s < self.n_neurons else spec.n_neurons + (s - self.n_neurons)
                cmds.append((Op.ROW, src, spec.pack("row", start=int(self.row_start[s]),
                                                    length=int(self.row_length[s]))))
        for k in range(self.n_synapses):
            cmds.append((Op.SYNAPSE, k, spec.pack(
                "synapse", target=int(self.syn_target[k]), weight=int(self.syn_weight[k]),
                delay=int(self.syn_delay[k]), plastic=int(self.syn_plastic[k]),
                **({"inh": int(self.syn_inh[k])} if two else {}))))
        cmds.append((Op.STDP, 0, self.stdp.word(spec)))
        return cmds
