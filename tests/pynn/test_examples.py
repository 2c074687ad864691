"""Our PyNN examples run unmodified through spikeport."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_va_cuba_runs_unmodified_through_spikeport_pynn(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "toolchain", "pynn", str(ROOT / "examples" / "va_cuba.py"),
         "spikeport", "--n", "400", "--t-stop", "200"],
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
