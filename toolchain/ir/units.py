"""Units of the network IR: one place that says what every number means.

The IR stores plain float64 arrays in PyNN's standard unit system (ms, mV, nA, nF, uS, Hz,
and the few others PyNN's standard models declare: nS for adaptation conductances, 1/ms and
mV/ms for the Izhikevich model, s for the scale of SpikeSourceInhGamma),
so arithmetic downstream never has to guess.  Values entering the IR from elsewhere (a
``quantities`` object, a string such as ``"5 mV"``) are converted here and nowhere else.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable

import numpy as np


class Unit(str, enum.Enum):
    """The units the IR stores.  The value is the symbol written into saved files."""

    MS = "ms"
    MV = "mV"
    NA = "nA"
    NF = "nF"
    US = "uS"
    NS = "nS"
    HZ = "Hz"
    S = "s"
    PER_MS = "1/ms"
    MV_PER_MS = "mV/ms"
    DIMENSIONLESS = "1"


# Conversion factors into the IR unit, for the prefixes users realistically type.
_SCALE: dict[Unit, dict[str, float]] = {
    Unit.MS: {"s": 1e3, "ms": 1.0, "us": 1e-3, "µs": 1e-3, "ns": 1e-6},
    Unit.MV: {"V": 1e3, "mV": 1.0, "uV": 1e-3, "µV": 1e-3},
    Unit.NA: {"A": 1e9, "mA": 1e6, "uA": 1e3, "µA": 1e3, "nA": 1.0, "pA": 1e-3},
    Unit.NF: {"F": 1e9, "uF": 1e3, "µF": 1e3, "nF": 1.0, "pF": 1e-3},
    Unit.US: {"S": 1e6, "mS": 1e3, "uS": 1.0, "µS": 1.0, "nS": 1e-3},
    Unit.NS: {"S": 1e9, "mS": 1e6, "uS": 1e3, "µS": 1e3, "nS": 1.0, "pS": 1e-3},
    Unit.HZ: {"Hz": 1.0, "kHz": 1e3, "1/s": 1.0},
    Unit.S: {"s": 1.0, "ms": 1e-3},
    Unit.PER_MS: {"1/ms": 1.0, "1/s": 1e-3, "Hz": 1e-3, "kHz": 1.0},
    Unit.MV_PER_MS: {"mV/ms": 1.0, "V/s": 1.0},
    Unit.DIMENSIONLESS: {"1": 1.0, "": 1.0, "dimensionless": 1.0},
}


class UnitError(ValueError):
    """A value whose unit cannot be converted into the unit the IR expects."""


def scale_to(unit: Unit, symbol: str) -> float:
    """Factor that converts a value in ``symbol`` into ``unit``."""
    try:
        return _SCALE[unit][symbol.strip()]
    except KeyError:
        allowed = ", ".join(sorted(k for k in _SCALE[unit] if k))
        raise UnitError(
            f"cannot convert '{symbol}' to {unit.value}; use one of: {allowed}"
        ) from None


def to_ir(value: object, unit: Unit, *, what: str) -> np.ndarray:
    """Convert a number, array, ``quantities`` object or ``"5 mV"`` string into IR units.

    Plain numbers are taken to be in the IR unit already (PyNN's convention).
    ``what`` names the field in the error message.
    """
    if isinstance(value, str):
        number, _, symbol = value.strip().partition(" ")
        try:
            return np.asarray(float(number) * scale_to(unit, symbol or unit.value))
        except UnitError as e:
            raise UnitError(f"{what}: {e}") from None
        except ValueError:
            raise UnitError(f"{what}: cannot read '{value}' as a number with a unit") from None
    dimensionality = getattr(value, "dimensionality", None)
    if dimensionality is not None:  # a quantities.Quantity
        symbol = dimensionality.string
        try:
            factor = scale_to(unit, symbol)
        except UnitError as e:
            raise UnitError(f"{what}: {e}") from None
        return np.asarray(value.magnitude, dtype=float) * factor
    return np.asarray(value, dtype=float)


def _extremes(values: np.ndarray) -> tuple[float, float] | None:
    """Smallest and largest of a numeric array (None: empty or not numeric).

    Two reductions, and no mask or float64 copy per element: the checks below run on
    every synapse's weight and delay (0.3 billion of each in a cortical microcircuit), and
    find an offending element only when the extremes show there is one (NaN propagates
    through min and max)."""
    arr = np.asarray(values)
    if arr.size == 0 or arr.dtype.kind not in "biuf":
        return None
    return float(arr.min()), float(arr.max())


def check_finite(values: np.ndarray, *, what: str) -> None:
    """Reject NaN and infinities, naming the first offending element."""
    extremes = _extremes(values)
    if extremes is not None and math.isfinite(extremes[0]) and math.isfinite(extremes[1]):
        return
    bad = ~np.isfinite(values)
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise ValueError(f"{what}[{i}] = {float(values.ravel()[i])} is not a finite number")


def check_range(
    values: np.ndarray,
    *,
    what: str,
    unit: Unit,
    low: float = -math.inf,
    high: float = math.inf,
    low_inclusive: bool = True,
) -> None:
    """Reject values outside [low, high] (or (low, high]), naming element, value and range."""
    extremes = _extremes(values)
    if extremes is not None:
        lo, hi = extremes
        if math.isfinite(lo) and math.isfinite(hi) and hi <= high \
                and (lo >= low if low_inclusive else lo > low):
            return
    check_finite(values, what=what)
    flat = np.asarray(values, dtype=float).ravel()
    too_low = flat < low if low_inclusive else flat <= low
    bad = too_low | (flat > high)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        bracket = "[" if low_inclusive else "("
        u = "" if unit is Unit.DIMENSIONLESS else f" {unit.value}"
        raise ValueError(
            f"{what}[{i}] = {flat[i]:g}{u} is outside the allowed range "
            f"{bracket}{low:g}, {high:g}]{u}"
        )


def describe(units: Iterable[Unit]) -> str:
    return ", ".join(u.value for u in units)
