import numpy as np
import pytest

from toolchain.compiler.report import render_report
from toolchain.ir import CellType, Network, Population, Projection, STDPRule
from toolchain.targets.spinnaker2 import SpiNNaker2Target
from toolchain.targets.spinnaker2.mapper import (
    NEURON_STATE_BYTES,
    MappingError,
    map_network,
)
from toolchain.targets.spinnaker2.spec import SpiNNaker2Spec
from toolchain.targets.spinnaker2.timing import worst_tick_cycles

from .helpers import recurrent_net, tiny_spec, va_cuba_net


def test_slices_respect_neurons_per_pe_and_cover_every_neuron():
    net = recurrent_net(200, max_delay=10)
    m = map_network(net, tiny_spec(neurons_per_pe=64))
    neuron_slices = [s for s in m.slices if s.kind == "neurons"]
    assert all(s.size <= 64 for s in neuron_slices)
    assert sum(s.size for s in neuron_slices) == 200
    for i, s in enumerate(m.slices):
        if s.kind != "delay":
            assert np.all(m.slice_of[s.node][s.lo:s.hi] == i)
    placed = {(s.chip, s.pe) for s in m.slices}
    assert len(placed) == len(m.slices)  # one slice per PE
    assert all(s.pe >= 1 for s in m.slices)  # PE 0 is the reserved one


def test_sram_limits_the_slice_size():
    """Shrinking the data SRAM forces smaller slices than neurons_per_pe."""
    net = recurrent_net(200, max_delay=10)
    roomy = map_network(net, tiny_spec(neurons_per_pe=64, pes_per_chip=40))
    tight = map_network(net, tiny_spec(neurons_per_pe=64, pes_per_chip=40,
                                       code_and_stack_bytes=128 * 1024 - 12_000))
    size = lambda m: max(s.size for s in m.slices if s.kind == "neurons")  # noqa: E731
    assert size(roomy) == 64 and size(tight) < 64


def test_neuron_whose_rows_exceed_sram_is_named():
    n = 3000
    pop = Population("big", CellType.IF_CURR_EXP, 2)
    src = Population("many", CellType.IF_CURR_EXP, n)
    proj = Projection("fan-in", "many", "big", np.arange(n).repeat(10) % n,
                      np.zeros(10 * n, int), np.full(10 * n, 0.1), np.full(10 * n, 1.0))
    net = Network(dt=1.0, populations=(src, pop), projections=(proj,))
    with pytest.raises(MappingError) as e:
        map_network(net, tiny_spec(pes_per_chip=40))
    msg = str(e.value)
    assert "Population 'big' neuron 0 has 30000 incoming synapses needing" in msg
    need = 30000 * 4 + 3000 * 12 + 64 + 2 * 16 * 4 + 24  # words, headers, state, ring, table
    assert (f"needing {need} bytes on its PE, {need - 98304} more than the 98304 bytes of "
            "data SRAM (131072 SRAM - 32768 code_and_stack_bytes)") in msg
    assert ("keep synapse rows in DRAM (option synapse_storage='dram' (-O "
            "synapse_storage=dram)), reduce its fan-in") in msg
    # rows in DRAM: only the DMA buffer stays in SRAM, and the chip's DRAM is checked
    m = map_network(net, tiny_spec(pes_per_chip=40, synapse_storage="dram"))
    big = [s for s in m.slices if s.node == "big"]
    # 30000 words, and a 3-word header for each of the (at most) 3000 rows, one per pre neuron
    assert len(big) == 1 and big[0].row_bytes == 30000 * 4 + 3000 * 12
    with pytest.raises(MappingError) as e:
        map_network(net, tiny_spec(pes_per_chip=40, synapse_storage="dram",
                                   dram_bytes_per_chip=100_000))
    assert str(e.value) == (
        "chip (1, 0) needs 156000 bytes of synapse rows in DRAM, 56000 more than its "
        "dram_bytes_per_chip = 100000; use a larger board (option board='48-chip' (-O "
        "board=48-chip)) or lower neurons_per_pe (option neurons_per_pe=32 (-O "
        "neurons_per_pe=32))")


def test_long_delays_get_delay_extension_slices():
    net = recurrent_net(100, max_delay=40)
    m = map_network(net, tiny_spec(neurons_per_pe=64, pes_per_chip=8))
    rec = next(t for t in m.synapses if t.projection == "rec")
    np.testing.assert_array_equal(rec.stage * 15 + rec.residual, rec.delay_ticks)
    assert rec.residual.min() >= 1 and rec.residual.max() <= 15
    assert rec.stage.max() == 2  # 40 ticks = 2 stages of 15 + 10
    delay = [s for s in m.slices if s.kind == "delay"]
    assert len(delay) == len(m.slices_of("exc")) and delay
    assert not any(s.node == "input" for s in delay)  # its delays are all 1 ms


