"""The protocol engine's units alone, each against the part of the Python protocol engine
it implements (the whole device is tested frame for frame in tests/runtime)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import Module, ResetInserter, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.sim import Simulator

from hdl.memory import ByteBuffer
from hdl.spikecore import SpikeCore
from hdl.uart.checker import BlockChecker
from hdl.uart.counters import CounterBank
from hdl.uart.device import device_info
from hdl.uart.engine import (
    BLOCK_DESC,
    COMMAND,
    COUNTERS,
    DESC,
    HEAD_BYTES,
    KIND_REPLY,
    KIND_SLOT,
    KIND_SMALL,
    REPLY_DEPTH,
    CommandUnit,
    Player,
    Receiver,
    Transmitter,
    read_from,
)
from toolchain.boardsim.virtual import RTL, VirtualBoard
from toolchain.runtime import protocol as p
from toolchain.targets.fpga.spec import TINY, Op

pytestmark = pytest.mark.hdl


def _expected(payload: bytes, id_bits: int, limit: int) -> tuple[bool, int]:
    try:
        p.SpikeBlock.decode(payload, id_bits, limit=limit, continued_ok=False)
    except p.MessageError as e:
        return True, e.offset
    return False, 0


def _varint(value: int) -> bytes:
    """LEB128 of any value up to 35 bits (encode_varint stops at 32, as hosts write)."""
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value >> 7 else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _payloads(id_bits: int, limit: int, seed: int) -> list[bytes]:
    """Valid blocks, each cut, with a byte changed, with a byte added; and the records a
    host does not write: varints too long, too large or not minimal, counts and gaps far
    beyond the block, ids out of order or range, CONTINUED, too many steps."""
    rng = np.random.default_rng(seed)
    head = (7).to_bytes(4, "little")
    out: list[bytes] = []
    for _ in range(40):
        n = int(rng.integers(1, 12))
        steps = tuple(np.sort(rng.choice(limit, rng.binomial(min(limit, 12), 0.3),
                                         replace=False)).astype(np.int32) for _ in range(n))
        good = p.SpikeBlock(int(rng.integers(0, 2**32)), steps).encode(id_bits)
        out.append(good)
        out.append(good[:int(rng.integers(0, len(good)))])
        bad = bytearray(good)
        at = int(rng.integers(0, len(bad)))
        bad[at] = int(rng.integers(0, 256))
        out.append(bytes(bad))
        out.append(good + bytes([int(rng.integers(0, 256))]))
    n8 = (8).to_bytes(2, "little")
    wide = p.id_bytes_of(id_bits) == 2
    short3 = (3 << 1) if wide else 3  # general form, a count varint follows

    def ids(k: int) -> bytes:
        return b"".join(i.to_bytes(2 if wide else 1, "little") for i in range(k))
    out += [
        head + n8 + b"\xff\xff\xff\xff\x0f",  # a gap of 2**33: beyond the block
        head + n8 + b"\xff\xff\xff\xff\xff\x01",  # six bytes
        head + n8 + b"\x80\x00",  # not minimal
        head + n8 + bytes([short3]) + b"\xff\xff\xff\xff\x0f" + bytes(40),  # huge count
        head + n8 + bytes([short3]) + _varint(limit) + bytes(range(min(limit, 200))),
        head + (4097).to_bytes(2, "little"),
        head + (0x8001).to_bytes(2, "little"),
        head + (4096).to_bytes(2, "little") + _varint((4095 << (3 if wide else 2)) | (1 if wide
                                                                                   else 0)),
        head + n8 + _varint((8 << (3 if wide else 2)) | (2 if wide else 0)),  # gap = n_steps
        # bits only above the kept ones: a gap of 2**31 or more, a count of 2**34 + 4
        head + n8 + _varint((1 << 34) | ((1 << 1) if wide else 1)) + ids(2),
        head + n8 + bytes([short3]) + _varint(1 << 34) + ids(4),
        head + n8 + bytes([short3]) + _varint(limit - 3) + ids(limit) + ids(1),  # limit + 1
        head[:3],
        head + n8[:1],
    ]
    return out


@pytest.mark.parametrize("id_bits, limit", [(3, 8), (10, 1000)])
def test_block_checker_gives_the_verdict_and_offset_of_spike_block_decode(id_bits, limit):
    dut = BlockChecker(id_bits, limit)
    payloads = _payloads(id_bits, limit, seed=id_bits)
    got: list[tuple[bool, int, int, int]] = []

    async def bench(ctx) -> None:
        for payload in payloads:
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            ctx.set(dut.valid, 1)
            for byte in payload:
                ctx.set(dut.data, byte)
                await ctx.tick()
            ctx.set(dut.valid, 0)
            ctx.set(dut.length, len(payload))
            got.append((bool(ctx.get(dut.bad)), ctx.get(dut.bad_at), ctx.get(dut.first),
                        ctx.get(dut.n_raw)))

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    verdicts = [_expected(x, id_bits, limit) for x in payloads]
    assert sum(bad for bad, _ in verdicts) > len(payloads) // 3  # both kinds are tried
    for payload, (bad, at), (hw_bad, hw_at, first, n_raw) in zip(payloads, verdicts, got,
                                                                 strict=True):
        assert (hw_bad, hw_at if hw_bad else 0) == (bad, at), payload.hex()
        if not bad:
            block = p.SpikeBlock.decode(payload, id_bits, limit=limit)
            assert (first, n_raw) == (block.first_step, block.n_steps)


def test_counter_bank_counts_every_event_and_reads_back_as_status_does():
    """Bursts (several counters in one cycle, one counter in consecutive cycles) and quiet
    stretches, read as the STATUS reply reads them (wait for quiet, hold, one byte a
    cycle, a byte ahead); then a reset clears what the memory kept."""
    names = list(COUNTERS)  # the STATUS reply's counters, as the engine declares them
    dut = CounterBank(names)
    rng = np.random.default_rng(3)
    want = [0] * len(names)
    reads: list[tuple[list[int], list[int]]] = []

    async def read_all(ctx) -> list[int]:
        while not ctx.get(dut.quiet):
            await ctx.tick()
        ctx.set(dut.hold, 1)
        got = bytearray()
        ctx.set(dut.r_addr, 0)
        await ctx.tick()
        for b in range(4 * len(names)):
            got.append(ctx.get(dut.r_data))
            ctx.set(dut.r_addr, min(b + 1, 4 * len(names) - 1))
            await ctx.tick()
        ctx.set(dut.hold, 0)
        return [int.from_bytes(got[4 * k:4 * k + 4], "little") for k in range(len(names))]

    async def bench(ctx) -> None:
        for _ in range(12):
            for _ in range(int(rng.integers(1, 60))):
                mask = int(rng.integers(0, 1 << len(names))) if rng.random() < 0.7 else 0
                ctx.set(dut.inc, mask)
                for k in range(len(names)):
                    want[k] += mask >> k & 1
                await ctx.tick()
            ctx.set(dut.inc, 0)
            reads.append((list(want), await read_all(ctx)))
        # one counter in every cycle for longer than an update: carries into byte 1
        ctx.set(dut.inc, 1)
        for _ in range(600):
            await ctx.tick()
        ctx.set(dut.inc, 0)
        want[0] += 600
        reads.append((list(want), await read_all(ctx)))
        ctx.set(reset, 1)
        await ctx.tick()
        ctx.set(reset, 0)
        reads.append(([0] * len(names), await read_all(ctx)))

    reset = Signal()
    sim = Simulator(ResetInserter(reset)(dut))
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert reads[-2][0][0] > 600 and max(reads[0][0]) > 0
    for expected, got in reads:
        assert got == expected


def test_the_engine_drives_the_core_through_one_bus_signature():
    """SpikeCore exposes CoreBus flipped and the engine's ``core`` port is CoreBus, so the
    device joins them with one ``wiring.connect``; another spec's bus is another signature."""
    from hdl.spikecore import SpikeCore
    from hdl.spikecore.core import CoreBus
    from hdl.uart.device import device_info
    from hdl.uart.engine import ProtocolEngine
    from toolchain.targets.fpga.spec import ECP5_85F, TINY

    engine = ProtocolEngine(TINY, device_info(TINY, 12_000_000, 12))
    core = SpikeCore(TINY)
    assert engine.signature.members["core"].signature == CoreBus(TINY)
    assert core.signature == CoreBus(TINY).flip()
    assert CoreBus(TINY) != CoreBus(ECP5_85F)
    assert core.signature.members["cmd"].flow == wiring.In  # the core's own view
    engine._MustUse__silence = core._MustUse__silence = True


