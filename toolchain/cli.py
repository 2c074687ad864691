"""The ``spikeforge`` command line.

Each area of the toolchain contributes its commands here, explicitly, so that
``spikeforge --help`` is the one index of what the tool can do.
"""

from __future__ import annotations

import sys

import click

from toolchain import __version__
from toolchain.dse.cli import dse


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="spikeforge")
def main() -> None:
    """spikeforge: PyNN networks compiled, co-simulated and deployed on neuromorphic hardware."""


@main.command()
def info() -> None:
    """List the targets and boards spikeforge knows."""
    from toolchain.targets import TARGETS

    click.echo("targets:")
    for name, factory in TARGETS.items():
        doc = (factory.__doc__ or "").strip().splitlines()[0] if factory.__doc__ else ""
        click.echo(f"  {name:<12} {doc}")
    try:
        from toolchain.boards import load_boards
    except ImportError:
        return
    click.echo("boards:")
    for board in load_boards().values():
        click.echo(f"  {board.name:<12} {board.description}")


main.add_command(dse)


def run() -> None:  # pragma: no cover - console entry for `python -m toolchain`
    sys.exit(main())
