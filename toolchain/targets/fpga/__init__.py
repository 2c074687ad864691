"""spikeport's own FPGA LIF/STDP core: spec (the one description of a build), numerics
(IR values as its integers), mapper (network -> image), image, model (the golden model),
timing (cycles, time and energy), artifact (the shared artifact), target, cli."""

from toolchain.targets.fpga.image import CoreImage, StdpParams
from toolchain.targets.fpga.mapper import MappedNetwork, MappingError, map_network
from toolchain.targets.fpga.model import CoreModel
from toolchain.targets.fpga.spec import PRESETS, CoreSpec, Op, SpecError, preset
from toolchain.targets.fpga.target import FpgaDetail, FpgaSimulator, FpgaTarget

__all__ = [
    "PRESETS", "CoreImage", "CoreModel", "CoreSpec", "FpgaDetail", "FpgaSimulator",
    "FpgaTarget", "MappedNetwork", "MappingError", "Op", "SpecError", "StdpParams",
    "map_network", "preset",
]
