"""The targets spikeport can compile for, by the name users pass to ``setup(target=...)``.

Each entry imports its target only when asked for, so that using one target never pays for
(or needs the dependencies of) another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from toolchain.targets.base import Simulator, Target
from toolchain.targets.options import Option, Options, TargetOptionError

if TYPE_CHECKING:
    from toolchain.compiler.artifact import CompiledNetwork


class UnknownTargetError(ValueError):
    """A target name spikeport does not know."""


def _reference() -> type[Target]:
    """float64 reference: exact integration, ideal interconnect"""
    from toolchain.targets.reference import ReferenceTarget

    return ReferenceTarget


def _loihi() -> type[Target]:
    """Intel Loihi 1: per-core limits, mesh placement, bit-accurate CUBA LIF, SANA-FE costs"""
    from toolchain.targets.loihi import LoihiTarget

    return LoihiTarget


def _spinnaker2() -> type[Target]:
    """SpiNNaker2: M4F PEs, s16.15 or float32, key/mask routing, tick deadline"""
    from toolchain.targets.spinnaker2 import SpiNNaker2Target

    return SpiNNaker2Target


def _dynapse() -> type[Target]:
    """DYNAP-SE (SE1; SE2 option): analog DPI neurons, mismatch, routing latency"""
    from toolchain.targets.dynapse.target import DynapseTarget

    return DynapseTarget


def _fpga() -> type[Target]:
    """our FPGA LIF/STDP core: golden model of the RTL, bit-exact"""
    from toolchain.targets.fpga import FpgaTarget

    return FpgaTarget


TARGETS: dict[str, Callable[[], type[Target]]] = {
    "reference": _reference,
    "loihi": _loihi,
    "spinnaker2": _spinnaker2,
    "dynapse": _dynapse,
    "fpga": _fpga,
}


def target_class(name: str) -> type[Target]:
    """The class of the target called ``name`` (imported on first use)."""
    try:
        factory = TARGETS[name]
    except KeyError:
        known = ", ".join(TARGETS)
        raise UnknownTargetError(f"unknown target '{name}'; known targets: {known}") from None
    return factory()


def get_target(name: str, **options: object) -> Target:
    """Instantiate the target called ``name`` with its ``options`` (each checked against
    the target's declaration: a wrong name or value raises ``TargetOptionError``)."""
    return target_class(name)(**options)


def target_for(compiled: CompiledNetwork) -> Target:
    """The target that compiled ``compiled``, with the options it was compiled with."""
    cls = target_class(compiled.target)
    return cls(**cls.OPTIONS.from_data(compiled.options))


__all__ = ["TARGETS", "Option", "Options", "Simulator", "Target", "TargetOptionError",
           "UnknownTargetError", "get_target", "target_class", "target_for"]
