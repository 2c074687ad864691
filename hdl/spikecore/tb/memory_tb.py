"""cocotb testbench of ``hdl.memory.WordMemory`` built from SB_SPRAM256KA cells, simulated
with yosys's model of the cell: random writes and reads over every tile of the depth and
width, checked against a dictionary, with the port's schedule (a read's word in the next
cycle, held while the port is idle, undefined after a write).

Run through ``hdl.spikecore.verify.verify_word_memory``."""

from __future__ import annotations

import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge

WIDTH_VAR, DEPTH_VAR, SEED_VAR = "WORDMEM_WIDTH", "WORDMEM_DEPTH", "WORDMEM_SEED"


@cocotb.test()
async def word_memory_matches_a_dictionary(dut) -> None:
    width, depth = int(os.environ[WIDTH_VAR]), int(os.environ[DEPTH_VAR])
    rng = np.random.default_rng(int(os.environ[SEED_VAR]))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.w_en.value = dut.r_en.value = 0
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    # addresses at both ends of every 16K-word tile, and random ones
    edges = [a for t in range(0, depth, 16384) for a in (t, t + 1, min(t + 16383, depth - 1))]
    addrs = [a for a in {*edges, *(int(a) for a in rng.integers(0, depth, 200))} if a < depth]
    stored: dict[int, int] = {}
    for a in addrs:
        stored[a] = int(rng.integers(0, 1 << width))
        dut.addr.value, dut.w_data.value, dut.w_en.value = a, stored[a], 1
        await FallingEdge(dut.clk)
    dut.w_en.value = 0
    errors = []
    for a in rng.permutation(addrs):
        a = int(a)
        dut.addr.value, dut.r_en.value = a, 1
        await FallingEdge(dut.clk)
        dut.r_en.value = 0
        dut.addr.value = int(rng.integers(0, depth))  # an idle port ignores its address
        got = int(dut.r_data.value)
        await FallingEdge(dut.clk)
        held = int(dut.r_data.value)
        if (got, held) != (stored[a], stored[a]):
            errors.append(f"address {a}: wrote {stored[a]:#x}, read {got:#x}, held {held:#x}")
    assert not errors, f"{len(errors)} mismatches; first: {errors[0]}"
