"""Simulation loop speed: the reference engine and every target's co-simulation, beside
Brian2's C++ standalone mode on the same network, measured in the same run.

The network is VA-CUBA-like (Brette et al. 2007, J. Comput. Neurosci. 23:349, benchmark
2): IF_curr_exp, 80 % excitatory, connection probability ``--p`` (0.02), tau_syn = 5 ms
for both receptors (so that every chip can hold it), 1 ms delays, v_rest above threshold
(the cells fire without input), random initial v; 1 s of biological time at dt = 0.1 ms.
Brian2 gets the very same connectivity, weights and initial values (the IR's arrays).
At 4,000 neurons the loihi and spinnaker2 co-simulations run it; dynapse and fpga (the
ULX3S preset) hold 1,000, so they run at 1,000 beside the reference and Brian2.  The
dynapse row is its own compiled loop (five DPI substeps per 0.1 ms step, each with the
feedback's exponential, and the routing queues); ``reference (numpy)`` and
``SPIKEPORT_COMPILED=0`` give the numpy paths' times.

The Potjans-Diesmann microcircuit (``--microcircuit``, 10 % and full scale; the IR of
the compile benchmarks, Poisson background one source per cell) runs on the reference
beside Brian2 (up to ``--brian2-up-to``, 10 %: Brian2's C++ build of the full scale takes
longer than everything else); its loop includes realising the background's spikes, 1.26 x
10^9 a second at full scale (126,000 a step).  Brian2 gets the background as PoissonInput
(a PoissonGroup fires at most once a step: 12.8 kHz would become 10 kHz).  ``--pynn SCALE``
runs examples/microcircuit.py through ``toolchain.pynn``: the PyNN script, IR, compile,
the simulator's construction and 1 s, each with wall and CPU seconds and the peak memory
so far, and the build (script + IR).

Only the simulation loop is timed (build and compile excluded): ``run_until(1000)`` for
spikeport, Brian2's own timer around its network run (``device._last_run_time``, the
binary's loop without process start or file I/O).  Every contender runs in its own
subprocess (peak RSS, ru_maxrss, is its own), ``--repeats`` fresh simulators each;
medians.  CPU seconds, which a loaded machine inflates less than wall seconds, stand
beside: the loop's for spikeport, the whole binary's for Brian2 (start-up, reading its
arrays and writing its results included: an upper bound of its loop's).  Events per
second are delivered synaptic events (spikes times out-degree) per second of loop time.
Each spikeport contender runs one untimed step first (its note gives its seconds: a
compiled loop loading its numba code) and says when it runs on the numpy path, and why.
The reference's compiled loop's first call is reported apart: ``compile (cold)`` runs it
with an empty cache directory, ``cache load`` with the package's.  ``reference (numpy)``
is the same engine with the compiled loop switched off (``SPIKEPORT_COMPILED=0``).  The
machine is shared: read the ratios, which compare contenders measured minutes apart in the
same run.

``--benchmark2`` gives the network benchmark 2's own synapses instead (tau_syn_I = 10 ms,
0.2 ms delays, as PyNN's VAbenchmarks.py): the reference against Brian2 on VA-CUBA itself.

Run: ``python -m benchmarks.bench_engine [--sizes 4000 1000] [--repeats 5] [--only NAME..]
[--microcircuit 0.1 1.0] [--pynn 1.0] [--benchmark2]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from toolchain.ir import Network, Population, Projection, Recording

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "bench_engine"
DT, DELAY, T_STOP = 0.1, 1.0, 1000.0
CELL = {"cm": 0.2, "tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 5.0, "v_rest": -49.0,
        "v_reset": -60.0, "v_thresh": -50.0, "tau_refrac": 5.0, "i_offset": 0.0}
W_EXC = 1e-3 * 0.27 * (0.0 - -60.0)  # nA, as bench_va_cuba (benchmark 2's conductances)
W_INH = 1e-3 * 4.5 * (-80.0 - -60.0)
SEED = 4321

# contender -> (target, options); which sizes it runs at is decided in main()
TARGETS = {
    "reference": ("reference", {}),
    "reference (numpy)": ("reference", {}),
    "loihi": ("loihi", {}),
    "spinnaker2": ("spinnaker2", {}),
    "dynapse": ("dynapse", {}),
    "fpga (ulx3s)": ("fpga", {"board": "ulx3s"}),
}
LARGE = ("reference", "reference (numpy)", "loihi", "spinnaker2")
SMALL = ("reference", "reference (numpy)", "dynapse", "fpga (ulx3s)")


def va_cuba(n: int, p: float, seed: int = SEED, benchmark2: bool = False) -> Network:
    """The benchmark network at ``n`` neurons (0.8 n excitatory); ``benchmark2``: with
    benchmark 2's own synapses (tau_syn_I = 10 ms, 0.2 ms delays, as PyNN's
    VAbenchmarks.py), which not every chip holds."""
    rng = np.random.default_rng(seed)
    cell, delay = ({**CELL, "tau_syn_I": 10.0}, 0.2) if benchmark2 else (CELL, DELAY)
    sizes = {"exc": int(round(0.8 * n)), "inh": n - int(round(0.8 * n))}
    pops = tuple(Population(label, "IF_curr_exp", size, cell,
                            {"v": rng.uniform(cell["v_reset"], cell["v_thresh"], size)})
                 for label, size in sizes.items())
    projs = []
    for pre, receptor, w in (("exc", "excitatory", W_EXC), ("inh", "inhibitory", W_INH)):
        for post in sizes:
            i, j = np.nonzero(rng.random((sizes[pre], sizes[post])) < p)
            projs.append(Projection(f"{pre}-{post}", pre, post, i.astype(np.int32),
                                    j.astype(np.int32), np.full(i.size, w),
                                    np.full(i.size, delay), receptor))
    recs = tuple(Recording(label, "spikes", np.arange(size)) for label, size in sizes.items())
    return Network(dt=DT, populations=pops, projections=tuple(projs), recordings=recs,
                   label=f"va-cuba-{n}" + ("-b2" if benchmark2 else ""))


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _events(net: Network, counts: dict[str, np.ndarray]) -> int:
    """Synaptic events of a run: every spike times its neuron's out-degree."""
    total = 0
    for proj in net.projections:
        degree = np.bincount(proj.pre_index, minlength=net.node(proj.pre).size)
        total += int(counts[proj.pre] @ degree)
    return total