def _small(frame_type: p.FrameType, seq: int, payload: bytes) -> dict:
    """A descriptor of a frame held in the queue, as the receiver or player makes one."""
    return {"kind": KIND_SMALL, "type": int(frame_type), "seq": seq, "length": len(payload),
            "small": int.from_bytes(payload, "little")}


def test_transmitter_sends_each_descriptors_frame_as_the_python_framing_lays_it_out():
    """BOOT first after every reset, then reply, OUTPUT-slot and small frames, each the
    frame body ``encode_frame`` puts the CRC over; the framer stalls at random and the
    window is written at random (its port then reads nothing), as the player does."""
    rng = np.random.default_rng(5)
    reply = bytes([p.FrameType.ACK, 41]) + p.Ack(p.FrameType.RUN, 0x01020304).encode()
    block = p.SpikeBlock(70_000, (np.array([1, 2, 300], np.int32), np.array([], np.int32),
                                  np.array([7], np.int32))).encode(10)
    frames = [  # (descriptor, body expected)
        ({"kind": KIND_REPLY, "length": len(reply)}, reply),
        ({"kind": KIND_SLOT, "slot": 1, "length": len(block), "type": int(p.FrameType.OUTPUT),
          "seq": 200}, bytes([p.FrameType.OUTPUT, 200]) + block),
        (_small(p.FrameType.ERROR, 3, p.ErrorReply(p.ErrorCode.SEQ_GAP, p.FrameType.INPUT,
                                                     0xA1B2C3D4).encode()), None),
        (_small(p.FrameType.CREDIT, 255, p.Credit(255, 3).encode()), None),
    ]
    frames = [(d, body if body is not None else bytes([d["type"], d["seq"]])
               + d["small"].to_bytes(d["length"], "little")) for d, body in frames]
    boot = p.PAYLOADS[p.FrameType.BOOT]
    reset = Signal()
    m = Module()
    m.submodules.tx = tx = Transmitter(out_bits=1)
    m.submodules.window = window = ByteBuffer(2 * p.MAX_PAYLOAD)
    m.submodules.reply = mem = Memory(shape=8, depth=REPLY_DEPTH, init=list(reply))
    rd = mem.read_port()
    read_from(m, tx.window, window)
    m.d.comb += [rd.addr.eq(tx.reply.addr), tx.reply.data.eq(rd.data), tx.reply.ok.eq(1)]
    sent: list[tuple[bytes, list[bool]]] = []
    boots: list[dict[str, int]] = []

    async def framer(ctx) -> None:  # a framer that is not always ready
        body, lasts = bytearray(), []
        while True:
            ready = int(rng.random() < 0.6)
            ctx.set(tx.bytes.ready, ready)
            _, _, valid, data, last = await ctx.tick().sample(
                tx.bytes.valid, tx.bytes.payload.data, tx.bytes.payload.last)
            if ready and valid:
                body.append(data)
                lasts.append(bool(last))
                if lasts[-1]:
                    sent.append((bytes(body), lasts))
                    body, lasts = bytearray(), []

    async def send(ctx, desc: dict) -> None:
        ctx.set(tx.descs.payload, DESC.const(desc))
        ctx.set(tx.descs.valid, 1)
        await ctx.tick().until(tx.descs.ready)
        ctx.set(tx.descs.valid, 0)

    async def take_boot(ctx) -> dict:
        ctx.set(tx.boot.ready, 1)
        fields = [getattr(tx.boot.payload, name) for name in DESC.members]
        while True:
            _, _, valid, *values = await ctx.tick().sample(tx.boot.valid, *fields)
            if valid:
                ctx.set(tx.boot.ready, 0)
                return dict(zip(DESC.members, values, strict=True))

    async def bench(ctx) -> None:
        for k, b in enumerate(block):  # the OUTPUT frame in window slot 1
            ctx.set(window.w_addr, p.MAX_PAYLOAD + k)
            ctx.set(window.w_data, b)
            ctx.set(window.w_en, 1)
            await ctx.tick()
        ctx.set(window.w_en, 0)
        for _ in range(2):
            boots.append(await take_boot(ctx))
            await send(ctx, boots[-1])
            for desc, _ in frames:
                await send(ctx, desc)
            ctx.set(reset, 1)
            await ctx.tick()
            ctx.set(reset, 0)
        await ctx.tick().repeat(20)

    async def writer(ctx) -> None:  # then the player writes slot 0 at times
        await ctx.tick().until(tx.boot.ready)
        while True:
            ctx.set(window.w_en, int(rng.random() < 0.3))
            ctx.set(window.w_addr, int(rng.integers(0, p.MAX_PAYLOAD)))
            ctx.set(window.w_data, int(rng.integers(0, 256)))
            await ctx.tick()

    sim = Simulator(ResetInserter(reset)(m))
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_testbench(framer, background=True)
    sim.add_testbench(writer, background=True)
    sim.run()
    assert [d["kind"] for d in boots] == [KIND_SMALL] * 2
    assert len(sent) == 2 * (1 + len(frames))
    for n, boot_count in enumerate([0, 1]):
        got = sent[n * (1 + len(frames)):(n + 1) * (1 + len(frames))]
        want = [bytes([p.FrameType.BOOT, 0]) + boot.pack({"boot_count": boot_count}),
                *(body for _, body in frames)]
        assert [body for body, _ in got] == want
        assert all(lasts == [False] * (len(lasts) - 1) + [True] for _, lasts in got)


