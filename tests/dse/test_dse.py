import json
import os
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolchain.dse import (
    Axis,
    Objective,
    Sweep,
    SweepError,
    load_toml,
    pareto_front,
    plot_pareto,
    run_sweep,
    table,
)
from toolchain.dse.spec import from_mapping

POINT_MODULE = textwrap.dedent('''
    import os

    def evaluate(params):
        """A toy cost model: energy grows with bits, error shrinks with bits."""
        with open(params["log"], "a") as fh:
            fh.write(f"{params['bits']},{params['target']}\\n")
        if params["bits"] == params.get("fail_at", -1):
            raise RuntimeError(f"cannot build {params['bits']}-bit weights")
        if params["bits"] == params.get("die_at", -1):
            os._exit(3)
        scale = {"a": 1.0, "b": 1.5}[params["target"]]
        return {"energy": scale * params["bits"] ** 2, "error": scale / params["bits"],
                "bits_seen": params["bits"]}
''')


@pytest.fixture
def point_module(tmp_path, monkeypatch):
    pkg = tmp_path / "pts"
    pkg.mkdir()
    (pkg / "dse_points_for_tests.py").write_text(POINT_MODULE)
    monkeypatch.syspath_prepend(str(pkg))
    # worker processes (spawned by Dask) find the module through PYTHONPATH
    monkeypatch.setenv("PYTHONPATH", f"{pkg}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    yield "dse_points_for_tests:evaluate"
    sys.modules.pop("dse_points_for_tests", None)


def make_sweep(evaluate, tmp_path, **fixed):
    return Sweep(
        name="toy", evaluate=evaluate,
        axes=(Axis("target", ("a", "b")), Axis("bits", (2, 4, 6, 8))),
        fixed={"log": str(tmp_path / "calls.log"), **fixed},
        objectives=(Objective("energy", "min"), Objective("error", "min")),
    )


def calls(tmp_path):
    path = tmp_path / "calls.log"
    return path.read_text().splitlines() if path.exists() else []


def test_sweep_validation_names_the_bad_axis_and_value():
    with pytest.raises(SweepError, match="axis 'bits': has no values"):
        Axis("bits", ())
    with pytest.raises(SweepError, match=r"axis 'bits' value \[3\] = 4 is repeated"):
        Axis("bits", (2, 8, 4, 4))
    with pytest.raises(SweepError, match=r"axis 'bits' value \[1\] = \[1, 2\] must be a string"):
        Axis("bits", (2, [1, 2]))
    with pytest.raises(SweepError, match=r"axis 'x' value \[0\] = nan is not a finite number"):
        Axis("x", (float("nan"),))
    with pytest.raises(SweepError, match="axis 'target' value \\[1\\] = 'truenorth' is not "
                                         "allowed; use one of: loihi, spinnaker2"):
        Sweep("s", "m:f", (Axis("target", ("loihi", "truenorth")),),
              allowed={"target": ("loihi", "spinnaker2")})
    with pytest.raises(SweepError, match="'bits' is both an axis and a fixed parameter"):
        Sweep("s", "m:f", (Axis("bits", (1,)),), fixed={"bits": 2})
    with pytest.raises(SweepError, match="must name a function as 'package.module:function'"):
        Sweep("s", "nofunction", (Axis("bits", (1,)),))
    with pytest.raises(SweepError, match="sense 'smallest' must be 'min' or 'max'"):
        Objective("energy", "smallest")


def test_toml_spec(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent('''
        [sweep]
        name = "study"
        evaluate = "toolchain.dse.evaluate:cosimulate"
        [fixed]
        t_stop = 100.0
        [axes]
        target = ["loihi", "fpga"]
        "loihi.weight_bits" = [4, 8]
        [objectives]
        energy_per_step = "min"
    '''))
    sweep = load_toml(path)
    assert [a.name for a in sweep.axes] == ["target", "loihi.weight_bits"]
    points = sweep.points()
    assert len(points) == 4 and len({p.id for p in points}) == 4
    assert points[0].params == {"t_stop": 100.0, "target": "loihi", "loihi.weight_bits": 4}
    with pytest.raises(SweepError, match="unknown section \\[axis\\]"):
        from_mapping({"sweep": {"name": "x", "evaluate": "m:f"}, "axis": {}})
    path.write_text("[sweep\n")
    with pytest.raises(SweepError, match="not valid TOML"):
        load_toml(path)


def test_local_sweep_records_results_and_errors(tmp_path, point_module):
    sweep = make_sweep(point_module, tmp_path, fail_at=6)
    store = run_sweep(sweep, tmp_path / "out", workers=1, progress=False)
    df = table(store)
    assert len(df) == 8
    failed = df[df.status == "error"]
    assert sorted(failed.bits) == [6, 6]
    assert failed.failure.str.contains("cannot build 6-bit weights").all()
    ok = df[df.status == "ok"]
    np.testing.assert_array_equal(ok.bits, ok.bits_seen)  # metrics stay with their point


def test_interrupted_sweep_resumes_without_redoing_points(tmp_path, point_module):
    sweep = make_sweep(point_module, tmp_path)
    seen = []

    def stop_after_three(result):
        seen.append(result)
        if len(seen) == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_sweep(sweep, tmp_path / "out", progress=False, on_result=stop_after_three)
    assert len(list((tmp_path / "out" / "points").glob("*.json"))) == 3
    assert len(calls(tmp_path)) == 3
    run_sweep(sweep, tmp_path / "out", progress=False)
    assert len(calls(tmp_path)) == 8  # 3 before + the 5 that were left, none twice
    assert sorted(calls(tmp_path)) == sorted(set(calls(tmp_path)))
    run_sweep(sweep, tmp_path / "out", progress=False)
    assert len(calls(tmp_path)) == 8


def test_process_pool_survives_a_worker_that_dies(tmp_path, point_module):
    sweep = make_sweep(point_module, tmp_path, die_at=4)
    store = run_sweep(sweep, tmp_path / "out", workers=2, progress=False)
    df = table(store)
    assert len(df) == 8
    dead = df[df.status == "error"]
    assert sorted(dead.bits) == [4, 4]
    assert dead.failure.str.contains("worker process died").all()
    assert (df[df.bits != 4].status == "ok").all()


def test_refuses_to_mix_two_sweeps_in_one_directory(tmp_path, point_module):
    run_sweep(make_sweep(point_module, tmp_path), tmp_path / "out", progress=False)
    other = Sweep("other", point_module, (Axis("bits", (2,)),))
    with pytest.raises(ValueError, match="holds results of sweep 'toy'"):
        run_sweep(other, tmp_path / "out", progress=False)


@pytest.mark.slow
def test_dask_local_cluster_runs_the_same_sweep(tmp_path, point_module):
    distributed = pytest.importorskip("distributed")
    sweep = make_sweep(point_module, tmp_path, fail_at=8)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        store = run_sweep(sweep, tmp_path / "dask", scheduler=cluster.scheduler_address,
                          progress=False)
    dask_df = table(store).set_index("point").sort_index()
    local_df = table(run_sweep(make_sweep(point_module, tmp_path, fail_at=8), tmp_path / "local",
                               progress=False)).set_index("point").sort_index()
    assert len(dask_df) == 8
    pd.testing.assert_series_equal(dask_df.status, local_df.status)
    pd.testing.assert_series_equal(dask_df.energy, local_df.energy)


def test_tables_pareto_and_plot(tmp_path, point_module):
    sweep = make_sweep(point_module, tmp_path)
    df = table(run_sweep(sweep, tmp_path / "out", progress=False))
    front = pareto_front(df, sweep.objectives)
    # target b costs 1.5x more on both objectives than a at the same bits: never optimal
    assert set(front.target) == {"a"} and sorted(front.bits) == [2, 4, 6, 8]
    png = plot_pareto(df, front, *sweep.objectives, tmp_path / "p.png", colour_by="target")
    assert png.stat().st_size > 1000
    with pytest.raises(ValueError, match="'latency' is not in the results"):
        pareto_front(df, [Objective("latency")])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=30))
def test_pareto_front_matches_brute_force(pairs):
    df = pd.DataFrame({"x": [p[0] for p in pairs], "y": [p[1] for p in pairs], "status": "ok"})
    front = pareto_front(df, [Objective("x", "min"), Objective("y", "max")])

    def dominated(i):
        xi, yi = pairs[i]
        return any(x <= xi and y >= yi and (x < xi or y > yi) for x, y in pairs)

    expected = sorted(i for i in range(len(pairs)) if not dominated(i))
    assert sorted(front.index) == expected


def test_point_results_are_plain_json(tmp_path, point_module):
    run_sweep(make_sweep(point_module, tmp_path), tmp_path / "out", progress=False)
    path = next((tmp_path / "out" / "points").glob("*.json"))
    data = json.loads(path.read_text())
    assert set(data) == {"id", "params", "status", "metrics", "error", "seconds"}
