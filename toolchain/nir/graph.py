"""A NIR graph reduced to what the IR holds: neuron nodes, inputs, and the linear maps
between them.

NIR graphs interleave neuron nodes (LIF, CubaLIF, ...) with stateless linear nodes
(Affine, Linear, Scale, Delay, Flatten, Conv, pooling) and may nest graphs.  The IR has
populations joined by synapses, so every path from an Input or neuron node through
linear nodes to a neuron node becomes one sparse matrix (target x source), composed here
with scipy.sparse; Affine and Conv biases become a constant drive of the neuron node they
reach; Delay nodes add whole steps to their path.  What has no place in that picture (a
stateless Threshold, a cycle through linear nodes only) is refused naming the node.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import nir
import numpy as np
import scipy.sparse as sp


class NIRError(ValueError):
    """A NIR graph (or its input data) spikeport cannot take, naming node and field."""


NEURON_TYPES: tuple[type, ...] = (nir.LIF, nir.CubaLIF, nir.IF, nir.I, nir.LI, nir.CubaLI)
LINEAR_TYPES: tuple[type, ...] = (
    nir.Affine, nir.Linear, nir.Scale, nir.Delay, nir.Flatten, nir.Conv1d, nir.Conv2d,
    nir.SumPool2d, nir.AvgPool2d,
)
# Metadata spikeport writes and reads lives under this key of a node's metadata.
META = "spikeport"


@dataclass
class Term:
    """One weighted connection from a source (Input or neuron node) into a neuron node."""

    source: str
    target: str
    matrix: sp.csr_matrix  # (target size, source size), float64
    lag: int  # extra NIR steps from Delay nodes along the path
    path: tuple[str, ...]  # the linear nodes along the path, in order
    back: bool = False  # closes a cycle (set by back_terms)


@dataclass
class Flat:
    """A graph without nesting: node name -> node, and edges in the graph's order."""

    nodes: dict[str, Any]
    edges: list[tuple[str, str]]
    metadata: dict[str, Any] = field(default_factory=dict)

    def size(self, name: str) -> int:
        return int(np.prod(output_shape(name, self.nodes[name])))

    def kind(self, name: str) -> str:
        return type(self.nodes[name]).__name__


@dataclass
class Reduced:
    """The graph as the IR will see it."""

    flat: Flat
    inputs: list[str]  # Input nodes, graph order
    neurons: list[str]  # neuron nodes, graph order
    outputs: dict[str, list[str]]  # Output node -> the nodes feeding it
    terms: list[Term]
    bias: dict[str, np.ndarray]  # neuron node -> constant input (NIR units), if any
    readouts: dict[str, list[Term]]  # Output node -> linear maps from sources to it
    readout_bias: dict[str, np.ndarray] = field(default_factory=dict)  # Output -> constant


# --------------------------------------------------------------------------- reading


def read_graph(path: str) -> nir.NIRGraph:
    """The graph in ``path`` through the nir package, with its errors made readable."""
    try:
        return nir.read(path)
    except FileNotFoundError:
        raise NIRError(f"{path}: no such file") from None
    except OSError as e:
        raise NIRError(f"{path}: not a NIR (HDF5) file ({e})") from None
    except (ValueError, KeyError, AssertionError, TypeError) as e:
        raise NIRError(f"{path}: the nir package cannot read this graph: "
                       f"{type(e).__name__}: {e}") from None


