"""NIR graph -> one validated ``ir.Network`` (the discretisation is docs/nir.md's).

Units: NIR time constants are seconds and become ms; the graph's voltage unit is read as
mV, its current unit as nA and its resistance as MOhm (so r I is in mV and a population's
``cm`` is ``tau / r``).  Numbers are carried over unchanged in those units.

Time: NIR's equations are continuous; a graph runs at the user's ``dt``.  The input of
step t (spike counts, held over the step as NIR's own exact reference simulation does) is
delivered as an impulse at the start of the step, sized so that the state variable it
enters (I for CubaLIF/CubaLI, v for LIF/LI) equals the held-input solution at every step
boundary; the IR kernels then integrate exactly between steps and test the threshold at
the end of each step.  Every edge costs the IR one step of synaptic delay, plus a step for
a synaptic current to reach the membrane; each neuron node therefore runs ``offset`` steps
behind the graph's time base, chosen per node so that feed-forward paths are exact, and
``spikeport nir run`` writes its traces shifted back by that offset.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nir
import numpy as np
import scipy.sparse as sp

from toolchain.ir import (
    ArraySource,
    CellType,
    IRError,
    Network,
    PoissonSource,
    Population,
    Projection,
    Receptor,
    Recording,
    STDPRule,
)
from toolchain.nir.graph import (
    META,
    Flat,
    NIRError,
    Reduced,
    Term,
    flatten,
    read_graph,
    reduce,
)
from toolchain.sim.kernels import exp_psc_propagator

#: the IR cell type of NIR's nodes whose input enters v directly (LIF, LI, IF, I)
DELTA_CELL = CellType.IF_CURR_DELTA.value
#: how LIF and LI nodes are discretised (see :func:`load`)
SCHEMES = ("exact", "euler")
#: the synaptic time constant, in steps, of a current that vanishes within its step
#: (e^-1000 underflows to 0.0): how LIF, LI, IF and I nodes receive their input
VANISHING = 1e-3
#: for IF and I nodes, which have no leak: the IR membrane time constant, in steps
#: (v loses 1e-8 of its distance to v_rest per step; see docs/nir.md, "Nodes")
NO_LEAK_STEPS = 1e8

@dataclass(frozen=True)
class NodeMap:
    """How one NIR neuron node became an IR population."""

    node: str
    nir_type: str
    cell_type: str
    size: int
    offset: int  # NIR step t of this node is IR step t + offset
    spiking: bool  # False for LI/CubaLI (threshold out of reach)
    shape: tuple[int, ...] = ()


@dataclass(frozen=True)
class Imported:
    """An imported graph: the network plus what is needed to run it in the graph's terms."""

    network: Network
    dt: float  # ms
    inputs: dict[str, tuple[int, ...]]  # Input node -> its shape
    nodes: dict[str, NodeMap]  # neuron node -> its mapping
    outputs: dict[str, list[str]]  # Output node -> nodes feeding it
    loop_lag: dict[str, int] = field(default_factory=dict)  # projection -> steps late
    reduced: Reduced | None = None
    scheme: str = "exact"  # how LIF and LI nodes are discretised

    @property
    def max_offset(self) -> int:
        return max((m.offset for m in self.nodes.values()), default=0)

    def notes(self) -> list[str]:
        """Where this run departs from NIR's continuous equations (docs/nir.md, "Time"),
        in words for the command line and run.json."""
        out = []
        delta = [m.node for m in self.nodes.values() if m.cell_type == DELTA_CELL
                 and m.spiking]
        if delta:
            names = ", ".join(repr(n) for n in delta)
            out.append(f"{names} ({DELTA_CELL}, as written from a PyNN network): an input "
                       "that arrives in the step after a neuron fired is discarded by its "
                       "reset, as in Brian2; NIR's equations, snnTorch and Norse keep it")
        vanishing = [m.node for m in self.nodes.values() if m.cell_type != DELTA_CELL
                     and m.nir_type in ("LIF", "LI", "IF", "I")]
        if vanishing:
            names = ", ".join(repr(n) for n in vanishing)
            out.append(f"{names}: input straight into v, run as IF_curr_exp with a current "
                       f"gone within its step (tau_syn = dt/{1 / VANISHING:.0f}); a target "
                       "that refuses that tau_syn cannot run the node")
        cuba = [m.node for m in self.nodes.values() if m.nir_type.startswith("Cuba")]
        if self.scheme == "euler" and cuba:
            out.append(f"{', '.join(repr(n) for n in cuba)}: CubaLIF/CubaLI nodes keep the "
                       "exact scheme (snnTorch and Norse order their current and voltage "
                       "updates differently, so there is no one Euler form)")
        leakless = [m.node for m in self.nodes.values() if m.nir_type in ("IF", "I")]
        if leakless:
            names = ", ".join(repr(n) for n in leakless)
            out.append(f"{names}: no leak in NIR; run with tau_m = {NO_LEAK_STEPS:.0e} "
                       f"steps (v loses {1 / NO_LEAK_STEPS:.0e} of itself per step)")
        for label, late in self.loop_lag.items():
            out.append(f"'{label}' closes a loop and arrives {late} step(s) later than in "
                       "NIR's discrete-time frameworks")
        return out


