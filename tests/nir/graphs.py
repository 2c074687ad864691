"""Small NIR graphs, one per node type, built with the nir package."""

from __future__ import annotations

import nir
import numpy as np

RNG = np.random.default_rng(7)


def cuba(n: int, *, spiking: bool = True, tau_syn: float = 4e-4, tau_mem: float = 1e-3,
         bias_free: bool = True) -> nir.NIRNode:
    kw = {"tau_syn": np.full(n, tau_syn), "tau_mem": np.full(n, tau_mem),
          "r": np.full(n, 5.0), "v_leak": np.zeros(n), "w_in": np.full(n, 2.0)}
    if spiking:
        return nir.CubaLIF(**kw, v_threshold=np.full(n, 1.0), v_reset=np.zeros(n))
    return nir.CubaLI(**kw)


def delta(n: int, kind: type = nir.LIF, *, tau: float = 1e-3, r: float = 5.0
          ) -> nir.NIRNode:
    """A node whose input enters v directly: LIF, LI, IF or I."""
    kw: dict = {"r": np.full(n, r)}
    if kind in (nir.LIF, nir.LI):
        kw |= {"tau": np.full(n, tau), "v_leak": np.full(n, -0.2)}
    if kind in (nir.LIF, nir.IF):
        kw |= {"v_threshold": np.full(n, 1.0), "v_reset": np.full(n, -0.1)}
    return kind(**kw)


def weights(rows: int, cols: int, rng: np.random.Generator = RNG) -> np.ndarray:
    return rng.normal(0, 0.6, (rows, cols))


def graph(nodes: dict, edges: list) -> nir.NIRGraph:
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={})


def affine() -> nir.NIRGraph:
    return graph({"input": nir.Input(input_type={"input": np.array([4])}),
                  "fc": nir.Affine(weight=weights(3, 4), bias=RNG.normal(0, 0.1, 3)),
                  "lif": cuba(3), "output": nir.Output(output_type={"output": np.array([3])})},
                 [("input", "fc"), ("fc", "lif"), ("lif", "output")])


def linear_scale_li() -> nir.NIRGraph:
    return graph({"input": nir.Input(input_type={"input": np.array([4])}),
                  # its own generator and excitatory weights: the shared RNG's draws
                  # depend on which graphs a test process built before, and a draw
                  # that inhibits every LIF left the integrator nothing to integrate
                  "fc": nir.Linear(weight=np.abs(weights(3, 4, np.random.default_rng(5)))),
                  "lif": cuba(3),
                  "sc": nir.Scale(scale=np.array([1.0, -2.0, 0.5])),
                  "li": cuba(3, spiking=False),
                  "output": nir.Output(output_type={"output": np.array([3])})},
                 [("input", "fc"), ("fc", "lif"), ("lif", "sc"), ("sc", "li"),
                  ("li", "output")])


def flatten_delay() -> nir.NIRGraph:
    return graph({"input": nir.Input(input_type={"input": np.array([2, 3])}),
                  "flat": nir.Flatten(input_type={"input": np.array([2, 3])}, start_dim=0),
                  "fc": nir.Linear(weight=weights(2, 6)), "lif": cuba(2),
                  "fc2": nir.Linear(weight=weights(2, 2)),
                  "delay": nir.Delay(delay=np.array([3e-4, 0.0])), "lif2": cuba(2),
                  "output": nir.Output(output_type={"output": np.array([2])})},
                 [("input", "flat"), ("flat", "fc"), ("fc", "lif"), ("lif", "fc2"),
                  ("fc2", "delay"), ("delay", "lif2"), ("lif2", "output")])


def recurrent() -> nir.NIRGraph:
    return graph({"input": nir.Input(input_type={"input": np.array([3])}),
                  "fc": nir.Linear(weight=weights(5, 3)), "lif": cuba(5),
                  "rec": nir.Linear(weight=weights(5, 5)),
                  "output": nir.Output(output_type={"output": np.array([5])})},
                 [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"),
                  ("lif", "output")])


def nested() -> nir.NIRGraph:
    inner = graph({"input": nir.Input(input_type={"input": np.array([5])}), "lif": cuba(5),
                   "rec": nir.Linear(weight=weights(5, 5)),
                   "output": nir.Output(output_type={"output": np.array([5])})},
                  [("input", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "output")])
    return graph({"input": nir.Input(input_type={"input": np.array([3])}),
                  "fc": nir.Linear(weight=weights(5, 3)), "rnn": inner,
                  "output": nir.Output(output_type={"output": np.array([5])})},
                 [("input", "fc"), ("fc", "rnn"), ("rnn", "output")])


