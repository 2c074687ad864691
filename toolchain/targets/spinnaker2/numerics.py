"""Neuron and synapse arithmetic as a SpiNNaker2 Cortex-M4F PE runs it.

Two number formats, chosen by ``SpiNNaker2Spec.numerics``:

* ``"s16.15"`` (default): sPyNNaker's ``accum`` (ISO/IEC TR 18037 fixed point: sign, 16
  integer and 15 fraction bits in an int32) with decay factors as ``unsigned long fract``
  (u0.32).  We default to it because it is the arithmetic of the PyNN software stack that
  runs on SpiNNaker machines, it is deterministic integer arithmetic that any host
  reproduces bit for bit, and it shows the quantisation a user of that stack sees.
  A product is ``(a * b) >> 15`` with an arithmetic (flooring) shift and saturation to int32,
  which is what GCC's stdfix multiply does on ARM when no rounding mode is asked for.
* ``"float32"``: the M4F has a single-precision FPU, so a hand-written kernel may use it;
  the same update order in IEEE float32.

Update order per timer tick (sPyNNaker ``neuron_impl_standard.h``): ring-buffer input is
added to the synaptic state, the membrane is integrated with the input held constant over
the tick (exact solution), threshold/reset/refractory are applied, then the synaptic state
decays.

IF_curr_alpha's synapse is two states per receptor, exact at the tick boundaries: a spike
of weight w adds ``w e / tau`` to a rise term a; the current i (what the membrane sees)
advances by ``i <- D i + h D a`` and ``a <- D a`` with ``D = exp(-h / tau)``, so one spike
gives ``i(t) = w (t / tau) e^(1 - t / tau)``, PyNN's alpha current.  (sPyNNaker ships its
own alpha synapse type, synapse_types_alpha_impl.h; a PE runs whatever kernel it is given,
and this one is exact where that one is not.)

Synaptic words follow sPyNNaker's row layout (``neural_modelling/src/neuron/synapse_row.h``),
most significant bits first::

    | weight (16) | delay (log2 ring) | synapse type (1) | neuron index (index bits) |

Weights are unsigned 16-bit magnitudes; the synapse type (excitatory/inhibitory) gives the
sign.  Each (post population, synapse type) has its own weight scale ``2**frac_bits``, chosen
so that its largest weight uses the full 16 bits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from toolchain.ir import CellType, Population, Receptor
from toolchain.sim.fast import PE_LIF, Form
from toolchain.sim.kernels import NeuronKernel, check_same_shape, reference_kernel
from toolchain.targets.spinnaker2.spec import ode_substeps

ACCUM_FRAC = 15  # s16.15 [src: sPyNNaker neural_modelling/src/common/maths-util.h REAL]
ACCUM_ONE = 1 << ACCUM_FRAC
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
DECAY_FRAC = 32  # u0.32 decay factors [src: sPyNNaker maths-util.h decay_t = UFRACT]
TYPE_BITS = 1  # excitatory / inhibitory: a standard cell's two synapse types
SYNAPSE_TYPES = (Receptor.EXCITATORY, Receptor.INHIBITORY)
WORD_BITS = 32

#: cell types with an exact-integration LIF kernel in sPyNNaker's style (S2LIFKernel)
LIF_CELLS = (CellType.IF_CURR_EXP, CellType.IF_CURR_ALPHA, CellType.IF_COND_EXP,
             CellType.IF_COND_ALPHA)
#: cell types a PE runs as the reference's equations and scheme, state in the PE's format
#: (S2ODEKernel).  Composed PointNeurons (LIF, AdExp) are among them: each named receptor
#: is one synapse type, and the word's synapse-type field widens to hold them
#: (:func:`synapse_types`, as sPyNNaker sizes it from a model's synapse types).
ODE_CELLS = (CellType.IF_CURR_DELTA, CellType.IF_COND_EXP_GSFA_GRR,
             CellType.EIF_COND_EXP_ISFA_ISTA, CellType.EIF_COND_ALPHA_ISFA_ISTA,
             CellType.IZHIKEVICH, CellType.HH_COND_EXP, CellType.GIF_COND_EXP,
             CellType.LIF, CellType.ADEXP)


def synapse_types(population: Population) -> tuple[Receptor | str, ...]:
    """The synapse types a PE keeps for ``population``: a standard cell's excitatory and
    inhibitory, or a composed cell's named receptors (one ring buffer and one weight
    scale each)."""
    if population.cell_type.composed:
        return tuple(population.receptor_names)
    return SYNAPSE_TYPES


def type_bits(n_types: int) -> int:
    """Bits of the synaptic word's synapse-type field for ``n_types`` types."""
    return max(TYPE_BITS, math.ceil(math.log2(max(n_types, 1))))
