"""The target contract, run over every entry of ``TARGETS`` the way PyNN runs one scenario
suite over every backend: what compile returns, save/load, simulating a loaded artifact,
strict and lax compiles over every limit a target declares, weights, reset, recording,
the JSON report and the shared source-rate estimate."""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pytest
from click.testing import CliRunner

from toolchain.cli import main
from toolchain.compiler import CompiledNetwork, MappingError
from toolchain.compiler.report import SCHEMA, report_data
from toolchain.ir import (
    ArraySource,
    Network,
    NoisyCurrentSource,
    PoissonSource,
    Population,
    PostSynapticResponse,
    Projection,
    Recording,
    STDPRule,
    load,
    save,
)
from toolchain.targets import TARGETS, TargetOptionError, get_target, target_class, target_for

NAMES = list(TARGETS)


# --------------------------------------------------------------------------- networks


def driven(dt: float = 0.1, record: tuple[str, ...] = ("spikes",), inhibitory: bool = False,
           weight: float = 1.5) -> Network:
    """One array source driving eight cells: runs on every target (IF_curr_exp, uniform
    parameters, equal synaptic time constants, short delays, excitatory weights)."""
    rng = np.random.default_rng(5)
    times = [np.sort(rng.uniform(1.0, 60.0, 12)).round(1) for _ in range(6)]
    src = ArraySource.from_lists("drive", times)
    pre, post = np.meshgrid(np.arange(6), np.arange(8), indexing="ij")
    projs = [Projection("drive->cells", "drive", "cells", pre.ravel(), post.ravel(),
                        np.full(48, weight), np.full(48, 0.3))]
    if inhibitory:
        projs.append(Projection("cells->cells", "cells", "cells", np.arange(8),
                                (np.arange(8) + 1) % 8, np.full(8, -0.5), np.full(8, 0.3),
                                receptor="inhibitory"))
    cells = Population("cells", "IF_curr_exp", 8,
                       parameters={"tau_syn_E": 2.0, "tau_syn_I": 2.0, "tau_refrac": 0.5})
    recs = tuple(Recording("cells", v, np.arange(8)) for v in record)
    return Network(dt=dt, populations=(cells,), sources=(src,), projections=tuple(projs),
                   recordings=recs, label="driven")


def fibres(n: int = 10) -> Network:
    """Issue 12's example: ten 100 Hz array-source fibres all-to-all onto ten cells, a true
    load of 10 synaptic events per 1 ms step."""
    src = ArraySource.from_lists("fibres", [np.arange(1.0, 1000.0, 10.0)] * n)
    pre, post = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    proj = Projection("in", "fibres", "cells", pre.ravel(), post.ravel(),
                      np.full(n * n, 0.05), np.full(n * n, 1.0))
    cells = Population("cells", "IF_curr_exp", n, parameters={"v_thresh": 0.0})  # silent
    return Network(dt=1.0, populations=(cells,), sources=(src,), projections=(proj,),
                   recordings=(Recording("cells", "spikes", np.arange(n)),), label="fibres")


def _pop(label: str, n: int, **params: object) -> Population:
    return Population(label, "IF_curr_exp", n, parameters=params)


def _all_to_all(label, pre, post, n_pre, n_post, w=0.1, d=1.0, **kw) -> Projection:
    i, j = np.meshgrid(np.arange(n_pre), np.arange(n_post), indexing="ij")
    return Projection(label, pre, post, i.ravel(), j.ravel(), np.full(i.size, w),
                      np.full(i.size, d), **kw)


def _poisson(label: str, n: int) -> PoissonSource:
    return PoissonSource(label, n, rate=np.full(n, 10.0), start=np.zeros(n),
                         duration=np.full(n, np.inf))


def _net(pops, projs=(), sources=(), dt=0.1) -> Network:
    return Network(dt=dt, populations=tuple(pops), projections=tuple(projs),
                   sources=tuple(sources), label="over")


