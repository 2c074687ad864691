"""A serial client of a board on a pty (pyserial, as for a real port) that checks every
frame the board sends against docs/protocol.md before anyone looks at it: canonical COBS, a
valid CRC, a body of 4 to 1028 bytes, a board-to-host type, and a payload that fits that
type's layout."""

from __future__ import annotations

import select
import time
from collections.abc import Callable

import serial

from tests.protocol_conformance import msg as m
from tests.protocol_conformance import wire as w


class Violation(AssertionError):
    """The board sent something the page does not allow."""


def check_board_frame(f: w.Frame) -> None:
    if f.type not in m.BOARD_TYPES:
        raise Violation(f"board sent type 0x{f.type:02x}, not a board-to-host type: {f}")
    fixed, tail = m.LAYOUTS[f.type]
    size = m.fixed_size(f.type)
    if len(f.payload) < size or (not tail and len(f.payload) != size):
        raise Violation(f"{m.NAMES[f.type]} payload of {len(f.payload)} bytes: {f}")
    if f.type == m.CREDIT and f.seq != f.payload[0]:
        raise Violation(f"CREDIT seq {f.seq} is not its next_seq {f.payload[0]}")
    if f.type == m.BOOT and f.seq != 0:
        raise Violation(f"BOOT with seq {f.seq}")
    if f.type == m.ERROR and not 1 <= f.payload[0] <= 11:
        raise Violation(f"ERROR code {f.payload[0]} is not in the table: {f}")


class Client:
    def __init__(self, path: str) -> None:
        self.port = serial.Serial(path, baudrate=3_000_000, timeout=0)
        self.receiver = w.Receiver()
        self.inbox: list[w.Frame] = []
        self.log: list[tuple[str, bytes]] = []  # ("<" | ">", bytes), for messages
        self.frames_in = self.bytes_out = 0
        # while a reset is under way, the frame the board was sending may be cut short:
        # one damaged frame before its BOOT is what a reset does (docs/protocol.md, 10)
        self.resetting = False
        self.cut_frames = 0

    def close(self) -> None:
        self.port.close()

    def send(self, data: bytes) -> None:
        self.log.append((">", data))
        self.port.write(data)
        self.port.flush()
        self.bytes_out += len(data)

    def _read(self, timeout: float) -> None:
        fd = self.port.fileno()
        ready, _, _ = select.select([fd], [], [], max(timeout, 0.0))
        if not ready:
            return
        data = self.port.read(65536)
        for item in self.receiver.feed(data):
            if isinstance(item, w.Bad) and self.resetting and not self.cut_frames:
                self.cut_frames += 1
                continue
            if isinstance(item, w.Bad):
                raise Violation(f"board sent a frame that is not intact ({item}); "
                                f"last bytes: {data[-64:].hex()}\n{self.transcript(30)}")
            check_board_frame(item)
            self.log.append(("<", item.wire))
            self.frames_in += 1
            self.inbox.append(item)

    def wait(self, want: Callable[[w.Frame], bool], timeout: float, what: str) -> w.Frame:
        """The first frame in the inbox for which ``want`` holds, removed from it; frames
        before it stay (the caller decides what they mean)."""
        deadline = time.monotonic() + timeout
        while True:
            for k, f in enumerate(self.inbox):
                if want(f):
                    return self.inbox.pop(k)
            left = deadline - time.monotonic()
            if left <= 0:
                raise Violation(f"no {what} within {timeout:g} s; inbox {self.inbox[:6]}; "
                                f"last sent {self.log[-1][1].hex() if self.log else '-'}")
            self._read(left)

    def drain(self, quiet: float) -> list[w.Frame]:
        """Everything until nothing arrived for ``quiet`` seconds."""
        while True:
            n = len(self.inbox)
            self._read(quiet)
            if len(self.inbox) == n:
                out, self.inbox = self.inbox, []
                return out

    def transcript(self, last: int = 12) -> str:
        return "\n".join(f"{d} {b.hex()}" for d, b in self.log[-last:])
