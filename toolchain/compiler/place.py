"""Place cores on the 2-D mesh so that spikes travel few hops.

The objective is spike messages x hops, where a message is one source neuron's spike sent
to one destination core (one synapse row) and hops are the tile-mesh distance
(dimension-order routing).  Three steps:

1. order populations in a chain that puts the pairs exchanging the most messages next to
   each other (greedy: start at the busiest, always append the busiest partner of the end);
2. lay their cores, in that order, along a snake through the chips and through each chip's
   tiles, so neighbours in the order are neighbours on the mesh;
3. for up to ``REFINE_MAX_SLOTS`` slots, improve with pairwise swaps (each sweep computes
   the gain of every swap of one slot at once, from the dense slot-to-slot traffic).

The result is compared with in-order placement (cores in network order, filling chips and
tiles row by row), and the better of the two is kept, so the placer never loses to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolchain.compiler.artifact import Cores, Placement
from toolchain.compiler.pipeline import Build, Rows, violation
from toolchain.compiler.spec import Mesh
from toolchain.ir import Network

REFINE_MAX_SLOTS = 1024  # dense slot x slot matrices: 8 MB each at this size
REFINE_SWEEPS = 4


def place(build: Build) -> Build:
    """Pass: fills ``placement``; a network needing more chips than the board is an error."""
    net, spec = build.network, build.spec
    cores: Cores = build.need("cores", "place")
    rows: tuple[Rows | None, ...] = build.need("rows", "place")
    mesh = spec.mesh
    n = len(cores)
    if n > mesh.n_cores:
        chips = -(-n // mesh.cores_per_chip)
        fix = f"{spec.more_chips_hint(chips)}, or a smaller network"
        build = build.violate(violation(
            "network", net.label, "cores", n, mesh.n_cores, fix,
            f"the network needs {n} cores ({chips} chips of {mesh.cores_per_chip} cores) but "
            f"board '{build.board}' has {mesh.n_cores} cores ({mesh.n_chips} chips); {fix}"))
        mesh = Mesh(f"{mesh.name}+virtual", mesh.chips_x, -(-chips // mesh.chips_x),
                    mesh.tiles_x, mesh.tiles_y, mesh.cores_per_tile)
    sources = source_cores(net, cores)
    in_order = _row_major_slots(mesh)[:n]

    order = _population_chain(net, cores, rows, sources)
    core_order = np.concatenate([np.flatnonzero(cores.population == k) for k in order]) \
        if n else np.zeros(0, np.int64)
    slots = np.empty(n, dtype=np.int64)
    slots[core_order] = _snake_slots(mesh)[:n]
    method = "population chain + snake"
    used_chips = int(np.unique(slots // mesh.cores_per_chip).size) if n else 0
    if 0 < used_chips * mesh.cores_per_chip <= REFINE_MAX_SLOTS:
        slots = _refine(slots, rows, sources, mesh, used_chips)
        method += " + pairwise swaps"
    costs = spec.costs
    placed, baseline = hop_totals(rows, sources, [_xy(mesh, slots), _xy(mesh, in_order)],
                                  costs.hop_x.ns, costs.hop_y.ns)
    cost, in_order_cost = placed.hops, baseline.hops
    if cost > in_order_cost:
        slots, method = in_order, "in order (no better placement found)"
        cost, placed = in_order_cost, baseline

    x, y = _xy(mesh, slots)
    placement = Placement(
        chip=slots // mesh.cores_per_chip, x=x, y=y, slot=slots % mesh.cores_per_tile,
        cost=cost, in_order_cost=in_order_cost, method=method, chips_x=mesh.chips_x,
        tiles_x=mesh.tiles_x, tiles_y=mesh.tiles_y,
    )
    return build.replace(placement=placement,
                         extras={**build.extras, "mesh": mesh, "core_hops": placed})


# --------------------------------------------------------------------------- geometry


def _xy(mesh: Mesh, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global tile coordinates of slot numbers (slot = chip * cores_per_chip + local)."""
    chip, local = np.divmod(np.asarray(slots, dtype=np.int64), mesh.cores_per_chip)
    tile = local // mesh.cores_per_tile
    cy, cx = np.divmod(chip, mesh.chips_x)
    ty, tx = np.divmod(tile, mesh.tiles_x)
    return cx * mesh.tiles_x + tx, cy * mesh.tiles_y + ty


def _row_major_slots(mesh: Mesh) -> np.ndarray:
    return np.arange(mesh.n_cores, dtype=np.int64)


def _snake_slots(mesh: Mesh) -> np.ndarray:
    """Slot numbers along a snake over chips, and inside each chip a snake over tiles."""
    def snake(w: int, h: int) -> np.ndarray:
        grid = np.arange(w * h).reshape(h, w)
        grid[1::2] = grid[1::2, ::-1]
        return grid.reshape(-1)

    chips = snake(mesh.chips_x, mesh.chips_y)
    tiles = snake(mesh.tiles_x, mesh.tiles_y)
    local = (tiles[:, None] * mesh.cores_per_tile
             + np.arange(mesh.cores_per_tile)[None, :]).reshape(-1)
    return (chips[:, None] * mesh.cores_per_chip + local[None, :]).reshape(-1)


