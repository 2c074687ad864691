"""Neuron kernels: how one population's state moves through one timestep.

The engine owns time, spikes, synapses and recording; a kernel owns the arithmetic of a
population's neurons.  Targets plug in their own kernels (Loihi's 24-bit integer CUBA LIF,
the FPGA core's Q-format LIF, ...) by implementing :class:`NeuronKernel`; the float64
reference kernels below are one implementation of it.

Update order inside a step follows Brian2's schedule (groups -> thresholds -> synapses ->
resets), which pyNN.brian2 runs on:

1. integrate the sub-threshold dynamics from t to t + dt with the synaptic state as it was
   at the start of the step (input that arrives in this step acts from the next one);
2. a neuron that is not refractory and has ``v > v_thresh`` spikes; its spike is stamped
   with the time t at the start of the step;
3. the engine hands the synaptic input arriving in this step to :meth:`NeuronKernel.receive`;
4. spiking neurons are reset and start their refractory period.

Steps 3 and 4 touch different variables, so a kernel may reset inside :meth:`advance`.
"""

from __future__ import annotations

import abc
import math
from typing import ClassVar

import numpy as np

from toolchain.ir import CellType, Population, Receptor
from toolchain.sim.clock import event_step


class StateError(ValueError):
    """A state variable that a kernel does not have, or values of the wrong shape."""


class NeuronKernel(abc.ABC):
    """The arithmetic of one population on one target.

    A kernel keeps its state in whatever representation its hardware uses; the engine
    only sees IR units through :meth:`get`/:meth:`set`, and the kernel's own input
    representation through :attr:`input_dtype` and :meth:`receive`.
    """

    #: dtype of the synaptic input the engine accumulates for this kernel in its delay
    #: ring buffers (float64 for the reference; an integer type for fixed-point targets).
    input_dtype: ClassVar[np.dtype] = np.dtype(np.float64)

    def __init__(self, population: Population, dt: float) -> None:
        self.population = population
        self.dt = dt

    @property
    def size(self) -> int:
        return self.population.size

    @abc.abstractmethod
    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        """Integrate one step, threshold and reset; return the indices of neurons that spiked.

        ``i_ext`` is the injected current (nA, one per neuron) during this step, or None
        when no current source targets the population.
        """

    @abc.abstractmethod
    def receive(self, receptor: Receptor, drive: np.ndarray) -> None:
        """Add the synaptic input arriving in this step (``input_dtype``, one per neuron)."""

    @abc.abstractmethod
    def get(self, variable: str) -> np.ndarray:
        """A state variable in IR units (a copy), for recording and for the user."""

    @abc.abstractmethod
    def set(self, variable: str, values: np.ndarray) -> None:
        """Overwrite a state variable given in IR units."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Back to the population's initial values, not refractory."""

    def _check_variable(self, variable: str) -> None:
        allowed = self.population.state_variables
        if variable not in allowed:
            raise StateError(
                f"Population '{self.population.label}': {self.population.cell_type.value} has "
                f"no state variable '{variable}'; its state variables are: {', '.join(allowed)}"
            )

    def _per_neuron(self, variable: str, values: np.ndarray) -> np.ndarray:
        arr = np.asarray(values, dtype=np.float64)
        if arr.ndim == 0:
            arr = np.full(self.size, float(arr))
        if arr.shape != (self.size,):
            raise StateError(
                f"Population '{self.population.label}' {variable}: expected one value or "
                f"{self.size} values, got shape {arr.shape}"
            )
        return arr


# ----------------------------------------------------------------- exact propagators

# Below this |x| the closed forms of phi1/phi2 lose digits to cancellation; the Taylor
# series truncated after the x^3 term is then exact to ~1e-14.
_SERIES_BELOW = 1e-3


def phi1(x: np.ndarray) -> np.ndarray:
    """(e^x - 1) / x, continuous through x = 0: the integral of e^(x s) over s in [0, 1]."""
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) < _SERIES_BELOW
    safe = np.where(small, 1.0, x)
    return np.where(small, 1 + x / 2 + x**2 / 6 + x**3 / 24, np.expm1(safe) / safe)


