"""Golden model: hand-derived cases of each rule of the update order (spec.py)."""

import dataclasses

import numpy as np
import pytest

from toolchain.targets.fpga.image import CoreImage, StdpParams
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import TINY, Op, SpecError


def neurons(n, **over):
    base = {"v_thresh": 35, "v_reset": 0, "bias": 0, "leak_shift": 15, "syn_shift": 15,
            "refrac": 0}
    base.update(over)
    return {k: np.full(n, v) for k, v in base.items()}


def image(n=1, n_inputs=1, syn=(), stdp=None, **over):
    """syn: (source, target, weight, delay, plastic) tuples; sources >= n are inputs."""
    cols = list(zip(*syn, strict=True)) if syn else [[]] * 5
    img, _ = CoreImage.from_synapses(neurons=neurons(n, **over), n_inputs=n_inputs,
                                     source=cols[0], target=cols[1], weight=cols[2],
                                     delay=cols[3], plastic=cols[4], stdp=stdp)
    return img


def spike_steps(core, steps, inputs=None):
    inputs = inputs or {}
    return [k for k in range(steps) if core.step(inputs.get(k, ())).size]


def test_bias_integrates_to_threshold_then_refractory_holds():
    # no leak (v >>> 15 is 0 for these small v): v = 10, 20, 30, 40 -> spike at step 3,
    # then 2 refractory steps, then 4 more steps to threshold
    core = CoreModel(TINY)
    core.load(image(bias=10, refrac=2))
    assert spike_steps(core, 16) == [3, 9, 15]


def test_leak_is_a_shift_that_rounds_to_nearest():
    core = CoreModel(TINY)
    core.load(image(bias=0, leak_shift=1, v_thresh=1000))
    core.v[0] = -7
    core.step()
    assert core.v[0] == -7 - (-3)  # -3.5 rounds half up to -3 (a floor would give -4)
    core.v[0] = 7
    core.step()
    assert core.v[0] == 7 - 4  # 3.5 rounds to 4


def test_current_decay_dead_zone_is_symmetric():
    # with a floor, a positive current below 2**k never decays while a negative one does:
    # a lasting excitatory drive after every small input.  Rounded, both signs stop at
    # |i| < 2**(k-1) and everything above keeps decaying
    core = CoreModel(TINY)
    core.load(image(bias=0, syn_shift=3, v_thresh=1000))
    settled = {}
    for start in (7, -7, 20, -20):
        core.i[0] = start
        for _ in range(50):
            core.step()
        settled[start] = int(core.i[0])
    # a floor would leave 7 at 7 (7 >>> 3 == 0) and take -7 to 0
    assert settled == {7: 3, -7: -4, 20: 3, -20: -4}
    core.i[0] = 7
    core.step()
    assert core.i[0] == 6  # 7 / 8 = 0.875 rounds to 1


def test_input_spike_arrives_after_its_delay():
    core = CoreModel(TINY)
    core.load(image(syn=[(1, 0, 31, 3, False)], v_thresh=30, syn_shift=0))  # axon 0 = source 1
    assert spike_steps(core, 6, {0: [0]}) == [3]


def test_current_saturates_at_the_current_width():
    core = CoreModel(TINY)
    core.load(image(v_thresh=TINY.signed_range("v")[1], n_inputs=8,
                    syn=[(1 + a, 0, 31, 1, False) for a in range(8)] * 8))  # 1984 per step
    for _ in range(4):
        core.step(range(8))
    assert core.i[0] == TINY.signed_range("i")[1]


def test_potentiation_uses_the_pre_trace_of_the_previous_step():
    # pre spike at 0: trace 32 after step 0, 32 - 16 = 16 after step 1; the post neuron
    # spikes at step 2 (delay 2): dw = 16 >> 2 = 4
    stdp = StdpParams(enable=True, pre_decay_shift=1, post_decay_shift=1,
                      potentiate_shift=2, depress_shift=2, trace_increment=32,
                      w_min=0, w_max=31)
    core = CoreModel(TINY)
    core.load(image(syn=[(1, 0, 20, 2, True)], stdp=stdp, v_thresh=20))
    assert spike_steps(core, 3, {0: [0]}) == [2]
    assert core.weights()[0] == 24


def test_depression_uses_the_post_trace_and_clamps_at_w_min():
    # the neuron fires at step 0 from its bias; the pre spike at step 1 sees y = 32 from
    # step 0: dw = -(32 >> 1) = -16, clamped at w_min = 2
    stdp = StdpParams(enable=True, pre_decay_shift=1, post_decay_shift=1,
                      potentiate_shift=2, depress_shift=1, trace_increment=32,
                      w_min=2, w_max=31)
    core = CoreModel(TINY)
    core.load(image(syn=[(1, 0, 10, 1, True)], stdp=stdp, bias=40, refrac=7))
    spike_steps(core, 2, {1: [0]})
    assert core.weights()[0] == 2


