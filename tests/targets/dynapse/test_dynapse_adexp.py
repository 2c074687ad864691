"""DYNAP-SE's DPI neuron as PyNN's AdExp/EIF cells, and PyNN's receptors on the core's four
synapse circuits: what maps natively is as close to the float reference as the DPI's
discretisation, what only approximates is refused strictly and reported when applied, and
what no circuit carries is refused naming the population, its cores and the fix."""

import numpy as np
import pytest

from toolchain.compiler.pipeline import MappingError
from toolchain.compiler.report import render_report
from toolchain.ir import (
    CellType,
    Network,
    PoissonSource,
    Population,
    PostSynapticResponse,
    Projection,
    Recording,
)
from toolchain.targets import get_target
from toolchain.targets.dynapse.spec import SynapseType

T_STOP = 400.0


def _run(name, net, **options):
    target = get_target(name, **options)
    art = target.compile(net)
    sim = target.simulator(art)
    sim.run_until(T_STOP)
    return art, sim.result()


def _dc(cell, n=3, **params):
    pop = Population("p", cell, n, parameters=params)
    return Network(dt=0.1, populations=(pop,),
                   recordings=(Recording("p", "spikes", np.arange(n)),
                               Recording("p", "w", np.arange(n))), label="dc")


@pytest.mark.parametrize("cell", [CellType.EIF_COND_EXP_ISFA_ISTA, CellType.ADEXP])
def test_adexp_with_a_zero_runs_natively_with_the_reference_rates_and_adaptation(cell):
    # biases are per core: one current per population; b and tau_w are the AHP circuit
    ref_n, dpi_n = [], []
    for i_offset in (1.0, 1.5, 2.0):
        net = _dc(cell, n=1, a=0.0, i_offset=i_offset, b=0.1, tau_w=100.0)
        _, ref = _run("reference", net)
        art, dpi = _run("dynapse", net, mismatch=0.0)
        assert art.fits and not art.approximations
        ref_n.append(ref.spikes["p"].count)
        dpi_n.append(dpi.spikes["p"].count)
    assert min(ref_n) > 10 and np.all(np.diff(ref_n) > 0)
    np.testing.assert_allclose(dpi_n, ref_n, rtol=0.03, atol=1)
    # spike-frequency adaptation: the intervals lengthen, on the chip as in the reference
    isi = np.diff(np.sort(dpi.spikes["p"].times))
    assert isi[-1] > 1.5 * isi[0]
    # w reads back from the AHP current in nA, as the reference's w
    w_ref, w_dpi = ref.signals["p", "w"].values, dpi.signals["p", "w"].values
    assert np.abs(w_dpi[-1] - w_ref[-1]).max() < 0.1 * np.abs(w_ref[-1]).max()


def test_adaptation_b_and_the_exponential_onset_change_the_chip_as_they_change_the_model():
    counts = {}
    for b in (0.0, 0.3):
        for delta_t in (0.5, 4.0):
            net = _dc(CellType.ADEXP, n=1, a=0.0, b=b, delta_T=delta_t, i_offset=1.2)
            _, ref = _run("reference", net)
            _, dpi = _run("dynapse", net, mismatch=0.0)
            counts[b, delta_t] = (ref.spikes["p"].count, dpi.spikes["p"].count)
    for ref_n, dpi_n in counts.values():
        assert abs(dpi_n - ref_n) <= max(1, 0.03 * ref_n)
    assert counts[0.3, 0.5][0] < counts[0.0, 0.5][0] / 2  # b adapts strongly
    assert counts[0.0, 4.0][0] != counts[0.0, 0.5][0]  # delta_T matters


def test_subthreshold_adaptation_is_refused_strictly_and_dropped_when_approximating():
    net = _dc(CellType.EIF_COND_EXP_ISFA_ISTA, a=4.0, i_offset=1.0)
    with pytest.raises(MappingError, match="Population 'p' \\(EIF_cond_exp_isfa_ista\\) "
                                           "parameter a = 4 nS: DYNAP-SE's adaptation "
                                           "\\(AHP\\) circuit is charged by the "
                                           "neuron's output spikes only.*--fit approximate"):
        get_target("dynapse").compile(net)
    art = get_target("dynapse", fit="approximate").compile(net)
    (applied,) = art.approximations
    assert applied.name == "subthreshold_adaptation_dropped" and applied.neurons == 3
    assert float(art.network.populations[0].parameters["a"].max()) == 0.0
    with pytest.raises(MappingError, match="parameter b = -0.1 nA: a negative"):
        get_target("dynapse", fit="approximate").compile(
            _dc(CellType.ADEXP, a=0.0, b=-0.1))


def _driven(pop, receptors, weights, n_in=16, rate=40.0, tau_in=None):
    src = PoissonSource("in", n_in, rate=np.full(n_in, rate), start=np.zeros(n_in),
                        duration=np.full(n_in, np.inf), seed=5)
    pre, post = np.meshgrid(np.arange(n_in), np.arange(pop.size), indexing="ij")
    projs = tuple(Projection(f"in->{r}", "in", pop.label, pre.ravel(), post.ravel(),
                             np.full(pre.size, w), np.full(pre.size, 0.1), receptor=r)
                  for r, w in zip(receptors, weights, strict=True))
    return Network(dt=0.1, populations=(pop,), sources=(src,), projections=projs,
                   recordings=(Recording(pop.label, "spikes", np.arange(pop.size)),),
                   label="driven")


