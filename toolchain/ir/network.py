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
from collections.abc import Collection, Mapping
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
# --------------------------------------------------------------------------- cell types


@dataclass(frozen=True)
class ParamSpec:
    """One neuron parameter: its unit, PyNN's default and the physically allowed range.

    A tuple default marks a parameter with several values per neuron (GIF_cond_exp's
    time constants and increments of its adaptation kernels): stored as (size, k).
    """

    unit: Unit
    default: float | tuple[float, ...]
    low: float = -math.inf
    high: float = math.inf
    low_inclusive: bool = True

    @property
    def vector(self) -> bool:
        return isinstance(self.default, tuple)


@dataclass(frozen=True)
class StateSpec:
    """One state variable: its unit and where it starts (a number, or a parameter's value)."""

    unit: Unit
    default: float | str


class SynapseKind(str, enum.Enum):
    """What a synaptic weight is for a cell type: the unit of Projection.weight."""

    CURRENT = "current"  # nA, into an exponential or alpha current
    CONDUCTANCE = "conductance"  # uS, into an exponential or alpha conductance
    VOLTAGE = "voltage"  # mV, a jump of the membrane potential
    COMPOSED = "composed"  # set per receptor by the population's PostSynapticResponses


@dataclass(frozen=True)
class CellModel:
    """The IR's description of one cell type; ``ordered`` lists (lower, upper) parameter
    pairs that must be strictly ordered for every neuron, with the reason."""

    parameters: Mapping[str, ParamSpec]
    state: Mapping[str, StateSpec]
    synapses: SynapseKind
    ordered: tuple[tuple[str, str | float, str], ...] = ()


class CellType(str, enum.Enum):
    """Neuron models the IR describes, named as in PyNN's standard library.

    LIF and AdExp are the neuron parts of PyNN's PointNeuron: their synapses are the
    population's ``receptors`` (PostSynapticResponse), any number of them, each named.
    """

    IF_CURR_EXP = "IF_curr_exp"
    IF_CURR_ALPHA = "IF_curr_alpha"
    IF_COND_EXP = "IF_cond_exp"
    IF_CURR_DELTA = "IF_curr_delta"
    IF_COND_ALPHA = "IF_cond_alpha"
    IF_COND_EXP_GSFA_GRR = "IF_cond_exp_gsfa_grr"
    EIF_COND_EXP_ISFA_ISTA = "EIF_cond_exp_isfa_ista"
    EIF_COND_ALPHA_ISFA_ISTA = "EIF_cond_alpha_isfa_ista"
    HH_COND_EXP = "HH_cond_exp"
    IZHIKEVICH = "Izhikevich"
    GIF_COND_EXP = "GIF_cond_exp"
    LIF = "LIF"
    ADEXP = "AdExp"

    @property
    def model(self) -> CellModel:
        return CELL_MODELS[self]

    @property
    def conductance_based(self) -> bool:
        return self.model.synapses is SynapseKind.CONDUCTANCE

    @property
    def composed(self) -> bool:
        """Synapses come from the population's receptors (PyNN's PointNeuron)."""
        return self.model.synapses is SynapseKind.COMPOSED

    @property
    def parameters(self) -> Mapping[str, ParamSpec]:
        return self.model.parameters

    @property
    def state_variables(self) -> tuple[str, ...]:
        """The cell's own state variables (a composed population adds its receptors')."""
        return tuple(self.model.state)


_POS = {"low": 0.0, "low_inclusive": False}
_NONNEG = {"low": 0.0}
_FIRE_FOREVER = "the neuron would fire forever"


def _p(unit: Unit, default: float | tuple[float, ...], **limits: object) -> ParamSpec:
    return ParamSpec(unit, default, **limits)  # type: ignore[arg-type]


# Defaults are PyNN 0.13's standard-model defaults (pyNN/standardmodels/cells.py).
_LIF: dict[str, ParamSpec] = {
    "cm": _p(Unit.NF, 1.0, **_POS),
    "tau_m": _p(Unit.MS, 20.0, **_POS),
    "tau_refrac": _p(Unit.MS, 0.1, **_NONNEG),
    "i_offset": _p(Unit.NA, 0.0),
    "v_rest": _p(Unit.MV, -65.0),
    "v_reset": _p(Unit.MV, -65.0),
    "v_thresh": _p(Unit.MV, -50.0),
}
_LIF_COMMON: dict[str, ParamSpec] = {
    **_LIF,
    "tau_syn_E": _p(Unit.MS, 5.0, **_POS),
    "tau_syn_I": _p(Unit.MS, 5.0, **_POS),
}
_REVERSAL = {"e_rev_E": _p(Unit.MV, 0.0), "e_rev_I": _p(Unit.MV, -70.0)}
_ADEXP: dict[str, ParamSpec] = {
    "cm": _p(Unit.NF, 0.281, **_POS),
    "tau_refrac": _p(Unit.MS, 0.1, **_NONNEG),
    "v_spike": _p(Unit.MV, -40.0),
    "v_reset": _p(Unit.MV, -70.6),
    "v_rest": _p(Unit.MV, -70.6),
    "tau_m": _p(Unit.MS, 9.3667, **_POS),
    "i_offset": _p(Unit.NA, 0.0),
    "a": _p(Unit.NS, 4.0),
    "b": _p(Unit.NA, 0.0805),
    "delta_T": _p(Unit.MV, 2.0, **_NONNEG),
    "tau_w": _p(Unit.MS, 144.0, **_POS),
    "v_thresh": _p(Unit.MV, -50.4),
}
_EIF: dict[str, ParamSpec] = {
    **_ADEXP,
    "e_rev_E": _p(Unit.MV, 0.0),
    "tau_syn_E": _p(Unit.MS, 5.0, **_POS),
    "e_rev_I": _p(Unit.MV, -80.0),
    "tau_syn_I": _p(Unit.MS, 5.0, **_POS),
}

_V = StateSpec(Unit.MV, "v_rest")
_CURR = {"isyn_exc": StateSpec(Unit.NA, 0.0), "isyn_inh": StateSpec(Unit.NA, 0.0)}
_COND = {"gsyn_exc": StateSpec(Unit.US, 0.0), "gsyn_inh": StateSpec(Unit.US, 0.0)}
# the Izhikevich model's spike cut-off (Izhikevich 2003), in mV
IZHIKEVICH_PEAK = 30.0
_LIF_ORDER = (("v_reset", "v_thresh", _FIRE_FOREVER),)
_ADEXP_ORDER = (("v_reset", "v_spike", _FIRE_FOREVER),
                ("v_thresh", "v_spike", "spikes are detected at v_spike, so the exponential "
                 "upswing from v_thresh must lie below it"))

