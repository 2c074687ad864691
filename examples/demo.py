"""The spikeport demo: one PyNN script with STDP, from capture to a board, end to end.

    python examples/demo.py --out build/demo              # 2 s of biological time
    python examples/demo.py --out build/demo --quick      # 0.5 s
    python examples/demo.py --board rtl-sim               # the board is the simulated RTL

The script is examples/stdp_network.py, plain PyNN (it runs unmodified on pyNN.brian2 too).
spikeport then
  1. captures it into the network IR;
  2. compiles it for the FPGA core (the iCEBreaker build): quantisation, packing into the
     core's memories, resource use, clock cycles and energy per timestep;
  3. co-simulates the core's golden model and the float reference, and measures the
     deviation (rates, spike timing, learnt weights);
  4. runs it on a board over UART with `spikeport run`: the virtual board (the golden
     model behind a pseudo-terminal) unless --board says otherwise; input spikes stream in,
     output spikes stream out live, learnt weights are read back;
  5. checks the board against the golden model spike for spike and weight for weight, and
     writes raster.png, weights.png and summary.txt.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "stdp_network.py"
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing


def board_run(args: argparse.Namespace, script_args: list[str], out: Path) -> tuple[
        list[np.ndarray], np.ndarray, float]:
    """`spikeport run` in a subprocess, exactly as a user types it: its progress goes to
    the terminal; its Neo file and the weights it read back come back here."""
    from neo.io import NeoMatlabIO

    weights = out / "board_weights.npy"
    cmd = [sys.executable, "-m", "toolchain", "run", "--board", args.board, "--preset",
           args.preset, "--out", str(out / "board"), str(SCRIPT), *script_args,
           "--weights", str(weights)]
    print("$ spikeport " + " ".join(cmd[3:]), flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=HERE.parent)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"demo: the board run failed (exit {done.returncode})")
    (seg,) = NeoMatlabIO(str(out / "board" / "spikes.mat")).read_block().segments
    trains = [np.sort(np.asarray(st.rescale("ms").magnitude)) for st in seg.spiketrains]
    return trains, np.load(weights), wall


def weight_matrix(net, result, label: str) -> np.ndarray:
    """A projection's weights as PyNN's (pre, post) array."""
    proj = next(p for p in net.projections if p.label == label)
    w = np.full((int(proj.pre_index.max()) + 1, int(proj.post_index.max()) + 1), np.nan)
    w[proj.pre_index, proj.post_index] = result.weights[label]
    return w


def figures(out: Path, rows: list[tuple[str, list[np.ndarray]]], weights: dict[str, np.ndarray],
            t_stop: float, n_corr: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(rows), 1, figsize=(8, 1.6 + 1.5 * len(rows)), sharex=True,
                             dpi=120)
    for ax, (name, trains) in zip(axes, rows, strict=True):
        for j, t in enumerate(trains):
            ax.plot(t, np.full(t.size, j), "|", color="k", ms=3)
        ax.set_ylabel("cell")
        ax.set_ylim(-1, len(trains))
        ax.set_title(name, fontsize=9, loc="left")
    axes[-1].set_xlim(0, t_stop)
    axes[-1].set_xlabel("time (ms)")
    fig.tight_layout()
    fig.savefig(out / "raster.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=120)
    for k, (name, w) in enumerate(weights.items()):
        ax.plot(np.arange(w.shape[0]) + 0.2 * (k - 1), np.nanmean(w, axis=1), "o", ms=3,
                label=name)
    ax.axvline(n_corr - 0.5, color="0.7", lw=0.8)
    ax.set_xlabel("input fibre (left of the line: correlated)")
    ax.set_ylabel("mean learnt weight (nA)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "weights.png")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo"))
    parser.add_argument("--quick", action="store_true", help="0.5 s instead of 2 s")
    parser.add_argument("--board", default="virtual", help="virtual, rtl-sim, or a real board")
    parser.add_argument("--preset", default="ice40up5k", help="FPGA core build")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    import toolchain as sp
    from toolchain.compiler.report import render_report
    from toolchain.pynn.capture import capture
    from toolchain.sim.metrics import compare
    from toolchain.targets.fpga.target import FpgaTarget

    script_args = ["spikeport", "--duration", "500" if args.quick else "2000"]

    print(f"[1/5] capture {SCRIPT.name} into the IR", flush=True)
    net, t_stop = capture(SCRIPT, script_args)
    n_syn = sum(p.size for p in net.projections)
    print(f"      {len(net.sources)} source(s), {len(net.populations)} population(s), "
          f"{n_syn} plastic synapses, {t_stop:g} ms at dt = {net.dt:g} ms")

    print(f"[2/5] compile for the FPGA core (build '{args.preset}')", flush=True)
    report = render_report(FpgaTarget(build=args.preset).compile(net))
    (out / "compile_report.txt").write_text(report)
    print("      " + report.rstrip().replace("\n", "\n      "))

    print("[3/5] co-simulate: float reference vs the core's golden model", flush=True)
    t0 = time.perf_counter()
    ref = sp.simulate(net, "reference", t_stop=t_stop)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    gold = sp.simulate(net, "fpga", t_stop=t_stop, build=args.preset)
    t_gold = time.perf_counter() - t0
    dev = compare(ref, gold, t_stop=t_stop)
    print("      " + dev.to_markdown().rstrip().replace("\n", "\n      "))

    print(f"[4/5] run on the '{args.board}' board over UART", flush=True)
    board_trains, board_w, t_board = board_run(args, script_args, out)

    print("[5/5] check the board against the golden model", flush=True)
    gold_trains = gold.spikes["cells"].trains()
    ref_trains = ref.spikes["cells"].trains()
    gold_w = weight_matrix(net, gold, "plastic")
    ref_w = weight_matrix(net, ref, "plastic")
    spikes_equal = len(board_trains) == len(gold_trains) and all(
        a.size == b.size and np.allclose(a, b) for a, b in zip(board_trains, gold_trains,
                                                               strict=True))
    weights_equal = board_w.shape == gold_w.shape and np.array_equal(board_w, gold_w)

    n_corr = gold_w.shape[0] // 2
    figures(out, [("float reference", ref_trains), ("FPGA core, golden model", gold_trains),
                  (f"FPGA core, '{args.board}' board over UART", board_trains)],
            {"reference": ref_w, "golden model": gold_w, "board": board_w}, t_stop, n_corr)
    pop = dev.population("cells")

    def w_line(name: str, w: np.ndarray) -> str:
        return (f"{name:<22}: correlated {np.nanmean(w[:n_corr]):.3f} nA, "
                f"uncorrelated {np.nanmean(w[n_corr:]):.3f} nA")

    text = "\n".join([
        f"spikeport demo: {SCRIPT.name} (PyNN, pair STDP) on the FPGA core '{args.preset}'",
        f"simulated             : {t_stop:g} ms, dt {net.dt:g} ms, {n_syn} plastic synapses",
        f"rate reference        : {pop.rate_ref:.2f} Hz ({pop.spikes_ref} spikes)",
        f"rate golden model     : {pop.rate:.2f} Hz ({pop.spikes} spikes), "
        f"error {100 * pop.rate_error:+.1f} %",
        f"van Rossum distance   : {pop.van_rossum:.3f}; spike disorder {pop.spike_disorder:.3f}",
        f"weight drift          : {100 * dev.weight_drift.get('plastic', float('nan')):.1f} % "
        "(relative RMS, golden model vs reference)",
        w_line("learnt, reference", ref_w),
        w_line("learnt, golden model", gold_w),
        w_line(f"learnt, {args.board} board", board_w),
        f"board vs golden model : spikes {'identical' if spikes_equal else 'DIFFER'}, "
        f"weights {'identical' if weights_equal else 'DIFFER'}",
        f"wall time             : reference {t_ref:.2f} s, golden model {t_gold:.2f} s, "
        f"board run {t_board:.1f} s (incl. compile, load, readback)",
    ]) + "\n"
    (out / "summary.txt").write_text(text)
    print(text, end="")
    print(f"wrote {out / 'raster.png'}, {out / 'weights.png'}, {out / 'summary.txt'}, "
          f"{out / 'compile_report.txt'} and {out / 'board'}")
    return 0 if spikes_equal and weights_equal else 1


if __name__ == "__main__":
    sys.exit(main())
