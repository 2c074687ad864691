"""The compiler: the passes that map an IR network onto a target (check -> quantise ->
partition -> place -> route -> estimate -> encode, or a target's own mapper followed by
the shared describe and encode), the spec parts they read, the facts every target
describes the same way (``describe``) and the ``CompiledNetwork`` artifact they produce.
The compiler imports no target."""

from toolchain.compiler.artifact import (
    CompiledNetwork,
    Core,
    Cores,
    Placement,
    ProjectionNumerics,
    ReportSection,
    Route,
    Routes,
    StepEstimate,
    TargetDetail,
    Violation,
)
from toolchain.compiler.describe import Activity, activity, measured_activity
from toolchain.compiler.pipeline import (
    Build,
    MappingError,
    Pass,
    TargetSpec,
    compile_network,
    run_passes,
)

__all__ = [
    "Activity", "Build", "CompiledNetwork", "Core", "Cores", "MappingError", "Pass",
    "Placement", "ProjectionNumerics", "ReportSection", "Route", "Routes", "StepEstimate",
    "TargetDetail", "TargetSpec", "Violation", "activity", "compile_network",
    "measured_activity", "run_passes",
]
