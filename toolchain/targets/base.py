"""The Target contract: what every backend (reference, Loihi, SpiNNaker2, DYNAP-SE, FPGA)
provides so that the PyNN front end, the CLI and design-space exploration can treat them
alike.

A target has a *spec* (what the hardware offers: per-core limits, the mesh of cores, the
arithmetic, the time and energy an event costs), a list of compiler *passes* that map an IR
``Network`` onto it, a *simulator* that executes the compiled form timestep by timestep,
and optionally an *encoder* that turns the compiled form into the bytes a board loads.
``compile`` runs the passes; a target with its own mapping flow may override it.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from toolchain.compiler.spec import Pass
from toolchain.ir import Network
from toolchain.sim.results import SimulationResult


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
    """A place a network can run: the float reference, or a model of a hardware target."""

    name: ClassVar[str]

    def passes(self) -> Sequence[Pass]:
        """The compiler passes mapping a network onto this target, in order."""
        return ()

    def compile(self, network: Network) -> Any:
        """Map ``network`` onto the target; raise a clear error if it does not fit."""
        from toolchain.compiler.pipeline import compile_network

        return compile_network(network, self)

    @abc.abstractmethod
    def simulator(self, compiled: Any) -> Simulator:
        """A simulator executing ``compiled`` with this target's arithmetic and timing."""

    def encode(self, compiled: Any) -> bytes:
        """The image a board loads; targets without a board of ours refuse."""
        raise NotImplementedError(
            f"target '{self.name}' has no board image encoder; it runs as a simulation only"
        )