def phi2(x: np.ndarray) -> np.ndarray:
    """(x e^x - e^x + 1) / x^2, continuous through x = 0: the integral of s e^(x s) on [0, 1]."""
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) < _SERIES_BELOW
    safe = np.where(small, 1.0, x)
    closed = (safe * np.exp(safe) - np.expm1(safe)) / safe**2
    return np.where(small, 0.5 + x / 3 + x**2 / 8 + x**3 / 30, closed)


def exp_psc_propagator(h: float, tau_m: np.ndarray, tau_syn: np.ndarray,
                       cm: np.ndarray) -> np.ndarray:
    """Change of v (mV) after ``h`` ms caused by 1 nA of an exponentially decaying current.

    The solution of dv/dt = -v/tau_m + i/cm with i = e^(-t/tau_syn); written through phi1
    so that it stays exact when tau_syn equals tau_m (where the textbook formula divides
    by zero).
    """
    a = 1.0 / tau_m - 1.0 / tau_syn
    return h / cm * np.exp(-h / tau_m) * phi1(a * h)


def alpha_rise_propagator(h: float, tau_m: np.ndarray, tau_syn: np.ndarray,
                          cm: np.ndarray) -> np.ndarray:
    """Change of v (mV) after ``h`` ms caused by 1 nA in the rise variable y of an alpha
    current (dy/dt = -y/tau, di/dt = (e y - i)/tau, so i = e y0 (t/tau) e^(-t/tau))."""
    a = 1.0 / tau_m - 1.0 / tau_syn
    return math.e / (tau_syn * cm) * h * h * np.exp(-h / tau_m) * phi2(a * h)


# ----------------------------------------------------------------- float64 reference


class LIFKernel(NeuronKernel):
    """Float64 leaky integrate-and-fire with pyNN.brian2's threshold, reset and refractoriness.

    Refractoriness is Brian2's: after a spike in step k the membrane is clamped to v_reset
    while ``step - k < R`` with R = tau_refrac in whole steps (``timestep(tau_refrac, dt)``);
    synaptic state keeps evolving.  Variants override :meth:`_subthreshold` and
    :meth:`receive` only.
    """

    #: the kernel variable a receptor's input is added to
    input_variable: ClassVar[dict[Receptor, str]]

    def __init__(self, population: Population, dt: float) -> None:
        super().__init__(population, dt)
        p = population.parameters
        self._v_thresh = np.array(p["v_thresh"])
        self._v_reset = np.array(p["v_reset"])
        self._refrac = event_step(p["tau_refrac"], dt)
        self._always_active = bool(np.all(self._refrac <= 1))
        self.state: dict[str, np.ndarray] = {}
        self.reset()

    def reset(self) -> None:
        init = self.population.initial_values
        self.state = {name: np.array(init.get(name, 0.0), dtype=np.float64)
                      * np.ones(self.size) for name in self._all_variables()}
        # "long ago": never refractory at the start, without overflowing step - last
        self._last_spike = np.full(self.size, -(2**40), dtype=np.int64)
        self._refractory = np.zeros(0, dtype=np.intp)  # neurons that may still be clamped

    def _all_variables(self) -> tuple[str, ...]:
        return self.population.cell_type.state_variables

    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        v = self.state["v"]
        v_new = self._subthreshold(v, i_ext)
        # few neurons are refractory at a time: track them instead of masking everyone
        held = self._refractory
        if held.size:
            held = held[(step - self._last_spike[held]) < self._refrac[held]]
            v_new[held] = v[held]
            self._refractory = held
        self.state["v"] = v_new
        fired = (v_new > self._v_thresh).nonzero()[0]
        if fired.size:
            if held.size:  # a clamped neuron cannot fire, even if held above threshold
                fired = fired[(step - self._last_spike[fired]) >= self._refrac[fired]]
            v_new[fired] = self._v_reset[fired]
            self._last_spike[fired] = step
            if not self._always_active:
                self._refractory = np.concatenate([held, fired])
        return fired

    @abc.abstractmethod
    def _subthreshold(self, v: np.ndarray, i_ext: np.ndarray | None) -> np.ndarray:
        """New v after one step from the state at the step's start; advance synaptic state."""

    def receive(self, receptor: Receptor, drive: np.ndarray) -> None:
        self.state[self.input_variable[receptor]] += drive

    def get(self, variable: str) -> np.ndarray:
        self._check_variable(variable)
        return self.state[variable].copy()

    def set(self, variable: str, values: np.ndarray) -> None:
        self._check_variable(variable)
        self.state[variable][:] = self._per_neuron(variable, values)


