"""Vogels-Abbott balanced network, current-based (benchmark 1 of Brette et al. 2007), in
plain PyNN.

Parameters follow PyNN's own examples/VAbenchmarks.py (CUBA).  ``n`` scales the network;
the connection probability scales as 80 / n so every cell keeps the 80 inputs of the
4000-cell original, which keeps the rate (about 5-6 Hz) roughly independent of size.

Run it on any PyNN backend:

    spikeport pynn examples/va_cuba.py spikeport --n 1000
    python examples/va_cuba.py brian2 --n 1000
"""

from __future__ import annotations

import time

import numpy as np

# From VAbenchmarks.py: membrane area 20000 um^2 with 1 uF/cm^2 gives cm = 0.2 nF; weights
# are conductances (0.27 nS exc, 4.5 nS inh) times the driving force at v_mean = -60 mV.
CELL = {"tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 10.0, "v_rest": -49.0,
        "v_reset": -60.0, "v_thresh": -50.0, "cm": 0.2, "tau_refrac": 5.0}
W_EXC = 1e-3 * 0.27 * (0.0 - -60.0)  # nA
W_INH = 1e-3 * 4.5 * (-80.0 - -60.0)  # nA
DELAY = 0.2  # ms
IN_DEGREE = 80  # inputs per cell: 4000 cells x p = 0.02


def run(sim, n: int = 4000, t_stop: float = 1000.0, seed: int = 98765) -> dict:
    """Build and run the network on backend ``sim``; return spike trains and timings."""
    from pyNN.random import NumpyRNG, RandomDistribution

    t0 = time.perf_counter()
    sim.setup(timestep=0.1, min_delay=DELAY, max_delay=1.0)
    n_exc = int(round(n * 0.8))
    exc = sim.Population(n_exc, sim.IF_curr_exp(**CELL), label="exc")
    inh = sim.Population(n - n_exc, sim.IF_curr_exp(**CELL), label="inh")
    rng = NumpyRNG(seed=seed)
    v0 = RandomDistribution("uniform", low=CELL["v_reset"], high=CELL["v_thresh"], rng=rng)
    exc.initialize(v=v0)
    inh.initialize(v=v0)
    everyone = exc + inh
    connector = sim.FixedProbabilityConnector(min(1.0, IN_DEGREE / n), rng=rng)
    projections = [
        sim.Projection(exc, everyone, connector, sim.StaticSynapse(weight=W_EXC, delay=DELAY),
                       receptor_type="excitatory", label="exc->all"),
        sim.Projection(inh, everyone, connector, sim.StaticSynapse(weight=W_INH, delay=DELAY),
                       receptor_type="inhibitory", label="inh->all"),
    ]
    exc.record("spikes")
    inh.record("spikes")
    t1 = time.perf_counter()
    sim.run(t_stop)
    t2 = time.perf_counter()
    out = {
        "exc": [np.asarray(st) for st in exc.get_data().segments[0].spiketrains],
        "inh": [np.asarray(st) for st in inh.get_data().segments[0].spiketrains],
        "synapses": sum(len(p) for p in projections),
        "t_stop": t_stop,
        "build_s": t1 - t0,
        "run_s": t2 - t1,
    }
    sim.end()
    return out


if __name__ == "__main__":
    from pyNN.utility import get_simulator

    def rate_hz(trains: list[np.ndarray], t_stop: float) -> float:
        return sum(t.size for t in trains) / len(trains) / (t_stop / 1000.0)

    sim, options = get_simulator(("--n", "number of cells", {"type": int, "default": 4000}),
                                 ("--t-stop", "duration (ms)", {"type": float, "default": 1000.0}))
    result = run(sim, options.n, options.t_stop)
    print(f"{options.n} cells, {result['synapses']} synapses; "
          f"exc {rate_hz(result['exc'], options.t_stop):.2f} Hz, "
          f"inh {rate_hz(result['inh'], options.t_stop):.2f} Hz; "
          f"build {result['build_s']:.2f} s, run {result['run_s']:.2f} s")
