"""The Loihi co-simulation (Loihi numerics on the shared engine) against lava-nc's
bit-accurate CPU models running the same network, spike for spike, in the same run.

Network: one population of LIF compartments (a third of them bias-driven), recurrent
mixed-sign weights at ``--density``, ``--steps`` steps.  Two pairs, each spike-identical:

- our numerics (``LifCompartments`` + ``DenseSynapses``) in lava ``Dense``'s one-step loop
  against ``LIF`` (PyLifModelBitAcc) + ``Dense`` (PyDenseModelBitAcc): the arithmetic;
- the co-simulator (Loihi numerics on the shared engine, IR delay of one step) against
  ``LIF`` + ``DelayDense`` with delay 1 (PyDelayDenseModelBitAcc), which is the engine's
  timing for that delay: the whole simulator.

Times are wall-clock medians of ``--repeats`` runs: "run" is the steps alone (lava: after
compiling the process graph and starting its runtime; ours: after building the engine),
"total" adds that set-up.  lava runs in its own Python 3.10 environment (``make setup``).
The machine is shared: read the ratios, not the absolute seconds.

Run: ``python -m benchmarks.bench_loihi_vs_lava [--neurons 1000 --density 0.1 --steps 1000]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from toolchain.ir import Network, Population, Projection, Recording
from toolchain.sim.engine import Engine
from toolchain.targets.loihi import lava_runner
from toolchain.targets.loihi.convert import LifConversion
from toolchain.targets.loihi.fixed import (
    VTH_SHIFT,
    DenseSynapses,
    LifCompartments,
    LifParameters,
    SignMode,
)
from toolchain.targets.loihi.numerics import LoihiNumerics, LoihiWeights

DT = 1.0


def make_network(n: int, density: float, seed: int = 0) -> tuple[
        Network, LoihiNumerics, lava_runner.LavaPopulation, np.ndarray]:
    """The IR network with its Loihi integers, and lava's view of the same."""
    rng = np.random.default_rng(seed)
    vth = 1000
    driven = rng.random(n) < 1 / 3
    params = LifParameters.build(
        "net", n, du=600, dv=200, vth=vth,
        bias_mant=np.where(driven, rng.integers(800, 1600, n), 0), bias_exp=2)
    v0 = rng.integers(0, vth << VTH_SHIFT, n)
    u0 = np.zeros(n, dtype=np.int64)
    conversion = LifConversion(params=params, mv_per_unit=1.0, v_origin=np.zeros(n),
                               units_per_na=1.0, bias_units_per_na=1.0, u0=u0, v0=v0)
    post, pre = np.nonzero(rng.random((n, n)) < density)
    # inhibition-dominated, so that the recurrent drive stays moderate
    mantissas = rng.integers(-200, 120, post.size) * 2
    weights = np.zeros((n, n), dtype=np.int64)
    weights[post, pre] = mantissas
    network = Network(
        dt=DT, populations=(Population("net", "IF_curr_exp", n),),
        projections=(Projection("rec", "net", "net", pre, post,
                                mantissas.astype(np.float64), np.full(post.size, DT)),),
        recordings=(Recording("net", "spikes", np.arange(n)),))
    numerics = LoihiNumerics(
        populations={"net": conversion},
        weights={"rec": LoihiWeights(0, SignMode.MIXED, na_per_mantissa=1.0)})
    return network, numerics, lava_runner.LavaPopulation(params, u0, v0), weights


def run_engine(network: Network, numerics: LoihiNumerics, steps: int) -> tuple[
        float, float, np.ndarray]:
    """The co-simulator: Loihi numerics on the shared engine (delay 1 = DelayDense(1))."""
    t0 = time.perf_counter()
    sim = Engine(network, numerics=numerics, target="loihi")
    t1 = time.perf_counter()
    sim.run_until(steps * DT)
    t2 = time.perf_counter()
    rec = sim.result().spikes["net"]
    raster = np.zeros((steps, network.populations[0].size), dtype=np.uint8)
    raster[np.rint(rec.times / DT).astype(int), rec.senders] = 1
    return t1 - t0, t2 - t1, raster


