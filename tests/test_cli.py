"""The top-level command line: --version, info, and `spikeport pynn`."""

import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from toolchain import __version__
from toolchain.cli import main
from toolchain.targets import TARGETS


@pytest.fixture
def runner():
    return CliRunner()


def script(tmp_path, body: str, name: str = "script.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(body))
    return path


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"spikeport, version {__version__}"


def test_info_lists_every_target(runner):
    result = runner.invoke(main, ["info"])
    assert result.exit_code == 0
    for name in TARGETS:
        assert f"  {name}" in result.output


def test_pynn_missing_script_is_a_usage_error(runner, tmp_path):
    result = runner.invoke(main, ["pynn", str(tmp_path / "absent.py")])
    assert result.exit_code == 2
    assert "absent.py' does not exist" in result.output


def test_pynn_unknown_target_lists_the_known_ones(runner, tmp_path):
    path = script(tmp_path, "print('never runs')\n")
    result = runner.invoke(main, ["pynn", "--target", "tpu", str(path)])
    assert result.exit_code == 2
    assert f"unknown target 'tpu'; known targets: {', '.join(TARGETS)}" in result.output
    assert "never runs" not in result.output


def test_pynn_passes_arguments_and_the_target_to_the_script(runner, tmp_path):
    path = script(tmp_path, """
        from pyNN.utility import get_simulator
        sim, options = get_simulator(("--size", "cells", {"type": int}))
        sim.setup(timestep=0.1)
        cells = sim.Population(options.size, sim.IF_curr_exp())
        from toolchain.pynn.simulator import state
        print(sim.__name__, options.simulator, cells.size, state.target_name)
    """)
    result = runner.invoke(main, ["pynn", "--target", "reference", str(path), "spikeport",
                                  "--size", "7"])
    assert result.exit_code == 0, result.output
    assert result.stdout.split() == ["toolchain.pynn", "spikeport", "7", "reference"]
    assert "never called run()" in result.stderr  # it only builds


def test_pynn_returns_the_script_exit_status(runner, tmp_path):
    path = script(tmp_path, "import sys\nsys.exit(3)\n")
    assert runner.invoke(main, ["pynn", str(path)]).exit_code == 3


def test_pynn_script_error_fails_with_its_message(tmp_path):
    path = script(tmp_path, """
        import pyNN.spikeport as sim
        sim.setup(target="nowhere")
    """)
    done = subprocess.run([sys.executable, "-m", "toolchain", "pynn", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "unknown target 'nowhere'; known targets:" in done.stderr


# A PyNN script whose 70 inputs per cell are over DYNAP-SE's 64 CAM words.
WIDE = """
    import pyNN.spikeport as sim
    sim.setup(timestep=0.1{setup})
    src = sim.Population(70, sim.SpikeSourceArray(spike_times=[[2.0, 9.0, 20.0]] * 70))
    cells = sim.Population(2, sim.IF_curr_exp(), label="cells")
    sim.Projection(src, cells, sim.AllToAllConnector(),
                   sim.StaticSynapse(weight=[[0.3 + 0.01 * i] * 2 for i in range(70)]),
                   label="in")
    cells.record("spikes")
    sim.run(40.0)
    from toolchain.pynn.simulator import state
    print("fit", state.compiled.fit, [a.name for a in state.compiled.approximations])
    sim.end()
"""


@pytest.mark.parametrize("how", ["--fit", "-O", "setup"])
def test_pynn_fit_approximate_from_the_command_line_or_setup(runner, tmp_path, how):
    """--fit, -O fit= and setup(fit=) are one choice; strict (the default) refuses."""
    path = script(tmp_path, WIDE.format(setup=", fit='approximate'" if how == "setup" else ""))
    args = {"--fit": ["--fit", "approximate"], "-O": ["-O", "fit=approximate"],
            "setup": []}[how]
    result = runner.invoke(main, ["pynn", "--target", "dynapse", *args, str(path)])
    assert result.exit_code == 0, result.output
    assert "fit approximate ['fan_in_pruned']" in result.output
    if how != "setup":
        strict = runner.invoke(main, ["pynn", "--target", "dynapse", str(path)])
        assert strict.exit_code == 1 and "needs 70 CAM words" in strict.output
        assert "--fit approximate" in strict.output


def test_compile_and_portability_take_fit(runner, tmp_path):
    import json

    path = script(tmp_path, WIDE.format(setup=""))
    out = tmp_path / "c"
    result = runner.invoke(main, ["compile", "-t", "dynapse", "--fit", "approximate",
                                  "-o", str(out), str(path)])
    assert result.exit_code == 0, result.output
    assert "  - fan_in_pruned: Population 'cells', for cam_words (2 neurons, 12 " \
           "synapses)" in result.output
    data = json.loads(runner.invoke(main, ["report", str(out), "--json"]).output)
    assert data["fit"] == "approximate" and data["approximations"][0]["synapses"] == 12
    result = runner.invoke(main, ["portability", "--targets", "dynapse", "--fit",
                                  "approximate", "-o", str(tmp_path / "p"), str(path)])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("| dynapse"))
    assert row.endswith("| fan_in_pruned 'cells' (2 neurons, 12 synapses) |")
    assert "- **dynapse** fan_in_pruned: 2 neuron(s) with more than 64 inputs kept" \
        in result.output


def test_fit_is_one_option_on_every_command_that_compiles(runner):
    from toolchain.compiler.fit import FIT_POLICIES

    for command in (["pynn"], ["compile"], ["portability"], ["run"], ["nir", "run"]):
        result = runner.invoke(main, [*command, "--help"])
        assert result.exit_code == 0
        assert f"--fit [{'|'.join(FIT_POLICIES)}]" in result.output, command
