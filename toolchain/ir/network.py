"""The typed network IR that every stage of spikeport agrees on.

A ``Network`` is a frozen value: populations of neurons, spike sources, current sources,
projections with explicit connectivity (one entry per synapse), plasticity rules and
recording requests.  Everything is stored in the units of :mod:`toolchain.ir.units`
(PyNN's: ms, mV, nA, nF, uS, Hz).  Arrays are copied and made read-only on construction,
so a stage can never change another stage's input by accident.

Validation happens in ``__post_init__``: a bad value is refused where it enters, with a
message that names the object, the field, the element, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from toolchain.ir.units import Unit, check_finite, check_range


class IRError(ValueError):
    """An invalid network description."""


# Per-synapse arrays dominate memory: the full-scale cortical microcircuit has ~0.3 billion
# synapses.  int32 indices and float32 weights/delays (7 significant digits, far finer than
# any target's weight format) keep that at 16 bytes per synapse instead of 32.
INDEX_DTYPE = np.int32
SYNAPSE_DTYPE = np.float32


def _frozen_array(value: object, dtype: type, *, what: str, ndim: int = 1) -> np.ndarray:
    if _already_frozen(value, dtype):
        arr = value  # nobody can write to it: sharing is safe and saves a copy of a big array
    else:
        arr = _copy_array(value, dtype, what)
    if arr.ndim != ndim:
        raise IRError(f"{what}: expected a {ndim}-D array, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def _already_frozen(value: object, dtype: type) -> bool:
    if not isinstance(value, np.ndarray) or value.dtype != dtype or value.flags.writeable:
        return False
    base = value.base
    while isinstance(base, np.ndarray):
        if base.flags.writeable:
            return False
        base = base.base
    return base is None


def _copy_array(value: object, dtype: type, what: str) -> np.ndarray:
    try:
        return np.array(value, dtype=dtype, copy=True)
    except (TypeError, ValueError) as e:
        name = np.dtype(dtype).name
        raise IRError(f"{what}: cannot be read as an array of {name}: {e}") from None


def _set(obj: object, name: str, value: object) -> None:
    object.__setattr__(obj, name, value)


class _Value:
    """Value equality for frozen dataclasses that hold numpy arrays."""

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            if not _equal(getattr(self, f.name), getattr(other, f.name)):
                return False
        return True

    __hash__ = None  # type: ignore[assignment]


def _equal(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        return a_arr.shape == b_arr.shape and a_arr.dtype == b_arr.dtype and bool(
            np.array_equal(a_arr, b_arr, equal_nan=a_arr.dtype.kind == "f")
        )
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return a == b


# --------------------------------------------------------------------------- cell types


@dataclass(frozen=True)
class ParamSpec:
    """One neuron parameter: its unit, PyNN's default and the physically allowed range."""

    unit: Unit
    default: float
    low: float = -math.inf
    high: float = math.inf
    low_inclusive: bool = True


class CellType(str, enum.Enum):
    """Neuron models the IR describes, named as in PyNN's standard library."""

    IF_CURR_EXP = "IF_curr_exp"
    IF_CURR_ALPHA = "IF_curr_alpha"
    IF_COND_EXP = "IF_cond_exp"

    @property
    def conductance_based(self) -> bool:
        return self is CellType.IF_COND_EXP

    @property
    def parameters(self) -> Mapping[str, ParamSpec]:
        return CELL_PARAMETERS[self]

    @property
    def state_variables(self) -> tuple[str, ...]:
        return CELL_STATE[self]


_POS = {"low": 0.0, "low_inclusive": False}
_LIF_COMMON: dict[str, ParamSpec] = {
    # Defaults are PyNN 0.13's standard-model defaults (pyNN/standardmodels/cells.py).
    "cm": ParamSpec(Unit.NF, 1.0, **_POS),
    "tau_m": ParamSpec(Unit.MS, 20.0, **_POS),
    "tau_refrac": ParamSpec(Unit.MS, 0.1, low=0.0),
    "tau_syn_E": ParamSpec(Unit.MS, 5.0, **_POS),
    "tau_syn_I": ParamSpec(Unit.MS, 5.0, **_POS),
    "i_offset": ParamSpec(Unit.NA, 0.0),
    "v_rest": ParamSpec(Unit.MV, -65.0),
    "v_reset": ParamSpec(Unit.MV, -65.0),
    "v_thresh": ParamSpec(Unit.MV, -50.0),
}

