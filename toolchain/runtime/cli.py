"""``spikeport run`` and ``spikeport flash``: put a network on a board and watch it run."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import numpy as np

from toolchain.runtime import RTL_SIM, VIRTUAL


@click.command("flash")
@click.option("--board", "-b", required=True, help="board name (e.g. icebreaker, ulx3s)")
@click.option("--port", "-p", default=None,
              help="USB probe: BUS:DEVICE as lsusb shows it, or the FTDI serial number")
@click.option("--bitstream", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="bitstream file (default: what `spikeport hdl build` wrote for BOARD)")
@click.option("--persist", is_flag=True, help="write the SPI flash, not SRAM")
@click.option("--dry-run", is_flag=True, help="print the openFPGALoader command, run nothing")
def flash(board: str, port: str | None, bitstream: Path | None, persist: bool,
          dry_run: bool) -> None:
    """Write the core's bitstream onto BOARD with openFPGALoader."""
    from toolchain.runtime.flash import (
        FlashError,
        default_bitstream,
        find_loader,
        flash_command,
    )
    from toolchain.runtime.flash import flash as do_flash

    try:
        if dry_run:
            path = bitstream or default_bitstream(board)
            click.echo(" ".join(flash_command(board, path, loader=find_loader(), port=port,
                                              persist=persist)))
            return
        cmd = do_flash(board, bitstream, port=port, persist=persist)
    except FlashError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"flashed: {' '.join(cmd)}")


# The two boards that need no hardware: the device side of the protocol served on a
# pseudo-terminal, so any baud is accepted and nothing is flashed.
PTY_BOARDS = {
    VIRTUAL: "golden model",
    RTL_SIM: "device Verilog (protocol engine + core) under Verilator, UART pins on the pty",
}


def board_rows() -> list[dict[str, str]]:
    """One row per board `spikeport run --board` accepts: the boards/*.toml files, then the
    pty boards.  A row says what to plug in, which core build it carries, how to reach it and
    how to flash it, so a user can pick ``--board``/``--port`` without reading TOML."""
    from toolchain.boards import BoardError, load_boards
    from toolchain.runtime.flash import LOADER_NAMES
    from toolchain.targets.fpga.spec import PRESETS

    rows = []
    for spec in load_boards().values():
        try:
            cls = spec.platform_class()
            fpga = f"{cls.device}-{cls.package}"
        except BoardError:  # amaranth-boards not installed: the family still says enough
            fpga = spec.family
        core = PRESETS[spec.core]
        rows.append({
            "board": spec.name, "fpga": f"{fpga} @ {spec.clock_hz / 1e6:g} MHz",
            "core": f"{spec.core} ({core.n_neurons} neurons)",
            "serial": f"{spec.baud} 8N1, port {spec.port_hint}",
            "flash": f"{LOADER_NAMES[0]} -b {spec.openfpgaloader_board}",
        })
    for name, what in PTY_BOARDS.items():
        rows.append({"board": name, "fpga": f"none ({what})", "core": "any (--preset)",
                     "serial": "a pty made per run, any baud",
                     "flash": "none"})
    return rows


@click.group("boards")
def boards() -> None:
    """Boards spikeport can run a network on."""


@boards.command("list")
def list_boards() -> None:
    """List every board: its FPGA, core build, serial settings and how it is flashed."""
    from toolchain.boards import BoardError

    try:
        rows = board_rows()
    except BoardError as e:
        raise click.ClickException(str(e)) from None
    columns = list(rows[0])
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    click.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in rows:
        click.echo("  ".join(r[c].ljust(widths[c]) for c in columns).rstrip())


class _Progress:
    """Live step and spike counts on stderr, at most a few times a second."""

    def __init__(self) -> None:
        self.spikes = 0
        self.steps = 0
        self._shown = 0.0
        self._window: list[int] = []

    def __call__(self, step: int, ids: np.ndarray) -> None:
        self.steps += 1
        self.spikes += int(ids.size)
        self._window.append(int(ids.size))
        now = time.monotonic()
        if now - self._shown > 0.25:
            recent = sum(self._window[-100:])
            click.echo(f"\rstep {step:>8}  spikes {self.spikes:>9}  last 100 steps: {recent:>6}",
                       nl=False, err=True)
            self._shown = now

    def done(self) -> None:
        click.echo(f"\rsteps {self.steps:>8}  spikes {self.spikes:>9}" + " " * 24, err=True)


@click.command("run", context_settings={"ignore_unknown_options": True,
                                        "allow_interspersed_args": False})
@click.option("--board", "-b", default=VIRTUAL, show_default=True,
              help="'virtual' (golden model on a pty), 'rtl-sim' (the device's Verilog under "
              "Verilator, its UART pins on a pty), or a real board's name")
