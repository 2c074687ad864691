"""The FPGA core through the shared compiler: `spikeport compile/report --target fpga`."""

from pathlib import Path

import numpy as np
from click.testing import CliRunner

from toolchain.cli import main
from toolchain.ir import ArraySource, Network, Population, Projection, Recording, save
from toolchain.targets.fpga.artifact import clock_hz
from toolchain.targets.fpga.target import FpgaTarget


def _net(n_cells: int = 10, n_in: int = 6, seed: int = 1) -> Network:
    rng = np.random.default_rng(seed)
    cells = Population("cells", "IF_curr_exp", n_cells,
                       parameters={"tau_m": 16.0, "tau_syn_E": 4.0, "tau_syn_I": 4.0})
    drive = ArraySource.from_lists("drive", [np.sort(rng.uniform(1, 200, 8)).round(0)
                                             for _ in range(n_in)])
    pre, post = np.meshgrid(np.arange(n_in), np.arange(n_cells), indexing="ij")
    ff = Projection("ff", "drive", "cells", pre.ravel(), post.ravel(),
                    rng.uniform(0.1, 0.9, pre.size), np.full(pre.size, 1.0))
    rec = Projection("rec", "cells", "cells", np.arange(n_cells), (np.arange(n_cells) + 1)
                     % n_cells, rng.uniform(0.05, 0.2, n_cells), np.full(n_cells, 2.0),
                     receptor="inhibitory")
    return Network(dt=1.0, populations=(cells,), sources=(drive,), projections=(ff, rec),
                   recordings=(Recording("cells", "spikes", np.arange(n_cells)),))


def test_compile_and_report_commands_on_the_fpga_target(tmp_path: Path):
    src = tmp_path / "net.spnet"
    save(_net(), src)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["compile", "--target", "fpga", "--board", "icebreaker",
                                       "--out", str(out), str(src)])
    assert result.exit_code == 0, result.output
    assert "on fpga (icebreaker)" in result.output
    assert (out / "placement.png").stat().st_size > 1000
    again = CliRunner().invoke(main, ["report", str(out)])
    assert again.exit_code == 0
    assert again.output == (out / "report.txt").read_text()


def test_quantisation_error_in_the_artifact_is_what_the_core_holds():
    """The artifact's worst weight error equals the difference between the IR weights and
    the weights the golden model reads back from its synapse memory."""
    net = _net()
    art = FpgaTarget("ice40up5k").compile(net)
    target = FpgaTarget("ice40up5k")
    sim = target.simulator(target.compile(net))
    for proj in net.projections:
        q = art.numerics_of(proj.label)
        realised = sim.weights(proj.label).astype(float)
        worst = float(np.max(np.abs(np.abs(realised) - proj.weight)))
        assert np.isclose(q.max_abs_error, worst, rtol=1e-5, atol=1e-7), proj.label
        assert 0 < q.max_abs_error <= q.lsb / 2 * (1 + 1e-6)
        assert q.zeroed == 0 and q.saturated == 0
        assert q.weight_bits == 8
    assert art.numerics_of("rec").min_delay_steps == 2


def test_step_time_grows_with_activity_and_follows_the_board_clock():
    net = _net()
    target = FpgaTarget("ice40up5k")
    quiet, busy = (target.compile(net, rate_hz=r).estimate for r in (0.0, 200.0))
    assert busy.compute_ns > quiet.compute_ns
    assert busy.synaptic_ops > quiet.synaptic_ops > 0  # the drive fires at its own rate
    # the core walks every neuron of the build once per step, one per clock at least
    assert quiet.compute_ns >= target.spec.n_neurons * 1e9 / clock_hz(target.spec)
    assert clock_hz(target.spec) == 12_000_000  # boards/icebreaker.toml carries this build


def test_a_network_too_big_for_the_build_names_the_limit_and_a_preset(tmp_path: Path):
    src = tmp_path / "big.spnet"
    save(_net(n_cells=200), src)
    result = CliRunner().invoke(main, ["compile", "--target", "fpga", "--out",
                                       str(tmp_path / "o"), str(src)])
    assert result.exit_code == 1
    assert "network needs 200 neurons (cells: 200); build 'ice40up5k' holds 128 (n_neurons), " \
        "72 too many: option build='ecp5-85f' (-O build=ecp5-85f) (preset 'ecp5-85f' holds " \
        "1024)" in result.output
    # the hint is an option that exists: with it the network compiles
    result = CliRunner().invoke(main, ["compile", "--target", "fpga", "-O", "build=ecp5-85f",
                                       "--out", str(tmp_path / "o"), str(src)])
    assert result.exit_code == 0, result.output
    assert "on fpga (ecp5-85f)" in result.output
