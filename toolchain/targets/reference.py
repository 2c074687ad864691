"""The float64 reference target: exact integration where the dynamics are linear, ideal
interconnect, no quantisation.  Every hardware target is compared against it, and it is
checked against Brian2 (tests/sim)."""

from __future__ import annotations

from typing import ClassVar

from toolchain.ir import Network
from toolchain.sim.engine import Engine
from toolchain.sim.numerics import ReferenceNumerics
from toolchain.targets.base import Target


class ReferenceTarget(Target):
    """Runs the IR as it is: nothing to map, so ``compile`` only checks the type."""

    name: ClassVar[str] = "reference"

    def __init__(self, cond_scheme: str = "euler") -> None:
        self.numerics = ReferenceNumerics(cond_scheme)

    def compile(self, network: Network) -> Network:
        if not isinstance(network, Network):
            raise TypeError(
                f"the reference target compiles a toolchain.ir.Network, got "
                f"{type(network).__name__}"
            )
        return network  # validated when it was built; frozen, so safe to share

    def simulator(self, compiled: Network) -> Engine:
        return Engine(self.compile(compiled), numerics=self.numerics, target=self.name)
