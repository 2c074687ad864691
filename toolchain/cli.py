"""The ``spikeport`` command line.

Each area of the toolchain contributes its commands here, explicitly, so that
``spikeport --help`` is the one index of what the tool can do.
"""

from __future__ import annotations

import sys

import click

from toolchain import __version__, html_report
from toolchain.commands.compile import compile_command, report_command
from toolchain.commands.hdl import hdl
from toolchain.console import SCRIPT_ARGS_HELP, SCRIPT_COMMAND, fit_option, output_dir, report
from toolchain.dse.cli import dse
from toolchain.nir.cli import nir_group
from toolchain.runtime.cli import boards, flash
from toolchain.runtime.cli import run as run_on_board


class _Commands(click.Group):
    """The command group: progress bars on a terminal while a command runs, and an
    exception that escapes a command reported by :func:`toolchain.console.report` (one line
    for a user's mistake, the traceback for a bug) instead of as a raw traceback."""

    def invoke(self, ctx: click.Context) -> object:
        from toolchain.progress import on_terminal

        try:
            with on_terminal():
                return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as e:
            from toolchain.console import debugging

            raise click.exceptions.Exit(report(e, debug=debugging())) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spikeport")
@click.option("--debug", is_flag=True,
              help="Show the traceback of every error, not only of spikeport's own bugs "
              "(also SPIKEPORT_DEBUG=1).")
def main(debug: bool) -> None:
    """spikeport: PyNN networks compiled, co-simulated and deployed on neuromorphic hardware.

    A mistake (a parameter out of range, a network that does not fit, a damaged file) is
    reported in one line naming the script line it came from; `spikeport --debug COMMAND
    ...` shows its traceback.
    """


@main.command()
@click.argument("target", required=False)
def info(target: str | None) -> None:
    """List the targets and boards spikeport knows; with TARGET, its options, boards,
    presets and limits ('board', the target of `spikeport run`, too)."""
    from toolchain.runtime.board_target import registered
    from toolchain.targets import TARGETS
    from toolchain.targets.info import describe

    if target is not None:
        with registered():
            if target not in TARGETS:
                raise click.BadParameter(f"unknown target '{target}'; known targets: "
                                         f"{', '.join(TARGETS)}", param_hint="'TARGET'")
            click.echo(describe(target), nl=False)
        return
    click.echo(describe(), nl=False)
    try:
        from toolchain.boards import load_boards
    except ImportError:
        return
    click.echo("boards:")
    for board in load_boards().values():
        click.echo(f"  {board.name:<12} {board.description}")


@main.command(context_settings=SCRIPT_COMMAND, epilog=SCRIPT_ARGS_HELP)
@click.option("--target", "-t", default=None, metavar="TARGET",
              help="Target setup() uses when the script names none (default: reference).")
@click.option("--option", "-O", "options", multiple=True, metavar="[TARGET.]KEY=VALUE",
              help="A target option over the script's setup(), e.g. -O build=ecp5-85f "
                   "(repeatable; KEY alone is for --target).")
@fit_option
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
def pynn(target: str | None, options: tuple[str, ...], fit: str | None, script: str,
         script_args: tuple[str, ...]) -> None:
    """Run an unmodified PyNN SCRIPT on spikeport.

    PyNN examples take the simulator name as their first argument; give "spikeport":

    \b
      spikeport pynn simple_STDP.py spikeport --dendritic-delay-fraction 0
    """
    from toolchain.targets import TARGETS

    if target is not None and target not in TARGETS:
        raise click.BadParameter(
            f"unknown target '{target}'; known targets: {', '.join(TARGETS)}",
            param_hint="'--target'",
        )
    from toolchain.console import never_ran, simulator_of_script
    from toolchain.pynn import simulator
    from toolchain.pynn.runner import run_script
    from toolchain.targets.options import with_fit

    before = simulator_of_script()
    simulator.state.command_line_options = _target_options(
        with_fit(options, fit, list(TARGETS)), list(TARGETS), target)
    try:
        status = run_script(script, script_args, target)
    finally:
        simulator.state.command_line_options = {}
    if status == 0 and simulator_of_script() in (None, before):
        click.echo(f"note: {never_ran(script)}", err=True)
    sys.exit(status)


def _target_options(texts: tuple[str, ...], targets: list[str],
                    default: str | None) -> dict[str, dict[str, object]]:
    """``-O [TARGET.]KEY=VALUE`` typed per target, or a usage error naming what is wrong."""
    from toolchain.targets import TargetOptionError, UnknownTargetError
    from toolchain.targets.options import parse_assignments

    try:
        return parse_assignments(texts, targets, default=default)
    except (TargetOptionError, UnknownTargetError) as e:
        raise click.BadParameter(str(e), param_hint="'--option'") from None


@main.command(context_settings=SCRIPT_COMMAND, epilog=SCRIPT_ARGS_HELP)
@click.option("--out", "-o", default="build/portability", show_default=True,
              type=click.Path(file_okay=False), help="Directory for the CSV, Markdown and PNG.")
@click.option("--targets", default=None, metavar="A,B",
              help="Targets to try besides the reference (default: every registered one).")
@click.option("--option", "-O", "options", multiple=True, metavar="TARGET.KEY=VALUE",
              help="A target's constructor option, e.g. fpga.build=ecp5-85f (repeatable).")
@fit_option
@click.argument("script", type=click.Path(exists=True, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
def portability(out: str, targets: str | None, options: tuple[str, ...], fit: str | None,
                script: str, script_args: tuple[str, ...]) -> None:
    """Run a PyNN SCRIPT on the reference and on every target it fits; tabulate deviations.

    Writes OUT/portability.csv, .md and .png, and OUT/report.html (table and rasters, for a
    browser).

    \b
      spikeport portability -O fpga.build=ecp5-85f VAbenchmarks.py spikeport CUBA
    """
    from toolchain.portability import portability_of_script
    from toolchain.targets import TARGETS
    from toolchain.targets.options import with_fit

    names = None if targets is None else [t.strip() for t in targets.split(",") if t.strip()]
    unknown = [t for t in names or () if t not in TARGETS]
    if unknown:
        raise click.BadParameter(f"unknown target '{unknown[0]}'; known targets: "
                                 f"{', '.join(TARGETS)}", param_hint="'--targets'")
    running = list(TARGETS) if names is None else ["reference", *names]
    per_target = _target_options(with_fit(options, fit, running), running, None)
    out_dir = output_dir(out)
    matrix = portability_of_script(script, script_args, names, per_target)
    files = matrix.write(out_dir)
    files["report"] = html_report.write(
        out_dir / "report.html", f"portability of {matrix.network.label}",
        [html_report.Section("Deviation from the float reference, per target and population",
                             tuple(html_report.from_markdown(files["markdown"].read_text()))),
         html_report.Section("Spike rasters", (html_report.Figure(files["figure"]),))])
    click.echo(matrix.to_markdown())
    for kind, path in files.items():
        click.echo(f"{kind}: {path}")


main.add_command(dse)
main.add_command(compile_command)
main.add_command(report_command)
main.add_command(boards)
main.add_command(flash)
main.add_command(run_on_board)
main.add_command(hdl)
main.add_command(nir_group)


def run() -> None:  # pragma: no cover - console entry for `python -m toolchain`
    sys.exit(main())
