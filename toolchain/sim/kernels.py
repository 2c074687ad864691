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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from toolchain.ir import CellType, Population, Receptor, ResponseShape
from toolchain.ir.network import IZHIKEVICH_PEAK, SynapseKind
from toolchain.sim.clock import event_step


class StateError(ValueError):
    """A state variable that a kernel does not have, or values of the wrong shape."""


class RunTimeChangeError(ValueError):
    """A change between runs that a simulator cannot apply to the running network."""


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
    def receive(self, receptor: Receptor | str, drive: np.ndarray) -> None:
        """Add the synaptic input arriving in this step (``input_dtype``, one per neuron);
        ``receptor`` is a Receptor or the name of a composed population's receptor."""

    @abc.abstractmethod
    def get(self, variable: str) -> np.ndarray:
        """A state variable in IR units (a copy), for recording and for the user."""

    @abc.abstractmethod
    def set(self, variable: str, values: np.ndarray) -> None:
        """Overwrite a state variable given in IR units."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Back to the population's initial values, not refractory."""

    def reconfigure(self, population: Population) -> None:
        """Take new parameters (and initial values, for the next reset) between runs,
        keeping the state.  Kernels whose arithmetic is fixed when the network is compiled
        (integer formats, shared hardware configurations) cannot, and say so."""
        raise RunTimeChangeError(
            f"Population '{self.population.label}': {type(self).__name__} cannot change its "
            "parameters at run time: its arithmetic was fixed when the network was compiled; "
            "call reset() before changing them, so that the next run compiles it anew"
        )

    def seed_noise(self, seed: int) -> None:
        """Seed a stochastic kernel's random stream (called once by the engine, with a seed
        derived from the network's seed and the population's label)."""
        return None

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


class _Reconfigurable(NeuronKernel):
    """A float kernel whose parameters are read in ``_configure``: new parameters between
    runs are configured again, the state kept."""

    @abc.abstractmethod
    def _configure(self) -> None:
        """Read the population's parameters into the kernel's arrays."""

    def reconfigure(self, population: Population) -> None:
        check_same_shape(self.population, population)
        self.population = population
        self._configure()


class LIFKernel(_Reconfigurable):
    """Float64 leaky integrate-and-fire with pyNN.brian2's threshold, reset and refractoriness.

    Refractoriness is Brian2's: after a spike in step k the membrane is clamped to v_reset
    while ``step - k < R`` with R = tau_refrac in whole steps (``timestep(tau_refrac, dt)``);
    synaptic state keeps evolving.  Variants override :meth:`_configure`,
    :meth:`_subthreshold` and :meth:`receive` only.
    """

    def __init__(self, population: Population, dt: float) -> None:
        super().__init__(population, dt)
        #: the kernel variable a receptor's input is added to
        self.input_variable: dict[Receptor | str, str] = {}
        self.state: dict[str, np.ndarray] = {}
        self._configure()
        self.reset()

    def _configure(self) -> None:
        """Derive the step's coefficients from ``self.population``'s parameters."""
        p = self.population.parameters
        self._v_thresh = np.array(p["v_thresh"])
        self._v_reset = np.array(p["v_reset"])
        self._refrac = event_step(p["tau_refrac"], self.dt)
        self._always_active = bool(np.all(self._refrac <= 1))


    def reset(self) -> None:
        init = self.population.initial_values
        self.state = {name: np.array(init.get(name, 0.0), dtype=np.float64)
                      * np.ones(self.size) for name in self._all_variables()}
        # "long ago": never refractory at the start, without overflowing step - last
        self._last_spike = np.full(self.size, -(2**40), dtype=np.int64)
        self._refractory = np.zeros(0, dtype=np.intp)  # neurons that may still be clamped

    def _all_variables(self) -> tuple[str, ...]:
        return self.population.state_variables

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

    def receive(self, receptor: Receptor | str, drive: np.ndarray) -> None:
        self.state[self.input_variable[receptor]] += drive

    def get(self, variable: str) -> np.ndarray:
        self._check_variable(variable)
        return self.state[variable].copy()

    def set(self, variable: str, values: np.ndarray) -> None:
        self._check_variable(variable)
        self.state[variable][:] = self._per_neuron(variable, values)


