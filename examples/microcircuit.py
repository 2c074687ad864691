"""The cortical microcircuit of Potjans & Diesmann (2014, Cerebral Cortex 24:785), in
plain PyNN: 8 populations (layers 2/3, 4, 5, 6; excitatory and inhibitory), 77,169
IF_curr_exp cells and about 0.3 billion synapses at full scale, with Poisson background.

``scale`` multiplies every population size; the connection probabilities stay, so the
synapse count scales with ``scale**2``.  The synapse count per population pair is fixed,
as in the paper: K = log(1 - C) / log(1 - 1 / (N_pre N_post)), drawn with
FixedTotalNumberConnector.

    spikeport pynn examples/microcircuit.py spikeport --scale 0.05 --t-stop 100
"""

from __future__ import annotations

import math
import time

import numpy as np

LAYERS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
# Potjans & Diesmann 2014, Table 5: full-scale population sizes
SIZES = (20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948)
# Table 5: connection probabilities, rows = target, columns = source (order of LAYERS)
P_CONN = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.1350, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.0600, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.0010, 0.0034, 0.0005, 0.0277, 0.0080, 0.0658, 0.1443],
])
# Table 5: external (background) inputs per cell, each a Poisson train at 8 Hz
K_EXT = (1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100)
BG_RATE = 8.0  # Hz
CELL = {"cm": 0.25, "tau_m": 10.0, "tau_refrac": 2.0, "tau_syn_E": 0.5, "tau_syn_I": 0.5,
        "v_rest": -65.0, "v_reset": -65.0, "v_thresh": -50.0}
W_MEAN = 0.0878  # nA (87.8 pA), relative sd 0.1; L4E -> L23E doubled; inhibitory x -4
G = -4.0
D_EXC, D_INH = 1.5, 0.75  # ms, mean delays, relative sd 0.5


def synapse_count(c: float, n_pre: int, n_post: int) -> int:
    if c <= 0:
        return 0
    return int(round(math.log(1.0 - c) / math.log(1.0 - 1.0 / (n_pre * n_post))))


def build(sim, scale: float = 1.0, seed: int = 55) -> dict:
    """Create the network on backend ``sim`` (after ``sim.setup``); return its parts."""
    from pyNN.random import NumpyRNG, RandomDistribution

    rng = NumpyRNG(seed=seed)
    pops = {}
    for name, size in zip(LAYERS, SIZES, strict=True):
        n = max(1, int(round(size * scale)))
        pops[name] = sim.Population(n, sim.IF_curr_exp(**CELL), label=name)
        pops[name].initialize(v=RandomDistribution("normal", mu=-58.0, sigma=10.0, rng=rng))
        # background: one Poisson source per cell carrying K_ext inputs at 8 Hz
        bg = sim.Population(n, sim.SpikeSourcePoisson(rate=K_EXT[LAYERS.index(name)] * BG_RATE),
                            label=f"bg_{name}")
        sim.Projection(bg, pops[name], sim.OneToOneConnector(),
                       sim.StaticSynapse(weight=W_MEAN, delay=D_EXC), label=f"bg->{name}")
    projections = []
    for t, target in enumerate(LAYERS):
        for s, source in enumerate(LAYERS):
            k = synapse_count(P_CONN[t, s], pops[source].size, pops[target].size)
            if k == 0:
                continue
            excitatory = source.endswith("E")
            w = W_MEAN * (2.0 if (source, target) == ("L4E", "L23E") else 1.0)
            w = w if excitatory else G * w
            d = D_EXC if excitatory else D_INH
            low, high = (0.0, np.inf) if excitatory else (-np.inf, 0.0)
            syn = sim.StaticSynapse(
                weight=RandomDistribution("normal_clipped", mu=w, sigma=abs(0.1 * w),
                                          low=low, high=high, rng=rng),
                delay=RandomDistribution("normal_clipped", mu=d, sigma=0.5 * d, low=0.1,
                                         high=np.inf, rng=rng))
            projections.append(sim.Projection(
                pops[source], pops[target],
                sim.FixedTotalNumberConnector(k, rng=rng), syn,
                receptor_type="excitatory" if excitatory else "inhibitory",
                label=f"{source}->{target}"))
    return {"populations": pops, "projections": projections}


if __name__ == "__main__":
    from pyNN.utility import get_simulator

    sim, options = get_simulator(
        ("--scale", "population size factor", {"type": float, "default": 0.05}),
        ("--t-stop", "duration (ms)", {"type": float, "default": 100.0}))
    t0 = time.perf_counter()
    sim.setup(timestep=0.1, min_delay=0.1, max_delay=100.0)
    net = build(sim, options.scale)
    for pop in net["populations"].values():
        pop.record("spikes")
    t1 = time.perf_counter()
    sim.run(options.t_stop)
    t2 = time.perf_counter()
    n_syn = sum(len(p) for p in net["projections"])
    print(f"{sum(p.size for p in net['populations'].values())} cells, {n_syn} synapses; "
          f"build {t1 - t0:.2f} s, compile + run {t2 - t1:.2f} s")
    for name, pop in net["populations"].items():
        print(f"  {name:<5} {pop.mean_spike_count() * 1000.0 / options.t_stop:6.2f} Hz")
    sim.end()