CELL_PARAMETERS: dict[CellType, dict[str, ParamSpec]] = {
    CellType.IF_CURR_EXP: dict(_LIF_COMMON),
    CellType.IF_CURR_ALPHA: {
        **_LIF_COMMON,
        "tau_syn_E": ParamSpec(Unit.MS, 0.5, **_POS),
        "tau_syn_I": ParamSpec(Unit.MS, 0.5, **_POS),
    },
    CellType.IF_COND_EXP: {
        **_LIF_COMMON,
        "e_rev_E": ParamSpec(Unit.MV, 0.0),
        "e_rev_I": ParamSpec(Unit.MV, -70.0),
    },
}

# State variables a population may be initialised with and may record (besides spikes).
CELL_STATE: dict[CellType, tuple[str, ...]] = {
    CellType.IF_CURR_EXP: ("v", "isyn_exc", "isyn_inh"),
    CellType.IF_CURR_ALPHA: ("v", "isyn_exc", "isyn_inh"),
    CellType.IF_COND_EXP: ("v", "gsyn_exc", "gsyn_inh"),
}
STATE_UNITS: dict[str, Unit] = {
    "v": Unit.MV,
    "isyn_exc": Unit.NA,
    "isyn_inh": Unit.NA,
    "gsyn_exc": Unit.US,
    "gsyn_inh": Unit.US,
}


class Receptor(str, enum.Enum):
    EXCITATORY = "excitatory"
    INHIBITORY = "inhibitory"


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True, eq=False)
class Population(_Value):
    """A group of identical-model neurons with per-neuron parameter and initial-value arrays."""

    label: str
    cell_type: CellType
    size: int
    parameters: Mapping[str, np.ndarray] = field(default_factory=dict)
    initial_values: Mapping[str, np.ndarray] = field(default_factory=dict)

    kind: ClassVar[str] = "population"

    def __post_init__(self) -> None:
        _check_label(self.label, "Population")
        try:
            cell_type = CellType(self.cell_type)
        except ValueError:
            allowed = ", ".join(c.value for c in CellType)
            raise IRError(
                f"Population '{self.label}': cell_type '{self.cell_type}' is not supported; "
                f"use one of: {allowed}"
            ) from None
        _set(self, "cell_type", cell_type)
        _check_size(self.size, f"Population '{self.label}'")
        specs = cell_type.parameters
        unknown = set(self.parameters) - set(specs)
        if unknown:
            raise IRError(
                f"Population '{self.label}': {cell_type.value} has no parameter "
                f"'{sorted(unknown)[0]}'; its parameters are: {', '.join(specs)}"
            )
        params = {}
        for name, spec in specs.items():
            what = f"Population '{self.label}' parameter {name}"
            arr = _per_neuron(self.parameters.get(name, spec.default), self.size, what)
            check_range(
                arr, what=what, unit=spec.unit, low=spec.low, high=spec.high,
                low_inclusive=spec.low_inclusive,
            )
            params[name] = arr
        if np.any(params["v_reset"] >= params["v_thresh"]):
            i = int(np.flatnonzero(params["v_reset"] >= params["v_thresh"])[0])
            raise IRError(
                f"Population '{self.label}' parameter v_reset[{i}] = {params['v_reset'][i]:g} mV "
                f"is not below v_thresh[{i}] = {params['v_thresh'][i]:g} mV; "
                "the neuron would fire forever"
            )
        _set(self, "parameters", params)
        unknown = set(self.initial_values) - set(cell_type.state_variables)
        if unknown:
            raise IRError(
                f"Population '{self.label}': {cell_type.value} has no state variable "
                f"'{sorted(unknown)[0]}'; its state variables are: "
                f"{', '.join(cell_type.state_variables)}"
            )
        initial = {}
        for name in cell_type.state_variables:
            default = params["v_rest"] if name == "v" else 0.0
            what = f"Population '{self.label}' initial value {name}"
            arr = _per_neuron(self.initial_values.get(name, default), self.size, what)
            check_finite(arr, what=what)
            initial[name] = arr
        _set(self, "initial_values", initial)


