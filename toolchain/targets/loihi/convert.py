"""PyNN's ``IF_curr_exp`` and its weights (IR values, in ms/mV/nA/nF) as Loihi integers,
and what the conversion loses.

The integers are the registers of :mod:`~toolchain.targets.loihi.fixed`; the conversion
is shared by the compiler's quantise pass (which reports it) and the engine plug-ins
(which run it), so the report counts exactly what the simulator executes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from toolchain.ir import CellType, Population, Receptor
from toolchain.targets.loihi.fixed import (
    ACT_SHIFT,
    BIAS_EXP_MAX,
    BIAS_MANT_MAX,
    BIAS_MANT_MIN,
    DECAY_MAX,
    DECAY_UNITY,
    DU_OFFSET,
    DV_OFFSET,
    REFRACTORY_MAX,
    UV_LIMIT,
    VTH_MANT_MAX,
    VTH_SHIFT,
    WEIGHT_BITS,
    WEIGHT_EXP_MAX,
    WEIGHT_EXP_MIN,
    LifParameters,
    LoihiNumericsError,
    SignMode,
    _truncate_bits,
    mantissa_range,
    round_mantissas,
)

#: The threshold mantissa the voltage scale aims at.  The scale trades range for
#: resolution: v saturates at +-2^23, i.e. +-4 threshold distances around v_reset with
#: 2^15 (+-60 mV for a 15 mV distance); u wraps beyond ~70 nA of synaptic current at
#: dt = 1 ms, tau_m = 20 ms, cm = 1 nF; and one unit of a_in (2^6 units of u, the
#: resolution of a weight at weight_exp = 0) is then ~0.8 pA at those settings.
DEFAULT_VTH_MANT = 2**15


@dataclass(frozen=True, eq=False)
class LifConversion:
    """A PyNN population as Loihi integers, plus the scales to read the state back.

    Voltage convention: the integer v = 0 is ``v_reset`` (Loihi can only reset to 0), so
    ``v_mV = v_reset + v * mv_per_unit``.  The leak, which pulls towards 0, is pointed at
    ``v_rest`` instead by a constant bias of ``dv/4096 * (v_rest - v_reset)``: the
    sub-threshold dynamics keep their fixed point at v_rest.
    """

    params: LifParameters
    mv_per_unit: float  # mV per integer unit of v (and of u)
    v_origin: np.ndarray  # mV that v = 0 stands for (v_reset), per neuron
    units_per_na: float  # u units that stand for 1 nA of synaptic current
    bias_units_per_na: float  # v units per step that stand for 1 nA of constant current
    u0: np.ndarray
    v0: np.ndarray
    report: dict[str, float] = field(default_factory=dict)
    # a second, dendritic compartment for the inhibitory receptor (tau_syn_I's decay differs
    # from tau_syn_E's): its u_d units per nA, and its initial current
    units_per_na_inh: float | None = None
    ud0: np.ndarray | None = None

    @property
    def two_compartment(self) -> bool:
        return self.units_per_na_inh is not None

    def units_for(self, receptor: Receptor) -> float:
        """Current units per nA of the compartment a ``receptor`` synapse feeds."""
        if receptor is Receptor.INHIBITORY and self.units_per_na_inh is not None:
            return self.units_per_na_inh
        return self.units_per_na


def _uniform_param(pop: Population, name: str) -> float:
    values = pop.parameters[name]
    if not np.allclose(values, values[0], rtol=1e-6, atol=0.0):
        raise LoihiNumericsError(
            f"Population '{pop.label}' parameter {name} varies between {values.min():g} and "
            f"{values.max():g}; a Loihi compartment group has one {name} (lava LIF: one "
            f"du/dv per process); split the population by {name}"
        )
    return float(values[0])


def decay_constant(tau: float, dt: float, offset: int) -> int:
    """Loihi decay register for time constant ``tau`` (ms): the per-step loss
    1 - exp(-dt/tau) in 1/4096, less the hardware's offset."""
    return int(min(max(round(DECAY_UNITY * -math.expm1(-dt / tau)) - offset, 0), DECAY_MAX))