CELL_MODELS: dict[CellType, CellModel] = {
    CellType.IF_CURR_EXP: CellModel(dict(_LIF_COMMON), {"v": _V, **_CURR}, SynapseKind.CURRENT,
                                    _LIF_ORDER),
    CellType.IF_CURR_ALPHA: CellModel({
        **_LIF_COMMON,
        "tau_syn_E": _p(Unit.MS, 0.5, **_POS),
        "tau_syn_I": _p(Unit.MS, 0.5, **_POS),
    }, {"v": _V, **_CURR}, SynapseKind.CURRENT, _LIF_ORDER),
    CellType.IF_COND_EXP: CellModel({**_LIF_COMMON, **_REVERSAL}, {"v": _V, **_COND},
                                    SynapseKind.CONDUCTANCE, _LIF_ORDER),
    CellType.IF_CURR_DELTA: CellModel(dict(_LIF), {"v": _V}, SynapseKind.VOLTAGE, _LIF_ORDER),
    CellType.IF_COND_ALPHA: CellModel({
        **_LIF_COMMON,
        "tau_syn_E": _p(Unit.MS, 0.3, **_POS),
        "tau_syn_I": _p(Unit.MS, 0.5, **_POS),
        **_REVERSAL,
    }, {"v": _V, **_COND}, SynapseKind.CONDUCTANCE, _LIF_ORDER),
    CellType.IF_COND_EXP_GSFA_GRR: CellModel({
        **_LIF_COMMON, **_REVERSAL,
        "tau_sfa": _p(Unit.MS, 100.0, **_POS),
        "e_rev_sfa": _p(Unit.MV, -75.0),
        "q_sfa": _p(Unit.NS, 15.0, **_NONNEG),
        "tau_rr": _p(Unit.MS, 2.0, **_POS),
        "e_rev_rr": _p(Unit.MV, -75.0),
        "q_rr": _p(Unit.NS, 3000.0, **_NONNEG),
    }, {"v": _V, **_COND, "g_s": StateSpec(Unit.NS, 0.0), "g_r": StateSpec(Unit.NS, 0.0)},
        SynapseKind.CONDUCTANCE, _LIF_ORDER),
    CellType.EIF_COND_EXP_ISFA_ISTA: CellModel(
        dict(_EIF), {"v": _V, "w": StateSpec(Unit.NA, 0.0), **_COND}, SynapseKind.CONDUCTANCE,
        _ADEXP_ORDER),
    CellType.EIF_COND_ALPHA_ISFA_ISTA: CellModel(
        dict(_EIF), {"v": _V, "w": StateSpec(Unit.NA, 0.0), **_COND}, SynapseKind.CONDUCTANCE,
        _ADEXP_ORDER),
    CellType.HH_COND_EXP: CellModel({
        "gbar_Na": _p(Unit.US, 20.0, **_NONNEG),
        "gbar_K": _p(Unit.US, 6.0, **_NONNEG),
        "g_leak": _p(Unit.US, 0.01, **_NONNEG),
        "cm": _p(Unit.NF, 0.2, **_POS),
        "v_offset": _p(Unit.MV, -63.0),
        "e_rev_Na": _p(Unit.MV, 50.0),
        "e_rev_K": _p(Unit.MV, -90.0),
        "e_rev_leak": _p(Unit.MV, -65.0),
        "e_rev_E": _p(Unit.MV, 0.0),
        "e_rev_I": _p(Unit.MV, -80.0),
        "tau_syn_E": _p(Unit.MS, 0.2, **_POS),
        "tau_syn_I": _p(Unit.MS, 2.0, **_POS),
        "i_offset": _p(Unit.NA, 0.0),
    }, {"v": StateSpec(Unit.MV, "e_rev_leak"), **_COND,
        "m": StateSpec(Unit.DIMENSIONLESS, 0.0), "n": StateSpec(Unit.DIMENSIONLESS, 0.0),
        "h": StateSpec(Unit.DIMENSIONLESS, 1.0)}, SynapseKind.CONDUCTANCE),
    CellType.IZHIKEVICH: CellModel({
        "a": _p(Unit.PER_MS, 0.02),
        "b": _p(Unit.PER_MS, 0.2),
        "c": _p(Unit.MV, -65.0),
        "d": _p(Unit.MV_PER_MS, 2.0),
        "i_offset": _p(Unit.NA, 0.0),
    }, {"v": StateSpec(Unit.MV, -70.0), "u": StateSpec(Unit.MV_PER_MS, -14.0)},
        SynapseKind.VOLTAGE, (("c", IZHIKEVICH_PEAK, "a spike is cut off at 30 mV, so the "
                               "neuron would fire forever"),)),
    CellType.GIF_COND_EXP: CellModel({
        "v_rest": _p(Unit.MV, -65.0),
        "cm": _p(Unit.NF, 1.0, **_POS),
        "tau_m": _p(Unit.MS, 20.0, **_POS),
        "tau_refrac": _p(Unit.MS, 4.0, **_NONNEG),
        "tau_syn_E": _p(Unit.MS, 5.0, **_POS),
        "tau_syn_I": _p(Unit.MS, 5.0, **_POS),
        **_REVERSAL,
        "v_reset": _p(Unit.MV, -65.0),
        "i_offset": _p(Unit.NA, 0.0),
        "delta_v": _p(Unit.MV, 0.5, **_POS),
        "v_t_star": _p(Unit.MV, -48.0),
        "lambda0": _p(Unit.HZ, 1.0, **_NONNEG),
        "tau_eta": _p(Unit.MS, (1.0, 10.0, 100.0), **_POS),
        "tau_gamma": _p(Unit.MS, (1.0, 10.0, 100.0), **_POS),
        "a_eta": _p(Unit.NA, (1.0, 1.0, 1.0)),
        "a_gamma": _p(Unit.MV, (1.0, 1.0, 1.0)),
    }, {"v": _V, "v_t": StateSpec(Unit.MV, "v_t_star"), "i_eta": StateSpec(Unit.NA, 0.0),
        **_COND}, SynapseKind.CONDUCTANCE),
    CellType.LIF: CellModel(dict(_LIF), {"v": _V}, SynapseKind.COMPOSED, _LIF_ORDER),
    CellType.ADEXP: CellModel(dict(_ADEXP), {"v": _V, "w": StateSpec(Unit.NA, 0.0)},
                              SynapseKind.COMPOSED, _ADEXP_ORDER),
}

# GIF_cond_exp's kernels: a time constant and an increment per component, equally many
_VECTOR_PAIRS = (("tau_eta", "a_eta"), ("tau_gamma", "a_gamma"))


class Receptor(str, enum.Enum):
    """The two receptors of PyNN's standard cell types (composed ones name their own)."""

    EXCITATORY = "excitatory"
    INHIBITORY = "inhibitory"


class ResponseShape(str, enum.Enum):
    """PyNN's post-synaptic responses, the synapses of a composed (PointNeuron) population."""

    CURR_EXP = "curr_exp"  # CurrExpPostSynapticResponse: i jumps by w, decays with tau_syn
    COND_EXP = "cond_exp"  # CondExpPostSynapticResponse: g jumps by w, decays with tau_syn
    COND_ALPHA = "cond_alpha"  # CondAlphaPostSynapticResponse: g peaks at w after tau_syn
    COND_BETA = "cond_beta"  # CondBetaPostSynapticResponse: difference of exponentials,
    #                          normalised to peak at w (as NEST's and NEURON's Exp2Syn)

    @property
    def conductance_based(self) -> bool:
        return self is not ResponseShape.CURR_EXP

    @property
    def state_variable(self) -> str:
        """What the response exposes for recording, as ``<receptor>.<variable>``."""
        return "gsyn" if self.conductance_based else "isyn"


