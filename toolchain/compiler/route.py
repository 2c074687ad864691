"""Route spikes between placed cores and tabulate the traffic.

Loihi-style meshes route dimension-order (x first, then y), so a route's length is the
Manhattan distance between tiles; it crosses a chip boundary each time its tile coordinate
passes a multiple of the chip size.  Spike sources are injected by the host at tile (0, 0).
Each row (one source neuron into one destination core) is one message per source spike.
"""

from __future__ import annotations

import numpy as np

from toolchain.compiler.artifact import Routes
from toolchain.compiler.pipeline import Build, Rows
from toolchain.compiler.place import source_cores
from toolchain.compiler.spec import Mesh

# Above this many rows the table is kept per chip pair instead of per core pair: the
# full-scale microcircuit has ~10^8 distinct (neuron, core) routes.
CORE_LEVEL_MAX_ROWS = 2_000_000
HOST = -1


def route(build: Build) -> Build:
    """Pass: fills ``routes`` (per core pair, or per chip pair for very large networks)."""
    net = build.network
    rows: tuple[Rows | None, ...] = build.need("rows", "route")
    placement = build.need("placement", "route")
    mesh: Mesh = build.extras.get("mesh", build.spec.mesh)
    sources = source_cores(net, build.need("cores", "route"))
    total_rows = sum(r.core.size for r in rows if r is not None)
    per_chip = total_rows > CORE_LEVEL_MAX_ROWS
    x = np.append(placement.x, 0)  # index -1 = the host's tile (0, 0)
    y = np.append(placement.y, 0)
    n_nodes = (int(placement.chip.max()) + 1 if len(placement) else 1) if per_chip \
        else len(placement)
    group = np.append(placement.chip, 0) if per_chip else np.arange(len(placement) + 1)
    group[-1] = HOST
    if per_chip:  # few chip pairs: count them directly, no sort
        tally = np.zeros((n_nodes + 1) * n_nodes, dtype=np.int64)
    keys, counts = [], []
    for r, src_of in zip(rows, sources, strict=True):
        if r is None or r.core.size == 0:
            continue
        src = np.full(r.core.size, HOST, dtype=np.int64) if src_of is None else src_of[r.pre]
        key = (group[src] + 1) * n_nodes + group[r.core]
        if per_chip:
            tally += np.bincount(key, minlength=tally.size)
            continue
        uniq, count = np.unique(key, return_counts=True)
        keys.append(uniq)
        counts.append(count)
    if per_chip:
        key = np.flatnonzero(tally)
        messages = tally[key]
    elif keys:
        key, inverse = np.unique(np.concatenate(keys), return_inverse=True)
        messages = np.bincount(inverse, weights=np.concatenate(counts)).astype(np.int64)
    else:
        key, messages = np.zeros(0, np.int64), np.zeros(0, np.int64)
    src, dst = np.divmod(key, n_nodes)
    src -= 1
    if per_chip:
        cx, cy = np.divmod(np.arange(n_nodes), mesh.chips_x)[::-1]
        cx = np.append(cx, 0)
        cy = np.append(cy, 0)
        hx = np.abs(cx[src] - cx[dst]) * mesh.tiles_x
        hy = np.abs(cy[src] - cy[dst]) * mesh.tiles_y
        crossings = np.abs(cx[src] - cx[dst]) + np.abs(cy[src] - cy[dst])
    else:
        hx = np.abs(x[src] - x[dst])
        hy = np.abs(y[src] - y[dst])
        crossings = (np.abs(x[src] // mesh.tiles_x - x[dst] // mesh.tiles_x)
                     + np.abs(y[src] // mesh.tiles_y - y[dst] // mesh.tiles_y))
    routes = Routes(src=src, dst=dst, messages=messages, hops_x=hx, hops_y=hy,
                    chip_crossings=crossings, level="chip" if per_chip else "core")
    return build.replace(routes=routes)