# One network over each limit a target declares, with the options it needs: (options, net).
def _loihi_cases():
    rules = [STDPRule(tau_plus=10.0 + k, w_max=1.0) for k in range(4)]
    return {
        "input_axons": ({}, _net([_pop("many", 5000), _pop("one", 1)],
                                 [_all_to_all("wide", "many", "one", 5000, 1)])),
        "output_axons": ({"board": "pohoiki_springs"}, _net(
            [_pop("hub", 1), _pop("fan", 16 * 4097, v_thresh=-50 + 1e-4 * np.arange(16 * 4097))],
            [Projection("out", "hub", "fan", np.zeros(16 * 4097, int), np.arange(16 * 4097),
                        np.full(16 * 4097, 0.1), np.full(16 * 4097, 1.0))])),
        "synapse_bits": ({}, _net([_pop("src", 4000), _pop("one", 1)], [Projection(
            "multapses", "src", "one", np.repeat(np.arange(4000), 20), np.zeros(80000, int),
            np.full(80000, 0.1), np.full(80000, 1.0))])),
        "synapse_configs": ({}, _net([*(_pop(f"p{k}", 1) for k in range(17)), _pop("t", 1)],
                                     [_all_to_all(f"in{k}", f"p{k}", "t", 1, 1)
                                      for k in range(17)])),
        "learning_configs": ({}, _net([*(_pop(f"p{k}", 1) for k in range(4)), _pop("t", 1)],
                                      [_all_to_all(f"l{k}", f"p{k}", "t", 1, 1,
                                                   plasticity=rules[k]) for k in range(4)])),
        "cores": ({"board": "loihi1"}, _net([_pop(f"p{k}", 1) for k in range(129)])),
        "delay_steps": ({}, _net([_pop("a", 2), _pop("b", 2)],
                                 [_all_to_all("slow", "a", "b", 2, 2, d=10.0)])),
        "refractory_steps": ({}, _net([_pop("r", 3, tau_refrac=7.0)])),
        "weight_range": ({}, _net([_pop("a", 2), _pop("b", 2)],
                                  [_all_to_all("strong", "a", "b", 2, 2, w=84.0)], dt=1.0)),
    }


def _spinnaker2_cases():
    from toolchain.targets.spinnaker2.spec import Board, SpiNNaker2Spec

    exc = _pop("exc", 50)
    va = _net([exc], [_all_to_all("rec", "exc", "exc", 50, 50, w=0.05)],
              [_poisson("in", 50)], dt=0.1)
    srcs = tuple(ArraySource.from_lists(f"s{k}", [[1.0]]) for k in range(8))
    two = (_pop("a", 1), _pop("b", 1))
    return {
        "delay_ticks": ({}, _net([_pop("p", 2)], [_all_to_all("d", "p", "p", 2, 2, d=200.0)],
                                 dt=1.0)),
        "pe_sram_bytes": ({}, _net([_pop("many", 3000), _pop("big", 2)], [Projection(
            "fan-in", "many", "big", np.arange(30000) % 3000, np.zeros(30000, int),
            np.full(30000, 0.1), np.full(30000, 1.0))], dt=1.0)),
        "tick_cycles": ({"tick_ms": 0.1, "pe_clock_hz": 1e7}, va),
        "pes": ({}, _net([_pop(f"p{k}", 1) for k in range(160)], dt=1.0)),
        "timer_tick": ({}, _net([_pop("p", 2)], dt=0.025)),
        "dram_bytes": ({"spec": SpiNNaker2Spec(synapse_storage="dram",
                                               dram_bytes_per_chip=50_000)},
                       _net([_pop("many", 3000), _pop("big", 2)], [Projection(
                           "fan-in", "many", "big", np.arange(30000) % 3000,
                           np.zeros(30000, int), np.full(30000, 0.1), np.full(30000, 1.0))],
                           dt=1.0)),
        "keys": ({"spec": SpiNNaker2Spec(weight_bits=1, ring_buffer_ticks=2,
                                         neurons_per_pe=2**29)},
                 _net([_pop("p", 2)], [Projection("d", "p", "p", [0], [1], [0.1], [2.0])],
                      dt=1.0)),
        "router_entries": ({"board": Board("3x1", 3, 1),
                            "spec": SpiNNaker2Spec(pes_per_chip=9, neurons_per_pe=64,
                                                   router_entries=1)},
                           _net(two, [Projection(f"{s.label}->", s.label, two[k % 2].label,
                                                 [0], [0], [0.1], [1.0])
                                      for k, s in enumerate(srcs)], srcs, dt=1.0)),
    }


