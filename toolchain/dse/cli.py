"""``spikeport dse run | report``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from toolchain.console import output_dir
from toolchain.dse.spec import Objective, SweepError, check, load_toml


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
    from toolchain.dse.results import all_failed, table, write_tables

    sweep = load_toml(sweep_file)
    check(sweep)  # before the results directory is made
    out = output_dir(out or Path("build") / "dse" / sweep.name)
    store = run_sweep(sweep, out, workers=workers, scheduler=scheduler,
                      retry_failed=retry_failed)
    df = table(store)
    paths = write_tables(df, out)
    n_err = int((df["status"] != "ok").sum()) if len(df) else 0
    click.echo(f"{len(df)} points ({n_err} failed); tables: {', '.join(map(str, paths))}")
    reason = all_failed(df)
    if reason is not None:
        raise click.ClickException(reason)


@dse.command("report")
@click.argument("results", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--pareto", default=None, metavar="METRIC:SENSE,METRIC:SENSE",
              help="objectives for the Pareto front, SENSE min or max (default: the sweep's "
              "objectives); one objective gives its best points")
@click.option("--columns", default=None, metavar="A,B",
              help="columns to print (default: the swept parameters, status, the "
              "objectives' metrics and why points failed)")
def report_cmd(results: Path, pareto: str | None, columns: str | None) -> None:
    """Tables, Pareto front and plots of a results directory."""
    from toolchain.dse.results import (
        all_failed,
        metric_columns,
        pareto_front,
        plot_pareto,
        summary,
        table,
        write_tables,
    )
    from toolchain.dse.store import ResultStore

    df = table(ResultStore(results))
    if df.empty:
        raise click.ClickException(f"{results}: no point results yet")
    write_tables(df, results)
    spec_path = results / "sweep.json"
    if not spec_path.is_file():
        raise click.ClickException(f"{results} has no sweep.json: not a `spikeport dse run` "
                                   "results directory")
    spec = json.loads(spec_path.read_text())
    axes, fixed = list(spec.get("axes", {})), list(spec.get("fixed", {}))
    metrics = metric_columns(df, [*axes, *fixed])
    if pareto is not None:
        objectives = _objectives(pareto, metrics)
    else:
        objectives = [Objective(m, s) for m, s in spec.get("objectives", {}).items()]
    chosen = [*axes, "status", *(o.metric for o in objectives if o.metric in df)]
    if (df["status"] != "ok").any():
        chosen.append("failure")
    if columns is not None:
        chosen = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in chosen if c not in df.columns]
        if unknown:
            raise click.BadParameter(f"'{unknown[0]}' is not a column of the results; "
                                     f"columns: {', '.join(map(str, df.columns))}",
                                     param_hint="'--columns'")
    click.echo(summary(df, chosen))
    reason = all_failed(df)
    if reason is not None:
        raise click.ClickException(reason)
    if not objectives:
        return
    front = pareto_front(df, objectives)
    if len(objectives) == 1:
        (o,) = objectives
        click.echo(f"\nBest by {o.metric} ({o.sense}): {len(front)} of {len(df)} points")
    else:
        png = plot_pareto(df, front, objectives[0], objectives[1], results / "pareto.png",
                          colour_by="target" if "target" in df else None)
        click.echo(f"\nPareto front over {', '.join(o.metric for o in objectives)}: "
                   f"{len(front)} of {len(df)} points; figure: {png}")
    click.echo(summary(front, chosen))


def _objectives(text: str, metrics: list[str]) -> list[Objective]:
    """``--pareto``'s METRIC:SENSE items, each metric one of the results'."""
    objectives = []
    for item in (i.strip() for i in text.split(",")):
        metric, _, sense = item.partition(":")
        metric, sense = metric.strip(), sense.strip() or "min"
        if metric not in metrics:
            raise click.BadParameter(f"'{metric}' is not a metric of these results; metrics: "
                                     f"{', '.join(metrics)}", param_hint="'--pareto'")
        try:
            objectives.append(Objective(metric, sense))
        except SweepError as e:
            raise click.BadParameter(str(e), param_hint="'--pareto'") from None
    return objectives
