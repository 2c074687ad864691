"""A host session with one board: handshake, load and verify a core image, run or stream
spikes, read weights and state back.

Reliability rules (see docs/protocol.md):

* commands are stop-and-wait with a timeout; a repeated command carries the same seq and
  the board answers it from its reply cache, so a retry never applies anything twice;
* input spikes are go-back-N within the credits the board announced, so the host never
  overruns the board's input FIFO;
* output frames are numbered; a gap is filled with RESEND while the board still holds the
  frame, and otherwise the run stops with an error naming the steps that were lost;
* a BOOT frame, or a boot count that changed, means the board lost everything: the run
  stops with an error that says from which step on nothing is known.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from toolchain.runtime import protocol as p
from toolchain.runtime.transport import SerialTransport, Transport, TransportError
from toolchain.targets.fpga.image import CoreImage
from toolchain.targets.fpga.spec import SIGNED_FIELDS, CoreSpec, Op

# The memory each core write command (spec.Op) goes to, to group an image's command words.
MEMORY_OF_OP: dict[Op, p.Memory] = {op: memory for memory, op in p.WRITE_OP.items()}
# Steps per INPUT frame when streaming: long enough that the frame overhead (11 bytes) is
# spread over many spikes even when input is sparse, short enough that a lost frame costs
# little to resend.  A live source that needs low latency passes a smaller block_steps.
BLOCK_STEPS = 128


class BoardError(RuntimeError):
    """The board refused a command, answered nonsense, or stopped answering."""


class BuildMismatchError(BoardError):
    """An artifact compiled for another core build than the one on the board."""


class LoadVerifyError(BoardError):
    """Readback after a load differs from what was written, even after rewriting."""


class BoardResetError(BoardError):
    """The board reset (power, reset pin, watchdog) and lost its configuration and state."""


class LinkError(BoardError):
    """No valid answer within the timeout and retries: the link is down or too noisy."""


class StreamLostError(BoardError):
    """Output spikes were lost for good: the board no longer holds the frames."""


@dataclass
class LinkStats:
    """What reliability cost during a session: the numbers a user needs to trust a run."""

    retries: int = 0  # commands sent again after a timeout
    input_resent: int = 0  # INPUT frames sent again (go-back-N)
    output_resend_requests: int = 0
    bad_frames: int = 0  # frames the host dropped (CRC, COBS, length)
    stalls: int = 0  # times nothing arrived within the timeout during a run


@dataclass
class RunResult:
    """Output spikes of a run: ``steps[k]`` are the neurons that fired in ``first_step + k``."""

    first_step: int
    steps: list[np.ndarray]
    stats: LinkStats = field(default_factory=LinkStats)

    @property
    def n_spikes(self) -> int:
        return sum(int(s.size) for s in self.steps)

    def events(self) -> tuple[np.ndarray, np.ndarray]:
        """``(step, neuron)`` of every spike, sorted by step then neuron."""
        counts = [s.size for s in self.steps]
        steps = np.repeat(np.arange(self.first_step, self.first_step + len(self.steps)), counts)
        ids = np.concatenate(self.steps) if self.steps else np.zeros(0, np.int32)
        return steps.astype(np.int64), ids.astype(np.int64)


    def to_neo(self, dt: float, n_neurons: int, name: str = "board") -> Any:
        """A Neo ``Segment`` with one ``SpikeTrain`` per neuron (time = step x ``dt`` ms)."""
        import neo
        import quantities as pq

        steps, ids = self.events()
        t_stop = (self.first_step + len(self.steps)) * dt
        seg = neo.Segment(name=name)
        for j in range(n_neurons):
            seg.spiketrains.append(neo.SpikeTrain(
                steps[ids == j] * dt * pq.ms, t_start=self.first_step * dt * pq.ms,
                t_stop=t_stop * pq.ms, name=f"{name}[{j}]",
                annotations={"source_index": j}))
        return seg


StepInputs = Iterable[Sequence[int] | np.ndarray]


def step_inputs(source: Any, n_steps: int, *, dt: float | None = None) -> Iterator[np.ndarray]:
    """Per-step input id arrays from any of the accepted input forms.

    ``None`` (no input); a sequence or live iterator of per-step id lists; a ``(steps, ids)``
    pair of event arrays; a Neo ``Block``/``Segment`` (spike train k feeds input k, times
    are divided by ``dt`` ms); or a ``.npz`` file holding ``steps`` and ``ids`` arrays.
    """
    if source is None:
        return iter([np.zeros(0, np.int32)] * n_steps)
    if isinstance(source, str | Path):
        with np.load(source, allow_pickle=False) as data:
            missing = {"steps", "ids"} - set(data.files)
            if missing:
                raise ValueError(
                    f"input file '{source}' has no '{sorted(missing)[0]}' array; it needs "
                    f"'steps' and 'ids' (has: {', '.join(data.files)})"
                )
            return iter(p.spikes_to_steps(data["steps"], data["ids"], n_steps))
    if isinstance(source, tuple) and len(source) == 2:
        return iter(p.spikes_to_steps(np.asarray(source[0]), np.asarray(source[1]), n_steps))
    trains = _neo_spiketrains(source)
    if trains is not None:
        if dt is None:
            raise ValueError("Neo input needs dt (ms per step) to turn spike times into steps")
        steps, ids = [], []
        for k, train in enumerate(trains):
            t_ms = np.asarray(train.rescale("ms").magnitude, dtype=np.float64)
            steps.append(np.rint(t_ms / dt).astype(np.int64))
            ids.append(np.full(t_ms.size, k, np.int64))
        all_steps = np.concatenate(steps) if steps else np.zeros(0, np.int64)
        all_ids = np.concatenate(ids) if ids else np.zeros(0, np.int64)
        return iter(p.spikes_to_steps(all_steps, all_ids, n_steps))
    return (np.asarray(s, dtype=np.int32) for s in itertools.islice(source, n_steps))


def _neo_spiketrains(source: Any) -> list[Any] | None:
    try:
        import neo
    except ImportError:  # pragma: no cover - neo is a core dependency
        return None
    if isinstance(source, neo.Block):
        return [st for seg in source.segments for st in seg.spiketrains]
    if isinstance(source, neo.Segment):
        return list(source.spiketrains)
    return None


class Session:
    """One host-side connection to one board."""

    def __init__(self, transport: Transport, *, timeout: float = 0.25, retries: int = 8) -> None:
        self.link = transport
        self.timeout = timeout
        self.retries = retries
        self.stats = LinkStats()
        self._reader = p.FrameReader()
        self._backlog: deque[p.Frame] = deque()
        # Stream traffic (OUTPUT, CREDIT, stream ERRORs) belongs to the run in progress; what
        # arrives outside one, or before its RUN is acknowledged, is a late answer from an
        # earlier run (the link is in order), and is dropped rather than taken for this one's.
        self._streaming = False
        # frames that came in the same read as a reply, after it: the next reader's
        self._unread: deque[p.Frame] = deque()
        self._seq = 0
        self._boot_count: int | None = None
        self._image: CoreImage | None = None
        self.info: p.BuildInfo | None = None

    @classmethod
    def open(cls, port: str, baud: int = 1_000_000, **options: Any) -> Session:
        """Open ``port``, lock it, and handshake."""
        session = cls(SerialTransport(port, baud), **options)
        try:
            session.handshake()
        except BaseException:
            session.close()
            raise
        return session

    def close(self) -> None:
        self.link.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- frames ------------------------------------------------------------------------
    def _pump(self, timeout: float) -> list[p.Frame]:
        """Frames that arrive within ``timeout``; BOOT raises, damage is counted."""
        if self._unread:
            out = list(self._unread)
            self._unread.clear()
            return out
        data = self.link.read(timeout)
        out = []
        for item in self._reader.feed(data):
            if isinstance(item, p.FrameError):
                self.stats.bad_frames += 1
                continue
            if item.type is p.FrameType.BOOT and self._boot_count is not None:
                count = int.from_bytes(item.payload[:4], "little")
                raise BoardResetError(
                    f"board on '{self.link.name}' reset (boot count {count}): its "
                    "configuration, state and learnt weights are gone; load the network again"
                )
            out.append(item)
        return out

    def _send(self, frame_type: p.FrameType, seq: int, payload: bytes = b"") -> None:
        self.link.write(p.encode_frame(frame_type, seq, payload))

    def request(self, frame_type: p.FrameType, payload: bytes = b"",
                expect: p.FrameType = p.FrameType.ACK) -> p.Frame:
        """Send a command and wait for its reply, retrying on silence; raise on ERROR."""
        self._seq = p.seq_add(self._seq, 1)
        seq = self._seq
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
            self._send(frame_type, seq, payload)
            deadline = time.monotonic() + self.timeout
            while (left := deadline - time.monotonic()) > 0:
                frames = self._pump(left)
                for k, frame in enumerate(frames):
                    if frame.seq == seq and frame.type is expect:
                        self._unread.extend(frames[k + 1:])
                        return frame
                    if frame.seq == seq and frame.type is p.FrameType.ERROR and \
                            frame.payload[1:2] == bytes([int(frame_type)]):
                        self._unread.extend(frames[k + 1:])
                        raise BoardError(self._describe_error(frame, frame_type))
                    if self._streaming and frame.type in (
                            p.FrameType.OUTPUT, p.FrameType.CREDIT, p.FrameType.ERROR):
                        self._backlog.append(frame)  # stream traffic: the run loop's
        raise LinkError(
            f"no answer to {frame_type.name} from '{self.link.name}' after "
            f"{self.retries + 1} tries of {self.timeout:g} s each; check that the board is "
            "powered, the port and baud rate, and that nothing else uses the port"
        )

    def _describe_error(self, frame: p.Frame, sent: p.FrameType) -> str:
        try:
            err = p.ErrorReply.decode(frame.payload)
        except p.MessageError as e:
            return f"board answered {sent.name} with a malformed ERROR: {e}"
        detail = {
            p.ErrorCode.BAD_VERSION: f"the board speaks protocol version {err.detail}, this "
            f"host {p.PROTOCOL_VERSION}: update spikeport or reflash the board",
            p.ErrorCode.BAD_MESSAGE: f"the board could not parse it (payload byte {err.detail})",
            p.ErrorCode.BAD_ADDRESS: f"address {err.detail} is outside the board's memory",
            p.ErrorCode.NOT_READABLE: f"this build cannot read back memory "
            f"{p.Memory(err.detail).name if err.detail < len(p.Memory) else err.detail}",
            p.ErrorCode.BUSY: f"the board is running (at step {err.detail}); STOP it first",
            p.ErrorCode.UNSUPPORTED: f"the board does not know frame type 0x{err.detail:02x}; "
            "its bitstream is older than this spikeport: reflash it",
        }.get(err.code, f"detail {err.detail}")
        return f"board refused {sent.name}: {err.code.name}: {detail}"

    # -- commands ------------------------------------------------------------------------
    def handshake(self) -> p.BuildInfo:
        """Say HELLO; learn the board's build and its boot count."""
        self.link.write(bytes([p.DELIMITER]))  # end whatever garbage came before us
        self._pump(0.02)  # drop whatever an earlier session left in the line
        reply = self.request(p.FrameType.HELLO, bytes([p.PROTOCOL_VERSION]),
                             expect=p.FrameType.HELLO_REPLY)
        info = p.BuildInfo.decode(reply.payload)
        if info.protocol_version != p.PROTOCOL_VERSION:
            raise BoardError(
                f"board on '{self.link.name}' speaks protocol version {info.protocol_version}, "
                f"this host {p.PROTOCOL_VERSION}: update spikeport or reflash the board"
            )
        self.info = info
        self._boot_count = self.status().boot_count
        return info

    def _info(self) -> p.BuildInfo:
        if self.info is None:
            raise BoardError("no handshake yet: call handshake() (Session.open does)")
        return self.info

    def status(self) -> p.Status:
        reply = self.request(p.FrameType.STATUS, expect=p.FrameType.STATUS_REPLY)
        return p.Status.decode(reply.payload)

    def reset(self, scope: p.ResetScope = p.ResetScope.ALL) -> None:
        self.request(p.FrameType.RESET, bytes([int(scope)]))

    def write(self, memory: p.Memory, address: int, words: np.ndarray) -> None:
        info = self._info()
        words = p.word_array(words, info.word_bits(memory))
        chunk = p.MemoryWrite.max_words(info, memory)
        for k in range(0, words.size, chunk):
            msg = p.MemoryWrite(memory, address + k, words[k : k + chunk])
            self.request(p.FrameType.WRITE, msg.encode(info))

    def read(self, memory: p.Memory, address: int, count: int) -> np.ndarray:
        info = self._info()
        chunk = min(p.MemoryWrite.max_words(info, memory), 0xFFFF)
        parts = []
        for k in range(0, count, chunk):
            n = min(chunk, count - k)
            reply = self.request(p.FrameType.READ, p.MemoryRead(memory, address + k, n).encode(),
                                 expect=p.FrameType.DATA)
            data = p.MemoryData.decode(reply.payload, info)
            if data.memory is not memory or data.address != address + k or data.words.size != n:
                raise BoardError(
                    f"READ {memory.name} @{address + k} x{n}: board answered "
                    f"{data.memory.name} @{data.address} x{data.words.size}"
                )
            parts.append(data.words)
        return np.concatenate(parts) if parts else np.zeros(0, np.uint64)

    def check_build(self, spec: CoreSpec, what: str = "artifact") -> None:
        """Refuse an artifact whose core build differs from the board's."""
        info = self._info()
        want = p.BuildInfo.from_spec(spec, input_slots=info.input_slots,
                                     output_window=info.output_window,
                                     clock_hz=info.clock_hz, baud=info.baud,
                                     readable=info.readable)
        if want.build_id != info.build_id:
            raise BuildMismatchError(
                f"{what} was compiled for core build '{spec.name}' (build id "
                f"0x{want.build_id:08x}) but the board on '{self.link.name}' runs build id "
                f"0x{info.build_id:08x}; they differ in {want.describe_difference(info)} "
                "(artifact vs board): recompile for the board's build or flash the matching "
                "bitstream"
            )

    def load(self, image: CoreImage, spec: CoreSpec, *, verify: bool = True) -> None:
        """Reset the board, write ``image`` and, if ``verify``, read every word back."""
        self.check_build(spec, "core image")
        info = self._info()
        image.check(spec)
        self.request(p.FrameType.STOP)  # a run an earlier session left going ends here
        self.reset(p.ResetScope.ALL)
        self.request(p.FrameType.CONFIG,
                     p.Config(image.n_neurons, image.n_inputs).encode())
        regions = _regions(image.commands(spec))
        for memory, address, words in regions:
            self.write(memory, address, words)
        if verify:
            for memory, address, words in regions:
                if info.can_read(memory):
                    self._verify(memory, address, words)
        self._image = image

    def _verify(self, memory: p.Memory, address: int, words: np.ndarray) -> None:
        for attempt in range(2):
            got = self.read(memory, address, words.size)
            bad = np.flatnonzero(got != words)
            if not bad.size:
                return
            if attempt == 0:
                self.write(memory, address, words)  # a transient upset: write it again
        k = int(bad[0])
        raise LoadVerifyError(
            f"load verification failed: {memory.name} word {address + k} reads back "
            f"0x{int(got[k]):x}, expected 0x{int(words[k]):x} ({bad.size} of {words.size} words "
            f"differ at addresses {address}..{address + words.size - 1}) even after "
            "rewriting; the board's memory or link is faulty"
        )

    def weights(self, count: int | None = None) -> np.ndarray:
        """Signed synapse weights in synapse-memory order (the image's order)."""
        info = self._info()
        if count is None:
            count = self._image.n_synapses if self._image is not None else info.n_synapses
        words = self.read(p.Memory.SYNAPSE, 0, count)
        spec = info.spec()
        return np.array([spec.unpack("synapse", int(w), signed=("weight",))["weight"]
                         for w in words], dtype=np.int64)

    def state(self, count: int | None = None) -> dict[str, np.ndarray]:
        info = self._info()
        if count is None:
            count = self._image.n_neurons if self._image is not None else info.n_neurons
        words = self.read(p.Memory.STATE, 0, count)
        spec = info.spec()
        fields = [spec.unpack("neuron_state", int(w), signed=SIGNED_FIELDS["neuron_state"])
                  for w in words]
        names = [name for name, _ in spec.layout("neuron_state")]  # + i_inh: two currents
        return {name: np.array([f[name] for f in fields], dtype=np.int64) for name in names}

    # -- running -------------------------------------------------------------------------
    def run(self, n_steps: int, inputs: Any = None, *, dt: float | None = None,
            on_step: Callable[[int, np.ndarray], None] | None = None,
            block_steps: int = BLOCK_STEPS) -> RunResult:
        """Run ``n_steps`` timesteps, streaming ``inputs`` (see :func:`step_inputs`).

        ``on_step(step, neuron_ids)`` is called for every step in order as its output
        arrives, so a caller can show live spike counts or react to the output.
        ``block_steps`` is how many steps of input one frame carries (and so how far ahead
        of the board a live source must be).
        """
        if not 0 < n_steps <= p.MAX_RUN_STEPS:
            raise ValueError(f"run: n_steps = {n_steps}; give a number of steps from 1 to "
                             f"{p.MAX_RUN_STEPS} (free_run() runs without a count)")
        streamed = inputs is not None
        flags = p.RunFlags.STREAMED if streamed else p.RunFlags.NONE
        first = self._start(p.RunCommand(n_steps, flags))
        try:
            sender = _InputSender(self, step_inputs(inputs, n_steps, dt=dt), first, n_steps,
                                  block_steps) if streamed else None
            return self._collect(first, n_steps, sender, on_step)
        except (ValueError, p.ProtocolError):
            self.request(p.FrameType.STOP)  # bad input: leave the board idle, not waiting
            raise
        finally:
            self._streaming = False

    def _start(self, command: p.RunCommand) -> int:
        """Send RUN; from its ACK on, stream traffic is this run's.  Returns the first step."""
        self._streaming = False
        self._backlog.clear()
        self._unread.clear()
        ack = p.Ack.decode(self.request(p.FrameType.RUN, command.encode()).payload)
        self._streaming = True
        return ack.value

    async def stream(self, n_steps: int, inputs: Any = None, *,
                     dt: float | None = None) -> AsyncIterator[tuple[int, np.ndarray]]:
        """``run`` for asyncio programs: yields ``(step, neuron ids)`` as each step's output
        arrives, while the link is served from a worker thread."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[int, np.ndarray] | None] = asyncio.Queue()

        def on_step(step: int, ids: np.ndarray) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (step, ids))

        def work() -> RunResult:
            try:
                return self.run(n_steps, inputs, dt=dt, on_step=on_step)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        task = loop.run_in_executor(None, work)
        while (item := await queue.get()) is not None:
            yield item
        await task  # re-raises what the run raised

    def free_run(self, seconds: float,
                 on_step: Callable[[int, np.ndarray], None] | None = None) -> RunResult:
        """Let the board run on its own for ``seconds`` of wall time, then STOP it."""
        first = self._start(p.RunCommand(0))
        try:
            collector = _OutputCollector(self, first, on_step)
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                collector.take(self._next_frames(self.timeout / 4))
            last = p.Ack.decode(self.request(p.FrameType.STOP).payload).value
            collector.n_steps = last - first
            return self._finish(collector, None)
        finally:
            self._streaming = False

    def _next_frames(self, timeout: float) -> list[p.Frame]:
        if self._backlog:
            frames = list(self._backlog)
            self._backlog.clear()
            return frames
        return self._pump(timeout)

    def _collect(self, first: int, n_steps: int, sender: _InputSender | None,
                 on_step: Callable[[int, np.ndarray], None] | None) -> RunResult:
        collector = _OutputCollector(self, first, on_step)
        collector.n_steps = n_steps
        return self._finish(collector, sender)

    def _finish(self, collector: _OutputCollector, sender: _InputSender | None) -> RunResult:
        try:
            return self._finish_loop(collector, sender)
        except TransportError as e:
            raise LinkError(f"{e}; {collector.describe_missing()}") from None
        except BoardError as e:
            if "output lost from step" in str(e):  # already says what was lost
                raise
            raise type(e)(f"{e}; {collector.describe_missing()}") from None

    def _finish_loop(self, collector: _OutputCollector, sender: _InputSender | None) -> RunResult:
        idle_since = time.monotonic()
        stalls = 0
        board_step = -1
        while not collector.complete:
            if sender is not None:
                sender.fill()
            frames = self._next_frames(self.timeout / 4)
            progressed = collector.take(frames)
            if sender is not None:
                progressed |= sender.take(frames)
            if progressed:
                idle_since, stalls = time.monotonic(), 0
                continue
            if time.monotonic() - idle_since < self.timeout:
                continue
            stalls += 1
            self.stats.stalls += 1
            if stalls > self.retries:
                raise LinkError(
                    f"run stalled on '{self.link.name}': nothing for {stalls} timeouts of "
                    f"{self.timeout:g} s; {collector.describe_missing()}"
                )
            status = self._recover(collector, sender)
            if status.step != board_step:  # a slow board, still computing: not a stall
                board_step, stalls = status.step, 0
            idle_since = time.monotonic()
        return RunResult(collector.first, collector.steps, self.stats)

    def _recover(self, collector: _OutputCollector,
                 sender: _InputSender | None) -> p.Status:
        """After silence: ask the board where it is, then resend what it lacks."""
        status = self.status()
        # Stream frames that came in while waiting for the answer were sent before it (the
        # link keeps order), so the board counts them as sent.  Take them before comparing:
        # asking for them again would replay frames that then arrive after the run, and ask
        # for ones the board may no longer hold (GONE) although the host has them.
        early = list(self._backlog)
        self._backlog.clear()
        collector.take(early)
        if sender is not None:
            sender.take(early)
        if self._boot_count is not None and status.boot_count != self._boot_count:
            raise BoardResetError(
                f"board on '{self.link.name}' reset during the run (boot count "
                f"{self._boot_count} -> {status.boot_count}): {collector.describe_missing()}; "
                "its configuration and learnt weights are gone: load the network again"
            )
        if status.state is p.BoardState.IDLE:
            raise BoardError(
                f"board on '{self.link.name}' is idle in the middle of the run: "
                f"{collector.describe_missing()}"
            )
        collector.request_missing(status.next_output_seq)
        if sender is not None:  # resend only what the board has not received
            sender.go_back(sender.index_of(status.next_input_seq))
        return status


def _regions(commands: list[tuple[Op, int, int]]) -> list[tuple[p.Memory, int, np.ndarray]]:
    """Group command words into runs of consecutive addresses of one memory."""
    regions: list[tuple[p.Memory, int, list[int]]] = []
    for op, addr, data in commands:
        memory = MEMORY_OF_OP[op]
        if regions and regions[-1][0] is memory and regions[-1][1] + len(regions[-1][2]) == addr:
            regions[-1][2].append(data)
        else:
            regions.append((memory, addr, [data]))
    return [(m, a, np.array(w, dtype=np.uint64 if max(w) < 1 << 64 else object))
            for m, a, w in regions]


class _InputSender:
    """Go-back-N sender of INPUT frames within the board's credits."""

    def __init__(self, session: Session, source: Iterator[np.ndarray], first: int,
                 n_steps: int, block_steps: int = BLOCK_STEPS) -> None:
        self.s = session
        self.block_steps = block_steps
        info = session._info()
        self.id_bits = info.input_id_bits
        self.slots = info.input_slots
        # frames not yet consumed by the board, by input frame number (older ones are dropped,
        # so a long stream does not keep its whole history)
        self.frames: dict[int, bytes] = {}
        self.made = 0  # input frames made so far
        self.base = 0  # oldest frame not yet consumed by the board
        self.next = 0  # next frame to send
        self._source = source
        self._next_step = first
        self._end_step = first + n_steps
        self._n_inputs = info.n_inputs

    def _make_frame(self) -> bool:
        if self._next_step >= self._end_step:
            return False
        n = min(self.block_steps, self._end_step - self._next_step)
        steps = list(itertools.islice(self._source, n))
        steps += [np.zeros(0, np.int32)] * (n - len(steps))  # an iterator that ran dry
        # a block lists each step's ids once, ascending (a repeated input spike in one step
        # is one spike, as the core takes it)
        steps = [np.unique(np.asarray(ids, dtype=np.int64)) for ids in steps]
        for k, ids in enumerate(steps):
            if ids.size and (ids.min() < 0 or ids.max() >= self._n_inputs):
                bad = int(ids[(ids < 0) | (ids >= self._n_inputs)][0])
                raise ValueError(
                    f"input spike to input {bad} at step {self._next_step + k}: the board has "
                    f"inputs 0..{self._n_inputs - 1}"
                )
        for block in p.split_spike_blocks(self._next_step, steps, self.id_bits,
                                          max_steps=self.block_steps):
            payload = block.encode(self.id_bits, "INPUT")
            self.frames[self.made] = p.encode_frame(p.FrameType.INPUT,
                                                    self.made % p.SEQ_MODULUS, payload)
            self.made += 1
        self._next_step += n
        return True

    def fill(self) -> None:
        while self.next - self.base < self.slots:
            if self.next >= self.made and not self._make_frame():
                return
            self.s.link.write(self.frames[self.next])
            self.next += 1

    def index_of(self, seq: int) -> int | None:
        k = self.base + p.seq_distance(self.base % p.SEQ_MODULUS, seq)
        return k if k <= self.next else None

    def take(self, frames: list[p.Frame]) -> bool:
        progressed = False
        for f in frames:
            if f.type is p.FrameType.CREDIT:
                k = self.index_of(p.Credit.decode(f.payload).next_seq)
                if k is not None and k > self.base:
                    for done in range(self.base, k):
                        self.frames.pop(done, None)
                    self.base = k
                    progressed = True
            elif f.type is p.FrameType.ERROR:
                err = p.ErrorReply.decode(f.payload)
                if err.cause != p.FrameType.INPUT:
                    continue
                if err.code in (p.ErrorCode.SEQ_GAP, p.ErrorCode.OVERRUN,
                                p.ErrorCode.BAD_MESSAGE):
                    seq = err.detail if err.code is p.ErrorCode.SEQ_GAP else f.seq
                    self.go_back(self.index_of(seq % p.SEQ_MODULUS))
                elif err.code is p.ErrorCode.STEP_MISMATCH:
                    raise BoardError(
                        f"board expected input for step {err.detail} but got a block for "
                        "another step: host and board disagree about time; reset and reload"
                    )
                elif err.code is p.ErrorCode.NOT_RUNNING:
                    k = self.index_of(err.detail % p.SEQ_MODULUS)
                    if k is not None and k < self.base:
                        continue  # a late resend of a frame the board already consumed
                    raise BoardError(
                        f"board on '{self.s.link.name}' is not running but received input "
                        f"(input frame seq {f.seq}): the run ended or the board was reset"
                    )
        return progressed

    def go_back(self, index: int | None) -> None:
        index = self.base if index is None else max(index, self.base)
        if index < self.next:
            self.s.stats.input_resent += self.next - index
            self.next = index


