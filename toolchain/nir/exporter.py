"""``ir.Network`` -> NIR graph, for any NIR consumer (and back through the importer).

Populations become the closest NIR neuron node (IF_curr_exp with one synaptic time
constant -> CubaLIF; IF_curr_delta, and IF_curr_exp whose current vanishes within a
step, -> LIF); projections become a
Linear node (Affine where the target population has an ``i_offset``), one per distinct
delay, followed by a Delay node where that delay is not what the graph's timing gives by
itself; spike sources become Input nodes.  What NIR cannot express travels in the
``spikeport`` entry of the nodes' metadata (docs/nir.md, "Metadata"): the cell type,
refractory time and initial values, exact IR parameters, plasticity rules, synapse lists,
a compiled target's integer formats, the timestep and the per-node offsets.  Reading the
file back with :func:`toolchain.nir.read` gives an equal network.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import nir
import numpy as np
import scipy.sparse as sp

from toolchain.ir import (
    ArraySource,
    CellType,
    Network,
    PoissonSource,
    Population,
    Projection,
    Vogels2011Rule,
)
from toolchain.nir.graph import META, NIRError, flatten, reduce
from toolchain.nir.importer import delay_steps, vanishing_charge

#: largest dense Linear weight matrix written (entries); NIR's Linear is dense
MAX_DENSE = 2**26


def write(network: Network, path: str | Path, *, compiled: Any = None) -> Path:
    """Write ``network`` as a NIR graph to ``path``.  With ``compiled`` (a target's
    ``CompiledNetwork``), each projection's integer format goes into its metadata."""
    graph = to_graph(network, compiled=compiled)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(str(path), graph)
    return path


def to_graph(network: Network, *, compiled: Any = None) -> nir.NIRGraph:
    """The NIR graph of ``network`` (see the module docstring)."""
    for cur in network.currents:
        kind = type(cur).__name__
        raise NIRError(f"{kind} '{cur.label}': NIR has no current injection; give the "
                       f"population '{cur.target}' an i_offset instead, or drive it with "
                       "spikes")
    dt = network.dt
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    for src in network.sources:
        nodes[src.label] = nir.Input(input_type={"input": np.array([src.size])},
                                     metadata={META: _source_meta(src)})
    scales = {}
    for pop in network.populations:
        nodes[pop.label], scales[pop.label] = _neuron(pop, dt)
    formats = _formats(compiled)
    biased: set[str] = set()
    delays: dict[str, int] = {}  # linear node -> the projection's delay in steps
    for proj in network.projections:
        for name, node, d in _linear(proj, network, scales[proj.post], formats,
                                     proj.post not in biased):
            _check_name(name, nodes)
            nodes[name] = node
            edges += [(proj.pre, name), (name, proj.post)]
            delays[name] = d
            biased.add(proj.post)
    for pop in network.populations:
        offset = pop.parameters["i_offset"]
        if pop.label in biased or not np.any(offset):
            continue
        # a population driven by its bias alone: the bias needs an edge to sit on
        src, lin = f"{pop.label}.bias_input", f"{pop.label}.bias"
        _check_name(src, nodes)
        _check_name(lin, nodes)
        nodes[src] = nir.Input(input_type={"input": np.array([1])},
                               metadata={META: {"role": "bias"}})
        nodes[lin] = nir.Affine(weight=np.zeros((pop.size, 1)), bias=offset / _w_in(pop),
                                metadata={})
        edges += [(src, lin), (lin, pop.label)]
        delays[lin] = 1
    # NIR infers shapes towards leaf nodes: every population that feeds no other node
    # gets an Output
    senders = {proj.pre for proj in network.projections if proj.post != proj.pre}
    if all(pop.label in senders for pop in network.populations):
        senders = set()  # every population feeds another: all of them are outputs
    for pop in network.populations:
        if pop.label not in senders:
            name = f"{pop.label}.output"
            _check_name(name, nodes)
            nodes[name] = nir.Output(output_type={"output": np.array([pop.size])})
            edges.append((pop.label, name))
    offsets, lags = _timing(nodes, edges, delays, dt)
    for lin, lag in lags.items():
        if lag:  # NIR's Delay after the linear node, on the edge into the population
            post = next(b for a, b in edges if a == lin)
            dname = f"{lin}.delay"
            _check_name(dname, nodes)
            n = int(np.prod(nodes[post].input_type["input"]))
            nodes[dname] = nir.Delay(delay=np.full(n, lag * dt * 1e-3))
            i = edges.index((lin, post))
            edges[i:i + 1] = [(lin, dname), (dname, post)]
    # HDF5 groups list their members alphabetically: keep the network's order apart
    order = {kind: "\n".join(x.label for x in getattr(network, kind))
             for kind in ("populations", "sources", "projections")}
    meta = {META: {"dt": dt, "label": network.label, "offsets": offsets, "order": order,
                   "format_version": 1}}
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)
    except (ValueError, AssertionError) as e:
        raise NIRError(f"the nir package refuses the exported graph: {e}") from None


