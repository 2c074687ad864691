"""Every hardware target refuses by name what the IR gained for PyNN's full standard library
and the target does not run (cell types, synapse dynamics, STDP rules and delays, current
sources), instead of silently dropping it; new spike sources, realised on the host like
every source, run everywhere."""

from __future__ import annotations

import numpy as np
import pytest

import toolchain
from toolchain.compiler.pipeline import MappingError
from toolchain.ir import (
    ACSource,
    ArraySource,
    GammaSource,
    MultiQuantal,
    Network,
    NoisyCurrentSource,
    Population,
    PostSynapticResponse,
    Projection,
    Recording,
    SimpleStochastic,
    STDPRule,
    StochasticTsodyksMarkram,
    TsodyksMarkram,
    Vogels2011Rule,
)
from toolchain.targets.spinnaker2.numerics import SUPPORTED_CELLS as S2_CELLS

HARDWARE = ["loihi", "spinnaker2", "dynapse", "fpga"]
DT = 1.0  # ms: every hardware target's step


def network(post: Population | None = None, *, dynamics=None, plasticity=None,
            currents=(), receptor="excitatory", weight=0.5) -> Network:
    post = post or Population("post", "IF_curr_exp", 4)
    src = ArraySource.from_lists("in", [[2.0, 7.0], [3.0], [], [5.0]])
    proj = Projection("in->post", "in", "post", np.arange(4), np.arange(4), np.full(4, weight),
                      np.full(4, DT), receptor=receptor, dynamics=dynamics,
                      plasticity=plasticity)
    return Network(dt=DT, populations=(post,), sources=(src,), projections=(proj,),
                   currents=tuple(currents), recordings=(Recording("post", "spikes",
                                                                   np.arange(4)),))


def refused(target: str, net: Network) -> str:
    with pytest.raises((MappingError, ValueError)) as info:
        toolchain.compile(net, target)
    return str(info.value)


NEW_CELLS = ["IF_curr_delta", "IF_cond_alpha", "IF_cond_exp_gsfa_grr",
             "EIF_cond_exp_isfa_ista", "EIF_cond_alpha_isfa_ista", "HH_cond_exp", "Izhikevich",
             "GIF_cond_exp"]


# cell types a target's cores run in software (the others are refused by name); Loihi's
# compartments run delta synapses (a current cleared every step)
RUNS = {"spinnaker2": {c.value for c in S2_CELLS}, "loihi": {"IF_curr_delta"}}


@pytest.mark.parametrize("target", HARDWARE)
@pytest.mark.parametrize("cell_type", [*NEW_CELLS, "LIF", "AdExp"])
def test_new_cell_types_are_refused_by_name(target, cell_type):
    receptors = (PostSynapticResponse("excitatory", "cond_exp"),) \
        if cell_type in ("LIF", "AdExp") else ()
    post = Population("post", cell_type, 4, receptors=receptors)
    net = network(post, weight=0.01)
    if cell_type in RUNS.get(target, ()):
        result = toolchain.simulate(net, target, t_stop=20.0)
        assert result.spikes["post"].size == 4
        return
    message = refused(target, net)
    assert "post" in message and cell_type in message


DYNAMICS = [TsodyksMarkram(0.5, 100.0, 0.0), SimpleStochastic(0.5),
            StochasticTsodyksMarkram(0.5, 100.0, 0.0), MultiQuantal(0.5, 4, 800.0, 0.0)]


@pytest.mark.parametrize("target", HARDWARE)
@pytest.mark.parametrize("dynamics", DYNAMICS, ids=lambda d: type(d).__name__)
def test_synapse_dynamics_are_refused_by_name(target, dynamics):
    if target == "spinnaker2":  # the PE runs the engine's release models in software
        assert toolchain.simulate(network(dynamics=dynamics), target, t_stop=20.0)
        return
    message = refused(target, network(dynamics=dynamics))
    assert f"Projection 'in->post': {type(dynamics).__name__} synapses" in message
    assert f"not modelled on {target}" in message


