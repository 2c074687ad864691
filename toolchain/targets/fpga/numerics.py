"""The FPGA core's number formats: how IR values (ms, mV, nA) become its integers.

* voltage: ``v_int = round((v - v_rest) * scale)``, ``scale`` = LSB per mV, one number for
  the whole core (the core never converts back, so it need not be a power of two), the
  largest for which every threshold/reset/initial value fits half the ``v_bits`` range
  (headroom for overshoot) and every weight fits ``w_bits``: the largest weight takes the
  top of the weight range, which keeps the relative rounding error of all weights lowest;
* current: kept as the voltage step it causes per timestep (forward Euler,
  ``dv = I dt / cm``), so ``bias = round(i_offset * dt / cm * scale)``; a weight of ``w`` nA
  becomes ``round(w * dt / cm_post * q * scale)`` with the charge factor
  ``q = tau_syn / (dt 2**s)``: the shift decay ``s`` only approximates ``tau_syn`` (within
  sqrt(2)), and ``q`` makes the total charge one input delivers, the sum of ``w 2**s`` over
  its decay, the exponential current's exact charge ``w tau_syn``; inhibitory weights are
  negative;
* decays: ``v -= round(v / 2**k)`` approximates ``exp(-dt / tau)`` with
  ``k = round(log2(tau / dt))`` (tau_m and tau_syn; on a one-current build both synapse
  types share one current, so tau_syn_E and tau_syn_I must give the same shift; a
  two-current build decays each with its own).  A synaptic time constant below ``dt``
  is a one-step synapse (shift 0: the input is the current of its arrival step only) with
  the exact charge, since no whole step resolves its decay;
* a build with ``i_frac`` fractional current bits keeps the currents in units of
  ``2**-i_frac`` voltage LSB (weights enter shifted left by ``i_frac``): the mapping's
  current scale (LSB per nA) carries the factor ``2**i_frac``; weights and voltages keep
  their scale;
* refractory period and delays: whole steps, ``round(x / dt)``;
* STDP (additive only): trace decay shifts from tau_plus / tau_minus as above, a trace
  jumps by half its range per spike, and ``dw = trace >> shift`` with
  ``shift = round(log2(increment / (A * (w_max - w_min) in weight units)))``.

A value beyond a register is a broken limit (:class:`~toolchain.compiler.pipeline.Violations`)
whose fix names the option to raise; in a non-strict compile the value is clipped to the
register and the mapping carries on.
"""

from __future__ import annotations

import math

import numpy as np

from toolchain.compiler.pipeline import MappingError as CompilerMappingError
from toolchain.compiler.pipeline import Violations, violation
from toolchain.ir import STDPRule
from toolchain.ir.network import WeightDependence
from toolchain.targets.fpga.image import StdpParams
from toolchain.targets.fpga.spec import SHIFT_BITS, CoreSpec, SpecError
from toolchain.targets.options import option_hint


class MappingError(SpecError, CompilerMappingError):
    """A network that cannot be represented on a build of the FPGA core (a compiler
    ``MappingError`` too, so the shared pipeline reports it as one)."""


MAX_SHIFT = (1 << SHIFT_BITS) - 1
# A trace decayed by a rounded shift k stops at 2**(k-1) - 1; against one spike's increment
# (half the trace range) that residue must stay below 1/2**TRACE_HEADROOM (a quarter), or
# the trace remembers every spike for ever and STDP stops depending on timing.
TRACE_HEADROOM = 2


def shift_for(tau: float, dt: float, what: str, *, element: str = "network", label: str = "",
              violations: Violations | None = None) -> int:
    """``k`` with ``1 - 2**-k`` closest (in log) to ``exp(-dt / tau)``: ``round(log2(tau/dt))``;
    outside the 4-bit shift a violation (clipped when recorded)."""
    k = round(math.log2(tau / dt))
    if not 0 <= k <= MAX_SHIFT:
        lo, hi = dt, dt * 2**MAX_SHIFT
        fix = f"with dt = {dt:g} ms use a time constant between {lo:g} and {hi:g} ms"
        broken = violation(element, label, "decay_shift", k, MAX_SHIFT if k > 0 else 0, fix,
                           f"{what} = {tau:g} ms gives decay shift {k}, outside "
                           f"0..{MAX_SHIFT}; {fix}")
        if violations is None:
            raise MappingError(broken.message)
        violations.add(broken)
        k = min(max(k, 0), MAX_SHIFT)
    return k


def syn_shift_for(tau: float, dt: float, what: str, *, label: str,
                  violations: Violations) -> int:
    """The decay shift of a synaptic time constant: as :func:`shift_for`, except that one
    below ``dt`` (a shift below 0) is a one-step synapse, shift 0, which with the exact
    charge (:func:`charge_factor`) delivers what the exponential does within its step."""
    if tau < dt:
        return 0
    return shift_for(tau, dt, what, element="population", label=label, violations=violations)


