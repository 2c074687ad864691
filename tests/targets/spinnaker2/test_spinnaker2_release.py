"""Short-term plasticity and stochastic release on the SpiNNaker2 PE: the release each
spike gets is the engine's (sim.synapses.Release, written once for every engine target),
delivered as 16-bit words at the post population's scale; it costs cycles in the tick
budget and SRAM for each synapse's state."""

from __future__ import annotations

import numpy as np
import pytest

import toolchain
from toolchain.ir import (
    ArraySource,
    MultiQuantal,
    Network,
    Population,
    Projection,
    Recording,
    SimpleStochastic,
    TsodyksMarkram,
)
from toolchain.targets import get_target

SPIKES = np.arange(10.0, 300.0, 20.0)  # ms: 50 Hz, fast enough to depress


def network(dynamics, *, weight: float = 0.01) -> Network:
    src = ArraySource.from_lists("in", [list(SPIKES)])
    pop = Population("c", "IF_cond_exp", 2, parameters={"v_thresh": 0.0})  # silent
    return Network(dt=0.1, populations=(pop,), sources=(src,), projections=(
        Projection("p", "in", "c", [0, 0], [0, 1], [weight, weight], [1.0, 1.0],
                   dynamics=dynamics),),
        recordings=(Recording("c", "gsyn_exc", [0, 1]),))


def peaks(result) -> np.ndarray:
    """Per input spike and neuron, the conductance's peak in the 20 ms that follow."""
    rec = result.signals[("c", "gsyn_exc")]
    return np.array([rec.values[(rec.times >= t) & (rec.times < t + 20.0)].max(axis=0)
                     for t in SPIKES])


@pytest.mark.parametrize("numerics", ["s16.15", "float32"])
def test_depression_and_facilitation_follow_the_reference(numerics):
    """Tsodyks-Markram with per-synapse parameters (one depressing, one facilitating
    synapse): in float32 every PSC's size relative to the first is the reference's within
    1 %; in s16.15 within four steps of the format (2^-15 uS: a 0.001 uS PSC is 30 of
    them; each tick's flooring shift loses up to one).  The first is within the PE's
    scheme of the reference's (its first tick delivers tau/dt (1 - e^(-dt/tau)) of a
    weight, sPyNNaker's exponential synapse)."""
    tm = TsodyksMarkram(np.array([0.5, 0.1]), np.array([800.0, 50.0]),
                        np.array([0.0, 1000.0]))
    net = network(tm)
    want = peaks(toolchain.simulate(net, t_stop=300.0))
    got = peaks(toolchain.simulate(net, "spinnaker2", t_stop=300.0, numerics=numerics))
    assert want[-1, 0] < 0.5 * want[0, 0] and want[-1, 1] > 1.5 * want[0, 1]  # as designed
    if numerics == "float32":
        np.testing.assert_allclose(got / got[0], want / want[0], rtol=0.01)
    else:
        np.testing.assert_allclose(got, want / want[0] * got[0], atol=4 * 2.0**-15)
    np.testing.assert_allclose(got[0], want[0], rtol=0.05, atol=4 * 2.0**-15)


@pytest.mark.parametrize("dynamics", [SimpleStochastic(0.5), MultiQuantal(0.5, 4, 800.0, 0.0)],
                         ids=lambda d: type(d).__name__)
def test_stochastic_release_runs_with_the_reference_statistics(dynamics):
    """Stochastic release draws on the PE: over 15 spikes onto 2 synapses, some release
    and some fail, and a release is a whole weight (SimpleStochastic) or a multiple of a
    quantum (MultiQuantal: w / n)."""
    got = peaks(toolchain.simulate(network(dynamics), "spinnaker2", t_stop=300.0,
                                   numerics="float32"))
    sizes = got / got.max()
    assert (sizes < 0.05).any() and (sizes > 0.2).any()


def test_release_costs_cycles_and_sram():
    static = get_target("spinnaker2").compile(network(None))
    dynamic = get_target("spinnaker2").compile(network(TsodyksMarkram(0.5, 800.0, 0.0)))
    assert dynamic.estimate.compute_ns > static.estimate.compute_ns
    (table,) = get_target("spinnaker2").detail(dynamic).mapping.synapses
    assert table.release_cycles > 0 and not table.plastic
