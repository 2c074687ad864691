"""Target options, declared once per target: name, type, default, allowed values, help.

``get_target(name, **options)``, ``setup(target=..., **options)`` and the command line's
``-O KEY=VALUE`` all go through the same declaration, so a wrong option is refused the
same way everywhere, naming the option and the valid ones, and ``spikeport info TARGET``
lists exactly what a target accepts.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

COMPILE = "compile"  # changes the mapping: an artifact keeps it and must match it
RUN = "run"  # changes only how the compiled network runs (seeds, mismatch, integration)


class TargetOptionError(ValueError):
    """An option a target does not have, or a value it does not accept."""


@dataclass(frozen=True)
class Option:
    """One target option.

    ``kind`` is the type the command line parses (``int``, ``float``, ``bool``, ``str``);
    ``python`` adds types only the Python API can pass (a spec object).  ``choices``
    lists the allowed strings (or is a function giving them), ``free_form`` describes
    strings accepted besides them ("or 'WxH'").  ``stage`` is :data:`COMPILE` or :data:`RUN`.
    ``to_data``/``from_data`` turn a Python-only value into JSON-ready data and back, so
    that an artifact can keep it.
    """

    name: str
    kind: type
    default: object
    help: str
    choices: Sequence[str] | Callable[[], Sequence[str]] | None = None
    free_form: str = ""
    python: tuple[type, ...] = ()
    stage: str = COMPILE
    to_data: Callable[[Any], Any] | None = None
    from_data: Callable[[Any], Any] | None = None

    def allowed(self) -> tuple[str, ...]:
        c = self.choices() if callable(self.choices) else self.choices
        return tuple(c) if c is not None else ()

    def describe_type(self) -> str:
        if self.allowed():
            text = "one of " + ", ".join(self.allowed())
            return text + (f" (or {self.free_form})" if self.free_form else "")
        return _a(self.kind) + (f" ({self.free_form})" if self.free_form else "")

    def parse(self, target: str, text: str) -> object:
        """The value of ``text`` as given on the command line."""
        t = text.strip()
        if self.default is None and t.lower() == "none":
            return None
        try:
            if self.kind is bool:
                low = t.lower()
                if low not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                    raise ValueError(t)
                value: object = low in ("true", "1", "yes", "on")
            elif self.kind is int:
                value = int(t)
            elif self.kind is float:
                value = float(t)
            else:
                value = t
        except ValueError:
            raise TargetOptionError(
                f"target '{target}' option {self.name}={text!r} is not {_a(self.kind)}; "
                f"{self.name} takes {self.describe_type()}"
            ) from None
        return self.check(target, value)

    def check(self, target: str, value: object) -> object:
        """``value`` if this option accepts it, converted to its type; else a clear error."""
        if value is None and self.default is None:
            return None
        if self.python and isinstance(value, self.python):
            return value
        if self.kind is object:
            raise TargetOptionError(
                f"target '{target}' option {self.name} takes a "
                f"{' or '.join(t.__name__ for t in self.python)} (Python only), got {value!r}"
            )
        if self.kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        ok = isinstance(value, self.kind) and not (self.kind is not bool
                                                  and isinstance(value, bool))
        if self.kind is float and ok and not math.isfinite(float(value)):  # type: ignore[arg-type]
            ok = False
        if not ok:
            raise TargetOptionError(
                f"target '{target}' option {self.name}={value!r} is not {_a(self.kind)}; "
                f"{self.name} takes {self.describe_type()}"
            )
        allowed = self.allowed()
        if allowed and value not in allowed and not self.free_form:
            raise TargetOptionError(
                f"target '{target}' option {self.name}={value!r} is not allowed; "
                f"{self.name} takes one of: {', '.join(allowed)}"
            )
        return value

    def data(self, value: object) -> object:
        """``value`` as an artifact keeps it."""
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if self.to_data is not None:
            return self.to_data(value)
        if dataclasses.is_dataclass(value):
            return dataclasses.asdict(value)  # type: ignore[arg-type]
        raise TypeError(f"option {self.name}: cannot keep a {type(value).__name__}")


class Options:
    """The options of one target, in the order ``spikeport info`` lists them."""

    def __init__(self, *options: Option) -> None:
        self.declared: dict[str, Option] = {o.name: o for o in options}

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.declared.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self.declared)

    def resolve(self, target: str, args: Sequence[object], given: Mapping[str, object]
                ) -> dict[str, object]:
        """Every option's value: ``given`` (and at most one positional, the first
        option) checked, the rest at their defaults."""
        if len(args) > 1 or (args and not self.declared):
            raise TargetOptionError(
                f"target '{target}' takes at most one positional option "
                f"({next(iter(self.declared), 'none')}); name the others"
            )
        values = dict(given)
        if args:
            first = next(iter(self.declared))
            if first in values:
                raise TargetOptionError(f"target '{target}' option {first} given twice")
            values[first] = args[0]
        unknown = [k for k in values if k not in self.declared]
        if unknown:
            known = ", ".join(self.declared) or "none"
            raise TargetOptionError(
                f"target '{target}' has no option '{unknown[0]}'; its options are: {known} "
                f"(spikeport info {target} describes them)"
            )
        out = {name: opt.default for name, opt in self.declared.items()}
        for k, v in values.items():
            out[k] = self.declared[k].check(target, v)
        return out

    def parse(self, target: str, texts: Mapping[str, str]) -> dict[str, object]:
        """Command-line values (strings) of the named options, typed."""
        out = {}
        for key, text in texts.items():
            if key not in self.declared:
                known = ", ".join(self.declared) or "none"
                raise TargetOptionError(
                    f"target '{target}' has no option '{key}'; its options are: {known} "
                    f"(spikeport info {target} describes them)"
                )
            out[key] = self.declared[key].parse(target, text)
        return out

    def data(self, values: Mapping[str, object]) -> dict[str, object]:
        return {k: self.declared[k].data(v) for k, v in values.items()}

    def from_data(self, data: Mapping[str, object]) -> dict[str, object]:
        """Options as an artifact kept them, back to values the constructor takes."""
        out = {}
        for k, v in data.items():
            opt = self.declared.get(k)
            out[k] = opt.from_data(v) if opt is not None and opt.from_data is not None \
                and isinstance(v, Mapping) else v
        return out


def _a(kind: type) -> str:
    name = {"int": "integer", "float": "number", "bool": "boolean", "str": "string"}.get(
        kind.__name__, kind.__name__)
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def option_hint(key: str, value: object) -> str:
    """How a user sets a target option, for fix hints in error messages: the keyword of
    ``setup()``/``get_target()`` and the command line's ``-O``."""
    return f"option {key}={value!r} (-O {key}={value})"


