"""Every standard PyNN connector through the backend's vectorised builders.

Deterministic connectors are checked against PyNN's own implementation (pyNN.mock runs
PyNN's generic per-target code); random ones against the statistics they promise.
"""

import numpy as np
import pyNN.mock as mock
import pytest
from pyNN.random import NumpyRNG, RandomDistribution
from pyNN.space import Grid2D, Line

import toolchain.pynn as sim
from toolchain.pynn.connect import ConnectorError


@pytest.fixture(autouse=True)
def fresh():
    sim.setup(timestep=0.1, min_delay=0.1)
    yield
    sim.end()


def pairs(prj):
    return set(zip(prj._pre_index.tolist(), prj._post_index.tolist(), strict=True))


def pynn_pairs(make_connector, n_pre, n_post, same=False, structure=None):
    """The connections PyNN's own generic connector code makes (pyNN.mock backend)."""
    mock.setup(timestep=0.1, min_delay=0.1)
    a = mock.Population(n_pre, mock.IF_curr_exp(), structure=structure)
    b = a if same else mock.Population(n_post, mock.IF_curr_exp(), structure=structure)
    prj = mock.Projection(a, b, make_connector(), mock.StaticSynapse(weight=0.1, delay=0.5))
    return {(int(i), int(j)) for i, j, _ in prj.get(["weight"], format="list")}


def ours(make_connector, n_pre, n_post, same=False, structure=None, **syn):
    a = sim.Population(n_pre, sim.IF_curr_exp(), structure=structure)
    b = a if same else sim.Population(n_post, sim.IF_curr_exp(), structure=structure)
    syn = {"weight": 0.1, "delay": 0.5, **syn}
    return sim.Projection(a, b, make_connector(), sim.StaticSynapse(**syn))


@pytest.mark.parametrize("make, same", [
    (lambda: sim.AllToAllConnector(), False),
    (lambda: sim.AllToAllConnector(allow_self_connections=False), True),
    (lambda: sim.OneToOneConnector(), False),
    (lambda: sim.ArrayConnector(np.eye(7, 5, k=1, dtype=bool) | np.eye(7, 5, k=-2, dtype=bool)),
     False),
    (lambda: sim.DistanceDependentProbabilityConnector("d < 2.5"), False),
    (lambda: sim.DistanceDependentProbabilityConnector("d < 2.5",
                                                       allow_self_connections=False), True),
])
def test_deterministic_connectors_match_pynn(make, same):
    n_pre, n_post = (7, 5) if not same else (7, 7)
    expected = pynn_pairs(make, n_pre, n_post, same, structure=Line())
    prj = ours(make, n_pre, n_post, same, structure=Line())
    assert pairs(prj) == expected
    assert len(prj) == len(expected)


def test_connections_come_in_target_then_source_order():
    prj = ours(lambda: sim.AllToAllConnector(), 4, 3)
    order = list(zip(prj._post_index.tolist(), prj._pre_index.tolist(), strict=True))
    assert order == sorted(order)


def test_fixed_probability_density_and_no_self_connections():
    n, p = 300, 0.1
    prj = ours(lambda: sim.FixedProbabilityConnector(p, allow_self_connections=False,
                                                     rng=NumpyRNG(seed=1)), n, n, same=True)
    expected = n * (n - 1) * p
    assert abs(len(prj) - expected) < 5 * np.sqrt(expected * (1 - p))
    assert not np.any(prj._pre_index == prj._post_index)
    assert len(pairs(prj)) == len(prj)  # no duplicates


def test_fixed_probability_is_reproducible_with_a_seeded_rng():
    a = ours(lambda: sim.FixedProbabilityConnector(0.2, rng=NumpyRNG(seed=5)), 50, 40)
    b = ours(lambda: sim.FixedProbabilityConnector(0.2, rng=NumpyRNG(seed=5)), 50, 40)
    assert pairs(a) == pairs(b)


@pytest.mark.parametrize("with_replacement", [False, True])
def test_fixed_number_pre_gives_each_target_n_sources(with_replacement):
    prj = ours(lambda: sim.FixedNumberPreConnector(7, with_replacement=with_replacement,
                                                   allow_self_connections=False,
                                                   rng=NumpyRNG(seed=2)), 30, 30, same=True)
    assert np.all(np.bincount(prj._post_index, minlength=30) == 7)
    assert not np.any(prj._pre_index == prj._post_index)
    if not with_replacement:
        assert len(pairs(prj)) == len(prj)


