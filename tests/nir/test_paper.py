"""NIR's paper graphs against what was published and against an independent
implementation of NIR's equations."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest

from tests.nir import graphs
from tests.nir.nir_numpy import simulate
from toolchain import nir as tn
from toolchain.nir.run import run_graph

DATA = Path(__file__).parent / "data"
BRAILLE = ["braille_noDelay_bias_zero", "braille_noDelay_noBias_subtract"]


def braille_input(steps: int = 120, seed: int = 1) -> np.ndarray:
    return (np.random.default_rng(seed).random((steps, 12)) < 0.15).astype(np.int64)


@pytest.mark.parametrize("name", BRAILLE)
def test_braille_reference_equals_independent_numpy(name):
    path = DATA / f"{name}.nir"
    x = braille_input()
    expected = simulate(nir.read(str(path)), {"input": x}, 0.1)
    got = run_graph(tn.load(path, dt=0.1), {"input": x}, "reference")
    for node, (spikes, v) in expected.items():
        assert spikes.sum() > 5, node  # the input drives the network
        np.testing.assert_array_equal(got.spikes[node], spikes, err_msg=node)
        np.testing.assert_allclose(got.v[node], v, atol=1e-4, err_msg=node)


def test_braille_loop_is_one_step_slower_than_nir_frameworks():
    """The documented difference: with the loop lag of NIR's discrete-time frameworks
    (1 step) the independent implementation disagrees with our reference."""
    path = DATA / "braille_noDelay_noBias_subtract.nir"
    x = braille_input()
    got = run_graph(tn.load(path, dt=0.1), {"input": x}, "reference")
    framework = simulate(nir.read(str(path)), {"input": x}, 0.1, loop_lag=1)
    assert not np.array_equal(got.spikes["lif1.lif"], framework["lif1.lif"][0])


@pytest.mark.parametrize("target,options", [
    ("loihi", {}), ("spinnaker2", {}), ("dynapse", {}), ("fpga", {"build": "ecp5-85f"})])
def test_braille_on_every_target_that_holds_it(target, options):
    imp = tn.load(DATA / "braille_noDelay_noBias_subtract.nir", dt=0.1)
    out = run_graph(imp, {"input": braille_input(60)}, target, **options)
    assert out.spikes["lif1.lif"].shape == (60, 40)
    assert out.spikes["lif2"].shape == (60, 7)
    assert out.report  # the compile report


def test_braille_refusals_name_the_limit():
    imp = tn.load(DATA / "braille_noDelay_noBias_subtract.nir", dt=0.1)
    with pytest.raises(Exception, match=r"2360 synapses.*holds 1024 \(n_synapses\)"):
        run_graph(imp, {"input": braille_input(10)}, "fpga")  # the iCE40 default build
    biased = tn.load(DATA / "braille_noDelay_bias_zero.nir", dt=0.1)
    with pytest.raises(Exception, match=r"'lif1.lif' parameter i_offset varies"):
        run_graph(biased, {"input": braille_input(10)}, "dynapse")


PUBLISHED = {"exact": "lif_exact.csv", "norse": "lif_norse.csv",
             "spinnaker2": "lif_spinnaker2.csv", "loihi": "lif_lava_loihi_fixed.csv"}


def _published() -> dict[str, np.ndarray]:
    return {k: np.loadtxt(DATA / f, delimiter=",") for k, f in PUBLISHED.items()}


def test_nir_run_reproduces_lif_norse_published_spikes(tmp_path):
    """NIR's paper experiment 1: lif_norse.nir with the published input, through
    `spikeport nir run` on the reference: the spike steps of the exact solution, Norse and
    SpiNNaker2 (460, 510, 710, 760; Loihi's fixed-point run is one step later), and the
    voltage of the exact solution to 1e-8 before the first spike."""
    from click.testing import CliRunner

    from toolchain.cli import main

    published = _published()
    x = published["exact"][:, 0].astype(np.int64)
    for name, trace in published.items():  # every platform was given the same input
        np.testing.assert_array_equal(trace[:, 0], x, err_msg=name)
    np.savez(tmp_path / "in.npz", input=x[:, None])
    res = CliRunner().invoke(main, ["nir", "run", str(DATA / "lif_norse.nir"), "--input",
                                    str(tmp_path / "in.npz"), "--dt", "0.1",
                                    "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    with np.load(tmp_path / "out" / "output.npz") as out:
        spikes, v = out["1/spikes"][:, 0], out["1/v"][:, 0]
    assert spikes.dtype.kind == "i" and spikes.shape == (1000,)
    steps = np.flatnonzero(spikes)
    assert steps.tolist() == [460, 510, 710, 760]
    for name in ("exact", "norse", "spinnaker2"):
        np.testing.assert_array_equal(steps, np.flatnonzero(published[name][:, 2]),
                                      err_msg=name)
    np.testing.assert_array_equal(steps + 1, np.flatnonzero(published["loihi"][:, 2]))
    first = steps[0]
    assert np.abs(v[:first] - published["exact"][:first, 1]).max() < 1e-8
    # Norse integrates with forward Euler: close, not equal
    assert np.abs(v - published["norse"][:, 1]).max() < 2e-3
    assert "1: 4 spikes in 1000 steps" in res.output


@pytest.mark.parametrize("name", sorted(graphs.DELTA))
def test_delta_nodes_equal_independent_numpy(name):
    """LIF, LI, IF and I nodes (IF_curr_delta) against nir_numpy, feed-forward and
    recurrent, dense input: the same spikes, v to 1e-4 (IF/I: float32 weights summed
    without leak)."""
    g = graphs.DELTA[name]()
    n_in = int(np.prod(g.nodes["input"].input_type["input"]))
    x = (np.random.default_rng(2).random((200, n_in)) < 0.3).astype(np.int64)
    got = run_graph(tn.from_graph(g, 0.1), {"input": x}, "reference")
    expected = simulate(g, {"input": x}, 0.1)
    fired = 0
    for node, (spikes, v) in expected.items():
        np.testing.assert_array_equal(got.spikes[node], spikes, err_msg=node)
        np.testing.assert_allclose(got.v[node], v, atol=1e-4, err_msg=node)
        fired += spikes.sum()
    assert fired > 20  # the input drives the network


def test_delta_input_after_a_spike_is_dropped():
    """The documented difference (docs/nir.md, "Time"): an input in the step after a
    neuron fired is discarded, as in Brian2's schedule and snnTorch's reset to zero;
    NIR's continuous equations (and Norse) keep it, and fire more under dense input."""
    g = graphs.lif_li()
    x = (np.random.default_rng(2).random((200, 4)) < 0.3).astype(np.int64)
    got = run_graph(tn.from_graph(g, 0.1), {"input": x}, "reference")
    keep = simulate(g, {"input": x}, 0.1, after_spike="keep")
    assert keep["lif"][0].sum() > got.spikes["lif"].sum()


def test_lif_discretisation_reproduces_the_published_exact_solution():
    """docs/nir.md's rule for LIF (impulse r x (e^(dt/tau) - 1) at the step's start, exact
    decay, threshold at the step's end, reset to v_reset) against lif_exact.csv and
    lif_norse.csv: same spike steps; before the first spike the voltage of the exact
    solution to 1e-8 (after it, lif_exact resets by subtraction, NIR to v_reset)."""
    graph = nir.read(str(DATA / "lif_norse.nir"))
    lif, affine = graph.nodes["1"], graph.nodes["0"]
    exact = np.loadtxt(DATA / "lif_exact.csv", delimiter=",")
    norse = np.loadtxt(DATA / "lif_norse.csv", delimiter=",")
    dt, tau = 1e-4, float(lif.tau[0])
    x = exact[:, 0] * float(affine.weight[0, 0]) + float(affine.bias[0])
    v, trace, spikes = float(lif.v_leak[0]), [], []
    for t in range(x.size):
        v = lif.v_leak[0] + (v - lif.v_leak[0] + lif.r[0] * x[t] * np.expm1(dt / tau)) \
            * np.exp(-dt / tau)
        fired = v > lif.v_threshold[0]
        v = float(lif.v_reset[0]) if fired else float(v)
        trace.append(v)
        spikes.append(fired)
    steps = np.flatnonzero(spikes)
    np.testing.assert_array_equal(steps, np.flatnonzero(exact[:, 2]))
    np.testing.assert_array_equal(steps, np.flatnonzero(norse[:, 2]))
    assert steps.tolist() == [460, 510, 710, 760]
    first = steps[0]
    assert np.abs(np.asarray(trace[:first]) - exact[:first, 1]).max() < 1e-8


@pytest.mark.parametrize("target,options", [
    ("loihi", {}), ("spinnaker2", {}), ("dynapse", {}), ("fpga", {"build": "ecp5-85f"})])
def test_lif_norse_refused_by_name_on_hardware(target, options):
    """No chip model runs IF_curr_delta yet: each says so, naming the node's population."""
    imp = tn.load(DATA / "lif_norse.nir", dt=0.1)
    with pytest.raises(ValueError, match=r"Population '1'.*IF_curr_delta"):
        run_graph(imp, {"input": np.zeros((20, 1), np.int64)}, target, **options)
