"""Sweep results as one tidy table, Pareto fronts over chosen metrics, and plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from toolchain.dse.spec import Objective
from toolchain.dse.store import ResultStore


def table(store: ResultStore) -> pd.DataFrame:
    """One row per point: parameter columns, metric columns, status, error, seconds."""
    rows = []
    for r in store.results():
        row = {"point": r.point_id, **r.params, "status": r.status, "seconds": r.seconds,
               "failure": r.error.strip().splitlines()[-1] if r.error else None}
        for k, v in r.metrics.items():
            if k in row:
                raise ValueError(
                    f"point {r.point_id}: metric '{k}' has the name of a parameter or of a "
                    f"column the table reserves ({', '.join(RESERVED)}); rename the metric"
                )
            row[k] = v
        rows.append(row)
    return pd.DataFrame(rows)


RESERVED = ("point", "status", "seconds", "failure")
# A failure in a printed table: the error's last line, cut to this many characters.
FAILURE_WIDTH = 60


def all_failed(df: pd.DataFrame) -> str | None:
    """Why a sweep has no results to tabulate, plot or optimise: every point failed (say
    how many, and the first failure), or ``None`` when some point succeeded."""
    if len(df) and (df["status"] == "ok").any():
        return None
    if not len(df):
        return "the sweep has no point results yet"
    first = df["failure"].dropna()
    if len(df) == 1:
        return "the only point failed" + (f": {first.iloc[0]}" if len(first) else "")
    reason = f"; the first: {first.iloc[0]}" if len(first) else ""
    return f"all {len(df)} points failed{reason} (the 'failure' column of results.csv has each)"


def metric_columns(df: pd.DataFrame, parameters: Sequence[str]) -> list[str]:
    """The table's metric columns: neither a parameter nor a column the table reserves."""
    return [c for c in df.columns if c not in RESERVED and c not in parameters]


def default_columns(df: pd.DataFrame, axes: Sequence[str],
                    objectives: Sequence[Objective]) -> list[str]:
    """What a printed table shows unless told otherwise: the swept parameters, the status,
    the objectives' metrics and, if any point failed, why."""
    chosen = [*axes, "status", *(o.metric for o in objectives if o.metric in df)]
    if len(df) and (df["status"] != "ok").any():
        chosen.append("failure")
    return chosen


def readable(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``columns`` of ``df`` as text to read: numbers to 4 significant digits, failures cut
    to :data:`FAILURE_WIDTH` characters, nothing for a missing value."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"column '{missing[0]}' is not in the results; columns are: "
                         f"{', '.join(map(str, df.columns))}")
    shown = df[list(columns)].copy()
    for c in shown.columns:
        if c == "failure":
            shown[c] = shown[c].map(lambda t: "" if not isinstance(t, str) else
                                    t if len(t) <= FAILURE_WIDTH else
                                    t[: FAILURE_WIDTH - 3] + "...")
        elif pd.api.types.is_float_dtype(shown[c]):
            shown[c] = shown[c].map(lambda x: "" if pd.isna(x) else f"{x:.4g}")
    return shown.fillna("").astype(str)


def summary(df: pd.DataFrame, columns: Sequence[str]) -> str:
    return readable(df, columns).to_string(index=False)


def write_report(df: pd.DataFrame, out: str | Path, *, name: str, columns: Sequence[str],
                 objectives: Sequence[Objective] = ()) -> Path:
    """``out/report.html``: the points (``columns``), the Pareto front over ``objectives``
    with its figure (``pareto.png``, drawn for two or more), and every other PNG in ``out``
    (the plots a study drew), embedded; nothing is ranked when every point failed."""
    from toolchain.html_report import Figure, Section, Table, Text, write

    out = Path(out)
    points = readable(df, columns)
    sections = [Section(f"{len(df)} points", (Table(list(points.columns),
                                                    points.values.tolist()),))]
    failed = all_failed(df)
    if failed is not None:
        sections.append(Section("Nothing to rank", (Text(failed),)))
    elif objectives:
        front = pareto_front(df, objectives)
        names = ", ".join(f"{o.metric} ({o.sense})" for o in objectives)
        shown = readable(front, columns)
        blocks: list = [Table(list(shown.columns), shown.values.tolist())]
        if len(objectives) >= 2:
            png = plot_pareto(df, front, objectives[0], objectives[1], out / "pareto.png",
                              colour_by="target" if "target" in df else None)
            blocks.append(Figure(png, f"{objectives[0].metric} against {objectives[1].metric}"))
        title = "Pareto front over" if len(objectives) > 1 else "Best by"
        sections.append(Section(f"{title} {names}: {len(front)} of {len(df)} points",
                                tuple(blocks)))
    others = [Figure(p, p.stem) for p in sorted(out.glob("*.png")) if p.name != "pareto.png"]
    if others:
        sections.append(Section("Figures", tuple(others)))
    return write(out / "report.html", f"sweep {name}", sections)


