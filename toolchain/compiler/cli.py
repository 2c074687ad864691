"""``spikeport compile`` and ``spikeport report``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import click

from toolchain import html_report
from toolchain.console import SCRIPT_ARGS_HELP, SCRIPT_COMMAND, output_dir
from toolchain.progress import task

ARTIFACT = "compiled.spz"
REPORT = "report.txt"
FIGURE = "placement.png"
HTML = "report.html"


def _network_from(source: str, script_args: tuple[str, ...]):
    """A saved IR network file, or the network a PyNN script builds (captured at run())."""
    from toolchain.ir import Network, load
    from toolchain.pynn.capture import capture

    if zipfile.is_zipfile(source):
        return load(source, expect=Network)
    if source.endswith(".nir"):  # a NIR graph; extra arguments: --dt MS
        from toolchain.nir.run import network_of

        return network_of(source, script_args)[0]
    return capture(source, script_args)[0]


@click.command("compile", context_settings=SCRIPT_COMMAND, epilog=SCRIPT_ARGS_HELP)
@click.option("--target", "-t", default="loihi", show_default=True, help="Target to map onto.")
@click.option("--board", "-b", default=None, help="Target board (e.g. loihi1, nahuku32).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Directory for the artifact, report and placement figure.")
@click.option("--rate", default=10.0, show_default=True,
              help="Firing rate (Hz) the cost estimate assumes for populations.")
@click.option("--lax", is_flag=True,
              help="Record limit violations in the report instead of failing.")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
def compile_command(target: str, board: str | None, out: str, rate: float, lax: bool,
                    source: str, script_args: tuple[str, ...]) -> None:
    """Compile SOURCE for a target: a PyNN script (run through spikeport's PyNN backend
    until its first run(); extra arguments, and options spikeport does not know, go to the
    script) or a saved network file.

    Writes OUT/compiled.spz, OUT/report.txt, OUT/placement.png and OUT/report.html (the
    report and the figure, for a browser) and prints the report.
    """
    from toolchain.compiler import CompiledNetwork, MappingError
    from toolchain.compiler.pipeline import compile_network
    from toolchain.compiler.report import placement_figure
    from toolchain.ir import save
    from toolchain.targets import TARGETS, get_target

    if target not in TARGETS:
        raise click.BadParameter(f"unknown target '{target}'; known targets: "
                                 f"{', '.join(TARGETS)}", param_hint="'--target'")
    path = output_dir(out)
    with task(f"capture {Path(source).name}"):
        net = _network_from(source, script_args)
    try:
        tgt = get_target(target, **({"board": board} if board else {}))
    except (TypeError, ValueError) as e:
        raise click.BadParameter(str(e), param_hint="'--board'") from None
    if not tgt.passes():
        raise click.ClickException(f"target '{target}' has no compiler passes; "
                                   "`spikeport compile` needs a target mapped by passes")
    try:
        art = compile_network(net, tgt, strict=not lax, rate_hz=rate)
    except MappingError as e:
        raise click.ClickException(f"{net.label} does not fit {target}: {e}") from None
    assert isinstance(art, CompiledNetwork)
    save(art, path / ARTIFACT)
    text = art.report()
    (path / REPORT).write_text(text)
    with task(f"draw {FIGURE}"):
        placement_figure(art, path / FIGURE)
    page = html_report.write(path / HTML, f"compile report: {net.label} on {target}",
                             [*html_report.from_text(text), html_report.Section(
                                 "Placement", (html_report.Figure(path / FIGURE),))])
    click.echo(text, nl=False)
    click.echo(f"wrote {path / ARTIFACT}, {path / REPORT}, {path / FIGURE}, {page}")


@click.command("report")
@click.argument("artifact", type=click.Path(exists=True))
@click.option("--figure", type=click.Path(dir_okay=False), default=None,
              help="Also draw the placement figure to this PNG file.")
def report_command(artifact: str, figure: str | None) -> None:
    """Print the compile report of ARTIFACT (a `spikeport compile` output directory or its
    compiled.spz)."""
    from toolchain.compiler import CompiledNetwork
    from toolchain.compiler.report import placement_figure
    from toolchain.ir import load

    path = Path(artifact)
    if path.is_dir():
        path = path / ARTIFACT
    art = load(path, expect=CompiledNetwork)
    click.echo(art.report(), nl=False)
    if figure:
        placement_figure(art, figure)
        click.echo(f"wrote {figure}")
