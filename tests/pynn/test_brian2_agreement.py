"""The same PyNN description run by pyNN.brian2 and by spikeport (reference target).

Random parts (initial potentials, connectivity, input spike trains) are drawn once with
numpy from a fixed seed and handed to both as arrays, FromListConnector lists and
SpikeSourceArrays, so the two runs differ only in the simulators.  Brian2 runs with its
numpy code generation (no 35 s Cython compile).  Sizes are scaled down so that Brian2,
which connects one target neuron at a time, finishes in seconds.
"""

import numpy as np
import pytest

brian2 = pytest.importorskip("brian2", reason="Brian2 is the peer these tests compare with")

import toolchain.pynn as spikeport  # noqa: E402


@pytest.fixture(scope="module")
def pynn_brian2():
    brian2.prefs.codegen.target = "numpy"
    import pyNN.brian2

    return pyNN.brian2


def population_stats(trains, t_stop: float, skip: float = 0.0) -> tuple[float, float]:
    """Mean rate (Hz) over cells and mean ISI CV over cells with >= 3 spikes, after ``skip``."""
    trains = [np.asarray(t)[np.asarray(t) >= skip] for t in trains]
    rate = sum(t.size for t in trains) / len(trains) / ((t_stop - skip) / 1000.0)
    cvs = [np.std(np.diff(t)) / np.mean(np.diff(t)) for t in trains if t.size >= 3]
    return rate, float(np.mean(cvs))


def assert_agree(ours, theirs, what):
    (rate, cv), (rate_b, cv_b) = ours, theirs
    assert rate_b > 1.0, f"{what}: Brian2 barely fires ({rate_b:.2f} Hz); nothing to compare"
    assert abs(rate - rate_b) <= 0.05 * rate_b, \
        f"{what}: rate {rate:.3f} Hz vs Brian2 {rate_b:.3f} Hz (more than 5% apart)"
    assert abs(cv - cv_b) <= 0.10 * cv_b, \
        f"{what}: ISI CV {cv:.3f} vs Brian2 {cv_b:.3f} (more than 10% apart)"


# --------------------------------------------------------------------------- models


def va_cuba(sim, n=250, t_stop=500.0, seed=98765):
    """VAbenchmarks.py CUBA at n cells; p = 80 / n keeps the 80 inputs per cell."""
    sim.setup(timestep=0.1, min_delay=0.2, max_delay=1.0)
    cell = {"tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 10.0, "v_rest": -49.0,
            "v_reset": -60.0, "v_thresh": -50.0, "cm": 0.2, "tau_refrac": 5.0}
    n_exc = int(n * 0.8)
    exc = sim.Population(n_exc, sim.IF_curr_exp(**cell), label="exc")
    inh = sim.Population(n - n_exc, sim.IF_curr_exp(**cell), label="inh")
    rng = np.random.default_rng(seed)
    v0 = rng.uniform(-60.0, -50.0, n)
    exc.initialize(v=v0[:n_exc])
    inh.initialize(v=v0[n_exc:])
    everyone = exc + inh
    for pre, weight, receptor in ((exc, 1e-3 * 0.27 * 60.0, "excitatory"),
                                  (inh, 1e-3 * 4.5 * -20.0, "inhibitory")):
        i, j = np.nonzero(rng.random((pre.size, n)) < 80.0 / n)
        conns = np.column_stack([i, j, np.full(i.size, weight), np.full(i.size, 0.2)])
        sim.Projection(pre, everyone, sim.FromListConnector(conns), sim.StaticSynapse(),
                       receptor_type=receptor)
    exc.record("spikes")
    inh.record("spikes")
    sim.run(t_stop)
    trains = [[np.asarray(t) for t in p.get_data().segments[0].spiketrains] for p in (exc, inh)]
    sim.end()
    return trains


