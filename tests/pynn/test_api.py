"""The PyNN API a script expects of a backend, beyond what PyNN's scenario tests check:
star imports, validation with PyNN's exceptions, per-connection access and every synaptic
parameter, saving projections, the native RNG, plastic arrays of initial weights, and
changes between runs on targets that can and cannot follow them."""

from __future__ import annotations

import numpy as np
import pytest
from pyNN import errors

import toolchain.pynn as sim
from toolchain.pynn.simulator import NetworkChangedError, state


@pytest.fixture(autouse=True)
def fresh():
    sim.setup(timestep=0.1, min_delay=0.1)
    yield
    sim.end()


def test_star_import_gives_every_name_other_backends_give():
    import pyNN.brian2

    names = {"set", "NativeRNG", "CSAConnector", "IF_facets_hardware1", "ElectricalSynapse",
             "list_standard_models", "Sequence"}
    ns: dict = {}
    exec("from pyNN.spikeport import *", ns)  # what scripts do
    brian2_names = {n for n in vars(pyNN.brian2) if not n.startswith("_")
                    and isinstance(getattr(pyNN.brian2, n), type)
                    and n[0].isupper() and n not in {
                        # pyNN.brian2's own Brian2 wrappers, not PyNN names
                        "AdaptiveNeuronGroup", "AdaptiveNeuronGroup2",
                        "BiophysicalNeuronGroup", "Brian2CurrentSource",
                        "IzhikevichNeuronGroup", "NonStreamableCurrentSource",
                        "PoissonGroup", "SpikeGeneratorGroup", "StreamableCurrentSource",
                        "ThresholdNeuronGroup", "StandardCurrentSource", "StandardSynapseType",
                        "LazyArray", "ParameterSpace", "AbstractRNG"}}
    assert (names | brian2_names) <= set(ns)
    with pytest.raises(NotImplementedError, match="IF_facets_hardware1 is not available on "
                                                  "spikeport: .* use IF_cond_exp"):
        ns["IF_facets_hardware1"]()
    assert "HH_cond_exp" in sim.list_standard_models()


def test_bad_values_are_refused_when_set_with_pynn_s_exception():
    with pytest.raises(errors.InvalidParameterValueError,
                       match=r"Population 'p' parameter tau_m\[0\] = -5 ms is outside"):
        sim.Population(2, sim.IF_cond_exp(tau_m=-5.0), label="p")
    pop = sim.Population(3, sim.EIF_cond_exp_isfa_ista(), label="eif")
    with pytest.raises(errors.InvalidParameterValueError,
                       match=r"v_reset\[1\] = -35 mV is not below v_spike\[1\] = -40 mV"):
        pop[1:2].set(v_reset=-35.0)
    assert pop.get("v_reset") == pytest.approx(-70.6)  # the refused value is not kept
    with pytest.raises(errors.InvalidParameterValueError, match="spike times are not sorted"):
        sim.Population(1, sim.SpikeSourceArray(spike_times=[3.0, 1.0]))


def test_every_synaptic_parameter_per_connection():
    a = sim.Population(3, sim.SpikeSourceArray(spike_times=[5.0, 9.0]), label="a")
    b = sim.Population(2, sim.IF_curr_exp(), label="b")
    prj = sim.Projection(a, b, sim.AllToAllConnector(), sim.TsodyksMarkramSynapse(
        weight=0.015, delay=1.5, U=0.543, tau_rec=800.0, tau_facil=lambda d: 10.0 * d))
    conns = list(prj.connections)
    assert len(conns) == 6 and conns[1].weight == 0.015  # as typed, not float32's
    assert {c.U for c in conns} == {0.543}
    conns[2].tau_rec = 300.0
    conns[3].weight = 0.5
    assert prj.get("tau_rec", "list", with_address=False).count(300.0) == 1
    assert prj.get("weight", "array")[conns[3].presynaptic_index,
                                      conns[3].postsynaptic_index] == 0.5
    tau_facil = prj.get("tau_facil", "array")
    np.testing.assert_allclose(tau_facil, 10.0 * np.abs(np.subtract.outer(range(3), range(2))))
    prj.initialize(u=0.2)
    sim.run(20.0)
    dynamics = state.network.projections[0].dynamics
    assert dynamics.tau_rec.size == 6 and dynamics.u.size == 1
    assert float(dynamics.u[0]) == pytest.approx(0.2)


def test_projection_save_writes_what_get_reads(tmp_path):
    a = sim.Population(3, sim.SpikeSourcePoisson(rate=5.0), label="a")
    b = sim.Population(2, sim.IF_cond_exp(), label="b")
    prj = sim.Projection(a, b, sim.FixedProbabilityConnector(0.7, rng=sim.NativeRNG(seed=4)),
                         sim.SimpleStochasticSynapse(weight=0.01, delay=0.5, p=0.25))
    path = tmp_path / "prj.txt"
    prj.save("all", str(path))
    table = np.loadtxt(path)
    assert table.shape == (len(prj), 5)  # i, j, weight, delay, p
    np.testing.assert_allclose(table[:, 2:], [[0.01, 0.5, 0.25]] * len(prj))