_TAU_SYN = _p(Unit.MS, 5.0, **_POS)
_E_SYN = _p(Unit.MV, 0.0)
RESPONSE_PARAMETERS: dict[ResponseShape, dict[str, ParamSpec]] = {
    ResponseShape.CURR_EXP: {"tau_syn": _TAU_SYN},
    ResponseShape.COND_EXP: {"tau_syn": _TAU_SYN, "e_syn": _E_SYN},
    ResponseShape.COND_ALPHA: {"tau_syn": _TAU_SYN, "e_syn": _E_SYN},
    ResponseShape.COND_BETA: {"tau_rise": _p(Unit.MS, 0.2, **_POS),
                              "tau_decay": _p(Unit.MS, 1.7, **_POS), "e_syn": _E_SYN},
}


def state_unit(variable: str) -> Unit:
    """The unit of a recordable state variable, by name (a receptor's after its dot)."""
    name, _, suffix = variable.partition(".")
    if suffix:
        return Unit.US if suffix == "gsyn" else Unit.NA
    for model in CELL_MODELS.values():
        if name in model.state:
            return model.state[name].unit
    raise KeyError(f"no state variable '{variable}'")


# --------------------------------------------------------------------------- populations


@dataclass(frozen=True, eq=False)
class PostSynapticResponse(_Value):
    """One named receptor of a composed population (PyNN's PointNeuron), e.g. "AMPA".

    ``parameters`` hold one value, or one per neuron of the population it belongs to
    (checked there); missing ones take PyNN's defaults.
    """

    name: str
    shape: ResponseShape
    parameters: Mapping[str, np.ndarray] = field(default_factory=dict)

    kind: ClassVar[str] = "post_synaptic_response"

    def __post_init__(self) -> None:
        what = f"PostSynapticResponse '{self.name}'"
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise IRError(f"PostSynapticResponse: name must be an identifier (as used in "
                          f"'<name>.gsyn'), got {self.name!r}")
        try:
            shape = ResponseShape(self.shape)
        except ValueError:
            allowed = ", ".join(s.value for s in ResponseShape)
            raise IRError(f"{what}: shape '{self.shape}' is not supported; use one of: "
                          f"{allowed}") from None
        _set(self, "shape", shape)
        specs = RESPONSE_PARAMETERS[shape]
        _check_known(self.parameters, specs, f"{what}: {shape.value}", "parameter")
        params = {}
        for name, spec in specs.items():
            arr = np.array(self.parameters.get(name, spec.default), dtype=np.float64, ndmin=1)
            if arr.ndim != 1:
                raise IRError(f"{what} parameter {name}: expected one value or one per neuron, "
                              f"got shape {arr.shape}")
            check_range(arr, what=f"{what} parameter {name}", unit=spec.unit, low=spec.low,
                        high=spec.high, low_inclusive=spec.low_inclusive)
            arr.setflags(write=False)
            params[name] = arr
        if shape is ResponseShape.COND_BETA:
            rise, decay = np.broadcast_arrays(params["tau_rise"], params["tau_decay"])
            if np.any(rise >= decay):
                i = int(np.flatnonzero(rise >= decay)[0])
                raise IRError(
                    f"{what} parameter tau_rise[{i}] = {rise[i]:g} ms is not below "
                    f"tau_decay[{i}] = {decay[i]:g} ms; a beta response rises faster than "
                    "it decays")
        _set(self, "parameters", params)

    @property
    def state_variable(self) -> str:
        return f"{self.name}.{self.shape.state_variable}"


@dataclass(frozen=True, eq=False)
class Population(_Value):
    """A group of identical-model neurons with per-neuron parameter and initial-value arrays.

    A composed cell type (LIF, AdExp) takes its synapses from ``receptors``; projections
    into it name one of them as their receptor.
    """

    label: str
    cell_type: CellType
    size: int
    parameters: Mapping[str, np.ndarray] = field(default_factory=dict)
    initial_values: Mapping[str, np.ndarray] = field(default_factory=dict)
    receptors: tuple[PostSynapticResponse, ...] = ()

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
        _check_known(self.parameters, specs,
                     f"Population '{self.label}': {cell_type.value}", "parameter")
        params = {}
        for name, spec in specs.items():
            what = f"Population '{self.label}' parameter {name}"
            value = self.parameters.get(name, spec.default)
            arr = (_per_neuron_vector(value, self.size, what) if spec.vector
                   else _per_neuron(value, self.size, what))
            check_range(
                arr, what=what, unit=spec.unit, low=spec.low, high=spec.high,
                low_inclusive=spec.low_inclusive,
            )
            params[name] = arr
        self._check_order(cell_type, params)
        for tau, increment in _VECTOR_PAIRS:
            if tau in params and params[tau].shape != params[increment].shape:
                raise IRError(
                    f"Population '{self.label}': {tau} has {params[tau].shape[1]} components "
                    f"but {increment} has {params[increment].shape[1]}; give one increment per "
                    "time constant")
        _set(self, "parameters", params)
        _set(self, "receptors", self._own_receptors(cell_type))
        variables = self.state_variables
        _check_known(self.initial_values, dict.fromkeys(variables),
                     f"Population '{self.label}': {cell_type.value}", "state variable")
        initial = {}
        for name in variables:
            what = f"Population '{self.label}' initial value {name}"
            arr = _per_neuron(self.initial_values.get(name, self._default_initial(name)),
                              self.size, what)
            check_finite(arr, what=what)
            initial[name] = arr
        _set(self, "initial_values", initial)

    def _check_order(self, cell_type: CellType, params: Mapping[str, np.ndarray]) -> None:
        for lower, upper, why in cell_type.model.ordered:
            low = params[lower]
            high = params[upper] if isinstance(upper, str) else np.full(self.size, upper)
            if np.any(low >= high):
                i = int(np.flatnonzero(low >= high)[0])
                bound = (f"{upper}[{i}] = {high[i]:g} mV" if isinstance(upper, str)
                         else f"{high[i]:g} mV")
                raise IRError(
                    f"Population '{self.label}' parameter {lower}[{i}] = {low[i]:g} mV is not "
                    f"below {bound}; {why}")

    def _own_receptors(self, cell_type: CellType) -> tuple[PostSynapticResponse, ...]:
        receptors = tuple(self.receptors)
        if receptors and not cell_type.composed:
            raise IRError(
                f"Population '{self.label}': {cell_type.value} has its own synapses "
                f"(excitatory, inhibitory); receptors are for the composed cell types "
                f"{CellType.LIF.value} and {CellType.ADEXP.value}")
        out, seen = [], set()
        for r in receptors:
            if not isinstance(r, PostSynapticResponse):
                raise IRError(f"Population '{self.label}': receptors must be "
                              f"PostSynapticResponse values, got {type(r).__name__}")
            if r.name in seen:
                raise IRError(f"Population '{self.label}': two receptors are named '{r.name}'")
            seen.add(r.name)
            params = {}
            for name, arr in r.parameters.items():
                params[name] = _per_neuron(arr if arr.size != 1 else arr[0], self.size,
                                           f"Population '{self.label}' receptor {r.name} "
                                           f"parameter {name}")
            out.append(PostSynapticResponse(r.name, r.shape, params))
        return tuple(out)

    def _default_initial(self, variable: str) -> object:
        spec = self.cell_type.model.state.get(variable)
        if spec is None:  # a receptor's conductance or current
            return 0.0
        return self.parameters[spec.default] if isinstance(spec.default, str) else spec.default

    @property
    def state_variables(self) -> tuple[str, ...]:
        """Variables it may be initialised with and may record (besides spikes)."""
        return self.cell_type.state_variables + tuple(r.state_variable for r in self.receptors)

    @property
    def receptor_names(self) -> tuple[str, ...]:
        if self.cell_type.composed:
            return tuple(r.name for r in self.receptors)
        return tuple(r.value for r in Receptor)

    def receptor(self, name: str) -> PostSynapticResponse:
        for r in self.receptors:
            if r.name == name:
                return r
        raise KeyError(name)

    def conductance_receptor(self, name: str) -> bool:
        """Whether a synapse onto receptor ``name`` adds a conductance (weights >= 0)."""
        if self.cell_type.composed:
            return self.receptor(name).shape.conductance_based
        return self.cell_type.conductance_based


