"""Byte pipes between the host and a board: a serial port (real board, or the slave side of a
pseudo-terminal served by a virtual board) and the master side of a pseudo-terminal.

A transport moves bytes and counts them; framing lives in ``protocol.py`` and retries in
``session.py``.  A serial port is locked exclusively (``flock``), because two programs that
share a UART interleave their frames and both see nothing but CRC errors.
"""

from __future__ import annotations

import errno
import fcntl
import os
import select
import termios
import threading
import time
import tty
from dataclasses import dataclass
from typing import Protocol

import serial

# 8N1 framing: start bit + 8 data bits + stop bit, so a byte costs 10 bit times on the line.
BITS_PER_BYTE_8N1 = 10


class TransportError(ConnectionError):
    """The link is unusable: the port cannot be opened, is busy, or went away."""


class PortBusyError(TransportError):
    """Another process holds the exclusive lock on the port."""


class LinkClosedError(TransportError):
    """The other end closed the link (board unplugged, virtual board stopped)."""


class Transport(Protocol):
    """What a session needs from a link."""

    name: str
    bytes_written: int
    bytes_read: int

    def write(self, data: bytes) -> None: ...

    def read(self, timeout: float) -> bytes:
        """Whatever arrives within ``timeout`` seconds (possibly nothing)."""

    def close(self) -> None: ...


def _lock_holder(fd: int) -> str:
    """'process <pid>' holding a lock on the file of ``fd``, from /proc/locks if readable."""
    try:
        st = os.fstat(fd)
        target = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
        with open("/proc/locks") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 5 and parts[5] == target and parts[4].isdigit():
                    return f"process {parts[4]}"
    except OSError:
        pass
    return "another process"


class SerialTransport:
    """A pyserial port (any ``serial_for_url`` URL or device path) with an exclusive lock."""

    def __init__(self, port: str, baud: int = 1_000_000, *, lock: bool = True) -> None:
        self.name = port
        self.baud = baud
        self.bytes_written = 0
        self.bytes_read = 0
        self._out = bytearray()  # written by the host, not yet taken by the OS
        try:
            self._serial = serial.serial_for_url(port, baudrate=baud, timeout=0, write_timeout=5)
        except (serial.SerialException, OSError, ValueError) as e:
            raise TransportError(
                f"cannot open serial port '{port}' at {baud} baud: {e}; check the --port "
                "path and that the board is connected"
            ) from None
        fd = getattr(self._serial, "fd", None)
        if lock and isinstance(fd, int):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _lock_holder(fd)
                self._serial.close()
                raise PortBusyError(
                    f"serial port '{port}' is busy: {holder} holds its exclusive lock; close "
                    "the other session using this board or pass another --port"
                ) from None

    def write(self, data: bytes) -> None:
        """Queue ``data`` and hand the OS as much as it takes now; the rest goes out while
        :meth:`read` waits.  Never blocking here keeps the link full duplex: a host stuck in
        a write (or in tcdrain) stops reading, the board's output backs up, and the board
        stalls with the line half idle."""
        self._out += data
        self._drain()

    def _drain(self) -> None:
        fd = getattr(self._serial, "fd", None)
        try:
            if not isinstance(fd, int):  # URL ports (loop://, socket://): pyserial's own write
                self._serial.write(bytes(self._out))
                self.bytes_written += len(self._out)
                self._out.clear()
                return
            while self._out:
                n = os.write(fd, self._out)
                del self._out[:n]
                self.bytes_written += n
        except BlockingIOError:
            return
        except (serial.SerialException, OSError) as e:
            raise LinkClosedError(f"writing to '{self.name}' failed: {e}") from None

    @property
    def pending(self) -> int:
        """Bytes queued by :meth:`write` that the OS has not taken yet."""
        return len(self._out)

    def read(self, timeout: float) -> bytes:
        deadline = time.monotonic() + timeout
        fd = getattr(self._serial, "fd", None)
        while self._out and isinstance(fd, int):  # send queued bytes while waiting
            left = max(0.0, deadline - time.monotonic())
            try:
                readable, writable, _ = select.select([fd], [fd], [], left)
            except (OSError, ValueError) as e:
                raise LinkClosedError(f"waiting on '{self.name}' failed: {e}") from None
            if writable:
                self._drain()
            if readable or not left:
                break
        try:
            self._serial.timeout = max(0.0, deadline - time.monotonic())
            first = self._serial.read(1)
            if not first:
                return b""
            self._serial.timeout = 0
            rest = self._serial.read(self._serial.in_waiting or 0)
        except (serial.SerialException, OSError) as e:
            raise LinkClosedError(f"reading from '{self.name}' failed: {e}") from None
        data = first + rest
        self.bytes_read += len(data)
        return data

    def close(self, linger: float = 1.0) -> None:
        """Close the port, first giving queued bytes (a last STOP, say) up to ``linger``
        seconds to leave."""
        fd = getattr(self._serial, "fd", None)
        end = time.monotonic() + linger
        while self._out and isinstance(fd, int) and time.monotonic() < end:
            try:
                select.select([], [fd], [], max(0.0, end - time.monotonic()))
                self._drain()
            except (OSError, ValueError, TransportError):
                break
        self._serial.close()

    def __enter__(self) -> SerialTransport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FdTransport:
    """A raw file descriptor, such as the master side of a pseudo-terminal."""

    def __init__(self, fd: int, name: str = "pty master") -> None:
        self.fd = fd
        self.name = name
        self.bytes_written = 0
        self.bytes_read = 0
        os.set_blocking(fd, False)

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.fd, view)
            except BlockingIOError:
                select.select([], [self.fd], [], 1.0)
                continue
            except OSError as e:
                raise LinkClosedError(f"writing to {self.name} failed: {e}") from None
            view = view[n:]
            self.bytes_written += n

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return b""
        except OSError as e:
            if e.errno == errno.EIO:
                raise LinkClosedError(f"{self.name}: the other side has closed") from None
            raise LinkClosedError(f"reading from {self.name} failed: {e}") from None
        if not data:
            raise LinkClosedError(f"{self.name} was closed by the other side")
        self.bytes_read += len(data)
        return data

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


