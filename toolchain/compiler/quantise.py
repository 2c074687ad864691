"""Delays in whole steps: what rounding a projection's delays to the step ``dt`` does.

A target's quantise pass (Loihi's is in ``toolchain/targets/loihi/mapper.py``) reports
these counts next to its weight format.
"""

from __future__ import annotations

import numpy as np


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