def check_same_shape(old: Population, new: Population) -> None:
    """Run-time changes may change values, not what the kernel is."""
    if (new.cell_type, new.size, new.state_variables) != (old.cell_type, old.size,
                                                          old.state_variables):
        raise RunTimeChangeError(
            f"Population '{old.label}': its cell type, size or receptors changed between "
            "runs; that is a new network: call reset() first")


def exp_currents(population: Population) -> list[tuple[Receptor | str, str, np.ndarray]]:
    """(receptor, state variable, tau) of every exponential synaptic current."""
    p = population.parameters
    if population.cell_type.composed:
        return [(r.name, r.state_variable, r.parameters["tau_syn"])
                for r in population.receptors]
    if population.cell_type is CellType.IF_CURR_DELTA:
        return []
    return [(Receptor.EXCITATORY, "isyn_exc", p["tau_syn_E"]),
            (Receptor.INHIBITORY, "isyn_inh", p["tau_syn_I"])]


class CurrExpKernel(LIFKernel):
    """IF_curr_exp integrated exactly: v and the exponential currents are a linear system,
    so one step is a fixed linear map (the propagator), as Brian2's 'exact' method does.
    The same kernel runs a composed LIF whose receptors are all CurrExp (any number)."""

    def _configure(self) -> None:
        super()._configure()
        p = self.population.parameters
        h = self.dt
        self._p_mm = np.exp(-h / p["tau_m"])
        self._currents = [
            (name, np.exp(-h / tau), exp_psc_propagator(h, p["tau_m"], tau, p["cm"]))
            for _, name, tau in exp_currents(self.population)]
        self.input_variable = {key: name for key, name, _ in exp_currents(self.population)}
        # v relaxes towards v_rest + R (i_offset + i_ext); split the constant part off
        r_m = p["tau_m"] / p["cm"]
        self._drive0 = (1 - self._p_mm) * (p["v_rest"] + r_m * p["i_offset"])
        self._drive_ext = (1 - self._p_mm) * r_m

    def _subthreshold(self, v: np.ndarray, i_ext: np.ndarray | None) -> np.ndarray:
        v_new = v * self._p_mm
        v_new += self._drive0
        for name, decay, p_mi in self._currents:
            i = self.state[name]
            v_new += p_mi * i
            i *= decay
        if i_ext is not None:
            v_new += self._drive_ext * i_ext
        return v_new


class CurrDeltaKernel(CurrExpKernel):
    """IF_curr_delta: the exact leaky membrane, each weight (mV) a jump of v.

    As in Brian2's schedule (thresholds, then synapses, then resets), a jump that arrives in
    the step a neuron fires is undone by its reset; one that arrives while it is refractory
    stays (v is held, not reset, there)."""

    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        self._fired = super().advance(step, i_ext)
        return self._fired

    def reset(self) -> None:
        super().reset()
        self._fired = np.zeros(0, dtype=np.intp)

    def receive(self, receptor: Receptor | str, drive: np.ndarray) -> None:
        _jump(self.state["v"], drive, self._fired)


def _jump(v: np.ndarray, drive: np.ndarray, fired: np.ndarray) -> None:
    if fired.size:
        drive = drive.copy()
        drive[fired] = 0.0
    v += drive


class CurrAlphaKernel(LIFKernel):
    """IF_curr_alpha integrated exactly (a linear system of v and, per receptor, the current
    and its rise variable; a weight enters the rise variable, so a single input of weight w
    peaks at w nA after tau_syn).

    The inhibitory current decays with tau_syn_I as PyNN defines it; pyNN.brian2 0.13
    uses tau_syn_E for both receptors (receptors.py, current_based_alpha_synapses), so
    Brian2 agrees with this kernel only when the two time constants are equal.
    """

    def _configure(self) -> None:
        super()._configure()
        p = self.population.parameters
        h = self.dt
        self.input_variable = {Receptor.EXCITATORY: "rise_exc", Receptor.INHIBITORY: "rise_inh"}
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

    def _configure(self) -> None:
        super()._configure()
        p = self.population.parameters
        self.input_variable = {Receptor.EXCITATORY: "gsyn_exc", Receptor.INHIBITORY: "gsyn_inh"}
        self._g_leak = p["cm"] / p["tau_m"]
        self._cm = np.array(p["cm"])
        self._leak_drive = self._g_leak * p["v_rest"] + p["i_offset"]
        self._e_exc, self._e_inh = np.array(p["e_rev_E"]), np.array(p["e_rev_I"])
        self._p_ee = 1.0 - self.dt / p["tau_syn_E"]
        self._p_ii = 1.0 - self.dt / p["tau_syn_I"]

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

    def _configure(self) -> None:
        super()._configure()
        p, dt = self.population.parameters, self.dt
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