@dataclass(frozen=True, eq=False)
class PoissonSource(_Value):
    """Independent Poisson spike trains, one per neuron.

    Realised into spike times once, from ``seed``, so the float reference and every
    hardware target see exactly the same input spikes.
    """

    label: str
    size: int
    rate: np.ndarray  # Hz, per neuron
    start: np.ndarray  # ms, per neuron
    duration: np.ndarray  # ms, per neuron (inf = until the end of the run)
    seed: int = 0

    kind: ClassVar[str] = "poisson_source"

    def __post_init__(self) -> None:
        _check_label(self.label, "PoissonSource")
        _check_size(self.size, f"PoissonSource '{self.label}'")
        for name, unit in (("rate", Unit.HZ), ("start", Unit.MS)):
            what = f"PoissonSource '{self.label}' {name}"
            arr = _per_neuron(getattr(self, name), self.size, what)
            check_range(arr, what=what, unit=unit, low=0.0)
            _set(self, name, arr)
        what = f"PoissonSource '{self.label}' duration"
        arr = _per_neuron(self.duration, self.size, what)
        if np.any(np.isnan(arr) | (arr < 0)):
            i = int(np.flatnonzero(np.isnan(arr) | (arr < 0))[0])
            raise IRError(f"{what}[{i}] = {arr[i]:g} ms must be >= 0 (inf for 'until the end')")
        _set(self, "duration", arr)
        _check_seed(self.seed, f"PoissonSource '{self.label}'")


@dataclass(frozen=True, eq=False)
class ArraySource(_Value):
    """Given spike times per neuron, stored flat: neuron i's times are
    ``times[offsets[i]:offsets[i+1]]`` (ms, sorted)."""

    label: str
    size: int
    times: np.ndarray
    offsets: np.ndarray

    kind: ClassVar[str] = "array_source"

    def __post_init__(self) -> None:
        _check_label(self.label, "ArraySource")
        _check_size(self.size, f"ArraySource '{self.label}'")
        times = _frozen_array(self.times, np.float64, what=f"ArraySource '{self.label}' times")
        offsets = _frozen_array(self.offsets, np.int64, what=f"ArraySource '{self.label}' offsets")
        if offsets.shape != (self.size + 1,) or offsets[0] != 0 or offsets[-1] != times.size:
            raise IRError(
                f"ArraySource '{self.label}' offsets: expected {self.size + 1} entries from 0 to "
                f"{times.size}, got {offsets.size} entries"
            )
        if np.any(np.diff(offsets) < 0):
            raise IRError(f"ArraySource '{self.label}' offsets: must not decrease")
        check_range(times, what=f"ArraySource '{self.label}' times", unit=Unit.MS, low=0.0)
        for i in range(self.size):
            seg = times[offsets[i] : offsets[i + 1]]
            if seg.size > 1 and np.any(np.diff(seg) < 0):
                raise IRError(f"ArraySource '{self.label}' neuron {i}: spike times are not sorted")
        _set(self, "times", times)
        _set(self, "offsets", offsets)

    @classmethod
    def from_lists(cls, label: str, spike_times: list) -> ArraySource:
        """Build from one sequence of spike times (ms) per neuron."""
        trains = [np.sort(np.asarray(t, dtype=float).ravel()) for t in spike_times]
        offsets = np.concatenate([[0], np.cumsum([t.size for t in trains])]).astype(np.int64)
        times = np.concatenate(trains) if trains else np.zeros(0)
        return cls(label=label, size=len(trains), times=times, offsets=offsets)

    def train(self, i: int) -> np.ndarray:
        return self.times[self.offsets[i] : self.offsets[i + 1]]


@dataclass(frozen=True, eq=False)
class DCSource(_Value):
    """A constant current (nA) injected into ``target[indices]`` from ``start`` to ``stop`` (ms)."""

    label: str
    target: str
    indices: np.ndarray
    amplitude: float
    start: float = 0.0
    stop: float = math.inf

    kind: ClassVar[str] = "dc_source"

    def __post_init__(self) -> None:
        _check_label(self.label, "DCSource")
        _set(self, "indices", _index_array(self.indices, f"DCSource '{self.label}' indices"))
        check_finite(np.asarray([self.amplitude, self.start]), what=f"DCSource '{self.label}'")
        if not self.stop > self.start:
            raise IRError(
                f"DCSource '{self.label}': stop = {self.stop:g} ms must be after "
                f"start = {self.start:g} ms"
            )
        _set(self, "amplitude", float(self.amplitude))
        _set(self, "start", float(self.start))
        _set(self, "stop", float(self.stop))


