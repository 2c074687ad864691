"""Learning rules as the engine runs them: arithmetic that updates stored weights when a
pre spike arrives at a synapse or its post neuron fires.

Targets with on-chip learning (Loihi's trace arithmetic, the FPGA core's integer STDP)
implement :class:`PlasticityModel`; :class:`PairSTDP` is the float64 reference.
"""

from __future__ import annotations

import abc

import numpy as np

from toolchain.ir import STDPRule, WeightDependence
from toolchain.sim.synapses import SynapseMatrix, WeightCodec


class PlasticityModel(abc.ABC):
    """Learning arithmetic for one projection, working in place on its stored weights.

    All synaptic delay is axonal (pyNN.brian2 with ``dendritic_delay_fraction=0``): a pre
    spike reaches the synapse after the delay, a post spike at once.  Within a step the
    engine calls :meth:`on_pre` for arriving spikes, delivers the (updated) weights, then
    calls :meth:`on_post` for the step's post spikes (Brian2 orders the pre pathway
    before the post pathway).
    """

    def __init__(self, rule: STDPRule, matrix: SynapseMatrix, codec: WeightCodec,
                 dt: float) -> None:
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


class PairSTDP(PlasticityModel):
    """All-to-all pair STDP with exponential traces, as pyNN.brian2 runs SpikePairRule.

    Each synapse keeps a pre trace x and a post trace y (sums of e^(-age/tau)), decayed
    lazily to the time of the event that reads them.  A pre arrival adds 1 to x and
    depresses w by A_minus * f(w) * y; a post spike adds 1 to y and potentiates w by
    A_plus * g(w) * x.  Additive: f = g = w_max (pyNN.brian2's ``weight + w_max * M``,
    the same scaling as NEST's stdp_synapse); multiplicative: g = w_max - w,
    f = w - w_min.  As in pyNN.brian2, depression clips at w_min and potentiation at w_max.
    """

    def __init__(self, rule: STDPRule, matrix: SynapseMatrix, codec: WeightCodec,
                 dt: float) -> None:
        super().__init__(rule, matrix, codec, dt)
        self._k_plus = dt / rule.tau_plus
        self._k_minus = dt / rule.tau_minus
        self.reset()

    def reset(self) -> None:
        n = self.matrix.size
        self.x = np.zeros(n)
        self.y = np.zeros(n)
        self._last = np.zeros(n, dtype=np.int64)

    def _decay(self, step: int, syn: np.ndarray) -> None:
        age = step - self._last[syn]
        self.x[syn] *= np.exp(-age * self._k_plus)
        self.y[syn] *= np.exp(-age * self._k_minus)
        self._last[syn] = step

    def on_pre(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        r = self.rule
        self._decay(step, synapses)
        self.x[synapses] += 1.0
        w = weights[synapses]
        if r.weight_dependence is WeightDependence.ADDITIVE:
            scale = r.w_max
        else:
            scale = w - r.w_min
        weights[synapses] = np.maximum(w - r.A_minus * scale * self.y[synapses], r.w_min)

    def on_post(self, step: int, synapses: np.ndarray, weights: np.ndarray) -> None:
        r = self.rule
        self._decay(step, synapses)
        self.y[synapses] += 1.0
        w = weights[synapses]
        if r.weight_dependence is WeightDependence.ADDITIVE:
            scale = r.w_max
        else:
            scale = r.w_max - w
        weights[synapses] = np.minimum(w + r.A_plus * scale * self.x[synapses], r.w_max)