# ----------------------------------------------------------------- explicit ODE kernels


@dataclass
class _Synapse:
    """One receptor's synaptic state in an ODE kernel: an exponential or alpha current, or
    an exponential, alpha or beta conductance.  ``names`` are its integrated variables
    (the first is what it records); a weight is added to ``names[-1]`` times ``scale``."""

    receptor: Receptor | str
    shape: ResponseShape
    names: tuple[str, ...]
    exposed: str  # the recordable variable: names[0], or a beta's difference
    tau: np.ndarray  # the decay (beta: tau_decay)
    e_rev: np.ndarray | None = None
    tau_rise: np.ndarray | None = None
    scale: np.ndarray | float = 1.0

    def derivatives(self, s: Mapping[str, np.ndarray], out: dict[str, np.ndarray]) -> None:
        if self.shape is ResponseShape.COND_ALPHA:  # (g, y): dg = (e y - g)/tau, dy = -y/tau
            g, y = self.names
            out[g] = (math.e * s[y] - s[g]) / self.tau
            out[y] = -s[y] / self.tau
        elif self.shape is ResponseShape.COND_BETA:  # g = decay - rise
            decay, rise = self.names
            out[decay] = -s[decay] / self.tau
            out[rise] = -s[rise] / self.tau_rise
        else:
            out[self.names[0]] = -s[self.names[0]] / self.tau

    def value(self, s: Mapping[str, np.ndarray]) -> np.ndarray:
        """The conductance (uS) or current (nA) it exposes."""
        if self.shape is ResponseShape.COND_BETA:
            return s[self.names[0]] - s[self.names[1]]
        return s[self.names[0]]

    def current(self, s: Mapping[str, np.ndarray], v: np.ndarray) -> np.ndarray:
        if self.e_rev is None:
            return s[self.names[0]]
        return self.value(s) * (self.e_rev - v)

    def receive(self, s: dict[str, np.ndarray], drive: np.ndarray) -> None:
        if self.shape is ResponseShape.COND_BETA:
            s[self.names[0]] += drive * self.scale
            s[self.names[1]] += drive * self.scale
        else:
            s[self.names[-1]] += drive


def beta_peak_scale(tau_rise: np.ndarray, tau_decay: np.ndarray) -> np.ndarray:
    """The factor that makes exp(-t/tau_decay) - exp(-t/tau_rise) peak at 1."""
    t_peak = tau_decay * tau_rise / (tau_decay - tau_rise) * np.log(tau_decay / tau_rise)
    return 1.0 / (np.exp(-t_peak / tau_decay) - np.exp(-t_peak / tau_rise))


_STANDARD_SHAPES = {
    CellType.IF_COND_ALPHA: ResponseShape.COND_ALPHA,
    CellType.EIF_COND_ALPHA_ISFA_ISTA: ResponseShape.COND_ALPHA,
}


