"""VA-CUBA at full size: the float64 reference against Brian2, measured in the same run.

The Vogels-Abbott current-based benchmark network of Brette et al. 2007 (J. Comput.
Neurosci. 23:349, benchmark 2, as in PyNN's examples/VAbenchmarks.py): 4000 IF_curr_exp
neurons (3200 excitatory, 800 inhibitory), connection probability 2% (~320k synapses),
0.2 ms delays, random initial v, 1 s of biological time at dt = 0.1 ms.

Contenders, each in its own subprocess (so its peak RSS, ru_maxrss, is its own):

* spikeport via PyNN: the same PyNN script run with ``toolchain.pynn`` on the
  "reference" target (capturing the IR and compiling happen inside the first ``run()``);
* spikeport via IR: the network written directly as IR, on the same engine;
* pyNN.brian2 with Brian2's Cython runtime, and with its numpy runtime (the same PyNN
  script; PyNN connects one post neuron at a time, so building takes minutes);
* Brian2 written directly, Cython runtime: the peer FACTS.md quotes at ~2.8 s a script.

Wall times are medians over ``--repeats`` runs for the fast contenders and over
``--slow-repeats`` runs for pyNN.brian2.  The machine is shared: read the ratios.

Run: ``python -m benchmarks.bench_va_cuba [--repeats 3] [--slow-repeats 1] [--skip-slow]``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

# Network parameters of benchmark 2 (VAbenchmarks.py): membrane area 20000 um^2 at
# 1 uF/cm^2 gives cm = 0.2 nF; weights are the conductances 0.27 nS and 4.5 nS times the
# driving force from a mean potential of -60 mV to 0 mV and -80 mV.
N_EXC, N_INH = 3200, 800
P_CONN = 0.02
DT, DELAY, T_STOP = 0.1, 0.2, 1000.0
V_RESET, V_THRESH = -60.0, -50.0
CELL = {"cm": 0.2, "tau_m": 20.0, "tau_syn_E": 5.0, "tau_syn_I": 10.0, "v_rest": -49.0,
        "v_reset": V_RESET, "v_thresh": V_THRESH, "tau_refrac": 5.0}
W_EXC = 1e-3 * 0.27 * (0.0 - -60.0)  # nA
W_INH = 1e-3 * 4.5 * (-80.0 - -60.0)  # nA
SEED = 98765

CONTENDERS = {
    "spikeport-pynn": "spikeport via PyNN (reference)",
    "spikeport-ir": "spikeport via IR (reference)",
    "brian2-direct": "Brian2 direct, Cython",
    "pynn-brian2-cython": "pyNN.brian2, Cython",
    "pynn-brian2-numpy": "pyNN.brian2, numpy",
}
SLOW = ("pynn-brian2-cython", "pynn-brian2-numpy")


def _pynn_script(sim: object) -> tuple[float, float, int]:
    """The benchmark as a PyNN script; returns (build s, run s, spikes)."""
    from pyNN.random import NumpyRNG, RandomDistribution

    t0 = time.perf_counter()
    sim.setup(timestep=DT, min_delay=DELAY, max_delay=DELAY)
    exc = sim.Population(N_EXC, sim.IF_curr_exp(**CELL), label="exc")
    inh = sim.Population(N_INH, sim.IF_curr_exp(**CELL), label="inh")
    rng = NumpyRNG(seed=SEED)
    v_init = RandomDistribution("uniform", low=V_RESET, high=V_THRESH, rng=rng)
    exc.initialize(v=v_init)
    inh.initialize(v=v_init)
    connector = sim.FixedProbabilityConnector(P_CONN, rng=rng)
    for pre, receptor, weight in ((exc, "excitatory", W_EXC), (inh, "inhibitory", W_INH)):
        for post in (exc, inh):
            sim.Projection(pre, post, connector, sim.StaticSynapse(weight=weight, delay=DELAY),
                           receptor_type=receptor)
    exc.record("spikes")
    inh.record("spikes")
    t1 = time.perf_counter()
    sim.run(T_STOP)
    t2 = time.perf_counter()
    spikes = sum(len(st) for pop in (exc, inh)
                 for st in pop.get_data("spikes").segments[0].spiketrains)
    sim.end()
    return t1 - t0, t2 - t1, spikes


def _spikeport_ir() -> tuple[float, float, int]:
    from toolchain.ir import Network, Population, Projection, Recording
    from toolchain.targets import get_target

    t0 = time.perf_counter()
    rng = np.random.default_rng(SEED)
    sizes = {"exc": N_EXC, "inh": N_INH}
    pops = tuple(Population(label, "IF_curr_exp", n, CELL,
                            {"v": rng.uniform(V_RESET, V_THRESH, n)})
                 for label, n in sizes.items())
    projections = []
    for pre, receptor, weight in (("exc", "excitatory", W_EXC), ("inh", "inhibitory", W_INH)):
        for post in sizes:
            i, j = np.nonzero(rng.random((sizes[pre], sizes[post])) < P_CONN)
            projections.append(Projection(f"{pre}-{post}", pre, post, i, j,
                                          np.full(i.size, weight), np.full(i.size, DELAY),
                                          receptor))
    net = Network(dt=DT, populations=pops, projections=tuple(projections),
                  recordings=tuple(Recording(label, "spikes", np.arange(n))
                                   for label, n in sizes.items()))
    target = get_target("reference")
    sim = target.simulator(target.compile(net))
    t1 = time.perf_counter()
    sim.run_until(T_STOP)
    t2 = time.perf_counter()
    res = sim.result()
    return t1 - t0, t2 - t1, sum(r.count for r in res.spikes.values())


def _brian2_direct() -> tuple[float, float, int]:
    import brian2 as b2

    t0 = time.perf_counter()
    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = DT * b2.ms
    eqs = """
    dv/dt = (v_rest - v)/tau_m + (ie + ii)/c_m : volt (unless refractory)
    die/dt = -ie/tau_e : amp
    dii/dt = -ii/tau_i : amp
    """
    ns = {"v_rest": CELL["v_rest"] * b2.mV, "tau_m": CELL["tau_m"] * b2.ms,
          "c_m": CELL["cm"] * b2.nF, "tau_e": CELL["tau_syn_E"] * b2.ms,
          "tau_i": CELL["tau_syn_I"] * b2.ms}
    group = b2.NeuronGroup(N_EXC + N_INH, eqs, threshold=f"v > {V_THRESH}*mV",
                           reset=f"v = {V_RESET}*mV", refractory=CELL["tau_refrac"] * b2.ms,
                           method="exact", namespace=ns)
    group.v = np.random.default_rng(SEED).uniform(V_RESET, V_THRESH, N_EXC + N_INH) * b2.mV
    exc, inh = group[:N_EXC], group[N_EXC:]
    syn_e = b2.Synapses(exc, group, on_pre=f"ie += {W_EXC}*nA", delay=DELAY * b2.ms)
    syn_e.connect(p=P_CONN)
    syn_i = b2.Synapses(inh, group, on_pre=f"ii += {W_INH}*nA", delay=DELAY * b2.ms)
    syn_i.connect(p=P_CONN)
    monitor = b2.SpikeMonitor(group)
    t1 = time.perf_counter()
    b2.run(T_STOP * b2.ms)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, int(monitor.num_spikes)


def _child(name: str) -> dict:
    if name == "spikeport-pynn":
        import toolchain.pynn as sim

        build, run, spikes = _pynn_script(sim)
    elif name == "spikeport-ir":
        build, run, spikes = _spikeport_ir()
    elif name == "brian2-direct":
        build, run, spikes = _brian2_direct()
    else:
        import brian2

        brian2.prefs.codegen.target = "cython" if name.endswith("cython") else "numpy"
        import pyNN.brian2 as sim

        build, run, spikes = _pynn_script(sim)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"build": build, "run": run, "spikes": spikes, "peak_mb": peak_mb}


def measure(name: str, repeats: int) -> dict:
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-m", "benchmarks.bench_va_cuba", "--child", name],
                             capture_output=True, text=True, check=False)
        if out.returncode != 0:
            return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    med["total"] = statistics.median(r["build"] + r["run"] for r in runs)
    med["repeats"] = repeats
    return med


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", choices=list(CONTENDERS), help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--slow-repeats", type=int, default=1)
    ap.add_argument("--skip-slow", action="store_true", help="leave out pyNN.brian2")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(_child(args.child)))
        return
    names = [n for n in CONTENDERS if not (args.skip_slow and n in SLOW)]
    results = {n: measure(n, args.slow_repeats if n in SLOW else args.repeats) for n in names}
    print(f"VA-CUBA, {N_EXC + N_INH} neurons, p = {P_CONN}, {T_STOP:g} ms at dt = {DT} ms "
          "(wall-clock medians; ratio = contender total / spikeport-pynn total)")
    head = (f"{'contender':34} {'n':>2} {'build s':>8} {'run s':>8} {'total s':>8} "
            f"{'ratio':>7} {'peak MB':>8} {'spikes':>7}")
    print(head)
    print("-" * len(head))
    base = results.get("spikeport-pynn", {}).get("total")
    for name, r in results.items():
        if "error" in r:
            print(f"{CONTENDERS[name]:34} failed: {r['error']}")
            continue
        ratio = f"{r['total'] / base:7.2f}" if base else f"{'-':>7}"
        print(f"{CONTENDERS[name]:34} {r['repeats']:>2} {r['build']:8.2f} {r['run']:8.2f} "
              f"{r['total']:8.2f} {ratio} {r['peak_mb']:8.0f} {r['spikes']:7.0f}")


if __name__ == "__main__":
    main()
