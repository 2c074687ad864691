"""Multicast keys and router tables for a placed SpiNNaker2 network.

* Keys: every slice gets an aligned block of ``2**key_bits`` keys; the low bits carry the
  neuron index within the slice (a delay-extension slice adds its stage above the index),
  so one key/mask entry covers all spikes of a slice.
* Routes: from the source chip, dimension-order (x first, then y) on the chip grid, taking
  the shorter way round on a torus.  Inside a chip the router hands packets to PEs over the
  NoC, so a route is a set of chip links plus a set of local PEs.
* Table entries: a chip needs an entry for a key when a packet is injected there, delivered
  to a local PE, turns or forks; a packet that goes straight on across a chip uses the
  router's default route and needs none (SpiNNaker's default routing, FACTS.md).
* Minimisation: entries with the same route whose key/mask pairs differ in exactly one
  unmasked bit are merged into one entry with that bit masked out, repeated to a fixed
  point.  Each merge covers exactly the union of the two entries, so the result routes
  every key as before and never routes a key that was not routed (no order dependence,
  unlike ordered covering, which would also use entry order).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from toolchain.compiler.pipeline import Violations, violation
from toolchain.targets.options import option_hint
from toolchain.targets.spinnaker2.mapper import Mapping, MappingError, Slice, board_hint
from toolchain.targets.spinnaker2.spec import SpiNNaker2Spec

# link numbers as on SpiNNaker: 0 E, 1 NE, 2 N, 3 W, 4 SW, 5 S [src: SpiNNaker datasheet]
EAST, NORTH, WEST, SOUTH = 0, 2, 3, 5
N_LINKS = 6
KEY_SPACE_BITS = 32


class RoutingError(MappingError):
    """Keys or router tables that do not fit the machine."""


@dataclass(frozen=True)
class Entry:
    key: int
    mask: int
    route: int  # bits 0..5: links; bit 6 + p: local PE p


@dataclass
class Routing:
    """Router tables of every chip, before and after minimisation, and per-slice reach."""

    tables: dict[int, list[Entry]]  # chip -> minimised entries
    entries_before: dict[int, int]  # chip -> entries before minimisation
    hops: dict[int, dict[int, int]] = field(default_factory=dict)  # slice -> {dest chip: hops}
    targets: dict[int, list[int]] = field(default_factory=dict)  # slice -> dest slice ids

    @property
    def max_entries(self) -> int:
        return max((len(t) for t in self.tables.values()), default=0)

    @property
    def total_entries(self) -> int:
        return sum(len(t) for t in self.tables.values())


def allocate_keys(mapping: Mapping, violations: Violations) -> None:
    """Give every slice an aligned key block, population by population (so neighbouring slices
    with the same route differ in few key bits and merge)."""
    index_bits = max(1, math.ceil(math.log2(mapping.spec.neurons_per_pe)))
    stage_bits = max(1, math.ceil(math.log2(mapping.spec.max_delay_stages + 1)))
    next_key = 0
    for s in mapping.slices:
        s.key_bits = index_bits + (stage_bits if s.kind == "delay" else 0)
    # big blocks first keeps every block aligned without gaps
    for s in sorted(mapping.slices, key=lambda s: -s.key_bits):
        block = 1 << s.key_bits
        next_key = -(-next_key // block) * block
        s.key = next_key
        next_key += block
    if next_key > 1 << KEY_SPACE_BITS:
        largest = max(s.size for s in mapping.slices)
        fix = (f"lower neurons_per_pe to the largest slice it needs "
               f"({option_hint('neurons_per_pe', largest)}), or lower max_delay_stages")
        violations.add(violation(
            "network", mapping.network_label, "keys", next_key, 1 << KEY_SPACE_BITS, fix,
            f"{len(mapping.slices)} slices need {next_key} multicast keys, "
            f"{next_key - (1 << KEY_SPACE_BITS)} more than the 2^{KEY_SPACE_BITS} of a 32-bit "
            f"key (each slice takes an aligned block of 2^{index_bits} keys for "
            f"neurons_per_pe = {mapping.spec.neurons_per_pe}, a delay-extension slice "
            f"2^{index_bits + stage_bits}); {fix}"))


def slice_targets(mapping: Mapping) -> dict[int, set[int]]:
    """Which slices receive spikes from which: source slice -> receiving slice ids.

    A synapse with delay stages is reached through its source's delay slice: source ->
    delay slice -> target slice.
    """
    out: dict[int, set[int]] = defaultdict(set)
    n_slices = len(mapping.slices)
    for t in mapping.synapses:
        if not t.pre_index.size:
            continue
        pre_sl = mapping.slice_of[t.pre]
        post_sl = mapping.slice_of[t.post]
        for delayed in (False, True):
            sel = t.stage > 0 if delayed else t.stage == 0
            if not sel.any():
                continue
            ps, qs = pre_sl[t.pre_index[sel]], post_sl[t.post_index[sel]]
            lo_p, lo_q = int(ps.min()), int(qs.min())
            span_p, span_q = int(ps.max()) - lo_p + 1, int(qs.max()) - lo_q + 1
            seen = np.zeros((span_p, span_q), bool)
            seen[ps - lo_p, qs - lo_q] = True
            for a, b in zip(*np.nonzero(seen), strict=True):
                src = int(a) + lo_p
                if delayed:
                    dslice = mapping.delay_slice_of[src]
                    out[src].add(dslice)
                    out[dslice].add(int(b) + lo_q)
                else:
                    out[src].add(int(b) + lo_q)
    assert all(0 <= s < n_slices for s in out)
    return out


def route(mapping: Mapping, violations: Violations | None = None) -> Routing:
    """Keys, routes and minimised tables; a table that overflows (or keys that run out) is
    a violation, raised by default."""
    found = Violations(violations.strict if violations is not None else True, RoutingError)
    spec = mapping.spec
    allocate_keys(mapping, found)
    targets = slice_targets(mapping)
    raw: dict[int, list[Entry]] = defaultdict(list)
    hops: dict[int, dict[int, int]] = {}
    for src, dests in targets.items():
        s = mapping.slices[src]
        local: dict[int, int] = defaultdict(int)
        for d in dests:
            t = mapping.slices[d]
            local[t.chip] |= 1 << (N_LINKS + t.pe)
        per_chip, hop = _tree(spec, s.chip, local)
        hops[src] = hop
        for chip, r in per_chip.items():
            raw[chip].append(Entry(s.key, s.mask, r))
    tables = {chip: minimise(entries) for chip, entries in raw.items()}
    result = Routing(tables, {c: len(e) for c, e in raw.items()}, hops,
                     {k: sorted(v) for k, v in targets.items()})
    check_tables(result, spec, mapping.network_label, found)
    for broken in found.found:
        if violations is not None:
            violations.add(broken)
    return result


def _tree(spec: SpiNNaker2Spec, src_chip: int,
          local: dict[int, int]) -> tuple[dict[int, int], dict[int, int]]:
    """Dimension-order multicast tree: chip -> route bits where an entry is needed, and
    destination chip -> hops from the source."""
    board = spec.board
    sx, sy = board.chip_xy(src_chip)
    out_links: dict[int, int] = defaultdict(int)  # chip -> link bits
    arrive: dict[int, int] = {}  # chip -> link the packet leaves its previous chip by
    hops: dict[int, int] = {}
    for dest in local:
        dx, dy = board.chip_xy(dest)
        x, y, n = sx, sy, 0
        for axis, (step, count) in enumerate((_steps(sx, dx, board.width, board.torus),
                                              _steps(sy, dy, board.height, board.torus))):
            link = (EAST if step > 0 else WEST) if axis == 0 else (NORTH if step > 0 else SOUTH)
            for _ in range(count):
                here = y * board.width + x
                out_links[here] |= 1 << link
                if axis == 0:
                    x = (x + step) % board.width
                else:
                    y = (y + step) % board.height
                arrive[y * board.width + x] = link
                n += 1
        hops[dest] = n
    needed: dict[int, int] = {}
    for chip in set(out_links) | set(local):
        links = out_links.get(chip, 0)
        straight = chip != src_chip and chip not in local and links == 1 << arrive[chip]
        if not straight:
            needed[chip] = links | local.get(chip, 0)
    return needed, hops


def _steps(a: int, b: int, size: int, torus: bool) -> tuple[int, int]:
    """(direction, hop count) from a to b along one axis."""
    forward = (b - a) % size if torus else b - a
    if not torus:
        return (1 if forward >= 0 else -1), abs(forward)
    backward = size - forward if forward else 0
    return (1, forward) if forward <= backward else (-1, backward)


def minimise(entries: list[Entry]) -> list[Entry]:
    """Merge same-route entries whose key/mask differ in one unmasked bit, to a fixed point."""
    groups: dict[tuple[int, int], set[int]] = defaultdict(set)  # (route, mask) -> keys
    for e in entries:
        groups[(e.route, e.mask)].add(e.key)
    changed = True
    while changed:
        changed = False
        for (route_bits, mask), keys in list(groups.items()):
            if len(keys) < 2:
                continue
            bit = mask & -mask  # lowest bit still compared
            while bit:
                merged = {k & ~bit for k in keys if (k ^ bit) in keys}
                if merged:
                    keys.difference_update({k for m in merged for k in (m, m | bit)})
                    groups[(route_bits, mask & ~bit)].update(merged)
                    changed = True
                    break
                bit = (mask & ~((bit << 1) - 1)) & -(mask & ~((bit << 1) - 1))
            if not keys:
                del groups[(route_bits, mask)]
    return [Entry(k, m, r) for (r, m), keys in groups.items() for k in sorted(keys)]


def check_tables(routing: Routing, spec: SpiNNaker2Spec, label: str,
                 violations: Violations) -> None:
    for chip, entries in sorted(routing.tables.items()):
        if len(entries) > spec.router_entries:
            x, y = spec.board.chip_xy(chip)
            over = len(entries) - spec.router_entries
            fix = (f"spread the network over more chips (a larger board: "
                   f"{board_hint(spec.board.n_chips + 1)}) or raise neurons_per_pe so fewer "
                   "slices send through it "
                   f"({option_hint('neurons_per_pe', 2 * spec.neurons_per_pe)})")
            violations.add(violation(
                "network", label, "router_entries", len(entries), spec.router_entries, fix,
                f"chip ({x}, {y}) needs {len(entries)} router entries after minimisation "
                f"({routing.entries_before[chip]} before), {over} more than its "
                f"{spec.router_entries}; {fix}"))


def lookup(entries: list[Entry], key: int) -> int | None:
    """The route a router with ``entries`` gives ``key`` (first match), or None."""
    for e in entries:
        if key & e.mask == e.key:
            return e.route
    return None


def route_slice_key(mapping: Mapping, s: Slice, neuron: int, stage: int = 0) -> int:
    index_bits = max(1, math.ceil(math.log2(mapping.spec.neurons_per_pe)))
    return s.key | (stage << index_bits) | (neuron - s.lo)
