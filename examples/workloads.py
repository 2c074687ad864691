"""What a workload achieves on every target: the shared part of the workload examples
(``ca3_memory.py``, ``motion_delays.py``).

A workload is a plain PyNN script.  :func:`on_targets` captures the network the script
builds for spikeport and runs it, through :func:`toolchain.portability.portability`, on the
float reference and on every registered target (so a target that gains a feature is picked
up without changing the examples); each example then scores the spikes with its own
measure.  A target that refuses the network keeps its refusal message, and a script that
spikeport's PyNN front end cannot build is refused on every target with the front end's
message.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from toolchain.portability import REFERENCE, portability_of_script
from toolchain.pynn.capture import CaptureError
from toolchain.sim.results import SimulationResult


@dataclass
class Outcome:
    """One target's run of a workload, or why there is none."""

    target: str
    status: str  # "ok", "refused" (does not compile) or "failed" (cannot simulate)
    reason: str
    result: SimulationResult | None
    energy_nj_per_step: float  # of the run, from the compile report (nan: no cost model)
    latency_us_per_step: float  # hardware time per step of the run, from the report
    weight_error: float  # worst |realised - w| / max|w| of a projection (nan: not known)
    energy_estimate_nj_per_step: float = math.nan  # the compiler's, at its planned rate
    latency_estimate_us_per_step: float = math.nan

    def spikes(self, population: str, size: int) -> dict[int, np.ndarray]:
        """Spike times (ms) per neuron of ``population``."""
        if self.result is None:
            return {}
        rec = self.result.spikes[population]
        senders, times = np.asarray(rec.senders), np.asarray(rec.times, dtype=float)
        return {i: times[senders == i] for i in range(size)}


def on_targets(script: str | Path, args: Sequence[str], *,
               targets: Sequence[str] | None = None,
               options: Mapping[str, Mapping[str, Any]] | None = None) -> list[Outcome]:
    """Run PyNN ``script`` (with ``args`` after the simulator name) on the reference and on
    ``targets`` (default: all registered), with per-target constructor ``options``."""
    from toolchain.targets import TARGETS

    names = [REFERENCE, *(t for t in (targets if targets is not None else TARGETS)
                          if t != REFERENCE)]
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the captured script's own report
            matrix = portability_of_script(script, ["spikeport", *args], names[1:], options)
    except CaptureError as e:
        why = " ".join(str(e).split())
        # the front end's message names the script by the path it was given
        why = why.replace(str(script), Path(script).name)
        return [Outcome(t, "refused", why, None, math.nan, math.nan, math.nan)
                for t in names]
    return [Outcome(r.target, r.status, r.reason, r.result,
                    r.figure("measured", "energy_nj_per_step"),
                    r.figure("measured", "latency_us_per_step"), r.weight_error,
                    r.figure("estimate", "energy_nj_per_step"),
                    r.figure("estimate", "latency_us_per_step")) for r in matrix.runs]


def on_configs(script: str | Path, args: Sequence[str],
               configs: Sequence[tuple[str, str, Mapping[str, Any]]]) -> list[Outcome]:
    """Like :func:`on_targets` for named target configurations ``(label, target,
    options)``: the reference first, then each configuration as a row named ``label``."""
    plain = [t for label, t, opts in configs if not opts and label == t]
    outcomes = on_targets(script, args, targets=plain)
    for label, target, opts in configs:
        if opts or label != target:
            run = on_targets(script, args, targets=[target], options={target: opts})[-1]
            run.target = label
            outcomes.append(run)
    order = {label: i for i, (label, _, _) in enumerate(configs)}
    return sorted(outcomes, key=lambda o: order.get(o.target, -1))


def outcome_columns(outcome: Outcome) -> dict[str, Any]:
    """The columns every workload's table has for a target run."""
    return {"target": outcome.target, "status": status_cell(outcome),
            "weight_error": outcome.weight_error,
            "energy_nj_per_step": outcome.energy_nj_per_step,
            "latency_us_per_step": outcome.latency_us_per_step,
            "energy_estimate_nj_per_step": outcome.energy_estimate_nj_per_step,
            "latency_estimate_us_per_step": outcome.latency_estimate_us_per_step}


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def fmt(x: float, digits: int = 3) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}g}"


def pct(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{100 * x:.0f}%"


def status_cell(outcome: Outcome) -> str:
    """"runs", or the refusal with the target's own message."""
    if outcome.status == "ok":
        return "runs"
    return f"{outcome.status}: {outcome.reason}"
