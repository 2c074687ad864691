"""The host's bias schedule (DC, step and AC current sources) on the shared engine against
lava-nc, spike for spike: lava's LIF gets the bias registers written between its runs
(``Var.set``, as a host or an embedded core writes them between steps), the engine the
current sources, which its Loihi kernel writes into the same registers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from toolchain.ir import ACSource, DCSource, Network, Population, Recording, StepCurrentSource
from toolchain.sim.engine import Engine
from toolchain.sim.sources import CurrentSchedule
from toolchain.targets.loihi import lava_runner
from toolchain.targets.loihi.convert import LifConversion, bias_to_mant_exp
from toolchain.targets.loihi.fixed import VTH_SHIFT, LifParameters
from toolchain.targets.loihi.numerics import LoihiNumerics

pytestmark = [
    pytest.mark.lava,
    pytest.mark.skipif(lava_runner.unavailable_reason() is not None,
                       reason=lava_runner.unavailable_reason() or ""),
]

DT = 1.0
N_STEPS = 400
SIZE = 60


def _case() -> tuple[Network, LifConversion]:
    rng = np.random.default_rng(21)
    vth = 600
    params = LifParameters.build("A", SIZE, du=300, dv=150, vth=vth,
                                 bias_mant=rng.integers(-200, 400, SIZE),
                                 bias_exp=rng.integers(0, 3, SIZE))
    threshold = vth << VTH_SHIFT
    conv = LifConversion(params=params, mv_per_unit=1.0, v_origin=np.zeros(SIZE),
                         units_per_na=1.0, bias_units_per_na=1.0, u0=np.zeros(SIZE, int),
                         v0=rng.integers(0, threshold, SIZE))
    # currents in v units per step (bias_units_per_na = 1): up to ~threshold / 12, so
    # that neurons fire every few dozen steps, and beyond the 13-bit mantissa, so that
    # the register's exponent changes with the current
    scale = threshold / 12
    currents = (
        ACSource("ac", "A", np.arange(0, 30), amplitude=0.8 * scale, offset=0.5 * scale,
                 frequency=7.0, phase=40.0, start=20.0, stop=330.0),
        StepCurrentSource("step", "A", np.arange(20, 50), [50.0, 120.0, 121.0, 260.0],
                          [1.2 * scale, -0.4 * scale, 0.9 * scale, 0.0]),
        DCSource("dc", "A", np.arange(40, 60), 0.7 * scale, start=90.0, stop=300.0),
    )
    net = Network(dt=DT, populations=(Population("A", "IF_curr_exp", SIZE),),
                  currents=currents, recordings=(Recording("A", "spikes", np.arange(SIZE)),))
    return net, conv


def _registers(net: Network, conv: LifConversion) -> tuple[np.ndarray, np.ndarray]:
    """Per step, the bias mantissas and exponents a host writes: the population's bias
    plus the current the sources inject in that step, one register."""
    schedule = CurrentSchedule(net, DT)
    mants, exps = [], []
    for k in range(N_STEPS):
        schedule.advance_to(k)
        mant, exp = bias_to_mant_exp(conv.params.bias + schedule.current["A"])
        mants.append(mant)
        exps.append(exp)
    return np.array(mants), np.array(exps)


@pytest.mark.slow
def test_the_bias_schedule_matches_lava_spike_for_spike():
    net, conv = _case()
    sim = Engine(net, numerics=LoihiNumerics(populations={"A": conv}), target="loihi")
    sim.run_until(N_STEPS * DT)
    rec = sim.result().spikes["A"]
    ours = np.zeros((N_STEPS, SIZE), dtype=np.uint8)
    ours[np.rint(rec.times / DT).astype(int), rec.senders] = 1

    mants, exps = _registers(net, conv)
    changed = np.flatnonzero(np.any((np.diff(mants, axis=0) != 0)
                                    | (np.diff(exps, axis=0) != 0), axis=1)) + 1
    first = dataclasses.replace(conv.params, bias_mant=mants[0], bias_exp=exps[0])
    lava = lava_runner.run(N_STEPS, [lava_runner.LavaPopulation(
        first, conv.u0, conv.v0, bias_steps=changed, bias_mant_at=mants[changed],
        bias_exp_at=exps[changed])], [])
    (theirs,) = lava.rasters
    assert changed.size > 300  # the AC source rewrites the bias every step it is on
    assert np.unique(exps).size > 1
    diff = np.argwhere(ours != theirs)
    assert not diff.size, (f"first mismatch at step {diff[0][0]}, neuron {diff[0][1]} "
                           f"({diff.shape[0]} mismatches; {ours.sum()} vs {theirs.sum()})")
    # the sources shape the firing: each group fires, and differently from the others
    assert ours[:, :20].sum() > 50 and ours[:, 50:].sum() > 20
    assert ours[300:, 0:20].sum() < ours[100:200, 0:20].sum()
