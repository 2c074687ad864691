"""The gateware command decoder (hdl/uart/engine.py) behind the RTL deframer and framer,
attached to the core's RTL: every reply leaves as the same wire bytes the rtl-sim board's
protocol engine (toolchain/runtime/virtual.py) sends for the same frames, errors included."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from hdl.uart.engine import GATEWARE_READABLE, CommandDecoder
from hdl.uart.device import add_protocol_path
from tests.runtime.conftest import random_image
from toolchain.runtime import protocol as p
from toolchain.runtime.session import _regions
from toolchain.runtime.virtual import RTL, VirtualBoard
from toolchain.targets.fpga.spec import TINY

pytestmark = pytest.mark.hdl

MAX_CYCLES_PER_REPLY = 20_000


class _Device:
    """Deframer -> CommandDecoder -> Framer, with the decoder's command port on SpikeCore."""

    def __init__(self, info: p.BuildInfo) -> None:
        self.top = Module()
        self.deframer, self.framer = add_protocol_path(self.top, TINY, info)

    def replies(self, frames: list[bytes]) -> list[bytes]:
        """The wire bytes sent back after each frame (b"" if none within the bound)."""
        out: list[bytes] = []
        got = bytearray()

        async def collect(ctx) -> None:  # noqa: ANN001
            ctx.set(self.framer.o.ready, 1)
            async for _, _, valid, byte in ctx.tick().sample(self.framer.o.valid,
                                                             self.framer.o.payload):
                if valid:
                    got.append(byte)

        async def feed(ctx) -> None:  # noqa: ANN001
            for wire in frames:
                for byte in wire:
                    ctx.set(self.deframer.i.payload, byte)
                    ctx.set(self.deframer.i.valid, 1)
                    await ctx.tick().until(self.deframer.i.ready)
                ctx.set(self.deframer.i.valid, 0)
                for _ in range(MAX_CYCLES_PER_REPLY):
                    await ctx.tick()
                    if got and got[-1] == p.DELIMITER:
                        break
                out.append(bytes(got))
                got.clear()

        sim = Simulator(self.top)
        sim.add_clock(1e-6)
        sim.add_process(collect)
        sim.add_testbench(feed)
        sim.run()
        return out


def _board_replies(frames: list[bytes]) -> tuple[p.BuildInfo, list[bytes]]:
    """What the rtl-sim board's protocol engine answers to each frame."""
    sent: list[bytes] = []
    board = VirtualBoard(TINY, sent.append, core=RTL)
    sent.clear()  # a BOOT frame, if any
    replies = []
    for wire in frames:
        board.receive(wire)
        replies.append(b"".join(sent))
        sent.clear()
    return board.info, replies


