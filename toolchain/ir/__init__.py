"""The network IR: typed, validated, unit-explicit, serialisable."""

from toolchain.ir.io import FormatError, load, save, serializable
from toolchain.ir.network import (
    ArraySource,
    CellType,
    DCSource,
    IRError,
    Network,
    PoissonSource,
    Population,
    Projection,
    Receptor,
    Recording,
    STDPRule,
    StepCurrentSource,
    WeightDependence,
)
from toolchain.ir.units import Unit, UnitError

__all__ = [
    "ArraySource", "CellType", "DCSource", "FormatError", "IRError", "Network", "PoissonSource",
    "Population", "Projection", "Receptor", "Recording", "STDPRule", "StepCurrentSource", "Unit",
    "UnitError", "WeightDependence", "load", "save", "serializable",
]
