"""Loihi's arithmetic plugged into the shared engine: compartments as a
:class:`~toolchain.sim.kernels.NeuronKernel`, weight mantissas as a
:class:`~toolchain.sim.synapses.WeightCodec`, the learning engine as a
:class:`~toolchain.sim.plasticity.PlasticityModel`.

The integers are :mod:`~toolchain.targets.loihi.fixed`'s, converted from the IR by
:mod:`~toolchain.targets.loihi.convert` (and :mod:`~toolchain.targets.loihi.learning` for
STDP rules); nothing here computes a register value of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from toolchain.ir import Population, Projection, Receptor, STDPRule, Vogels2011Rule
from toolchain.sim.fast import FIXED_CUBA, Form
from toolchain.sim.kernels import NeuronKernel, StateError
from toolchain.sim.numerics import Numerics
from toolchain.sim.plasticity import PlasticityModel
from toolchain.sim.synapses import SynapseMatrix, WeightCodec
from toolchain.targets.loihi.convert import (
    DEFAULT_VTH_MANT,
    NOISE_DRAW_HIGH,
    NOISE_DRAW_LOW,
    LifConversion,
    WeightConversion,
    bias_to_mant_exp,
    convert_population,
    convert_weights,
)
from toolchain.targets.loihi.fixed import (
    ACT_SHIFT,
    DECAY_UNITY,
    UV_LIMIT,
    WEIGHT_BITS,
    WEIGHT_EXP_MAX,
    WEIGHT_EXP_MIN,
    LifCompartments,
    LoihiNumericsError,
    SignMode,
    mantissa_range,
    round_mantissas,
)
from toolchain.targets.loihi.learning import (
    ACC_FRAC_BITS,
    ACC_MAX,
    LearningRule,
    add_impulse,
    convert_plastic_weights,
    decay_trace,
    map_stdp_rule,
)

#: The engine accumulates each projection's drive ``m << (weight_exp + 8)`` in one ring
#: per post population; the kernel floors the sum by 8 bits.  For exponents >= 0 (all
#: that :func:`convert_weights` chooses) this is exactly lava's shift.  lava floors a
#: negative exponent's shift per Dense process and, in DelayDense, per delay; the engine
#: floors once per population and step, so the two agree when at most one projection
#: with a negative exponent feeds a population and it has a single delay.
DRIVE_FRAC_BITS = -WEIGHT_EXP_MIN


class LoihiWeights(WeightCodec):
    """A projection's synapse memory: 8-bit mantissas with one exponent and sign mode."""

    dtype = np.dtype(np.int64)

    def __init__(self, weight_exp: int, sign_mode: SignMode, na_per_mantissa: float,
                 num_weight_bits: int = WEIGHT_BITS) -> None:
        if not WEIGHT_EXP_MIN <= weight_exp <= WEIGHT_EXP_MAX:
            raise LoihiNumericsError(
                f"weight_exp = {weight_exp} is outside the Loihi range "
                f"{WEIGHT_EXP_MIN}..{WEIGHT_EXP_MAX}"
            )
        self.weight_exp, self.sign_mode = weight_exp, sign_mode
        self.na_per_mantissa, self.num_weight_bits = na_per_mantissa, num_weight_bits
        self._shift = weight_exp + DRIVE_FRAC_BITS

    @classmethod
    def from_conversion(cls, conversion: WeightConversion) -> LoihiWeights:
        return cls(conversion.weight_exp, conversion.sign_mode, conversion.na_per_mantissa,
                   conversion.num_weight_bits)

    def encode(self, weights: np.ndarray) -> np.ndarray:
        """nA to the nearest mantissas; beyond the format they saturate, as on the chip."""
        scaled = np.asarray(weights, dtype=np.float64) / self.na_per_mantissa
        return round_mantissas(scaled, self.sign_mode, self.num_weight_bits)[0]

    def decode(self, stored: np.ndarray) -> np.ndarray:
        return np.asarray(stored, dtype=np.float64) * self.na_per_mantissa

    def drive(self, stored: np.ndarray) -> np.ndarray:
        return stored << self._shift


