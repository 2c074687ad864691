"""The microcircuit the compile benchmark builds, at 1% scale, so the benchmark cannot rot."""

import numpy as np
import pytest

from benchmarks.bench_compile import CONN, LABELS, N_FULL, microcircuit
from toolchain.targets.loihi import LoihiTarget


@pytest.fixture(scope="module")
def net():
    return microcircuit(0.01)


def test_microcircuit_has_the_potjans_diesmann_structure(net):
    assert [p.label for p in net.populations] == list(LABELS)
    assert [p.size for p in net.populations] == [round(n * 0.01) for n in N_FULL]
    n_recurrent = sum(c > 0 for row in CONN for c in row)
    assert len(net.projections) == n_recurrent + len(LABELS)  # + one background per pop
    l23e = net.population("L23E").size
    proj = next(p for p in net.projections if p.label == "L23E_L23E")
    expected = np.log(1 - CONN[0][0]) / np.log(1 - 1 / (l23e * l23e))
    assert proj.size == round(expected)
    inh = next(p for p in net.projections if p.label == "L23I_L23E")
    assert inh.weight.max() <= 0 and inh.receptor.value == "inhibitory"


def test_microcircuit_compiles_for_loihi(net):
    art = LoihiTarget(board="loihi1").compile(net)
    assert art.fits
    assert art.cores.neurons.sum() == net.n_neurons
    assert art.placement.gain >= 1.0
