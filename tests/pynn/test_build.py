"""What a PyNN script becomes in the IR, and the errors a bad script gets."""

import numpy as np
import pytest
from pyNN import errors
from pyNN.random import NumpyRNG, RandomDistribution
from pyNN.standardmodels import cells as pynn_cells

import toolchain.pynn as sim
from toolchain import ir
from toolchain.pynn.build import build_network
from toolchain.pynn.simulator import state
from toolchain.targets import UnknownTargetError


@pytest.fixture(autouse=True)
def fresh():
    sim.setup(timestep=0.1, min_delay=0.1)
    yield
    sim.end()


def network() -> ir.Network:
    return build_network(state).network


def test_pyNN_spikeport_is_this_backend():
    import pyNN.spikeport

    assert pyNN.spikeport is sim


def test_setup_refuses_an_unknown_target_and_lists_the_known_ones():
    with pytest.raises(UnknownTargetError,
                       match=r"setup\(\): unknown target 'loihi9'; known targets: reference"):
        sim.setup(target="loihi9")


def test_populations_and_sources_carry_their_parameters():
    rng = NumpyRNG(seed=1)
    cells = sim.Population(4, sim.IF_cond_exp(tau_m=[10.0, 20.0, 30.0, 40.0], e_rev_I=-80.0),
                           initial_values={"v": RandomDistribution("uniform", (-70, -60), rng)},
                           label="cells")
    sim.Population(3, sim.SpikeSourcePoisson(rate=12.0, start=5.0), label="noise")
    sim.Population(2, sim.SpikeSourceArray(spike_times=[[1.0, 3.0], [2.0]]), label="drive")
    net = network()
    pop = net.population("cells")
    assert pop.cell_type is ir.CellType.IF_COND_EXP
    assert pop.parameters["tau_m"].tolist() == [10.0, 20.0, 30.0, 40.0]
    assert np.all(pop.parameters["e_rev_I"] == -80.0)
    v0 = pop.initial_values["v"]
    assert np.all((v0 >= -70) & (v0 <= -60)) and len(set(v0.tolist())) == 4
    # the drawn initial values are the ones PyNN reports
    np.testing.assert_array_equal(v0, cells.initial_values["v"].evaluate())
    np.testing.assert_array_equal(v0, cells.initial_values["v"].evaluate())
    noise = net.node("noise")
    assert isinstance(noise, ir.PoissonSource)
    assert noise.rate.tolist() == [12.0] * 3 and noise.start.tolist() == [5.0] * 3
    drive = net.node("drive")
    assert drive.train(0).tolist() == [1.0, 3.0] and drive.train(1).tolist() == [2.0]


def test_parameters_set_after_creation_reach_the_ir():
    pop = sim.Population(5, sim.IF_curr_exp(), label="p")
    pop[1:3].set(tau_m=7.0)
    pop.set(i_offset=np.arange(5) * 0.1)
    net = network()
    assert net.population("p").parameters["tau_m"].tolist() == [20.0, 7.0, 7.0, 20.0, 20.0]
    np.testing.assert_allclose(net.population("p").parameters["i_offset"], np.arange(5) * 0.1)
    assert pop.get("tau_m").tolist() == [20.0, 7.0, 7.0, 20.0, 20.0]


def test_unsupported_cell_type_names_the_population_and_the_alternatives():
    with pytest.raises(errors.InvalidModelError,
                       match=r"Population 'hw': cell type IF_facets_hardware1 is not supported "
                             r"by spikeport; use one of: IF_curr_exp, IF_curr_alpha, "
                             r"IF_curr_delta"):
        sim.Population(2, pynn_cells.IF_facets_hardware1(), label="hw")
    with pytest.raises(errors.InvalidModelError,
                       match=r"Population 'hh': cell type HH_cond_exp comes from "
                             r"pyNN.standardmodels.cells, not from spikeport; use HH_cond_exp "
                             r"from this backend \(sim.HH_cond_exp\)"):
        sim.Population(2, pynn_cells.HH_cond_exp(), label="hh")


