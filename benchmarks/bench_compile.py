"""Compile time and peak memory for the Potjans-Diesmann cortical microcircuit on Loihi.

The network is built directly as IR: 8 populations (77,169 neurons at full scale), 64
FixedTotalNumber projections with multapses (total synapse counts from the connection
probabilities, ~0.3 billion at full scale), Poisson background as one source neuron per
target neuron.  ``scale`` multiplies the neuron counts; synapse counts follow from the
same connection probabilities, so in-degrees scale too.

Peer, measured in the same process on the same network: building a scipy CSR matrix of
every projection (the least a simulator does with a synapse list).  Each scale runs in a
fresh subprocess so its peak RSS (ru_maxrss, which includes the network itself at 16 bytes
per synapse) is its own.  10% runs ``REPEATS`` times and reports medians; full scale runs
once.  The machine is shared: read ratios (of CPU seconds, which a busy machine inflates
less than wall seconds), not absolute seconds.

The full-scale microcircuit does not fit Loihi 1: L2/3 and L5 excitatory neurons have
more distinct inputs than a core's 4096 input axons.  It is compiled non-strict, so every
pass still runs and the report lists what is over the limit.

Run: ``python -m benchmarks.bench_compile [--scales 0.1 1.0]``.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from toolchain.ir import Network, PoissonSource, Population, Projection

# Potjans & Diesmann 2014, Cereb. Cortex 24:785, Table 5 (as in the PyNN and NEST examples).
LABELS = ("L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I")
N_FULL = (20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948)
# CONN[post][pre]: connection probabilities
CONN = (
    (0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0),
    (0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0),
    (0.0077, 0.0059, 0.0497, 0.1350, 0.0067, 0.0003, 0.0453, 0.0),
    (0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0),
    (0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0),
    (0.0548, 0.0269, 0.0257, 0.0022, 0.0600, 0.3158, 0.0086, 0.0),
    (0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252),
    (0.0364, 0.0010, 0.0034, 0.0005, 0.0277, 0.0080, 0.0658, 0.1443),
)
K_EXT = (1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100)
BG_RATE = 8.0  # Hz per external synapse
W_EXC = 0.0878  # nA (87.8 pA); L4E -> L23E doubled; inhibitory g = -4
G_INH = -4.0
DELAY_EXC, DELAY_INH = 1.5, 0.75  # ms, sd 50%
DT = 0.1
REPEATS = 3


def microcircuit(scale: float, seed: int = 1) -> Network:
    rng = np.random.default_rng(seed)
    sizes = [max(int(round(n * scale)), 1) for n in N_FULL]
    params = {"tau_m": 10.0, "cm": 0.25, "tau_syn_E": 0.5, "tau_syn_I": 0.5, "tau_refrac": 2.0,
              "v_rest": -65.0, "v_reset": -65.0, "v_thresh": -50.0}
    pops = tuple(Population(lab, "IF_curr_exp", n, parameters=params)
                 for lab, n in zip(LABELS, sizes, strict=True))
    sources, projs = [], []
    for b, (post, n_post) in enumerate(zip(LABELS, sizes, strict=True)):
        for a, (pre, n_pre) in enumerate(zip(LABELS, sizes, strict=True)):
            c = CONN[b][a]
            if c == 0:
                continue
            k = int(round(math.log(1 - c) / math.log(1 - 1 / (n_pre * n_post))))
            exc = a % 2 == 0
            w = W_EXC * (2.0 if (pre, post) == ("L4E", "L23E") else 1.0) * (1 if exc else G_INH)
            d = DELAY_EXC if exc else DELAY_INH
            weight = rng.standard_normal(k, dtype=np.float32)
            weight *= np.float32(0.1 * abs(w))
            weight += np.float32(w)
            if exc:
                np.maximum(weight, 0, out=weight)
            else:
                np.minimum(weight, 0, out=weight)
            delay = rng.standard_normal(k, dtype=np.float32)
            delay *= np.float32(0.5 * d)
            delay += np.float32(d)
            np.maximum(delay, np.float32(DT), out=delay)
            projs.append(Projection(
                f"{pre}_{post}", pre, post,
                rng.integers(0, n_pre, k, dtype=np.int32),
                rng.integers(0, n_post, k, dtype=np.int32), weight, delay,
                receptor="excitatory" if exc else "inhibitory",
            ))
        bg = f"bg_{post}"
        sources.append(PoissonSource(bg, n_post, rate=np.full(n_post, K_EXT[b] * BG_RATE),
                                     start=np.zeros(n_post), duration=np.full(n_post, np.inf),
                                     seed=b))
        idx = np.arange(n_post, dtype=np.int32)
        projs.append(Projection(f"{bg}_{post}", bg, post, idx, idx,
                                np.full(n_post, W_EXC, np.float32),
                                np.full(n_post, DELAY_EXC, np.float32)))
    return Network(dt=DT, populations=pops, sources=tuple(sources), projections=tuple(projs),
                   label=f"microcircuit_{scale:g}")


def _rss_gb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize() / 1e9


def child(scale: float, repeats: int) -> dict:
    from scipy import sparse

    from toolchain.targets.loihi import LoihiTarget

    t0 = time.perf_counter()
    net = microcircuit(scale)
    build_s = time.perf_counter() - t0
    rss_network = _rss_gb()
    target = LoihiTarget(board="pohoiki_springs")
    times, cpu, art = [], [], None
    for _ in range(repeats):
        art = None
        t0, c0 = time.perf_counter(), time.process_time()
        art = target.compile(net, strict=False)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB -> GB
    peer, peer_cpu = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        for p in net.projections:
            sparse.csr_matrix((p.weight, (p.post_index, p.pre_index)),
                              shape=(net.population(p.post).size, net.node(p.pre).size))
        peer.append(time.perf_counter() - t0)
        peer_cpu.append(time.process_time() - c0)
    return {
        "scale": scale, "neurons": net.n_neurons, "synapses": net.n_synapses,
        "build_s": build_s, "compile_s": statistics.median(times),
        "compile_cpu_s": statistics.median(cpu), "peer_s": statistics.median(peer),
        "peer_cpu_s": statistics.median(peer_cpu), "rss_network_gb": rss_network,
        "peak_rss_gb": peak, "cores": len(art.cores), "chips": art.chips_used,
        "violations": len(art.violations), "placement_gain": art.placement.gain,
        "first_violation": art.violations[0].message if art.violations else "",
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[0.1, 1.0])
    ap.add_argument("--child", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)
    if args.child is not None:
        print(json.dumps(child(args.child, args.repeats or 1)))
        return
    rows = []
    for scale in args.scales:
        repeats = args.repeats or (REPEATS if scale < 0.5 else 1)
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_compile", "--child", str(scale),
             "--repeats", str(repeats)], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print("Loihi compile of the Potjans-Diesmann microcircuit (board pohoiki_springs, "
          "non-strict)")
    print(f"{'scale':>5} {'neurons':>8} {'synapses':>11} {'runs':>4} {'compile s':>9} "
          f"{'cpu s':>7} {'peer CSR s':>10} {'cpu s':>7} {'ratio':>6} {'net GB':>7} "
          f"{'peak GB':>7} {'cores':>6} {'chips':>5} {'gain':>5} {'over limit':>10}")
    for r in rows:
        print(f"{r['scale']:>5g} {r['neurons']:>8} {r['synapses']:>11} {r['repeats']:>4} "
              f"{r['compile_s']:>9.2f} {r['compile_cpu_s']:>7.2f} {r['peer_s']:>10.2f} "
              f"{r['peer_cpu_s']:>7.2f} {r['compile_cpu_s'] / r['peer_cpu_s']:>6.2f} "
              f"{r['rss_network_gb']:>7.2f} "
              f"{r['peak_rss_gb']:>7.2f} {r['cores']:>6} {r['chips']:>5} "
              f"{r['placement_gain']:>5.2f} {r['violations']:>10}")
    for r in rows:
        if r["first_violation"]:
            print(f"scale {r['scale']:g}: {r['first_violation']}")


if __name__ == "__main__":
    main()