def conv2d_pool(pool: type = nir.SumPool2d) -> nir.NIRGraph:
    w = RNG.normal(0, 0.5, (2, 1, 3, 3))
    conv = nir.Conv2d(input_shape=(6, 6), weight=w, stride=1, padding=1, dilation=1,
                      groups=1, bias=np.array([0.1, -0.1]))
    return graph({"input": nir.Input(input_type={"input": np.array([1, 6, 6])}),
                  "conv": conv, "lif": cuba(72).__class__(**{
                      k: v.reshape(2, 6, 6) for k, v in vars(cuba(72)).items()
                      if isinstance(v, np.ndarray) and k not in ("input_type", "output_type")}),
                  "pool": pool(kernel_size=np.array([2, 2]), stride=np.array([2, 2]),
                               padding=np.array([0, 0])),
                  "flat": nir.Flatten(input_type={"input": np.array([2, 3, 3])}, start_dim=0),
                  "fc": nir.Linear(weight=weights(4, 18)), "lif2": cuba(4),
                  "output": nir.Output(output_type={"output": np.array([4])})},
                 [("input", "conv"), ("conv", "lif"), ("lif", "pool"), ("pool", "flat"),
                  ("flat", "fc"), ("fc", "lif2"), ("lif2", "output")])


def conv1d() -> nir.NIRGraph:
    w = RNG.normal(0, 0.5, (2, 2, 3))
    conv = nir.Conv1d(input_shape=7, weight=w, stride=2, padding=0, dilation=1, groups=1,
                      bias=np.zeros(2))
    n = 2 * 3
    return graph({"input": nir.Input(input_type={"input": np.array([2, 7])}), "conv": conv,
                  "lif": cuba(n).__class__(**{
                      k: v.reshape(2, 3) for k, v in vars(cuba(n)).items()
                      if isinstance(v, np.ndarray) and k not in ("input_type", "output_type")}),
                  "output": nir.Output(output_type={"output": np.array([2, 3])})},
                 [("input", "conv"), ("conv", "lif"), ("lif", "output")])


def lif_li() -> nir.NIRGraph:
    """Input -> Affine -> LIF -> Linear -> LI (snnTorch's and Norse's usual read-out)."""
    rng = np.random.default_rng(11)
    return graph({"input": nir.Input(input_type={"input": np.array([4])}),
                  "fc": nir.Affine(weight=weights(6, 4, rng) + 0.8, bias=rng.normal(0, 0.2, 6)),
                  "lif": delta(6), "fc2": nir.Linear(weight=weights(3, 6, rng)),
                  "li": delta(3, nir.LI),
                  "output": nir.Output(output_type={"output": np.array([3])})},
                 [("input", "fc"), ("fc", "lif"), ("lif", "fc2"), ("fc2", "li"),
                  ("li", "output")])


def if_i() -> nir.NIRGraph:
    """Input -> Affine -> IF -> Linear -> I (r in 1/(s unit current): r dt ~ 1)."""
    rng = np.random.default_rng(11)
    return graph({"input": nir.Input(input_type={"input": np.array([4])}),
                  "fc": nir.Affine(weight=weights(5, 4, rng), bias=rng.normal(0, 0.05, 5)),
                  "if": delta(5, nir.IF, r=5e3), "fc2": nir.Linear(weight=weights(2, 5, rng)),
                  "i": delta(2, nir.I, r=2e3),
                  "output": nir.Output(output_type={"output": np.array([2])})},
                 [("input", "fc"), ("fc", "if"), ("if", "fc2"), ("fc2", "i"),
                  ("i", "output")])


def recurrent_lif() -> nir.NIRGraph:
    rng = np.random.default_rng(12)
    return graph({"input": nir.Input(input_type={"input": np.array([3])}),
                  "fc": nir.Linear(weight=weights(5, 3, rng) + 0.5), "lif": delta(5),
                  "rec": nir.Linear(weight=weights(5, 5, rng)),
                  "output": nir.Output(output_type={"output": np.array([5])})},
                 [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"),
                  ("lif", "output")])


def lif_readout() -> nir.NIRGraph:
    """Two Output nodes: an Affine read-out of LIF spikes, and an LI node's voltage."""
    rng = np.random.default_rng(13)
    return graph({"input": nir.Input(input_type={"input": np.array([4])}),
                  "fc": nir.Linear(weight=weights(5, 4, rng) + 0.8), "lif": delta(5),
                  "ro": nir.Affine(weight=weights(2, 5, rng), bias=np.array([0.5, -0.25])),
                  "spikes_out": nir.Output(output_type={"output": np.array([2])}),
                  "fc2": nir.Linear(weight=weights(3, 5, rng)), "li": delta(3, nir.LI),
                  "v_out": nir.Output(output_type={"output": np.array([3])})},
                 [("input", "fc"), ("fc", "lif"), ("lif", "ro"), ("ro", "spikes_out"),
                  ("lif", "fc2"), ("fc2", "li"), ("li", "v_out")])


DELTA = {"lif_li": lif_li, "if_i": if_i, "recurrent_lif": recurrent_lif}

ALL = {"affine": affine, "linear_scale_li": linear_scale_li, "flatten_delay": flatten_delay,
       "recurrent": recurrent, "nested": nested, "conv2d_sumpool": conv2d_pool,
       "conv2d_avgpool": lambda: conv2d_pool(nir.AvgPool2d), "conv1d": conv1d, **DELTA}
