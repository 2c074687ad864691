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
(:mod:`~toolchain.targets.loihi.convert`) never produces such sums.

Everything is vectorised numpy on integers.  The state is kept in float64 arrays that
carry exact integers: every intermediate (24-bit state times 12-bit decay, a_in << 6) is
below 2^53, multiplying or dividing by a power of two is exact, and ``trunc``/``floor``
are the integer roundings; numpy evaluates this several times faster than the equivalent
int64 shifts.  Integer types appear where values leave the model (weights, spikes).

This module is the implementation level of Lava's process/model split: it knows registers
and bit widths, not PyNN; :mod:`~toolchain.targets.loihi.convert` turns IR values into
these integers and :mod:`~toolchain.targets.loihi.numerics` plugs them into the engine.
It needs only numpy, so lava's own environment runs it too (``lava_runner.py``).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

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

    ``du_dendrites`` (empty: one compartment per neuron) gives every neuron further,
    dendritic compartments, each with its own current decay, joined to the soma (see
    :class:`LifCompartments`): a neuron whose receptors need currents of their own (two
    time constants, or the named receptors of a composed cell).
    """

    label: str
    du: np.ndarray
    dv: np.ndarray
    vth: np.ndarray  # mantissa; the effective threshold is vth << 6
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    refractory: np.ndarray  # steps v is held at 0 after a spike; 0 = none (as lava)
    du_dendrites: tuple[np.ndarray, ...] = ()

    @classmethod
    def build(cls, label: str, size: int, *, du: object, dv: object, vth: object,
              bias_mant: object = 0, bias_exp: object = 0, refractory: object = 0,
              du_dendrite: object = None, du_dendrites: tuple[object, ...] = ()
              ) -> LifParameters:
        """Per-neuron arrays from scalars or arrays, checked against the register widths
        (``du_dendrite``: one dendrite, ``du_dendrites``: any number)."""
        what = f"Population '{label}'"
        dendrites = (*(() if du_dendrite is None else (du_dendrite,)), *du_dendrites)
        values = {name: _int_array(v, size, f"{what} {name}") for name, v in (
            ("du", du), ("dv", dv), ("vth", vth), ("bias_mant", bias_mant),
            ("bias_exp", bias_exp), ("refractory", refractory))}
        values.update({f"du_dendrite{k}": _int_array(d, size, f"{what} du_dendrite{k}")
                       for k, d in enumerate(dendrites)})
        limits = {
            "du": (0, DECAY_MAX, "du is 12 bits; 4095 is the fastest current decay"),
            **{f"du_dendrite{k}": (0, DECAY_MAX, "du is 12 bits; 4095 is the fastest "
                                   "current decay") for k in range(len(dendrites))},
            "dv": (0, DECAY_MAX, "dv is 12 bits; 4095 is the fastest voltage decay"),
            "vth": (0, VTH_MANT_MAX, "lower the threshold or the voltage scale"),
            "bias_mant": (BIAS_MANT_MIN, BIAS_MANT_MAX, "raise bias_exp"),
            "bias_exp": (0, BIAS_EXP_MAX, "the bias exponent is 3 bits"),
            "refractory": (0, REFRACTORY_MAX, "shorten tau_refrac"),
        }
        for name, (low, high, fix) in limits.items():
            if name in values:
                _check_register(values[name], low, high, f"{what} {name}", fix)
        du_d = tuple(values.pop(f"du_dendrite{k}") for k in range(len(dendrites)))
        return cls(label=label, **values, du_dendrites=du_d)

    @property
    def size(self) -> int:
        return int(self.du.size)

    @property
    def du_dendrite(self) -> np.ndarray | None:
        """The first dendrite's current decay (None: no dendrite)."""
        return self.du_dendrites[0] if self.du_dendrites else None

    @property
    def compartments(self) -> int:
        """Compartments per neuron: the soma and its dendrites."""
        return 1 + len(self.du_dendrites)

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
    """The state of a group of compartments and one step of their arithmetic.

    With dendrites (``params.du_dendrites``) each neuron is several compartments: dendrite
    k integrates its own synaptic input into its current ``u_d[k]`` with its own decay,
    exactly as the soma does into ``u``, and the join adds every ``u_d[k]`` to the soma's
    current in the soma's voltage update::

        u_d[k] <- trunc0(u_d[k] * (4096 - du_d[k] - 1) / 4096) + (a_in_d[k] << 6)  wraps as u
        v      <- trunc0(v * (4096 - dv) / 4096) + u + sum_k u_d[k] + bias

    Loihi 1 joins the compartments of a neuron's dendritic tree this way, ADD being one of
    its join operations [paper: Davies et al. 2018, IEEE Micro 38(1), "dendritic
    compartments"]; that the join reads the child's current u (and not its voltage) is our
    reading [unverified: NxSDK's compartment documentation is not public].  lava-nc has no
    multi-compartment process, so this form is checked against the one-compartment one
    (identical spikes when the dendrite gets no input) and against the float reference.
    """

    def __init__(self, params: LifParameters, u: object = 0, v: object = 0,
                 u_dendrite: object = 0) -> None:
        """``u_dendrite``: the dendrites' initial currents, one value or array for each
        (or one for all)."""
        self.params = params
        n, label = params.size, params.label
        self._u0 = _int_array(u, n, f"Population '{label}' initial u")
        self._v0 = _int_array(v, n, f"Population '{label}' initial v")
        per = (list(u_dendrite) if isinstance(u_dendrite, (list, tuple))
               else [u_dendrite] * len(params.du_dendrites))
        if len(per) != len(params.du_dendrites):
            raise LoihiNumericsError(f"Population '{label}': {len(per)} initial dendrite "
                                     f"currents for {len(params.du_dendrites)} dendrites")
        self._ud0 = [_int_array(x, n, f"Population '{label}' initial u_d") for x in per]
        for name, arr in (("u", self._u0), *(("u_d", x) for x in self._ud0)):
            _check_register(arr, -UV_LIMIT, UV_LIMIT, f"Population '{label}' initial {name}",
                            f"{name} is a 24-bit register")
        _check_register(self._v0, -UV_LIMIT + 1, UV_LIMIT - 1,
                        f"Population '{label}' initial v", "v is a 24-bit register")
        self._decay_ds = [_uniform(DECAY_UNITY - du - DU_OFFSET)
                          for du in params.du_dendrites]
        self._decay_u = _uniform(DECAY_UNITY - params.du - DU_OFFSET)
        self._decay_v = _uniform(DECAY_UNITY - params.dv - DV_OFFSET)
        self._bias = _uniform(params.bias)
        self._threshold = _uniform(params.threshold)
        self._refractory = params.refractory if np.any(params.refractory) else None
        self.reset()

    def reset(self) -> None:
        self.u = self._u0.astype(np.float64)
        self.v = self._v0.astype(np.float64)
        self.u_ds = [x.astype(np.float64) for x in self._ud0]
        self.refractory_left = np.zeros(self.params.size, dtype=np.int64)

    @property
    def u_d(self) -> np.ndarray:
        """The first dendrite's current (zeros without one)."""
        return self.u_ds[0] if self.u_ds else np.zeros(self.params.size)

    def step(self, a_in: np.ndarray | None, extra_bias: np.ndarray | None = None,
             a_in_dendrites: Sequence[np.ndarray | None] = ()) -> np.ndarray:
        """Advance one step with synaptic input ``a_in`` (integers, already shifted by each
        projection's weight_exp) and each dendrite's in ``a_in_dendrites`` (missing ones:
        none); return the indices of neurons that spiked."""
        u = self.u = self._current(self.u, self._decay_u, a_in)
        v = decay(self.v, self._decay_v)
        v += u
        for k, factor in enumerate(self._decay_ds):
            a_d = a_in_dendrites[k] if k < len(a_in_dendrites) else None
            self.u_ds[k] = self._current(self.u_ds[k], factor, a_d)
            v += self.u_ds[k]
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

    def _current(self, u: np.ndarray, factor: np.ndarray | int,
                 a_in: np.ndarray | None) -> np.ndarray:
        """A compartment's current after one step: decayed, plus its input."""
        u = decay(u, factor)
        if a_in is None:
            return u
        decayed = u
        u = a_in * float(1 << ACT_SHIFT)
        u += decayed
        # Fast path: nothing near the 24-bit edge.  An int32 overflow in lava needs
        # |a_in << 6| >= 2^31 - 2^23, which puts u beyond 2^23 too, so one range check
        # catches both rare cases.
        if u.max() > UV_LIMIT or u.min() <= -UV_LIMIT:
            u = self._wrap(decayed, a_in)
        return u

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


