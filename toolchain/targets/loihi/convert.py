"""PyNN's ``IF_curr_exp`` (and composed LIF cells of exponential current receptors) and
their weights (IR values, in ms/mV/nA/nF) as Loihi integers, and what the conversion
loses.

The integers are the registers of :mod:`~toolchain.targets.loihi.fixed`; the conversion
is shared by the compiler's quantise pass (which reports it) and the engine plug-ins
(which run it), so the report counts exactly what the simulator executes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from toolchain.ir import CellType, Population, Receptor, ResponseShape
from toolchain.sim.kernels import exp_currents
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

    Compartment 0 is the soma (its current u, ``units_per_na``); each further one a
    dendrite with its own current decay (``dendrite_units``, ``ud0``): the inhibitory
    receptor whose tau_syn_I needs another decay than tau_syn_E, or every named receptor
    of a composed cell after its first.  ``feeds`` maps a receptor to its compartment (a
    receptor not listed feeds the soma) and ``variables`` names the state variable each
    compartment's current is (None: the soma's one current, read as the numerics say).
    """

    params: LifParameters
    mv_per_unit: float  # mV per integer unit of v (and of u)
    v_origin: np.ndarray  # mV that v = 0 stands for (v_reset), per neuron
    units_per_na: float  # u units that stand for 1 nA of synaptic current
    bias_units_per_na: float  # v units per step that stand for 1 nA of constant current
    u0: np.ndarray
    v0: np.ndarray
    report: dict[str, float] = field(default_factory=dict)
    dendrite_units: tuple[float, ...] = ()
    ud0: tuple[np.ndarray, ...] = ()
    feeds: Mapping[Receptor | str, int] = field(default_factory=dict)
    variables: tuple[str | None, ...] = (None,)

    @property
    def compartments(self) -> int:
        return 1 + len(self.dendrite_units)

    @property
    def units(self) -> tuple[float, ...]:
        """Current units per nA of each compartment."""
        return (self.units_per_na, *self.dendrite_units)

    def compartment_of(self, receptor: Receptor | str) -> int:
        return self.feeds.get(receptor, 0)  # a str enum: "excitatory" finds it too

    def units_for(self, receptor: Receptor | str) -> float:
        """Current units per nA of the compartment a ``receptor`` synapse feeds."""
        return self.units[self.compartment_of(receptor)]


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
    return ("an alpha-shaped current is one exponential filter feeding another, and a "
            "compartment's current decays once (a dendrite's current joins the soma's "
            "voltage, not its current)")


def receptor_currents(pop: Population) -> list[tuple[Receptor | str, str, float]]:
    """(receptor, state variable, tau_syn) of each exponential current of an
    ``IF_curr_exp`` or an all-CurrExp composed ``LIF`` population, its time constant
    uniform (a compartment group has one decay register per current)."""
    out = []
    for receptor, variable, tau in exp_currents(pop):
        if not np.allclose(tau, tau[0], rtol=1e-6, atol=0.0):
            name = ({"isyn_exc": "tau_syn_E", "isyn_inh": "tau_syn_I"}.get(variable)
                    or f"receptor {receptor} tau_syn")
            raise LoihiNumericsError(
                f"Population '{pop.label}' parameter {name} varies between {tau.min():g} "
                f"and {tau.max():g}; a Loihi compartment group has one {name} (lava LIF: "
                f"one du/dv per process); split the population by {name}")
        out.append((receptor, variable, float(tau[0])))
    return out


def cuba_mappable(pop: Population) -> bool:
    """A cell whose synapses are exponential currents (IF_curr_exp, or a composed LIF all
    of whose receptors are CurrExp) or jumps of v (IF_curr_delta: a current cleared every
    step)."""
    if pop.cell_type in (CellType.IF_CURR_EXP, CellType.IF_CURR_DELTA):
        return True
    return pop.cell_type is CellType.LIF and all(
        r.shape is ResponseShape.CURR_EXP for r in pop.receptors)


def compartment_taus(pop: Population, dt: float
                     ) -> tuple[list[float], dict[Receptor | str, int], list[str | None]]:
    """The compartments a neuron of ``pop`` needs: each one's tau_syn, which compartment
    each receptor feeds, and the state variable each compartment's current is (None: the
    soma's current is shared by IF_curr_exp's two receptors).

    IF_curr_exp: the soma, plus a dendrite for the inhibitory current when tau_syn_I needs
    another decay register than tau_syn_E.  A composed LIF: one compartment per receptor
    (the first one's current in the soma), so that every receptor keeps its own decay and
    records apart, as PyNN's PointNeuron keeps one current per receptor."""
    if pop.cell_type is CellType.IF_CURR_DELTA:  # tau 0: u holds one step's input
        return [0.0], {Receptor.EXCITATORY: 0, Receptor.INHIBITORY: 0}, [None]
    currents = receptor_currents(pop)
    if pop.cell_type is CellType.IF_CURR_EXP:
        (exc, _, tau_e), (inh, _, tau_i) = currents
        if decay_constant(tau_i, dt, DU_OFFSET) == decay_constant(tau_e, dt, DU_OFFSET):
            return [tau_e], {exc: 0, inh: 0}, [None]
        return [tau_e, tau_i], {exc: 0, inh: 1}, ["isyn_exc", "isyn_inh"]
    if not currents:  # a composed cell without receptors: the soma's u stays 0
        return [math.inf], {}, [None]
    return ([tau for _, _, tau in currents], {r: k for k, (r, _, _) in enumerate(currents)},
            [var for _, var, _ in currents])