def _receiver_frames(info: p.BuildInfo) -> list[tuple[bytes, bool]]:
    """(frame body + CRC, intact) for every answer the receiver gives: INPUT before a run,
    RESEND of a frame kept, gone or malformed, unknown types, a damaged frame, RUN, then
    INPUT in order, duplicated, after a gap (twice), at the wrong step, malformed, beyond
    the run, and until the slots overrun."""
    F = p.FrameType

    def frame(t: int, seq: int, payload: bytes = b"") -> bytes:
        body = bytes([t, seq]) + payload
        return body + p.crc16(body).to_bytes(2, "big")

    def block(first: int, n: int, seed: int) -> bytes:
        rng = np.random.default_rng(seed)
        steps = tuple(np.sort(rng.choice(TINY.n_inputs, rng.integers(0, 4), replace=False))
                      .astype(np.int32) for _ in range(n))
        return p.SpikeBlock(first, steps).encode(info.input_id_bits)

    resend = p.PAYLOADS[F.RESEND]
    damaged = bytearray(frame(F.INPUT, 0, block(0, 2, 0)))
    damaged[3] ^= 0x40
    out = [(frame(F.INPUT, 0, block(0, 2, 1)), True),
           (frame(F.RESEND, 4, resend.pack({"seq": 5})), True),  # kept
           (frame(F.RESEND, 5, resend.pack({"seq": 4})), True),  # gone
           (frame(F.RESEND, 6, b"\x05\x00"), True),  # a trailing byte
           (frame(0x40, 9, b"abc"), True), (frame(0x9E, 9), True), (bytes(damaged), False),
           (frame(F.RUN, 1, p.RunCommand(12, p.RunFlags.STREAMED).encode()), True),
           (frame(F.INPUT, 0, block(0, 3, 2)), True),
           (frame(F.INPUT, 0, block(0, 3, 2)), True),  # again: a CREDIT
           (frame(F.INPUT, 2, block(3, 1, 3)), True), (frame(F.INPUT, 3, block(3, 1, 3)), True),
           (frame(F.INPUT, 1, block(4, 2, 4)), True),  # the wrong first step
           (frame(F.INPUT, 1, block(3, 2, 4)[:-1] + b"\xff"), True),
           (frame(F.INPUT, 1, block(3, 10, 5)), True),  # beyond the run's 12 steps
           (frame(F.INPUT, 1, block(3, 2, 6)), True), (frame(F.INPUT, 2, block(5, 1, 7)), True),
           (frame(F.INPUT, 3, block(6, 1, 8)), True),  # the slots are full
           (frame(F.RESEND, 7, resend.pack({"seq": 5})), True)]
    return out


