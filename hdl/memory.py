"""Memory primitives of the gateware that synthesis does not pick by itself.

The iCE40UP5K has 30 EBR of 4 kbit and four SPRAMs of 256 kbit (``SB_SPRAM256KA``: 16K
words of 16 bits, one port, a read's data one clock after its address; Lattice iCE40
UltraPlus family data sheet FPGA-DS-02008 and the SPRAM usage guide FPGA-TN-02022).  yosys
does not infer an SPRAM from an Amaranth ``Memory`` (every Amaranth memory has initial
contents, and ``memory_libmap`` refuses SPRAM for an initialised memory), so
:class:`ByteBuffer` and :class:`WordMemory` instantiate it.

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
SPRAM_WIDTH = 16
SPRAM_BYTES = 2 * SPRAM_WORDS
BLOCK_PIECE = 18  # widest ECP5 DP16KD mode of 1K words (2 x 9 bits of 2K words)


def platform_has_spram(platform: object) -> bool:
    """iCE40 UltraPlus parts (the iCEBreaker's UP5K) have SB_SPRAM256KA; simulation
    (no platform) and every other part do not."""
    return str(getattr(platform, "device", "")).startswith("iCE40UP")


def spram_tiles(width: int, depth: int) -> int:
    """SB_SPRAM256KA blocks a ``depth`` x ``width`` :class:`WordMemory` takes: side by side
    for the width, one after the other for the depth."""
    return -(-width // SPRAM_WIDTH) * -(-depth // SPRAM_WORDS)


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



class WordMemory(wiring.Component):
    """``depth`` words of ``width`` bits behind one port, what an SB_SPRAM256KA offers and
    what the synapse memory of the core is built on, so that every build (SPRAM on the
    iCE40UP, block RAM elsewhere, any simulator) runs the one schedule the SPRAM allows:

    * ``w_en``: ``w_data`` is written at ``addr``; ``r_data`` after it is undefined;
    * else ``r_en``: ``r_data`` in the next cycle is the word at ``addr``;
    * else ``r_data`` holds (the SPRAM's chip select is low).

    ``spram=True`` builds it from ``spram_tiles(width, depth)`` SB_SPRAM256KA (iCE40UP
    only): tiles side by side for the width, and the address's high bits pick a row of
    tiles for the depth (only that row is selected; the read's row is kept to pick its
    output)."""

    def __init__(self, width: int, depth: int, *, spram: bool = False) -> None:
        self.width, self.depth, self.spram = width, depth, spram
        self.abits = max(1, (depth - 1).bit_length())
        super().__init__({
            "addr": In(self.abits), "w_data": In(width), "w_en": In(1), "r_en": In(1),
            "r_data": Out(width),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        if not self.spram:
            # pieces of at most 18 bits: yosys maps one memory to one block mode, and a deep
            # memory wider than 18 bits goes to the ECP5's 16K x 1 mode whole (a 131072 x 21
            # memory: 168 DP16KD); split, its 18 bits take the 2K x 9 mode and the rest
            # 16K x 1 (128 + 24 = 152)
            pos, pieces = 0, []
            while pos < self.width:
                pieces.append((pos, min(BLOCK_PIECE, self.width - pos)))
                pos += BLOCK_PIECE
            out = []
            for n, (pos, width) in enumerate(pieces):
                mem = Memory(shape=width, depth=self.depth, init=[])
                m.submodules[f"mem{n}" if n else "mem"] = mem
                wr, rd = mem.write_port(), mem.read_port()
                m.d.comb += [wr.addr.eq(self.addr), wr.data.eq(self.w_data[pos:pos + width]),
                             wr.en.eq(self.w_en), rd.addr.eq(self.addr),
                             rd.en.eq(self.r_en & ~self.w_en)]
                out.append(rd.data)
            m.d.comb += self.r_data.eq(Cat(*out))
            return m
        cols = -(-self.width // SPRAM_WIDTH)
        rows = -(-self.depth // SPRAM_WORDS)
        low = min(self.abits, SPRAM_WORDS.bit_length() - 1)  # 14 address bits per tile
        tile_row = self.addr[low:] if rows > 1 else Const(0, 1)
        read_row = Signal(range(rows))  # the row of the last read, to pick its output
        with m.If(self.r_en & ~self.w_en):
            m.d.sync += read_row.eq(tile_row)
        data_in = Signal(cols * SPRAM_WIDTH)
        m.d.comb += data_in.eq(self.w_data)
        outs = []
        for r in range(rows):
            select = (self.w_en | self.r_en) & (tile_row == r)
            row_out = []
            for c in range(cols):
                dout = Signal(SPRAM_WIDTH, name=f"dout_{r}_{c}")
                m.submodules[f"spram_{r}_{c}"] = Instance(
                    "SB_SPRAM256KA",
                    i_ADDRESS=self.addr[:low], i_DATAIN=data_in.word_select(c, SPRAM_WIDTH),
                    i_MASKWREN=Const(0b1111, 4), i_WREN=self.w_en, i_CHIPSELECT=select,
                    i_CLOCK=ClockSignal("sync"), i_STANDBY=Const(0, 1), i_SLEEP=Const(0, 1),
                    i_POWEROFF=Const(1, 1), o_DATAOUT=dout)
                row_out.append(dout)
            outs.append(Cat(*row_out))
        out = outs[0]
        for r in range(1, rows):
            out = Mux(read_row == r, outs[r], out)
        m.d.comb += self.r_data.eq(out[:self.width])
        return m