SUPPORTED_CELLS = (*LIF_CELLS, *ODE_CELLS)


class NumericsError(ValueError):
    """A value the PE arithmetic cannot represent."""


# --------------------------------------------------------------------------- fixed point


def to_accum(x: np.ndarray | float, *, what: str) -> np.ndarray:
    """Round IR values to s16.15 raw integers, refusing values outside its range."""
    arr = np.asarray(x, dtype=np.float64)
    raw = np.rint(arr * ACCUM_ONE)
    bad = (raw < INT32_MIN) | (raw > INT32_MAX)
    if np.any(bad):
        i = int(np.flatnonzero(bad.ravel())[0])
        raise NumericsError(
            f"{what}[{i}] = {arr.ravel()[i]:g} does not fit the s16.15 range "
            f"[-65536, 65536); rescale the model or use numerics='float32'"
        )
    return raw.astype(np.int64)


def from_accum(raw: np.ndarray) -> np.ndarray:
    return np.asarray(raw, dtype=np.float64) / ACCUM_ONE


def to_decay(x: np.ndarray | float) -> np.ndarray:
    """A factor in [0, 1) as u0.32 raw integers (1.0 saturates to the largest fraction)."""
    raw = np.rint(np.asarray(x, dtype=np.float64) * 2.0**DECAY_FRAC)
    return np.clip(raw, 0, 2**DECAY_FRAC - 1).astype(np.int64)


def _sat(raw: np.ndarray) -> np.ndarray:
    return np.clip(raw, INT32_MIN, INT32_MAX)


def mul_accum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """s16.15 x s16.15 -> s16.15, flooring shift, saturating."""
    return _sat((np.asarray(a, np.int64) * np.asarray(b, np.int64)) >> ACCUM_FRAC)


def mul_decay(a: np.ndarray, d: np.ndarray) -> np.ndarray:
    """s16.15 x u0.32 -> s16.15 (the product of an int32 and a u32 fits in int64)."""
    return (np.asarray(a, np.int64) * np.asarray(d, np.int64)) >> DECAY_FRAC


# --------------------------------------------------------------------------- synaptic words


@dataclass(frozen=True)
class WordLayout:
    """Bit fields of one 32-bit synaptic word, from the least significant end."""

    index_bits: int
    delay_bits: int
    weight_bits: int = 16
    type_bits: int = TYPE_BITS

    def __post_init__(self) -> None:
        low = self.delay_bits + self.type_bits + self.index_bits
        if self.weight_bits + low > WORD_BITS:
            raise NumericsError(
                f"a synaptic word has {WORD_BITS - self.weight_bits} bits below its "
                f"{self.weight_bits}-bit weight, but {self.delay_bits} delay + "
                f"{self.type_bits} type + {self.index_bits} index bits = {low} are needed; "
                "lower neurons_per_pe or ring_buffer_ticks"
            )

    @classmethod
    def for_pe(cls, neurons_per_pe: int, ring_buffer_ticks: int,
               weight_bits: int = 16, synapse_types: int = 2) -> WordLayout:
        return cls(max(1, math.ceil(math.log2(neurons_per_pe))),
                   int(math.log2(ring_buffer_ticks)), weight_bits, type_bits(synapse_types))

    @property
    def type_shift(self) -> int:
        return self.index_bits

    @property
    def delay_shift(self) -> int:
        return self.index_bits + self.type_bits

    @property
    def weight_shift(self) -> int:
        return WORD_BITS - self.weight_bits  # the weight is the word's top bits

    def pack(self, weight: np.ndarray, delay: np.ndarray, syn_type: np.ndarray,
             index: np.ndarray) -> np.ndarray:
        fields = (("weight", weight, self.weight_bits), ("delay", delay, self.delay_bits),
                  ("synapse type", syn_type, self.type_bits),
                  ("neuron index", index, self.index_bits))
        for name, values, bits in fields:
            values = np.asarray(values)
            if values.size and (values.min() < 0 or values.max() >= 1 << bits):
                bad = int(np.flatnonzero((values < 0) | (values >= 1 << bits))[0])
                raise NumericsError(
                    f"synaptic word field '{name}'[{bad}] = {int(values[bad])} does not fit "
                    f"in {bits} bits"
                )
        return (
            (np.asarray(weight, np.uint32) << self.weight_shift)
            | (np.asarray(delay, np.uint32) << self.delay_shift)
            | (np.asarray(syn_type, np.uint32) << self.type_shift)
            | np.asarray(index, np.uint32)
        ).astype(np.uint32)

    def unpack(self, words: np.ndarray) -> tuple[np.ndarray, ...]:
        """(weight, delay, synapse type, neuron index) as int64 arrays."""
        w = np.asarray(words, np.uint32).astype(np.int64)
        return (
            (w >> self.weight_shift) & ((1 << self.weight_bits) - 1),
            (w >> self.delay_shift) & ((1 << self.delay_bits) - 1),
            (w >> self.type_shift) & ((1 << self.type_bits) - 1),
            w & ((1 << self.index_bits) - 1),
        )