def _synapses(population: Population) -> list[_Synapse]:
    """The synaptic state of an ODE kernel's population, receptor by receptor."""
    p = population.parameters
    if population.cell_type.composed:
        out = []
        for r in population.receptors:
            rp = r.parameters
            name = r.state_variable
            if r.shape is ResponseShape.CURR_EXP:
                out.append(_Synapse(r.name, r.shape, (name,), name, rp["tau_syn"]))
            elif r.shape is ResponseShape.COND_BETA:
                out.append(_Synapse(r.name, r.shape, (f"{r.name}.decay", f"{r.name}.rise"),
                                    name, rp["tau_decay"], rp["e_syn"], rp["tau_rise"],
                                    beta_peak_scale(rp["tau_rise"], rp["tau_decay"])))
            elif r.shape is ResponseShape.COND_ALPHA:
                out.append(_Synapse(r.name, r.shape, (name, f"{r.name}.rise"), name,
                                    rp["tau_syn"], rp["e_syn"]))
            else:
                out.append(_Synapse(r.name, r.shape, (name,), name, rp["tau_syn"],
                                    rp["e_syn"]))
        return out
    if population.cell_type.model.synapses is not SynapseKind.CONDUCTANCE:
        return []
    shape = _STANDARD_SHAPES.get(population.cell_type, ResponseShape.COND_EXP)
    out = []
    for receptor, name, suffix in ((Receptor.EXCITATORY, "gsyn_exc", "E"),
                                   (Receptor.INHIBITORY, "gsyn_inh", "I")):
        names = (name, f"rise_{name[-3:]}") if shape is ResponseShape.COND_ALPHA else (name,)
        out.append(_Synapse(receptor, shape, names, name, p[f"tau_syn_{suffix}"],
                            p[f"e_rev_{suffix}"]))
    return out


class ODEKernel(_Reconfigurable):
    """A neuron model as differential equations, stepped with Brian2's explicit schemes:
    ``euler`` (x += dt f(x)) or ``rk2`` (the midpoint method, x += dt f(x + dt/2 f(x))),
    whichever pyNN.brian2 uses for the model (Brian2's default 'euler' for non-linear
    equations; 'rk2' for its adaptive exponential and sfa/rr neurons).

    While refractory (Brian2's ``unless refractory``) v does not move; every other variable
    does.  Subclasses give the neuron's own equations (:meth:`_neuron`), the spike condition
    (:meth:`_threshold`) and what a spike does (:meth:`_on_spike`); the synaptic state comes
    from the population's receptors.
    """

    scheme: ClassVar[str] = "euler"
    #: the neuron's own integrated variables besides v (the synapses' are added)
    own: ClassVar[tuple[str, ...]] = ()
    #: the refractory period's parameter, or None for a model without one
    refractory_parameter: ClassVar[str | None] = "tau_refrac"
    #: what to add to the advice when the state blows up
    timestep_hint: ClassVar[str] = ""

    def __init__(self, population: Population, dt: float) -> None:
        super().__init__(population, dt)
        self.state: dict[str, np.ndarray] = {}
        self._configure()
        self.reset()

    def _configure(self) -> None:
        p = self.population.parameters
        self.synapses = _synapses(self.population)
        self._by_receptor = {s.receptor: s for s in self.synapses}
        self._refrac = (event_step(p[self.refractory_parameter], self.dt)
                        if self.refractory_parameter else np.zeros(self.size, np.int64))
        self._variables = ("v", *self.own, *(n for s in self.synapses for n in s.names))
        self._recorded = {s.exposed: s for s in self.synapses}


    def reset(self) -> None:
        init = self.population.initial_values
        self.state = {name: np.array(init[name] if name in init else 0.0, dtype=np.float64)
                      * np.ones(self.size) for name in self._variables}
        for syn in self.synapses:
            if syn.shape is ResponseShape.COND_BETA:  # all of a given conductance decays
                self.state[syn.names[0]][:] = init[syn.exposed]
        self._init_own()
        self._last_spike = np.full(self.size, -(2**40), dtype=np.int64)
        self._fired = np.zeros(0, dtype=np.intp)

    def _init_own(self) -> None:
        """Set internal variables from the population's initial values (if any differ)."""

    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        s = self.state
        active = (step - self._last_spike) >= self._refrac
        with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported below
            d1 = self._derivatives(s, i_ext, active)
            if self.scheme == "rk2":
                half = 0.5 * self.dt
                mid = {k: s[k] + half * d1[k] for k in d1}
                d1 = self._derivatives(mid, i_ext, active)
            for k, dk in d1.items():
                s[k] += self.dt * dk
        if not np.isfinite(s["v"]).all():
            i = int(np.flatnonzero(~np.isfinite(s["v"]))[0])
            raise StateError(
                f"Population '{self.population.label}' ({self.population.cell_type.value}) "
                f"neuron {i}: v became {s['v'][i]} at t = {(step + 1) * self.dt:g} ms; "
                f"{self.scheme} integration (pyNN.brian2's scheme for this model) is unstable "
                f"at dt = {self.dt:g} ms here: use a smaller timestep in setup()"
                f"{self.timestep_hint}")
        fired = self._threshold(step, active)
        if fired.size:
            self._on_spike(fired)
            self._last_spike[fired] = step
        self._fired = fired
        return fired

    def _derivatives(self, s: Mapping[str, np.ndarray], i_ext: np.ndarray | None,
                     active: np.ndarray) -> dict[str, np.ndarray]:
        v = s["v"]
        current = self.population.parameters.get("i_offset", 0.0) + (
            0.0 if i_ext is None else i_ext)
        out: dict[str, np.ndarray] = {}
        for syn in self.synapses:
            current = current + syn.current(s, v)
            syn.derivatives(s, out)
        out.update(self._neuron(s, current))
        out["v"] = np.where(active, out["v"], 0.0)
        return out

    @abc.abstractmethod
    def _neuron(self, s: Mapping[str, np.ndarray], current: np.ndarray
                ) -> dict[str, np.ndarray]:
        """d/dt of v and the neuron's own variables; ``current`` is the synaptic, offset and
        injected current (nA)."""

    @abc.abstractmethod
    def _threshold(self, step: int, active: np.ndarray) -> np.ndarray:
        """Indices of the neurons that spike after this step's integration."""

    @abc.abstractmethod
    def _on_spike(self, fired: np.ndarray) -> None:
        """Reset the neurons that spiked."""

    def receive(self, receptor: Receptor | str, drive: np.ndarray) -> None:
        self._by_receptor[receptor].receive(self.state, drive)

    def get(self, variable: str) -> np.ndarray:
        self._check_variable(variable)
        syn = self._recorded.get(variable)
        return (syn.value(self.state) if syn is not None else self.state[variable]).copy()

    def set(self, variable: str, values: np.ndarray) -> None:
        self._check_variable(variable)
        arr = self._per_neuron(variable, values)
        syn = self._recorded.get(variable)
        if syn is not None and syn.shape is ResponseShape.COND_BETA:
            self.state[syn.names[0]][:] = arr  # all in the decaying part
            self.state[syn.names[1]][:] = 0.0
        else:
            self.state[variable][:] = arr


