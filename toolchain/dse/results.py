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
    missing = [o.metric for o in objectives if o.metric not in df.columns]
    if missing:
        known = ", ".join(c for c in df.columns if c not in RESERVED)
        raise ValueError(f"metric '{missing[0]}' is not in the results; columns are: {known}")
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
