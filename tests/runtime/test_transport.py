"""Serial and pty transports: bytes pass unchanged (also through a line paced like a UART), a
busy port is refused by name."""

from __future__ import annotations

import os

import numpy as np
import pytest

from toolchain.runtime.transport import (
    FdTransport,
    LineRelay,
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


def test_line_relay_carries_every_byte_both_ways_at_once() -> None:
    a, b = open_pty(), open_pty()
    relay = LineRelay(a.master, b.master, 3_000_000, chunk=7).start()
    try:
        with SerialTransport(a.path) as left, SerialTransport(b.path) as right:
            there, back = bytes(range(256)) * 3, bytes(reversed(range(256))) * 2
            left.write(there)
            right.write(back)  # full duplex: both directions in flight together
            got = {id(left): b"", id(right): b""}
            for _ in range(200):
                for end in (left, right):
                    got[id(end)] += end.read(0.01)
                if len(got[id(left)]) == len(back) and len(got[id(right)]) == len(there):
                    break
            assert got[id(right)] == there and got[id(left)] == back
    finally:
        relay.stop()
        a.close()
        b.close()


def test_line_relay_refuses_a_rate_it_cannot_pace() -> None:
    with pytest.raises(ValueError, match="line rate 0 baud must be positive"):
        LineRelay(0, 1, 0)


def test_virtual_board_behind_a_paced_line_matches_the_golden_model() -> None:
    from tests.runtime.conftest import golden, random_image, random_inputs, same_spikes
    from toolchain.boardsim.virtual import ServedBoard
    from toolchain.runtime.session import Session
    from toolchain.targets.fpga.spec import TINY

    image = random_image(TINY, seed=31)
    inputs = random_inputs(image.n_inputs, 50, seed=32)
    want, want_w = golden(TINY, image, inputs)
    with ServedBoard(TINY, line_baud=1_000_000) as served, Session.open(served.path) as s:
        assert s.info is not None and s.info.baud == 1_000_000
        s.load(image, TINY)
        result = s.run(50, inputs)
        assert same_spikes(result.steps, want) and np.array_equal(s.weights(), want_w)
        assert s.stats.retries == 0


def test_host_write_never_blocks_and_queued_bytes_leave_while_it_reads() -> None:
    pty = open_pty()
    try:
        board = FdTransport(pty.master)
        with SerialTransport(pty.path) as host:
            data = bytes(range(256)) * 1024  # far more than a pty buffers
            host.write(data)  # returns although nobody has read anything yet
            assert 0 < host.pending < len(data)
            assert host.bytes_written == len(data) - host.pending
            got = b""
            for _ in range(10_000):
                host.read(0.0)  # a host waiting for replies keeps sending meanwhile
                got += board.read(0.01)
                if len(got) == len(data):
                    break
            assert got == data and host.pending == 0 and host.bytes_written == len(data)
    finally:
        pty.close()
