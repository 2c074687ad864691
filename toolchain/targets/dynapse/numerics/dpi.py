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

Mapping PyNN's LIF cells onto the DPI (documented and tested in tests/targets/dynapse):
I_mem encodes the PyNN membrane potential above the lowest potential the neuron visits
without inhibition, v_low = min(v_rest, v_reset): I_mem = I_0 + kappa * (v - v_low), with
kappa chosen so that the spike-detection potential sits THRESHOLD_SPAN_PA above the floor.
Then PyNN's ``tau_m dv/dt = -(v - v_rest) + R i`` (R = tau_m / cm) becomes the DPI equation
with currents scaled by ``kappa * R`` pA per nA: tau_mem = tau_m, each synapse circuit's
tau_syn = its receptor's (receptors.py says which circuit each receptor drives), I_dc =
kappa (v_rest - v_low) + kappa R i_offset (a resting potential above v_low, as in the
VA-CUBA benchmark where it is above threshold, is a DC bias), I_spk = I_0 + kappa
(v_thresh - v_low), I_reset = I_0 + kappa (v_reset - v_low), refractory = tau_refrac.
What does not carry over: potentials below v_low (the floor) and device mismatch.  The
DPI's own positive feedback (``delta_t``, default DELTA_T_MV) sharpens the onset a little.

Mapping PyNN's AdExp/EIF cells (EIF_cond_exp_isfa_ista, EIF_cond_alpha_isfa_ista, AdExp):
the DPI neuron *is* an adaptive exponential neuron (Chicca et al. 2014, Sec. IV), so

    cm dv/dt = -g_L (v - E_L) + g_L delta_T exp((v - v_thresh) / delta_T) - w + I
    tau_w dw/dt = a (v - E_L) - w,   w += b at each spike

maps term by term: the exponential onset is I_fb with slope kappa * delta_T pivoting at
I_exp = I_0 + kappa (v_thresh - v_low); spikes are detected at I_spk = I_0 + kappa
(v_spike - v_low); the spike-triggered adaptation is the AHP circuit, I_ahp = kappa R w,
J_ahp = kappa R b, tau_ahp = tau_w.  The AHP circuit is charged by the neuron's output
pulses only: it has no input from the membrane, so the sub-threshold adaptation ``a``
has no counterpart.  The mapper refuses a != 0 unless fit='approximate', which drops it
(with tau_w >> tau_m it acts as an extra leak of a / g_L, reported).  delta_T = 0 is a LIF
with its threshold at v_thresh.  A negative b (a facilitating w) is refused: the AHP
current only subtracts.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace

import numpy as np

from toolchain.ir import CellType, Population, Receptor
from toolchain.sim.fast import Form
from toolchain.sim.kernels import NeuronKernel, exp_psc_propagator
from toolchain.targets.dynapse import compiled
from toolchain.targets.dynapse.numerics.exp import feedback_exp
from toolchain.targets.dynapse.receptors import Circuit, key
from toolchain.targets.dynapse.spec import SynapseType

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
# The AHP circuit's time constant for cells without adaptation (its current stays 0).
DPI_TAU_AHP_MS = 50.0  # FACTS.md DYNAP-SE: DPI defaults


ADEXP_CELLS = frozenset({CellType.EIF_COND_EXP_ISFA_ISTA, CellType.EIF_COND_ALPHA_ISFA_ISTA,
                         CellType.ADEXP})
CIRCUITS = len(SynapseType)
# Effect of each synapse circuit's current on I_mem (rows in SynapseType order).
CIRCUIT_SIGN = np.array([-1.0 if t in (SynapseType.SLOW_INH, SynapseType.FAST_INH) else 1.0
                         for t in SynapseType])


@dataclass(frozen=True)
class DPIParameters:
    """Per-neuron circuit parameters (time constants in ms, currents in pA); the synapse
    circuits' are (4, n) arrays, one row per SynapseType."""

    tau_mem: np.ndarray
    tau_syn: np.ndarray  # (4, n)
    tau_ahp: np.ndarray
    refractory: np.ndarray
    i_floor: np.ndarray
    i_spk: np.ndarray  # where a spike is detected
    i_exp: np.ndarray  # where the positive feedback pivots (the AdExp v_thresh)
    i_reset: np.ndarray
    i_dc: np.ndarray
    j_ahp: np.ndarray
    fb_slope: np.ndarray  # kappa * delta_t, pA; 0 switches the positive feedback off
    gain: np.ndarray  # (4, n): pA of I_syn per nA of circuit input (kappa R, times mismatch)
    kappa: np.ndarray  # pA per mV, the mapping of v onto I_mem (not a circuit property)
    v_low: np.ndarray  # mV, the potential I_0 stands for (for reading v back)
    ahp_gain: np.ndarray  # pA of I_ahp per nA of PyNN's w (kappa R), for reading w back

    @property
    def size(self) -> int:
        return int(self.tau_mem.size)


# Parameters device mismatch perturbs: the circuit biases.  kappa and v_low describe the
# mapping, and the floor is the leakage itself, so they stay.
MISMATCHED = ("tau_mem", "tau_syn", "tau_ahp", "refractory", "i_dc", "gain", "j_ahp")