def weight_frac_bits(max_abs_weight: float, weight_bits: int = 16) -> int:
    """Fraction bits of a weight scale that puts the largest weight in the top bit range.

    Chosen per (post population, synapse type), like sPyNNaker's per-synapse-type ring
    buffer shift, so small-weight projections keep their precision.
    """
    if max_abs_weight <= 0:
        return ACCUM_FRAC
    limit = (1 << weight_bits) - 1
    return int(math.floor(math.log2(limit / max_abs_weight)))


def quantise_weights(weights: np.ndarray, frac_bits: int, *, what: str,
                     weight_bits: int = 16) -> np.ndarray:
    """|w| as unsigned integers of scale 2**frac_bits; values that round to 0 stay 0."""
    words = np.rint(np.abs(np.asarray(weights, np.float64)) * 2.0**frac_bits)
    limit = (1 << weight_bits) - 1
    if words.size and words.max() > limit:
        i = int(np.argmax(words))
        raise NumericsError(
            f"{what} weight[{i}] = {weights[i]:g} needs {int(words[i])} > {limit} at scale "
            f"2^{frac_bits}; the weight scale of its post population is too fine"
        )
    return words.astype(np.int64)


def dequantise_weights(words: np.ndarray, frac_bits: int) -> np.ndarray:
    return np.asarray(words, np.float64) * 2.0**-frac_bits


def ring_to_accum(ring: np.ndarray, frac_bits: int) -> np.ndarray:
    """Summed weight words (scale 2**frac_bits) as s16.15 raw integers, flooring."""
    ring = np.asarray(ring, np.int64)
    shift = ACCUM_FRAC - frac_bits
    return _sat(ring << shift if shift >= 0 else ring >> -shift)


# --------------------------------------------------------------------------- neuron kernels


def _refuse(population: Population) -> None:
    allowed = ", ".join(c.value for c in SUPPORTED_CELLS)
    raise NumericsError(
        f"Population '{population.label}': cell type {population.cell_type.value} has no "
        f"SpiNNaker2 kernel; use one of: {allowed}"
    )


def pe_kernel(population: Population, dt: float, *, numerics: str,
              frac_bits: Mapping[Receptor | str, int],
              negative: frozenset[Receptor | str] | None = None) -> NeuronKernel:
    """The kernel a PE runs for ``population``'s cell type.  ``negative``: the synapse
    types whose words hold magnitudes of negative weights (by default a current-based
    standard cell's inhibitory one)."""
    if population.cell_type in ODE_CELLS:
        return S2ODEKernel(population, dt, numerics=numerics, frac_bits=frac_bits,
                           negative=negative)
    return S2LIFKernel(population, dt, numerics=numerics, frac_bits=frac_bits)