def write_tables(df: pd.DataFrame, out: str | Path) -> list[Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    csv, parquet = out / "results.csv", out / "results.parquet"
    df.to_csv(csv, index=False)
    df.to_parquet(parquet, index=False)
    return [csv, parquet]


def pareto_front(df: pd.DataFrame, objectives: Sequence[Objective]) -> pd.DataFrame:
    """Rows not dominated on ``objectives`` (successful points with all metrics present)."""
    if not objectives:
        raise ValueError("give at least one objective for a Pareto front")
    _numeric(df, [o.metric for o in objectives])
    ok = df[df["status"] == "ok"].dropna(subset=[o.metric for o in objectives])
    if ok.empty:
        return ok
    # Turn every objective into "smaller is better".
    costs = np.column_stack([
        ok[o.metric].to_numpy(float) * (1.0 if o.sense == "min" else -1.0) for o in objectives
    ])
    keep = np.ones(len(ok), dtype=bool)
    for i in range(len(ok)):
        if not keep[i]:
            continue
        dominates_i = np.all(costs <= costs[i], axis=1) & np.any(costs < costs[i], axis=1)
        if dominates_i.any():
            keep[i] = False
    return ok[keep].sort_values(objectives[0].metric)


def plot_pareto(df: pd.DataFrame, front: pd.DataFrame, x: Objective, y: Objective,
                path: str | Path, *, colour_by: str | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _numeric(df, [x.metric, y.metric])
    fig, ax = plt.subplots(figsize=(6, 4.5))
    ok = df[df["status"] == "ok"]
    groups = ok.groupby(colour_by) if colour_by and colour_by in ok else [(None, ok)]
    for name, g in groups:
        ax.scatter(g[x.metric], g[y.metric], s=18, alpha=0.6,
                   label=str(name) if name is not None else "points")
    ax.plot(front[x.metric], front[y.metric], "k--o", ms=7, mfc="none", label="Pareto front")
    ax.set_xlabel(f"{x.metric} ({x.sense})")
    ax.set_ylabel(f"{y.metric} ({y.sense})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_metric_vs_parameter(df: pd.DataFrame, metric: str, parameter: str, path: str | Path,
                             *, by: str | None = "target") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _numeric(df, [metric, parameter])
    ok = df[df["status"] == "ok"].dropna(subset=[metric])
    fig, ax = plt.subplots(figsize=(6, 4))
    groups = ok.groupby(by) if by and by in ok else [(None, ok)]
    for name, g in groups:
        g = g.groupby(parameter, as_index=False)[metric].median().sort_values(parameter)
        ax.plot(g[parameter], g[metric], "o-", label=str(name) if name is not None else metric)
    ax.set_xlabel(parameter)
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _numeric(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Refuse to plot or rank by a column that is missing (every point failed, or a
    misspelt metric) or holds no numbers, naming it."""
    reason = all_failed(df)
    if reason is not None:
        raise ValueError(f"nothing to show: {reason}")
    for c in columns:
        if c not in df.columns:
            known = ", ".join(str(k) for k in df.columns if k not in RESERVED)
            raise ValueError(f"'{c}' is not in the results; columns are: {known}")
        if not pd.api.types.is_numeric_dtype(df[c]):
            raise ValueError(f"'{c}' is not a numeric column of the results")