def _dynapse_cases():
    from toolchain.targets.dynapse.spec import NEURONS_PER_CORE, DynapseSpec

    big = 4 * NEURONS_PER_CORE
    return {
        "neurons": ({}, _net([_pop("huge", 4097)])),
        "cores": ({}, _net([_pop(f"p{k}", 1) for k in range(17)])),
        "cam_words": ({}, _net([_pop("out", 2)], [_all_to_all("in->out", "in", "out", 70, 2)],
                               [_poisson("in", 70)])),
        "tags": ({}, _net([_pop("core", 256)], [Projection(
            "many->core", "many", "core", np.arange(1100), np.arange(1100) % 256,
            np.full(1100, 0.5), np.full(1100, 0.1))], [_poisson("many", 1100)])),
        "tag_aliases": ({"chips": 3}, _net(
            [_pop("a", big), _pop("b", big), _pop("t", 1)],
            [Projection("a->t", "a", "t", [0], [0], [0.5], [0.1]),
             Projection("b->t", "b", "t", [0], [0], [0.5], [0.1])])),
        "sram_words": ({"spec": DynapseSpec(sram_per_neuron=1)}, _net(
            [_pop("src", 1), _pop("far", 5 * NEURONS_PER_CORE)],
            [Projection("src->far", "src", "far", [0, 0], [0, 5 * NEURONS_PER_CORE - 1],
                        [0.5, 0.5], [0.1, 0.1])])),
        "chip_hops": ({"spec": DynapseSpec(chips=6, grid=(6, 1))}, _net(
            [_pop("src", 1), *(_pop(f"fill{k}", big) for k in range(4)), _pop("far", big)],
            [Projection("src->far", "src", "far", [0], [0], [0.5], [0.1])])),
        "delay_ms": ({}, _net([_pop("a", 2), _pop("b", 2)],
                              [_all_to_all("slow", "a", "b", 2, 2, d=5.0)])),
    }


def _fpga_cases():
    src = ArraySource.from_lists("in", [[1.0]])
    one = [_pop("exc", 1)]
    return {
        "n_neurons": ({}, _net([_pop("big", 200)])),
        "n_inputs": ({}, _net(one, [Projection("p", "wide", "exc", [0], [0], [0.1], [0.5])],
                              [ArraySource.from_lists("wide", [[1.0]] * 200)])),
        "n_synapses": ({}, _net([_pop("a", 50), _pop("b", 50)],
                                [_all_to_all("dense", "a", "b", 50, 50, d=0.5)])),
        "delay_steps": ({}, _net(one, [Projection("p", "in", "exc", [0], [0], [0.1], [2.0])],
                                 [src])),
        "decay_shift": ({}, _net([_pop("slow", 1, tau_m=1e6)])),
        "ref_bits": ({}, _net([_pop("lazy", 1, tau_refrac=10.0)])),
        "i_bits": ({}, _net([_pop("hot", 1, i_offset=1e4)])),
        "acc_bits": ({}, _net(one, [Projection("many", "in", "exc", np.zeros(500, int),
                                               np.zeros(500, int), np.full(500, 1.0),
                                               np.full(500, 0.5))], [src])),
        "trace_bits": ({}, _net(one, [Projection(
            "p", "in", "exc", [0], [0], [4.0], [0.5],
            plasticity=STDPRule(tau_plus=2.0, tau_minus=20.0, A_plus=0.05, A_minus=0.05,
                                w_max=8.0))], [src])),
        "stdp_rate_shift": ({}, _net(one, [Projection(
            "p", "in", "exc", [0], [0], [4.0], [0.5],
            plasticity=STDPRule(tau_plus=2.0, tau_minus=2.0, A_plus=1e-9, A_minus=0.05,
                                w_max=8.0))], [src])),
    }


LIMIT_CASES = {name: functools.cache(cases) for name, cases in (
    ("reference", dict), ("loihi", _loihi_cases), ("spinnaker2", _spinnaker2_cases),
    ("dynapse", _dynapse_cases), ("fpga", _fpga_cases))}
OVER_LIMIT = [(name, limit) for name in NAMES for limit in target_class(name).LIMITS]


# --------------------------------------------------------------------------- the contract


@pytest.fixture(scope="module", params=NAMES)
def compiled(request):
    target = get_target(request.param)
    return target, target.compile(driven())


def test_every_declared_limit_has_an_over_limit_network():
    for name in NAMES:
        assert set(LIMIT_CASES[name]()) == set(target_class(name).LIMITS), name


