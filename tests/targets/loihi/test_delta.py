"""IF_curr_delta on Loihi: a compartment whose current is cleared every step (du = 4095),
so a weight moves v once, by its mV, a step after the reference's jump (Loihi's input
path: a spike reaches u in the step after it arrives)."""

from __future__ import annotations

import numpy as np

from toolchain import simulate
from toolchain.ir import Network, PoissonSource, Population, Projection, Recording
from toolchain.sim.metrics import compare
from toolchain.targets import get_target
from toolchain.targets.loihi.convert import convert_population
from toolchain.targets.loihi.fixed import DECAY_MAX


def test_delta_synapses_jump_v_by_their_weight_a_step_late():
    n = 50
    cells = Population("cells", "IF_curr_delta", n,
                       parameters=dict(tau_m=10.0, v_thresh=-55.0, tau_refrac=2.0))
    src = PoissonSource("in", n, rate=np.full(n, 800.0), start=np.zeros(n),
                        duration=np.full(n, np.inf), seed=3)
    projs = (Projection("e", "in", "cells", np.arange(n), np.arange(n), np.full(n, 1.5),
                        np.full(n, 1.0)),
             Projection("i", "in", "cells", np.arange(n), (np.arange(n) + 1) % n,
                        np.full(n, -0.5), np.full(n, 1.0), receptor="inhibitory"))
    net = Network(dt=0.1, populations=(cells,), sources=(src,), projections=projs,
                  recordings=(Recording("cells", "spikes", np.arange(n)),
                              Recording("cells", "v", np.arange(3))))
    assert int(convert_population(cells, 0.1).params.du[0]) == DECAY_MAX
    art = get_target("loihi").compile(net)
    assert art.fits and not art.approximations
    out = {"reference": simulate(net, t_stop=1000.0), "loihi": simulate(art, t_stop=1000.0)}
    a = out["reference"].signals[("cells", "v")].values
    b = out["loihi"].signals[("cells", "v")].values
    assert np.ptp(a[:200, 0]) > 5.0
    # until the first spike, the same trace one step later, within the quantisation of
    # the weights (8-bit mantissas) and of the voltage decay (tau_m 9.94 ms for 10)
    first = int(np.argmax(a[:, 0] > -55.5))
    assert first > 20
    assert np.abs(a[:first - 1, 0] - b[1:first, 0]).max() < 0.25
    assert np.abs(a[:first - 1, 0] - b[:first - 1, 0]).max() > 1.0  # not the same step
    (dev,) = compare(out["reference"], out["loihi"], t_stop=1000.0).populations
    assert dev.rate_ref > 10.0 and abs(dev.rate_error) < 0.1, dev