def test_conductances_are_refused_strictly_and_run_at_a_fixed_driving_force_when_asked():
    pop = Population("c", CellType.IF_COND_EXP, 8, parameters={"v_rest": -65.0,
                                                               "v_thresh": -50.0})
    net = _driven(pop, ("excitatory", "inhibitory"), (0.006, 0.004))
    with pytest.raises(MappingError, match="receptor excitatory: its synapses are "
                                           "conductance-based.*fixed driving force"):
        get_target("dynapse").compile(net)
    art, dpi = _run("dynapse", net, fit="approximate", mismatch=0.0)
    (applied,) = art.approximations
    assert applied.name == "conductance_as_current" and applied.label == "c"
    assert "|0 - -57.5| = 57.5 mV" in applied.detail and "|-70 - -57.5| = 12.5" in applied.detail
    mapping = get_target("dynapse", fit="approximate").mapping(net)
    circuits = mapping.circuits["c"]
    assert circuits["excitatory"].type is SynapseType.FAST_EXC
    assert circuits["inhibitory"].type is SynapseType.SLOW_INH
    assert circuits["excitatory"].scale == pytest.approx(57.5)
    # realised weights read back in uS, as the network gives them
    held = mapping.held("in->excitatory").realised_weight
    np.testing.assert_allclose(held, 0.006, rtol=0.02)
    _, ref = _run("reference", net)
    assert ref.spikes["c"].count > 20
    # a current at a fixed driving force does not shunt the leak as a conductance does,
    # and the DPI's floor stops the inhibition's pull below rest: the chip fires more,
    # by less than half again (measured 112 against 72 spikes)
    assert ref.spikes["c"].count < dpi.spikes["c"].count < 1.6 * ref.spikes["c"].count


def test_named_receptors_take_the_fast_and_slow_excitatory_and_the_subtractive_circuits():
    pop = Population("n", CellType.LIF, 6, parameters={"tau_refrac": 2.0}, receptors=(
        PostSynapticResponse("AMPA", "curr_exp", {"tau_syn": 2.0}),
        PostSynapticResponse("NMDA", "curr_exp", {"tau_syn": 50.0}),
        PostSynapticResponse("GABA", "curr_exp", {"tau_syn": 8.0})))
    net = _driven(pop, ("AMPA", "NMDA", "GABA"), (1.0, 0.1, -0.3))
    art, dpi = _run("dynapse", net, mismatch=0.0)
    assert art.fits and not art.approximations
    circuits = get_target("dynapse").mapping(net).circuits["n"]
    assert {k: (c.type, c.tau) for k, c in circuits.items()} == {
        "AMPA": (SynapseType.FAST_EXC, 2.0), "NMDA": (SynapseType.SLOW_EXC, 50.0),
        "GABA": (SynapseType.SLOW_INH, 8.0)}
    assert ("synapse circuits of 'n' (core 0): slow excitatory 50 ms (NMDA); fast "
            "excitatory 2 ms (AMPA); subtractive inhibitory 8 ms (GABA)") in render_report(art)
    _, ref = _run("reference", net)
    assert ref.spikes["n"].count > 20
    assert dpi.spikes["n"].count == pytest.approx(ref.spikes["n"].count, rel=0.15)


def test_more_time_constants_than_circuits_is_refused_naming_the_core_or_merged_when_close():
    def three(tau_c):
        pop = Population("m", CellType.LIF, 4, receptors=tuple(
            PostSynapticResponse(n, "curr_exp", {"tau_syn": t})
            for n, t in (("A", 2.0), ("B", 10.0), ("C", tau_c))))
        return _driven(pop, ("A", "B", "C"), (0.3, 0.3, 0.3))

    with pytest.raises(MappingError, match=r"Population 'm' \(core 0\) needs 3 distinct "
                                           r"excitatory synaptic time constants \(A 2 ms, B 10 "
                                           r"ms, C 10.5 ms\) but a DYNAP-SE core has a fast "
                                           r"and a slow excitatory circuit.*--fit approximate"):
        get_target("dynapse").compile(three(10.5))
    art = get_target("dynapse", fit="approximate").compile(three(10.5))
    (applied,) = art.approximations
    assert applied.name == "time_constants_merged" and "10..10.5 ms" in applied.detail
    circuits = get_target("dynapse", fit="approximate").mapping(three(10.5)).circuits["m"]
    assert circuits["B"].type is circuits["C"].type is SynapseType.SLOW_EXC
    assert circuits["B"].tau == pytest.approx(10.25)
    # too far apart to merge: refused either way, without offering the approximation
    for fit in ("strict", "approximate"):
        with pytest.raises(MappingError, match="needs 3 distinct") as e:
            get_target("dynapse", fit=fit).compile(three(40.0))
        assert "--fit approximate" not in str(e.value)


def test_mixed_sign_weights_on_one_receptor_and_unmappable_cells_are_refused():
    pop = Population("x", CellType.LIF, 2, receptors=(
        PostSynapticResponse("syn", "curr_exp"),))
    net = _driven(pop, ("syn", "syn"), (0.3, -0.3))
    net = net.replace(projections=(net.projections[0], Projection(
        "neg", "in", "x", [0], [0], [-0.2], [0.1], receptor="syn")))
    with pytest.raises(MappingError, match="receptor syn: its projections have weights of "
                                           "both signs"):
        get_target("dynapse").compile(net)
    for cell, why in ((CellType.HH_COND_EXP, "no sodium and potassium"),
                      (CellType.GIF_COND_EXP, "fires stochastically"),
                      (CellType.IF_COND_EXP_GSFA_GRR, "one AHP circuit injects a current"),
                      (CellType.IF_CURR_DELTA, "make the membrane jump")):
        with pytest.raises(MappingError, match=f"DYNAP-SE cannot run {cell.value}: .*{why}"):
            get_target("dynapse", fit="approximate").compile(
                Network(populations=(Population("q", cell, 1),)))