class _ThresholdResetMixin:
    """LIF-style spikes: v above the threshold (when not refractory), reset to v_reset."""

    threshold_parameter: ClassVar[str] = "v_thresh"

    def _threshold(self, step: int, active: np.ndarray) -> np.ndarray:
        above = self.state["v"] > self._v_spike  # type: ignore[attr-defined]
        return np.flatnonzero(above & active)

    def _on_spike(self, fired: np.ndarray) -> None:
        self.state["v"][fired] = self.population.parameters["v_reset"][fired]  # type: ignore[attr-defined]


class CondLIFKernel(_ThresholdResetMixin, ODEKernel):
    """IF_cond_alpha, and a composed LIF with conductance receptors (or mixed ones):
    the leaky membrane with synaptic currents g (e - v), on forward Euler as pyNN.brian2."""

    def _configure(self) -> None:
        super()._configure()
        p = self.population.parameters
        self._g_leak = p["cm"] / p["tau_m"]
        self._v_spike = p["v_thresh"]

    def _neuron(self, s: Mapping[str, np.ndarray], current: np.ndarray
                ) -> dict[str, np.ndarray]:
        p = self.population.parameters
        return {"v": (self._g_leak * (p["v_rest"] - s["v"]) + current) / p["cm"]}


class AdExpKernel(_ThresholdResetMixin, ODEKernel):
    """EIF_cond_{exp,alpha}_isfa_ista and the composed AdExp (Brette and Gerstner 2005):

        cm dv/dt = gL (v_rest - v) + gL delta_T exp((v - v_thresh)/delta_T) + I - w
        tau_w dw/dt = a (v - v_rest) - w

    on Brian2's rk2, as pyNN.brian2 runs it.  A spike is detected when v passes v_spike
    (NEST's V_peak; v_thresh with delta_T = 0, where the model is a LIF); then v = v_reset
    and w += b.  pyNN.brian2 detects at v_thresh + 5 delta_T instead of v_spike; the two
    agree when v_spike is set there.
    """

    scheme = "rk2"
    own = ("w",)
    # exp() arguments above this only occur once v is far past v_spike, where the neuron
    # fires anyway; capping them keeps the step finite
    _MAX_EXPONENT = 50.0

    def _configure(self) -> None:
        super()._configure()
        p = self.population.parameters
        self._g_leak = p["cm"] / p["tau_m"]
        self._exponential = p["delta_T"] > 0
        self._delta_t = np.where(self._exponential, p["delta_T"], 1.0)
        self._v_spike = np.where(self._exponential, p["v_spike"], p["v_thresh"])
        self._a = p["a"] * 1e-3  # nS -> uS

    def _neuron(self, s: Mapping[str, np.ndarray], current: np.ndarray
                ) -> dict[str, np.ndarray]:
        p = self.population.parameters
        v, w = s["v"], s["w"]
        x = np.minimum((v - p["v_thresh"]) / self._delta_t, self._MAX_EXPONENT)
        upswing = np.where(self._exponential, self._g_leak * self._delta_t * np.exp(x), 0.0)
        dv = (self._g_leak * (p["v_rest"] - v) + upswing + current - w) / p["cm"]
        dw = (self._a * (v - p["v_rest"]) - w) / p["tau_w"]
        return {"v": dv, "w": dw}

    def _on_spike(self, fired: np.ndarray) -> None:
        super()._on_spike(fired)
        self.state["w"][fired] += self.population.parameters["b"][fired]


