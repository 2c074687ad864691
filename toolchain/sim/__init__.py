"""The shared timestep engine, its plug-in points and what it returns."""

from toolchain.sim.engine import Engine, EngineError
from toolchain.sim.interconnect import DROPPED, IdealInterconnect, Interconnect
from toolchain.sim.kernels import NeuronKernel
from toolchain.sim.numerics import Numerics, ReferenceNumerics
from toolchain.sim.plasticity import PairSTDP, PlasticityModel
from toolchain.sim.results import AnalogRecord, SimulationResult, SpikeRecord
from toolchain.sim.synapses import FloatWeights, WeightCodec

__all__ = [
    "DROPPED", "AnalogRecord", "Engine", "EngineError", "FloatWeights", "IdealInterconnect",
    "Interconnect", "NeuronKernel", "Numerics", "PairSTDP", "PlasticityModel",
    "ReferenceNumerics", "SimulationResult", "SpikeRecord", "WeightCodec",
]
