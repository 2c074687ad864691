"""FPGA core: RTL simulation speed, capacity and speed on real boards, cycles per step.

1. Simulated clock cycles per second of the whole-core cocotb testbench on Icarus Verilog
   and Verilator (same design, same stimulus, build excluded), medians of repeats; peer:
   Icarus.  The golden model's steps/s on the same network is shown alongside.
2. Per board, the protocol device and each of the board's core presets (its default and
   its capacity preset, ``CAPACITY``): neurons, synapses, logic,
   flip-flops, block RAM, SPRAM, DSP and fmax from a real place-and-route; clock cycles of
   a step with 10 % of neurons and inputs spiking (``CoreSpec.cycles_per_step``, exact
   against the RTL), steps per second at the board's clock and energy per synaptic event
   from the power model; against NeuroCoreX's published Vivado figures (90 neurons all to
   all, 6,981 LUT on an Artix-7 at 100 MHz) as ratios: neurons per 1k LUT, synapses per
   kbit of block memory.  An Artix-7 LUT6 is larger than an iCE40/ECP5 LUT4, so the
   neurons-per-LUT ratio favours NeuroCoreX's count, not ours.
3. Clock cycles of one timestep (``CoreSpec.cycles_per_step``, cycle-exact against the RTL
   in the cocotb tests) against neurons and synaptic events, and the step time at fmax;
   peer: NeuroCoreX's fixed 10,000-cycle step.

A board whose design does not fit (nextpnr runs out of cells) gets a "does not fit" row with
the utilisation nextpnr printed and, below it, the core's own logic and memory (a synthesis
that keeps the units apart), and the other boards are still built.

    python -m benchmarks.bench_fpga [--skip-builds]   (then: the last builds' reports)
"""

from __future__ import annotations

import json
import statistics
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hdl.board import (
    BRAM_BITS,
    SPRAM_BITS,
    BuildReport,
    DoesNotFit,
    build_bitstream,
    does_not_fit,
    unit_resources,
)
from hdl.spikecore.tb.networks import random_image, random_inputs
from hdl.spikecore.tools import BUILD_ROOT
from hdl.spikecore.verify import ODD, simulator_available, verify
from toolchain.boards import BoardSpec, load_boards
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import ICE40UP5K, CoreSpec, preset
from toolchain.targets.fpga.timing import power_model

# NeuroCoreX (ORNL, arXiv 2506.14138), its Vivado 2023.1 reports for an xc7a35t in its
# repository (AG_NCX.runs/impl_1: main_utilization_placed.rpt, main_power_routed.rpt):
# 6,981 LUT, 11,175 FF, 30.5 block RAM tiles of 36 kbit (28 RAMB36 + 5 RAMB18), 8 DSP48,
# 0.305 W, 100 MHz, a fixed step of 10,000 cycles; 90 all-to-all neurons (8,100 synapses).
NEUROCOREX = {"neurons": 90, "synapses": 90 * 90, "luts": 6981, "ffs": 11_175,
              "bram36": 30.5, "memory_bits": int(30.5 * 36 * 1024), "dsp": 8,
              "clock_mhz": 100.0, "cycles_per_step": 10_000, "power_w": 0.305}
# per board, the preset that holds the most (the board's default core is built too)
CAPACITY = {"icebreaker": "ice40up5k-spram", "ulx3s": "ecp5-85f-2k"}
ACTIVE = 0.10  # fraction of neurons and inputs spiking in a step of the board table
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


def _build(board: BoardSpec, spec: CoreSpec,
           build_dir: Path) -> tuple[BuildReport | None, str | None]:
    """Build ``spec`` for ``board``; a design nextpnr cannot fit gives the reason instead
    of the report, any other failure raises."""
    try:
        return build_bitstream(board, spec=spec, build_dir=build_dir), None
    except DoesNotFit as e:
        return None, e.reason


def _core_alone(board: BoardSpec, build_dir: Path) -> str | None:
    """The core unit's LUT4, FF, block RAM and SPRAM in a build that did not fit, from
    its RTLIL (None when the build left none)."""
    il = build_dir / "spikecore.il"
    if not il.exists():
        return None
    core = unit_resources(il, board.family, synth_opts=board.synth_opts).get("core")
    if core is None:
        return None
    return (f"the core alone: {core['lut']} LUT4, {core['ff']} FF, {core['bram']} block RAM, "
            f"{core['spram']} SPRAM")


@dataclass(frozen=True)
class Step:
    """One timestep of a network with ``ACTIVE`` of its neurons and inputs spiking, its
    synapse memory full: cycles, steps per second at ``clock_hz`` and energy per event."""

    cycles: int
    events: int
    steps_per_s: float
    pj_per_event: float


def active_step(spec: CoreSpec, clock_hz: float) -> Step:
    spikes, inputs = round(ACTIVE * spec.n_neurons), round(ACTIVE * spec.n_inputs)
    # a full synapse memory spread evenly over the rows: ACTIVE of the rows deliver
    events = round(spec.n_synapses * (spikes + inputs) / spec.n_sources)
    cycles = spec.cycles_per_step(inputs=inputs, repeats=0, spikes=spikes, events=events,
                                  potentiation=False, synapses_in_rows=spec.n_synapses)
    power = power_model(spec, clock_hz)
    return Step(cycles, events, clock_hz / cycles, power.energy_pj(cycles) / max(events, 1))


