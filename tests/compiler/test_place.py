import numpy as np
import pytest

from tests.compiler.nets import chain_network, ei_network
from toolchain.targets.loihi import LoihiTarget
from toolchain.targets.loihi import spec as loihi


def _brute_force_cost(art, x, y) -> int:
    net = art.network
    core_of = {p.label: art.core_of_neuron(p.label) for p in net.populations}
    pairs = set()
    for proj in net.projections:
        if proj.pre not in core_of:
            continue
        for pre, post in zip(proj.pre_index.tolist(), proj.post_index.tolist(), strict=True):
            pairs.add((proj.label, pre, int(core_of[proj.post][post])))
    total = 0
    for label, pre, dst in pairs:
        src = core_of[net.projections[[p.label for p in net.projections].index(label)].pre][pre]
        total += abs(x[src] - x[dst]) + abs(y[src] - y[dst])
    return total


@pytest.fixture(scope="module")
def ring():
    return LoihiTarget(board="loihi1").compile(chain_network())


def test_placement_objective_matches_a_brute_force_count(ring):
    pl = ring.placement
    assert pl.cost == _brute_force_cost(ring, pl.x, pl.y)


def test_in_order_baseline_is_cores_in_network_order_row_major(ring):
    n = len(ring.cores)
    slot = np.arange(n)
    tile = slot // loihi.CORES_PER_TILE
    x, y = tile % loihi.TILES_X, tile // loihi.TILES_X
    assert ring.placement.in_order_cost == _brute_force_cost(ring, x, y)


def test_placer_beats_in_order_on_a_scrambled_ring(ring):
    assert ring.placement.cost < ring.placement.in_order_cost
    assert ring.placement.gain > 1.2


def test_no_two_cores_share_a_slot():
    art = LoihiTarget(board="loihi1").compile(ei_network())
    pl = art.placement
    where = set(zip(pl.chip.tolist(), pl.x.tolist(), pl.y.tolist(), pl.slot.tolist(),
                    strict=True))
    assert len(where) == len(art.cores)
    assert pl.x.max() < loihi.TILES_X and pl.y.max() < loihi.TILES_Y
    assert pl.slot.max() < loihi.CORES_PER_TILE


def test_multi_chip_board_places_cores_on_several_chips():
    # 200 neurons per population, 1024 populations' worth of cores would not fit one chip;
    # here 300 one-core populations need 3 chips of 128 cores
    from toolchain.ir import Network, Population

    net = Network(populations=tuple(Population(f"p{k}", "IF_curr_exp", 10)
                                    for k in range(300)))
    art = LoihiTarget(board="nahuku32").compile(net)
    assert len(art.cores) == 300
    assert art.chips_used == 3
    chip_of_tile = (art.placement.y // loihi.TILES_Y) * 8 + art.placement.x // loihi.TILES_X
    assert np.array_equal(chip_of_tile, art.placement.chip)
