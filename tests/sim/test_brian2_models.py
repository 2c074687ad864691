"""The models pyNN.brian2 lacks or defines differently from PyNN, against Brian2 directly:
the same equations written as a Brian2 model and run in the same test as the IR on the
reference engine.

Deterministic models (IF_cond_exp_gsfa_grr, EIF_cond_alpha_isfa_ista, a composed LIF with
a CondBeta receptor, GIF_cond_exp with Brian2 drawing the engine's own uniform numbers,
Tsodyks-Markram synapses, every STDP weight dependence, the Vogels2011 rule, STDP with all
of the delay dendritic) must agree in v within a tolerance and spike for spike within one
step.  Stochastic ones (the three stochastic synapses, the gamma, dead-time and
inhomogeneous gamma sources) are compared in distribution with a Brian2 realisation, and
with the analytic distribution where there is one.

``AGREEMENT`` lines (``pytest -s``) give the measured figure of each model for
docs/pynn.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from tests.sim.helpers import DT
from toolchain.ir import (
    ArraySource,
    DCSource,
    GammaSource,
    InhGammaSource,
    MultiQuantal,
    Network,
    PoissonRefractorySource,
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
from toolchain.sim.engine import Engine, stream_seed
from toolchain.sim.kernels import beta_peak_scale
from toolchain.sim.sources import RenewalTrains

b2 = pytest.importorskip("brian2", reason="the Brian2 comparisons need brian2 (extra 'brian2')")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("brian2")]

T_STOP = 100.0
EXC = [5.0, 12.0, 12.3, 30.0, 31.0, 32.0, 55.5, 70.0]
INH = [20.0, 50.0, 52.0]


@pytest.fixture(autouse=True, scope="module")
def numpy_codegen():
    b2.prefs.codegen.target = "numpy"  # the Cython target would compile for ~35 s
    b2.defaultclock.dt = DT * b2.ms


def _inputs(*trains: tuple[list[float], float, float, str]) -> tuple:
    """IR sources and projections onto population 'n' neuron 0."""
    sources, projections = [], []
    for k, (times, weight, delay, receptor) in enumerate(trains):
        sources.append(ArraySource.from_lists(f"in{k}", [times]))
        projections.append(Projection(f"p{k}", f"in{k}", "n", [0], [0], [weight], [delay],
                                      receptor))
    return tuple(sources), tuple(projections)


def _run(net: Network, t_stop: float = T_STOP) -> Engine:
    sim = Engine(net)
    sim.run_until(t_stop)
    return sim


def _brian2_inputs(group: object, trains: list, on_pre: dict[str, str]) -> list:
    """SpikeGeneratorGroups and Synapses onto ``group`` neuron 0, one per train; on_pre
    maps a receptor to its code (``ws`` is the weight)."""
    objects = []
    for times, weight, delay, receptor in trains:
        gen = b2.SpikeGeneratorGroup(1, np.zeros(len(times), int), np.asarray(times) * b2.ms)
        syn = b2.Synapses(gen, group, "ws : 1", on_pre=on_pre[receptor])
        syn.connect(i=0, j=0)
        syn.ws = weight
        syn.delay = delay * b2.ms
        objects += [gen, syn]
    return objects


def _dc(amplitude: float, start: float, stop: float) -> object:
    steps = np.arange(int(round(T_STOP / DT)) + 1)
    values = np.where((steps >= round(start / DT)) & (steps < round(stop / DT)), amplitude, 0.0)
    return b2.TimedArray(values * b2.nA, dt=DT * b2.ms)


def _report(name: str, v: np.ndarray, v_ref: np.ndarray, spikes: np.ndarray,
            spikes_ref: np.ndarray, v_tol: float) -> None:
    assert v.shape == v_ref.shape
    assert spikes_ref.size >= 2, "the scenario should make the neuron fire"
    assert spikes.size == spikes_ref.size, f"spikes: ours {spikes}, Brian2 {spikes_ref}"
    dv = float(np.max(np.abs(v - v_ref)))
    dt = float(np.max(np.abs(spikes - spikes_ref)))
    print(f"AGREEMENT {name} (Brian2): max |dv| = {dv:.2e} mV, {spikes.size} spikes, "
          f"max |dt| = {dt:.3g} ms")
    assert dt <= DT * (1 + 1e-9)
    assert dv <= v_tol


def _brian2_run(group: object, *objects: object, variables: tuple[str, ...] = ("v",),
                namespace: dict | None = None, t_stop: float = T_STOP) -> tuple:
    mon = b2.StateMonitor(group, list(variables), record=0)
    spikes = b2.SpikeMonitor(group)
    net = b2.Network(group, mon, spikes, *objects)
    net.run(t_stop * b2.ms, namespace=namespace or {})
    traces = {name: getattr(mon, name)[0] for name in variables}
    return traces, np.asarray(spikes.t / b2.ms)


def _ours(sim: Engine, variable: str = "v") -> np.ndarray:
    """The engine samples at 0, dt, ..., T; Brian2's StateMonitor at 0 .. T - dt."""
    return sim.result().signals[("n", variable)].values[:-1, 0]


# --------------------------------------------------------------------------- neurons


