"""``spikeport dse run | report``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from toolchain.console import output_dir
from toolchain.dse.spec import Objective, SweepError, load_toml


@click.group()
def dse() -> None:
    """Design-space exploration: sweeps over targets and hardware parameters."""


@dse.command("run")
@click.argument("sweep_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(path_type=Path), default=None,
              help="results directory (default: build/dse/<sweep name>)")
@click.option("--workers", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="local worker processes")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="run on a Dask cluster instead, e.g. tcp://10.0.0.5:8786")
@click.option("--retry-failed", is_flag=True, help="evaluate again the points that failed")
def run_cmd(sweep_file: Path, out: Path | None, workers: int, scheduler: str | None,
            retry_failed: bool) -> None:
    """Run (or resume) the sweep described by SWEEP_FILE (TOML)."""
    from toolchain.dse.execute import run_sweep
    from toolchain.dse.results import table, write_tables

    try:
        sweep = load_toml(sweep_file)
    except SweepError as e:
        raise click.ClickException(str(e)) from None
    out = output_dir(out or Path("build") / "dse" / sweep.name)
    store = run_sweep(sweep, out, workers=workers, scheduler=scheduler,
                      retry_failed=retry_failed)
    df = table(store)
    paths = write_tables(df, out)
    n_err = int((df["status"] != "ok").sum()) if len(df) else 0
    click.echo(f"{len(df)} points ({n_err} failed); tables: {', '.join(map(str, paths))}")


@dse.command("report")
@click.argument("results", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--pareto", default=None, metavar="METRIC:SENSE,METRIC:SENSE",
              help="objectives for the Pareto front (default: the sweep's objectives)")
def report_cmd(results: Path, pareto: str | None) -> None:
    """Tables, Pareto front and plots of a results directory."""
    from toolchain.dse.results import pareto_front, plot_pareto, table, write_tables
    from toolchain.dse.store import ResultStore

    df = table(ResultStore(results))
    if df.empty:
        raise click.ClickException(f"{results}: no point results yet")
    write_tables(df, results)
    if pareto:
        objectives = []
        for item in pareto.split(","):
            metric, _, sense = item.partition(":")
            objectives.append(Objective(metric.strip(), (sense or "min").strip()))
    else:
        spec = json.loads((results / "sweep.json").read_text())
        objectives = [Objective(m, s) for m, s in spec.get("objectives", {}).items()]
    click.echo(df.to_string(index=False, max_colwidth=40))
    if len(objectives) >= 2:
        try:
            front = pareto_front(df, objectives)
        except ValueError as e:
            raise click.ClickException(str(e)) from None
        png = plot_pareto(df, front, objectives[0], objectives[1], results / "pareto.png",
                          colour_by="target" if "target" in df else None)
        click.echo(f"\nPareto front over {', '.join(o.metric for o in objectives)}: "
                   f"{len(front)} of {len(df)} points; figure: {png}")
        click.echo(front.to_string(index=False, max_colwidth=40))
