"""NIR import and export: every node type, refusals by name, round trips."""

from __future__ import annotations

import nir
import numpy as np
import pytest

from tests.nir import graphs
from toolchain import nir as tn
from toolchain.ir import (
    ArraySource,
    CellType,
    Network,
    PoissonSource,
    Population,
    Projection,
    Receptor,
    STDPRule,
)
from toolchain.nir.graph import conv_matrix


@pytest.mark.parametrize("name", sorted(graphs.ALL))
def test_import_of_export_is_equal(name, tmp_path):
    first = tn.from_graph(graphs.ALL[name](), 0.1).network
    path = tn.write(first, tmp_path / f"{name}.nir")
    assert tn.read(path) == first  # the graph carries dt, offsets and exact parameters


def test_cubalif_parameters_and_weights():
    g = graphs.affine()
    imp = tn.from_graph(g, 0.1)
    pop = imp.network.population("lif")
    assert pop.cell_type is CellType.IF_CURR_EXP
    p = pop.parameters
    np.testing.assert_allclose(p["tau_m"], 1.0)
    np.testing.assert_allclose(p["tau_syn_E"], 0.4)
    np.testing.assert_allclose(p["cm"], 1.0 / 5.0)  # tau / r
    np.testing.assert_allclose(p["i_offset"], 2.0 * g.nodes["fc"].bias)  # w_in b
    w = np.zeros((3, 4))
    for proj in imp.network.projections:
        w[proj.post_index, proj.pre_index] += proj.weight
        assert proj.receptor is (Receptor.INHIBITORY if proj.label.endswith(":inh")
                                 else Receptor.EXCITATORY)
    # one spike: an impulse leaving I where a held input leaves it
    np.testing.assert_allclose(w, g.nodes["fc"].weight * 2.0 * np.expm1(0.1 / 0.4), rtol=1e-6)
    assert imp.nodes["lif"].offset == 2


def _psc(h, tau_m, tau_s, cm):
    """v after h ms from 1 nA of exponential current (the textbook closed form)."""
    return tau_s * tau_m / (tau_m - tau_s) / cm * (np.exp(-h / tau_m) - np.exp(-h / tau_s))


def test_delta_nodes_parameters_and_weights():
    """LIF/LI/IF/I become IF_curr_exp with a current gone within its step (tau_syn =
    dt/1000), weighted so that one unit of input moves v by r (1 - e^(-dt/tau)) (LIF, LI)
    or r dt (IF, I) in the next step; LI and I get a threshold out of reach."""
    g = graphs.lif_li()
    imp = tn.from_graph(g, 0.1)
    lif, li = imp.network.population("lif"), imp.network.population("li")
    assert lif.cell_type is li.cell_type is CellType.IF_CURR_EXP
    p = lif.parameters
    np.testing.assert_allclose(p["tau_m"], 1.0)
    np.testing.assert_allclose(p["cm"], 1.0 / 5.0)
    np.testing.assert_allclose(p["tau_syn_E"], 1e-4)
    np.testing.assert_allclose(p["tau_syn_I"], 1e-4)
    assert np.exp(-0.1 / p["tau_syn_E"][0]) == 0.0
    np.testing.assert_allclose(p["v_rest"], -0.2)
    np.testing.assert_allclose(p["v_reset"], -0.1)
    np.testing.assert_allclose(p["i_offset"], g.nodes["fc"].bias)
    np.testing.assert_allclose(lif.initial_values["v"], -0.2)
    w = np.zeros((6, 4))
    for proj in imp.network.projections:
        if proj.post == "lif":
            w[proj.post_index, proj.pre_index] += proj.weight
    dv = w * _psc(0.1, 1.0, 1e-4, 0.2)
    np.testing.assert_allclose(dv, g.nodes["fc"].weight * 5.0 * -np.expm1(-0.1), rtol=1e-6)
    assert not imp.nodes["li"].spiking
    # every LIF spike at once, every step, could not lift LI's v to its threshold
    jumps = np.abs(g.nodes["fc2"].weight).sum(axis=1) * 5.0 * -np.expm1(-0.1)
    assert np.all(li.parameters["v_thresh"] + 0.2 > jumps / -np.expm1(-0.1))
    g = graphs.if_i()
    imp = tn.from_graph(g, 0.1)
    ifp = imp.network.population("if")
    np.testing.assert_allclose(ifp.parameters["tau_m"], 0.1 * 1e8)
    psc = _psc(0.1, 1e7, 1e-4, ifp.parameters["cm"][0])
    for proj in imp.network.projections:
        if proj.post == "if":
            np.testing.assert_allclose(
                proj.weight * psc, g.nodes["fc"].weight[proj.post_index, proj.pre_index]
                * 5e3 * 1e-4, rtol=1e-6)
    assert imp.nodes["if"].spiking and not imp.nodes["i"].spiking


