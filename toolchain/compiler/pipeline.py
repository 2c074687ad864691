"""Run a target's compiler passes over a network.

A pass is a plain function ``Build -> Build``: it reads what earlier passes produced and
returns a copy with its own result filled in.  Each target lists its passes in order
(``Target.passes()``); there is no registry of pass names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from toolchain.compiler.artifact import (
    CompiledNetwork,
    Cores,
    Placement,
    ProjectionNumerics,
    Routes,
    StepEstimate,
)
from toolchain.ir import Network
from toolchain.progress import task

if TYPE_CHECKING:
    from toolchain.compiler.spec import Mappable, Pass, TargetSpec


class MappingError(ValueError):
    """A network that does not fit the target: names what, the limit, the value, the fix."""


@dataclass(frozen=True)
class Rows:
    """Synapse rows of one projection under the current partition.

    A row is the synapses from one presynaptic neuron into one core (one input axon):
    ``core`` (global core index), ``pre`` (presynaptic neuron) and ``length`` (synapses).
    Kept between passes so the partitioner's counting is not redone by the router.
    """

    core: np.ndarray
    pre: np.ndarray
    length: np.ndarray


@dataclass(frozen=True)
class Build:
    """Everything the passes have decided so far; ``None`` = that pass has not run yet."""

    network: Network
    spec: TargetSpec
    board: str
    strict: bool = True
    rate_hz: float = 10.0
    numerics: tuple[ProjectionNumerics, ...] | None = None
    cores: Cores | None = None
    rows: tuple[Rows | None, ...] | None = None  # per projection, in network order
    placement: Placement | None = None
    routes: Routes | None = None
    estimate: StepEstimate | None = None
    violations: tuple[str, ...] = ()
    artifact: CompiledNetwork | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def replace(self, **changes: Any) -> Build:
        return dataclasses.replace(self, **changes)

    def violate(self, message: str) -> Build:
        """Raise ``message`` as a MappingError, or record it for a non-strict compile."""
        if self.strict:
            raise MappingError(message)
        return self.replace(violations=(*self.violations, message))

    def need(self, name: str, by: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise RuntimeError(f"pass '{by}' needs '{name}', which no earlier pass produced; "
                               "check the order of the target's passes")
        return value


def run_passes(build: Build, passes: Sequence[Pass]) -> Build:
    with task(f"compile {build.network.label}", total=len(passes), unit="pass") as shown:
        for p in passes:
            shown.note(getattr(p, "__name__", type(p).__name__).lstrip("_"))
            build = p(build)
            shown.advance()
    return build


def compile_network(network: Network, target: Mappable, *, strict: bool = True,
                    rate_hz: float = 10.0) -> CompiledNetwork:
    """Compile ``network`` for ``target`` by running ``target.passes()``.

    ``strict=False`` records limit violations in the artifact instead of raising, to see
    how far a network is from fitting.  ``rate_hz`` is the firing rate the cost estimate
    assumes for populations.
    """
    spec = target.spec
    board = target.board or spec.mesh.name
    build = Build(network=network, spec=spec, board=board, strict=strict, rate_hz=rate_hz)
    build = run_passes(build, target.passes())
    return build.need("artifact", "compile")