def test_if_cond_exp_gsfa_grr():
    p = {"cm": 0.5, "tau_m": 15.0, "v_rest": -65.0, "v_reset": -68.0, "v_thresh": -52.0,
         "tau_refrac": 2.0, "tau_syn_E": 3.0, "tau_syn_I": 6.0, "e_rev_E": 0.0,
         "e_rev_I": -75.0, "tau_sfa": 100.0, "e_rev_sfa": -75.0, "q_sfa": 15.0,
         "tau_rr": 2.0, "e_rev_rr": -75.0, "q_rr": 300.0}
    trains = [(EXC, 0.05, 1.0, "excitatory"), (INH, 0.05, 2.0, "inhibitory")]
    sources, projections = _inputs(*trains)
    net = Network(populations=(Population("n", "IF_cond_exp_gsfa_grr", 1, p),),
                  sources=sources, projections=projections,
                  currents=(DCSource("dc", "n", [0], 1.2, 10.0, 90.0),),
                  recordings=(Recording("n", "spikes", [0]), Recording("n", "v", [0]),
                              Recording("n", "g_s", [0])))
    sim = _run(net)
    eqs = """
    dv/dt = (c_m/tau_m*(v_rest - v) + g_s*(e_sfa - v) + g_r*(e_rr - v)
             + ge*(e_e - v) + gi*(e_i - v) + I(t))/c_m : volt (unless refractory)
    dg_s/dt = -g_s/tau_sfa : siemens
    dg_r/dt = -g_r/tau_rr : siemens
    dge/dt = -ge/tau_e : siemens
    dgi/dt = -gi/tau_i : siemens
    """
    ns = {"c_m": p["cm"] * b2.nF, "tau_m": p["tau_m"] * b2.ms, "v_rest": p["v_rest"] * b2.mV,
          "e_sfa": p["e_rev_sfa"] * b2.mV, "e_rr": p["e_rev_rr"] * b2.mV,
          "e_e": 0 * b2.mV, "e_i": p["e_rev_I"] * b2.mV, "tau_sfa": p["tau_sfa"] * b2.ms,
          "tau_rr": p["tau_rr"] * b2.ms, "tau_e": p["tau_syn_E"] * b2.ms,
          "tau_i": p["tau_syn_I"] * b2.ms, "I": _dc(1.2, 10.0, 90.0),
          "v_thresh": p["v_thresh"] * b2.mV, "v_reset": p["v_reset"] * b2.mV,
          "q_s": p["q_sfa"] * b2.nS, "q_r": p["q_rr"] * b2.nS}
    group = b2.NeuronGroup(1, eqs, threshold="v > v_thresh",
                           reset="v = v_reset; g_s += q_s; g_r += q_r",
                           refractory=p["tau_refrac"] * b2.ms, method="rk2", namespace=ns)
    group.v = p["v_rest"] * b2.mV
    objs = _brian2_inputs(group, trains, {"excitatory": "ge_post += ws*uS",
                                          "inhibitory": "gi_post += ws*uS"})
    traces, spikes_ref = _brian2_run(group, *objs, variables=("v", "g_s"))
    _report("IF_cond_exp_gsfa_grr", _ours(sim), traces["v"] / b2.mV,
            sim.result().spikes["n"].times, spikes_ref, v_tol=1e-6)
    np.testing.assert_allclose(_ours(sim, "g_s"), traces["g_s"] / b2.nS, atol=1e-9)


def test_eif_cond_alpha_isfa_ista():
    p = {"cm": 0.281, "tau_m": 9.3667, "v_rest": -70.6, "v_reset": -60.0, "v_thresh": -50.4,
         "delta_T": 2.0, "a": 4.0, "b": 0.0805, "tau_w": 144.0, "tau_refrac": 2.0,
         "v_spike": -30.0, "tau_syn_E": 1.0, "tau_syn_I": 3.0}
    trains = [(EXC, 0.02, 1.0, "excitatory"), (INH, 0.02, 2.0, "inhibitory")]
    sources, projections = _inputs(*trains)
    net = Network(populations=(Population("n", "EIF_cond_alpha_isfa_ista", 1, p),),
                  sources=sources, projections=projections,
                  currents=(DCSource("dc", "n", [0], 0.8, 10.0, 90.0),),
                  recordings=(Recording("n", "spikes", [0]), Recording("n", "v", [0]),
                              Recording("n", "w", [0])))
    sim = _run(net)
    eqs = """
    dv/dt = (gL*(v_rest - v) + gL*delta_T*exp((v - v_thresh)/delta_T)
             + ge*(e_e - v) + gi*(e_i - v) + I(t) - w)/c_m : volt (unless refractory)
    dw/dt = (a*(v - v_rest) - w)/tau_w : amp
    dge/dt = (exp(1)*ye - ge)/tau_e : siemens
    dye/dt = -ye/tau_e : siemens
    dgi/dt = (exp(1)*yi - gi)/tau_i : siemens
    dyi/dt = -yi/tau_i : siemens
    """
    ns = {"c_m": p["cm"] * b2.nF, "gL": p["cm"] / p["tau_m"] * b2.uS,
          "v_rest": p["v_rest"] * b2.mV, "v_thresh": p["v_thresh"] * b2.mV,
          "delta_T": p["delta_T"] * b2.mV, "a": p["a"] * b2.nS, "tau_w": p["tau_w"] * b2.ms,
          "e_e": 0 * b2.mV, "e_i": -80 * b2.mV, "tau_e": p["tau_syn_E"] * b2.ms,
          "tau_i": p["tau_syn_I"] * b2.ms, "I": _dc(0.8, 10.0, 90.0),
          "v_spike": p["v_spike"] * b2.mV, "v_reset": p["v_reset"] * b2.mV,
          "b": p["b"] * b2.nA}
    group = b2.NeuronGroup(1, eqs, threshold="v > v_spike", reset="v = v_reset; w += b",
                           refractory=p["tau_refrac"] * b2.ms, method="rk2", namespace=ns)
    group.v = p["v_rest"] * b2.mV
    objs = _brian2_inputs(group, trains, {"excitatory": "ye_post += ws*uS",
                                          "inhibitory": "yi_post += ws*uS"})
    traces, spikes_ref = _brian2_run(group, *objs, variables=("v", "w"))
    _report("EIF_cond_alpha_isfa_ista", _ours(sim), traces["v"] / b2.mV,
            sim.result().spikes["n"].times, spikes_ref, v_tol=1e-5)
    np.testing.assert_allclose(_ours(sim, "w"), traces["w"] / b2.nA, atol=1e-9)


