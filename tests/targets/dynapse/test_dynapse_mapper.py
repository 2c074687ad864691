"""DYNAP-SE mapping: limits refused with clear messages, weights realised as CAM
multiplicities (SE1) or masks (SE2), tags and SRAM words allocated within the hardware's
word formats."""

import math

import numpy as np
import pytest

from toolchain.ir import (
    CellType,
    DCSource,
    Network,
    PoissonSource,
    Population,
    Projection,
    STDPRule,
)
from toolchain.targets.dynapse.mapper import DynapseError, map_network
from toolchain.targets.dynapse.spec import (
    CAM_ENTRIES_PER_NEURON,
    NEURONS_PER_CORE,
    DynapseSpec,
    SynapseType,
)


def poisson(label, n):
    return PoissonSource(label, n, rate=np.full(n, 10.0), start=np.zeros(n),
                         duration=np.full(n, math.inf), seed=1)


def all_to_all(label, pre, n_pre, post, n_post, weight, receptor="excitatory", delay=0.1):
    i, j = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    w = np.broadcast_to(np.asarray(weight, dtype=float), (n_pre * n_post,))
    return Projection(label, pre, post, i.ravel(), j.ravel(), w, np.full(i.size, delay),
                      receptor=receptor)


def net(pops, projs, sources=()):
    return Network(populations=tuple(pops), sources=tuple(sources), projections=tuple(projs))


def test_se1_weights_become_cam_multiplicities_of_one_base_weight():
    rng = np.random.default_rng(3)
    w = rng.uniform(0.1, 1.0, 8 * 4)
    network = net([Population("out", CellType.IF_CURR_EXP, 4)],
                  [all_to_all("in->out", "in", 8, "out", 4, w)], [poisson("in", 8)])
    m = map_network(network)
    pm = m.projections["in->out"]
    base_of_core = {c.core: c.base_weight[SynapseType.FAST_EXC] for c in m.cores}
    post = network.projections[0].post_index
    base = np.array([base_of_core[c] for c in m.placement["out"].core[post]])
    mult = pm.realised_weight / base
    # every realised weight is a whole number of CAM entries of the core's one base weight
    np.testing.assert_allclose(mult, np.rint(mult), atol=1e-9)
    assert np.all(mult >= 1)
    # 8 sources per neuron leave room for fine multiplicities: error well under 10 %
    assert m.report["weight_rms_error[in->out]"] < 0.1
    assert m.cam_used["out"].max() <= CAM_ENTRIES_PER_NEURON
    np.testing.assert_array_equal(m.cam_used["out"],
                                  np.rint(mult).reshape(8, 4).sum(axis=0))


def test_se1_cam_budget_forces_coarse_weights_and_the_error_is_reported():
    rng = np.random.default_rng(4)
    w = rng.uniform(0.1, 1.0, 60 * 2)
    network = net([Population("out", CellType.IF_CURR_EXP, 2)],
                  [all_to_all("in->out", "in", 60, "out", 2, w)], [poisson("in", 60)])
    m = map_network(network)
    assert m.cam_used["out"].max() <= CAM_ENTRIES_PER_NEURON
    coarse = m.report["weight_rms_error[in->out]"]
    fine = map_network(network, DynapseSpec.se2()).report["weight_rms_error[in->out]"]
    assert coarse > fine  # 60 sources in 64 words: almost every weight is one base weight


def test_se2_weights_are_mask_sums_of_base_currents():
    w = np.linspace(0.05, 1.5, 10)
    network = net([Population("out", CellType.IF_CURR_EXP, 1)],
                  [all_to_all("in->out", "in", 10, "out", 1, w)], [poisson("in", 10)])
    spec = DynapseSpec.se2()
    m = map_network(network, spec)
    pm = m.projections["in->out"]
    assert len(m.cores) == 1
    scale = m.cores[0].base_weight[SynapseType.FAST_EXC]
    sums = np.array([sum(b for k, b in enumerate(spec.base_currents) if mask >> k & 1)
                     for mask in pm.mask])
    np.testing.assert_allclose(pm.realised_weight, scale * sums)
    assert np.all((pm.mask >= 1) & (pm.mask <= 15))
    # nearest of 15 levels: error at most half a level
    assert np.max(np.abs(pm.realised_weight - w)) <= scale / 2 + 1e-9