def test_receiver_answers_stream_frames_as_the_virtual_board_and_hands_commands_over():
    """Every frame goes to the receiver and to the Python engine (``VirtualBoard``), whose
    run registers (state, run end, queue, output window) the receiver is given, as the
    command unit and player keep them: its ERROR, CREDIT and RESEND answers are the board's
    frames, the blocks it accepts are the board's queue, its STATUS counter events the
    board's counters, and a command reaches the command unit whole."""
    F = p.FrameType
    info = device_info(TINY, 12_000_000, 12)
    dut = Receiver(TINY, info)
    wires: list[bytes] = []
    board = VirtualBoard(TINY, wires.append, input_slots=info.input_slots,
                         output_window=info.output_window)
    kept = p.SpikeBlock(40, (np.array([2], np.int32),)).encode(info.neuron_id_bits)
    board.window[5] = p.encode_frame(F.OUTPUT, 5, kept)  # as if the player had sent seq 5
    board.next_output_seq = 6
    frames = _receiver_frames(info)
    got: list[dict] = [{"descs": [], "blocks": [], "commands": [], "written": {}}
                       for _ in frames]
    counts = np.zeros(len(COUNTERS), int)
    current = [0]
    n_in = info.input_slots + 1

    def set_run(ctx) -> None:  # the run's registers, as the Python engine has them
        run = dut.run
        ctx.set(run.state, board.state)
        ctx.set(run.streamed, board.streamed)
        ctx.set(run.free_run, board.free_run)
        ctx.set(run.run_end, board.core.t + board.steps_left)
        ctx.set(run.consumed_seq, board.consumed_seq)
        ctx.set(run.q_count, len(board.input_queue))
        ctx.set(run.next_output_seq, board.next_output_seq)
        ctx.set(run.kept, len(board.window))

    async def monitor(ctx) -> None:
        ctx.set(dut.descs.ready, 1)
        ctx.set(dut.cu_waiting, 1)
        ctx.set(dut.out_len, len(kept))
        desc_fields = [getattr(dut.descs.payload, n) for n in DESC.members]
        blk = [getattr(dut.blocks.payload, n) for n in ("slot", "first", "steps", "len")]
        cmd = dut.command.payload
        ctx.set(dut.command.ready, 1)  # the command unit takes a command at once
        while True:
            _, _, dv, *rest = await ctx.tick().sample(
                dut.descs.valid, *desc_fields, dut.blocks.valid, *blk, dut.command.valid,
                cmd.type, cmd.seq, cmd.plen, cmd.head, dut.cmd_write.en, dut.cmd_write.addr,
                dut.cmd_write.data, dut.count, dut.out_slot)
            d, rest = rest[:len(desc_fields)], rest[len(desc_fields):]
            bv, b, (cv, ctype, cseq, cplen, chead, wen, waddr, wdata, cnt, out_slot) = \
                rest[0], rest[1:5], rest[5:]
            at = got[current[0]]
            ctx.set(dut.restart, 0)
            if dv:
                desc = dict(zip(DESC.members, d, strict=True))
                if desc["kind"] == KIND_SLOT:
                    assert out_slot == desc["seq"] % (info.output_window + 1)
                at["descs"].append(desc)
            if bv:
                at["blocks"].append(tuple(b))
            if wen:
                at["written"][waddr] = wdata
            if cv:
                at["commands"].append((ctype, cseq, cplen, bytes(chead)))
                if ctype == F.RUN:  # the command unit starts the input sequence again
                    ctx.set(dut.restart, 1)
                    ctx.set(dut.restart_step, board.core.t)
            for k in range(len(COUNTERS)):
                counts[k] += cnt >> k & 1

    async def bench(ctx) -> None:
        set_run(ctx)
        for n, (raw, intact) in enumerate(frames):
            current[0] = n
            wires.clear()
            for b in raw:
                ctx.set(dut.frames.payload, {"data": b, "end": 0, "ok": 0})
                ctx.set(dut.frames.valid, 1)
                await ctx.tick().until(dut.frames.ready)
            ctx.set(dut.frames.payload, {"data": 0, "end": 1, "ok": int(intact)})
            await ctx.tick().until(dut.frames.ready)
            ctx.set(dut.frames.valid, 0)
            board.receive(p.cobs_encode(raw) + bytes([p.DELIMITER]))
            await ctx.tick().repeat(12)
            got[n]["board"] = list(wires)
            got[n]["queue"] = list(board.input_queue)
            set_run(ctx)

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_testbench(monitor, background=True)
    sim.run()

    queued = 0
    for (raw, _), g in zip(frames, got, strict=True):
        is_command = raw[0] == F.RUN
        sent = []
        for d in g["descs"]:
            if d["kind"] == KIND_SLOT:  # a kept OUTPUT frame, from the window
                assert d["replay"] == 1 and d["length"] == len(kept)
                sent.append(p.encode_frame(F.OUTPUT, d["seq"], kept))
            else:
                sent.append(p.encode_frame(d["type"], d["seq"],
                                           d["small"].to_bytes(d["length"], "little")))
        assert sent == ([] if is_command else g["board"]), raw.hex()
        accepted = g["queue"][queued:]
        assert [(first, steps) for _, first, steps, _ in g["blocks"]] == \
            [(b.first_step, b.n_steps) for b in accepted], raw.hex()
        for slot, _, _, length in g["blocks"]:
            assert (slot, length) == (queued % n_in, len(raw) - p.HEADER_SIZE - p.CRC_SIZE)
            queued += 1
        if is_command:
            payload = raw[p.HEADER_SIZE:-p.CRC_SIZE]
            [(ctype, cseq, cplen, head)] = g["commands"]
            assert (ctype, cseq, cplen) == (raw[0], raw[1], len(payload))
            assert head[:len(payload)] == payload[:len(head)]
            assert bytes(g["written"][k] for k in range(len(raw))) == raw
        else:
            assert g["commands"] == []
    assert queued == info.input_slots  # the last block found the slots full
    names = ["rx_frames", "crc_errors", "seq_errors", "overruns"]
    assert {n: counts[COUNTERS.index(n)] for n in names} == \
        {n: getattr(board, n) for n in names}
    assert counts[COUNTERS.index("seq_errors")] == 2 and board.crc_errors == 1


