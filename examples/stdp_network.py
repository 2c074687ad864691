"""Correlation-driven STDP (after Song, Miller & Abbott 2000), in plain PyNN.

Half of the input fibres fire in loose synchrony (each copies a shared Poisson "mother"
train with probability ``--corr``, the rest of its rate is independent), half fire
independently at the same rate.  Additive pair STDP onto a small population of LIF cells
potentiates the correlated group and depresses the uncorrelated one: the learnt weights
tell you whether a platform got the spike timing right, not just the rates.

Sized for the iCEBreaker build of spikeport's FPGA core (48 x 16 plastic synapses), and
written with power-of-two time constants in steps and a power-of-two ratio of the STDP
amplitudes, because that core decays traces and scales weight changes by shifts (with
A_minus = 0.012 instead of 0.01 its rate drops about 25 % below the float reference).

    python examples/stdp_network.py spikeport [--duration MS] [--weights FILE]
    spikeport pynn --target fpga examples/stdp_network.py spikeport
    spikeport run --board virtual --preset ice40up5k examples/stdp_network.py spikeport
    python examples/stdp_network.py brian2        # pyNN.brian2: the same spikes and weights
"""

import sys

import numpy as np
from pyNN.random import NumpyRNG, RandomDistribution
from pyNN.utility import get_simulator

sim, options = get_simulator(
    ("--duration", "simulated time in ms", {"default": 2000.0, "type": float}),
    ("--inputs", "input fibres (half of them correlated)", {"default": 48, "type": int}),
    ("--cells", "LIF cells", {"default": 16, "type": int}),
    ("--rate", "input rate in Hz", {"default": 15.0, "type": float}),
    ("--corr", "share of a correlated fibre's spikes copied from the mother train",
     {"default": 0.5, "type": float}),
    ("--seed", "input seed", {"default": 7, "type": int}),
    ("--weights", "where to write the learnt weights (.npy, pre x post)", {"default": None}),
)

DT = 1.0
sim.setup(timestep=DT, min_delay=DT)

rng = np.random.default_rng(options.seed)
n_in, T = options.inputs, options.duration
n_corr = n_in // 2


def poisson(rate_hz: float) -> np.ndarray:
    n = rng.poisson(rate_hz * T / 1000.0)
    return rng.uniform(DT, T, n)


mother = poisson(options.rate)
trains = []
for i in range(n_in):
    if i < n_corr:
        copied = mother[rng.random(mother.size) < options.corr]
        t = np.concatenate([copied, poisson(options.rate * (1.0 - options.corr))])
    else:
        t = poisson(options.rate)
    # whole timesteps, one spike per step per fibre
    trains.append(np.unique(np.round(t / DT) * DT).tolist())

inputs = sim.Population(n_in, sim.SpikeSourceArray(spike_times=trains), label="inputs")
cells = sim.Population(options.cells, sim.IF_curr_exp(
    cm=1.0, tau_m=16.0, tau_syn_E=8.0, tau_syn_I=8.0, v_rest=-65.0, v_reset=-65.0,
    v_thresh=-50.0, tau_refrac=2.0), label="cells")

stdp = sim.STDPMechanism(
    timing_dependence=sim.SpikePairRule(tau_plus=16.0, tau_minus=32.0,
                                        A_plus=0.02, A_minus=0.01),
    weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=0.4),
    weight=RandomDistribution("uniform", low=0.05, high=0.25, rng=NumpyRNG(options.seed)),
    delay=DT, dendritic_delay_fraction=0)
plastic = sim.Projection(inputs, cells, sim.AllToAllConnector(), stdp,
                         receptor_type="excitatory", label="plastic")

cells.record("spikes")
sim.run(T)

spikes = cells.get_data("spikes").segments[0].spiketrains
w = np.asarray(plastic.get("weight", format="array"))
n_spikes = sum(len(s) for s in spikes)
print(f"{n_spikes} spikes ({n_spikes / options.cells / (T / 1000.0):.1f} Hz per cell); "
      f"mean weight: correlated {w[:n_corr].mean():.3f}, uncorrelated {w[n_corr:].mean():.3f}",
      file=sys.stderr)
if options.weights:
    np.save(options.weights, w)
sim.end()