class CurrExpKernel(LIFKernel):
    """IF_curr_exp integrated exactly: v and both exponential currents are a linear system,
    so one step is a fixed linear map (the propagator), as Brian2's 'exact' method does."""

    input_variable = {Receptor.EXCITATORY: "isyn_exc", Receptor.INHIBITORY: "isyn_inh"}

    def __init__(self, population: Population, dt: float) -> None:
        p = population.parameters
        h = dt
        self._p_mm = np.exp(-h / p["tau_m"])
        self._p_ee = np.exp(-h / p["tau_syn_E"])
        self._p_ii = np.exp(-h / p["tau_syn_I"])
        self._p_me = exp_psc_propagator(h, p["tau_m"], p["tau_syn_E"], p["cm"])
        self._p_mi = exp_psc_propagator(h, p["tau_m"], p["tau_syn_I"], p["cm"])
        # v relaxes towards v_rest + R (i_offset + i_ext); split the constant part off
        r_m = p["tau_m"] / p["cm"]
        self._drive0 = (1 - self._p_mm) * (p["v_rest"] + r_m * p["i_offset"])
        self._drive_ext = (1 - self._p_mm) * r_m
        super().__init__(population, dt)

    def _subthreshold(self, v: np.ndarray, i_ext: np.ndarray | None) -> np.ndarray:
        ie, ii = self.state["isyn_exc"], self.state["isyn_inh"]
        v_new = v * self._p_mm
        v_new += self._drive0
        v_new += self._p_me * ie
        v_new += self._p_mi * ii
        if i_ext is not None:
            v_new += self._drive_ext * i_ext
        ie *= self._p_ee
        ii *= self._p_ii
        return v_new


class CurrAlphaKernel(LIFKernel):
    """IF_curr_alpha integrated exactly (a linear system of v and, per receptor, the current
    and its rise variable; a weight enters the rise variable, so a single input of weight w
    peaks at w nA after tau_syn).

    The inhibitory current decays with tau_syn_I as PyNN defines it; pyNN.brian2 0.13
    uses tau_syn_E for both receptors (receptors.py, current_based_alpha_synapses), so
    Brian2 agrees with this kernel only when the two time constants are equal.
    """

    input_variable = {Receptor.EXCITATORY: "rise_exc", Receptor.INHIBITORY: "rise_inh"}

    def __init__(self, population: Population, dt: float) -> None:
        p = population.parameters
        h = dt
        self._p_mm = np.exp(-h / p["tau_m"])
        r_m = p["tau_m"] / p["cm"]
        self._drive0 = (1 - self._p_mm) * (p["v_rest"] + r_m * p["i_offset"])
        self._drive_ext = (1 - self._p_mm) * r_m
        self._syn = []
        for current, rise, tau in (("isyn_exc", "rise_exc", p["tau_syn_E"]),
                                   ("isyn_inh", "rise_inh", p["tau_syn_I"])):
            decay = np.exp(-h / tau)
            self._syn.append((
                current, rise, decay, decay * math.e * h / tau,
                exp_psc_propagator(h, p["tau_m"], tau, p["cm"]),
                alpha_rise_propagator(h, p["tau_m"], tau, p["cm"]),
            ))
        super().__init__(population, dt)

    def _all_variables(self) -> tuple[str, ...]:
        return (*super()._all_variables(), "rise_exc", "rise_inh")

    def _subthreshold(self, v: np.ndarray, i_ext: np.ndarray | None) -> np.ndarray:
        v_new = v * self._p_mm
        v_new += self._drive0
        if i_ext is not None:
            v_new += self._drive_ext * i_ext
        for current, rise, decay, rise_to_current, p_mi, p_my in self._syn:
            i, y = self.state[current], self.state[rise]
            v_new += p_mi * i
            v_new += p_my * y
            i *= decay
            i += rise_to_current * y
            y *= decay
        return v_new


