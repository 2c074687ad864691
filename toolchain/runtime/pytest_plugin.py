"""pytest plugin for hardware-in-the-loop tests: the same test runs against the virtual
board (default), the simulated RTL, or a real board on a serial port.

    pytest --board virtual                       # golden model on a pty (default)
    pytest --board rtl-sim                       # the device's Verilog under Verilator
    pytest --board icebreaker --port /dev/ttyUSB1

Fixtures: ``board`` (a :class:`BoardEndpoint`: where to connect and which core build it
runs) and ``board_session`` (a connected, handshaken :class:`Session`, closed afterwards).
Registered through the ``pytest11`` entry point, so any project that installs spikeport
can write its own HIL tests with them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from toolchain.runtime import RTL_SIM, VIRTUAL

if TYPE_CHECKING:
    from toolchain.runtime.pty_boards import PtyBoard
    from toolchain.runtime.session import Session
    from toolchain.targets.fpga.spec import CoreSpec


@dataclass
class BoardEndpoint:
    """Where a test connects, and what is there."""

    kind: str  # "virtual", "rtl-sim" or a board name
    port: str
    spec: CoreSpec | None  # known up front for simulated boards; real ones report it
    served: PtyBoard | None = None  # the simulated board, for fault tests that reset it

    def power_cycle(self) -> None:
        """Reset the board as a power glitch would (simulated boards only)."""
        if self.served is None:
            pytest.skip(f"cannot power-cycle a real board ('{self.kind}') from a test")
        self.served.power_cycle()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("spikeport", "spikeport hardware-in-the-loop")
    group.addoption("--board", default=VIRTUAL,
                    help="board for HIL tests: 'virtual' (default), 'rtl-sim' (the device's "
                    "Verilog under Verilator), or a board name (then --port is required)")
    group.addoption("--port", default=None, help="serial port of the board for HIL tests")
    group.addoption("--board-preset", default="tiny",
                    help="core build the virtual board serves (a spec preset name)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hil: a hardware-in-the-loop test (uses --board)")


@pytest.fixture(scope="session")
def board(request: pytest.FixtureRequest) -> Iterator[BoardEndpoint]:
    # defaults too, so the fixtures also work imported into a conftest without the plugin
    kind = request.config.getoption("--board", default=VIRTUAL)
    port = request.config.getoption("--port", default=None)
    if kind in (VIRTUAL, RTL_SIM):
        from toolchain.runtime.pty_boards import pty_board
        from toolchain.targets.fpga.spec import preset

        spec = preset(request.config.getoption("--board-preset", default="tiny"))
        with pty_board(kind, spec) as served:
            yield BoardEndpoint(kind, served.path, spec, served)
        return
    if port is None:
        pytest.skip(f"--board {kind} needs --port <serial device>")
    yield BoardEndpoint(kind, port, None)


@pytest.fixture
def board_session(board: BoardEndpoint) -> Iterator[Session]:
    from toolchain.runtime.session import Session

    session = Session.open(board.port)
    try:
        yield session
    finally:
        session.close()
