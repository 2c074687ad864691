"""The DYNAP-SE neuron and synapse: current-mode DPI circuits, integrated on a fine step.

Model (the DPI neuron and synapse of Chicca et al. 2014, Proc. IEEE 102(9), in their
above-threshold approximation, plus the neuron's positive feedback written AdExp-style):

    tau_syn  dI_syn/dt = -I_syn                         (+ w at each input event)
    tau_mem  dI_mem/dt = -(I_mem - I_0) + I_exc - I_inh - I_ahp + I_dc + I_fb(I_mem)
    I_fb(I_mem)        = kappa * delta_t * exp((I_mem - I_spk) / (kappa * delta_t))
    tau_ahp  dI_ahp/dt = -I_ahp                         (+ J_ahp at each output spike)

I_mem is a transistor current: it never goes below the leakage floor I_0 (an inhibited
neuron does not hyperpolarise as a PyNN neuron does).  A neuron spikes when I_mem reaches
I_spk, is reset to I_reset and held there for the refractory period.  The DPI synapse's
pulse extender is short (microseconds) next to tau_syn, so an input event adds its weight
to I_syn at once.

Discretisation: the circuit runs in continuous time; we integrate it on a fine internal
step h = dt / ceil(dt / max_substep) (default max_substep 0.02 ms, at least 50 steps per
millisecond, far below the shortest DYNAP-SE time constants of about 1 ms).  Per substep,
the synaptic currents and the leak are integrated exactly (the linear part uses the same
exponential propagators as the float reference); the positive feedback and I_ahp are held
at their start-of-substep values (exponential Euler).  Spikes are timed to the end of the
substep in which I_mem crosses I_spk, so spike times have h resolution, not dt.

Mapping IF_curr_exp onto the DPI (documented and tested in tests/targets/dynapse):
I_mem encodes the PyNN membrane potential above the lowest potential the neuron visits
without inhibition, v_low = min(v_rest, v_reset): I_mem = I_0 + kappa * (v - v_low), with
kappa chosen so that the threshold sits THRESHOLD_SPAN_PA above the floor.  Then PyNN's
``tau_m dv/dt = -(v - v_rest) + R i`` (R = tau_m / cm) becomes the DPI equation with
currents scaled by ``kappa * R`` pA per nA: tau_mem = tau_m, tau_syn = tau_syn_E/I,
I_dc = kappa (v_rest - v_low) + kappa R i_offset (a resting potential above v_low, as in
the VA-CUBA benchmark where it is above threshold, is a DC bias), I_spk = I_0 + kappa
(v_thresh - v_low), I_reset = I_0 + kappa (v_reset - v_low), refractory = tau_refrac.
What does not carry over: potentials below v_low (the floor), the exponential spike onset
(delta_t > 0), and device mismatch.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace

import numpy as np

from toolchain.ir import CellType, Population, Receptor
from toolchain.sim.kernels import NeuronKernel, exp_psc_propagator

# The DPI's output current cannot fall below the leakage of its transistors; the order of a
# picoampere [unverified: a typical figure for the DYNAP-SE 180 nm process].
LEAK_FLOOR_PA = 1.0
# Where the mapped threshold sits above the floor.  A design choice within the DPI's
# above-threshold range (tens to hundreds of pA); it fixes kappa, nothing else depends on it.
THRESHOLD_SPAN_PA = 100.0
# AdExp-style slope of the DPI's positive feedback, as a membrane-potential equivalent
# [unverified: chosen so that the spike onset is sharp but shifts firing by only a few %].
DELTA_T_MV = 1.0
# Internal step bound (ms): see the module docstring.
MAX_SUBSTEP_MS = 0.02


@dataclass(frozen=True)
class DPIParameters:
    """Per-neuron circuit parameters (time constants in ms, currents in pA)."""

    tau_mem: np.ndarray
    tau_exc: np.ndarray
    tau_inh: np.ndarray
    tau_ahp: np.ndarray
    refractory: np.ndarray
    i_floor: np.ndarray
    i_spk: np.ndarray
    i_reset: np.ndarray
    i_dc: np.ndarray
    j_ahp: np.ndarray
    fb_slope: np.ndarray  # kappa * delta_t, pA; 0 switches the positive feedback off
    gain_exc: np.ndarray  # pA of I_syn per nA of PyNN weight (kappa R, times mismatch)
    gain_inh: np.ndarray
    kappa: np.ndarray  # pA per mV, the mapping of v onto I_mem (not a circuit property)
    v_low: np.ndarray  # mV, the potential I_0 stands for (for reading v back)

    @property
    def size(self) -> int:
        return int(self.tau_mem.size)


# Parameters device mismatch perturbs: the circuit biases.  kappa and v_low describe the
# mapping, and the floor is the leakage itself, so they stay.
MISMATCHED = ("tau_mem", "tau_exc", "tau_inh", "tau_ahp", "refractory", "i_dc", "gain_exc",
              "gain_inh")


def map_if_curr_exp(population: Population, *, delta_t: float = DELTA_T_MV,
                    j_ahp: float = 0.0, tau_ahp: float = 50.0) -> DPIParameters:
    """DPI parameters that reproduce an IF_curr_exp population (see the module docstring).

    ``j_ahp`` (pA) and ``tau_ahp`` (ms; FACTS.md DYNAP-SE default 50 ms) add spike-frequency
    adaptation, which IF_curr_exp does not have; the default 0 keeps it off.
    """
    if population.cell_type is not CellType.IF_CURR_EXP:
        raise ValueError(
            f"Population '{population.label}': the DPI mapping covers IF_curr_exp only, "
            f"not {population.cell_type.value}"
        )
    p = population.parameters
    v_low = np.minimum(p["v_rest"], p["v_reset"])
    span = p["v_thresh"] - v_low  # > 0: the IR keeps v_reset below v_thresh
    kappa = THRESHOLD_SPAN_PA / span
    r_m = p["tau_m"] / p["cm"]  # MOhm: mV per nA
    floor = np.full(population.size, LEAK_FLOOR_PA)
    ones = np.ones(population.size)
    return DPIParameters(
        tau_mem=np.array(p["tau_m"]), tau_exc=np.array(p["tau_syn_E"]),
        tau_inh=np.array(p["tau_syn_I"]), tau_ahp=tau_ahp * ones,
        refractory=np.array(p["tau_refrac"]), i_floor=floor, i_spk=floor + THRESHOLD_SPAN_PA,
        i_reset=floor + kappa * (p["v_reset"] - v_low),
        i_dc=kappa * (p["v_rest"] - v_low) + kappa * r_m * p["i_offset"], j_ahp=j_ahp * ones,
        fb_slope=kappa * delta_t, gain_exc=kappa * r_m, gain_inh=kappa * r_m, kappa=kappa,
        v_low=v_low,
    )


def apply_mismatch(params: DPIParameters, spread: float, seed: int, label: str
                   ) -> DPIParameters:
    """Each neuron's circuit biases times an independent Gaussian factor 1 + spread * N(0, 1).

    Analog transistors of one bias differ from neuron to neuron; DYNAP-SE users see
    10-20 % relative spread on time constants and synaptic gains [unverified figure].  The
    factor is truncated at 0.2 so no time constant or current changes sign.  The draw is
    seeded by ``seed`` and the population label, so the same chip instance (seed) gives the
    same deviations whatever else is in the network.
    """
    if spread == 0:
        return params
    rng = np.random.default_rng([seed, zlib.crc32(label.encode())])

    def factor() -> np.ndarray:
        return np.maximum(1.0 + spread * rng.standard_normal(params.size), 0.2)

    changes = {name: getattr(params, name) * factor() for name in MISMATCHED}
    # the threshold is a current above the floor: perturb that span, not the floor
    changes["i_spk"] = params.i_floor + (params.i_spk - params.i_floor) * factor()
    changes["i_reset"] = np.minimum(params.i_reset, 0.5 * (params.i_floor + changes["i_spk"]))
    return replace(params, **changes)


class DPIKernel(NeuronKernel):
    """A DYNAP-SE core's neurons, as a kernel of the shared timestep engine.

    The engine calls :meth:`advance` once per timestep ``dt``; inside, the circuit runs
    ``substeps`` fine steps.  Input handed to :meth:`receive` acts from the start of the
    next step, as in the float reference.  After :meth:`advance`, :attr:`spike_offsets`
    holds each spike's time within the step (ms), which the routing model starts from.
    """

    def __init__(self, population: Population, dt: float, params: DPIParameters, *,
                 max_substep: float = MAX_SUBSTEP_MS) -> None:
        super().__init__(population, dt)
        if params.size != population.size:
            raise ValueError(f"Population '{population.label}': {params.size} DPI parameter "
                             f"sets for {population.size} neurons")
        if not max_substep > 0:
            raise ValueError(f"DPI max_substep = {max_substep} ms must be positive")
        self.params = params
        self.substeps = max(1, math.ceil(dt / max_substep - 1e-9))
        self.h = dt / self.substeps
        h = self.h
        self._p_mm = np.exp(-h / params.tau_mem)
        self._p_ee = np.exp(-h / params.tau_exc)
        self._p_ii = np.exp(-h / params.tau_inh)
        self._p_aa = np.exp(-h / params.tau_ahp)
        # I_mem change after h per pA of synaptic current (cm = tau_mem: unit gain)
        self._p_me = exp_psc_propagator(h, params.tau_mem, params.tau_exc, params.tau_mem)
        self._p_mi = exp_psc_propagator(h, params.tau_mem, params.tau_inh, params.tau_mem)
        self._refrac_sub = np.rint(params.refractory / h).astype(np.int64)
        self._rest = params.i_floor + params.i_dc  # where I_mem relaxes without input
        self._fb_on = bool(np.any(params.fb_slope > 0))
        self._inv_fb = 1.0 / np.where(params.fb_slope > 0, params.fb_slope, np.inf)
        self._ahp_on = bool(np.any(params.j_ahp > 0))
        self._pending = np.zeros((2, self.size))
        self.spike_offsets = np.zeros(0)
        self.reset()

    # -- state ----------------------------------------------------------------------
    def reset(self) -> None:
        init = self.population.initial_values
        p = self.params
        self.i_mem = np.maximum(p.i_floor + p.kappa * (init["v"] - p.v_low), p.i_floor)
        self.i_exc = p.gain_exc * np.maximum(init["isyn_exc"], 0.0)
        self.i_inh = p.gain_inh * np.maximum(-init["isyn_inh"], 0.0)
        self.i_ahp = np.zeros(self.size)
        self._refrac_left = np.zeros(self.size, dtype=np.int64)
        self._pending[:] = 0.0

    def get(self, variable: str) -> np.ndarray:
        self._check_variable(variable)
        p = self.params
        if variable == "v":
            return p.v_low + (self.i_mem - p.i_floor) / p.kappa
        if variable == "isyn_exc":
            return self.i_exc / p.gain_exc
        return -self.i_inh / p.gain_inh

    def set(self, variable: str, values: np.ndarray) -> None:
        self._check_variable(variable)
        values = self._per_neuron(variable, values)
        p = self.params
        if variable == "v":
            self.i_mem = np.maximum(p.i_floor + p.kappa * (values - p.v_low), p.i_floor)
        elif variable == "isyn_exc":
            self.i_exc = p.gain_exc * np.maximum(values, 0.0)
        else:
            self.i_inh = p.gain_inh * np.maximum(-values, 0.0)

    # -- input ----------------------------------------------------------------------
    def receive(self, receptor: Receptor, drive: np.ndarray) -> None:
        """Synaptic input (nA of PyNN weight, signed) arriving at the start of the next step."""
        self._pending[_ROW[receptor]] += np.abs(drive)

    # -- dynamics -------------------------------------------------------------------
    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        if i_ext is not None and np.any(i_ext):
            raise ValueError(
                f"Population '{self.population.label}': DYNAP-SE has no per-neuron current "
                "injection; use i_offset (the per-core DC bias)"
            )
        p = self.params
        fired_at = np.full(self.size, -1, dtype=np.int64)
        self.i_exc += self._pending[0] * p.gain_exc
        self.i_inh += self._pending[1] * p.gain_inh
        self._pending[:] = 0.0
        for k in range(self.substeps):
            self._substep(fired_at, k)
        fired = np.flatnonzero(fired_at >= 0)
        # the crossing happened somewhere inside its substep: stamp the middle
        self.spike_offsets = (fired_at[fired] + 0.5) * self.h
        return fired

    def _substep(self, fired_at: np.ndarray, k: int) -> None:
        p = self.params
        drive = self._rest if not self._ahp_on else self._rest - self.i_ahp
        if self._fb_on:
            drive = drive + p.fb_slope * np.exp(
                np.minimum((self.i_mem - p.i_spk) * self._inv_fb, 50.0))
        i_new = self.i_mem - drive
        i_new *= self._p_mm
        i_new += drive
        i_new += self._p_me * self.i_exc
        i_new -= self._p_mi * self.i_inh
        self.i_exc *= self._p_ee
        self.i_inh *= self._p_ii
        if self._ahp_on:
            self.i_ahp *= self._p_aa
        np.maximum(i_new, p.i_floor, out=i_new)
        refractory = self._refrac_left > 0
        spiking = i_new >= p.i_spk
        if refractory.any():
            i_new[refractory] = p.i_reset[refractory]
            self._refrac_left[refractory] -= 1
            spiking &= ~refractory
        spiking &= fired_at < 0
        if spiking.any():
            i_new[spiking] = p.i_reset[spiking]
            self._refrac_left[spiking] = self._refrac_sub[spiking]
            self.i_ahp[spiking] += p.j_ahp[spiking]
            fired_at[spiking] = k
        self.i_mem = i_new


_ROW = {Receptor.EXCITATORY: 0, Receptor.INHIBITORY: 1}
