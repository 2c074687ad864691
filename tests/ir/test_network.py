import math

import numpy as np
import pytest

from toolchain.ir import (
    ACSource,
    ArraySource,
    CellType,
    DCSource,
    GammaSource,
    InhGammaSource,
    IRError,
    Network,
    NoisyCurrentSource,
    PoissonRefractorySource,
    PoissonSource,
    Population,
    PostSynapticResponse,
    Projection,
    Recording,
    STDPRule,
    StepCurrentSource,
    TsodyksMarkram,
    UnitError,
    Vogels2011Rule,
)
from toolchain.ir.network import as_given
from toolchain.ir.units import Unit, to_ir


def small_net(**changes):
    exc = Population("exc", CellType.IF_CURR_EXP, 4, parameters={"tau_m": [10, 20, 30, 40]})
    src = PoissonSource("noise", 3, rate=np.full(3, 10.0), start=np.zeros(3),
                        duration=np.full(3, math.inf), seed=7)
    proj = Projection("noise->exc", "noise", "exc", [0, 1, 2], [3, 2, 1], [0.1, 0.2, 0.3],
                      [1.0, 1.0, 2.0])
    kwargs = dict(populations=(exc,), sources=(src,), projections=(proj,))
    kwargs.update(changes)
    return Network(**kwargs)


def test_defaults_and_per_neuron_arrays():
    pop = Population("p", "IF_cond_exp", 3, parameters={"v_thresh": -52.0})
    assert pop.cell_type is CellType.IF_COND_EXP
    np.testing.assert_array_equal(pop.parameters["v_thresh"], [-52.0] * 3)
    np.testing.assert_array_equal(pop.parameters["e_rev_I"], [-70.0] * 3)
    np.testing.assert_array_equal(pop.initial_values["v"], [-65.0] * 3)
    assert not pop.parameters["cm"].flags.writeable


def test_arrays_are_copied_so_callers_cannot_mutate_the_ir():
    tau = np.array([10.0, 20.0])
    pop = Population("p", "IF_curr_exp", 2, parameters={"tau_m": tau})
    tau[0] = 99.0
    assert pop.parameters["tau_m"][0] == 10.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(parameters={"tau_m": [10.0, -1.0]}),
         "Population 'p' parameter tau_m[1] = -1 ms is outside the allowed range (0, inf] ms"),
        (dict(parameters={"cm": [1.0, float("nan")]}),
         "Population 'p' parameter cm[1] = nan is not a finite number"),
        (dict(parameters={"tau_w": 1.0}),
         "Population 'p': IF_curr_exp has no parameter 'tau_w'; its parameters are: cm, tau_m,"),
        (dict(parameters={"v_reset": -40.0}),
         "Population 'p' parameter v_reset[0] = -40 mV is not below v_thresh[0] = -50 mV"),
        (dict(parameters={"tau_m": [1.0, 2.0, 3.0]}),
         "Population 'p' parameter tau_m: expected one value or 2 values, got shape (3,)"),
        (dict(initial_values={"gsyn_exc": 0.0}),
         "Population 'p': IF_curr_exp has no state variable 'gsyn_exc'"),
    ],
)
def test_population_errors_name_object_field_value_and_range(kwargs, message):
    with pytest.raises(IRError if "range" not in message and "finite" not in message
                       else ValueError) as info:
        Population("p", "IF_curr_exp", 2, **kwargs)
    assert message in str(info.value)


def test_unknown_cell_type_lists_the_supported_ones():
    with pytest.raises(IRError, match="cell_type 'IF_facets_hardware1' is not supported; use one "
                                      "of: IF_curr_exp, IF_curr_alpha, IF_cond_exp, "
                                      "IF_curr_delta"):
        Population("p", "IF_facets_hardware1", 2)


