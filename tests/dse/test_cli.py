import textwrap

from click.testing import CliRunner

from tests.dse.test_dse import POINT_MODULE
from toolchain.cli import main


def test_dse_run_and_report(tmp_path, monkeypatch):
    (tmp_path / "cli_points_for_tests.py").write_text(POINT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    sweep = tmp_path / "s.toml"
    sweep.write_text(textwrap.dedent(f'''
        [sweep]
        name = "toy"
        evaluate = "cli_points_for_tests:evaluate"
        [fixed]
        log = "{tmp_path / 'calls.log'}"
        [axes]
        target = ["a", "b"]
        bits = [2, 8]
        [objectives]
        energy = "min"
        error = "min"
    '''))
    runner = CliRunner()
    res = runner.invoke(main, ["dse", "run", str(sweep), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "4 points (0 failed)" in res.output
    assert (tmp_path / "out" / "results.parquet").exists()
    res = runner.invoke(main, ["dse", "report", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "Pareto front over energy, error: 2 of 4 points" in res.output
    assert (tmp_path / "out" / "pareto.png").exists()


def test_dse_run_reports_a_bad_axis_clearly(tmp_path):
    sweep = tmp_path / "s.toml"
    sweep.write_text('[sweep]\nname = "x"\nevaluate = "m:f"\n[axes]\nbits = []\n')
    res = CliRunner().invoke(main, ["dse", "run", str(sweep)])
    assert res.exit_code == 1
    assert "Error: axis 'bits': has no values; give at least one" in res.output
