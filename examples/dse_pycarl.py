"""A PyCARL-style study: one PyNN network on Loihi, SpiNNaker2, DYNAP-SE and our FPGA core.

For each target (and each network size), how far does the hardware's behaviour move from
the float reference, and what does a timestep cost in energy and latency?  The answer is a
tidy table (CSV + Parquet), a Pareto front of energy against rate error, and plots.

    python examples/dse_pycarl.py --out build/dse/pycarl            # local, 2 workers
    python examples/dse_pycarl.py --scheduler tcp://HOST:8786        # the same on Dask
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from toolchain.dse import (
    Axis,
    Objective,
    Sweep,
    pareto_front,
    plot_metric_vs_parameter,
    plot_pareto,
    run_sweep,
    table,
)
from toolchain.dse.results import all_failed, summary, write_report, write_tables

HERE = Path(__file__).resolve().parent
TARGETS = ("loihi", "spinnaker2", "dynapse", "fpga")


def sweep(sizes: tuple[int, ...], t_stop: float) -> Sweep:
    return Sweep(
        name="pycarl",
        evaluate="toolchain.dse.evaluate:cosimulate",
        axes=(Axis("target", TARGETS),
              Axis("args", tuple(f"spikeport --n {n}" for n in sizes))),
        fixed={"network": str(HERE / "ei_network.py"), "t_stop": t_stop},
        objectives=(Objective("energy_nj_per_step", "min"), Objective("rate_error", "min")),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/dse/pycarl"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--t-stop", type=float, default=300.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None)
    args = parser.parse_args(argv)

    study = sweep(tuple(args.sizes), args.t_stop)
    store = run_sweep(study, args.out, workers=args.workers, scheduler=args.scheduler)
    df = table(store)
    write_tables(df, args.out)
    failed = all_failed(df)
    if failed is not None:
        write_report(df, args.out, name=study.name,
                     columns=[*(a.name for a in study.axes), "status", "failure"])
        print(f"{study.name}: {failed}", file=sys.stderr)
        return 1
    df["n"] = df["args"].str.split().str[-1].astype(int)
    front = pareto_front(df, study.objectives)
    plot_pareto(df, front, *study.objectives, args.out / "pareto.png", colour_by="target")
    plot_metric_vs_parameter(df, "energy_nj_per_step", "n", args.out / "energy_vs_n.png")
    plot_metric_vs_parameter(df, "van_rossum", "n", args.out / "van_rossum_vs_n.png")
    cols = ["target", "n", "status", "rate_error", "van_rossum", "energy_nj_per_step",
            "hw_latency_us_per_step", "failure"]
    df = df.sort_values(["target", "n"])
    cols = [c for c in cols if c in df]
    print(summary(df, cols))
    write_report(df, args.out, name=study.name, columns=cols, objectives=study.objectives)
    best = ", ".join(f"{t} n={n}" for t, n in zip(front.target, front.n, strict=True))
    print(f"\nPareto front (energy vs rate error): {best}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
