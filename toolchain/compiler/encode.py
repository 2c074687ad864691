"""Last pass of every target: collect what the passes decided into the ``CompiledNetwork``
artifact."""

from __future__ import annotations

from toolchain.compiler.artifact import CompiledNetwork
from toolchain.compiler.pipeline import Build


def encode(build: Build) -> Build:
    """Pass: fills ``artifact``; the transient synapse rows are dropped here."""
    artifact = CompiledNetwork(
        target=build.target or build.spec.name,
        board=build.board,
        network=build.network,
        cores=build.need("cores", "encode"),
        placement=build.need("placement", "encode"),
        routes=build.need("routes", "encode"),
        numerics=build.need("numerics", "encode"),
        estimate=build.need("estimate", "encode"),
        violations=build.violations,
        options=build.options,
        limits=build.limits if build.limits is not None else build.spec.limits,
        support_cores=build.support_cores,
        sections=build.sections,
        approximations=build.approximations,
        detail=build.detail,
    )
    return build.replace(artifact=artifact, rows=None)
