"""Our examples run: the demo (quick size) and the PyNN script it is built on."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_demo_writes_a_raster_and_a_summary(tmp_path):
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, str(ROOT / "examples" / "demo.py"), "--out", str(out),
                           "--quick"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (out / "raster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = (out / "summary.txt").read_text()
    assert "target            : reference" in summary
    assert "cells             : 500 (400 exc, 100 inh)" in summary
    rates = [float(line.split(":")[1].split()[0]) for line in summary.splitlines()
             if line.startswith(("exc rate", "inh rate"))]
    assert len(rates) == 2 and all(2.0 < r < 15.0 for r in rates)  # VA-CUBA runs at ~6 Hz


@pytest.mark.slow
def test_va_cuba_runs_unmodified_through_spikeforge_pynn(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "toolchain", "pynn", str(ROOT / "examples" / "va_cuba.py"),
         "spikeforge", "--n", "400", "--t-stop", "200"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("400 cells, ")
