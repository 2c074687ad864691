"""CSR synapses, integer delays, delay ring buffers, the interconnect plug-in and counters."""

from __future__ import annotations

import numpy as np
import pytest

from tests.sim.helpers import DT
from toolchain.ir import ArraySource, Network, Population, Projection, Recording
from toolchain.sim.engine import Engine, EngineError
from toolchain.sim.interconnect import DROPPED, Interconnect
from toolchain.sim.numerics import ReferenceNumerics
from toolchain.sim.synapses import DelayRing, FloatWeights, SynapseMatrix, pre_positions
from toolchain.targets import Simulator, get_target


def random_projection(n_pre: int = 30, n_post: int = 20, p: float = 0.3,
                      seed: int = 0) -> Projection:
    rng = np.random.default_rng(seed)
    pre, post = np.nonzero(rng.random((n_pre, n_post)) < p)
    order = rng.permutation(pre.size)  # the IR does not promise any order
    return Projection("proj", "src", "n", pre[order], post[order],
                      rng.uniform(0.1, 1.0, pre.size), rng.uniform(0.1, 3.0, pre.size))


def test_csr_rows_and_columns_match_a_brute_force_search() -> None:
    proj = random_projection()
    m = SynapseMatrix(proj, 30, 20, DT)
    pre_sorted = proj.pre_index[m.ir_order]
    spikes = np.array([3, 7, 3, 29, 0])  # repeats: a source can fire twice per step
    syn = m.rows(spikes)
    expected = np.concatenate([np.flatnonzero(pre_sorted == i) for i in spikes])
    np.testing.assert_array_equal(syn, expected)
    np.testing.assert_array_equal(m.post[syn], proj.post_index[m.ir_order][expected])
    assert m.rows(np.zeros(0, dtype=int)).size == 0  # e.g. every spike dropped on the way
    into = m.into(np.array([4, 11]))
    assert sorted(into.tolist()) == sorted(np.flatnonzero(np.isin(m.post, [4, 11])).tolist())
    np.testing.assert_array_equal(m.to_ir_order(m.from_ir_order(proj.weight)), proj.weight)
    # delays become whole steps, to the nearest one as pyNN.brian2 rounds them
    np.testing.assert_array_equal(m.delay, np.rint(proj.delay[m.ir_order] / DT))


def test_delay_ring_wraps_around() -> None:
    ring = DelayRing(size=4, slots=3, dtype=np.dtype(np.float64))
    arrived = {}
    for k in range(12):
        ring.add(k, np.array([1, 2]), np.array([0, 1]), np.array([1.0, 10.0]))
        row = ring.pop(k)
        arrived[k] = None if row is None else row.copy()
        ring.clear(k)
    assert arrived[0] is None
    np.testing.assert_array_equal(arrived[1], [1.0, 0, 0, 0])
    np.testing.assert_array_equal(arrived[11], [1.0, 10.0, 0, 0])


def delay_network(delays: list[float]) -> Network:
    n = len(delays)
    src = ArraySource.from_lists("src", [[2.0]])
    pop = Population("n", "IF_curr_exp", n, {"v_thresh": 100.0})
    proj = Projection("proj", "src", "n", np.zeros(n, int), np.arange(n), np.ones(n),
                      delays)
    return Network(populations=(pop,), sources=(src,), projections=(proj,),
                   recordings=(Recording("n", "isyn_exc", np.arange(n)),))


def test_each_synapse_delivers_after_its_own_delay() -> None:
    delays = [0.1, 0.2, 1.0, 1.04, 7.3, 25.0]
    sim = Engine(delay_network(delays))
    sim.run_until(40.0)
    rec = sim.result().signals[("n", "isyn_exc")]
    first = np.array([rec.times[np.argmax(rec.values[:, j] > 0)] for j in range(len(delays))])
    # spike binned at step 20, waits round(d/dt) steps, lands at the end of that step
    expected = (20 + np.rint(np.array(delays) / DT) + 1) * DT
    np.testing.assert_allclose(first, expected, atol=1e-9)


