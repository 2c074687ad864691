"""Composed PyNN cells (PointNeuron: LIF with named CurrExp receptors) on Loihi: one
compartment per receptor, each with its own current decay, the first in the soma and the
others dendrites joined to it, as tau_syn_E != tau_syn_I takes two."""

from __future__ import annotations

import numpy as np
import pytest

from toolchain import simulate
from toolchain.compiler import MappingError
from toolchain.ir import (
    Network,
    PoissonSource,
    Population,
    PostSynapticResponse,
    Projection,
    Recording,
)
from toolchain.sim.metrics import compare
from toolchain.targets import get_target
from toolchain.targets.loihi.convert import convert_population, decay_constant

RECEPTORS = (("AMPA", 2.0, 3.0), ("NMDA", 50.0, 0.3), ("GABA", 8.0, -0.5))


def _net(n: int = 20, shapes=("curr_exp",) * 3) -> Network:
    cells = Population(
        "cells", "LIF", n,
        parameters=dict(tau_m=10.0, v_rest=-60.0, v_thresh=-50.0, v_reset=-65.0,
                        tau_refrac=2.0),
        receptors=tuple(PostSynapticResponse(name, shape, {"tau_syn": tau})
                        for (name, tau, _), shape in zip(RECEPTORS, shapes, strict=True)))
    src = PoissonSource("in", n, rate=np.full(n, 50.0), start=np.zeros(n),
                        duration=np.full(n, np.inf), seed=3)
    projs = tuple(Projection(name, "in", "cells", np.arange(n), np.arange(n),
                             np.full(n, w if shape == "curr_exp" else 0.01),
                             np.full(n, 1.0), receptor=name)
                  for (name, _, w), shape in zip(RECEPTORS, shapes, strict=True))
    recs = (Recording("cells", "spikes", np.arange(n)),
            *(Recording("cells", f"{name}.isyn", np.arange(3)) for name, _, _ in RECEPTORS))
    return Network(dt=0.1, populations=(cells,), sources=(src,), projections=projs,
                   recordings=recs if "cond_exp" not in shapes else recs[:1],
                   label="composed")


def test_each_receptor_takes_a_compartment_with_its_own_decay():
    conv = convert_population(_net().populations[0], 0.1)
    assert conv.compartments == 3
    assert [int(conv.params.du[0]), *(int(d[0]) for d in conv.params.du_dendrites)] == [
        decay_constant(tau, 0.1, 1) for _, tau, _ in RECEPTORS]
    assert [conv.compartment_of(name) for name, _, _ in RECEPTORS] == [0, 1, 2]


@pytest.fixture(scope="module")
def runs():
    net = _net()
    art = get_target("loihi").compile(net)
    return {"reference": (None, simulate(net, t_stop=500.0)),
            "loihi": (art, simulate(art, t_stop=500.0))}


def test_a_composed_cell_runs_near_the_reference_and_records_every_receptor(runs):
    (_, ref), (art, got) = runs["reference"], runs["loihi"]
    assert art.fits and not art.approximations
    (dev,) = compare(ref, got, t_stop=500.0).populations
    assert dev.rate_ref > 5.0 and abs(dev.rate_error) < 0.1, dev
    for name, _, w in RECEPTORS:
        a = ref.signals[("cells", f"{name}.isyn")].values
        b = got.signals[("cells", f"{name}.isyn")].values
        assert np.sign(b.sum()) == np.sign(w)
        # Loihi's input arrives a step later
        best = max(np.corrcoef(a[:2000 - k].ravel(), b[k:2000].ravel())[0, 1] for k in (0, 1))
        assert best > 0.95, name


def test_the_compartments_cost_capacity_and_updates(runs):
    art = runs["loihi"][0]
    assert art.estimate.neuron_updates == 3 * 20
    big = get_target("loihi").compile(_net(n=400).replace(recordings=()))
    assert len(big.cores) == 2 and big.cores.neurons.max() <= 1024 // 3
    (section,) = [s for s in big.sections if s.title.startswith("Loihi compartments")]
    assert section.values["compartments_per_neuron[cells]"] == 3


def test_a_conductance_receptor_is_still_refused_by_name():
    with pytest.raises(MappingError, match="its synaptic input is a conductance"):
        get_target("loihi").compile(_net(shapes=("curr_exp", "cond_exp", "curr_exp")))
