"""The network IR: typed, validated, unit-explicit, serialisable."""

from toolchain.ir.io import FormatError, load, save, serializable
from toolchain.ir.network import (
    ACSource,
    ArraySource,
    CellType,
    DCSource,
    GammaSource,
    InhGammaSource,
    IRError,
    MultiQuantal,
    Network,
    NoisyCurrentSource,
    PoissonRefractorySource,
    PoissonSource,
    Population,
    PostSynapticResponse,
    Projection,
    Receptor,
    Recording,
    ResponseShape,
    SimpleStochastic,
    STDPRule,
    StepCurrentSource,
    StochasticTsodyksMarkram,
    TsodyksMarkram,
    Vogels2011Rule,
    WeightDependence,
)
from toolchain.ir.units import Unit, UnitError

__all__ = [
    "ACSource", "ArraySource", "CellType", "DCSource", "FormatError", "GammaSource",
    "IRError", "InhGammaSource", "MultiQuantal", "Network", "NoisyCurrentSource",
    "PoissonRefractorySource", "PoissonSource", "Population", "PostSynapticResponse",
    "Projection", "Receptor", "Recording", "ResponseShape", "STDPRule", "SimpleStochastic",
    "StepCurrentSource", "StochasticTsodyksMarkram", "TsodyksMarkram", "Unit", "UnitError",
    "Vogels2011Rule", "WeightDependence", "load", "save", "serializable",
]