def standard_circuits(population: Population) -> dict[str, Circuit]:
    """IF_curr_exp's two receptors on the fast excitatory and the subtractive inhibitory
    circuits (what receptors.assign gives it), for using the kernel on its own."""
    p = population.parameters
    return {Receptor.EXCITATORY.value: Circuit(SynapseType.FAST_EXC, float(p["tau_syn_E"][0]), 1.0,
                                         1, 1, False),
            Receptor.INHIBITORY.value: Circuit(SynapseType.SLOW_INH, float(p["tau_syn_I"][0]), 1.0,
                                         -1, -1, False)}


def map_population(population: Population,
                   circuits: dict[str, Circuit] | None = None, *,
                   delta_t: float = DELTA_T_MV) -> DPIParameters:
    """DPI parameters that reproduce a LIF or AdExp population (see the module docstring).

    ``circuits`` (from receptors.assign; IF_curr_exp's two by default) set the synapse
    circuits' time constants; ``delta_t`` is the DPI's own feedback slope for LIF cells
    (AdExp cells use their delta_T).
    """
    cell = population.cell_type
    p = population.parameters
    n = population.size
    circuits = standard_circuits(population) if circuits is None else circuits
    adexp = cell in ADEXP_CELLS
    ones = np.ones(n)
    v_low = np.minimum(p["v_rest"], p["v_reset"])
    if adexp:
        exponential = p["delta_T"] > 0
        v_detect = np.where(exponential, p["v_spike"], p["v_thresh"])
        slope = p["delta_T"]
    else:
        v_detect, slope = p["v_thresh"], delta_t * ones
    kappa = THRESHOLD_SPAN_PA / (v_detect - v_low)  # > 0: the IR keeps v_reset below it
    r_m = p["tau_m"] / p["cm"]  # MOhm: mV per nA
    floor = np.full(n, LEAK_FLOOR_PA)
    tau_syn = np.full((CIRCUITS, n), 5.0)  # an unused circuit: any positive bias
    for name, c in circuits.items():
        # a standard cell's time constants may differ between its cores (parameter sets)
        tau_syn[int(c.type)] = c.tau if cell.composed else p[
            "tau_syn_E" if name == Receptor.EXCITATORY.value else "tau_syn_I"]
    return DPIParameters(
        tau_mem=np.array(p["tau_m"], dtype=float), tau_syn=tau_syn,
        tau_ahp=np.array(p["tau_w"], dtype=float) if adexp else DPI_TAU_AHP_MS * ones,
        refractory=np.array(p["tau_refrac"], dtype=float), i_floor=floor,
        i_spk=floor + THRESHOLD_SPAN_PA, i_exp=floor + kappa * (p["v_thresh"] - v_low),
        i_reset=floor + kappa * (p["v_reset"] - v_low),
        i_dc=kappa * (p["v_rest"] - v_low) + kappa * r_m * p["i_offset"],
        j_ahp=kappa * r_m * p["b"] if adexp else np.zeros(n),
        fb_slope=kappa * slope, gain=np.tile(kappa * r_m, (CIRCUITS, 1)), kappa=kappa,
        v_low=v_low, ahp_gain=kappa * r_m,
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

    def factor(shape: tuple[int, ...] = (params.size,)) -> np.ndarray:
        return np.maximum(1.0 + spread * rng.standard_normal(shape), 0.2)

    changes = {name: getattr(params, name) * factor(getattr(params, name).shape)
               for name in MISMATCHED}
    # the threshold is a current above the floor: perturb that span, not the floor (the
    # feedback's pivot moves with it)
    span = factor()
    changes["i_spk"] = params.i_floor + (params.i_spk - params.i_floor) * span
    changes["i_exp"] = params.i_floor + (params.i_exp - params.i_floor) * span
    changes["i_reset"] = np.minimum(params.i_reset, 0.5 * (params.i_floor + changes["i_spk"]))
    return replace(params, **changes)


class DPIKernel(NeuronKernel):
    """A DYNAP-SE core's neurons, as a kernel of the shared timestep engine.

    The engine calls :meth:`advance` once per timestep ``dt``; inside, the circuit runs
    ``substeps`` fine steps.  Input handed to :meth:`receive` acts from the start of the
    next step, as in the float reference; each receptor's input goes to its circuit
    (``circuits``, from receptors.assign) scaled to circuit current.  After
    :meth:`advance`, :attr:`spike_offsets` holds each spike's time within the step (ms),
    which the routing model starts from.
    """

    def __init__(self, population: Population, dt: float, params: DPIParameters,
                 circuits: dict[str, Circuit] | None = None, *,
                 max_substep: float = MAX_SUBSTEP_MS) -> None:
        super().__init__(population, dt)
        if params.size != population.size:
            raise ValueError(f"Population '{population.label}': {params.size} DPI parameter "
                             f"sets for {population.size} neurons")
        if not max_substep > 0:
            raise ValueError(f"DPI max_substep = {max_substep} ms must be positive")
        self.params = params
        self.circuits = standard_circuits(population) if circuits is None else circuits
        self._readback = _readback(population, self.circuits)
        self.substeps = max(1, math.ceil(dt / max_substep - 1e-9))
        self.h = dt / self.substeps
        h = self.h
        self._p_mm = np.exp(-h / params.tau_mem)
        self._p_ss = np.exp(-h / params.tau_syn)
        self._p_aa = np.exp(-h / params.tau_ahp)
        # I_mem change after h per pA of each circuit's current (cm = tau_mem: unit gain),
        # signed by the circuit's effect; only the circuits some receptor drives
        self._rows = sorted({int(c.type) for c in self.circuits.values()})
        self._p_ms = np.stack([
            CIRCUIT_SIGN[r] * exp_psc_propagator(h, params.tau_mem, params.tau_syn[r],
                                                 params.tau_mem) for r in self._rows]) \
            if self._rows else np.zeros((0, self.size))
        self._refrac_sub = np.rint(params.refractory / h).astype(np.int64)
        self._rest = params.i_floor + params.i_dc  # where I_mem relaxes without input
        self._fb_on = bool(np.any(params.fb_slope > 0))
        self._inv_fb = 1.0 / np.where(params.fb_slope > 0, params.fb_slope, np.inf)
        self._ahp_on = bool(np.any(params.j_ahp > 0))
        self._pending = np.zeros((CIRCUITS, self.size))
        self.spike_offsets = np.zeros(0)
        self.reset()

    # -- state ----------------------------------------------------------------------
    def reset(self) -> None:
        self.i_syn = np.zeros((CIRCUITS, self.size))
        self.i_ahp = np.zeros(self.size)
        for variable in self.population.state_variables:
            self.set(variable, self.population.initial_values[variable])
        self._refrac_left = np.zeros(self.size, dtype=np.int64)
        self._pending[:] = 0.0

    def get(self, variable: str) -> np.ndarray:
        self._check_variable(variable)
        p = self.params
        if variable == "v":
            return p.v_low + (self.i_mem - p.i_floor) / p.kappa
        if variable == "w":
            return self.i_ahp / p.ahp_gain
        circuit = self._readback.get(variable)
        if circuit is None:  # a receptor no projection uses: no circuit, no current
            return np.zeros(self.size)
        return circuit.weight_sign * self.i_syn[int(circuit.type)] / (
            p.gain[int(circuit.type)] * circuit.scale)

    def set(self, variable: str, values: np.ndarray) -> None:
        self._check_variable(variable)
        values = self._per_neuron(variable, values)
        p = self.params
        if variable == "v":
            self.i_mem = np.maximum(p.i_floor + p.kappa * (values - p.v_low), p.i_floor)
        elif variable == "w":  # the AHP current only subtracts
            self.i_ahp = p.ahp_gain * np.maximum(values, 0.0)
        elif (circuit := self._readback.get(variable)) is not None:
            row = int(circuit.type)
            self.i_syn[row] = p.gain[row] * circuit.scale * np.maximum(
                circuit.weight_sign * values, 0.0)

    # -- input ----------------------------------------------------------------------
    def receive(self, receptor: Receptor | str, drive: np.ndarray) -> None:
        """Synaptic input (PyNN weight units, signed) arriving at the start of the next
        step, as circuit current (nA equivalent) of the receptor's circuit."""
        circuit = self.circuits[key(receptor)]
        self._pending[int(circuit.type)] += np.abs(drive) * circuit.scale

    def compiled_form(self) -> Form:
        """The kernel as the engine's compiled loop runs it (DYNAP-SE's own loop, the same
        float64 operations as :meth:`advance`), its state shared in place."""
        return compiled.form(self)

    # -- dynamics -------------------------------------------------------------------
    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        if i_ext is not None and np.any(i_ext):
            raise ValueError(
                f"Population '{self.population.label}': DYNAP-SE has no per-neuron current "
                "injection; use i_offset (the per-core DC bias)"
            )
        p = self.params
        fired_at = np.full(self.size, -1, dtype=np.int64)
        self.i_syn += self._pending * p.gain
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
            drive = drive + p.fb_slope * feedback_exp(
                np.minimum((self.i_mem - p.i_exp) * self._inv_fb, 50.0))
        i_new = self.i_mem - drive
        i_new *= self._p_mm
        i_new += drive
        for j, r in enumerate(self._rows):
            i_new += self._p_ms[j] * self.i_syn[r]
        self.i_syn *= self._p_ss
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


def _readback(population: Population, circuits: dict[str, Circuit]
              ) -> dict[str, Circuit]:
    """The circuit behind each recordable synaptic variable (PyNN's names)."""
    if population.cell_type.composed:
        return {r.state_variable: circuits[r.name] for r in population.receptors
                if r.name in circuits}
    prefix = "gsyn" if population.cell_type.conductance_based else "isyn"
    return {f"{prefix}_{'exc' if name == Receptor.EXCITATORY.value else 'inh'}": c
            for name, c in circuits.items()}
