"""Compile time and peak memory of the Potjans-Diesmann microcircuit on SpiNNaker2, with
sPyNNaker's own mapping of the same PyNN script as the peer.

Two measurements per scale, each in a fresh subprocess (so that ru_maxrss is its own):

* ``ir``: the microcircuit built directly as IR (``benchmarks.bench_compile.microcircuit``,
  the network every compile benchmark uses) and compiled by ``SpiNNaker2Target``:
  partition, delay extensions, keys, routes, table minimisation.
* ``pynn``: one PyNN script, written once (:func:`build_pynn`), run twice:
  - through spikeport's PyNN backend, then captured into the IR and compiled for
    ``spinnaker2`` (the simulator is not started);
  - through sPyNNaker (PyPI ``spynnaker``) on a virtual board: ``run(1.0)`` does its
    mapping, routing-table generation and data generation, and loads nothing.  sPyNNaker
    runs in its own virtual environment (``build/venv-spynnaker``, created on first use),
    so its dependencies never touch ours.

Both PyNN runs build the same connectivity (the microcircuit's numbers from
``bench_compile``, passed to the script as JSON so they live in one place), at dt = 0.1 ms.
sPyNNaker targets SpiNNaker 1 (18-core chips, 256 neurons per core, 1024-entry routers);
its virtual board is sized to fit.  The two do not do the same work: sPyNNaker writes
connector parameters and leaves the synaptic matrices to its on-machine synapse expander
(skipped on a virtual board), while our compile draws and places every synapse on the host.
Peaks include the Python interpreter and the network itself.  The machine is shared:
read ratios, not seconds.

Run: ``python -m benchmarks.bench_spinnaker2 [--scales 0.1 1.0] [--peer-timeout 900]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PEER_VENV = ROOT / "build" / "venv-spynnaker"
PEER_WORK = ROOT / "build" / "spynnaker-run"
PEER_PACKAGES = ["spynnaker", "pynn==0.13.0"]
REPEATS = 3  # at 10%; full scale runs once
DT = 0.1


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6  # kB -> GB


# --------------------------------------------------------------------------- the PyNN script


def model(scale: float) -> dict:
    """The microcircuit's numbers at ``scale`` from the one place that defines them."""
    from benchmarks import bench_compile as mc

    sizes = [max(int(round(n * scale)), 1) for n in mc.N_FULL]
    projections = []
    for b, post in enumerate(mc.LABELS):
        for a, pre in enumerate(mc.LABELS):
            c = mc.CONN[b][a]
            if c == 0:
                continue
            k = int(round(math.log(1 - c) / math.log(1 - 1 / (sizes[a] * sizes[b]))))
            exc = a % 2 == 0
            w = mc.W_EXC * (2.0 if (pre, post) == ("L4E", "L23E") else 1.0) * (
                1 if exc else mc.G_INH)
            projections.append({"pre": pre, "post": post, "k": k, "p": c, "w": w,
                                "delay": mc.DELAY_EXC if exc else mc.DELAY_INH,
                                "receptor": "excitatory" if exc else "inhibitory"})
    return {"labels": list(mc.LABELS), "sizes": sizes, "k_ext": list(mc.K_EXT),
            "bg_rate": mc.BG_RATE, "w_ext": mc.W_EXC, "delay_ext": mc.DELAY_EXC,
            "projections": projections}


def build_pynn(sim: object, spec: dict) -> None:
    """The microcircuit in plain PyNN 0.13 (the connection probabilities of Potjans &
    Diesmann, clipped normal weights and delays, Poisson background one-to-one), for any
    backend ``sim``.  FixedProbability rather than the IR benchmark's FixedTotalNumber:
    sPyNNaker 7.4.1's multapse connector fails in data generation ("truth value of an array
    ... is ambiguous").  No explicit RNGs: sPyNNaker refuses an ``rng`` in a
    RandomDistribution of weights or delays."""
    params = {"tau_m": 10.0, "cm": 0.25, "tau_syn_E": 0.5, "tau_syn_I": 0.5,
              "tau_refrac": 2.0, "v_rest": -65.0, "v_reset": -65.0, "v_thresh": -50.0}
    pops = {}
    for label, n, k_ext in zip(spec["labels"], spec["sizes"], spec["k_ext"], strict=True):
        pops[label] = sim.Population(n, sim.IF_curr_exp(**params), label=label)
        bg = sim.Population(n, sim.SpikeSourcePoisson(rate=k_ext * spec["bg_rate"]),
                            label=f"bg_{label}")
        sim.Projection(bg, pops[label], sim.OneToOneConnector(),
                       sim.StaticSynapse(weight=spec["w_ext"], delay=spec["delay_ext"]))
    for p in spec["projections"]:
        w, d = p["w"], p["delay"]
        low, high = (0.0, 10 * w) if w > 0 else (10 * w, 0.0)
        weight = sim.RandomDistribution("normal_clipped", mu=w, sigma=0.1 * abs(w), low=low,
                                        high=high)
        delay = sim.RandomDistribution("normal_clipped", mu=d, sigma=0.5 * d, low=DT,
                                       high=10.0)
        sim.Projection(pops[p["pre"]], pops[p["post"]],
                       sim.FixedProbabilityConnector(p["p"]),
                       sim.StaticSynapse(weight=weight, delay=delay),
                       receptor_type=p["receptor"])


