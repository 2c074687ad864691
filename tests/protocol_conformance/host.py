"""A host written from docs/protocol.md that knows what the board must answer.

``Host`` keeps its own account of the board, by the page's rules: link counters, run state,
step counter, sequence numbers, reply cache, output window, and the memories' words where
they are known (after power-up, RESET and WRITE; runs make STATE and SYNAPSE unknown, since
the page does not say what the network computes).  Everything the host sends goes through
its own copy of the board's receiver (``wire.Receiver``), so damaged bytes are judged as the
board must judge them; every intact frame is answered by the page, and each answer the
board sends is compared with it.  ``check_status`` compares every STATUS field.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.protocol_conformance import msg as m
from tests.protocol_conformance import wire as w
from tests.protocol_conformance.client import Client, Violation

U32 = 1 << 32


@dataclass
class Expect:
    """One frame the board must send in answer: exactly ``wire``, or one ``check`` accepts
    (it raises ``Violation`` for a frame of the right kind with wrong content)."""

    what: str
    kind: Callable[[w.Frame], bool]  # is this the frame meant (type, seq)?
    check: Callable[[w.Frame], None]
    after: Callable[[w.Frame], None] = lambda f: None  # the host learns from it


def exact(what: str, wire_bytes: bytes) -> Expect:
    want = w.parse(wire_bytes[:-1])

    def check(f: w.Frame) -> None:
        if f.wire != wire_bytes:
            raise Violation(f"{what}: board sent {f}, the page says {want}")

    return Expect(what, lambda f: (f.type, f.seq) == (want.type, want.seq) or (
        f.type == m.ERROR and want.type != m.ERROR and f.seq == want.seq), check)


@dataclass
class Run:
    """The run in progress, as far as the host knows it."""

    t0: int
    steps: int  # 0: free
    streamed: bool
    outputs: list[m.Block] = field(default_factory=list)  # OUTPUT frames received, in order
    bounds: set[int] = field(default_factory=set)  # block ends of a streamed run
    blocks: list[m.Block] = field(default_factory=list)  # accepted INPUT, not yet credited

    @property
    def covered(self) -> int:
        """The first step no OUTPUT frame has finished yet (a CONTINUED frame's last step is
        the next frame's first)."""
        return self.t0 + sum(len(o.steps) - o.continued for o in self.outputs)

    def group_ends_at(self, step: int) -> bool:
        """Section 6: an unstreamed run sends its output every 64 steps and at its end; a
        streamed one at the end of each INPUT block."""
        if self.streamed:
            return step in self.bounds
        return (step - self.t0) % m.GROUP_STEPS == 0 or step == self.t0 + self.steps


class Host:
    def __init__(self, client: Client, power_cycle: Callable[[], None], *,
                 timeout: float) -> None:
        self.c = client
        self._power_cycle = power_cycle
        self.timeout = timeout
        self.rx = w.Receiver()  # the board's receiver, as the page defines it
        self.seq = 0
        self.build: m.Build | None = None
        self.hello: bytes | None = None
        self.expects: list[Expect] = []
        self.frames_checked = 0
        self.head_in_progress = False  # the oldest accepted INPUT block is being computed
        self._blank(-1)  # the boot count is learnt from the first BOOT

    # -- the board's state, by the page ---------------------------------------------------
    def _blank(self, boot_count: int) -> None:
        self.boot_count = boot_count
        self.rx_frames = self.crc_errors = self.seq_errors = self.overruns = 0
        self.tx_frames, self.resends = 1, 0  # BOOT was sent
        self.cache: tuple[int, int, bytes] | None = None
        self.rx = w.Receiver()
        self._reset_state()
        self.mem: dict[int, list[int | None]] = {}
        if self.build is not None:
            self._reset_memories()

    def _reset_state(self) -> None:
        self.state, self.step, self.steps_left, self.free = m.IDLE, 0, 0, False
        self.streamed = False  # the last RUN's flag: INPUT is taken only after a streamed one
        self._reset_run()

    def _reset_run(self) -> None:
        self.next_in = self.next_out = self.consumed = 0
        self.in_step, self.in_left = self.step, 0
        self.gap_reported: int | None = None
        self.window: list[w.Frame] = []
        self.run: Run | None = None
        self.queued: list[m.Block] = []

    def _reset_memories(self) -> None:
        b = self._b()
        for memory in m.MEMORIES:
            value = b.silent_neuron if memory == m.NEURON else 0
            self.mem[memory] = [value] * b.depth(memory)

    def _b(self) -> m.Build:
        assert self.build is not None, "no HELLO yet"
        return self.build

    # -- power ------------------------------------------------------------------------------
    def power_cycle(self) -> None:
        """Reset the board; it must say BOOT(boot count + 1) and have forgotten everything."""
        self.settle()
        if self.boot_count >= 0:  # (a board just started may still be saying BOOT)
            stray = self.c.drain(self.timeout / 10)
            if stray:
                raise Violation(f"frames the page does not call for: {stray}")
        self.c.resetting, self.c.cut_frames = True, 0
        self._power_cycle()
        boot = self.c.wait(lambda f: f.type == m.BOOT, self.timeout * 20, "BOOT after reset")
        if self.boot_count < 0:  # a board just started: its own BOOT may come first
            boot = ([boot] + [f for f in self.c.drain(self.timeout / 5) if f.type == m.BOOT])[-1]
        self.c.resetting = False
        self._drop_stream_before(boot)
        count = m.unpack(m.BOOT, boot.payload)["boot_count"]
        if self.boot_count >= 0 and count != (self.boot_count + 1) % U32:
            raise Violation(f"BOOT says boot count {count} after {self.boot_count}")
        self._blank(count)
        self.frames_checked += 1

    def _drop_stream_before(self, boot: w.Frame) -> None:
        """Frames the board sent before it reset belong to what it lost."""
        self.c.inbox = []

    def start(self) -> m.Build:
        """A fresh board, then the handshake."""
        self.power_cycle()
        reply = self.command(m.HELLO, bytes([1]))
        assert reply.type == m.HELLO_REPLY
        self.check_status()
        return self._b()

    # -- sending ----------------------------------------------------------------------------
    def next_seq(self) -> int:
        self.seq = (self.seq + 1) % 256
        if self.cache is not None and self.seq == self.cache[1]:
            self.seq = (self.seq + 1) % 256
        return self.seq

    def send(self, data: bytes) -> None:
        """Put bytes on the line: the page decides what each completed frame does."""
        self.c.send(data)
        for item in self.rx.feed(data):
            if isinstance(item, w.Bad):
                self.crc_errors += 1
            else:
                self.rx_frames += 1
                self._on_frame(item)

    def command(self, ftype: int, payload: bytes = b"", seq: int | None = None) -> w.Frame:
        """Send a command and wait for its reply (checked); returns it."""
        self.settle()
        if seq is None:
            seq = self.next_seq()
        n = len(self.expects)
        self.send(w.frame(ftype, seq, payload))
        assert len(self.expects) == n + 1, "a command has one reply"
        return self.settle()[-1]

    def settle(self) -> list[w.Frame]:
        """Wait for every answer the page says is due, check each, and the stream of the
        run in progress up to where it must be by now."""
        got = []
        while self.expects:
            e = self.expects[0]
            f = self._next_frame(e)
            self.expects.pop(0)
            e.check(f)
            e.after(f)
            self.frames_checked += 1
            got.append(f)
        return got

    def _next_frame(self, e: Expect) -> w.Frame:
        """The frame ``e`` waits for; stream frames before it go to the run."""
        while True:
            f = self.c.wait(lambda f: True, self.timeout, e.what)
            if e.kind(f):
                return f
            if f.type in (m.OUTPUT, m.CREDIT) and self.run is not None:
                self._stream(f)
                continue
            raise Violation(f"waiting for {e.what}, the board sent {f}\n{self.c.transcript()}")

    # -- the page's answers -----------------------------------------------------------------
    def _reply(self, ftype: int, seq: int, payload: bytes) -> bytes:
        return w.frame(ftype, seq, payload)

    def _error(self, code: int, cause: int, detail: int) -> bytes:
        return m.pack(m.ERROR, code=code, cause=cause, detail=detail % U32)

    def _on_frame(self, f: w.Frame) -> None:
        if f.type not in m.HOST_TYPES:
            if f.type < 0x80:  # a type the board does not know: UNSUPPORTED, not cached
                self._expect_exact("UNSUPPORTED", self._reply(
                    m.ERROR, f.seq, self._error(m.UNSUPPORTED, f.type, f.type)))
            return  # 0x80 and above: ignored
        if f.type == m.INPUT:
            self._on_input(f)
            return
        if f.type == m.RESEND:
            self._on_resend(f)
            return
        fresh = f.type in (m.HELLO, m.STATUS)
        if not fresh and self.cache is not None and self.cache[:2] == (f.type, f.seq):
            self.resends += 1
            self._expect_exact("the cached reply", self.cache[2], counted=False)
            return
        expect = self._command(f)
        if fresh:
            self.cache = None
        else:
            # the reply (learnt once it arrives) is what a retry gets
            ftype, seq = f.type, f.seq
            learn = expect.after

            def cache_it(reply: w.Frame, learn: Callable = learn) -> None:
                learn(reply)
                self.cache = (ftype, seq, reply.wire)

            expect.after = cache_it
            self.cache = None  # until the reply is in
        self.expects.append(expect)

    def _expect_exact(self, what: str, wire_bytes: bytes, counted: bool = True) -> None:
        if counted:
            self.tx_frames += 1
        self.expects.append(exact(what, wire_bytes))

    def _command(self, f: w.Frame) -> Expect:
        """Section 4, rule by rule."""
        t, seq, payload = f.type, f.seq, f.payload
        b = self._b() if self.build is not None else None
        self.tx_frames += 1
        name = m.NAMES[t]

        def answer(reply_type: int, body: bytes) -> Expect:
            return exact(name, self._reply(reply_type, seq, body))

        def error(code: int, detail: int) -> Expect:
            return answer(m.ERROR, self._error(code, t, detail))

        try:
            if t == m.HELLO:
                if payload and payload[0] != 1:
                    return error(m.BAD_VERSION, 1)
                m.check_fixed(t, payload)
                return self._hello(seq)
            if t == m.STATUS:
                m.check_fixed(t, payload)
                return self._status(seq)
            if t == m.STOP:
                m.check_fixed(t, payload)
                if self.state == m.RUNNING:
                    return self._stop(seq)
                return answer(m.ACK, m.pack(m.ACK, acked=t, value=self.step))
            if self.state == m.RUNNING:
                return self._busy(seq, t)
            assert b is not None
            if t == m.RESET:
                m.check_fixed(t, payload, {"scope": lambda v: v in (0, 1)})
                if payload[0] == m.SCOPE_ALL:
                    self._reset_memories()
                else:
                    self.mem[m.STATE_MEM] = [0] * b.depth(m.STATE_MEM)
                self._reset_state()
                return answer(m.ACK, m.pack(m.ACK, acked=t, value=0))
            if t == m.CONFIG:
                m.check_fixed(t, payload, {"n_neurons": lambda v: v <= b.n_neurons,
                                           "n_inputs": lambda v: v <= b.n_inputs,
                                           "seed": lambda v: v == 0})
                return answer(m.ACK, m.pack(m.ACK, acked=t, value=0))
            if t == m.WRITE:
                return self._write(seq, payload, error, answer)
            if t == m.READ:
                return self._read(seq, payload, error)
            if t == m.RUN:
                m.check_fixed(t, payload, {"steps": lambda v: v != m.FREE,
                                           "flags": lambda v: not v & ~m.STREAMED})
                v = m.unpack(t, payload)
                self._start_run(v["steps"], bool(v["flags"] & m.STREAMED))
                return answer(m.ACK, m.pack(m.ACK, acked=t, value=self.step))
        except m.Refused as e:
            return error(m.BAD_MESSAGE, e.offset)
        raise AssertionError(f"no rule for type {t}")

    def _hello(self, seq: int) -> Expect:
        def check(f: w.Frame) -> None:
            if f.type != m.HELLO_REPLY:
                raise Violation(f"HELLO answered with {f}")
            if self.hello is not None and f.payload != self.hello:
                raise Violation("BuildInfo changed between two HELLOs")
            b = m.Build.parse(f.payload)
            if b.protocol_version != 1 or b.values["readable"] >> 5 or not b.input_slots \
                    or not b.output_window or min(b.n_neurons, b.n_inputs, b.n_synapses) < 1:
                raise Violation(f"BuildInfo {b.values} breaks section 5")

        def learn(f: w.Frame) -> None:
            if self.hello is None:
                self.hello = f.payload
                self.build = m.Build.parse(f.payload)
                if not self.mem:
                    self._reset_memories()

        return Expect("HELLO_REPLY", lambda f: f.seq == seq and f.type in (
            m.HELLO_REPLY, m.ERROR), check, learn)

    def _status(self, seq: int) -> Expect:
        def check(f: w.Frame) -> None:
            if f.type != m.STATUS_REPLY:
                raise Violation(f"STATUS answered with {f}")
            got = m.unpack(m.STATUS_REPLY, f.payload)
            # as the board answers: this frame counted in rx, its reply not yet in tx (the
            # host counted it when it sent the STATUS; stream frames before it are counted)
            want = self.status_now(self.tx_frames - 1)
            problems = []
            for name, value in want.items():
                if isinstance(value, tuple):  # (low, high): a run whose step is not known
                    if not value[0] <= got[name] <= value[1]:
                        problems.append(f"{name} {got[name]} not in {value}")
                elif got[name] != value:
                    problems.append(f"{name} {got[name]}, the page says {value}")
            if problems:
                raise Violation(f"STATUS: {'; '.join(problems)}\n{self.c.transcript()}")

        return Expect("STATUS_REPLY", lambda f: f.seq == seq and f.type in (
            m.STATUS_REPLY, m.ERROR), check)

    def status_now(self, tx: int) -> dict[str, object]:
        run = self.run
        step: object = self.step
        left: object = m.FREE if self.free else self.steps_left
        if run is not None and self.state == m.RUNNING and (not run.streamed or run.blocks):
            # computing on its own: somewhere after what it has sent (and, streamed, before
            # the end of the input it has)
            low = run.covered
            high = self.in_step if run.streamed else U32 - 1
            step = (low, high)
            if not self.free:
                left = (run.t0 + run.steps - high if run.streamed else 0,
                        run.steps - (low - run.t0))
        return {"state": self.state, "step": step, "steps_left": left,
                "next_output_seq": self.next_out, "next_input_seq": self.next_in,
                "boot_count": self.boot_count, "rx_frames": self.rx_frames % U32,
                "crc_errors": self.crc_errors % U32, "seq_errors": self.seq_errors % U32,
                "overruns": self.overruns % U32, "tx_frames": tx % U32,
                "resends": self.resends % U32}

    def check_status(self) -> dict[str, int]:
        reply = self.command(m.STATUS)
        return m.unpack(m.STATUS_REPLY, reply.payload)

    def _busy(self, seq: int, t: int) -> Expect:
        low = self.step if self.run is None else self.run.covered

        def check(f: w.Frame) -> None:
            v = m.unpack(m.ERROR, f.payload) if f.type == m.ERROR else None
            if v is None or (v["code"], v["cause"]) != (m.BUSY, t) or v["detail"] < low:
                raise Violation(f"{m.NAMES[t]} during a run: board sent {f}, the page says "
                                f"BUSY with a step of at least {low}")

        return Expect("BUSY", lambda f: f.seq == seq and f.type in (
            m.ERROR, m.ACK, m.DATA), check)

    def _write(self, seq: int, payload: bytes, error: Callable, answer: Callable) -> Expect:
        b = self._b()
        m.check_fixed(m.WRITE, payload, {"memory": lambda v: v in m.MEMORIES})
        v = m.unpack(m.WRITE, payload)
        memory, address = v["memory"], v["address"]
        nb = b.word_bytes(memory)
        body = payload[5:]
        if not body:
            raise m.Refused(5, "no word")
        if len(body) % nb:
            raise m.Refused(5 + len(body) // nb * nb, "cut word")
        words = [int.from_bytes(body[k:k + nb], "little") for k in range(0, len(body), nb)]
        depth = b.depth(memory)
        if address + len(words) > depth:
            return error(m.BAD_ADDRESS, max(address, depth))
        for k, word in enumerate(words):
            if word >> b.word_bits(memory):
                raise m.Refused(5 + k * nb, "word too wide")
            if memory == m.ROW:
                start, length = b.row_fields(word)
                if start + length > b.n_synapses:
                    return error(m.BAD_ADDRESS, start + length)
        self.mem[memory][address:address + len(words)] = words
        return answer(m.ACK, m.pack(m.ACK, acked=m.WRITE, value=len(words)))

    def _read(self, seq: int, payload: bytes, error: Callable) -> Expect:
        b = self._b()
        memory: list[int] = []

        def mem_ok(v: int) -> bool:
            memory.append(v)
            return v in m.MEMORIES

        m.check_fixed(m.READ, payload, {
            "memory": mem_ok, "count": lambda v: 1 <= v <= b.max_words(memory[0])})
        v = m.unpack(m.READ, payload)
        mem, address, count = v["memory"], v["address"], v["count"]
        if not b.readable(mem):
            return error(m.NOT_READABLE, mem)
        depth = b.depth(mem)
        if address + count > depth:
            return error(m.BAD_ADDRESS, max(address, depth))
        header = m.pack(m.DATA, memory=mem, address=address)
        known = self.mem[mem][address:address + count]
        nb = b.word_bytes(mem)
        if all(x is not None for x in known):
            body = b"".join(int(x).to_bytes(nb, "little") for x in known)  # type: ignore[arg-type]
            return exact("DATA", self._reply(m.DATA, seq, header + body))

        def check(f: w.Frame) -> None:
            if f.type != m.DATA or f.payload[:5] != header or len(f.payload) != 5 + count * nb:
                raise Violation(f"READ answered with {f}, the page says DATA {header.hex()} "
                                f"and {count} words of {nb} bytes")
            for k in range(count):
                word = int.from_bytes(f.payload[5 + k * nb:5 + (k + 1) * nb], "little")
                if word >> b.word_bits(mem):
                    raise Violation(f"DATA word {k} = {word} is wider than the memory's")

        def learn(f: w.Frame) -> None:  # what it holds now, until something changes it
            self.mem[mem][address:address + count] = [
                int.from_bytes(f.payload[5 + k * nb:5 + (k + 1) * nb], "little")
                for k in range(count)]

        return Expect("DATA", lambda f: f.seq == seq and f.type in (m.DATA, m.ERROR), check,
                      learn)

    # -- runs -------------------------------------------------------------------------------
    def _start_run(self, steps: int, streamed: bool) -> None:
        self._reset_run()
        self.state, self.free, self.steps_left = m.RUNNING, steps == 0, steps
        self.in_step, self.in_left = self.step, steps
        self.run = Run(self.step, steps, streamed)
        self.streamed = streamed
        # the network computes what the page does not say: STATE and SYNAPSE (learning)
        for memory in (m.STATE_MEM, m.SYNAPSE):
            self.mem[memory] = [None] * len(self.mem[memory])

    def _stream(self, f: w.Frame) -> None:
        """An OUTPUT or CREDIT of the run in progress, in the page's order."""
        run = self.run
        assert run is not None
        b = self._b()
        self.frames_checked += 1
        if f.type == m.OUTPUT:
            if f.seq != self.next_out:
                raise Violation(f"OUTPUT seq {f.seq}, the page says {self.next_out}")
            try:
                out = m.parse_block(f.payload, b.id_bits(b.n_neurons), b.n_neurons,
                                    input_block=False)
            except m.Refused as e:
                raise Violation(f"OUTPUT block breaks section 7 ({e}): {f}") from None
            reached = run.covered
            if out.first != reached:
                raise Violation(f"OUTPUT from step {out.first}, the page says {reached}")
            if not run.streamed and run.steps and out.end > run.t0 + run.steps:
                raise Violation(f"OUTPUT past the run's end: {out}")
            if run.streamed:
                fed = run.blocks[0] if run.blocks else None
                if fed is None or out.end > fed.end:
                    raise Violation(f"OUTPUT {out.first}..{out.end} beyond the INPUT given")
            run.outputs.append(out)
            self.next_out = (self.next_out + 1) % 256
            self.tx_frames += 1
            self.window = (self.window + [f])[-b.output_window:]
            return
        # CREDIT: a block is consumed
        v = m.unpack(m.CREDIT, f.payload)
        if not run.blocks:
            raise Violation(f"CREDIT with no INPUT block outstanding: {f}")
        done = run.blocks.pop(0)
        covered = run.covered
        if covered != done.end:
            raise Violation(f"CREDIT for the block ending at {done.end} before its OUTPUT "
                            f"(output covers up to {covered})")
        self.consumed = (self.consumed + 1) % 256
        queued = len(run.blocks)  # accepted and not consumed: at most this many are queued
        if v["next_seq"] != self.consumed or not \
                b.input_slots - queued <= v["free"] <= b.input_slots:
            raise Violation(f"CREDIT {v}: the page says next_seq {self.consumed}, free "
                            f"{b.input_slots - queued}..{b.input_slots}")
        self.tx_frames += 1
        self.step = done.end
        run.bounds.add(done.end)
        self.queued = self.queued[1:]
        if run.steps and self.step == run.t0 + run.steps:
            self._run_over()

    def _run_over(self) -> None:
        run = self.run
        assert run is not None
        self._check_cuts(run)
        self.state, self.steps_left, self.free = m.DONE, 0, False
        self.run = None

    def _check_cuts(self, run: Run, stopped_at: int | None = None) -> None:
        """Section 6: each frame ends where a group ends, or where the next step's record
        would not fit, or continues its one step."""
        b = self._b()
        id_bits = b.id_bits(b.n_neurons)

        def bound(step: int) -> bool:
            return run.group_ends_at(step) or step == stopped_at

        outs = run.outputs
        for k, o in enumerate(outs):
            inside = [g for g in range(o.first + 1, o.end) if bound(g)]
            if inside:
                raise Violation(f"OUTPUT {o.first}..{o.end} crosses the group end {inside[0]}")
            if o.continued:
                fit = (1024 - 10) // (2 if id_bits > 8 else 1)
                if len(o.steps) != 1 or len(o.steps[0]) != fit:
                    raise Violation(f"a CONTINUED frame holds one step of {fit} ids: {o}")
                continue
            if bound(o.end) or k == len(outs) - 1:
                continue
            nxt = outs[k + 1]
            ids = list(nxt.steps[0])
            j = k + 1
            while outs[j].continued and j + 1 < len(outs):  # the step's ids over frames
                j += 1
                ids += outs[j].steps[0]
            last = max((i for i, s in enumerate(o.steps) if s), default=-1)
            gap = len(o.steps) - 1 - last
            if not ids or o.size + len(m.record(gap, ids, id_bits)) <= 1024:
                raise Violation(f"OUTPUT {o.first}..{o.end} ends early: step {o.end} would "
                                "have fit, and no group ends there")

    def await_run(self) -> None:
        """A counted unstreamed run: its OUTPUT to the last step."""
        run = self.run
        assert run is not None and not run.streamed and run.steps
        self.settle()
        end = run.t0 + run.steps
        deadline = time.monotonic() + self.timeout * (20 + run.steps / 50)
        while run.covered < end:
            f = self.c.wait(lambda f: True, max(deadline - time.monotonic(), 0.01),
                            f"OUTPUT up to step {end}")
            if f.type != m.OUTPUT:
                raise Violation(f"during a run the board sent {f}")
            self._stream(f)
        self.step = end
        self._run_over()

    def _stop(self, seq: int) -> Expect:
        run = self.run
        assert run is not None

        def kind(f: w.Frame) -> bool:
            return f.seq == seq and f.type in (m.ACK, m.ERROR)

        def check(f: w.Frame) -> None:
            v = m.unpack(m.ACK, f.payload) if f.type == m.ACK else None
            covered = run.covered
            if v is None or v["acked"] != m.STOP or v["value"] != covered:
                raise Violation(f"STOP answered {f}; the OUTPUT before it covers steps "
                                f"{run.t0}..{covered - 1}, so the page says ACK({covered})")
            self._check_cuts(run, stopped_at=covered)

        def after(f: w.Frame) -> None:
            self.step = m.unpack(m.ACK, f.payload)["value"]
            self.state, self.steps_left, self.free = m.DONE, 0, False
            self.queued = []
            self.run = None

        return Expect("ACK(STOP)", kind, check, after)

    # -- input and resend -------------------------------------------------------------------
    def _on_input(self, f: w.Frame) -> None:
        b = self._b()
        ahead = (f.seq - self.next_in) % 256
        duplicate = ahead >= 128
        run = self.run
        if self.state == m.IDLE or not self.streamed or (self.state == m.DONE
                                                        and not duplicate):
            self._expect_exact("NOT_RUNNING", self._reply(
                m.ERROR, f.seq, self._error(m.NOT_RUNNING, m.INPUT, f.seq)))
            return
        if duplicate:
            self.tx_frames += 1
            slots, queued = b.input_slots, len(self.queued)
            want = m.pack(m.CREDIT, next_seq=self.consumed, free=0)[:1]

            def check(c: w.Frame) -> None:
                # the block being computed is not queued: free is one more while it runs
                if c.type != m.CREDIT or c.payload[:1] != want or not \
                        slots - queued <= c.payload[1] <= slots - max(queued - 1, 0):
                    raise Violation(f"a duplicate INPUT answered {c}; the page says CREDIT("
                                    f"{self.consumed}, {slots - queued}..{slots})")

            self.expects.append(Expect("CREDIT for a duplicate", lambda c: c.type in (
                m.CREDIT, m.ERROR) and c.seq in (self.consumed, f.seq), check))
            return
        if ahead:
            self.seq_errors += 1
            if self.gap_reported != self.next_in:
                self.gap_reported = self.next_in
                self._expect_exact("SEQ_GAP", self._reply(
                    m.ERROR, f.seq, self._error(m.SEQ_GAP, m.INPUT, self.next_in)))
            return
        assert run is not None
        # the board's queue holds the accepted blocks not yet being computed; whether the
        # oldest is being computed is a matter of timing, unless the caller knows it is
        queued = len(self.queued) - (1 if self.head_in_progress and self.queued else 0)
        if queued == b.input_slots and not self.head_in_progress:
            raise AssertionError("an INPUT frame beyond the credits: the answer depends on "
                                 "timing (set head_in_progress when it does not)")
        if queued >= b.input_slots:
            self.overruns += 1
            self._expect_exact("OVERRUN", self._reply(
                m.ERROR, f.seq, self._error(m.OVERRUN, m.INPUT, f.seq)))
            return
        try:
            blk = m.parse_block(f.payload, b.id_bits(b.n_inputs), b.n_inputs, input_block=True)
            bad = None
        except m.Refused as e:
            blk, bad = None, e.offset
        if (bad is None or bad > 4) and len(f.payload) >= 6 and not self.free:
            if int.from_bytes(f.payload[4:6], "little") > self.in_left:
                bad = 4
        if bad is not None:
            self._expect_exact("BAD_MESSAGE", self._reply(
                m.ERROR, f.seq, self._error(m.BAD_MESSAGE, m.INPUT, bad)))
            return
        assert blk is not None
        if blk.first != self.in_step:
            self._expect_exact("STEP_MISMATCH", self._reply(
                m.ERROR, f.seq, self._error(m.STEP_MISMATCH, m.INPUT, self.in_step)))
            return
        self.gap_reported = None
        self.next_in = (self.next_in + 1) % 256
        self.in_step = blk.end
        if not self.free:
            self.in_left -= len(blk.steps)
        run.blocks.append(blk)
        self.queued.append(blk)
        if not blk.steps:
            run.bounds.add(blk.end)

    def _on_resend(self, f: w.Frame) -> None:
        try:
            m.check_fixed(m.RESEND, f.payload)
        except m.Refused as e:
            self._expect_exact("BAD_MESSAGE for RESEND", self._reply(
                m.ERROR, f.seq, self._error(m.BAD_MESSAGE, m.RESEND, e.offset)))
            return
        wanted = f.payload[0]
        for kept in self.window:
            if kept.seq == wanted:
                self.resends += 1
                self.expects.append(exact(f"OUTPUT {wanted} again", kept.wire))
                return
        oldest = self.window[0].seq if self.window else self.next_out
        self._expect_exact("GONE", self._reply(
            m.ERROR, f.seq, self._error(m.GONE, m.RESEND, oldest)))

    def await_credits(self) -> None:
        """A streamed run: every accepted block computed and credited."""
        self.settle()
        run = self.run
        deadline = time.monotonic() + self.timeout * 40
        while run is not None and run.blocks:
            f = self.c.wait(lambda f: True, max(deadline - time.monotonic(), 0.01),
                            "OUTPUT and CREDIT of the INPUT given")
            if f.type not in (m.OUTPUT, m.CREDIT):
                raise Violation(f"during a streamed run the board sent {f}")
            self._stream(f)
            run = self.run