def test_composed_lif_with_a_beta_receptor():
    lif = {"cm": 0.5, "tau_m": 15.0, "v_rest": -65.0, "v_reset": -68.0, "v_thresh": -55.0,
           "tau_refrac": 2.0}
    rise, decay = 1.0, 8.0
    receptors = (PostSynapticResponse("NMDA", "cond_beta", {"tau_rise": rise,
                                                             "tau_decay": decay}),
                 PostSynapticResponse("GABA", "cond_exp", {"tau_syn": 4.0, "e_syn": -75.0}))
    trains = [(EXC, 0.03, 1.0, "NMDA"), (INH, 0.05, 2.0, "GABA")]
    sources, projections = _inputs(*trains)
    net = Network(populations=(Population("n", "LIF", 1, lif, receptors=receptors),),
                  sources=sources, projections=projections,
                  currents=(DCSource("dc", "n", [0], 0.4, 10.0, 90.0),),
                  recordings=(Recording("n", "spikes", [0]), Recording("n", "v", [0]),
                              Recording("n", "NMDA.gsyn", [0])))
    sim = _run(net)
    gsyn = sim.result().signals[("n", "NMDA.gsyn")].values[:, 0]
    # one input's conductance peaks at its weight (0.03 uS), t_peak after it arrives
    t_peak = decay * rise / (decay - rise) * np.log(decay / rise)
    first = int(round((EXC[0] + 1.0) / DT)) + 1
    k = first + int(round(t_peak / DT))
    assert gsyn[first - 1] == 0 and abs(gsyn[k - 2:k + 3].max() - 0.03) < 1e-3
    eqs = """
    dv/dt = (c_m/tau_m*(v_rest - v) + (gd - gr)*(e_nmda - v) + gg*(e_gaba - v) + I(t))/c_m
        : volt (unless refractory)
    dgd/dt = -gd/tau_decay : siemens
    dgr/dt = -gr/tau_rise : siemens
    dgg/dt = -gg/tau_gaba : siemens
    """
    ns = {"c_m": lif["cm"] * b2.nF, "tau_m": lif["tau_m"] * b2.ms,
          "v_rest": lif["v_rest"] * b2.mV, "e_nmda": 0 * b2.mV, "e_gaba": -75 * b2.mV,
          "tau_decay": decay * b2.ms, "tau_rise": rise * b2.ms, "tau_gaba": 4.0 * b2.ms,
          "I": _dc(0.4, 10.0, 90.0), "v_thresh": lif["v_thresh"] * b2.mV,
          "v_reset": lif["v_reset"] * b2.mV, "scale": float(beta_peak_scale(rise, decay))}
    group = b2.NeuronGroup(1, eqs, threshold="v > v_thresh", reset="v = v_reset",
                           refractory=lif["tau_refrac"] * b2.ms, method="euler", namespace=ns)
    group.v = lif["v_rest"] * b2.mV
    objs = _brian2_inputs(group, trains, {"NMDA": "gd_post += ws*scale*uS; "
                                                  "gr_post += ws*scale*uS",
                                          "GABA": "gg_post += ws*uS"})
    traces, spikes_ref = _brian2_run(group, *objs, namespace=ns)
    _report("PointNeuron LIF + CondBeta", _ours(sim), traces["v"] / b2.mV,
            sim.result().spikes["n"].times, spikes_ref, v_tol=1e-6)


