"""Loihi's fixed-point CUBA LIF and synapse arithmetic, bit for bit as lava-nc computes it.

The executable reference is lava-nc 0.10's CPU model of Loihi (``PyLifModelBitAcc`` in
``lava/proc/lif/models.py``, ``PyDenseModelBitAcc`` / ``PyDelayDenseModelBitAcc`` in
``lava/proc/dense/models.py``, weight formats in ``lava/utils/weightutils.py``); the test
suite runs lava itself and asserts identical spikes.  One step of a compartment::

    u <- trunc0(u * (4096 - du - 1) / 4096) + (a_in << 6)      wraps once at +-2^23
    v <- trunc0(v * (4096 - dv) / 4096) + u + (bias_mant << bias_exp)
                                                                clipped to +-(2^23 - 1)
    spike if v > (vth << 6); then v <- 0

``trunc0`` rounds toward zero (lava: ``sign(x) * (|x| >> 12)``).  ``a_in`` is the sum of
the weight mantissas of the synapses that fired, shifted by the projection's
``weight_exp`` (an arithmetic shift, so negative exponents floor the *sum*).  lava moves
``a_in`` between processes as int32 and shifts it in int32, so a sum beyond +-2^25
wraps there; :func:`wrap_int32` reproduces that, and the float-to-integer conversion
below never produces such sums.

Everything is vectorised numpy on integers.  The state is kept in float64 arrays that
carry exact integers: every intermediate (24-bit state times 12-bit decay, a_in << 6) is
below 2^53, multiplying or dividing by a power of two is exact, and ``trunc``/``floor``
are the integer roundings; numpy evaluates this several times faster than the equivalent
int64 shifts.  Integer types appear where values leave the model (weights, spikes).

The second half converts PyNN's ``IF_curr_exp`` (float, in ms/mV/nA/nF) to these
integers and reports what the conversion loses.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from toolchain.ir import CellType, Population, Projection, Receptor
from toolchain.sim.kernels import NeuronKernel, StateError
from toolchain.sim.numerics import Numerics
from toolchain.sim.plasticity import PlasticityModel
from toolchain.sim.synapses import SynapseMatrix, WeightCodec

if TYPE_CHECKING:  # learning.py builds on this module
    from toolchain.targets.loihi.learning import LearningRule

# --------------------------------------------------------------------------- constants
# lava-nc src/lava/proc/lif/models.py, AbstractPyLifModelFixed.__init__ and the precisions
# declared with LavaPyType; FACTS.md "CUBA LIF fixed point".
UV_BITS = 24  # u and v registers
UV_LIMIT = 2 ** (UV_BITS - 1)  # lava's max_uv_val: u wraps beyond it, v saturates 1 below
DECAY_SHIFT = 12  # du, dv are 12-bit fractions of 4096
DECAY_UNITY = 2**DECAY_SHIFT
DECAY_MAX = DECAY_UNITY - 1
# Loihi 1's 1-bit decay offsets (lava: ds_offset = 1, dm_offset = 0): the current decays
# by du + 1, so du = 4095 clears u every step; the voltage decays by dv, so dv = 0 is a
# perfect integrator.
DU_OFFSET = 1
DV_OFFSET = 0
ACT_SHIFT = 6  # a_in is MSB-aligned to u by << 6 (lava: act_shift)
VTH_SHIFT = 6  # the threshold mantissa is MSB-aligned to v by << 6 (lava: vth_shift)
VTH_MANT_MAX = 2**17 - 1  # lava PyLifModelBitAcc docstring; nengo-loihi VTH_MAN_MAX
BIAS_MANT_MIN, BIAS_MANT_MAX = -(2**12), 2**12 - 1  # 13-bit signed (lava docstring)
BIAS_EXP_MAX = 7  # 3-bit unsigned (lava docstring; nengo-loihi BIAS_EXP_MAX)
# Weights: 8-bit mantissas (lava clip_weights(num_bits=8)); the exponent is a signed
# 4-bit field (Intel nxsdk_modules lca: "wgtExp must be a signed 4 bit integer").
WEIGHT_BITS = 8
WEIGHT_EXP_MIN, WEIGHT_EXP_MAX = -8, 7
# Refractory delay register: 1..63 steps on Loihi 1 (FACTS.md, nengo-loihi
# hardware/validate.py).  0 means "no refractory period", which is lava's bit-accurate
# LIF (it has none); a refractory compartment holds v at 0 for that many steps.
REFRACTORY_MAX = 63
_INT32 = 2**32


class LoihiNumericsError(ValueError):
    """A value that does not fit Loihi's number formats, or a model Loihi cannot run."""


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to int32, as numpy's int32 arithmetic in lava."""
    return ((x + 2**31) & (_INT32 - 1)) - 2**31


