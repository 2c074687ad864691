"""PyNN's standard cell, synapse and current-source types, as spikeport supports them.

The IR stores PyNN's own units (ms, mV, nA, nF, uS, Hz), so every translation is the
identity: the declarative tables below are where a unit conversion would go if a target
ever wanted native units, and they list exactly which parameters reach the IR.
"""

from __future__ import annotations

from pyNN.standardmodels import build_translations, cells, electrodes, synapses

from toolchain.pynn.simulator import state


def _same_names(*names: str) -> dict:
    return build_translations(*((name, name) for name in names))


_LIF = ("v_rest", "cm", "tau_m", "tau_refrac", "tau_syn_E", "tau_syn_I", "i_offset",
        "v_reset", "v_thresh")


class IF_curr_exp(cells.IF_curr_exp):
    __doc__ = cells.IF_curr_exp.__doc__
    translations = _same_names(*_LIF)
    # The IR keeps the synaptic currents as state, so they can be recorded too.
    recordable = ["spikes", "v", "isyn_exc", "isyn_inh"]


class IF_curr_alpha(cells.IF_curr_alpha):
    __doc__ = cells.IF_curr_alpha.__doc__
    translations = _same_names(*_LIF)
    recordable = ["spikes", "v", "isyn_exc", "isyn_inh"]


class IF_cond_exp(cells.IF_cond_exp):
    __doc__ = cells.IF_cond_exp.__doc__
    translations = _same_names(*_LIF, "e_rev_E", "e_rev_I")


class SpikeSourcePoisson(cells.SpikeSourcePoisson):
    __doc__ = cells.SpikeSourcePoisson.__doc__
    translations = _same_names("rate", "start", "duration")


class SpikeSourceArray(cells.SpikeSourceArray):
    __doc__ = cells.SpikeSourceArray.__doc__
    translations = _same_names("spike_times")


class _CurrentSource:
    """Remembers which cells a source feeds; the IR is built from that at run time."""

    def inject_into(self, cells: object) -> None:
        state.current_sources.append((self, cells))
        state.changed()

    def set_parameters(self, copy: bool = True, **parameters: object) -> None:
        super().set_parameters(copy=copy, **parameters)  # type: ignore[misc]
        state.changed()


class DCSource(_CurrentSource, electrodes.DCSource):
    __doc__ = electrodes.DCSource.__doc__
    translations = _same_names("amplitude", "start", "stop")


class StepCurrentSource(_CurrentSource, electrodes.StepCurrentSource):
    __doc__ = electrodes.StepCurrentSource.__doc__
    translations = _same_names("amplitudes", "times")


def _minimum_delay() -> float:
    d = state.min_delay
    return state.dt if d == "auto" else d


class StaticSynapse(synapses.StaticSynapse):
    __doc__ = synapses.StaticSynapse.__doc__
    translations = _same_names("weight", "delay")

    def _get_minimum_delay(self) -> float:
        return _minimum_delay()


class STDPMechanism(synapses.STDPMechanism):
    __doc__ = synapses.STDPMechanism.__doc__
    base_translations = _same_names("weight", "delay", "dendritic_delay_fraction")

    def __init__(self, timing_dependence=None, weight_dependence=None, voltage_dependence=None,
                 dendritic_delay_fraction=1.0, weight=0.0, delay=None):
        # The targets' plasticity sees the presynaptic spike when it arrives and the
        # postsynaptic spike at once, i.e. the whole delay is axonal.  pyNN.brian2 makes
        # the same choice, so the two agree.
        if dendritic_delay_fraction != 0:
            raise ValueError(
                f"STDPMechanism: dendritic_delay_fraction = {dendritic_delay_fraction:g} is not "
                "supported; spikeport treats the whole synaptic delay as axonal for STDP. "
                "Pass dendritic_delay_fraction=0."
            )
        if voltage_dependence is not None:
            raise ValueError("STDPMechanism: voltage_dependence is not supported; pass None")
        for what, component, allowed in (
            ("timing_dependence", timing_dependence, (SpikePairRule,)),
            ("weight_dependence", weight_dependence,
             (AdditiveWeightDependence, MultiplicativeWeightDependence)),
        ):
            if not isinstance(component, allowed):
                names = ", ".join(c.__name__ for c in allowed)
                raise ValueError(
                    f"STDPMechanism: {what} {type(component).__name__} is not supported; "
                    f"use {names} (from this backend)"
                )
        super().__init__(timing_dependence, weight_dependence, voltage_dependence,
                         dendritic_delay_fraction, weight, delay)

    def _build_translations(self) -> None:
        # PyNN's version updates the class-level table in place; copy it so that two
        # mechanisms never share (and overwrite) each other's translations.
        self.translations = dict(self.base_translations)
        for component in (self.timing_dependence, self.weight_dependence):
            self.translations.update(component.translations)

    def _get_minimum_delay(self) -> float:
        return _minimum_delay()


class AdditiveWeightDependence(synapses.AdditiveWeightDependence):
    __doc__ = synapses.AdditiveWeightDependence.__doc__
    translations = _same_names("w_max", "w_min")


class MultiplicativeWeightDependence(synapses.MultiplicativeWeightDependence):
    __doc__ = synapses.MultiplicativeWeightDependence.__doc__
    translations = _same_names("w_max", "w_min")


class SpikePairRule(synapses.SpikePairRule):
    __doc__ = synapses.SpikePairRule.__doc__
    translations = _same_names("tau_plus", "tau_minus", "A_plus", "A_minus")


CELL_TYPES = (IF_curr_exp, IF_curr_alpha, IF_cond_exp, SpikeSourcePoisson, SpikeSourceArray)