def test_gif_cond_exp_with_the_same_random_numbers():
    """Brian2 fires on the engine's own uniform draws (a TimedArray of its stream), so
    the escape noise is compared spike for spike, not in distribution."""
    p = {"cm": 0.5, "tau_m": 15.0, "v_rest": -65.0, "v_reset": -60.0, "tau_refrac": 3.0,
         "tau_syn_E": 3.0, "tau_syn_I": 6.0, "e_rev_E": 0.0, "e_rev_I": -75.0,
         "delta_v": 1.0, "v_t_star": -52.0, "lambda0": 50.0,
         "tau_eta": [2.0, 20.0, 80.0], "a_eta": [0.05, 0.03, 0.01],
         "tau_gamma": [5.0, 30.0, 100.0], "a_gamma": [2.0, 1.0, 0.5]}
    size = 8
    net = Network(populations=(Population("n", "GIF_cond_exp", size, p),),
                  sources=(ArraySource.from_lists("in", [EXC]),),
                  projections=(Projection("p", "in", "n", np.zeros(size), np.arange(size),
                                          np.full(size, 0.02), np.full(size, 1.0)),),
                  currents=(DCSource("dc", "n", np.arange(size), 0.45, 5.0, 95.0),),
                  recordings=(Recording("n", "spikes", np.arange(size)),
                              Recording("n", "v", np.arange(size)),
                              Recording("n", "v_t", np.arange(size)),
                              Recording("n", "i_eta", np.arange(size))))
    sim = _run(net)
    steps = int(round(T_STOP / DT)) + 2
    draws = np.random.default_rng(stream_seed(net.seed, "n")).random((steps, size))
    eqs = """
    dv/dt = (c_m/tau_m*(v_rest - v) - i_eta + ge*(e_e - v) + gi*(e_i - v) + I(t))/c_m
        : volt (unless refractory)
    dge/dt = -ge/tau_e : siemens
    dgi/dt = -gi/tau_i : siemens
    eta1 : amp
    eta2 : amp
    eta3 : amp
    gamma1 : volt
    gamma2 : volt
    gamma3 : volt
    i_eta = eta1 + eta2 + eta3 : amp
    v_t = v_t_star + gamma1 + gamma2 + gamma3 : volt
    """
    ns = {"c_m": p["cm"] * b2.nF, "tau_m": p["tau_m"] * b2.ms, "v_rest": p["v_rest"] * b2.mV,
          "e_e": 0 * b2.mV, "e_i": -75 * b2.mV, "tau_e": 3 * b2.ms, "tau_i": 6 * b2.ms,
          "I": _dc(0.45, 5.0, 95.0), "v_t_star": p["v_t_star"] * b2.mV,
          "delta_v": p["delta_v"] * b2.mV, "lambda0": p["lambda0"] * b2.Hz,
          "uniform": b2.TimedArray(draws, dt=DT * b2.ms), "v_reset": p["v_reset"] * b2.mV}
    decay = "; ".join(f"eta{k + 1} *= {float(np.exp(-DT / p['tau_eta'][k]))!r}; "
                      f"gamma{k + 1} *= {float(np.exp(-DT / p['tau_gamma'][k]))!r}"
                      for k in range(3))
    reset = "; ".join(["v = v_reset"] + [
        f"eta{k + 1} += {p['a_eta'][k]!r}*nA; gamma{k + 1} += {p['a_gamma'][k]!r}*mV"
        for k in range(3)])
    group = b2.NeuronGroup(
        size, eqs, threshold="uniform(t, i) < -expm1(-lambda0*exp((v - v_t)/delta_v)*dt)",
        reset=reset, refractory=p["tau_refrac"] * b2.ms, method="euler", namespace=ns)
    group.v = p["v_rest"] * b2.mV
    # the kernels decay after the threshold test and before the reset adds to them
    group.run_regularly(decay, when="after_thresholds")
    syn = b2.Synapses(b2.SpikeGeneratorGroup(1, np.zeros(len(EXC), int),
                                             np.asarray(EXC) * b2.ms), group, "ws : 1",
                      on_pre="ge_post += ws*uS")
    syn.connect(i=0, j=np.arange(size))
    syn.ws, syn.delay = 0.02, 1.0 * b2.ms
    mon = b2.StateMonitor(group, ["v", "v_t", "i_eta"], record=True)
    spikes = b2.SpikeMonitor(group)
    b2.Network(group, syn, syn.source, mon, spikes).run(T_STOP * b2.ms, namespace=ns)
    res = sim.result()
    ours = res.spikes["n"]
    assert ours.count >= 2 * size  # every neuron fires a few times
    for i in range(size):
        np.testing.assert_allclose(ours.trains()[i], spikes.spike_trains()[i] / b2.ms,
                                   atol=DT * 1e-6)
    v = res.signals[("n", "v")].values[:-1]
    dv = float(np.max(np.abs(v - mon.v.T / b2.mV)))
    print(f"AGREEMENT GIF_cond_exp (Brian2, same draws): max |dv| = {dv:.2e} mV, "
          f"{ours.count} spikes, spike times equal")
    assert dv <= 1e-6
    np.testing.assert_allclose(res.signals[("n", "v_t")].values[:-1], mon.v_t.T / b2.mV,
                               atol=1e-9)
    np.testing.assert_allclose(res.signals[("n", "i_eta")].values[:-1], mon.i_eta.T / b2.nA,
                               atol=1e-9)


# --------------------------------------------------------------------------- synapses


TM_TRAIN = [5.0, 10.0, 15.0, 20.0, 25.0, 45.0, 46.0, 47.0, 80.0]
TM_CASES = {"depressing": (0.5, 100.0, 0.0), "facilitating": (0.1, 50.0, 200.0)}


