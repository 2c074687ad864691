"""spikeport's native random numbers: numpy's PCG64 Generator behind PyNN's RNG interface.

PyNN asks every backend for a ``NativeRNG``: the simulator's own generator, faster than
the Python one at the price of not reproducing other simulators' draws.  Here it is a
seeded ``numpy.random.Generator`` (PCG64, ziggurat normals), the generator the
vectorised connectors already draw with; the distributions and their parameter names
are PyNN's (``pyNN.random.available_distributions``).
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
from pyNN import random as pyrandom


class NativeRNG(pyrandom.NativeRNG, pyrandom.NumpyRNG):
    """A seeded numpy Generator with PyNN's distributions (``NumpyRNG``'s, drawn by PCG64)."""

    translations = {**pyrandom.NumpyRNG.translations,
                    "uniform_int": ("integers", {"low": "low", "high": "high"})}

    def __init__(self, seed: int | None = None, parallel_safe: bool = True) -> None:
        pyrandom.WrappedRNG.__init__(self, seed, parallel_safe)
        self.rng = np.random.default_rng(self.seed)

    def __deepcopy__(self, memo: dict) -> NativeRNG:
        obj = NativeRNG.__new__(NativeRNG)
        pyrandom.WrappedRNG.__init__(obj, seed=deepcopy(self.seed, memo),
                                     parallel_safe=self.parallel_safe)
        obj.rng = deepcopy(self.rng, memo)
        return obj

    def __str__(self) -> str:
        return f"NativeRNG(seed={self.seed})"

    #: distributions :meth:`fill` draws in float32 straight into a synapse array
    FILLS = ("normal", "normal_clipped")

    def fill(self, distribution: str, parameters: dict[str, float], out: np.ndarray) -> None:
        """Draw ``out.size`` values of a distribution in :attr:`FILLS` into ``out``
        (float32), redrawing clipped ones as PyNN's ``normal_clipped`` does.

        For the bulk of a projection's values: float32 ziggurat normals written in place
        are about four times faster than float64 draws into new arrays, and a new array
        per block costs more in page faults than the draws at 10^8 synapses; float32 is
        what the IR stores anyway.  (Other distributions, and ``next``, draw as NumpyRNG
        does, from the same Generator.)"""
        mu, sigma = np.float32(parameters["mu"]), np.float32(parameters["sigma"])
        self.rng.standard_normal(out=out, dtype=np.float32)
        out *= sigma
        out += mu
        if distribution == "normal":
            return
        low, high = parameters["low"], parameters["high"]
        bad = np.flatnonzero(out < low if high == np.inf else (out < low) | (out > high))
        for _ in range(pyrandom.MAX_REDRAWS):
            if bad.size == 0:
                return
            redrawn = self.rng.standard_normal(bad.size, dtype=np.float32) * sigma + mu
            out[bad] = redrawn
            bad = bad[(redrawn < low) | (redrawn > high)]
        raise ValueError(
            f"normal_clipped(mu={float(mu):g}, sigma={float(sigma):g}, low={low:g}, "
            f"high={high:g}): {bad.size} values still outside after {pyrandom.MAX_REDRAWS} "
            "redraws; widen [low, high] or move mu into it")