def read(path: str | Path, dt: float | None = None, **options: Any) -> Network:
    """The network of the NIR graph in ``path`` run at ``dt`` ms (see :func:`load`)."""
    return load(path, dt, **options).network


def load(path: str | Path, dt: float | None = None, *, max_input_count: int = 1,
         label: str | None = None, scheme: str = "exact") -> Imported:
    """Import the NIR graph in ``path`` at timestep ``dt`` (ms).

    ``dt`` may be left out for graphs spikeport wrote (they record theirs).
    ``max_input_count`` bounds the spike count per Input neuron and step; only
    non-spiking nodes (LI, CubaLI) depend on it, for a threshold their voltage cannot reach.
    ``scheme``: how LIF and LI nodes are discretised: ``"exact"`` (NIR's continuous
    equations, the default) or ``"euler"`` (forward Euler, v += dt/tau ((v_leak - v) + r I),
    which is what snnTorch's Leaky and Norse's LIF compute: a graph they trained runs as
    it did there).
    """
    graph = read_graph(str(path))
    return from_graph(graph, dt, max_input_count=max_input_count,
                      label=label or Path(path).stem, scheme=scheme)


def from_graph(graph: nir.NIRGraph, dt: float | None = None, *, max_input_count: int = 1,
               label: str = "nir", scheme: str = "exact") -> Imported:
    """Import an in-memory ``nir.NIRGraph`` (see :func:`load`)."""
    if scheme not in SCHEMES:
        raise NIRError(f"scheme '{scheme}' is not one of {', '.join(SCHEMES)} (--scheme)")
    flat = flatten(graph)
    meta = _meta(flat.metadata)
    if dt is None:
        if "dt" not in meta:
            raise NIRError("the graph does not say which timestep it was made for; give dt "
                           "(ms), for example dt=0.1 (--dt 0.1)")
        dt = float(meta["dt"])
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise NIRError(f"dt = {dt} ms must be a positive number")
    red = reduce(flat, dt * 1e-3)
    if not red.neurons:
        raise NIRError("the graph has no neuron node (LIF, CubaLIF, ...); nothing to simulate")
    offsets = _offsets(red, meta)
    maps, pops, scale = {}, [], {}
    for name in red.neurons:
        pop, s, spiking = _population(name, flat, red, dt, max_input_count, scheme)
        pops.append(pop)
        scale[name] = s
        maps[name] = NodeMap(name, flat.kind(name), pop.cell_type.value, pop.size,
                             offsets[name], spiking, _shape(flat, name))
    sources = tuple(_source(n, flat) for n in red.inputs if not _is_bias(n, flat))
    projections, loop_lag = _projections(red, offsets, scale, dt)
    pops, sources, projections = (_ordered(x, meta, kind) for x, kind in (
        (pops, "populations"), (sources, "sources"), (projections, "projections")))
    recordings = tuple(Recording(p.label, var, np.arange(p.size))
                       for p in pops for var in ("spikes", "v"))
    try:
        network = Network(dt=dt, populations=tuple(pops), sources=sources,
                          projections=tuple(projections), recordings=recordings,
                          label=str(meta.get("label", label)))
    except (IRError, ValueError) as e:
        raise NIRError(f"the imported network is not valid: {e}") from None
    inputs = {n: _shape(flat, n) for n in red.inputs if not _is_bias(n, flat)}
    return Imported(network, dt, inputs, maps, red.outputs, loop_lag, red, scheme)