def test_tsodyks_markram_three_state_model():
    post = {"tau_m": 20.0, "cm": 1.0, "tau_syn_E": 3.0, "v_thresh": 100.0}
    pops, sources, projections, recordings = [], [], [], []
    for k, (name, (use, rec, fac)) in enumerate(TM_CASES.items()):
        pops.append(Population(name, "IF_curr_exp", 1, post))
        sources.append(ArraySource.from_lists(f"in{k}", [TM_TRAIN]))
        projections.append(Projection(f"tm{k}", f"in{k}", name, [0], [0], [2.0], [1.0],
                                      dynamics=TsodyksMarkram(use, rec, fac)))
        recordings.append(Recording(name, "isyn_exc", [0]))
    sim = _run(Network(populations=tuple(pops), sources=tuple(sources),
                       projections=tuple(projections), recordings=tuple(recordings)))
    for name, (use, rec, fac) in TM_CASES.items():
        group = b2.NeuronGroup(1, "die/dt = -ie/tau_syn : amp", method="exact",
                               namespace={"tau_syn": 3.0 * b2.ms})
        gen = b2.SpikeGeneratorGroup(1, np.zeros(len(TM_TRAIN), int),
                                     np.asarray(TM_TRAIN) * b2.ms)
        syn = b2.Synapses(gen, group, """
            x : 1
            y : 1
            u : 1
            tlast : second
            """, on_pre="""
            p_yy = exp(-(t - tlast)/tau_syn)
            p_zz = exp(-(t - tlast)/tau_rec)
            z = (1 - x - y)*p_zz + y*(p_yy - p_zz)/(tau_syn/tau_rec - 1)
            y = y*p_yy
            x = 1 - y - z
            u = u*exp(-(t - tlast)/tau_facil)*facilitating
            u = u + U*(1 - u)
            ie_post += weight*u*x
            y = y + u*x
            x = x - u*x
            tlast = t
            """, namespace={"tau_syn": 3.0 * b2.ms, "tau_rec": rec * b2.ms,
                            "tau_facil": max(fac, 1e-9) * b2.ms, "U": use,
                            "facilitating": float(fac > 0), "weight": 2.0 * b2.nA})
        syn.connect(i=0, j=0)
        syn.x, syn.tlast, syn.delay = 1.0, -1e9 * b2.ms, 1.0 * b2.ms
        mon = b2.StateMonitor(group, "ie", record=0)
        b2.Network(group, gen, syn, mon).run(T_STOP * b2.ms)
        ours = sim.result().signals[(name, "isyn_exc")].values[:-1, 0]
        theirs = mon.ie[0] / b2.nA
        di = float(np.max(np.abs(ours - theirs)))
        print(f"AGREEMENT TsodyksMarkramSynapse {name} (Brian2): max |di| = {di:.2e} nA")
        assert theirs.max() > 0.3 and di <= 1e-6


STOCHASTIC_TRAIN = [5.0 + 25.0 * k for k in range(8)]
N_SYN = 500


def _efficacies_ours(dynamics: object) -> np.ndarray:
    """(spike, synapse) fractions of the weight delivered, read off the jumps of isyn."""
    post = Population("post", "IF_curr_exp", N_SYN, {"tau_syn_E": 1e-3 * 5, "v_thresh": 100.0})
    net = Network(populations=(post,), sources=(ArraySource.from_lists("in",
                                                                       [STOCHASTIC_TRAIN]),),
                  projections=(Projection("s", "in", "post", np.zeros(N_SYN), np.arange(N_SYN),
                                          np.ones(N_SYN), np.full(N_SYN, 1.0),
                                          dynamics=dynamics),),
                  recordings=(Recording("post", "isyn_exc", np.arange(N_SYN)),))
    rec = _run(net, 210.0).result().signals[("post", "isyn_exc")]
    arrive = [int(round((t + 1.0) / DT)) + 1 for t in STOCHASTIC_TRAIN]
    return rec.values[arrive]


def _efficacies_brian2(model: str, on_pre: str, init: dict[str, object],
                       namespace: dict) -> np.ndarray:
    group = b2.NeuronGroup(N_SYN, "ie : 1")  # each spike's delivery, not decayed
    gen = b2.SpikeGeneratorGroup(1, np.zeros(len(STOCHASTIC_TRAIN), int),
                                 np.asarray(STOCHASTIC_TRAIN) * b2.ms)
    syn = b2.Synapses(gen, group, model, on_pre="ie_post = 0\n" + on_pre, namespace=namespace)
    syn.connect(i=0, j=np.arange(N_SYN))
    syn.delay = 1.0 * b2.ms
    for name, value in init.items():
        setattr(syn, name, value)
    mon = b2.StateMonitor(group, "ie", record=True)
    b2.Network(group, gen, syn, mon).run(210.0 * b2.ms)
    arrive = [int(round((t + 1.0) / DT)) + 1 for t in STOCHASTIC_TRAIN]
    return mon.ie[:, arrive].T


