"""cocotb testbench of the link-layer echo device (``hdl/uart/echo.py``) driven through its
UART pins by cocotbext-uart: intact frames come back exactly as ``protocol.encode_frame``
writes them; damaged ones are dropped and counted.  Run through
``hdl.uart.verify_link`` (cocotb_tools.runner)."""

from __future__ import annotations

import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Timer
from cocotbext.uart import UartSink, UartSource

from toolchain.runtime import protocol as p

CLOCK_NS = 100  # 10 MHz
DIVISOR_VAR = "LINK_ECHO_DIVISOR"


async def _echo(sink: UartSink, dut, bit_ns: float, limit_bytes: int) -> bytes:
    """Bytes from the device up to and including a delimiter, or what came before a timeout."""
    out = bytearray()
    waited = 0.0
    while not out.endswith(b"\x00"):
        if sink.empty():
            await Timer(bit_ns * 10, unit="ns")
            waited += bit_ns * 10
            if waited > bit_ns * 10 * limit_bytes:
                break
            continue
        out += await sink.read(1)
        waited = 0.0
    return bytes(out)


async def start(dut, baud: float) -> tuple[UartSource, UartSink]:
    """Clock the device, take it out of reset, and put a UART on each of its pins."""
    dut.rst.value = 1
    dut.rx.value = 1
    await Timer(1, unit="ns")
    cocotb.start_soon(Clock(dut.clk, CLOCK_NS, unit="ns").start())
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    return UartSource(dut.rx, baud=baud, bits=8), UartSink(dut.tx, baud=baud, bits=8)


@cocotb.test()
async def echo_matches_protocol(dut) -> None:
    divisor = int(os.environ.get(DIVISOR_VAR, "10"))
    baud = 1e9 / (CLOCK_NS * divisor)
    bit_ns = CLOCK_NS * divisor
    source, sink = await start(dut, baud)

    good = [(p.FrameType.HELLO, 1, bytes([p.PROTOCOL_VERSION])),
            (p.FrameType.WRITE, 2, bytes([1, 0, 0, 0, 0]) + bytes(range(0, 40))),
            (p.FrameType.OUTPUT, 3, bytes(300))]
    bad = bytearray(p.encode_frame(p.FrameType.READ, 4, b"\x10\x20\x30"))
    bad[4] ^= 0x08
    sent_bad = 0
    for k, (ftype, seq, payload) in enumerate(good):
        wire = p.encode_frame(ftype, seq, payload)
        await source.write(wire)
        await source.wait()
        echo = await _echo(sink, dut, bit_ns, len(wire) + 40)
        assert echo == wire, f"frame {k} ({ftype.name}): sent {wire.hex()} got {echo.hex()}"
        if k == 0:  # a damaged frame between two good ones: dropped, counted, no echo
            await source.write(bytes(bad))
            await source.wait()
            sent_bad += 1
            assert await _echo(sink, dut, bit_ns, 20) == b""
    assert int(dut.frames_ok.value) == len(good)
    assert int(dut.frames_bad.value) == sent_bad
