"""Loihi 1's learning engine running pair STDP, in its integers.

Loihi learns with a programmable sum of products evaluated once per *learning epoch*
(Davies et al. 2018, IEEE Micro).  Pair STDP is two product terms over a pre trace x1,
a post trace y1 and the epoch's spike indicators x0, y0 (a neuron spiked in the epoch)::

    dw = S_plus * x1 * y0  -  S_minus * y1 * x0                      (additive)
    dw = S_plus * x1 * y0 * (w_max - w)  -  S_minus * y1 * x0 * (w - w_min)
                                                                     (multiplicative)

and either term alone with its ``(w + C)`` factor: additive potentiation with
multiplicative depression, and Gutig's rule where its exponents are 0 or 1 (a product
term has whole factors, so ``(w_max - w)^mu`` for another mu is refused by name).

where each scale ``S = mant * 2^exp`` has a 4-bit mantissa and the constants of the
``(w + C)`` factors are 8-bit.  This module maps an IR :class:`~toolchain.ir.STDPRule` onto
these integers (:func:`map_stdp_rule`, which reports what the mapping loses and refuses
what does not fit) and runs them on the shared engine (:class:`LoihiSTDP`).

Formats (constants below, with sources):

* a trace is 7 integer + 7 fraction bits (0 .. 127 + 127/128), saturating; a spike adds
  the trace's *impulse* (same format); every step it decays like u and v, by a 12-bit
  fraction rounded toward zero (:func:`~toolchain.targets.loihi.numerics.decay`).  lava
  instead decays by ``exp(-t/tau)`` with stochastic rounding of 7-bit traces; the 12-bit
  decay keeps the model deterministic and reuses the compartments' arithmetic;
* the weight enters the 16-bit signed learning accumulator shifted left by 7 bits, the
  product terms add to it (their sum saturates at 15 bits of magnitude), and the result is
  rounded back to the weight's mantissa step: to nearest by default, or stochastically
  (floor, then up with probability of the remainder, as lava does) from a seeded
  generator; then it saturates at the rule's bounds.

Epochs: the rule sees the traces at the *end* of an epoch and only whether each neuron
spiked in it.  With one-step epochs (the default) a pair at a distance of n >= 1 steps
changes w by ``S * impulse`` decayed over n steps, as the float rule does; a pair in the
same step gets both terms (potentiation minus depression), where the float rule (Brian2's
order) counts it as pre-before-post.  Longer epochs blur timing to the epoch: any two
spikes in one epoch are paired both ways, with traces read at the epoch's end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from toolchain.ir import Projection, Vogels2011Rule
from toolchain.targets.loihi.convert import (
    WeightConversion,
    WeightFormat,
    convert_weights,
    decay_constant,
)
from toolchain.targets.loihi.fixed import (
    ACT_SHIFT,
    DECAY_MAX,
    DECAY_UNITY,
    WEIGHT_BITS,
    WEIGHT_EXP_MAX,
    WEIGHT_EXP_MIN,
    LoihiNumericsError,
    SignMode,
    decay,
    mantissa_range,
    mantissa_step,
)

# --------------------------------------------------------------------------- constants
# Traces: 7-bit integer + 7-bit fraction [src: FACTS.md "Learning", nengo-loihi
# discretize.py; lava learning/constants.py W_TRACE = 7].
TRACE_FRAC_BITS = 7
TRACE_BITS = 14
TRACE_MAX = 2**TRACE_BITS - 1
# The learning accumulator: 15 bits of magnitude (FACTS.md; lava W_ACCUMULATOR_U = 15);
# weights enter it shifted by W_ACCUMULATOR_S - W_WEIGHTS_S = 16 - 9 = 7 bits (lava
# PyLearningConnection._apply_learning_rules).
ACC_MAX = 2**15 - 1
ACC_FRAC_BITS = 7
# Product-term scale: 4-bit mantissa [src: lava learning/constants.py W_S_MANT = 4];
# its exponent range is not in our sources [unverified]: a signed 4-bit field like the
# weight exponent, so learning rates down to 2^-8 per trace unit.
RATE_MANT_MAX = 2**4 - 1
RATE_EXP_MIN, RATE_EXP_MAX = -8, 7
# The constant of a (w + C) factor: 8 bits [src: lava constants.py W_CONST = 8]; we take
# it as a magnitude with the term's sign [unverified].
CONST_MAX = 2**8 - 1
# Our choices: an impulse of at least 1.0 keeps >= 7 bits of trace resolution, and at most
# a quarter of the trace range leaves room for four overlapping undecayed impulses before
# the all-to-all sum saturates.
IMPULSE_MIN = 1 << TRACE_FRAC_BITS
DEFAULT_HEADROOM = 4
DEFAULT_EPOCH_STEPS = 1


# --------------------------------------------------------------------------- arithmetic


#: steps one lookup in a decay table covers (a table: 65 x 16384 int16, 2 MB; the last
#: 8 decay factors are kept)
_TABLE_STEPS = 64


@lru_cache(maxsize=8)
def _decay_table(factor: int) -> np.ndarray:
    """Row a holds every trace value after a per-step decays: repeated truncation has no
    closed form, and a table turns the per-step loop into one lookup per 64 steps."""
    rows = np.empty((_TABLE_STEPS + 1, TRACE_MAX + 1), dtype=np.int16)
    x = np.arange(TRACE_MAX + 1, dtype=np.int64)
    rows[0] = x
    for a in range(1, _TABLE_STEPS + 1):
        x = decay(x, factor).astype(np.int64)
        rows[a] = x
    rows.setflags(write=False)
    return rows


def decay_trace(trace: np.ndarray, factor: int, steps: np.ndarray | int) -> np.ndarray:
    """``trace`` (values 0..TRACE_MAX) after ``steps`` per-step decays, each
    ``x * factor / 4096`` rounded toward zero."""
    table = _decay_table(int(factor))
    x = np.array(trace, dtype=np.int64)
    left = np.broadcast_to(np.asarray(steps, dtype=np.int64), x.shape).copy()
    while True:
        chunk = np.minimum(left, _TABLE_STEPS)
        x = table[chunk, x].astype(np.int64)
        left -= chunk
        if not np.any((left > 0) & (x > 0)):
            return x


def add_impulse(trace: np.ndarray, impulse: int) -> np.ndarray:
    """A spike's impulse added to the trace, which saturates at its 14-bit maximum."""
    return np.minimum(np.asarray(trace, dtype=np.int64) + impulse, TRACE_MAX)


