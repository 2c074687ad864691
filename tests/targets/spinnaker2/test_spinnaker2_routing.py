import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolchain.ir import ArraySource, CellType, Network, Population, Projection
from toolchain.targets.spinnaker2.mapper import map_network
from toolchain.targets.spinnaker2.routing import (
    EAST,
    N_LINKS,
    NORTH,
    Entry,
    RoutingError,
    _tree,
    lookup,
    minimise,
    route,
)
from toolchain.targets.spinnaker2.spec import Board

from .helpers import recurrent_net, tiny_spec

BLOCK = 8  # keys per slice in the property test


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 5), min_size=1, max_size=40))
def test_minimisation_routes_every_key_as_before(routes):
    """Slice i owns keys [8i, 8i + 8); merged tables must route each of them (and the
    keys of no slice) exactly as the unminimised table does."""
    mask = 0xFFFFFFFF & ~(BLOCK - 1)
    entries = [Entry(i * BLOCK, mask, 1 << r) for i, r in enumerate(routes)]
    merged = minimise(entries)
    assert len(merged) <= len(entries)
    for key in range(0, (len(routes) + 2) * BLOCK):
        assert lookup(merged, key) == lookup(entries, key)


def test_minimisation_merges_aligned_runs():
    mask = 0xFFFFFFFF & ~(BLOCK - 1)
    entries = [Entry(i * BLOCK, mask, 1) for i in range(8)]  # 8 aligned slices, same route
    assert minimise(entries) == [Entry(0, 0xFFFFFFFF & ~(8 * BLOCK - 1), 1)]


def test_straight_through_chips_use_the_default_route():
    """On a 4 x 1 mesh a packet from chip 0 to chip 3 needs entries at the source and the
    destination only; chips 1 and 2 pass it straight on."""
    spec = tiny_spec(board=Board("4x1", 4, 1))
    needed, hops = _tree(spec, 0, {3: 1 << (N_LINKS + 2)})
    assert set(needed) == {0, 3}
    assert needed[0] == 1 << EAST and needed[3] == 1 << (N_LINKS + 2)
    assert hops == {3: 3}
    # a turn needs an entry: from (0, 0) to (2, 1) on a 3 x 2 mesh turns at (2, 0)
    spec = tiny_spec(board=Board("3x2", 3, 2))
    needed, hops = _tree(spec, 0, {5: 1 << (N_LINKS + 1)})
    assert set(needed) == {0, 2, 5} and needed[2] == 1 << NORTH and hops == {5: 3}


def test_torus_takes_the_short_way_round():
    spec = tiny_spec(board=Board("5x1", 5, 1, torus=True))
    _, hops = _tree(spec, 0, {4: 1 << N_LINKS})
    assert hops == {4: 1}


def test_routes_reach_exactly_the_receiving_pes():
    net = recurrent_net(150, max_delay=20)
    m = map_network(net, tiny_spec(neurons_per_pe=32, pes_per_chip=6))
    r = route(m)
    for src, dests in r.targets.items():
        s = m.slices[src]
        for chip, table in r.tables.items():
            bits = lookup(table, s.key) or 0
            local = {p for p in range(6) if bits >> (N_LINKS + p) & 1}
            expected = {m.slices[d].pe for d in dests if m.slices[d].chip == chip}
            if expected:
                assert local == expected, (src, chip)
            else:
                assert not local
    assert r.total_entries <= sum(r.entries_before.values())


def test_router_table_overflow_names_the_chip():
    """8 sources on chip (0, 0), alternately feeding 'a' and 'b' on chip (1, 0): chip (0, 0)
    sends all east (one merged entry), chip (1, 0) needs one entry per destination PE."""
    srcs = tuple(ArraySource.from_lists(f"s{i}", [[1.0]]) for i in range(8))
    pops = (Population("a", CellType.IF_CURR_EXP, 1), Population("b", CellType.IF_CURR_EXP, 1))
    projs = tuple(Projection(f"{s.label}->", s.label, pops[i % 2].label, [0], [0], [0.1], [1.0])
                  for i, s in enumerate(srcs))
    net = Network(dt=1.0, populations=pops, sources=srcs, projections=projs)
    spec = tiny_spec(board=Board("3x1", 3, 1), pes_per_chip=9)
    r = route(map_network(net, spec))
    assert len(r.tables[0]) == 1 and len(r.tables[1]) == 2
    assert r.entries_before == {0: 8, 1: 8}
    with pytest.raises(RoutingError) as e:
        route(map_network(net, spec.replace(router_entries=1)))
    assert str(e.value) == (
        "chip (1, 0) needs 2 router entries after minimisation (8 before), 1 more than its 1; "
        "spread the network over more chips (a larger board: option board='48-chip' (-O "
        "board=48-chip)) or raise neurons_per_pe so fewer slices send through it (option "
        "neurons_per_pe=128 (-O neurons_per_pe=128))")


def test_key_space_overflow_names_the_blocks_and_the_fix():
    """Keys are 32 bits.  A 1-bit weight and a 2-slot ring buffer leave 29 index bits in a
    synaptic word, so neurons_per_pe = 2^29 is a legal layout; the delay-extension slice a
    2-tick delay then needs (29 index + 4 stage bits) alone overflows the key space."""
    p = Population("p", CellType.IF_CURR_EXP, 2)
    net = Network(dt=1.0, populations=(p,),
                  projections=(Projection("d", "p", "p", [0], [1], [0.1], [2.0]),))
    spec = tiny_spec(weight_bits=1, ring_buffer_ticks=2, neurons_per_pe=2**29)
    with pytest.raises(RoutingError) as e:
        route(map_network(net, spec))
    assert str(e.value) == (
        f"2 slices need {2**33 + 2**29} multicast keys, {2**33 + 2**29 - 2**32} more than the "
        "2^32 of a 32-bit key (each slice takes an aligned block of 2^29 keys for "
        f"neurons_per_pe = {2**29}, a delay-extension slice 2^33); lower neurons_per_pe to the "
        "largest slice it needs (option neurons_per_pe=2 (-O neurons_per_pe=2)), or lower "
        "max_delay_stages")
    route(map_network(net, spec.replace(neurons_per_pe=2)))  # the fix it names works
