import numpy as np

from toolchain.compiler.quantise import delay_steps


def test_delays_become_whole_steps_and_rounding_is_counted():
    lo, hi, rounded, worst = delay_steps(np.array([0.1, 0.75, 1.0, 1.26], dtype=np.float32),
                                         0.1)
    assert (lo, hi) == (1, 13)
    assert rounded == 2
    assert abs(worst - 0.05) < 1e-5


def test_no_delays_are_one_step_and_nothing_rounded():
    assert delay_steps(np.zeros(0, dtype=np.float32), 0.1) == (1, 1, 0, 0.0)
