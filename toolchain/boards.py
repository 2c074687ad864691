"""Boards spikeport can build for and talk to, read from ``boards/*.toml``.

One TOML file per board says which target and core build it carries, which
amaranth-boards platform describes its FPGA, its clock, how to reach it over serial and
how openFPGALoader names it.  Everything else (bitstream builds, the UART runtime, the CLI)
reads a :class:`BoardSpec` and nothing else.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

BOARDS_DIR = Path(__file__).resolve().parents[1] / "boards"
# Where builds go (bitstreams, Verilator models, tool caches): read by the gateware builds
# and by `spikeport flash`, which looks for the bitstream a build wrote.
BUILD_ROOT = Path(__file__).resolve().parents[1] / "build"
# What Amaranth's platform build writes per FPGA family.
BITSTREAM_SUFFIX = {"ice40": "bin", "ecp5": "bit"}


class BoardError(ValueError):
    """A board file that is missing, malformed or names something that does not exist."""


@dataclass(frozen=True)
class BoardSpec:
    name: str
    description: str
    target: str
    core: str  # preset name of toolchain.targets.fpga.spec
    platform: str  # "module:Class" of an amaranth-boards platform
    family: str  # "ice40" or "ecp5"
    clock_hz: int
    synth_opts: str
    port_hint: str
    baud: int
    openfpgaloader_board: str
    path: Path

    @property
    def bitstream_dir(self) -> Path:
        """Where ``spikeport hdl build --board NAME`` writes this board's build."""
        return BUILD_ROOT / "bitstreams" / self.name

    @property
    def bitstream(self) -> Path:
        return self.bitstream_dir / f"spikecore.{BITSTREAM_SUFFIX[self.family]}"

    def platform_class(self) -> type:
        """The amaranth-boards platform class (imported on demand: it pulls in Amaranth)."""
        module, _, cls = self.platform.partition(":")
        try:
            return getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as e:
            raise BoardError(f"{self.path.name}: fpga.platform '{self.platform}' cannot be "
                             f"imported ({e}); install the 'hdl' extra") from None


_FIELDS = {
    "board": {"name": str, "description": str, "target": str, "core": str},
    "fpga": {"platform": str, "family": str, "clock_hz": int, "synth_opts": str},
    "serial": {"port_hint": str, "baud": int},
    "programmer": {"openfpgaloader_board": str},
}
FAMILIES = ("ice40", "ecp5")


def load_board(path: Path) -> BoardSpec:
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise BoardError(f"{path.name}: not valid TOML: {e}") from None
    values: dict[str, object] = {}
    for table, fields in _FIELDS.items():
        section = raw.get(table)
        if not isinstance(section, dict):
            raise BoardError(f"{path.name}: missing table [{table}]")
        for key, kind in fields.items():
            if key not in section:
                raise BoardError(f"{path.name}: [{table}] has no '{key}'")
            if not isinstance(section[key], kind) or isinstance(section[key], bool):
                raise BoardError(f"{path.name}: [{table}] {key} = {section[key]!r} must be "
                                 f"a {kind.__name__}")
            values[key] = section[key]
    if values["family"] not in FAMILIES:
        raise BoardError(f"{path.name}: [fpga] family = '{values['family']}' is not one of "
                         f"{', '.join(FAMILIES)}")
    for key in ("clock_hz", "baud"):
        if values[key] <= 0:
            raise BoardError(f"{path.name}: {key} = {values[key]} must be positive")
    return BoardSpec(**values, path=path)


def load_boards(directory: Path = BOARDS_DIR) -> dict[str, BoardSpec]:
    """All boards in ``directory`` by name."""
    boards: dict[str, BoardSpec] = {}
    for path in sorted(directory.glob("*.toml")):
        board = load_board(path)
        if board.name in boards:
            raise BoardError(f"{path.name}: board name '{board.name}' is already used by "
                             f"{boards[board.name].path.name}")
        boards[board.name] = board
    return boards


def get_board(name: str, directory: Path = BOARDS_DIR) -> BoardSpec:
    boards = load_boards(directory)
    try:
        return boards[name]
    except KeyError:
        raise BoardError(f"unknown board '{name}'; known boards: {', '.join(boards)}") from None
