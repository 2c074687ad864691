"""Small core images and input patterns for the runtime tests, and the golden model's
answer for them."""

from __future__ import annotations

import numpy as np
import pytest

# The HIL fixtures come from the pytest11 plugin once spikeport is installed; importing them
# here keeps these tests runnable from a checkout that has not been reinstalled yet.
from toolchain.runtime.pytest_plugin import BoardEndpoint, board, board_session  # noqa: F401
from toolchain.targets.fpga.image import CoreImage, StdpParams
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import CoreSpec


def random_image(spec: CoreSpec, seed: int, *, stdp: bool = True, n_synapses: int = 60,
                 bias: int = 0) -> CoreImage:
    """A core image that fires a fair amount from modest input: random sparse synapses, half
    of them plastic, every weight positive so activity spreads."""
    rng = np.random.default_rng(seed)
    n, ni = spec.n_neurons - 4, spec.n_inputs - 2
    neurons = {
        "v_thresh": rng.integers(120, 220, n), "v_reset": np.zeros(n, np.int64),
        "bias": np.full(n, bias), "leak_shift": np.full(n, 3), "syn_shift": np.full(n, 2),
        "refrac": rng.integers(0, 3, n),
    }
    _, w_hi = spec.signed_range("w")
    image, _ = CoreImage.from_synapses(
        neurons=neurons, n_inputs=ni, source=rng.integers(0, n + ni, n_synapses),
        target=rng.integers(0, n, n_synapses), weight=rng.integers(1, w_hi // 2, n_synapses),
        delay=rng.integers(1, spec.max_delay + 1, n_synapses),
        plastic=rng.random(n_synapses) < 0.5,
        stdp=StdpParams(enable=stdp, w_min=0, w_max=w_hi // 2 + 4, potentiate_shift=2,
                        depress_shift=3),
    )
    return image


def random_inputs(n_inputs: int, n_steps: int, seed: int, rate: float = 0.3) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [np.sort(rng.choice(n_inputs, rng.binomial(n_inputs, rate), replace=False))
            .astype(np.int32) for _ in range(n_steps)]


def golden(spec: CoreSpec, image: CoreImage, inputs: list[np.ndarray]) -> tuple[list, np.ndarray]:
    """Spikes per step and final weights of the golden model on the same image and input."""
    model = CoreModel(spec)
    model.load(image)
    out = model.run(inputs)
    return out, model.weights()[: image.n_synapses]


def same_spikes(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.fixture
def spec(board: BoardEndpoint) -> CoreSpec:  # noqa: F811 - the fixture, used by name
    if board.spec is None:
        pytest.skip("these tests build images for a known core build; real boards report theirs")
    return board.spec
