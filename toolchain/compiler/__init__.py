"""The compiler: passes check -> quantise -> partition -> place -> route -> encode that map
an IR network onto a target, and the ``CompiledNetwork`` artifact they produce."""

from toolchain.compiler.artifact import (
    CompiledNetwork,
    Cores,
    Placement,
    ProjectionNumerics,
    Routes,
    StepEstimate,
)
from toolchain.compiler.pipeline import Build, MappingError, compile_network, run_passes

__all__ = [
    "Build", "CompiledNetwork", "Cores", "MappingError", "Placement", "ProjectionNumerics",
    "Routes", "StepEstimate", "compile_network", "run_passes",
]
