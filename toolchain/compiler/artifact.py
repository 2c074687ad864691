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

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np

from toolchain.compiler.spec import CoreLimits
from toolchain.ir.io import serializable
from toolchain.ir.network import Network, _equal, _Value

ARTIFACT = "compiled.spz"  # the file `spikeport compile` writes an artifact to


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

    @classmethod
    def from_rows(cls, rows: Iterable[Core]) -> Cores:
        """The table of ``rows``, one :class:`Core` each, built by keyword."""
        return cls(**_columns(cls, rows))


@dataclass(frozen=True)
class Core:
    """One row of :class:`Cores`, built by keyword: a population slice on one core and
    what it uses (a count a target does not keep is 0; configs default to one)."""

    population: int
    start: int
    stop: int
    input_axons: int = 0
    output_axons: int = 0
    synapses: int = 0
    synapse_bits: int = 0
    neuron_configs: int = 1
    threshold_configs: int = 1
    synapse_configs: int = 0
    learning_configs: int = 0


@dataclass(frozen=True)
class Route:
    """One row of :class:`Routes`, built by keyword (``src = -1``: the host)."""

    src: int
    dst: int
    messages: int
    hops_x: int = 0
    hops_y: int = 0
    chip_crossings: int = 0


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _columns(cls: type[_Arrays], rows: Iterable[object]) -> dict[str, list[int]]:
    """Parallel columns of ``cls``'s integer fields from keyword-built rows."""
    cols: dict[str, list[int]] = {name: [] for name in cls._int_fields}
    for row in rows:
        for name in cols:
            cols[name].append(int(getattr(row, name)))
    return cols


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

    @classmethod
    def from_rows(cls, rows: Iterable[Route], *, level: str = "core") -> Routes:
        """The table of ``rows``, one :class:`Route` each, built by keyword."""
        return cls(**_columns(cls, rows), level=level)


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
    """Physical cost of one timestep under an activity (not a semantic effect).

    Wall time is the slowest core's work plus the longest route plus the barrier; energy is
    event counts times per-event energies.  ``basis`` says where the activity comes from:
    "planned" (every population fires at ``rate_hz``; spike sources at the rates their
    spikes or Poisson rates give) or "measured" (the per-neuron rates of a run).  A figure
    a target has no model for (the reference's energy) is NaN.  The figures are per step
    of the network's dt unless ``step_ms`` says otherwise (SpiNNaker2's timer tick).
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
    basis: str = "planned"
    step_ms: float = 0.0  # the step the figures are per; 0: the network's dt

    kind: ClassVar[str] = "step_estimate"

    def __eq__(self, other: object) -> bool:
        """Equal estimates; a figure not modelled (NaN) equals itself."""
        if type(other) is not type(self):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in fields(self))

    __hash__ = None  # type: ignore[assignment]

    @property
    def wall_ns(self) -> float:
        return self.compute_ns + self.noc_ns + self.barrier_ns

    @property
    def energy_pj(self) -> float:
        return (self.energy_synops_pj + self.energy_updates_pj + self.energy_spikes_pj
                + self.energy_noc_pj)


def subject(element: str, label: str) -> str:
    """How a message names what a violation or an approximation concerns: "Population
    'exc'", "network 'net'"."""
    if element == "network":
        return f"network '{label}'"
    return f"{element.capitalize()} '{label}'"


@serializable
@dataclass(frozen=True, eq=False)
class Violation(_Value):
    """One broken limit: which population, projection or source (``element`` and
    ``label``; element "network" for the whole network), the limit by name, what the network needs
    (``value``) against what the target allows (``allowed``), and how to fix it with an
    option or change that exists.  ``message`` is the sentence a strict compile raises."""

    element: str
    label: str
    limit: str
    value: float
    allowed: float
    fix: str
    message: str

    kind: ClassVar[str] = "violation"

    @property
    def excess(self) -> float:
        return self.value - self.allowed

    @property
    def subject(self) -> str:
        return subject(self.element, self.label)


@serializable
@dataclass(frozen=True, eq=False)
class Approximation(_Value):
    """One approximation a compile with ``fit='approximate'`` applied to make the network
    fit: which one (``name``, e.g. "fan_in_pruned"), to which population, projection or
    source (``element``, ``label``), the limit it relieved (one of the target's ``LIMITS``,
    or "" for a feature the target only approximates), how many neurons and synapses it
    touched, and what it did, in one sentence (``detail``)."""

    name: str
    element: str
    label: str
    limit: str
    neurons: int
    synapses: int
    detail: str

    kind: ClassVar[str] = "approximation"

    @property
    def subject(self) -> str:
        return subject(self.element, self.label)


