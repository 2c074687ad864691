"""Running an imported NIR graph on a target, in the graph's own terms.

Inputs come as spike counts per step for each Input node (an ``.npz`` with one
(steps x n) array per Input, or a NIRGraphData file); outputs go back the same way: for
every neuron node ``N``, ``N/spikes`` (steps x n, integer) and ``N/v`` (steps x n, the
graph's voltage units), row t being what the graph computes in step t of its input: each
node's IR offset (docs/nir.md, "Time") is taken back out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from toolchain.ir import ArraySource, CellType, Network
from toolchain.nir.graph import NIRError
from toolchain.nir.importer import Imported
from toolchain.sim.results import SimulationResult

OUTPUT = "output.npz"
SUMMARY = "run.json"
REPORT = "report.txt"


# --------------------------------------------------------------------------- inputs


def read_inputs(path: str | Path, imported: Imported | None = None, *,
                sample: int = 0) -> tuple[dict[str, np.ndarray], float | None]:
    """Spike counts per Input node from ``path`` and the timestep (ms) the file states,
    if it states one (NIRGraphData does; an .npz does not)."""
    path = Path(path)
    if not path.is_file():
        raise NIRError(f"{path}: no such input file")
    with path.open("rb") as f:
        magic = f.read(8)
    if magic.startswith(b"PK"):
        return _read_npz(path), None
    if magic.startswith(b"\x89HDF"):
        return _read_nirdata(path, imported, sample)
    raise NIRError(f"{path}: not an .npz archive nor a NIRGraphData (HDF5) file")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: np.asarray(data[k]) for k in data.files}
    except (ValueError, OSError) as e:
        raise NIRError(f"{path}: cannot read it as an .npz of arrays ({e})") from None


def _read_nirdata(path: Path, imported: Imported | None, sample: int
                  ) -> tuple[dict[str, np.ndarray], float | None]:
    import nir

    try:
        data = nir.read_data(str(path))
    except (ValueError, KeyError, OSError) as e:
        raise NIRError(f"{path}: not a NIRGraphData file ({e})") from None
    out: dict[str, np.ndarray] = {}
    dts = set()
    wanted = set(imported.inputs) if imported is not None else None
    for name, node in _flat_data(data).items():
        if wanted is not None and name not in wanted:
            continue
        if not isinstance(node, nir.NIRNodeData) or not node.observables:
            continue
        if len(node.observables) > 1:
            key = next((k for k in ("spikes", "input", "output") if k in node.observables),
                       None)
            if key is None:
                raise NIRError(f"{path}: node '{name}' has observables "
                               f"{', '.join(node.observables)}; spikeport reads the one "
                               "named 'spikes'")
        else:
            key = next(iter(node.observables))
        obs = node.observables[key]
        if isinstance(obs, nir.TimeGriddedData):
            grid, dt_s = obs, float(obs.dt)
        else:  # EventData: put on a grid of the run's dt, which the caller must give
            if imported is None:
                raise NIRError(f"{path}: node '{name}' holds events; give the graph so "
                               "they can be put on its timestep")
            grid, dt_s = obs.to_time_gridded(imported.dt * 1e-3), imported.dt * 1e-3
        if not 0 <= sample < grid.n_samples:
            raise NIRError(f"{path}: node '{name}' has {grid.n_samples} samples; "
                           f"--sample {sample} is out of range")
        out[name] = np.asarray(grid.data[sample])
        dts.add(round(dt_s * 1e3, 12))
    if len(dts) > 1:
        raise NIRError(f"{path}: its nodes use different timesteps ({sorted(dts)} ms)")
    return out, (dts.pop() if dts else None)


def _flat_data(data: Any, prefix: str = "") -> dict[str, Any]:
    import nir

    out = {}
    for name, node in data.nodes.items():
        if isinstance(node, nir.NIRGraphData):
            out.update(_flat_data(node, f"{prefix}{name}."))
        else:
            out[prefix + name] = node
    return out


def check_inputs(imported: Imported, counts: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Spike counts (steps x n, non-negative integers) for every Input node, or an error
    that names the node and what is wrong."""
    missing = [n for n in imported.inputs if n not in counts]
    extra = [k for k in counts if k not in imported.inputs]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"no array for Input node(s) {', '.join(missing)}")
        if extra:
            parts.append(f"array(s) {', '.join(extra)} name no Input node")
        raise NIRError("input: " + "; ".join(parts) + " (Input nodes: "
                       f"{', '.join(imported.inputs) or 'none'})")
    out, steps = {}, set()
    for name, shape in imported.inputs.items():
        arr = np.asarray(counts[name])
        n = int(np.prod(shape)) if shape else 1
        if arr.ndim >= 1 and arr.size == arr.shape[0] * n and arr.ndim != 2:
            arr = arr.reshape(arr.shape[0], n)  # (steps, *shape) -> (steps, n)
        if arr.ndim != 2 or arr.shape[1] != n:
            raise NIRError(f"input '{name}': expected (steps, {n}) spike counts for shape "
                           f"{tuple(shape)}, got an array of shape {arr.shape}")
        if arr.dtype == bool:
            arr = arr.astype(np.int64)
        if not np.issubdtype(arr.dtype, np.number) or not np.all(np.isfinite(arr)):
            raise NIRError(f"input '{name}': spike counts must be finite numbers")
        if np.any(arr < 0) or np.any(arr != np.round(arr)):
            bad = np.argwhere((arr < 0) | (arr != np.round(arr)))[0]
            raise NIRError(f"input '{name}'[step {bad[0]}, neuron {bad[1]}] = "
                           f"{arr[tuple(bad)]}: spike counts are non-negative integers")
        out[name] = arr.astype(np.int64)
        steps.add(arr.shape[0])
    if len(steps) > 1:
        raise NIRError(f"input: the Input nodes have different numbers of steps "
                       f"({', '.join(f'{k}: {v.shape[0]}' for k, v in out.items())})")
    return out