def test_native_rng_draws_reproducibly_from_its_seed():
    draw = sim.RandomDistribution("normal", mu=1.0, sigma=0.5, rng=sim.NativeRNG(seed=9))
    again = sim.RandomDistribution("normal", mu=1.0, sigma=0.5, rng=sim.NativeRNG(seed=9))
    np.testing.assert_array_equal(draw.next(5), again.next(5))
    a = sim.Population(4, sim.IF_cond_exp(tau_m=draw), label="a")
    assert np.all(a.get("tau_m") != 20.0)


def test_a_plastic_projection_takes_a_pre_post_array_of_initial_weights():
    """STDPMechanism(weight=array) with AllToAllConnector (lazyarray used to fail with
    'fixed shape (16, 8), cannot be changed to (1,)')."""
    pre = sim.Population(16, sim.SpikeSourcePoisson(rate=20.0), label="pre")
    post = sim.Population(8, sim.IF_curr_exp(i_offset=0.8), label="post")  # fires
    w0 = np.random.default_rng(1).uniform(0.0, 0.5, (16, 8))
    stdp = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(),
                             weight_dependence=sim.MultiplicativeWeightDependence(w_max=1.0),
                             weight=w0, delay=1.0, dendritic_delay_fraction=0)
    prj = sim.Projection(pre, post, sim.AllToAllConnector(), stdp)
    np.testing.assert_allclose(prj.get("weight", "array"), w0, rtol=1e-6)
    sim.run(200.0)
    assert not np.allclose(prj.get("weight", "array"), w0)  # it learnt


def test_rates_and_current_sources_change_between_runs():
    src = sim.Population(50, sim.SpikeSourcePoisson(rate=10.0), label="src")
    cell = sim.Population(1, sim.IF_curr_exp(), label="cell")
    dc = sim.DCSource(amplitude=0.0)
    dc.inject_into(cell)
    src.record("spikes")
    cell.record("v")
    sim.run(1000.0)
    src.set(rate=40.0)
    dc.amplitude = 0.5
    sim.run(1000.0)
    times = np.concatenate([np.asarray(t) for t in src.get_data().segments[0].spiketrains])
    first, second = np.sum(times < 1000.0), np.sum(times >= 1000.0)
    assert abs(first - 500) < 5 * np.sqrt(500) and abs(second - 2000) < 5 * np.sqrt(2000)
    v = cell.get_data().segments[0].filter(name="v")[0].magnitude[:, 0]
    assert v[10000] == pytest.approx(-65.0) and v[-1] == pytest.approx(-65.0 + 0.5 * 20.0,
                                                                      abs=0.01)


def test_a_target_that_cannot_change_a_running_network_says_which_and_why():
    sim.setup(timestep=1.0, min_delay=1.0, target="loihi")
    cells = sim.Population(2, sim.IF_curr_exp(), label="cells")
    sim.run(10.0)
    cells.set(tau_m=5.0)
    with pytest.raises(NetworkChangedError,
                       match=r"parameter\(s\) of population 'cells' changed after the "
                             r"simulation started \(t = 10 ms\), which the 'loihi' target "
                             r"cannot follow: .*LoihiKernel cannot change its parameters at "
                             r"run time.*call reset\(\)"):
        sim.run(10.0)
    sim.reset()
    sim.run(10.0)  # compiled anew


@pytest.mark.parametrize("target", ["reference", "loihi"])
def test_a_script_of_spike_sources_only_runs_them_on_any_target(target):
    """Nothing to map, so no compile (the targets refuse an empty network); sources are
    realised on the host on every target, so the trains are the same everywhere."""
    sim.setup(timestep=1.0, min_delay=1.0, target=target)
    src = sim.Population(20, sim.SpikeSourcePoisson(rate=50.0), label="src")
    src.record("spikes")
    sim.run(500.0)
    src.set(rate=5.0)  # changed between runs, as for any network
    sim.run(500.0)
    times = np.concatenate([np.asarray(t) for t in src.get_data().segments[0].spiketrains])
    first, second = np.sum(times < 500.0), np.sum(times >= 500.0)
    assert abs(first - 500) < 5 * np.sqrt(500) and abs(second - 50) < 5 * np.sqrt(50)


def test_recording_a_current_source_is_asked_for_before_run():
    cell = sim.Population(1, sim.IF_curr_exp())
    ac = sim.ACSource(amplitude=0.5, frequency=50.0)
    ac.inject_into(cell)
    sim.run(5.0)
    with pytest.raises(errors.RecordingError, match="ACSource was not recorded: call its "
                                                    "record\\(\\) before run\\(\\)"):
        ac.get_data()
    with pytest.raises(TypeError, match="cannot inject current into"):
        ac.inject_into(sim.Population(1, sim.SpikeSourcePoisson()))