def _compare_in_distribution(name: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    """Per spike of the train, the mean delivered fraction over N_SYN synapses: a two-sample
    z score below 4 for every spike (and a meaningful release rate)."""
    m, m_ref = ours.mean(axis=1), theirs.mean(axis=1)
    se = np.sqrt(ours.var(axis=1) / N_SYN + theirs.var(axis=1) / N_SYN + 1e-12)
    z = np.abs(m - m_ref) / se
    print(f"AGREEMENT {name} (Brian2): mean release per spike {np.round(m, 3).tolist()} vs "
          f"{np.round(m_ref, 3).tolist()}, max |z| = {z.max():.2f} over {N_SYN} synapses")
    assert 0.05 < m.mean() < 0.95
    assert z.max() < 4.0


def test_simple_stochastic_synapse_in_distribution():
    ours = _efficacies_ours(SimpleStochastic(0.3))
    theirs = _efficacies_brian2("", "ie_post = int(rand() < p)", {}, {"p": 0.3})
    _compare_in_distribution("SimpleStochasticSynapse", ours, theirs)


def test_stochastic_tsodyks_markram_in_distribution():
    use, rec, fac = 0.4, 60.0, 100.0
    ours = _efficacies_ours(StochasticTsodyksMarkram(use, rec, fac))
    theirs = _efficacies_brian2("""
        u : 1
        full : 1
        since : second
        tlast : second
        """, """
        u = u*exp(-(t - tlast)/tau_facil)
        u = u + U*(1 - u)
        tlast = t
        refill = int(rand() > exp(-(t - since)/tau_rec))
        since = since + (t - since)*(1 - full)*(1 - refill)
        full = full + (1 - full)*refill
        release = full*int(rand() < u)
        ie_post = release
        full = full - release
        since = since + (t - since)*release
        """, {"full": 1.0, "tlast": -1e9 * b2.ms},
        {"U": use, "tau_rec": rec * b2.ms, "tau_facil": fac * b2.ms})
    _compare_in_distribution("StochasticTsodyksMarkramSynapse", ours, theirs)


def test_multi_quantal_synapse_in_distribution():
    use, rec, n = 0.5, 50.0, 4
    ours = _efficacies_ours(MultiQuantal(use, n, rec, 0.0))
    sites = "\n".join(f"s{k} : 1" for k in range(n))
    refill = "\n".join(f"s{k} = s{k} + (1 - s{k})*int(rand() < 1 - exp(-(t - tlast)/tau_rec))"
                       for k in range(n))
    release = "\n".join(f"r{k} = s{k}*int(rand() < U)\ns{k} = s{k} - r{k}" for k in range(n))
    theirs = _efficacies_brian2(sites + "\ntlast : second", "\n".join([
        refill, release, "ie_post = (" + " + ".join(f"r{k}" for k in range(n)) + f")/{n}",
        "tlast = t"]), {**{f"s{k}": 1.0 for k in range(n)}, "tlast": -1e9 * b2.ms},
        {"U": use, "tau_rec": rec * b2.ms})
    _compare_in_distribution("MultiQuantalSynapse", ours, theirs)


# --------------------------------------------------------------------------- plasticity


STDP_PRE = [[10.0], [44.0], [48.9], [49.2], [50.3], [55.0, 57.0], [70.0], [30.0, 46.0, 79.5],
            [81.0, 83.0]]
STDP_TEACHER = [50.0, 80.0]
STDP_POST = {"tau_refrac": 5.0, "v_thresh": -60.0, "tau_syn_E": 0.5}
W0, DELAY = 0.02, 1.0
RULES = {
    "multiplicative": STDPRule(15.0, 25.0, 0.2, 0.3, 0.0, 0.05, "multiplicative"),
    "additive-potentiation-multiplicative-depression": STDPRule(
        15.0, 25.0, 0.2, 0.3, 0.005, 0.05, "additive-potentiation-multiplicative-depression"),
    "gutig": STDPRule(15.0, 25.0, 0.2, 0.3, 0.0, 0.05, "gutig", mu_plus=0.4, mu_minus=0.7),
    "additive, dendritic delay": STDPRule(15.0, 25.0, 0.02, 0.03, 0.0, 0.05,
                                          dendritic_delay_fraction=1.0),
    "Vogels2011": Vogels2011Rule(tau=20.0, eta=0.005, rho=10.0, w_min=0.0, w_max=0.05),
}


def _stdp_ours(rule: object) -> tuple[np.ndarray, np.ndarray]:
    n = len(STDP_PRE)
    net = Network(
        populations=(Population("post", "IF_curr_exp", 1, STDP_POST),),
        sources=(ArraySource.from_lists("pre", STDP_PRE),
                 ArraySource.from_lists("teacher", [STDP_TEACHER])),
        projections=(Projection("stdp", "pre", "post", np.arange(n), np.zeros(n),
                                np.full(n, W0), np.full(n, DELAY), plasticity=rule),
                     Projection("drive", "teacher", "post", [0], [0], [20.0], [DT])),
        recordings=(Recording("post", "spikes", [0]),))
    res = _run(net).result()
    return res.weights["stdp"], res.spikes["post"].times


def _stdp_brian2(rule: object) -> tuple[np.ndarray, np.ndarray]:
    post = b2.NeuronGroup(1, """
        dv/dt = (v_rest - v)/tau_m + ie/c_m : volt (unless refractory)
        die/dt = -ie/tau_syn : amp
        """, threshold="v > v_thresh", reset="v = v_reset", refractory=5 * b2.ms,
        method="exact", namespace={"v_rest": -65 * b2.mV, "tau_m": 20 * b2.ms,
                                   "c_m": 1 * b2.nF, "tau_syn": 0.5 * b2.ms,
                                   "v_thresh": -60 * b2.mV, "v_reset": -65 * b2.mV})
    post.v = -65 * b2.mV
    idx = np.concatenate([[k] * len(t) for k, t in enumerate(STDP_PRE)])
    pre = b2.SpikeGeneratorGroup(len(STDP_PRE), idx, np.concatenate(STDP_PRE) * b2.ms)
    teacher = b2.SpikeGeneratorGroup(1, [0, 0], np.asarray(STDP_TEACHER) * b2.ms)
    drive = b2.Synapses(teacher, post, on_pre="ie_post += 20*nA")
    drive.connect()
    drive.delay = DT * b2.ms
    model = """
        w : 1
        sent : 1
        dx/dt = -x/tau_pre : 1 (event-driven)
        dy/dt = -y/tau_post : 1 (event-driven)
        """
    if isinstance(rule, Vogels2011Rule):
        depress = "w = clip(w + eta*(y - alpha), w_min, w_max)\nx += 1"
        potentiate = "w = clip(w + eta*x, w_min, w_max)\ny += 1"
        ns = {"tau_pre": rule.tau * b2.ms, "tau_post": rule.tau * b2.ms, "eta": rule.eta,
              "alpha": rule.alpha, "w_min": rule.w_min, "w_max": rule.w_max}
    else:
        mu_plus, mu_minus = rule.exponents
        depress = ("x += 1\nw = clip(w - A_minus*w_max**(1 - mu_minus)"
                   "*clip(w - w_min, 0, inf)**mu_minus*y, w_min, inf)")
        potentiate = ("y += 1\nw = clip(w + A_plus*w_max**(1 - mu_plus)"
                      "*clip(w_max - w, 0, inf)**mu_plus*x, -inf, w_max)")
        ns = {"tau_pre": rule.tau_plus * b2.ms, "tau_post": rule.tau_minus * b2.ms,
              "A_plus": rule.A_plus, "A_minus": rule.A_minus, "w_min": rule.w_min,
              "w_max": rule.w_max, "mu_plus": mu_plus, "mu_minus": mu_minus}
    dendritic = rule.dendritic_delay_fraction == 1.0
    on_pre = ({"learn": depress + "\nsent = w", "deliver": "ie_post += sent*nA"}
              if dendritic else depress + "\nie_post += w*nA")
    syn = b2.Synapses(pre, post, model, on_pre=on_pre, on_post=potentiate, namespace=ns)
    syn.connect(i=np.arange(len(STDP_PRE)), j=0)
    syn.w = float(np.float32(W0))  # the IR stores float32 weights
    if dendritic:  # the synapse sees the pre spike at once, the post spike after the delay
        syn.learn.delay, syn.deliver.delay, syn.post.delay = 0 * b2.ms, DELAY * b2.ms, \
            DELAY * b2.ms
        syn.learn.order, syn.deliver.order, syn.post.order = -2, -1, 1
    else:
        syn.delay = DELAY * b2.ms
    spikes = b2.SpikeMonitor(post)
    b2.Network(post, pre, teacher, drive, syn, spikes).run(T_STOP * b2.ms)
    return np.asarray(syn.w[:]), np.asarray(spikes.t / b2.ms)


@pytest.mark.parametrize("name", list(RULES))
def test_stdp_rule_agrees_with_brian2(name: str) -> None:
    rule = RULES[name]
    w, post = _stdp_ours(rule)
    w_ref, post_ref = _stdp_brian2(rule)
    np.testing.assert_allclose(post, post_ref, atol=1e-9)
    assert post_ref.size == 2
    assert np.count_nonzero(np.abs(w_ref - np.float32(W0)) > 1e-6) >= 6  # most synapses learnt
    dw = float(np.max(np.abs(w - w_ref)))
    print(f"AGREEMENT STDP {name} (Brian2): max |dw| = {dw:.2e} (w_max {rule.w_max:g})")
    assert dw <= 1e-9 * rule.w_max


# --------------------------------------------------------------------------- sources


def _step_probability(survival: object, t_stop: float) -> object:
    """A renewal process in discrete time, exactly: the probability that a train whose last
    spike was ``age`` ago fires in the next step, 1 - S(age + dt) / S(age), as a table over
    the age (a TimedArray indexed by it)."""
    age = np.arange(int(round(t_stop / DT)) + 2) * DT
    s0, s1 = survival(age), survival(age + DT)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(s0 > 0, 1.0 - s1 / s0, 1.0)
    return b2.TimedArray(np.clip(p, 0.0, 1.0), dt=DT * b2.ms)


def _brian2_renewal_trains(size: int, condition: str, tables: dict, t_stop: float,
                           seed: int) -> list:
    """Spike trains of renewal processes run by Brian2: a neuron fires when ``condition``
    (in terms of the age t - lastspike) holds for a uniform draw."""
    b2.seed(seed)
    group = b2.NeuronGroup(size, "", threshold=condition, refractory=0 * b2.ms,
                           namespace=tables)
    group.lastspike = 0 * b2.ms  # every train starts at t = 0 (an ordinary renewal)
    mon = b2.SpikeMonitor(group)
    b2.Network(group, mon).run(t_stop * b2.ms)
    return [np.asarray(mon.spike_trains()[i] / b2.ms) for i in range(size)]


def _isis(trains: list) -> np.ndarray:
    return np.concatenate([np.diff(t) for t in trains])


def _source_trains(source: object, t_stop: float) -> list:
    net = Network(sources=(source,), recordings=(Recording(source.label, "spikes",
                                                           np.arange(source.size)),))
    return _run(net, t_stop).result().spikes[source.label].trains()


def _continuous_isis(source: object, t_stop: float) -> np.ndarray:
    """Intervals of the realisation itself, before spikes are binned into steps."""
    trains = RenewalTrains(source, network_seed=0)
    parts = [trains.window(w) for w in range(int(np.ceil(t_stop / trains.window_ms)))]
    times = np.concatenate([p[0] for p in parts])
    senders = np.concatenate([p[1] for p in parts])
    return _isis([np.sort(times[senders == i]) for i in range(source.size)])


def _ks_agreement(name: str, ours: np.ndarray, theirs: np.ndarray, long: np.ndarray,
                  analytic: object) -> None:
    """Two-sample KS against Brian2's realisation (same window and steps, so the same bias
    towards short intervals a finite window has), and KS of a 40 times longer realisation
    of ours, its continuous spike times, against the analytic law."""
    d_peer, p_peer = stats.ks_2samp(ours, theirs)
    d_true, p_true = stats.kstest(long, analytic)
    print(f"AGREEMENT {name} (Brian2): ISI two-sample KS D = {d_peer:.3f} (p = {p_peer:.2f}) "
          f"over {ours.size} and {theirs.size} intervals; {long.size} intervals vs the analytic "
          f"law D = {d_true:.4f} (p = {p_true:.2f})")
    assert p_peer > 1e-3 and p_true > 1e-3


def test_gamma_source_in_distribution():
    alpha, beta, size, t_stop = 3.0, 150.0, 40, 2500.0
    ours = _isis(_source_trains(GammaSource("g", size, alpha=alpha, beta=beta, start=0.0,
                                            duration=np.inf, seed=1), t_stop))
    law = stats.gamma(alpha, scale=1000.0 / beta)
    table = _step_probability(law.sf, t_stop)
    theirs = _isis(_brian2_renewal_trains(size, "rand() < p(t - lastspike)", {"p": table},
                                          t_stop, 2))
    long = _continuous_isis(GammaSource("g", size, alpha=alpha, beta=beta, start=0.0,
                                        duration=np.inf, seed=1), 40 * t_stop)
    _ks_agreement("SpikeSourceGamma", ours, theirs, long, law.cdf)


def test_poisson_refractory_source_in_distribution():
    rate, dead, size, t_stop = 80.0, 4.0, 40, 2500.0
    ours = _isis(_source_trains(PoissonRefractorySource("r", size, rate=rate, tau_refrac=dead,
                                                        start=0.0, duration=np.inf, seed=1),
                                t_stop))
    law = stats.expon(loc=dead, scale=1000.0 / rate - dead)
    table = _step_probability(law.sf, t_stop)
    theirs = _isis(_brian2_renewal_trains(size, "rand() < p(t - lastspike)", {"p": table},
                                          t_stop, 3))
    long = _continuous_isis(PoissonRefractorySource(
        "r", size, rate=rate, tau_refrac=dead, start=0.0, duration=np.inf, seed=1),
        40 * t_stop)
    _ks_agreement("SpikeSourcePoissonRefractory", ours, theirs, long, law.cdf)


def test_inh_gamma_source_follows_its_time_varying_rate():
    """A gamma process whose shape and scale switch at 300 ms: the counts per 50 ms bin
    over 200 trains, ours against a Brian2 realisation of the same hazard."""
    size, t_stop = 200, 600.0
    a, b, tbins = [2.0, 4.0], [0.02, 0.005], [0.0, 300.0]  # 25 Hz, then 50 Hz
    src = InhGammaSource("ig", size, a=np.tile(a, size), b=np.tile(b, size),
                         tbins=np.tile(tbins, size), offsets=np.arange(0, 2 * size + 1, 2),
                         start=0.0, duration=np.inf, seed=4)
    ours = np.concatenate(_source_trains(src, t_stop))
    tables = {f"p{k}": _step_probability(
        lambda age, k=k: special.gammaincc(a[k], age / (b[k] * 1000.0)), t_stop)
        for k in range(2)}
    theirs = np.concatenate(_brian2_renewal_trains(
        size, "rand() < p0(t - lastspike)*int(t < 300*ms) + p1(t - lastspike)*int(t >= 300*ms)",
        {**tables, "ms": b2.ms}, t_stop, 5))
    edges = np.arange(0.0, t_stop + 1, 50.0)
    n, n_ref = np.histogram(ours, edges)[0], np.histogram(theirs, edges)[0]
    z = np.abs(n - n_ref) / np.sqrt(n + n_ref)
    print(f"AGREEMENT SpikeSourceInhGamma (Brian2): counts per 50 ms {n.tolist()} vs "
          f"{n_ref.tolist()}, max |z| = {z.max():.2f}")
    assert n[-1] > 1.5 * n[2]  # the rate doubles at 300 ms
    assert z.max() < 4.0
