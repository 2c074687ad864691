"""The ``virtual`` board: the device side of the protocol in front of the golden model of
the FPGA core, served on a pseudo-terminal so the host talks to it exactly as to a real
board (same framing, CRC, flow control and retransmission).  With ``core="rtl"`` the core's
RTL, simulated, computes instead of the golden model: the reference the gateware protocol
engine (``hdl/uart/engine.py``, which the ``rtl-sim`` board runs) is compared with.

Run one with ``python -m toolchain.boardsim.virtual --preset tiny``: it prints the pty path
to pass as ``--port``.  In tests, :func:`serve_in_thread` does the same in the background.
``SIGUSR1`` power-cycles a served board (a reset mid-run, for fault tests).
"""

from __future__ import annotations

import argparse
import collections
import signal
import sys
import threading
import traceback
from collections.abc import Callable

import numpy as np

from toolchain.boardsim.rtl_core import RtlCore
from toolchain.runtime import protocol as p
from toolchain.runtime.transport import (
    FdTransport,
    LineRelay,
    LinkClosedError,
    PtyPair,
    open_pty,
)
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import CoreSpec, Op, SpecError, preset

MODEL, RTL = "model", "rtl"  # what computes: the golden model, or the core's RTL simulated
CORES = (MODEL, RTL)


