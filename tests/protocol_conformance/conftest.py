"""The boards under test, started as a user starts them (``pty_board``), and a checking
host on each."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.protocol_conformance.client import Client
from tests.protocol_conformance.host import Host
from toolchain.runtime.pty_boards import PtyBoard

# (board, core preset): the virtual board on the tiny build and on a build with two-byte ids
# (1024 neurons), the gateware under Verilator on the tiny build
VIRTUAL = ("virtual", "tiny")
VIRTUAL_WIDE = ("virtual", "ecp5-85f")
RTL_SIM = ("rtl-sim", "tiny")
TIMEOUT = {"virtual": 1.0, "rtl-sim": 5.0}
_GATEWARE = [pytest.mark.hdl, pytest.mark.slow, pytest.mark.xdist_group("verilator-board")]


def board_params(*boards: tuple[str, str]) -> list:
    return [pytest.param(b, id=f"{b[0]}-{b[1]}", marks=_GATEWARE if b[0] == "rtl-sim" else [])
            for b in boards]


def start_board(kind: str, preset_name: str) -> PtyBoard:
    from toolchain.runtime.pty_boards import pty_board
    from toolchain.targets.fpga.spec import preset

    if kind == "rtl-sim":
        from hdl.spikecore.verify import simulator_available

        reason = simulator_available("verilator")
        if reason:
            pytest.skip(reason)
    return pty_board(kind, preset(preset_name)).start()


@pytest.fixture(scope="module")
def served(request: pytest.FixtureRequest) -> Iterator[object]:
    kind, preset_name = request.param
    board = start_board(kind, preset_name)
    board.kind = kind  # type: ignore[attr-defined]
    try:
        yield board
    finally:
        board.stop()


@pytest.fixture
def host(served: object) -> Iterator[Host]:
    """A fresh board (power-cycled) after the handshake."""
    client = Client(served.path)  # type: ignore[attr-defined]
    kind = served.kind  # type: ignore[attr-defined]
    h = Host(client, served.power_cycle, timeout=TIMEOUT[kind])  # type: ignore[attr-defined]
    h.kind = kind  # type: ignore[attr-defined]
    try:
        h.start()
        yield h
    finally:
        client.close()


def fuzz_counts(kind: str) -> tuple[int, int]:
    """(seeds, cases per seed): small in CI, larger on demand through the environment
    (SPIKEPORT_FUZZ_SEEDS, SPIKEPORT_FUZZ_CASES), because rtl-sim simulates every bit."""
    seeds, cases = (3, 600) if kind == "virtual" else (2, 150)
    return (int(os.environ.get("SPIKEPORT_FUZZ_SEEDS", seeds)),
            int(os.environ.get("SPIKEPORT_FUZZ_CASES", cases)))