class GsfaGrrKernel(CondLIFKernel):
    """IF_cond_exp_gsfa_grr (Muller et al. 2007; NEST's iaf_cond_exp_sfa_rr): a conductance
    LIF with a spike-frequency-adaptation conductance g_s and a relative-refractory one g_r
    (nS), each decaying always and increased by q_sfa, q_rr at every spike; synapses are
    exponential conductances as the model's name, NEST and NEURON have them (pyNN.brian2
    0.13 uses alpha ones).  On rk2, as pyNN.brian2."""

    scheme = "rk2"
    own = ("g_s", "g_r")

    def _neuron(self, s: Mapping[str, np.ndarray], current: np.ndarray
                ) -> dict[str, np.ndarray]:
        p = self.population.parameters
        v, g_s, g_r = s["v"], s["g_s"], s["g_r"]
        adaptation = 1e-3 * (g_s * (p["e_rev_sfa"] - v) + g_r * (p["e_rev_rr"] - v))  # nS mV
        return {**super()._neuron(s, current + adaptation),
                "g_s": -g_s / p["tau_sfa"], "g_r": -g_r / p["tau_rr"]}

    def _on_spike(self, fired: np.ndarray) -> None:
        super()._on_spike(fired)
        p = self.population.parameters
        self.state["g_s"][fired] += p["q_sfa"][fired]
        self.state["g_r"][fired] += p["q_rr"][fired]


class HHKernel(ODEKernel):
    """HH_cond_exp (Traub and Miles 1991, as pyNN.brian2 writes it) on forward Euler, the
    scheme pyNN.brian2 ends up with; use a small dt (0.01 ms or less) as its users do.

    There is no reset or refractory period: a spike is counted when v rises through
    -40 mV (pyNN.brian2's threshold, refractory while v stays above it)."""

    own = ("m", "n", "h")
    refractory_parameter = None
    timestep_hint = " (0.01 ms or less for HH_cond_exp)"
    SPIKE_DETECTION = -40.0  # mV

    def reset(self) -> None:
        super().reset()
        self._armed = np.ones(self.size, dtype=bool)  # Brian2 starts not refractory

    def _neuron(self, s: Mapping[str, np.ndarray], current: np.ndarray
                ) -> dict[str, np.ndarray]:
        p = self.population.parameters
        v, m, n, h = s["v"], s["m"], s["n"], s["h"]
        u = v - p["v_offset"]
        alpha_m = 0.32 * _exprel_rate(13.0 - u, 4.0)
        beta_m = 0.28 * _exprel_rate(u - 40.0, 5.0)
        alpha_h = 0.128 * np.exp((17.0 - u) / 18.0)
        beta_h = 4.0 / (1.0 + np.exp((40.0 - u) / 5.0))
        alpha_n = 0.032 * _exprel_rate(15.0 - u, 5.0)
        beta_n = 0.5 * np.exp((10.0 - u) / 40.0)
        i_ion = (p["g_leak"] * (p["e_rev_leak"] - v)
                 - p["gbar_Na"] * m**3 * h * (v - p["e_rev_Na"])
                 - p["gbar_K"] * n**4 * (v - p["e_rev_K"]))
        return {"v": (i_ion + current) / p["cm"],
                "m": alpha_m * (1 - m) - beta_m * m,
                "n": alpha_n * (1 - n) - beta_n * n,
                "h": alpha_h * (1 - h) - beta_h * h}

    def _threshold(self, step: int, active: np.ndarray) -> np.ndarray:
        above = self.state["v"] > self.SPIKE_DETECTION
        fired = np.flatnonzero(above & self._armed)
        self._armed = ~above
        return fired

    def _on_spike(self, fired: np.ndarray) -> None:
        return None