def small_network(sim, n=20, simtime=1000.0, seed=26278342):
    """PyNN's examples/small_network.py, its IF_cond_alpha cells and 2 nS weights."""
    cell = {"tau_m": 20.0, "tau_syn_E": 2.0, "tau_syn_I": 4.0, "e_rev_E": 0.0,
            "e_rev_I": -70.0, "tau_refrac": 2.0, "v_rest": -60.0, "v_reset": -70.0,
            "v_thresh": -50.0, "cm": 0.5}
    dt, delay, input_rate, w = 0.1, 1.0, 50.0, 0.002
    sim.setup(timestep=dt, max_delay=delay)
    rng = np.random.default_rng(seed)
    cells = sim.Population(n, sim.IF_cond_alpha(**cell), label="cells")
    cells.initialize(v=rng.uniform(-60.0, -50.0, n))
    number = int(2 * simtime * input_rate / 1000.0)
    inputs = [np.add.accumulate(dt + rng.exponential(1000.0 / input_rate, size=number))
              for _ in range(n)]
    source = sim.Population(n, sim.SpikeSourceArray(spike_times=inputs), label="input")
    i, j = np.nonzero(rng.random((n, n)) < 0.5)
    conns = np.column_stack([i, j, np.full(i.size, w), np.full(i.size, delay)])
    sim.Projection(source, cells, sim.FromListConnector(conns), sim.StaticSynapse())
    cells.record("spikes")
    sim.run(simtime)
    trains = [np.asarray(t) for t in cells.get_data().segments[0].spiketrains]
    sim.end()
    return trains


def simple_stdp(sim, periods=3):
    """PyNN's examples/simple_STDP.py: 3 firing periods instead of 10, dt = 0.1 ms, and
    dendritic_delay_fraction=0 (pyNN.brian2 accepts nothing else)."""
    from pyNN.parameters import Sequence

    firing_period, n, delta_t, delay = 100.0, 60, 1.0, 3.0
    cell = {"tau_m": 10.0, "v_thresh": -50.0, "v_reset": -60.0, "v_rest": -60.0, "cm": 1.0,
            "tau_refrac": firing_period / 2}
    t_stop = periods * firing_period + n * delta_t
    sim.setup(timestep=0.1, min_delay=delay, max_delay=delay)
    times = [Sequence(np.arange(firing_period + j * delta_t, t_stop, firing_period))
             for j in np.arange(n) - n // 2]
    pre = sim.Population(n, sim.SpikeSourceArray(spike_times=times), label="presynaptic")
    post = sim.Population(1, sim.IF_cond_exp(**cell), initial_values={"v": cell["v_reset"]},
                          label="postsynaptic")
    driver = sim.Population(1, sim.SpikeSourceArray(
        spike_times=np.arange(firing_period - delay, t_stop, firing_period)), label="driver")
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=20.0, tau_minus=20.0, A_plus=0.01,
                                            A_minus=0.012),
        weight_dependence=sim.AdditiveWeightDependence(w_min=0, w_max=0.0000001),
        weight=0.00000005, delay=delay, dendritic_delay_fraction=0)
    plastic = sim.Projection(pre, post, sim.AllToAllConnector(), stdp)
    # PyNN 0.13's OneToOneConnector fails for 1-cell populations on numpy 2; 1x1 all-to-all
    # is the same connection
    sim.Projection(driver, post, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=10.0, delay=delay))
    post.record("spikes")
    sim.run(t_stop)
    weights = np.array(plastic.get("weight", format="list", with_address=False))
    spikes = np.asarray(post.get_data().segments[0].spiketrains[0])
    sim.end()
    return weights - 0.00000005, spikes


# --------------------------------------------------------------------------- tests


@pytest.mark.slow
def test_va_cuba_rates_and_irregularity(pynn_brian2):
    ours = va_cuba(spikeport)
    theirs = va_cuba(pynn_brian2)
    for k, name in enumerate(("excitatory", "inhibitory")):
        assert_agree(population_stats(ours[k], 500.0, skip=100.0),
                     population_stats(theirs[k], 500.0, skip=100.0), f"VA-CUBA {name}")


@pytest.mark.slow
def test_small_network_rates_and_irregularity(pynn_brian2):
    assert_agree(population_stats(small_network(spikeport), 1000.0),
                 population_stats(small_network(pynn_brian2), 1000.0), "small_network")


@pytest.mark.slow
def test_simple_stdp_weight_change_curve(pynn_brian2):
    ours, post = simple_stdp(spikeport)
    theirs, post_b = simple_stdp(pynn_brian2)
    np.testing.assert_allclose(post, post_b, atol=0.1)  # same postsynaptic spikes
    assert np.all(theirs[:28] > 0) and np.all(theirs[31:] < 0)  # the classic window
    worst = np.max(np.abs(ours - theirs))
    assert worst <= 0.10 * np.max(np.abs(theirs)), \
        f"STDP curve differs by up to {worst:.3g} (Brian2's largest change " \
        f"{np.max(np.abs(theirs)):.3g})"