def convert_population(pop: Population, dt: float, *,
                       vth_mant: int = DEFAULT_VTH_MANT,
                       clip_refractory: bool = False) -> LifConversion:
    """Map an ``IF_curr_exp`` population (or a composed LIF with CurrExp receptors, or an
    ``IF_curr_delta`` one) onto Loihi CUBA LIF integers.

    - ``dv`` from tau_m and ``du`` from tau_syn by exact exponential decay per step
      (Loihi's u decays by du + 1, lava's ds_offset);
    - one voltage scale per population, chosen so that the largest threshold distance
      (v_thresh - v_reset) has mantissa ``vth_mant``;
    - a constant current of 1 nA adds ``R * dv/4096`` mV per step, the gain that keeps
      its steady state at R * I exactly; i_offset becomes bias;
    - a synaptic current is scaled so that the charge of one PSC, and so the area of the
      PSP, is exact despite the quantised decays: ``tau_syn * (du + 1) / 4096 / dt`` times
      the constant-current gain (without it a 1 ms step makes PSPs ~10 % too large);
    - tau_refrac to whole steps (Loihi 1: at most 63);
    - IF_curr_delta: du = 4095 clears u every step, so a weight moves v once, by its mV
      (times one voltage decay: the jump lands a step after the reference's).  A jump that
      arrives while the neuron is refractory is lost (v is held at 0), where the
      reference keeps it.

    - a current that needs a decay of its own (tau_syn_I's differing from tau_syn_E's, a
      composed cell's further receptors, :func:`compartment_taus`) gets a dendritic
      compartment per neuron with du from its tau, joined to the soma
      (``fixed.LifCompartments``), with its own charge-exact scale.

    What cannot be mapped raises :class:`LoihiNumericsError` naming the population: other
    cell types, parameters that vary within the population; a refractory period beyond
    the register too, unless ``clip_refractory`` (the compiler records it as a broken
    limit first).
    """
    what = f"Population '{pop.label}'"
    if not cuba_mappable(pop):
        raise LoihiNumericsError(
            f"{what}: cell type {pop.cell_type.value} cannot be mapped exactly to Loihi's "
            f"CUBA LIF: {why_not_cuba(pop)}; use IF_curr_exp"
        )
    if not 0 < vth_mant <= VTH_MANT_MAX:
        raise LoihiNumericsError(f"vth_mant = {vth_mant} is outside 1..{VTH_MANT_MAX}")
    p = pop.parameters
    tau_m, cm = _uniform_param(pop, "tau_m"), _uniform_param(pop, "cm")
    taus, feeds, variables = compartment_taus(pop, dt)
    dus = [decay_constant(t, dt, DU_OFFSET) if 0 < t < math.inf else DECAY_MAX
           for t in taus]  # du = 4095: u decays by 4096, cleared every step
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
    params = LifParameters.build(pop.label, pop.size, du=dus[0], dv=dv, vth=vth,
                                 bias_mant=bias_mant, bias_exp=bias_exp,
                                 refractory=refractory, du_dendrites=tuple(dus[1:]))
    mv_per_unit = 1.0 / units_per_mv
    bias_units_per_na = mv_per_na_step * units_per_mv
    # the charge of one PSC kept exact despite the quantised decay; a delta synapse's
    # weight (mV) enters v a step after the reference's jump, so one voltage decay less
    units = [bias_units_per_na * t * (du + DU_OFFSET) / DECAY_UNITY / dt if 0 < t < math.inf
             else units_per_mv * (1 - leak) if t == 0 else bias_units_per_na
             for t, du in zip(taus, dus, strict=True)]
    init = pop.initial_values
    v0 = np.clip(np.rint((init["v"] - p["v_reset"]) * units_per_mv), -UV_LIMIT + 1,
                 UV_LIMIT - 1).astype(np.int64)
    start = [np.zeros(pop.size) for _ in taus]  # nA per compartment
    for receptor, variable, _ in receptor_currents(pop):
        start[feeds[receptor]] = start[feeds[receptor]] + init[variable]
    u_start = [np.clip(np.rint(i0 * k), -UV_LIMIT, UV_LIMIT).astype(np.int64)
               for i0, k in zip(start, units, strict=True)]
    bias_real = bias_mv * units_per_mv
    report = {
        "dv_tau_m_ms": dt / -math.log1p(-leak) if 0 < dv < DECAY_UNITY else math.inf,
        "du_tau_syn_ms": _realised_tau(dus[0], dt),
        "du_tau_syn_inh_ms": _realised_tau(dus[feeds.get(Receptor.INHIBITORY, 0)], dt),
        "compartments_per_neuron": len(taus),
        "vth_max_rel_error": float(np.max(np.abs(vth * 2**VTH_SHIFT / units_per_mv - distance)
                                          / distance)),
        "bias_max_abs_error_mv": float(np.max(np.abs(params.bias - bias_real)) / units_per_mv),
        "bias_saturated": int(np.sum(np.abs(bias_real) > BIAS_MANT_MAX * 2**BIAS_EXP_MAX)),
        "refractory_max_abs_error_ms": float(np.max(np.abs(refractory * dt - p["tau_refrac"]))),
    }
    if pop.cell_type.composed:
        report.update({f"du_tau_syn_ms[{r}]": _realised_tau(dus[k], dt)
                       for r, k in feeds.items()})
    return LifConversion(params=params, mv_per_unit=mv_per_unit, v_origin=p["v_reset"].copy(),
                         units_per_na=units[0], bias_units_per_na=bias_units_per_na,
                         u0=u_start[0], v0=v0, report=report,
                         dendrite_units=tuple(units[1:]), ud0=tuple(u_start[1:]),
                         feeds=feeds, variables=tuple(variables))


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