def test_static_synapses_do_not_learn():
    stdp = StdpParams(enable=True, potentiate_shift=0, depress_shift=0, trace_increment=32)
    core = CoreModel(TINY)
    core.load(image(syn=[(1, 0, 20, 1, False)], stdp=stdp, v_thresh=20))
    spike_steps(core, 10, {k: [0] for k in range(10)})
    assert core.weights()[0] == 20


def test_unwritten_neurons_stay_silent():
    core = CoreModel(TINY)
    assert all(core.step().size == 0 for _ in range(20))


def test_commands_load_the_same_core_as_load():
    rng = np.random.default_rng(1)
    syn = [(int(rng.integers(0, 10)), int(rng.integers(0, 4)), int(rng.integers(-20, 20)),
            int(rng.integers(1, 4)), bool(rng.integers(0, 2))) for _ in range(30)]
    img = image(n=4, n_inputs=6, syn=syn, bias=7, stdp=StdpParams(enable=True))
    a, b = CoreModel(TINY), CoreModel(TINY)
    a.load(img)
    for op, addr, data in img.commands(TINY):
        b.execute(op, addr, data)
    inputs = [rng.choice(6, size=2, replace=False) for _ in range(30)]
    assert [s.tolist() for s in a.run(inputs)] == [s.tolist() for s in b.run(inputs)]
    assert np.array_equal(a.weights(), b.weights())
    word = b.execute(Op.READ_SYNAPSE, 0)
    assert TINY.unpack("synapse", word, signed=("weight",))["weight"] == a.weights()[0]


def test_accumulator_overflow_is_refused_with_the_neuron_and_delay():
    syn = [(1, 0, 31, 2, False)] * 70  # 70 * 31 = 2170 > 2047 (12-bit accumulator)
    with pytest.raises(SpecError, match=r"neuron 0 can receive 2170 weight units in one step "
                       r"through its delay-2 synapses; the 12-bit ring accumulator holds 2047"):
        image(syn=syn).check(TINY)


def test_input_axon_out_of_range_is_refused():
    core = CoreModel(TINY)
    with pytest.raises(SpecError, match=r"input axon 8 is outside 0\.\.7"):
        core.step([8])


@pytest.mark.parametrize("frac", [0, 4])
def test_fractional_current_bits_shrink_the_decay_residue_below_one_voltage_lsb(frac):
    # one input of weight 5 into a current decaying by shift 4.  Without fractional bits
    # the current stays at 5 (below 2**3, rnd(5, 4) = 0) and drives v for ever; with 4 bits
    # below the voltage LSB it is 80 and decays to under 8 (half a voltage LSB per step,
    # rounded away), and since v gains each step what the current loses the next, v ends
    # at exactly what the current lost: 80 less its residue, of a charge of 5 x 2**4
    spec = dataclasses.replace(TINY, i_bits=16, v_bits=16, acc_bits=12, i_frac=frac)
    core = CoreModel(spec)
    core.load(image(syn=[(1, 0, 5, 1, False)], syn_shift=4, v_thresh=2000))
    core.step([0])
    v = [int(core.v[0]) for _ in range(200) if core.step() is not None]
    if frac == 0:
        assert core.i[0] == 5 and v[-1] - v[-2] == 5  # still charging
    else:
        assert 0 < core.i[0] < 8 and v[-1] == v[-2]
        assert v[-1] == 80 - core.i[0]


def test_a_two_current_core_keeps_the_inhibitory_input_apart():
    spec = dataclasses.replace(TINY, receptors=2)
    img, _ = CoreImage.from_synapses(
        neurons={**neurons(1, syn_shift=1, v_thresh=1000), "syn_shift_inh": np.zeros(1)},
        n_inputs=2, source=[1, 2], target=[0, 0], weight=[8, -6], delay=[1, 1],
        plastic=[False, False], inh=[False, True])
    core = CoreModel(spec)
    core.load(img)
    core.step([0, 1])
    core.step()  # both arrive: i = 8 (decays by halves), i_inh = -6 (one step only)
    assert (core.i[0], core.i_inh[0], core.v[0]) == (8, -6, 2)
    core.step()
    assert (core.i[0], core.i_inh[0], core.v[0]) == (4, 0, 6)
    # the READ_STATE word carries both currents
    word = core.execute(Op.READ_STATE, 0)
    assert spec.unpack("neuron_state", word, signed=("v", "i", "i_inh"))["i_inh"] == 0