def test_fixed_number_pre_beyond_population_size_uses_every_cell_first():
    prj = ours(lambda: sim.FixedNumberPreConnector(13, rng=NumpyRNG(seed=3)), 5, 4)
    for j in range(4):
        counts = np.bincount(prj._pre_index[prj._post_index == j], minlength=5)
        assert sorted(counts.tolist()) == [2, 2, 3, 3, 3]


def test_fixed_number_pre_with_a_random_count():
    n = RandomDistribution("uniform_int", low=2, high=6, rng=NumpyRNG(seed=4))
    prj = ours(lambda: sim.FixedNumberPreConnector(n, rng=NumpyRNG(seed=5)), 20, 50)
    counts = np.bincount(prj._post_index, minlength=50)
    assert counts.min() >= 2 and counts.max() <= 5 and len(set(counts.tolist())) > 1


def test_fixed_number_post_gives_each_source_n_targets():
    prj = ours(lambda: sim.FixedNumberPostConnector(4, rng=NumpyRNG(seed=6)), 25, 10)
    assert np.all(np.bincount(prj._pre_index, minlength=25) == 4)
    assert len(pairs(prj)) == len(prj)
    assert np.all(np.diff(prj._post_index) >= 0)


@pytest.mark.parametrize("with_replacement", [True, False])
def test_fixed_total_number(with_replacement):
    prj = ours(lambda: sim.FixedTotalNumberConnector(
        500, with_replacement=with_replacement, rng=NumpyRNG(seed=7)), 40, 30)
    assert len(prj) == 500
    assert prj._pre_index.max() < 40 and prj._post_index.max() < 30
    if not with_replacement:
        assert len(pairs(prj)) == 500


def test_fixed_total_number_spreads_over_all_targets():
    prj = ours(lambda: sim.FixedTotalNumberConnector(20000, rng=NumpyRNG(seed=8)), 100, 50)
    counts = np.bincount(prj._post_index, minlength=50)
    # multinomial(20000, 1/50): mean 400, sd ~20
    assert abs(counts.mean() - 400) < 1e-9 and counts.min() > 300 and counts.max() < 500


@pytest.mark.parametrize("with_replacement", [True, False])
def test_fixed_total_number_comes_in_source_order_for_the_engine(with_replacement):
    """Source order is the engine's row order: its rows are the IR's own arrays."""
    from toolchain.pynn.build import build_network
    from toolchain.pynn.simulator import state
    from toolchain.sim.engine import Engine

    prj = ours(lambda: sim.FixedTotalNumberConnector(
        20000, with_replacement=with_replacement, rng=NumpyRNG(seed=9)), 100, 500)
    assert np.all(np.diff(prj._pre_index) >= 0)
    # each synapse's source is uniform: 200 per source on average, sd ~14 (multinomial)
    counts = np.bincount(prj._pre_index, minlength=100)
    assert counts.min() > 130 and counts.max() < 270
    assert np.bincount(prj._post_index, minlength=500).min() > 10  # and targets spread
    net = build_network(state).network
    matrix = Engine(net).projections[net.projections[0].label].matrix
    assert matrix.post is net.projections[0].post_index


def test_random_values_are_pynns_where_pynn_defines_the_connectivity():
    """All-to-all with seeded NumpyRNG weights and delays: the values PyNN's own per-target
    code draws (pyNN.mock), in the same synapses."""
    def synapse():
        return dict(weight=RandomDistribution("normal", mu=0.5, sigma=0.1, rng=NumpyRNG(1)),
                    delay=RandomDistribution("uniform", low=0.5, high=3.0, rng=NumpyRNG(2)))

    mock.setup(timestep=0.1, min_delay=0.1)
    theirs = mock.Projection(mock.Population(30, mock.IF_curr_exp()),
                             mock.Population(20, mock.IF_curr_exp()),
                             mock.AllToAllConnector(), mock.StaticSynapse(**synapse()))
    expected = sorted(theirs.get(["weight", "delay"], format="list"))
    prj = ours(lambda: sim.AllToAllConnector(), 30, 20, **synapse())
    got = sorted(prj.get(["weight", "delay"], format="list"))
    assert [(i, j) for i, j, _, _ in got] == [(i, j) for i, j, _, _ in expected]
    for k in (2, 3):
        np.testing.assert_array_equal(np.float32([row[k] for row in got]),
                                      np.float32([row[k] for row in expected]))


