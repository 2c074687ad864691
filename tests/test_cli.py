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