@serializable
@dataclass(frozen=True, eq=False)
class ReportSection(_Value):
    """A part of the compile report only one target has (SpiNNaker2's PE kinds and router
    tables, DYNAP-SE's CAM and tag use...): text lines for the text report and the same
    figures as named values for the JSON report."""

    title: str
    lines: tuple[str, ...]
    values: Mapping[str, float | int | str]

    kind: ClassVar[str] = "report_section"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", tuple(self.lines))
        object.__setattr__(self, "values", dict(self.values))


class TargetDetail:
    """Base of what only one target needs at run time besides the shared artifact (the
    FPGA image, SpiNNaker2's router tables, DYNAP-SE's CAM words).  It is deterministic
    in the artifact's network and options, so it is never saved: a loaded artifact gets it
    again from its target (``Target.detail``)."""


@serializable
@dataclass(frozen=True, eq=False)
class CompiledNetwork(_Value):
    """A network mapped onto a target board: the artifact ``spikeport compile`` writes and
    every ``Target.compile`` returns.

    ``violations`` is empty for a network that fits; a non-strict compile (used to see how
    far a network is from fitting) lists every limit it broke there instead of raising.
    ``options`` are the target options it was compiled with (``get_target(target,
    **options)`` rebuilds its target); ``limits`` what one core holds; ``support_cores``
    the cores the mapping uses that hold no neurons (SpiNNaker2's spike-source and
    delay-extension PEs); ``sections`` the target's own report sections;
    ``approximations`` what a compile with ``fit='approximate'`` changed to make the
    network fit (empty for a strict compile).  ``detail`` is
    the target's run-time data, not saved (see :class:`TargetDetail`).
    """

    target: str
    board: str
    network: Network
    cores: Cores
    placement: Placement
    routes: Routes
    numerics: tuple[ProjectionNumerics, ...]
    estimate: StepEstimate
    violations: tuple[Violation, ...] = ()
    options: Mapping[str, object] = field(default_factory=dict)
    limits: CoreLimits | None = None
    support_cores: int = 0
    sections: tuple[ReportSection, ...] = ()
    approximations: tuple[Approximation, ...] = ()
    detail: TargetDetail | None = field(default=None, repr=False, compare=False,
                                        metadata={"saved": False})

    kind: ClassVar[str] = "compiled_network"

    def __post_init__(self) -> None:
        object.__setattr__(self, "numerics", tuple(self.numerics))
        object.__setattr__(self, "violations", tuple(self.violations))
        object.__setattr__(self, "sections", tuple(self.sections))
        object.__setattr__(self, "approximations", tuple(self.approximations))
        object.__setattr__(self, "options", dict(self.options))
        if len(self.placement) != len(self.cores):
            raise ValueError(
                f"CompiledNetwork: {len(self.cores)} cores but {len(self.placement)} placed"
            )
        if len(self.numerics) != len(self.network.projections):
            raise ValueError(
                f"CompiledNetwork: {len(self.numerics)} projection formats for "
                f"{len(self.network.projections)} projections"
            )

    def __eq__(self, other: object) -> bool:
        """Equal artifacts; the unsaved ``detail`` is derived and does not count."""
        if type(other) is not type(self):
            return NotImplemented
        return all(_equal(getattr(self, f.name), getattr(other, f.name))
                   for f in fields(self) if f.compare)

    __hash__ = None  # type: ignore[assignment]

    @property
    def fits(self) -> bool:
        return not self.violations

    @property
    def fit(self) -> str:
        """The fit policy it was compiled with ("strict" unless the options say otherwise)."""
        return str(self.options.get("fit", "strict"))

    @property
    def chips_used(self) -> int:
        return int(np.unique(self.placement.chip).size)

    @property
    def cores_used(self) -> int:
        """Physical cores: distinct placed slots (several population slices may share one
        core, as on the FPGA) plus the cores that hold no neurons."""
        pl = self.placement
        slots = np.unique(np.stack([pl.chip, pl.x, pl.y, pl.slot], axis=1), axis=0) \
            if len(pl) else np.zeros((0, 4))
        return int(len(slots)) + self.support_cores

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

    def weight_error(self) -> float:
        """Worst weight quantisation error relative to its projection's largest |weight|."""
        worst = 0.0
        for proj, q in zip(self.network.projections, self.numerics, strict=True):
            scale = float(np.abs(proj.weight).max()) if proj.size else 0.0
            if scale > 0 and math.isfinite(q.max_abs_error):
                worst = max(worst, q.max_abs_error / scale)
        return worst