# --------------------------------------------------------------------------- spike sources


def _check_train_parameters(obj: object, what: str, names: tuple[tuple[str, Unit], ...]) -> None:
    """Per-neuron rate-like parameters (>= 0), start (>= 0) and duration (>= 0 or inf)."""
    for name, unit in (*names, ("start", Unit.MS)):
        arr = _per_neuron(getattr(obj, name), obj.size, f"{what} {name}")  # type: ignore[attr-defined]
        check_range(arr, what=f"{what} {name}", unit=unit, low=0.0)
        _set(obj, name, arr)
    arr = _per_neuron(obj.duration, obj.size, f"{what} duration")  # type: ignore[attr-defined]
    if np.any(np.isnan(arr) | (arr < 0)):
        i = int(np.flatnonzero(np.isnan(arr) | (arr < 0))[0])
        raise IRError(f"{what} duration[{i}] = {arr[i]:g} ms must be >= 0 (inf for 'until the "
                      "end')")
    _set(obj, "duration", arr)


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
        _check_train_parameters(self, f"PoissonSource '{self.label}'", (("rate", Unit.HZ),))
        _check_seed(self.seed, f"PoissonSource '{self.label}'")


@dataclass(frozen=True, eq=False)
class GammaSource(_Value):
    """Gamma renewal processes (PyNN's SpikeSourceGamma): inter-spike intervals are
    Gamma-distributed with shape ``alpha`` and rate ``beta`` (Hz), mean alpha/beta s."""

    label: str
    size: int
    alpha: np.ndarray  # shape, per neuron
    beta: np.ndarray  # Hz, per neuron
    start: np.ndarray  # ms
    duration: np.ndarray  # ms (inf = until the end)
    seed: int = 0

    kind: ClassVar[str] = "gamma_source"

    def __post_init__(self) -> None:
        what = f"GammaSource '{self.label}'"
        _check_label(self.label, "GammaSource")
        _check_size(self.size, what)
        _check_train_parameters(self, what, (("beta", Unit.HZ),))
        alpha = _per_neuron(self.alpha, self.size, f"{what} alpha")
        check_range(alpha, what=f"{what} alpha", unit=Unit.DIMENSIONLESS, low=0.0,
                    low_inclusive=False)
        _set(self, "alpha", alpha)
        _check_seed(self.seed, what)

    @property
    def rate(self) -> np.ndarray:
        """Each neuron's mean rate while on (Hz): beta / alpha."""
        return self.beta / self.alpha


@dataclass(frozen=True, eq=False)
class PoissonRefractorySource(_Value):
    """Poisson processes with a dead time (PyNN's SpikeSourcePoissonRefractory): each
    interval is ``tau_refrac`` plus an exponential one, so the mean rate is ``rate``."""

    label: str
    size: int
    rate: np.ndarray  # Hz
    tau_refrac: np.ndarray  # ms
    start: np.ndarray  # ms
    duration: np.ndarray  # ms
    seed: int = 0

    kind: ClassVar[str] = "poisson_refractory_source"

    def __post_init__(self) -> None:
        what = f"PoissonRefractorySource '{self.label}'"
        _check_label(self.label, "PoissonRefractorySource")
        _check_size(self.size, what)
        _check_train_parameters(self, what, (("rate", Unit.HZ), ("tau_refrac", Unit.MS)))
        too_fast = self.rate * self.tau_refrac >= 1000.0
        if np.any(too_fast):
            i = int(np.flatnonzero(too_fast)[0])
            raise IRError(
                f"{what} rate[{i}] = {self.rate[i]:g} Hz is unreachable with tau_refrac[{i}] = "
                f"{self.tau_refrac[i]:g} ms: the mean interval 1000/rate must exceed the dead "
                "time; lower the rate or the dead time")
        _check_seed(self.seed, what)