def _exprel_rate(x: np.ndarray, k: float) -> np.ndarray:
    """x / (exp(x/k) - 1), continuous at x = 0 (value k): the Traub rate functions."""
    z = x / k
    small = np.abs(z) < 1e-6
    safe = np.where(small, 1.0, z)
    return np.where(small, k * (1.0 - z / 2.0), x / np.expm1(safe))


class IzhikevichKernel(ODEKernel):
    """Izhikevich (2003): dv/dt = 0.04 v^2 + 5 v + 140 - u + I, du/dt = a (b v - u), in mV
    and ms with I in pA (1000 per nA of i_offset or injected current), on forward Euler as
    pyNN.brian2; at v >= 30 mV a spike, v = c, u += d.  Synapses are jumps of v (mV),
    undone by the reset of a neuron that fires in the step they arrive (Brian2's schedule)."""

    own = ("u",)
    refractory_parameter = None

    def _neuron(self, s: Mapping[str, np.ndarray], current: np.ndarray
                ) -> dict[str, np.ndarray]:
        p = self.population.parameters
        v, u = s["v"], s["u"]
        return {"v": 0.04 * v * v + 5.0 * v + 140.0 - u + 1000.0 * current,
                "u": p["a"] * (p["b"] * v - u)}

    def _threshold(self, step: int, active: np.ndarray) -> np.ndarray:
        return np.flatnonzero(self.state["v"] >= IZHIKEVICH_PEAK)

    def _on_spike(self, fired: np.ndarray) -> None:
        p = self.population.parameters
        self.state["v"][fired] = p["c"][fired]
        self.state["u"][fired] += p["d"][fired]

    def receive(self, receptor: Receptor | str, drive: np.ndarray) -> None:
        _jump(self.state["v"], drive, self._fired)


