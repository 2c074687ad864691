"""Board build: the protocol device on the board's pins, the UART divisor, the nextpnr
report parser, and a real iCEBreaker bitstream."""

import os
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

import hdl.board as board_build
from hdl.board import BoardTop, _yosys_flip_flops, parse_nextpnr_log, uart_divisor
from hdl.spikecore.tools import environment, yowasp_env
from toolchain.boards import get_board
from toolchain.cli import main
from toolchain.targets.fpga.spec import TINY

pytestmark = pytest.mark.hdl


def test_uart_divisor_is_the_nearest_whole_number_of_clocks_per_bit():
    assert uart_divisor(12_000_000, 1_000_000) == 12
    assert uart_divisor(25_000_000, 921_600) == 27  # 925,926 baud: 0.5 % fast


def test_uart_divisor_refuses_a_baud_the_clock_cannot_make():
    with pytest.raises(ValueError, match=re.escape(
            "baud 5000000 from a 12000000 Hz clock: the nearest divisor 2 gives 6000000 baud "
            "(20.0% off, limit 2%); choose a baud near clock / n")):
        uart_divisor(12_000_000, 5_000_000)


def test_board_top_drives_the_uart_and_led_pins_of_the_icebreaker():
    board = get_board("icebreaker")
    top = BoardTop(TINY, board.clock_hz, board.baud)
    # HELLO tells the host the clock and baud the pins run at
    assert (top.device.info.clock_hz, top.device.info.baud) == (12_000_000, 1_000_000)
    with environment(yowasp_env()):
        plan = board.platform_class()().prepare(top, name="top")
    pins = dict(re.findall(r"set_io (\S+) (\S+)", plan.files["top.pcf"]))
    # iCEBreaker: FTDI channel B on pins 6 (to the FPGA) and 9, the red LED on pin 11
    assert {pins["uart_0__rx__io"], pins["uart_0__tx__io"], pins["led_0__io"]} == {"6", "9",
                                                                                    "11"}
    assert "module \\top.device\n" in plan.files["top.il"]


def test_board_top_refuses_a_platform_with_another_clock():
    board = get_board("icebreaker")
    top = BoardTop(TINY, 25_000_000, board.baud)
    with pytest.raises(ValueError, match=re.escape(
            "BoardTop was made for a 25000000 Hz clock, but the platform's default clock is "
            "12000000 Hz; make it from the board's clock_hz")):
        with environment(yowasp_env()):
            board.platform_class()().prepare(top, name="top")
    top.device._MustUse__silence = True  # refused before the device was elaborated


NEXTPNR_TAIL = """
Info: Device utilisation:
Info: 	         ICESTORM_LC:    2342/   5280    44%
Info: 	        ICESTORM_RAM:      26/     30    86%
Info: 	        ICESTORM_DSP:       0/      8     0%
Info: Max frequency for clock 'clk12_0__io': 21.05 MHz (PASS at 12.00 MHz)
Info: Max frequency for clock 'clk12_0__io': 23.77 MHz (PASS at 12.00 MHz)
"""


YOSYS_STATS = """
2.59. Printing statistics.
=== top ===
       26   SB_RAM40_4K
      188   SB_DFF
      522   SB_DFFESR
     1744   SB_LUT4
=== design hierarchy ===
      188   SB_DFF
      522   SB_DFFESR
"""


def test_yosys_flip_flops_count_each_cell_type_once():
    assert _yosys_flip_flops(YOSYS_STATS) == 188 + 522


def test_nextpnr_report_takes_the_last_fmax():
    res = parse_nextpnr_log(NEXTPNR_TAIL, "ice40")
    assert (res["logic"], res["logic_total"], res["bram"], res["dsp"]) == (2342, 5280, 26, 0)
    assert res["fmax"] == pytest.approx(23.77)


