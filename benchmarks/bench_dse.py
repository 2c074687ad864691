"""Design-space exploration throughput and framework overhead.

Peer: the same point function called in a plain loop.  Measured: the sweep runner with 1
and 2 local worker processes and with a 2-worker Dask LocalCluster, each on fresh result
directories (so nothing is resumed).  Overhead per point = (wall time - work time / workers)
/ points, where work time is the plain loop's.  Medians of a few repeats; the machine is
shared, so read ratios, not absolute seconds.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from toolchain.dse import Axis, Sweep, run_sweep
from toolchain.dse.spec import resolve

POINTS = 16


def busy_point(params: dict) -> dict:
    """A CPU-bound point: a fixed amount of numpy work (~``ms`` milliseconds)."""
    import numpy as np

    # Element-wise work only: BLAS would spawn its own threads and blur the worker count.
    rng = np.random.default_rng(int(params["seed"]))
    a = rng.standard_normal(200_000)
    for _ in range(int(params["reps"])):
        a = np.tanh(a * 1.01 + 0.1)
    return {"mean": float(a.mean())}


def _sweep(reps: int) -> Sweep:
    return Sweep("bench", "benchmarks.bench_dse:busy_point",
                 axes=(Axis("seed", tuple(range(POINTS))),), fixed={"reps": reps})


def _interleaved(fns: dict, repeats: int = 3) -> dict[str, float]:
    """Median wall time of each function, measured round-robin so drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return {name: statistics.median(v) for name, v in samples.items()}


def main() -> None:
    from distributed import LocalCluster

    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        for reps in (4, 60):
            sweep = _sweep(reps)
            f = resolve(sweep.evaluate)

            def run(sweep=sweep, **kw):
                with tempfile.TemporaryDirectory() as d:
                    store = run_sweep(sweep, Path(d) / "r", progress=False, **kw)
                    failed = [r for r in store.results() if r.status != "ok"]
                    if failed:  # a fast failure would look like a fast runner
                        raise RuntimeError(f"point {failed[0].point_id} failed: {failed[0].error}")

            t = _interleaved({
                "plain loop (peer)": lambda s=sweep, f=f: [f(dict(p.params)) for p in s.points()],
                "sweep, 1 worker": lambda run=run: run(workers=1),
                "sweep, 2 workers": lambda run=run: run(workers=2),
                "sweep, Dask 2 workers": lambda run=run: run(scheduler=cluster.scheduler_address),
            })
            loop = t["plain loop (peer)"]
            for name, wall in t.items():
                workers = 2 if "2 workers" in name else 1
                overhead = (wall - loop / workers) / POINTS
                rows.append((f"{loop / POINTS * 1e3:.0f} ms", name, wall, POINTS / wall,
                             loop / wall, overhead * 1e3))
    print(f"\nDSE throughput ({POINTS} points per sweep; median of 3)")
    print(f"{'work/point':>10}  {'runner':<24}{'wall s':>8}{'points/s':>10}{'speed-up':>10}"
          f"{'overhead/point ms':>19}")
    for r in rows:
        print(f"{r[0]:>10}  {r[1]:<24}{r[2]:>8.2f}{r[3]:>10.1f}{r[4]:>9.2f}x{r[5]:>19.1f}")


if __name__ == "__main__":
    sys.exit(main())