@dataclass(frozen=True)
class Scale:
    """A product term's scale factor ``mant * 2^exp``."""

    mant: int
    exp: int

    @property
    def value(self) -> float:
        return self.mant * 2.0**self.exp

    def apply(self, product: np.ndarray) -> np.ndarray:
        """``product * mant * 2^exp`` floored, as a shift of the integer product."""
        p = np.asarray(product, dtype=np.int64) * self.mant
        return p << self.exp if self.exp >= 0 else p >> -self.exp


@dataclass(frozen=True)
class Trace:
    """One trace's configuration: its impulse (1/128 units) and 12-bit decay per step."""

    impulse: int
    decay: int

    @property
    def factor(self) -> int:
        return DECAY_UNITY - self.decay

    def tau(self, dt: float) -> float:
        """The time constant (ms) the decay register realises."""
        return dt / -math.log1p(-self.decay / DECAY_UNITY)


@dataclass(frozen=True, eq=False)
class LearningRule:
    """An STDP rule as Loihi integers for one projection, and what the mapping cost.

    ``w_min``/``w_max`` and ``step`` are in weight mantissas; ``report`` holds the realised
    time constants and rates and their relative errors against the IR rule.
    """

    label: str
    x1: Trace
    y1: Trace
    potentiation: Scale
    depression: Scale
    weighted_potentiation: bool  # the term has a (w_max - w) factor (mu_plus = 1)
    weighted_depression: bool  # the term has a (w - w_min) factor (mu_minus = 1)
    w_min: int
    w_max: int
    step: int
    epoch_steps: int
    report: dict[str, float] = field(default_factory=dict)
    # Vogels et al. 2011: the pre term adds (+1) instead of subtracting (-1), and an epoch
    # with a pre spike also subtracts ``pre_constant`` (a product term of x0 alone)
    depression_sign: int = -1
    pre_constant: Scale = Scale(0, 0)