class CondExpKernel(LIFKernel):
    """IF_cond_exp with Brian2's scheme, forward Euler on v and both conductances.

    The membrane equation multiplies a conductance by v, so it has no fixed propagator and
    Brian2's 'exact' method does not apply; pyNN.brian2 then falls back to 'euler'
    (brian2.stateupdaters: method_choice).  This is the reference's default so that the
    reference and Brian2 agree step for step.  Its error is first order in dt: about
    0.1 mV at dt = 0.1 ms when a synaptic conductance is as large as the leak (see
    :class:`CondExpMeanConductanceKernel` for a second-order scheme).
    """

    input_variable = {Receptor.EXCITATORY: "gsyn_exc", Receptor.INHIBITORY: "gsyn_inh"}

    def __init__(self, population: Population, dt: float) -> None:
        p = population.parameters
        self._g_leak = p["cm"] / p["tau_m"]
        self._cm = np.array(p["cm"])
        self._leak_drive = self._g_leak * p["v_rest"] + p["i_offset"]
        self._e_exc, self._e_inh = np.array(p["e_rev_E"]), np.array(p["e_rev_I"])
        self._p_ee = 1.0 - dt / p["tau_syn_E"]
        self._p_ii = 1.0 - dt / p["tau_syn_I"]
        super().__init__(population, dt)

    def _currents(self, ge: np.ndarray, gi: np.ndarray,
                  i_ext: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Total conductance (uS) and the current it would drive at v = 0 (nA)."""
        g_total = self._g_leak + ge + gi
        drive = self._leak_drive + ge * self._e_exc + gi * self._e_inh
        if i_ext is not None:
            drive = drive + i_ext
        return g_total, drive

    def _subthreshold(self, v: np.ndarray, i_ext: np.ndarray | None) -> np.ndarray:
        ge, gi = self.state["gsyn_exc"], self.state["gsyn_inh"]
        g_total, drive = self._currents(ge, gi, i_ext)
        v_new = v + self.dt / self._cm * (drive - g_total * v)
        ge *= self._p_ee
        gi *= self._p_ii
        return v_new


class CondExpMeanConductanceKernel(CondExpKernel):
    """IF_cond_exp, second order: the conductances decay exactly, and over one step v
    relaxes exactly towards the conductance-weighted reversal potential with each
    conductance held at its mean over the step, g tau/dt (1 - e^(-dt/tau)).  With the mean
    the decay rate of v integrates exactly; the scheme is unconditionally stable, exact for
    constant conductances and a few uV from a fine ODE solution where Euler is ~0.1 mV off.
    """

    def __init__(self, population: Population, dt: float) -> None:
        super().__init__(population, dt)
        p = population.parameters
        self._p_ee = np.exp(-dt / p["tau_syn_E"])
        self._p_ii = np.exp(-dt / p["tau_syn_I"])
        self._mean_e = -np.expm1(-dt / p["tau_syn_E"]) * p["tau_syn_E"] / dt
        self._mean_i = -np.expm1(-dt / p["tau_syn_I"]) * p["tau_syn_I"] / dt

    def _subthreshold(self, v: np.ndarray, i_ext: np.ndarray | None) -> np.ndarray:
        ge, gi = self.state["gsyn_exc"], self.state["gsyn_inh"]
        g_total, drive = self._currents(ge * self._mean_e, gi * self._mean_i, i_ext)
        v_inf = drive / g_total
        v_new = v_inf + (v - v_inf) * np.exp(-self.dt * g_total / self._cm)
        ge *= self._p_ee
        gi *= self._p_ii
        return v_new


REFERENCE_KERNELS: dict[CellType, type[LIFKernel]] = {
    CellType.IF_CURR_EXP: CurrExpKernel,
    CellType.IF_CURR_ALPHA: CurrAlphaKernel,
    CellType.IF_COND_EXP: CondExpKernel,
}
