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
