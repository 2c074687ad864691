"""spikeport nir run / info / import / export, and NIR graphs in compile and portability."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import numpy as np
import pytest
from click.testing import CliRunner

from tests.nir.nir_numpy import simulate
from toolchain.cli import main

DATA = Path(__file__).parent / "data"
GRAPH = str(DATA / "braille_noDelay_noBias_subtract.nir")


@pytest.fixture
def counts() -> np.ndarray:
    return (np.random.default_rng(4).random((80, 12)) < 0.15).astype(np.int64)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_nir_run_writes_graph_traces(tmp_path, counts):
    np.savez(tmp_path / "in.npz", input=counts)
    res = invoke("nir", "run", GRAPH, "--input", str(tmp_path / "in.npz"), "--dt", "0.1",
                 "--out", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    with np.load(tmp_path / "out" / "output.npz") as out:
        assert sorted(out.files) == ["lif1.lif/spikes", "lif1.lif/v", "lif2/spikes", "lif2/v",
                                     "output/output"]
        np.testing.assert_array_equal(out["output/output"], out["lif2/spikes"])
        expected = simulate(nir.read(GRAPH), {"input": counts}, 0.1)
        for node, (spikes, v) in expected.items():
            assert out[f"{node}/spikes"].dtype.kind == "i"
            np.testing.assert_array_equal(out[f"{node}/spikes"], spikes)
            np.testing.assert_allclose(out[f"{node}/v"], v, atol=1e-4)
    summary = json.loads((tmp_path / "out" / "run.json").read_text())
    assert summary["offsets_steps"] == {"lif1.lif": 2, "lif2": 4}
    assert "closes a loop" in res.output


def test_nir_run_takes_nirdata_and_target_options(tmp_path, counts):
    data = nir.NIRGraphData(nodes={"input": nir.NIRNodeData(observables={
        "spikes": nir.TimeGriddedData(counts[None].astype(bool), dt=1e-4)})})
    nir.write_data(str(tmp_path / "in.h5"), data)
    res = invoke("nir", "run", GRAPH, "--input", str(tmp_path / "in.h5"), "--target", "fpga",
                 "-O", "build=ecp5-85f", "--out", str(tmp_path / "out"))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "report.txt").read_text()
    with np.load(tmp_path / "out" / "output.npz") as out:
        assert out["lif2/spikes"].shape == (80, 7)


@pytest.mark.parametrize("arrays,message", [
    ({"inp": np.zeros((5, 12))}, "no array for Input node(s) input"),
    ({"input": np.zeros((5, 11))}, "expected (steps, 12)"),
    ({"input": -np.ones((5, 12))}, "non-negative integers"),
])
def test_nir_run_bad_input_is_named(tmp_path, arrays, message):
    np.savez(tmp_path / "in.npz", **arrays)
    res = CliRunner().invoke(main, ["nir", "run", GRAPH, "--input", str(tmp_path / "in.npz"),
                                    "--dt", "0.1", "--out", str(tmp_path / "o")])
    assert res.exit_code == 1 and message in res.output
    assert "Traceback" not in res.output


def test_nir_run_refusal_names_the_limit(tmp_path, counts):
    np.savez(tmp_path / "in.npz", input=counts)
    res = CliRunner().invoke(main, ["nir", "run", GRAPH, "--input", str(tmp_path / "in.npz"),
                                    "--dt", "0.1", "--target", "fpga", "--out", str(tmp_path)])
    assert res.exit_code == 1 and "holds 1024 (n_synapses)" in res.output


def test_nir_info_import_export(tmp_path):
    res = invoke("nir", "info", GRAPH, "--dt", "0.1")
    assert "lif1.lif" in res.output and "CubaLIF -> IF_curr_exp x40" in res.output
    assert invoke("nir", "import", GRAPH, "--dt", "0.1", "--out",
                  str(tmp_path / "n.spnet")).exit_code == 0
    assert invoke("nir", "export", str(tmp_path / "n.spnet"), "--out",
                  str(tmp_path / "n.nir")).exit_code == 0
    assert "lif2" in nir.read(str(tmp_path / "n.nir")).nodes


def test_compile_and_portability_take_nir_graphs(tmp_path, counts):
    res = invoke("compile", GRAPH, "--target", "loihi", "--out", str(tmp_path / "c"),
                 "--dt", "0.1")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "c" / "compiled.spz").is_file()
    np.savez(tmp_path / "in.npz", input=counts[:30])
    res = invoke("portability", "--out", str(tmp_path / "p"), "--targets", "spinnaker2",
                 GRAPH, "--input", str(tmp_path / "in.npz"), "--dt", "0.1")
    assert res.exit_code == 0, res.output
    assert "| spinnaker2 | lif2 |" in res.output


@pytest.mark.parametrize("command", ["run", "import", "export"])
def test_nir_out_that_cannot_be_written_is_refused_before_any_work(tmp_path, counts, command):
    """Like compile's -o: an --out inside a file is refused up front, with the option
    named, and nothing is run."""
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    np.savez(tmp_path / "in.npz", input=counts)
    net = tmp_path / "n.spnet"
    assert invoke("nir", "import", GRAPH, "--dt", "0.1", "--out", str(net)).exit_code == 0
    args = {"run": ["run", GRAPH, "--input", str(tmp_path / "in.npz"), "--dt", "0.1",
                    "--out", str(blocker / "out")],
            "import": ["import", GRAPH, "--dt", "0.1", "--out", str(blocker / "n.spnet")],
            "export": ["export", str(net), "--out", str(blocker / "n.nir")]}[command]
    res = CliRunner().invoke(main, ["nir", *args])
    assert res.exit_code == 2, res.output
    assert "Invalid value for '--out'" in res.output and "cannot write" in res.output
    assert "compile report" not in res.output and "Traceback" not in res.output
