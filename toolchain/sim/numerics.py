"""The arithmetic a target plugs into the shared engine, chosen per population and projection.

A hardware target gives the engine a :class:`Numerics` (its neuron kernels, weight format
and learning arithmetic) and an :class:`~toolchain.sim.interconnect.Interconnect`; the
engine itself (time, spike routing, delays, sources, recording, counters) is shared.
:class:`ReferenceNumerics` is the float64 reference.
"""

from __future__ import annotations

import abc

import numpy as np

from toolchain.ir import Population, Projection, Vogels2011Rule
from toolchain.sim.kernels import COND_SCHEMES, NeuronKernel, reference_kernel
from toolchain.sim.plasticity import PairSTDP, PlasticityModel, VogelsSTDP
from toolchain.sim.synapses import FloatWeights, SynapseMatrix, WeightCodec


class Numerics(abc.ABC):
    """Factory of a target's arithmetic; called once per population/projection at build."""

    @abc.abstractmethod
    def kernel(self, population: Population, dt: float) -> NeuronKernel:
        """The neuron kernel running ``population``."""

    @abc.abstractmethod
    def weights(self, projection: Projection, post: Population) -> WeightCodec:
        """How ``projection`` stores its weights and what a spike delivers to ``post``."""

    @abc.abstractmethod
    def plasticity(self, projection: Projection, matrix: SynapseMatrix, codec: WeightCodec,
                   dt: float) -> PlasticityModel:
        """The learning arithmetic of a plastic ``projection``."""


class ReferenceNumerics(Numerics):
    """Float64 everywhere, exact integration where the dynamics are linear.

    ``cond_scheme`` picks how IF_cond_exp is integrated: "euler" (Brian2's choice, the
    default, so that the reference and Brian2 agree) or "mean-conductance" (second order).
    """

    def __init__(self, cond_scheme: str = "euler") -> None:
        if cond_scheme not in COND_SCHEMES:
            raise ValueError(
                f"reference target: cond_scheme '{cond_scheme}' is not known; "
                f"use one of: {', '.join(COND_SCHEMES)}"
            )
        self.cond_scheme = cond_scheme

    def kernel(self, population: Population, dt: float) -> NeuronKernel:
        return reference_kernel(population, dt, self.cond_scheme)

    def weights(self, projection: Projection, post: Population) -> WeightCodec:
        # static weights as the IR stores them (float32, exactly); learnt or per-spike
        # scaled ones in float64
        static = projection.plasticity is None and projection.dynamics is None
        return FloatWeights(np.float32 if static else np.float64)

    def plasticity(self, projection: Projection, matrix: SynapseMatrix, codec: WeightCodec,
                   dt: float) -> PlasticityModel:
        rule = projection.plasticity
        if isinstance(rule, Vogels2011Rule):
            return VogelsSTDP(rule, matrix, codec, dt)
        assert rule is not None
        return PairSTDP(rule, matrix, codec, dt)