@click.option("--port", "-p", default=None, help="serial port of a real board")
@click.option("--baud", default=1_000_000, show_default=True)
@click.option("--preset", default="tiny", show_default=True,
              help="core build the virtual board serves")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build/run"), show_default=True,
              help="where spikes.mat (Neo) and raster.png go")
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
def run(board: str, port: str | None, baud: int, preset: str, out: Path, script: str,
        script_args: tuple[str, ...]) -> None:
    """Compile the PyNN SCRIPT for the board's core, load it, run it, stream spikes back.

    The script is an ordinary PyNN script; it runs with target 'board'. Spikes it records are
    written as Neo (MATLAB format) and as a raster plot.
    """
    from toolchain.pynn.runner import ScriptError, script_code
    from toolchain.runtime import board_target

    try:
        script_code(script)  # refused before a board is started or opened
    except ScriptError as e:
        raise click.ClickException(str(e)) from None
    served = None
    if board in (VIRTUAL, RTL_SIM):
        from toolchain.runtime.virtual import pty_board
        from toolchain.targets.fpga.spec import SpecError
        from toolchain.targets.fpga.spec import preset as get_preset

        try:
            spec = get_preset(preset)
        except SpecError as e:
            raise click.BadParameter(str(e), param_hint="'--preset'") from None
        served = pty_board(board, spec).start()
        port = served.path
    elif port is None:
        from toolchain.boards import BoardError, get_board

        try:
            hint = f", e.g. {get_board(board).port_hint}"
        except BoardError:
            hint = ""
        raise click.UsageError(f"--board {board} needs --port (its serial device{hint})")
    progress = _Progress()
    board_target.DEFAULTS.port, board_target.DEFAULTS.baud = port, baud
    board_target.DEFAULTS.on_step = progress
    try:
        from toolchain.pynn import simulator
        from toolchain.pynn.runner import run_script

        with board_target.registered():
            code = run_script(script, script_args, target="board")
        progress.done()
        _write_outputs(simulator.state, out)
        _report(board_target.DEFAULTS.sessions)
    except Exception as e:  # a board, link or mapping problem: say it in one line
        from toolchain.runtime.session import BoardError
        from toolchain.runtime.transport import TransportError
        from toolchain.targets.fpga.spec import SpecError

        if isinstance(e, BoardError | TransportError | SpecError):
            raise click.ClickException(str(e)) from None
        raise
    finally:
        board_target.DEFAULTS.close_all()
        board_target.DEFAULTS.port = board_target.DEFAULTS.on_step = None
        if served is not None:
            served.stop()
    sys.exit(code)


def _report(sessions: list) -> None:
    for s in sessions:
        st = s.stats
        click.echo(f"link '{s.link.name}': {s.link.bytes_written} bytes out, "
                   f"{s.link.bytes_read} bytes in; retries {st.retries}, input frames resent "
                   f"{st.input_resent}, output resend requests {st.output_resend_requests}, "
                   f"bad frames {st.bad_frames}")


def _write_outputs(state: object, out: Path) -> None:
    """Neo block of every population that recorded spikes, and a raster plot."""
    import neo
    from neo.io import NeoMatlabIO

    pops = [p for p in getattr(state, "populations", [])
            if any(getattr(v, "name", v) == "spikes" and ids
                   for v, ids in getattr(p.recorder, "recorded", {}).items())]
    if not pops:
        click.echo("no population recorded spikes: nothing to write")
        return
    out.mkdir(parents=True, exist_ok=True)
    block = neo.Block(name="spikeport run")
    for pop in pops:
        for seg in pop.get_data("spikes").segments:
            seg.name = pop.label
            block.segments.append(seg)
    NeoMatlabIO(str(out / "spikes.mat")).write_block(block)
    _raster(block, out / "raster.png")
    n = sum(len(st) for seg in block.segments for st in seg.spiketrains)
    click.echo(f"wrote {out / 'spikes.mat'} ({n} spikes) and {out / 'raster.png'}")


def _raster(block: object, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    row = 0
    for seg in block.segments:  # type: ignore[attr-defined]
        for k, train in enumerate(seg.spiketrains):
            t = np.asarray(train.rescale("ms").magnitude)
            ax.plot(t, np.full(t.size, row + k), "|", color=f"C{block.segments.index(seg)}",
                    markersize=4)
        ax.axhline(row - 0.5, color="0.8", linewidth=0.5)
        ax.annotate(seg.name or "", xy=(1.0, row), xycoords=("axes fraction", "data"),
                    xytext=(4, 0), textcoords="offset points", fontsize=8, va="bottom")
        row += len(seg.spiketrains)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    ax.set_title("spikes streamed from the board")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
