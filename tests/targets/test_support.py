"""Every target's declared support of each PyNN feature (Target.SUPPORT) is what its
compile does: a network using the feature compiles strictly ("native"), only with
fit='approximate' ("approximated"), or not at all, with the declared message
("refused"); and docs/portability.md shows the table the declarations give."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolchain.compiler import MappingError
from toolchain.ir import (
    ACSource,
    ArraySource,
    DCSource,
    GammaSource,
    InhGammaSource,
    MultiQuantal,
    Network,
    NoisyCurrentSource,
    PoissonRefractorySource,
    PoissonSource,
    Population,
    PostSynapticResponse,
    Projection,
    Recording,
    SimpleStochastic,
    STDPRule,
    StepCurrentSource,
    StochasticTsodyksMarkram,
    TsodyksMarkram,
    Vogels2011Rule,
)
from toolchain.targets import TARGETS, get_target, target_class
from toolchain.targets.support import APPROXIMATED, FEATURES, NATIVE, declared_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "portability.md"
BEGIN, END = "<!-- feature-table: begin -->", "<!-- feature-table: end -->"


def _net(*, cell: str = "IF_curr_exp", params=None, currents=(), delay: float = 0.3,
         plasticity=None, poisson: bool = False, source=None, receptors=(),
         receptor: str = "excitatory", dynamics=None, inhibitory: bool = False,
         record=("spikes",)) -> Network:
    """Four cells fed by four inputs (and by each other, inhibitory, if asked)."""
    if source is not None:
        src = source
    elif poisson:
        src = PoissonSource("in", 4, rate=np.full(4, 40.0), start=np.zeros(4),
                            duration=np.full(4, np.inf), seed=3)
    else:
        src = ArraySource.from_lists("in", [[2.0 + k, 11.0 + k, 19.0] for k in range(4)])
    cells = Population("cells", cell, 4, parameters=params or {}, receptors=receptors)
    cond = (cells.conductance_receptor(receptor) if cell in ("LIF", "AdExp")
            else cells.cell_type.conductance_based)
    projs = [Projection("in->cells", "in", "cells", np.arange(4), np.arange(4),
                        np.full(4, 0.02 if cond else 1.5), np.full(4, delay),
                        plasticity=plasticity, receptor=receptor, dynamics=dynamics)]
    if inhibitory:
        projs.append(Projection("cells->cells", "cells", "cells", np.arange(4),
                                (np.arange(4) + 1) % 4, np.full(4, 0.01 if cond else -0.4),
                                np.full(4, 0.3), receptor="inhibitory"))
    return Network(dt=0.1, populations=(cells,), sources=(src,), projections=tuple(projs),
                   currents=tuple(currents),
                   recordings=tuple(Recording("cells", v, np.arange(4)) for v in record),
                   label="feature")


RULE = dict(tau_plus=5.0, tau_minus=5.0, A_plus=0.02, A_minus=0.02, w_max=3.0)
NETWORKS = {
    "IF_curr_exp": lambda: _net(),
    "IF_curr_alpha": lambda: _net(cell="IF_curr_alpha"),
    "IF_cond_exp": lambda: _net(cell="IF_cond_exp", inhibitory=True),
    "tau_syn_E != tau_syn_I": lambda: _net(params={"tau_syn_E": 5.0, "tau_syn_I": 10.0},
                                           inhibitory=True),
    "varying parameters": lambda: _net(params={"tau_m": [19.5, 20.0, 20.0, 20.5]}),
    "delays": lambda: _net(delay=5.0),
    "SpikeSourcePoisson": lambda: _net(poisson=True),
    "SpikeSourceArray": lambda: _net(),
    "DCSource": lambda: _net(currents=(DCSource("dc", "cells", [0, 1], 0.5),)),
    "StepCurrentSource": lambda: _net(currents=(StepCurrentSource(
        "step", "cells", [2], [5.0, 15.0], [0.8, 0.0]),)),
    "STDP additive": lambda: _net(plasticity=STDPRule(**RULE)),
    "STDP multiplicative": lambda: _net(plasticity=STDPRule(
        **RULE, weight_dependence="multiplicative")),
    "record v": lambda: _net(record=("spikes", "v")),
    "record isyn_exc, isyn_inh": lambda: _net(inhibitory=True,
                                              record=("isyn_exc", "isyn_inh")),
    "IF_curr_delta": lambda: _net(cell="IF_curr_delta"),
    "IF_cond_alpha": lambda: _net(cell="IF_cond_alpha", inhibitory=True),
    "IF_cond_exp_gsfa_grr": lambda: _net(cell="IF_cond_exp_gsfa_grr"),
    "EIF_cond_exp_isfa_ista": lambda: _net(cell="EIF_cond_exp_isfa_ista"),
    "EIF_cond_alpha_isfa_ista": lambda: _net(cell="EIF_cond_alpha_isfa_ista"),
    "AdExp, a = 0": lambda: _net(cell="AdExp", params={"a": 0.0}, receptor="AMPA",
                                 receptors=(PostSynapticResponse("AMPA", "curr_exp"),)),
    "HH_cond_exp": lambda: _net(cell="HH_cond_exp"),
    "Izhikevich": lambda: _net(cell="Izhikevich"),
    "GIF_cond_exp": lambda: _net(cell="GIF_cond_exp"),
    "PointNeuron, current receptors": lambda: _net(
        cell="LIF", receptor="AMPA", receptors=(
            PostSynapticResponse("AMPA", "curr_exp", {"tau_syn": 2.0}),
            PostSynapticResponse("NMDA", "curr_exp", {"tau_syn": 50.0}))),
    "PointNeuron, conductance receptors": lambda: _net(
        cell="LIF", receptor="AMPA", receptors=(
            PostSynapticResponse("AMPA", "cond_exp", {"tau_syn": 2.0}),)),
    "TsodyksMarkramSynapse": lambda: _net(dynamics=TsodyksMarkram(0.5, 100.0, 0.0)),
    "SimpleStochasticSynapse": lambda: _net(dynamics=SimpleStochastic(0.5)),
    "StochasticTsodyksMarkramSynapse": lambda: _net(
        dynamics=StochasticTsodyksMarkram(0.5, 100.0, 0.0)),
    "MultiQuantalSynapse": lambda: _net(dynamics=MultiQuantal(0.5, 4, 800.0, 0.0)),
    "STDP additive-potentiation-multiplicative-depression": lambda: _net(plasticity=STDPRule(
        **RULE, weight_dependence="additive-potentiation-multiplicative-depression")),
    "STDP Gutig": lambda: _net(plasticity=STDPRule(
        **RULE, weight_dependence="gutig", mu_plus=0.5, mu_minus=0.5)),
    "STDP Vogels2011": lambda: _net(plasticity=Vogels2011Rule(eta=0.05, w_max=3.0)),
    "STDP dendritic delay": lambda: _net(plasticity=STDPRule(
        **RULE, dendritic_delay_fraction=1.0)),
    "SpikeSourceGamma": lambda: _net(source=GammaSource(
        "in", 4, alpha=3.0, beta=150.0, start=0.0, duration=np.inf, seed=5)),
    "SpikeSourcePoissonRefractory": lambda: _net(source=PoissonRefractorySource(
        "in", 4, rate=np.full(4, 40.0), tau_refrac=np.full(4, 2.0), start=np.zeros(4),
        duration=np.full(4, np.inf), seed=3)),
    "SpikeSourceInhGamma": lambda: _net(source=InhGammaSource(
        "in", 4, a=np.full(8, 3.0), b=np.full(8, 0.01), tbins=np.tile([0.0, 10.0], 4),
        offsets=np.arange(0, 9, 2), start=np.zeros(4), duration=np.full(4, np.inf),
        seed=3)),
    "ACSource": lambda: _net(currents=(ACSource("ac", "cells", [0], amplitude=0.5,
                                                frequency=20.0),)),
    "NoisyCurrentSource": lambda: _net(currents=(NoisyCurrentSource(
        "noise", "cells", [1], mean=0.5, stdev=0.1, dt=0.1),)),
}
CASES = [(name, feature) for name in TARGETS for feature in FEATURES]


def test_every_feature_has_a_network_and_every_target_declares_every_feature():
    assert set(NETWORKS) == set(FEATURES)
    for name in TARGETS:
        assert set(target_class(name).SUPPORT) == set(FEATURES), name


@pytest.mark.parametrize("name, feature", CASES)
def test_the_declared_support_is_what_the_compile_does(name, feature):
    support = target_class(name).SUPPORT[feature]
    net = NETWORKS[feature]()
    if support.status == NATIVE:
        target = get_target(name)
        art = target.compile(net)
        assert art.fits and not art.approximations
        sim = target.simulator(art)
        sim.run_until(25.0)
        assert sim.result().t_stop == pytest.approx(25.0)
        return
    with pytest.raises(MappingError) as strict:
        get_target(name).compile(net)
    if support.status == APPROXIMATED:
        art = get_target(name, fit="approximate").compile(net)
        assert art.fits and art.approximations, str(strict.value)
        return
    assert support.says in str(strict.value)
    with pytest.raises(MappingError) as approximate:
        get_target(name, fit="approximate").compile(net)
    assert support.says in str(approximate.value)


def test_the_portability_page_shows_the_declared_table():
    text = DOC.read_text()
    assert BEGIN in text and END in text
    shown = text.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert shown == declared_table().strip(), (
        "docs/portability.md's feature table is out of date: python "
        "examples/pynn_examples_matrix.py --features-only --docs docs/portability.md")
