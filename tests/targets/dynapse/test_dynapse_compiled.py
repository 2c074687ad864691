"""DYNAP-SE's compiled loop against its step-by-step path: the same spikes, samples,
counters, routing statistics and kernel state, bit for bit, on networks that exercise the
DPI's substeps and circuits (two receptors on one circuit, three circuits, adaptation, the
feedback switched off) and the routing model (queues spilling into later steps, spikes
dropped at the FIFO bound), with runs split anywhere, weights changed and a reset."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.sim.test_fast_targets import assert_same_results
from toolchain.ir import (
    CellType,
    Network,
    PoissonSource,
    Population,
    PostSynapticResponse,
    Projection,
    Recording,
)
from toolchain.targets import get_target
from toolchain.targets.dynapse.numerics.exp import feedback_exp
from toolchain.targets.dynapse.spec import DynapseSpec

CELL = {"cm": 0.2, "tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 8.0, "v_rest": -49.0,
        "v_reset": -60.0, "v_thresh": -50.0, "tau_refrac": 2.0, "i_offset": 0.0}


def ei_network(n: int = 120, seed: int = 3) -> Network:
    """Recurrent excitatory and inhibitory IF_curr_exp cells, above threshold at rest,
    with a Poisson source into both receptors of the excitatory cells (two projections
    onto one circuit's ring each), v and both currents recorded."""
    rng = np.random.default_rng(seed)
    ne = 3 * n // 4
    sizes = {"exc": ne, "inh": n - ne}
    pops = tuple(Population(label, "IF_curr_exp", size, CELL,
                            {"v": rng.uniform(-60.0, -50.0, size)})
                 for label, size in sizes.items())
    projs = []
    for pre, receptor, w in (("exc", "excitatory", 0.02), ("inh", "inhibitory", -0.08)):
        for post in sizes:
            i, j = np.nonzero(rng.random((sizes[pre], sizes[post])) < 0.1)
            projs.append(Projection(f"{pre}-{post}", pre, post, i, j, np.full(i.size, w),
                                    np.full(i.size, 0.1), receptor))
    src = PoissonSource("noise", 30, rate=np.full(30, 60.0), start=np.zeros(30),
                        duration=np.full(30, np.inf), seed=9)
    for receptor, w in (("excitatory", 0.05), ("inhibitory", -0.05)):
        i, j = np.nonzero(rng.random((30, ne)) < 0.2)
        projs.append(Projection(f"noise-exc-{receptor}", "noise", "exc", i, j,
                                np.full(i.size, w), np.full(i.size, 0.1), receptor))
    recs = (Recording("exc", "spikes", np.arange(0, ne, 2)),
            Recording("inh", "spikes", np.arange(n - ne)),
            Recording("noise", "spikes", np.arange(30)),
            Recording("exc", "v", np.arange(0, ne, 7)),
            Recording("inh", "isyn_exc", np.arange(5), sampling_interval=0.5),
            Recording("exc", "isyn_inh", [1, 2, 3]))
    return Network(dt=0.1, populations=pops, sources=(src,), projections=tuple(projs),
                   recordings=recs)


def simulators(net: Network, monkeypatch: pytest.MonkeyPatch, **options: object):
    target = get_target("dynapse", **options)
    art = target.compile(net)
    fast = target.simulator(art)
    monkeypatch.setenv("SPIKEPORT_COMPILED", "0")
    slow = target.simulator(art)
    monkeypatch.delenv("SPIKEPORT_COMPILED")
    assert fast.engine.why_not_compiled is None, fast.engine.why_not_compiled
    assert slow.engine.why_not_compiled == "not asked for"
    return fast, slow


def assert_same(fast, slow) -> None:
    assert_same_results(fast.result(), slow.result())
    assert fast.interconnect.stats == slow.interconnect.stats
    np.testing.assert_array_equal(fast.interconnect._busy, slow.interconnect._busy)
    for label, a in fast.engine.kernels.items():
        b = slow.engine.kernels[label]
        for name in ("i_mem", "i_syn", "i_ahp", "_refrac_left", "_pending",
                     "spike_offsets"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name),
                                          err_msg=f"{label}.{name}")


@pytest.mark.parametrize("options", [{}, {"delta_t": 0.0, "mismatch": 0.0}],
                         ids=["mismatch-feedback", "plain"])
def test_dynapse_compiled_and_stepped_agree(monkeypatch, options) -> None:
    fast, slow = simulators(ei_network(), monkeypatch, **options)
    for sim in (fast, slow):
        for t in (0.3, 37.7, 120.0):  # runs split at arbitrary steps
            sim.run_until(t)
        sim.set_weights("exc-inh", sim.weights("exc-inh") * 1.5)
        sim.run_until(200.0)
    res = fast.result()
    assert res.spikes["exc"].count > 80 and res.spikes["inh"].count > 20
    assert_same(fast, slow)
    for sim in (fast, slow):
        sim.reset()
        sim.run_until(50.0)
    assert_same(fast, slow)


