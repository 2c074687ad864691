"""The device side of the protocol in gateware: frames from the :class:`~hdl.uart.link.Deframer`
drive the core, and every frame the board sends leaves through the
:class:`~hdl.uart.link.Framer`, as ``docs/protocol.md`` specifies, and byte for byte as
``toolchain/boardsim/virtual.py`` (the protocol engine of the virtual boards) sends it.
Every payload offset and length comes from ``protocol.PAYLOADS``: the checks that refuse a
payload (``fixed_check``) and the replies (``payload_bytes``) are built from that table.

Four units share one clock, each a component of its own with the streams and registers it
exchanges in its signature (frame bytes, frame descriptors, accepted INPUT blocks, the
command handed over, the run's registers, the strobes by which the command unit starts,
clears, stops and holds a run): :class:`Receiver`, :class:`CommandUnit`, :class:`Player`
and :class:`Transmitter`, joined in :class:`ProtocolEngine` around the buffers they share
(command, reply, INPUT slots, OUTPUT window), the descriptor queue and the STATUS counters
(:class:`~hdl.uart.counters.CounterBank`).  Each unit, and the receiver's INPUT block check
(:class:`~hdl.uart.checker.BlockChecker`), is tested alone against the part of the Python
engine it implements (``tests/hdl/test_uart_units.py``), and synthesised alone by
``spikeport hdl units`` (docs/fpga-core.md).  The core is driven through the ``core`` port,
:class:`~hdl.spikecore.core.CoreBus`:

* **receiver**: takes every byte the deframer delivers, also while the core computes.  A
  command frame goes into the command buffer for the command unit; an INPUT frame goes into
  one of ``input_slots + 1`` slot buffers while the block checker decodes its step block
  (so a malformed block is refused with the same BAD_MESSAGE offset as ``SpikeBlock.decode``),
  then it is accepted, or answered with CREDIT / SEQ_GAP / OVERRUN / NOT_RUNNING /
  STEP_MISMATCH as the virtual board answers; RESEND is answered from the output window,
  a frame of an unknown host-to-board type with UNSUPPORTED.
* **command unit**: HELLO (a ROM of ``BuildInfo.encode()``), STATUS, RESET (STATE and ALL),
  CONFIG, WRITE, READ, RUN and STOP, with the same checks, error replies and reply cache (a
  retried command is answered again, not executed again).
* **player**: runs the core one step at a time (so STOP lands between steps), feeds it the
  input ids of the step from the INPUT block being played, collects its output spikes and
  encodes them as step records into the OUTPUT frame being built, cutting frames where
  ``split_spike_blocks`` cuts them.  Frames are kept in ``output_window + 1`` slots for RESEND.
* **transmitter**: sends one queue of frame descriptors (a reply, an OUTPUT slot, or a
  small frame held in the descriptor: BOOT, CREDIT, ERROR) in the order they were made,
  BOOT first after every reset (a host that sees it mid-session knows the board lost
  everything); the one being sent stays at the queue's head until its last byte, so
  OUTPUT frames leave before the CREDIT that follows them, as on the virtual board.

The big buffers have synchronous read ports (one cycle of latency) so synthesis can put them
in block RAM.  Commands that arrive while the command unit still answers the previous one are
dropped and counted in ``overruns`` (a host that waits for each reply never causes it).
"""

from collections.abc import Mapping

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hdl.memory import ByteBuffer
from hdl.spikecore.core import CoreBus, word_layout
from hdl.uart.checker import (
    BlockChecker,
    kept_bits,
    record_header,
    varint_value,
)
from hdl.uart.counters import CounterBank
from hdl.uart.link import DEFRAMED, FRAME_BYTE
from toolchain.runtime import protocol as p
from toolchain.targets.fpga.model import silent_neuron_params
from toolchain.targets.fpga.spec import CoreSpec, Op

WRITE_HEADER = p.PAYLOADS[p.FrameType.WRITE].size  # memory, address; the words follow
# Commands the command unit executes; their fixed fields' bytes are kept as they pass.
COMMANDS = (p.FrameType.HELLO, p.FrameType.RESET, p.FrameType.CONFIG, p.FrameType.WRITE,
            p.FrameType.READ, p.FrameType.RUN, p.FrameType.STOP, p.FrameType.STATUS)
HEAD_BYTES = max(p.PAYLOADS[t].size for t in COMMANDS)
SLOT = p.MAX_PAYLOAD  # bytes of one INPUT or OUTPUT slot: a whole payload
# The STATUS counters (hdl/uart/counters.py): the reply's last fields, in its order.
COUNTERS = ["rx_frames", "crc_errors", "seq_errors", "overruns", "tx_frames", "resends"]
assert [f.name for f in p.STATUS.fields[-len(COUNTERS):]] == COUNTERS
assert all(p.STATUS[name].size == 4 for name in COUNTERS)
STATUS_SIZE = p.HEADER_SIZE + p.STATUS.size  # of the reply frame's body
STATUS_COUNTERS = p.HEADER_SIZE + p.STATUS[COUNTERS[0]].offset  # where the counters start
# Frame descriptors in the transmitter's queue.
KIND_REPLY, KIND_SLOT, KIND_SMALL = 0, 1, 2
DESC = data.StructLayout({
    "kind": 2, "replay": 1, "slot": 8, "length": 11, "type": 8, "seq": 8, "small": 48,
})
DESC_DEPTH = 8
# the reply buffer: a whole frame's body (type, seq, payload)
REPLY_DEPTH = p.MAX_FRAME - p.CRC_SIZE
REPLY_BITS = (REPLY_DEPTH - 1).bit_length()
# The gateware's link buffers: powers of two, so slot numbers wrap with the 8-bit seqs.
DEFAULT_INPUT_SLOTS = 3
DEFAULT_OUTPUT_WINDOW = 7


def _bytes(value: Value, n: int = 4) -> list[Value]:
    """The ``n`` bytes of a value, least significant first (the protocol's order)."""
    return [value[8 * b:8 * b + 8] for b in range(n)]


def field_bits(value: Value | int, bits: int) -> Value:
    """``value`` as exactly ``bits`` bits (zero-extended or cut)."""
    v = Const(value, bits) if isinstance(value, int) else Value.cast(value).as_unsigned()
    return Cat(v, Const(0, max(0, bits - len(v))))[:bits]


def pack_fields(layout: p.Layout, values: Mapping[str, Value | int]) -> Value:
    """A payload's fixed fields as one value, its first byte lowest: the bytes
    ``Layout.pack`` writes."""
    return Cat(*(field_bits(values[f.name], 8 * f.size) for f in layout.fields))


def payload_bytes(layout: p.Layout, values: Mapping[str, Value | int]) -> list[Value]:
    return _bytes(pack_fields(layout, values), layout.size)


def field_of(layout: p.Layout, name: str, head: list[Value]) -> Value:
    """The field ``name`` of ``layout`` out of the payload's first bytes ``head``."""
    f = layout[name]
    return Cat(*head[f.offset:f.end])


def fixed_check(m: Module, layout: p.Layout, plen: Value,
                invalid: Mapping[str, Value] | None = None) -> tuple[Signal, Signal]:
    """(refused, offset) of a payload of ``plen`` bytes, by the rule of ``Layout.unpack``
    (docs/protocol.md, section 3): the first field, in payload order, that the payload does
    not hold completely or whose ``invalid`` condition is true; then the first trailing
    byte, unless the layout has a tail.  Conditions of a field are only looked at when the
    field is there."""
    invalid = invalid or {}
    tests: list[tuple[Value, int]] = []
    for f in layout.fields:
        tests.append((plen < f.end, f.offset))
        if f.name in invalid:
            tests.append((invalid[f.name], f.offset))
    if layout.tail is None:
        tests.append((plen > layout.size, layout.size))
    refused = Signal(name=f"bad_{layout.what.lower()}")
    at = Signal(11, name=f"bad_{layout.what.lower()}_at")
    assert tests, f"{layout.what}: a layout with a tail has fixed fields"
    with m.If(tests[0][0]):
        m.d.comb += [refused.eq(1), at.eq(tests[0][1])]
    for cond, offset in tests[1:]:
        with m.Elif(cond):
            m.d.comb += [refused.eq(1), at.eq(offset)]
    return refused, at


def varint_len(value: Value) -> Value:
    """Bytes of ``value`` as LEB128 (``protocol.encode_varint``)."""
    n = Const(1, 3)
    for k in range(1, 5):
        if len(value) > 7 * k:
            n = n + (value[7 * k:] != 0)
    return n


def _check_info(spec: CoreSpec, info: p.BuildInfo) -> None:
    if info.build_id != p.spec_build_id(spec):
        raise ValueError(f"ProtocolEngine: BuildInfo has build id {info.build_id:#010x}, but "
                         f"core spec '{spec.name}' has {p.spec_build_id(spec):#010x}; make "
                         "it with BuildInfo.from_spec(spec, ...)")
    if info.readable != p.CORE_READABLE:
        raise ValueError(f"ProtocolEngine: BuildInfo.readable = {info.readable:#x}, but the "
                         f"gateware reads back exactly {p.CORE_READABLE:#x} (SYNAPSE, "
                         "STATE); pass readable=protocol.CORE_READABLE")
    for name in ("input_slots", "output_window"):
        n = getattr(info, name)
        if n < 1 or (n + 1) & n or n + 1 > 64:
            raise ValueError(f"ProtocolEngine: BuildInfo.{name} = {n}; the gateware needs "
                             "2**k - 1 (1, 3, 7, ... 63) so that its slots wrap with the "
                             "8-bit sequence numbers")


