"""The wire format between the host and a spikeport FPGA core: the single source of truth.

Everything that puts bytes on the UART or takes them off (the host session, the simulated
boards, the device-side gateware and its tests) uses the constants, the payload table
(``PAYLOADS``: every message's fields with their byte offsets) and the codecs here;
``docs/protocol.md`` is the specification for people, and says why.

A frame on the wire is ``COBS(type | seq | payload | crc16) 0x00``:

* COBS framing gives a unique delimiter (``0x00``), so a receiver resynchronises at the next
  zero after any corruption, at a cost of one byte per 254 (Cheshire & Baker, 1999).  Only
  the canonical encoding (what ``cobs_encode`` produces) is accepted.
* CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) over type, seq and payload.  We chose it over
  CRC-32 because frames are short (at most ``MAX_PAYLOAD`` + 4 bytes, far below the 32,751-bit
  limit up to which this polynomial keeps Hamming distance 4), every burst of up to 16 bits is
  caught, and streaming frames are small enough that two more bytes per frame would cost a
  measurable share of the line rate.  In gateware it is a 16-bit LFSR.
* ``seq`` numbers requests (a reply echoes it; a repeated request is answered from the reply
  cache, so retries are idempotent), input-spike frames (go-back-N), and output frames
  (the host asks for a missing one by number).

Spikes travel in step blocks: the first step number and the number of steps, then one record
per step that has spikes: a varint header ``gap << 2 | min(count, 4) - 1`` (``gap`` = silent
steps since the previous record; a count of 4 or more follows as a varint of ``count - 4``)
and the ids, strictly ascending.  Ids take one byte when the build has at most 256 neurons
(inputs), else two.
"""

from __future__ import annotations

import enum
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields

import numpy as np

from toolchain.targets.fpga.spec import CoreSpec, Op

PROTOCOL_VERSION = 1
# Largest payload of one frame.  Bounded so that a receiver's frame buffer is a fixed-size
# BRAM (1 KiB + header + CRC + COBS overhead fits one iCE40 EBR pair) and a lost frame
# costs little line time to resend (1 ms at 1 Mbaud per 100 bytes).
MAX_PAYLOAD = 1024
HEADER_SIZE = 2  # type, seq
CRC_SIZE = 2
MIN_FRAME = HEADER_SIZE + CRC_SIZE
MAX_FRAME = HEADER_SIZE + MAX_PAYLOAD + CRC_SIZE
# COBS adds one code byte per 254 data bytes (plus one); the delimiter is extra.
MAX_ENCODED = MAX_FRAME + MAX_FRAME // 254 + 1
DELIMITER = 0x00
SEQ_MODULUS = 256
# Steps one spike block may cover: its step count is a u16, and a bound keeps a lost frame
# from costing more than a few hundred steps of resend.
MAX_BLOCK_STEPS = 4096
CONTINUED = 0x8000  # n_steps flag: the block's last step goes on in the next block
# Steps of an unstreamed run that go into one OUTPUT frame (fewer if they do not fit): a
# host sees a long run's spikes every 64 steps, and a lost frame costs 64 steps to resend.
OUTPUT_BLOCK_STEPS = 64
# RUN's steps: 0 runs free until STOP; 0xFFFFFFFF is refused, because STATUS reports a free
# run's steps_left as 0xFFFFFFFF and the two must not be confused.
FREE_RUN = 0xFFFFFFFF
MAX_RUN_STEPS = FREE_RUN - 1


class ProtocolError(ValueError):
    """Bytes that do not form a valid spikeport frame or message."""


class FrameError(ProtocolError):
    """A frame damaged on the wire: bad COBS, bad length or CRC mismatch."""


class UnknownTypeError(FrameError):
    """An intact frame (COBS, length and CRC good) whose type byte is no ``FrameType``.  A
    host drops it; a board answers an unknown host-to-board type with ``UNSUPPORTED``."""

    def __init__(self, message: str, type_byte: int, seq: int) -> None:
        super().__init__(message)
        self.type_byte, self.seq = type_byte, seq


