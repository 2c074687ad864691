"""Learning rules as the engine runs them: arithmetic that updates stored weights when a
pre spike arrives at a synapse or its post neuron fires.

Targets with on-chip learning (Loihi's trace arithmetic, the FPGA core's integer STDP)
implement :class:`PlasticityModel`; :class:`PairSTDP` is the float64 reference.
"""

from __future__ import annotations

import abc

import numpy as np

from toolchain.ir import STDPRule, Vogels2011Rule
from toolchain.sim.synapses import SynapseMatrix, WeightCodec


class PlasticityModel(abc.ABC):
    """Learning arithmetic for one projection, working in place on its stored weights.

    The engine calls it when spikes reach the synapse: a pre spike (1 - f) d after it was
    emitted, a post spike f d after it, with d the synapse's delay and f the rule's
    ``dendritic_delay_fraction`` (0: all delay axonal, pyNN.brian2's semantics; 1: all
    dendritic, pyNN.nest's).  Within a step it calls :meth:`on_pre` for arriving pre
    spikes, delivers the (updated) weights, then calls :meth:`on_post` for arriving post
    spikes (Brian2 orders the pre pathway before the post pathway).
    """

    def __init__(self, rule: STDPRule | Vogels2011Rule, matrix: SynapseMatrix,
                 codec: WeightCodec, dt: float) -> None:
        self.rule, self.matrix, self.codec, self.dt = rule, matrix, codec, dt

    @abc.abstractmethod
    def on_pre(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        """Pre spikes arrive at ``synapses`` (distinct indices) in ``step``."""

    @abc.abstractmethod
    def on_post(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        """The post neurons of ``synapses`` (distinct indices) fired in ``step``."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget all traces (weights are the engine's and stay as they are)."""


class _Traces(PlasticityModel):
    """Per-synapse pre and post traces x, y (sums of e^(-age/tau)), decayed lazily to the
    time of the event that reads them."""

    def __init__(self, rule: STDPRule | Vogels2011Rule, matrix: SynapseMatrix,
                 codec: WeightCodec, dt: float) -> None:
        super().__init__(rule, matrix, codec, dt)
        self.reset()

    def _rates(self) -> tuple[float, float]:
        """dt / tau of the pre and post traces."""
        r = self.rule
        return (self.dt / r.tau_plus, self.dt / r.tau_minus) if isinstance(r, STDPRule) \
            else (self.dt / r.tau, self.dt / r.tau)

    def reset(self) -> None:
        n = self.matrix.size
        self.x = np.zeros(n)
        self.y = np.zeros(n)
        self._last = np.zeros(n, dtype=np.int64)

    def _decay(self, step: int, syn: np.ndarray) -> None:
        k_pre, k_post = self._rates()
        age = step - self._last[syn]
        self.x[syn] *= np.exp(-age * k_pre)
        self.y[syn] *= np.exp(-age * k_post)
        self._last[syn] = step


class PairSTDP(_Traces):
    """All-to-all pair STDP with exponential traces, as pyNN.brian2 runs SpikePairRule.

    A pre arrival adds 1 to x and depresses w by A_minus * f(w) * y; a post arrival adds 1
    to y and potentiates w by A_plus * g(w) * x, with g(w) = w_max^(1 - mu+) (w_max - w)^mu+
    and f(w) = w_max^(1 - mu-) (w - w_min)^mu- for the rule's weight dependence (additive:
    both w_max, pyNN.brian2's ``weight + w_max * M`` and NEST's stdp_synapse scaling;
    multiplicative: w_max - w and w - w_min; see ir.STDPRule).  As in pyNN.brian2,
    depression clips at w_min and potentiation at w_max.
    """

    def on_pre(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        r = self.rule
        self._decay(step, synapses)
        self.x[synapses] += 1.0
        w = weights[synapses]
        scale = _scale(r.w_max, w - r.w_min, r.exponents[1])
        weights[synapses] = np.maximum(w - r.A_minus * scale * self.y[synapses], r.w_min)

    def on_post(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        r = self.rule
        self._decay(step, synapses)
        self.y[synapses] += 1.0
        w = weights[synapses]
        scale = _scale(r.w_max, r.w_max - w, r.exponents[0])
        weights[synapses] = np.minimum(w + r.A_plus * scale * self.x[synapses], r.w_max)


def _scale(w_max: float, distance: np.ndarray, mu: float) -> np.ndarray | float:
    """w_max^(1 - mu) distance^mu: w_max for mu = 0, the distance to the bound for mu = 1."""
    if mu == 0.0:
        return w_max
    if mu == 1.0:
        return distance
    return w_max ** (1.0 - mu) * np.maximum(distance, 0.0) ** mu


class VogelsSTDP(_Traces):
    """The inhibitory rule of Vogels et al. (2011), as NEST's vogels_sprekeler_synapse runs
    it: a pre arrival adds eta (y - alpha) to w, then 1 to x; a post arrival adds eta x,
    then 1 to y; w stays in [w_min, w_max]."""

    def on_pre(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        r = self.rule
        self._decay(step, synapses)
        w = weights[synapses] + r.eta * (self.y[synapses] - r.alpha)
        weights[synapses] = np.clip(w, r.w_min, r.w_max)
        self.x[synapses] += 1.0

    def on_post(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        r = self.rule
        self._decay(step, synapses)
        w = weights[synapses] + r.eta * self.x[synapses]
        weights[synapses] = np.clip(w, r.w_min, r.w_max)
        self.y[synapses] += 1.0
