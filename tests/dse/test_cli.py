import textwrap

from click.testing import CliRunner

from tests.dse.test_dse import POINT_MODULE
from toolchain.cli import main


def test_dse_run_and_report(tmp_path, monkeypatch):
    res, out = _toy_results(tmp_path, monkeypatch)
    assert res.exit_code == 0, res.output
    assert "4 points (0 failed)" in res.output
    assert (out / "results.parquet").exists() and (out / "report.html").exists()
    res = CliRunner().invoke(main, ["dse", "report", str(out)])
    assert res.exit_code == 0, res.output
    assert "Pareto front over energy, error: 2 of 4 points" in res.output
    assert (out / "pareto.png").exists()


def test_dse_run_reports_a_bad_axis_clearly(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text('[sweep]\nname = "x"\nevaluate = "m:f"\n[axes]\nbits = []\n')
    res = CliRunner().invoke(main, ["dse", "run", str(sweep)])
    assert res.exit_code == 1
    assert "Error: axis 'bits': has no values; give at least one" in res.output


def _toy_results(tmp_path, monkeypatch, fail_at=-1):
    (tmp_path / "cli_points_for_tests.py").write_text(POINT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sweep = tmp_path / "s.toml"
    sweep.write_text(textwrap.dedent(f'''
        [sweep]
        name = "toy"
        evaluate = "cli_points_for_tests:evaluate"
        [fixed]
        log = "{tmp_path / 'calls.log'}"
        fail_at = {fail_at}
        [axes]
        target = ["a", "b"]
        bits = [2, 8]
        [objectives]
        energy = "min"
        error = "min"
    '''))
    out = tmp_path / "out"
    return CliRunner().invoke(main, ["dse", "run", str(sweep), "-o", str(out)]), out


def test_dse_report_prints_the_chosen_columns(tmp_path, monkeypatch):
    _, out = _toy_results(tmp_path, monkeypatch)
    res = CliRunner().invoke(main, ["dse", "report", str(out)])
    assert res.exit_code == 0, res.output
    header = res.output.splitlines()[0].split()
    assert header == ["target", "bits", "status", "energy", "error"]  # not log, point, ...
    res = CliRunner().invoke(main, ["dse", "report", str(out), "--columns", "bits,bits_seen"])
    assert res.output.splitlines()[0].split() == ["bits", "bits_seen"]
    res = CliRunner().invoke(main, ["dse", "report", str(out), "--columns", "bit"])
    assert res.exit_code == 2 and "'bit' is not a column of the results" in res.output


def test_dse_report_checks_the_pareto_objectives(tmp_path, monkeypatch):
    _, out = _toy_results(tmp_path, monkeypatch)
    res = CliRunner().invoke(main, ["dse", "report", str(out), "--pareto", "eror:min"])
    assert res.exit_code == 2
    assert "Invalid value for '--pareto': 'eror' is not a metric of these results; " \
           "metrics: energy, error, bits_seen" in res.output
    res = CliRunner().invoke(main, ["dse", "report", str(out), "--pareto", "error:minimum"])
    assert res.exit_code == 2
    assert "objective 'error': sense 'minimum' must be 'min' or 'max'" in res.output
    res = CliRunner().invoke(main, ["dse", "report", str(out), "--pareto", "error:min"])
    assert res.exit_code == 0
    assert "Best by error (min): 1 of 4 points" in res.output  # 8 bits on target a
    assert "Traceback" not in res.output


def test_a_sweep_whose_points_all_fail_says_so(tmp_path, monkeypatch):
    res, out = _toy_results(tmp_path, monkeypatch, fail_at=2)
    assert res.exit_code == 0  # half failed: a result
    (tmp_path / "calls.log").unlink()
    import shutil

    shutil.rmtree(out)
    sweep = tmp_path / "s.toml"
    sweep.write_text(sweep.read_text().replace("bits = [2, 8]", "bits = [2]"))
    res = CliRunner().invoke(main, ["dse", "run", str(sweep), "-o", str(out)])
    assert res.exit_code == 1
    assert "Error: all 2 points failed; the first: RuntimeError: cannot build 2-bit weights" \
        in res.output
    res = CliRunner().invoke(main, ["dse", "report", str(out)])
    assert res.exit_code == 1 and "all 2 points failed" in res.output
    assert "Traceback" not in res.output