def test_queues_spilling_and_dropping_agree(monkeypatch) -> None:
    """A 0.5 ms handshake: bursts of a core's spikes queue into later steps (shifted), and
    beyond the FIFO bound some are lost (dropped), on both paths alike."""
    spec = DynapseSpec(arbitration_cycle=500_000.0, host_input_latency=150_000.0)
    fast, slow = simulators(ei_network(), monkeypatch, spec=spec)
    for sim in (fast, slow):
        sim.run_until(33.3)
        sim.run_until(150.0)
    res = fast.result()
    assert res.counters["spikes_shifted"] > 100
    assert res.counters["spikes_dropped"] > 10
    assert_same(fast, slow)


def test_the_numpy_path_continues_what_the_compiled_loop_left(monkeypatch) -> None:
    spec = DynapseSpec(arbitration_cycle=20_000.0)
    mixed, plain = simulators(ei_network(), monkeypatch, spec=spec)
    mixed.run_until(40.0)
    mixed.engine._fast = None  # spikes in flight, pending input, queues: all carried over
    for sim in (mixed, plain):
        sim.run_until(90.0)
    assert_same(mixed, plain)


def test_adaptation_and_three_circuits_agree(monkeypatch) -> None:
    """AdExp cells (the AHP circuit, w recorded) and a LIF population with fast and slow
    excitatory and subtractive inhibitory circuits."""
    n_in = 16
    adexp = Population("a", CellType.ADEXP, 5, parameters={"a": 0.0, "b": 0.05,
                                                            "tau_w": 100.0,
                                                            "i_offset": 0.8})
    lif = Population("n", CellType.LIF, 6, parameters={"tau_refrac": 2.0}, receptors=(
        PostSynapticResponse("AMPA", "curr_exp", {"tau_syn": 2.0}),
        PostSynapticResponse("NMDA", "curr_exp", {"tau_syn": 50.0}),
        PostSynapticResponse("GABA", "curr_exp", {"tau_syn": 8.0})))
    src = PoissonSource("in", n_in, rate=np.full(n_in, 40.0), start=np.zeros(n_in),
                        duration=np.full(n_in, np.inf), seed=5)
    pre, post = np.meshgrid(np.arange(n_in), np.arange(6), indexing="ij")
    projs = tuple(Projection(f"in->{r}", "in", "n", pre.ravel(), post.ravel(),
                             np.full(pre.size, w), np.full(pre.size, 0.1), receptor=r)
                  for r, w in (("AMPA", 1.0), ("NMDA", 0.1), ("GABA", -0.3)))
    recs = (Recording("a", "spikes", np.arange(5)), Recording("a", "w", np.arange(5)),
            Recording("a", "v", np.arange(5)), Recording("n", "spikes", np.arange(6)),
            Recording("n", "v", np.arange(6)))
    net = Network(dt=0.1, populations=(adexp, lif), sources=(src,), projections=projs,
                  recordings=recs)
    fast, slow = simulators(net, monkeypatch)
    assert {len(k._rows) for k in fast.engine.kernels.values()} == {0, 3}
    assert fast.engine.kernels["a"]._ahp_on
    for sim in (fast, slow):
        sim.run_until(77.7)
        sim.run_until(300.0)
    res = fast.result()
    assert res.spikes["a"].count > 10 and res.spikes["n"].count > 10
    assert res.signals["a", "w"].values[-1].max() > 0.1  # adapted
    assert_same(fast, slow)


def test_the_feedback_exponential_is_within_one_ulp_of_libm() -> None:
    x = np.random.default_rng(1).uniform(-700.0, 50.0, 200_000)
    x[:5] = (-700.0, -1.0, 0.0, 1e-300, 50.0)
    got = feedback_exp(x)
    want = np.array([math.exp(v) for v in x])
    assert np.max(np.abs(got - want) / np.spacing(want)) <= 1.0
    assert got[2] == 1.0
    # one value as each element of an array (the numpy path's arrays, a loop's scalars)
    assert [feedback_exp(np.float64(v)) for v in x[:100]] == got[:100].tolist()


def test_dpi_kernels_on_the_ideal_interconnect_agree(monkeypatch) -> None:
    """The DPI kernels without the routing model (every spike on time) run compiled too."""
    from tests.sim.test_fast import assert_same as assert_same_engines
    from toolchain.sim.engine import Engine

    sim, _ = simulators(ei_network(), monkeypatch)
    fast, slow = (Engine(sim._on_chip, numerics=sim.engine.numerics, target="dynapse",
                         compiled=c) for c in (True, False))
    assert fast.why_not_compiled is None
    for e in (fast, slow):
        e.run_until(25.5)
        e.run_until(80.0)
    assert fast.result().spikes["exc"].count > 20
    assert "spikes_shifted" not in fast.result().counters
    assert_same_engines(fast, slow)
