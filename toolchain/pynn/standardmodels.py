"""PyNN's standard cell, synapse and current-source types, as spikeport supports them.

The IR stores PyNN's own units (ms, mV, nA, nF, uS, Hz, ...), so every translation is the
identity: the declarative tables below are where a unit conversion would go if a target
ever wanted native units, and they list exactly which parameters reach the IR.  Each
class keeps PyNN's own name, default parameters and recordables; the IR
(``toolchain.ir.network``) says what each one means and validates it.
"""

from __future__ import annotations

from copy import deepcopy

import numpy as np
from pyNN import errors
from pyNN.parameters import ParameterSpace, Sequence
from pyNN.standardmodels import build_translations, cells, electrodes, receptors, synapses
from pyNN.standardmodels.base import ModelNotAvailable

from toolchain.pynn.simulator import state


def _same_names(*names: str) -> dict:
    return build_translations(*((name, name) if name.isidentifier() else _passthrough(name)
                                for name in names))


def _passthrough(name: str) -> tuple:
    """An identity translation for a dotted name ("AMPA.tau_syn"), which PyNN's string
    transforms cannot evaluate."""
    def forward(**parameters: object) -> object:
        return parameters[name]

    return (name, name, forward, forward)


def _identity(cls: type) -> dict:
    """Identity translations for every parameter of a PyNN standard model."""
    return _same_names(*(name for name in cls.default_parameters if name != "locations"))


# --------------------------------------------------------------------------- cells


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__
    translations = _identity(cells.IF_curr_exp)
    # The IR keeps the synaptic currents as state, so they can be recorded too.
    recordable = ["spikes", "v", "isyn_exc", "isyn_inh"]


class IF_curr_alpha(cells.IF_curr_alpha):
    __doc__ = cells.IF_curr_alpha.__doc__
    translations = _identity(cells.IF_curr_alpha)
    recordable = ["spikes", "v", "isyn_exc", "isyn_inh"]


class IF_curr_delta(cells.IF_curr_delta):
    __doc__ = cells.IF_curr_delta.__doc__
    translations = _identity(cells.IF_curr_delta)


class IF_cond_exp(cells.IF_cond_exp):
    __doc__ = cells.IF_cond_exp.__doc__
    translations = _identity(cells.IF_cond_exp)


class IF_cond_alpha(cells.IF_cond_alpha):
    __doc__ = cells.IF_cond_alpha.__doc__
    translations = _identity(cells.IF_cond_alpha)


class IF_cond_exp_gsfa_grr(cells.IF_cond_exp_gsfa_grr):
    __doc__ = cells.IF_cond_exp_gsfa_grr.__doc__
    translations = _identity(cells.IF_cond_exp_gsfa_grr)


class EIF_cond_exp_isfa_ista(cells.EIF_cond_exp_isfa_ista):
    __doc__ = cells.EIF_cond_exp_isfa_ista.__doc__
    translations = _identity(cells.EIF_cond_exp_isfa_ista)


class EIF_cond_alpha_isfa_ista(cells.EIF_cond_alpha_isfa_ista):
    __doc__ = cells.EIF_cond_alpha_isfa_ista.__doc__
    translations = _identity(cells.EIF_cond_alpha_isfa_ista)


class HH_cond_exp(cells.HH_cond_exp):
    __doc__ = cells.HH_cond_exp.__doc__
    translations = _identity(cells.HH_cond_exp)
    recordable = ["spikes", "v", "gsyn_exc", "gsyn_inh", "m", "n", "h"]
    receptor_types = ("excitatory", "inhibitory")  # no gap junctions


class Izhikevich(cells.Izhikevich):
    __doc__ = cells.Izhikevich.__doc__
    translations = _identity(cells.Izhikevich)


class GIF_cond_exp(cells.GIF_cond_exp):
    __doc__ = cells.GIF_cond_exp.__doc__
    translations = _identity(cells.GIF_cond_exp)


class LIF(cells.LIF):
    __doc__ = cells.LIF.__doc__
    translations = _identity(cells.LIF)


class AdExp(cells.AdExp):
    __doc__ = cells.AdExp.__doc__
    translations = _identity(cells.AdExp)


