"""The 'dynapse' target end to end: registered, compiled into the shared artifact and
report, simulated on the shared engine, compared with the float reference; routing latency
really moves spikes; mismatch is seeded; what DYNAP-SE cannot run is refused at compile."""

import numpy as np
import pytest

from toolchain.compiler.artifact import CompiledNetwork
from toolchain.compiler.pipeline import MappingError
from toolchain.compiler.report import render_report
from toolchain.ir import ArraySource, CellType, Network, Population, Projection, Recording, STDPRule
from toolchain.sim.metrics import compare
from toolchain.targets import get_target
from toolchain.targets.dynapse.spec import DynapseSpec, SynapseType
from toolchain.targets.dynapse.target import DynapseTarget

T_STOP = 200.0


def driven_network(n_in=20, n_out=40, weight=1.5, seed=0, plasticity=None):
    rng = np.random.default_rng(seed)
    src = ArraySource.from_lists("in", [np.sort(rng.uniform(0, T_STOP, 20))
                                        for _ in range(n_in)])
    out = Population("out", CellType.IF_CURR_EXP, n_out, parameters={"tau_refrac": 2.0})
    i, j = np.nonzero(rng.random((n_in, n_out)) < 0.3)
    proj = Projection("in->out", "in", "out", i, j, np.full(i.size, weight),
                      np.full(i.size, 0.1), plasticity=plasticity)
    return Network(populations=(out,), sources=(src,), projections=(proj,),
                   recordings=(Recording("out", "spikes", np.arange(n_out)),))


def run(target, network):
    sim = target.simulator(target.compile(network))
    sim.run_until(T_STOP)
    return sim.result()


@pytest.fixture(scope="module")
def reference():
    return run(get_target("reference"), driven_network())


def test_registered_and_compiles_to_the_shared_artifact_and_report():
    target = get_target("dynapse", generation="se2")
    assert isinstance(target, DynapseTarget) and target.spec.tag_bits == 11
    art = target.compile(driven_network())
    assert isinstance(art, CompiledNetwork) and art.target == "dynapse"
    text = render_report(art)
    assert "dynapse-se2-4chip" in text and "in->out" in text
    # the compile is deterministic: the same network gives the same artifact
    assert target.compile(driven_network()) == art
    # every synapse takes one CAM word on SE2
    assert int(art.cores.synapses.sum()) == driven_network().n_synapses


def test_without_mismatch_the_dpi_network_tracks_the_reference(reference):
    target = DynapseTarget(mismatch=0.0, delta_t=0.0)
    dev = compare(reference, run(target, driven_network())).population("out")
    assert dev.rate_ref > 20
    assert abs(dev.rate_error) < 0.05


def test_mismatch_is_seeded_and_moves_the_activity(reference):
    a = run(DynapseTarget(mismatch=0.2, seed=1), driven_network())
    b = run(DynapseTarget(mismatch=0.2, seed=1), driven_network())
    c = run(DynapseTarget(mismatch=0.2, seed=2), driven_network())
    np.testing.assert_array_equal(a.spikes["out"].times, b.spikes["out"].times)
    assert not np.array_equal(a.spikes["out"].times, c.spikes["out"].times)
    ideal = compare(reference, run(DynapseTarget(mismatch=0.0, delta_t=0.0), driven_network()))
    noisy = compare(reference, a)
    assert noisy.population("out").van_rossum > ideal.population("out").van_rossum


def test_routing_latency_shifts_spike_arrival():
    network = driven_network()
    fast = run(DynapseTarget(mismatch=0.0), network)
    # a 0.25 ms host link: every input spike arrives two or three 0.1 ms steps late
    slow_spec = DynapseSpec(mismatch=0.0, host_input_latency=250_000.0)
    slow = run(DynapseTarget(spec=slow_spec), network)
    n_routed = fast.counters["synaptic_events/in->out"]
    assert fast.counters["spikes_shifted"] == 0
    assert slow.counters["spikes_shifted"] == network.sources[0].times.size
    assert slow.counters["route_latency_ns_mean"] > 250_000
    assert n_routed > 0
    first_fast = fast.spikes["out"].times.min()
    first_slow = slow.spikes["out"].times.min()
    assert first_slow >= first_fast + 0.2 - 1e-9