@dataclass(frozen=True)
class CompartmentNoise:
    """One noisy source on the noise generator of some compartments of a population: from
    step ``start`` to ``stop`` (None: the end) each draws a uniform integer every step,
    times ``multiplier``, into v (:func:`~toolchain.targets.loihi.convert.convert_noise`);
    ``seed`` starts the draws (the engine's seeds for the source)."""

    indices: np.ndarray
    start: int
    stop: int | None
    multiplier: int
    seed: tuple[int, ...]


class LoihiKernel(NeuronKernel):
    """A population as Loihi compartments on the shared engine.

    Timing: the engine hands a step's arriving input to :meth:`receive` after
    :meth:`advance`, and the next advance adds it to u.  A spike in step k with a delay
    of d steps therefore moves u in step k + d + 1, which is lava's ``DelayDense`` with
    delay d (its output buffer adds one step, as ``Dense`` does); ``Dense`` alone would be
    d = 0, which the IR cannot express (its minimum delay is one step).

    u is the soma's synaptic current, read (in nA) as ``current``: ``isyn_exc``, or
    ``isyn_inh`` for a population fed only by inhibitory projections; the other reads 0
    (:mod:`toolchain.targets.recording`: the compiler refuses recording either where both
    receptors feed one compartment).  A neuron with dendrites (tau_syn_E and tau_syn_I
    differ; a composed cell's receptors) takes each receptor's input in its compartment,
    whose current is that receptor's variable (``LifConversion.variables``).  An injected
    current (DC, step or AC source: the host's bias schedule) is written into the bias
    register with the population's own bias, the sum quantised once to the bias format;
    ``noise`` adds the compartments' noise generator draws.
    """

    input_dtype = np.dtype(np.int64)

    def __init__(self, population: Population, dt: float, conversion: LifConversion,
                 current: str = "isyn_exc", noise: tuple[CompartmentNoise, ...] = ()) -> None:
        super().__init__(population, dt)
        self.conversion = conversion
        self.current = current
        self.compartments = LifCompartments(conversion.params, conversion.u0, conversion.v0,
                                            list(conversion.ud0))
        if conversion.compartments > 1:
            self.current = "isyn_exc"
        n = conversion.compartments
        self._pending = [np.zeros(population.size, dtype=np.int64) for _ in range(n)]
        self._has_input = [False] * n
        self.noise = noise
        self._noise_rng: list[np.random.Generator] = []
        self.reset_noise()

    def reset_noise(self) -> None:
        self._noise_rng = [np.random.default_rng(list(n.seed)) for n in self.noise]

    def _noise(self, step: int) -> np.ndarray | None:
        """The generators' draws into v this step (None: none is on)."""
        out = None
        for source, rng in zip(self.noise, self._noise_rng, strict=True):
            if step < source.start or (source.stop is not None and step >= source.stop) \
                    or not source.multiplier:
                continue
            draw = rng.integers(NOISE_DRAW_LOW, NOISE_DRAW_HIGH, source.indices.size)
            if out is None:
                out = np.zeros(self.size, dtype=np.int64)
            out[source.indices] += draw * source.multiplier
        return out

    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        a_in: list[np.ndarray | None] = []
        for k, pending in enumerate(self._pending):
            if self._has_input[k]:
                a_in.append(pending >> DRIVE_FRAC_BITS)
                pending[:] = 0
                self._has_input[k] = False
            else:
                a_in.append(None)
        extra = None
        if i_ext is not None:  # the host rewrites the one bias register: base + injected
            base = self.conversion.params.bias
            mant, exp = bias_to_mant_exp(base + np.asarray(i_ext)
                                         * self.conversion.bias_units_per_na)
            extra = (mant << exp) - base
        if self.noise:
            drawn = self._noise(step)
            if drawn is not None:
                extra = drawn if extra is None else extra + drawn
        return self.compartments.step(a_in[0], extra, a_in[1:])

    def receive(self, receptor: Receptor | str, drive: np.ndarray) -> None:
        k = self.conversion.compartment_of(receptor)
        self._pending[k] += drive
        self._has_input[k] = True

    def _channel(self, k: int) -> str:
        return "u" if k == 0 else ("u_d" if k == 1 else f"u_d{k}")

    def _state(self, k: int) -> np.ndarray:
        c = self.compartments
        return c.u if k == 0 else c.u_ds[k - 1]

    def compiled_form(self) -> Form | None:
        """The compartments as the engine's compiled loop runs them (its FIXED_CUBA kind:
        the same float64 operations on exact integers as :meth:`advance`), their
        registers shared in place; None for more than two compartments per neuron (the
        loop's voltage update adds two currents), which run step by step."""
        c, conv = self.compartments, self.conversion
        if conv.compartments > 2:
            return None
        decays = [c._decay_u, *c._decay_ds]
        channels = [(self._channel(k), self._state(k), np.asarray(d) / DECAY_UNITY, 0.0)
                    for k, d in enumerate(decays)]
        inbox, got = list(self._pending), list(self._has_input)
        feeds: dict[object, str] = {Receptor.EXCITATORY: "u", Receptor.INHIBITORY: "u"}
        feeds.update({r: self._channel(k) for r, k in conv.feeds.items()})
        n = self.size
        v_origin = np.broadcast_to(conv.v_origin, (n,))
        v_scale = np.broadcast_to(conv.mv_per_unit, (n,))

        def voltage(raw: np.ndarray, idx: np.ndarray) -> np.ndarray:
            return v_origin[idx] + raw * v_scale[idx]

        def current(units: float) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
            per = np.broadcast_to(units, (n,))
            return lambda raw, idx: raw / per[idx]

        held = self._currents()
        signals: dict[str, tuple[str | None, Callable | None]] = {"v": (None, voltage)}
        for variable in self.population.state_variables:
            if variable in held:
                k = held[variable]
                signals[variable] = (self._channel(k), current(conv.units[k]))
            elif variable != "v":
                signals[variable] = (None, lambda raw, idx: np.zeros(raw.shape))

        def restore(k1: int) -> None:
            self._has_input[:] = got

        refractory = c._refractory if c._refractory is not None else 0
        return Form(FIXED_CUBA, c.v, c.refractory_left, refractory, c._threshold, 0.0,
                    np.asarray(c._decay_v) / DECAY_UNITY, c._bias, channels, feeds, inbox,
                    got, (ACT_SHIFT, UV_LIMIT, DRIVE_FRAC_BITS), restore, signals)

    def _currents(self) -> dict[str, int]:
        """Which compartment holds each recordable current."""
        conv = self.conversion
        if conv.compartments == 1 and conv.variables[0] is None:
            return {self.current: 0}
        return {var: k for k, var in enumerate(conv.variables) if var is not None}

    def get(self, variable: str) -> np.ndarray:
        self._check_variable(variable)
        conv = self.conversion
        if variable == "v":
            return conv.v_origin + self.compartments.v * conv.mv_per_unit
        k = self._currents().get(variable)
        if k is not None:
            return self._state(k) / conv.units[k]
        return np.zeros(self.size)

    def set(self, variable: str, values: np.ndarray) -> None:
        self._check_variable(variable)
        arr = self._per_neuron(variable, values)
        c, conv = self.compartments, self.conversion
        k = self._currents().get(variable)
        if variable == "v":
            c.v = np.clip(np.rint((arr - conv.v_origin) / conv.mv_per_unit),
                          -UV_LIMIT + 1, UV_LIMIT - 1)
        elif k is not None:
            value = np.clip(np.rint(arr * conv.units[k]), -UV_LIMIT, UV_LIMIT)
            if k == 0:
                c.u = value
            else:
                c.u_ds[k - 1] = value
        elif np.any(arr != 0):
            raise StateError(
                f"Population '{self.population.label}': {variable} cannot be set on Loihi; a "
                f"compartment has one synaptic current u, read and set as {self.current}"
            )

    def reset(self) -> None:
        self.compartments.reset()
        for pending in self._pending:
            pending[:] = 0
        self._has_input[:] = [False] * len(self._has_input)
        self.reset_noise()


