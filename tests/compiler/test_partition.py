import numpy as np
import pytest

from tests.compiler.nets import chain_network, ei_network, random_projection
from toolchain.compiler.partition import synapse_rows
from toolchain.ir import Network, Population
from toolchain.targets.loihi import LoihiTarget
from toolchain.targets.loihi import spec as loihi


@pytest.fixture(scope="module")
def compiled():
    return LoihiTarget(board="loihi1").compile(ei_network())


def test_slices_cover_every_population_exactly_once(compiled):
    net, cores = compiled.network, compiled.cores
    for k, pop in enumerate(net.populations):
        sel = np.flatnonzero(cores.population == k)
        starts, stops = cores.start[sel], cores.stop[sel]
        order = np.argsort(starts)
        assert starts[order][0] == 0 and stops[order][-1] == pop.size
        assert np.array_equal(starts[order][1:], stops[order][:-1])
        assert np.all(stops > starts)


def test_every_core_within_every_limit_at_once(compiled):
    cores, limits = compiled.cores, LoihiTarget().spec.limits
    assert cores.neurons.max() <= limits.neurons
    assert cores.input_axons.max() <= limits.input_axons
    assert cores.output_axons.max() <= limits.output_axons
    assert cores.synapse_bits.max() <= limits.synapse_bits
    assert cores.neuron_configs.max() <= limits.neuron_configs
    assert cores.synapse_configs.max() <= limits.synapse_configs
    # the network is big enough that some limit other than the neuron count binds
    assert cores.neurons.max() < limits.neurons


def test_axon_and_synapse_counts_match_a_brute_force_count(compiled):
    net, cores = compiled.network, compiled.cores
    core_of = {p.label: compiled.core_of_neuron(p.label) for p in net.populations}
    inputs = [set() for _ in range(len(cores))]
    outputs = [set() for _ in range(len(cores))]
    synapses = np.zeros(len(cores), dtype=int)
    for proj in net.projections:
        dst = core_of[proj.post][proj.post_index]
        for pre, d in zip(proj.pre_index.tolist(), dst.tolist(), strict=True):
            inputs[d].add((proj.label, pre))
            if proj.pre in core_of:
                outputs[core_of[proj.pre][pre]].add((proj.label, pre, d))
        synapses += np.bincount(dst, minlength=len(cores))
    assert [len(s) for s in inputs] == cores.input_axons.tolist()
    assert [len(s) for s in outputs] == cores.output_axons.tolist()
    assert synapses.tolist() == cores.synapses.tolist()


def test_synapse_rows_group_by_core_and_source():
    post_slice = np.array([0, 0, 1, 0, 1, 1], dtype=np.int32)
    pre = np.array([3, 3, 3, 1, 0, 0], dtype=np.int32)
    core, src, length = synapse_rows(post_slice, pre, 2, 4)
    assert list(zip(core.tolist(), src.tolist(), length.tolist(), strict=True)) == [
        (0, 1, 1), (0, 3, 2), (1, 0, 2), (1, 3, 1)]


def test_too_many_neuron_configs_split_a_population():
    # 40 different refractory periods: more than the 32 compartment configs of a core
    refrac = np.repeat(np.arange(1, 41) * 0.1, 5)
    net = Network(populations=(Population("mixed", "IF_curr_exp", refrac.size,
                                          parameters={"tau_refrac": refrac}),))
    art = LoihiTarget(board="loihi1").compile(net)
    assert len(art.cores) >= 2
    assert art.cores.neuron_configs.max() <= loihi.MAX_COMPARTMENT_CONFIGS
    assert art.cores.neuron_configs.sum() >= 40


def test_plastic_projection_takes_two_axon_slots_per_source():
    from toolchain.ir import STDPRule

    rng = np.random.default_rng(3)
    kw = dict(n_pre=50, n_post=20, p=0.5, weight=0.1)
    static = random_projection(rng, "s", "a", "b", **kw)
    plastic = random_projection(np.random.default_rng(3), "s", "a", "b",
                                plasticity=STDPRule(), **kw)
    pops = (Population("a", "IF_curr_exp", 50), Population("b", "IF_curr_exp", 20))
    counts = []
    for proj in (static, plastic):
        art = LoihiTarget(board="loihi1").compile(Network(populations=pops, projections=(proj,)))
        counts.append(int(art.cores.input_axons[art.cores.population == 1].sum()))
    assert counts[1] == 2 * counts[0]


def test_output_axon_limit_splits_source_population():
    # target neurons have ~3600 inputs, so they sit 2 to a core; each source neuron then
    # reaches ~30 cores, and output axons, not compartments, bound the source slices
    rng = np.random.default_rng(5)
    art = LoihiTarget(board="nahuku32").compile(Network(
        populations=(Population("src", "IF_curr_exp", 4000), Population("dst", "IF_curr_exp", 60)),
        projections=(random_projection(rng, "fan", "src", "dst", 4000, 60, 0.9, 0.01),),
    ))
    src = art.cores.population == 0
    assert art.cores.output_axons[src].max() <= loihi.MAX_OUT_AXONS
    total = int(art.cores.output_axons[src].sum())
    assert src.sum() >= -(-total // loihi.MAX_OUT_AXONS)
    assert src.sum() > -(-4000 // loihi.MAX_COMPARTMENTS)


def test_partition_is_deterministic():
    net = chain_network()
    a = LoihiTarget(board="loihi1").compile(net)
    b = LoihiTarget(board="loihi1").compile(net)
    assert a.cores == b.cores and a.placement == b.placement


def test_split_by_load_balances_and_names_a_neuron_over_the_limit():
    from toolchain.compiler.partition import _split_by_load

    pop = Population("src", "IF_curr_exp", 6)
    bounds, messages = _split_by_load(np.array([30, 30, 30, 30, 30, 30]), np.array([0, 6]),
                                      100, pop, "output")
    sums = np.add.reduceat(np.full(6, 30), bounds[:-1])
    assert messages == [] and sums.max() <= 100 and bounds[-1] == 6
    _, messages = _split_by_load(np.array([10, 5000, 10]), np.array([0, 3]), 4096,
                                 Population("hub", "IF_curr_exp", 3), "output")
    (broken,) = messages
    assert broken.message.startswith(
        "Population 'hub': 1 neuron(s) each send spikes to more cores than a core has output "
        "axons (limit 4096, neuron 1 needs 5000)")
    assert (broken.element, broken.label, broken.limit, broken.value, broken.allowed) == \
        ("population", "hub", "output_axons", 5000, 4096)
