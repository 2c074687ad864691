"""Small IR builders shared by the engine tests."""

from __future__ import annotations

import numpy as np

from toolchain.ir import ArraySource, DCSource, Network, Population, Projection, Recording
from toolchain.sim.engine import Engine
from toolchain.sim.numerics import ReferenceNumerics

DT = 0.1


def single_neuron(cell_type: str = "IF_curr_exp", *, params: dict | None = None,
                  v0: float | None = None, inputs: list[tuple[list[float], float, float, str]]
                  = (), dc: tuple[float, float, float] | None = None, dt: float = DT,
                  record: tuple[str, ...] = ("v",)) -> Network:
    """One neuron, optionally fed by spike arrays ``(times, weight, delay, receptor)`` and
    a DC source ``(amplitude, start, stop)``; records spikes and ``record``."""
    params = dict(params or {})
    init = {} if v0 is None else {"v": v0}
    pop = Population("n", cell_type, 1, params, init)
    sources, projections = [], []
    for i, (times, weight, delay, receptor) in enumerate(inputs):
        src = ArraySource.from_lists(f"in{i}", [times])
        sources.append(src)
        projections.append(Projection(f"p{i}", src.label, "n", [0], [0], [weight], [delay],
                                      receptor))
    currents = () if dc is None else (DCSource("dc", "n", [0], *dc),)
    recordings = [Recording("n", "spikes", [0])]
    recordings += [Recording("n", var, [0]) for var in record]
    return Network(dt=dt, populations=(pop,), sources=tuple(sources),
                   projections=tuple(projections), currents=currents,
                   recordings=tuple(recordings))


def run(net: Network, t_stop: float, cond_scheme: str = "euler") -> Engine:
    sim = Engine(net, numerics=ReferenceNumerics(cond_scheme))
    sim.run_until(t_stop)
    return sim


def trace(sim: Engine, variable: str = "v", label: str = "n") -> tuple[np.ndarray, np.ndarray]:
    rec = sim.result().signals[(label, variable)]
    return rec.times, rec.values[:, 0]