def test_if_curr_delta_exports_as_lif_and_comes_back(tmp_path):
    """A PyNN IF_curr_delta population is written as NIR's LIF (weights in NIR's units)
    and read back as IF_curr_delta."""
    pop = Population(label="d", cell_type=CellType.IF_CURR_DELTA, size=3,
                     parameters={"tau_m": np.array([10.0, 20.0, 5.0]), "cm": np.ones(3),
                                 "v_thresh": np.full(3, -55.0), "tau_refrac": np.zeros(3)})
    src = ArraySource.from_lists("s", [np.array([1.0, 3.0]), np.array([2.0])])
    proj = Projection(label="s->d", pre="s", post="d", pre_index=np.array([0, 1]),
                      post_index=np.array([0, 2]), weight=np.array([0.5, 1.5]),
                      delay=np.array([0.1, 0.1]), receptor=Receptor.EXCITATORY)
    net = Network(dt=0.1, populations=(pop,), sources=(src,), projections=(proj,))
    path = tn.write(net, tmp_path / "d.nir")
    g = nir.read(str(path))
    assert isinstance(g.nodes["d"], nir.LIF)
    r = np.array([10.0, 20.0, 5.0])
    np.testing.assert_allclose(g.nodes["s->d"].weight[[0, 2], [0, 1]],
                               [0.5, 1.5] / (r[[0, 2]] * np.expm1(0.1 / r[[0, 2]])))
    back = tn.read(path)
    assert back.replace(recordings=()) == net


def test_delay_node_adds_steps():
    imp = tn.from_graph(graphs.flatten_delay(), 0.1)
    into = [p for p in imp.network.projections if p.post == "lif2"]
    steps = {int(post): set() for post in (0, 1)}
    for p in into:
        for post, d in zip(p.post_index, np.rint(p.delay / 0.1).astype(int), strict=True):
            steps[int(post)].add(int(d))
    # lif2[0]'s input passes a Delay of 0.3 ms = 3 steps, lif2[1]'s none
    assert steps == {0: {4}, 1: {1}}


def _dense_conv(x, w, stride, pad):
    """Direct cross-correlation, written out loop by loop."""
    c_out, c_in, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    h = (xp.shape[1] - kh) // stride + 1
    ww = (xp.shape[2] - kw) // stride + 1
    y = np.zeros((c_out, h, ww))
    for o in range(c_out):
        for i in range(h):
            for j in range(ww):
                y[o, i, j] = np.sum(xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw]
                                    * w[o])
    return y


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 0), (2, 1)])
def test_conv_matrix_is_the_convolution(stride, pad):
    rng = np.random.default_rng(3)
    w = rng.normal(size=(3, 2, 3, 3))
    x = rng.normal(size=(2, 7, 6))
    y = _dense_conv(x, w, stride, pad)
    m = conv_matrix("c", "Conv2d", w, 1, (2, 7, 6), (stride, stride), (pad, pad), (1, 1),
                    y.shape[1:])
    np.testing.assert_allclose(m @ x.ravel(), y.ravel(), atol=1e-12)