def with_inputs(imported: Imported, counts: Mapping[str, np.ndarray]) -> Network:
    """The imported network whose Input sources emit ``counts`` (step t at t dt)."""
    counts = check_inputs(imported, counts)
    sources = []
    for src in imported.network.sources:
        arr = counts[src.label]
        trains = [np.repeat(np.arange(arr.shape[0]), arr[:, i]) * imported.dt
                  for i in range(arr.shape[1])]
        sources.append(ArraySource.from_lists(src.label, trains))
    return imported.network.replace(sources=tuple(sources))


def input_steps(counts: Mapping[str, np.ndarray]) -> int:
    return int(next(iter(counts.values())).shape[0]) if counts else 0


# --------------------------------------------------------------------------- outputs


@dataclass
class GraphRun:
    """A run in the graph's terms: traces per neuron node plus what the target reported."""

    target: str
    dt: float
    steps: int
    spikes: dict[str, np.ndarray]  # node -> (steps, n) int
    v: dict[str, np.ndarray]  # node -> (steps, n) float
    offsets: dict[str, int]
    loop_lag: dict[str, int]
    counters: dict[str, float] = field(default_factory=dict)
    report: str = ""
    notes: list[str] = field(default_factory=list)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # Output node -> readout

    def arrays(self) -> dict[str, np.ndarray]:
        out = {}
        for node in self.spikes:
            out[f"{node}/spikes"] = self.spikes[node]
            if node in self.v:
                out[f"{node}/v"] = self.v[node]
        for node, values in self.outputs.items():
            out[f"{node}/output"] = values
        return out

    def summary(self) -> dict[str, Any]:
        c = self.counters
        per_step = {}
        steps = max(c.get("steps", self.steps), 1)
        if "energy_pj_per_step" in c:
            per_step["energy_pj"] = c["energy_pj_per_step"]
        if "wall_ns_per_step" in c:
            per_step["wall_ns"] = c["wall_ns_per_step"]
        return {
            "target": self.target, "dt_ms": self.dt, "steps": self.steps,
            "offsets_steps": self.offsets, "loop_lag_steps": self.loop_lag,
            "spike_counts": {k: int(v.sum()) for k, v in self.spikes.items()},
            "synaptic_events_per_step": c.get("synaptic_events", math.nan) / steps
            if "synaptic_events" in c else None,
            "per_step": per_step,
            "notes": self.notes,
        }

    def write(self, out: str | Path) -> dict[str, Path]:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files = {"output": out / OUTPUT, "summary": out / SUMMARY}
        np.savez(files["output"], **self.arrays())
        files["summary"].write_text(json.dumps(_jsonable(self.summary()), indent=1) + "\n")
        if self.report:
            files["report"] = out / REPORT
            files["report"].write_text(self.report)
        return files


