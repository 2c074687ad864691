"""The spec parts the generic compiler passes read: per-core limits, the mesh of cores, how
delays are stored, what events cost.

A target's spec module builds these from its hardware's numbers; the passes read them
through :class:`~toolchain.compiler.pipeline.TargetSpec` and never import a target.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from toolchain.ir.io import serializable


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