class MessageError(ProtocolError):
    """A frame that arrived intact but whose payload does not fit its message type.

    ``offset``: the payload byte where the offending field starts: the field that is
    missing, incomplete, out of range, or the first trailing byte.  A board reports it as the
    detail of ``ERROR(BAD_MESSAGE)``, and the gateware computes the same number, so it is a
    structured field, not parsed from text."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


# --------------------------------------------------------------------------- CRC


CRC16_POLY = 0x1021
CRC16_INIT = 0xFFFF


def _crc16_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ CRC16_POLY) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC16 = _crc16_table()


def crc16(data: bytes | bytearray | memoryview, crc: int = CRC16_INIT) -> int:
    """CRC-16/CCITT-FALSE (check value of b"123456789" is 0x29B1).  Run over a frame body
    followed by its big-endian CRC it gives 0, which is how the gateware checks a frame."""
    for byte in bytes(data):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC16[((crc >> 8) ^ byte) & 0xFF]
    return crc


# --------------------------------------------------------------------------- COBS


def cobs_encode(data: bytes | bytearray) -> bytes:
    """Consistent Overhead Byte Stuffing: ``data`` without any zero byte (no delimiter)."""
    out = bytearray([0])
    code_at, code = 0, 1
    for byte in data:
        if byte == 0:
            out[code_at] = code
            code_at, code = len(out), 1
            out.append(0)
            continue
        out.append(byte)
        code += 1
        if code == 0xFF:
            out[code_at] = code
            code_at, code = len(out), 1
            out.append(0)
    out[code_at] = code
    return bytes(out)


def cobs_decode(data: bytes | bytearray) -> bytes:
    """Undo ``cobs_encode``; raise ``FrameError`` naming the offending byte.  Only the
    canonical encoding is accepted: a frame that ends with a full block (code 0xFF) must
    close with an empty one (0x01), as ``cobs_encode`` writes it, so that every frame has
    exactly one encoding."""
    out = bytearray()
    i, n = 0, len(data)
    if n == 0:
        raise FrameError("COBS: empty frame (two delimiters in a row)")
    while i < n:
        code = data[i]
        if code == 0:
            raise FrameError(f"COBS: zero byte at offset {i} inside a frame of {n} bytes")
        end = i + code
        if end > n:
            raise FrameError(
                f"COBS: code byte 0x{code:02x} at offset {i} points to offset {end}, "
                f"past the end of the {n}-byte frame"
            )
        block = data[i + 1 : end]
        if 0 in block:
            raise FrameError(
                f"COBS: zero byte at offset {i + 1 + bytes(block).index(0)} inside a frame "
                f"of {n} bytes"
            )
        out += block
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    if code == 0xFF:
        raise FrameError(f"COBS: the frame of {n} bytes ends with a full block (code 0xff at "
                         f"offset {n - 255}) and no closing 0x01: not the canonical encoding")
    return bytes(out)


# --------------------------------------------------------------------------- frame types


class FrameType(enum.IntEnum):
    """Byte 0 of every frame.  Host-to-board types are below 0x80, board-to-host above."""

    HELLO = 0x01  # u8 protocol version                      -> HELLO_REPLY
    RESET = 0x02  # u8 ResetScope                            -> ACK
    CONFIG = 0x03  # Config                                  -> ACK
    WRITE = 0x04  # u8 memory, u32 address, words            -> ACK
    READ = 0x05  # u8 memory, u32 address, u16 count         -> DATA
    RUN = 0x06  # u32 steps (0 = free-run), u8 RunFlags      -> ACK
    STOP = 0x07  # (empty)                                   -> ACK (value = step reached)
    INPUT = 0x08  # step block of input spikes (own seq space: go-back-N)
    STATUS = 0x09  # (empty)                                 -> STATUS_REPLY
    RESEND = 0x0A  # u8 output seq                           -> the OUTPUT frame again

    ACK = 0x80  # u8 acknowledged type, u32 value
    HELLO_REPLY = 0x81  # BuildInfo
    DATA = 0x85  # u8 memory, u32 address, words
    OUTPUT = 0x88  # step block of output spikes (board's own seq space)
    STATUS_REPLY = 0x89  # Status
    CREDIT = 0x8A  # u8 next expected input seq, u8 free input slots
    ERROR = 0x8E  # u8 ErrorCode, u8 type that caused it, u32 detail
    BOOT = 0x8F  # u32 boot count: sent unsolicited after every power-up or reset

    @property
    def from_host(self) -> bool:
        return self < 0x80


class ResetScope(enum.IntEnum):
    STATE = 0  # neuron state, traces, delay ring, step counter, run; keeps the other memories
    ALL = 1  # that, and every memory as after power-up


class Memory(enum.IntEnum):
    """Word-addressed memories of the core, each with the width and depth of BuildInfo."""

    NEURON = 0  # per-neuron parameter words
    SYNAPSE = 1  # synapse words (target, weight, delay packed by the FPGA encoder)
    ROW = 2  # per-source row pointers into SYNAPSE
    STDP = 3  # STDP parameter words
    STATE = 4  # per-neuron state words (v, i, refractory count); written to set v_init


class RunFlags(enum.IntFlag):
    NONE = 0
    STREAMED = 1  # wait for INPUT frames covering each step before computing it


class ErrorCode(enum.IntEnum):
    BAD_VERSION = 1  # detail: the board's protocol version
    BAD_MESSAGE = 2  # detail: offending payload byte offset
    BAD_ADDRESS = 3  # detail: first address outside the memory
    NOT_READABLE = 4  # READ of a memory this build cannot read back; detail: memory id
    BUSY = 5  # a command that needs the core idle arrived during a run; detail: step
    SEQ_GAP = 6  # INPUT out of order; detail: the expected input seq
    GONE = 7  # RESEND of an output seq no longer kept; detail: oldest kept seq
    NOT_RUNNING = 8  # INPUT with no streamed run in progress; detail: the INPUT frame's seq
    OVERRUN = 9  # input frame arrived with no free slot; detail: dropped seq
    STEP_MISMATCH = 10  # INPUT block does not start at the next step; detail: expected step
    UNSUPPORTED = 11  # a host-to-board type this board does not know; detail: the type


class BoardState(enum.IntEnum):
    IDLE = 0  # no run since power-up or RESET
    RUNNING = 1
    DONE = 2  # the last run completed or was stopped


@dataclass(frozen=True)
class Frame:
    """One decoded frame: type, sequence number and raw payload."""

    type: FrameType
    seq: int
    payload: bytes = b""


def encode_frame(frame_type: FrameType, seq: int, payload: bytes = b"") -> bytes:
    """The bytes to put on the wire for one frame, delimiter included."""
    if not 0 <= seq < SEQ_MODULUS:
        raise ProtocolError(f"frame seq {seq} is outside 0..{SEQ_MODULUS - 1}")
    if len(payload) > MAX_PAYLOAD:
        raise ProtocolError(
            f"{FrameType(frame_type).name} payload of {len(payload)} bytes exceeds "
            f"MAX_PAYLOAD = {MAX_PAYLOAD}; split it into several frames"
        )
    body = bytes([int(frame_type), seq]) + payload
    crc = crc16(body)
    return cobs_encode(body + crc.to_bytes(2, "big")) + b"\x00"


def decode_frame(encoded: bytes | bytearray) -> Frame:
    """Decode one frame (without its delimiter); raise ``FrameError`` on any damage."""
    if len(encoded) > MAX_ENCODED:
        raise FrameError(f"frame of {len(encoded)} bytes exceeds MAX_ENCODED = {MAX_ENCODED}")
    raw = cobs_decode(encoded)
    if len(raw) > MAX_FRAME:
        raise FrameError(f"frame of {len(raw)} bytes exceeds MAX_FRAME = {MAX_FRAME}")
    if len(raw) < HEADER_SIZE + CRC_SIZE:
        raise FrameError(
            f"frame of {len(raw)} bytes is shorter than the {HEADER_SIZE + CRC_SIZE}-byte "
            "minimum (type, seq, crc16)"
        )
    body, sent = raw[:-CRC_SIZE], int.from_bytes(raw[-CRC_SIZE:], "big")
    computed = crc16(body)
    if sent != computed:
        raise FrameError(
            f"CRC mismatch: frame says 0x{sent:04x}, computed 0x{computed:04x} over "
            f"{len(body)} bytes (type byte 0x{body[0]:02x}, seq {body[1]})"
        )
    try:
        frame_type = FrameType(body[0])
    except ValueError:
        raise UnknownTypeError(f"unknown frame type 0x{body[0]:02x} at byte 0", body[0],
                               body[1]) from None
    return Frame(frame_type, body[1], bytes(body[HEADER_SIZE:]))


class FrameReader:
    """Splits a byte stream into frames; never blocks and never grows without bound.

    ``feed`` returns decoded frames and ``FrameError``s in arrival order.  After any damage
    the reader resynchronises at the next delimiter, so one bad frame costs only itself.
    """

    def __init__(self, max_encoded: int = MAX_ENCODED) -> None:
        self._buffer = bytearray()
        self._max = max_encoded
        self._overlong = False
        self.frames_ok = 0
        self.frames_bad = 0

    def feed(self, data: bytes | bytearray) -> list[Frame | FrameError]:
        out: list[Frame | FrameError] = []
        data = bytes(data)
        start = 0
        while True:
            zero = data.find(0, start)
            if zero < 0:
                self._append(data[start:], out)
                return out
            self._append(data[start:zero], out)
            start = zero + 1
            if self._overlong:
                self._overlong = False
                self._buffer.clear()
                continue
            if self._buffer:
                try:
                    out.append(decode_frame(self._buffer))
                    self.frames_ok += 1
                except FrameError as e:
                    self.frames_bad += 1
                    out.append(e)
                self._buffer.clear()

    def _append(self, data: bytes | bytearray, out: list[Frame | FrameError]) -> None:
        if self._overlong or not data:
            return
        self._buffer += data
        if len(self._buffer) > self._max:
            self.frames_bad += 1
            out.append(
                FrameError(
                    f"no delimiter within {self._max} bytes (MAX_ENCODED); "
                    "discarding up to the next 0x00"
                )
            )
            self._buffer.clear()
            self._overlong = True


# --------------------------------------------------------------------------- payload table

# A field's value -> why it is refused, or None.
Check = Callable[[int], str | None]


@dataclass(frozen=True)
class Field:
    """One fixed-size, little-endian field of a payload."""

    name: str
    offset: int
    size: int  # bytes

    @property
    def end(self) -> int:
        return self.offset + self.size


@dataclass(frozen=True)
class Layout:
    """A payload: fixed fields at fixed offsets, then a variable ``tail`` (WRITE's words, a
    block's records) or nothing.  ``PAYLOADS`` holds one per frame type; the codecs here,
    the Python board and the gateware read their offsets and lengths from it."""

    what: str
    fields: tuple[Field, ...]
    tail: str | None = None  # what follows the fixed fields; None: nothing may

    @classmethod
    def of(cls, what: str, *sizes: tuple[str, int], tail: str | None = None) -> Layout:
        out, offset = [], 0
        for name, size in sizes:
            out.append(Field(name, offset, size))
            offset += size
        return cls(what, tuple(out), tail)

    @property
    def size(self) -> int:
        """Bytes of the fixed fields."""
        return self.fields[-1].end if self.fields else 0

    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.what} has no field '{name}'")

    def pack(self, values: Mapping[str, int]) -> bytes:
        return b"".join(int(values[f.name]).to_bytes(f.size, "little") for f in self.fields)

    def unpack(self, payload: bytes, checks: Mapping[str, Check] | None = None) -> dict[str, int]:
        """The fixed fields' values.  The first field (in payload order) that is missing,
        incomplete or refused by its check raises ``MessageError`` at its offset; then a
        payload longer than the fixed fields, unless the layout has a tail."""
        checks = checks or {}
        values: dict[str, int] = {}
        for f in self.fields:
            if len(payload) < f.end:
                raise MessageError(
                    f"{self.what}: field '{f.name}' needs {f.size} bytes at offset {f.offset}, "
                    f"but the payload has {len(payload)} bytes", f.offset)
            value = int.from_bytes(payload[f.offset:f.end], "little")
            check = checks.get(f.name)
            why = check(value) if check is not None else None
            if why is not None:
                raise MessageError(f"{self.what}: field '{f.name}' = {value} {why}", f.offset)
            values[f.name] = value
        if self.tail is None and len(payload) > self.size:
            raise MessageError(
                f"{self.what}: {len(payload) - self.size} unexpected trailing bytes at offset "
                f"{self.size}", self.size)
        return values


BLOCK = Layout.of("spike block", ("first_step", 4), ("n_steps", 2), tail="records")
BLOCK_HEADER_SIZE = BLOCK.size
BUILD_INFO = Layout.of(
    "HELLO_REPLY", ("protocol_version", 1), ("build_id", 4), ("n_neurons", 4),
    ("n_inputs", 4), ("n_synapses", 4), ("v_bits", 1), ("i_bits", 1), ("w_bits", 1),
    ("acc_bits", 1), ("trace_bits", 1), ("ref_bits", 1), ("delay_bits", 1), ("readable", 1),
    ("input_slots", 1), ("output_window", 1), ("clock_hz", 4), ("baud", 4),
    ("receptors", 1), ("i_frac", 1))
STATUS = Layout.of(
    "STATUS_REPLY", ("state", 1), ("step", 4), ("steps_left", 4), ("next_output_seq", 1),
    ("next_input_seq", 1), ("boot_count", 4), ("rx_frames", 4), ("crc_errors", 4),
    ("seq_errors", 4), ("overruns", 4), ("tx_frames", 4), ("resends", 4))
PAYLOADS: dict[FrameType, Layout] = {
    FrameType.HELLO: Layout.of("HELLO", ("version", 1)),
    FrameType.RESET: Layout.of("RESET", ("scope", 1)),
    FrameType.CONFIG: Layout.of("CONFIG", ("n_neurons", 2), ("n_inputs", 2), ("seed", 4)),
    FrameType.WRITE: Layout.of("WRITE", ("memory", 1), ("address", 4), tail="words"),
    FrameType.READ: Layout.of("READ", ("memory", 1), ("address", 4), ("count", 2)),
    FrameType.RUN: Layout.of("RUN", ("steps", 4), ("flags", 1)),
    FrameType.STOP: Layout.of("STOP"),
    FrameType.INPUT: Layout("INPUT", BLOCK.fields, BLOCK.tail),
    FrameType.STATUS: Layout.of("STATUS"),
    FrameType.RESEND: Layout.of("RESEND", ("seq", 1)),
    FrameType.ACK: Layout.of("ACK", ("acked", 1), ("value", 4)),
    FrameType.HELLO_REPLY: BUILD_INFO,
    FrameType.DATA: Layout.of("DATA", ("memory", 1), ("address", 4), tail="words"),
    FrameType.OUTPUT: Layout("OUTPUT", BLOCK.fields, BLOCK.tail),
    FrameType.STATUS_REPLY: STATUS,
    FrameType.CREDIT: Layout.of("CREDIT", ("next_seq", 1), ("free", 1)),
    FrameType.ERROR: Layout.of("ERROR", ("code", 1), ("cause", 1), ("detail", 4)),
    FrameType.BOOT: Layout.of("BOOT", ("boot_count", 4)),
}
assert set(PAYLOADS) == set(FrameType)


def one_of(cls: type[enum.IntEnum]) -> Check:
    """A check that a field holds one of ``cls``'s values."""
    allowed = ", ".join(f"{m.value}={m.name}" for m in cls)

    def check(value: int) -> str | None:
        return None if value in cls._value2member_map_ else f"is not one of {allowed}"

    return check


def encode_varint(value: int) -> bytes:
    """LEB128 (7 bits per byte, low group first) for a non-negative int below 2**32."""
    if not 0 <= value < 1 << 32:
        raise ProtocolError(f"varint value {value} is outside 0..2**32-1")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


MAX_VARINT_BYTES = 5


def decode_varint(payload: bytes, pos: int, what: str) -> tuple[int, int]:
    """(value, position after it) of the LEB128 varint at ``pos``.  Refused at ``pos``: one
    cut by the end of the payload, longer than 5 bytes, or not minimal (a last byte of 0
    after others: ``encode_varint`` never writes one)."""
    value = 0
    for k in range(MAX_VARINT_BYTES):
        if pos + k >= len(payload):
            raise MessageError(f"{what}: varint at offset {pos} is cut by the end of the "
                               f"{len(payload)}-byte payload", pos)
        byte = payload[pos + k]
        value |= (byte & 0x7F) << (7 * k)
        if not byte & 0x80:
            if k and byte == 0:
                raise MessageError(f"{what}: varint at offset {pos} is not minimal (it ends "
                                   "with a zero byte)", pos)
            return value, pos + k + 1
    raise MessageError(f"{what}: varint at offset {pos} is longer than {MAX_VARINT_BYTES} bytes",
                       pos)


# --------------------------------------------------------------------------- build info


# Memory -> the word layout of the core spec it carries (toolchain/targets/fpga/spec.py).
MEMORY_LAYOUT: dict[Memory, str] = {
    Memory.NEURON: "neuron_params",
    Memory.STATE: "neuron_state",
    Memory.ROW: "row",
    Memory.SYNAPSE: "synapse",
    Memory.STDP: "stdp",
}
# Memory -> the core command that writes one of its words (spec.Op), and for the memories the
# core's command stream can read back, the one that reads it.
WRITE_OP: dict[Memory, Op] = {
    Memory.NEURON: Op.NEURON_PARAMS,
    Memory.STATE: Op.NEURON_STATE,
    Memory.ROW: Op.ROW,
    Memory.SYNAPSE: Op.SYNAPSE,
    Memory.STDP: Op.STDP,
}
READ_OP: dict[Memory, Op] = {Memory.SYNAPSE: Op.READ_SYNAPSE, Memory.STATE: Op.READ_STATE}
_SPEC_FIELDS = ("n_neurons", "n_inputs", "n_synapses", "v_bits", "i_bits", "w_bits",
                "acc_bits", "trace_bits", "ref_bits", "delay_bits")
# a build id hashes these only where they differ from their defaults (older builds keep
# their ids)
_LATER_FIELDS = {"receptors": 1, "i_frac": 0}
ALL_READABLE = sum(1 << m for m in Memory)
CORE_READABLE = sum(1 << m for m in READ_OP)  # what a board built on the core's RTL reads


@dataclass(frozen=True)
class BuildInfo:
    """What a board reports in the handshake: the core spec its gateware was built with,
    and the link parameters the host needs for flow control.

    An artifact records the build it was compiled for; the host refuses to load it onto a
    board whose ``build_id`` differs, because the memory word layouts would not match.
    """

    protocol_version: int  # u8
    build_id: int  # u32: build_id_of(core spec parameters)
    n_neurons: int  # u32
    n_inputs: int  # u32
    n_synapses: int  # u32
    v_bits: int  # u8 (this and the next six: CoreSpec widths)
    i_bits: int
    w_bits: int
    acc_bits: int
    trace_bits: int
    ref_bits: int
    delay_bits: int
    readable: int  # u8 bit mask over Memory: which memories READ can return
    input_slots: int  # u8: INPUT frames the board buffers (flow-control credits)
    output_window: int  # u8: OUTPUT frames the board keeps for RESEND
    clock_hz: int  # u32
    baud: int  # u32
    receptors: int  # u8: synaptic currents per neuron (CoreSpec.receptors), word layouts
    i_frac: int  # u8: fractional bits of the currents (CoreSpec.i_frac)

    @classmethod
    def from_spec(cls, spec: CoreSpec, *, input_slots: int = 8, output_window: int = 32,
                  clock_hz: int = 0, baud: int = 0,
                  readable: int = ALL_READABLE) -> BuildInfo:
        return cls(PROTOCOL_VERSION, spec_build_id(spec),
                   *(getattr(spec, name) for name in _SPEC_FIELDS),
                   readable, input_slots, output_window, clock_hz, baud, spec.receptors,
                   spec.i_frac)

    def spec(self) -> CoreSpec:
        return CoreSpec(**{name: getattr(self, name)
                           for name in (*_SPEC_FIELDS, *_LATER_FIELDS)})

    def encode(self) -> bytes:
        return BUILD_INFO.pack({f.name: getattr(self, f.name) for f in fields(self)})

    @classmethod
    def decode(cls, payload: bytes) -> BuildInfo:
        return cls(**BUILD_INFO.unpack(payload))

    def word_bits(self, memory: Memory) -> int:
        return self.spec().width(MEMORY_LAYOUT[memory])

    def depth(self, memory: Memory) -> int:
        return {
            Memory.NEURON: self.n_neurons, Memory.STATE: self.n_neurons,
            Memory.ROW: self.n_neurons + self.n_inputs, Memory.SYNAPSE: self.n_synapses,
            Memory.STDP: 1,
        }[memory]

    def word_bytes(self, memory: Memory) -> int:
        return (self.word_bits(memory) + 7) // 8

    def can_read(self, memory: Memory) -> bool:
        return bool(self.readable >> int(memory) & 1)

    @property
    def neuron_id_bits(self) -> int:
        """Width of an output spike's neuron id (step records, see ``encode_record``)."""
        return max(1, (self.n_neurons - 1).bit_length())

    @property
    def input_id_bits(self) -> int:
        """Width of an input spike's id."""
        return max(1, (self.n_inputs - 1).bit_length())

    @property
    def neuron_id_bytes(self) -> int:
        return id_bytes_of(self.neuron_id_bits)

    @property
    def input_id_bytes(self) -> int:
        return id_bytes_of(self.input_id_bits)

    def describe_difference(self, other: BuildInfo) -> str:
        """Field-by-field difference, for an error message that says what differs."""
        diffs = [
            f"{f.name}: {getattr(self, f.name)} vs {getattr(other, f.name)}"
            for f in fields(self)
            if f.name != "build_id" and getattr(self, f.name) != getattr(other, f.name)
        ]
        return "; ".join(diffs) if diffs else "no difference"


assert [f.name for f in fields(BuildInfo)] == [f.name for f in BUILD_INFO.fields]


def spec_build_id(spec: CoreSpec) -> int:
    """A stable 32-bit identity of a core build: CRC-32 of its generator parameters."""
    text = ";".join(f"{name}={getattr(spec, name)}" for name in _SPEC_FIELDS)
    text += "".join(f";{name}={getattr(spec, name)}" for name, default in _LATER_FIELDS.items()
                    if getattr(spec, name) != default)
    return zlib.crc32(text.encode()) & 0xFFFFFFFF


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True)
class Ack:
    acked: FrameType
    value: int = 0

    def encode(self) -> bytes:
        return PAYLOADS[FrameType.ACK].pack({"acked": self.acked, "value": self.value})

    @classmethod
    def decode(cls, payload: bytes) -> Ack:
        v = PAYLOADS[FrameType.ACK].unpack(payload, {"acked": one_of(FrameType)})
        return cls(FrameType(v["acked"]), v["value"])