def _ordered(items: Any, meta: Mapping[str, Any], kind: str) -> tuple:
    """``items`` in the order spikeport wrote them (HDF5 lists nodes alphabetically);
    graph order for anything else."""
    items = tuple(items)
    saved = meta.get("order", {}).get(kind) if isinstance(meta.get("order"), Mapping) \
        else None
    if not isinstance(saved, str):
        return items
    rank = {label: i for i, label in enumerate(saved.split("\n"))}
    return tuple(sorted(items, key=lambda x: rank.get(x.label, len(rank))))


def _is_bias(name: str, flat: Flat) -> bool:
    """An Input spikeport wrote only to carry a bias-driven population's i_offset."""
    return str(_meta(flat.nodes[name].metadata).get("role", "")) == "bias"


def _source(name: str, flat: Flat) -> ArraySource | PoissonSource:
    """An Input becomes a spike source whose events come from the user, unless spikeport
    wrote it from a source it describes (a Poisson source, or given spike times)."""
    n = flat.size(name)
    meta = _meta(flat.nodes[name].metadata)
    try:
        if meta.get("source") == "poisson":
            duration = np.asarray(meta["duration"], dtype=np.float64)
            return PoissonSource(label=name, size=n, rate=meta["rate"], start=meta["start"],
                                 duration=np.where(duration < 0, np.inf, duration),
                                 seed=int(np.asarray(meta["seed"])))
        if meta.get("source") == "array" and "times" in meta:
            return ArraySource(label=name, size=n, times=meta["times"],
                               offsets=meta["offsets"])
    except (IRError, ValueError, KeyError) as e:
        raise NIRError(f"Input node '{name}': its {META} source metadata is not valid: "
                       f"{e}") from None
    return ArraySource(label=name, size=n, times=np.zeros(0),
                       offsets=np.zeros(n + 1, dtype=np.int64))


# --------------------------------------------------------------------------- timing


def _offsets(red: Reduced, meta: Mapping[str, Any]) -> dict[str, int]:
    """Per neuron node, how many IR steps it runs behind the graph's time base.

    The smallest offsets for which every forward term gets its delay of at least one step
    exactly: L_target >= L_source + 2 - lag (one step of delay, one for the synaptic
    current).  Graphs spikeport wrote carry their offsets and get them back."""
    saved = meta.get("offsets")
    if isinstance(saved, Mapping) and all(n in saved for n in red.neurons):
        return {n: int(np.asarray(saved[n])) for n in red.neurons}
    offsets = dict.fromkeys(red.inputs, 0) | dict.fromkeys(red.neurons, 0)
    forward = [t for t in red.terms if not t.back]
    for _ in range(len(offsets) + 1):
        changed = False
        for t in forward:
            need = offsets[t.source] + 2 - t.lag
            if need > offsets[t.target]:
                offsets[t.target] = need
                changed = True
        if not changed:
            break
    return {n: offsets[n] for n in red.neurons}


def delay_steps(term: Term, offsets: Mapping[str, int]) -> int:
    """The IR delay (steps) that makes ``term`` act in the right step of its target, before
    the IR's minimum of one step is applied."""
    lo = offsets.get(term.source, 0)
    return offsets[term.target] - lo - 1 + term.lag + (1 if term.back else 0)


# --------------------------------------------------------------------------- neurons


def _meta(metadata: object) -> dict[str, Any]:
    if isinstance(metadata, Mapping):
        inner = metadata.get(META)
        if isinstance(inner, Mapping):
            return dict(inner)
    return {}


def _shape(flat: Flat, name: str) -> tuple[int, ...]:
    types = flat.nodes[name].output_type or {}
    shape = next(iter(types.values()), None)
    return tuple(int(s) for s in np.atleast_1d(shape)) if shape is not None else ()


def _param(name: str, node: Any, field_name: str, n: int, *, positive: bool = False
           ) -> np.ndarray:
    raw = getattr(node, field_name)
    arr = np.asarray(raw, dtype=np.float64).reshape(-1)
    if arr.size == 1 and n > 1:
        arr = np.full(n, float(arr[0]))
    if arr.size != n:
        raise NIRError(f"node '{name}' ({type(node).__name__}) {field_name} has {arr.size} "
                       f"values for {n} neurons")
    bad = ~np.isfinite(arr) | ((arr <= 0) if positive else False)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        need = "a positive finite number" if positive else "a finite number"
        raise NIRError(f"node '{name}' ({type(node).__name__}) {field_name}[{i}] = "
                       f"{arr[i]:g} must be {need}")
    return arr


