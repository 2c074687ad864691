"""The portability matrix on PyNN's own examples: small_network and a scaled-down
VA-CUBA (VAbenchmarks.py with fewer neurons, a denser connection probability so each
neuron keeps about the same fan-in, and a shorter run), through the CLI and the API."""

import csv
import re

import pytest
from click.testing import CliRunner

from toolchain.cli import main
from toolchain.portability import (
    CaptureError,
    capture,
    parse_options,
    portability,
    pynn_examples,
)

EXAMPLES = pynn_examples()
needs_examples = pytest.mark.skipif(
    EXAMPLES is None, reason="PyNN's example scripts are not fetched (scripts/bootstrap.sh "
                             "downloads them from the PyNN sdist)")


def scaled(tmp_path, name, replacements):
    """A copy of one of PyNN's examples with some of its parameter lines changed."""
    text = (EXAMPLES / name).read_text()
    for pattern, new in replacements:
        text, n = re.subn(pattern, new, text, count=1, flags=re.M)
        assert n == 1, f"{name}: no line matches {pattern!r}; has the example changed?"
    path = tmp_path / name
    path.write_text(text)
    return path


def va_cuba(tmp_path):
    return scaled(tmp_path, "VAbenchmarks.py", [
        (r"^n\s+= 4000.*$", "n = 200"), (r"^pconn\s+= 0.02.*$", "pconn = 0.2"),
        (r"^tstop\s+= 1000.*$", "tstop = 100")])


def small_network(tmp_path):
    # our IR has no IF_cond_alpha: the example runs with IF_cond_exp, its nearest model
    return scaled(tmp_path, "small_network.py", [
        (r"sim\.IF_cond_alpha\(", "sim.IF_cond_exp("), (r"^simtime\s+= 1000.0", "simtime = 200.0")])


