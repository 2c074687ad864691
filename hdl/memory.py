"""Memory primitives of the gateware that synthesis does not pick by itself.

The iCE40UP5K has 30 EBR of 4 kbit and four SPRAMs of 256 kbit (``SB_SPRAM256KA``: 16K
words of 16 bits, one port, a read's data one clock after its address; Lattice iCE40
UltraPlus family data sheet FPGA-DS-02008 and the SPRAM usage guide FPGA-TN-02022).  yosys
does not infer an SPRAM from an Amaranth ``Memory`` (every Amaranth memory has initial
contents, and ``memory_libmap`` refuses SPRAM for an initialised memory), so
:class:`ByteBuffer` instantiates it.

A :class:`ByteBuffer` has one port, whatever it is built from, so that simulation (where
no SPRAM model exists, and the buffer is a ``Memory`` used through one port at a time)
runs the same schedule as the board: **a write takes the port; a read happens in every
cycle without a write**, and ``r_ok`` says whether it did, so the reader knows whether
``r_data`` in the next cycle is the byte it asked for.  The writer never waits.
"""

from __future__ import annotations

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

SPRAM_WORDS = 16 * 1024  # 16-bit words of one SB_SPRAM256KA
SPRAM_BYTES = 2 * SPRAM_WORDS


class ByteBuffer(wiring.Component):
    """``depth`` bytes behind one port: a write port that always wins and a read port that
    reads in every cycle without a write (``r_ok``); ``r_data`` is the byte read in the
    cycle before.  ``spram=True`` builds it from one SB_SPRAM256KA (iCE40UP only), else
    from an Amaranth ``Memory`` (block RAM, or anything a simulator runs)."""

    def __init__(self, depth: int, *, spram: bool = False) -> None:
        if spram and depth > SPRAM_BYTES:
            self._MustUse__silence = True  # refused: never to be elaborated
            raise ValueError(f"ByteBuffer of {depth} bytes does not fit one SB_SPRAM256KA "
                             f"({SPRAM_BYTES} bytes); use fewer slots or two buffers")
        self.depth, self.spram = depth, spram
        abits = max(1, (depth - 1).bit_length())
        super().__init__({
            "w_addr": In(abits), "w_data": In(8), "w_en": In(1),
            "r_addr": In(abits), "r_data": Out(8), "r_ok": Out(1),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.d.comb += self.r_ok.eq(~self.w_en)
        if not self.spram:
            m.submodules.mem = mem = Memory(shape=8, depth=self.depth, init=[])
            wr, rd = mem.write_port(), mem.read_port()
            m.d.comb += [wr.addr.eq(self.w_addr), wr.data.eq(self.w_data), wr.en.eq(self.w_en),
                         rd.addr.eq(self.r_addr), rd.en.eq(~self.w_en),
                         self.r_data.eq(rd.data)]
            return m
        # one 16-bit SPRAM word holds two bytes: address bit 0 picks the half; a write
        # puts the byte in both halves and enables only its two nibbles
        addr = Mux(self.w_en, self.w_addr, self.r_addr)
        word = Signal(14)
        m.d.comb += word.eq(addr[1:])
        high = Signal()  # the half of the word the last read asked for
        with m.If(~self.w_en):
            m.d.sync += high.eq(self.r_addr[0])
        dout = Signal(16)
        mask = Mux(self.w_addr[0], Const(0b1100, 4), Const(0b0011, 4))
        m.submodules.spram = Instance(
            "SB_SPRAM256KA",
            i_ADDRESS=word, i_DATAIN=Cat(self.w_data, self.w_data), i_MASKWREN=mask,
            i_WREN=self.w_en, i_CHIPSELECT=Const(1, 1), i_CLOCK=ClockSignal("sync"),
            i_STANDBY=Const(0, 1), i_SLEEP=Const(0, 1), i_POWEROFF=Const(1, 1),
            o_DATAOUT=dout)
        m.d.comb += self.r_data.eq(Mux(high, dout[8:], dout[:8]))
        return m

