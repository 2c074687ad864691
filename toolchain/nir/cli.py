"""``spikeport nir``: run NIR graphs on any target, show how they map, convert both ways."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from toolchain.console import fit_option


def _fail(e: Exception) -> click.ClickException:
    return click.ClickException(str(e))


def target_options(target: str, options: tuple[str, ...], fit: str | None = None
                   ) -> dict[str, Any]:
    """``-O KEY=VALUE`` options (and ``--fit``) of ``target``, typed by its declaration
    (the syntax of every command: ``toolchain.targets.options.parse_assignments``)."""
    from toolchain.targets import TargetOptionError, UnknownTargetError
    from toolchain.targets.options import parse_assignments, with_fit

    try:
        return parse_assignments(with_fit(options, fit, [target]), [target],
                                 default=target).get(target, {})
    except (TargetOptionError, UnknownTargetError) as e:
        raise click.BadParameter(str(e), param_hint="'-O'") from None


def _check_target(target: str) -> None:
    from toolchain.targets import TARGETS

    if target not in TARGETS:
        raise click.BadParameter(f"unknown target '{target}'; known targets: "
                                 f"{', '.join(TARGETS)}", param_hint="'--target'")


@click.group("nir")
def nir_group() -> None:
    """NIR graphs (snnTorch, Norse, Lava-DL, Rockpool, ...): run, inspect, convert."""


@nir_group.command("run")
@click.argument("graph", type=click.Path(exists=True, dir_okay=False))
@click.option("--input", "-i", "input_path", required=True,
              type=click.Path(exists=True, dir_okay=False),
              help="Spike counts per Input node: .npz of (steps x n) arrays, or NIRGraphData.")
@click.option("--target", "-t", default="reference", show_default=True)
@click.option("--dt", type=float, default=None,
              help="Timestep in ms (default: the NIRGraphData's, or the graph's own).")
@click.option("--sample", type=int, default=0, show_default=True,
              help="Which sample of a NIRGraphData input to run.")
@click.option("--scheme", type=click.Choice(["exact", "euler"]), default="exact",
              show_default=True,
              help="LIF/LI discretisation: NIR's exact solution, or forward Euler as "
                   "snnTorch and Norse compute it.")
@click.option("--option", "-O", "options", multiple=True, metavar="KEY=VALUE",
              help="Target constructor option, e.g. -O build=ecp5-85f (repeatable).")
@fit_option
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False),
              help="Directory for output.npz, run.json and the compile report.")
def run_command(graph: str, input_path: str, target: str, dt: float | None, sample: int,
                scheme: str, options: tuple[str, ...], fit: str | None, out: str) -> None:
    """Run GRAPH with the input's spikes on a target; write OUT/output.npz with, for every
    neuron node N, N/spikes and N/v (steps x n, in the graph's time base and units), and
    for every Output node O, O/output (what it receives)."""
    from toolchain.console import output_dir
    from toolchain.nir import NIRError, load
    from toolchain.nir.run import read_inputs, run_graph

    _check_target(target)
    opts = target_options(target, options, fit)
    output_dir(out)  # refused before any work, not after a long run
    try:
        counts, data_dt = read_inputs(input_path, sample=sample)
        if dt is not None and data_dt is not None and abs(dt - data_dt) > 1e-9 * dt:
            raise NIRError(f"--dt {dt:g} ms disagrees with the input file's timestep "
                           f"{data_dt:g} ms; leave --dt out or resample the input")
        dt = dt if dt is not None else data_dt
        peak = max((int(a.max()) for a in counts.values() if np.size(a)), default=1)
        imported = load(graph, dt, max_input_count=max(peak, 1), scheme=scheme)
        result = run_graph(imported, counts, target, **opts)
    except NIRError as e:
        raise _fail(e) from None
    except (ValueError, TypeError) as e:  # a target's refusal or a bad option
        raise click.ClickException(f"{Path(graph).name} on {target}: {e}") from None
    files = result.write(out)
    if result.report:
        click.echo(result.report, nl=False)
    for node, s in result.spikes.items():
        click.echo(f"{node}: {int(s.sum())} spikes in {result.steps} steps "
                   f"(IR offset {result.offsets[node]} steps)")
    for note in imported.notes():
        click.echo(f"note: {note} (docs/nir.md)")
    for kind, path in files.items():
        click.echo(f"{kind}: {path}")


@nir_group.command("info")
@click.argument("graph", type=click.Path(exists=True, dir_okay=False))
@click.option("--dt", type=float, default=None, help="Timestep in ms.")
@click.option("--scheme", type=click.Choice(["exact", "euler"]), default="exact",
              show_default=True,
              help="LIF/LI discretisation: NIR's exact solution, or forward Euler as "
                   "snnTorch and Norse compute it.")
def info_command(graph: str, dt: float | None, scheme: str) -> None:
    """Show what GRAPH becomes: populations, projections, offsets and loop lags."""
    from toolchain.nir import NIRError, load

    try:
        imp = load(graph, dt, scheme=scheme)
    except NIRError as e:
        raise _fail(e) from None
    net = imp.network
    click.echo(f"{net.label}: dt {imp.dt:g} ms, {net.n_neurons} neurons, "
               f"{net.n_synapses} synapses")
    for name, shape in imp.inputs.items():
        click.echo(f"  input  {name:<20} shape {tuple(shape)}")
    for name, m in imp.nodes.items():
        click.echo(f"  neuron {name:<20} {m.nir_type} -> {m.cell_type} x{m.size}, "
                   f"offset {m.offset} steps{'' if m.spiking else ', non-spiking'}")
    for p in net.projections:
        steps = sorted({int(round(d / imp.dt)) for d in p.delay.tolist()})
        late = imp.loop_lag.get(p.label)
        click.echo(f"  projection {p.label:<28} {p.size} synapses, delay {steps} steps"
                   + (f", {late} step(s) late (loop)" if late else ""))
    for note in imp.notes():
        click.echo(f"note: {note}")


@nir_group.command("import")
@click.argument("graph", type=click.Path(exists=True, dir_okay=False))
@click.option("--dt", type=float, default=None, help="Timestep in ms.")
@click.option("--scheme", type=click.Choice(["exact", "euler"]), default="exact",
              show_default=True,
              help="LIF/LI discretisation: NIR's exact solution, or forward Euler as "
                   "snnTorch and Norse compute it.")
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False),
              help="The network file to write (.spnet).")
def import_command(graph: str, dt: float | None, scheme: str, out: str) -> None:
    """Convert GRAPH into a spikeport network file (its Inputs as spike sources with no
    events yet)."""
    from toolchain.console import output_dir
    from toolchain.ir import save
    from toolchain.nir import NIRError, read

    output_dir(Path(out).parent)
    try:
        net = read(graph, dt, scheme=scheme)
    except NIRError as e:
        raise _fail(e) from None
    click.echo(f"wrote {save(net, out)}")


@nir_group.command("export")
@click.argument("network", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "-o", required=True, type=click.Path(dir_okay=False),
              help="The NIR graph to write (.nir).")
def export_command(network: str, out: str) -> None:
    """Convert a spikeport network file into a NIR graph."""
    from toolchain.console import output_dir
    from toolchain.ir import FormatError, Network, load
    from toolchain.nir import NIRError, write

    output_dir(Path(out).parent)
    try:
        net = load(network, expect=Network)
        write(net, out)
    except (FormatError, NIRError) as e:
        raise _fail(e) from None
    click.echo(f"wrote {out}")