# --------------------------------------------------------------------------- children


def _brian2(net: Network, repeats: int) -> dict:
    """The network in Brian2's C++ standalone mode: one NeuronGroup per IF_curr_exp
    population (its parameters, initial v), a PoissonGroup per Poisson source, and the
    IR's synapses (indices, weights, delays) as Synapses."""
    import brian2 as b2

    project = str(BUILD / f"brian2-{net.label}")
    b2.set_device("cpp_standalone", directory=project, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = 0  # one thread, as the engine
    # Brian2's default make flag "-j" starts one compiler per source file at once (167 for
    # the 10 % microcircuit, a load of 245 on a 2-core machine); one job per core
    b2.prefs.devices.cpp_standalone.extra_make_args_unix = [f"-j{os.cpu_count() or 1}"]
    b2.defaultclock.dt = net.dt * b2.ms
    eqs = """
    dv/dt = (v_rest - v)/tau_m + (ie + ii + i_offset)/c_m : volt (unless refractory)
    die/dt = -ie/tau_e : amp
    dii/dt = -ii/tau_i : amp
    """
    groups, objects = {}, []
    for pop in net.populations:
        p = {k: float(np.ravel(v)[0]) for k, v in pop.parameters.items()}
        ns = {"v_rest": p["v_rest"] * b2.mV, "tau_m": p["tau_m"] * b2.ms,
              "c_m": p["cm"] * b2.nF, "tau_e": p["tau_syn_E"] * b2.ms,
              "tau_i": p["tau_syn_I"] * b2.ms, "i_offset": p.get("i_offset", 0.0) * b2.nA}
        g = b2.NeuronGroup(pop.size, eqs, threshold=f"v > {p['v_thresh']}*mV",
                           reset=f"v = {p['v_reset']}*mV", refractory=p["tau_refrac"] * b2.ms,
                           method="exact", namespace=ns, name=f"pop_{pop.label}")
        g.v = np.broadcast_to(pop.initial_values.get("v", p["v_rest"]), (pop.size,)) * b2.mV
        groups[pop.label] = g
    inputs = _poisson_inputs(net)
    for src in net.sources:
        if src.label not in inputs:
            groups[src.label] = b2.PoissonGroup(src.size, np.asarray(src.rate) * b2.Hz,
                                                name=f"src_{src.label}")
    for proj in net.projections:
        var = "ii" if str(proj.receptor.value if hasattr(proj.receptor, "value")
                          else proj.receptor) == "inhibitory" else "ie"
        if proj.pre in inputs:
            n, rate = inputs[proj.pre]
            objects.append(b2.PoissonInput(groups[proj.post], var, n, rate * b2.Hz,
                                           weight=f"{float(proj.weight[0])}*nA"))
            continue
        syn = b2.Synapses(groups[proj.pre], groups[proj.post], "w : amp",
                          on_pre=f"{var}_post += w", name=f"syn_{len(objects)}")
        syn.connect(i=np.asarray(proj.pre_index), j=np.asarray(proj.post_index))
        syn.w = np.asarray(proj.weight, dtype=np.float64) * b2.nA
        syn.delay = np.asarray(proj.delay, dtype=np.float64) * b2.ms
        objects.append(syn)
    monitors = {p.label: b2.SpikeMonitor(groups[p.label]) for p in net.populations}
    b2.Network(*groups.values(), *objects, *monitors.values()).run(T_STOP * b2.ms)
    t0 = time.perf_counter()
    b2.device.build(directory=project, run=False)
    build = time.perf_counter() - t0
    loops, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        b2.device.run(with_output=False)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        loops.append(b2.device._last_run_time)
        cpus.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
    counts = {label: np.asarray(m.count[:]) for label, m in monitors.items()}
    spikes = int(sum(c.sum() for c in counts.values()))
    events = _events(net, counts) if not net.sources else None
    return {"loop": statistics.median(loops), "cpu": statistics.median(cpus),
            "spikes": spikes, "events": events,
            "note": f"C++ build {build:.0f} s" + ("" if events is not None else
                                                  "; its own Poisson draws")
            + ("; fast sources as PoissonInput" if inputs else "")}


def _poisson_inputs(net: Network) -> dict[str, tuple[int, float]]:
    """Poisson sources too fast for a PoissonGroup (which fires at most once a step, so
    a cell's 12.8 kHz background would become 10 kHz at dt = 0.1 ms), fed one-to-one with
    one weight and rate: as Brian2's PoissonInput, n inputs at rate / n (n such that each
    fires in at most 1 % of steps), a binomial count per step ~ the same Poisson count.
    PoissonInput has no delay; a delayed Poisson train is again a Poisson train."""
    out = {}
    for src in net.sources:
        rate = np.asarray(getattr(src, "rate", np.zeros(0)))
        projs = [p for p in net.projections if p.pre == src.label]
        if not rate.size or rate.max() * net.dt * 1e-3 < 0.1 or np.any(rate != rate[0]) \
                or not all(np.array_equal(p.pre_index, np.arange(src.size))
                           and np.array_equal(p.post_index, p.pre_index)
                           and np.all(p.weight == p.weight[0]) for p in projs):
            continue
        n = int(np.ceil(rate[0] * net.dt * 1e-3 / 0.01))
        out[src.label] = (n, float(rate[0]) / n)
    return out


def _first_call() -> float:
    """Seconds of the compiled loop's first call: a one-step run of a two-neuron network
    (numba compiles it, or loads it from its cache)."""
    from toolchain.sim.engine import Engine

    tiny = Network(dt=DT, populations=(Population("p", "IF_curr_exp", 2, CELL),),
                   label="tiny")
    engine = Engine(tiny)
    t0 = time.perf_counter()
    engine.run_until(DT)
    return time.perf_counter() - t0


def _spikeport(net: Network, contender: str, repeats: int) -> dict:
    from toolchain.targets import get_target

    name, options = TARGETS[contender]
    first = _first_call() if name == "reference" and "numpy" not in contender else None
    target = get_target(name, **options)
    compiled = target.compile(net)
    # one step first, untimed: a target's compiled loop loads (or compiles) its numba code
    # on its first call, which would land in the first repeat
    warm = target.simulator(compiled)
    t0 = time.perf_counter()
    warm.run_until(DT)
    first_step = time.perf_counter() - t0
    loops, cpus, spikes, events = [], [], 0, 0
    for _ in range(repeats):
        sim = target.simulator(compiled)
        t0, c0 = time.perf_counter(), time.process_time()
        sim.run_until(T_STOP)
        loops.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        res = sim.result()
        spikes = sum(r.count for r in res.spikes.values())
        per_projection = [v for k, v in res.counters.items()
                          if k.startswith("synaptic_events/")]
        # (the fpga core counts its events for the whole core)
        events = int(sum(per_projection) if per_projection
                     else res.counters.get("synaptic_events", 0))
    out = {"loop": statistics.median(loops), "cpu": statistics.median(cpus), "spikes": spikes,
           "events": events, "note": f"first step {first_step:.2f} s"}
    runner = getattr(sim, "engine", sim)  # (spinnaker2 and dynapse wrap an Engine)
    why = getattr(runner, "why_not_compiled", None)
    if why is not None:
        out["note"] += f"; numpy path: {why}"
    if first is not None:
        out["first_call"] = first
    return out


def microcircuit(scale: float) -> Network:
    """The Potjans-Diesmann microcircuit of the compile benchmarks (FixedTotalNumber
    synapses, Poisson background one source per cell), every population's spikes
    recorded."""
    from benchmarks.bench_compile import microcircuit as build

    net = build(scale)
    recs = tuple(Recording(p.label, "spikes", np.arange(p.size)) for p in net.populations)
    return Network(dt=net.dt, populations=net.populations, sources=net.sources,
                   projections=net.projections, recordings=recs, label=f"microcircuit-{scale:g}")


def _pynn_microcircuit(scale: float) -> dict:
    """examples/microcircuit.py through toolchain.pynn on the reference: each stage's wall
    and CPU seconds (CPU time is what a loaded machine inflates least), then 1 s."""
    sys.path.insert(0, str(ROOT / "examples"))
    import microcircuit as example

    import toolchain.pynn as sim
    from toolchain.pynn.build import build_network
    from toolchain.pynn.simulator import state
    from toolchain.targets import get_target

    stages, mark = {}, (time.perf_counter(), time.process_time())

    def stage(name: str) -> None:
        nonlocal mark
        now = (time.perf_counter(), time.process_time())
        stages[name] = (now[0] - mark[0], now[1] - mark[1], _peak_mb())
        mark = now

    sim.setup(timestep=DT, min_delay=0.1, max_delay=100.0)
    net = example.build(sim, scale)
    for pop in net["populations"].values():
        pop.record("spikes")
    stage("PyNN script")
    built = build_network(state)
    stage("IR")
    target = get_target("reference")
    compiled = target.compile(built.network)
    stage("compile")
    simulator = target.simulator(compiled)
    stage("simulator")
    simulator.run_until(T_STOP)
    stage(f"run {T_STOP:g} ms")
    res = simulator.result()
    return {"stages": stages, "synapses": built.network.n_synapses,
            "spikes": sum(r.count for r in res.spikes.values()),
            "compiled": simulator.why_not_compiled or "yes"}


def child(contender: str, n: int, p: float, repeats: int, scale: float | None = None,
          benchmark2: bool = False) -> dict:
    if contender == "first-call":
        return {"loop": _first_call()}
    if contender == "pynn-microcircuit":
        return _pynn_microcircuit(scale or 0.1)
    net = va_cuba(n, p, benchmark2=benchmark2) if scale is None else microcircuit(scale)
    if contender == "brian2":
        out = _brian2(net, repeats)
    else:
        out = _spikeport(net, contender, repeats)
    out["peak_mb"] = _peak_mb()
    return out


def run_child(contender: str, n: int, p: float, repeats: int,
              env: dict[str, str] | None = None, scale: float | None = None,
              benchmark2: bool = False) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.bench_engine", "--child", contender,
           "--sizes", str(n), "--p", str(p), "--repeats", str(repeats)]
    if scale is not None:
        cmd += ["--child-scale", str(scale)]
    if benchmark2:
        cmd += ["--benchmark2"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT,
                         env={**os.environ, **(env or {})})
    if out.returncode != 0:
        lines = out.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else "failed"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[4000, 1000],
                    help="VA-CUBA sizes (none: skip it)")
    ap.add_argument("--p", type=float, default=0.02, help="connection probability")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", nargs="+", help="contenders to run (default: all)")
    ap.add_argument("--microcircuit", type=float, nargs="*", default=[0.1, 1.0],
                    metavar="SCALE", help="microcircuit scales to run (none: skip it)")
    ap.add_argument("--brian2-up-to", type=float, default=0.1, metavar="SCALE",
                    help="largest microcircuit scale Brian2 runs (its C++ build of 0.3 "
                    "billion synapses takes longer than the rest together)")
    ap.add_argument("--pynn", type=float, nargs="*", default=[], metavar="SCALE",
                    help="also run examples/microcircuit.py through toolchain.pynn at these "
                    "scales: build, IR, compile and 1 s, with CPU and wall seconds")
    ap.add_argument("--benchmark2", action="store_true",
                    help="VA-CUBA with benchmark 2's own synapses (tau_syn_I 10 ms, 0.2 ms "
                    "delays) instead of the portable 5 ms / 1 ms")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-scale", type=float, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.sizes[0], args.p, args.repeats,
                               args.child_scale, args.benchmark2)))
        return
    BUILD.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as cold:
        compile_cold = run_child("first-call", 2, args.p, 1, {"NUMBA_CACHE_DIR": cold})
    cache_load = run_child("first-call", 2, args.p, 1)
    print("compiled loop, first call: "
          f"compile (cold) {compile_cold.get('loop', float('nan')):.2f} s, "
          f"cache load {cache_load.get('loop', float('nan')):.2f} s")
    for n in args.sizes:
        names = ["brian2", *(LARGE if n > 1000 else SMALL)]
        if args.only:
            names = [c for c in names if c in args.only or c == "brian2"]
        results = {}
        for name in names:
            env = {"SPIKEPORT_COMPILED": "0"} if "numpy" in name else None
            results[name] = run_child(name, n, args.p, args.repeats, env,
                                      benchmark2=args.benchmark2)
        kind = ("VA-CUBA (benchmark 2: tau_syn 5 / 10 ms, 0.2 ms delays)" if args.benchmark2
                else "VA-CUBA-like (tau_syn 5 / 5 ms, 1 ms delays)")
        table(f"{kind}, {n} neurons, p = {args.p}, {T_STOP:g} ms at dt = {DT} ms, "
              f"loop only, medians of {args.repeats}", results)
    for scale in args.microcircuit:
        names = (["brian2"] if scale <= args.brian2_up_to else []) + ["reference"]
        repeats = args.repeats if scale <= 0.1 else 1
        results = {name: run_child(name, 0, args.p, repeats, scale=scale) for name in names}
        table(f"Potjans-Diesmann microcircuit at scale {scale:g}, {T_STOP:g} ms at dt = {DT} "
              f"ms, loop only (Poisson background realised inside it), medians of {repeats}",
              results)

    for scale in args.pynn:
        r = run_child("pynn-microcircuit", 0, args.p, 1, scale=scale)
        print(f"\nexamples/microcircuit.py through toolchain.pynn, scale {scale:g}, reference "
              f"target: {r.get('synapses', 0):,} synapses, {r.get('spikes', 0):,} spikes, "
              f"compiled loop: {r.get('compiled')}")
        if "error" in r:
            print(f"failed: {r['error']}")
            continue
        print(f"{'stage':24} {'wall s':>8} {'CPU s':>8} {'peak MB':>8}")
        for name, (wall, cpu, peak) in r["stages"].items():
            print(f"{name:24} {wall:8.1f} {cpu:8.1f} {peak:8.0f}")
        build = [r["stages"][name] for name in ("PyNN script", "IR")]
        print(f"{'build (script + IR)':24} {sum(b[0] for b in build):8.1f} "
              f"{sum(b[1] for b in build):8.1f}")


