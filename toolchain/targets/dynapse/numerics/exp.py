"""The exponential of the DPI neuron's positive feedback, one sequence of float64 operations
wherever it runs (see :func:`feedback_exp`)."""

from __future__ import annotations

import math

import numpy as np

# e**x by range reduction (x = k ln 2 + r, |r| <= ln 2 / 2; ln 2 split so that k * hi is
# exact) and the Taylor series of e**r to r**13 (its remainder < 1e-17 of the value).
_LOG2E = 1.4426950408889634
_LN2_HI = float.fromhex("0x1.62e42fee00000p-1")
_LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")
_TAYLOR = tuple(1.0 / math.factorial(i) for i in range(13, -1, -1))


def feedback_exp(x: np.ndarray | float) -> np.ndarray | float:
    """e**x for x <= 50 (where the positive feedback clamps it), within one unit in the
    last place, as one fixed sequence of float64 operations on an array or a scalar.

    numpy's exp and a compiled loop's (libm's) differ in the last bit on a few % of
    arguments, and which one numpy runs depends on the host's SIMD extensions; the
    feedback is computed at every substep (50 times per neuron per millisecond), and a
    last-bit difference moves a spike a substep sooner or later.  With this function the
    numpy path and the compiled loop (:mod:`toolchain.targets.dynapse.loop`, which compiles
    this very function) give the same spikes, on any host.
    """
    x = np.maximum(x, -700.0)  # (below, e**x < 1e-304: nothing next to a current in pA)
    k = np.floor(x * _LOG2E + 0.5)
    r = (x - k * _LN2_HI) - k * _LN2_LO
    p = _TAYLOR[0]
    for c in _TAYLOR[1:]:
        p = p * r + c
    return p * pow2(k)


def pow2(k: np.ndarray | float) -> np.ndarray | float:
    """2**k of integer-valued floats -1022 <= k <= 1023, exactly: the float whose exponent
    field is k (a compiled loop overloads it with the same bits)."""
    return ((np.int64(k) + 1023) << 52).view(np.float64)