# --------------------------------------------------------------------------- traffic


def source_cores(net: Network, cores: Cores) -> list[np.ndarray | None]:
    """Per projection, the core of every presynaptic neuron (None: a host spike source)."""
    core_of: dict[str, np.ndarray] = {}
    for k, pop in enumerate(net.populations):
        arr = np.empty(pop.size, dtype=np.int64)
        for c in np.flatnonzero(cores.population == k):
            arr[cores.start[c]:cores.stop[c]] = c
        core_of[pop.label] = arr
    return [core_of.get(p.pre) for p in net.projections]


@dataclass(frozen=True)
class HopTotals:
    """Core-to-core rows (one message per source spike) summed over a placement."""

    hops_x: int
    hops_y: int
    longest_ns: float  # the slowest route's latency

    @property
    def hops(self) -> float:
        return float(self.hops_x + self.hops_y)


def hop_totals(rows: tuple[Rows | None, ...], sources: list[np.ndarray | None],
               placements: list[tuple[np.ndarray, np.ndarray]], ns_x: float, ns_y: float
               ) -> list[HopTotals]:
    """Hops along x and y of all core-to-core rows (host-injected sources are not placed),
    for several placements in one pass over the rows."""
    coords = [(x.astype(np.int16), y.astype(np.int16)) for x, y in placements]  # < 2**15
    sums = np.zeros((len(placements), 2), dtype=np.int64)
    longest = np.zeros(len(placements))
    for r, src_of in zip(rows, sources, strict=True):
        if r is None or src_of is None or r.core.size == 0:
            continue
        src = src_of[r.pre]
        for k, (x, y) in enumerate(coords):
            hx = np.abs(x[src] - x[r.core])
            hy = np.abs(y[src] - y[r.core])
            sums[k] += (int(hx.sum(dtype=np.int64)), int(hy.sum(dtype=np.int64)))
            latency = hx * np.float32(ns_x)  # float32: half the traffic of float64
            latency += hy * np.float32(ns_y)
            longest[k] = max(longest[k], float(latency.max()))
    return [HopTotals(int(sx), int(sy), float(m))
            for (sx, sy), m in zip(sums, longest, strict=True)]


def _population_chain(net: Network, cores: Cores, rows: tuple[Rows | None, ...],
                      sources: list[np.ndarray | None]) -> list[int]:
    n_pop = len(net.populations)
    index = {p.label: k for k, p in enumerate(net.populations)}
    w = np.zeros((n_pop, n_pop))
    for proj, r, src in zip(net.projections, rows, sources, strict=True):
        if r is not None and src is not None:
            w[index[proj.pre], index[proj.post]] += r.core.size
    w = w + w.T
    np.fill_diagonal(w, 0)
    remaining = set(range(n_pop))
    if not remaining:
        return []
    chain = [int(np.argmax(w.sum(axis=1)))]
    remaining.discard(chain[0])
    while remaining:
        cand = sorted(remaining)
        last = chain[-1]
        best = max(cand, key=lambda k: (w[last, k], w[k].sum(), -k))
        chain.append(best)
        remaining.discard(best)
    return chain


def _refine(slots: np.ndarray, rows: tuple[Rows | None, ...], sources: list[np.ndarray | None],
            mesh: Mesh, used_chips: int) -> np.ndarray:
    """Pairwise swaps over all slots of the used chips (empty slots take part too)."""
    chip_ids = np.unique(slots // mesh.cores_per_chip)
    region = (chip_ids[:, None] * mesh.cores_per_chip
              + np.arange(mesh.cores_per_chip)[None, :]).reshape(-1)
    m = region.size
    where = {int(s): i for i, s in enumerate(region)}
    pos = np.array([where[int(s)] for s in slots])  # core -> position in region
    t = np.zeros((m, m))
    for r, src_of in zip(rows, sources, strict=True):
        if r is None or src_of is None or r.core.size == 0:
            continue
        a, b = pos[src_of[r.pre]], pos[r.core]
        np.add.at(t, (a, b), 1.0)
    t = t + t.T
    x, y = _xy(mesh, region)
    d = (np.abs(x[:, None] - x[None, :]) + np.abs(y[:, None] - y[None, :])).astype(float)
    content = np.arange(m)  # content[i]: which original region position now sits in slot i
    rowdot = np.einsum("ij,ij->i", t, d)
    for _ in range(REFINE_SWEEPS):
        improved = False
        for a in range(m):
            if not t[a].any():
                continue
            full = t @ d[a] - rowdot - t[a] @ d[a] + d @ t[a]
            delta = full + 2 * t[a] * d[a]
            delta[a] = 0.0
            b = int(np.argmin(delta))
            if delta[b] < -1e-9:
                t[[a, b]] = t[[b, a]]
                t[:, [a, b]] = t[:, [b, a]]
                content[[a, b]] = content[[b, a]]
                rowdot = np.einsum("ij,ij->i", t, d)
                improved = True
        if not improved:
            break
    slot_of_content = np.empty(m, dtype=np.int64)
    slot_of_content[content] = np.arange(m)
    return region[slot_of_content[pos]]
