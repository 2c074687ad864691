"""NIR's paper graphs against what was published and against an independent
implementation of NIR's equations."""

from __future__ import annotations

from pathlib import Path

import nir
import numpy as np
import pytest

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


def test_lif_norse_waits_for_delta_synapses():
    with pytest.raises(tn.NIRError, match=r"node '1' \(LIF\).*IF_curr_delta"):
        tn.load(DATA / "lif_norse.nir", dt=0.1)


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
