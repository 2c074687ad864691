"""Device side of the UART link layer of ``toolchain/runtime/protocol.py`` in Amaranth:
the UART PHY, the deframer (COBS decode + CRC-16 check) and the framer (CRC-16 append +
COBS encode).  The constants (delimiter, CRC polynomial and initial value, frame limits)
are imported from the protocol module, so the two cannot drift apart; the tests run both
on the same frames.

Streams are ``amaranth.lib.stream`` (valid/ready).  The deframer's output words are either
a data byte (``end = 0``) or the end of a frame (``end = 1``, ``ok`` = COBS well formed
and canonical, length within ``MAX_FRAME`` and at least type + seq + CRC, CRC residue
zero).  A consumer writes data bytes into a frame buffer and keeps it only if the end word
says ``ok``.
"""


from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from toolchain.runtime.protocol import (
    CRC16_INIT,
    CRC_SIZE,
    DELIMITER,
    HEADER_SIZE,
    MAX_ENCODED,
    MAX_FRAME,
    crc16,
)


def crc16_next(crc: Value, byte: Value) -> Value:
    """CRC-16 (``CRC16_POLY``, MSB first) after one more byte, as one flat XOR per output bit.

    The CRC step is linear over GF(2), so each next bit is the XOR of fixed subsets of the
    16 CRC bits and 8 data bits; the subsets come from running ``protocol.crc16`` on unit
    vectors.  One level of XORs closes timing in one cycle at the core's clock."""
    bits = []
    for i in range(16):
        terms = [crc[j] for j in range(16) if crc16(b"\0", 1 << j) >> i & 1]
        terms += [byte[k] for k in range(8) if crc16(bytes([1 << k]), 0) >> i & 1]
        acc = terms[0]
        for t in terms[1:]:
            acc = acc ^ t
        bits.append(acc)
    return Cat(*bits)


DEFRAMED = data.StructLayout({"data": 8, "end": 1, "ok": 1})


