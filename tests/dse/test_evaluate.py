import re
from pathlib import Path

import pytest

from toolchain.dse.evaluate import core_spec, cosimulate
from toolchain.ir import ArraySource, Network, Population, Projection

EI = str(Path(__file__).resolve().parents[2] / "examples" / "ei_network.py")


def two_cells() -> Network:
    src = ArraySource.from_lists("in", [[5.0, 10.0, 15.0, 20.0, 25.0]])
    pop = Population("out", "IF_curr_exp", 2, parameters={"tau_syn_E": 5.0, "tau_syn_I": 5.0})
    proj = Projection("in->out", "in", "out", [0, 0], [0, 1], [3.0, 3.0], [1.0, 1.0])
    return Network(populations=(pop,), sources=(src,), projections=(proj,))


def test_reference_against_itself_deviates_by_nothing():
    m = cosimulate({"network": "tests.dse.test_evaluate:two_cells", "target": "reference",
                    "t_stop": 50.0})
    assert m["rate_ref_hz"] > 0
    assert m["rate_error"] == 0.0 and m["van_rossum"] == 0.0


def test_script_network_on_loihi_reports_cost_and_deviation():
    m = cosimulate({"network": EI, "args": "spikeport --n 16", "target": "loihi",
                    "t_stop": 100.0})
    assert m["neurons"] == 16 and m["energy_nj_per_step"] > 0
    assert m["hw_latency_us_per_step"] > 0 and 0 <= m["rate_error"] < 1


def test_target_refusal_is_an_error_with_the_reason():
    with pytest.raises(RuntimeError, match="fpga refused the network: .*n_neurons"):
        cosimulate({"network": EI, "args": "spikeport --n 64", "target": "fpga",
                    "core": "tiny", "t_stop": 20.0})


def test_bad_parameters_are_named():
    with pytest.raises(ValueError, match="parameter 'network' is missing"):
        cosimulate({"target": "loihi"})
    with pytest.raises(ValueError, match="core.lut_count is not a core parameter"):
        core_spec({"core.lut_count": 3})
    spec = core_spec({"core": "tiny", "core.w_bits": 4})
    assert spec.w_bits == 4 and spec.n_neurons == core_spec({"core": "tiny"}).n_neurons


# ------------------------------------------------------- a sweep checked before it runs


def sweep_of(axes=None, fixed=None, objectives=None, drop=()):
    """A cosimulate sweep over two targets; ``axes``/``fixed``/``objectives`` add to or
    replace its entries, ``drop`` removes fixed ones."""
    from toolchain.dse import Axis, Objective, Sweep

    axes = {"target": ("loihi", "dynapse"), **(axes or {})}
    fixed = {"network": EI, "args": "spikeport --n 16", "t_stop": 20.0, **(fixed or {})}
    for key in drop:
        fixed.pop(key)
    objectives = {"energy_nj_per_step": "min", "rate_error": "min", **(objectives or {})}
    return Sweep("s", "toolchain.dse.evaluate:cosimulate",
                 tuple(Axis(k, v) for k, v in axes.items()), fixed=fixed,
                 objectives=tuple(Objective(m, s) for m, s in objectives.items()))


TAKES = ("it takes network, args, target, t_stop, core, synth, board, and opt.<name> (a "
         "target option), core.<name> (a core field), net.<name> (an argument of a network "
         "function)")