@dataclass(frozen=True)
class ErrorReply:
    code: ErrorCode
    cause: int  # the frame type byte that caused it
    detail: int = 0

    def encode(self) -> bytes:
        return PAYLOADS[FrameType.ERROR].pack(
            {"code": self.code, "cause": self.cause, "detail": self.detail})

    @classmethod
    def decode(cls, payload: bytes) -> ErrorReply:
        v = PAYLOADS[FrameType.ERROR].unpack(payload, {"code": one_of(ErrorCode)})
        return cls(ErrorCode(v["code"]), v["cause"], v["detail"])


def _at_most(limit: int, what: str) -> Check:
    return lambda value: None if value <= limit else f"exceeds {what} ({limit})"


@dataclass(frozen=True)
class Config:
    """The image's size, stated before it is written; a board refuses one larger than its
    build.  Version 1 keeps nothing else from it."""

    n_neurons: int  # u16 neurons in use (<= the build's)
    n_inputs: int  # u16 input channels in use (<= the build's)
    seed: int = 0  # u32, reserved: must be 0 (no version-1 core has on-chip randomness)

    def encode(self) -> bytes:
        return PAYLOADS[FrameType.CONFIG].pack(
            {"n_neurons": self.n_neurons, "n_inputs": self.n_inputs, "seed": self.seed})

    @classmethod
    def decode(cls, payload: bytes, info: BuildInfo | None = None) -> Config:
        """With ``info`` (a board), the sizes must fit that build."""
        checks: dict[str, Check] = {
            "seed": lambda v: None if v == 0 else "is reserved and must be 0"}
        if info is not None:
            checks["n_neurons"] = _at_most(info.n_neurons, "the build's n_neurons")
            checks["n_inputs"] = _at_most(info.n_inputs, "the build's n_inputs")
        v = PAYLOADS[FrameType.CONFIG].unpack(payload, checks)
        return cls(v["n_neurons"], v["n_inputs"], v["seed"])