def _check_name(name: str, nodes: Mapping[str, Any]) -> None:
    if name in nodes:
        raise NIRError(f"node name '{name}' would be used twice in the NIR graph; rename "
                       "the population, source or projection that produces it")


# --------------------------------------------------------------------------- nodes


def _source_meta(src: Any) -> dict[str, Any]:
    if isinstance(src, PoissonSource):
        return {"source": "poisson", "rate": src.rate, "start": src.start,
                "duration": np.where(np.isinf(src.duration), -1.0, src.duration),
                "seed": int(src.seed)}
    if not isinstance(src, ArraySource):
        raise NIRError(f"{type(src).__name__} '{src.label}': spikeport writes Poisson and "
                       "given spike trains as NIR inputs, not this kind of source")
    if src.times.size == 0:
        return {"source": "array"}
    return {"source": "array", "times": np.asarray(src.times),
            "offsets": np.asarray(src.offsets)}


def _w_in(pop: Population) -> np.ndarray:
    return np.ones(pop.size)


def _neuron(pop: Population, dt: float) -> tuple[Any, np.ndarray]:
    """The NIR node of ``pop`` and the IR weight of one unit of NIR input per neuron."""
    p = pop.parameters
    meta = {"cell_type": pop.cell_type.value,
            "parameters": {k: np.asarray(v) for k, v in p.items()},
            "initial_values": {k: np.asarray(v) for k, v in pop.initial_values.items()},
            "tau_refrac": np.asarray(p["tau_refrac"])}
    vanishing = pop.cell_type is CellType.IF_CURR_EXP and np.all(
        np.exp(-dt / p["tau_syn_E"]) == 0.0) and np.all(p["tau_syn_E"] == p["tau_syn_I"])
    if pop.cell_type is CellType.IF_CURR_DELTA or vanishing:
        # the input enters v (a jump, or a current gone within its step): NIR's LIF
        r = p["tau_m"] / p["cm"]
        node = nir.LIF(tau=p["tau_m"] * 1e-3, r=r, v_leak=np.array(p["v_rest"]),
                       v_threshold=np.array(p["v_thresh"]), v_reset=np.array(p["v_reset"]),
                       metadata={META: meta})
        step = r * -np.expm1(-dt / p["tau_m"])  # the importer's rule for LIF
        if vanishing:
            return node, step / vanishing_charge(dt, p)
        return node, step * np.exp(dt / p["tau_m"])
    if pop.cell_type is not CellType.IF_CURR_EXP:
        why = {CellType.IF_CURR_ALPHA: "NIR has no alpha-shaped synaptic current",
               CellType.IF_COND_EXP: "NIR's neurons are current-based; it has no "
                                     "conductance-based synapse"}.get(
                   pop.cell_type, "NIR has no node for it")
        raise NIRError(f"Population '{pop.label}' ({pop.cell_type.value}): cannot be written "
                       f"as a NIR node: {why}; use IF_curr_exp or IF_curr_delta")
    if np.any(p["tau_syn_E"] != p["tau_syn_I"]):
        i = int(np.flatnonzero(p["tau_syn_E"] != p["tau_syn_I"])[0])
        raise NIRError(f"Population '{pop.label}': tau_syn_E[{i}] = {p['tau_syn_E'][i]:g} ms "
                       f"differs from tau_syn_I[{i}] = {p['tau_syn_I'][i]:g} ms; NIR's CubaLIF "
                       "has one synaptic time constant: make them equal")
    w_in = _w_in(pop)
    fields = {"tau_syn": p["tau_syn_E"] * 1e-3, "tau_mem": p["tau_m"] * 1e-3,
              "r": p["tau_m"] / p["cm"], "v_leak": np.array(p["v_rest"]), "w_in": w_in}
    scale = w_in * np.expm1(dt / p["tau_syn_E"])
    node = nir.CubaLIF(**fields, v_threshold=np.array(p["v_thresh"]),
                       v_reset=np.array(p["v_reset"]), metadata={META: meta})
    return node, scale


def _formats(compiled: Any) -> dict[str, dict[str, Any]]:
    """Per projection, the integer format a compiled target stores it in."""
    numerics = getattr(compiled, "numerics", None)
    if not isinstance(numerics, tuple):
        return {}
    target = str(getattr(compiled, "target", "") or "target")
    out = {}
    for q in numerics:
        if dataclasses.is_dataclass(q) and hasattr(q, "projection"):
            fields = {f.name: getattr(q, f.name) for f in dataclasses.fields(q)
                      if f.name != "projection"}
            out[q.projection] = {target: fields}
    return out


