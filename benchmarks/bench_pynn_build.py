"""Building a PyNN network: spikeport's backend against pyNN.brian2 on the cortical
microcircuit (examples/microcircuit.py), from the script to a simulator ready to run.

Measured per phase: the PyNN build (populations, connectors, weights and delays), the IR
(``build_network``), compile for the reference target and the simulator's construction
(synapse rows, delay rings, the compiled loop's layout; no simulation), each in wall time,
with the whole run's CPU time beside it (the machine is shared: CPU time says what the
build costs, wall time what it took).  Peak memory is the process's maximum RSS, shown
against the bytes the synapses need: an int32 post index, a float32 weight and an int16
delay each (10 bytes a synapse).

Peer: the same script on pyNN.brian2 (PyNN's generic connector code, one
``_convergent_connect`` per target cell, FixedTotalNumberConnector drawing synapse by
synapse, into Brian2 ``Synapses``), timed to the end of the network's construction, at
the scales it manages in minutes; the ratio is its build time over spikeport's whole
time to a ready simulator at the same scale.  Each run is its own subprocess, so its
peak RSS is its own.  Medians over ``--repeats``; read ratios, the machine is noisy.

Run: ``python -m benchmarks.bench_pynn_build [--scales 0.1 1.0] [--peer-scales 0.01 0.02]
[--repeats 1]`` (the full scale needs about 6 GB).
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
if which == "peer":
    import pyNN.brian2 as sim
else:
    import toolchain.pynn as sim
c0, t0 = time.process_time(), time.perf_counter()
sim.setup(timestep=0.1, min_delay=0.1, max_delay=100.0)
net = microcircuit.build(sim, scale)
t1 = time.perf_counter()
out = {{"synapses": sum(len(p) for p in net["projections"]),
        "cells": sum(p.size for p in net["populations"].values()), "build": t1 - t0}}
if which == "spikeport":
    from toolchain.pynn.build import build_network
    from toolchain.pynn.simulator import state
    from toolchain.targets import get_target
    built = build_network(state)
    t2 = time.perf_counter()
    target = get_target("reference")
    compiled = target.compile(built.network)
    t3 = time.perf_counter()
    simulator = target.simulator(compiled)
    t4 = time.perf_counter()
    out.update(ir=t2 - t1, compile=t3 - t2, simulator=t4 - t3,
               compiled_loop=simulator.why_not_compiled is None)
out["total"] = time.perf_counter() - t0
out["cpu"] = time.process_time() - c0
out["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
print(json.dumps(out))
"""

#: bytes per synapse a simulator needs: int32 post index, float32 weight, int16 delay
NEEDED_BYTES = 4 + 4 + 2


def measure(which: str, scale: float) -> dict:
    code = CHILD.format(examples=str(ROOT / "examples"))
    done = subprocess.run([sys.executable, "-c", code, which, str(scale)], capture_output=True,
                          text=True, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{which} at scale {scale} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median_of(runs: list[dict]) -> dict:
    return {k: statistics.median(float(r[k]) for r in runs) for k in runs[0]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", type=float, nargs="+", default=[0.01, 0.1, 1.0],
                        help="microcircuit scales spikeport builds")
    parser.add_argument("--peer-scales", type=float, nargs="*", default=[0.01],
                        help="scales pyNN.brian2 builds too (minutes each beyond 0.02)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)

    print(__doc__.splitlines()[0])
    print(__doc__.splitlines()[1])
    header = (f"{'scale':>5} {'cells':>6} {'synapses':>11} | {'pynn s':>6} {'ir s':>5} "
              f"{'compile s':>9} {'sim s':>5} {'total s':>7} {'cpu s':>6} | {'peak GB':>7} "
              f"{'need GB':>7} {'peak/need':>9} | {'brian2 s':>8} {'brian2 GB':>9} "
              f"{'b2/sp':>6}")
    print(header)
    print("-" * len(header))
    for scale in args.scales:
        ours = median_of([measure("spikeport", scale) for _ in range(args.repeats)])
        need = ours["synapses"] * NEEDED_BYTES / 2**30
        peer_txt = f"{'-':>8} {'-':>9} {'-':>6}"
        if scale in args.peer_scales:
            peer = median_of([measure("peer", scale) for _ in range(args.repeats)])
            assert peer["synapses"] == ours["synapses"], "the two builds differ in size"
            peer_txt = (f"{peer['build']:8.2f} {peer['rss_gb']:9.2f} "
                        f"{peer['build'] / ours['total']:6.1f}")
        print(f"{scale:5.2f} {int(ours['cells']):6d} {int(ours['synapses']):11d} | "
              f"{ours['build']:6.2f} {ours['ir']:5.2f} {ours['compile']:9.2f} "
              f"{ours['simulator']:5.2f} {ours['total']:7.2f} {ours['cpu']:6.2f} | "
              f"{ours['rss_gb']:7.2f} {need:7.2f} {ours['rss_gb'] / need:9.2f} | {peer_txt}")
        if not ours["compiled_loop"]:
            print("       (the simulator runs on the numpy path: the compiled loop was refused)")


if __name__ == "__main__":
    main()
