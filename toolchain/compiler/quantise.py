"""Choose each projection's stored weight format and count what quantisation does to it.

All projections into one population share that population's current unit (the neuron
adds their inputs in one accumulator); the unit is set so the largest incoming weight uses
the top of the mantissa at the largest exponent.  Each projection then takes the smallest
exponent that still holds its own largest weight, which keeps the most precision: a
projection much weaker than its neighbours hits the smallest exponent and loses small
weights to zero.  Those zeroed and saturated weights, and delays rounded to whole steps,
are the semantic effects this pass counts for the report.
"""

from __future__ import annotations

import math

import numpy as np

from toolchain.compiler.artifact import ProjectionNumerics
from toolchain.compiler.pipeline import Build
from toolchain.ir import Projection


def quantise(build: Build) -> Build:
    """Pass: fills ``numerics``, one ``ProjectionNumerics`` per projection in order."""
    net, fmt = build.network, build.spec.synapses
    largest: dict[str, float] = {}
    for proj in net.projections:
        if proj.size:
            largest[proj.post] = max(largest.get(proj.post, 0.0),
                                     float(np.abs(proj.weight).max()))
    out = []
    for proj in net.projections:
        mixed = bool(proj.size) and proj.weight.min() < 0 < proj.weight.max()
        # a projection of mixed signs spends one magnitude bit on the sign [FACTS: Loihi
        # weight scaling, nengo-loihi discretize.py]
        max_mantissa = 2 ** (fmt.weight_bits - (1 if mixed else 0)) - 1
        top = largest.get(proj.post, 0.0)
        unit = top / (max_mantissa * 2.0**fmt.max_exponent) if top > 0 else 1.0
        out.append(_quantise_one(proj, unit, max_mantissa, build))
    return build.replace(numerics=tuple(out))


def _quantise_one(proj: Projection, unit: float, max_mantissa: int, build: Build
                  ) -> ProjectionNumerics:
    fmt, dt = build.spec.synapses, build.network.dt
    w = proj.weight
    peak = float(np.abs(w).max()) if w.size else 0.0
    if peak > 0:
        need = math.ceil(math.log2(peak / (unit * max_mantissa)) - 1e-12)
        exponent = int(np.clip(need, fmt.min_exponent, fmt.max_exponent))
    else:
        exponent = fmt.min_exponent
    lsb = unit * 2.0**exponent
    zeroed = saturated = 0
    max_err = 0.0
    inv = np.float32(1.0 / lsb)
    # float32 chunks: the weights are float32 already, and tens of millions of them must
    # not grow float64 temporaries
    for a in range(0, w.size, 1 << 22):
        chunk = w[a:a + (1 << 22)]
        q = chunk * inv
        np.rint(q, out=q)
        saturated += int(np.count_nonzero(np.abs(q) > max_mantissa))
        np.clip(q, -max_mantissa, max_mantissa, out=q)
        zeroed += int(np.count_nonzero((q == 0) & (chunk != 0)))
        q *= np.float32(lsb)
        q -= chunk
        max_err = max(max_err, float(np.abs(q).max()))
    steps_min, steps_max, rounded, delay_err = delay_steps(proj.delay, dt)
    return ProjectionNumerics(
        projection=proj.label, unit=unit, exponent=exponent,
        weight_bits=fmt.weight_bits, max_mantissa=max_mantissa, zeroed=zeroed,
        saturated=saturated, max_abs_error=max_err,
        delay_bits=int(max(steps_max - 1, 0)).bit_length(), min_delay_steps=steps_min,
        max_delay_steps=steps_max, delays_rounded=rounded, max_delay_error=delay_err,
    )


def delay_steps(delay: np.ndarray, dt: float) -> tuple[int, int, int, float]:
    """Smallest and largest delay in whole steps, how many delays were rounded, worst error."""
    if delay.size == 0:
        return 1, 1, 0, 0.0
    lo, hi, rounded, worst = None, 0, 0, 0.0
    inv = np.float32(1.0 / dt)
    for a in range(0, delay.size, 1 << 22):
        chunk = delay[a:a + (1 << 22)]
        steps = chunk * inv
        np.rint(steps, out=steps)
        np.maximum(steps, 1, out=steps)
        error = steps * np.float32(dt)
        error -= chunk
        np.abs(error, out=error)
        rounded += int(np.count_nonzero(error > 1e-4 * dt))  # float32 delays: ~1e-7 relative
        worst = max(worst, float(error.max()))
        lo = int(steps.min()) if lo is None else min(lo, int(steps.min()))
        hi = max(hi, int(steps.max()))
    return lo, hi, rounded, worst