def _run_steps(value: int) -> str | None:
    return None if value != FREE_RUN else \
        f"is reserved (a free run's steps_left); at most {MAX_RUN_STEPS} steps, or 0 to run free"


def _run_flags(value: int) -> str | None:
    return None if not value & ~int(RunFlags.STREAMED) else "has unknown bits set"


@dataclass(frozen=True)
class RunCommand:
    steps: int  # u32; 0 = free-run until STOP; at most MAX_RUN_STEPS
    flags: RunFlags = RunFlags.NONE

    def encode(self) -> bytes:
        return PAYLOADS[FrameType.RUN].pack({"steps": self.steps, "flags": self.flags})

    @classmethod
    def decode(cls, payload: bytes) -> RunCommand:
        v = PAYLOADS[FrameType.RUN].unpack(payload, {"steps": _run_steps, "flags": _run_flags})
        return cls(v["steps"], RunFlags(v["flags"]))


@dataclass(frozen=True)
class MemoryWrite:
    memory: Memory
    address: int
    words: np.ndarray  # each < 2**word_bits: uint64, or Python ints for wider words

    def encode(self, info: BuildInfo) -> bytes:
        return PAYLOADS[FrameType.WRITE].pack({"memory": self.memory, "address": self.address}) \
            + pack_words(self.words, info.word_bits(self.memory), f"WRITE {self.memory.name}")

    @classmethod
    def decode(cls, payload: bytes, info: BuildInfo, what: str = "WRITE", *,
               widths: bool = True) -> MemoryWrite:
        """Refused (at the offset named): an unknown memory, a missing address, no word, a
        word cut by the end of the payload, and (``widths``) a word wider than the memory's.
        A board checks the widths itself, after the address range, as docs/protocol.md
        orders a WRITE's checks."""
        layout = PAYLOADS[FrameType.WRITE]
        v = layout.unpack(payload, {"memory": one_of(Memory)})
        memory = Memory(v["memory"])
        words = unpack_words(payload[layout.size:], info.word_bytes(memory),
                             f"{what} {memory.name}", layout.size)
        bits = info.word_bits(memory)
        for k, word in enumerate(words.tolist() if widths else ()):
            if int(word) >> bits:
                at = layout.size + k * info.word_bytes(memory)
                raise MessageError(f"{what} {memory.name}: word {k} = {int(word)} at offset {at} "
                                   f"does not fit in {bits} bits", at)
        return cls(memory, v["address"], words)

    @staticmethod
    def max_words(info: BuildInfo, memory: Memory) -> int:
        return (MAX_PAYLOAD - PAYLOADS[FrameType.WRITE].size) // info.word_bytes(memory)