def default_negative(population: Population) -> frozenset[Receptor | str]:
    """The synapse types of a standard cell that carry negative weights: the inhibitory
    one of a current-based cell (PyNN's sign convention)."""
    if population.cell_type.composed or population.cell_type.conductance_based:
        return frozenset()
    return frozenset({Receptor.INHIBITORY})


class S2LIFKernel(NeuronKernel):
    """A PE's leaky integrate-and-fire update for one population, in ``numerics``.

    ``receive`` takes the tick's ring-buffer sums (weight words at the population's scale,
    ``frac_bits`` per synapse type); ``advance`` then runs the tick in sPyNNaker's order:
    the received input enters the synaptic state first, so input scheduled for tick t
    already moves v in tick t (one step earlier than Brian2's schedule).
    """

    input_dtype = np.dtype(np.int64)

    def __init__(self, population: Population, dt: float, *, numerics: str,
                 frac_bits: Mapping[Receptor, int]) -> None:
        super().__init__(population, dt)
        cell_type = population.cell_type
        if cell_type not in LIF_CELLS:
            _refuse(population)
        self.numerics = numerics
        self.frac_bits = dict(frac_bits)
        self.syn_names = (("gsyn_exc", "gsyn_inh") if cell_type.conductance_based
                          else ("isyn_exc", "isyn_inh"))
        self.fixed = numerics == "s16.15"
        self._configure()
        self.reset()

    def reconfigure(self, population: Population) -> None:
        """New parameters between runs, the state kept: sPyNNaker rewrites a population's
        parameter region between runs, converted to the PE's format as at load."""
        check_same_shape(self.population, population)
        self.population = population
        self._configure()

    def _configure(self) -> None:
        """The population's parameters in the PE's format (s16.15 or float32)."""
        population, dt = self.population, self.dt
        label, cell_type = population.label, population.cell_type
        p = {k: np.asarray(v, np.float64) for k, v in population.parameters.items()}
        exp_tc = np.exp(-dt / p["tau_m"])
        tau = {Receptor.EXCITATORY: p["tau_syn_E"], Receptor.INHIBITORY: p["tau_syn_I"]}
        decay = {r: np.exp(-dt / t) for r, t in tau.items()}
        # A weight w adds w * tau/dt * (1 - decay) in its first tick, the integral of the
        # exponential kernel over the tick [src: sPyNNaker synapse_types_exponential_impl.h]
        init = {r: (tau[r] / dt) * (1 - decay[r]) for r in SYNAPSE_TYPES}
        # IF_cond_alpha's conductance is the same alpha function as IF_curr_alpha's current
        self.alpha = cell_type in (CellType.IF_CURR_ALPHA, CellType.IF_COND_ALPHA)
        rise_gain = {r: np.e / tau[r] for r in SYNAPSE_TYPES}  # w e / tau per spike
        rise_step = {r: dt * decay[r] for r in SYNAPSE_TYPES}  # h D
        # sPyNNaker's refractory ticks: ceil(tau_refrac / dt) [src: sPyNNaker
        # neuron_model_leaky_integrate_and_fire.py, _tau_refrac_timesteps]; the rounding
        # to 9 digits keeps 0.3 / 0.1 at 3 ticks, not 4
        self.refract_ticks = np.ceil(np.round(p["tau_refrac"] / dt, 9)).astype(np.int64)
        what = f"Population '{label}' parameter"
        if self.fixed:
            conv = {k: to_accum(p[k], what=f"{what} {k}") for k in
                    ("v_rest", "v_reset", "v_thresh", "i_offset")}
            self.r_mem = to_accum(p["tau_m"] / p["cm"], what=f"{what} tau_m/cm")
            self.exp_tc = to_decay(exp_tc)
            self.decay = {r: to_decay(d) for r, d in decay.items()}
            self.init = {r: to_decay(x) for r, x in init.items()}
            self.rise_gain = {r: to_accum(x, what=f"{what} e/tau_syn") for r, x in
                              rise_gain.items()}
            self.rise_step = {r: to_accum(x, what=f"{what} dt") for r, x in rise_step.items()}
        else:
            f32 = np.float32
            conv = {k: p[k].astype(f32) for k in ("v_rest", "v_reset", "v_thresh", "i_offset")}
            self.r_mem = (p["tau_m"] / p["cm"]).astype(f32)
            self.exp_tc = exp_tc.astype(f32)
            self.decay = {r: d.astype(f32) for r, d in decay.items()}
            self.init = {r: x.astype(f32) for r, x in init.items()}
            self.rise_gain = {r: x.astype(f32) for r, x in rise_gain.items()}
            self.rise_step = {r: x.astype(f32) for r, x in rise_step.items()}
        self.v_rest, self.v_reset = conv["v_rest"], conv["v_reset"]
        self.v_thresh, self.i_offset = conv["v_thresh"], conv["i_offset"]
        if cell_type.conductance_based:
            self.e_rev = {Receptor.EXCITATORY: self._convert(p["e_rev_E"], "e_rev_E"),
                          Receptor.INHIBITORY: self._convert(p["e_rev_I"], "e_rev_I")}

    def _convert(self, values: np.ndarray, name: str) -> np.ndarray:
        if self.fixed:
            return to_accum(values, what=f"Population '{self.population.label}' {name}")
        return np.asarray(values, np.float64).astype(np.float32)

    def reset(self) -> None:
        init = self.population.initial_values
        self.v = self._convert(init["v"], "initial value v")
        self.syn = {r: self._convert(self._sign(name) * np.asarray(init[name], np.float64),
                                     f"initial value {name}")
                    for r, name in zip(SYNAPSE_TYPES, self.syn_names, strict=True)}
        self.pending = {r: np.zeros(self.size, np.int64) for r in SYNAPSE_TYPES}
        self.rise = {r: (np.zeros(self.size, np.int64) if self.fixed
                         else np.zeros(self.size, np.float32)) for r in SYNAPSE_TYPES}
        self.refract = np.zeros(self.size, np.int64)

    def receive(self, receptor: Receptor, drive: np.ndarray) -> None:
        self.pending[Receptor(receptor)] += np.asarray(drive, np.int64)

    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        i_ext = np.zeros(self.size) if i_ext is None else i_ext
        spiked = self._tick_fixed(i_ext) if self.fixed else self._tick_float(i_ext)
        for r in SYNAPSE_TYPES:
            self.pending[r][:] = 0
        return np.flatnonzero(spiked)

    def _tick_fixed(self, i_ext: np.ndarray) -> np.ndarray:
        for r in SYNAPSE_TYPES:
            arrived = ring_to_accum(self.pending[r], self.frac_bits[r])
            if self.alpha:
                self.rise[r] = _sat(self.rise[r] + mul_accum(arrived, self.rise_gain[r]))
                continue
            added = mul_decay(arrived, self.init[r])
            self.syn[r] = _sat(self.syn[r] + added)
        exc, inh = self.syn[Receptor.EXCITATORY], self.syn[Receptor.INHIBITORY]
        if self.population.cell_type.conductance_based:
            i_syn = _sat(mul_accum(exc, self.e_rev[Receptor.EXCITATORY] - self.v)
                         + mul_accum(inh, self.e_rev[Receptor.INHIBITORY] - self.v))
        else:
            i_syn = exc - inh
        i_total = _sat(i_syn + self.i_offset + to_accum(i_ext, what="injected current"))
        alpha = _sat(mul_accum(i_total, self.r_mem) + self.v_rest)
        active = self.refract <= 0
        self.v = np.where(active, _sat(alpha - mul_decay(alpha - self.v, self.exp_tc)), self.v)
        spiked = active & (self.v >= self.v_thresh)
        self._fire(spiked)
        for r in SYNAPSE_TYPES:
            decayed = mul_decay(self.syn[r], self.decay[r])
            if self.alpha:  # i <- D i + h D a, a <- D a
                decayed = _sat(decayed + mul_accum(self.rise[r], self.rise_step[r]))
                self.rise[r] = mul_decay(self.rise[r], self.decay[r])
            self.syn[r] = decayed
        return spiked

    def _tick_float(self, i_ext: np.ndarray) -> np.ndarray:
        f32 = np.float32
        for r in SYNAPSE_TYPES:
            w = (self.pending[r] * 2.0 ** -self.frac_bits[r]).astype(f32)
            if self.alpha:
                self.rise[r] = (self.rise[r] + w * self.rise_gain[r]).astype(f32)
                continue
            self.syn[r] = self.syn[r] + w * self.init[r]
        exc, inh = self.syn[Receptor.EXCITATORY], self.syn[Receptor.INHIBITORY]
        if self.population.cell_type.conductance_based:
            i_syn = exc * (self.e_rev[Receptor.EXCITATORY] - self.v) + inh * (
                self.e_rev[Receptor.INHIBITORY] - self.v)
        else:
            i_syn = exc - inh
        alpha = (i_syn + self.i_offset + np.asarray(i_ext, f32)) * self.r_mem + self.v_rest
        active = self.refract <= 0
        self.v = np.where(active, alpha - (alpha - self.v) * self.exp_tc, self.v).astype(f32)
        spiked = active & (self.v >= self.v_thresh)
        self._fire(spiked)
        for r in SYNAPSE_TYPES:
            decayed = self.syn[r] * self.decay[r]
            if self.alpha:
                decayed = decayed + self.rise[r] * self.rise_step[r]
                self.rise[r] = (self.rise[r] * self.decay[r]).astype(f32)
            self.syn[r] = decayed.astype(f32)
        return spiked

    def _fire(self, spiked: np.ndarray) -> None:
        self.v = np.where(spiked, self.v_reset, self.v)
        self.refract = np.where(spiked, self.refract_ticks, self.refract - 1)

    def compiled_form(self) -> Form:
        """The kernel as the engine's compiled loop runs it (its PE_LIF kind, in
        :mod:`toolchain.sim.loop_pe`: the operations of :meth:`advance`, value for value);
        its arrays are shared in place.  The ring sums wait in ``pending`` (the inboxes)
        as :meth:`receive` leaves them; the values the loop's fields lack are ``params``
        rows (``loop_pe.PE_ROWS``)."""
        E, inh = SYNAPSE_TYPES
        zero = np.zeros(1)
        e_rev = getattr(self, "e_rev", {E: zero, inh: zero})
        mode = ((1 if self.fixed else 0) | (2 if self.alpha else 0)
                | (4 if self.population.cell_type.conductance_based else 0))
        rows = [self.v_rest, self.r_mem, self.rise_step[E], self.rise_step[inh], e_rev[E],
                e_rev[inh], self.frac_bits[E], self.frac_bits[inh], mode]
        width = max(np.size(x) for x in rows)
        params = np.stack([np.broadcast_to(np.asarray(x, np.float64).ravel(), (width,))
                           for x in rows])
        channels = [(name, self.syn[r], self.decay[r], self.init[r])
                    for name, r in zip(self.syn_names, SYNAPSE_TYPES, strict=True)]
        inbox = [self.pending[r] for r in SYNAPSE_TYPES]
        if self.alpha:  # the rise terms: their gain where the loop keeps a channel's input gain
            channels += [(f"rise_{r.value}", self.rise[r], self.decay[r], self.rise_gain[r])
                         for r in SYNAPSE_TYPES]
            inbox += [np.zeros(self.size, np.int64) for _ in SYNAPSE_TYPES]

        def reading(variable: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
            sign = self._sign(variable)
            if self.fixed:
                return lambda raw, idx: sign * from_accum(raw)
            return lambda raw, idx: sign * raw

        signals = {"v": (None, reading("v")),
                   **{name: (name, reading(name)) for name in self.syn_names}}
        return Form(PE_LIF, self.v, self.refract, self.refract_ticks, self.v_thresh,
                    self.v_reset, self.exp_tc, self.i_offset, channels,
                    dict(zip(SYNAPSE_TYPES, self.syn_names, strict=True)), inbox,
                    signals=signals, params=params)

    def _raw(self, variable: str) -> np.ndarray:
        self._check_variable(variable)
        if variable == "v":
            return self.v
        return self.syn[SYNAPSE_TYPES[self.syn_names.index(variable)]]

    def _sign(self, variable: str) -> int:
        """The PE holds the inhibitory current as a magnitude (it subtracts it); PyNN, and
        the float reference, give a current-based inhibitory current its negative sign."""
        return -1 if variable == "isyn_inh" else 1

    def get(self, variable: str) -> np.ndarray:
        raw = self._raw(variable)
        value = from_accum(raw) if self.fixed else np.asarray(raw, np.float64)
        return self._sign(variable) * value

    def set(self, variable: str, values: np.ndarray) -> None:
        self._raw(variable)
        values = self._sign(variable) * np.asarray(self._per_neuron(variable, values))
        new = self._convert(values, variable)
        if variable == "v":
            self.v = new
        else:
            self.syn[SYNAPSE_TYPES[self.syn_names.index(variable)]] = new


class S2ODEKernel(NeuronKernel):
    """A PE running a neuron model as the reference writes it (its equations and its
    integration scheme: Brian2's euler or rk2, the exact leak of IF_curr_delta), with every
    state variable held in ``numerics`` between ticks: s16.15 (each value floored to 2^-15
    after the tick, as the flooring shift of its last product leaves it, saturating) or
    float32 (rounded to nearest).  A PE is a general-purpose core, so any model runs on it;
    what differs from the float reference is the format of its state and its 16-bit input
    words.  The arithmetic inside a tick is not modelled operation by operation: exp() and
    the products are the reference's, a simplification of the PE's expk()/expf() and its
    fixed-point products, whose errors are of the order of the format's step.

    A model whose scheme needs a shorter step than the tick (``spec.ODE_SUBSTEP_MS``:
    Hodgkin-Huxley) is integrated in ``substeps`` equal steps per tick: the tick's input
    enters at the first, a spike in any of them is the tick's spike, the state is in the
    PE's format after each.
    """

    input_dtype = np.dtype(np.int64)

    def __init__(self, population: Population, dt: float, *, numerics: str,
                 frac_bits: Mapping[Receptor | str, int],
                 negative: frozenset[Receptor | str] | None = None) -> None:
        super().__init__(population, dt)
        if population.cell_type not in ODE_CELLS:
            _refuse(population)
        self.numerics = numerics
        self.fixed = numerics == "s16.15"
        self.frac_bits = dict(frac_bits)
        self.substeps = ode_substeps(population.cell_type, dt)
        self.inner = reference_kernel(population, dt / self.substeps)
        self._negative = default_negative(population) if negative is None else negative
        self._store()

    def _format(self, values: np.ndarray, name: str) -> np.ndarray:
        values = np.asarray(values, np.float64)
        if not self.fixed:
            return values.astype(np.float32).astype(np.float64)
        raw = np.floor(values * ACCUM_ONE)
        if not np.isfinite(raw).all():
            return values  # the reference kernel reports a blow-up itself
        return np.clip(raw, INT32_MIN, INT32_MAX) / ACCUM_ONE

    def _store(self) -> None:
        state = self.inner.state  # type: ignore[attr-defined]
        for name, values in state.items():
            state[name] = self._format(values, name)

    def reset(self) -> None:
        if hasattr(self, "inner"):
            self.inner.reset()
            self._store()

    def seed_noise(self, seed: int) -> None:
        self.inner.seed_noise(seed)

    def receive(self, receptor: Receptor | str, drive: np.ndarray) -> None:
        r = receptor if self.population.cell_type.composed else Receptor(receptor)
        value = dequantise_weights(drive, self.frac_bits[r])  # the ring's summed words
        self.inner.receive(r, -value if r in self._negative else value)
        self._store()

    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        if i_ext is not None:
            i_ext = self._format(i_ext, "i_ext")
        if self.substeps == 1:
            fired = self.inner.advance(step, i_ext)
            self._store()
            return fired
        spikes = []
        for k in range(self.substeps):
            spikes.append(self.inner.advance(step * self.substeps + k, i_ext))
            self._store()
        return np.unique(np.concatenate(spikes))

    def get(self, variable: str) -> np.ndarray:
        return self.inner.get(variable)

    def set(self, variable: str, values: np.ndarray) -> None:
        self.inner.set(variable, values)
        self._store()

    def reconfigure(self, population: Population) -> None:
        self.inner.reconfigure(population)
        self.population = population