def with_fit(texts: Iterable[str], fit: str | None, targets: Sequence[str]) -> tuple[str, ...]:
    """``-O`` texts with a command's ``--fit`` choice added for each of ``targets`` (after
    the given ones, so ``--fit`` wins over ``-O fit=...``)."""
    return (*texts, *(() if fit is None else (f"{t}.fit={fit}" for t in targets)))


def split_assignment(text: str) -> tuple[str | None, str, str]:
    """``"[TARGET.]KEY=VALUE"`` -> (TARGET or None, KEY, VALUE)."""
    key, eq, value = text.partition("=")
    if not eq or not key.strip():
        raise TargetOptionError(
            f"target option '{text}' is not KEY=VALUE or TARGET.KEY=VALUE (for example "
            "build=ecp5-85f, or fpga.build=ecp5-85f where several targets run)"
        )
    target, dot, name = key.strip().rpartition(".")
    if dot and not target:
        raise TargetOptionError(f"target option '{text}': nothing before the '.'")
    return (target or None), name, value


def parse_assignments(texts: Iterable[str], targets: Sequence[str], *,
                      default: str | None = None) -> dict[str, dict[str, object]]:
    """Typed options per target from ``-O [TARGET.]KEY=VALUE`` texts.

    ``targets`` are the targets the command runs; a KEY without TARGET goes to
    ``default`` (the one target of ``compile``, ``pynn``, ``run``) and needs a TARGET where
    several targets run (``portability``).
    """
    from toolchain.targets import TARGETS, UnknownTargetError

    raw: dict[str, dict[str, str]] = {}
    for text in texts:
        target, key, value = split_assignment(text)
        if target is None:
            if default is None:
                raise TargetOptionError(
                    f"target option '{text}' names no target: where several targets run, "
                    f"write TARGET.{key}={value} (targets: {', '.join(targets)})"
                )
            target = default
        if target not in TARGETS:
            raise UnknownTargetError(f"unknown target '{target}' in '{text}'; known targets: "
                                     f"{', '.join(TARGETS)}")
        if target not in targets:
            raise TargetOptionError(f"option '{text}' is for target '{target}', which this "
                                    f"command does not run (it runs: {', '.join(targets)})")
        raw.setdefault(target, {})[key] = value
    return {t: TARGETS[t]().OPTIONS.parse(t, kv) for t, kv in raw.items()}
