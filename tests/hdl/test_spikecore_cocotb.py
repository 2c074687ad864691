"""Whole-core cocotb verification on Icarus Verilog and Verilator: random networks and
input trains, every output spike, final weight, final neuron state and the cycles of every
step compared bit for bit with the golden model (hdl/spikecore/tb/spikecore_tb.py)."""

import pytest

from hdl.spikecore.verify import VERIFY_SPECS, simulator_available, verify

pytestmark = pytest.mark.hdl


def _require(simulator):
    reason = simulator_available(simulator)
    if reason:
        pytest.skip(f"{simulator} unavailable: {reason}")


@pytest.mark.parametrize("spec_name,stdp,seed", [("tiny", True, 1), ("small", False, 2),
                                                 ("odd", True, 3)])
def test_icarus_core_matches_the_golden_model(spec_name, stdp, seed):
    _require("icarus")
    result = verify(VERIFY_SPECS[spec_name], "icarus", seed=seed, steps=20, stdp=stdp)
    assert result.passed, f"mismatches: see {result.results_xml} and the log above"


@pytest.mark.slow
def test_verilator_core_matches_the_golden_model():
    _require("verilator")
    result = verify(VERIFY_SPECS["odd"], "verilator", seed=4, steps=30, stdp=True)
    assert result.passed, f"mismatches: see {result.results_xml} and the log above"
