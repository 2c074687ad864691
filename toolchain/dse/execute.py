"""Running a sweep: a local process pool by default, a Dask cluster on request.

Both executors hand each point to :func:`evaluate_point`, which never raises: an exception
in the user's point function becomes an ``error`` result carrying the traceback.  Results
are written to the store as they arrive, so stopping the sweep (Ctrl-C, a killed job, a
lost cluster) keeps every finished point, and running it again does only what is left.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import math
import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from toolchain.dse.spec import Point, Sweep, check, resolve
from toolchain.dse.store import PointResult, ResultStore
from toolchain.progress import on_terminal, task


def evaluate_point(evaluate: str, point_id: str, params: Mapping[str, Any]) -> PointResult:
    """Evaluate one point, turning any failure into a recorded error."""
    start = time.perf_counter()
    try:
        metrics = dict(resolve(evaluate)(dict(params)))
        for key, value in metrics.items():
            if isinstance(value, float) and not math.isfinite(value):
                metrics[key] = None  # JSON has no NaN/inf; absence of a value is explicit
        status, error = "ok", None
    except Exception:  # the point failed, the sweep goes on
        metrics, status, error = {}, "error", traceback.format_exc(limit=8)
    return PointResult(point_id, dict(params), status, metrics, error,
                       time.perf_counter() - start)


def run_sweep(
    sweep: Sweep,
    out: str | Path,
    *,
    workers: int = 1,
    scheduler: str | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    on_result: Callable[[PointResult], None] | None = None,
) -> ResultStore:
    """Evaluate every pending point of ``sweep`` and store the results under ``out``; a
    sweep that :func:`~toolchain.dse.spec.check` refuses raises before anything runs."""
    check(sweep)
    store = ResultStore(out)
    store.open(sweep)
    pending = store.pending(sweep, retry_failed=retry_failed)
    total = len(sweep.points())
    shown = on_terminal() if progress else contextlib.nullcontext()
    with shown, task(f"sweep {sweep.name}", total=total, unit="point",
                     initial=total - len(pending)) as bar:

        def record(result: PointResult) -> None:
            store.write(result)
            bar.advance()
            if on_result is not None:
                on_result(result)

        if not pending:
            return store
        if scheduler is not None:
            _run_dask(sweep, pending, scheduler, record)
        elif workers <= 1:
            for p in pending:
                record(evaluate_point(sweep.evaluate, p.id, p.params))
        else:
            _run_pool(sweep, pending, workers, record)
    return store


def _run_pool(sweep: Sweep, pending: list[Point], workers: int,
              record: Callable[[PointResult], None]) -> None:
    remaining = list(pending)
    while remaining:
        with cf.ProcessPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(evaluate_point, sweep.evaluate, p.id, p.params): p
                       for p in remaining}
            remaining = []
            broken: list[Point] = []
            for fut in cf.as_completed(futures):
                point = futures[fut]
                try:
                    record(fut.result())
                except cf.process.BrokenProcessPool:
                    broken.append(point)
        if broken:
            # A worker died (segfault, OOM kill): every point in flight is suspect.  Run
            # each alone once so the one that kills its process is recorded, not retried
            # forever, and the innocent ones still finish.
            for point in broken:
                record(_run_isolated(sweep.evaluate, point))


def _run_isolated(evaluate: str, point: Point) -> PointResult:
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(max_workers=1) as pool:
        try:
            return pool.submit(evaluate_point, evaluate, point.id, point.params).result()
        except cf.process.BrokenProcessPool:
            return PointResult(point.id, dict(point.params), "error", {},
                               "the worker process died while evaluating this point "
                               "(crash or out of memory)", time.perf_counter() - start)


def _run_dask(sweep: Sweep, pending: list[Point], scheduler: str,
              record: Callable[[PointResult], None]) -> None:
    from distributed import Client, as_completed

    with Client(scheduler) as client:
        futures = [
            client.submit(evaluate_point, sweep.evaluate, p.id, p.params,
                          key=f"point-{p.id}", pure=False)
            for p in pending
        ]
        for fut in as_completed(futures):
            record(fut.result())
