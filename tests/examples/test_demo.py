"""The demo (`make demo`) end to end, and the PyNN script it runs on pyNN.brian2 as well."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PNG = b"\x89PNG\r\n\x1a\n"


def _field(summary: str, name: str) -> str:
    (line,) = [ln for ln in summary.splitlines() if ln.startswith(name)]
    return line.split(":", 1)[1].strip()


def _weights(summary: str, name: str) -> tuple[float, float]:
    corr, uncorr = re.findall(r"([\d.]+) nA", _field(summary, name))
    return float(corr), float(uncorr)


@pytest.mark.slow
def test_demo_compiles_cosimulates_and_runs_the_stdp_example_on_the_virtual_board(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, str(EXAMPLES / "demo.py"), "--out", str(out),
                           "--quick"], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("raster.png", "weights.png", "board/raster.png"):
        assert (out / name).read_bytes()[:8] == PNG, name
    report = (out / "compile_report.txt").read_text()
    assert "network 'stdp_network' on fpga (ice40up5k)" in report
    assert re.search(r"plastic\s+768\s", report)  # 48 fibres x 16 cells, all plastic
    summary = (out / "summary.txt").read_text()
    # the board streamed exactly what the golden model of the same build computes
    assert _field(summary, "board vs golden model") == "spikes identical, weights identical"
    assert _weights(summary, "learnt, virtual board") == _weights(summary, "learnt, golden model")
    # and the hardware's fixed point stays close to the float reference on this network
    error = float(re.search(r"error ([+-][\d.]+) %", _field(summary, "rate golden model"))[1])
    assert abs(error) < 25.0
    ref_rate = float(_field(summary, "rate reference").split()[0])
    assert 3.0 < ref_rate < 60.0
    # STDP did something: the weights moved away from their initial mean of 0.15 nA
    assert max(abs(w - 0.15) for w in _weights(summary, "learnt, golden model")) > 0.005


def _run_example(simulator: str, tmp_path: Path, *args: str) -> tuple[float, np.ndarray]:
    weights = tmp_path / f"{simulator}.npy"
    env = {**os.environ, "MPLBACKEND": "Agg"}
    if simulator == "brian2":
        # pyNN.brian2 with brian2's numpy code generation (no 35 s Cython compile)
        cmd = [sys.executable, "-c",
               "import brian2, runpy, sys; brian2.prefs.codegen.target = 'numpy'; "
               "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
               str(EXAMPLES / "stdp_network.py"), "brian2"]
    else:
        cmd = [sys.executable, "-m", "toolchain", "pynn", str(EXAMPLES / "stdp_network.py"),
               "spikeport"]
    done = subprocess.run([*cmd, *args, "--weights", str(weights)], capture_output=True,
                          text=True, timeout=600, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    rate = float(re.search(r"\(([\d.]+) Hz per cell\)", done.stderr)[1])
    return rate, np.load(weights)


@pytest.mark.slow
def test_stdp_example_learns_the_same_on_brian2_and_spikeport(tmp_path):
    """The unmodified script on pyNN.brian2 and on spikeport's reference target: the same
    random initial weights (drawn in PyNN's order from the script's seeded RNG), the same
    spikes and, after 1.5 s of STDP, the same learnt weights to float32 precision; and the
    correlated fibres end up stronger than the independent ones."""
    ours_rate, ours_w = _run_example("spikeport", tmp_path, "--duration", "1500")
    theirs_rate, theirs_w = _run_example("brian2", tmp_path, "--duration", "1500")
    assert ours_w.shape == theirs_w.shape == (48, 16)
    assert ours_rate == theirs_rate > 1.0
    assert np.allclose(ours_w, theirs_w, rtol=0, atol=1e-6), np.abs(ours_w - theirs_w).max()
    assert ours_w[:24].mean() - ours_w[24:].mean() > 0.05