def test_fan_in_over_64_sources_is_refused_naming_population_neuron_and_limit():
    network = net([Population("out", CellType.IF_CURR_EXP, 2)],
                  [all_to_all("in->out", "in", 70, "out", 2, 0.5)], [poisson("in", 70)])
    with pytest.raises(DynapseError) as e:
        map_network(network)
    msg = str(e.value)
    assert "Population 'out' neuron 0 needs 70 CAM words" in msg
    assert "'in->out'" in msg and "has 64" in msg
    assert "takes one: reduce its fan-in to at most 64 sources" in msg


def test_stdp_delays_conductance_and_alpha_are_refused_with_reasons():
    stdp = STDPRule(tau_plus=20, tau_minus=20, A_plus=0.01, A_minus=0.01, w_min=0, w_max=1)
    plastic = Projection("plastic", "in", "out", [0], [0], [0.5], [0.1], plasticity=stdp)
    with pytest.raises(DynapseError, match="Projection 'plastic': DYNAP-SE has no on-chip "
                                           "plasticity, so STDP cannot run there"):
        map_network(net([Population("out", CellType.IF_CURR_EXP, 1)], [plastic],
                        [poisson("in", 1)]))
    slow = Projection("slow", "in", "out", [0, 0], [0, 0], [0.5, 0.5], [0.1, 5.0])
    with pytest.raises(DynapseError, match=r"Projection 'slow' delay\[1\] = 5 ms: DYNAP-SE has "
                                           "no per-synapse delays.*delay_tolerance = 1 ms"):
        map_network(net([Population("out", CellType.IF_CURR_EXP, 1)], [slow],
                        [poisson("in", 1)]))
    assert map_network(net([Population("out", CellType.IF_CURR_EXP, 1)], [slow],
                           [poisson("in", 1)]), delay_tolerance=5.0).notes
    with pytest.raises(DynapseError, match=r"Population 'c' \(IF_cond_exp\) receptor "
                                           "excitatory: its synapses are conductance-based; "
                                           "DYNAP-SE's DPI synapses inject currents"
                                           ".*--fit approximate"):
        map_network(net([Population("c", CellType.IF_COND_EXP, 1)],
                        [Projection("g", "in", "c", [0], [0], [0.01], [0.1])],
                        [poisson("in", 1)]))
    with pytest.raises(DynapseError, match=r"Population 'a' \(IF_curr_alpha\) receptor "
                                           "excitatory: its synapses are alpha-shaped"
                                           ".*--fit approximate"):
        map_network(net([Population("a", CellType.IF_CURR_ALPHA, 1)],
                        [Projection("g", "in", "a", [0], [0], [0.5], [0.1])],
                        [poisson("in", 1)]))
    with pytest.raises(DynapseError, match="Population 'z': DYNAP-SE cannot run Izhikevich: "
                                           "its spike upswing is quadratic"):
        map_network(net([Population("z", CellType.IZHIKEVICH, 1)], []))


def test_per_core_biases_put_each_parameter_set_on_its_cores_and_no_current_injection():
    varied = Population("v", CellType.IF_CURR_EXP, 3, parameters={"tau_m": [10, 20, 30]})
    m = map_network(net([varied], []))
    assert len(set(m.placement["v"].core)) == 3
    # two chips' worth of populations leave the third too few cores for 20 sets
    crowd = [Population(f"p{k}", CellType.IF_CURR_EXP, 256) for k in range(14)]
    many = Population("v", CellType.IF_CURR_EXP, 20,
                      parameters={"tau_m": np.arange(10.0, 30.0)})
    with pytest.raises(DynapseError, match="Population 'v' has 20 distinct parameter sets "
                                           ".* 20 cores, but 2 are left for it on the board"):
        map_network(net([*crowd, many], []))
    dc = DCSource("dc", "p", [0], 0.5)
    network = Network(populations=(Population("p", CellType.IF_CURR_EXP, 2),), currents=(dc,))
    with pytest.raises(DynapseError, match="DCSource 'dc': DYNAP-SE has no per-neuron current "
                                           "injection"):
        map_network(network)


def test_board_capacity_and_wrong_sign_weights():
    with pytest.raises(DynapseError, match="the network has 4097 neurons but a 4-chip DYNAP-SE "
                                           "board holds 4096") as refused:
        map_network(net([Population("big", CellType.IF_CURR_EXP, 4097)], []))
    # no board is larger, so the fix is a smaller network, said once
    assert str(refused.value).count("make the network smaller") == 1
    assert "a 4-chip board is the largest" in str(refused.value)
    bad = Projection("inh", "in", "out", [0], [0], [0.5], [0.1], receptor="inhibitory")
    with pytest.raises(DynapseError, match=r"Projection 'inh' weight\[0\] = 0.5 nA has the "
                                           "wrong sign for its inhibitory receptor"):
        map_network(net([Population("out", CellType.IF_CURR_EXP, 1)], [bad],
                        [poisson("in", 1)]))