def _population(name: str, flat: Flat, red: Reduced, dt: float, max_input_count: int,
                scheme: str = "exact") -> tuple[Population, np.ndarray, bool]:
    """The population of neuron node ``name``, the IR weight one unit of its NIR input
    stands for (per neuron), and whether it spikes."""
    node = flat.nodes[name]
    n = flat.size(name)
    kind = type(node).__name__
    bias = red.bias.get(name)
    cuba = isinstance(node, (nir.CubaLIF, nir.CubaLI))
    if cuba:
        cell, params, scale = _cuba(name, node, n, dt, bias)
    else:
        cell, params, scale = _delta(name, node, n, dt, bias, scheme)
    if cell is CellType.IF_CURR_EXP:
        # I after a step's impulse decays by e^(-dt/tau_syn); v follows with gain r
        gain = params["tau_m"] / params["cm"] / -np.expm1(-dt / params["tau_syn_E"])
    else:
        gain = 1.0 / -np.expm1(-dt / params["tau_m"])  # v's own decay bounds its jumps
    spiking = isinstance(node, (nir.CubaLIF, nir.LIF, nir.IF))
    if spiking:
        params["v_thresh"] = _param(name, node, "v_threshold", n)
        params["v_reset"] = _param(name, node, "v_reset", n)
    else:
        params["v_thresh"] = params["v_rest"] + _reach(
            name, red, scale * gain, params["tau_m"] / params["cm"], params["i_offset"],
            max_input_count)
        params["v_reset"] = params["v_rest"].copy()
    meta = _meta(node.metadata)
    params["tau_refrac"] = _saved(meta, "tau_refrac", n, 0.0)
    params = _exact(meta, params)
    initial = {"v": params["v_rest"].copy() if "v_leak" in _fields(node) else np.zeros(n)}
    saved = meta.get("initial_values")
    if isinstance(saved, Mapping):
        initial.update({k: np.asarray(v, dtype=np.float64) for k, v in saved.items()})
    try:
        pop = Population(label=name, cell_type=cell, size=n, parameters=params,
                         initial_values=initial)
    except (IRError, ValueError) as e:
        raise NIRError(f"node '{name}' ({kind}): {e}") from None
    return pop, scale, spiking


def _fields(node: Any) -> set[str]:
    return set(getattr(node, "__dataclass_fields__", {}))


def _cuba(name: str, node: Any, n: int, dt: float, bias: np.ndarray | None
          ) -> tuple[CellType, dict[str, np.ndarray], np.ndarray]:
    """CubaLIF / CubaLI -> IF_curr_exp: the input enters the synaptic current I."""
    tau_syn = _param(name, node, "tau_syn", n, positive=True) * 1e3
    tau_m = _param(name, node, "tau_mem", n, positive=True) * 1e3
    r = _param(name, node, "r", n, positive=True)
    w_in = _param(name, node, "w_in", n)
    params = {"cm": tau_m / r, "tau_m": tau_m, "tau_syn_E": tau_syn, "tau_syn_I": tau_syn,
              "v_rest": _param(name, node, "v_leak", n),
              "i_offset": w_in * bias if bias is not None else np.zeros(n)}
    # an impulse at the step's start that leaves I where a held input leaves it
    return CellType.IF_CURR_EXP, params, w_in * np.expm1(dt / tau_syn)