# --------------------------------------------------------------------------- IR -> Loihi


def plastic_weight_exp(projection: Projection, units_per_na: float,
                       num_weight_bits: int = WEIGHT_BITS) -> int:
    """The weight exponent of a plastic projection: the smallest that holds its initial
    weights and both bounds, so that w_max fills the mantissa range and learning keeps the
    finest steps (a static projection's exponent stops at 0; see ``convert_weights``)."""
    rule = projection.plasticity
    assert rule is not None
    values = np.concatenate([np.asarray(projection.weight, dtype=np.float64),
                             [rule.w_min, rule.w_max]])
    # the range and scale convert_weights uses at exponent 0, without converting every weight
    low, high = mantissa_range(SignMode.of(values), num_weight_bits)
    mant_per_na = 1.0 / (2**ACT_SHIFT / units_per_na)
    top, bottom = values.max() * mant_per_na, values.min() * mant_per_na
    for e in range(WEIGHT_EXP_MIN, WEIGHT_EXP_MAX + 1):
        if top / 2.0**e <= high and bottom / 2.0**e >= low:
            return e
    return WEIGHT_EXP_MAX


def convert_plastic_weights(projection: Projection, units_per_na: float,
                            num_weight_bits: int = WEIGHT_BITS) -> WeightConversion:
    """A plastic projection's weights as mantissas with :func:`plastic_weight_exp`; the
    sign mode covers the bounds too (a rule that may cross zero needs mixed signs)."""
    rule = projection.plasticity
    assert rule is not None
    exp = plastic_weight_exp(projection, units_per_na, num_weight_bits)
    n = projection.size
    values = np.concatenate([np.asarray(projection.weight, dtype=np.float64),
                             [rule.w_min, rule.w_max]])
    conv = convert_weights(projection.label, values, units_per_na,
                           num_weight_bits=num_weight_bits, weight_exp=exp)
    return WeightConversion(
        mantissas=conv.mantissas[:n], weight_exp=conv.weight_exp,
        num_weight_bits=conv.num_weight_bits, sign_mode=conv.sign_mode,
        na_per_mantissa=conv.na_per_mantissa, n_zeroed=conv.n_zeroed,
        n_saturated=conv.n_saturated, max_rel_error=conv.max_rel_error,
        mean_rel_error=conv.mean_rel_error)


def _trace_decay(label: str, name: str, tau: float, dt: float) -> int:
    exact = DECAY_UNITY * -math.expm1(-dt / tau)
    longest = dt / -math.log1p(-0.5 / DECAY_UNITY)
    shortest = dt / math.log(2.0 * DECAY_UNITY)
    if round(exact) < 1:
        raise LoihiNumericsError(
            f"Projection '{label}': STDP {name} = {tau:g} ms is {tau / dt:g} steps of "
            f"dt = {dt:g} ms; a Loihi trace decays by a 12-bit fraction per step, which "
            f"rounds to 0 (no decay) beyond {longest:g} ms; shorten {name} or use a "
            f"larger dt")
    if round(exact) > DECAY_MAX:
        raise LoihiNumericsError(
            f"Projection '{label}': STDP {name} = {tau:g} ms is {tau / dt:g} steps of "
            f"dt = {dt:g} ms; a Loihi trace decays by at most {DECAY_MAX}/{DECAY_UNITY} "
            f"per step, i.e. tau >= {shortest:.3g} ms; lengthen {name} or use a smaller dt")
    return decay_constant(tau, dt, 0)