@pytest.mark.parametrize("change, message", [
    ({"axes": {"target": ("loihi", "lohi")}},
     "axis 'target' value [1] = 'lohi' is not a target; targets: reference, loihi, "
     "spinnaker2, dynapse, fpga"),
    ({"axes": {"targt": ("loihi",)}}, f"axis 'targt' is not a parameter of cosimulate; {TAKES}"),
    ({"fixed": {"t_sotp": 5.0}}, f"fixed parameter 't_sotp' is not a parameter of cosimulate; "
                                 f"{TAKES}"),
    ({"objectives": {"energy_per_step_nj": "min"}},
     "objective 'energy_per_step_nj' is not a metric toolchain.dse.evaluate:cosimulate "
     "reports for this sweep; its metrics: energy_nj_per_step, energy_nj_per_step_estimate, "
     "hw_latency_us_per_step, isi_distortion_ms, neurons, rate_error, rate_hz, rate_ref_hz, "
     "route_latency_ns_max, route_latency_ns_mean, sim_ms_per_step, spike_disorder, "
     "spikes_dropped, spikes_shifted, synapses, synaptic_events_per_step, van_rossum"),
    ({"fixed": {"network": "examples.networks:balanced"}, "drop": ["args"]},
     "network 'examples.networks:balanced': cannot import module 'examples.networks'"),
    ({"fixed": {"network": "no/such/net.py"}},
     "fixed parameter 'network' = 'no/such/net.py' names no file"),
    ({"fixed": {"opt.learning_epok": 2}, "axes": {"target": ("loihi",)}},
     "fixed parameter 'opt.learning_epok' is not an option of target 'loihi'; it takes "
     "opt.board, opt.fit, opt.learning_epoch, opt.learning_seed"),
    ({"fixed": {"core": "ice40"}}, "fixed parameter 'core' = 'ice40' is not a core preset; "
                                   "presets: tiny, ice40up5k, ecp5-85f"),
    ({"axes": {"core.w_bits": (8, 1)}}, "axis 'core.w_bits' value [1] = 1 gives no valid "
                                        "core: CoreSpec w_bits = 1 is outside 2..16"),
    ({"fixed": {"core.wbits": 4}}, "fixed parameter 'core.wbits' is not a core field; "
                                   "fields: core.acc_bits"),
    ({"fixed": {"board": "icebraker"}}, "fixed parameter 'board' = 'icebraker' is not a "
                                        "board; boards: icebreaker, ulx3s"),
    ({"fixed": {"net.n": 4}}, "fixed parameter 'net.n' is for a network function; a script "
                              "takes 'args'"),
])
def test_a_sweep_is_refused_before_any_point_runs(tmp_path, change, message):
    from toolchain.dse import SweepError, run_sweep

    sweep = sweep_of(**change)
    with pytest.raises(SweepError) as e:
        run_sweep(sweep, tmp_path / "out", progress=False)
    assert str(e.value).startswith(message), str(e.value)
    assert not (tmp_path / "out").exists()  # nothing ran, nothing was written


def test_network_function_arguments_are_checked(tmp_path):
    from toolchain.dse import SweepError, run_sweep

    fn = "tests.dse.test_evaluate:two_cells"
    with pytest.raises(SweepError, match="fixed parameter 'net.size' is not an argument of "
                                         f"{fn}; it takes none"):
        run_sweep(sweep_of(fixed={"network": fn, "net.size": 3}, drop=["args"]), tmp_path)
    with pytest.raises(SweepError, match="fixed parameter 'args' is for a PyNN script"):
        run_sweep(sweep_of(fixed={"network": fn}), tmp_path)


def test_a_script_network_gets_the_backend_name_by_default():
    with_default = cosimulate({"network": EI, "target": "reference", "t_stop": 20.0})
    assert with_default["neurons"] == 64  # ei_network.py's own default size: it parsed argv


@pytest.mark.parametrize("target", ["reference", "loihi", "spinnaker2", "dynapse", "fpga"])
def test_the_declared_metrics_are_the_reported_ones(target):
    from toolchain.dse.evaluate import metrics

    params = {"network": EI, "args": "spikeport --n 16", "target": target, "t_stop": 20.0}
    assert set(cosimulate(params)) == metrics(params)


def test_a_synthesis_that_does_not_fit_says_by_how_much(tmp_path, monkeypatch):
    """The place-and-route flow stands in by what it leaves behind when the design does
    not fit (nextpnr's log, a failed build script): the point's error is nextpnr's count
    and the sweep parameters that change it, not 'CalledProcessError: ... exit status 125'."""
    import hdl.board as board
    from tests.hdl.test_bench_fpga import OVERFULL_ICE40
    from tests.hdl.test_spikecore_board import _flow_leaving

    monkeypatch.setattr(board, "_run_flow", _flow_leaving(OVERFULL_ICE40))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(board.DoesNotFit, match=re.escape(
            "core build 'ice40up5k-custom' (128 neurons, 1024 synapses) with the protocol "
            "device does not fit the icebreaker: ICESTORM_LC 8494/5280 (160 %, 3214 over), "
            "ICESTORM_RAM 25/30 (83 %); make the point's core smaller (core.n_neurons, "
            "core.n_synapses, core.w_bits, ...) or choose another board (board: ulx3s)")):
        cosimulate({"network": EI, "args": "spikeport --n 16", "target": "fpga",
                    "core.w_bits": 6, "synth": True, "t_stop": 20.0})