def _delta(name: str, node: Any, n: int, dt: float, bias: np.ndarray | None,
           scheme: str = "exact") -> tuple[CellType, dict[str, np.ndarray], np.ndarray]:
    """LIF / LI / IF / I, whose input enters v directly.

    LIF, LI: tau dv/dt = (v_leak - v) + r I, so an input x held over a step adds
    r x (1 - e^(-dt/tau)) to the decayed v.  IF, I: dv/dt = r I (t in seconds), so it adds
    r x dt; the IR membrane always leaks, so these get tau_m = NO_LEAK_STEPS dt and
    cm = 1e3 / r, which makes i_offset = b add r b dt per step as NIR's bias does.

    NIR's equations (and snnTorch, Norse) integrate the input of the step after a spike;
    IF_curr_delta, in Brian2's schedule, undoes a jump that arrives in the step its neuron
    fires, which is that input.  So these nodes become IF_curr_exp with a current that
    vanishes within the step it arrives in (e^(-dt/tau_syn) is 0.0 in float64): its charge
    moves v in the next step exactly as the held input does, after a reset as well.  A
    node spikeport wrote from an IF_curr_delta population comes back as one.

    ``scheme="euler"`` (LIF, LI): forward Euler, v' = (1 - dt/tau) v + dt/tau (v_leak +
    r (x + b)), is the exact solution with tau_m = -dt / ln(1 - dt/tau) and an input step
    of r dt/tau; it needs dt < tau."""
    r = _param(name, node, "r", n, positive=True)
    i_offset = bias if bias is not None else np.zeros(n)
    if isinstance(node, (nir.LIF, nir.LI)):
        tau_m = _param(name, node, "tau", n, positive=True) * 1e3
        step = r * -np.expm1(-dt / tau_m)  # v gained per unit of held input
        if scheme == "euler":
            ratio = dt / tau_m
            if np.any(ratio >= 1):
                i = int(np.flatnonzero(ratio >= 1)[0])
                raise NIRError(
                    f"node '{name}' ({type(node).__name__}) tau[{i}] = {tau_m[i] * 1e-3:g} s "
                    f"is not longer than dt = {dt:g} ms, so forward Euler (--scheme euler) "
                    "overshoots; use a smaller --dt or --scheme exact")
            tau_m, step = -dt / np.log1p(-ratio), r * ratio
        params = {"cm": tau_m / r, "tau_m": tau_m, "v_rest": _param(name, node, "v_leak", n),
                  "i_offset": i_offset}
    else:
        tau_m = np.full(n, NO_LEAK_STEPS * dt)
        params = {"cm": 1e3 / r, "tau_m": tau_m, "v_rest": np.zeros(n), "i_offset": i_offset}
        step = r * dt * 1e-3
    if _meta(node.metadata).get("cell_type") == DELTA_CELL:
        return CellType.IF_CURR_DELTA, params, step * np.exp(dt / tau_m)
    tau_syn = np.full(n, dt * VANISHING)
    params |= {"tau_syn_E": tau_syn, "tau_syn_I": tau_syn.copy()}
    return CellType.IF_CURR_EXP, params, step / vanishing_charge(dt, params)


def vanishing_charge(dt: float, params: Mapping[str, np.ndarray]) -> np.ndarray:
    """The change of v (mV) over the step after 1 nA of a vanishing current arrives: the
    engine's own propagator, so that the IR weight moves v by exactly what NIR says."""
    return exp_psc_propagator(dt, params["tau_m"], params["tau_syn_E"], params["cm"])


