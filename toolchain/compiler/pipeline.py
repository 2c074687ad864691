"""Run a target's compiler passes over a network.

A pass is a plain function ``Build -> Build``: it reads what earlier passes produced and
returns a copy with its own result filled in.  Each target lists its passes in order
(``Target.passes()``); there is no registry of pass names.  Every target's list ends with
:func:`~toolchain.compiler.encode.encode`, so every target compiles to one
``CompiledNetwork``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from toolchain.compiler.artifact import (
    Approximation,
    CompiledNetwork,
    Cores,
    Placement,
    ProjectionNumerics,
    ReportSection,
    Routes,
    StepEstimate,
    TargetDetail,
    Violation,
)
from toolchain.compiler.describe import Activity, activity
from toolchain.compiler.fit import APPROXIMATE, STRICT, check_policy
from toolchain.compiler.spec import CoreLimits, EventCosts, Mesh, SynapseFormat
from toolchain.ir import Network, Population
from toolchain.progress import task


class MappingError(ValueError):
    """A network that does not fit the target: names what, the limit, the value, the fix.

    A broken limit carries its :class:`Violation` (``violation``); a feature the target
    does not have at all (a cell type, plasticity) is a plain message and is refused even
    by a non-strict compile, since there is nothing to map it to."""

    def __init__(self, message: str | Violation) -> None:
        self.violation = message if isinstance(message, Violation) else None
        super().__init__(message.message if isinstance(message, Violation) else message)


def violation(element: str, label: str, limit: str, value: float, allowed: float, fix: str,
              message: str) -> Violation:
    """A :class:`Violation` whose message ends with its fix (the form every target uses)."""
    return Violation(element=element, label=label, limit=limit, value=float(value),
                     allowed=float(allowed), fix=fix, message=message)


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
    fit: str = STRICT
    activity: Activity | None = None
    target: str = ""
    options: Mapping[str, object] = field(default_factory=dict)
    numerics: tuple[ProjectionNumerics, ...] | None = None
    cores: Cores | None = None
    rows: tuple[Rows | None, ...] | None = None  # per projection, in network order
    placement: Placement | None = None
    routes: Routes | None = None
    estimate: StepEstimate | None = None
    violations: tuple[Violation, ...] = ()
    approximations: tuple[Approximation, ...] = ()
    limits: CoreLimits | None = None
    support_cores: int = 0
    sections: tuple[ReportSection, ...] = ()
    detail: TargetDetail | None = None
    artifact: CompiledNetwork | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.activity is None:
            object.__setattr__(self, "activity", activity(self.network))

    @property
    def rate_hz(self) -> float:
        """The planned population rate the estimate assumes (NaN for a measured one)."""
        assert self.activity is not None
        return self.activity.planned_rate_hz

    def replace(self, **changes: Any) -> Build:
        return dataclasses.replace(self, **changes)

    def violate(self, broken: Violation) -> Build:
        """Raise ``broken`` as a MappingError, or record it for a non-strict compile."""
        if self.strict:
            raise MappingError(broken)
        if any(v.message == broken.message for v in self.violations):
            return self
        return self.replace(violations=(*self.violations, broken))

    @property
    def approximating(self) -> bool:
        """Whether the target may approximate to fit (``fit='approximate'``)."""
        return self.fit == APPROXIMATE

    def approximate(self, applied: Approximation) -> Build:
        """Record an approximation a pass applied (only asked for with fit='approximate')."""
        _check_approximating(self.fit, applied)
        return self.replace(approximations=(*self.approximations, applied))

    def need(self, name: str, by: str) -> Any:
        value = getattr(self, name)
        if value is None:
            raise RuntimeError(f"pass '{by}' needs '{name}', which no earlier pass produced; "
                               "check the order of the target's passes")
        return value


def _check_approximating(fit: str, applied: Approximation) -> None:
    """An approximation is only applied when the compile asked for it: a pass applying one
    under another policy is a bug in the target."""
    if fit != APPROXIMATE:
        raise RuntimeError(f"{applied.name} applied by a compile with fit='{fit}'")


class Violations:
    """Collects a mapper's broken limits in the order it finds them: raises the first
    when strict, keeps them all otherwise (for mappers that are not split into passes);
    and, with ``fit='approximate'``, the approximations it applied instead."""

    def __init__(self, strict: bool, error: type[MappingError] = MappingError, *,
                 fit: str = STRICT) -> None:
        self.strict, self.error = strict, error
        self.fit = check_policy(fit)
        self.found: list[Violation] = []
        self.approximations: list[Approximation] = []

    @property
    def approximating(self) -> bool:
        return self.fit == APPROXIMATE

    def approximate(self, applied: Approximation) -> None:
        """Record an approximation the mapper applied (as :meth:`Build.approximate`)."""
        _check_approximating(self.fit, applied)
        self.approximations.append(applied)

    def into(self, build: Build) -> Build:
        """``build`` with what was found: each violation (raised when strict) and each
        approximation."""
        for v in self.found:
            build = build.violate(v)
        return build.replace(approximations=(*build.approximations, *self.approximations))

    def add(self, broken: Violation) -> None:
        if self.strict:
            raise self.error(broken)
        if all(v.message != broken.message for v in self.found):
            self.found.append(broken)


class TargetSpec(Protocol):
    """What the generic compiler passes read from a target's spec."""

    name: str
    limits: CoreLimits
    mesh: Mesh
    synapses: SynapseFormat
    costs: EventCosts

    def synapse_row_bits(self, row_lengths: np.ndarray, *, weight_bits: int, delay_bits: int,
                         index_bits: np.ndarray, learning: bool) -> np.ndarray:
        """Memory bits of each synapse row (one row = one input axon's synapses in a core);
        ``index_bits`` is per row (it depends on the size of the row's core)."""

    def index_bits(self, neurons: np.ndarray) -> np.ndarray:
        """Bits a synapse needs to address a neuron in a core holding ``neurons``."""

    def input_axons_per_source(self, learning: bool) -> int:
        """Input axon slots one presynaptic neuron takes in a core."""

    def neuron_configs(self, population: Population, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Per neuron, the id of its neuron config and of its threshold config (equal ids =
        one shared table entry); a neuron of several compartments gives one column of
        neuron config ids per compartment (a core counts the distinct ids of each)."""

    def compartments(self, population: Population, dt: float) -> int:
        """Compartments (units of a core's neuron capacity) one neuron of ``population``
        takes."""

    def check_population(self, population: Population, dt: float) -> list[str]:
        """Messages for whatever in ``population`` the target cannot represent at all."""

    def population_limits(self, population: Population, dt: float) -> list[Violation]:
        """The limits ``population`` breaks on one core (a parameter beyond a register)."""

    def fit_population(self, population: Population, dt: float
                       ) -> tuple[Population, list[Approximation]]:
        """``population`` made to fit the target by its documented approximations (for a
        compile with fit='approximate'), and what each changed."""

    def more_chips_hint(self, chips: int) -> str:
        """How to get a board of at least ``chips`` chips (an option that exists)."""




class Mappable(Protocol):
    """What :func:`~toolchain.compiler.pipeline.compile_network` needs from a target: its
    name, spec, board and pass list (every ``toolchain.targets`` target is one)."""

    name: str
    spec: TargetSpec
    board: str
    fit: str

    def passes(self) -> Sequence[Pass]:
        """The passes mapping a network onto the target, in order."""

    def saved_options(self) -> dict[str, object]:
        """The target's options as the artifact keeps them (JSON-ready values)."""


Pass = Callable[[Build], Build]


def run_passes(build: Build, passes: Sequence[Pass]) -> Build:
    with task(f"compile {build.network.label}", total=len(passes), unit="pass") as shown:
        for p in passes:
            shown.note(getattr(p, "__name__", type(p).__name__).lstrip("_"))
            build = p(build)
            shown.advance()
    return build


def check_mappable(network: Network, target: str) -> None:
    """One message for a network with nothing to map, whatever the target."""
    if not network.populations:
        what = (f"only spike sources ({', '.join(s.label for s in network.sources)})"
                if network.sources else "no populations")
        raise MappingError(
            f"network '{network.label}' has {what}: there are no neurons to map onto "
            f"{target}; create at least one Population (a spike source alone runs on no "
            "core)"
        )


def compile_network(network: Network, target: Mappable, *, strict: bool = True,
                    rate_hz: float = 10.0, activity: Activity | None = None
                    ) -> CompiledNetwork:
    """Compile ``network`` for ``target`` by running ``target.passes()``.

    ``strict=False`` records limit violations in the artifact instead of raising, to see
    how far a network is from fitting; ``target.fit`` ('strict' or 'approximate') says
    whether the target may approximate to make it fit (see :mod:`toolchain.compiler.fit`).
    The cost estimate assumes ``activity``, by default every population firing at
    ``rate_hz`` (sources as they are defined).
    """
    from toolchain.compiler.describe import activity as planned

    if not isinstance(network, Network):
        raise TypeError(f"compile() takes a toolchain.ir.Network, got {type(network).__name__}")
    check_mappable(network, target.name)
    spec = target.spec
    build = Build(network=network, spec=spec, board=target.board or spec.mesh.name,
                  strict=strict, fit=check_policy(target.fit), target=target.name,
                  options=target.saved_options(),
                  activity=activity if activity is not None else planned(network,
                                                                         rate_hz=rate_hz))
    build = run_passes(build, target.passes())
    return build.need("artifact", "compile")