def test_pooling_sums_and_averages():
    for pool, factor in ((nir.SumPool2d, 1.0), (nir.AvgPool2d, 0.25)):
        imp = tn.from_graph(graphs.conv2d_pool(pool), 0.1)
        term = next(t for t in imp.reduced.terms if t.target == "lif2")
        fc = imp.reduced.flat.nodes["fc"].weight
        x = np.random.default_rng(0).random((2, 6, 6))
        pooled = x.reshape(2, 3, 2, 3, 2).sum(axis=(2, 4)) * factor
        np.testing.assert_allclose(term.matrix @ x.ravel(), fc @ pooled.ravel(), atol=1e-12)


def test_nested_graph_is_inlined_with_its_loop():
    imp = tn.from_graph(graphs.nested(), 0.1)
    assert [p.label for p in imp.network.populations] == ["rnn.lif"]
    assert "rnn.lif->rnn.lif" in imp.loop_lag  # the loop arrives a step late (docs)


def test_cubali_never_spikes_and_integrates():
    imp = tn.from_graph(graphs.linear_scale_li(), 0.1)
    assert not imp.nodes["li"].spiking
    from toolchain.nir.run import run_graph

    x = np.ones((40, 4), dtype=np.int64)
    out = run_graph(imp, {"input": x})
    assert out.spikes["lif"].sum() > 0 and out.spikes["li"].sum() == 0
    assert np.abs(out.v["li"]).max() > 0.1


@pytest.mark.parametrize("node,words", [
    (nir.LIF(tau=-np.ones(2) * 1e-3, r=np.ones(2), v_leak=np.zeros(2),
             v_threshold=np.ones(2)), ["'neuron' (LIF)", "tau[0] = -0.001",
                                       "positive finite"]),
    (nir.IF(r=np.array([1.0, np.nan]), v_threshold=np.ones(2)),
     ["'neuron' (IF)", "r[1] = nan"]),
    (nir.Threshold(threshold=np.ones(2)), ["'neuron' (Threshold)", "stateless"]),
])
def test_refused_nodes_are_named(node, words):
    g = graphs.graph({"input": nir.Input(input_type={"input": np.array([2])}), "neuron": node,
                      "output": nir.Output(output_type={"output": np.array([2])})},
                     [("input", "neuron"), ("neuron", "output")])
    with pytest.raises(tn.NIRError) as e:
        tn.from_graph(g, 0.1)
    for w in words:
        assert w in str(e.value)


def test_bad_graphs_are_refused_by_name(tmp_path):
    g = graphs.flatten_delay()
    with pytest.raises(tn.NIRError, match=r"'delay' \(Delay\) delay\[0\] = 0.0003 s .*dt"):
        tn.from_graph(g, 0.07)
    with pytest.raises(tn.NIRError, match="give dt"):
        tn.from_graph(g)
    bad = graphs.affine()
    bad.nodes["lif"].tau_mem[1] = -1.0
    with pytest.raises(tn.NIRError, match=r"'lif' \(CubaLIF\) tau_mem\[1\] = -1"):
        tn.from_graph(bad, 0.1)
    cyc = graphs.graph({"input": nir.Input(input_type={"input": np.array([2])}),
                        "a": nir.Linear(weight=np.eye(2)), "b": nir.Linear(weight=np.eye(2)),
                        "lif": graphs.cuba(2)},
                       [("input", "a"), ("a", "b"), ("b", "a"), ("b", "lif")])
    with pytest.raises(tn.NIRError, match="cycle of linear nodes"):
        tn.from_graph(cyc, 0.1)
    junk = tmp_path / "junk.nir"
    junk.write_bytes(b"not hdf5")
    with pytest.raises(tn.NIRError, match="not a NIR"):
        tn.read(junk, 0.1)


