from dataclasses import dataclass

import numpy as np

from toolchain.compiler.pipeline import Build
from toolchain.compiler.quantise import quantise
from toolchain.ir import Network, Population, Projection
from toolchain.targets.base import SynapseFormat

# an 8-bit weight format with 8 exponents, like nengo-loihi's discretisation
FORMAT = SynapseFormat(weight_bits=8, min_exponent=-7, max_exponent=0, weight_shift=6,
                       max_delay_steps=62)


@dataclass(frozen=True)
class _Spec:
    """The one part of a target spec the generic quantise pass reads."""

    synapses: SynapseFormat = FORMAT


def _numerics(*projections: Projection, dt: float = 0.1):
    pops = (Population("a", "IF_curr_exp", 10), Population("b", "IF_curr_exp", 10))
    net = Network(dt=dt, populations=pops, projections=projections)
    build = Build(network=net, spec=_Spec(), board="none")
    return quantise(build).numerics


def _proj(label: str, weights, delays=None, pre="a") -> Projection:
    n = len(weights)
    idx = np.arange(n) % 10
    return Projection(label, pre, "b", idx, idx, weights,
                      np.ones(n) if delays is None else delays)


def test_largest_weight_is_exact_and_error_is_within_half_a_step():
    w = np.linspace(0.01, 1.0, 50)
    (q,) = _numerics(_proj("p", w))
    assert q.saturated == 0 and q.zeroed == 0
    assert q.max_mantissa == 255  # one sign: all 8 bits are magnitude
    stored = np.clip(np.rint(w / q.lsb), -255, 255) * q.lsb
    assert abs(stored[-1] - 1.0) < 1e-6
    assert q.max_abs_error <= q.lsb / 2 * (1 + 1e-5)
    assert np.max(np.abs(stored - w)) <= q.max_abs_error * (1 + 1e-5) + 1e-9


def test_mixed_signs_lose_one_bit():
    (q,) = _numerics(_proj("p", [0.5, -1.0, 0.25]))
    assert q.max_mantissa == 127


def test_weak_projection_next_to_a_strong_one_loses_small_weights():
    # both projections feed 'b', which has one current scale; 2**7 exponent steps are not
    # enough to keep weights 10^5 times smaller than the largest
    strong = _proj("strong", np.full(10, 10.0))
    weak = _proj("weak", np.array([1e-4] * 4 + [0.0] * 2 + [1e-2] * 4))
    qs, qw = _numerics(strong, weak)
    assert qs.zeroed == 0
    assert qw.exponent == FORMAT.min_exponent
    assert qw.zeroed == 4  # the four 1e-4 weights, not the two that were zero already


def test_delays_become_whole_steps_and_rounding_is_counted():
    (q,) = _numerics(_proj("p", np.ones(4), delays=[0.1, 0.75, 1.0, 1.26]))
    assert (q.min_delay_steps, q.max_delay_steps) == (1, 13)
    assert q.delays_rounded == 2
    assert abs(q.max_delay_error - 0.05) < 1e-5
    assert q.delay_bits == (13 - 1).bit_length()
