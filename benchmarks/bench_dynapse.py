"""Co-simulation speed of the DYNAP-SE model against the float reference, same network,
same run.

The network is VA-CUBA (cells and weights from ``bench_va_cuba``, which takes them from
PyNN's VAbenchmarks.py), scaled: N neurons, 4:1 excitatory:inhibitory, fan-in 40, built
directly as IR.  Each configuration is compiled once and simulated ``--repeats`` times for
``--t-stop`` ms; the table gives the median wall time and its ratio to the reference:

* ``reference``: the float64 engine with ideal interconnect (the peer);
* ``dynapse``: DPI kernels on the 0.02 ms internal step (5 substeps per 0.1 ms step),
  mismatch, SE1 weights and the routing model;
* ``dynapse-1sub``: the same with one substep per step, which isolates the cost of the
  fine internal step.

The machine is shared: read ratios, not seconds.
Run: ``python -m benchmarks.bench_dynapse [--neurons 400 1000] [--t-stop 200]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from benchmarks.bench_va_cuba import CELL, DELAY, V_RESET, V_THRESH, W_EXC, W_INH
from toolchain.ir import CellType, Network, Population, Projection, Recording

FAN_IN = 40  # the full network's 0.02 x 4000 is 80, over DYNAP-SE's 64 CAM words


def va_cuba(n: int, seed: int = 1) -> Network:
    rng = np.random.default_rng(seed)
    n_exc = n * 4 // 5
    pops = (Population("exc", CellType.IF_CURR_EXP, n_exc, parameters=CELL,
                       initial_values={"v": rng.uniform(V_RESET, V_THRESH, n_exc)}),
            Population("inh", CellType.IF_CURR_EXP, n - n_exc, parameters=CELL,
                       initial_values={"v": rng.uniform(V_RESET, V_THRESH, n - n_exc)}))
    p = FAN_IN / n
    projs = []
    for pre, n_pre, w, receptor in (("exc", n_exc, W_EXC, "excitatory"),
                                    ("inh", n - n_exc, W_INH, "inhibitory")):
        for post in pops:
            i, j = np.nonzero(rng.random((n_pre, post.size)) < p)
            projs.append(Projection(f"{pre}->{post.label}", pre, post.label, i, j,
                                    np.full(i.size, w), np.full(i.size, DELAY),
                                    receptor=receptor))
    recs = tuple(Recording(q.label, "spikes", np.arange(q.size)) for q in pops)
    return Network(populations=pops, projections=tuple(projs), recordings=recs,
                   label=f"va-cuba-{n}")


def configurations() -> dict[str, object]:
    from toolchain.targets import get_target

    return {
        "reference": get_target("reference"),
        "dynapse": get_target("dynapse"),
        "dynapse-1sub": get_target("dynapse", max_substep=0.1),
    }


def measure(network: Network, t_stop: float, repeats: int) -> dict[str, tuple[float, float]]:
    """Median seconds and mean rate (Hz) per configuration."""
    out = {}
    for name, target in configurations().items():
        compiled = target.compile(network)  # type: ignore[attr-defined]
        times, rate = [], 0.0
        for _ in range(repeats):
            sim = target.simulator(compiled)  # type: ignore[attr-defined]
            start = time.perf_counter()
            sim.run_until(t_stop)
            times.append(time.perf_counter() - start)
            res = sim.result()
            rate = sum(r.count for r in res.spikes.values()) / network.n_neurons / t_stop * 1e3
        out[name] = (statistics.median(times), rate)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, nargs="+", default=[400, 1000])
    parser.add_argument("--t-stop", type=float, default=200.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'network':<16} {'config':<14} {'median s':>9} {'x reference':>12} "
          f"{'rate Hz':>8}")
    for n in args.neurons:
        network = va_cuba(n)
        results = measure(network, args.t_stop, args.repeats)
        ref = results["reference"][0]
        for name, (seconds, rate) in results.items():
            print(f"{network.label:<16} {name:<14} {seconds:>9.3f} {seconds / ref:>12.2f} "
                  f"{rate:>8.2f}")


if __name__ == "__main__":
    main()