@dataclass(frozen=True)
class MemoryRead:
    memory: Memory
    address: int
    count: int  # u16, 1 .. max_words of the memory

    def encode(self) -> bytes:
        return PAYLOADS[FrameType.READ].pack(
            {"memory": self.memory, "address": self.address, "count": self.count})

    @classmethod
    def decode(cls, payload: bytes, info: BuildInfo | None = None) -> MemoryRead:
        """With ``info`` (a board), the count must fit one DATA frame of that build."""
        memory: list[Memory] = []

        def check_memory(value: int) -> str | None:
            why = one_of(Memory)(value)
            if why is None:
                memory.append(Memory(value))
            return why

        def check_count(value: int) -> str | None:
            if value == 0:
                return "reads nothing; read at least one word"
            most = MemoryWrite.max_words(info, memory[0]) if info is not None else value
            return None if value <= most else \
                f"is more than one DATA frame holds ({most} {memory[0].name} words)"

        v = PAYLOADS[FrameType.READ].unpack(payload, {"memory": check_memory,
                                                      "count": check_count})
        return cls(Memory(v["memory"]), v["address"], v["count"])


@dataclass(frozen=True)
class MemoryData:
    memory: Memory
    address: int
    words: np.ndarray

    def encode(self, info: BuildInfo) -> bytes:
        return MemoryWrite(self.memory, self.address, self.words).encode(info)

    @classmethod
    def decode(cls, payload: bytes, info: BuildInfo) -> MemoryData:
        w = MemoryWrite.decode(payload, info, "DATA")
        return cls(w.memory, w.address, w.words)