class _PlayerBench:
    """The player with its input slots in a real ``ByteBuffer``; the testbench is the rest:
    it starts the run, hands over INPUT blocks as the receiver does, takes every descriptor
    the transmitter's queue would, watches the window's writes, and plays the core: each RUN
    step takes the input ids and answers with the output ids the test chose."""

    def __init__(self, outputs: list[np.ndarray]) -> None:
        self.info = device_info(TINY, 12_000_000, 12)
        self.outputs = outputs
        self.m = Module()
        self.m.submodules.player = self.dut = Player(TINY, self.info)
        self.m.submodules.slots = self.slots = ByteBuffer((self.info.input_slots + 1)
                                                          * p.MAX_PAYLOAD)
        read_from(self.m, self.dut.slots, self.slots)
        self.window = bytearray((self.info.output_window + 1) * p.MAX_PAYLOAD)
        self.frames: list[tuple[int, int, bytes]] = []  # (type, seq, payload) in queue order
        self.fed: list[list[int]] = []  # the input ids of each step
        self.runs = 0  # RUN commands to the core
        self._to_send: list[list[int]] = []

    async def watch(self, ctx) -> None:
        dut = self.dut
        ctx.set(dut.core.cmd.ready, 1)
        ctx.set(dut.core.spike_in.ready, 1)
        ctx.set(dut.window_free, -1)
        ctx.set(dut.descs.ready, 1)
        desc = dut.descs.payload
        step_ids: list[int] = []
        while True:
            _, _, cv, op, iv, axon, last, dv, kind, slot, length, ftype, seq, small, wen, \
                waddr, wdata = await ctx.tick().sample(
                    dut.core.cmd.valid, dut.core.cmd.payload.op, dut.core.spike_in.valid,
                    dut.core.spike_in.payload.axon, dut.core.spike_in.payload.last,
                    dut.descs.valid, desc.kind, desc.slot, desc.length, desc.type, desc.seq,
                    desc.small, dut.window.en, dut.window.addr, dut.window.data)
            if wen:
                self.window[waddr] = wdata
            if dv:
                if kind == KIND_SLOT:
                    at = slot * p.MAX_PAYLOAD
                    self.frames.append((ftype, seq, bytes(self.window[at:at + length])))
                else:
                    self.frames.append((ftype, seq, small.to_bytes(length, "little")))
            if cv:
                assert op == Op.RUN
                self.runs += 1
            if iv and last:
                self.fed.append(step_ids)
                self._to_send.append([int(i) for i in self.outputs[len(self.fed) - 1]])
                step_ids = []
            elif iv:
                step_ids.append(axon)

    async def spike_out(self, ctx) -> None:
        out = self.dut.core.spike_out
        while True:
            if not self._to_send:
                await ctx.tick()
                continue
            ids = self._to_send.pop(0)
            for neuron in [*ids, None]:
                ctx.set(out.valid, 1)
                ctx.set(out.payload.neuron, neuron or 0)
                ctx.set(out.payload.last, neuron is None)
                while not (await ctx.tick().sample(out.ready))[2]:
                    pass
            ctx.set(out.valid, 0)

    def run(self, bench) -> None:
        sim = Simulator(self.m)
        sim.add_clock(1e-6)
        sim.add_testbench(bench)
        sim.add_testbench(self.watch, background=True)
        sim.add_testbench(self.spike_out, background=True)
        sim.run()


