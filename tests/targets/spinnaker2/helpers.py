"""Small networks for the SpiNNaker2 tests."""

from __future__ import annotations

import numpy as np

from toolchain.ir import ArraySource, CellType, Network, Population, Projection, Recording
from toolchain.targets.spinnaker2.spec import Board, SpiNNaker2Spec


def tiny_spec(**changes: object) -> SpiNNaker2Spec:
    """A 2 x 2 mesh of 4-PE chips, so small networks already span chips."""
    base = dict(board=Board("2x2", 2, 2), pes_per_chip=4, neurons_per_pe=64)
    base.update(changes)
    return SpiNNaker2Spec(**base)


def recurrent_net(n: int = 200, *, seed: int = 0, max_delay: int = 30,
                  t_stop: float = 300.0) -> Network:
    """Input spikes into a randomly connected excitatory population, delays 1..max_delay ms."""
    rng = np.random.default_rng(seed)
    exc = Population("exc", CellType.IF_CURR_EXP, n, parameters={"tau_refrac": 2.0})
    src = ArraySource.from_lists("input", [np.sort(rng.uniform(0, t_stop, 8)) for _ in range(50)])
    m = n * n // 10
    rec = Projection("rec", "exc", "exc", rng.integers(0, n, m), rng.integers(0, n, m),
                     rng.uniform(0, 0.1, m), rng.integers(1, max_delay + 1, m))
    inp = Projection("in", "input", "exc", rng.integers(0, 50, 3000), rng.integers(0, n, 3000),
                     np.full(3000, 1.0), np.full(3000, 1.0))
    return Network(dt=1.0, populations=(exc,), sources=(src,), projections=(rec, inp),
                   recordings=(Recording("exc", "spikes", np.arange(n)),))
