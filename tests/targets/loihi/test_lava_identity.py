"""The Loihi co-simulation on the shared engine against lava-nc's bit-accurate CPU models,
spike for spike.

Random recurrent networks of three LIF populations and a spike input, with mixed-sign,
purely excitatory and purely inhibitory projections, exponents from -2 to 2, fewer than
8 weight bits on some projections, delays of 1-3 steps, bias-driven neurons and random
initial u and v.  lava receives the raw mantissas and applies its own clipping and
truncation; the engine receives the mantissas our :func:`effective_mantissas` computes, so
the comparison covers the synapse format as well as the neuron arithmetic.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pytest

from toolchain.ir import ArraySource, Network, Population, Projection, Recording
from toolchain.sim.engine import Engine
from toolchain.targets.loihi import lava_runner
from toolchain.targets.loihi.convert import LifConversion
from toolchain.targets.loihi.fixed import (
    UV_LIMIT,
    VTH_SHIFT,
    CsrSynapses,
    DenseSynapses,
    LifCompartments,
    LifParameters,
    SignMode,
    effective_mantissas,
)
from toolchain.targets.loihi.numerics import LoihiNumerics, LoihiWeights

pytestmark = [
    pytest.mark.lava,
    pytest.mark.skipif(lava_runner.unavailable_reason() is not None,
                       reason=lava_runner.unavailable_reason() or ""),
]

DT = 1.0
N_STEPS = 1000
SIZES = {"A": 120, "B": 100, "C": 80}
N_INPUT = 40
# (pre, post, sign mode, weight_exp, num_weight_bits, delay steps or None for random 1-3).
# lava floors a negative exponent's shift per (projection, delay) group, the engine per
# post population and step, so a negative exponent needs one delay and no other
# negative exponent into the same population (see numerics.DRIVE_FRAC_BITS).
PROJECTIONS = [
    ("in", "A", SignMode.EXCITATORY, 1, 8, None),
    ("A", "A", SignMode.MIXED, 0, 8, None),
    ("A", "B", SignMode.MIXED, 1, 6, None),
    ("B", "A", SignMode.INHIBITORY, -1, 8, 2),
    ("B", "C", SignMode.MIXED, -2, 8, 1),
    ("C", "B", SignMode.MIXED, 0, 7, None),
    ("C", "C", SignMode.MIXED, 0, 5, None),
    ("in", "C", SignMode.MIXED, 1, 8, None),
]


@dataclass
class Case:
    network: Network
    numerics: LoihiNumerics
    lava_populations: list[lava_runner.LavaPopulation]
    lava_projections: list[lava_runner.LavaProjection]
    inputs: list[np.ndarray]


def _population(rng: np.random.Generator, label: str, size: int) -> LifConversion:
    vth = int(rng.integers(3000, 8000))
    driven = rng.random(size) < 0.3
    params = LifParameters.build(
        label, size, du=int(rng.integers(150, 900)), dv=int(rng.integers(40, 400)), vth=vth,
        bias_mant=np.where(driven, rng.integers(500, 3000, size), rng.integers(-30, 30, size)),
        bias_exp=rng.integers(0, 4, size),
    )
    threshold = vth << VTH_SHIFT
    u0 = rng.integers(-threshold // 4, threshold // 4, size)
    v0 = rng.integers(-threshold, threshold, size)
    assert np.all(np.abs(v0) < UV_LIMIT)
    return LifConversion(params=params, mv_per_unit=1.0, v_origin=np.zeros(size),
                         units_per_na=1.0, bias_units_per_na=1.0, u0=u0, v0=v0)


def _raw_mantissas(rng: np.random.Generator, mode: SignMode, n: int) -> np.ndarray:
    # beyond the 8-bit range on purpose: lava clips, effective_mantissas must too
    if mode is SignMode.EXCITATORY:
        return rng.integers(1, 300, n)
    if mode is SignMode.INHIBITORY:
        return -rng.integers(1, 300, n)
    return rng.integers(-300, 300, n)


def make_case(seed: int, density: float) -> Case:
    rng = np.random.default_rng(seed)
    labels = list(SIZES)
    conversions = {label: _population(rng, label, n) for label, n in SIZES.items()}
    input_raster = (rng.random((N_INPUT, N_STEPS)) < 0.03).astype(np.uint8)
    neuron, step = np.nonzero(input_raster)
    source = ArraySource.from_lists(
        "in", [step[neuron == i] * DT for i in range(N_INPUT)])
    sizes = {**SIZES, "in": N_INPUT}
    projections, codecs, lava_projs = [], {}, []
    for j, (pre, post, mode, exp, bits, fixed_delay) in enumerate(PROJECTIONS):
        connected = rng.random((sizes[post], sizes[pre])) < density
        post_i, pre_i = np.nonzero(connected)
        raw = _raw_mantissas(rng, mode, post_i.size)
        delay = rng.integers(1, 4, post_i.size) if fixed_delay is None else np.full(
            post_i.size, fixed_delay)
        label = f"{pre}{post}{j}"
        projections.append(Projection(
            label, pre, post, pre_i, post_i,
            effective_mantissas(raw, mode, bits).astype(np.float64), delay * DT))
        codecs[label] = LoihiWeights(exp, mode, na_per_mantissa=1.0, num_weight_bits=bits)
        weights = np.zeros((sizes[post], sizes[pre]), dtype=np.int64)
        weights[post_i, pre_i] = raw
        delays = np.zeros_like(weights)
        delays[post_i, pre_i] = delay
        lava_projs.append(lava_runner.LavaProjection(
            pre=-1 if pre == "in" else labels.index(pre), post=labels.index(post),
            weights=weights, weight_exp=exp, num_weight_bits=bits, sign_mode=mode,
            delays=delays))
    network = Network(
        dt=DT,
        populations=tuple(Population(label, "IF_curr_exp", n) for label, n in SIZES.items()),
        sources=(source,), projections=tuple(projections),
        recordings=tuple(Recording(label, "spikes", np.arange(n)) for label, n in SIZES.items()),
    )
    numerics = LoihiNumerics(populations=conversions, weights=codecs)
    lava_pops = [lava_runner.LavaPopulation(c.params, c.u0, c.v0) for c in conversions.values()]
    return Case(network, numerics, lava_pops, lava_projs, [input_raster])


def engine_rasters(case: Case) -> list[np.ndarray]:
    sim = Engine(case.network, numerics=case.numerics, target="loihi")
    sim.run_until(N_STEPS * DT)
    result = sim.result()
    rasters = []
    for label, size in SIZES.items():
        rec = result.spikes[label]
        raster = np.zeros((N_STEPS, size), dtype=np.uint8)
        raster[np.rint(rec.times / DT).astype(int), rec.senders] = 1
        rasters.append(raster)
    return rasters


def assert_same_spikes(ours: list[np.ndarray], lava: list[np.ndarray]) -> None:
    for label, a, b in zip(SIZES, ours, lava, strict=True):
        assert a.shape == b.shape, f"{label}: raster shapes {a.shape} vs {b.shape}"
        diff = np.argwhere(a != b)
        if diff.size:
            step, neuron = diff[0]
            pytest.fail(
                f"population {label}: first mismatch at step {step}, neuron {neuron}: "
                f"spikeport spiked={a[step, neuron]}, lava spiked={b[step, neuron]} "
                f"({diff.shape[0]} mismatches; {a.sum()} vs {b.sum()} spikes)"
            )


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "density"), [(1, 0.15), (2, 0.04)], ids=["dense", "sparse"])
def test_engine_matches_lava_spike_for_spike(seed: int, density: float) -> None:
    case = make_case(seed, density)
    ours = engine_rasters(case)
    lava = lava_runner.run(N_STEPS, case.lava_populations, case.lava_projections, case.inputs)
    assert_same_spikes(ours, lava.rasters)
    # a comparison of silent or saturated networks would prove little
    for label, raster in zip(SIZES, ours, strict=True):
        rate = raster.mean()
        assert 0.001 < rate < 0.5, f"population {label}: {rate:.4f} spikes/neuron/step"
        assert raster[N_STEPS // 2:].sum() > 0, f"population {label} fell silent"


# lava Dense (no delay buffer) floors a negative exponent per projection, as our synapse
# layouts do, so several negative exponents may feed one population here
DENSE_EXPONENTS = [1, -1, 0, -2, -2, 0, -1, 1]


def numerics_rasters(populations: list[lava_runner.LavaPopulation],
                     projections: list[lava_runner.LavaProjection],
                     inputs: np.ndarray) -> list[np.ndarray]:
    """The arithmetic alone, in lava Dense's loop: spikes of step k reach u in step k + 1."""
    lifs = [LifCompartments(p.params, p.u0, p.v0) for p in populations]
    layouts = [CsrSynapses.from_dense, DenseSynapses]  # alternate: both must match lava
    synapses = [layouts[j % 2](p.weights, weight_exp=p.weight_exp,
                               num_weight_bits=p.num_weight_bits, sign_mode=p.sign_mode)
                for j, p in enumerate(projections)]
    rasters = [np.zeros((N_STEPS, lif.params.size), dtype=np.uint8) for lif in lifs]
    a_in: list[np.ndarray | None] = [None] * len(lifs)
    for k in range(N_STEPS):
        fired = [lif.step(a) for lif, a in zip(lifs, a_in, strict=True)]
        for raster, f in zip(rasters, fired, strict=True):
            raster[k, f] = 1
        nxt = [np.zeros(lif.params.size) for lif in lifs]
        for proj, syn in zip(projections, synapses, strict=True):
            pre = np.flatnonzero(inputs[:, k]) if proj.pre < 0 else fired[proj.pre]
            nxt[proj.post] += syn.accumulate(pre)
        a_in = list(nxt)
    return rasters


@pytest.mark.slow
def test_numerics_match_lava_dense_spike_for_spike() -> None:
    case = make_case(8, 0.06)
    projections = [dataclasses.replace(p, delays=None, weight_exp=exp)
                   for p, exp in zip(case.lava_projections, DENSE_EXPONENTS, strict=True)]
    ours = numerics_rasters(case.lava_populations, projections, case.inputs[0])
    lava = lava_runner.run(N_STEPS, case.lava_populations, projections, case.inputs)
    assert_same_spikes(ours, lava.rasters)
    for label, raster in zip(SIZES, ours, strict=True):
        assert 0.001 < raster.mean() < 0.5, f"population {label}: {raster.mean():.4f}"