# --------------------------------------------------------------------------- children


def child_ir(scale: float, repeats: int, board: str) -> dict:
    """Compile with synapse rows in SRAM; if the network does not fit that way, record why
    and compile with rows in DRAM."""
    from benchmarks.bench_compile import microcircuit
    from toolchain.targets.spinnaker2 import MappingError, SpiNNaker2Target

    t0 = time.perf_counter()
    net = microcircuit(scale)
    build_s = time.perf_counter() - t0
    sram_error = ""
    for storage in ("sram", "dram"):
        times, compiled = [], None
        try:
            for _ in range(repeats):
                compiled = None
                target = SpiNNaker2Target(board=board, synapse_storage=storage)  # no cache
                t0 = time.perf_counter()
                compiled = target.map(net)
                times.append(time.perf_counter() - t0)
        except MappingError as e:
            sram_error = str(e)
            continue
        return {"build_s": build_s, "compile_s": statistics.median(times),
                "peak_gb": _peak_gb(), "synapses": net.n_synapses, "neurons": net.n_neurons,
                "storage": storage, "sram_error": sram_error, **compiled.resources()}
    return {"error": sram_error}


def child_spikeport(spec: dict, board: str, storage: str) -> dict:
    import toolchain.pynn as sim
    from toolchain.pynn.build import build_network
    from toolchain.pynn.simulator import state
    from toolchain.targets.spinnaker2 import SpiNNaker2Target

    t0 = time.perf_counter()
    sim.setup(timestep=DT, target="spinnaker2")
    build_pynn(sim, spec)
    t1 = time.perf_counter()
    net = build_network(state).network
    compiled = SpiNNaker2Target(board=board, synapse_storage=storage).map(net)
    t2 = time.perf_counter()
    return {"build_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0,
            "peak_gb": _peak_gb(), "synapses": net.n_synapses, "pes": len(compiled.mapping.slices)}


def child_spynnaker(spec: dict) -> dict:
    import pyNN.spiNNaker as sim

    t0 = time.perf_counter()
    sim.setup(timestep=DT)
    build_pynn(sim, spec)
    t1 = time.perf_counter()
    sim.run(1.0)  # virtual board: mapping, routing tables, data generation; nothing loaded
    t2 = time.perf_counter()
    sim.end()
    return {"build_s": t1 - t0, "compile_s": t2 - t1, "total_s": t2 - t0,
            "peak_gb": _peak_gb()}


# --------------------------------------------------------------------------- harness


def _run_child(cmd: list[str], timeout: float, env: dict | None = None,
               cwd: Path | None = None) -> dict:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                             cwd=cwd)
    except subprocess.TimeoutExpired:
        return {"error": f"not finished after {timeout:g} s"}
    if out.returncode != 0:
        lines = (out.stderr or out.stdout).strip().splitlines() or ["no output"]
        # peers log at length after a failure; the exception line says why
        errors = [ln for ln in lines if re.match(r"^[\w.]+(Error|Exception|Exit)\b", ln)]
        return {"error": f"exit {out.returncode}: {(errors or lines)[-1][:300]}"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]  # peers log after
    return json.loads(lines[-1]) if lines else {"error": "no result printed"}


