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


# Vogels-Abbott CUBA cell and weights, as in the project's examples/va_cuba.py
# (PyNN's VAbenchmarks.py): weights are conductances times the driving force at -60 mV.
VA_CELL = {"tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 10.0, "v_rest": -49.0,
           "v_reset": -60.0, "v_thresh": -50.0, "cm": 0.2, "tau_refrac": 5.0}


def va_cuba_net(n: int = 400, *, seed: int = 98765) -> Network:
    """The VA-CUBA balanced network at dt = 0.1 ms, 80 random inputs per cell."""
    rng = np.random.default_rng(seed)
    n_exc = n * 4 // 5
    sizes = {"exc": n_exc, "inh": n - n_exc}
    pops = tuple(Population(label, CellType.IF_CURR_EXP, size, parameters=VA_CELL,
                            initial_values={"v": rng.uniform(-60.0, -50.0, size)})
                 for label, size in sizes.items())
    weight = {"exc": 1e-3 * 0.27 * 60.0, "inh": 1e-3 * 4.5 * -20.0}  # nA
    projections = []
    for pre, n_pre in sizes.items():
        for post, n_post in sizes.items():
            m = 80 * n_post * n_pre // n
            receptor = "excitatory" if pre == "exc" else "inhibitory"
            projections.append(Projection(
                f"{pre}->{post}", pre, post, rng.integers(0, n_pre, m),
                rng.integers(0, n_post, m), np.full(m, weight[pre]), np.full(m, 0.2),
                receptor))
    return Network(dt=0.1, populations=pops, projections=tuple(projections),
                   recordings=tuple(Recording(p, "spikes", np.arange(s))
                                    for p, s in sizes.items()))