def _frames(info: p.BuildInfo) -> list[bytes]:
    image = random_image(TINY, seed=41)
    # a session opening and loading, as Session.open and Session.load do it
    frames: list[tuple[p.FrameType, bytes]] = [
        (p.FrameType.HELLO, bytes([1])), (p.FrameType.STATUS, b""), (p.FrameType.STOP, b""),
        (p.FrameType.RESET, bytes([p.ResetScope.ALL])),
        (p.FrameType.CONFIG, p.Config(image.n_neurons, image.n_inputs).encode()),
    ]
    regions = _regions(image.commands(TINY))
    for memory, address, words in regions:
        frames.append((p.FrameType.WRITE, p.MemoryWrite(memory, address, words).encode(info)))
    for memory, address, words in regions:
        if info.can_read(memory):
            frames.append((p.FrameType.READ, p.MemoryRead(memory, address, words.size).encode()))
    wb = info.word_bytes(p.Memory.SYNAPSE)
    row_past_end = TINY.pack("row", start=TINY.n_synapses - 2, length=3)
    frames += [
        (p.FrameType.HELLO, bytes([2])),  # another protocol version
        (p.FrameType.STATUS, b""),
        (p.FrameType.CONFIG, p.Config(TINY.n_neurons, TINY.n_inputs + 1).encode()),
        (p.FrameType.CONFIG, bytes(3)),
        (p.FrameType.CONFIG, bytes(9)),
        (p.FrameType.RESET, bytes([p.ResetScope.STATE])),  # not on the gateware
        (p.FrameType.RESET, bytes([7])),
        (p.FrameType.RESET, b""),
        (p.FrameType.READ, p.MemoryRead(p.Memory.NEURON, 0, 1).encode()),  # NOT_READABLE
        (p.FrameType.READ, p.MemoryRead(p.Memory.SYNAPSE, TINY.n_synapses - 1, 2).encode()),
        (p.FrameType.READ, p.MemoryRead(p.Memory.STATE, 300, 1).encode()),
        (p.FrameType.READ, bytes([1, 0, 0])),  # short: address cut at offset 1
        (p.FrameType.READ, bytes([1, 0, 0, 0, 0, 1])),  # count cut at offset 5
        (p.FrameType.READ, p.MemoryRead(p.Memory.STATE, 0, 1).encode() + b"\x01"),  # trailing
        (p.FrameType.READ, bytes([9, 0, 0, 0, 0, 1, 0])),  # no memory 9
        (p.FrameType.WRITE, bytes([1, 3, 0, 0, 0]) + bytes(wb + 1)),  # not whole words
        (p.FrameType.WRITE, bytes([1, 3, 0])),
        (p.FrameType.WRITE, b""),
        (p.FrameType.WRITE, p.MemoryWrite(p.Memory.SYNAPSE, TINY.n_synapses,
                                          np.array([5], np.uint64)).encode(info)),
        (p.FrameType.WRITE, p.MemoryWrite(p.Memory.ROW, 2, np.array([0, row_past_end],
                                                                    np.uint64)).encode(info)),
        (p.FrameType.WRITE, p.MemoryWrite(p.Memory.SYNAPSE, 7, np.array([0x15], np.uint64))
         .encode(info)),
    ]
    frames += [  # everything written is gone after RESET ALL
        (p.FrameType.RESET, bytes([p.ResetScope.ALL])),
        (p.FrameType.READ, p.MemoryRead(p.Memory.SYNAPSE, 0, TINY.n_synapses).encode()),
        (p.FrameType.ACK, b"\x01\x00\x00\x00\x00"),  # a board's frame echoed back: ignored
        (0x30, b"\x01"),  # no such type: dropped and counted
        (p.FrameType.STATUS, b""),  # and every counter so far agrees
    ]
    wires = [p.encode_frame(t, k % 256, payload) for k, (t, payload) in enumerate(frames)]
    wires.append(wires[-1])  # a retry of the last command: answered from the reply cache
    wires.append(p.encode_frame(p.FrameType.STATUS, 199))  # counts that resend
    wires.append(p.encode_frame(p.FrameType.READ, 200, p.MemoryRead(p.Memory.SYNAPSE, 0, 12)
                                .encode()))
    damaged = bytearray(wires[-1])
    damaged[3] ^= 0x10
    wires.append(bytes(damaged))  # dropped, no reply
    return wires


def test_decoder_answers_byte_for_byte_as_the_rtl_sim_board() -> None:
    info = p.BuildInfo.from_spec(TINY, readable=GATEWARE_READABLE, clock_hz=12_000_000,
                                 baud=1_000_000)
    wires = _frames(info)
    board_info, want = _board_replies(wires)
    assert board_info == info
    got = _Device(info).replies(wires)
    decoded = [p.FrameReader().feed(w) for w in want]
    assert any(f.type is p.FrameType.DATA for fs in decoded for f in fs)
    assert any(f.type is p.FrameType.ERROR for fs in decoded for f in fs)
    assert want[-1] == b""  # the damaged frame
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"frame {k} ({wires[k].hex()}): gateware {p.FrameReader().feed(g)} " \
            f"vs board {p.FrameReader().feed(w)}"