def ensure_peer_venv() -> str | None:
    """Create the sPyNNaker environment if needed; None when ready, else why not."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)],
                              capture_output=True, text=True)
        if made.returncode != 0:
            return f"cannot create {PEER_VENV}: {made.stderr.strip()[:200]}"
    check = subprocess.run([str(python), "-c", "import spynnaker"], capture_output=True)
    if check.returncode != 0:
        got = subprocess.run([str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES],
                             capture_output=True, text=True)
        if got.returncode != 0:
            return f"pip install {' '.join(PEER_PACKAGES)} failed: {got.stderr.strip()[-200:]}"
    return None


def peer_env(chips_side: int) -> dict:
    """A private HOME whose .spynnaker.cfg selects a virtual board (sPyNNaker reads its
    configuration from the home directory and would otherwise write a template there)."""
    home = PEER_WORK / f"home-{chips_side}"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".spynnaker.cfg").write_text(
        "[Machine]\nvirtual_board = True\nversion = 5\n"
        f"width = {chips_side}\nheight = {chips_side}\n")
    return {**os.environ, "HOME": str(home)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", type=float, nargs="+", default=[0.1, 1.0])
    ap.add_argument("--peer-timeout", type=float, default=900.0)
    ap.add_argument("--child", choices=["ir", "spikeport", "spynnaker"], help=argparse.SUPPRESS)
    ap.add_argument("--scale", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    ap.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    ap.add_argument("--board", default="16x16", help=argparse.SUPPRESS)
    ap.add_argument("--storage", default="sram", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child == "ir":
        print(json.dumps(child_ir(args.scale, args.repeats, args.board)))
        return
    if args.child == "spikeport":
        print(json.dumps(child_spikeport(json.loads(args.spec), args.board, args.storage)))
        return
    if args.child == "spynnaker":
        print(json.dumps(child_spynnaker(json.loads(args.spec))))
        return

    me = [sys.executable, "-m", "benchmarks.bench_spinnaker2"]
    peer_problem = ensure_peer_venv()
    rows = []
    for scale in args.scales:
        board = "48-chip" if scale <= 0.2 else "16x16"
        repeats = REPEATS if scale <= 0.2 else 1
        ir = _run_child([*me, "--child", "ir", "--scale", str(scale), "--repeats",
                         str(repeats), "--board", board], timeout=3600, cwd=ROOT)
        spec = json.dumps(model(scale))
        storage = ir.get("storage", "dram")  # whatever the IR compile needed
        ours = [_run_child([*me, "--child", "spikeport", "--spec", spec, "--board", board,
                            "--storage", storage], timeout=3600, cwd=ROOT)
                for _ in range(repeats)]
        if peer_problem:
            theirs = [{"error": peer_problem}]
        else:
            side = 12 if scale <= 0.2 else 24  # a virtual SpiNNaker 1 machine that fits
            theirs = [_run_child([str(PEER_VENV / "bin" / "python"), str(Path(__file__)),
                                  "--child", "spynnaker", "--spec", spec],
                                 timeout=args.peer_timeout, env=peer_env(side), cwd=PEER_WORK)
                      for _ in range(repeats if scale <= 0.2 else 1)]
        rows.append((scale, board, ir, ours, theirs))
    _print(rows)


def _median(runs: list[dict], key: str) -> float:
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else math.nan


def _print(rows: list) -> None:
    print("SpiNNaker2 compile of the Potjans-Diesmann microcircuit (dt = 0.1 ms); medians")
    print(f"{'scale':>5} {'board':>8} {'rows in':>7} {'synapses':>11} {'IR compile s':>12} "
          f"{'peak GB':>7} {'PEs':>6} {'delay PEs':>9} {'chips':>5} {'max rt':>6} "
          f"{'rt total':>8} {'rt before min':>13}")
    for scale, board, ir, _, _ in rows:
        if "error" in ir:
            print(f"{scale:>5g} {board:>8} IR compile failed: {ir['error']}")
            continue
        print(f"{scale:>5g} {board:>8} {ir['storage']:>7} {ir['synapses']:>11} "
              f"{ir['compile_s']:>12.2f} {ir['peak_gb']:>7.2f} {ir['pes']:>6} "
              f"{ir['pes_delay_extension']:>9} {ir['chips']:>5} {ir['router_entries_max']:>6} "
              f"{ir['router_entries_total']:>8} {ir['router_entries_before_minimisation']:>13}")
    for scale, _, ir, _, _ in rows:
        if ir.get("sram_error"):
            print(f"scale {scale:g}, rows in SRAM: {ir['sram_error']}")
    print()
    print("Same PyNN script: spikeport (PyNN capture + spinnaker2 compile) vs sPyNNaker "
          "(virtual board: mapping + data generation)")
    print(f"{'scale':>5} {'ours build s':>12} {'ours compile s':>14} {'ours GB':>7} "
          f"{'sPyNNaker build s':>17} {'sPyNNaker run s':>15} {'sPyNNaker GB':>12} "
          f"{'ratio':>6}")
    for scale, _, _, ours, theirs in rows:
        o_b, o_c, o_m = (_median(ours, k) for k in ("build_s", "compile_s", "peak_gb"))
        t_b, t_c, t_m = (_median(theirs, k) for k in ("build_s", "compile_s", "peak_gb"))
        ratio = (t_b + t_c) / (o_b + o_c) if o_b + o_c > 0 else math.nan
        print(f"{scale:>5g} {o_b:>12.2f} {o_c:>14.2f} {o_m:>7.2f} {t_b:>17.2f} {t_c:>15.2f} "
              f"{t_m:>12.2f} {ratio:>6.2f}")
        for who, runs in (("spikeport", ours), ("sPyNNaker", theirs)):
            for r in runs:
                if "error" in r:
                    print(f"      {who} at scale {scale:g}: {r['error']}")
                    break
    print("ratio = sPyNNaker (build + run) / spikeport (build + compile); > 1: we are faster")
    print("sPyNNaker's host time excludes synaptic-matrix generation (its synapse expander "
          "runs on the machine and is skipped on a virtual board); ours includes it")


if __name__ == "__main__":
    if str(ROOT) not in sys.path:  # run by path from the sPyNNaker environment
        sys.path.insert(0, str(ROOT))
    main()
