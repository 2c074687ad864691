"""Pair STDP as a SpiNNaker2 PE runs it in software: sPyNNaker's deferred ("MAD") scheme
in its fixed point, or the same scheme in float32.

What the PE keeps [src: sPyNNaker neural_modelling/src/neuron/plasticity/stdp]:

* per post neuron, a history of its last ``stdp_post_history`` spikes (time and post
  trace; 16 in sPyNNaker, post_events.h MAX_POST_SYNAPTIC_EVENTS): a post spike only
  appends to it;
* per synapse row (a pre neuron's synapses on the PE), the time and trace of the last pre
  spike in the row header;
* per synapse, its weight in the synaptic word.

All the learning happens when a pre spike's row is processed: every post spike since the
row's last pre spike potentiates the weight by its pre trace then (``A+`` term, clipped at
w_max after each), the latest post spike depresses it by its post trace now (``A-``,
clipped at w_min), and the weight is written back and delivered.  So a weight read back
from the PE lacks the potentiation of post spikes after its last pre spike, and a neuron
that fires more than 16 times between two pre spikes of a row forgets the oldest.

Fixed point (``numerics="s16.15"``): traces in s4.11 (STDP_FIXED_POINT 11, stdp_typedefs.h),
one spike adding 1.0; decays from lookup tables ``floor(2048 exp(-k dt / tau))`` that end
where the value reaches 0 (common.py get_exp_lut_array: ln(2048) tau / dt entries, rounded
up to even); products ``(a * b) >> 11`` of 16-bit values (maths.h STDP_FIXED_MUL_16X16).
The weight update works at the synaptic word's scale (``2**frac_bits`` per IR unit): the
additive rule adds ``A w_max`` in words times the trace, the multiplicative one
``A (w_max - w)`` (``A`` in s16.15) times the trace, each floored (weight_additive_one_term
and weight_multiplicative_impl.h).  ``numerics="float32"`` runs the same scheme with float32
traces and exact exponentials, weights truncated to words when written back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from toolchain.ir import STDPRule, WeightDependence
from toolchain.sim.plasticity import PlasticityModel
from toolchain.sim.synapses import SynapseMatrix, WeightCodec

TRACE_FRAC = 11  # s4.11 [src: sPyNNaker stdp_typedefs.h STDP_FIXED_POINT]
TRACE_ONE = 1 << TRACE_FRAC
ACCUM_FRAC = 15  # learning rates of the multiplicative rule in s16.15
NEVER = np.iinfo(np.int64).min // 4  # "no spike yet"
# the weight dependences this pair rule runs; ir.refusals names the others
STDP_RULES = (WeightDependence.ADDITIVE, WeightDependence.MULTIPLICATIVE)


def decay_lut(tau_ms: float, dt_ms: float) -> np.ndarray:
    """sPyNNaker's exponential decay table for one time constant: entry k is
    ``floor(2048 exp(-k dt / tau))``; past its end the decay is 0."""
    k = dt_ms / tau_ms
    size = math.log(TRACE_ONE) / k
    n, extra = divmod(size, 2)
    n = (int(n) + (extra > 0)) * 2
    return np.floor(np.exp(-np.arange(n) * k) * TRACE_ONE).astype(np.int64)


def _int16(x: np.ndarray) -> np.ndarray:
    """The low 16 bits as a signed value (the ARM SMULBB multiply reads half-words)."""
    return ((np.asarray(x, np.int64) + 2**15) & 0xFFFF) - 2**15


def mul16(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a * b) >> 11`` of the 16-bit halves: STDP_FIXED_MUL_16X16."""
    return (_int16(a) * _int16(b)) >> TRACE_FRAC


@dataclass
class PostHistory:
    """The post spike history of one population on its PEs (shared by every plastic
    projection into it, as the PE shares it): per neuron the times (steps) and post
    traces of its last ``depth`` spikes, oldest first."""

    times: np.ndarray  # (n, depth) int64, NEVER where empty
    traces: np.ndarray  # (n, depth) int64 (s4.11) or float32
    lut_minus: np.ndarray | None
    k_minus: float
    fixed: bool
    last_step: int = -1
    lost: int = 0  # post spikes that fell out of a full history before any pre read them

    @classmethod
    def empty(cls, n: int, depth: int, rule: STDPRule, dt: float, fixed: bool) -> PostHistory:
        traces = np.zeros((n, depth), np.int64 if fixed else np.float32)
        return cls(np.full((n, depth), NEVER, np.int64), traces,
                   decay_lut(rule.tau_minus, dt) if fixed else None, dt / rule.tau_minus,
                   fixed)

    def reset(self) -> None:
        self.times[:] = NEVER
        self.traces[:] = 0
        self.last_step, self.lost = -1, 0

    def add(self, step: int, neurons: np.ndarray) -> None:
        """Post spikes of ``neurons`` in ``step`` (added once, whichever projection into the
        population reports them first)."""
        if step == self.last_step:
            neurons = neurons[self.times[neurons, -1] != step]
        if not neurons.size:
            return
        self.last_step = step
        t, y = self.times[neurons], self.traces[neurons]
        last_t, last_y = t[:, -1], y[:, -1]
        age = step - last_t
        if self.fixed:
            decayed = mul16(last_y, _lut(self.lut_minus, age))
            new = decayed + TRACE_ONE
        else:
            new = (last_y * np.exp(np.float32(-self.k_minus) * age.astype(np.float32))
                   ).astype(np.float32) + np.float32(1.0)
            new = np.where(last_t == NEVER, np.float32(1.0), new)
        self.times[neurons] = np.concatenate([t[:, 1:], np.full((t.shape[0], 1), step)], 1)
        self.traces[neurons] = np.concatenate([y[:, 1:], new[:, None].astype(y.dtype)], 1)


