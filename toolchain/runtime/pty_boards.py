"""Boards served on a pseudo-terminal (no hardware needed), found by name.

The host side talks to a simulated board the way it talks to a real one: over a serial
line, here a pty.  It never imports the simulators (``toolchain.boardsim``, which itself
imports this package and the gateware): each one is registered under a board name in the
``spikeport.pty_boards`` entry-point group, and :func:`pty_board` loads the one asked for.
A project can register its own simulated board the same way.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Protocol

from toolchain.runtime import RTL_SIM, VIRTUAL

if TYPE_CHECKING:
    from toolchain.targets.fpga.spec import CoreSpec

GROUP = "spikeport.pty_boards"


class PtyBoard(Protocol):
    """What a simulated board offers: the pty to connect to, start/stop, and a reset as a
    power glitch would cause (the board then sends BOOT)."""

    path: str

    def start(self) -> PtyBoard: ...

    def stop(self) -> None: ...

    def power_cycle(self) -> None: ...

    def __enter__(self) -> PtyBoard: ...

    def __exit__(self, *exc: object) -> None: ...


def pty_board(kind: str, spec: CoreSpec) -> PtyBoard:
    """The pty board named ``kind`` (``VIRTUAL``, ``RTL_SIM``, or one a project registered)
    serving ``spec``, not yet started: use it as a context manager or call ``start()``; the
    host connects to ``.path``."""
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    if kind not in found:
        if kind in (VIRTUAL, RTL_SIM):
            raise LookupError(
                f"pty board '{kind}' is not registered (entry-point group '{GROUP}'): "
                "spikeport's installed metadata is out of date; reinstall it with "
                "`pip install -e .` (or `make setup`)")
        raise ValueError(f"pty board '{kind}' is unknown; use one of "
                         f"{', '.join(sorted(found)) or f'{VIRTUAL}, {RTL_SIM}'}")
    return found[kind].load()(spec)
