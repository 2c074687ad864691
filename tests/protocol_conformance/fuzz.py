"""Seeded random traffic for a board, every answer checked by ``Host`` against
docs/protocol.md: well-formed and malformed commands, damaged frames (garbage, truncation,
bit flips before and after COBS, wrong CRC, oversize, non-canonical COBS, empty frames,
unknown types), out-of-range ids, addresses and lengths, retries and out-of-order seqs,
RESEND inside and outside the window, counted, free and streamed runs (RUN 0, 2^31,
2^32 - 2) with commands during them, STOP when idle, every INPUT rule, and power cycles.
After each case the board must answer STATUS with every field as the page says."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from tests.protocol_conformance import msg as m
from tests.protocol_conformance import wire as w
from tests.protocol_conformance.host import Host

# relative weights of the cases
CASES = {
    "command": 14, "malformed": 16, "damage": 16, "unknown_type": 4, "retry": 6,
    "resend": 5, "run_counted": 6, "run_free": 4, "streamed": 9, "input_idle": 3,
    "stop_idle": 2, "power_cycle": 1,
}


@dataclass
class Stats:
    cases: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    frames_sent: int = 0  # frames put on the line (delimiters), damaged ones included
    frames_checked: int = 0  # frames from the board compared with the page

    def add(self, other: Stats) -> None:
        self.cases.update(other.cases)
        self.seconds += other.seconds
        self.frames_sent += other.frames_sent
        self.frames_checked += other.frames_checked


class Fuzzer:
    def __init__(self, host: Host, seed: int) -> None:
        self.h = host
        self.r = random.Random(seed)
        self.b = host._b()
        self.last_command: bytes | None = None

    # -- helpers -----------------------------------------------------------------------
    def cmd(self, ftype: int, payload: bytes = b"", seq: int | None = None) -> w.Frame:
        seq = self.h.next_seq() if seq is None else seq
        self.last_command = w.frame(ftype, seq, payload)
        return self.h.command(ftype, payload, seq)

    def word(self, memory: int) -> int:
        bits = self.b.word_bits(memory)
        if memory == m.ROW:  # a row inside SYNAPSE, so the write is taken
            start = self.r.randrange(self.b.n_synapses)
            length = self.r.randrange(min(8, self.b.n_synapses - start) + 1)
            return start | length << m.bits(self.b.n_synapses)
        return self.r.getrandbits(bits)

    def valid_payload(self, ftype: int) -> bytes:
        b, r = self.b, self.r
        if ftype == m.HELLO:
            return bytes([1])
        if ftype == m.RESET:
            return bytes([r.choice((m.SCOPE_STATE, m.SCOPE_ALL))])
        if ftype == m.CONFIG:
            return m.pack(m.CONFIG, n_neurons=r.randrange(b.n_neurons + 1),
                          n_inputs=r.randrange(b.n_inputs + 1), seed=0)
        if ftype == m.WRITE:
            memory = r.choice(m.MEMORIES)
            count = r.randint(1, min(6, b.depth(memory)))
            address = r.randrange(b.depth(memory) - count + 1)
            nb = b.word_bytes(memory)
            return m.pack(m.WRITE, memory=memory, address=address) + b"".join(
                self.word(memory).to_bytes(nb, "little") for _ in range(count))
        if ftype == m.READ:
            memory = r.choice([x for x in m.MEMORIES if b.readable(x)] or [m.SYNAPSE])
            count = r.randint(1, min(12, b.depth(memory), b.max_words(memory)))
            return m.pack(m.READ, memory=memory, address=r.randrange(
                b.depth(memory) - count + 1), count=count)
        return b""  # STOP, STATUS

    # -- cases ------------------------------------------------------------------------
    def case_command(self) -> None:
        ftype = self.r.choice((m.HELLO, m.STATUS, m.CONFIG, m.RESET, m.WRITE, m.WRITE,
                               m.READ, m.READ))
        self.cmd(ftype, self.valid_payload(ftype))

    def case_malformed(self) -> None:
        """A command whose payload breaks a rule: cut, lengthened, a field out of range (the
        page names the offset), or bytes at random."""
        r, b = self.r, self.b
        ftype = r.choice(m.COMMANDS)
        payload = bytearray(self.valid_payload(ftype))
        how = r.randrange(5)
        if how == 0 and payload:
            del payload[r.randrange(len(payload)):]
        elif how == 1:
            payload += bytes(r.randrange(256) for _ in range(r.randint(1, 4)))
        elif how == 2 and m.LAYOUTS[ftype][0]:
            name, size = r.choice(m.LAYOUTS[ftype][0])
            at, _ = m.offsets(ftype)[name]
            edge = r.choice([0, 1, (1 << 8 * size) - 1, r.getrandbits(8 * size),
                             b.n_neurons + 1, b.n_inputs + 1, b.n_synapses, 5, 2])
            payload[at:at + size] = (edge % (1 << 8 * size)).to_bytes(size, "little")
        elif how == 3 and ftype == m.WRITE:  # a word too wide, or an address past the end
            memory = payload[0]
            nb, bits = b.word_bytes(memory), b.word_bits(memory)
            k = r.randrange((len(payload) - 5) // nb)
            if bits < 8 * nb:  # a bit above the width set
                word = r.getrandbits(bits) | 1 << r.randrange(bits, 8 * nb)
                payload[5 + k * nb:5 + (k + 1) * nb] = word.to_bytes(nb, "little")
            if r.random() < 0.3:
                payload[1:5] = r.choice([b.depth(memory), 2**32 - 1]).to_bytes(4, "little")
        else:
            payload = bytearray(r.randbytes(r.randint(0, 12)))
        if ftype == m.RUN:  # a random RUN that happens to be valid runs: then stop it
            self.cmd(ftype, bytes(payload))
            self.end_run()
            return
        self.cmd(ftype, bytes(payload))

    def case_damage(self) -> None:
        """A harmless frame damaged on the way: the board drops it and counts it."""
        r = self.r
        body = bytes([m.STATUS, r.randrange(256)]) + r.randbytes(r.randint(0, 40))
        good = w.frame(body[0], body[1], body[2:])
        raw = bytearray(body + w.crc16(body).to_bytes(2, "big"))
        how = r.randrange(8)
        if how == 0:  # garbage, then a delimiter
            data = r.randbytes(r.randint(1, 80)) + b"\x00"
        elif how == 1:  # truncated
            data = good[:r.randrange(1, len(good) - 1)] + b"\x00"
        elif how == 2:  # a bit flipped before COBS
            k = r.randrange(len(raw))
            raw[k] ^= 1 << r.randrange(8)
            data = w.cobs(bytes(raw)) + b"\x00"
        elif how == 3:  # a bit flipped after COBS
            data = bytearray(good)
            k = r.randrange(len(good) - 1)
            data[k] ^= 1 << r.randrange(8)
            data = bytes(data)
        elif how == 4:  # wrong CRC
            raw[-1] ^= r.randint(1, 255)
            data = w.cobs(bytes(raw)) + b"\x00"
        elif how == 5:  # oversize: no delimiter within 1033 bytes
            data = bytes(r.randint(1, 255) for _ in range(r.randint(1034, 1200))) + b"\x00"
        elif how == 6:  # empty frames: no frame at all
            data = b"\x00" * r.randint(1, 4)
        else:  # not the canonical COBS: a body of 254 non-zero bytes without its 0x01
            data = self.noncanonical()
        self.h.send(data)
        self.h.settle()

    def noncanonical(self) -> bytes:
        r = self.r
        while True:
            body = bytes([m.STATUS, r.randint(1, 255)]) + bytes(
                r.randint(1, 255) for _ in range(250))
            body += w.crc16(body).to_bytes(2, "big")
            if 0 not in body:
                return w.cobs(body)[:-1] + b"\x00"

    def case_unknown_type(self) -> None:
        r = self.r
        t = r.choice([0x00, *range(0x0B, 0x80), *range(0x80, 0x100)])
        if r.random() < 0.3:
            t = r.choice(m.BOARD_TYPES)  # the board's own types, as from a loop-back
        self.h.settle()
        self.h.send(w.frame(t, r.randrange(256), r.randbytes(r.randint(0, 8))))
        self.h.settle()

    def case_retry(self) -> None:
        """A command and its retries, same seq (answered from the cache and not executed
        again, or afresh for HELLO and STATUS), or a command with an old seq (executed: seqs
        need not increase)."""
        if self.r.random() < 0.7:
            ftype = self.r.choice((m.WRITE, m.READ, m.CONFIG, m.RESET, m.RUN, m.STATUS,
                                   m.HELLO))
            payload = m.pack(m.RUN, steps=self.r.randint(1, 70), flags=0) \
                if ftype == m.RUN else self.valid_payload(ftype)
            self.cmd(ftype, payload)
            assert self.last_command is not None
            for _ in range(self.r.randint(1, 3)):
                self.h.send(self.last_command)
                self.h.settle()
            if self.h.state == m.RUNNING:
                self.h.await_run()
            return
        ftype = self.r.choice((m.READ, m.WRITE, m.CONFIG, m.STATUS))
        self.cmd(ftype, self.valid_payload(ftype), seq=(self.h.seq - self.r.randint(2, 100))
                 % 256)

    def case_resend(self) -> None:
        r = self.r
        payload = bytes([r.randrange(256)]) if r.random() < 0.8 else r.randbytes(
            r.choice([0, 2, 3]))
        if self.h.window and r.random() < 0.5:
            payload = bytes([r.choice(self.h.window).seq])
        self.h.settle()
        self.h.send(w.frame(m.RESEND, r.randrange(256), payload))
        self.h.settle()

    def case_run_counted(self) -> None:
        steps = self.r.choice([1, 2, 63, 64, 65, self.r.randint(1, 200)])
        self.cmd(m.RUN, m.pack(m.RUN, steps=steps, flags=0))
        self.h.await_run()
        if self.r.random() < 0.5:
            self.case_resend()

    def case_run_free(self) -> None:
        """RUN 0, 2^31 or 2^32 - 2 steps: commands during it, then STOP."""
        r = self.r
        steps = r.choice([0, 0, 2**31, 2**32 - 2])
        self.cmd(m.RUN, m.pack(m.RUN, steps=steps, flags=0))
        for _ in range(r.randint(0, 4)):
            ftype = r.choice((m.STATUS, m.HELLO, m.READ, m.WRITE, m.RUN, m.RESET, m.CONFIG))
            self.cmd(ftype, self.valid_payload(ftype) if ftype != m.RUN else m.pack(
                m.RUN, steps=5, flags=0))
        if r.random() < 0.3:  # INPUT to an unstreamed run
            self.h.send(w.frame(m.INPUT, 0, m.block(0, [[]], 1)))
            self.h.settle()
        time.sleep(r.choice([0, 0.01, 0.05]))
        self.end_run()
        if r.random() < 0.5:
            self.case_resend()

    def end_run(self) -> None:
        self.h.settle()
        if self.h.state == m.RUNNING:
            run = self.h.run
            if run is not None and run.streamed:
                self.h.await_credits()
            if self.h.state == m.RUNNING:
                self.cmd(m.STOP)

    def input_steps(self, n: int) -> list[list[int]]:
        r, ni = self.r, self.b.n_inputs
        return [sorted(r.sample(range(ni), r.randint(0, min(ni, 6)))) if r.random() < 0.4
                else [] for _ in range(n)]

    def case_streamed(self) -> None:
        """A streamed run fed by the page's rules, with every kind of wrong INPUT."""
        r, h, b = self.r, self.h, self.b
        steps = r.choice([0, r.randint(1, 120)])
        self.cmd(m.RUN, m.pack(m.RUN, steps=steps, flags=m.STREAMED))
        id_bits = b.id_bits(b.n_inputs)
        for _ in range(r.randint(1, 12)):
            if steps and not h.in_left:  # every step given: the run ends once computed
                h.await_credits()
            if h.state != m.RUNNING:
                break
            run = h.run
            assert run is not None
            if len(run.blocks) >= b.input_slots:  # every credit in use: wait for one
                h.await_credits()
                continue
            left = h.in_left if steps else 10**9
            n = min(left, r.choice([0, 1, 5, r.randint(1, 40)]))
            good = m.block(h.in_step, self.input_steps(n), id_bits)
            how = r.randrange(10)
            if how < 5 and left:
                h.send(w.frame(m.INPUT, h.next_in, good))
            elif how == 5:  # a duplicate, once the board has caught up
                h.await_credits()
                if h.next_in:
                    h.send(w.frame(m.INPUT, (h.next_in - r.randint(1, min(h.next_in, 5)))
                                   % 256, good))
            elif how == 6:  # a gap
                h.send(w.frame(m.INPUT, (h.next_in + r.randint(1, 3)) % 256, good))
            elif how == 7:  # damaged inside an intact frame: the page names the offset
                bad = bytearray(good)
                if r.random() < 0.5 and len(bad) > 6:
                    bad[r.randrange(len(bad))] = r.randrange(256)
                else:
                    del bad[r.randrange(len(bad)):]
                h.send(w.frame(m.INPUT, h.next_in, bytes(bad)))
            elif how == 8:  # the wrong first step, or past the run's end
                first = h.in_step + r.choice([-1, 1, 7])
                length = n if r.random() < 0.5 or not steps else left + r.randint(1, 3)
                h.send(w.frame(m.INPUT, h.next_in, m.block(first % 2**32,
                                                           self.input_steps(length), id_bits)))
            else:  # an id out of range or out of order
                ids = [b.n_inputs + r.randrange(4)] if r.random() < 0.5 else [3, 1]
                if n:
                    h.send(w.frame(m.INPUT, h.next_in, m.block(h.in_step, [ids] + [[]] * (
                        n - 1), id_bits)))
            h.settle()
        if steps and r.random() < 0.6 and h.state == m.RUNNING:  # feed it to its end
            while h.state == m.RUNNING and h.in_left:
                run = h.run
                assert run is not None
                if len(run.blocks) >= b.input_slots:
                    h.await_credits()
                    continue
                n = min(h.in_left, r.randint(1, 40))
                h.send(w.frame(m.INPUT, h.next_in, m.block(h.in_step, self.input_steps(n),
                                                           id_bits)))
                h.settle()
            h.await_credits()
            if r.random() < 0.5:  # after the end: NOT_RUNNING, or a CREDIT for a duplicate
                seq = h.next_in if r.random() < 0.5 else (h.next_in - 1) % 256
                h.send(w.frame(m.INPUT, seq, m.block(h.in_step, [[]], id_bits)))
                h.settle()
        elif r.random() < 0.5:
            h.await_credits()
        self.end_run()

    def case_input_idle(self) -> None:
        self.h.settle()
        self.h.send(w.frame(m.INPUT, self.r.randrange(256), m.block(0, [[1]], 4)))
        self.h.settle()

    def case_stop_idle(self) -> None:
        self.cmd(m.STOP)

    def case_power_cycle(self) -> None:
        self.h.power_cycle()

    # -- driving ----------------------------------------------------------------------
    def run(self, n_cases: int) -> Stats:
        stats = Stats()
        names = list(CASES)
        weights = [CASES[k] for k in names]
        checked0 = self.h.frames_checked
        delimiters = 0
        t0 = time.monotonic()
        log_len = len(self.h.c.log)
        for _ in range(n_cases):
            name = self.r.choices(names, weights)[0]
            getattr(self, f"case_{name}")()
            self.end_run()
            self.h.check_status()  # the board answers, and every field is as the page says
            stats.cases[name] += 1
        for direction, data in self.h.c.log[log_len:]:
            if direction == ">":
                delimiters += data.count(0)
        stats.seconds = time.monotonic() - t0
        stats.frames_sent = delimiters
        stats.frames_checked = self.h.frames_checked - checked0
        return stats
