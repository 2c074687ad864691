"""Single neurons of every cell type agree with pyNN.brian2: the same model is built through
PyNN on Brian2 and through the IR on our engine, in the same test.

Agreement means v within 0.1 mV at every sample and spike times within one timestep.
IF_curr_* are integrated exactly by both, so they agree to rounding; IF_cond_exp runs on
forward Euler in Brian2 and on a second-order scheme here, so it agrees to the Euler error.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import DT, run, single_neuron, trace
from tests.sim.scenarios import SCENARIOS, T_STOP
from toolchain.ir import ArraySource, Network, Population, Projection, Recording, STDPRule

pytest.importorskip("brian2", reason="the Brian2 agreement tests need brian2 (extra 'brian2')")
pynn_brian2 = pytest.importorskip("pyNN.brian2", reason="needs PyNN's brian2 backend")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("brian2")]

V_TOL = 0.1  # mV


# STDP: each pre neuron meets the post neuron's spikes (driven by a teacher) at other lags
STDP_PRE = [[10.0], [44.0], [48.9], [49.2], [50.3], [55.0, 57.0], [70.0], [30.0, 46.0, 79.5],
            [81.0, 83.0]]
STDP_TEACHER = [50.0, 80.0]
STDP_RULE = {"tau_plus": 15.0, "tau_minus": 25.0, "A_plus": 0.02, "A_minus": 0.03,
             "w_min": 0.0, "w_max": 0.05}
STDP_W0, STDP_DELAY = 0.02, 1.0
STDP_POST = {"tau_refrac": 5.0, "v_thresh": -60.0, "tau_syn_E": 0.5}  # a brief kick


def stdp_network() -> Network:
    n = len(STDP_PRE)
    rule = STDPRule(**STDP_RULE)
    return Network(
        populations=(Population("post", "IF_curr_exp", 1, STDP_POST),),
        sources=(ArraySource.from_lists("pre", STDP_PRE),
                 ArraySource.from_lists("teacher", [STDP_TEACHER])),
        projections=(Projection("stdp", "pre", "post", np.arange(n), np.zeros(n),
                                np.full(n, STDP_W0), np.full(n, STDP_DELAY), plasticity=rule),
                     Projection("drive", "teacher", "post", [0], [0], [20.0], [DT])),
        recordings=(Recording("post", "spikes", [0]),))


def _brian2_stdp(sim: object) -> tuple[object, object]:
    from pyNN.parameters import Sequence

    post = sim.Population(1, sim.IF_curr_exp(**STDP_POST))
    pre = sim.Population(len(STDP_PRE), sim.SpikeSourceArray(
        spike_times=[Sequence(t) for t in STDP_PRE]))
    teacher = sim.Population(1, sim.SpikeSourceArray(spike_times=STDP_TEACHER))
    rule = STDP_RULE
    stdp = sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=rule["tau_plus"],
                                            tau_minus=rule["tau_minus"],
                                            A_plus=rule["A_plus"], A_minus=rule["A_minus"]),
        weight_dependence=sim.AdditiveWeightDependence(w_min=rule["w_min"],
                                                       w_max=rule["w_max"]),
        weight=STDP_W0, delay=STDP_DELAY, dendritic_delay_fraction=0)
    proj = sim.Projection(pre, post, sim.AllToAllConnector(), stdp, receptor_type="excitatory")
    sim.Projection(teacher, post, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=20.0, delay=DT), receptor_type="excitatory")
    post.record("spikes")
    return proj, post


@pytest.fixture(scope="module")
def brian2_results() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every scenario as one independent neuron of a single pyNN.brian2 run (building and
    running Brian2 once keeps this module at a few seconds)."""
    import brian2

    brian2.prefs.codegen.target = "numpy"  # the Cython target would compile for ~35 s
    sim = pynn_brian2
    sim.setup(timestep=DT, min_delay=DT)
    try:
        pops = {}
        for name, (cell_type, sc) in SCENARIOS.items():
            pop = sim.Population(1, getattr(sim, cell_type)(**sc["params"]), label=name)
            if sc["v0"] is not None:
                pop.initialize(v=sc["v0"])
            for times, weight, delay, receptor in sc["inputs"]:
                src = sim.Population(1, sim.SpikeSourceArray(spike_times=times))
                sim.Projection(src, pop, sim.AllToAllConnector(),
                               sim.StaticSynapse(weight=weight, delay=delay),
                               receptor_type=receptor)
            if sc["dc"] is not None:
                amplitude, start, stop = sc["dc"]
                sim.DCSource(amplitude=amplitude, start=start, stop=stop).inject_into(pop)
            pop.record(["spikes", "v"])
            pops[name] = pop
        stdp_proj, stdp_post = _brian2_stdp(sim)
        sim.run(T_STOP)
        out = {"stdp": (np.asarray(stdp_proj.get("weight", format="array"))[:, 0],
                        np.asarray(stdp_post.get_data().segments[0].spiketrains[0].magnitude))}
        for name, pop in pops.items():
            seg = pop.get_data().segments[0]
            out[name] = (np.asarray(seg.filter(name="v")[0].magnitude)[:, 0],
                         np.asarray(seg.spiketrains[0].magnitude))
    finally:
        sim.end()
    return out


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_single_neuron_agrees_with_brian2(name: str, brian2_results: dict) -> None:
    cell_type, sc = SCENARIOS[name]
    v_ref, spikes_ref = brian2_results[name]
    net = single_neuron(cell_type, params=sc["params"], v0=sc["v0"], inputs=sc["inputs"],
                        dc=sc["dc"])
    sim = run(net, T_STOP)
    _, v = trace(sim)
    spikes = sim.result().spikes["n"].times
    assert spikes_ref.size >= 2, "the scenario should make the neuron fire"
    assert spikes.size == spikes_ref.size, f"spikes: ours {spikes}, Brian2 {spikes_ref}"
    np.testing.assert_allclose(spikes, spikes_ref, atol=DT * (1 + 1e-9))
    assert v.shape == v_ref.shape
    print(f"AGREEMENT {cell_type} {name} (pyNN.brian2): max |dv| = "
          f"{np.max(np.abs(v - v_ref)):.2e} mV, {spikes.size} spikes, max |dt| = "
          f"{np.max(np.abs(spikes - spikes_ref)):.3g} ms")
    np.testing.assert_allclose(v, v_ref, atol=V_TOL)


def test_pair_stdp_agrees_with_brian2(brian2_results: dict) -> None:
    w_ref, post_ref = brian2_results["stdp"]
    sim = run(stdp_network(), T_STOP)
    res = sim.result()
    np.testing.assert_allclose(res.spikes["post"].times, post_ref, atol=1e-9)
    assert post_ref.size == 2
    assert np.all(w_ref != STDP_W0)  # every synapse learnt something
    # float32 initial weights in the IR: agreement to ~1e-9 of w_max
    print(f"AGREEMENT STDP additive (pyNN.brian2): max |dw| = "
          f"{np.max(np.abs(res.weights['stdp'] - w_ref)):.2e} (w_max {STDP_RULE['w_max']:g})")
    np.testing.assert_allclose(res.weights["stdp"], w_ref, rtol=0, atol=1e-9)