def bias_to_mant_exp(bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split integer biases into 13-bit mantissas and the smallest 3-bit exponent that fits
    (rounding the mantissa, so a large bias loses its low bits); saturates beyond range."""
    b = np.asarray(bias, dtype=np.float64)
    exp = np.zeros(b.shape, dtype=np.int64)
    for e in range(BIAS_EXP_MAX + 1):
        exp = np.where(np.abs(b) / 2**exp > BIAS_MANT_MAX, e, exp)
    mant = np.clip(np.rint(b / 2.0**exp), BIAS_MANT_MIN, BIAS_MANT_MAX).astype(np.int64)
    return mant, exp


def why_not_cuba(pop: Population) -> str:
    """The hardware fact that keeps ``pop``'s cell type off a CUBA LIF compartment, whose
    update is linear: u decays and sums weighted spikes, v decays and adds u and a bias."""
    cell = pop.cell_type
    if cell is CellType.IZHIKEVICH:
        return ("its membrane has a quadratic term in v and a recovery variable, and a "
                "compartment's voltage update is linear (v decays by dv and adds u)")
    if cell in (CellType.ADEXP, CellType.EIF_COND_EXP_ISFA_ISTA,
                CellType.EIF_COND_ALPHA_ISFA_ISTA):
        return ("its membrane has an exponential spike-initiation term and an adaptation "
                "current, and a compartment's voltage update is linear")
    if cell is CellType.HH_COND_EXP:
        return ("its membrane has Hodgkin-Huxley sodium and potassium gates, and a "
                "compartment's voltage update is linear")
    composed_cond = cell.composed and any(r.shape.value != "curr_exp" for r in pop.receptors)
    if cell.conductance_based or composed_cond:
        return ("its synaptic input is a conductance (a product with v), which Loihi's "
                "current-based compartment cannot compute")
    if cell.composed and not composed_cond:
        return ("a composed PointNeuron's named receptors are not mapped onto a "
                "compartment's synaptic input (the conversion takes IF_curr_exp's two)")
    if cell is CellType.IF_CURR_DELTA:
        return ("a delta synapse moves v by the weight in mV, and a compartment's input "
                "enters its current u, which the voltage integrates")
    return ("an alpha-shaped current is one exponential filter feeding another, and a "
            "compartment's current decays once (a dendrite's current joins the soma's "
            "voltage, not its current)")


def convert_population(pop: Population, dt: float, *,
                       vth_mant: int = DEFAULT_VTH_MANT,
                       clip_refractory: bool = False) -> LifConversion:
    """Map an ``IF_curr_exp`` population onto Loihi CUBA LIF integers.

    - ``dv`` from tau_m and ``du`` from tau_syn by exact exponential decay per step
      (Loihi's u decays by du + 1, lava's ds_offset);
    - one voltage scale per population, chosen so that the largest threshold distance
      (v_thresh - v_reset) has mantissa ``vth_mant``;
    - a constant current of 1 nA adds ``R * dv/4096`` mV per step, the gain that keeps
      its steady state at R * I exactly; i_offset becomes bias;
    - a synaptic current is scaled so that the charge of one PSC, and so the area of the
      PSP, is exact despite the quantised decays: ``tau_syn * (du + 1) / 4096 / dt`` times
      the constant-current gain (without it a 1 ms step makes PSPs ~10 % too large);
    - tau_refrac to whole steps (Loihi 1: at most 63).

    - tau_syn_E and tau_syn_I with different decay registers: a second, dendritic
      compartment per neuron carries the inhibitory current with du from tau_syn_I,
      joined to the soma (``fixed.LifCompartments``), its own charge-exact scale.

    What cannot be mapped raises :class:`LoihiNumericsError` naming the population: other
    cell types, parameters that vary within the population; a refractory period beyond
    the register too, unless ``clip_refractory`` (the compiler records it as a broken
    limit first).
    """
    what = f"Population '{pop.label}'"
    if pop.cell_type is not CellType.IF_CURR_EXP:
        raise LoihiNumericsError(
            f"{what}: cell type {pop.cell_type.value} cannot be mapped exactly to Loihi's "
            f"CUBA LIF: {why_not_cuba(pop)}; use IF_curr_exp"
        )
    if not 0 < vth_mant <= VTH_MANT_MAX:
        raise LoihiNumericsError(f"vth_mant = {vth_mant} is outside 1..{VTH_MANT_MAX}")
    p = pop.parameters
    tau_m, cm = _uniform_param(pop, "tau_m"), _uniform_param(pop, "cm")
    tau_e, tau_i = _uniform_param(pop, "tau_syn_E"), _uniform_param(pop, "tau_syn_I")
    du = decay_constant(tau_e, dt, DU_OFFSET)
    du_inh = decay_constant(tau_i, dt, DU_OFFSET)
    dendrite = du_inh != du  # one compartment's u has one decay: the other needs its own
    dv = decay_constant(tau_m, dt, DV_OFFSET)
    leak = dv / DECAY_UNITY
    # per nA and step: R * (1 - e^(-dt/tau_m)) mV; a perfect integrator (dv = 0): dt/cm
    mv_per_na_step = (tau_m / cm) * leak if dv > 0 else dt / cm
    distance = p["v_thresh"] - p["v_reset"]
    units_per_mv = vth_mant * 2**VTH_SHIFT / float(distance.max())
    vth = np.rint(distance * units_per_mv / 2**VTH_SHIFT).astype(np.int64)
    bias_mv = leak * (p["v_rest"] - p["v_reset"]) + mv_per_na_step * p["i_offset"]
    bias_mant, bias_exp = bias_to_mant_exp(bias_mv * units_per_mv)
    refractory = np.rint(p["tau_refrac"] / dt).astype(np.int64)
    if clip_refractory:  # a non-strict compile that recorded the violation carries on
        refractory = np.minimum(refractory, REFRACTORY_MAX)
    if refractory.max() > REFRACTORY_MAX:
        i = int(np.argmax(refractory))
        raise LoihiNumericsError(
            f"{what} parameter tau_refrac[{i}] = {p['tau_refrac'][i]:g} ms is "
            f"{refractory[i]} steps of dt = {dt:g} ms; Loihi's refractory delay is at most "
            f"{REFRACTORY_MAX} steps; shorten tau_refrac or use a larger dt"
        )
    params = LifParameters.build(pop.label, pop.size, du=du, dv=dv, vth=vth,
                                 bias_mant=bias_mant, bias_exp=bias_exp,
                                 refractory=refractory,
                                 du_dendrite=du_inh if dendrite else None)
    mv_per_unit = 1.0 / units_per_mv
    bias_units_per_na = mv_per_na_step * units_per_mv
    charge = tau_e * (du + DU_OFFSET) / DECAY_UNITY / dt
    units_per_na = bias_units_per_na * charge
    units_inh = bias_units_per_na * tau_i * (du_inh + DU_OFFSET) / DECAY_UNITY / dt
    init = pop.initial_values
    v0 = np.clip(np.rint((init["v"] - p["v_reset"]) * units_per_mv), -UV_LIMIT + 1,
                 UV_LIMIT - 1).astype(np.int64)
    i0 = init["isyn_exc"] + (0.0 if dendrite else init["isyn_inh"])
    u0 = np.clip(np.rint(i0 * units_per_na), -UV_LIMIT, UV_LIMIT).astype(np.int64)
    ud0 = np.clip(np.rint(init["isyn_inh"] * units_inh), -UV_LIMIT, UV_LIMIT).astype(np.int64) \
        if dendrite else None
    bias_real = bias_mv * units_per_mv
    report = {
        "dv_tau_m_ms": dt / -math.log1p(-leak) if 0 < dv < DECAY_UNITY else math.inf,
        "du_tau_syn_ms": _realised_tau(du, dt),
        "du_tau_syn_inh_ms": _realised_tau(du_inh, dt),
        "compartments_per_neuron": 2 if dendrite else 1,
        "vth_max_rel_error": float(np.max(np.abs(vth * 2**VTH_SHIFT / units_per_mv - distance)
                                          / distance)),
        "bias_max_abs_error_mv": float(np.max(np.abs(params.bias - bias_real)) / units_per_mv),
        "bias_saturated": int(np.sum(np.abs(bias_real) > BIAS_MANT_MAX * 2**BIAS_EXP_MAX)),
        "refractory_max_abs_error_ms": float(np.max(np.abs(refractory * dt - p["tau_refrac"]))),
    }
    return LifConversion(params=params, mv_per_unit=mv_per_unit, v_origin=p["v_reset"].copy(),
                         units_per_na=units_per_na, bias_units_per_na=bias_units_per_na,
                         u0=u0, v0=v0, report=report,
                         units_per_na_inh=units_inh if dendrite else None, ud0=ud0)


def _realised_tau(du: int, dt: float) -> float:
    """The synaptic time constant (ms) a current decay register realises."""
    return dt / -math.log1p(-(du + DU_OFFSET) / DECAY_UNITY) \
        if du + DU_OFFSET < DECAY_UNITY else 0.0


@dataclass(frozen=True, eq=False)
class WeightConversion:
    """A projection's weights as Loihi mantissas, and what the format cost."""

    mantissas: np.ndarray  # int64, exactly representable (effective_mantissas is a no-op)
    weight_exp: int
    num_weight_bits: int
    sign_mode: SignMode
    na_per_mantissa: float  # nA one mantissa unit stands for
    n_zeroed: int  # non-zero weights that became 0
    n_saturated: int  # weights beyond the largest mantissa, clipped
    max_rel_error: float  # over the non-zero weights that kept a value
    mean_rel_error: float


def convert_weights(label: str, weights_na: np.ndarray, units_per_na: float, *,
                    num_weight_bits: int = WEIGHT_BITS,
                    weight_exp: int | None = None) -> WeightConversion:
    """Quantise weights (nA, signed: inhibitory current-based weights are negative) for a
    post population whose u gains ``units_per_na`` per nA (from :func:`convert_population`).

    One spike of mantissa m adds ``(m << weight_exp) << 6`` to u, so the exponent is the
    smallest that fits the largest |weight| into the mantissa range, but not below 0: a
    negative exponent shifts the *sum* of a step's mantissas right, which floors it, so
    a lone spike keeps no more resolution than at exponent 0 and every step loses half a
    unit on average.  (Small weights want a larger voltage scale, ``vth_mant``, instead.)
    Mixed-sign projections lose one mantissa bit (lava truncates their last bit); a
    projection of one sign keeps all 8.
    """
    w = np.asarray(weights_na)
    sign_mode = SignMode.of(w)
    low, high = mantissa_range(sign_mode, num_weight_bits)
    step = 1 << _truncate_bits(num_weight_bits, sign_mode)
    to_units = units_per_na / 2**ACT_SHIFT  # mantissa units per nA at weight_exp = 0
    w_max = float(w.max()) * to_units if w.size else 0.0
    w_min = float(w.min()) * to_units if w.size else 0.0
    if weight_exp is None:
        weight_exp = next((e for e in range(0, WEIGHT_EXP_MAX + 1)
                           if w_max / 2**e <= high + step / 2
                           and w_min / 2**e >= low - step / 2), WEIGHT_EXP_MAX)
    elif not WEIGHT_EXP_MIN <= weight_exp <= WEIGHT_EXP_MAX:
        raise LoihiNumericsError(
            f"Projection '{label}': weight_exp = {weight_exp} is outside the Loihi range "
            f"{WEIGHT_EXP_MIN}..{WEIGHT_EXP_MAX}"
        )
    na_per_mantissa = 2**(ACT_SHIFT + weight_exp) / units_per_na
    # mantissas fit int16; chunks bound the float64 temporaries for projections of
    # hundreds of millions of synapses (the full-scale microcircuit)
    mant = np.empty(w.shape, dtype=np.int16)
    zeroed = saturated = kept = 0
    max_rel = sum_rel = 0.0
    for a in range(0, w.size, _CHUNK):
        chunk = np.asarray(w[a:a + _CHUNK], dtype=np.float64)
        m, sat = round_mantissas(chunk * (to_units / 2**weight_exp), sign_mode,
                                 num_weight_bits)
        mant[a:a + _CHUNK] = m
        saturated += int(np.count_nonzero(sat))
        nonzero = chunk != 0
        lost = nonzero & (m == 0)
        zeroed += int(np.count_nonzero(lost))
        keep = nonzero & ~lost
        if np.any(keep):
            rel = np.abs(m[keep] * na_per_mantissa - chunk[keep]) / np.abs(chunk[keep])
            max_rel = max(max_rel, float(rel.max()))
            sum_rel += float(rel.sum())
            kept += int(rel.size)
    return WeightConversion(
        mantissas=mant, weight_exp=int(weight_exp), num_weight_bits=num_weight_bits,
        sign_mode=sign_mode, na_per_mantissa=float(na_per_mantissa),
        n_zeroed=zeroed, n_saturated=saturated, max_rel_error=max_rel,
        mean_rel_error=sum_rel / kept if kept else 0.0,
    )


_CHUNK = 1 << 22




class WeightFormat(Protocol):
    """How a projection's weights are stored: what the learning engine's mapping reads
    (a :class:`WeightConversion`, or the engine's weight codec)."""

    sign_mode: SignMode
    num_weight_bits: int
    na_per_mantissa: float