def flatten(graph: nir.NIRGraph, prefix: str = "") -> Flat:
    """Nested NIRGraphs inlined: inner node ``n`` of subgraph ``g`` becomes ``g.n``; an
    edge into ``g`` goes to ``g``'s Input nodes, an edge out of ``g`` leaves from its
    Output nodes (which stay as identity nodes); ``g.n`` may also be named directly."""
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    entries: dict[str, list[str]] = {}
    exits: dict[str, list[str]] = {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            inner = flatten(node, full + ".")
            nodes.update(inner.nodes)
            edges.extend(inner.edges)
            entries[full] = [n for n in inner.nodes if n.startswith(full + ".")
                             and isinstance(inner.nodes[n], nir.Input)
                             and n.count(".") == full.count(".") + 1]
            exits[full] = [n for n in inner.nodes if n.startswith(full + ".")
                           and isinstance(inner.nodes[n], nir.Output)
                           and n.count(".") == full.count(".") + 1]
            for what, found in (("Input", entries[full]), ("Output", exits[full])):
                if not found:
                    raise NIRError(f"subgraph '{full}' has no {what} node, so edges "
                                   f"{'into' if what == 'Input' else 'out of'} it lead nowhere")
        else:
            nodes[full] = node
    for a, b in graph.edges:
        src, dst = prefix + a, prefix + b
        for s in exits.get(src, [src]):
            for d in entries.get(dst, [dst]):
                edges.append((s, d))
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NIRError(f"edge ({a!r}, {b!r}) names node {end!r}, which the graph "
                               f"does not have (nodes: {', '.join(sorted(nodes))})")
    metadata = dict(graph.metadata) if isinstance(graph.metadata, dict) else {}
    return Flat(nodes, edges, metadata)


def output_shape(name: str, node: Any) -> tuple[int, ...]:
    types = getattr(node, "output_type", None) or {}
    shape = next(iter(types.values()), None) if types else None
    if shape is None:
        raise NIRError(f"node '{name}' ({type(node).__name__}) has no known output shape; "
                       "give the graph's Input nodes a shape so NIR can infer it")
    return tuple(int(s) for s in np.atleast_1d(shape))


def input_shape(name: str, node: Any) -> tuple[int, ...]:
    types = getattr(node, "input_type", None) or {}
    shape = next(iter(types.values()), None) if types else None
    if shape is None:
        raise NIRError(f"node '{name}' ({type(node).__name__}) has no known input shape; "
                       "give the graph's Input nodes a shape so NIR can infer it")
    return tuple(int(s) for s in np.atleast_1d(shape))


# --------------------------------------------------------------------------- reduction


def reduce(flat: Flat, dt_s: float) -> Reduced:
    """Compose every linear path between sources and neuron nodes (``dt_s``: the step in
    seconds, which turns Delay nodes into whole steps)."""
    supported = (nir.Input, nir.Output, *NEURON_TYPES, *LINEAR_TYPES)
    for name, node in flat.nodes.items():
        if isinstance(node, nir.Threshold):
            raise NIRError(
                f"node '{name}' (Threshold): a stateless threshold of its input has no IR "
                "counterpart (every IR neuron integrates its input); graphs whose spiking "
                "nodes are LIF, CubaLIF or IF import")
        if not isinstance(node, supported):
            raise NIRError(f"node '{name}': NIR node type {type(node).__name__} is not "
                           "supported by spikeport's importer")
    preds: dict[str, list[str]] = {n: [] for n in flat.nodes}
    for a, b in flat.edges:
        preds[b].append(a)
    # an Input of a nested graph that receives edges passes them on; the others are
    # where data enters
    inputs = [n for n, node in flat.nodes.items() if isinstance(node, nir.Input)
              and not preds[n]]
    neurons = [n for n, node in flat.nodes.items() if isinstance(node, NEURON_TYPES)]
    composer = _Composer(flat, preds, dt_s)
    terms: list[Term] = []
    bias: dict[str, np.ndarray] = {}
    for n in neurons:
        n_in = int(np.prod(input_shape(n, flat.nodes[n])))
        for p in preds[n]:
            for t in composer.signal(p):
                terms.append(_expected(t, n, n_in, flat))
            b = composer.bias(p)
            if b is not None:
                bias[n] = bias.get(n, 0.0) + _sized(b, n_in, n)
    outputs: dict[str, list[str]] = {}
    readouts: dict[str, list[Term]] = {}
    readout_bias: dict[str, np.ndarray] = {}
    for name, node in flat.nodes.items():
        if isinstance(node, nir.Output) and not any(a == name for a, _ in flat.edges):
            outputs[name] = list(preds[name])
            readouts[name] = [t for p in preds[name] for t in composer.signal(p)]
            biases = [b for p in preds[name] if (b := composer.bias(p)) is not None]
            if biases:
                readout_bias[name] = np.sum(biases, axis=0)
    back_terms(inputs, neurons, terms)
    return Reduced(flat, inputs, neurons, outputs, terms, bias, readouts, readout_bias)


def _sized(b: np.ndarray, n: int, name: str) -> np.ndarray:
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if b.size != n:
        raise NIRError(f"node '{name}': receives a bias of {b.size} values for {n} inputs")
    return b


def _expected(t: Term, target: str, n_in: int, flat: Flat) -> Term:
    if t.matrix.shape[0] != n_in:
        raise NIRError(
            f"node '{target}' ({flat.kind(target)}) has {n_in} inputs but the path "
            f"{' -> '.join((t.source, *t.path))} delivers {t.matrix.shape[0]} values")
    return Term(t.source, target, t.matrix, t.lag, t.path)


def back_terms(inputs: list[str], neurons: list[str], terms: list[Term]) -> None:
    """Mark the terms that close a cycle: a depth-first walk over sources and neuron nodes
    from the Inputs (then from the remaining nodes), in the order of node names (a file
    does not keep the graph's order), meets their target on its stack.  NIR frameworks
    feed such a term with the previous step's spikes."""
    out: dict[str, list[Term]] = {}
    for t in sorted(terms, key=lambda t: (t.target, t.path)):
        out.setdefault(t.source, []).append(t)
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    for root in (*sorted(inputs), *sorted(neurons)):
        if root in state:
            continue
        stack = [(root, iter(out.get(root, ())))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            t = next(it, None)
            if t is None:
                state[node] = 2
                stack.pop()
                continue
            seen = state.get(t.target)
            if seen == 1:
                t.back = True
            elif seen is None:
                state[t.target] = 1
                stack.append((t.target, iter(out.get(t.target, ()))))


class _Composer:
    """Signals of linear nodes as sums of (source, matrix, lag) terms, memoised."""

    def __init__(self, flat: Flat, preds: dict[str, list[str]], dt_s: float) -> None:
        self.flat, self.preds, self.dt_s = flat, preds, dt_s
        self._signal: dict[str, list[Term]] = {}
        self._bias: dict[str, np.ndarray | None] = {}
        self._busy: set[str] = set()

    def _source(self, name: str) -> bool:
        node = self.flat.nodes[name]
        return isinstance(node, NEURON_TYPES) or (isinstance(node, nir.Input)
                                                  and not self.preds[name])

    def signal(self, name: str) -> list[Term]:
        """What node ``name`` outputs, as a function of the sources."""
        node = self.flat.nodes[name]
        if self._source(name):
            n = self.flat.size(name)
            return [Term(name, "", sp.identity(n, format="csr", dtype=np.float64), 0, ())]
        if name in self._signal:
            return self._signal[name]
        if name in self._busy:
            raise NIRError(f"node '{name}' ({type(node).__name__}) lies on a cycle of linear "
                           "nodes only; a loop needs a neuron node to hold its state")
        self._busy.add(name)
        incoming = [t for p in self.preds[name] for t in self.signal(p)]
        if not self.preds[name]:
            raise NIRError(f"node '{name}' ({type(node).__name__}) has no incoming edge")
        if isinstance(node, (nir.Output, nir.Input)):
            out = incoming
        else:
            op = linear_operator(name, node, self.flat, self.dt_s)
            out = []
            for t in incoming:
                if t.matrix.shape[0] != op.n_in:
                    raise NIRError(
                        f"node '{name}' ({type(node).__name__}) takes {op.n_in} inputs but "
                        f"receives {t.matrix.shape[0]} from {' -> '.join((t.source, *t.path))}")
                for matrix, lag in op.apply(t.matrix):
                    out.append(Term(t.source, "", matrix, t.lag + lag, (*t.path, name)))
        self._busy.discard(name)
        self._signal[name] = out
        return out

    def bias(self, name: str) -> np.ndarray | None:
        """The constant part of node ``name``'s output (Affine and Conv biases, carried
        through the linear nodes after them)."""
        node = self.flat.nodes[name]
        if self._source(name):
            return None
        if name in self._bias:
            return self._bias[name]
        parts = [b for p in self.preds[name] if (b := self.bias(p)) is not None]
        total = np.sum(parts, axis=0) if parts else None
        if isinstance(node, (nir.Output, nir.Input)):
            out = total
        else:
            op = linear_operator(name, node, self.flat, self.dt_s)
            out = op.apply_bias(total)
        self._bias[name] = out
        return out


# --------------------------------------------------------------------------- operators


@dataclass
class Operator:
    """One linear node: y = matrix x (+ bias), parts of y delayed by whole steps."""

    n_in: int
    matrix: sp.csr_matrix | None  # None: identity
    own_bias: np.ndarray | None = None
    lags: np.ndarray | None = None  # per output element (Delay nodes)

    def apply(self, m: sp.csr_matrix) -> list[tuple[sp.csr_matrix, int]]:
        y = m if self.matrix is None else (self.matrix @ m).tocsr()
        if self.lags is None:
            return [(y, 0)]
        parts = []
        for lag in np.unique(self.lags):
            keep = sp.diags((self.lags == lag).astype(np.float64))
            parts.append(((keep @ y).tocsr(), int(lag)))
        return parts

    def apply_bias(self, b: np.ndarray | None) -> np.ndarray | None:
        if b is not None and self.matrix is not None:
            b = self.matrix @ b
        if self.own_bias is not None:
            b = self.own_bias if b is None else b + self.own_bias
        return b


def linear_operator(name: str, node: Any, flat: Flat, dt_s: float) -> Operator:
    """The sparse matrix of one linear node, in C order of its input and output shapes."""
    n_in = int(np.prod(input_shape(name, node)))
    if isinstance(node, (nir.Affine, nir.Linear)):
        w = _finite(name, "weight", node.weight)
        if w.ndim != 2:
            raise NIRError(f"node '{name}' ({type(node).__name__}) weight has shape {w.shape}; "
                           "spikeport takes 2-D weights (outputs x inputs)")
        bias = _finite(name, "bias", node.bias).reshape(-1) \
            if isinstance(node, nir.Affine) else None
        if bias is not None and not np.any(bias):
            bias = None
        return Operator(w.shape[1], sp.csr_matrix(w), bias)
    if isinstance(node, nir.Scale):
        s = _finite(name, "scale", node.scale).reshape(-1)
        return Operator(s.size, sp.diags(s, format="csr"))
    if isinstance(node, nir.Flatten):
        return Operator(n_in, None)
    if isinstance(node, nir.Delay):
        d = _finite(name, "delay", node.delay).reshape(-1)
        if np.any(d < 0):
            i = int(np.flatnonzero(d < 0)[0])
            raise NIRError(f"node '{name}' (Delay) delay[{i}] = {d[i]:g} s is negative")
        steps = np.rint(d / dt_s)
        off = np.abs(steps * dt_s - d) > 1e-6 * dt_s + 1e-12
        if np.any(off):
            i = int(np.flatnonzero(off)[0])
            raise NIRError(
                f"node '{name}' (Delay) delay[{i}] = {d[i]:g} s is not a whole number of "
                f"steps of dt = {dt_s * 1e3:g} ms; choose a dt that divides it (--dt)")
        return Operator(d.size, None, lags=steps.astype(np.int64))
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        return _conv(name, node, flat)
    if isinstance(node, (nir.SumPool2d, nir.AvgPool2d)):
        return _pool(name, node, flat)
    raise NIRError(f"node '{name}': {type(node).__name__} is not a linear node")


def _finite(name: str, what: str, value: object) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        i = int(np.flatnonzero(~np.isfinite(arr.ravel()))[0])
        raise NIRError(f"node '{name}' {what}[{i}] = {arr.ravel()[i]} is not a finite number")
    return arr


def _pair(value: object, ndim: int) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(value)).astype(np.int64).reshape(-1)
    return tuple(int(arr[0]) for _ in range(ndim)) if arr.size == 1 else \
        tuple(int(v) for v in arr[:ndim])


def _conv(name: str, node: Any, flat: Flat) -> Operator:
    """Conv1d/Conv2d as a sparse (C_out*H'*W') x (C_in*H*W) matrix (PyTorch semantics:
    cross-correlation, zero padding, groups)."""
    w = _finite(name, "weight", node.weight)
    nd = w.ndim - 2
    in_shape = input_shape(name, node)
    if len(in_shape) != nd + 1:
        raise NIRError(f"node '{name}' ({type(node).__name__}) input shape {in_shape} is not "
                       f"(channels, {'length' if nd == 1 else 'height, width'})")
    groups = int(np.asarray(node.groups).reshape(-1)[0])
    stride, dilation = _pair(node.stride, nd), _pair(node.dilation, nd)
    padding = node.padding
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str):
        if padding == "valid":
            pad_lo = (0,) * nd
        elif padding == "same":
            pad_lo = tuple(dilation[i] * (w.shape[2 + i] - 1) // 2 for i in range(nd))
        else:
            raise NIRError(f"node '{name}' padding '{padding}' is not 'same', 'valid' or "
                           "a number")
    else:
        pad_lo = _pair(padding, nd)
    out_spatial = output_shape(name, node)[1:]
    m = conv_matrix(name, type(node).__name__, w, groups, in_shape, stride, pad_lo, dilation,
                    out_spatial)
    bias = _finite(name, "bias", node.bias).reshape(-1)
    c_out = w.shape[0]
    if bias.size == 1 and c_out > 1:
        bias = np.full(c_out, float(bias[0]))
    own = np.repeat(bias, int(np.prod(out_spatial))) if np.any(bias) else None
    return Operator(m.shape[1], m, own)


def conv_matrix(name: str, kind: str, w: np.ndarray, groups: int, in_shape: tuple[int, ...],
                stride: tuple[int, ...], pad_lo: tuple[int, ...], dilation: tuple[int, ...],
                out_spatial: tuple[int, ...]) -> sp.csr_matrix:
    """The sparse matrix of a grouped N-d cross-correlation with zero padding."""
    nd = w.ndim - 2
    c_in, spatial = in_shape[0], in_shape[1:]
    c_out, c_in_g, kernel = w.shape[0], w.shape[1], w.shape[2:]
    if c_in_g * groups != c_in or c_out % groups:
        raise NIRError(f"node '{name}' ({kind}): {c_in} input channels, weight for "
                       f"{c_in_g} per group and {groups} groups do not agree")
    # one (output position, kernel offset) pair per row of these index grids
    out_idx = np.stack(np.meshgrid(*[np.arange(s) for s in out_spatial], indexing="ij"),
                       -1).reshape(-1, nd)
    k_idx = np.stack(np.meshgrid(*[np.arange(k) for k in kernel], indexing="ij"),
                     -1).reshape(-1, nd)
    pos = (out_idx[:, None, :] * np.asarray(stride) - np.asarray(pad_lo)
           + k_idx[None, :, :] * np.asarray(dilation))  # (n_out_pos, n_k, nd)
    valid = np.all((pos >= 0) & (pos < np.asarray(spatial)), axis=-1)
    o_pos, k_pos = np.nonzero(valid)
    in_flat = np.ravel_multi_index(tuple(pos[o_pos, k_pos].T), spatial)
    n_out_pos, n_in_pos = int(np.prod(out_spatial)), int(np.prod(spatial))
    rows, cols, vals = [], [], []
    per_group_out = c_out // groups
    w_flat = w.reshape(c_out, c_in_g, -1)
    for co in range(c_out):
        g = co // per_group_out
        for ci_g in range(c_in_g):
            ci = g * c_in_g + ci_g
            v = w_flat[co, ci_g, k_pos]
            nz = v != 0
            rows.append(co * n_out_pos + o_pos[nz])
            cols.append(ci * n_in_pos + in_flat[nz])
            vals.append(v[nz])
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(c_out * n_out_pos, c_in * n_in_pos))


