"""Board build: the byte bridge in simulation, the nextpnr report parser, and a real
iCEBreaker bitstream."""

import json
from pathlib import Path

import pytest
from amaranth.sim import Simulator
from click.testing import CliRunner

from hdl.spikecore.board import (
    CHANNEL_CMD,
    CHANNEL_SPIKE_OUT,
    ByteBridge,
    _yosys_flip_flops,
    parse_nextpnr_log,
    word_bytes,
)
from hdl.spikecore.core import cmd_layout, spike_out_layout
from toolchain.cli import main
from toolchain.targets.fpga.spec import TINY, Op

pytestmark = pytest.mark.hdl


def test_bridge_turns_bytes_into_a_command_and_a_spike_into_bytes():
    spec = TINY
    dut = ByteBridge(spec)
    word = int(Op.SYNAPSE) | (5 << 3) | (0x1234 << (3 + spec.cmd_addr_bits))
    sent = [CHANNEL_CMD, *word.to_bytes(word_bytes(cmd_layout(spec).size), "little")]
    got = {}

    async def bench(ctx):
        ctx.set(dut.cmd.ready, 1)
        for byte in sent:
            ctx.set(dut.rx.payload, byte)
            ctx.set(dut.rx.valid, 1)
            await ctx.tick().until(dut.rx.ready)
        ctx.set(dut.rx.valid, 0)
        (cmd,) = await ctx.tick().sample(dut.cmd.payload).until(dut.cmd.valid)
        got["cmd"] = (int(cmd.op), int(cmd.addr), int(cmd.data))
        ctx.set(dut.spike_out.payload, {"neuron": 9, "last": 0})
        ctx.set(dut.spike_out.valid, 1)
        await ctx.tick().until(dut.spike_out.ready)
        ctx.set(dut.spike_out.valid, 0)
        ctx.set(dut.tx.ready, 1)
        out = []
        n = 1 + word_bytes(max(spike_out_layout(spec).size, spec.cmd_data_bits))
        while len(out) < n:
            (byte,) = await ctx.tick().sample(dut.tx.payload).until(dut.tx.valid)
            out.append(int(byte))
        got["tx"] = out

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert got["cmd"] == (int(Op.SYNAPSE), 5, 0x1234)
    assert got["tx"][0] == CHANNEL_SPIKE_OUT
    assert int.from_bytes(bytes(got["tx"][1:]), "little") == 9


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
def test_hdl_build_command_makes_an_icebreaker_bitstream_that_meets_its_clock(tmp_path: Path):
    result = CliRunner().invoke(main, ["hdl", "build", "--board", "icebreaker", "--core",
                                       "tiny", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "report.json").read_text())
    bitstream = Path(report["bitstream"])
    # an iCE40UP5K configuration image is about 104 kB whatever the design
    assert bitstream.exists() and bitstream.stat().st_size > 50_000
    assert 0 < report["logic_cells"] <= report["logic_total"]
    assert report["fmax_mhz"] >= report["clock_mhz"]
    assert f"{report['fmax_mhz']:.1f} MHz" in result.output


def test_hdl_build_refuses_an_unknown_board():
    result = CliRunner().invoke(main, ["hdl", "build", "--board", "arty"])
    assert result.exit_code == 2
    assert "unknown board 'arty'; known boards: icebreaker" in result.output
