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
    ("loihi", {"vth_mant": 4000}), ("spinnaker2", {}), ("dynapse", {}),
    ("fpga", {"build": "ecp5-85f"})])
def test_braille_on_every_target_that_holds_it(target, options):
    imp = tn.load(DATA / "braille_noDelay_noBias_subtract.nir", dt=0.1)
    out = run_graph(imp, {"input": braille_input(60)}, target, **options)
    assert out.spikes["lif1.lif"].shape == (60, 40)
    assert out.spikes["lif2"].shape == (60, 7)
    assert out.report  # the compile report


def test_braille_refusals_name_the_limit():
    imp = tn.load(DATA / "braille_noDelay_noBias_subtract.nir", dt=0.1)
    with pytest.raises(Exception, match=r"79 weights up to 4.215.* exceed the largest Loihi "
                       r"weight.*option vth_mant=9417"):  # at Loihi's default voltage scale
        run_graph(imp, {"input": braille_input(10)}, "loihi")
    with pytest.raises(Exception, match=r"2360 synapses.*holds 1024 \(n_synapses\)"):
        run_graph(imp, {"input": braille_input(10)}, "fpga")  # the iCE40 default build
    biased = tn.load(DATA / "braille_noDelay_bias_zero.nir", dt=0.1)
    # a bias per neuron: one core per distinct value, more than the board has left
    with pytest.raises(Exception, match=r"'lif1.lif' has 38 distinct parameter sets "
                                        r"\(i_offset vary.*38 cores, but 15 are left"):
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


def test_lif_norse_euler_scheme_is_norse():
    """Norse integrates NIR's LIF with forward Euler; imported with scheme 'euler' the
    graph reproduces Norse's published voltage to float32 rounding, not just its spikes."""
    norse = _published()["norse"]
    imp = tn.load(DATA / "lif_norse.nir", dt=0.1, scheme="euler")
    out = run_graph(imp, {"input": norse[:, :1].astype(np.int64)}, "reference")
    np.testing.assert_array_equal(out.spikes["1"][:, 0], norse[:, 2].astype(np.int64))
    assert np.abs(out.v["1"][:, 0] - norse[:, 1]).max() < 1e-6


def test_euler_scheme_refuses_a_step_as_long_as_tau():
    with pytest.raises(tn.NIRError, match=r"node '1' \(LIF\) tau\[0\] = 0.0025 s .*--dt"):
        tn.load(DATA / "lif_norse.nir", dt=2.5, scheme="euler")


@pytest.mark.parametrize("name", sorted(graphs.DELTA))
def test_delta_nodes_equal_independent_numpy(name):
    """LIF, LI, IF and I nodes against nir_numpy, feed-forward and
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


def test_input_after_a_spike_is_kept_for_nir_and_dropped_for_if_curr_delta():
    """NIR's equations integrate the input of the step after a spike (the reference does,
    with a current gone within its step); IF_curr_delta, in Brian2's schedule, drops it.
    The same LIF graph, read as NIR's and as written from an IF_curr_delta population,
    runs both ways, each equal to the independent implementation of its rule."""
    g = graphs.lif_li()
    x = (np.random.default_rng(2).random((200, 4)) < 0.3).astype(np.int64)
    nir_run = run_graph(tn.from_graph(g, 0.1), {"input": x}, "reference")
    keep = simulate(g, {"input": x}, 0.1, after_spike="keep")
    drop = simulate(g, {"input": x}, 0.1, after_spike="drop")
    np.testing.assert_array_equal(nir_run.spikes["lif"], keep["lif"][0])
    for node in ("lif", "li"):
        g.nodes[node].metadata = {"spikeport": {"cell_type": "IF_curr_delta"}}
    imp = tn.from_graph(g, 0.1)
    assert imp.network.population("lif").cell_type.value == "IF_curr_delta"
    delta_run = run_graph(imp, {"input": x}, "reference")
    np.testing.assert_array_equal(delta_run.spikes["lif"], drop["lif"][0])
    np.testing.assert_allclose(delta_run.v["lif"], drop["lif"][1], atol=1e-6)
    np.testing.assert_allclose(delta_run.v["li"], drop["li"][1], atol=1e-6)
    assert keep["lif"][0].sum() > drop["lif"][0].sum() + 20  # dense input: it matters
    assert any("discarded by its reset" in n for n in imp.notes())


@pytest.mark.parametrize("target,options", [("loihi", {}), ("spinnaker2", {})])
def test_lif_norse_on_loihi_and_spinnaker2(target, options):
    """lif_norse on the chip models whose arithmetic holds it: each published spike
    within 1 ms (10 steps) of the published time, none extra (quantised weights and
    decays shift the crossings; the published SpiNNaker2 run is exact)."""
    imp = tn.load(DATA / "lif_norse.nir", dt=0.1)
    x = _published()["exact"][:, :1].astype(np.int64)
    out = run_graph(imp, {"input": x}, target, **options)
    steps = np.flatnonzero(out.spikes["1"][:, 0])
    assert steps.size == 4
    assert np.abs(steps - np.array([460, 510, 710, 760])).max() <= 10


def test_lif_norse_runs_on_fpga_within_the_published_bursts():
    """The FPGA core runs the graph's vanishing current as its one-step synapse (tau_syn <
    dt, the exact charge); its shift decays (tau_m rounded to a power of two of steps) and
    integer voltage move the crossings: each input burst still gives spikes, all within
    5 ms of a published spike, and no spike outside the bursts."""
    imp = tn.load(DATA / "lif_norse.nir", dt=0.1)
    x = _published()["exact"][:, :1].astype(np.int64)
    out = run_graph(imp, {"input": x}, "fpga", build="ecp5-85f")
    steps = np.flatnonzero(out.spikes["1"][:, 0])
    published = np.array([460, 510, 710, 760])
    assert ((steps > 400) & (steps < 600)).any() and ((steps > 650) & (steps < 850)).any()
    assert np.abs(steps[:, None] - published[None, :]).min(axis=1).max() <= 50


def test_output_nodes_read_out_what_reaches_them():
    """An Output node receives its path's linear map of its sources' output: spikes of a
    spiking node, v of a non-spiking one (NIR's LI outputs its voltage), plus biases."""
    g = graphs.lif_readout()
    x = (np.random.default_rng(5).random((150, 4)) < 0.3).astype(np.int64)
    got = run_graph(tn.from_graph(g, 0.1), {"input": x}, "reference")
    expected = simulate(g, {"input": x}, 0.1)
    lif_spikes, li_v = expected["lif"][0], expected["li"][1]
    assert lif_spikes.sum() > 20
    np.testing.assert_allclose(got.outputs["spikes_out"],
                               lif_spikes @ g.nodes["ro"].weight.T + g.nodes["ro"].bias,
                               atol=1e-12)
    np.testing.assert_allclose(got.outputs["v_out"], li_v, atol=1e-6)
