"""The portability matrix: one PyNN script on the float reference and on every target.

``spikeport portability SCRIPT [ARGS]`` captures the network the script builds and the
length of its first run (:mod:`toolchain.pynn.capture`, without simulating), then
compiles and simulates that same network on every registered target.  A target that
refuses the network (a limit, a feature it lacks) is a row that says why.  For each target
and population the table gives the firing rate and the deviation metrics of
:mod:`toolchain.sim.metrics` against the reference, plus per-step cost, read from the
target's JSON compile report (:func:`toolchain.compiler.report.report_data`) with the run
measured into it: energy per step as the compiler estimated it and as the run showed it
(from the run's counters where the target keeps them, else the target's cost model at the
run's activity; each row says which), hardware time per step, and the host time the
co-simulation took.

A script that runs several segments (``reset()`` between runs) is captured as the network
of its first segment, run for that segment's length.
"""

from __future__ import annotations

import csv
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolchain.ir import Network, Recording
from toolchain.progress import task
from toolchain.pynn.capture import CaptureError, capture
from toolchain.sim.metrics import compare
from toolchain.sim.results import SimulationResult

REFERENCE = "reference"
# Where scripts/bootstrap.sh puts PyNN's own example scripts, relative to the environment.
PYNN_EXAMPLES = Path("share") / "pynn-examples"
# Rasters show at most this many neurons per population, so big networks stay legible.
RASTER_NEURONS = 100


@dataclass
class TargetRun:
    """What happened on one target: its result and its JSON compile report (with the run
    measured into it), or why there are none."""

    target: str
    status: str  # "ok", "refused" (does not compile) or "failed" (cannot simulate)
    reason: str = ""
    result: SimulationResult | None = None
    sim_seconds: float = math.nan
    report: dict[str, Any] | None = None  # report_data(compiled, measured)
    weight_error: float = math.nan  # worst |realised - w| / max|w| over projections

    def figure(self, part: str, name: str) -> float:
        """``report[part][name]`` ("estimate" or "measured"), NaN where there is none."""
        block = (self.report or {}).get(part) or {}
        value = block.get(name)
        return float(value) if isinstance(value, (int, float)) else math.nan

    @property
    def energy_from(self) -> str:
        block = (self.report or {}).get("measured") or {}
        return str(block.get("energy_from", ""))

    @property
    def approximations(self) -> str:
        """What an approximate fit changed, short: "fan_in_pruned 'exc' (12 neurons, 340
        synapses); ..." ("" for a network that ran as written)."""
        out = []
        for a in (self.report or {}).get("approximations") or ():
            touched = ", ".join(f"{a[k]} {k}" for k in ("neurons", "synapses") if a[k])
            named = f"{a['name']} '{a['label']}'"
            out.append(f"{named} ({touched})" if touched else named)
        return "; ".join(out)


