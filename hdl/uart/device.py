"""The core behind the framed protocol: UART pins -> PHY -> deframer -> protocol engine ->
framer -> PHY -> pins, with the engine driving the core's command and spike streams.

This is what a board runs and what the ``rtl-sim`` board simulates: everything
``toolchain/runtime/session.py`` does over a serial line (handshake, load and readback,
streamed and unstreamed runs, credits, RESEND) reaches the core through these pins.
"""

from amaranth.hdl import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.spikecore import SpikeCore
from hdl.uart.engine import (
    DEFAULT_INPUT_SLOTS,
    DEFAULT_OUTPUT_WINDOW,
    ProtocolEngine,
)
from hdl.uart.link import Deframer, Framer, UartRx, UartTx
from toolchain.runtime import protocol as p
from toolchain.targets.fpga.spec import CoreSpec


def device_info(spec: CoreSpec, clock_hz: int, divisor: int, *,
                input_slots: int = DEFAULT_INPUT_SLOTS,
                output_window: int = DEFAULT_OUTPUT_WINDOW) -> p.BuildInfo:
    """What the device reports in HELLO: its core build, the memories the gateware reads
    back, its link buffers, and its clock and baud (clock / divisor)."""
    return p.BuildInfo.from_spec(spec, readable=p.CORE_READABLE, clock_hz=clock_hz,
                                 baud=clock_hz // divisor, input_slots=input_slots,
                                 output_window=output_window)


def add_protocol_path(m: Module, spec: CoreSpec, info: p.BuildInfo, *,
                      spram: bool = False) -> tuple[Deframer, Framer]:
    """Deframer -> ProtocolEngine -> Framer with the engine driving a SpikeCore, added to
    ``m`` as submodules ``deframer``, ``decoder``, ``framer`` and ``core``.  Returns the
    deframer and framer, whose byte streams (``deframer.i``, ``framer.o``) are the ends.
    ``spram``: the engine's slot and window buffers in iCE40UP SPRAM (hdl/memory.py)."""
    m.submodules.deframer = deframer = Deframer()
    m.submodules.decoder = decoder = ProtocolEngine(spec, info, spram=spram)
    m.submodules.framer = framer = Framer()
    m.submodules.core = core = SpikeCore(spec)
    wiring.connect(m, deframer.o, decoder.frames)
    wiring.connect(m, decoder.replies, framer.i)
    wiring.connect(m, decoder.core, core)
    return deframer, framer


class LinkDevice(wiring.Component):
    """The device on its UART pins.  ``idle`` is high while it has nothing to do: no frame
    being received, processed or sent, and no run that can go on.  A simulation bridge
    may then sleep until the host sends something, instead of spinning the clock."""

    rx: In(1, init=1)
    tx: Out(1, init=1)
    idle: Out(1)

    def __init__(self, spec: CoreSpec, clock_hz: int, divisor: int, *,
                 input_slots: int = DEFAULT_INPUT_SLOTS,
                 output_window: int = DEFAULT_OUTPUT_WINDOW, spram: bool = False) -> None:
        self.spec, self.divisor, self.spram = spec, divisor, spram
        self.info = device_info(spec, clock_hz, divisor, input_slots=input_slots,
                                output_window=output_window)
        super().__init__()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.phy_rx = phy_rx = UartRx(self.divisor)
        m.submodules.phy_tx = phy_tx = UartTx(self.divisor)
        deframer, framer = add_protocol_path(m, self.spec, self.info, spram=self.spram)
        decoder = m.submodules.decoder
        wiring.connect(m, phy_rx.bytes, deframer.i)
        # after every reset a lone delimiter goes out first: a frame the reset cut short ends
        # there, so the BOOT that follows is a frame of its own (docs/protocol.md, 10)
        lead = Signal(init=1)
        with m.If(lead):
            m.d.comb += [phy_tx.bytes.payload.eq(p.DELIMITER), phy_tx.bytes.valid.eq(1)]
            with m.If(phy_tx.bytes.ready):
                m.d.sync += lead.eq(0)
        with m.Else():
            m.d.comb += [phy_tx.bytes.payload.eq(framer.o.payload),
                         phy_tx.bytes.valid.eq(framer.o.valid),
                         framer.o.ready.eq(phy_tx.bytes.ready)]
        m.d.comb += [phy_rx.rx.eq(self.rx), self.tx.eq(phy_tx.tx),
                     self.idle.eq(decoder.idle & ~deframer.o.valid & framer.idle
                                  & ~framer.o.valid & phy_tx.idle & ~lead)]
        return m