def _spike_steps(rng: np.random.Generator, n: int, limit: int) -> list[np.ndarray]:
    return [np.sort(rng.choice(limit, rng.binomial(limit, 0.25) if rng.random() < 0.6 else 0,
                               replace=False)).astype(np.int32) for _ in range(n)]


def _output_frames(first: int, outputs: list[np.ndarray], id_bits: int, seq: int
                   ) -> list[tuple[int, int, bytes]]:
    """OUTPUT frames as the virtual board cuts a group of steps (``_send_outputs``)."""
    return [(p.FrameType.OUTPUT, (seq + n) % p.SEQ_MODULUS, block.encode(id_bits))
            for n, block in enumerate(p.split_spike_blocks(first, outputs, id_bits,
                                                           split_steps=True))]


def test_player_sends_an_unstreamed_runs_output_as_the_virtual_board_cuts_it():
    """A counted run without INPUT: one core step per step, the output in groups of
    ``OUTPUT_BLOCK_STEPS`` and at the run's end, each group cut by ``split_spike_blocks``;
    then the run is DONE with no step left."""
    n = p.OUTPUT_BLOCK_STEPS * 2 + 9
    outputs = _spike_steps(np.random.default_rng(11), n, TINY.n_neurons)
    tb = _PlayerBench(outputs)
    dut = tb.dut
    done: list[tuple[int, int, int]] = []

    async def bench(ctx) -> None:
        ctx.set(dut.start_steps, n)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        await ctx.tick().until(dut.idle)
        await ctx.tick().repeat(4)
        done.append((ctx.get(dut.run.state), ctx.get(dut.t), ctx.get(dut.steps_left)))

    tb.run(bench)
    bits = tb.info.neuron_id_bits
    want, seq = [], 0
    for first in range(0, n, p.OUTPUT_BLOCK_STEPS):
        group = _output_frames(first, outputs[first:first + p.OUTPUT_BLOCK_STEPS], bits, seq)
        want += group
        seq += len(group)
    assert tb.frames == want
    assert tb.runs == n and tb.fed == [[]] * n
    assert done == [(p.BoardState.DONE, n, 0)]