def test_delay_beyond_the_extension_stages_is_an_error():
    net = recurrent_net(50, max_delay=200)
    with pytest.raises(MappingError) as e:
        map_network(net, tiny_spec(pes_per_chip=40))
    msg = str(e.value)
    i = int(net.projections[0].delay.argmax())
    d = int(net.projections[0].delay[i])
    assert f"Projection 'rec' delay[{i}] = {d} ms is {d} ticks of 1 ms, {d - 135} over the " \
           "limit: " \
           "spinnaker2 reaches at most 135 ticks (15 in the ring buffer + 8 delay-extension " \
           "stages of 15)" in msg
    assert ("raise ring_buffer_ticks (up to 64: option ring_buffer_ticks=64 (-O "
            "ring_buffer_ticks=64)) or max_delay_stages (option max_delay_stages=13 (-O "
            "max_delay_stages=13))") in msg
    # both hints are options that exist: each makes the network fit
    SpiNNaker2Target(ring_buffer_ticks=64, board="48-chip").compile(net)
    SpiNNaker2Target(max_delay_stages=13, board="48-chip").compile(net)
    # a longer ring buffer reaches it
    map_network(net, tiny_spec(pes_per_chip=40, ring_buffer_ticks=64))


def test_not_enough_pes_names_the_board_and_the_fix():
    net = recurrent_net(200, max_delay=10)
    with pytest.raises(MappingError) as e:
        map_network(net, tiny_spec(neurons_per_pe=16))
    msg = str(e.value)
    assert "network 'network' needs 17 PEs (13 neuron slices, 4 spike-source slices, 0 " \
           "delay-extension slices) but board '2x2' has 12 (4 chips x 3 usable PEs)" in msg
    assert "use a board of at least 6 chips" in msg


def test_cell_type_and_plasticity_errors():
    delta = Population("a", CellType.IF_CURR_EXP, 3)
    assert map_network(Network(populations=(delta,)), tiny_spec()).slices
    p = Population("p", CellType.IF_CURR_EXP, 3)
    stdp = Projection("learn", "p", "p", [0], [1], [0.5], [1.0], plasticity=STDPRule())
    (table,) = map_network(Network(populations=(p,), projections=(stdp,)),
                           tiny_spec()).synapses
    assert table.plastic and table.plastic_cycles > tiny_spec().cycles_per_plastic_synapse


def test_weights_are_quantised_per_post_population_and_receptor():
    net = recurrent_net(100, max_delay=5)
    m = map_network(net, tiny_spec(pes_per_chip=40))
    assert m.stats["weight_quantisation_error_rel_max"] < 1.0
    rec = next(t for t in m.synapses if t.projection == "rec")
    w = net.projections[0].weight.astype(float)
    assert np.max(np.abs(rec.words * 2.0 ** -rec.frac_bits - w)) <= 2.0 ** -(rec.frac_bits + 1)


def test_target_compile_reports_resources():
    net = recurrent_net(200, max_delay=40)
    compiled = SpiNNaker2Target(board="1-chip").map(net)
    res = compiled.resources()
    assert not hasattr(SpiNNaker2Target(), "_last")  # no cache: the artifact carries it
    assert res["pes"] == res["pes_neurons"] + res["pes_sources"] + res["pes_delay_extension"]
    assert res["pes_delay_extension"] >= 1 and res["chips"] == 1
    assert NEURON_STATE_BYTES * 200 < res["pes"] * compiled.spec.data_bytes_per_pe


def test_artifact_report_and_cli(tmp_path):
    """`spikeport compile/report --target spinnaker2` through the shared artifact."""
    from click.testing import CliRunner

    from toolchain.cli import main
    from toolchain.compiler import CompiledNetwork
    from toolchain.ir import load, save

    net = recurrent_net(200, max_delay=40)
    target = SpiNNaker2Target(board="48-chip")
    art = target.compile(net)
    assert isinstance(art, CompiledNetwork) and art.target == "spinnaker2"
    assert int(art.cores.neurons.sum()) == 200
    assert art.numerics_of("rec").max_delay_steps == 40
    assert "delay-extension" in render_report(art)
    assert art.support_cores == art.sections[0].values["pes"] - len(art.cores)
    save(art, tmp_path / "a.spz")
    assert load(tmp_path / "a.spz", expect=CompiledNetwork).cores.neurons.sum() == 200
    save(net, tmp_path / "net.spz")
    runner = CliRunner()
    out = runner.invoke(main, ["compile", "--target", "spinnaker2", "--board", "48-chip",
                               "--out", str(tmp_path / "o"), str(tmp_path / "net.spz")])
    assert out.exit_code == 0, out.output
    assert "on spinnaker2 (48-chip)" in out.output
    assert "SpiNNaker2 resources (physical)" in out.output  # the target's own section
    again = runner.invoke(main, ["report", str(tmp_path / "o")])
    assert again.exit_code == 0 and "on spinnaker2 (48-chip)" in again.output
    assert "SpiNNaker2 resources (physical)" in again.output
    a = Population("a", CellType.IF_CURR_EXP, 3)
    save(Network(populations=(a,), projections=(Projection("neg", "a", "a", [0], [1], [-0.5],
                                                           [1.0]),)), tmp_path / "x.spz")
    bad = runner.invoke(main, ["compile", "--target", "spinnaker2", "--out",
                               str(tmp_path / "p"), str(tmp_path / "x.spz")])
    assert bad.exit_code != 0
    assert ("network does not fit spinnaker2: Projection 'neg' weight[0] = -0.5 nA is "
            "negative on the excitatory receptor") in bad.output