def test_projection_between_views_maps_to_parent_indices():
    a = sim.Population(10, sim.IF_curr_exp(), label="a")
    b = sim.Population(6, sim.IF_curr_exp(), label="b")
    sim.Projection(a[[2, 5, 7]], b[4:6], sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=0.2, delay=1.5), label="v")
    proj = network().projections[0]
    assert (proj.pre, proj.post) == ("a", "b")
    assert sorted(zip(proj.pre_index.tolist(), proj.post_index.tolist(), strict=True)) == \
        sorted((i, j) for i in (2, 5, 7) for j in (4, 5))
    assert np.all(proj.weight == np.float32(0.2)) and np.all(proj.delay == np.float32(1.5))


def test_projection_from_an_assembly_splits_per_population_pair():
    a = sim.Population(3, sim.SpikeSourcePoisson(rate=5.0), label="a")
    b = sim.Population(2, sim.IF_curr_exp(), label="b")
    c = sim.Population(4, sim.IF_curr_exp(), label="c")
    prj = sim.Projection(a + b, c, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1),
                         label="asm")
    net = network()
    by_label = {p.label: p for p in net.projections}
    assert set(by_label) == {"asm[a->c]", "asm[b->c]"}
    assert by_label["asm[a->c]"].size == 12 and by_label["asm[b->c]"].size == 8
    assert by_label["asm[b->c]"].pre_index.max() == 1  # local index inside b
    assert len(prj) == 20


def test_inhibitory_current_synapses_keep_pynn_sign_convention():
    a = sim.Population(2, sim.SpikeSourcePoisson(rate=5.0), label="a")
    b = sim.Population(2, sim.IF_curr_exp(), label="b")
    sim.Projection(a, b, sim.OneToOneConnector(), sim.StaticSynapse(weight=-0.5),
                   receptor_type="inhibitory")
    proj = network().projections[0]
    assert proj.receptor is ir.Receptor.INHIBITORY and np.all(proj.weight == -0.5)


def test_wrong_weight_sign_names_projection_synapse_and_fix():
    a = sim.Population(2, sim.SpikeSourcePoisson(rate=5.0), label="a")
    b = sim.Population(2, sim.IF_curr_exp(), label="b")
    with pytest.raises(errors.ConnectionError,
                       match=r"Projection 'bad' weight\[0\] = 0.5 is positive; current-based "
                             r"inhibitory synapses need weights <= 0"):
        sim.Projection(a, b, sim.OneToOneConnector(), sim.StaticSynapse(weight=0.5),
                       receptor_type="inhibitory", label="bad")
    with pytest.raises(errors.ConnectionError,
                       match=r"Projection 'neg' weight\[1\] = -0.25 is negative; excitatory "
                             r"synapses need weights >= 0"):
        sim.Projection(a, b, sim.FromListConnector([(0, 0, 0.1, 1.0), (1, 1, -0.25, 1.0)]),
                       sim.StaticSynapse(), receptor_type="excitatory", label="neg")


def test_delay_below_min_delay_is_refused_with_the_limit():
    sim.setup(timestep=0.1, min_delay=1.0)
    a = sim.Population(2, sim.IF_curr_exp(), label="a")
    with pytest.raises(errors.ConnectionError,
                       match=r"Projection 'short' delay\[0\] = 0.5 ms is below min_delay = 1 ms"):
        sim.Projection(a, a, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1, delay=0.5),
                       label="short")


def test_stdp_projection_carries_its_rule():
    a = sim.Population(3, sim.SpikeSourcePoisson(rate=5.0), label="a")
    b = sim.Population(2, sim.IF_cond_exp(), label="b")
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=15.0, tau_minus=25.0, A_plus=0.02,
                                            A_minus=0.03),
        weight_dependence=sim.MultiplicativeWeightDependence(w_min=0.0, w_max=0.04),
        weight=0.01, delay=1.0, dendritic_delay_fraction=0)
    prj = sim.Projection(a, b, sim.AllToAllConnector(), stdp, label="plastic")
    rule = network().projections[0].plasticity
    assert rule == ir.STDPRule(tau_plus=15.0, tau_minus=25.0, A_plus=0.02, A_minus=0.03,
                               w_min=0.0, w_max=0.04,
                               weight_dependence=ir.WeightDependence.MULTIPLICATIVE)
    assert prj.get("tau_plus", format="list", with_address=False)[0] == 15.0


