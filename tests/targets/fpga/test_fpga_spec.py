"""The core's spec: parameter checks, word layouts, presets."""

import dataclasses

import pytest

from toolchain.targets.fpga.spec import (
    ECP5_85F,
    ECP5_85F_2K,
    ECP5_85F_EI,
    ICE40UP5K,
    ICE40UP5K_SPRAM,
    PRESETS,
    SIGNED_FIELDS,
    TINY,
    CoreSpec,
    SpecError,
    preset,
)


def test_out_of_range_parameter_is_named_with_its_limit():
    with pytest.raises(SpecError, match=r"CoreSpec delay_bits = 9 is outside 1\.\.6 \(delay "
                       r"ring of 2\.\.64 slots"):
        CoreSpec(delay_bits=9)


def test_non_integer_parameter_is_refused():
    with pytest.raises(SpecError, match=r"CoreSpec n_neurons must be an integer, got 1\.5"):
        CoreSpec(n_neurons=1.5)


def test_weight_wider_than_accumulator_is_refused():
    with pytest.raises(SpecError, match="acc_bits = 6 is narrower than w_bits = 8"):
        CoreSpec(w_bits=8, acc_bits=6)


@pytest.mark.parametrize("spec", list(PRESETS.values()), ids=list(PRESETS))
def test_pack_unpack_round_trip_with_signed_fields(spec):
    lo, hi = spec.signed_range("w")
    inh = {"inh": 1} if spec.receptors == 2 else {}
    for weight in (lo, -1, 0, hi):
        word = spec.pack("synapse", target=spec.n_neurons - 1, weight=weight,
                         delay=spec.max_delay, plastic=1, **inh)
        assert word < 1 << spec.width("synapse")
        back = spec.unpack("synapse", word, signed=("weight",))
        assert back == {"target": spec.n_neurons - 1, "weight": weight,
                        "delay": spec.max_delay, "plastic": 1, **inh}
    if spec.receptors == 2:  # the inhibitory current and its decay round-trip too
        i_lo = spec.signed_range("i")[0]
        word = spec.pack("neuron_state", v=-1, i=3, ref=1, i_inh=i_lo)
        assert spec.unpack("neuron_state", word, signed=SIGNED_FIELDS["neuron_state"]) == \
            {"v": -1, "i": 3, "ref": 1, "i_inh": i_lo}


def test_one_current_builds_keep_their_word_layouts():
    # the inhibitory fields are appended on two-current builds only
    assert [f for f, _ in ICE40UP5K.layout("synapse")] == ["target", "weight", "delay",
                                                           "plastic"]
    assert ICE40UP5K.width("neuron_state") == 16 + 16 + 5
    assert ECP5_85F.width("neuron_state") == 18 + 18 + 6
    assert ECP5_85F_EI.width("neuron_state") == 18 + 24 + 6 + 24
    assert ECP5_85F_EI.memory_bits()["ring"] == 2 * 32 * 1024 * 18


def test_pack_refuses_a_value_too_wide_for_its_field():
    with pytest.raises(SpecError, match=r"synapse field delay = 4 does not fit 2 bits"):
        TINY.pack("synapse", delay=4)


def test_ecp5_preset_ring_fits_what_its_single_current_ring_took():
    # two 32-slot accumulators take the bits one 64-slot accumulator took (DP16KD budget)
    assert ECP5_85F_EI.memory_bits()["ring"] == ECP5_85F.memory_bits()["ring"]
    assert dataclasses.replace(ECP5_85F_EI, receptors=1, delay_bits=6, i_bits=18,
                               i_frac=0) == ECP5_85F


def test_ice40_preset_memories_fit_the_up5k_block_ram():
    # 30 EBR x 4 kbit (iCE40 UltraPlus data sheet)
    assert sum(ICE40UP5K.memory_bits().values()) <= 30 * 4096


def test_unknown_preset_lists_known_ones():
    with pytest.raises(SpecError, match="unknown core preset 'up5k'; known presets: tiny, "
                       "ice40up5k, ecp5-85f, ecp5-85f-ei"):
        preset("up5k")


def test_capacity_presets_meet_their_targets_and_their_memories():
    # issue targets: >= 256 neurons / 32768 synapses on the UP5K, >= 2048 / 131072 on the
    # ECP5-85F
    up5k, ecp5 = ICE40UP5K_SPRAM, ECP5_85F_2K
    assert (up5k.n_neurons, up5k.n_synapses) >= (256, 32768)
    assert (ecp5.n_neurons, ecp5.n_synapses) >= (2048, 131072)
    # the UP5K's synapse words fill two SB_SPRAM256KA (16K x 16 bit) exactly: 8-bit target
    assert up5k.layout("synapse")[0] == ("target", 8)
    assert up5k.width("synapse") == 16 and up5k.n_synapses == 2 * 16384
    # what stays in EBR fits the UP5K's 30 x 4 kbit
    assert sum(b for k, b in up5k.memory_bits().items() if k != "synapses") <= 30 * 4096
    # the ECP5's synapse word: 18 bits in 2K x 9 blocks (128 DP16KD) and 3 in 16K x 1 (24)
    assert ecp5.width("synapse") == 21
    assert sum(ecp5.memory_bits().values()) <= 208 * 18 * 1024