# --------------------------------------------------------------------------- receptors


class _Response:
    """PyNN's post-synaptic responses of a PointNeuron; ``shape`` names the IR's."""

    shape: str
    recordable: list[str]


class CurrExpPostSynapticResponse(_Response, receptors.CurrExpPostSynapticResponse):
    __doc__ = receptors.CurrExpPostSynapticResponse.__doc__
    shape = "curr_exp"
    recordable = ["isyn"]


class CondExpPostSynapticResponse(_Response, receptors.CondExpPostSynapticResponse):
    __doc__ = receptors.CondExpPostSynapticResponse.__doc__
    shape = "cond_exp"
    recordable = ["gsyn"]


class CondAlphaPostSynapticResponse(_Response, receptors.CondAlphaPostSynapticResponse):
    __doc__ = receptors.CondAlphaPostSynapticResponse.__doc__
    shape = "cond_alpha"
    recordable = ["gsyn"]


class CondBetaPostSynapticResponse(_Response, receptors.CondBetaPostSynapticResponse):
    __doc__ = receptors.CondBetaPostSynapticResponse.__doc__
    shape = "cond_beta"
    recordable = ["gsyn"]


AlphaPSR = CondAlphaPostSynapticResponse
ExpPSR = CondExpPostSynapticResponse
RESPONSES = (CurrExpPostSynapticResponse, CondExpPostSynapticResponse,
             CondAlphaPostSynapticResponse, CondBetaPostSynapticResponse)


class PointNeuron(cells.PointNeuron):
    """A LIF or AdExp neuron with any number of named post-synaptic responses.

    Parameters are flat: the neuron's own and ``<receptor>.<parameter>`` (e.g.
    ``"AMPA.tau_syn"``), so ``get``, ``set`` and recording (``"AMPA.gsyn"``) address them as
    other backends do.
    """

    def __init__(self, neuron: LIF | AdExp, **post_synaptic_receptors: _Response) -> None:
        if not isinstance(neuron, (LIF, AdExp)):
            raise errors.InvalidModelError(
                f"PointNeuron: neuron {type(neuron).__name__} is not supported by spikeport; "
                "use LIF or AdExp (from this backend)")
        for name, psr in post_synaptic_receptors.items():
            if not isinstance(psr, RESPONSES):
                allowed = ", ".join(c.__name__ for c in RESPONSES)
                raise errors.InvalidModelError(
                    f"PointNeuron: receptor {name} is a {type(psr).__name__}, which spikeport "
                    f"does not support; use one of: {allowed} (from this backend)")
        super().__init__(neuron, **post_synaptic_receptors)
        flat = dict(neuron.parameter_space.items())
        self.translations = deepcopy(neuron.translations)
        for name, psr in post_synaptic_receptors.items():
            for key, value in psr.parameter_space.items():
                if key != "locations":
                    flat[f"{name}.{key}"] = value
                    self.translations.update(_same_names(f"{name}.{key}"))
        self.parameter_space = ParameterSpace(flat, self.get_schema(), shape=None)

    def get_schema(self) -> dict:
        schema = dict(self.neuron.get_schema())
        for name, psr in self.post_synaptic_receptors.items():
            for key in psr.default_parameters:
                if key != "locations":
                    schema[f"{name}.{key}"] = float
        return schema

    def get_parameter_names(self) -> list[str]:  # type: ignore[override]
        return list(self.get_schema())

    def has_parameter(self, name: str) -> bool:  # type: ignore[override]
        return name in self.get_schema()

    def get_native_names(self, *names: str) -> list[str]:
        return list(names) if names else self.get_parameter_names()

    def computed_parameters(self) -> list[str]:
        return []

    def computed_parameters_include(self, parameter_names: object) -> bool:
        return False

    @property
    def default_initial_values(self) -> dict:  # type: ignore[override]
        values = dict(self.neuron.default_initial_values)
        for name, psr in self.post_synaptic_receptors.items():
            for variable, value in psr.default_initial_values.items():
                values[f"{name}.{variable}"] = value
        return values