@dataclass(frozen=True, eq=False)
class StepCurrentSource(_Value):
    """A piecewise-constant current: ``amplitudes[k]`` (nA) from ``times[k]`` (ms) on."""

    label: str
    target: str
    indices: np.ndarray
    times: np.ndarray
    amplitudes: np.ndarray

    kind: ClassVar[str] = "step_current_source"

    def __post_init__(self) -> None:
        _check_label(self.label, "StepCurrentSource")
        what = f"StepCurrentSource '{self.label}'"
        _set(self, "indices", _index_array(self.indices, f"{what} indices"))
        times = _frozen_array(self.times, np.float64, what=f"{what} times")
        amps = _frozen_array(self.amplitudes, np.float64, what=f"{what} amplitudes")
        if times.shape != amps.shape:
            raise IRError(
                f"{what}: {times.size} times but {amps.size} amplitudes; "
                "give one amplitude per time"
            )
        check_range(times, what=f"{what} times", unit=Unit.MS, low=0.0)
        check_finite(amps, what=f"{what} amplitudes")
        if np.any(np.diff(times) <= 0):
            raise IRError(f"{what} times: must be strictly increasing")
        _set(self, "times", times)
        _set(self, "amplitudes", amps)


class WeightDependence(str, enum.Enum):
    ADDITIVE = "additive"
    MULTIPLICATIVE = "multiplicative"


@dataclass(frozen=True, eq=False)
class STDPRule(_Value):
    """Pair-based STDP (PyNN's SpikePairRule) with a weight dependence.

    Nearest-neighbour-free, all-to-all pairing with exponential traces:
    a post spike adds ``A_plus * g(w) * x_pre``; a pre spike adds ``-A_minus * f(w) * y_post``,
    where additive: g = f = (w_max - w_min); multiplicative: g = (w_max - w), f = (w - w_min).
    Weights stay in [w_min, w_max].
    """

    tau_plus: float = 20.0
    tau_minus: float = 20.0
    A_plus: float = 0.01
    A_minus: float = 0.01
    w_min: float = 0.0
    w_max: float = 1.0
    weight_dependence: WeightDependence = WeightDependence.ADDITIVE

    kind: ClassVar[str] = "stdp_rule"

    def __post_init__(self) -> None:
        try:
            _set(self, "weight_dependence", WeightDependence(self.weight_dependence))
        except ValueError:
            raise IRError(
                f"STDPRule weight_dependence '{self.weight_dependence}' is not supported; "
                "use 'additive' or 'multiplicative'"
            ) from None
        for name in ("tau_plus", "tau_minus"):
            check_range(np.asarray([getattr(self, name)]), what=f"STDPRule {name}", unit=Unit.MS,
                        low=0.0, low_inclusive=False)
        for name in ("A_plus", "A_minus"):
            check_range(np.asarray([getattr(self, name)]), what=f"STDPRule {name}",
                        unit=Unit.DIMENSIONLESS, low=0.0)
        check_finite(np.asarray([self.w_min, self.w_max]), what="STDPRule w_min/w_max")
        if self.w_max < self.w_min:
            raise IRError(f"STDPRule: w_max = {self.w_max:g} is below w_min = {self.w_min:g}")
        for name in ("tau_plus", "tau_minus", "A_plus", "A_minus", "w_min", "w_max"):
            _set(self, name, float(getattr(self, name)))


