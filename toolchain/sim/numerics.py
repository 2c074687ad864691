"""The arithmetic a target plugs into the shared engine, chosen per population and projection.

A hardware target gives the engine a :class:`Numerics` (its neuron kernels, weight format
and learning arithmetic) and an :class:`~toolchain.sim.interconnect.Interconnect`; the
engine itself (time, spike routing, delays, sources, recording, counters) is shared.
:class:`ReferenceNumerics` is the float64 reference.
"""

from __future__ import annotations

import abc

from toolchain.ir import Population, Projection
from toolchain.sim.kernels import REFERENCE_KERNELS, NeuronKernel
from toolchain.sim.plasticity import PairSTDP, PlasticityModel
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
    """Float64 everywhere, exact integration where the dynamics are linear."""

    def kernel(self, population: Population, dt: float) -> NeuronKernel:
        return REFERENCE_KERNELS[population.cell_type](population, dt)

    def weights(self, projection: Projection, post: Population) -> WeightCodec:
        return FloatWeights()

    def plasticity(self, projection: Projection, matrix: SynapseMatrix, codec: WeightCodec,
                   dt: float) -> PlasticityModel:
        assert projection.plasticity is not None
        return PairSTDP(projection.plasticity, matrix, codec, dt)
