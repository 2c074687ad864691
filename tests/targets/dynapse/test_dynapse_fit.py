"""DYNAP-SE's approximate fit: a fan-in over the 64 CAM words keeps the strongest inputs,
close parameters share a core's bias, long delays become the routing latency."""

from __future__ import annotations

import numpy as np
import pytest

from toolchain.compiler import MappingError
from toolchain.ir import ArraySource, Network, Population, Projection, Recording
from toolchain.targets import get_target


def _wide(n_in: int = 80, n: int = 3) -> Network:
    rng = np.random.default_rng(3)
    src = ArraySource.from_lists("in", [np.sort(rng.uniform(1, 90, 6)) for _ in range(n_in)])
    pre, post = np.meshgrid(np.arange(n_in), np.arange(n), indexing="ij")
    w = rng.uniform(0.05, 0.5, pre.size)
    return Network(dt=0.1, populations=(Population("cells", "IF_curr_exp", n),),
                   sources=(src,), projections=(Projection(
                       "in", "in", "cells", pre.ravel(), post.ravel(), w,
                       np.full(pre.size, 0.1)),),
                   recordings=(Recording("cells", "spikes", np.arange(n)),))


def test_pruning_keeps_each_neurons_64_strongest_inputs_and_reads_the_rest_as_zero():
    net = _wide()
    with pytest.raises(MappingError, match="neuron 0 needs 80 CAM words"):
        get_target("dynapse").compile(net)
    target = get_target("dynapse", fit="approximate")
    art = target.compile(net)
    (pruned,) = art.approximations
    assert (pruned.name, pruned.neurons, pruned.synapses) == ("fan_in_pruned", 3, 3 * 16)
    (proj,) = net.projections
    sim = target.simulator(art)
    w = np.asarray(sim.weights("in"))
    for j in range(3):
        mine = proj.post_index == j
        strongest = np.argsort(-proj.weight[mine])[:64]
        held = np.flatnonzero(w[mine] != 0)
        assert set(held) == set(strongest)  # the 16 weakest are the ones read back as 0
    sim.set_weights("in", np.full(proj.size, 0.2))  # a pruned synapse has no CAM word
    assert np.count_nonzero(np.asarray(sim.weights("in")) == 0) == 48
    sim.run_until(100.0)
    # only the 64 x 3 held synapses deliver events
    events = sim.result().counters["synaptic_events/in"]
    spikes_in = np.array([net.sources[0].train(i).size for i in range(80)])
    held_per_source = np.zeros(80)
    for j in range(3):
        mine = np.flatnonzero(proj.post_index == j)
        held_per_source[proj.pre_index[mine[w[mine] != 0]]] += 1
    assert events == pytest.approx(float((spikes_in * held_per_source).sum()))
    assert art.cores.input_axons.max() == 64  # the report counts the inputs held


def test_each_parameter_set_gets_its_own_cores_and_runs_with_its_own_biases():
    # biases are per core: three currents are three cores, each neuron as the reference
    cells = Population("cells", "IF_curr_exp", 6, parameters={
        "i_offset": [1.0, 2.0, 3.0, 1.0, 2.0, 3.0], "tau_refrac": 2.0})
    net = Network(dt=0.1, populations=(cells,),
                  recordings=(Recording("cells", "spikes", np.arange(6)),))
    target = get_target("dynapse", mismatch=0.0, delta_t=0.0)
    art = target.compile(net)
    assert art.fits and not art.approximations
    core = target.detail(art).mapping.placement["cells"].core
    assert len(set(core[:3])) == 3 and list(core[3:]) == list(core[:3])
    sim = target.simulator(art)
    sim.run_until(200.0)
    ref = get_target("reference").simulator(get_target("reference").compile(net))
    ref.run_until(200.0)
    counts = [np.bincount(r.result().spikes["cells"].senders, minlength=6)
              for r in (ref, sim)]
    assert np.all(np.diff(counts[0][:3]) > 0)
    np.testing.assert_allclose(counts[1], counts[0], atol=1)


def test_more_parameter_sets_than_cores_merge_when_close_and_are_refused_when_far():
    # 300 neurons with 300 values of tau_m within 5 %: 300 sets for 16 cores
    close = Population("cells", "IF_curr_exp", 300,
                       parameters={"tau_m": np.linspace(19.5, 20.5, 300)})
    net = Network(dt=0.1, populations=(close,))
    with pytest.raises(MappingError, match="Population 'cells' has 300 distinct parameter "
                                           "sets \\(tau_m vary; tau_m from 19.5 to 20.5\\); "
                                           "DYNAP-SE biases are shared by all neurons of a "
                                           "core, so each set needs its own core: 300 cores, "
                                           "but 16 are left.*--fit approximate"):
        get_target("dynapse").compile(net)
    art = get_target("dynapse", fit="approximate").compile(net)
    (applied,) = art.approximations
    assert applied.name == "parameters_merged" and applied.neurons == 300
    assert "1 sets on 2 cores" in applied.detail
    np.testing.assert_allclose(art.network.populations[0].parameters["tau_m"], 20.0)
    # spread over 1..30 ms: merging within 10 % still needs more cores than the board has
    far = Population("cells", "IF_curr_exp", 300,
                     parameters={"tau_m": np.linspace(1.0, 30.0, 300)})
    with pytest.raises(MappingError, match="merging parameters within the 10% an "
                                           "approximate fit merges still needs [2-9][0-9] cores"):
        get_target("dynapse", fit="approximate").compile(net.replace(populations=(far,)))