class _OutputCollector:
    """Puts OUTPUT frames in order, asks for missing ones, and knows what is missing."""

    def __init__(self, session: Session, first: int,
                 on_step: Callable[[int, np.ndarray], None] | None) -> None:
        self.s = session
        self.first = first
        self.steps: list[np.ndarray] = []
        self.n_steps = -1  # unknown until the run length is
        self.next_seq = 0
        self.pending: dict[int, p.SpikeBlock] = {}
        self._carry: np.ndarray | None = None  # a step's ids that go on in the next block
        self.on_step = on_step
        self._asked: set[int] = set()

    @property
    def complete(self) -> bool:
        return self.n_steps >= 0 and len(self.steps) >= self.n_steps

    def take(self, frames: list[p.Frame]) -> bool:
        progressed = False
        id_bits = self.s._info().neuron_id_bits
        for f in frames:
            if f.type is p.FrameType.ERROR:
                err = p.ErrorReply.decode(f.payload)
                if err.code is p.ErrorCode.GONE:
                    raise StreamLostError(
                        f"output frame {self.next_seq} is no longer held by the board (oldest "
                        f"kept: {err.detail}): {self.describe_missing()}; nothing after step "
                        f"{self.first + len(self.steps) - 1} can be trusted"
                    )
                continue
            if f.type is not p.FrameType.OUTPUT:
                continue
            ahead = p.seq_distance(self.next_seq, f.seq)
            if ahead >= p.SEQ_MODULUS // 2:
                continue  # a duplicate we already have
            self.pending[f.seq] = p.SpikeBlock.decode(f.payload, id_bits, "OUTPUT")
            if ahead:
                self.request_missing(f.seq)
            while self.next_seq in self.pending:
                self._accept(self.pending.pop(self.next_seq))
                self._asked.discard(self.next_seq)
                self.next_seq = p.seq_add(self.next_seq, 1)
                progressed = True
        return progressed

    def _accept(self, block: p.SpikeBlock) -> None:
        expected = self.first + len(self.steps)
        if block.first_step != expected:
            raise BoardError(
                f"output frame covers steps from {block.first_step}, expected step {expected}: "
                "host and board disagree about time"
            )
        steps = list(block.steps)
        if self._carry is not None and steps:  # the rest of a step too big for one frame
            steps[0] = np.concatenate([self._carry, steps[0]])
            self._carry = None
        if block.continued:
            self._carry = steps.pop()
        for k, ids in enumerate(steps):
            self.steps.append(ids)
            if self.on_step is not None:
                self.on_step(block.first_step + k, ids)

    def request_missing(self, upto_seq: int) -> None:
        """RESEND every output seq from the next expected one up to (not incl.) ``upto_seq``."""
        seq = self.next_seq
        while seq != upto_seq:
            if seq not in self.pending:
                self.s.stats.output_resend_requests += 1
                self.s._send(p.FrameType.RESEND, 0, bytes([seq]))
                self._asked.add(seq)
            seq = p.seq_add(seq, 1)

    def describe_missing(self) -> str:
        got = len(self.steps)
        end = "the end of the run" if self.n_steps < 0 else \
            f"step {self.first + self.n_steps - 1}"
        return (f"output received for steps {self.first}..{self.first + got - 1} "
                f"({got} steps); output lost from step {self.first + got} to {end}"
                if got else f"no output received; output lost from step {self.first} to {end}")
