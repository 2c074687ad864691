"""Random core images and input trains for comparing the RTL with the golden model."""

from __future__ import annotations

import numpy as np

from toolchain.targets.fpga.image import CoreImage, StdpParams
from toolchain.targets.fpga.spec import CoreSpec, SpecError


def random_image(spec: CoreSpec, rng: np.random.Generator, *, stdp: bool,
                 fill: float = 0.75) -> CoreImage:
    """A network that fills ``fill`` of the synapse memory, with active but not saturated
    neurons: thresholds a few strong weights high, small biases, random leaks."""
    n, n_in = spec.n_neurons, spec.n_inputs
    w_lo, w_hi = spec.signed_range("w")
    m = int(spec.n_synapses * fill)
    thresh_hi = min(spec.signed_range("v")[1], 3 * w_hi)
    neurons = {
        "v_thresh": rng.integers(w_hi // 2, thresh_hi + 1, n),
        "v_reset": rng.integers(-w_hi // 2, 1, n),
        "bias": rng.integers(-2, 4, n),
        "leak_shift": rng.integers(1, 6, n),
        "syn_shift": rng.integers(0, 3, n),
        "refrac": rng.integers(0, spec.max_refrac + 1, n),
    }
    if spec.receptors == 2:  # its own decay, one-step synapses (shift 0) included
        neurons["syn_shift_inh"] = rng.integers(0, 4, n)
    source = rng.integers(0, n + n_in, m)
    target = rng.integers(0, n, m)
    weight = rng.integers(w_lo // 2, w_hi + 1, m)
    delay = rng.integers(1, spec.max_delay + 1, m)
    plastic = rng.random(m) < 0.6 if stdp else np.zeros(m, bool)
    # inhibitory synapses (two-current builds): mostly negative weights, as the mapper
    # writes them, some positive, which the core must carry just the same
    inh = rng.random(m) < 0.4 if spec.receptors == 2 else np.zeros(m, bool)
    weight = np.where(inh & (rng.random(m) < 0.8), -np.abs(weight), weight)
    rule = StdpParams(enable=stdp, pre_decay_shift=int(rng.integers(1, 4)),
                      post_decay_shift=int(rng.integers(1, 4)), potentiate_shift=2,
                      depress_shift=3, trace_increment=(spec.trace_max + 1) // 2,
                      w_min=w_lo // 2, w_max=w_hi)
    while True:
        image, _ = CoreImage.from_synapses(neurons=neurons, n_inputs=n_in, source=source,
                                           target=target, weight=weight, delay=delay,
                                           plastic=plastic, stdp=rule, inh=inh)
        try:
            image.check(spec)
            return image
        except SpecError:  # a neuron's fan-in could overflow the accumulator: thin it
            keep = rng.random(source.size) < 0.8
            source, target, weight = source[keep], target[keep], weight[keep]
            delay, plastic, inh = delay[keep], plastic[keep], inh[keep]


def random_inputs(spec: CoreSpec, image: CoreImage, rng: np.random.Generator, n_steps: int,
                  rate: float = 0.3) -> list[list[int]]:
    """Per step, each input axon spikes with probability ``rate`` (plus a repeat now and
    then, which the core must ignore)."""
    steps = []
    for _ in range(n_steps):
        axons = [int(a) for a in np.flatnonzero(rng.random(image.n_inputs) < rate)]
        if axons and rng.random() < 0.2:
            axons.append(axons[0])
        steps.append(axons)
    return steps