def test_compile_returns_the_shared_artifact(compiled):
    target, art = compiled
    assert isinstance(art, CompiledNetwork)
    assert art.target == target.name and art.fits and art.violations == ()
    assert len(art.numerics) == len(art.network.projections)
    assert art.detail is not None or target.name in ("reference", "loihi")


def test_save_load_round_trip_and_a_loaded_artifact_simulates_identically(compiled, tmp_path):
    target, art = compiled
    loaded = load(save(art, tmp_path / "net.spz"), expect=CompiledNetwork)
    assert loaded == art and loaded.detail is None
    runs = []
    for a in (art, loaded, loaded):  # the second loaded run recomputes the detail again
        sim = target.simulator(a)
        sim.run_until(40.0)
        runs.append(sim.result().spikes["cells"])
    assert runs[0].count > 0
    for other in runs[1:]:
        np.testing.assert_array_equal(other.times, runs[0].times)
        np.testing.assert_array_equal(other.senders, runs[0].senders)
    # and the target rebuilt from the artifact's own options runs it too
    sim = target_for(loaded).simulator(loaded)
    sim.run_until(40.0)
    np.testing.assert_array_equal(sim.result().spikes["cells"].times, runs[0].times)


def test_simulator_takes_only_a_compiled_network(compiled):
    target, art = compiled
    with pytest.raises(TypeError, match=rf"target '{target.name}': simulator\(\) takes the "
                                        "CompiledNetwork that compile\\(\\) returns"):
        target.simulator(art.network)


@pytest.mark.parametrize("name, limit", OVER_LIMIT)
def test_strict_raises_and_lax_records_each_limit(name, limit, tmp_path):
    options, net = LIMIT_CASES[name]()[limit]
    target = get_target(name, **options)
    with pytest.raises(MappingError) as e:
        target.compile(net)
    first = e.value.violation
    assert first is not None and first.limit == limit, str(e.value)
    assert first.message == str(e.value) and first.fix in first.message
    assert first.excess == abs(first.value - first.allowed) > 0
    art = target.compile(net, strict=False)
    assert not art.fits and first in art.violations
    assert all(v.limit in target.LIMITS for v in art.violations)
    back = load(save(art, tmp_path / "lax.spz"), expect=CompiledNetwork)  # still written
    assert back.violations == art.violations
    with pytest.raises(MappingError, match="does not fit .* a non-strict compile can be "
                                           "reported but not simulated"):
        target.simulator(art)


def test_weights_round_trip_through_set_weights(compiled):
    target, art = compiled
    sim = target.simulator(art)
    label = "drive->cells"
    w0 = np.asarray(sim.weights(label), float)
    lsb = art.numerics_of(label).lsb
    np.testing.assert_allclose(w0, 1.5, atol=lsb / 2 + 1e-6)  # one format step at most
    sim.set_weights(label, w0)
    np.testing.assert_array_equal(sim.weights(label), w0)
    new = np.linspace(0.75, 1.5, w0.size)
    sim.set_weights(label, new)
    got = np.asarray(sim.weights(label), float)
    assert np.abs(got - new).max() <= lsb / 2 * (1 + 1e-6) + 1e-6


def test_reset_keeps_learnt_or_set_weights(compiled):
    target, _ = compiled
    rule = STDPRule(tau_plus=5.0, tau_minus=5.0, A_plus=0.05, A_minus=0.05, w_max=3.0)
    net = driven()
    plastic = net.replace(projections=(net.projections[0].__class__(
        "drive->cells", "drive", "cells", net.projections[0].pre_index,
        net.projections[0].post_index, net.projections[0].weight, net.projections[0].delay,
        plasticity=rule),))
    try:
        art = target.compile(plastic)
    except MappingError as e:  # a target without on-chip plasticity says so by name
        assert re.search(r"STDP|plasticity", str(e)), str(e)
        art = target.compile(net)
        sim = target.simulator(art)
        sim.set_weights("drive->cells", np.full(48, 0.9))
        before = sim.weights("drive->cells")
    else:
        sim = target.simulator(art)
        sim.run_until(60.0)
        before = sim.weights("drive->cells")
        assert not np.allclose(before, 1.5, atol=1e-3)  # it learnt
    sim.reset()
    assert sim.t == 0.0
    np.testing.assert_array_equal(sim.weights("drive->cells"), before)