def test_player_plays_queued_input_blocks_and_credits_each_as_the_virtual_board():
    """A streamed run: INPUT blocks queued as the receiver accepts them, each step fed the
    ids of its record, the output of each block cut into frames, then a CREDIT for it with
    the slots then free; a block of no steps is credited at once."""
    rng = np.random.default_rng(12)
    info = device_info(TINY, 12_000_000, 12)
    lengths = [5, 0, 40]
    firsts = list(np.cumsum([0, *lengths[:-1]]))
    blocks = [p.SpikeBlock(int(f), tuple(_spike_steps(rng, k, TINY.n_inputs)))
              for f, k in zip(firsts, lengths, strict=True)]
    n = sum(lengths)
    outputs = _spike_steps(rng, n, TINY.n_neurons)
    tb = _PlayerBench(outputs)
    dut = tb.dut

    async def bench(ctx) -> None:
        ctx.set(dut.start_steps, n)
        ctx.set(dut.start_streamed, 1)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        for slot, block in enumerate(blocks):  # the receiver writes and accepts each block
            payload = block.encode(info.input_id_bits)
            for k, b in enumerate(payload):
                ctx.set(tb.slots.w_addr, slot * p.MAX_PAYLOAD + k)
                ctx.set(tb.slots.w_data, b)
                ctx.set(tb.slots.w_en, 1)
                await ctx.tick()
            ctx.set(tb.slots.w_en, 0)
            ctx.set(dut.blocks.payload, BLOCK_DESC.const({
                "slot": slot, "first": block.first_step, "steps": block.n_steps,
                "len": len(payload)}))
            ctx.set(dut.blocks.valid, 1)
            await ctx.tick()
            ctx.set(dut.blocks.valid, 0)
        await ctx.tick().until(dut.idle)
        await ctx.tick().repeat(4)

    tb.run(bench)
    want, seq = [], 0
    queued = len(blocks)
    for n_block, block in enumerate(blocks):
        queued -= 1  # the board takes the block off the queue, then computes it
        start = block.first_step
        group = _output_frames(start, outputs[start:start + block.n_steps],
                               info.neuron_id_bits, seq) if block.n_steps else []
        want += group
        seq += len(group)
        want.append((p.FrameType.CREDIT, n_block + 1,
                     p.Credit(n_block + 1, info.input_slots - queued).encode()))
    assert tb.fed == [list(ids) for b in blocks for ids in b.steps]
    assert tb.frames == want


def _command_frames(info: p.BuildInfo) -> list[tuple[p.FrameType, int, bytes]]:
    """(type, seq, payload) of commands a session sends, their refusals, a repeat the host
    sends when it missed the reply, and a run that makes the next commands BUSY."""
    F, rng = p.FrameType, np.random.default_rng(21)
    words = rng.integers(0, 1 << info.word_bits(p.Memory.SYNAPSE), 6, dtype=np.uint64)
    write = p.MemoryWrite(p.Memory.SYNAPSE, 9, words).encode(info)
    cmds = [(F.HELLO, bytes([p.PROTOCOL_VERSION])), (F.HELLO, bytes([9])),
            (F.RESET, bytes([p.ResetScope.ALL])),
            (F.CONFIG, p.Config(TINY.n_neurons, TINY.n_inputs).encode()),
            (F.CONFIG, p.Config(TINY.n_neurons + 1, TINY.n_inputs).encode()),
            (F.WRITE, write), (F.WRITE, write),  # the second: a new command, written again
            (F.READ, p.MemoryRead(p.Memory.SYNAPSE, 8, 8).encode()),
            (F.READ, p.MemoryRead(p.Memory.NEURON, 0, 1).encode()),
            (F.READ, p.MemoryRead(p.Memory.SYNAPSE, TINY.n_synapses - 1, 2).encode()),
            (F.READ, bytes([1, 0, 0])), (F.WRITE, bytes([1, 3, 0, 0, 0, 1])),
            (F.RESET, bytes([7])),
            (F.RUN, p.RunCommand(30).encode()), (F.WRITE, write), (F.STOP, b""),
            (F.STOP, b"")]
    out = [(t, 10 + k, payload) for k, (t, payload) in enumerate(cmds)]
    return out[:7] + [(out[6][0], out[6][1], out[6][2])] + out[7:]  # the repeat: same seq


