"""A small PyNN network with STDP, sized for the 'tiny' core: what `spikeport run` tests use.

Usage: python small_stdp.py <simulator> [--out FILE] [--duration MS]   (simulator: spikeport)
"""

import sys

import numpy as np
from pyNN.utility import get_simulator

sim, options = get_simulator(("--out", "where to write the final weights (.npy)",
                              {"default": None}),
                             ("--duration", "simulated time in ms", {"default": 60.0,
                                                                     "type": float}))
sim.setup(timestep=0.1, min_delay=0.1)
rng = np.random.default_rng(3)
trains = [sorted(rng.uniform(0, 60, 12).round(1).tolist()) for _ in range(4)]
drive = sim.Population(4, sim.SpikeSourceArray(spike_times=trains), label="drive")
cells = sim.Population(8, sim.IF_curr_exp(tau_syn_E=1.0, tau_syn_I=1.0, tau_refrac=0.2),
                       label="cells")
stdp = sim.STDPMechanism(
    timing_dependence=sim.SpikePairRule(tau_plus=2.0, tau_minus=2.0, A_plus=0.05,
                                        A_minus=0.03),
    weight_dependence=sim.AdditiveWeightDependence(w_min=0.0, w_max=6.0),
    weight=3.0, delay=0.1, dendritic_delay_fraction=0)
ff = sim.Projection(drive, cells, sim.AllToAllConnector(), stdp, label="ff")
cells.record("spikes")
sim.run(options.duration)
spikes = cells.get_data("spikes").segments[0].spiketrains
print(f"{sum(len(s) for s in spikes)} spikes", file=sys.stderr)
if options.out:
    np.save(options.out, np.asarray(ff.get("weight", format="array")))
sim.end()