def test_values_sharing_a_random_connectors_rng_are_independent_draws():
    """examples/microcircuit.py draws connectivity, weights and delays from one RNG.  PyNN
    hands each parameter a copy of that RNG, so drawn in blocks the weights and delays
    would be one sequence twice; each parameter's own stream makes them independent,
    with the distribution asked for, reproducible, and later connectivity unchanged."""
    def build(weight_from_rng: bool):
        sim.setup(timestep=0.1, min_delay=0.1)
        rng = NumpyRNG(seed=21)
        a, b = sim.Population(200, sim.IF_curr_exp()), sim.Population(100, sim.IF_curr_exp())
        w = RandomDistribution("normal", mu=0.5, sigma=0.05, rng=rng) if weight_from_rng \
            else 0.5
        d = RandomDistribution("normal_clipped", mu=1.5, sigma=0.75, low=0.1, high=np.inf,
                               rng=rng)
        first = sim.Projection(a, b, sim.FixedTotalNumberConnector(50_000, rng=rng),
                               sim.StaticSynapse(weight=w, delay=d))
        second = sim.Projection(a, b, sim.FixedTotalNumberConnector(5_000, rng=rng),
                                sim.StaticSynapse(weight=0.1, delay=1.0))
        return first, second

    first, second = build(True)
    w, d = as_float(first._weight), as_float(first._delay)
    assert abs(np.corrcoef(w, d)[0, 1]) < 0.03
    assert abs(w.mean() - 0.5) < 2e-3 and abs(w.std() - 0.05) < 2e-3
    assert d.min() >= 0.1 and abs(np.median(d) - 1.5) < 0.05
    again, _ = build(True)
    np.testing.assert_array_equal(again._weight, first._weight)
    np.testing.assert_array_equal(again._delay, first._delay)
    _, constant_weights = build(False)
    np.testing.assert_array_equal(constant_weights._pre_index, second._pre_index)
    np.testing.assert_array_equal(constant_weights._post_index, second._post_index)


def as_float(values):
    return np.asarray(values, dtype=np.float64)


def test_fixed_total_number_without_replacement_refuses_too_many():
    with pytest.raises(ConnectorError, match=r"n = 13 synapses without replacement exceeds "
                                             r"the 12 possible pairs"):
        ours(lambda: sim.FixedTotalNumberConnector(13, with_replacement=False), 3, 4)


def test_index_based_probability_uses_the_cell_indices():
    from pyNN.core import IndexBasedExpression

    class EvenSum(IndexBasedExpression):
        def __call__(self, i, j):
            return ((i + j) % 2 == 0).astype(float)

    prj = ours(lambda: sim.IndexBasedProbabilityConnector(EvenSum()), 6, 5)
    assert pairs(prj) == {(i, j) for i in range(6) for j in range(5) if (i + j) % 2 == 0}


def test_displacement_dependent_probability():
    prj = ours(lambda: sim.DisplacementDependentProbabilityConnector(
        lambda d: (np.abs(d[0]) < 1.5).astype(float)), 6, 6, structure=Line())
    assert pairs(prj) == {(i, j) for i in range(6) for j in range(6) if abs(i - j) <= 1}


def test_from_list_keeps_weights_and_delays_per_synapse():
    conns = [(0, 1, 0.5, 1.0), (2, 0, 0.25, 2.0), (1, 1, 0.125, 3.0)]
    prj = ours(lambda: sim.FromListConnector(conns), 3, 2)
    assert sorted(prj.get(["weight", "delay"], format="list")) == sorted(conns)


def test_from_list_names_the_row_with_a_bad_index():
    with pytest.raises(Exception, match=r"connection list row 1 has target index 5, "
                                        r"outside 0\.\.1"):
        ours(lambda: sim.FromListConnector([(0, 1, 0.5, 1.0), (0, 5, 0.5, 1.0)]), 3, 2)


def test_from_file_reads_what_a_projection_saved(tmp_path):
    first = ours(lambda: sim.FixedProbabilityConnector(0.5, rng=NumpyRNG(seed=9)), 8, 6,
                 weight=RandomDistribution("uniform", (0.1, 0.2), rng=NumpyRNG(seed=10)))
    path = str(tmp_path / "conns.txt")
    first.save("all", path, format="list")
    again = ours(lambda: sim.FromFileConnector(path), 8, 6)
    assert pairs(again) == pairs(first)
    np.testing.assert_allclose(np.sort(again._weight), np.sort(first._weight), rtol=1e-6)


