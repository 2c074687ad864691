"""spikeport's own FPGA LIF/STDP core: spec, golden model, mapper and the ``fpga`` target."""

from toolchain.targets.fpga.image import CoreImage, StdpParams
from toolchain.targets.fpga.mapper import MappedNetwork, MappingError, map_network
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import PRESETS, CoreSpec, Op, SpecError, preset
from toolchain.targets.fpga.target import FpgaSimulator, FpgaTarget

__all__ = [
    "PRESETS", "CoreImage", "CoreModel", "CoreSpec", "FpgaSimulator", "FpgaTarget",
    "MappedNetwork", "MappingError", "Op", "SpecError", "StdpParams", "map_network", "preset",
]