def test_commands_not_in_gateware_yet_are_refused_not_ignored() -> None:
    info = p.BuildInfo.from_spec(TINY, readable=GATEWARE_READABLE)
    wires = [p.encode_frame(p.FrameType.RUN, 4, p.RunCommand(10).encode()),
             p.encode_frame(p.FrameType.INPUT, 0, p.SpikeBlock(0, (np.array([1]),)).encode(8)),
             p.encode_frame(p.FrameType.RESEND, 5, bytes([0]))]
    for wire, sent in zip(wires, _Device(info).replies(wires), strict=True):
        (reply,) = p.FrameReader().feed(sent)
        err = p.ErrorReply.decode(reply.payload)
        assert reply.type is p.FrameType.ERROR and reply.seq == wire_seq(wire)
        assert err.code is p.ErrorCode.UNSUPPORTED and err.cause == wire_type(wire)


def wire_seq(wire: bytes) -> int:
    return p.decode_frame(wire[:-1]).seq


def wire_type(wire: bytes) -> int:
    return int(p.decode_frame(wire[:-1]).type)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_decoder_refuses_a_build_info_of_another_core() -> None:
    from toolchain.targets.fpga.spec import ICE40UP5K

    other = p.BuildInfo.from_spec(ICE40UP5K, readable=GATEWARE_READABLE)
    with pytest.raises(ValueError, match=f"CommandDecoder: BuildInfo has build id "
                       f"{other.build_id:#010x}, but core spec 'tiny' has "
                       f"{p.spec_build_id(TINY):#010x}"):
        CommandDecoder(TINY, other)
    with pytest.raises(ValueError, match="gateware reads back exactly 0x12"):
        CommandDecoder(TINY, p.BuildInfo.from_spec(TINY))
    gc.collect()  # the refused components warn when collected: let that happen here


_COMMANDS = [p.FrameType.HELLO, p.FrameType.STATUS, p.FrameType.STOP, p.FrameType.CONFIG,
             p.FrameType.RESET, p.FrameType.WRITE, p.FrameType.READ]


@st.composite
def _command_frames(draw: st.DrawFn) -> list[bytes]:
    """Short command sequences, mostly well formed (so they reach the memories), some not."""
    info = _INFO
    frames = []
    for seq in range(draw(st.integers(1, 6))):
        ftype = draw(st.sampled_from(_COMMANDS))
        memory = draw(st.integers(0, 5))
        depth = info.depth(p.Memory(memory)) if memory < 5 else 4
        address = draw(st.one_of(st.integers(0, depth), st.integers(0, 2**32 - 1)))
        if ftype is p.FrameType.WRITE and memory < 5 and draw(st.booleans()):
            wb = info.word_bytes(p.Memory(memory))
            bits = info.word_bits(p.Memory(memory))
            words = draw(st.lists(st.integers(0, 2**bits - 1), max_size=6))
            payload = bytes([memory]) + address.to_bytes(4, "little") + b"".join(
                w.to_bytes(wb, "little") for w in words)
        elif ftype is p.FrameType.READ and draw(st.booleans()):
            payload = p.MemoryRead(p.Memory(min(memory, 4)), min(address, depth),
                                   draw(st.integers(0, 8))).encode()
        else:
            payload = draw(st.binary(max_size=12))
        frames.append(p.encode_frame(ftype, draw(st.sampled_from([seq, 0])), payload))
    return frames


_INFO = p.BuildInfo.from_spec(TINY, readable=GATEWARE_READABLE, clock_hz=12_000_000,
                              baud=1_000_000)


@settings(max_examples=12, deadline=None)
@given(_command_frames())
def test_decoder_equals_the_board_on_any_command_sequence(wires: list[bytes]) -> None:
    _, want = _board_replies(wires)
    assert _Device(_INFO).replies(wires) == want