def test_small_world_without_rewiring_is_the_local_lattice():
    prj = ours(lambda: sim.SmallWorldConnector(degree=2.5, rewiring=0.0,
                                               allow_self_connections=False), 10, 10, same=True,
               structure=Line())
    assert pairs(prj) == {(i, j) for i in range(10) for j in range(10) if 0 < abs(i - j) < 2.5}


def test_small_world_rewiring_moves_targets_but_keeps_the_count():
    lattice = ours(lambda: sim.SmallWorldConnector(degree=3.5, rewiring=0.0), 60, 60,
                   same=True, structure=Line())
    rewired = ours(lambda: sim.SmallWorldConnector(degree=3.5, rewiring=0.5,
                                                   rng=NumpyRNG(seed=11)), 60, 60, same=True,
                   structure=Line())
    assert len(rewired) == len(lattice)
    far = np.abs(rewired._pre_index - rewired._post_index) >= 3.5
    assert 0.2 < far.mean() < 0.6


def test_clone_copies_the_reference_connectivity():
    a = sim.Population(9, sim.IF_curr_exp())
    b = sim.Population(7, sim.IF_curr_exp())
    ref = sim.Projection(a, b, sim.FixedProbabilityConnector(0.3, rng=NumpyRNG(seed=12)),
                         sim.StaticSynapse(weight=0.1, delay=1.0))
    copy = sim.Projection(a, b, sim.CloneConnector(ref), sim.StaticSynapse(weight=0.2))
    assert pairs(copy) == pairs(ref)
    assert np.all(copy._weight == np.float32(0.2))


def test_distance_dependent_weights_are_evaluated_per_synapse():
    prj = ours(lambda: sim.AllToAllConnector(), 9, 9, structure=Grid2D(aspect_ratio=1.0),
               weight="0.01 * d", delay="0.5 + d")
    a_pos = prj.pre.positions.T
    d = np.linalg.norm(a_pos[prj._pre_index] - a_pos[prj._post_index], axis=1)
    np.testing.assert_allclose(prj._weight, 0.01 * d, rtol=1e-6)
    np.testing.assert_allclose(prj._delay, 0.5 + d, rtol=1e-6)


def test_random_weights_draw_one_value_per_synapse():
    w = RandomDistribution("normal_clipped", mu=0.5, sigma=0.1, low=0.3, high=0.7,
                           rng=NumpyRNG(seed=13))
    prj = ours(lambda: sim.FixedTotalNumberConnector(20000, rng=NumpyRNG(seed=14)), 200, 200,
               weight=w)
    assert prj._weight.min() >= 0.3 and prj._weight.max() <= 0.7
    assert abs(prj._weight.mean() - 0.5) < 0.01
    assert prj._weight.dtype == np.float32 and prj._pre_index.dtype == np.int32


def test_generic_fallback_collects_pynn_per_target_calls():
    """A connector class without a vectorised builder still works through PyNN's path."""

    class Everyone(sim.AllToAllConnector):  # not in the builder table: PyNN's connect()
        pass

    prj = ours(lambda: Everyone(), 4, 3, weight=0.3)
    assert pairs(prj) == {(i, j) for i in range(4) for j in range(3)}
    assert np.allclose(prj._weight, 0.3)


@pytest.mark.parametrize("make", [
    lambda: sim.FixedNumberPreConnector(40, allow_self_connections=False, rng=NumpyRNG(seed=15)),
    lambda: sim.FixedNumberPostConnector(40, allow_self_connections=False,
                                         rng=NumpyRNG(seed=16)),
])
def test_fixed_number_few_of_many_has_no_repeats(make):
    """n << population size takes the draw-and-redraw path: still distinct, no self."""
    prj = ours(make, 1000, 1000, same=True)
    assert len(prj) == 40 * 1000
    assert len(pairs(prj)) == len(prj)
    assert not np.any(prj._pre_index == prj._post_index)
    side = prj._post_index if isinstance(prj._connector, sim.FixedNumberPreConnector) \
        else prj._pre_index
    assert np.all(np.bincount(side, minlength=1000) == 40)