@pytest.mark.filterwarnings("ignore::DeprecationWarning:rfc3986")  # jschon's URI library
def test_report_json_validates_against_the_schema(compiled, tmp_path):
    from jschon import JSON, JSONSchema, create_catalog

    create_catalog("2020-12")
    schema = JSONSchema(json.loads(SCHEMA.read_text()))
    target, art = compiled
    sim = target.simulator(art)
    sim.run_until(40.0)
    for data in (report_data(art), report_data(art, target.measure(art, sim.result()))):
        result = schema.evaluate(JSON(json.loads(json.dumps(data))))
        assert result.valid, result.output("basic")
    path = save(art, tmp_path / "a.spz")
    out = CliRunner().invoke(main, ["report", str(path), "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert schema.evaluate(JSON(data)).valid
    assert data["target"] == target.name and data["violations"] == []
    assert data["estimate"]["source"] == "compiler"
    # a broken schema document is noticed: the test can fail
    data["estimate"]["synaptic_events_per_step"] = "ten"
    assert not schema.evaluate(JSON(data)).valid


@pytest.mark.parametrize("name", NAMES)
def test_the_source_rate_example_gives_the_same_events_per_step_everywhere(name):
    target = get_target(name)
    art = target.compile(fibres())
    assert art.estimate.synaptic_ops == pytest.approx(10.0, rel=1e-9)
    sim = target.simulator(art)
    sim.run_until(1000.0)
    measured = target.measure(art, sim.result())
    # the run delivers what the estimate said: 100 spikes x 10 fibres x 10 cells in 1000
    # steps (within the target's quantisation: no spike is lost or added here)
    assert measured.synaptic_events_per_step == pytest.approx(10.0, rel=1e-9)
    assert measured.estimate.basis == "measured"
    assert measured.estimate.synaptic_ops == pytest.approx(10.0, rel=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_recordings_match_the_reference_or_are_refused_by_name(name):
    variables = ("spikes", "v", "isyn_exc", "isyn_inh")
    ref = get_target("reference")
    for inhibitory in (False, True):
        net = driven(record=variables, inhibitory=inhibitory)
        want = ref.simulator(ref.compile(net))
        want.run_until(20.0)
        want = want.result()
        target = get_target(name)
        try:
            art = target.compile(net)
        except MappingError as e:
            assert inhibitory and name in ("loihi", "fpga"), str(e)
            assert re.match(r"Recording of 'cells'\.isyn_(exc|inh): .* one synaptic current",
                            str(e))
            continue
        sim = target.simulator(art)
        sim.run_until(20.0)
        got = sim.result()
        for variable in variables[1:]:
            a, b = want.signals[("cells", variable)], got.signals[("cells", variable)]
            assert a.times.size == 201
            np.testing.assert_allclose(b.times, a.times)
            assert b.values.shape == a.values.shape
        # the first sample is the initial state, the same on every target
        np.testing.assert_allclose(got.signals[("cells", "v")].values[0], -65.0, atol=0.05)


@pytest.mark.parametrize("name", NAMES)
def test_an_empty_network_gets_one_clear_message(name):
    for net, what in ((Network(label="void"), "no populations"),
                      (Network(sources=(_poisson("in", 3),), label="void"),
                       "only spike sources \\(in\\)")):
        with pytest.raises(MappingError, match=f"network 'void' has {what}: there are no "
                                               f"neurons to map onto {name}"):
            get_target(name).compile(net)


@pytest.mark.parametrize("name", NAMES)
def test_options_are_declared_and_a_wrong_one_names_the_valid_ones(name):
    cls = target_class(name)
    known = ", ".join(cls.OPTIONS.names())
    with pytest.raises(TargetOptionError, match=re.escape(
            f"target '{name}' has no option 'bogus'; its options are: {known}")):
        get_target(name, bogus=1)
    for opt in cls.OPTIONS:
        assert opt.help and opt.kind is not None
    out = CliRunner().invoke(main, ["info", name])
    assert out.exit_code == 0
    for opt in cls.OPTIONS:
        assert f"  {opt.name} " in out.output
    for limit in cls.LIMITS:
        assert f"  {limit} " in out.output


def test_a_cli_option_a_target_lacks_is_a_clean_error(tmp_path):
    path = save(driven(), tmp_path / "n.spnet")
    out = CliRunner().invoke(main, ["compile", "--target", "dynapse", "--board", "x", "-o",
                                    str(tmp_path / "o"), str(path)])
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "target 'dynapse' has no option 'board'; its options are: generation, chips" \
        in out.output
    out = CliRunner().invoke(main, ["compile", "--target", "fpga", "-O", "ref_bits=lots",
                                    "-o", str(tmp_path / "o"), str(path)])
    assert out.exit_code == 2 and "option ref_bits='lots' is not an integer" in out.output


@pytest.mark.parametrize("name", [n for n in NAMES if n != "reference"])
def test_lax_compile_writes_the_artifact_and_the_report_lists_every_violation(name, tmp_path):
    limit, (options, net) = next(iter(LIMIT_CASES[name]().items()))
    path = save(net, tmp_path / "over.spnet")
    args = ["compile", "--target", name, "-o", str(tmp_path / "o"), "--lax", str(path)]
    for key, value in options.items():
        if isinstance(value, (str, int, float)):
            args[1:1] = ["-O", f"{key}={value}"]
    if any(not isinstance(v, (str, int, float)) for v in options.values()):
        pytest.fail("the first case of every target needs only command-line options")
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert "DOES NOT FIT:" in out.output
    art = load(tmp_path / "o" / "compiled.spz", expect=CompiledNetwork)
    assert limit in {v.limit for v in art.violations}
    data = json.loads(CliRunner().invoke(main, ["report", str(tmp_path / "o"),
                                                "--json"]).output)
    assert data["fits"] is False and limit in {v["limit"] for v in data["violations"]}


def test_the_board_target_streams_spikes_only_and_runs_fpga_artifacts():
    """Not in TARGETS (it needs a live board): the same contract on a virtual board."""
    from toolchain.boardsim.virtual import ServedBoard
    from toolchain.runtime.board_target import BoardTarget
    from toolchain.targets.fpga.spec import TINY

    net = driven(record=("spikes", "v"))
    with ServedBoard(TINY) as served:
        board = BoardTarget(port=served.path)
        try:
            with pytest.raises(MappingError, match=r"Recording of 'cells'\.v: the board streams "
                                                   "spikes only, not state variables"):
                board.compile(net)
            spikes_only = driven()
            art = board.compile(spikes_only)
            assert art.target == "fpga" and art.fits  # an fpga artifact for the board's build
            fpga = get_target("fpga", build="tiny")
            assert fpga.compile(spikes_only) == art
            sim = board.simulator(fpga.compile(spikes_only))
            sim.run_until(40.0)
            want = fpga.simulator(art)
            want.run_until(40.0)
            np.testing.assert_array_equal(sim.result().spikes["cells"].times,
                                          want.result().spikes["cells"].times)
            assert sim.result().counters["synaptic_events"] == \
                want.result().counters["synaptic_events"] > 0
            other = get_target("fpga").compile(spikes_only)  # ice40up5k, not the board's tiny
            with pytest.raises(ValueError, match="compiled for build 'ice40up5k', but the "
                                                 "board carries 'tiny'; compile for the board's "
                                                 "build \\(-O build=tiny\\)"):
                board.simulator(other)
        finally:
            board.session.close()


@pytest.mark.parametrize("name", NAMES)
def test_a_delay_of_whole_steps_in_float32_is_not_reported_rounded(name):
    """Issue 12: 6.2 ms at dt 0.1 ms is exactly 62 steps (61.999998 in float32); fpga
    reported all 16 synapses 'rounded'.  DYNAP-SE really changes it: every delay is one
    step there."""
    pre, post = np.meshgrid(np.arange(4), np.arange(4), indexing="ij")
    proj = Projection("d", "a", "b", pre.ravel(), post.ravel(), np.full(16, 0.1),
                      np.full(16, 6.2))
    net = Network(dt=0.1, populations=(_pop("a", 4), _pop("b", 4)), projections=(proj,))
    options = {"fpga": {"build": "ecp5-85f"}, "dynapse": {"delay_tolerance": 6.2}}
    q = get_target(name, **options.get(name, {})).compile(net).numerics_of("d")
    if name == "dynapse":
        assert (q.delays_rounded, q.max_delay_steps) == (16, 1)
    else:
        assert (q.delays_rounded, q.min_delay_steps, q.max_delay_steps) == (0, 62, 62)


BIG_SCRIPT = """
import pyNN.spikeport as sim

sim.setup(timestep=0.1)
src = sim.Population(4, sim.SpikeSourceArray(spike_times=[1.0, 2.0]), label="in")
cells = sim.Population(200, sim.IF_curr_exp(), label="cells")
sim.Projection(src, cells, sim.AllToAllConnector(), sim.StaticSynapse(weight=0.5, delay=0.5))
cells.record("spikes")
sim.run(5.0)
print("ran on", sim.simulator.state.target_name, sim.simulator.state.compiled.board)
"""


def test_the_fpga_preset_is_reachable_from_every_command(tmp_path, monkeypatch):
    """200 cells do not fit the default iCE40 build; -O build=ecp5-85f makes them fit, the
    same option on pynn, compile and portability (the hint in the refusal names it)."""
    monkeypatch.chdir(tmp_path)
    script = tmp_path / "big.py"
    script.write_text(BIG_SCRIPT)
    runner = CliRunner()
    refused = runner.invoke(main, ["compile", "-t", "fpga", "-o", "c", str(script)])
    assert refused.exit_code == 1 and "-O build=ecp5-85f" in refused.output
    ran = runner.invoke(main, ["pynn", "-t", "fpga", "-O", "build=ecp5-85f", str(script)])
    assert ran.exit_code == 0, ran.output
    assert "ran on fpga ecp5-85f" in ran.output
    compiled = runner.invoke(main, ["compile", "-t", "fpga", "-O", "build=ecp5-85f", "-o",
                                    "c", str(script)])
    assert compiled.exit_code == 0 and "on fpga (ecp5-85f)" in compiled.output
    matrix = runner.invoke(main, ["portability", "--targets", "fpga", "-O",
                                  "fpga.build=ecp5-85f", "--out", "m", str(script)])
    assert matrix.exit_code == 0, matrix.output
    assert "| fpga | cells |" in matrix.output


# --------------------------------------------------------------------------- fit policies


def _fed(pop: Population, *, d: float = 1.0, receptors=("excitatory",), n_in: int = 6,
         dt: float = 0.1, w: float = 0.8) -> Network:
    """``pop`` driven by an array source through one projection per receptor."""
    src = ArraySource.from_lists("in", [np.arange(2.0, 80.0, 7.0 + k) for k in range(n_in)])
    projs = tuple(_all_to_all(f"in->{r}", "in", pop.label, n_in, pop.size,
                              w=w if r == "excitatory" else -0.3, d=d, receptor=r)
                  for r in receptors)
    return Network(dt=dt, populations=(pop,), sources=(src,), projections=projs,
                   recordings=(Recording(pop.label, "spikes", np.arange(pop.size)),),
                   label="approx")


# One network per approximation a target declares, with the options it needs: a strict
# compile refuses it and says an approximate fit would make it fit.
def _approximation_cases():
    close_taus = {"tau_m": np.linspace(19.5, 20.5, 4)}
    return {
        "reference": {},
        "loihi": {
            "parameters_merged": ({}, _fed(_pop("cells", 4, **close_taus))),
            "refractory_shortened": ({}, _fed(_pop("cells", 4, tau_refrac=7.0))),
            "delays_shortened": ({}, _fed(_pop("cells", 4), d=10.0)),
            "weights_clipped": ({}, _fed(_pop("cells", 4), w=84.0, dt=1.0)),
            "noise_uniform": ({}, _fed(_pop("cells", 4)).replace(currents=(
                NoisyCurrentSource("noise", "cells", [0, 2], mean=0.3, stdev=0.2, dt=0.5),
            ))),
        },
        "spinnaker2": {
            "delays_shortened": ({}, _fed(_pop("cells", 4), d=200.0, dt=1.0)),
            "time_step_changed": ({}, _fed(_pop("cells", 4), dt=0.01)),
        },
        "dynapse": {
            "fan_in_pruned": ({}, _fed(_pop("cells", 2), n_in=70)),
            "parameters_merged": ({}, _fed(_pop("cells", 40,
                                                tau_m=np.linspace(19.5, 20.5, 40)),
                                           n_in=2)),
            "delays_dropped": ({}, _fed(_pop("cells", 4), d=5.0)),
            "conductance_as_current": ({}, _fed(Population("cells", "IF_cond_exp", 4),
                                                w=0.01)),
            "alpha_as_exponential": ({}, _fed(Population("cells", "IF_curr_alpha", 4))),
            "subthreshold_adaptation_dropped": ({}, _fed(Population(
                "cells", "AdExp", 4, parameters={"a": 2.0},
                receptors=(PostSynapticResponse("AMPA", "curr_exp"),)), receptors=("AMPA",),
                w=0.3)),
            "time_constants_merged": ({}, _fed(Population(
                "cells", "LIF", 4, receptors=(
                    PostSynapticResponse("GABA1", "curr_exp", {"tau_syn": 10.0}),
                    PostSynapticResponse("GABA2", "curr_exp", {"tau_syn": 10.5}))),
                receptors=("GABA1", "GABA2"))),
        },
        "fpga": {
            "synaptic_decay_shared": ({}, _fed(_pop("cells", 4, tau_syn_E=5.0, tau_syn_I=10.0),
                                               receptors=("excitatory", "inhibitory"))),
            "delays_shortened": ({}, _fed(_pop("cells", 4), d=2.0)),
            "refractory_shortened": ({}, _fed(_pop("cells", 4, tau_refrac=10.0))),
        },
    }


APPROXIMATION_CASES = functools.cache(_approximation_cases)
APPROXIMATING = [(name, a) for name in NAMES for a in target_class(name).APPROXIMATIONS]


def test_every_declared_approximation_has_a_network_that_needs_it():
    cases = APPROXIMATION_CASES()
    for name in NAMES:
        assert set(cases[name]) == set(target_class(name).APPROXIMATIONS), name
    assert {name for name, _ in APPROXIMATING} >= set(NAMES) - {"reference"}


@pytest.mark.filterwarnings("ignore::DeprecationWarning:rfc3986")
@pytest.mark.parametrize("name, approximation", APPROXIMATING)
def test_strict_refuses_and_approximate_fits_with_each_approximation(name, approximation,
                                                                     tmp_path):
    from jschon import JSON, JSONSchema, create_catalog

    from toolchain.compiler.report import render_report

    options, net = APPROXIMATION_CASES()[name][approximation]
    with pytest.raises(MappingError) as e:
        get_target(name, **options).compile(net)
    assert "fit='approximate' (--fit approximate, -O fit=approximate)" in str(e.value)
    target = get_target(name, fit="approximate", **options)
    art = target.compile(net)
    assert art.fits and art.fit == "approximate" and art.options["fit"] == "approximate"
    assert {a.name for a in art.approximations} <= set(target.APPROXIMATIONS)
    (applied,) = [a for a in art.approximations if a.name == approximation]
    assert applied.neurons + applied.synapses > 0 and applied.detail
    assert applied.limit in ("", *target.LIMITS)
    assert applied.label in {n.label for n in (net, *net.populations, *net.projections,
                                               *net.currents)}
    text = render_report(art)
    assert "Approximations applied (fit=approximate" in text
    assert f"  - {approximation}: {applied.subject}" in text
    create_catalog("2020-12")
    data = json.loads(json.dumps(report_data(art)))
    assert JSONSchema(json.loads(SCHEMA.read_text())).evaluate(JSON(data)).valid
    assert data["fit"] == "approximate"
    assert approximation in {a["name"] for a in data["approximations"]}
    # the artifact keeps what was approximated, and runs the same after a round trip
    loaded = load(save(art, tmp_path / "approx.spz"), expect=CompiledNetwork)
    assert loaded == art and loaded.approximations == art.approximations
    runs = []
    for a in (art, loaded):
        sim = target_for(a).simulator(a)
        sim.run_until(60.0)
        runs.append(sim.result().spikes["cells"])
    np.testing.assert_array_equal(runs[0].times, runs[1].times)
    # an approximated artifact is not the strict target's: it says how to run it
    with pytest.raises(ValueError, match="'fit': 'approximate'"):
        get_target(name, **options).simulator(art)


@pytest.mark.parametrize("name", NAMES)
def test_fit_is_an_option_of_every_target_and_a_fitting_network_needs_nothing(name):
    import toolchain
    from toolchain.compiler.report import render_report

    cls = target_class(name)
    assert cls.OPTIONS.declared["fit"].allowed() == ("strict", "approximate")
    with pytest.raises(TargetOptionError, match="option fit='loose' is not allowed; fit "
                                                "takes one of: strict, approximate"):
        get_target(name, fit="loose")
    art = toolchain.compile(driven(), name, fit="approximate")
    assert art.approximations == () and art.fit == "approximate"
    assert "Approximations (fit=approximate): none needed" in render_report(art)
    assert toolchain.compile(driven(), name).fit == "strict"
    assert report_data(toolchain.compile(driven(), name))["approximations"] == []