@dataclass(frozen=True, eq=False)
class InhGammaSource(_Value):
    """Inhomogeneous gamma processes (PyNN's SpikeSourceInhGamma): the hazard of a gamma
    renewal process whose shape ``a`` and scale ``b`` (s) are piecewise constant in time,
    ``a[k], b[k]`` from ``tbins[k]`` (ms) on; neuron i's bins are
    ``[offsets[i]:offsets[i+1]]`` of the flat arrays (Muller et al. 2007)."""

    label: str
    size: int
    a: np.ndarray
    b: np.ndarray  # s
    tbins: np.ndarray  # ms, increasing per neuron
    offsets: np.ndarray
    start: np.ndarray  # ms, per neuron
    duration: np.ndarray  # ms, per neuron
    seed: int = 0

    kind: ClassVar[str] = "inh_gamma_source"

    def __post_init__(self) -> None:
        what = f"InhGammaSource '{self.label}'"
        _check_label(self.label, "InhGammaSource")
        _check_size(self.size, what)
        _check_train_parameters(self, what, ())
        offsets = _frozen_array(self.offsets, np.int64, what=f"{what} offsets")
        arrays = {name: _frozen_array(getattr(self, name), np.float64, what=f"{what} {name}")
                  for name in ("a", "b", "tbins")}
        n = arrays["tbins"].size
        if offsets.shape != (self.size + 1,) or offsets[0] != 0 or offsets[-1] != n \
                or np.any(np.diff(offsets) < 1):
            raise IRError(f"{what} offsets: expected {self.size + 1} increasing entries from 0 "
                          f"to {n}, at least one bin per neuron")
        for name, unit in (("a", Unit.DIMENSIONLESS), ("b", Unit.S)):
            if arrays[name].size != n:
                raise IRError(f"{what}: {name} has {arrays[name].size} values for {n} tbins; "
                              "give one per bin")
            check_range(arrays[name], what=f"{what} {name}", unit=unit, low=0.0,
                        low_inclusive=False)
        check_range(arrays["tbins"], what=f"{what} tbins", unit=Unit.MS, low=0.0)
        steps = np.diff(arrays["tbins"])
        inside = np.ones(steps.size, dtype=bool)
        inside[offsets[1:-1] - 1] = False  # the boundaries between neurons
        if np.any(steps[inside] <= 0):
            raise IRError(f"{what} tbins: must be strictly increasing for each neuron")
        for name, arr in arrays.items():
            _set(self, name, arr)
        _set(self, "offsets", offsets)
        _check_seed(self.seed, what)

    def bins(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Neuron i's (tbins, a, b)."""
        sl = slice(self.offsets[i], self.offsets[i + 1])
        return self.tbins[sl], self.a[sl], self.b[sl]

    @property
    def rate(self) -> np.ndarray:
        """Each neuron's fastest mean rate over its bins (Hz), 1 / (a b): an upper bound
        for window lengths and cost estimates."""
        fastest = 1.0 / (self.a * self.b)
        return np.array([fastest[self.offsets[i]:self.offsets[i + 1]].max()
                         for i in range(self.size)])


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
        if times.size > 1:
            falling = np.diff(times) < 0
            cuts = offsets[1:-1]
            falling[cuts[(cuts > 0) & (cuts < times.size)] - 1] = False  # between two trains
            if np.any(falling):
                k = int(np.flatnonzero(falling)[0])
                i = int(np.searchsorted(offsets, k, "right") - 1)
                raise IRError(f"ArraySource '{self.label}' neuron {i}: spike times are not "
                              f"sorted ({times[k]:g} ms comes before {times[k + 1]:g} ms)")
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


# --------------------------------------------------------------------------- current sources


def _check_current(obj: object, kind: str, scalars: tuple[str, ...]) -> str:
    label = obj.label  # type: ignore[attr-defined]
    _check_label(label, kind)
    what = f"{kind} '{label}'"
    _set(obj, "indices", _index_array(obj.indices, f"{what} indices"))  # type: ignore[attr-defined]
    values = np.asarray([getattr(obj, name) for name in scalars], dtype=float)
    check_finite(values, what=f"{what} ({', '.join(scalars)})")
    for name in scalars:
        _set(obj, name, float(getattr(obj, name)))
    return what


def _check_window(obj: object, what: str) -> None:
    start, stop = float(obj.start), float(obj.stop)  # type: ignore[attr-defined]
    if not math.isfinite(start) or start < 0:
        raise IRError(f"{what}: start = {start:g} ms must be a time >= 0")
    if not stop > start:
        raise IRError(f"{what}: stop = {stop:g} ms must be after start = {start:g} ms")
    _set(obj, "start", start)
    _set(obj, "stop", stop)


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
        what = _check_current(self, "DCSource", ("amplitude",))
        _check_window(self, what)


@dataclass(frozen=True, eq=False)
class ACSource(_Value):
    """A sine current (nA): ``offset + amplitude sin(2 pi frequency (t - start) + phase)``
    from ``start`` to ``stop`` (ms); frequency in Hz, phase in degrees (PyNN's ACSource)."""

    label: str
    target: str
    indices: np.ndarray
    amplitude: float
    offset: float = 0.0
    frequency: float = 10.0
    phase: float = 0.0
    start: float = 0.0
    stop: float = math.inf

    kind: ClassVar[str] = "ac_source"

    def __post_init__(self) -> None:
        what = _check_current(self, "ACSource", ("amplitude", "offset", "frequency", "phase"))
        if self.frequency < 0:
            raise IRError(f"{what}: frequency = {self.frequency:g} Hz must be >= 0")
        _check_window(self, what)


@dataclass(frozen=True, eq=False)
class NoisyCurrentSource(_Value):
    """Gaussian noise (nA): every ``dt`` ms a new amplitude ``mean + stdev N(0, 1)``, held
    until the next, from ``start`` to ``stop``; one realisation from ``seed``, shared by all
    the cells it is injected into (as pyNN.brian2 and pyNN.neuron do)."""

    label: str
    target: str
    indices: np.ndarray
    mean: float
    stdev: float
    dt: float
    start: float = 0.0
    stop: float = math.inf
    seed: int = 0

    kind: ClassVar[str] = "noisy_current_source"

    def __post_init__(self) -> None:
        what = _check_current(self, "NoisyCurrentSource", ("mean", "stdev", "dt"))
        if self.stdev < 0:
            raise IRError(f"{what}: stdev = {self.stdev:g} nA must be >= 0")
        if not self.dt > 0:
            raise IRError(f"{what}: dt = {self.dt:g} ms, the interval between new amplitudes, "
                          "must be positive")
        _check_window(self, what)
        _check_seed(self.seed, what)


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


# --------------------------------------------------------------------------- synapse dynamics


def _per_synapse(obj: object, names: tuple[tuple[str, Unit, dict], ...], what: str,
                 dtype: type = SYNAPSE_DTYPE) -> None:
    """Per-synapse parameters: one value for the whole projection, or one per synapse
    (checked against the projection's size when it is built)."""
    for name, unit, limits in names:
        arr = np.asarray(getattr(obj, name))
        arr = _frozen_array(arr.reshape(1) if arr.ndim == 0 else arr, dtype,
                            what=f"{what} {name}")
        check_range(arr, what=f"{what} {name}", unit=unit, **limits)
        _set(obj, name, arr)


_USE = {"low": 0.0, "high": 1.0}


# the use, recovery and facilitation of the deterministic and the stochastic
# Tsodyks-Markram synapse: names, units and allowed ranges
_TM_PARAMETERS = (("U", Unit.DIMENSIONLESS, _USE), ("tau_rec", Unit.MS, _POS),
                  ("tau_facil", Unit.MS, _NONNEG), ("u", Unit.DIMENSIONLESS, _USE))


@dataclass(frozen=True, eq=False)
class TsodyksMarkram(_Value):
    """Short-term depression and facilitation (PyNN's TsodyksMarkramSynapse), the
    three-state model of Tsodyks, Uziel and Markram (2000) that NEST's tsodyks_synapse and
    pyNN.neuron's TsodyksMarkramWA run: resources recover with ``tau_rec`` (ms) through an
    inactive state fed by the active one, which decays with the post receptor's tau_syn;
    the use u facilitates with ``tau_facil`` (0: u = U at every spike).  A spike delivers
    weight * u * x.  One value per projection, or one per synapse; ``u`` is the use the
    synapse starts with (PyNN's initial value, 0)."""

    U: np.ndarray
    tau_rec: np.ndarray  # ms
    tau_facil: np.ndarray  # ms
    u: np.ndarray = 0.0  # type: ignore[assignment]

    kind: ClassVar[str] = "tsodyks_markram"

    def __post_init__(self) -> None:
        _per_synapse(self, _TM_PARAMETERS, "TsodyksMarkram")


@dataclass(frozen=True, eq=False)
class SimpleStochastic(_Value):
    """Each spike is transmitted with probability ``p`` (PyNN's SimpleStochasticSynapse,
    NEST's bernoulli_synapse)."""

    p: np.ndarray

    kind: ClassVar[str] = "simple_stochastic"

    def __post_init__(self) -> None:
        _per_synapse(self, (("p", Unit.DIMENSIONLESS, _USE),), "SimpleStochastic")


@dataclass(frozen=True, eq=False)
class StochasticTsodyksMarkram(_Value):
    """Stochastic release from one site (PyNN's StochasticTsodyksMarkramSynapse, Fuhrmann
    et al. 2002): an empty site refills with rate 1/tau_rec; a full one releases with
    probability u (facilitating as in TsodyksMarkram) and then delivers the whole weight;
    every site starts full, with use ``u``."""

    U: np.ndarray
    tau_rec: np.ndarray  # ms
    tau_facil: np.ndarray  # ms
    u: np.ndarray = 0.0  # type: ignore[assignment]

    kind: ClassVar[str] = "stochastic_tsodyks_markram"

    def __post_init__(self) -> None:
        _per_synapse(self, _TM_PARAMETERS, "StochasticTsodyksMarkram")


@dataclass(frozen=True, eq=False)
class MultiQuantal(_Value):
    """``n`` release sites (PyNN's MultiQuantalSynapse, NEST's quantal_stp_synapse): each
    empty site refills with probability 1 - exp(-dt/tau_rec) between spikes, each full one
    releases with probability u = U + u (1 - U) exp(-dt/tau_facil); a spike delivers
    weight * released / n.  It starts with use ``u`` and ``a`` sites available (NEST's
    state names; a < 0 means all n)."""

    U: np.ndarray
    n: np.ndarray
    tau_rec: np.ndarray  # ms
    tau_facil: np.ndarray  # ms
    u: np.ndarray = 0.0  # type: ignore[assignment]
    a: np.ndarray = -1  # type: ignore[assignment]

    kind: ClassVar[str] = "multi_quantal"

    def __post_init__(self) -> None:
        _per_synapse(self, (("U", Unit.DIMENSIONLESS, _USE), ("tau_rec", Unit.MS, _POS),
                            ("tau_facil", Unit.MS, _NONNEG), ("u", Unit.DIMENSIONLESS, _USE)),
                     "MultiQuantal")
        for name, low in (("n", 1), ("a", -1)):
            arr = np.asarray(getattr(self, name))
            arr = arr.reshape(1) if arr.ndim == 0 else arr
            if arr.size and (not np.all(np.equal(np.mod(arr, 1), 0)) or arr.min() < low):
                raise IRError(f"MultiQuantal {name}: a number of release sites must be a "
                              f"whole number >= {max(low, 0)}")
            _set(self, name, _frozen_array(arr, INDEX_DTYPE, what=f"MultiQuantal {name}"))
        if self.a.size and np.any(np.broadcast_arrays(self.a, self.n)[0]
                                  > np.broadcast_arrays(self.a, self.n)[1]):
            raise IRError("MultiQuantal a: more sites available than there are (n)")


SynapseDynamics = TsodyksMarkram | SimpleStochastic | StochasticTsodyksMarkram | MultiQuantal
SYNAPSE_DYNAMICS: tuple[type, ...] = (TsodyksMarkram, SimpleStochastic,
                                      StochasticTsodyksMarkram, MultiQuantal)


def per_synapse_parameters(dynamics: object) -> tuple[str, ...]:
    """The per-synapse parameter fields of a synapse-dynamics value."""
    return tuple(f.name for f in dataclasses.fields(dynamics))  # type: ignore[arg-type]


# --------------------------------------------------------------------------- plasticity


class WeightDependence(str, enum.Enum):
    """How the size of an STDP step depends on the weight (PyNN's weight dependences)."""

    ADDITIVE = "additive"
    MULTIPLICATIVE = "multiplicative"
    ADDITIVE_POTENTIATION_MULTIPLICATIVE_DEPRESSION = \
        "additive-potentiation-multiplicative-depression"
    GUTIG = "gutig"

    def exponents(self, mu_plus: float | None, mu_minus: float | None) -> tuple[float, float]:
        """(mu_plus, mu_minus) of the one formula all four share (see STDPRule)."""
        return {
            WeightDependence.ADDITIVE: (0.0, 0.0),
            WeightDependence.MULTIPLICATIVE: (1.0, 1.0),
            WeightDependence.ADDITIVE_POTENTIATION_MULTIPLICATIVE_DEPRESSION: (0.0, 1.0),
        }.get(self, (mu_plus, mu_minus))  # type: ignore[arg-type]


def _check_dendritic(obj: object, what: str) -> None:
    f = float(obj.dendritic_delay_fraction)  # type: ignore[attr-defined]
    if not 0.0 <= f <= 1.0:
        raise IRError(f"{what}: dendritic_delay_fraction = {f:g} must be in [0, 1] (0: all "
                      "delay axonal, 1: all dendritic)")
    _set(obj, "dendritic_delay_fraction", f)


@dataclass(frozen=True, eq=False)
class STDPRule(_Value):
    """Pair-based STDP (PyNN's SpikePairRule) with a weight dependence.

    All-to-all pairing with exponential traces x (pre) and y (post): a post spike adds
    ``A_plus * w_max**(1 - mu_plus) * (w_max - w)**mu_plus * x`` to w, a pre spike
    subtracts ``A_minus * w_max**(1 - mu_minus) * (w - w_min)**mu_minus * y``; additive is
    mu = (0, 0), multiplicative (1, 1), additive potentiation with multiplicative depression
    (0, 1), Gutig any (mu_plus, mu_minus).  For w_min = 0 this is NEST's stdp_synapse; the
    additive rule is pyNN.brian2's.  Weights stay in [w_min, w_max].

    ``dendritic_delay_fraction`` f splits each synaptic delay d: the rule sees a pre spike
    (1 - f) d after it was emitted and a post spike f d after it (f = 1 is pyNN.nest's
    semantics, f = 0 pyNN.brian2's).
    """

    tau_plus: float = 20.0
    tau_minus: float = 20.0
    A_plus: float = 0.01
    A_minus: float = 0.01
    w_min: float = 0.0
    w_max: float = 1.0
    weight_dependence: WeightDependence = WeightDependence.ADDITIVE
    mu_plus: float | None = None  # Gutig only
    mu_minus: float | None = None  # Gutig only
    dendritic_delay_fraction: float = 0.0

    kind: ClassVar[str] = "stdp_rule"

    def __post_init__(self) -> None:
        try:
            _set(self, "weight_dependence", WeightDependence(self.weight_dependence))
        except ValueError:
            allowed = ", ".join(f"'{w.value}'" for w in WeightDependence)
            raise IRError(
                f"STDPRule weight_dependence '{self.weight_dependence}' is not supported; "
                f"use one of {allowed}"
            ) from None
        for name in ("tau_plus", "tau_minus"):
            check_range(np.asarray([getattr(self, name)]), what=f"STDPRule {name}", unit=Unit.MS,
                        low=0.0, low_inclusive=False)
        for name in ("A_plus", "A_minus"):
            check_range(np.asarray([getattr(self, name)]), what=f"STDPRule {name}",
                        unit=Unit.DIMENSIONLESS, low=0.0)
        _check_bounds(self, "STDPRule")
        gutig = self.weight_dependence is WeightDependence.GUTIG
        for name in ("mu_plus", "mu_minus"):
            value = getattr(self, name)
            if gutig and value is None:
                raise IRError(f"STDPRule: the gutig weight dependence needs {name}")
            if not gutig and value is not None:
                raise IRError(f"STDPRule: {name} is a parameter of the gutig weight "
                              f"dependence, not of {self.weight_dependence.value}; leave it None")
            if value is not None:
                check_range(np.asarray([value]), what=f"STDPRule {name}",
                            unit=Unit.DIMENSIONLESS, low=0.0)
                _set(self, name, float(value))
        _check_dendritic(self, "STDPRule")
        for name in ("tau_plus", "tau_minus", "A_plus", "A_minus"):
            _set(self, name, float(getattr(self, name)))

    @property
    def exponents(self) -> tuple[float, float]:
        return self.weight_dependence.exponents(self.mu_plus, self.mu_minus)


def _check_bounds(rule: object, what: str) -> None:
    check_finite(np.asarray([rule.w_min, rule.w_max]), what=f"{what} w_min/w_max")  # type: ignore[attr-defined]
    if rule.w_max < rule.w_min:  # type: ignore[attr-defined]
        raise IRError(f"{what}: w_max = {rule.w_max:g} is below w_min = {rule.w_min:g}")  # type: ignore[attr-defined]
    _set(rule, "w_min", float(rule.w_min))  # type: ignore[attr-defined]
    _set(rule, "w_max", float(rule.w_max))  # type: ignore[attr-defined]


@dataclass(frozen=True, eq=False)
class Vogels2011Rule(_Value):
    """Inhibitory STDP of Vogels et al. (2011) (PyNN's Vogels2011Rule, NEST's
    vogels_sprekeler_synapse): traces x (pre), y (post) decay with ``tau`` (ms); a pre spike
    adds ``eta * (y - alpha)`` with alpha = 2 rho tau / 1000 (rho, the target rate, in Hz),
    a post spike adds ``eta * x``; weights stay in [w_min, w_max] (additive bounds, the only
    weight dependence the rule is defined with).  ``dendritic_delay_fraction`` as in
    STDPRule."""

    tau: float = 20.0
    eta: float = 1e-10
    rho: float = 3.0
    w_min: float = 0.0
    w_max: float = 1.0
    dendritic_delay_fraction: float = 0.0

    kind: ClassVar[str] = "vogels2011_rule"

    def __post_init__(self) -> None:
        check_range(np.asarray([self.tau]), what="Vogels2011Rule tau", unit=Unit.MS, low=0.0,
                    low_inclusive=False)
        check_range(np.asarray([self.eta]), what="Vogels2011Rule eta", unit=Unit.DIMENSIONLESS,
                    low=0.0)
        check_range(np.asarray([self.rho]), what="Vogels2011Rule rho", unit=Unit.HZ, low=0.0)
        _check_bounds(self, "Vogels2011Rule")
        _check_dendritic(self, "Vogels2011Rule")
        for name in ("tau", "eta", "rho"):
            _set(self, name, float(getattr(self, name)))

    @property
    def alpha(self) -> float:
        return 2.0 * self.rho * self.tau / 1000.0


Plasticity = STDPRule | Vogels2011Rule


# --------------------------------------------------------------------------- projections


@dataclass(frozen=True, eq=False)
class Projection(_Value):
    """Synapses from ``pre`` to ``post``, one entry per synapse.

    Per-synapse arrays are int32 (indices) and float32 (weight, delay); see SYNAPSE_DTYPE.
    ``weight`` is in the post receptor's unit (nA for current-based synapses, uS for
    conductance-based ones, mV for the voltage jumps of IF_curr_delta and Izhikevich) with
    PyNN's sign convention: conductances are positive; a current-based inhibitory weight is
    negative.  ``delay`` is in ms.  ``receptor`` is "excitatory" or "inhibitory", or the
    name of a receptor of a composed post population.  ``plasticity`` (STDP) and
    ``dynamics`` (short-term plasticity, stochastic release) exclude each other, as in PyNN.
    """

    label: str
    pre: str
    post: str
    pre_index: np.ndarray
    post_index: np.ndarray
    weight: np.ndarray
    delay: np.ndarray
    receptor: Receptor | str = Receptor.EXCITATORY
    plasticity: Plasticity | None = None
    dynamics: SynapseDynamics | None = None

    kind: ClassVar[str] = "projection"

    def __post_init__(self) -> None:
        _check_label(self.label, "Projection")
        what = f"Projection '{self.label}'"
        if isinstance(self.receptor, str) and self.receptor in {r.value for r in Receptor}:
            _set(self, "receptor", Receptor(self.receptor))
        elif not isinstance(self.receptor, str) or not self.receptor.isidentifier():
            raise IRError(
                f"{what}: receptor {self.receptor!r} is not supported; use 'excitatory', "
                "'inhibitory' or the name of a receptor of a composed post population"
            )
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
        if self.plasticity is not None and not isinstance(self.plasticity,
                                                          (STDPRule, Vogels2011Rule)):
            raise IRError(f"{what}: plasticity must be an STDPRule, a Vogels2011Rule or None")
        if self.dynamics is not None:
            if not isinstance(self.dynamics, SYNAPSE_DYNAMICS):
                names = ", ".join(c.__name__ for c in SYNAPSE_DYNAMICS)
                raise IRError(f"{what}: dynamics must be one of {names}, or None")
            if self.plasticity is not None:
                raise IRError(f"{what}: has both STDP and {type(self.dynamics).__name__} "
                              "dynamics; a PyNN synapse type has one or the other")
            for name in per_synapse_parameters(self.dynamics):
                size = getattr(self.dynamics, name).size
                if size not in (1, n):
                    raise IRError(f"{what}: {type(self.dynamics).__name__} {name} has {size} "
                                  f"values for {n} synapses; give one or one per synapse")
        _set(self, "pre_index", pre)
        _set(self, "post_index", post)
        _set(self, "weight", weight)
        _set(self, "delay", delay)

    @property
    def size(self) -> int:
        return int(self.pre_index.size)


@dataclass(frozen=True, eq=False)
class Recording(_Value):
    """A request to record ``variable`` ("spikes", or a state variable) of ``target[indices]``;
    a current source's injected current is its variable "i" (indices [0])."""

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


SpikeSource = (PoissonSource | ArraySource | GammaSource | PoissonRefractorySource
               | InhGammaSource)
SPIKE_SOURCES: tuple[type, ...] = (PoissonSource, ArraySource, GammaSource,
                                   PoissonRefractorySource, InhGammaSource)
CurrentSource = DCSource | StepCurrentSource | ACSource | NoisyCurrentSource
CURRENT_SOURCES: tuple[type, ...] = (DCSource, StepCurrentSource, ACSource, NoisyCurrentSource)
# the current a current source injects, as a recordable variable (nA)
CURRENT_VARIABLE = "i"


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
        currents: dict[str, CurrentSource] = {}
        for cur in self.currents:
            what = f"{type(cur).__name__} '{cur.label}'"
            if cur.label in currents or cur.label in nodes:
                raise IRError(f"{what}: the label is used twice; labels must be unique")
            currents[cur.label] = cur
            target = self._neuron_target(cur.target, what)
            _check_indices_below(cur.indices, target.size, f"{what} indices")
        for rec in self.recordings:
            self._check_recording(rec, nodes, currents)

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
        receptor = proj.receptor.value if isinstance(proj.receptor, Receptor) else proj.receptor
        if receptor not in post.receptor_names:
            have = ", ".join(post.receptor_names) or "none"
            raise IRError(
                f"{what}: population '{post.label}' ({post.cell_type.value}) has no receptor "
                f"'{receptor}'; its receptors are: {have}"
            )
        if proj.delay.size and proj.delay.min() < self.dt * (1 - 1e-9):
            i = int(np.argmin(proj.delay))
            raise IRError(
                f"{what} delay[{i}] = {proj.delay[i]:g} ms is shorter than the timestep "
                f"dt = {self.dt:g} ms; the minimum delay is one timestep"
            )
        if post.conductance_receptor(receptor) and proj.weight.size and proj.weight.min() < 0:
            i = int(np.argmin(proj.weight))
            raise IRError(
                f"{what} weight[{i}] = {proj.weight[i]:g} uS is negative; conductance-based "
                f"population '{post.label}' needs weights >= 0 (use receptor 'inhibitory')"
            )

    def _check_recording(self, rec: Recording, nodes: Mapping[str, object],
                         currents: Mapping[str, object]) -> None:
        what = f"Recording of '{rec.target}'"
        node = nodes.get(rec.target)
        if node is None and rec.target in currents:
            if rec.variable != CURRENT_VARIABLE:
                raise IRError(f"{what}: a current source records its current "
                              f"'{CURRENT_VARIABLE}', not '{rec.variable}'")
            _check_indices_below(rec.indices, 1, f"{what} indices")
            return
        if node is None:
            known = ", ".join((*nodes, *currents))
            raise IRError(f"{what}: '{rec.target}' does not exist (known: {known})")
        allowed = ("spikes",) + (node.state_variables if isinstance(node, Population) else ())
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

    def current(self, label: str) -> CurrentSource:
        for c in self.currents:
            if c.label == label:
                return c
        raise KeyError(f"no current source labelled '{label}'")

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


def _check_known(given: Mapping[str, object], known: Mapping[str, object], what: str,
                 kind: str) -> None:
    unknown = set(given) - set(known)
    if unknown:
        raise IRError(f"{what} has no {kind} '{sorted(unknown)[0]}'; its {kind}s are: "
                      f"{', '.join(known) or 'none'}")


def _per_neuron(value: object, size: int, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full(size, float(arr))
    if arr.shape != (size,):
        raise IRError(f"{what}: expected one value or {size} values, got shape {arr.shape}")
    arr = arr.copy()
    arr.setflags(write=False)
    return arr


def _per_neuron_vector(value: object, size: int, what: str) -> np.ndarray:
    """A parameter with k values per neuron: k values for all, or a (size, k) array."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 1 and arr.size >= 1:
        arr = np.broadcast_to(arr, (size, arr.size))
    if arr.ndim != 2 or arr.shape[0] != size or arr.shape[1] < 1:
        raise IRError(f"{what}: expected k values (shared) or a ({size}, k) array, got shape "
                      f"{arr.shape}")
    arr = np.array(arr)
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


_POWERS_OF_TEN = np.array([float(f"1e{k}") for k in range(23)])  # all exact in float64


def as_given(values: np.ndarray) -> np.ndarray:
    """float32 synapse values as float64, through the shortest decimal that identifies each
    float32 (what ``repr`` of a float32 prints).

    The IR stores weights, delays and per-synapse parameters as float32 (7 significant
    digits, see SYNAPSE_DTYPE).  A value a user typed with up to 7 significant digits
    (0.015, 0.543) comes back exactly as typed instead of as 0.014999999664723873; any other
    value comes back within half a float32 step, as the plain float32 would.
    """
    single = np.asarray(values, dtype=np.float32)
    out = single.astype(np.float64)
    finite = np.isfinite(out) & (out != 0)
    if not finite.any():
        return out
    x = out[finite]
    best = x.copy()
    todo = np.arange(x.size)
    exponent = np.floor(np.log10(np.abs(x))).astype(np.int64)
    for digits in range(1, 10):  # 9 significant digits always identify a float32
        scale = digits - 1 - exponent[todo]
        ok = np.abs(scale) <= 22  # powers of ten that are exact in float64
        todo, scale = todo[ok], scale[ok]
        power = _POWERS_OF_TEN[np.abs(scale)]
        v = x[todo]
        candidate = np.where(scale >= 0, np.rint(v * power) / power,
                             np.rint(v / power) * power)
        hit = candidate.astype(np.float32) == v.astype(np.float32)
        best[todo[hit]] = candidate[hit]
        todo = todo[~hit]
        if todo.size == 0:
            break
    out[finite] = best
    return out


NODE_TYPES: tuple[type, ...] = (
    Population, PostSynapticResponse, PoissonSource, ArraySource, GammaSource,
    PoissonRefractorySource, InhGammaSource, DCSource, StepCurrentSource, ACSource,
    NoisyCurrentSource, TsodyksMarkram, SimpleStochastic, StochasticTsodyksMarkram,
    MultiQuantal, STDPRule, Vogels2011Rule, Projection, Recording, Network,
)


# weight dependences added after the targets' learning engines were written; each target
# still refuses the older ones it lacks itself
_NEWER_RULES = (WeightDependence.ADDITIVE_POTENTIATION_MULTIPLICATIVE_DEPRESSION,
                WeightDependence.GUTIG)


def refusals(network: Network, target: str, *,
             stdp: Collection[WeightDependence] | None = None,
             currents: tuple[type, ...] = (DCSource, StepCurrentSource),
             dynamics: tuple[type, ...] = (), dendritic: bool = False,
             vogels: bool = False) -> list[str]:
    """What in ``network`` a target cannot run, one message each, naming the projection or
    current source: short-term dynamics and stochastic release, STDP (any, or the weight
    dependences not in ``stdp``, the Vogels2011 rule, a dendritic part of the delay) and
    current sources other than ``currents``.  Hardware targets call it where they check a
    network, so that nothing the IR can express is silently dropped by a target.
    ``stdp`` lists the weight dependences a target's learning engine runs (None: no
    on-chip learning); ``dynamics`` the synapse dynamics it runs (none by default);
    ``dendritic`` whether its learning places pre and post spikes by a dendritic part of
    the delay (by default it sees pre spikes after the whole delay); ``vogels`` whether it
    runs the Vogels2011 rule."""
    out = []
    for proj in network.projections:
        what = f"Projection '{proj.label}'"
        if proj.dynamics is not None and not isinstance(proj.dynamics, dynamics):
            out.append(f"{what}: {type(proj.dynamics).__name__} synapses (short-term "
                       f"plasticity or stochastic release) are not modelled on {target}; use "
                       "a StaticSynapse for this target, or the reference target")
        rule = proj.plasticity
        if rule is None:
            continue
        if stdp is None:
            out.append(f"{what}: STDP is not modelled on {target}; remove its plasticity or "
                       "use the reference target")
        elif isinstance(rule, Vogels2011Rule) and not vogels:
            out.append(f"{what}: the Vogels2011 STDP rule is not modelled on {target}; its "
                       "learning engine runs the pair rule only")
        else:
            if isinstance(rule, STDPRule) and rule.weight_dependence not in stdp \
                    and rule.weight_dependence in _NEWER_RULES:
                have = ", ".join(f"'{w.value}'" for w in stdp)
                out.append(f"{what}: STDP weight dependence '{rule.weight_dependence.value}' "
                           f"is not modelled on {target}; use {have}")
            if rule.dendritic_delay_fraction != 0 and not dendritic:
                out.append(
                    f"{what}: STDP with dendritic_delay_fraction = "
                    f"{rule.dendritic_delay_fraction:g} is not modelled on {target}, whose "
                    "learning sees pre spikes after the whole delay; use "
                    "dendritic_delay_fraction=0")
    for cur in network.currents:
        if not isinstance(cur, currents):
            have = ", ".join(c.__name__ for c in currents) or "none"
            out.append(f"{type(cur).__name__} '{cur.label}': this current source is not "
                       f"modelled on {target} (current sources it runs: {have})")
    return out
