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


def test_close_parameters_share_the_core_bias_and_the_artifact_runs_the_merged_ones():
    cells = Population("cells", "IF_curr_exp", 4, parameters={"v_thresh": [-50.5, -50, -50,
                                                                           -49.5]})
    net = Network(dt=0.1, populations=(cells,))
    art = get_target("dynapse", fit="approximate").compile(net)
    assert [a.name for a in art.approximations] == ["parameters_merged"]
    np.testing.assert_array_equal(art.network.populations[0].parameters["v_thresh"], -50.0)
    far = net.replace(populations=(Population("cells", "IF_curr_exp", 2,
                                              parameters={"tau_m": [10.0, 20.0]}),))
    with pytest.raises(MappingError, match="tau_m varies from 10 to 20; .* \\(more than the "
                                           "10% an approximate fit merges\\)"):
        get_target("dynapse", fit="approximate").compile(far)