def _linear(proj: Projection, network: Network, scale: np.ndarray,
            formats: Mapping[str, Any], with_bias: bool
            ) -> list[tuple[str, Any, int]]:
    """One Linear/Affine node per distinct delay of ``proj``, and that delay in steps."""
    n_pre, n_post = network.node(proj.pre).size, network.population(proj.post).size
    if n_pre * n_post > MAX_DENSE:
        raise NIRError(f"Projection '{proj.label}': NIR's Linear is a dense matrix of "
                       f"{n_post} x {n_pre} = {n_pre * n_post} weights, more than the "
                       f"{MAX_DENSE} spikeport writes; export a smaller network")
    steps = np.rint(np.asarray(proj.delay, np.float64) / network.dt).astype(np.int64)
    groups = np.unique(steps) if steps.size else np.array([1])
    pre, post = proj.pre_index.astype(np.int64), proj.post_index.astype(np.int64)
    w = np.asarray(proj.weight, np.float64) / scale[post]
    meta: dict[str, Any] = {"projection": proj.label, "receptor": proj.receptor.value}
    if proj.dynamics is not None or isinstance(proj.plasticity, Vogels2011Rule):
        what = type(proj.dynamics or proj.plasticity).__name__
        raise NIRError(f"Projection '{proj.label}': {what} cannot be written to NIR, which "
                       "has no node for it")
    if proj.plasticity is not None:
        rule = proj.plasticity
        meta["stdp"] = {f.name: (getattr(rule, f.name).value
                                 if f.name == "weight_dependence" else getattr(rule, f.name))
                        for f in dataclasses.fields(rule) if getattr(rule, f.name) is not None}
    if proj.label in formats:
        meta["format"] = formats[proj.label]
    pairs = pre * n_post + post
    if len(groups) == 1:
        if np.unique(pairs).size != pairs.size and proj.plasticity is not None:
            raise NIRError(f"Projection '{proj.label}': plastic, with several synapses "
                           "between one pair of neurons; NIR's Linear holds one weight "
                           "per pair, so each would learn as one")
        canonical = np.lexsort((post, pre))
        if np.any(proj.weight == 0) or np.any(canonical != np.arange(pre.size)):
            if np.unique(pairs).size == pairs.size:
                meta["pre_index"], meta["post_index"] = pre, post
    elif proj.plasticity is not None:
        raise NIRError(f"Projection '{proj.label}': plastic, with {len(groups)} different "
                       "delays; spikeport writes plastic projections with one delay")
    out = []
    for k, d in enumerate(groups):
        keep = steps == d
        weight = sp.coo_matrix((w[keep], (post[keep], pre[keep])),
                               shape=(n_post, n_pre)).toarray()
        name = proj.label if len(groups) == 1 else f"{proj.label}.d{k}"
        bias = network.population(proj.post).parameters["i_offset"] if k == 0 and \
            with_bias else None
        if bias is not None and np.any(bias):
            node = nir.Affine(weight=weight, bias=bias / _w_in(network.population(proj.post)),
                              metadata={META: meta})
        else:
            node = nir.Linear(weight=weight, metadata={META: meta})
        out.append((name, node, int(d)))
    return out


# --------------------------------------------------------------------------- timing


def _timing(nodes: dict[str, Any], edges: list[tuple[str, str]], delays: Mapping[str, int],
            dt: float) -> tuple[dict[str, int], dict[str, int]]:
    """Per neuron node its offset, and per linear node the lag (steps) its Delay adds, so
    that the importer's rule (docs/nir.md, "Time") gives every projection its delay back.

    Offsets are as large as possible with no negative lag: L_post <= L_pre + d + 1 - back
    for every projection of delay d (back: it closes a cycle), which keeps Delay nodes
    away from paths whose delays the graph's own timing already gives."""
    graph = nir.NIRGraph(nodes=dict(nodes), edges=list(edges), metadata={}, type_check=False)
    red = reduce(flatten(graph), dt * 1e-3)
    bounds: dict[str, float] = dict.fromkeys(red.neurons, np.inf)
    offsets: dict[str, float] = dict.fromkeys(red.inputs, 0.0) | bounds
    terms = [(t, delays[t.path[0]]) for t in red.terms]
    for _ in range(2):  # nodes no source reaches start at 0, then constrain the rest
        for _ in range(len(offsets) + 1):
            changed = False
            for t, d in terms:
                bound = offsets[t.source] + d + 1 - (1 if t.back else 0)
                if bound < offsets[t.target]:
                    offsets[t.target] = bound
                    changed = True
            if not changed:
                break
        for n, v in offsets.items():
            if np.isinf(v):
                offsets[n] = 0.0
    final = {n: int(offsets[n]) for n in red.neurons}
    lags = {}
    for t, d in terms:
        base = delay_steps(dataclasses.replace(t, lag=0), final)
        lag = d - base
        if lag < 0:  # cannot happen by construction; refuse rather than write wrong timing
            raise NIRError(f"internal: projection through '{t.path[0]}' would need a "
                           f"negative Delay ({lag} steps)")
        lags[t.path[0]] = lag
    return final, lags
