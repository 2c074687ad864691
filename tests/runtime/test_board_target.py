"""The ``board`` target: an IR network compiled for the board's build and run over UART
gives the fpga target's (golden model's) spikes and learnt weights exactly."""

from __future__ import annotations

import numpy as np
import pytest

from toolchain.boardsim.virtual import ServedBoard
from toolchain.ir import ArraySource, Network, Population, Projection, Recording, STDPRule
from toolchain.runtime.board_target import BoardTarget
from toolchain.targets.fpga.spec import TINY
from toolchain.targets.fpga.target import FpgaTarget


def _network() -> Network:
    rng = np.random.default_rng(3)
    trains = [sorted(rng.uniform(0, 60, 12).round(1).tolist()) for _ in range(4)]
    src = ArraySource.from_lists("in", trains)
    pop = Population("exc", "IF_curr_exp", 8, parameters={"tau_syn_E": 1.0, "tau_syn_I": 1.0,
                                                           "tau_refrac": 0.2})
    pre, post = np.meshgrid(np.arange(4), np.arange(8), indexing="ij")
    rule = STDPRule(tau_plus=2.0, tau_minus=2.0, A_plus=0.05, A_minus=0.03, w_max=6.0)
    ff = Projection("ff", "in", "exc", pre.ravel(), post.ravel(),
                    rng.uniform(1.0, 5.0, pre.size), np.full(pre.size, 0.1), plasticity=rule)
    rec = Projection("rec", "exc", "exc", np.arange(8), (np.arange(8) + 1) % 8,
                     np.full(8, 1.5), np.full(8, 0.2))
    return Network(dt=0.1, populations=(pop,), sources=(src,), projections=(ff, rec),
                   recordings=(Recording("exc", "spikes", np.arange(8)),))


def test_board_target_matches_the_fpga_target() -> None:
    net = _network()
    ref = FpgaTarget(TINY)
    sim = ref.simulator(ref.compile(net))
    sim.run_until(30.0)
    sim.run_until(60.0)
    want = sim.result()
    with ServedBoard(TINY) as served:
        target = BoardTarget(served.path)
        try:
            assert target.spec == TINY and target.spec.name == "tiny"  # from the handshake
            board = target.simulator(target.compile(net))
            board.run_until(30.0)
            board.run_until(60.0)
            got = board.result()
            assert board.t == pytest.approx(60.0)
        finally:
            target.session.close()
    assert want.spikes["exc"].count > 10
    assert np.array_equal(got.spikes["exc"].times, want.spikes["exc"].times)
    assert np.array_equal(got.spikes["exc"].senders, want.spikes["exc"].senders)
    assert not np.allclose(want.weights["ff"], net.projections[0].weight, atol=0.05)
    assert np.array_equal(got.weights["ff"], want.weights["ff"])
    assert got.counters["synaptic_events"] == want.counters["synaptic_events"]


def test_board_target_needs_a_port() -> None:
    with pytest.raises(ValueError, match="target 'board' needs a serial port: setup\\("
                       "target='board', port='/dev/ttyUSB1'\\)"):
        BoardTarget()
