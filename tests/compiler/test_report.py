import re

import pytest

from tests.compiler.nets import ei_network
from toolchain.compiler.report import placement_figure, render_report
from toolchain.targets.loihi import LoihiTarget
from toolchain.targets.loihi import spec as loihi


@pytest.fixture(scope="module")
def art():
    return LoihiTarget(board="loihi1").compile(ei_network(n_exc=800, n_inh=200))


def test_report_states_resources_routing_quantisation_and_cost(art):
    text = render_report(art)
    assert f"cores used: {len(art.cores)}   chips used: 1" in text
    for c in range(len(art.cores)):
        assert re.search(rf"^\s+{c}\s+0\s+\d+\s+\d+\s+\w+\s+{art.cores.neurons[c]}\s+"
                         rf"{art.cores.input_axons[c]}\s+{art.cores.output_axons[c]}\s+"
                         rf"{art.cores.synapses[c]}\s+{art.cores.synapse_bits[c]}\s", text,
                         re.M)
    assert f"gain x{art.placement.gain:.2f}" in text
    q = art.numerics_of("ie")
    assert re.search(rf"^\s+ie\s+{art.network.projections[2].size}\s+{q.exponent}\s+8\s+.*"
                     rf"\s{q.zeroed}\s+{q.saturated}\s.*8\.\.8\s+{q.delays_rounded}$", text, re.M)
    assert q.delays_rounded == art.network.projections[2].size  # 0.75 ms is 7.5 steps
    est = art.estimate
    assert f"wall time {est.wall_ns / 1e3:.3f} us" in text
    assert "DOES NOT FIT" not in text


def test_step_estimate_adds_up(art):
    est, costs = art.estimate, LoihiTarget().spec.costs
    assert est.wall_ns == pytest.approx(est.compute_ns + est.noc_ns + est.barrier_ns)
    assert est.barrier_ns == pytest.approx(costs.barrier(1) * 1e3)
    assert est.neuron_updates == art.network.n_neurons
    assert est.energy_updates_pj == pytest.approx(art.network.n_neurons * 21.6)
    # the slowest core takes at least its neuron updates
    slow = est.slowest_core
    assert est.compute_ns >= art.cores.neurons[slow] * costs.neuron_update.ns
    assert art.cores.neurons.max() <= loihi.MAX_COMPARTMENTS


def test_synaptic_ops_follow_the_assumed_rate(art):
    # at twice the rate the network's own synaptic ops double; the Poisson input's do not
    slow = LoihiTarget(board="loihi1").compile(art.network, rate_hz=20.0).estimate
    inp = art.network.projections[3]
    p_in = 10.0 * art.network.dt / 1e3
    own = art.estimate.synaptic_ops - inp.size * p_in
    assert slow.synaptic_ops == pytest.approx(2 * own + inp.size * p_in, rel=1e-6)


def test_placement_figure_is_a_png(art, tmp_path):
    path = placement_figure(art, tmp_path / "placement.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000


def test_one_core_builds_say_so_keep_labels_whole_and_draw_utilisation(tmp_path):
    import numpy as np

    from toolchain.compiler.report import figure_kind
    from toolchain.ir import ArraySource, Network, Population, Projection
    from toolchain.targets import get_target

    src = ArraySource.from_lists("in", [[1.0]])
    pops = (Population("excitatory_cells", "IF_curr_exp", 4),
            Population("inhibitory_cells", "IF_curr_exp", 4))
    long = [f"input_to_{p.label}_with_a_long_label" for p in pops]
    net = Network(populations=pops, sources=(src,), projections=tuple(
        Projection(label, "in", p.label, [0], [0], [0.5], [0.5])
        for label, p in zip(long, pops, strict=True)))
    art = get_target("fpga").compile(net)
    text = render_report(art)
    assert "cores used: 1 (2 population slices)" in text
    assert "method: one core" in text
    for label in long:  # two labels sharing their first 20 characters stay apart
        assert re.search(rf"^  {label} ", text, re.M)
    assert figure_kind(art) == "utilisation"
    assert placement_figure(art, tmp_path / "one.png").stat().st_size > 5000
    assert figure_kind(LoihiTarget(board="loihi1").compile(ei_network())) == "mesh"
    assert np.isfinite(art.estimate.energy_pj)


def test_traffic_beyond_the_line_budget_is_summed_per_tile_pair_and_the_heaviest_drawn():
    import numpy as np

    from toolchain.compiler.report import traffic_lines

    art = LoihiTarget(board="loihi1").compile(ei_network(n_exc=3000, n_inh=750))  # 9 tiles
    pl, r = art.placement, art.routes
    cx, cy = pl.x.astype(float), pl.y.astype(float)
    pairs = {}  # tile pair -> messages, summed here with a plain loop
    for s, d, m in zip(r.src, r.dst, r.messages, strict=True):
        if s < 0 or s == d or (pl.x[s], pl.y[s]) == (pl.x[d], pl.y[d]):
            continue
        key = ((pl.x[s], pl.y[s]), (pl.x[d], pl.y[d]))
        pairs[key] = pairs.get(key, 0) + m
    assert len(pairs) > 3, "the fixture must have more tile pairs than the budget below"
    segs, w, note = traffic_lines(art, cx, cy, most=3)
    heaviest = sorted(pairs.values())[-3:]
    assert sorted(w.tolist()) == pytest.approx(heaviest)
    for (a, b), m in zip(segs.tolist(), w.tolist(), strict=True):
        assert pairs[(tuple(a), tuple(b))] == pytest.approx(m)
    assert f"heaviest 3 of {len(pairs):,} pairs, {sum(heaviest) / sum(pairs.values()):.0%}" \
        in note
    everything = traffic_lines(art, cx, cy)[1]  # within the default budget: every core pair
    assert everything.size == int(((r.src >= 0) & (r.src != r.dst)).sum())
    assert np.isclose(everything.sum(), r.messages[(r.src >= 0) & (r.src != r.dst)].sum())