class LateForOddNeurons(Interconnect):
    """A deterministic stand-in for a target's timing model: spikes of odd pre neurons
    arrive two steps late and those of neuron 0 are lost."""

    max_extra_delay = 2

    def route(self, step: int, projection: str, pre: np.ndarray) -> np.ndarray:
        extra = np.where(pre % 2 == 1, 2, 0)
        return np.where(pre == 0, DROPPED, extra)


def fan_network() -> Network:
    src = ArraySource.from_lists("src", [[1.0], [1.0], [1.0], [1.0]])
    pop = Population("n", "IF_curr_exp", 4, {"v_thresh": 100.0})
    proj = Projection("proj", "src", "n", np.arange(4), np.arange(4), np.ones(4),
                      np.full(4, 0.5))
    return Network(populations=(pop,), sources=(src,), projections=(proj,),
                   recordings=(Recording("n", "isyn_exc", np.arange(4)),))


def test_interconnect_shifts_and_drops_spikes_and_counts_them() -> None:
    sim = Engine(fan_network(), interconnect=LateForOddNeurons())
    sim.run_until(5.0)
    res = sim.result()
    rec = res.signals[("n", "isyn_exc")]
    arrived = [rec.times[np.argmax(rec.values[:, j] > 0)] if rec.values[:, j].any() else None
               for j in range(4)]
    on_time = (10 + 5 + 1) * DT
    assert arrived[0] is None
    assert arrived[2] == pytest.approx(on_time)
    assert arrived[1] == pytest.approx(on_time + 2 * DT)
    assert arrived[3] == pytest.approx(on_time + 2 * DT)
    assert res.counters["spikes_dropped"] == 1 and res.counters["spikes_shifted"] == 2
    assert res.counters["synaptic_events/proj"] == 3


def test_interconnect_beyond_its_declared_range_is_an_error() -> None:
    class TooLate(LateForOddNeurons):
        max_extra_delay = 1

    sim = Engine(fan_network(), interconnect=TooLate())
    with pytest.raises(EngineError, match=r"TooLate.route for projection 'proj' returned extra "
                                          r"delays outside \[-1, 1\] \(max_extra_delay\)"):
        sim.run_until(5.0)


def test_counters_follow_the_spikes() -> None:
    rng = np.random.default_rng(2)
    times = [np.sort(rng.uniform(0, 50, 8)).round(1) for _ in range(5)]
    src = ArraySource.from_lists("src", times)
    pop = Population("n", "IF_curr_exp", 6, {"v_thresh": 100.0})
    pre, post = np.nonzero(rng.random((5, 6)) < 0.5)
    proj = Projection("proj", "src", "n", pre, post, np.ones(pre.size), np.ones(pre.size))
    net = Network(populations=(pop,), sources=(src,), projections=(proj,))
    sim = Engine(net)
    sim.run_until(60.0)
    res = sim.result()
    out_degree = np.bincount(pre, minlength=5)
    expected = sum(out_degree[i] * len(t) for i, t in enumerate(times))
    assert res.counters["synaptic_events/proj"] == expected
    assert res.per_step["synaptic_events"].sum() == expected
    assert res.counters["spikes/src"] == sum(len(t) for t in times)
    binned = np.bincount(np.rint(np.concatenate(times) / DT).astype(int), minlength=600)
    np.testing.assert_array_equal(res.per_step["spikes/src"], binned[:600])
    assert res.per_step["spikes/n"].sum() == 0
    assert res.counters["neuron_updates/n"] == 6 * 600
    assert res.per_step["spikes"].size == 600