def table(title: str, results: dict[str, dict]) -> None:
    print(f"\n{title}")
    head = (f"{'contender':28} {'loop s':>8} {'x brian2':>9} {'x reference':>12} "
            f"{'CPU s':>7} {'x brian2':>9} {'Mevents/s':>10} {'spikes':>9} {'peak MB':>8}  note")
    print(head)
    print("-" * len(head))
    b2 = results.get("brian2", {}).get("loop")
    b2_cpu = results.get("brian2", {}).get("cpu")
    ref = results.get("reference", {}).get("loop")
    for name, r in results.items():
        label = "Brian2 cpp_standalone" if name == "brian2" else f"spikeport {name}"
        if "error" in r:
            print(f"{label:28} failed: {r['error']}")
            continue
        vs_b2 = f"{r['loop'] / b2:9.2f}" if b2 else f"{'-':>9}"
        vs_ref = f"{r['loop'] / ref:12.2f}" if ref else f"{'-':>12}"
        rate = (f"{r['events'] / r['loop'] / 1e6:10.1f}" if r.get("events") is not None
                else f"{'-':>10}")
        cpu_b2 = f"{r['cpu'] / b2_cpu:9.2f}" if b2_cpu else f"{'-':>9}"
        print(f"{label:28} {r['loop']:8.3f} {vs_b2} {vs_ref} {r['cpu']:7.3f} {cpu_b2} {rate} "
              f"{r['spikes']:9d} {r['peak_mb']:8.0f}  {r.get('note', '')}")

if __name__ == "__main__":
    main()
