import textwrap

import pytest
from click.testing import CliRunner

from tests.compiler.nets import ei_network
from toolchain.cli import main
from toolchain.compiler import CompiledNetwork
from toolchain.compiler.report import render_report
from toolchain.ir import Network, Population, load, save

SCRIPT = textwrap.dedent("""
    import pyNN.spikeport as sim

    sim.setup(timestep=0.1)
    noise = sim.Population(40, sim.SpikeSourcePoisson(rate=20.0), label="noise")
    cells = sim.Population(120, sim.IF_curr_exp(tau_syn_E=2.0, tau_syn_I=2.0), label="cells")
    sim.Projection(noise, cells, sim.FixedProbabilityConnector(0.25),
                   sim.StaticSynapse(weight=0.5, delay=1.0), label="drive")
    cells.record("spikes")
    sim.run(50.0)
    raise SystemExit("the compiler must stop the script at run()")
""")


@pytest.fixture()
def runner():
    return CliRunner()


def test_compile_a_pynn_script_then_report_it(runner, tmp_path):
    script = tmp_path / "net.py"
    script.write_text(SCRIPT)
    out = tmp_path / "out"
    res = runner.invoke(main, ["compile", str(script), "spikeport", "--target", "loihi",
                               "--board", "loihi1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    art = load(out / "compiled.spz", expect=CompiledNetwork)
    assert {p.label for p in art.network.populations} == {"cells"}
    assert art.network.n_synapses > 0
    assert (out / "placement.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "report.txt").read_text() == render_report(art)
    assert render_report(art) in res.output

    again = runner.invoke(main, ["report", str(out)])
    assert again.exit_code == 0, again.output
    assert again.output == render_report(art)


def test_compile_a_saved_network_file(runner, tmp_path):
    path = save(ei_network(n_exc=400, n_inh=100), tmp_path / "ei.spz")
    res = runner.invoke(main, ["compile", str(path), "-o", str(tmp_path / "o"), "--rate", "5"])
    assert res.exit_code == 0, res.output
    art = load(tmp_path / "o" / "compiled.spz")
    assert art.board == "nahuku32" and art.estimate.rate_hz == 5.0
    fig = tmp_path / "again.png"
    res = runner.invoke(main, ["report", str(tmp_path / "o" / "compiled.spz"), "--figure",
                               str(fig)])
    assert res.exit_code == 0 and fig.stat().st_size > 0


def test_compile_failure_names_the_network_and_the_limit(runner, tmp_path):
    net = Network(populations=tuple(Population(f"p{k}", "IF_curr_exp", 1) for k in range(129)),
                  label="many")
    path = save(net, tmp_path / "many.spz")
    res = runner.invoke(main, ["compile", str(path), "-o", str(tmp_path / "o"), "-b", "loihi1"])
    assert res.exit_code == 1
    assert ("Error: many does not fit loihi: the network needs 129 cores (2 chips of 128 "
            "cores) but board 'loihi1' has 128 cores") in res.output
    lax = runner.invoke(main, ["compile", str(path), "-o", str(tmp_path / "o"), "-b", "loihi1",
                               "--lax"])
    assert lax.exit_code == 0 and "DOES NOT FIT: 1 limit(s) broken" in lax.output


def test_bad_target_board_and_file_are_reported(runner, tmp_path):
    path = save(ei_network(n_exc=50, n_inh=10), tmp_path / "n.spz")
    res = runner.invoke(main, ["compile", str(path), "-o", str(tmp_path), "-t", "nope"])
    assert res.exit_code == 2 and "unknown target 'nope'; known targets:" in res.output
    res = runner.invoke(main, ["compile", str(path), "-o", str(tmp_path), "-b", "loihi9"])
    assert res.exit_code == 2 and ("target 'loihi' option board='loihi9' is not allowed; "
                                   "board takes one of: loihi1, kapoho_bay") in res.output
    res = runner.invoke(main, ["report", str(path)])
    assert res.exit_code == 1 and "holds a Network, expected CompiledNetwork" in res.output


def test_script_that_never_runs_is_refused(runner, tmp_path):
    script = tmp_path / "idle.py"
    script.write_text("import pyNN.spikeport as sim\nsim.setup()\n")
    res = runner.invoke(main, ["compile", str(script), "-o", str(tmp_path / "o")])
    assert res.exit_code == 1 and "built no network: it never called run()" in res.output
