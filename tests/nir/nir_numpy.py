"""An independent numpy implementation of NIR's neuron equations, written from NIR's
documentation and docs/nir.md's discretisation (not from the importer), for graphs that
come without published traces.

NIR: CubaLIF/CubaLI: tau_syn dI/dt = -I + w_in S;  tau_mem dv/dt = (v_leak - v) + r I.
LIF/LI: tau dv/dt = (v_leak - v) + r I.  IF/I: dv/dt = r I.  Spiking nodes fire when
v > v_threshold, then v = v_reset.  Discretisation (docs/nir.md): the input of a step is
held over the step; for CubaLIF that is an impulse into I at the step's start of
w_in (e^(dt/tau_syn) - 1) per unit, the affine bias b a constant current w_in b into v
from the run's first step; for LIF/LI the held input is integrated into v with the bias
(exactly: matrix exponential of the held-input system), for IF/I v gains r (x + b) dt;
the threshold is tested at the step's end.  ``after_spike="keep"`` integrates a
delta-synapse node's input in the step after it fired (NIR's continuous equations,
snnTorch, Norse); ``"drop"`` discards it (IF_curr_delta in Brian2's schedule).
Node N runs L_N steps behind the input (L = 0 for Inputs, L_N = max(L_S + 2) over its
forward sources); a recurrent connection delivers the spikes of ``loop_lag`` steps before.

Supports flat graphs of Input, Affine/Linear, the six neuron nodes above and Output nodes, with
at most one linear node between two neuron/Input nodes.
"""

from __future__ import annotations

import nir
import numpy as np
from scipy.linalg import expm


def _sources(graph: nir.NIRGraph, name: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(source, weight, bias) of every connection into ``name``."""
    out = []
    for a, b in graph.edges:
        if b != name:
            continue
        node = graph.nodes[a]
        if isinstance(node, (nir.Affine, nir.Linear)):
            (src,) = [x for x, y in graph.edges if y == a]
            bias = node.bias if isinstance(node, nir.Affine) else np.zeros(node.weight.shape[0])
            out.append((src, np.asarray(node.weight, float), np.asarray(bias, float)))
        else:
            n = np.asarray(node.output_type["output"]).prod()
            out.append((a, np.eye(int(n)), np.zeros(int(n))))
    return out


NEURONS = (nir.CubaLIF, nir.CubaLI, nir.LIF, nir.LI, nir.IF, nir.I)
DELTA = (nir.LIF, nir.LI, nir.IF, nir.I)
SPIKING = (nir.CubaLIF, nir.LIF, nir.IF)


def _size(node: nir.NIRNode) -> int:
    return int(np.asarray(node.r).size)


def _propagators(node: nir.NIRNode, i_off: np.ndarray, dt: float) -> np.ndarray:
    """Per neuron the 3x3 propagator of (v, I, 1) over one step; for delta nodes I is the
    input held over the step (and stays constant)."""
    props = []
    for j in range(_size(node)):
        r = float(node.r[j])
        if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
            tm, ts = node.tau_mem[j], node.tau_syn[j]
            a = [[-1 / tm, r / tm, (node.v_leak[j] + r * i_off[j]) / tm],
                 [0.0, -1 / ts, 0.0], [0.0, 0.0, 0.0]]
        elif isinstance(node, (nir.LIF, nir.LI)):
            tm = node.tau[j]
            a = [[-1 / tm, r / tm, (node.v_leak[j] + r * i_off[j]) / tm],
                 [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        else:  # IF, I: no leak
            a = [[0.0, r, r * i_off[j]], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
        props.append(expm(np.array(a) * dt))
    return np.array(props)


def simulate(graph: nir.NIRGraph, inputs: dict[str, np.ndarray], dt_ms: float,
             loop_lag: int = 2, after_spike: str = "keep"
             ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Spikes and v, (steps, n) each, of every neuron node in the input's time base."""
    dt = dt_ms * 1e-3
    neurons = [k for k, v in graph.nodes.items() if isinstance(v, NEURONS)]
    conns = {n: _sources(graph, n) for n in neurons}
    # depth-first order from the inputs decides which connections are recurrent
    order: list[str] = []
    level = {k: 0 for k, v in graph.nodes.items() if isinstance(v, nir.Input)}
    changed = True
    while changed:
        changed = False
        for n in neurons:
            fwd = [s for s, _, _ in conns[n] if s in level and s != n]
            if n not in level and fwd and all(s in level for s in fwd):
                level[n] = max(level[s] for s in fwd) + 2
                order.append(n)
                changed = True
    rank = {n: i for i, n in enumerate(order)}
    recurrent = {n: {s for s, _, _ in conns[n] if s in rank and rank[s] >= rank[n]}
                 for n in neurons}
    steps = next(iter(inputs.values())).shape[0]
    total = steps + max(level[n] for n in neurons)
    # spikes by step of the run (node N's NIR step t is run step t + L_N), so that a
    # biased neuron firing in the L_N steps before its first input is seen by the others
    spikes = {k: np.asarray(v, float) for k, v in inputs.items()}
    spikes |= {n: np.zeros((total, _size(graph.nodes[n]))) for n in neurons}
    volts = {n: np.zeros((steps, _size(graph.nodes[n]))) for n in neurons}
    state = {}
    for n in neurons:
        node = graph.nodes[n]
        m = _size(node)
        bias = sum(b for _, _, b in conns[n])
        cuba = isinstance(node, (nir.CubaLIF, nir.CubaLI))
        i_off = node.w_in * bias if cuba else bias * np.ones(m)
        v0 = np.array(node.v_leak, float) if hasattr(node, "v_leak") else np.zeros(m)
        state[n] = {"v": v0, "i": np.zeros(m), "P": _propagators(node, i_off, dt),
                    "kick": node.w_in * np.expm1(dt / node.tau_syn) if cuba else None,
                    "fired": np.zeros(m, bool)}
    for s in range(total):
        fired = {}
        for n in neurons:
            t = s - level[n]
            if t >= steps:
                continue
            node, st = graph.nodes[n], state[n]
            x = np.zeros(_size(node))
            for src, w, _ in conns[n]:
                k = t - (loop_lag if src in recurrent[n] else 0) + level[src]
                if 0 <= k < len(spikes[src]):
                    x += w @ spikes[src][k]
            if st["kick"] is not None:
                i0 = st["i"] + st["kick"] * x
            else:  # delta synapses: the input held over this step
                i0 = np.where(st["fired"], 0.0, x) if after_spike == "drop" else x
            vec = np.stack([st["v"], i0, np.ones_like(i0)], axis=1)
            new = np.einsum("jab,jb->ja", st["P"], vec)
            v = new[:, 0]
            st["i"] = new[:, 1] if st["kick"] is not None else st["i"]
            if isinstance(node, SPIKING):
                z = v > node.v_threshold
                v = np.where(z, node.v_reset, v)
            else:
                z = np.zeros(v.size, bool)
            st["v"], st["fired"] = v, z
            fired[n] = (t, z, v)
        for n, (t, z, v) in fired.items():
            spikes[n][t + level[n]] = z
            if t >= 0:
                volts[n][t] = v
    return {n: (spikes[n][level[n]:level[n] + steps].astype(np.int64), volts[n])
            for n in neurons}
