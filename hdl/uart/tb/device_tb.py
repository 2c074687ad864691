"""cocotb testbench of the core behind the framed protocol (``hdl/uart/device.py``), driven
through its UART pins by cocotbext-uart: every reply is the frame ``protocol.py`` says it
must be (HELLO_REPLY with the build, ACK of each WRITE, DATA holding what was written,
ERROR for a bad READ), and a damaged frame gets no reply.  Run through
``hdl.uart.verify_link.verify_device``."""

from __future__ import annotations

import os

import cocotb
import numpy as np

from hdl.uart.device import device_info
from hdl.uart.tb.echo_tb import CLOCK_NS, DIVISOR_VAR, _echo, start
from toolchain.runtime import protocol as p
from toolchain.targets.fpga.spec import preset

PRESET_VAR = "LINK_DEVICE_PRESET"


@cocotb.test()
async def device_answers_as_protocol_says(dut) -> None:
    divisor = int(os.environ.get(DIVISOR_VAR, "10"))
    spec = preset(os.environ.get(PRESET_VAR, "tiny"))
    info = device_info(spec, round(1e9 / CLOCK_NS), divisor)
    bit_ns = CLOCK_NS * divisor
    source, sink = await start(dut, info.baud)

    async def exchange(ftype: p.FrameType, seq: int, payload: bytes) -> bytes:
        wire = p.encode_frame(ftype, seq, payload)
        await source.write(wire)
        await source.wait()
        return await _echo(sink, dut, bit_ns, 2000)

    # after a reset: a lone delimiter (it ends a frame the reset cut), then BOOT, unprompted
    assert await _echo(sink, dut, bit_ns, 2000) == bytes([p.DELIMITER])
    boot = await _echo(sink, dut, bit_ns, 2000)
    assert boot == p.encode_frame(p.FrameType.BOOT, 0, bytes(4)), boot.hex()
    reply = await exchange(p.FrameType.HELLO, 1, bytes([p.PROTOCOL_VERSION]))
    assert reply == p.encode_frame(p.FrameType.HELLO_REPLY, 1, info.encode()), reply.hex()

    rng = np.random.default_rng(5)
    bits = info.word_bits(p.Memory.SYNAPSE)
    words = rng.integers(0, 1 << bits, 24, dtype=np.uint64)
    write = p.MemoryWrite(p.Memory.SYNAPSE, 9, words).encode(info)
    reply = await exchange(p.FrameType.WRITE, 2, write)
    assert reply == p.encode_frame(p.FrameType.ACK, 2, p.Ack(p.FrameType.WRITE, 24).encode())

    bad = bytearray(p.encode_frame(p.FrameType.READ, 3, p.MemoryRead(p.Memory.SYNAPSE, 9,
                                                                      24).encode()))
    bad[5] ^= 0x04
    await source.write(bytes(bad))
    await source.wait()
    assert await _echo(sink, dut, bit_ns, 40) == b"", "a damaged frame was answered"

    reply = await exchange(p.FrameType.READ, 4, p.MemoryRead(p.Memory.SYNAPSE, 9, 24).encode())
    data = p.MemoryData.decode(p.decode_frame(reply[:-1]).payload, info)
    assert data.address == 9 and np.array_equal(data.words, words), \
        f"read back {data.words.tolist()}, wrote {words.tolist()}"
    assert reply == p.encode_frame(p.FrameType.DATA, 4, p.MemoryData(
        p.Memory.SYNAPSE, 9, words).encode(info))

    reply = await exchange(p.FrameType.READ, 5, p.MemoryRead(p.Memory.NEURON, 0, 1).encode())
    assert reply == p.encode_frame(p.FrameType.ERROR, 5, p.ErrorReply(
        p.ErrorCode.NOT_READABLE, p.FrameType.READ, int(p.Memory.NEURON)).encode())
