"""FPGA sizing study: how do the core's weight width and neuron count trade LUTs for
accuracy?

Every point compiles the same PyNN network onto a build of our core (an iCE40 UP5K preset
with ``core.w_bits`` / ``core.n_neurons`` overridden), co-simulates it on the golden model,
measures its deviation from the float reference and - with ``--synth`` - synthesises that
build for the iCEBreaker with the open yosys/nextpnr flow for LUTs, flip-flops, BRAM and
fmax.

    python examples/dse_fpga_sizing.py --out build/dse/fpga-sizing
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


def sweep(w_bits: tuple[int, ...], neurons: tuple[int, ...], synth: bool, t_stop: float,
          n_cells: int) -> Sweep:
    return Sweep(
        name="fpga-sizing",
        evaluate="toolchain.dse.evaluate:cosimulate",
        axes=(Axis("core.w_bits", w_bits), Axis("core.n_neurons", neurons)),
        fixed={"network": str(HERE / "ei_network.py"), "args": f"spikeport --n {n_cells}",
               "target": "fpga", "core": "ice40up5k", "board": "icebreaker", "synth": synth,
               "t_stop": t_stop},
        objectives=(Objective("luts" if synth else "core.w_bits", "min"),
                    Objective("van_rossum", "min")),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/dse/fpga-sizing"))
    parser.add_argument("--w-bits", type=int, nargs="+", default=[4, 6, 8])
    parser.add_argument("--neurons", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--cells", type=int, default=48, help="network size (cells)")
    parser.add_argument("--t-stop", type=float, default=300.0)
    parser.add_argument("--synth", action=argparse.BooleanOptionalAction, default=True,
                        help="synthesise every build for LUT counts (slow: seconds per point)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None)
    args = parser.parse_args(argv)

    study = sweep(tuple(args.w_bits), tuple(args.neurons), args.synth, args.t_stop, args.cells)
    store = run_sweep(study, args.out, workers=args.workers, scheduler=args.scheduler)
    df = table(store)
    write_tables(df, args.out)
    failed = all_failed(df)
    if failed is not None:
        write_report(df, args.out, name=study.name,
                     columns=[*(a.name for a in study.axes), "status", "failure"])
        print(f"{study.name}: {failed}", file=sys.stderr)
        return 1
    plot_metric_vs_parameter(df, "van_rossum", "core.w_bits", args.out / "accuracy_vs_wbits.png",
                             by="core.n_neurons")
    cols = ["core.w_bits", "core.n_neurons", "status", "rate_error", "van_rossum", "failure"]
    if args.synth:
        cols[4:4] = ["luts", "flip_flops", "block_ram", "fmax_mhz"]
        plot_metric_vs_parameter(df, "luts", "core.n_neurons", args.out / "luts_vs_neurons.png",
                                 by="core.w_bits")
        front = pareto_front(df, study.objectives)
        plot_pareto(df, front, *study.objectives, args.out / "pareto.png")
    df = df.sort_values(["core.w_bits", "core.n_neurons"])
    cols = [c for c in cols if c in df]
    print(summary(df, cols))
    write_report(df, args.out, name=study.name, columns=cols, objectives=study.objectives)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