def neurocorex_step() -> Step:
    """NeuroCoreX's fixed step (10,000 cycles at 100 MHz) at its estimated power, with
    ACTIVE of its all-to-all neurons spiking."""
    n = NEUROCOREX
    events = round(ACTIVE * n["neurons"]) * n["neurons"]
    joules = n["cycles_per_step"] / (n["clock_mhz"] * 1e6) * n["power_w"]
    return Step(n["cycles_per_step"], events, n["clock_mhz"] * 1e6 / n["cycles_per_step"],
                joules * 1e12 / events)


def boards(skip_builds: bool) -> None:
    print(f"\n2. Boards with the protocol device: capacity, place-and-route, and a "
          f"{ACTIVE:.0%}-active step at the board clock (peer: NeuroCoreX on an Artix-7)")
    head = (f"{'board/core':<27} {'neurons':>7} {'synapses':>8} {'logic':>12} {'FF':>6} "
            f"{'BRAM':>7} {'SPRAM':>5} {'DSP':>3} {'fmax MHz':>8} {'cyc/step':>8} "
            f"{'steps/s':>8} {'pJ/event':>8} {'n/kLUT':>6} {'x NCX':>5} {'syn/kbit':>8} "
            f"{'x NCX':>5}")
    print(head)
    n = NEUROCOREX
    ncx = neurocorex_step()
    ncx_per_k = n["neurons"] / n["luts"] * 1000
    ncx_per_kbit = n["synapses"] / n["memory_bits"] * 1000
    print(f"{'NeuroCoreX':<27} {n['neurons']:>7} {n['synapses']:>8} "
          f"{str(n['luts']) + ' LUT6':>12} {n['ffs']:>6} {n['bram36']:>7} {'-':>5} "
          f"{n['dsp']:>3} {n['clock_mhz']:8.1f} {ncx.cycles:>8} {ncx.steps_per_s:8.0f} "
          f"{ncx.pj_per_event:8.0f} {ncx_per_k:6.1f} {1.0:5.1f} {ncx_per_kbit:8.2f} "
          f"{1.0:5.1f}")
    for board in load_boards().values():
        names = [board.core, *([CAPACITY[board.name]] if board.name in CAPACITY else [])]
        for name in dict.fromkeys(names):
            build_dir = BUILD_ROOT / "bitstreams" / (
                board.name if name == board.core else f"{board.name}-{name}")
            _board_row(board, preset(name), build_dir, skip_builds, ncx_per_k, ncx_per_kbit)
    print("logic: iCE40 LC / ECP5 LUT4 against NeuroCoreX's Artix-7 LUT6 (a LUT6 holds about "
          "two LUT4s); energy: the power model's estimate (toolchain/targets/fpga/timing.py), "
          "NeuroCoreX: Vivado's 0.305 W estimate over its fixed step")


def _board_row(board: BoardSpec, spec: CoreSpec, build_dir: Path, skip_builds: bool,
               ncx_per_k: float, ncx_per_kbit: float) -> None:
    label = f"{board.name}/{spec.name}"
    step = active_step(spec, board.clock_hz)
    timing = f"{step.cycles:>8} {step.steps_per_s:8.0f} {step.pj_per_event:8.0f}"
    t0 = time.perf_counter()
    if skip_builds:
        r, reason = _saved(build_dir)
        note = "(last build)"
        if r is None and reason is None:
            print(f"{label:<27} {spec.n_neurons:>7} {spec.n_synapses:>8} "
                  f"(build skipped; step: {timing.split()[0]} cycles)")
            return
    else:
        r, reason = _build(board, spec, build_dir)
        note = f"({time.perf_counter() - t0:.0f} s build)"
    if r is None:
        print(f"{label:<27} {spec.n_neurons:>7} {spec.n_synapses:>8} does not fit: "
              f"{reason}; step {step.cycles} cycles, {step.steps_per_s:.0f} steps/s, "
              f"{step.pj_per_event:.0f} pJ/event   {note}")
        alone = None if skip_builds else _core_alone(board, build_dir)
        if alone:
            print(f"{'':<27} {alone}")
        return
    per_k = r.neurons / max(r.logic_cells, 1) * 1000
    bits = r.block_ram * BRAM_BITS[board.family] + r.spram * SPRAM_BITS
    per_kbit = r.synapses / max(bits, 1) * 1000
    print(f"{label:<27} {r.neurons:>7} {r.synapses:>8} "
          f"{r.logic_cells:>5}/{r.logic_total:<6} {r.flip_flops:>6} "
          f"{r.block_ram:>3}/{r.block_ram_total:<3} {r.spram:>5} {r.dsp:>3} "
          f"{r.fmax_mhz:8.1f} {timing} {per_k:6.1f} {per_k / ncx_per_k:5.1f} "
          f"{per_kbit:8.2f} {per_kbit / ncx_per_kbit:5.1f}   {note}")


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