def _lut(lut: np.ndarray | None, age: np.ndarray) -> np.ndarray:
    """Decay factors (s4.11) for ages in steps: the table's entry, 0 past its end or for
    "never"."""
    assert lut is not None
    a = np.asarray(age, np.int64)
    ok = (a >= 0) & (a < lut.size)
    return np.where(ok, lut[np.clip(a, 0, lut.size - 1)], 0)


class SpiNNaker2STDP(PlasticityModel):
    """One (machine) projection's pair STDP on its target PE, in words of scale
    ``2**frac_bits`` per IR unit (the synaptic word's own scale)."""

    def __init__(self, rule: STDPRule, matrix: SynapseMatrix, codec: WeightCodec, dt: float,
                 *, history: PostHistory, frac_bits: int, weight_bits: int) -> None:
        super().__init__(rule, matrix, codec, dt)
        self.history, self.fixed = history, history.fixed
        scale = 2.0 ** frac_bits
        top = (1 << weight_bits) - 1
        self.w_min = int(np.clip(round(abs(rule.w_min) * scale), 0, top))
        self.w_max = int(np.clip(round(abs(rule.w_max) * scale), 0, top))
        self.multiplicative = rule.weight_dependence is WeightDependence.MULTIPLICATIVE
        # the rates: A in s16.15 (multiplicative) or A w_max in words (additive); float32
        # keeps them as they are
        a_plus, a_minus = ((rule.A_plus, rule.A_minus) if self.multiplicative else
                           (rule.A_plus * rule.w_max * scale, rule.A_minus * rule.w_max * scale))
        if self.fixed:
            unit = 2**ACCUM_FRAC if self.multiplicative else 1
            a_plus, a_minus = round(a_plus * unit), round(a_minus * unit)
        self.a_plus, self.a_minus = a_plus, a_minus
        self.lut_plus = decay_lut(rule.tau_plus, dt) if self.fixed else None
        self.k_plus = dt / rule.tau_plus
        self.reset()

    def reset(self) -> None:
        n = self.matrix.size
        self.last_pre = np.full(n, NEVER, np.int64)
        self.pre_trace = np.zeros(n, np.int64 if self.fixed else np.float32)
        self.history.reset()

    # -- the deferred update, at a pre spike's arrival --------------------------------
    def on_pre(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        post = self.matrix.post[synapses]
        w = weights[synapses].astype(np.int64 if self.fixed else np.float64)
        last, x0 = self.last_pre[synapses], self.pre_trace[synapses]
        times, traces = self.history.times[post], self.history.traces[post]
        for j in range(times.shape[1]):  # potentiation by every post spike since the last pre
            t = times[:, j]
            hit = (t > last) & (t <= step) & (last != NEVER)
            if hit.any():
                x = self._decay_pre(x0, t - last)
                w = np.where(hit, self._potentiate(w, x), w)
        seen = (times <= step) & (times != NEVER)
        has_post = seen.any(axis=1)
        latest = np.where(seen, times, NEVER).max(axis=1)
        idx = np.argmax(np.where(seen, times, NEVER), axis=1)
        y0 = traces[np.arange(post.size), idx]
        y = self._decay_post(y0, step - latest)
        w = np.where(has_post, self._depress(w, y), w)
        self.pre_trace[synapses] = self._decay_pre(x0, step - last) + (
            TRACE_ONE if self.fixed else np.float32(1.0))
        self.last_pre[synapses] = step
        weights[synapses] = np.floor(w).astype(np.int64) if not self.fixed else w

    def on_post(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        self.history.add(step, np.unique(self.matrix.post[synapses]))

    # -- arithmetic -------------------------------------------------------------------
    def _decay_pre(self, x: np.ndarray, age: np.ndarray) -> np.ndarray:
        if self.fixed:
            return np.where(age >= 0, mul16(x, _lut(self.lut_plus, age)), 0)
        a = np.maximum(age, 0).astype(np.float32)
        return (x * np.exp(np.float32(-self.k_plus) * a)).astype(np.float32)

    def _decay_post(self, y: np.ndarray, age: np.ndarray) -> np.ndarray:
        h = self.history
        if self.fixed:
            return mul16(y, _lut(h.lut_minus, age))
        a = np.maximum(age, 0).astype(np.float32)
        return (y * np.exp(np.float32(-h.k_minus) * a)).astype(np.float32)

    def _potentiate(self, w: np.ndarray, x: np.ndarray) -> np.ndarray:
        if self.fixed:
            scale = ((self.w_max - w) * self.a_plus) >> ACCUM_FRAC if self.multiplicative \
                else self.a_plus
            return np.minimum(w + ((scale * x) >> TRACE_FRAC), self.w_max)
        f32 = np.float32
        scale = (f32(self.w_max) - w.astype(f32)) * f32(self.a_plus) if self.multiplicative \
            else f32(self.a_plus)
        return np.minimum(w.astype(f32) + scale * x, f32(self.w_max))

    def _depress(self, w: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.fixed:
            scale = ((w - self.w_min) * self.a_minus) >> ACCUM_FRAC if self.multiplicative \
                else self.a_minus
            return np.maximum(w - ((scale * y) >> TRACE_FRAC), self.w_min)
        f32 = np.float32
        scale = (w.astype(f32) - f32(self.w_min)) * f32(self.a_minus) if self.multiplicative \
            else f32(self.a_minus)
        return np.maximum(w.astype(f32) - scale * y, f32(self.w_min))