def test_projection_checks():
    with pytest.raises(IRError, match="weight has 1 entries but pre_index has 2"):
        Projection("x", "a", "b", [0, 1], [0, 1], [0.1], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"Projection 'x' delay\[0\] = 0 ms is outside"):
        Projection("x", "a", "b", [0], [0], [0.1], [0.0])
    with pytest.raises(IRError, match="receptor 'source.gap' is not supported"):
        Projection("x", "a", "b", [0], [0], [0.1], [1.0], receptor="source.gap")
    rule = STDPRule()
    with pytest.raises(IRError, match="has both STDP and TsodyksMarkram dynamics"):
        Projection("x", "a", "b", [0], [0], [0.1], [1.0], plasticity=rule,
                   dynamics=TsodyksMarkram(0.5, 100.0, 0.0))
    with pytest.raises(IRError, match="TsodyksMarkram U has 2 values for 3 synapses"):
        Projection("x", "a", "b", [0, 1, 2], [0, 0, 0], [0.1] * 3, [1.0] * 3,
                   dynamics=TsodyksMarkram([0.5, 0.4], 100.0, 0.0))


def test_receptors_of_standard_and_composed_populations():
    net = small_net()
    wrong = Projection("bad", "noise", "exc", [0], [0], [0.1], [1.0], receptor="AMPA")
    with pytest.raises(IRError, match="population 'exc' .IF_curr_exp. has no receptor 'AMPA'; "
                                      "its receptors are: excitatory, inhibitory"):
        small_net(projections=(wrong,))
    composed = Population("pn", "LIF", 2, receptors=(
        PostSynapticResponse("AMPA", "cond_exp", {"tau_syn": [1.0, 2.0]}),
        PostSynapticResponse("I", "curr_exp")))
    assert composed.state_variables == ("v", "AMPA.gsyn", "I.isyn")
    np.testing.assert_array_equal(composed.receptor("AMPA").parameters["e_syn"], [0.0, 0.0])
    ok = Projection("ok", "noise", "pn", [0], [1], [0.1], [1.0], receptor="AMPA")
    inh = Projection("inh", "noise", "pn", [0], [1], [-0.1], [1.0], receptor="I")
    net = net.replace(populations=(*net.populations, composed), projections=(ok, inh))
    assert net.projections[0].receptor == "AMPA"
    neg = Projection("neg", "noise", "pn", [0], [1], [-0.1], [1.0], receptor="AMPA")
    with pytest.raises(IRError, match="weight.* is negative; conductance-based population 'pn'"):
        net.replace(projections=(neg,))
    with pytest.raises(IRError, match="IF_cond_exp has its own synapses"):
        Population("c", "IF_cond_exp", 1, receptors=(PostSynapticResponse("A", "cond_exp"),))
    with pytest.raises(IRError, match="tau_rise.* = 2 ms is not below tau_decay.* = 1 ms"):
        PostSynapticResponse("B", "cond_beta", {"tau_rise": 2.0, "tau_decay": 1.0})
    with pytest.raises(IRError, match="two receptors are named 'A'"):
        Population("pn", "LIF", 1, receptors=(PostSynapticResponse("A", "curr_exp"),) * 2)
    with pytest.raises(IRError, match="receptor A parameter tau_syn: expected one value or 3"):
        Population("pn", "LIF", 3,
                   receptors=(PostSynapticResponse("A", "curr_exp", {"tau_syn": [1.0, 2.0]}),))


def test_new_cell_types_defaults_orders_and_vectors():
    hh = Population("hh", "HH_cond_exp", 2)
    assert hh.initial_values["h"][0] == 1.0 and hh.initial_values["v"][0] == -65.0
    izh = Population("izh", "Izhikevich", 1)
    assert izh.initial_values["u"][0] == -14.0
    with pytest.raises(IRError, match="parameter c.0. = 35 mV is not below 30 mV"):
        Population("izh", "Izhikevich", 1, parameters={"c": 35.0})
    with pytest.raises(IRError, match="v_reset.0. = -30 mV is not below v_spike.0. = -40 mV"):
        Population("eif", "EIF_cond_exp_isfa_ista", 1, parameters={"v_reset": -30.0})
    gif = Population("gif", "GIF_cond_exp", 2, parameters={"a_gamma": [[1, 2, 3], [4, 5, 6]]})
    assert gif.parameters["tau_eta"].shape == (2, 3)
    assert gif.initial_values["v_t"][0] == -48.0
    with pytest.raises(IRError, match="tau_eta has 2 components but a_eta has 3"):
        Population("gif", "GIF_cond_exp", 1, parameters={"tau_eta": [1.0, 2.0]})
    assert CellType.IF_COND_ALPHA.conductance_based and not CellType.LIF.conductance_based