def word_array(words: np.ndarray | Sequence[int], bits: int) -> np.ndarray:
    """Memory words as an array: uint64 while they fit, else Python ints (object), because
    some builds have parameter words wider than 64 bits (ecp5-85f's NEURON word is 72)."""
    return np.asarray(words, dtype=np.uint64 if bits <= 64 else object)


def pack_words(words: np.ndarray | Sequence[int], bits: int, what: str) -> bytes:
    """Little-endian words of ``ceil(bits/8)`` bytes; refuses a word that does not fit."""
    nbytes = (bits + 7) // 8
    if bits > 64:
        values = [int(w) for w in np.asarray(words, dtype=object).ravel()]
        for i, w in enumerate(values):
            if not 0 <= w < 1 << bits:
                raise ProtocolError(f"{what}: word {i} = {w} does not fit in {bits} bits")
        return b"".join(w.to_bytes(nbytes, "little") for w in values)
    arr = np.asarray(words, dtype=np.uint64)
    if arr.size and bits < 64:
        too_big = np.flatnonzero(arr >= np.uint64(1 << bits))
        if too_big.size:
            i = int(too_big[0])
            raise ProtocolError(
                f"{what}: word {i} = {int(arr[i])} does not fit in {bits} bits"
            )
    as_bytes = arr.astype("<u8").view(np.uint8).reshape(-1, 8)[:, :nbytes]
    return as_bytes.tobytes()


def unpack_words(data: bytes, nbytes: int, what: str, offset: int = 0) -> np.ndarray:
    """Words of ``nbytes`` bytes; ``offset``: where ``data`` starts in the payload, for the
    offset an error names (an empty list, or the word cut by the end of the payload)."""
    if not data:
        raise MessageError(f"{what}: no words at offset {offset}; send at least one", offset)
    if len(data) % nbytes:
        at = offset + len(data) // nbytes * nbytes
        raise MessageError(
            f"{what}: {len(data)} bytes of words is not a multiple of the {nbytes}-byte "
            f"word size (the word at offset {at} is cut)", at)
    if nbytes > 8:
        return np.array([int.from_bytes(data[k:k + nbytes], "little")
                         for k in range(0, len(data), nbytes)], dtype=object)
    raw = np.frombuffer(data, dtype=np.uint8).reshape(-1, nbytes)
    padded = np.zeros((raw.shape[0], 8), dtype=np.uint8)
    padded[:, :nbytes] = raw
    return padded.view("<u8").reshape(-1).astype(np.uint64)


@dataclass(frozen=True)
class Credit:
    next_seq: int  # every INPUT frame before this seq has been consumed
    free: int  # input slots free after that

    def encode(self) -> bytes:
        return PAYLOADS[FrameType.CREDIT].pack({"next_seq": self.next_seq, "free": self.free})

    @classmethod
    def decode(cls, payload: bytes) -> Credit:
        return cls(**PAYLOADS[FrameType.CREDIT].unpack(payload))


