"""The receiver's streaming check of an INPUT step block (docs/protocol.md, section 7).

It sees each payload byte once, as the receiver stores it, and keeps the verdict and offset
``SpikeBlock.decode(payload, id_bits, limit=n_inputs, continued_ok=False)`` gives: the first
offending byte in payload order.  Its arithmetic is only as wide as a block can make it
matter: a block has at most ``MAX_BLOCK_STEPS`` steps and a record at most ``limit`` ids,
so a varint's bits above the record header's id and a 13-bit gap only say "too far"
(``big``), and an id count saturates just above ``limit`` (a record that long fails at an
id or at the payload's end whatever its exact count).  The accumulator is therefore 15 to
30 bits, not the 35 a five-byte varint holds.
"""

from amaranth.hdl import Cat, Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from toolchain.runtime import protocol as p

# bits of a gap the check keeps exactly: MAX_BLOCK_STEPS (4096) < 2**13
GAP_BITS = (p.MAX_BLOCK_STEPS).bit_length()
OFFSET_BITS = (p.MAX_PAYLOAD).bit_length()  # payload offsets 0 .. MAX_PAYLOAD


def record_header(value: Value, id_bytes: int, id_bits: int) -> tuple[Value, Value, Value,
                                                                      Value]:
    """(single, gap, id, short) of a step record's header varint (``encode_record``): with
    two-byte ids the low bit flags a single spike whose id is in the header."""
    if id_bytes == 2:
        single, h = value[0], value[1:]
    else:
        single, h = Const(0, 1), value
    return single, Mux(single, h[id_bits:], h[2:]), h[:id_bits], h[:2]


def header_bits(id_bits: int) -> int:
    """Bits of a record header below its gap, in the longest form."""
    return 1 + id_bits if p.id_bytes_of(id_bits) == 2 else 2


def kept_bits(id_bits: int) -> int:
    """Bits of a varint's value kept exactly: a record header and its gap (anything
    above only says "beyond the block")."""
    return header_bits(id_bits) + GAP_BITS


def varint_value(m: Module, acc: Signal, nb: Signal, byte: Value) -> tuple[Signal, Signal]:
    """(value, above): the varint's value so far with ``byte`` as its byte ``nb``, in the
    ``len(acc)`` bits kept of it, and whether this byte has bits above those."""
    w = len(acc)
    value, above = Signal(w), Signal()
    with m.Switch(nb):
        for k in range(p.MAX_VARINT_BYTES):
            with m.Case(k):
                shifted = Cat(Const(0, 7 * k), byte[:7])
                m.d.comb += value.eq(acc | shifted[:w])
                if len(shifted) > w:
                    m.d.comb += above.eq(shifted[w:] != 0)
    return value, above