def test_large_population_spans_cores_and_chips_with_unaliased_se1_tags():
    n = 3 * NEURONS_PER_CORE + 100
    pop = Population("big", CellType.IF_CURR_EXP, n)
    src = poisson("in", 1)
    proj = Projection("in->big", "in", "big", np.zeros(n, dtype=int), np.arange(n),
                      np.full(n, 0.3), np.full(n, 0.1))
    rec = Projection("big->big", "big", "big", np.arange(n), (np.arange(n) + 1) % n,
                     np.full(n, 0.2), np.full(n, 0.1))
    m = map_network(net([pop], [proj, rec], [src]))
    assert m.report["cores_used"] == 4
    counts = np.bincount(m.placement["big"].core)
    assert counts.max() <= NEURONS_PER_CORE
    tags = m.tags["big"]
    assert tags.max() < 2**10
    # on SE1 a tag is (core within chip, address): recompute it from the placement
    np.testing.assert_array_equal(
        tags, (m.placement["big"].core % 4) << 8 | m.placement["big"].address)
    # the host input got a tag no on-chip sender into the same cores uses
    assert m.tags["in"][0] not in set(tags.tolist())


def test_se1_cross_chip_alias_is_refused_and_se2_allocates_distinct_tags():
    spec = DynapseSpec()
    # two populations that fill whole chips: core 0 of chip 0 and core 0 of chip 1 reuse
    # addresses, and both project onto one target population
    a = Population("a", CellType.IF_CURR_EXP, 4 * NEURONS_PER_CORE)
    b = Population("b", CellType.IF_CURR_EXP, 4 * NEURONS_PER_CORE)
    t = Population("t", CellType.IF_CURR_EXP, 1)
    pa = Projection("a->t", "a", "t", [0], [0], [0.5], [0.1])
    pb = Projection("b->t", "b", "t", [0], [0], [0.5], [0.1])
    with pytest.raises(DynapseError, match=r"tag 0 aliases on core \d+: 'a' neuron 0 and 'b' "
                                           "neuron 0 .* compile for DYNAP-SE2"):
        map_network(net([a, b, t], [pa, pb]), spec.replace(chips=3))
    m = map_network(net([a, b, t], [pa, pb]), DynapseSpec.se2(chips=3))
    assert m.tags["a"][0] != m.tags["b"][0]
    assert max(int(x.max()) for x in m.tags.values()) < 2048


def test_fan_out_beyond_the_sram_words_is_refused():
    # a sender whose targets sit on two chips needs two SRAM words
    src = Population("src", CellType.IF_CURR_EXP, 1)
    far = Population("far", CellType.IF_CURR_EXP, 5 * NEURONS_PER_CORE)
    proj = Projection("src->far", "src", "far", [0, 0], [0, 5 * NEURONS_PER_CORE - 1],
                      [0.5, 0.5], [0.1, 0.1])
    network = net([src, far], [proj])
    m = map_network(network)
    assert m.sram["src"][0] == 2
    with pytest.raises(DynapseError, match="Population 'src' neuron 0 projects to 2 chips but a "
                                           "DYNAP-SE neuron has 1 SRAM words"):
        map_network(network, DynapseSpec(sram_per_neuron=1))


def test_se1_placement_avoids_tag_aliasing_by_continuing_on_free_addresses():
    # 800 + 200 neurons: the inhibitory core would reuse core position 0's addresses on the
    # next chip; instead it spreads over the addresses still free at each core position
    exc = Population("exc", CellType.IF_CURR_EXP, 800)
    inh = Population("inh", CellType.IF_CURR_EXP, 200)
    rng = np.random.default_rng(0)
    projs = []
    for pre, n_pre, w, rec in (("exc", 800, 0.02, "excitatory"),
                               ("inh", 200, -0.09, "inhibitory")):
        i, j = np.nonzero(rng.random((n_pre, 800)) < 0.02)
        projs.append(Projection(f"{pre}->exc", pre, "exc", i, j, np.full(i.size, w),
                                np.full(i.size, 0.1), receptor=rec))
    m = map_network(net([exc, inh], projs))
    tags = np.concatenate([m.tags["exc"], m.tags["inh"]])
    assert np.unique(tags).size == 1000  # every sender its own tag
    assert np.bincount(m.placement["inh"].core).max() <= NEURONS_PER_CORE
