"""The core behind the framed protocol: UART pins -> PHY -> deframer -> command decoder ->
framer -> PHY -> pins, with the decoder driving the core's command stream.

What ``hdl/uart/engine.py`` implements is reachable through the pins, so a UART driver
(cocotbext-uart in ``hdl/uart/tb/device_tb.py``) checks the generated Verilog of the whole
device side against ``protocol.py``.  The spike streams are not connected yet (see
commands.py): this device configures and reads back the core, it does not run it.
"""

from amaranth.hdl import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from hdl.spikecore import SpikeCore
from hdl.uart.engine import GATEWARE_READABLE, CommandDecoder
from hdl.uart.link import Deframer, Framer, UartRx, UartTx
from toolchain.runtime import protocol as p
from toolchain.targets.fpga.spec import CoreSpec


def device_info(spec: CoreSpec, clock_hz: int, divisor: int) -> p.BuildInfo:
    """What the device reports in HELLO: its core build, the memories the gateware reads
    back, and its clock and baud (clock / divisor)."""
    return p.BuildInfo.from_spec(spec, readable=GATEWARE_READABLE, clock_hz=clock_hz,
                                 baud=clock_hz // divisor)


def add_protocol_path(m: Module, spec: CoreSpec, info: p.BuildInfo) -> tuple[Deframer, Framer]:
    """Deframer -> CommandDecoder -> Framer with the decoder driving a SpikeCore, added to
    ``m`` as submodules ``deframer``, ``decoder``, ``framer`` and ``core``.  Returns the
    deframer and framer, whose byte streams (``deframer.i``, ``framer.o``) are the ends."""
    m.submodules.deframer = deframer = Deframer()
    m.submodules.decoder = decoder = CommandDecoder(spec, info)
    m.submodules.framer = framer = Framer()
    m.submodules.core = core = SpikeCore(spec)
    wiring.connect(m, deframer.o, decoder.frames)
    wiring.connect(m, decoder.replies, framer.i)
    wiring.connect(m, decoder.cmd, core.cmd)
    wiring.connect(m, core.resp, decoder.resp)
    return deframer, framer


class LinkDevice(wiring.Component):
    """The device on its UART pins.  ``idle`` is high while it has nothing to do: no frame
    being received, processed or sent, and no run that can go on.  A simulation bridge
    may then sleep until the host sends something, instead of spinning the clock."""

    rx: In(1, init=1)
    tx: Out(1, init=1)
    idle: Out(1)

    def __init__(self, spec: CoreSpec, clock_hz: int, divisor: int) -> None:
        self.spec, self.divisor = spec, divisor
        self.info = device_info(spec, clock_hz, divisor)
        super().__init__()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.phy_rx = phy_rx = UartRx(self.divisor)
        m.submodules.phy_tx = phy_tx = UartTx(self.divisor)
        deframer, framer = add_protocol_path(m, self.spec, self.info)
        decoder = m.submodules.decoder
        wiring.connect(m, phy_rx.bytes, deframer.i)
        wiring.connect(m, framer.o, phy_tx.bytes)
        m.d.comb += [phy_rx.rx.eq(self.rx), self.tx.eq(phy_tx.tx),
                     self.idle.eq(decoder.idle & ~deframer.o.valid & framer.idle
                                  & ~framer.o.valid & phy_tx.idle)]
        return m