@dataclass
class PtyPair:
    """A pseudo-terminal in raw mode.  The board side serves ``master``; the host opens
    ``path`` like any serial port.

    ``slave`` stays open for the pair's life: a pty master whose slave has no opener reads
    EIO at once, which would turn a board's wait-for-host loop into a busy spin.
    """

    master: int
    slave: int
    path: str

    def close(self) -> None:
        for fd in (self.slave, self.master):
            try:
                os.close(fd)
            except OSError:
                pass


def open_pty() -> PtyPair:
    """A raw pseudo-terminal.  Raw mode matters: a fresh pty echoes, translates CR/LF and
    treats 0x03 as Ctrl-C, any of which would corrupt binary frames."""
    master, slave = os.openpty()
    tty.setraw(slave, termios.TCSANOW)
    return PtyPair(master, slave, os.ttyname(slave))


class LineRelay:
    """Joins two file descriptors through a simulated UART line: each direction has its own
    thread (a UART is full duplex) and delivers bytes no sooner than ``baud`` 8N1 would have
    carried them.

    A pseudo-terminal moves bytes as fast as the CPU allows, so without this a virtual board
    says nothing about how a protocol behaves when the line, not the host, is the bottleneck.
    Bytes are delivered in chunks of at most ``chunk`` bytes (default: about a millisecond of
    line time), each once its last bit would have arrived.
    """

    def __init__(self, a: int, b: int, baud: int, *, chunk: int | None = None) -> None:
        if baud <= 0:
            raise ValueError(f"line rate {baud} baud must be positive")
        if chunk is None:
            chunk = max(16, baud // BITS_PER_BYTE_8N1 // 1000)
        if chunk <= 0:
            raise ValueError(f"relay chunk {chunk} bytes must be positive")
        self.baud, self.chunk = baud, chunk
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._carry, args=(src, dst), daemon=True,
                                          name=f"uart-line-{src}-to-{dst}")
                         for src, dst in ((a, b), (b, a))]

    def start(self) -> LineRelay:
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            if t.is_alive():
                t.join(timeout=5)

    def _carry(self, src: int, dst: int) -> None:
        byte_time = BITS_PER_BYTE_8N1 / self.baud
        line_free = 0.0  # when the line has sent everything so far
        queued = False  # bytes were already waiting when the last chunk was delivered
        while not self._stop.is_set():
            ready, _, _ = select.select([src], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(src, self.chunk)
            except BlockingIOError:
                continue
            except OSError:  # the other side closed: the line is cut
                return
            if not data:
                return
            # Waiting bytes would have followed on the wire without a gap, so this thread's
            # own lateness in waking is not counted as idle line time.
            start = line_free if queued else max(time.monotonic(), line_free)
            line_free = start + len(data) * byte_time
            delay = line_free - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            try:
                _write_all(dst, data)
            except OSError:
                return
            queued = bool(select.select([src], [], [], 0)[0])


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:
            select.select([], [fd], [], 1.0)