def _jsonable(x: Any) -> Any:
    if isinstance(x, Mapping):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(float(x)) else None
    return x


def _dense(times: np.ndarray, senders: np.ndarray, n: int, total: int, dt: float
           ) -> np.ndarray:
    """Spike counts (total steps x n) of spikes at ``times`` (ms) from ``senders``."""
    dense = np.zeros((total, n), dtype=np.int64)
    k = np.rint(np.asarray(times) / dt).astype(np.int64)
    ok = (k >= 0) & (k < total)
    np.add.at(dense, (k[ok], np.asarray(senders, dtype=np.int64)[ok]), 1)
    return dense


def _jumps(network: Network, post: str, fired: dict[str, np.ndarray], total: int
           ) -> np.ndarray:
    """The voltage jumps (total steps x n) delta-synapse population ``post`` receives at
    the end of each IR step, from the spikes in ``fired`` (label -> dense counts); a jump
    in a step the neuron fires is undone by its reset (sim.kernels.CurrDeltaKernel)."""
    size = network.population(post).size
    out = np.zeros((total + 1, size))
    for proj in network.projections:
        if proj.post != post or proj.pre not in fired:
            continue
        counts = fired[proj.pre]
        d = np.rint(np.asarray(proj.delay, np.float64) / network.dt).astype(np.int64)
        w = np.asarray(proj.weight, np.float64)
        for step in np.unique(d):
            keep = d == step
            m = sp.csr_matrix((w[keep], (proj.post_index[keep], proj.pre_index[keep])),
                              shape=(size, counts.shape[1]))
            arrived = (m @ counts.T).T  # (total, size): sent in step k, arrive k + step
            out[step:total] += arrived[:max(total - step, 0)]
    out = out[:total]
    out[fired[post] > 0] = 0.0
    return out