class BlockChecker(wiring.Component):
    """One payload byte per cycle with ``valid``; ``start`` (in the cycle of a new frame's
    type byte) forgets the previous payload.  ``bad`` / ``bad_at`` are the verdict on the
    ``length`` bytes fed so far; ``first`` and ``n_raw`` the block header's fields."""

    start: In(1)
    valid: In(1)
    data: In(8)
    length: In(OFFSET_BITS)
    first: Out(32)
    n_raw: Out(16)
    bad: Out(1)
    bad_at: Out(OFFSET_BITS)

    def __init__(self, id_bits: int, limit: int) -> None:
        self.id_bits, self.id_bytes, self.limit = id_bits, p.id_bytes_of(id_bits), limit
        self.width = kept_bits(id_bits)  # of a varint's value kept exactly
        self.left_bits = limit.bit_length() + 1  # an id count saturates at 2**left_bits - 1
        super().__init__()

    def elaborate(self, platform: object) -> Module:
        m = Module()
        ib, nb_ids, limit, w = self.id_bits, self.id_bytes, self.limit, self.width
        n_steps = self.n_raw[:15]
        err, err_at = Signal(), Signal(OFFSET_BITS)
        state = Signal(2)  # 0 header / record header, 1 count varint, 2 ids
        acc, nb, big = Signal(w), Signal(3), Signal()
        at = Signal(OFFSET_BITS)  # offset of the byte fed now
        var_at, id_at = Signal(OFFSET_BITS), Signal(OFFSET_BITS)  # the varint, the next id
        steps = Signal(GAP_BITS)  # steps before the next record (at most n_steps)
        gap = Signal(w)
        left = Signal(self.left_bits)  # ids left in the record
        lo, half = Signal(8), Signal()
        prev, first_id = Signal(max(ib, 1)), Signal()  # ids ascend within a record
        byte = self.data

        value, above = varint_value(m, acc, nb, byte)
        more = byte[7]

        def fail(where: Value) -> list:
            return [err.eq(1), err_at.eq(where)]

        with m.If(self.start):
            m.d.sync += [err.eq(0), state.eq(0), acc.eq(0), nb.eq(0), big.eq(0), steps.eq(0),
                         half.eq(0), at.eq(0)]
        with m.Elif(self.valid):
            m.d.sync += at.eq(at + 1)
            first, n_field = p.BLOCK["first_step"], p.BLOCK["n_steps"]
            with m.If(err):
                pass
            with m.Elif(at < p.BLOCK.size):
                with m.Switch(at):
                    for k in range(first.size):
                        with m.Case(first.offset + k):
                            m.d.sync += self.first[8 * k:8 * k + 8].eq(byte)
                    with m.Case(n_field.offset):
                        m.d.sync += self.n_raw[:8].eq(byte)
                    with m.Case(n_field.offset + 1):
                        m.d.sync += self.n_raw[8:].eq(byte)
                        n = Cat(self.n_raw[:8], byte[:7])
                        # CONTINUED (bit 15): an INPUT block may not continue a step
                        with m.If(byte[7] | (n > p.MAX_BLOCK_STEPS)):
                            m.d.sync += fail(n_field.offset)
            with m.Elif(state != 2):  # a varint: a record header (0) or its count (1)
                start = Mux(nb == 0, at, var_at)
                too_big = big | above
                with m.If(nb == 0):
                    m.d.sync += var_at.eq(at)
                with m.If(more):
                    with m.If(nb == p.MAX_VARINT_BYTES - 1):  # a last byte that says more
                        m.d.sync += fail(start)
                    with m.Else():
                        m.d.sync += [acc.eq(value), nb.eq(nb + 1), big.eq(too_big)]
                with m.Elif((nb != 0) & (byte == 0)):  # not minimal
                    m.d.sync += fail(start)
                with m.Else():
                    m.d.sync += [acc.eq(0), nb.eq(0), big.eq(0)]
                    ids_next = [id_at.eq(at + 1), half.eq(0), first_id.eq(1), state.eq(2)]
                    with m.If(state == 0):
                        single, g, one, short = record_header(value, nb_ids, ib)
                        # with two-byte ids, one spike has its own form (id in the header)
                        one_general = ~single & (short == 0) if nb_ids == 2 else Const(0, 1)
                        m.d.sync += gap.eq(g)
                        # bits above the kept ones are gap bits: far beyond the block
                        with m.If(too_big | (steps + g >= n_steps) | one_general
                                  | (single & (one >= limit))):
                            m.d.sync += fail(start)
                        with m.Elif(~single & (short == 3)):
                            m.d.sync += state.eq(1)  # the count follows
                        with m.Elif(single):
                            m.d.sync += steps.eq(steps + g + 1)
                        with m.Else():
                            m.d.sync += [left.eq(short + 1), *ids_next]
                    with m.Else():
                        top = (1 << self.left_bits) - 1
                        count = value + 4
                        m.d.sync += [left.eq(Mux(too_big | (count > top), top, count)),
                                     *ids_next]
            with m.Else():  # ids
                if nb_ids == 2:
                    whole = half  # the high byte completes the id
                    the_id = Cat(lo, byte)
                    m.d.sync += [half.eq(~half), lo.eq(byte)]
                else:
                    whole = Const(1, 1)
                    the_id = byte
                with m.If(whole):
                    with m.If((the_id >= limit) | (~first_id & (the_id <= prev))):
                        m.d.sync += fail(id_at)
                    with m.Else():
                        m.d.sync += [prev.eq(the_id), first_id.eq(0), left.eq(left - 1),
                                     id_at.eq(id_at + nb_ids)]
                        with m.If(left == 1):
                            m.d.sync += [steps.eq(steps + gap + 1), state.eq(0)]

        # the verdict on what was fed
        length = self.length
        first, n_field = p.BLOCK["first_step"], p.BLOCK["n_steps"]
        with m.If(err):
            m.d.comb += [self.bad.eq(1), self.bad_at.eq(err_at)]
        with m.Elif(length < first.end):
            m.d.comb += [self.bad.eq(1), self.bad_at.eq(first.offset)]
        with m.Elif(length < n_field.end):
            m.d.comb += [self.bad.eq(1), self.bad_at.eq(n_field.offset)]
        with m.Elif(((state == 0) & (nb != 0)) | (state == 1)):
            # a varint cut: where it starts (for a count not begun, where it would)
            m.d.comb += [self.bad.eq(1), self.bad_at.eq(Mux(nb != 0, var_at, length))]
        with m.Elif(state == 2):
            m.d.comb += [self.bad.eq(1), self.bad_at.eq(id_at)]  # the first id not there
        return m