@dataclass
class Matrix:
    """The portability matrix of one network."""

    network: Network
    t_stop: float
    runs: list[TargetRun] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One row per (target, population); refused or failed targets get one row."""
        ref = self.run(REFERENCE)
        steps = max(round(self.t_stop / self.network.dt), 1)
        rows = []
        for run in self.runs:
            common = {
                "target": run.target, "status": run.status, "reason": run.reason,
                "energy_nj_per_step": run.figure("measured", "energy_nj_per_step"),
                "energy_from": run.energy_from,
                "energy_nj_per_step_estimate": run.figure("estimate", "energy_nj_per_step"),
                "hw_wall_us_per_step": run.figure("measured", "latency_us_per_step"),
                "synaptic_events_per_step": run.figure("measured", "synaptic_events_per_step"),
                "weight_error_max": run.weight_error,
                "sim_wall_us_per_step": run.sim_seconds * 1e6 / steps,
                "approximations": run.approximations,
            }
            if run.result is None or ref is None or ref.result is None:
                rows.append({**common, "population": ""})
                continue
            report = compare(ref.result, run.result, t_stop=self.t_stop)
            for dev in report.populations:
                rows.append({
                    **common, "population": dev.population, "rate_hz": dev.rate,
                    "rate_error": dev.rate_error, "isi_distortion_ms": dev.isi_distortion_ms,
                    "spike_disorder": dev.spike_disorder, "van_rossum": dev.van_rossum,
                    "spikes_shifted": run.result.counters.get("spikes_shifted", 0.0),
                    "spikes_dropped": run.result.counters.get("spikes_dropped", 0.0),
                })
        return rows

    def run(self, target: str) -> TargetRun | None:
        return next((r for r in self.runs if r.target == target), None)

    # -- outputs ---------------------------------------------------------------------
    def to_csv(self, path: Path) -> Path:
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            writer.writeheader()
            for row in self.rows():
                writer.writerow({k: _csv_value(row.get(k, "")) for k in COLUMNS})
        return path

    def to_markdown(self) -> str:
        head = ("| target | population | rate (Hz) | rate error | ISI distortion (ms) | "
                "spike disorder | van Rossum | spikes dropped | weight error (max) | "
                "energy/step, run (nJ) | energy/step, compiler est. (nJ) | "
                "hw time/step, run (us) | sim time/step (us) | approximations |")
        lines = [f"Portability of '{self.network.label}' ({self.network.n_neurons} neurons, "
                 f"{self.network.n_synapses} synapses, {self.t_stop:g} ms)", "", head,
                 "|" + "---|" * 14]
        notes, sources = [], {}
        for row in self.rows():
            if row["status"] != "ok":
                lines.append(f"| {row['target']} | - | {row['status']}: see below |" +
                             " |" * 11)
                notes.append(f"- **{row['target']}** {row['status']}: {row['reason']}")
                continue
            if row["energy_from"]:
                sources[row["target"]] = row["energy_from"]
            lines.append(
                f"| {row['target']} | {row['population']} | {_fmt(row['rate_hz'])} | "
                f"{_pct(row['rate_error'])} | {_fmt(row['isi_distortion_ms'])} | "
                f"{_fmt(row['spike_disorder'])} | {_fmt(row['van_rossum'])} | "
                f"{int(row['spikes_dropped'])} | {_pct(row['weight_error_max'])} | "
                f"{_fmt(row['energy_nj_per_step'])} | "
                f"{_fmt(row['energy_nj_per_step_estimate'])} | "
                f"{_fmt(row['hw_wall_us_per_step'])} | "
                f"{_fmt(row['sim_wall_us_per_step'])} | {row['approximations'] or '-'} |")
        told = [f"{t} from {src}" for t, src in sources.items() if t != REFERENCE]
        if told:
            lines += ["", "Energy per step of the run: " + "; ".join(told) + ". The "
                      "compiler's estimate assumes the populations fire at a planned rate."]
        changed = [f"- **{run.target}** {a['name']}: {a['detail']}" for run in self.runs
                   for a in (run.report or {}).get("approximations") or ()]
        if changed:
            lines += ["", "Approximations the targets applied to fit (fit=approximate):",
                      *changed]
        if notes:
            lines += ["", "Targets that did not run the network:", *notes]
        return "\n".join(lines) + "\n"

    def figure(self, path: Path) -> Path:
        """Spike rasters of every target that ran, side by side, same axes."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        ran = [r for r in self.runs if r.result is not None]
        fig, axes = plt.subplots(1, max(len(ran), 1), figsize=(3.2 * max(len(ran), 1), 3.6),
                                 sharey=True, squeeze=False)
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        for ax, run in zip(axes[0], ran, strict=False):
            offset = 0
            for k, pop in enumerate(self.network.populations):
                rec = run.result.spikes.get(pop.label)  # type: ignore[union-attr]
                shown = min(pop.size, RASTER_NEURONS)
                if rec is not None:
                    keep = rec.senders < shown
                    ax.scatter(rec.times[keep], rec.senders[keep] + offset, s=1.5,
                               color=colours[k % len(colours)], label=pop.label, linewidths=0)
                offset += shown
            ax.set_title(run.target)
            ax.set_xlim(0, self.t_stop)
            ax.set_xlabel("time (ms)")
        axes[0][0].set_ylabel("neuron")
        if ran:
            axes[0][0].legend(loc="upper right", fontsize=6, markerscale=4)
        fig.tight_layout()
        fig.savefig(path, dpi=120)
        plt.close(fig)
        return path

    def write(self, out: Path) -> dict[str, Path]:
        out.mkdir(parents=True, exist_ok=True)
        md = out / "portability.md"
        md.write_text(self.to_markdown())
        return {"csv": self.to_csv(out / "portability.csv"), "markdown": md,
                "figure": self.figure(out / "portability.png")}


COLUMNS = ["target", "population", "status", "reason", "rate_hz", "rate_error",
           "isi_distortion_ms", "spike_disorder", "van_rossum", "spikes_shifted",
           "spikes_dropped", "weight_error_max", "energy_nj_per_step", "energy_from",
           "energy_nj_per_step_estimate", "hw_wall_us_per_step", "synaptic_events_per_step",
           "sim_wall_us_per_step", "approximations"]