def _fit_scale(label: str, name: str, gain: float, impulse_max: int) -> tuple[Scale, int]:
    """The scale and impulse whose product is closest to ``gain`` (accumulator units per
    unit of the float trace); ties go to the larger impulse (finer trace)."""
    if gain == 0.0:
        return Scale(0, 0), impulse_max
    best: tuple[float, int, Scale] | None = None
    for exp in range(RATE_EXP_MIN, RATE_EXP_MAX + 1):
        for mant in range(1, RATE_MANT_MAX + 1):
            s = mant * 2.0**exp
            impulse = round(gain / s)
            if not IMPULSE_MIN <= impulse <= impulse_max:
                continue
            err = abs(s * impulse - gain) / gain
            if best is None or (err, -impulse) < (best[0], -best[1]):
                best = (err, impulse, Scale(mant, exp))
    if best is None:
        smallest = 2.0**RATE_EXP_MIN * IMPULSE_MIN
        largest = RATE_MANT_MAX * 2.0**RATE_EXP_MAX * impulse_max
        side = "below the smallest" if gain < smallest else "above the largest"
        fix = (f"raise {name} (or w_max)" if gain < smallest else f"lower {name}")
        raise LoihiNumericsError(
            f"Projection '{label}': STDP {name} needs a learning rate of {gain:.4g} "
            f"accumulator units (1/128 of a weight mantissa) per pair, {side} that "
            f"Loihi's product terms reach ({smallest:g} .. {largest:g}: scale "
            f"1..{RATE_MANT_MAX} x 2^{RATE_EXP_MIN}..2^{RATE_EXP_MAX}, impulse "
            f"{IMPULSE_MIN}..{impulse_max}); {fix}")
    return best[2], best[1]


def _bound(label: str, name: str, value: float, na_per_mantissa: float, low: int, high: int,
           step: int, multiplicative: bool) -> int:
    mant = int(np.clip(round(value / na_per_mantissa / step) * step, low, high))
    if multiplicative and abs(mant) > CONST_MAX:
        raise LoihiNumericsError(
            f"Projection '{label}': multiplicative STDP needs {name} as the constant of a "
            f"(w - {name}) factor; {name} = {value:g} nA is mantissa {mant}, beyond the "
            f"8-bit constant's +-{CONST_MAX}; keep {name} within +-{CONST_MAX} mantissas "
            f"({CONST_MAX * na_per_mantissa:g} nA) or use the additive rule")
    return mant


