"""The targets spikeforge can compile for, by the name users pass to ``setup(target=...)``."""

from __future__ import annotations

from collections.abc import Callable

from toolchain.targets.base import Simulator, Target


class UnknownTargetError(ValueError):
    """A target name spikeforge does not know."""


def _reference() -> type[Target]:
    from toolchain.targets.reference import ReferenceTarget

    return ReferenceTarget


def _fpga() -> type[Target]:
    from toolchain.targets.fpga import FpgaTarget

    return FpgaTarget


# name -> a function returning the Target class; imports stay lazy so that using one
# target never imports another's dependencies.
TARGETS: dict[str, Callable[[], type[Target]]] = {
    "reference": _reference,
}
TARGETS["reference"].__doc__ = "float64 reference: exact integration, ideal interconnect"
TARGETS["fpga"] = _fpga
_fpga.__doc__ = "our FPGA LIF/STDP core: golden model of the RTL, bit-exact"


def _loihi() -> type[Target]:
    from toolchain.targets.loihi import LoihiTarget

    return LoihiTarget


TARGETS["loihi"] = _loihi
_loihi.__doc__ = "Intel Loihi 1: per-core limits, mesh placement, SANA-FE step cost"


def _spinnaker2() -> type[Target]:
    from toolchain.targets.spinnaker2 import SpiNNaker2Target

    return SpiNNaker2Target


TARGETS["spinnaker2"] = _spinnaker2
_spinnaker2.__doc__ = "SpiNNaker2: M4F PEs, s16.15 or float32, key/mask routing, tick deadline"


def _dynapse() -> type[Target]:
    from toolchain.targets.dynapse.target import DynapseTarget

    return DynapseTarget


TARGETS["dynapse"] = _dynapse
_dynapse.__doc__ = "DYNAP-SE (SE1; SE2 option): analog DPI neurons, mismatch, routing latency"


def get_target(name: str, **options: object) -> Target:
    """Instantiate the target called ``name`` with target-specific ``options``."""
    try:
        factory = TARGETS[name]
    except KeyError:
        known = ", ".join(TARGETS)
        raise UnknownTargetError(f"unknown target '{name}'; known targets: {known}") from None
    return factory()(**options)


__all__ = ["TARGETS", "Simulator", "Target", "UnknownTargetError", "get_target"]
