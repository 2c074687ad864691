"""A link-layer echo device: UART pins -> PHY -> deframer -> frame buffer -> framer -> PHY
-> pins.  Every frame that arrives intact goes back re-encoded; damaged frames are dropped
and counted.

It is the device side of the protocol minus the command decoder (which would sit where the
frame buffer is replayed), so a UART driver on the pins (cocotbext-uart in the tests)
exercises the generated Verilog of the whole link layer against ``protocol.py``.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hdl.uart.link import Deframer, Framer, UartRx, UartTx
from toolchain.runtime.protocol import CRC_SIZE, MAX_FRAME


class LinkEcho(wiring.Component):
    rx: In(1, init=1)
    tx: Out(1, init=1)
    frames_ok: Out(16)
    frames_bad: Out(16)

    def __init__(self, divisor: int) -> None:
        self.divisor = divisor
        super().__init__()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.phy_rx = phy_rx = UartRx(self.divisor)
        m.submodules.phy_tx = phy_tx = UartTx(self.divisor)
        m.submodules.deframer = deframer = Deframer()
        m.submodules.framer = framer = Framer()
        m.submodules.buffer = buffer = Memory(shape=8, depth=MAX_FRAME, init=[])
        wr, rd = buffer.write_port(), buffer.read_port(domain="comb")
        wiring.connect(m, phy_rx.bytes, deframer.i)
        wiring.connect(m, framer.o, phy_tx.bytes)
        m.d.comb += [phy_rx.rx.eq(self.rx), self.tx.eq(phy_tx.tx),
                     self.frames_ok.eq(deframer.frames_ok),
                     self.frames_bad.eq(deframer.frames_bad)]
        length = Signal(range(MAX_FRAME + 1))
        pos = Signal(range(MAX_FRAME + 1))
        word = deframer.o.payload
        with m.FSM():
            with m.State("COLLECT"):
                m.d.comb += deframer.o.ready.eq(1)
                with m.If(deframer.o.valid):
                    with m.If(word.end):
                        with m.If(word.ok):
                            m.d.sync += pos.eq(0)
                            m.next = "REPLAY"
                        with m.Else():
                            m.d.sync += length.eq(0)
                    with m.Elif(length < MAX_FRAME):
                        m.d.comb += [wr.addr.eq(length), wr.data.eq(word.data), wr.en.eq(1)]
                        m.d.sync += length.eq(length + 1)
            with m.State("REPLAY"):  # the body again (the framer appends a fresh CRC)
                body = length - CRC_SIZE
                m.d.comb += [rd.addr.eq(pos), framer.i.payload.data.eq(rd.data),
                             framer.i.payload.last.eq(pos == body - 1),
                             framer.i.valid.eq(1)]
                with m.If(framer.i.ready):
                    m.d.sync += pos.eq(pos + 1)
                    with m.If(pos == body - 1):
                        m.d.sync += length.eq(0)
                        m.next = "COLLECT"
        return m
