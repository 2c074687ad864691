"""Device side of the protocol's configuration commands in gateware: frames from the
:class:`~hdl.uart.link.Deframer` become words on the core's command stream, and replies go
to the :class:`~hdl.uart.link.Framer` byte for byte as ``toolchain/runtime/virtual.py``
(the protocol engine of the virtual boards) answers them.

Implemented: HELLO (the BuildInfo is a ROM of ``BuildInfo.encode()``), STATUS (with the
frame counters), STOP and CONFIG while idle, RESET of everything (every memory written to
zero, as a fresh core has them; RESET of the state alone is UNSUPPORTED, as on the rtl-sim
board), WRITE of every memory and READ of the memories the core can read back (SYNAPSE,
STATE).  Same checks and error replies (BAD_VERSION, BAD_MESSAGE with the payload offset,
BAD_ADDRESS, NOT_READABLE) and the same reply cache that makes a retried command safe.  So a
host can open a session and load and verify a network.  Not yet in gateware: RUN, INPUT,
RESEND and the spike streams (credits, step blocks, output window); they are answered
``ERROR(UNSUPPORTED)`` so a host fails fast instead of timing out.  Frames of unknown or
board-to-host types are dropped, as the host-side ``FrameReader`` drops them.
"""

from amaranth.hdl import Array, Const, Module, Mux, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hdl.spikecore.core import cmd_layout, word_layout
from hdl.uart.link import DEFRAMED, FRAME_BYTE
from toolchain.runtime import protocol as p
from toolchain.runtime.virtual import WRITE_OP
from toolchain.targets.fpga.spec import CoreSpec, Op

# The memories the core's command stream can read back (spec.Op READ_*).
READ_OP = {p.Memory.SYNAPSE: Op.READ_SYNAPSE, p.Memory.STATE: Op.READ_STATE}
GATEWARE_READABLE = sum(1 << m for m in READ_OP)
# Commands this decoder answers itself; the other host commands get ERROR(UNSUPPORTED).
IMPLEMENTED = (p.FrameType.HELLO, p.FrameType.STATUS, p.FrameType.STOP, p.FrameType.CONFIG,
               p.FrameType.RESET, p.FrameType.WRITE, p.FrameType.READ)
# Frames the reply cache does not cover (they have their own sequence spaces).
UNCACHED = (p.FrameType.INPUT, p.FrameType.RESEND)
WRITE_HEADER = 5  # memory u8, address u32
READ_PAYLOAD = 7  # memory u8, address u32, count u16
CONFIG_PAYLOAD = 8  # n_neurons u16, n_inputs u16, seed u32