class LoihiNumerics(Numerics):
    """Loihi's arithmetic for the shared engine: converts populations and projections as
    they are built and keeps the conversions (``populations``, ``projections``) so the
    compiler can report the quantisation.  Given conversions override the automatic ones
    (for networks configured in Loihi integers directly, as the lava comparison does)."""

    def __init__(self, *, vth_mant: int = DEFAULT_VTH_MANT,
                 num_weight_bits: int = WEIGHT_BITS,
                 populations: dict[str, LifConversion] | None = None,
                 weights: dict[str, LoihiWeights] | None = None,
                 learning_epoch: int = 1, learning_seed: int | None = None,
                 currents: dict[str, str] | None = None,
                 noise: dict[str, tuple[CompartmentNoise, ...]] | None = None) -> None:
        self.vth_mant, self.num_weight_bits = vth_mant, num_weight_bits
        self.populations: dict[str, LifConversion] = dict(populations or {})
        self.projections: dict[str, WeightConversion] = {}
        self._codecs: dict[str, LoihiWeights] = dict(weights or {})
        # the learning engine (toolchain.targets.loihi.learning): epoch length in steps,
        # and a seed for stochastic weight rounding (None: round to nearest)
        self.learning_epoch, self.learning_seed = learning_epoch, learning_seed
        self.learning: dict[str, LearningRule] = {}  # per plastic projection
        # per population, the variable its one current is read as (default isyn_exc)
        self.currents: dict[str, str] = dict(currents or {})
        # per population, the noise generators its compartments run (noisy sources)
        self.noise: dict[str, tuple[CompartmentNoise, ...]] = dict(noise or {})

    def kernel(self, population: Population, dt: float) -> NeuronKernel:
        conv = self.populations.get(population.label)
        if conv is None:
            conv = convert_population(population, dt, vth_mant=self.vth_mant)
            self.populations[population.label] = conv
        return LoihiKernel(population, dt, conv,
                           self.currents.get(population.label, "isyn_exc"),
                           self.noise.get(population.label, ()))

    def weights(self, projection: Projection, post: Population) -> WeightCodec:
        codec = self._codecs.get(projection.label)
        if codec is not None:
            return codec
        conv = self.populations.get(post.label)
        if conv is None:
            raise LoihiNumericsError(
                f"Projection '{projection.label}': post population '{post.label}' has no "
                f"Loihi conversion yet; build kernels before weights"
            )
        units = conv.units_for(projection.receptor)
        if projection.plasticity is not None:
            wc = convert_plastic_weights(projection, units, self.num_weight_bits)
        else:
            wc = convert_weights(projection.label, projection.weight, units,
                                 num_weight_bits=self.num_weight_bits)
        self.projections[projection.label] = wc
        return LoihiWeights.from_conversion(wc)

    def plasticity(self, projection: Projection, matrix: SynapseMatrix, codec: WeightCodec,
                   dt: float) -> PlasticityModel:
        """Loihi's learning engine for the projection's STDP rule (pair traces, product
        terms, epochs); refuses a rule the engine cannot represent, by name."""
        if not isinstance(codec, LoihiWeights):
            raise LoihiNumericsError(
                f"Projection '{projection.label}': Loihi learning needs Loihi weights, got "
                f"{type(codec).__name__}")
        config = map_stdp_rule(projection, codec, dt, epoch_steps=self.learning_epoch,
                               stochastic=self.learning_seed is not None)
        self.learning[projection.label] = config
        assert projection.plasticity is not None
        return LoihiSTDP(projection.plasticity, matrix, codec, dt, config,
                         seed=self.learning_seed)


