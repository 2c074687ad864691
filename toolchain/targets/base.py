"""The Target contract: what every backend (reference, Loihi, SpiNNaker2, DYNAP-SE, FPGA)
provides so that the PyNN front end, the CLI, portability and design-space exploration
treat them alike.

A target has *options* (declared once: :mod:`~toolchain.targets.options`), a *spec* (what
the hardware offers, in the compiler's terms: :mod:`toolchain.compiler.spec`), a list of
compiler *passes* that map an IR ``Network`` onto it and end in the shared
``CompiledNetwork``, and a *simulator* that executes a ``CompiledNetwork`` (also one
loaded from disk) timestep by timestep with the target's arithmetic and timing.  What
only the target needs at run time is its ``TargetDetail``, kept on the artifact in memory
and recomputed by :meth:`Target.detail` for a loaded one.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from toolchain.compiler.artifact import CompiledNetwork, StepEstimate, TargetDetail
from toolchain.compiler.describe import Activity, measured_activity
from toolchain.compiler.fit import FIT_POLICIES, STRICT
from toolchain.compiler.pipeline import (
    MappingError,
    Pass,
    TargetSpec,
    check_mappable,
    compile_network,
)
from toolchain.compiler.report import Measured
from toolchain.ir import Network
from toolchain.sim.results import SimulationResult
from toolchain.targets.options import COMPILE, Option, Options
from toolchain.targets.support import Support

#: every target's ``fit`` option (added to each target's declaration by Target itself)
FIT_OPTION = Option(
    "fit", str, STRICT, "a network over a limit: 'strict' refuses it naming the limit; "
    "'approximate' applies the target's documented approximations (each one listed in the "
    "compile report)", choices=FIT_POLICIES)


@runtime_checkable
class Simulator(Protocol):
    """A running co-simulation.  Time only moves forward, except through ``reset``."""

    @property
    def t(self) -> float:
        """Current biological time in ms."""

    def run_until(self, t_stop: float) -> None:
        """Advance to ``t_stop`` ms (rounded to whole steps)."""

    def result(self) -> SimulationResult:
        """Everything recorded since the start (or the last reset)."""

    def weights(self, projection: str) -> np.ndarray:
        """Current weights of a projection, one per synapse in IR order, in IR units."""

    def set_weights(self, projection: str, values: np.ndarray) -> None:
        """Overwrite a projection's weights (IR units, IR order) between runs."""

    def reset(self) -> None:
        """Back to t = 0 and initial state, keeping the (possibly learnt) weights as they are."""


