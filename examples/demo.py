"""The spikeforge demo: a PyNN network run on a spikeforge target, with a raster plot and a
text summary.

    python examples/demo.py --out build/demo            # 4000-cell VA-CUBA, 1 s
    python examples/demo.py --out build/demo --quick    # 500 cells, 300 ms

The network is examples/va_cuba.py, a plain PyNN script; here it runs through
spikeforge's PyNN backend (``toolchain.pynn``) on the float reference target.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def isi_cv(trains: list[np.ndarray]) -> float:
    cvs = [np.std(np.diff(t)) / np.mean(np.diff(t)) for t in trains if t.size >= 3]
    return float(np.mean(cvs)) if cvs else float("nan")


def raster(result: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    offset = 0
    for name, colour in (("exc", "tab:blue"), ("inh", "tab:red")):
        trains = result[name]
        times = np.concatenate(trains) if trains else np.zeros(0)
        cells = np.concatenate([np.full(t.size, offset + i) for i, t in enumerate(trains)]) \
            if trains else np.zeros(0)
        ax.plot(times, cells, ".", ms=1.0, color=colour, label=name)
        offset += len(trains)
    ax.set_xlim(0, result["t_stop"])
    ax.set_ylim(0, offset)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("cell")
    ax.set_title(title)
    ax.legend(loc="upper right", markerscale=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def rate_hz(trains: list[np.ndarray], t_stop: float) -> float:
    return sum(t.size for t in trains) / len(trains) / (t_stop / 1000.0)


def summary(result: dict, n: int, target: str) -> str:
    lines = [
        "spikeforge demo: Vogels-Abbott CUBA network (examples/va_cuba.py) via PyNN",
        f"target            : {target}",
        f"cells             : {n} ({len(result['exc'])} exc, {len(result['inh'])} inh)",
        f"synapses          : {result['synapses']}",
        f"simulated         : {result['t_stop']:g} ms",
    ]
    for name in ("exc", "inh"):
        lines.append(f"{name} rate          : {rate_hz(result[name], result['t_stop']):.2f} Hz"
                     f"  (ISI CV {isi_cv(result[name]):.2f})")
    lines += [
        f"build (PyNN)      : {result['build_s']:.2f} s",
        f"compile + run     : {result['run_s']:.2f} s",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo"),
                        help="directory for raster.png and summary.txt")
    parser.add_argument("--quick", action="store_true", help="500 cells for 300 ms")
    parser.add_argument("--target", default="reference", help="spikeforge target")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(HERE))
    import va_cuba

    import toolchain.pynn as sim
    from toolchain.pynn import simulator

    n, t_stop = (500, 300.0) if args.quick else (4000, 1000.0)
    simulator.state.default_target = args.target
    result = va_cuba.run(sim, n=n, t_stop=t_stop)
    args.out.mkdir(parents=True, exist_ok=True)
    raster(result, args.out / "raster.png", f"VA-CUBA, {n} cells, target '{args.target}'")
    text = summary(result, n, args.target)
    (args.out / "summary.txt").write_text(text)
    print(text, end="")
    print(f"wrote {args.out / 'raster.png'} and {args.out / 'summary.txt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