@dataclass(frozen=True)
class Status:
    """The board's state and error counters, so a host can tell what went wrong where
    (each one defined in docs/protocol.md)."""

    state: BoardState
    step: int  # steps computed since the last reset
    steps_left: int  # of the current run (FREE_RUN while free-running)
    next_output_seq: int  # the seq the next OUTPUT frame will carry
    next_input_seq: int
    boot_count: int
    rx_frames: int  # intact frames received, any type
    crc_errors: int  # frames dropped by the link checks (COBS, length, CRC)
    seq_errors: int  # INPUT frames ahead of the expected seq
    overruns: int  # INPUT frames with no free slot, commands while one was being answered
    tx_frames: int  # frames composed and sent (not replays)
    resends: int  # replays: cached replies and resent OUTPUT frames

    def encode(self) -> bytes:
        return STATUS.pack({f.name: int(getattr(self, f.name)) for f in fields(self)})

    @classmethod
    def decode(cls, payload: bytes) -> Status:
        values = STATUS.unpack(payload, {"state": one_of(BoardState)})
        values["state"] = BoardState(values["state"])
        return cls(**values)


assert [f.name for f in fields(Status)] == [f.name for f in STATUS.fields]


# --------------------------------------------------------------------------- spike blocks


@dataclass(frozen=True)
class SpikeBlock:
    """Spikes of consecutive steps ``first_step .. first_step + len(steps) - 1``.

    ``steps[k]`` holds the neuron (or input) ids that spiked in step ``first_step + k``,
    strictly ascending.  ``continued``: the last step's ids go on in the next block (which
    starts at that step), because one frame cannot hold them all; flagged by the top bit of
    ``n_steps``.  Only OUTPUT blocks may be continued.
    """

    first_step: int
    steps: tuple[np.ndarray, ...] = field(default_factory=tuple)
    continued: bool = False

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    @property
    def end_step(self) -> int:
        return self.first_step + len(self.steps)

    @property
    def n_spikes(self) -> int:
        return sum(int(s.size) for s in self.steps)

    def encode(self, id_bits: int, what: str = "spike block") -> bytes:
        """The block's bytes for ids of ``id_bits`` bits (see :func:`encode_record`)."""
        if not 0 <= len(self.steps) <= MAX_BLOCK_STEPS:
            raise ProtocolError(f"{what}: {len(self.steps)} steps in one block; at most "
                                f"{MAX_BLOCK_STEPS}")
        _check_id_bits(id_bits)
        if self.continued and not self.steps:
            raise ProtocolError(f"{what}: a continued block needs a step to continue")
        out = bytearray(BLOCK.pack({"first_step": self.first_step,
                                    "n_steps": len(self.steps) | (CONTINUED if self.continued
                                                                  else 0)}))
        gap = 0
        limit = 1 << id_bits
        for k, ids in enumerate(self.steps):
            if ids.size == 0:
                gap += 1
                continue
            if int(ids.max()) >= limit or int(ids.min()) < 0:
                bad = int(ids[(ids >= limit) | (ids < 0)][0])
                raise ProtocolError(
                    f"{what}: id {bad} in step {self.first_step + k} does not fit in "
                    f"{id_bits} bits (0..{limit - 1})"
                )
            if ids.size > 1 and not bool(np.all(np.diff(ids.astype(np.int64)) > 0)):
                raise ProtocolError(f"{what}: the ids of step {self.first_step + k} are not "
                                    "strictly ascending; sort them and drop repeats")
            out += encode_record(gap, ids, id_bits)
            gap = 0
        return bytes(out)

    @classmethod
    def decode(cls, payload: bytes, id_bits: int, what: str = "spike block", *,
               limit: int | None = None, continued_ok: bool = True) -> SpikeBlock:
        """Accepts exactly what :meth:`encode` writes.  ``limit``: ids must be below it (a
        board passes its neuron or input count); default ``2**id_bits``.  ``continued_ok``:
        False for INPUT, which may not continue a step.  Errors carry the offset of the
        first field (in payload order) that is missing, incomplete or wrong: the detail a
        board reports in ``ERROR(BAD_MESSAGE)``."""
        _check_id_bits(id_bits)
        limit = 1 << id_bits if limit is None else min(limit, 1 << id_bits)
        id_bytes = id_bytes_of(id_bits)
        header = Layout(what, BLOCK.fields, BLOCK.tail).unpack(payload)
        first, n_steps = header["first_step"], header["n_steps"]
        continued = bool(n_steps & CONTINUED)
        n_steps &= ~CONTINUED
        at_n = BLOCK["n_steps"].offset
        if continued and not continued_ok:
            raise MessageError(f"{what}: field 'n_steps' has CONTINUED set; only OUTPUT "
                               "blocks may continue a step", at_n)
        if continued and not n_steps:
            raise MessageError(f"{what}: block of 0 steps is flagged as continued", at_n)
        if n_steps > MAX_BLOCK_STEPS:
            raise MessageError(f"{what}: field 'n_steps' = {n_steps} exceeds MAX_BLOCK_STEPS = "
                               f"{MAX_BLOCK_STEPS}", at_n)
        empty = np.zeros(0, dtype=np.int32)
        steps: list[np.ndarray] = []
        pos = BLOCK.size
        while pos < len(payload):
            at = pos
            head, pos = decode_varint(payload, pos, f"{what}: record header")
            single = id_bytes == 2 and bool(head & 1)
            if id_bytes == 2:
                head >>= 1
            if single:
                gap, one, count = head >> id_bits, head & ((1 << id_bits) - 1), 1
            else:
                gap, short = head >> 2, head & 3
            if len(steps) + gap >= n_steps:
                raise MessageError(
                    f"{what}: record at offset {at} is for step {first + len(steps) + gap}, "
                    f"beyond the block's {n_steps} steps from {first}", at)
            if not single and id_bytes == 2 and short == 0:
                raise MessageError(f"{what}: record at offset {at} holds one spike in the "
                                   "general form; a single spike carries its id in the header",
                                   at)
            if single and one >= limit:
                raise MessageError(f"{what}: id {one} in the record at offset {at} is not "
                                   f"below {limit}", at)
            if not single:
                if short == 3:
                    extra, pos = decode_varint(payload, pos, f"{what}: spike count")
                    count = 4 + extra
                else:
                    count = short + 1
            steps.extend([empty] * gap)
            if single:
                steps.append(np.array([one], dtype=np.int32))
                continue
            ids: list[int] = []
            for k in range(count):
                if pos + id_bytes > len(payload):
                    raise MessageError(f"{what}: id {k} of the record at offset {at} (offset "
                                       f"{pos}) is cut by the end of the payload", pos)
                one = int.from_bytes(payload[pos:pos + id_bytes], "little")
                if one >= limit:
                    raise MessageError(f"{what}: id {one} at offset {pos} is not below {limit}",
                                       pos)
                if ids and one <= ids[-1]:
                    raise MessageError(f"{what}: id {one} at offset {pos} does not ascend (after "
                                       f"{ids[-1]}); each step's ids are strictly ascending",
                                       pos)
                ids.append(one)
                pos += id_bytes
            steps.append(np.array(ids, dtype=np.int32))
        steps.extend([empty] * (n_steps - len(steps)))
        return cls(first, tuple(steps), continued)