def test_fixed_probability_large_and_sparse_takes_the_per_target_count_path():
    """Above one block of pairs, p = 0.01 is drawn as binomial counts per target plus
    distinct sources: same statistics, O(synapses)."""
    n, p = 2100, 0.01  # 4.4 M pairs > connect.BLOCK
    prj = ours(lambda: sim.FixedProbabilityConnector(p, allow_self_connections=False,
                                                     rng=NumpyRNG(seed=17)), n, n, same=True)
    expected = n * (n - 1) * p
    assert abs(len(prj) - expected) < 5 * np.sqrt(expected)
    assert len(pairs(prj)) == len(prj) and not np.any(prj._pre_index == prj._post_index)
    per_target = np.bincount(prj._post_index, minlength=n)
    # binomial(n - 1, p) per target: variance (n - 1) p (1 - p)
    assert abs(per_target.var() / ((n - 1) * p * (1 - p)) - 1) < 0.2
    assert np.all(np.diff(prj._post_index) >= 0)


@pytest.mark.parametrize("make", [
    lambda: sim.FixedTotalNumberConnector(500, with_replacement=True,
                                          allow_self_connections=False, rng=NumpyRNG(seed=7)),
    lambda: sim.SmallWorldConnector(degree=3.5, rewiring=0.5, allow_self_connections=False,
                                    rng=NumpyRNG(seed=11)),
])
def test_redrawn_synapses_avoid_self_connections(make):
    prj = ours(make, 40, 40, same=True, structure=Line())
    assert len(prj) > 0
    assert not np.any(prj._pre_index == prj._post_index)


def test_csa_connector_masks_and_value_sets():
    csa = pytest.importorskip("csa", reason="CSAConnector needs the csa package")
    sim.setup()
    a = sim.Population(20, sim.SpikeSourcePoisson(rate=10.0), label="a")
    b = sim.Population(10, sim.IF_curr_exp(), label="b")
    one = sim.Projection(a, b, sim.CSAConnector(csa.oneToOne),
                         sim.StaticSynapse(weight=0.3, delay=2.0))
    assert one.get(["weight", "delay"], "list") == [(i, i, 0.3, 2.0) for i in range(10)]
    valued = sim.Projection(a, b, sim.CSAConnector(csa.cset(csa.full, 0.2, 1.5)))
    assert len(valued) == 200  # the full set, cut to 20 x 10
    assert set(valued.get(["weight", "delay"], "list", with_address=False)) == {(0.2, 1.5)}
    sim.run(5.0)


def test_native_rng_fills_float32_clipped_normals_with_the_truncated_mean():
    import math

    from toolchain.pynn.random import NativeRNG

    mu, sigma, low = 1.5, 0.75, 0.1
    out = np.empty(400_000, dtype=np.float32)
    NativeRNG(seed=5).fill("normal_clipped", dict(mu=mu, sigma=sigma, low=low, high=np.inf),
                           out)
    a = (low - mu) / sigma
    density = math.exp(-a * a / 2) / math.sqrt(2 * math.pi)
    tail = 0.5 * math.erfc(a / math.sqrt(2))
    assert out.min() >= low
    assert abs(out.mean() - (mu + sigma * density / tail)) < 5e-3  # sd of the mean ~1e-3
    again = np.empty_like(out)
    NativeRNG(seed=5).fill("normal_clipped", dict(mu=mu, sigma=sigma, low=low, high=np.inf),
                           again)
    np.testing.assert_array_equal(out, again)
    with pytest.raises(ValueError, match=r"still outside after 1000 redraws; widen"):
        NativeRNG(seed=5).fill("normal_clipped", dict(mu=0.0, sigma=1.0, low=50.0, high=51.0),
                               np.empty(10, dtype=np.float32))


def test_projection_values_from_a_native_rng_are_drawn_in_place():
    w = RandomDistribution("normal_clipped", mu=0.5, sigma=0.1, low=0.3, high=0.7,
                           rng=sim.NativeRNG(seed=13))
    prj = ours(lambda: sim.AllToAllConnector(), 300, 200, weight=w)
    assert prj._weight.min() >= 0.3 and prj._weight.max() <= 0.7
    assert abs(prj._weight.mean() - 0.5) < 2e-3
    assert abs(prj._weight.std() - 0.0880) < 2e-3  # a normal truncated at 2 sd