def map_stdp_rule(projection: Projection, codec: WeightFormat, dt: float, *,
                  epoch_steps: int = DEFAULT_EPOCH_STEPS, stochastic: bool = False,
                  headroom: int = DEFAULT_HEADROOM) -> LearningRule:
    """An IR STDP rule as Loihi learning-engine integers for ``projection``, whose weights
    are stored as ``codec`` describes.

    The float rule changes w by ``A * scale * x`` per pair, x the sum of ``exp(-age/tau)``
    and scale ``w_max`` (additive, the float reference's convention) or the distance to
    the bound (multiplicative, in mantissas).  On Loihi the same change is
    ``mant * 2^exp * x1`` accumulator units with x1 a multiple of the impulse, so the
    mapping looks for the 4-bit scale and the impulse whose product is closest.
    """
    rule = projection.plasticity
    label = projection.label
    if rule is None:
        raise LoihiNumericsError(f"Projection '{label}' has no STDP rule to map")
    if isinstance(rule, Vogels2011Rule):
        return map_vogels_rule(projection, codec, dt, epoch_steps=epoch_steps,
                               stochastic=stochastic, headroom=headroom)
    if epoch_steps < 1:
        raise LoihiNumericsError(
            f"Projection '{label}': learning epoch = {epoch_steps} steps; an epoch is at "
            f"least 1 step")
    mu_plus, mu_minus = rule.weight_dependence.exponents(rule.mu_plus, rule.mu_minus)
    if mu_plus not in (0.0, 1.0) or mu_minus not in (0.0, 1.0):
        raise LoihiNumericsError(
            f"Projection '{label}': STDP weight dependence '{rule.weight_dependence.value}' "
            f"with mu_plus = {mu_plus:g}, mu_minus = {mu_minus:g} is not modelled on loihi: "
            "its learning engine sums products of traces and (w + C) factors, so a term "
            "depends on the weight to a whole power; use mu_plus and mu_minus of 0 or 1")
    pot_w, dep_w = mu_plus == 1.0, mu_minus == 1.0
    low, high = mantissa_range(codec.sign_mode, codec.num_weight_bits)
    step = mantissa_step(codec.sign_mode, codec.num_weight_bits)
    na = codec.na_per_mantissa
    w_min = _bound(label, "w_min", rule.w_min, na, low, high, step, dep_w)
    w_max = _bound(label, "w_max", rule.w_max, na, low, high, step, pot_w)
    impulse_max = TRACE_MAX // headroom
    unit = 2.0**ACC_FRAC_BITS  # accumulator units per weight mantissa

    def gain(a: float, weighted: bool) -> tuple[float, float]:
        """Accumulator units per trace unit, and the largest weight factor (mantissas)."""
        if weighted:
            return a * unit, float(w_max - w_min)
        return a * rule.w_max / na * unit, 1.0

    (gain_plus, span_plus), (gain_minus, span_minus) = (gain(rule.A_plus, pot_w),
                                                        gain(rule.A_minus, dep_w))
    pot, x_imp = _fit_scale(label, "A_plus", gain_plus, impulse_max)
    dep, y_imp = _fit_scale(label, "A_minus", gain_minus, impulse_max)
    if not stochastic:
        for name, gain_, span in (("A_plus", gain_plus, span_plus),
                                  ("A_minus", gain_minus, span_minus)):
            largest = gain_ * span / unit  # mantissas one lone pair can move w
            if 0.0 < largest < step / 2:
                raise LoihiNumericsError(
                    f"Projection '{label}': STDP {name} changes a weight by at most "
                    f"{largest:.3g} mantissa units per pair, below the {step / 2:g} that "
                    f"rounding to the weight's step ({step}) keeps, so no weight would "
                    f"ever change; raise {name}, or enable stochastic rounding")
    x1 = Trace(x_imp, _trace_decay(label, "tau_plus", rule.tau_plus, dt))
    y1 = Trace(y_imp, _trace_decay(label, "tau_minus", rule.tau_minus, dt))

    def rel(realised: float, wanted: float) -> float:
        return abs(realised - wanted) / abs(wanted) if wanted else 0.0

    a_plus = pot.value * x_imp / (gain_plus / rule.A_plus) if rule.A_plus else 0.0
    a_minus = dep.value * y_imp / (gain_minus / rule.A_minus) if rule.A_minus else 0.0
    report = {
        "tau_plus_ms": x1.tau(dt), "tau_minus_ms": y1.tau(dt),
        "tau_plus_rel_error": rel(x1.tau(dt), rule.tau_plus),
        "tau_minus_rel_error": rel(y1.tau(dt), rule.tau_minus),
        "A_plus": a_plus, "A_minus": a_minus,
        "A_plus_rel_error": rel(a_plus, rule.A_plus),
        "A_minus_rel_error": rel(a_minus, rule.A_minus),
        "w_min": w_min * na, "w_max": w_max * na,
        "w_min_abs_error": abs(w_min * na - rule.w_min),
        "w_max_abs_error": abs(w_max * na - rule.w_max),
        "x1_impulse": x_imp / 2.0**TRACE_FRAC_BITS, "y1_impulse": y_imp / 2.0**TRACE_FRAC_BITS,
    }
    return LearningRule(label=label, x1=x1, y1=y1, potentiation=pot, depression=dep,
                        weighted_potentiation=pot_w, weighted_depression=dep_w,
                        w_min=w_min, w_max=w_max, step=step,
                        epoch_steps=epoch_steps, report=report)




def _fit_constant(label: str, value: float) -> Scale:
    """The product term of the pre spike indicator alone (x0 = 1): the 4-bit-mantissa scale
    nearest ``value`` accumulator units."""
    if value == 0.0:
        return Scale(0, 0)
    best = min(((abs(m * 2.0**e - value) / value, Scale(m, e))
                for e in range(RATE_EXP_MIN, RATE_EXP_MAX + 1)
                for m in range(1, RATE_MANT_MAX + 1)), key=lambda c: c[0])
    if best[0] > 0.5:
        raise LoihiNumericsError(
            f"Projection '{label}': Vogels2011 eta * alpha is {value:.4g} accumulator units "
            f"(1/128 of a weight mantissa) per pre spike, outside what a product term "
            f"reaches ({2.0**RATE_EXP_MIN:g} .. {RATE_MANT_MAX * 2.0**RATE_EXP_MAX:g}); "
            "change eta or rho")
    return best[1]