@dataclass(frozen=True, eq=False)
class Projection(_Value):
    """Synapses from ``pre`` to ``post``, one entry per synapse.

    Per-synapse arrays are int32 (indices) and float32 (weight, delay); see SYNAPSE_DTYPE.
    ``weight`` is in the post cell's synaptic unit (nA for current-based cells, uS for
    conductance-based ones) with PyNN's sign convention: conductances are positive; a
    current-based inhibitory weight is negative.  ``delay`` is in ms.
    """

    label: str
    pre: str
    post: str
    pre_index: np.ndarray
    post_index: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    receptor: Receptor = Receptor.EXCITATORY
    plasticity: STDPRule | None = None

    kind: ClassVar[str] = "projection"

    def __post_init__(self) -> None:
        _check_label(self.label, "Projection")
        what = f"Projection '{self.label}'"
        try:
            _set(self, "receptor", Receptor(self.receptor))
        except ValueError:
            raise IRError(
                f"{what}: receptor '{self.receptor}' is not supported; "
                "use 'excitatory' or 'inhibitory'"
            ) from None
        pre = _index_array(self.pre_index, f"{what} pre_index")
        post = _index_array(self.post_index, f"{what} post_index")
        weight = _frozen_array(self.weight, SYNAPSE_DTYPE, what=f"{what} weight")
        delay = _frozen_array(self.delay, SYNAPSE_DTYPE, what=f"{what} delay")
        n = pre.size
        for name, arr in (("post_index", post), ("weight", weight), ("delay", delay)):
            if arr.size != n:
                raise IRError(
                    f"{what}: {name} has {arr.size} entries but pre_index has {n}; "
                    "give one entry per synapse"
                )
        check_finite(weight, what=f"{what} weight")
        check_range(delay, what=f"{what} delay", unit=Unit.MS, low=0.0, low_inclusive=False)
        if self.plasticity is not None and not isinstance(self.plasticity, STDPRule):
            raise IRError(f"{what}: plasticity must be an STDPRule or None")
        _set(self, "pre_index", pre)
        _set(self, "post_index", post)
        _set(self, "weight", weight)
        _set(self, "delay", delay)

    @property
    def size(self) -> int:
        return int(self.pre_index.size)


@dataclass(frozen=True, eq=False)
class Recording(_Value):
    """A request to record ``variable`` ("spikes", or a state variable) of ``target[indices]``."""

    target: str
    variable: str
    indices: np.ndarray
    sampling_interval: float | None = None  # ms; None = every timestep

    kind: ClassVar[str] = "recording"

    def __post_init__(self) -> None:
        _set(self, "indices", _index_array(self.indices, f"Recording of '{self.target}' indices"))
        if self.sampling_interval is not None and not self.sampling_interval > 0:
            raise IRError(
                f"Recording of '{self.target}'.{self.variable}: sampling_interval "
                f"{self.sampling_interval} ms must be positive"
            )


SpikeSource = PoissonSource | ArraySource
CurrentSource = DCSource | StepCurrentSource


