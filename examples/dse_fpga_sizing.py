"""FPGA sizing study: how do the core's weight width and neuron count trade LUTs for
accuracy?

Every point compiles the same PyNN network onto a build of our core (the board's core
preset with ``core.w_bits`` / ``core.n_neurons`` overridden), co-simulates it on the golden model,
measures its deviation from the float reference and - with ``--synth`` (the default) -
builds it with the protocol device for each board (iCEBreaker and ULX3S, each board's own
core preset) with the open yosys/nextpnr flow for LUTs, flip-flops, BRAM and fmax.  A
board where no point fits says so with nextpnr's count; the others are still tabulated
and plotted.

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


def sweep(w_bits: tuple[int, ...], neurons: tuple[int, ...], boards: tuple[str, ...],
          synth: bool, t_stop: float, n_cells: int) -> Sweep:
    # each board's own core preset (ice40up5k, ecp5-85f) with the swept fields overridden
    return Sweep(
        name="fpga-sizing",
        evaluate="toolchain.dse.evaluate:cosimulate",
        axes=(Axis("board", boards), Axis("core.w_bits", w_bits),
              Axis("core.n_neurons", neurons)),
        fixed={"network": str(HERE / "ei_network.py"), "args": f"spikeport --n {n_cells}",
               "target": "fpga", "synth": synth, "t_stop": t_stop},
        objectives=(Objective("luts" if synth else "core.w_bits", "min"),
                    Objective("van_rossum", "min")),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/dse/fpga-sizing"))
    parser.add_argument("--w-bits", type=int, nargs="+", default=[4, 6, 8])
    parser.add_argument("--neurons", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--boards", nargs="+", default=["icebreaker", "ulx3s"],
                        help="boards to build for (each with its own core preset)")
    parser.add_argument("--cells", type=int, default=48, help="network size (cells)")
    parser.add_argument("--t-stop", type=float, default=300.0)
    parser.add_argument("--synth", action=argparse.BooleanOptionalAction, default=True,
                        help="synthesise every build for LUT counts (slow: seconds per point)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scheduler", default=None)
    args = parser.parse_args(argv)

    study = sweep(tuple(args.w_bits), tuple(args.neurons), tuple(args.boards), args.synth,
                  args.t_stop, args.cells)
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
    cols = ["board", "core.w_bits", "core.n_neurons", "status", "rate_error", "van_rossum",
            "failure"]
    if args.synth:
        cols[5:5] = ["luts", "flip_flops", "block_ram", "fmax_mhz"]
        built = df[df["status"] == "ok"]
        # LUTs against neurons per board (an iCE40 LC and an ECP5 LUT4 are not one unit)
        plot_metric_vs_parameter(built, "luts", "core.n_neurons",
                                 args.out / "luts_vs_neurons.png", by="board")
        front = pareto_front(df, study.objectives)
        plot_pareto(df, front, *study.objectives, args.out / "pareto.png")
        for board in sorted(set(df["board"]) - set(built["board"])):
            print(f"{study.name}: no point built for the {board}; the first failure: "
                  f"{df.loc[df['board'] == board, 'failure'].dropna().iloc[0].splitlines()[-1]}",
                  file=sys.stderr)
    df = df.sort_values(["board", "core.w_bits", "core.n_neurons"])
    cols = [c for c in cols if c in df]
    print(summary(df, cols))
    write_report(df, args.out, name=study.name, columns=cols, objectives=study.objectives)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