def _pool(name: str, node: Any, flat: Flat) -> Operator:
    """SumPool2d/AvgPool2d per channel; AvgPool divides by the whole kernel's size
    (PyTorch's count_include_pad)."""
    in_shape = input_shape(name, node)
    if len(in_shape) != 3:
        raise NIRError(f"node '{name}' ({type(node).__name__}) input shape {in_shape} is not "
                       "(channels, height, width)")
    c = in_shape[0]
    kernel, stride, pad = (_pair(x, 2) for x in (node.kernel_size, node.stride, node.padding))
    weight = np.ones((c, 1, *kernel))
    if isinstance(node, nir.AvgPool2d):
        weight /= math.prod(kernel)
    out = tuple((in_shape[1 + i] + 2 * pad[i] - kernel[i]) // stride[i] + 1 for i in range(2))
    types = getattr(node, "output_type", None) or {}
    declared = types.get("output")
    if declared is not None and tuple(int(s) for s in np.atleast_1d(declared)) != (c, *out):
        raise NIRError(f"node '{name}' ({type(node).__name__}): output shape "
                       f"{tuple(np.atleast_1d(declared))} does not follow from input "
                       f"{in_shape}, kernel {kernel}, stride {stride}, padding {pad}")
    m = conv_matrix(name, type(node).__name__, weight, c, in_shape, stride, pad, (1, 1), out)
    return Operator(m.shape[1], m)