# --------------------------------------------------------------------------- sources


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    translations = _identity(cells.SpikeSourcePoisson)


class SpikeSourcePoissonRefractory(cells.SpikeSourcePoissonRefractory):
    __doc__ = cells.SpikeSourcePoissonRefractory.__doc__
    translations = _identity(cells.SpikeSourcePoissonRefractory)


class SpikeSourceGamma(cells.SpikeSourceGamma):
    __doc__ = cells.SpikeSourceGamma.__doc__
    translations = _identity(cells.SpikeSourceGamma)


class SpikeSourceInhGamma(cells.SpikeSourceInhGamma):
    __doc__ = cells.SpikeSourceInhGamma.__doc__
    translations = _identity(cells.SpikeSourceInhGamma)


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = _identity(cells.SpikeSourceArray)


CELL_TYPES = (IF_curr_exp, IF_curr_alpha, IF_curr_delta, IF_cond_exp, IF_cond_alpha,
              IF_cond_exp_gsfa_grr, EIF_cond_exp_isfa_ista, EIF_cond_alpha_isfa_ista,
              HH_cond_exp, Izhikevich, GIF_cond_exp, PointNeuron, SpikeSourcePoisson,
              SpikeSourcePoissonRefractory, SpikeSourceGamma, SpikeSourceInhGamma,
              SpikeSourceArray)


class _NotAvailable(ModelNotAvailable):
    """A PyNN standard model spikeport does not have (PyNN's convention for such models,
    so that star-importing scripts get this message instead of a NameError)."""

    why: str = ""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise NotImplementedError(
            f"{type(self).__name__} is not available on spikeport: {self.why}")


class IF_facets_hardware1(_NotAvailable):
    why = ("the FACETS stage-1 hardware neuron is a model of that chip, not one of "
           "spikeport's targets; use IF_cond_exp")


# --------------------------------------------------------------------------- currents


class _CurrentSource:
    """Parameters kept evaluated (sequences as arrays), and which cells the source feeds;
    the IR is built from that at run time.  A change of a parameter between runs is picked
    up by the next run."""

    def __init__(self, **parameters: object) -> None:
        self._parameters: dict[str, object] = {}
        self._targets: list = []
        self._recorded = False
        super().__init__(**parameters)  # type: ignore[call-arg]
        space = ParameterSpace(self.default_parameters, self.get_schema(), shape=(1,))
        space.update(**parameters)
        self.set_native_parameters(self.translate(space))
        state.current_sources.append(self)

    def inject_into(self, cells: object) -> None:
        targets = list(cells) if not hasattr(cells, "celltype") else [cells]
        for target in targets:
            celltype = getattr(target, "celltype", None)
            if celltype is not None and not celltype.injectable:
                raise TypeError(
                    f"{type(self).__name__}: cannot inject current into "
                    f"{getattr(target, 'label', target)}, a spike source")
        self._targets.append(cells)
        state.changed(f"the targets of {type(self).__name__}")

    def get_native_parameters(self) -> ParameterSpace:
        return ParameterSpace(dict(self._parameters))

    def set_native_parameters(self, parameters: ParameterSpace) -> None:
        parameters.shape = (1,)
        parameters.evaluate(simplify=True)
        values = {name: (np.asarray(value.value, dtype=float) if isinstance(value, Sequence)
                         else value) for name, value in parameters.items()}
        self._check(values)
        self._parameters.update(values)
        state.changed(f"the parameters of {type(self).__name__}")

    def _check(self, values: dict[str, object]) -> None:
        """Refuse what the IR would refuse, when it is set (as other backends do)."""

    def record(self) -> None:
        self._recorded = True
        state.changed(f"recording of {type(self).__name__}")

    def _get_data(self) -> tuple[np.ndarray, np.ndarray]:
        from toolchain.pynn.recording import current_trace

        return current_trace(self)


class DCSource(_CurrentSource, electrodes.DCSource):
    __doc__ = electrodes.DCSource.__doc__
    translations = _identity(electrodes.DCSource)


class ACSource(_CurrentSource, electrodes.ACSource):
    __doc__ = electrodes.ACSource.__doc__
    translations = _identity(electrodes.ACSource)