def test_slices_are_sized_to_meet_a_tenth_of_a_millisecond_tick():
    """At 0.1 ms and 200 MHz a PE has 20,000 cycles; 250 neurons x 100 cycles overrun it,
    so without fit_tick a slice's neuron updates alone miss every tick."""
    net = va_cuba_net()
    spec = SpiNNaker2Spec(tick_ms=0.1)
    loose = map_network(net, spec.replace(fit_tick=False))
    fixed = [spec.cycles_per_tick_overhead + s.size * spec.cycles_per_neuron_update
             for s in loose.slices]
    assert max(fixed) > spec.cycles_per_tick
    fitted = map_network(net, spec)
    p = spec.planned_rate_hz * spec.tick_ms * 1e-3
    for s in fitted.slices:
        syn = rows = 0
        for t in fitted.synapses:
            post = t.post_index[t.post == s.node]
            inside = int(np.sum((post >= s.lo) & (post < s.hi))) if t.post == s.node else 0
            syn += inside
            rows += min(inside, net.node(t.pre).size)  # one row per pre neuron at most
        worst = worst_tick_cycles(spec, s.size, rows, rows * p, syn * p)
        assert worst <= spec.cycles_per_tick
    assert len(fitted.slices) > len(loose.slices)
    assert fitted.stats["tick_cycles_worst_estimate"] <= 20_000
    assert loose.stats["tick_cycles_worst_estimate"] > 20_000
    target = SpiNNaker2Target(tick_ms=0.1, fit_tick=False)
    report = render_report(target.compile(net))
    assert "timer tick: 20000 cycles; busiest PE's estimated worst tick " in report
    assert "OVERRUN: packets will be late; lower neurons_per_pe" in report


def test_a_neuron_that_cannot_meet_the_tick_alone_is_named():
    net = va_cuba_net(50)
    with pytest.raises(MappingError) as e:
        map_network(net, SpiNNaker2Spec(tick_ms=0.1, pe_clock_hz=10e6))
    assert str(e.value).startswith(
        "Population 'exc' neuron 0: even alone on a PE its estimated worst tick takes ")
    assert ("more than the 1000 cycles of a 0.1 ms tick at pe_clock_hz = 1e+07; raise "
            "pe_clock_hz (option pe_clock_hz=20000000.0 (-O pe_clock_hz=20000000.0)), use the "
            "1 ms tick (timestep=1.0 in the script's setup(), or -O tick_ms=1.0 with --fit "
            "approximate), reduce its fan-in, or option fit_tick=False (-O fit_tick=False) to "
            "run anyway") in str(e.value)


@pytest.mark.parametrize("receptor, weight, message", [
    ("inhibitory", 0.5, "weight[0] = 0.5 nA is positive on the inhibitory receptor of "
                        "current-based population 'exc'; spinnaker2 stores weight magnitudes "
                        "and takes the sign from the receptor, so these weights must be <= 0; "
                        "flip the sign or use the excitatory receptor"),
    ("excitatory", -0.5, "weight[0] = -0.5 nA is negative on the excitatory receptor of "
                         "current-based population 'exc'; spinnaker2 stores weight magnitudes "
                         "and takes the sign from the receptor, so these weights must be >= 0; "
                         "flip the sign or use the inhibitory receptor"),
])
def test_a_weight_of_the_wrong_sign_for_its_receptor_is_refused(receptor, weight, message):
    """The word holds |w|: a positive inhibitory current weight would silently inhibit."""
    exc = Population("exc", CellType.IF_CURR_EXP, 4)
    proj = Projection("p", "exc", "exc", [0, 1], [1, 2], [weight, weight], [1.0, 1.0],
                      receptor)
    net = Network(dt=1.0, populations=(exc,), projections=(proj,))
    with pytest.raises(MappingError) as e:
        map_network(net, tiny_spec())
    assert str(e.value) == f"Projection 'p' {message}"


def test_delay_limit_counts_ticks_of_a_tenth_of_a_millisecond():
    """At the 0.1 ms tick the same stages reach 13.5 ms: 14 ms is 140 ticks, 5 too many."""
    p = Population("p", CellType.IF_CURR_EXP, 2)
    ok = Projection("d", "p", "p", [0], [1], [0.1], [13.5])
    far = Projection("d", "p", "p", [0], [1], [0.1], [14.0])
    fast = tiny_spec(tick_ms=0.1)
    m = map_network(Network(dt=0.1, populations=(p,), projections=(ok,)), fast)
    assert m.synapses[0].delay_ticks[0] == 135 and m.synapses[0].stage[0] == 8
    with pytest.raises(MappingError) as e:
        map_network(Network(dt=0.1, populations=(p,), projections=(far,)), fast)
    assert str(e.value).startswith(
        "Projection 'd' delay[0] = 14 ms is 140 ticks of 0.1 ms, 5 over the limit: spinnaker2 "
        "reaches at most 135 ticks")