@needs_examples
@pytest.mark.slow
def test_cli_writes_the_matrix_of_va_cuba(tmp_path, monkeypatch):
    script = va_cuba(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "matrix"
    res = CliRunner().invoke(main, ["portability", "--out", str(out), "--targets", "dynapse",
                                    "-O", "dynapse.mismatch=0", "-O", "dynapse.delta_t=0",
                                    str(script), "spikeport", "CUBA"])
    assert res.exit_code == 0, res.output
    rows = list(csv.DictReader((out / "portability.csv").open()))
    by = {(r["target"], r["population"]): r for r in rows}
    assert set(by) == {(t, p) for t in ("reference", "dynapse")
                       for p in ("Excitatory_Cells", "Inhibitory_Cells")}
    ref = by[("reference", "Excitatory_Cells")]
    assert float(ref["rate_hz"]) > 1 and float(ref["van_rossum"]) == 0
    dyn = by[("dynapse", "Excitatory_Cells")]
    assert dyn["status"] == "ok" and float(dyn["rate_hz"]) > 0
    # without mismatch the DPI network keeps the reference's rate closely, but not its
    # spike times (the DPI floor, 0.1 ms instead of 0.2 ms delays; the network is chaotic)
    assert abs(float(dyn["rate_error"])) < 0.1
    assert float(dyn["van_rossum"]) > 0
    assert float(dyn["hw_wall_us_per_step"]) == pytest.approx(100.0)  # real time, dt 0.1
    assert float(dyn["energy_nj_per_step"]) > 0
    assert (out / "portability.png").stat().st_size > 10_000
    assert "| dynapse | Inhibitory_Cells |" in (out / "portability.md").read_text()
    assert "| dynapse | Excitatory_Cells |" in res.output


@needs_examples
def test_small_network_runs_where_it_fits_and_refusals_say_why(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    network, t_stop = capture(small_network(tmp_path), ["spikeport"])
    assert t_stop == pytest.approx(200.0)
    matrix = portability(network, t_stop, ["dynapse"])
    dynapse = matrix.run("dynapse")
    assert dynapse.status == "refused"
    assert ("Population 'cells' (IF_cond_exp) receptor excitatory: its synapses are "
            "conductance-based; DYNAP-SE's DPI synapses inject currents") in dynapse.reason
    text = matrix.to_markdown()
    assert "| dynapse | - | refused: see below |" in text
    assert "**dynapse** refused: DynapseError: Population 'cells'" in text
    assert {r["population"] for r in matrix.rows() if r["target"] == "reference"} \
        >= {"cells"}


@needs_examples
def test_a_script_spikeport_cannot_run_is_a_clear_capture_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "facets.py"
    script.write_text("from pyNN.spikeport import *\nsetup()\n"
                      "Population(2, IF_facets_hardware1())\nrun(10.0)\n")
    with pytest.raises(CaptureError, match="facets.py' failed on spikeport: "
                                           "NotImplementedError: IF_facets_hardware1 is not "
                                           "available on spikeport"):
        capture(script)


def test_weight_error_column_comes_from_each_targets_artifact():
    import numpy as np

    from toolchain.ir import ArraySource, Network, Population, Projection

    rng = np.random.default_rng(2)
    src = ArraySource.from_lists("in", [np.sort(rng.uniform(0, 50, 10)) for _ in range(8)])
    i, j = np.meshgrid(np.arange(8), np.arange(4), indexing="ij")
    w = rng.uniform(0.2, 1.0, 32)
    net = Network(populations=(Population("out", "IF_curr_exp", 4),), sources=(src,),
                  projections=(Projection("in->out", "in", "out", i.ravel(), j.ravel(), w,
                                          np.full(32, 0.1)),))
    matrix = portability(net, 50.0, ["dynapse"], {"dynapse": {"generation": "se2"}})
    rows = {r["target"]: r for r in matrix.rows()}
    assert rows["reference"]["weight_error_max"] == 0.0
    # SE2: 15 mask levels of max|w| / 15, so the error is at most half a level
    assert 0 < rows["dynapse"]["weight_error_max"] <= 0.5 / 15 + 1e-9
    assert "weight error (max)" in matrix.to_markdown()


def test_target_options_are_typed_by_each_targets_declaration_and_bad_ones_refused(tmp_path):
    targets = ["fpga", "dynapse", "spinnaker2", "loihi"]
    assert parse_options(["fpga.build=ecp5-85f", "dynapse.mismatch=0.1", "dynapse.seed=3",
                          "spinnaker2.fit_tick=false", "loihi.learning_seed=none"], targets) == {
        "fpga": {"build": "ecp5-85f"}, "dynapse": {"mismatch": 0.1, "seed": 3},
        "spinnaker2": {"fit_tick": False}, "loihi": {"learning_seed": None}}
    script = tmp_path / "s.py"
    script.write_text("")
    res = CliRunner().invoke(main, ["portability", "-O", "mismatch=0.1", str(script)])
    assert res.exit_code == 2
    assert ("target option 'mismatch=0.1' names no target: where several targets run, write "
            "TARGET.mismatch=0.1") in res.output
    res = CliRunner().invoke(main, ["portability", "-O", "nope.x=1", str(script)])
    assert "unknown target 'nope' in 'nope.x=1'" in res.output
    res = CliRunner().invoke(main, ["portability", "-O", "dynapse.board=x", str(script)])
    assert res.exit_code == 2 and ("target 'dynapse' has no option 'board'; its options are: "
                                   "generation, chips, delay_tolerance") in res.output
    res = CliRunner().invoke(main, ["portability", "-O", "dynapse.seed=two", str(script)])
    assert "target 'dynapse' option seed='two' is not an integer" in res.output


def test_unknown_target_is_refused_by_the_cli(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("")
    res = CliRunner().invoke(main, ["portability", "--targets", "nope", str(script)])
    assert res.exit_code != 0
    assert "unknown target 'nope'; known targets: reference" in res.output


def test_energy_of_the_run_and_of_the_estimate_both_come_from_the_json_report():
    import math

    import numpy as np

    from toolchain.ir import ArraySource, Network, Population, Projection

    rng = np.random.default_rng(4)
    src = ArraySource.from_lists("in", [np.sort(rng.uniform(0, 50, 20)) for _ in range(8)])
    i, j = np.meshgrid(np.arange(8), np.arange(4), indexing="ij")
    net = Network(populations=(Population("out", "IF_curr_exp", 4),), sources=(src,),
                  projections=(Projection("in->out", "in", "out", i.ravel(), j.ravel(),
                                          np.full(32, 2.0), np.full(32, 0.1)),))
    matrix = portability(net, 50.0, ["loihi", "dynapse"], {"dynapse": {"mismatch": 0.0}})
    rows = {r["target"]: r for r in matrix.rows()}
    for name in ("loihi", "dynapse"):
        run = matrix.run(name)
        assert run.report is not None and run.report["measured"]["source"] == "run"
        assert rows[name]["energy_nj_per_step"] == run.report["measured"]["energy_nj_per_step"]
        assert rows[name]["energy_nj_per_step_estimate"] == \
            run.report["estimate"]["energy_nj_per_step"]
        assert rows[name]["energy_nj_per_step"] > 0
    # DYNAP-SE counts the energy of what it routed; Loihi's run figure is its cost model at
    # the rates the run measured, not the compiler's planned 10 Hz
    assert rows["dynapse"]["energy_from"] == "the run's counters"
    assert rows["loihi"]["energy_from"] == "the cost model at the run's activity"
    model = matrix.run("loihi").report["measured"]["model_at_run_activity"]
    assert model["activity"] == "measured" and model["energy_nj_per_step"] == \
        rows["loihi"]["energy_nj_per_step"]
    assert rows["loihi"]["synaptic_events_per_step"] == pytest.approx(
        matrix.run("loihi").result.counters["synaptic_events/in->out"] / 500)
    assert math.isnan(rows["reference"]["energy_nj_per_step"])  # no hardware, no energy
    text = matrix.to_markdown()
    assert "energy/step, run (nJ) | energy/step, compiler est. (nJ)" in text
    assert ("Energy per step of the run: loihi from the cost model at the run's activity; "
            "dynapse from the run's counters.") in text
