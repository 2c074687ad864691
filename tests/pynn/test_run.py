"""Running through the backend: Neo results, reset, weights across runs, errors."""

import neo
import numpy as np
import pytest
import quantities as pq

import toolchain.pynn as sim
from toolchain.pynn.simulator import NetworkChangedError, state
from toolchain.targets import get_target

DRIVE = [[5.0, 25.0, 45.0, 65.0], [10.0, 30.0], [12.0, 80.0], [], [50.0]]


@pytest.fixture(autouse=True)
def fresh():
    sim.setup(timestep=0.1, min_delay=0.1)
    yield
    sim.end()


def driven(weight=10.0, cell=None, receptor="excitatory"):
    src = sim.Population(5, sim.SpikeSourceArray(spike_times=DRIVE), label="in")
    cells = sim.Population(5, cell or sim.IF_curr_exp(tau_m=10.0, tau_syn_E=2.0), label="cells")
    prj = sim.Projection(src, cells, sim.OneToOneConnector(),
                         sim.StaticSynapse(weight=weight, delay=1.0), receptor_type=receptor,
                         label="drive")
    return src, cells, prj


def test_get_data_returns_neo_spikes_and_signals():
    src, cells, _ = driven()
    cells.record(["spikes", "v"])
    src.record("spikes")
    sim.run(100.0)
    block = cells.get_data()
    assert isinstance(block, neo.Block) and len(block.segments) == 1
    seg = block.segments[0]
    assert len(seg.spiketrains) == 5
    counts = [len(st) for st in seg.spiketrains]
    assert counts[3] == 0 and sum(counts) > 0  # neuron 3 gets no input
    v = seg.filter(name="v")[0]
    assert v.shape == (1001, 5) and v.units == pq.mV
    assert float(v[0, 0]) == pytest.approx(-65.0)  # t = 0 row holds the initial value
    inputs = src.get_data().segments[0].spiketrains
    assert [np.asarray(st).tolist() for st in inputs] == [sorted(t) for t in DRIVE]


def test_results_are_those_of_the_target_running_the_same_ir():
    _, cells, _ = driven()
    cells.record("spikes")
    sim.run(100.0)
    ours = [np.asarray(st) for st in cells.get_data().segments[0].spiketrains]
    target = get_target("reference")
    engine = target.simulator(target.compile(state.network))
    engine.run_until(100.0)
    direct = engine.result().spikes["cells"].trains()
    for a, b in zip(ours, direct, strict=True):
        np.testing.assert_allclose(a, b)


def test_conductance_recording():
    _, cells, _ = driven(weight=0.05, cell=sim.IF_cond_exp(tau_syn_E=2.0))
    cells[0:2].record(["gsyn_exc", "gsyn_inh"])
    sim.run(20.0)
    seg = cells.get_data().segments[0]
    g = seg.filter(name="gsyn_exc")[0]
    assert g.shape == (201, 2) and g.units == pq.uS
    # the input at 5 ms arrives after the 1 ms delay: a jump of the weight, then decay
    k = int(np.argmax(np.asarray(g[:, 0])))
    assert float(g[k, 0]) == pytest.approx(0.05, rel=1e-3) and 6.0 <= k * 0.1 <= 6.2
    assert np.all(np.asarray(seg.filter(name="gsyn_inh")[0]) == 0)


def test_run_in_pieces_equals_one_run():
    _, cells, _ = driven()
    cells.record("spikes")
    sim.run(40.0)
    sim.run(60.0)
    pieces = [np.asarray(st) for st in cells.get_data().segments[0].spiketrains]
    sim.setup(timestep=0.1, min_delay=0.1)
    _, cells, _ = driven()
    cells.record("spikes")
    sim.run(100.0)
    whole = [np.asarray(st) for st in cells.get_data().segments[0].spiketrains]
    for a, b in zip(pieces, whole, strict=True):
        np.testing.assert_array_equal(a, b)