def test_stdp_takes_pynn_s_default_dendritic_delay_and_checks_its_range():
    a = sim.Population(2, sim.SpikeSourceArray(), label="a")
    b = sim.Population(2, sim.IF_cond_exp(), label="b")
    stdp = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(),
                             weight_dependence=sim.AdditiveWeightDependence())
    sim.Projection(a, b, sim.AllToAllConnector(), stdp)
    assert network().projections[0].plasticity.dendritic_delay_fraction == 1.0
    with pytest.raises(ValueError, match=r"dendritic_delay_fraction = 1.5 must be a number in "
                                         r"\[0, 1\]"):
        sim.STDPMechanism(timing_dependence=sim.SpikePairRule(),
                          weight_dependence=sim.AdditiveWeightDependence(),
                          dendritic_delay_fraction=1.5)
    with pytest.raises(ValueError, match="weight_dependence GutigWeightDependence is not "
                                         "supported with Vogels2011Rule; use "
                                         "AdditiveWeightDependence"):
        sim.STDPMechanism(timing_dependence=sim.Vogels2011Rule(),
                          weight_dependence=sim.GutigWeightDependence())


def test_get_and_set_weights_and_delays():
    a = sim.Population(3, sim.IF_curr_exp(), label="a")
    b = sim.Population(2, sim.IF_curr_exp(), label="b")
    prj = sim.Projection(a, b, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.1, delay=1.0))
    w = np.arange(6, dtype=float).reshape(3, 2) * 0.01
    prj.set(weight=w, delay=2.0)
    np.testing.assert_allclose(prj.get("weight", format="array"), w, rtol=1e-6)
    assert prj.get("delay", format="list", with_address=False) == [2.0] * 6
    net = network()
    got = np.zeros((3, 2))
    got[net.projections[0].pre_index, net.projections[0].post_index] = net.projections[0].weight
    np.testing.assert_allclose(got, w, rtol=1e-6)


def test_get_array_sums_multiple_synapses_like_pynn():
    a = sim.Population(2, sim.IF_curr_exp(), label="a")
    prj = sim.Projection(a, a, sim.FromListConnector([(0, 1, 0.1, 1.0), (0, 1, 0.2, 1.0)]),
                         sim.StaticSynapse())
    arr = prj.get("weight", format="array")
    assert np.isnan(arr[1, 0]) and arr[0, 1] == pytest.approx(0.3)
    assert prj.get("weight", format="array", multiple_synapses="max")[0, 1] == pytest.approx(0.2)


def test_current_sources_and_recordings_address_views():
    pop = sim.Population(6, sim.IF_curr_exp(), label="p")
    dc = sim.DCSource(amplitude=0.4, start=10.0, stop=50.0)
    pop[1:3].inject(dc)
    steps = sim.StepCurrentSource(times=[5.0, 15.0], amplitudes=[0.2, 0.0])
    steps.inject_into([pop[5]])
    pop[::2].record("v")
    pop.record("spikes")
    net = network()
    dc_ir, step_ir = net.currents
    assert dc_ir.indices.tolist() == [1, 2] and dc_ir.amplitude == pytest.approx(0.4)
    assert (dc_ir.start, dc_ir.stop) == (10.0, 50.0)
    assert step_ir.indices.tolist() == [5] and step_ir.times.tolist() == [5.0, 15.0]
    recorded = {r.variable: r.indices.tolist() for r in net.recordings}
    assert recorded == {"v": [0, 2, 4], "spikes": list(range(6))}


def test_recording_an_unrecordable_variable_is_refused():
    src = sim.Population(2, sim.SpikeSourcePoisson(rate=1.0))
    with pytest.raises(errors.RecordingError):
        src.record("v")


def test_duplicate_labels_get_unique_ir_labels():
    sim.Population(2, sim.IF_curr_exp(), label="same")
    sim.Population(3, sim.IF_curr_exp(), label="same")
    assert [p.label for p in network().populations] == ["same", "same#2"]