class UartRx(wiring.Component):
    """8N1 receiver: samples each bit in its middle; a missing stop bit drops the byte and
    counts a framing error.  ``divisor`` = clock cycles per bit (clock / baud)."""

    rx: In(1, init=1)
    bytes: Out(stream.Signature(8))
    framing_errors: Out(16)

    def __init__(self, divisor: int) -> None:
        if divisor < 4:
            raise ValueError(f"UartRx divisor = {divisor}: need at least 4 clocks per bit to "
                             "find the middle of a bit; lower the baud rate or raise the clock")
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        sync1, rx = Signal(init=1), Signal(init=1)
        m.d.sync += [sync1.eq(self.rx), rx.eq(sync1)]  # two flops against metastability
        timer = Signal(range(self.divisor * 3 // 2 + 1))
        bit = Signal(range(9))
        shift = Signal(8)
        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += self.bytes.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    # from the start edge to the middle of data bit 0: 1.5 bit times
                    m.d.sync += [timer.eq(self.divisor * 3 // 2 - 1), bit.eq(0)]
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(timer == 0):
                    m.d.sync += [shift.eq(Cat(shift[1:], rx)),
                                 timer.eq(self.divisor - 1), bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("STOP"):
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [self.bytes.payload.eq(shift), self.bytes.valid.eq(1)]
                    with m.Else():
                        m.d.sync += self.framing_errors.eq(self.framing_errors + 1)
                    m.next = "WAIT_IDLE"
                with m.Else():
                    m.d.sync += timer.eq(timer - 1)
            with m.State("WAIT_IDLE"):
                with m.If(rx):
                    m.next = "IDLE"
        return m


class UartTx(wiring.Component):
    """8N1 transmitter."""

    bytes: In(stream.Signature(8))
    tx: Out(1, init=1)
    idle: Out(1)  # nothing being shifted out

    def __init__(self, divisor: int) -> None:
        if divisor < 1:
            raise ValueError(f"UartTx divisor = {divisor}: must be at least 1 clock per bit")
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        timer = Signal(range(self.divisor))
        shift = Signal(10)  # stop bit, data (LSB first), start bit
        left = Signal(range(11))
        m.d.comb += [self.bytes.ready.eq((left == 0) & (timer == 0)),
                     self.idle.eq((left == 0) & (timer == 0))]
        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += [shift.eq(Cat(Const(0, 1), self.bytes.payload, Const(1, 1))),
                         left.eq(10), timer.eq(0)]
        with m.Elif(left != 0):
            with m.If(timer == 0):
                m.d.sync += [self.tx.eq(shift[0]), shift.eq(shift >> 1), left.eq(left - 1),
                             timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        with m.Elif(timer != 0):
            m.d.sync += timer.eq(timer - 1)  # the stop bit lasts a whole bit time too
        with m.Else():
            m.d.sync += self.tx.eq(1)
        return m


class Deframer(wiring.Component):
    """Bytes off the line -> frame bytes + an end word saying whether the frame is good."""

    i: In(stream.Signature(8))
    o: Out(stream.Signature(DEFRAMED))
    frames_ok: Out(16)
    frames_bad: Out(16)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        left = Signal(8)  # data bytes left in the current COBS block
        zero_after = Signal()  # the block's code was not 0xFF: a zero follows unless it ends
        in_frame = Signal()  # at least one byte since the last delimiter
        bad = Signal()
        length = Signal(range(MAX_ENCODED + 2))
        crc = Signal(16, init=CRC16_INIT)
        out = self.o
        # one output word per input byte at most; a data byte after a block boundary
        # emits the pending zero (the byte itself is the next code and is not data)
        m.d.comb += self.i.ready.eq(~out.valid | out.ready)
        with m.If(out.valid & out.ready):
            m.d.sync += out.valid.eq(0)
        with m.If(self.i.valid & self.i.ready):
            byte = self.i.payload
            with m.If(byte == DELIMITER):
                with m.If(in_frame):
                    # canonical COBS: the last block is not a full one (code 0xFF)
                    ok = (~bad & (left == 0) & zero_after & (length >= HEADER_SIZE + CRC_SIZE)
                          & (length <= MAX_FRAME) & (crc == 0))
                    m.d.sync += [out.payload.end.eq(1), out.payload.ok.eq(ok),
                                 out.payload.data.eq(0), out.valid.eq(1)]
                    with m.If(ok):
                        m.d.sync += self.frames_ok.eq(self.frames_ok + 1)
                    with m.Else():
                        m.d.sync += self.frames_bad.eq(self.frames_bad + 1)
                m.d.sync += [in_frame.eq(0), bad.eq(0), left.eq(0), zero_after.eq(0),
                             length.eq(0), crc.eq(CRC16_INIT)]
            with m.Else():
                m.d.sync += in_frame.eq(1)
                with m.If(length > MAX_FRAME):
                    m.d.sync += bad.eq(1)  # overlong: swallow bytes up to the delimiter
                with m.Elif(left == 0):  # a code byte
                    m.d.sync += [left.eq(byte - 1), zero_after.eq(byte != 0xFF)]
                    with m.If(zero_after):
                        m.d.sync += [out.payload.data.eq(0), out.payload.end.eq(0),
                                     out.valid.eq(~bad), length.eq(length + 1),
                                     crc.eq(crc16_next(crc, Const(0, 8)))]
                with m.Else():
                    m.d.sync += [out.payload.data.eq(byte), out.payload.end.eq(0),
                                 out.valid.eq(~bad), left.eq(left - 1),
                                 length.eq(length + 1), crc.eq(crc16_next(crc, byte))]
        return m


FRAME_BYTE = data.StructLayout({"data": 8, "last": 1})


class Framer(wiring.Component):
    """Frame body (type, seq, payload; ``last`` on the final byte) -> CRC appended, COBS
    encoded, delimiter after: the bytes ``protocol.encode_frame`` produces.

    The COBS block is held in a memory read synchronously, because iCE40 and ECP5 block RAM
    cannot read in the same cycle: an asynchronous port would be built from ~2000
    flip-flops.  The read address runs one byte ahead of the output (the first byte is
    fetched while the code byte is offered), so the stream has no extra bubbles."""

    i: In(stream.Signature(FRAME_BYTE))
    o: Out(stream.Signature(8))
    idle: Out(1)  # no frame partly encoded

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.block = block = Memory(shape=8, depth=254, init=[])
        wr, rd = block.write_port(), block.read_port()  # rd.data: block[addr] a cycle ago
        count = Signal(range(255))  # bytes held in the current block
        sent = Signal(range(255))
        crc = Signal(16, init=CRC16_INIT)
        crc_left = Signal(2)  # CRC bytes still to feed after the body
        ending = Signal()  # the block being flushed is the frame's last
        empty_block = Signal()  # an empty block (code 0x01) must close the frame
        byte = Signal(8)
        take = Signal()
        advance = Signal()  # a data byte leaves this cycle
        # fetch the byte ``sent`` will point at next cycle, so rd.data is always block[sent]
        # in DATA (``sent`` is 0 in CODE) and holds still while the output is stalled
        m.d.comb += rd.addr.eq(Mux(advance, sent + 1, sent))
        # the encoder's input: body bytes, then the two CRC bytes (big-endian)
        with m.FSM():
            with m.State("FILL"):
                m.d.comb += self.idle.eq((count == 0) & (crc_left == 0))
                with m.If(crc_left != 0):
                    m.d.comb += [byte.eq(Mux(crc_left == 2, crc[8:], crc[:8])), take.eq(1)]
                with m.Else():
                    m.d.comb += [byte.eq(self.i.payload.data), self.i.ready.eq(1),
                                 take.eq(self.i.valid)]
                with m.If(take):
                    with m.If(crc_left != 0):
                        m.d.sync += crc_left.eq(crc_left - 1)
                    with m.Else():
                        m.d.sync += crc.eq(crc16_next(crc, byte))
                        with m.If(self.i.payload.last):
                            m.d.sync += crc_left.eq(2)
                    last_byte = crc_left == 1
                    with m.If(byte == 0):
                        # block closed by a zero; at the frame's end an empty block follows
                        m.d.sync += [ending.eq(last_byte), empty_block.eq(last_byte),
                                     sent.eq(0)]
                        m.next = "CODE"
                    with m.Else():
                        m.d.comb += [wr.addr.eq(count), wr.data.eq(byte), wr.en.eq(1)]
                        m.d.sync += count.eq(count + 1)
                        with m.If((count == 253) | last_byte):
                            # a full block (code 0xFF) always opens another, even at the end
                            m.d.sync += [ending.eq(last_byte),
                                         empty_block.eq(last_byte & (count == 253)),
                                         sent.eq(0)]
                            m.next = "CODE"
            with m.State("CODE"):  # code = data bytes in the block + 1
                m.d.comb += [self.o.payload.eq(count + 1), self.o.valid.eq(1)]
                with m.If(self.o.ready):
                    m.next = "DATA"
            with m.State("DATA"):
                with m.If(sent == count):
                    m.d.sync += count.eq(0)
                    with m.If(ending):
                        m.next = "TAIL"
                    with m.Else():
                        m.next = "FILL"
                with m.Else():
                    m.d.comb += [self.o.payload.eq(rd.data), self.o.valid.eq(1),
                                 advance.eq(self.o.ready)]
                    with m.If(self.o.ready):
                        m.d.sync += sent.eq(sent + 1)
            with m.State("TAIL"):
                # the empty closing block (code 0x01) if one is due, then the delimiter
                m.d.comb += [self.o.payload.eq(Mux(empty_block, 0x01, DELIMITER)),
                             self.o.valid.eq(1)]
                with m.If(self.o.ready):
                    with m.If(empty_block):
                        m.d.sync += empty_block.eq(0)
                    with m.Else():
                        m.d.sync += [crc.eq(CRC16_INIT), ending.eq(0)]
                        m.next = "FILL"
        return m
