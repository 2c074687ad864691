"""``spikeport dse run | report``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from toolchain.console import output_dir
from toolchain.dse.spec import Objective, SweepError, check, load_toml
from toolchain.progress import task


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

    sweep = load_toml(sweep_file)
    check(sweep)  # before the results directory is made
    out = output_dir(out or Path("build") / "dse" / sweep.name)
    store = run_sweep(sweep, out, workers=workers, scheduler=scheduler,
                      retry_failed=retry_failed)
    df, name, _, objectives, chosen = _results(store.root)
    n_err = int((df["status"] != "ok").sum())
    page = _write_report(store.root, df, name, chosen, objectives)
    click.echo(f"{len(df)} points ({n_err} failed); tables: {out / 'results.csv'}, "
               f"{out / 'results.parquet'}; report: {page}")
    _fail_if_all_failed(df)


@dse.command("report")
@click.argument("results", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--pareto", default=None, metavar="METRIC:SENSE,METRIC:SENSE",
              help="objectives for the Pareto front, SENSE min or max (default: the sweep's "
              "objectives); one objective gives its best points")
@click.option("--columns", default=None, metavar="A,B",
              help="columns to print (default: the swept parameters, status, the "
              "objectives' metrics and why points failed)")
def report_cmd(results: Path, pareto: str | None, columns: str | None) -> None:
    """Tables, Pareto front and plots of a results directory; writes its report.html."""
    from toolchain.dse.results import all_failed, pareto_front, summary

    df, name, axes, objectives, chosen = _results(results, pareto, columns)
    click.echo(summary(df, chosen))
    page = _write_report(results, df, name, chosen, objectives)
    if all_failed(df) is None and objectives:
        front = pareto_front(df, objectives)
        if len(objectives) == 1:
            (o,) = objectives
            click.echo(f"\nBest by {o.metric} ({o.sense}): {len(front)} of {len(df)} points")
        else:
            click.echo(f"\nPareto front over {', '.join(o.metric for o in objectives)}: "
                       f"{len(front)} of {len(df)} points; figure: {results / 'pareto.png'}")
        click.echo(summary(front, chosen))
    click.echo(f"report: {page}")
    _fail_if_all_failed(df)


def _results(results: Path, pareto: str | None = None, columns: str | None = None):
    """The table of a results directory, the sweep's name and axes, the objectives (the
    sweep's, or ``--pareto``'s) and the columns to show (default, or ``--columns``)."""
    from toolchain.dse.results import default_columns, metric_columns, table, write_tables
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
    if pareto is not None:
        objectives = _objectives(pareto, metric_columns(df, [*axes, *fixed]))
    else:
        objectives = [Objective(m, s) for m, s in spec.get("objectives", {}).items()]
    chosen = default_columns(df, axes, objectives)
    if columns is not None:
        chosen = [c.strip() for c in columns.split(",") if c.strip()]
        unknown = [c for c in chosen if c not in df.columns]
        if unknown:
            raise click.BadParameter(f"'{unknown[0]}' is not a column of the results; "
                                     f"columns: {', '.join(map(str, df.columns))}",
                                     param_hint="'--columns'")
    return df, str(spec.get("name", results.name)), axes, objectives, chosen


def _write_report(results: Path, df, name: str, chosen: list[str],
                  objectives: list[Objective]) -> Path:
    from toolchain.dse.results import write_report

    with task("write report.html"):
        return write_report(df, results, name=name, columns=chosen, objectives=objectives)


def _fail_if_all_failed(df) -> None:
    from toolchain.dse.results import all_failed

    reason = all_failed(df)
    if reason is not None:
        raise click.ClickException(reason)


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
