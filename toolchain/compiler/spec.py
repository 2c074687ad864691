"""The spec parts the generic compiler passes read: per-core limits, the mesh of cores, how
delays are stored, what events cost, and the hooks where targets differ.

A target's spec module builds these from its hardware's numbers; the passes read them
through :class:`TargetSpec` and never import a target.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from toolchain.ir import Population
from toolchain.ir.io import serializable

if TYPE_CHECKING:
    from toolchain.compiler.artifact import Violation
    from toolchain.compiler.pipeline import Build

@serializable
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

    kind: ClassVar[str] = "core_limits"  # saved in artifacts (toolchain.ir.io)


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

    def population_limits(self, population: Population, dt: float) -> list[Violation]:
        """The limits ``population`` breaks on one core (a parameter beyond a register)."""

    def more_chips_hint(self, chips: int) -> str:
        """How to get a board of at least ``chips`` chips (an option that exists)."""


Pass = Callable[["Build"], "Build"]


class Mappable(Protocol):
    """What :func:`~toolchain.compiler.pipeline.compile_network` needs from a target: its
    name, spec, board and pass list (every ``toolchain.targets`` target is one)."""

    name: str
    spec: TargetSpec
    board: str

    def passes(self) -> Sequence[Pass]:
        """The passes mapping a network onto the target, in order."""

    def saved_options(self) -> dict[str, object]:
        """The target's options as the artifact keeps them (JSON-ready values)."""