def id_bytes_of(id_bits: int) -> int:
    """Bytes one id takes in a step record's id list."""
    return 1 if id_bits <= 8 else 2


def _check_id_bits(id_bits: int) -> None:
    if not 1 <= id_bits <= 16:
        raise ProtocolError(f"spike ids of {id_bits} bits: the protocol carries 1 to 16")


def encode_record(gap: int, ids: np.ndarray, id_bits: int) -> bytes:
    """One step's record: ``count`` >= 1 ids after ``gap`` silent steps.

    With 1-byte ids: ``varint(gap << 2 | min(count, 4) - 1)``, ``[varint(count - 4)]``, the
    ids.  One header byte while gap < 32 and count <= 3, the sparse case a 3-byte event
    stream is good at.  With 2-byte ids (more than 256 neurons or inputs) the header gets a
    low flag bit.  Flag 1: a single spike whose id sits in the header itself,
    ``varint((gap << id_bits | id) << 1 | 1)``, two bytes for a 10-bit id after fewer than 8
    silent steps, where a header byte and two id bytes would be three.  Flag 0: the general
    record as above, shifted left by one."""
    count = int(ids.size)
    if id_bytes_of(id_bits) == 1:
        return _header(gap, count, 0) + ids.astype("<u1").tobytes()
    if count == 1:
        return encode_varint((gap << id_bits | int(ids[0])) << 1 | 1)
    return _header(gap, count, 1) + ids.astype("<u2").tobytes()


def _header(gap: int, count: int, shift: int) -> bytes:
    if count <= 3:
        return encode_varint((gap << 2 | (count - 1)) << shift)
    return encode_varint((gap << 2 | 3) << shift) + encode_varint(count - 4)


def split_fit(size: int, id_bytes: int, max_payload: int = MAX_PAYLOAD) -> int:
    """Ids of one step that still fit a block of ``size`` bytes when the step is split over
    frames (the board's gateware cuts at the same count): a record header takes at most 4
    bytes for any count a frame holds."""
    return (max_payload - size - 4) // id_bytes


def split_spike_blocks(
    first_step: int,
    steps: Sequence[np.ndarray],
    id_bits: int,
    max_steps: int = MAX_BLOCK_STEPS,
    max_payload: int = MAX_PAYLOAD,
    *,
    split_steps: bool = False,
) -> Iterator[SpikeBlock]:
    """Cut per-step spike lists into blocks whose encoding fits one frame.

    ``max_steps`` bounds how far ahead a block reaches, which bounds latency when streaming.
    A step with more spikes than one frame holds is refused, unless ``split_steps``: then its
    ids go on over ``continued`` blocks (a board's output cannot refuse what its neurons did).
    """
    k, n = 0, len(steps)
    max_steps = min(max_steps, MAX_BLOCK_STEPS)
    id_bytes = id_bytes_of(id_bits)
    rest: np.ndarray | None = None  # ids of step k not yet sent, when k spans blocks
    while k < n:
        size, start, gap = BLOCK_HEADER_SIZE, k, 0
        block: list[np.ndarray] = []
        continued = False
        while k < n and k - start < max_steps:
            ids = rest if rest is not None else steps[k]
            count = int(ids.size)
            if count:
                cost = len(encode_record(gap, ids, id_bits))
                if size + cost > max_payload:
                    if k > start:
                        break  # the step opens the next block
                    fit = split_fit(size, id_bytes, max_payload)
                    if not split_steps:
                        raise ProtocolError(
                            f"step {first_step + k} has {count} spikes, more than one frame of "
                            f"{max_payload} bytes carries with {id_bytes}-byte ids; at most "
                            f"{fit} spikes per step"
                        )
                    block.append(ids[:fit])
                    rest, continued = ids[fit:], True
                    break
                size += cost
                gap = 0
            else:
                gap += 1
            block.append(ids)
            rest = None
            k += 1
        yield SpikeBlock(first_step + start, tuple(block), continued)


def spikes_to_steps(
    times_steps: np.ndarray, ids: np.ndarray, n_steps: int, first_step: int = 0
) -> list[np.ndarray]:
    """Group ``(step, id)`` events into one sorted id array per step."""
    times_steps = np.asarray(times_steps, dtype=np.int64) - first_step
    ids = np.asarray(ids, dtype=np.int32)
    keep = (times_steps >= 0) & (times_steps < n_steps)
    order = np.lexsort((ids[keep], times_steps[keep]))
    t, i = times_steps[keep][order], ids[keep][order]
    bounds = np.searchsorted(t, np.arange(n_steps + 1))
    return [i[bounds[k] : bounds[k + 1]] for k in range(n_steps)]


def seq_add(seq: int, n: int) -> int:
    return (seq + n) % SEQ_MODULUS


def seq_distance(a: int, b: int) -> int:
    """How many steps forward from ``a`` to ``b`` in the 8-bit sequence space."""
    return (b - a) % SEQ_MODULUS
