"""What ``spikeport info [TARGET]`` prints: every target's options (type, default,
allowed values, help), its boards and presets, the limits a compile checks and the
approximations an approximate fit may apply."""

from __future__ import annotations

from toolchain.targets import TARGETS, target_class
from toolchain.targets.support import describe as describe_support


def describe(name: str | None = None) -> str:
    """All targets in one line each, or one target in full."""
    if name is None:
        lines = ["targets (spikeport info TARGET for its options, boards and limits):"]
        for target, factory in TARGETS.items():
            doc = (factory.__doc__ or "").strip().splitlines()
            lines.append(f"  {target:<12} {doc[0] if doc else ''}")
        return "\n".join(lines) + "\n"
    cls = target_class(name)
    doc = (TARGETS[name].__doc__ or "").strip()
    lines = [f"target {name}: {doc}", "", "options (-O KEY=VALUE, or KEY=VALUE in setup() and "
             "get_target()):"]
    for opt in cls.OPTIONS:
        default = "none" if opt.default is None else opt.default
        stage = "" if opt.stage == "compile" else "; changes only how it runs"
        lines.append(f"  {opt.name:<22} {opt.describe_type()}, default {default}{stage}")
        lines.append(f"  {'':<22} {opt.help}")
    extra = cls.catalogue()
    if extra:
        lines += ["", *extra]
    if cls.LIMITS:
        lines += ["", "limits a compile checks (--lax lists every one broken):"]
        lines += [f"  {limit:<22} {what}" for limit, what in cls.LIMITS.items()]
    if cls.SUPPORT:
        lines += ["", "PyNN features (native, approximated with --fit approximate, or refused):"]
        lines += describe_support(cls.SUPPORT)
    if cls.APPROXIMATIONS:
        lines += ["", "approximations --fit approximate may apply (each listed in the compile "
                  "report):"]
        lines += [f"  {name:<22} {what}" for name, what in cls.APPROXIMATIONS.items()]
    return "\n".join(lines) + "\n"
