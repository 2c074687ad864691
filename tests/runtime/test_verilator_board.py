"""A host Session against the device's generated Verilog under Verilator, its UART pins
bridged to a pty (toolchain/boardsim/verilator_board.py, toolchain/boardsim/pty_bridge_tb.py): the
handshake reports the gateware's build and baud, a network loads and verifies by readback
through the pins, an idle board costs next to no CPU, and the simulation ends cleanly when
stopped or when the pty hangs up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hdl.spikecore.verify import simulator_available
from tests.runtime.conftest import random_image
from toolchain.boardsim.verilator_board import DEFAULT_CLOCK_HZ, DEFAULT_DIVISOR, VerilatorBoard
from toolchain.runtime import protocol as p
from toolchain.runtime.session import Session
from toolchain.targets.fpga.spec import TINY

pytestmark = [pytest.mark.hdl, pytest.mark.slow, pytest.mark.xdist_group("verilator-board")]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module", autouse=True)
def _verilator() -> None:
    reason = simulator_available("verilator")
    if reason:
        pytest.skip(reason)


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU time of the live processes in process group ``pgid``."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # pgrp; utime and stime follow at 11 and 12
            total += int(fields[11]) + int(fields[12])
    return total / tick


def test_session_loads_and_verifies_through_the_pins() -> None:
    image = random_image(TINY, seed=52)
    board = VerilatorBoard(TINY).start()
    try:
        with Session.open(board.path, timeout=2.0) as s:
            assert s.info == board.info
            assert s.info.build_id == p.spec_build_id(TINY)
            assert (s.info.clock_hz, s.info.baud) == \
                (DEFAULT_CLOCK_HZ, DEFAULT_CLOCK_HZ // DEFAULT_DIVISOR)
            s.load(image, TINY)  # RESET, CONFIG, every WRITE, then READ back SYNAPSE, STATE
            assert np.array_equal(s.weights(), image.syn_weight)
            status = s.status()
            assert status.crc_errors == 0 and status.tx_frames > 10
            # (the BOOT after reset is counted in tx_frames; STATUS's own reply is not yet)
            assert status.rx_frames == (status.tx_frames - 1) + status.resends + 1
            assert status.resends == s.stats.retries
            # the host still holds the pty open: only SIGTERM can end the simulation
            t0 = time.monotonic()
            board.stop()
            assert time.monotonic() - t0 < 5
            assert not board.running and board._process is not None
            assert board._process.returncode == 0
    finally:
        board.stop()


def test_idle_board_sleeps_and_ends_when_the_pty_hangs_up() -> None:
    with VerilatorBoard(TINY) as board:
        with Session.open(board.path, timeout=2.0) as s:
            s.status()
        assert board._process is not None
        pgid = board._process.pid
        time.sleep(0.3)  # the bridge's quiet interval, and the runner's own start-up
        cpu0, t0 = group_cpu_seconds(pgid), time.monotonic()
        time.sleep(2.0)
        idle_share = (group_cpu_seconds(pgid) - cpu0) / (time.monotonic() - t0)
        assert idle_share < 0.1, f"an idle board used {idle_share:.0%} of a core"
        board.pty.close()  # every host side of the pty is closed now
        assert board._process.wait(10) == 0


def test_main_prints_the_pty_and_stops_on_sigterm() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolchain.boardsim.verilator_board", "--preset", "tiny"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        path = proc.stdout.readline().strip()
        assert path.startswith("/dev/"), proc.stderr.read() if proc.stderr else path
        with Session.open(path, timeout=2.0) as s:
            assert s.info is not None and s.info.build_id == p.spec_build_id(TINY)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
    finally:
        proc.kill()
        proc.wait()


def test_divisor_too_small_is_refused_before_building() -> None:
    with pytest.raises(ValueError, match=r"^divisor 3: the device's UART receiver needs at "
                                         r"least 4 clocks per bit$"):
        VerilatorBoard(TINY, divisor=3)


HIL_TEST = '''
from toolchain.runtime import protocol as p


def test_handshake(board, board_session):
    assert board.kind == "rtl-sim"
    assert board_session.info.build_id == p.spec_build_id(board.spec)
    assert board_session.info.baud == board.served.info.baud


def test_power_cycle_resets_it(board, board_session):
    import time

    import numpy as np
    import pytest

    from toolchain.runtime.session import BoardResetError

    word = board.spec.pack("synapse", target=3, weight=5, delay=1, plastic=1)
    board_session.write(p.Memory.SYNAPSE, 0, np.array([word], np.uint64))
    assert board_session.read(p.Memory.SYNAPSE, 0, 1)[0] == word
    board.power_cycle()  # the device goes through reset and says BOOT
    deadline = time.monotonic() + 30  # the bridge sees the signal within its next poll
    with pytest.raises(BoardResetError):
        while time.monotonic() < deadline:
            board_session.status()
            time.sleep(0.05)
    board_session.handshake()
    # a fresh core: what was written is gone (block RAM keeps it through a reset, so the
    # device writes every memory again after one)
    assert board_session.read(p.Memory.SYNAPSE, 0, 1)[0] == 0
    assert board_session.status().boot_count == 1
'''


def test_pytest_plugin_serves_it_as_board_rtl_sim(tmp_path: Path) -> None:
    (tmp_path / "test_hil.py").write_text(HIL_TEST)
    # the plugin by module, whether or not this checkout's entry point is installed
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
         "-p", "no:spikeport", "-p", "toolchain.runtime.pytest_plugin",
         "--board", "rtl-sim", "test_hil.py"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 passed" in proc.stdout, proc.stdout[-3000:]