class CommandDecoder(wiring.Component):
    """Intact frames in, core commands out, reply frames out.  ``info`` is what HELLO
    reports; its core fields must be ``spec``'s and its ``readable`` mask the gateware's."""

    def __init__(self, spec: CoreSpec, info: p.BuildInfo) -> None:
        if info.build_id != p.spec_build_id(spec):
            raise ValueError(f"CommandDecoder: BuildInfo has build id {info.build_id:#010x}, but "
                             f"core spec '{spec.name}' has {p.spec_build_id(spec):#010x}; make "
                             "it with BuildInfo.from_spec(spec, ...)")
        if info.readable != GATEWARE_READABLE:
            raise ValueError(f"CommandDecoder: BuildInfo.readable = {info.readable:#x}, but the "
                             f"gateware reads back exactly {GATEWARE_READABLE:#x} (SYNAPSE, "
                             "STATE); pass readable=GATEWARE_READABLE")
        self.spec, self.info = spec, info
        super().__init__({
            "frames": In(stream.Signature(DEFRAMED)),
            "replies": Out(stream.Signature(FRAME_BYTE)),
            "cmd": Out(stream.Signature(cmd_layout(spec))),
            "resp": In(stream.Signature(spec.cmd_data_bits)),
            "idle": Out(1),
        })

    def elaborate(self, platform: object) -> Module:  # noqa: C901 - one FSM, read in order
        m = Module()
        spec, info = self.spec, self.info
        mems = list(p.Memory)
        depth = Array(Const(info.depth(mem), 32) for mem in mems)
        word_bytes = Array(Const(info.word_bytes(mem), 4) for mem in mems)
        write_op = Array(Const(int(WRITE_OP[mem]), 3) for mem in mems)
        read_op = Array(Const(int(READ_OP.get(mem, 0)), 3) for mem in mems)
        readable = Array(Const(int(mem in READ_OP), 1) for mem in mems)
        max_words = Array(Const(p.MemoryWrite.max_words(info, mem), 16) for mem in mems)
        hello = info.encode()

        m.submodules.frame = frame = Memory(shape=8, depth=p.MAX_FRAME, init=[])
        m.submodules.reply = reply = Memory(shape=8, depth=p.MAX_FRAME - p.CRC_SIZE, init=[])
        m.submodules.rom = rom = Memory(shape=8, depth=len(hello), init=list(hello))
        f_wr, f_rd = frame.write_port(), frame.read_port(domain="comb")
        r_wr, r_rd = reply.write_port(), reply.read_port(domain="comb")
        rom_rd = rom.read_port(domain="comb")

        length = Signal(range(p.MAX_FRAME + 1))  # frame bytes stored, CRC included
        ftype, seq, memory = Signal(8), Signal(8), Signal(8)
        address, count = Signal(32), Signal(16)
        plen = Signal(range(p.MAX_FRAME + 1))  # payload bytes of the frame being handled
        mem_ok = memory < len(mems)
        cfg_neurons, cfg_inputs = Signal(16), Signal(16)  # CONFIG's fields, same bytes
        m.d.comb += [cfg_neurons.eq(address[:8].shift_left(8) | memory),
                     cfg_inputs.eq(address[8:24])]

        # STATUS: the board is idle at step t until RUN is in gateware
        t = Signal(32)
        rx_frames, crc_errors, tx_frames, resends = (Signal(32) for _ in range(4))
        replay = Signal()  # the reply being sent is the cached one again
        # RESET: the memory and address being cleared
        clear_mem, clear_addr = Signal(3), Signal(32)
        known_type = 0
        for ft in p.FrameType:
            known_type |= ftype == ft

        # the reply under construction: fixed part from (rtype, rcode, rvalue), then words
        rtype, rcode, rvalue = Signal(8), Signal(8), Signal(32)
        rlen, i = Signal(range(p.MAX_FRAME)), Signal(range(p.MAX_FRAME))
        then_read = Signal()  # after the fixed part: read words into the reply
        cached = Signal()  # the reply buffer holds the answer to (cache_type, cache_seq)
        cache_type, cache_seq = Signal(8), Signal(8)
        status = [rtype, seq, Const(p.BoardState.IDLE, 8), *_bytes(t), *_bytes(Const(0, 32)),
                  Const(0, 8), Const(0, 8), *_bytes(Const(0, 32)), *_bytes(rx_frames),
                  *_bytes(crc_errors), *_bytes(Const(0, 32)), *_bytes(Const(0, 32)),
                  *_bytes(tx_frames), *_bytes(resends)]
        assert len(status) == p.HEADER_SIZE + len(
            p.Status(p.BoardState.IDLE, *[0] * 11).encode())
        status_bytes = Array(status)

        # words: n counted, k done, pos = payload byte being read, j = byte within the word
        n, k = Signal(16), Signal(16)
        acc = Signal(range(p.MAX_FRAME + 1))
        pos = Signal(range(p.MAX_FRAME + 1))
        j = Signal(4)
        word = Signal(64)
        checking = Signal()  # first pass over ROW words: check them, execute nothing
        wb = word_bytes[memory[:3]]

        row = word_layout(spec, "row")(word[:spec.width("row")])
        r_start, r_len = row.start, row.length

        def error(code: p.ErrorCode, detail: object) -> list:
            return [rtype.eq(p.FrameType.ERROR), rcode.eq(code), rvalue.eq(detail),
                    then_read.eq(0), i.eq(0)]

        def ack(value: object) -> list:
            return [rtype.eq(p.FrameType.ACK), rvalue.eq(value), then_read.eq(0), i.eq(0)]

        fixed = Array([rtype, seq,
                       Mux(rtype == p.FrameType.ERROR, rcode,
                           Mux(rtype == p.FrameType.DATA, memory, ftype)),
                       Mux(rtype == p.FrameType.ERROR, ftype, rvalue[0:8]),
                       Mux(rtype == p.FrameType.ERROR, rvalue[0:8], rvalue[8:16]),
                       Mux(rtype == p.FrameType.ERROR, rvalue[8:16], rvalue[16:24]),
                       Mux(rtype == p.FrameType.ERROR, rvalue[16:24], rvalue[24:32]),
                       rvalue[24:32]])
        fixed_len = Mux(rtype == p.FrameType.ERROR, 8, 7)  # ACK and the DATA header: 7

        with m.FSM():
            with m.State("COLLECT"):
                m.d.comb += [self.frames.ready.eq(1), self.idle.eq(length == 0)]
                word_in = self.frames.payload
                with m.If(self.frames.valid):
                    with m.If(word_in.end):
                        m.d.sync += [length.eq(0),
                                     plen.eq(length - p.HEADER_SIZE - p.CRC_SIZE)]
                        with m.If(word_in.ok):  # so at least type, seq and CRC
                            m.next = "DISPATCH"
                        with m.Else():
                            m.d.sync += crc_errors.eq(crc_errors + 1)
                    with m.Elif(length < p.MAX_FRAME):
                        m.d.comb += [f_wr.addr.eq(length), f_wr.data.eq(word_in.data),
                                     f_wr.en.eq(1)]
                        m.d.sync += length.eq(length + 1)
                        with m.Switch(length):  # header fields, kept as they pass
                            for at, (sig, lo) in enumerate(
                                    [(ftype, 0), (seq, 0), (memory, 0), (address, 0),
                                     (address, 8), (address, 16), (address, 24), (count, 0),
                                     (count, 8)]):
                                with m.Case(at):
                                    m.d.sync += sig[lo:lo + 8].eq(word_in.data)

            with m.State("DISPATCH"):
                m.d.sync += [n.eq(0), k.eq(0), acc.eq(0), checking.eq(0), replay.eq(0)]
                repeat = cached & (ftype == cache_type) & (seq == cache_seq)
                for ft in UNCACHED:
                    repeat &= ftype != ft
                with m.If(~known_type):  # the host-side FrameReader drops these too
                    m.d.sync += crc_errors.eq(crc_errors + 1)
                    m.next = "COLLECT"
                with m.Elif(ftype >= 0x80):  # a board's frame echoed back: not for us
                    m.d.sync += rx_frames.eq(rx_frames + 1)
                    m.next = "COLLECT"
                with m.Elif(repeat):
                    m.d.sync += [i.eq(0), replay.eq(1), rx_frames.eq(rx_frames + 1)]
                    m.next = "SEND"  # the host missed our reply: say it again, do nothing
                with m.Elif(ftype == p.FrameType.STATUS):
                    m.d.sync += [cached.eq(0), rtype.eq(p.FrameType.STATUS_REPLY), i.eq(0),
                                 rx_frames.eq(rx_frames + 1)]
                    m.next = "STATUS"
                with m.Elif(ftype == p.FrameType.STOP):
                    m.d.sync += [cached.eq(0), rx_frames.eq(rx_frames + 1), *ack(t)]
                    m.next = "FIXED"
                with m.Elif(ftype == p.FrameType.CONFIG):
                    m.d.sync += [cached.eq(0), rx_frames.eq(rx_frames + 1)]
                    with m.If(plen < 2):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 0)
                    with m.Elif(plen < 4):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 2)
                    with m.Elif(plen < CONFIG_PAYLOAD):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 4)
                    with m.Elif(plen > CONFIG_PAYLOAD):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, CONFIG_PAYLOAD)
                    with m.Elif((cfg_neurons > spec.n_neurons) | (cfg_inputs > spec.n_inputs)):
                        m.d.sync += error(p.ErrorCode.BAD_ADDRESS,
                                          Mux(cfg_neurons > cfg_inputs, cfg_neurons,
                                              cfg_inputs))
                    with m.Else():
                        m.d.sync += ack(0)
                    m.next = "FIXED"
                with m.Elif(ftype == p.FrameType.RESET):
                    m.d.sync += [cached.eq(0), rx_frames.eq(rx_frames + 1)]
                    with m.If((plen != 1) | (memory > max(p.ResetScope))):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 0)
                        m.next = "FIXED"
                    with m.Elif(memory == p.ResetScope.STATE):
                        m.d.sync += error(p.ErrorCode.UNSUPPORTED, memory)
                        m.next = "FIXED"
                    with m.Else():
                        m.d.sync += [clear_mem.eq(0), clear_addr.eq(0)]
                        m.next = "CLEAR"
                with m.Elif(ftype == p.FrameType.HELLO):
                    m.d.sync += [cached.eq(0), rx_frames.eq(rx_frames + 1)]
                    with m.If((plen == 1) & (memory == p.PROTOCOL_VERSION)):
                        m.d.sync += [rtype.eq(p.FrameType.HELLO_REPLY), i.eq(0)]
                        m.next = "HELLO"
                    with m.Else():
                        m.d.sync += error(p.ErrorCode.BAD_VERSION, p.PROTOCOL_VERSION)
                        m.next = "FIXED"
                with m.Elif(ftype == p.FrameType.WRITE):
                    m.d.sync += [cached.eq(0), rx_frames.eq(rx_frames + 1)]
                    with m.If((plen == 0) | ((plen >= 1) & ~mem_ok)):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 0)
                        m.next = "FIXED"
                    with m.Elif(plen < WRITE_HEADER):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 1)
                        m.next = "FIXED"
                    with m.Else():
                        m.next = "COUNT"
                with m.Elif(ftype == p.FrameType.READ):
                    m.d.sync += [cached.eq(0), rx_frames.eq(rx_frames + 1)]
                    end = Signal(33)
                    m.d.comb += end.eq(address + count)
                    with m.If((plen == 0) | ~mem_ok):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 0)
                    with m.Elif(plen < 5):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 1)
                    with m.Elif(plen < READ_PAYLOAD):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 5)
                    with m.Elif(plen > READ_PAYLOAD):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, READ_PAYLOAD)
                    with m.Elif(~readable[memory[:3]]):
                        m.d.sync += error(p.ErrorCode.NOT_READABLE, memory)
                    with m.Elif(end > depth[memory[:3]]):
                        m.d.sync += error(p.ErrorCode.BAD_ADDRESS,
                                          Mux(address > depth[memory[:3]], address,
                                              depth[memory[:3]]))
                    with m.Elif(count > max_words[memory[:3]]):
                        m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 0)
                    with m.Else():
                        m.d.sync += [rtype.eq(p.FrameType.DATA), rvalue.eq(address),
                                     then_read.eq(1), i.eq(0)]
                    m.next = "FIXED"
                with m.Else():  # a host command not in gateware yet
                    # (the error overwrites the reply buffer, so the cache goes too)
                    m.d.sync += [rx_frames.eq(rx_frames + 1), cached.eq(0),
                                 *error(p.ErrorCode.UNSUPPORTED, 0)]
                    m.next = "FIXED"

            with m.State("HELLO"):  # type, seq, then the BuildInfo ROM
                m.d.comb += [rom_rd.addr.eq(i - 2), r_wr.addr.eq(i), r_wr.en.eq(1),
                             r_wr.data.eq(Mux(i == 0, rtype, Mux(i == 1, seq, rom_rd.data)))]
                m.d.sync += i.eq(i + 1)
                with m.If(i == len(hello) + 1):
                    m.d.sync += [rlen.eq(len(hello) + 2), i.eq(0)]
                    m.next = "SEND"

            with m.State("STATUS"):
                m.d.comb += [r_wr.addr.eq(i), r_wr.data.eq(status_bytes[i]), r_wr.en.eq(1)]
                m.d.sync += i.eq(i + 1)
                with m.If(i == len(status) - 1):
                    m.d.sync += [rlen.eq(len(status)), i.eq(0)]
                    m.next = "SEND"

            with m.State("CLEAR"):  # RESET ALL: every word of every memory to zero
                m.d.comb += [self.cmd.valid.eq(1), self.cmd.payload.op.eq(write_op[clear_mem]),
                             self.cmd.payload.addr.eq(clear_addr),
                             self.cmd.payload.data.eq(0)]
                with m.If(self.cmd.ready):
                    with m.If(clear_addr + 1 < depth[clear_mem]):
                        m.d.sync += clear_addr.eq(clear_addr + 1)
                    with m.Elif(clear_mem + 1 < len(mems)):
                        m.d.sync += [clear_mem.eq(clear_mem + 1), clear_addr.eq(0)]
                    with m.Else():
                        m.d.sync += [*ack(0), t.eq(0)]
                        m.next = "FIXED"

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
                        m.next = "SEND"

            with m.State("COUNT"):  # words in the WRITE, without a divider
                with m.If(acc + wb <= plen - WRITE_HEADER):
                    m.d.sync += [acc.eq(acc + wb), n.eq(n + 1)]
                with m.Elif(acc != plen - WRITE_HEADER):
                    m.d.sync += error(p.ErrorCode.BAD_MESSAGE, 0)
                    m.next = "FIXED"
                with m.Elif(address + n > depth[memory[:3]]):
                    m.d.sync += error(p.ErrorCode.BAD_ADDRESS,
                                      Mux(address > depth[memory[:3]], address,
                                          depth[memory[:3]]))
                    m.next = "FIXED"
                with m.Else():
                    m.d.sync += [checking.eq(memory == p.Memory.ROW), k.eq(0), j.eq(0),
                                 word.eq(0), pos.eq(p.HEADER_SIZE + WRITE_HEADER)]
                    m.next = "WORD"

            with m.State("WORD"):  # assemble word k, little-endian
                with m.If(k == n):
                    with m.If(checking):  # every ROW word fits: now write them
                        m.d.sync += [checking.eq(0), k.eq(0), j.eq(0), word.eq(0),
                                     pos.eq(p.HEADER_SIZE + WRITE_HEADER)]
                    with m.Else():
                        m.d.sync += ack(n)
                        m.next = "FIXED"
                with m.Elif(j == wb):
                    m.next = "USE"
                with m.Else():
                    m.d.comb += f_rd.addr.eq(pos)
                    m.d.sync += [word.word_select(j[:3], 8).eq(f_rd.data), j.eq(j + 1),
                                 pos.eq(pos + 1)]

            with m.State("USE"):
                with m.If(checking):
                    with m.If(r_start + r_len > spec.n_synapses):
                        m.d.sync += error(p.ErrorCode.BAD_ADDRESS, r_start + r_len)
                        m.next = "FIXED"
                    with m.Else():
                        m.d.sync += [k.eq(k + 1), j.eq(0), word.eq(0)]
                        m.next = "WORD"
                with m.Else():
                    m.d.comb += [self.cmd.valid.eq(1),
                                 self.cmd.payload.op.eq(write_op[memory[:3]]),
                                 self.cmd.payload.addr.eq(address + k),
                                 self.cmd.payload.data.eq(word)]
                    with m.If(self.cmd.ready):
                        m.d.sync += [k.eq(k + 1), j.eq(0), word.eq(0)]
                        m.next = "WORD"

            with m.State("READ_CMD"):
                with m.If(k == count):
                    m.d.sync += i.eq(0)
                    m.next = "SEND"
                with m.Else():
                    m.d.comb += [self.cmd.valid.eq(1),
                                 self.cmd.payload.op.eq(read_op[memory[:3]]),
                                 self.cmd.payload.addr.eq(address + k)]
                    with m.If(self.cmd.ready):
                        m.next = "READ_RESP"

            with m.State("READ_RESP"):
                m.d.comb += self.resp.ready.eq(1)
                with m.If(self.resp.valid):
                    m.d.sync += [word.eq(self.resp.payload), j.eq(0)]
                    m.next = "READ_BYTES"

            with m.State("READ_BYTES"):  # the word into the reply, little-endian
                with m.If(j == wb):
                    m.d.sync += k.eq(k + 1)
                    m.next = "READ_CMD"
                with m.Else():
                    m.d.comb += [r_wr.addr.eq(rlen), r_wr.data.eq(word.word_select(j[:3], 8)),
                                 r_wr.en.eq(1)]
                    m.d.sync += [rlen.eq(rlen + 1), j.eq(j + 1)]

            with m.State("SEND"):  # the reply buffer to the framer, which appends the CRC
                m.d.comb += [r_rd.addr.eq(i), self.replies.payload.data.eq(r_rd.data),
                             self.replies.payload.last.eq(i == rlen - 1),
                             self.replies.valid.eq(1)]
                with m.If(self.replies.ready):
                    m.d.sync += i.eq(i + 1)
                    with m.If(i == rlen - 1):
                        with m.If(replay):
                            m.d.sync += resends.eq(resends + 1)
                        with m.Else():
                            m.d.sync += tx_frames.eq(tx_frames + 1)
                        is_cached = 1
                        for ft in UNCACHED:
                            is_cached &= ftype != ft
                        with m.If(is_cached):
                            m.d.sync += [cached.eq(1), cache_type.eq(ftype), cache_seq.eq(seq)]
                        m.next = "COLLECT"
        return m


def _bytes(value: object) -> list:
    """The four bytes of a 32-bit value, least significant first (the protocol's order)."""
    return [value[8 * b:8 * b + 8] for b in range(4)]  # type: ignore[index]
