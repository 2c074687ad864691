"""The Loihi spec and mapping: limits, synapse memory accounting, boards, step cost."""

import numpy as np
import pytest

from tests.compiler.nets import ei_network
from toolchain.targets import get_target
from toolchain.targets.loihi import BOARDS, LoihiTarget
from toolchain.targets.loihi import spec as loihi


def test_limits_are_the_published_ones():
    spec = LoihiTarget().spec
    lim = spec.limits
    assert (lim.neurons, lim.input_axons, lim.output_axons, lim.synapse_bits) == (
        1024, 4096, 4096, 16384 * 64)
    assert (lim.neuron_configs, lim.threshold_configs, lim.synapse_configs,
            lim.learning_configs) == (32, 16, 16, 3)
    assert spec.mesh.cores_per_chip == 128
    assert (spec.mesh.tiles_x, spec.mesh.tiles_y, spec.mesh.cores_per_tile) == (8, 4, 4)


@pytest.mark.parametrize(("length", "index_bits", "words"), [
    (1, 6, 1),     # 8 + 0 + 6 = 14 bits + 10 header = 24 -> 1 word
    (3, 6, 1),     # 42 + 10 = 52 -> 1 word
    (4, 6, 2),     # 56 + 10 = 66 -> 2 words
    (64, 10, 19),  # 64 x 18 + 10 = 1162 -> 19 words
])
def test_synapse_row_bits_follow_the_group_and_word_rounding(length, index_bits, words):
    spec = LoihiTarget().spec
    bits = spec.synapse_row_bits(np.array([length]), weight_bits=8, delay_bits=0,
                                 index_bits=np.array([index_bits]), learning=False)
    assert bits[0] == words * 64


def test_rows_longer_than_64_synapses_pay_one_header_per_group():
    spec = LoihiTarget().spec
    one = spec.synapse_row_bits(np.array([64]), weight_bits=8, delay_bits=2,
                                index_bits=np.array([6]), learning=False)[0]
    two = spec.synapse_row_bits(np.array([128]), weight_bits=8, delay_bits=2,
                                index_bits=np.array([6]), learning=False)[0]
    tail = spec.synapse_row_bits(np.array([65]), weight_bits=8, delay_bits=2,
                                 index_bits=np.array([6]), learning=False)[0]
    assert two == 2 * one
    assert tail == one + 64  # one more synapse: a new group of one, one more word


def test_weight_bits_round_up_to_a_loihi_format():
    spec = LoihiTarget().spec
    seven = spec.synapse_row_bits(np.array([10]), weight_bits=7, delay_bits=0,
                                  index_bits=np.array([6]), learning=False)
    eight = spec.synapse_row_bits(np.array([10]), weight_bits=8, delay_bits=0,
                                  index_bits=np.array([6]), learning=False)
    assert seven == eight  # there is no 7-bit weight format
    with pytest.raises(ValueError, match="9 weight bits exceed the largest Loihi weight format"):
        spec.synapse_row_bits(np.array([1]), weight_bits=9, delay_bits=0,
                              index_bits=np.array([6]), learning=False)


def test_index_bits_cover_the_core_and_are_at_least_six():
    bits = LoihiTarget().spec.index_bits(np.array([1, 64, 65, 1024]))
    assert bits.tolist() == [6, 6, 7, 10]


def test_boards_and_registry():
    assert get_target("loihi", board="kapoho_bay").spec.mesh.n_chips == 2
    assert BOARDS["pohoiki_springs"].n_chips == 768
    assert BOARDS["nahuku32"].n_chips == 32
    with pytest.raises(ValueError, match="target 'loihi' option board='x' is not allowed; "
                       "board takes one of: loihi1, kapoho_bay, nahuku32, pohoiki_springs"):
        LoihiTarget(board="x")


def test_barrier_grows_with_chips():
    costs = LoihiTarget().spec.costs
    assert [costs.barrier(n) for n in (1, 2, 3, 4, 29, 700)] == [0.6, 1.0, 1.4, 1.4, 1.8, 1.8]


def test_compartment_configs_follow_decays_and_refractory():
    from toolchain.ir import Population

    pop = Population("p", "IF_curr_exp", 4, parameters={
        "tau_m": [20.0, 20.0, 10.0, 20.0], "tau_refrac": [1.0, 1.0, 1.0, 2.0],
        "v_thresh": [-50.0, -50.0, -50.0, -40.0]})
    config, threshold = LoihiTarget().spec.neuron_configs(pop, 0.1)
    assert config[0] == config[1] and len(set(config.tolist())) == 3
    assert threshold[0] == threshold[2] != threshold[3]
    du, dv, refr = loihi.decays_and_refractory(pop, 0.1)
    assert dv.tolist() == [20, 20, 41, 20]  # 4096 * 0.1 / tau_m
    assert refr.tolist() == [10, 10, 10, 20]


def test_network_on_two_chips_pays_a_larger_barrier():
    one = LoihiTarget(board="loihi1").compile(ei_network(n_exc=3000, n_inh=800))
    assert one.chips_used == 1
    assert one.routes.chip_crossings.max() == 0
    assert one.estimate.barrier_ns == pytest.approx(600.0)
    from toolchain.ir import Network, Population

    many = Network(populations=tuple(Population(f"p{k}", "IF_curr_exp", 5) for k in range(200)))
    art = LoihiTarget(board="kapoho_bay").compile(many)
    assert art.chips_used == 2
    assert art.estimate.barrier_ns == pytest.approx(1000.0)


def test_compiled_network_runs_on_the_loihi_simulator_with_the_reported_weights():
    from toolchain.ir import Recording

    net = ei_network(n_exc=200, n_inh=50)
    net = net.replace(recordings=(Recording("exc", "spikes", np.arange(200)),))
    target = LoihiTarget(board="loihi1")
    art = target.compile(net)
    sim = target.simulator(art)
    sim.run_until(5.0)
    result = sim.result()
    assert result.target == "loihi" and result.counters["steps"] == 50
    # the quantisation the report shows is the one the simulation runs
    for label, conv in sim.numerics.projections.items():
        q = art.numerics_of(label)
        assert (q.exponent, q.zeroed, q.saturated) == (conv.weight_exp, conv.n_zeroed,
                                                       conv.n_saturated)
        assert q.lsb == pytest.approx(conv.na_per_mantissa)
