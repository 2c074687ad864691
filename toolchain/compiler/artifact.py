"""The compiled form of a network: what the compiler decided, kept as data.

A ``CompiledNetwork`` holds the network it was compiled from, the cores (one population
slice each, with its resource use), where each core sits on the mesh, the spike traffic
between cores, the numeric format of every projection and the estimated cost of a step.
Every part is a frozen dataclass registered with :func:`toolchain.ir.io.serializable`, so
an artifact saves and loads through the same versioned zip+npy format as a network and
loading never executes anything.  Per-core facts are parallel arrays, not one object per
core: the full-scale cortical microcircuit needs tens of thousands of cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from toolchain.ir.io import serializable
from toolchain.ir.network import Network, _Value


def _int_array(value: object) -> np.ndarray:
    arr = np.array(value, dtype=np.int64, copy=True).reshape(-1)
    arr.setflags(write=False)
    return arr


def _float_array(value: object) -> np.ndarray:
    arr = np.array(value, dtype=np.float64, copy=True).reshape(-1)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class _Arrays(_Value):
    """Base for a table of parallel arrays: converts and freezes them, checks lengths."""

    _int_fields: ClassVar[tuple[str, ...]] = ()
    _float_fields: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        lengths = set()
        for name in self._int_fields:
            object.__setattr__(self, name, _int_array(getattr(self, name)))
            lengths.add(getattr(self, name).size)
        for name in self._float_fields:
            object.__setattr__(self, name, _float_array(getattr(self, name)))
            lengths.add(getattr(self, name).size)
        if len(lengths) > 1:
            raise ValueError(f"{type(self).__name__}: columns differ in length {sorted(lengths)}")

    def __len__(self) -> int:
        return int(getattr(self, self._int_fields[0]).size)


@serializable
@dataclass(frozen=True, eq=False)
class Cores(_Arrays):
    """One row per used core: the population slice it holds and what that slice uses.

    ``population`` indexes ``network.populations``; the core holds neurons
    ``start <= i < stop``.  ``synapse_bits`` follows the target's synapse memory accounting.
    """

    population: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    input_axons: np.ndarray
    output_axons: np.ndarray
    synapses: np.ndarray
    synapse_bits: np.ndarray
    neuron_configs: np.ndarray
    threshold_configs: np.ndarray
    synapse_configs: np.ndarray
    learning_configs: np.ndarray

    kind: ClassVar[str] = "cores"
    _int_fields: ClassVar[tuple[str, ...]] = (
        "population", "start", "stop", "input_axons", "output_axons", "synapses",
        "synapse_bits", "neuron_configs", "threshold_configs", "synapse_configs",
        "learning_configs",
    )

    @property
    def neurons(self) -> np.ndarray:
        return self.stop - self.start


@serializable
@dataclass(frozen=True, eq=False)
class Placement(_Arrays):
    """Where each core sits: chip, global tile coordinates and the core's slot in its tile.

    ``cost`` is the placement objective (spike messages x hops when every neuron fires
    once); ``in_order_cost`` is the same objective for cores laid out in population order,
    the baseline the placer is judged against.
    """

    chip: np.ndarray
    x: np.ndarray
    y: np.ndarray
    slot: np.ndarray
    cost: float = 0.0
    in_order_cost: float = 0.0
    method: str = ""
    chips_x: int = 1  # mesh geometry, so the placement can be drawn from the artifact alone
    tiles_x: int = 1
    tiles_y: int = 1

    kind: ClassVar[str] = "placement"
    _int_fields: ClassVar[tuple[str, ...]] = ("chip", "x", "y", "slot")

    @property
    def gain(self) -> float:
        """How many times less traffic x hops than in-order placement (1.0 = no gain)."""
        return self.in_order_cost / self.cost if self.cost > 0 else 1.0


@serializable
@dataclass(frozen=True, eq=False)
class Routes(_Arrays):
    """Spike traffic between cores, routed dimension-order (x then y) over the tile mesh.

    One row per (source core, destination core) pair, or per chip pair when ``level`` is
    "chip" (hop counts are then chip distances in tiles); ``src = -1`` is the host, which
    injects spike sources at tile (0, 0).  ``messages`` counts the distinct source neurons
    whose spikes travel that route (each spike is sent once per destination core).
    ``hops_x``/``hops_y`` are the route's length along each axis, ``chip_crossings`` how
    many chip boundaries it crosses.
    """

    src: np.ndarray
    dst: np.ndarray
    messages: np.ndarray
    hops_x: np.ndarray
    hops_y: np.ndarray
    chip_crossings: np.ndarray
    level: str = "core"  # "chip": src/dst are chips (networks with very many routes)

    kind: ClassVar[str] = "routes"
    _int_fields: ClassVar[tuple[str, ...]] = (
        "src", "dst", "messages", "hops_x", "hops_y", "chip_crossings",
    )


@serializable
@dataclass(frozen=True, eq=False)
class ProjectionNumerics(_Value):
    """How one projection's weights and delays are stored on the target, and what that
    did to them: the semantic effect of quantisation, counted so that it can be shown.

    A weight w is stored as a mantissa of at most ``max_mantissa`` in magnitude, one step
    standing for lsb = unit * 2**exponent (the target's numerics do the rounding);
    ``zeroed`` nonzero weights became 0, ``saturated`` were clipped.  Delays become whole
    steps; ``delays_rounded`` were not whole steps before.
    """

    projection: str
    unit: float  # IR weight units per mantissa step at exponent 0
    exponent: int
    weight_bits: int  # stored bits per weight, sign included
    max_mantissa: int
    zeroed: int
    saturated: int
    max_abs_error: float  # IR weight units
    delay_bits: int
    min_delay_steps: int
    max_delay_steps: int
    delays_rounded: int
    max_delay_error: float  # ms

    kind: ClassVar[str] = "projection_numerics"

    @property
    def lsb(self) -> float:
        """IR weight units one mantissa step stands for."""
        return self.unit * 2.0**self.exponent


@serializable
@dataclass(frozen=True, eq=False)
class StepEstimate(_Value):
    """Physical cost of one timestep under an assumed activity (not a semantic effect).

    Wall time is the slowest core's work plus the longest route plus the barrier; energy is
    event counts times per-event energies.  ``rate_hz`` is the firing rate assumed for
    every population (spike sources use their own rates).
    """

    rate_hz: float
    compute_ns: float
    noc_ns: float
    barrier_ns: float
    synaptic_ops: float
    neuron_updates: float
    spikes_out: float
    hop_messages_x: float
    hop_messages_y: float
    energy_synops_pj: float
    energy_updates_pj: float
    energy_spikes_pj: float
    energy_noc_pj: float
    slowest_core: int

    kind: ClassVar[str] = "step_estimate"

    @property
    def wall_ns(self) -> float:
        return self.compute_ns + self.noc_ns + self.barrier_ns

    @property
    def energy_pj(self) -> float:
        return (self.energy_synops_pj + self.energy_updates_pj + self.energy_spikes_pj
                + self.energy_noc_pj)


@serializable
@dataclass(frozen=True, eq=False)
class CompiledNetwork(_Value):
    """A network mapped onto a target board: the artifact ``spikeport compile`` writes.

    ``violations`` is empty for a network that fits; a non-strict compile (used to see how
    far a network is from fitting) lists every limit it broke there instead of raising.
    """

    target: str
    board: str
    network: Network
    cores: Cores
    placement: Placement
    routes: Routes
    numerics: tuple[ProjectionNumerics, ...]
    estimate: StepEstimate
    violations: tuple[str, ...] = ()

    kind: ClassVar[str] = "compiled_network"

    def __post_init__(self) -> None:
        object.__setattr__(self, "numerics", tuple(self.numerics))
        object.__setattr__(self, "violations", tuple(self.violations))
        if len(self.placement) != len(self.cores):
            raise ValueError(
                f"CompiledNetwork: {len(self.cores)} cores but {len(self.placement)} placed"
            )

    @property
    def fits(self) -> bool:
        return not self.violations

    @property
    def chips_used(self) -> int:
        return int(np.unique(self.placement.chip).size)

    def numerics_of(self, projection: str) -> ProjectionNumerics:
        for n in self.numerics:
            if n.projection == projection:
                return n
        raise KeyError(f"no projection labelled '{projection}' in this artifact")

    def core_of_neuron(self, population: str) -> np.ndarray:
        """Core index of every neuron of ``population``."""
        k = [p.label for p in self.network.populations].index(population)
        pop = self.network.populations[k]
        out = np.full(pop.size, -1, dtype=np.int64)
        for c in np.flatnonzero(self.cores.population == k):
            out[self.cores.start[c]:self.cores.stop[c]] = c
        return out

    def report(self) -> str:
        from toolchain.compiler.report import render_report

        return render_report(self)
