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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from toolchain.ir import Network, Population
from toolchain.sim.results import SimulationResult

if TYPE_CHECKING:
    from toolchain.compiler.pipeline import Build


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


# --------------------------------------------------------------------------- spec parts


@dataclass(frozen=True)
class CoreLimits:
    """What one core holds.  ``None`` means the target has no such limit.

    The compiler's partitioner honours all of them at once; a target whose memory is not
    counted in bits (SpiNNaker2's SRAM in bytes) converts to bits in ``synapse_row_bits``.
    """

    neurons: int
    input_axons: int | None = None
    output_axons: int | None = None
    synapse_bits: int | None = None
    neuron_configs: int | None = None  # distinct neuron parameter sets per core
    threshold_configs: int | None = None  # distinct thresholds per core
    synapse_configs: int | None = None  # distinct synapse formats per core
    learning_configs: int | None = None  # distinct plasticity rules per core


@dataclass(frozen=True)
class Mesh:
    """Chips on a 2-D grid, each a 2-D grid of tiles, each tile a few cores sharing a router.

    A spike crossing from tile (x0, y0) to (x1, y1) takes |dx| + |dy| hops in global tile
    coordinates (dimension-order routing); cores of one tile reach each other in 0 hops.
    """

    name: str
    chips_x: int
    chips_y: int
    tiles_x: int
    tiles_y: int
    cores_per_tile: int

    def __post_init__(self) -> None:
        for field in ("chips_x", "chips_y", "tiles_x", "tiles_y", "cores_per_tile"):
            value = getattr(self, field)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"Mesh '{self.name}': {field} must be a positive integer, "
                                 f"got {value!r}")

    @property
    def n_chips(self) -> int:
        return self.chips_x * self.chips_y

    @property
    def cores_per_chip(self) -> int:
        return self.tiles_x * self.tiles_y * self.cores_per_tile

    @property
    def n_cores(self) -> int:
        return self.n_chips * self.cores_per_chip

    @property
    def width(self) -> int:
        """Tiles across the whole board."""
        return self.chips_x * self.tiles_x

    @property
    def height(self) -> int:
        return self.chips_y * self.tiles_y

    def chip_of_tile(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y) // self.tiles_y) * self.chips_x + np.asarray(x) // self.tiles_x


@dataclass(frozen=True)
class EventCost:
    """Time (ns) and energy (pJ) of one hardware event."""

    ns: float
    pj: float


@dataclass(frozen=True)
class EventCosts:
    """Per-event costs a timing and energy model multiplies by event counts.

    ``barrier_us`` maps a chip count to the time of the end-of-step barrier; counts between
    the listed ones take the next larger entry.
    """

    synaptic_op: EventCost
    neuron_update: EventCost
    spike_out: EventCost
    hop_x: EventCost
    hop_y: EventCost
    barrier_us: tuple[tuple[int, float], ...]

    def barrier(self, chips: int) -> float:
        """Barrier time in us for ``chips`` chips."""
        for n, us in self.barrier_us:
            if chips <= n:
                return us
        return self.barrier_us[-1][1]


@dataclass(frozen=True)
class SynapseFormat:
    """How synaptic delays are stored: the longest delay, in steps, the check pass accepts.

    Weight formats are each target's own (its quantise pass reports them per projection).
    """

    max_delay_steps: int


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
        one shared table entry)."""

    def check_population(self, population: Population, dt: float) -> list[str]:
        """Messages for whatever in ``population`` the target cannot represent at all."""


Pass = Callable[["Build"], "Build"]


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
