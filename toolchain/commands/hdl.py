"""``spikeport hdl``: generate, verify and build the FPGA core's gateware.

The gateware imports (Amaranth, cocotb) happen inside the commands so that the rest of
the command line starts without them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from toolchain.boards import BoardSpec
    from toolchain.targets.fpga.spec import CoreSpec


@click.group()
def hdl() -> None:
    """The FPGA LIF/STDP core: Verilog, cocotb verification, bitstreams."""


@hdl.command()
@click.option("--board", "board_name", required=True, help="board name (see 'spikeport info')")
@click.option("--core", "core", default=None,
              help="core preset to build instead of the board's own (e.g. tiny)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="build directory (default: build/bitstreams/BOARD)")
@click.option("--units", is_flag=True,
              help="also the logic and memory of each unit of the device (protocol engine, "
                   "core, link), also when the build does not fit (one more synthesis)")
def build(board_name: str, core: str | None, out: Path | None, units: bool) -> None:
    """Synthesise, place and route the core for a board; print the resource report."""
    from hdl.board import DoesNotFit, build_bitstream, unit_resources, units_table

    board, spec = _board_and_core(board_name, core)
    out = out or board.bitstream_dir

    def echo_units() -> None:
        click.echo(units_table(unit_resources(out / "spikecore.il", board.family,
                                              synth_opts=board.synth_opts)))

    try:
        report = build_bitstream(board, spec=spec, build_dir=out)
    except DoesNotFit as e:
        if units:
            echo_units()
        raise click.ClickException(f"{e}; {_smaller_hint(board, spec)}") from None
    click.echo(report.table())
    if units:
        echo_units()


@hdl.command()
@click.option("--board", "board_name", required=True, help="board name (see 'spikeport info')")
@click.option("--core", "core", default=None,
              help="core preset instead of the board's own (e.g. tiny)")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="build directory (default: build/units/BOARD)")
def units(board_name: str, core: str | None, out: Path | None) -> None:
    """The logic and memory of each unit of the device (protocol engine units, core, link)
    from synthesis alone: quicker than 'build --units', which also places and routes."""
    from hdl.board import device_units, units_table

    board, spec = _board_and_core(board_name, core)
    click.echo(units_table(device_units(board, spec, out or Path("build/units") / board.name)))


def _board_and_core(board_name: str, core: str | None) -> tuple[BoardSpec, CoreSpec]:
    """The board and the core preset (the board's own unless named), or a usage error."""
    from toolchain.boards import BoardError, get_board
    from toolchain.targets.fpga.spec import SpecError, preset

    try:
        board = get_board(board_name)
        return board, preset(core or board.core)
    except (BoardError, SpecError) as e:
        raise click.UsageError(str(e)) from None


def _smaller_hint(board: BoardSpec, spec: CoreSpec) -> str:
    """What a user can change from the command line when a build does not fit."""
    from toolchain.boards import load_boards
    from toolchain.targets.fpga.spec import PRESETS

    size = sum(spec.memory_bits().values())
    smaller = [p.name for p in PRESETS.values() if sum(p.memory_bits().values()) < size]
    others = [b.name for b in load_boards().values() if b.name != board.name]
    hints = []
    if smaller:
        hints.append(f"build a smaller core with --core {' or --core '.join(smaller)}")
    if others:
        hints.append(f"build for another board with --board {' or --board '.join(others)}")
    return " or ".join(hints) if hints else "no smaller preset or other board is known"


@hdl.command()
@click.option("--simulator", type=click.Choice(["icarus", "verilator", "all"]), default="all",
              show_default=True)
@click.option("--spec", "spec_name", default="all", show_default=True,
              help="parameter set: tiny, small, odd or all")
@click.option("--steps", default=20, show_default=True, help="timesteps per run")
@click.option("--seed", default=1, show_default=True, help="seed of the random network")
def verify(simulator: str, spec_name: str, steps: int, seed: int) -> None:
    """Run the cocotb whole-core testbench against the golden model, bit for bit."""
    from hdl.spikecore.verify import SIMULATORS, VERIFY_SPECS, simulator_available
    from hdl.spikecore.verify import verify as run_verify

    sims = SIMULATORS if simulator == "all" else (simulator,)
    if spec_name != "all" and spec_name not in VERIFY_SPECS:
        raise click.UsageError(f"unknown parameter set '{spec_name}'; known: "
                               f"{', '.join(VERIFY_SPECS)}, all")
    names = list(VERIFY_SPECS) if spec_name == "all" else [spec_name]
    failed = False
    click.echo(f"{'simulator':<10} {'spec':<6} {'result':<7} {'build s':>8} {'test s':>8}")
    for sim in sims:
        reason = simulator_available(sim)
        if reason:
            click.echo(f"{sim:<10} skipped: {reason}")
            continue
        for name in names:
            r = run_verify(VERIFY_SPECS[name], sim, seed=seed, steps=steps)
            failed |= not r.passed
            click.echo(f"{sim:<10} {name:<6} {'pass' if r.passed else 'FAIL':<7} "
                       f"{r.build_seconds:8.1f} {r.test_seconds:8.1f}")
    if failed:
        sys.exit(1)
