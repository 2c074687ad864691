"""``spikeport run`` and ``spikeport flash``: put a network on a board and watch it run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from toolchain.console import SCRIPT_ARGS_HELP, SCRIPT_COMMAND, fit_option, output_dir
from toolchain.runtime import RTL_SIM, VIRTUAL

if TYPE_CHECKING:
    from toolchain.ir import Network
    from toolchain.sim.results import SimulationResult


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


class _SpikeCount:
    """Counts the steps and spikes streamed from the board, for the summary line."""

    def __init__(self) -> None:
        self.spikes = 0
        self.steps = 0

    def __call__(self, step: int, ids: np.ndarray) -> None:
        self.steps += 1
        self.spikes += int(ids.size)

    def done(self) -> None:
        click.echo(f"streamed {self.steps} steps, {self.spikes} spikes from the board", err=True)


def known_boards() -> list[str]:
    from toolchain.boards import load_boards

    return [*load_boards(), *PTY_BOARDS]


@click.command("run", context_settings=SCRIPT_COMMAND, epilog=SCRIPT_ARGS_HELP)
@click.option("--board", "-b", default=VIRTUAL, show_default=True,
              help="'virtual' (golden model on a pty), 'rtl-sim' (the device's Verilog under "
              "Verilator, its UART pins on a pty), or a real board's name (`spikeport boards "
              "list`)")
@click.option("--port", "-p", default=None, help="serial port of a real board")
@click.option("--baud", default=1_000_000, show_default=True)
@click.option("--preset", default="ice40up5k", show_default=True,
              help="core build a pty board serves (ice40up5k: the iCEBreaker's; tiny: 16 "
              "neurons, the quickest rtl-sim build)")
@click.option("--t-stop", "t_stop", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="MS", help="how long to run a compiled artifact or saved network "
              "(required for those; a script says it with run())")
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path),
              default=Path("build/run"), show_default=True,
              help="where spikes.mat (Neo) and raster.png go")
@click.option("--option", "-O", "options", multiple=True, metavar="KEY=VALUE",
              help="an option of the 'board' target, e.g. -O build=ecp5-85f to check the "
                   "board's build (repeatable; spikeport info board)")
@fit_option
@click.argument("source", metavar="SOURCE", type=click.Path(exists=True))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
def run(board: str, port: str | None, baud: int, preset: str, t_stop: float | None, out: Path,
        options: tuple[str, ...], fit: str | None, source: str,
        script_args: tuple[str, ...]) -> None:
    """Run SOURCE on a board: load it, run it, stream spikes back.

    SOURCE is a PyNN script, which runs with target 'board' (compiled for the core the board
    reports), or a network saved as data: a `spikeport compile` output directory, its
    compiled.spz, or a saved network (*.spnet), which is loaded (never executed), compiled
    for the board's core and run for --t-stop ms.  The spikes the network records are
    written as Neo (MATLAB format) and as a raster plot.
    """
    from toolchain.pynn.runner import script_code
    from toolchain.runtime import board_target

    data = _data_file(source)
    network = None if data is None else _network_of(data)
    if data is None:
        script_code(source)  # not Python source: refused before a board is started
        if t_stop is not None:
            raise click.UsageError("--t-stop is for a compiled artifact or saved network; a "
                                   "script's run() says how long it runs")
    elif t_stop is None:
        raise click.UsageError(f"--t-stop MS is needed to run {source}: a saved network or "
                               "artifact does not say how long to run it (a script's run() "
                               "does)")
    elif script_args:
        raise click.UsageError(f"{source} is data, not a script: it takes no arguments "
                               f"({' '.join(script_args)})")
    boards = known_boards()
    if board not in boards:
        raise click.BadParameter(f"unknown board '{board}'; known boards: {', '.join(boards)} "
                                 "(`spikeport boards list` describes them)",
                                 param_hint="'--board'")
    out = output_dir(out)
    served = None
    if board in PTY_BOARDS:
        from toolchain.runtime.pty_boards import pty_board
        from toolchain.targets.fpga.spec import SpecError
        from toolchain.targets.fpga.spec import preset as get_preset

        try:
            spec = get_preset(preset)
        except SpecError as e:
            raise click.BadParameter(str(e), param_hint="'--preset'") from None
        served = pty_board(board, spec).start()
        port = served.path
    elif port is None:
        from toolchain.boards import get_board

        raise click.UsageError(f"--board {board} needs --port (its serial device, e.g. "
                               f"{get_board(board).port_hint})")
    count = _SpikeCount()
    board_target.DEFAULTS.port, board_target.DEFAULTS.baud = port, baud
    board_target.DEFAULTS.on_step = count
    code = 0
    try:
        with board_target.registered():
            from toolchain.pynn import simulator
            from toolchain.targets import TargetOptionError
            from toolchain.targets.options import parse_assignments, with_fit

            try:
                chosen = parse_assignments(with_fit(options, fit, ["board"]), ["board"],
                                           default="board")
            except TargetOptionError as e:
                raise click.BadParameter(str(e), param_hint="'--option'") from None
            simulator.state.command_line_options = chosen
            try:
                if data is None:
                    code = _run_script(source, script_args, out)
                else:
                    _run_network(network, float(t_stop), out,  # type: ignore[arg-type]
                                 chosen.get("board", {}))
            finally:
                simulator.state.command_line_options = {}
        count.done()
        _report(board_target.DEFAULTS.sessions)
    finally:
        board_target.DEFAULTS.close_all()
        board_target.DEFAULTS.port = board_target.DEFAULTS.on_step = None
        if served is not None:
            served.stop()
    sys.exit(code)


def _data_file(source: str) -> Path | None:
    """The saved network or artifact SOURCE names (a compile output directory means its
    artifact), or None for a script."""
    import zipfile

    from toolchain.compiler.artifact import ARTIFACT

    path = Path(source)
    if path.is_dir():
        if not (path / ARTIFACT).is_file():
            raise click.BadParameter(f"'{source}' is a directory without {ARTIFACT}; give a "
                                     "PyNN script, a saved network or a `spikeport compile` "
                                     "output directory", param_hint="'SOURCE'")
        return path / ARTIFACT
    return path if zipfile.is_zipfile(path) else None


def _run_script(script: str, script_args: tuple[str, ...], out: Path) -> int:
    from toolchain.console import never_ran, simulator_of_script
    from toolchain.pynn import simulator
    from toolchain.pynn.runner import run_script

    before = simulator_of_script()
    code = run_script(script, script_args, target="board")
    if simulator_of_script() in (None, before):
        raise click.ClickException(f"{never_ran(script)}; nothing was run on the board")
    _write_outputs(_script_block(simulator.state), out)
    return code


def _network_of(path: Path) -> Network:
    """The network a saved network file or a compiled artifact holds, loaded as data.

    An artifact keeps its source network; that network is compiled again for the core the
    board carries (the artifact's own mapping may be for another target or build)."""
    from toolchain.compiler import CompiledNetwork
    from toolchain.ir import FormatError, Network, load
    from toolchain.portability import record_all_spikes

    value = load(path)
    network = value.network if isinstance(value, CompiledNetwork) else value
    if not isinstance(network, Network):
        raise FormatError(f"{path}: holds a {type(value).__name__}, not a network or a "
                          "compiled artifact")
    if isinstance(value, CompiledNetwork):
        click.echo(f"{path}: network '{network.label}' (compiled for {value.target} "
                   f"{value.board}), compiled again for the board's core", err=True)
    if not any(r.variable == "spikes" for r in network.recordings):
        network = record_all_spikes(network)  # nothing recorded: show every population
    return network


def _run_network(network: Network, t_stop: float, out: Path,
                 options: dict[str, object]) -> None:
    import toolchain

    result = toolchain.simulate(network, "board", t_stop=t_stop, **options)
    _write_outputs(_result_block(result), out)


def _report(sessions: list) -> None:
    for s in sessions:
        st = s.stats
        click.echo(f"link '{s.link.name}': {s.link.bytes_written} bytes out, "
                   f"{s.link.bytes_read} bytes in; retries {st.retries}, input frames resent "
                   f"{st.input_resent}, output resend requests {st.output_resend_requests}, "
                   f"bad frames {st.bad_frames}")


def _script_block(state: object) -> object:
    """A Neo block of the spikes every population of a script recorded, one segment per
    population and run (segments of a script that reset() between runs)."""
    import neo

    block = neo.Block(name="spikeport run")
    for pop in getattr(state, "populations", []):
        recorded = getattr(pop.recorder, "recorded", {})
        if not any(getattr(v, "name", v) == "spikes" and ids for v, ids in recorded.items()):
            continue
        for seg in pop.get_data("spikes").segments:
            seg.name = pop.label
            block.segments.append(seg)
    return block


def _result_block(result: SimulationResult) -> object:
    """A Neo block of a SimulationResult's spikes, one segment per population."""
    import neo
    import quantities as pq

    block = neo.Block(name="spikeport run")
    for label, rec in result.spikes.items():
        seg = neo.Segment(name=label)
        seg.spiketrains.extend([neo.SpikeTrain(times * pq.ms, t_stop=result.t_stop * pq.ms,
                                               name=f"{label}[{i}]")
                                for i, times in enumerate(rec.trains())])
        block.segments.append(seg)
    return block


def _write_outputs(block: object, out: Path) -> None:
    """The Neo file and raster plot of ``block``'s spikes."""
    from neo.io import NeoMatlabIO

    segments = block.segments  # type: ignore[attr-defined]
    if not segments:
        click.echo("no population recorded spikes: nothing to write")
        return
    NeoMatlabIO(str(out / "spikes.mat")).write_block(block)
    _raster(block, out / "raster.png")
    n = sum(len(st) for seg in segments for st in seg.spiketrains)
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
    ax.set_xlim(left=0)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    ax.set_title("spikes streamed from the board")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