def in_graph_terms(imported: Imported, result: SimulationResult, steps: int,
                   network: Network | None = None) -> tuple[
        dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Spikes and v per neuron node as (steps, n) arrays in the graph's time base.

    A sample of v is taken at the end of an IR step, after that step's arrivals; a
    delta-synapse node (LIF, LI, IF, I) has then already jumped by the input of its next
    NIR step, which is taken back out (from the spikes and ``network``'s weights) so that
    row t is v at the end of NIR step t, as NIR's frameworks report it."""
    dt = imported.dt
    total = steps + imported.max_offset
    network = network if network is not None else imported.network
    fired: dict[str, np.ndarray] = {}
    for src in network.sources:
        if isinstance(src, ArraySource):
            senders = np.repeat(np.arange(src.size), np.diff(src.offsets))
            fired[src.label] = _dense(src.times, senders, src.size, total, dt)
    spikes, volts = {}, {}
    for name, m in imported.nodes.items():
        rec = result.spikes.get(name)
        fired[name] = _dense(rec.times, rec.senders, m.size, total, dt) \
            if rec is not None else np.zeros((total, m.size), dtype=np.int64)
    for name, m in imported.nodes.items():
        dense = fired[name]
        spikes[name] = dense[m.offset:m.offset + steps]
        sig = result.signals.get((name, "v"))
        if sig is not None:
            values = np.asarray(sig.values, dtype=np.float64)
            if values.shape[0] == total + 1:  # a sample at t = 0, then after every step
                values = values[1:]
            if values.shape[0] >= m.offset + steps:
                full = np.full((values.shape[0], m.size), np.nan)
                full[:, np.asarray(sig.indices)] = values
                if m.cell_type == CellType.IF_CURR_DELTA.value:
                    full[:total] -= _jumps(network, name, fired, total)[:full.shape[0]]
                volts[name] = full[m.offset:m.offset + steps]
    return spikes, volts


def readouts(imported: Imported, counts: Mapping[str, np.ndarray],
             spikes: Mapping[str, np.ndarray], volts: Mapping[str, np.ndarray]
             ) -> dict[str, np.ndarray]:
    """What each Output node of the graph receives, (steps, n), in the graph's time base:
    the linear maps of the paths into it applied to their sources' output (an Input's
    counts, a spiking node's spikes, a non-spiking node's v: NIR's LI, CubaLI and I output
    their voltage), Delay nodes on the way included, plus any bias on them."""
    red = imported.reduced
    if red is None:
        return {}
    out = {}
    for name, terms in red.readouts.items():
        steps = input_steps(counts)
        total = None
        for t in terms:
            if t.source in counts:
                src = np.asarray(counts[t.source], np.float64)
            elif imported.nodes[t.source].spiking:
                src = spikes[t.source].astype(np.float64)
            elif t.source in volts:
                src = volts[t.source]
            else:
                continue
            part = np.asarray(t.matrix @ src.T).T
            if t.lag:
                part = np.vstack([np.zeros((min(t.lag, steps), part.shape[1])),
                                  part[:max(steps - t.lag, 0)]])
            total = part if total is None else total + part
        if total is None:
            continue
        if name in red.readout_bias:
            total = total + red.readout_bias[name]
        identity = all(t.source not in volts or imported.nodes[t.source].spiking
                       for t in terms) and name not in red.readout_bias
        out[name] = np.rint(total).astype(np.int64) if identity and np.all(
            total == np.rint(total)) else total
    return out


def run_graph(imported: Imported, counts: Mapping[str, np.ndarray], target: str = "reference",
              **options: Any) -> GraphRun:
    """Compile the graph's network with ``counts`` as input for ``target`` and run it for
    as many steps as the input has (plus the deepest node's offset)."""
    from toolchain.compiler.report import render_report
    from toolchain.targets import get_target

    counts = check_inputs(imported, counts)
    steps = input_steps(counts)
    network = with_inputs(imported, counts)
    tgt = get_target(target, **options)
    compiled = tgt.compile(network)
    sim = tgt.simulator(compiled)
    sim.run_until((steps + imported.max_offset) * imported.dt)
    result = sim.result()
    spikes, volts = in_graph_terms(imported, result, steps, network)
    outputs = readouts(imported, counts, spikes, volts)
    report = render_report(compiled)  # every target compiles to the shared artifact
    return GraphRun(target, imported.dt, steps, spikes, volts,
                    {k: m.offset for k, m in imported.nodes.items()}, dict(imported.loop_lag),
                    dict(result.counters), report, imported.notes(), outputs)


def network_of(path: str | Path, args: tuple[str, ...] | list[str] = ()) -> tuple[Network, float]:
    """The network of a NIR graph and how long to run it, for commands that take a PyNN
    script or a network file (``spikeport compile``, ``spikeport portability``): ``args``
    may give ``--dt MS``, ``--input IN.npz`` (spike counts; the run then lasts as long as
    they do), ``--sample K`` and ``--scheme exact|euler``."""
    from toolchain.nir.importer import load

    opts = {"--dt": None, "--input": None, "--sample": "0", "--scheme": "exact"}
    args = list(args)
    while args:
        key = args.pop(0)
        key, eq, value = key.partition("=")
        if key not in opts:
            raise NIRError(f"{Path(path).name}: unknown option '{key}' for a NIR graph "
                           "(known: --dt MS, --input IN.npz, --sample K, "
                           "--scheme exact|euler)")
        if not eq:
            if not args:
                raise NIRError(f"{Path(path).name}: option {key} needs a value")
            value = args.pop(0)
        opts[key] = value
    try:
        dt = None if opts["--dt"] is None else float(opts["--dt"])
        sample = int(opts["--sample"])
    except ValueError:
        raise NIRError(f"{Path(path).name}: --dt takes a number of ms and --sample an "
                       "integer") from None
    counts: dict[str, np.ndarray] = {}
    if opts["--input"] is not None:
        counts, data_dt = read_inputs(opts["--input"], sample=sample)
        dt = dt if dt is not None else data_dt
    peak = max((int(a.max()) for a in counts.values() if np.size(a)), default=1)
    imported = load(path, dt, max_input_count=max(peak, 1), scheme=str(opts["--scheme"]))
    if not counts:
        return imported.network, 0.0
    steps = input_steps(check_inputs(imported, counts))
    return with_inputs(imported, counts), (steps + imported.max_offset) * imported.dt