def test_command_unit_answers_commands_as_the_virtual_board_with_a_real_core():
    """Each command goes through the command unit, driving a real ``SpikeCore``, and through
    the Python engine (``VirtualBoard`` before the core's RTL), whose run registers the unit
    is given: every reply body is the board's frame, the repeat is replayed from the reply
    buffer without running again, RUN starts the player, STOP waits for it."""
    F = p.FrameType
    info = device_info(TINY, 12_000_000, 12)
    wires: list[bytes] = []
    board = VirtualBoard(TINY, wires.append, core=RTL, input_slots=info.input_slots,
                         output_window=info.output_window, clock_hz=info.clock_hz,
                         baud=info.baud)
    m = Module()
    m.submodules.cu = dut = CommandUnit(TINY, info)
    m.submodules.core = core = SpikeCore(TINY)
    m.submodules.cmd_buffer = cmd_buffer = Memory(shape=8, depth=p.MAX_FRAME, init=[])
    m.submodules.reply = reply = Memory(shape=8, depth=REPLY_DEPTH, init=[])
    m.submodules.counters = counters = CounterBank(COUNTERS)
    cmd_wr, cmd_rd = cmd_buffer.write_port(), cmd_buffer.read_port()
    rep_wr, rep_rd = reply.write_port(), reply.read_port()
    m.d.comb += [cmd_rd.addr.eq(dut.cmd_read.addr), dut.cmd_read.data.eq(cmd_rd.data),
                 rep_wr.addr.eq(dut.reply_write.addr), rep_wr.data.eq(dut.reply_write.data),
                 rep_wr.en.eq(dut.reply_write.en),
                 counters.hold.eq(dut.counters.hold), counters.r_addr.eq(dut.counters.r_addr),
                 dut.counters.r_data.eq(counters.r_data), dut.counters.quiet.eq(counters.quiet),
                 core.cmd.valid.eq(dut.core.cmd.valid), core.cmd.payload.eq(dut.core.cmd.payload),
                 dut.core.cmd.ready.eq(core.cmd.ready), core.clear.eq(dut.core.clear),
                 dut.core.busy.eq(core.busy)]
    wiring.connect(m, core.resp, dut.core.resp)
    frames = _command_frames(info)
    got: list[tuple[dict, bytes]] = []
    board_sent: list[list[bytes]] = []
    starts: list[tuple[int, int]] = []

    def set_status(ctx) -> None:
        st = dut.status
        ctx.set(st.state, board.state)
        ctx.set(st.t, board.core.t)
        ctx.set(st.steps_left, board.steps_left)
        ctx.set(st.free_run, board.free_run)
        ctx.set(st.next_output_seq, board.next_output_seq)
        ctx.set(st.next_input_seq, board.next_input_seq)
        ctx.set(st.boot_count, board.boot_count)

    async def player(ctx) -> None:  # stops at once, is always between two steps
        ctx.set(dut.between, 1)
        async for _, _, stop, start, steps in ctx.tick().sample(dut.stop, dut.start,
                                                                dut.start_steps):
            ctx.set(dut.stopped, stop)
            if start:
                starts.append((steps, len(got)))

    async def bench(ctx) -> None:
        set_status(ctx)
        await ctx.tick().until(dut.waiting & dut.idle)  # the power-up clear is done
        for ftype, seq, payload in frames:
            body = bytes([ftype, seq]) + payload
            for k, b in enumerate(body):  # the receiver writes the frame, then hands it over
                ctx.set(cmd_wr.addr, k)
                ctx.set(cmd_wr.data, b)
                ctx.set(cmd_wr.en, 1)
                await ctx.tick()
            ctx.set(cmd_wr.en, 0)
            ctx.set(dut.command.payload, COMMAND.const({
                "type": ftype, "seq": seq, "plen": len(payload),
                "head": list(payload[:HEAD_BYTES]) + [0] * (HEAD_BYTES - len(payload))}))
            ctx.set(dut.command.valid, 1)
            await ctx.tick().until(dut.command.ready)
            ctx.set(dut.command.valid, 0)
            ctx.set(dut.descs.ready, 1)
            fields = [getattr(dut.descs.payload, n) for n in DESC.members]
            while True:
                _, _, valid, *values = await ctx.tick().sample(dut.descs.valid, *fields)
                if valid:
                    break
            ctx.set(dut.descs.ready, 0)
            desc = dict(zip(DESC.members, values, strict=True))
            sent = bytearray()
            for k in range(desc["length"]):  # the transmitter reads the reply buffer
                ctx.set(rep_rd.addr, k)
                await ctx.tick()
                sent.append(ctx.get(rep_rd.data))
            ctx.set(dut.reply_sent, 1)
            await ctx.tick()
            ctx.set(dut.reply_sent, 0)
            got.append((desc, bytes(sent)))
            wires.clear()
            board.receive(p.encode_frame(ftype, seq, payload))
            board_sent.append(list(wires))
            set_status(ctx)
            await ctx.tick().until(dut.waiting)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_testbench(player, background=True)
    sim.run()
    for (ftype, seq, _), (desc, body), [wire] in zip(frames, got, board_sent, strict=True):
        want = p.decode_frame(wire[:-1])
        assert (desc["kind"], body) == (KIND_REPLY, bytes([want.type, want.seq])
                                        + want.payload), (F(ftype).name, seq)
    replays = [desc["replay"] for desc, _ in got]
    assert replays == [int(k == 7) for k in range(len(frames))]
    run_at = [k for k, (t, _, _) in enumerate(frames) if t == F.RUN]
    assert starts == [(30, run_at[0])]
