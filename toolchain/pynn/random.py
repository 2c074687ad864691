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
