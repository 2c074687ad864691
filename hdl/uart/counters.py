"""The STATUS error and traffic counters (docs/protocol.md, section 4) in one small memory.

Six 32-bit counters as registers cost six 32-bit incrementers and a wide byte multiplexer
for the STATUS reply, for events that happen at most once per frame.  Here they are 4-byte
little-endian words of one block RAM with a single 8-bit adder: an event only bumps a small
pending count, and an updater adds the pending count to one counter at a time, byte by byte
(two cycles a byte, and it stops at the first byte that does not carry).  A frame takes at
least five cycles to arrive or leave, an update at most nine, so the pending counts stay
small; the STATUS reader waits until nothing is pending (``quiet``) and then holds the
updater while it reads the bytes, so the reply shows every event before it and none after
it started.
"""

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

PENDING_BITS = 5  # events of one counter an update can fall behind by (at most 31)


class CounterBank(wiring.Component):
    """``len(names)`` counters of 32 bits; ``inc[k]`` counts one event of counter ``k``
    (several counters may count in one cycle).  After a reset every counter is 0 (the
    memory is cleared first: block RAM keeps its contents through a reset).  While ``hold``
    no update starts; ``r_data`` is the byte at ``r_addr`` (counter ``k``'s byte ``b`` at
    ``4 * k + b``) of the cycle before."""

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        self.n_bytes = 4 * len(self.names)
        super().__init__({
            "inc": In(len(self.names)), "hold": In(1), "quiet": Out(1),
            "r_addr": In(range(self.n_bytes)), "r_data": Out(8),
        })

    def index(self, name: str) -> int:
        return self.names.index(name)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        n = len(self.names)
        m.submodules.mem = mem = Memory(shape=8, depth=self.n_bytes, init=[])
        wr, rd = mem.write_port(), mem.read_port()
        pend = [Signal(PENDING_BITS, name=f"pend_{name}") for name in self.names]
        cur = Signal(range(n))  # the counter being updated
        byte = Signal(2)
        carry = Signal(PENDING_BITS)  # what is added to the byte: the pending count, then 0/1
        addr = Signal(range(self.n_bytes))
        m.d.comb += addr.eq(cur * 4 + byte)
        taken = [Signal(name=f"taken_{name}") for name in self.names]
        for k in range(n):
            m.d.sync += pend[k].eq(pend[k] + self.inc[k] - Mux(taken[k], pend[k], 0))
        any_pending = Signal()
        m.d.comb += any_pending.eq(sum(pend[k] != 0 for k in range(n)) != 0)
        m.d.comb += [rd.addr.eq(addr), self.r_data.eq(rd.data)]
        clear = Signal(range(self.n_bytes + 1))
        with m.FSM(name="counters"):
            with m.State("CLEAR"):
                m.d.comb += [wr.addr.eq(clear), wr.data.eq(0), wr.en.eq(1)]
                m.d.sync += clear.eq(clear + 1)
                with m.If(clear == self.n_bytes - 1):
                    m.next = "IDLE"
            with m.State("IDLE"):
                m.d.comb += [self.quiet.eq(~any_pending), rd.addr.eq(self.r_addr)]
                with m.If(~self.hold & any_pending):
                    for k in range(n):  # the first pending counter
                        with (m.If if k == 0 else m.Elif)(pend[k] != 0):
                            m.d.comb += taken[k].eq(1)
                            m.d.sync += [cur.eq(k), carry.eq(pend[k])]
                    m.d.sync += byte.eq(0)
                    m.next = "READ"
            with m.State("READ"):  # the memory reads the byte
                m.next = "ADD"
            with m.State("ADD"):
                total = rd.data + carry
                m.d.comb += [wr.addr.eq(addr), wr.data.eq(total[:8]), wr.en.eq(1)]
                m.d.sync += [carry.eq(total[8:]), byte.eq(byte + 1)]
                with m.If((byte == 3) | (total[8:] == 0)):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "READ"
        return m
