"""The shared timestep engine and what it returns."""

from toolchain.sim.results import AnalogRecord, SimulationResult, SpikeRecord

__all__ = ["AnalogRecord", "SimulationResult", "SpikeRecord"]