@pytest.mark.slow
def test_hdl_build_says_which_resource_the_icebreaker_lacks_and_by_how_much(tmp_path: Path):
    """The real yosys/nextpnr flow (about 50 s).  The protocol device with even the tiny
    core does not fit the iCE40UP5K yet ('Protocol device on the boards' in
    docs/fpga-core.md): the command names the resource, the excess and the options that
    exist.  The day it fits this test fails, and becomes the bitstream test again."""
    result = CliRunner().invoke(main, ["hdl", "build", "--board", "icebreaker", "--core",
                                       "tiny", "--out", str(tmp_path)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    hit = re.search(r"Error: core build 'tiny' \(16 neurons, 128 synapses\) with the protocol "
                    r"device does not fit the icebreaker: ICESTORM_LC (\d+)/5280 \(\d+ %, "
                    r"(\d+) over\)", lines[0])
    assert hit, lines[0]
    assert int(hit[1]) - 5280 == int(hit[2]) > 0
    # the engine's INPUT slots and OUTPUT window are in SPRAM: the block RAM is not short
    spram = re.search(r"ICESTORM_SPRAM (\d)/4", lines[0])
    assert spram and int(spram[1]) >= 2, lines[0]
    ram = re.search(r"ICESTORM_RAM (\d+)/30", lines[0])
    assert ram and int(ram[1]) <= 30, lines[0]
    # tiny is the smallest preset: only the other board is left to suggest
    assert lines[0].endswith("; build for another board with --board ulx3s"), lines[0]
    assert not (tmp_path / "report.json").exists()


def _flow_leaving(log: str | None):
    """The platform flow as nextpnr leaves it when it gives up: its log (or none: yosys
    failed first) and a failed build script."""
    def run(platform, top, build_dir: Path, opts: dict) -> None:
        top._MustUse__silence = True  # not elaborated: the flow did not get that far
        top.device._MustUse__silence = True
        if log is not None:
            build_dir.mkdir(parents=True, exist_ok=True)
            (build_dir / "spikecore.tim").write_text(log)
        raise subprocess.CalledProcessError(125, ["sh", "build_spikecore.sh"])
    return run


def test_build_bitstream_reads_a_placement_failure_from_nextpnrs_log(tmp_path, monkeypatch):
    from tests.hdl.test_bench_fpga import OVERFULL_ICE40

    monkeypatch.setattr(board_build, "_run_flow", _flow_leaving(OVERFULL_ICE40))
    with pytest.raises(board_build.DoesNotFit) as err:
        board_build.build_bitstream(get_board("icebreaker"), spec=TINY, build_dir=tmp_path)
    assert str(err.value) == (
        "core build 'tiny' (16 neurons, 128 synapses) with the protocol device does not fit "
        "the icebreaker: ICESTORM_LC 8494/5280 (160 %, 3214 over), ICESTORM_RAM 25/30 (83 %)")


def test_build_bitstream_says_by_how_much_a_design_misses_the_clock(tmp_path, monkeypatch):
    log = ("Info: Max frequency for clock 'clk': 10.20 MHz (FAIL at 12.00 MHz)\n"
           "ERROR: Max frequency for clock 'clk': 10.20 MHz (FAIL at 12.00 MHz)\n")
    monkeypatch.setattr(board_build, "_run_flow", _flow_leaving(log))
    with pytest.raises(board_build.DoesNotFit, match=re.escape(
            "does not fit the icebreaker: fmax 10.2 MHz is below the 12.0 MHz clock "
            "(15 % short)")):
        board_build.build_bitstream(get_board("icebreaker"), spec=TINY, build_dir=tmp_path)


def test_build_bitstream_lets_a_broken_build_raise(tmp_path, monkeypatch):
    """yosys failing (no new nextpnr log, an old one lying around) is a bug, not a fit."""
    from tests.hdl.test_bench_fpga import OVERFULL_ICE40

    (tmp_path / "spikecore.tim").write_text(OVERFULL_ICE40)
    os.utime(tmp_path / "spikecore.tim", (1_000_000, 1_000_000))
    monkeypatch.setattr(board_build, "_run_flow", _flow_leaving(None))
    with pytest.raises(subprocess.CalledProcessError):
        board_build.build_bitstream(get_board("icebreaker"), spec=TINY, build_dir=tmp_path)


def test_hdl_build_suggests_the_smaller_presets_and_the_other_board(tmp_path, monkeypatch):
    from tests.hdl.test_bench_fpga import OVERFULL_ICE40

    monkeypatch.setattr(board_build, "_run_flow", _flow_leaving(OVERFULL_ICE40))
    result = CliRunner().invoke(main, ["hdl", "build", "--board", "icebreaker",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output == (
        "Error: core build 'ice40up5k' (128 neurons, 1024 synapses) with the protocol device "
        "does not fit the icebreaker: ICESTORM_LC 8494/5280 (160 %, 3214 over), "
        "ICESTORM_RAM 25/30 (83 %); build a smaller core with --core tiny or build for "
        "another board with --board ulx3s\n")


@pytest.mark.slow
def test_hdl_units_gives_each_protocol_engine_unit_its_own_row(tmp_path: Path):
    """A real synthesis of the iCEBreaker's device with the tiny core, without place and
    route (about a minute and a half on a quiet machine): each of the engine's four units
    is a row with logic of its own, its INPUT and OUTPUT buffers are SPRAM."""
    result = CliRunner().invoke(main, ["hdl", "units", "--board", "icebreaker", "--core",
                                       "tiny", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: [int(x) for x in line.split()[1:]]
            for line in result.output.strip().splitlines()[1:]}
    for unit in ("receiver", "commands", "player", "transmitter"):
        lut, ff = rows[f"decoder.{unit}"][:2]
        assert lut > 100 and ff > 20, unit
    assert rows["decoder.inputs"][4] == rows["decoder.window"][4] == 1  # SPRAM
    assert rows["total"][0] == sum(r[0] for name, r in rows.items() if name != "total")


def test_hdl_units_refuses_an_unknown_board():
    result = CliRunner().invoke(main, ["hdl", "units", "--board", "arty"])
    assert result.exit_code == 2
    assert "unknown board 'arty'; known boards: icebreaker" in result.output


def test_hdl_build_refuses_an_unknown_board():
    result = CliRunner().invoke(main, ["hdl", "build", "--board", "arty"])
    assert result.exit_code == 2
    assert "unknown board 'arty'; known boards: icebreaker" in result.output


def test_unit_resources_keep_the_devices_units_apart(tmp_path: Path):
    """A real yosys run (a few seconds) on a two-unit device: each unit's cells are its own."""
    from amaranth.back import rtlil
    from amaranth.hdl import Module
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from hdl.uart.link import UartRx, UartTx

    class Device(wiring.Component):  # an echo: bytes in on rx go out on tx
        rx: In(1)
        tx: Out(1)

        def elaborate(self, platform):
            m = Module()
            m.submodules.phy_rx = rx = UartRx(12)
            m.submodules.phy_tx = tx = UartTx(12)
            wiring.connect(m, rx.bytes, tx.bytes)
            m.d.comb += [rx.rx.eq(self.rx), self.tx.eq(tx.tx)]
            return m

    class Top(wiring.Component):
        rx: In(1)
        tx: Out(1)

        def elaborate(self, platform):
            m = Module()
            m.submodules.device = device = Device()
            m.d.comb += [device.rx.eq(self.rx), self.tx.eq(device.tx)]
            return m

    il = tmp_path / "spikecore.il"
    top = Top()
    il.write_text(rtlil.convert(top, name="spikecore", ports=[top.rx, top.tx]))
    units = board_build.unit_resources(il, "ice40")
    assert set(units) >= {"phy_rx", "phy_tx"}
    assert units["phy_rx"]["lut"] > 0 and units["phy_rx"]["ff"] >= 8 + 1  # shift + valid
    assert units["phy_tx"]["lut"] > 0 and units["phy_rx"]["bram"] == 0
    table = board_build.units_table(units).splitlines()
    assert table[0].split() == ["unit", "LUT4", "FF", "carry", "BRAM", "SPRAM", "DSP"]
    total = table[-1].split()
    assert total[0] == "total" and int(total[1]) == sum(u["lut"] for u in units.values())


def test_unit_stats_keep_the_protocol_engines_own_units_apart():
    """The engine's submodules (its block checker, its counters) are rows of their own, so
    the build report shows what each costs; the other units' submodules stay in them."""
    text = """
=== spikecore.device.decoder ===
      100   SB_LUT4
       40   SB_DFFE
=== spikecore.device.decoder.checker ===
       30   SB_LUT4
        9   SB_CARRY
=== spikecore.device.decoder.counters ===
       20   SB_LUT4
        1   SB_RAM40_4K
=== spikecore.device.core ===
       50   SB_LUT4
=== spikecore.device.core.ring ===
        2   SB_RAM40_4K
=== design hierarchy ===
      200   SB_LUT4
"""
    units = board_build.parse_unit_stats(text, "ice40", "spikecore")
    assert {k: (u["lut"], u["ff"], u["carry"], u["bram"]) for k, u in units.items()} == {
        "decoder": (100, 40, 0, 0), "decoder.checker": (30, 0, 9, 0),
        "decoder.counters": (20, 0, 0, 1), "core": (50, 0, 0, 2)}
    rows = [line.split()[0] for line in board_build.units_table(units).splitlines()]
    assert rows == ["unit", "decoder", "core", "decoder.checker", "decoder.counters", "total"]