def _pynn_like() -> Network:
    """A network as the PyNN front end builds it: Poisson and array sources, several
    delays, an inhibitory receptor, a plastic projection with zero weights, a population
    driven by its bias alone."""
    exp = CellType.IF_CURR_EXP
    a = Population("a", exp, 4, parameters={"tau_syn_E": 2.0, "tau_syn_I": 2.0,
                                            "tau_refrac": 2.0, "i_offset": 0.3},
                   initial_values={"v": np.linspace(-66, -60, 4)})
    b = Population("b", exp, 3, parameters={"tau_syn_E": 3.0, "tau_syn_I": 3.0})
    pace = Population("pace", exp, 2, parameters={"i_offset": 1.2})
    poisson = PoissonSource("noise", 5, rate=np.full(5, 40.0), start=np.zeros(5),
                            duration=np.full(5, np.inf), seed=3)
    given = ArraySource.from_lists("given", [[1.0, 5.0], [], [2.5]])
    projs = (
        Projection("n->a", "noise", "a", [0, 1, 2, 3, 4], [0, 1, 2, 3, 0],
                   [0.5, 0.4, 0.3, 0.2, 0.1], [1.0, 1.0, 2.0, 2.0, 0.5]),
        Projection("g->b", "given", "b", [0, 1, 2], [2, 1, 0], [0.0, 0.2, 0.3],
                   [0.1, 0.1, 0.1], plasticity=STDPRule(w_max=0.5)),
        Projection("a->b", "a", "b", [0, 1, 3], [0, 0, 2], [-0.3, -0.2, -0.1],
                   [0.3, 0.3, 0.3], receptor=Receptor.INHIBITORY),
        Projection("b->a", "b", "a", [0, 1], [1, 2], [0.2, 0.4], [0.1, 0.1]),
        Projection("pace->b", "pace", "b", [0, 1], [0, 1], [0.5, 0.5], [0.2, 0.2]),
    )
    return Network(dt=0.1, populations=(a, b, pace), sources=(poisson, given),
                   projections=projs, label="pynn_like")


def test_pynn_network_round_trip(tmp_path):
    net = _pynn_like()
    back = tn.read(tn.write(net, tmp_path / "net.nir"))
    strip = {"recordings": ()}
    canon = net.replace(**strip, projections=tuple(
        p if p.label != "n->a" else next(q for q in back.projections if q.label == "n->a")
        for p in net.projections))
    assert back.replace(**strip) == canon
    # the projection with several delays comes back in canonical order, same synapses
    orig = next(p for p in net.projections if p.label == "n->a")
    got = next(p for p in back.projections if p.label == "n->a")
    def key(p: Projection) -> list:
        return sorted(zip(p.pre_index, p.post_index, p.weight, p.delay, strict=True))

    assert key(orig) == key(got)


def test_export_refuses_by_name(tmp_path):
    net = _pynn_like()
    odd = net.populations[0]
    uneven = Population("a", odd.cell_type, 4, parameters={**odd.parameters,
                                                             "tau_syn_I": np.full(4, 9.0)})
    with pytest.raises(tn.NIRError, match="'a': tau_syn_E.*one synaptic time constant"):
        tn.write(net.replace(populations=(uneven, *net.populations[1:])), tmp_path / "x.nir")
    cond = Population("c", CellType.IF_COND_EXP, 2)
    with pytest.raises(tn.NIRError, match="'c' \\(IF_cond_exp\\).*conductance"):
        tn.write(Network(populations=(cond,)), tmp_path / "y.nir")


def test_compiled_formats_go_into_metadata(tmp_path):
    import toolchain

    net = tn.read("tests/nir/data/braille_noDelay_noBias_subtract.nir", dt=0.1)
    art = toolchain.compile(net, "loihi")
    graph = tn.to_graph(net, compiled=art)
    meta = graph.nodes["input->lif1.lif"].metadata["spikeport"]["format"]
    ((_, fields),) = meta.items()
    assert fields["weight_bits"] > 0 and "exponent" in fields
