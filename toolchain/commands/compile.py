"""``spikeport compile`` and ``spikeport report``."""

from __future__ import annotations

import zipfile
from pathlib import Path

import click

from toolchain import html_report
from toolchain.compiler.artifact import ARTIFACT
from toolchain.console import SCRIPT_ARGS_HELP, SCRIPT_COMMAND, fit_option, output_dir
from toolchain.progress import task

REPORT = "report.txt"
FIGURE = "placement.png"
HTML = "report.html"


def _network_from(source: str, script_args: tuple[str, ...]):
    """A saved IR network file (no run length), a NIR graph, or the network a PyNN script
    builds (captured at run(), with the length of that run)."""
    from toolchain.ir import Network, load
    from toolchain.pynn.capture import capture

    if zipfile.is_zipfile(source):
        return load(source, expect=Network), None
    if source.endswith(".nir"):  # a NIR graph; extra arguments: --dt MS
        from toolchain.nir.run import network_of

        return network_of(source, script_args)  # with its input's run length
    return capture(source, script_args)


def target_from_cli(target: str, options: tuple[str, ...], board: str | None = None,
                    fit: str | None = None):
    """The target ``-t TARGET -O KEY=VALUE ... [--board NAME] [--fit POLICY]`` names, or a
    usage error naming the bad target, option or value and the valid ones."""
    from toolchain.targets import TARGETS, TargetOptionError, UnknownTargetError, get_target

    if target not in TARGETS:
        raise click.BadParameter(f"unknown target '{target}'; known targets: "
                                 f"{', '.join(TARGETS)}", param_hint="'--target'")
    from toolchain.targets.options import parse_assignments, with_fit

    texts = with_fit((*options, *((f"board={board}",) if board is not None else ())), fit,
                     [target])
    try:
        typed = parse_assignments(texts, [target], default=target).get(target, {})
        return get_target(target, **typed)
    except (TargetOptionError, UnknownTargetError) as e:
        hint = "'--board'" if board is not None and "board" in str(e) else "'--option'"
        raise click.BadParameter(str(e), param_hint=hint) from None
    except ValueError as e:  # a value the option's type allows but the target refuses
        raise click.BadParameter(str(e), param_hint="'--option'") from None


@click.command("compile", context_settings=SCRIPT_COMMAND, epilog=SCRIPT_ARGS_HELP)
@click.option("--target", "-t", default="loihi", show_default=True, help="Target to map onto.")
@click.option("--board", "-b", default=None,
              help="The target's board (-O board=NAME; e.g. loihi1, 48-chip, ulx3s).")
@click.option("--option", "-O", "options", multiple=True, metavar="KEY=VALUE",
              help="A target option, e.g. -O build=ecp5-85f (repeatable; spikeport info "
                   "TARGET lists them).")
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Directory for the artifact, report and placement figure.")
@click.option("--rate", default=10.0, show_default=True,
              help="Firing rate (Hz) the cost estimate assumes for populations.")
@click.option("--lax", is_flag=True,
              help="Record every broken limit in the artifact and report instead of "
                   "failing at the first (the artifact is still written).")
@fit_option
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.argument("script_args", nargs=-1, type=click.UNPROCESSED)
def compile_command(target: str, board: str | None, options: tuple[str, ...], out: str,
                    rate: float, lax: bool, fit: str | None, source: str,
                    script_args: tuple[str, ...]) -> None:
    """Compile SOURCE for a target: a PyNN script (run through spikeport's PyNN backend
    until its first run(); extra arguments, and options spikeport does not know, go to the
    script) or a saved network file.

    Writes OUT/compiled.spz, OUT/report.txt, OUT/placement.png and OUT/report.html (the
    report and the figure, for a browser) and prints the report.
    """
    from toolchain.compiler import MappingError
    from toolchain.compiler.describe import activity
    from toolchain.compiler.report import placement_figure, render_report
    from toolchain.ir import save

    tgt = target_from_cli(target, options, board, fit)
    path = output_dir(out)
    with task(f"capture {Path(source).name}"):
        net, t_stop = _network_from(source, script_args)
    try:
        art = tgt.compile(net, strict=not lax,
                          activity=activity(net, rate_hz=rate, duration_ms=t_stop))
    except MappingError as e:
        raise click.ClickException(f"{net.label} does not fit {target}: {e}") from None
    save(art, path / ARTIFACT)
    text = render_report(art)
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
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON (the schema of docs/formats.md).")
def report_command(artifact: str, figure: str | None, as_json: bool) -> None:
    """Print the compile report of ARTIFACT (a `spikeport compile` output directory or its
    compiled.spz)."""
    from toolchain.compiler import CompiledNetwork
    from toolchain.compiler.report import placement_figure, render_report, report_json
    from toolchain.ir import load

    path = Path(artifact)
    if path.is_dir():
        path = path / ARTIFACT
    art = load(path, expect=CompiledNetwork)
    click.echo(report_json(art) if as_json else render_report(art), nl=False)
    if figure:
        placement_figure(art, figure)
        if not as_json:
            click.echo(f"wrote {figure}")