PLASTICITY = {
    "additive-potentiation-multiplicative-depression":
        STDPRule(w_max=1.0, weight_dependence="additive-potentiation-multiplicative-depression"),
    "gutig": STDPRule(w_max=1.0, weight_dependence="gutig", mu_plus=0.5, mu_minus=0.5),
    "Vogels2011": Vogels2011Rule(w_max=1.0),
    "dendritic_delay_fraction": STDPRule(w_max=1.0, dendritic_delay_fraction=1.0),
}


@pytest.mark.parametrize("target", HARDWARE)
@pytest.mark.parametrize("feature", list(PLASTICITY))
def test_new_plasticity_is_refused_by_name(target, feature):
    runs = {("spinnaker2", "dendritic_delay_fraction"),  # sPyNNaker's own
            ("loihi", "additive-potentiation-multiplicative-depression")}  # one weighted term
    if (target, feature) in runs:
        assert toolchain.simulate(network(plasticity=PLASTICITY[feature]), target,
                                  t_stop=20.0)
        return
    message = refused(target, network(plasticity=PLASTICITY[feature]))
    assert "Projection 'in->post'" in message
    if target in ("loihi", "fpga", "spinnaker2"):  # they learn, but not this
        assert feature in message
    else:  # it refuses every STDP rule
        assert "STDP" in message or "plasticity" in message


# spinnaker2 runs all four of PyNN's current sources (test_spinnaker2_models.py); loihi
# runs an AC source on its bias and a noisy one, only with fit='approximate', on its
# compartments' noise generator (tests/targets/loihi/test_current_sources.py)
@pytest.mark.parametrize("target", [t for t in HARDWARE if t != "spinnaker2"])
@pytest.mark.parametrize("current", [
    ACSource("ac", "post", [0], amplitude=0.5, frequency=20.0),
    NoisyCurrentSource("noise", "post", [1], mean=0.5, stdev=0.1, dt=DT)],
    ids=lambda c: type(c).__name__)
def test_new_current_sources_are_refused_by_name(target, current):
    if target == "loihi" and isinstance(current, ACSource):
        assert toolchain.simulate(network(currents=[current]), target, t_stop=20.0)
        return
    message = refused(target, network(currents=[current]))
    assert f"'{current.label}'" in message
    if target == "loihi":
        assert f"{type(current).__name__} '{current.label}': Loihi's noise generator" \
            in message
    elif target != "dynapse":  # which refuses every current source, with its own reason
        assert f"{type(current).__name__} '{current.label}': this current source is not " \
               f"modelled on {target}" in message


@pytest.mark.parametrize("target", HARDWARE)
def test_a_gamma_source_runs_with_the_spikes_the_reference_sees(target):
    """Sources are realised on the host, as spike trains every target streams in."""
    gamma = GammaSource("g", 4, alpha=3.0, beta=150.0, start=0.0, duration=np.inf, seed=5)
    post = Population("post", "IF_curr_exp", 4, {"tau_refrac": 2.0})
    net = Network(dt=DT, populations=(post,), sources=(gamma,), projections=(
        Projection("g->post", "g", "post", np.arange(4), np.arange(4), np.full(4, 15.0),
                   np.full(4, DT)),), recordings=(Recording("g", "spikes", np.arange(4)),
                                                  Recording("post", "spikes", np.arange(4))))
    result = toolchain.simulate(net, target, t_stop=200.0)
    ref = toolchain.simulate(net, "reference", t_stop=200.0).spikes["g"]
    assert ref.count > 25  # 4 trains at 50 Hz for 0.2 s
    assert result.spikes["post"].count > 10  # the input reached the neurons
    if target != "fpga":  # the fpga model reports its neurons only (sources come back empty)
        np.testing.assert_array_equal(result.spikes["g"].times, ref.times)
        np.testing.assert_array_equal(result.spikes["g"].senders, ref.senders)
