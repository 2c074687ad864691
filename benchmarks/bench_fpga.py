"""FPGA core: RTL simulation speed, capacity and speed on real boards, cycles per step.

1. Simulated clock cycles per second of the whole-core cocotb testbench on Icarus Verilog
   and Verilator (same design, same stimulus, build excluded), medians of repeats; peer:
   Icarus.  The golden model's steps/s on the same network is shown alongside.
2. Per board: the preset's neurons and synapses, logic, block RAM and fmax from a real
   place-and-route, against NeuroCoreX (90 neurons, 6,981 LUT on an Artix-7 at 100 MHz;
   FACTS.md).  An Artix-7 LUT6 is larger than an iCE40/ECP5 LUT4, so the neurons-per-LUT
   ratio favours NeuroCoreX's count, not ours.
3. Clock cycles of one timestep (``CoreSpec.cycles_per_step``, cycle-exact against the RTL
   in the cocotb tests) against neurons and synaptic events, and the step time at fmax;
   peer: NeuroCoreX's fixed 10,000-cycle step.

A board whose design does not fit (nextpnr runs out of cells) gets a "does not fit" row with
the utilisation nextpnr printed, and the other boards are still built.

    python -m benchmarks.bench_fpga [--skip-builds]   (then: the last builds' reports)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from hdl.board import BuildReport, build_bitstream, does_not_fit, fit_failure
from hdl.spikecore.tb.networks import random_image, random_inputs
from hdl.spikecore.tools import BUILD_ROOT
from hdl.spikecore.verify import ODD, simulator_available, verify
from toolchain.boards import BoardSpec, load_boards
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import ICE40UP5K, CoreSpec, preset
from toolchain.targets.fpga.timing import power_model

NEUROCOREX = {"neurons": 90, "luts": 6981, "clock_mhz": 100.0, "cycles_per_step": 10_000}
REPEATS = 3
STEPS = 60


def _sim_rate(results_xml) -> tuple[float, float]:
    """(simulated ns, wall seconds) of the testcase in a cocotb results file."""
    case = ET.parse(results_xml).getroot().find(".//testcase")
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    # cocotb 2.1 reports simulated time as properties (sim_time_duration in sim_time_unit);
    # older releases as a sim_time_ns attribute
    ns = case.get("sim_time_ns") or props["sim_time_duration"]
    if case.get("sim_time_ns") is None and props.get("sim_time_unit", "ns") != "ns":
        raise ValueError(f"{results_xml}: simulated time in {props['sim_time_unit']}, not ns")
    return float(ns), float(case.get("time"))


def rtl_simulation_speed() -> None:
    print("\n1. RTL simulation speed (whole-core testbench, 'odd' build, "
          f"{STEPS} steps, median of {REPEATS})")
    print(f"{'simulator':<10} {'cycles/s':>12} {'wall s':>8} {'vs icarus':>10}")
    rates = {}
    for sim in ("icarus", "verilator"):
        reason = simulator_available(sim)
        if reason:
            print(f"{sim:<10} skipped: {reason}")
            continue
        runs = []
        for _ in range(REPEATS):
            r = verify(ODD, sim, seed=4, steps=STEPS)  # the suite's Verilator build
            assert r.passed, f"{sim} run failed: {r.results_xml}"
            ns, wall = _sim_rate(r.results_xml)
            runs.append((ns / 10.0 / wall, wall))  # 10 ns clock in the testbench
        rates[sim] = statistics.median(c for c, _ in runs)
        wall = statistics.median(w for _, w in runs)
        ratio = rates[sim] / rates["icarus"] if "icarus" in rates else float("nan")
        print(f"{sim:<10} {rates[sim]:12,.0f} {wall:8.2f} {ratio:10.1f}x")
    rng = np.random.default_rng(5)
    image = random_image(ODD, rng, stdp=True)
    inputs = random_inputs(ODD, image, rng, 2000)
    times = []
    for _ in range(REPEATS):
        core = CoreModel(ODD)
        core.load(image)
        t0 = time.perf_counter()
        core.run(inputs)
        times.append(time.perf_counter() - t0)
    print(f"golden model: {2000 / statistics.median(times):,.0f} steps/s on the same network")


# nextpnr's words when the design needs more cells than the device has (iCE40 and ECP5)
def _saved(build_dir: Path) -> tuple[BuildReport | None, str | None]:
    """The last build's report, or why it did not fit when its log is newer than the last
    report that did (a failed build leaves the old report behind)."""
    report, log = build_dir / "report.json", build_dir / "spikecore.tim"
    if log.exists() and (not report.exists() or log.stat().st_mtime > report.stat().st_mtime):
        reason = does_not_fit(log.read_text())
        if reason:
            return None, reason
    if report.exists():
        return BuildReport(**json.loads(report.read_text())), None
    return None, None


def _build(board: BoardSpec, build_dir: Path) -> tuple[BuildReport | None, str | None]:
    """Build ``board``; a nextpnr run that cannot fit the design gives the reason instead
    of the report, any other failure raises."""
    started = time.time()
    try:
        return build_bitstream(board, build_dir=build_dir), None
    except subprocess.CalledProcessError:
        reason = fit_failure(build_dir, started)
        if reason is None:
            raise
        return None, reason


def boards(skip_builds: bool) -> None:
    print("\n2. Boards: capacity and place-and-route (peer: NeuroCoreX on Artix-7)")
    print(f"{'board':<11} {'neurons':>7} {'synapses':>8} {'logic':>12} {'BRAM':>7} "
          f"{'fmax MHz':>8} {'neurons/kLUT':>12} {'vs NeuroCoreX':>13}")
    peer = NEUROCOREX["neurons"] / NEUROCOREX["luts"] * 1000
    print(f"{'NeuroCoreX':<11} {90:>7} {'90x90':>8} {'6981 LUT6':>12} {'':>7} "
          f"{100.0:8.1f} {peer:12.1f} {1.0:12.1f}x")
    for board in load_boards().values():
        spec = preset(board.core)
        build_dir = BUILD_ROOT / "bitstreams" / board.name
        head = f"{board.name:<11} {spec.n_neurons:>7} {spec.n_synapses:>8}"
        t0 = time.perf_counter()
        if skip_builds:
            r, reason = _saved(build_dir)
            note = "(last build)"
            if r is None and reason is None:
                print(f"{head} (build skipped)")
                continue
        else:
            r, reason = _build(board, build_dir)
            note = f"({time.perf_counter() - t0:.0f} s build)"
        if r is None:
            print(f"{head} does not fit: {reason}   {note}")
            continue
        per_k = r.neurons / max(r.logic_cells, 1) * 1000
        print(f"{board.name:<11} {r.neurons:>7} {r.synapses:>8} "
              f"{r.logic_cells:>5}/{r.logic_total:<6} {r.block_ram:>3}/{r.block_ram_total:<3} "
              f"{r.fmax_mhz:8.1f} {per_k:12.1f} {per_k / peer:12.1f}x   {note}")


def cycles_per_step() -> None:
    print("\n3. Clock cycles per timestep (no STDP; STDP adds a pass over all rows when a "
          "neuron spikes)")
    ice40 = power_model(ICE40UP5K)  # estimate at the UP5K build's power, whatever the size
    print(f"{'neurons':>7} {'sources':>7} {'spikes':>6} {'events':>6} {'cycles':>7} "
          f"{'us @12MHz':>9} {'nJ (est.)':>9} {'vs NeuroCoreX step':>18}")
    for n in (64, 128, 256, 1024):
        spec = CoreSpec(n_neurons=n, n_inputs=n, n_synapses=65536, delay_bits=4)
        for spikes, events in ((0, 0), (n // 20, n // 20 * 20), (n // 5, n // 5 * 50)):
            c = spec.cycles_per_step(inputs=spikes, repeats=0, spikes=spikes, events=events,
                                     potentiation=False, synapses_in_rows=0)
            print(f"{n:>7} {spec.n_sources:>7} {2 * spikes:>6} {events:>6} {c:>7} "
                  f"{c / 12:9.1f} {ice40.energy_pj(c) / 1e3:9.1f} "
                  f"{NEUROCOREX['cycles_per_step'] / c:17.1f}x")
    s = ICE40UP5K
    full = s.cycles_per_step(inputs=10, repeats=0, spikes=10, events=200, potentiation=True,
                             synapses_in_rows=s.n_synapses)
    print(f"ice40up5k with STDP, 20 spikes, 200 events, full synapse memory: {full} cycles")


def main() -> None:
    skip = "--skip-builds" in sys.argv
    rtl_simulation_speed()
    boards(skip)
    cycles_per_step()


if __name__ == "__main__":
    main()