class ProtocolEngine(wiring.Component):
    """Intact frames in, reply and stream frames out, the core driven through its command
    and spike streams.  ``info`` is what HELLO reports; its core fields must be ``spec``'s,
    its ``readable`` mask the gateware's, and its ``input_slots`` / ``output_window`` the
    buffers this engine builds."""

    def __init__(self, spec: CoreSpec, info: p.BuildInfo, *, spram: bool = False) -> None:
        _check_info(spec, info)
        self.spec, self.info, self.spram = spec, info, spram
        super().__init__({
            "frames": In(stream.Signature(DEFRAMED)),
            "replies": Out(stream.Signature(FRAME_BYTE)),
            "core": Out(CoreBus(spec)),
            "idle": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        spec, info = self.spec, self.info
        n_in, n_out = info.input_slots + 1, info.output_window + 1
        m.submodules.transmitter = tx = Transmitter((n_out - 1).bit_length())
        m.submodules.receiver = rx = Receiver(spec, info)
        m.submodules.commands = cu = CommandUnit(spec, info)
        m.submodules.player = pl = Player(spec, info)
        # the frame descriptors in the order they were made, for the transmitter
        m.submodules.desc = fifo = SyncFIFOBuffered(width=DESC.size, depth=DESC_DEPTH)
        # one port each (hdl/memory.py): the receiver's writes of INPUT payloads take the
        # slots' port from the player's reads, the player's writes of OUTPUT frames take
        # the window's from the transmitter's reads
        m.submodules.inputs = inputs = ByteBuffer(n_in * SLOT, spram=self.spram)
        m.submodules.window = window = ByteBuffer(n_out * SLOT, spram=self.spram)
        m.submodules.reply = reply = Memory(shape=8, depth=REPLY_DEPTH, init=[])
        m.submodules.cmd_buffer = cmd_buffer = Memory(shape=8, depth=p.MAX_FRAME, init=[])
        m.submodules.counters = counters = CounterBank(COUNTERS)

        wiring.connect(m, wiring.flipped(self.frames), rx.frames)
        wiring.connect(m, tx.bytes, wiring.flipped(self.replies))
        # receiver -> command unit and player; the player's run registers -> receiver
        wiring.connect(m, rx.command, cu.command)
        wiring.connect(m, rx.blocks, pl.blocks)
        wiring.connect(m, pl.run, rx.run)
        m.d.comb += [rx.cu_waiting.eq(cu.waiting), pl.resend_slot.eq(rx.out_slot),
                     rx.out_len.eq(pl.resend_len)]
        # command unit -> player and receiver, and what it reports
        st = cu.status
        m.d.comb += [pl.start.eq(cu.start), pl.start_steps.eq(cu.start_steps),
                     pl.start_streamed.eq(cu.start_streamed), pl.clear.eq(cu.clear),
                     pl.stop.eq(cu.stop), cu.stopped.eq(pl.stopped),
                     pl.hold.eq(cu.hold), cu.between.eq(pl.between),
                     rx.restart.eq(cu.restart), rx.restart_step.eq(cu.restart_step),
                     st.state.eq(pl.run.state), st.t.eq(pl.t), st.steps_left.eq(pl.steps_left),
                     st.free_run.eq(pl.run.free_run),
                     st.next_output_seq.eq(pl.run.next_output_seq),
                     st.next_input_seq.eq(rx.next_input_seq), st.boot_count.eq(tx.boot_count)]
        # the buffers
        cmd_wr, cmd_rd = cmd_buffer.write_port(), cmd_buffer.read_port()
        rep_wr, rep_rd = reply.write_port(), reply.read_port()
        m.d.comb += [cmd_wr.addr.eq(rx.cmd_write.addr), cmd_wr.data.eq(rx.cmd_write.data),
                     cmd_wr.en.eq(rx.cmd_write.en),
                     cmd_rd.addr.eq(cu.cmd_read.addr), cu.cmd_read.data.eq(cmd_rd.data),
                     cu.cmd_read.ok.eq(1),
                     rep_wr.addr.eq(cu.reply_write.addr), rep_wr.data.eq(cu.reply_write.data),
                     rep_wr.en.eq(cu.reply_write.en),
                     rep_rd.addr.eq(tx.reply.addr), tx.reply.data.eq(rep_rd.data),
                     tx.reply.ok.eq(1),
                     inputs.w_addr.eq(rx.slot_write.addr), inputs.w_data.eq(rx.slot_write.data),
                     inputs.w_en.eq(rx.slot_write.en),
                     window.w_addr.eq(pl.window.addr), window.w_data.eq(pl.window.data),
                     window.w_en.eq(pl.window.en),
                     counters.hold.eq(cu.counters.hold), counters.r_addr.eq(cu.counters.r_addr),
                     cu.counters.r_data.eq(counters.r_data),
                     cu.counters.quiet.eq(counters.quiet)]
        read_from(m, pl.slots, inputs)
        read_from(m, tx.window, window)
        # the core: commands from the player while a run goes on, else the command unit's
        core = self.core
        with m.If(pl.core.cmd.valid):
            m.d.comb += [core.cmd.valid.eq(1), core.cmd.payload.eq(pl.core.cmd.payload)]
        with m.Else():
            m.d.comb += [core.cmd.valid.eq(cu.core.cmd.valid),
                         core.cmd.payload.eq(cu.core.cmd.payload)]
        m.d.comb += [pl.core.cmd.ready.eq(core.cmd.ready), cu.core.cmd.ready.eq(core.cmd.ready),
                     cu.core.busy.eq(core.busy), core.clear.eq(cu.core.clear)]
        wiring.connect(m, wiring.flipped(core.resp), cu.core.resp)
        wiring.connect(m, pl.core.spike_in, wiring.flipped(core.spike_in))
        wiring.connect(m, wiring.flipped(core.spike_out), pl.core.spike_out)

        # one writer per cycle into the descriptor queue: BOOT, receiver, player, command unit
        writers = [tx.boot, rx.descs, pl.descs, cu.descs]
        with m.If(writers[0].valid):
            m.d.comb += [fifo.w_data.eq(writers[0].payload), writers[0].ready.eq(fifo.w_rdy)]
        for w in writers[1:]:
            with m.Elif(w.valid):
                m.d.comb += [fifo.w_data.eq(w.payload), w.ready.eq(fifo.w_rdy)]
        m.d.comb += fifo.w_en.eq(Cat(w.valid for w in writers).any())
        head = Signal(DESC)  # the queue's head: the frame being sent, popped after it
        m.d.comb += [head.eq(fifo.r_data), tx.descs.payload.eq(fifo.r_data),
                     tx.descs.valid.eq(fifo.r_rdy), fifo.r_en.eq(tx.descs.ready)]
        sent = tx.descs.valid & tx.descs.ready
        m.d.comb += cu.reply_sent.eq(sent & (head.kind == KIND_REPLY))
        pushed = Signal(DESC)
        m.d.comb += pushed.eq(fifo.w_data)
        push = fifo.w_en & fifo.w_rdy
        # the STATUS counters: the receiver's events and every frame queued
        m.d.comb += counters.inc.eq(rx.count)
        with m.If(push):
            with m.If(pushed.replay):
                m.d.comb += counters.inc[COUNTERS.index("resends")].eq(1)
            with m.Else():
                m.d.comb += counters.inc[COUNTERS.index("tx_frames")].eq(1)
        # references to output slots: pushed descriptors add one, sent frames take one; a
        # slot is written again only when none is left
        for k in range(n_out):
            ref = Signal(4, name=f"refs{k}")
            add = push & (pushed.kind == KIND_SLOT) & (pushed.slot == k)
            sub = sent & (head.kind == KIND_SLOT) & (head.slot == k)
            m.d.sync += ref.eq(ref + add - sub)
            m.d.comb += pl.window_free[k].eq(ref == 0)
        m.d.comb += self.idle.eq(rx.idle & cu.idle & pl.idle & tx.idle & ~fifo.r_rdy
                                 & counters.quiet)
        return m


def small(frame_type: p.FrameType, seq: Value, payload: Value, length: int) -> list:
    """A descriptor (as assignments to a DESC view) of a small frame held in the queue."""
    return [("kind", KIND_SMALL), ("type", int(frame_type)), ("seq", seq), ("small", payload),
            ("length", length)]


def _assign(desc: Value, fields: list) -> list:
    return [getattr(desc, name).eq(value) for name, value in fields]


def error_payload(code: Value | int, cause: Value | int, detail: Value | int) -> Value:
    """ErrorReply's bytes: code, the type it answers, detail (u32)."""
    return pack_fields(p.PAYLOADS[p.FrameType.ERROR],
                       {"code": int(code) if isinstance(code, int) else code,
                        "cause": int(cause) if isinstance(cause, int) else cause,
                        "detail": detail})


ERROR_SIZE = p.PAYLOADS[p.FrameType.ERROR].size
CREDIT_SIZE = p.PAYLOADS[p.FrameType.CREDIT].size


def credit_payload(next_seq: Value, free: Value | int) -> Value:
    return pack_fields(p.PAYLOADS[p.FrameType.CREDIT], {"next_seq": next_seq, "free": free})


# --------------------------------------------------------------------------- transmitter


def byte_read(abits: int) -> wiring.Signature:
    """A byte buffer's read port as its reader sees it: the address out, the byte read in
    the cycle before in, and whether that cycle read at all (a :class:`ByteBuffer` does not
    read while it is written)."""
    return wiring.Signature({"addr": Out(abits), "data": In(8), "ok": In(1)})


def read_from(m: Module, port: wiring.PureInterface, buffer: ByteBuffer) -> None:
    """Join a :func:`byte_read` port to ``buffer``'s read side."""
    m.d.comb += [buffer.r_addr.eq(port.addr), port.data.eq(buffer.r_data),
                 port.ok.eq(buffer.r_ok)]


class Transmitter(wiring.Component):
    """Frame descriptors -> frame bodies (type, seq, payload) to the framer.  A descriptor
    stays at the head of ``descs`` until its frame's last byte (so a slot it names is not
    reused while it is sent); its bytes come from the reply buffer (``reply``), an OUTPUT
    slot of the window (``window``), or the descriptor itself.  After every reset it first
    offers BOOT (``boot``) to the queue.  Two cycles per byte (set the buffer address, then
    send the byte it reads), far faster than the UART drains them."""

    def __init__(self, out_bits: int) -> None:
        self.out_bits = out_bits
        super().__init__({
            "descs": In(stream.Signature(DESC)),
            "boot": Out(stream.Signature(DESC)),
            "window": Out(byte_read(10 + out_bits)),
            "reply": Out(byte_read(REPLY_BITS)),
            "bytes": Out(stream.Signature(FRAME_BYTE)),
            # resets since configuration: a reset leaves it alone (docs/protocol.md, 10)
            "boot_count": Out(32),
            "idle": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        desc = self.descs.payload  # popped after its last byte
        win_q = Signal(8)  # the window's byte, held while the framer is not ready
        idx = Signal(11)  # byte of the frame body (type, seq, payload)
        total = Mux(desc.kind == KIND_REPLY, desc.length, desc.length + p.HEADER_SIZE)
        m.d.comb += [self.window.addr.eq(Cat((idx - p.HEADER_SIZE)[:10],
                                             desc.slot[:self.out_bits])),
                     self.reply.addr.eq(idx)]
        small_bytes = Array(_bytes(desc.small, 6))
        byte = Signal(8)
        with m.If(desc.kind == KIND_REPLY):
            m.d.comb += byte.eq(self.reply.data)
        with m.Elif(idx == 0):
            m.d.comb += byte.eq(desc.type)
        with m.Elif(idx == 1):
            m.d.comb += byte.eq(desc.seq)
        with m.Elif(desc.kind == KIND_SLOT):
            m.d.comb += byte.eq(win_q)
        with m.Else():
            m.d.comb += byte.eq(small_bytes[(idx - p.HEADER_SIZE)[:3]])
        boot_count = Signal(32, reset_less=True)
        booted = Signal(reset_less=True)  # 0 only until the first BOOT after configuration
        count = Signal(32)  # the boot count BOOT reports
        m.d.comb += [count.eq(Mux(booted, boot_count + 1, boot_count)),
                     self.boot_count.eq(boot_count)]
        out = self.bytes
        with m.FSM(name="tx") as tx_fsm:
            with m.State("BOOT"):  # after every reset: BOOT(boot count), as a board powers up
                boot = p.PAYLOADS[p.FrameType.BOOT]
                m.d.comb += [self.boot.valid.eq(1), *_assign(self.boot.payload, small(
                    p.FrameType.BOOT, 0, pack_fields(boot, {"boot_count": count}),
                    boot.size))]
                with m.If(self.boot.ready):  # the queue is empty after a reset
                    m.next = "IDLE"
            with m.State("IDLE"):
                m.d.comb += self.idle.eq(1)
                with m.If(self.descs.valid):
                    m.d.sync += idx.eq(0)
                    m.next = "ADDR"
            with m.State("ADDR"):  # the buffers read idx this cycle (unless the player writes)
                with m.If(self.window.ok):
                    m.next = "LATCH"
            with m.State("LATCH"):
                m.d.sync += win_q.eq(self.window.data)
                m.next = "SEND"
            with m.State("SEND"):
                last = idx == total - 1
                m.d.comb += [out.valid.eq(1), out.payload.data.eq(byte),
                             out.payload.last.eq(last)]
                with m.If(out.ready):
                    m.d.sync += idx.eq(idx + 1)
                    with m.If(last):
                        m.d.comb += self.descs.ready.eq(1)
                        m.next = "IDLE"
                    with m.Else():
                        m.next = "ADDR"
        # The count goes up once per reset, in the cycle after BOOT was left: while a reset
        # is held the FSM stays in BOOT (and this register, which reset does not touch, sees
        # it), and a domain without a reset (some platforms have none) leaves BOOT once.
        was_in_boot = Signal(reset_less=True)
        m.d.sync += was_in_boot.eq(tx_fsm.ongoing("BOOT"))
        with m.If(was_in_boot & ~tx_fsm.ongoing("BOOT")):
            m.d.sync += [boot_count.eq(count), booted.eq(1)]
        return m


# --------------------------------------------------------------------------- receiver


def byte_write(abits: int) -> wiring.Signature:
    """A byte buffer's write port as its writer sees it."""
    return wiring.Signature({"addr": Out(abits), "data": Out(8), "en": Out(1)})


# A command frame the receiver holds for the command unit: its type, seq, the first payload
# bytes (the fixed fields) and the payload's length; the whole frame is in the command buffer.
COMMAND = data.StructLayout({"type": 8, "seq": 8, "head": data.ArrayLayout(8, HEAD_BYTES),
                             "plen": range(p.MAX_FRAME + 1)})
CMD_BITS = (p.MAX_FRAME - 1).bit_length()  # the command buffer's address
# An INPUT block the receiver accepted into slot ``slot`` (of at most 64: _check_info): its
# first step, steps, length.
BLOCK_DESC = data.StructLayout({"slot": 6, "first": 32, "steps": 13, "len": 11})


def run_view(n_in: int, n_out: int) -> wiring.Signature:
    """The run's registers the receiver answers INPUT and RESEND frames from (the command
    unit and the player keep them): the board state, the run's kind and end, the input
    slots queued and played, and the OUTPUT frames kept for RESEND."""
    in_bits = max((n_in - 1).bit_length(), 1)
    return wiring.Signature({
        "state": Out(2), "streamed": Out(1), "free_run": Out(1), "run_end": Out(32),
        "consumed_seq": Out(8), "q_head": Out(in_bits), "q_count": Out(range(n_in + 1)),
        "have_block": Out(1), "next_output_seq": Out(8), "kept": Out(range(n_out + 1)),
    })


class Receiver(wiring.Component):
    """Takes every byte the deframer delivers, also while the core computes.  A command
    frame goes into the command buffer (``cmd_write``) and is offered to the command unit
    (``command``) when it ends intact; the receiver takes one only while the command unit
    waits (``cu_waiting``), so the fields stay put until it is answered.  An INPUT frame goes
    into an input slot (``slot_write``) while the block checker decodes its step block (so a
    malformed block is refused with the same BAD_MESSAGE offset as ``SpikeBlock.decode``);
    then it is accepted (``blocks``), or answered with CREDIT / SEQ_GAP / OVERRUN /
    NOT_RUNNING / STEP_MISMATCH as the virtual board answers (``descs``).  RESEND is
    answered from the output window, a frame of an unknown host-to-board type with
    UNSUPPORTED.  The input sequence numbers are its own; ``restart`` begins them again at
    step ``restart_step`` (RUN, RESET)."""

    def __init__(self, spec: CoreSpec, info: p.BuildInfo) -> None:
        self.spec, self.info = spec, info
        self.n_in, self.n_out = info.input_slots + 1, info.output_window + 1
        self.in_bits = (self.n_in - 1).bit_length()
        self.out_bits = (self.n_out - 1).bit_length()
        super().__init__({
            "frames": In(stream.Signature(DEFRAMED)),
            "command": Out(stream.Signature(COMMAND)),
            "cmd_write": Out(byte_write(CMD_BITS)),
            "cu_waiting": In(1),
            "slot_write": Out(byte_write(10 + self.in_bits)),
            "blocks": Out(stream.Signature(BLOCK_DESC, always_ready=True)),
            "descs": Out(stream.Signature(DESC)),
            "run": In(run_view(self.n_in, self.n_out)),
            "out_slot": Out(max(self.out_bits, 1)),  # RESEND: the slot asked for ...
            "out_len": In(11),  # ... and the length of the frame in it
            "restart": In(1), "restart_step": In(32),
            "next_input_seq": Out(8),
            "count": Out(len(COUNTERS)),  # STATUS counter events, in COUNTERS' order
            "idle": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        spec, info, run = self.spec, self.info, self.run
        frames, cmd, cmd_wr, in_wr = self.frames, self.command, self.cmd_write, self.slot_write

        def count(name: str) -> object:
            return self.count[COUNTERS.index(name)].eq(1)

        word = frames.payload
        pos = Signal(range(p.MAX_FRAME + 2))  # frame bytes so far (type, seq, payload, CRC)
        rtype, rseq, rbyte = Signal(8), Signal(8), Signal(8)
        to_cmd, to_slot, have_slot = Signal(), Signal(), Signal()
        slot = Signal(max(self.in_bits, 1))
        d0, d1 = Signal(8), Signal(8)  # the last two bytes: CRC until more follow
        m.submodules.checker = check = BlockChecker(info.input_id_bits, spec.n_inputs)
        length = Signal(range(p.MAX_FRAME + 2))
        plen = Signal(range(p.MAX_FRAME + 2))
        m.d.comb += plen.eq(length - p.HEADER_SIZE - p.CRC_SIZE)
        known = 0
        for ft in p.FrameType:
            known |= rtype == ft
        queued_full = run.q_count >= info.input_slots
        next_input_seq, consumed_seq = Signal(8), run.consumed_seq
        next_input_step = Signal(32)
        gap_reported, gap_seq = Signal(), Signal(8)
        input_left = Signal(32)  # the steps no accepted INPUT block covers
        m.d.comb += [input_left.eq(run.run_end - next_input_step),
                     self.next_input_seq.eq(next_input_seq)]
        with m.If(cmd.ready):
            m.d.sync += cmd.valid.eq(0)
        cmd_fields = [cmd.payload.type, cmd.payload.seq,
                      *(cmd.payload.head[k] for k in range(HEAD_BYTES))]
        desc = self.descs.payload

        with m.FSM(name="rx"):
            with m.State("BYTE"):
                m.d.comb += [frames.ready.eq(1), self.idle.eq(pos == 0)]
                with m.If(frames.valid & word.end):
                    m.d.sync += [pos.eq(0), length.eq(pos)]
                    with m.If(word.ok):
                        m.next = "END"
                    with m.Else():
                        m.d.comb += count("crc_errors")
                with m.Elif(frames.valid & (pos <= p.MAX_FRAME)):
                    b = word.data
                    m.d.sync += pos.eq(pos + 1)
                    # at byte 0, the type says where the frame goes; later bytes follow it
                    is_input = b == p.FrameType.INPUT
                    takes_cmd = Signal()
                    m.d.comb += takes_cmd.eq(Mux(pos == 0, ~is_input & (b != p.FrameType.RESEND)
                                                 & self.cu_waiting & ~cmd.valid, to_cmd))
                    with m.If(pos == 0):
                        free = run.q_count + run.have_block < self.n_in
                        m.d.sync += [rtype.eq(b), have_slot.eq(is_input & free),
                                     to_slot.eq(is_input), to_cmd.eq(takes_cmd),
                                     slot.eq(run.q_head + run.q_count)]
                        m.d.comb += check.start.eq(1)
                    with m.If(pos == 1):
                        m.d.sync += rseq.eq(b)
                    with m.If(pos == 2):
                        m.d.sync += rbyte.eq(b)
                    # command frames: every byte, header fields latched for the command unit
                    with m.If(takes_cmd & (pos < p.MAX_FRAME)):
                        m.d.comb += [cmd_wr.addr.eq(pos), cmd_wr.data.eq(b), cmd_wr.en.eq(1)]
                        with m.Switch(pos):
                            for at, sig in enumerate(cmd_fields):
                                with m.Case(at):
                                    m.d.sync += sig.eq(b)
                    # INPUT frames: payload into the slot, and through the checker two bytes
                    # late (the last two bytes of a frame are its CRC)
                    with m.If(to_slot & (pos >= p.HEADER_SIZE)):
                        with m.If(have_slot & (pos < p.HEADER_SIZE + SLOT)):
                            m.d.comb += [in_wr.addr.eq(Cat((pos - p.HEADER_SIZE)[:10],
                                                           slot[:self.in_bits])),
                                         in_wr.data.eq(b), in_wr.en.eq(1)]
                        m.d.sync += [d0.eq(b), d1.eq(d0)]
                        with m.If(pos >= p.HEADER_SIZE + 2):
                            m.d.comb += [check.valid.eq(1), check.data.eq(d1)]
            with m.State("END"):  # an intact frame: counted whatever its type
                m.d.comb += count("rx_frames")
                with m.If(~known):  # a newer host's command is answered; other types ignored
                    m.next = "BYTE"
                    with m.If(rtype < 0x80):
                        m.next = "UNSUPPORTED"
                with m.Elif(rtype == p.FrameType.INPUT):
                    m.next = "INPUT"
                with m.Elif(rtype == p.FrameType.RESEND):
                    m.next = "RESEND"
                with m.Else():
                    m.next = "BYTE"
                    with m.If(to_cmd & (rtype < 0x80)):
                        m.d.sync += [cmd.valid.eq(1), cmd.payload.plen.eq(plen)]
                    with m.Elif(rtype < 0x80):  # a command while the last one is answered
                        m.d.comb += count("overruns")

            with m.State("INPUT"):  # the virtual board's _on_input, check by check
                ahead = Signal(8)
                m.d.comb += ahead.eq(rseq - next_input_seq)
                duplicate = ahead >= p.SEQ_MODULUS // 2
                m.d.comb += check.length.eq(plen)
                bad, bad_at = check.bad, check.bad_at
                done = run.state == p.BoardState.DONE
                not_running = (run.state == p.BoardState.IDLE) | ~run.streamed | (done
                                                                                & ~duplicate)
                in_order = ~not_running & ~duplicate  # the checks after these apply
                gap, overrun = ahead != 0, queued_full | ~have_slot
                mismatch = check.first != next_input_step
                # a counted run's block may not reach past its last step: n_steps, in offset
                # order
                n_at = p.BLOCK["n_steps"].offset
                beyond = ~run.free_run & (plen >= p.BLOCK.size) & (check.n_raw > input_left)
                early = bad & (bad_at <= n_at)
                bad_at = Mux(early | ~beyond, bad_at, n_at)
                bad = bad | beyond
                code, detail = Signal(8), Signal(32)  # the ERROR to send (code 0: none)
                with m.If(not_running):
                    m.d.comb += [code.eq(p.ErrorCode.NOT_RUNNING), detail.eq(rseq)]
                with m.Elif(duplicate):
                    pass  # answered with a CREDIT
                with m.Elif(gap):  # reported once per gap
                    with m.If(~gap_reported | (gap_seq != next_input_seq)):
                        m.d.comb += [code.eq(p.ErrorCode.SEQ_GAP), detail.eq(next_input_seq)]
                with m.Elif(overrun):
                    m.d.comb += [code.eq(p.ErrorCode.OVERRUN), detail.eq(rseq)]
                with m.Elif(bad):
                    m.d.comb += [code.eq(p.ErrorCode.BAD_MESSAGE), detail.eq(bad_at)]
                with m.Elif(mismatch):
                    m.d.comb += [code.eq(p.ErrorCode.STEP_MISMATCH), detail.eq(next_input_step)]
                credit = ~not_running & duplicate
                push = credit | (code != 0)
                with m.If(credit):
                    m.d.comb += _assign(desc, small(
                        p.FrameType.CREDIT, consumed_seq,
                        credit_payload(consumed_seq, info.input_slots - run.q_count),
                        CREDIT_SIZE))
                with m.Else():
                    m.d.comb += _assign(desc, small(
                        p.FrameType.ERROR, rseq, error_payload(code, p.FrameType.INPUT, detail),
                        ERROR_SIZE))
                m.d.comb += self.descs.valid.eq(push)
                with m.If(~push | self.descs.ready):
                    m.next = "BYTE"
                    with m.If(in_order & gap):
                        m.d.comb += count("seq_errors")
                        m.d.sync += [gap_reported.eq(1), gap_seq.eq(next_input_seq)]
                    with m.Elif(in_order & overrun):
                        m.d.comb += count("overruns")
                    with m.Elif(in_order & ~bad & ~mismatch):  # taken: the block is queued
                        m.d.comb += [self.blocks.valid.eq(1),
                                     self.blocks.payload.slot.eq(slot),
                                     self.blocks.payload.first.eq(check.first),
                                     self.blocks.payload.steps.eq(check.n_raw[:15]),
                                     self.blocks.payload.len.eq(plen)]
                        m.d.sync += [gap_reported.eq(0), next_input_seq.eq(next_input_seq + 1),
                                     next_input_step.eq(check.first + check.n_raw[:15])]

            with m.State("RESEND"):  # the virtual board's _on_resend
                dist = Signal(8)
                m.d.comb += [dist.eq(run.next_output_seq - rbyte),
                             self.out_slot.eq(rbyte[:max(self.out_bits, 1)])]
                malformed, malformed_at = fixed_check(m, p.PAYLOADS[p.FrameType.RESEND], plen)
                kept = (dist != 0) & (dist <= run.kept)
                oldest = Signal(8)
                m.d.comb += oldest.eq(run.next_output_seq - run.kept)
                m.d.comb += self.descs.valid.eq(1)
                with m.If(malformed):
                    m.d.comb += _assign(desc, small(
                        p.FrameType.ERROR, rseq, error_payload(
                            p.ErrorCode.BAD_MESSAGE, p.FrameType.RESEND, malformed_at),
                        ERROR_SIZE))
                with m.Elif(kept):
                    m.d.comb += _assign(desc, [
                        ("kind", KIND_SLOT), ("replay", 1), ("slot", self.out_slot),
                        ("length", self.out_len), ("type", int(p.FrameType.OUTPUT)),
                        ("seq", rbyte)])
                with m.Else():
                    m.d.comb += _assign(desc, small(
                        p.FrameType.ERROR, rseq, error_payload(p.ErrorCode.GONE,
                                                               p.FrameType.RESEND, oldest),
                        ERROR_SIZE))
                with m.If(self.descs.ready):
                    m.next = "BYTE"

            with m.State("UNSUPPORTED"):  # an unknown type below 0x80: not cached
                m.d.comb += [self.descs.valid.eq(1), *_assign(desc, small(
                    p.FrameType.ERROR, rseq, error_payload(p.ErrorCode.UNSUPPORTED, rtype,
                                                           rtype), ERROR_SIZE))]
                with m.If(self.descs.ready):
                    m.next = "BYTE"
        # RUN and RESET begin the sequence numbers again (after the FSM: they win)
        with m.If(self.restart):
            m.d.sync += [next_input_seq.eq(0), next_input_step.eq(self.restart_step),
                         gap_reported.eq(0)]
        return m


# --------------------------------------------------------------------------- command unit


def core_part(spec: CoreSpec, *names: str) -> wiring.Signature:
    """The members ``names`` of :class:`~hdl.spikecore.core.CoreBus`: the part of the
    core's bus one unit drives (the engine joins the parts into the whole bus)."""
    bus = CoreBus(spec).members
    return wiring.Signature({name: bus[name] for name in names})


def status_view() -> wiring.Signature:
    """What STATUS reports and RUN, STOP and BUSY answer with, as the command unit reads
    it: the player's run registers, the receiver's next INPUT seq, the transmitter's boot
    count."""
    return wiring.Signature({
        "state": Out(2), "t": Out(32), "steps_left": Out(32), "free_run": Out(1),
        "next_output_seq": Out(8), "next_input_seq": Out(8), "boot_count": Out(32),
    })


class CommandUnit(wiring.Component):
    """The command unit: docs/protocol.md, section 4, in the order it gives: the reply
    cache, BUSY, the payload's fields (``fixed_check`` over ``PAYLOADS``), then each
    command's own checks and effect.  It takes a command from the receiver (``command``;
    the frame itself in the command buffer, ``cmd_read``), writes the reply frame's body
    into the reply buffer (``reply_write``) and offers it to the transmitter's queue
    (``descs``), one at a time (the next waits until ``reply_sent``).  It drives the core
    for WRITE, READ and RESET (``core``), and the other units through strobes: ``start``
    and ``clear`` (the player's run, and ``restart`` the receiver's INPUT sequence),
    ``stop`` until ``stopped``, ``hold`` until ``between`` (STATUS)."""

    def __init__(self, spec: CoreSpec, info: p.BuildInfo) -> None:
        self.spec, self.info = spec, info
        super().__init__({
            "command": In(stream.Signature(COMMAND)),
            "cmd_read": Out(byte_read(CMD_BITS)),
            "reply_write": Out(byte_write(REPLY_BITS)),
            "descs": Out(stream.Signature(DESC)),
            "reply_sent": In(1),
            "waiting": Out(1),  # it takes a command now (the receiver keeps one for it)
            "core": Out(core_part(spec, "cmd", "resp", "busy", "clear")),
            "status": In(status_view()),
            "counters": Out(wiring.Signature({
                "hold": Out(1), "r_addr": Out(range(4 * len(COUNTERS))), "r_data": In(8),
                "quiet": In(1)})),
            "start": Out(1), "start_steps": Out(32), "start_streamed": Out(1),
            "clear": Out(1), "restart": Out(1), "restart_step": Out(32),
            "stop": Out(1), "stopped": In(1), "hold": Out(1), "between": In(1),
            "idle": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        spec, info, st = self.spec, self.info, self.status
        core_cmd = self.core.cmd
        reply_busy = Signal()  # a reply in the queue or being sent: the next one waits
        with m.If(self.reply_sent):
            m.d.sync += reply_busy.eq(0)
        mems = list(p.Memory)
        depth = Array(Const(info.depth(mem)) for mem in mems)
        word_bytes = Array(Const(info.word_bytes(mem), 4) for mem in mems)
        widest = max(info.word_bytes(mem) for mem in mems)
        # the bits above each memory's word width, which a WRITE may not set
        over = Array(Const(((1 << 8 * widest) - 1) ^ ((1 << info.word_bits(mem)) - 1), 8 * widest)
                     for mem in mems)
        write_op = Array(Const(int(p.WRITE_OP[mem]), 3) for mem in mems)
        read_op = Array(Const(int(p.READ_OP.get(mem, 0)), 3) for mem in mems)
        readable = Array(Const(int(mem in p.READ_OP), 1) for mem in mems)
        max_words = Array(Const(p.MemoryWrite.max_words(info, mem), 16) for mem in mems)
        hello = info.encode()
        # an unwritten neuron never fires (the core's initial parameter words)
        silent = spec.pack("neuron_params", **silent_neuron_params(spec))

        m.submodules.rom = rom = Memory(shape=8, depth=len(hello), init=list(hello))
        f_rd = self.cmd_read
        r_wr = self.reply_write
        rom_rd = rom.read_port()

        command = self.command.payload
        ftype, seq, plen = command.type, command.seq, command.plen
        head = [command.head[k] for k in range(HEAD_BYTES)]
        lay = {t: p.PAYLOADS[t] for t in COMMANDS}

        def fld(t: p.FrameType, name: str) -> Value:
            return field_of(lay[t], name, head)

        F = p.FrameType
        memory, address = fld(F.READ, "memory"), fld(F.READ, "address")  # WRITE's are the same
        assert [lay[F.WRITE][n] for n in ("memory", "address")] == \
            [lay[F.READ][n] for n in ("memory", "address")]
        count = fld(F.READ, "count")
        mem_ok = memory < len(mems)
        # an address is compared as its low bits and whether it has any above the deepest
        # memory's depth: a 32-bit field, a core address of a few bits
        addr_bits = max(info.depth(mem) for mem in mems).bit_length()
        a_lo, a_hi = address[:addr_bits], address[addr_bits:] != 0
        mem3 = memory[:3]
        # BAD_ADDRESS's detail: the address when it is beyond the memory, else its depth
        bad_address = Mux(a_hi | (a_lo > depth[mem3]), address, depth[mem3])
        run_steps, run_flags = fld(F.RUN, "steps"), fld(F.RUN, "flags")
        m.d.comb += [self.start_steps.eq(run_steps), self.start_streamed.eq(run_flags[0])]
        scope = fld(F.RESET, "scope")
        version = fld(F.HELLO, "version")
        # every payload's verdict (refused, offset), computed from the table
        checks = {
            F.HELLO: fixed_check(m, lay[F.HELLO], plen),
            F.STATUS: fixed_check(m, lay[F.STATUS], plen),
            F.STOP: fixed_check(m, lay[F.STOP], plen),
            F.RESET: fixed_check(m, lay[F.RESET], plen, {"scope": scope > max(p.ResetScope)}),
            F.CONFIG: fixed_check(m, lay[F.CONFIG], plen, {
                "n_neurons": fld(F.CONFIG, "n_neurons") > spec.n_neurons,
                "n_inputs": fld(F.CONFIG, "n_inputs") > spec.n_inputs,
                "seed": fld(F.CONFIG, "seed") != 0}),
            F.RUN: fixed_check(m, lay[F.RUN], plen, {
                "steps": run_steps == p.FREE_RUN, "flags": run_flags[1:] != 0}),
            F.WRITE: fixed_check(m, lay[F.WRITE], plen, {"memory": ~mem_ok}),
            F.READ: fixed_check(m, lay[F.READ], plen, {
                "memory": ~mem_ok, "count": (count == 0) | (count > max_words[mem3])}),
        }

        # the verdict on the payload of the command in the buffer
        bad, bad_at = Signal(), Signal(11)
        with m.Switch(ftype):
            for t, (refused, at) in checks.items():
                with m.Case(t):
                    m.d.comb += [bad.eq(refused), bad_at.eq(at)]

        replay, cacheable = Signal(), Signal()
        clear_mem, clear_addr = Signal(3), Signal(addr_bits)

        rtype, rcode, rvalue = Signal(8), Signal(8), Signal(32)
        rlen, i = Signal(range(p.MAX_FRAME)), Signal(range(p.MAX_FRAME))
        then_read = Signal()
        cached = Signal()
        cache_type, cache_seq = Signal(8), Signal(8)
        status = [rtype, seq, *payload_bytes(p.STATUS, {
            "state": st.state, "step": st.t,
            "steps_left": Mux(st.free_run, p.FREE_RUN, st.steps_left),
            "next_output_seq": st.next_output_seq, "next_input_seq": st.next_input_seq,
            "boot_count": st.boot_count, **dict.fromkeys(COUNTERS, 0)})][:STATUS_COUNTERS]
        status_bytes = Array(status)
        bank = self.counters

        n, k = Signal(16), Signal(16)
        acc = Signal(range(p.MAX_FRAME + 1))
        pos = Signal(range(p.MAX_FRAME + 1))
        j = Signal(range(widest + 1))
        word = Signal(8 * widest)
        checking = Signal()
        wb = word_bytes[mem3]
        row = word_layout(spec, "row")(word[:spec.width("row")])
        running = st.state == p.BoardState.RUNNING

        def error(code: p.ErrorCode, detail: object) -> list:
            return [rtype.eq(F.ERROR), rcode.eq(code), rvalue.eq(detail), then_read.eq(0), i.eq(0)]

        def ack(value: object) -> list:
            return [rtype.eq(F.ACK), rvalue.eq(value), then_read.eq(0), i.eq(0)]

        # ERROR, ACK and DATA's fixed fields, from their layouts
        kinds = {
            F.ERROR: payload_bytes(p.PAYLOADS[F.ERROR],
                                   {"code": rcode, "cause": ftype, "detail": rvalue}),
            F.ACK: payload_bytes(p.PAYLOADS[F.ACK], {"acked": ftype, "value": rvalue}),
            F.DATA: payload_bytes(p.PAYLOADS[F.DATA], {"memory": memory, "address": rvalue}),
        }
        longest = max(len(b) for b in kinds.values())
        fixed_body = []
        for at in range(longest):
            byte: Value = Const(0, 8)
            for t, body in kinds.items():
                if at < len(body):
                    byte = Mux(rtype == t, body[at], byte)
            fixed_body.append(byte)
        fixed = Array([rtype, seq, *fixed_body])
        fixed_len = Signal(range(longest + p.HEADER_SIZE + 1))
        m.d.comb += fixed_len.eq(p.HEADER_SIZE + len(kinds[F.ACK]))
        for t, body in kinds.items():
            with m.If(rtype == t):
                m.d.comb += fixed_len.eq(p.HEADER_SIZE + len(body))

        m.d.comb += _assign(self.descs.payload, [("kind", KIND_REPLY), ("replay", replay),
                                        ("length", rlen)])

        # After every reset the memories are cleared as RESET(ALL) clears them: block RAM keeps
        # its contents through a reset (only configuration sets it), and the page says a board
        # after a reset is as after RESET(ALL).  A command that arrives meanwhile waits in the
        # command buffer.
        booting = Signal(init=1)
        with m.FSM(name="cu"):
            with m.State("POWER_UP"):
                m.d.comb += self.waiting.eq(1)
                m.d.sync += [clear_mem.eq(0), clear_addr.eq(0)]
                m.next = "CLEAR_CORE"

            with m.State("WAIT"):
                m.d.comb += [self.waiting.eq(1), self.idle.eq(~self.command.valid)]
                with m.If(self.command.valid & ~reply_busy):
                    m.d.comb += self.command.ready.eq(1)
                    m.next = "DISPATCH"

            with m.State("DISPATCH"):
                # HELLO and STATUS change nothing: never answered from the cache
                fresh = (ftype == F.STATUS) | (ftype == F.HELLO)
                allowed_in_run = fresh | (ftype == F.STOP)  # the others are BUSY in a run
                m.d.sync += [n.eq(0), k.eq(0), acc.eq(0), checking.eq(0), replay.eq(0),
                             cached.eq(0), cacheable.eq(~fresh)]
                repeat = cached & (ftype == cache_type) & (seq == cache_seq)
                with m.If(repeat):
                    m.d.sync += [replay.eq(1), cached.eq(1), cacheable.eq(1)]
                    m.next = "PUSH"  # the host missed our reply: say it again, do nothing
                with m.Elif((ftype == F.HELLO) & (plen != 0) & (version != p.PROTOCOL_VERSION)):
                    m.d.sync += error(p.ErrorCode.BAD_VERSION, p.PROTOCOL_VERSION)
                    m.next = "FIXED"  # (before the length: a later host learns our version)
                with m.Elif(running & ~allowed_in_run):
                    m.d.sync += error(p.ErrorCode.BUSY, st.t)
                    m.next = "FIXED"
                with m.Elif(bad):
                    m.d.sync += error(p.ErrorCode.BAD_MESSAGE, bad_at)
                    m.next = "FIXED"
                with m.Elif(ftype == F.STATUS):
                    m.d.sync += [rtype.eq(F.STATUS_REPLY), i.eq(0)]
                    m.next = "STATUS_HOLD"
                with m.Elif(ftype == F.HELLO):
                    m.d.sync += [rtype.eq(F.HELLO_REPLY), i.eq(0)]
                    m.next = "HELLO"
                with m.Elif(ftype == F.STOP):
                    with m.If(running):
                        m.next = "STOP"
                    with m.Else():
                        m.d.sync += ack(st.t)
                        m.next = "FIXED"
                with m.Elif(ftype == F.RUN):  # the virtual board's _reset_run, then the run
                    m.d.comb += [self.start.eq(1), self.restart.eq(1), self.restart_step.eq(st.t)]
                    m.d.sync += ack(st.t)
                    m.next = "FIXED"
                with m.Elif(ftype == F.CONFIG):
                    m.d.sync += ack(0)
                    m.next = "FIXED"
                with m.Elif(ftype == F.RESET):  # STATE: only the STATE memory (the last) again
                    m.d.sync += [clear_mem.eq(Mux(scope == p.ResetScope.STATE, p.Memory.STATE, 0)),
                                 clear_addr.eq(0)]
                    m.next = "CLEAR_CORE"
                with m.Elif(ftype == F.WRITE):
                    with m.If(plen == WRITE_HEADER):  # no word
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, WRITE_HEADER)
                        m.next = "FIXED"
                    with m.Else():
                        m.next = "COUNT"
                with m.Else():  # READ: the only host command left
                    with m.If(~readable[mem3]):
                        m.d.sync += error(p.ErrorCode.NOT_READABLE, memory)
                    with m.Elif(a_hi | (a_lo + count > depth[mem3])):
                        m.d.sync += error(p.ErrorCode.BAD_ADDRESS, bad_address)
                    with m.Else():
                        m.d.sync += [rtype.eq(F.DATA), rvalue.eq(address), then_read.eq(1),
                                     i.eq(0)]
                    m.next = "FIXED"

            with m.State("STOP"):  # the player flushes its output between steps
                m.d.comb += self.stop.eq(1)
                with m.If(self.stopped):
                    m.d.sync += ack(st.t)
                    m.next = "FIXED"

            with m.State("HELLO"):  # type, seq, then the BuildInfo ROM (read a cycle ahead)
                with m.If(i != 0):
                    m.d.comb += [r_wr.addr.eq(i - 1), r_wr.en.eq(1),
                                 r_wr.data.eq(Mux(i == 1, rtype, Mux(i == 2, seq, rom_rd.data)))]
                m.d.comb += rom_rd.addr.eq(i - 2)
                m.d.sync += i.eq(i + 1)
                with m.If(i == len(hello) + 2):
                    m.d.sync += [rlen.eq(len(hello) + 2), i.eq(0)]
                    m.next = "PUSH"

            # STATUS describes one moment (docs/protocol.md, section 4): the player waits between
            # two steps until the reply is queued, so no field moves while the bytes are written
            # and every frame the player made before is counted in them and sent before them
            with m.State("STATUS_HOLD"):  # and until every event before it is counted
                m.d.comb += self.hold.eq(1)
                with m.If(self.between & bank.quiet):
                    m.next = "STATUS"

            with m.State("STATUS"):  # the counters' bytes from their memory, read a byte ahead
                m.d.comb += [self.hold.eq(1), bank.hold.eq(1), r_wr.addr.eq(i), r_wr.en.eq(1),
                             r_wr.data.eq(Mux(i < STATUS_COUNTERS, status_bytes[i], bank.r_data)),
                             bank.r_addr.eq(i + 1 - STATUS_COUNTERS)]
                m.d.sync += i.eq(i + 1)
                with m.If(i == STATUS_SIZE - 1):
                    m.d.sync += [rlen.eq(STATUS_SIZE), i.eq(0)]
                    m.next = "PUSH"

            with m.State("CLEAR_CORE"):  # RESET: the core's dynamic state first
                m.d.comb += [self.core.clear.eq(1), self.waiting.eq(booting)]
                m.next = "CLEAR_WAIT"

            with m.State("CLEAR_WAIT"):
                m.d.comb += self.waiting.eq(booting)
                with m.If(~self.core.busy):
                    m.next = "CLEAR"

            with m.State("CLEAR"):  # then the memories (from clear_mem on) as a fresh core has them
                m.d.comb += [self.waiting.eq(booting),
                             core_cmd.valid.eq(1), core_cmd.payload.op.eq(write_op[clear_mem]),
                             core_cmd.payload.addr.eq(clear_addr),
                             core_cmd.payload.data.eq(Mux(clear_mem == p.Memory.NEURON, silent, 0))]
                with m.If(core_cmd.ready):
                    with m.If(clear_addr + 1 < depth[clear_mem]):
                        m.d.sync += clear_addr.eq(clear_addr + 1)
                    with m.Elif(clear_mem + 1 < len(mems)):
                        m.d.sync += [clear_mem.eq(clear_mem + 1), clear_addr.eq(0)]
                    with m.Else():
                        m.d.comb += [self.clear.eq(1), self.restart.eq(1)]
                        m.d.sync += [*ack(0), booting.eq(0)]
                        m.next = "FIXED"
                        with m.If(booting):  # no command to answer
                            m.next = "WAIT"

            with m.State("FIXED"):
                m.d.comb += [r_wr.addr.eq(i), r_wr.data.eq(fixed[i[:3]]), r_wr.en.eq(1)]
                m.d.sync += i.eq(i + 1)
                with m.If(i == fixed_len - 1):
                    m.d.sync += rlen.eq(fixed_len)
                    with m.If(then_read):
                        m.d.sync += j.eq(0)
                        m.next = "READ_CMD"
                    with m.Else():
                        m.d.sync += i.eq(0)
                        m.next = "PUSH"

            with m.State("COUNT"):  # words in the WRITE, without a divider
                with m.If(acc + wb <= plen - WRITE_HEADER):
                    m.d.sync += [acc.eq(acc + wb), n.eq(n + 1)]
                with m.Elif(acc != plen - WRITE_HEADER):  # the word at this offset is cut
                    m.d.sync += error(p.ErrorCode.BAD_MESSAGE, WRITE_HEADER + acc)
                    m.next = "FIXED"
                with m.Elif(a_hi | (a_lo + n > depth[mem3])):
                    m.d.sync += error(p.ErrorCode.BAD_ADDRESS, bad_address)
                    m.next = "FIXED"
                with m.Else():  # check every word, then write them: all or nothing
                    m.d.sync += [checking.eq(1), k.eq(0), j.eq(0), word.eq(0),
                                 pos.eq(p.HEADER_SIZE + WRITE_HEADER)]
                    m.next = "WORD"

            with m.State("WORD"):  # assemble word k, little-endian; the buffer reads pos
                m.d.comb += f_rd.addr.eq(pos)
                with m.If(k == n):
                    with m.If(checking):  # every word fits: now write them
                        m.d.sync += [checking.eq(0), k.eq(0), j.eq(0), word.eq(0),
                                     pos.eq(p.HEADER_SIZE + WRITE_HEADER)]
                    with m.Else():
                        m.d.sync += ack(n)
                        m.next = "FIXED"
                with m.Elif(j == wb):
                    m.next = "USE"
                with m.Else():
                    m.next = "BYTE"

            with m.State("BYTE"):
                m.d.sync += [word.word_select(j, 8).eq(f_rd.data), j.eq(j + 1), pos.eq(pos + 1)]
                m.next = "WORD"

            with m.State("USE"):
                with m.If(checking):
                    with m.If((word & over[mem3]) != 0):  # bits above the word's width
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, pos - p.HEADER_SIZE - wb)
                        m.next = "FIXED"
                    with m.Elif((memory == p.Memory.ROW) &
                                (row.start + row.length > spec.n_synapses)):
                        m.d.sync += error(p.ErrorCode.BAD_ADDRESS, row.start + row.length)
                        m.next = "FIXED"
                    with m.Else():
                        m.d.sync += [k.eq(k + 1), j.eq(0), word.eq(0)]
                        m.next = "WORD"
                with m.Else():
                    m.d.comb += [core_cmd.valid.eq(1), core_cmd.payload.op.eq(write_op[mem3]),
                                 core_cmd.payload.addr.eq(a_lo + k),
                                 core_cmd.payload.data.eq(word)]
                    with m.If(core_cmd.ready):
                        m.d.sync += [k.eq(k + 1), j.eq(0), word.eq(0)]
                        m.next = "WORD"

            with m.State("READ_CMD"):
                with m.If(k == count):
                    m.d.sync += i.eq(0)
                    m.next = "PUSH"
                with m.Else():
                    m.d.comb += [core_cmd.valid.eq(1), core_cmd.payload.op.eq(read_op[mem3]),
                                 core_cmd.payload.addr.eq(a_lo + k)]
                    with m.If(core_cmd.ready):
                        m.next = "READ_RESP"

            with m.State("READ_RESP"):
                m.d.comb += self.core.resp.ready.eq(1)
                with m.If(self.core.resp.valid):
                    m.d.sync += [word.eq(self.core.resp.payload), j.eq(0)]
                    m.next = "READ_BYTES"

            with m.State("READ_BYTES"):  # the word into the reply, little-endian
                with m.If(j == wb):
                    m.d.sync += k.eq(k + 1)
                    m.next = "READ_CMD"
                with m.Else():
                    m.d.comb += [r_wr.addr.eq(rlen), r_wr.data.eq(word.word_select(j, 8)),
                                 r_wr.en.eq(1)]
                    m.d.sync += [rlen.eq(rlen + 1), j.eq(j + 1)]

            with m.State("PUSH"):  # the reply buffer to the transmitter's queue
                m.d.comb += [self.descs.valid.eq(1), self.hold.eq(rtype == F.STATUS_REPLY)]
                with m.If(self.descs.ready):
                    m.d.sync += [reply_busy.eq(1), cached.eq(cacheable),
                                 cache_type.eq(ftype), cache_seq.eq(seq)]
                    m.next = "WAIT"


    # --------------------------------------------------------------------------- player
        return m


class Player(wiring.Component):
    """Runs the core one step at a time (so STOP lands between steps), feeds it the input
    ids of the step from the INPUT block being played (``slots``), collects its output
    spikes and encodes them as step records into the OUTPUT frame being built in the
    window (``window``), cutting frames where ``split_spike_blocks`` cuts them, and offers
    each frame (and the CREDIT for each block used up) to the transmitter's queue
    (``descs``).  It keeps the run's registers (``run``, ``t``, ``steps_left``) and the
    queue of accepted INPUT blocks (``blocks``); the command unit starts a run
    (``start``), clears it (``clear``: RESET), stops it (``stop`` until ``stopped``) and
    holds it between two steps (``hold``, ``between``) while STATUS reads the registers."""

    def __init__(self, spec: CoreSpec, info: p.BuildInfo) -> None:
        self.spec, self.info = spec, info
        self.n_in, self.n_out = info.input_slots + 1, info.output_window + 1
        self.in_bits = (self.n_in - 1).bit_length()
        self.out_bits = (self.n_out - 1).bit_length()
        super().__init__({
            "core": Out(core_part(spec, "cmd", "spike_in", "spike_out")),
            "blocks": In(stream.Signature(BLOCK_DESC, always_ready=True)),
            "slots": Out(byte_read(10 + self.in_bits)),
            "window": Out(byte_write(10 + self.out_bits)),
            "window_free": In(self.n_out),  # output slots no queued descriptor names
            "descs": Out(stream.Signature(DESC)),
            "run": Out(run_view(self.n_in, self.n_out)),
            "t": Out(32), "steps_left": Out(32),
            "resend_slot": In(max(self.out_bits, 1)), "resend_len": Out(11),
            "start": In(1), "start_steps": In(32), "start_streamed": In(1),
            "clear": In(1), "stop": In(1), "stopped": Out(1),
            "hold": In(1), "between": Out(1),
            "idle": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        spec, info, run = self.spec, self.info, self.run
        # the run's registers; the command unit's start and clear come first, so that the
        # player's own updates of the same cycle win
        state, t, run_end = Signal(2), Signal(32), Signal(32)
        free_run, streamed, have_block = Signal(), Signal(), Signal()
        consumed_seq, next_output_seq = Signal(8), Signal(8)
        kept = Signal(range(self.n_out + 1))  # OUTPUT frames in the window
        # input slots: a ring; q_head is the next to play, q_count queued ones
        q_head = Signal(max(self.in_bits, 1))
        q_count = Signal(range(self.n_in + 1))
        q_reset, q_pop = Signal(), Signal()
        in_first = Array(Signal(32, name=f"in_first{k}") for k in range(self.n_in))
        in_steps = Array(Signal(13, name=f"in_steps{k}") for k in range(self.n_in))
        in_len = Array(Signal(11, name=f"in_len{k}") for k in range(self.n_in))
        out_len = Array(Signal(11, name=f"out_len{k}") for k in range(self.n_out))
        window_free = Array(self.window_free[k] for k in range(self.n_out))
        steps_left = Signal(32)  # a counted run ends before step run_end
        m.d.comb += [steps_left.eq(run_end - t), self.steps_left.eq(steps_left), self.t.eq(t),
                     run.state.eq(state), run.streamed.eq(streamed),
                     run.free_run.eq(free_run), run.run_end.eq(run_end),
                     run.consumed_seq.eq(consumed_seq), run.q_head.eq(q_head),
                     run.q_count.eq(q_count), run.have_block.eq(have_block),
                     run.next_output_seq.eq(next_output_seq), run.kept.eq(kept),
                     self.resend_len.eq(out_len[self.resend_slot])]
        with m.If(self.blocks.valid):
            block = self.blocks.payload
            slot = block.slot[:max(self.in_bits, 1)]
            m.d.sync += [in_first[slot].eq(block.first), in_steps[slot].eq(block.steps),
                         in_len[slot].eq(block.len)]
        with m.If(self.start):  # the virtual board's _reset_run, then the run
            m.d.comb += q_reset.eq(1)
            m.d.sync += [have_block.eq(0), state.eq(p.BoardState.RUNNING),
                         run_end.eq(t + self.start_steps),
                         free_run.eq(self.start_steps == 0), streamed.eq(self.start_streamed),
                         consumed_seq.eq(0), next_output_seq.eq(0), kept.eq(0)]
        with m.If(self.clear):
            m.d.comb += q_reset.eq(1)
            m.d.sync += [t.eq(0), state.eq(p.BoardState.IDLE), have_block.eq(0),
                         run_end.eq(0), free_run.eq(0), streamed.eq(0), consumed_seq.eq(0),
                         next_output_seq.eq(0), kept.eq(0)]
        m.d.sync += q_count.eq(Mux(q_reset, 0, q_count + self.blocks.valid - q_pop))
        m.submodules.step_ids = step_mem = Memory(shape=spec.neuron_bits, depth=spec.n_neurons,
                                                  init=[])
        st_wr, st_rd = step_mem.write_port(), step_mem.read_port()
        ib_in, ibytes_in = info.input_id_bits, info.input_id_bytes
        ib_out, ibytes_out = info.neuron_id_bits, info.neuron_id_bytes
        fit = p.split_fit(p.BLOCK_HEADER_SIZE, ibytes_out)

        running = state == p.BoardState.RUNNING
        # the INPUT block being played
        bslot = Signal(max(self.in_bits, 1))
        b_first, b_steps, b_len = Signal(32), Signal(13), Signal(11)
        k = Signal(13)  # step within the block
        ppos = Signal(11)  # payload byte the slot buffer reads
        fresh = Signal()  # self.slots.data holds the byte at ppos
        consume = Signal()
        m.d.comb += self.slots.addr.eq(Cat(ppos[:10], bslot[:self.in_bits]))
        # a cycle in which the receiver writes the slots reads nothing
        m.d.sync += fresh.eq(~consume & self.slots.ok)
        have_rec, rec_single = Signal(), Signal()
        rec_step, rec_base = Signal(13), Signal(13)
        rec_left = Signal(range(spec.n_inputs + 5))  # a checked record has at most n_inputs
        counting = Signal()  # the record's count varint follows
        rec_id, lo = Signal(16), Signal(8)
        # a played block was checked: its varints fit the checker's kept bits
        acc, nb = Signal(kept_bits(ib_in)), Signal(3)
        after_parse = Signal()  # 0: go on to start the step, 1: close the step's input
        group = Signal(13)  # steps since the last flush

        # the OUTPUT frame being built
        o_open, o_cont = Signal(), Signal()
        o_first = Signal(32)
        o_size, o_steps, o_gap = Signal(11), Signal(13), Signal(13)
        o_slot = next_output_seq[:max(self.out_bits, 1)]
        wptr = Signal(11)
        cnt = Signal(range(spec.n_neurons + 1))  # output spikes of this step
        id_off = Signal(range(spec.n_neurons + 1))  # first id not yet written
        rec_n = Signal(range(spec.n_neurons + 1))  # ids in the record being written
        split = Signal()
        wval = Signal(1 + max(ib_out, 2) + len(o_gap))  # a record header, or its count
        wi = Signal(range(spec.n_neurons + 1))
        close_then = Signal(2)  # after closing a frame: 0 record again, 1 step end, 2 stop
        CLOSE_RECORD, CLOSE_STEP, CLOSE_STOP = 0, 1, 2
        hi = Signal()  # the byte being written is an id's high byte
        hw = Signal(3)  # block header byte being written when a frame closes
        finishing = Signal()  # the run's last step is done: DONE once its output is out
        id0 = Signal(16)
        m.d.comb += id0.eq(st_rd.data)

        # the record for rec_n ids after o_gap silent steps (encode_record)
        single = Const(int(ibytes_out == 2), 1) & (rec_n == 1)
        short = Mux(rec_n >= 4, 3, rec_n - 1)
        hval = Signal(len(wval))
        with m.If(single):
            m.d.comb += hval.eq(Cat(Const(1, 1), id0[:ib_out], o_gap))
        with m.Else():
            m.d.comb += hval.eq(Cat(short[:2], o_gap) << (1 if ibytes_out == 2 else 0))
        cval = Signal(16)
        m.d.comb += cval.eq(rec_n - 4)
        cost = Signal(12)
        m.d.comb += cost.eq(Mux(single, varint_len(hval),
                                varint_len(hval) + Mux(rec_n >= 4, varint_len(cval), 0)
                                + rec_n * ibytes_out))
        # registered in SIZE, one clock before DECIDE uses them: the step_ids word (a block
        # RAM output) through the header's varint lengths into DECIDE's choice did not fit a
        # 50 MHz clock
        hval_q, cost_q = Signal(len(wval)), Signal(12)
        fits = o_size + cost_q <= p.MAX_PAYLOAD

        start_ok = running & (~streamed | have_block | (q_count != 0))
        block_done = Signal()  # the step just computed was the INPUT block's last

        def varint_byte(v: Value) -> Value:
            return Cat(v[:7], v[7:] != 0)

        credit = small(p.FrameType.CREDIT, consumed_seq + 1,
                       credit_payload((consumed_seq + 1)[:8], info.input_slots - q_count),
                       CREDIT_SIZE)
        # STOP (docs/protocol.md, section 4): no steps left, INPUT not computed yet dropped
        stopped = [state.eq(p.BoardState.DONE), group.eq(0), run_end.eq(t),
                   free_run.eq(0), have_block.eq(0)]

        with m.FSM(name="player"):
            with m.State("IDLE"):
                m.d.comb += [self.idle.eq(~start_ok & ~self.stop & ~finishing),
                             self.between.eq(1)]
                with m.If(self.hold):  # STATUS is reading the run's registers: one moment of them
                    pass
                with m.Elif(finishing):  # (a RUN or RESET may only change the run after this)
                    m.d.sync += [state.eq(p.BoardState.DONE), finishing.eq(0)]
                with m.Elif(self.stop):
                    with m.If(o_open):
                        m.d.sync += close_then.eq(CLOSE_STOP)
                        m.next = "CLOSE"
                    with m.Else():
                        m.d.comb += [self.stopped.eq(1), q_reset.eq(1)]
                        m.d.sync += stopped
                with m.Elif(running & streamed & ~have_block & (q_count != 0)):
                    head = q_head
                    m.d.comb += q_pop.eq(1)
                    m.d.sync += [bslot.eq(head), b_first.eq(in_first[head]),
                                 b_steps.eq(in_steps[head]), b_len.eq(in_len[head]),
                                 q_head.eq(q_head + 1), k.eq(0), rec_base.eq(0),
                                 have_rec.eq(0), ppos.eq(p.BLOCK_HEADER_SIZE), acc.eq(0),
                                 nb.eq(0), after_parse.eq(0), rec_left.eq(0),
                                 counting.eq(0)]
                    m.d.comb += consume.eq(1)
                    with m.If(in_steps[head] == 0):  # nothing to compute: consumed at once
                        m.next = "CREDIT"
                    with m.Else():
                        m.d.sync += have_block.eq(1)
                        m.next = "PARSE"
                with m.Elif(start_ok):
                    m.next = "RUN"

            with m.State("PARSE"):  # the next record's header, if the block has one
                with m.If(ppos >= b_len):
                    m.d.sync += have_rec.eq(0)
                    m.next = "AFTER_PARSE"
                with m.Elif(fresh):
                    byte = self.slots.data
                    value, _ = varint_value(m, acc, nb, byte)
                    m.d.comb += consume.eq(1)
                    m.d.sync += ppos.eq(ppos + 1)
                    with m.If(byte[7]):
                        m.d.sync += [acc.eq(value), nb.eq(nb + 1)]
                    with m.Elif(counting):  # this was the count varint
                        m.d.sync += [acc.eq(0), nb.eq(0), rec_left.eq(value + 4), have_rec.eq(1),
                                     counting.eq(0)]
                        m.next = "AFTER_PARSE"
                    with m.Else():
                        m.d.sync += [acc.eq(0), nb.eq(0)]
                        single, gap, one, short = record_header(value, ibytes_in, ib_in)
                        m.d.sync += [rec_single.eq(single), rec_id.eq(one),
                                     rec_step.eq(rec_base + gap)]
                        with m.If(~single & (short == 3)):
                            m.d.sync += counting.eq(1)  # the count varint follows
                        with m.Else():
                            m.d.sync += [rec_left.eq(Mux(single, 1, short + 1)), have_rec.eq(1)]
                            m.next = "AFTER_PARSE"

            with m.State("AFTER_PARSE"):
                with m.If(after_parse):
                    m.next = "FEED_LAST"
                with m.Else():
                    m.next = "RUN"

            with m.State("RUN"):  # one step of the core
                m.d.comb += [self.core.cmd.valid.eq(1), self.core.cmd.payload.op.eq(Op.RUN),
                             self.core.cmd.payload.data.eq(1)]
                with m.If(self.core.cmd.ready):
                    m.next = "FEED"

            with m.State("FEED"):  # the step's input ids, from the record of this step
                with m.If(streamed & have_rec & (rec_step == k)):
                    with m.If(rec_single):
                        m.d.comb += [self.core.spike_in.valid.eq(1),
                                     self.core.spike_in.payload.axon.eq(rec_id)]
                        with m.If(self.core.spike_in.ready):
                            m.d.sync += [rec_base.eq(k + 1), after_parse.eq(1), have_rec.eq(0)]
                            m.next = "PARSE"
                    with m.Elif(fresh):
                        if ibytes_in == 2:
                            with m.If(~hi):
                                m.d.comb += consume.eq(1)
                                m.d.sync += [lo.eq(self.slots.data), ppos.eq(ppos + 1), hi.eq(1)]
                            axon = Cat(lo, self.slots.data)
                            go = hi
                        else:
                            axon = self.slots.data
                            go = Const(1, 1)
                        with m.If(go):
                            m.d.comb += [self.core.spike_in.valid.eq(1),
                                         self.core.spike_in.payload.axon.eq(axon)]
                            with m.If(self.core.spike_in.ready):
                                m.d.comb += consume.eq(1)
                                m.d.sync += [ppos.eq(ppos + 1), rec_left.eq(rec_left - 1), hi.eq(0)]
                                with m.If(rec_left == 1):
                                    m.d.sync += [rec_base.eq(k + 1), after_parse.eq(1),
                                                 have_rec.eq(0)]
                                    m.next = "PARSE"
                with m.Else():
                    m.next = "FEED_LAST"

            with m.State("FEED_LAST"):
                m.d.comb += [self.core.spike_in.valid.eq(1), self.core.spike_in.payload.last.eq(1)]
                with m.If(self.core.spike_in.ready):
                    m.d.sync += cnt.eq(0)
                    m.next = "COLLECT"

            with m.State("COLLECT"):  # the step's output ids, ascending, into step_ids
                m.d.comb += self.core.spike_out.ready.eq(1)
                with m.If(self.core.spike_out.valid):
                    with m.If(self.core.spike_out.payload.last):
                        m.d.sync += id_off.eq(0)
                        m.next = "OPEN"
                    with m.Else():
                        m.d.comb += [st_wr.addr.eq(cnt), st_wr.en.eq(1),
                                     st_wr.data.eq(self.core.spike_out.payload.neuron)]
                        m.d.sync += cnt.eq(cnt + 1)

            with m.State("OPEN"):  # an OUTPUT frame to write into: its slot must be free
                m.d.comb += st_rd.addr.eq(id_off)
                with m.If(o_open):
                    m.d.sync += [rec_n.eq(cnt - id_off), split.eq(0)]
                    m.next = "SIZE"
                with m.Elif(window_free[o_slot]):
                    m.d.sync += [o_open.eq(1), o_cont.eq(0), o_first.eq(t),
                                 o_size.eq(p.BLOCK_HEADER_SIZE), o_steps.eq(0), o_gap.eq(0),
                                 rec_n.eq(cnt - id_off), split.eq(0)]
                    m.next = "SIZE"

            with m.State("SIZE"):  # the record's header and bytes, for DECIDE
                m.d.comb += st_rd.addr.eq(id_off)
                m.d.sync += [hval_q.eq(hval), cost_q.eq(cost)]
                m.next = "DECIDE"

            with m.State("DECIDE"):  # split_spike_blocks' choice for this step
                m.d.comb += st_rd.addr.eq(id_off)
                with m.If(rec_n == 0):
                    m.d.sync += [o_steps.eq(o_steps + 1), o_gap.eq(o_gap + 1)]
                    m.next = "STEP_END"
                with m.Elif(fits):
                    m.d.sync += [wptr.eq(o_size), wval.eq(hval_q), wi.eq(0), hi.eq(0)]
                    m.next = "W_HEAD"
                with m.Elif(o_steps != 0):  # the step opens the next frame
                    m.d.sync += close_then.eq(CLOSE_RECORD)
                    m.next = "CLOSE"
                with m.Else():  # one step over more than one frame
                    m.d.sync += [rec_n.eq(fit), split.eq(1)]
                    m.next = "SIZE"

            def write_varint_byte() -> None:  # wval's next 7 bits into the window
                m.d.comb += [self.window.addr.eq(Cat(wptr[:10], o_slot[:self.out_bits])),
                             self.window.data.eq(varint_byte(wval)), self.window.en.eq(1)]
                m.d.sync += [wptr.eq(wptr + 1), wval.eq(wval >> 7)]

            with m.State("W_HEAD"):
                write_varint_byte()
                with m.If(wval[7:] == 0):
                    with m.If(single):
                        m.next = "W_DONE"
                    with m.Elif(rec_n >= 4):
                        m.d.sync += wval.eq(cval)
                        m.next = "W_COUNT"
                    with m.Else():
                        m.next = "W_ADDR"

            with m.State("W_COUNT"):
                write_varint_byte()
                with m.If(wval[7:] == 0):
                    m.next = "W_ADDR"

            with m.State("W_ADDR"):  # step_ids reads id wi
                m.d.comb += st_rd.addr.eq(id_off + wi)
                with m.If(wi == rec_n):
                    m.next = "W_DONE"
                with m.Else():
                    m.next = "W_ID"

            with m.State("W_ID"):
                m.d.comb += [st_rd.addr.eq(id_off + wi),
                             self.window.addr.eq(Cat(wptr[:10], o_slot[:self.out_bits])),
                             self.window.data.eq(Mux(hi, id0[8:16], id0[:8])), self.window.en.eq(1)]
                m.d.sync += wptr.eq(wptr + 1)
                if ibytes_out == 2:
                    m.d.sync += hi.eq(~hi)
                    with m.If(hi):
                        m.d.sync += wi.eq(wi + 1)
                        m.next = "W_ADDR"
                else:
                    m.d.sync += wi.eq(wi + 1)
                    m.next = "W_ADDR"

            with m.State("W_DONE"):
                m.d.sync += [o_size.eq(wptr), o_gap.eq(0), o_steps.eq(o_steps + 1)]
                with m.If(split):  # the step goes on in the next frame
                    m.d.sync += [id_off.eq(id_off + rec_n), o_cont.eq(1),
                                 close_then.eq(CLOSE_RECORD)]
                    m.next = "CLOSE"
                with m.Else():
                    m.next = "STEP_END"

            with m.State("CLOSE"):  # the block header, then the frame to the transmitter
                n_field = Cat(o_steps, Const(0, 15 - len(o_steps)), o_cont)  # CONTINUED: bit 15
                header = Array(payload_bytes(p.BLOCK, {"first_step": o_first, "n_steps": n_field}))
                m.d.comb += [self.window.addr.eq(Cat(hw, Const(0, 7), o_slot[:self.out_bits])),
                             self.window.data.eq(header[hw]), self.window.en.eq(hw < p.BLOCK.size)]
                m.d.sync += hw.eq(hw + 1)
                with m.If(hw == p.BLOCK.size):
                    m.d.comb += [self.descs.valid.eq(1), *_assign(self.descs.payload, [
                        ("kind", KIND_SLOT), ("slot", o_slot), ("length", o_size),
                        ("type", int(p.FrameType.OUTPUT)), ("seq", next_output_seq)])]
                    m.d.sync += hw.eq(hw)
                    with m.If(self.descs.ready):
                        m.d.sync += [out_len[o_slot].eq(o_size), o_open.eq(0), hw.eq(0),
                                     next_output_seq.eq(next_output_seq + 1),
                                     kept.eq(Mux(kept == info.output_window, kept,
                                                   kept + 1))]
                        with m.Switch(close_then):
                            with m.Case(CLOSE_RECORD):
                                m.next = "OPEN"
                            with m.Case(CLOSE_STEP):
                                m.next = "FLUSHED"
                            with m.Default():
                                m.d.comb += [self.stopped.eq(1), q_reset.eq(1)]
                                m.d.sync += stopped
                                m.next = "IDLE"

            with m.State("STEP_END"):  # the virtual board's tick, after the step
                run_over = ~free_run & (steps_left == 1)
                block_end = streamed & ((k + 1 >= b_steps) | run_over)
                flush = block_end | (~streamed & ((group + 1 >= p.OUTPUT_BLOCK_STEPS) | run_over))
                m.d.sync += [t.eq(t + 1), k.eq(k + 1), group.eq(group + 1),
                             block_done.eq(block_end), finishing.eq(run_over)]
                with m.If(flush):
                    m.d.sync += [group.eq(0), close_then.eq(CLOSE_STEP)]
                    with m.If(o_open):
                        m.next = "CLOSE"
                    with m.Else():
                        m.next = "FLUSHED"
                with m.Else():
                    m.next = "IDLE"

            with m.State("FLUSHED"):
                with m.If(block_done):
                    m.next = "CREDIT"
                with m.Else():
                    m.next = "IDLE"

            with m.State("CREDIT"):  # the INPUT block is used up: its slot is free again
                m.d.comb += [self.descs.valid.eq(1), *_assign(self.descs.payload, credit)]
                with m.If(self.descs.ready):
                    m.d.sync += [have_block.eq(0), consumed_seq.eq(consumed_seq + 1)]
                    m.next = "IDLE"
        return m
