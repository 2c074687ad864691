"""A small excitatory/inhibitory network driven by Poisson noise, in plain PyNN, sized so
that it fits every spikeport target: the FPGA core's iCE40 build (at most 128 neurons and
1024 synapses), DYNAP-SE's 64-entry CAM fan-in, and Loihi's single synaptic time constant
per compartment.

    spikeport pynn examples/ei_network.py spikeport --n 64
    spikeport portability examples/ei_network.py spikeport
    python examples/ei_network.py brian2
"""

from __future__ import annotations

CELL = {"tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 5.0, "v_rest": -65.0,
        "v_reset": -65.0, "v_thresh": -50.0, "cm": 0.25, "tau_refrac": 2.0}


def build(sim, n: int = 64, t_stop: float = 500.0, rate: float = 20.0, seed: int = 4242):
    from pyNN.random import NumpyRNG

    sim.setup(timestep=0.1, min_delay=1.0, max_delay=4.0)
    rng = NumpyRNG(seed=seed)
    n_exc = int(round(0.8 * n))
    exc = sim.Population(n_exc, sim.IF_curr_exp(**CELL), label="exc")
    inh = sim.Population(n - n_exc, sim.IF_curr_exp(**CELL), label="inh")
    noise = sim.Population(n // 2, sim.SpikeSourcePoisson(rate=rate), label="noise")
    cells = exc + inh
    sim.Projection(noise, cells, sim.FixedNumberPreConnector(6, rng=rng),
                   sim.StaticSynapse(weight=0.6, delay=1.0), receptor_type="excitatory",
                   label="noise->cells")
    sim.Projection(exc, cells, sim.FixedNumberPreConnector(6, rng=rng),
                   sim.StaticSynapse(weight=0.25, delay=1.0), receptor_type="excitatory",
                   label="exc->cells")
    sim.Projection(inh, cells, sim.FixedNumberPreConnector(3, rng=rng),
                   sim.StaticSynapse(weight=-0.6, delay=1.0), receptor_type="inhibitory",
                   label="inh->cells")
    exc.record("spikes")
    inh.record("spikes")
    sim.run(t_stop)
    return exc, inh


def main() -> None:
    from pyNN.utility import get_simulator

    sim, options = get_simulator(
        ("--n", "number of cells", {"type": int, "default": 64}),
        ("--t-stop", "simulated time (ms)", {"type": float, "default": 500.0}),
    )
    exc, inh = build(sim, n=options.n, t_stop=options.t_stop)
    for pop in (exc, inh):
        spikes = pop.get_data().segments[0].spiketrains
        rate = sum(len(s) for s in spikes) / (len(spikes) * options.t_stop / 1000.0)
        print(f"{pop.label}: {len(spikes)} cells, {rate:.2f} Hz")
    sim.end()


if __name__ == "__main__":
    main()
