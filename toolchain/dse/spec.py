"""Sweep specifications: which points of a design space to evaluate, and how.

A sweep is a Cartesian product of axes (targets, hardware parameters, compiler options,
network parameters) plus fixed parameters, evaluated by one point function named as
``"module:function"``.  Naming the function instead of holding it keeps a sweep plain data:
it can be written in TOML, shipped to worker processes or a Dask cluster, and recorded next
to its results.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10, where Loihi users live (lava-nc)
    import tomli as tomllib

Scalar = str | int | float | bool
F = TypeVar("F", bound=Callable[..., Any])


class SweepError(ValueError):
    """An invalid sweep specification.

    A point function's ``check`` raises it with ``parameter`` set (and ``of_value`` when the
    parameter's value, not its name, is wrong); :func:`check` then says whether that
    parameter is an axis or a fixed one, and which value."""

    def __init__(self, message: str, *, parameter: str | None = None,
                 of_value: bool = False) -> None:
        super().__init__(message)
        self.parameter, self.of_value = parameter, of_value


def point_function(*, check: Callable[[Mapping[str, Any]], None],
                   metrics: Callable[[Mapping[str, Any]], set[str]]) -> Callable[[F], F]:
    """Declare what a point function takes and reports, so that a sweep over it is checked
    before its first point runs: ``check(params)`` raises :class:`SweepError` for parameters
    it would refuse, ``metrics(params)`` names the metrics it returns for them."""

    def declare(func: F) -> F:
        func.check = check  # type: ignore[attr-defined]
        func.metrics = metrics  # type: ignore[attr-defined]
        return func

    return declare


@dataclass(frozen=True)
class Objective:
    """A metric to optimise: ``sense`` is ``"min"`` or ``"max"``."""

    metric: str
    sense: str = "min"

    def __post_init__(self) -> None:
        if self.sense not in ("min", "max"):
            raise SweepError(
                f"objective '{self.metric}': sense '{self.sense}' must be 'min' or 'max'"
            )


@dataclass(frozen=True)
class Axis:
    """One swept parameter and the values it takes, in order."""

    name: str
    values: tuple[Scalar, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise SweepError(f"axis name must be a non-empty string, got {self.name!r}")
        if isinstance(self.values, (str, bytes)) or not isinstance(self.values, Sequence):
            raise SweepError(f"axis '{self.name}': values must be a list, got {self.values!r}")
        values = tuple(self.values)
        if not values:
            raise SweepError(f"axis '{self.name}': has no values; give at least one")
        for i, v in enumerate(values):
            _check_scalar(v, f"axis '{self.name}' value [{i}]")
        seen: set[str] = set()
        for i, v in enumerate(values):
            key = json.dumps(v)
            if key in seen:
                raise SweepError(f"axis '{self.name}' value [{i}] = {v!r} is repeated")
            seen.add(key)
        object.__setattr__(self, "values", values)


@dataclass(frozen=True)
class Point:
    """One evaluation: its parameters and a stable id derived from them."""

    params: Mapping[str, Scalar]

    @property
    def id(self) -> str:
        text = json.dumps(dict(self.params), sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Sweep:
    """A design-space sweep: ``evaluate(params) -> {metric: number}`` at every point."""

    name: str
    evaluate: str
    axes: tuple[Axis, ...]
    fixed: Mapping[str, Scalar] = field(default_factory=dict)
    objectives: tuple[Objective, ...] = ()
    allowed: Mapping[str, tuple[Scalar, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.name:
            raise SweepError("sweep name must not be empty")
        module, sep, func = self.evaluate.partition(":")
        if not sep or not module or not func:
            raise SweepError(
                f"evaluate '{self.evaluate}' must name a function as 'package.module:function'"
            )
        object.__setattr__(self, "axes", tuple(self.axes))
        names = [a.name for a in self.axes]
        for name in names:
            if names.count(name) > 1:
                raise SweepError(f"axis '{name}' is given twice")
            if name in self.fixed:
                raise SweepError(f"'{name}' is both an axis and a fixed parameter")
        for k, v in self.fixed.items():
            _check_scalar(v, f"fixed parameter '{k}'")
        for axis in self.axes:
            allowed = self.allowed.get(axis.name)
            if allowed is None:
                continue
            for i, v in enumerate(axis.values):
                if v not in allowed:
                    raise SweepError(
                        f"axis '{axis.name}' value [{i}] = {v!r} is not allowed; "
                        f"use one of: {', '.join(map(str, allowed))}"
                    )

    def points(self) -> list[Point]:
        names = [a.name for a in self.axes]
        out = []
        for combo in itertools.product(*(a.values for a in self.axes)):
            out.append(Point({**self.fixed, **dict(zip(names, combo, strict=True))}))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "evaluate": self.evaluate,
            "axes": {a.name: list(a.values) for a in self.axes},
            "fixed": dict(self.fixed),
            "objectives": {o.metric: o.sense for o in self.objectives},
        }


def resolve(ref: str, what: str = "evaluate") -> Callable[..., Any]:
    """Import ``"package.module:function"``; errors say which part is missing."""
    module_name, _, func_name = ref.partition(":")
    if not module_name or not func_name:
        raise SweepError(f"{what} '{ref}' must name a function as 'package.module:function'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise SweepError(f"{what} '{ref}': cannot import module '{module_name}' ({e})") from None
    try:
        func = getattr(module, func_name)
    except AttributeError:
        raise SweepError(
            f"{what} '{ref}': module '{module_name}' has no function '{func_name}'"
        ) from None
    if not callable(func):
        raise SweepError(f"{what} '{ref}': '{func_name}' is not callable")
    return func


def from_mapping(data: Mapping[str, Any], *, source: str = "sweep") -> Sweep:
    """Build a Sweep from the TOML layout documented in docs/dse.md."""
    known = {"sweep", "axes", "fixed", "objectives"}
    unknown = set(data) - known
    if unknown:
        raise SweepError(f"{source}: unknown section [{sorted(unknown)[0]}]; "
                         f"sections are: {', '.join(sorted(known))}")
    head = data.get("sweep", {})
    for key in ("name", "evaluate"):
        if key not in head:
            raise SweepError(f"{source}: [sweep] needs '{key}'")
    axes_table = data.get("axes", {})
    if not axes_table:
        raise SweepError(f"{source}: [axes] is empty; give at least one swept parameter")
    axes = tuple(Axis(name, values) for name, values in axes_table.items())
    objectives = tuple(Objective(m, s) for m, s in data.get("objectives", {}).items())
    return Sweep(name=head["name"], evaluate=head["evaluate"], axes=axes,
                 fixed=dict(data.get("fixed", {})), objectives=objectives)


def check(sweep: Sweep) -> None:
    """Refuse a sweep that would fail for reasons known before any point runs: a point
    function that cannot be imported, a parameter it does not take or a value it refuses
    (a misspelt axis, an unknown target), an objective that is not one of its metrics."""
    func = resolve(sweep.evaluate)
    check_params = getattr(func, "check", None)
    metrics_of = getattr(func, "metrics", None)
    axes = {a.name: a for a in sweep.axes}
    reported: set[str] = set()
    for point in sweep.points():
        if check_params is not None:
            try:
                check_params(point.params)
            except SweepError as e:
                raise SweepError(_where(e, axes, point.params) + str(e)) from None
        if metrics_of is not None:
            reported |= metrics_of(point.params)
    if metrics_of is None:
        return
    swept = {a.name for a in sweep.axes}  # a swept parameter is a column to optimise too
    for o in sweep.objectives:
        if o.metric not in reported | swept:
            raise SweepError(f"objective '{o.metric}' is not a metric {sweep.evaluate} "
                             f"reports for this sweep; its metrics: {', '.join(sorted(reported))}")


def _where(e: SweepError, axes: Mapping[str, Axis], params: Mapping[str, Any]) -> str:
    name = e.parameter
    if name is None:
        return ""
    value = params.get(name)
    if name in axes:
        at = f" value [{axes[name].values.index(value)}] = {value!r}" if e.of_value else ""
        return f"axis '{name}'{at} "
    return f"fixed parameter '{name}'" + (f" = {value!r} " if e.of_value else " ")


def load_toml(path: str | Path) -> Sweep:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise SweepError(f"{path}: not valid TOML ({e})") from None
    return from_mapping(data, source=str(path))


def _check_scalar(v: object, what: str) -> None:
    if isinstance(v, bool) or isinstance(v, (str, int)):
        return
    if isinstance(v, float):
        if not math.isfinite(v):
            raise SweepError(f"{what} = {v!r} is not a finite number")
        return
    raise SweepError(f"{what} = {v!r} must be a string, number or boolean")