def _exact(meta: Mapping[str, Any], params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The IR parameters spikeport saved with the node, where the NIR fields still say
    the same (to rounding): a graph edited since keeps its edits, an untouched one comes
    back bit for bit."""
    saved = meta.get("parameters")
    if not isinstance(saved, Mapping):
        return params
    out = dict(params)
    for k, v in params.items():
        if k in saved:
            s = np.asarray(saved[k], dtype=np.float64).reshape(-1)
            if s.shape == v.shape and np.allclose(s, v, rtol=1e-6, atol=1e-12):
                out[k] = s
    return out


def _saved(meta: Mapping[str, Any], key: str, n: int, default: float) -> np.ndarray:
    if key in meta:
        arr = np.asarray(meta[key], dtype=np.float64).reshape(-1)
        return np.full(n, float(arr[0])) if arr.size == 1 else arr
    return np.full(n, default)


def _reach(name: str, red: Reduced, gain: np.ndarray, r_m: np.ndarray,
           i_offset: np.ndarray, max_input_count: int) -> np.ndarray:
    """A threshold margin above v_leak that a non-spiking node's voltage cannot reach.

    Sources fire at most once per neuron and step (Inputs at most ``max_input_count``
    times), so each step adds at most sum|w| to the variable the input enters; that decays
    every step, so |v - v_leak| <= sum|w| c ``gain`` + r |i_offset| (``gain``: the
    steady-state response of v to one unit of NIR input per step)."""
    drive = np.zeros(gain.size)
    for t in red.terms:
        if t.target != name:
            continue
        count = max_input_count if t.source in red.inputs else 1
        drive += np.asarray(abs(t.matrix).sum(axis=1)).reshape(-1) * count
    return 2.0 * (drive * np.abs(gain) + r_m * np.abs(i_offset)) + 1.0


# --------------------------------------------------------------------------- synapses


@dataclass
class _Group:
    label: str
    receptor: Receptor | None  # None: split by sign
    parts: list[tuple[sp.csr_matrix, int]] = field(default_factory=list)  # (IR weights, d)
    meta: dict[str, Any] = field(default_factory=dict)


def _projections(red: Reduced, offsets: Mapping[str, int], scale: Mapping[str, np.ndarray],
                 dt: float) -> tuple[list[Projection], dict[str, int]]:
    groups: dict[tuple[str, str, str], _Group] = {}
    loop_lag: dict[str, int] = {}
    for t in red.terms:
        d = delay_steps(t, offsets)
        late = max(1 - d, 0)
        d = max(d, 1)
        weights = (sp.diags(scale[t.target]) @ t.matrix).tocsr()
        meta = _path_meta(red.flat, t)
        label = str(meta.get("projection", f"{t.source}->{t.target}"))
        key = (t.source, t.target, label)
        if key not in groups:
            receptor = Receptor(str(meta["receptor"])) if "receptor" in meta else None
            groups[key] = _Group(label, receptor, meta=meta)
        groups[key].parts.append((weights, d))
        if late:
            loop_lag[label] = max(loop_lag.get(label, 0), late)
    out = []
    for (pre, post, _), g in groups.items():
        pre_i, post_i, w, d = _synapses(g)
        splits = [(g.receptor, np.ones(w.size, bool), g.label)] if g.receptor else [
            (Receptor.EXCITATORY, w >= 0, g.label),
            (Receptor.INHIBITORY, w < 0, g.label + ":inh")]
        for receptor, keep, label in splits:
            if not keep.any():
                continue
            out.append(Projection(
                label=label, pre=pre, post=post, pre_index=pre_i[keep],
                post_index=post_i[keep], weight=w[keep], delay=d[keep] * dt,
                receptor=receptor, plasticity=_stdp(g.meta, label)))
        if g.receptor is None and g.label in loop_lag:
            loop_lag[g.label + ":inh"] = loop_lag[g.label]
    return out, loop_lag


def _path_meta(flat: Flat, t: Term) -> dict[str, Any]:
    """spikeport metadata of a path that is one exported projection (a Linear node,
    possibly followed by its Delay)."""
    named = [n for n in t.path if not isinstance(flat.nodes[n], nir.Delay)]
    if len(named) != 1:
        return {}
    return _meta(flat.nodes[named[0]].metadata)


def _synapses(g: _Group) -> tuple[np.ndarray, ...]:
    """The group's synapses in a canonical order (pre, then post, then delay)."""
    pres, posts, ws, ds = [], [], [], []
    listed = g.meta.get("pre_index"), g.meta.get("post_index")
    for weights, d in g.parts:
        if listed[0] is not None and len(g.parts) == 1:
            pre = np.asarray(listed[0], dtype=np.int64)
            post = np.asarray(listed[1], dtype=np.int64)
            w = np.asarray(weights[post, pre]).reshape(-1)
        else:
            coo = weights.tocoo()
            nz = coo.data != 0
            pre, post, w = coo.col[nz], coo.row[nz], coo.data[nz]
        pres.append(pre)
        posts.append(post)
        ws.append(w)
        ds.append(np.full(pre.size, d))
    pre, post, w, d = (np.concatenate(x) for x in (pres, posts, ws, ds))
    order = np.lexsort((d, post, pre))
    return pre[order], post[order], w[order], d[order].astype(np.float64)


def _stdp(meta: Mapping[str, Any], label: str) -> STDPRule | None:
    rule = meta.get("stdp")
    if not isinstance(rule, Mapping):
        return None
    try:
        return STDPRule(**{k: (str(v) if k == "weight_dependence" else float(v))
                           for k, v in rule.items()})
    except (IRError, ValueError, TypeError) as e:
        raise NIRError(f"projection '{label}': its {META} stdp metadata is not a valid "
                       f"rule: {e}") from None