def test_reference_target_satisfies_the_simulator_protocol() -> None:
    proj = random_projection()
    src = ArraySource.from_lists("src", [[1.0]] * 30)
    net = Network(populations=(Population("n", "IF_curr_exp", 20),), sources=(src,),
                  projections=(proj,))
    target = get_target("reference")
    sim = target.simulator(target.compile(net))
    assert isinstance(sim, Simulator)
    np.testing.assert_allclose(sim.weights("proj"), proj.weight, rtol=1e-7)
    new = np.linspace(0, 1, proj.size)
    sim.set_weights("proj", new)
    np.testing.assert_array_equal(sim.weights("proj"), new)
    with pytest.raises(EngineError, match=r"Projection 'proj': 3 weights given for "
                                          rf"{proj.size} synapses; give one weight per synapse"):
        sim.set_weights("proj", [1.0, 2.0, 3.0])
    with pytest.raises(EngineError, match=r"no projection 'nope' \(projections: proj\)"):
        sim.weights("nope")
    sim.run_until(3.0)
    with pytest.raises(EngineError, match=r"cannot run until t = 1 ms: the simulation is "
                                          r"already at t = 3 ms; time only moves forward"):
        sim.run_until(1.0)
    sim.reset()
    assert sim.t == 0.0
    np.testing.assert_array_equal(sim.weights("proj"), new)  # reset keeps weights
    with pytest.raises(TypeError, match="compiles a toolchain.ir.Network, got str"):
        target.compile("network")
    with pytest.raises(ValueError, match="target 'reference' option cond_scheme='rk4' is not "
                                         "allowed; cond_scheme takes one of: euler, "
                                         "mean-conductance"):
        get_target("reference", cond_scheme="rk4")


def test_pre_positions_are_those_of_the_stable_sort_by_pre_neuron() -> None:
    rng = np.random.default_rng(4)
    for n_pre in (1, 300, 3_000_000):
        pre = rng.integers(0, n_pre, 50_000).astype(np.int32)
        indptr, dest = pre_positions(pre, n_pre)
        order = np.argsort(pre, kind="stable")
        np.testing.assert_array_equal(dest[order], np.arange(pre.size))
        np.testing.assert_array_equal(indptr, np.concatenate(
            [[0], np.cumsum(np.bincount(pre, minlength=n_pre))]))


def test_delays_are_int16_steps_where_they_fit_and_runs_outlast_them() -> None:
    assert SynapseMatrix(random_projection(), 30, 20, DT).delay.dtype == np.int16
    long = Projection("long", "src", "n", [0, 1], [0, 1], [1.0, 1.0], [1.0, 4000.0])
    m = SynapseMatrix(long, 2, 2, DT)
    assert m.delay.dtype == np.int32 and m.delay.tolist() == [10, 40000]
    # a spike sent after step 2^15 (int16 delays must not wrap the arrival step)
    net = delay_network([0.5, 2.0])
    late = ArraySource.from_lists("src", [[3300.0]])
    net = Network(populations=net.populations, sources=(late,), projections=net.projections,
                  recordings=net.recordings)
    for compiled in (False, True):
        sim = Engine(net, compiled=compiled)
        sim.run_until(3310.0)
        rec = sim.result().signals[("n", "isyn_exc")]
        first = [rec.times[np.argmax(rec.values[:, j] > 0)] for j in range(2)]
        np.testing.assert_allclose(first, (33000 + np.array([5, 20]) + 1) * DT)


def test_the_permutation_from_ir_order_is_recomputed_when_forgotten() -> None:
    proj = random_projection()
    m = SynapseMatrix(proj, 30, 20, DT)
    order = m.ir_order.copy()
    m.forget_order()
    np.testing.assert_array_equal(m.ir_order, order)
    np.testing.assert_array_equal(m.to_ir_order(m.from_ir_order(proj.weight)), proj.weight)
    ordered = Projection("sorted", "src", "n", [0, 0, 2], [1, 0, 1], [1.0, 2.0, 3.0],
                         [1.0, 1.0, 1.0])
    m = SynapseMatrix(ordered, 3, 2, DT)
    assert m.post is ordered.post_index  # pre order already: the IR's own array
    np.testing.assert_array_equal(m.ir_order, [0, 1, 2])


