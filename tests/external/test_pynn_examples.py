"""PyNN's own example scripts, unmodified, run through ``spikeport pynn`` on the reference
target: every one of the PyNN 0.13 sdist's examples/ whose dependencies install here.

They ship in PyNN's source package only; scripts/bootstrap.sh puts its examples/ folder
into the environment (``<venv>/share/pynn-examples``).  Each runs in a scratch directory
with the ``Results/`` folder the scripts write into (it exists in PyNN's repository).
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

# The examples that cannot run on spikeport, and why.  Their dependencies were checked with
# pip here: mpi4py (with the mpich wheel) and csa install and are installed (extra
# 'pynn-examples'); NineML 1.0.1 (the last release) installs but does not import on
# Python >= 3.10 (it uses collections.Iterable); NEURON installs, but these scripts import
# pyNN.neuron themselves, so they run on NEURON whatever simulator is named.
OUT_OF_SCOPE = {
    "nineml_brunel.py": "imports pyNN.neuron and a NineML network catalogue: NEURON only",
    "nineml_neuron.py": "needs NineML (1.0.1 fails to import on Python 3.10+) and a "
                        "backend's NineML cell-type generator",
    "nrn_artificial_cell.py": "imports pyNN.neuron: NEURON's artificial cells only",
    # CSAConnector itself works (tests/pynn/test_connectors.py)
    "simpleRandomNetwork_csa.py": "fails on every PyNN 0.13 backend before it reaches the "
                                  "simulator: it calls NumpyRNG.next(..., mask_local=False), "
                                  "an argument PyNN 0.13 no longer has",
}

# Command-line arguments an example needs (PyNN's examples take the simulator name first).
ARGUMENTS = {
    "VAbenchmarks.py": ("CUBA",),
}

# Examples run in full elsewhere in this module (with their numbers checked), or that take
# minutes at their full size: run here as they are, but marked slow.
SLOW = {"VAbenchmarks.py", "brunel.py"}


def all_examples() -> list[str]:
    return sorted(p.name for p in EXAMPLES.glob("*.py")) if EXAMPLES.is_dir() else []


def run_example(name: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    (cwd / "Results").mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "toolchain", "pynn", str(EXAMPLES / name), "spikeport", *args],
        capture_output=True, text=True, timeout=900, cwd=cwd,
    )


def _param(name: str) -> object:
    marks = []
    if name in OUT_OF_SCOPE:
        marks.append(pytest.mark.skip(reason=f"out of scope: {OUT_OF_SCOPE[name]}"))
    if name in SLOW:
        marks.append(pytest.mark.slow)
    return pytest.param(name, marks=marks, id=name)


def test_every_example_is_run_or_listed_with_its_reason():
    names = all_examples()
    if not names:
        pytest.skip(f"no PyNN examples in {EXAMPLES}")
    assert len(names) == 33  # PyNN 0.13.0's examples/
    assert set(OUT_OF_SCOPE) <= set(names) and set(ARGUMENTS) <= set(names)


@pytest.mark.parametrize("name", [_param(n) for n in all_examples()])
def test_example_runs(name, tmp_path):
    done = run_example(name, *ARGUMENTS.get(name, ()), cwd=tmp_path)
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
@pytest.mark.parametrize("fraction, last_potentiated", [("0", 27), ("1", 33)])
def test_simple_stdp_learns_the_classic_window(fraction, last_potentiated, tmp_path):
    """simple_STDP.py with all of the 3 ms delay axonal (pyNN.brian2's semantics) and, PyNN's
    default, all dendritic (pyNN.nest's): the classic window either way.  Pre neuron j fires
    j - 30 ms after the post neuron's driver arrives; the synapse sees that pre spike 3 ms
    later (axonal) or the post spike 3 ms later (dendritic), so the window's zero moves
    from j = 27 to j = 33."""
    done = run_example("simple_STDP.py", "--dendritic-delay-fraction", fraction, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    post = re.search(r"Post-synaptic spike times: \[([^\]]*)\]", done.stdout).group(1).split()
    assert len(post) == 10  # the driver makes it fire once per 100 ms period
    final = np.array(re.search(r"Final weights: \[([^\]]*)\]", done.stdout, re.S)
                     .group(1).split(), dtype=float)
    assert final.size == 60
    # pre before post (at the synapse) potentiates, after depresses
    change = final - 5e-8
    k = last_potentiated + 1
    assert np.all(change[:k] > 0) and np.all(change[k:] < 0)
    assert np.all(np.diff(change[:k]) > 0)  # stronger the closer the pair