def _csv_value(x: object) -> object:
    return "" if isinstance(x, float) and math.isnan(x) else x


def _fmt(x: object) -> str:
    return "n/a" if not isinstance(x, (int, float)) or not math.isfinite(x) else f"{x:.3g}"


def _pct(x: object) -> str:
    return "n/a" if not isinstance(x, (int, float)) or not math.isfinite(x) \
        else f"{100 * x:+.1f}%"


# --------------------------------------------------------------------------- running


def pynn_examples() -> Path | None:
    """PyNN's example scripts (fetched by the setup script), or None if they are missing."""
    path = Path(sys.prefix) / PYNN_EXAMPLES
    return path if (path / "small_network.py").is_file() else None


def record_all_spikes(network: Network) -> Network:
    """``network`` recording the spikes of every neuron of every population, so that every
    population has a row in the matrix."""
    full = {p.label for p in network.populations}
    recs = [r for r in network.recordings if not (r.variable == "spikes" and r.target in full)]
    recs += [Recording(p.label, "spikes", np.arange(p.size)) for p in network.populations]
    return network.replace(recordings=tuple(recs))


def run_target(name: str, network: Network, t_stop: float,
               options: Mapping[str, Any] | None = None) -> TargetRun:
    """Compile and simulate ``network`` on target ``name`` (constructed with ``options``);
    a refusal becomes a row."""
    from toolchain.compiler.describe import activity
    from toolchain.compiler.report import report_data
    from toolchain.targets import get_target

    try:
        target = get_target(name, **(options or {}))
        compiled = target.compile(network, activity=activity(network, duration_ms=t_stop))
    except Exception as e:  # any refusal is a finding of the matrix, not a crash
        return TargetRun(name, "refused", _reason(e))
    try:
        start = time.perf_counter()
        sim = target.simulator(compiled)
        sim.run_until(t_stop)
        result = sim.result()
        seconds = time.perf_counter() - start
        report = report_data(compiled, target.measure(compiled, result))
    except Exception as e:
        return TargetRun(name, "failed", _reason(e))
    return TargetRun(name, "ok", result=result, sim_seconds=seconds, report=report,
                     weight_error=compiled.weight_error())


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def portability(network: Network, t_stop: float, targets: Sequence[str] | None = None,
                options: Mapping[str, Mapping[str, Any]] | None = None) -> Matrix:
    """The matrix of ``network`` run for ``t_stop`` ms on the reference and ``targets``
    (default: every registered target); ``options[name]`` are target ``name``'s
    constructor options."""
    from toolchain.targets import TARGETS

    names = [REFERENCE, *(t for t in (targets if targets is not None else TARGETS)
                          if t != REFERENCE)]
    network = record_all_spikes(network)
    matrix = Matrix(network, t_stop)
    with task(f"portability of {network.label}", total=len(names), unit="target") as shown:
        for name in names:
            shown.note(name)
            matrix.runs.append(run_target(name, network, t_stop, (options or {}).get(name)))
            shown.advance()
    ref = matrix.run(REFERENCE)
    if ref is None or ref.status != "ok":
        reason = ref.reason if ref is not None else "not run"
        raise CaptureError(f"the reference could not run the network: {reason}")
    return matrix


def portability_of_script(script: str | Path, args: Sequence[str] = (),
                          targets: Sequence[str] | None = None,
                          options: Mapping[str, Mapping[str, Any]] | None = None) -> Matrix:
    if str(script).endswith(".nir"):  # a NIR graph; args: --input IN.npz [--dt MS]
        from toolchain.nir import NIRError
        from toolchain.nir.run import network_of

        try:
            network, t_stop = network_of(script, args)
        except NIRError as e:
            raise CaptureError(str(e)) from None
        if t_stop <= 0:
            raise CaptureError(f"{Path(script).name}: a NIR graph needs its input spikes "
                               "to run: --input IN.npz")
    else:
        network, t_stop = capture(script, args)
    return portability(network, t_stop, targets, options)


def parse_options(texts: Sequence[str], targets: Sequence[str]
                  ) -> dict[str, dict[str, Any]]:
    """``-O TARGET.KEY=VALUE`` texts as typed options per target (each target's declared
    option types; :func:`toolchain.targets.options.parse_assignments`)."""
    from toolchain.targets.options import parse_assignments

    return parse_assignments(texts, targets)
