"""The design-space exploration examples, run at small size."""

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_pycarl_study_runs_one_network_on_every_target(tmp_path, capsys):
    out = tmp_path / "pycarl"
    assert load("dse_pycarl").main(["--out", str(out), "--sizes", "24", "--t-stop", "100",
                                    "--workers", "2"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert sorted(df.target) == ["dynapse", "fpga", "loihi", "spinnaker2"]
    assert (df.status == "ok").all(), df.failure.tolist()
    # every target deviates from the reference somewhat, none beyond recognition
    assert (df.rate_ref_hz > 0).all() and (df.rate_hz > 0).all()
    assert df.rate_error.between(0, 2).all()
    # targets with an energy model report one; the reference rate is one network's
    assert df.loc[df.target != "fpga", "energy_nj_per_step"].gt(0).all()
    assert df.rate_ref_hz.nunique() == 1
    for png in ("pareto.png", "energy_vs_n.png", "van_rossum_vs_n.png"):
        assert (out / png).stat().st_size > 1000
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 3
    assert "Pareto front (energy vs rate error):" in capsys.readouterr().out


@pytest.mark.slow
def test_fpga_sizing_study_without_synthesis(tmp_path):
    out = tmp_path / "fpga"
    assert load("dse_fpga_sizing").main(["--out", str(out), "--w-bits", "6", "8", "--neurons",
                                         "64", "--cells", "24", "--t-stop", "100",
                                         "--no-synth", "--boards", "icebreaker",
                                         "--workers", "1"]) == 0
    df = pd.read_parquet(out / "results.parquet")
    assert sorted(df["core.w_bits"]) == [6, 8]
    assert (df.status == "ok").all(), df.failure.tolist()
    assert (out / "accuracy_vs_wbits.png").exists()


def test_fpga_sizing_study_whose_points_all_fail_says_so(tmp_path, capsys):
    """Every build too small for the network (as when every synthesis fails): the study
    says so and exits 1 instead of failing in a plot (it was KeyError: ['van_rossum'])."""
    out = tmp_path / "fpga"
    code = load("dse_fpga_sizing").main(["--out", str(out), "--w-bits", "6", "8", "--neurons",
                                         "8", "--cells", "24", "--t-stop", "20", "--no-synth",
                                         "--boards", "icebreaker", "--workers", "1"])
    assert code == 1
    err = capsys.readouterr().err
    assert "fpga-sizing: all 2 points failed; the first: RuntimeError: fpga refused the " \
           "network" in err
    assert (out / "results.csv").exists()  # the failures are still tabulated