class NoisyCurrentSource(_CurrentSource, electrodes.NoisyCurrentSource):
    __doc__ = electrodes.NoisyCurrentSource.__doc__
    translations = _identity(electrodes.NoisyCurrentSource)

    def __init__(self, rng: object = None, **parameters: object) -> None:
        # a seeded rng (NumpyRNG, NativeRNG) seeds the realisation; otherwise the
        # network's seed and the source's place in the script do
        self.rng = rng
        super().__init__(**parameters)


class StepCurrentSource(_CurrentSource, electrodes.StepCurrentSource):
    """A step-wise time-varying current source: ``amplitudes[k]`` from ``times[k]`` on.

    As pyNN.brian2 and pyNN.neuron do, times must be >= 0 and increasing; they are rounded
    to the timestep, and of several times that round to one step the last one given wins.
    """

    translations = _identity(electrodes.StepCurrentSource)

    def _check(self, values: dict[str, object]) -> None:
        if "times" not in values:
            return
        times = np.asarray(values["times"], dtype=float)
        amplitudes = np.asarray(values.get("amplitudes", self._parameters.get("amplitudes")),
                                dtype=float)
        if times.size != amplitudes.size:
            raise errors.InvalidParameterValueError(
                f"StepCurrentSource: {times.size} times but {amplitudes.size} amplitudes; "
                "give one amplitude per time")
        if np.any(times < 0):
            raise ValueError("StepCurrentSource: times must be >= 0, got "
                             f"{times[times < 0][0]:g} ms")
        if np.any(np.diff(times) <= 0):
            raise ValueError("StepCurrentSource: times must be strictly increasing")
        dt = state.dt
        rounded = np.rint(times / dt) * dt
        unique, last = np.unique(rounded[::-1], return_index=True)
        values["times"] = unique
        values["amplitudes"] = amplitudes[::-1][last]


CURRENT_SOURCES = (DCSource, ACSource, NoisyCurrentSource, StepCurrentSource)


# --------------------------------------------------------------------------- synapses


class _MinimumDelay:
    """A synapse type's default delay: setup()'s min_delay, or dt for "auto"."""

    def _get_minimum_delay(self) -> float:
        return state.min_delay_value


