"""Frames as docs/protocol.md (section 1) defines them, written from that page alone: COBS,
CRC-16/CCITT-FALSE, the frame limits, and a receiver that splits a byte stream the way the
page says a board must.  Nothing here comes from ``toolchain.runtime.protocol``."""

from __future__ import annotations

from dataclasses import dataclass

DELIMITER = 0x00
MAX_PAYLOAD = 1024
MIN_BODY = 4  # type, seq, crc16
MAX_BODY = 2 + MAX_PAYLOAD + 2
MAX_ENCODED = MAX_BODY + MAX_BODY // 254 + 1  # 1033


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE, bit by bit: polynomial 0x1021, initial 0xFFFF, MSB first."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def cobs(body: bytes) -> bytes:
    """The canonical (greedy) encoding: cut the body at its zeros; each run of non-zero bytes
    becomes full blocks of 254 and one last block of the rest; the last block of the frame is
    never a full one, so a body that ends with 254k non-zero bytes gets an empty block."""
    out = bytearray()
    for run in body.split(b"\x00"):
        while len(run) >= 254:
            out += b"\xff" + run[:254]
            run = run[254:]
        out += bytes([len(run) + 1]) + run  # its zero (or the frame's end) closes the run
    return bytes(out)


class Bad(Exception):
    """A frame that is not intact (docs/protocol.md, section 1)."""


def uncobs(encoded: bytes) -> bytes:
    out = bytearray()
    i = 0
    code = 0
    while i < len(encoded):
        code = encoded[i]
        if code == 0:
            raise Bad(f"code byte 0 at {i}")
        data = encoded[i + 1:i + code]
        if len(data) != code - 1:
            raise Bad(f"block at {i} runs past the end")
        if 0 in data:
            raise Bad(f"zero inside the block at {i}")
        out += data
        i += code
        if code < 255 and i < len(encoded):
            out.append(0)
    if not encoded:
        raise Bad("no bytes")
    if code == 255:
        raise Bad("the last block is full: not the canonical encoding")
    return bytes(out)


def frame(frame_type: int, seq: int, payload: bytes = b"") -> bytes:
    """The bytes on the wire for one frame, delimiter included."""
    body = bytes([frame_type, seq]) + payload
    return cobs(body + crc16(body).to_bytes(2, "big")) + b"\x00"


@dataclass(frozen=True)
class Frame:
    type: int
    seq: int
    payload: bytes
    wire: bytes  # as it came, delimiter included

    def __repr__(self) -> str:
        return f"Frame(0x{self.type:02x}, seq {self.seq}, {self.payload.hex()})"


def parse(encoded: bytes) -> Frame:
    """One frame (without its delimiter), or ``Bad`` if it is not intact."""
    if len(encoded) > MAX_ENCODED:
        raise Bad(f"{len(encoded)} bytes before the delimiter")
    body = uncobs(encoded)
    if not MIN_BODY <= len(body) <= MAX_BODY:
        raise Bad(f"body of {len(body)} bytes")
    if crc16(body[:-2]) != int.from_bytes(body[-2:], "big"):
        raise Bad("CRC mismatch")
    return Frame(body[0], body[1], body[2:-2], bytes(encoded) + b"\x00")


class Receiver:
    """Splits bytes into frames at each delimiter.  ``feed`` returns one entry per frame
    ended: a ``Frame`` if intact, else the ``Bad`` that says why.  Two delimiters in a row
    are no frame.  Bytes past ``MAX_ENCODED`` are not kept (their frame is bad anyway)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.overlong = False

    def feed(self, data: bytes) -> list[Frame | Bad]:
        out: list[Frame | Bad] = []
        for byte in data:
            if byte != DELIMITER:
                if len(self.buffer) < MAX_ENCODED:
                    self.buffer.append(byte)
                else:
                    self.overlong = True
                continue
            if self.buffer or self.overlong:
                if self.overlong:
                    out.append(Bad("no delimiter within MAX_ENCODED bytes"))
                else:
                    try:
                        out.append(parse(bytes(self.buffer)))
                    except Bad as e:
                        out.append(e)
            self.buffer.clear()
            self.overlong = False
        return out

    @property
    def pending(self) -> bool:
        """Bytes of an unfinished frame are held (the next frame would join them)."""
        return bool(self.buffer) or self.overlong
