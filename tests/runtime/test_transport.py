"""Serial and pty transports: bytes pass unchanged, a busy port is refused by name."""

from __future__ import annotations

import os

import pytest

from toolchain.runtime.transport import (
    FdTransport,
    LinkClosedError,
    PortBusyError,
    SerialTransport,
    TransportError,
    open_pty,
)


def test_pty_carries_every_byte_value_both_ways() -> None:
    pty = open_pty()
    try:
        board = FdTransport(pty.master)
        with SerialTransport(pty.path) as host:
            data = bytes(range(256)) * 4  # raw mode: no echo, no CR/LF or ^C handling
            host.write(data)
            got = b""
            while len(got) < len(data):
                chunk = board.read(1.0)
                assert chunk, "pty delivered nothing"
                got += chunk
            assert got == data
            board.write(b"\x00\x03\r\n")
            back = b""
            while len(back) < 4:
                back += host.read(1.0)
            assert back == b"\x00\x03\r\n"
            assert host.bytes_written == 1024 and host.bytes_read == 4
    finally:
        pty.close()


def test_second_opener_of_a_port_gets_a_clear_busy_error() -> None:
    pty = open_pty()
    try:
        with SerialTransport(pty.path):
            with pytest.raises(PortBusyError) as e:
                SerialTransport(pty.path)
        msg = str(e.value)
        assert msg.startswith(f"serial port '{pty.path}' is busy: ")
        assert f"process {os.getpid()} holds its exclusive lock" in msg or \
            "another process holds its exclusive lock" in msg
        assert msg.endswith("close the other session using this board or pass another --port")
        SerialTransport(pty.path).close()  # free again once the first is closed
    finally:
        pty.close()


def test_missing_port_is_named() -> None:
    with pytest.raises(TransportError, match=r"cannot open serial port '/nonexistent/tty0' at "
                       r"1000000 baud: .*; check the --port path and that the board is connected"):
        SerialTransport("/nonexistent/tty0")


def test_board_side_sees_the_host_leave() -> None:
    pty = open_pty()
    board = FdTransport(pty.master)
    os.close(pty.slave)
    with pytest.raises(LinkClosedError, match="the other side has closed"):
        board.read(1.0)
    os.close(pty.master)