def test_energy_and_real_time_counters():
    res = run(DynapseTarget(mismatch=0.0), driven_network())
    spec = DynapseSpec()
    spikes = res.counters["spikes/out"]
    assert res.counters["energy_spikes_pj"] == pytest.approx(spikes * spec.energy_spike)
    assert res.counters["energy_synapses_pj"] == pytest.approx(
        res.counters["synaptic_events/in->out"] * spec.energy_synapse)
    assert res.counters["wall_ns_per_step"] == pytest.approx(0.1e6)


def test_what_dynapse_cannot_run_is_a_compile_error():
    stdp = STDPRule(tau_plus=20, tau_minus=20, A_plus=0.01, A_minus=0.01, w_min=0, w_max=2)
    with pytest.raises(MappingError, match="Projection 'in->out': DYNAP-SE has no on-chip "
                                           "plasticity"):
        DynapseTarget().compile(driven_network(plasticity=stdp))
    with pytest.raises(MappingError, match="Population 'out' neuron 0 needs 70 CAM words"):
        DynapseTarget().compile(Network(
            populations=(Population("out", CellType.IF_CURR_EXP, 1),),
            sources=(ArraySource.from_lists("in", [[1.0]] * 70),),
            projections=(Projection("in->out", "in", "out", np.arange(70), np.zeros(70),
                                    np.full(70, 0.1), np.full(70, 0.1)),)))


def test_a_pynn_script_selects_dynapse_and_its_options_through_setup():
    import toolchain.pynn as sim
    from toolchain.pynn import simulator

    sim.setup(timestep=0.1, target="dynapse", generation="se2", mismatch=0.0)
    try:
        p = sim.Population(4, sim.IF_curr_exp(i_offset=1.0, tau_refrac=2.0), label="p")
        p.record("spikes")
        sim.run(60.0)
        trains = p.get_data().segments[0].spiketrains
        assert simulator.state.compiled.board == "dynapse-se2-4chip"
        # 1 nA into 20 MOhm settles 20 mV above rest, 5 mV above threshold: regular firing
        assert all(len(st) >= 2 for st in trains)
    finally:
        sim.end()


def test_the_artifact_saves_loads_and_simulates_the_same(tmp_path):
    from toolchain.ir import load, save

    target = DynapseTarget(mismatch=0.1, seed=3)
    art = target.compile(driven_network())
    loaded = load(save(art, tmp_path / "net.spz"))
    assert loaded == art
    with pytest.raises(ValueError, match=r"compiled for dynapse board 'dynapse-se1-4chip' "
                                         r"with options \{\}, this target is board "
                                         r"'dynapse-se2-4chip' with options "
                                         r"\{'generation': 'se2'\}"):
        DynapseTarget("se2").simulator(loaded)
    assert loaded.detail is None and art.detail is not None  # recomputed, never saved
    a, b = target.simulator(art), target.simulator(loaded)
    for sim in (a, b):
        sim.run_until(50.0)
    np.testing.assert_array_equal(a.result().spikes["out"].times,
                                  b.result().spikes["out"].times)


def test_weights_set_between_runs_are_realised_on_the_cores_base_weight():
    target = DynapseTarget(mismatch=0.0)
    art = target.compile(driven_network())
    sim = target.simulator(art)
    np.testing.assert_allclose(sim.weights("in->out"), 1.5)  # uniform: exact on SE1
    base = target.detail(art).mapping.cores[0].base_weight[SynapseType.FAST_EXC]
    sim.set_weights("in->out", np.full(art.network.n_synapses, 2.2))
    realised = sim.weights("in->out")
    # SE1 can only repeat CAM entries of the core's base weight: 2.2 becomes a multiple
    np.testing.assert_allclose(realised, np.rint(2.2 / base) * base)
