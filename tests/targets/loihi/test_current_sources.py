"""Current sources on Loihi: the bias the host sets (DC), rewrites at a step source's
switches and, through an embedded core, at every step of an AC source, with the cost of
those writes in the step estimate and the report; and the compartments' noise generator
for a NoisyCurrentSource, which only fit='approximate' uses (uniform draws, not PyNN's
Gaussian)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from toolchain import simulate
from toolchain.compiler import MappingError
from toolchain.compiler.report import report_data
from toolchain.ir import (
    ACSource,
    Network,
    NoisyCurrentSource,
    Population,
    Recording,
    StepCurrentSource,
)
from toolchain.targets import get_target
from toolchain.targets.loihi.artifact import LoihiDetail
from toolchain.targets.loihi.convert import NOISE_DRAW_SD, convert_population
from toolchain.targets.loihi.fixed import DECAY_UNITY

CELL = dict(tau_m=20.0, cm=1.0, v_rest=-65.0, v_reset=-65.0, v_thresh=-50.0,
            tau_refrac=2.0)


def _net(currents, n: int = 4, record=("v",), **params) -> Network:
    cells = Population("cells", "IF_curr_exp", n, parameters={**CELL, **params})
    return Network(dt=0.1, populations=(cells,), currents=tuple(currents),
                   recordings=tuple(Recording("cells", r, np.arange(n)) for r in record),
                   label="currents")


def _run(name: str, net: Network, t_stop: float, **options):
    art = get_target(name, **options).compile(net)
    return art, simulate(art, t_stop=t_stop)


def test_an_ac_source_moves_v_as_the_references_does():
    """The embedded core writes each step's sample to the bias: v follows the reference's
    sinusoid within the bias and voltage quantisation (no spikes: below threshold)."""
    ac = ACSource("ac", "cells", [0, 1], amplitude=0.6, offset=0.2, frequency=25.0,
                  phase=30.0, start=5.0, stop=90.0)
    net = _net([ac])
    _, ref = _run("reference", net, 100.0)
    art, got = _run("loihi", net, 100.0)
    assert art.fits and not art.approximations
    a = ref.signals[("cells", "v")].values
    b = got.signals[("cells", "v")].values
    assert np.ptp(a[:, 0]) > 5.0  # the sine moves v by several mV
    assert np.abs(a - b).max() < 0.05 * np.ptp(a[:, 0])
    assert np.abs(b[:, 2:] - CELL["v_rest"]).max() < 1e-3  # the cells it does not enter


def test_bias_writes_cost_every_step_of_an_ac_source_and_show_in_the_report():
    ac = ACSource("ac", "cells", [0, 1, 2], amplitude=0.3, frequency=10.0)
    step = StepCurrentSource("step", "cells", [3], [10.0, 20.0, 30.0], [0.5, 0.0, 0.2])
    target = get_target("loihi")
    quiet = target.compile(_net([]))
    with_ac = target.compile(_net([ac, step]))
    write = target.spec.bias_write
    # three biases rewritten per step (the step source writes only at its switches)
    assert with_ac.estimate.compute_ns - quiet.estimate.compute_ns == pytest.approx(
        3 * write.ns)
    assert with_ac.estimate.energy_pj - quiet.estimate.energy_pj == pytest.approx(
        3 * write.pj)
    (section,) = [s for s in report_data(with_ac)["sections"]
                  if s["title"].startswith("Loihi bias schedule")]
    assert section["values"]["bias_writes_per_step[ac]"] == 3
    assert section["values"]["bias_writes[step]"] == 3  # three switches of one neuron


def test_a_noisy_source_is_refused_strictly_and_names_the_generator_and_the_fit():
    noise = NoisyCurrentSource("noise", "cells", [0, 1], mean=0.5, stdev=0.2, dt=1.0)
    with pytest.raises(MappingError) as e:
        get_target("loihi").compile(_net([noise]))
    msg = str(e.value)
    assert msg.startswith("NoisyCurrentSource 'noise': Loihi's noise generator adds a "
                          "uniform draw")
    assert "fit='approximate' (--fit approximate, -O fit=approximate)" in msg
    art = get_target("loihi", fit="approximate").compile(_net([noise]))
    (applied,) = art.approximations
    assert (applied.name, applied.element, applied.label, applied.neurons) == (
        "noise_uniform", "source", "noise", 2)
    # the run-time detail is recomputed under the artifact's policy (a loaded artifact,
    # the portability table's measurement), whatever the target at hand was given
    # (before, the strict default refused the noisy source there)
    assert isinstance(get_target("loihi").remap(art), LoihiDetail)


def test_two_noisy_sources_of_different_spreads_into_one_core_are_refused():
    """One noise exponent per core (noiseExp0)."""
    a = NoisyCurrentSource("a", "cells", [0], mean=0.0, stdev=0.2, dt=0.1)
    b = NoisyCurrentSource("b", "cells", [1], mean=0.0, stdev=2.0, dt=0.1)
    with pytest.raises(MappingError, match="a Loihi core has one"):
        get_target("loihi", fit="approximate").compile(_net([a, b]))


def test_the_noise_generator_gives_v_the_spread_its_draws_should():
    """Sub-threshold cells under the generator alone: v is a sum of independent uniform
    draws, each decayed by dv per step, so across neurons its variance converges to
    (sd of a draw x multiplier)^2 / (1 - a^2) with a = 1 - dv/4096; the neurons differ
    (one generator each), and the mean stays at the source's mean drive."""
    n = 400
    net = _net([NoisyCurrentSource("noise", "cells", np.arange(n), mean=0.0, stdev=0.05,
                                   dt=0.1)], n=n, v_thresh=0.0, tau_m=5.0)
    art, got = _run("loihi", net, 60.0, fit="approximate")
    v = got.signals[("cells", "v")].values  # (steps, n) in mV
    conv = convert_population(net.populations[0], net.dt)
    exp = art.sections[-1].values["noise_exp[noise]"]
    mult = 1 << (int(exp) - 7)
    a = 1 - conv.params.dv[0] / DECAY_UNITY
    sd_units = NOISE_DRAW_SD * mult / math.sqrt(1 - a * a)
    want = sd_units * conv.mv_per_unit
    late = v[-200:]  # 10 membrane time constants in
    assert late.std(axis=1).mean() == pytest.approx(want, rel=0.1)
    assert abs(late.mean() - CELL["v_rest"]) < 0.2 * want
    assert not np.allclose(late[:, 0], late[:, 1])


def test_a_noise_driven_population_fires_near_the_reference_rate():
    """The approximation's cost in rates: with the spread matched per noise interval, the
    firing of cells near threshold stays within 40 % of the Gaussian's."""
    from toolchain.sim.metrics import compare

    n = 100
    noise = NoisyCurrentSource("noise", "cells", np.arange(n), mean=1.3, stdev=0.5, dt=1.0,
                               seed=5)
    net = _net([noise], n=n, record=("spikes",), tau_m=10.0)
    _, ref = _run("reference", net, 1000.0)
    _, got = _run("loihi", net, 1000.0, fit="approximate")
    (dev,) = compare(ref, got, t_stop=1000.0).populations
    assert dev.rate_ref > 2.0
    assert abs(dev.rate_error) < 0.4, dev