class GIFKernel(ODEKernel):
    """GIF_cond_exp (Mensi et al. 2012; NEST's gif_cond_exp): a conductance LIF with a
    spike-triggered current eta (a sum of exponentials, jumping by a_eta at each spike) and
    a moving threshold v_t = v_t_star + gamma (likewise, a_gamma), firing stochastically
    with hazard lambda0 exp((v - v_t)/delta_v): a neuron fires in a step with probability
    1 - exp(-lambda dt).  Forward Euler; the draws come from a stream seeded by the
    network's seed and the population's label, one uniform number per neuron and step."""

    def _configure(self) -> None:
        super()._configure()
        p = self.population.parameters
        self._g_leak = p["cm"] / p["tau_m"]
        self._eta_decay = np.exp(-self.dt / p["tau_eta"])  # (n, k), exact
        self._gamma_decay = np.exp(-self.dt / p["tau_gamma"])
        self._rng_seed = getattr(self, "_rng_seed", 0)

    def seed_noise(self, seed: int) -> None:
        self._rng_seed = int(seed)
        self._rng = np.random.default_rng(self._rng_seed)

    def reset(self) -> None:
        super().reset()
        self._rng = np.random.default_rng(getattr(self, "_rng_seed", 0))

    def _init_own(self) -> None:
        p, init = self.population.parameters, self.population.initial_values
        k_eta, k_gamma = p["tau_eta"].shape[1], p["tau_gamma"].shape[1]
        # initial i_eta and v_t beyond v_t_star go into each kernel's first component
        self.eta = np.zeros((self.size, k_eta))
        self.eta[:, 0] = init["i_eta"]
        self.gamma = np.zeros((self.size, k_gamma))
        self.gamma[:, 0] = init["v_t"] - p["v_t_star"]

    def _neuron(self, s: Mapping[str, np.ndarray], current: np.ndarray
                ) -> dict[str, np.ndarray]:
        p = self.population.parameters
        i_eta = self.eta.sum(axis=1)
        return {"v": (self._g_leak * (p["v_rest"] - s["v"]) - i_eta + current) / p["cm"]}

    def _threshold(self, step: int, active: np.ndarray) -> np.ndarray:
        p = self.population.parameters
        # as NEST's update: the step runs with eta and the threshold as they were at its
        # start; the kernels decay over the step (exactly) before a spike adds to them
        v_t = p["v_t_star"] + self.gamma.sum(axis=1)
        self.eta *= self._eta_decay
        self.gamma *= self._gamma_decay
        rate = p["lambda0"] * 1e-3 * np.exp(np.minimum((self.state["v"] - v_t) / p["delta_v"],
                                                       700.0))  # per ms
        probability = -np.expm1(-rate * self.dt)
        draw = self._rng.random(self.size)
        return np.flatnonzero((draw < probability) & active)

    def _on_spike(self, fired: np.ndarray) -> None:
        p = self.population.parameters
        self.state["v"][fired] = p["v_reset"][fired]
        self.eta[fired] += p["a_eta"][fired]
        self.gamma[fired] += p["a_gamma"][fired]

    def get(self, variable: str) -> np.ndarray:
        self._check_variable(variable)
        if variable == "i_eta":
            return self.eta.sum(axis=1)
        if variable == "v_t":
            return self.population.parameters["v_t_star"] + self.gamma.sum(axis=1)
        return super().get(variable)

    def set(self, variable: str, values: np.ndarray) -> None:
        if variable in ("i_eta", "v_t"):
            self._check_variable(variable)
            arr = self._per_neuron(variable, values)
            target = self.eta if variable == "i_eta" else self.gamma
            base = 0.0 if variable == "i_eta" else self.population.parameters["v_t_star"]
            target[:] = 0.0
            target[:, 0] = arr - base
            return
        super().set(variable, values)


def reference_kernel(population: Population, dt: float, cond_scheme: str = "euler"
                     ) -> NeuronKernel:
    """The float64 reference kernel of a population."""
    cell_type = population.cell_type
    if cell_type is CellType.IF_COND_EXP:
        return COND_SCHEMES[cond_scheme](population, dt)
    if cell_type is CellType.LIF:
        shapes = {r.shape for r in population.receptors}
        kernel = CurrExpKernel if shapes <= {ResponseShape.CURR_EXP} else CondLIFKernel
        return kernel(population, dt)
    return REFERENCE_KERNELS[cell_type](population, dt)


#: integration schemes of IF_cond_exp in the reference
COND_SCHEMES: dict[str, type[NeuronKernel]] = {
    "euler": CondExpKernel,
    "mean-conductance": CondExpMeanConductanceKernel,
}

REFERENCE_KERNELS: dict[CellType, type[NeuronKernel]] = {
    CellType.IF_CURR_EXP: CurrExpKernel,
    CellType.IF_CURR_ALPHA: CurrAlphaKernel,
    CellType.IF_COND_EXP: CondExpKernel,
    CellType.IF_CURR_DELTA: CurrDeltaKernel,
    CellType.IF_COND_ALPHA: CondLIFKernel,
    CellType.IF_COND_EXP_GSFA_GRR: GsfaGrrKernel,
    CellType.EIF_COND_EXP_ISFA_ISTA: AdExpKernel,
    CellType.EIF_COND_ALPHA_ISFA_ISTA: AdExpKernel,
    CellType.HH_COND_EXP: HHKernel,
    CellType.IZHIKEVICH: IzhikevichKernel,
    CellType.GIF_COND_EXP: GIFKernel,
    CellType.ADEXP: AdExpKernel,
}