def test_network_checks_references_indices_and_delays():
    net = small_net()
    assert net.n_synapses == 3 and net.n_neurons == 4
    bad = Projection("bad", "noise", "exc", [0], [4], [0.1], [1.0])
    with pytest.raises(IRError, match=r"Projection 'bad' post_index\[0\] = 4 is out of range "
                                      r"for size 4"):
        small_net(projections=(bad,))
    bad = Projection("bad", "nowhere", "exc", [0], [0], [0.1], [1.0])
    with pytest.raises(IRError, match="pre 'nowhere' does not exist"):
        small_net(projections=(bad,))
    short = Projection("short", "noise", "exc", [0], [0], [0.1], [0.05])
    with pytest.raises(IRError, match="delay.* = 0.05 ms is shorter than the timestep dt = 0.1"):
        small_net(projections=(short,))
    with pytest.raises(IRError, match="two populations/sources are labelled 'exc'"):
        small_net(sources=(PoissonSource("exc", 1, [1.0], [0.0], [1.0]),), projections=())


def test_conductance_weights_must_be_positive():
    pop = Population("c", "IF_cond_exp", 2)
    src = ArraySource.from_lists("s", [[1.0], [2.0]])
    proj = Projection("s->c", "s", "c", [0], [1], [-0.01], [1.0], receptor="inhibitory")
    with pytest.raises(IRError, match="weight.*is negative; conductance-based population 'c'"):
        Network(populations=(pop,), sources=(src,), projections=(proj,))


def test_recording_variable_must_exist():
    rec = Recording("exc", "gsyn_exc", np.arange(4))
    with pytest.raises(IRError, match="cannot record 'gsyn_exc'; recordable: spikes, v, isyn_exc"):
        small_net(recordings=(rec,))


def test_array_source_validation():
    src = ArraySource.from_lists("s", [[3.0, 1.0], [], [2.0]])
    np.testing.assert_array_equal(src.train(0), [1.0, 3.0])
    assert src.train(1).size == 0
    with pytest.raises(IRError, match="neuron 0: spike times are not sorted"):
        ArraySource("s", 1, [2.0, 1.0], [0, 2])
    with pytest.raises(IRError, match="offsets: expected 3 entries"):
        ArraySource("s", 2, [2.0, 1.0], [0, 2])


def test_currents_and_stdp_validation():
    with pytest.raises(IRError, match="stop = 1 ms must be after start = 5 ms"):
        DCSource("dc", "exc", [0], 0.5, start=5.0, stop=1.0)
    with pytest.raises(IRError, match="2 times but 1 amplitudes"):
        StepCurrentSource("st", "exc", [0], [1.0, 2.0], [0.1])
    with pytest.raises(IRError, match="w_max = 0 is below w_min = 1"):
        STDPRule(w_min=1.0, w_max=0.0)
    with pytest.raises(IRError, match="weight_dependence 'soft'"):
        STDPRule(weight_dependence="soft")
    with pytest.raises(IRError, match="the gutig weight dependence needs mu_plus"):
        STDPRule(weight_dependence="gutig")
    with pytest.raises(IRError, match="mu_plus is a parameter of the gutig weight dependence"):
        STDPRule(mu_plus=0.5)
    assert STDPRule(weight_dependence="gutig", mu_plus=0.2, mu_minus=0.7).exponents == (0.2, 0.7)
    assert STDPRule(weight_dependence="additive-potentiation-multiplicative-depression"
                    ).exponents == (0.0, 1.0)
    with pytest.raises(IRError, match="dendritic_delay_fraction = 2 must be in"):
        STDPRule(dendritic_delay_fraction=2.0)
    assert Vogels2011Rule(tau=20.0, rho=3.0).alpha == pytest.approx(0.12)