# --------------------------------------------------------------------------- noise
# A compartment's noise generator (Davies et al. 2018, IEEE Micro 38(1): noise added to u
# or v; nengo-loihi's emulator, emulator/interface.py NoiseState, and its hardware builder,
# hardware/nxsdk_builder.py dendriteSharedCfg): every step an 8-bit uniform draw r in
# -128..127 becomes (r + 64 * noiseMantOffset0) * 2^(noiseExp0 - 7) and is added to v
# (noiseAtDendOrVm = 1) of each compartment whose enableNoise is set.  Exponent, offset
# and target are one per core; nengo-loihi refuses exponents below 7 ("Noise amplitude
# falls below lower limit").  The generator's own sequence (an LFSR) is not published:
# the draws here come from numpy's generator, seeded per source [unverified: the LFSR].
NOISE_EXP_MIN = 7
NOISE_EXP_MAX = 22  # ours: a draw of 128 << (exp - 7) stays within v's 24 bits
NOISE_DRAW_LOW, NOISE_DRAW_HIGH = -128, 128  # numpy's integers(): high is exclusive
#: standard deviation of one draw r (a uniform integer on -128..127)
NOISE_DRAW_SD = math.sqrt(((NOISE_DRAW_HIGH - NOISE_DRAW_LOW) ** 2 - 1) / 12.0)


@dataclass(frozen=True)
class NoiseConversion:
    """A NoisyCurrentSource on Loihi's noise generator: its mean goes to the bias (with the
    draw's shift of -1/2 unit taken out), its fluctuation is the generator's uniform draw
    at the exponent whose spread is nearest to what the source's Gaussian puts into v per
    step (its variance over each of its intervals kept: stdev * sqrt(dt_noise / dt))."""

    label: str
    exp: int
    mean_na: float  # the bias schedule's amplitude: the mean, less the draw's shift
    stdev_na: float  # per step, the source's (its interval's variance spread over steps)
    realised_stdev_na: float  # per step, the generator's at ``exp``

    @property
    def multiplier(self) -> int:
        """What one unit of a draw adds to v (0: the generator is off, stdev 0)."""
        return 1 << (self.exp - NOISE_EXP_MIN) if self.stdev_na else 0

    @property
    def stdev_rel_error(self) -> float:
        return self.realised_stdev_na / self.stdev_na - 1.0 if self.stdev_na else 0.0


def convert_noise(label: str, mean: float, stdev: float, noise_dt: float, dt: float,
                  bias_units_per_na: float) -> NoiseConversion:
    """The generator setting for one noisy source into a population whose v gains
    ``bias_units_per_na`` per step and nA of constant current (:func:`convert_population`)."""
    per_step = stdev * math.sqrt(noise_dt / dt)
    if per_step == 0:
        return NoiseConversion(label, NOISE_EXP_MIN, mean, 0.0, 0.0)
    want = per_step * bias_units_per_na / NOISE_DRAW_SD  # the multiplier that matches
    exp = NOISE_EXP_MIN + round(math.log2(want))
    if exp > NOISE_EXP_MAX:
        raise LoihiNumericsError(
            f"NoisyCurrentSource '{label}': stdev = {stdev:g} nA needs noise exponent {exp}, "
            f"beyond {NOISE_EXP_MAX} (a draw would leave v's 24 bits); lower stdev, or "
            "raise the population's voltage scale (a larger threshold distance)")
    exp = max(exp, NOISE_EXP_MIN)
    mult = 1 << (exp - NOISE_EXP_MIN)
    shift_na = -0.5 * mult / bias_units_per_na  # the draw's mean, -1/2, times mult
    return NoiseConversion(label, exp, mean - shift_na, per_step,
                           NOISE_DRAW_SD * mult / bias_units_per_na)