class VirtualBoard:
    """Protocol engine of a board, as docs/protocol.md specifies it.  ``receive`` takes bytes
    from the host, ``tick`` does pending work, ``send`` (given) puts bytes on the link.  No
    I/O of its own, so tests and the pty server drive the same object."""

    def __init__(self, spec: CoreSpec, send: Callable[[bytes], None], *, input_slots: int = 8,
                 output_window: int = 32, baud: int = 1_000_000,
                 clock_hz: int = 12_000_000, core: str = MODEL) -> None:
        if core not in CORES:
            raise ValueError(f"virtual board core '{core}' is unknown; use one of "
                             f"{', '.join(CORES)}")
        self.spec = spec
        self.core_kind = core
        # the core's RTL reads back only what its command stream can (protocol.READ_OP)
        readable = p.ALL_READABLE if core == MODEL else p.CORE_READABLE
        self.info = p.BuildInfo.from_spec(spec, input_slots=input_slots,
                                          output_window=output_window, clock_hz=clock_hz,
                                          baud=baud, readable=readable)
        self._send = send
        # (memory, address, word) -> the word the memory really stores: a hook for fault
        # tests (stuck or flipped bits), identity when None.
        self.write_filter: Callable[[p.Memory, int, int], int] | None = None
        self.boot_count = 0
        self._lock = threading.RLock()
        self._power_up()
        self._announce()

    # -- power and reset -------------------------------------------------------------------
    def _new_core(self) -> CoreModel | RtlCore:
        """A core as at power-up: neurons silent, every other memory 0 (the golden model
        starts with its own STDP-off word, whose shifts are not 0; the gateware's is 0)."""
        core = CoreModel(self.spec) if self.core_kind == MODEL else RtlCore(self.spec)
        if self.core_kind == MODEL:
            core.execute(Op.STDP, 0, 0)
        return core

    def _power_up(self) -> None:
        self._reader = p.FrameReader()  # a reset loses a frame half received
        self.core = self._new_core()
        self._reply_cache: tuple[int, int, bytes] | None = None  # (seq, type, wire bytes)
        self.rx_frames = self.crc_errors = self.seq_errors = self.overruns = 0
        self.tx_frames = self.resends = 0
        self._reset_run()

    def _reset_run(self) -> None:
        self.state = p.BoardState.IDLE
        self.steps_left = 0
        self.free_run = False
        self.streamed = False
        self.next_input_seq = 0
        self.next_input_step = self.core.t
        self.input_left = 0  # steps of a counted streamed run no INPUT block covers yet
        self._gap_reported: int | None = None
        self._drop_input()
        self._out_first = 0
        self._out_steps: list[np.ndarray] = []  # computed, not yet sent
        self.consumed_seq = 0
        self.next_output_seq = 0
        self.window: collections.OrderedDict[int, bytes] = collections.OrderedDict()

    def _drop_input(self) -> None:
        self.input_queue: collections.deque[p.SpikeBlock] = collections.deque()
        self._block: p.SpikeBlock | None = None  # the INPUT block being computed

    def power_cycle(self) -> None:
        """What a board does after a reset pin or brown-out: everything is lost but the boot
        count, which goes up by one; it says so with BOOT."""
        with self._lock:
            self.boot_count = (self.boot_count + 1) % (1 << 32)
            self._power_up()
            self._announce()

    def _announce(self) -> None:
        """A lone delimiter (it ends a frame a reset cut short), then BOOT, unprompted, as a
        board sends them after power-up (before a handshake a host ignores BOOT; after one,
        it means the board lost everything)."""
        self._send(bytes([p.DELIMITER]))
        self._emit(p.FrameType.BOOT, 0, p.PAYLOADS[p.FrameType.BOOT].pack(
            {"boot_count": self.boot_count}))

    def _reset_state(self) -> None:
        """RESET(STATE): neuron state, traces, delay ring and step counter to zero."""
        core = self.core
        if isinstance(core, RtlCore):
            core.clear()
            for k in range(self.spec.n_neurons):
                core.execute(Op.NEURON_STATE, k, 0)
        else:
            for arr in (core.v, core.i, core.i_inh, core.ref, core.ring, core.x, core.y):
                arr[...] = 0
        core.t = 0

    # -- receive -----------------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        with self._lock:
            for item in self._reader.feed(data):
                if isinstance(item, p.UnknownTypeError):  # intact, but no type we know
                    self.rx_frames += 1
                    if item.type_byte < 0x80:  # a newer host's command: say we lack it
                        self._emit(p.FrameType.ERROR, item.seq, p.ErrorReply(
                            p.ErrorCode.UNSUPPORTED, item.type_byte, item.type_byte).encode())
                    continue
                if isinstance(item, p.FrameError):
                    self.crc_errors += 1
                    continue
                self.rx_frames += 1
                self._handle(item)

    def _handle(self, frame: p.Frame) -> None:
        if not frame.type.from_host:
            return  # a board never acts on board-to-host frames (e.g. echoed garbage)
        if frame.type is p.FrameType.INPUT:
            self._on_input(frame)
            return
        if frame.type is p.FrameType.RESEND:
            self._on_resend(frame)
            return
        # HELLO and STATUS change nothing: a repeat is answered afresh, not from the cache
        fresh = frame.type in (p.FrameType.HELLO, p.FrameType.STATUS)
        cache = self._reply_cache
        if not fresh and cache and cache[0] == frame.seq and cache[1] == frame.type:
            self._send(cache[2])  # the host did not hear our reply: say it again, do nothing
            self.resends += 1
            return
        try:
            reply_type, payload = self._command(frame)
        except p.MessageError as e:
            reply_type, payload = p.FrameType.ERROR, p.ErrorReply(
                p.ErrorCode.BAD_MESSAGE, frame.type, e.offset).encode()
        wire = self._emit(reply_type, frame.seq, payload)
        self._reply_cache = None if fresh else (frame.seq, frame.type, wire)

    def _command(self, frame: p.Frame) -> tuple[p.FrameType, bytes]:
        """One command's reply; its checks in the order docs/protocol.md gives them."""
        t, payload = frame.type, frame.payload
        ack = p.FrameType.ACK
        layout = p.PAYLOADS[t]

        def error(code: p.ErrorCode, detail: int = 0) -> tuple[p.FrameType, bytes]:
            return p.FrameType.ERROR, p.ErrorReply(code, t, detail).encode()

        if t is p.FrameType.HELLO:
            if payload and payload[0] != p.PROTOCOL_VERSION:  # whatever a newer host adds
                return error(p.ErrorCode.BAD_VERSION, p.PROTOCOL_VERSION)
            layout.unpack(payload)
            return p.FrameType.HELLO_REPLY, self.info.encode()
        if t is p.FrameType.STATUS:
            layout.unpack(payload)
            return p.FrameType.STATUS_REPLY, self.status().encode()
        if t is p.FrameType.STOP:
            layout.unpack(payload)
            if self.state is p.BoardState.RUNNING:
                self._flush_outputs()  # every step before the one STOP reports is sent
                self.state = p.BoardState.DONE
                self.steps_left, self.free_run = 0, False
                self._drop_input()  # INPUT frames not consumed yet are dropped
            return ack, p.Ack(t, self.core.t).encode()
        if self.state is p.BoardState.RUNNING:
            return error(p.ErrorCode.BUSY, self.core.t)
        if t is p.FrameType.RESET:
            scope = layout.unpack(payload, {"scope": p.one_of(p.ResetScope)})["scope"]
            if scope == p.ResetScope.ALL:
                self.core = self._new_core()
            else:
                self._reset_state()
            self._reset_run()
            return ack, p.Ack(t, 0).encode()
        if t is p.FrameType.CONFIG:
            p.Config.decode(payload, self.info)
            return ack, p.Ack(t, 0).encode()
        if t is p.FrameType.WRITE:
            return self._on_write(payload, error)
        if t is p.FrameType.READ:
            return self._on_read(p.MemoryRead.decode(payload, self.info), error)
        if t is p.FrameType.RUN:
            run = p.RunCommand.decode(payload)
            self._reset_run()
            self.state = p.BoardState.RUNNING
            self.free_run = run.steps == 0
            self.steps_left = self.input_left = run.steps
            self.streamed = bool(run.flags & p.RunFlags.STREAMED)
            return ack, p.Ack(t, self.core.t).encode()
        raise AssertionError(f"{t.name} is not a command")  # INPUT, RESEND: handled above

    def _on_write(self, payload: bytes, error: Callable) -> tuple[p.FrameType, bytes]:
        w = p.MemoryWrite.decode(payload, self.info, widths=False)
        depth = self.info.depth(w.memory)
        if w.address + w.words.size > depth:
            return error(p.ErrorCode.BAD_ADDRESS, max(w.address, depth))
        words = [int(x) for x in w.words.tolist()]
        bits, nbytes = self.info.word_bits(w.memory), self.info.word_bytes(w.memory)
        for k, word in enumerate(words):  # nothing is written unless every word passes
            if word >> bits:
                at = p.PAYLOADS[p.FrameType.WRITE].size + k * nbytes
                raise p.MessageError(f"WRITE: word {k} does not fit in {bits} bits", at)
            if w.memory is p.Memory.ROW:
                row = self.spec.unpack("row", word)
                if row["start"] + row["length"] > self.spec.n_synapses:
                    return error(p.ErrorCode.BAD_ADDRESS, row["start"] + row["length"])
        op = p.WRITE_OP[w.memory]  # ROW addresses are sources: neurons first, then inputs
        for k, word in enumerate(words):
            if self.write_filter is not None:
                word = self.write_filter(w.memory, w.address + k, word)
            self.core.execute(op, w.address + k, word)
        return p.FrameType.ACK, p.Ack(p.FrameType.WRITE, len(words)).encode()

    def _on_read(self, r: p.MemoryRead, error: Callable) -> tuple[p.FrameType, bytes]:
        if not self.info.can_read(r.memory):
            return error(p.ErrorCode.NOT_READABLE, int(r.memory))
        if r.address + r.count > self.info.depth(r.memory):
            return error(p.ErrorCode.BAD_ADDRESS, max(r.address, self.info.depth(r.memory)))
        words = p.word_array([self._read_word(r.memory, r.address + k) for k in range(r.count)],
                             self.info.word_bits(r.memory))
        return p.FrameType.DATA, p.MemoryData(r.memory, r.address, words).encode(self.info)

    def _read_word(self, memory: p.Memory, addr: int) -> int:
        core, spec = self.core, self.spec
        if memory in p.READ_OP:
            return int(core.execute(p.READ_OP[memory], addr) or 0)
        if memory is p.Memory.NEURON:
            return spec.pack("neuron_params", **{k: int(v[addr]) for k, v in core.params.items()})
        if memory is p.Memory.ROW:
            return spec.pack("row", start=int(core.row_start[addr]),
                             length=int(core.row_length[addr]))
        return core.stdp.word(spec)

    # -- streaming -----------------------------------------------------------------------
    def _stream_error(self, frame: p.Frame, code: p.ErrorCode, detail: int) -> None:
        self._emit(p.FrameType.ERROR, frame.seq,
                   p.ErrorReply(code, frame.type, detail).encode())

    def _on_input(self, frame: p.Frame) -> None:
        ahead = p.seq_distance(self.next_input_seq, frame.seq)
        duplicate = ahead >= p.SEQ_MODULUS // 2  # a frame we already have (a late resend)
        if self.state is p.BoardState.IDLE or not self.streamed or (
                self.state is p.BoardState.DONE and not duplicate):
            self._stream_error(frame, p.ErrorCode.NOT_RUNNING, frame.seq)
            return
        if duplicate:
            self._credit()
            return
        if ahead > 0:  # one or more frames before it were lost: go back N
            self.seq_errors += 1
            if self._gap_reported != self.next_input_seq:
                self._gap_reported = self.next_input_seq
                self._stream_error(frame, p.ErrorCode.SEQ_GAP, self.next_input_seq)
            return
        if len(self.input_queue) >= self.info.input_slots:
            self.overruns += 1
            self._stream_error(frame, p.ErrorCode.OVERRUN, frame.seq)
            return
        at_n = p.BLOCK["n_steps"]
        try:
            block: p.SpikeBlock | None = p.SpikeBlock.decode(
                frame.payload, self.info.input_id_bits, "INPUT", limit=self.spec.n_inputs,
                continued_ok=False)
            bad = None
        except p.MessageError as e:
            block, bad = None, e.offset
        # a block may not reach past the run's last step (n_steps, checked in offset order)
        if (bad is None or bad > at_n.offset) and len(frame.payload) >= at_n.end \
                and not self.free_run:
            n_steps = int.from_bytes(frame.payload[at_n.offset:at_n.end], "little")
            if n_steps > self.input_left:
                bad = at_n.offset
        if bad is not None:
            self._stream_error(frame, p.ErrorCode.BAD_MESSAGE, bad)
            return
        assert block is not None
        if block.first_step != self.next_input_step:
            self._stream_error(frame, p.ErrorCode.STEP_MISMATCH, self.next_input_step)
            return
        self._gap_reported = None
        self.next_input_seq = p.seq_add(self.next_input_seq, 1)
        self.next_input_step = block.end_step
        if not self.free_run:
            self.input_left -= block.n_steps
        self.input_queue.append(block)

    def _credit(self) -> None:
        free = self.info.input_slots - len(self.input_queue)
        self._emit(p.FrameType.CREDIT, self.consumed_seq, p.Credit(self.consumed_seq,
                                                                   free).encode())

    def _on_resend(self, frame: p.Frame) -> None:
        try:
            seq = p.PAYLOADS[p.FrameType.RESEND].unpack(frame.payload)["seq"]
        except p.MessageError as e:
            self._stream_error(frame, p.ErrorCode.BAD_MESSAGE, e.offset)
            return
        wire = self.window.get(seq)
        if wire is None:
            oldest = next(iter(self.window), self.next_output_seq)
            self._stream_error(frame, p.ErrorCode.GONE, oldest)
            return
        self.resends += 1
        self._send(wire)

    def tick(self) -> bool:
        """Compute one step of the current run, if it can go on; True if it did.

        One step per call, so that a slow core (the simulated RTL) still answers STATUS,
        STOP and RESEND between steps.  Output leaves in blocks: per INPUT frame when
        streamed, else every ``OUTPUT_BLOCK_STEPS`` steps and at the end of the run."""
        with self._lock:
            if self.state is not p.BoardState.RUNNING:
                return False
            if self.streamed:
                if self._block is None:
                    if not self.input_queue:
                        return False
                    self._block = self.input_queue.popleft()
                    if not self._block.steps:  # nothing to compute: consumed at once
                        self._block = None
                        self.consumed_seq = p.seq_add(self.consumed_seq, 1)
                        self._credit()
                        return True
                ids = self._block.steps[self.core.t - self._block.first_step]
            else:
                ids = np.zeros(0, np.int32)
            if not self._out_steps:
                self._out_first = self.core.t
            self._out_steps.append(self.core.step(ids).astype(np.int32))
            if not self.free_run:
                self.steps_left -= 1
            run_over = not self.free_run and self.steps_left == 0
            if self.streamed:
                assert self._block is not None
                if self.core.t >= self._block.end_step or run_over:
                    self._flush_outputs()
                    self._block = None
                    self.consumed_seq = p.seq_add(self.consumed_seq, 1)
                    self._credit()
            elif len(self._out_steps) >= p.OUTPUT_BLOCK_STEPS or run_over:
                self._flush_outputs()
            if run_over:
                self.state = p.BoardState.DONE
            return True

    @property
    def busy(self) -> bool:
        """Whether ``tick`` has work now (a serving loop should not sleep)."""
        return self.state is p.BoardState.RUNNING and (
            not self.streamed or self._block is not None or bool(self.input_queue))

    def _flush_outputs(self) -> None:
        if self._out_steps:
            self._send_outputs(self._out_first, self._out_steps)
            self._out_steps = []

    def _send_outputs(self, first: int, outputs: list[np.ndarray]) -> None:
        for block in p.split_spike_blocks(first, outputs, self.info.neuron_id_bits,
                                          split_steps=True):
            seq = self.next_output_seq
            wire = self._emit(p.FrameType.OUTPUT, seq, block.encode(self.info.neuron_id_bits))
            self.window[seq] = wire
            self.window.move_to_end(seq)
            while len(self.window) > self.info.output_window:
                self.window.popitem(last=False)
            self.next_output_seq = p.seq_add(seq, 1)

    # -- output --------------------------------------------------------------------------
    def status(self) -> p.Status:
        counters = (self.rx_frames, self.crc_errors, self.seq_errors, self.overruns,
                    self.tx_frames, self.resends)  # u32 each: they wrap, as in gateware
        return p.Status(
            self.state, self.core.t % (1 << 32), p.FREE_RUN if self.free_run else self.steps_left,
            self.next_output_seq, self.next_input_seq, self.boot_count,
            *(c % (1 << 32) for c in counters))

    def _emit(self, frame_type: p.FrameType, seq: int, payload: bytes) -> bytes:
        wire = p.encode_frame(frame_type, seq, payload)
        self.tx_frames += 1
        self._send(wire)
        return wire