def test_reset_starts_a_new_segment_with_the_same_activity():
    _, cells, _ = driven()
    cells.record("spikes")
    sim.run(100.0)
    sim.reset()
    assert sim.get_current_time() == 0.0
    sim.run(100.0)
    first, second = cells.get_data().segments
    for a, b in zip(first.spiketrains, second.spiketrains, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_clear_drops_data_already_read():
    _, cells, _ = driven()
    cells.record("spikes")
    sim.run(50.0)
    before = cells.get_data(clear=True).segments[0].spiketrains
    sim.run(50.0)
    after = cells.get_data().segments[0].spiketrains
    assert all(np.all(np.asarray(st) > 50.0) for st in after)
    assert sum(len(st) for st in before) + sum(len(st) for st in after) == \
        state.result().spikes["cells"].count


def test_weights_set_between_runs_reach_the_target():
    _, cells, prj = driven()
    cells.record("spikes")
    sim.run(50.0)
    prj.set(weight=0.0)
    sim.run(50.0)
    spikes = cells.get_data().segments[0].spiketrains
    assert all(np.all(np.asarray(st) < 52.0) for st in spikes)  # nothing after silencing
    assert np.all(np.asarray(state.simulator.weights("drive")) == 0.0)


def test_stdp_weights_change_and_reset_restores_them():
    pre = sim.Population(1, sim.SpikeSourceArray(spike_times=[10.0, 60.0, 110.0]), label="pre")
    drive = sim.Population(1, sim.SpikeSourceArray(spike_times=[14.0, 64.0, 114.0]))
    post = sim.Population(1, sim.IF_curr_exp(tau_refrac=20.0), label="post")
    stdp = sim.STDPMechanism(timing_dependence=sim.SpikePairRule(A_plus=0.1, A_minus=0.1),
                             weight_dependence=sim.AdditiveWeightDependence(w_max=1.0),
                             weight=0.5, delay=1.0, dendritic_delay_fraction=0)
    plastic = sim.Projection(pre, post, sim.AllToAllConnector(), stdp)
    sim.Projection(drive, post, sim.AllToAllConnector(), sim.StaticSynapse(weight=20.0,
                                                                           delay=1.0))
    post.record("spikes")
    sim.run(150.0)
    assert post.get_spike_counts()[post[0]] == 3
    learnt = plastic.get("weight", format="list", with_address=False)[0]
    assert learnt > 0.5  # pre arrives before post every time: potentiation
    sim.reset()
    assert plastic.get("weight", format="list", with_address=False)[0] == pytest.approx(0.5)


def test_parameters_changed_between_runs_reach_the_running_network():
    _, cells, _ = driven()
    cells.record("v")
    sim.run(10.0)
    engine = state.simulator
    cells.set(tau_m=5.0, i_offset=1.0)
    sim.run(10.0)
    assert state.simulator is engine  # continued, not restarted
    assert state.network.population("cells").parameters["tau_m"][0] == 5.0
    v = cells.get_data().segments[0].filter(name="v")[0].magnitude[:, 3]  # neuron 3: no input
    assert v.size == 201 and np.all(v[:101] == pytest.approx(-65.0))
    # from t = 10 ms on, v relaxes to v_rest + R i_offset = -60 mV with tau_m = 5 ms
    expected = -60.0 - 5.0 * np.exp(-np.arange(1, 101) * 0.1 / 5.0)
    np.testing.assert_allclose(v[101:], expected, atol=1e-9)


def test_changing_what_the_network_is_after_the_start_needs_a_reset():
    _, cells, _ = driven()
    sim.run(10.0)
    sim.Population(2, sim.IF_curr_exp(), label="late")
    with pytest.raises(NetworkChangedError,
                       match=r"population 'late' changed after the simulation started "
                             r"\(t = 10 ms\), which the 'reference' target cannot follow: the "
                             r"populations .* changed after the simulation started.*call reset"):
        sim.run(10.0)
    sim.reset()
    sim.run(10.0)
    assert [p.label for p in state.network.populations] == ["cells", "late"]


def test_run_with_callbacks_reads_weights_on_the_way():
    _, _, prj = driven()
    seen = []

    def sample(t):
        seen.append((t, prj.get("weight", format="list", with_address=False)[0]))
        return t + 10.0

    sim.run(30.0, callbacks=[sample])
    assert [t for t, _ in seen] == [0.0, 10.0, 20.0, 30.0]
    assert all(w == pytest.approx(10.0) for _, w in seen)


@pytest.mark.parametrize("celltype", [sim.IF_curr_exp, sim.IF_curr_alpha, sim.IF_cond_exp])
def test_constant_current_gives_the_analytic_lif_interval(celltype):
    """cm, tau_m, i_offset, v_* and tau_refrac all reach the target: with v_reset = v_rest
    the interval is tau_refrac - tau_m ln(1 - (v_thresh - v_rest) / (R I)), R = tau_m / cm."""
    cm, tau_m, i, refrac = 0.5, 15.0, 1.5, 3.0
    cells = sim.Population(1, celltype(cm=cm, tau_m=tau_m, i_offset=i, tau_refrac=refrac,
                                       v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0))
    cells.record("spikes")
    sim.run(300.0)
    spikes = np.asarray(cells.get_data().segments[0].spiketrains[0])
    expected = refrac - tau_m * np.log(1 - 15.0 / (tau_m / cm * i))
    assert spikes.size > 10
    assert np.median(np.diff(spikes)) == pytest.approx(expected, abs=0.2)  # dt = 0.1 ms


def test_current_sources_switch_at_their_times():
    cells = sim.Population(2, sim.IF_curr_exp(tau_refrac=2.0))
    sim.DCSource(amplitude=2.0, start=50.0, stop=100.0).inject_into(cells[0:1])
    sim.StepCurrentSource(times=[120.0, 150.0], amplitudes=[2.0, 0.0]).inject_into(cells[1:2])
    cells.record("spikes")
    sim.run(200.0)
    dc, steps = (np.asarray(st) for st in cells.get_data().segments[0].spiketrains)
    assert dc.size > 2 and dc.min() > 50.0 and dc.max() < 101.0
    assert steps.size > 1 and steps.min() > 120.0 and steps.max() < 151.0


def test_a_target_stepping_coarser_than_the_script_labels_its_samples_with_its_step():
    # SpiNNaker2 runs on a 0.1 ms or 1 ms timer tick: a 0.01 ms script is refused, and an
    # approximated compile's signals carry the tick, not the script's dt (PyNN's example
    # synaptic_input.py time-slices its trace, which fails if 0.1 ms samples are labelled
    # 0.01 ms apart: the trace would end at a tenth of the run).
    from toolchain.compiler.pipeline import MappingError

    for fit, expected in (("strict", None), ("approximate", 0.1)):
        sim.setup(timestep=0.01, min_delay=0.1, target="spinnaker2", fit=fit)
        _, cells, _ = driven()
        cells.record("v")
        if expected is None:
            with pytest.raises(MappingError, match=r"dt = 0.01 ms, but it is no SpiNNaker2 "
                               r"timer tick .*\(setup\(timestep=0.1\)\)"):
                sim.run(100.0)
            sim.end()
            continue
        sim.run(100.0)
        v = cells.get_data().segments[0].filter(name="v")[0]
        assert float(v.sampling_period.rescale(pq.ms)) == pytest.approx(expected)
        assert v.shape[0] == 1001
        assert float(v.t_stop.rescale(pq.ms)) == pytest.approx(100.1)
        piece = v.time_slice(20.0 * pq.ms, 40.0 * pq.ms)  # what synaptic_input.py does
        assert piece.shape[0] == 200
        (applied,) = state.compiled.approximations
        assert (applied.name, applied.neurons) == ("time_step_changed", 5)
        sim.end()


@pytest.mark.parametrize("cell", ["IF_curr_exp", "EIF_cond_exp_isfa_ista"])
def test_spinnaker2_takes_parameters_changed_between_runs_as_the_reference(cell):
    # sPyNNaker rewrites a population's parameters between runs; our PE kernels take the
    # new values with the state kept, so the run after the change fires as the reference's
    runs = {}
    for target in ("reference", "spinnaker2"):
        sim.setup(timestep=0.1, min_delay=0.1, target=target,
                  **({"numerics": "float32"} if target == "spinnaker2" else {}))
        cells = sim.Population(2, getattr(sim, cell)(i_offset=0.0), label="cells")
        cells.record("spikes")
        sim.run(50.0)
        cells.set(i_offset=[1.0, 2.0])
        sim.run(100.0)
        trains = [np.asarray(st) for st in cells.get_data().segments[0].spiketrains]
        runs[target] = trains
        sim.end()
    assert all(t.size == 0 or t[0] > 50.0 for t in runs["reference"])  # silent before
    assert all(t.size >= 3 for t in runs["reference"])
    for ref, s2 in zip(runs["reference"], runs["spinnaker2"], strict=True):
        # sPyNNaker holds a neuron one tick longer after a spike than Brian2 does
        # (docs/portability.md): each interval may be one 0.1 ms tick longer, no more
        assert ref.size == s2.size and abs(ref[0] - s2[0]) <= 0.2
        assert np.all(np.abs(np.diff(s2) - np.diff(ref)) <= 0.1 + 1e-9)


def test_spinnaker2_refuses_a_weight_beyond_its_loaded_scale_until_a_reset():
    sim.setup(timestep=0.1, min_delay=0.1, target="spinnaker2")
    _, cells, prj = driven(weight=1.0)
    cells.record("spikes")
    sim.run(20.0)
    prj.set(weight=0.5)  # the same scale: taken
    sim.run(20.0)
    with pytest.raises(ValueError, match=r"Projection 'drive.*' weight\[0\] = 40 is beyond "
                       r"the 1.99997 its PE's 16-bit weight words were scaled for .* "
                       r"call reset\(\) first"):
        prj.set(weight=40.0)  # beyond what the PEs' 16-bit words were scaled for
    sim.reset()
    prj.set(weight=40.0)  # a reset loads the machine anew, with a scale for them
    sim.run(20.0)
    assert abs(prj.get("weight", format="list", with_address=False)[0] - 40.0) < 1e-3
