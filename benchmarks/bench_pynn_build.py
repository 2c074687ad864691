"""Building a PyNN network: spikeport's vectorised connectors against PyNN's own
per-target connection code, on the cortical microcircuit (examples/microcircuit.py).

Peer: the same PyNN script on pyNN.mock, which runs PyNN's generic connector code
(``_standard_connect`` -> one ``_convergent_connect`` per target cell; the
FixedTotalNumberConnector draws synapse by synapse) and stores the connections, without
simulating; every backend built on that path pays at least this.  Measured: spikeport's
backend, split into the PyNN build, the IR build and compile + simulator set-up on the
reference target (no simulation).  Each run is its own subprocess, so its peak RSS
(ru_maxrss) is its own.  Medians over ``--repeats``; the machine is shared, read ratios.

The last line extrapolates spikeport's time and memory linearly in the synapse count to
the full-scale microcircuit (0.3 billion synapses); ``--full`` measures it instead
(needs about 12 GB).

Run: ``python -m benchmarks.bench_pynn_build [--repeats 3] [--full]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {examples!r})
import microcircuit
which, scale = sys.argv[1], float(sys.argv[2])
t0 = time.perf_counter()
if which == "peer":
    import pyNN.mock as sim
else:
    import toolchain.pynn as sim
t_import = time.perf_counter()
sim.setup(timestep=0.1, min_delay=0.1, max_delay=100.0)
net = microcircuit.build(sim, scale)
t_build = time.perf_counter()
out = {{"synapses": sum(len(p) for p in net["projections"]),
        "cells": sum(p.size for p in net["populations"].values()),
        "build": t_build - t_import}}
if which == "spikeport":
    from toolchain.pynn.build import build_network
    from toolchain.pynn.simulator import state
    from toolchain.targets import get_target
    built = build_network(state)
    t_ir = time.perf_counter()
    target = get_target("reference")
    target.simulator(target.compile(built.network))
    t_compile = time.perf_counter()
    out.update(ir=t_ir - t_build, compile=t_compile - t_ir)
out["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""

FULL_SYNAPSES = 0.3e9  # order of the full-scale model (Potjans & Diesmann 2014)


def measure(which: str, scale: float) -> dict:
    code = CHILD.format(examples=str(ROOT / "examples"))
    done = subprocess.run([sys.executable, "-c", code, which, str(scale)], capture_output=True,
                          text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full", action="store_true", help="also build the full scale")
    args = parser.parse_args(argv)

    peer_scales = (0.01, 0.02)
    own_scales = (0.01, 0.02, 0.1, 0.25) + ((1.0,) if args.full else ())
    header = (f"{'scale':>6} {'cells':>7} {'synapses':>11} | {'peer build s':>12} | "
              f"{'sp build s':>10} {'ir s':>6} {'compile s':>9} {'total s':>8} "
              f"{'peak GB':>7} | {'peer/sp':>7}")
    print(__doc__.splitlines()[0])
    print(header)
    print("-" * len(header))
    last = None
    for scale in own_scales:
        ours = median_of([measure("spikeport", scale) for _ in range(args.repeats)])
        total = ours["build"] + ours["ir"] + ours["compile"]
        peer_txt, ratio_txt = f"{'-':>12}", f"{'-':>7}"
        if scale in peer_scales:
            peer = median_of([measure("peer", scale) for _ in range(args.repeats)])
            peer_txt = f"{peer['build']:12.2f}"
            ratio_txt = f"{peer['build'] / ours['build']:7.1f}"
        print(f"{scale:6.2f} {int(ours['cells']):7d} {int(ours['synapses']):11d} | {peer_txt} | "
              f"{ours['build']:10.2f} {ours['ir']:6.2f} {ours['compile']:9.2f} {total:8.2f} "
              f"{ours['rss_gb']:7.2f} | {ratio_txt}")
        last = (ours, total)
    if last is not None and not args.full:
        ours, total = last
        factor = FULL_SYNAPSES / ours["synapses"]
        print(f"extrapolated to {FULL_SYNAPSES:.1e} synapses (linear in synapses): "
              f"about {total * factor:.0f} s and {ours['rss_gb'] * factor:.1f} GB")


if __name__ == "__main__":
    main()