@dataclass(frozen=True, eq=False)
class Network(_Value):
    """A whole spiking network: what to simulate and what to record, target-independent."""

    dt: float = 0.1  # ms, the integration timestep of the float reference
    populations: tuple[Population, ...] = ()
    sources: tuple[SpikeSource, ...] = ()
    projections: tuple[Projection, ...] = ()
    currents: tuple[CurrentSource, ...] = ()
    recordings: tuple[Recording, ...] = ()
    seed: int = 0
    label: str = "network"

    kind: ClassVar[str] = "network"

    def __post_init__(self) -> None:
        check_range(np.asarray([self.dt]), what="Network dt", unit=Unit.MS, low=0.0,
                    low_inclusive=False)
        _set(self, "dt", float(self.dt))
        _check_seed(self.seed, "Network")
        for name in ("populations", "sources", "projections", "currents", "recordings"):
            _set(self, name, tuple(getattr(self, name)))
        nodes: dict[str, Population | SpikeSource] = {}
        for node in (*self.populations, *self.sources):
            if node.label in nodes:
                raise IRError(
                    f"two populations/sources are labelled '{node.label}'; labels must be unique"
                )
            nodes[node.label] = node
        for proj in self.projections:
            self._check_projection(proj, nodes)
        for cur in self.currents:
            target = self._neuron_target(cur.target, f"{type(cur).__name__} '{cur.label}'")
            _check_indices_below(cur.indices, target.size,
                                 f"{type(cur).__name__} '{cur.label}' indices")
        for rec in self.recordings:
            self._check_recording(rec, nodes)

    def _neuron_target(self, label: str, what: str) -> Population:
        for p in self.populations:
            if p.label == label:
                return p
        known = ", ".join(p.label for p in self.populations) or "none"
        raise IRError(f"{what}: target population '{label}' does not exist (populations: {known})")

    def _check_projection(self, proj: Projection, nodes: Mapping[str, object]) -> None:
        what = f"Projection '{proj.label}'"
        if proj.pre not in nodes:
            raise IRError(f"{what}: pre '{proj.pre}' does not exist (known: {', '.join(nodes)})")
        post = self._neuron_target(proj.post, what)
        _check_indices_below(proj.pre_index, nodes[proj.pre].size, f"{what} pre_index")
        _check_indices_below(proj.post_index, post.size, f"{what} post_index")
        if proj.delay.size and proj.delay.min() < self.dt * (1 - 1e-9):
            i = int(np.argmin(proj.delay))
            raise IRError(
                f"{what} delay[{i}] = {proj.delay[i]:g} ms is shorter than the timestep "
                f"dt = {self.dt:g} ms; the minimum delay is one timestep"
            )
        if post.cell_type.conductance_based and proj.weight.size and proj.weight.min() < 0:
            i = int(np.argmin(proj.weight))
            raise IRError(
                f"{what} weight[{i}] = {proj.weight[i]:g} uS is negative; conductance-based "
                f"population '{post.label}' needs weights >= 0 (use receptor 'inhibitory')"
            )
        if proj.plasticity is not None and proj.pre not in {p.label for p in self.populations} \
                and not isinstance(nodes[proj.pre], (PoissonSource, ArraySource)):
            raise IRError(f"{what}: plastic projections need a population or source as pre")

    def _check_recording(self, rec: Recording, nodes: Mapping[str, object]) -> None:
        what = f"Recording of '{rec.target}'"
        node = nodes.get(rec.target)
        if node is None:
            raise IRError(f"{what}: '{rec.target}' does not exist (known: {', '.join(nodes)})")
        allowed = ("spikes",) + (
            node.cell_type.state_variables if isinstance(node, Population) else ()
        )
        if rec.variable not in allowed:
            raise IRError(
                f"{what}: cannot record '{rec.variable}'; recordable: {', '.join(allowed)}"
            )
        _check_indices_below(rec.indices, node.size, f"{what} indices")

    # -- lookups ---------------------------------------------------------------------
    def node(self, label: str) -> Population | SpikeSource:
        for n in (*self.populations, *self.sources):
            if n.label == label:
                return n
        raise KeyError(f"no population or source labelled '{label}'")

    def population(self, label: str) -> Population:
        return self._neuron_target(label, "lookup")

    @property
    def n_neurons(self) -> int:
        return sum(p.size for p in self.populations)

    @property
    def n_synapses(self) -> int:
        return sum(p.size for p in self.projections)

    def replace(self, **changes: object) -> Network:
        return dataclasses.replace(self, **changes)


# --------------------------------------------------------------------------- helpers


def _check_label(label: object, kind: str) -> None:
    if not isinstance(label, str) or not label:
        raise IRError(f"{kind}: label must be a non-empty string, got {label!r}")


def _check_size(size: object, what: str) -> None:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or size < 1:
        raise IRError(f"{what}: size must be a positive integer, got {size!r}")


def _check_seed(seed: object, what: str) -> None:
    if not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**63:
        raise IRError(f"{what}: seed must be an integer in [0, 2**63), got {seed!r}")


def _per_neuron(value: object, size: int, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    if arr.shape != (size,):
        raise IRError(f"{what}: expected one value or {size} values, got shape {arr.shape}")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


def _index_array(value: object, what: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.equal(np.mod(arr, 1), 0)):
            raise IRError(f"{what}: indices must be integers")
    arr = _frozen_array(arr, INDEX_DTYPE, what=what)
    if arr.size and arr.min() < 0:
        i = int(np.argmin(arr))
        raise IRError(f"{what}[{i}] = {arr[i]} is negative")
    return arr


def _check_indices_below(indices: np.ndarray, size: int, what: str) -> None:
    if indices.size and indices.max() >= size:
        i = int(np.argmax(indices))
        raise IRError(f"{what}[{i}] = {indices[i]} is out of range for size {size}")


NODE_TYPES: tuple[type, ...] = (
    Population, PoissonSource, ArraySource, DCSource, StepCurrentSource, STDPRule,
    Projection, Recording, Network,
)