def decay(x: np.ndarray, factor: np.ndarray | int) -> np.ndarray:
    """``x * factor / 4096`` rounded toward zero: lava's ``sign(p) * (|p| >> 12)``.

    Computed in float64, exactly: |x * factor| < 2^37 is an exact float, dividing by
    2^12 only moves its exponent, and ``trunc`` is the rounding toward zero.  numpy does
    these two float operations ~4x faster than the five int64 ones they replace.
    """
    p = x * (factor / DECAY_UNITY)
    return np.trunc(p, out=p)


# --------------------------------------------------------------------------- neurons


def _int_array(value: object, size: int, what: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise LoihiNumericsError(f"{what}: Loihi registers hold integers, got {arr!r}")
    arr = arr.astype(np.int64)
    if arr.ndim == 0:
        arr = np.full(size, int(arr), dtype=np.int64)
    if arr.shape != (size,):
        raise LoihiNumericsError(f"{what}: expected one value or {size} values, got {arr.shape}")
    return arr


def _check_register(arr: np.ndarray, low: int, high: int, what: str, fix: str) -> None:
    bad = (arr < low) | (arr > high)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise LoihiNumericsError(
            f"{what}[{i}] = {int(arr[i])} is outside the Loihi range {low}..{high}; {fix}"
        )


@dataclass(frozen=True, eq=False)
class LifParameters:
    """The integer configuration of a group of CUBA LIF compartments, one entry per neuron.

    lava's LIF keeps du, dv and vth per process; Loihi keeps them per compartment
    configuration (<= 32 per core, FACTS.md), so they are per neuron here and the mapper
    decides how many configurations a core needs.
    """

    label: str
    du: np.ndarray
    dv: np.ndarray
    vth: np.ndarray  # mantissa; the effective threshold is vth << 6
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    refractory: np.ndarray  # steps v is held at 0 after a spike; 0 = none (as lava)

    @classmethod
    def build(cls, label: str, size: int, *, du: object, dv: object, vth: object,
              bias_mant: object = 0, bias_exp: object = 0,
              refractory: object = 0) -> LifParameters:
        """Per-neuron arrays from scalars or arrays, checked against the register widths."""
        what = f"Population '{label}'"
        values = {name: _int_array(v, size, f"{what} {name}") for name, v in (
            ("du", du), ("dv", dv), ("vth", vth), ("bias_mant", bias_mant),
            ("bias_exp", bias_exp), ("refractory", refractory))}
        limits = {
            "du": (0, DECAY_MAX, "du is 12 bits; 4095 is the fastest current decay"),
            "dv": (0, DECAY_MAX, "dv is 12 bits; 4095 is the fastest voltage decay"),
            "vth": (0, VTH_MANT_MAX, "lower the threshold or the voltage scale"),
            "bias_mant": (BIAS_MANT_MIN, BIAS_MANT_MAX, "raise bias_exp"),
            "bias_exp": (0, BIAS_EXP_MAX, "the bias exponent is 3 bits"),
            "refractory": (0, REFRACTORY_MAX, "shorten tau_refrac"),
        }
        for name, (low, high, fix) in limits.items():
            _check_register(values[name], low, high, f"{what} {name}", fix)
        return cls(label=label, **values)

    @property
    def size(self) -> int:
        return int(self.du.size)

    @property
    def bias(self) -> np.ndarray:
        """The bias added to v every step."""
        return self.bias_mant << self.bias_exp

    @property
    def threshold(self) -> np.ndarray:
        """The value v must exceed to spike."""
        return self.vth << VTH_SHIFT


def _uniform(arr: np.ndarray) -> np.ndarray | int:
    """A scalar when all entries agree: numpy ops with a Python int are cheaper."""
    return int(arr[0]) if arr.size and np.all(arr == arr[0]) else arr


class LifCompartments:
    """The state of a group of compartments and one step of their arithmetic."""

    def __init__(self, params: LifParameters, u: object = 0, v: object = 0) -> None:
        self.params = params
        n = params.size
        self._u0 = _int_array(u, n, f"Population '{params.label}' initial u")
        self._v0 = _int_array(v, n, f"Population '{params.label}' initial v")
        _check_register(self._u0, -UV_LIMIT, UV_LIMIT, f"Population '{params.label}' initial u",
                        "u is a 24-bit register")
        _check_register(self._v0, -UV_LIMIT + 1, UV_LIMIT - 1,
                        f"Population '{params.label}' initial v", "v is a 24-bit register")
        self._decay_u = _uniform(DECAY_UNITY - params.du - DU_OFFSET)
        self._decay_v = _uniform(DECAY_UNITY - params.dv - DV_OFFSET)
        self._bias = _uniform(params.bias)
        self._threshold = _uniform(params.threshold)
        self._refractory = params.refractory if np.any(params.refractory) else None
        self.reset()

    def reset(self) -> None:
        self.u = self._u0.astype(np.float64)
        self.v = self._v0.astype(np.float64)
        self.refractory_left = np.zeros(self.params.size, dtype=np.int64)

    def step(self, a_in: np.ndarray | None, extra_bias: np.ndarray | None = None) -> np.ndarray:
        """Advance one step with synaptic input ``a_in`` (integers, already shifted by each
        projection's weight_exp); return the indices of compartments that spiked."""
        u = decay(self.u, self._decay_u)
        if a_in is not None:
            decayed = u
            u = a_in * float(1 << ACT_SHIFT)
            u += decayed
            # Fast path: nothing near the 24-bit edge.  An int32 overflow in lava needs
            # |a_in << 6| >= 2^31 - 2^23, which puts u beyond 2^23 too, so one range check
            # catches both rare cases.
            if u.max() > UV_LIMIT or u.min() <= -UV_LIMIT:
                u = self._wrap(decayed, a_in)
        self.u = u
        v = decay(self.v, self._decay_v)
        v += u
        v += self._bias
        if extra_bias is not None:
            v += extra_bias
        np.minimum(v, UV_LIMIT - 1, out=v)
        np.maximum(v, -UV_LIMIT + 1, out=v)
        if self._refractory is not None:
            holding = self.refractory_left > 0
            v[holding] = 0
            self.refractory_left[holding] -= 1
        self.v = v
        fired = np.flatnonzero(v > self._threshold)
        if fired.size:
            v[fired] = 0
            if self._refractory is not None:
                self.refractory_left[fired] = self._refractory[fired]
        return fired

    @staticmethod
    def _wrap(decayed: np.ndarray, a_in: np.ndarray) -> np.ndarray:
        """u as lava computes it when it leaves 24 bits: a_in shifted and added in int32
        (AbstractPyLifModelFixed.subthr_dynamics), then one conditional wrap each way."""
        a = np.asarray(a_in).astype(np.int64)
        d = decayed.astype(np.int64)
        act = a << ACT_SHIFT
        if act.max() >= 2**31 - UV_LIMIT or act.min() < -(2**31) + UV_LIMIT:
            u = wrap_int32(d + wrap_int32(wrap_int32(a) << ACT_SHIFT))
        else:
            u = d + act
        u = np.where(u > UV_LIMIT, u - 2 * UV_LIMIT, u)
        return np.where(u <= -UV_LIMIT, u + 2 * UV_LIMIT, u).astype(np.float64)


# --------------------------------------------------------------------------- synapses


class SignMode(enum.IntEnum):
    """How a projection's 8-bit mantissas are read (lava weightutils.SignMode)."""

    MIXED = 1  # signed; loses its least significant bit
    EXCITATORY = 2  # 0..255
    INHIBITORY = 3  # -255..0

    @classmethod
    def of(cls, mantissas: np.ndarray) -> SignMode:
        """The mode lava derives from the values (weightutils.determine_sign_mode)."""
        if mantissas.size == 0 or mantissas.min() >= 0:
            return cls.EXCITATORY
        if mantissas.max() <= 0:
            return cls.INHIBITORY
        return cls.MIXED


def _truncate_bits(num_weight_bits: int, sign_mode: SignMode) -> int:
    return WEIGHT_BITS - num_weight_bits + int(sign_mode is SignMode.MIXED)


def mantissa_step(sign_mode: SignMode, num_weight_bits: int = WEIGHT_BITS) -> int:
    """Distance between neighbouring mantissas the format can hold (learning rounds to it)."""
    return 1 << _truncate_bits(num_weight_bits, sign_mode)


def effective_mantissas(mantissas: np.ndarray, sign_mode: SignMode,
                        num_weight_bits: int = WEIGHT_BITS) -> np.ndarray:
    """What the synapse memory holds for the requested mantissas: lava's
    ``clip_weights(num_bits=8)`` then ``truncate_weights`` (PyDenseModelBitAcc)."""
    if not 1 <= num_weight_bits <= WEIGHT_BITS:
        raise LoihiNumericsError(
            f"num_weight_bits = {num_weight_bits} is outside 1..{WEIGHT_BITS}"
        )
    m = np.asarray(mantissas, dtype=np.int64)
    sign = -1 if sign_mode is SignMode.INHIBITORY else 1
    m = sign * m
    low = -(2**WEIGHT_BITS) if sign_mode is SignMode.MIXED else 0
    m = np.clip(m, low, 2**WEIGHT_BITS - 1)
    shift = _truncate_bits(num_weight_bits, sign_mode)
    return sign * ((m >> shift) << shift)


def mantissa_range(sign_mode: SignMode, num_weight_bits: int = WEIGHT_BITS) -> tuple[int, int]:
    """Smallest and largest mantissa the format can hold exactly."""
    step = 1 << _truncate_bits(num_weight_bits, sign_mode)
    top = ((2**WEIGHT_BITS - 1) // step) * step
    if sign_mode is SignMode.MIXED:
        return -(2**WEIGHT_BITS), top
    if sign_mode is SignMode.INHIBITORY:
        return -top, 0
    return 0, top


def round_mantissas(scaled: np.ndarray, sign_mode: SignMode,
                    num_weight_bits: int = WEIGHT_BITS) -> tuple[np.ndarray, np.ndarray]:
    """Nearest representable mantissas to real-valued ``scaled`` ones, and which saturated."""
    low, high = mantissa_range(sign_mode, num_weight_bits)
    step = 1 << _truncate_bits(num_weight_bits, sign_mode)
    mant = np.rint(np.asarray(scaled, dtype=np.float64) / step) * step
    saturated = (mant > high) | (mant < low)
    return np.clip(mant, low, high).astype(np.int64), saturated


def shift_by_exp(accumulated: np.ndarray, weight_exp: int) -> np.ndarray:
    """The projection's exponent applied to its accumulated mantissas (lava's a_buff):
    an arithmetic shift, so a negative exponent floors.  Integer or exact-float input."""
    if weight_exp == 0:
        return accumulated
    if np.issubdtype(accumulated.dtype, np.integer):
        return accumulated << weight_exp if weight_exp >= 0 else accumulated >> -weight_exp
    scaled = accumulated * 2.0**weight_exp
    return scaled if weight_exp >= 0 else np.floor(scaled, out=scaled)


def _check_weight_exp(weight_exp: int, label: str) -> None:
    if not WEIGHT_EXP_MIN <= weight_exp <= WEIGHT_EXP_MAX:
        raise LoihiNumericsError(
            f"Projection '{label}': weight_exp = {weight_exp} is outside the Loihi range "
            f"{WEIGHT_EXP_MIN}..{WEIGHT_EXP_MAX}"
        )


class DenseSynapses:
    """One projection's effective mantissas as a (n_pre, n_post) matrix: a step sums the
    rows of the neurons that fired, which beats gathering CSR rows once a spike reaches
    a sizeable fraction of the post population (lava's ``Dense`` holds the transpose).

    The matrix is float32 while every partial sum is an integer below 2^24 (at most
    65536 pre neurons of |mantissa| <= 256), float64 beyond: either way the sums are
    exact, and numpy gathers and reduces float32 rows about twice as fast as float64.
    """

    def __init__(self, matrix: np.ndarray, *, weight_exp: int = 0,
                 num_weight_bits: int = WEIGHT_BITS, sign_mode: SignMode | None = None,
                 label: str = "projection") -> None:
        _check_weight_exp(weight_exp, label)
        m = np.asarray(matrix, dtype=np.int64)
        self.sign_mode = SignMode.of(m) if sign_mode is None else sign_mode
        effective = effective_mantissas(m, self.sign_mode, num_weight_bits)
        exact32 = m.shape[1] * 2**WEIGHT_BITS <= 2**24
        self.rows = np.ascontiguousarray(effective.T,
                                         dtype=np.float32 if exact32 else np.float64)
        self.n_post, self.weight_exp, self.label = m.shape[0], weight_exp, label

    def accumulate(self, fired: np.ndarray) -> np.ndarray:
        """a_in contribution (exact integers in float64, per post neuron) of the pre
        neurons ``fired``."""
        if fired.size == 0:
            return np.zeros(self.n_post)
        acc = self.rows.take(fired, axis=0).sum(axis=0).astype(np.float64)
        return shift_by_exp(acc, self.weight_exp)


class CsrSynapses:
    """One projection's effective mantissas grouped by pre neuron, so that a step costs
    the number of synapses of the neurons that fired, not the size of the matrix."""

    def __init__(self, pre: np.ndarray, post: np.ndarray, mantissas: np.ndarray, *,
                 n_pre: int, n_post: int, weight_exp: int = 0,
                 num_weight_bits: int = WEIGHT_BITS, sign_mode: SignMode | None = None,
                 label: str = "projection") -> None:
        _check_weight_exp(weight_exp, label)
        pre = np.asarray(pre, dtype=np.intp)
        m = np.asarray(mantissas, dtype=np.int64)
        self.sign_mode = SignMode.of(m) if sign_mode is None else sign_mode
        order = np.argsort(pre, kind="stable")
        self.post = np.asarray(post, dtype=np.intp)[order]
        self.weights = effective_mantissas(m[order], self.sign_mode,
                                           num_weight_bits).astype(np.float64)
        self.indptr = np.concatenate(
            [[0], np.cumsum(np.bincount(pre, minlength=n_pre))]).astype(np.intp)
        self.n_post, self.weight_exp, self.label = n_post, weight_exp, label

    @classmethod
    def from_dense(cls, matrix: np.ndarray, **options: object) -> CsrSynapses:
        """From a (n_post, n_pre) mantissa matrix, lava Dense's layout; zeros are absent."""
        matrix = np.asarray(matrix)
        post, pre = np.nonzero(matrix)
        sign_mode = options.pop("sign_mode", None) or SignMode.of(matrix)
        return cls(pre, post, matrix[post, pre], n_pre=matrix.shape[1], n_post=matrix.shape[0],
                   sign_mode=sign_mode, **options)  # type: ignore[arg-type]

    def accumulate(self, fired: np.ndarray) -> np.ndarray:
        """a_in contribution (exact integers in float64, per post neuron) of the pre
        neurons ``fired``."""
        starts = self.indptr[fired]
        counts = self.indptr[fired + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return np.zeros(self.n_post)
        ends = np.cumsum(counts)
        syn = np.repeat(starts - (ends - counts), counts) + np.arange(total)
        # float64 sums of integers below 2^53 are exact
        acc = np.bincount(self.post[syn], weights=self.weights[syn], minlength=self.n_post)
        return shift_by_exp(acc, self.weight_exp)


# --------------------------------------------------------------------------- PyNN -> Loihi

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


def convert_population(pop: Population, dt: float, *,
                       vth_mant: int = DEFAULT_VTH_MANT) -> LifConversion:
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

    What cannot be mapped raises :class:`LoihiNumericsError` naming the population: other
    cell types, and tau_syn_E != tau_syn_I (a compartment has one current u).
    """
    what = f"Population '{pop.label}'"
    if pop.cell_type is not CellType.IF_CURR_EXP:
        why = ("its synaptic input is a conductance (a product with v), which Loihi's "
               "current-based compartment cannot compute"
               if pop.cell_type.conductance_based else
               "an alpha-shaped current needs two chained compartments per neuron")
        raise LoihiNumericsError(
            f"{what}: cell type {pop.cell_type.value} cannot be mapped exactly to Loihi's "
            f"CUBA LIF: {why}; use IF_curr_exp"
        )
    if not 0 < vth_mant <= VTH_MANT_MAX:
        raise LoihiNumericsError(f"vth_mant = {vth_mant} is outside 1..{VTH_MANT_MAX}")
    p = pop.parameters
    tau_m, cm = _uniform_param(pop, "tau_m"), _uniform_param(pop, "cm")
    tau_e, tau_i = _uniform_param(pop, "tau_syn_E"), _uniform_param(pop, "tau_syn_I")
    du = decay_constant(tau_e, dt, DU_OFFSET)
    if decay_constant(tau_i, dt, DU_OFFSET) != du:
        raise LoihiNumericsError(
            f"{what}: tau_syn_E = {tau_e:g} ms and tau_syn_I = {tau_i:g} ms differ; a Loihi "
            f"compartment has one synaptic current u with one decay (du); give both the "
            f"same value or split the inputs over two populations"
        )
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
    if refractory.max() > REFRACTORY_MAX:
        i = int(np.argmax(refractory))
        raise LoihiNumericsError(
            f"{what} parameter tau_refrac[{i}] = {p['tau_refrac'][i]:g} ms is "
            f"{refractory[i]} steps of dt = {dt:g} ms; Loihi's refractory delay is at most "
            f"{REFRACTORY_MAX} steps; shorten tau_refrac or use a larger dt"
        )
    params = LifParameters.build(pop.label, pop.size, du=du, dv=dv, vth=vth,
                                 bias_mant=bias_mant, bias_exp=bias_exp,
                                 refractory=refractory)
    mv_per_unit = 1.0 / units_per_mv
    bias_units_per_na = mv_per_na_step * units_per_mv
    charge = tau_e * (du + DU_OFFSET) / DECAY_UNITY / dt
    units_per_na = bias_units_per_na * charge
    init = pop.initial_values
    v0 = np.clip(np.rint((init["v"] - p["v_reset"]) * units_per_mv), -UV_LIMIT + 1,
                 UV_LIMIT - 1).astype(np.int64)
    i0 = init["isyn_exc"] + init["isyn_inh"]
    u0 = np.clip(np.rint(i0 * units_per_na), -UV_LIMIT, UV_LIMIT).astype(np.int64)
    bias_real = bias_mv * units_per_mv
    report = {
        "dv_tau_m_ms": dt / -math.log1p(-leak) if 0 < dv < DECAY_UNITY else math.inf,
        "du_tau_syn_ms": (dt / -math.log1p(-(du + DU_OFFSET) / DECAY_UNITY)
                          if du + DU_OFFSET < DECAY_UNITY else 0.0),
        "vth_max_rel_error": float(np.max(np.abs(vth * 2**VTH_SHIFT / units_per_mv - distance)
                                          / distance)),
        "bias_max_abs_error_mv": float(np.max(np.abs(params.bias - bias_real)) / units_per_mv),
        "bias_saturated": int(np.sum(np.abs(bias_real) > BIAS_MANT_MAX * 2**BIAS_EXP_MAX)),
        "refractory_max_abs_error_ms": float(np.max(np.abs(refractory * dt - p["tau_refrac"]))),
    }
    return LifConversion(params=params, mv_per_unit=mv_per_unit, v_origin=p["v_reset"].copy(),
                         units_per_na=units_per_na, bias_units_per_na=bias_units_per_na,
                         u0=u0, v0=v0, report=report)


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


# --------------------------------------------------------------------------- engine plug-in

#: The engine accumulates each projection's drive ``m << (weight_exp + 8)`` in one ring
#: per post population; the kernel floors the sum by 8 bits.  For exponents >= 0 (all
#: that :func:`convert_weights` chooses) this is exactly lava's shift.  lava floors a
#: negative exponent's shift per Dense process and, in DelayDense, per delay; the engine
#: floors once per population and step, so the two agree when at most one projection
#: with a negative exponent feeds a population and it has a single delay.
DRIVE_FRAC_BITS = -WEIGHT_EXP_MIN


class LoihiWeights(WeightCodec):
    """A projection's synapse memory: 8-bit mantissas with one exponent and sign mode."""

    dtype = np.dtype(np.int64)

    def __init__(self, weight_exp: int, sign_mode: SignMode, na_per_mantissa: float,
                 num_weight_bits: int = WEIGHT_BITS) -> None:
        if not WEIGHT_EXP_MIN <= weight_exp <= WEIGHT_EXP_MAX:
            raise LoihiNumericsError(
                f"weight_exp = {weight_exp} is outside the Loihi range "
                f"{WEIGHT_EXP_MIN}..{WEIGHT_EXP_MAX}"
            )
        self.weight_exp, self.sign_mode = weight_exp, sign_mode
        self.na_per_mantissa, self.num_weight_bits = na_per_mantissa, num_weight_bits
        self._shift = weight_exp + DRIVE_FRAC_BITS

    @classmethod
    def from_conversion(cls, conversion: WeightConversion) -> LoihiWeights:
        return cls(conversion.weight_exp, conversion.sign_mode, conversion.na_per_mantissa,
                   conversion.num_weight_bits)

    def encode(self, weights: np.ndarray) -> np.ndarray:
        """nA to the nearest mantissas; beyond the format they saturate, as on the chip."""
        scaled = np.asarray(weights, dtype=np.float64) / self.na_per_mantissa
        return round_mantissas(scaled, self.sign_mode, self.num_weight_bits)[0]

    def decode(self, stored: np.ndarray) -> np.ndarray:
        return np.asarray(stored, dtype=np.float64) * self.na_per_mantissa

    def drive(self, stored: np.ndarray) -> np.ndarray:
        return stored << self._shift


class LoihiKernel(NeuronKernel):
    """A population as Loihi compartments on the shared engine.

    Timing: the engine hands a step's arriving input to :meth:`receive` after
    :meth:`advance`, and the next advance adds it to u.  A spike in step k with a delay
    of d steps therefore moves u in step k + d + 1, which is lava's ``DelayDense`` with
    delay d (its output buffer adds one step, as ``Dense`` does); ``Dense`` alone would be
    d = 0, which the IR cannot express (its minimum delay is one step).

    u is the one synaptic current of the compartment: ``isyn_exc`` reads all of it (in nA)
    and ``isyn_inh`` reads 0.  An injected current (DC or step source) adds to the bias,
    quantised to the bias format, as a host would reprogram it.
    """

    input_dtype = np.dtype(np.int64)

    def __init__(self, population: Population, dt: float, conversion: LifConversion) -> None:
        super().__init__(population, dt)
        self.conversion = conversion
        self.compartments = LifCompartments(conversion.params, conversion.u0, conversion.v0)
        self._pending = np.zeros(population.size, dtype=np.int64)
        self._has_input = False

    def advance(self, step: int, i_ext: np.ndarray | None) -> np.ndarray:
        a_in = None
        if self._has_input:
            a_in = self._pending >> DRIVE_FRAC_BITS
            self._pending[:] = 0
            self._has_input = False
        extra = None
        if i_ext is not None:
            mant, exp = bias_to_mant_exp(np.asarray(i_ext) * self.conversion.bias_units_per_na)
            extra = mant << exp
        return self.compartments.step(a_in, extra)

    def receive(self, receptor: Receptor, drive: np.ndarray) -> None:
        self._pending += drive
        self._has_input = True

    def get(self, variable: str) -> np.ndarray:
        self._check_variable(variable)
        c, conv = self.compartments, self.conversion
        if variable == "v":
            return conv.v_origin + c.v * conv.mv_per_unit
        if variable == "isyn_exc":
            return c.u / conv.units_per_na
        return np.zeros(self.size)

    def set(self, variable: str, values: np.ndarray) -> None:
        self._check_variable(variable)
        arr = self._per_neuron(variable, values)
        c, conv = self.compartments, self.conversion
        if variable == "v":
            c.v = np.clip(np.rint((arr - conv.v_origin) / conv.mv_per_unit),
                          -UV_LIMIT + 1, UV_LIMIT - 1)
        elif variable == "isyn_exc":
            c.u = np.clip(np.rint(arr * conv.units_per_na), -UV_LIMIT, UV_LIMIT)
        elif np.any(arr != 0):
            raise StateError(
                f"Population '{self.population.label}': isyn_inh cannot be set on Loihi; a "
                f"compartment has one synaptic current u, read and set as isyn_exc"
            )

    def reset(self) -> None:
        self.compartments.reset()
        self._pending[:] = 0
        self._has_input = False


class LoihiNumerics(Numerics):
    """Loihi's arithmetic for the shared engine: converts populations and projections as
    they are built and keeps the conversions (``populations``, ``projections``) so the
    compiler can report the quantisation.  Given conversions override the automatic ones
    (for networks configured in Loihi integers directly, as the lava comparison does)."""

    def __init__(self, *, vth_mant: int = DEFAULT_VTH_MANT,
                 num_weight_bits: int = WEIGHT_BITS,
                 populations: dict[str, LifConversion] | None = None,
                 weights: dict[str, LoihiWeights] | None = None,
                 learning_epoch: int = 1, learning_seed: int | None = None) -> None:
        self.vth_mant, self.num_weight_bits = vth_mant, num_weight_bits
        self.populations: dict[str, LifConversion] = dict(populations or {})
        self.projections: dict[str, WeightConversion] = {}
        self._codecs: dict[str, LoihiWeights] = dict(weights or {})
        # the learning engine (toolchain.targets.loihi.learning): epoch length in steps,
        # and a seed for stochastic weight rounding (None: round to nearest)
        self.learning_epoch, self.learning_seed = learning_epoch, learning_seed
        self.learning: dict[str, LearningRule] = {}  # per plastic projection

    def kernel(self, population: Population, dt: float) -> NeuronKernel:
        conv = self.populations.get(population.label)
        if conv is None:
            conv = convert_population(population, dt, vth_mant=self.vth_mant)
            self.populations[population.label] = conv
        return LoihiKernel(population, dt, conv)

    def weights(self, projection: Projection, post: Population) -> WeightCodec:
        codec = self._codecs.get(projection.label)
        if codec is not None:
            return codec
        conv = self.populations.get(post.label)
        if conv is None:
            raise LoihiNumericsError(
                f"Projection '{projection.label}': post population '{post.label}' has no "
                f"Loihi conversion yet; build kernels before weights"
            )
        if projection.plasticity is not None:
            from toolchain.targets.loihi.learning import convert_plastic_weights

            wc = convert_plastic_weights(projection, conv.units_per_na, self.num_weight_bits)
        else:
            wc = convert_weights(projection.label, projection.weight, conv.units_per_na,
                                 num_weight_bits=self.num_weight_bits)
        self.projections[projection.label] = wc
        return LoihiWeights.from_conversion(wc)

    def plasticity(self, projection: Projection, matrix: SynapseMatrix, codec: WeightCodec,
                   dt: float) -> PlasticityModel:
        """Loihi's learning engine for the projection's STDP rule (pair traces, product
        terms, epochs); refuses a rule the engine cannot represent, by name."""
        from toolchain.targets.loihi.learning import LoihiSTDP, map_stdp_rule

        if not isinstance(codec, LoihiWeights):
            raise LoihiNumericsError(
                f"Projection '{projection.label}': Loihi learning needs Loihi weights, got "
                f"{type(codec).__name__}")
        config = map_stdp_rule(projection, codec, dt, epoch_steps=self.learning_epoch,
                               stochastic=self.learning_seed is not None)
        self.learning[projection.label] = config
        assert projection.plasticity is not None
        return LoihiSTDP(projection.plasticity, matrix, codec, dt, config,
                         seed=self.learning_seed)
