"""What a user sees when something goes wrong: one `Error:` line for a mistake, naming the
script line; a traceback and a request to report it for a bug in spikeport."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from toolchain.cli import main
from toolchain.console import classify

ROOT = Path(__file__).resolve().parents[1]


def script(tmp_path: Path, body: str, name: str = "net.py") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip())
    return path


def spikeport(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """The installed command as a user runs it (a real process, real stderr)."""
    return subprocess.run([sys.executable, "-m", "toolchain", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


NEGATIVE_TAU = """
    import pyNN.spikeport as sim
    sim.setup(timestep=0.1)
    cells = sim.Population(10, sim.IF_curr_exp(tau_m=-10.0))
    cells.record("spikes")
    sim.run(10.0)
"""


def test_a_parameter_out_of_range_is_one_error_naming_the_script_line(tmp_path):
    path = script(tmp_path, NEGATIVE_TAU)
    done = spikeport("pynn", path, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: Population 'population0' parameter tau_m[0] = -10 ms is outside the allowed "
        "range (0, inf] ms",
        "  at net.py, line 3: cells = sim.Population(10, sim.IF_curr_exp(tau_m=-10.0))",
    ]


def test_debug_shows_the_traceback_of_a_mistake_too(tmp_path):
    path = script(tmp_path, NEGATIVE_TAU)
    done = spikeport("--debug", "pynn", path, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert "toolchain/ir/units.py" in done.stderr
    assert done.stderr.splitlines()[-2].startswith("Error: Population 'population0'")


@pytest.mark.parametrize("command", [["pynn"], ["portability", "--targets", "loihi"],
                                     ["compile", "-o", "OUT"]])
def test_an_error_in_the_users_own_code_names_its_type_and_line(tmp_path, command):
    path = script(tmp_path, """
        import pyNN.spikeport as sim
        sim.setup(timestep=0.1)
        cells = sim.Population(n_cells, sim.IF_curr_exp())
    """)
    args = [a.replace("OUT", str(tmp_path / "out")) for a in command]
    done = spikeport(*args, path, cwd=tmp_path)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert lines[-1] == "  at net.py, line 3: cells = sim.Population(n_cells, sim.IF_curr_exp())"
    assert lines[-2].startswith("Error: ") and "NameError: name 'n_cells' is not defined" \
        in lines[-2]
    assert "Traceback" not in done.stderr


def test_a_syntax_error_names_the_line(tmp_path):
    path = script(tmp_path, "import pyNN.spikeport as sim\nsim.setup(timestep=0.1\n")
    done = spikeport("pynn", path, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0].startswith("Error: SyntaxError: ")
    assert done.stderr.splitlines()[1].startswith("  at net.py, line 2")


def test_a_pynn_api_error_names_its_type(tmp_path):
    path = script(tmp_path, """
        import pyNN.spikeport as sim
        sim.setup(timestep=0.1)
        sim.Population(10, sim.IF_curr_exp(tau_mm=10.0))
    """)
    done = spikeport("pynn", path, cwd=tmp_path)
    assert done.returncode == 1
    first, where = done.stderr.splitlines()
    assert first.startswith("Error: NonExistentParameterError: tau_mm")
    assert where == "  at net.py, line 3: sim.Population(10, sim.IF_curr_exp(tau_mm=10.0))"


def test_an_exception_from_inside_spikeport_is_a_bug_with_its_traceback(tmp_path):
    # internals handed a value they never expect: the AttributeError comes from inside
    # spikeport's own code, not from a check written for users
    path = script(tmp_path, """
        from toolchain import html_report
        html_report.render("title", [object()])
    """)
    done = spikeport("pynn", path, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert "toolchain/html_report.py" in done.stderr
    tail = done.stderr.splitlines()[-3:]
    assert tail[0] == ("Error: a bug in spikeport: AttributeError: 'object' object has no "
                       "attribute 'blocks'")
    assert tail[1] == ('  (it surfaced at net.py, line 2: html_report.render("title", '
                       '[object()]))')
    assert tail[2].startswith("  Please report it")


def test_classify_keeps_a_wrappers_message_and_the_causes_location(tmp_path):
    from toolchain.pynn.capture import CaptureError, capture

    path = script(tmp_path, NEGATIVE_TAU)
    with pytest.raises(CaptureError) as e:
        capture(path)
    failure = classify(e.value)
    assert failure.users
    assert failure.message.startswith(f"PyNN script '{path}' failed on spikeport")
    assert failure.where is not None and failure.where.endswith(
        "line 3: cells = sim.Population(10, sim.IF_curr_exp(tau_m=-10.0))")


def test_a_script_that_never_runs(tmp_path):
    path = script(tmp_path, """
        import pyNN.spikeport as sim
        sim.setup(timestep=0.1)
        cells = sim.Population(10, sim.IF_curr_exp())
        cells.record("spikes")
        print("44768 spikes")
    """)
    pynn = CliRunner().invoke(main, ["pynn", str(path)])
    assert pynn.exit_code == 0 and pynn.stdout == "44768 spikes\n"
    assert pynn.stderr == f"note: {path} never called run(), so no network was simulated\n"
    run = CliRunner().invoke(main, ["run", "--board", "virtual", "-o", str(tmp_path / "o"),
                                    str(path)])
    assert run.exit_code == 1
    assert "never called run(), so no network was simulated; nothing was run on the board" \
        in run.stderr
    assert "Traceback" not in run.output


def test_an_empty_network_on_the_board_is_refused_by_name(tmp_path):
    path = script(tmp_path, """
        import pyNN.spikeport as sim
        sim.setup(timestep=0.1)
        sim.run(10.0)
    """)
    done = spikeport("run", "--board", "virtual", "-o", tmp_path / "o", path, cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "Error: network 'pynn' has no populations: there are no neurons to map onto board; "
        "create at least one Population (a spike source alone runs on no core)",
        "  at net.py, line 3: sim.run(10.0)",
    ]


def test_an_unknown_board_is_refused_before_any_port_is_opened(tmp_path):
    path = script(tmp_path, NEGATIVE_TAU)
    fifo = tmp_path / "port"
    import os

    os.mkfifo(fifo)  # opening a FIFO with no writer would hang: the test shows it is not
    result = CliRunner().invoke(main, ["run", "--board", "bogus", "--port", str(fifo),
                                       str(path)])
    assert result.exit_code == 2
    assert "unknown board 'bogus'; known boards: icebreaker, ulx3s, virtual, rtl-sim " \
           "(`spikeport boards list` describes them)" in result.output


@pytest.mark.parametrize("command", [
    ["compile", "--target", "loihi", "-o", "{out}", "{script}"],
    ["portability", "--targets", "loihi", "-o", "{out}", "{script}"],
    ["run", "--board", "virtual", "-o", "{out}", "{script}"],
    ["dse", "run", "-o", "{out}", "{sweep}"],
])
def test_an_unwritable_out_directory_is_refused_before_any_work(tmp_path, command):
    marker = tmp_path / "it-ran"
    path = script(tmp_path, f"open({str(marker)!r}, 'w').write('ran')\n")
    sweep = tmp_path / "s.toml"
    sweep.write_text(textwrap.dedent(f"""
        [sweep]
        name = "s"
        evaluate = "toolchain.dse.evaluate:cosimulate"
        [fixed]
        network = "{path}"
        [axes]
        target = ["loihi"]
    """))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out in ("/proc/x", blocker / "out"):
        args = [a.format(out=out, script=path, sweep=sweep) for a in command]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert f"Invalid value for '--out': cannot write to '{out}'" in result.output
        assert "Traceback" not in result.output
    assert not marker.exists()


def test_a_damaged_artifact_is_one_error_naming_the_member(tmp_path):
    path = script(tmp_path, """
        import pyNN.spikeport as sim
        sim.setup(timestep=0.1)
        src = sim.Population(8, sim.SpikeSourcePoisson(rate=20.0))
        cells = sim.Population(4, sim.IF_curr_exp())
        sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5))
        sim.run(20.0)
    """)
    out = tmp_path / "out"
    assert CliRunner().invoke(main, ["compile", "-o", str(out), str(path)]).exit_code == 0
    artifact = out / "compiled.spz"
    import zipfile

    with zipfile.ZipFile(artifact) as zf:
        info = zf.getinfo("arrays/3.npy")
    data = bytearray(artifact.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 2] ^= 0xFF
    artifact.write_bytes(bytes(data))
    for args in (["report", str(out)], ["run", "--t-stop", "10", str(artifact)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: {artifact}: member arrays/3.npy is damaged")
        assert len(result.output.splitlines()) == 1


def test_benchmarks_help():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "--help"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.startswith("usage: python -m benchmarks [-h] [NAME ...]")
    assert "va_cuba" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "benchmarks", "--fast"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unrecognized arguments: --fast" in bad.stderr


@pytest.mark.parametrize("line, message", [
    ("sim.Population(10, sim.IF_facets_hardware1())",
     "Error: IF_facets_hardware1 is not available on spikeport: "),
    ("sim.Projection(sim.Population(2, sim.SpikeSourcePoisson(rate=10.0)), "
     "sim.Population(2, sim.IF_curr_exp()), sim.AllToAllConnector(), sim.STDPMechanism("
     "timing_dependence=sim.Vogels2011Rule(), weight_dependence=sim.GutigWeightDependence()))",
     "Error: STDPMechanism: weight_dependence GutigWeightDependence is not supported with "
     "Vogels2011Rule; "),
])
def test_an_unsupported_feature_is_one_error_naming_the_line(tmp_path, line, message):
    path = script(tmp_path, f"""
        import pyNN.spikeport as sim
        sim.setup(timestep=0.1)
        {line}
        sim.run(10.0)
    """)
    result = CliRunner().invoke(main, ["pynn", str(path)])
    assert result.exit_code == 1
    first, where = result.stderr.splitlines()
    assert first.startswith(message)
    assert where.endswith(f", line 3: {line}")