def test_new_sources_and_currents_validation():
    with pytest.raises(IRError, match="rate.0. = 300 Hz is unreachable with tau_refrac.0. = 5 ms"):
        PoissonRefractorySource("r", 1, rate=300.0, tau_refrac=5.0, start=0.0, duration=1.0)
    with pytest.raises(ValueError, match="GammaSource 'g' alpha.0. = 0 is outside"):
        GammaSource("g", 1, alpha=0.0, beta=1.0, start=0.0, duration=1.0)
    with pytest.raises(IRError, match="tbins: must be strictly increasing for each neuron"):
        InhGammaSource("ig", 1, a=[1, 1], b=[1, 1], tbins=[5.0, 5.0], offsets=[0, 2],
                       start=0.0, duration=1.0)
    with pytest.raises(IRError, match="b has 1 values for 2 tbins"):
        InhGammaSource("ig", 1, a=[1, 1], b=[1], tbins=[0.0, 5.0], offsets=[0, 2],
                       start=0.0, duration=1.0)
    with pytest.raises(IRError, match="dt = 0 ms, the interval between new amplitudes"):
        NoisyCurrentSource("n", "exc", [0], mean=0.0, stdev=1.0, dt=0.0)
    with pytest.raises(IRError, match="frequency = -1 Hz must be >= 0"):
        ACSource("ac", "exc", [0], amplitude=1.0, frequency=-1.0)
    ac = ACSource("ac", "exc", [0], amplitude=1.0)
    with pytest.raises(IRError, match="a current source records its current 'i', not 'v'"):
        small_net(currents=(ac,), recordings=(Recording("ac", "v", [0]),))
    with pytest.raises(IRError, match="ACSource 'noise': the label is used twice"):
        small_net(currents=(ACSource("noise", "exc", [0], amplitude=1.0),))


def test_as_given_recovers_the_typed_decimals_of_float32_values():
    typed = np.array([0.123, 0.015, 0.543, -0.1, 1e-5, 2.5, 0.0])
    single = typed.astype(np.float32)
    assert float(single[1]) != 0.015  # float32 alone gives 0.014999999664723873
    np.testing.assert_array_equal(as_given(single), typed)
    rng = np.random.default_rng(0)
    values = (rng.standard_normal(10000) * 10.0 ** rng.integers(-20, 20, 10000)).astype(
        np.float32)
    back = as_given(values)
    assert np.all(back.astype(np.float32) == values)  # never another float32


def test_units_conversion():
    assert float(to_ir("5 mV", Unit.MV, what="x")) == 5.0
    assert float(to_ir("0.5 s", Unit.MS, what="x")) == 500.0
    import quantities as pq

    assert float(to_ir(250 * pq.pA, Unit.NA, what="x")) == pytest.approx(0.25)
    with pytest.raises(UnitError, match="i_offset: cannot convert 'mV' to nA"):
        to_ir("3 mV", Unit.NA, what="i_offset")


def test_value_equality():
    assert small_net() == small_net()
    other = small_net(seed=3)
    assert small_net() != other


def test_synapse_arrays_are_compact_and_frozen_inputs_are_shared_not_copied():
    w = np.array([0.1, 0.2], dtype=np.float32)
    w.setflags(write=False)
    proj = Projection("x", "a", "b", [0, 1], [1, 0], w, [1.0, 1.0])
    assert proj.pre_index.dtype == np.int32 and proj.delay.dtype == np.float32
    assert proj.weight is w  # read-only input of the right dtype: no copy of a huge array
    writable = np.array([0.1, 0.2], dtype=np.float32)
    proj = Projection("x", "a", "b", [0, 1], [1, 0], writable, [1.0, 1.0])
    assert proj.weight is not writable
