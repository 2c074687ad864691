"""The gateware protocol engine (hdl/uart/engine.py) behind the RTL deframer and framer,
attached to the core's RTL: every frame leaves as the same wire bytes the rtl-sim board's
protocol engine (toolchain/boardsim/virtual.py) sends for the same frames, errors included,
for commands and for runs with their spike streams, credits and resends."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.sim import Simulator
from hypothesis import given, settings
from hypothesis import strategies as st

from hdl.uart.device import add_protocol_path, device_info
from hdl.uart.engine import ProtocolEngine
from tests.runtime.conftest import random_image, random_inputs
from toolchain.boardsim.virtual import RTL, VirtualBoard
from toolchain.runtime import protocol as p
from toolchain.runtime.session import _regions
from toolchain.targets.fpga.spec import TINY, CoreSpec

pytestmark = pytest.mark.hdl



class _Device:
    """Deframer -> ProtocolEngine -> Framer, with the engine driving SpikeCore."""

    def __init__(self, info: p.BuildInfo, spec: CoreSpec = TINY) -> None:
        self.top = Module()
        self.deframer, self.framer = add_protocol_path(self.top, spec, info)
        self.engine = self.top.submodules.decoder

    def phases(self, phases: list[list[bytes]], max_cycles: int = 400_000) -> list[list[bytes]]:
        """Feed each phase's frames, then run until the device is idle; the frames it sent
        during each phase."""
        out: list[list[bytes]] = []
        got = bytearray()
        frames: list[bytes] = []

        async def collect(ctx) -> None:
            ctx.set(self.framer.o.ready, 1)
            async for _, _, valid, byte in ctx.tick().sample(self.framer.o.valid,
                                                             self.framer.o.payload):
                if valid:
                    got.append(byte)
                    if byte == p.DELIMITER:
                        frames.append(bytes(got))
                        got.clear()

        async def feed(ctx) -> None:
            for phase in phases:
                for wire in phase:
                    for byte in wire:
                        ctx.set(self.deframer.i.payload, byte)
                        ctx.set(self.deframer.i.valid, 1)
                        await ctx.tick().until(self.deframer.i.ready)
                    ctx.set(self.deframer.i.valid, 0)
                quiet = 0
                for _ in range(max_cycles):
                    await ctx.tick()
                    busy = (not ctx.get(self.engine.idle) or ctx.get(self.framer.o.valid)
                            or not ctx.get(self.framer.idle) or bool(got))
                    quiet = 0 if busy else quiet + 1
                    if quiet > 8:
                        break
                else:
                    raise AssertionError(f"device still busy after {max_cycles} cycles")
                out.append(list(frames))
                frames.clear()

        sim = Simulator(self.top)
        sim.add_clock(1e-6)
        sim.add_process(collect)
        sim.add_testbench(feed)
        sim.run()
        return out

    def replies(self, frames: list[bytes]) -> list[bytes]:
        """The wire bytes sent back for each frame, fed one at a time as a host that waits
        for each reply does, without the BOOT that opens them (_board_replies drops the
        board's too)."""
        sent = self.phases([[wire] for wire in frames])
        boot = p.encode_frame(p.FrameType.BOOT, 0, bytes(4))
        assert sent and sent[0][:1] == [boot], "a device announces itself after reset"
        sent[0] = sent[0][1:]
        return [b"".join(chunk) for chunk in sent]


def _virtual(spec: CoreSpec, send, core: str = RTL) -> VirtualBoard:
    """A board with the gateware's link buffers and clock, so both report the same build."""
    info = device_info(spec, 12_000_000, 12)
    return VirtualBoard(spec, send, core=core, input_slots=info.input_slots,
                        output_window=info.output_window, clock_hz=info.clock_hz,
                        baud=info.baud)


def _board_replies(frames: list[bytes]) -> tuple[p.BuildInfo, list[bytes]]:
    """What the virtual board's Python engine (in front of the core RTL) answers to each frame."""
    sent: list[bytes] = []
    board = _virtual(TINY, sent.append)
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
    info = _INFO
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


def wire_seq(wire: bytes) -> int:
    return p.decode_frame(wire[:-1]).seq


def wire_type(wire: bytes) -> int:
    return int(p.decode_frame(wire[:-1]).type)


@pytest.mark.filterwarnings("ignore::amaranth.hdl.UnusedElaboratable")
def test_decoder_refuses_a_build_info_of_another_core() -> None:
    from toolchain.targets.fpga.spec import ICE40UP5K

    other = p.BuildInfo.from_spec(ICE40UP5K, readable=p.CORE_READABLE)
    with pytest.raises(ValueError, match=f"ProtocolEngine: BuildInfo has build id "
                       f"{other.build_id:#010x}, but core spec 'tiny' has "
                       f"{p.spec_build_id(TINY):#010x}"):
        ProtocolEngine(TINY, other)
    with pytest.raises(ValueError, match="gateware reads back exactly 0x12"):
        ProtocolEngine(TINY, p.BuildInfo.from_spec(TINY))
    with pytest.raises(ValueError, match="BuildInfo.input_slots = 8; the gateware needs 2"):
        ProtocolEngine(TINY, p.BuildInfo.from_spec(TINY, readable=p.CORE_READABLE))
    gc.collect()  # the refused components warn when collected: let that happen here


_COMMANDS = [p.FrameType.HELLO, p.FrameType.STATUS, p.FrameType.STOP, p.FrameType.CONFIG,
             p.FrameType.RESET, p.FrameType.WRITE, p.FrameType.READ, p.FrameType.RUN]


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
        elif ftype is p.FrameType.RUN and draw(st.booleans()):
            # streamed with no input: the run waits, so later replies do not depend on timing
            payload = p.RunCommand(draw(st.integers(0, 50)), p.RunFlags.STREAMED).encode()
        elif ftype is p.FrameType.READ and draw(st.booleans()):
            payload = p.MemoryRead(p.Memory(min(memory, 4)), min(address, depth),
                                   draw(st.integers(0, 8))).encode()
        else:
            payload = draw(st.binary(max_size=12))
        frames.append(p.encode_frame(ftype, draw(st.sampled_from([seq, 0])), payload))
    return frames


_INFO = device_info(TINY, 12_000_000, 12)


@settings(max_examples=12, deadline=None)
@given(_command_frames())
def test_decoder_equals_the_board_on_any_command_sequence(wires: list[bytes]) -> None:
    _, want = _board_replies(wires)
    assert _Device(_INFO).replies(wires) == want


# --------------------------------------------------------------------------- runs


def _load(info: p.BuildInfo, spec: CoreSpec, image) -> list[list[bytes]]:
    """The frames of a session opening and loading ``image`` (as Session.load sends them),
    one phase each: a host waits for each reply before its next command."""
    frames = [p.encode_frame(p.FrameType.HELLO, 1, bytes([1])),
              p.encode_frame(p.FrameType.RESET, 2, bytes([p.ResetScope.ALL]))]
    for k, (memory, address, words) in enumerate(_regions(image.commands(spec))):
        frames.append(p.encode_frame(p.FrameType.WRITE, (3 + k) % 256, p.MemoryWrite(
            memory, address, words).encode(info)))
    return [[f] for f in frames]


def _board_phases(spec: CoreSpec, phases: list[list[bytes]], core: str = RTL) -> list[list[bytes]]:
    """What the virtual board sends in each phase when it runs until it has nothing to do."""
    sent: list[bytes] = []
    board = _virtual(spec, sent.append, core=core)
    out = []
    for phase in phases:
        for wire in phase:
            board.receive(wire)
        while board.tick():
            pass
        out.append(list(sent))
        sent.clear()
    return out


def _split(frames: list[bytes]) -> list[bytes]:
    """One list of wire frames out of what a device sent (which may join several)."""
    return [f + b"\0" for chunk in frames for f in chunk.split(b"\0") if f]


def _by_kind(frames: list[bytes]) -> dict[tuple[int, int], list[bytes]]:
    """Frames grouped by type (and, for ERROR, the type it answers): the order within a
    group is the protocol's, the interleaving of groups depends on timing."""
    groups: dict[tuple[int, int], list[bytes]] = {}
    for wire in _split(frames):
        frame = p.decode_frame(wire[:-1])
        cause = frame.payload[1] if frame.type is p.FrameType.ERROR else 0
        groups.setdefault((int(frame.type), cause), []).append(wire)
    return groups


def _same_phases(got: list[list[bytes]], want: list[list[bytes]]) -> None:
    assert len(got) == len(want)
    for k, (g, w) in enumerate(zip(got, want, strict=True)):
        gk, wk = _by_kind(g), _by_kind(w)
        assert gk.keys() == wk.keys(), f"phase {k}: gateware sent {sorted(gk)}, board {sorted(wk)}"
        for key in wk:
            for n, (a, b) in enumerate(zip(gk[key], wk[key], strict=True)):
                assert a == b, (f"phase {k}, frame {n} of type {key}: gateware "
                                f"{p.decode_frame(a[:-1])} vs board {p.decode_frame(b[:-1])}")


def _cmd(seq: int, frame_type: p.FrameType, payload: bytes = b"") -> bytes:
    return p.encode_frame(frame_type, seq, payload)


def test_unstreamed_run_sends_what_the_board_sends() -> None:
    """A free-standing run of 150 steps (OUTPUT frames of 64, 64 and 22 steps), the state and
    learnt weights read back after it, a RUN refused while busy and a STOP mid-run."""
    image = random_image(TINY, seed=7, bias=40, n_synapses=100)
    info = _INFO
    syn = p.MemoryRead(p.Memory.SYNAPSE, 0, TINY.n_synapses).encode()
    state = p.MemoryRead(p.Memory.STATE, 0, TINY.n_neurons).encode()
    phases = [
        *_load(info, TINY, image),
        [_cmd(60, p.FrameType.RUN, p.RunCommand(150).encode())],
        [_cmd(61, p.FrameType.STATUS)], [_cmd(62, p.FrameType.READ, syn)],
        [_cmd(63, p.FrameType.READ, state)], [_cmd(64, p.FrameType.RESEND, bytes([1]))],
        [_cmd(65, p.FrameType.RESEND, bytes([9]))],
        [_cmd(66, p.FrameType.RUN, p.RunCommand(0, p.RunFlags.STREAMED).encode())],
        [_cmd(67, p.FrameType.RUN, p.RunCommand(5).encode())],  # BUSY
        [_cmd(68, p.FrameType.STOP)], [_cmd(69, p.FrameType.STATUS)],
    ]
    want = _board_phases(TINY, phases)
    run_phase = len(phases) - 10
    outputs = [p.decode_frame(w[:-1]) for w in _split(want[run_phase])]
    blocks = [p.SpikeBlock.decode(f.payload, info.neuron_id_bits) for f in outputs
              if f.type is p.FrameType.OUTPUT]
    assert [b.n_steps for b in blocks] == [64, 64, 22]
    assert sum(b.n_spikes for b in blocks) > 50, "the network should fire"
    _same_phases(_Device(info).phases(phases), want)


def _streamed_phases(info: p.BuildInfo, spec: CoreSpec, image, steps: int,
                     block_steps: int, seed: int) -> list[list[bytes]]:
    inputs = random_inputs(image.n_inputs, steps, seed)
    blocks = list(p.split_spike_blocks(0, inputs, info.input_id_bits, max_steps=block_steps))
    wires = [p.encode_frame(p.FrameType.INPUT, k % 256, b.encode(info.input_id_bits))
             for k, b in enumerate(blocks)]
    phases = [*_load(info, spec, image),
              [_cmd(80, p.FrameType.RUN, p.RunCommand(steps, p.RunFlags.STREAMED).encode())]]
    # as a host with input_slots credits sends them
    for k in range(0, len(wires), info.input_slots):
        phases.append(wires[k:k + info.input_slots])
    phases.append([_cmd(81, p.FrameType.STATUS)])
    phases.append([_cmd(82, p.FrameType.READ, p.MemoryRead(p.Memory.SYNAPSE, 0,
                                                           spec.n_synapses).encode())])
    return phases


def test_streamed_run_sends_what_the_board_sends() -> None:
    image = random_image(TINY, seed=3, bias=10, n_synapses=100)
    phases = _streamed_phases(_INFO, TINY, image, steps=120, block_steps=16, seed=5)
    # loaded and run again: RESET ALL leaves no trace, delay ring or ring position behind
    again = _streamed_phases(_INFO, TINY, random_image(TINY, seed=4, bias=10, n_synapses=90),
                             steps=40, block_steps=16, seed=6)
    phases += again
    _same_phases(_Device(_INFO).phases(phases), _board_phases(TINY, phases))


def test_input_frames_out_of_order_are_answered_as_the_board_answers() -> None:
    """Go-back-N: a lost frame (SEQ_GAP once, then silence), a duplicate (CREDIT), a block
    that does not start at the next step, malformed blocks (BAD_MESSAGE at the offset
    SpikeBlock.decode names), an input id beyond n_inputs, input with no run, and STOP."""
    info = _INFO
    image = random_image(TINY, seed=11, n_synapses=60)
    ib = info.input_id_bits
    block = [p.SpikeBlock(8 * k, tuple(np.array([k % 4, 5], np.int32) for _ in range(8)))
             .encode(ib) for k in range(4)]
    frame = lambda seq, payload: p.encode_frame(p.FrameType.INPUT, seq, payload)  # noqa: E731
    phases = [
        *_load(info, TINY, image),
        [frame(0, block[0])],  # no run yet: NOT_RUNNING
        [_cmd(70, p.FrameType.RUN, p.RunCommand(0, p.RunFlags.STREAMED).encode())],
        [frame(0, block[0])],
        [frame(2, block[2]), frame(3, block[3])],  # 1 lost: one SEQ_GAP, then silence
        [frame(0, block[0])],  # a duplicate: CREDIT
        [frame(1, block[2])],  # wrong first step
        [frame(1, block[1][:5])],  # cut in n_steps
        [frame(1, block[1][:9])],  # cut in a record's ids
        [frame(1, block[1][:6] + bytes([0xFF] * 5 + [1]))],  # varint longer than 5 bytes
        [frame(1, block[1][:6] + bytes([8 << 2]))],  # record beyond the block's steps
        [frame(1, block[1][:6] + bytes([3, 0x80]))],  # count varint cut
        [frame(1, block[1][:6] + bytes([0, 9]))],  # input id 9 >= n_inputs
        [frame(1, block[1][:4] + bytes([0, 0x80]))],  # continued with 0 steps
        [frame(1, block[1]), frame(2, p.SpikeBlock(16, ()).encode(ib))],  # an empty block
        [frame(3, block[2])],
        [_cmd(71, p.FrameType.STOP)], [_cmd(72, p.FrameType.STATUS)],
        [frame(4, block[3])],  # after STOP: NOT_RUNNING
    ]
    want = _board_phases(TINY, phases)
    kinds = {p.decode_frame(w[:-1]).payload[0] for ph in want for w in _split(ph)
             if w[0] != 0 and p.decode_frame(w[:-1]).type is p.FrameType.ERROR}
    assert {p.ErrorCode.NOT_RUNNING, p.ErrorCode.SEQ_GAP, p.ErrorCode.STEP_MISMATCH,
            p.ErrorCode.BAD_MESSAGE} <= kinds
    _same_phases(_Device(info).phases(phases), want)


# Two-byte ids both ways, and a step with more spikes than one frame holds (CONTINUED).
WIDE = CoreSpec(n_neurons=520, n_inputs=300, n_synapses=64, v_bits=12, i_bits=12, w_bits=6,
                acc_bits=12, trace_bits=6, ref_bits=3, delay_bits=2, name="wide")


def test_two_byte_ids_and_a_step_over_two_frames() -> None:
    from toolchain.targets.fpga.image import CoreImage, StdpParams

    info = device_info(WIDE, 12_000_000, 12)
    assert info.neuron_id_bytes == 2 and info.input_id_bytes == 2
    n = WIDE.n_neurons
    rng = np.random.default_rng(4)
    image, _ = CoreImage.from_synapses(  # most neurons fire together every other step
        neurons={"v_thresh": np.full(n, 30), "v_reset": np.zeros(n, np.int64),
                 "bias": np.full(n, 20), "leak_shift": np.full(n, 4),
                 "syn_shift": np.full(n, 2), "refrac": np.zeros(n, np.int64)},
        n_inputs=WIDE.n_inputs, source=rng.integers(n, n + WIDE.n_inputs, 40),
        target=rng.integers(0, n, 40), weight=np.full(40, 30), delay=np.ones(40, np.int64),
        plastic=np.zeros(40, bool), stdp=StdpParams(enable=False))
    phases = _streamed_phases(info, WIDE, image, steps=6, block_steps=3, seed=8)
    want = _board_phases(WIDE, phases)
    outputs = [p.decode_frame(w[:-1]) for ph in want for w in _split(ph)]
    blocks = [p.SpikeBlock.decode(f.payload, info.neuron_id_bits) for f in outputs
              if f.type is p.FrameType.OUTPUT]
    assert any(b.continued for b in blocks), "a step of > 507 spikes must span two frames"
    _same_phases(_Device(info, WIDE).phases(phases, max_cycles=100_000), want)


@st.composite
def _input_frames(draw: st.DrawFn) -> list[list[bytes]]:
    """A streamed run fed INPUT frames that are mostly step blocks, some damaged in their
    payload (intact CRC, so only the block check can catch them), some out of order."""
    ib = _INFO.input_id_bits
    phases: list[list[bytes]] = [[_cmd(90, p.FrameType.RUN, p.RunCommand(
        draw(st.integers(0, 40)), p.RunFlags.STREAMED).encode())]]
    first = 0
    for _ in range(draw(st.integers(1, 4))):
        n = draw(st.integers(0, 6))
        steps = tuple(np.array(sorted(draw(st.sets(st.integers(0, TINY.n_inputs - 1),
                                                   max_size=4))), np.int32) for _ in range(n))
        payload = bytearray(p.SpikeBlock(first + draw(st.sampled_from([0, 0, 0, 1])),
                                         steps).encode(ib))
        if payload and draw(st.booleans()):
            payload[draw(st.integers(0, len(payload) - 1))] = draw(st.integers(0, 255))
        if draw(st.booleans()):
            payload = payload[:draw(st.integers(0, len(payload)))]
        seq = draw(st.sampled_from([len(phases) - 1, len(phases) - 1, len(phases), 0]))
        phases.append([p.encode_frame(p.FrameType.INPUT, seq % 256, bytes(payload))])
        first += n
    phases.append([_cmd(91, p.FrameType.STOP)])
    phases.append([_cmd(92, p.FrameType.STATUS)])
    return phases


@settings(max_examples=20, deadline=None)
@given(_input_frames())
def test_engine_equals_the_board_on_any_input_frames(phases: list[list[bytes]]) -> None:
    """Never a hang, never a block the board would refuse taken in: for random (often
    malformed) INPUT frames the gateware answers and runs exactly as the board does."""
    _same_phases(_Device(_INFO).phases(phases, max_cycles=50_000),
                 _board_phases(TINY, phases))


# --------------------------------------------------------------------------- the specification


def _hex(h: str) -> bytes:
    return bytes.fromhex(h)


def _reply(wire: bytes) -> list[p.Frame]:
    return [f for f in p.FrameReader().feed(wire) if isinstance(f, p.Frame)]


def _error(wire: bytes) -> tuple[int, int, int] | None:
    frames = [f for f in _reply(wire) if f.type is p.FrameType.ERROR]
    if not frames:
        return None
    e = p.ErrorReply.decode(frames[-1].payload)
    return int(e.code), e.cause, e.detail


def _noncanonical(frame_type: int, seq: int, payload: bytes) -> bytes:
    """A frame whose last COBS block is full and not closed by an empty one: the payload is
    chosen so that the body (type, seq, payload, CRC) is 254 non-zero bytes."""
    body = bytes([frame_type, seq]) + payload
    body += p.crc16(body).to_bytes(2, "big")
    assert len(body) == 254 and 0 not in body
    wire = p.cobs_encode(body)
    assert wire[-1] == 0x01
    return wire[:-1] + b"\x00"


def _status_with_254_byte_body() -> bytes:
    for fill in range(1, 256):
        payload = bytes([fill]) * 250
        body = bytes([p.FrameType.STATUS, 77]) + payload
        if 0 not in p.crc16(body).to_bytes(2, "big"):
            return payload
    raise AssertionError("no fill byte gives a CRC without a zero")


# Command frames of docs/protocol.md, sections 1 to 4, with the answer the page gives each:
# (wire, (code, cause, detail) of the ERROR, or the reply type, or None for no reply).
R, E = p.FrameType, p.ErrorCode
SPEC_COMMANDS: list[tuple[bytes, object]] = [
    # the measured departures (fresh board, the bytes)
    (_hex("030701037a3d00"), (E.BAD_MESSAGE, R.STOP, 0)),  # STOP + 1 byte
    (_hex("03090103613c00"), (E.BAD_MESSAGE, R.STATUS, 0)),  # STATUS + 1 byte
    (_hex("050a01e2e500"), (E.BAD_MESSAGE, R.RESEND, 0)),  # RESEND of 0 bytes
    (_hex("030a010103db5b00"), (E.BAD_MESSAGE, R.RESEND, 1)),  # RESEND of 2 bytes
    (_hex("04020101036da900"), (E.BAD_MESSAGE, R.RESET, 1)),  # RESET(1) + junk
    (_hex("0406010501010402165e00"), (E.BAD_MESSAGE, R.RUN, 4)),  # RUN flags 0x02
    (_hex("040401010101010401d3b300"), (E.BAD_MESSAGE, R.WRITE, 5)),  # half a SYNAPSE word
    (_hex("0403011002090101010103ce8300"), (E.BAD_MESSAGE, R.CONFIG, 2)),  # CONFIG(16, 9)
    # HELLO: the version before the length, so a later host learns ours
    (p.encode_frame(R.HELLO, 2), (E.BAD_MESSAGE, R.HELLO, 0)),
    (p.encode_frame(R.HELLO, 3, bytes([2, 9, 9])), (E.BAD_VERSION, R.HELLO, 1)),
    (p.encode_frame(R.HELLO, 4, bytes([1, 0])), (E.BAD_MESSAGE, R.HELLO, 1)),
    (p.encode_frame(R.HELLO, 5, bytes([1])), R.HELLO_REPLY),
    # STATUS is never answered from the cache: the same seq twice is answered twice
    (p.encode_frame(R.STATUS, 6), R.STATUS_REPLY),
    (p.encode_frame(R.STATUS, 6), R.STATUS_REPLY),
    # RESET(STATE) is done by both engines
    (p.encode_frame(R.RESET, 7, bytes([p.ResetScope.STATE])), R.ACK),
    (p.encode_frame(R.RESET, 8, bytes([2])), (E.BAD_MESSAGE, R.RESET, 0)),
    # CONFIG's fields in order; the seed is reserved
    (p.encode_frame(R.CONFIG, 9, p.Config(17, 8).encode()), (E.BAD_MESSAGE, R.CONFIG, 0)),
    (p.encode_frame(R.CONFIG, 10, p.Config(16, 8, 5).encode()), (E.BAD_MESSAGE, R.CONFIG, 4)),
    (p.encode_frame(R.CONFIG, 11, p.Config(16, 8).encode()), R.ACK),
    # READ: 0 words, more than a frame, past the end, not readable
    (p.encode_frame(R.READ, 12, bytes([1, 0, 0, 0, 0, 0, 0])), (E.BAD_MESSAGE, R.READ, 5)),
    (p.encode_frame(R.READ, 13, p.MemoryRead(p.Memory.SYNAPSE, 0, 510).encode()),
     (E.BAD_MESSAGE, R.READ, 5)),
    (p.encode_frame(R.READ, 14, p.MemoryRead(p.Memory.STATE, 10, 7).encode()),
     (E.BAD_ADDRESS, R.READ, 16)),
    (p.encode_frame(R.READ, 15, p.MemoryRead(p.Memory.ROW, 0, 1).encode()),
     (E.NOT_READABLE, R.READ, p.Memory.ROW)),
    # WRITE: no word, bits above the width (word 1), a row leaving SYNAPSE, all or nothing
    (p.encode_frame(R.WRITE, 16, bytes([1, 0, 0, 0, 0])), (E.BAD_MESSAGE, R.WRITE, 5)),
    (p.encode_frame(R.WRITE, 17, bytes([1, 3, 0, 0, 0, 0x15, 0, 0, 0x20])),
     (E.BAD_MESSAGE, R.WRITE, 7)),
    (p.encode_frame(R.WRITE, 18, bytes([2, 0, 0, 0, 0]) + (TINY.pack(
        "row", start=120, length=9)).to_bytes(2, "little")), (E.BAD_ADDRESS, R.WRITE, 129)),
    (p.encode_frame(R.READ, 19, p.MemoryRead(p.Memory.SYNAPSE, 3, 1).encode()), R.DATA),
    # RUN: 0xFFFFFFFF is a free run's steps_left, not a step count
    (p.encode_frame(R.RUN, 20, bytes([0xFF] * 4 + [0])), (E.BAD_MESSAGE, R.RUN, 0)),
    # types: unknown below 0x80 answered UNSUPPORTED (not cached), others ignored
    (p.encode_frame(0x30, 21, b"\x01"), (E.UNSUPPORTED, 0x30, 0x30)),
    (p.encode_frame(0x00, 22), (E.UNSUPPORTED, 0x00, 0x00)),
    (p.encode_frame(0x7F, 23, bytes(3)), (E.UNSUPPORTED, 0x7F, 0x7F)),
    (p.encode_frame(0x90, 24), None),
    (p.encode_frame(R.BOOT, 25, bytes(4)), None),
    # not canonical COBS: dropped like a CRC error
    (_noncanonical(R.STATUS, 77, _status_with_254_byte_body()), None),
    (p.encode_frame(R.STATUS, 26), R.STATUS_REPLY),
]


def test_commands_answer_as_the_specification_says_in_both_engines() -> None:
    wires = [w for w, _ in SPEC_COMMANDS]
    _, want = _board_replies(wires)
    for (wire, expect), reply in zip(SPEC_COMMANDS, want, strict=True):
        if expect is None:
            assert reply == b"", wire.hex()
        elif isinstance(expect, tuple):
            assert _error(reply) == tuple(int(x) for x in expect), wire.hex()
        else:
            assert [f.type for f in _reply(reply)] == [expect], wire.hex()
    status = p.Status.decode(_reply(want[-1])[0].payload)
    sent_intact = len(SPEC_COMMANDS) - 1  # all but the non-canonical frame
    assert (status.rx_frames, status.crc_errors, status.resends) == (sent_intact, 1, 0)
    assert _Device(_INFO).replies(wires) == want


def test_input_refusals_answer_as_the_specification_says_in_both_engines() -> None:
    """INPUT blocks: CONTINUED refused (departure 5), an id named at its own offset
    (departure 3), ids that repeat or descend, a non-minimal varint, a block reaching past
    the end of a counted run, and the rules' order."""
    ib = _INFO.input_id_bits
    run = lambda seq, steps: p.encode_frame(R.RUN, seq, p.RunCommand(  # noqa: E731
        steps, p.RunFlags.STREAMED).encode())
    inp = lambda seq, payload: p.encode_frame(R.INPUT, seq, payload)  # noqa: E731
    block = lambda first, n, records: (first.to_bytes(4, "little") + n.to_bytes(2, "little")  # noqa: E731
                                       + bytes(records))
    cases: list[tuple[bytes, object]] = [
        (run(1, 2), R.ACK),
        # READ during a run is BUSY (departure 1; this run waits for input, so it stays at 0)
        (p.encode_frame(R.READ, 3, p.MemoryRead(p.Memory.SYNAPSE, 0, 1).encode()),
         (E.BUSY, R.READ, 0)),
        (_hex("02080101010104018001040126f900"), (E.BAD_MESSAGE, R.INPUT, 4)),  # continued
        (_hex("030801010101020106010203d2a400"), (E.SEQ_GAP, R.INPUT, 0)),  # its rest: seq 1
        (inp(0, block(0, 3, [])), (E.BAD_MESSAGE, R.INPUT, 4)),  # 3 steps of a 2-step run
        (inp(0, block(0, 1, [1, 3, 3])), (E.BAD_MESSAGE, R.INPUT, 8)),  # 3 twice
        (inp(0, block(0, 1, [1, 5, 2])), (E.BAD_MESSAGE, R.INPUT, 8)),  # descending
        (inp(0, block(0, 1, [0x80, 0x00, 1])), (E.BAD_MESSAGE, R.INPUT, 6)),  # not minimal
        (inp(0, block(0, 1, [3, 0x80])), (E.BAD_MESSAGE, R.INPUT, 7)),  # count varint cut
        (inp(0, block(0, 2, [2, 1])), (E.BAD_MESSAGE, R.INPUT, 8)),  # 3 ids, 1 there
        (inp(0, block(5, 2, [0, 1])), (E.STEP_MISMATCH, R.INPUT, 0)),
        (inp(0, p.SpikeBlock(0, (np.array([1, 2], np.int32), np.array([7], np.int32)))
             .encode(ib)), R.CREDIT),  # the whole run: computed, then CREDIT
        (inp(1, block(2, 1, [])), (E.NOT_RUNNING, R.INPUT, 1)),  # the run is over
        (run(2, 1), R.ACK),
        (_hex("02080101010102010104085cce00"), (E.BAD_MESSAGE, R.INPUT, 7)),  # id 8 >= 8
    ]
    wires = [w for w, _ in cases]
    phases = [[w] for w in wires]
    want = _board_phases(TINY, phases)
    for (wire, expect), sent in zip(cases, want, strict=True):
        reply = b"".join(sent)
        if isinstance(expect, tuple):
            assert _error(reply) == tuple(int(x) for x in expect), wire.hex()
        else:
            assert expect in [f.type for f in _reply(reply)], wire.hex()
    _same_phases(_Device(_INFO).phases(phases), want)


# NEURON words wider than 64 bits (as on ecp5-85f, whose are 72): the gateware assembles
# and writes them whole.
WIDE_WORDS = CoreSpec(n_neurons=12, n_inputs=6, n_synapses=64, v_bits=20, i_bits=20, w_bits=8,
                      acc_bits=20, trace_bits=6, ref_bits=3, delay_bits=2, name="wide-words")


def test_words_wider_than_64_bits_are_written_whole() -> None:
    info = device_info(WIDE_WORDS, 12_000_000, 12)
    assert info.word_bits(p.Memory.NEURON) > 64
    image = random_image(WIDE_WORDS, seed=9, bias=60, n_synapses=40)
    phases = [*_load(info, WIDE_WORDS, image),
              [_cmd(60, p.FrameType.RUN, p.RunCommand(40).encode())],
              [_cmd(61, p.FrameType.READ, p.MemoryRead(p.Memory.STATE, 0, 12).encode())]]
    want = _board_phases(WIDE_WORDS, phases)
    spikes = [p.SpikeBlock.decode(f.payload, info.neuron_id_bits).n_spikes
              for ph in want for f in _reply(b"".join(ph)) if f.type is p.FrameType.OUTPUT]
    assert sum(spikes) > 10, "the biased neurons fire, so their parameter words arrived"
    _same_phases(_Device(info, WIDE_WORDS).phases(phases), want)


def test_the_device_builds_in_a_clock_domain_without_reset() -> None:
    """Some platforms (the ULX3S's) give the design a sync domain with no reset: the device
    must not refer to one (its boot count counts resets without looking at the reset)."""
    from amaranth.back import rtlil
    from amaranth.hdl import ClockDomain

    from hdl.uart.device import LinkDevice

    top = Module()
    top.domains.sync = ClockDomain(reset_less=True)
    top.submodules.device = device = LinkDevice(TINY, 12_000_000, 4)
    assert "boot_count" in rtlil.convert(top, ports=[device.rx, device.tx, device.idle])