def run_numerics(pop: lava_runner.LavaPopulation, weights: np.ndarray, steps: int) -> tuple[
        float, float, np.ndarray]:
    """The same arithmetic without the engine, in lava Dense's one-step loop: the cost of
    the numerics alone, comparable with lava's Dense spike for spike."""
    t0 = time.perf_counter()
    lif = LifCompartments(pop.params, pop.u0, pop.v0)
    synapses = DenseSynapses(weights, sign_mode=SignMode.MIXED)
    t1 = time.perf_counter()
    raster = np.zeros((steps, pop.params.size), dtype=np.uint8)
    a_in = None
    for t in range(steps):
        fired = lif.step(a_in)
        raster[t, fired] = 1
        a_in = synapses.accumulate(fired)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, raster


def run_lava(pop: lava_runner.LavaPopulation, weights: np.ndarray, steps: int,
             delayed: bool) -> lava_runner.LavaResult:
    delays = np.where(weights != 0, 1, 0) if delayed else None
    proj = lava_runner.LavaProjection(pre=0, post=0, weights=weights, weight_exp=0,
                                      sign_mode=SignMode.MIXED, delays=delays)
    return lava_runner.run(steps, [pop], [proj])


def _median(samples: list[tuple[float, float]]) -> tuple[float, float]:
    return (statistics.median(r for _, r in samples),
            statistics.median(b + r for b, r in samples))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1000)
    parser.add_argument("--density", type=float, default=0.1)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--delay-dense-repeats", type=int, default=1,
                        help="lava's DelayDense is slow (a dense matrix per delay per step)")
    args = parser.parse_args(argv)
    reason = lava_runner.unavailable_reason()
    if reason is not None:
        print(f"bench_loihi_vs_lava skipped: {reason}")
        return
    network, numerics, lava_pop, weights = make_network(args.neurons, args.density)
    pairs = [  # (ours, peer, repeats of the peer)
        ("spikeport numerics, Dense loop", "lava LIF + Dense", args.repeats),
        ("spikeport engine, delay 1", "lava LIF + DelayDense(1)", args.delay_dense_repeats),
    ]
    times: dict[str, list[tuple[float, float]]] = {name: [] for pair in pairs
                                                    for name in pair[:2]}
    rasters: dict[str, np.ndarray] = {}
    for i in range(max(args.repeats, args.delay_dense_repeats)):
        if i < args.repeats:
            build, run, rasters[pairs[0][0]] = run_numerics(lava_pop, weights, args.steps)
            times[pairs[0][0]].append((build, run))
            build, run, rasters[pairs[1][0]] = run_engine(network, numerics, args.steps)
            times[pairs[1][0]].append((build, run))
        for (_, peer, repeats), delayed in zip(pairs, (False, True), strict=True):
            if i < repeats:
                lava = run_lava(lava_pop, weights, args.steps, delayed=delayed)
                times[peer].append((lava.build_seconds, lava.run_seconds))
                rasters[peer] = lava.rasters[0]
    spikes = int(rasters[pairs[0][0]].sum())
    print(f"Loihi co-simulation vs lava-nc 0.10 bit-accurate CPU models (PyLifModelBitAcc, "
          f"PyDenseModelBitAcc / PyDelayDenseModelBitAcc): {args.neurons} neurons, "
          f"{args.density:.0%} recurrent density, {args.steps} steps, {spikes} spikes in the "
          f"Dense loop ({spikes / args.neurons / args.steps:.3f} per neuron and step)")
    print(f"medians of {args.repeats} runs ({args.delay_dense_repeats} for DelayDense); "
          "'run' = the steps alone, 'total' adds building / compiling")
    print(f"{'':34} {'run s':>8} {'total s':>8} {'steps/s':>8} {'run ratio':>9} "
          f"{'total ratio':>11} {'identical':>9}")
    for ours, peer, repeats in pairs:
        if repeats == 0:
            continue
        o_run, o_total = _median(times[ours])
        p_run, p_total = _median(times[peer])
        same = "yes" if np.array_equal(rasters[ours], rasters[peer]) else "NO"
        print(f"{ours:34} {o_run:8.3f} {o_total:8.3f} {args.steps / o_run:8.0f}")
        print(f"{peer:34} {p_run:8.3f} {p_total:8.3f} {args.steps / p_run:8.0f} "
              f"{p_run / o_run:9.1f} {p_total / o_total:11.1f} {same:>9}")
    print("ratio = lava time / spikeport time (> 1: spikeport is faster); 'identical' = "
          "the same (step, neuron) spikes.  lava's total excludes its interpreter start and "
          "imports (~1 s).  The machine may be shared: compare ratios, not seconds.")


if __name__ == "__main__":
    main()
