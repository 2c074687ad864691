"""Whole-core cocotb verification on Icarus Verilog and Verilator: random networks and
input trains, every output spike, final weight, final neuron state and the cycles of every
step compared bit for bit with the golden model (hdl/spikecore/tb/spikecore_tb.py)."""

import logging

import pytest
from click.testing import CliRunner

from hdl.spikecore.tb.spikecore_tb import Scoreboard
from hdl.spikecore.verify import (
    VERIFY_SPECS,
    simulator_available,
    verify,
    verify_word_memory,
)
from toolchain.cli import main

pytestmark = pytest.mark.hdl


def _require(simulator):
    reason = simulator_available(simulator)
    if reason:
        pytest.skip(f"{simulator} unavailable: {reason}")


@pytest.mark.parametrize("spec_name,stdp,seed,stall,spram", [
    ("tiny", True, 1, 0.0, False), ("small", False, 2, 0.0, False),
    ("odd", True, 3, 0.0, False),
    ("small", True, 6, 0.4, False),  # back-pressure on both spike streams
    # the iCE40UP build: synapses in SB_SPRAM256KA (odd's 17-bit word: two side by side),
    # simulated by yosys's model of the cell, STDP write-backs sharing its one port
    ("odd", True, 5, 0.2, True),
])
def test_icarus_core_matches_the_golden_model(spec_name, stdp, seed, stall, spram):
    _require("icarus")
    result = verify(VERIFY_SPECS[spec_name], "icarus", seed=seed, steps=20, stdp=stdp,
                    stall=stall, spram=spram)
    assert result.passed, f"mismatches: see {result.results_xml} and the log above"


def test_spram_word_memory_over_several_tiles_matches_a_dictionary():
    """40000 words of 21 bits: three tiles deep, two wide, on yosys's SPRAM model."""
    _require("icarus")
    result = verify_word_memory(21, 40000, "icarus", seed=2)
    assert result.passed, f"mismatches: see {result.results_xml} and the log above"


@pytest.mark.slow
def test_verilator_core_matches_the_golden_model():
    _require("verilator")
    result = verify(VERIFY_SPECS["odd"], "verilator", seed=4, steps=30, stdp=True)
    assert result.passed, f"mismatches: see {result.results_xml} and the log above"


def test_scoreboard_reports_the_first_mismatch_with_step_and_neuron():
    board = Scoreboard(logging.getLogger("test"))
    board.spikes(0, [1, 2], [1, 2])
    board.spikes(3, [1, 4], [1])
    board.value("weight", "synapse 7 (2 -> 4)", 12, 13)
    with pytest.raises(AssertionError, match=r"2 mismatches; first: step 3, neuron 4: model "
                       r"spikes \[1, 4\], RTL spikes \[1\]"):
        board.check()


@pytest.mark.slow
def test_hdl_verify_command_runs_the_testbench():
    _require("icarus")
    result = CliRunner().invoke(main, ["hdl", "verify", "--simulator", "icarus", "--spec",
                                       "small", "--steps", "8", "--seed", "9"])
    assert result.exit_code == 0, result.output
    assert "icarus     small  pass" in result.output
