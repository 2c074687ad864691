"""The engine's compiled loop against its numpy path: the same spikes, samples, counters
and state, bit for bit, on networks that exercise every part of the loop (both population
layouts, one and many delays, sources, sampled currents, runs split anywhere, weights
changed between runs, the spike buffer growing), and the numpy path wherever a network
has no compiled form."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import single_neuron
from tests.sim.scenarios import SCENARIOS, T_STOP
from toolchain.ir import (
    ArraySource,
    Network,
    PoissonSource,
    Population,
    PostSynapticResponse,
    Projection,
    Recording,
    STDPRule,
    TsodyksMarkram,
)
from toolchain.sim.engine import Engine

CELL = {"cm": 0.2, "tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 3.0, "v_rest": -49.0,
        "v_reset": -60.0, "v_thresh": -50.0, "tau_refrac": 2.0}


def recurrent(n: int = 300, *, seed: int = 3, spread: bool = False,
              varied: bool = False) -> Network:
    """Excitatory and inhibitory cells, recurrent at p = 0.05, with a Poisson and an array
    source; ``spread``: delays 0.1..4 ms (else one per projection); ``varied``: per-neuron
    tau_m and thresholds (the loop's general layout)."""
    rng = np.random.default_rng(seed)
    ne = int(0.8 * n)
    sizes = {"exc": ne, "inh": n - ne}
    pops = []
    for label, size in sizes.items():
        params = dict(CELL)
        if varied:
            params["tau_m"] = rng.uniform(15.0, 25.0, size)
            params["v_thresh"] = rng.uniform(-51.0, -49.5, size)
        pops.append(Population(label, "IF_curr_exp", size, params,
                               {"v": rng.uniform(-60.0, -50.0, size)}))
    sources = (PoissonSource("noise", 40, rate=30.0, start=0.0, duration=1e9, seed=7),
               ArraySource.from_lists("kick", [[5.0, 5.0, 31.2], [17.0, 80.0]]))
    projs = []
    for pre, receptor, w in (("exc", "excitatory", 0.02), ("inh", "inhibitory", -0.08)):
        for post in sizes:
            i, j = np.nonzero(rng.random((sizes[pre], sizes[post])) < 0.05)
            delay = (rng.uniform(0.1, 4.0, i.size) if spread
                     else np.full(i.size, 1.0 if pre == "exc" else 0.7))
            projs.append(Projection(f"{pre}-{post}", pre, post, i, j,
                                    rng.uniform(0.5, 1.5, i.size) * w, delay, receptor))
    i, j = np.nonzero(rng.random((40, ne)) < 0.2)
    projs.append(Projection("noise-exc", "noise", "exc", i, j, np.full(i.size, 0.05),
                            np.full(i.size, 0.5)))
    projs.append(Projection("kick-inh", "kick", "inh", [0, 1, 1], [0, 3, 4], [0.5, 0.4, 0.3],
                            [1.0, 2.0, 0.1]))
    recs = (Recording("exc", "spikes", np.arange(0, ne, 2)), Recording("inh", "spikes",
            np.arange(n - ne)), Recording("noise", "spikes", np.arange(40)),
            Recording("exc", "v", np.arange(0, ne, 17)),
            Recording("inh", "isyn_exc", np.arange(5), sampling_interval=0.5),
            Recording("exc", "isyn_inh", [1, 2, 3]))
    return Network(dt=0.1, populations=tuple(pops), sources=sources,
                   projections=tuple(projs), recordings=recs)


def assert_same(a: Engine, b: Engine) -> None:
    ra, rb = a.result(), b.result()
    assert ra.spikes.keys() == rb.spikes.keys()
    for key in ra.spikes:
        np.testing.assert_array_equal(ra.spikes[key].times, rb.spikes[key].times)
        np.testing.assert_array_equal(ra.spikes[key].senders, rb.spikes[key].senders)
    assert ra.signals.keys() == rb.signals.keys()
    for key in ra.signals:
        np.testing.assert_array_equal(ra.signals[key].times, rb.signals[key].times)
        np.testing.assert_array_equal(ra.signals[key].values, rb.signals[key].values)
    assert ra.counters == rb.counters
    assert ra.per_step.keys() == rb.per_step.keys()
    for key in ra.per_step:
        np.testing.assert_array_equal(ra.per_step[key], rb.per_step[key])
    for label, kernel in a.kernels.items():
        for var in kernel.population.state_variables:
            np.testing.assert_array_equal(a.get_state(label, var), b.get_state(label, var))


def both(net: Network) -> tuple[Engine, Engine]:
    fast, slow = Engine(net, compiled=True), Engine(net, compiled=False)
    assert fast.why_not_compiled is None, fast.why_not_compiled
    assert slow.why_not_compiled is not None
    return fast, slow


@pytest.mark.parametrize("spread", [False, True], ids=["one-delay", "many-delays"])
@pytest.mark.parametrize("varied", [False, True], ids=["uniform", "per-neuron"])
def test_compiled_loop_gives_the_numpy_paths_results(spread: bool, varied: bool) -> None:
    fast, slow = both(recurrent(spread=spread, varied=varied))
    for t in (0.3, 37.7, 120.0, 250.0):  # runs split at arbitrary steps
        fast.run_until(t)
        slow.run_until(t)
    assert fast.result().spikes["exc"].count > 500  # the network is active
    assert_same(fast, slow)


def test_changes_between_runs_and_reset_carry_over() -> None:
    """Weights and state set between runs, spikes in flight across a switch of paths,
    and reset() all leave both paths in the same place."""
    net = recurrent(spread=True)
    fast, slow = both(net)
    for sim in (fast, slow):
        sim.run_until(50.0)
        sim.set_weights("exc-inh", sim.weights("exc-inh") * 1.5)
        sim.set_state("exc", "v", np.linspace(-60.0, -50.0, 240))
        sim.run_until(100.0)
    assert_same(fast, slow)
    for sim in (fast, slow):
        sim.reset()
        sim.run_until(80.0)
    assert_same(fast, slow)
    # the numpy path continuing what the compiled loop left in its rings and kernels
    mixed, plain = both(net)
    mixed.run_until(40.0)
    mixed._fast = None
    mixed.run_until(80.0)
    plain.run_until(80.0)
    assert_same(mixed, plain)


def test_the_spike_buffer_grows() -> None:
    """Every neuron firing every step overflows the first buffer several times."""
    cell = {**CELL, "tau_refrac": 0.0, "i_offset": 50.0}
    net = Network(dt=0.1, populations=(Population("p", "IF_curr_exp", 20, cell),),
                  recordings=(Recording("p", "spikes", np.arange(20)),))
    fast, slow = both(net)
    fast.run_until(300.0)
    slow.run_until(300.0)
    assert fast.result().spikes["p"].count == 20 * 3000
    assert_same(fast, slow)


def test_a_composed_lif_with_three_currents() -> None:
    receptors = tuple(PostSynapticResponse(name, "curr_exp", {"tau_syn": tau})
                      for name, tau in (("AMPA", 2.0), ("NMDA", 40.0), ("GABA", 6.0)))
    lif = {"cm": 0.25, "tau_m": 10.0, "v_rest": -65.0, "v_reset": -70.0, "v_thresh": -55.0,
           "tau_refrac": 1.0}
    src = ArraySource.from_lists("in", [[2.0, 4.0, 9.0, 9.5, 10.0, 30.0], [6.0, 20.0]])
    projs = tuple(Projection(f"in-{r}", "in", "n", [0, 1], [0, 1], [w, w], [1.0, 1.5], r)
                  for r, w in (("AMPA", 1.2), ("NMDA", 0.3), ("GABA", -0.8)))
    net = Network(dt=0.1, populations=(Population("n", "LIF", 2, lif, receptors=receptors),),
                  sources=(src,), projections=projs,
                  recordings=(Recording("n", "spikes", [0, 1]), Recording("n", "v", [0, 1]),
                              Recording("n", "NMDA.isyn", [0])))
    fast, slow = both(net)
    fast.run_until(60.0)
    slow.run_until(60.0)
    assert fast.result().spikes["n"].count >= 2
    assert_same(fast, slow)


@pytest.mark.parametrize("name", [n for n, (cell, sc) in SCENARIOS.items()
                                  if cell == "IF_curr_exp" and sc["dc"] is None])
def test_the_brian2_scenarios_run_compiled_with_the_same_results(name: str) -> None:
    """The scenarios of test_brian2_agreement that have a compiled form: whatever they
    measure against Brian2 holds for both paths."""
    cell_type, sc = SCENARIOS[name]
    net = single_neuron(cell_type, params=sc["params"], v0=sc["v0"], inputs=sc["inputs"],
                        dc=sc["dc"])
    fast, slow = both(net)
    fast.run_until(T_STOP)
    slow.run_until(T_STOP)
    assert_same(fast, slow)


@pytest.mark.parametrize("change, reason", [
    ("plastic", "projection 'p0' is plastic"),
    ("release", "projection 'p0' has release dynamics"),
    ("current", "injected currents"),
    ("cell", "population 'n' runs on CondExpKernel"),
])
def test_the_numpy_path_runs_what_has_no_compiled_form(change: str, reason: str) -> None:
    inputs = [([5.0, 9.0], 2.0, 1.0, "excitatory")]
    if change == "current":
        net = single_neuron(inputs=inputs, dc=(0.5, 1.0, 9.0))
    elif change == "cell":
        net = single_neuron("IF_cond_exp", inputs=[([5.0], 0.05, 1.0, "excitatory")])
    else:
        net = single_neuron(inputs=inputs)
        proj = net.projections[0]
        extra = ({"plasticity": STDPRule(w_max=5.0)} if change == "plastic"
                 else {"dynamics": TsodyksMarkram(U=0.5, tau_rec=100.0, tau_facil=0.0)})
        net = Network(dt=net.dt, populations=net.populations, sources=net.sources,
                      projections=(Projection(proj.label, proj.pre, proj.post,
                                              proj.pre_index, proj.post_index, proj.weight,
                                              proj.delay, proj.receptor, **extra),),
                      recordings=net.recordings)
    sim = Engine(net)
    assert sim.why_not_compiled == reason
    sim.run_until(20.0)  # and it runs
    assert sim.t == pytest.approx(20.0)


def test_the_environment_switches_the_compiled_loop_off(monkeypatch) -> None:
    net = single_neuron(inputs=[([5.0], 2.0, 1.0, "excitatory")])
    assert Engine(net).why_not_compiled is None
    monkeypatch.setenv("SPIKEPORT_COMPILED", "0")
    assert Engine(net).why_not_compiled == "not asked for"



def test_a_current_added_between_runs_hands_the_run_to_the_numpy_path() -> None:
    # injected currents have no compiled form: a network that gains one through update()
    # must leave the compiled loop (it ran on without the current before), with the
    # numpy path's results from there on
    from toolchain.ir import DCSource

    net = recurrent()
    fast, slow = both(net)
    for e in (fast, slow):
        e.run_until(30.0)
    changed = net.replace(currents=(DCSource("dc", "exc", np.arange(20), amplitude=2.0,
                                             start=0.0),))
    for e in (fast, slow):
        e.update(changed)
        e.run_until(60.0)
    assert fast.why_not_compiled == "injected currents"
    assert_same(fast, slow)