class LoihiSTDP(PlasticityModel):
    """The learning engine on the shared engine's synapse events, one projection.

    Traces live per synapse (on the chip x1 is per input axon and y1 per compartment; with
    one delay per axon the values are the same) and decay lazily to the step of the event
    that reads them.  Every event re-evaluates its synapse's current epoch from the weight
    at the epoch's start, with the traces decayed to the epoch's end, and writes the
    result: the weight is always what the epoch gives if no further spike comes, and each
    epoch rounds once.  The engine hands a pre spike's updated weight to the post neuron
    (Brian2's order); on the chip that spike still carries the epoch's old weight.
    """

    def __init__(self, rule: STDPRule | Vogels2011Rule, matrix: SynapseMatrix,
                 codec: LoihiWeights, dt: float,
                 config: LearningRule, *, seed: int | None = None) -> None:
        super().__init__(rule, matrix, codec, dt)
        self.config = config
        self.seed = seed
        low, high = mantissa_range(codec.sign_mode, codec.num_weight_bits)
        self._low, self._high = max(config.w_min, low), min(config.w_max, high)
        self.reset()

    def reset(self) -> None:
        n = self.matrix.size
        self.x = np.zeros(n, dtype=np.int64)
        self.y = np.zeros(n, dtype=np.int64)
        self._last = np.zeros(n, dtype=np.int64)
        self._epoch = np.full(n, -1, dtype=np.int64)
        self._w_start = np.zeros(n, dtype=np.int64)
        self._written = np.zeros(n, dtype=np.int64)  # what the last evaluation wrote
        self._x0 = np.zeros(n, dtype=bool)
        self._y0 = np.zeros(n, dtype=bool)
        self._rng = None if self.seed is None else np.random.default_rng(self.seed)
        self._draw = np.zeros(n)

    def on_pre(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        self._touch(step, synapses, weights)
        self.x[synapses] = add_impulse(self.x[synapses], self.config.x1.impulse)
        self._x0[synapses] = True
        self._write(step, synapses, weights)

    def on_post(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        self._touch(step, synapses, weights)
        self.y[synapses] = add_impulse(self.y[synapses], self.config.y1.impulse)
        self._y0[synapses] = True
        self._write(step, synapses, weights)

    def _touch(self, step: int, syn: np.ndarray, weights: np.ndarray) -> None:
        """Open a new epoch where one ended; decay the traces to ``step``."""
        epoch = step // self.config.epoch_steps
        # a weight set from outside (set_weights) starts a new epoch for its synapse: the
        # interrupted epoch's earlier spikes no longer count
        fresh = syn[(self._epoch[syn] != epoch) | (weights[syn] != self._written[syn])]
        if fresh.size:
            self._epoch[fresh] = epoch
            self._w_start[fresh] = weights[fresh]
            self._x0[fresh] = False
            self._y0[fresh] = False
            if self._rng is not None:
                self._draw[fresh] = self._rng.random(fresh.size)
        age = step - self._last[syn]
        self.x[syn] = decay_trace(self.x[syn], self.config.x1.factor, age)
        self.y[syn] = decay_trace(self.y[syn], self.config.y1.factor, age)
        self._last[syn] = step

    def _write(self, step: int, syn: np.ndarray, weights: np.ndarray) -> None:
        c = self.config
        rest = c.epoch_steps - 1 - step % c.epoch_steps  # steps to the epoch's end
        x1 = decay_trace(self.x[syn], c.x1.factor, rest) * self._y0[syn]
        y1 = decay_trace(self.y[syn], c.y1.factor, rest) * self._x0[syn]
        w = self._w_start[syn]
        if c.weighted_potentiation:
            x1 = x1 * (c.w_max - w)
        if c.weighted_depression:
            y1 = y1 * (w - c.w_min)
        dw = c.potentiation.apply(x1) + c.depression_sign * c.depression.apply(y1)
        if c.pre_constant.mant:  # Vogels2011: - eta * alpha in an epoch with a pre spike
            dw = dw - c.pre_constant.apply(self._x0[syn].astype(np.int64))
        acc = (w << ACC_FRAC_BITS) + np.clip(dw, -ACC_MAX, ACC_MAX)
        w_new = np.clip(self._round(acc, syn), self._low, self._high)
        weights[syn] = w_new
        self._written[syn] = w_new

    def _round(self, acc: np.ndarray, syn: np.ndarray) -> np.ndarray:
        """Accumulator to the weight's mantissa step: nearest (ties up) or stochastic."""
        unit = self.config.step << ACC_FRAC_BITS
        if self._rng is None:
            return ((acc + unit // 2) // unit) * self.config.step
        down, rest = np.divmod(acc, unit)
        return (down + (self._draw[syn] * unit < rest)) * self.config.step