def charge_factor(tau_syn: np.ndarray, shift: np.ndarray, dt: float) -> np.ndarray:
    """``q`` with ``w q 2**shift`` (the charge of one input under the shift decay, in
    weight x steps) equal to the exact charge of the exponential current, ``w tau_syn /
    dt``.  (The sum of its samples, ``w / (1 - exp(-dt / tau_syn))``, is ``w (tau_syn / dt
    + 1/2)`` for slow synapses and 3.5 x the exact charge for a 0.3 ms one at dt = 1 ms.)"""
    return np.asarray(tau_syn, float) / dt * 2.0 ** -np.asarray(shift, float)


def plastic_factor(plastic: np.ndarray, per_nA: np.ndarray) -> float:
    """mV per nA of the plastic synapses: one number, since the core has one pair of
    weight bounds."""
    values = np.unique(per_nA[plastic])
    if values.size > 1 and values.max() - values.min() > 1e-12 * values.max():
        raise MappingError(
            "plastic projections target neurons with different cm or tau_syn: the core has "
            "one pair of STDP weight bounds, so give the post-synaptic neurons of plastic "
            "projections the same cm and synaptic time constant"
        )
    return float(values[0]) if values.size else 1.0


def voltage_scale(spec: CoreSpec, cat: dict[str, np.ndarray], v_init: np.ndarray,
                  w_mv: np.ndarray, rule: STDPRule | None, stdp_per_nA: float) -> float:
    """The largest LSB/mV at which voltages and weights fit."""
    v_hi = spec.signed_range("v")[1]
    w_hi = spec.signed_range("w")[1]
    span = np.concatenate([np.abs(cat["v_thresh"] - cat["v_rest"]),
                           np.abs(cat["v_reset"] - cat["v_rest"]),
                           np.abs(v_init - cat["v_rest"])])
    limits = []
    if span.size and span.max() > 0:
        limits.append((v_hi / 2) / span.max())
    w_abs = np.abs(w_mv)
    if rule is not None:
        w_abs = np.append(w_abs, max(abs(rule.w_min), abs(rule.w_max)) * stdp_per_nA)
    if w_abs.size and w_abs.max() > 0:
        limits.append(w_hi / w_abs.max())
    if not limits:
        return 1.0
    return float(min(limits))


def trace_shift(tau: float, dt: float, name: str, spec: CoreSpec, label: str,
                violations: Violations) -> int:
    k = shift_for(tau, dt, f"STDP {name}", element="projection", label=label,
                  violations=violations)
    if k > spec.trace_bits - TRACE_HEADROOM:
        need = k + TRACE_HEADROOM
        fix = (f"raise trace_bits to {need} ({option_hint('trace_bits', need)}), or use "
               f"{name} below {dt * 2 ** (spec.trace_bits - TRACE_HEADROOM + 0.5):.3g} ms or a "
               "larger dt")
        violations.add(violation(
            "projection", label, "trace_bits", need, spec.trace_bits, fix,
            f"STDP {name} = {tau:g} ms is a decay shift of {k} at dt = {dt:g} ms, but the "
            f"{spec.trace_bits}-bit traces of build '{spec.name}' stop decaying at "
            f"{(1 << (k - 1)) - 1} of an increment of {(spec.trace_max + 1) // 2}: {fix}"))
    return k


def stdp_params(rule: STDPRule, spec: CoreSpec, units_per_nA: float, dt: float,
                label: str, violations: Violations) -> StdpParams:
    """The core's one STDP word for ``rule`` (of the plastic projections, the first being
    ``label``)."""
    if rule.weight_dependence is not WeightDependence.ADDITIVE:
        raise MappingError(
            f"STDP weight dependence '{rule.weight_dependence.value}' is not supported by the "
            "FPGA core (its updates are shifts of a trace): use 'additive'"
        )
    inc = (spec.trace_max + 1) // 2
    w_min = int(round(rule.w_min * units_per_nA))
    w_max = int(round(rule.w_max * units_per_nA))

    def rate_shift(a: float, name: str) -> int:
        span = max(w_max - w_min, 1)
        if a <= 0:
            return MAX_SHIFT
        k = round(math.log2(inc / (a * span)))
        if not 0 <= k <= MAX_SHIFT:
            fix = (f"choose {name} between {inc / (span * 2**MAX_SHIFT):.3g} and "
                   f"{inc / span:.3g}")
            violations.add(violation(
                "projection", label, "stdp_rate_shift", k, MAX_SHIFT if k > 0 else 0, fix,
                f"STDP {name} = {a:g} gives a learning-rate shift of {k}, outside "
                f"0..{MAX_SHIFT}: {fix}"))
            k = min(max(k, 0), MAX_SHIFT)
        return k

    return StdpParams(
        enable=True,
        pre_decay_shift=trace_shift(rule.tau_plus, dt, "tau_plus", spec, label, violations),
        post_decay_shift=trace_shift(rule.tau_minus, dt, "tau_minus", spec, label,
                                     violations),
        potentiate_shift=rate_shift(rule.A_plus, "A_plus"),
        depress_shift=rate_shift(rule.A_minus, "A_minus"),
        trace_increment=inc, w_min=w_min, w_max=w_max,
    )
