"""Messages as docs/protocol.md (sections 2 to 8) defines them, written from that page:
type and error codes, payload layouts, BuildInfo, word widths, spike blocks.  Nothing here
comes from ``toolchain.runtime.protocol``."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tests.protocol_conformance.wire import MAX_PAYLOAD

# section 2
HELLO, RESET, CONFIG, WRITE, READ, RUN, STOP, INPUT, STATUS, RESEND = range(1, 11)
ACK, HELLO_REPLY, DATA, OUTPUT, STATUS_REPLY, CREDIT, ERROR, BOOT = \
    0x80, 0x81, 0x85, 0x88, 0x89, 0x8A, 0x8E, 0x8F
HOST_TYPES = (HELLO, RESET, CONFIG, WRITE, READ, RUN, STOP, INPUT, STATUS, RESEND)
BOARD_TYPES = (ACK, HELLO_REPLY, DATA, OUTPUT, STATUS_REPLY, CREDIT, ERROR, BOOT)
COMMANDS = (HELLO, RESET, CONFIG, WRITE, READ, RUN, STOP, STATUS)
NAMES = {HELLO: "HELLO", RESET: "RESET", CONFIG: "CONFIG", WRITE: "WRITE", READ: "READ",
         RUN: "RUN", STOP: "STOP", INPUT: "INPUT", STATUS: "STATUS", RESEND: "RESEND",
         ACK: "ACK", HELLO_REPLY: "HELLO_REPLY", DATA: "DATA", OUTPUT: "OUTPUT",
         STATUS_REPLY: "STATUS_REPLY", CREDIT: "CREDIT", ERROR: "ERROR", BOOT: "BOOT"}

# section 9
(BAD_VERSION, BAD_MESSAGE, BAD_ADDRESS, NOT_READABLE, BUSY, SEQ_GAP, GONE, NOT_RUNNING,
 OVERRUN, STEP_MISMATCH, UNSUPPORTED) = range(1, 12)

# sections 4 to 6
NEURON, SYNAPSE, ROW, STDP, STATE_MEM = range(5)
MEMORIES = (NEURON, SYNAPSE, ROW, STDP, STATE_MEM)
SCOPE_STATE, SCOPE_ALL = 0, 1
STREAMED = 1
IDLE, RUNNING, DONE = 0, 1, 2
FREE = 0xFFFFFFFF
GROUP_STEPS = 64
MAX_STEPS = 4096
CONTINUED = 0x8000

# section 3: (field, size) in payload order; None: a tail follows the fixed fields
LAYOUTS: dict[int, tuple[tuple[tuple[str, int], ...], bool]] = {
    HELLO: ((("version", 1),), False),
    RESET: ((("scope", 1),), False),
    CONFIG: ((("n_neurons", 2), ("n_inputs", 2), ("seed", 4)), False),
    WRITE: ((("memory", 1), ("address", 4)), True),
    READ: ((("memory", 1), ("address", 4), ("count", 2)), False),
    RUN: ((("steps", 4), ("flags", 1)), False),
    STOP: ((), False),
    STATUS: ((), False),
    RESEND: ((("seq", 1),), False),
    ACK: ((("acked", 1), ("value", 4)), False),
    DATA: ((("memory", 1), ("address", 4)), True),
    CREDIT: ((("next_seq", 1), ("free", 1)), False),
    ERROR: ((("code", 1), ("cause", 1), ("detail", 4)), False),
    BOOT: ((("boot_count", 4),), False),
    INPUT: ((("first_step", 4), ("n_steps", 2)), True),
    OUTPUT: ((("first_step", 4), ("n_steps", 2)), True),
}
BUILD_INFO = (("protocol_version", 1), ("build_id", 4), ("n_neurons", 4), ("n_inputs", 4),
              ("n_synapses", 4), ("v_bits", 1), ("i_bits", 1), ("w_bits", 1), ("acc_bits", 1),
              ("trace_bits", 1), ("ref_bits", 1), ("delay_bits", 1), ("readable", 1),
              ("input_slots", 1), ("output_window", 1), ("clock_hz", 4), ("baud", 4),
              ("receptors", 1), ("i_frac", 1))
STATUS_FIELDS = (("state", 1), ("step", 4), ("steps_left", 4), ("next_output_seq", 1),
                 ("next_input_seq", 1), ("boot_count", 4), ("rx_frames", 4),
                 ("crc_errors", 4), ("seq_errors", 4), ("overruns", 4), ("tx_frames", 4),
                 ("resends", 4))
LAYOUTS[HELLO_REPLY] = (BUILD_INFO, False)
LAYOUTS[STATUS_REPLY] = (STATUS_FIELDS, False)


def offsets(frame_type: int) -> dict[str, tuple[int, int]]:
    """Field -> (offset, size)."""
    out, at = {}, 0
    for name, size in LAYOUTS[frame_type][0]:
        out[name] = (at, size)
        at += size
    return out


def fixed_size(frame_type: int) -> int:
    return sum(size for _, size in LAYOUTS[frame_type][0])


def pack(frame_type: int, **values: int) -> bytes:
    return b"".join(int(values[name]).to_bytes(size, "little")
                    for name, size in LAYOUTS[frame_type][0])


def unpack(frame_type: int, payload: bytes) -> dict[str, int]:
    """The fixed fields (the payload must hold them)."""
    return {name: int.from_bytes(payload[at:at + size], "little")
            for name, (at, size) in offsets(frame_type).items()}


class Refused(Exception):
    """A payload a board refuses with BAD_MESSAGE at ``offset``."""

    def __init__(self, offset: int, why: str) -> None:
        super().__init__(f"offset {offset}: {why}")
        self.offset = offset


def check_fixed(frame_type: int, payload: bytes, rules: dict[str, object] | None = None) -> None:
    """Section 3's rule: fields in payload order, each present and allowed (``rules``: field
    -> predicate of an allowed value), then no trailing byte unless a tail follows."""
    rules = rules or {}
    for name, (at, size) in offsets(frame_type).items():
        if len(payload) < at + size:
            raise Refused(at, f"{name} missing")
        value = int.from_bytes(payload[at:at + size], "little")
        if name in rules and not rules[name](value):  # type: ignore[operator]
            raise Refused(at, f"{name} = {value} not allowed")
    size = fixed_size(frame_type)
    if not LAYOUTS[frame_type][1] and len(payload) > size:
        raise Refused(size, "trailing bytes")


# ------------------------------------------------------------------ section 5: builds


def bits(n: int) -> int:
    """Bits that numbers 0 .. n - 1 need, at least 1."""
    return max(1, math.ceil(math.log2(max(n, 2))))


@dataclass(frozen=True)
class Build:
    values: dict[str, int]

    @classmethod
    def parse(cls, payload: bytes) -> Build:
        assert len(payload) == sum(s for _, s in BUILD_INFO), payload.hex()
        out, at = {}, 0
        for name, size in BUILD_INFO:
            out[name] = int.from_bytes(payload[at:at + size], "little")
            at += size
        return cls(out)

    def __getattr__(self, name: str) -> int:
        try:
            return self.values[name]
        except KeyError:
            raise AttributeError(name) from None

    def word_bits(self, memory: int) -> int:
        v, i, w = self.v_bits, self.i_bits, self.w_bits
        two = self.receptors == 2  # an inhibitory decay, current and synapse flag more
        return {
            NEURON: 2 * v + i + 8 + self.ref_bits + 4 * two,
            SYNAPSE: bits(self.n_neurons) + w + self.delay_bits + 1 + two,
            ROW: bits(self.n_synapses) + bits(self.n_synapses + 1),
            STDP: 17 + self.trace_bits + 2 * w,
            STATE_MEM: v + i + self.ref_bits + i * two,
        }[memory]

    def word_bytes(self, memory: int) -> int:
        return (self.word_bits(memory) + 7) // 8

    def depth(self, memory: int) -> int:
        return {NEURON: self.n_neurons, SYNAPSE: self.n_synapses,
                ROW: self.n_neurons + self.n_inputs, STDP: 1, STATE_MEM: self.n_neurons}[memory]

    def max_words(self, memory: int) -> int:
        return (MAX_PAYLOAD - 5) // self.word_bytes(memory)

    def readable(self, memory: int) -> bool:
        return bool(self.values["readable"] >> memory & 1)

    @property
    def silent_neuron(self) -> int:
        """An unwritten neuron: v_thresh the largest value (its field is the lowest)."""
        return (1 << (self.v_bits - 1)) - 1

    def row_fields(self, word: int) -> tuple[int, int]:
        start_bits = bits(self.n_synapses)
        return word & ((1 << start_bits) - 1), word >> start_bits

    def id_bits(self, n: int) -> int:
        return bits(n)


# ------------------------------------------------------------------ section 7: blocks


def varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def record(gap: int, ids: list[int], id_bits: int) -> bytes:
    count = len(ids)
    if id_bits <= 8:
        head = varint(gap << 2 | min(count, 4) - 1)
        return head + (varint(count - 4) if count >= 4 else b"") + bytes(ids)
    if count == 1:
        return varint((gap << id_bits | ids[0]) << 1 | 1)
    head = varint((gap << 2 | min(count, 4) - 1) << 1)
    return head + (varint(count - 4) if count >= 4 else b"") + b"".join(
        i.to_bytes(2, "little") for i in ids)


def block(first: int, steps: list[list[int]], id_bits: int, continued: bool = False) -> bytes:
    out = bytearray(first.to_bytes(4, "little")
                    + (len(steps) | (CONTINUED if continued else 0)).to_bytes(2, "little"))
    gap = 0
    for ids in steps:
        if not ids:
            gap += 1
            continue
        out += record(gap, ids, id_bits)
        gap = 0
    return bytes(out)


def _varint_at(payload: bytes, at: int) -> tuple[int, int]:
    value = 0
    for k in range(5):
        if at + k >= len(payload):
            raise Refused(at, "varint cut")
        byte = payload[at + k]
        value |= (byte & 0x7F) << (7 * k)
        if not byte & 0x80:
            if k and byte == 0:
                raise Refused(at, "varint not minimal")
            return value, at + k + 1
    raise Refused(at, "varint longer than 5 bytes")


@dataclass(frozen=True)
class Block:
    first: int
    steps: list[list[int]]
    continued: bool
    size: int  # payload bytes

    @property
    def end(self) -> int:
        return self.first + len(self.steps)


def parse_block(payload: bytes, id_bits: int, limit: int, *, input_block: bool) -> Block:
    """Section 7, rule by rule; ``Refused`` names the offset a board reports."""
    if len(payload) < 4:
        raise Refused(0, "first_step missing")
    if len(payload) < 6:
        raise Refused(4, "n_steps missing")
    first = int.from_bytes(payload[:4], "little")
    raw = int.from_bytes(payload[4:6], "little")
    n, continued = raw & 0x7FFF, bool(raw & CONTINUED)
    if n > MAX_STEPS or (continued and (input_block or n == 0)):
        raise Refused(4, "n_steps")
    two = id_bits > 8
    steps: list[list[int]] = []
    at = 6
    while at < len(payload):
        rec_at = at
        head, at = _varint_at(payload, at)
        single = two and bool(head & 1)
        if two:
            head >>= 1
        if single:
            gap, count = head >> id_bits, 1
            one = head & ((1 << id_bits) - 1)
        else:
            gap, short = head >> 2, head & 3
        if len(steps) + gap >= n:
            raise Refused(rec_at, "record past the block")
        if two and not single and short == 0:
            raise Refused(rec_at, "one spike in the general form")
        if single and one >= limit:
            raise Refused(rec_at, "single id not below the limit")
        if not single:
            if short == 3:
                extra, at = _varint_at(payload, at)
                count = 4 + extra
            else:
                count = short + 1
        steps += [[] for _ in range(gap)]
        if single:
            steps.append([one])
            continue
        width = 2 if two else 1
        ids: list[int] = []
        for _ in range(count):
            if at + width > len(payload):
                raise Refused(at, "ids cut")
            one = int.from_bytes(payload[at:at + width], "little")
            if one >= limit or (ids and one <= ids[-1]):
                raise Refused(at, "id not below the limit, or not ascending")
            ids.append(one)
            at += width
        steps.append(ids)
    steps += [[] for _ in range(n - len(steps))]
    return Block(first, steps, continued, len(payload))