def map_vogels_rule(projection: Projection, codec: WeightFormat, dt: float, *,
                    epoch_steps: int = DEFAULT_EPOCH_STEPS, stochastic: bool = False,
                    headroom: int = DEFAULT_HEADROOM) -> LearningRule:
    """The inhibitory rule of Vogels et al. (2011) as learning-engine integers: three
    product terms of one trace pair (one tau for both traces)::

        dw = S_post * x1 * y0  +  S_pre * y1 * x0  -  S_0 * x0

    (a post spike adds eta * x, a pre spike eta * (y - alpha), additive bounds), each
    scale a 4-bit mantissa and exponent, as for the pair rule."""
    rule = projection.plasticity
    assert isinstance(rule, Vogels2011Rule)
    label = projection.label
    if epoch_steps < 1:
        raise LoihiNumericsError(
            f"Projection '{label}': learning epoch = {epoch_steps} steps; an epoch is at "
            f"least 1 step")
    low, high = mantissa_range(codec.sign_mode, codec.num_weight_bits)
    step = mantissa_step(codec.sign_mode, codec.num_weight_bits)
    na = codec.na_per_mantissa
    w_min = _bound(label, "w_min", rule.w_min, na, low, high, step, False)
    w_max = _bound(label, "w_max", rule.w_max, na, low, high, step, False)
    unit = 2.0**ACC_FRAC_BITS
    gain = rule.eta / na * unit  # accumulator units per unit of the float trace
    impulse_max = TRACE_MAX // headroom
    pot, x_imp = _fit_scale(label, "Vogels2011 eta", gain, impulse_max)
    dep, y_imp = _fit_scale(label, "Vogels2011 eta", gain, impulse_max)
    if not stochastic and 0.0 < rule.eta / na < step / 2:
        raise LoihiNumericsError(
            f"Projection '{label}': Vogels2011 eta changes a weight by at most "
            f"{rule.eta / na:.3g} mantissa units per pair, below the {step / 2:g} that "
            f"rounding to the weight's step ({step}) keeps, so no weight would ever change; "
            "raise eta, or enable stochastic rounding")
    constant = _fit_constant(label, rule.eta * rule.alpha / na * unit)
    decay_ = _trace_decay(label, "tau", rule.tau, dt)
    x1, y1 = Trace(x_imp, decay_), Trace(y_imp, decay_)

    def rel(realised: float, wanted: float) -> float:
        return abs(realised - wanted) / abs(wanted) if wanted else 0.0

    eta_post = pot.value * x_imp / unit * na
    eta_pre = dep.value * y_imp / unit * na
    alpha = constant.value / unit * na / rule.eta if rule.eta else 0.0
    report = {
        "tau_plus_ms": x1.tau(dt), "tau_minus_ms": y1.tau(dt),
        "tau_plus_rel_error": rel(x1.tau(dt), rule.tau),
        "tau_minus_rel_error": rel(y1.tau(dt), rule.tau),
        "A_plus": eta_post, "A_minus": eta_pre,
        "A_plus_rel_error": rel(eta_post, rule.eta), "A_minus_rel_error": rel(eta_pre, rule.eta),
        "alpha": alpha, "alpha_rel_error": rel(alpha, rule.alpha),
        "w_min": w_min * na, "w_max": w_max * na,
        "w_min_abs_error": abs(w_min * na - rule.w_min),
        "w_max_abs_error": abs(w_max * na - rule.w_max),
        "x1_impulse": x_imp / 2.0**TRACE_FRAC_BITS, "y1_impulse": y_imp / 2.0**TRACE_FRAC_BITS,
    }
    return LearningRule(label=label, x1=x1, y1=y1, potentiation=pot, depression=dep,
                        weighted_potentiation=False, weighted_depression=False,
                        w_min=w_min, w_max=w_max, step=step, epoch_steps=epoch_steps,
                        report=report, depression_sign=1, pre_constant=constant)
