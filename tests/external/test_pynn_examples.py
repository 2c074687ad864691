"""PyNN's own example scripts, unmodified, run through ``spikeport pynn``.

They ship in PyNN's source package only; scripts/bootstrap.sh puts its examples/ folder
into the environment (``<venv>/share/pynn-examples``).  Each runs in a scratch directory,
since the scripts write their results under ./Results.
"""

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(sys.prefix) / "share" / "pynn-examples"

pytestmark = pytest.mark.skipif(
    not (EXAMPLES / "VAbenchmarks.py").is_file(),
    reason=f"PyNN's example scripts are not in {EXAMPLES}; run scripts/bootstrap.sh "
           "(make setup) to fetch them",
)


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toolchain", "pynn", str(EXAMPLES / name), "spikeport", *args],
        capture_output=True, text=True, timeout=900, cwd=cwd,
    )


@pytest.mark.parametrize("name", ["simpleRandomNetwork.py", "connections.py",
                                  "StepCurrentSource.py", "specific_network.py"])
def test_example_runs(name, tmp_path):
    done = run_example(name, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("benchmark, low, high", [("CUBA", 3.0, 9.0), ("COBA", 8.0, 25.0)])
def test_va_benchmarks(benchmark, low, high, tmp_path):
    """The full 4000-cell benchmarks of Brette et al. (2007); pyNN.brian2 needs minutes
    to build CUBA (FACTS.md), the vectorised builders seconds."""
    done = run_example("VAbenchmarks.py", benchmark, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    synapses = re.search(r"Number of Synapses\s*: (\d+) e→e\s+(\d+) e→i\s+(\d+) i→e\s+(\d+) i→i",
                         done.stdout)
    # 4000 cells, p = 0.02: 3200 x 4000 x 0.02 = 256000 synapses from exc, 64000 from inh
    assert synapses is not None
    e_e, e_i, i_e, i_i = map(int, synapses.groups())
    assert abs(e_e + e_i - 256000) < 5 * np.sqrt(256000) and \
        abs(i_e + i_i - 64000) < 5 * np.sqrt(64000)
    for kind in ("Excitatory", "Inhibitory"):
        rate = float(re.search(rf"{kind} rate\s*: ([\d.]+) Hz", done.stdout).group(1))
        assert low < rate < high


@pytest.mark.slow
def test_simple_stdp_learns_the_classic_window(tmp_path):
    done = run_example("simple_STDP.py", "--dendritic-delay-fraction", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    post = re.search(r"Post-synaptic spike times: \[([^\]]*)\]", done.stdout).group(1).split()
    assert len(post) == 10  # the driver makes it fire once per 100 ms period
    final = np.array(re.search(r"Final weights: \[([^\]]*)\]", done.stdout, re.S)
                     .group(1).split(), dtype=float)
    assert final.size == 60
    # deltas run from +30 ms down to -29 ms: pre before post potentiates, after depresses
    change = final - 5e-8
    assert np.all(change[:28] > 0) and np.all(change[31:] < 0)
    assert np.all(np.diff(change[:28]) > 0)  # stronger the closer the pair


def test_stdp_example_with_dendritic_delay_gets_the_fix(tmp_path):
    done = run_example("stdp_network.py", cwd=tmp_path)
    assert done.returncode == 1
    assert "dendritic_delay_fraction = 1 is not supported" in done.stderr
    assert "Pass dendritic_delay_fraction=0" in done.stderr


def test_example_with_an_unsupported_cell_type_names_it(tmp_path):
    done = run_example("small_network.py", cwd=tmp_path)
    assert done.returncode == 1
    assert "PyNN cell type IF_cond_alpha is not supported by spikeport; use one of: " \
           "IF_curr_exp, IF_curr_alpha, IF_cond_exp" in done.stderr