class Float64Weights(ReferenceNumerics):
    def weights(self, projection: Projection, post: Population) -> FloatWeights:
        return FloatWeights(np.float64)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
def test_float32_static_weights_give_the_float64_weights_run(compiled: bool) -> None:
    """The reference keeps static weights in float32, as the IR does: the float64 sums
    they enter are the ones float64 storage gives, bit for bit."""
    from tests.sim.test_fast import assert_same, recurrent

    net = recurrent(spread=True)
    narrow = Engine(net, compiled=compiled)
    wide = Engine(net, numerics=Float64Weights(), compiled=compiled)
    assert narrow.projections["exc-exc"].weights.dtype == np.float32
    assert wide.projections["exc-exc"].weights.dtype == np.float64
    for sim in (narrow, wide):
        sim.run_until(150.0)
    assert narrow.result().spikes["exc"].count > 50
    assert_same(narrow, wide)
    # a weight set at run time that float32 would round is kept in float64
    new = np.linspace(0.0, 0.03, net.projections[0].size)
    narrow.set_weights("exc-exc", new)
    np.testing.assert_array_equal(narrow.weights("exc-exc"), new)
    assert narrow.projections["exc-exc"].weights.dtype == np.float64


def test_compiled_delay_steps_round_as_the_clock_does() -> None:
    """The engine's one-pass conversion (and the compiler's summary) give what
    clock.nearest_step and the numpy formula give, halves included (0.05 ms of a 0.1 ms
    step is 0.5 steps in float64 only for some of them)."""
    from toolchain.compiler.describe import DELAY_RTOL
    from toolchain.sim.binning import delay_steps_into, delay_summary
    from toolchain.sim.clock import nearest_step

    rng = np.random.default_rng(3)
    delay = np.concatenate([np.arange(0.05, 30.0, 0.05), rng.uniform(0.01, 80.0, 20_000),
                            rng.normal(1.5, 0.75, 20_000).clip(0.1)]).astype(np.float32)
    for dtype in (np.int16, np.int32):
        out = np.empty(delay.size, dtype=dtype)
        delay_steps_into(delay, DT, np.zeros(0, np.int32), out)
        np.testing.assert_array_equal(out, nearest_step(delay, DT))
        dest = rng.permutation(delay.size).astype(np.int32)
        scattered = np.empty(delay.size, dtype=dtype)
        delay_steps_into(delay, DT, dest, scattered)
        np.testing.assert_array_equal(scattered[dest], out)
    d = delay.astype(np.float64)
    steps = np.maximum(np.rint(d / DT), 1)
    error = np.abs(steps * DT - d)
    lo, hi, rounded, worst = delay_summary(delay, DT, DELAY_RTOL)
    assert (lo, hi) == (steps.min(), steps.max())
    assert rounded == np.count_nonzero(error > np.maximum(d, DT) * DELAY_RTOL)
    assert worst == error.max()


def test_static_float32_weights_are_the_irs_own_array() -> None:
    """In pre order, a static projection's rows are the IR's arrays: post indices and
    weights shared, not copied (0.3 billion synapses of each in a microcircuit)."""
    ordered = Projection("sorted", "src", "n", [0, 0, 2], [1, 0, 1], [0.1, 0.2, 0.3],
                         [1.0, 1.0, 1.0])
    net = Network(populations=(Population("n", "IF_curr_exp", 2),),
                  sources=(ArraySource.from_lists("src", [[1.0], [], [2.0]]),),
                  projections=(ordered,))
    sim = Engine(net)
    p = sim.projections["sorted"]
    assert p.matrix.post is ordered.post_index
    assert p.weights is ordered.weight and p.drive is ordered.weight
    # a weight set at run time is the engine's own array again; the IR keeps its own
    sim.set_weights("sorted", [0.5, 0.5, 0.5])
    assert p.weights is not ordered.weight
    np.testing.assert_array_equal(ordered.weight, np.float32([0.1, 0.2, 0.3]))
