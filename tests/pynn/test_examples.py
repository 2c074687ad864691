"""Our examples run: the demo (quick size) and the PyNN script it is built on."""

import subprocess
import sys
from pathlib import Path

import numpy as np
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


def test_microcircuit_builds_the_paper_synapse_counts(tmp_path):
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        import microcircuit
    finally:
        sys.path.pop(0)
    import toolchain.pynn as sim

    sim.setup(timestep=0.1, min_delay=0.1, max_delay=100.0)
    net = microcircuit.build(sim, scale=0.01)
    sizes = {name: pop.size for name, pop in net["populations"].items()}
    paper = (20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948)  # Table 5, full scale
    assert list(sizes.values()) == [round(n * 0.01) for n in paper]
    by_label = {p.label: p for p in net["projections"]}
    # K = log(1 - C) / log(1 - 1/(N_pre N_post)) with C(L4E -> L23E) = 0.0437 (Table 5)
    n_pre, n_post = sizes["L4E"], sizes["L23E"]
    k = np.log(1 - 0.0437) / np.log(1 - 1 / (n_pre * n_post))
    strong = by_label["L4E->L23E"]
    assert len(strong) == round(k)
    w = strong.get("weight", format="list", with_address=False)
    assert abs(np.mean(w) - 2 * 0.0878) < 0.01  # L4E -> L23E weights are doubled
    inhibitory = by_label["L23I->L23E"].get("weight", format="list", with_address=False)
    assert max(inhibitory) <= 0 and abs(np.mean(inhibitory) + 4 * 0.0878) < 0.02
    sim.run(5.0)
    assert sim.get_current_time() == pytest.approx(5.0)
    sim.end()