class Target(abc.ABC):
    """A place a network can run: the float reference, or a model of a hardware target.

    Subclasses declare ``OPTIONS``, ``LIMITS`` (limit name -> what it is: every
    violation a compile records names one of them) and ``APPROXIMATIONS``, set ``spec``
    and ``board`` in :meth:`configure`, and implement :meth:`passes`, :meth:`make_simulator`,
    :meth:`estimate` and, when they have run-time data, :meth:`remap`.
    """

    name: ClassVar[str]
    OPTIONS: ClassVar[Options] = Options()
    LIMITS: ClassVar[Mapping[str, str]] = {}
    #: what a compile with fit='approximate' may do (name -> what it changes): every
    #: approximation a compile records names one of them
    APPROXIMATIONS: ClassVar[Mapping[str, str]] = {}
    #: how it runs each PyNN feature (toolchain.targets.support.FEATURES): native,
    #: approximated (with fit='approximate') or refused for a hardware reason
    SUPPORT: ClassVar[Mapping[str, Support]] = {}
    spec: TargetSpec
    board: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Every target takes ``fit``: it is declared once, here, after its own options."""
        super().__init_subclass__(**kwargs)
        if "fit" not in cls.OPTIONS.declared:
            cls.OPTIONS = Options(*cls.OPTIONS, FIT_OPTION)

    def __init__(self, *args: object, **options: object) -> None:
        self.config: dict[str, Any] = type(self).OPTIONS.resolve(self.name, args, options)
        self.configure()

    @property
    def fit(self) -> str:
        """The fit policy: 'strict' (refuse a network over a limit) or 'approximate'."""
        return str(self.config["fit"])

    @abc.abstractmethod
    def configure(self) -> None:
        """Derive the spec and board from ``self.config`` (checking what the option types
        alone cannot)."""

    @classmethod
    def catalogue(cls) -> list[str]:
        """Lines describing the target's boards and presets, for ``spikeport info``."""
        return []

    # -- options ----------------------------------------------------------------------
    def saved_options(self) -> dict[str, object]:
        """Options that differ from their defaults, as the artifact keeps them."""
        values = {k: v for k, v in self.config.items()
                  if v != self.OPTIONS.declared[k].default}
        return self.OPTIONS.data(values)

    def compile_options(self) -> dict[str, object]:
        """The saved options that change the mapping (an artifact must match them)."""
        return {k: v for k, v in self.saved_options().items()
                if self.OPTIONS.declared[k].stage == COMPILE}

    # -- compiling --------------------------------------------------------------------
    @abc.abstractmethod
    def passes(self) -> Sequence[Pass]:
        """The compiler passes mapping a network onto this target, in order; the last is
        :func:`toolchain.compiler.encode.encode`."""

    def compile(self, network: Network, *, strict: bool = True, rate_hz: float = 10.0,
                activity: Activity | None = None) -> CompiledNetwork:
        """Map ``network`` onto the target.  A broken limit raises ``MappingError`` naming
        it (``strict``), or is recorded in the artifact, which is still written
        (``strict=False``).  The estimate assumes ``activity`` (default: populations at
        ``rate_hz``, sources as defined)."""
        if not isinstance(network, Network):
            raise TypeError(f"target '{self.name}' compiles a toolchain.ir.Network, got "
                            f"{type(network).__name__}")
        check_mappable(network, self.name)
        refused = self.record_refusals(network)
        if refused:
            raise MappingError(refused[0])
        return compile_network(network, self, strict=strict, rate_hz=rate_hz,
                               activity=activity)

    @abc.abstractmethod
    def estimate(self, compiled: CompiledNetwork, activity: Activity) -> StepEstimate:
        """The cost of a step of ``compiled`` under ``activity`` (planned or measured),
        with the same model as the compile's estimate."""

    def measure(self, compiled: CompiledNetwork, result: SimulationResult) -> Measured:
        """What a run of ``compiled`` shows, for the report's ``measured`` part: counted
        events and spikes per step, the cost model at the run's activity, and the run's
        own energy and time counters where the simulator keeps them."""
        net = compiled.network
        step = compiled.estimate.step_ms or net.dt
        steps = max(round(result.t_stop / step), 1)
        c = result.counters
        events = c["synaptic_events"] if "synaptic_events" in c else sum(
            v for k, v in c.items() if k.startswith("synaptic_events/"))
        spikes = sum(c.get(f"spikes/{p.label}", 0.0) for p in net.populations)
        energy, wall = c.get("energy_pj_per_step"), c.get("wall_ns_per_step")
        return Measured(
            t_stop_ms=result.t_stop, steps=steps, synaptic_events_per_step=events / steps,
            spikes_per_step=spikes / steps,
            estimate=self.estimate(compiled, measured_activity(net, result)),
            energy_pj_per_step=None if energy is None else float(energy),
            wall_ns_per_step=None if wall is None else float(wall))

    # -- running ----------------------------------------------------------------------
    def detail(self, compiled: CompiledNetwork) -> TargetDetail | None:
        """The artifact's run-time data: kept from the compile, or recomputed (a loaded
        artifact has none)."""
        if compiled.detail is not None:
            return compiled.detail
        return self.remap(compiled)

    def remap(self, compiled: CompiledNetwork) -> TargetDetail | None:
        """Recompute the run-time data of ``compiled`` (deterministic in its network and
        options); targets without any return None."""
        return None

    def accept(self, compiled: object) -> CompiledNetwork:
        """``compiled`` if this target can run it, else an error saying what to do."""
        if not isinstance(compiled, CompiledNetwork):
            raise TypeError(
                f"target '{self.name}': simulator() takes the CompiledNetwork that compile() "
                f"returns (or one loaded from disk), got {type(compiled).__name__}; call "
                "compile(network) first"
            )
        if compiled.target not in self.runs_artifacts_of():
            raise ValueError(
                f"the artifact was compiled for target '{compiled.target}', not "
                f"'{self.name}'; simulate it on get_target('{compiled.target}', "
                "**artifact.options)"
            )
        mine, theirs = self.compile_options(), {
            k: v for k, v in compiled.options.items()
            if k in self.OPTIONS.declared and self.OPTIONS.declared[k].stage == COMPILE}
        if mine != theirs or compiled.board != self.board:
            raise ValueError(
                f"the artifact was compiled for {compiled.target} board '{compiled.board}' "
                f"with options {theirs or '{}'}, this target is board '{self.board}' with "
                f"options {mine or '{}'}; use get_target('{compiled.target}', "
                "**artifact.options) to run it"
            )
        if compiled.violations:
            first = compiled.violations[0]
            raise MappingError(
                f"network '{compiled.network.label}' does not fit {compiled.target} "
                f"({len(compiled.violations)} limit(s) broken, first: {first.message}); a "
                "non-strict compile can be reported but not simulated"
            )
        return compiled

    def runs_artifacts_of(self) -> tuple[str, ...]:
        """Target names whose artifacts this target's simulator runs."""
        return (self.name,)

    def simulator(self, compiled: CompiledNetwork) -> Simulator:
        """A simulator executing ``compiled`` with this target's arithmetic and timing."""
        compiled = self.accept(compiled)
        return self.make_simulator(compiled, self.detail(compiled))

    @abc.abstractmethod
    def make_simulator(self, compiled: CompiledNetwork,
                       detail: TargetDetail | None) -> Simulator:
        """The simulator of an accepted artifact and its run-time data."""

    def record_refusals(self, network: Network) -> list[str]:
        """Messages naming the recordings this target cannot honour; a compile refuses
        them (the reference records everything its cell types have)."""
        return []
