import numpy as np
import pytest

from tests.compiler.nets import ei_network
from toolchain.targets.loihi import LoihiTarget


@pytest.fixture(scope="module")
def art():
    return LoihiTarget(board="loihi1").compile(ei_network(n_exc=1200, n_inh=300))


def test_every_source_neuron_sends_once_per_destination_core(art):
    net = art.network
    core_of = {p.label: art.core_of_neuron(p.label) for p in net.populations}
    expected: dict[tuple[int, int], int] = {}
    for proj in net.projections:
        dst = core_of[proj.post][proj.post_index]
        if proj.pre in core_of:
            src = core_of[proj.pre][proj.pre_index]
        else:
            src = np.full(proj.size, -1)
        for key in set(zip(proj.pre_index.tolist(), src.tolist(), dst.tolist(), strict=True)):
            expected[key[1:]] = expected.get(key[1:], 0) + 1
    r = art.routes
    got = {(s, d): m for s, d, m in zip(r.src.tolist(), r.dst.tolist(), r.messages.tolist(),
                                        strict=True)}
    assert got == expected


def test_route_lengths_are_manhattan_distances_from_the_placement(art):
    r, pl = art.routes, art.placement
    x = np.append(pl.x, 0)
    y = np.append(pl.y, 0)  # the host injects at tile (0, 0)
    assert np.array_equal(r.hops_x, np.abs(x[r.src] - x[r.dst]))
    assert np.array_equal(r.hops_y, np.abs(y[r.src] - y[r.dst]))
    assert r.chip_crossings.max() == 0  # one chip
    assert r.level == "core"
