"""Design-space exploration: sweep targets and hardware parameters, collect a tidy table,
extract Pareto fronts.  Runs on a local process pool or, unchanged, on a Dask cluster."""

from toolchain.dse.execute import evaluate_point, run_sweep
from toolchain.dse.results import pareto_front, plot_metric_vs_parameter, plot_pareto, table
from toolchain.dse.spec import Axis, Objective, Point, Sweep, SweepError, load_toml
from toolchain.dse.store import PointResult, ResultStore

__all__ = [
    "Axis", "Objective", "Point", "PointResult", "ResultStore", "Sweep", "SweepError",
    "evaluate_point", "load_toml", "pareto_front", "plot_metric_vs_parameter", "plot_pareto",
    "run_sweep", "table",
]