class StaticSynapse(_MinimumDelay, synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = _same_names("weight", "delay")


class TsodyksMarkramSynapse(_MinimumDelay, synapses.TsodyksMarkramSynapse):
    __doc__ = synapses.TsodyksMarkramSynapse.__doc__
    translations = _identity(synapses.TsodyksMarkramSynapse)


class SimpleStochasticSynapse(_MinimumDelay, synapses.SimpleStochasticSynapse):
    __doc__ = synapses.SimpleStochasticSynapse.__doc__
    translations = _identity(synapses.SimpleStochasticSynapse)


class StochasticTsodyksMarkramSynapse(_MinimumDelay, synapses.StochasticTsodyksMarkramSynapse):
    __doc__ = synapses.StochasticTsodyksMarkramSynapse.__doc__
    translations = _identity(synapses.StochasticTsodyksMarkramSynapse)


class MultiQuantalSynapse(_MinimumDelay, synapses.MultiQuantalSynapse):
    __doc__ = synapses.MultiQuantalSynapse.__doc__
    translations = _identity(synapses.MultiQuantalSynapse)


class ElectricalSynapse(_NotAvailable):
    why = ("gap junctions couple membrane potentials continuously, and spikeport's "
           "synapses carry spikes")


# the IR's name for each synapse type's dynamics, the parameters it takes from it and the
# state variables a script may initialise (Projection.initialize; NEST's names)
DYNAMIC_SYNAPSES = {
    TsodyksMarkramSynapse: ("TsodyksMarkram", ("U", "tau_rec", "tau_facil"), ("u",)),
    SimpleStochasticSynapse: ("SimpleStochastic", ("p",), ()),
    StochasticTsodyksMarkramSynapse: ("StochasticTsodyksMarkram",
                                      ("U", "tau_rec", "tau_facil"), ("u",)),
    MultiQuantalSynapse: ("MultiQuantal", ("U", "n", "tau_rec", "tau_facil"), ("u", "a")),
}


class AdditiveWeightDependence(synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__
    translations = _same_names("w_max", "w_min")


class MultiplicativeWeightDependence(synapses.MultiplicativeWeightDependence):
    __doc__ = synapses.MultiplicativeWeightDependence.__doc__
    translations = _same_names("w_max", "w_min")


class AdditivePotentiationMultiplicativeDepression(
        synapses.AdditivePotentiationMultiplicativeDepression):
    __doc__ = synapses.AdditivePotentiationMultiplicativeDepression.__doc__
    translations = _same_names("w_max", "w_min")


class GutigWeightDependence(synapses.GutigWeightDependence):
    __doc__ = synapses.GutigWeightDependence.__doc__
    translations = _same_names("w_max", "w_min", "mu_plus", "mu_minus")


class SpikePairRule(synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = _same_names("tau_plus", "tau_minus", "A_plus", "A_minus")


class Vogels2011Rule(synapses.Vogels2011Rule):
    __doc__ = synapses.Vogels2011Rule.__doc__
    translations = _same_names("tau", "eta", "rho")


WEIGHT_DEPENDENCES = {
    AdditiveWeightDependence: "additive",
    MultiplicativeWeightDependence: "multiplicative",
    AdditivePotentiationMultiplicativeDepression:
        "additive-potentiation-multiplicative-depression",
    GutigWeightDependence: "gutig",
}
TIMING_DEPENDENCES = (SpikePairRule, Vogels2011Rule)


class STDPMechanism(_MinimumDelay, synapses.STDPMechanism):
    """STDP as PyNN defines it, with any ``dendritic_delay_fraction`` in [0, 1]: the rule
    sees a pre spike after (1 - f) of the delay and a post spike after f of it (f = 1,
    PyNN's default, is pyNN.nest's semantics; pyNN.brian2 runs f = 0 only).  The
    Vogels2011Rule is defined with additive bounds only, as in NEST and NEURON."""

    __doc__ = synapses.STDPMechanism.__doc__
    base_translations = _same_names("weight", "delay", "dendritic_delay_fraction")

    def __init__(self, timing_dependence=None, weight_dependence=None, voltage_dependence=None,
                 dendritic_delay_fraction=1.0, weight=0.0, delay=None):
        if voltage_dependence is not None:
            raise ValueError("STDPMechanism: voltage_dependence is not supported; pass None")
        if not isinstance(timing_dependence, TIMING_DEPENDENCES):
            names = ", ".join(c.__name__ for c in TIMING_DEPENDENCES)
            raise ValueError(
                f"STDPMechanism: timing_dependence {type(timing_dependence).__name__} is not "
                f"supported; use {names} (from this backend)")
        allowed = (AdditiveWeightDependence,) if isinstance(timing_dependence, Vogels2011Rule) \
            else tuple(WEIGHT_DEPENDENCES)
        if not isinstance(weight_dependence, allowed):
            names = ", ".join(c.__name__ for c in allowed)
            raise ValueError(
                f"STDPMechanism: weight_dependence {type(weight_dependence).__name__} is not "
                f"supported with {type(timing_dependence).__name__}; use {names} (from this "
                "backend)")
        if not isinstance(dendritic_delay_fraction, (int, float)) \
                or not 0 <= dendritic_delay_fraction <= 1:
            raise ValueError(f"STDPMechanism: dendritic_delay_fraction = "
                             f"{dendritic_delay_fraction!r} must be a number in [0, 1]")
        super().__init__(timing_dependence, weight_dependence, voltage_dependence,
                         dendritic_delay_fraction, weight, delay)

    def _build_translations(self) -> None:
        # PyNN's version updates the class-level table in place; copy it so that two
        # mechanisms never share (and overwrite) each other's translations.
        self.translations = dict(self.base_translations)
        for component in (self.timing_dependence, self.weight_dependence):
            self.translations.update(component.translations)


SYNAPSE_TYPES = (StaticSynapse, STDPMechanism, *DYNAMIC_SYNAPSES)
