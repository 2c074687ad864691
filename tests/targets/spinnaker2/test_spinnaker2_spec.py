import pytest

from toolchain.targets import TargetOptionError
from toolchain.targets.spinnaker2 import SpiNNaker2Target, board_named
from toolchain.targets.spinnaker2.spec import SpecError, SpiNNaker2Spec, board48


def test_defaults_follow_the_facts_sheet():
    spec = SpiNNaker2Spec()
    assert (spec.pes_per_chip, spec.sram_per_pe, spec.router_entries, spec.chip_links) == (
        152, 128 * 1024, 16_384, 6)
    assert spec.neurons_per_pe == 250 and spec.ring_buffer_ticks == 16
    assert spec.data_bytes_per_pe == 128 * 1024 - spec.code_and_stack_bytes
    assert spec.max_delay_ticks == 15 and spec.max_extended_delay_ticks == 15 * 9


def test_board_sizes():
    assert board48().n_chips == 48
    assert SpiNNaker2Spec(board=board48()).n_pes == 48 * 151
    big = board_named("10x10")
    assert (big.width, big.height, big.torus) == (10, 10, True)


@pytest.mark.parametrize("changes, message", [
    ({"ring_buffer_ticks": 48}, "ring_buffer_ticks = 48 must be a power of two in [2, 64]"),
    ({"ring_buffer_ticks": 128}, "ring_buffer_ticks = 128 must be a power of two in [2, 64]"),
    ({"tick_ms": 0.5}, "tick_ms = 0.5 ms is not a supported timer tick; use 1.0 or 0.1"),
    ({"reserved_pes_per_chip": 152}, "reserved_pes_per_chip = 152 must be in [0, 151]"),
    ({"code_and_stack_bytes": 200_000}, "code_and_stack_bytes = 200000 must be in [0, 131072)"),
    ({"numerics": "float64"}, "numerics 'float64' is not supported; use 's16.15' or 'float32'"),
    ({"late_spikes": "keep"}, "late_spikes 'keep' is not supported; use 'drop' or 'defer'"),
    ({"neurons_per_pe": 0}, "neurons_per_pe must be a positive integer, got 0"),
    ({"fit_tick": "yes"}, "fit_tick must be True or False, got 'yes'"),
    ({"planned_rate_hz": -1.0}, "planned_rate_hz must be a rate >= 0 Hz, got -1.0"),
])
def test_impossible_specs_are_refused(changes, message):
    with pytest.raises(SpecError) as e:
        SpiNNaker2Spec(**changes)
    assert message in str(e.value)


def test_target_options_are_checked_at_construction():
    with pytest.raises(SpecError, match="unknown spinnaker2 board 'huge'; use one of: 1-chip"):
        SpiNNaker2Target(board="huge")
    with pytest.raises(TargetOptionError, match="target 'spinnaker2' option numerics='int8' is "
                       "not allowed; numerics takes one of: s16.15, float32"):
        SpiNNaker2Target(numerics="int8")
    with pytest.raises(TargetOptionError, match="target 'spinnaker2' has no option 'build'; "
                       "its options are: board, tick_ms, neurons_per_pe"):
        SpiNNaker2Target(build="x")
    assert SpiNNaker2Target(board="48-chip", neurons_per_pe=128).spec_for(None).n_pes == 48 * 151
    with pytest.raises(SpecError, match="ring_buffer_ticks = 100"):
        SpiNNaker2Target(ring_buffer_ticks=100)