# --------------------------------------------------------------------------- serving


class ServedBoard:
    """A virtual board answering on a pseudo-terminal from a background thread.

    With ``line_baud`` the host's pty is joined to the board's through a :class:`LineRelay`,
    so bytes take as long as on a real UART at that rate (and the board reports that baud in
    its BuildInfo); without it the pty is as fast as the CPU.
    """

    def __init__(self, spec: CoreSpec, *, line_baud: int | None = None,
                 **options: int | str) -> None:
        self.pty: PtyPair = open_pty()
        self.path = self.pty.path
        self._line: tuple[PtyPair, LineRelay] | None = None
        if line_baud is not None:
            host = open_pty()
            self._line = host, LineRelay(host.master, self.pty.slave, line_baud)
            self.path = host.path
            options.setdefault("baud", line_baud)
        self._link = FdTransport(self.pty.master, f"virtual board on {self.path}")
        self._lock = threading.Lock()
        self.board = VirtualBoard(spec, self._write, **options)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="virtual-board", daemon=True)

    def _write(self, data: bytes) -> None:
        with self._lock:
            self._link.write(data)

    def start(self) -> ServedBoard:
        if self._line is not None:
            self._line[1].start()
        self._thread.start()
        return self

    def _serve(self) -> None:
        board = self.board
        while not self._stop.is_set():
            try:
                data = self._link.read(0.0 if board.busy else 0.05)
            except LinkClosedError:
                return
            try:
                if data:
                    board.receive(data)
                board.tick()
            except Exception:  # a model or RTL failure: report it, keep the link alive
                traceback.print_exc()
                board.state = p.BoardState.IDLE

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if self._line is not None:
            host, relay = self._line
            host.close()
            relay.stop()
        self.pty.close()

    def power_cycle(self) -> None:
        """Reset the board as a power glitch would (it says BOOT and has lost everything)."""
        self.board.power_cycle()

    def __enter__(self) -> ServedBoard:
        return self if self._thread.is_alive() else self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_thread(spec: CoreSpec, **options: int | str) -> ServedBoard:
    """Start a virtual board; use as a context manager, connect a host to ``.path``."""
    return ServedBoard(spec, **options).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m toolchain.boardsim.virtual",
        description="Serve a virtual spikeport FPGA board (the golden model) on a pty.",
    )
    parser.add_argument("--preset", default="tiny", help="core build preset (spec.PRESETS)")
    parser.add_argument("--input-slots", type=int, default=8)
    parser.add_argument("--output-window", type=int, default=32)
    parser.add_argument("--core", choices=CORES, default=MODEL,
                        help="what computes: the golden model, or the core's RTL in simulation")
    parser.add_argument("--line-baud", type=int, default=None,
                        help="pace the pty like an 8N1 UART at this baud (default: unpaced)")
    args = parser.parse_args(argv)
    if args.line_baud is not None and args.line_baud <= 0:
        parser.error(f"--line-baud {args.line_baud}: give a positive baud rate, e.g. 1000000")
    try:
        spec = preset(args.preset)
    except SpecError as e:
        parser.error(str(e))
    signals = {signal.SIGINT, signal.SIGTERM, signal.SIGUSR1}
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # before the thread starts: it inherits
    if args.line_baud is not None:
        # the relay's threads must wake when their bytes are due, not after the board
        # thread's 5 ms turn of the interpreter lock
        sys.setswitchinterval(1e-4)
    served = ServedBoard(spec, input_slots=args.input_slots, output_window=args.output_window,
                         core=args.core, line_baud=args.line_baud)
    served.start()
    print(served.path, flush=True)
    while signal.sigwait(signals) == signal.SIGUSR1:
        served.board.power_cycle()
    served.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
